//! Key-level copy-on-write for point-in-time snapshots without `fork()`.
//!
//! A snapshot walks each database's slab in slot order, a small slice at a time, on the
//! engine thread. While it walks, clients keep writing. To make the walk see the dataset as
//! it was when the snapshot began, every [`crate::Db`] method that can change an entry first
//! calls [`Cow::before_change`]: when the slot lies ahead of the walk and still holds an entry
//! from the start, that *old* entry is serialized right away into `pre` (the only extra memory
//! a snapshot costs) and the slot is marked done, so the walk skips it later. A slot that is
//! reused by a key created after the start is marked done without output, and slots appended
//! past `bound` (the slab length at the start) are never walked, so new keys never appear.
//!
//! The serializer is a plain function given by whoever starts the snapshot (the engine passes
//! the RDB writer), so this crate stays free of any format.

use crate::db::Entry;
use std::sync::Arc;

/// Serializes one entry (a key with its value, TTL and access word) onto a buffer.
pub type EntryWriter = Arc<dyn Fn(&Entry, &mut Vec<u8>) + Send + Sync>;

/// One database's snapshot state, carried by the `Db` itself so that it travels with the
/// data through SWAPDB and FLUSHALL's hand-over.
pub struct Cow {
    /// Which database of the snapshot this data is (its index when the snapshot began).
    pub tag: usize,
    /// Next slot the walk visits; slots below it are already in the image.
    pub(crate) cursor: u32,
    /// Slab length when the snapshot began: slots from here on are all new.
    pub(crate) bound: u32,
    /// Slots in `cursor..bound` already handled out of order (copied early, or new).
    done: Vec<u64>,
    /// Serialized old entries copied before a change, not yet handed to the image.
    pub(crate) pre: Vec<u8>,
    /// Bytes copied early over the whole snapshot (INFO `rdb_last_cow_size`).
    pub copied_bytes: u64,
    /// Entries put in the image so far, early copies included.
    pub entries_done: u64,
    pub(crate) writer: EntryWriter,
}

impl Cow {
    pub(crate) fn new(tag: usize, bound: u32, writer: EntryWriter) -> Cow {
        Cow {
            tag,
            cursor: 0,
            bound,
            done: vec![0; (bound as usize).div_ceil(64)],
            pre: Vec::new(),
            copied_bytes: 0,
            entries_done: 0,
            writer,
        }
    }

    /// True when `slot` is ahead of the walk and not handled yet.
    pub(crate) fn pending(&self, slot: u32) -> bool {
        slot >= self.cursor
            && slot < self.bound
            && self.done[(slot / 64) as usize] & (1 << (slot % 64)) == 0
    }

    pub(crate) fn mark(&mut self, slot: u32) {
        self.done[(slot / 64) as usize] |= 1 << (slot % 64);
    }

    /// Copies the slot's old entry (if any) into the image before it changes.
    pub(crate) fn before_change(&mut self, slot: u32, old: Option<&Entry>) {
        if !self.pending(slot) {
            return;
        }
        if let Some(e) = old {
            let before = self.pre.len();
            (self.writer)(e, &mut self.pre);
            self.copied_bytes += (self.pre.len() - before) as u64;
            self.entries_done += 1;
        }
        self.mark(slot);
    }

    /// A key created after the start took `slot`: the walk must skip it.
    pub(crate) fn new_entry(&mut self, slot: u32) {
        if self.pending(slot) {
            self.mark(slot);
        }
    }
}

impl std::fmt::Debug for Cow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cow")
            .field("tag", &self.tag)
            .field("cursor", &self.cursor)
            .field("bound", &self.bound)
            .field("pre", &self.pre.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use crate::rand::Rng;
    use crate::value::{StrVal, Value};
    use crate::Db;
    use std::collections::BTreeMap;
    use std::sync::Arc;

    type Image = BTreeMap<Vec<u8>, (String, i64)>;

    fn v(s: &str) -> Value {
        Value::Str(StrVal::encode(s.as_bytes()))
    }

    /// One record per entry: key length, key, then the value and TTL as text.
    fn writer() -> super::EntryWriter {
        Arc::new(|e, out| {
            let rest = format!("{:?}|{}", e.value, e.expire_at_ms);
            out.extend_from_slice(&(e.key.len() as u32).to_le_bytes());
            out.extend_from_slice(&e.key);
            out.extend_from_slice(&(rest.len() as u32).to_le_bytes());
            out.extend_from_slice(rest.as_bytes());
        })
    }

    fn parse(mut b: &[u8]) -> Image {
        let mut m = Image::new();
        let take = |b: &mut &[u8]| {
            let n = u32::from_le_bytes(b[..4].try_into().unwrap()) as usize;
            let r = b[4..4 + n].to_vec();
            *b = &b[4 + n..];
            r
        };
        while !b.is_empty() {
            let k = take(&mut b);
            let rest = String::from_utf8(take(&mut b)).unwrap();
            let (val, exp) = rest.rsplit_once('|').unwrap();
            assert!(
                m.insert(k, (val.to_string(), exp.parse().unwrap()))
                    .is_none(),
                "key twice"
            );
        }
        m
    }

    fn image(db: &Db) -> Image {
        db.iter()
            .map(|e| (e.key.to_vec(), (format!("{:?}", e.value), e.expire_at_ms)))
            .collect()
    }

    /// Random writes of every kind interleaved with walk slices: the output is exactly the
    /// data at the start, whatever happens to it meanwhile.
    #[test]
    fn the_walk_yields_the_data_at_the_start_under_random_changes() {
        for seed in 0..200 {
            let mut rng = Rng::new(seed);
            let mut db = Db::new();
            let keys = 1 + rng.below(300);
            for i in 0..keys {
                db.set(
                    format!("k{}", rng.below(keys * 2) + i).as_bytes(),
                    v("a"),
                    false,
                );
                if rng.below(3) == 0 {
                    db.set_expire(format!("k{i}").as_bytes(), 1000 + i as i64);
                }
            }
            let expect = image(&db);
            db.snapshot_begin(0, writer());
            let mut out = Vec::new();
            let mut round = 0;
            loop {
                for _ in 0..rng.below(20) {
                    let k = format!("k{}", rng.below(keys * 3));
                    let k = k.as_bytes();
                    match rng.below(9) {
                        0 => drop(db.set(k, v(&format!("n{round}")), rng.below(2) == 0)),
                        1 => drop(db.remove(k)),
                        2 => drop(db.set_expire(k, 5)),
                        3 => drop(db.persist(k)),
                        4 => {
                            if let Some(s) = db.find(k) {
                                db.at_mut(s).value = v("changed");
                            }
                        }
                        5 => {
                            if let Some(e) = db.get_raw_mut(k) {
                                e.value = v("via get_raw_mut");
                            }
                        }
                        6 if rng.below(20) == 0 => db.clear(),
                        7 => {
                            if let Some(s) = db.find(k) {
                                drop(db.overwrite_at(s, v("ow"), false));
                            }
                        }
                        _ => {
                            if db.find(k).is_none() {
                                db.insert_new(k, v("new"));
                            }
                        }
                    }
                }
                round += 1;
                if db.snapshot_step(&mut out, 1 + rng.below(7) as usize) {
                    break;
                }
            }
            assert!(db.snapshot().is_none());
            assert_eq!(parse(&out), expect, "seed {seed}");
        }
    }

    #[test]
    fn a_taken_db_carries_the_snapshot_and_the_new_one_is_free_of_it() {
        let mut db = Db::new();
        db.set(b"a", v("1"), false);
        db.snapshot_begin(3, writer());
        let mut old = db.take();
        assert!(db.snapshot().is_none());
        assert_eq!(old.snapshot().map(|c| c.tag), Some(3));
        db.set(b"b", v("2"), false);
        let mut out = Vec::new();
        assert!(old.snapshot_step(&mut out, 10));
        assert_eq!(parse(&out).len(), 1);
    }
}
