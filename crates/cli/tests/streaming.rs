//! Streaming and special modes against a real redis-server, compared with redis-cli 7.0:
//! SUBSCRIBE/PSUBSCRIBE, MONITOR, --pipe, --scan, --bigkeys, --memkeys, --latency, --rdb,
//! --eval.

mod common;

use common::{compare, ours, theirs};
use redoubt_harness::{wait_for, Flavor, ServerProcess, Value};
use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(10);

fn oracle() -> ServerProcess {
    let s = ServerProcess::start(Flavor::Redis, &[]).expect("start redis-server");
    let mut c = s.connect().expect("connect");
    for cmd in [
        &["RPUSH", "list", "a", "b", "c"][..],
        &["HSET", "hash", "f1", "v1", "f2", "v2"],
        &["SADD", "set", "x"],
        &["SET", "key:1", "hello world"],
        &["SET", "key:\n2", "x"],
        &["ZADD", "z", "1", "m"],
        &["XADD", "st", "1-1", "f", "v"],
    ] {
        c.cmd(cmd);
    }
    s
}

/// A client left running; its output is collected by a thread.
struct Streaming {
    child: Child,
    out: Arc<Mutex<Vec<u8>>>,
}

impl Streaming {
    fn start(bin: &PathBuf, args: &[&str], tty: bool) -> Streaming {
        let mut cmd = if tty {
            let line = std::iter::once(bin.to_string_lossy().into_owned())
                .chain(args.iter().map(|a| a.to_string()))
                .map(|w| format!("'{w}'"))
                .collect::<Vec<_>>()
                .join(" ");
            let mut c = Command::new("script");
            c.args(["-qec", &line, "/dev/null"]);
            c
        } else {
            let mut c = Command::new(bin);
            c.args(args);
            c
        };
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn client");
        let out = Arc::new(Mutex::new(Vec::new()));
        let mut so = child.stdout.take().expect("stdout");
        let sink = Arc::clone(&out);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = so.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().expect("lock").extend_from_slice(&buf[..n]);
            }
        });
        Streaming { child, out }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().expect("lock")).into_owned()
    }

    fn wait_for_text(&self, what: &str) {
        let found = redoubt_harness::try_wait_for(DEADLINE, || self.text().contains(what));
        assert!(
            found,
            "no {what:?} in the client's output {:?}",
            self.text()
        );
    }
}

impl Drop for Streaming {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn numsub(s: &ServerProcess, channel: &str) -> i64 {
    let mut c = s.connect().expect("connect");
    match c.cmd(&["PUBSUB", "NUMSUB", channel]) {
        Value::Array(v) => match v.get(1) {
            Some(Value::Int(n)) => *n,
            _ => 0,
        },
        _ => 0,
    }
}

fn numpat(s: &ServerProcess) -> i64 {
    let mut c = s.connect().expect("connect");
    match c.cmd(&["PUBSUB", "NUMPAT"]) {
        Value::Int(n) => n,
        _ => 0,
    }
}

/// Subscribes with each client in turn, publishes, and compares what each printed.
#[test]
fn subscribe_output_matches() {
    let s = oracle();
    let port = s.port().to_string();
    let mut problems = Vec::new();
    for tty in [false, true] {
        for (extra, pattern) in [(&[][..], false), (&["-3"][..], false), (&[][..], true)] {
            let mut outputs = Vec::new();
            for bin in [theirs(), ours()] {
                let mut args = vec!["-p", port.as_str()];
                args.extend_from_slice(extra);
                if pattern {
                    args.extend_from_slice(&["PSUBSCRIBE", "ch*"]);
                } else {
                    args.extend_from_slice(&["SUBSCRIBE", "ch1", "ch2"]);
                }
                let client = Streaming::start(&bin, &args, tty);
                if pattern {
                    wait_for("pattern subscription", DEADLINE, || numpat(&s) == 1);
                } else {
                    wait_for("subscription", DEADLINE, || numsub(&s, "ch2") == 1);
                }
                s.connect()
                    .expect("connect")
                    .cmd(&["PUBLISH", "ch1", "hello\nthere"]);
                client.wait_for_text("there");
                let text = client.text();
                drop(client);
                wait_for("unsubscribed", DEADLINE, || {
                    numsub(&s, "ch2") == 0 && numpat(&s) == 0
                });
                outputs.push(text);
            }
            if outputs[0] != outputs[1] {
                problems.push(format!(
                    "tty={tty} {extra:?} pattern={pattern}:\n  redis-cli:   {:?}\n  redoubt-cli: {:?}",
                    outputs[0], outputs[1]
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// MONITOR prints OK, then one line per command with the client's address: compare the shape.
#[test]
fn monitor_streams_commands() {
    let s = oracle();
    let port = s.port().to_string();
    let client = Streaming::start(&ours(), &["-p", port.as_str(), "MONITOR"], false);
    client.wait_for_text("OK\n");
    wait_for("the SET to be monitored", DEADLINE, || {
        s.connect().expect("connect").cmd(&["SET", "mon", "1"]);
        client.text().contains("\"SET\" \"mon\" \"1\"")
    });
    let text = client.text();
    let line = text
        .lines()
        .find(|l| l.contains("\"mon\""))
        .expect("monitor line");
    assert!(
        line.contains(" [0 127.0.0.1:"),
        "unexpected monitor line {line:?}"
    );
    assert!(text.starts_with("OK\n"), "{text:?}");
}

#[test]
fn pipe_scan_bigkeys_memkeys_eval() {
    let s = oracle();
    let port = s.port().to_string();
    let p = port.as_str();
    let mut problems = Vec::new();
    let input = b"SET p1 1\r\n*3\r\n$3\r\nSET\r\n$2\r\np2\r\n$1\r\n2\r\nBADCMD x\r\nGET p1\r\n";
    problems.extend(compare(&["-p", p, "--pipe"], input, false));
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("s.lua");
    std::fs::write(&script, "return {KEYS[1], ARGV[1], #KEYS}").expect("write script");
    let script = script.to_string_lossy().into_owned();
    for tty in [false, true] {
        for args in [
            vec!["-p", p, "--scan"],
            vec!["-p", p, "--scan", "--pattern", "key:*"],
            vec!["-p", p, "--scan", "--quoted-pattern", "\"key:\\n*\""],
            vec!["-p", p, "--bigkeys"],
            vec!["-p", p, "--memkeys"],
            vec!["-p", p, "--memkeys-samples", "3"],
            vec!["-p", p, "--eval", script.as_str(), "k1", "k2", ",", "a1"],
            vec!["-p", p, "--eval", "/nonexistent.lua"],
        ] {
            problems.extend(compare(&args, b"", tty));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// --latency without a terminal prints one line after the interval, in each output format.
#[test]
fn latency_line_formats() {
    let s = oracle();
    let port = s.port().to_string();
    for (mode, sep, tail) in [("--raw", ' ', ""), ("--csv", ',', "")] {
        let out = common::run(
            &ours(),
            &["-p", &port, "--latency", "-i", "0.2", mode],
            b"",
            false,
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let fields: Vec<&str> = text.trim_end().split(sep).collect();
        assert_eq!(fields.len(), 4, "{text:?}{tail}");
        assert!(
            fields[2].contains('.') && fields[3].parse::<u32>().is_ok_and(|n| n > 0),
            "{text:?}"
        );
        assert_eq!(out.status, Some(0));
    }
    let out = common::run(
        &ours(),
        &["-p", &port, "--latency", "-i", "0.2", "--json"],
        b"",
        false,
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.starts_with("{\"min\": ") && text.ends_with("}\n"),
        "{text:?}"
    );
}

/// --rdb fetches a snapshot through SYNC: same messages as redis-cli, a file redis-check-rdb
/// accepts, and the same size as redis-cli's copy.
#[test]
fn rdb_transfer_from_real_redis() {
    let s = oracle();
    let port = s.port().to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("theirs.rdb");
    let b = dir.path().join("ours.rdb");
    let ra = common::run(
        &theirs(),
        &["-p", &port, "--rdb", &a.to_string_lossy()],
        b"",
        false,
    );
    let rb = common::run(
        &ours(),
        &["-p", &port, "--rdb", &b.to_string_lossy()],
        b"",
        false,
    );
    let fix = |o: &common::Outcome, p: &PathBuf| {
        String::from_utf8_lossy(&o.stderr).replace(&*p.to_string_lossy(), "FILE")
    };
    assert_eq!(fix(&ra, &a), fix(&rb, &b));
    assert_eq!(ra.status, rb.status);
    assert_eq!(rb.status, Some(0));
    let (la, lb) = (
        std::fs::read(&a).expect("theirs"),
        std::fs::read(&b).expect("ours"),
    );
    assert_eq!(la.len(), lb.len());
    assert!(lb.starts_with(b"REDIS00"), "not an RDB file");
    let check = Command::new("redis-check-rdb")
        .arg(&b)
        .output()
        .expect("run redis-check-rdb");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}

fn replica_online(s: &ServerProcess) -> bool {
    let mut c = s.connect().expect("connect");
    match c.cmd(&["INFO", "replication"]) {
        Value::Bulk(b) => String::from_utf8_lossy(&b).contains("state=online"),
        _ => false,
    }
}

/// `--replica` and the SYNC command: the snapshot is skipped and the master's stream is
/// printed in CSV, as redis-cli prints it.
#[test]
fn replica_output_mode_matches() {
    let s = ServerProcess::start(Flavor::Redis, &[("repl-diskless-sync-delay", "0")])
        .expect("start redis-server");
    let port = s.port().to_string();
    let mut problems = Vec::new();
    for mode in ["--replica", "SYNC"] {
        let mut outputs = Vec::new();
        for bin in [theirs(), ours()] {
            let client = Streaming::start(&bin, &["-p", port.as_str(), mode], false);
            wait_for("the replica to be online", DEADLINE, || replica_online(&s));
            let mut c = s.connect().expect("connect");
            c.cmd(&["SET", "repk", "a b"]);
            c.cmd(&["SELECT", "3"]);
            c.cmd(&["INCR", "counter"]);
            client.wait_for_text("\"INCR\",\"counter\"\n");
            outputs.push(client.text());
            drop(client);
            wait_for("the replica to leave", DEADLINE, || !replica_online(&s));
        }
        if outputs[0] != outputs[1] {
            problems.push(format!("{mode}: {:?} vs {:?}", outputs[0], outputs[1]));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
