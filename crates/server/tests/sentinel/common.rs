//! Shared by the Sentinel suites: the story's deployment, timeouts, and the failover check
//! with every event Redis 7.0 publishes, in order.

use std::time::Duration;

use redoubt_harness::deployment::{flavors_from_env, Deployment};
use redoubt_harness::Flavor;

/// Sentinels discover each other through hellos every 2 s and replicas through INFO.
pub const DISCOVERY: Duration = Duration::from_secs(20);
/// `+sdown` comes `down-after-milliseconds` (1.5 s) after the last reply.
pub const SDOWN: Duration = Duration::from_secs(15);
/// A whole failover, with room for one failed election (retried after 2 x failover-timeout).
pub const FAILOVER: Duration = Duration::from_secs(40);
/// A replica's sync and `master_link_status:up`.
pub const REPL: Duration = Duration::from_secs(20);
/// Config rewrites follow the events they record.
pub const REWRITE: Duration = Duration::from_secs(10);
/// Redis converts a returning old master once it has reported the master role for 8 s
/// (4 hello periods), checked at INFO time (every 10 s), so up to about 20 s.
pub const CONVERT: Duration = Duration::from_secs(40);

/// The roles from `REDOUBT_SENTINEL_NODES` and `REDOUBT_SENTINEL_SENTINELS` (real Redis
/// when unset).
pub fn roles_from_env() -> (Vec<Flavor>, Vec<Flavor>) {
    let nodes = flavors_from_env("REDOUBT_SENTINEL_NODES", 3, Flavor::Redis)
        .unwrap_or_else(|e| panic!("{e:#}"));
    let sentinels = flavors_from_env("REDOUBT_SENTINEL_SENTINELS", 3, Flavor::Redis)
        .unwrap_or_else(|e| panic!("{e:#}"));
    (nodes, sentinels)
}

/// The story's deployment with these flavors.
#[track_caller]
pub fn deployment(nodes: &[Flavor], sentinels: &[Flavor]) -> Deployment {
    Deployment::builder()
        .node_flavors(nodes)
        .sentinels(sentinels)
        .start()
        .unwrap_or_else(|e| panic!("starting the deployment: {e:#}"))
}

/// What a completed failover was.
#[derive(Debug)]
pub struct Failover {
    /// The Sentinel that led it.
    pub leader: usize,
    /// The epoch it was elected in.
    pub epoch: u64,
}

/// Waits for the failover of `old` to `new` started after event `mark` and checks every event
/// Redis publishes on the way: on every Sentinel `+sdown`, `+odown ... #quorum n/2` (only
/// those that reached ODOWN themselves before the switch), `+new-epoch`, `+vote-for-leader`
/// and `+switch-master`; on the leader the whole state machine in order, the replicas in
/// `reconf` reconfigured one by one. `down` is false for a manual failover (SENTINEL
/// FAILOVER), where nothing goes down.
#[track_caller]
pub fn check_failover(
    d: &Deployment,
    mark: usize,
    old: &str,
    new: &str,
    reconf: &[&str],
) -> Failover {
    check_failover_with(d, mark, old, new, reconf, true)
}

#[track_caller]
pub fn check_failover_with(
    d: &Deployment,
    mark: usize,
    old: &str,
    new: &str,
    reconf: &[&str],
    down: bool,
) -> Failover {
    let m = &d.master_name;
    let master = format!("master {m} 127.0.0.1 <{old}>");
    let switch = format!("{m} 127.0.0.1 <{old}> 127.0.0.1 <{new}>");
    d.wait_event_all(mark, "+switch-master", &switch, FAILOVER);

    // The leader is the one Sentinel that says it was elected.
    let elected = d.events_since(mark, None, "+elected-leader");
    assert_eq!(elected, vec![master.clone()], "{}", d.event_dump());
    let leader = d
        .wait_event(mark, None, "+elected-leader", &master, Duration::ZERO)
        .sentinel;
    let leader_name = d.sentinels[leader].name.clone();
    // Its epoch: the last +new-epoch it announced before being elected.
    let epochs = d.events_since(mark, Some(leader), "+new-epoch");
    let epoch: u64 = epochs
        .last()
        .and_then(|e| e.parse().ok())
        .unwrap_or_else(|| panic!("no +new-epoch from the leader; events:\n{}", d.event_dump()));

    let q = d.quorum;
    for i in 0..d.sentinels.len() {
        if down {
            d.wait_event(mark, Some(i), "+sdown", &master, Duration::ZERO);
        }
        d.wait_event(
            mark,
            Some(i),
            "+new-epoch",
            &epoch.to_string(),
            Duration::ZERO,
        );
        // A manual failover asks nobody for votes: the others learn the epoch from hellos.
        if down {
            d.wait_event_where(mark, Some(i), "+vote-for-leader", Duration::ZERO, |p| {
                p.ends_with(&format!("> {epoch}"))
            });
        }
        // ODOWN needs `quorum` Sentinels agreeing; a Sentinel that learned of the failover
        // from the winner's hello first never reaches ODOWN itself.
        for od in d.events_since(mark, Some(i), "+odown") {
            let rest = od
                .strip_prefix(&format!("{master} #quorum "))
                .unwrap_or_else(|| panic!("+odown text: {od:?}"));
            let (n, need) = rest.split_once('/').unwrap_or_else(|| panic!("{od:?}"));
            assert_eq!(need, q.to_string(), "{od}");
            let n: u32 = n.parse().unwrap_or_else(|_| panic!("{od:?}"));
            assert!(n >= q && n as usize <= d.sentinels.len(), "{od}");
        }
    }
    if down {
        assert!(
            !d.events_since(mark, Some(leader), "+odown").is_empty(),
            "{}",
            d.event_dump()
        );
    }
    // A majority voted for the leader in its epoch.
    let votes = (0..d.sentinels.len())
        .filter(|&i| {
            d.events_since(mark, Some(i), "+vote-for-leader")
                .contains(&format!("<{leader_name}> {epoch}"))
        })
        .count();
    let needed = if down { d.sentinels.len() / 2 + 1 } else { 1 };
    assert!(
        votes >= needed,
        "{votes} votes; events:\n{}",
        d.event_dump()
    );

    // The leader's state machine, in order, each event exactly as Redis words it.
    let slave = |n: &str| format!("slave 127.0.0.1:<{n}> 127.0.0.1 <{n}> @ {m} 127.0.0.1 <{old}>");
    let mut seq: Vec<(String, String)> = Vec::new();
    let mut push = |c: &str, p: String| seq.push((c.to_string(), p));
    if down {
        push("+odown", String::new());
    }
    push("+new-epoch", epoch.to_string());
    push("+try-failover", master.clone());
    push("+vote-for-leader", format!("<{leader_name}> {epoch}"));
    push("+elected-leader", master.clone());
    push("+failover-state-select-slave", master.clone());
    push("+selected-slave", slave(new));
    push("+failover-state-send-slaveof-noone", slave(new));
    push("+failover-state-wait-promotion", slave(new));
    push("+promoted-slave", slave(new));
    push("+failover-state-reconf-slaves", master.clone());
    for r in reconf {
        push("+slave-reconf-sent", slave(r));
        push("+slave-reconf-inprog", slave(r));
        push("+slave-reconf-done", slave(r));
    }
    push("+failover-end", master.clone());
    push("+switch-master", switch.clone());
    let got: Vec<(String, String)> = d
        .events()
        .all()
        .iter()
        .skip(mark)
        .filter(|e| e.sentinel == leader)
        .map(|e| (e.channel.clone(), d.mask(&e.payload)))
        .collect();
    let mut it = got.iter();
    for (c, p) in &seq {
        // +odown's count varies (2/2 or 3/2): checked above, matched by channel here.
        let found = it.any(|(gc, gp)| gc == c && (p.is_empty() || gp == p));
        assert!(
            found,
            "leader {leader_name}: {c} {p} missing or out of order; its events:\n{}",
            got.iter()
                .map(|(c, p)| format!("{c} {p}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    Failover { leader, epoch }
}
