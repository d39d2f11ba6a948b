//! Sentinel basics over real redis-server data nodes: discovery of replicas and Sentinels,
//! the read commands, the rewritten sentinel.conf, and `+sdown`/`-sdown` of a replica seen on
//! a PSUBSCRIBE * connection. The same scenario runs with three real redis-sentinels first
//! (so the test itself is checked against Redis), then with three Redoubt Sentinels.
//! The larger end-to-end suite (failover, mixed groups, faults) lives elsewhere.

mod sentinel_nodes;

use redoubt_harness::wait_for;
use redoubt_harness::{Flavor, ServerProcess};
use redoubt_resp::Value;
use sentinel_nodes::{data_node, sentinel_binary};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn text(v: &Value) -> String {
    match v {
        Value::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        Value::Simple(s) | Value::Error(s) => s.clone(),
        Value::Verbatim(_, b) => String::from_utf8_lossy(b).into_owned(),
        Value::Int(n) => n.to_string(),
        other => format!("{other:?}"),
    }
}

fn items(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) | Value::Push(a) | Value::Set(a) => a.clone(),
        Value::Map(p) => p.iter().flat_map(|(k, v)| [k.clone(), v.clone()]).collect(),
        _ => Vec::new(),
    }
}

/// A field of one SENTINEL MASTER/REPLICAS/SENTINELS entry (a flat key/value list).
fn field(entry: &Value, name: &str) -> Option<String> {
    let kv = items(entry);
    kv.chunks(2)
        .find(|c| c.len() == 2 && text(&c[0]) == name)
        .map(|c| text(&c[1]))
}

fn start_sentinel(binary: &PathBuf, master_port: u16) -> ServerProcess {
    let conf = format!(
        "sentinel monitor mymaster 127.0.0.1 {master_port} 2\nsentinel down-after-milliseconds mymaster 1000\n"
    );
    ServerProcess::builder(Flavor::Redis)
        .binary(binary)
        .config_file(&conf)
        .start_timeout(Duration::from_secs(20))
        .start()
        .expect("start sentinel")
}

fn info_sentinel(s: &ServerProcess) -> String {
    match s.connect() {
        Ok(mut c) => text(&c.cmd(&["INFO", "sentinel"])),
        Err(_) => String::new(),
    }
}

fn scenario(flavor: Flavor) {
    let links = tempfile::tempdir().expect("tempdir");
    let binary = sentinel_binary(flavor, &links);
    let master = data_node(None, 100);
    let mp = master.port();
    let r1 = data_node(Some(mp), 90);
    let mut r2 = data_node(Some(mp), 100);
    let mut sentinels: Vec<ServerProcess> = (0..3).map(|_| start_sentinel(&binary, mp)).collect();

    let want =
        format!("master0:name=mymaster,status=ok,address=127.0.0.1:{mp},slaves=2,sentinels=3");
    for s in &sentinels {
        wait_for(
            &format!("{flavor:?} sentinel {} to see the group", s.port()),
            Duration::from_secs(30),
            || info_sentinel(s).contains(&want),
        );
    }

    let mut c = sentinels[0].connect().expect("connect");
    let addr = items(&c.cmd(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"]));
    assert_eq!(
        addr.iter().map(text).collect::<Vec<_>>(),
        vec!["127.0.0.1".to_string(), mp.to_string()]
    );
    let master_entry = c.cmd(&["SENTINEL", "MASTER", "mymaster"]);
    assert_eq!(field(&master_entry, "flags").as_deref(), Some("master"));
    assert_eq!(field(&master_entry, "num-slaves").as_deref(), Some("2"));
    assert_eq!(
        field(&master_entry, "num-other-sentinels").as_deref(),
        Some("2")
    );
    assert_eq!(field(&master_entry, "quorum").as_deref(), Some("2"));
    let replicas = items(&c.cmd(&["SENTINEL", "REPLICAS", "mymaster"]));
    let mut names: Vec<String> = replicas.iter().filter_map(|r| field(r, "name")).collect();
    names.sort();
    let mut expected = vec![
        format!("127.0.0.1:{}", r1.port()),
        format!("127.0.0.1:{}", r2.port()),
    ];
    expected.sort();
    assert_eq!(names, expected);
    let others = items(&c.cmd(&["SENTINEL", "SENTINELS", "mymaster"]));
    let mut ports: Vec<String> = others.iter().filter_map(|s| field(s, "port")).collect();
    ports.sort();
    let mut expected: Vec<String> = sentinels[1..]
        .iter()
        .map(|s| s.port().to_string())
        .collect();
    expected.sort();
    assert_eq!(ports, expected);
    for s in &others {
        assert_eq!(
            field(s, "name"),
            field(s, "runid"),
            "a Sentinel is named by its run id"
        );
    }
    let myid = text(&c.cmd(&["SENTINEL", "MYID"]));
    assert_eq!(myid.len(), 40);
    let role = items(&c.cmd(&["ROLE"]));
    assert_eq!(text(&role[0]), "sentinel");

    // The rewritten config: one known-replica per replica, one known-sentinel per other
    // Sentinel, the id, the epochs; no duplicates.
    let conf_path = sentinels[0].dir().join("server.conf");
    let conf_ok = || {
        let conf = std::fs::read_to_string(&conf_path).unwrap_or_default();
        let lines: Vec<&str> = conf.lines().collect();
        let count = |prefix: &str| lines.iter().filter(|l| l.starts_with(prefix)).count();
        let has = |l: &str| lines.contains(&l);
        count("sentinel known-replica ") == 2
            && has(&format!(
                "sentinel known-replica mymaster 127.0.0.1 {}",
                r1.port()
            ))
            && has(&format!(
                "sentinel known-replica mymaster 127.0.0.1 {}",
                r2.port()
            ))
            && count("sentinel known-sentinel ") == 2
            && sentinels[1..].iter().all(|s| {
                lines.iter().any(|l| {
                    l.starts_with(&format!(
                        "sentinel known-sentinel mymaster 127.0.0.1 {} ",
                        s.port()
                    ))
                })
            })
            && has(&format!("sentinel myid {myid}"))
            && has("sentinel config-epoch mymaster 0")
            && has("sentinel leader-epoch mymaster 0")
            && has("sentinel current-epoch 0")
            && has(&format!("sentinel monitor mymaster 127.0.0.1 {mp} 2"))
            && count("sentinel monitor ") == 1
    };
    wait_for(
        &format!("{flavor:?} rewritten sentinel.conf"),
        Duration::from_secs(10),
        conf_ok,
    );

    // A replica stops: +sdown slave; it comes back: -sdown slave.
    let mut sub = sentinels[0].connect().expect("connect");
    let reply = sub.cmd(&["PSUBSCRIBE", "*"]);
    assert_eq!(text(&items(&reply)[0]), "psubscribe");
    let r2p = r2.port();
    let what = format!("slave 127.0.0.1:{r2p} 127.0.0.1 {r2p} @ mymaster 127.0.0.1 {mp}");
    r2.stop().expect("stop replica");
    await_event(&mut sub, "+sdown", &what, Duration::from_secs(15));
    r2.restart().expect("restart replica");
    await_event(&mut sub, "-sdown", &what, Duration::from_secs(20));
    drop(r1);
    // A Sentinel holds no dataset: stopping one (SIGTERM, default save points) and SHUTDOWN
    // SAVE write no RDB file.
    drop(sub);
    let mut c = sentinels[1].connect().expect("connect");
    let _ = c.send_cmd(&["SHUTDOWN", "SAVE"]);
    sentinels[0].stop().expect("SIGTERM");
    let _ = sentinels[1].stop();
    for s in &sentinels[..2] {
        let dump = s.dir().join("dump.rdb");
        assert!(!dump.exists(), "{} written by a Sentinel", dump.display());
    }
}

/// Reads pub/sub messages until `pmessage * <channel> <payload>` arrives.
fn await_event(sub: &mut redoubt_harness::RawConn, channel: &str, payload: &str, within: Duration) {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    loop {
        match sub.read_reply(deadline) {
            Ok(v) => {
                let m: Vec<String> = items(&v).iter().map(text).collect();
                if m.len() == 4 && m[0] == "pmessage" && m[2] == channel && m[3] == payload {
                    return;
                }
                seen.push(m.join(" "));
            }
            Err(e) => panic!("no {channel} {payload} before the deadline ({e:?}); saw {seen:#?}"),
        }
    }
}

#[test]
fn redis_sentinels_discover_and_detect_sdown() {
    scenario(Flavor::Redis);
}

#[test]
fn redoubt_sentinels_discover_and_detect_sdown() {
    scenario(Flavor::Redoubt);
}
