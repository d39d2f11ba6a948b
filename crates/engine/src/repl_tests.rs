//! The engine's replication state without sockets: PSYNC replies, feeding replicas at the
//! end of the batch, the backlog, and applying a master's stream.

use crate::testing::TestEngine;
use crate::{ClientId, ClientIo};
use bytes::Bytes;
use std::rc::Rc;

/// What the connection task would write of a full sync payload.
fn drain_payload(t: &mut TestEngine, id: ClientId) -> Vec<u8> {
    let io = t.eng.clients.get(&id).expect("client").io.clone();
    let mut out = Vec::new();
    while let Some(item) = io.bulk.borrow_mut().pop() {
        match item {
            crate::repl_sync::BulkItem::Bytes(b) => out.extend_from_slice(&b),
            crate::repl_sync::BulkItem::File(f) => panic!("no files here: {f}"),
        }
    }
    out
}

#[test]
fn full_sync_then_stream_then_partial() {
    let mut t = TestEngine::new();
    t.run("SET before 1");
    t.stream();
    assert_eq!(t.eng.stream.offset(), 0, "no backlog, no offset (as Redis)");
    let r = t.add_client();
    assert_eq!(t.run_on(r, "REPLCONF listening-port 7000"), b"+OK\r\n");
    assert_eq!(t.run_on(r, "REPLCONF capa eof capa psync2"), b"+OK\r\n");
    assert_eq!(t.text("CONFIG SET repl-diskless-sync-delay 0"), "+OK|");
    // Nothing before the snapshot starts, at the end of the batch.
    assert!(t.run_on(r, "PSYNC ? -1").is_empty());
    t.stream();
    let id = t.eng.repl.ids.replid.clone();
    assert_eq!(
        String::from_utf8_lossy(&t.take_out(r)),
        format!("+FULLRESYNC {id} 0\r\n")
    );
    assert_eq!(t.eng.stats.sync_full, 1);
    // A write during the transfer is held until the replica has loaded the payload.
    t.run("SET during 1");
    let during = t.stream();
    assert!(t.take_out(r).is_empty());
    let now = t.now_ms;
    while t.eng.bgsave_work(now, 1) == crate::commands::bgsave::Work::More {}
    let payload = drain_payload(&mut t, r);
    assert!(
        payload.starts_with(b"$EOF:"),
        "{:?}",
        String::from_utf8_lossy(&payload)
    );
    let mark = payload[5..45].to_vec();
    assert!(payload.ends_with(&mark));
    assert!(payload.windows(5).any(|w| w == b"REDIS"));
    assert_eq!(
        t.eng.bgsave_work(now, 1),
        crate::commands::bgsave::Work::Idle
    );
    assert!(t.take_out(r).is_empty(), "held until the first ACK");
    // The ACK gets no reply: what follows it is the held stream.
    assert_eq!(t.run_on(r, "REPLCONF ACK 0"), during);
    // A write reaches the replica at the end of the batch.
    t.run("SET a 1");
    let mut bytes = during.clone();
    let more = t.stream();
    assert_eq!(t.take_out(r), more);
    bytes.extend_from_slice(&more);
    assert!(bytes.starts_with(b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"));
    let end = t.eng.stream.offset();
    assert_eq!(end, bytes.len() as u64);
    // ACKs are never answered and feed ROLE / INFO.
    assert!(t.run_on(r, &format!("REPLCONF ACK {end}")).is_empty());
    let info = t.text("INFO replication");
    assert!(
        info.contains(&format!(
            "slave0:ip=,port=7000,state=online,offset={end},lag=0"
        )),
        "{info}"
    );
    // A second replica continues from the backlog: every byte after offset 1.
    let r2 = t.add_client();
    t.run_on(r2, "REPLCONF capa psync2");
    let reply = t.run_on(r2, &format!("PSYNC {id} 1"));
    let mut expect = format!("+CONTINUE {id}\r\n").into_bytes();
    expect.extend_from_slice(&bytes);
    assert_eq!(reply, expect);
    assert_eq!(t.eng.stats.sync_partial_ok, 1);
    // An unknown history is a full sync and counts as a refused partial.
    let r3 = t.add_client();
    t.run_on(r3, "REPLCONF capa eof");
    t.run_on(r3, &format!("PSYNC {} 1", "f".repeat(40)));
    t.stream();
    assert!(t.take_out(r3).starts_with(b"+FULLRESYNC"));
    assert_eq!(t.eng.stats.sync_partial_err, 1);
    assert!(t.eng.rdb_child(), "the sockets snapshot runs");
    // A disk sync cannot start here (no file sink): Redis's refusal, and the link closes.
    while t.eng.bgsave_work(now, 100) == crate::commands::bgsave::Work::More {}
    drain_payload(&mut t, r3);
    t.eng.bgsave_work(now, 100);
    assert!(!t.eng.rdb_child());
    let r4 = t.add_client();
    t.run_on(r4, "PSYNC ? -1");
    t.stream();
    assert_eq!(
        t.take_out(r4),
        b"-ERR BGSAVE failed, replication can't continue\r\n"
    );
}

#[test]
fn master_stream_is_forwarded_whole_transactions_at_a_time() {
    let mut t = TestEngine::new();
    let now = t.now_ms;
    t.eng.set_master("127.0.0.1".into(), 1, now);
    t.eng.adopt_master_history("a".repeat(40), 100, 0);
    let m = t
        .eng
        .attach_master_client(Rc::new(ClientIo::default()), "m".into(), now);
    let mut held = Vec::new();
    let mut all = Vec::new();
    for line in ["SELECT 3", "MULTI", "SET k v", "INCR n", "EXEC", "SET x 1"] {
        let args: Vec<Bytes> = redoubt_resp::split_args(line.as_bytes())
            .expect("test command")
            .into_iter()
            .map(Bytes::from)
            .collect();
        let mut raw = format!("*{}\r\n", args.len()).into_bytes();
        for a in &args {
            raw.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            raw.extend_from_slice(a);
            raw.extend_from_slice(b"\r\n");
        }
        let before = t.eng.stream.offset();
        let mut c = t.eng.take_client(m).expect("master client");
        t.eng.apply_from_master(&mut c, args, &raw, &mut held, now);
        t.eng.put_client(c);
        all.extend_from_slice(&raw);
        if matches!(line, "MULTI" | "SET k v" | "INCR n") {
            assert_eq!(t.eng.stream.offset(), before, "{line} is held until EXEC");
        }
    }
    assert_eq!(t.eng.stream.offset(), 100 + all.len() as u64);
    assert_eq!(t.stream(), all, "the master's bytes, unchanged");
    // Our own effects were muted; the master's commands ran in db 3, even a write on a
    // read-only replica.
    t.run("SELECT 3");
    assert_eq!(t.text("GET k"), "$1|v|");
    assert_eq!(
        t.text("SET y 1"),
        "-READONLY You can't write against a read only replica.|"
    );
}

#[test]
fn writable_replica_local_writes_stay_local() {
    let mut t = TestEngine::new();
    let now = t.now_ms;
    t.eng.set_master("127.0.0.1".into(), 1, now);
    t.eng.adopt_master_history("a".repeat(40), 100, 0);
    assert_eq!(t.text("CONFIG SET replica-read-only no"), "+OK|");
    assert_eq!(t.text("SET local 1"), "+OK|");
    assert_eq!(t.text("EXPIRE local 100"), ":1|");
    assert!(t.stream().is_empty(), "not propagated to sub-replicas");
    assert_eq!(t.eng.stream.offset(), 100, "the offset stays the master's");
    // Promotion makes our own writes propagate again, starting with a SELECT.
    t.eng.unset_master();
    t.run("SET after 1");
    assert_eq!(t.stream_cmds(), "SELECT 0\nSET after 1");
}

#[test]
fn replicaof_another_master_keeps_the_stream_database() {
    // Found by tests/repl_sim.rs (seed 17): a replica moved to the promoted replica by
    // REPLICAOF continues by partial resync, and the backlog bytes it gets may follow the
    // old master's SELECT 3 without repeating it. Redis keeps the cached master client, and
    // so its database; resetting it to 0 applied those writes to the wrong database.
    let mut t = TestEngine::new();
    let now = t.now_ms;
    t.eng.set_master("127.0.0.1".into(), 1, now);
    t.eng.adopt_master_history("a".repeat(40), 0, 0);
    let m = t
        .eng
        .attach_master_client(Rc::new(ClientIo::default()), "m".into(), now);
    let raw = b"*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n";
    let mut c = t.eng.take_client(m).expect("master client");
    let args = vec![Bytes::from_static(b"SELECT"), Bytes::from_static(b"3")];
    t.eng
        .apply_from_master(&mut c, args, raw, &mut Vec::new(), now);
    t.eng.put_client(c);
    t.eng.set_master("127.0.0.1".into(), 2, now);
    let m2 = t
        .eng
        .attach_master_client(Rc::new(ClientIo::default()), "m2".into(), now);
    assert_eq!(t.eng.clients.get(&m2).map(|c| c.db), Some(3));
}

#[test]
fn repl_disable_tcp_nodelay_asks_only_at_a_full_sync() {
    let mut t = TestEngine::new();
    let wants = |t: &TestEngine, id: ClientId| {
        t.eng
            .clients
            .get(&id)
            .expect("client")
            .io
            .disable_nodelay
            .get()
    };
    // Off (the default): no request.
    let r1 = t.add_client();
    t.run_on(r1, "REPLCONF capa eof capa psync2");
    t.run_on(r1, "PSYNC ? -1");
    assert!(!wants(&t, r1));
    assert_eq!(t.text("CONFIG SET repl-disable-tcp-nodelay yes"), "+OK|");
    // On: a full sync asks for it...
    let r2 = t.add_client();
    t.run_on(r2, "REPLCONF capa eof capa psync2");
    t.run_on(r2, "PSYNC ? -1");
    assert!(wants(&t, r2));
    // ...a partial resync does not (`syncCommand` returns before it).
    t.run("SET k v");
    t.stream();
    let id = t.eng.repl.ids.replid.clone();
    let r3 = t.add_client();
    t.run_on(r3, "REPLCONF capa psync2");
    let reply = t.run_on(r3, &format!("PSYNC {id} 1"));
    assert!(reply.starts_with(b"+CONTINUE"), "{reply:?}");
    assert!(!wants(&t, r3));
}
