//! The Sentinel driver: runs the sans-IO core (`redoubt-sentinel`) on the server's
//! `current_thread` LocalSet. It owns the outgoing connections (one tokio task per link,
//! RESP through `redoubt_resp::parse_value`), the timer that calls `tick` (randomized period
//! as Redis's `hz`), and applies the core's actions: connect, send, close, publish an event
//! through the engine's pub/sub, log, and rewrite the config file.
//!
//! Re-entrancy: SENTINEL commands reach the core while the engine is borrowed by a client's
//! batch, so actions from a command are queued and applied by the driver task afterwards,
//! except the config flush, which is done before the reply leaves (a vote must be on disk
//! before it is announced).

use crate::log::{self, Level};
use crate::server::Shared;
use bytes::Bytes;
use redoubt_resp::ReplyBuf;
use redoubt_sentinel::{Action, LinkId, LinkKind, Sentinel};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::{Rc, Weak};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, Notify};

pub struct Driver {
    pub core: RefCell<Sentinel>,
    /// Actions waiting for the driver task (from commands run inside an engine batch).
    queued: RefCell<Vec<Action>>,
    wake: Notify,
    links: RefCell<HashMap<LinkId, LinkHandle>>,
    /// Running scripts: job id -> pid.
    scripts: RefCell<HashMap<u64, u32>>,
    shared: RefCell<Weak<Shared>>,
    config_path: String,
    /// The server directives as loaded (CONFIG is not served in sentinel mode, so they do
    /// not change), for rewrites of the whole file.
    config: redoubt_config::Config,
    /// Events published so far, by type, and `+switch-master` per master name: the metrics
    /// endpoint's counters (`crate::metrics_http`).
    events: RefCell<EventCounts>,
}

/// Events by type, and completed failovers by master name.
type EventCounts = (BTreeMap<String, u64>, BTreeMap<String, u64>);

struct LinkHandle {
    tx: mpsc::UnboundedSender<Vec<u8>>,
    task: tokio::task::JoinHandle<()>,
}

impl Driver {
    pub fn new(core: Sentinel, config_path: String, config: redoubt_config::Config) -> Rc<Driver> {
        Rc::new(Driver {
            core: RefCell::new(core),
            queued: RefCell::new(Vec::new()),
            wake: Notify::new(),
            links: RefCell::new(HashMap::new()),
            scripts: RefCell::new(HashMap::new()),
            shared: RefCell::new(Weak::new()),
            config_path,
            config,
            events: RefCell::default(),
        })
    }

    pub fn attach(&self, shared: &Rc<Shared>) {
        *self.shared.borrow_mut() = Rc::downgrade(shared);
    }

    /// Rewrites the config file with the core's state (`sentinelFlushConfig`).
    pub fn flush_config(&self) -> Result<(), String> {
        let extra = self.core.borrow().rewrite_lines();
        let opts = redoubt_config::RewriteOptions {
            sentinel_mode: true,
            extra: &extra,
            ..Default::default()
        };
        let path = std::path::Path::new(&self.config_path);
        redoubt_config::fsio::rewrite_config_file(path, &self.config, &opts)
            .map_err(|e| redoubt_config::fsio::strerror(&e))
    }

    fn flush_and_log(&self) {
        match self.flush_config() {
            Ok(()) => log::log(Level::Notice, "Sentinel new configuration saved on disk"),
            Err(e) => log::log(
                Level::Warning,
                &format!(
                    "WARNING: Sentinel was not able to save the new configuration on disk!!!: {e}"
                ),
            ),
        }
    }

    fn count_event(&self, channel: &str, message: &str) {
        let mut ev = self.events.borrow_mut();
        *ev.0.entry(channel.to_string()).or_default() += 1;
        if channel == "+switch-master" {
            // `<master name> <old ip> <old port> <new ip> <new port>`
            if let Some(name) = message.split(' ').next() {
                *ev.1.entry(name.to_string()).or_default() += 1;
            }
        }
    }

    pub fn event_counts(&self) -> EventCounts {
        self.events.borrow().clone()
    }

    /// Takes the core's actions and applies them; safe to call only outside an engine borrow.
    fn apply(self: &Rc<Self>) {
        loop {
            let mut actions = std::mem::take(&mut *self.queued.borrow_mut());
            actions.extend(self.core.borrow_mut().take_actions());
            if actions.is_empty() {
                return;
            }
            for a in actions {
                self.apply_one(a);
            }
        }
    }

    fn apply_one(self: &Rc<Self>, a: Action) {
        match a {
            Action::Connect {
                link,
                ip,
                port,
                kind,
            } => {
                let (tx, rx) = mpsc::unbounded_channel();
                let task =
                    tokio::task::spawn_local(run_link(self.clone(), link, ip, port, kind, rx));
                self.links
                    .borrow_mut()
                    .insert(link, LinkHandle { tx, task });
            }
            Action::Send { link, argv } => {
                if let Some(h) = self.links.borrow().get(&link) {
                    let _ = h.tx.send(redoubt_resp::encode_command(&argv));
                }
            }
            Action::Close { link } => {
                if let Some(h) = self.links.borrow_mut().remove(&link) {
                    h.task.abort();
                }
            }
            Action::Publish { channel, message } => {
                self.count_event(&channel, &message);
                if let Some(shared) = self.shared.borrow().upgrade() {
                    let mut eng = shared.engine.borrow_mut();
                    eng.now_ms = log::now_ms();
                    eng.publish_event(channel.as_bytes(), message.as_bytes());
                }
            }
            Action::Log { level, line } => log::log(map_level(level), &line),
            Action::FlushConfig => self.flush_and_log(),
            Action::Exit { code } => std::process::exit(code),
            Action::RunScript { id, argv } => self.run_script(id, argv),
            Action::KillScript { id } => {
                if let Some(pid) = self.scripts.borrow().get(&id) {
                    crate::sys::kill9(*pid);
                }
            }
        }
    }
}

impl Driver {
    /// Starts a notification or client-reconfig script; its exit is reported from a
    /// blocking wait so the event loop never stalls.
    fn run_script(self: &Rc<Self>, id: u64, argv: Vec<String>) {
        let Some((path, args)) = argv.split_first() else {
            return;
        };
        let child = std::process::Command::new(path)
            .args(args)
            .stdin(std::process::Stdio::null())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(_) => {
                self.core.borrow_mut().on_script_spawn_failed(id);
                return;
            }
        };
        let pid = child.id();
        self.scripts.borrow_mut().insert(id, pid);
        self.core.borrow_mut().on_script_started(id, i64::from(pid));
        let d = self.clone();
        tokio::task::spawn_local(async move {
            let status = tokio::task::spawn_blocking(move || child.wait()).await;
            use std::os::unix::process::ExitStatusExt;
            let (code, signal) = match status {
                Ok(Ok(s)) => (s.code().unwrap_or(0), s.signal().unwrap_or(0)),
                _ => (0, 9),
            };
            d.scripts.borrow_mut().remove(&id);
            d.core
                .borrow_mut()
                .on_script_exit(id, code, signal, log::now_ms());
            d.apply();
        });
    }
}

fn map_level(l: redoubt_sentinel::Level) -> Level {
    match l {
        redoubt_sentinel::Level::Debug => Level::Debug,
        redoubt_sentinel::Level::Verbose => Level::Verbose,
        redoubt_sentinel::Level::Notice => Level::Notice,
        redoubt_sentinel::Level::Warning => Level::Warning,
    }
}

/// One outgoing connection: connect, then write queued commands and read replies.
async fn run_link(
    d: Rc<Driver>,
    link: LinkId,
    ip: String,
    port: u16,
    kind: LinkKind,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
) {
    let addr = if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    };
    let connect =
        tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(addr));
    let mut stream = match connect.await {
        Ok(Ok(s)) => s,
        _ => {
            d.core.borrow_mut().on_disconnect(link, log::now_ms());
            d.links.borrow_mut().remove(&link);
            d.apply();
            return;
        }
    };
    let _ = stream.set_nodelay(true);
    let local_ip = stream
        .local_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    d.core
        .borrow_mut()
        .on_connected(link, &local_ip, log::now_ms());
    d.apply();
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            cmd = rx.recv() => {
                let Some(bytes) = cmd else { return };
                if stream.write_all(&bytes).await.is_err() {
                    break;
                }
            }
            n = stream.read(&mut chunk) => {
                let n = match n {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                buf.extend_from_slice(&chunk[..n]);
                let mut used = 0;
                let mut failed = false;
                loop {
                    match redoubt_resp::parse_value(&buf[used..]) {
                        Ok(Some((v, len))) => {
                            used += len;
                            let now = log::now_ms();
                            let mut core = d.core.borrow_mut();
                            match kind {
                                LinkKind::Cmd => core.on_reply(link, &v, now),
                                LinkKind::PubSub => core.on_message(link, &v, now),
                            }
                        }
                        Ok(None) => break,
                        Err(_) => {
                            failed = true;
                            break;
                        }
                    }
                }
                buf.drain(..used);
                d.apply();
                if failed {
                    break;
                }
            }
        }
    }
    d.core.borrow_mut().on_disconnect(link, log::now_ms());
    d.links.borrow_mut().remove(&link);
    d.apply();
}

/// The timer: `tick` at Redis's randomized hz, and the queue of actions from commands.
pub async fn run(d: Rc<Driver>) {
    let mut delay = 100;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(delay as u64)) => {
                delay = d.core.borrow_mut().tick(log::now_ms()).max(1);
            }
            _ = d.wake.notified() => {}
        }
        d.apply();
    }
}

/// The engine's view of the Sentinel core.
pub struct Glue(pub Rc<Driver>);

impl Glue {
    /// After a command: flush the config now if asked (before the reply can leave), queue
    /// the rest for the driver task (the engine is borrowed here).
    fn after_command(&self) {
        let actions = self.0.core.borrow_mut().take_actions();
        let mut rest = Vec::new();
        for a in actions {
            if a == Action::FlushConfig {
                self.0.flush_and_log();
            } else {
                rest.push(a);
            }
        }
        if !rest.is_empty() {
            self.0.queued.borrow_mut().extend(rest);
            self.0.wake.notify_one();
        }
    }
}

impl redoubt_engine::sentinel_mode::SentinelHooks for Glue {
    fn command(&self, argv: &[Bytes], now_ms: i64, out: &mut ReplyBuf) {
        self.0.core.borrow_mut().command(argv, now_ms, out);
        self.after_command();
    }

    fn info_section(&self, now_ms: i64) -> String {
        self.0.core.borrow().info_section(now_ms)
    }

    fn role(&self, out: &mut ReplyBuf) {
        self.0.core.borrow().role_reply(out);
    }

    fn publish(&self, argv: &[Bytes], now_ms: i64, out: &mut ReplyBuf) {
        self.0.core.borrow_mut().publish_command(argv, now_ms, out);
        self.after_command();
    }
}
