//! What the engine asks of the process around it, for the few commands whose effects leave
//! memory: CONFIG SET of `dir` and of listeners, CONFIG REWRITE. The server crate implements
//! [`ServerHooks`]; tests get [`NoHooks`]. Keeping these behind a trait is what lets the engine
//! stay free of files and sockets.

use redoubt_config::Config;

pub trait ServerHooks {
    /// Changes the working directory (CONFIG SET dir); returns the new absolute path, or
    /// the `strerror` text.
    fn chdir(&self, dir: &str) -> Result<String, String>;
    /// Rewrites the config file (CONFIG REWRITE); the error is the full reply text.
    fn rewrite_config(&self, path: &str, cfg: &Config) -> Result<(), String>;
    /// Rebinds listeners after CONFIG SET of `port` or `bind`; on failure nothing changed and
    /// the error is the reason Redis gives (`Unable to listen on this port`).
    fn rebind(&self, cfg: &Config) -> Result<(), String>;
    /// Re-reads the settings the server owns (timeouts, limits, log level) after CONFIG SET.
    fn settings_changed(&self, cfg: &Config);
    /// Writes an RDB file in the working directory crash-safely (temp file, fsync, rename),
    /// as `rdbSave`; the error is the line the server logged.
    fn write_rdb(&self, _filename: &str, _data: &[u8]) -> Result<(), String> {
        Err("Failed saving the DB: Operation not supported".into())
    }
    /// Reads an RDB file from the working directory (DEBUG RELOAD).
    fn read_rdb(&self, _filename: &str) -> Result<Vec<u8>, String> {
        Err("Operation not supported".into())
    }
    /// Opens the sink a BGSAVE writes `filename` through (`temp-<pid>.rdb`, then fsync and
    /// rename, on a background thread); the sink appends the CRC64 trailer (zero without
    /// `checksum`). The error is the reason to log.
    fn rdb_sink(
        &self,
        _filename: &str,
        _checksum: bool,
    ) -> Result<Box<dyn crate::snapshot::SnapshotSink>, String> {
        Err("Operation not supported".into())
    }
    /// BGREWRITEAOF's start: the server opens a new incremental file, which takes the
    /// stream from offset `split_offset` on (earlier bytes are in the snapshot), and returns
    /// the sink that writes the new base file (`rdb`: a `.base.rdb` with the CRC64 trailer;
    /// else a `.base.aof` of commands, no trailer). Fails when the AOF is off (not supported yet)
    /// or a file cannot be created; the error is logged.
    fn aof_rewrite_sink(
        &self,
        _checksum: bool,
        _split_offset: u64,
        _rdb: bool,
    ) -> Result<Box<dyn crate::snapshot::SnapshotSink>, String> {
        Err("the AOF is off".into())
    }
    /// BGREWRITEAOF's end, after the sink succeeded: the manifest switches to the new base,
    /// older files become history and are deleted. Returns (base size, increments size).
    fn aof_rewrite_installed(&self) -> Result<(u64, u64), String> {
        Err("the AOF is off".into())
    }
    /// CONFIG SET appendonly yes: opens an AOF that starts recording with the first rewrite.
    fn aof_open(&self, _cfg: &Config) -> Result<(), String> {
        Err("Operation not supported".into())
    }
    /// CONFIG SET appendonly no: fsyncs and closes the AOF.
    fn aof_close(&self) {}
    /// A snapshot started: the server drives `Engine::bgsave_work` until it is done.
    fn snapshot_started(&self) {}
    /// Writes a line to the server log (warning or notice level).
    fn log(&self, _warning: bool, _msg: &str) {}
    /// The master changed (REPLICAOF): the server starts a link task for the new one (tasks
    /// of older generations stop by themselves) and logs with the new role letter.
    fn replication_changed(&self, _generation: u64, _replica: bool) {}
}

/// For engines without a server (tests, tools): every request is refused or ignored.
pub struct NoHooks;

impl ServerHooks for NoHooks {
    fn chdir(&self, _dir: &str) -> Result<String, String> {
        Err("Operation not supported".into())
    }

    fn rewrite_config(&self, _path: &str, _cfg: &Config) -> Result<(), String> {
        Err("ERR Rewriting config file: Operation not supported".into())
    }

    fn rebind(&self, _cfg: &Config) -> Result<(), String> {
        Err("Unable to listen on this port. Check server logs.".into())
    }

    fn settings_changed(&self, _cfg: &Config) {}
}
