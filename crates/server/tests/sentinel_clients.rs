//! Real clients follow a failover (issue 7): redis-rs with its `sentinel` feature
//! (`SentinelClient`, the crate version pinned in the workspace manifest) against the story's
//! deployment (A master, B replica with priority 90, C with 100, passwords,
//! `min-replicas-to-write 1`, three Sentinels with quorum 2). The client connects through
//! the Sentinels, writes, the master is killed by PID (SIGKILL), and the client keeps writing,
//! asking the Sentinels again after every failure, until it writes on the new master. It must
//! reach B, and every write acknowledged there must be in B's data. Run with real Redis in
//! every role (validating the test) and with Redoubt in every role.
//! redis-py's `Sentinel` is covered by tests/clients/test_sentinel.py.

#[path = "sentinel/common.rs"]
#[allow(dead_code)]
mod common;

use std::time::{Duration, Instant};

use common::{deployment, DISCOVERY, FAILOVER};
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::RedisConnectionInfo;
use redoubt_harness::writer::read_ids;
use redoubt_harness::Flavor;

const KEY: &str = "redis-rs:ids";

/// The port of the server a redis-rs connection talks to (`CONFIG GET port`).
fn port_of(conn: &mut redis::Connection) -> redis::RedisResult<u16> {
    let pair: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("port").query(conn)?;
    Ok(pair.get(1).and_then(|p| p.parse().ok()).unwrap_or(0))
}

/// A connection to whatever the Sentinels call the master now, and its port.
fn connect(client: &mut SentinelClient) -> redis::RedisResult<(redis::Connection, u16)> {
    let mut conn = client.get_connection()?;
    let port = port_of(&mut conn)?;
    Ok((conn, port))
}

fn redis_rs_follows_failover(flavor: Flavor) {
    let mut d = deployment(&[flavor; 3], &[flavor; 3]);
    d.wait_discovered(2, DISCOVERY);
    let (a, b, c) = (d.node("A").port(), d.node("B").port(), d.node("C").port());
    let password = "tutorial-pw";

    let sentinels: Vec<String> = d
        .sentinel_ports()
        .iter()
        .map(|p| format!("redis://127.0.0.1:{p}/"))
        .collect();
    let node_info = SentinelNodeConnectionInfo::default()
        .set_redis_connection_info(RedisConnectionInfo::default().set_password(password));
    let mut client = SentinelClient::build(
        sentinels,
        d.master_name.clone(),
        Some(node_info),
        SentinelServerType::Master,
    )
    .expect("a SentinelClient");

    // Before the failover redis-rs finds A, and writes there.
    let (mut conn, port) = connect(&mut client).expect("redis-rs connects through the Sentinels");
    assert_eq!(port, a, "redis-rs should find the master A first");
    let mut next_id = 0u64;
    for _ in 0..20 {
        next_id += 1;
        let _: i64 = redis::cmd("RPUSH")
            .arg(KEY)
            .arg(next_id)
            .query(&mut conn)
            .expect("RPUSH on A");
    }

    d.node_mut("A").kill9().expect("kill -9 A");

    // Keep writing; after any error ask the Sentinels again (a new connection), as an
    // application using redis-rs would, until writes are acknowledged by the new master.
    let mut acked_on_new: Vec<u64> = Vec::new();
    let mut reached = None;
    let mut errors = 0u64;
    let deadline = Instant::now() + FAILOVER;
    let mut current: Option<(redis::Connection, u16)> = None;
    while Instant::now() < deadline && acked_on_new.len() < 50 {
        if current.is_none() {
            match connect(&mut client) {
                Ok(cp) => current = Some(cp),
                Err(_) => {
                    errors += 1;
                    // The Sentinels still name the dead master: ask again shortly.
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
            }
        }
        let Some((conn, port)) = current.as_mut() else {
            continue;
        };
        next_id += 1;
        let res: redis::RedisResult<i64> = redis::cmd("RPUSH").arg(KEY).arg(next_id).query(conn);
        match res {
            Ok(_) => {
                assert_ne!(*port, a, "a write acknowledged by the killed master");
                reached = Some(*port);
                acked_on_new.push(next_id);
            }
            Err(_) => {
                // Refused (NOREPLICAS until C follows B, READONLY on a replica) or the
                // connection failed: look the master up again.
                errors += 1;
                current = None;
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    let reached = reached.unwrap_or_else(|| {
        panic!(
            "redis-rs never wrote on a new master within {FAILOVER:?} ({errors} errors); events:\n{}",
            d.event_dump()
        )
    });
    assert_eq!(
        reached,
        b,
        "redis-rs reached {} instead of B (C is {c})",
        if reached == c { "C" } else { "an unknown port" }
    );
    assert_eq!(
        acked_on_new.len(),
        50,
        "writes on B stopped being acknowledged"
    );

    // Every write B acknowledged is in B's data, after the ones replicated from A.
    let ids = read_ids(&mut d.node("B").conn(), KEY).expect("the ids on B");
    for id in &acked_on_new {
        assert!(
            ids.contains(id),
            "id {id} acknowledged by B is missing from B"
        );
    }
    assert_eq!(
        &ids[ids.len() - acked_on_new.len()..],
        &acked_on_new[..],
        "B's list ends with the writes it acknowledged, in order"
    );
    // And redis-rs, asked again now, still names B.
    let (_, port) = connect(&mut client).expect("redis-rs connects after the failover");
    assert_eq!(port, b);
}

#[test]
fn redis_rs_follows_failover_redis_everywhere() {
    redis_rs_follows_failover(Flavor::Redis);
}

#[test]
fn redis_rs_follows_failover_redoubt_everywhere() {
    redis_rs_follows_failover(Flavor::Redoubt);
}
