//! The LOADING state (Redis 7.0's `server.loading`): while the dataset loads at startup the
//! server already accepts clients; commands without the `loading` flag get
//! `-LOADING Redis is loading the dataset in memory` (admission, `exec.rs`), and INFO
//! persistence shows `loading:1` with the `loading_*` progress fields.
//!
//! An RDB decodes on a thread of the server's into fresh databases ([`RdbLoader`], built
//! here from the engine's settings so the thread needs no engine), which
//! [`Engine::install_loaded`] swaps in at the end; meanwhile the engine answers the commands
//! allowed while loading. An AOF's commands replay through the engine in slices between
//! which clients are served (the server's `aof` module). Progress is shared through
//! [`LoadProgress`] atomics, updated by the loader and read by INFO.

use crate::lru;
use crate::Engine;
use redoubt_keyspace::Db;
use redoubt_persist::rdb::decode::{self, LoadOptions, LoadStats};
use redoubt_persist::rdb::{RdbError, Thresholds};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// `shared.loadingerr`.
pub const LOADING_ERR: &str = "LOADING Redis is loading the dataset in memory";

/// Progress counters a loader updates and INFO reads.
#[derive(Debug, Default)]
pub struct LoadProgress {
    /// Bytes of the current load consumed so far (all files of an AOF together).
    pub bytes: AtomicU64,
    /// Keys loaded so far (`rdb_last_load_keys_loaded` while loading).
    pub keys: AtomicU64,
    /// The `used-mem` aux field of the RDB being loaded (`loading_rdb_used_mem`).
    pub rdb_used_mem: AtomicU64,
}

/// What INFO shows while loading (`startLoading`).
#[derive(Debug, Clone)]
pub struct Loading {
    /// `loading_start_time`, unix seconds.
    pub start_s: i64,
    /// `loading_total_bytes`: the file's size (the sum of the AOF's files).
    pub total_bytes: u64,
    pub progress: Arc<LoadProgress>,
}

impl Loading {
    pub fn new(start_s: i64, total_bytes: u64) -> Loading {
        Loading {
            start_s,
            total_bytes,
            progress: Arc::new(LoadProgress::default()),
        }
    }

    /// The `loading_*` lines of INFO persistence, as `genRedisInfoString` computes them.
    pub fn info_lines(&self, now_s: i64) -> String {
        let loaded = self.progress.bytes.load(Ordering::Relaxed);
        let total = self.total_bytes;
        let perc = loaded as f64 / (total as f64 + 1.0) * 100.0;
        let elapsed = now_s - self.start_s;
        let remaining = total.saturating_sub(loaded) as i64;
        let eta = if elapsed == 0 {
            // Redis's fake one-second figure before there is enough to go by.
            1
        } else {
            elapsed.saturating_mul(remaining) / (loaded as i64 + 1)
        };
        format!(
            "loading_start_time:{}\r\n\
             loading_total_bytes:{total}\r\n\
             loading_rdb_used_mem:{}\r\n\
             loading_loaded_bytes:{loaded}\r\n\
             loading_loaded_perc:{perc:.2}\r\n\
             loading_eta_seconds:{eta}\r\n",
            self.start_s,
            self.progress.rdb_used_mem.load(Ordering::Relaxed),
        )
    }
}

/// `debugDelay` for `key-load-delay`: microseconds per key; a negative value -N sleeps 1 us
/// once every N keys on average (Redis's statistical short sleep).
pub fn key_load_delay(delay: i64, counter: u64) {
    let us = if delay < 0 {
        u64::from(counter.is_multiple_of(delay.unsigned_abs()))
    } else {
        delay as u64
    };
    if us > 0 {
        std::thread::sleep(std::time::Duration::from_micros(us));
    }
}

/// Everything an RDB load needs from the engine, so it can run on another thread.
#[derive(Debug, Clone)]
pub struct RdbLoader {
    thresholds: Thresholds,
    now_ms: i64,
    drop_expired: bool,
    verify_checksum: bool,
    policy: lru::Policy,
    lru_new: u32,
    dbnum: usize,
    /// `key-load-delay` (a test knob, as in Redis: slows the load to watch LOADING).
    pub key_delay: i64,
}

impl RdbLoader {
    /// Decodes `bytes` into fresh databases; `progress` follows the reader (offsets are
    /// added to `base_bytes`, what earlier files of the same load consumed).
    pub fn load(
        &self,
        bytes: &[u8],
        progress: &LoadProgress,
        base_bytes: u64,
    ) -> Result<(Vec<Db>, LoadStats), RdbError> {
        let policy = self.policy;
        let now_ms = self.now_ms;
        let access_word = move |idle: Option<u64>, freq: Option<u8>| -> Option<u32> {
            crate::commands::persistence::set_lru_or_lfu(policy.lfu, freq, idle, now_ms)
        };
        let delay = self.key_delay;
        let on_key = |pos: usize, st: &LoadStats| {
            progress
                .bytes
                .store(base_bytes + pos as u64, Ordering::Relaxed);
            let n = st.keys_loaded + st.keys_expired + st.empty_keys_skipped;
            progress.keys.store(st.keys_loaded, Ordering::Relaxed);
            if n == 0 {
                if let Some(m) = st
                    .aux("used-mem")
                    .and_then(|v| std::str::from_utf8(v).ok()?.parse::<u64>().ok())
                {
                    progress.rdb_used_mem.store(m, Ordering::Relaxed);
                }
            }
            if delay != 0 {
                key_load_delay(delay, n);
            }
        };
        let opts = LoadOptions {
            thresholds: self.thresholds,
            now_ms,
            drop_expired: self.drop_expired,
            verify_checksum: self.verify_checksum,
            access_word: &access_word,
            on_key: Some(&on_key),
        };
        let mut dbs: Vec<Db> = (0..self.dbnum)
            .map(|_| {
                let mut d = Db::new();
                d.lru_for_new = self.lru_new;
                d
            })
            .collect();
        let st = decode::load(bytes, &opts, &mut dbs)?;
        progress
            .bytes
            .store(base_bytes + st.consumed as u64, Ordering::Relaxed);
        Ok((dbs, st))
    }
}

impl Engine {
    /// The settings of an RDB load as this engine would run it now (`load_rdb_image`).
    pub fn rdb_loader(&self, now_ms: i64) -> RdbLoader {
        let policy = self.lru_policy();
        RdbLoader {
            thresholds: self.rdb_thresholds(),
            now_ms,
            // A replica keeps keys its master has not expired yet (`iAmMaster()` in rdbLoad).
            drop_expired: !self.is_replica(),
            verify_checksum: self.config.get_bool("rdbchecksum"),
            policy,
            lru_new: lru::new_object_word(policy, now_ms),
            dbnum: self.dbs.len(),
            key_delay: self.config.get_int("key-load-delay"),
        }
    }

    /// True while the dataset loads: admission refuses commands without the `loading` flag.
    pub fn is_loading(&self) -> bool {
        self.loading.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestEngine;

    #[test]
    fn loading_refuses_commands_without_the_loading_flag() {
        let mut t = TestEngine::new();
        t.eng.loading = Some(Loading::new(0, 100));
        assert_eq!(t.text("GET a"), format!("-{LOADING_ERR}|"));
        assert_eq!(t.text("PING"), format!("-{LOADING_ERR}|"));
        assert_eq!(t.text("ECHO x"), "$1|x|");
        assert_eq!(t.text("SELECT 1"), "+OK|");
        // A refused command inside MULTI aborts the transaction, as in Redis.
        assert_eq!(t.text("MULTI"), "+OK|");
        assert_eq!(t.text("SET a b"), format!("-{LOADING_ERR}|"));
        assert!(t.text("EXEC").starts_with("-EXECABORT"));
        let info = t.text("INFO persistence");
        assert!(info.contains("|loading:1|"), "{info}");
        assert!(info.contains("|loading_total_bytes:100|"), "{info}");
        t.eng.loading = None;
        assert_eq!(t.text("SET a b"), "+OK|");
    }

    #[test]
    fn eta_and_percentage_follow_redis_formulas() {
        let l = Loading::new(100, 1000);
        l.progress.bytes.store(250, Ordering::Relaxed);
        let s = l.info_lines(100);
        assert!(s.contains("loading_loaded_perc:24.98\r\n"), "{s}");
        assert!(s.contains("loading_eta_seconds:1\r\n"), "{s}");
        let s = l.info_lines(102);
        // 2 s * 750 remaining / 251 loaded.
        assert!(s.contains("loading_eta_seconds:5\r\n"), "{s}");
    }
}
