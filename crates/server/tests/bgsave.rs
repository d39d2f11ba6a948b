//! BGSAVE across real redis-server 7.0.15 and redoubt-server:
//! - a BGSAVE taken while every key is overwritten, deleted, moved and flushed gives exactly
//!   the dataset of the moment it started (`rdb-key-save-delay` keeps it running), the file
//!   passes `redis-check-rdb`, and both Redoubt and Redis load it with that DEBUG DIGEST;
//! - replies and INFO persistence fields as Redis's, during and after a BGSAVE;
//! - a failed BGSAVE turns writes into MISCONF, byte for byte as Redis, until one succeeds;
//! - save points start a BGSAVE from the cron.

use redoubt_harness::{must_connect, wait_for, Flavor, RawConn, ServerProcess, Value};
use std::path::Path;
use std::time::{Duration, Instant};

fn text(v: Value) -> String {
    match v {
        Value::Simple(s) | Value::Error(s) => s,
        Value::Bulk(b) | Value::Verbatim(_, b) => String::from_utf8_lossy(&b).into_owned(),
        Value::Int(n) => n.to_string(),
        other => format!("{other:?}"),
    }
}

fn info(c: &mut RawConn) -> String {
    text(c.cmd(&["INFO", "persistence"]))
}

fn field(info: &str, name: &str) -> String {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("{name} missing in {info}"))
        .trim()
        .to_string()
}

fn field_names(info: &str) -> Vec<String> {
    info.lines()
        .filter_map(|l| l.split_once(':').map(|(n, _)| n.to_string()))
        .collect()
}

fn digest(c: &mut RawConn) -> String {
    text(c.cmd(&["DEBUG", "DIGEST"]))
}

fn pipeline(c: &mut RawConn, cmds: &[Vec<String>]) {
    for chunk in cmds.chunks(500) {
        for cmd in chunk {
            c.send_cmd(cmd).expect("send");
        }
        for _ in chunk {
            match c.read_reply(Instant::now() + Duration::from_secs(10)) {
                Ok(Value::Error(e)) => panic!("command failed: {e}"),
                Ok(_) => {}
                Err(e) => panic!("reply: {e}"),
            }
        }
    }
}

fn cmd(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|p| p.to_string()).collect()
}

fn wait_bgsave_done(c: &mut RawConn) -> String {
    let mut last = String::new();
    wait_for("the BGSAVE to end", Duration::from_secs(60), || {
        last = info(c);
        field(&last, "rdb_bgsave_in_progress") == "0"
    });
    last
}

fn start_in(flavor: Flavor, dir: &Path) -> ServerProcess {
    ServerProcess::builder(flavor)
        .directive("dir", &dir.display().to_string())
        .directive("enable-debug-command", "yes")
        .start()
        .expect("server")
}

/// Every type, TTLs, three databases.
fn dataset() -> Vec<Vec<String>> {
    let mut v = Vec::new();
    for db in ["0", "1", "5"] {
        v.push(cmd(&["SELECT", db]));
        for i in 0..600 {
            let k = format!("s{i}");
            v.push(cmd(&[
                "SET",
                &k,
                &format!("value-{i}-{}", "x".repeat(i % 40)),
            ]));
            if i % 7 == 0 {
                v.push(cmd(&["PEXPIRE", &k, "3600000"]));
            }
        }
        for i in 0..60 {
            let (l, h, s, z) = (
                format!("l{i}"),
                format!("h{i}"),
                format!("t{i}"),
                format!("z{i}"),
            );
            v.push(cmd(&["RPUSH", &l, "a", "b", &i.to_string()]));
            v.push(cmd(&["HSET", &h, "f", "v", "n", &i.to_string()]));
            v.push(cmd(&["SADD", &s, "1", "2", &format!("m{i}")]));
            v.push(cmd(&["ZADD", &z, "1", "a", &i.to_string(), "b"]));
        }
    }
    v.push(cmd(&["SELECT", "0"]));
    v
}

/// Overwrites, deletes, expires, moves and flushes everything, and adds new keys.
fn churn() -> Vec<Vec<String>> {
    let mut v = Vec::new();
    for db in ["0", "1", "5"] {
        v.push(cmd(&["SELECT", db]));
        for i in 0..600 {
            let k = format!("s{i}");
            match i % 5 {
                0 => v.push(cmd(&["SET", &k, "overwritten"])),
                1 => v.push(cmd(&["DEL", &k])),
                2 => v.push(cmd(&["APPEND", &k, "-more"])),
                3 => v.push(cmd(&["PEXPIRE", &k, "1"])),
                _ => v.push(cmd(&["RENAME", &k, &format!("renamed{i}")])),
            }
            v.push(cmd(&["SET", &format!("new{i}"), "fresh"]));
        }
        for i in 0..60 {
            v.push(cmd(&["RPUSH", &format!("l{i}"), "pushed"]));
            v.push(cmd(&["HDEL", &format!("h{i}"), "f"]));
            v.push(cmd(&["SREM", &format!("t{i}"), "1"]));
            v.push(cmd(&["ZINCRBY", &format!("z{i}"), "5", "a"]));
            v.push(cmd(&["MOVE", &format!("l{i}"), "9"]));
        }
    }
    v.push(cmd(&["SELECT", "0"]));
    v.push(cmd(&["SWAPDB", "0", "1"]));
    v.push(cmd(&["SELECT", "5"]));
    v.push(cmd(&["FLUSHDB"]));
    v.push(cmd(&["SET", "after-flush", "1"]));
    v.push(cmd(&["SELECT", "0"]));
    v
}

#[test]
fn bgsave_under_writes_is_the_image_at_its_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ours = ServerProcess::builder(Flavor::Redoubt)
        .directive("dir", &dir.path().display().to_string())
        .directive("enable-debug-command", "yes")
        // 500 us per key: the walk of ~6000 keys lasts about 3 s, far longer than the churn.
        .directive("rdb-key-save-delay", "500")
        .start()
        .expect("redoubt");
    let mut c = must_connect(&ours);
    pipeline(&mut c, &dataset());
    let want = digest(&mut c);
    assert_eq!(text(c.cmd(&["BGSAVE"])), "Background saving started");
    assert_eq!(
        c.cmd(&["BGSAVE"]),
        Value::Error("ERR Background save already in progress".into())
    );
    assert_eq!(
        c.cmd(&["SAVE"]),
        Value::Error("ERR Background save already in progress".into())
    );
    pipeline(&mut c, &churn());
    let during = info(&mut c);
    assert_eq!(field(&during, "rdb_bgsave_in_progress"), "1", "{during}");
    assert_ne!(field(&during, "current_cow_size"), "0", "{during}");
    assert_ne!(digest(&mut c), want);
    let after = wait_bgsave_done(&mut c);
    assert_eq!(field(&after, "rdb_last_bgsave_status"), "ok");
    assert_ne!(field(&after, "rdb_last_cow_size"), "0", "{after}");
    let log = ours.log();
    for line in [
        format!("Background saving started by pid {}", ours.pid()),
        "DB saved on disk".to_string(),
        "Background saving terminated with success".to_string(),
    ] {
        assert!(log.contains(&line), "{line} in {log}");
    }
    let file = dir.path().join("dump.rdb");
    let check = std::process::Command::new("redis-check-rdb")
        .arg(&file)
        .output()
        .expect("run redis-check-rdb");
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(out.contains("RDB looks OK"), "{out}");
    for flavor in [Flavor::Redoubt, Flavor::Redis] {
        let d = tempfile::tempdir().expect("tempdir");
        std::fs::copy(&file, d.path().join("dump.rdb")).expect("copy");
        let s = start_in(flavor, d.path());
        let mut lc = must_connect(&s);
        assert_eq!(digest(&mut lc), want, "{flavor:?} loading our BGSAVE");
    }
}

#[test]
fn replies_and_info_fields_as_redis() {
    let mut names = Vec::new();
    for flavor in [Flavor::Redis, Flavor::Redoubt] {
        let s = ServerProcess::start(
            flavor,
            &[
                ("enable-debug-command", "yes"),
                ("rdb-key-save-delay", "1000"),
            ],
        )
        .expect("server");
        let mut c = must_connect(&s);
        pipeline(&mut c, &[cmd(&["DEBUG", "POPULATE", "1000"])]);
        let mut replies = Vec::new();
        for args in [
            vec!["BGSAVE", "NOW"],
            vec!["BGSAVE", "SCHEDULE", "x"],
            vec!["BGSAVE"],
            vec!["BGSAVE"],
            vec!["BGSAVE", "SCHEDULE"],
            vec!["SAVE"],
        ] {
            replies.push(c.cmd(&args));
        }
        let during = info(&mut c);
        assert_eq!(field(&during, "rdb_bgsave_in_progress"), "1");
        assert_eq!(field(&during, "rdb_saves"), "1", "{flavor:?}");
        assert_eq!(
            field(&during, "current_save_keys_total"),
            "1000",
            "{flavor:?}"
        );
        // Let it finish quickly.
        c.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "0"]);
        let after = wait_bgsave_done(&mut c);
        assert_eq!(field(&after, "rdb_last_bgsave_status"), "ok");
        assert_eq!(
            field(&after, "rdb_changes_since_last_save"),
            "0",
            "{flavor:?}"
        );
        assert_ne!(
            field(&after, "rdb_last_bgsave_time_sec"),
            "-1",
            "{flavor:?}"
        );
        assert_eq!(field(&after, "rdb_current_bgsave_time_sec"), "-1");
        // MULTI/EXEC schedules instead of starting.
        c.cmd(&["MULTI"]);
        c.cmd(&["BGSAVE"]);
        replies.push(c.cmd(&["EXEC"]));
        names.push((field_names(&during), field_names(&after), replies));
    }
    assert_eq!(names[0], names[1]);
}

#[test]
fn failed_bgsave_refuses_writes_with_misconf_as_redis() {
    let mut transcripts = Vec::new();
    for flavor in [Flavor::Redis, Flavor::Redoubt] {
        let s = ServerProcess::start(flavor, &[("save", "3600 1")]).expect("server");
        // A directory where the file must go: the final rename fails.
        let blocker = s.dir().join("dump.rdb");
        std::fs::create_dir(&blocker).expect("mkdir");
        let mut c = must_connect(&s);
        let mut t = Vec::new();
        t.push(c.cmd(&["SET", "a", "1"]));
        t.push(c.cmd(&["BGSAVE"]));
        let after = wait_bgsave_done(&mut c);
        assert_eq!(field(&after, "rdb_last_bgsave_status"), "err", "{flavor:?}");
        for args in [
            vec!["SET", "k", "v"],
            vec!["PING"],
            vec!["GET", "a"],
            vec!["ECHO", "x"],
            vec!["MULTI"],
            vec!["SET", "x", "1"],
            vec!["EXEC"],
            vec!["MULTI"],
            vec!["GET", "x"],
            vec!["EXEC"],
            vec!["FLUSHALL"],
        ] {
            t.push(c.cmd(&args));
        }
        // The disk recovers: a successful BGSAVE lifts the refusal.
        std::fs::remove_dir(&blocker).expect("rmdir");
        t.push(c.cmd(&["BGSAVE"]));
        let after = wait_bgsave_done(&mut c);
        assert_eq!(field(&after, "rdb_last_bgsave_status"), "ok", "{flavor:?}");
        t.push(c.cmd(&["SET", "k", "v"]));
        let log = s.log();
        assert!(log.contains("Background saving error"), "{log}");
        assert!(
            log.contains("Error moving temp DB file temp-"),
            "{flavor:?}: {log}"
        );
        transcripts.push(t);
    }
    assert_eq!(transcripts[0], transcripts[1]);
}

#[test]
fn save_points_start_a_bgsave_from_the_cron() {
    let s = ServerProcess::start(Flavor::Redoubt, &[("save", "1 2")]).expect("redoubt");
    let mut c = must_connect(&s);
    c.cmd(&["SET", "a", "1"]);
    c.cmd(&["SET", "b", "2"]);
    wait_for("the save point's BGSAVE", Duration::from_secs(10), || {
        s.log()
            .contains("Background saving terminated with success")
    });
    let log = s.log();
    assert!(log.contains("2 changes in 1 seconds. Saving..."), "{log}");
    assert!(s.dir().join("dump.rdb").exists());
    assert_eq!(field(&info(&mut c), "rdb_changes_since_last_save"), "0");
    assert_eq!(c.cmd(&["LASTSAVE"]), {
        let t = field(&info(&mut c), "rdb_last_save_time");
        Value::Int(t.parse().expect("time"))
    });
}

#[test]
fn shutdown_kills_a_bgsave_in_progress() {
    let mut s = ServerProcess::start(
        Flavor::Redoubt,
        &[
            ("enable-debug-command", "yes"),
            ("rdb-key-save-delay", "100000"),
        ],
    )
    .expect("redoubt");
    let mut c = must_connect(&s);
    pipeline(&mut c, &[cmd(&["DEBUG", "POPULATE", "100"])]);
    assert_eq!(text(c.cmd(&["BGSAVE"])), "Background saving started");
    c.send_cmd(&["SHUTDOWN", "NOSAVE"]).expect("send");
    wait_for("exit", Duration::from_secs(10), || !s.is_running());
    let log = s.log();
    let user = log
        .find("User requested shutdown...")
        .expect("shutdown line");
    let kill = log
        .find("There is a child saving an .rdb. Killing it!")
        .expect("kill line");
    assert!(user < kill, "{log}");
    let leftovers: Vec<_> = std::fs::read_dir(s.dir())
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".rdb"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
