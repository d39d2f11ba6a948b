//! Replication through a faulty network (issue 6, "Faults"): the replica reaches its master
//! through the harness's [`FaultProxy`], which delays, blackholes (a half-open link: nothing
//! passes, no socket closes), or cuts the link while writes go on. Each scenario runs with
//! Redis on both sides (which validates the test: the bounds are Redis's behaviour), Redoubt
//! on both sides, and both mixed pairings:
//! - a delayed link converges, and a WAIT round trip costs at least the two delays;
//! - a half-open link is detected by `repl-timeout` on both sides, and after healing the
//!   replica continues by partial resync (`sync_partial_ok` grows, `sync_full` does not);
//! - cuts under a steady write load each come back by partial resync;
//! - a full sync through a throttled link, cut a third of the way: the replica keeps its old
//!   dataset (nothing half-loaded), and the retried full sync converges;
//! - `min-replicas-to-write 1` / `min-replicas-max-lag 2`: once the replica is blackholed
//!   the master refuses writes with NOREPLICAS within max-lag plus the ACK and cron periods,
//!   WAIT gives 0 at its timeout, and after healing writes are accepted and WAIT gives 1.
//!
//! Every scenario ends with DEBUG DIGEST equal on both nodes and equal offsets. Waiting is
//! always for a condition with a deadline.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redoubt_harness::proxy::FaultProxy;
use redoubt_harness::{must_connect, must_ok, wait_for, Flavor, RawConn, ServerProcess, Value};

const DEADLINE: Duration = Duration::from_secs(30);

fn start(flavor: Flavor, extra: &[(&str, &str)]) -> ServerProcess {
    let b = ServerProcess::builder(flavor)
        .directive("enable-debug-command", "yes")
        .directive("repl-ping-replica-period", "1")
        // Redis 7.0 waits 5 s before a diskless full sync for more replicas to join.
        .directive("repl-diskless-sync-delay", "0")
        .directives(extra);
    match b.start() {
        Ok(s) => s,
        Err(e) => panic!("starting {}: {e:#}", flavor.name()),
    }
}

fn text(v: Value) -> String {
    match v {
        Value::Simple(s) => s,
        Value::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        Value::Verbatim(_, b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("expected a string, got {other:?}"),
    }
}

fn info_field(c: &mut RawConn, section: &str, name: &str) -> String {
    let info = text(c.cmd(&["INFO", section]));
    let prefix = format!("{name}:");
    info.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or("")
        .trim_end()
        .to_string()
}

fn info_int(c: &mut RawConn, section: &str, name: &str) -> i64 {
    let v = info_field(c, section, name);
    v.parse()
        .unwrap_or_else(|_| panic!("INFO {name} is not a number: {v:?}"))
}

fn link_status(c: &mut RawConn) -> String {
    info_field(c, "replication", "master_link_status")
}

fn int(v: Value) -> i64 {
    match v {
        Value::Int(n) => n,
        other => panic!("expected an integer, got {other:?}"),
    }
}

/// A master, a replica, and the proxy the replica reaches the master through.
struct Pair {
    master: ServerProcess,
    replica: ServerProcess,
    proxy: FaultProxy,
    m: RawConn,
    r: RawConn,
}

impl Pair {
    fn start(
        master: Flavor,
        replica: Flavor,
        master_extra: &[(&str, &str)],
        replica_extra: &[(&str, &str)],
    ) -> Pair {
        let master = start(master, master_extra);
        let replica = start(replica, replica_extra);
        let proxy = FaultProxy::start(master.port()).expect("starting the proxy");
        let mut m = must_connect(&master);
        let mut r = must_connect(&replica);
        for i in 0..200 {
            must_ok(&m.cmd(&["SET", &format!("seed:{i}"), &"v".repeat(i)]));
        }
        must_ok(&r.cmd(&["REPLICAOF", "127.0.0.1", &proxy.port().to_string()]));
        wait_for("the replica's link to be up", DEADLINE, || {
            link_status(&mut r) == "up"
        });
        wait_for("the master to list its replica", DEADLINE, || {
            info_int(&mut m, "replication", "connected_slaves") == 1
        });
        let mut p = Pair {
            master,
            replica,
            proxy,
            m,
            r,
        };
        p.wait_converged();
        p
    }

    fn stats(&mut self) -> (i64, i64) {
        (
            info_int(&mut self.m, "stats", "sync_full"),
            info_int(&mut self.m, "stats", "sync_partial_ok"),
        )
    }

    /// Waits for equal DEBUG DIGEST and equal offsets on both nodes.
    fn wait_converged(&mut self) {
        let mut last = (String::new(), String::new(), 0, 0);
        let ok = redoubt_harness::try_wait_for(DEADLINE, || {
            last = (
                text(self.m.cmd(&["DEBUG", "DIGEST"])),
                text(self.r.cmd(&["DEBUG", "DIGEST"])),
                info_int(&mut self.m, "replication", "master_repl_offset"),
                info_int(&mut self.r, "replication", "master_repl_offset"),
            );
            last.0 == last.1 && last.2 == last.3
        });
        assert!(
            ok,
            "not converged within {DEADLINE:?}: digests {} / {}, offsets {} / {}\n\
             master log:\n{}\nreplica log:\n{}",
            last.0,
            last.1,
            last.2,
            last.3,
            tail(&self.master.log()),
            tail(&self.replica.log())
        );
    }

    fn wait_link_up(&mut self) {
        let r = &mut self.r;
        wait_for("the replica's link to be up", DEADLINE, || {
            link_status(r) == "up"
        });
    }
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(25)..].join("\n")
}

/// Sends a mixed batch of writes, all of which must succeed.
fn writes(c: &mut RawConn, tag: &str, n: usize) {
    for i in 0..n {
        let cmds: [Vec<String>; 4] = [
            vec!["INCR".into(), format!("{tag}:counter")],
            vec!["RPUSH".into(), format!("{tag}:list"), i.to_string()],
            vec![
                "HSET".into(),
                format!("{tag}:hash"),
                format!("f{i}"),
                "v".into(),
            ],
            vec![
                "SET".into(),
                format!("{tag}:k{i}"),
                "v".into(),
                "EX".into(),
                "1000".into(),
            ],
        ];
        for cmd in &cmds {
            if let Value::Error(e) = c.cmd(cmd) {
                panic!("{cmd:?}: {e}");
            }
        }
    }
}

fn delayed_link_converges(master: Flavor, replica: Flavor) {
    let mut p = Pair::start(master, replica, &[], &[]);
    let (full, partial) = p.stats();
    let delay = Duration::from_millis(150);
    p.proxy.delay(delay);
    writes(&mut p.m, "delayed", 100);
    // WAIT needs the write to reach the replica and its ACK to come back: both delayed.
    let start = Instant::now();
    assert_eq!(int(p.m.cmd(&["WAIT", "1", "10000"])), 1);
    let rtt = start.elapsed();
    assert!(
        rtt >= delay * 2,
        "WAIT answered in {rtt:?}, faster than the two {delay:?} delays of the link"
    );
    writes(&mut p.m, "delayed2", 100);
    p.wait_converged();
    assert_eq!(
        p.stats(),
        (full, partial),
        "a delayed link must not be dropped"
    );
    assert_eq!(p.proxy.accepted(), 1, "the replica reconnected");
}

fn half_open_link_recovers_by_partial_resync(master: Flavor, replica: Flavor) {
    let timeout = [("repl-timeout", "2")];
    let mut p = Pair::start(master, replica, &timeout, &timeout);
    let (full, partial) = p.stats();
    writes(&mut p.m, "before", 50);
    p.wait_converged();

    p.proxy.blackhole();
    let cut_at = Instant::now();
    writes(&mut p.m, "during", 50);
    // Both sides notice only through their timeout: no socket was closed. Each is timed on
    // its own.
    let (mut replica_noticed, mut master_noticed) = (None, None);
    let (m, r) = (&mut p.m, &mut p.r);
    wait_for("both sides to time out the link", DEADLINE, || {
        if replica_noticed.is_none() && link_status(r) == "down" {
            replica_noticed = Some(cut_at.elapsed());
        }
        if master_noticed.is_none() && info_int(m, "replication", "connected_slaves") == 0 {
            master_noticed = Some(cut_at.elapsed());
        }
        replica_noticed.is_some() && master_noticed.is_some()
    });
    let replica_noticed = replica_noticed.expect("set when the wait ends");
    let master_noticed = master_noticed.expect("set when the wait ends");
    // The link was idle for at most the 1 s ping period before the blackhole, and the
    // timeout is 2 s: neither side can have noticed sooner than 1 s after it.
    for (who, t) in [("replica", replica_noticed), ("master", master_noticed)] {
        assert!(
            t >= Duration::from_secs(1),
            "the {who} saw the half-open link down after only {t:?}"
        );
    }
    writes(&mut p.m, "down", 50);

    p.proxy.heal();
    p.wait_link_up();
    writes(&mut p.m, "after", 50);
    p.wait_converged();
    let (full2, partial2) = p.stats();
    assert_eq!(full2, full, "a full sync after a half-open link");
    assert!(
        partial2 > partial,
        "no partial resync after the half-open link (sync_partial_ok {partial} -> {partial2})"
    );
    println!(
        "HALF-OPEN master={} replica={} replica_noticed_ms={} master_noticed_ms={}",
        master.name(),
        replica.name(),
        replica_noticed.as_millis(),
        master_noticed.as_millis()
    );
}

fn cuts_under_writes_recover_by_partial_resync(master: Flavor, replica: Flavor) {
    let mut p = Pair::start(master, replica, &[], &[]);
    let (full, partial) = p.stats();
    // A steady writer on its own connection for the whole scenario.
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut wc = must_connect(&p.master);
    let (s, d) = (Arc::clone(&stop), Arc::clone(&done));
    let writer = std::thread::spawn(move || {
        let mut i = 0u64;
        while !s.load(Ordering::Relaxed) {
            let key = format!("w:{}", i % 500);
            match wc.cmd(&["RPUSH", key.as_str(), &i.to_string()]) {
                Value::Int(_) => {}
                other => panic!("RPUSH during the cuts: {other:?}"),
            }
            i += 1;
            d.store(i, Ordering::Relaxed);
        }
    });
    const CUTS: i64 = 3;
    for cut in 0..CUTS {
        let before = done.load(Ordering::Relaxed);
        wait_for("writes between cuts", DEADLINE, || {
            done.load(Ordering::Relaxed) >= before + 200
        });
        assert!(p.proxy.cut() >= 1, "cut {cut}: no open connection to cut");
        let before = done.load(Ordering::Relaxed);
        wait_for("writes while the link is down", DEADLINE, || {
            done.load(Ordering::Relaxed) >= before + 50
        });
        let m = &mut p.m;
        wait_for("the partial resync after the cut", DEADLINE, || {
            info_int(m, "stats", "sync_partial_ok") > partial + cut
        });
        p.wait_link_up();
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("the writer thread");
    p.wait_converged();
    let (full2, partial2) = p.stats();
    assert_eq!(full2, full, "a full sync after a cut");
    assert_eq!(partial2, partial + CUTS, "one partial resync per cut");
}

/// A full sync through a slow link (throttled), cut half-way under writes: the replica must
/// not keep a half-loaded dataset, and the retried full sync converges.
fn cut_during_a_throttled_full_sync(master: Flavor, replica: Flavor) {
    let ms = start(master, &[]);
    let rs = start(replica, &[]);
    let proxy = FaultProxy::start(ms.port()).expect("starting the proxy");
    let mut m = must_connect(&ms);
    let mut r = must_connect(&rs);
    // About 1 MB that LZF cannot shrink, which takes ~2.5 s at 400 kB/s.
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    for i in 0..1000 {
        let value: String = (0..1000)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                char::from(b'!' + (seed % 90) as u8)
            })
            .collect();
        must_ok(&m.cmd(&["SET", &format!("big:{i}"), &value]));
    }
    must_ok(&r.cmd(&["SET", "replica-only", "1"]));
    proxy.throttle(400_000);
    must_ok(&r.cmd(&["REPLICAOF", "127.0.0.1", &proxy.port().to_string()]));
    wait_for("a third of the payload through the proxy", DEADLINE, || {
        proxy.forwarded().1 > 300_000
    });
    assert_eq!(
        info_field(&mut r, "replication", "master_sync_in_progress"),
        "1",
        "the sync is not in progress a third of the way through"
    );
    writes(&mut m, "during-sync", 20);
    assert_eq!(proxy.cut(), 1, "one connection (the sync) to cut");
    // The retried sync needs seconds through the throttle: until it ends the replica serves
    // its old dataset, with nothing of the cut transfer loaded.
    assert_eq!(
        int(r.cmd(&["DBSIZE"])),
        1,
        "the replica kept part of a cut full sync"
    );
    writes(&mut m, "after-cut", 20);
    let mut p = Pair {
        master: ms,
        replica: rs,
        proxy,
        m,
        r,
    };
    p.wait_link_up();
    p.proxy.heal();
    writes(&mut p.m, "after-sync", 20);
    p.wait_converged();
    assert_eq!(
        int(p.r.cmd(&["EXISTS", "replica-only"])),
        0,
        "the replica's own data survived a full sync"
    );
    let (full, _) = p.stats();
    assert_eq!(full, 2, "the cut sync and its retry are two full syncs");
}

const NOREPLICAS: &[u8] = b"-NOREPLICAS Not enough good replicas to write.\r\n";

fn raw(c: &mut RawConn, args: &[&str]) -> Vec<u8> {
    c.send_cmd(args).expect("send");
    c.read_raw_reply()
}

fn min_replicas_follow_a_blackholed_replica(master: Flavor, replica: Flavor) {
    let mut p = Pair::start(master, replica, &[], &[]);
    // Set once the replica is attached, so the seed writes are not refused.
    for (name, value) in [
        ("min-replicas-max-lag", "2"),
        ("min-replicas-to-write", "1"),
    ] {
        must_ok(&p.m.cmd(&["CONFIG", "SET", name, value]));
    }
    let m = &mut p.m;
    wait_for("the master to count its replica as good", DEADLINE, || {
        info_int(m, "replication", "min_slaves_good_slaves") == 1
    });
    must_ok(&p.m.cmd(&["SET", "k", "before"]));
    assert_eq!(int(p.m.cmd(&["WAIT", "1", "5000"])), 1);

    p.proxy.blackhole();
    let cut_at = Instant::now();
    // The replica's last ACK is under a second old: still good, the write is accepted, but
    // its ACK cannot come back.
    must_ok(&p.m.cmd(&["SET", "k", "during"]));
    let start = Instant::now();
    assert_eq!(int(p.m.cmd(&["WAIT", "1", "500"])), 0);
    assert!(start.elapsed() >= Duration::from_millis(500));

    let mut refused = None;
    let ok = redoubt_harness::try_wait_for(Duration::from_secs(15), || {
        let reply = raw(&mut p.m, &["SET", "k", "probe"]);
        if reply == b"+OK\r\n" {
            return false;
        }
        refused = Some(reply);
        true
    });
    let refused_after = cut_at.elapsed();
    assert!(
        ok,
        "the master kept accepting writes with its replica blackholed"
    );
    assert_eq!(
        String::from_utf8_lossy(refused.as_deref().unwrap_or_default()),
        String::from_utf8_lossy(NOREPLICAS)
    );
    // Lag is counted in whole seconds since the last ACK (sent every second) and refreshed by
    // the once-a-second cron: refused after more than max-lag, within max-lag + 2 s (plus
    // slack for a loaded machine).
    assert!(
        refused_after >= Duration::from_secs(1),
        "refused after only {refused_after:?} (max-lag 2 s)"
    );
    assert!(
        refused_after <= Duration::from_millis(5500),
        "refused only after {refused_after:?} (max-lag 2 s)"
    );
    assert_eq!(
        info_int(&mut p.m, "replication", "min_slaves_good_slaves"),
        0
    );

    p.proxy.heal();
    let healed_at = Instant::now();
    let ok = redoubt_harness::try_wait_for(Duration::from_secs(10), || {
        raw(&mut p.m, &["SET", "k", "after"]) == b"+OK\r\n"
    });
    assert!(
        ok,
        "the master still refuses writes 10 s after the link healed"
    );
    let accepted_after = healed_at.elapsed();
    assert_eq!(int(p.m.cmd(&["WAIT", "1", "5000"])), 1);
    assert_eq!(text(p.r.cmd(&["GET", "k"])), "after");
    p.wait_converged();
    assert_eq!(p.proxy.accepted(), 1, "the link was never dropped");
    println!(
        "MIN-REPLICAS master={} replica={} refused_after_ms={} accepted_after_heal_ms={}",
        master.name(),
        replica.name(),
        refused_after.as_millis(),
        accepted_after.as_millis()
    );
}

use Flavor::{Redis, Redoubt};

#[test]
fn delayed_link_redis_redis() {
    delayed_link_converges(Redis, Redis);
}
#[test]
fn delayed_link_redoubt_redoubt() {
    delayed_link_converges(Redoubt, Redoubt);
}
#[test]
fn delayed_link_redis_master_redoubt_replica() {
    delayed_link_converges(Redis, Redoubt);
}
#[test]
fn delayed_link_redoubt_master_redis_replica() {
    delayed_link_converges(Redoubt, Redis);
}

#[test]
fn half_open_redis_redis() {
    half_open_link_recovers_by_partial_resync(Redis, Redis);
}
#[test]
fn half_open_redoubt_redoubt() {
    half_open_link_recovers_by_partial_resync(Redoubt, Redoubt);
}
#[test]
fn half_open_redis_master_redoubt_replica() {
    half_open_link_recovers_by_partial_resync(Redis, Redoubt);
}
#[test]
fn half_open_redoubt_master_redis_replica() {
    half_open_link_recovers_by_partial_resync(Redoubt, Redis);
}

#[test]
fn cuts_redis_redis() {
    cuts_under_writes_recover_by_partial_resync(Redis, Redis);
}
#[test]
fn cuts_redoubt_redoubt() {
    cuts_under_writes_recover_by_partial_resync(Redoubt, Redoubt);
}
#[test]
fn cuts_redis_master_redoubt_replica() {
    cuts_under_writes_recover_by_partial_resync(Redis, Redoubt);
}
#[test]
fn cuts_redoubt_master_redis_replica() {
    cuts_under_writes_recover_by_partial_resync(Redoubt, Redis);
}

#[test]
fn min_replicas_redis_redis() {
    min_replicas_follow_a_blackholed_replica(Redis, Redis);
}
#[test]
fn min_replicas_redoubt_redoubt() {
    min_replicas_follow_a_blackholed_replica(Redoubt, Redoubt);
}
#[test]
fn min_replicas_redis_master_redoubt_replica() {
    min_replicas_follow_a_blackholed_replica(Redis, Redoubt);
}
#[test]
fn min_replicas_redoubt_master_redis_replica() {
    min_replicas_follow_a_blackholed_replica(Redoubt, Redis);
}

#[test]
fn cut_full_sync_redis_redis() {
    cut_during_a_throttled_full_sync(Redis, Redis);
}
#[test]
fn cut_full_sync_redoubt_redoubt() {
    cut_during_a_throttled_full_sync(Redoubt, Redoubt);
}
#[test]
fn cut_full_sync_redis_master_redoubt_replica() {
    cut_during_a_throttled_full_sync(Redis, Redoubt);
}
#[test]
fn cut_full_sync_redoubt_master_redis_replica() {
    cut_during_a_throttled_full_sync(Redoubt, Redis);
}
