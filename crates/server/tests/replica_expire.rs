//! A writable replica (`replica-read-only no`) expires the keys its own clients gave a TTL
//! (Redis 7.0's `expireSlaveKeys`), locally and without touching its stream, while its
//! master's keys with a TTL are only hidden until the master's DEL arrives. Run with real
//! redis-server 7.0.15 as the reference and Redoubt as the replica (of Redis and of Redoubt).

use redoubt_harness::{must_connect, wait_for, Flavor, RawConn, ServerProcess, Value};
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(20);

fn start(flavor: Flavor) -> ServerProcess {
    ServerProcess::builder(flavor)
        .directive("repl-diskless-sync-delay", "0")
        .directive("enable-debug-command", "yes")
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

fn ok() -> Value {
    Value::Simple("OK".into())
}

fn writable_replica_expires_its_own_keys(master: Flavor, replica: Flavor) {
    let (m, r) = (start(master), start(replica));
    let (mut mc, mut rc) = (must_connect(&m), must_connect(&r));
    // The master must not delete its key by itself: the replica has to keep it until told.
    assert_eq!(mc.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), ok());
    assert_eq!(
        rc.cmd(&["REPLICAOF", "127.0.0.1", &m.port().to_string()]),
        ok()
    );
    wait_for("link up", DEADLINE, || {
        info_field(&mut rc, "replication", "master_link_status") == "up"
    });
    assert_eq!(mc.cmd(&["SET", "mk", "v", "PX", "300"]), ok());
    assert_eq!(rc.cmd(&["CONFIG", "SET", "replica-read-only", "no"]), ok());
    assert_eq!(rc.cmd(&["SET", "own", "v", "PX", "300"]), ok());
    assert_eq!(rc.cmd(&["SET", "kept", "v"]), ok());
    assert_eq!(rc.cmd(&["SET", "later", "v"]), ok());
    assert_eq!(rc.cmd(&["PEXPIRE", "later", "300"]), Value::Int(1));
    assert_eq!(rc.cmd(&["SELECT", "2"]), ok());
    assert_eq!(rc.cmd(&["SET", "d2", "v", "PX", "300"]), ok());
    assert_eq!(rc.cmd(&["SELECT", "0"]), ok());
    assert_eq!(
        info_field(&mut rc, "stats", "slave_expires_tracked_keys"),
        "3",
        "{replica:?}"
    );
    wait_for("the replica's own keys deleted", DEADLINE, || {
        rc.cmd(&["DBSIZE"]) == Value::Int(2)
    });
    // `mk` (the master's) is counted but hidden; the others are gone from memory.
    assert_eq!(rc.cmd(&["GET", "mk"]), Value::Nil);
    assert_eq!(rc.cmd(&["EXISTS", "own", "later"]), Value::Int(0));
    assert_eq!(
        info_field(&mut rc, "keyspace", "db0"),
        "keys=2,expires=1,avg_ttl=0"
    );
    assert_eq!(info_field(&mut rc, "keyspace", "db2"), "");
    assert_eq!(info_field(&mut rc, "stats", "expired_keys"), "3");
    assert_eq!(
        info_field(&mut rc, "stats", "slave_expires_tracked_keys"),
        "0"
    );
    // Nothing of this went into the replica's stream: its offset is still its master's.
    let moff = info_field(&mut mc, "replication", "master_repl_offset");
    wait_for("offsets equal", DEADLINE, || {
        info_field(&mut rc, "replication", "master_repl_offset") == moff
    });
    // The master's key goes only with the master's DEL.
    assert_eq!(mc.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]), ok());
    wait_for("the master's DEL applied", DEADLINE, || {
        rc.cmd(&["DBSIZE"]) == Value::Int(1)
    });
    assert_eq!(
        info_field(&mut rc, "keyspace", "db0"),
        "keys=1,expires=0,avg_ttl=0"
    );
}

#[test]
fn redis_writable_replica_expires_its_own_keys() {
    writable_replica_expires_its_own_keys(Flavor::Redis, Flavor::Redis);
}

#[test]
fn redoubt_replica_of_redis_expires_its_own_keys() {
    writable_replica_expires_its_own_keys(Flavor::Redis, Flavor::Redoubt);
}

#[test]
fn redoubt_replica_of_redoubt_expires_its_own_keys() {
    writable_replica_expires_its_own_keys(Flavor::Redoubt, Flavor::Redoubt);
}
