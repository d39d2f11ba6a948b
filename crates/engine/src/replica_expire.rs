//! Expiry of a writable replica's own keys, as Redis 7.0's `expireSlaveKeys` and
//! `rememberSlaveKeyWithExpire` (src/expire.c).
//!
//! A replica never expires its master's keys (it hides them once logically expired and waits
//! for the master's DEL), but with `replica-read-only no` its own clients can write keys with
//! a TTL that the master knows nothing about: without this, those keys would stay in memory
//! forever. While such a client's command runs, every TTL set is logged by the databases
//! (`Db::ttl_log`); the key is remembered with a bitmap of the databases (0-63, as Redis) it
//! got a TTL in. The replica's cron then deletes the remembered keys whose TTL passed. The
//! deletions are local: the replica's stream is its master's (the stream is muted), so
//! nothing is propagated. A key the master later writes keeps being tracked, as in Redis.

use std::collections::HashMap;

use redoubt_keyspace::db::NO_EXPIRE;

use crate::{ClientKind, Engine};

/// Keys with a TTL set by a writable replica's own clients, each with a bitmap of the
/// databases it got one in. A vector plus an index, so the cron can pick keys at random as
/// Redis's `dictGetRandomKey` does (a fixed order would let a few long-lived keys at the
/// front stop every pass before it reaches the expired ones).
#[derive(Debug, Default)]
pub struct OwnExpires {
    keys: Vec<(Box<[u8]>, u64)>,
    index: HashMap<Box<[u8]>, usize>,
}

impl OwnExpires {
    /// Redis's `getSlaveKeyWithExpireCount` (INFO `slave_expires_tracked_keys`).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// `flushSlaveKeysWithExpireList`: the whole dataset was replaced or flushed.
    pub fn clear(&mut self) {
        *self = OwnExpires::default();
    }

    fn remember(&mut self, key: Box<[u8]>, db: usize) {
        match self.index.get(&key) {
            Some(&i) => self.keys[i].1 |= 1u64 << db,
            None => {
                self.index.insert(key.clone(), self.keys.len());
                self.keys.push((key, 1u64 << db));
            }
        }
    }

    fn remove_at(&mut self, i: usize) {
        let (key, _) = self.keys.swap_remove(i);
        self.index.remove(&key);
        if let Some((moved, _)) = self.keys.get(i) {
            if let Some(slot) = self.index.get_mut(moved) {
                *slot = i;
            }
        }
    }
}

/// Redis stops after more than 3 keys it could not expire (per call), or after 1 ms.
const MAX_NOT_EXPIRED: usize = 3;
const TIME_LIMIT_US: u64 = 1000;

impl Engine {
    /// Whether a command of this client must have its TTLs remembered (`setExpire`: a
    /// writable replica and a client other than its master).
    pub(crate) fn tracks_own_expires(&self, kind: ClientKind) -> bool {
        kind != ClientKind::Master
            && self.is_replica()
            && !self.config.get_bool("replica-read-only")
    }

    /// Starts logging TTL sets for the command about to run.
    pub(crate) fn own_expires_begin(&mut self) {
        for d in &mut self.dbs {
            d.ttl_log = Some(Vec::new());
        }
    }

    /// Stops logging and remembers the keys the command gave a TTL.
    pub(crate) fn own_expires_end(&mut self) {
        for (id, d) in self.dbs.iter_mut().enumerate() {
            let Some(log) = d.ttl_log.take() else {
                continue;
            };
            // Redis keeps a 64-bit bitmap of databases and ignores the others.
            if id > 63 {
                continue;
            }
            for key in log {
                self.repl.own_expires.remember(key, id);
            }
        }
    }

    /// `expireSlaveKeys`, from the cron of a replica: samples remembered keys and deletes
    /// those expired. Returns the number of keys deleted.
    pub fn expire_replica_own_keys(&mut self, now_ms: i64, elapsed_us: &dyn Fn() -> u64) -> u64 {
        let mut deleted = 0;
        let mut not_expired = 0;
        let mut cycles = 0u64;
        while !self.repl.own_expires.is_empty() {
            let i = self.rng.below(self.repl.own_expires.len() as u64) as usize;
            let (key, dbids) = self.repl.own_expires.keys[i].clone();
            let mut kept = 0u64;
            for db in 0..self.dbs.len().min(64) {
                if dbids & (1u64 << db) == 0 {
                    continue;
                }
                let at = self.dbs[db].expire_of(&key);
                if at == NO_EXPIRE {
                    continue;
                }
                if now_ms > at {
                    self.delete_expired(db, &key);
                    deleted += 1;
                } else {
                    not_expired += 1;
                    kept |= 1u64 << db;
                }
            }
            if kept == 0 {
                self.repl.own_expires.remove_at(i);
            } else {
                self.repl.own_expires.keys[i].1 = kept;
            }
            cycles += 1;
            if not_expired > MAX_NOT_EXPIRED {
                break;
            }
            if cycles.is_multiple_of(64) && elapsed_us() > TIME_LIMIT_US {
                break;
            }
        }
        deleted
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::TestEngine;

    fn writable_replica() -> TestEngine {
        let mut t = TestEngine::new();
        let now = t.now_ms;
        t.eng.set_master("127.0.0.1".into(), 1, now);
        t.eng.adopt_master_history("a".repeat(40), 100, 0);
        assert_eq!(t.text("CONFIG SET replica-read-only no"), "+OK|");
        t
    }

    #[test]
    fn long_lived_keys_do_not_starve_the_expired_ones() {
        let mut t = writable_replica();
        // Many keys that stay: a pass stops after more than 3 of them, so only random
        // picks reach the expired ones over a few passes.
        for i in 0..50 {
            t.run(&format!("SET long{i} v EX 1000"));
        }
        for i in 0..5 {
            t.run(&format!("SET short{i} v PX 10"));
        }
        t.run("SELECT 3");
        t.run("SET short v PX 10");
        assert_eq!(t.eng.repl.own_expires.len(), 56);
        let later = t.now_ms + 20;
        for _ in 0..200 {
            t.eng.active_expire_cycle(later, u64::MAX, &|| 0);
        }
        assert_eq!(t.eng.dbs[0].len(), 50);
        assert_eq!(t.eng.dbs[3].len(), 0);
        assert_eq!(t.eng.repl.own_expires.len(), 50);
        assert_eq!(t.eng.stats.expired_keys, 6);
        assert!(t.stream().is_empty(), "nothing propagated");
        assert_eq!(t.eng.stream.offset(), 100);
    }

    #[test]
    fn only_ttls_set_by_own_clients_are_tracked() {
        let mut t = writable_replica();
        t.run("SET own v");
        t.run("PERSIST own");
        assert!(t.eng.repl.own_expires.is_empty(), "no TTL set");
        t.run("SET k v EX 100");
        t.run("FLUSHALL");
        assert!(t.eng.repl.own_expires.is_empty(), "forgotten on FLUSHALL");
        // A master's key is never deleted by the replica, however late.
        let now = t.now_ms;
        let io = std::rc::Rc::new(crate::ClientIo::default());
        let master = t.eng.add_client(crate::ClientKind::Master, io, now);
        t.run_on(master, "SET mk v PX 1");
        assert!(
            t.eng.repl.own_expires.is_empty(),
            "the master's TTLs are not ours"
        );
        t.eng.active_expire_cycle(now + 1000, u64::MAX, &|| 0);
        assert_eq!(t.eng.dbs[0].len(), 1);
    }
}
