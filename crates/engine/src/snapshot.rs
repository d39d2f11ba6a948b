//! Point-in-time snapshots without `fork()`: the producer behind BGSAVE (and, for
//! replication, a full sync's RDB payload).
//!
//! [`Snapshot::begin`] puts every non-empty database under key-level copy-on-write
//! (`redoubt_keyspace::cow`) and records its size; [`Snapshot::step`] then yields the RDB
//! file's bytes a slice at a time, in file order (header, then per database SELECTDB,
//! RESIZEDB and its entries, then the EOF opcode). Between slices clients run; any change to
//! an entry the walk has not reached serializes the old entry first, so the bytes are exactly
//! the dataset at `begin`. The producer runs on the engine thread; the bytes go to a
//! [`SnapshotSink`] (a file written by a background thread for BGSAVE; a socket for a full
//! sync) which appends the CRC64 trailer, so checksumming and I/O stay off the engine thread.
//!
//! Usage:
//! ```text
//! let mut snap = Snapshot::begin(&mut eng.dbs, header, writer);
//! loop {
//!     let mut chunk = Vec::new();
//!     let done = snap.step(&mut eng.dbs, &mut chunk, 1000); // let clients run between steps
//!     sink.write(chunk);
//!     if done { sink.finish(); break; }
//! }
//! ```
//! Only one snapshot can run at a time (each `Db` carries one copy-on-write state; a second
//! `begin` panics): a full sync that arrives while a BGSAVE runs must wait for it or share
//! its bytes, as Redis attaches replicas to a BGSAVE in progress. The engine's BGSAVE is
//! `Engine::bgsave` (`commands::bgsave`); the header and serializer of a file come from
//! `Engine::rdb_snapshot_parts`.
//!
//! A database emptied by FLUSHDB while a snapshot runs is handed over with
//! [`Snapshot::adopt`] (`Db::take` moves the copy-on-write state with the old data), so the
//! walk finishes over it and only then frees it.

use redoubt_keyspace::cow::EntryWriter;
use redoubt_keyspace::Db;
use redoubt_persist::rdb::encode;

/// Where a snapshot's bytes go.
pub trait SnapshotSink {
    /// Offers the next chunk; `Err` gives it back when the sink is full (try again later).
    fn write(&mut self, chunk: Vec<u8>) -> Result<(), Vec<u8>>;
    /// Every chunk was written (the last one ends with the EOF opcode): append the checksum
    /// and complete (for a file: fsync and rename) in the background.
    fn finish(&mut self);
    /// The outcome once complete; the error is the line to log.
    fn poll(&mut self) -> Option<Result<(), String>>;
    /// Stops and discards the output (a temp file is removed).
    fn abort(&mut self);
}

pub struct Snapshot {
    /// (database index, keys, keys with a TTL) of each database non-empty at the start.
    order: Vec<(usize, usize, usize)>,
    next: usize,
    /// SELECTDB of `order[next]` written.
    opened: bool,
    header: Vec<u8>,
    /// Databases emptied while the snapshot runs, still to be walked.
    orphans: Vec<Db>,
    /// Early copies and entries of databases already finished.
    copied_done: u64,
    entries_done: u64,
    done: bool,
    /// Keys at the start.
    pub keys_total: u64,
    /// A database's data could not be found (a bug): the image is incomplete and must be
    /// reported as a failed save, never written as if whole.
    pub incomplete: bool,
    /// An AOF-format base (`crate::aof_base`): SELECT commands instead of SELECTDB, no EOF
    /// opcode (the entry writer emits commands too).
    pub aof_format: bool,
}

impl Snapshot {
    /// Starts a snapshot of `dbs` as they are now. `header` is the file's start (magic and
    /// aux fields); `writer` serializes one entry (`encode::write_entry`).
    pub fn begin(dbs: &mut [Db], header: Vec<u8>, writer: EntryWriter) -> Snapshot {
        let mut order = Vec::new();
        let mut keys_total = 0;
        for (i, db) in dbs.iter_mut().enumerate() {
            if db.is_empty() {
                continue;
            }
            order.push((i, db.len(), db.expires_len()));
            keys_total += db.len() as u64;
            db.snapshot_begin(i, writer.clone());
        }
        Snapshot {
            order,
            next: 0,
            opened: false,
            header,
            orphans: Vec::new(),
            copied_done: 0,
            entries_done: 0,
            done: false,
            keys_total,
            incomplete: false,
            aof_format: false,
        }
    }

    /// Appends the next slice (about `max_entries` entries) to `out`. Returns true once the
    /// image is complete: `out` then ends with the EOF opcode (the checksum is the sink's).
    pub fn step(&mut self, dbs: &mut [Db], out: &mut Vec<u8>, max_entries: usize) -> bool {
        out.append(&mut self.header);
        while !self.done {
            let Some(&(tag, keys, expires)) = self.order.get(self.next) else {
                self.eof(out);
                self.done = true;
                break;
            };
            let found = dbs
                .iter_mut()
                .chain(self.orphans.iter_mut())
                .find(|d| d.snapshot().is_some_and(|c| c.tag == tag));
            let Some(db) = found else {
                // Unreachable by construction (the state travels with the data). Finish
                // the file but mark it incomplete: the save then fails instead of replacing
                // a good file with one that lacks a database.
                debug_assert!(false, "snapshot lost database {tag}");
                self.incomplete = true;
                self.next += 1;
                continue;
            };
            if !self.opened {
                if self.aof_format {
                    crate::aof_base::select(out, tag);
                } else {
                    encode::select_db(out, tag, keys, expires);
                }
                self.opened = true;
            }
            // Copies happen only on changes, never during a step: read the count first,
            // as the state is gone once the database is complete.
            let copied = db.snapshot().map_or(0, |c| c.copied_bytes);
            if !db.snapshot_step(out, max_entries) {
                return false;
            }
            self.copied_done += copied;
            // Complete: every entry present at the start is in the image.
            self.entries_done += keys as u64;
            self.next += 1;
            self.opened = false;
            return self.next == self.order.len() && {
                self.eof(out);
                self.done = true;
                true
            };
        }
        true
    }

    fn eof(&self, out: &mut Vec<u8>) {
        if !self.aof_format {
            encode::eof(out);
        }
    }

    /// Hands over a database just emptied (`Db::take`) if the snapshot still needs it;
    /// otherwise gives it back for freeing.
    pub fn adopt(&mut self, db: Db) -> Option<Db> {
        if db.snapshot().is_some() {
            self.orphans.push(db);
            None
        } else {
            Some(db)
        }
    }

    /// Adopted databases the walk has finished with, to be freed.
    pub fn finished_orphans(&mut self) -> Vec<Db> {
        let (keep, done) = std::mem::take(&mut self.orphans)
            .into_iter()
            .partition(|d| d.snapshot().is_some());
        self.orphans = keep;
        done
    }

    /// Bytes of old entries copied before a change so far: the snapshot's extra memory
    /// (the equivalent of a fork's copy-on-write size).
    pub fn copied_bytes(&self, dbs: &[Db]) -> u64 {
        self.copied_done
            + dbs
                .iter()
                .chain(self.orphans.iter())
                .filter_map(|d| d.snapshot())
                .map(|c| c.copied_bytes)
                .sum::<u64>()
    }

    /// Entries in the image so far (INFO `current_save_keys_processed`).
    pub fn entries_done(&self, dbs: &[Db]) -> u64 {
        if self.done {
            return self.keys_total;
        }
        self.entries_done
            + dbs
                .iter()
                .chain(self.orphans.iter())
                .filter_map(|d| d.snapshot())
                .map(|c| c.entries_done)
                .sum::<u64>()
    }

    /// Stops the snapshot: no more copies on change. Returns the adopted databases.
    pub fn abort(mut self, dbs: &mut [Db]) -> Vec<Db> {
        for db in dbs.iter_mut() {
            db.snapshot_end();
        }
        std::mem::take(&mut self.orphans)
    }
}

/// A sink that keeps the file in memory (tests, and anything that wants the bytes whole).
pub struct MemorySink {
    pub out: std::rc::Rc<std::cell::RefCell<Vec<u8>>>,
    checksum: bool,
    finished: bool,
}

impl MemorySink {
    pub fn new(out: std::rc::Rc<std::cell::RefCell<Vec<u8>>>, checksum: bool) -> MemorySink {
        MemorySink {
            out,
            checksum,
            finished: false,
        }
    }
}

impl SnapshotSink for MemorySink {
    fn write(&mut self, chunk: Vec<u8>) -> Result<(), Vec<u8>> {
        self.out.borrow_mut().extend_from_slice(&chunk);
        Ok(())
    }

    fn finish(&mut self) {
        let mut out = self.out.borrow_mut();
        let crc = if self.checksum {
            redoubt_persist::rdb::crc64::crc64(0, &out)
        } else {
            0
        };
        out.extend_from_slice(&crc.to_le_bytes());
        self.finished = true;
    }

    fn poll(&mut self) -> Option<Result<(), String>> {
        self.finished.then_some(Ok(()))
    }

    fn abort(&mut self) {
        self.out.borrow_mut().clear();
    }
}
