//! Faults around the story's deployment that real Redis already handles, each checked by its
//! events and final state: the quorum out of reach (CKQUORUM, no ODOWN with one Sentinel),
//! no replica fit for promotion, the elected leader crashing mid-failover
//! (SIMULATE-FAILURE), the promoted replica dying during reconfiguration, and a Sentinel
//! stalled long enough to enter TILT.
//! Roles come from the environment as in the story (real Redis when unset).

use std::time::Duration;

use redoubt_harness::deployment::{info_field, Deployment, NodeSpec};
use redoubt_harness::{wait_for, Flavor, Value};

use crate::common::*;

/// Quorum unreachable: with two of three Sentinels down, CKQUORUM says so and a dead master
/// is only subjectively down; a Sentinel coming back makes the quorum and the failover runs.
fn quorum_unreachable(nodes: &[Flavor], sentinels: &[Flavor]) {
    let mut d = deployment(nodes, sentinels);
    d.wait_discovered(2, DISCOVERY);
    assert_eq!(
        d.sentinels[0].cmd(&["SENTINEL", "CKQUORUM", "mymaster"]),
        Value::Simple(
            "OK 3 usable Sentinels. Quorum and failover authorization can be reached".into()
        )
    );
    let mark = d.events().mark();
    for i in [1, 2] {
        d.sentinels[i]
            .process()
            .stop()
            .expect("stopping a sentinel");
    }
    for s in ["S1", "S2"] {
        d.wait_event(
            mark,
            Some(0),
            "+sdown",
            &format!("sentinel <{s}> 127.0.0.1 <{s}> @ mymaster 127.0.0.1 <A>"),
            SDOWN,
        );
    }
    assert_eq!(
        d.sentinels[0].cmd(&["SENTINEL", "CKQUORUM", "mymaster"]),
        Value::Error(
            "NOQUORUM 1 usable Sentinels. Not enough available Sentinels to reach the specified \
             quorum for this master. Not enough available Sentinels to reach the majority and \
             authorize a failover"
                .into()
        )
    );

    let mark = d.events().mark();
    d.node_mut("A").kill9().expect("kill -9 A");
    d.wait_event(
        mark,
        Some(0),
        "+sdown",
        "master mymaster 127.0.0.1 <A>",
        SDOWN,
    );
    // Alone, S0 cannot reach the quorum of 2: no ODOWN, no failover. Absence is checked over
    // three of S0's ODOWN checks (it asks its peers every second).
    let odown = d.events().wait_since(mark, Duration::from_secs(3), |e| {
        e.channel == "+odown" || e.channel == "+try-failover"
    });
    assert_eq!(odown, None, "ODOWN without a quorum:\n{}", d.event_dump());
    assert_eq!(
        d.sentinels[0].master_port("mymaster"),
        Some(d.node("A").port())
    );

    // S1 comes back (from its config file, knowing A as master): quorum and majority again.
    d.restart_sentinel(1).expect("restarting S1");
    let switch = "mymaster 127.0.0.1 <A> 127.0.0.1 <B>";
    for i in [0, 1] {
        d.wait_event(mark, Some(i), "+switch-master", switch, FAILOVER);
    }
    let elected = d.events_since(mark, None, "+elected-leader");
    assert_eq!(
        elected,
        ["master mymaster 127.0.0.1 <A>"],
        "{}",
        d.event_dump()
    );
    d.wait_replicating("C", "B", REPL);
}

/// No replica can be promoted (both have `replica-priority 0`): the leader aborts with
/// `-failover-abort-no-good-slave` and the master stays where it was.
fn no_good_replica(nodes: &[Flavor], sentinels: &[Flavor]) {
    let spec = |i: usize, priority| NodeSpec {
        flavor: nodes[i],
        priority,
    };
    let mut d = Deployment::builder()
        .nodes(&[spec(0, 100), spec(1, 0), spec(2, 0)])
        .sentinels(sentinels)
        .start()
        .unwrap_or_else(|e| panic!("starting the deployment: {e:#}"));
    d.wait_discovered(2, DISCOVERY);
    let mark = d.events().mark();
    d.node_mut("A").kill9().expect("kill -9 A");
    let master = "master mymaster 127.0.0.1 <A>";
    let abort = d.wait_event(
        mark,
        None,
        "-failover-abort-no-good-slave",
        master,
        FAILOVER,
    );
    let leader = abort.sentinel;
    d.wait_event(
        mark,
        Some(leader),
        "+elected-leader",
        master,
        Duration::ZERO,
    );
    d.wait_event(
        mark,
        Some(leader),
        "+failover-state-select-slave",
        master,
        Duration::ZERO,
    );
    assert!(d.events_since(mark, None, "+selected-slave").is_empty());
    assert!(d.events_since(mark, None, "+switch-master").is_empty());
    for s in &d.sentinels {
        assert_eq!(s.master_port("mymaster"), Some(d.node("A").port()));
    }
    for r in ["B", "C"] {
        assert_eq!(
            d.node(r).role().as_deref(),
            Some("slave"),
            "{r} was promoted"
        );
    }
}

/// The elected leader crashes right after its election (SENTINEL SIMULATE-FAILURE
/// crash-after-election): the others wait out 2 x failover-timeout, elect a new leader in a
/// later epoch, and fail over.
fn leader_crashes_after_election(nodes: &[Flavor], sentinels: &[Flavor]) {
    let mut d = Deployment::builder()
        .node_flavors(nodes)
        .sentinels(sentinels)
        .failover_timeout_ms(3000)
        .start()
        .unwrap_or_else(|e| panic!("starting the deployment: {e:#}"));
    d.wait_discovered(2, DISCOVERY);
    for s in &d.sentinels {
        assert_eq!(
            s.cmd(&["SENTINEL", "SIMULATE-FAILURE", "crash-after-election"]),
            Value::Simple("OK".into())
        );
    }
    let mark = d.events().mark();
    d.node_mut("A").kill9().expect("kill -9 A");

    // Whoever wins the first election crashes.
    let mut crashed = None;
    wait_for("an elected sentinel to crash", FAILOVER, || {
        crashed = d
            .sentinels
            .iter_mut()
            .position(|s| !s.process().is_running());
        crashed.is_some()
    });
    let crashed = crashed.expect("just found");
    let log = d.sentinels[crashed].log();
    assert!(
        log.contains("# Sentinel CRASH because of SENTINEL simulate-failure"),
        "{log}"
    );
    // The survivors stop simulating: SIMULATE-FAILURE resets the flags before reading its
    // arguments, and HELP sets none.
    let survivors: Vec<usize> = (0..d.sentinels.len()).filter(|&i| i != crashed).collect();
    for &i in &survivors {
        d.sentinels[i].cmd(&["SENTINEL", "SIMULATE-FAILURE", "help"]);
    }
    let switch = "mymaster 127.0.0.1 <A> 127.0.0.1 <B>";
    for &i in &survivors {
        d.wait_event(mark, Some(i), "+switch-master", switch, FAILOVER);
    }
    // The failover that completed was led, in a later epoch than the crashed leader's, by a
    // survivor. (The crashed one publishes `+elected-leader` just before it exits, so its
    // copy may or may not reach the event log: look at the survivors only.)
    let mut elected = None;
    wait_for(
        "+elected-leader from a surviving Sentinel",
        FAILOVER,
        || {
            elected = survivors.iter().copied().find(|&i| {
                d.events_since(mark, Some(i), "+elected-leader")
                    .iter()
                    .any(|p| p == "master mymaster 127.0.0.1 <A>")
            });
            elected.is_some()
        },
    );
    let elected = elected.expect("just found");
    let crashed_epoch: u64 = d
        .events_since(mark, Some(crashed), "+new-epoch")
        .last()
        .and_then(|e| e.parse().ok())
        .unwrap_or(0);
    let leader_epoch: u64 = d
        .events_since(mark, Some(elected), "+new-epoch")
        .last()
        .and_then(|e| e.parse().ok())
        .unwrap_or(0);
    assert!(
        leader_epoch > crashed_epoch && crashed_epoch >= 1,
        "epochs {crashed_epoch} then {leader_epoch}:\n{}",
        d.event_dump()
    );
    d.wait_replicating("C", "B", REPL);
}

/// The promoted replica dies while the leader reconfigures the others: B is seen down by
/// the Sentinels that had switched to it, a second failover (of B) promotes C, and every
/// Sentinel ends on C. (Redis's first leader, still waiting for C's reconfiguration, may
/// never switch to B at all: it learns C from the winner's hello, `+switch-master` A to C.)
fn promoted_replica_dies(nodes: &[Flavor], sentinels: &[Flavor]) {
    let mut d = Deployment::builder()
        .node_flavors(nodes)
        .sentinels(sentinels)
        .failover_timeout_ms(3000)
        .start()
        .unwrap_or_else(|e| panic!("starting the deployment: {e:#}"));
    d.wait_discovered(2, DISCOVERY);
    let mark = d.events().mark();
    d.node_mut("A").kill9().expect("kill -9 A");
    d.wait_event(
        mark,
        None,
        "+promoted-slave",
        "slave 127.0.0.1:<B> 127.0.0.1 <B> @ mymaster 127.0.0.1 <A>",
        FAILOVER,
    );
    d.node_mut("B").kill9().expect("kill -9 B");
    d.wait_event(
        mark,
        None,
        "+selected-slave",
        "slave 127.0.0.1:<C> 127.0.0.1 <C> @ mymaster 127.0.0.1 <B>",
        FAILOVER,
    );
    for i in 0..d.sentinels.len() {
        d.wait_event_where(mark, Some(i), "+switch-master", FAILOVER, |p| {
            p.ends_with(" 127.0.0.1 <C>")
        });
    }
    d.wait_master_everywhere(d.node("C").port(), Duration::from_secs(5));
    assert_eq!(d.node("C").role().as_deref(), Some("master"));
}

/// A Sentinel whose timer stalls more than 2 s (here SIGSTOP; in production a clock jump or
/// a stalled host) enters TILT mode and says so.
fn tilt_after_a_stall(nodes: &[Flavor], sentinels: &[Flavor]) {
    let mut d = deployment(nodes, sentinels);
    d.wait_discovered(2, DISCOVERY);
    let mark = d.events().mark();
    let stopped = std::time::Instant::now();
    d.sentinels[2]
        .process()
        .signal(libc::SIGSTOP)
        .expect("SIGSTOP S2");
    // The others see it go quiet (down-after after the PING it left unanswered).
    d.wait_event(
        mark,
        Some(0),
        "+sdown",
        "sentinel <S2> 127.0.0.1 <S2> @ mymaster 127.0.0.1 <A>",
        SDOWN,
    );
    // The fault itself is a stretch of time: Redis enters TILT when two runs of its timer are
    // more than 2 s apart, so the stall lasts at least 2.5 s.
    let stall = Duration::from_millis(2500);
    if let Some(rest) = stall.checked_sub(stopped.elapsed()) {
        std::thread::sleep(rest);
    }
    d.sentinels[2]
        .process()
        .signal(libc::SIGCONT)
        .expect("SIGCONT S2");
    d.wait_event(mark, Some(2), "+tilt", "#tilt mode entered", SDOWN);
    let info = d.sentinels[2].info("sentinel");
    assert_eq!(
        info_field(&info, "sentinel_tilt").as_deref(),
        Some("1"),
        "{info}"
    );
}

#[test]
fn fault_quorum_unreachable() {
    let (n, s) = roles_from_env();
    quorum_unreachable(&n, &s);
}

#[test]
fn fault_promoted_replica_dies_during_reconfiguration() {
    let (n, s) = roles_from_env();
    promoted_replica_dies(&n, &s);
}

#[test]
fn fault_no_good_replica() {
    let (n, s) = roles_from_env();
    no_good_replica(&n, &s);
}

#[test]
fn fault_leader_crashes_after_election() {
    let (n, s) = roles_from_env();
    leader_crashes_after_election(&n, &s);
}

#[test]
fn fault_tilt_after_a_stall() {
    let (n, s) = roles_from_env();
    tilt_after_a_stall(&n, &s);
}

#[test]
fn redoubt_sentinels_over_redis_nodes_faults() {
    let (n, s) = ([Flavor::Redis; 3], [Flavor::Redoubt; 3]);
    quorum_unreachable(&n, &s);
    no_good_replica(&n, &s);
    leader_crashes_after_election(&n, &s);
    promoted_replica_dies(&n, &s);
    tilt_after_a_stall(&n, &s);
}

#[test]
fn redoubt_faults() {
    let (n, s) = ([Flavor::Redoubt; 3], [Flavor::Redoubt; 3]);
    quorum_unreachable(&n, &s);
    no_good_replica(&n, &s);
    leader_crashes_after_election(&n, &s);
    promoted_replica_dies(&n, &s);
    tilt_after_a_stall(&n, &s);
}
