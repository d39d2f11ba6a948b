//! Property tests of the collection types against the oracle: proptest draws a random sequence
//! (30-80 commands) of one type's deterministic commands on a few keys, the sequence runs on a
//! real redis-server 7.0 and on redoubt-server side by side, and every reply must be the same
//! bytes. After each case the whole state is compared too: keys, TYPE, OBJECT ENCODING, every
//! value (as a map or a sorted set where Redis's order is a hash order) and DEBUG DIGEST.
//!
//! Values come from a small alphabet plus small integers (so intsets, integer listpack
//! entries and equal scores happen) and a few long strings (so listpack -> hashtable/skiplist
//! and intset -> hashtable conversions happen; 7.0 lists are always quicklists, whose nodes
//! split and merge at `list-max-listpack-size`). Each type runs twice: with thresholds small
//! enough that a sequence crosses them many times, and with Redis's defaults.
//!
//! One pair of servers serves all cases of a test; every case starts with FLUSHALL, so
//! proptest's shrinking replays smaller sequences against the same live servers. A failure
//! prints the (shrunk) sequence with both replies. `PROPTEST_CASES` overrides the case count.

mod common;
mod types_gen;

use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::{Union, ValueTree};
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use redoubt_harness::reply::{canonical_sorted, escape_trunc};
use redoubt_harness::{must_connect, must_ok, must_start, Flavor, RawConn, ServerProcess, Value};
use std::collections::{BTreeMap, BTreeSet};
use types_gen::*;

/// Thresholds small enough that a 30-80 command sequence crosses them in both directions.
const SMALL: &[(&str, &str)] = &[
    ("list-max-listpack-size", "4"),
    ("hash-max-listpack-entries", "4"),
    ("hash-max-listpack-value", "8"),
    ("set-max-intset-entries", "4"),
    ("zset-max-listpack-entries", "4"),
    ("zset-max-listpack-value", "8"),
];

/// Cases per test when `PROPTEST_CASES` is not set: 4-9 s per test in a debug build.
const DEFAULT_CASES: u32 = 300;

struct Pair {
    // Held for their Drop, which stops the processes.
    _redis: ServerProcess,
    _redoubt: ServerProcess,
    want: RawConn,
    got: RawConn,
}

impl Pair {
    fn start(thresholds: &[(&str, &str)]) -> Pair {
        let mut directives = vec![("enable-debug-command", "yes")];
        directives.extend_from_slice(thresholds);
        let redis = must_start(Flavor::Redis, &directives);
        let redoubt = must_start(Flavor::Redoubt, &directives);
        let want = must_connect(&redis);
        let got = must_connect(&redoubt);
        Pair {
            _redis: redis,
            _redoubt: redoubt,
            want,
            got,
        }
    }

    fn both(&mut self, args: &[String]) -> (Vec<u8>, Vec<u8>) {
        (raw(&mut self.want, args), raw(&mut self.got, args))
    }
}

fn raw(c: &mut RawConn, args: &[String]) -> Vec<u8> {
    if let Err(e) = c.send_cmd(args) {
        panic!("sending {args:?}: {e}");
    }
    c.read_raw_reply()
}

fn show(b: &[u8]) -> String {
    escape_trunc(b, 300)
}

// ---------------------------------------------------------------------------------------------
// Running a case
// ---------------------------------------------------------------------------------------------

/// Commands whose reply order is a hash table's iteration order, which legitimately differs
/// between two servers (and between two runs of Redis): compared with their elements sorted.
const UNORDERED: &[&str] = &[
    "HKEYS", "HVALS", "HGETALL", "SMEMBERS", "SINTER", "SUNION", "SDIFF",
];

/// One case: the protocol for the whole sequence (RESP3 shows doubles, maps and sets) and the
/// commands.
fn case(commands: BoxedStrategy<Cmd>) -> impl Strategy<Value = (bool, Vec<Cmd>)> {
    (
        prop::bool::weighted(0.3),
        prop::collection::vec(commands, 30..80),
    )
}

fn run_case(
    pair: &mut Pair,
    resp3: bool,
    cmds: &[Cmd],
    seen: &mut BTreeSet<String>,
) -> Result<(), TestCaseError> {
    let (a, b) = pair.both(&cmd(&["FLUSHALL"]));
    assert_eq!(
        (a.as_slice(), b.as_slice()),
        (&b"+OK\r\n"[..], &b"+OK\r\n"[..])
    );
    // HELLO's reply names the server and its version: only its success is compared.
    let proto = if resp3 { "3" } else { "2" };
    let (a, b) = pair.both(&cmd(&["HELLO", proto]));
    assert!(a[0] != b'-' && b[0] != b'-', "HELLO failed");

    let mut log = Vec::new();
    for c in cmds {
        let (want, got) = pair.both(c);
        log.push(format!("{} -> {}", c.join(" "), show(&want)));
        let differ = if UNORDERED.contains(&c[0].as_str()) {
            canonical_sorted(&want) != canonical_sorted(&got)
        } else {
            want != got
        };
        if differ {
            return Err(TestCaseError::fail(format!(
                "reply differs (RESP{proto}) at command {} of {}:\n  {}\n  redis:   {}\n  \
                 redoubt: {}\nsequence so far (with Redis's replies):\n  {}",
                log.len(),
                cmds.len(),
                c.join(" "),
                show(&want),
                show(&got),
                log.join("\n  ")
            )));
        }
    }
    let (a, _) = pair.both(&cmd(&["HELLO", "2"]));
    assert!(a[0] != b'-', "HELLO 2 failed");
    if let Err(diff) = compare_state(pair, seen) {
        return Err(TestCaseError::fail(format!(
            "state differs after the sequence (RESP{proto}): {diff}\nsequence (with Redis's \
             replies):\n  {}",
            log.join("\n  ")
        )));
    }
    Ok(())
}

fn bulks(v: &Value) -> Vec<Vec<u8>> {
    match v {
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::Bulk(b) => b.to_vec(),
                other => panic!("expected bulk strings, got {other:?}"),
            })
            .collect(),
        other => panic!("expected an array, got {other:?}"),
    }
}

fn parsed(c: &mut RawConn, args: &[&str]) -> Value {
    c.cmd(args)
}

/// Keys, TYPE, OBJECT ENCODING and every value, then DEBUG DIGEST.
fn compare_state(pair: &mut Pair, seen: &mut BTreeSet<String>) -> Result<(), String> {
    let keys_of = |c: &mut RawConn| {
        let mut ks = bulks(&parsed(c, &["KEYS", "*"]));
        ks.sort();
        ks
    };
    let want_keys = keys_of(&mut pair.want);
    let got_keys = keys_of(&mut pair.got);
    if want_keys != got_keys {
        return Err(format!(
            "KEYS: redis {:?}, redoubt {:?}",
            want_keys.iter().map(|k| show(k)).collect::<Vec<_>>(),
            got_keys.iter().map(|k| show(k)).collect::<Vec<_>>()
        ));
    }
    for k in &want_keys {
        let k = String::from_utf8_lossy(k).into_owned();
        for probe in [
            cmd(&["TYPE", &k]),
            cmd(&["OBJECT", "ENCODING", &k]),
            cmd(&["DEBUG", "DIGEST-VALUE", &k]),
        ] {
            let (want, got) = pair.both(&probe);
            if want != got {
                return Err(format!(
                    "{}: redis {}, redoubt {}",
                    probe.join(" "),
                    show(&want),
                    show(&got)
                ));
            }
        }
        let want_type = parsed(&mut pair.want, &["TYPE", &k]);
        let want_enc = parsed(&mut pair.want, &["OBJECT", "ENCODING", &k]);
        let enc = match &want_enc {
            Value::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            other => return Err(format!("OBJECT ENCODING {k}: {other:?}")),
        };
        seen.insert(enc.clone());
        let (read, ordered): (Cmd, bool) = match &want_type {
            Value::Simple(t) if t == "list" => (cmd(&["LRANGE", &k, "0", "-1"]), true),
            Value::Simple(t) if t == "zset" => {
                (cmd(&["ZRANGE", &k, "0", "-1", "WITHSCORES"]), true)
            }
            // A listpack keeps insertion order and an intset is sorted, in both servers; a
            // hashtable's order is its hash function's.
            Value::Simple(t) if t == "hash" => (cmd(&["HGETALL", &k]), enc == "listpack"),
            Value::Simple(t) if t == "set" => (cmd(&["SMEMBERS", &k]), enc == "intset"),
            other => return Err(format!("unexpected TYPE {other:?} of {k}")),
        };
        let (want, got) = pair.both(&read);
        let same = if ordered {
            want == got
        } else {
            as_multiset(&want, read[0] == "HGETALL") == as_multiset(&got, read[0] == "HGETALL")
        };
        if !same {
            return Err(format!(
                "{} ({enc}): redis {}, redoubt {}",
                read.join(" "),
                show(&want),
                show(&got)
            ));
        }
    }
    let (want, got) = pair.both(&cmd(&["DEBUG", "DIGEST"]));
    if want != got {
        return Err(format!(
            "DEBUG DIGEST: redis {}, redoubt {}",
            show(&want),
            show(&got)
        ));
    }
    Ok(())
}

/// A RESP2 array of bulk strings as a multiset: of elements, or of field/value pairs.
fn as_multiset(raw: &[u8], pairs: bool) -> BTreeMap<Vec<Vec<u8>>, usize> {
    let v = match redoubt_resp::parse_value(raw) {
        Ok(Some((v, _))) => v,
        other => panic!("unparsable reply {}: {other:?}", show(raw)),
    };
    let items = bulks(&v);
    let mut out = BTreeMap::new();
    for chunk in items.chunks(if pairs { 2 } else { 1 }) {
        *out.entry(chunk.to_vec()).or_insert(0) += 1;
    }
    out
}

/// Runs the cases; `encodings` must all have been seen at the end of some case, so the test
/// cannot silently stop crossing the conversions it is meant to cover.
fn check(commands: BoxedStrategy<Cmd>, thresholds: &[(&str, &str)], encodings: &[&str]) {
    // The runner takes an `Fn`; cases run one at a time.
    let pair = std::cell::RefCell::new(Pair::start(thresholds));
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    let config = Config {
        cases,
        failure_persistence: None,
        // Shrinking replays against live servers: bound it so a failure reports in time.
        max_shrink_iters: 400,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let seen = std::cell::RefCell::new(BTreeSet::new());
    let result = runner.run(&case(commands), |(resp3, cmds)| {
        run_case(&mut pair.borrow_mut(), resp3, &cmds, &mut seen.borrow_mut())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let seen = seen.into_inner();
    for enc in encodings {
        assert!(
            seen.contains(*enc),
            "no case ended with a {enc} value (seen: {seen:?}): the generator no longer \
             reaches that encoding"
        );
    }
}

#[test]
fn lists_small_thresholds() {
    // Redis 7.0 lists are always quicklists; the small size makes them many-node ones, so
    // pushes, LINSERT, LSET and LTRIM split and merge nodes.
    check(list_cmd(), SMALL, &["quicklist"]);
}

#[test]
fn lists_default_thresholds() {
    check(list_cmd(), &[], &["quicklist"]);
}

#[test]
fn hashes_small_thresholds() {
    check(hash_cmd(), SMALL, &["listpack", "hashtable"]);
}

#[test]
fn hashes_default_thresholds() {
    check(hash_cmd(), &[], &["listpack", "hashtable"]);
}

#[test]
fn sets_small_thresholds() {
    check(set_cmd(), SMALL, &["intset", "hashtable"]);
}

#[test]
fn sets_default_thresholds() {
    check(set_cmd(), &[], &["intset", "hashtable"]);
}

#[test]
fn zsets_small_thresholds() {
    check(zset_cmd(), SMALL, &["listpack", "skiplist"]);
}

#[test]
fn zsets_default_thresholds() {
    check(zset_cmd(), &[], &["listpack", "skiplist"]);
}

#[test]
fn mixed_types_small_thresholds() {
    check(
        mixed_cmd(),
        SMALL,
        &["quicklist", "listpack", "hashtable", "intset", "skiplist"],
    );
}

#[test]
fn mixed_types_default_thresholds() {
    check(
        mixed_cmd(),
        &[],
        &["quicklist", "listpack", "hashtable", "intset"],
    );
}

// ---------------------------------------------------------------------------------------------
// The write path: effects replay to the same dataset
// ---------------------------------------------------------------------------------------------

/// Commands whose effect differs from the request: random choices (SPOP, and the read-only
/// random commands between them), blocking calls served at once or timing out, expiry set
/// with a relative time, and database switches.
fn effect_cmd() -> BoxedStrategy<Cmd> {
    let k = || key(MIXED_KEYS);
    Union::new_weighted(vec![
        (12, mixed_cmd()),
        (
            2,
            (k(), prop::option::of(0i64..4))
                .prop_map(|(k, n)| {
                    let mut c = cmd(&["SPOP", &k]);
                    c.extend(n.map(|n| n.to_string()));
                    c
                })
                .boxed(),
        ),
        (
            1,
            (
                select(vec!["SRANDMEMBER", "HRANDFIELD", "ZRANDMEMBER"]),
                k(),
                -3i64..4,
            )
                .prop_map(|(c, k, n)| cmd(&[c, &k, &n.to_string()]))
                .boxed(),
        ),
        (
            1,
            (k(), k(), side(), side())
                .prop_map(|(a, b, x, y)| cmd(&["BLMOVE", &a, &b, &x, &y, "0.01"]))
                .boxed(),
        ),
        (
            1,
            (k(), select(vec!["MIN", "MAX"]))
                .prop_map(|(k, w)| cmd(&["BZMPOP", "0.01", "1", &k, w, "COUNT", "2"]))
                .boxed(),
        ),
        (
            1,
            (k(), select(vec!["BLPOP", "BRPOP", "BZPOPMIN", "BZPOPMAX"]))
                .prop_map(|(k, c)| cmd(&[c, &k, "0.01"]))
                .boxed(),
        ),
        (
            1,
            (k(), 100i64..5000)
                .prop_map(|(k, s)| cmd(&["EXPIRE", &k, &s.to_string()]))
                .boxed(),
        ),
        (
            1,
            (0u8..3)
                .prop_map(|db| cmd(&["SELECT", &db.to_string()]))
                .boxed(),
        ),
    ])
    .boxed()
}

/// Runs a long random workload of every type (with transactions now and then) on an
/// in-process redoubt-server with small thresholds, then replays its replication stream into
/// a fresh server: same DEBUG DIGEST, and every key in every database has the same encoding.
#[test]
fn effects_replay_to_the_same_dataset_and_encodings() {
    let sink = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (port, server) = common::start_in_process(sink.clone(), SMALL);
    let mut c = RawConn::connect(port).expect("connect");
    let mut runner = TestRunner::new(Config::default());
    let strategy = prop::collection::vec(effect_cmd(), 8000);
    let workload = strategy
        .new_tree(&mut runner)
        .expect("a workload")
        .current();
    let mut in_multi = false;
    for (i, args) in workload.iter().enumerate() {
        // A transaction around every 25th run of three commands.
        if i % 75 == 0 {
            must_ok(&c.cmd(&["MULTI"]));
            in_multi = true;
        }
        let reply = c.cmd(args);
        if in_multi && i % 75 == 2 {
            let exec = c.cmd(&["EXEC"]);
            assert!(matches!(exec, Value::Array(_)), "EXEC: {exec:?}");
            in_multi = false;
        }
        if let Value::Error(e) = &reply {
            assert!(
                !e.starts_with("ERR Protocol") && !e.contains("unknown command"),
                "{args:?}: {e}"
            );
        }
    }
    if in_multi {
        c.cmd(&["EXEC"]);
    }
    let encodings = |c: &mut RawConn| {
        let mut out = Vec::new();
        for db in ["0", "1", "2"] {
            must_ok(&c.cmd(&["SELECT", db]));
            let mut keys = bulks(&c.cmd(&["KEYS", "*"]));
            keys.sort();
            for k in keys {
                let k = String::from_utf8_lossy(&k).into_owned();
                let enc = c.cmd(&["OBJECT", "ENCODING", &k]);
                out.push(format!("db{db} {k} {enc:?}"));
            }
        }
        must_ok(&c.cmd(&["SELECT", "0"]));
        out
    };
    let want_encodings = encodings(&mut c);
    assert!(want_encodings.len() > 3, "{want_encodings:?}");
    let want = c.cmd(&["DEBUG", "DIGEST"]);
    let stream = sink.lock().expect("sink").clone();
    let replica = common::assert_replays_to(&stream, &want, SMALL);
    let mut r = must_connect(&replica);
    assert_eq!(encodings(&mut r), want_encodings);

    c.send_cmd(&["SHUTDOWN", "NOSAVE"]).expect("shutdown");
    server.join().expect("in-process server stopped");
}

/// The effects themselves, not only their result: a long random workload of every type's
/// deterministic commands (with transactions) runs on redis-server 7.0.15 with an
/// `appendfsync always` AOF and on an in-process redoubt-server whose stream is tapped; the
/// two command sequences must be identical (what Redis writes to its AOF is what it
/// propagates to replicas).
#[test]
fn effects_are_the_ones_redis_propagates() {
    let sink = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (port, server) = common::start_in_process(sink.clone(), SMALL);
    let mut directives = vec![("appendonly", "yes"), ("appendfsync", "always")];
    directives.extend_from_slice(SMALL);
    let redis = must_start(Flavor::Redis, &directives);
    let mut ours = RawConn::connect(port).expect("connect");
    let mut theirs = must_connect(&redis);

    let mut runner = TestRunner::new(Config::default());
    // Each type on its own keys (few errors, many writes), all of them on shared keys, and
    // database switches.
    let any_cmd = Union::new_weighted(vec![
        (10, mixed_cmd()),
        (10, list_cmd()),
        (10, hash_cmd()),
        (10, set_cmd()),
        (10, zset_cmd()),
        // Database switches, also inside transactions: where SELECT goes in the stream.
        (
            1,
            (0u8..3)
                .prop_map(|db| cmd(&["SELECT", &db.to_string()]))
                .boxed(),
        ),
    ]);
    let workload = prop::collection::vec(any_cmd, 10000)
        .new_tree(&mut runner)
        .expect("a workload")
        .current();
    for (i, args) in workload.iter().enumerate() {
        let wrap = i % 50 == 0 && i + 3 <= workload.len();
        if wrap {
            ours.cmd(&["MULTI"]);
            theirs.cmd(&["MULTI"]);
        }
        let (a, b) = (raw(&mut ours, args), raw(&mut theirs, args));
        if UNORDERED.contains(&args[0].as_str()) {
            assert_eq!(canonical_sorted(&a), canonical_sorted(&b), "{args:?}");
        } else {
            assert_eq!(show(&a), show(&b), "{args:?}");
        }
        if i % 50 == 2 {
            let exec = cmd(&["EXEC"]);
            let (a, b) = (raw(&mut ours, &exec), raw(&mut theirs, &exec));
            let unordered = workload[i - 2..=i]
                .iter()
                .any(|c| UNORDERED.contains(&c[0].as_str()));
            if unordered {
                assert_eq!(canonical_sorted(&a), canonical_sorted(&b), "EXEC");
            } else {
                assert_eq!(show(&a), show(&b), "EXEC");
            }
        }
    }
    let aof = redis
        .dir()
        .join("appendonlydir")
        .join("appendonly.aof.1.incr.aof");
    let want = std::fs::read(&aof).unwrap_or_else(|e| panic!("{}: {e}", aof.display()));
    let got = sink.lock().expect("sink").clone();
    let commands = redoubt_engine::testing::stream_lines;
    let (want, got) = (commands(&want), commands(&got));
    assert!(want.len() > 3000, "{} effects", want.len());
    if let Some(i) = (0..want.len().max(got.len())).find(|&i| want.get(i) != got.get(i)) {
        let from = i.saturating_sub(8);
        panic!(
            "effect {i} differs:\n  redis:   {:?}\n  redoubt: {:?}\nredis before and after:\n  \
             {}\nredoubt:\n  {}",
            want.get(i),
            got.get(i),
            want[from..(i + 3).min(want.len())].join("\n  "),
            got[from..(i + 3).min(got.len())].join("\n  ")
        );
    }
    ours.send_cmd(&["SHUTDOWN", "NOSAVE"]).expect("shutdown");
    server.join().expect("in-process server stopped");
}

/// Lists with one-entry and 4 KB quicklist nodes, and inner nodes compressed on Redis's side
/// (redoubt accepts `list-compress-depth` without acting on it yet: nothing visible may
/// differ either way).
#[test]
fn lists_tiny_and_compressed_nodes() {
    check(
        list_cmd(),
        &[
            ("list-max-listpack-size", "1"),
            ("list-compress-depth", "1"),
        ],
        &["quicklist"],
    );
    check(
        list_cmd(),
        &[
            ("list-max-listpack-size", "-1"),
            ("list-compress-depth", "2"),
        ],
        &["quicklist"],
    );
}
