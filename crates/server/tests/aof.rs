//! The multi-part AOF across real redis-server 7.0.15 and redoubt-server:
//! - Redoubt's AOF directory passes `redis-check-aof` and loads in Redis with the same
//!   DEBUG DIGEST; Redis's loads in Redoubt; both keep appending to the other's files;
//! - a legacy single-file `appendonly.aof` is loaded and migrated into the directory as
//!   Redis 7.0 does;
//! - `appendfsync always`: after `kill -9`, every acknowledged INCR is there;
//! - a cut last command: loaded without it under `aof-load-truncated yes`, refused otherwise.

use redoubt_harness::{must_connect, Flavor, RawConn, ServerProcess, Value};
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

fn digest(c: &mut RawConn) -> String {
    text(c.cmd(&["DEBUG", "DIGEST"]))
}

fn run_all(c: &mut RawConn, cmds: &[&[&str]]) {
    for cmd in cmds {
        if let Value::Error(e) = c.cmd(cmd) {
            panic!("{cmd:?}: {e}");
        }
    }
}

const DATASET: &[&[&str]] = &[
    &["SET", "s", "hello"],
    &["SET", "n", "12345"],
    &["INCRBY", "n", "5"],
    &["SET", "ttl", "v", "EX", "3600"],
    &["RPUSH", "l", "a", "b", "c"],
    &["LPOP", "l"],
    &["HSET", "h", "f", "1", "g", "2"],
    &["SADD", "set", "1", "2", "x"],
    &["SPOP", "set"],
    &["ZADD", "z", "1", "a", "2.5", "b"],
    &["SELECT", "4"],
    &["SET", "other-db", "1"],
    &["MULTI"],
    &["INCR", "c"],
    &["RPUSH", "l4", "q"],
    &["EXEC"],
    &["SELECT", "0"],
    &["DEL", "s"],
    &["SET", "s2", "x"],
];

fn start(flavor: Flavor, dir: &Path, extra: &[(&str, &str)]) -> ServerProcess {
    let mut b = ServerProcess::builder(flavor)
        .directive("dir", &dir.display().to_string())
        .directive("enable-debug-command", "yes")
        .directive("appendonly", "yes");
    for (k, v) in extra {
        b = b.directive(k, v);
    }
    b.start().expect("server")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else if p
            .extension()
            .is_some_and(|x| x == "aof" || x == "rdb" || x == "manifest")
        {
            std::fs::copy(&p, to.join(e.file_name())).expect("copy");
        }
    }
}

fn check_aof(dir: &Path) {
    let out = std::process::Command::new("redis-check-aof")
        .arg(dir.join("appendonlydir/appendonly.aof.manifest"))
        .output()
        .expect("run redis-check-aof");
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("All AOF files and manifest are valid"), "{s}");
}

#[test]
fn aof_moves_both_ways_with_redis() {
    let d1 = tempfile::tempdir().expect("tempdir");
    let mut ours = start(Flavor::Redoubt, d1.path(), &[("appendfsync", "always")]);
    let mut c = must_connect(&ours);
    run_all(&mut c, DATASET);
    let want = digest(&mut c);
    ours.stop().expect("stop");
    assert!(ours
        .log()
        .contains("Creating AOF base file appendonly.aof.1.base.rdb on server start"));
    check_aof(d1.path());
    let manifest = std::fs::read_to_string(d1.path().join("appendonlydir/appendonly.aof.manifest"))
        .expect("manifest");
    assert_eq!(
        manifest,
        "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );
    // Redis loads our directory, and appends to it.
    let d2 = tempfile::tempdir().expect("tempdir");
    copy_dir(d1.path(), d2.path());
    let mut redis = start(Flavor::Redis, d2.path(), &[]);
    let mut rc = must_connect(&redis);
    assert_eq!(digest(&mut rc), want, "Redis loading our AOF");
    run_all(
        &mut rc,
        &[&["SET", "from-redis", "1"], &["RPUSH", "l", "z"]],
    );
    let want2 = digest(&mut rc);
    redis.stop().expect("stop");
    // We load Redis's, and append to it.
    let d3 = tempfile::tempdir().expect("tempdir");
    copy_dir(d2.path(), d3.path());
    let mut ours2 = start(Flavor::Redoubt, d3.path(), &[]);
    let mut oc = must_connect(&ours2);
    assert_eq!(digest(&mut oc), want2, "Redoubt loading Redis's AOF");
    run_all(
        &mut oc,
        &[&["HSET", "h", "new", "v"], &["EXPIRE", "z", "1000"]],
    );
    let want3 = digest(&mut oc);
    ours2.stop().expect("stop");
    check_aof(d3.path());
    ours2.restart().expect("restart");
    let mut oc = must_connect(&ours2);
    assert_eq!(digest(&mut oc), want3, "restart");
    let d4 = tempfile::tempdir().expect("tempdir");
    copy_dir(d3.path(), d4.path());
    let redis2 = start(Flavor::Redis, d4.path(), &[]);
    let mut rc = must_connect(&redis2);
    assert_eq!(digest(&mut rc), want3, "Redis loading the mixed AOF");
}

#[test]
fn legacy_single_file_aof_is_loaded_and_migrated_as_redis() {
    let legacy = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*3\r\n$5\r\nRPUSH\r\n$1\r\nl\r\n$1\r\nx\r\n";
    let mut results = Vec::new();
    for flavor in [Flavor::Redis, Flavor::Redoubt] {
        let d = tempfile::tempdir().expect("tempdir");
        std::fs::write(d.path().join("appendonly.aof"), legacy).expect("write");
        let s = start(flavor, d.path(), &[]);
        let mut c = must_connect(&s);
        let dg = digest(&mut c);
        let manifest =
            std::fs::read_to_string(d.path().join("appendonlydir/appendonly.aof.manifest"))
                .expect("manifest");
        assert!(
            !d.path().join("appendonly.aof").exists(),
            "{flavor:?} moved it"
        );
        let migrated = "Successfully migrated an old-style AOF file (appendonly.aof) into the AOF directory (appendonlydir).";
        assert!(s.log().contains(migrated), "{flavor:?}: {}", s.log());
        results.push((dg, manifest));
    }
    assert_eq!(results[0], results[1]);
}

#[test]
fn kill9_with_appendfsync_always_keeps_every_acknowledged_incr() {
    let d = tempfile::tempdir().expect("tempdir");
    let mut s = start(Flavor::Redoubt, d.path(), &[("appendfsync", "always")]);
    let mut acked: i64 = 0;
    for round in 0..6u64 {
        let mut c = must_connect(&s);
        assert_eq!(
            text(c.cmd(&["GET", "counter"])).parse::<i64>().unwrap_or(0),
            acked
        );
        // Pipeline INCRs and count only the replies read before the kill.
        let until = Instant::now() + Duration::from_millis(80 + 40 * round);
        while Instant::now() < until {
            for _ in 0..20 {
                c.send_cmd(&["INCR", "counter"]).expect("send");
            }
            for _ in 0..20 {
                match c.read_reply(Instant::now() + Duration::from_secs(5)) {
                    Ok(Value::Int(n)) => {
                        assert_eq!(n, acked + 1);
                        acked = n;
                    }
                    other => panic!("INCR: {other:?}"),
                }
            }
        }
        // More in flight, unread, when the process dies.
        for _ in 0..50 {
            let _ = c.send_cmd(&["INCR", "counter"]);
        }
        s.kill9().expect("kill -9");
        s.restart().expect("restart");
        let mut c = must_connect(&s);
        let got: i64 = text(c.cmd(&["GET", "counter"])).parse().expect("number");
        assert!(got >= acked, "round {round}: {got} < acknowledged {acked}");
        assert!(got <= acked + 50, "round {round}: {got}");
        acked = got;
    }
}

#[test]
fn a_cut_last_command_is_dropped_or_refused_per_aof_load_truncated() {
    let d = tempfile::tempdir().expect("tempdir");
    let mut s = start(Flavor::Redoubt, d.path(), &[("appendfsync", "always")]);
    let mut c = must_connect(&s);
    run_all(&mut c, &[&["SET", "a", "1"], &["SET", "b", "2"]]);
    let want = digest(&mut c);
    s.stop().expect("stop");
    let incr = d.path().join("appendonlydir/appendonly.aof.1.incr.aof");
    let good = std::fs::read(&incr).expect("read");
    // Cut inside an argument, right after a bulk header (the decoder has consumed the
    // command's first lines: fuzz/aof found that this one loaded as complete), after the
    // command name, and after the array header.
    for cut in [
        &b"*3\r\n$3\r\nSET\r\n$1\r\nc"[..],
        b"*3\r\n$3\r\nSET\r\n$1\r\n",
        b"*3\r\n$3\r\nSET\r\n",
        b"*3\r\n",
    ] {
        let mut bytes = good.clone();
        bytes.extend_from_slice(cut);
        std::fs::write(&incr, &bytes).expect("write");
        // With aof-load-truncated no: refused at startup.
        let strict = ServerProcess::builder(Flavor::Redoubt)
            .directive("dir", &d.path().display().to_string())
            .directive("appendonly", "yes")
            .directive("aof-load-truncated", "no")
            .start_timeout(Duration::from_secs(3))
            .start();
        assert!(
            strict.is_err(),
            "a cut AOF must stop startup without aof-load-truncated ({cut:?})"
        );
        // With the default (yes): loaded without the cut command, the file truncated.
        s.restart().expect("restart");
        let mut c = must_connect(&s);
        assert_eq!(digest(&mut c), want);
        assert_eq!(
            std::fs::metadata(&incr).expect("stat").len(),
            good.len() as u64,
            "{cut:?}"
        );
        assert!(
            s.log().contains("aof-load-truncated is enabled"),
            "{}",
            s.log()
        );
        s.stop().expect("stop");
    }
}

#[test]
fn info_persistence_fields_with_the_aof_on_as_redis() {
    let mut names = Vec::new();
    for flavor in [Flavor::Redis, Flavor::Redoubt] {
        let d = tempfile::tempdir().expect("tempdir");
        let s = start(flavor, d.path(), &[]);
        let mut c = must_connect(&s);
        run_all(&mut c, &[&["SET", "a", "1"]]);
        let info = text(c.cmd(&["INFO", "persistence"]));
        let field = |n: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(&format!("{n}:")))
                .map(|v| v.trim().to_string())
        };
        assert_eq!(field("aof_enabled").as_deref(), Some("1"), "{flavor:?}");
        // The same files hold the same bytes: base RDB plus `SELECT 0` and the SET.
        let base: u64 = field("aof_base_size")
            .and_then(|v| v.parse().ok())
            .expect("base");
        let cur: u64 = field("aof_current_size")
            .and_then(|v| v.parse().ok())
            .expect("cur");
        assert_eq!(cur - base, 23 + 27, "{flavor:?}: {info}");
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "appendfsync", "everysec"]),
            Value::Simple("OK".into())
        );
        names.push(
            info.lines()
                .filter_map(|l| l.split_once(':').map(|(n, _)| n.to_string()))
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(names[0], names[1]);
}

fn persistence(c: &mut RawConn) -> String {
    text(c.cmd(&["INFO", "persistence"]))
}

fn wait_rewrite_done(c: &mut RawConn) -> String {
    let mut last = String::new();
    redoubt_harness::wait_for("the AOF rewrite to end", Duration::from_secs(60), || {
        last = persistence(c);
        last.contains("aof_rewrite_in_progress:0") && last.contains("rdb_bgsave_in_progress:0")
    });
    last
}

#[test]
fn bgrewriteaof_under_writes_keeps_every_write_and_compacts() {
    let d = tempfile::tempdir().expect("tempdir");
    let mut s = start(
        Flavor::Redoubt,
        d.path(),
        &[("appendfsync", "always"), ("rdb-key-save-delay", "300")],
    );
    let mut c = must_connect(&s);
    run_all(&mut c, DATASET);
    run_all(&mut c, &[&["DEBUG", "POPULATE", "2000"]]);
    for _ in 0..10 {
        run_all(&mut c, &[&["INCR", "ctr"]]);
    }
    assert_eq!(
        text(c.cmd(&["BGREWRITEAOF"])),
        "Background append only file rewriting started"
    );
    assert_eq!(
        c.cmd(&["BGREWRITEAOF"]),
        Value::Error("ERR Background append only file rewriting already in progress".into())
    );
    // Writes while the base is being written land in the new increment, exactly once.
    for i in 0..200 {
        let k = format!("key:{i}");
        run_all(
            &mut c,
            &[&["INCR", "ctr"], &["SET", &k, "changed"], &["DEL", "s2"]],
        );
    }
    assert!(persistence(&mut c).contains("aof_rewrite_in_progress:1"));
    let info = wait_rewrite_done(&mut c);
    assert!(info.contains("aof_last_bgrewrite_status:ok"), "{info}");
    assert!(info.contains("aof_rewrites:1"), "{info}");
    assert_eq!(text(c.cmd(&["GET", "ctr"])), "210");
    let want = digest(&mut c);
    s.stop().expect("stop");
    let manifest = std::fs::read_to_string(d.path().join("appendonlydir/appendonly.aof.manifest"))
        .expect("manifest");
    assert_eq!(
        manifest,
        "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
    );
    let mut files: Vec<String> = std::fs::read_dir(d.path().join("appendonlydir"))
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "appendonly.aof.2.base.rdb",
            "appendonly.aof.2.incr.aof",
            "appendonly.aof.manifest"
        ]
    );
    check_aof(d.path());
    s.restart().expect("restart");
    let mut c = must_connect(&s);
    assert_eq!(digest(&mut c), want, "restart after the rewrite");
    let d2 = tempfile::tempdir().expect("tempdir");
    copy_dir(d.path(), d2.path());
    let redis = start(Flavor::Redis, d2.path(), &[]);
    let mut rc = must_connect(&redis);
    assert_eq!(digest(&mut rc), want, "Redis loading our rewritten AOF");
}

#[test]
fn bgrewriteaof_replies_as_redis() {
    let mut transcripts = Vec::new();
    for flavor in [Flavor::Redis, Flavor::Redoubt] {
        let d = tempfile::tempdir().expect("tempdir");
        let s = start(flavor, d.path(), &[("rdb-key-save-delay", "2000")]);
        let mut c = must_connect(&s);
        run_all(&mut c, &[&["DEBUG", "POPULATE", "300"]]);
        let mut t = Vec::new();
        for args in [
            &["BGREWRITEAOF"][..],
            &["BGREWRITEAOF"],
            &["BGSAVE"],
            &["BGSAVE", "SCHEDULE"],
            &["BGREWRITEAOF", "x"],
        ] {
            t.push(c.cmd(args));
        }
        let info = persistence(&mut c);
        for f in ["aof_rewrite_in_progress:1", "rdb_bgsave_in_progress:0"] {
            assert!(info.contains(f), "{flavor:?} {f}: {info}");
        }
        c.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "0"]);
        let info = wait_rewrite_done(&mut c);
        assert!(
            info.contains("aof_last_bgrewrite_status:ok"),
            "{flavor:?}: {info}"
        );
        c.cmd(&["MULTI"]);
        c.cmd(&["BGREWRITEAOF"]);
        t.push(c.cmd(&["EXEC"]));
        wait_rewrite_done(&mut c);
        transcripts.push(t);
    }
    assert_eq!(transcripts[0], transcripts[1]);
}

#[test]
fn kill9_during_a_rewrite_loses_no_acknowledged_write() {
    let d = tempfile::tempdir().expect("tempdir");
    let mut s = start(
        Flavor::Redoubt,
        d.path(),
        &[("appendfsync", "always"), ("rdb-key-save-delay", "1000")],
    );
    let mut c = must_connect(&s);
    // Real writes (DEBUG POPULATE is not propagated, so it never reaches an AOF, in Redis
    // either).
    for i in 0..500 {
        run_all(&mut c, &[&["SET", &format!("key:{i}"), "v"]]);
    }
    let mut acked = 0i64;
    for _ in 0..20 {
        acked = text(c.cmd(&["INCR", "ctr"])).parse().expect("n");
    }
    assert_eq!(
        text(c.cmd(&["BGREWRITEAOF"])),
        "Background append only file rewriting started"
    );
    for _ in 0..100 {
        acked = text(c.cmd(&["INCR", "ctr"])).parse().expect("n");
    }
    assert!(persistence(&mut c).contains("aof_rewrite_in_progress:1"));
    s.kill9().expect("kill -9");
    s.restart().expect("restart");
    let mut c = must_connect(&s);
    assert_eq!(text(c.cmd(&["GET", "ctr"])), acked.to_string());
    assert_eq!(text(c.cmd(&["DBSIZE"])), "501");
}

#[test]
fn the_aof_is_rewritten_automatically_when_it_doubles() {
    let d = tempfile::tempdir().expect("tempdir");
    let s = start(
        Flavor::Redoubt,
        d.path(),
        &[
            ("auto-aof-rewrite-min-size", "4096"),
            ("auto-aof-rewrite-percentage", "100"),
        ],
    );
    let mut c = must_connect(&s);
    // About 35 bytes per SET: past the 4 KB minimum after ~120 of them.
    for i in 0..300 {
        run_all(&mut c, &[&["SET", "k", &format!("value-{i}")]]);
    }
    redoubt_harness::wait_for("the automatic rewrite", Duration::from_secs(10), || {
        persistence(&mut c).contains("aof_rewrites:1")
    });
    let info = wait_rewrite_done(&mut c);
    assert!(info.contains("aof_last_bgrewrite_status:ok"), "{info}");
    let log = s.log();
    assert!(
        log.contains("Starting automatic rewriting of AOF on"),
        "{log}"
    );
    assert_eq!(text(c.cmd(&["GET", "k"])), "value-299");
}

#[test]
fn config_set_appendonly_at_run_time_as_redis() {
    let mut results = Vec::new();
    for flavor in [Flavor::Redis, Flavor::Redoubt] {
        let d = tempfile::tempdir().expect("tempdir");
        let mut s = ServerProcess::builder(flavor)
            .directive("dir", &d.path().display().to_string())
            .directive("enable-debug-command", "yes")
            .start()
            .expect("server");
        let mut c = must_connect(&s);
        run_all(&mut c, DATASET);
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "appendonly", "yes"]),
            Value::Simple("OK".into())
        );
        run_all(&mut c, &[&["SET", "during", "1"], &["INCR", "n"]]);
        let info = wait_rewrite_done(&mut c);
        assert!(info.contains("aof_enabled:1"), "{flavor:?}: {info}");
        assert!(
            info.contains("aof_last_bgrewrite_status:ok"),
            "{flavor:?}: {info}"
        );
        run_all(&mut c, &[&["SET", "after", "1"]]);
        let want = digest(&mut c);
        let manifest =
            std::fs::read_to_string(d.path().join("appendonlydir/appendonly.aof.manifest"))
                .expect("manifest");
        // Off again: the files stay, later writes are not in them.
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "appendonly", "no"]),
            Value::Simple("OK".into())
        );
        run_all(&mut c, &[&["SET", "not-in-aof", "1"]]);
        c.send_cmd(&["SHUTDOWN", "NOSAVE"]).expect("send");
        redoubt_harness::wait_for("exit", Duration::from_secs(10), || !s.is_running());
        check_aof(d.path());
        let s2 = start(flavor, d.path(), &[]);
        let mut c2 = must_connect(&s2);
        assert_eq!(digest(&mut c2), want, "{flavor:?} reloading");
        results.push(manifest);
        drop(s2);
        let _ = s.keep_dir();
    }
    assert_eq!(results[0], results[1]);
}
