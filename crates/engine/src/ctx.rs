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
        let at = self.eng.dbs[db].expire_of(key);
        at != NO_EXPIRE && self.now_ms > at
    }

    /// Redis's `expireIfNeeded`: deletes a logically expired key and records the DEL.
    /// Returns true when the key was expired. During CLIENT PAUSE the key is reported
    /// expired but kept, so a paused server emits no DEL.
    pub fn expire_if_needed(&mut self, db: usize, key: &[u8]) -> bool {
        if !self.key_is_expired(db, key) {
            return false;
        }
        if self.eng.expire_paused(self.now_ms) {
            return true;
        }
        self.eng.dbs[db].remove(key);
        self.eng.stats.expired_keys += 1;
        let del: &[u8] = if self.eng.conf.lazyfree_lazy_expire {
            b"UNLINK"
        } else {
            b"DEL"
        };
        self.eng.stream.stage(db, &[del, key]);
        self.signal_modified(db, key);
        true
    }

    /// Looks a key up for reading: lazy expiry, keyspace hit/miss counters.
    pub fn lookup_read(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let db = self.client.db;
        if self.expire_if_needed(db, key) {
            self.eng.stats.keyspace_misses += 1;
            return None;
        }
        let found = self.eng.dbs[db].get_raw(key).is_some();
        if found {
            self.eng.stats.keyspace_hits += 1;
        } else {
            self.eng.stats.keyspace_misses += 1;
        }
        self.eng.dbs[db].get_raw_mut(key)
    }

    /// Looks a key up for writing: lazy expiry, no counters.
    pub fn lookup_write(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let db = self.client.db;
        self.lookup_write_in(db, key)
    }

    pub fn lookup_write_in(&mut self, db: usize, key: &[u8]) -> Option<&mut Entry> {
        if self.expire_if_needed(db, key) {
            return None;
        }
        self.eng.dbs[db].get_raw_mut(key)
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
    }

    /// Counts changes for save points (`server.dirty`).
    pub fn dirty(&mut self, n: u64) {
        self.eng.stats.dirty += n;
    }

    /// Deletes a key as a user command does (DEL/UNLINK), with WATCH invalidation.
    pub fn delete(&mut self, db: usize, key: &[u8]) -> bool {
        if self.lookup_write_in(db, key).is_none() {
            return false;
        }
        self.eng.dbs[db].remove(key);
        self.signal_modified(db, key);
        true
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

    pub fn arg_str(arg: &Bytes) -> String {
        String::from_utf8_lossy(arg).into_owned()
    }
}
