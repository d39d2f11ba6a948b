//! The append-only file, Redis 7.0's multi-part layout (`aof.c`): in `dir`/`appenddirname`,
//! a manifest (`<appendfilename>.manifest`) names a base file (an RDB, or an AOF of
//! commands) and the incremental files appended since, in order.
//!
//! The AOF is the replication stream's bytes (`Shared::end_batch` hands every batch's new
//! bytes to [`AofWriter::append`] before the batch's replies are written), so it holds the
//! same effects in the same order as a replica receives. With `appendfsync always` replies
//! wait for [`AofWriter::sync_now`], called once for all the batches written before it
//! (group commit: `server::aof_sync_task`), so no reply leaves before its fsync; `everysec`
//! leaves the fsync to a thread that runs once a second; `no` leaves it to the kernel.
//!
//! At startup with `appendonly yes`: the manifest's files are loaded (base, then each
//! increment, replayed through the engine while clients get LOADING); a legacy single
//! `appendonly.aof` in `dir` is loaded and moved into the directory as the base, as Redis
//! 7.0 upgrades it; with neither, an empty base is created. Then the last increment is opened for appending (a new one
//! when there is none). BGREWRITEAOF, automatic rewrites and CONFIG SET appendonly are
//! below ([`AofWriter::start_rewrite`], [`AofWriter::open_waiting`]). A failed write keeps
//! its bytes and is retried after every batch; meanwhile the engine refuses writes with
//! MISCONF ([`AofWriter::last_error`]). `aof-timestamp-enabled` adds `#TS:` lines
//! ([`AofWriter::annotate`]). Loading is `crate::aof_load`.

use crate::server::Shared;
use crate::{notice, warning};
use redoubt_persist::aof::{AofFile, Kind, Manifest};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    Always,
    EverySec,
    No,
}

/// The open incremental file and its fsync policy.
pub struct AofWriter {
    /// `None` while waiting for the first rewrite after CONFIG SET appendonly yes: effects
    /// before the rewrite's snapshot need no file (the snapshot holds them).
    file: Option<File>,
    /// Turned on at run time and its first rewrite has not finished (`AOF_WAIT_REWRITE`):
    /// the increment is a temp file, and the manifest on disk still describes the old AOF.
    waiting: bool,
    policy: Fsync,
    stop: Arc<AtomicBool>,
    /// Why the last write failed (`strerror`), until a retried write succeeds.
    failed: Option<String>,
    /// Bytes not written yet because a write failed (Redis keeps them in `aof_buf` and
    /// retries): written before anything newer, so the file never has a gap.
    pending: Vec<u8>,
    /// When a write error was last logged (Redis logs one every 30 seconds).
    last_error_log_ms: i64,
    /// The everysec fsync thread's last error (`aof_bio_fsync_status`), `None` when its
    /// last fsync succeeded.
    fsync_error: Arc<std::sync::Mutex<Option<String>>>,
    fsync_error_logged: bool,
    /// `aof-timestamp-enabled`, and the unix second of the last `#TS:` annotation written
    /// (`aof_cur_timestamp`).
    timestamps: bool,
    cur_timestamp: i64,
    /// The AOF directory (relative to `dir`, as Redis keeps it) and the manifest's name.
    dir: PathBuf,
    manifest_name: String,
    basename: String,
    manifest: Manifest,
    /// The base file a running rewrite is writing, and how many increments it covers.
    rewrite: Option<(AofFile, usize)>,
    /// The new increment and the stream offset where it takes over: bytes before the offset
    /// are effects the rewrite's snapshot already holds, so they end the old increment.
    switch: Option<(u64, File)>,
}

impl AofWriter {
    /// Appends one batch of the replication stream, which ends at stream offset `end`;
    /// false when the write or fsync failed.
    pub fn append(&mut self, bytes: &[u8], end: u64) -> bool {
        if let Some((at, _)) = &self.switch {
            let start = end.saturating_sub(bytes.len() as u64);
            let cut = at.saturating_sub(start).min(bytes.len() as u64) as usize;
            if cut == bytes.len() {
                return self.write_out(bytes);
            }
            let ok = self.write_out(&bytes[..cut]);
            if let Some((_, file)) = self.switch.take() {
                if let Some(old) = &self.file {
                    let _ = old.sync_all();
                }
                if self.policy == Fsync::EverySec {
                    self.stop.store(true, Ordering::Relaxed);
                    self.stop = Arc::new(AtomicBool::new(false));
                    if let Err(e) =
                        spawn_fsync_thread(&file, self.stop.clone(), self.fsync_error.clone())
                    {
                        warning!("Can't start the AOF fsync thread: {e}");
                    }
                }
                self.file = Some(file);
            }
            return self.write_out(&bytes[cut..]) && ok;
        }
        self.write_out(bytes)
    }

    fn write_out(&mut self, bytes: &[u8]) -> bool {
        if self.file.is_none() {
            return true;
        }
        if !self.pending.is_empty() {
            // Older bytes first: append behind them and retry the whole buffer.
            self.pending.extend_from_slice(bytes);
            return self.flush_pending();
        }
        if bytes.is_empty() {
            return self.failed.is_none();
        }
        let data = bytes.to_vec();
        self.write_data(data)
    }

    /// Writes the bytes a failed write left behind (the cron's retry, `flushAppendOnlyFile`).
    fn flush_pending(&mut self) -> bool {
        let data = std::mem::take(&mut self.pending);
        if data.is_empty() {
            return self.failed.is_none();
        }
        self.write_data(data)
    }

    /// `flushAppendOnlyFile`'s write and its error handling: a short write is truncated
    /// away (or, when that fails, what was written is dropped from the buffer); the rest is
    /// kept for the next attempt and writes are refused meanwhile (MISCONF). With
    /// `appendfsync always` Redis cannot take back replies already promised and exits.
    fn write_data(&mut self, data: Vec<u8>) -> bool {
        let Some(file) = self.file.as_mut() else {
            return true;
        };
        // With `always` the fsync is the caller's (`sync_now`), once for every batch that
        // ran before it: Redis's one fsync per event-loop iteration (group commit).
        let (mut written, err) = match write_counting(file, &data) {
            Ok(()) => {
                if self.failed.take().is_some() {
                    warning!("AOF write error looks solved, Redis can write again.");
                }
                return true;
            }
            Err(x) => x,
        };
        let now = crate::log::now_ms();
        let can_log = now - self.last_error_log_ms > 30_000;
        if can_log {
            self.last_error_log_ms = now;
        }
        let reason = if written == 0 {
            if can_log {
                warning!("Error writing to the AOF file: {}", strerror(&err));
            }
            strerror(&err)
        } else {
            if can_log {
                warning!(
                    "Short write while writing to the AOF file: (nwritten={written}, expected={})",
                    data.len()
                );
            }
            let undo = file
                .metadata()
                .and_then(|m| file.set_len(m.len().saturating_sub(written as u64)));
            match undo {
                Ok(()) => written = 0,
                Err(e) => {
                    if can_log {
                        warning!("Could not remove short write from the append-only file.  Redis may refuse to load the AOF the next time it starts.  ftruncate: {}", strerror(&e));
                    }
                }
            }
            "No space left on device".to_string()
        };
        if self.policy == Fsync::Always {
            warning!("Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...");
            std::process::exit(1);
        }
        self.pending = data[written..].to_vec();
        self.failed = Some(reason);
        false
    }

    /// Retries a failed write: Redis's `beforeSleep` does on every event-loop iteration
    /// while its buffer holds bytes, and `serverCron` while idle. Also logs a new error of
    /// the fsync thread (which has no logger of its own).
    pub fn retry(&mut self) {
        if self.failed.is_some() {
            self.flush_pending();
        }
        let fsync = self
            .fsync_error
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default();
        match (fsync, self.fsync_error_logged) {
            (Some(e), false) => {
                warning!("Fail to fsync the AOF file: {e}");
                self.fsync_error_logged = true;
            }
            (None, true) => self.fsync_error_logged = false,
            _ => {}
        }
    }

    /// Why writes are refused: the last failed write, else the fsync thread's last error.
    pub fn last_error(&self) -> Option<String> {
        self.failed.clone().or_else(|| {
            self.fsync_error
                .lock()
                .map(|e| e.clone())
                .unwrap_or_default()
        })
    }

    /// Bytes waiting for a successful write (`aof_buffer_length`).
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// A rewrite starts (`openNewIncrAofForAppend`): later writes go to a new incremental
    /// file, listed in the manifest at once; returns the sink for the new base (an RDB, or
    /// commands with `rdb` false).
    pub fn start_rewrite(
        &mut self,
        checksum: bool,
        split_offset: u64,
        rdb: bool,
    ) -> Result<Box<dyn redoubt_engine::snapshot::SnapshotSink>, String> {
        let incr = if self.waiting {
            // Not in the manifest until the rewrite ends (Redis's temp incr file).
            AofFile {
                name: self.temp_incr_name(),
                seq: 0,
                kind: Kind::Incr,
            }
        } else {
            self.manifest.next_incr(&self.basename)
        };
        let file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(self.dir.join(&incr.name))
            .map_err(|e| {
                format!(
                    "Can't open the append-only file {}: {}",
                    incr.name,
                    strerror(&e)
                )
            })?;
        if self.waiting {
            file.set_len(0).map_err(|e| strerror(&e))?;
        } else {
            self.manifest.incr.push(incr.clone());
            if let Err(e) = persist_manifest(&self.dir, &self.manifest_name, &self.manifest) {
                self.manifest.incr.pop();
                let _ = std::fs::remove_file(self.dir.join(&incr.name));
                return Err(e);
            }
            notice!("Creating AOF incr file {} on background rewrite", incr.name);
        }
        self.switch = Some((split_offset, file));
        let base = self.manifest.next_base(&self.basename, rdb);
        let tmp = format!("temp-rewriteaof-bg-{}.aof", std::process::id());
        let dir = std::env::current_dir()
            .map(|d| d.join(&self.dir))
            .unwrap_or_else(|_| self.dir.clone());
        // An AOF-format base has no CRC64 trailer.
        let sink = crate::rdbfile::FileSink::start_in(dir, &tmp, &base.name, checksum, rdb)?;
        // Every increment but the new one is covered by the new base.
        // (Waiting: all of the old AOF's increments, the new one is not listed yet.)
        let covered = if self.waiting {
            self.manifest.incr.len()
        } else {
            self.manifest.incr.len().saturating_sub(1)
        };
        self.rewrite = Some((base, covered));
        Ok(Box::new(sink))
    }

    /// A rewrite's base is on disk: the manifest switches to it (`backgroundRewriteDoneHandler`)
    /// and the files it replaces become history, then are deleted. Returns (base size,
    /// increments size).
    pub fn finish_rewrite(&mut self) -> Result<(u64, u64), String> {
        let Some((base, covered)) = self.rewrite.take() else {
            return Err("no AOF rewrite in progress".into());
        };
        let mut next = self.manifest.clone();
        let covered = if self.waiting {
            next.incr.len()
        } else {
            covered
        };
        let waiting_incr = if self.waiting {
            // The temp increment becomes the manifest's next one.
            let f = next.next_incr(&self.basename);
            std::fs::rename(self.dir.join(self.temp_incr_name()), self.dir.join(&f.name))
                .map_err(|e| format!("Error renaming the temp incr AOF file: {}", strerror(&e)))?;
            Some(f)
        } else {
            None
        };
        for mut f in next.incr.drain(..covered) {
            f.kind = Kind::History;
            next.history.push(f);
        }
        if let Some(mut old) = next.base.take() {
            old.kind = Kind::History;
            next.history.push(old);
        }
        next.base = Some(base.clone());
        next.incr.extend(waiting_incr);
        persist_manifest(&self.dir, &self.manifest_name, &next)?;
        self.waiting = false;
        notice!(
            "Successfully renamed the temporary AOF base file temp-rewriteaof-bg-{}.aof into {}",
            std::process::id(),
            base.name
        );
        for h in std::mem::take(&mut next.history) {
            notice!("Removing the history file {} in the background", h.name);
            let _ = std::fs::remove_file(self.dir.join(&h.name));
        }
        persist_manifest(&self.dir, &self.manifest_name, &next)?;
        self.manifest = next;
        let size = |f: &AofFile| std::fs::metadata(self.dir.join(&f.name)).map_or(0, |m| m.len());
        let base_size = size(&base);
        let incr: u64 = self.manifest.incr.iter().map(size).sum();
        Ok((base_size, incr))
    }

    fn temp_incr_name(&self) -> String {
        format!("temp-{}.incr", self.basename)
    }

    /// CONFIG SET appendonly yes (`startAppendOnly`): an AOF that records nothing until its
    /// first rewrite starts, keeping the manifest of an older AOF in the directory, if any,
    /// until that rewrite replaces it.
    pub fn open_waiting(cfg: &redoubt_config::Config) -> Result<AofWriter, String> {
        let basename = cfg.get_str("appendfilename").into_owned();
        let dirname = cfg.get_str("appenddirname").into_owned();
        let dir = PathBuf::from(&dirname);
        let manifest_name = format!("{basename}.manifest");
        let manifest = match std::fs::read(dir.join(&manifest_name)) {
            Ok(text) => Manifest::parse(&text)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Manifest::default(),
            Err(e) => return Err(strerror(&e)),
        };
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("Can't create AOF directory {dirname}: {}", strerror(&e)))?;
        Ok(AofWriter {
            file: None,
            waiting: true,
            policy: policy_of(cfg),
            timestamps: cfg.get_bool("aof-timestamp-enabled"),
            cur_timestamp: 0,
            stop: Arc::new(AtomicBool::new(false)),
            failed: None,
            pending: Vec::new(),
            last_error_log_ms: 0,
            fsync_error: Arc::default(),
            fsync_error_logged: false,
            dir,
            manifest_name,
            basename,
            manifest,
            rewrite: None,
            switch: None,
        })
    }

    /// `aof-timestamp-enabled` (CONFIG SET).
    pub fn set_timestamps(&mut self, on: bool) {
        self.timestamps = on;
    }

    /// `genAofTimestampAnnotationIfNeeded`: before the first write of each new second, a
    /// `#TS:<unix seconds>` line (loaders skip lines starting with `#`).
    pub fn annotate(&mut self, now_s: i64) {
        if self.timestamps && self.cur_timestamp < now_s && self.file.is_some() {
            self.cur_timestamp = now_s;
            let ts = format!("#TS:{now_s}\r\n");
            self.write_out(ts.as_bytes());
        }
    }

    /// CONFIG SET appendfsync.
    pub fn set_policy(&mut self, policy: Fsync) {
        if policy == Fsync::EverySec && self.policy != Fsync::EverySec {
            self.stop.store(true, Ordering::Relaxed);
            self.stop = Arc::new(AtomicBool::new(false));
            if let Some(f) = &self.file {
                if let Err(e) = spawn_fsync_thread(f, self.stop.clone(), self.fsync_error.clone()) {
                    warning!("Can't start the AOF fsync thread: {e}");
                }
            }
        }
        self.policy = policy;
    }

    /// `appendfsync always`: waits for the disk; replies held for it are released after.
    pub fn sync_now(&mut self) -> bool {
        let Some(f) = &self.file else {
            return true;
        };
        match f.sync_data() {
            Ok(()) => true,
            Err(e) => {
                // Replies wait for this fsync: they cannot be released, nor the writes undone.
                warning!(
                    "Can't persist AOF for fsync error when the AOF fsync policy is 'always': {}. Exiting...",
                    strerror(&e)
                );
                std::process::exit(1);
            }
        }
    }

    /// True when replies must wait for [`AofWriter::sync_now`] (`appendfsync always`).
    pub fn syncs_before_replies(&self) -> bool {
        self.policy == Fsync::Always
    }

    /// CONFIG SET appendonly no: everything written is made durable, then the file closes.
    pub fn shut(&mut self) {
        if let Some(f) = &self.file {
            let _ = f.sync_all();
        }
        self.stop.store(true, Ordering::Relaxed);
    }

    /// The final fsync of a shutdown.
    pub fn close(&mut self) {
        notice!("Calling fsync() on the AOF file.");
        if let Some(f) = &self.file {
            let _ = f.sync_all();
        }
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn strerror(e: &std::io::Error) -> String {
    redoubt_config::fsio::strerror(e)
}

/// Writes the manifest crash-safely (temp file, fsync, rename, fsync of the directory).
fn persist_manifest(dir: &Path, name: &str, m: &Manifest) -> Result<(), String> {
    let tmp = dir.join(format!("temp-{name}"));
    let write = || -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(m.render().as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, dir.join(name))?;
        File::open(dir)?.sync_all()
    };
    write().map_err(|e| {
        format!(
            "Can't persist the AOF manifest file {name}: {}",
            strerror(&e)
        )
    })
}

/// `aofWrite`: writes all of `data` unless an error stops it; the error comes with how
/// many bytes were written before it.
fn write_counting(file: &mut File, data: &[u8]) -> Result<(), (usize, std::io::Error)> {
    let mut n = 0;
    while n < data.len() {
        match file.write(&data[n..]) {
            Ok(0) => return Err((n, std::io::ErrorKind::WriteZero.into())),
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err((n, e)),
        }
    }
    Ok(())
}

/// The configured `appendfsync`.
pub fn policy_of(cfg: &redoubt_config::Config) -> Fsync {
    match cfg.get_enum("appendfsync").as_ref() {
        "always" => Fsync::Always,
        "no" => Fsync::No,
        _ => Fsync::EverySec,
    }
}

/// Redis's BIO_AOF_FSYNC for `everysec`: at most about a second of acknowledged writes is
/// only in the page cache. Stops when `stop` is set.
fn spawn_fsync_thread(
    file: &File,
    stop: Arc<AtomicBool>,
    status: Arc<std::sync::Mutex<Option<String>>>,
) -> Result<(), String> {
    let f = file.try_clone().map_err(|e| strerror(&e))?;
    std::thread::Builder::new()
        .name("aof-fsync".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_secs(1));
                // `aof_bio_fsync_status`: a failure refuses writes until an fsync succeeds.
                let res = f.sync_data().map_err(|e| strerror(&e));
                if let Ok(mut st) = status.lock() {
                    if let Err(e) = &res {
                        if st.is_none() {
                            // Logged by the cron (`AofWriter::retry`): the logger is
                            // per-thread.
                            *st = Some(e.clone());
                        }
                    } else {
                        *st = None;
                    }
                }
            }
        })
        .map(|_| ())
        .map_err(|e| strerror(&e))
}

/// `loadDataFromDisk` + `aofOpenIfNeededOnServerStart` for `appendonly yes`. `Ok(None)`
/// when the AOF is off; `Err` is the exit code.
pub async fn start(shared: &Rc<Shared>) -> Result<Option<AofWriter>, i32> {
    let cfg = shared.engine.borrow().config.clone();
    if !cfg.get_bool("appendonly") {
        return Ok(None);
    }
    let fail = |msg: String| {
        warning!("{msg}");
        1
    };
    let basename = cfg.get_str("appendfilename").into_owned();
    let dirname = cfg.get_str("appenddirname").into_owned();
    let dir = PathBuf::from(&dirname);
    let manifest_name = format!("{basename}.manifest");
    let truncated_ok = cfg.get_bool("aof-load-truncated");
    let start = std::time::Instant::now();
    let mut manifest = match std::fs::read(dir.join(&manifest_name)) {
        Ok(text) => Manifest::parse(&text).map_err(fail)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Manifest::default(),
        Err(e) => {
            return Err(fail(format!(
                "Fatal error: can't open the AOF manifest {manifest_name} for reading: {}",
                strerror(&e)
            )))
        }
    };
    if manifest.base.is_none() && manifest.incr.is_empty() && Path::new(&basename).is_file() {
        // A Redis < 7.0 single-file AOF becomes the base of the new layout, then loads as
        // one (`aofUpgradePrepare`).
        std::fs::create_dir_all(&dir).map_err(|e| {
            fail(format!(
                "Can't create AOF directory {dirname}: {}",
                strerror(&e)
            ))
        })?;
        manifest.base = Some(AofFile {
            name: basename.clone(),
            seq: 1,
            kind: Kind::Base,
        });
        persist_manifest(&dir, &manifest_name, &manifest).map_err(fail)?;
        std::fs::rename(&basename, dir.join(&basename)).map_err(|e| {
            fail(format!(
                "Error moving {basename} into {dirname}: {}",
                strerror(&e)
            ))
        })?;
        notice!(
            "Successfully migrated an old-style AOF file ({basename}) into the AOF directory ({dirname})."
        );
    }
    let files: Vec<AofFile> = manifest.load_order().cloned().collect();
    let size = |f: &AofFile| std::fs::metadata(dir.join(&f.name)).map_or(0, |m| m.len());
    let total: u64 = files.iter().map(size).sum();
    if total > 0 {
        // `startLoading` for the whole AOF: clients get LOADING until its end.
        let loading = redoubt_engine::loading::Loading::new(crate::log::now_ms() / 1000, total);
        shared.engine.borrow_mut().loading = Some(loading);
    }
    let mut loaded_bytes = 0u64;
    for (i, f) in files.iter().enumerate() {
        let t = std::time::Instant::now();
        let last = i + 1 == files.len();
        let path = dir.join(&f.name);
        loaded_bytes +=
            crate::aof_load::load_file(shared, &path, &f.name, last, truncated_ok, loaded_bytes)
                .await
                .map_err(fail)?;
        let what = if f.kind == Kind::Base { "base" } else { "incr" };
        notice!(
            "DB loaded from {what} file {}: {:.3} seconds",
            f.name,
            t.elapsed().as_secs_f64()
        );
    }
    if !files.is_empty() {
        notice!(
            "DB loaded from append only file: {:.3} seconds",
            start.elapsed().as_secs_f64()
        );
    }
    let now_ms = crate::log::now_ms();
    let mut guard = shared.engine.borrow_mut();
    let eng = &mut *guard;
    // What was replayed is on disk already: the stream starts afresh (and with a SELECT).
    eng.stream = redoubt_engine::stream::ReplStream::new();
    std::fs::create_dir_all(&dir).map_err(|e| {
        fail(format!(
            "Can't create AOF directory {dirname}: {}",
            strerror(&e)
        ))
    })?;
    let mut cur_timestamp = 0;
    if manifest.base.is_none() && manifest.incr.is_empty() {
        let rdb = eng.config.get_bool("aof-use-rdb-preamble");
        let base = manifest.next_base(&basename, rdb);
        // The dataset is empty here (nothing was loaded): an RDB of it, or an empty AOF.
        let data = if rdb {
            eng.rdb_aof_base_image(now_ms)
        } else if eng.config.get_bool("aof-timestamp-enabled") {
            // `rewriteAppendOnlyFileRio` starts an AOF base with a forced annotation.
            cur_timestamp = now_ms / 1000;
            format!("#TS:{cur_timestamp}\r\n").into_bytes()
        } else {
            Vec::new()
        };
        crate::rdbfile::write_atomic_in(&dir, &base.name, &data).map_err(fail)?;
        notice!("Creating AOF base file {} on server start", base.name);
        manifest.base = Some(base);
    }
    let (incr, created) = match manifest.incr.last() {
        Some(f) => (f.clone(), false),
        None => {
            let f = manifest.next_incr(&basename);
            manifest.incr.push(f.clone());
            (f, true)
        }
    };
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(dir.join(&incr.name))
        .map_err(|e| {
            fail(format!(
                "Can't open the append-only file {}: {}",
                incr.name,
                strerror(&e)
            ))
        })?;
    persist_manifest(&dir, &manifest_name, &manifest).map_err(fail)?;
    let base_size = manifest.base.as_ref().map_or(0, size);
    let current_size = base_size + manifest.incr.iter().map(size).sum::<u64>();
    eng.aof = Some(redoubt_engine::AofStats {
        current_size,
        base_size,
        last_write_ok: true,
        rewrite_base_size: current_size,
        ..Default::default()
    });
    if created {
        notice!("Creating AOF incr file {} on server start", incr.name);
    } else {
        notice!("Opening AOF incr file {} on server start", incr.name);
    }
    let policy = policy_of(&eng.config);
    let stop = Arc::new(AtomicBool::new(false));
    let fsync_error = Arc::default();
    if policy == Fsync::EverySec {
        spawn_fsync_thread(&file, stop.clone(), Arc::clone(&fsync_error)).map_err(fail)?;
    }
    Ok(Some(AofWriter {
        file: Some(file),
        waiting: false,
        policy,
        timestamps: eng.config.get_bool("aof-timestamp-enabled"),
        cur_timestamp,
        stop,
        failed: None,
        pending: Vec::new(),
        last_error_log_ms: 0,
        fsync_error,
        fsync_error_logged: false,
        dir,
        manifest_name,
        basename,
        manifest,
        rewrite: None,
        switch: None,
    }))
}

/// Appends a batch of the stream to the AOF minus its replication heartbeats (`ranges`,
/// positions in `bytes`, whose last byte is at stream offset `end`): Redis's AOF never holds
/// the PINGs and `REPLCONF GETACK`s it sends replicas. Each kept piece carries its own end
/// offset, so a rewrite's switch point still falls where it should. Returns the write
/// status and the bytes written.
pub fn append_without_heartbeats(
    aof: &mut AofWriter,
    bytes: &[u8],
    end: u64,
    ranges: &[std::ops::Range<usize>],
) -> (bool, u64) {
    if ranges.is_empty() {
        return (aof.append(bytes, end), bytes.len() as u64);
    }
    let start = end.saturating_sub(bytes.len() as u64);
    let mut ok = true;
    let mut written = 0u64;
    let mut pos = 0usize;
    let cuts = ranges
        .iter()
        .map(|r| (r.start.min(bytes.len()), r.end.min(bytes.len())))
        .chain(std::iter::once((bytes.len(), bytes.len())));
    for (from, to) in cuts {
        if from > pos {
            ok &= aof.append(&bytes[pos..from], start + from as u64);
            written += (from - pos) as u64;
        }
        pos = pos.max(to);
    }
    (ok, written)
}
