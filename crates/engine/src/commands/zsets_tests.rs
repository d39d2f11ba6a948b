//! Replies and effects checked against redis-server 7.0.15 (effects read from its AOF with
//! `appendonly yes`).

use crate::testing::TestEngine;

#[test]
fn zadd_options_and_replies() {
    let mut t = TestEngine::new();
    assert_eq!(t.text("ZADD z 1 a 2 b 3 c"), ":3|");
    assert_eq!(t.text("ZADD z CH 10 a 2 b 4 d"), ":2|");
    assert_eq!(t.text("ZADD z NX 100 a 5 e"), ":1|");
    assert_eq!(t.text("ZADD z GT 50 a"), ":0|");
    assert_eq!(t.text("ZADD z INCR 5 a"), "$2|55|");
    assert_eq!(t.text("ZADD z INCR NX 5 a"), "$-1|");
    assert_eq!(t.text("ZADD z INCR GT -1000 a"), "$-1|");
    assert_eq!(
        t.text("ZADD z NX XX 1 a"),
        "-ERR XX and NX options at the same time are not compatible|"
    );
    assert_eq!(
        t.text("ZADD z GT LT 1 a"),
        "-ERR GT, LT, and/or NX options at the same time are not compatible|"
    );
    assert_eq!(
        t.text("ZADD z INCR 1 a 2 b"),
        "-ERR INCR option supports a single increment-element pair|"
    );
    assert_eq!(t.text("ZADD z nan a"), "-ERR value is not a valid float|");
    assert_eq!(t.text("ZADD z 1 a 2"), "-ERR syntax error|");
    assert_eq!(t.text("ZADD z inf a"), ":0|");
    assert_eq!(
        t.text("ZADD z INCR -inf a"),
        "-ERR resulting score is not a number (NaN)|"
    );
    assert_eq!(t.text("ZADD z 0.1 t"), ":1|");
    assert_eq!(t.text("ZSCORE z t"), "$19|0.10000000000000001|");
    assert_eq!(t.text("ZADD nokey XX 1 a"), ":0|");
    assert_eq!(t.text("EXISTS nokey"), ":0|");
    t.text("SET s v");
    assert_eq!(
        t.text("ZADD s 1 a"),
        "-WRONGTYPE Operation against a key holding the wrong kind of value|"
    );
}

#[test]
fn writes_propagate_as_redis_does() {
    let mut t = TestEngine::new();
    for c in [
        "ZADD z 1 a 2 b 3 c 4 d",
        "ZADD z XX 1 nope",
        "ZADD z INCR 5 a",
        "ZINCRBY z 1 b",
        "ZREM z nope",
        "ZPOPMIN z",
        "ZPOPMAX z 0",
        "ZMPOP 1 z MAX COUNT 5",
        "ZADD z 1 a 2 b",
        "ZMPOP 1 z MIN",
        "ZRANGESTORE d z 0 -1",
        "ZRANGESTORE d nokey 0 -1",
        "ZRANGESTORE d nokey 0 -1",
        "ZADD y 1 a",
        "ZUNIONSTORE u 2 y z WEIGHTS 2 3",
        "ZINTERSTORE u 1 nokey",
        "ZREMRANGEBYSCORE y 0 10",
        "ZADD y 1 a",
        "ZPOPMIN y 10",
    ] {
        t.run(c);
    }
    assert_eq!(
        t.stream_cmds(),
        "SELECT 0\nZADD z 1 a 2 b 3 c 4 d\nZADD z INCR 5 a\nZINCRBY z 1 b\nZPOPMIN z\n\
         ZPOPMAX z 3\nZADD z 1 a 2 b\nZPOPMIN z 1\nZRANGESTORE d z 0 -1\n\
         ZRANGESTORE d nokey 0 -1\nZADD y 1 a\nZUNIONSTORE u 2 y z WEIGHTS 2 3\n\
         ZINTERSTORE u 1 nokey\nZREMRANGEBYSCORE y 0 10\nZADD y 1 a\nZPOPMIN y 10"
    );
}

#[test]
fn ranges_and_resp3_pairs() {
    let mut t = TestEngine::new();
    t.run("ZADD r 1 a 2 b 3 c 3 d 4 e");
    assert_eq!(t.text("ZRANGE r (2 3 BYSCORE"), "*2|$1|c|$1|d|");
    assert_eq!(
        t.text("ZRANGE r +inf -inf BYSCORE REV LIMIT 1 2 WITHSCORES"),
        "*4|$1|d|$1|3|$1|c|$1|3|"
    );
    assert_eq!(t.text("ZRANGE r -inf +inf BYSCORE LIMIT -1 2"), "*0|");
    assert_eq!(
        t.text("ZRANGE r 0 -1 LIMIT 0 1"),
        "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX|"
    );
    assert_eq!(
        t.text("ZRANGE r x 1 BYSCORE"),
        "-ERR min or max is not a float|"
    );
    assert_eq!(
        t.text("ZRANGEBYLEX r b d"),
        "-ERR min or max not valid string range item|"
    );
    assert_eq!(t.text("ZREVRANK r a"), ":4|");
    assert_eq!(t.text("ZCOUNT r (1 3"), ":3|");
    t.run("HELLO 3");
    assert_eq!(t.text("ZRANGE r 0 0 WITHSCORES"), "*1|*2|$1|a|,1|");
    assert_eq!(t.text("ZPOPMIN r"), "*2|$1|a|,1|");
    assert_eq!(t.text("ZPOPMIN r 1"), "*1|*2|$1|b|,2|");
    assert_eq!(t.text("ZMPOP 2 no r MAX"), "*2|$1|r|*1|*2|$1|e|,4|");
    assert_eq!(t.text("ZMPOP 1 no MAX"), "_|");
}

#[test]
fn encodings_follow_the_listpack_thresholds() {
    let mut t = TestEngine::new();
    t.run("CONFIG SET zset-max-listpack-entries 2");
    t.run("ZADD t 1 a 2 b");
    assert_eq!(t.text("OBJECT ENCODING t"), "$8|listpack|");
    t.run("ZADD t 3 c");
    assert_eq!(t.text("OBJECT ENCODING t"), "$8|skiplist|");
    t.run("ZREM t c");
    assert_eq!(t.text("OBJECT ENCODING t"), "$8|skiplist|");
    t.run("ZUNIONSTORE u 1 t");
    assert_eq!(t.text("OBJECT ENCODING u"), "$8|listpack|");
    // A listpack stores -0 as 0; a skiplist keeps -0.
    t.run("ZADD t -0 z");
    assert_eq!(t.text("ZSCORE t z"), "$2|-0|");
    t.run("ZADD u -0 a");
    assert_eq!(t.text("ZSCORE u a"), "$1|0|");
}

#[test]
fn set_algebra() {
    let mut t = TestEngine::new();
    t.run("ZADD a 1 x 2 y 3 z");
    t.run("ZADD b 10 y 20 z 30 w");
    assert_eq!(
        t.text("ZUNION 2 a b WEIGHTS 2 3 WITHSCORES"),
        "*8|$1|x|$1|2|$1|y|$2|34|$1|z|$2|66|$1|w|$2|90|"
    );
    assert_eq!(t.text("ZINTER 2 a b AGGREGATE MIN"), "*2|$1|y|$1|z|");
    assert_eq!(t.text("ZDIFF 2 a b WITHSCORES"), "*2|$1|x|$1|1|");
    assert_eq!(t.text("ZINTERCARD 2 a b LIMIT 1"), ":1|");
    assert_eq!(
        t.text("ZUNION 0 a"),
        "-ERR at least 1 input key is needed for 'zunion' command|"
    );
    assert_eq!(
        t.text("ZINTERCARD 2 a b LIMIT x"),
        "-ERR LIMIT can't be negative|"
    );
    assert_eq!(t.text("ZUNIONSTORE d 2 a b"), ":4|");
    assert_eq!(t.text("ZINTERSTORE d 2 a nokey"), ":0|");
    assert_eq!(t.text("EXISTS d"), ":0|");
}

/// ZSCAN pages a `skiplist` set (redis-server 7.0.15 pages its dict too), with `%.17g`
/// scores, and a cursor loop sees every member once even with writes between calls.
#[test]
fn zscan_pages_a_skiplist_set() {
    let mut t = TestEngine::new();
    for i in 0..300 {
        t.text(&format!("ZADD z {i}.5 m{i}"));
    }
    assert_eq!(t.text("OBJECT ENCODING z"), "$8|skiplist|");
    let mut seen = std::collections::HashMap::new();
    let (mut cursor, mut calls) = ("0".to_string(), 0);
    loop {
        let reply = t.text(&format!("ZSCAN z {cursor} COUNT 20"));
        calls += 1;
        let parts: Vec<&str> = reply.split('|').collect();
        // *2|$n|cursor|*k|$..|member|$..|score|...
        cursor = parts[2].to_string();
        let k: usize = parts[3][1..].parse().expect("array length");
        assert!(k <= 40, "about COUNT members per call: {k}");
        for j in 0..k / 2 {
            let (m, s) = (parts[5 + 4 * j], parts[7 + 4 * j]);
            assert!(
                seen.insert(m.to_string(), s.to_string()).is_none(),
                "{m} twice"
            );
        }
        t.text(&format!("ZADD z 1 new{calls}"));
        t.text(&format!("ZREM z new{}", calls.max(2) - 1));
        if cursor == "0" {
            break;
        }
    }
    assert!(calls >= 15, "{calls} calls");
    for i in 0..300 {
        assert_eq!(seen.get(&format!("m{i}")), Some(&format!("{i}.5")));
    }
    assert_eq!(
        t.text("ZSCAN z 0 MATCH m29* COUNT 1000")
            .matches("|m29")
            .count(),
        11
    );
}
