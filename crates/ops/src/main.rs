//! The `redoubt` binary: argument parsing and dispatch; the work is in the library.
//!
//! `redoubt server ARGS...` is `redoubt-server ARGS...` (the same library, the same
//! allocator), so that `cargo run --bin redoubt -- up` works on a fresh checkout where no
//! `redoubt-server` binary has been built next to it yet.

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};

use redoubt_ops::{control, probe, state::Deployment, topology::Topology, up, watch};

#[derive(Parser)]
#[command(
    name = "redoubt",
    version,
    about = "Run a local HA deployment (master, replicas, Sentinels) and watch it fail over"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct DirArg {
    /// The deployment directory
    #[arg(long, default_value = "redoubt-ha")]
    dir: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Start the deployment and wait until it is healthy
    Up {
        #[command(flatten)]
        dir: DirArg,
        /// A topology file (key = value lines; see the README) instead of the defaults
        #[arg(long)]
        topology: Option<PathBuf>,
        /// Use ports P, P+1, ... instead of free ports chosen by the OS
        #[arg(long, value_name = "P")]
        base_port: Option<u16>,
        /// The redoubt-server binary (default: the one next to this executable if it is not
        /// older, else `redoubt server`, the same server built into this binary)
        #[arg(long, value_name = "PATH")]
        server_bin: Option<PathBuf>,
        /// Run real redis-server and redis-sentinel (from PATH) in the same layout
        #[arg(long, conflicts_with = "server_bin")]
        redis: bool,
        /// Override down-after-milliseconds
        #[arg(long, value_name = "MS")]
        down_after: Option<u64>,
        /// How long to wait for the deployment to become healthy
        #[arg(long, value_name = "SECS", default_value_t = 60)]
        timeout: u64,
    },
    /// Stop every process of the deployment (SIGTERM, then SIGKILL)
    Down {
        #[command(flatten)]
        dir: DirArg,
        /// Also remove the deployment directory
        #[arg(long)]
        purge: bool,
    },
    /// Show the topology as the Sentinels and the nodes see it
    Status {
        #[command(flatten)]
        dir: DirArg,
    },
    /// Live view of roles, offsets, Sentinel flags and events (plain lines when piped)
    Watch {
        #[command(flatten)]
        dir: DirArg,
        /// Refresh interval
        #[arg(long, value_name = "MS", default_value_t = 250)]
        interval_ms: u64,
        /// Exit after this many seconds
        #[arg(long, value_name = "SECS")]
        duration: Option<f64>,
        /// Plain text lines even on a terminal
        #[arg(long)]
        plain: bool,
    },
    /// Kill one process (a name such as node1 or sentinel2, or `master`) with SIGKILL
    Kill {
        /// node1, node2, ..., sentinel1, ..., or master (the Sentinels' current master)
        target: String,
        #[command(flatten)]
        dir: DirArg,
        /// SIGTERM (a clean shutdown) instead of SIGKILL
        #[arg(long)]
        term: bool,
    },
    /// Start a stopped process again from its directory
    Start {
        /// node1, ..., sentinel1, ...
        name: String,
        #[command(flatten)]
        dir: DirArg,
    },
}

fn main() {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "server") {
        // The server reads argv[0] like redis-server does (a binary named redis-sentinel is
        // a Sentinel); ours is a plain server unless `--sentinel` follows.
        args.splice(0..2, [std::ffi::OsString::from("redoubt-server")]);
        std::process::exit(redoubt_server::startup::main(args));
    }
    if let Err(e) = run(Cli::parse()) {
        eprintln!("redoubt: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Up {
            dir,
            topology,
            base_port,
            server_bin,
            redis,
            down_after,
            timeout,
        } => {
            let mut t = match topology {
                Some(p) => Topology::parse(
                    &std::fs::read_to_string(&p)
                        .with_context(|| format!("reading {}", p.display()))?,
                )
                .with_context(|| format!("in {}", p.display()))?,
                None => Topology::default(),
            };
            if let Some(ms) = down_after {
                t.down_after_ms = ms;
            }
            t.validate()?;
            let mut prefix_args = Vec::new();
            let (server_bin, sentinel) = if redis {
                let server = in_path("redis-server")?;
                match in_path("redis-sentinel") {
                    Ok(s) => (server, (s, Vec::new())),
                    Err(_) => (server.clone(), (server, vec!["--sentinel".into()])),
                }
            } else {
                let bin = match server_bin {
                    Some(b) => b,
                    None => match next_to_me("redoubt-server") {
                        Some(b) => b,
                        None => {
                            prefix_args.push("server".to_string());
                            std::env::current_exe().context("locating redoubt")?
                        }
                    },
                };
                (bin.clone(), (bin, vec!["--sentinel".into()]))
            };
            eprintln!(
                "redoubt: starting {} data nodes and {} Sentinels in {}...",
                t.node_count(),
                t.sentinels,
                dir.dir.display()
            );
            let d = up::up(up::UpOptions {
                dir: dir.dir,
                topology: t,
                base_port,
                server_bin,
                sentinel,
                prefix_args,
                timeout: Duration::from_secs(timeout),
            })?;
            print!("{}", up::summary(&d));
        }
        Command::Down { dir, purge } => {
            let d = Deployment::load(&dir.dir)?;
            print!("{}", control::down(&d, purge)?);
        }
        Command::Status { dir } => {
            let d = Deployment::load(&dir.dir)?;
            let snap = probe::Prober::new().look(&d);
            print!("{}", probe::render_status(&d, &snap));
        }
        Command::Watch {
            dir,
            interval_ms,
            duration,
            plain,
        } => {
            let d = Deployment::load(&dir.dir)?;
            let duration = match duration {
                Some(s) if s.is_finite() && s >= 0.0 => Some(Duration::from_secs_f64(s)),
                Some(s) => bail!("--duration {s}: a number of seconds"),
                None => None,
            };
            watch::watch(
                &d,
                &watch::WatchOptions {
                    interval: Duration::from_millis(interval_ms.max(10)),
                    duration,
                    plain,
                },
            )?;
        }
        Command::Kill { target, dir, term } => {
            let d = Deployment::load(&dir.dir)?;
            let sig = if term { libc::SIGTERM } else { libc::SIGKILL };
            print!("{}", control::kill(&d, &target, sig)?);
        }
        Command::Start { name, dir } => {
            let d = Deployment::load(&dir.dir)?;
            print!("{}", control::start(&d, &name)?);
        }
    }
    Ok(())
}

/// A binary installed next to this one (`target/release/`, or wherever both were copied),
/// unless it is older than this one: a `redoubt-server` left from an earlier build would run
/// older code than the server built into `redoubt`.
fn next_to_me(name: &str) -> Option<PathBuf> {
    let me = std::env::current_exe().ok()?;
    let bin = me.parent().unwrap_or(Path::new(".")).join(name);
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if !bin.is_file() {
        return None;
    }
    if modified(&bin) < modified(&me) {
        eprintln!(
            "redoubt: {} is older than redoubt itself; using the server built into redoubt \
             (`redoubt server`) instead",
            bin.display()
        );
        return None;
    }
    Some(bin)
}

fn in_path(name: &str) -> anyhow::Result<PathBuf> {
    let paths = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&paths)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .with_context(|| format!("{name} not found in PATH"))
}
