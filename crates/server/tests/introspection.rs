//! Introspection behaviours that need several connections, time or the process: CLIENT
//! PAUSE holding commands, CLIENT KILL closing sockets, SHUTDOWN stopping the server, the
//! slow log and INFO's counters; each checked on redis-server 7.0 and on redoubt-server.

use redoubt_harness::{must_connect, must_start, wait_for, Flavor, Value};
use std::time::{Duration, Instant};

fn bulk_text(v: &Value) -> String {
    match v {
        Value::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        Value::Verbatim(_, b) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

#[test]
fn client_pause_write_holds_writes_not_reads() {
    for flavor in [Flavor::Redis, Flavor::Redoubt] {
        let s = must_start(flavor, &[]);
        let mut admin = must_connect(&s);
        let mut c = must_connect(&s);
        assert_eq!(
            admin.cmd(&["CLIENT", "PAUSE", "100000", "WRITE"]),
            Value::Simple("OK".into())
        );
        let t = Instant::now();
        assert_eq!(c.cmd(&["GET", "k"]), Value::Nil, "{}", flavor.name());
        assert!(t.elapsed() < Duration::from_secs(1), "reads are not held");
        // A pipelined write waits; a read behind it waits too (nothing overtakes).
        c.send_cmd(&["SET", "k", "v"]).expect("send");
        c.send_cmd(&["GET", "k"]).expect("send");
        let early = c.read_reply(Instant::now() + Duration::from_millis(300));
        assert!(early.is_err(), "{}: the write must wait", flavor.name());
        assert_eq!(
            admin.cmd(&["CLIENT", "UNPAUSE"]),
            Value::Simple("OK".into())
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        assert_eq!(
            c.read_reply(deadline).expect("SET reply"),
            Value::Simple("OK".into())
        );
        assert_eq!(
            c.read_reply(deadline).expect("GET reply"),
            Value::Bulk("v".into())
        );
    }
}

#[test]
fn client_pause_all_ends_by_itself() {
    for flavor in [Flavor::Redis, Flavor::Redoubt] {
        let s = must_start(flavor, &[]);
        let mut admin = must_connect(&s);
        let mut c = must_connect(&s);
        admin.cmd(&["CLIENT", "PAUSE", "300", "ALL"]);
        let t = Instant::now();
        assert_eq!(c.cmd(&["PING"]), Value::Simple("PONG".into()));
        let waited = t.elapsed();
        assert!(
            waited >= Duration::from_millis(200) && waited < Duration::from_secs(3),
            "{}: PING waited {waited:?}",
            flavor.name()
        );
        // Refused commands are answered at once, even while paused.
        admin.cmd(&["CLIENT", "PAUSE", "100000", "ALL"]);
        let t = Instant::now();
        assert!(matches!(c.cmd(&["NOSUCHCOMMAND"]), Value::Error(_)));
        assert!(matches!(c.cmd(&["GET"]), Value::Error(_)));
        assert!(t.elapsed() < Duration::from_secs(1));
        // UNPAUSE is itself held by an ALL pause; a shorter pause cannot shorten it, so
        // the test ends the process with the pause on (as it would any other).
    }
}

#[test]
fn client_kill_closes_the_other_connection() {
    for flavor in [Flavor::Redis, Flavor::Redoubt] {
        let s = must_start(flavor, &[]);
        let mut a = must_connect(&s);
        let mut b = must_connect(&s);
        let Value::Int(b_id) = b.cmd(&["CLIENT", "ID"]) else {
            panic!("CLIENT ID")
        };
        let id = b_id.to_string();
        assert_eq!(a.cmd(&["CLIENT", "KILL", "ID", &id]), Value::Int(1));
        assert!(
            b.is_closed(Instant::now() + Duration::from_secs(5)),
            "{}: the killed client is disconnected",
            flavor.name()
        );
        // Gone from CLIENT LIST at once.
        let list = bulk_text(&a.cmd(&["CLIENT", "LIST", "ID", &id]));
        assert_eq!(list, "", "{}", flavor.name());
        // The old form can kill the caller itself, after its reply.
        let info = bulk_text(&a.cmd(&["CLIENT", "INFO"]));
        let addr = info
            .split(' ')
            .find_map(|f| f.strip_prefix("addr="))
            .expect("addr field")
            .to_string();
        assert_eq!(
            a.cmd(&["CLIENT", "KILL", &addr]),
            Value::Simple("OK".into())
        );
        assert!(a.is_closed(Instant::now() + Duration::from_secs(5)));
    }
}

#[test]
fn shutdown_nosave_stops_the_server() {
    for flavor in [Flavor::Redis, Flavor::Redoubt] {
        let mut s = must_start(flavor, &[]);
        let mut c = must_connect(&s);
        assert_eq!(
            c.cmd(&["SHUTDOWN", "ABORT"]),
            Value::Error("ERR No shutdown in progress.".into())
        );
        c.send_cmd(&["SHUTDOWN", "NOSAVE"]).expect("send");
        assert!(c.is_closed(Instant::now() + Duration::from_secs(5)));
        wait_for("the process to exit", Duration::from_secs(10), || {
            !s.is_running()
        });
    }
}

#[test]
fn slowlog_records_slow_commands_with_their_client() {
    for flavor in [Flavor::Redis, Flavor::Redoubt] {
        let s = must_start(
            flavor,
            &[
                ("slowlog-log-slower-than", "20000"),
                ("enable-debug-command", "yes"),
            ],
        );
        let mut c = must_connect(&s);
        c.cmd(&["CLIENT", "SETNAME", "sleeper"]);
        c.cmd(&["DEBUG", "SLEEP", "0.05"]);
        c.cmd(&["PING"]);
        assert_eq!(
            c.cmd(&["SLOWLOG", "LEN"]),
            Value::Int(1),
            "{}",
            flavor.name()
        );
        let Value::Array(entries) = c.cmd(&["SLOWLOG", "GET"]) else {
            panic!("SLOWLOG GET")
        };
        let Value::Array(e) = &entries[0] else {
            panic!("entry")
        };
        assert_eq!(e.len(), 6);
        assert_eq!(e[0], Value::Int(0));
        let Value::Int(us) = e[2] else {
            panic!("duration")
        };
        assert!((50_000..5_000_000).contains(&us), "{}: {us}", flavor.name());
        assert_eq!(
            e[3],
            Value::Array(vec![
                Value::Bulk("DEBUG".into()),
                Value::Bulk("SLEEP".into()),
                Value::Bulk("0.05".into())
            ])
        );
        let local = c.local_addr().expect("local addr").to_string();
        assert_eq!(e[4], Value::Bulk(local.into_bytes().into()));
        assert_eq!(e[5], Value::Bulk("sleeper".into()));
    }
}

#[test]
fn info_counts_commands_and_errors() {
    for flavor in [Flavor::Redis, Flavor::Redoubt] {
        let s = must_start(flavor, &[]);
        let mut c = must_connect(&s);
        c.cmd(&["SET", "a", "1"]);
        c.cmd(&["GET", "a"]);
        c.cmd(&["GET"]);
        c.cmd(&["INCR", "nonnum"]);
        c.cmd(&["SET", "nonnum", "x"]);
        c.cmd(&["INCR", "nonnum"]);
        let text = bulk_text(&c.cmd(&["INFO", "commandstats", "errorstats", "keyspace"]));
        let line = |prefix: &str| {
            text.split("\r\n")
                .find(|l| l.starts_with(prefix))
                .unwrap_or_else(|| panic!("{}: no {prefix} in {text}", flavor.name()))
                .to_string()
        };
        assert!(line("cmdstat_get:calls=1,").ends_with(",rejected_calls=1,failed_calls=0"));
        assert!(line("cmdstat_incr:calls=2,").ends_with(",rejected_calls=0,failed_calls=1"));
        assert_eq!(line("errorstat_ERR:"), "errorstat_ERR:count=2");
        assert_eq!(line("db0:"), "db0:keys=2,expires=0,avg_ttl=0");
        assert!(text.starts_with("# Commandstats\r\n"));
        assert!(text.contains("\r\n\r\n# Errorstats\r\n"));
    }
}
