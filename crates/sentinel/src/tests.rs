//! Unit tests on the core with fake time: no sockets, the driver's part played by hand.

use crate::config::Line;
use crate::state::flags;
use crate::{hello, info, Action, LinkKind, Sentinel};
use bytes::Bytes;
use redoubt_resp::{Protocol, ReplyBuf, Value};

const ID_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const ID_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const ID_C: &str = "cccccccccccccccccccccccccccccccccccccccc";

fn load(text: &str, now: i64) -> Result<Sentinel, crate::config::ConfigError> {
    let mut s = Sentinel::new(7, 26379, now);
    let owned: Vec<(Vec<Vec<u8>>, usize, Vec<u8>)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with("sentinel "))
        .map(|(i, l)| {
            let args = l
                .split_whitespace()
                .skip(1)
                .map(|a| a.as_bytes().to_vec())
                .collect();
            (args, i + 1, l.as_bytes().to_vec())
        })
        .collect();
    let lines: Vec<Line<'_>> = owned
        .iter()
        .map(|(a, n, l)| Line {
            args: a,
            line_no: *n,
            line: l,
        })
        .collect();
    s.load_config(&lines, now)?;
    s.ensure_myid();
    Ok(s)
}

fn cmd(s: &mut Sentinel, args: &[&str], now: i64) -> Vec<u8> {
    let argv: Vec<Bytes> = args.iter().map(|a| Bytes::from(a.to_string())).collect();
    let mut out = ReplyBuf::new(Protocol::Resp2);
    s.command(&argv, now, &mut out);
    out.buf.to_vec()
}

fn publishes(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Publish { channel, message } => Some(format!("{channel} {message}")),
            _ => None,
        })
        .collect()
}

/// Plays the driver: answers every command sent on every link like a healthy node would,
/// `info` giving each address's INFO text.
fn serve(s: &mut Sentinel, now: i64, info: &dyn Fn(u16) -> Option<String>) -> Vec<Action> {
    let mut all = Vec::new();
    let mut ports = std::collections::HashMap::new();
    for _ in 0..4 {
        let actions = s.take_actions();
        if actions.is_empty() {
            break;
        }
        for a in &actions {
            match a {
                Action::Connect { link, port, .. } => {
                    ports.insert(*link, *port);
                    if info(*port).is_some() {
                        s.on_connected(*link, "127.0.0.1", now);
                    } else {
                        s.on_disconnect(*link, now);
                    }
                }
                Action::Send { link, argv } => {
                    let Some(port) = ports.get(link).copied().or_else(|| s.port_of(*link)) else {
                        continue;
                    };
                    let Some(text) = info(port) else { continue };
                    if s.link_kind(*link) == Some(LinkKind::PubSub) {
                        continue;
                    }
                    let reply = match argv[0].to_ascii_uppercase().as_slice() {
                        b"PING" => Value::Simple("PONG".into()),
                        b"INFO" => Value::Bulk(Bytes::from(text)),
                        b"PUBLISH" => Value::Int(1),
                        _ => Value::Simple("OK".into()),
                    };
                    s.on_reply(*link, &reply, now);
                }
                _ => {}
            }
        }
        all.extend(actions);
    }
    all
}

const MASTER_INFO: &str = "# Server\r\nrun_id:1111111111111111111111111111111111111111\r\n# Replication\r\nrole:master\r\nconnected_slaves:1\r\nslave0:ip=127.0.0.1,port=7002,state=online,offset=100,lag=0\r\n";
const REPLICA_INFO: &str = "# Server\r\nrun_id:2222222222222222222222222222222222222222\r\n# Replication\r\nrole:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:7001\r\nmaster_link_status:up\r\nslave_repl_offset:100\r\nslave_priority:90\r\nreplica_announced:1\r\n";

fn healthy(port: u16) -> Option<String> {
    match port {
        7001 => Some(MASTER_INFO.to_string()),
        7002 => Some(REPLICA_INFO.to_string()),
        _ => None,
    }
}

#[test]
fn hello_parsing_accepts_eight_fields_only() {
    let h = hello::parse(format!("127.0.0.1,26380,{ID_B},5,mymaster,127.0.0.1,6379,3").as_bytes())
        .expect("valid");
    assert_eq!(h.port, 26380);
    assert_eq!(h.current_epoch, 5);
    assert_eq!(h.master_config_epoch, 3);
    assert_eq!(
        h.format(),
        format!("127.0.0.1,26380,{ID_B},5,mymaster,127.0.0.1,6379,3")
    );
    assert!(hello::parse(b"").is_none());
    assert!(hello::parse(b"a,b,c,d,e,f,g").is_none());
    assert!(hello::parse(b"a,b,c,d,e,f,g,h,i").is_none());
    // Garbage numbers read as C's atoi/strtoull do.
    let h = hello::parse(b"1.2.3.4,xx,id,-1,m,1.2.3.4,12ab,99999999999999999999999").expect("8");
    assert_eq!((h.port, h.master_port), (0, 12));
    assert_eq!(h.current_epoch, u64::MAX);
    assert_eq!(h.master_config_epoch, u64::MAX);
}

#[test]
fn malformed_and_foreign_hellos_change_nothing() {
    let mut s = load("sentinel monitor mymaster 127.0.0.1 7001 2\n", 0).expect("load");
    for bad in [
        &b"nonsense"[..],
        b"127.0.0.1,1,x,1,othermaster,127.0.0.1,7001,0",
        b",,,,,,,",
        b"\xff\xfe,1,2,3,4,5,6,7",
    ] {
        s.process_hello(bad, 10);
    }
    assert!(s.master("mymaster").expect("m").sentinels.is_empty());
    assert_eq!(s.current_epoch, 0);
    assert!(publishes(&s.take_actions()).is_empty());
}

#[test]
fn hello_discovers_sentinel_and_adopts_epoch() {
    let mut s = load("sentinel monitor mymaster 127.0.0.1 7001 2\n", 0).expect("load");
    s.take_actions();
    s.process_hello(
        format!("127.0.0.1,26380,{ID_B},4,mymaster,127.0.0.1,7001,0").as_bytes(),
        5,
    );
    let ev = publishes(&s.take_actions());
    assert_eq!(
        ev,
        vec![
            format!("+sentinel sentinel {ID_B} 127.0.0.1 26380 @ mymaster 127.0.0.1 7001"),
            "+new-epoch 4".to_string(),
        ]
    );
    assert_eq!(s.current_epoch, 4);
    // The same hello again is not news.
    s.process_hello(
        format!("127.0.0.1,26380,{ID_B},4,mymaster,127.0.0.1,7001,0").as_bytes(),
        6,
    );
    assert!(publishes(&s.take_actions()).is_empty());
    // Same run id at a new address: an address switch, not a second Sentinel.
    s.process_hello(
        format!("127.0.0.2,26380,{ID_B},4,mymaster,127.0.0.1,7001,0").as_bytes(),
        7,
    );
    let ev = publishes(&s.take_actions());
    assert_eq!(
        ev,
        vec![format!(
            "+sentinel-address-switch master mymaster 127.0.0.1 7001 ip 127.0.0.2 port 26380 for {ID_B}"
        )]
    );
    assert_eq!(s.master("mymaster").expect("m").sentinels.len(), 1);
}

#[test]
fn newer_config_epoch_in_hello_switches_master() {
    let mut s = load(
        "sentinel monitor mymaster 127.0.0.1 7001 2\nsentinel known-replica mymaster 127.0.0.1 7002\n",
        0,
    )
    .expect("load");
    s.take_actions();
    s.process_hello(
        format!("127.0.0.1,26380,{ID_B},3,mymaster,127.0.0.1,7002,3").as_bytes(),
        5,
    );
    let ev = publishes(&s.take_actions());
    assert!(
        ev.contains(&"+switch-master mymaster 127.0.0.1 7001 127.0.0.1 7002".to_string()),
        "{ev:?}"
    );
    let m = s.master("mymaster").expect("m");
    assert_eq!((m.inst.port, m.config_epoch), (7002, 3));
    let replicas: Vec<i64> = m.replicas.iter().map(|r| r.port).collect();
    assert_eq!(replicas, vec![7001]);
}

#[test]
fn discovers_replicas_and_reports_info() {
    let mut s = load("sentinel monitor mymaster 127.0.0.1 7001 2\nsentinel down-after-milliseconds mymaster 1000\n", 0).expect("load");
    s.tick(0);
    let actions = serve(&mut s, 0, &healthy);
    let ev = publishes(&actions);
    assert!(
        ev.contains(
            &"+slave slave 127.0.0.1:7002 127.0.0.1 7002 @ mymaster 127.0.0.1 7001".to_string()
        ),
        "{ev:?}"
    );
    assert!(actions.contains(&Action::FlushConfig));
    // The replica's INFO comes on a later tick.
    s.tick(100);
    serve(&mut s, 100, &healthy);
    let r = s
        .find_replica("mymaster", "127.0.0.1", 7002)
        .expect("replica");
    assert_eq!(r.slave_priority, 90);
    assert_eq!(r.slave_master_port, 7001);
    assert!(r.slave_master_link_up);
    let info = s.info_section(100);
    assert!(
        info.ends_with(
            "master0:name=mymaster,status=ok,address=127.0.0.1:7001,slaves=1,sentinels=1\r\n"
        ),
        "{info}"
    );
    assert_eq!(
        cmd(
            &mut s,
            &["SENTINEL", "get-master-addr-by-name", "mymaster"],
            100
        ),
        b"*2\r\n$9\r\n127.0.0.1\r\n$4\r\n7001\r\n"
    );
    assert_eq!(
        cmd(
            &mut s,
            &["SENTINEL", "get-master-addr-by-name", "nope"],
            100
        ),
        b"*-1\r\n"
    );
}

#[test]
fn sdown_after_down_after_period_and_back() {
    let mut s = load("sentinel monitor mymaster 127.0.0.1 7001 2\nsentinel down-after-milliseconds mymaster 1000\n", 0).expect("load");
    let up = std::cell::Cell::new(true);
    let nodes = |p: u16| {
        if p == 7002 && !up.get() {
            None
        } else {
            healthy(p)
        }
    };
    let mut t = 0;
    while t <= 3000 {
        s.tick(t);
        serve(&mut s, t, &nodes);
        t += 100;
    }
    assert!(s.find_replica("mymaster", "127.0.0.1", 7002).is_some());
    // The replica stops answering: its link is closed by the peer, pings go unanswered.
    up.set(false);
    let r = s.find_replica("mymaster", "127.0.0.1", 7002).expect("r");
    let ids: Vec<_> = [r.link.cmd, r.link.pubsub].into_iter().flatten().collect();
    for id in ids {
        s.on_disconnect(id, t);
    }
    let down_at = t;
    let mut sdown_seen = None;
    while t <= down_at + 3000 {
        s.tick(t);
        let ev = publishes(&serve(&mut s, t, &nodes));
        if ev
            .iter()
            .any(|e| e == "+sdown slave 127.0.0.1:7002 127.0.0.1 7002 @ mymaster 127.0.0.1 7001")
        {
            sdown_seen = Some(t);
        }
        t += 100;
    }
    let at = sdown_seen.expect("+sdown slave");
    // Not before down-after-milliseconds, and within a tick or two after it.
    assert!(
        at - down_at > 1000 - 100 && at - down_at <= 1300,
        "sdown after {}ms",
        at - down_at
    );
    let r = s.find_replica("mymaster", "127.0.0.1", 7002).expect("r");
    assert!(r.has(flags::S_DOWN));
    up.set(true);
    let mut back = false;
    for _ in 0..30 {
        s.tick(t);
        back |= publishes(&serve(&mut s, t, &nodes))
            .iter()
            .any(|e| e == "-sdown slave 127.0.0.1:7002 127.0.0.1 7002 @ mymaster 127.0.0.1 7001");
        t += 100;
    }
    assert!(back, "-sdown after the replica came back");
    // The master was never down.
    assert!(!s.master("mymaster").expect("m").inst.has(flags::S_DOWN));
}

#[test]
fn odown_needs_quorum_of_master_down_replies() {
    let mut s = load(&format!(
        "sentinel monitor mymaster 127.0.0.1 7001 2\nsentinel down-after-milliseconds mymaster 1000\nsentinel known-sentinel mymaster 127.0.0.1 26380 {ID_B}\nsentinel known-sentinel mymaster 127.0.0.1 26381 {ID_C}\n"
    ), 0).expect("load");
    // Nobody answers: the master is down from here; the Sentinels' links connect fine and
    // answer IS-MASTER-DOWN-BY-ADDR with `agree`.
    let run = |s: &mut Sentinel, from: i64, to: i64, agree: i64| {
        let mut ev = Vec::new();
        let mut asked = 0;
        let mut t = from;
        while t <= to {
            s.tick(t);
            for a in s.take_actions() {
                match &a {
                    Action::Connect { link, port, .. } if *port == 7001 => {
                        s.on_disconnect(*link, t)
                    }
                    Action::Connect { link, .. } => s.on_connected(*link, "127.0.0.1", t),
                    Action::Send { link, argv }
                        if argv.len() == 6 && argv[1] == b"is-master-down-by-addr" =>
                    {
                        asked += 1;
                        let reply = Value::Array(vec![
                            Value::Int(agree),
                            Value::Bulk(Bytes::from_static(b"*")),
                            Value::Int(0),
                        ]);
                        s.on_reply(*link, &reply, t);
                    }
                    Action::Send { link, argv } if argv[0] == b"PING" => {
                        s.on_reply(*link, &Value::Simple("PONG".into()), t)
                    }
                    Action::Send { link, .. } => s.on_reply(*link, &Value::Simple("OK".into()), t),
                    Action::Publish { channel, message } => ev.push(format!("{channel} {message}")),
                    _ => {}
                }
            }
            t += 100;
        }
        (ev, asked)
    };
    let (ev, asked) = run(&mut s, 0, 2500, 0);
    assert!(
        ev.contains(&"+sdown master mymaster 127.0.0.1 7001".to_string()),
        "{ev:?}"
    );
    assert!(
        !ev.iter().any(|e| e.starts_with("+odown")),
        "no odown without votes: {ev:?}"
    );
    assert!(asked > 0, "asked the other Sentinels");
    // The other Sentinels agree: 3/2.
    let (ev, _) = run(&mut s, 2600, 4000, 1);
    assert!(
        ev.contains(&"+odown master mymaster 127.0.0.1 7001 #quorum 3/2".to_string()),
        "{ev:?}"
    );
    let t = 4000;
    assert!(s.info_section(t).contains("status=odown"));
}

#[test]
fn votes_once_per_epoch() {
    let mut s = load("sentinel monitor mymaster 127.0.0.1 7001 2\n", 0).expect("load");
    s.take_actions();
    let r = cmd(
        &mut s,
        &[
            "SENTINEL",
            "is-master-down-by-addr",
            "127.0.0.1",
            "7001",
            "3",
            ID_B,
        ],
        10,
    );
    assert_eq!(r, format!("*3\r\n:0\r\n$40\r\n{ID_B}\r\n:3\r\n").as_bytes());
    let acts = s.take_actions();
    assert_eq!(
        publishes(&acts),
        vec![
            "+new-epoch 3".to_string(),
            format!("+vote-for-leader {ID_B} 3")
        ]
    );
    assert!(acts.iter().filter(|a| **a == Action::FlushConfig).count() >= 1);
    // Another candidate in the same epoch gets the first vote back.
    let r = cmd(
        &mut s,
        &[
            "SENTINEL",
            "is-master-down-by-addr",
            "127.0.0.1",
            "7001",
            "3",
            ID_C,
        ],
        11,
    );
    assert_eq!(r, format!("*3\r\n:0\r\n$40\r\n{ID_B}\r\n:3\r\n").as_bytes());
    assert_eq!(s.current_epoch, 3);
    // An old epoch never lowers ours.
    cmd(
        &mut s,
        &[
            "SENTINEL",
            "is-master-down-by-addr",
            "127.0.0.1",
            "7001",
            "1",
            ID_C,
        ],
        12,
    );
    assert_eq!(s.current_epoch, 3);
    assert_eq!(
        cmd(
            &mut s,
            &[
                "SENTINEL",
                "is-master-down-by-addr",
                "127.0.0.1",
                "x",
                "1",
                "*"
            ],
            12
        ),
        b"-ERR value is not an integer or out of range\r\n"
    );
}

#[test]
fn config_errors_match_redis() {
    let e = load("sentinel monitor m 127.0.0.1 6379 0\n", 0)
        .err()
        .expect("err");
    assert_eq!(e.msg, "Quorum must be 1 or greater.");
    assert_eq!(e.to_string(), "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line 1\n>>> 'sentinel monitor m 127.0.0.1 6379 0'\nQuorum must be 1 or greater.\n");
    let cases = [
        ("sentinel down-after-milliseconds nope 10\n", "No such master with specified name."),
        ("sentinel monitor m 127.0.0.1 6379 2\nsentinel monitor m 127.0.0.1 6380 2\n", "Duplicate master name."),
        ("sentinel monitor m 127.0.0.1 70000 2\n", "Invalid port number."),
        ("sentinel monitor m not-an-ip 6379 2\n", "Can't resolve instance hostname."),
        ("sentinel myid abc\n", "Malformed Sentinel id in myid option."),
        ("sentinel bogus\n", "Unrecognized sentinel configuration statement."),
        ("sentinel monitor m 127.0.0.1 6379 2\nsentinel down-after-milliseconds m 0\n", "negative or zero time parameter."),
        ("sentinel deny-scripts-reconfig maybe\n", "Please specify yes or no for the deny-scripts-reconfig options."),
        ("sentinel monitor m 127.0.0.1 6379 2\nsentinel known-replica m 127.0.0.1 7\nsentinel known-replica m 127.0.0.1 7\n", "Duplicate hostname and port for replica."),
        ("sentinel monitor m 127.0.0.1 6379 2\nsentinel notification-script m /nonexistent/x\n", "Notification script seems non existing or non executable."),
    ];
    for (text, msg) in cases {
        assert_eq!(load(text, 0).err().map(|e| e.msg), Some(msg), "{text}");
    }
    // Directives before their monitor line still load (Redis's three passes).
    let s = load("sentinel myid aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nsentinel current-epoch 7\nsentinel monitor m 127.0.0.1 6379 2\n", 0).expect("ok");
    assert_eq!((s.myid.as_str(), s.current_epoch), (ID_A, 7));
}

#[test]
fn config_round_trip_through_rewrite() {
    let text = format!(
        "port 26379\nsentinel myid {ID_A}\nsentinel monitor mymaster 127.0.0.1 7001 2\nsentinel down-after-milliseconds mymaster 1000\nsentinel auth-pass mymaster secret\nsentinel config-epoch mymaster 2\nsentinel leader-epoch mymaster 2\nsentinel known-replica mymaster 127.0.0.1 7002\nsentinel known-replica mymaster 127.0.0.1 7003\nsentinel known-sentinel mymaster 127.0.0.1 26380 {ID_B}\nsentinel current-epoch 2\n"
    );
    let s = load(&text, 0).expect("load");
    let extra = s.rewrite_lines();
    let cfg = redoubt_config::Config::new();
    let opts = redoubt_config::RewriteOptions {
        sentinel_mode: true,
        extra: &extra,
        ..Default::default()
    };
    let out = redoubt_config::rewrite_config_text(text.as_bytes(), &cfg, &opts);
    let out = String::from_utf8(out).expect("utf8");
    let sentinel_lines: Vec<&str> = out.lines().filter(|l| l.starts_with("sentinel")).collect();
    assert_eq!(
        sentinel_lines,
        vec![
            format!("sentinel myid {ID_A}").as_str(),
            "sentinel monitor mymaster 127.0.0.1 7001 2",
            "sentinel down-after-milliseconds mymaster 1000",
            "sentinel auth-pass mymaster secret",
            "sentinel config-epoch mymaster 2",
            "sentinel leader-epoch mymaster 2",
            "sentinel known-replica mymaster 127.0.0.1 7002",
            "sentinel known-replica mymaster 127.0.0.1 7003",
            format!("sentinel known-sentinel mymaster 127.0.0.1 26380 {ID_B}").as_str(),
            "sentinel current-epoch 2",
        ]
    );
    // Rewriting again changes nothing once Redis's trailing blank line (it splits the old
    // text on "\n", so a final newline reads as one more, empty, line) is there; loading the
    // result gives the same state.
    let again = redoubt_config::rewrite_config_text(out.as_bytes(), &cfg, &opts);
    let third = redoubt_config::rewrite_config_text(&again, &cfg, &opts);
    assert_eq!(String::from_utf8_lossy(&again), format!("{out}\n"));
    assert_eq!(third, again);
    let s2 = load(&out, 0).expect("reload");
    assert_eq!(s2.rewrite_lines(), extra);
}

#[test]
fn info_parsing_reads_what_sentinel_needs() {
    let f = info::parse(REPLICA_INFO);
    assert_eq!(f.role, Some(crate::state::Role::Replica));
    assert_eq!(f.master_port, Some(7001));
    assert_eq!(f.slave_priority, Some(90));
    let f = info::parse("role:master\r\nslave0:ip=10.0.0.1,port=6380,state=online\r\nslave1:10.0.0.2,6381,online\r\nslave2:garbage\r\n");
    assert_eq!(
        f.replicas,
        vec![
            ("10.0.0.1".to_string(), 6380),
            ("10.0.0.2".to_string(), 6381)
        ]
    );
}

#[test]
fn sentinel_set_applies_in_order_and_reports_errors() {
    let mut s = load("sentinel monitor mymaster 127.0.0.1 7001 2\n", 0).expect("load");
    s.take_actions();
    assert_eq!(
        cmd(
            &mut s,
            &[
                "SENTINEL",
                "SET",
                "mymaster",
                "quorum",
                "3",
                "down-after-milliseconds",
                "x"
            ],
            0
        ),
        b"-ERR Invalid argument 'x' for SENTINEL SET 'down-after-milliseconds'\r\n"
    );
    assert_eq!(s.master("mymaster").expect("m").quorum, 3);
    let acts = s.take_actions();
    assert_eq!(
        publishes(&acts),
        vec!["+set master mymaster 127.0.0.1 7001 quorum 3".to_string()]
    );
    assert!(acts.contains(&Action::FlushConfig));
    assert_eq!(
        cmd(&mut s, &["SENTINEL", "SET", "nope", "quorum", "3"], 0),
        b"-ERR No such master with that name\r\n"
    );
    assert_eq!(
        cmd(&mut s, &["SENTINEL", "SET", "mymaster", "bogus", "3"], 0),
        b"-ERR Unknown option or number of arguments for SENTINEL SET 'bogus'\r\n"
    );
    assert_eq!(cmd(&mut s, &["SENTINEL", "CKQUORUM", "mymaster"], 0), b"-NOQUORUM 1 usable Sentinels. Not enough available Sentinels to reach the specified quorum for this master\r\n");
}

/// A tiny fake world for one Sentinel: data nodes answer PING/INFO/SLAVEOF as Redis would,
/// the other Sentinels answer IS-MASTER-DOWN-BY-ADDR voting for whoever asks first.
struct World {
    /// port -> (up, replica of (port), priority, offset)
    nodes: std::collections::HashMap<u16, (bool, Option<u16>, i64, u64)>,
    ports: std::collections::HashMap<crate::LinkId, u16>,
    events: Vec<String>,
    in_multi: std::collections::HashMap<crate::LinkId, Vec<Vec<Vec<u8>>>>,
    /// Every command a data node received: (port, words joined by spaces).
    sent: Vec<(u16, String)>,
    /// Commands a down node received without answering (they wait on a stopped process).
    held: Vec<(u16, String)>,
    /// Down nodes that still accept connections (a stopped process: the kernel accepts).
    stopped: Vec<u16>,
    /// Safe mode: the nodes' `replica-ack-before-reply` (0: the INFO line is absent), whether
    /// they know REPLCONF FREEZE (Redoubt) or not (Redis), the nodes frozen, each node's
    /// replication id (default `r` * 40), and the log.
    safe: SafeWorld,
}

#[derive(Default)]
struct SafeWorld {
    acks: i64,
    redoubt_nodes: bool,
    frozen: Vec<u16>,
    replids: std::collections::HashMap<u16, String>,
    logs: Vec<String>,
}

impl World {
    fn info(&self, port: u16) -> String {
        let (_, of, prio, off) = self.nodes[&port];
        let runid = format!("{port:0>40}");
        match of {
            None => {
                let mut s =
                    format!("run_id:{runid}\r\nrole:master\r\nmaster_repl_offset:{off}\r\n");
                s.push_str(&format!("master_replid:{}\r\n", self.replid(port)));
                if self.safe.acks > 0 {
                    s.push_str(&format!("replica_ack_before_reply:{}\r\n", self.safe.acks));
                }
                let mut replicas: Vec<_> = self
                    .nodes
                    .iter()
                    .filter(|(_, n)| n.1 == Some(port))
                    .collect();
                replicas.sort_by_key(|(p, _)| **p);
                for (i, (p, _)) in replicas.into_iter().enumerate() {
                    s.push_str(&format!(
                        "slave{i}:ip=127.0.0.1,port={p},state=online,offset=1,lag=0\r\n"
                    ));
                }
                s
            }
            Some(m) => {
                let up = self.nodes.get(&m).is_some_and(|n| n.0);
                format!(
                    "run_id:{runid}\r\nrole:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:{m}\r\nmaster_link_status:{}\r\nslave_repl_offset:{off}\r\nslave_priority:{prio}\r\n",
                    if up { "up" } else { "down" }
                )
            }
        }
    }

    fn replid(&self, port: u16) -> String {
        self.safe
            .replids
            .get(&port)
            .cloned()
            .unwrap_or_else(|| "r".repeat(40))
    }

    fn step(&mut self, s: &mut Sentinel, now: i64) {
        s.tick(now);
        for _ in 0..6 {
            let actions = s.take_actions();
            if actions.is_empty() {
                break;
            }
            for a in actions {
                match a {
                    Action::Connect { link, port, .. } => {
                        self.ports.insert(link, port);
                        let up = port >= 26000
                            || self.nodes.get(&port).is_some_and(|n| n.0)
                            || self.stopped.contains(&port);
                        if up {
                            s.on_connected(link, "127.0.0.1", now);
                        } else {
                            s.on_disconnect(link, now);
                        }
                    }
                    Action::Send { link, argv } => self.answer(s, link, &argv, now),
                    Action::Publish { channel, message } => {
                        self.events.push(format!("{channel} {message}"))
                    }
                    Action::Log { line, .. } => self.safe.logs.push(line),
                    _ => {}
                }
            }
        }
    }

    fn answer(&mut self, s: &mut Sentinel, link: crate::LinkId, argv: &[Vec<u8>], now: i64) {
        let Some(&port) = self.ports.get(&link) else {
            return;
        };
        if s.link_kind(link) == Some(LinkKind::PubSub) {
            return;
        }
        let name = String::from_utf8_lossy(&argv[0]).to_ascii_uppercase();
        if port >= 26000 {
            // Another Sentinel: agrees the master is down and votes for the asker.
            let reply = if name == "SENTINEL" {
                let runid = String::from_utf8_lossy(&argv[5]).into_owned();
                let epoch: i64 = String::from_utf8_lossy(&argv[4]).parse().unwrap_or(0);
                if runid == "*" {
                    Value::Array(vec![
                        Value::Int(1),
                        Value::Bulk(Bytes::from_static(b"*")),
                        Value::Int(0),
                    ])
                } else {
                    Value::Array(vec![
                        Value::Int(1),
                        Value::Bulk(Bytes::from(runid)),
                        Value::Int(epoch),
                    ])
                }
            } else if name == "PING" {
                Value::Simple("PONG".into())
            } else {
                Value::Int(1)
            };
            s.on_reply(link, &reply, now);
            return;
        }
        let words: Vec<String> = argv
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if !self.nodes.get(&port).is_some_and(|n| n.0) {
            // A stopped node (SIGSTOP) keeps its connections: what it would run on return.
            self.held.push((port, words.join(" ")));
            return;
        }
        self.sent.push((port, words.join(" ")));
        if let Some(q) = self.in_multi.get_mut(&link) {
            if name == "EXEC" {
                let q = self.in_multi.remove(&link).unwrap_or_default();
                for c in &q {
                    if String::from_utf8_lossy(&c[0]).eq_ignore_ascii_case("SLAVEOF") {
                        let node = self.nodes.get_mut(&port).expect("node");
                        node.1 = if c[1] == b"NO" {
                            None
                        } else {
                            String::from_utf8_lossy(&c[2]).parse().ok()
                        };
                    }
                }
                s.on_reply(link, &Value::Array(vec![]), now);
            } else {
                q.push(argv.to_vec());
                s.on_reply(link, &Value::Simple("QUEUED".into()), now);
            }
            return;
        }
        let reply = match name.as_str() {
            "PING" => Value::Simple("PONG".into()),
            "INFO" => Value::Bulk(Bytes::from(self.info(port))),
            "PUBLISH" => Value::Int(1),
            "REPLCONF"
                if argv
                    .get(1)
                    .is_some_and(|a| a.eq_ignore_ascii_case(b"freeze")) =>
            {
                if self.safe.redoubt_nodes {
                    self.safe.frozen.push(port);
                    let off = self.nodes[&port].3;
                    Value::Array(vec![
                        Value::Bulk(Bytes::from(self.replid(port))),
                        Value::Int(off as i64),
                    ])
                } else {
                    Value::Error("ERR Unrecognized REPLCONF option: FREEZE".into())
                }
            }
            "MULTI" => {
                self.in_multi.insert(link, Vec::new());
                Value::Simple("OK".into())
            }
            _ => Value::Simple("OK".into()),
        };
        s.on_reply(link, &reply, now);
    }
}

#[test]
fn failover_promotes_the_best_replica_and_reconfigures_the_rest() {
    let mut s = load(&format!(
        "sentinel monitor mymaster 127.0.0.1 7001 2\nsentinel down-after-milliseconds mymaster 1000\nsentinel known-sentinel mymaster 127.0.0.1 26380 {ID_B}\nsentinel known-sentinel mymaster 127.0.0.1 26381 {ID_C}\n"
    ), 1_000_000).expect("load");
    let mut w = World {
        nodes: [
            (7001, (true, None, 100, 0)),
            (7002, (true, Some(7001), 100, 500)),
            (7003, (true, Some(7001), 90, 100)),
            (7004, (true, Some(7001), 0, 900)),
        ]
        .into_iter()
        .collect(),
        ports: Default::default(),
        events: Vec::new(),
        in_multi: Default::default(),
        sent: Vec::new(),
        held: Vec::new(),
        stopped: Vec::new(),
        safe: SafeWorld::default(),
    };
    let mut t = 1_000_000;
    for _ in 0..30 {
        w.step(&mut s, t);
        t += 100;
    }
    assert!(
        s.info_section(t).contains("slaves=3,sentinels=3"),
        "{}",
        s.info_section(t)
    );
    // The master dies.
    w.nodes.get_mut(&7001).expect("m").0 = false;
    for (link, port) in w.ports.clone() {
        if port == 7001 {
            s.on_disconnect(link, t);
        }
    }
    for _ in 0..150 {
        w.step(&mut s, t);
        t += 100;
    }
    let ev: Vec<&str> = w.events.iter().map(String::as_str).collect();
    let pos = |e: &str| {
        ev.iter()
            .position(|x| x.starts_with(e))
            .unwrap_or_else(|| panic!("no {e} in {ev:#?}"))
    };
    let order = [
        "+sdown master mymaster 127.0.0.1 7001",
        "+odown master mymaster 127.0.0.1 7001 #quorum 3/2",
        "+try-failover master mymaster 127.0.0.1 7001",
        "+elected-leader master mymaster 127.0.0.1 7001",
        "+selected-slave slave 127.0.0.1:7003 127.0.0.1 7003 @ mymaster 127.0.0.1 7001",
        "+promoted-slave slave 127.0.0.1:7003",
        "+failover-state-reconf-slaves master mymaster",
        "+slave-reconf-sent slave 127.0.0.1:7002",
        "+slave-reconf-done slave 127.0.0.1:7002",
        "+failover-end master mymaster 127.0.0.1 7001",
        "+switch-master mymaster 127.0.0.1 7001 127.0.0.1 7003",
    ];
    let positions: Vec<usize> = order.iter().map(|e| pos(e)).collect();
    assert!(
        positions.windows(2).all(|p| p[0] < p[1]),
        "out of order: {positions:?} {ev:#?}"
    );
    // Priority 90 beat the bigger offset; priority 0 is never promoted; both replicas now
    // follow the new master.
    assert_eq!(w.nodes[&7003].1, None);
    assert_eq!(w.nodes[&7002].1, Some(7003));
    assert_eq!(w.nodes[&7004].1, Some(7003));
    assert_eq!(
        cmd(
            &mut s,
            &["SENTINEL", "get-master-addr-by-name", "mymaster"],
            t
        ),
        b"*2\r\n$9\r\n127.0.0.1\r\n$4\r\n7003\r\n"
    );
    assert_eq!(s.current_epoch, 1);
    assert_eq!(s.master("mymaster").expect("m").config_epoch, 1);
    // The old master is remembered as a replica, to convert when it returns.
    assert!(s.find_replica("mymaster", "127.0.0.1", 7001).is_some());
    // It comes back still claiming to be a master: converted after a while.
    w.nodes.get_mut(&7001).expect("m").0 = true;
    for _ in 0..200 {
        w.step(&mut s, t);
        t += 100;
    }
    assert!(
        w.events.iter().any(|e| e
            == "+convert-to-slave slave 127.0.0.1:7001 127.0.0.1 7001 @ mymaster 127.0.0.1 7003"),
        "{:#?}",
        w.events
    );
    assert_eq!(w.nodes[&7001].1, Some(7003));
}

#[test]
fn failover_command_errors() {
    let mut s = load("sentinel monitor mymaster 127.0.0.1 7001 2\n", 0).expect("load");
    assert_eq!(
        cmd(&mut s, &["SENTINEL", "FAILOVER", "nope"], 0),
        b"-ERR No such master with that name\r\n"
    );
    assert_eq!(
        cmd(&mut s, &["SENTINEL", "FAILOVER", "mymaster"], 0),
        b"-NOGOODSLAVE No suitable replica to promote\r\n"
    );
}

#[test]
fn notification_script_runs_on_warnings_and_retries_exit_1() {
    let mut s = load(
        "sentinel monitor mymaster 127.0.0.1 7001 2\nsentinel down-after-milliseconds mymaster 1000\nsentinel notification-script mymaster /bin/sh\n",
        1_000_000,
    )
    .expect("load");
    let mut t = 1_000_000;
    let mut runs = Vec::new();
    // Nothing answers: +sdown master is a warning, so the script is queued and started.
    for _ in 0..20 {
        s.tick(t);
        for a in s.take_actions() {
            match a {
                Action::Connect { link, .. } => s.on_disconnect(link, t),
                Action::RunScript { id, argv } => runs.push((id, argv)),
                _ => {}
            }
        }
        t += 100;
    }
    let (id, argv) = runs
        .iter()
        .find(|(_, a)| a[1] == "+sdown")
        .cloned()
        .expect("script for +sdown");
    assert_eq!(
        argv,
        vec!["/bin/sh", "+sdown", "master mymaster 127.0.0.1 7001"]
    );
    s.on_script_started(id, 4242);
    let pending = cmd(&mut s, &["SENTINEL", "PENDING-SCRIPTS"], t);
    let text = String::from_utf8_lossy(&pending);
    assert!(
        text.starts_with("*1\r\n*10\r\n$4\r\nargv\r\n*3\r\n$7\r\n/bin/sh\r\n$6\r\n+sdown\r\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "$5\r\nflags\r\n$7\r\nrunning\r\n$3\r\npid\r\n$4\r\n4242\r\n$8\r\nrun-time\r\n"
        ),
        "{text}"
    );
    assert!(s
        .info_section(t)
        .contains("sentinel_running_scripts:1\r\nsentinel_scripts_queue_length:1\r\n"));
    // Exit code 1: retried after script-retry-delay (30 s), not before.
    s.on_script_exit(id, 1, 0, t);
    assert_eq!(s.running_scripts(), 0);
    let text =
        String::from_utf8_lossy(&cmd(&mut s, &["SENTINEL", "PENDING-SCRIPTS"], t)).into_owned();
    assert!(text.contains("$9\r\nscheduled\r\n$3\r\npid\r\n$1\r\n0\r\n$9\r\nrun-delay\r\n$5\r\n30000\r\n$9\r\nretry-num\r\n$1\r\n1\r\n"), "{text}");
    let rerun = |s: &mut Sentinel, t: i64| {
        s.tick(t);
        s.take_actions()
            .iter()
            .any(|a| matches!(a, Action::RunScript { id: i, .. } if *i == id))
    };
    assert!(!rerun(&mut s, t + 29_000));
    assert!(rerun(&mut s, t + 30_100));
    // Exit code 2: given up, with -script-error.
    s.on_script_exit(id, 2, 0, t + 31_000);
    let ev = publishes(&s.take_actions());
    assert!(
        ev.contains(&"-script-error /bin/sh 0 2".to_string()),
        "{ev:?}"
    );
    assert!(s.scripts.iter().all(|j| j.id != id));
}

#[test]
fn absurd_values_from_peers_and_clients_do_not_crash() {
    let mut s = load(&format!(
        "sentinel monitor mymaster 127.0.0.1 7001 1\nsentinel known-sentinel mymaster 127.0.0.1 26380 {ID_B}\nsentinel known-replica mymaster 127.0.0.1 7002\n"
    ), 1_000_000).expect("load");
    let max = i64::MAX.to_string();
    for opt in [
        "down-after-milliseconds",
        "failover-timeout",
        "parallel-syncs",
        "quorum",
        "master-reboot-down-after-period",
    ] {
        assert_eq!(
            cmd(
                &mut s,
                &["SENTINEL", "SET", "mymaster", opt, &max],
                1_000_000
            ),
            b"+OK\r\n",
            "{opt}"
        );
    }
    for opt in [
        "info-period",
        "ping-period",
        "ask-period",
        "publish-period",
        "tilt-period",
        "election-timeout",
    ] {
        assert_eq!(
            cmd(&mut s, &["SENTINEL", "DEBUG", opt, &max], 1_000_000),
            b"+OK\r\n",
            "{opt}"
        );
    }
    // A peer claims the largest epoch there is.
    s.process_hello(format!("127.0.0.1,26380,{ID_B},18446744073709551615,mymaster,127.0.0.1,7001,18446744073709551615").as_bytes(), 1_000_000);
    assert_eq!(s.current_epoch, u64::MAX);
    let mut t = 1_000_000;
    for _ in 0..50 {
        s.tick(t);
        for a in s.take_actions() {
            if let Action::Connect { link, .. } = a {
                s.on_disconnect(link, t);
            }
        }
        t += 100;
    }
    // A forced failover at the top epoch stays there.
    s.masters[0].inst.flags |= flags::O_DOWN;
    s.start_failover(0, t);
    assert_eq!(s.current_epoch, u64::MAX);
    s.tick(t + 100);
    let _ = cmd(&mut s, &["SENTINEL", "MASTER", "mymaster"], t + 200);
    let _ = cmd(
        &mut s,
        &[
            "SENTINEL",
            "IS-MASTER-DOWN-BY-ADDR",
            "127.0.0.1",
            "7001",
            "-1",
            ID_C,
        ],
        t + 200,
    );
    let _ = cmd(
        &mut s,
        &[
            "SENTINEL",
            "IS-MASTER-DOWN-BY-ADDR",
            "127.0.0.1",
            "7001",
            &max,
            ID_C,
        ],
        t + 200,
    );
    // Garbage replies on every kind of link are ignored.
    for link in 1..20 {
        for v in [
            Value::Nil,
            Value::Int(-1),
            Value::Array(vec![Value::Int(1)]),
            Value::Array(vec![Value::Int(1), Value::Int(2), Value::Int(3)]),
            Value::Array(vec![
                Value::Bulk(Bytes::from_static(b"message")),
                Value::Nil,
                Value::Nil,
            ]),
            Value::Error("BUSY".into()),
            Value::Bulk(Bytes::from_static(
                b"role:slave\r\nmaster_port:x\r\nslave0:\r\nrun_id:short\r\n",
            )),
        ] {
            s.on_reply(link, &v, t);
            s.on_message(link, &v, t);
        }
    }
}

#[path = "tests_redoubt.rs"]
mod redoubt;

#[path = "tests_safe.rs"]
mod safe;
