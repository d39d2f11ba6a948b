//! Hostile and broken clients: the server answers as Redis 7.0 does, never panics, keeps its
//! memory bounded, and other clients do not notice.
//!
//! Where a reply is compared, the same bytes are sent to real redis-server 7.0.15 and the
//! replies must be identical.

use redoubt_harness::{must_connect, must_start, Flavor, RawConn, ServerProcess};
use std::io::Write;
use std::time::{Duration, Instant};

fn both() -> (ServerProcess, ServerProcess) {
    (
        must_start(Flavor::Redis, &[]),
        must_start(Flavor::Redoubt, &[]),
    )
}

/// Sends `input` on a fresh connection and returns everything read until the server closes
/// it or goes quiet, followed by whether it closed.
fn exchange(server: &ServerProcess, input: &[u8]) -> (Vec<u8>, bool) {
    let mut c = must_connect(server);
    c.send(input).expect("send");
    // A PING after the input tells "kept open" (a PONG arrives) from "closed".
    let _ = c.send(b"PING\r\n");
    match c.read_until_closed(Instant::now() + Duration::from_secs(2)) {
        Ok(bytes) => (bytes, true),
        Err(_) => (c.buffered().to_vec(), false),
    }
}

fn assert_same(input: &[u8]) {
    let (redis, redoubt) = both();
    let want = exchange(&redis, input);
    let got = exchange(&redoubt, input);
    assert_eq!(
        (String::from_utf8_lossy(&got.0), got.1),
        (String::from_utf8_lossy(&want.0), want.1),
        "input {:?}",
        String::from_utf8_lossy(input)
    );
    assert_alive(&redoubt);
}

fn assert_alive(server: &ServerProcess) {
    let mut c = must_connect(server);
    assert_eq!(
        c.cmd(&["PING"]),
        redoubt_harness::Value::Simple("PONG".into())
    );
}

#[test]
fn protocol_errors_match_redis() {
    for input in [
        &b"*x\r\n"[..],
        b"*1\r\n+PING\r\n",
        b"*1\r\n$-5\r\n",
        b"*1\r\n$600000000\r\n",
        b"*3000000000\r\n",
        b"SET \"a\n",
        b"SET 'a'b\n",
        b"*2\r\n$4\r\nECHO\r\n$1\r\nx\r\n*1\r\n$x\r\n",
        b"\xff\xfe\xfd\r\n",
        b"\x00\x01\x02\r\n",
        b"\r\n\r\n*0\r\n*-1\r\nPING\r\n",
    ] {
        assert_same(input);
    }
}

#[test]
fn too_big_inline_request() {
    let line = vec![b'A'; 1024 * 1024];
    assert_same(&line);
}

#[test]
fn truncated_frames_then_disconnect_leave_server_healthy() {
    let s = must_start(Flavor::Redoubt, &[]);
    for cut in [
        b"*3\r\n$3\r\nSET\r\n$1\r\nk".as_ref(),
        b"*2\r\n$3\r\nGET\r\n$100000\r\nabc",
        b"*5\r\n",
    ] {
        let mut c = must_connect(&s);
        c.send(cut).expect("send");
        drop(c);
    }
    assert_alive(&s);
}

#[test]
fn declared_length_alone_does_not_allocate() {
    let s = must_start(Flavor::Redoubt, &[]);
    let rss0 = rss_bytes(s.pid());
    let mut conns: Vec<RawConn> = (0..20).map(|_| must_connect(&s)).collect();
    for c in &mut conns {
        // 500 MB declared, three bytes sent.
        c.send(b"*2\r\n$3\r\nSET\r\n$500000000\r\nabc")
            .expect("send");
    }
    assert_alive(&s);
    let grown = rss_bytes(s.pid()).saturating_sub(rss0);
    assert!(
        grown < 100 << 20,
        "RSS grew by {grown} bytes for 20 idle declared bulks"
    );
}

#[test]
fn a_million_arguments() {
    let (redis, redoubt) = both();
    let mut req = Vec::with_capacity(8 << 20);
    let n = 1_000_000;
    req.extend_from_slice(format!("*{}\r\n$3\r\nDEL\r\n", n + 1).as_bytes());
    for i in 0..n {
        let k = format!("k{i}");
        req.extend_from_slice(format!("${}\r\n{}\r\n", k.len(), k).as_bytes());
    }
    for s in [&redis, &redoubt] {
        let mut c = must_connect(s);
        c.set_timeout(Duration::from_secs(60));
        c.send(&req).expect("send");
        assert_eq!(
            c.read_raw_reply(),
            b":0\r\n".to_vec(),
            "{}",
            s.flavor().name()
        );
    }
    assert_alive(&redoubt);
}

#[test]
fn binary_keys_and_values_round_trip() {
    let s = must_start(Flavor::Redoubt, &[]);
    let mut c = must_connect(&s);
    let key: Vec<u8> = (0u8..=255).collect();
    let val: Vec<u8> = (0u8..=255).rev().cycle().take(10_000).collect();
    c.cmd(&[&b"SET"[..], &key, &val]);
    let got = c.cmd(&[&b"GET"[..], &key]);
    assert_eq!(got, redoubt_harness::Value::Bulk(val.into()));
}

#[test]
fn a_client_that_never_reads_is_bounded_and_others_are_unaffected() {
    let s = must_start(Flavor::Redoubt, &[]);
    let mut setup = must_connect(&s);
    let big = vec![b'x'; 1 << 20];
    setup.cmd(&[&b"SET"[..], b"big", &big]);
    let rss0 = rss_bytes(s.pid());
    // 1000 GETs of 1 MB: 1 GB of replies that this client never reads.
    let mut hog = std::net::TcpStream::connect(("127.0.0.1", s.port())).expect("connect");
    hog.set_nonblocking(true).expect("nonblocking");
    let req = b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n".repeat(1000);
    let mut sent = 0;
    let deadline = Instant::now() + Duration::from_secs(5);
    while sent < req.len() && Instant::now() < deadline {
        match hog.write(&req[sent..]) {
            Ok(n) => sent += n,
            Err(_) => std::thread::yield_now(),
        }
    }
    // Other clients are served promptly while the hog is stuck.
    let mut other = must_connect(&s);
    for _ in 0..100 {
        assert_eq!(
            other.cmd(&["PING"]),
            redoubt_harness::Value::Simple("PONG".into())
        );
    }
    let grown = rss_bytes(s.pid()).saturating_sub(rss0);
    assert!(
        grown < 64 << 20,
        "server RSS grew by {grown} bytes for a non-reading client"
    );
    drop(hog);
    assert_alive(&s);
}

fn rss_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}
