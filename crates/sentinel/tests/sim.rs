//! A deterministic simulation: several Sentinel cores and fake Redis nodes in one process,
//! one fake clock, seeded partitions and crashes. Checks Sentinel's safety rules:
//! at most one leader per epoch, epochs never go down, and after healing every Sentinel
//! agrees on one master address with the highest config epoch.
//!
//! Everything the core does goes through its public sans-IO API, as the real driver's does.

use bytes::Bytes;
use redoubt_keyspace::rand::Rng;
use redoubt_resp::{parse_value, Protocol, ReplyBuf, Value};
use redoubt_sentinel::config::Line;
use redoubt_sentinel::{Action, LinkId, LinkKind, Sentinel};
use std::collections::{BTreeMap, HashMap, HashSet};

const SENTINEL_BASE: u16 = 26000;
const NODE_BASE: u16 = 7000;

#[derive(Clone)]
struct Node {
    up: bool,
    replica_of: Option<u16>,
    priority: i64,
    offset: u64,
}

struct Link {
    owner: usize,
    to: u16,
    kind: LinkKind,
    in_multi: Option<Vec<Vec<Vec<u8>>>>,
}

struct World {
    sentinels: Vec<Sentinel>,
    next_tick: Vec<i64>,
    nodes: BTreeMap<u16, Node>,
    links: HashMap<(usize, LinkId), Link>,
    /// Pub/sub subscribers of each data node: (sentinel, link).
    subscribers: HashMap<u16, Vec<(usize, LinkId)>>,
    /// Pairs of endpoints that cannot talk (ports; Sentinel i is SENTINEL_BASE + i).
    cut: HashSet<(u16, u16)>,
    /// Sentinels that are down (crashed).
    crashed: HashSet<usize>,
    leaders: BTreeMap<u64, HashSet<String>>,
    last_epoch: Vec<u64>,
    now: i64,
}

fn port_of_sentinel(i: usize) -> u16 {
    SENTINEL_BASE + i as u16
}

impl World {
    fn new(n_sentinels: usize, n_replicas: u16, seed: u64) -> World {
        let now = 1_000_000;
        let mut nodes = BTreeMap::new();
        nodes.insert(
            NODE_BASE,
            Node {
                up: true,
                replica_of: None,
                priority: 100,
                offset: 0,
            },
        );
        for r in 1..=n_replicas {
            nodes.insert(
                NODE_BASE + r,
                Node {
                    up: true,
                    replica_of: Some(NODE_BASE),
                    priority: 100,
                    offset: 0,
                },
            );
        }
        let quorum = n_sentinels / 2 + 1;
        let text = format!(
            "sentinel monitor mymaster 127.0.0.1 {NODE_BASE} {quorum}\nsentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 6000\n"
        );
        let lines: Vec<Vec<Vec<u8>>> = text
            .lines()
            .map(|l| {
                l.split_whitespace()
                    .skip(1)
                    .map(|a| a.as_bytes().to_vec())
                    .collect()
            })
            .collect();
        let sentinels = (0..n_sentinels)
            .map(|i| {
                let mut s = Sentinel::new(
                    // Rng::new ignores the lowest bit: keep the seeds two apart.
                    seed.wrapping_mul(1000).wrapping_add(2 * i as u64),
                    port_of_sentinel(i),
                    now,
                );
                let ls: Vec<Line<'_>> = lines
                    .iter()
                    .enumerate()
                    .map(|(n, a)| Line {
                        args: a,
                        line_no: n + 1,
                        line: b"",
                    })
                    .collect();
                s.load_config(&ls, now).expect("config");
                s.ensure_myid();
                s
            })
            .collect();
        World {
            sentinels,
            next_tick: vec![now; n_sentinels],
            nodes,
            links: HashMap::new(),
            subscribers: HashMap::new(),
            cut: HashSet::new(),
            crashed: HashSet::new(),
            leaders: BTreeMap::new(),
            last_epoch: vec![0; n_sentinels],
            now,
        }
    }

    fn reachable(&self, a: u16, b: u16) -> bool {
        !self.cut.contains(&(a, b)) && !self.cut.contains(&(b, a))
    }

    fn endpoint_up(&self, port: u16) -> bool {
        if port >= SENTINEL_BASE {
            !self.crashed.contains(&usize::from(port - SENTINEL_BASE))
        } else {
            self.nodes.get(&port).is_some_and(|n| n.up)
        }
    }

    /// Breaks every link crossing a cut or reaching a dead endpoint, as TCP would
    /// eventually.
    fn drop_broken_links(&mut self) {
        let broken: Vec<(usize, LinkId)> = self
            .links
            .iter()
            .filter(|((i, _), l)| {
                !self.endpoint_up(l.to) || !self.reachable(port_of_sentinel(*i), l.to)
            })
            .map(|(k, _)| *k)
            .collect();
        for (i, id) in broken {
            self.links.remove(&(i, id));
            for subs in self.subscribers.values_mut() {
                subs.retain(|s| *s != (i, id));
            }
            if !self.crashed.contains(&i) {
                let now = self.now;
                self.sentinels[i].on_disconnect(id, now);
            }
        }
    }

    fn info(&self, port: u16) -> String {
        let n = &self.nodes[&port];
        let runid = format!("{port:0>40}");
        match n.replica_of {
            None => {
                let mut s = format!("run_id:{runid}\r\nrole:master\r\n");
                let replicas = self.nodes.iter().filter(|(p, r)| {
                    r.replica_of == Some(port) && r.up && self.reachable(**p, port)
                });
                for (i, (p, _)) in replicas.enumerate() {
                    s.push_str(&format!(
                        "slave{i}:ip=127.0.0.1,port={p},state=online,offset=1,lag=0\r\n"
                    ));
                }
                s
            }
            Some(m) => {
                let up = self.endpoint_up(m) && self.reachable(port, m);
                format!(
                    "run_id:{runid}\r\nrole:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:{m}\r\nmaster_link_status:{}\r\nslave_repl_offset:{}\r\nslave_priority:{}\r\n",
                    if up { "up" } else { "down" },
                    n.offset,
                    n.priority
                )
            }
        }
    }

    /// Runs every due tick and delivers everything until quiet.
    fn step(&mut self) {
        self.drop_broken_links();
        for i in 0..self.sentinels.len() {
            if self.crashed.contains(&i) || self.next_tick[i] > self.now {
                continue;
            }
            let delay = self.sentinels[i].tick(self.now);
            self.next_tick[i] = self.now + delay;
        }
        for _ in 0..20 {
            let mut any = false;
            for i in 0..self.sentinels.len() {
                if self.crashed.contains(&i) {
                    self.sentinels[i].take_actions();
                    continue;
                }
                let actions = self.sentinels[i].take_actions();
                any |= !actions.is_empty();
                for a in actions {
                    self.apply(i, a);
                }
            }
            if !any {
                break;
            }
        }
        for (i, s) in self.sentinels.iter().enumerate() {
            assert!(
                s.current_epoch >= self.last_epoch[i],
                "sentinel {i}: epoch went down from {} to {}",
                self.last_epoch[i],
                s.current_epoch
            );
        }
        for (i, s) in self.sentinels.iter().enumerate() {
            self.last_epoch[i] = s.current_epoch;
        }
        // Replication moves on: replicas connected to a master advance.
        let masters: Vec<u16> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.up && n.replica_of.is_none())
            .map(|(p, _)| *p)
            .collect();
        for (p, n) in self.nodes.iter_mut() {
            if let Some(m) = n.replica_of {
                if n.up && masters.contains(&m) && !self.cut.contains(&(*p, m)) {
                    n.offset += 10;
                }
            }
        }
        self.now += 100;
    }

    fn apply(&mut self, i: usize, a: Action) {
        let now = self.now;
        match a {
            Action::Connect {
                link, port, kind, ..
            } => {
                if self.endpoint_up(port) && self.reachable(port_of_sentinel(i), port) {
                    self.links.insert(
                        (i, link),
                        Link {
                            owner: i,
                            to: port,
                            kind,
                            in_multi: None,
                        },
                    );
                    self.sentinels[i].on_connected(link, "127.0.0.1", now);
                } else {
                    self.sentinels[i].on_disconnect(link, now);
                }
            }
            Action::Close { link } => {
                self.links.remove(&(i, link));
                for subs in self.subscribers.values_mut() {
                    subs.retain(|s| *s != (i, link));
                }
            }
            Action::Send { link, argv } => self.deliver(i, link, argv),
            Action::Publish { channel, .. } => {
                if channel == "+elected-leader" {
                    let s = &self.sentinels[i];
                    let epoch = s.masters[0].failover_epoch;
                    self.leaders
                        .entry(epoch)
                        .or_default()
                        .insert(s.myid.clone());
                }
            }
            Action::Exit { .. } => {
                self.crashed.insert(i);
            }
            Action::Log { .. }
            | Action::FlushConfig
            | Action::RunScript { .. }
            | Action::KillScript { .. } => {}
        }
    }

    fn deliver(&mut self, i: usize, link: LinkId, argv: Vec<Vec<u8>>) {
        let now = self.now;
        let Some(l) = self.links.get(&(i, link)) else {
            return;
        };
        let (to, kind) = (l.to, l.kind);
        debug_assert_eq!(l.owner, i);
        let name = String::from_utf8_lossy(&argv[0]).to_ascii_uppercase();
        if to >= SENTINEL_BASE {
            let j = usize::from(to - SENTINEL_BASE);
            let args: Vec<Bytes> = argv.iter().map(|a| Bytes::from(a.clone())).collect();
            let mut out = ReplyBuf::new(Protocol::Resp2);
            match name.as_str() {
                "SENTINEL" => self.sentinels[j].command(&args, now, &mut out),
                "PUBLISH" => self.sentinels[j].publish_command(&args, now, &mut out),
                "PING" => out.simple("PONG"),
                _ => out.ok(),
            }
            // Target's own actions run on its next turn of the loop.
            let reply = parse_value(&out.buf)
                .ok()
                .flatten()
                .map(|(v, _)| v)
                .unwrap_or(Value::Nil);
            self.sentinels[i].on_reply(link, &reply, now);
            return;
        }
        if kind == LinkKind::PubSub {
            if name == "SUBSCRIBE" {
                self.subscribers.entry(to).or_default().push((i, link));
                let confirm = Value::Array(vec![
                    Value::Bulk(Bytes::from_static(b"subscribe")),
                    Value::Bulk(Bytes::from(argv[1].clone())),
                    Value::Int(1),
                ]);
                self.sentinels[i].on_message(link, &confirm, now);
            }
            return;
        }
        if let Some(l) = self.links.get_mut(&(i, link)) {
            if let Some(q) = l.in_multi.as_mut() {
                if name == "EXEC" {
                    let q = l.in_multi.take().unwrap_or_default();
                    for c in q {
                        if c[0].eq_ignore_ascii_case(b"SLAVEOF") {
                            let target = if c[1] == b"NO" {
                                None
                            } else {
                                String::from_utf8_lossy(&c[2]).parse().ok()
                            };
                            if let Some(n) = self.nodes.get_mut(&to) {
                                n.replica_of = target;
                            }
                        }
                    }
                    self.sentinels[i].on_reply(link, &Value::Array(vec![]), now);
                } else {
                    q.push(argv);
                    self.sentinels[i].on_reply(link, &Value::Simple("QUEUED".into()), now);
                }
                return;
            }
        }
        let reply = match name.as_str() {
            "PING" => Value::Simple("PONG".into()),
            "INFO" => Value::Bulk(Bytes::from(self.info(to))),
            "MULTI" => {
                if let Some(l) = self.links.get_mut(&(i, link)) {
                    l.in_multi = Some(Vec::new());
                }
                Value::Simple("OK".into())
            }
            "PUBLISH" => {
                let subs = self.subscribers.get(&to).cloned().unwrap_or_default();
                let msg = Value::Array(vec![
                    Value::Bulk(Bytes::from_static(b"message")),
                    Value::Bulk(Bytes::from(argv[1].clone())),
                    Value::Bulk(Bytes::from(argv[2].clone())),
                ]);
                for (j, sl) in &subs {
                    if !self.crashed.contains(j) {
                        self.sentinels[*j].on_message(*sl, &msg, now);
                    }
                }
                Value::Int(subs.len() as i64)
            }
            _ => Value::Simple("OK".into()),
        };
        self.sentinels[i].on_reply(link, &reply, now);
    }

    fn run(&mut self, ms: i64) {
        let end = self.now + ms;
        while self.now < end {
            self.step();
        }
    }

    fn check_one_leader_per_epoch(&self) {
        for (epoch, ids) in &self.leaders {
            assert!(ids.len() <= 1, "epoch {epoch} has leaders {ids:?}");
        }
    }

    fn views(&self) -> Vec<(u64, i64)> {
        self.sentinels
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.crashed.contains(i))
            .map(|(_, s)| {
                let m = &s.masters[0];
                (m.config_epoch, m.inst.port)
            })
            .collect()
    }
}

/// One seeded run: the master dies or gets cut off, Sentinels crash or get partitioned at
/// random moments, then everything heals.
/// Returns how many leaders were elected.
fn scenario(seed: u64) -> usize {
    let mut rng = Rng::new(seed);
    let n = 3 + rng.below(3) as usize;
    let mut w = World::new(n, 2, seed);
    w.run(5_000);
    assert!(
        w.sentinels
            .iter()
            .all(|s| s.masters[0].sentinels.len() == n - 1 && s.masters[0].replicas.len() == 2),
        "seed {seed}: discovery incomplete: {:?}",
        w.sentinels
            .iter()
            .map(|s| (
                s.masters[0].sentinels.len(),
                s.masters[0].replicas.len(),
                s.info_section(w.now)
            ))
            .collect::<Vec<_>>()
    );
    // Faults: the first one always takes the master down; then random ones.
    for k in 0..(1 + rng.below(4)) {
        match if k == 0 { 0 } else { rng.below(4) } {
            0 => {
                let master = w
                    .nodes
                    .iter()
                    .find(|(_, n)| n.replica_of.is_none() && n.up)
                    .map(|(p, _)| *p);
                if let Some(m) = master {
                    if let Some(node) = w.nodes.get_mut(&m) {
                        node.up = false;
                    }
                }
            }
            1 => {
                // Cut one Sentinel from everything else.
                let i = rng.below(n as u64) as usize;
                let me = port_of_sentinel(i);
                let others: Vec<u16> = (0..n)
                    .filter(|j| *j != i)
                    .map(port_of_sentinel)
                    .chain(w.nodes.keys().copied())
                    .collect();
                for o in others {
                    w.cut.insert((me, o));
                }
            }
            2 => {
                let i = rng.below(n as u64) as usize;
                w.crashed.insert(i);
            }
            _ => {
                // Cut a random pair of Sentinels.
                let a = rng.below(n as u64) as usize;
                let b = rng.below(n as u64) as usize;
                w.cut.insert((port_of_sentinel(a), port_of_sentinel(b)));
            }
        }
        w.run(3_000 + rng.below(6_000) as i64);
        w.check_one_leader_per_epoch();
    }
    // Heal: the network, and bring back crashed Sentinels with the state they had
    // (their config was flushed before every reply that mattered).
    w.cut.clear();
    w.crashed.clear();
    for n in w.nodes.values_mut() {
        n.up = true;
    }
    w.run(60_000);
    w.check_one_leader_per_epoch();
    let views = w.views();
    let max_epoch = views.iter().map(|v| v.0).max().unwrap_or(0);
    assert!(
        views.iter().all(|v| *v == views[0]) && views[0].0 == max_epoch,
        "seed {seed}: Sentinels disagree after healing: {views:?}"
    );
    w.leaders.values().map(HashSet::len).sum()
}

#[test]
fn at_most_one_leader_per_epoch_and_convergence() {
    let mut elections = 0;
    for seed in 1..=40 {
        elections += scenario(seed);
    }
    // The faults must actually cause failovers, or the checks above prove nothing.
    assert!(elections >= 20, "only {elections} elections in 40 runs");
}

#[test]
fn a_dead_master_is_failed_over_exactly_once() {
    let mut w = World::new(3, 2, 7);
    w.run(5_000);
    if let Some(m) = w.nodes.get_mut(&NODE_BASE) {
        m.up = false;
    }
    w.run(20_000);
    w.check_one_leader_per_epoch();
    let views = w.views();
    assert!(
        views.iter().all(|v| v.1 != i64::from(NODE_BASE)),
        "{views:?}"
    );
    assert!(views.iter().all(|v| *v == views[0]), "{views:?}");
    assert_eq!(w.leaders.len(), 1, "{:?}", w.leaders);
    // The new master has both other nodes as replicas, the old one included once back.
    if let Some(m) = w.nodes.get_mut(&NODE_BASE) {
        m.up = true;
    }
    w.run(20_000);
    let new_master = views[0].1 as u16;
    assert!(w
        .nodes
        .iter()
        .filter(|(p, _)| **p != new_master)
        .all(|(_, n)| n.replica_of == Some(new_master)));
}
