//! A "replica" that does the handshake and PSYNC and then never reads (issue 6, bad input):
//! while the master is written to, the stream piles up for it until `client-output-buffer-limit
//! replica` closes it with Redis's log line; other clients are served meanwhile and the
//! master's memory comes back down. Run on redis-server 7.0.15 and Redoubt alike.

use redoubt_harness::{must_connect, wait_for, Flavor, RawConn, ServerProcess, Value};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(30);
const LIMIT: u64 = 1024 * 1024;

fn info_field(c: &mut RawConn, section: &str, name: &str) -> String {
    let Value::Bulk(b) = c.cmd(&["INFO", section]) else {
        panic!("INFO is a bulk string");
    };
    let prefix = format!("{name}:");
    String::from_utf8_lossy(&b)
        .lines()
        .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
        .unwrap_or_default()
}

fn used_memory(c: &mut RawConn) -> u64 {
    info_field(c, "memory", "used_memory").parse().unwrap_or(0)
}

fn stalled_replica_is_disconnected(flavor: Flavor) {
    let m = ServerProcess::builder(flavor)
        .directive("client-output-buffer-limit", "replica 1mb 0 0")
        .directive("repl-backlog-size", "1mb")
        .start()
        .unwrap_or_else(|e| panic!("starting {}: {e:#}", flavor.name()));
    let mut mc = must_connect(&m);
    let mut other = must_connect(&m);
    let mut stalled = must_connect(&m);
    let start = Instant::now() + Duration::from_secs(5);
    stalled
        .send_cmd(&["REPLCONF", "listening-port", "1"])
        .expect("send");
    assert_eq!(
        stalled.read_reply(start).ok(),
        Some(Value::Simple("OK".into()))
    );
    // No `capa eof`: the disk target, whose RDB of an empty dataset is small enough for the
    // socket buffers, so the stream is what fills the buffer.
    stalled.send_cmd(&["PSYNC", "?", "-1"]).expect("send");
    // Online: the stream now goes to its socket, where the kernel buffers fill first.
    wait_for("the stalled replica online", DEADLINE, || {
        info_field(&mut mc, "replication", "slave0").contains("state=online")
    });
    let before = used_memory(&mut mc);
    let value = "x".repeat(64 * 1024);
    let line = "scheduled to be closed ASAP for overcoming of output buffer limits.";
    let mut n = 0u64;
    wait_for("the stalled replica closed", DEADLINE, || {
        for _ in 0..16 {
            n += 1;
            mc.cmd(&["SET", &format!("k{}", n % 64), &value]);
        }
        // Another client is served while the replica's buffer fills.
        assert_eq!(other.cmd(&["PING"]), Value::Simple("PONG".into()));
        m.log().contains(line) && info_field(&mut mc, "replication", "connected_slaves") == "0"
    });
    let log = m.log();
    let logged = log.lines().find(|l| l.contains(line)).unwrap_or_default();
    // Described as it was when the limit tripped: not yet marked for closing (flags=S, not
    // SA) and with its buffer still counted.
    assert!(logged.contains(" flags=S "), "{flavor:?}: {logged}");
    // (Redis shows it as `oll`/`omem` blocks of its shared replication buffer, Redoubt as
    // `obl`, its one reply buffer.)
    assert!(
        !(logged.contains(" obl=0 ") && logged.contains(" omem=0 ")),
        "{flavor:?}: {logged}"
    );
    // Bounded: keep writing well past what was buffered; the master holds the dataset (64
    // keys) and no more than about the limit for the closed replica.
    for i in 0..128u64 {
        mc.cmd(&["SET", &format!("k{}", (n + i) % 64), &value]);
    }
    let written = n * value.len() as u64;
    // Dataset + the backlog's 1mb (full of the last writes) + slack: a master that kept the
    // ~13mb of stream for the closed replica would be far above.
    let bound = before + 64 * value.len() as u64 + LIMIT + 2 * LIMIT;
    wait_for(&format!("used_memory under {bound}"), DEADLINE, || {
        let now = used_memory(&mut mc);
        now < bound
    });
    assert!(written > LIMIT, "{flavor:?}: wrote {written}");
    assert_eq!(other.cmd(&["DBSIZE"]), Value::Int(64));
}

#[test]
fn redis_closes_a_replica_that_never_reads() {
    stalled_replica_is_disconnected(Flavor::Redis);
}

#[test]
fn redoubt_closes_a_replica_that_never_reads() {
    stalled_replica_is_disconnected(Flavor::Redoubt);
}
