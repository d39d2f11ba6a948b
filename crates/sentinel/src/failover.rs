//! The failover: starting one, electing a leader, selecting and promoting a replica,
//! reconfiguring the others, and switching to the promoted one (Redis's
//! `sentinelStartFailoverIfNeeded`, `sentinelGetLeader`, `sentinelSelectSlave` and
//! `sentinelFailoverStateMachine`).

use crate::monitor::At;
use crate::state::{flags, Instance, Pending};
use crate::{Action, Level, Sentinel};

/// Redis's SENTINEL_FAILOVER_STATE_*.
pub mod state {
    pub const NONE: u8 = 0;
    pub const WAIT_START: u8 = 1;
    pub const SELECT_SLAVE: u8 = 2;
    pub const SEND_SLAVEOF_NOONE: u8 = 3;
    pub const WAIT_PROMOTION: u8 = 4;
    pub const RECONF_SLAVES: u8 = 5;
    pub const UPDATE_CONFIG: u8 = 6;
}

/// Redis's SENTINEL_MAX_DESYNC.
const MAX_DESYNC: u64 = 1000;

/// Redoubt's coordinated SENTINEL FAILOVER: writes paused on the old master, the chosen
/// replica caught up with the paused master's offset, then promoted, then the old master
/// demoted before the pause is lifted, so no write it acknowledged is missing on the new
/// master (Redis promotes at once and loses what the replica had not received yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coord {
    /// When CLIENT PAUSE WRITE was sent to the old master.
    pub paused_at: i64,
    /// The old master's `master_repl_offset` read after the pause.
    pub target_offset: Option<u64>,
    /// False once a timeout fell back to Redis's way (the pause was lifted).
    pub active: bool,
}

/// How long the chosen replica may take to catch up with the paused master before the
/// failover falls back to Redis's behaviour (promote at once, unpause).
pub const COORD_CATCHUP_TIMEOUT: i64 = 2_000;
/// The CLIENT PAUSE timeout: long enough to cover catch-up, promotion and the old master's
/// demotion (it is lifted explicitly then), short enough that a Sentinel dying in between
/// stalls writers only briefly.
pub const COORD_PAUSE_MS: i64 = 10_000;

impl Sentinel {
    /// The index of the promoted replica of master `mi`, if any.
    pub(crate) fn promoted_index(&self, mi: usize) -> Option<usize> {
        let m = &self.masters[mi];
        let name = m.promoted_slave.as_ref()?;
        m.replicas.iter().position(|r| &r.name == name)
    }

    /// `sentinelStartFailoverIfNeeded`; true when a failover was started.
    pub(crate) fn start_failover_if_needed(&mut self, mi: usize, now: i64) -> bool {
        let m = &self.masters[mi];
        if !m.inst.has(flags::O_DOWN) || m.inst.has(flags::FAILOVER_IN_PROGRESS) {
            return false;
        }
        if now.saturating_sub(m.failover_start_time) < m.failover_timeout.saturating_mul(2) {
            if m.failover_delay_logged != m.failover_start_time {
                let at = m
                    .failover_start_time
                    .saturating_add(m.failover_timeout.saturating_mul(2))
                    / 1000;
                self.masters[mi].failover_delay_logged = self.masters[mi].failover_start_time;
                self.log(
                    Level::Warning,
                    format!(
                        "Next failover delay: I will not start a failover before {}",
                        ctime(at)
                    ),
                );
            }
            return false;
        }
        self.start_failover(mi, now);
        true
    }

    /// `sentinelStartFailover`.
    pub(crate) fn start_failover(&mut self, mi: usize, now: i64) {
        // Saturating: a peer that announced an absurd epoch must not crash us.
        self.current_epoch = self.current_epoch.saturating_add(1);
        let e = self.current_epoch;
        let jitter = self.rand(MAX_DESYNC);
        let m = &mut self.masters[mi];
        m.failover_state = state::WAIT_START;
        m.inst.flags |= flags::FAILOVER_IN_PROGRESS;
        m.failover_epoch = e;
        self.event_of(Level::Warning, "+new-epoch", mi, e.to_string());
        self.master_event(Level::Warning, "+try-failover", mi, "");
        let m = &mut self.masters[mi];
        m.failover_start_time = now + jitter;
        m.failover_state_change_time = now;
    }

    /// `sentinelGetLeader`: the Sentinel with an absolute majority of the known Sentinels and
    /// at least `quorum` votes in `epoch`, voting ourselves for the most voted one (or for
    /// ourselves when nobody was voted).
    fn get_leader(&mut self, mi: usize, epoch: u64, now: i64) -> Option<String> {
        let m = &self.masters[mi];
        let voters = m.sentinels.len() as u64 + 1;
        // Insertion-ordered counts (Redis's dict order is arbitrary; ties go to the first).
        let mut counts: Vec<(String, u64)> = Vec::new();
        let incr = |counts: &mut Vec<(String, u64)>, id: &str| -> u64 {
            match counts.iter_mut().find(|(k, _)| k == id) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    counts.push((id.to_string(), 1));
                    1
                }
            }
        };
        for s in &m.sentinels {
            if let Some(l) = &s.leader {
                if s.leader_epoch == self.current_epoch {
                    incr(&mut counts, l);
                }
            }
        }
        let mut winner: Option<String> = None;
        let mut max_votes = 0;
        for (id, n) in &counts {
            if *n > max_votes {
                max_votes = *n;
                winner = Some(id.clone());
            }
        }
        let candidate = winner.clone().unwrap_or_else(|| self.myid.clone());
        let (myvote, leader_epoch) = self.vote_leader(mi, epoch, &candidate, now);
        if let Some(v) = myvote.filter(|_| leader_epoch == epoch) {
            let n = incr(&mut counts, &v);
            if n > max_votes {
                max_votes = n;
                winner = Some(v);
            }
        }
        let quorum = self.masters[mi].quorum as u64;
        // voters/2+1 votes at least: an absolute majority.
        winner.filter(|_| max_votes > voters / 2 && max_votes >= quorum)
    }

    /// `sentinelSelectSlave`: the best replica, or None.
    pub(crate) fn select_replica(&self, mi: usize, now: i64) -> Option<usize> {
        let m = &self.masters[mi];
        let mut max_down = 0;
        if m.inst.has(flags::S_DOWN) {
            max_down += now - m.inst.s_down_since_time;
        }
        max_down = max_down.saturating_add(m.inst.down_after_period.saturating_mul(10));
        let validity = if m.inst.has(flags::S_DOWN) {
            self.timing.ping_period.saturating_mul(5)
        } else {
            self.timing.info_period.saturating_mul(3)
        };
        let mut ok: Vec<usize> = (0..m.replicas.len())
            .filter(|&i| {
                let r = &m.replicas[i];
                !r.has(flags::S_DOWN | flags::O_DOWN)
                    && !r.link.disconnected
                    && now - r.link.last_avail_time <= self.timing.ping_period.saturating_mul(5)
                    && r.slave_priority != 0
                    && now - r.info_refresh <= validity
                    && r.master_link_down_time <= max_down
            })
            .collect();
        ok.sort_by(|&a, &b| compare_for_promotion(&m.replicas[a], &m.replicas[b]));
        ok.first().copied()
    }

    /// `sentinelSendSlaveOf`: SLAVEOF, CONFIG REWRITE and CLIENT KILL in one MULTI/EXEC;
    /// the replies are discarded (the effect is observed through INFO).
    pub(crate) fn send_slaveof(&mut self, mi: usize, at: At, to: Option<(String, i64)>) -> bool {
        if self.inst(mi, at).link.cmd.is_none() {
            return false;
        }
        let (host, port) = match to {
            None => (b"NO".to_vec(), b"ONE".to_vec()),
            Some((h, p)) => (h.into_bytes(), p.to_string().into_bytes()),
        };
        let m = &self.masters[mi];
        let cmds = vec![
            vec![m.map_command("MULTI")],
            vec![m.map_command("SLAVEOF"), host, port],
            vec![m.map_command("CONFIG"), b"REWRITE".to_vec()],
            vec![
                m.map_command("CLIENT"),
                b"KILL".to_vec(),
                b"TYPE".to_vec(),
                b"normal".to_vec(),
            ],
            vec![
                m.map_command("CLIENT"),
                b"KILL".to_vec(),
                b"TYPE".to_vec(),
                b"pubsub".to_vec(),
            ],
            vec![m.map_command("EXEC")],
        ];
        for argv in cmds {
            self.send_cmd(mi, at, argv, Pending::Discard);
        }
        true
    }

    /// `sentinelFailoverStateMachine`.
    pub(crate) fn failover_state_machine(&mut self, mi: usize, now: i64) {
        if !self.masters[mi].inst.has(flags::FAILOVER_IN_PROGRESS) {
            return;
        }
        match self.masters[mi].failover_state {
            state::WAIT_START => self.failover_wait_start(mi, now),
            state::SELECT_SLAVE => self.failover_select_slave(mi, now),
            state::SEND_SLAVEOF_NOONE => self.failover_send_slaveof_noone(mi, now),
            state::WAIT_PROMOTION => {
                let m = &self.masters[mi];
                if now - m.failover_state_change_time > m.failover_timeout {
                    self.master_event(Level::Warning, "-failover-abort-slave-timeout", mi, "");
                    self.abort_failover(mi, now);
                }
            }
            state::RECONF_SLAVES => self.failover_reconf_next_slave(mi, now),
            _ => {}
        }
    }

    fn failover_wait_start(&mut self, mi: usize, now: i64) {
        let epoch = self.masters[mi].failover_epoch;
        let leader = self.get_leader(mi, epoch, now);
        let is_leader = leader
            .as_deref()
            .is_some_and(|l| l.eq_ignore_ascii_case(&self.myid));
        let m = &self.masters[mi];
        if !is_leader && !m.inst.has(flags::FORCE_FAILOVER) {
            let timeout = self.timing.election_timeout.min(m.failover_timeout);
            if now - m.failover_start_time > timeout {
                self.master_event(Level::Warning, "-failover-abort-not-elected", mi, "");
                self.abort_failover(mi, now);
            }
            return;
        }
        self.master_event(Level::Warning, "+elected-leader", mi, "");
        if self.simfailure_flags & crate::commands::SIMFAILURE_CRASH_AFTER_ELECTION != 0 {
            self.sim_failure_crash();
        }
        let m = &mut self.masters[mi];
        m.failover_state = state::SELECT_SLAVE;
        m.failover_state_change_time = now;
        self.master_event(Level::Warning, "+failover-state-select-slave", mi, "");
    }

    fn failover_select_slave(&mut self, mi: usize, now: i64) {
        let m = &self.masters[mi];
        let choice = if self.redoubt && m.safe_failover && !m.inst.has(flags::FORCE_FAILOVER) {
            match self.safe_select_step(mi, now) {
                crate::safe::Step::Wait => return,
                crate::safe::Step::Abort => None,
                crate::safe::Step::Promote(ri) => Some(ri),
            }
        } else {
            self.select_replica(mi, now)
        };
        match choice {
            None => {
                self.master_event(Level::Warning, "-failover-abort-no-good-slave", mi, "");
                self.abort_failover(mi, now);
            }
            Some(ri) => {
                self.replica_event(Level::Warning, "+selected-slave", mi, ri, "");
                let m = &mut self.masters[mi];
                m.replicas[ri].flags |= flags::PROMOTED;
                m.promoted_slave = Some(m.replicas[ri].name.clone());
                m.failover_state = state::SEND_SLAVEOF_NOONE;
                m.failover_state_change_time = now;
                self.replica_event(
                    Level::Notice,
                    "+failover-state-send-slaveof-noone",
                    mi,
                    ri,
                    "",
                );
            }
        }
    }

    fn failover_send_slaveof_noone(&mut self, mi: usize, now: i64) {
        let Some(ri) = self.promoted_index(mi) else {
            self.abort_failover(mi, now);
            return;
        };
        if self.masters[mi].replicas[ri].link.disconnected {
            let m = &self.masters[mi];
            if now - m.failover_state_change_time > m.failover_timeout {
                self.master_event(Level::Warning, "-failover-abort-slave-timeout", mi, "");
                self.abort_failover(mi, now);
            }
            return;
        }
        if self.redoubt
            && self.masters[mi].inst.has(flags::FORCE_FAILOVER)
            && !self.coordination_done(mi, ri, now)
        {
            return;
        }
        if !self.send_slaveof(mi, At::Replica(ri), None) {
            return;
        }
        if self.redoubt {
            // Read the result of the EXEC at once instead of at the next INFO period.
            let argv = vec![self.masters[mi].map_command("INFO")];
            self.send_cmd(mi, At::Replica(ri), argv, Pending::Info);
        }
        self.replica_event(Level::Notice, "+failover-state-wait-promotion", mi, ri, "");
        let m = &mut self.masters[mi];
        m.failover_state = state::WAIT_PROMOTION;
        m.failover_state_change_time = now;
    }

    /// The coordinated part of a manual failover; true when the replica may be promoted
    /// (caught up, or the coordination is impossible or timed out: Redis's way then).
    fn coordination_done(&mut self, mi: usize, ri: usize, now: i64) -> bool {
        let m = &self.masters[mi];
        let Some(c) = m.coord.clone() else {
            // Only a reachable old master can be paused; otherwise promote as Redis does.
            if m.inst.link.disconnected || m.inst.link.cmd.is_none() || m.inst.has(flags::S_DOWN) {
                return true;
            }
            let pause = vec![
                m.map_command("CLIENT"),
                b"PAUSE".to_vec(),
                COORD_PAUSE_MS.to_string().into_bytes(),
                b"WRITE".to_vec(),
            ];
            let info = vec![m.map_command("INFO")];
            self.send_cmd(mi, At::Master, pause, Pending::Discard);
            self.send_cmd(mi, At::Master, info, Pending::PausedInfo);
            self.masters[mi].coord = Some(Coord {
                paused_at: now,
                target_offset: None,
                active: true,
            });
            self.log(
                Level::Notice,
                "Coordinated failover: writes paused on the old master, waiting for the replica to catch up".into(),
            );
            return false;
        };
        if !c.active {
            return true;
        }
        let r = &m.replicas[ri];
        if let Some(t) = c.target_offset {
            if r.slave_repl_offset >= t {
                self.log(
                    Level::Notice,
                    format!("Coordinated failover: replica caught up at offset {t}"),
                );
                return true;
            }
        }
        if now - c.paused_at > COORD_CATCHUP_TIMEOUT {
            self.log(
                Level::Warning,
                "Coordinated failover: the replica did not catch up in time, promoting it anyway as Redis does".into(),
            );
            self.unpause_old_master(mi);
            return true;
        }
        if !r.link.pending.contains(&Pending::Info) {
            let argv = vec![m.map_command("INFO")];
            self.send_cmd(mi, At::Replica(ri), argv, Pending::Info);
        }
        false
    }

    /// Ends a coordination that did not complete: writes resume on the old master.
    fn unpause_old_master(&mut self, mi: usize) {
        let Some(c) = self.masters[mi].coord.as_mut() else {
            return;
        };
        if !c.active {
            return;
        }
        c.active = false;
        let argv = vec![self.masters[mi].map_command("CLIENT"), b"UNPAUSE".to_vec()];
        self.send_cmd(mi, At::Master, argv, Pending::Discard);
    }

    /// The promotion was observed (Redoubt): the old master, if this Sentinel still has a
    /// link to it, is made a replica of the promoted one now instead of when it is seen
    /// again after the switch (Redis: 4 publish periods after that). A paused or partitioned
    /// old master runs the SLAVEOF among the first things it does when it returns. After a
    /// coordinated failover its pause is lifted in the same transaction, after the SLAVEOF,
    /// so the writers it held get -READONLY or a closed connection, never an
    /// acknowledgement.
    pub(crate) fn demote_old_master(&mut self, mi: usize, to: (String, i64)) {
        let coordinated = match self.masters[mi].coord.as_mut() {
            Some(c) if c.active => {
                c.active = false;
                true
            }
            _ => false,
        };
        let m = &self.masters[mi];
        if m.inst.link.cmd.is_none() {
            return;
        }
        let old = (m.inst.ip.clone(), m.inst.port);
        let mut cmds = vec![
            vec![m.map_command("MULTI")],
            vec![
                m.map_command("SLAVEOF"),
                to.0.clone().into_bytes(),
                to.1.to_string().into_bytes(),
            ],
            vec![m.map_command("CONFIG"), b"REWRITE".to_vec()],
        ];
        if coordinated {
            cmds.push(vec![m.map_command("CLIENT"), b"UNPAUSE".to_vec()]);
        }
        for kind in ["normal", "pubsub"] {
            cmds.push(vec![
                m.map_command("CLIENT"),
                b"KILL".to_vec(),
                b"TYPE".to_vec(),
                kind.as_bytes().to_vec(),
            ]);
        }
        cmds.push(vec![m.map_command("EXEC")]);
        for argv in cmds {
            self.send_cmd(mi, At::Master, argv, Pending::Discard);
        }
        self.log(
            Level::Notice,
            format!(
                "Old master {}:{} demoted to replica of {}:{}",
                old.0, old.1, to.0, to.1
            ),
        );
    }

    /// `sentinelFailoverReconfNextSlave`: at most parallel-syncs replicas resyncing at once.
    fn failover_reconf_next_slave(&mut self, mi: usize, now: i64) {
        let Some(pi) = self.promoted_index(mi) else {
            return;
        };
        let target = {
            let p = &self.masters[mi].replicas[pi];
            (p.ip.clone(), p.port)
        };
        let mut in_progress = self.masters[mi]
            .replicas
            .iter()
            .filter(|r| r.has(flags::RECONF_SENT | flags::RECONF_INPROG))
            .count() as i64;
        let reconf_timeout = self.timing.slave_reconf_timeout;
        for ri in 0..self.masters[mi].replicas.len() {
            if in_progress >= self.masters[mi].parallel_syncs {
                break;
            }
            let r = &self.masters[mi].replicas[ri];
            if r.has(flags::PROMOTED | flags::RECONF_DONE) {
                continue;
            }
            if r.has(flags::RECONF_SENT) && now - r.slave_reconf_sent_time > reconf_timeout {
                self.replica_event(Level::Notice, "-slave-reconf-sent-timeout", mi, ri, "");
                let r = &mut self.masters[mi].replicas[ri];
                r.flags &= !flags::RECONF_SENT;
                r.flags |= flags::RECONF_DONE;
            }
            let r = &self.masters[mi].replicas[ri];
            if r.has(flags::RECONF_SENT | flags::RECONF_INPROG) || r.link.disconnected {
                continue;
            }
            if self.send_slaveof(mi, At::Replica(ri), Some(target.clone())) {
                let r = &mut self.masters[mi].replicas[ri];
                r.flags |= flags::RECONF_SENT;
                r.slave_reconf_sent_time = now;
                self.replica_event(Level::Notice, "+slave-reconf-sent", mi, ri, "");
                in_progress += 1;
            }
        }
        self.failover_detect_end(mi, now);
    }

    /// `sentinelFailoverDetectEnd`.
    fn failover_detect_end(&mut self, mi: usize, now: i64) {
        let Some(pi) = self.promoted_index(mi) else {
            return;
        };
        let m = &self.masters[mi];
        if m.replicas[pi].has(flags::S_DOWN) {
            return;
        }
        let elapsed = now - m.failover_state_change_time;
        let mut not_reconfigured = m
            .replicas
            .iter()
            .filter(|r| !r.has(flags::PROMOTED | flags::RECONF_DONE) && !r.has(flags::S_DOWN))
            .count();
        let mut timeout = false;
        if elapsed > m.failover_timeout {
            not_reconfigured = 0;
            timeout = true;
            self.master_event(Level::Warning, "+failover-end-for-timeout", mi, "");
        }
        if not_reconfigured == 0 {
            self.master_event(Level::Warning, "+failover-end", mi, "");
            let m = &mut self.masters[mi];
            m.failover_state = state::UPDATE_CONFIG;
            m.failover_state_change_time = now;
        }
        if timeout {
            let p = &self.masters[mi].replicas[pi];
            let target = (p.ip.clone(), p.port);
            for ri in 0..self.masters[mi].replicas.len() {
                let r = &self.masters[mi].replicas[ri];
                if r.has(flags::PROMOTED | flags::RECONF_DONE | flags::RECONF_SENT)
                    || r.link.disconnected
                {
                    continue;
                }
                if self.send_slaveof(mi, At::Replica(ri), Some(target.clone())) {
                    self.replica_event(Level::Notice, "+slave-reconf-sent-be", mi, ri, "");
                    self.masters[mi].replicas[ri].flags |= flags::RECONF_SENT;
                }
            }
        }
    }

    /// `sentinelFailoverSwitchToPromotedSlave`.
    pub(crate) fn switch_to_promoted(&mut self, mi: usize, now: i64) {
        let m = &self.masters[mi];
        let (ip, port) = match self.promoted_index(mi) {
            Some(pi) => (m.replicas[pi].ip.clone(), m.replicas[pi].port),
            None => (m.inst.ip.clone(), m.inst.port),
        };
        let msg = format!(
            "{} {} {} {} {}",
            m.inst.name, m.inst.ip, m.inst.port, ip, port
        );
        self.event_of(Level::Warning, "+switch-master", mi, msg);
        // The frozen replicas were reconfigured (or the promoted one promoted): done.
        self.masters[mi].safe = None;
        self.reset_master_and_change_address(mi, &ip, port, now);
    }

    /// `sentinelAbortFailover`.
    pub(crate) fn abort_failover(&mut self, mi: usize, now: i64) {
        self.unpause_old_master(mi);
        self.safe_abort(mi);
        self.masters[mi].coord = None;
        let pi = self.promoted_index(mi);
        let m = &mut self.masters[mi];
        m.inst.flags &= !(flags::FAILOVER_IN_PROGRESS | flags::FORCE_FAILOVER);
        m.failover_state = state::NONE;
        m.failover_state_change_time = now;
        if let Some(pi) = pi {
            m.replicas[pi].flags &= !flags::PROMOTED;
        }
        m.promoted_slave = None;
    }

    /// `sentinelForceHelloUpdateForMaster`: hellos go out on the next tick.
    pub(crate) fn force_hello_update(&mut self, mi: usize) {
        let p = self.timing.publish_period + 1;
        let m = &mut self.masters[mi];
        for i in std::iter::once(&mut m.inst)
            .chain(m.sentinels.iter_mut())
            .chain(m.replicas.iter_mut())
        {
            if i.last_pub_time >= p {
                i.last_pub_time -= p;
            }
        }
    }

    /// `sentinelSimFailureCrash`.
    pub(crate) fn sim_failure_crash(&mut self) {
        self.log(
            Level::Warning,
            "Sentinel CRASH because of SENTINEL simulate-failure".into(),
        );
        self.actions.push(Action::Exit { code: 99 });
    }

    /// SENTINEL FAILOVER: a forced failover, no agreement needed.
    pub(crate) fn failover_command(&mut self, mi: usize, now: i64) -> Result<(), &'static str> {
        if self.masters[mi].inst.has(flags::FAILOVER_IN_PROGRESS) {
            return Err("-INPROG Failover already in progress");
        }
        if self.select_replica(mi, now).is_none() {
            return Err("-NOGOODSLAVE No suitable replica to promote");
        }
        let name = self.masters[mi].inst.name.clone();
        self.log(
            Level::Warning,
            format!("Executing user requested FAILOVER of '{name}'"),
        );
        self.start_failover(mi, now);
        self.masters[mi].inst.flags |= flags::FORCE_FAILOVER;
        Ok(())
    }
}

/// `compareSlavesForPromotion`: lower priority, then bigger offset, then smaller run id
/// (case-insensitively; a missing run id sorts last).
fn compare_for_promotion(a: &Instance, b: &Instance) -> std::cmp::Ordering {
    a.slave_priority
        .cmp(&b.slave_priority)
        .then(b.slave_repl_offset.cmp(&a.slave_repl_offset))
        .then_with(|| match (&a.runid, &b.runid) {
            (None, None) => std::cmp::Ordering::Equal,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(_), None) => std::cmp::Ordering::Less,
            (Some(x), Some(y)) => x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase()),
        })
}

/// C's `ctime` without the newline, in UTC: `Wed Nov 25 16:00:00 2026`.
fn ctime(unix_s: i64) -> String {
    let days = unix_s.div_euclid(86_400);
    let secs = unix_s.rem_euclid(86_400);
    let (h, mi, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let wd = (days + 4).rem_euclid(7);
    const W: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const M: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {} {:2} {:02}:{:02}:{:02} {}",
        W[wd as usize],
        M[(m - 1) as usize],
        d,
        h,
        mi,
        s,
        y
    )
}
