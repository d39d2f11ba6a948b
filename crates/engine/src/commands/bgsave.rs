//! BGSAVE and everything around it (Redis 7.0 rdb.c `bgsaveCommand`, `rdbSaveBackground`,
//! `backgroundSaveDoneHandlerDisk`; server.c `serverCron`'s save points and the MISCONF
//! refusal of `processCommand`).
//!
//! There is no child process: a BGSAVE is a [`Snapshot`] walked on the engine thread in
//! slices (`Engine::bgsave_work`, driven by the server between batches) whose bytes a
//! [`SnapshotSink`] writes to `temp-<pid>.rdb` on a background thread, then fsyncs and
//! renames over `dbfilename`. The "child pid" Redis logs is our own pid. BGSAVE changes
//! nothing in the dataset, so it propagates nothing.

use crate::ctx::Ctx;
use crate::errors;
use crate::snapshot::{Snapshot, SnapshotSink};
use crate::table::Handler;
use crate::Engine;
use bytes::Bytes;

/// Redis's CONFIG_BGSAVE_RETRY_DELAY: seconds between attempts after a failed BGSAVE.
const RETRY_DELAY_S: i64 = 5;

/// The MISCONF refusal (`shared.bgsaveerr`).
pub const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// What a background snapshot is for (Redis's `child_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// BGSAVE (and save points): `dbfilename`.
    Rdb,
    /// BGREWRITEAOF: a new AOF base file (`commands::aofrw`).
    AofRewrite,
}

/// A BGSAVE (or AOF rewrite) in progress.
pub struct BgSave {
    pub job: Job,
    pub snap: Snapshot,
    sink: Box<dyn SnapshotSink>,
    /// A chunk the sink refused (full), offered again first.
    pending: Option<Vec<u8>>,
    /// The image is complete (EOF produced).
    produced: bool,
    finish_sent: bool,
    pub start_ms: i64,
    dirty_before: u64,
    /// A diskless full sync (`repl_sync`): the image goes to replicas' sockets, not a file.
    pub sockets: bool,
}

/// What the server's snapshot task should do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Work {
    /// More to do right away (after letting clients run).
    More,
    /// Waiting on the sink (full, or finishing): try again in a moment.
    Wait,
    /// No BGSAVE in progress.
    Idle,
}

impl Engine {
    /// The configured save points as (seconds, changes).
    pub fn save_points(&self) -> Vec<(i64, u64)> {
        let Some(m) = redoubt_config::lookup(b"save") else {
            return Vec::new();
        };
        let v = self.config.get_value_bytes(m.id);
        let words: Vec<i64> = String::from_utf8_lossy(&v)
            .split_ascii_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        words
            .chunks_exact(2)
            .map(|p| (p[0], p[1].max(0) as u64))
            .collect()
    }

    /// `writeCommandsDeniedByDiskError` for RDB: writes are refused while the last BGSAVE
    /// failed, save points exist and `stop-writes-on-bgsave-error` is on.
    pub fn writes_denied_by_disk_error(&self) -> bool {
        !self.rdb.last_status_ok
            && self.config.get_bool("stop-writes-on-bgsave-error")
            && !self.save_points().is_empty()
    }

    /// `writeCommandsDeniedByDiskError` with its reply (`writeCommandsGetDiskErrorMessage`):
    /// a failed BGSAVE under `stop-writes-on-bgsave-error`, or a failed AOF write or fsync
    /// while the AOF is on (cleared once a retried write succeeds).
    pub fn disk_error_reply(&self) -> Option<String> {
        if self.writes_denied_by_disk_error() {
            return Some(MISCONF.to_string());
        }
        match &self.aof {
            Some(a) if !a.last_write_ok => Some(format!(
                "MISCONF Errors writing to the AOF file: {}",
                a.last_write_error
            )),
            _ => None,
        }
    }

    /// A BGSAVE is running (Redis's `child_type == CHILD_TYPE_RDB`).
    pub fn rdb_child(&self) -> bool {
        self.bgsave.as_deref().is_some_and(|b| b.job == Job::Rdb)
    }

    /// An AOF rewrite is running (`child_type == CHILD_TYPE_AOF`).
    pub fn aof_child(&self) -> bool {
        self.bgsave
            .as_deref()
            .is_some_and(|b| b.job == Job::AofRewrite)
    }

    /// Installs a started snapshot job.
    pub(crate) fn begin_job(
        &mut self,
        job: Job,
        now_ms: i64,
        sink: Box<dyn SnapshotSink>,
        header: Vec<u8>,
        writer: redoubt_keyspace::cow::EntryWriter,
    ) {
        let snap = Snapshot::begin(&mut self.dbs, header, writer);
        self.bgsave = Some(Box::new(BgSave {
            job,
            snap,
            sink,
            pending: None,
            produced: false,
            finish_sent: false,
            start_ms: now_ms,
            dirty_before: self.stats.dirty,
            sockets: false,
        }));
        self.hooks.snapshot_started();
    }

    /// `rdbSaveBackground`: true when started. On failure the error was logged and the
    /// status set to err.
    pub fn bgsave_start(&mut self, now_ms: i64) -> bool {
        if self.bgsave.is_some() {
            return false;
        }
        self.rdb.bgsave_try_s = now_ms / 1000;
        let name = self.config.get_str("dbfilename").into_owned();
        let checksum = self.config.get_bool("rdbchecksum");
        let sink = match self.hooks.clone().rdb_sink(&name, checksum) {
            Ok(s) => s,
            Err(e) => {
                self.rdb.last_status_ok = false;
                self.log_warning(&format!("Can't save in background: fork: {e}"));
                return false;
            }
        };
        let (header, writer) = self.rdb_snapshot_parts(now_ms, false);
        // Counted when started, as Redis 7.0 does (`stat_rdb_saves` in rdbSaveBackground).
        self.rdb.saves += 1;
        self.log_notice(&format!(
            "Background saving started by pid {}",
            self.info.pid
        ));
        self.begin_job(Job::Rdb, now_ms, sink, header, writer);
        true
    }

    /// `rdb-key-save-delay` in microseconds per key (a test knob, as in Redis).
    pub fn bgsave_key_delay_us(&self) -> i64 {
        self.config.get_int("rdb-key-save-delay")
    }

    /// One slice of BGSAVE work: up to `max_entries` entries serialized, or the sink polled.
    pub fn bgsave_work(&mut self, now_ms: i64, max_entries: usize) -> Work {
        let Engine {
            bgsave,
            dbs,
            lazyfree,
            ..
        } = self;
        let Some(bg) = bgsave.as_deref_mut() else {
            return Work::Idle;
        };
        if let Some(chunk) = bg.pending.take() {
            if let Err(chunk) = bg.sink.write(chunk) {
                bg.pending = Some(chunk);
                return Work::Wait;
            }
        }
        if !bg.produced {
            let mut out = Vec::new();
            bg.produced = bg.snap.step(dbs, &mut out, max_entries);
            for db in bg.snap.finished_orphans() {
                lazyfree.free_db(db);
            }
            if !out.is_empty() {
                if let Err(chunk) = bg.sink.write(out) {
                    bg.pending = Some(chunk);
                }
            }
            return Work::More;
        }
        if bg.snap.incomplete {
            bg.sink.abort();
            let err = "Snapshot lost track of a database: image discarded".to_string();
            self.bgsave_done(Err(err), now_ms);
            return Work::Idle;
        }
        if !bg.finish_sent {
            bg.sink.finish();
            bg.finish_sent = true;
        }
        match bg.sink.poll() {
            None => Work::Wait,
            Some(res) => {
                self.bgsave_done(res, now_ms);
                Work::Idle
            }
        }
    }

    /// `backgroundSaveDoneHandlerDisk` (or the AOF rewrite's done handler).
    fn bgsave_done(&mut self, res: Result<(), String>, now_ms: i64) {
        let Some(bg) = self.bgsave.take() else {
            return;
        };
        if bg.job == Job::AofRewrite {
            let cow = bg.snap.copied_bytes(&self.dbs);
            self.aof_rewrite_done(res, now_ms, bg.start_ms, cow);
            return;
        }
        if bg.sockets {
            self.sync_sockets_done(res, now_ms);
            return;
        }
        let ok = res.is_ok();
        self.rdb.last_cow_bytes = bg.snap.copied_bytes(&self.dbs);
        self.rdb.last_bgsave_time_s = now_ms / 1000 - bg.start_ms / 1000;
        match res {
            Ok(()) => {
                self.log_notice("DB saved on disk");
                self.log_notice("Background saving terminated with success");
                self.stats.dirty = self.stats.dirty.saturating_sub(bg.dirty_before);
                self.lastsave_s = now_ms / 1000;
                self.rdb.last_status_ok = true;
            }
            Err(e) => {
                self.log_warning(&e);
                self.log_warning("Background saving error");
                self.rdb.last_status_ok = false;
            }
        }
        self.sync_disk_done(ok);
    }

    /// `killRDBChild` (FLUSHALL): stops a BGSAVE and discards its temp file.
    pub fn bgsave_kill(&mut self) -> bool {
        if !self.rdb_child() {
            return false;
        }
        self.kill_job()
    }

    /// Stops the running snapshot job, whatever it is (SHUTDOWN).
    pub fn kill_job(&mut self) -> bool {
        let Some(mut bg) = self.bgsave.take() else {
            return false;
        };
        bg.sink.abort();
        for db in bg.snap.abort(&mut self.dbs) {
            self.lazyfree.free_db(db);
        }
        self.sync_job_killed();
        true
    }

    /// The save part of `serverCron`: save points and a scheduled BGSAVE, with the retry
    /// delay after a failure.
    pub fn save_cron(&mut self, now_ms: i64) {
        if self.bgsave.is_some() {
            return;
        }
        // A rewrite asked for while another job ran (`aof_rewrite_scheduled`).
        if self.rdb.aof_rewrite_scheduled {
            self.aof_rewrite_start(now_ms);
            return;
        }
        let now_s = now_ms / 1000;
        let may_retry = now_s - self.rdb.bgsave_try_s > RETRY_DELAY_S || self.rdb.last_status_ok;
        for (secs, changes) in self.save_points() {
            if self.stats.dirty >= changes && now_s - self.lastsave_s > secs && may_retry {
                self.log_notice(&format!("{changes} changes in {secs} seconds. Saving..."));
                self.bgsave_start(now_ms);
                return;
            }
        }
        if self.aof_auto_rewrite(now_ms) {
            return;
        }
        if self.rdb.bgsave_scheduled && may_retry && self.bgsave_start(now_ms) {
            self.rdb.bgsave_scheduled = false;
        }
    }
}

/// BGSAVE [SCHEDULE].
pub fn bgsave(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let mut schedule = false;
    if argv.len() > 1 {
        if argv.len() == 2 && argv[1].eq_ignore_ascii_case(b"schedule") {
            schedule = true;
        } else {
            ctx.error(errors::SYNTAX);
            return;
        }
    }
    if ctx.eng.rdb_child() {
        ctx.error("ERR Background save already in progress");
    } else if ctx.eng.aof_child() && !schedule && !ctx.in_exec {
        ctx.error("ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.");
    } else if ctx.eng.aof_child() || ctx.in_exec {
        // Redis schedules a BGSAVE asked for inside MULTI/EXEC (`server.in_exec`), so the
        // transaction stays atomic, or with SCHEDULE while an AOF rewrite runs; the cron
        // starts it.
        ctx.eng.rdb.bgsave_scheduled = true;
        ctx.out().simple("Background saving scheduled");
    } else if ctx.eng.bgsave_start(ctx.now_ms) {
        ctx.out().simple("Background saving started");
    } else {
        ctx.error("ERR");
    }
}

pub static HANDLERS: &[(&str, Handler)] = &[("bgsave", bgsave)];

#[cfg(test)]
mod tests {
    use crate::testing::TestEngine;
    use std::cell::RefCell;
    use std::rc::Rc;

    use crate::testing::MemHooks;

    fn with_memory_sink() -> (TestEngine, Rc<RefCell<Vec<u8>>>) {
        let mut t = TestEngine::new();
        let file = Rc::new(RefCell::new(Vec::new()));
        t.eng.hooks = Rc::new(MemHooks(file.clone()));
        (t, file)
    }

    #[test]
    fn flushall_stops_the_bgsave_and_leaves_no_snapshot_state() {
        let (mut t, _file) = with_memory_sink();
        for i in 0..50 {
            t.run(&format!("SET k{i} v"));
        }
        assert_eq!(t.text("BGSAVE"), "+Background saving started|");
        assert!(t.eng.dbs[0].snapshot().is_some());
        assert_eq!(t.text("FLUSHALL"), "+OK|");
        assert!(t.eng.bgsave.is_none());
        assert!(t.eng.dbs.iter().all(|d| d.snapshot().is_none()));
        // Killed, not failed: writes stay allowed (Redis's SIGUSR1 case).
        assert!(t.eng.rdb.last_status_ok);
    }

    #[test]
    fn bgsave_in_exec_is_scheduled_and_the_cron_starts_it() {
        let (mut t, file) = with_memory_sink();
        t.run("CONFIG SET save \"\"");
        t.run("SET a 1");
        t.run("MULTI");
        t.run("BGSAVE");
        assert_eq!(t.text("EXEC"), "*1|+Background saving scheduled|");
        assert!(t.eng.bgsave.is_none());
        let now = t.now_ms;
        t.eng.save_cron(now);
        assert!(t.eng.bgsave.is_some());
        assert!(!t.eng.rdb.bgsave_scheduled);
        while t.eng.bgsave_work(now, 10) != super::Work::Idle {}
        assert!(file.borrow().starts_with(b"REDIS0010"));
        assert_eq!(t.eng.stats.dirty, 0);
    }

    #[test]
    fn a_failed_start_is_retried_by_save_points_only_after_the_delay() {
        // No sink (NoHooks): the start fails as a fork would.
        let mut t = TestEngine::new();
        t.run("CONFIG SET save \"1 1\"");
        t.run("SET a 1");
        assert_eq!(t.text("BGSAVE"), "-ERR|");
        assert!(!t.eng.rdb.last_status_ok);
        assert_eq!(t.text("SET b 2"), format!("-{}|", super::MISCONF));
        let tried = t.eng.rdb.bgsave_try_s;
        t.eng.save_cron(t.now_ms + 3_000);
        assert_eq!(t.eng.rdb.bgsave_try_s, tried, "within the retry delay");
        t.eng.save_cron(t.now_ms + 6_000);
        assert_eq!(t.eng.rdb.bgsave_try_s, tried + 6, "retried after 5 s");
        t.run("CONFIG SET stop-writes-on-bgsave-error no");
        assert_eq!(t.text("SET b 2"), "+OK|");
    }
}
