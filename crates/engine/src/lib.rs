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
//! `master_repl_offset`; a `SELECT` is inserted whenever the database changes, and the effects of
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

pub mod client;
pub mod commands;
pub mod ctx;
pub mod digest;
pub mod errors;
pub mod exec;
pub mod expire;
pub mod latency;
pub mod meta;
pub mod pause;
pub mod pubsub;
pub mod slowlog;
pub mod stats;
pub mod stream;
pub mod table;
pub mod testing;

pub use client::{Client, ClientId, ClientIo, ClientKind};
pub use ctx::Ctx;
pub use stream::ReplStream;

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
    pub slowlog_log_slower_than: i64,
    pub slowlog_max_len: usize,
    pub active_expire_enabled: bool,
    pub port: u16,
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
            slowlog_log_slower_than: 10000,
            slowlog_max_len: 128,
            active_expire_enabled: true,
            port: 6379,
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
        }
    }
}

impl Engine {
    pub fn new(conf: RuntimeConf, seed: u64) -> Self {
        let dbs = (0..conf.databases).map(|_| Db::new()).collect();
        Engine {
            dbs,
            clients: HashMap::new(),
            pubsub: pubsub::PubSub::default(),
            stream: ReplStream::new(),
            stats: stats::Stats::default(),
            conf,
            table: Rc::new(table::Table::build()),
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
            commands::transactions::unwatch_all(self, &mut c);
            self.pubsub.unsubscribe_all(&mut c);
            self.monitors.retain(|&m| m != id);
        }
    }

    pub fn take_client(&mut self, id: ClientId) -> Option<Box<Client>> {
        self.clients.remove(&id)
    }

    pub fn put_client(&mut self, c: Box<Client>) {
        self.clients.insert(c.id, c);
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
    }

    /// True while this server replicates from a master (set by the replication issue).
    pub fn is_replica(&self) -> bool {
        false
    }

    pub fn connected_clients(&self) -> usize {
        self.clients.len()
    }

    /// The end-of-batch step (Redis's `beforeSleep`): hands the stream's new bytes to its
    /// consumers. Returns them so the server can write AOF and feed replicas in order.
    pub fn end_batch(&mut self) -> bytes::Bytes {
        self.stream.take_pending()
    }
}
