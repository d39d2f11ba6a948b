//! HyperLogLog command tests: replies, stored bytes and effects as a real redis-server
//! 7.0.15 gave them (replies over redis-cli; effects read from its appendonly file with
//! `appendfsync always`; bytes with GET; fingerprints with DEBUG DIGEST-VALUE).

use crate::testing::{decode_stream, TestEngine};
use bytes::Bytes;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    let s = s.trim();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex fixture"))
        .collect()
}

/// The bulk payload of a raw reply.
fn bulk(reply: &[u8]) -> Vec<u8> {
    let nl = reply.iter().position(|&b| b == b'\n').expect("bulk header");
    reply[nl + 1..reply.len() - 2].to_vec()
}

fn set_bytes(t: &mut TestEngine, key: &str, v: &[u8]) {
    let args = vec![
        Bytes::from_static(b"SET"),
        Bytes::copy_from_slice(key.as_bytes()),
        Bytes::copy_from_slice(v),
    ];
    assert_eq!(t.run_args(args), b"+OK\r\n");
}

/// PFADD of `e{from}..e{to-1}` as one command.
fn pfadd_range(t: &mut TestEngine, key: &str, from: usize, to: usize) -> String {
    let line = (from..to).fold(format!("PFADD {key}"), |l, i| l + &format!(" e{i}"));
    t.text(&line)
}

#[test]
fn pfadd_replies_bytes_and_effects() {
    let mut t = TestEngine::new();
    assert_eq!(t.text("PFADD h a b c"), ":1|");
    assert_eq!(
        hex(&bulk(&t.run("GET h"))),
        "48594c4c01000000000000000000008060f38050b1844bfb80425a"
    );
    assert_eq!(t.text("OBJECT ENCODING h"), "$3|raw|");
    assert_eq!(t.text("PFADD h a"), ":0|");
    assert_eq!(t.text("PFADD h"), ":0|");
    // A new key with no element: created (1) with its cache marked stale, as Redis.
    assert_eq!(t.text("PFADD e"), ":1|");
    assert_eq!(
        hex(&bulk(&t.run("GET e"))),
        "48594c4c0100000000000000000000807fff"
    );
    assert_eq!(t.stream_cmds(), "SELECT 0\nPFADD h a b c\nPFADD e");
}

#[test]
fn pfcount_refreshes_the_cache_and_records_it() {
    let mut t = TestEngine::new();
    t.run("PFADD h a b c");
    t.stream();
    assert_eq!(t.text("PFCOUNT h"), ":3|");
    assert_eq!(
        hex(&bulk(&t.run("GET h"))),
        "48594c4c01000000030000000000000060f38050b1844bfb80425a"
    );
    assert_eq!(t.stream_cmds(), "PFCOUNT h");
    // Cached: no change, nothing recorded; nor for several keys or a missing one.
    assert_eq!(t.text("PFCOUNT h"), ":3|");
    assert_eq!(t.text("PFCOUNT h nokey"), ":3|");
    assert_eq!(t.text("PFCOUNT nokey"), ":0|");
    assert_eq!(t.stream_cmds(), "");
    // WATCH sees the refresh (signalModifiedKey).
    t.run("PFADD h d");
    t.run("WATCH h");
    t.run("PFCOUNT h");
    t.run("MULTI");
    t.run("PING");
    assert_eq!(t.text("EXEC"), "*-1|");
}

#[test]
fn pfmerge_always_records_and_keeps_sparse_unless_a_source_is_dense() {
    let mut t = TestEngine::new();
    t.run("PFADD a x y");
    t.run("PFADD b z");
    t.stream();
    assert_eq!(t.text("PFMERGE m a b"), "+OK|");
    assert_eq!(t.text("PFDEBUG ENCODING m"), "+sparse|");
    assert_eq!(t.text("PFCOUNT m"), ":3|");
    assert_eq!(t.text("PFMERGE m"), "+OK|");
    assert_eq!(t.text("PFMERGE empty"), "+OK|");
    assert_eq!(t.text("PFCOUNT empty"), ":0|");
    assert_eq!(
        t.stream_cmds(),
        "PFMERGE m a b\nPFCOUNT m\nPFMERGE m\nPFMERGE empty\nPFCOUNT empty"
    );
    assert_eq!(t.text("PFDEBUG TODENSE b"), ":1|");
    assert_eq!(t.text("PFMERGE m2 a b"), "+OK|");
    assert_eq!(t.text("PFDEBUG ENCODING m2"), "+dense|");
    assert_eq!(t.text("PFCOUNT m2"), ":3|");
}

#[test]
fn pfdebug_subcommands() {
    let mut t = TestEngine::new();
    t.run("PFADD h a b c");
    t.stream();
    assert_eq!(
        t.text("PFDEBUG DECODE h"),
        "$44|Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603|"
    );
    assert_eq!(t.text("PFDEBUG encoding h"), "+sparse|");
    assert_eq!(
        t.text("PFDEBUG nope h"),
        "-ERR Unknown PFDEBUG subcommand 'nope'|"
    );
    assert_eq!(
        t.text("PFDEBUG nope nokey"),
        "-ERR The specified key does not exist|"
    );
    assert_eq!(t.stream_cmds(), "");
    let regs = t.run("PFDEBUG GETREG h");
    assert!(regs.starts_with(b"*16384\r\n:0\r\n"));
    assert_eq!(regs.windows(4).filter(|w| w == b":1\r\n").count(), 2);
    assert_eq!(regs.windows(4).filter(|w| w == b":2\r\n").count(), 1);
    assert_eq!(t.stream_cmds(), "PFDEBUG GETREG h");
    assert_eq!(t.text("PFDEBUG ENCODING h"), "+dense|");
    assert_eq!(t.text("PFDEBUG TODENSE h"), ":0|");
    assert_eq!(
        t.text("PFDEBUG DECODE h"),
        "-ERR HLL encoding is not sparse|"
    );
    assert_eq!(t.text("STRLEN h"), ":12304|");
    assert_eq!(t.stream_cmds(), "");
    t.run("PFADD s a");
    t.stream();
    assert_eq!(t.text("PFDEBUG TODENSE s"), ":1|");
    assert_eq!(t.stream_cmds(), "PFDEBUG TODENSE s");
}

#[test]
fn wrong_types_invalid_and_corrupt_values() {
    let mut t = TestEngine::new();
    let wrongtype = "-WRONGTYPE Operation against a key holding the wrong kind of value|";
    let not_hll = "-WRONGTYPE Key is not a valid HyperLogLog string value.|";
    let corrupt = "-INVALIDOBJ Corrupted HLL object detected|";
    t.run("LPUSH l a");
    assert_eq!(t.text("PFADD l a"), wrongtype);
    assert_eq!(t.text("PFCOUNT l"), wrongtype);
    assert_eq!(t.text("PFMERGE d l"), wrongtype);
    t.run("SET s hello");
    assert_eq!(t.text("PFADD s a"), not_hll);
    assert_eq!(t.text("PFCOUNT x s"), not_hll);
    assert_eq!(t.text("PFDEBUG GETREG s"), not_hll);
    t.run("SET n 12345678901234567");
    assert_eq!(t.text("PFCOUNT n"), not_hll);
    // A sparse HLL whose runs no longer cover 16384 registers.
    t.run("PFADD c a b c");
    t.run("SETRANGE c 17 \\xff");
    t.stream();
    assert_eq!(t.text("PFCOUNT c"), corrupt);
    assert_eq!(t.text("PFCOUNT c c"), corrupt);
    assert_eq!(t.text("PFMERGE d c"), corrupt);
    assert_eq!(t.text("PFDEBUG TODENSE c"), corrupt);
    assert_eq!(t.text("EXISTS d"), ":0|");
    assert_eq!(t.stream_cmds(), "");
    // A dense HLL must be exactly 12304 bytes.
    t.run("PFADD dd a");
    t.run("PFDEBUG TODENSE dd");
    t.run("APPEND dd x");
    assert_eq!(t.text("PFCOUNT dd"), not_hll);
}

#[test]
fn promotion_follows_hll_sparse_max_bytes() {
    let mut t = TestEngine::new();
    t.run("CONFIG SET hll-sparse-max-bytes 100");
    pfadd_range(&mut t, "h", 0, 30);
    assert_eq!(t.text("PFDEBUG ENCODING h"), "+dense|");
    t.run("CONFIG SET hll-sparse-max-bytes 3000");
    pfadd_range(&mut t, "g", 0, 30);
    assert_eq!(t.text("PFDEBUG ENCODING g"), "+sparse|");
    assert_eq!(t.text("PFCOUNT g"), t.text("PFCOUNT h"));
}

/// Built by PFADD in the same batches on a real redis-server 7.0.15: the same count and
/// the same stored bytes, fingerprinted by DEBUG DIGEST-VALUE after PFCOUNT.
#[test]
fn same_pfadds_give_redis_bytes() {
    let mut t = TestEngine::new();
    let cases = [
        (
            100,
            ":285|",
            "+sparse|",
            ":100|",
            "a952ef4953eb3a85ae5826252d367e4d4c6630d6",
        ),
        (
            1000,
            ":1906|",
            "+sparse|",
            ":1008|",
            "61024d4474bc43c6793aad06cd45f8b8aac6a256",
        ),
        (
            5000,
            ":12304|",
            "+dense|",
            ":4968|",
            "41eed38b9ad2c11e4672810a3957ffdde04106e3",
        ),
    ];
    for (n, len, enc, card, digest) in cases {
        t.run("DEL x");
        for from in (0..n).step_by(1000) {
            pfadd_range(&mut t, "x", from, (from + 1000).min(n));
        }
        assert_eq!(t.text("STRLEN x"), len, "n={n}");
        assert_eq!(t.text("PFDEBUG ENCODING x"), enc, "n={n}");
        assert_eq!(t.text("PFCOUNT x"), card, "n={n}");
        assert_eq!(
            t.text("DEBUG DIGEST-VALUE x"),
            format!("*1|+{digest}|"),
            "n={n}"
        );
    }
}

/// HLLs made by redis-server 7.0.15 (`PFADD s e0 .. e99`, and `PFADD d` of e0..e4999 in
/// five commands of 1000, then `GET` before any PFCOUNT so the cache is stale, saved as
/// hex in `testdata/`): Redoubt counts them as Redis did.
#[test]
fn redis_made_hlls_count_the_same() {
    let mut t = TestEngine::new();
    let sparse = unhex(include_str!("testdata/hll_sparse_100.hex"));
    let dense = unhex(include_str!("testdata/hll_dense_5000.hex"));
    assert_eq!((sparse.len(), dense.len()), (285, 12304));
    set_bytes(&mut t, "s", &sparse);
    set_bytes(&mut t, "d", &dense);
    assert_eq!(t.text("PFDEBUG ENCODING s"), "+sparse|");
    assert_eq!(t.text("PFDEBUG ENCODING d"), "+dense|");
    assert_eq!(t.text("PFCOUNT s d"), ":4968|");
    assert_eq!(t.text("PFCOUNT s"), ":100|");
    assert_eq!(t.text("PFCOUNT d"), ":4968|");
    // Redis's multi-key count with a third HLL of 300 other elements was 5263.
    pfadd_range(&mut t, "t", 0, 0);
    let line = (0..300).fold("PFADD t".to_string(), |l, i| l + &format!(" x{i}"));
    t.run(&line);
    assert_eq!(t.text("PFCOUNT s d t"), ":5263|");
    assert_eq!(t.text("PFCOUNT t"), ":299|");
    // The same elements added here give the same bytes Redis stored.
    pfadd_range(&mut t, "s2", 0, 100);
    assert_eq!(bulk(&t.run("GET s2")), sparse);
}

#[test]
fn replaying_the_stream_gives_the_same_digest() {
    let mut t = TestEngine::new();
    for cmd in [
        "PFADD a x y z",
        "PFCOUNT a",
        "PFADD b 1 2 3 4 5",
        "PFMERGE c a b",
        "PFCOUNT c",
        "PFDEBUG TODENSE b",
        "PFMERGE d a b",
        "PFCOUNT d a",
        "PFDEBUG GETREG a",
        "PFCOUNT a",
    ] {
        t.run(cmd);
    }
    pfadd_range(&mut t, "big", 0, 3000);
    t.run("PFCOUNT big");
    let stream = t.stream();
    let mut replica = TestEngine::new();
    for cmd in decode_stream(&stream) {
        replica.run_args(cmd);
    }
    assert_eq!(t.text("DEBUG DIGEST"), replica.text("DEBUG DIGEST"));
    assert_ne!(
        t.text("DEBUG DIGEST"),
        TestEngine::new().text("DEBUG DIGEST")
    );
}

#[test]
fn pfselftest_passes() {
    let mut t = TestEngine::new();
    assert_eq!(t.text("PFSELFTEST"), "+OK|");
}
