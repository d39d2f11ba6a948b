//! FAILOVER (Redis 6.2+ `failoverCommand`, `updateFailoverStatus`, `abortFailover`): a master
//! hands its role to one of its replicas without losing writes.
//!
//! The master pauses writes and waits (`waiting-for-sync`) until the target replica (or any
//! replica, without TO) has acknowledged its whole stream; then (`failover-in-progress`) it
//! becomes a replica of the target, whose link task sends `PSYNC <replid> <offset> FAILOVER`.
//! The target, seeing its own replication ID, promotes itself and answers `+CONTINUE`; the
//! old master then clears the state and unpauses. A timeout aborts, or with FORCE fails over
//! anyway; a rejected PSYNC aborts and makes the old master a master again.

use crate::client::ClientId;
use crate::ctx::Ctx;
use crate::errors;
use crate::pause::PauseMode;
use crate::repl::peer_ip;
use crate::Engine;
use bytes::Bytes;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailoverState {
    #[default]
    None,
    WaitingForSync,
    InProgress,
}

impl FailoverState {
    /// INFO's `master_failover_state`.
    pub fn name(self) -> &'static str {
        match self {
            FailoverState::None => "no-failover",
            FailoverState::WaitingForSync => "waiting-for-sync",
            FailoverState::InProgress => "failover-in-progress",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Failover {
    pub state: FailoverState,
    pub target: Option<(String, u16)>,
    pub force: bool,
    pub end_ms: Option<i64>,
}

impl Engine {
    /// `findReplica`: an online replica announcing this address.
    fn find_replica(&self, host: &str, port: u16) -> Option<ClientId> {
        self.repl.replicas.iter().copied().find(|id| {
            self.clients.get(id).is_some_and(|c| {
                c.repl.as_ref().is_some_and(|r| {
                    let ip = r.ip_address.clone().unwrap_or_else(|| peer_ip(&c.addr));
                    ip.eq_ignore_ascii_case(host) && r.listening_port == port
                })
            })
        })
    }

    fn ack_offset(&self, id: ClientId) -> Option<u64> {
        self.clients
            .get(&id)
            .and_then(|c| c.repl.as_ref())
            .map(|r| r.ack_offset)
    }

    /// `clearFailoverState`.
    pub fn clear_failover(&mut self) {
        self.repl.failover = Failover::default();
        self.pause.unpause();
    }

    /// `abortFailover`.
    pub fn abort_failover(&mut self, why: &str) {
        if self.repl.failover.state == FailoverState::None {
            return;
        }
        match &self.repl.failover.target {
            Some((h, p)) => self.log_notice(&format!("FAILOVER to {h}:{p} aborted: {why}")),
            None => self.log_notice(&format!("FAILOVER to any replica aborted: {why}")),
        }
        if self.repl.failover.state == FailoverState::InProgress {
            self.unset_master();
        }
        self.clear_failover();
    }

    /// The replica link got its PSYNC answer while failing over (`syncWithMaster`).
    pub fn failover_psync_answered(&mut self, accepted: bool) {
        if self.repl.failover.state != FailoverState::InProgress {
            return;
        }
        if accepted {
            self.clear_failover();
        } else {
            self.abort_failover("Failover target rejected psync request");
        }
    }

    /// `updateFailoverStatus`, from the cron.
    pub fn update_failover(&mut self, now_ms: i64) {
        if self.repl.failover.state != FailoverState::WaitingForSync {
            return;
        }
        if self.repl.failover.end_ms.is_some_and(|e| e <= now_ms) {
            if self.repl.failover.force {
                if let Some((h, p)) = self.repl.failover.target.clone() {
                    self.log_notice(&format!(
                        "FAILOVER to {h}:{p} time out exceeded, failing over."
                    ));
                    self.repl.failover.state = FailoverState::InProgress;
                    self.set_master(h, p, now_ms);
                }
            } else {
                self.abort_failover("Replica never caught up before timeout");
            }
            return;
        }
        let offset = self.stream.offset();
        let caught_up = match self.repl.failover.target.clone() {
            Some((h, p)) => self
                .find_replica(&h, p)
                .and_then(|id| self.ack_offset(id))
                .is_some_and(|o| o == offset),
            None => {
                let found = self.repl.replicas.iter().find_map(|id| {
                    let c = self.clients.get(id)?;
                    let r = c.repl.as_ref()?;
                    (r.ack_offset == offset).then(|| {
                        let ip = r.ip_address.clone().unwrap_or_else(|| peer_ip(&c.addr));
                        (ip, r.listening_port)
                    })
                });
                let ok = found.is_some();
                self.repl.failover.target = found;
                ok
            }
        };
        if caught_up {
            if let Some((h, p)) = self.repl.failover.target.clone() {
                self.repl.failover.state = FailoverState::InProgress;
                self.log_notice(&format!("Failover target {h}:{p} is synced, failing over."));
                self.set_master(h, p, now_ms);
            }
        }
    }
}

/// FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms].
pub fn failover(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    if argv.len() == 2 && argv[1].eq_ignore_ascii_case(b"abort") {
        if ctx.eng.repl.failover.state == FailoverState::None {
            ctx.error("ERR No failover in progress.");
            return;
        }
        ctx.eng.abort_failover("Failover manually aborted");
        ctx.ok();
        return;
    }
    let mut timeout_ms = 0i64;
    let mut force = false;
    let mut target: Option<(String, i64)> = None;
    let mut j = 1;
    while j < argv.len() {
        let a = &argv[j];
        if a.eq_ignore_ascii_case(b"timeout") && j + 1 < argv.len() && timeout_ms == 0 {
            let Some(t) = ctx.parse_i64(&argv[j + 1]) else {
                return;
            };
            if t <= 0 {
                ctx.error("ERR FAILOVER timeout must be greater than 0");
                return;
            }
            timeout_ms = t;
            j += 1;
        } else if a.eq_ignore_ascii_case(b"to") && j + 2 < argv.len() && target.is_none() {
            let Some(port) = ctx.parse_i64(&argv[j + 2]) else {
                return;
            };
            target = Some((String::from_utf8_lossy(&argv[j + 1]).into_owned(), port));
            j += 2;
        } else if a.eq_ignore_ascii_case(b"force") && !force {
            force = true;
        } else {
            ctx.error(errors::SYNTAX);
            return;
        }
        j += 1;
    }
    if ctx.eng.repl.failover.state != FailoverState::None {
        ctx.error("ERR FAILOVER already in progress.");
        return;
    }
    if ctx.eng.is_replica() {
        ctx.error("ERR FAILOVER is not valid when server is a replica.");
        return;
    }
    if ctx.eng.repl.replicas.is_empty() {
        ctx.error("ERR FAILOVER requires connected replicas.");
        return;
    }
    if force && (timeout_ms == 0 || target.is_none()) {
        ctx.error("ERR FAILOVER with force option requires both a timeout and target HOST and IP.");
        return;
    }
    let target = match target {
        Some((host, port)) => {
            let found = u16::try_from(port)
                .ok()
                .and_then(|p| ctx.eng.find_replica(&host, p).map(|_| p));
            let Some(port) = found else {
                ctx.error("ERR FAILOVER target HOST and PORT is not a replica.");
                return;
            };
            ctx.eng
                .log_notice(&format!("FAILOVER requested to {host}:{port}."));
            Some((host, port))
        }
        None => {
            ctx.eng.log_notice("FAILOVER requested to any replica.");
            None
        }
    };
    let now = ctx.now_ms;
    ctx.eng.repl.failover = Failover {
        state: FailoverState::WaitingForSync,
        target,
        force,
        end_ms: (timeout_ms > 0).then(|| now.saturating_add(timeout_ms)),
    };
    ctx.eng.pause.pause(PauseMode::Write, i64::MAX);
    ctx.ok();
}
