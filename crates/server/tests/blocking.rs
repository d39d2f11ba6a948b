//! Blocking list commands (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP) over TCP: each scenario runs
//! against real redis-server 7.0.15 and against redoubt-server, and the transcripts of exact
//! reply bytes must be identical. Waiting uses `wait_for` on INFO's `blocked_clients`.

use redoubt_harness::{must_connect, must_start, wait_for, Flavor, RawConn, ServerProcess};
use std::time::{Duration, Instant};

fn blocked_clients(c: &mut RawConn) -> usize {
    let v = c.cmd(&["INFO", "clients"]);
    let redoubt_harness::Value::Bulk(text) = v else {
        panic!("INFO reply {v:?}");
    };
    let text = String::from_utf8_lossy(&text).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("blocked_clients in INFO")
}

fn wait_blocked(c: &mut RawConn, n: usize) {
    wait_for("blocked clients", Duration::from_secs(5), || {
        blocked_clients(c) == n
    });
}

fn raw(c: &mut RawConn, args: &[&str]) -> Vec<u8> {
    c.send_cmd(args).expect("send");
    c.read_raw_reply()
}

/// Runs `scenario` on both servers and compares the transcripts.
fn same(scenario: fn(&ServerProcess) -> Vec<Vec<u8>>) {
    let redis = must_start(Flavor::Redis, &[]);
    let redoubt = must_start(Flavor::Redoubt, &[]);
    let want = scenario(&redis);
    let got = scenario(&redoubt);
    let show = |t: &[Vec<u8>]| {
        t.iter()
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(show(&got), show(&want));
}

#[test]
fn served_immediately_and_errors() {
    same(|s| {
        let mut c = must_connect(s);
        let mut t = vec![raw(&mut c, &["RPUSH", "l", "a", "b", "c", "d"])];
        t.push(raw(&mut c, &["BLPOP", "none", "l", "0"]));
        t.push(raw(&mut c, &["BRPOP", "l", "0"]));
        t.push(raw(&mut c, &["BLMOVE", "l", "m", "LEFT", "RIGHT", "0"]));
        t.push(raw(&mut c, &["BRPOPLPUSH", "l", "m", "0"]));
        t.push(raw(
            &mut c,
            &["BLMPOP", "0", "2", "x", "m", "RIGHT", "COUNT", "5"],
        ));
        t.push(raw(&mut c, &["SET", "s", "v"]));
        t.push(raw(&mut c, &["BLPOP", "s", "0"]));
        t.push(raw(&mut c, &["BLMOVE", "s", "m", "LEFT", "LEFT", "0"]));
        for timeout in ["abc", "-1", "inf", "nan", "1e20", " 1", "1 "] {
            t.push(raw(&mut c, &["BLPOP", "x", timeout]));
        }
        t.push(raw(&mut c, &["BLMOVE", "a", "b", "UP", "LEFT", "abc"]));
        t.push(raw(&mut c, &["BLMPOP", "abc", "0", "a", "LEFT"]));
        t.push(raw(&mut c, &["BLMPOP", "abc", "1", "a", "UP"]));
        t.push(raw(
            &mut c,
            &["BLMPOP", "abc", "1", "a", "LEFT", "COUNT", "0"],
        ));
        t.push(raw(&mut c, &["BLMPOP", "abc", "1", "a", "LEFT"]));
        t.push(raw(&mut c, &["CLIENT", "UNBLOCK", "abc"]));
        t.push(raw(&mut c, &["CLIENT", "UNBLOCK", "5", "foo"]));
        t.push(raw(&mut c, &["CLIENT", "UNBLOCK", "5555"]));
        t
    });
}

#[test]
fn served_by_a_later_push_in_fifo_order() {
    same(|s| {
        let mut a = must_connect(s);
        let mut b = must_connect(s);
        let mut p = must_connect(s);
        let mut t = Vec::new();
        a.send_cmd(&["BLPOP", "q", "q2", "0"]).expect("send");
        // Pipelined after the blocking call: runs only once a is served.
        a.send_cmd(&["PING"]).expect("send");
        wait_blocked(&mut p, 1);
        b.send_cmd(&["BRPOP", "q2", "0"]).expect("send");
        wait_blocked(&mut p, 2);
        t.push(raw(&mut p, &["RPUSH", "q2", "x", "y", "z"]));
        t.push(a.read_raw_reply());
        t.push(a.read_raw_reply());
        t.push(b.read_raw_reply());
        t.push(raw(&mut p, &["LRANGE", "q2", "0", "-1"]));
        // BLMOVE served later, BLMPOP narrowed to the key that became ready.
        a.send_cmd(&["BLMOVE", "src", "dst", "RIGHT", "LEFT", "0"])
            .expect("send");
        b.send_cmd(&["BLMPOP", "0", "2", "m1", "m2", "RIGHT", "COUNT", "5"])
            .expect("send");
        wait_blocked(&mut p, 2);
        t.push(raw(&mut p, &["RPUSH", "src", "1", "2"]));
        t.push(a.read_raw_reply());
        t.push(raw(&mut p, &["MULTI"]));
        t.push(raw(&mut p, &["RPUSH", "m2", "1", "2", "3"]));
        t.push(raw(&mut p, &["RPUSH", "m1", "a"]));
        t.push(raw(&mut p, &["EXEC"]));
        t.push(b.read_raw_reply());
        t.push(raw(&mut p, &["LRANGE", "dst", "0", "-1"]));
        // DEL and a string value do not wake a blocked client.
        a.send_cmd(&["BLPOP", "w", "0"]).expect("send");
        wait_blocked(&mut p, 1);
        t.push(raw(&mut p, &["SET", "w", "str"]));
        t.push(raw(&mut p, &["DEL", "w"]));
        t.push(raw(&mut p, &["LPUSH", "w", "v"]));
        t.push(a.read_raw_reply());
        t
    });
}

#[test]
fn timeouts_multi_and_unblock() {
    same(|s| {
        let mut a = must_connect(s);
        let mut p = must_connect(s);
        let mut t = Vec::new();
        let start = Instant::now();
        t.push(raw(&mut a, &["BLPOP", "none", "0.1"]));
        t.push(raw(
            &mut a,
            &["BLMOVE", "none", "x", "LEFT", "LEFT", "0.05"],
        ));
        t.push(raw(&mut a, &["BLMPOP", "0.05", "1", "none", "LEFT"]));
        assert!(start.elapsed() >= Duration::from_millis(200));
        t.push(raw(&mut a, &["MULTI"]));
        t.push(raw(&mut a, &["BLPOP", "none", "0"]));
        t.push(raw(&mut a, &["BLMOVE", "none", "x", "LEFT", "LEFT", "0"]));
        t.push(raw(&mut a, &["BRPOPLPUSH", "none", "x", "0"]));
        t.push(raw(&mut a, &["EXEC"]));
        let id = raw(&mut a, &["CLIENT", "ID"]);
        let id = String::from_utf8_lossy(&id[1..id.len() - 2]).into_owned();
        a.send_cmd(&["BRPOP", "none", "0"]).expect("send");
        wait_blocked(&mut p, 1);
        let list = raw(&mut p, &["CLIENT", "LIST"]);
        t.push(vec![u8::from(
            String::from_utf8_lossy(&list).contains(" flags=b "),
        )]);
        t.push(raw(&mut p, &["CLIENT", "UNBLOCK", &id, "ERROR"]));
        t.push(a.read_raw_reply());
        a.send_cmd(&["BLMOVE", "none", "x", "LEFT", "LEFT", "0"])
            .expect("send");
        wait_blocked(&mut p, 1);
        t.push(raw(&mut p, &["CLIENT", "UNBLOCK", &id, "TIMEOUT"]));
        t.push(a.read_raw_reply());
        t.push(raw(&mut p, &["CLIENT", "UNBLOCK", &id]));
        t.push(raw(&mut a, &["HELLO", "3"])[..1].to_vec());
        t.push(raw(&mut a, &["BLPOP", "none", "0.01"]));
        // A client that disconnects while blocked is released and serves nobody.
        let mut d = must_connect(s);
        d.send_cmd(&["BLPOP", "gone", "0"]).expect("send");
        wait_blocked(&mut p, 1);
        drop(d);
        wait_blocked(&mut p, 0);
        t.push(raw(&mut p, &["RPUSH", "gone", "v"]));
        t.push(raw(&mut p, &["LLEN", "gone"]));
        t
    });
}

#[test]
fn sorted_set_blocking_pops() {
    same(|s| {
        let mut a = must_connect(s);
        let mut b = must_connect(s);
        let mut p = must_connect(s);
        let mut t = vec![raw(
            &mut p,
            &[
                "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5.5", "e",
            ],
        )];
        t.push(raw(&mut p, &["BZPOPMIN", "z", "0"]));
        t.push(raw(&mut p, &["BZPOPMAX", "nz", "z", "0"]));
        t.push(raw(&mut p, &["BZMPOP", "0", "1", "z", "MIN", "COUNT", "2"]));
        t.push(raw(&mut p, &["BZPOPMIN", "z", "abc"]));
        t.push(raw(&mut p, &["BZMPOP", "abc", "1", "a", "UP"]));
        t.push(raw(&mut p, &["BZMPOP", "abc", "1", "a", "MIN"]));
        t.push(raw(&mut p, &["BZPOPMIN", "nz", "0.05"]));
        t.push(raw(&mut p, &["MULTI"]));
        t.push(raw(&mut p, &["BZPOPMIN", "nothing", "0"]));
        t.push(raw(&mut p, &["BZMPOP", "0", "1", "n", "MIN"]));
        t.push(raw(&mut p, &["EXEC"]));
        a.send_cmd(&["BZPOPMAX", "w1", "w2", "0"]).expect("send");
        wait_blocked(&mut p, 1);
        b.send_cmd(&["BZMPOP", "0", "2", "w3", "w2", "MAX", "COUNT", "5"])
            .expect("send");
        wait_blocked(&mut p, 2);
        t.push(raw(&mut p, &["ZADD", "w2", "1", "x", "2", "y", "3", "z"]));
        t.push(a.read_raw_reply());
        t.push(b.read_raw_reply());
        t.push(raw(&mut a, &["HELLO", "3"])[..1].to_vec());
        a.send_cmd(&["BZPOPMIN", "w5", "0"]).expect("send");
        wait_blocked(&mut p, 1);
        t.push(raw(&mut p, &["ZADD", "w5", "1.5", "m"]));
        t.push(a.read_raw_reply());
        t
    });
}
