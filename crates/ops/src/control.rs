//! `redoubt down`, `redoubt kill` and `redoubt start`: acting on the recorded processes.

use std::time::Duration;

use anyhow::{bail, Context};

use crate::client::{text, Conn};
use crate::procs;
use crate::state::{Deployment, Kind, Member};

/// How long a process gets to exit after SIGTERM before SIGKILL.
const GRACE: Duration = Duration::from_secs(10);

/// Stops every process of the deployment, Sentinels first (so that stopping the master does
/// not start a failover), then the data nodes. Returns a report, or an error naming any
/// process still alive afterwards.
pub fn down(d: &Deployment, purge: bool) -> anyhow::Result<String> {
    let mut report = String::new();
    for kind in [Kind::Sentinel, Kind::Node] {
        let group: Vec<(&Member, u32)> = d
            .members
            .iter()
            .filter(|m| m.kind == kind)
            .filter_map(|m| match d.live_pid(m) {
                Some(p) => Some((m, p)),
                None => {
                    report.push_str(&format!("{:<10} not running\n", m.name));
                    None
                }
            })
            .collect();
        let pids: Vec<u32> = group.iter().map(|(_, p)| *p).collect();
        let survivors = procs::stop_all(&pids, GRACE);
        for (m, p) in &group {
            if survivors.contains(p) {
                report.push_str(&format!("{:<10} pid {p} did NOT stop\n", m.name));
            } else {
                report.push_str(&format!("{:<10} pid {p} stopped\n", m.name));
            }
        }
        if !survivors.is_empty() {
            bail!("{report}processes still alive after SIGKILL: {survivors:?}");
        }
    }
    if purge {
        std::fs::remove_dir_all(&d.dir).with_context(|| format!("removing {}", d.dir.display()))?;
        report.push_str(&format!("removed {}\n", d.dir.display()));
    }
    Ok(report)
}

/// The data node the Sentinels name as master (the majority of those that answer).
pub fn current_master(d: &Deployment) -> anyhow::Result<&Member> {
    let mut votes: Vec<(u16, usize)> = Vec::new();
    for s in d.sentinels() {
        let reply = Conn::connect(s.port, "", Duration::from_millis(500))
            .and_then(|mut c| c.cmd(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", &d.master_name]));
        if let Ok(redoubt_resp::Value::Array(a)) = reply {
            if let Some(Ok(port)) = a.get(1).map(|p| text(p).parse::<u16>()) {
                match votes.iter_mut().find(|(q, _)| *q == port) {
                    Some(v) => v.1 += 1,
                    None => votes.push((port, 1)),
                }
            }
        }
    }
    let Some((port, _)) = votes.into_iter().max_by_key(|(_, n)| *n) else {
        bail!("no Sentinel answered: cannot tell which node is the master");
    };
    d.node_by_port(port)
        .with_context(|| format!("the Sentinels' master 127.0.0.1:{port} is not one of ours"))
}

/// Sends `sig` (SIGKILL for the demo) to a member by name, or to the current master.
pub fn kill(d: &Deployment, target: &str, sig: i32) -> anyhow::Result<String> {
    let m = if target == "master" {
        current_master(d)?
    } else {
        d.member(target)
            .with_context(|| format!("no {target:?} in this deployment"))?
    };
    let Some(pid) = d.live_pid(m) else {
        bail!("{} is not running", m.name);
    };
    procs::signal(pid, sig).with_context(|| format!("signalling pid {pid}"))?;
    let gone = procs::wait_gone(&[pid], GRACE).is_empty();
    Ok(format!(
        "{} (127.0.0.1:{}, pid {pid}) {} with {}\n",
        m.name,
        m.port,
        if gone {
            "stopped"
        } else {
            "signalled, still running,"
        },
        if sig == libc::SIGKILL {
            "SIGKILL"
        } else {
            "SIGTERM"
        }
    ))
}

/// Starts a stopped member again from its directory, with the config it has now (a
/// Sentinel or CONFIG REWRITE may have changed it; an old master comes back as a master
/// until the Sentinels reconfigure it as a replica).
pub fn start(d: &Deployment, name: &str) -> anyhow::Result<String> {
    let m = d
        .member(name)
        .with_context(|| format!("no {name:?} in this deployment"))?;
    if let Some(pid) = d.live_pid(m) {
        bail!("{name} is already running (pid {pid})");
    }
    let pid = crate::up::start_member(d, m)?;
    Ok(format!(
        "{name} started on 127.0.0.1:{} (pid {pid})\n",
        m.port
    ))
}
