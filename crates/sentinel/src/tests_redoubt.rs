//! Redoubt's documented differences from redis-sentinel (docs/COMPATIBILITY.md), with fake
//! time: coordinated SENTINEL FAILOVER, immediate fencing of a returning old master, and the
//! faster failover; each also checked with `redoubt = false` where Redis's way differs.

use super::*;

/// A fake data node: (up, replica of, priority, offset).
type FakeNode = (bool, Option<u16>, i64, u64);

fn world(nodes: &[(u16, FakeNode)]) -> World {
    World {
        nodes: nodes.iter().copied().collect(),
        ports: Default::default(),
        events: Vec::new(),
        in_multi: Default::default(),
        sent: Vec::new(),
        held: Vec::new(),
        stopped: Vec::new(),
        safe: SafeWorld::default(),
    }
}

fn group(down_after: i64, now: i64) -> Sentinel {
    load(&format!(
        "sentinel monitor mymaster 127.0.0.1 7001 2\nsentinel down-after-milliseconds mymaster {down_after}\nsentinel known-sentinel mymaster 127.0.0.1 26380 {ID_B}\nsentinel known-sentinel mymaster 127.0.0.1 26381 {ID_C}\n"
    ), now)
    .expect("load")
}

/// Runs `steps` ticks of 100 ms, returning the new time.
pub(super) fn run(w: &mut World, s: &mut Sentinel, mut t: i64, steps: usize) -> i64 {
    for _ in 0..steps {
        w.step(s, t);
        t += 100;
    }
    t
}

/// Runs until `cond` holds (or `limit_ms` passes); the time it held at.
pub(super) fn run_until(
    w: &mut World,
    s: &mut Sentinel,
    mut t: i64,
    limit_ms: i64,
    cond: &dyn Fn(&World) -> bool,
) -> Option<i64> {
    let end = t + limit_ms;
    while t <= end {
        w.step(s, t);
        if cond(w) {
            return Some(t);
        }
        t += 100;
    }
    None
}

fn sent_to(w: &World, port: u16, prefix: &str) -> Option<usize> {
    w.sent
        .iter()
        .position(|(p, c)| *p == port && c.starts_with(prefix))
}

#[test]
fn manual_failover_pauses_writes_and_waits_for_the_replica_to_catch_up() {
    let mut s = group(1000, 1_000_000);
    // The replica is 100 bytes behind the master.
    let mut w = world(&[
        (7001, (true, None, 100, 1000)),
        (7002, (true, Some(7001), 100, 900)),
    ]);
    let mut t = run(&mut w, &mut s, 1_000_000, 30);
    assert_eq!(
        cmd(&mut s, &["SENTINEL", "FAILOVER", "mymaster"], t),
        b"+OK\r\n"
    );
    t = run(&mut w, &mut s, t, 10);
    let pause = sent_to(&w, 7001, "CLIENT PAUSE 10000 WRITE").expect("paused");
    assert!(sent_to(&w, 7001, "INFO").is_some_and(|i| i > 0));
    // Still behind: not promoted, writes still paused (no UNPAUSE yet).
    assert_eq!(sent_to(&w, 7002, "SLAVEOF NO ONE"), None);
    assert_eq!(sent_to(&w, 7001, "CLIENT UNPAUSE"), None);
    assert!(w.sent[pause..]
        .iter()
        .all(|(p, c)| *p != 7001 || !c.starts_with("PUBLISH")));
    // The replica catches up: promoted, then the old master demoted before its pause ends.
    w.nodes.get_mut(&7002).expect("r").3 = 1000;
    run(&mut w, &mut s, t, 30);
    let noone = sent_to(&w, 7002, "SLAVEOF NO ONE").expect("promoted");
    let demote = sent_to(&w, 7001, "SLAVEOF 127.0.0.1 7002").expect("old master demoted");
    let unpause = sent_to(&w, 7001, "CLIENT UNPAUSE").expect("unpaused");
    assert!(noone < demote && demote < unpause, "{:#?}", w.sent);
    assert_eq!(w.nodes[&7001].1, Some(7002));
    assert!(w
        .events
        .iter()
        .any(|e| e == "+switch-master mymaster 127.0.0.1 7001 127.0.0.1 7002"));
}

#[test]
fn manual_failover_falls_back_to_redis_when_the_replica_never_catches_up() {
    let mut s = group(1000, 1_000_000);
    let mut w = world(&[
        (7001, (true, None, 100, 1000)),
        (7002, (true, Some(7001), 100, 900)),
    ]);
    let t = run(&mut w, &mut s, 1_000_000, 30);
    assert_eq!(
        cmd(&mut s, &["SENTINEL", "FAILOVER", "mymaster"], t),
        b"+OK\r\n"
    );
    let start = t;
    let promoted = run_until(&mut w, &mut s, t, 5_000, &|w| {
        sent_to(w, 7002, "SLAVEOF NO ONE").is_some()
    })
    .expect("promoted anyway");
    assert!(promoted - start > crate::failover::COORD_CATCHUP_TIMEOUT);
    let unpause = sent_to(&w, 7001, "CLIENT UNPAUSE").expect("writes resumed");
    assert!(unpause < sent_to(&w, 7002, "SLAVEOF NO ONE").expect("promoted"));
}

#[test]
fn manual_failover_as_redis_when_redoubt_is_off() {
    let mut s = group(1000, 1_000_000);
    s.redoubt = false;
    let mut w = world(&[
        (7001, (true, None, 100, 1000)),
        (7002, (true, Some(7001), 100, 900)),
    ]);
    let t = run(&mut w, &mut s, 1_000_000, 30);
    assert_eq!(
        cmd(&mut s, &["SENTINEL", "FAILOVER", "mymaster"], t),
        b"+OK\r\n"
    );
    run(&mut w, &mut s, t, 30);
    assert!(sent_to(&w, 7002, "SLAVEOF NO ONE").is_some());
    assert_eq!(sent_to(&w, 7001, "CLIENT PAUSE"), None);
}

/// Kills the master of a 3-Sentinel group with replicas 7002 and 7003; returns the time of
/// the kill and the time 7003 (priority 90) was promoted.
fn fail_over(w: &mut World, s: &mut Sentinel, t: i64) -> (i64, i64) {
    let t = run(w, s, t, 30);
    w.nodes.get_mut(&7001).expect("m").0 = false;
    for (link, port) in w.ports.clone() {
        if port == 7001 {
            s.on_disconnect(link, t);
        }
    }
    let promoted = run_until(w, s, t, 20_000, &|w| {
        w.events.iter().any(|e| e.starts_with("+promoted-slave"))
    })
    .expect("promoted");
    let done = run_until(w, s, promoted, 20_000, &|w| {
        w.events.iter().any(|e| e.starts_with("+switch-master"))
    })
    .expect("switched");
    (t, done)
}

fn three_nodes() -> World {
    world(&[
        (7001, (true, None, 100, 0)),
        (7002, (true, Some(7001), 100, 500)),
        (7003, (true, Some(7001), 90, 100)),
    ])
}

#[test]
fn a_returning_old_master_is_converted_at_once() {
    let mut s = group(1000, 1_000_000);
    let mut w = three_nodes();
    let (_, t) = fail_over(&mut w, &mut s, 1_000_000);
    assert!(s
        .master("mymaster")
        .expect("m")
        .is_fenced("127.0.0.1", 7001));
    // The group settles on the new master (its INFO makes it look sane) while 7001 is away.
    let t = run(&mut w, &mut s, t, 15);
    // While it is away no conversion is attempted (no connection, no event each retry).
    let converts = |w: &World| {
        w.events
            .iter()
            .filter(|e| e.starts_with("+convert-to-slave"))
            .count()
    };
    assert_eq!(converts(&w), 0, "{:#?}", w.events);
    // Stopped (SIGSTOP): connections are accepted, nothing is answered. The SLAVEOF is
    // queued on the new link at once, so the process runs it first thing when it resumes.
    w.stopped.push(7001);
    let t = run(&mut w, &mut s, t, 20);
    let held: Vec<&str> = w
        .held
        .iter()
        .filter(|(p, _)| *p == 7001)
        .map(|(_, c)| c.as_str())
        .collect();
    assert!(held.contains(&"SLAVEOF 127.0.0.1 7003"), "{held:#?}");
    assert_eq!(converts(&w), 1);
    // It answers again, still claiming to be a master: converted within a PING period.
    w.stopped.clear();
    w.nodes.get_mut(&7001).expect("m").0 = true;
    let converted = run_until(&mut w, &mut s, t, 10_000, &|w| {
        w.nodes[&7001].1 == Some(7003)
    })
    .expect("converted");
    assert!(converted - t <= 1_500, "took {} ms", converted - t);
    assert!(w
        .events
        .iter()
        .any(|e| e
            == "+convert-to-slave slave 127.0.0.1:7001 127.0.0.1 7001 @ mymaster 127.0.0.1 7003"));
    // Once it reported role:slave it is an ordinary replica again.
    run(&mut w, &mut s, converted, 30);
    assert!(!s
        .master("mymaster")
        .expect("m")
        .is_fenced("127.0.0.1", 7001));
}

#[test]
fn redis_waits_four_publish_periods_before_converting() {
    let mut s = group(1000, 1_000_000);
    s.redoubt = false;
    let mut w = three_nodes();
    let (_, t) = fail_over(&mut w, &mut s, 1_000_000);
    w.nodes.get_mut(&7001).expect("m").0 = true;
    let converted = run_until(&mut w, &mut s, t, 30_000, &|w| {
        w.nodes[&7001].1 == Some(7003)
    })
    .expect("converted");
    assert!(converted - t > 8_000, "took {} ms", converted - t);
}

#[test]
fn failover_within_down_after_plus_half_a_second() {
    for down_after in [1000, 5000] {
        let mut s = group(down_after, 1_000_000);
        let mut w = three_nodes();
        let t = run(&mut w, &mut s, 1_000_000, 30);
        w.nodes.get_mut(&7001).expect("m").0 = false;
        for (link, port) in w.ports.clone() {
            if port == 7001 {
                s.on_disconnect(link, t);
            }
        }
        // Clients are sent to the promoted replica from +promoted-slave on.
        let promoted = run_until(&mut w, &mut s, t, 20_000, &|w| {
            w.events.iter().any(|e| e.starts_with("+promoted-slave"))
        })
        .expect("promoted");
        assert!(
            promoted - t <= down_after + 500,
            "down-after {down_after}: {} ms",
            promoted - t
        );
    }
}

#[test]
fn a_stopped_old_master_has_its_slaveof_waiting_when_it_returns() {
    for redoubt in [true, false] {
        let mut s = group(1000, 1_000_000);
        s.redoubt = redoubt;
        let mut w = three_nodes();
        let t = run(&mut w, &mut s, 1_000_000, 30);
        // SIGSTOP: the node stops answering, its connections stay open.
        w.nodes.get_mut(&7001).expect("m").0 = false;
        let promoted = run_until(&mut w, &mut s, t, 20_000, &|w| {
            w.events.iter().any(|e| e.starts_with("+promoted-slave"))
        })
        .expect("promoted");
        let held = |w: &World| {
            w.held
                .iter()
                .any(|(p, c)| *p == 7001 && c == "SLAVEOF 127.0.0.1 7003")
        };
        // Redoubt queues the demotion at the promotion; Redis only after the old master
        // answers again and 4 publish periods have passed.
        assert_eq!(held(&w), redoubt, "redoubt={redoubt}");
        run(&mut w, &mut s, promoted, 30);
        assert_eq!(held(&w), redoubt, "redoubt={redoubt}");
    }
}
