//! Monitoring: links, PING/INFO/hello periods, discovery, SDOWN and ODOWN, votes
//! (Redis's `sentinelTimer` and the reply callbacks).

use crate::events::describe;
use crate::hello::{self, Hello};
use crate::info;
use crate::state::{flags, Instance, Pending, Role, Who};
use crate::{Action, Level, LinkId, LinkKind, Sentinel, HELLO_CHANNEL, MAX_PENDING_COMMANDS};
use redoubt_resp::Value;

/// Which instance of master `mi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum At {
    Master,
    Replica(usize),
    Sentinel(usize),
}

/// `sentinelRedisInstanceNoDownFor`.
fn no_down_for(r: &Instance, ms: i64, now: i64) -> bool {
    let most_recent = r.s_down_since_time.max(r.o_down_since_time);
    most_recent == 0 || now - most_recent > ms
}

/// Redis's SENTINEL_MAX_DESYNC: the election delay jitter.
const MAX_DESYNC: u64 = 1000;

impl Sentinel {
    pub(crate) fn inst(&self, mi: usize, at: At) -> &Instance {
        let m = &self.masters[mi];
        match at {
            At::Master => &m.inst,
            At::Replica(i) => &m.replicas[i],
            At::Sentinel(i) => &m.sentinels[i],
        }
    }

    pub(crate) fn inst_mut(&mut self, mi: usize, at: At) -> &mut Instance {
        let m = &mut self.masters[mi];
        match at {
            At::Master => &mut m.inst,
            At::Replica(i) => &mut m.replicas[i],
            At::Sentinel(i) => &mut m.sentinels[i],
        }
    }

    fn at_of_link(&self, link: LinkId) -> Option<(usize, At, LinkKind)> {
        let owner = self.links.get(&link)?;
        let mi = self.master_index(&owner.master)?;
        let m = &self.masters[mi];
        let at = match &owner.who {
            Who::Master => At::Master,
            Who::Replica(n) => At::Replica(m.replicas.iter().position(|r| &r.name == n)?),
            Who::Sentinel(n) => At::Sentinel(m.sentinels.iter().position(|s| &s.name == n)?),
        };
        Some((mi, at, owner.kind))
    }

    /// What a link is for, while it is known.
    pub fn link_kind(&self, link: LinkId) -> Option<LinkKind> {
        self.links.get(&link).map(|o| o.kind)
    }

    /// The port of the instance a link goes to.
    pub fn port_of(&self, link: LinkId) -> Option<u16> {
        let (mi, at, _) = self.at_of_link(link)?;
        u16::try_from(self.inst(mi, at).port).ok()
    }

    /// An event about any instance, `%@` plus `extra`.
    pub(crate) fn inst_event(&mut self, level: Level, kind: &str, mi: usize, at: At, extra: &str) {
        let m = &self.masters[mi];
        let msg = format!("{}{}", describe(self.inst(mi, at), Some(m)), extra);
        self.event_of(level, kind, mi, msg);
    }

    /// Sends `argv` on the instance's cmd link and remembers what the reply is for.
    pub(crate) fn send_cmd(
        &mut self,
        mi: usize,
        at: At,
        argv: Vec<Vec<u8>>,
        what: Pending,
    ) -> bool {
        let inst = self.inst_mut(mi, at);
        let Some(link) = inst.link.cmd else {
            return false;
        };
        inst.link.pending.push_back(what);
        inst.link.pending_commands += 1;
        self.actions.push(Action::Send { link, argv });
        true
    }

    /// The command name to send to an instance of master `mi` (rename-command applies to
    /// masters and replicas, not to Sentinels).
    fn cmd_name(&self, mi: usize, at: At, cmd: &str) -> Vec<u8> {
        match at {
            At::Sentinel(_) => cmd.as_bytes().to_vec(),
            _ => self.masters[mi].map_command(cmd),
        }
    }

    /// `sentinelSendAuthIfNeeded` on a freshly opened link.
    fn auth_argv(&self, mi: usize, at: At) -> Option<Vec<Vec<u8>>> {
        let m = &self.masters[mi];
        let (pass, user) = match at {
            At::Sentinel(_) => match &self.globals.sentinel_auth_pass {
                Some(p) => (Some(p.clone()), self.globals.sentinel_auth_user.clone()),
                None => (self.requirepass.clone(), None),
            },
            _ => (m.auth_pass.clone(), m.auth_user.clone()),
        };
        let pass = pass?;
        let mut argv = vec![self.cmd_name(mi, at, "AUTH")];
        if let Some(u) = user {
            argv.push(u.into_bytes());
        }
        argv.push(pass.into_bytes());
        Some(argv)
    }

    /// `sentinelReconnectInstance`.
    fn reconnect(&mut self, mi: usize, at: At, now: i64) {
        let inst = self.inst(mi, at);
        if !inst.link.disconnected || inst.port == 0 {
            return;
        }
        if now - inst.link.last_reconn_time < self.timing.ping_period {
            return;
        }
        let (ip, port, role, name) = (inst.ip.clone(), inst.port, inst.role, inst.name.clone());
        let port = u16::try_from(port).unwrap_or(0);
        let who = match at {
            At::Master => Who::Master,
            At::Replica(_) => Who::Replica(name),
            At::Sentinel(_) => Who::Sentinel(name),
        };
        let mname = self.masters[mi].inst.name.clone();
        self.inst_mut(mi, at).link.last_reconn_time = now;
        let short_id: String = self.myid.chars().take(8).collect();
        if self.inst(mi, at).link.cmd.is_none() {
            let id = self.alloc_link(&mname, who.clone(), LinkKind::Cmd);
            self.actions.push(Action::Connect {
                link: id,
                ip: ip.clone(),
                port,
                kind: LinkKind::Cmd,
            });
            let l = &mut self.inst_mut(mi, at).link;
            l.cmd = Some(id);
            l.pending_commands = 0;
            l.pending.clear();
            l.cc_conn_time = now;
            if let Some(auth) = self.auth_argv(mi, at) {
                self.send_cmd(mi, at, auth, Pending::Discard);
            }
            let setname = vec![
                self.cmd_name(mi, at, "CLIENT"),
                b"SETNAME".to_vec(),
                format!("sentinel-{short_id}-cmd").into_bytes(),
            ];
            self.send_cmd(mi, at, setname, Pending::Discard);
            self.send_ping(mi, at, now);
        }
        if role != Role::Sentinel && self.inst(mi, at).link.pubsub.is_none() {
            let id = self.alloc_link(&mname, who, LinkKind::PubSub);
            self.actions.push(Action::Connect {
                link: id,
                ip,
                port,
                kind: LinkKind::PubSub,
            });
            let l = &mut self.inst_mut(mi, at).link;
            l.pubsub = Some(id);
            l.pc_conn_time = now;
            let mut cmds = Vec::new();
            if let Some(auth) = self.auth_argv(mi, at) {
                cmds.push(auth);
            }
            cmds.push(vec![
                self.cmd_name(mi, at, "CLIENT"),
                b"SETNAME".to_vec(),
                format!("sentinel-{short_id}-pubsub").into_bytes(),
            ]);
            cmds.push(vec![
                self.cmd_name(mi, at, "SUBSCRIBE"),
                HELLO_CHANNEL.as_bytes().to_vec(),
            ]);
            for argv in cmds {
                self.actions.push(Action::Send { link: id, argv });
            }
        }
        let l = &mut self.inst_mut(mi, at).link;
        if l.cmd.is_some() && (role == Role::Sentinel || l.pubsub.is_some()) {
            l.disconnected = false;
        }
    }

    /// `sentinelSendPing`.
    fn send_ping(&mut self, mi: usize, at: At, now: i64) -> bool {
        let argv = vec![self.cmd_name(mi, at, "PING")];
        if !self.send_cmd(mi, at, argv, Pending::Ping) {
            return false;
        }
        let l = &mut self.inst_mut(mi, at).link;
        l.last_ping_time = now;
        if l.act_ping_time == 0 {
            l.act_ping_time = now;
        }
        true
    }

    /// `sentinelSendHello`.
    fn send_hello(&mut self, mi: usize, at: At) -> bool {
        let inst = self.inst(mi, at);
        if inst.link.disconnected {
            return false;
        }
        let ip = match &self.globals.announce_ip {
            Some(ip) => ip.clone(),
            None => match &inst.link.local_ip {
                Some(ip) => ip.clone(),
                None => return false,
            },
        };
        let port = if self.globals.announce_port != 0 {
            self.globals.announce_port
        } else {
            i64::from(self.port)
        };
        let m = &self.masters[mi];
        let (mip, mport) = self.current_master_addr(m);
        let payload = Hello {
            ip,
            port,
            runid: self.myid.clone(),
            current_epoch: self.current_epoch,
            master_name: m.inst.name.clone(),
            master_ip: mip.to_string(),
            master_port: mport,
            master_config_epoch: m.config_epoch,
        }
        .format();
        let argv = vec![
            self.cmd_name(mi, at, "PUBLISH"),
            HELLO_CHANNEL.as_bytes().to_vec(),
            payload.into_bytes(),
        ];
        self.send_cmd(mi, at, argv, Pending::Publish)
    }

    /// `sentinelSendPeriodicCommands`.
    fn send_periodic(&mut self, mi: usize, at: At, now: i64) {
        let m = &self.masters[mi];
        let inst = self.inst(mi, at);
        if inst.link.disconnected || inst.link.pending_commands >= MAX_PENDING_COMMANDS {
            return;
        }
        let info_pending = inst.link.pending.contains(&Pending::Info);
        let info_period = if self.redoubt && inst.role == Role::Replica && !info_pending && {
            // Redoubt polls the replicas a failover waits for every tick, not every second.
            use crate::failover::state as fs;
            m.inst.has(flags::FAILOVER_IN_PROGRESS)
                && ((inst.has(flags::PROMOTED) && m.failover_state == fs::WAIT_PROMOTION)
                    || (inst.has(flags::RECONF_SENT | flags::RECONF_INPROG)
                        && m.failover_state == fs::RECONF_SLAVES))
        } {
            100
        } else if (inst.role == Role::Replica
            && (m.inst.has(flags::O_DOWN | flags::FAILOVER_IN_PROGRESS)
                || inst.master_link_down_time != 0))
            || (inst.role == Role::Master && inst.has(flags::MASTER_REBOOT))
            || (self.redoubt && inst.role == Role::Replica && m.is_fenced(&inst.ip, inst.port))
        {
            1000
        } else {
            self.timing.info_period
        };
        // A master paused by our coordinated failover would hold a PUBLISH (and every reply
        // after it on this link) until the pause ends.
        let paused_by_us = at == At::Master && m.coord.as_ref().is_some_and(|c| c.active);
        let ping_period = inst.down_after_period.min(self.timing.ping_period);
        let want_info = inst.role != Role::Sentinel
            && (inst.info_refresh == 0 || now - inst.info_refresh > info_period);
        let want_ping = now - inst.link.last_pong_time > ping_period
            && now - inst.link.last_ping_time > ping_period / 2;
        let want_hello = now - inst.last_pub_time > self.timing.publish_period && !paused_by_us;
        if want_info {
            let argv = vec![self.cmd_name(mi, at, "INFO")];
            self.send_cmd(mi, at, argv, Pending::Info);
        }
        if want_ping {
            self.send_ping(mi, at, now);
        }
        if want_hello {
            self.send_hello(mi, at);
        }
    }

    /// `sentinelCheckSubjectivelyDown`.
    fn check_sdown(&mut self, mi: usize, at: At, now: i64) {
        let reconnect = self.timing.min_link_reconnect_period;
        let publish = self.timing.publish_period;
        let info_period = self.timing.info_period;
        let inst = self.inst_mut(mi, at);
        let l = &inst.link;
        let elapsed = if l.act_ping_time != 0 {
            now - l.act_ping_time
        } else if l.disconnected {
            now - l.last_avail_time
        } else {
            0
        };
        let half = inst.down_after_period / 2;
        let mut close = Vec::new();
        if let Some(c) = l.cmd {
            if now - l.cc_conn_time > reconnect
                && l.act_ping_time != 0
                && now - l.act_ping_time > half
                && now - l.last_pong_time > half
            {
                close.push(c);
            }
        }
        if let Some(p) = l.pubsub {
            if now - l.pc_conn_time > reconnect
                && now - l.pc_last_activity > publish.saturating_mul(3)
            {
                close.push(p);
            }
        }
        for id in close {
            self.link_closed(id);
        }
        let inst = self.inst_mut(mi, at);
        let down = elapsed > inst.down_after_period
            || (inst.role == Role::Master
                && inst.role_reported == Some(Role::Replica)
                && now - inst.role_reported_time
                    > inst
                        .down_after_period
                        .saturating_add(info_period.saturating_mul(2)));
        let reboot_period = self.masters[mi].master_reboot_down_after_period;
        let inst = self.inst(mi, at);
        let down = down
            || (inst.role == Role::Master
                && inst.has(flags::MASTER_REBOOT)
                && now - inst.master_reboot_since_time < reboot_period);
        if down {
            if !inst.has(flags::S_DOWN) {
                self.inst_event(Level::Warning, "+sdown", mi, at, "");
                let inst = self.inst_mut(mi, at);
                inst.s_down_since_time = now;
                inst.flags |= flags::S_DOWN;
            }
        } else if inst.has(flags::S_DOWN) {
            self.inst_event(Level::Warning, "-sdown", mi, at, "");
            self.inst_mut(mi, at).flags &= !(flags::S_DOWN | flags::SCRIPT_KILL_SENT);
        }
    }

    /// `sentinelCheckObjectivelyDown`.
    fn check_odown(&mut self, mi: usize, now: i64) {
        let m = &self.masters[mi];
        let mut quorum = 0i64;
        let mut odown = false;
        if m.inst.has(flags::S_DOWN) {
            quorum = 1 + m
                .sentinels
                .iter()
                .filter(|s| s.has(flags::MASTER_DOWN))
                .count() as i64;
            odown = quorum >= m.quorum;
        }
        let q = m.quorum;
        if odown {
            if !m.inst.has(flags::O_DOWN) {
                self.master_event(
                    Level::Warning,
                    "+odown",
                    mi,
                    &format!(" #quorum {quorum}/{q}"),
                );
                let m = &mut self.masters[mi];
                m.inst.flags |= flags::O_DOWN;
                m.inst.o_down_since_time = now;
            }
        } else if m.inst.has(flags::O_DOWN) {
            self.master_event(Level::Warning, "-odown", mi, "");
            self.masters[mi].inst.flags &= !flags::O_DOWN;
        }
    }

    /// `sentinelAskMasterStateToOtherSentinels`.
    fn ask_master_state(&mut self, mi: usize, forced: bool, now: i64) {
        let ask = self.timing.ask_period;
        for si in 0..self.masters[mi].sentinels.len() {
            let m = &mut self.masters[mi];
            let s = &mut m.sentinels[si];
            if now - s.last_master_down_reply_time > ask.saturating_mul(5) {
                s.flags &= !flags::MASTER_DOWN;
                s.leader = None;
            }
            if !m.inst.has(flags::S_DOWN) || s.link.disconnected {
                continue;
            }
            // Redoubt asks every tick between SDOWN and ODOWN (one question in flight at a
            // time): the peers' own SDOWN is seen within 100 ms, not up to a second later.
            let period = if self.redoubt && !m.inst.has(flags::O_DOWN) {
                if s.link.pending.contains(&Pending::IsMasterDown) {
                    continue;
                }
                100.min(ask)
            } else {
                ask
            };
            if !forced && now - s.last_master_down_reply_time < period {
                continue;
            }
            let runid = if m.failover_state > 0 {
                self.myid.clone()
            } else {
                "*".to_string()
            };
            let argv = vec![
                b"SENTINEL".to_vec(),
                b"is-master-down-by-addr".to_vec(),
                m.inst.ip.clone().into_bytes(),
                m.inst.port.to_string().into_bytes(),
                self.current_epoch.to_string().into_bytes(),
                runid.into_bytes(),
            ];
            self.send_cmd(mi, At::Sentinel(si), argv, Pending::IsMasterDown);
        }
    }

    /// `sentinelHandleRedisInstance` for one instance.
    fn handle_instance(&mut self, mi: usize, at: At, now: i64) {
        self.reconnect(mi, at, now);
        if let At::Replica(ri) = at {
            if !self.tilt {
                self.fence_ahead(mi, ri, now);
            }
        }
        self.send_periodic(mi, at, now);
        if self.tilt {
            if now - self.tilt_start_time < self.timing.tilt_period {
                return;
            }
            self.tilt = false;
            self.event(Level::Warning, "-tilt", "#tilt mode exited".to_string());
        }
        self.check_sdown(mi, at, now);
        if at == At::Master {
            self.check_odown(mi, now);
            if self.start_failover_if_needed(mi, now) {
                self.ask_master_state(mi, true, now);
            }
            self.failover_state_machine(mi, now);
            self.ask_master_state(mi, false, now);
        }
    }

    /// `sentinelCheckTiltCondition`: a clock jump or a stalled process makes every
    /// observation suspect, so Sentinel stops acting for a while.
    fn check_tilt(&mut self, now: i64) {
        let delta = now - self.previous_time;
        if delta < 0 || delta > self.timing.tilt_trigger {
            self.tilt = true;
            self.tilt_start_time = now;
            self.event(Level::Warning, "+tilt", "#tilt mode entered".to_string());
        }
        self.previous_time = now;
    }

    /// Redis's `sentinelTimer` (without scripts and failover): every master, then its
    /// replicas and Sentinels. Returns the delay until the next tick the driver should use
    /// (Redis randomizes `hz` so Sentinels do not move in lockstep).
    pub fn tick(&mut self, now: i64) -> i64 {
        self.check_tilt(now);
        for mi in 0..self.masters.len() {
            self.handle_instance(mi, At::Master, now);
            for ri in 0..self.masters[mi].replicas.len() {
                self.handle_instance(mi, At::Replica(ri), now);
            }
            for si in 0..self.masters[mi].sentinels.len() {
                self.handle_instance(mi, At::Sentinel(si), now);
            }
        }
        self.run_scripts(now);
        // Redis switches at most one master per timer run, after the loop.
        if let Some(mi) = (0..self.masters.len())
            .rev()
            .find(|&mi| self.masters[mi].failover_state == crate::failover::state::UPDATE_CONFIG)
        {
            self.switch_to_promoted(mi, now);
        }
        // CONFIG_DEFAULT_HZ + rand() % CONFIG_DEFAULT_HZ.
        1000 / (10 + self.rand(10))
    }

    /// A link finished connecting; `local_ip` is our address on it (hellos announce it).
    pub fn on_connected(&mut self, link: LinkId, local_ip: &str, now: i64) {
        let Some((mi, at, kind)) = self.at_of_link(link) else {
            return;
        };
        if kind == LinkKind::Cmd {
            self.inst_mut(mi, at).link.local_ip = Some(local_ip.to_string());
            // A former master reached again: its SLAVEOF goes right behind the handshake,
            // before anything is asked of it.
            if let At::Replica(ri) = at {
                if !self.tilt {
                    self.fence_ahead(mi, ri, now);
                }
            }
        }
    }

    /// `instanceLinkCloseConnection` for one connection (closed by us).
    fn link_closed(&mut self, link: LinkId) {
        if let Some((mi, at, kind)) = self.at_of_link(link) {
            let l = &mut self.inst_mut(mi, at).link;
            match kind {
                LinkKind::Cmd => {
                    l.cmd = None;
                    l.pending.clear();
                    l.pending_commands = 0;
                    l.local_ip = None;
                }
                LinkKind::PubSub => l.pubsub = None,
            }
            l.disconnected = true;
        }
        self.links.remove(&link);
        self.actions.push(Action::Close { link });
    }

    /// The connection failed or was closed by the peer (`sentinelDisconnectCallback`).
    pub fn on_disconnect(&mut self, link: LinkId, _now: i64) {
        if let Some((mi, at, kind)) = self.at_of_link(link) {
            let l = &mut self.inst_mut(mi, at).link;
            match kind {
                LinkKind::Cmd => {
                    l.cmd = None;
                    l.pending.clear();
                    l.pending_commands = 0;
                    l.local_ip = None;
                }
                LinkKind::PubSub => l.pubsub = None,
            }
            l.disconnected = true;
        }
        self.links.remove(&link);
    }

    /// One reply arrived on a cmd link (in the order the commands were sent).
    pub fn on_reply(&mut self, link: LinkId, reply: &Value, now: i64) {
        let Some((mi, at, kind)) = self.at_of_link(link) else {
            return;
        };
        if kind == LinkKind::PubSub {
            self.inst_mut(mi, at).link.pc_last_activity = now;
            return;
        }
        let l = &mut self.inst_mut(mi, at).link;
        let Some(what) = l.pending.pop_front() else {
            return;
        };
        l.pending_commands = l.pending_commands.saturating_sub(1);
        match what {
            Pending::Discard => {}
            Pending::Ping => self.ping_reply(mi, at, reply, now),
            Pending::Info => {
                if let Value::Bulk(b) | Value::Verbatim(_, b) = reply {
                    let text = String::from_utf8_lossy(b).into_owned();
                    self.refresh_info(mi, at, &text, now);
                }
            }
            Pending::Publish => {
                if !matches!(reply, Value::Error(_)) {
                    self.inst_mut(mi, at).last_pub_time = now;
                }
            }
            Pending::IsMasterDown => self.is_master_down_reply(mi, at, reply, now),
            Pending::Freeze => self.freeze_reply(mi, at, reply, now),
            Pending::PausedInfo => {
                if let Value::Bulk(b) | Value::Verbatim(_, b) = reply {
                    let text = String::from_utf8_lossy(b).into_owned();
                    let offset = info::parse(&text).master_repl_offset;
                    self.refresh_info(mi, at, &text, now);
                    if let Some(c) = self.masters[mi].coord.as_mut() {
                        c.target_offset = offset;
                    }
                }
            }
        }
    }

    /// `sentinelPingReplyCallback`.
    fn ping_reply(&mut self, mi: usize, at: At, reply: &Value, now: i64) {
        let text = match reply {
            Value::Simple(s) | Value::Error(s) => Some(s.as_str()),
            _ => None,
        };
        if let Some(t) = text {
            if t.starts_with("PONG") || t.starts_with("LOADING") || t.starts_with("MASTERDOWN") {
                let inst = self.inst_mut(mi, at);
                inst.link.last_avail_time = now;
                inst.link.act_ping_time = 0;
                if inst.has(flags::MASTER_REBOOT) && t.starts_with("PONG") {
                    inst.flags &= !flags::MASTER_REBOOT;
                }
                // A former master answering again: look at its role now, not at the next
                // INFO period, so it is fenced within a PING period (Redoubt).
                let (ip, port) = (inst.ip.clone(), inst.port);
                if self.redoubt
                    && matches!(at, At::Replica(_))
                    && self.masters[mi].is_fenced(&ip, port)
                    && !self.inst(mi, at).link.pending.contains(&Pending::Info)
                {
                    let argv = vec![self.cmd_name(mi, at, "INFO")];
                    self.send_cmd(mi, at, argv, Pending::Info);
                }
            } else if t.starts_with("BUSY")
                && self.inst(mi, at).has(flags::S_DOWN)
                && !self.inst(mi, at).has(flags::SCRIPT_KILL_SENT)
            {
                let argv = vec![self.cmd_name(mi, at, "SCRIPT"), b"KILL".to_vec()];
                self.send_cmd(mi, at, argv, Pending::Discard);
                self.inst_mut(mi, at).flags |= flags::SCRIPT_KILL_SENT;
            }
        }
        self.inst_mut(mi, at).link.last_pong_time = now;
    }

    /// `sentinelReceiveIsMasterDownReply`.
    fn is_master_down_reply(&mut self, mi: usize, at: At, reply: &Value, now: i64) {
        let Value::Array(items) = reply else { return };
        let [Value::Int(down), Value::Bulk(leader), Value::Int(epoch)] = items.as_slice() else {
            return;
        };
        let leader = String::from_utf8_lossy(leader).into_owned();
        let s = self.inst_mut(mi, at);
        s.last_master_down_reply_time = now;
        if *down == 1 {
            s.flags |= flags::MASTER_DOWN;
        } else {
            s.flags &= !flags::MASTER_DOWN;
        }
        if leader != "*" {
            let changed = s.leader_epoch as i64 != *epoch;
            let name = s.name.clone();
            s.leader = Some(leader.clone());
            s.leader_epoch = *epoch as u64;
            if changed {
                self.log(Level::Warning, format!("{name} voted for {leader} {epoch}"));
            }
        }
    }

    /// A pub/sub frame on a pub/sub link (`sentinelReceiveHelloMessages`).
    pub fn on_message(&mut self, link: LinkId, frame: &Value, now: i64) {
        let Some((mi, at, _)) = self.at_of_link(link) else {
            return;
        };
        self.inst_mut(mi, at).link.pc_last_activity = now;
        let items = match frame {
            Value::Array(v) | Value::Push(v) => v,
            _ => return,
        };
        let [Value::Bulk(kind), Value::Bulk(_), Value::Bulk(payload)] = items.as_slice() else {
            return;
        };
        if &kind[..] != b"message" {
            return;
        }
        // Our own hellos come back too.
        if !self.myid.is_empty()
            && payload
                .windows(self.myid.len())
                .any(|w| w == self.myid.as_bytes())
        {
            return;
        }
        self.process_hello(payload, now);
    }

    /// `sentinelProcessHelloMessage`: from a master's or replica's channel, or PUBLISHed
    /// directly to this Sentinel.
    pub fn process_hello(&mut self, payload: &[u8], now: i64) {
        let Some(h) = hello::parse(payload) else {
            return;
        };
        let Some(mi) = self.master_index(&h.master_name) else {
            return;
        };
        let m = &self.masters[mi];
        let mut si = m
            .sentinels
            .iter()
            .position(|s| s.ip == h.ip && s.port == h.port && s.runid.as_deref() == Some(&h.runid));
        if si.is_none() {
            // Same run id at a new address: forget the old entry.
            let removed = self.remove_sentinels_with_runid(mi, &h.runid);
            if removed > 0 {
                self.master_event(
                    Level::Notice,
                    "+sentinel-address-switch",
                    mi,
                    &format!(" ip {} port {} for {}", h.ip, h.port, h.runid),
                );
            } else if let Some(other) = self.masters[mi]
                .sentinels
                .iter()
                .position(|s| s.ip == h.ip && s.port == h.port)
            {
                self.inst_event(
                    Level::Notice,
                    "+sentinel-invalid-addr",
                    mi,
                    At::Sentinel(other),
                    "",
                );
                self.masters[mi].sentinels[other].port = 0;
            }
            if let Ok(idx) = self.create_sentinel(mi, &h.runid, &h.ip, h.port, now) {
                if removed == 0 {
                    self.inst_event(Level::Notice, "+sentinel", mi, At::Sentinel(idx), "");
                }
                self.flush_config();
                si = Some(idx);
            }
        }
        if h.current_epoch > self.current_epoch {
            self.current_epoch = h.current_epoch;
            self.flush_config();
            let e = self.current_epoch;
            // The format is "%llu" alone: no instance description.
            self.event_of(Level::Warning, "+new-epoch", mi, e.to_string());
        }
        if let Some(si) = si {
            let m = &mut self.masters[mi];
            if m.config_epoch < h.master_config_epoch {
                m.config_epoch = h.master_config_epoch;
                if h.master_port != m.inst.port || h.master_ip != m.inst.ip {
                    self.inst_event(
                        Level::Warning,
                        "+config-update-from",
                        mi,
                        At::Sentinel(si),
                        "",
                    );
                    let m = &self.masters[mi];
                    let msg = format!(
                        "{} {} {} {} {}",
                        m.inst.name, m.inst.ip, m.inst.port, h.master_ip, h.master_port
                    );
                    let old = (m.inst.ip.clone(), m.inst.port);
                    self.event_of(Level::Warning, "+switch-master", mi, msg);
                    self.reset_master_and_change_address(mi, &h.master_ip, h.master_port, now);
                    self.client_reconf_script(
                        mi,
                        false,
                        (&old.0, old.1),
                        (&h.master_ip, h.master_port),
                    );
                }
            }
            if let Some(s) = self.masters[mi].sentinels.get_mut(si) {
                s.last_hello_time = now;
            }
        }
    }

    fn remove_sentinels_with_runid(&mut self, mi: usize, runid: &str) -> usize {
        let mut ids = Vec::new();
        let m = &mut self.masters[mi];
        let before = m.sentinels.len();
        m.sentinels.retain_mut(|s| {
            if s.runid.as_deref() == Some(runid) {
                ids.extend(s.link.take_all());
                false
            } else {
                true
            }
        });
        let removed = before - self.masters[mi].sentinels.len();
        self.close_link_ids(ids);
        removed
    }

    /// `sentinelResetMasterAndChangeAddress`: the master moved (a failover elsewhere).
    /// Replicas are rebuilt from the old list plus the old master, minus the new master.
    pub(crate) fn reset_master_and_change_address(
        &mut self,
        mi: usize,
        ip: &str,
        port: i64,
        now: i64,
    ) {
        let m = &self.masters[mi];
        let mut addrs: Vec<(String, i64)> = m
            .replicas
            .iter()
            .filter(|r| !(r.ip == ip && r.port == port))
            .map(|r| (r.ip.clone(), r.port))
            .collect();
        if !(m.inst.ip == ip && m.inst.port == port) {
            addrs.push((m.inst.ip.clone(), m.inst.port));
        }
        let old = (m.inst.ip.clone(), m.inst.port);
        // The other Sentinels stay: they watch the same group (SENTINEL_RESET_NO_SENTINELS).
        self.reset_master(mi, false, false, now);
        {
            let m = &mut self.masters[mi];
            m.inst.ip = ip.to_string();
            m.inst.port = port;
            m.fenced
                .retain(|(fip, fport)| !(*fport == port && fip.eq_ignore_ascii_case(ip)));
            let moved = !(old.1 == port && old.0.eq_ignore_ascii_case(ip));
            if moved && !m.is_fenced(&old.0, old.1) {
                m.fenced.push(old);
            }
        }
        for (rip, rport) in addrs {
            if let Ok(ri) = self.create_replica(mi, &rip, rport, now) {
                self.replica_event(Level::Notice, "+slave", mi, ri, "");
            }
        }
        self.flush_config();
    }

    /// `sentinelResetMaster`: forget replicas, Sentinels (when `clear_sentinels`) and state.
    pub(crate) fn reset_master(
        &mut self,
        mi: usize,
        with_event: bool,
        clear_sentinels: bool,
        now: i64,
    ) {
        let mut ids = Vec::new();
        {
            let m = &mut self.masters[mi];
            for r in m.replicas.iter_mut() {
                ids.extend(r.link.take_all());
            }
            m.replicas.clear();
            if clear_sentinels {
                for s in m.sentinels.iter_mut() {
                    ids.extend(s.link.take_all());
                }
                m.sentinels.clear();
                // SENTINEL RESET forgets the replicas, former masters among them.
                m.fenced.clear();
            }
            ids.extend(m.inst.link.take_all());
            m.inst.link = crate::state::Link::new(now);
            m.inst.flags &= !(flags::S_DOWN
                | flags::O_DOWN
                | flags::MASTER_DOWN
                | flags::FAILOVER_IN_PROGRESS
                | flags::FORCE_FAILOVER
                | flags::MASTER_REBOOT
                | flags::SCRIPT_KILL_SENT);
            m.leader = None;
            m.promoted_slave = None;
            m.coord = None;
            m.safe = None;
            m.inst.master_replid = None;
            m.inst.acks_before_reply = 0;
            m.failover_state = 0;
            m.failover_state_change_time = 0;
            m.failover_start_time = 0;
            m.inst.runid = None;
            m.inst.info = None;
            m.inst.info_refresh = 0;
            m.inst.role_reported = Some(Role::Master);
            m.inst.role_reported_time = now;
            m.inst.last_pub_time = now;
            m.inst.last_hello_time = now;
            m.inst.s_down_since_time = 0;
            m.inst.o_down_since_time = 0;
        }
        self.close_link_ids(ids);
        if with_event {
            self.master_event(Level::Warning, "+reset-master", mi, "");
        }
    }

    /// `sentinelRefreshInstanceInfo`.
    fn refresh_info(&mut self, mi: usize, at: At, text: &str, now: i64) {
        let f = info::parse(text);
        let is_master = at == At::Master;
        {
            let inst = self.inst_mut(mi, at);
            inst.info = Some(text.to_string());
            inst.master_link_down_time = f.master_link_down_since_ms;
            if f.master_replid.is_some() {
                inst.master_replid = f.master_replid.clone();
            }
            inst.acks_before_reply = f.replica_ack_before_reply.unwrap_or(0);
        }
        if let Some(id) = &f.run_id {
            let inst = self.inst(mi, at);
            match &inst.runid {
                None => self.inst_mut(mi, at).runid = Some(id.clone()),
                Some(old) if old != id => {
                    self.inst_event(Level::Notice, "+reboot", mi, at, "");
                    let reboot = self.masters[mi].master_reboot_down_after_period;
                    let inst = self.inst_mut(mi, at);
                    if is_master && reboot != 0 {
                        inst.flags |= flags::MASTER_REBOOT;
                        inst.master_reboot_since_time = now;
                    }
                    inst.runid = Some(id.clone());
                }
                Some(_) => {}
            }
        }
        if is_master {
            for (ip, port) in &f.replicas {
                if self.masters[mi].replica_index(ip, *port).is_none() {
                    if let Ok(ri) = self.create_replica(mi, ip, *port, now) {
                        self.replica_event(Level::Notice, "+slave", mi, ri, "");
                        self.flush_config();
                    }
                }
            }
        }
        {
            let inst = self.inst_mut(mi, at);
            if f.role == Some(Role::Replica) {
                if let Some(h) = &f.master_host {
                    if inst
                        .slave_master_host
                        .as_ref()
                        .is_none_or(|o| !o.eq_ignore_ascii_case(h))
                    {
                        inst.slave_master_host = Some(h.clone());
                        inst.slave_conf_change_time = now;
                    }
                }
                if let Some(p) = f.master_port {
                    if inst.slave_master_port != p {
                        inst.slave_master_port = p;
                        inst.slave_conf_change_time = now;
                    }
                }
                if let Some(up) = f.master_link_up {
                    inst.slave_master_link_up = up;
                }
                if let Some(p) = f.slave_priority {
                    inst.slave_priority = p;
                }
                if let Some(o) = f.slave_repl_offset {
                    inst.slave_repl_offset = o;
                }
                if let Some(a) = f.replica_announced {
                    inst.replica_announced = a;
                }
            }
            inst.info_refresh = now;
        }
        if f.role == Some(Role::Replica) && matches!(at, At::Replica(_)) {
            let (ip, port) = (self.inst(mi, at).ip.clone(), self.inst(mi, at).port);
            self.masters[mi]
                .fenced
                .retain(|(fip, fport)| !(*fport == port && fip.eq_ignore_ascii_case(&ip)));
        }
        if f.role != self.inst(mi, at).role_reported {
            let inst = self.inst_mut(mi, at);
            inst.role_reported_time = now;
            inst.role_reported = f.role;
            if f.role == Some(Role::Replica) {
                inst.slave_conf_change_time = now;
            }
            let coherent = Some(inst.role) == f.role;
            let new_role = if f.role == Some(Role::Master) {
                "master"
            } else {
                "slave"
            };
            let kind = if coherent {
                "+role-change"
            } else {
                "-role-change"
            };
            self.inst_event(
                Level::Verbose,
                kind,
                mi,
                at,
                &format!(" new reported role is {new_role}"),
            );
        }
        if !self.tilt {
            self.info_acting_half(mi, at, f.role, now);
        }
    }

    /// The acting half of `sentinelRefreshInstanceInfo`: promotion observed, a replica that
    /// turned master converted back, replicas pointing elsewhere fixed, reconfiguration
    /// progress.
    fn info_acting_half(&mut self, mi: usize, at: At, role: Option<Role>, now: i64) {
        use crate::failover::state as fs;
        let At::Replica(ri) = at else { return };
        let publish4 = self.timing.publish_period.saturating_mul(4);
        if role == Some(Role::Master) {
            let m = &self.masters[mi];
            let r = &m.replicas[ri];
            if r.has(flags::PROMOTED)
                && m.inst.has(flags::FAILOVER_IN_PROGRESS)
                && m.failover_state == fs::WAIT_PROMOTION
            {
                let m = &mut self.masters[mi];
                m.config_epoch = m.failover_epoch;
                m.failover_state = fs::RECONF_SLAVES;
                m.failover_state_change_time = now;
                self.flush_config();
                self.replica_event(Level::Warning, "+promoted-slave", mi, ri, "");
                if self.simfailure_flags & crate::commands::SIMFAILURE_CRASH_AFTER_PROMOTION != 0 {
                    self.sim_failure_crash();
                }
                self.master_event(Level::Warning, "+failover-state-reconf-slaves", mi, "");
                let m = &self.masters[mi];
                let (from, to) = (
                    (m.inst.ip.clone(), m.inst.port),
                    (m.replicas[ri].ip.clone(), m.replicas[ri].port),
                );
                self.client_reconf_script(mi, true, (&from.0, from.1), (&to.0, to.1));
                self.force_hello_update(mi);
                if self.redoubt {
                    self.demote_old_master(mi, to);
                }
            } else if !r.has(flags::PROMOTED)
                && self.master_looks_sane(mi, now)
                && ((self.redoubt && m.is_fenced(&r.ip, r.port))
                    || (no_down_for(r, publish4, now) && now - r.role_reported_time > publish4))
            {
                // Redoubt: a former master that has not been a replica since its failover
                // cannot have been promoted by anyone since, so converting it at once is safe;
                // Redis waits 4 publish periods in case it was.
                let target = (m.inst.ip.clone(), m.inst.port);
                if self.send_slaveof(mi, at, Some(target)) {
                    self.replica_event(Level::Notice, "+convert-to-slave", mi, ri, "");
                }
            }
        }
        let m = &self.masters[mi];
        let r = &m.replicas[ri];
        if role == Some(Role::Replica)
            && (r.slave_master_port != m.inst.port
                || !r
                    .slave_master_host
                    .as_deref()
                    .is_some_and(|h| h.eq_ignore_ascii_case(&m.inst.ip)))
        {
            let wait = m.failover_timeout;
            if self.master_looks_sane(mi, now)
                && no_down_for(r, wait, now)
                && now - r.slave_conf_change_time > wait
            {
                let target = (m.inst.ip.clone(), m.inst.port);
                if self.send_slaveof(mi, at, Some(target)) {
                    self.replica_event(Level::Notice, "+fix-slave-config", mi, ri, "");
                }
            }
        }
        let m = &self.masters[mi];
        let r = &m.replicas[ri];
        if role == Some(Role::Replica) && r.has(flags::RECONF_SENT | flags::RECONF_INPROG) {
            let promoted = self
                .promoted_index(mi)
                .map(|pi| (m.replicas[pi].ip.clone(), m.replicas[pi].port));
            if let Some((pip, pport)) = promoted {
                if r.has(flags::RECONF_SENT)
                    && r.slave_master_host
                        .as_deref()
                        .is_some_and(|h| h.eq_ignore_ascii_case(&pip))
                    && r.slave_master_port == pport
                {
                    let r = &mut self.masters[mi].replicas[ri];
                    r.flags &= !flags::RECONF_SENT;
                    r.flags |= flags::RECONF_INPROG;
                    self.replica_event(Level::Notice, "+slave-reconf-inprog", mi, ri, "");
                }
                let r = &self.masters[mi].replicas[ri];
                if r.has(flags::RECONF_INPROG) && r.slave_master_link_up {
                    let r = &mut self.masters[mi].replicas[ri];
                    r.flags &= !flags::RECONF_INPROG;
                    r.flags |= flags::RECONF_DONE;
                    self.replica_event(Level::Notice, "+slave-reconf-done", mi, ri, "");
                }
            }
        }
    }

    /// Redoubt: a former master still to be fenced gets its SLAVEOF queued on its command
    /// link as soon as there is one, without waiting for it to answer: a paused or
    /// partitioned old master then executes it among the first things it does when it
    /// returns, before it can acknowledge more than a write or so per client. Its INFO
    /// (asked on its first PONG) repeats the conversion if this one was lost.
    fn fence_ahead(&mut self, mi: usize, ri: usize, now: i64) {
        let m = &self.masters[mi];
        let r = &m.replicas[ri];
        let Some(link) = r.link.cmd else { return };
        // Only on a connected link: a connection that fails would be retried every second,
        // each time with a SLAVEOF and an event nobody received.
        if !self.redoubt
            || r.link.local_ip.is_none()
            || r.fence_link == Some(link)
            || r.has(flags::PROMOTED)
            || !m.is_fenced(&r.ip, r.port)
            || m.inst.has(flags::FAILOVER_IN_PROGRESS)
            || !self.master_looks_sane(mi, now)
        {
            return;
        }
        let target = (m.inst.ip.clone(), m.inst.port);
        if self.send_slaveof(mi, At::Replica(ri), Some(target)) {
            self.masters[mi].replicas[ri].fence_link = Some(link);
            self.replica_event(Level::Notice, "+convert-to-slave", mi, ri, "");
        }
    }

    /// `sentinelMasterLooksSane`.
    fn master_looks_sane(&self, mi: usize, now: i64) -> bool {
        let m = &self.masters[mi].inst;
        m.role_reported == Some(Role::Master)
            && !m.has(flags::S_DOWN | flags::O_DOWN)
            && now - m.info_refresh < self.timing.info_period.saturating_mul(2)
    }

    /// `sentinelVoteLeader`: at most one vote per epoch, persisted before the reply.
    pub(crate) fn vote_leader(
        &mut self,
        mi: usize,
        req_epoch: u64,
        req_runid: &str,
        now: i64,
    ) -> (Option<String>, u64) {
        if req_epoch > self.current_epoch {
            self.current_epoch = req_epoch;
            self.flush_config();
            let e = self.current_epoch;
            self.event_of(Level::Warning, "+new-epoch", mi, e.to_string());
        }
        let m = &self.masters[mi];
        if m.leader_epoch < req_epoch && self.current_epoch <= req_epoch {
            let m = &mut self.masters[mi];
            m.leader = Some(req_runid.to_string());
            m.leader_epoch = self.current_epoch;
            self.flush_config();
            let e = self.masters[mi].leader_epoch;
            // The format is "%s %llu": no instance description.
            self.event(
                Level::Warning,
                "+vote-for-leader",
                format!("{req_runid} {e}"),
            );
            if req_runid != self.myid {
                let delay = self.rand(MAX_DESYNC);
                self.masters[mi].failover_start_time = now + delay;
            }
        }
        let m = &self.masters[mi];
        (m.leader.clone(), m.leader_epoch)
    }
}
