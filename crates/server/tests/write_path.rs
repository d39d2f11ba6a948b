//! The write path over real sockets: concurrent clients write through an in-process
//! redoubt-server whose replication stream is captured at the end-of-batch step; replaying
//! those bytes into a fresh redoubt-server process gives the same DEBUG DIGEST.
//!
//! TTLs here are long (nothing expires during the test): replaying short ones needs the
//! replica's "master client ignores expiry" rule, which arrives with replication; the
//! engine-level proof (crates/engine/tests/replay.rs) covers expiry with controlled time.

mod common;

use common::{assert_replays_to, start_in_process};
use redoubt_harness::{RawConn, Value};
use std::sync::{Arc, Mutex};

/// A small deterministic PRNG per client thread.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn workload(port: u16, seed: u64, ops: usize) {
    let mut c = RawConn::connect(port).expect("connect");
    let mut s = seed | 1;
    for _ in 0..ops {
        let k = format!("k{}", next(&mut s) % 50);
        let k2 = format!("k{}", next(&mut s) % 50);
        let n = (next(&mut s) % 1000).to_string();
        let db = (next(&mut s) % 3).to_string();
        let cmd: Vec<&str> = match next(&mut s) % 16 {
            0 => vec!["SET", &k, &n],
            1 => vec!["SET", &k, &n, "EX", "1000"],
            2 => vec!["INCRBY", &k, &n],
            3 => vec!["APPEND", &k, &n],
            4 => vec!["DEL", &k, &k2],
            5 => vec!["EXPIRE", &k, "5000"],
            6 => vec!["PERSIST", &k],
            7 => vec!["RENAME", &k, &k2],
            8 => vec!["COPY", &k, &k2, "REPLACE"],
            9 => vec!["SELECT", &db],
            10 => vec!["MSET", &k, &n, &k2, "x"],
            11 => vec!["SETRANGE", &k, "3", "zz"],
            12 => vec!["INCRBYFLOAT", &k, "1.25"],
            13 => vec!["SETBIT", &k, &n, "1"],
            14 => vec!["GETEX", &k, "PX", "9000000"],
            _ => vec!["MOVE", &k, &db],
        };
        c.cmd(&cmd);
        if next(&mut s).is_multiple_of(50) {
            // A transaction now and then: its effects stay wrapped downstream.
            c.cmd(&["MULTI"]);
            c.cmd(&["INCR", &k]);
            c.cmd(&["SET", &k2, &n]);
            c.cmd(&["EXEC"]);
        }
    }
}

fn digest(c: &mut RawConn) -> Value {
    c.cmd(&["DEBUG", "DIGEST"])
}

#[test]
fn captured_stream_replays_to_the_same_dataset() {
    let sink = Arc::new(Mutex::new(Vec::new()));
    let (port, server) = start_in_process(sink.clone(), &[]);
    let clients: Vec<_> = (0..4u64)
        .map(|i| std::thread::spawn(move || workload(port, 0x9e37_79b9 * (i + 1), 1500)))
        .collect();
    for c in clients {
        c.join().expect("client thread");
    }
    let mut admin = RawConn::connect(port).expect("connect");
    let want = digest(&mut admin);
    assert!(
        matches!(&want, Value::Simple(d) if d.len() == 40),
        "{want:?}"
    );
    let stream = sink.lock().expect("sink").clone();
    assert!(!stream.is_empty());

    let effects = redoubt_engine::testing::decode_stream(&stream).len();
    assert!(effects > 1000, "{effects} effects captured");
    drop(assert_replays_to(&stream, &want, &[]));

    admin.send_cmd(&["SHUTDOWN", "NOSAVE"]).expect("shutdown");
    server.join().expect("in-process server stopped");
}
