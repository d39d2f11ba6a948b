//! A replica moved to another node of the same history (REPLICAOF to its sibling, as after a
//! failover) continues by partial resync, and the stream keeps applying in the database its
//! old master had selected: the master does not repeat its SELECT. Found by the simulated
//! network test (`crates/engine/tests/repl_sim.rs`); Redoubt wrote such keys to db 0 until
//! the replica kept its cached master's database as Redis does. Run on redis-server 7.0.15
//! and Redoubt alike.

use redoubt_harness::{must_connect, wait_for, Flavor, RawConn, ServerProcess, Value};
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(20);

fn start(flavor: Flavor) -> ServerProcess {
    ServerProcess::builder(flavor)
        .directive("repl-diskless-sync-delay", "0")
        .start()
        .unwrap_or_else(|e| panic!("starting {}: {e:#}", flavor.name()))
}

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

fn link_up(c: &mut RawConn) -> bool {
    info_field(c, "replication", "master_link_status") == "up"
}

fn moved_replica_keeps_the_database(flavor: Flavor) {
    let (m, r1, r2) = (start(flavor), start(flavor), start(flavor));
    let (mut mc, mut c1, mut c2) = (must_connect(&m), must_connect(&r1), must_connect(&r2));
    let mport = m.port().to_string();
    for c in [&mut c1, &mut c2] {
        assert_eq!(
            c.cmd(&["REPLICAOF", "127.0.0.1", &mport]),
            Value::Simple("OK".into())
        );
    }
    wait_for("both links up", DEADLINE, || {
        link_up(&mut c1) && link_up(&mut c2)
    });
    mc.cmd(&["SELECT", "3"]);
    mc.cmd(&["SET", "a", "1"]);
    c2.cmd(&["SELECT", "3"]);
    wait_for("a on the replica", DEADLINE, || {
        c2.cmd(&["GET", "a"]) == Value::Bulk(bytes::Bytes::from_static(b"1"))
    });
    // r1 must hold everything r2 has, or its answer to r2's PSYNC is a full resync (the
    // requested offset would be past its own): wait until both have the master's offset.
    wait_for("both replicas at the master's offset", DEADLINE, || {
        let want = info_field(&mut mc, "replication", "master_repl_offset");
        info_field(&mut c1, "replication", "master_repl_offset") == want
            && info_field(&mut c2, "replication", "master_repl_offset") == want
    });
    let r1port = r1.port().to_string();
    c2.cmd(&["REPLICAOF", "127.0.0.1", &r1port]);
    wait_for("the moved replica's link up", DEADLINE, || link_up(&mut c2));
    // No SELECT in the stream from here on: the master's stream is still in db 3.
    mc.cmd(&["SET", "b", "2"]);
    wait_for("the moved replica caught up", DEADLINE, || {
        info_field(&mut c2, "replication", "master_repl_offset")
            == info_field(&mut mc, "replication", "master_repl_offset")
    });
    assert_eq!(
        c2.cmd(&["GET", "b"]),
        Value::Bulk(bytes::Bytes::from_static(b"2")),
        "{flavor:?}"
    );
    c2.cmd(&["SELECT", "0"]);
    assert_eq!(c2.cmd(&["EXISTS", "b"]), Value::Int(0), "{flavor:?}");
    assert_eq!(info_field(&mut c1, "stats", "sync_partial_ok"), "1");
    assert_eq!(info_field(&mut c1, "stats", "sync_full"), "0");
}

#[test]
fn redis_moved_replica_keeps_the_database() {
    moved_replica_keeps_the_database(Flavor::Redis);
}

#[test]
fn redoubt_moved_replica_keeps_the_database() {
    moved_replica_keeps_the_database(Flavor::Redoubt);
}
