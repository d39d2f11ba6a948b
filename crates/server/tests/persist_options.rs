//! Persistence file options on redis-server 7.0.15 and redoubt-server, same commands on both:
//! - `appenddirname` / `appendfilename`: the same directory, file names and manifest after a
//!   rewrite (history removed), `redis-check-aof` accepts ours, and each server loads the
//!   other's directory to the same DEBUG DIGEST; the same with `aof-use-rdb-preamble no`
//!   before any rewrite (a `.base.aof` base; the rewrite's AOF-format base is tested in
//!   aof_base.rs).
//! - `dbfilename` / `rdbcompression no` / `rdbchecksum no`: the file is written under that
//!   name, `redis-check-rdb` accepts ours, and each server loads the other's file.

use redoubt_harness::{must_connect, wait_for, Flavor, RawConn, ServerProcess, Value};
use std::path::Path;
use std::time::Duration;

fn text(v: Value) -> String {
    match v {
        Value::Simple(s) | Value::Error(s) => s,
        Value::Bulk(b) | Value::Verbatim(_, b) => String::from_utf8_lossy(&b).into_owned(),
        Value::Int(n) => n.to_string(),
        other => format!("{other:?}"),
    }
}

fn run(c: &mut RawConn, cmds: &[&[&str]]) {
    for cmd in cmds {
        if let Value::Error(e) = c.cmd(cmd) {
            panic!("{cmd:?}: {e}");
        }
    }
}

const DATA: &[&[&str]] = &[
    &["SET", "s", "0123456789012345678901234567890123456789"],
    &["RPUSH", "l", "a", "b", "c"],
    &["HSET", "h", "f", "v"],
    &["SADD", "t", "1", "2"],
    &["ZADD", "z", "1", "m"],
    &["SET", "e", "v", "PXAT", "4102444800000"],
    &["SELECT", "3"],
    &["SET", "db3", "x"],
    &["SELECT", "0"],
];

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn server(flavor: Flavor, dir: &Path, extra: &[(&str, &str)]) -> ServerProcess {
    ServerProcess::builder(flavor)
        .directive("dir", &dir.display().to_string())
        .directive("enable-debug-command", "yes")
        .directive("save", "")
        .directives(extra)
        .start()
        .unwrap_or_else(|e| panic!("{}: {e:#}", flavor.name()))
}

#[test]
fn aof_dir_and_file_names_as_redis_both_ways() {
    let opts: &[(&str, &str)] = &[
        ("appendonly", "yes"),
        ("appenddirname", "aofs"),
        ("appendfilename", "mine.aof"),
    ];
    aof_both_ways(
        opts,
        true,
        [
            "mine.aof.2.base.rdb",
            "mine.aof.2.incr.aof",
            "mine.aof.manifest",
        ],
    );
}

#[test]
fn aof_without_rdb_preamble_before_a_rewrite_as_redis_both_ways() {
    let opts: &[(&str, &str)] = &[
        ("appendonly", "yes"),
        ("appenddirname", "aofs"),
        ("appendfilename", "mine.aof"),
        ("aof-use-rdb-preamble", "no"),
    ];
    aof_both_ways(
        opts,
        false,
        [
            "mine.aof.1.base.aof",
            "mine.aof.1.incr.aof",
            "mine.aof.manifest",
        ],
    );
}

fn aof_both_ways(opts: &[(&str, &str)], rewrite: bool, files: [&str; 3]) {
    let mut outcomes = Vec::new();
    let mut dirs = Vec::new();
    for flavor in [Flavor::Redis, Flavor::Redoubt] {
        let d = tempfile::tempdir().expect("tempdir");
        let mut s = server(flavor, d.path(), opts);
        let mut c = must_connect(&s);
        run(&mut c, DATA);
        if rewrite {
            run(&mut c, &[&["BGREWRITEAOF"]]);
            wait_for("the rewrite", Duration::from_secs(30), || {
                let i = text(c.cmd(&["INFO", "persistence"]));
                i.contains("aof_rewrite_in_progress:0") && i.contains("aof_rewrites:1")
            });
        }
        run(&mut c, &[&["INCR", "after"], &["DEL", "h"]]);
        let dg = text(c.cmd(&["DEBUG", "DIGEST"]));
        s.stop().expect("stop");
        let aofs = d.path().join("aofs");
        let manifest = std::fs::read_to_string(aofs.join("mine.aof.manifest")).expect("manifest");
        outcomes.push((listing(&aofs), manifest, dg));
        dirs.push(d);
    }
    assert_eq!(outcomes[0], outcomes[1]);
    assert_eq!(outcomes[1].0, files);
    let check = std::process::Command::new("redis-check-aof")
        .arg(dirs[1].path().join("aofs/mine.aof.manifest"))
        .output()
        .expect("redis-check-aof");
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(
        out.contains("All AOF files and manifest are valid"),
        "{out}"
    );
    // Each loads the other's directory.
    for (i, flavor) in [(1, Flavor::Redis), (0, Flavor::Redoubt)] {
        let s = server(flavor, dirs[i].path(), opts);
        let mut c = must_connect(&s);
        assert_eq!(
            text(c.cmd(&["DEBUG", "DIGEST"])),
            outcomes[i].2,
            "{} loading the other's AOF",
            flavor.name()
        );
    }
}

#[test]
fn rdb_without_compression_or_checksum_under_another_name_both_ways() {
    let opts: &[(&str, &str)] = &[
        ("dbfilename", "other.rdb"),
        ("rdbcompression", "no"),
        ("rdbchecksum", "no"),
    ];
    let mut files = Vec::new();
    let mut digests = Vec::new();
    for flavor in [Flavor::Redis, Flavor::Redoubt] {
        let d = tempfile::tempdir().expect("tempdir");
        let mut s = server(flavor, d.path(), opts);
        let mut c = must_connect(&s);
        run(&mut c, DATA);
        run(&mut c, &[&["SAVE"]]);
        digests.push(text(c.cmd(&["DEBUG", "DIGEST"])));
        s.stop().expect("stop");
        assert_eq!(listing(d.path()), ["other.rdb"], "{}", flavor.name());
        let bytes = std::fs::read(d.path().join("other.rdb")).expect("rdb");
        // rdbchecksum no: a zero CRC64 trailer.
        assert_eq!(bytes[bytes.len() - 8..], [0u8; 8], "{}", flavor.name());
        files.push((d, bytes.len()));
    }
    assert_eq!(digests[0], digests[1]);
    let check = std::process::Command::new("redis-check-rdb")
        .arg(files[1].0.path().join("other.rdb"))
        .output()
        .expect("redis-check-rdb");
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(out.contains("\\o/ RDB looks OK! \\o/"), "{out}");
    for (i, flavor) in [(1, Flavor::Redis), (0, Flavor::Redoubt)] {
        let s = server(flavor, files[i].0.path(), opts);
        let mut c = must_connect(&s);
        assert_eq!(
            text(c.cmd(&["DEBUG", "DIGEST"])),
            digests[i],
            "{}",
            flavor.name()
        );
    }
}
