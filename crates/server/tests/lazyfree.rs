//! Lazy free over TCP, side by side with redis-server 7.0.15: UNLINK of big collections and
//! FLUSHALL ASYNC of a big database return at once, another client is answered while the
//! free thread works, and INFO's `lazyfree_pending_objects` / `lazyfreed_objects` reach the
//! same values as Redis's, in the same section. No durations are asserted: the unit tests in
//! `engine/src/lazyfree_tests.rs` prove the hand-over itself.

use redoubt_harness::{must_connect, must_start, wait_for, Flavor, RawConn, Value};
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(60);

/// Pipelines `cmd key` with `batch` members per command until `n` members, then reads
/// every reply.
fn build(c: &mut RawConn, cmd: &str, key: &str, n: usize, pairs: bool) {
    const BATCH: usize = 1000;
    let mut sent = 0;
    let mut i = 0;
    while i < n {
        let mut args = vec![cmd.to_string(), key.to_string()];
        for j in i..(i + BATCH).min(n) {
            if pairs {
                args.push(j.to_string());
            }
            args.push(format!("m{j}"));
        }
        c.send_cmd(&args).expect("send");
        sent += 1;
        i += BATCH;
    }
    for _ in 0..sent {
        let r = c.read_raw_reply();
        assert!(
            r.starts_with(b":"),
            "{cmd}: {}",
            String::from_utf8_lossy(&r)
        );
    }
}

/// (section, value) of an INFO field.
fn info_field(c: &mut RawConn, name: &str) -> (String, String) {
    let Value::Bulk(b) = c.cmd(&["INFO", "everything"]) else {
        panic!("INFO is a bulk string");
    };
    let text = String::from_utf8_lossy(&b).into_owned();
    let mut section = String::new();
    for line in text.split("\r\n") {
        if let Some(s) = line.strip_prefix("# ") {
            section = s.to_string();
        } else if let Some(v) = line.strip_prefix(&format!("{name}:")) {
            return (section, v.to_string());
        }
    }
    panic!("INFO has no {name}");
}

fn wait_counters(c: &mut RawConn, freed: u64, what: &str) {
    wait_for(what, DEADLINE, || {
        info_field(c, "lazyfree_pending_objects").1 == "0"
            && info_field(c, "lazyfreed_objects").1 == freed.to_string()
    });
}

fn pong(c: &mut RawConn) {
    assert_eq!(c.cmd(&["PING"]), Value::Simple("PONG".into()));
}

/// Runs the scenario on one server and returns what must match between the two.
fn scenario(flavor: Flavor) -> Vec<String> {
    let s = must_start(flavor, &[("enable-debug-command", "yes")]);
    let mut c = must_connect(&s);
    let mut other = must_connect(&s);
    let mut seen = vec![];
    for field in ["lazyfree_pending_objects", "lazyfreed_objects"] {
        let (section, value) = info_field(&mut c, field);
        seen.push(format!("{field} in {section} = {value}"));
    }

    // Big enough that the free takes a while; small enough for debug builds.
    build(&mut c, "RPUSH", "list", 1_000_000, false);
    build(&mut c, "SADD", "set", 200_000, false);
    build(&mut c, "ZADD", "zset", 100_000, true);
    build(&mut c, "HSET", "hash", 100_000, true);
    build(&mut c, "SADD", "small", 10, false);
    for key in ["list", "set", "zset", "hash"] {
        let enc = c.cmd(&["OBJECT", "ENCODING", key]);
        seen.push(format!("{key} {enc:?}"));
    }
    assert_eq!(
        c.cmd(&["UNLINK", "list", "set", "zset", "hash", "small", "nosuch"]),
        Value::Int(5)
    );
    // Another client is served at once, while the free thread may still be working.
    pong(&mut other);
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(0));
    // Four values were handed over; the small set (effort 10) was freed inline.
    wait_counters(&mut c, 4, "the UNLINKed values to be freed");

    // DEL stays synchronous by default, and goes lazy with lazyfree-lazy-user-del.
    build(&mut c, "SADD", "set", 1000, false);
    assert_eq!(c.cmd(&["DEL", "set"]), Value::Int(1));
    c.cmd(&["CONFIG", "SET", "lazyfree-lazy-user-del", "yes"]);
    build(&mut c, "SADD", "set", 1000, false);
    assert_eq!(c.cmd(&["DEL", "set"]), Value::Int(1));
    wait_counters(&mut c, 5, "the lazily DELeted set to be freed");

    // FLUSHALL ASYNC hands over whole databases, counting their keys.
    c.cmd(&["DEBUG", "POPULATE", "300000"]);
    c.cmd(&["SELECT", "1"]);
    c.cmd(&["DEBUG", "POPULATE", "1000", "other"]);
    assert_eq!(c.cmd(&["FLUSHALL", "ASYNC"]), Value::Simple("OK".into()));
    pong(&mut other);
    assert_eq!(other.cmd(&["DBSIZE"]), Value::Int(0));
    wait_counters(&mut c, 5 + 301_000, "the flushed databases to be freed");

    // FLUSHDB with lazyfree-lazy-user-flush is async; SYNC overrides it.
    c.cmd(&["CONFIG", "SET", "lazyfree-lazy-user-flush", "yes"]);
    c.cmd(&["DEBUG", "POPULATE", "10"]);
    assert_eq!(c.cmd(&["FLUSHDB"]), Value::Simple("OK".into()));
    wait_counters(&mut c, 5 + 301_010, "FLUSHDB to be freed lazily");
    c.cmd(&["DEBUG", "POPULATE", "10"]);
    assert_eq!(c.cmd(&["FLUSHDB", "SYNC"]), Value::Simple("OK".into()));
    assert_eq!(info_field(&mut c, "lazyfreed_objects").1, "301015");

    c.cmd(&["CONFIG", "RESETSTAT"]);
    seen.push(format!(
        "after RESETSTAT {:?}",
        info_field(&mut c, "lazyfreed_objects")
    ));
    seen
}

#[test]
fn unlink_and_flushall_async_free_in_the_background_like_redis() {
    let redis = scenario(Flavor::Redis);
    let ours = scenario(Flavor::Redoubt);
    assert_eq!(ours, redis);
}
