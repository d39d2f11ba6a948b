//! Safe failover (Redoubt only; `sentinel safe-failover <master> yes`): an automatic failover
//! that loses no acknowledged write, given data nodes running with
//! `replica-ack-before-reply a` (docs/ARCHITECTURE.md, "Safe mode").
//!
//! With `k` known replicas, every write the master acknowledged is on at least `a` of them.
//! In SELECT_SLAVE the leader sends `REPLCONF FREEZE <epoch>` to every replica it has a link
//! to; a frozen replica drops its master link and ACKs nothing more, answering its
//! replication id and applied offset. Once `k - a + 1` replicas answered, (1) the old master
//! can no longer find `a` replicas to acknowledge anything, and (2) any `a` replicas
//! intersect the frozen ones, so among the frozen replicas of the master's replication
//! history the one with the largest offset holds every acknowledged write. That one is
//! promoted, whatever its `replica-priority` (ties on the offset go by priority, then run
//! id, as Redis orders); if every replica at that offset is excluded (priority 0, down) the
//! failover aborts with `-failover-abort-no-good-slave`, because promoting a replica further
//! behind would lose writes. Too few answers within the freeze timeout: the same abort, and
//! the failover is retried after `2 * failover-timeout` as any other. On abort the frozen
//! replicas are released with `SLAVEOF <old master>` (their state before the freeze).
//!
//! Over real redis-server nodes (their INFO has no `replica_ack_before_reply` line and they
//! do not know REPLCONF FREEZE) a safe failover is refused with a warning in the log and the
//! same abort: the user asked for no acknowledged write lost, and Redis nodes cannot promise
//! it. Manual failovers (SENTINEL FAILOVER) are not affected: they are coordinated anyway.

use crate::monitor::At;
use crate::state::{flags, Pending};
use crate::{Level, Sentinel};
use redoubt_resp::Value;

/// The freeze round of one safe failover attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreezeRound {
    pub started: i64,
    /// Answers needed: `k - a + 1`.
    pub need: usize,
    /// Replicas (by name) REPLCONF FREEZE was sent to.
    pub asked: Vec<String>,
    /// Replicas that answered: (name, replication id, offset).
    pub frozen: Vec<(String, String, u64)>,
}

/// How long the leader waits for enough replicas to answer the freeze.
pub const FREEZE_TIMEOUT: i64 = 5_000;

/// What the freeze round decided.
pub(crate) enum Step {
    Wait,
    Abort,
    Promote(usize),
}

impl Sentinel {
    /// SELECT_SLAVE of a safe failover, once per tick.
    pub(crate) fn safe_select_step(&mut self, mi: usize, now: i64) -> Step {
        if self.masters[mi].safe.is_none() {
            let m = &self.masters[mi];
            let name = m.inst.name.clone();
            let a = m.inst.acks_before_reply;
            let k = m.replicas.len();
            if a <= 0 {
                self.log(
                    Level::Warning,
                    format!("Safe failover of '{name}' refused: the master does not report replica-ack-before-reply (a Redis node, or the option is off), so a replica holding every acknowledged write cannot be known"),
                );
                return Step::Abort;
            }
            let a = a as usize;
            if a > k {
                self.log(
                    Level::Warning,
                    format!("Safe failover of '{name}' refused: replica-ack-before-reply is {a} but only {k} replicas are known"),
                );
                return Step::Abort;
            }
            self.masters[mi].safe = Some(FreezeRound {
                started: now,
                need: k - a + 1,
                asked: Vec::new(),
                frozen: Vec::new(),
            });
            self.log(
                Level::Warning,
                format!(
                    "Safe failover of '{name}': freezing replicas, {} of {k} must answer",
                    k - a + 1
                ),
            );
        }
        self.send_freezes(mi);
        let Some(round) = self.masters[mi].safe.clone() else {
            return Step::Abort;
        };
        if round.frozen.len() >= round.need {
            return match self.safe_choice(mi, &round) {
                Some(ri) => Step::Promote(ri),
                None => Step::Abort,
            };
        }
        if now - round.started > FREEZE_TIMEOUT.min(self.masters[mi].failover_timeout) {
            let name = self.masters[mi].inst.name.clone();
            self.log(
                Level::Warning,
                format!(
                    "Safe failover of '{name}' aborted: {} of {} replicas frozen in time",
                    round.frozen.len(),
                    round.need
                ),
            );
            return Step::Abort;
        }
        Step::Wait
    }

    /// Sends REPLCONF FREEZE to every replica with a command link not asked yet (one that
    /// reconnects during the round is asked then).
    fn send_freezes(&mut self, mi: usize) {
        let epoch = self.masters[mi].failover_epoch;
        for ri in 0..self.masters[mi].replicas.len() {
            let r = &self.masters[mi].replicas[ri];
            let asked = self.masters[mi]
                .safe
                .as_ref()
                .is_some_and(|s| s.asked.contains(&r.name));
            if asked || r.link.disconnected || r.link.cmd.is_none() {
                continue;
            }
            let name = r.name.clone();
            let argv = vec![
                self.masters[mi].map_command("REPLCONF"),
                b"FREEZE".to_vec(),
                epoch.to_string().into_bytes(),
            ];
            if self.send_cmd(mi, At::Replica(ri), argv, Pending::Freeze) {
                if let Some(s) = self.masters[mi].safe.as_mut() {
                    s.asked.push(name);
                }
            }
        }
    }

    /// A replica's answer to REPLCONF FREEZE: `*2 $<replid> :<offset>`.
    pub(crate) fn freeze_reply(&mut self, mi: usize, at: At, reply: &Value, _now: i64) {
        let At::Replica(ri) = at else { return };
        let name = self.masters[mi].replicas[ri].name.clone();
        let answer = match reply {
            Value::Array(items) => match items.as_slice() {
                [Value::Bulk(id), Value::Int(off)] if *off >= 0 => {
                    Some((String::from_utf8_lossy(id).into_owned(), *off as u64))
                }
                _ => None,
            },
            _ => None,
        };
        let Some((replid, offset)) = answer else {
            let why = match reply {
                Value::Error(e) => e.clone(),
                other => format!("{other:?}"),
            };
            self.log(
                Level::Warning,
                format!("Safe failover: replica {name} could not be frozen ({why}); a Redis node cannot take part in a safe failover"),
            );
            return;
        };
        let Some(round) = self.masters[mi].safe.as_mut() else {
            return;
        };
        if !round.frozen.iter().any(|(n, _, _)| *n == name) {
            round.frozen.push((name.clone(), replid.clone(), offset));
        }
        self.log(
            Level::Notice,
            format!("Safe failover: replica {name} frozen at {replid}:{offset}"),
        );
    }

    /// The frozen replica holding every acknowledged write, if it can be promoted: the
    /// largest offset among those of the master's replication history.
    fn safe_choice(&mut self, mi: usize, round: &FreezeRound) -> Option<usize> {
        let m = &self.masters[mi];
        let history = m.inst.master_replid.clone();
        let same: Vec<&(String, String, u64)> = round
            .frozen
            .iter()
            .filter(|(_, id, _)| history.as_ref().is_none_or(|h| h == id))
            .collect();
        let Some(best) = same.iter().map(|(_, _, off)| *off).max() else {
            self.log(
                Level::Warning,
                "Safe failover: no frozen replica has the master's replication history".into(),
            );
            return None;
        };
        let mut ok: Vec<usize> = same
            .iter()
            .filter(|(_, _, off)| *off == best)
            .filter_map(|(name, _, _)| m.replicas.iter().position(|r| &r.name == name))
            .filter(|&ri| {
                let r = &m.replicas[ri];
                r.slave_priority != 0
                    && !r.has(flags::S_DOWN | flags::O_DOWN)
                    && !r.link.disconnected
            })
            .collect();
        ok.sort_by(|&a, &b| {
            let (x, y) = (&m.replicas[a], &m.replicas[b]);
            x.slave_priority.cmp(&y.slave_priority).then_with(|| {
                let lx = x.runid.as_deref().map(str::to_ascii_lowercase);
                let ly = y.runid.as_deref().map(str::to_ascii_lowercase);
                match (lx, ly) {
                    (Some(a), Some(b)) => a.cmp(&b),
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, None) => std::cmp::Ordering::Equal,
                }
            })
        });
        let chosen = ok.first().copied();
        if chosen.is_none() {
            self.log(
                Level::Warning,
                format!("Safe failover: the replicas at the largest offset ({best}) cannot be promoted (priority 0 or down); promoting another would lose acknowledged writes"),
            );
        }
        chosen
    }

    /// An aborted safe failover releases the replicas it froze (back to the old master).
    pub(crate) fn safe_abort(&mut self, mi: usize) {
        let Some(round) = self.masters[mi].safe.take() else {
            return;
        };
        let (ip, port) = {
            let m = &self.masters[mi].inst;
            (m.ip.clone(), m.port)
        };
        for name in round.asked {
            let Some(ri) = self.masters[mi]
                .replicas
                .iter()
                .position(|r| r.name == name)
            else {
                continue;
            };
            let argv = vec![
                self.masters[mi].map_command("SLAVEOF"),
                ip.clone().into_bytes(),
                port.to_string().into_bytes(),
            ];
            self.send_cmd(mi, At::Replica(ri), argv, Pending::Discard);
        }
    }
}
