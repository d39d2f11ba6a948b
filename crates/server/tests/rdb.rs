//! RDB files and DUMP payloads across real redis-server 7.0.15 and redoubt-server:
//! - a dataset with every type and encoding (small and large, TTLs, several databases,
//!   binary keys, a 100 KB compressible value) saved by Redis loads in Redoubt with the same
//!   DEBUG DIGEST and OBJECT ENCODING; Redoubt's SAVE passes `redis-check-rdb` and loads in
//!   Redis with the same digest;
//! - DUMP payloads move both ways with RESTORE;
//! - a corrupt file stops Redoubt's startup with exit code 1 and a message naming the file
//!   and the offset; SHUTDOWN saves when save points are set, and the file loads at restart.

use redoubt_harness::{must_connect, wait_for, Flavor, RawConn, ServerProcess, Value};
use std::path::Path;
use std::time::{Duration, Instant};

fn simple(v: Value) -> String {
    match v {
        Value::Simple(s) => s,
        other => panic!("expected a simple string, got {other:?}"),
    }
}

fn bulk(v: Value) -> Vec<u8> {
    match v {
        Value::Bulk(b) => b.to_vec(),
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

fn keys(c: &mut RawConn) -> Vec<Vec<u8>> {
    match c.cmd(&["KEYS", "*"]) {
        Value::Array(a) => {
            let mut k: Vec<Vec<u8>> = a.into_iter().map(bulk).collect();
            k.sort();
            k
        }
        other => panic!("KEYS: {other:?}"),
    }
}

const DBS: [&str; 3] = ["0", "3", "15"];

/// Every key's OBJECT ENCODING, by database.
fn encodings(c: &mut RawConn) -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    for db in DBS {
        simple(c.cmd(&["SELECT", db]));
        for k in keys(c) {
            let e = bulk(c.cmd(&[&b"OBJECT"[..], b"ENCODING", &k]));
            out.push((db.to_string(), k, e));
        }
    }
    simple(c.cmd(&["SELECT", "0"]));
    out
}

fn pipeline(c: &mut RawConn, cmds: &[Vec<Vec<u8>>]) {
    for chunk in cmds.chunks(500) {
        for cmd in chunk {
            c.send_cmd(cmd).expect("send");
        }
        for _ in chunk {
            match c.read_reply(Instant::now() + Duration::from_secs(10)) {
                Ok(Value::Error(e)) => panic!("dataset command failed: {e}"),
                Ok(_) => {}
                Err(e) => panic!("dataset reply: {e}"),
            }
        }
    }
}

fn cmd(parts: &[&[u8]]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.to_vec()).collect()
}

/// Every type in each of its encodings.
fn build_dataset(c: &mut RawConn) {
    let mut v: Vec<Vec<Vec<u8>>> = Vec::new();
    let s = |x: String| x.into_bytes();
    v.push(cmd(&[b"SET", b"str", b"hello"]));
    v.push(cmd(&[b"SET", b"int", b"-123456789012"]));
    v.push(cmd(&[b"SET", b"small-int", b"7"]));
    v.push(cmd(&[b"SET", b"raw", &[b'r'; 60]]));
    v.push(cmd(&[
        b"SET",
        b"big",
        "0123456789".repeat(10_240).as_bytes(),
    ]));
    v.push(cmd(&[b"SET", b"bin\x00\xff\r\nkey", b"\x00\x01\x02\xfe"]));
    v.push(cmd(&[b"SET", b"ttl", b"v", b"PX", b"100000000"]));
    v.push(cmd(&[
        b"RPUSH",
        b"list",
        b"a",
        b"1",
        b"-70000",
        b"99999999999",
    ]));
    for i in 0..3000 {
        v.push(cmd(&[
            b"RPUSH",
            b"biglist",
            &s(format!("item{i}")),
            &s(i.to_string()),
        ]));
    }
    v.push(cmd(&[b"RPUSH", b"fatlist", &[b'y'; 20_000], b"small"]));
    v.push(cmd(&[
        b"SADD",
        b"intset",
        b"1",
        b"-5",
        b"70000",
        b"1099511627776",
    ]));
    v.push(cmd(&[b"SADD", b"strset", b"a", b"b", b"c"]));
    for i in 0..600 {
        v.push(cmd(&[b"SADD", b"bigintset", &s(i.to_string())]));
    }
    v.push(cmd(&[b"HSET", b"hash", b"f1", b"v1", b"f2", b"22"]));
    for i in 0..600 {
        v.push(cmd(&[
            b"HSET",
            b"bighash",
            &s(format!("field{i}")),
            &s(format!("v{i}")),
        ]));
    }
    v.push(cmd(&[b"HSET", b"widehash", b"f", &[b'z'; 100]]));
    v.push(cmd(&[
        b"ZADD", b"zset", b"1", b"a", b"2.5", b"b", b"-inf", b"c", b"1e300", b"d",
    ]));
    for i in 0..300 {
        v.push(cmd(&[
            b"ZADD",
            b"bigzset",
            &s(format!("{}", i as f64 * 1.5)),
            &s(format!("m{i}")),
        ]));
    }
    v.push(cmd(&[b"ZADD", b"widezset", b"1", &[b'q'; 100]]));
    v.push(cmd(&[b"EXPIRE", b"hash", b"500000"]));
    v.push(cmd(&[b"SELECT", b"3"]));
    v.push(cmd(&[b"SET", b"db3", b"v"]));
    v.push(cmd(&[b"RPUSH", b"db3list", b"x"]));
    v.push(cmd(&[b"SELECT", b"15"]));
    v.push(cmd(&[b"HSET", b"h15", b"a", b"b"]));
    v.push(cmd(&[b"SELECT", b"0"]));
    pipeline(c, &v);
}

fn digest(c: &mut RawConn) -> String {
    simple(c.cmd(&["DEBUG", "DIGEST"]))
}

fn start_in(flavor: Flavor, dir: &Path) -> ServerProcess {
    ServerProcess::builder(flavor)
        .directive("dir", &dir.display().to_string())
        .directive("enable-debug-command", "yes")
        .start()
        .unwrap_or_else(|e| panic!("starting {}: {e:#}", flavor.name()))
}

fn save(c: &mut RawConn) {
    assert_eq!(simple(c.cmd(&["SAVE"])), "OK");
}

#[test]
fn files_move_between_redis_and_redoubt() {
    let d1 = tempfile::tempdir().expect("tempdir");
    let mut redis = start_in(Flavor::Redis, d1.path());
    let mut rc = must_connect(&redis);
    build_dataset(&mut rc);
    let want_digest = digest(&mut rc);
    let want_enc = encodings(&mut rc);
    save(&mut rc);
    redis.stop().expect("stop redis");

    // Redis's file in Redoubt.
    let d2 = tempfile::tempdir().expect("tempdir");
    std::fs::copy(d1.path().join("dump.rdb"), d2.path().join("dump.rdb")).expect("copy");
    let mut ours = start_in(Flavor::Redoubt, d2.path());
    let mut oc = must_connect(&ours);
    assert_eq!(digest(&mut oc), want_digest);
    assert_eq!(encodings(&mut oc), want_enc);
    let log = ours.log();
    assert!(
        log.contains("Loading RDB produced by version 7.0.15"),
        "{log}"
    );
    assert!(
        log.contains("Done loading RDB, keys loaded: 22, keys expired: 0."),
        "{log}"
    );

    // Redoubt's file: redis-check-rdb and Redis agree.
    assert_eq!(oc.cmd(&["DEL", "str"]), Value::Int(1));
    let want_digest = digest(&mut oc);
    save(&mut oc);
    ours.stop().expect("stop redoubt");
    let check = std::process::Command::new("redis-check-rdb")
        .arg(d2.path().join("dump.rdb"))
        .output()
        .expect("run redis-check-rdb");
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(out.contains("RDB looks OK"), "{out}");
    let d3 = tempfile::tempdir().expect("tempdir");
    std::fs::copy(d2.path().join("dump.rdb"), d3.path().join("dump.rdb")).expect("copy");
    let redis2 = start_in(Flavor::Redis, d3.path());
    let mut rc2 = must_connect(&redis2);
    assert_eq!(digest(&mut rc2), want_digest);
    let mut want_enc = want_enc;
    want_enc.retain(|(_, k, _)| k != b"str");
    assert_eq!(encodings(&mut rc2), want_enc);
}

#[test]
fn dump_payloads_move_both_ways() {
    let redis =
        ServerProcess::start(Flavor::Redis, &[("enable-debug-command", "yes")]).expect("redis");
    let ours =
        ServerProcess::start(Flavor::Redoubt, &[("enable-debug-command", "yes")]).expect("redoubt");
    let (mut rc, mut oc) = (must_connect(&redis), must_connect(&ours));
    build_dataset(&mut rc);
    for db in DBS {
        simple(rc.cmd(&["SELECT", db]));
        simple(oc.cmd(&["SELECT", db]));
        for k in keys(&mut rc) {
            let p = bulk(rc.cmd(&[&b"DUMP"[..], &k]));
            assert_eq!(simple(oc.cmd(&[&b"RESTORE"[..], &k, b"0", &p])), "OK");
            let back = bulk(oc.cmd(&[&b"DUMP"[..], &k]));
            let enc = bulk(rc.cmd(&[&b"OBJECT"[..], b"ENCODING", &k]));
            // Compact encodings and strings serialize identically; hash tables differ
            // only in order.
            if enc != b"hashtable" {
                assert_eq!(back, p, "DUMP of {}", String::from_utf8_lossy(&k));
            }
            // DIGEST-VALUE covers the TTL, which a payload does not carry.
            rc.cmd(&[&b"PERSIST"[..], &k]);
            let mut copy = b"copy:".to_vec();
            copy.extend_from_slice(&k);
            assert_eq!(simple(rc.cmd(&[&b"RESTORE"[..], &copy, b"0", &back])), "OK");
            let d1 = rc.cmd(&[&b"DEBUG"[..], b"DIGEST-VALUE", &k]);
            let d2 = rc.cmd(&[&b"DEBUG"[..], b"DIGEST-VALUE", &copy]);
            assert_eq!(d1, d2, "{}", String::from_utf8_lossy(&k));
        }
    }
    simple(rc.cmd(&["SELECT", "0"]));
    simple(oc.cmd(&["SELECT", "0"]));
    // TTLs are not part of payloads: only the keys' values were moved.
    for db in DBS {
        simple(rc.cmd(&["SELECT", db]));
        for k in keys(&mut rc) {
            if !k.starts_with(b"copy:") {
                rc.cmd(&[&b"DEL"[..], &k]);
            }
        }
    }
}

fn run_until_exit(dir: &Path, args: &[&str]) -> (i32, String) {
    let bin = Flavor::Redoubt.binary().expect("redoubt binary");
    let mut child = std::process::Command::new(bin)
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let mut status = None;
    wait_for(
        "redoubt exits on a corrupt file",
        Duration::from_secs(10),
        || {
            status = child.try_wait().ok().flatten();
            status.is_some()
        },
    );
    let mut out = String::new();
    if let Some(mut o) = child.stdout.take() {
        use std::io::Read;
        let _ = o.read_to_string(&mut out);
    }
    (status.and_then(|s| s.code()).unwrap_or(-1), out)
}

#[test]
fn corrupt_file_stops_startup() {
    let d = tempfile::tempdir().expect("tempdir");
    let mut redis = start_in(Flavor::Redis, d.path());
    let mut rc = must_connect(&redis);
    build_dataset(&mut rc);
    save(&mut rc);
    redis.stop().expect("stop");
    let good = std::fs::read(d.path().join("dump.rdb")).expect("dump");
    let cases: Vec<(String, Vec<u8>)> = vec![
        ("truncated".into(), good[..good.len() / 2].to_vec()),
        ("bad checksum".into(), {
            let mut b = good.clone();
            let n = b.len();
            b[n - 1] ^= 0xff;
            b
        }),
        ("bad magic".into(), b"REDIX0010".to_vec()),
    ];
    for (what, bytes) in cases {
        std::fs::write(d.path().join("dump.rdb"), &bytes).expect("write");
        let (code, out) = run_until_exit(
            d.path(),
            &["--port", "0", "--unixsocket", "s.sock", "--save", ""],
        );
        assert_eq!(code, 1, "{what}: {out}");
        assert!(
            out.contains("dump.rdb") && out.contains("at offset"),
            "{what}: {out}"
        );
    }
}

#[test]
fn shutdown_saves_with_save_points_and_restart_loads() {
    let mut ours = ServerProcess::start(
        Flavor::Redoubt,
        &[("save", "3600 1"), ("enable-debug-command", "yes")],
    )
    .expect("redoubt");
    let mut c = must_connect(&ours);
    build_dataset(&mut c);
    let want = digest(&mut c);
    assert_eq!(c.cmd(&["LASTSAVE"]), c.cmd(&["LASTSAVE"]));
    // DEBUG RELOAD keeps the dataset.
    assert_eq!(simple(c.cmd(&["DEBUG", "RELOAD"])), "OK");
    assert_eq!(digest(&mut c), want);
    ours.stop().expect("SIGTERM saves");
    let log = ours.log();
    assert!(
        log.contains("Saving the final RDB snapshot before exiting."),
        "{log}"
    );
    assert!(log.contains("DB saved on disk"), "{log}");
    ours.restart().expect("restart");
    let mut c = must_connect(&ours);
    assert_eq!(digest(&mut c), want);
    // SHUTDOWN NOSAVE does not save: a later change is lost.
    assert_eq!(c.cmd(&["SET", "later", "1"]), Value::Simple("OK".into()));
    c.send_cmd(&["SHUTDOWN", "NOSAVE"]).expect("send");
    wait_for("exit", Duration::from_secs(10), || !ours.is_running());
    ours.restart().expect("restart");
    let mut c = must_connect(&ours);
    assert_eq!(digest(&mut c), want);
}
