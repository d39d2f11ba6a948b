//! Issue 6: a replica falling behind during a full sync under heavy writes. The stream
//! written during the sync is held for the replica and counts against
//! `client-output-buffer-limit replica`, as in Redis 7.0: with a limit smaller than what is
//! written while the snapshot is sent, the replica is closed at each attempt and the full
//! syncs repeat (Redis's loop, reproduced here on both servers); with a limit above it, one
//! full sync converges. Measured with a 1 s snapshot (`rdb-key-save-delay`) and a writer
//! sending 16 KB values as fast as it can.

use redoubt_harness::{must_connect, wait_for, Flavor, RawConn, ServerProcess, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(30);

fn info_field(c: &mut RawConn, section: &str, name: &str) -> String {
    let Value::Bulk(b) = c.cmd(&["INFO", section]) else {
        panic!("INFO is a bulk string");
    };
    let prefix = format!("{name}:");
    String::from_utf8_lossy(&b)
        .lines()
        .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
        .unwrap_or_default()
}

/// Returns the master's `sync_full` once the replica converged or `limit_hits` limit
/// closings were logged, whichever first.
fn sync_under_writes(flavor: Flavor, limit: &str) -> (u64, usize) {
    let m = ServerProcess::builder(flavor)
        .directive(
            "client-output-buffer-limit",
            &format!("replica {limit} 0 0"),
        )
        .directive("repl-diskless-sync", "yes")
        .directive("repl-diskless-sync-delay", "0")
        .directive("repl-backlog-size", "64mb")
        .directive("enable-debug-command", "yes")
        .start()
        .unwrap_or_else(|e| panic!("starting {}: {e:#}", flavor.name()));
    let mut mc = must_connect(&m);
    mc.cmd(&["DEBUG", "POPULATE", "2000"]);
    // 2000 keys x 500 us: a snapshot of about a second.
    mc.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "500"]);
    let r = ServerProcess::builder(flavor)
        .directive("enable-debug-command", "yes")
        .start()
        .unwrap_or_else(|e| panic!("starting {}: {e:#}", flavor.name()));
    let mut rc = must_connect(&r);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let mut w = must_connect(&m);
        std::thread::spawn(move || {
            let value = "w".repeat(16 * 1024);
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                w.cmd(&["SET", &format!("w{}", i % 256), &value]);
            }
        })
    };
    rc.cmd(&["REPLICAOF", "127.0.0.1", &m.port().to_string()]);
    let line = "scheduled to be closed ASAP for overcoming of output buffer limits.";
    wait_for("convergence or 3 limit closings", DEADLINE, || {
        m.log().matches(line).count() >= 3
            || info_field(&mut rc, "replication", "master_link_status") == "up"
    });
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer");
    let closings = m.log().matches(line).count();
    if closings < 3 {
        mc.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "0"]);
        wait_for("same offset", DEADLINE, || {
            info_field(&mut rc, "replication", "master_repl_offset")
                == info_field(&mut mc, "replication", "master_repl_offset")
        });
        assert_eq!(rc.cmd(&["DEBUG", "DIGEST"]), mc.cmd(&["DEBUG", "DIGEST"]));
    }
    let full = info_field(&mut mc, "stats", "sync_full")
        .parse()
        .unwrap_or(0);
    (full, closings)
}

fn small_limit_loops_large_limit_converges(flavor: Flavor) {
    let (full, closings) = sync_under_writes(flavor, "256kb");
    assert!(
        closings >= 3 && full >= 3,
        "{flavor:?}: {full} full syncs, {closings} closings"
    );
    let (full, closings) = sync_under_writes(flavor, "0");
    assert_eq!((full, closings), (1, 0), "{flavor:?}");
}

#[test]
fn redis_sync_under_writes_and_the_replica_limit() {
    small_limit_loops_large_limit_converges(Flavor::Redis);
}

#[test]
fn redoubt_sync_under_writes_and_the_replica_limit() {
    small_limit_loops_large_limit_converges(Flavor::Redoubt);
}
