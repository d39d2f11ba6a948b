//! RDB files on disk: the crash-safe write behind SAVE (`rdbSave`: a `temp-<pid>.rdb`,
//! fsync, rename over the target, fsync of the directory) and the load at startup
//! (`loadDataFromDisk`), with Redis's log lines. The bytes come from the engine.

use crate::{notice, warning};
use redoubt_engine::Engine;
use std::io::Write;

fn cwd() -> String {
    std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

fn strerror(e: &std::io::Error) -> String {
    redoubt_config::fsio::strerror(e)
}

/// Writes `data` to `filename` (relative to the working directory, which is `dir`) so that
/// a crash leaves either the old file or the new one, never a torn one.
pub fn write_atomic(filename: &str, data: &[u8]) -> Result<(), String> {
    let tmp = format!("temp-{}.rdb", std::process::id());
    let mut f = std::fs::File::create(&tmp).map_err(|e| {
        format!(
            "Failed opening the temp RDB file {tmp} (in server root dir {}) for saving: {}",
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
    if let Err(e) = std::fs::rename(&tmp, filename) {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!(
            "Error moving temp DB file {tmp} on the final destination {filename} (in server root dir {}): {}",
            cwd(),
            strerror(&e)
        ));
    }
    // The rename is durable only once the directory entry is.
    if let Ok(d) = std::fs::File::open(".") {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Loads `dbfilename` at startup when it exists. `Err` is the exit code: a file that
/// cannot be read or parsed stops the server, as in Redis.
pub fn load_at_startup(eng: &mut Engine, now_ms: i64) -> Result<(), i32> {
    let name = eng.config.get_str("dbfilename").into_owned();
    let bytes = match std::fs::read(&name) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            warning!("Fatal error loading the DB: {}. Exiting.", strerror(&e));
            return Err(1);
        }
    };
    let start = std::time::Instant::now();
    match eng.load_rdb_image(&bytes, now_ms) {
        Ok(st) => {
            eng.restore_repl_info(&st, now_ms);
            if let Some(v) = st.aux("redis-ver") {
                notice!(
                    "Loading RDB produced by version {}",
                    String::from_utf8_lossy(v)
                );
            }
            if let Some(t) = st
                .aux("ctime")
                .and_then(|v| std::str::from_utf8(v).ok()?.parse::<i64>().ok())
            {
                let age = (now_ms / 1000 - t).max(0);
                notice!("RDB age {age} seconds");
            }
            if let Some(m) = st
                .aux("used-mem")
                .and_then(|v| std::str::from_utf8(v).ok()?.parse::<f64>().ok())
            {
                notice!(
                    "RDB memory usage when created {:.2} Mb",
                    m / 1024.0 / 1024.0
                );
            }
            if st.checksum_disabled && eng.config.get_bool("rdbchecksum") {
                warning!("RDB file was saved with checksum disabled: no check performed.");
            }
            if st.empty_keys_skipped > 0 {
                warning!(
                    "Done loading RDB, keys loaded: {}, keys expired: {}, empty keys skipped: {}.",
                    st.keys_loaded,
                    st.keys_expired,
                    st.empty_keys_skipped
                );
            } else {
                notice!(
                    "Done loading RDB, keys loaded: {}, keys expired: {}.",
                    st.keys_loaded,
                    st.keys_expired
                );
            }
            notice!(
                "DB loaded from disk: {:.3} seconds",
                start.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Err(e) => {
            warning!(
                "Fatal error loading the DB from {}/{name}: {e}. Exiting.",
                cwd()
            );
            Err(1)
        }
    }
}
