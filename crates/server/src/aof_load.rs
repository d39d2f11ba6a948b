//! Loading the AOF's files at startup (`loadSingleAppendOnlyFile`) while clients are served
//! with LOADING replies: an RDB base (or preamble) decodes on a blocking thread
//! (`crate::loading::load_rdb_bytes`), commands replay through the engine in slices of about
//! a millisecond, and between two slices every connection task runs.
//! The replay itself (annotations, cut transactions) is `redoubt_engine::aof_replay`.

use crate::server::Shared;
use crate::{notice, warning};
use redoubt_engine::aof_replay::{AofReplayer, Outcome};
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

fn strerror(e: &std::io::Error) -> String {
    redoubt_config::fsio::strerror(e)
}

/// Replays `bytes` (commands), yielding to the connection tasks between slices.
/// `base_bytes` is what the load consumed before them (INFO's `loading_loaded_bytes`).
async fn replay(shared: &Rc<Shared>, bytes: &[u8], now_ms: i64, base_bytes: u64) -> Outcome {
    let mut r = AofReplayer::new(&mut shared.engine.borrow_mut(), bytes, now_ms);
    let progress = shared
        .engine
        .borrow()
        .loading
        .as_ref()
        .map(|l| l.progress.clone());
    loop {
        let start = Instant::now();
        let mut more = || start.elapsed() < Duration::from_millis(2);
        let out = r.step(&mut shared.engine.borrow_mut(), now_ms, &mut more);
        if let Some(p) = &progress {
            p.bytes
                .store(base_bytes + r.consumed() as u64, Ordering::Relaxed);
        }
        match out {
            Some(o) => return o,
            None => tokio::task::yield_now().await,
        }
    }
}

/// Loads one file of the AOF (an RDB base or commands, or an RDB preamble followed by
/// commands). A cut last command is dropped (and the file truncated to the valid prefix)
/// when `truncated_ok` and the file is the last one, as `aof-load-truncated` says.
/// Returns the file's size.
pub async fn load_file(
    shared: &Rc<Shared>,
    path: &Path,
    name: &str,
    last: bool,
    truncated_ok: bool,
    base_bytes: u64,
) -> Result<u64, String> {
    let bytes = std::fs::read(path)
        .map_err(|e| format!("Unable to open the AOF file {name}: {}", strerror(&e)))?;
    let now_ms = crate::log::now_ms();
    let mut from = 0;
    let bytes = if bytes.starts_with(b"REDIS") {
        notice!("Reading RDB base file on AOF loading...");
        let (st, bytes) = crate::loading::load_rdb_bytes(shared, bytes, base_bytes, true)
            .await
            .map_err(|e| format!("Bad file format reading the append only file {name}: {e}"))?;
        from = st.consumed;
        bytes
    } else {
        bytes
    };
    let outcome = replay(shared, &bytes[from..], now_ms, base_bytes + from as u64).await;
    let size = bytes.len() as u64;
    match outcome {
        Ok((_, true)) => Ok(size),
        Ok((valid, false)) if last && truncated_ok => {
            let valid = from + valid;
            warning!("!!! Warning: short read while loading the AOF file {name}!!!");
            warning!("!!! Truncating the AOF {name} at offset {valid} !!!");
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .and_then(|f| f.set_len(valid as u64).map(|()| f))
                .and_then(|f| f.sync_all());
            if let Err(e) = f {
                return Err(format!(
                    "Error truncating the AOF file {name}: {}",
                    strerror(&e)
                ));
            }
            warning!("AOF {name} loaded anyway because aof-load-truncated is enabled");
            Ok(size)
        }
        Ok((valid, false)) => Err(format!(
            "Unexpected end of file reading the append only file {name} (offset {}). You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.",
            from + valid
        )),
        Err(at) => Err(format!(
            "Bad file format reading the append only file {name} (offset {}): make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>",
            from + at
        )),
    }
}
