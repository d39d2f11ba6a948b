//! Blocking list commands, checked byte for byte against redis-server 7.0.15 (replies) and
//! its AOF (effects: a served blocking pop is recorded as the pop that happened).

use crate::testing::TestEngine;
use crate::{ClientId, ClientIo, ClientKind};
use bytes::Bytes;
use std::rc::Rc;

fn other(t: &mut TestEngine) -> ClientId {
    t.eng
        .add_client(ClientKind::Normal, Rc::new(ClientIo::default()), t.now_ms)
}

fn run_as(t: &mut TestEngine, id: ClientId, line: &str) {
    let args = redoubt_resp::split_args(line.as_bytes()).expect("balanced");
    let mut c = t.eng.take_client(id).expect("client");
    t.eng.execute(
        &mut c,
        args.into_iter().map(Bytes::from).collect(),
        t.now_ms,
    );
    t.eng.put_client(c);
}

fn take_out(t: &mut TestEngine, id: ClientId) -> String {
    let c = t.eng.clients.get_mut(&id).expect("client");
    String::from_utf8_lossy(&c.out.buf.split()).replace("\r\n", "|")
}

#[test]
fn served_at_once_propagates_the_plain_pop() {
    let mut t = TestEngine::new();
    t.run("RPUSH l a b c d e f");
    t.stream();
    assert_eq!(t.text("BLPOP none l 0"), "*2|$1|l|$1|a|");
    assert_eq!(t.text("BRPOP l 1.5"), "*2|$1|l|$1|f|");
    assert_eq!(t.text("BLMOVE l m left right 0"), "$1|b|");
    assert_eq!(t.text("BRPOPLPUSH l m 0"), "$1|e|");
    assert_eq!(
        t.text("BLMPOP 0 2 none l RIGHT COUNT 5"),
        "*2|$1|l|*2|$1|d|$1|c|"
    );
    assert_eq!(
        t.stream_cmds(),
        "LPOP l\nRPOP l\nLMOVE l m left right\nRPOPLPUSH l m\nRPOP l 2"
    );
}

#[test]
fn timeout_errors() {
    let mut t = TestEngine::new();
    for (arg, err) in [
        ("abc", "not a float or out of range"),
        ("nan", "not a float or out of range"),
        ("' 1'", "not a float or out of range"),
        ("-1", "negative"),
        ("inf", "negative"),
        ("1e20", "negative"),
    ] {
        assert_eq!(
            t.text(&format!("BLPOP k {arg}")),
            format!("-ERR timeout is {err}|")
        );
    }
    assert_eq!(t.text("BLMOVE a b UP LEFT abc"), "-ERR syntax error|");
    assert_eq!(
        t.text("BLMPOP abc 0 a LEFT"),
        "-ERR numkeys should be greater than 0|"
    );
    assert_eq!(t.text("BLMPOP abc 1 a UP"), "-ERR syntax error|");
    assert_eq!(
        t.text("BLMPOP abc 1 a LEFT"),
        "-ERR timeout is not a float or out of range|"
    );
    assert!(t.eng.blocking.waiting.is_empty());
}

#[test]
fn multi_answers_null_instead_of_blocking() {
    let mut t = TestEngine::new();
    t.run("MULTI");
    t.run("BLPOP none 0");
    t.run("BLMOVE none x LEFT LEFT 0");
    t.run("BLMPOP 0 1 none LEFT");
    assert_eq!(t.text("EXEC"), "*3|*-1|$-1|*-1|");
    t.run("HELLO 3");
    t.run("MULTI");
    t.run("BLPOP none 0");
    t.run("BRPOPLPUSH none x 0");
    assert_eq!(t.text("EXEC"), "*2|_|_|");
}

#[test]
fn blocked_clients_are_served_in_order_after_exec() {
    let mut t = TestEngine::new();
    let (a, b) = (other(&mut t), other(&mut t));
    run_as(&mut t, a, "BLPOP q q2 0");
    run_as(&mut t, b, "BRPOP q2 0");
    assert_eq!(take_out(&mut t, a), "");
    assert_eq!(t.eng.blocking.count, 2);
    assert!(t.text("CLIENT LIST").contains(" flags=b "));
    t.run("MULTI");
    t.run("RPUSH q2 x y z");
    t.run("DEL q2");
    t.run("RPUSH q2 v w");
    assert_eq!(take_out(&mut t, a), "");
    assert_eq!(t.text("EXEC"), "*3|:3|:1|:2|");
    assert_eq!(take_out(&mut t, a), "*2|$2|q2|$1|v|");
    assert_eq!(take_out(&mut t, b), "*2|$2|q2|$1|w|");
    assert_eq!(t.eng.blocking.count, 0);
    assert!(t.eng.blocking.waiting.is_empty());
    assert_eq!(
        t.stream_cmds(),
        "SELECT 0\nMULTI\nRPUSH q2 x y z\nDEL q2\nRPUSH q2 v w\nEXEC\nLPOP q2\nRPOP q2"
    );
}

#[test]
fn served_later_blmove_and_blmpop_record_their_effects() {
    let mut t = TestEngine::new();
    let (a, b) = (other(&mut t), other(&mut t));
    run_as(&mut t, a, "BLMOVE src dst RIGHT LEFT 0");
    run_as(&mut t, b, "BLMPOP 0 2 m1 m2 RIGHT COUNT 5");
    t.run("SET m1 string");
    t.run("RPUSH src 1 2");
    t.run("RPUSH m2 1 2 3");
    assert_eq!(take_out(&mut t, a), "$1|2|");
    assert_eq!(take_out(&mut t, b), "*2|$2|m2|*3|$1|3|$1|2|$1|1|");
    assert_eq!(
        t.stream_cmds(),
        "SELECT 0\nSET m1 string\nRPUSH src 1 2\nLMOVE src dst right left\nRPUSH m2 1 2 3\nRPOP m2 3"
    );
}

#[test]
fn timeouts_unblock_and_disconnect() {
    let mut t = TestEngine::new();
    let a = other(&mut t);
    run_as(&mut t, a, "BLMOVE none x LEFT LEFT 0.1");
    t.eng.blocked_timeouts(t.now_ms + 99);
    assert_eq!(take_out(&mut t, a), "");
    t.eng.blocked_timeouts(t.now_ms + 100);
    assert_eq!(take_out(&mut t, a), "*-1|");
    run_as(&mut t, a, "BRPOP none 0");
    t.eng.blocked_timeouts(t.now_ms + 1_000_000);
    assert_eq!(take_out(&mut t, a), "");
    assert_eq!(t.text(&format!("CLIENT UNBLOCK {a} ERROR")), ":1|");
    assert_eq!(
        take_out(&mut t, a),
        "-UNBLOCKED client unblocked via CLIENT UNBLOCK|"
    );
    assert_eq!(t.text(&format!("CLIENT UNBLOCK {a}")), ":0|");
    assert_eq!(
        t.text("CLIENT UNBLOCK 1 foo"),
        "-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR|"
    );
    run_as(&mut t, a, "BLPOP gone 0");
    t.eng.remove_client(a);
    assert_eq!(t.eng.blocking.count, 0);
    assert_eq!(t.text("RPUSH gone v"), ":1|");
    assert_eq!(t.text("LLEN gone"), ":1|");
}

#[test]
fn sorted_set_pops_record_zpop() {
    let mut t = TestEngine::new();
    let a = other(&mut t);
    t.run("ZADD z 1 a 2 b 3 c 4 d");
    t.stream();
    assert_eq!(t.text("BZPOPMIN z 0"), "*3|$1|z|$1|a|$1|1|");
    assert_eq!(t.text("BZPOPMAX none z 0"), "*3|$1|z|$1|d|$1|4|");
    assert_eq!(
        t.text("BZMPOP 0 1 z MIN COUNT 5"),
        "*2|$1|z|*2|*2|$1|b|$1|2|*2|$1|c|$1|3|"
    );
    run_as(&mut t, a, "BZMPOP 0 2 w1 w2 MAX COUNT 5");
    t.run("RPUSH w1 list");
    assert_eq!(take_out(&mut t, a), "");
    t.run("ZADD w2 1 x 2 y");
    assert_eq!(
        take_out(&mut t, a),
        "*2|$2|w2|*2|*2|$1|y|$1|2|*2|$1|x|$1|1|"
    );
    assert_eq!(
        t.stream_cmds(),
        "ZPOPMIN z\nZPOPMAX z\nZPOPMIN z 2\nRPUSH w1 list\nZADD w2 1 x 2 y\nZPOPMAX w2 2"
    );
}

#[test]
fn a_blocked_command_is_counted_once() {
    let mut t = TestEngine::new();
    let a = other(&mut t);
    run_as(&mut t, a, "BLPOP q 0");
    t.run("RPUSH q x");
    run_as(&mut t, a, "BLPOP q 0.5");
    t.eng.blocked_timeouts(t.now_ms + 500);
    let stats = t.text("INFO commandstats");
    assert!(stats.contains("cmdstat_blpop:calls=2,"), "{stats}");
    assert_eq!(t.eng.blocking.count, 0);
}

#[test]
fn a_served_blmove_wakes_clients_blocked_on_its_destination() {
    let mut t = TestEngine::new();
    let (a, b) = (other(&mut t), other(&mut t));
    run_as(&mut t, a, "BLMOVE s d left right 0");
    run_as(&mut t, b, "BLPOP d 0");
    assert_eq!(t.text("RPUSH s 1 2"), ":2|");
    assert_eq!(take_out(&mut t, a), "$1|1|");
    assert_eq!(take_out(&mut t, b), "*2|$1|d|$1|1|");
    assert_eq!(t.text("EXISTS d"), ":0|");
    assert_eq!(
        t.stream_cmds(),
        "SELECT 0\nRPUSH s 1 2\nLMOVE s d left right\nLPOP d"
    );
}

#[test]
fn swapdb_serves_clients_blocked_on_keys_that_now_hold_data() {
    // redis-server 7.0.15: LPUSH b 1 1; (a) BLPOP a 0; SWAPDB 0 1; (b) BLMOVE b a LEFT LEFT 0;
    // SWAPDB 0 1 -> b gets "1", then a gets [a, 1]; its AOF: SWAPDB 0 1, SWAPDB 0 1,
    // LMOVE b a left left, LPOP a (dbSwapDatabases' scanDatabaseForReadyKeys).
    let mut t = TestEngine::new();
    let (a, b) = (other(&mut t), other(&mut t));
    t.run("LPUSH b 1 1");
    run_as(&mut t, a, "BLPOP a 0");
    assert_eq!(t.text("SWAPDB 0 1"), "+OK|");
    run_as(&mut t, b, "BLMOVE b a LEFT LEFT 0");
    assert_eq!(t.eng.blocking.count, 2);
    assert_eq!(t.text("SWAPDB 0 1"), "+OK|");
    assert_eq!(take_out(&mut t, b), "$1|1|");
    assert_eq!(take_out(&mut t, a), "*2|$1|a|$1|1|");
    assert_eq!(t.eng.blocking.count, 0);
    assert_eq!(t.text("LRANGE b 0 -1"), "*1|$1|1|");
    let stream = t.stream_cmds();
    assert_eq!(
        stream,
        "SELECT 0\nLPUSH b 1 1\nSWAPDB 0 1\nSWAPDB 0 1\nLMOVE b a left left\nLPOP a"
    );
}

#[test]
fn served_later_effects_match_redis_aof() {
    // redis-server 7.0.15's AOF for each blocking command served by a later push.
    let cases = [
        ("BRPOPLPUSH s1 d1 0", "RPUSH s1 x y", "RPOPLPUSH s1 d1"),
        (
            "BLMOVE s2 d2 RIGHT LEFT 0",
            "RPUSH s2 x y",
            "LMOVE s2 d2 right left",
        ),
        ("BLMPOP 0 1 s3 RIGHT COUNT 5", "RPUSH s3 x y", "RPOP s3 2"),
        (
            "BZMPOP 0 1 z1 MAX COUNT 5",
            "ZADD z1 1 a 2 b",
            "ZPOPMAX z1 2",
        ),
        ("BZPOPMAX z2 0", "ZADD z2 1 a 2 b", "ZPOPMAX z2"),
        ("BRPOP s4 0", "RPUSH s4 x y", "RPOP s4"),
    ];
    let mut t = TestEngine::new();
    t.run("SELECT 0");
    t.stream();
    for (block, push, effect) in cases {
        let a = other(&mut t);
        run_as(&mut t, a, block);
        t.run(push);
        assert_eq!(t.eng.blocking.count, 0, "{block}");
        let got = t.stream_cmds();
        let want = format!("{push}\n{effect}");
        assert!(got.ends_with(&want), "{block}: {got:?}, want {want:?}");
    }
}
