//! TILT mode (issue 7, "clock jumps"): a Sentinel whose timer sees more than `tilt-trigger`
//! (2 s) pass between two ticks, or time going backwards, stops judging instances for
//! `tilt-period`, publishing `+tilt` and then `-tilt`, because its view of who answered when
//! cannot be trusted.
//!
//! The test stalls the Sentinel process (SIGSTOP for over 2 s, then SIGCONT), which is the
//! same jump seen by the timer as a wall-clock step forward. It checks `+tilt #tilt mode
//! entered`, `sentinel_tilt:1`, that the stale links do not produce a `+sdown` of the healthy
//! master, and `-tilt #tilt mode exited` once `tilt-period` (shortened to 3 s with SENTINEL
//! DEBUG) has passed, for Redis and Redoubt.
//!
//! Not done: a real clock step with libfaketime. libfaketime 0.9.10 cannot initialise in a
//! process linked with jemalloc (libfaketime issue #130: jemalloc's `clock_gettime` calls
//! recurse into its `dlsym`), and both redis-server and redoubt-server use jemalloc; a
//! backward step (the other TILT trigger) is therefore not tested here.

use std::time::{Duration, Instant};

use redoubt_harness::deployment::{info_field, info_text, Deployment, NodeSpec};
use redoubt_harness::{must_ok, Flavor, ReadError, Value};

const TILT_PERIOD_MS: u64 = 3000;

fn tilt_after_a_stall(flavor: Flavor) {
    let mut d = Deployment::builder()
        .nodes(&[NodeSpec {
            flavor,
            priority: 100,
        }])
        .sentinels(&[flavor])
        .quorum(1)
        .min_replicas_to_write(0)
        .appendonly(false)
        .start()
        .unwrap_or_else(|e| panic!("starting the deployment: {e:#}"));
    d.wait_discovered(0, Duration::from_secs(20));
    must_ok(&d.sentinels[0].cmd(&[
        "SENTINEL",
        "DEBUG",
        "tilt-period",
        &TILT_PERIOD_MS.to_string(),
    ]));
    let tilt_info = |d: &Deployment| {
        info_field(
            &info_text(&d.sentinels[0].cmd(&["INFO", "sentinel"])),
            "sentinel_tilt",
        )
    };
    assert_eq!(tilt_info(&d).as_deref(), Some("0"));

    let mark = d.events().mark();
    let mut probe = d.sentinels[0]
        .connect()
        .expect("connecting to the Sentinel");
    d.sentinels[0]
        .process()
        .signal(libc::SIGSTOP)
        .expect("SIGSTOP the Sentinel");
    probe.send_cmd(&["PING"]).expect("sending PING");
    // The stall must outlast tilt-trigger (2 s): the stopped Sentinel cannot answer.
    match probe.read_reply(Instant::now() + Duration::from_millis(2500)) {
        Err(ReadError::Timeout { .. }) => {}
        other => panic!("a stopped Sentinel answered: {other:?}"),
    }
    d.sentinels[0]
        .process()
        .signal(libc::SIGCONT)
        .expect("SIGCONT the Sentinel");
    let resumed_at = Instant::now();
    match probe.read_reply(Instant::now() + Duration::from_secs(5)) {
        Ok(Value::Simple(s)) if s == "PONG" => {}
        other => panic!("PING after SIGCONT: {other:?}"),
    }

    let entered = d.wait_event(
        mark,
        Some(0),
        "+tilt",
        "#tilt mode entered",
        Duration::from_secs(10),
    );
    assert_eq!(tilt_info(&d).as_deref(), Some("1"));
    let exited = d.wait_event(
        mark,
        Some(0),
        "-tilt",
        "#tilt mode exited",
        Duration::from_secs(20),
    );
    let in_tilt = exited.at - entered.at;
    assert!(
        in_tilt >= Duration::from_millis(TILT_PERIOD_MS - 500),
        "TILT lasted {in_tilt:?}, less than tilt-period {TILT_PERIOD_MS} ms"
    );
    assert_eq!(tilt_info(&d).as_deref(), Some("0"));
    // Its stale view of the master did not turn into a verdict.
    let sdown = d.events_since(mark, Some(0), "+sdown");
    assert!(
        sdown.is_empty(),
        "+sdown during or after TILT: {sdown:?}\n{}",
        d.event_dump()
    );
    println!(
        "TILT flavor={} entered_after_cont_ms={} lasted_ms={}",
        flavor.name(),
        entered.at.saturating_duration_since(resumed_at).as_millis(),
        in_tilt.as_millis()
    );
}

#[test]
fn tilt_after_a_stall_redis() {
    tilt_after_a_stall(Flavor::Redis);
}

#[test]
fn tilt_after_a_stall_redoubt() {
    tilt_after_a_stall(Flavor::Redoubt);
}
