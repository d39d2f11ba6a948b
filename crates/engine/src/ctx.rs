//! `Ctx`: what a command handler sees. It lends the engine, the calling client, the command
//! being run, and the batch's `now`, and offers the keyspace operations with Redis's side
//! effects built in (lazy expiry, hit/miss counters, WATCH invalidation, effect recording).

use crate::client::Client;
use crate::table::Command;
use crate::Engine;
use bytes::Bytes;
use redoubt_keyspace::{Db, Entry, NO_EXPIRE};
use redoubt_resp::ReplyBuf;

pub struct Ctx<'a> {
    pub eng: &'a mut Engine,
    pub client: &'a mut Client,
    pub cmd: &'a Command,
    /// Unix time in ms, read once per batch by the server.
    pub now_ms: i64,
    /// Running inside EXEC.
    pub in_exec: bool,
}

impl<'a> Ctx<'a> {
    pub fn out(&mut self) -> &mut ReplyBuf {
        &mut self.client.out
    }

    pub fn db_index(&self) -> usize {
        self.client.db
    }

    pub fn db(&mut self) -> &mut Db {
        let i = self.client.db;
        &mut self.eng.dbs[i]
    }

    /// Redis's `keyIsExpired`: strictly past the deadline.
    pub fn key_is_expired(&self, db: usize, key: &[u8]) -> bool {
        // Most databases hold no TTLs: skip the lookup (this runs before every key access).
        if self.eng.dbs[db].expires_len() == 0 {
            return false;
        }
        let at = self.eng.dbs[db].expire_of(key);
        at != NO_EXPIRE && self.now_ms > at
    }

    /// Redis's `expireIfNeeded`: deletes a logically expired key and records the DEL.
    /// Returns true when the key was expired. During CLIENT PAUSE the key is reported
    /// expired but kept, so a paused server emits no DEL: callers must then treat the key
    /// as missing (the lookups below do).
    pub fn expire_if_needed(&mut self, db: usize, key: &[u8]) -> bool {
        if !self.key_is_expired(db, key) {
            return false;
        }
        // Redis 7.0 on a replica: the master's commands see the key (its DEL will come),
        // everyone else sees it as gone, and nothing is deleted here.
        if self.eng.is_replica() {
            return self.client.kind != crate::ClientKind::Master;
        }
        if self.eng.expire_paused(self.now_ms) {
            return true;
        }
        let lazy = self.eng.conf.lazyfree_lazy_expire;
        if let Some(e) = self.eng.dbs[db].remove(key) {
            self.eng.free_value(e.value, lazy);
        }
        self.eng.stats.expired_keys += 1;
        let del: &[u8] = if lazy { b"UNLINK" } else { b"DEL" };
        self.eng.stream.stage(db, &[del, key]);
        self.signal_modified(db, key);
        true
    }

    /// Looks a key up for reading (`lookupKeyRead`): lazy expiry, keyspace hit/miss counters,
    /// and the access-time update OBJECT IDLETIME/FREQ read (see `crate::lru`).
    pub fn lookup_read(&mut self, key: &[u8]) -> Option<&Entry> {
        let db = self.client.db;
        let slot = self.lookup_slot_in(db, key, true, true)?;
        self.eng.dbs[db].at(slot)
    }

    /// `lookupKeyReadWithFlags(LOOKUP_NOTOUCH)`: like [`Ctx::lookup_read`] without the
    /// access-time update (TYPE, EXISTS, TTL, OBJECT and SCAN's TYPE filter).
    pub fn lookup_read_notouch(&mut self, key: &[u8]) -> Option<&Entry> {
        let db = self.client.db;
        let slot = self.lookup_slot_in(db, key, false, true)?;
        self.eng.dbs[db].at(slot)
    }

    /// Looks a key up for writing (`lookupKeyWrite`): lazy expiry and the access-time update,
    /// no counters.
    pub fn lookup_write(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let db = self.client.db;
        self.lookup_write_in(db, key)
    }

    pub fn lookup_write_in(&mut self, db: usize, key: &[u8]) -> Option<&mut Entry> {
        self.lookup_in(db, key, true, false)
    }

    /// Redis's `lookupKey`.
    fn lookup_in(&mut self, db: usize, key: &[u8], touch: bool, stats: bool) -> Option<&mut Entry> {
        let slot = self.lookup_slot_in(db, key, touch, stats)?;
        Some(self.eng.dbs[db].at_mut(slot))
    }

    /// [`Ctx::lookup_write`] returning the key's slot, so the caller can overwrite it without
    /// a second probe (SET on an existing key).
    pub fn lookup_write_slot(&mut self, key: &[u8]) -> Option<u32> {
        let db = self.client.db;
        self.lookup_slot_in(db, key, true, false)
    }

    fn lookup_slot_in(&mut self, db: usize, key: &[u8], touch: bool, stats: bool) -> Option<u32> {
        if self.expire_if_needed(db, key) {
            if stats {
                self.eng.stats.keyspace_misses += 1;
            }
            return None;
        }
        let now_ms = self.now_ms;
        let policy = self.eng.lru_policy();
        let shared_init = self.eng.shared_initial_word(policy, now_ms);
        let Engine {
            dbs,
            stats: counters,
            rng,
            shared_ints,
            ..
        } = &mut *self.eng;
        let slot = dbs[db].find(key);
        if stats {
            if slot.is_some() {
                counters.keyspace_hits += 1;
            } else {
                counters.keyspace_misses += 1;
            }
        }
        if let (true, Some(s)) = (touch, slot) {
            crate::lru::touch(
                shared_ints,
                shared_init,
                dbs[db].at_mut_access(s),
                policy,
                rng,
                now_ms,
            );
        }
        slot
    }

    /// Existence without touching counters (EXISTS does count in Redis: use lookup_read).
    pub fn exists_in(&mut self, db: usize, key: &[u8]) -> bool {
        !self.expire_if_needed(db, key) && self.eng.dbs[db].get_raw(key).is_some()
    }

    /// Records an effect in the current database.
    pub fn propagate(&mut self, args: &[&[u8]]) {
        let db = self.client.db;
        self.eng.stream.stage(db, args);
    }

    pub fn propagate_in(&mut self, db: usize, args: &[&[u8]]) {
        self.eng.stream.stage(db, args);
    }

    /// Redis's `signalModifiedKey`: invalidates WATCH on the key.
    pub fn signal_modified(&mut self, db: usize, key: &[u8]) {
        crate::commands::transactions::touch_watched_key(self.eng, self.client, db, key);
        self.eng.signal_key_as_ready(db, key);
    }

    /// Counts changes for save points (`server.dirty`).
    pub fn dirty(&mut self, n: u64) {
        self.eng.stats.dirty += n;
    }

    /// Removes a key a command decided to delete (GETDEL, an expiry time already past) and
    /// records it: `UNLINK` when `lazy` (the matching lazyfree directive), else `DEL`.
    pub fn remove_and_propagate(&mut self, db: usize, key: &[u8], lazy: bool) {
        if let Some(e) = self.eng.dbs[db].remove(key) {
            self.eng.free_value(e.value, lazy);
        }
        let del: &[u8] = if lazy { b"UNLINK" } else { b"DEL" };
        self.propagate_in(db, &[del, key]);
        self.signal_modified(db, key);
        self.dirty(1);
    }

    /// Deletes a key (Redis's `dbGenericDelete`), with WATCH invalidation. `lazy` says
    /// whether a big value may be freed by the free thread: UNLINK always, DEL with
    /// `lazyfree-lazy-user-del`, implicit deletes with `lazyfree-lazy-server-del`.
    pub fn delete(&mut self, db: usize, key: &[u8], lazy: bool) -> bool {
        // An expired key kept by CLIENT PAUSE counts as missing.
        if self.expire_if_needed(db, key) {
            return false;
        }
        let Some(e) = self.eng.dbs[db].remove(key) else {
            return false;
        };
        self.eng.free_value(e.value, lazy);
        self.signal_modified(db, key);
        true
    }

    pub fn error_bytes(&mut self, msg: &[u8]) {
        self.client.out.error_bytes(msg);
    }

    pub fn error(&mut self, msg: &str) {
        self.client.out.error(msg);
    }

    pub fn ok(&mut self) {
        self.client.out.ok();
    }

    /// Parses an argument as Redis's `getLongLongFromObjectOrReply`.
    pub fn parse_i64(&mut self, arg: &[u8]) -> Option<i64> {
        let v = redoubt_keyspace::num::string2ll(arg);
        if v.is_none() {
            self.error(crate::errors::NOT_INTEGER);
        }
        v
    }

    /// `getRangeLongFromObjectOrReply` with a message: a non-integer and a number below
    /// `min` both get `msg` (LMPOP, ZMPOP and their counts).
    pub fn parse_at_least(&mut self, arg: &[u8], min: i64, msg: &str) -> Option<i64> {
        match redoubt_keyspace::num::string2ll(arg) {
            Some(n) if n >= min => Some(n),
            _ => {
                self.error(msg);
                None
            }
        }
    }

    pub fn arg_str(arg: &Bytes) -> String {
        String::from_utf8_lossy(arg).into_owned()
    }
}
