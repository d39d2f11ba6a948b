//! The engine: the single writer that owns every piece of server state.
//!
//! One `Engine` value holds the databases, the clients' state, pub/sub, WATCH, and the
//! replication stream. The server crate owns sockets and the clock; it hands each client's
//! decoded requests to [`Engine::execute`] together with the current time, then collects the
//! client's output buffer. Nothing in here does I/O or reads the clock.
//!
//! ## The write path
//! A command that changes data records its *effect* with [`Ctx::propagate`]: the command as it
//! must replay anywhere (`SET k v EX 10` becomes `SET k v PXAT <ms>`, an expiry becomes `DEL`).
//! Effects are appended to [`stream::ReplStream`], one ordered byte stream whose length is
//! `master_repl_offset` once a backlog exists (before that, as in Redis, the bytes are handed
//! out uncounted); a `SELECT` is inserted whenever the database changes, and the effects of
//! one MULTI/EXEC are wrapped in MULTI/EXEC when there is more than one (Redis 7.0's
//! `propagatePendingCommands`). At the end of a batch, [`Engine::end_batch`] hands the new
//! bytes to the consumers (backlog, replicas, AOF, in later issues). That append is the only
//! place a write leaves memory, so all consumers agree on order and offsets.
//!
//! ## Admission
//! [`exec`] checks a request in Redis 7.0's `processCommand` order (unknown command, arity,
//! auth, MULTI rules, OOM, pub/sub context, ...) before the handler runs, so handlers only
//! deal with their own arguments.
//!
//! Must not depend on: tokio, sockets, files, the system clock.
#![forbid(unsafe_code)]

pub mod aof_base;
pub mod aof_replay;
pub mod blocking;
pub mod client;
pub mod commands;
pub mod ctx;
pub mod digest;
pub mod errors;
pub mod evict;
pub mod exec;
pub mod expire;
pub mod failover;
pub mod hooks;
pub mod latency;
pub mod lazyfree;
#[cfg(test)]
mod lazyfree_tests;
pub mod loading;
pub mod lru;
pub mod meta;
pub mod pause;
pub mod pubsub;
pub mod repl;
pub mod repl_apply;
pub mod repl_load;
pub mod repl_sync;
#[cfg(test)]
mod repl_tests;
pub mod replica_expire;
pub mod safe;
#[cfg(test)]
mod safe_tests;
pub mod sentinel_mode;
pub mod slowlog;
pub mod snapshot;
pub mod stats;
pub mod stream;
pub mod table;
pub mod testing;

pub use client::{Client, ClientId, ClientIo, ClientKind};
pub use ctx::Ctx;
pub use stream::ReplStream;

/// INFO persistence's AOF fields (`aof_current_size`, `aof_base_size`,
/// `aof_last_write_status`).
#[derive(Debug, Clone, Default)]
pub struct AofStats {
    pub current_size: u64,
    pub base_size: u64,
    pub last_write_ok: bool,
    /// Why the last write or fsync failed (`strerror(aof_last_write_errno)`), for MISCONF.
    pub last_write_error: String,
    /// `aof_buffer_length`: bytes written to the AOF buffer but not yet to the file (kept
    /// after a failed write until a retry succeeds).
    pub buffer_length: u64,
    /// `aof_rewrite_base_size`: the AOF's size after the load or the last rewrite, the
    /// reference of `auto-aof-rewrite-percentage`.
    pub rewrite_base_size: u64,
}

/// The Redis version we are compatible with, reported as `redis_version` (as Valkey does).
pub const REDIS_VERSION: &str = "7.0.15";
/// Redoubt's own version, reported as `redoubt_version`.
pub const REDOUBT_VERSION: &str = env!("CARGO_PKG_VERSION");

use hashbrown::HashMap;
use redoubt_keyspace::{rand::Rng, Db};
use std::rc::Rc;

/// Settings the engine reads on the hot path, copied out of the configuration store and
/// refreshed on CONFIG SET.
#[derive(Debug, Clone)]
pub struct RuntimeConf {
    pub databases: usize,
    pub requirepass: Option<Vec<u8>>,
    pub maxclients: usize,
    pub proto_max_bulk_len: i64,
    pub hz: u32,
    pub maxmemory: u64,
    pub maxmemory_policy: String,
    pub lazyfree_lazy_expire: bool,
    pub lazyfree_lazy_user_del: bool,
    pub lazyfree_lazy_user_flush: bool,
    pub lazyfree_lazy_server_del: bool,
    pub lazyfree_lazy_eviction: bool,
    pub slowlog_log_slower_than: i64,
    pub slowlog_max_len: usize,
    /// `latency-tracking`: per-command latency histograms for INFO latencystats.
    pub latency_tracking: bool,
    pub active_expire_enabled: bool,
    pub port: u16,
    /// `client-output-buffer-limit` for normal, replica and pubsub clients.
    pub obuf_limits: [ObufLimit; 3],
    pub enable_debug_command: Protected,
    pub enable_module_command: Protected,
    pub lfu_log_factor: f64,
    pub lfu_decay_time: u32,
}

/// `enable-debug-command` / `enable-module-command` / `enable-protected-configs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protected {
    No,
    Yes,
    Local,
}

impl Protected {
    /// Redis's `allowProtectedAction`.
    pub fn allows(self, local_client: bool) -> bool {
        self == Protected::Yes || (self == Protected::Local && local_client)
    }
}

/// One `client-output-buffer-limit` class: bytes (0 = none) and seconds over the soft limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObufLimit {
    pub hard_bytes: u64,
    pub soft_bytes: u64,
    pub soft_secs: u64,
}

impl ObufLimit {
    /// `used` bytes for `c` are past the hard limit, or past the soft limit for longer than
    /// its seconds (`checkClientOutputBufferLimits`); tracks when the soft limit was crossed.
    pub fn reached(&self, c: &mut Client, used: u64, now_ms: i64) -> bool {
        let hard = self.hard_bytes > 0 && used >= self.hard_bytes;
        let mut soft = false;
        if self.soft_bytes > 0 && used >= self.soft_bytes {
            let since = *c.obuf_soft_since_ms.get_or_insert(now_ms);
            soft = (now_ms - since) as u64 > self.soft_secs * 1000;
        } else {
            c.obuf_soft_since_ms = None;
        }
        hard || soft
    }
}

/// Index into `RuntimeConf::obuf_limits`, as Redis's CLIENT_TYPE_* order in the directive.
pub const OBUF_NORMAL: usize = 0;
pub const OBUF_REPLICA: usize = 1;
pub const OBUF_PUBSUB: usize = 2;

impl RuntimeConf {
    /// Reads the hot-path settings out of the configuration store.
    pub fn from_config(cfg: &redoubt_config::Config) -> RuntimeConf {
        let protected = |name: &str| match cfg.get_enum(name).as_ref() {
            "yes" => Protected::Yes,
            "local" => Protected::Local,
            _ => Protected::No,
        };
        let limits = cfg.client_output_buffer_limits();
        let obuf = |i: usize| ObufLimit {
            hard_bytes: limits[i].hard_limit_bytes,
            soft_bytes: limits[i].soft_limit_bytes,
            soft_secs: limits[i].soft_limit_seconds.max(0) as u64,
        };
        RuntimeConf {
            databases: cfg.get_int("databases").max(1) as usize,
            requirepass: cfg.get_opt_bytes("requirepass").map(|p| p.to_vec()),
            maxclients: cfg.get_int("maxclients").max(1) as usize,
            proto_max_bulk_len: cfg.get_int("proto-max-bulk-len"),
            hz: cfg.get_int("hz").clamp(1, 500) as u32,
            maxmemory: cfg.get_u64("maxmemory"),
            maxmemory_policy: cfg.get_enum("maxmemory-policy").into_owned(),
            lazyfree_lazy_expire: cfg.get_bool("lazyfree-lazy-expire"),
            lazyfree_lazy_user_del: cfg.get_bool("lazyfree-lazy-user-del"),
            lazyfree_lazy_user_flush: cfg.get_bool("lazyfree-lazy-user-flush"),
            lazyfree_lazy_server_del: cfg.get_bool("lazyfree-lazy-server-del"),
            lazyfree_lazy_eviction: cfg.get_bool("lazyfree-lazy-eviction"),
            slowlog_log_slower_than: cfg.get_int("slowlog-log-slower-than"),
            slowlog_max_len: cfg.get_int("slowlog-max-len").max(0) as usize,
            latency_tracking: cfg.get_bool("latency-tracking"),
            active_expire_enabled: true,
            port: cfg.get_int("port").clamp(0, 65535) as u16,
            obuf_limits: [obuf(0), obuf(1), obuf(2)],
            enable_debug_command: protected("enable-debug-command"),
            enable_module_command: protected("enable-module-command"),
            lfu_log_factor: cfg.get_int("lfu-log-factor").max(0) as f64,
            lfu_decay_time: cfg.get_int("lfu-decay-time").max(0) as u32,
        }
    }
}

impl Default for RuntimeConf {
    fn default() -> Self {
        RuntimeConf {
            databases: 16,
            requirepass: None,
            maxclients: 10000,
            proto_max_bulk_len: 512 * 1024 * 1024,
            hz: 10,
            maxmemory: 0,
            maxmemory_policy: "noeviction".into(),
            lazyfree_lazy_expire: false,
            lazyfree_lazy_user_del: false,
            lazyfree_lazy_user_flush: false,
            lazyfree_lazy_server_del: false,
            lazyfree_lazy_eviction: false,
            slowlog_log_slower_than: 10000,
            slowlog_max_len: 128,
            latency_tracking: true,
            active_expire_enabled: true,
            port: 6379,
            obuf_limits: [
                ObufLimit {
                    hard_bytes: 0,
                    soft_bytes: 0,
                    soft_secs: 0,
                },
                ObufLimit {
                    hard_bytes: 256 << 20,
                    soft_bytes: 64 << 20,
                    soft_secs: 60,
                },
                ObufLimit {
                    hard_bytes: 32 << 20,
                    soft_bytes: 8 << 20,
                    soft_secs: 60,
                },
            ],
            enable_debug_command: Protected::No,
            enable_module_command: Protected::No,
            lfu_log_factor: 10.0,
            lfu_decay_time: 1,
        }
    }
}

/// The whole server state.
pub struct Engine {
    pub dbs: Vec<Db>,
    /// Clients not currently executing. The executing client is lent out to its `Ctx`.
    pub clients: HashMap<ClientId, Box<Client>>,
    pub pubsub: pubsub::PubSub,
    pub stream: ReplStream,
    pub stats: stats::Stats,
    pub conf: RuntimeConf,
    pub table: Rc<table::Table>,
    pub rng: Rng,
    /// (db, key) -> clients watching it.
    pub watched: HashMap<(usize, Vec<u8>), Vec<ClientId>>,
    pub monitors: Vec<ClientId>,
    next_client_id: ClientId,
    /// Set by SHUTDOWN; the server acts on it after the batch.
    pub shutdown: Option<ShutdownRequest>,
    /// Server facts the engine reports but does not own (INFO server section).
    pub info: ServerFacts,
    /// CLIENT PAUSE state; the server's connection loop postpones paused clients' commands.
    pub pause: pause::ClientPause,
    pub slowlog: slowlog::SlowLog,
    /// Unix time in seconds of the last successful save (LASTSAVE, `rdb_last_save_time`).
    /// A server that never saved reports its start time, as Redis does.
    pub lastsave_s: i64,
    /// `used_memory_startup`: the allocator's reading once the server is initialized.
    pub mem_startup: u64,
    /// The time of the batch being executed (set by `execute` and the cron).
    pub now_ms: i64,
    /// Every directive's value (CONFIG GET/SET/REWRITE); `conf` caches the hot ones.
    pub config: redoubt_config::Config,
    /// The config file's absolute path, for CONFIG REWRITE; `None` without one.
    pub config_file: Option<String>,
    /// Lines DEBUG LOG asked to write; the server logs them after the batch.
    pub log_requests: Vec<String>,
    /// The process around the engine (files, listeners), for CONFIG SET/REWRITE.
    pub hooks: Rc<dyn hooks::ServerHooks>,
    /// Access words of Redis's shared integer objects (see [`lru`]).
    pub shared_ints: lru::SharedInts,
    /// Clients blocked by BLPOP and friends (see [`blocking`]).
    pub blocking: blocking::Blocking,
    /// The background free thread's handle (see [`lazyfree`]); inline without one.
    pub lazyfree: lazyfree::LazyFree,
    /// Save and load bookkeeping (INFO persistence).
    pub rdb: commands::persistence::RdbState,
    /// Sentinel mode: the Sentinel core behind SENTINEL, INFO, ROLE and PUBLISH.
    pub sentinel: Option<Rc<dyn sentinel_mode::SentinelHooks>>,
    /// Replication: IDs, backlog, replicas, our master (see [`repl`]).
    pub repl: repl::Repl,
    /// The BGSAVE in progress (Redis's RDB child).
    pub bgsave: Option<Box<commands::bgsave::BgSave>>,
    /// What INFO reports of the AOF, kept by the server that writes it; `None` when off.
    pub aof: Option<AofStats>,
    /// The dataset is loading (see [`loading`]); `None` once it is in.
    pub loading: Option<loading::Loading>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownRequest {
    pub save: Option<bool>,
    pub now: bool,
    pub force: bool,
}

/// Process facts filled in by the server crate.
#[derive(Debug, Clone)]
pub struct ServerFacts {
    pub pid: u32,
    pub run_id: String,
    pub tcp_port: u16,
    pub executable: String,
    pub config_file: String,
    pub start_ms: i64,
    pub os: String,
    pub arch_bits: u32,
    pub used_memory: fn() -> MemoryStats,
    /// `master_replid`: 40 random hex digits chosen at startup.
    pub replid: String,
    /// A monotonic clock in microseconds, used only to measure command durations
    /// (commandstats, latencystats, SLOWLOG); `now` remains the batch's argument.
    pub clock_us: fn() -> u64,
    /// CPU time used by the process (INFO cpu), read by the server crate.
    pub cpu: fn() -> CpuUsage,
    /// Physical memory of the machine in bytes (`total_system_memory`).
    pub total_system_memory: u64,
    /// `mem_allocator`, e.g. `jemalloc-5.3.0`.
    pub mem_allocator: String,
    /// The allocator's statistics report (MEMORY MALLOC-STATS), when it has one.
    pub malloc_stats: Option<fn() -> String>,
    /// Wall-clock microseconds, for MONITOR lines only (decisions use the batch's `now_ms`).
    pub wall_us: fn() -> i64,
    /// A cheap reading of allocated bytes for maxmemory checks before each command.
    pub used_memory_fast: fn() -> u64,
}

/// CPU time in microseconds (getrusage), for INFO cpu.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuUsage {
    pub sys_us: u64,
    pub user_us: u64,
    pub sys_children_us: u64,
    pub user_children_us: u64,
    pub sys_main_thread_us: u64,
    pub user_main_thread_us: u64,
}

fn no_clock() -> u64 {
    0
}

fn no_cpu() -> CpuUsage {
    CpuUsage::default()
}

/// Allocator readings for INFO memory (filled by the server crate, which owns jemalloc).
#[derive(Debug, Clone, Copy, Default)]
pub struct MemoryStats {
    pub allocated: u64,
    pub active: u64,
    pub resident: u64,
    pub retained: u64,
    pub mapped: u64,
    pub rss: u64,
}

fn no_memory_stats() -> MemoryStats {
    MemoryStats::default()
}

impl Default for ServerFacts {
    fn default() -> Self {
        ServerFacts {
            pid: 0,
            run_id: "0".repeat(40),
            tcp_port: 0,
            executable: String::new(),
            config_file: String::new(),
            start_ms: 0,
            os: String::new(),
            arch_bits: 64,
            used_memory: no_memory_stats,
            replid: "0".repeat(40),
            clock_us: no_clock,
            cpu: no_cpu,
            total_system_memory: 0,
            mem_allocator: "libc".into(),
            malloc_stats: None,
            used_memory_fast: || 0,
            wall_us: || 0,
        }
    }
}

impl Engine {
    pub fn new(conf: RuntimeConf, seed: u64) -> Self {
        Engine::with_table(conf, seed, Rc::new(table::Table::build()))
    }

    /// An engine using an already built command table (building one dominates `new`; the
    /// fuzzers build one per thread). The table carries the command statistics.
    pub fn with_table(conf: RuntimeConf, seed: u64, table: Rc<table::Table>) -> Self {
        let dbs = (0..conf.databases).map(|_| Db::new()).collect();
        Engine {
            dbs,
            clients: HashMap::new(),
            pubsub: pubsub::PubSub::default(),
            stream: ReplStream::new(),
            stats: stats::Stats::default(),
            conf,
            table,
            rng: Rng::new(seed),
            watched: HashMap::new(),
            monitors: Vec::new(),
            next_client_id: 1,
            shutdown: None,
            info: ServerFacts::default(),
            pause: pause::ClientPause::default(),
            slowlog: slowlog::SlowLog::default(),
            lastsave_s: 0,
            mem_startup: 0,
            now_ms: 0,
            config: redoubt_config::Config::new(),
            config_file: None,
            log_requests: Vec::new(),
            hooks: Rc::new(hooks::NoHooks),
            shared_ints: lru::SharedInts::default(),
            blocking: blocking::Blocking::default(),
            lazyfree: lazyfree::LazyFree::inline(),
            rdb: commands::persistence::RdbState::default(),
            sentinel: None,
            repl: repl::Repl::default(),
            bgsave: None,
            aof: None,
            loading: None,
        }
    }

    /// Registers a new connection and returns its id.
    pub fn add_client(&mut self, kind: ClientKind, io: Rc<ClientIo>, now_ms: i64) -> ClientId {
        let id = self.next_client_id;
        self.next_client_id += 1;
        let auth = self.conf.requirepass.is_none();
        let c = Client::new(id, kind, io, now_ms, auth);
        self.clients.insert(id, Box::new(c));
        self.stats.total_connections_received += 1;
        id
    }

    /// Removes a connection and everything it subscribed to or watched.
    pub fn remove_client(&mut self, id: ClientId) {
        if let Some(mut c) = self.clients.remove(&id) {
            self.unregister_blocked(&mut c);
            self.repl.waiting.retain(|w| w.client != id);
            commands::transactions::unwatch_all(self, &mut c);
            self.pubsub.unsubscribe_all(&mut c);
            self.monitors.retain(|&m| m != id);
            if c.repl.is_some() {
                self.repl.replicas.retain(|&r| r != id);
                if self.repl.replicas.is_empty() {
                    self.repl.no_replicas_since_ms = self.now_ms;
                }
                let name = Self::replica_name(&c);
                self.log_notice(&format!("Connection with replica {name} lost."));
            }
            if let Some(m) = self.repl.master.as_mut() {
                if m.client == Some(id) {
                    m.client = None;
                    m.stream_db = c.db;
                }
            }
        }
    }

    pub fn take_client(&mut self, id: ClientId) -> Option<Box<Client>> {
        self.clients.remove(&id)
    }

    pub fn put_client(&mut self, c: Box<Client>) {
        self.clients.insert(c.id, c);
    }

    /// Redis's `checkClientOutputBufferLimits`: past the hard limit, or past the soft limit
    /// for longer than its seconds, the client is closed as soon as possible. Returns true
    /// when the client was marked for closing.
    pub fn check_output_limits(&self, c: &mut Client, now_ms: i64) -> bool {
        if self.output_limit_reached(c, now_ms) {
            Self::close_for_output_limit(c);
            return true;
        }
        false
    }

    /// The check of [`Engine::check_output_limits`] alone (it updates the soft-limit timer),
    /// so a caller can describe the client as Redis logs it: before it is marked for closing
    /// and its buffer dropped.
    pub fn output_limit_reached(&self, c: &mut Client, now_ms: i64) -> bool {
        let class = if c.in_pubsub() {
            OBUF_PUBSUB
        } else if c.kind == ClientKind::Replica {
            OBUF_REPLICA
        } else {
            OBUF_NORMAL
        };
        let used = c.out.len() as u64;
        self.conf.obuf_limits[class].reached(c, used, now_ms) && !c.io.killed.get()
    }

    /// Marks a client over its output limit for closing and drops what it had buffered.
    pub fn close_for_output_limit(c: &mut Client) {
        c.io.killed.set(true);
        c.io.notify.notify();
        c.out.buf.clear();
    }

    /// CONFIG RESETSTAT: every counter INFO reports, per-command stats and latency
    /// histograms, and error counts (Redis's `resetServerStats` + `resetCommandTableStats` +
    /// `resetErrorTableStats`). `dirty` is not a statistic and survives.
    pub fn reset_stats(&mut self) {
        let dirty = self.stats.dirty;
        self.stats = stats::Stats {
            dirty,
            ..stats::Stats::default()
        };
        self.lazyfree.reset_stats();
        for cmd in self.table.iter() {
            cmd.stats.reset();
            for sub in cmd.subcommands.values() {
                sub.stats.reset();
            }
        }
    }

    /// Periodic bookkeeping from the server's cron: instantaneous metrics (sampled every
    /// 100 ms as Redis's `trackInstantaneousMetric`) and the memory peak.
    pub fn stats_cron(&mut self, now_ms: i64) {
        let s = &mut self.stats;
        let readings = [
            s.total_commands_processed,
            s.total_net_input_bytes,
            s.total_net_output_bytes,
        ];
        s.inst.sample(now_ms, readings);
        let used = (self.info.used_memory)().allocated;
        self.stats.observe_memory(used);
        // See `commands::memory::overhead`: the baseline never exceeds current use.
        self.mem_startup = self.mem_startup.min(used);
    }

    pub fn connected_clients(&self) -> usize {
        self.clients.len()
    }

    /// The end-of-batch step (Redis's `beforeSleep`): hands the stream's new bytes to its
    /// consumers. Returns them so the server can write AOF and feed replicas in order.
    pub fn end_batch(&mut self) -> bytes::Bytes {
        // Not while clients are paused: the offset must hold still (Redis's beforeSleep).
        let paused = self.pause.active(self.now_ms) != pause::PauseMode::Off;
        if !paused && std::mem::take(&mut self.repl.get_ack) && !self.repl.replicas.is_empty() {
            self.stream.append_getack();
        }
        if self.repl.failover.state == failover::FailoverState::WaitingForSync {
            self.update_failover(self.now_ms);
        }
        let bytes = self.stream.take_pending();
        if !self.repl.waiting.is_empty() {
            self.serve_waiting_replicas();
        }
        if !bytes.is_empty() {
            if self.repl.backlog.is_none() {
                // Without a backlog there is no replica and no history to continue: Redis's
                // `replicationFeedSlaves` returns early and `master_repl_offset` stays put.
                self.stream.uncount(bytes.len());
            } else {
                self.feed_replicas(&bytes);
            }
        }
        // A PSYNC of this batch wants its snapshot now: its stream starts after these bytes.
        if std::mem::take(&mut self.repl.sync.kick) {
            self.start_pending_sync(self.now_ms, true);
        }
        bytes
    }
}
