//! Buffer limits: a pub/sub subscriber that stops reading is disconnected at
//! `client-output-buffer-limit pubsub`, and a client whose query buffer passes
//! `client-query-buffer-limit` is closed; both as Redis 7.0 does, and others carry on.

use redoubt_harness::{must_connect, must_start, wait_for, Flavor, Value};
use std::io::Write;
use std::time::{Duration, Instant};

#[test]
fn slow_subscriber_is_disconnected_at_the_pubsub_hard_limit() {
    for flavor in [Flavor::Redis, Flavor::Redoubt] {
        let s = must_start(
            flavor,
            &[("client-output-buffer-limit", "pubsub 256kb 128kb 60")],
        );
        // A raw socket with a small receive buffer that never reads.
        let sub = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("socket");
        sub.set_recv_buffer_size(4096).expect("rcvbuf");
        let addr: std::net::SocketAddr = format!("127.0.0.1:{}", s.port()).parse().expect("addr");
        sub.connect(&addr.into()).expect("connect");
        let mut sub: std::net::TcpStream = sub.into();
        sub.write_all(b"SUBSCRIBE firehose\r\n").expect("subscribe");
        let mut p = must_connect(&s);
        wait_for("the subscription", Duration::from_secs(5), || {
            p.cmd(&["PUBSUB", "NUMSUB", "firehose"])
                == Value::Array(vec![Value::Bulk("firehose".into()), Value::Int(1)])
        });
        let payload = vec![b'x'; 16 * 1024];
        let mut receivers = 1;
        let deadline = Instant::now() + Duration::from_secs(20);
        // 64 MB of messages at most: far past the limit, bounded.
        for _ in 0..4096 {
            let Value::Int(n) = p.cmd(&[&b"PUBLISH"[..], b"firehose", &payload]) else {
                panic!("PUBLISH")
            };
            receivers = n;
            if n == 0 || Instant::now() > deadline {
                break;
            }
        }
        assert_eq!(
            receivers,
            0,
            "{}: the subscriber must be dropped",
            flavor.name()
        );
        // The publisher and other clients are unaffected.
        assert_eq!(p.cmd(&["PING"]), Value::Simple("PONG".into()));
    }
}

#[test]
fn query_buffer_limit_closes_the_client() {
    for flavor in [Flavor::Redis, Flavor::Redoubt] {
        let s = must_start(flavor, &[("client-query-buffer-limit", "1mb")]);
        let mut c = must_connect(&s);
        // A 4 MB argument declared and streamed: past the 1 MB query buffer limit.
        let _ = c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4194304\r\n");
        let chunk = vec![b'a'; 64 * 1024];
        for _ in 0..64 {
            if c.send(&chunk).is_err() {
                break;
            }
        }
        assert!(
            c.is_closed(Instant::now() + Duration::from_secs(10)),
            "{}: the connection must be closed",
            flavor.name()
        );
        let mut other = must_connect(&s);
        assert_eq!(other.cmd(&["PING"]), Value::Simple("PONG".into()));
    }
}
