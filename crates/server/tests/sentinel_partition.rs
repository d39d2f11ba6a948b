//! The partition of issue 7's story, on three real "hosts": network namespaces A, B and C
//! with their own addresses (10.77.0.1, .2, .3 on a bridge in a namespace of the test's own,
//! see `redoubt_harness::netns`), each running a data node on 6379 and a Sentinel on 26379:
//! A the master, B a replica with `replica-priority 90`, C one with 100; `requirepass`,
//! `masterauth`, `min-replicas-to-write 1`, `min-replicas-max-lag 10`, AOF; quorum 2,
//! `down-after-milliseconds 1500`.
//!
//! The master's host A is cut off from B and C (nftables drops on both sides: packets vanish,
//! connections and connects hang) while a Sentinel-aware writer keeps writing from the hub, a
//! client that still reaches every host. It asks the Sentinels in the order A, B, C, so it
//! stays with A as long as A's Sentinel names A: the client stuck on the old master's side.
//! Then:
//! - B's and C's Sentinels see `+sdown`, reach `+odown ... #quorum 2/2` and fail over to B
//!   (`+switch-master`); A's Sentinel never reaches ODOWN (no quorum, CKQUORUM refuses);
//! - A acknowledges writes until `min-replicas-max-lag` runs out (at most ~10 s), then
//!   refuses them with NOREPLICAS;
//! - after healing, A is converted to a replica of B (`+convert-to-slave`), A's Sentinel
//!   switches too, the writer follows the Sentinels to B, and every write A acknowledged
//!   during the partition is lost: counted and printed as a `WRITE-LOSS` line (appended to
//!   `$REDOUBT_WRITE_LOSS_REPORT` when set), as `sentinel/loss.rs` does for other faults.
//!
//! The same test runs with Redis everywhere (which validates it), Redoubt everywhere, and
//! Redoubt Sentinels over redis-server nodes.
//! Both need root; without it they fail with an explanation, never skip.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redoubt_harness::events::{Event, EventLog};
use redoubt_harness::netns::{self, host_ip, Network, NsProcess};
use redoubt_harness::writer::{count_losses, read_ids, WriterLog};
use redoubt_harness::{wait_for, Flavor, RawConn, Value};

const PASSWORD: &str = "tutorial-pw";
const MASTER: &str = "mymaster";
const NODE_PORT: u16 = 6379;
const SENTINEL_PORT: u16 = 26379;
const KEY: &str = "ids";
const MAX_LAG_S: u64 = 10;
const DISCOVERY: Duration = Duration::from_secs(30);
const FAILOVER: Duration = Duration::from_secs(40);
/// Redis converts a returning old master after it reported the master role for 8 s, seen at
/// INFO time (every 10 s).
const CONVERT: Duration = Duration::from_secs(45);
const PROGRESS: usize = 200;

fn node_conf(host: usize) -> String {
    let ip = host_ip(host);
    let priority = if host == 1 { 90 } else { 100 };
    let mut c = format!(
        "port {NODE_PORT}\nbind {ip} 127.0.0.1\nprotected-mode no\ndir .\nlogfile \"redis.log\"\n\
         daemonize no\nsave \"\"\nappendonly yes\nreplica-priority {priority}\n\
         min-replicas-to-write 1\nmin-replicas-max-lag {MAX_LAG_S}\nrepl-diskless-sync-delay 0\n\
         requirepass \"{PASSWORD}\"\nmasterauth \"{PASSWORD}\"\nenable-debug-command yes\n"
    );
    if host != 0 {
        c.push_str(&format!("replicaof {} {NODE_PORT}\n", host_ip(0)));
    }
    c
}

fn sentinel_conf(host: usize) -> String {
    format!(
        "port {SENTINEL_PORT}\nbind {} 127.0.0.1\nprotected-mode no\ndir .\n\
         logfile \"sentinel.log\"\ndaemonize no\n\
         sentinel monitor {MASTER} {} {NODE_PORT} 2\n\
         sentinel down-after-milliseconds {MASTER} 1500\n\
         sentinel failover-timeout {MASTER} 5000\n\
         sentinel parallel-syncs {MASTER} 1\n\
         sentinel auth-pass {MASTER} \"{PASSWORD}\"\n",
        host_ip(host),
        host_ip(0)
    )
}

/// The three hosts and their processes. Field order is drop order: events, Sentinels and
/// nodes go before the namespaces.
struct Hosts {
    events: EventLog,
    sentinels: Vec<NsProcess>,
    nodes: Vec<NsProcess>,
    net: Network,
}

impl Hosts {
    fn start(nodes: Flavor, sentinels: Flavor) -> Hosts {
        let net = Network::create(3).unwrap_or_else(|e| panic!("creating the hosts: {e:#}"));
        let binary = |f: Flavor| f.binary().unwrap_or_else(|e| panic!("{}: {e:#}", f.name()));
        let (node_bin, sentinel_bin) = (binary(nodes), binary(sentinels));
        let mut h = Hosts {
            events: EventLog::new(),
            sentinels: Vec::new(),
            nodes: Vec::new(),
            net,
        };
        for i in 0..3 {
            let conf = node_conf(i);
            let p = h
                .net
                .spawn(
                    i,
                    &node_bin,
                    &[("redis.conf", &conf)],
                    &["redis.conf"],
                    NODE_PORT,
                    "redis.log",
                )
                .unwrap_or_else(|e| panic!("starting the data node on host {i}: {e:#}"));
            h.nodes.push(p);
        }
        for i in 1..3 {
            h.wait_replicating(i, 0, Duration::from_secs(30));
        }
        for i in 0..3 {
            let conf = sentinel_conf(i);
            let p = h
                .net
                .spawn(
                    i,
                    &sentinel_bin,
                    &[("sentinel.conf", &conf)],
                    &["sentinel.conf", "--sentinel"],
                    SENTINEL_PORT,
                    "sentinel.log",
                )
                .unwrap_or_else(|e| panic!("starting the Sentinel on host {i}: {e:#}"));
            let conn = h.sentinel_conn(i).expect("connecting to a new Sentinel");
            h.events.watch_conn(i, conn).expect("subscribing to events");
            h.sentinels.push(p);
        }
        h
    }

    fn node_conn(&self, i: usize) -> anyhow::Result<RawConn> {
        let addr = SocketAddr::from((host_ip(i), NODE_PORT));
        let mut c = self.net.connect(addr, Duration::from_secs(2))?;
        c.send_cmd(&["AUTH", PASSWORD])?;
        match c.read_reply(Instant::now() + Duration::from_secs(5))? {
            Value::Simple(s) if s == "OK" => Ok(c),
            other => anyhow::bail!("AUTH on host {i}: {other:?}"),
        }
    }

    #[track_caller]
    fn node(&self, i: usize) -> RawConn {
        self.node_conn(i)
            .unwrap_or_else(|e| panic!("connecting to the node on host {i}: {e:#}"))
    }

    fn sentinel_conn(&self, i: usize) -> anyhow::Result<RawConn> {
        let addr = SocketAddr::from((host_ip(i), SENTINEL_PORT));
        self.net.connect(addr, Duration::from_secs(2))
    }

    fn info(c: &mut RawConn, section: &str) -> String {
        match c.cmd(&["INFO", section]) {
            Value::Bulk(b) | Value::Verbatim(_, b) => String::from_utf8_lossy(&b).into_owned(),
            other => panic!("INFO {section}: {other:?}"),
        }
    }

    fn field(info: &str, name: &str) -> String {
        let prefix = format!("{name}:");
        info.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or("")
            .trim_end()
            .to_string()
    }

    #[track_caller]
    fn wait_replicating(&self, replica: usize, master: usize, timeout: Duration) {
        let want = host_ip(master).to_string();
        let ok = redoubt_harness::try_wait_for(timeout, || {
            let Ok(mut c) = self.node_conn(replica) else {
                return false;
            };
            let info = Self::info(&mut c, "replication");
            Self::field(&info, "role") == "slave"
                && Self::field(&info, "master_host") == want
                && Self::field(&info, "master_link_status") == "up"
        });
        if !ok {
            panic!(
                "host {replica} does not replicate from {want} within {timeout:?}; its log:\n{}",
                tail(&self.nodes[replica].log())
            );
        }
    }

    /// Waits until every Sentinel sees the master on host 0 with 2 replicas and 3 Sentinels.
    fn wait_discovered(&self) {
        let want = format!(
            "name={MASTER},status=ok,address={}:{NODE_PORT},slaves=2,sentinels=3",
            host_ip(0)
        );
        let mut last = String::new();
        let ok = redoubt_harness::try_wait_for(DISCOVERY, || {
            (0..3).all(|i| {
                let Ok(mut c) = self.sentinel_conn(i) else {
                    return false;
                };
                last = Self::field(&Self::info(&mut c, "sentinel"), "master0");
                last == want
            })
        });
        assert!(ok, "Sentinels did not discover {want} (last: {last})");
    }

    #[track_caller]
    fn wait_event(
        &self,
        from: usize,
        sentinel: Option<usize>,
        channel: &str,
        payload: &str,
        timeout: Duration,
    ) -> Event {
        let found = self.events.wait_since(from, timeout, |e| {
            sentinel.is_none_or(|s| s == e.sentinel) && e.channel == channel && e.payload == payload
        });
        match found {
            Some(e) => e,
            None => panic!(
                "no {channel} {payload} from {sentinel:?} within {timeout:?}; events:\n{}",
                self.event_dump()
            ),
        }
    }

    fn event_dump(&self) -> String {
        self.events
            .all()
            .iter()
            .map(|e| format!("S{} {} {}", e.sentinel, e.channel, e.payload))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn digest(&self, i: usize) -> String {
        match self.node(i).cmd(&["DEBUG", "DIGEST"]) {
            Value::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
            Value::Simple(s) => s,
            other => panic!("DEBUG DIGEST on host {i}: {other:?}"),
        }
    }
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// A Sentinel-aware writer from the hub, like `redoubt_harness::writer` but over the
/// namespaces' addresses. `WriterLog::acked` holds (id, host index) here, not ports: every
/// node listens on 6379.
struct NetWriter {
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<WriterLog>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Asks the Sentinels (in order) for the master, connects and checks ROLE, as clients do.
fn find_master(hub: &str) -> Option<(RawConn, u16)> {
    let deadline = || Instant::now() + Duration::from_secs(1);
    for s in 0..3 {
        let addr = SocketAddr::from((host_ip(s), SENTINEL_PORT));
        let Ok(stream) = netns::connect_in(hub, addr, Duration::from_secs(1)) else {
            continue;
        };
        let Ok(mut c) = RawConn::from_stream(stream) else {
            continue;
        };
        if c.send_cmd(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER])
            .is_err()
        {
            continue;
        }
        let ip: Ipv4Addr = match c.read_reply(deadline()) {
            Ok(Value::Array(v)) if v.len() == 2 => match &v[0] {
                Value::Bulk(b) => match std::str::from_utf8(b).ok().and_then(|s| s.parse().ok()) {
                    Some(ip) => ip,
                    None => continue,
                },
                _ => continue,
            },
            _ => continue,
        };
        let Some(host) = u16::from(ip.octets()[3]).checked_sub(1) else {
            continue;
        };
        let Ok(stream) = netns::connect_in(
            hub,
            SocketAddr::from((ip, NODE_PORT)),
            Duration::from_secs(1),
        ) else {
            continue;
        };
        let Ok(mut m) = RawConn::from_stream(stream) else {
            continue;
        };
        if m.send_cmd(&["AUTH", PASSWORD]).is_err()
            || !matches!(m.read_reply(deadline()), Ok(Value::Simple(ok)) if ok == "OK")
            || m.send_cmd(&["ROLE"]).is_err()
        {
            continue;
        }
        match m.read_reply(deadline()) {
            Ok(Value::Array(v)) if matches!(v.first(), Some(Value::Bulk(r)) if &r[..] == b"master") => {
                return Some((m, host))
            }
            _ => continue,
        }
    }
    None
}

impl NetWriter {
    fn start(hub: String) -> NetWriter {
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(WriterLog::default()));
        let (s, l) = (Arc::clone(&stop), Arc::clone(&log));
        let handle = std::thread::spawn(move || {
            let mut conn: Option<(RawConn, u16)> = None;
            let mut next_id = 1u64;
            while !s.load(Ordering::Relaxed) {
                let Some((c, host)) = conn.as_mut() else {
                    lock(&l).lookups += 1;
                    conn = find_master(&hub);
                    if conn.is_none() {
                        // A client's retry back-off while there is no master to be found.
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    continue;
                };
                let id = next_id;
                next_id += 1;
                let reply = match c.send_cmd(&["RPUSH", KEY, &id.to_string()]) {
                    Ok(()) => c.read_reply(Instant::now() + Duration::from_secs(5)).ok(),
                    Err(_) => None,
                };
                match reply {
                    Some(Value::Int(_)) => {
                        let mut g = lock(&l);
                        g.acked.push((id, *host));
                        g.acked_at.push(Instant::now());
                        drop(g);
                        // About 1,000 writes a second, as sentinel/loss.rs.
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Some(Value::Error(e)) => {
                        let word = e.split(' ').next().unwrap_or_default().to_string();
                        *lock(&l).refused.entry(word).or_default() += 1;
                        conn = None;
                        // Back off before asking again, as a client would on an error.
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    _ => {
                        lock(&l).unknown.push(id);
                        conn = None;
                    }
                }
            }
        });
        NetWriter {
            stop,
            log,
            handle: Some(handle),
        }
    }

    fn snapshot(&self) -> WriterLog {
        lock(&self.log).clone()
    }

    fn acked_by(&self, host: u16) -> usize {
        lock(&self.log)
            .acked
            .iter()
            .filter(|(_, h)| *h == host)
            .count()
    }

    #[track_caller]
    fn wait_acked_by(&self, host: u16, n: usize, timeout: Duration) {
        wait_for(
            &format!("{n} writes acknowledged by host {host}"),
            timeout,
            || self.acked_by(host) >= n,
        );
    }

    fn finish(mut self) -> WriterLog {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        lock(&self.log).clone()
    }
}

impl Drop for NetWriter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn partition_story(nodes: Flavor, sentinels: Flavor) {
    netns::require_root();
    let mut h = Hosts::start(nodes, sentinels);
    h.wait_discovered();
    let (a_ip, b_ip) = (host_ip(0), host_ip(1));

    let writer = NetWriter::start(h.net.hub_ns().to_string());
    writer.wait_acked_by(0, PROGRESS, Duration::from_secs(30));

    let mark = h.events.mark();
    h.net.partition(&[0], &[1, 2]).expect("partitioning A");
    let cut_at = Instant::now();

    // The majority fails over to B.
    let master = format!("master {MASTER} {a_ip} {NODE_PORT}");
    for s in [1, 2] {
        h.wait_event(mark, Some(s), "+sdown", &master, FAILOVER);
    }
    h.wait_event(
        mark,
        None,
        "+odown",
        &format!("{master} #quorum 2/2"),
        FAILOVER,
    );
    let switch = format!("{MASTER} {a_ip} {NODE_PORT} {b_ip} {NODE_PORT}");
    let switched = [1, 2].map(|s| h.wait_event(mark, Some(s), "+switch-master", &switch, FAILOVER));
    let switch_ms = switched
        .iter()
        .map(|e| (e.at - cut_at).as_millis())
        .max()
        .unwrap_or_default();
    h.wait_replicating(2, 1, Duration::from_secs(30));

    // A's side: its Sentinel sees the others and the replicas go, but cannot reach ODOWN.
    for r in [1, 2] {
        let ip = host_ip(r);
        let replica =
            format!("slave {ip}:{NODE_PORT} {ip} {NODE_PORT} @ {MASTER} {a_ip} {NODE_PORT}");
        h.wait_event(mark, Some(0), "+sdown", &replica, FAILOVER);
    }
    let mut s0 = h.sentinel_conn(0).expect("A's Sentinel");
    match s0.cmd(&["SENTINEL", "CKQUORUM", MASTER]) {
        Value::Error(e) => assert!(
            e.starts_with("NOQUORUM 1 usable Sentinels"),
            "CKQUORUM on A: {e}"
        ),
        other => panic!("A's Sentinel claims a quorum while cut off: {other:?}"),
    }

    // A stops acknowledging once its replicas' lag passes min-replicas-max-lag.
    wait_for(
        "A to refuse writes with NOREPLICAS",
        Duration::from_secs(MAX_LAG_S + 15),
        || writer.snapshot().refused.contains_key("NOREPLICAS"),
    );
    let during = writer.snapshot();
    let a_last_ack_ms = during
        .acked
        .iter()
        .zip(&during.acked_at)
        .filter(|((_, host), at)| *host == 0 && **at >= cut_at)
        .map(|(_, at)| (*at - cut_at).as_millis())
        .max();
    let a_acked_in_partition = during
        .acked
        .iter()
        .zip(&during.acked_at)
        .filter(|((_, host), at)| *host == 0 && **at >= cut_at)
        .count();
    assert!(
        a_last_ack_ms.unwrap_or_default() <= u128::from(MAX_LAG_S + 4) * 1000,
        "A acknowledged writes {a_last_ack_ms:?} ms into the partition (max-lag {MAX_LAG_S} s)"
    );
    let acted: Vec<Event> = h
        .events
        .all()
        .into_iter()
        .skip(mark)
        .filter(|e| {
            e.sentinel == 0
                && ["+odown", "+try-failover", "+switch-master"].contains(&e.channel.as_str())
        })
        .collect();
    assert!(
        acted.is_empty(),
        "A's Sentinel acted without a quorum: {acted:?}"
    );

    // Heal: A's Sentinel learns the new configuration and A becomes B's replica.
    let heal_mark = h.events.mark();
    h.net.heal().expect("healing the partition");
    let healed_at = Instant::now();
    h.wait_event(heal_mark, Some(0), "+switch-master", &switch, CONVERT);
    let converted = h.wait_event(
        heal_mark,
        None,
        "+convert-to-slave",
        &format!("slave {a_ip}:{NODE_PORT} {a_ip} {NODE_PORT} @ {MASTER} {b_ip} {NODE_PORT}"),
        CONVERT,
    );
    let convert_ms = (converted.at - healed_at).as_millis();
    h.wait_replicating(0, 1, Duration::from_secs(30));
    writer.wait_acked_by(1, PROGRESS, Duration::from_secs(40));
    let log = writer.finish();

    let mut bconn = h.node(1);
    assert!(
        matches!(bconn.cmd(&["WAIT", "2", "10000"]), Value::Int(2)),
        "A and C did not catch up with B"
    );
    let ids = read_ids(&mut bconn, KEY).expect("reading the ids on B");
    let losses = count_losses(&log, &ids);
    let digests: Vec<String> = (0..3).map(|i| h.digest(i)).collect();
    assert!(
        digests.iter().all(|d| *d == digests[0]),
        "digests differ after the heal: {digests:?}"
    );

    let by_host: BTreeMap<&str, usize> = losses
        .lost_by_port
        .iter()
        .map(|(host, n)| {
            (
                ["A", "B", "C"]
                    .get(usize::from(*host))
                    .copied()
                    .unwrap_or("?"),
                *n,
            )
        })
        .collect();
    let line = format!(
        "WRITE-LOSS fault=Partition min_replicas=1 nodes={} sentinels={} acked={} lost={} \
         lost_by={by_host:?} acked_by_A_in_partition={a_acked_in_partition} \
         A_last_ack_after_cut_ms={} switch_master_after_cut_ms={switch_ms} \
         convert_after_heal_ms={convert_ms} unknown={} refused={:?} present_unacked={} rate={:.0}/s",
        short(nodes),
        short(sentinels),
        losses.acked,
        losses.lost.len(),
        a_last_ack_ms.map(|v| v.to_string()).unwrap_or_else(|| "none".into()),
        log.unknown.len(),
        log.refused,
        losses.present_unacked,
        log.ack_rate(),
    );
    println!("{line}");
    if let Some(path) = std::env::var_os("REDOUBT_WRITE_LOSS_REPORT") {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{line}");
        }
    }

    // What holds for any server: each id once, B keeps what it acknowledged, and every lost
    // write is one A acknowledged in (or just before) the partition.
    assert_eq!(losses.duplicated, 0, "an id appears twice on B");
    assert_eq!(
        losses.lost_by_port.get(&1),
        None,
        "B lost writes it acknowledged"
    );
    assert_eq!(losses.lost_by_port.get(&2), None, "C never was a master");
    let lost: std::collections::HashSet<u64> = losses.lost.iter().copied().collect();
    let early = log
        .acked
        .iter()
        .zip(&log.acked_at)
        .filter(|((id, _), at)| lost.contains(id) && **at + Duration::from_secs(1) < cut_at)
        .count();
    assert_eq!(
        early, 0,
        "writes acknowledged well before the partition were lost"
    );
    assert!(
        losses.lost.len() <= a_acked_in_partition + PROGRESS,
        "more lost ({}) than A acknowledged around the partition ({a_acked_in_partition})",
        losses.lost.len()
    );
}

fn short(f: Flavor) -> &'static str {
    match f {
        Flavor::Redis => "redis",
        Flavor::Redoubt => "redoubt",
    }
}

#[test]
fn partition_of_the_master_redis() {
    partition_story(Flavor::Redis, Flavor::Redis);
}

#[test]
fn partition_of_the_master_redoubt() {
    partition_story(Flavor::Redoubt, Flavor::Redoubt);
}

/// Redoubt Sentinels over real redis-server nodes.
#[test]
fn partition_of_the_master_redoubt_sentinels_redis_nodes() {
    partition_story(Flavor::Redis, Flavor::Redoubt);
}
