//! `aof-timestamp-enabled yes`: `#TS:<unix seconds>` lines before the first write of each new
//! second, as redis-server 7.0.15 writes them; the files pass `redis-check-aof`, and each
//! server loads the other's annotated AOF with the same DEBUG DIGEST.

use redoubt_harness::{wait_for, Flavor, RawConn, ServerProcess, Value};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn start(flavor: Flavor, dir: &Path, preamble: &str) -> ServerProcess {
    ServerProcess::builder(flavor)
        .directive("dir", &dir.display().to_string())
        .directive("appendonly", "yes")
        .directive("aof-timestamp-enabled", "yes")
        .directive("aof-use-rdb-preamble", preamble)
        .directive("enable-debug-command", "yes")
        .start()
        .expect("start")
}

fn ok(c: &mut RawConn, args: &[&str]) {
    assert_eq!(c.cmd(args), Value::Simple("OK".into()), "{args:?}");
}

/// Writes in two different seconds; returns the digest.
fn write_two_seconds(c: &mut RawConn) -> Value {
    ok(c, &["SET", "a", "1"]);
    ok(c, &["SET", "b", "2"]);
    let first = now_s();
    wait_for("the next second", Duration::from_secs(3), || {
        now_s() > first
    });
    ok(c, &["SET", "c", "3"]);
    c.cmd(&["DEBUG", "DIGEST"])
}

fn aof_text(dir: &Path, suffix: &str) -> String {
    let d = dir.join("appendonlydir");
    let mut names: Vec<_> = std::fs::read_dir(&d)
        .expect("appendonlydir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(suffix))
        .collect();
    names.sort();
    let name = names.last().expect("an AOF file");
    String::from_utf8_lossy(&std::fs::read(d.join(name)).expect("read")).into_owned()
}

fn check_aof(dir: &Path) {
    let out = std::process::Command::new("redis-check-aof")
        .arg(dir.join("appendonlydir").join("appendonly.aof.manifest"))
        .output()
        .expect("redis-check-aof");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("All AOF files and manifest are valid"),
        "{text}"
    );
}

fn case(writer: Flavor, reader: Flavor) {
    let dir = tempfile::tempdir().expect("tempdir");
    let digest = {
        let mut s = start(writer, dir.path(), "no");
        let mut c = s.connect().expect("connect");
        // The base's annotation is the server's current second: write after it.
        let base = aof_text(dir.path(), ".base.aof");
        let t0: u64 = base.trim().trim_start_matches("#TS:").parse().unwrap_or(0);
        wait_for("a second after the base", Duration::from_secs(3), || {
            now_s() > t0
        });
        let d = write_two_seconds(&mut c);
        s.stop().expect("stop");
        d
    };
    // The AOF base of an empty dataset starts with a forced annotation.
    let base = aof_text(dir.path(), ".base.aof");
    assert!(
        base.starts_with("#TS:") && base.ends_with("\r\n") && base.lines().count() == 1,
        "{writer:?} base: {base:?}"
    );
    let incr = aof_text(dir.path(), ".incr.aof");
    let ts: Vec<&str> = incr.lines().filter(|l| l.starts_with("#TS:")).collect();
    assert_eq!(ts.len(), 2, "{writer:?}: {incr:?}");
    assert!(incr.starts_with("#TS:"), "{writer:?}: {incr:?}");
    let secs: Vec<u64> = ts
        .iter()
        .filter_map(|l| l[4..].trim().parse().ok())
        .collect();
    assert!(secs.len() == 2 && secs[1] > secs[0], "{writer:?}: {ts:?}");
    // The second annotation comes right before the write of the new second.
    let at = incr.find(ts[1]).expect("found");
    assert!(incr[at..].contains("\r\nc\r\n") && !incr[at..].contains("\r\na\r\n"));
    check_aof(dir.path());
    let mut s = start(reader, dir.path(), "no");
    let mut c = s.connect().expect("connect");
    assert_eq!(
        c.cmd(&["DEBUG", "DIGEST"]),
        digest,
        "{writer:?} -> {reader:?}"
    );
    s.stop().expect("stop");
}

#[test]
fn timestamps_redis_writes_redoubt_reads() {
    case(Flavor::Redis, Flavor::Redoubt);
}

#[test]
fn timestamps_redoubt_writes_redis_reads() {
    case(Flavor::Redoubt, Flavor::Redis);
}

#[test]
fn timestamps_redoubt_round_trip() {
    case(Flavor::Redoubt, Flavor::Redoubt);
}
