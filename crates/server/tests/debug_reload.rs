//! DEBUG RELOAD NOFLUSH without MERGE when a key is both in memory and in the file: Redis
//! 7.0.15 panics ("Duplicated key found in RDB file"); Redoubt refuses the reload with
//! Redis's load-failure reply, logs the key as Redis does, and changes nothing. The other
//! option combinations are compared with Redis in `diff/debug_reload.txt`.

use redoubt_harness::{Flavor, ServerProcess, Value};

#[test]
fn reload_noflush_with_a_duplicate_key_changes_nothing() {
    let s = ServerProcess::builder(Flavor::Redoubt)
        .directive("enable-debug-command", "yes")
        .start()
        .expect("start");
    let mut c = s.connect().expect("connect");
    assert_eq!(c.cmd(&["SET", "a", "1"]), Value::Simple("OK".into()));
    assert_eq!(c.cmd(&["SAVE"]), Value::Simple("OK".into()));
    assert_eq!(c.cmd(&["SET", "a", "2"]), Value::Simple("OK".into()));
    assert_eq!(c.cmd(&["SET", "b", "3"]), Value::Simple("OK".into()));
    assert_eq!(
        c.cmd(&["DEBUG", "RELOAD", "NOSAVE", "NOFLUSH"]),
        Value::Error("ERR Error trying to load the RDB dump, check server logs.".into())
    );
    assert_eq!(c.cmd(&["GET", "a"]), Value::Bulk(b"2".to_vec().into()));
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(2));
    assert!(
        s.log().contains("RDB has duplicated key 'a' in DB 0"),
        "{}",
        s.log()
    );
    // With MERGE the file's value wins and the other key stays.
    assert_eq!(
        c.cmd(&["DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE"]),
        Value::Simple("OK".into())
    );
    assert_eq!(c.cmd(&["GET", "a"]), Value::Bulk(b"1".to_vec().into()));
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(2));
}
