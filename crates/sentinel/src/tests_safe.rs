//! Safe failover (`sentinel safe-failover`, crate::safe) with fake time: the freeze quorum,
//! the choice of the replica holding every acknowledged write, and the refusals.

use super::redoubt::{run, run_until};
use super::*;

fn safe_group(now: i64) -> Sentinel {
    load(&format!(
        "sentinel monitor mymaster 127.0.0.1 7001 2\nsentinel down-after-milliseconds mymaster 1000\nsentinel safe-failover mymaster yes\nsentinel known-sentinel mymaster 127.0.0.1 26380 {ID_B}\nsentinel known-sentinel mymaster 127.0.0.1 26381 {ID_C}\n"
    ), now)
    .expect("load")
}

/// Master 7001; 7002 (priority 100) is ahead of 7003 (priority 90): Redis would promote
/// 7003 and lose what only 7002 has.
fn nodes(acks: i64, redoubt: bool) -> World {
    let mut w = World {
        nodes: [
            (7001, (true, None, 100, 500)),
            (7002, (true, Some(7001), 100, 500)),
            (7003, (true, Some(7001), 90, 100)),
        ]
        .into_iter()
        .collect(),
        ports: Default::default(),
        events: Vec::new(),
        in_multi: Default::default(),
        sent: Vec::new(),
        held: Vec::new(),
        stopped: Vec::new(),
        safe: SafeWorld::default(),
    };
    w.safe.acks = acks;
    w.safe.redoubt_nodes = redoubt;
    w
}

/// Lets the Sentinel learn the group, then kills the master (its links drop).
fn kill_master(w: &mut World, s: &mut Sentinel, t: i64) -> i64 {
    let t = run(w, s, t, 30);
    w.nodes.get_mut(&7001).expect("m").0 = false;
    for (link, port) in w.ports.clone() {
        if port == 7001 {
            s.on_disconnect(link, t);
        }
    }
    t
}

fn first(w: &World, port: u16, prefix: &str) -> Option<usize> {
    w.sent
        .iter()
        .position(|(p, c)| *p == port && c.starts_with(prefix))
}

fn has_event(w: &World, prefix: &str) -> bool {
    w.events.iter().any(|e| e.starts_with(prefix))
}

#[test]
fn freezes_a_quorum_then_promotes_the_largest_offset_regardless_of_priority() {
    let mut s = safe_group(1_000_000);
    let mut w = nodes(1, true);
    let t = kill_master(&mut w, &mut s, 1_000_000);
    run_until(&mut w, &mut s, t, 20_000, &|w| {
        has_event(w, "+switch-master")
    })
    .unwrap_or_else(|| panic!("no failover: {:#?}\n{:#?}", w.events, w.safe.logs));
    // k = 2, a = 1: both replicas frozen (k - a + 1 = 2) before anything is promoted.
    let noone = first(&w, 7002, "SLAVEOF NO ONE").expect("7002 promoted");
    for port in [7002, 7003] {
        let f = first(&w, port, "REPLCONF FREEZE ").expect("freeze sent");
        assert!(f < noone, "{port} frozen after the promotion");
        assert!(w.safe.frozen.contains(&port));
    }
    assert!(first(&w, 7003, "SLAVEOF NO ONE").is_none());
    // The freeze carries the failover epoch.
    assert!(w
        .sent
        .iter()
        .any(|(p, c)| *p == 7003 && c == &format!("REPLCONF FREEZE {}", s.current_epoch)));
    // Redis's events, with the largest offset selected.
    assert!(w
        .events
        .iter()
        .any(|e| e.starts_with("+selected-slave slave 127.0.0.1:7002 ")));
    assert!(has_event(
        &w,
        "+switch-master mymaster 127.0.0.1 7001 127.0.0.1 7002"
    ));
    // The other frozen replica is released by its reconfiguration.
    assert!(first(&w, 7003, "SLAVEOF 127.0.0.1 7002").is_some());
}

#[test]
fn redis_mode_would_promote_the_lower_priority_replica_instead() {
    let mut s = safe_group(1_000_000);
    s.redoubt = false;
    let mut w = nodes(1, true);
    let t = kill_master(&mut w, &mut s, 1_000_000);
    run_until(&mut w, &mut s, t, 20_000, &|w| {
        has_event(w, "+switch-master")
    })
    .expect("failover");
    assert!(first(&w, 7003, "SLAVEOF NO ONE").is_some());
    assert!(w.safe.frozen.is_empty());
}

#[test]
fn too_few_frozen_replicas_means_no_failover_and_the_frozen_are_released() {
    let mut s = safe_group(1_000_000);
    let mut w = nodes(1, true);
    // 7003 is down from the start: only 1 of the 2 needed answers can come.
    w.nodes.get_mut(&7003).expect("r").0 = false;
    let t = kill_master(&mut w, &mut s, 1_000_000);
    let t = run_until(&mut w, &mut s, t, 20_000, &|w| {
        has_event(w, "-failover-abort-no-good-slave")
    })
    .unwrap_or_else(|| panic!("no abort: {:#?}", w.events));
    assert!(w.safe.frozen.contains(&7002));
    assert!(first(&w, 7002, "SLAVEOF NO ONE").is_none());
    // Released towards the old master, as it was.
    assert!(first(&w, 7002, "SLAVEOF 127.0.0.1 7001").is_some());
    assert!(w
        .safe
        .logs
        .iter()
        .any(|l| l.contains("aborted: 1 of 2 replicas frozen in time")));
    // Retried after 2 x failover-timeout, never promoting meanwhile.
    run(&mut w, &mut s, t, 100);
    assert!(!has_event(&w, "+promoted-slave"));
}

#[test]
fn with_a_equal_to_k_one_frozen_replica_is_enough() {
    let mut s = safe_group(1_000_000);
    // a = 2 = k: every acknowledged write is on both replicas, one answer suffices.
    let mut w = nodes(2, true);
    w.nodes.get_mut(&7002).expect("r").0 = false;
    let t = kill_master(&mut w, &mut s, 1_000_000);
    run_until(&mut w, &mut s, t, 20_000, &|w| {
        has_event(w, "+promoted-slave")
    })
    .unwrap_or_else(|| panic!("{:#?}\n{:#?}", w.events, w.safe.logs));
    assert!(first(&w, 7003, "SLAVEOF NO ONE").is_some());
}

#[test]
fn priority_zero_at_the_largest_offset_aborts_rather_than_lose_writes() {
    let mut s = safe_group(1_000_000);
    let mut w = nodes(1, true);
    w.nodes.get_mut(&7002).expect("r").2 = 0;
    let t = kill_master(&mut w, &mut s, 1_000_000);
    run_until(&mut w, &mut s, t, 20_000, &|w| {
        has_event(w, "-failover-abort-no-good-slave")
    })
    .unwrap_or_else(|| panic!("no abort: {:#?}", w.events));
    assert!(first(&w, 7003, "SLAVEOF NO ONE").is_none());
    assert!(w
        .safe
        .logs
        .iter()
        .any(|l| l.contains("cannot be promoted (priority 0 or down)")));
}

#[test]
fn a_replica_of_another_history_is_not_a_candidate() {
    let mut s = safe_group(1_000_000);
    let mut w = nodes(1, true);
    // 7002 reports a larger offset of a different replication history.
    w.safe.replids.insert(7002, "x".repeat(40));
    w.nodes.get_mut(&7002).expect("r").3 = 9_999;
    let t = kill_master(&mut w, &mut s, 1_000_000);
    run_until(&mut w, &mut s, t, 20_000, &|w| {
        has_event(w, "+promoted-slave")
    })
    .unwrap_or_else(|| panic!("{:#?}\n{:#?}", w.events, w.safe.logs));
    assert!(first(&w, 7003, "SLAVEOF NO ONE").is_some());
}

#[test]
fn over_redis_nodes_safe_mode_refuses_to_fail_over() {
    let mut s = safe_group(1_000_000);
    // Real redis-server: no replica_ack_before_reply in INFO, REPLCONF FREEZE unknown.
    let mut w = nodes(0, false);
    let t = kill_master(&mut w, &mut s, 1_000_000);
    run_until(&mut w, &mut s, t, 20_000, &|w| {
        has_event(w, "-failover-abort-no-good-slave")
    })
    .unwrap_or_else(|| panic!("no abort: {:#?}", w.events));
    assert!(!has_event(&w, "+promoted-slave"));
    assert!(first(&w, 7002, "REPLCONF FREEZE").is_none());
    assert!(w
        .safe
        .logs
        .iter()
        .any(|l| l.contains("Safe failover of 'mymaster' refused")));
    // A node claiming the option but not knowing FREEZE never counts as frozen.
    let mut s = safe_group(1_000_000);
    let mut w = nodes(1, false);
    let t = kill_master(&mut w, &mut s, 1_000_000);
    run_until(&mut w, &mut s, t, 20_000, &|w| {
        has_event(w, "-failover-abort-no-good-slave")
    })
    .expect("abort");
    assert!(!has_event(&w, "+promoted-slave"));
    assert!(w
        .safe
        .logs
        .iter()
        .any(|l| l.contains("could not be frozen (ERR Unrecognized REPLCONF option: FREEZE)")));
}

#[test]
fn safe_failover_config_line_and_sentinel_set() {
    let mut s = load("sentinel monitor mymaster 127.0.0.1 7001 2\n", 0).expect("load");
    let lines = |s: &Sentinel| {
        s.rewrite_lines()
            .into_iter()
            .flat_map(|(_, l, _)| l)
            .map(|l| String::from_utf8_lossy(&l).into_owned())
            .collect::<Vec<_>>()
    };
    // Written only when set.
    assert!(!lines(&s).iter().any(|l| l.contains("safe-failover")));
    assert_eq!(
        cmd(
            &mut s,
            &["SENTINEL", "SET", "mymaster", "safe-failover", "yes"],
            0
        ),
        b"+OK\r\n"
    );
    assert!(s.master("mymaster").expect("m").safe_failover);
    assert!(lines(&s).contains(&"sentinel safe-failover mymaster yes".to_string()));
    assert_eq!(
        cmd(
            &mut s,
            &["SENTINEL", "SET", "mymaster", "safe-failover", "maybe"],
            0
        ),
        b"-ERR Invalid argument 'maybe' for SENTINEL SET 'safe-failover'\r\n"
    );
    assert_eq!(
        cmd(
            &mut s,
            &["SENTINEL", "SET", "mymaster", "safe-failover", "no"],
            0
        ),
        b"+OK\r\n"
    );
    assert!(!lines(&s).iter().any(|l| l.contains("safe-failover")));
    // The directive, and its error.
    let s = safe_group(0);
    assert!(s.master("mymaster").expect("m").safe_failover);
    assert!(load(
        "sentinel monitor mymaster 127.0.0.1 7001 2\nsentinel safe-failover mymaster perhaps\n",
        0
    )
    .is_err());
}
