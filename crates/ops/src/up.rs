//! `redoubt up`: write each process's directory and config, start the processes detached,
//! record them, and wait until the deployment is healthy.
//!
//! Order: the master, then the replicas, then the Sentinels, each waited for until it
//! answers PING, so a config error is reported for the process that has it (with its log's
//! last lines) rather than as a vague "not healthy". Healthy means: every replica's link to
//! its master is up, each master lists its replicas online, and every Sentinel reports
//! `status=ok` with the expected numbers of replicas and Sentinels (Sentinels find both by
//! themselves, from the master's INFO and from hello messages, which takes a few seconds).
//! If anything fails, every process already started is stopped again.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};

use crate::client::{self, Conn};
use crate::procs;
use crate::state::{Deployment, Kind, Member};
use crate::topology::Topology;

pub struct UpOptions {
    pub dir: PathBuf,
    pub topology: Topology,
    pub base_port: Option<u16>,
    pub server_bin: PathBuf,
    /// `(binary, args after the config file)` for the Sentinels.
    pub sentinel: (PathBuf, Vec<String>),
    /// Args before the config file for both (`server` when the binary is `redoubt`).
    pub prefix_args: Vec<String>,
    pub timeout: Duration,
}

const PING_TIMEOUT: Duration = Duration::from_secs(10);
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

pub fn up(opts: UpOptions) -> anyhow::Result<Deployment> {
    let t = &opts.topology;
    std::fs::create_dir_all(&opts.dir)
        .with_context(|| format!("creating {}", opts.dir.display()))?;
    let dir = opts.dir.canonicalize()?;
    if let Ok(old) = Deployment::load(&dir) {
        if let Some((m, pid)) = old
            .members
            .iter()
            .find_map(|m| old.live_pid(m).map(|p| (m, p)))
        {
            bail!(
                "a deployment is already running in {} ({} is pid {pid}): stop it first with \
                 `redoubt down --dir {}`",
                dir.display(),
                m.name,
                dir.display()
            );
        }
    }
    let password = match &t.password {
        Some(p) => p.clone(),
        None => random_password()?,
    };
    let n_nodes = t.node_count();
    let ports = allocate_ports(n_nodes + t.sentinels, opts.base_port)?;
    let mut members = Vec::new();
    members.push(Member {
        name: "node1".into(),
        kind: Kind::Node,
        port: ports[0],
        priority: 100,
        replica_of: None,
    });
    for (i, r) in t.replicas.iter().enumerate() {
        members.push(Member {
            name: format!("node{}", i + 2),
            kind: Kind::Node,
            port: ports[i + 1],
            priority: r.priority,
            replica_of: Some(format!("node{}", r.replica_of)),
        });
    }
    for i in 0..t.sentinels {
        members.push(Member {
            name: format!("sentinel{}", i + 1),
            kind: Kind::Sentinel,
            port: ports[n_nodes + i],
            priority: 0,
            replica_of: None,
        });
    }
    let d = Deployment {
        dir,
        master_name: t.master_name.clone(),
        password,
        quorum: t.quorum,
        down_after_ms: t.down_after_ms,
        server_bin: absolute(&opts.server_bin)?,
        sentinel_bin: absolute(&opts.sentinel.0)?,
        sentinel_args: opts.sentinel.1.clone(),
        prefix_args: opts.prefix_args.clone(),
        members,
    };
    for m in &d.members {
        let mdir = d.member_dir(m);
        std::fs::create_dir_all(&mdir).with_context(|| format!("creating {}", mdir.display()))?;
        let conf = match m.kind {
            Kind::Node => node_conf(&d, t, m),
            Kind::Sentinel => sentinel_conf(&d, t, m),
        };
        let path = mdir.join(m.conf_name());
        write_private(&path, &conf)?;
        // A pid file from an earlier run names a process that is gone (checked above).
        let _ = std::fs::remove_file(d.pid_file(m));
    }
    d.save()?;
    let mut started = Vec::new();
    let result = start_and_wait(&d, t, opts.timeout, &mut started);
    if result.is_err() {
        procs::stop_all(&started, Duration::from_secs(5));
    }
    result.map(|()| d)
}

fn start_and_wait(
    d: &Deployment,
    t: &Topology,
    timeout: Duration,
    started: &mut Vec<u32>,
) -> anyhow::Result<()> {
    for m in &d.members {
        let pid = start_member(d, m)?;
        started.push(pid);
        let auth = if m.kind == Kind::Node {
            d.password.as_str()
        } else {
            ""
        };
        wait_ping(m.port, auth, pid).map_err(|e| with_log_tail(d, m, e))?;
    }
    let deadline = Instant::now() + timeout;
    let mut missing;
    loop {
        missing = unhealthy(d, t);
        if missing.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!(
        "the deployment in {} is not healthy after {timeout:?}; still waiting for: {}\n\
         (logs: {}/*/redis.log and sentinel.log)",
        d.dir.display(),
        missing.join("; "),
        d.dir.display()
    )
}

/// Starts one member from its directory (also `redoubt start` after a kill).
pub fn start_member(d: &Deployment, m: &Member) -> anyhow::Result<u32> {
    let mdir = d.member_dir(m);
    procs::spawn_detached(
        d.bin(m),
        &d.args(m),
        &mdir,
        &mdir.join("stdio.log"),
        &d.pid_file(m),
    )
}

fn wait_ping(port: u16, password: &str, pid: u32) -> anyhow::Result<()> {
    let deadline = Instant::now() + PING_TIMEOUT;
    let mut last = anyhow!("no attempt");
    while Instant::now() < deadline {
        if !procs::alive(pid) {
            bail!("process {pid} exited during startup");
        }
        match Conn::connect(port, password, PROBE_TIMEOUT).and_then(|mut c| c.cmd(&["PING"])) {
            Ok(redoubt_resp::Value::Simple(s)) if s == "PONG" => return Ok(()),
            Ok(other) => last = anyhow!("PING: {}", client::text(&other)),
            Err(e) => last = e,
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(last.context(format!(
        "port {port} did not answer PING in {PING_TIMEOUT:?}"
    )))
}

fn with_log_tail(d: &Deployment, m: &Member, e: anyhow::Error) -> anyhow::Error {
    let mdir = d.member_dir(m);
    let mut tail = String::new();
    for name in [m.log_name(), "stdio.log"] {
        if let Ok(text) = std::fs::read_to_string(mdir.join(name)) {
            let lines: Vec<&str> = text.lines().collect();
            for l in &lines[lines.len().saturating_sub(10)..] {
                tail.push_str("\n  ");
                tail.push_str(l);
            }
        }
    }
    e.context(format!(
        "{} ({}) failed to start; last log lines in {}:{tail}",
        m.name,
        d.bin(m).display(),
        mdir.display()
    ))
}

/// What keeps the deployment from being healthy, one item per problem; empty when healthy.
pub fn unhealthy(d: &Deployment, t: &Topology) -> Vec<String> {
    let mut missing = Vec::new();
    for m in d.nodes() {
        let info = Conn::connect(m.port, &d.password, PROBE_TIMEOUT)
            .and_then(|mut c| c.info("replication"));
        let info = match info {
            Ok(i) => i,
            Err(e) => {
                missing.push(format!("{}: {e:#}", m.name));
                continue;
            }
        };
        let want_replicas = d
            .nodes()
            .filter(|r| r.replica_of.as_deref() == Some(m.name.as_str()))
            .count();
        let online = info
            .iter()
            .filter(|(k, v)| k.starts_with("slave") && v.contains("state=online"))
            .count();
        if online < want_replicas {
            missing.push(format!(
                "{}: {online} of {want_replicas} replicas online",
                m.name
            ));
        }
        if m.replica_of.is_some() && client::field(&info, "master_link_status") != Some("up") {
            missing.push(format!("{}: link to its master up", m.name));
        }
    }
    let want = format!(
        "status=ok,address=127.0.0.1:{},slaves={},sentinels={}",
        d.nodes().next().map_or(0, |m| m.port),
        t.direct_replicas(),
        t.sentinels
    );
    for s in d.sentinels() {
        let line = Conn::connect(s.port, "", PROBE_TIMEOUT)
            .and_then(|mut c| c.info("sentinel"))
            .map(|info| client::field(&info, "master0").unwrap_or("").to_string());
        match line {
            Ok(l) if l.ends_with(&want) => {}
            Ok(l) => missing.push(format!("{} reports {l:?}, want {want:?}", s.name)),
            Err(e) => missing.push(format!("{}: {e:#}", s.name)),
        }
    }
    missing
}

fn node_conf(d: &Deployment, t: &Topology, m: &Member) -> String {
    let mut c = format!(
        "# Generated by `redoubt up`. CONFIG REWRITE and failovers may change it.\n\
         dir \"{}\"\nport {}\nbind 127.0.0.1\ndaemonize no\nlogfile \"{}\"\n\
         appendonly {}\nsave \"\"\nreplica-priority {}\n\
         min-replicas-to-write {}\nmin-replicas-max-lag {}\n",
        d.member_dir(m).display(),
        m.port,
        m.log_name(),
        if t.appendonly { "yes" } else { "no" },
        m.priority,
        t.min_replicas_to_write,
        t.min_replicas_max_lag,
    );
    // Redis waits 5 s by default before a diskless full sync for more replicas to join; a
    // returning old master would wait that long for its resync.
    c.push_str("repl-diskless-sync-delay 0\n");
    if !d.password.is_empty() {
        c.push_str(&format!(
            "requirepass \"{0}\"\nmasterauth \"{0}\"\n",
            d.password
        ));
    }
    if let Some(src) = m.replica_of.as_deref().and_then(|n| d.member(n)) {
        c.push_str(&format!("replicaof 127.0.0.1 {}\n", src.port));
    }
    c
}

fn sentinel_conf(d: &Deployment, t: &Topology, m: &Member) -> String {
    let name = &d.master_name;
    let master_port = d.nodes().next().map_or(0, |n| n.port);
    let mut c = format!(
        "# Generated by `redoubt up`. The Sentinel rewrites it as it learns the deployment.\n\
         dir \"{}\"\nport {}\nbind 127.0.0.1\ndaemonize no\nlogfile \"{}\"\n\
         sentinel monitor {name} 127.0.0.1 {master_port} {}\n\
         sentinel down-after-milliseconds {name} {}\n\
         sentinel failover-timeout {name} {}\n\
         sentinel parallel-syncs {name} {}\n",
        d.member_dir(m).display(),
        m.port,
        m.log_name(),
        t.quorum,
        t.down_after_ms,
        t.failover_timeout_ms,
        t.parallel_syncs,
    );
    if !d.password.is_empty() {
        c.push_str(&format!("sentinel auth-pass {name} \"{}\"\n", d.password));
    }
    c
}

/// Writes a file only its owner can read: configs carry the password.
pub fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// Free loopback ports: from the OS (bound all at once so they differ), or `base`, `base+1`...
/// checked free.
fn allocate_ports(count: usize, base: Option<u16>) -> anyhow::Result<Vec<u16>> {
    let mut held = Vec::new();
    for i in 0..count {
        let want = match base {
            Some(b) => u16::try_from(usize::from(b) + i)
                .map_err(|_| anyhow!("--base-port {b}: not enough ports above it"))?,
            None => 0,
        };
        let l = TcpListener::bind(("127.0.0.1", want))
            .with_context(|| format!("port {want} on 127.0.0.1 is not free"))?;
        held.push(l);
    }
    held.iter()
        .map(|l| Ok(l.local_addr()?.port()))
        .collect::<anyhow::Result<Vec<u16>>>()
}

fn random_password() -> anyhow::Result<String> {
    use std::io::Read;
    let mut b = [0u8; 12];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .context("reading /dev/urandom for a password")?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// An absolute path that keeps symlinks: Debian's `redis-server` and `redis-sentinel` are
/// links to one binary that chooses its role from the name it was run by.
fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    if !p.is_file() {
        bail!("{} not found", p.display());
    }
    Ok(std::path::absolute(p)?)
}

/// The summary `redoubt up` prints: who is where and how to connect.
pub fn summary(d: &Deployment) -> String {
    let mut s = format!(
        "redoubt: deployment {:?} is up in {}\n\n",
        d.master_name,
        d.dir.display()
    );
    for m in &d.members {
        let pid = d.pid(m).map_or("-".into(), |p| p.to_string());
        let role = match (&m.kind, &m.replica_of) {
            (Kind::Sentinel, _) => format!("sentinel (quorum {})", d.quorum),
            (Kind::Node, None) => format!("master, priority {}", m.priority),
            (Kind::Node, Some(src)) => format!("replica of {src}, priority {}", m.priority),
        };
        s.push_str(&format!(
            "  {:<10} 127.0.0.1:{:<5}  pid {:<7}  {role}\n",
            m.name, m.port, pid
        ));
    }
    s.push_str(&format!(
        "\n  servers: {}{}\n",
        d.server_bin.display(),
        d.prefix_args
            .iter()
            .map(|a| format!(" {a}"))
            .collect::<String>()
    ));
    let master = d.nodes().next().map_or(0, |m| m.port);
    let sentinel = d.sentinels().next().map_or(0, |m| m.port);
    let auth = if d.password.is_empty() {
        String::new()
    } else {
        format!(" -a {} --no-auth-warning", d.password)
    };
    let dir = d.dir.display();
    s.push_str(&format!(
        "\nConnect (redis-cli works the same):\n  \
         redoubt-cli -p {master}{auth}    # the master\n  \
         redoubt-cli -p {sentinel} SENTINEL get-master-addr-by-name {}    # ask a Sentinel\n\
         \nThen:\n  \
         redoubt status --dir {dir}\n  \
         redoubt watch --dir {dir}        # live view; in another terminal:\n  \
         redoubt kill master --dir {dir}  # kill -9 the master and watch the failover\n  \
         redoubt down --dir {dir}         # stop everything (--purge removes the directory)\n",
        d.master_name
    ));
    s
}
