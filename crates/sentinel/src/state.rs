//! Sentinel's data: masters, their replicas and Sentinels, links and flags
//! (Redis's `sentinelRedisInstance`, `instanceLink` and `sentinelState`).

use crate::{Action, Level, LinkId, LinkKind, Timing};
use redoubt_keyspace::rand::Rng;
use std::collections::{HashMap, VecDeque};

/// Instance flags (Redis's SRI_*), the ones this core acts on.
pub mod flags {
    pub const S_DOWN: u32 = 1 << 4;
    pub const O_DOWN: u32 = 1 << 5;
    pub const MASTER_DOWN: u32 = 1 << 6;
    pub const FAILOVER_IN_PROGRESS: u32 = 1 << 7;
    pub const PROMOTED: u32 = 1 << 8;
    pub const RECONF_SENT: u32 = 1 << 9;
    pub const RECONF_INPROG: u32 = 1 << 10;
    pub const RECONF_DONE: u32 = 1 << 11;
    pub const FORCE_FAILOVER: u32 = 1 << 12;
    pub const SCRIPT_KILL_SENT: u32 = 1 << 13;
    pub const MASTER_REBOOT: u32 = 1 << 14;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Master,
    Replica,
    Sentinel,
}

/// What a command sent on a cmd link was, so its reply can be routed (hiredis callbacks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pending {
    Discard,
    Ping,
    Info,
    Publish,
    IsMasterDown,
    /// INFO sent to a master right after CLIENT PAUSE WRITE (coordinated failover): its
    /// `master_repl_offset` is the offset the promoted replica must reach.
    PausedInfo,
    /// REPLCONF FREEZE sent to a replica by a safe failover (see [`crate::safe`]).
    Freeze,
}

/// A time far enough in the past that any period has elapsed since.
pub const NEVER: i64 = i64::MIN / 4;

/// Redis's `instanceLink`: the command and pub/sub connections to one instance.
#[derive(Debug, Clone)]
pub struct Link {
    pub cmd: Option<LinkId>,
    pub pubsub: Option<LinkId>,
    /// The local address of the cmd connection, once connected (the hello's ip).
    pub local_ip: Option<String>,
    pub disconnected: bool,
    pub pending_commands: u32,
    pub(crate) pending: VecDeque<Pending>,
    pub cc_conn_time: i64,
    pub pc_conn_time: i64,
    pub pc_last_activity: i64,
    pub last_avail_time: i64,
    pub act_ping_time: i64,
    pub last_ping_time: i64,
    pub last_pong_time: i64,
    pub last_reconn_time: i64,
}

impl Link {
    /// `createInstanceLink`: a new instance counts as just seen, so it goes SDOWN only
    /// after down-after-milliseconds without a reply.
    pub fn new(now: i64) -> Link {
        Link {
            cmd: None,
            pubsub: None,
            local_ip: None,
            disconnected: true,
            pending_commands: 0,
            pending: VecDeque::new(),
            cc_conn_time: 0,
            pc_conn_time: 0,
            pc_last_activity: 0,
            last_avail_time: now,
            act_ping_time: now,
            // "Long ago": Redis starts these at 0 against a wall clock, so the first
            // connection and ping are never delayed; our times may start at 0.
            last_ping_time: NEVER,
            last_pong_time: now,
            last_reconn_time: NEVER,
        }
    }
}

impl Link {
    /// Detaches both connections (Redis's `instanceLinkCloseConnection` on each); the
    /// caller closes the returned ids with [`Sentinel::close_link_ids`].
    pub fn take_all(&mut self) -> Vec<LinkId> {
        let ids = [self.cmd.take(), self.pubsub.take()]
            .into_iter()
            .flatten()
            .collect();
        self.pending.clear();
        self.pending_commands = 0;
        self.local_ip = None;
        self.disconnected = true;
        ids
    }
}

/// One monitored instance: a master, a replica or another Sentinel.
#[derive(Debug, Clone)]
pub struct Instance {
    pub role: Role,
    /// Masters: their configured name; replicas: `ip:port`; Sentinels: their run id.
    pub name: String,
    pub ip: String,
    pub port: i64,
    pub runid: Option<String>,
    pub flags: u32,
    pub link: Link,
    pub s_down_since_time: i64,
    pub o_down_since_time: i64,
    pub down_after_period: i64,
    pub info_refresh: i64,
    pub info: Option<String>,
    pub role_reported: Option<Role>,
    pub role_reported_time: i64,
    pub slave_conf_change_time: i64,
    pub last_pub_time: i64,
    pub last_hello_time: i64,
    pub last_master_down_reply_time: i64,
    pub master_link_down_time: i64,
    pub slave_priority: i64,
    pub replica_announced: bool,
    pub slave_master_host: Option<String>,
    pub slave_master_port: i64,
    pub slave_master_link_up: bool,
    pub slave_repl_offset: u64,
    /// `master_repl_offset` from the last INFO (any role).
    pub master_repl_offset: u64,
    /// `master_replid` from the last INFO (any role).
    pub master_replid: Option<String>,
    /// Redoubt's `replica_ack_before_reply` from the last INFO (0 when absent).
    pub acks_before_reply: i64,
    pub master_reboot_since_time: i64,
    /// When SLAVEOF <new master> was sent during a failover.
    pub slave_reconf_sent_time: i64,
    /// The cmd link a fencing SLAVEOF was queued on (Redoubt; once per link).
    pub fence_link: Option<LinkId>,
    /// Sentinels: the leader this Sentinel voted for, and in which epoch.
    pub leader: Option<String>,
    pub leader_epoch: u64,
}

impl Instance {
    pub fn new(role: Role, name: String, ip: String, port: i64, down_after: i64, now: i64) -> Self {
        Instance {
            role,
            name,
            ip,
            port,
            runid: None,
            flags: 0,
            link: Link::new(now),
            s_down_since_time: 0,
            o_down_since_time: 0,
            down_after_period: down_after,
            info_refresh: 0,
            info: None,
            // Redis: `flags & (SRI_MASTER|SRI_SLAVE)`, nothing for a Sentinel.
            role_reported: match role {
                Role::Sentinel => None,
                r => Some(r),
            },
            role_reported_time: now,
            slave_conf_change_time: now,
            last_pub_time: now,
            last_hello_time: now,
            last_master_down_reply_time: now,
            master_link_down_time: 0,
            slave_priority: crate::DEFAULT_SLAVE_PRIORITY,
            replica_announced: true,
            slave_master_host: None,
            slave_master_port: 0,
            slave_master_link_up: false,
            slave_repl_offset: 0,
            master_repl_offset: 0,
            master_replid: None,
            acks_before_reply: 0,
            master_reboot_since_time: 0,
            slave_reconf_sent_time: 0,
            fence_link: None,
            leader: None,
            leader_epoch: 0,
        }
    }

    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    pub fn type_str(&self) -> &'static str {
        match self.role {
            Role::Master => "master",
            Role::Replica => "slave",
            Role::Sentinel => "sentinel",
        }
    }
}

/// A monitored master and everything Sentinel knows about its group.
#[derive(Debug, Clone)]
pub struct Master {
    pub inst: Instance,
    pub replicas: Vec<Instance>,
    pub sentinels: Vec<Instance>,
    pub quorum: i64,
    pub parallel_syncs: i64,
    pub auth_pass: Option<String>,
    pub auth_user: Option<String>,
    pub config_epoch: u64,
    /// The leader this Sentinel voted for to fail this master over, and its epoch.
    pub leader: Option<String>,
    pub leader_epoch: u64,
    pub failover_epoch: u64,
    pub failover_state: u8,
    pub failover_state_change_time: i64,
    pub failover_start_time: i64,
    pub failover_timeout: i64,
    pub failover_delay_logged: i64,
    pub notification_script: Option<String>,
    pub client_reconfig_script: Option<String>,
    pub renamed_commands: Vec<(String, String)>,
    pub master_reboot_down_after_period: i64,
    /// The replica chosen for promotion (its name), during a failover.
    pub promoted_slave: Option<String>,
    /// A coordinated SENTINEL FAILOVER in progress (Redoubt only, see
    /// [`crate::failover::Coord`]).
    pub coord: Option<crate::failover::Coord>,
    /// Addresses of former masters of this group that have not reported `role:slave` since
    /// they were failed over: one reporting `role:master` is converted at once (Redoubt's
    /// fencing; Redis waits 4 publish periods).
    pub fenced: Vec<(String, i64)>,
    /// `sentinel safe-failover <master> yes` (Redoubt only, see [`crate::safe`]).
    pub safe_failover: bool,
    /// The freeze round of a safe failover in progress.
    pub safe: Option<crate::safe::FreezeRound>,
}

impl Master {
    pub fn new(name: &str, ip: &str, port: i64, quorum: i64, timing: &Timing, now: i64) -> Self {
        Master {
            inst: Instance::new(
                Role::Master,
                name.to_string(),
                ip.to_string(),
                port,
                timing.default_down_after,
                now,
            ),
            replicas: Vec::new(),
            sentinels: Vec::new(),
            quorum,
            parallel_syncs: 1,
            auth_pass: None,
            auth_user: None,
            config_epoch: 0,
            leader: None,
            leader_epoch: 0,
            failover_epoch: 0,
            failover_state: 0,
            failover_state_change_time: 0,
            failover_start_time: 0,
            failover_timeout: timing.default_failover_timeout,
            failover_delay_logged: 0,
            notification_script: None,
            client_reconfig_script: None,
            renamed_commands: Vec::new(),
            master_reboot_down_after_period: 0,
            promoted_slave: None,
            coord: None,
            fenced: Vec::new(),
            safe_failover: false,
            safe: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.inst.name
    }

    /// `sentinelInstanceMapCommand`: the name to send for `cmd` (rename-command).
    pub fn map_command(&self, cmd: &str) -> Vec<u8> {
        self.renamed_commands
            .iter()
            .find(|(old, _)| old.eq_ignore_ascii_case(cmd))
            .map(|(_, new)| new.as_bytes().to_vec())
            .unwrap_or_else(|| cmd.as_bytes().to_vec())
    }

    /// Whether `ip:port` is a former master still to be fenced (see [`Master::fenced`]).
    pub fn is_fenced(&self, ip: &str, port: i64) -> bool {
        self.fenced
            .iter()
            .any(|(fip, fport)| *fport == port && fip.eq_ignore_ascii_case(ip))
    }

    pub fn replica_index(&self, ip: &str, port: i64) -> Option<usize> {
        self.replicas
            .iter()
            .position(|r| r.port == port && r.ip.eq_ignore_ascii_case(ip))
    }
}

/// Which instance of a master a link belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Who {
    Master,
    Replica(String),
    Sentinel(String),
}

#[derive(Debug, Clone)]
pub(crate) struct LinkOwner {
    pub master: String,
    pub who: Who,
    pub kind: LinkKind,
}

/// Global settings from the `sentinel ...` directives that are not per master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Globals {
    pub announce_ip: Option<String>,
    pub announce_port: i64,
    pub deny_scripts_reconfig: bool,
    pub resolve_hostnames: bool,
    pub announce_hostnames: bool,
    pub sentinel_auth_user: Option<String>,
    pub sentinel_auth_pass: Option<String>,
}

impl Default for Globals {
    fn default() -> Self {
        Globals {
            announce_ip: None,
            announce_port: 0,
            // SENTINEL_DEFAULT_DENY_SCRIPTS_RECONFIG: scripts cannot be changed at runtime.
            deny_scripts_reconfig: true,
            resolve_hostnames: false,
            announce_hostnames: false,
            sentinel_auth_user: None,
            sentinel_auth_pass: None,
        }
    }
}

/// Redis's `sentinelState` plus the bits of `server` Sentinel uses.
pub struct Sentinel {
    pub myid: String,
    pub current_epoch: u64,
    /// Masters in creation order (Redis iterates a dict; any fixed order is as valid).
    pub masters: Vec<Master>,
    pub globals: Globals,
    pub timing: Timing,
    /// The port this Sentinel listens on (hellos advertise it).
    pub port: u16,
    /// `requirepass` of this Sentinel: used to authenticate to other Sentinels when
    /// `sentinel-pass` is not set, as Redis does.
    pub requirepass: Option<String>,
    pub tilt: bool,
    pub tilt_start_time: i64,
    pub previous_time: i64,
    pub simfailure_flags: u64,
    pub(crate) rng: Rng,
    pub(crate) next_link: LinkId,
    pub(crate) links: HashMap<LinkId, LinkOwner>,
    pub(crate) actions: Vec<Action>,
    /// Queued and running scripts (Redis's `scripts_queue`).
    pub scripts: Vec<crate::scripts::ScriptJob>,
    pub(crate) next_script: u64,
    /// Redoubt's documented improvements (docs/COMPATIBILITY.md): coordinated manual
    /// failover, immediate fencing of a returning old master, faster asking and INFO
    /// polling around a failover, and the opt-in safe failover (`crate::safe`, only for
    /// masters with `safe-failover yes`). `false` gives redis-sentinel 7.0's timing exactly.
    pub redoubt: bool,
}

impl Sentinel {
    /// A Sentinel with no masters. `myid` is generated from the RNG when the config has none
    /// (see [`crate::config::apply`]).
    pub fn new(seed: u64, port: u16, now: i64) -> Sentinel {
        Sentinel {
            myid: String::new(),
            current_epoch: 0,
            masters: Vec::new(),
            globals: Globals::default(),
            timing: Timing::default(),
            port,
            requirepass: None,
            tilt: false,
            tilt_start_time: 0,
            previous_time: now,
            simfailure_flags: 0,
            rng: Rng::new(seed),
            next_link: 1,
            links: HashMap::new(),
            actions: Vec::new(),
            scripts: Vec::new(),
            next_script: 0,
            redoubt: true,
        }
    }

    /// Everything the core asked for since the last call, in order.
    pub fn take_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.actions)
    }

    pub fn master(&self, name: &str) -> Option<&Master> {
        self.masters.iter().find(|m| m.inst.name == name)
    }

    pub(crate) fn master_index(&self, name: &str) -> Option<usize> {
        self.masters.iter().position(|m| m.inst.name == name)
    }

    /// A fresh 40-hex-digit id (Redis's `getRandomHexChars`).
    pub(crate) fn random_hex40(&mut self) -> String {
        (0..40)
            .map(|_| char::from(b"0123456789abcdef"[self.rng.below(16) as usize]))
            .collect()
    }

    pub(crate) fn rand(&mut self, n: u64) -> i64 {
        if n == 0 {
            0
        } else {
            self.rng.below(n) as i64
        }
    }

    pub(crate) fn log(&mut self, level: Level, line: String) {
        self.actions.push(Action::Log { level, line });
    }

    pub(crate) fn flush_config(&mut self) {
        self.actions.push(Action::FlushConfig);
    }

    pub(crate) fn alloc_link(&mut self, master: &str, who: Who, kind: LinkKind) -> LinkId {
        let id = self.next_link;
        self.next_link += 1;
        self.links.insert(
            id,
            LinkOwner {
                master: master.to_string(),
                who,
                kind,
            },
        );
        id
    }

    /// Forgets and closes links taken out of an instance with [`Link::take_all`].
    pub(crate) fn close_link_ids(&mut self, ids: Vec<LinkId>) {
        for id in ids {
            self.links.remove(&id);
            self.actions.push(Action::Close { link: id });
        }
    }
}
