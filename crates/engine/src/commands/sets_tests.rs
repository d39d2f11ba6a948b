//! Set command tests: replies and effects as a real redis-server 7.0.15 gave them.

use crate::testing::TestEngine;

#[test]
fn sadd_encodings_and_smembers_order() {
    let mut t = TestEngine::new();
    assert_eq!(t.text("SADD s 3 1 2 1"), ":3|");
    assert_eq!(t.text("OBJECT ENCODING s"), "$6|intset|");
    assert_eq!(t.text("SMEMBERS s"), "*3|$1|1|$1|2|$1|3|");
    assert_eq!(t.text("SADD s a"), ":1|");
    assert_eq!(t.text("OBJECT ENCODING s"), "$9|hashtable|");
    assert_eq!(t.text("SCARD s"), ":4|");
    assert_eq!(t.stream_cmds(), "SELECT 0\nSADD s 3 1 2 1\nSADD s a");
}

#[test]
fn srem_deletes_the_emptied_key_and_propagates_as_written() {
    let mut t = TestEngine::new();
    t.run("SADD s 1 2 a");
    t.stream();
    assert_eq!(t.text("SREM s 1 x"), ":1|");
    assert_eq!(t.text("SREM nokey a"), ":0|");
    assert_eq!(t.text("SREM s 2 a b"), ":2|");
    assert_eq!(t.text("EXISTS s"), ":0|");
    assert_eq!(t.stream_cmds(), "SREM s 1 x\nSREM s 2 a b");
}

#[test]
fn spop_propagates_the_members_chosen() {
    let mut t = TestEngine::new();
    t.run("SADD s 1 2 3 4 5 6 7 8 9 10");
    t.stream();
    // One member: a single SREM.
    let one = t.text("SPOP s");
    let m = one.split('|').nth(1).expect("a member").to_string();
    assert_eq!(t.stream_cmds(), format!("SREM s {m}"));
    // A count below the size: one SREM per member (wrapped in MULTI/EXEC as Redis 7.0's
    // AOF showed), and the members replied are the ones removed.
    let r = t.text("SPOP s 3");
    assert!(r.starts_with("*3|"), "{r}");
    let popped: Vec<&str> = r.split('|').skip(2).step_by(2).take(3).collect();
    let cmds = t.stream_cmds();
    let expect: Vec<String> = popped.iter().map(|m| format!("SREM s {m}")).collect();
    assert_eq!(cmds, format!("MULTI\n{}\nEXEC", expect.join("\n")));
    assert_eq!(t.text("SCARD s"), ":6|");
    // Most of the set (Redis's "keep the remaining" strategy), then the whole set: DEL.
    assert!(t.text("SPOP s 5").starts_with("*5|"));
    assert_eq!(t.text("SCARD s"), ":1|");
    t.stream();
    assert!(t.text("SPOP s 5").starts_with("*1|"));
    assert_eq!(t.stream_cmds(), "DEL s");
    assert_eq!(t.text("SPOP s 5"), "*0|");
    assert_eq!(t.text("SPOP s"), "$-1|");
    assert_eq!(t.stream_cmds(), "");
}

#[test]
fn spop_keeping_few_members_rebuilds_the_set_like_redis() {
    let mut t = TestEngine::new();
    // A hashtable whose one remaining member is an integer becomes an intset again.
    t.run("SADD y a 1 2 3 4 5 6 7 8 9 10 11");
    t.run("SPOP y 11");
    let left = t.text("SMEMBERS y");
    if left != "*1|$1|a|" {
        assert_eq!(t.text("OBJECT ENCODING y"), "$6|intset|");
    }
}

#[test]
fn srandmember_replies_and_never_propagates() {
    let mut t = TestEngine::new();
    t.run("SADD s 1 2 3");
    t.stream();
    assert_eq!(t.text("SRANDMEMBER s 10"), "*3|$1|1|$1|2|$1|3|");
    assert!(t.text("SRANDMEMBER s -5").starts_with("*5|"));
    assert_eq!(t.text("SRANDMEMBER s 0"), "*0|");
    assert_eq!(t.text("SRANDMEMBER nokey"), "$-1|");
    assert_eq!(t.text("SRANDMEMBER nokey 3"), "*0|");
    assert_eq!(
        t.text("SRANDMEMBER s -9223372036854775808"),
        "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807|"
    );
    assert_eq!(t.stream_cmds(), "");
}

#[test]
fn errors_match_redis() {
    let mut t = TestEngine::new();
    t.run("SET str x");
    t.run("SADD s 1");
    let wt = "-WRONGTYPE Operation against a key holding the wrong kind of value|";
    assert_eq!(t.text("SADD str a"), wt);
    assert_eq!(t.text("SINTER nokey str"), wt);
    assert_eq!(
        t.text("SPOP s x"),
        "-ERR value is out of range, must be positive|"
    );
    assert_eq!(t.text("SPOP s 1 2"), "-ERR syntax error|");
    assert_eq!(
        t.text("SINTERCARD 0 s"),
        "-ERR numkeys should be greater than 0|"
    );
    assert_eq!(
        t.text("SINTERCARD 3 s"),
        "-ERR Number of keys can't be greater than number of args|"
    );
    assert_eq!(
        t.text("SINTERCARD 1 s LIMIT x"),
        "-ERR LIMIT can't be negative|"
    );
    assert_eq!(t.text("SINTERCARD 1 nokey str"), "-ERR syntax error|");
    assert_eq!(t.text("SSCAN s 0 TYPE set"), "-ERR syntax error|");
    assert_eq!(t.text("SSCAN nokey 0 COUNT 0"), "*2|$1|0|*0|");
    assert_eq!(t.text("SMOVE nokey str 1"), ":0|");
    assert_eq!(t.text("SMOVE s str 1"), wt);
}

#[test]
fn store_commands_propagate_as_written_and_delete_on_empty() {
    let mut t = TestEngine::new();
    t.run("SADD a 1 2 3");
    t.run("SADD b 2 3 4");
    t.run("SET d x");
    t.run("EXPIRE d 100");
    t.stream();
    assert_eq!(t.text("SINTERSTORE d a b"), ":2|");
    assert_eq!(t.text("TTL d"), ":-1|");
    assert_eq!(t.text("SMEMBERS d"), "*2|$1|2|$1|3|");
    assert_eq!(t.text("SDIFFSTORE d a b"), ":1|");
    assert_eq!(t.text("SUNIONSTORE d a b"), ":4|");
    assert_eq!(t.text("SINTERSTORE d a nokey"), ":0|");
    assert_eq!(t.text("SINTERSTORE d a nokey"), ":0|");
    assert_eq!(
        t.stream_cmds(),
        "SINTERSTORE d a b\nSDIFFSTORE d a b\nSUNIONSTORE d a b\nSINTERSTORE d a nokey"
    );
    assert_eq!(t.text("SMOVE a b 1"), ":1|");
    assert_eq!(t.text("SMOVE a b 9"), ":0|");
    assert_eq!(t.stream_cmds(), "SMOVE a b 1");
}

#[test]
fn sdiff_algorithm_decides_the_result_encoding() {
    // Checked on redis-server 7.0.15: three keys make Redis pick "add all, then remove",
    // which leaves a hashtable of integers; two keys pick "add the survivors" (an intset).
    let mut t = TestEngine::new();
    t.run("SADD x1 1 2 3 4 5 a");
    t.run("SADD x2 a");
    t.run("SADD x3 zz");
    assert_eq!(t.text("SDIFFSTORE d x1 x2 x3"), ":5|");
    assert_eq!(t.text("OBJECT ENCODING d"), "$9|hashtable|");
    assert_eq!(t.text("SDIFFSTORE d x1 x2"), ":5|");
    assert_eq!(t.text("OBJECT ENCODING d"), "$6|intset|");
}

#[test]
fn resp3_shapes() {
    let mut t = TestEngine::new();
    t.run("HELLO 3");
    t.run("SADD s 1 2");
    assert_eq!(t.text("SMEMBERS s"), "~2|$1|1|$1|2|");
    assert_eq!(t.text("SMEMBERS nokey"), "~0|");
    assert_eq!(t.text("SPOP nokey 2"), "~0|");
    assert_eq!(t.text("SPOP nokey"), "_|");
    assert_eq!(t.text("SRANDMEMBER s 2"), "*2|$1|1|$1|2|");
    assert_eq!(t.text("SUNION s"), "~2|$1|1|$1|2|");
}

#[test]
fn store_sources_count_as_reads() {
    // redis-server 7.0.15: SINTERSTORE d a b counts 2 hits; SUNIONSTORE d a nokey 1 hit and
    // 1 miss (the destination is not counted).
    let mut t = TestEngine::new();
    t.run("SADD a 1 2");
    t.run("SADD b 2 x");
    let before = (t.eng.stats.keyspace_hits, t.eng.stats.keyspace_misses);
    t.run("SINTERSTORE d a b");
    t.run("SUNIONSTORE d a nokey");
    let after = (t.eng.stats.keyspace_hits, t.eng.stats.keyspace_misses);
    assert_eq!((after.0 - before.0, after.1 - before.1), (3, 1));
}
