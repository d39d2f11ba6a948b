//! List command tests: replies and effects as redis-server 7.0.15 gives them.

use crate::testing::TestEngine;

fn engine() -> TestEngine {
    let mut t = TestEngine::new();
    t.stream();
    t
}

#[test]
fn push_pop_replies_and_effects() {
    let mut t = engine();
    assert_eq!(t.text("RPUSH l a b c"), ":3|");
    assert_eq!(t.text("LPUSH l z"), ":4|");
    assert_eq!(t.text("LPUSHX nope a"), ":0|");
    assert_eq!(t.text("LRANGE l 0 -1"), "*4|$1|z|$1|a|$1|b|$1|c|");
    assert_eq!(t.text("LPOP l"), "$1|z|");
    assert_eq!(t.text("RPOP l 2"), "*2|$1|c|$1|b|");
    assert_eq!(t.text("LPOP l 0"), "*0|");
    assert_eq!(t.text("LPOP l 5"), "*1|$1|a|");
    assert_eq!(t.text("EXISTS l"), ":0|");
    assert_eq!(t.text("LPOP l"), "$-1|");
    assert_eq!(t.text("LPOP l 1"), "*-1|");
    assert_eq!(
        t.stream_cmds(),
        "SELECT 0\nRPUSH l a b c\nLPUSH l z\nLPOP l\nRPOP l 2\nLPOP l 5"
    );
    assert_eq!(
        t.text("LPOP l -1"),
        "-ERR value is out of range, must be positive|"
    );
    assert_eq!(
        t.text("LPOP l x"),
        "-ERR value is out of range, must be positive|"
    );
    assert_eq!(
        t.text("LPOP l 1 2"),
        "-ERR wrong number of arguments for 'lpop' command|"
    );
    t.run("SET s x");
    assert_eq!(
        t.text("LPUSH s a"),
        "-WRONGTYPE Operation against a key holding the wrong kind of value|"
    );
    assert_eq!(t.text("OBJECT ENCODING s"), "$6|embstr|");
    t.run("RPUSH q 1");
    assert_eq!(t.text("OBJECT ENCODING q"), "$9|quicklist|");
}

#[test]
fn resp3_nulls() {
    let mut t = engine();
    t.run("HELLO 3");
    assert_eq!(t.text("LPOP l"), "_|");
    assert_eq!(t.text("LPOP l 2"), "_|");
    assert_eq!(t.text("LMPOP 1 l LEFT"), "_|");
    assert_eq!(t.text("LPOS l a"), "_|");
}

#[test]
fn index_set_insert_rem_trim() {
    let mut t = engine();
    t.run("RPUSH l a b a c a");
    assert_eq!(t.text("LINDEX l -1"), "$1|a|");
    assert_eq!(t.text("LINDEX l 5"), "$-1|");
    assert_eq!(t.text("LINDEX nope x"), "$-1|");
    assert_eq!(
        t.text("LINDEX l x"),
        "-ERR value is not an integer or out of range|"
    );
    assert_eq!(t.text("LSET l -2 C"), "+OK|");
    assert_eq!(t.text("LSET l 9 C"), "-ERR index out of range|");
    assert_eq!(t.text("LSET nope 0 C"), "-ERR no such key|");
    assert_eq!(t.text("LINSERT l AFTER b x"), ":6|");
    assert_eq!(t.text("LINSERT l before zz x"), ":-1|");
    assert_eq!(t.text("LINSERT l middle b x"), "-ERR syntax error|");
    assert_eq!(t.text("LREM l -2 a"), ":2|");
    assert_eq!(t.text("LRANGE l 0 -1"), "*4|$1|a|$1|b|$1|x|$1|C|");
    assert_eq!(t.text("LREM l 0 nothere"), ":0|");
    assert_eq!(t.text("LTRIM l 0 -1"), "+OK|");
    assert_eq!(t.text("LTRIM l 1 2"), "+OK|");
    assert_eq!(t.text("LRANGE l -100 100"), "*2|$1|b|$1|x|");
    assert_eq!(t.text("LTRIM l 5 1"), "+OK|");
    assert_eq!(t.text("EXISTS l"), ":0|");
    assert_eq!(
        t.stream_cmds(),
        "SELECT 0\nRPUSH l a b a c a\nLSET l -2 C\nLINSERT l AFTER b x\nLREM l -2 a\n\
         LTRIM l 1 2\nLTRIM l 5 1"
    );
}

#[test]
fn lpos_options() {
    let mut t = engine();
    t.run("RPUSH l a b c a b c a");
    assert_eq!(t.text("LPOS l a"), ":0|");
    assert_eq!(t.text("LPOS l a RANK 2"), ":3|");
    assert_eq!(t.text("LPOS l a RANK -1 COUNT 0"), "*3|:6|:3|:0|");
    assert_eq!(t.text("LPOS l a COUNT 2 MAXLEN 3"), "*1|:0|");
    assert_eq!(t.text("LPOS l x COUNT 2"), "*0|");
    assert_eq!(t.text("LPOS l x"), "$-1|");
    assert_eq!(t.text("LPOS l a RANK -9223372036854775808"), ":6|");
    assert_eq!(t.text("LPOS l a COUNT -1"), "-ERR COUNT can't be negative|");
    assert_eq!(
        t.text("LPOS l a MAXLEN x"),
        "-ERR MAXLEN can't be negative|"
    );
    assert_eq!(t.text("LPOS l a RANK"), "-ERR syntax error|");
    assert!(t
        .text("LPOS l a RANK 0")
        .starts_with("-ERR RANK can't be zero"));
}

#[test]
fn lmove_and_lmpop_effects() {
    let mut t = engine();
    t.run("RPUSH src a b c");
    assert_eq!(t.text("LMOVE src dst LEFT RIGHT"), "$1|a|");
    assert_eq!(t.text("RPOPLPUSH src src"), "$1|c|");
    assert_eq!(t.text("LMOVE src dst up left"), "-ERR syntax error|");
    assert_eq!(t.text("LMOVE nope dst left left"), "$-1|");
    assert_eq!(
        t.text("LMPOP 2 nope src RIGHT COUNT 10"),
        "*2|$3|src|*2|$1|b|$1|c|"
    );
    assert_eq!(t.text("EXISTS src"), ":0|");
    assert_eq!(t.text("LMPOP 1 src LEFT"), "*-1|");
    assert_eq!(
        t.text("LMPOP 0 src LEFT"),
        "-ERR numkeys should be greater than 0|"
    );
    assert_eq!(t.text("LMPOP 5 src LEFT"), "-ERR syntax error|");
    assert_eq!(
        t.text("LMPOP 1 src LEFT COUNT 0"),
        "-ERR count should be greater than 0|"
    );
    assert_eq!(
        t.text("LMPOP 1 src LEFT COUNT 1 COUNT 1"),
        "-ERR syntax error|"
    );
    assert_eq!(
        t.stream_cmds(),
        "SELECT 0\nRPUSH src a b c\nLMOVE src dst LEFT RIGHT\nRPOPLPUSH src src\nRPOP src 2"
    );
}

/// Write-path proof for lists alone: a random list workload's stream, replayed into an empty
/// engine, gives the same DEBUG DIGEST and the same list contents.
#[test]
fn random_list_workload_replays_to_the_same_dataset() {
    use crate::testing::decode_stream;
    use redoubt_keyspace::rand::Rng;
    const KEYS: &[&str] = &["a", "b", "c", "s"];
    const SIDES: &[&str] = &["LEFT", "RIGHT"];
    for seed in 0..20u64 {
        let mut rng = Rng::new(seed);
        let mut master = engine();
        let mut stream = Vec::new();
        for _ in 0..300 {
            let mut pick = |xs: &[&'static str]| xs[rng.below(xs.len() as u64) as usize];
            let (k, k2, s1, s2) = (pick(KEYS), pick(KEYS), pick(SIDES), pick(SIDES));
            let n = rng.below(7) as i64 - 3;
            let v = rng.below(4);
            let line = match rng.below(16) {
                0 | 1 => format!("RPUSH {k} {v} x {v}"),
                2 => format!("LPUSH {k} {v}"),
                3 => format!("LPUSHX {k} {v}"),
                4 => format!("RPOP {k} {}", n.abs()),
                5 => format!("LPOP {k}"),
                6 => format!("LSET {k} {n} {v}"),
                7 => format!("LINSERT {k} AFTER x {v}"),
                8 => format!("LREM {k} {n} {v}"),
                9 => format!("LTRIM {k} {n} {}", -n),
                10 => format!("LMOVE {k} {k2} {s1} {s2}"),
                11 => format!("RPOPLPUSH {k} {k2}"),
                12 => format!("LMPOP 2 {k} {k2} {s1} COUNT {}", n.abs() + 1),
                13 => "SET s str".to_string(),
                14 => format!("DEL {k}"),
                _ => format!("RPUSHX {k} {v} {v}"),
            };
            master.run(&line);
            stream.extend(master.stream());
        }
        let mut replica = TestEngine::new();
        for cmd in decode_stream(&stream) {
            replica.run_args(cmd);
        }
        assert_eq!(master.text("DEBUG DIGEST"), replica.text("DEBUG DIGEST"));
        for k in KEYS {
            let q = format!("LRANGE {k} 0 -1");
            assert_eq!(master.text(&q), replica.text(&q));
        }
    }
}
