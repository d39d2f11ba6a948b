//! SORT tests: replies and effects as a real redis-server 7.0.15 gave them.

use super::{parse_weight, pqsort};
use crate::testing::TestEngine;

#[test]
fn numeric_alpha_desc_and_limit() {
    let mut t = TestEngine::new();
    t.run("RPUSH l 3 1 2 10 -5 2.5 1e2 0x10");
    assert_eq!(
        t.text("SORT l"),
        "*8|$2|-5|$1|1|$1|2|$3|2.5|$1|3|$2|10|$4|0x10|$3|1e2|"
    );
    assert_eq!(t.text("SORT l ALPHA LIMIT 0 3"), "*3|$2|-5|$4|0x10|$1|1|");
    assert_eq!(t.text("SORT l DESC LIMIT 2 3"), "*3|$2|10|$1|3|$3|2.5|");
    // Redis's clamping: a negative offset is 0, a count below -1 is "all", past the end
    // is empty.
    assert_eq!(t.text("SORT l LIMIT -1 2"), "*2|$2|-5|$1|1|");
    assert_eq!(t.text("SORT l LIMIT 6 -5"), "*2|$4|0x10|$3|1e2|");
    assert_eq!(t.text("SORT l LIMIT 8 1"), "*0|");
    assert_eq!(t.text("SORT l LIMIT 0 0"), "*0|");
    assert_eq!(
        t.text("SORT l LIMIT x 1"),
        "-ERR value is not an integer or out of range|"
    );
    assert_eq!(t.text("SORT l LIMIT 1"), "-ERR syntax error|");
    // A read: nothing propagated.
    assert_eq!(
        t.stream_cmds(),
        "SELECT 0\nRPUSH l 3 1 2 10 -5 2.5 1e2 0x10"
    );
}

#[test]
fn weights_strtod_rules() {
    assert_eq!(parse_weight(b""), Some(0.0));
    assert_eq!(parse_weight(b" \t5"), Some(5.0));
    assert_eq!(parse_weight(b"5 "), None);
    assert_eq!(parse_weight(b"   "), None);
    assert_eq!(parse_weight(b"-inf"), Some(f64::NEG_INFINITY));
    assert_eq!(parse_weight(b"Infinity"), Some(f64::INFINITY));
    assert_eq!(parse_weight(b"infinit"), None);
    assert_eq!(parse_weight(b"nan"), None);
    assert_eq!(parse_weight(b"0x1p3"), Some(8.0));
    assert_eq!(parse_weight(b"0X1P-2"), Some(0.25));
    assert_eq!(parse_weight(b"0x"), None);
    assert_eq!(parse_weight(b"1e"), None);
    assert_eq!(parse_weight(b".5"), Some(0.5));
    assert_eq!(parse_weight(b"5."), Some(5.0));
    assert_eq!(parse_weight(b"1e400"), None);
    assert_eq!(parse_weight(b"1e-310"), None);
    assert_eq!(parse_weight(b"0e-400"), Some(0.0));
    assert_eq!(parse_weight(b"5\x00abc"), Some(5.0));
    // glibc's answers (errno ERANGE = None) for hex floats at the edges.
    assert_eq!(parse_weight(b"0x1.8p-1074"), None);
    assert_eq!(parse_weight(b"0x1p-1074"), Some(f64::from_bits(1)));
    assert_eq!(parse_weight(b"0x3p-1074"), Some(f64::from_bits(3)));
    assert_eq!(parse_weight(b"0x1p-1075"), None);
    assert_eq!(parse_weight(b"0x1.0000000000000000001p0"), Some(1.0));
    assert_eq!(
        parse_weight(b"0x1.fp-1023"),
        Some(f64::from_bits(0xf800000000000))
    );
    assert_eq!(parse_weight(b"0x1p1024"), None);
    assert_eq!(parse_weight(b"0x1.ffffffffffffffffp1023"), None);
    assert_eq!(parse_weight(b"0x.8"), Some(0.5));
    assert_eq!(parse_weight(b"0x0p-5000"), Some(0.0));
    assert_eq!(
        parse_weight(b"0x10000000000000000000000p-100"),
        Some(2f64.powi(-12))
    );
}

#[test]
fn pqsort_orders_the_wanted_ranks() {
    // Distinct keys: whatever the partial sort skips, the ranks asked for are exact.
    let base: Vec<u32> = (0..200).map(|i| (i * 7919) % 211).collect();
    let mut full = base.clone();
    full.sort_unstable();
    for (lo, hi) in [(0, 9), (50, 60), (190, 199), (0, 199), (100, 99)] {
        let mut v = base.clone();
        pqsort(&mut v, &mut |a: &u32, b: &u32| a.cmp(b), lo, hi);
        if hi >= lo {
            assert_eq!(
                v[lo as usize..=hi as usize],
                full[lo as usize..=hi as usize]
            );
        }
    }
}

#[test]
fn by_get_patterns_and_hash_fields() {
    let mut t = TestEngine::new();
    t.run("RPUSH l 3 1 2");
    t.run("MSET w_3 10 w_1 30 w_2 20 o_1 one o_2 two");
    t.run("HSET h_1 f 3 g x");
    t.run("HSET h_2 f 1 g y");
    assert_eq!(t.text("SORT l BY w_*"), "*3|$1|3|$1|2|$1|1|");
    assert_eq!(
        t.text("SORT l BY w_* GET o_* GET # GET nostar"),
        "*9|$-1|$1|3|$-1|$3|two|$1|2|$-1|$3|one|$1|1|$-1|"
    );
    // Missing weights are 0; ties compare the elements.
    assert_eq!(t.text("SORT l BY h_*->f"), "*3|$1|3|$1|2|$1|1|");
    assert_eq!(t.text("SORT l BY h_*->f GET h_*->g"), "*3|$-1|$1|y|$1|x|");
    // ALPHA BY: a missing value sorts first.
    assert_eq!(t.text("SORT l BY o_* ALPHA"), "*3|$1|3|$1|1|$1|2|");
    // A constant pattern means no sorting: the list's own order.
    assert_eq!(t.text("SORT l BY nosort DESC"), "*3|$1|2|$1|1|$1|3|");
    t.run("HELLO 3");
    assert_eq!(t.text("SORT l BY w_* GET o_*"), "*3|_|$3|two|$3|one|");
}

#[test]
fn errors_and_types() {
    let mut t = TestEngine::new();
    t.run("SET s x");
    t.run("RPUSH bad 1 x");
    assert_eq!(
        t.text("SORT s"),
        "-WRONGTYPE Operation against a key holding the wrong kind of value|"
    );
    assert_eq!(t.text("SORT s BADOPT"), "-ERR syntax error|");
    assert_eq!(
        t.text("SORT bad"),
        "-ERR One or more scores can't be converted into double|"
    );
    assert_eq!(t.text("SORT bad BY nosort"), "*2|$1|1|$1|x|");
    assert_eq!(t.text("SORT_RO bad STORE d"), "-ERR syntax error|");
    assert_eq!(t.text("SORT nokey"), "*0|");
    t.stream();
    assert_eq!(
        t.text("SORT bad STORE d"),
        "-ERR One or more scores can't be converted into double|"
    );
    assert_eq!(t.text("EXISTS d"), ":0|");
    assert_eq!(t.stream_cmds(), "");
}

#[test]
fn store_replaces_deletes_and_propagates_as_written() {
    let mut t = TestEngine::new();
    t.run("RPUSH l 3 1 2");
    t.run("SET d str EX 100");
    t.stream();
    assert_eq!(t.text("SORT l DESC STORE d"), ":3|");
    assert_eq!(t.text("TTL d"), ":-1|");
    assert_eq!(t.text("LRANGE d 0 -1"), "*3|$1|3|$1|2|$1|1|");
    assert_eq!(t.text("OBJECT ENCODING d"), "$9|quicklist|");
    // A GET of a missing key stores an empty string.
    assert_eq!(t.text("SORT l GET # GET x_* STORE d"), ":6|");
    assert_eq!(t.text("LINDEX d 1"), "$0||");
    // An empty result deletes the destination; with nothing to delete, no effect.
    assert_eq!(t.text("SORT nokey STORE d"), ":0|");
    assert_eq!(t.text("EXISTS d"), ":0|");
    assert_eq!(t.text("SORT l LIMIT 0 0 STORE d"), ":0|");
    // SORT without STORE and SORT_RO never propagate.
    t.run("SORT l");
    t.run("SORT_RO l");
    assert_eq!(
        t.stream_cmds(),
        "SORT l DESC STORE d\nSORT l GET # GET x_* STORE d\nSORT nokey STORE d"
    );
}

#[test]
fn sets_sorted_sets_and_nosort() {
    let mut t = TestEngine::new();
    t.run("SADD si 5 3 9 1");
    t.run("SADD sh b a c");
    assert_eq!(t.text("SORT si BY nosort DESC LIMIT 1 2"), "*2|$1|3|$1|5|");
    // With STORE a set is sorted ALPHA even BY nosort (deterministic for replicas).
    assert_eq!(t.text("SORT sh BY nosort DESC STORE d"), ":3|");
    assert_eq!(t.text("LRANGE d 0 -1"), "*3|$1|c|$1|b|$1|a|");
    t.run("ZADD z 3 a 1 b 2 c 5 d 4 e");
    assert_eq!(t.text("OBJECT ENCODING z"), "$8|listpack|");
    assert_eq!(t.text("SORT z BY nosort LIMIT 1 2 DESC"), "*2|$1|e|$1|a|");
    assert_eq!(t.text("OBJECT ENCODING z"), "$8|skiplist|");
    assert_eq!(t.text("SORT z ALPHA DESC LIMIT 1 3"), "*3|$1|d|$1|c|$1|b|");
}

#[test]
fn a_constant_by_sticks_and_the_last_by_pattern_is_used() {
    let mut t = TestEngine::new();
    t.run("RPUSH l 3 1 2");
    t.run("MSET w_3 10 w_1 30 w_2 20");
    // 7.0 never clears `dontsort` once a BY without `*` was seen.
    assert_eq!(t.text("SORT l BY nosort BY w_*"), "*3|$1|3|$1|1|$1|2|");
    assert_eq!(t.text("SORT l BY w_* BY nosort"), "*3|$1|3|$1|1|$1|2|");
    assert_eq!(t.text("SORT l BY x BY w_* DESC"), "*3|$1|2|$1|1|$1|3|");
}
