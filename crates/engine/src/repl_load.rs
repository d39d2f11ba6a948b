//! A replica's full sync load off the engine thread (`repl-diskless-load`, Redis 7.0
//! `readSyncBulkPayload`): the payload is parsed into fresh databases by [`LoadJob::run`] on
//! any thread while the old dataset keeps serving, then [`Engine::install_loaded`] swaps
//! them in at once and frees the old ones in the background (Redis's swapdb mode; for the
//! other modes it replaces Redis's blocking load, so the engine never stops for the parse).

use crate::lru::Policy;
use crate::Engine;
use redoubt_keyspace::Db;
use redoubt_persist::rdb::decode::{self, LoadOptions, LoadStats};
use redoubt_persist::rdb::RdbError;

/// What a load needs from the engine, taken on the engine thread (`Send`).
pub struct LoadJob {
    thresholds: redoubt_persist::rdb::Thresholds,
    now_ms: i64,
    drop_expired: bool,
    verify_checksum: bool,
    policy: Policy,
    databases: usize,
}

impl LoadJob {
    /// Parses `bytes` (a whole RDB file) into new databases. On error nothing is returned:
    /// the half-loaded databases are dropped here, never installed.
    pub fn run(&self, bytes: &[u8]) -> Result<(Vec<Db>, LoadStats), RdbError> {
        let (policy, now_ms) = (self.policy, self.now_ms);
        let access_word = move |idle: Option<u64>, freq: Option<u8>| -> Option<u32> {
            crate::commands::persistence::set_lru_or_lfu(policy.lfu, freq, idle, now_ms)
        };
        let opts = LoadOptions {
            thresholds: self.thresholds,
            now_ms,
            drop_expired: self.drop_expired,
            verify_checksum: self.verify_checksum,
            access_word: &access_word,
        };
        let lru_new = crate::lru::new_object_word(policy, now_ms);
        let mut dbs: Vec<Db> = (0..self.databases)
            .map(|_| {
                let mut db = Db::new();
                db.lru_for_new = lru_new;
                db
            })
            .collect();
        let stats = decode::load(bytes, &opts, &mut dbs)?;
        Ok((dbs, stats))
    }
}

impl Engine {
    /// A load for the dataset as this engine's settings say (see `load_rdb_image`).
    pub fn prepare_load(&self, now_ms: i64) -> LoadJob {
        LoadJob {
            thresholds: self.rdb_thresholds(),
            now_ms,
            // A replica keeps keys its master has not expired yet (`iAmMaster()` in rdbLoad).
            drop_expired: !self.is_replica(),
            verify_checksum: self.config.get_bool("rdbchecksum"),
            policy: self.lru_policy(),
            databases: self.dbs.len(),
        }
    }

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
        for db in old {
            self.lazyfree.free_db(db);
        }
    }
}
