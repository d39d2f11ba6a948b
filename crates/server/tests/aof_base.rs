//! An AOF rewrite with `aof-use-rdb-preamble no` (issue 5): the new base is an AOF-format
//! `<appendfilename>.<seq>.base.aof` of commands, as redis-server 7.0.15's
//! `rewriteAppendOnlyFileRio` writes it. On a dataset of every type (compact and large
//! encodings, TTLs, two databases):
//! - the same file names and manifest as Redis, and per key the same commands byte for
//!   byte (SELECT, SET, RPUSH/SADD/ZADD/HMSET in batches of 64, PEXPIREAT); the order of
//!   keys in a database, of members of a hashtable set or hash and of a skiplist sorted set
//!   follow each server's hash tables, so those compare as multisets of items;
//! - `redis-check-aof` accepts our directory, and each server loads the other's to the
//!   same DEBUG DIGEST;
//! - a rewrite under concurrent writes (slowed with `rdb-key-save-delay`), then a restart,
//!   gives the same digest; with `aof-timestamp-enabled` the base opens with `#TS:`;
//! - CONFIG SET appendonly yes writes its first base the same way.

use redoubt_harness::{must_connect, wait_for, Flavor, RawConn, ServerProcess, Value};
use std::collections::BTreeMap;
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

fn run(c: &mut RawConn, cmd: &[String]) {
    if let Value::Error(e) = c.cmd(cmd) {
        panic!("{cmd:?}: {e}");
    }
}

fn cmd(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

/// Every type in its compact and its large encoding, TTLs, databases 0 and 5.
fn dataset() -> Vec<Vec<String>> {
    let mut d = vec![
        cmd(&["SET", "int", "12345"]),
        cmd(&["SET", "emb", "hello"]),
        cmd(&["SET", "raw", &"r".repeat(100)]),
        cmd(&["RPUSH", "lp", "a", "1", "-5", "bb"]),
        cmd(&["SADD", "intset", "3", "1", "-2", "100"]),
        cmd(&["SADD", "strset", "a", "b", "c"]),
        cmd(&[
            "ZADD", "zlp", "1", "a", "1.5", "b", "0.1", "c", "-3", "d", "1e17", "e",
        ]),
        cmd(&["ZADD", "zlp", "inf", "f", "-inf", "g"]),
        cmd(&["HSET", "hlp", "f", "v", "n", "1"]),
        cmd(&["SET", "ttl", "x", "PXAT", "4102444800000"]),
        cmd(&["RPUSH", "lttl", "x"]),
        cmd(&["PEXPIREAT", "lttl", "4102444800123"]),
    ];
    let mut big_list = cmd(&["RPUSH", "biglist"]);
    big_list.extend((0..150).map(|i| i.to_string()));
    d.push(big_list);
    let mut big_set = cmd(&["SADD", "bigset"]);
    big_set.extend((0..140).map(|i| format!("m{i}")));
    d.push(big_set);
    let mut big_intset = cmd(&["SADD", "bigintset"]);
    big_intset.extend((0..130).map(|i| (i * 7).to_string()));
    d.push(big_intset);
    let mut big_z = cmd(&["ZADD", "bigz"]);
    for i in 0..140 {
        big_z.push(format!("{}", f64::from(i) / 3.0));
        big_z.push(format!("m{i}"));
    }
    d.push(big_z);
    let mut big_h = cmd(&["HSET", "bigh"]);
    for i in 0..130 {
        big_h.push(format!("f{i}"));
        big_h.push(format!("v{i}"));
    }
    d.push(big_h);
    d.push(cmd(&["HSET", "hwide", "f", &"v".repeat(80)]));
    d.push(cmd(&["PEXPIREAT", "bigh", "4102444800456"]));
    d.push(cmd(&["SELECT", "5"]));
    d.push(cmd(&["SET", "db5", "y"]));
    d.push(cmd(&["RPUSH", "db5list", "p", "q"]));
    d.push(cmd(&["SELECT", "0"]));
    d
}

fn server(flavor: Flavor, dir: &Path, extra: &[(&str, &str)]) -> ServerProcess {
    ServerProcess::builder(flavor)
        .directive("dir", &dir.display().to_string())
        .directive("enable-debug-command", "yes")
        .directive("save", "")
        .directive("appendonly", "yes")
        .directive("aof-use-rdb-preamble", "no")
        .directives(extra)
        .start()
        .unwrap_or_else(|e| panic!("{}: {e:#}", flavor.name()))
}

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

fn rewrite_and_wait(c: &mut RawConn, n: usize) {
    run(c, &cmd(&["BGREWRITEAOF"]));
    wait_rewrites(c, n);
}

/// Until the `n`th rewrite is over.
fn wait_rewrites(c: &mut RawConn, n: usize) {
    wait_for("the rewrite", Duration::from_secs(60), || {
        let i = text(c.cmd(&["INFO", "persistence"]));
        i.contains("aof_rewrite_in_progress:0")
            && i.contains("aof_rewrite_scheduled:0")
            && i.contains(&format!("aof_rewrites:{n}"))
    });
}

/// The commands of an AOF file (panics on anything else: the file must parse).
fn commands(b: &[u8]) -> Vec<Vec<Vec<u8>>> {
    fn line(b: &[u8], i: &mut usize) -> usize {
        let end = *i + b[*i..].windows(2).position(|w| w == b"\r\n").expect("CRLF");
        let n = std::str::from_utf8(&b[*i + 1..end])
            .expect("utf8")
            .parse()
            .expect("count");
        *i = end + 2;
        n
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        assert_eq!(b[i], b'*', "at {i}");
        let n = line(b, &mut i);
        let mut c = Vec::new();
        for _ in 0..n {
            assert_eq!(b[i], b'$', "at {i}");
            let len = line(b, &mut i);
            c.push(b[i..i + len].to_vec());
            assert_eq!(&b[i + len..i + len + 2], b"\r\n");
            i += len + 2;
        }
        out.push(c);
    }
    out
}

/// Per (database, key): its commands in order.
type Keyed = BTreeMap<(Vec<u8>, Vec<u8>), Vec<Vec<Vec<u8>>>>;

fn by_key(cmds: &[Vec<Vec<u8>>]) -> Keyed {
    let mut db = Vec::new();
    let mut out = Keyed::new();
    for c in cmds {
        if c[0] == b"SELECT" {
            db = c[1].clone();
            continue;
        }
        out.entry((db.clone(), c[1].clone()))
            .or_default()
            .push(c.clone());
    }
    out
}

/// A key's commands with the items in hash-table order made comparable: each command's
/// arity kept, the items (pairs for ZADD/HMSET) sorted across the commands.
fn unordered(cmds: &[Vec<Vec<u8>>]) -> (Vec<usize>, Vec<Vec<Vec<u8>>>) {
    let arities = cmds.iter().map(Vec::len).collect();
    let mut items = Vec::new();
    for c in cmds {
        let per = if c[0] == b"ZADD" || c[0] == b"HMSET" {
            2
        } else {
            1
        };
        items.extend(c[2..].chunks(per).map(<[Vec<u8>]>::to_vec));
    }
    items.sort();
    (arities, items)
}

#[test]
fn aof_format_base_as_redis_and_loaded_both_ways() {
    let mut outcomes = Vec::new();
    let mut dirs = Vec::new();
    let mut bases = Vec::new();
    for flavor in [Flavor::Redis, Flavor::Redoubt] {
        let d = tempfile::tempdir().expect("tempdir");
        let mut s = server(flavor, d.path(), &[]);
        let mut c = must_connect(&s);
        for cmd in dataset() {
            run(&mut c, &cmd);
        }
        rewrite_and_wait(&mut c, 1);
        run(&mut c, &cmd(&["INCR", "after"]));
        let dg = text(c.cmd(&["DEBUG", "DIGEST"]));
        s.stop().expect("stop");
        let aofs = d.path().join("appendonlydir");
        let manifest =
            std::fs::read_to_string(aofs.join("appendonly.aof.manifest")).expect("manifest");
        bases.push(std::fs::read(aofs.join("appendonly.aof.2.base.aof")).expect("base"));
        outcomes.push((listing(&aofs), manifest, dg));
        dirs.push(d);
    }
    assert_eq!(outcomes[0], outcomes[1]);
    assert_eq!(
        outcomes[1].0,
        [
            "appendonly.aof.2.base.aof",
            "appendonly.aof.2.incr.aof",
            "appendonly.aof.manifest"
        ]
    );
    let (theirs, ours) = (commands(&bases[0]), commands(&bases[1]));
    // Databases in order, each opened once.
    let selects = |cs: &[Vec<Vec<u8>>]| -> Vec<Vec<Vec<u8>>> {
        cs.iter().filter(|c| c[0] == b"SELECT").cloned().collect()
    };
    assert_eq!(selects(&theirs), selects(&ours));
    assert_eq!(ours[0], [b"SELECT".to_vec(), b"0".to_vec()]);
    let (theirs, ours) = (by_key(&theirs), by_key(&ours));
    assert_eq!(
        theirs.keys().collect::<Vec<_>>(),
        ours.keys().collect::<Vec<_>>()
    );
    // Keys whose items live in a hash table (order is each server's own).
    let hashed: &[&[u8]] = &[b"strset", b"bigset", b"bigz", b"bigh", b"hwide"];
    for (k, theirs) in &theirs {
        let ours = &ours[k];
        if hashed.contains(&&k.1[..]) {
            assert_eq!(unordered(theirs), unordered(ours), "{k:?}");
        } else {
            assert_eq!(theirs, ours, "{k:?}");
        }
    }
    let check = std::process::Command::new("redis-check-aof")
        .arg(dirs[1].path().join("appendonlydir/appendonly.aof.manifest"))
        .output()
        .expect("redis-check-aof");
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(
        out.contains("All AOF files and manifest are valid"),
        "{out}"
    );
    // Each loads the other's directory.
    for (i, flavor) in [(1, Flavor::Redis), (0, Flavor::Redoubt)] {
        let mut s = server(flavor, dirs[i].path(), &[]);
        let mut c = must_connect(&s);
        assert_eq!(
            text(c.cmd(&["DEBUG", "DIGEST"])),
            outcomes[0].2,
            "{} loading the other's AOF",
            flavor.name()
        );
        s.stop().expect("stop");
    }
}

#[test]
fn aof_format_rewrite_under_writes_restarts_to_the_same_digest() {
    let d = tempfile::tempdir().expect("tempdir");
    let opts: &[(&str, &str)] = &[("aof-timestamp-enabled", "yes")];
    let mut s = server(Flavor::Redoubt, d.path(), opts);
    let mut c = must_connect(&s);
    for cmd in dataset() {
        run(&mut c, &cmd);
    }
    for i in 0..300 {
        run(&mut c, &cmd(&["RPUSH", &format!("k{i}"), "a", "b"]));
    }
    // About 5 ms per key: the rewrite runs while the writes below arrive.
    run(
        &mut c,
        &cmd(&["CONFIG", "SET", "rdb-key-save-delay", "5000"]),
    );
    run(&mut c, &cmd(&["BGREWRITEAOF"]));
    let info = text(c.cmd(&["INFO", "persistence"]));
    assert!(info.contains("aof_rewrite_in_progress:1"), "{info}");
    for i in 0..300 {
        let k = format!("k{}", (i * 7) % 300);
        run(&mut c, &cmd(&["RPUSH", &k, &i.to_string()]));
        if i % 10 == 0 {
            run(&mut c, &cmd(&["DEL", &format!("k{}", (i * 13) % 300)]));
            run(&mut c, &cmd(&["HSET", "bigh", &format!("new{i}"), "x"]));
        }
    }
    let info = text(c.cmd(&["INFO", "persistence"]));
    assert!(
        info.contains("aof_rewrite_in_progress:1"),
        "the writes must overlap the rewrite: {info}"
    );
    run(&mut c, &cmd(&["CONFIG", "SET", "rdb-key-save-delay", "0"]));
    rewrite_and_wait_done(&mut c);
    run(&mut c, &cmd(&["SADD", "strset", "late"]));
    let dg = text(c.cmd(&["DEBUG", "DIGEST"]));
    s.stop().expect("stop");
    let aofs = d.path().join("appendonlydir");
    let base = std::fs::read(aofs.join("appendonly.aof.2.base.aof")).expect("base");
    assert!(base.starts_with(b"#TS:"), "{:?}", &base[..16]);
    let check = std::process::Command::new("redis-check-aof")
        .arg(aofs.join("appendonly.aof.manifest"))
        .output()
        .expect("redis-check-aof");
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(
        out.contains("All AOF files and manifest are valid"),
        "{out}"
    );
    for flavor in [Flavor::Redoubt, Flavor::Redis] {
        let mut s = server(flavor, d.path(), opts);
        let mut c = must_connect(&s);
        assert_eq!(
            text(c.cmd(&["DEBUG", "DIGEST"])),
            dg,
            "{} after the restart",
            flavor.name()
        );
        s.stop().expect("stop");
    }
}

fn rewrite_and_wait_done(c: &mut RawConn) {
    wait_for("the rewrite", Duration::from_secs(60), || {
        let i = text(c.cmd(&["INFO", "persistence"]));
        i.contains("aof_rewrite_in_progress:0") && i.contains("aof_last_bgrewrite_status:ok")
    });
}

/// CONFIG SET appendonly yes with `aof-use-rdb-preamble no`: the first base comes from the
/// same rewrite (Redis's `AOF_WAIT_REWRITE`), so it is an AOF-format `.1.base.aof` too.
#[test]
fn aof_format_base_from_config_set_appendonly_as_redis() {
    let mut outcomes = Vec::new();
    for flavor in [Flavor::Redis, Flavor::Redoubt] {
        let d = tempfile::tempdir().expect("tempdir");
        let mut s = server(flavor, d.path(), &[("appendonly", "no")]);
        let mut c = must_connect(&s);
        for cmd in dataset() {
            run(&mut c, &cmd);
        }
        run(&mut c, &cmd(&["CONFIG", "SET", "appendonly", "yes"]));
        wait_rewrites(&mut c, 1);
        run(&mut c, &cmd(&["SET", "after", "1"]));
        let dg = text(c.cmd(&["DEBUG", "DIGEST"]));
        s.stop().expect("stop");
        let aofs = d.path().join("appendonlydir");
        let manifest =
            std::fs::read_to_string(aofs.join("appendonly.aof.manifest")).expect("manifest");
        let base = std::fs::read(aofs.join("appendonly.aof.1.base.aof")).expect("base");
        let hashed: &[&[u8]] = &[b"strset", b"bigset", b"bigz", b"bigh", b"hwide"];
        let keys: Vec<_> = by_key(&commands(&base))
            .into_iter()
            .map(|(k, cmds)| {
                if hashed.contains(&&k.1[..]) {
                    (k, unordered(&cmds))
                } else {
                    (k, (Vec::new(), cmds))
                }
            })
            .collect();
        outcomes.push((listing(&aofs), manifest, dg, keys));
    }
    assert_eq!(outcomes[0], outcomes[1]);
    assert_eq!(
        outcomes[1].0,
        [
            "appendonly.aof.1.base.aof",
            "appendonly.aof.1.incr.aof",
            "appendonly.aof.manifest"
        ]
    );
}
