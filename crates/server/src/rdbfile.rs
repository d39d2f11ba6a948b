//! RDB files on disk: the crash-safe write behind SAVE (`rdbSave`: a `temp-<pid>.rdb`,
//! fsync, rename over the target, fsync of the directory) and the BGSAVE
//! writer thread. The load at startup is `crate::loading`. The bytes come from the engine.

use std::io::Write;

fn cwd() -> String {
    std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

fn strerror(e: &std::io::Error) -> String {
    redoubt_config::fsio::strerror(e)
}

/// Writes `data` to `filename` (relative to the working directory, which is `dir`) so that
/// a crash leaves either the old file or the new one, never a torn one.
pub fn write_atomic(filename: &str, data: &[u8]) -> Result<(), String> {
    write_atomic_in(std::path::Path::new("."), filename, data)
}

/// [`write_atomic`] into directory `dir` (relative to the working directory).
pub fn write_atomic_in(dir: &std::path::Path, filename: &str, data: &[u8]) -> Result<(), String> {
    let tmp_name = format!("temp-{}.rdb", std::process::id());
    let tmp = dir.join(&tmp_name);
    let target = dir.join(filename);
    let mut f = std::fs::File::create(&tmp).map_err(|e| {
        format!(
            "Failed opening the temp RDB file {tmp_name} (in server root dir {}) for saving: {}",
            cwd(),
            strerror(&e)
        )
    })?;
    let written = f.write_all(data).and_then(|()| f.sync_all());
    drop(f);
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("Write error saving DB on disk: {}", strerror(&e)));
    }
    if let Err(e) = std::fs::rename(&tmp, &target) {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!(
            "Error moving temp DB file {tmp_name} on the final destination {filename} (in server root dir {}): {}",
            cwd(),
            strerror(&e)
        ));
    }
    // The rename is durable only once the directory entry is.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The file side of a BGSAVE (`redoubt_engine::snapshot::SnapshotSink`): chunks go over a
/// bounded channel to a thread that writes `temp-<pid>.rdb`, keeps the CRC64, and at the end
/// appends it, fsyncs, renames over `dbfilename` and fsyncs the directory, as the child's
/// `rdbSave` does. Paths are absolute, taken at the start: a CONFIG SET dir meanwhile does
/// not move the file (a forked child keeps its working directory too).
pub struct FileSink {
    tx: Option<std::sync::mpsc::SyncSender<SinkMsg>>,
    done: std::sync::mpsc::Receiver<Result<(), String>>,
    outcome: Option<Result<(), String>>,
}

enum SinkMsg {
    Chunk(Vec<u8>),
    Finish,
    Abort,
}

impl FileSink {
    pub fn start(filename: &str, checksum: bool) -> Result<FileSink, String> {
        // A vanished working directory fails the save later, in the thread, with Redis's
        // "(in server root dir unknown)" line, as it fails in Redis's child.
        let dir = std::env::current_dir().unwrap_or_else(|_| "unknown".into());
        // Redis's child names it after its own pid; ours must differ from SAVE's
        // `temp-<pid>.rdb`, which DEBUG RELOAD may write while a BGSAVE runs.
        let tmp = format!("temp-bgsave-{}.rdb", std::process::id());
        Self::start_in(dir, &tmp, filename, checksum, true)
    }

    /// Writes `dir/tmp_name`, then renames it to `dir/filename` (an AOF rewrite's base).
    /// `trailer`: append the RDB's CRC64 (zero without `checksum`); an AOF-format base
    /// has none.
    pub fn start_in(
        dir: std::path::PathBuf,
        tmp_name: &str,
        filename: &str,
        checksum: bool,
        trailer: bool,
    ) -> Result<FileSink, String> {
        let tmp = dir.join(tmp_name);
        let target = dir.join(filename);
        // Chunks are about a slice each (tens of KB): 64 of them bound the memory in flight.
        let (tx, rx) = std::sync::mpsc::sync_channel::<SinkMsg>(64);
        let (done_tx, done) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("bgsave".into())
            .spawn(move || {
                let res = write_file(&rx, &tmp, &target, &dir, checksum, trailer);
                let _ = done_tx.send(res);
            })
            .map_err(|e| strerror(&e))?;
        Ok(FileSink {
            tx: Some(tx),
            done,
            outcome: None,
        })
    }
}

/// The writer thread's work; `Ok(())` only once the file is durable under its final name.
fn write_file(
    rx: &std::sync::mpsc::Receiver<SinkMsg>,
    tmp: &std::path::Path,
    target: &std::path::Path,
    dir: &std::path::Path,
    checksum: bool,
    trailer: bool,
) -> Result<(), String> {
    let tmp_name = tmp
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let file = std::fs::File::create(tmp).map_err(|e| {
        format!(
            "Failed opening the temp RDB file {tmp_name} (in server root dir {}) for saving: {}",
            dir.display(),
            strerror(&e)
        )
    });
    let mut file = match file {
        Ok(f) => std::io::BufWriter::with_capacity(1 << 20, f),
        Err(e) => {
            // Drain so the engine never blocks on a dead writer, then report.
            while let Ok(m) = rx.recv() {
                if matches!(m, SinkMsg::Finish | SinkMsg::Abort) {
                    break;
                }
            }
            return Err(e);
        }
    };
    let mut crc = 0u64;
    let mut failed: Option<std::io::Error> = None;
    loop {
        match rx.recv() {
            Ok(SinkMsg::Chunk(c)) => {
                if failed.is_none() {
                    if checksum {
                        crc = redoubt_persist::rdb::crc64::crc64(crc, &c);
                    }
                    if let Err(e) = file.write_all(&c) {
                        failed = Some(e);
                    }
                }
            }
            Ok(SinkMsg::Finish) => break,
            Ok(SinkMsg::Abort) | Err(_) => {
                drop(file);
                let _ = std::fs::remove_file(tmp);
                return Err("Background save aborted".into());
            }
        }
    }
    let written = match failed {
        Some(e) => Err(e),
        None => {
            let crc = if trailer { &crc.to_le_bytes()[..] } else { &[] };
            file.write_all(crc)
        }
        .and_then(|()| file.flush())
        .and_then(|()| file.get_ref().sync_all()),
    };
    drop(file);
    if let Err(e) = written {
        let _ = std::fs::remove_file(tmp);
        return Err(format!("Write error saving DB on disk: {}", strerror(&e)));
    }
    if let Err(e) = std::fs::rename(tmp, target) {
        let _ = std::fs::remove_file(tmp);
        return Err(format!(
            "Error moving temp DB file {tmp_name} on the final destination {} (in server root dir {}): {}",
            target
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            dir.display(),
            strerror(&e)
        ));
    }
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

impl redoubt_engine::snapshot::SnapshotSink for FileSink {
    fn write(&mut self, chunk: Vec<u8>) -> Result<(), Vec<u8>> {
        let Some(tx) = &self.tx else {
            return Ok(());
        };
        match tx.try_send(SinkMsg::Chunk(chunk)) {
            Ok(()) => Ok(()),
            Err(std::sync::mpsc::TrySendError::Full(SinkMsg::Chunk(c))) => Err(c),
            // The thread is gone: its outcome (an error) is what `poll` reports.
            Err(_) => Ok(()),
        }
    }

    fn finish(&mut self) {
        if let Some(tx) = self.tx.take() {
            // Blocking is fine: at most one send waits for a full channel to move.
            let _ = tx.send(SinkMsg::Finish);
        }
    }

    fn poll(&mut self) -> Option<Result<(), String>> {
        if self.outcome.is_none() {
            match self.done.try_recv() {
                Ok(r) => self.outcome = Some(r),
                Err(std::sync::mpsc::TryRecvError::Empty) => return None,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    self.outcome = Some(Err("Background saving thread died".into()))
                }
            }
        }
        self.outcome.clone()
    }

    fn abort(&mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(SinkMsg::Abort);
        }
        // The temp file must be gone before SHUTDOWN exits or FLUSHALL saves.
        let _ = self.done.recv();
    }
}
