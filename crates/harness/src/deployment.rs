//! A Sentinel deployment on one machine: data nodes (a master and its replicas) and Sentinels,
//! each a separate process in its own temp dir with a real config file, as in the story of
//! issue 7 (hosts A, B, C, a Sentinel on each, quorum 2).
//!
//! Each role can be real Redis or Redoubt ([`Flavor`]), chosen per test or from the
//! environment ([`flavors_from_env`]), so the same scenario validates itself against Redis
//! 7.0 today and runs against Redoubt, role by role, when Redoubt can play it.
//!
//! Config files are complete (port, dir, log, everything) and nothing is added on the command
//! line, because Sentinel and CONFIG REWRITE rewrite them and a restart must run from the
//! rewritten file alone. Everything listens on 127.0.0.1, each process on its own free port.
//! Every process is killed by PID when the [`Deployment`] drops, panicking or not.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use redoubt_resp::Value;

use crate::conn::RawConn;
use crate::events::{Event, EventLog};
use crate::server::{search_path, Flavor, ServerProcess};

/// What one data node is: its server and its `replica-priority`.
#[derive(Clone, Copy, Debug)]
pub struct NodeSpec {
    pub flavor: Flavor,
    pub priority: u32,
}

/// The roles' flavors from the environment: `var` unset means all `default`; `redis` or
/// `redoubt` means all of that; a comma list (`redis,redoubt,redoubt`) gives each in turn.
pub fn flavors_from_env(var: &str, count: usize, default: Flavor) -> anyhow::Result<Vec<Flavor>> {
    let Ok(text) = std::env::var(var) else {
        return Ok(vec![default; count]);
    };
    let parse = |s: &str| match s.trim() {
        "redis" => Ok(Flavor::Redis),
        "redoubt" => Ok(Flavor::Redoubt),
        other => Err(anyhow!("{var}: {other:?} is neither redis nor redoubt")),
    };
    let list = text
        .split(',')
        .map(parse)
        .collect::<anyhow::Result<Vec<_>>>()?;
    match list.len() {
        1 => Ok(vec![list[0]; count]),
        n if n == count => Ok(list),
        n => bail!("{var} names {n} flavors for {count} processes"),
    }
}

/// Options for [`Deployment::start`]; the defaults are the story's deployment.
#[derive(Clone, Debug)]
pub struct DeploymentBuilder {
    master_name: String,
    password: Option<String>,
    nodes: Vec<NodeSpec>,
    sentinels: Vec<Flavor>,
    quorum: u32,
    down_after_ms: u64,
    failover_timeout_ms: u64,
    parallel_syncs: u32,
    min_replicas_to_write: u32,
    min_replicas_max_lag: u32,
    appendonly: bool,
    node_lines: Vec<String>,
    sentinel_lines: Vec<String>,
}

impl Default for DeploymentBuilder {
    fn default() -> Self {
        DeploymentBuilder {
            master_name: "mymaster".into(),
            password: Some("tutorial-pw".into()),
            nodes: vec![
                NodeSpec {
                    flavor: Flavor::Redis,
                    priority: 100,
                },
                NodeSpec {
                    flavor: Flavor::Redis,
                    priority: 90,
                },
                NodeSpec {
                    flavor: Flavor::Redis,
                    priority: 100,
                },
            ],
            sentinels: vec![Flavor::Redis; 3],
            quorum: 2,
            down_after_ms: DEFAULT_DOWN_AFTER_MS,
            failover_timeout_ms: 5000,
            parallel_syncs: 1,
            min_replicas_to_write: 1,
            min_replicas_max_lag: 10,
            appendonly: true,
            node_lines: Vec::new(),
            sentinel_lines: Vec::new(),
        }
    }
}

impl DeploymentBuilder {
    /// The data nodes: the first is the master (`A`), the others (`B`, `C`...) its replicas.
    pub fn nodes(mut self, nodes: &[NodeSpec]) -> Self {
        self.nodes = nodes.to_vec();
        self
    }

    /// Every data node's flavor, keeping the priorities.
    pub fn node_flavors(mut self, flavors: &[Flavor]) -> Self {
        assert_eq!(flavors.len(), self.nodes.len(), "one flavor per node");
        for (n, f) in self.nodes.iter_mut().zip(flavors) {
            n.flavor = *f;
        }
        self
    }

    pub fn sentinels(mut self, flavors: &[Flavor]) -> Self {
        self.sentinels = flavors.to_vec();
        self
    }

    pub fn quorum(mut self, quorum: u32) -> Self {
        self.quorum = quorum;
        self
    }

    /// `requirepass`/`masterauth` on the nodes and `sentinel auth-pass`; `None` for none.
    pub fn password(mut self, password: Option<&str>) -> Self {
        self.password = password.map(str::to_string);
        self
    }

    pub fn down_after_ms(mut self, ms: u64) -> Self {
        self.down_after_ms = ms;
        self
    }

    pub fn failover_timeout_ms(mut self, ms: u64) -> Self {
        self.failover_timeout_ms = ms;
        self
    }

    /// `min-replicas-to-write` on every node (0 turns it off).
    pub fn min_replicas_to_write(mut self, n: u32) -> Self {
        self.min_replicas_to_write = n;
        self
    }

    pub fn appendonly(mut self, on: bool) -> Self {
        self.appendonly = on;
        self
    }

    /// A raw line added to every data node's config file.
    pub fn node_line(mut self, line: &str) -> Self {
        self.node_lines.push(line.to_string());
        self
    }

    /// A raw line added to every Sentinel's config file.
    pub fn sentinel_line(mut self, line: &str) -> Self {
        self.sentinel_lines.push(line.to_string());
        self
    }

    pub fn start(self) -> anyhow::Result<Deployment> {
        Deployment::start(self)
    }

    fn node_conf(&self, index: usize, port: u16, master_port: Option<u16>) -> String {
        let spec = &self.nodes[index];
        let mut c = format!(
            "port {port}\nbind 127.0.0.1\ndir .\nlogfile \"{}\"\ndaemonize no\nsave \"\"\n\
             appendonly {}\nreplica-priority {}\nmin-replicas-to-write {}\n\
             min-replicas-max-lag {}\n",
            NODE_LOG,
            if self.appendonly { "yes" } else { "no" },
            spec.priority,
            self.min_replicas_to_write,
            self.min_replicas_max_lag,
        );
        // Redis waits 5 s by default before a diskless full sync, for more replicas to join;
        // a returning old master would wait that long for its resync. Timing only.
        c.push_str("repl-diskless-sync-delay 0\n");
        if let Some(pw) = &self.password {
            c.push_str(&format!("requirepass \"{pw}\"\nmasterauth \"{pw}\"\n"));
        }
        for l in &self.node_lines {
            c.push_str(l);
            c.push('\n');
        }
        if let Some(m) = master_port {
            c.push_str(&format!("replicaof 127.0.0.1 {m}\n"));
        }
        c
    }

    fn sentinel_conf(&self, port: u16, master_port: u16) -> String {
        let name = &self.master_name;
        let mut c = format!(
            "port {port}\nbind 127.0.0.1\ndir .\nlogfile \"{SENTINEL_LOG}\"\ndaemonize no\n\
             sentinel monitor {name} 127.0.0.1 {master_port} {}\n\
             sentinel down-after-milliseconds {name} {}\n\
             sentinel failover-timeout {name} {}\n\
             sentinel parallel-syncs {name} {}\n",
            self.quorum, self.down_after_ms, self.failover_timeout_ms, self.parallel_syncs,
        );
        if let Some(pw) = &self.password {
            c.push_str(&format!("sentinel auth-pass {name} \"{pw}\"\n"));
        }
        for l in &self.sentinel_lines {
            c.push_str(l);
            c.push('\n');
        }
        c
    }
}

/// `down-after-milliseconds` for every test deployment: 1500, not 1000, because with 1000
/// real Redis 7.0 fails over the master it has just promoted, now and then. On
/// `+switch-master` a Sentinel resets the master's link and sets `act_ping_time` to now, but
/// its reconnect is rate-limited to one attempt per second (`last_reconn_time`, not reset), and
/// it has been retrying the dead old master every second: the first PONG from the new master
/// can come more than 1000 ms after the reset, so it is marked `+sdown`, and when two
/// Sentinels switched together, `+odown` and a second failover follow (seen in about one
/// failover in ten here). Above 1000 ms plus a timer tick the race cannot happen.
pub const DEFAULT_DOWN_AFTER_MS: u64 = 1500;

const NODE_CONF: &str = "redis.conf";
const NODE_LOG: &str = "redis.log";
const SENTINEL_CONF: &str = "sentinel.conf";
const SENTINEL_LOG: &str = "sentinel.log";
/// Attempts with a new port when another process took ours between probe and bind.
const PORT_ATTEMPTS: usize = 5;

/// Starts one process from a config file that names its port, retrying with a new port when
/// the chosen one was taken meanwhile.
fn start_with_port(
    flavor: Flavor,
    sentinel: bool,
    conf_name: &str,
    log_name: &str,
    mut conf: impl FnMut(u16) -> String,
) -> anyhow::Result<(ServerProcess, u16)> {
    let mut last = None;
    for _ in 0..PORT_ATTEMPTS {
        let port = free_port()?;
        let mut b = ServerProcess::builder(flavor)
            .config_name(conf_name)
            .config_file(&conf(port))
            .log_name(log_name)
            .no_defaults();
        if sentinel {
            // `redis-sentinel` is what users run; it is `redis-server --sentinel`.
            match (flavor, search_path("redis-sentinel")) {
                (Flavor::Redis, Some(bin)) => b = b.binary(bin),
                _ => b = b.arg("--sentinel"),
            }
        }
        match b.start() {
            Ok(p) => return Ok((p, port)),
            Err(e) if format!("{e:#}").contains("Address already in use") => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| anyhow!("no attempt made")))
        .context(format!("no free port after {PORT_ATTEMPTS} attempts"))
}

fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("probing a free port")?;
    Ok(l.local_addr()?.port())
}

/// One data node (a redis-server or redoubt-server), named `A`, `B`, `C`...
pub struct Node {
    pub name: String,
    pub spec: NodeSpec,
    port: u16,
    password: Option<String>,
    process: ServerProcess,
}

impl Node {
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The process, for signals and anything else [`ServerProcess`] offers.
    pub fn process(&mut self) -> &mut ServerProcess {
        &mut self.process
    }

    /// A connection, authenticated when the deployment has a password.
    pub fn connect(&self) -> anyhow::Result<RawConn> {
        let mut c = RawConn::connect(self.port)?;
        if let Some(pw) = &self.password {
            c.send_cmd(&["AUTH", pw.as_str()])?;
            match c.read_reply(Instant::now() + Duration::from_secs(5)) {
                Ok(Value::Simple(s)) if s == "OK" => {}
                other => bail!("AUTH on node {}: {other:?}", self.name),
            }
        }
        Ok(c)
    }

    #[track_caller]
    pub fn conn(&self) -> RawConn {
        match self.connect() {
            Ok(c) => c,
            Err(e) => panic!("connecting to node {}: {e:#}", self.name),
        }
    }

    /// One command on a fresh connection; panics on failure.
    #[track_caller]
    pub fn cmd(&self, args: &[&str]) -> Value {
        self.conn().cmd(args)
    }

    /// `INFO <section>` as text.
    #[track_caller]
    pub fn info(&self, section: &str) -> String {
        info_text(&self.cmd(&["INFO", section]))
    }

    /// One `field:value` of `INFO <section>`.
    #[track_caller]
    pub fn info_field(&self, section: &str, field: &str) -> Option<String> {
        info_field(&self.info(section), field)
    }

    /// The first element of ROLE (`master`, `slave`), or `None` if the node does not answer.
    pub fn role(&self) -> Option<String> {
        let mut c = self.connect().ok()?;
        c.send_cmd(&["ROLE"]).ok()?;
        match c.read_reply(Instant::now() + Duration::from_secs(2)).ok()? {
            Value::Array(v) => match v.first() {
                Some(Value::Bulk(b)) => Some(String::from_utf8_lossy(b).into_owned()),
                _ => None,
            },
            _ => None,
        }
    }

    /// The config file as it is now on disk (rewritten by CONFIG REWRITE).
    pub fn config_text(&self) -> String {
        std::fs::read_to_string(self.config_path()).unwrap_or_default()
    }

    pub fn config_path(&self) -> PathBuf {
        self.process.dir().join(NODE_CONF)
    }

    pub fn log(&self) -> String {
        self.process.log()
    }

    /// SIGKILL: a crash.
    pub fn kill9(&mut self) -> anyhow::Result<()> {
        self.process.kill9().map(|_| ())
    }

    /// SIGSTOP: the process stops answering but keeps its sockets open (a hang, a GC pause).
    pub fn pause(&mut self) -> anyhow::Result<()> {
        self.process.signal(libc::SIGSTOP)
    }

    /// SIGCONT after [`Node::pause`].
    pub fn resume(&mut self) -> anyhow::Result<()> {
        self.process.signal(libc::SIGCONT)
    }

    /// A clean `SHUTDOWN` (as the tutorial's operator does), waiting for the process to exit.
    pub fn shutdown(&mut self) -> anyhow::Result<()> {
        let mut c = self.connect()?;
        c.send_cmd(&["SHUTDOWN"])?;
        // The reply is the connection closing; an error reply means it refused.
        if let Ok(v) = c.read_reply(Instant::now() + Duration::from_secs(30)) {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            bail!(
                "SHUTDOWN on node {}: {v:?}; log tail (newest first):\n{}",
                self.name,
                tail.join("\n")
            );
        }
        self.process.wait_exit(Duration::from_secs(30)).map(|_| ())
    }

    /// Starts it again from its (possibly rewritten) config file, on the same port.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.process.restart()
    }
}

/// One Sentinel, named `S0`, `S1`...
pub struct Sentinel {
    pub name: String,
    pub flavor: Flavor,
    port: u16,
    myid: String,
    process: ServerProcess,
}

impl Sentinel {
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its run id (SENTINEL MYID), as other Sentinels and events name it.
    pub fn myid(&self) -> &str {
        &self.myid
    }

    pub fn process(&mut self) -> &mut ServerProcess {
        &mut self.process
    }

    pub fn connect(&self) -> anyhow::Result<RawConn> {
        RawConn::connect(self.port)
    }

    #[track_caller]
    pub fn cmd(&self, args: &[&str]) -> Value {
        match self.connect() {
            Ok(mut c) => c.cmd(args),
            Err(e) => panic!("connecting to sentinel {}: {e:#}", self.name),
        }
    }

    #[track_caller]
    pub fn info(&self, section: &str) -> String {
        info_text(&self.cmd(&["INFO", section]))
    }

    /// The port GET-MASTER-ADDR-BY-NAME gives (the IP is checked to be 127.0.0.1), or
    /// `None` when it does not answer with an address.
    pub fn master_port(&self, master: &str) -> Option<u16> {
        master_port_from(self.port, master)
    }

    pub fn config_text(&self) -> String {
        std::fs::read_to_string(self.config_path()).unwrap_or_default()
    }

    pub fn config_path(&self) -> PathBuf {
        self.process.dir().join(SENTINEL_CONF)
    }

    pub fn log(&self) -> String {
        self.process.log()
    }
}

/// Asks the Sentinel on `sentinel_port` where `master` is; `None` without an answer.
pub fn master_port_from(sentinel_port: u16, master: &str) -> Option<u16> {
    let mut c = RawConn::connect(sentinel_port).ok()?;
    c.send_cmd(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", master])
        .ok()?;
    match c.read_reply(Instant::now() + Duration::from_secs(2)).ok()? {
        Value::Array(v) if v.len() == 2 => match (&v[0], &v[1]) {
            (Value::Bulk(ip), Value::Bulk(port)) if &ip[..] == b"127.0.0.1" => {
                std::str::from_utf8(port).ok()?.parse().ok()
            }
            _ => None,
        },
        _ => None,
    }
}

/// The text of an INFO reply (bulk or verbatim).
pub fn info_text(v: &Value) -> String {
    match v {
        Value::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        Value::Verbatim(_, b) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("INFO: expected a bulk string, got {other:?}"),
    }
}

/// The value of `field:` in INFO text.
pub fn info_field(info: &str, field: &str) -> Option<String> {
    info.lines().find_map(|l| {
        l.strip_prefix(field)
            .and_then(|r| r.strip_prefix(':'))
            .map(|v| v.trim_end().to_string())
    })
}

/// The running deployment. Drop stops every process (Sentinels first).
pub struct Deployment {
    pub master_name: String,
    pub quorum: u32,
    // Field order is drop order: the event readers, then Sentinels, then the nodes.
    events: EventLog,
    pub sentinels: Vec<Sentinel>,
    pub nodes: Vec<Node>,
}

impl Deployment {
    pub fn builder() -> DeploymentBuilder {
        DeploymentBuilder::default()
    }

    fn start(b: DeploymentBuilder) -> anyhow::Result<Deployment> {
        if b.nodes.is_empty() {
            bail!("a deployment needs a master");
        }
        let mut d = Deployment {
            master_name: b.master_name.clone(),
            quorum: b.quorum,
            events: EventLog::new(),
            sentinels: Vec::new(),
            nodes: Vec::new(),
        };
        let mut master_port = None;
        for (i, spec) in b.nodes.iter().enumerate() {
            let name = node_name(i);
            let (process, port) =
                start_with_port(spec.flavor, false, NODE_CONF, NODE_LOG, |port| {
                    b.node_conf(i, port, master_port)
                })
                .with_context(|| format!("starting node {name}"))?;
            master_port.get_or_insert(port);
            d.nodes.push(Node {
                name,
                spec: *spec,
                port,
                password: b.password.clone(),
                process,
            });
        }
        // Sentinels learn replicas from the master's INFO: have them attached first, so the
        // discovery the tests check is the Sentinels', not a race with replication.
        for n in &d.nodes[1..] {
            let ok = crate::wait::try_wait_for(Duration::from_secs(20), || {
                n.connect()
                    .ok()
                    .and_then(|mut c| {
                        c.send_cmd(&["INFO", "replication"]).ok()?;
                        c.read_reply(Instant::now() + Duration::from_secs(2)).ok()
                    })
                    .map(|v| {
                        info_field(&info_text(&v), "master_link_status").as_deref() == Some("up")
                    })
                    .unwrap_or(false)
            });
            if !ok {
                bail!(
                    "replica {} did not connect to its master; log:\n{}",
                    n.name,
                    n.log()
                );
            }
        }
        let master = d.nodes[0].port;
        for (i, flavor) in b.sentinels.iter().enumerate() {
            let name = format!("S{i}");
            let (process, port) =
                start_with_port(*flavor, true, SENTINEL_CONF, SENTINEL_LOG, |port| {
                    b.sentinel_conf(port, master)
                })
                .with_context(|| format!("starting sentinel {name}"))?;
            d.events.watch(i, port)?;
            let mut c = RawConn::connect(port)?;
            c.send_cmd(&["SENTINEL", "MYID"])?;
            let myid = match c.read_reply(Instant::now() + Duration::from_secs(5)) {
                Ok(Value::Bulk(id)) => String::from_utf8_lossy(&id).into_owned(),
                other => bail!("SENTINEL MYID on {name}: {other:?}"),
            };
            d.sentinels.push(Sentinel {
                name,
                flavor: *flavor,
                port,
                myid,
                process,
            });
        }
        Ok(d)
    }

    pub fn node(&self, name: &str) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .unwrap_or_else(|| panic!("no node {name}"))
    }

    pub fn node_mut(&mut self, name: &str) -> &mut Node {
        self.nodes
            .iter_mut()
            .find(|n| n.name == name)
            .unwrap_or_else(|| panic!("no node {name}"))
    }

    /// The node listening on `port`.
    pub fn node_at(&self, port: u16) -> Option<&Node> {
        self.nodes.iter().find(|n| n.port == port)
    }

    pub fn sentinel_ports(&self) -> Vec<u16> {
        self.sentinels.iter().map(|s| s.port).collect()
    }

    pub fn events(&self) -> &EventLog {
        &self.events
    }

    /// Restarts Sentinel `i` from its (rewritten) config file and subscribes to it again.
    pub fn restart_sentinel(&mut self, i: usize) -> anyhow::Result<()> {
        let s = &mut self.sentinels[i];
        s.process.restart()?;
        self.events.watch(i, s.port)
    }

    /// `text` with every port of ours replaced by `<name>` (`<A>`, `<S1>`) and every Sentinel
    /// run id by `<S1>`, so expected event texts are exact yet independent of the run.
    pub fn mask(&self, text: &str) -> String {
        let mut names: Vec<(String, String)> = Vec::new();
        for n in &self.nodes {
            names.push((n.port.to_string(), format!("<{}>", n.name)));
        }
        for s in &self.sentinels {
            names.push((s.port.to_string(), format!("<{}>", s.name)));
            names.push((s.myid.clone(), format!("<{}>", s.name)));
        }
        mask_with(&names, text)
    }

    /// Every event so far, masked, one per line: `S0 +sdown master mymaster 127.0.0.1 <A>`.
    pub fn event_dump(&self) -> String {
        self.events
            .all()
            .iter()
            .map(|e| format!("S{} {} {}", e.sentinel, e.channel, self.mask(&e.payload)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Waits for an event at or after `from` on `channel` from `sentinel` (any if `None`)
    /// whose masked payload `pred` accepts; panics with every event seen at the deadline.
    #[track_caller]
    pub fn wait_event_where(
        &self,
        from: usize,
        sentinel: Option<usize>,
        channel: &str,
        timeout: Duration,
        mut pred: impl FnMut(&str) -> bool,
    ) -> Event {
        let found = self.events.wait_since(from, timeout, |e| {
            sentinel.is_none_or(|s| s == e.sentinel)
                && e.channel == channel
                && pred(&self.mask(&e.payload))
        });
        match found {
            Some(e) => e,
            None => panic!(
                "no {channel} event{} within {timeout:?}; events:\n{}",
                sentinel.map(|s| format!(" from S{s}")).unwrap_or_default(),
                self.event_dump()
            ),
        }
    }

    /// [`Deployment::wait_event_where`] for an exact masked payload.
    #[track_caller]
    pub fn wait_event(
        &self,
        from: usize,
        sentinel: Option<usize>,
        channel: &str,
        masked_payload: &str,
        timeout: Duration,
    ) -> Event {
        self.wait_event_where(from, sentinel, channel, timeout, |p| p == masked_payload)
    }

    /// The same event from every Sentinel.
    #[track_caller]
    pub fn wait_event_all(
        &self,
        from: usize,
        channel: &str,
        masked_payload: &str,
        timeout: Duration,
    ) -> Vec<Event> {
        (0..self.sentinels.len())
            .map(|i| self.wait_event(from, Some(i), channel, masked_payload, timeout))
            .collect()
    }

    /// Events at or after `from` matching `channel` (masked payloads), in arrival order.
    pub fn events_since(&self, from: usize, sentinel: Option<usize>, channel: &str) -> Vec<String> {
        self.events
            .all()
            .iter()
            .skip(from)
            .filter(|e| sentinel.is_none_or(|s| s == e.sentinel) && e.channel == channel)
            .map(|e| self.mask(&e.payload))
            .collect()
    }

    /// Waits until every Sentinel's INFO shows the master with `replicas` replicas and all the
    /// other Sentinels, status ok; returns Sentinel 0's `master0:` line, masked.
    #[track_caller]
    pub fn wait_discovered(&self, replicas: usize, timeout: Duration) -> String {
        let want = format!("slaves={replicas},sentinels={}", self.sentinels.len());
        let mut last = String::new();
        let ok = crate::wait::try_wait_for(timeout, || {
            self.sentinels.iter().all(|s| {
                let line = s
                    .connect()
                    .ok()
                    .and_then(|mut c| {
                        c.send_cmd(&["INFO", "sentinel"]).ok()?;
                        c.read_reply(Instant::now() + Duration::from_secs(2)).ok()
                    })
                    .map(|v| info_field(&info_text(&v), "master0").unwrap_or_default())
                    .unwrap_or_default();
                let good = line.contains("status=ok") && line.ends_with(&want);
                last = line;
                good
            })
        });
        if !ok {
            panic!(
                "sentinels did not discover {want} within {timeout:?} (last: {last}); events:\n{}",
                self.event_dump()
            );
        }
        self.mask(&format!(
            "master0:{}",
            info_field(&self.sentinels[0].info("sentinel"), "master0").unwrap_or_default()
        ))
    }

    /// Waits until every Sentinel names the node on `port` as the master; panics otherwise.
    #[track_caller]
    pub fn wait_master_everywhere(&self, port: u16, timeout: Duration) {
        let name = self.master_name.clone();
        let ok = crate::wait::try_wait_for(timeout, || {
            self.sentinels
                .iter()
                .all(|s| s.master_port(&name) == Some(port))
        });
        if !ok {
            panic!(
                "not every sentinel names port {port} as master within {timeout:?}; events:\n{}",
                self.event_dump()
            );
        }
    }

    /// Waits until `replica` reports `master_link_status:up` towards `master`.
    #[track_caller]
    pub fn wait_replicating(&self, replica: &str, master: &str, timeout: Duration) {
        let master_port = self.node(master).port.to_string();
        let n = self.node(replica);
        let ok = crate::wait::try_wait_for(timeout, || {
            let Ok(mut c) = n.connect() else { return false };
            if c.send_cmd(&["INFO", "replication"]).is_err() {
                return false;
            }
            let Ok(v) = c.read_reply(Instant::now() + Duration::from_secs(2)) else {
                return false;
            };
            let info = info_text(&v);
            info_field(&info, "role").as_deref() == Some("slave")
                && info_field(&info, "master_port").as_deref() == Some(master_port.as_str())
                && info_field(&info, "master_link_status").as_deref() == Some("up")
        });
        if !ok {
            panic!(
                "{replica} does not replicate from {master} within {timeout:?}; its log:\n{}\nevents:\n{}",
                n.log(),
                self.event_dump()
            );
        }
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- sentinel events (masked):\n{}", self.event_dump());
        }
    }
}

/// `text` with each whole alphanumeric run equal to a `raw` name replaced by its mask.
fn mask_with(names: &[(String, String)], text: &str) -> String {
    // Replace whole alphanumeric runs only: `127.0.0.1:6379,` and `port=6379` are masked
    // but a port's digits inside a longer number are not.
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        match names.iter().find(|(raw, _)| raw == run) {
            Some((_, masked)) => out.push_str(masked),
            None => out.push_str(run),
        }
        run.clear();
    };
    for ch in text.chars() {
        if ch.is_ascii_alphanumeric() {
            run.push(ch);
        } else {
            flush(&mut run, &mut out);
            out.push(ch);
        }
    }
    flush(&mut run, &mut out);
    out
}

fn node_name(i: usize) -> String {
    match u8::try_from(i) {
        Ok(i) if i < 26 => char::from(b'A' + i).to_string(),
        _ => format!("N{i}"),
    }
}

/// Parses the `sentinel known-*` and epoch lines of a rewritten sentinel.conf, masked, sorted.
pub fn sentinel_state_lines(d: &Deployment, conf: &str) -> Vec<String> {
    let mut v: Vec<String> = conf
        .lines()
        .filter(|l| {
            l.starts_with("sentinel ")
                && !l.starts_with("sentinel myid ")
                && !l.starts_with("sentinel auth-pass ")
        })
        .map(|l| d.mask(l))
        .collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flavors_from_env_forms() {
        // Unset variable: all default.
        let v = flavors_from_env("REDOUBT_TEST_SURELY_UNSET_VAR", 3, Flavor::Redis).ok();
        assert_eq!(v, Some(vec![Flavor::Redis; 3]));
    }

    #[test]
    fn info_field_finds_values() {
        let info = "# Replication\r\nrole:slave\r\nmaster_port:6379\r\n";
        assert_eq!(info_field(info, "role").as_deref(), Some("slave"));
        assert_eq!(info_field(info, "master_port").as_deref(), Some("6379"));
        assert_eq!(info_field(info, "master"), None);
    }

    #[test]
    fn masks_whole_numbers_and_ids_only() {
        let names = vec![
            ("6379".to_string(), "<A>".to_string()),
            ("abc123".to_string(), "<S0>".to_string()),
        ];
        assert_eq!(
            mask_with(
                &names,
                "address=127.0.0.1:6379,slaves=2 x 16379 abc123 1 6379"
            ),
            "address=127.0.0.1:<A>,slaves=2 x 16379 <S0> 1 <A>"
        );
    }

    #[test]
    fn node_names() {
        assert_eq!(node_name(0), "A");
        assert_eq!(node_name(2), "C");
        assert_eq!(node_name(30), "N30");
    }
}
