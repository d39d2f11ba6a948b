//! String commands: replies and recorded effects. Every expected reply and effect here was
//! first observed on a real redis-server 7.0.15 (replies with redis-cli/raw sockets, effects by
//! attaching to it as a replica with `PSYNC ? -1`, `server.dirty` from
//! `INFO persistence`'s `rdb_changes_since_last_save`).

use crate::testing::TestEngine;
use redoubt_keyspace::{StrVal, Value, NO_EXPIRE};

/// The effects recorded since the last call, one `arg arg ...` string each (SELECTs left out;
/// MULTI/EXEC kept). Arguments are shown lossily as UTF-8.
pub(crate) fn effects(t: &mut TestEngine) -> Vec<String> {
    let bytes = t.stream();
    let mut out = Vec::new();
    let mut p = 0;
    let line = |p: &mut usize| -> i64 {
        let end = bytes[*p..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("CRLF")
            + *p;
        let n = std::str::from_utf8(&bytes[*p + 1..end])
            .expect("ascii")
            .parse()
            .expect("number");
        *p = end + 2;
        n
    };
    while p < bytes.len() {
        assert_eq!(bytes[p], b'*', "effects are arrays");
        let n = line(&mut p);
        let mut args = Vec::new();
        for _ in 0..n {
            assert_eq!(bytes[p], b'$');
            let len = line(&mut p) as usize;
            args.push(String::from_utf8_lossy(&bytes[p..p + len]).into_owned());
            p += len + 2;
        }
        if args[0] != "SELECT" {
            out.push(args.join(" "));
        }
    }
    out
}

/// The encoding name of a key's string value.
pub(crate) fn encoding(t: &TestEngine, key: &str) -> &'static str {
    match t.eng.dbs[0].get_raw(key.as_bytes()).map(|e| &e.value) {
        Some(Value::Str(s)) => s.encoding_name(),
        #[allow(unreachable_patterns)]
        _ => "none",
    }
}

fn dirty(t: &TestEngine) -> u64 {
    t.eng.stats.dirty
}

#[test]
fn set_options_as_redis_parses_them() {
    let mut t = TestEngine::new();
    // The same expiry option twice is accepted; the last value wins.
    assert_eq!(t.text("SET a v EX 10 EX 20"), "+OK|");
    assert_eq!(t.eng.dbs[0].expire_of(b"a"), t.now_ms + 20_000);
    assert_eq!(t.text("SET a v PX 10 PX 20"), "+OK|");
    assert_eq!(t.text("SET a v KEEPTTL KEEPTTL"), "+OK|");
    for bad in [
        "SET a v EX 10 PX 10",
        "SET a v EX 10 EXAT 10",
        "SET a v KEEPTTL EX 10",
        "SET a v EX 10 KEEPTTL",
        "SET a v XX NX",
        "SET a v NX XX",
        "SET a v EX",
        "SET a v PERSIST",
        "SET a v FOO",
        "GETEX a EX 10 PERSIST",
        "GETEX a PERSIST EX 10",
        "GETEX a NX",
        "GETEX a KEEPTTL",
        "GETEX a GET",
        "GETEX a EX",
    ] {
        assert_eq!(t.text(bad), "-ERR syntax error|", "{bad}");
    }
    assert_eq!(
        t.text("SET a v EX 0"),
        "-ERR invalid expire time in 'set' command|"
    );
    assert_eq!(
        t.text("SET a v EX 9223372036854776"),
        "-ERR invalid expire time in 'set' command|"
    );
    assert_eq!(
        t.text("SET a v PX 9223372036854775807"),
        "-ERR invalid expire time in 'set' command|"
    );
    assert_eq!(
        t.text("SET a v EX 1.5"),
        "-ERR value is not an integer or out of range|"
    );
    assert_eq!(
        t.text("SETEX a 0 v"),
        "-ERR invalid expire time in 'setex' command|"
    );
    assert_eq!(
        t.text("PSETEX a -1 v"),
        "-ERR invalid expire time in 'psetex' command|"
    );
    assert_eq!(
        t.text("GETEX a EX 0"),
        "-ERR invalid expire time in 'getex' command|"
    );
    // GET with NX is allowed in 7.0: the old value is the reply either way.
    assert_eq!(t.text("SET a w NX GET"), "$1|v|");
    assert_eq!(t.text("SET fresh w NX GET"), "$-1|");
    assert_eq!(
        t.text("SET a v EX 0 GET"),
        "-ERR invalid expire time in 'set' command|"
    );
}

#[test]
fn set_family_effects() {
    let mut t = TestEngine::new();
    t.text("SET a v EX 10");
    t.text("SET a v PXAT 99999999999999 GET");
    t.text("SET a v EXAT 99999999999");
    t.text("SETEX a 100 v");
    t.text("PSETEX a 100000 v");
    t.text("SET a v XX KEEPTTL");
    t.text("SET a v NX"); // refused: nothing recorded
    t.text("SET b v get GET NX");
    t.text("SETNX b v"); // refused
    t.text("SETNX c v");
    assert_eq!(
        effects(&mut t),
        [
            "SET a v PXAT 1700000010000",
            "SET a v PXAT 99999999999999",
            "SET a v PXAT 99999999999000",
            "SET a v PXAT 1700000100000",
            "SET a v PXAT 1700000100000",
            "SET a v XX KEEPTTL",
            "SET b v NX",
            "SETNX c v",
        ]
    );
    assert_eq!(dirty(&t), 8);
    // An absolute time in the past is stored; the key then expires on access.
    assert_eq!(t.text("SET a v EXAT 1"), "+OK|");
    assert_eq!(t.text("GET a"), "$-1|");
    assert_eq!(effects(&mut t), ["SET a v PXAT 1000", "DEL a"]);
}

#[test]
fn set_and_get_resp3_nulls() {
    let mut t = TestEngine::new();
    t.text("HELLO 3");
    assert_eq!(t.text("GET nokey"), "_|");
    t.text("SET k v");
    assert_eq!(t.text("SET k v NX"), "_|");
    assert_eq!(t.text("MGET k nokey"), "*2|$1|v|_|");
    assert_eq!(t.text("GETEX nokey"), "_|");
    assert_eq!(t.text("GETDEL nokey"), "_|");
    assert_eq!(t.text("SETNX k v"), ":0|");
}

#[test]
fn getset_getdel() {
    let mut t = TestEngine::new();
    t.text("SET k v EX 100");
    assert_eq!(t.text("GETSET k w"), "$1|v|");
    assert_eq!(t.eng.dbs[0].expire_of(b"k"), NO_EXPIRE);
    assert_eq!(t.text("GETSET nokey 5"), "$-1|");
    assert_eq!(encoding(&t, "nokey"), "int");
    assert_eq!(t.text("GETDEL k"), "$1|w|");
    assert_eq!(t.text("GETDEL k"), "$-1|");
    t.eng.conf.lazyfree_lazy_user_del = true;
    t.text("GETDEL nokey");
    assert_eq!(
        effects(&mut t),
        [
            "SET k v PXAT 1700000100000",
            "SET k w",
            "SET nokey 5",
            "DEL k",
            "UNLINK nokey"
        ]
    );
    assert_eq!(dirty(&t), 5);
}

#[test]
fn getex_ttl_changes_and_their_effects() {
    let mut t = TestEngine::new();
    t.text("SET k 1 EX 100");
    effects(&mut t);
    assert_eq!(t.text("GETEX k"), "$1|1|");
    assert_eq!(t.text("GETEX k PERSIST"), "$1|1|");
    assert_eq!(t.text("GETEX k PERSIST"), "$1|1|"); // no TTL left: nothing recorded
    assert_eq!(t.text("GETEX k EX 100 EX 200"), "$1|1|");
    assert_eq!(t.eng.dbs[0].expire_of(b"k"), t.now_ms + 200_000);
    assert_eq!(t.text("GETEX k PERSIST PERSIST"), "$1|1|");
    assert_eq!(t.text("GETEX k PXAT 99999999999999"), "$1|1|");
    assert_eq!(t.text("GETEX k EXAT 1"), "$1|1|");
    assert_eq!(t.text("EXISTS k"), ":0|");
    assert_eq!(
        effects(&mut t),
        [
            "PERSIST k",
            "PEXPIREAT k 1700000200000",
            "PERSIST k",
            "PEXPIREAT k 99999999999999",
            "DEL k"
        ]
    );
    // A missing key answers null before the expiry value is looked at; an existing one
    // checks it.
    assert_eq!(t.text("GETEX nokey EX abc"), "$-1|");
    t.text("SET k 1");
    assert_eq!(
        t.text("GETEX k EX abc"),
        "-ERR value is not an integer or out of range|"
    );
}

#[test]
fn mget_mset_msetnx() {
    let mut t = TestEngine::new();
    assert_eq!(
        t.text("MSET a 1 b"),
        "-ERR wrong number of arguments for 'mset' command|"
    );
    assert_eq!(
        t.text("MSETNX a 1 b"),
        "-ERR wrong number of arguments for 'msetnx' command|"
    );
    assert_eq!(t.text("MSET a 1 b 2"), "+OK|");
    assert_eq!(t.text("MGET a b c"), "*3|$1|1|$1|2|$-1|");
    assert_eq!(t.text("MSETNX a 1 c 3"), ":0|");
    // The same key twice is fine: the last value stays.
    assert_eq!(t.text("MSETNX c 3 c 4"), ":1|");
    assert_eq!(t.text("GET c"), "$1|4|");
    assert_eq!(effects(&mut t), ["MSET a 1 b 2", "MSETNX c 3 c 4"]);
    assert_eq!(dirty(&t), 4);
}

#[test]
fn append_strlen_and_encodings() {
    let mut t = TestEngine::new();
    assert_eq!(t.text("APPEND k 12"), ":2|");
    assert_eq!(encoding(&t, "k"), "int");
    assert_eq!(t.text("APPEND k 3"), ":3|");
    assert_eq!(encoding(&t, "k"), "raw");
    assert_eq!(t.text("GET k"), "$3|123|");
    assert_eq!(t.text("INCR k"), ":124|");
    assert_eq!(t.text("STRLEN k"), ":3|");
    assert_eq!(t.text("STRLEN nokey"), ":0|");
    // Appending nothing still counts as a write, even to a new key.
    assert_eq!(t.text("APPEND k ''"), ":3|");
    assert_eq!(t.text("APPEND e ''"), ":0|");
    assert_eq!(t.text("EXISTS e"), ":1|");
    assert_eq!(encoding(&t, "e"), "embstr");
    assert_eq!(
        effects(&mut t),
        [
            "APPEND k 12",
            "APPEND k 3",
            "INCR k",
            "APPEND k ",
            "APPEND e "
        ]
    );
    t.run_args(vec!["SET".into(), "b".into(), b"\x00\xff\r\n"[..].into()]);
    assert_eq!(t.run("STRLEN b"), b":4\r\n");
    assert_eq!(t.run("GETRANGE b 1 2"), b"$2\r\n\xff\r\r\n");
}

#[test]
fn setrange_pads_and_limits() {
    let mut t = TestEngine::new();
    assert_eq!(t.text("SETRANGE k 0 hello"), ":5|");
    assert_eq!(encoding(&t, "k"), "raw");
    assert_eq!(t.text("SETRANGE k 10 world"), ":15|");
    assert_eq!(t.run("GET k"), b"$15\r\nhello\0\0\0\0\0world\r\n");
    assert_eq!(t.text("SETRANGE k -1 x"), "-ERR offset is out of range|");
    assert_eq!(
        t.text("SETRANGE k abc x"),
        "-ERR value is not an integer or out of range|"
    );
    // Writing nothing answers the length and changes nothing; on a missing key, 0 and no key.
    assert_eq!(t.text("SETRANGE k 536870912 ''"), ":15|");
    assert_eq!(t.text("SETRANGE n 5 ''"), ":0|");
    assert_eq!(t.text("EXISTS n"), ":0|");
    assert_eq!(
        t.text("SETRANGE n 536870912 x"),
        "-ERR string exceeds maximum allowed size (proto-max-bulk-len)|"
    );
    assert_eq!(
        t.text("SETRANGE n 9223372036854775807 x"),
        "-ERR string exceeds maximum allowed size (proto-max-bulk-len)|"
    );
    assert_eq!(
        t.text("SETRANGE n 9223372036854775806 xx"),
        "-ERR string exceeds maximum allowed size (proto-max-bulk-len)|"
    );
    t.text("SET num 12345");
    assert_eq!(t.text("SETRANGE num 0 -"), ":5|");
    assert_eq!(t.text("INCR num"), ":-2344|");
    assert_eq!(
        effects(&mut t),
        [
            "SETRANGE k 0 hello",
            "SETRANGE k 10 world",
            "SET num 12345",
            "SETRANGE num 0 -",
            "INCR num"
        ]
    );
    // With proto-max-bulk-len 1mb (Redis's minimum), as redis-server 7.0.15 answers.
    t.eng.conf.proto_max_bulk_len = 1024 * 1024;
    assert_eq!(t.text("SETRANGE s 1048575 x"), ":1048576|");
    assert_eq!(
        t.text("SETRANGE s 1048576 x"),
        "-ERR string exceeds maximum allowed size (proto-max-bulk-len)|"
    );
    assert_eq!(
        t.text("APPEND s y"),
        "-ERR string exceeds maximum allowed size (proto-max-bulk-len)|"
    );
    assert_eq!(t.text("APPEND s ''"), ":1048576|");
}

#[test]
fn getrange_index_rules() {
    let mut t = TestEngine::new();
    t.text("SET s \"This is a string\"");
    for (args, want) in [
        ("0 3", "$4|This|"),
        ("-3 -1", "$3|ing|"),
        ("0 -1", "$16|This is a string|"),
        ("10 100", "$6|string|"),
        ("100 200", "$0||"),
        ("-100 -200", "$0||"),
        ("-200 -100", "$1|T|"),
        ("5 3", "$0||"),
        (
            "-9223372036854775808 9223372036854775807",
            "$16|This is a string|",
        ),
    ] {
        assert_eq!(t.text(&format!("GETRANGE s {args}")), want, "{args}");
        assert_eq!(t.text(&format!("SUBSTR s {args}")), want, "{args}");
    }
    assert_eq!(
        t.text("GETRANGE s a 1"),
        "-ERR value is not an integer or out of range|"
    );
    assert_eq!(t.text("GETRANGE nokey 0 -1"), "$0||");
    assert_eq!(
        t.text("GETRANGE nokey a b"),
        "-ERR value is not an integer or out of range|"
    );
    t.text("SET n -12345");
    assert_eq!(t.text("GETRANGE n 1 2"), "$2|12|");
    t.text("SET e ''");
    assert_eq!(t.text("GETRANGE e 0 0"), "$0||");
    assert_eq!(t.text("GETRANGE e -1 0"), "$0||");
}

#[test]
fn incr_family() {
    let mut t = TestEngine::new();
    t.text("SET n 9223372036854775807");
    assert_eq!(
        t.text("INCR n"),
        "-ERR increment or decrement would overflow|"
    );
    assert_eq!(
        t.text("DECRBY n -9223372036854775808"),
        "-ERR decrement would overflow|"
    );
    assert_eq!(t.text("INCRBY n -9223372036854775808"), ":-1|");
    assert_eq!(
        t.text("INCRBY n 1.5"),
        "-ERR value is not an integer or out of range|"
    );
    for v in ["' 1'", "01", "-0", "123456789012345678901", "''"] {
        t.text(&format!("SET x {v}"));
        assert_eq!(
            t.text("INCR x"),
            "-ERR value is not an integer or out of range|",
            "{v}"
        );
    }
    t.text("SET t 5 EX 100");
    assert_eq!(t.text("DECR t"), ":4|");
    assert_eq!(t.eng.dbs[0].expire_of(b"t"), t.now_ms + 100_000);
    assert_eq!(t.text("DECRBY fresh 5"), ":-5|");
    let e = effects(&mut t);
    assert_eq!(
        e[0..2],
        ["SET n 9223372036854775807", "INCRBY n -9223372036854775808"]
    );
    assert_eq!(e[e.len() - 2..], ["DECR t", "DECRBY fresh 5"]);
}

#[test]
fn incrbyfloat_stores_a_plain_string_and_propagates_set_keepttl() {
    let mut t = TestEngine::new();
    assert_eq!(t.text("INCRBYFLOAT f 1.5"), "$3|1.5|");
    assert_eq!(t.text("INCRBYFLOAT f 1.5"), "$1|3|");
    assert_eq!(encoding(&t, "f"), "embstr");
    assert_eq!(t.text("INCRBYFLOAT f 0.1"), "$3|3.1|");
    // The nearest long double to 1e308, printed in full as `%.17Lf` prints it.
    assert!(t
        .text("INCRBYFLOAT big 1e308")
        .starts_with("$308|999999999999999999966858796558456456605600998474"));
    assert_eq!(
        t.text("INCRBYFLOAT f inf"),
        "-ERR increment would produce NaN or Infinity|"
    );
    assert_eq!(
        t.text("INCRBYFLOAT f abc"),
        "-ERR value is not a valid float|"
    );
    t.text("SET g abc EX 100");
    assert_eq!(
        t.text("INCRBYFLOAT g 1"),
        "-ERR value is not a valid float|"
    );
    t.text("SET g 10 EX 100");
    assert_eq!(t.text("INCRBYFLOAT g 0.1"), "$4|10.1|");
    assert_eq!(t.eng.dbs[0].expire_of(b"g"), t.now_ms + 100_000);
    let e = effects(&mut t);
    assert_eq!(
        e[0..3],
        ["SET f 1.5 KEEPTTL", "SET f 3 KEEPTTL", "SET f 3.1 KEEPTTL"]
    );
    assert_eq!(e[e.len() - 1], "SET g 10.1 KEEPTTL");
}

#[test]
fn lcs_replies_in_both_protocols() {
    let mut t = TestEngine::new();
    t.text("MSET key1 ohmytext key2 mynewtext");
    assert_eq!(t.text("LCS key1 key2"), "$6|mytext|");
    assert_eq!(t.text("LCS key1 key2 LEN"), ":6|");
    assert_eq!(
        t.text("LCS key1 key2 IDX"),
        "*4|$7|matches|*2|*2|*2|:4|:7|*2|:5|:8|*2|*2|:2|:3|*2|:0|:1|$3|len|:6|"
    );
    assert_eq!(
        t.text("LCS key1 key2 IDX MINMATCHLEN 4 WITHMATCHLEN"),
        "*4|$7|matches|*1|*3|*2|:4|:7|*2|:5|:8|:4|$3|len|:6|"
    );
    assert_eq!(t.text("LCS nokey key2 IDX"), "*4|$7|matches|*0|$3|len|:0|");
    assert_eq!(
        t.text("LCS key1 key2 LEN IDX"),
        "-ERR If you want both the length and indexes, please just use IDX.|"
    );
    assert_eq!(t.text("LCS key1 key2 MINMATCHLEN"), "-ERR syntax error|");
    assert_eq!(
        t.text("LCS key1 key2 MINMATCHLEN x"),
        "-ERR value is not an integer or out of range|"
    );
    t.text("HELLO 3");
    assert_eq!(
        t.text("LCS key1 key2 IDX"),
        "%2|$7|matches|*2|*2|*2|:4|:7|*2|:5|:8|*2|*2|:2|:3|*2|:0|:1|$3|len|:6|"
    );
    // The transient table is limited by proto-max-bulk-len: (1000+1)*(500+1)*4 bytes > 1mb.
    t.eng.conf.proto_max_bulk_len = 1024 * 1024;
    t.run_args(vec!["SET".into(), "a".into(), vec![b'x'; 1000].into()]);
    t.run_args(vec!["SET".into(), "b".into(), vec![b'y'; 500].into()]);
    assert_eq!(
        t.text("LCS a b"),
        "-ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len|"
    );
    assert!(effects(&mut t)
        .iter()
        .all(|e| e.starts_with("SET") || e.starts_with("MSET")));
}

#[test]
fn wrong_type_arms_keep_redis_order() {
    // Only strings exist so far; these checks fail before the type is looked at, as in Redis.
    let mut t = TestEngine::new();
    t.text("SET s v");
    assert_eq!(
        t.text("GETRANGE s a b"),
        "-ERR value is not an integer or out of range|"
    );
    assert_eq!(t.text("SETRANGE s -1 ''"), "-ERR offset is out of range|");
    assert_eq!(t.text("GETEX s FOO"), "-ERR syntax error|");
    assert_eq!(
        t.text("SET s x EX 0 GET"),
        "-ERR invalid expire time in 'set' command|"
    );
    let v = &t.eng.dbs[0].get_raw(b"s").expect("s exists").value;
    assert_eq!(v, &Value::Str(StrVal::encode(b"v")));
}
