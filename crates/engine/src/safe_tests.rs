//! Safe mode on the data nodes without sockets: replies held by `replica-ack-before-reply`
//! and `REPLCONF FREEZE` (see `crate::safe`).

use crate::safe::{substitute, Hold, HoldStatus};
use crate::testing::TestEngine;
use crate::{ClientId, ClientIo};
use bytes::Bytes;
use std::rc::Rc;

const NOREPLICAS: &[u8] = b"-NOREPLICAS Not enough good replicas to write.\r\n";

fn hold_of(t: &mut TestEngine, id: ClientId) -> Option<Hold> {
    t.eng.clients.get_mut(&id).and_then(|c| c.hold.take())
}

/// A master with `n` attached replicas (full syncs done, payloads drained) and
/// `replica-ack-before-reply 1`.
fn master_with_replicas(n: usize) -> (TestEngine, Vec<ClientId>) {
    let mut t = TestEngine::new();
    let reps = t.attach_replicas(n);
    assert_eq!(t.text("CONFIG SET replica-ack-before-reply 1"), "+OK|");
    (t, reps)
}

fn ack(t: &mut TestEngine, r: ClientId, offset: u64) {
    // (The replica's buffer holds the stream fed to it; an ACK adds no reply.)
    t.take_out(r);
    assert!(t.run_on(r, &format!("REPLCONF ACK {offset}")).is_empty());
    // The end of the replica's batch serves the waiting clients.
    t.stream();
}

/// Whether the client's notifier fired (and resets it), as the connection would see it.
fn woken(t: &TestEngine, id: ClientId) -> bool {
    let c = t.eng.clients.get(&id).expect("client");
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    c.io.notify.poll_notified(&mut cx).is_ready()
}

#[test]
fn a_write_reply_is_held_until_the_ack_then_released_unchanged() {
    let (mut t, reps) = master_with_replicas(1);
    let w = t.add_client();
    let now = t.now_ms;
    // A pipelined batch: a read, two writes, a read. Nothing blocks; the writes' replies
    // are recorded as held and the whole output waits at the connection.
    let mut out = run_on_keep(&mut t, w, "GET k");
    out.extend(run_on_keep(&mut t, w, "SET k v"));
    out.extend(run_on_keep(&mut t, w, "INCR n"));
    out.extend(run_on_keep(&mut t, w, "GET k"));
    assert_eq!(out, b"$-1\r\n+OK\r\n:1\r\n$1\r\nv\r\n");
    let hold = hold_of(&mut t, w).expect("held");
    assert_eq!(hold.ranges, vec![(5, 10), (10, 14)]);
    assert_eq!(hold.replicas, 1);
    assert_eq!(hold.deadline_ms, now + 10_000, "min-replicas-max-lag 10 s");
    assert!(t.eng.clients.get(&w).is_some_and(|c| c.blocked.is_none()));
    // The writes are applied and propagated, and the replicas are asked for an ACK at once.
    let bytes = t.stream();
    let cmds = crate::testing::stream_lines(&bytes);
    assert_eq!(cmds.last().map(String::as_str), Some("REPLCONF GETACK *"));
    assert!(cmds.iter().any(|c| c == "SET k v"), "{cmds:?}");
    let getack_len = b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n".len() as u64;
    assert_eq!(hold.target, t.eng.stream.offset() - getack_len);
    assert_eq!(
        t.eng.hold_status(w, &hold, now),
        HoldStatus::Waiting(now + 10_000)
    );
    // An ACK short of the target releases nothing and wakes nobody.
    woken(&t, w);
    ack(&mut t, reps[0], hold.target - 1);
    assert!(!woken(&t, w));
    assert_eq!(
        t.eng.hold_status(w, &hold, now),
        HoldStatus::Waiting(now + 10_000)
    );
    ack(&mut t, reps[0], hold.target);
    assert!(woken(&t, w), "the ACK wakes the connection");
    assert_eq!(t.eng.hold_status(w, &hold, now), HoldStatus::Released);
    assert!(t.eng.repl.waiting.is_empty());
    // (The connection writes the batch's output now.)
    t.take_out(w);
    // Reads are never held; a write whose offset is already acknowledged is not either.
    assert_eq!(t.run_on(w, "GET k"), b"$1\r\nv\r\n");
    assert!(hold_of(&mut t, w).is_none());
    t.stream();
    let end = t.eng.stream.offset();
    ack(&mut t, reps[0], end);
    assert_eq!(t.run_on(w, "SETNX k other"), b":0\r\n");
    assert!(hold_of(&mut t, w).is_none());
}

/// Runs a command without clearing the output before it: returns the bytes it added.
fn run_on_keep(t: &mut TestEngine, id: ClientId, line: &str) -> Vec<u8> {
    let args = redoubt_resp::split_args(line.as_bytes()).expect("test command");
    let mut c = t.eng.take_client(id).expect("client");
    let before = c.out.buf.len();
    t.eng.execute(
        &mut c,
        args.into_iter().map(Bytes::from).collect(),
        t.now_ms,
    );
    let added = c.out.buf[before..].to_vec();
    t.eng.put_client(c);
    added
}

#[test]
fn without_the_acks_the_held_replies_become_noreplicas() {
    let (mut t, _reps) = master_with_replicas(2);
    assert_eq!(t.text("CONFIG SET replica-ack-before-reply 2"), "+OK|");
    assert_eq!(t.text("CONFIG SET min-replicas-max-lag 3"), "+OK|");
    let w = t.add_client();
    // PUBLISH is never held (Sentinel hellos).
    assert_eq!(t.run_on(w, "PUBLISH ch hello"), b":0\r\n");
    assert!(hold_of(&mut t, w).is_none());
    let mut out = run_on_keep(&mut t, w, "INCR n");
    out.extend(run_on_keep(&mut t, w, "GET n"));
    let hold = hold_of(&mut t, w).expect("held");
    t.stream();
    let now = t.now_ms;
    assert_eq!(
        t.eng.hold_status(w, &hold, now + 2_999),
        HoldStatus::Waiting(now + 3_000)
    );
    let status = t.eng.hold_status(w, &hold, now + 3_000);
    assert_eq!(status, HoldStatus::Failed(crate::errors::NOREPLICAS));
    let HoldStatus::Failed(err) = status else {
        unreachable!()
    };
    // The write's reply is replaced, the read's kept.
    assert_eq!(
        substitute(&out, &hold.ranges, err),
        [NOREPLICAS, b"$1\r\n1\r\n"].concat()
    );
    // The write was applied (as after a WAIT that timed out): "unknown" to the client.
    assert_eq!(t.text("GET n"), "$1|1|");
    assert!(t
        .text("INFO errorstats")
        .contains("errorstat_NOREPLICAS:count=1"));
}

#[test]
fn a_transaction_reply_is_held_at_exec() {
    let (mut t, reps) = master_with_replicas(1);
    let w = t.add_client();
    assert_eq!(t.run_on(w, "MULTI"), b"+OK\r\n");
    assert_eq!(t.run_on(w, "SET a 1"), b"+QUEUED\r\n");
    assert_eq!(t.run_on(w, "INCR b"), b"+QUEUED\r\n");
    assert!(hold_of(&mut t, w).is_none(), "queued commands are not held");
    assert_eq!(t.run_on(w, "EXEC"), b"*2\r\n+OK\r\n:1\r\n");
    let hold = hold_of(&mut t, w).expect("EXEC's reply is held");
    assert_eq!(hold.ranges, vec![(0, 13)]);
    t.stream();
    let end = t.eng.stream.offset();
    ack(&mut t, reps[0], end);
    assert_eq!(t.eng.hold_status(w, &hold, t.now_ms), HoldStatus::Released);
}

#[test]
fn a_blocking_command_after_a_held_write_keeps_the_hold_registered() {
    let (mut t, reps) = master_with_replicas(1);
    let w = t.add_client();
    run_on_keep(&mut t, w, "SET k v");
    assert!(run_on_keep(&mut t, w, "BLPOP list 0").is_empty());
    let hold = hold_of(&mut t, w).expect("held");
    assert_eq!(hold.ranges.len(), 1, "BLPOP wrote nothing to hold");
    t.stream();
    let end = t.eng.stream.offset();
    woken(&t, w);
    ack(&mut t, reps[0], end);
    assert!(woken(&t, w));
    assert_eq!(t.eng.hold_status(w, &hold, t.now_ms), HoldStatus::Released);
}

#[test]
fn a_blocked_pop_served_later_is_held_too() {
    let (mut t, reps) = master_with_replicas(1);
    let popper = t.add_client();
    let pusher = t.add_client();
    assert!(t.run_on(popper, "BLPOP list 0").is_empty());
    assert!(hold_of(&mut t, popper).is_none());
    assert_eq!(run_on_keep(&mut t, pusher, "RPUSH list x"), b":1\r\n");
    assert!(hold_of(&mut t, pusher).is_some());
    // The popper was served by the push: its reply is in its buffer, held for the ACK of
    // its LPOP.
    assert_eq!(t.take_out(popper), b"*2\r\n$4\r\nlist\r\n$1\r\nx\r\n");
    let hold = hold_of(&mut t, popper).expect("held");
    assert_eq!(hold.ranges, vec![(0, 21)]);
    let bytes = t.stream();
    assert!(crate::testing::stream_lines(&bytes)
        .iter()
        .any(|c| c == "LPOP list"));
    assert_eq!(
        t.eng.hold_status(popper, &hold, t.now_ms),
        HoldStatus::Waiting(t.now_ms + 10_000)
    );
    ack(&mut t, reps[0], hold.target);
    assert_eq!(
        t.eng.hold_status(popper, &hold, t.now_ms),
        HoldStatus::Released
    );
}

#[test]
fn too_few_replicas_refuse_the_write_before_it_runs() {
    let (mut t, _reps) = master_with_replicas(1);
    assert_eq!(t.text("CONFIG SET replica-ack-before-reply 2"), "+OK|");
    let w = t.add_client();
    assert_eq!(t.run_on(w, "SET k v"), NOREPLICAS);
    assert_eq!(t.text("EXISTS k"), ":0|");
    // Off again: writes are answered at once, as in Redis.
    assert_eq!(t.text("CONFIG SET replica-ack-before-reply 0"), "+OK|");
    assert_eq!(t.run_on(w, "SET k v"), b"+OK\r\n");
    assert!(hold_of(&mut t, w).is_none());
}

#[test]
fn held_replies_fail_when_the_master_becomes_a_replica() {
    let (mut t, _reps) = master_with_replicas(1);
    let w = t.add_client();
    t.run_on(w, "SET k v");
    let hold = hold_of(&mut t, w).expect("held");
    woken(&t, w);
    let now = t.now_ms;
    t.eng.set_master("127.0.0.1".into(), 1, now);
    assert!(woken(&t, w), "the role change wakes the connection");
    assert_eq!(
        t.eng.hold_status(w, &hold, now),
        HoldStatus::Failed(crate::safe::ROLE_CHANGED)
    );
}

#[test]
fn substitute_replaces_exactly_the_ranges() {
    let out = b"+A\r\n+B\r\n+C\r\n";
    assert_eq!(substitute(out, &[], "X"), out.to_vec());
    assert_eq!(
        substitute(out, &[(0, 4), (8, 12)], "ERR x"),
        b"-ERR x\r\n+B\r\n-ERR x\r\n".to_vec()
    );
    // Out-of-range positions never panic.
    assert_eq!(
        substitute(out, &[(10, 99)], "E"),
        b"+A\r\n+B\r\n+C-E\r\n".to_vec()
    );
}

#[test]
fn config_get_all_does_not_show_the_redoubt_directive() {
    let mut t = TestEngine::new();
    assert!(!t.text("CONFIG GET *").contains("replica-ack-before-reply"));
    assert_eq!(
        t.text("CONFIG GET replica-ack-before-reply"),
        "*2|$24|replica-ack-before-reply|$1|0|"
    );
    assert!(!t
        .text("INFO replication")
        .contains("replica_ack_before_reply"));
    assert_eq!(t.text("CONFIG SET replica-ack-before-reply 2"), "+OK|");
    assert!(t
        .text("INFO replication")
        .contains("replica_ack_before_reply:2|"));
}

#[test]
fn freeze_cuts_the_master_link_and_answers_replid_and_applied_offset() {
    let mut t = TestEngine::new();
    assert_eq!(
        t.text("REPLCONF FREEZE 3"),
        "-ERR REPLCONF FREEZE is only valid on a replica|"
    );
    let now = t.now_ms;
    t.eng.set_master("127.0.0.1".into(), 1, now);
    let replid = "a".repeat(40);
    t.eng.adopt_master_history(replid.clone(), 100, 0);
    let io = Rc::new(ClientIo::default());
    let m = t.eng.attach_master_client(io.clone(), "m".into(), now);
    let raw = b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\n1\r\n";
    let mut held = Vec::new();
    let mut c = t.eng.take_client(m).expect("master client");
    let args = vec![
        Bytes::from_static(b"SET"),
        Bytes::from_static(b"x"),
        Bytes::from_static(b"1"),
    ];
    t.eng.apply_from_master(&mut c, args, raw, &mut held, now);
    t.eng.put_client(c);
    let gen = t.eng.repl.generation;
    assert_eq!(
        t.text("REPLCONF FREEZE x"),
        "-ERR REPLCONF FREEZE epoch is not a valid number|"
    );
    let offset = 100 + raw.len();
    assert_eq!(
        t.text("REPLCONF FREEZE 7"),
        format!("*2|$40|{replid}|:{offset}|")
    );
    // The link is cut: the master client is gone, the link task's generation is over, and
    // the link stays down (INFO shows it as any lost link).
    assert!(io.killed.get());
    assert!(!t.eng.clients.contains_key(&m));
    assert!(t.eng.repl.generation > gen);
    assert!(t.eng.is_frozen());
    assert!(t
        .text("INFO replication")
        .contains("master_link_status:down"));
    // Asked again (a retried failover), the same answer.
    assert_eq!(
        t.text("REPLCONF FREEZE 8"),
        format!("*2|$40|{replid}|:{offset}|")
    );
    // REPLICAOF to the same master releases it (not "Already connected").
    assert_eq!(t.text("REPLICAOF 127.0.0.1 1"), "+OK|");
    assert!(!t.eng.is_frozen());
    assert_eq!(
        t.text("REPLICAOF 127.0.0.1 1"),
        "+OK Already connected to specified master|"
    );
    // Promotion releases it too.
    t.run("REPLCONF FREEZE 9");
    assert!(t.eng.is_frozen());
    assert_eq!(t.text("REPLICAOF NO ONE"), "+OK|");
    assert!(!t.eng.is_frozen());
}
