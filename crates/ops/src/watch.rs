//! `redoubt watch`: the deployment as it changes. One thread per Sentinel holds a
//! `PSUBSCRIBE *` connection (Sentinel publishes every event it logs on a channel named after
//! the event: `+sdown`, `+odown`, `+vote-for-leader`, `+switch-master`...) and reconnects when
//! the Sentinel restarts; the main loop takes a [`Snapshot`] every refresh.
//!
//! On a terminal it is a full-screen view (see `tui`). Otherwise it prints plain lines, one
//! per event and one per topology change, which is what scripts and tests read:
//!
//! ```text
//! 18:51:02.123 sentinel1 +sdown master mymaster 127.0.0.1 40001
//! 18:51:04.870 topology: master node2 | node1 down | node2 master (1 replicas online) | ...
//! ```

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use redoubt_resp::Value;

use crate::client::{text, Conn};
use crate::probe::Prober;
use crate::state::Deployment;

/// One Sentinel event as clients see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Wall-clock time of arrival, `HH:MM:SS.mmm` UTC.
    pub at: String,
    pub sentinel: String,
    pub channel: String,
    pub payload: String,
}

impl Event {
    pub fn line(&self) -> String {
        format!(
            "{} {} {} {}",
            self.at, self.sentinel, self.channel, self.payload
        )
    }
}

pub struct WatchOptions {
    pub interval: Duration,
    /// Stop after this long (plain mode); `None`: until interrupted.
    pub duration: Option<Duration>,
    /// Plain lines even on a terminal.
    pub plain: bool,
}

/// Subscribes to every Sentinel; the readers stop when the returned flag is set.
pub struct EventFeed {
    pub rx: Receiver<Event>,
    stop: Arc<AtomicBool>,
    readers: Vec<JoinHandle<()>>,
}

impl EventFeed {
    pub fn start(d: &Deployment) -> anyhow::Result<EventFeed> {
        let (tx, rx) = channel();
        let stop = Arc::new(AtomicBool::new(false));
        let mut readers = Vec::new();
        for s in d.sentinels() {
            let (name, port) = (s.name.clone(), s.port);
            let (tx, stop) = (tx.clone(), Arc::clone(&stop));
            // Subscribe before returning when the Sentinel is up, so no event after `watch`
            // starts is missed; a Sentinel that is down is retried by the thread.
            let first = subscribe(port).ok();
            readers.push(
                std::thread::Builder::new()
                    .name(format!("events-{name}"))
                    .spawn(move || read_events(&name, port, first, &tx, &stop))?,
            );
        }
        Ok(EventFeed { rx, stop, readers })
    }
}

impl Drop for EventFeed {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
    }
}

fn subscribe(port: u16) -> anyhow::Result<Conn> {
    let mut c = Conn::connect(port, "", Duration::from_millis(500))?;
    match c.cmd(&["PSUBSCRIBE", "*"])? {
        Value::Array(v) | Value::Push(v) if v.len() == 3 => Ok(c),
        other => anyhow::bail!("PSUBSCRIBE *: {}", text(&other)),
    }
}

/// How often a reader looks at the stop flag, and waits before reconnecting.
const POLL: Duration = Duration::from_millis(200);

fn read_events(
    name: &str,
    port: u16,
    mut conn: Option<Conn>,
    tx: &Sender<Event>,
    stop: &AtomicBool,
) {
    while !stop.load(Ordering::Relaxed) {
        let Some(c) = conn.as_mut() else {
            std::thread::sleep(POLL);
            conn = subscribe(port).ok();
            continue;
        };
        match c.read(Instant::now() + POLL) {
            Ok(Some(Value::Array(v))) | Ok(Some(Value::Push(v))) if v.len() == 4 => {
                let channel = text(&v[2]);
                if channel.starts_with("__sentinel__:") {
                    continue;
                }
                let ev = Event {
                    at: clock(SystemTime::now()),
                    sentinel: name.to_string(),
                    channel,
                    payload: text(&v[3]),
                };
                if tx.send(ev).is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(_) => conn = None,
        }
    }
}

/// `HH:MM:SS.mmm` in UTC.
pub fn clock(t: SystemTime) -> String {
    let ms = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let day_ms = ms % 86_400_000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        day_ms / 3_600_000,
        day_ms / 60_000 % 60,
        day_ms / 1000 % 60,
        day_ms % 1000
    )
}

pub fn watch(d: &Deployment, opts: &WatchOptions) -> anyhow::Result<()> {
    if opts.plain || !std::io::stdout().is_terminal() {
        plain(d, opts)
    } else {
        crate::tui::run(d, opts)
    }
}

fn plain(d: &Deployment, opts: &WatchOptions) -> anyhow::Result<()> {
    let feed = EventFeed::start(d)?;
    let mut prober = Prober::new();
    let start = Instant::now();
    let mut last_topology = String::new();
    let mut out = std::io::stdout().lock();
    loop {
        let tick = Instant::now();
        // Events first: the topology line that follows them shows their outcome.
        while let Ok(ev) = feed.rx.try_recv() {
            writeln!(out, "{}", ev.line())?;
        }
        let snap = prober.look(d);
        let line = snap.topology_line();
        if line != last_topology {
            writeln!(out, "{} topology: {line}", clock(SystemTime::now()))?;
            last_topology = line;
        }
        out.flush()?;
        if opts.duration.is_some_and(|limit| start.elapsed() >= limit) {
            return Ok(());
        }
        // Wake early for events so they are printed as they come.
        let next = tick + opts.interval;
        while let Some(left) = next.checked_duration_since(Instant::now()) {
            match feed.rx.recv_timeout(left) {
                Ok(ev) => {
                    writeln!(out, "{}", ev.line())?;
                    out.flush()?;
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => break,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(left);
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_format() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(86_400_000 + 3_723_004);
        assert_eq!(clock(t), "01:02:03.004");
    }
}
