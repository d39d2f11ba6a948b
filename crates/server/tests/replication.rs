//! Replication against real redis-server 7.0.15 in every pairing:
//! - Redis master -> Redoubt replica, Redoubt master -> Redis replica, Redoubt -> Redoubt:
//!   a dataset of every type syncs, live writes follow, DEBUG DIGEST equal within a deadline;
//! - a killed link (CLIENT KILL TYPE master / TYPE replica) comes back by partial resync
//!   (`sync_partial_ok` grows, `sync_full` does not);
//! - chained replication keeps the same offsets; a promotion (REPLICAOF NO ONE) lets the other
//!   replica continue by partial resync, as a Sentinel failover needs;
//! - READONLY, MASTERDOWN, NOMASTERLINK, UNBLOCKED and REPLICAOF errors are byte-identical
//!   with Redis's; INFO replication is compared field by field (values that name a process,
//!   a port or a random ID masked).

use redoubt_harness::{must_connect, must_ok, wait_for, Flavor, RawConn, ServerProcess, Value};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(20);

fn start(flavor: Flavor) -> ServerProcess {
    let mut b = ServerProcess::builder(flavor)
        .directive("enable-debug-command", "yes")
        .directive("repl-ping-replica-period", "1");
    if flavor == Flavor::Redis {
        // Redis 7.0 defaults to diskless sync with a 5 s delay; no delay keeps tests short
        // (the EOF-marked payload is still what a Redis master sends us).
        b = b.directive("repl-diskless-sync-delay", "0");
    }
    match b.start() {
        Ok(s) => s,
        Err(e) => panic!("starting {}: {e:#}", flavor.name()),
    }
}

fn text(v: Value) -> String {
    match v {
        Value::Simple(s) => s,
        Value::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        Value::Error(e) => panic!("unexpected error reply: {e}"),
        other => panic!("expected a string, got {other:?}"),
    }
}

fn digest(c: &mut RawConn) -> String {
    text(c.cmd(&["DEBUG", "DIGEST"]))
}

/// One INFO field's value ("" when absent).
fn info_field(c: &mut RawConn, section: &str, name: &str) -> String {
    let info = text(c.cmd(&["INFO", section]));
    let prefix = format!("{name}:");
    info.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or("")
        .to_string()
}

fn info_int(c: &mut RawConn, section: &str, name: &str) -> i64 {
    let v = info_field(c, section, name);
    v.parse()
        .unwrap_or_else(|_| panic!("INFO {name} is not a number: {v:?}"))
}

fn run(c: &mut RawConn, cmds: &[Vec<String>]) {
    for chunk in cmds.chunks(200) {
        for cmd in chunk {
            c.send_cmd(cmd).expect("send");
        }
        for cmd in chunk {
            match c.read_reply(Instant::now() + Duration::from_secs(10)) {
                Ok(Value::Error(e)) => panic!("{cmd:?} failed: {e}"),
                Ok(_) => {}
                Err(e) => panic!("reply to {cmd:?}: {e}"),
            }
        }
    }
}

fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

/// Every type, several databases, TTLs, and encodings small and large.
fn dataset(tag: &str) -> Vec<Vec<String>> {
    let mut v = Vec::new();
    for db in ["0", "3", "9"] {
        v.push(words(&format!("SELECT {db}")));
        v.push(words(&format!("SET {tag}:str{db} hello")));
        v.push(words(&format!("SET {tag}:int{db} 12345")));
        v.push(words(&format!("SET {tag}:ttl{db} v PX 100000000")));
        v.push(words(&format!("RPUSH {tag}:list{db} a b 1 2")));
        v.push(words(&format!("SADD {tag}:iset{db} 1 2 3")));
        v.push(words(&format!("SADD {tag}:sset{db} x y z")));
        v.push(words(&format!("HSET {tag}:hash{db} f1 v1 f2 2")));
        v.push(words(&format!("ZADD {tag}:zset{db} 1 a 2.5 b")));
        v.push(words(&format!("PFADD {tag}:hll{db} a b c")));
        v.push(words(&format!("EXPIRE {tag}:hash{db} 500000")));
    }
    v.push(words("SELECT 0"));
    for i in 0..300 {
        v.push(words(&format!("RPUSH {tag}:biglist item{i}")));
        v.push(words(&format!("HSET {tag}:bighash f{i} v{i}")));
        v.push(words(&format!("ZADD {tag}:bigzset {i} m{i}")));
        v.push(words(&format!("SADD {tag}:bigset s{i}")));
    }
    v.push(vec!["SET".into(), format!("{tag}:big"), "x".repeat(50_000)]);
    v
}

/// Writes whose effects differ from the request (relative TTLs, SPOP, INCRBYFLOAT, MULTI).
fn live_writes(tag: &str) -> Vec<Vec<String>> {
    let mut v = Vec::new();
    for i in 0..50 {
        v.push(words(&format!("INCR {tag}:counter")));
        v.push(words(&format!("SET {tag}:k{i} v{i} EX 1000")));
        v.push(words(&format!("LPUSH {tag}:biglist new{i}")));
    }
    v.push(words(&format!("SPOP {tag}:bigset 3")));
    v.push(words(&format!("INCRBYFLOAT {tag}:float 1.5")));
    v.push(words(&format!("EXPIRE {tag}:str0 100000")));
    v.push(words(&format!("DEL {tag}:int0")));
    v.push(words("SELECT 3"));
    v.push(words(&format!("HINCRBY {tag}:hash3 f2 5")));
    v.push(words("SELECT 0"));
    v.push(words("MULTI"));
    v.push(words(&format!("SET {tag}:m1 1")));
    v.push(words(&format!("ZINCRBY {tag}:bigzset 3 m1")));
    v.push(words("EXEC"));
    v
}

fn wait_link_up(replica: &mut RawConn) {
    wait_for("the replica's link to be up", DEADLINE, || {
        info_field(replica, "replication", "master_link_status") == "up"
    });
}

fn wait_same_digest(master: &mut RawConn, replica: &mut RawConn) {
    let mut last = (String::new(), String::new());
    let ok = redoubt_harness::try_wait_for(DEADLINE, || {
        last = (digest(master), digest(replica));
        last.0 == last.1
    });
    assert!(ok, "digests differ: master {} replica {}", last.0, last.1);
}

fn replicaof(c: &mut RawConn, master: &ServerProcess) {
    must_ok(&c.cmd(&["REPLICAOF", "127.0.0.1", &master.port().to_string()]));
}

/// Full sync, live writes, then a killed link that must come back by partial resync.
fn pairing(master_flavor: Flavor, replica_flavor: Flavor, kill_on_master: bool, diskless: bool) {
    let mut master = ServerProcess::builder(master_flavor)
        .directive("enable-debug-command", "yes")
        .directive("repl-ping-replica-period", "1")
        .directive("repl-diskless-sync", if diskless { "yes" } else { "no" })
        .directive("repl-diskless-sync-delay", "0")
        .start()
        .expect("start the master");
    let master_log = |m: &mut ServerProcess| m.log();
    let replica = start(replica_flavor);
    let mut m = must_connect(&master);
    let mut r = must_connect(&replica);
    run(&mut m, &dataset("pre"));
    replicaof(&mut r, &master);
    wait_link_up(&mut r);
    wait_same_digest(&mut m, &mut r);
    let target = if diskless { "replicas sockets" } else { "disk" };
    assert!(
        master_log(&mut master).contains(&format!("for SYNC with target: {target}")),
        "the full sync used the {target} framing"
    );
    run(&mut m, &live_writes("live"));
    wait_same_digest(&mut m, &mut r);
    assert_eq!(text(r.cmd(&["GET", "live:counter"])), "50");

    let full = info_int(&mut m, "stats", "sync_full");
    let partial = info_int(&mut m, "stats", "sync_partial_ok");
    assert_eq!(full, 1, "one full sync so far");
    // The stream is in db 5 when the link drops and continues there without a SELECT: the
    // replica must keep its master client's database across the reconnection.
    run(&mut m, &[words("SELECT 5"), words("SET before-drop 1")]);
    wait_same_digest(&mut m, &mut r);
    if kill_on_master {
        let killed = r_kill(&mut m, "replica");
        assert_eq!(killed, 1);
    } else {
        assert_eq!(r_kill(&mut r, "master"), 1);
    }
    // Writes while the link is down come from the backlog.
    run(&mut m, &[words("SET during-drop 1")]);
    run(&mut m, &live_writes("during"));
    wait_for("a partial resync", DEADLINE, || {
        info_int(&mut m, "stats", "sync_partial_ok") == partial + 1
    });
    wait_link_up(&mut r);
    wait_same_digest(&mut m, &mut r);
    assert_eq!(
        info_int(&mut m, "stats", "sync_full"),
        full,
        "no second full sync"
    );
    wait_for("equal offsets", DEADLINE, || {
        info_int(&mut m, "replication", "master_repl_offset")
            == info_int(&mut r, "replication", "master_repl_offset")
    });
}

fn r_kill(c: &mut RawConn, kind: &str) -> i64 {
    match c.cmd(&["CLIENT", "KILL", "TYPE", kind]) {
        Value::Int(n) => n,
        other => panic!("CLIENT KILL TYPE {kind}: {other:?}"),
    }
}

#[test]
fn redis_master_redoubt_replica() {
    pairing(Flavor::Redis, Flavor::Redoubt, false, true);
    pairing(Flavor::Redis, Flavor::Redoubt, false, false);
}

#[test]
fn redoubt_master_redis_replica() {
    pairing(Flavor::Redoubt, Flavor::Redis, true, true);
    pairing(Flavor::Redoubt, Flavor::Redis, true, false);
}

#[test]
fn redoubt_master_redoubt_replica() {
    pairing(Flavor::Redoubt, Flavor::Redoubt, false, true);
}

/// M -> A -> C (chained) and M -> B; then A is promoted and B repointed to it: B must
/// continue by partial resync, and C, A's replica, too.
#[test]
fn chain_and_promotion_continue_by_partial_resync() {
    let m_srv = start(Flavor::Redoubt);
    let a_srv = start(Flavor::Redoubt);
    let b_srv = start(Flavor::Redis);
    let c_srv = start(Flavor::Redoubt);
    let (mut m, mut a, mut b, mut c) = (
        must_connect(&m_srv),
        must_connect(&a_srv),
        must_connect(&b_srv),
        must_connect(&c_srv),
    );
    run(&mut m, &dataset("pre"));
    replicaof(&mut a, &m_srv);
    replicaof(&mut b, &m_srv);
    wait_link_up(&mut a);
    replicaof(&mut c, &a_srv);
    wait_link_up(&mut b);
    wait_link_up(&mut c);
    run(&mut m, &live_writes("live"));
    for node in [&mut a, &mut b, &mut c] {
        wait_same_digest(&mut m, node);
    }
    // The chain forwards the master's bytes: the same offsets and ID everywhere.
    wait_for("offsets to agree along the chain", DEADLINE, || {
        let mo = info_int(&mut m, "replication", "master_repl_offset");
        mo == info_int(&mut a, "replication", "master_repl_offset")
            && mo == info_int(&mut c, "replication", "master_repl_offset")
    });
    let m_id = info_field(&mut m, "replication", "master_replid");
    assert_eq!(info_field(&mut c, "replication", "master_replid"), m_id);

    // Promotion keeps the old history as the second ID.
    must_ok(&a.cmd(&["REPLICAOF", "NO", "ONE"]));
    assert_eq!(info_field(&mut a, "replication", "role"), "master");
    assert_eq!(info_field(&mut a, "replication", "master_replid2"), m_id);
    let a_partial = info_int(&mut a, "stats", "sync_partial_ok");
    // C's first sync from A was a full one; the promotion must add none.
    let a_full = info_int(&mut a, "stats", "sync_full");
    replicaof(&mut b, &a_srv);
    wait_for("B and C to continue from A", DEADLINE, || {
        info_int(&mut a, "stats", "sync_partial_ok") >= a_partial + 2
    });
    assert_eq!(
        info_int(&mut a, "stats", "sync_full"),
        a_full,
        "no full sync from A"
    );
    wait_link_up(&mut b);
    wait_link_up(&mut c);
    run(&mut a, &live_writes("after"));
    wait_same_digest(&mut a, &mut b);
    wait_same_digest(&mut a, &mut c);
    let a_id = info_field(&mut a, "replication", "master_replid");
    wait_for("B to adopt A's new ID", DEADLINE, || {
        info_field(&mut b, "replication", "master_replid") == a_id
    });
    assert_eq!(info_field(&mut b, "replication", "master_replid2"), m_id);
}

fn raw(c: &mut RawConn, args: &[&str]) -> Vec<u8> {
    c.send_cmd(args).expect("send");
    c.read_raw_reply()
}

/// A dead master port: nothing listens there while the test runs.
fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

#[test]
fn errors_and_info_match_redis() {
    let redis = start(Flavor::Redis);
    let ours = start(Flavor::Redoubt);
    let dead = dead_port().to_string();
    let mut conns = [must_connect(&redis), must_connect(&ours)];
    // A blocked client is released when its server becomes a replica.
    let mut blocked: Vec<RawConn> = [&redis, &ours].iter().map(|s| must_connect(s)).collect();
    for b in &mut blocked {
        b.send_cmd(&["BLPOP", "q", "0"]).expect("send");
    }
    for c in &mut conns {
        wait_for("BLPOP to block", DEADLINE, || {
            info_int(c, "clients", "blocked_clients") == 1
        });
    }
    let script: Vec<Vec<&str>> = vec![
        vec!["REPLICAOF", "127.0.0.1", "notaport"],
        vec!["REPLICAOF", "127.0.0.1", "70000"],
        vec!["REPLCONF", "foo", "bar"],
        vec!["REPLCONF", "listening-port"],
        vec!["REPLCONF", "listening-port", "x"],
        vec!["REPLCONF", "listening-port", "1", "capa", "eof"],
        vec!["REPLICAOF", "NO", "ONE"],
        vec!["REPLICAOF", "127.0.0.1", &dead],
        vec!["REPLICAOF", "127.0.0.1", &dead],
        vec!["SET", "a", "1"],
        vec!["MULTI"],
        vec!["SET", "a", "1"],
        vec!["EXEC"],
        vec!["GET", "a"],
        vec!["SYNC"],
        vec!["PSYNC", "?", "-1"],
        vec!["ROLE"],
        vec!["CONFIG", "SET", "replica-serve-stale-data", "no"],
        vec!["GET", "a"],
        vec!["PING"],
        vec!["CONFIG", "SET", "replica-serve-stale-data", "yes"],
        vec!["CONFIG", "SET", "replica-read-only", "no"],
        vec!["SET", "a", "1"],
    ];
    for cmd in &script {
        let replies: Vec<Vec<u8>> = conns.iter_mut().map(|c| raw(c, cmd)).collect();
        assert_eq!(
            String::from_utf8_lossy(&replies[0]),
            String::from_utf8_lossy(&replies[1]),
            "{cmd:?}"
        );
    }
    let unblocked: Vec<Vec<u8>> = blocked.iter_mut().map(|b| b.read_raw_reply()).collect();
    assert_eq!(unblocked[0], unblocked[1]);
    assert!(unblocked[0].starts_with(b"-UNBLOCKED"), "{unblocked:?}");

    // INFO replication of a replica whose master is down, field by field.
    let infos: Vec<Vec<(String, String)>> = conns
        .iter_mut()
        .map(|c| {
            text(c.cmd(&["INFO", "replication"]))
                .lines()
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| {
                    let masked = if k == "master_replid" { "<id>" } else { v };
                    (k.to_string(), masked.to_string())
                })
                .collect()
        })
        .collect();
    assert_eq!(infos[0], infos[1]);
}

/// INFO replication on a master with one replica, and on that replica: the same fields in
/// the same order as Redis in the same roles.
#[test]
fn info_replication_fields_match_redis() {
    let names = |master: Flavor, replica: Flavor| -> (Vec<String>, Vec<String>) {
        let ms = start(master);
        let rs = start(replica);
        let (mut m, mut r) = (must_connect(&ms), must_connect(&rs));
        replicaof(&mut r, &ms);
        wait_link_up(&mut r);
        wait_for("the master to list its replica", DEADLINE, || {
            info_int(&mut m, "replication", "connected_slaves") == 1
        });
        let keys = |c: &mut RawConn| -> Vec<String> {
            text(c.cmd(&["INFO", "replication"]))
                .lines()
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| {
                    if k.starts_with("slave0") {
                        // ip=,port=,state=,offset=,lag= keys, values masked.
                        let ks: Vec<&str> = v
                            .split(',')
                            .filter_map(|kv| kv.split_once('='))
                            .map(|p| p.0)
                            .collect();
                        format!("{k}:{}", ks.join(","))
                    } else {
                        k.to_string()
                    }
                })
                .collect()
        };
        (keys(&mut m), keys(&mut r))
    };
    let redis = names(Flavor::Redis, Flavor::Redis);
    let ours = names(Flavor::Redoubt, Flavor::Redoubt);
    assert_eq!(redis.0, ours.0, "master fields");
    assert_eq!(redis.1, ours.1, "replica fields");
}

/// WAIT counts and `min-replicas-to-write`, with one attached replica, as Redis answers.
#[test]
fn wait_and_min_replicas_match_redis() {
    let session = |flavor: Flavor| -> Vec<Vec<u8>> {
        let ms = start(flavor);
        let rs = start(flavor);
        let (mut m, mut r) = (must_connect(&ms), must_connect(&rs));
        replicaof(&mut r, &ms);
        wait_link_up(&mut r);
        wait_for("the replica to be listed", DEADLINE, || {
            info_int(&mut m, "replication", "connected_slaves") == 1
        });
        let script: &[&[&str]] = &[
            &["SET", "a", "1"],
            &["WAIT", "1", "5000"],
            &["WAIT", "2", "100"],
            &["WAIT", "x", "0"],
            &["WAIT", "1", "-1"],
            &["CONFIG", "SET", "min-replicas-to-write", "2"],
            &["SET", "a", "2"],
            &["GET", "a"],
            &["CONFIG", "SET", "min-replicas-to-write", "1"],
            &["SET", "a", "3"],
        ];
        let mut out: Vec<Vec<u8>> = script.iter().map(|c| raw(&mut m, c)).collect();
        out.push(info_field(&mut m, "replication", "min_slaves_good_slaves").into_bytes());
        out.push(raw(&mut r, &["WAIT", "0", "0"]));
        out
    };
    let redis = session(Flavor::Redis);
    let ours = session(Flavor::Redoubt);
    for (a, b) in redis.iter().zip(&ours) {
        assert_eq!(String::from_utf8_lossy(a), String::from_utf8_lossy(b));
    }
}

/// The `replicaof` and `masterauth` directives: a replica started pointing at a master
/// that requires a password syncs at startup.
#[test]
fn replicaof_directive_with_masterauth() {
    let master = ServerProcess::builder(Flavor::Redis)
        .directive("requirepass", "s3cret")
        .directive("repl-diskless-sync-delay", "0")
        .directive("enable-debug-command", "yes")
        .start()
        .expect("start redis");
    let mut m = must_connect(&master);
    must_ok(&m.cmd(&["AUTH", "s3cret"]));
    must_ok(&m.cmd(&["SET", "k", "v"]));
    let replica = ServerProcess::builder(Flavor::Redoubt)
        .directive("replicaof", &format!("127.0.0.1 {}", master.port()))
        .directive("masterauth", "s3cret")
        .directive("enable-debug-command", "yes")
        .start()
        .expect("start redoubt");
    let mut r = must_connect(&replica);
    wait_link_up(&mut r);
    wait_same_digest(&mut m, &mut r);
    assert_eq!(text(r.cmd(&["GET", "k"])), "v");
}

/// Replicas do not expire keys: a logically expired key reads as missing but stays until
/// the master's DEL arrives (7.0 rules), on a Redis replica and on ours alike.
#[test]
fn replica_hides_expired_keys_until_master_deletes() {
    for replica_flavor in [Flavor::Redis, Flavor::Redoubt] {
        let master = start(Flavor::Redis);
        let replica = start(replica_flavor);
        let (mut m, mut r) = (must_connect(&master), must_connect(&replica));
        must_ok(&m.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]));
        replicaof(&mut r, &master);
        wait_link_up(&mut r);
        must_ok(&m.cmd(&["SET", "k", "v", "PX", "300"]));
        wait_for("the key on the replica", DEADLINE, || {
            r.cmd(&["DBSIZE"]) == Value::Int(1)
        });
        wait_for("the key to expire logically", DEADLINE, || {
            r.cmd(&["GET", "k"]) == Value::Nil
        });
        assert_eq!(r.cmd(&["EXISTS", "k"]), Value::Int(0));
        assert_eq!(
            r.cmd(&["DBSIZE"]),
            Value::Int(1),
            "{}: still stored",
            replica_flavor.name()
        );
        // The master's lazy expiry propagates the DEL.
        assert_eq!(m.cmd(&["GET", "k"]), Value::Nil);
        wait_for("the master's DEL", DEADLINE, || {
            r.cmd(&["DBSIZE"]) == Value::Int(0)
        });
    }
}

/// A replica restarted from its own RDB (which carries `repl-id`/`repl-offset`) continues
/// from its Redis master by partial resync, in the database the stream was in.
#[test]
fn replica_restart_continues_by_partial_resync() {
    let master = start(Flavor::Redis);
    let mut m = must_connect(&master);
    run(&mut m, &dataset("pre"));
    let mut replica = ServerProcess::builder(Flavor::Redoubt)
        .directive("replicaof", &format!("127.0.0.1 {}", master.port()))
        .directive("enable-debug-command", "yes")
        .start()
        .expect("start redoubt");
    let mut r = must_connect(&replica);
    wait_link_up(&mut r);
    run(&mut m, &[words("SELECT 5"), words("SET a 1")]);
    wait_same_digest(&mut m, &mut r);
    must_ok(&r.cmd(&["SAVE"]));
    drop(r);
    replica.stop().expect("stop the replica");
    run(&mut m, &[words("SET b 2")]);
    run(&mut m, &live_writes("offline"));
    let partial = info_int(&mut m, "stats", "sync_partial_ok");
    replica.restart().expect("restart the replica");
    let mut r = must_connect(&replica);
    wait_link_up(&mut r);
    wait_same_digest(&mut m, &mut r);
    assert_eq!(info_int(&mut m, "stats", "sync_partial_ok"), partial + 1);
    assert_eq!(info_int(&mut m, "stats", "sync_full"), 1);
}

/// A scripted master: answers the handshake, then sends `after_psync` and closes.
/// Returns the number of connections it served, so a test can see the replica retry.
fn fake_master(after_psync: Vec<u8>) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = served.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut out = conn.try_clone().expect("clone");
            let mut rd = BufReader::new(conn);
            loop {
                // One multibulk command: "*N", then N pairs of "$len" and data lines.
                let mut line = String::new();
                if rd.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let n: usize = line.trim().trim_start_matches('*').parse().unwrap_or(0);
                let mut args = Vec::new();
                for _ in 0..n {
                    let mut len = String::new();
                    let mut data = String::new();
                    let _ = rd.read_line(&mut len);
                    let _ = rd.read_line(&mut data);
                    args.push(data.trim().to_ascii_uppercase());
                }
                let reply: Vec<u8> = match args.first().map(String::as_str) {
                    Some("PING") => b"+PONG\r\n".to_vec(),
                    Some("PSYNC") => after_psync.clone(),
                    _ => b"+OK\r\n".to_vec(),
                };
                let _ = out.write_all(&reply);
                if args.first().map(String::as_str) == Some("PSYNC") {
                    // Let the replica read everything before the close.
                    std::thread::sleep(Duration::from_millis(100));
                    break;
                }
            }
        }
    });
    (port, served)
}

fn fullresync_with(payload: &[u8]) -> Vec<u8> {
    let mut v = format!("+FULLRESYNC {} 0\r\n", "a".repeat(40)).into_bytes();
    v.extend_from_slice(payload);
    v
}

/// Bad masters: a truncated RDB leaves the old data alone, a corrupt one loads nothing, and
/// garbage in the stream drops the link; each is logged and the replica reconnects.
#[test]
fn bad_master_input_is_logged_and_retried() {
    let empty_rdb = b"REDIS0010\xff\0\0\0\0\0\0\0\0".to_vec();
    let mut truncated = b"$100\r\n".to_vec();
    truncated.extend_from_slice(&empty_rdb);
    let bad_rdb: &[u8] = b"REDIS0010\xfe\x00\xfb\x09\x09garbage-garbage";
    let mut corrupt = format!("${}\r\n", bad_rdb.len()).into_bytes();
    corrupt.extend_from_slice(bad_rdb);
    let mut garbage = format!("${}\r\n", empty_rdb.len()).into_bytes();
    garbage.extend_from_slice(&empty_rdb);
    garbage.extend_from_slice(b"*x\r\n");
    let mut unknown = format!("${}\r\n", empty_rdb.len()).into_bytes();
    unknown.extend_from_slice(&empty_rdb);
    unknown.extend_from_slice(b"*1\r\n$5\r\nBOGUS\r\n");
    let corrupt_again = corrupt.clone();
    let cases: [(&str, Vec<u8>, &str, i64); 4] = [
        (
            "truncated",
            truncated,
            "I/O error trying to sync with MASTER",
            1,
        ),
        (
            "corrupt",
            corrupt,
            "Failed trying to load the MASTER synchronization DB",
            0,
        ),
        ("garbage", garbage, "Protocol error from MASTER", 0),
        (
            "unknown command",
            unknown,
            "== CRITICAL == This replica is sending an error to its master: 'ERR unknown command 'BOGUS'",
            0,
        ),
    ];
    for (name, script, log_line, keys_after) in cases {
        let (port, served) = fake_master(fullresync_with(&script));
        let server = start(Flavor::Redoubt);
        let mut c = must_connect(&server);
        must_ok(&c.cmd(&["SET", "old", "data"]));
        must_ok(&c.cmd(&["REPLICAOF", "127.0.0.1", &port.to_string()]));
        wait_for(&format!("{name}: the log line"), DEADLINE, || {
            server.log().contains(log_line)
        });
        wait_for(&format!("{name}: a retry"), DEADLINE, || {
            served.load(std::sync::atomic::Ordering::SeqCst) >= 2
        });
        assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(keys_after), "{name}");
        must_ok(&c.cmd(&["REPLICAOF", "NO", "ONE"]));
    }
    // `repl-diskless-load swapdb` keeps the old dataset when the payload does not load
    // (the modes above flush first, as Redis).
    let (port, served) = fake_master(fullresync_with(&corrupt_again));
    let server = ServerProcess::builder(Flavor::Redoubt)
        .directive("repl-diskless-load", "swapdb")
        .start()
        .expect("start");
    let mut c = must_connect(&server);
    must_ok(&c.cmd(&["SET", "old", "data"]));
    must_ok(&c.cmd(&["REPLICAOF", "127.0.0.1", &port.to_string()]));
    wait_for("swapdb: the log line", DEADLINE, || {
        server.log().contains(
            "Failed trying to load the MASTER synchronization DB from socket, check server logs.",
        )
    });
    wait_for("swapdb: a retry", DEADLINE, || {
        served.load(std::sync::atomic::Ordering::SeqCst) >= 2
    });
    assert!(server
        .log()
        .contains("MASTER <-> REPLICA sync: Discarding the half-loaded data"));
    assert_eq!(c.cmd(&["GET", "old"]), Value::Bulk("data".into()));
}

/// FAILOVER: its errors as Redis's, then a coordinated failover in each pairing: the roles
/// swap, the old master continues as a replica by partial resync, writes flow back.
#[test]
fn failover_matches_redis() {
    let errors = |flavor: Flavor| -> Vec<Vec<u8>> {
        let ms = start(flavor);
        let mut m = must_connect(&ms);
        let mut out = vec![
            raw(&mut m, &["FAILOVER"]),
            raw(&mut m, &["FAILOVER", "ABORT"]),
            raw(&mut m, &["FAILOVER", "TIMEOUT", "0"]),
            raw(&mut m, &["FAILOVER", "FORCE"]),
            raw(&mut m, &["FAILOVER", "bogus"]),
            raw(&mut m, &["FAILOVER", "TO", "127.0.0.1", "x"]),
        ];
        let rs = start(flavor);
        let mut r = must_connect(&rs);
        replicaof(&mut r, &ms);
        wait_link_up(&mut r);
        wait_for("the replica to be listed", DEADLINE, || {
            info_int(&mut m, "replication", "connected_slaves") == 1
        });
        out.push(raw(&mut m, &["FAILOVER", "FORCE", "TIMEOUT", "100"]));
        out.push(raw(&mut m, &["FAILOVER", "TO", "127.0.0.1", "1"]));
        out.push(raw(&mut r, &["FAILOVER"]));
        out
    };
    let (redis, ours) = (errors(Flavor::Redis), errors(Flavor::Redoubt));
    for (a, b) in redis.iter().zip(&ours) {
        assert_eq!(String::from_utf8_lossy(a), String::from_utf8_lossy(b));
    }

    for (mf, rf) in [
        (Flavor::Redoubt, Flavor::Redis),
        (Flavor::Redis, Flavor::Redoubt),
        (Flavor::Redoubt, Flavor::Redoubt),
    ] {
        let ms = start(mf);
        let rs = start(rf);
        let (mut m, mut r) = (must_connect(&ms), must_connect(&rs));
        run(&mut m, &dataset("pre"));
        replicaof(&mut r, &ms);
        wait_link_up(&mut r);
        wait_same_digest(&mut m, &mut r);
        let port = rs.port().to_string();
        wait_for("the master to see its replica online", DEADLINE, || {
            info_field(&mut m, "replication", "slave0").contains("state=online")
        });
        must_ok(&m.cmd(&["FAILOVER", "TO", "127.0.0.1", &port, "TIMEOUT", "10000"]));
        wait_for("the roles to swap", DEADLINE, || {
            info_field(&mut r, "replication", "role") == "master"
                && info_field(&mut m, "replication", "master_link_status") == "up"
                && info_field(&mut m, "replication", "master_failover_state") == "no-failover"
        });
        assert_eq!(
            info_int(&mut r, "stats", "sync_partial_ok"),
            1,
            "{mf:?} -> {rf:?}"
        );
        assert_eq!(
            info_int(&mut r, "stats", "sync_full"),
            0,
            "{mf:?} -> {rf:?}"
        );
        run(&mut r, &live_writes("after"));
        wait_same_digest(&mut r, &mut m);
    }
}

/// A master restarted with SHUTDOWN SAVE keeps its history as the second ID (7.0): its
/// replica, a real Redis, continues by partial resync.
#[test]
fn master_restart_continues_by_partial_resync() {
    let mut master = start(Flavor::Redoubt);
    let replica = start(Flavor::Redis);
    let (mut m, mut r) = (must_connect(&master), must_connect(&replica));
    run(&mut m, &dataset("pre"));
    replicaof(&mut r, &master);
    wait_link_up(&mut r);
    wait_same_digest(&mut m, &mut r);
    let old_id = info_field(&mut m, "replication", "master_replid");
    m.send_cmd(&["SHUTDOWN", "SAVE"]).expect("send");
    assert!(
        m.is_closed(Instant::now() + DEADLINE),
        "SHUTDOWN closes the connection"
    );
    wait_for("the master to exit", DEADLINE, || !master.is_running());
    master.restart().expect("restart the master");
    let mut m = must_connect(&master);
    assert_eq!(info_field(&mut m, "replication", "master_replid2"), old_id);
    wait_link_up(&mut r);
    wait_for("the replica's partial resync", DEADLINE, || {
        info_int(&mut m, "stats", "sync_partial_ok") == 1
    });
    assert_eq!(info_int(&mut m, "stats", "sync_full"), 0);
    run(&mut m, &live_writes("after"));
    wait_same_digest(&mut m, &mut r);
}

/// Convergence under load: writes of every type keep flowing while replicas (Redis and
/// Redoubt, one chained) full-sync, lose their links and continue; at the end every node
/// has the master's digest and the offsets agree.
#[test]
fn converges_under_load_with_link_drops() {
    // The writer produces megabytes a second; the backlog must cover a reconnection.
    let master = ServerProcess::builder(Flavor::Redoubt)
        .directive("enable-debug-command", "yes")
        .directive("repl-backlog-size", "256mb")
        .start()
        .expect("start the master");
    let ours = start(Flavor::Redoubt);
    let theirs = start(Flavor::Redis);
    let chained = start(Flavor::Redoubt);
    let mut m = must_connect(&master);
    run(&mut m, &dataset("pre"));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let mut w = must_connect(&master);
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let mut batch = live_writes(&format!("w{}", i % 7));
                batch.push(words(&format!("SELECT {}", i % 4)));
                batch.push(words(&format!("SET k{i} {i} PX 100000")));
                batch.push(words(&format!("SADD s{} {i}", i % 3)));
                batch.push(words(&format!("ZADD z {i} m{}", i % 50)));
                batch.push(words(&format!("HINCRBY h f{} 1", i % 9)));
                batch.push(words("SELECT 0"));
                run(&mut w, &batch);
                i += 1;
            }
        })
    };
    let mut o = must_connect(&ours);
    let mut t = must_connect(&theirs);
    let mut c = must_connect(&chained);
    replicaof(&mut o, &master);
    replicaof(&mut t, &master);
    wait_link_up(&mut o);
    replicaof(&mut c, &ours);
    wait_link_up(&mut t);
    wait_link_up(&mut c);
    for _ in 0..(if std::env::var("REPL_NO_KILL").is_ok() {
        0
    } else {
        2
    }) {
        assert_eq!(r_kill(&mut o, "master"), 1);
        assert!(r_kill(&mut m, "replica") >= 1);
        wait_link_up(&mut o);
        wait_link_up(&mut t);
        wait_link_up(&mut c);
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.join().expect("writer");
    for (name, node) in [("ours", &mut o), ("redis", &mut t), ("chained", &mut c)] {
        let same = redoubt_harness::try_wait_for(DEADLINE, || digest(&mut m) == digest(node));
        if !same {
            for db in ["0", "1", "2", "3", "5"] {
                let mut sizes = Vec::new();
                for n in [&mut m, &mut *node] {
                    n.cmd(&["SELECT", db]);
                    sizes.push(n.cmd(&["DBSIZE"]));
                }
                eprintln!("{name} db{db}: {sizes:?}");
                let keys = match m.cmd(&["KEYS", "*"]) {
                    Value::Array(a) => a,
                    _ => vec![],
                };
                let mut shown = 0;
                for k in keys {
                    let k = text(k);
                    let a = m.cmd(&["DEBUG", "DIGEST-VALUE", &k]);
                    let b = node.cmd(&["DEBUG", "DIGEST-VALUE", &k]);
                    if a != b && shown < 5 {
                        shown += 1;
                        let ta = (
                            m.cmd(&["GET", &k]),
                            node.cmd(&["GET", &k]),
                            m.cmd(&["LLEN", &k]),
                            node.cmd(&["LLEN", &k]),
                        );
                        let tb = node.cmd(&["PTTL", &k]);
                        let tm = m.cmd(&["PTTL", &k]);
                        eprintln!("  key {k}: type {ta:?} pttl master {tm:?} node {tb:?}");
                    }
                }
            }
            panic!("{name} diverged");
        }
    }
    wait_for("offsets to agree", DEADLINE, || {
        let mo = info_int(&mut m, "replication", "master_repl_offset");
        mo == info_int(&mut o, "replication", "master_repl_offset")
            && mo == info_int(&mut c, "replication", "master_repl_offset")
            && mo == info_int(&mut t, "replication", "master_repl_offset")
    });
    // Two full syncs (one per replica); every drop came back by partial resync.
    let full = info_int(&mut m, "stats", "sync_full");
    let log = master.log();
    let why: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("not accepted") || l.contains("Unable to partial"))
        .collect();
    assert_eq!(full, 2, "{why:#?}");
    assert!(info_int(&mut m, "stats", "sync_partial_ok") >= 2);
}

/// A diskless payload is followed by nothing until the replica's first ACK: a Redis
/// replica looks for the EOF mark only at the end of what it read, so stream bytes in the
/// same read would hide it (regression: the sync stalled until `repl-timeout`).
#[test]
fn diskless_sync_under_writes_to_a_redis_replica() {
    let master = start(Flavor::Redoubt);
    let replica = start(Flavor::Redis);
    let mut m = must_connect(&master);
    run(&mut m, &dataset("pre"));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let mut w = must_connect(&master);
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                run(&mut w, &[words("INCR n"), words("LPUSH l x")]);
            }
        })
    };
    let mut r = must_connect(&replica);
    replicaof(&mut r, &master);
    wait_link_up(&mut r);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.join().expect("writer");
    wait_same_digest(&mut m, &mut r);
    assert!(master
        .log()
        .contains("Waiting for REPLCONF ACK from slave to enable streaming"));
}
