//! `rdb-del-sync-files yes` on a replica without persistence (no save points, AOF off): after
//! a full sync from a real redis-server 7.0.15 master, no `dump.rdb` is left in the replica's
//! dir, on redis-server and on redoubt-server alike, and the replica logs Redis's line. With
//! save points configured the file stays. The master side: the `dump.rdb` a disk-target sync
//! wrote is removed once the replica is fed, on both servers.

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

/// The master side: a disk-target full sync writes `dump.rdb` to feed the replica; with
/// persistence off and `rdb-del-sync-files yes` the master removes it once no replica needs
/// it (`removeRDBUsedToSyncReplicas`), with `no` it stays.
fn master_case(flavor: Flavor, del: &str) -> bool {
    let master = ServerProcess::builder(flavor)
        .directive("rdb-del-sync-files", del)
        .directive("save", "")
        .directive("repl-diskless-sync", "no")
        .start()
        .expect("master");
    let mut m = master.connect().expect("connect");
    assert_eq!(m.cmd(&["SET", "k", "v"]), Value::Simple("OK".into()));
    let dump = master.dir().join("dump.rdb");
    assert!(!dump.exists());
    let replica = ServerProcess::builder(Flavor::Redis)
        .start()
        .expect("replica");
    let mut r = replica.connect().expect("connect");
    let port = master.port().to_string();
    assert_eq!(
        r.cmd(&["REPLICAOF", "127.0.0.1", &port]),
        Value::Simple("OK".into())
    );
    wait_for("the sync", Duration::from_secs(20), || {
        info(&mut r, "replication").contains("master_link_status:up")
    });
    assert!(
        master
            .log()
            .contains("Starting BGSAVE for SYNC with target: disk"),
        "{flavor:?}: {}",
        master.log()
    );
    const MASTER_LINE: &str =
        "Removing the RDB file used to feed replicas in a persistence-less instance";
    if del == "yes" {
        wait_for(
            "the master's sync file removed",
            Duration::from_secs(10),
            || !dump.exists(),
        );
        assert!(master.log().contains(MASTER_LINE), "{flavor:?}");
    } else {
        // The cron that would remove it runs every second: give it two.
        let until = std::time::Instant::now() + Duration::from_secs(2);
        wait_for("two cron seconds", Duration::from_secs(5), || {
            std::time::Instant::now() >= until
        });
        assert!(!master.log().contains(MASTER_LINE), "{flavor:?}");
    }
    dump.exists()
}

#[test]
fn master_without_persistence_removes_its_sync_file_redis() {
    assert!(!master_case(Flavor::Redis, "yes"));
}

#[test]
fn master_without_persistence_removes_its_sync_file_redoubt() {
    assert!(!master_case(Flavor::Redoubt, "yes"));
}

#[test]
fn master_keeps_its_sync_file_without_the_option_redoubt() {
    assert!(master_case(Flavor::Redoubt, "no"));
}
