//! The startup load (`loadDataFromDisk`) while clients are already served: the listeners
//! accept from the start, and until the dataset is in, commands without the `loading` flag
//! get `-LOADING` (see `redoubt_engine::loading`). An RDB decodes on a blocking thread into
//! fresh databases that are swapped in at the end; the AOF replays in slices
//! (`crate::aof_load`). A load that fails stops the server, as in Redis.

use crate::server::Shared;
use crate::{notice, warning};
use redoubt_engine::loading::Loading;
use redoubt_persist::rdb::decode::LoadStats;
use std::rc::Rc;

fn cwd() -> String {
    std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// Loads the dataset (the AOF when on, else `dbfilename`), connects to the configured
/// master, then reports ready. `Err` is the exit code.
pub async fn load_dataset(shared: Rc<Shared>) -> Result<(), i32> {
    let res = load_files(&shared).await;
    let mut eng = shared.engine.borrow_mut();
    res?;
    eng.loading = None;
    // `replicaof` in the config: connect once serving (Redis's replicationCron does).
    if let Some((host, port)) = eng.config.replicaof() {
        let now = crate::log::now_ms();
        eng.set_master(host, port, now);
    }
    let unixsocket = shared.settings.borrow().unixsocket.clone();
    if !unixsocket.is_empty() {
        notice!("The server is now ready to accept connections at {unixsocket}");
    }
    notice!("Ready to accept connections");
    Ok(())
}

async fn load_files(shared: &Rc<Shared>) -> Result<(), i32> {
    // With the AOF on, it is the dataset (the RDB is not read), as Redis.
    if let Some(w) = crate::aof::start(shared).await? {
        *shared.aof.borrow_mut() = Some(w);
        return Ok(());
    }
    load_rdb_at_startup(shared).await
}

/// Loads `dbfilename` when it exists.
async fn load_rdb_at_startup(shared: &Rc<Shared>) -> Result<(), i32> {
    let name = shared
        .engine
        .borrow()
        .config
        .get_str("dbfilename")
        .into_owned();
    let bytes = match std::fs::read(&name) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            warning!(
                "Fatal error loading the DB: {}. Exiting.",
                redoubt_config::fsio::strerror(&e)
            );
            return Err(1);
        }
    };
    let start = std::time::Instant::now();
    shared.engine.borrow_mut().loading = Some(Loading::new(
        crate::log::now_ms() / 1000,
        bytes.len() as u64,
    ));
    match load_rdb_bytes(shared, bytes, 0, false).await {
        Ok((st, _)) => {
            let now_ms = crate::log::now_ms();
            shared.engine.borrow_mut().restore_repl_info(&st, now_ms);
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

/// Decodes an RDB image on a blocking thread and installs it into the engine, logging as
/// `rdbLoad` does. Returns the stats and the bytes (an AOF preamble continues after
/// `consumed`). `base_bytes` is what the load consumed before this image.
pub async fn load_rdb_bytes(
    shared: &Rc<Shared>,
    bytes: Vec<u8>,
    base_bytes: u64,
    aof_base: bool,
) -> Result<(LoadStats, Vec<u8>), String> {
    let now_ms = crate::log::now_ms();
    let (loader, progress, checksum) = {
        let eng = shared.engine.borrow();
        let progress = eng.loading.as_ref().map(|l| l.progress.clone());
        (
            eng.rdb_loader(now_ms),
            progress,
            eng.config.get_bool("rdbchecksum"),
        )
    };
    let progress = progress.unwrap_or_default();
    let job = tokio::task::spawn_blocking(move || {
        let res = loader.load(&bytes, &progress, base_bytes);
        (res, bytes)
    });
    let (res, bytes) = job
        .await
        .map_err(|e| format!("the loading thread failed: {e}"))?;
    let (dbs, st) = res.map_err(|e| e.to_string())?;
    log_aux(&st, now_ms);
    if st.checksum_disabled && checksum {
        warning!("RDB file was saved with checksum disabled: no check performed.");
    }
    if aof_base && st.aux("aof-base").is_some_and(|v| v != b"0") {
        notice!("RDB is base AOF");
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
    shared.engine.borrow_mut().install_loaded(dbs, &st);
    Ok((st, bytes))
}

/// The aux-field lines `rdbLoadRio` logs (also for a replica's sync payload).
pub(crate) fn log_aux(st: &LoadStats, now_ms: i64) {
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
}
