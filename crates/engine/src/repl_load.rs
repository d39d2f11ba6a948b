//! A replica's full sync load off the engine thread (`repl-diskless-load`, Redis 7.0
//! `readSyncBulkPayload`): the payload is parsed into fresh databases by [`crate::loading::RdbLoader`]
//! on any thread while the old dataset keeps serving, then [`Engine::install_loaded`] swaps
//! them in at once and frees the old ones in the background (Redis's swapdb mode; for the
//! other modes it replaces Redis's blocking load, so the engine never stops for the parse).

use crate::Engine;
use redoubt_keyspace::Db;
use redoubt_persist::rdb::decode::LoadStats;

impl Engine {
    /// Replaces the dataset with `dbs` in one step; the old databases are freed by the
    /// lazy-free thread. A BGSAVE of the old data is stopped first, as Redis kills its
    /// child before loading a master's payload.
    pub fn install_loaded(&mut self, dbs: Vec<Db>, stats: &LoadStats) {
        if self.rdb_child() {
            self.log_notice(&format!(
                "Replica is about to load the RDB file received from the master, but there is a pending RDB child running. Killing process {} and removing its temp file to avoid any race",
                self.info.pid
            ));
            self.kill_job();
        }
        let old = std::mem::replace(&mut self.dbs, dbs);
        self.repl.own_expires.clear();
        for db in old {
            self.lazyfree.free_db(db);
        }
        self.rdb.last_load_keys_loaded = stats.keys_loaded;
        self.rdb.last_load_keys_expired = stats.keys_expired;
    }

    /// Empties the dataset after a failed load from disk: Redis flushed it before loading
    /// and removes the half-loaded data (only `swapdb` keeps the old dataset).
    pub fn discard_dataset(&mut self) {
        let n = self.dbs.len();
        let old = std::mem::replace(&mut self.dbs, (0..n).map(|_| Db::new()).collect());
        self.repl.own_expires.clear();
        for db in old {
            self.lazyfree.free_db(db);
        }
    }
}
