//! Clients blocked by BLPOP and friends (Redis's blocked.c, for lists and sorted sets).
//!
//! A blocking command that finds no data registers its client here under every key it waits
//! on, in FIFO order, and leaves `Client::blocked` set: the connection loop then stops
//! executing that client's requests until the engine unblocks it. A write that touches a
//! waited-on key ([`Engine::signal_key_as_ready`], called from `Ctx::signal_modified`) queues
//! the key; after the command (after EXEC for a transaction) [`Engine::serve_blocked`] re-runs
//! each waiting client's command against that key only, in the order they blocked, while the
//! key still holds data of the right type. The re-run is an ordinary call, so it replies into
//! the client's buffer and propagates the non-blocking effect (`LPOP key`, `LMOVE ...`).

use crate::client::{Client, ClientId};
use crate::Engine;
use bytes::Bytes;
use hashbrown::HashMap;
use std::collections::VecDeque;

/// What a blocked client waits for.
#[derive(Debug, Clone)]
pub struct BlockState {
    pub db: usize,
    pub keys: Vec<Bytes>,
    /// Absolute unix time in ms; `None` waits forever.
    pub deadline_ms: Option<i64>,
    /// The blocking command as the client sent it.
    pub argv: Vec<Bytes>,
}

/// The registry: (db, key) -> clients waiting, oldest first, and keys made ready since the
/// last serve.
#[derive(Debug, Default)]
pub struct Blocking {
    pub waiting: HashMap<(usize, Bytes), VecDeque<ClientId>>,
    pub ready: Vec<(usize, Bytes)>,
    pub count: usize,
    /// True while a served client's command is re-run (not shown to MONITOR again).
    pub reprocessing: bool,
}

/// The error a client unblocked by CLIENT UNBLOCK ... ERROR gets.
pub const UNBLOCKED: &str = "UNBLOCKED client unblocked via CLIENT UNBLOCK";

/// `getTimeoutFromObjectOrReply` in seconds: the deadline (`None` = forever) or the error.
pub fn parse_timeout(arg: &[u8], now_ms: i64) -> Result<Option<i64>, &'static str> {
    let v =
        redoubt_keyspace::num::string2d(arg).ok_or("ERR timeout is not a float or out of range")?;
    let ms = (v * 1000.0).ceil();
    // C's cast of an out-of-range long double yields LLONG_MIN: "negative".
    if !(0.0..i64::MAX as f64).contains(&ms) {
        return Err(crate::errors::TIMEOUT_NEGATIVE);
    }
    let ms = ms as i64;
    Ok((ms > 0).then(|| ms.saturating_add(now_ms)))
}

impl Engine {
    /// `blockForKeys`: registers `client` as waiting on `keys`; no reply is written now.
    pub fn block_client(&mut self, client: &mut Client, st: BlockState) {
        self.unregister_blocked(client);
        for k in &st.keys {
            let q = self.blocking.waiting.entry((st.db, k.clone())).or_default();
            if !q.contains(&client.id) {
                q.push_back(client.id);
            }
        }
        self.blocking.count += 1;
        client.blocked = Some(st);
    }

    /// Removes `client` from the registry; returns what it waited for.
    pub fn unregister_blocked(&mut self, client: &mut Client) -> Option<BlockState> {
        let st = client.blocked.take()?;
        // WAIT's entry goes; a hold of replies (`crate::safe`) is not a blocked state.
        self.repl
            .waiting
            .retain(|w| w.hold || w.client != client.id);
        for k in &st.keys {
            let slot = (st.db, k.clone());
            if let Some(q) = self.blocking.waiting.get_mut(&slot) {
                q.retain(|&id| id != client.id);
                if q.is_empty() {
                    self.blocking.waiting.remove(&slot);
                }
            }
        }
        self.blocking.count -= 1;
        Some(st)
    }

    /// `signalKeyAsReady`: a write touched `key`; remember it if someone waits on it.
    pub fn signal_key_as_ready(&mut self, db: usize, key: &[u8]) {
        if self.blocking.waiting.is_empty() {
            return;
        }
        let slot = (db, Bytes::copy_from_slice(key));
        if self.blocking.waiting.contains_key(&slot) && !self.blocking.ready.contains(&slot) {
            self.blocking.ready.push(slot);
        }
    }

    /// `scanDatabaseForReadyKeys`: after SWAPDB, every waited-on key of `db` that now holds
    /// a list or a sorted set is ready.
    pub fn scan_database_for_ready_keys(&mut self, db: usize) {
        let mut keys: Vec<Bytes> = Vec::new();
        for (d, key) in self.blocking.waiting.keys() {
            let holds = self.dbs[db].get_raw(key).is_some_and(|e| {
                matches!(
                    e.value,
                    redoubt_keyspace::Value::List(_) | redoubt_keyspace::Value::ZSet(_)
                )
            });
            if *d == db && holds {
                keys.push(key.clone());
            }
        }
        for key in keys {
            self.signal_key_as_ready(db, &key);
        }
    }

    /// True when `key` holds a value a client blocked by `cmd` can be served from.
    fn key_serves(&self, db: usize, key: &[u8], cmd: &[u8]) -> bool {
        let zset = cmd.len() > 2 && cmd[..2].eq_ignore_ascii_case(b"bz");
        match self.dbs[db].get_raw(key) {
            Some(e) if !self.key_expired_at(db, key) => {
                if zset {
                    matches!(e.value, redoubt_keyspace::Value::ZSet(_))
                } else {
                    matches!(e.value, redoubt_keyspace::Value::List(_))
                }
            }
            _ => false,
        }
    }

    fn key_expired_at(&self, db: usize, key: &[u8]) -> bool {
        let t = self.dbs[db].expire_of(key);
        t >= 0 && t <= self.now_ms
    }

    /// `handleClientsBlockedOnKeys`: serves clients waiting on keys made ready, oldest first,
    /// re-running each one's command against the ready key only. Serving may make more keys
    /// ready (BLMOVE's destination), so this loops until none is left.
    pub fn serve_blocked(&mut self, now_ms: i64) {
        while !self.blocking.ready.is_empty() {
            let ready = std::mem::take(&mut self.blocking.ready);
            for (db, key) in ready {
                loop {
                    let Some(&id) = self
                        .blocking
                        .waiting
                        .get(&(db, key.clone()))
                        .and_then(|q| q.front())
                    else {
                        break;
                    };
                    let Some(mut c) = self.clients.remove(&id) else {
                        if let Some(q) = self.blocking.waiting.get_mut(&(db, key.clone())) {
                            q.pop_front();
                        }
                        continue;
                    };
                    let name = c.blocked.as_ref().map(|b| b.argv[0].clone());
                    if !name.is_some_and(|n| self.key_serves(db, &key, &n)) {
                        self.clients.insert(id, c);
                        break;
                    }
                    let Some(st) = self.unregister_blocked(&mut c) else {
                        self.clients.insert(id, c);
                        break;
                    };
                    let argv = rewrite_for_key(&st.argv, &key);
                    let table = self.table.clone();
                    if let crate::table::Lookup::Found(cmd) = table.lookup(&argv) {
                        let saved_db = c.db;
                        c.db = st.db;
                        let (offset_before, out_from) = (self.stream.offset(), c.out.buf.len());
                        self.blocking.reprocessing = true;
                        self.call(&mut c, cmd, &argv, now_ms, false);
                        self.blocking.reprocessing = false;
                        c.db = saved_db;
                        self.stream.commit_staged();
                        // The pop is a write: under `replica-ack-before-reply` its reply
                        // waits for the ACKs too (crate::safe).
                        if !self.is_replica() {
                            self.hold_for_acks(
                                &mut c,
                                &argv,
                                true,
                                offset_before,
                                out_from,
                                now_ms,
                            );
                        }
                    }
                    c.io.notify.notify();
                    self.clients.insert(id, c);
                }
            }
        }
    }

    /// Replies the timeout null to every blocked client whose deadline passed.
    pub fn blocked_timeouts(&mut self, now_ms: i64) {
        if self.blocking.count == 0 {
            return;
        }
        let due: Vec<ClientId> = self
            .clients
            .values()
            .filter(|c| {
                c.blocked
                    .as_ref()
                    .and_then(|b| b.deadline_ms)
                    .is_some_and(|d| d <= now_ms)
            })
            .map(|c| c.id)
            .collect();
        for id in due {
            self.unblock(id, false);
        }
    }

    /// Unblocks a client with its timeout reply, or the UNBLOCKED error when `error`.
    /// Returns false when the client was not blocked.
    pub fn unblock(&mut self, id: ClientId, error: bool) -> bool {
        let Some(mut c) = self.clients.remove(&id) else {
            return false;
        };
        let wait = self
            .repl
            .waiting
            .iter()
            .find(|w| w.client == id && !w.hold)
            .copied();
        let done = match self.unregister_blocked(&mut c) {
            Some(st) => {
                if let (Some(w), false) = (wait, error) {
                    // WAIT times out with the count reached so far (`replyToBlockedClientTimedOut`).
                    c.out.int(self.replicas_acked(w.offset) as i64);
                } else if error {
                    c.out.error(UNBLOCKED);
                    for code in c.out.error_codes.drain(..) {
                        self.stats.count_error(&code);
                    }
                } else {
                    // Every list and zset command times out with the null array, BLMOVE
                    // included (`replyToBlockedClientTimedOut`).
                    c.out.null_array();
                }
                if let crate::table::Lookup::Found(cmd) = self.table.clone().lookup(&st.argv) {
                    cmd.stats.calls.set(cmd.stats.calls.get() + 1);
                    self.stats.total_commands_processed += 1;
                }
                c.io.notify.notify();
                true
            }
            None => false,
        };
        self.clients.insert(id, c);
        done
    }
}

/// The blocking command narrowed to the key that became ready, as Redis 7.0 serves a client
/// from that key only: `BLPOP k t`, `BLMPOP t 1 k LEFT ...`; BLMOVE/BRPOPLPUSH have one key.
fn rewrite_for_key(argv: &[Bytes], key: &Bytes) -> Vec<Bytes> {
    let name = argv[0].to_ascii_lowercase();
    match &name[..] {
        b"blpop" | b"brpop" | b"bzpopmin" | b"bzpopmax" => {
            vec![argv[0].clone(), key.clone(), argv[argv.len() - 1].clone()]
        }
        b"blmpop" | b"bzmpop" => {
            let n = redoubt_keyspace::num::string2ll(&argv[2])
                .unwrap_or(0)
                .max(0) as usize;
            let mut v = vec![argv[0].clone(), argv[1].clone(), Bytes::from_static(b"1")];
            v.push(key.clone());
            v.extend(argv.iter().skip(3 + n).cloned());
            v
        }
        _ => argv.to_vec(),
    }
}

#[cfg(test)]
#[path = "blocking_tests.rs"]
mod tests;
