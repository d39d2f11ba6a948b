//! `replica-ack-before-reply` over real processes (docs/ARCHITECTURE.md, "Safe mode"): a
//! Redoubt master with a Redoubt replica and a real redis-server replica, pipelining writers,
//! and a kill -9 of the master at an arbitrary moment. With the setting at 2, every write the
//! master acknowledged must be on both replicas: that is what a safe failover relies on.
//! (With the setting at 0 this test fails: 16-64 of ~2,500 acknowledged writes were missing
//! on the Redoubt replica in each of 5 runs.)

use redoubt_harness::{must_connect, must_ok, wait_for, Flavor, RawConn, ServerProcess, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(20);
const WRITERS: usize = 4;
const PIPELINE: usize = 16;

fn start(flavor: Flavor, extra: &[(&str, &str)]) -> ServerProcess {
    let mut b = ServerProcess::builder(flavor).directive("repl-diskless-sync-delay", "0");
    for (k, v) in extra {
        b = b.directive(k, v);
    }
    b.start()
        .unwrap_or_else(|e| panic!("starting {}: {e:#}", flavor.name()))
}

fn info_has(conn: &mut RawConn, section: &str, needle: &str) -> bool {
    match conn.cmd(&["INFO", section]) {
        Value::Bulk(b) => String::from_utf8_lossy(&b).contains(needle),
        _ => false,
    }
}

fn list(conn: &mut RawConn, key: &str) -> Vec<String> {
    match conn.cmd(&["LRANGE", key, "0", "-1"]) {
        Value::Array(items) => items
            .into_iter()
            .map(|v| match v {
                Value::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
                other => panic!("list item {other:?}"),
            })
            .collect(),
        other => panic!("LRANGE: {other:?}"),
    }
}

#[test]
fn every_acknowledged_write_is_on_the_replicas_when_the_master_dies() {
    let mut master = start(Flavor::Redoubt, &[("replica-ack-before-reply", "2")]);
    let port = master.port().to_string();
    let replicas = [
        start(
            Flavor::Redoubt,
            &[("replicaof", &format!("127.0.0.1 {port}"))],
        ),
        start(
            Flavor::Redis,
            &[("replicaof", &format!("127.0.0.1 {port}"))],
        ),
    ];
    let mut mc = must_connect(&master);
    wait_for("both replicas online", DEADLINE, || {
        info_has(&mut mc, "replication", "connected_slaves:2")
    });
    for r in &replicas {
        let mut c = must_connect(r);
        wait_for("the replica's link", DEADLINE, || {
            info_has(&mut c, "replication", "master_link_status:up")
        });
    }
    // A write is acknowledged only once both replicas ACKed it.
    must_ok(&mc.cmd(&["SET", "probe", "1"]));

    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let mut c = must_connect(&master);
            let (stop, acked, count) = (stop.clone(), acked.clone(), count.clone());
            std::thread::spawn(move || {
                let mut seq = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let ids: Vec<String> =
                        (0..PIPELINE).map(|i| format!("{w}-{}", seq + i)).collect();
                    seq += PIPELINE;
                    for id in &ids {
                        if c.send_cmd(&["RPUSH", "ids", id.as_str()]).is_err() {
                            return;
                        }
                    }
                    for id in &ids {
                        match c.read_reply(Instant::now() + DEADLINE) {
                            Ok(Value::Int(_)) => {
                                if let Ok(mut a) = acked.lock() {
                                    a.push(id.clone());
                                }
                                count.fetch_add(1, Ordering::Relaxed);
                            }
                            // Refused or unknown: not acknowledged.
                            Ok(_) => {}
                            Err(_) => return,
                        }
                    }
                }
            })
        })
        .collect();
    wait_for("2000 acknowledged writes", DEADLINE, || {
        count.load(Ordering::Relaxed) >= 2000
    });
    master.kill9().expect("kill -9 the master");
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        let _ = w.join();
    }
    let acked = acked.lock().map(|a| a.clone()).unwrap_or_default();
    assert!(acked.len() >= 2000);
    for r in &replicas {
        let mut c = must_connect(r);
        let have: std::collections::HashSet<String> = list(&mut c, "ids").into_iter().collect();
        let missing: Vec<&String> = acked.iter().filter(|id| !have.contains(*id)).collect();
        assert!(
            missing.is_empty(),
            "{} of {} acknowledged writes missing on the {} replica: {:?}",
            missing.len(),
            acked.len(),
            r.flavor().name(),
            &missing[..missing.len().min(10)]
        );
    }
}
