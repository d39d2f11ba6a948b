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
    let info = match oc.cmd(&["INFO", "persistence"]) {
        Value::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        Value::Verbatim(_, b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("INFO: {other:?}"),
    };
    for field in [
        "rdb_changes_since_last_save:0\r\n",
        "rdb_saves:1\r\n",
        "rdb_last_bgsave_status:ok\r\n",
        "rdb_last_load_keys_loaded:22\r\n",
    ] {
        assert!(info.contains(field), "{field} in {info}");
    }
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

/// Builders for a legacy (version 6, Redis 3.x/4.x era) file with the old encodings.
mod legacy {
    pub fn len(out: &mut Vec<u8>, n: usize) {
        if n < 64 {
            out.push(n as u8);
        } else if n < 16384 {
            out.push(0x40 | (n >> 8) as u8);
            out.push(n as u8);
        } else {
            out.push(0x80);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
    }

    pub fn string(out: &mut Vec<u8>, s: &[u8]) {
        len(out, s.len());
        out.extend_from_slice(s);
    }

    /// A valid ziplist (prevlen chain, tail offset), entries as strings or small ints.
    pub fn ziplist(items: &[&[u8]]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut prev = 0usize;
        let mut tail = 10;
        for it in items {
            tail = 10 + body.len();
            let mut e = Vec::new();
            e.push(prev as u8); // all entries here are short: 1-byte prevlen
            match std::str::from_utf8(it)
                .ok()
                .and_then(|t| t.parse::<i64>().ok())
            {
                Some(n) if (0..=12).contains(&n) && n.to_string().as_bytes() == *it => {
                    e.push(0xf1 + n as u8);
                }
                Some(n) if i16::try_from(n).is_ok() && n.to_string().as_bytes() == *it => {
                    e.push(0xc0);
                    e.extend_from_slice(&(n as i16).to_le_bytes());
                }
                _ => {
                    e.push(it.len() as u8);
                    e.extend_from_slice(it);
                }
            }
            prev = e.len();
            body.extend_from_slice(&e);
        }
        let mut zl = Vec::new();
        zl.extend_from_slice(&((10 + body.len() + 1) as u32).to_le_bytes());
        zl.extend_from_slice(&(tail as u32).to_le_bytes());
        zl.extend_from_slice(&(items.len() as u16).to_le_bytes());
        zl.extend_from_slice(&body);
        zl.push(0xff);
        zl
    }

    pub fn zipmap(pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut z = vec![pairs.len() as u8];
        for (k, v) in pairs {
            z.push(k.len() as u8);
            z.extend_from_slice(k);
            z.push(v.len() as u8);
            z.push(0); // free
            z.extend_from_slice(v);
        }
        z.push(0xff);
        z
    }

    pub fn intset16(vals: &[i16]) -> Vec<u8> {
        let mut b = 2u32.to_le_bytes().to_vec();
        b.extend_from_slice(&(vals.len() as u32).to_le_bytes());
        for v in vals {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b
    }

    /// CRC-64/Jones (Redis's crc64), bitwise: the test stays independent of our codec.
    pub fn crc64(data: &[u8]) -> u64 {
        let mut crc = 0u64;
        for &b in data {
            crc ^= u64::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0x95ac_9329_ac4b_c9b5
                } else {
                    crc >> 1
                };
            }
        }
        crc
    }

    pub fn file() -> Vec<u8> {
        let mut f = b"REDIS0006".to_vec();
        f.extend_from_slice(&[0xfe, 0]); // SELECTDB 0
        let kv = |f: &mut Vec<u8>, ty: u8, key: &[u8], blob: &[u8]| {
            f.push(ty);
            string(f, key);
            string(f, blob);
        };
        kv(
            &mut f,
            9,
            b"zipmap",
            &zipmap(&[(b"f", b"vv"), (b"g", b"w")]),
        );
        kv(
            &mut f,
            10,
            b"ziplist-list",
            &ziplist(&[b"a", b"7", b"300", b"bcd"]),
        );
        kv(&mut f, 11, b"intset", &intset16(&[-3, 1, 2, 500]));
        kv(
            &mut f,
            12,
            b"ziplist-zset",
            &ziplist(&[b"m", b"1", b"n", b"2.5"]),
        );
        kv(
            &mut f,
            13,
            b"ziplist-hash",
            &ziplist(&[b"f", b"v", b"g", b"12"]),
        );
        // LIST_QUICKLIST: two ziplist nodes.
        f.push(14);
        string(&mut f, b"quicklist");
        len(&mut f, 2);
        string(&mut f, &ziplist(&[b"x", b"y"]));
        string(&mut f, &ziplist(&[b"5"]));
        // ZSET with text scores (253 NaN / 254 +inf / 255 -inf markers).
        f.push(3);
        string(&mut f, b"text-zset");
        len(&mut f, 3);
        string(&mut f, b"a");
        string(&mut f, b"1.5");
        string(&mut f, b"b");
        f.push(254);
        string(&mut f, b"c");
        f.push(255);
        // Plain types and an expiry in seconds (far future).
        f.push(253);
        f.extend_from_slice(&2_000_000_000i32.to_le_bytes());
        f.push(0);
        string(&mut f, b"expiring");
        string(&mut f, b"v");
        f.push(1);
        string(&mut f, b"plain-list");
        len(&mut f, 2);
        string(&mut f, b"p");
        f.extend_from_slice(&[0xc0, 0xfe]); // int8 -2
        f.push(2);
        string(&mut f, b"plain-set");
        len(&mut f, 2);
        string(&mut f, b"s1");
        string(&mut f, b"s2");
        f.push(4);
        string(&mut f, b"plain-hash");
        len(&mut f, 1);
        string(&mut f, b"hf");
        f.extend_from_slice(&[0xc1, 0x39, 0x30]); // int16 12345
        f.push(0xff);
        let crc = crc64(&f);
        f.extend_from_slice(&crc.to_le_bytes());
        f
    }
}

#[test]
fn legacy_version_6_file_loads_like_redis() {
    let file = legacy::file();
    // Default thresholds, then small ones that make rdbLoadObject convert on load.
    let small: &[(&str, &str)] = &[
        ("hash-max-listpack-entries", "1"),
        ("hash-max-listpack-value", "1"),
        ("zset-max-listpack-entries", "1"),
        ("zset-max-listpack-value", "1"),
        ("set-max-intset-entries", "2"),
    ];
    for directives in [&[][..], small] {
        let mut digests = Vec::new();
        let mut encs = Vec::new();
        for flavor in [Flavor::Redis, Flavor::Redoubt] {
            let d = tempfile::tempdir().expect("tempdir");
            std::fs::write(d.path().join("dump.rdb"), &file).expect("write");
            let s = ServerProcess::builder(flavor)
                .directive("dir", &d.path().display().to_string())
                .directive("enable-debug-command", "yes")
                .directives(directives)
                .start()
                .unwrap_or_else(|e| panic!("starting {}: {e:#}", flavor.name()));
            let mut c = must_connect(&s);
            assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(11), "{}", s.log());
            digests.push(digest(&mut c));
            encs.push(encodings(&mut c));
        }
        assert_eq!(digests[0], digests[1], "{directives:?}");
        assert_eq!(encs[0], encs[1], "{directives:?}");
    }
}
