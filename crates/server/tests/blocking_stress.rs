//! Blocking pops under load, over real sockets, against an in-process redoubt-server whose
//! replication stream is captured at the end-of-batch step (as in write_path.rs).
//!
//! - `no_loss_no_duplication_and_replay`: 40 consumers block with BLPOP BRPOP BLMOVE
//!   BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX BZMPOP on several keys with timeouts 0, 0.05 and 0.5;
//!   producers push unique elements with plain commands and inside MULTI/EXEC; an unblocker
//!   sends CLIENT UNBLOCK (TIMEOUT and ERROR) to random consumers; other clients block and
//!   disconnect. At the end every pushed element was popped by exactly one client or is still
//!   in the database, nothing else was ever returned, and replaying the captured stream into a
//!   fresh redoubt-server gives the same DEBUG DIGEST.
//! - `fifo_service_order`: clients blocked on one key are served in the order they blocked,
//!   by a plain push and by pushes inside MULTI/EXEC (served only after EXEC); the same
//!   scenario gives the same transcript on redis-server 7.0.15.
//!
//! Waiting uses deadlines on observable state (INFO's blocked_clients, replies), never sleeps.

mod common;

use common::{assert_replays_to, start_in_process};
use redoubt_harness::{must_start, try_wait_for, wait_for, Flavor, RawConn, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const LISTS: &[&str] = &["q0", "q1", "q2", "q3"];
const ZSETS: &[&str] = &["z0", "z1", "z2"];
/// Keys only the disconnecting clients block on; pushed to after they are all gone.
const DEAD_LIST: &str = "gone-list";
const DEAD_ZSET: &str = "gone-zset";

const CONSUMERS: usize = 40;
const PRODUCERS: usize = 4;
const PUSHES_PER_PRODUCER: usize = 500;
const DISCONNECTERS: usize = 4;

/// How long one blocking reply may take before the test calls the server stuck.
const REPLY_DEADLINE: Duration = Duration::from_secs(30);

/// xorshift64: a deterministic PRNG per thread, seeded from the thread's index.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
    /// 1..=max distinct keys from `from`.
    fn keys(&mut self, from: &[&str], max: usize) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for _ in 0..1 + self.below(max) {
            let k = self.pick(from).to_string();
            if !out.contains(&k) {
                out.push(k);
            }
        }
        out
    }
}

fn bulk(v: &Value) -> String {
    match v {
        Value::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

fn items(v: &Value) -> &[Value] {
    match v {
        Value::Array(a) => a,
        other => panic!("expected an array, got {other:?}"),
    }
}

fn blocked_clients(c: &mut RawConn) -> usize {
    let text = bulk(&c.cmd(&["INFO", "clients"]));
    text.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("blocked_clients in INFO")
}

fn client_id(c: &mut RawConn) -> i64 {
    match c.cmd(&["CLIENT", "ID"]) {
        Value::Int(n) => n,
        other => panic!("CLIENT ID: {other:?}"),
    }
}

/// What one consumer saw.
#[derive(Default)]
struct Seen {
    /// Elements and members popped for good (BLPOP, BRPOP, BLMPOP, BZPOP*, BZMPOP).
    popped: Vec<String>,
    /// Elements BLMOVE/BRPOPLPUSH moved: they stay in the database, under another key.
    moved: Vec<String>,
    timeouts: usize,
    unblocked_errors: usize,
}

/// One blocking command with random keys and a timeout of 0, 0.05 or 0.5 seconds.
fn blocking_command(rng: &mut Rng) -> Vec<String> {
    let timeout = rng.pick(&["0", "0.05", "0.5"]).to_string();
    let s = |x: &str| x.to_string();
    match rng.below(8) {
        0 | 1 => {
            let mut c = vec![s(if rng.below(2) == 0 { "BLPOP" } else { "BRPOP" })];
            c.extend(rng.keys(LISTS, 3));
            c.push(timeout);
            c
        }
        2 => vec![
            s("BLMOVE"),
            s(rng.pick(LISTS)),
            s(rng.pick(LISTS)),
            s(rng.pick(&["LEFT", "RIGHT"])),
            s(rng.pick(&["LEFT", "RIGHT"])),
            timeout,
        ],
        3 => vec![
            s("BRPOPLPUSH"),
            s(rng.pick(LISTS)),
            s(rng.pick(LISTS)),
            timeout,
        ],
        4 => {
            let ks = rng.keys(LISTS, 3);
            let mut c = vec![s("BLMPOP"), timeout, ks.len().to_string()];
            c.extend(ks);
            c.push(s(rng.pick(&["LEFT", "RIGHT"])));
            c.extend([s("COUNT"), (1 + rng.below(3)).to_string()]);
            c
        }
        5 | 6 => {
            let mut c = vec![s(rng.pick(&["BZPOPMIN", "BZPOPMAX"]))];
            c.extend(rng.keys(ZSETS, 2));
            c.push(timeout);
            c
        }
        _ => {
            let ks = rng.keys(ZSETS, 2);
            let mut c = vec![s("BZMPOP"), timeout, ks.len().to_string()];
            c.extend(ks);
            c.push(s(rng.pick(&["MIN", "MAX"])));
            c.extend([s("COUNT"), (1 + rng.below(3)).to_string()]);
            c
        }
    }
}

/// Records what a reply to `cmd` handed over.
fn record(cmd: &[String], reply: &Value, seen: &mut Seen) {
    match reply {
        Value::Nil => seen.timeouts += 1,
        Value::Error(e) if e.starts_with("UNBLOCKED") => seen.unblocked_errors += 1,
        Value::Error(e) => panic!("{cmd:?} failed: {e}"),
        Value::Bulk(b) => {
            assert!(
                cmd[0] == "BLMOVE" || cmd[0] == "BRPOPLPUSH",
                "{cmd:?} got {reply:?}"
            );
            seen.moved.push(String::from_utf8_lossy(b).into_owned());
        }
        Value::Array(a) => match cmd[0].as_str() {
            // [key, element]
            "BLPOP" | "BRPOP" => seen.popped.push(bulk(&a[1])),
            // [key, member, score]
            "BZPOPMIN" | "BZPOPMAX" => seen.popped.push(bulk(&a[1])),
            // [key, [element...]]
            "BLMPOP" => seen.popped.extend(items(&a[1]).iter().map(bulk)),
            // [key, [[member, score]...]]
            "BZMPOP" => seen
                .popped
                .extend(items(&a[1]).iter().map(|p| bulk(&items(p)[0]))),
            _ => panic!("{cmd:?} got {reply:?}"),
        },
        other => panic!("{cmd:?} got {other:?}"),
    }
}

fn consumer(port: u16, index: usize, stop: &AtomicBool, ids: &Mutex<Vec<i64>>) -> Seen {
    let mut c = RawConn::connect(port).expect("connect");
    ids.lock().expect("ids").push(client_id(&mut c));
    let mut rng = Rng::new(1000 + index as u64);
    let mut seen = Seen::default();
    while !stop.load(Ordering::SeqCst) {
        let cmd = blocking_command(&mut rng);
        c.send_cmd(&cmd).expect("send");
        match c.read_reply(Instant::now() + REPLY_DEADLINE) {
            Ok(reply) => record(&cmd, &reply, &mut seen),
            Err(e) => panic!("consumer {index}: {cmd:?}: {e}"),
        }
    }
    seen
}

/// Pushes unique elements ("L<p>:<n>") and members ("Z<p>:<n>", score n); returns them all.
fn producer(port: u16, index: usize) -> Vec<String> {
    let mut c = RawConn::connect(port).expect("connect");
    let mut rng = Rng::new(2000 + index as u64);
    let mut pushed = Vec::new();
    let mut n = 0usize;
    let mut fresh = |list: bool, pushed: &mut Vec<String>| {
        n += 1;
        let e = format!("{}{index}:{n}", if list { "L" } else { "Z" });
        pushed.push(e.clone());
        (e, n.to_string())
    };
    for _ in 0..PUSHES_PER_PRODUCER {
        let in_multi = rng.below(5) == 0;
        if in_multi {
            must_simple_ok(&c.cmd(&["MULTI"]));
        }
        for _ in 0..if in_multi { 1 + rng.below(4) } else { 1 } {
            let cmd: Vec<String> = if rng.below(3) == 0 {
                let mut cmd = vec!["ZADD".to_string(), rng.pick(ZSETS).to_string()];
                for _ in 0..1 + rng.below(3) {
                    let (m, score) = fresh(false, &mut pushed);
                    cmd.extend([score, m]);
                }
                cmd
            } else {
                let mut cmd = vec![
                    rng.pick(&["LPUSH", "RPUSH"]).to_string(),
                    rng.pick(LISTS).to_string(),
                ];
                for _ in 0..1 + rng.below(3) {
                    cmd.push(fresh(true, &mut pushed).0);
                }
                cmd
            };
            let reply = c.cmd(&cmd);
            let ok = if in_multi {
                matches!(&reply, Value::Simple(s) if s == "QUEUED")
            } else {
                matches!(reply, Value::Int(_))
            };
            assert!(ok, "{cmd:?}: {reply:?}");
        }
        if in_multi {
            let reply = c.cmd(&["EXEC"]);
            assert!(
                items(&reply).iter().all(|r| matches!(r, Value::Int(_))),
                "EXEC: {reply:?}"
            );
        }
    }
    pushed
}

fn must_simple_ok(v: &Value) {
    assert!(matches!(v, Value::Simple(s) if s == "OK"), "{v:?}");
}

/// Blocks on keys nobody pushes to until the end, then drops the connection: half the time
/// once CLIENT LIST shows it blocked, otherwise maybe before the server has read the command.
fn disconnecter(port: u16, index: usize) {
    let mut rng = Rng::new(3000 + index as u64);
    let mut observer = RawConn::connect(port).expect("connect");
    for _ in 0..10 {
        let mut c = RawConn::connect(port).expect("connect");
        let id = format!("id={} ", client_id(&mut c));
        let cmd: &[&str] = match rng.below(3) {
            0 => &["BLPOP", DEAD_LIST, "0"],
            1 => &["BLMOVE", DEAD_LIST, "q0", "LEFT", "RIGHT", "0"],
            _ => &["BZPOPMIN", DEAD_ZSET, "0"],
        };
        c.send_cmd(cmd).expect("send");
        if rng.below(2) == 0 {
            // Not asserted: the unblocker may release this client first.
            let _ = try_wait_for(Duration::from_secs(5), || {
                bulk(&observer.cmd(&["CLIENT", "LIST"]))
                    .lines()
                    .any(|l| l.starts_with(&id) && l.contains(" flags=b "))
            });
        }
        drop(c);
    }
}

/// CLIENT UNBLOCK for every client CLIENT LIST shows as blocked (`flags=b`); returns how many.
fn unblock_all(admin: &mut RawConn) -> usize {
    let list = bulk(&admin.cmd(&["CLIENT", "LIST"]));
    let mut n = 0;
    for line in list.lines().filter(|l| l.contains(" flags=b ")) {
        let id = line
            .split(' ')
            .find_map(|f| f.strip_prefix("id="))
            .expect("id= in CLIENT LIST");
        if let Value::Int(1) = admin.cmd(&["CLIENT", "UNBLOCK", id]) {
            n += 1;
        }
    }
    n
}

fn list_contents(c: &mut RawConn, key: &str) -> Vec<String> {
    items(&c.cmd(&["LRANGE", key, "0", "-1"]))
        .iter()
        .map(bulk)
        .collect()
}

fn zset_members(c: &mut RawConn, key: &str) -> Vec<String> {
    items(&c.cmd(&["ZRANGE", key, "0", "-1"]))
        .iter()
        .map(bulk)
        .collect()
}

#[test]
fn no_loss_no_duplication_and_replay() {
    let sink = Arc::new(Mutex::new(Vec::new()));
    let (port, server) = start_in_process(sink.clone(), &[]);
    let mut admin = RawConn::connect(port).expect("connect");
    let stop = Arc::new(AtomicBool::new(false));
    let ids = Arc::new(Mutex::new(Vec::new()));
    let finished = Arc::new(AtomicUsize::new(0));

    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|i| {
            let (stop, ids, finished) = (stop.clone(), ids.clone(), finished.clone());
            std::thread::spawn(move || {
                let seen = consumer(port, i, &stop, &ids);
                finished.fetch_add(1, Ordering::SeqCst);
                seen
            })
        })
        .collect();
    wait_for("every consumer connected", Duration::from_secs(30), || {
        ids.lock().expect("ids").len() == CONSUMERS
    });
    let disconnecters: Vec<_> = (0..DISCONNECTERS)
        .map(|i| std::thread::spawn(move || disconnecter(port, i)))
        .collect();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|i| std::thread::spawn(move || producer(port, i)))
        .collect();

    // CLIENT UNBLOCK of a random blocked client while the producers run (paced by the
    // round trips of CLIENT LIST).
    let mut rng = Rng::new(4000);
    let mut unblocks = 0;
    while !producers.iter().all(|p| p.is_finished()) {
        let list = bulk(&admin.cmd(&["CLIENT", "LIST"]));
        let blocked: Vec<&str> = list
            .lines()
            .filter(|l| l.contains(" flags=b "))
            .filter_map(|l| l.split(' ').find_map(|f| f.strip_prefix("id=")))
            .collect();
        if blocked.is_empty() {
            continue;
        }
        let id = blocked[rng.below(blocked.len())];
        let how = rng.pick(&["TIMEOUT", "ERROR"]);
        if let Value::Int(1) = admin.cmd(&["CLIENT", "UNBLOCK", id, how]) {
            unblocks += 1;
        }
    }
    let mut pushed: Vec<String> = Vec::new();
    for p in producers {
        pushed.extend(p.join().expect("producer"));
    }
    for d in disconnecters {
        d.join().expect("disconnecter");
    }

    // Stop: consumers finish their current call; those blocked with timeout 0 are released.
    stop.store(true, Ordering::SeqCst);
    wait_for("every consumer to finish", Duration::from_secs(60), || {
        unblock_all(&mut admin);
        finished.load(Ordering::SeqCst) == CONSUMERS
    });
    let mut seen = Vec::new();
    for c in consumers {
        seen.push(c.join().expect("consumer"));
    }
    // The disconnected clients are gone for good: nothing blocks, and a push to their keys
    // stays in the database instead of going to a dead client.
    wait_for("no blocked client left", Duration::from_secs(10), || {
        blocked_clients(&mut admin) == 0
    });
    admin.cmd(&["RPUSH", DEAD_LIST, "after-1", "after-2"]);
    admin.cmd(&["ZADD", DEAD_ZSET, "1", "after-z"]);
    assert_eq!(list_contents(&mut admin, DEAD_LIST), ["after-1", "after-2"]);
    assert_eq!(zset_members(&mut admin, DEAD_ZSET), ["after-z"]);

    // Accounting: each pushed element popped exactly once or still stored, nothing invented.
    let mut count: HashMap<&str, usize> = pushed.iter().map(|e| (e.as_str(), 0)).collect();
    assert_eq!(count.len(), pushed.len(), "pushed elements are unique");
    let mut stored = Vec::new();
    for k in LISTS {
        stored.extend(list_contents(&mut admin, k));
    }
    for k in ZSETS {
        stored.extend(zset_members(&mut admin, k));
    }
    let popped: Vec<&String> = seen.iter().flat_map(|s| &s.popped).collect();
    for e in popped.iter().copied().chain(&stored) {
        match count.get_mut(e.as_str()) {
            Some(n) => *n += 1,
            None => panic!("{e} was returned or stored but never pushed"),
        }
    }
    let lost: Vec<_> = count.iter().filter(|(_, n)| **n == 0).collect();
    let doubled: Vec<_> = count.iter().filter(|(_, n)| **n > 1).collect();
    assert!(lost.is_empty(), "lost elements: {lost:?}");
    assert!(doubled.is_empty(), "elements seen twice: {doubled:?}");
    for m in seen.iter().flat_map(|s| &s.moved) {
        assert!(count.contains_key(m.as_str()), "moved {m}, never pushed");
    }
    let moved: usize = seen.iter().map(|s| s.moved.len()).sum();
    let timeouts: usize = seen.iter().map(|s| s.timeouts).sum();
    let unblocked: usize = seen.iter().map(|s| s.unblocked_errors).sum();
    // The mix must really have happened, or the test proves little.
    assert!(popped.len() > pushed.len() / 4, "{} popped", popped.len());
    assert!(moved > 0 && timeouts > 0 && unblocked > 0 && unblocks > 0);
    eprintln!(
        "pushed {} popped {} moved {moved} stored {} timeouts {timeouts} UNBLOCKED {unblocked} \
         unblocks {unblocks}",
        pushed.len(),
        popped.len(),
        stored.len()
    );

    let want = admin.cmd(&["DEBUG", "DIGEST"]);
    let stream = sink.lock().expect("sink").clone();
    assert_replays_to(&stream, &want, &[]);

    admin.send_cmd(&["SHUTDOWN", "NOSAVE"]).expect("shutdown");
    server.join().expect("in-process server stopped");
}

/// Clients block one after another on the same key (each only once the previous one shows
/// in blocked_clients); the transcript of what each got, in blocking order.
fn fifo_scenario(port: u16) -> Vec<String> {
    let mut p = RawConn::connect(port).expect("connect");
    let mut observer = RawConn::connect(port).expect("connect");
    let mut t = Vec::new();
    let block = |cmds: &[Vec<String>], observer: &mut RawConn| -> Vec<RawConn> {
        let mut clients = Vec::new();
        for (i, cmd) in cmds.iter().enumerate() {
            let mut c = RawConn::connect(port).expect("connect");
            c.send_cmd(cmd).expect("send");
            wait_for("the client to block", Duration::from_secs(10), || {
                blocked_clients(observer) == i + 1
            });
            clients.push(c);
        }
        clients
    };
    let show = |v: Value| format!("{v:?}");
    let served = |c: &mut RawConn| {
        show(
            c.read_reply(Instant::now() + REPLY_DEADLINE)
                .expect("served"),
        )
    };
    let strings = |parts: &[&str]| parts.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    // Ten clients on one key (each also on a key of its own), one push of ten elements:
    // client i gets element i.
    let cmds: Vec<Vec<String>> = (0..10)
        .map(|i| strings(&["BLPOP", &format!("other{i}"), "f", "0"]))
        .collect();
    let mut clients = block(&cmds, &mut observer);
    let mut push = strings(&["RPUSH", "f"]);
    push.extend((0..10).map(|i| format!("e{i}")));
    t.push(show(p.cmd(&push)));
    for c in clients.iter_mut() {
        t.push(served(c));
    }
    drop(clients);

    // Pushes inside MULTI/EXEC serve nobody until EXEC; then the first blocked is first.
    let mut clients = block(
        &[
            strings(&["BRPOP", "g", "0"]),
            strings(&["BLMPOP", "0", "1", "g", "LEFT", "COUNT", "2"]),
            strings(&["BLMOVE", "g", "moved", "RIGHT", "LEFT", "0"]),
            strings(&["BLPOP", "g", "0"]),
        ],
        &mut observer,
    );
    t.push(show(p.cmd(&["MULTI"])));
    t.push(show(p.cmd(&["RPUSH", "g", "a"])));
    t.push(show(p.cmd(&["RPUSH", "g", "b", "c", "d"])));
    t.push(show(p.cmd(&["LPUSH", "g", "z"])));
    t.push(format!(
        "blocked during MULTI: {}",
        blocked_clients(&mut observer)
    ));
    t.push(show(p.cmd(&["EXEC"])));
    for c in clients.iter_mut().take(3) {
        t.push(served(c));
    }
    t.push(format!("still blocked: {}", blocked_clients(&mut observer)));
    t.push(show(p.cmd(&["RPUSH", "g", "last"])));
    t.push(served(&mut clients[3]));
    drop(clients);

    // Sorted sets: BZPOPMIN/BZMPOP/BZPOPMAX clients in blocking order.
    let mut clients = block(
        &[
            strings(&["BZPOPMIN", "zq", "0"]),
            strings(&["BZMPOP", "0", "1", "zq", "MAX", "COUNT", "2"]),
            strings(&["BZPOPMAX", "zq", "0"]),
        ],
        &mut observer,
    );
    t.push(show(p.cmd(&[
        "ZADD", "zq", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e",
    ])));
    for c in clients.iter_mut() {
        t.push(served(c));
    }
    t.push(show(p.cmd(&["ZRANGE", "zq", "0", "-1", "WITHSCORES"])));
    t.push(show(p.cmd(&["LRANGE", "moved", "0", "-1"])));
    t
}

#[test]
fn fifo_service_order() {
    let redis = must_start(Flavor::Redis, &[]);
    let want = fifo_scenario(redis.port());

    let sink = Arc::new(Mutex::new(Vec::new()));
    let (port, server) = start_in_process(sink.clone(), &[]);
    let got = fifo_scenario(port);
    assert_eq!(got, want);
    // And the order is the documented one, not merely Redis's by accident.
    for i in 0..10 {
        assert!(
            want[1 + i].contains(&format!("\"e{i}\"")),
            "client {i} got {}",
            want[1 + i]
        );
    }

    let mut admin = RawConn::connect(port).expect("connect");
    let digest = admin.cmd(&["DEBUG", "DIGEST"]);
    let stream = sink.lock().expect("sink").clone();
    assert_replays_to(&stream, &digest, &[]);
    admin.send_cmd(&["SHUTDOWN", "NOSAVE"]).expect("shutdown");
    server.join().expect("in-process server stopped");
}

// ---------------------------------------------------------------------------------------------
// Random blocking scenarios, differential against redis-server 7.0.15
// ---------------------------------------------------------------------------------------------

mod scenarios {
    use super::*;
    use proptest::prelude::*;
    use proptest::sample::select;
    use proptest::test_runner::{Config, TestCaseError, TestRunner};
    use redoubt_harness::reply::escape_trunc;

    const CLIENTS: usize = 5;
    const LKEYS: &[&str] = &["a", "b", "c"];
    const ZKEYS: &[&str] = &["za", "zb"];

    #[derive(Clone, Debug)]
    pub enum Op {
        /// Client i sends a blocking command (timeout 0) unless it is blocked already.
        Block(usize, Vec<String>),
        /// The producer runs commands, in MULTI/EXEC when there are several.
        Push(Vec<Vec<String>>),
        /// CLIENT UNBLOCK of client i, TIMEOUT or ERROR.
        Unblock(usize, &'static str),
    }

    fn s(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|p| p.to_string()).collect()
    }

    fn blocking() -> BoxedStrategy<Vec<String>> {
        let l = || select(LKEYS).prop_map(String::from);
        let z = || select(ZKEYS).prop_map(String::from);
        let side = || select(vec!["LEFT", "RIGHT"]);
        prop_oneof![
            (
                select(vec!["BLPOP", "BRPOP"]),
                prop::collection::vec(l(), 1..3)
            )
                .prop_map(|(c, ks)| [s(&[c]), ks, s(&["0"])].concat()),
            (l(), l(), side(), side()).prop_map(|(a, b, x, y)| s(&["BLMOVE", &a, &b, x, y, "0"])),
            (l(), l()).prop_map(|(a, b)| s(&["BRPOPLPUSH", &a, &b, "0"])),
            (prop::collection::vec(l(), 1..3), side(), 1usize..3).prop_map(|(ks, d, n)| {
                [
                    s(&["BLMPOP", "0", &ks.len().to_string()]),
                    ks,
                    s(&[d, "COUNT", &n.to_string()]),
                ]
                .concat()
            }),
            (
                select(vec!["BZPOPMIN", "BZPOPMAX"]),
                prop::collection::vec(z(), 1..3)
            )
                .prop_map(|(c, ks)| [s(&[c]), ks, s(&["0"])].concat()),
            (z(), select(vec!["MIN", "MAX"]), 1usize..3)
                .prop_map(|(k, w, n)| { s(&["BZMPOP", "0", "1", &k, w, "COUNT", &n.to_string()]) }),
        ]
        .boxed()
    }

    fn push() -> BoxedStrategy<Vec<String>> {
        let l = || select(LKEYS).prop_map(String::from);
        let z = || select(ZKEYS).prop_map(String::from);
        let v = || select(vec!["1", "2", "x", "y", "z"]).prop_map(String::from);
        prop_oneof![
            4 => (select(vec!["LPUSH", "RPUSH"]), l(), prop::collection::vec(v(), 1..4))
                .prop_map(|(c, k, vs)| [s(&[c, &k]), vs].concat()),
            3 => (z(), prop::collection::vec((select(vec!["1", "2", "3"]), v()), 1..4))
                .prop_map(|(k, ps)| {
                    let mut c = s(&["ZADD", &k]);
                    for (sc, m) in ps {
                        c.push(sc.to_string());
                        c.push(m);
                    }
                    c
                }),
            1 => (l(), l()).prop_map(|(a, b)| s(&["LMOVE", &a, &b, "LEFT", "RIGHT"])),
            1 => l().prop_map(|k| s(&["LPOP", &k])),
            1 => (select(vec!["DEL", "SET"]), select(vec!["a", "b", "za"]))
                .prop_map(|(c, k)| if c == "SET" { s(&[c, k, "str"]) } else { s(&[c, k]) }),
            1 => (l(), l()).prop_map(|(a, b)| s(&["RENAME", &a, &b])),
            1 => select(LKEYS).prop_map(|k| s(&["LRANGE", k, "0", "-1"])),
            // Database 1 fills up, then SWAPDB makes its keys ready in database 0. One key
            // only: Redis scans the blocked keys in hash order, so with two ready keys the
            // order of their effects would be unspecified.
            1 => v()
                .prop_map(|m| [s(&["SELECT", "1"]), s(&["RPUSH", "a", &m]), s(&["SELECT", "0"])].concat()),
            1 => Just(s(&["SWAPDB", "0", "1"])),
            1 => Just(s(&["FLUSHDB"])),
        ]
        .boxed()
    }

    pub fn op() -> BoxedStrategy<Op> {
        prop_oneof![
            4 => (0..CLIENTS, blocking()).prop_map(|(i, c)| Op::Block(i, c)),
            4 => prop::collection::vec(push(), 1..4).prop_map(Op::Push),
            1 => (0..CLIENTS, select(vec!["TIMEOUT", "ERROR"])).prop_map(|(i, h)| Op::Unblock(i, h)),
        ]
        .boxed()
    }

    /// One server's side of a case: an admin, a producer and the blocking clients.
    struct Side {
        admin: RawConn,
        producer: RawConn,
        clients: Vec<RawConn>,
        ids: Vec<String>,
    }

    impl Side {
        fn new(port: u16) -> Side {
            let connect = || RawConn::connect(port).expect("connect");
            let mut admin = connect();
            must_simple_ok(&admin.cmd(&["FLUSHALL"]));
            wait_for("no blocked client left", Duration::from_secs(10), || {
                blocked_clients(&mut admin) == 0
            });
            let mut clients: Vec<RawConn> = (0..CLIENTS).map(|_| connect()).collect();
            let ids = clients
                .iter_mut()
                .map(|c| client_id(c).to_string())
                .collect();
            // The last client speaks RESP3 (its replies carry maps, nulls and doubles); HELLO's
            // own reply names the server, so only its success is checked.
            let last = clients.last_mut().expect("clients");
            assert!(matches!(last.cmd(&["HELLO", "3"]), Value::Map(_)));
            Side {
                admin,
                producer: connect(),
                clients,
                ids,
            }
        }

        /// Which clients CLIENT LIST shows blocked.
        fn blocked(&mut self) -> Vec<bool> {
            let list = bulk(&self.admin.cmd(&["CLIENT", "LIST"]));
            self.ids
                .iter()
                .map(|id| {
                    let prefix = format!("id={id} ");
                    list.lines()
                        .any(|l| l.starts_with(&prefix) && l.contains(" flags=b "))
                })
                .collect()
        }

        fn raw(c: &mut RawConn, args: &[String]) -> Vec<u8> {
            c.send_cmd(args).expect("send");
            c.read_raw_reply()
        }

        /// Sends client i's blocking command; returns its reply if it was served at once,
        /// None once CLIENT LIST shows it blocked.
        fn block(&mut self, i: usize, cmd: &[String]) -> Option<Vec<u8>> {
            self.clients[i].send_cmd(cmd).expect("send");
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let poll = Instant::now() + Duration::from_millis(2);
                match self.clients[i].try_read_raw_reply(poll) {
                    Ok(r) => return Some(r),
                    Err(redoubt_harness::ReadError::Timeout { .. }) => {}
                    Err(e) => panic!("client {i}: {e}"),
                }
                if self.blocked()[i] {
                    return None;
                }
                assert!(
                    Instant::now() < deadline,
                    "client {i} neither blocked nor served"
                );
            }
        }
    }

    fn show(b: &[u8]) -> String {
        escape_trunc(b, 200)
    }

    /// How often each path was taken over a run, so the test cannot quietly stop covering one.
    #[derive(Default, Debug)]
    struct Paths {
        served_at_once: usize,
        blocked: usize,
        released: usize,
    }

    fn run_case(
        redis: u16,
        redoubt: u16,
        ops: &[Op],
        paths: &mut Paths,
    ) -> Result<(), TestCaseError> {
        let mut want = Side::new(redis);
        let mut got = Side::new(redoubt);
        let mut blocked = [false; CLIENTS];
        let mut log: Vec<String> = Vec::new();
        let fail = |log: &[String], what: String| {
            TestCaseError::fail(format!(
                "{what}\nscenario (Redis's replies):\n  {}",
                log.join("\n  ")
            ))
        };
        for op in ops {
            match op {
                Op::Block(i, cmd) => {
                    if blocked[*i] {
                        continue;
                    }
                    let (w, g) = (want.block(*i, cmd), got.block(*i, cmd));
                    log.push(format!(
                        "client {i}: {} -> {}",
                        cmd.join(" "),
                        w.as_deref().map_or("(blocked)".to_string(), show)
                    ));
                    if w != g {
                        return Err(fail(
                            &log,
                            format!(
                                "client {i}: redis {:?}, redoubt {:?}",
                                w.as_deref().map(show),
                                g.as_deref().map(show)
                            ),
                        ));
                    }
                    blocked[*i] = w.is_none();
                    if blocked[*i] {
                        paths.blocked += 1;
                    } else {
                        paths.served_at_once += 1;
                    }
                }
                Op::Push(cmds) => {
                    let mut all = Vec::new();
                    let multi = cmds.len() > 1 || cmds[0][0] == "SELECT" || cmds[0][0] == "SWAPDB";
                    if multi {
                        all.push(s(&["MULTI"]));
                    }
                    // A push into database 1 comes as SELECT 1 <cmd> SELECT 0 in one list.
                    for c in cmds {
                        if c[0] == "SWAPDB" {
                            // Database 1 is emptied right after, in the same transaction, so
                            // database 0 then holds at most "a": which of several ready keys
                            // is served first is hash order in Redis.
                            all.push(c.clone());
                            all.extend([s(&["SELECT", "1"]), s(&["FLUSHDB"]), s(&["SELECT", "0"])]);
                        } else if c[0] == "SELECT" && c.len() > 2 {
                            all.push(c[..2].to_vec());
                            all.push(c[2..c.len() - 2].to_vec());
                            all.push(c[c.len() - 2..].to_vec());
                        } else {
                            all.push(c.clone());
                        }
                    }
                    if multi {
                        all.push(s(&["EXEC"]));
                    }
                    for c in &all {
                        let w = Side::raw(&mut want.producer, c);
                        let g = Side::raw(&mut got.producer, c);
                        log.push(format!("producer: {} -> {}", c.join(" "), show(&w)));
                        if w != g {
                            return Err(fail(
                                &log,
                                format!("producer: redis {}, redoubt {}", show(&w), show(&g)),
                            ));
                        }
                    }
                }
                Op::Unblock(i, how) => {
                    let w = Side::raw(
                        &mut want.admin,
                        &s(&["CLIENT", "UNBLOCK", &want.ids[*i], how]),
                    );
                    let g = Side::raw(
                        &mut got.admin,
                        &s(&["CLIENT", "UNBLOCK", &got.ids[*i], how]),
                    );
                    log.push(format!("CLIENT UNBLOCK {i} {how} -> {}", show(&w)));
                    if w != g {
                        return Err(fail(
                            &log,
                            format!("unblock: redis {}, redoubt {}", show(&w), show(&g)),
                        ));
                    }
                }
            }
            // Who is still blocked must agree; whoever was released must have the same reply.
            let (wb, gb) = (want.blocked(), got.blocked());
            if wb != gb {
                return Err(fail(
                    &log,
                    format!("blocked clients: redis {wb:?}, redoubt {gb:?}"),
                ));
            }
            for i in 0..CLIENTS {
                if blocked[i] && !wb[i] {
                    let w = want.clients[i].read_raw_reply();
                    let g = got.clients[i].read_raw_reply();
                    log.push(format!("client {i} released -> {}", show(&w)));
                    paths.released += 1;
                    if w != g {
                        return Err(fail(
                            &log,
                            format!(
                                "client {i} released: redis {}, redoubt {}",
                                show(&w),
                                show(&g)
                            ),
                        ));
                    }
                }
                blocked[i] = wb[i];
            }
        }
        for k in ["a", "b", "c", "za", "zb"] {
            let read: Vec<String> = if k.starts_with('z') {
                s(&["ZRANGE", k, "0", "-1", "WITHSCORES"])
            } else {
                s(&["LRANGE", k, "0", "-1"])
            };
            let w = Side::raw(&mut want.admin, &read);
            let g = Side::raw(&mut got.admin, &read);
            if w != g {
                return Err(fail(
                    &log,
                    format!(
                        "{}: redis {}, redoubt {}",
                        read.join(" "),
                        show(&w),
                        show(&g)
                    ),
                ));
            }
        }
        Ok(())
    }

    // The effects as commands, one string each.
    use redoubt_engine::testing::stream_lines as commands;

    pub fn check() {
        // Redis's AOF (appendfsync always: written before the replies) is what it propagates;
        // redoubt runs in process with its stream tapped.
        let redis = must_start(
            Flavor::Redis,
            &[("appendonly", "yes"), ("appendfsync", "always")],
        );
        let sink = Arc::new(Mutex::new(Vec::new()));
        let (port, server) = start_in_process(sink.clone(), &[]);
        let cases = std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(60);
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            max_shrink_iters: 200,
            ..Config::default()
        });
        let paths = std::cell::RefCell::new(Paths::default());
        let result = runner.run(&prop::collection::vec(op(), 10..40), |ops| {
            run_case(redis.port(), port, &ops, &mut paths.borrow_mut())
        });
        if let Err(e) = result {
            panic!("{e}");
        }
        let paths = paths.into_inner();
        eprintln!("{paths:?}");
        assert!(
            paths.served_at_once > 0 && paths.blocked > 0 && paths.released > 0,
            "{paths:?}"
        );

        // Served blocking calls are recorded as the pops and moves Redis records.
        let aof = redis
            .dir()
            .join("appendonlydir")
            .join("appendonly.aof.1.incr.aof");
        let want =
            commands(&std::fs::read(&aof).unwrap_or_else(|e| panic!("{}: {e}", aof.display())));
        let got = commands(&sink.lock().expect("sink"));
        assert!(
            want.iter().any(|c| c.starts_with("LMOVE"))
                && want.iter().any(|c| c.starts_with("ZPOP")),
            "the run served too little: {} effects",
            want.len()
        );
        if let Some(i) = (0..want.len().max(got.len())).find(|&i| want.get(i) != got.get(i)) {
            let from = i.saturating_sub(10);
            panic!(
                "effect {i} differs:\n  redis:   {:?}\n  redoubt: {:?}\nredis:\n  {}\nredoubt:\n  {}",
                want.get(i),
                got.get(i),
                want[from..(i + 3).min(want.len())].join("\n  "),
                got[from..(i + 3).min(got.len())].join("\n  ")
            );
        }
        let mut admin = RawConn::connect(port).expect("connect");
        admin.send_cmd(&["SHUTDOWN", "NOSAVE"]).expect("shutdown");
        server.join().expect("in-process server stopped");
    }
}

/// Random interleavings of blocking calls (timeout 0), pushes (plain and in MULTI/EXEC,
/// including LMOVE chains, DEL, SET and RENAME) and CLIENT UNBLOCK: after every step the same
/// clients are blocked on redis-server 7.0.15 and on redoubt, released clients got the same
/// bytes, the lists and sorted sets end the same, and redoubt's replication stream over the
/// whole run is the command sequence of Redis's AOF.
#[test]
fn random_blocking_scenarios_match_redis() {
    scenarios::check();
}
