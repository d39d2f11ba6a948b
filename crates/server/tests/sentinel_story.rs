//! The Sentinel deployment of issue 7, end to end: three data nodes (A master, B replica with
//! `replica-priority 90`, C replica with 100; `requirepass`/`masterauth`,
//! `min-replicas-to-write 1`, AOF) and three Sentinels (quorum 2, `auth-pass`,
//! `down-after-milliseconds 1500`: see `DEFAULT_DOWN_AFTER_MS` for why not 1000), each a
//! process with its own config file, checked step by
//! step as the tutorial in /work/shared/reference walks it: discovery, a replica stopped and
//! restarted, the master shut down and the whole failover event by event, the rewritten
//! config files, the old master coming back as a replica.
//!
//! Event texts are asserted exactly as redis-sentinel 7.0.15 publishes them, with ports and
//! run ids masked (`<A>`, `<S1>`). Real Redis in every role must pass (that validates the
//! tests); each role switches to Redoubt through the environment
//! (`REDOUBT_SENTINEL_NODES`, `REDOUBT_SENTINEL_SENTINELS`: `redis`, `redoubt`, or a comma
//! list such as `redis,redoubt,redoubt`) or through the `redoubt_*` variants, which assert
//! what Redoubt promises beyond Redis (in `loss.rs`: zero loss on a manual failover, and with
//! safe mode after a paused or killed master).
//!
//! `REDOUBT_SENTINEL_TRANSCRIPT=<file>` writes the story's events, masked, one per line
//! (`S0 +sdown master mymaster 127.0.0.1 <A>`); `sentinel/redis-7.0.15-story-events.txt` is
//! one such transcript from real Redis (timing makes the interleaving vary between runs).
//!
//! The write-loss scenarios live in `sentinel/loss.rs`, other faults in `sentinel/faults.rs`;
//! all run in one test binary so that
//! all deployments run in parallel.

#[path = "sentinel/common.rs"]
mod common;
#[path = "sentinel/faults.rs"]
mod faults;
#[path = "sentinel/loss.rs"]
mod loss;

use std::time::Duration;

use common::*;
use redoubt_harness::deployment::{info_field, sentinel_state_lines, Deployment};
use redoubt_harness::{must_bulk, must_int, must_ok, wait_for, Flavor, Value};

/// The tutorial's deployment, step by step.
fn story(nodes: &[Flavor], sentinels: &[Flavor]) {
    let mut d = deployment(nodes, sentinels);
    let m = "mymaster";

    // 1. The Sentinels find each other and both replicas on their own.
    let line = d.wait_discovered(2, DISCOVERY);
    assert_eq!(
        line,
        "master0:name=mymaster,status=ok,address=127.0.0.1:<A>,slaves=2,sentinels=3"
    );
    for (i, s) in d.sentinels.iter().enumerate() {
        // Each Sentinel announces the ones it finds. Those started before it may have been
        // found before the test could subscribe, so only later ones are awaited as events;
        // SENTINEL SENTINELS lists them all.
        let mut peers = sentinel_peer_names(&d, i);
        peers.sort();
        let others: Vec<String> = (0..d.sentinels.len())
            .filter(|&j| j != i)
            .map(|j| format!("<S{j}>"))
            .collect();
        assert_eq!(peers, others, "{}", s.name);
        for (j, other) in d.sentinels.iter().enumerate() {
            if j > i {
                d.wait_event(
                    0,
                    Some(i),
                    "+sentinel",
                    &format!(
                        "sentinel <{0}> 127.0.0.1 <{0}> @ {m} 127.0.0.1 <A>",
                        other.name
                    ),
                    Duration::from_secs(1),
                );
            }
        }
        let mut replicas = replica_names(&d, s.port());
        replicas.sort();
        assert_eq!(replicas, ["127.0.0.1:<B>", "127.0.0.1:<C>"], "{}", s.name);
        assert_eq!(s.master_port(m), Some(d.node("A").port()));
    }
    // Replication works, and only the master takes writes (the tutorial's SET/GET check).
    let mut a = d.node("A").conn();
    must_ok(&a.cmd(&["SET", "story:key", "before-failover"]));
    assert_eq!(must_int(&a.cmd(&["WAIT", "2", "5000"])), 2);
    for r in ["B", "C"] {
        let mut c = d.node(r).conn();
        assert_eq!(must_bulk(&c.cmd(&["GET", "story:key"])), b"before-failover");
        assert_eq!(
            c.cmd(&["SET", "x", "y"]),
            Value::Error("READONLY You can't write against a read only replica.".into())
        );
    }
    drop(a);

    // 2. A replica stops: every Sentinel sees it subjectively down; back, it is up again.
    let mark = d.events().mark();
    d.node_mut("C").shutdown().expect("SHUTDOWN C");
    let c_down = format!("slave 127.0.0.1:<C> 127.0.0.1 <C> @ {m} 127.0.0.1 <A>");
    d.wait_event_all(mark, "+sdown", &c_down, SDOWN);
    let mark = d.events().mark();
    d.node_mut("C").restart().expect("restarting C");
    d.wait_event_all(mark, "-sdown", &c_down, SDOWN);
    d.wait_replicating("C", "A", REPL);
    // Nothing but the replica went down.
    assert!(
        d.events_since(0, None, "+odown").is_empty(),
        "{}",
        d.event_dump()
    );

    // 3. The master goes down (a clean SHUTDOWN, as the tutorial's operator does).
    let fail_mark = d.events().mark();
    d.node_mut("A").shutdown().expect("SHUTDOWN A");
    let fo = check_failover(&d, fail_mark, "A", "B", &["C"]);

    // The log says the same as the events ("<type> <payload>" after the timestamp).
    let leader_log = d.sentinels[fo.leader].log();
    let a_port = d.node("A").port();
    for line in [
        format!("+elected-leader master mymaster 127.0.0.1 {a_port}"),
        format!(
            "+switch-master mymaster 127.0.0.1 {a_port} 127.0.0.1 {}",
            d.node("B").port()
        ),
    ] {
        assert!(
            leader_log.contains(&line),
            "no {line:?} in the leader's log:\n{leader_log}"
        );
    }

    // Clients asking any Sentinel find B; B is a master with C replicating from it.
    d.wait_master_everywhere(d.node("B").port(), Duration::from_secs(5));
    assert_eq!(d.node("B").role().as_deref(), Some("master"));
    d.wait_replicating("C", "B", REPL);
    let b_repl = d.node("B").info("replication");
    assert_eq!(
        info_field(&b_repl, "connected_slaves").as_deref(),
        Some("1")
    );
    assert!(
        d.mask(&info_field(&b_repl, "slave0").unwrap_or_default())
            .starts_with("ip=127.0.0.1,port=<C>,state=online,"),
        "{b_repl}"
    );
    let mut b = d.node("B").conn();
    assert_eq!(must_bulk(&b.cmd(&["GET", "story:key"])), b"before-failover");
    must_ok(&b.cmd(&["SET", "story:after", "written-on-B"]));
    assert_eq!(must_int(&b.cmd(&["WAIT", "1", "5000"])), 1);

    // Every config file says what happened.
    wait_for("B's redis.conf to lose its replicaof line", REWRITE, || {
        replicaof_line(&d, "B").is_none()
    });
    wait_for("C's redis.conf to name B", REWRITE, || {
        replicaof_line(&d, "C").as_deref() == Some("replicaof 127.0.0.1 <B>")
    });
    check_sentinel_confs(&d, "B", &["A", "C"], fo.epoch);

    // 4. The old master comes back: a Sentinel converts it to a replica of B.
    let mark = d.events().mark();
    d.node_mut("A").restart().expect("restarting A");
    let a_as_replica = format!("slave 127.0.0.1:<A> 127.0.0.1 <A> @ {m} 127.0.0.1 <B>");
    d.wait_event(mark, None, "+convert-to-slave", &a_as_replica, CONVERT);
    // A Sentinel that had marked A down as a replica of B marks it up again. (The leader
    // may switch so late that A is back before its down-after passed: no +sdown there.)
    for i in 0..d.sentinels.len() {
        if d.events_since(fail_mark, Some(i), "+sdown")
            .contains(&a_as_replica)
        {
            d.wait_event(fail_mark, Some(i), "-sdown", &a_as_replica, SDOWN);
        }
    }
    d.wait_replicating("A", "B", REPL);
    wait_for("A's redis.conf to name B", REWRITE, || {
        replicaof_line(&d, "A").as_deref() == Some("replicaof 127.0.0.1 <B>")
    });
    // A resynchronized from B: it has what B had, including the write it never saw.
    let mut a = d.node("A").conn();
    assert_eq!(must_bulk(&a.cmd(&["GET", "story:key"])), b"before-failover");
    assert_eq!(must_bulk(&a.cmd(&["GET", "story:after"])), b"written-on-B");
    let log = d.node("A").log();
    assert!(
        log.contains("MASTER <-> REPLICA sync: Finished with success")
            || log.contains("Successful partial resynchronization with master."),
        "A's log shows no resync from B:\n{log}"
    );
    let line = d.wait_discovered(2, DISCOVERY);
    assert_eq!(
        line,
        "master0:name=mymaster,status=ok,address=127.0.0.1:<B>,slaves=2,sentinels=3"
    );
    check_sentinel_confs(&d, "B", &["A", "C"], fo.epoch);

    // 5. A Sentinel restarted from its rewritten file knows the new topology at once, before
    // any hello or INFO could tell it.
    d.sentinels[1].process().stop().expect("stopping S1");
    d.restart_sentinel(1).expect("restarting S1");
    let s1 = &d.sentinels[1];
    assert_eq!(
        s1.cmd(&["SENTINEL", "MYID"]),
        Value::Bulk(s1.myid().to_string().into())
    );
    assert_eq!(s1.master_port(m), Some(d.node("B").port()));
    let mut replicas = replica_names(&d, s1.port());
    replicas.sort();
    assert_eq!(replicas, ["127.0.0.1:<A>", "127.0.0.1:<C>"]);
    let mut peers = sentinel_peer_names(&d, 1);
    peers.sort();
    assert_eq!(peers, ["<S0>", "<S2>"]);
    let master = s1.cmd(&["SENTINEL", "MASTER", m]);
    assert_eq!(
        field_of(&master, "config-epoch"),
        Some(fo.epoch.to_string())
    );

    // For comparing runs (Redis against Redoubt): every event of the story, masked.
    if let Some(path) = std::env::var_os("REDOUBT_SENTINEL_TRANSCRIPT") {
        std::fs::write(path, d.event_dump() + "\n").expect("writing the transcript");
    }
}

/// The replicas a Sentinel lists (SENTINEL REPLICAS), masked `ip:port` names.
fn replica_names(d: &Deployment, sentinel_port: u16) -> Vec<String> {
    let s = d
        .sentinels
        .iter()
        .find(|s| s.port() == sentinel_port)
        .expect("a sentinel of ours");
    match s.cmd(&["SENTINEL", "REPLICAS", "mymaster"]) {
        Value::Array(list) => list
            .iter()
            .map(|r| d.mask(&field_of(r, "name").unwrap_or_default()))
            .collect(),
        other => panic!("SENTINEL REPLICAS: {other:?}"),
    }
}

/// The Sentinels Sentinel `i` knows (SENTINEL SENTINELS): their names are their run ids.
fn sentinel_peer_names(d: &Deployment, i: usize) -> Vec<String> {
    match d.sentinels[i].cmd(&["SENTINEL", "SENTINELS", "mymaster"]) {
        Value::Array(list) => list
            .iter()
            .map(|r| d.mask(&field_of(r, "name").unwrap_or_default()))
            .collect(),
        other => panic!("SENTINEL SENTINELS: {other:?}"),
    }
}

/// A field of one SENTINEL MASTERS/REPLICAS entry (a flat array of names and values in
/// RESP2, a map in RESP3).
fn field_of(entry: &Value, name: &str) -> Option<String> {
    let text = |v: &Value| match v {
        Value::Bulk(b) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    };
    match entry {
        Value::Array(kv) => kv
            .chunks(2)
            .find(|p| text(&p[0]).as_deref() == Some(name))
            .and_then(|p| p.get(1).and_then(text)),
        Value::Map(kv) => kv
            .iter()
            .find(|(k, _)| text(k).as_deref() == Some(name))
            .and_then(|(_, v)| text(v)),
        _ => None,
    }
}

/// The `replicaof` line of a node's config file, masked.
fn replicaof_line(d: &Deployment, node: &str) -> Option<String> {
    let text = d.node(node).config_text();
    let mut lines = text
        .lines()
        .filter(|l| l.starts_with("replicaof ") || l.starts_with("slaveof "));
    let first = lines.next().map(|l| d.mask(l));
    assert!(lines.next().is_none(), "two replicaof lines:\n{text}");
    first
}

/// Every sentinel.conf names `master`, the replicas, the other Sentinels and the epochs,
/// once each (waits for the rewrite, then checks).
#[track_caller]
fn check_sentinel_confs(d: &Deployment, master: &str, replicas: &[&str], epoch: u64) {
    for s in &d.sentinels {
        let mut want = vec![
            format!("sentinel monitor mymaster 127.0.0.1 <{master}> 2"),
            format!("sentinel current-epoch {epoch}"),
            format!("sentinel config-epoch mymaster {epoch}"),
            format!("sentinel leader-epoch mymaster {epoch}"),
        ];
        for r in replicas {
            want.push(format!("sentinel known-replica mymaster 127.0.0.1 <{r}>"));
        }
        for o in d.sentinels.iter().filter(|o| o.name != s.name) {
            want.push(format!(
                "sentinel known-sentinel mymaster 127.0.0.1 <{0}> <{0}>",
                o.name
            ));
        }
        let mut have = Vec::new();
        let ok = redoubt_harness::try_wait_for(REWRITE, || {
            have = sentinel_state_lines(d, &s.config_text());
            want.iter().all(|w| have.contains(w))
        });
        assert!(
            ok,
            "{}'s sentinel.conf lacks some of {want:#?}:\n{have:#?}",
            s.name
        );
        let known: Vec<&String> = have.iter().filter(|l| l.contains(" known-")).collect();
        assert_eq!(
            known.len(),
            replicas.len() + d.sentinels.len() - 1,
            "{}: duplicate or extra known-* lines: {have:#?}",
            s.name
        );
        let conf = s.config_text();
        assert!(
            conf.contains(&format!("sentinel myid {}", s.myid())),
            "{}: no myid line:\n{conf}",
            s.name
        );
    }
}

#[test]
fn story_with_roles_from_env() {
    let (nodes, sentinels) = roles_from_env();
    story(&nodes, &sentinels);
}

#[test]
fn story_redoubt_everywhere() {
    story(&[Flavor::Redoubt; 3], &[Flavor::Redoubt; 3]);
}

#[test]
fn story_redoubt_sentinels_over_redis_nodes() {
    story(&[Flavor::Redis; 3], &[Flavor::Redoubt; 3]);
}

#[test]
fn story_redis_sentinels_over_redoubt_nodes() {
    story(&[Flavor::Redoubt; 3], &[Flavor::Redis; 3]);
}

#[test]
fn story_one_redis_two_redoubt_sentinels() {
    story(
        &[Flavor::Redis; 3],
        &[Flavor::Redis, Flavor::Redoubt, Flavor::Redoubt],
    );
}

#[test]
fn story_two_redis_one_redoubt_sentinel() {
    story(
        &[Flavor::Redis; 3],
        &[Flavor::Redoubt, Flavor::Redis, Flavor::Redis],
    );
}

/// The harness itself: a deployment stops every process by PID when dropped, even when the
/// test panics (here, with one node paused by SIGSTOP, which SIGKILL still ends).
#[test]
fn deployment_drop_kills_every_process_even_paused() {
    let mut pids = Vec::new();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut d = Deployment::builder()
            .nodes(&[redoubt_harness::deployment::NodeSpec {
                flavor: Flavor::Redis,
                priority: 100,
            }])
            .sentinels(&[Flavor::Redis])
            .quorum(1)
            .start()
            .expect("starting a one-node deployment");
        for n in &mut d.nodes {
            pids.push(n.process().pid());
        }
        for s in &mut d.sentinels {
            pids.push(s.process().pid());
        }
        d.node_mut("A").pause().expect("SIGSTOP");
        panic!("a test failing mid-way");
    }));
    assert!(result.is_err());
    assert_eq!(pids.len(), 2);
    for pid in pids {
        let gone = redoubt_harness::try_wait_for(Duration::from_secs(5), || {
            !std::path::Path::new(&format!("/proc/{pid}")).exists()
        });
        assert!(gone, "process {pid} survived the deployment's drop");
    }
}
