//! Hash command tests; expected bytes from redis-server 7.0.15 (redis-cli and the
//! differential script `crates/server/tests/diff/hashes.txt`).

use crate::testing::TestEngine;

#[test]
fn hset_hget_keep_listpack_order_and_propagate_as_written() {
    let mut t = TestEngine::new();
    assert_eq!(t.text("HSET h a 1 b 2"), ":2|");
    assert_eq!(t.text("HSET h a 3 c 4"), ":1|");
    assert_eq!(t.text("HMSET h d 5"), "+OK|");
    assert_eq!(t.text("HGET h a"), "$1|3|");
    assert_eq!(t.text("HGET h zz"), "$-1|");
    assert_eq!(t.text("HGET nokey zz"), "$-1|");
    assert_eq!(
        t.text("HGETALL h"),
        "*8|$1|a|$1|3|$1|b|$1|2|$1|c|$1|4|$1|d|$1|5|"
    );
    assert_eq!(t.text("HKEYS h"), "*4|$1|a|$1|b|$1|c|$1|d|");
    assert_eq!(t.text("HVALS h"), "*4|$1|3|$1|2|$1|4|$1|5|");
    assert_eq!(t.text("HMGET h a nope"), "*2|$1|3|$-1|");
    assert_eq!(t.text("HLEN h"), ":4|");
    assert_eq!(t.text("HSTRLEN h a"), ":1|");
    assert_eq!(t.text("HEXISTS h a"), ":1|");
    assert_eq!(t.text("HEXISTS h q"), ":0|");
    assert_eq!(t.text("OBJECT ENCODING h"), "$8|listpack|");
    assert_eq!(
        t.text("HSET h a 1 b"),
        "-ERR wrong number of arguments for 'hset' command|"
    );
    assert_eq!(
        t.text("HMSET h a 1 b"),
        "-ERR wrong number of arguments for 'hmset' command|"
    );
    assert_eq!(
        t.stream_cmds(),
        "SELECT 0\nHSET h a 1 b 2\nHSET h a 3 c 4\nHMSET h d 5"
    );
}

#[test]
fn hgetall_is_a_map_in_resp3() {
    let mut t = TestEngine::new();
    t.run("HSET h x 1 y 2");
    t.run("HELLO 3");
    assert_eq!(t.text("HGETALL h"), "%2|$1|x|$1|1|$1|y|$1|2|");
    assert_eq!(t.text("HGETALL nokey"), "%0|");
    assert_eq!(t.text("HGET h nope"), "_|");
    assert_eq!(
        t.text("HRANDFIELD h 2 WITHVALUES"),
        "*2|*2|$1|x|$1|1|*2|$1|y|$1|2|"
    );
    assert_eq!(t.text("HSCAN h 0"), "*2|$1|0|*4|$1|x|$1|1|$1|y|$1|2|");
}

#[test]
fn hdel_removes_the_key_when_empty() {
    let mut t = TestEngine::new();
    t.run("HSET h a 1 b 2");
    t.stream();
    assert_eq!(t.text("HDEL h nope"), ":0|");
    assert_eq!(t.text("HDEL h a nope b a"), ":2|");
    assert_eq!(t.text("EXISTS h"), ":0|");
    assert_eq!(t.text("HDEL h a"), ":0|");
    assert_eq!(t.stream_cmds(), "HDEL h a nope b a");
}

#[test]
fn hsetnx() {
    let mut t = TestEngine::new();
    assert_eq!(t.text("HSETNX h f v"), ":1|");
    assert_eq!(t.text("HSETNX h f w"), ":0|");
    assert_eq!(t.text("HGET h f"), "$1|v|");
    assert_eq!(t.stream_cmds(), "SELECT 0\nHSETNX h f v");
}

#[test]
fn hincrby_errors_and_effects() {
    let mut t = TestEngine::new();
    assert_eq!(t.text("HINCRBY h a 5"), ":5|");
    assert_eq!(t.text("HINCRBY h a -7"), ":-2|");
    assert_eq!(
        t.text("HINCRBY h a x"),
        "-ERR value is not an integer or out of range|"
    );
    t.run("HSET h s abc b 9223372036854775807");
    assert_eq!(
        t.text("HINCRBY h s 1"),
        "-ERR hash value is not an integer|"
    );
    assert_eq!(
        t.text("HINCRBY h b 1"),
        "-ERR increment or decrement would overflow|"
    );
    assert_eq!(
        t.stream_cmds(),
        "SELECT 0\nHINCRBY h a 5\nHINCRBY h a -7\nHSET h s abc b 9223372036854775807"
    );
}

#[test]
fn hincrbyfloat_propagates_hset_of_the_result() {
    let mut t = TestEngine::new();
    assert_eq!(t.text("HINCRBYFLOAT h a 10.50"), "$4|10.5|");
    assert_eq!(t.text("HINCRBYFLOAT h a 0.1"), "$4|10.6|");
    // Long-double arithmetic, as redis-server 7.0.15 prints it.
    assert_eq!(
        t.text("HINCRBYFLOAT h a 1e3"),
        "$22|1010.59999999999999998|"
    );
    assert_eq!(
        t.text("HINCRBYFLOAT h a inf"),
        "-ERR value is NaN or Infinity|"
    );
    assert_eq!(
        t.text("HINCRBYFLOAT h a x"),
        "-ERR value is not a valid float|"
    );
    t.run("HSET h s abc");
    assert_eq!(
        t.text("HINCRBYFLOAT h s 1"),
        "-ERR hash value is not a float|"
    );
    t.run("SET str v");
    // The increment is checked before the key's type.
    assert_eq!(
        t.text("HINCRBYFLOAT str a inf"),
        "-ERR value is NaN or Infinity|"
    );
    assert_eq!(
        t.text("HINCRBYFLOAT str a 1"),
        "-WRONGTYPE Operation against a key holding the wrong kind of value|"
    );
    assert_eq!(
        t.stream_cmds(),
        "SELECT 0\nHSET h a 10.5\nHSET h a 10.6\nHSET h a 1010.59999999999999998\nHSET h s abc\nSET str v"
    );
}

#[test]
fn wrongtype_and_hrandfield_checks_order() {
    let mut t = TestEngine::new();
    t.run("SET str v");
    let wt = "-WRONGTYPE Operation against a key holding the wrong kind of value|";
    for cmd in [
        "HSET str a 1",
        "HGET str a",
        "HGETALL str",
        "HLEN str",
        "HDEL str a",
        "HRANDFIELD str",
        "HRANDFIELD str 2",
        "HSCAN str 0",
    ] {
        assert_eq!(t.text(cmd), wt, "{cmd}");
    }
    assert_eq!(t.text("HRANDFIELD str 2 bad"), "-ERR syntax error|");
    assert_eq!(t.text("HSCAN str x"), "-ERR invalid cursor|");
    assert_eq!(
        t.text("HRANDFIELD str -9223372036854775808"),
        "-ERR value is out of range, value must between -9223372036854775807 and \
         9223372036854775807|"
    );
    assert_eq!(
        t.text("HRANDFIELD str 4611686018427387904 WITHVALUES"),
        "-ERR value is out of range|"
    );
    assert_eq!(t.text("HRANDFIELD nokey"), "$-1|");
    assert_eq!(t.text("HRANDFIELD nokey 3"), "*0|");
    assert_eq!(t.text("HSCAN nokey 0 COUNT 0"), "*2|$1|0|*0|");
    assert_eq!(t.text("HSCAN str 0 TYPE hash"), wt);
    t.run("HSET h a 1");
    assert_eq!(t.text("HSCAN h 0 TYPE hash"), "-ERR syntax error|");
    assert_eq!(t.text("HRANDFIELD h -3"), "*3|$1|a|$1|a|$1|a|");
    assert_eq!(t.text("HRANDFIELD h 5 WITHVALUES"), "*2|$1|a|$1|1|");
}

#[test]
fn encodings_switch_at_the_directives() {
    let mut t = TestEngine::new();
    let long = "x".repeat(65);
    t.run(&format!("HSET a f {}", &long[..64]));
    assert_eq!(t.text("OBJECT ENCODING a"), "$8|listpack|");
    t.run(&format!("HSET a g {long}"));
    assert_eq!(t.text("OBJECT ENCODING a"), "$9|hashtable|");
    t.run("HDEL a g");
    assert_eq!(t.text("OBJECT ENCODING a"), "$9|hashtable|");
    // HINCRBY checks the field's length too (hashTypeSet).
    t.run(&format!("HINCRBY b {long} 1"));
    assert_eq!(t.text("OBJECT ENCODING b"), "$9|hashtable|");
    t.run("CONFIG SET hash-max-ziplist-entries 2");
    t.run("HSET c a 1 b 2");
    t.run("HSET c a 1 a 2 b 3");
    assert_eq!(t.text("OBJECT ENCODING c"), "$8|listpack|");
    t.run("HSET c c 3");
    assert_eq!(t.text("OBJECT ENCODING c"), "$9|hashtable|");
    t.run("CONFIG SET hash-max-listpack-value 3");
    t.run("HINCRBY d n 999");
    assert_eq!(t.text("OBJECT ENCODING d"), "$8|listpack|");
    t.run("HINCRBY d n 1");
    assert_eq!(t.text("OBJECT ENCODING d"), "$9|hashtable|");
}

#[test]
fn digest_matches_redis() {
    // debug.c xors each field's digest in, so the order of the fields does not matter
    // (the values themselves are compared with Redis by hashes.txt).
    let mut t = TestEngine::new();
    t.run("HSET m x 1 y 2");
    let a = t.text("DEBUG DIGEST-VALUE m");
    t.run("DEL m");
    t.run("HSET m y 2 x 1");
    assert_eq!(t.text("DEBUG DIGEST-VALUE m"), a);
}

#[test]
fn memory_usage_counts_the_listpack_buffer() {
    let mut t = TestEngine::new();
    t.run("HSET small f v");
    t.run("HSET bigger f0 v0 f1 v1 f2 v2 f3 v3 f4 v4 f5 v5 f6 v6 f7 v7");
    let usage = |t: &mut TestEngine, k: &str| -> i64 {
        let s = t.text(&format!("MEMORY USAGE {k}"));
        s.trim_start_matches(':')
            .trim_end_matches('|')
            .parse()
            .expect("an integer reply")
    };
    let (a, b) = (usage(&mut t, "small"), usage(&mut t, "bigger"));
    assert!(a < b && b < a + 100, "{a} {b}");
}
