//! `rdb-del-sync-files yes` on a replica without persistence (no save points, AOF off): after
//! a full sync from a real redis-server 7.0.15 master, no `dump.rdb` is left in the replica's
//! dir, on redis-server and on redoubt-server alike, and the replica logs Redis's line. With
//! save points configured the file stays.

use redoubt_harness::{wait_for, Flavor, RawConn, ServerProcess, Value};
use std::time::Duration;

const LINE: &str =
    "Removing the RDB file obtained from the master. This replica has persistence disabled";

fn info(c: &mut RawConn, section: &str) -> String {
    match c.cmd(&["INFO", section]) {
        Value::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("{other:?}"),
    }
}

fn case(flavor: Flavor, save: &str) -> bool {
    let master = ServerProcess::builder(Flavor::Redis)
        .start()
        .expect("master");
    let mut m = master.connect().expect("connect");
    assert_eq!(
        m.cmd(&["SET", "from-master", "1"]),
        Value::Simple("OK".into())
    );
    let replica = ServerProcess::builder(flavor)
        .directive("rdb-del-sync-files", "yes")
        .directive("save", save)
        .start()
        .expect("replica");
    let mut r = replica.connect().expect("connect");
    // A dump.rdb of the replica's own, as after an earlier SAVE or sync.
    assert_eq!(r.cmd(&["SET", "own", "1"]), Value::Simple("OK".into()));
    assert_eq!(r.cmd(&["SAVE"]), Value::Simple("OK".into()));
    let dump = replica.dir().join("dump.rdb");
    assert!(dump.exists());
    let port = master.port().to_string();
    assert_eq!(
        r.cmd(&["REPLICAOF", "127.0.0.1", &port]),
        Value::Simple("OK".into())
    );
    wait_for("the sync", Duration::from_secs(20), || {
        info(&mut r, "replication").contains("master_link_status:up")
    });
    assert_eq!(
        r.cmd(&["GET", "from-master"]),
        Value::Bulk(b"1".to_vec().into())
    );
    if save.is_empty() {
        wait_for("dump.rdb removed", Duration::from_secs(5), || {
            !dump.exists()
        });
        assert!(
            replica.log().contains(LINE),
            "{flavor:?}: {}",
            replica.log()
        );
    } else {
        assert!(!replica.log().contains(LINE), "{flavor:?}");
    }
    dump.exists()
}

#[test]
fn replica_without_persistence_removes_the_sync_file_redis() {
    assert!(!case(Flavor::Redis, ""));
}

#[test]
fn replica_without_persistence_removes_the_sync_file_redoubt() {
    assert!(!case(Flavor::Redoubt, ""));
}

#[test]
fn replica_with_save_points_keeps_the_file_redis() {
    assert!(case(Flavor::Redis, "3600 1"));
}

#[test]
fn replica_with_save_points_keeps_the_file_redoubt() {
    assert!(case(Flavor::Redoubt, "3600 1"));
}
