//! The process around the engine: listeners, connection tasks, the cron timer, signals.
//!
//! `run` takes the listeners and a stop signal from its caller (mini-redis's shape), so
//! tests and the binary drive the same code.

use crate::conn::{self, Peer};
use crate::listeners::Listeners;
use redoubt_engine::commands::bgsave::Work;
use redoubt_engine::Engine;
use std::cell::RefCell;
use std::rc::Rc;
use std::rc::Weak;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::Notify;

/// Networking and process settings the server crate owns.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: Vec<String>,
    pub port: u16,
    pub unixsocket: String,
    pub unixsocketperm: u32,
    pub tcp_backlog: i32,
    pub tcp_keepalive_secs: u64,
    pub timeout_secs: u64,
    pub protected_mode: bool,
    pub client_query_buffer_limit: usize,
    pub pidfile: String,
    pub daemonize: bool,
    pub logfile: String,
    pub loglevel: String,
    pub dir: String,
}

impl Settings {
    pub fn from_config(cfg: &redoubt_config::Config) -> Settings {
        Settings {
            bind: cfg.bind(),
            port: cfg.get_int("port").clamp(0, 65535) as u16,
            unixsocket: cfg.get_str("unixsocket").into_owned(),
            unixsocketperm: cfg.get_int("unixsocketperm").clamp(0, 0o7777) as u32,
            tcp_backlog: cfg.get_int("tcp-backlog").clamp(0, i64::from(i32::MAX)) as i32,
            tcp_keepalive_secs: cfg.get_int("tcp-keepalive").max(0) as u64,
            timeout_secs: cfg.get_int("timeout").max(0) as u64,
            protected_mode: cfg.get_bool("protected-mode"),
            client_query_buffer_limit: cfg.get_u64("client-query-buffer-limit") as usize,
            pidfile: cfg.get_str("pidfile").into_owned(),
            daemonize: cfg.get_bool("daemonize"),
            logfile: cfg.get_str("logfile").into_owned(),
            loglevel: cfg.get_enum("loglevel").into_owned(),
            dir: cfg.dir().to_string(),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bind: vec!["*".into(), "-::*".into()],
            port: 6379,
            unixsocket: String::new(),
            unixsocketperm: 0,
            tcp_backlog: 511,
            tcp_keepalive_secs: 300,
            timeout_secs: 0,
            protected_mode: true,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            pidfile: String::new(),
            daemonize: false,
            logfile: String::new(),
            loglevel: "notice".into(),
            dir: String::new(),
        }
    }
}

/// A consumer of the replication stream's bytes, called in stream order.
pub type StreamTap = Box<dyn FnMut(&[u8])>;

pub struct Shared {
    pub engine: RefCell<Engine>,
    pub settings: RefCell<Settings>,
    pub stop: Notify,
    /// Accept tasks of the TCP listeners, by local address (rebinding replaces them).
    pub tcp_accepts: RefCell<Vec<(std::net::SocketAddr, tokio::task::JoinHandle<()>)>>,
    /// Every byte of the replication stream handed out so far goes to these consumers (the
    /// AOF attaches here; the backlog and replicas are fed inside `Engine::end_batch`).
    pub stream_taps: RefCell<Vec<StreamTap>>,
    /// Wakes the task that drives a BGSAVE's snapshot (`snapshot_task`).
    pub snapshot_wake: Notify,
    /// The AOF being appended to (`appendonly yes`); it also receives every stream batch.
    pub aof: RefCell<Option<crate::aof::AofWriter>>,
    /// `appendfsync always` group commit: stream offsets written to the AOF and made
    /// durable; a connection holds its replies until `aof_synced` reaches what was written
    /// when its batch ended (`wait_aof_durable`). One fsync (`aof_sync_task`) covers every
    /// batch that ran before it, as Redis's one fsync per event-loop iteration.
    pub aof_written: std::cell::Cell<u64>,
    pub aof_synced: std::cell::Cell<u64>,
    aof_sync_wake: Notify,
    aof_synced_notify: Notify,
}

impl Shared {
    pub fn new(mut engine: Engine, settings: Settings) -> Rc<Shared> {
        // A server that never saved counts its start as the last save (Redis's initServer),
        // so save points measure from now, also for servers built without `startup`.
        if engine.lastsave_s == 0 {
            engine.lastsave_s = crate::log::now_ms() / 1000;
        }
        Rc::new(Shared {
            engine: RefCell::new(engine),
            settings: RefCell::new(settings),
            stop: Notify::new(),
            stream_taps: RefCell::new(Vec::new()),
            snapshot_wake: Notify::new(),
            aof: RefCell::new(None),
            aof_written: std::cell::Cell::new(0),
            aof_synced: std::cell::Cell::new(0),
            aof_sync_wake: Notify::new(),
            aof_synced_notify: Notify::new(),
            tcp_accepts: RefCell::new(Vec::new()),
        })
    }

    pub fn spawn_tcp(self: &Rc<Self>, l: TcpListener) {
        let addr = l.local_addr().ok();
        let task = tokio::task::spawn_local(accept_tcp(self.clone(), l));
        if let Some(addr) = addr {
            self.tcp_accepts.borrow_mut().push((addr, task));
        }
    }

    /// The end-of-batch step: the stream's new bytes go to every consumer, in order.
    pub fn end_batch(&self, eng: &mut Engine) {
        for line in eng.log_requests.drain(..) {
            crate::warning!("DEBUG LOG: {line}");
        }
        let bytes = eng.end_batch();
        if bytes.is_empty() {
            if let Some(aof) = self.aof.borrow_mut().as_mut() {
                if aof.last_error().is_some() {
                    aof.retry();
                    sync_aof_status(aof, eng);
                }
            }
        } else {
            // The AOF first: with `appendfsync always` the fsync ends here, before any of
            // this batch's replies is written.
            if let Some(aof) = self.aof.borrow_mut().as_mut() {
                let end = eng.stream.offset();
                aof.annotate(crate::log::now_ms() / 1000);
                let (_, written) = crate::aof::append_without_heartbeats(
                    aof,
                    &bytes,
                    end,
                    eng.stream.handed_heartbeats(),
                );
                if let Some(st) = eng.aof.as_mut() {
                    st.current_size += written;
                }
                sync_aof_status(aof, eng);
                if aof.syncs_before_replies() {
                    self.aof_written.set(end);
                    self.aof_sync_wake.notify_one();
                }
            }
            for tap in self.stream_taps.borrow_mut().iter_mut() {
                tap(&bytes);
            }
        }
    }

    /// Waits until everything written to the AOF when this is called is on disk (only
    /// `appendfsync always` makes anything wait).
    pub async fn wait_aof_durable(&self) {
        let target = self.aof_written.get();
        while self.aof_synced.get() < target {
            let notified = self.aof_synced_notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.aof_synced.get() >= target {
                break;
            }
            notified.await;
        }
    }

    pub fn wake_shutdown_if_requested(&self) {
        if self.engine.borrow().shutdown.is_some() {
            self.stop.notify_one();
        }
    }
}

fn is_loopback(addr: &std::net::SocketAddr) -> bool {
    addr.ip().is_loopback()
}

async fn accept_tcp(shared: Rc<Shared>, listener: TcpListener) {
    loop {
        let Ok((stream, addr)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let keepalive = shared.settings.borrow().tcp_keepalive_secs;
        if keepalive > 0 {
            let sock = socket2::SockRef::from(&stream);
            let ka = socket2::TcpKeepalive::new().with_time(Duration::from_secs(keepalive));
            let _ = sock.set_tcp_keepalive(&ka);
        }
        let laddr = stream
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let fd = {
            use std::os::fd::AsRawFd;
            stream.as_raw_fd() as i64
        };
        let peer = Peer {
            addr: addr.to_string(),
            laddr,
            local: is_loopback(&addr),
            unix: false,
            fd,
        };
        tokio::task::spawn_local(conn::serve(shared.clone(), stream, peer));
    }
}

async fn accept_unix(shared: Rc<Shared>, listener: UnixListener, path: String) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let fd = {
            use std::os::fd::AsRawFd;
            stream.as_raw_fd() as i64
        };
        let peer = Peer {
            addr: format!("{path}:0"),
            laddr: format!("{path}:0"),
            local: true,
            unix: true,
            fd,
        };
        tokio::task::spawn_local(conn::serve(shared.clone(), stream, peer));
    }
}

/// Copies the AOF writer's error state into what INFO and admission read.
fn sync_aof_status(aof: &crate::aof::AofWriter, eng: &mut Engine) {
    if let Some(st) = eng.aof.as_mut() {
        let err = aof.last_error();
        st.last_write_ok = err.is_none();
        st.last_write_error = err.unwrap_or_default();
        st.buffer_length = aof.pending_len() as u64;
    }
}

/// Redis's `serverCron`: active expiry and client timeouts, `hz` times a second.
async fn cron(shared: Rc<Shared>) {
    loop {
        let hz = shared.engine.borrow().conf.hz.clamp(1, 500);
        tokio::time::sleep(Duration::from_millis(1000 / u64::from(hz))).await;
        let now = crate::log::now_ms();
        let mut guard = shared.engine.borrow_mut();
        let eng = &mut *guard;
        if eng.loading.is_some() {
            // Redis runs no serverCron while it loads (no save points, no expiry).
            continue;
        }
        // ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC: 25% of each tick.
        let budget_us = 1_000_000 * 25 / u64::from(hz) / 100;
        let start = Instant::now();
        eng.active_expire_cycle(now, budget_us, &|| start.elapsed().as_micros() as u64);
        eng.stats.expire_cycle_time_used_us += start.elapsed().as_micros() as u64;
        eng.stats_cron(now);
        eng.replication_cron(now);
        let syncing = eng.replicas_syncing();
        crate::sync_files::remove_rdb_used_to_sync_replicas(eng, syncing);
        if let Some(aof) = shared.aof.borrow_mut().as_mut() {
            aof.retry();
            sync_aof_status(aof, eng);
        }
        if eng.sentinel.is_none() {
            eng.save_cron(now);
        }
        let timeout = shared.settings.borrow().timeout_secs;
        if timeout > 0 {
            let limit = timeout as i64 * 1000;
            for c in eng.clients.values() {
                let idle = now - c.last_interaction_ms;
                // Redis never times out pub/sub clients (or, later, replicas and blocked ones).
                if idle > limit && !c.in_pubsub() && c.kind == redoubt_engine::ClientKind::Normal {
                    crate::verbose!("Closing idle client");
                    c.io.killed.set(true);
                    c.io.notify.notify();
                }
            }
        }
        shared.end_batch(eng);
    }
}

/// Drives a BGSAVE: slices of about 1 ms of the snapshot walk on the engine, with every
/// connection task free to run between two slices (the walk's only stall is one slice, or
/// one big value's serialization). `rdb-key-save-delay` (microseconds per key, a test knob
/// as in Redis) slows the walk by sleeping between slices, never inside one.
async fn snapshot_task(shared: Rc<Shared>) {
    loop {
        shared.snapshot_wake.notified().await;
        loop {
            let (work, pause_us) = {
                let mut guard = shared.engine.borrow_mut();
                let eng = &mut *guard;
                let delay = eng.bgsave_key_delay_us();
                let per_call = if delay > 0 {
                    (1000 / delay).max(1) as usize
                } else {
                    256
                };
                let start = Instant::now();
                let now = crate::log::now_ms();
                let work = loop {
                    let w = eng.bgsave_work(now, per_call);
                    if w != Work::More || delay > 0 || start.elapsed() >= Duration::from_millis(1) {
                        break w;
                    }
                };
                let pause = if delay > 0 {
                    delay as u64 * per_call as u64
                } else {
                    0
                };
                (work, pause)
            };
            match work {
                Work::Idle => break,
                Work::Wait => tokio::time::sleep(Duration::from_millis(1)).await,
                Work::More if pause_us > 0 => {
                    tokio::time::sleep(Duration::from_micros(pause_us)).await
                }
                Work::More => tokio::task::yield_now().await,
            }
        }
    }
}

/// The `appendfsync always` fsync: runs once the batches ready to run have run, so one
/// fsync covers all of them, then releases their replies.
async fn aof_sync_task(shared: Rc<Shared>) {
    loop {
        shared.aof_sync_wake.notified().await;
        let target = shared.aof_written.get();
        if target > shared.aof_synced.get() {
            if let Some(w) = shared.aof.borrow_mut().as_mut() {
                w.sync_now();
            }
            shared.aof_synced.set(target);
            shared.aof_synced_notify.notify_waiters();
        }
    }
}

/// Runs the server until `shared.stop` is notified (SHUTDOWN, a signal).
pub async fn run(shared: Rc<Shared>, listeners: Listeners) {
    for l in listeners.tcp {
        shared.spawn_tcp(l);
    }
    if let Some((l, path)) = listeners.unix {
        tokio::task::spawn_local(accept_unix(shared.clone(), l, path));
    }
    tokio::task::spawn_local(cron(shared.clone()));
    tokio::task::spawn_local(snapshot_task(shared.clone()));
    tokio::task::spawn_local(aof_sync_task(shared.clone()));
    shared.stop.notified().await;
}

/// The engine's view of this process (see `redoubt_engine::hooks`).
pub struct Hooks {
    pub shared: Weak<Shared>,
}

impl redoubt_engine::hooks::ServerHooks for Hooks {
    fn chdir(&self, dir: &str) -> Result<String, String> {
        std::env::set_current_dir(dir).map_err(|e| redoubt_config::fsio::strerror(&e))?;
        std::env::current_dir()
            .map(|p| p.display().to_string())
            .map_err(|e| redoubt_config::fsio::strerror(&e))
    }

    fn rewrite_config(&self, path: &str, cfg: &redoubt_config::Config) -> Result<(), String> {
        let opts = redoubt_config::RewriteOptions::default();
        redoubt_config::fsio::rewrite_config_file(std::path::Path::new(path), cfg, &opts)
            .map_err(|e| redoubt_config::fsio::rewrite_error_reply(&e))
    }

    fn rebind(&self, cfg: &redoubt_config::Config) -> Result<(), String> {
        let Some(shared) = self.shared.upgrade() else {
            return Err("shutting down".into());
        };
        let s = Settings::from_config(cfg);
        let current: Vec<std::net::SocketAddr> = shared
            .tcp_accepts
            .borrow()
            .iter()
            .map(|(a, _)| *a)
            .collect();
        let opened = crate::listeners::bind_tcp_all(&s.bind, s.port, s.tcp_backlog, &current)
            .map_err(|e| {
                crate::warning!("{e}");
                "Unable to listen on this port. Check server logs.".to_string()
            })?;
        let keep: Vec<std::net::SocketAddr> = opened.iter().map(|(a, _)| *a).collect();
        // Close what is no longer wanted, then serve the new ones.
        shared.tcp_accepts.borrow_mut().retain(|(addr, task)| {
            let wanted = keep.contains(addr);
            if !wanted {
                task.abort();
            }
            wanted
        });
        for (_, l) in opened {
            if let Some(l) = l {
                shared.spawn_tcp(l);
            }
        }
        Ok(())
    }

    fn write_rdb(&self, filename: &str, data: &[u8]) -> Result<(), String> {
        crate::rdbfile::write_atomic(filename, data)
    }

    fn rdb_sink(
        &self,
        filename: &str,
        checksum: bool,
    ) -> Result<Box<dyn redoubt_engine::snapshot::SnapshotSink>, String> {
        let sink = crate::rdbfile::FileSink::start(filename, checksum)?;
        Ok(Box::new(sink))
    }

    fn aof_rewrite_sink(
        &self,
        checksum: bool,
        split_offset: u64,
        rdb: bool,
    ) -> Result<Box<dyn redoubt_engine::snapshot::SnapshotSink>, String> {
        let shared = self.shared.upgrade().ok_or("shutting down")?;
        let mut aof = shared.aof.borrow_mut();
        match aof.as_mut() {
            Some(w) => w.start_rewrite(checksum, split_offset, rdb),
            None => Err("BGREWRITEAOF with appendonly no is not supported by Redoubt yet".into()),
        }
    }

    fn aof_open(&self, cfg: &redoubt_config::Config) -> Result<(), String> {
        let shared = self.shared.upgrade().ok_or("shutting down")?;
        let w = crate::aof::AofWriter::open_waiting(cfg)?;
        *shared.aof.borrow_mut() = Some(w);
        Ok(())
    }

    fn aof_close(&self) {
        if let Some(shared) = self.shared.upgrade() {
            if let Some(mut w) = shared.aof.borrow_mut().take() {
                w.shut();
            }
        }
    }

    fn aof_rewrite_installed(&self) -> Result<(u64, u64), String> {
        let shared = self.shared.upgrade().ok_or("shutting down")?;
        let mut aof = shared.aof.borrow_mut();
        match aof.as_mut() {
            Some(w) => w.finish_rewrite(),
            None => Err("the AOF is off".into()),
        }
    }

    fn snapshot_started(&self) {
        if let Some(shared) = self.shared.upgrade() {
            shared.snapshot_wake.notify_one();
        }
    }

    fn read_rdb(&self, filename: &str) -> Result<Vec<u8>, String> {
        std::fs::read(filename).map_err(|e| {
            format!(
                "Error reading the RDB file {filename}: {}",
                redoubt_config::fsio::strerror(&e)
            )
        })
    }

    fn log(&self, warning: bool, msg: &str) {
        if warning {
            crate::warning!("{msg}");
        } else {
            crate::notice!("{msg}");
        }
    }

    fn replication_changed(&self, generation: u64, replica: bool) {
        crate::log::set_role(if replica { 'S' } else { 'M' });
        // Called with the engine borrowed: the task reads it only once it runs.
        if let Some(shared) = self.shared.upgrade() {
            crate::replica_link::spawn(&shared, generation);
        }
    }

    fn settings_changed(&self, cfg: &redoubt_config::Config) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        if let Some(aof) = shared.aof.borrow_mut().as_mut() {
            aof.set_policy(crate::aof::policy_of(cfg));
            aof.set_timestamps(cfg.get_bool("aof-timestamp-enabled"));
        }
        let s = Settings::from_config(cfg);
        let level = crate::log::Level::parse(&s.loglevel).unwrap_or(crate::log::Level::Notice);
        crate::log::configure(level, &s.logfile);
        *shared.settings.borrow_mut() = s;
    }
}
