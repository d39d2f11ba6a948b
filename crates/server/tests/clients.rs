//! redis-rs (the Rust client) against redoubt-server: pipelines, transactions with WATCH,
//! and pub/sub, as an application would use them.

use redoubt_harness::{must_start, Flavor, ServerProcess};
use std::time::Duration;

fn client(s: &ServerProcess) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{}/", s.port()))
        .and_then(|c| c.get_connection())
        .expect("redis-rs connects")
}

#[test]
fn pipelines_keep_order() {
    let s = must_start(Flavor::Redoubt, &[]);
    let mut con = client(&s);
    let mut p = redis::pipe();
    for i in 0..500 {
        p.set(format!("k{i}"), i).ignore();
    }
    for i in 0..500 {
        p.get(format!("k{i}"));
    }
    let got: Vec<i64> = p.query(&mut con).expect("pipeline");
    assert_eq!(got, (0..500).collect::<Vec<i64>>());
}

#[test]
fn atomic_pipeline_and_watch() {
    let s = must_start(Flavor::Redoubt, &[]);
    let mut con = client(&s);
    let (a, b): (i64, i64) = redis::pipe()
        .atomic()
        .incr("counter", 5)
        .incr("counter", 2)
        .query(&mut con)
        .expect("MULTI/EXEC");
    assert_eq!((a, b), (5, 7));

    // A WATCHed key changed by another client aborts EXEC (redis-rs sees Nil and retries).
    let mut other = client(&s);
    let mut attempts = 0;
    let v: (i64,) = redis::transaction(&mut con, &["balance"], |con, pipe| {
        attempts += 1;
        if attempts == 1 {
            let _: () = redis::cmd("SET")
                .arg("balance")
                .arg(100)
                .query(&mut other)
                .expect("set");
        }
        let cur: i64 = redis::cmd("GET").arg("balance").query(con).unwrap_or(0);
        pipe.set("balance", cur + 1)
            .ignore()
            .get("balance")
            .query(con)
    })
    .expect("transaction");
    assert_eq!(v, (101,));
    assert_eq!(
        attempts, 2,
        "the first EXEC must abort because of the concurrent SET"
    );
}

#[test]
fn pubsub_delivers() {
    let s = must_start(Flavor::Redoubt, &[]);
    let mut sub_con = client(&s);
    let mut publisher = client(&s);
    let mut sub = sub_con.as_pubsub();
    sub.subscribe("events").expect("subscribe");
    sub.psubscribe("ev*").expect("psubscribe");
    sub.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let n: i64 = redis::cmd("PUBLISH")
        .arg("events")
        .arg("hello")
        .query(&mut publisher)
        .expect("publish");
    assert_eq!(n, 2);
    let mut got = vec![];
    for _ in 0..2 {
        let m = sub.get_message().expect("message");
        got.push((
            m.get_channel_name().to_string(),
            m.get_payload::<String>().expect("payload"),
        ));
    }
    got.sort();
    assert_eq!(
        got,
        vec![
            ("events".into(), "hello".into()),
            ("events".into(), "hello".into())
        ]
    );
}
