//! The replica's side of a full sync once the payload is in (`repl-diskless-load`, Redis 7.0
//! `readSyncBulkPayload`):
//! - `disabled` (the default): the payload is written to `temp-<time>.<pid>.rdb`, fsynced and
//!   renamed over `dbfilename`, then loaded, as Redis does;
//! - `swapdb`: loaded straight from what was read, the old dataset serving meanwhile, then
//!   swapped in;
//! - `on-empty-db`: as `swapdb` when the dataset is empty, else as `disabled`.
//!
//! In every mode the parse runs on its own thread into fresh databases
//! (`redoubt_engine::repl_load`), and the engine swaps them in at once: the replica keeps
//! answering from its old data until then (Redis blocks in `disabled` mode, answering
//! -LOADING meanwhile). A failed load leaves the dataset empty except under `swapdb`, as
//! Redis (which flushed before loading).

use crate::server::Shared;
use crate::{notice, warning};
use redoubt_persist::rdb::decode::LoadStats;
use std::rc::Rc;

/// Whether the payload goes straight to the parser (`useDisklessLoad`).
pub fn diskless_load(shared: &Shared) -> bool {
    let eng = shared.engine.borrow();
    match eng.config.get_enum("repl-diskless-load").as_ref() {
        "swapdb" => true,
        "on-empty-db" => eng.dbs.iter().all(|d| d.is_empty()),
        _ => false,
    }
}

/// Only `swapdb` keeps the old dataset when a load fails; the other modes flushed it first.
fn keeps_old_data(shared: &Shared) -> bool {
    shared.engine.borrow().config.get_enum("repl-diskless-load") == "swapdb"
}

/// Writes the payload as `dbfilename` the crash-safe way (the thread's part of `disabled`).
fn save_payload(image: &[u8], filename: &str) -> Result<(), String> {
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let tmp = format!("temp-{now_s}.{}.rdb", std::process::id());
    let strerror = |e: &std::io::Error| redoubt_config::fsio::strerror(e);
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        use std::io::Write;
        f.write_all(image)?;
        f.sync_all()
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!(
            "Write error or short write writing to the DB dump file needed for MASTER <-> REPLICA synchronization: {}",
            strerror(&e)
        ));
    }
    if let Err(e) = std::fs::rename(&tmp, filename) {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!(
            "Failed trying to rename the temp DB into {filename} in MASTER <-> REPLICA synchronization: {}",
            strerror(&e)
        ));
    }
    if let Ok(d) = std::fs::File::open(".") {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Loads `image` (a whole RDB file) as the new dataset; `Err` is the line to log. The old
/// data stays in place on any failure.
pub async fn load(
    shared: &Rc<Shared>,
    gen: u64,
    image: Vec<u8>,
    to_parser: bool,
) -> Result<LoadStats, String> {
    let (job, filename) = {
        let eng = shared.engine.borrow();
        let now = crate::log::now_ms();
        (
            eng.rdb_loader(now),
            eng.config.get_str("dbfilename").into_owned(),
        )
    };
    if !to_parser {
        notice!("MASTER <-> REPLICA sync: Flushing old data");
    }
    notice!("MASTER <-> REPLICA sync: Loading DB in memory");
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("repl-load".into())
        .spawn(move || {
            let saved = if to_parser {
                Ok(())
            } else {
                save_payload(&image, &filename)
            };
            let res = saved
                .map(|()| job.load(&image, &redoubt_engine::loading::LoadProgress::default(), 0));
            // The engine side may be gone (shutdown): nothing to do then.
            let _ = tx.send(res);
        });
    if let Err(e) = spawned {
        return Err(format!("Can't start the loading thread: {e}"));
    }
    let loaded = match rx.await {
        Ok(Ok(r)) => r,
        Ok(Err(save_err)) => return Err(save_err),
        Err(_) => return Err("The loading thread died".into()),
    };
    let mut eng = shared.engine.borrow_mut();
    if eng.repl.generation != gen {
        return Err(String::new());
    }
    match loaded {
        Ok((dbs, stats)) => {
            log_loaded(&stats, eng.config.get_bool("rdbchecksum"));
            if to_parser {
                notice!("MASTER <-> REPLICA sync: Swapping active DB with loaded DB");
            }
            eng.install_loaded(dbs, &stats);
            if !to_parser {
                crate::sync_files::replica_sync_file_done(&eng);
            }
            if to_parser {
                notice!("MASTER <-> REPLICA sync: Discarding old DB in background");
            }
            Ok(stats)
        }
        Err(e) => {
            warning!("{e}");
            drop(eng);
            if !keeps_old_data(shared) {
                shared.engine.borrow_mut().discard_dataset();
            }
            if !to_parser {
                crate::sync_files::replica_sync_file_done(&shared.engine.borrow());
            }
            if to_parser {
                notice!("MASTER <-> REPLICA sync: Discarding the half-loaded data");
                Err("Failed trying to load the MASTER synchronization DB from socket, check server logs.".into())
            } else {
                Err("Failed trying to load the MASTER synchronization DB from disk, check server logs.".into())
            }
        }
    }
}

/// `rdbLoad`'s lines about what it loaded.
fn log_loaded(st: &LoadStats, checksum: bool) {
    crate::loading::log_aux(st, crate::log::now_ms());
    if st.checksum_disabled && checksum {
        warning!("RDB file was saved with checksum disabled: no check performed.");
    }
    notice!(
        "Done loading RDB, keys loaded: {}, keys expired: {}.",
        st.keys_loaded,
        st.keys_expired
    );
}
