//! The write path over real sockets: concurrent clients write through an in-process
//! redoubt-server whose replication stream is captured at the end-of-batch step; replaying
//! those bytes into a fresh redoubt-server process gives the same DEBUG DIGEST.
//!
//! TTLs here are long (nothing expires during the test): replaying short ones needs the
//! replica's "master client ignores expiry" rule, which arrives with replication; the
//! engine-level proof (crates/engine/tests/replay.rs) covers expiry with controlled time.

use redoubt_engine::{Engine, Protected, RuntimeConf};
use redoubt_harness::{must_connect, must_start, Flavor, RawConn, Value};
use redoubt_server::listeners::Listeners;
use redoubt_server::server::{run, Settings, Shared};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

fn start_in_process(sink: Arc<Mutex<Vec<u8>>>) -> (u16, std::thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind loopback");
            let port = listener.local_addr().expect("addr").port();
            let conf = RuntimeConf {
                enable_debug_command: Protected::Yes,
                ..RuntimeConf::default()
            };
            let engine = Engine::new(conf, 7);
            let settings = Settings {
                port,
                protected_mode: false,
                ..Settings::default()
            };
            let shared = Shared::new(engine, settings);
            shared.stream_taps.borrow_mut().push(Box::new(move |bytes| {
                sink.lock().expect("sink").extend_from_slice(bytes)
            }));
            tx.send(port).expect("report port");
            run(
                shared,
                Listeners {
                    tcp: vec![listener],
                    unix: None,
                },
            )
            .await;
        });
    });
    let port = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("in-process server started");
    (port, handle)
}

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
    let (port, server) = start_in_process(sink.clone());
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

    let replica = must_start(Flavor::Redoubt, &[("enable-debug-command", "yes")]);
    let mut r = must_connect(&replica);
    r.set_timeout(Duration::from_secs(30));
    r.send(&stream).expect("replay");
    // Drain every reply of the replayed commands, then compare.
    let mut replayed = 0;
    let mut d = redoubt_resp::RequestDecoder::new();
    let mut buf = bytes::BytesMut::from(&stream[..]);
    while let Ok(Some(_)) = d.decode(&mut buf, &redoubt_resp::DecodeLimits::default()) {
        let reply = r.read_raw_reply();
        assert!(
            !reply.starts_with(b"-"),
            "replayed command failed: {}",
            String::from_utf8_lossy(&reply)
        );
        replayed += 1;
    }
    assert!(replayed > 1000, "{replayed} effects replayed");
    r.cmd(&["SELECT", "0"]);
    assert_eq!(
        digest(&mut r),
        want,
        "replayed dataset differs after {replayed} effects"
    );

    admin.send_cmd(&["SHUTDOWN", "NOSAVE"]).expect("shutdown");
    server.join().expect("in-process server stopped");
}
