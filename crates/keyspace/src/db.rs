//! One database: a slab of entries plus a hash index, and the expiry index.
//!
//! Layout: entries live in `slots` and never move while they exist; `index` maps a key's
//! hash to its slot number. Stable slots give two Redis guarantees cheaply:
//! - SCAN: the cursor is a slot number (plus the slab length when the scan began, so it
//!   ends even under constant inserts). A key present for the whole iteration sits in one
//!   slot the whole time, so it is returned, and exactly once (Redis only promises "at least
//!   once"). Growth never moves entries, so resizes cannot break an iteration.
//! - Random sampling (RANDOMKEY, eviction, active expiry) picks random slots, as Redis picks
//!   random buckets.
//!
//! Keys with a TTL are also listed in `expires` (slot numbers), each entry remembering its
//! position there so removal is O(1). Expiry is stored in the entry, as absolute unix ms.
//!
//! Nothing here reads the clock: callers pass `now_ms`.

use crate::bytestr::ByteStr;
use crate::cow::{Cow, EntryWriter};
use crate::rand::Rng;
use crate::value::Value;
use hashbrown::HashTable;
use std::hash::BuildHasher;

/// No expiry.
pub const NO_EXPIRE: i64 = -1;

/// One key. 64 bytes, aligned to a cache line: a lookup touches exactly one line of the
/// slab after the index (`size_of` is asserted in the tests).
#[derive(Debug, Clone)]
#[repr(align(64))]
pub struct Entry {
    pub key: ByteStr,
    pub value: Value,
    /// Absolute unix time in ms, or [`NO_EXPIRE`].
    pub expire_at_ms: i64,
    /// Position in `Db::expires`, meaningful only with a TTL.
    exp_pos: u32,
    /// LRU clock (seconds, 24 bits as Redis's) or LFU data; maintained by the engine.
    pub lru: u32,
}

#[derive(Default)]
pub struct Db {
    index: HashTable<u32>,
    slots: Vec<Option<Entry>>,
    free: Vec<u32>,
    expires: Vec<u32>,
    len: usize,
    hasher: hashbrown::DefaultHashBuilder,
    /// Running estimate of the TTL of keys with one, in ms (INFO keyspace `avg_ttl`),
    /// maintained by the active expiry cycle from its samples as Redis's `db->avg_ttl`.
    pub avg_ttl_ms: i64,
    /// The `lru` word new entries start with (Redis's `createObject` reads the LRU clock or
    /// the LFU initial value). The engine sets it before each command; see engine `lru.rs`.
    pub lru_for_new: u32,
    /// A snapshot in progress over this data (see `crate::cow`): every method that changes
    /// an entry goes through it first. Boxed: one pointer when no snapshot runs.
    cow: Option<Box<Cow>>,
    /// When set, the keys [`Db::set_expire`] gives a TTL are logged here: a writable replica
    /// remembers the keys its own clients put a TTL on (Redis's `rememberSlaveKeyWithExpire`).
    pub ttl_log: Option<Vec<Box<[u8]>>>,
}

/// One SCAN step's result: the keys seen and the next cursor (0 when done).
pub struct ScanStep<'a> {
    pub keys: Vec<&'a Entry>,
    pub next: u64,
}

impl Db {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Makes room for `additional` more keys (an RDB's RESIZEDB hint), so a load does not
    /// rehash the index over and over.
    pub fn reserve(&mut self, additional: usize) {
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index.reserve(additional, |&s| {
            hasher.hash_one(
                &*slots[s as usize]
                    .as_ref()
                    .expect("indexed slot is used")
                    .key,
            )
        });
        // Room up to the next power of two, as growth by doubling leaves a table, not an
        // exact fit: after an exact fit the first key added (a replica's first write after a
        // full sync) reallocated and copied the whole slot table, a 35-45 ms stall at 1M
        // keys (measured: BENCHMARKS.md, Replication).
        let want = (self.slots.len() + additional).next_power_of_two();
        self.slots.reserve(want - self.slots.len());
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn expires_len(&self) -> usize {
        self.expires.len()
    }

    /// Bytes of bookkeeping beyond the keys' and values' own heap data, as
    /// (main table, expiry list): the hash index, the slot table (entries are stored in
    /// it inline) and its free list; the TTL list. MEMORY STATS `overhead.hashtable.*`.
    pub fn overhead_bytes(&self) -> (usize, usize) {
        use std::mem::size_of;
        let main = self.index.capacity() * (size_of::<u32>() + 1)
            + self.slots.capacity() * size_of::<Option<Entry>>()
            + self.free.capacity() * size_of::<u32>();
        (main, self.expires.capacity() * size_of::<u32>())
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The slot holding `key`, valid until the next insert or removal. Lets a caller that
    /// looked a key up act on it without hashing and probing again.
    pub fn find(&self, key: &[u8]) -> Option<u32> {
        self.find_slot(key)
    }

    /// The entry in a slot returned by [`Db::find`], for a change: a snapshot in progress
    /// copies the old entry first.
    pub fn at_mut(&mut self, slot: u32) -> &mut Entry {
        self.before_change(slot);
        self.slots[slot as usize]
            .as_mut()
            .expect("slot from find() is in use")
    }

    /// The entry in a slot returned by [`Db::find`], for reading.
    pub fn at(&self, slot: u32) -> Option<&Entry> {
        self.slots.get(slot as usize)?.as_ref()
    }

    /// The entry in a slot for an access-word update only (`lookupKey`'s LRU/LFU touch):
    /// no snapshot copy, because the image's IDLE/FREQ are as approximate as Redis's (its
    /// child reads them whenever it reaches the key). Callers must change nothing else.
    pub fn at_mut_access(&mut self, slot: u32) -> &mut Entry {
        self.slots[slot as usize]
            .as_mut()
            .expect("slot from find() is in use")
    }

    /// The snapshot's copy-on-write step for `slot` (see `crate::cow`).
    #[inline]
    fn before_change(&mut self, slot: u32) {
        if let Some(cow) = self.cow.as_deref_mut() {
            cow.before_change(slot, self.slots[slot as usize].as_ref());
        }
    }

    /// Starts a snapshot of this data as database `tag`: from now on the walk
    /// ([`Db::snapshot_step`]) and the copies made before changes together yield exactly the
    /// entries present now.
    /// One snapshot at a time: the caller checks that none is running.
    pub fn snapshot_begin(&mut self, tag: usize, writer: EntryWriter) {
        assert!(self.cow.is_none(), "one snapshot at a time per database");
        let bound = u32::try_from(self.slots.len()).expect("fewer than 2^32 keys per db");
        self.cow = Some(Box::new(Cow::new(tag, bound, writer)));
    }

    /// The snapshot state, if one is walking this data.
    pub fn snapshot(&self) -> Option<&Cow> {
        self.cow.as_deref()
    }

    /// Stops the snapshot (finished or aborted), returning its state.
    pub fn snapshot_end(&mut self) -> Option<Box<Cow>> {
        self.cow.take()
    }

    /// One slice of the walk: appends the early copies and up to `max_entries` entries not
    /// yet in the image to `out`. Returns true when this database's image is complete (the
    /// snapshot state is then removed).
    pub fn snapshot_step(&mut self, out: &mut Vec<u8>, max_entries: usize) -> bool {
        let Some(cow) = self.cow.as_deref_mut() else {
            return true;
        };
        out.append(&mut cow.pre);
        let (mut written, mut visited) = (0, 0);
        // Empty slots cost a check each: bound them too so a sparse slab cannot stall.
        while cow.cursor < cow.bound && written < max_entries && visited < max_entries * 8 {
            let s = cow.cursor;
            if cow.pending(s) {
                if let Some(Some(e)) = self.slots.get(s as usize) {
                    (cow.writer)(e, out);
                    written += 1;
                    cow.entries_done += 1;
                }
            }
            cow.cursor += 1;
            visited += 1;
        }
        if cow.cursor < cow.bound {
            return false;
        }
        out.append(&mut cow.pre);
        self.cow = None;
        true
    }

    /// Replaces the value in a slot returned by [`Db::find`], as [`Db::set`] does for an
    /// existing key. Returns the old value, for the caller to free (maybe lazily).
    pub fn overwrite_at(&mut self, slot: u32, value: Value, keep_ttl: bool) -> Value {
        let (old, had_ttl) = {
            let e = self.at_mut(slot);
            (
                std::mem::replace(&mut e.value, value),
                e.expire_at_ms != NO_EXPIRE,
            )
        };
        if had_ttl && !keep_ttl {
            self.persist_slot(slot);
        }
        old
    }

    fn find_slot(&self, key: &[u8]) -> Option<u32> {
        let h = self.hash(key);
        let slots = &self.slots;
        self.index
            .find(h, |&s| {
                slots[s as usize].as_ref().is_some_and(|e| &*e.key == key)
            })
            .copied()
    }

    /// The entry, whether or not it is logically expired.
    pub fn get_raw(&self, key: &[u8]) -> Option<&Entry> {
        let s = self.find_slot(key)?;
        self.slots[s as usize].as_ref()
    }

    /// The entry for a change (a snapshot in progress copies it first).
    pub fn get_raw_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let s = self.find_slot(key)?;
        self.before_change(s);
        self.slots[s as usize].as_mut()
    }

    /// Inserts or overwrites a value. Overwriting keeps the TTL only when `keep_ttl`.
    /// Returns the value it replaced, for the caller to free (maybe lazily).
    pub fn set(&mut self, key: &[u8], value: Value, keep_ttl: bool) -> Option<Value> {
        match self.find_slot(key) {
            Some(s) => Some(self.overwrite_at(s, value, keep_ttl)),
            None => {
                self.insert_new(key, value);
                None
            }
        }
    }

    /// Adds a key known to be absent.
    pub fn insert_new(&mut self, key: &[u8], value: Value) {
        debug_assert!(
            self.find_slot(key).is_none(),
            "insert_new on an existing key"
        );
        let h = self.hash(key);
        self.insert_hashed(h, key, value);
    }

    /// An RDB load's insert: one hash and one probe for the duplicate check, the insert and
    /// the TTL (a load is mostly this, for every key). `None`, and nothing changed, when the
    /// key is already there; else its slot.
    pub fn insert_loaded(
        &mut self,
        key: &[u8],
        value: Value,
        expire_at_ms: Option<i64>,
    ) -> Option<u32> {
        let h = self.hash(key);
        let slots = &self.slots;
        let dup = self.index.find(h, |&s| {
            slots[s as usize].as_ref().is_some_and(|e| &*e.key == key)
        });
        if dup.is_some() {
            return None;
        }
        let s = self.insert_hashed(h, key, value);
        if let Some(at) = expire_at_ms {
            let e = self.slots[s as usize].as_mut().expect("just inserted");
            e.exp_pos = self.expires.len() as u32;
            e.expire_at_ms = at;
            self.expires.push(s);
        }
        Some(s)
    }

    fn insert_hashed(&mut self, h: u64, key: &[u8], value: Value) -> u32 {
        let entry = Entry {
            key: ByteStr::new(key),
            value,
            expire_at_ms: NO_EXPIRE,
            exp_pos: 0,
            lru: self.lru_for_new,
        };
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = Some(entry);
                s
            }
            None => {
                let s = u32::try_from(self.slots.len()).expect("fewer than 2^32 keys per db");
                self.slots.push(Some(entry));
                s
            }
        };
        if let Some(cow) = self.cow.as_deref_mut() {
            cow.new_entry(slot);
        }
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index.insert_unique(h, slot, |&s| {
            hasher.hash_one(
                &*slots[s as usize]
                    .as_ref()
                    .expect("indexed slot is used")
                    .key,
            )
        });
        self.len += 1;
        slot
    }

    /// Removes a key, returning its entry.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let h = self.hash(key);
        let slots = &self.slots;
        let found = self
            .index
            .find_entry(h, |&s| {
                slots[s as usize].as_ref().is_some_and(|e| &*e.key == key)
            })
            .ok()?;
        let (slot, _) = found.remove();
        self.before_change(slot);
        if self.slots[slot as usize]
            .as_ref()
            .is_some_and(|e| e.expire_at_ms != NO_EXPIRE)
        {
            self.unlist_expire(slot);
        }
        let e = self.slots[slot as usize].take();
        self.free.push(slot);
        self.len -= 1;
        if self.len == 0 {
            // Nothing to keep stable: give the memory back.
            self.clear();
        }
        e
    }

    /// Empties the database. A snapshot in progress keeps going: the entries it has not
    /// reached are copied first (FLUSHALL hands the old data over instead, see [`Db::take`]).
    pub fn clear(&mut self) {
        match self.cow.take() {
            None => drop(self.take()),
            Some(mut cow) => {
                for s in cow.cursor..cow.bound {
                    cow.before_change(s, self.slots.get(s as usize).and_then(|e| e.as_ref()));
                }
                cow.cursor = cow.bound;
                drop(self.take());
                self.cow = Some(cow);
            }
        }
    }

    /// Empties the database in O(1), returning the old contents whole (keys, values and the
    /// expiry index) so they can be freed elsewhere (FLUSHALL ASYNC, Redis's `emptyDbAsync`).
    /// A snapshot in progress goes with the old contents: the caller hands them to it.
    pub fn take(&mut self) -> Db {
        let fresh = Db {
            hasher: self.hasher.clone(),
            lru_for_new: self.lru_for_new,
            ..Db::default()
        };
        std::mem::replace(self, fresh)
    }

    pub fn set_expire(&mut self, key: &[u8], at_ms: i64) -> bool {
        let Some(s) = self.find_slot(key) else {
            return false;
        };
        self.before_change(s);
        let e = self.slots[s as usize]
            .as_mut()
            .expect("indexed slot is used");
        if e.expire_at_ms == NO_EXPIRE {
            e.exp_pos = self.expires.len() as u32;
            self.expires.push(s);
        }
        e.expire_at_ms = at_ms;
        if let Some(log) = self.ttl_log.as_mut() {
            log.push(key.into());
        }
        true
    }

    /// Removes the TTL; returns whether there was one.
    pub fn persist(&mut self, key: &[u8]) -> bool {
        match self.find_slot(key) {
            Some(s)
                if self.slots[s as usize]
                    .as_ref()
                    .is_some_and(|e| e.expire_at_ms != NO_EXPIRE) =>
            {
                self.persist_slot(s);
                true
            }
            _ => false,
        }
    }

    fn persist_slot(&mut self, s: u32) {
        self.before_change(s);
        self.unlist_expire(s);
        if let Some(e) = self.slots[s as usize].as_mut() {
            e.expire_at_ms = NO_EXPIRE;
        }
    }

    fn unlist_expire(&mut self, s: u32) {
        let pos = self.slots[s as usize]
            .as_ref()
            .expect("slot in use")
            .exp_pos as usize;
        debug_assert_eq!(self.expires[pos], s);
        self.expires.swap_remove(pos);
        if let Some(&moved) = self.expires.get(pos) {
            if let Some(e) = self.slots[moved as usize].as_mut() {
                e.exp_pos = pos as u32;
            }
        }
    }

    pub fn expire_of(&self, key: &[u8]) -> i64 {
        self.get_raw(key).map_or(NO_EXPIRE, |e| e.expire_at_ms)
    }

    /// A random key among those with a TTL (active expiry sampling).
    pub fn random_expiring(&self, rng: &mut Rng) -> Option<&Entry> {
        if self.expires.is_empty() {
            return None;
        }
        let s = self.expires[rng.below(self.expires.len() as u64) as usize];
        self.slots[s as usize].as_ref()
    }

    /// A random key, or None when empty. Rejection-samples slots, then falls back to a scan
    /// from a random point when the slab is sparse.
    pub fn random_entry(&self, rng: &mut Rng) -> Option<&Entry> {
        if self.len == 0 {
            return None;
        }
        let n = self.slots.len() as u64;
        for _ in 0..16 {
            if let Some(e) = &self.slots[rng.below(n) as usize] {
                return Some(e);
            }
        }
        let start = rng.below(n) as usize;
        self.slots[start..]
            .iter()
            .chain(self.slots[..start].iter())
            .find_map(|s| s.as_ref())
    }

    /// Visits about `count` keys from `cursor` ([`crate::slab_scan`] explains the cursor).
    pub fn scan(&self, cursor: u64, count: usize) -> ScanStep<'_> {
        let mut keys = Vec::new();
        let next = crate::slab_scan::scan_slots(cursor, self.slots.len(), count, |i| {
            let Some(e) = &self.slots[i] else {
                return false;
            };
            keys.push(e);
            true
        });
        ScanStep { keys, next }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.slots.iter().filter_map(|s| s.as_ref())
    }

    /// Keys whose TTL has passed, for the DEBUG/active-expire paths that must see them all.
    pub fn expiring_slots(&self) -> usize {
        self.expires.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::StrVal;

    fn v(s: &str) -> Value {
        Value::Str(StrVal::encode(s.as_bytes()))
    }

    #[test]
    fn an_entry_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<Entry>(), 64);
        assert_eq!(std::mem::size_of::<Option<Entry>>(), 64);
    }

    #[test]
    fn set_get_remove_and_ttl() {
        let mut db = Db::new();
        db.set(b"a", v("1"), false);
        db.set(b"b", v("2"), false);
        assert!(db.set_expire(b"a", 100));
        assert_eq!(db.expires_len(), 1);
        db.set(b"a", v("3"), true);
        assert_eq!(db.expire_of(b"a"), 100);
        db.set(b"a", v("4"), false);
        assert_eq!(db.expire_of(b"a"), NO_EXPIRE);
        assert_eq!(db.expires_len(), 0);
        db.set_expire(b"b", 5);
        assert!(db.remove(b"b").is_some());
        assert_eq!(db.expires_len(), 0);
        assert_eq!(db.len(), 1);
    }

    #[test]
    fn scan_returns_every_stable_key_once_across_growth_and_deletes() {
        let mut db = Db::new();
        for i in 0..1000 {
            db.set(format!("k{i}").as_bytes(), v("x"), false);
        }
        let mut seen = std::collections::HashMap::new();
        let mut cursor = 0;
        let mut round = 0;
        loop {
            let step = db.scan(cursor, 10);
            for e in &step.keys {
                *seen.entry(e.key.to_vec()).or_insert(0) += 1;
            }
            cursor = step.next;
            // Churn between steps: delete odd keys below 500, add new ones (growth).
            round += 1;
            let _ = db.remove(format!("k{}", 2 * round + 1).as_bytes());
            db.set(format!("new{round}").as_bytes(), v("y"), false);
            if cursor == 0 {
                break;
            }
        }
        for i in (500..1000).chain((0..500).step_by(2)) {
            assert_eq!(seen.get(format!("k{i}").as_bytes()), Some(&1), "k{i}");
        }
    }

    #[test]
    fn scan_ends_even_when_inserts_outpace_it() {
        let mut db = Db::new();
        for i in 0..100 {
            db.set(format!("k{i}").as_bytes(), v("x"), false);
        }
        let mut cursor = 0;
        let mut steps = 0;
        loop {
            cursor = db.scan(cursor, 1).next;
            for j in 0..10 {
                db.set(format!("n{steps}:{j}").as_bytes(), v("y"), false);
            }
            steps += 1;
            if cursor == 0 {
                break;
            }
            assert!(
                steps <= 100,
                "the scan must end within the starting slab length"
            );
        }
    }
}
