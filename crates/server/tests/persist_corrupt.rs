//! Corrupt persistence files at startup, on redis-server 7.0.15 and redoubt-server (issue 5,
//! "Tests: corruption"): each case must stop startup with exit code 1 on both (never a panic,
//! which is exit code 101, never a silent partial load), and Redoubt's log must name the file
//! (and the offset, where there is one to name).
//! - dump.rdb written by Redis, cut at EVERY byte offset (so at every section boundary:
//!   header, aux fields, SELECTDB, RESIZEDB, each key, EOF, checksum);
//! - dump.rdb with one byte flipped at a spread of offsets (the CRC64 or the structure
//!   catches each);
//! - AOF: the manifest naming a missing incr file, a missing base file, a byte flipped in a
//!   command that is not the last (refused even with `aof-load-truncated yes`), a flipped
//!   byte in the RDB base, and a cut in an incr file that is not the last one.

use redoubt_harness::{must_connect, Flavor, ServerProcess, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// Runs a server on `dir` until it exits: (exit code, log). Exit code None: it loaded the
/// files and was ready (or still running after 10 s), and was killed.
fn run_until_exit(flavor: Flavor, dir: &Path, aof: bool) -> (Option<i32>, String) {
    let bin = flavor.binary().expect("binary");
    let mut child = std::process::Command::new(bin)
        .args([
            "--port",
            "0",
            "--unixsocket",
            "s.sock",
            "--save",
            "",
            "--appendonly",
            if aof { "yes" } else { "no" },
            "--dir",
            &dir.display().to_string(),
            "--logfile",
            "log",
        ])
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut pause = Duration::from_millis(2);
    let code = loop {
        if let Ok(Some(st)) = child.try_wait() {
            break st.code();
        }
        // Loaded: both servers log this once the dataset is in memory.
        let ready = std::fs::read_to_string(dir.join("log"))
            .is_ok_and(|l| l.contains("Ready to accept connections"));
        if ready || Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    };
    let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
    let _ = std::fs::remove_file(dir.join("log"));
    (code, log)
}

fn small_redis_dump() -> Vec<u8> {
    let mut s = ServerProcess::builder(Flavor::Redis)
        .directive("save", "")
        .start()
        .expect("redis");
    let mut c = must_connect(&s);
    for cmd in [
        &["SET", "s", "hello"][..],
        &["SET", "n", "12345"],
        &["SET", "ttl", "v", "PX", "100000000"],
        &["RPUSH", "l", "a", "1", "b"],
        &["HSET", "h", "f", "v"],
        &["SADD", "i", "1", "2"],
        &["ZADD", "z", "1.5", "m"],
        &["SELECT", "2"],
        &["SET", "db2", "x"],
    ] {
        assert!(!matches!(c.cmd(cmd), Value::Error(_)), "{cmd:?}");
    }
    assert_eq!(c.cmd(&["SAVE"]), Value::Simple("OK".into()));
    let bytes = std::fs::read(s.dir().join("dump.rdb")).expect("dump");
    s.stop().expect("stop");
    bytes
}

#[test]
fn rdb_cut_at_every_offset_stops_startup_naming_file_and_offset() {
    let good = small_redis_dump();
    let d = tempfile::tempdir().expect("tempdir");
    // Sanity: the whole file loads (the server keeps running until killed).
    std::fs::write(d.path().join("dump.rdb"), &good).expect("write");
    let (code, log) = run_until_exit(Flavor::Redoubt, d.path(), false);
    assert_eq!(code, None, "the intact file must load: {log}");
    for cut in 0..good.len() {
        std::fs::write(d.path().join("dump.rdb"), &good[..cut]).expect("write");
        let (code, log) = run_until_exit(Flavor::Redoubt, d.path(), false);
        if cut == 0 {
            // An empty file is refused too (Redis: "Short read or OOM loading DB").
            assert_eq!(code, Some(1), "cut {cut}: {log}");
            continue;
        }
        assert_eq!(code, Some(1), "cut at {cut} of {}: {log}", good.len());
        assert!(
            log.contains("dump.rdb") && log.contains("offset"),
            "cut at {cut}: {log}"
        );
    }
    // Redis agrees on a sample of cuts (all of them would double the runtime).
    for cut in [9, good.len() / 3, good.len() - 9, good.len() - 1] {
        std::fs::write(d.path().join("dump.rdb"), &good[..cut]).expect("write");
        let (code, log) = run_until_exit(Flavor::Redis, d.path(), false);
        assert_eq!(code, Some(1), "Redis, cut at {cut}: {log}");
    }
}

#[test]
fn rdb_flipped_bytes_stop_startup() {
    let good = small_redis_dump();
    let d = tempfile::tempdir().expect("tempdir");
    for at in (0..good.len()).step_by(4) {
        let mut bad = good.clone();
        bad[at] ^= 0x20;
        std::fs::write(d.path().join("dump.rdb"), &bad).expect("write");
        let (code, log) = run_until_exit(Flavor::Redoubt, d.path(), false);
        assert_eq!(code, Some(1), "flip at {at} of {}: {log}", good.len());
        assert!(log.contains("dump.rdb"), "flip at {at}: {log}");
    }
}

/// An AOF directory written by Redoubt: base (RDB preamble) + one incr file.
fn aof_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    let mut s = ServerProcess::builder(Flavor::Redoubt)
        .directive("dir", &d.path().display().to_string())
        .directive("appendonly", "yes")
        .directive("save", "")
        .start()
        .expect("redoubt");
    let mut c = must_connect(&s);
    c.cmd(&["SET", "a", "1"]);
    // In the base after the rewrite.
    c.cmd(&["BGREWRITEAOF"]);
    redoubt_harness::wait_for("the rewrite", Duration::from_secs(30), || {
        match c.cmd(&["INFO", "persistence"]) {
            Value::Bulk(b) => {
                let i = String::from_utf8_lossy(&b).into_owned();
                i.contains("aof_rewrite_in_progress:0") && i.contains("aof_rewrites:1")
            }
            _ => false,
        }
    });
    for cmd in [
        &["RPUSH", "l", "x", "y"][..],
        &["SET", "b", "2"],
        &["INCR", "n"],
    ] {
        c.cmd(cmd);
    }
    s.stop().expect("stop");
    d
}

fn aof_file(d: &Path, suffix: &str) -> std::path::PathBuf {
    std::fs::read_dir(d.join("appendonlydir"))
        .expect("appendonlydir")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(suffix))
        .unwrap_or_else(|| panic!("no *{suffix}"))
}

fn copy_of(src: &Path) -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(d.path().join("appendonlydir")).expect("mkdir");
    for e in std::fs::read_dir(src.join("appendonlydir"))
        .expect("dir")
        .flatten()
    {
        std::fs::copy(e.path(), d.path().join("appendonlydir").join(e.file_name())).expect("cp");
    }
    d
}

#[test]
fn corrupt_aof_directories_stop_startup_on_both() {
    let src = aof_dir();
    // The intact directory loads on both.
    for flavor in [Flavor::Redis, Flavor::Redoubt] {
        let d = copy_of(src.path());
        let (code, log) = run_until_exit(flavor, d.path(), true);
        assert_eq!(code, None, "{}: intact AOF must load: {log}", flavor.name());
    }
    let base = aof_file(src.path(), ".base.rdb");
    let base_name = base.file_name().map(|n| n.to_string_lossy().into_owned());
    let base_name = base_name.expect("name");
    let incr = aof_file(src.path(), ".incr.aof");
    let incr_name = incr.file_name().map(|n| n.to_string_lossy().into_owned());
    let incr_name = incr_name.expect("name");
    let manifest =
        std::fs::read_to_string(src.path().join("appendonlydir/appendonly.aof.manifest"))
            .expect("manifest");
    let incr_bytes = std::fs::read(&incr).expect("incr");
    // Where the second command starts: flipping its '*' breaks a command that is not last.
    let second = incr_bytes
        .windows(5)
        .position(|w| w == b"RPUSH")
        .and_then(|p| incr_bytes[..p].iter().rposition(|&b| b == b'*'))
        .expect("RPUSH in the incr file");
    type Mutation = Box<dyn Fn(&Path)>;
    let (bn, inn, man, ib) = (
        base_name.clone(),
        incr_name.clone(),
        manifest.clone(),
        incr_bytes.clone(),
    );
    let cases: Vec<(&str, String, Mutation)> = vec![
        (
            "manifest names a missing incr file",
            "appendonly.aof.9.incr.aof".into(),
            Box::new(move |d: &Path| {
                let m = format!("{man}file appendonly.aof.9.incr.aof seq 9 type i\n");
                std::fs::write(d.join("appendonlydir/appendonly.aof.manifest"), m).expect("w");
            }),
        ),
        (
            "missing base file",
            base_name.clone(),
            Box::new(move |d: &Path| {
                std::fs::remove_file(d.join("appendonlydir").join(&bn)).expect("rm");
            }),
        ),
        (
            "flipped byte in a command that is not the last",
            incr_name.clone(),
            Box::new({
                let inn = inn.clone();
                let ib = ib.clone();
                move |d: &Path| {
                    let mut b = ib.clone();
                    b[second] = b'x';
                    std::fs::write(d.join("appendonlydir").join(&inn), b).expect("w");
                }
            }),
        ),
        (
            "flipped byte in the RDB base",
            base_name.clone(),
            Box::new({
                let bn = base_name.clone();
                move |d: &Path| {
                    let p = d.join("appendonlydir").join(&bn);
                    let mut b = std::fs::read(&p).expect("base");
                    let n = b.len();
                    b[n / 2] ^= 0x20;
                    std::fs::write(p, b).expect("w");
                }
            }),
        ),
        (
            "cut incr file that is not the last",
            incr_name.clone(),
            Box::new(move |d: &Path| {
                // The cut file is followed by another incr file in the manifest.
                std::fs::write(d.join("appendonlydir").join(&inn), &ib[..second + 3]).expect("w");
                std::fs::write(
                    d.join("appendonlydir/appendonly.aof.9.incr.aof"),
                    b"*3\r\n$3\r\nSET\r\n$1\r\nz\r\n$1\r\n1\r\n",
                )
                .expect("w");
                let m = format!("{manifest}file appendonly.aof.9.incr.aof seq 9 type i\n");
                std::fs::write(d.join("appendonlydir/appendonly.aof.manifest"), m).expect("w");
            }),
        ),
    ];
    for (what, names, mutate) in &cases {
        for flavor in [Flavor::Redis, Flavor::Redoubt] {
            let d = copy_of(src.path());
            mutate(d.path());
            let (code, log) = run_until_exit(flavor, d.path(), true);
            assert_eq!(code, Some(1), "{} {what}: {log}", flavor.name());
            if flavor == Flavor::Redoubt {
                assert!(log.contains(names.as_str()), "{what}: {log}");
                assert!(!log.contains("panicked"), "{what}: {log}");
            }
        }
    }
}
