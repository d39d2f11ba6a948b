//! Startup and shutdown, as redis-server does them: command line, config, banner,
//! listeners, pidfile, daemonize, signals, and the exit lines.

use crate::log::{self, Level};
use crate::server::{self, Listeners, Settings, Shared};
use crate::{notice, warning};
use redoubt_engine::{Engine, RuntimeConf, REDIS_VERSION, REDOUBT_VERSION};
use std::ffi::OsString;
use std::rc::Rc;

pub fn version_line() -> String {
    format!(
        "Redis server v={REDIS_VERSION} sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=redoubt-{REDOUBT_VERSION}"
    )
}

fn usage() -> String {
    "Usage: ./redoubt-server [/path/to/redis.conf] [options] [-]\n       \
./redoubt-server - (read config from stdin)\n       \
./redoubt-server -v or --version\n       \
./redoubt-server -h or --help\n\n\
Examples:\n       \
./redoubt-server (run the server with default conf)\n       \
./redoubt-server /etc/redis/6379.conf\n       \
./redoubt-server --port 7777\n       \
./redoubt-server --port 7777 --replicaof 127.0.0.1 8888\n       \
./redoubt-server /etc/myredis.conf --loglevel verbose -\n       \
./redoubt-server /etc/myredis.conf --loglevel verbose\n"
        .to_string()
}

/// Everything startup derives from the configuration.
pub struct Loaded {
    pub conf: RuntimeConf,
    pub settings: Settings,
    pub config_file: String,
}

/// Entry point of the binary; returns the exit code.
pub fn main(args: Vec<OsString>) -> i32 {
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if args.len() == 2 && (args[1] == "-v" || args[1] == "--version") {
        println!("{}", version_line());
        return 0;
    }
    if args.len() == 2 && (args[1] == "-h" || args[1] == "--help") {
        eprint!("{}", usage());
        return 1;
    }
    let loaded = match crate::startup::load(&args) {
        Ok(l) => l,
        Err(report) => {
            eprint!("{report}");
            return 1;
        }
    };
    run(loaded)
}

fn run(loaded: Loaded) -> i32 {
    let Loaded {
        conf,
        settings,
        config_file,
    } = loaded;
    let level = Level::parse(&settings.loglevel).unwrap_or(Level::Notice);
    log::configure(level, &settings.logfile);
    let pid = std::process::id();
    warning!("oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo");
    warning!(
        "Redis version={REDIS_VERSION}, bits=64, commit=00000000, modified=0, pid={pid}, just started"
    );
    warning!("Redoubt version={REDOUBT_VERSION}");
    if config_file.is_empty() {
        warning!("Warning: no config file specified, using the default config. In order to specify a config file use {} /path/to/redis.conf", std::env::args().next().unwrap_or_default());
    } else {
        warning!("Configuration loaded");
    }
    if settings.daemonize {
        if let Err(e) = daemonize() {
            warning!("Can't daemonize: {e}");
            return 1;
        }
    }
    log::set_role('M');
    if !settings.dir.is_empty() {
        if let Err(e) = std::env::set_current_dir(&settings.dir) {
            warning!("Can't chdir to '{}': {}", settings.dir, e);
            return 1;
        }
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            warning!("Failed creating the event loop: {e}");
            return 1;
        }
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move { serve(conf, settings, config_file).await })
}

async fn serve(conf: RuntimeConf, settings: Settings, config_file: String) -> i32 {
    let listeners = match bind_all(&settings) {
        Ok(l) => l,
        Err(msg) => {
            warning!("{msg}");
            return 1;
        }
    };
    let seed = (log::now_ms() as u64) ^ u64::from(std::process::id()).rotate_left(32);
    let mut engine = Engine::new(conf, seed);
    engine.info.pid = std::process::id();
    engine.info.tcp_port = settings.port;
    engine.info.config_file = config_file;
    engine.info.start_ms = log::now_ms();
    engine.info.used_memory = crate::mem::read;
    engine.info.run_id = run_id(seed);
    engine.info.replid = run_id(seed.rotate_left(17) ^ 0x5851_f42d_4c95_7f2d);
    engine.info.executable = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    engine.info.clock_us = log::monotonic_us;
    engine.info.cpu = crate::sys::cpu_usage;
    engine.info.total_system_memory = crate::sys::total_system_memory();
    engine.info.mem_allocator = "jemalloc-5.3.0".into();
    engine.info.os = os_name();
    // A server that never saved reports its start as the last save, as Redis does.
    engine.lastsave_s = engine.info.start_ms / 1000;
    let pidfile = settings.pidfile.clone();
    let unixsocket = settings.unixsocket.clone();
    let port = settings.port;
    engine.mem_startup = crate::mem::read().allocated;
    let shared = Shared::new(engine, settings);
    if !pidfile.is_empty() {
        if let Err(e) = std::fs::write(&pidfile, format!("{}\n", std::process::id())) {
            warning!("Failed to write PID file: {e}");
        }
    }
    notice!("Running mode=standalone, port={port}.");
    warning!("Server initialized");
    if !unixsocket.is_empty() {
        notice!("The server is now ready to accept connections at {unixsocket}");
    }
    notice!("Ready to accept connections");
    let signals = tokio::task::spawn_local(watch_signals(shared.clone()));
    server::run(shared.clone(), listeners).await;
    signals.abort();
    finish_shutdown(&shared, &pidfile, &unixsocket);
    0
}

async fn watch_signals(shared: Rc<Shared>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    let name = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
    log::raw(&format!(
        "{}:signal-handler ({}) Received {} scheduling shutdown...",
        std::process::id(),
        log::now_ms() / 1000,
        name
    ));
    shared.stop.notify_one();
}

fn finish_shutdown(_shared: &Rc<Shared>, pidfile: &str, unixsocket: &str) {
    warning!("User requested shutdown...");
    if !pidfile.is_empty() {
        notice!("Removing the pid file.");
        let _ = std::fs::remove_file(pidfile);
    }
    if !unixsocket.is_empty() {
        notice!("Removing the unix socket file.");
        let _ = std::fs::remove_file(unixsocket);
    }
    warning!("Redis is now ready to exit, bye bye...");
}

/// `uname -s -r -m`, as INFO's `os` field, read from /proc so no libc call is needed.
fn os_name() -> String {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    format!(
        "{} {} {}",
        read("/proc/sys/kernel/ostype"),
        read("/proc/sys/kernel/osrelease"),
        std::env::consts::ARCH
    )
}

fn run_id(seed: u64) -> String {
    let mut rng = redoubt_keyspace::rand::Rng::new(seed ^ 0x9e37_79b9_7f4a_7c15);
    (0..40)
        .map(|_| char::from(b"0123456789abcdef"[rng.below(16) as usize]))
        .collect()
}

/// Forks into the background as `daemonize yes` asks: the parent exits, the child
/// continues in a new session with stdio on /dev/null.
fn daemonize() -> std::io::Result<()> {
    crate::sys::daemonize()
}

/// Opens every listener: `bind` addresses (a `-` prefix makes one optional, `*` and `::*`
/// are the wildcards), then the unix socket with `unixsocketperm`.
fn bind_all(s: &Settings) -> Result<Listeners, String> {
    let mut tcp = Vec::new();
    if s.port != 0 {
        for raw in &s.bind {
            let (optional, addr) = match raw.strip_prefix('-') {
                Some(a) => (true, a),
                None => (false, raw.as_str()),
            };
            let host = match addr {
                "*" => "0.0.0.0",
                "::*" => "::",
                a => a,
            };
            match bind_tcp(host, s.port, s.tcp_backlog) {
                Ok(l) => tcp.push(l),
                Err(e) if optional => {
                    log::log(
                        Level::Verbose,
                        &format!("Skipping optional bind {host}:{}: {e}", s.port),
                    );
                }
                Err(e) => {
                    return Err(format!(
                        "Warning: Could not create server TCP listening socket {}:{}: {}\nFailed listening on port {} (tcp), aborting.",
                        addr, s.port, e, s.port
                    ));
                }
            }
        }
    }
    let unix = if s.unixsocket.is_empty() {
        None
    } else {
        let _ = std::fs::remove_file(&s.unixsocket);
        let l = tokio::net::UnixListener::bind(&s.unixsocket)
            .map_err(|e| format!("Failed opening Unix socket: {e}"))?;
        if s.unixsocketperm != 0 {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(
                &s.unixsocket,
                std::fs::Permissions::from_mode(s.unixsocketperm),
            );
        }
        Some((l, s.unixsocket.clone()))
    };
    if tcp.is_empty() && unix.is_none() {
        return Err("Configured to not listen anywhere, exiting.".into());
    }
    Ok(Listeners { tcp, unix })
}

fn bind_tcp(host: &str, port: u16, backlog: i32) -> std::io::Result<tokio::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let ip: std::net::IpAddr = host
        .parse()
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "bad address"))?;
    let addr = std::net::SocketAddr::new(ip, port);
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_reuse_address(true)?;
    if ip.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    sock.listen(backlog)?;
    tokio::net::TcpListener::from_std(sock.into())
}

/// Reads the configuration named on the command line. On error returns Redis's report.
pub fn load(args: &[String]) -> Result<Loaded, String> {
    interim_config::load(args)
}

/// A stand-in that understands `--directive value` pairs for the directives the server uses
/// today, until the config crate's full parser is wired in (same session).
mod interim_config {
    use super::*;

    pub fn load(args: &[String]) -> Result<Loaded, String> {
        let mut conf = RuntimeConf::default();
        let mut s = Settings::default();
        let mut i = 1;
        while i < args.len() {
            let name = args[i].trim_start_matches("--").to_ascii_lowercase();
            let mut vals = Vec::new();
            i += 1;
            while i < args.len() && !args[i].starts_with("--") {
                vals.push(args[i].clone());
                i += 1;
            }
            let v = vals.first().cloned().unwrap_or_default();
            match name.as_str() {
                "port" => s.port = v.parse().map_err(|_| "bad port".to_string())?,
                "bind" => s.bind = vals,
                "dir" => s.dir = v,
                "logfile" => s.logfile = v,
                "loglevel" => s.loglevel = v,
                "protected-mode" => s.protected_mode = v == "yes",
                "requirepass" => conf.requirepass = Some(v.into_bytes()),
                "databases" => conf.databases = v.parse().unwrap_or(16),
                "unixsocket" => s.unixsocket = v,
                "pidfile" => s.pidfile = v,
                "daemonize" => s.daemonize = v == "yes",
                _ => {}
            }
        }
        conf.port = s.port;
        Ok(Loaded {
            conf,
            settings: s,
            config_file: String::new(),
        })
    }
}
