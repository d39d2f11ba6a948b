//! Write-loss accounting: a client that writes unique ids through a Sentinel-aware loop and
//! remembers which writes were acknowledged, and the count of those missing afterwards.
//!
//! The client does what Sentinel clients do (redis-py's `Sentinel`, for one): ask the
//! Sentinels GET-MASTER-ADDR-BY-NAME, connect, check ROLE is `master`, write; on an error
//! reply, a timeout or a closed connection, ask the Sentinels again. Each attempt uses a new
//! id, so an id is written at most once: an acknowledged id missing from the final master is a
//! lost acknowledged write, exactly.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redoubt_resp::Value;

use crate::conn::RawConn;
use crate::deployment::master_port_from;

/// What the writer needs to know.
#[derive(Clone, Debug)]
pub struct WriterConfig {
    pub sentinel_ports: Vec<u16>,
    pub master_name: String,
    pub password: Option<String>,
    /// The list the ids are RPUSHed to.
    pub key: String,
    /// How long one write may wait for its reply before the writer gives up on the
    /// connection. Longer than a pause means a paused master's late acknowledgement counts.
    pub op_timeout: Duration,
    /// The pause after each acknowledged write: a steady, comparable rate (about 1/pace) that
    /// leaves CPU for the servers on a small machine. Zero writes flat out.
    pub pace: Duration,
}

/// What the writer did.
#[derive(Clone, Debug, Default)]
pub struct WriterLog {
    /// Acknowledged ids with the port of the node that acknowledged each, in order.
    pub acked: Vec<(u64, u16)>,
    /// When each of `acked` was acknowledged (same order).
    pub acked_at: Vec<Instant>,
    /// Writes refused with an error reply (not applied), by the error's first word.
    pub refused: BTreeMap<String, u64>,
    /// Writes whose fate is unknown: sent, then the connection failed or timed out.
    pub unknown: Vec<u64>,
    /// Times the writer looked for the master.
    pub lookups: u64,
}

/// A writer thread; [`Writer::finish`] stops it and returns its log.
pub struct Writer {
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<WriterLog>>,
    handle: Option<JoinHandle<()>>,
}

impl Writer {
    pub fn start(cfg: WriterConfig) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(WriterLog::default()));
        let (s, l) = (Arc::clone(&stop), Arc::clone(&log));
        let handle = std::thread::Builder::new()
            .name("sentinel-writer".into())
            .spawn(move || run(&cfg, &s, &l))
            .expect("spawning the writer thread");
        Writer {
            stop,
            log,
            handle: Some(handle),
        }
    }

    /// A copy of the log so far.
    pub fn snapshot(&self) -> WriterLog {
        lock(&self.log).clone()
    }

    /// How many writes the node on `port` has acknowledged so far.
    pub fn acked_by(&self, port: u16) -> usize {
        lock(&self.log)
            .acked
            .iter()
            .filter(|(_, p)| *p == port)
            .count()
    }

    /// Waits until the node on `port` has acknowledged at least `n` writes.
    pub fn wait_acked_by(&self, port: u16, n: usize, timeout: Duration) -> bool {
        crate::wait::try_wait_for(timeout, || self.acked_by(port) >= n)
    }

    /// Stops the writer (after its current write) and returns what it did.
    pub fn finish(mut self) -> WriterLog {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        lock(&self.log).clone()
    }
}

impl Drop for Writer {
    /// Stops without waiting: after a failed assertion the thread may be blocked on a paused
    /// master for its whole op timeout; it ends when the deployment's processes are killed
    /// (its socket closes) or the timeout passes.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Finds the master through the Sentinels and connects to it, as a Sentinel client does.
pub fn connect_master(cfg: &WriterConfig) -> Option<(RawConn, u16)> {
    for &s in &cfg.sentinel_ports {
        let Some(port) = master_port_from(s, &cfg.master_name) else {
            continue;
        };
        let Ok(mut c) = RawConn::connect(port) else {
            continue;
        };
        let deadline = Instant::now() + Duration::from_secs(1);
        if let Some(pw) = &cfg.password {
            if c.send_cmd(&["AUTH", pw.as_str()]).is_err() {
                continue;
            }
            match c.read_reply(deadline) {
                Ok(Value::Simple(ok)) if ok == "OK" => {}
                _ => continue,
            }
        }
        if c.send_cmd(&["ROLE"]).is_err() {
            continue;
        }
        match c.read_reply(deadline) {
            Ok(Value::Array(v)) if matches!(v.first(), Some(Value::Bulk(r)) if &r[..] == b"master") => {
                return Some((c, port))
            }
            _ => continue,
        }
    }
    None
}

fn run(cfg: &WriterConfig, stop: &AtomicBool, log: &Mutex<WriterLog>) {
    let mut conn: Option<(RawConn, u16)> = None;
    let mut next_id: u64 = 1;
    while !stop.load(Ordering::Relaxed) {
        let Some((c, port)) = conn.as_mut() else {
            lock(log).lookups += 1;
            conn = connect_master(cfg);
            if conn.is_none() {
                // No master yet (the failover is under way): a client's retry back-off.
                std::thread::sleep(Duration::from_millis(20));
            }
            continue;
        };
        let id = next_id;
        next_id += 1;
        let sent = c.send_cmd(&["RPUSH", cfg.key.as_str(), id.to_string().as_str()]);
        let reply = match sent {
            Ok(()) => c
                .read_reply(Instant::now() + cfg.op_timeout)
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match reply {
            Ok(Value::Int(_)) => {
                let mut l = lock(log);
                l.acked.push((id, *port));
                l.acked_at.push(Instant::now());
                drop(l);
                if !cfg.pace.is_zero() {
                    std::thread::sleep(cfg.pace);
                }
            }
            Ok(Value::Error(e)) => {
                let word = e.split(' ').next().unwrap_or_default().to_string();
                *lock(log).refused.entry(word).or_default() += 1;
                conn = None;
            }
            Ok(_) | Err(_) => {
                lock(log).unknown.push(id);
                conn = None;
            }
        }
    }
}

impl WriterLog {
    /// When the node on `port` first acknowledged a write at or after `since`.
    pub fn first_ack_by(&self, port: u16, since: Instant) -> Option<Instant> {
        self.acked
            .iter()
            .zip(&self.acked_at)
            .find(|((_, p), at)| *p == port && **at >= since)
            .map(|(_, at)| *at)
    }

    /// Acknowledged writes per second between the first and the last acknowledgement.
    pub fn ack_rate(&self) -> f64 {
        match (self.acked_at.first(), self.acked_at.last()) {
            (Some(a), Some(b)) if b > a => self.acked_at.len() as f64 / (*b - *a).as_secs_f64(),
            _ => 0.0,
        }
    }
}

/// The loss accounting for one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Losses {
    pub acked: usize,
    /// Acknowledged ids missing from the final master.
    pub lost: Vec<u64>,
    /// Lost ids by the port that acknowledged them.
    pub lost_by_port: BTreeMap<u16, usize>,
    /// Ids present although never acknowledged (written, reply lost): harmless, counted.
    pub present_unacked: usize,
    /// Ids present more than once: a bug anywhere (each id is sent once).
    pub duplicated: usize,
}

/// Compares what the writer had acknowledged with the ids in the final list.
pub fn count_losses(log: &WriterLog, present: &[u64]) -> Losses {
    let mut seen = HashSet::new();
    let mut duplicated = 0;
    for id in present {
        if !seen.insert(*id) {
            duplicated += 1;
        }
    }
    let acked_ids: HashSet<u64> = log.acked.iter().map(|(id, _)| *id).collect();
    let mut lost = Vec::new();
    let mut lost_by_port = BTreeMap::new();
    for (id, port) in &log.acked {
        if !seen.contains(id) {
            lost.push(*id);
            *lost_by_port.entry(*port).or_default() += 1;
        }
    }
    Losses {
        acked: log.acked.len(),
        lost,
        lost_by_port,
        present_unacked: seen.iter().filter(|id| !acked_ids.contains(id)).count(),
        duplicated,
    }
}

/// The ids in the list `key` (LRANGE 0 -1); an error for anything that is not a list of ids.
pub fn read_ids(conn: &mut RawConn, key: &str) -> anyhow::Result<Vec<u64>> {
    conn.send_cmd(&["LRANGE", key, "0", "-1"])?;
    match conn.read_reply(Instant::now() + Duration::from_secs(30))? {
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::Bulk(b) => std::str::from_utf8(b)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| anyhow::anyhow!("not an id: {v:?}")),
                other => Err(anyhow::anyhow!("not an id: {other:?}")),
            })
            .collect(),
        other => Err(anyhow::anyhow!("LRANGE {key}: {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn losses_are_acked_ids_missing() {
        let log = WriterLog {
            acked: vec![(1, 10), (2, 10), (3, 20), (5, 20)],
            ..WriterLog::default()
        };
        let l = count_losses(&log, &[1, 3, 4, 4]);
        assert_eq!(l.acked, 4);
        assert_eq!(l.lost, vec![2, 5]);
        assert_eq!(l.lost_by_port, BTreeMap::from([(10, 1), (20, 1)]));
        assert_eq!(l.present_unacked, 1);
        assert_eq!(l.duplicated, 1);
    }
}
