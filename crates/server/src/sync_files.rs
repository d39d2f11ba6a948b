//! `rdb-del-sync-files` (Redis 7.0 replication.c): an instance with persistence disabled
//! (no save points and the AOF off: `allPersistenceDisabled`) deletes the RDB file it used
//! only for a full sync, so no stale copy of the dataset is left on disk.
//!
//! - Replica side ([`replica_sync_file_done`]): after loading the master's payload, and
//!   after failing to, `dbfilename` is unlinked (`readSyncBulkPayload`).
//! - Master side ([`remove_rdb_used_to_sync_replicas`], from the cron): once no replica waits
//!   for or receives a payload, a `dbfilename` written for replication
//!   (`SyncState::rdb_generated_by_replication`, set when a disk-target sync starts its
//!   BGSAVE) is unlinked (`removeRDBUsedToSyncReplicas`).
//!
//! The unlink runs on a thread (`bg_unlink`): a large file's blocks are freed off the engine
//! thread.

use crate::notice;
use redoubt_engine::Engine;

/// `allPersistenceDisabled`: no save points and the AOF off.
pub fn all_persistence_disabled(eng: &Engine) -> bool {
    eng.save_points().is_empty() && eng.aof.is_none()
}

fn del_sync_files(eng: &Engine) -> bool {
    eng.config.get_bool("rdb-del-sync-files")
}

/// Unlinks `path` on a thread, as `bg_unlink`.
fn bg_unlink(path: String) {
    let spawned = std::thread::Builder::new().name("bg-unlink".into()).spawn({
        let path = path.clone();
        move || {
            let _ = std::fs::remove_file(&path);
        }
    });
    if spawned.is_err() {
        let _ = std::fs::remove_file(&path);
    }
}

/// The replica finished with the master's payload in `dbfilename` (loaded or not).
/// Returns whether the file was removed.
pub fn replica_sync_file_done(eng: &Engine) -> bool {
    if !(del_sync_files(eng) && all_persistence_disabled(eng)) {
        return false;
    }
    let name = eng.config.get_str("dbfilename").into_owned();
    if std::fs::symlink_metadata(&name).is_err() {
        return false;
    }
    notice!(
        "Removing the RDB file obtained from the master. This replica has persistence disabled"
    );
    bg_unlink(name);
    true
}

/// The master's cron step: `syncing` says whether a replica still waits for a payload or
/// receives one. Returns whether the file was removed.
pub fn remove_rdb_used_to_sync_replicas(eng: &mut Engine, syncing: bool) -> bool {
    if !del_sync_files(eng) {
        // Cleared so that turning the option on later does not delete an unrelated file.
        eng.repl.sync.rdb_generated_by_replication = false;
        return false;
    }
    if !all_persistence_disabled(eng) || !eng.repl.sync.rdb_generated_by_replication {
        return false;
    }
    if syncing {
        return false;
    }
    let name = eng.config.get_str("dbfilename").into_owned();
    if std::fs::symlink_metadata(&name).is_err() {
        return false;
    }
    eng.repl.sync.rdb_generated_by_replication = false;
    notice!("Removing the RDB file used to feed replicas in a persistence-less instance");
    bg_unlink(name);
    true
}
