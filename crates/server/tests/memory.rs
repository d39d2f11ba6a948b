//! maxmemory: the OOM refusal under noeviction (byte-identical to Redis 7.0.15), and
//! eviction keeping a writing workload under the limit.

use redoubt_harness::{must_connect, must_start, Flavor, Value};

#[test]
fn noeviction_refuses_writes_like_redis() {
    let mut replies = vec![];
    for flavor in [Flavor::Redis, Flavor::Redoubt] {
        let s = must_start(flavor, &[]);
        let mut c = must_connect(&s);
        c.cmd(&["SET", "before", "1"]);
        c.cmd(&["CONFIG", "SET", "maxmemory", "1"]);
        let mut got = vec![];
        for cmd in [
            &["SET", "k", "v"][..],
            &["GET", "before"],
            &["INCR", "before"],
            &["APPEND", "before", "x"],
            &["DEL", "before"],
            &["MULTI"],
            &["SET", "a", "b"],
            &["EXEC"],
        ] {
            c.send_cmd(cmd).expect("send");
            got.push(String::from_utf8_lossy(&c.read_raw_reply()).into_owned());
        }
        replies.push(got);
    }
    assert_eq!(replies[1], replies[0]);
    assert!(replies[0][0].starts_with("-OOM command not allowed"));
}

#[test]
fn allkeys_random_and_lru_stay_under_the_limit() {
    for policy in [
        "allkeys-random",
        "allkeys-lru",
        "volatile-ttl",
        "allkeys-lfu",
    ] {
        let s = must_start(Flavor::Redoubt, &[]);
        let mut c = must_connect(&s);
        c.cmd(&["CONFIG", "SET", "maxmemory", "4mb"]);
        c.cmd(&["CONFIG", "SET", "maxmemory-policy", policy]);
        let value = vec![b'v'; 1000];
        for i in 0..12_000 {
            let key = format!("key:{i}");
            let r = c.cmd(&[&b"SET"[..], key.as_bytes(), &value, b"EX", b"1000"]);
            assert_eq!(r, Value::Simple("OK".into()), "{policy}: SET {i}");
        }
        let Value::Int(n) = c.cmd(&["DBSIZE"]) else {
            panic!("DBSIZE")
        };
        assert!(
            n > 500 && n < 12_000,
            "{policy}: {n} keys left: evictions must have run"
        );
    }
}
