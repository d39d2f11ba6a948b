//! MONITOR lines as Redis 7.0 writes them: after the command (so SELECT shows the new db),
//! admin commands hidden, passwords redacted, escaped arguments. Compared with
//! redis-server 7.0.15 with the timestamp and client address masked.

use redoubt_harness::{must_connect, must_start, wait_for, Flavor, Value};
use std::time::{Duration, Instant};

fn lines(flavor: Flavor) -> Vec<String> {
    let s = must_start(flavor, &[]);
    let mut mon = must_connect(&s);
    assert_eq!(mon.cmd(&["MONITOR"]), Value::Simple("OK".into()));
    let mut c = must_connect(&s);
    c.cmd(&[&b"SET"[..], b"k", b"a b\x01\"\\"]);
    c.cmd(&["SELECT", "2"]);
    c.cmd(&["GET", "k"]);
    c.cmd(&["AUTH", "secret"]);
    c.cmd(&["HELLO", "2", "AUTH", "default", "secret"]);
    c.cmd(&["CONFIG", "GET", "port"]);
    c.cmd(&["NOSUCHCOMMAND"]);
    c.cmd(&["PING", "last"]);
    let mut out = vec![];
    wait_for("the monitor lines", Duration::from_secs(5), || {
        while let Ok(v) = mon.read_reply(Instant::now() + Duration::from_millis(100)) {
            if let Value::Simple(line) = v {
                // "<secs>.<usecs> [<db> <addr>] args" -> "[<db>] args"
                let (_, rest) = line.split_once(" [").unwrap_or(("", &line));
                let (db_addr, args) = rest.split_once("] ").unwrap_or((rest, ""));
                let db = db_addr.split(' ').next().unwrap_or("");
                out.push(format!("[{db}] {args}"));
            }
        }
        out.last().is_some_and(|l| l.contains("\"last\""))
    });
    out
}

#[test]
fn monitor_lines_match_redis() {
    let want = lines(Flavor::Redis);
    assert!(want.iter().any(|l| l.contains("(redacted)")), "{want:?}");
    assert_eq!(lines(Flavor::Redoubt), want);
}
