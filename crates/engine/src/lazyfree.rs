//! Lazy freeing, as Redis 7.0's lazyfree.c: big values and whole databases are dropped on a
//! background thread so that freeing 10M allocations never stalls the command path.
//!
//! The engine unlinks a value from the keyspace (O(1)) and hands it to [`LazyFree`]. When
//! the free *effort* (Redis's `lazyfreeGetFreeEffort`: the number of allocations to release)
//! exceeds [`LAZYFREE_THRESHOLD`], the value travels over a channel to the free thread;
//! otherwise it is dropped inline, where the channel hop would cost more than the free.
//! FLUSHALL/FLUSHDB ASYNC swap in an empty [`Db`] and send the old one whole (Redis's
//! `emptyDbAsync`), whatever its size.
//!
//! Counters follow Redis: `lazyfree_pending_objects` grows by one per value (by the number
//! of keys per database) when handed over and shrinks when the thread has freed it;
//! `lazyfreed_objects` counts what the thread has freed (reset by CONFIG RESETSTAT).
//!
//! The thread is started once by the server ([`LazyFree::start_thread`]). Without it (unit
//! tests, tools) everything is freed inline and the counters stay at zero. Tests can install
//! their own sink ([`LazyFree::with_sink`]) and hold the receiving end, to see exactly what
//! was handed over.
//!
//! The channel is bounded: when the thread falls [`QUEUE_JOBS`] jobs behind, the next value
//! is freed inline (as a synchronous DEL would), so the queue cannot grow without limit.

use crate::Engine;
use redoubt_keyspace::{Db, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;

/// Redis's LAZYFREE_THRESHOLD: values needing more allocations than this to free are freed
/// in the background.
pub const LAZYFREE_THRESHOLD: usize = 64;

/// Jobs the free thread may fall behind before frees happen inline again.
pub const QUEUE_JOBS: usize = 4096;

/// Redis's `lazyfreeGetFreeEffort`: how many allocations freeing the value releases. Compact
/// encodings (listpack, intset) and strings are one allocation; a quicklist costs one per
/// node; hash tables and skiplists one per element.
pub fn free_effort(v: &Value) -> usize {
    match v {
        Value::Str(_) => 1,
        Value::List(l) => l.node_count(),
        Value::Hash(h) if h.encoding_name() == "hashtable" => h.len(),
        Value::Set(s) if s.encoding_name() == "hashtable" => s.len(),
        Value::ZSet(z) if z.encoding_name() == "skiplist" => z.len(),
        Value::Hash(_) | Value::Set(_) | Value::ZSet(_) => 1,
    }
}

/// What a job frees.
pub enum Garbage {
    /// One value unlinked from its key (UNLINK, lazy DEL, lazy server-side deletes).
    Value(Value),
    /// A whole database, keys, values and expiry index (FLUSHALL/FLUSHDB ASYNC).
    Db(Box<Db>),
}

impl std::fmt::Debug for Garbage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Garbage::Value(v) => write!(f, "Value({}, {})", v.type_name(), v.encoding_name()),
            Garbage::Db(db) => write!(f, "Db({} keys)", db.len()),
        }
    }
}

// The free thread takes ownership of values and databases: they must be Send.
const _: fn() = || {
    fn is_send<T: Send>() {}
    is_send::<Job>();
};

/// The shared counters behind INFO's `lazyfree_pending_objects` and `lazyfreed_objects`.
#[derive(Debug, Default)]
pub struct Counters {
    pending: AtomicU64,
    freed: AtomicU64,
}

/// One handed-over object (or database) and the count it stands for.
#[derive(Debug)]
pub struct Job {
    pub garbage: Garbage,
    /// Objects this job counts for: 1 for a value, the number of keys for a database.
    pub objects: u64,
    counters: Arc<Counters>,
}

impl Job {
    /// Drops the garbage, then moves its count from pending to freed (Redis's
    /// `lazyfreeFreeObject` / `lazyfreeFreeDatabase`).
    pub fn free(self) {
        let Job {
            garbage,
            objects,
            counters,
        } = self;
        drop(garbage);
        counters.pending.fetch_sub(objects, Ordering::AcqRel);
        counters.freed.fetch_add(objects, Ordering::AcqRel);
    }
}

/// The engine's handle on the free thread.
#[derive(Debug, Default)]
pub struct LazyFree {
    counters: Arc<Counters>,
    /// None: no free thread, everything is freed inline.
    sink: Option<SyncSender<Job>>,
}

impl LazyFree {
    /// Frees inline; counters stay at zero.
    pub fn inline() -> Self {
        Self::default()
    }

    /// Hands jobs to `sink`; whoever holds the receiver frees them (tests: [`Job::free`]).
    pub fn with_sink(sink: SyncSender<Job>) -> Self {
        LazyFree {
            counters: Arc::default(),
            sink: Some(sink),
        }
    }

    /// A sink channel with the production bound, for tests that hold the receiver.
    pub fn channel() -> (SyncSender<Job>, Receiver<Job>) {
        sync_channel(QUEUE_JOBS)
    }

    /// Starts the free thread (Redis's BIO_LAZY_FREE). It ends when the engine, and with it
    /// the sender, is dropped.
    pub fn start_thread() -> std::io::Result<Self> {
        let (tx, rx) = Self::channel();
        std::thread::Builder::new()
            .name("lazyfree".into())
            .spawn(move || {
                for job in rx {
                    job.free();
                }
            })?;
        Ok(Self::with_sink(tx))
    }

    /// `lazyfree_pending_objects`.
    pub fn pending(&self) -> u64 {
        self.counters.pending.load(Ordering::Acquire)
    }

    /// `lazyfreed_objects`.
    pub fn freed(&self) -> u64 {
        self.counters.freed.load(Ordering::Acquire)
    }

    /// CONFIG RESETSTAT (Redis's `lazyfreeResetStats`).
    pub fn reset_stats(&self) {
        self.counters.freed.store(0, Ordering::Release);
    }

    /// Hands garbage to the thread, or frees it inline when there is none or it is too far
    /// behind. Pending is raised before the send so the thread can never lower it first.
    fn hand_over(&self, garbage: Garbage, objects: u64) {
        let Some(sink) = &self.sink else {
            return drop(garbage);
        };
        self.counters.pending.fetch_add(objects, Ordering::AcqRel);
        let job = Job {
            garbage,
            objects,
            counters: Arc::clone(&self.counters),
        };
        match sink.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) => {
                self.counters.pending.fetch_sub(objects, Ordering::AcqRel);
                drop(job.garbage);
            }
        }
    }

    /// Redis's `freeObjAsync`: a value needing more than [`LAZYFREE_THRESHOLD`] allocations
    /// goes to the thread, a smaller one is freed here.
    pub fn free_value(&self, v: Value) {
        if self.sink.is_some() && free_effort(&v) > LAZYFREE_THRESHOLD {
            self.hand_over(Garbage::Value(v), 1);
        }
    }

    /// Redis's `emptyDbAsync`: the whole database goes, counted as its number of keys.
    pub fn free_db(&self, db: Db) {
        let n = db.len() as u64;
        self.hand_over(Garbage::Db(Box::new(db)), n);
    }

    /// True while the thread has work (Redis's `bioPendingJobsOfType(BIO_LAZY_FREE)`).
    pub fn busy(&self) -> bool {
        self.pending() > 0
    }
}

impl Engine {
    /// Frees a value unlinked from the keyspace: lazily when `lazy` (the directive that
    /// governs this deletion) says so and the value is big, else inline.
    pub fn free_value(&self, v: Value, lazy: bool) {
        if lazy {
            self.lazyfree.free_value(v);
        }
    }

    /// Frees a value a write replaced or removed implicitly (SET over a key, RENAME's and
    /// the STORE commands' destinations): `lazyfree-lazy-server-del`.
    pub fn free_server_del(&self, v: Option<Value>) {
        if let Some(v) = v {
            self.free_value(v, self.conf.lazyfree_lazy_server_del);
        }
    }

    /// Empties database `db`: with `lazy`, swaps in an empty one and sends the old one to the
    /// free thread whole (O(1) here), else frees it inline.
    pub fn empty_db(&mut self, db: usize, lazy: bool) {
        let mut old = self.dbs[db].take();
        // A snapshot still walking this data keeps it (FLUSHDB during BGSAVE).
        if let Some(bg) = self.bgsave.as_deref_mut() {
            match bg.snap.adopt(old) {
                Some(back) => old = back,
                None => return,
            }
        }
        if lazy {
            self.lazyfree.free_db(old);
        }
    }
}
