//! Golden tests: redoubt-cli must print what redis-cli 7.0 prints, byte for byte, with the
//! same exit status, against the same real redis-server (the harness starts it by PID on a
//! free loopback port). Each case runs with stdout piped (raw output) and on a pseudo-terminal
//! (TTY output), unless noted.

mod common;

use common::{compare, compare_all};
use redoubt_harness::{Flavor, ServerProcess};

fn oracle() -> ServerProcess {
    let s = ServerProcess::start(Flavor::Redis, &[("enable-debug-command", "yes")])
        .expect("start redis-server");
    let mut c = s.connect().expect("connect");
    for cmd in [
        &["RPUSH", "list", "a", "b", "c d", ""][..],
        &["HSET", "hash", "f1", "v1", "f2", "2"],
        &["SADD", "set", "x"],
        &["SET", "bin", "a/b\x01\x7f\t\x08\x0c\r\n\"\\\u{e9}"],
        &["ZADD", "z", "1.5", "m1", "2", "m2"],
        &["SET", "long", "0123456789"],
    ] {
        c.cmd(cmd);
    }
    s
}

/// Every RESP2 and RESP3 reply type, through DEBUG PROTOCOL, in every output mode.
#[test]
fn every_reply_type_in_every_mode() {
    let s = oracle();
    let types = [
        "string", "integer", "double", "bignum", "null", "array", "set", "map", "attrib", "push",
        "verbatim", "true", "false",
    ];
    let mut cases: Vec<Vec<&str>> = Vec::new();
    for mode in [
        &[][..],
        &["--raw"],
        &["--csv"],
        &["--json"],
        &["--quoted-json"],
        &["--no-raw"],
    ] {
        for proto in ["-2", "-3"] {
            for t in types {
                let mut c = mode.to_vec();
                c.extend_from_slice(&[proto, "DEBUG", "PROTOCOL", t]);
                cases.push(c);
            }
        }
    }
    let refs: Vec<&[&str]> = cases.iter().map(|c| c.as_slice()).collect();
    compare_all(s.port(), &refs, true);
}

/// Real data: strings needing escapes, nested and empty aggregates, errors, delimiters.
#[test]
fn data_replies_and_delimiters() {
    let s = oracle();
    let cmds: [&[&str]; 14] = [
        &["PING"],
        &["GET", "nokey"],
        &["GET", "bin"],
        &["LRANGE", "list", "0", "-1"],
        &["LRANGE", "nolist", "0", "-1"],
        &["HGETALL", "hash"],
        &["-3", "HGETALL", "hash"],
        &["-3", "SMEMBERS", "set"],
        &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        &["-3", "ZRANGE", "z", "0", "-1", "WITHSCORES"],
        &["NOSUCHCOMMAND", "x"],
        &["INCR", "list"],
        &["GETRANGE", "long", "0", "3"],
        &["INFO", "keyspace"],
    ];
    let mut cases: Vec<Vec<&str>> = Vec::new();
    for mode in [
        &[][..],
        &["--raw"],
        &["--csv"],
        &["--json"],
        &["--quoted-json"],
        &["-d", "X", "--raw"],
        &["-D", "Y", "-d", "X", "--raw"],
        &["-e"],
        &["-r", "3"],
    ] {
        for c in cmds {
            let mut v = mode.to_vec();
            v.extend_from_slice(c);
            cases.push(v);
        }
    }
    let refs: Vec<&[&str]> = cases.iter().map(|c| c.as_slice()).collect();
    compare_all(s.port(), &refs, true);
}

/// Option handling: errors, the password warning, AUTH/SELECT failures, URIs, -x/-X, quoting.
#[test]
fn options_and_their_errors() {
    let s = oracle();
    let port = s.port().to_string();
    let uri = format!("redis://127.0.0.1:{port}/3");
    let uri_auth = format!("redis://user:pw@127.0.0.1:{port}/2");
    let cases: [&[&str]; 31] = [
        &["HELP"],
        &["help", "set"],
        &["help", "config", "get"],
        &["help", "nosuch"],
        &["help", "@hyperloglog"],
        &["--bogus"],
        &["-n"],
        &["-n", "x", "PING"],
        &["-n", "99", "PING"],
        &["-3", "-n", "1", "PING"],
        &["-2", "-3", "PING"],
        &["--json", "-2", "HGETALL", "hash"],
        &["-2", "--json", "HGETALL", "hash"],
        &["--json", "-2", "-3", "PING"],
        &["-a", "pw", "PING"],
        &["--no-auth-warning", "-a", "pw", "PING"],
        &["--pass", "pw", "PING"],
        &["--user", "u", "PING"],
        &["--user", "u", "-a", "p", "PING"],
        &["-u", "bogus", "PING"],
        &["-u", &uri, "PING"],
        &["-u", &uri_auth, "PING"],
        &["--quoted-input", "SET", "q", "\"a\\x00b\""],
        &["--quoted-input", "GET", "q"],
        &["--quoted-input", "GET", "\"a"],
        &["-X", "tag", "PING"],
        &["--show-pushes", "x", "PING"],
        &["--version"],
        &["--help"],
        &["-h"],
        &["-p"],
    ];
    compare_all(s.port(), &cases, true);

    // -x and -X take an argument from stdin.
    let mut problems = Vec::new();
    for (args, input) in [
        (
            vec!["-p", port.as_str(), "-x", "SET", "fromstdin"],
            &b"line1\nline2\n"[..],
        ),
        (vec!["-p", port.as_str(), "GET", "fromstdin"], b""),
        (
            vec!["-p", port.as_str(), "-X", "T", "SET", "tagged", "T"],
            b"\x00bin",
        ),
        (vec!["-p", port.as_str(), "GET", "tagged"], b""),
        // No command and stdin not a terminal: the REPL reads lines, without prompts.
        (
            vec!["-p", port.as_str()],
            b"ping\nset a 1\nget a\n\"x\n3 ping\nquit\nping\n",
        ),
        (
            vec!["-p", port.as_str(), "--raw"],
            b"lrange list 0 -1\nhgetall hash",
        ),
    ] {
        problems.extend(compare(&args, input, false));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Connection failures: refused TCP port, missing unix socket, unresolvable host.
#[test]
fn connection_errors() {
    let mut problems = Vec::new();
    // A port nobody listens on: bind one, note it, close it.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("probe a free port")
        .port()
        .to_string();
    for args in [
        vec!["-p", free.as_str(), "PING"],
        vec!["-s", "/nonexistent/redoubt.sock", "PING"],
        vec!["-h", "nohost.invalid", "PING"],
        vec!["-p", "99999999", "PING"],
    ] {
        for tty in [false, true] {
            problems.extend(compare(&args, b"", tty));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// HELP is answered from COMMAND DOCS: every group's listing (each command's synopsis as
/// redis-cli's generated table has it) must match.
#[test]
fn help_for_every_group() {
    let s = oracle();
    let groups = [
        "generic",
        "string",
        "list",
        "set",
        "sorted-set",
        "hash",
        "pubsub",
        "transactions",
        "connection",
        "server",
        "scripting",
        "hyperloglog",
        "cluster",
        "geo",
        "stream",
        "bitmap",
    ];
    let cases: Vec<Vec<String>> = groups
        .iter()
        .map(|g| vec!["help".to_string(), format!("@{g}")])
        .collect();
    let refs: Vec<Vec<&str>> = cases
        .iter()
        .map(|c| c.iter().map(String::as_str).collect())
        .collect();
    let refs: Vec<&[&str]> = refs.iter().map(|c| c.as_slice()).collect();
    compare_all(s.port(), &refs, false);
}

/// SHUTDOWN closes the link: redis-cli treats that as success, silently.
#[test]
fn shutdown_is_silent_success() {
    let mut outcomes = Vec::new();
    for bin in [common::theirs(), common::ours()] {
        let mut s = ServerProcess::start(Flavor::Redis, &[]).expect("start redis-server");
        let port = s.port().to_string();
        outcomes.push(common::run(
            &bin,
            &["-p", &port, "SHUTDOWN", "NOSAVE"],
            b"",
            false,
        ));
        redoubt_harness::wait_for("server exit", std::time::Duration::from_secs(10), || {
            !s.is_running()
        });
    }
    assert_eq!(outcomes[0], outcomes[1]);
}

/// Replies a real server never sends, from a fake one: hiredis's reading errors (and what it
/// accepts) must come out the same.
#[test]
fn malformed_replies_match_hiredis() {
    use std::io::{Read, Write};
    let payloads: [&[u8]; 30] = [
        b"$5\r\nab",
        b"?x\r\n",
        b"*2\r\n:1\r\n",
        b":abc\r\n",
        b"$-1\r\n",
        b"*-1\r\n",
        b"+OK\r\n\xff\xfe",
        b"$3\r\nabcXX",
        b"%1\r\n+k\r\n",
        b"~0\r\n",
        b"%0\r\n",
        b">0\r\n",
        b"=3\r\nab\r\n",
        b"=6\r\ntxt:ab\r\n",
        b",inf\r\n",
        b"(123\r\n",
        b"#x\r\n",
        b"_\r\n",
        b"!5\r\nERR x\r\n",
        b"$x\r\n",
        b"*x\r\n",
        b"_x\r\n",
        b"(12a\r\n",
        b",abc\r\n",
        b"$-2\r\n",
        b"*-2\r\n",
        b"\x01\r\n",
        b":01\r\n",
        b":+1\r\n",
        b"=5\r\ntxtab\r\n",
    ];
    let mut problems = Vec::new();
    for payload in payloads {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port().to_string();
        let served = std::thread::spawn(move || {
            for _ in 0..2 {
                let Ok((mut c, _)) = listener.accept() else {
                    return;
                };
                let mut buf = [0u8; 1024];
                let _ = c.read(&mut buf);
                let _ = c.write_all(payload);
            }
        });
        problems.extend(compare(&["-p", &port, "PING"], b"", false));
        served.join().expect("fake server");
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
