//! One look at the whole deployment: each data node's own view of itself (INFO replication)
//! and each Sentinel's view of the master (SENTINEL MASTER / REPLICAS / SENTINELS, INFO
//! sentinel). `status` prints one; `watch` takes one every refresh.
//!
//! Connections are kept between looks (a live view refreshing four times a second should not
//! open two dozen connections a second) and dropped on any error, so a restarted process is
//! simply reconnected on the next look.

use std::collections::HashMap;
use std::time::Duration;

use crate::client::{field, pairs, parse_kv_list, Conn};
use crate::state::{Deployment, Kind, Member};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeView {
    pub name: String,
    pub port: u16,
    pub priority: u32,
    /// The live PID, if the recorded one still runs our server.
    pub pid: Option<u32>,
    /// Why it did not answer, if it did not.
    pub error: Option<String>,
    pub role: String,
    pub master_port: Option<u16>,
    /// `master_link_status` of a replica (`up`/`down`).
    pub link: Option<String>,
    /// `master_repl_offset` of a master, `slave_repl_offset` of a replica.
    pub offset: Option<i64>,
    /// Seconds since its master last heard from it (`lag=` in the master's INFO).
    pub lag_s: Option<i64>,
    pub replicas_online: usize,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct SeenReplica {
    pub addr: String,
    pub flags: String,
    pub link: String,
    pub offset: String,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct SentinelView {
    pub name: String,
    pub port: u16,
    pub pid: Option<u32>,
    pub error: Option<String>,
    /// The master's address as this Sentinel knows it (it changes at `+switch-master`).
    pub master_port: Option<u16>,
    /// The master's flags as this Sentinel sees them: `master`, `s_down,master`,
    /// `o_down,s_down,master`, with `failover_in_progress` during a failover.
    pub master_flags: String,
    /// `status=` of `INFO sentinel`'s `master0` line: `ok`, `sdown` or `odown`.
    pub status: String,
    pub slaves: usize,
    pub sentinels: usize,
    pub config_epoch: Option<u64>,
    /// `sentinel current-epoch` from its config file, which the Sentinel rewrites as the
    /// epoch moves (no command reports it).
    pub current_epoch: Option<u64>,
    pub failover_state: Option<String>,
    pub tilt: bool,
    pub replicas: Vec<SeenReplica>,
    pub others: Vec<(String, String)>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    pub master_name: String,
    pub nodes: Vec<NodeView>,
    pub sentinels: Vec<SentinelView>,
}

impl Snapshot {
    /// The master most Sentinels agree on, by node name (or the bare port if no node has it).
    pub fn agreed_master(&self) -> Option<String> {
        let mut votes: Vec<(u16, usize)> = Vec::new();
        for s in self.sentinels.iter().filter(|s| s.error.is_none()) {
            if let Some(p) = s.master_port {
                match votes.iter_mut().find(|(q, _)| *q == p) {
                    Some(v) => v.1 += 1,
                    None => votes.push((p, 1)),
                }
            }
        }
        let (port, _) = votes.into_iter().max_by_key(|(_, n)| *n)?;
        Some(self.node_name(port))
    }

    pub fn node_name(&self, port: u16) -> String {
        self.nodes
            .iter()
            .find(|n| n.port == port)
            .map_or_else(|| format!("127.0.0.1:{port}"), |n| n.name.clone())
    }

    /// The topology in one line without the numbers that move all the time (offsets, lag):
    /// `watch` prints it whenever it changes.
    pub fn topology_line(&self) -> String {
        let mut parts = vec![match self.agreed_master() {
            Some(m) => format!("master {m}"),
            None => "master unknown".to_string(),
        }];
        for n in &self.nodes {
            parts.push(if n.error.is_some() {
                format!("{} down", n.name)
            } else if n.role == "master" {
                format!("{} master ({} replicas online)", n.name, n.replicas_online)
            } else {
                format!(
                    "{} replica of {} link {}",
                    n.name,
                    n.master_port.map_or("?".into(), |p| self.node_name(p)),
                    n.link.as_deref().unwrap_or("?")
                )
            });
        }
        for s in &self.sentinels {
            parts.push(if s.error.is_some() {
                format!("{} down", s.name)
            } else {
                format!(
                    "{} sees {} {}{}",
                    s.name,
                    s.master_port.map_or("?".into(), |p| self.node_name(p)),
                    s.status,
                    if s.tilt { " TILT" } else { "" }
                )
            });
        }
        parts.join(" | ")
    }
}

const TIMEOUT: Duration = Duration::from_millis(400);

pub struct Prober {
    conns: HashMap<String, Conn>,
}

impl Default for Prober {
    fn default() -> Self {
        Self::new()
    }
}

impl Prober {
    pub fn new() -> Self {
        Prober {
            conns: HashMap::new(),
        }
    }

    pub fn look(&mut self, d: &Deployment) -> Snapshot {
        let mut snap = Snapshot {
            master_name: d.master_name.clone(),
            ..Snapshot::default()
        };
        // `slaveN:` lines from every node: a chained replica's lag is in its source's INFO.
        let mut lags: HashMap<u16, i64> = HashMap::new();
        for m in d.nodes() {
            let mut v = NodeView {
                name: m.name.clone(),
                port: m.port,
                priority: m.priority,
                pid: d.live_pid(m),
                ..NodeView::default()
            };
            match self.with(d, m, |c| c.info("replication")) {
                Ok(info) => {
                    v.role = match field(&info, "role") {
                        Some("slave") => "replica".into(),
                        Some(r) => r.into(),
                        None => "?".into(),
                    };
                    v.master_port = field(&info, "master_port").and_then(|p| p.parse().ok());
                    v.link = field(&info, "master_link_status").map(str::to_string);
                    let off = if v.role == "master" {
                        "master_repl_offset"
                    } else {
                        "slave_repl_offset"
                    };
                    v.offset = field(&info, off).and_then(|o| o.parse().ok());
                    for (k, val) in &info {
                        if !(k.starts_with("slave") && k[5..].parse::<u32>().is_ok()) {
                            continue;
                        }
                        let kv = parse_kv_list(val);
                        let get = |name| kv.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
                        if get("state") == Some("online") {
                            v.replicas_online += 1;
                        }
                        if let (Some(p), Some(l)) = (
                            get("port").and_then(|p| p.parse().ok()),
                            get("lag").and_then(|l| l.parse().ok()),
                        ) {
                            lags.insert(p, l);
                        }
                    }
                }
                Err(e) => v.error = Some(short(&e)),
            }
            snap.nodes.push(v);
        }
        for n in &mut snap.nodes {
            if n.role == "replica" {
                n.lag_s = lags.get(&n.port).copied();
            }
        }
        for m in d.sentinels() {
            let mut v = SentinelView {
                name: m.name.clone(),
                port: m.port,
                pid: d.live_pid(m),
                current_epoch: current_epoch(d, m),
                ..SentinelView::default()
            };
            if let Err(e) = self.sentinel_view(d, m, &mut v) {
                v.error = Some(short(&e));
            }
            snap.sentinels.push(v);
        }
        snap
    }

    fn sentinel_view(
        &mut self,
        d: &Deployment,
        m: &Member,
        v: &mut SentinelView,
    ) -> anyhow::Result<()> {
        let name = d.master_name.as_str();
        let info = self.with(d, m, |c| c.info("sentinel"))?;
        v.tilt = field(&info, "sentinel_tilt") == Some("1");
        if let Some(line) = field(&info, "master0") {
            for (k, val) in parse_kv_list(line) {
                match k {
                    "status" => v.status = val.to_string(),
                    "slaves" => v.slaves = val.parse().unwrap_or(0),
                    "sentinels" => v.sentinels = val.parse().unwrap_or(0),
                    _ => {}
                }
            }
        }
        let master = pairs(&self.with(d, m, |c| c.cmd(&["SENTINEL", "MASTER", name]))?);
        v.master_port = field(&master, "port").and_then(|p| p.parse().ok());
        v.master_flags = field(&master, "flags").unwrap_or("").to_string();
        v.config_epoch = field(&master, "config-epoch").and_then(|e| e.parse().ok());
        v.failover_state = field(&master, "failover-state").map(str::to_string);
        let replicas = self.with(d, m, |c| c.cmd(&["SENTINEL", "REPLICAS", name]))?;
        v.replicas = list(&replicas)
            .iter()
            .map(|r| {
                let p = pairs(r);
                let f = |k| field(&p, k).unwrap_or("?").to_string();
                SeenReplica {
                    addr: format!("{}:{}", f("ip"), f("port")),
                    flags: f("flags"),
                    link: f("master-link-status"),
                    offset: f("slave-repl-offset"),
                }
            })
            .collect();
        let others = self.with(d, m, |c| c.cmd(&["SENTINEL", "SENTINELS", name]))?;
        v.others = list(&others)
            .iter()
            .map(|s| {
                let p = pairs(s);
                let f = |k| field(&p, k).unwrap_or("?").to_string();
                (format!("{}:{}", f("ip"), f("port")), f("flags"))
            })
            .collect();
        Ok(())
    }

    /// Runs `f` on the member's cached connection (made on demand). A cached connection that
    /// fails is dropped and `f` is tried once more on a fresh one: the server may have closed
    /// it (a restart, a role change), which says nothing about whether the server is up.
    fn with<T>(
        &mut self,
        d: &Deployment,
        m: &Member,
        f: impl Fn(&mut Conn) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        if let Some(conn) = self.conns.get_mut(&m.name) {
            match f(conn) {
                Ok(v) => return Ok(v),
                Err(_) => {
                    self.conns.remove(&m.name);
                }
            }
        }
        let pw = if m.kind == Kind::Node {
            d.password.as_str()
        } else {
            ""
        };
        let mut conn = Conn::connect(m.port, pw, TIMEOUT)?;
        let v = f(&mut conn)?;
        self.conns.insert(m.name.clone(), conn);
        Ok(v)
    }
}

fn list(v: &redoubt_resp::Value) -> Vec<redoubt_resp::Value> {
    match v {
        redoubt_resp::Value::Array(a) => a.clone(),
        _ => Vec::new(),
    }
}

fn current_epoch(d: &Deployment, m: &Member) -> Option<u64> {
    let text = std::fs::read_to_string(d.member_dir(m).join(m.conf_name())).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("sentinel current-epoch "))
        .and_then(|e| e.trim().parse().ok())
}

/// An error in a few words: the root cause ("Connection refused"), not the whole chain.
fn short(e: &anyhow::Error) -> String {
    let root = e.root_cause().to_string();
    match root.find(" (os error") {
        Some(i) => root[..i].to_string(),
        None => root,
    }
}

/// The plain-text status: the deployment as each Sentinel sees it, then as each node sees
/// itself.
pub fn render_status(d: &Deployment, s: &Snapshot) -> String {
    let mut out = format!(
        "deployment {:?} in {} (quorum {}, down-after {} ms)\n",
        s.master_name,
        d.dir.display(),
        d.quorum,
        d.down_after_ms
    );
    out.push_str(&format!(
        "master: {}\n",
        match s.agreed_master() {
            Some(m) => {
                let port = s.nodes.iter().find(|n| n.name == m).map(|n| n.port);
                match port {
                    Some(p) => format!("{m} 127.0.0.1:{p} (as the Sentinels agree)"),
                    None => m,
                }
            }
            None => "unknown (no Sentinel answered)".into(),
        }
    ));
    if let Some(p) = s
        .agreed_master()
        .and_then(|m| s.nodes.iter().find(|n| n.name == m))
        .map(|n| n.port)
    {
        let auth = if d.password.is_empty() {
            String::new()
        } else {
            format!(" -a {} --no-auth-warning", d.password)
        };
        out.push_str(&format!("connect: redoubt-cli -p {p}{auth}\n"));
    }
    out.push_str("\nnodes:\n");
    for n in &s.nodes {
        let pid = n.pid.map_or("-".into(), |p| p.to_string());
        let what = match &n.error {
            Some(e) => format!("DOWN ({e})"),
            None if n.role == "master" => format!(
                "master   offset {}  replicas online {}",
                opt(n.offset),
                n.replicas_online
            ),
            None => format!(
                "replica  of {}  link {}  offset {}  lag {}",
                n.master_port.map_or("?".into(), |p| s.node_name(p)),
                n.link.as_deref().unwrap_or("?"),
                opt(n.offset),
                n.lag_s.map_or("?".into(), |l| format!("{l}s"))
            ),
        };
        out.push_str(&format!(
            "  {:<10} 127.0.0.1:{:<5} pid {:<7} priority {:<3}  {what}\n",
            n.name, n.port, pid, n.priority
        ));
    }
    out.push_str("\nsentinels:\n");
    for v in &s.sentinels {
        let pid = v.pid.map_or("-".into(), |p| p.to_string());
        let Some(e) = &v.error else {
            out.push_str(&format!(
                "  {:<10} 127.0.0.1:{:<5} pid {:<7} master {} flags {} status {} \
                 replicas {} sentinels {} config-epoch {} current-epoch {}{}{}\n",
                v.name,
                v.port,
                pid,
                v.master_port.map_or("?".into(), |p| format!(
                    "{} (127.0.0.1:{p})",
                    s.node_name(p)
                )),
                v.master_flags,
                v.status,
                v.slaves,
                v.sentinels,
                opt(v.config_epoch),
                opt(v.current_epoch),
                v.failover_state
                    .as_ref()
                    .map_or(String::new(), |f| format!(" failover {f}")),
                if v.tilt { " TILT" } else { "" },
            ));
            for r in &v.replicas {
                out.push_str(&format!(
                    "      replica {} flags {} link {} offset {}\n",
                    r.addr, r.flags, r.link, r.offset
                ));
            }
            for (addr, flags) in &v.others {
                out.push_str(&format!("      sentinel {addr} flags {flags}\n"));
            }
            continue;
        };
        out.push_str(&format!(
            "  {:<10} 127.0.0.1:{:<5} pid {:<7} DOWN ({e})\n",
            v.name, v.port, pid
        ));
    }
    out
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or("?".into(), |x| x.to_string())
}

#[cfg(test)]
pub(crate) fn sample() -> Snapshot {
    Snapshot {
        master_name: "mymaster".into(),
        nodes: vec![
            NodeView {
                name: "node1".into(),
                port: 7001,
                priority: 100,
                error: Some("Connection refused".into()),
                ..NodeView::default()
            },
            NodeView {
                name: "node2".into(),
                port: 7002,
                priority: 90,
                pid: Some(4242),
                role: "master".into(),
                offset: Some(123_456),
                replicas_online: 1,
                ..NodeView::default()
            },
            NodeView {
                name: "node3".into(),
                port: 7003,
                priority: 100,
                pid: Some(4243),
                role: "replica".into(),
                master_port: Some(7002),
                link: Some("up".into()),
                offset: Some(123_400),
                lag_s: Some(0),
                ..NodeView::default()
            },
        ],
        sentinels: (1..=3)
            .map(|i| SentinelView {
                name: format!("sentinel{i}"),
                port: 7003 + i,
                pid: Some(5000 + u32::from(i)),
                master_port: Some(7002),
                master_flags: "master".into(),
                status: "ok".into(),
                slaves: 2,
                sentinels: 3,
                config_epoch: Some(1),
                current_epoch: Some(1),
                replicas: vec![SeenReplica {
                    addr: "127.0.0.1:7001".into(),
                    flags: "s_down,slave,disconnected".into(),
                    link: "err".into(),
                    offset: "0".into(),
                }],
                ..SentinelView::default()
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topology_line_names_the_agreed_master() {
        let s = sample();
        assert_eq!(s.agreed_master().as_deref(), Some("node2"));
        assert_eq!(
            s.topology_line(),
            "master node2 | node1 down | node2 master (1 replicas online) | \
             node3 replica of node2 link up | sentinel1 sees node2 ok | \
             sentinel2 sees node2 ok | sentinel3 sees node2 ok"
        );
    }
}
