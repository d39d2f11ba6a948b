//! Sentinel events as clients see them: one `PSUBSCRIBE *` connection per Sentinel, each
//! message recorded with the Sentinel it came from and when it arrived.
//!
//! A Sentinel publishes every event on a channel named after its type (`+sdown`,
//! `+switch-master`...) with the rest of the log line as the payload, so the pair
//! (channel, payload) is exactly what Redis logs after the timestamp.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redoubt_resp::Value;

use crate::conn::{RawConn, ReadError};

/// One message from a Sentinel's pub/sub.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Index of the Sentinel in the deployment.
    pub sentinel: usize,
    /// The event type, such as `+odown`.
    pub channel: String,
    /// The rest of the line, such as `master mymaster 127.0.0.1 6379 #quorum 3/2`.
    pub payload: String,
    pub at: Instant,
}

#[derive(Default)]
struct Shared {
    events: Mutex<Vec<Event>>,
    arrived: Condvar,
}

/// Collects events from any number of Sentinels until dropped.
pub struct EventLog {
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    readers: Vec<JoinHandle<()>>,
}

/// How often a reader checks whether it should stop.
const POLL: Duration = Duration::from_millis(100);

impl EventLog {
    pub fn new() -> Self {
        EventLog {
            shared: Arc::new(Shared::default()),
            stop: Arc::new(AtomicBool::new(false)),
            readers: Vec::new(),
        }
    }

    /// Subscribes to everything the Sentinel on `port` publishes, as Sentinel number `index`,
    /// and returns once the subscription is confirmed (so no later event can be missed).
    pub fn watch(&mut self, index: usize, port: u16) -> anyhow::Result<()> {
        self.watch_conn(index, RawConn::connect(port)?)
    }

    /// [`EventLog::watch`] over a connection the caller made (inside a network namespace).
    pub fn watch_conn(&mut self, index: usize, mut conn: RawConn) -> anyhow::Result<()> {
        conn.send_cmd(&["PSUBSCRIBE", "*"])?;
        match conn.read_reply(Instant::now() + Duration::from_secs(10)) {
            Ok(Value::Array(v)) | Ok(Value::Push(v)) if v.len() == 3 => {}
            other => anyhow::bail!("PSUBSCRIBE * on sentinel {index}: {other:?}"),
        }
        let shared = Arc::clone(&self.shared);
        let stop = Arc::clone(&self.stop);
        let handle = std::thread::Builder::new()
            .name(format!("events-{index}"))
            .spawn(move || read_events(index, conn, &shared, &stop))?;
        self.readers.push(handle);
        Ok(())
    }

    /// How many events have arrived so far: a mark for [`EventLog::wait_since`].
    pub fn mark(&self) -> usize {
        lock(&self.shared.events).len()
    }

    /// Every event so far.
    pub fn all(&self) -> Vec<Event> {
        lock(&self.shared.events).clone()
    }

    /// Waits for the first event at index `from` or later that `pred` accepts; `None` at the
    /// deadline.
    pub fn wait_since(
        &self,
        from: usize,
        timeout: Duration,
        mut pred: impl FnMut(&Event) -> bool,
    ) -> Option<Event> {
        let deadline = Instant::now() + timeout;
        let mut events = lock(&self.shared.events);
        let mut seen = from;
        loop {
            if let Some(e) = events.iter().skip(seen).find(|e| pred(e)) {
                return Some(e.clone());
            }
            seen = events.len().max(from);
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            events = match self.shared.arrived.wait_timeout(events, deadline - now) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }
}

impl Default for EventLog {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for EventLog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A reader that panicked holding the lock left whole events behind: keep using them.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn read_events(index: usize, mut conn: RawConn, shared: &Shared, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        match conn.read_reply(Instant::now() + POLL) {
            Ok(Value::Array(parts)) | Ok(Value::Push(parts)) => {
                let text = |v: &Value| match v {
                    Value::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
                    other => format!("{other:?}"),
                };
                // pmessage <pattern> <channel> <payload>
                if parts.len() == 4 && text(&parts[0]) == "pmessage" {
                    let event = Event {
                        sentinel: index,
                        channel: text(&parts[2]),
                        payload: text(&parts[3]),
                        at: Instant::now(),
                    };
                    lock(&shared.events).push(event);
                    shared.arrived.notify_all();
                }
            }
            Ok(_) => {}
            Err(ReadError::Timeout { .. }) => {}
            // The Sentinel went away (stopped by the test): nothing more will come.
            Err(_) => return,
        }
    }
}
