//! maxmemory eviction, as Redis 7.0's evict.c: when used memory passes `maxmemory`, free keys
//! by `maxmemory-policy` until under it, before running a command that may grow memory.
//!
//! Like Redis, LRU/LFU/TTL are approximated by sampling: each round samples
//! `maxmemory-samples` keys (from all keys or only those with a TTL) in every database, keeps
//! the best candidates in a small pool across rounds (Redis's `EvictionPoolLRU`, 16 entries),
//! and evicts the best one. Every eviction is a DEL (UNLINK with `lazyfree-lazy-eviction`) in
//! the replication stream, and counts in `evicted_keys`.

use crate::Engine;

const POOL_SIZE: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    NoEviction,
    AllKeysLru,
    AllKeysLfu,
    AllKeysRandom,
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
}

impl Policy {
    pub fn parse(s: &str) -> Policy {
        match s {
            "allkeys-lru" => Policy::AllKeysLru,
            "allkeys-lfu" => Policy::AllKeysLfu,
            "allkeys-random" => Policy::AllKeysRandom,
            "volatile-lru" => Policy::VolatileLru,
            "volatile-lfu" => Policy::VolatileLfu,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            _ => Policy::NoEviction,
        }
    }

    fn volatile(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }

    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::AllKeysLfu | Policy::VolatileLfu)
    }
}

/// One eviction candidate: higher score is evicted first.
#[derive(Debug, Clone)]
struct Candidate {
    score: u64,
    db: usize,
    key: Vec<u8>,
}

impl Engine {
    /// Frees memory per the policy until `used()` is at most `maxmemory`. Returns true when
    /// still over the limit (the caller answers OOM to commands that may grow memory).
    pub fn evict_until_under(&mut self, used: &dyn Fn() -> u64) -> bool {
        let limit = self.conf.maxmemory;
        if limit == 0 || used() <= limit {
            return false;
        }
        let policy = Policy::parse(&self.conf.maxmemory_policy);
        if policy == Policy::NoEviction {
            return true;
        }
        let samples = self.config.get_int("maxmemory-samples").clamp(1, 64) as usize;
        let decay = self.conf.lfu_decay_time;
        let now = self.now_ms;
        let mut pool: Vec<Candidate> = Vec::with_capacity(POOL_SIZE);
        // Bounded work per call, like Redis's eviction time limit; the next command retries.
        for _ in 0..4096 {
            if used() <= limit {
                return false;
            }
            let victim = match policy {
                Policy::AllKeysRandom | Policy::VolatileRandom => self.random_victim(policy),
                _ => {
                    self.fill_pool(&mut pool, policy, samples, now, decay);
                    // Best candidate that still exists.
                    let mut found = None;
                    while let Some(c) = pool.pop() {
                        let alive = self.dbs[c.db].get_raw(&c.key).is_some_and(|e| {
                            !policy.volatile() || e.expire_at_ms != redoubt_keyspace::NO_EXPIRE
                        });
                        if alive {
                            found = Some((c.db, c.key));
                            break;
                        }
                    }
                    found
                }
            };
            let Some((db, key)) = victim else {
                return self.wait_for_lazyfree(used, limit);
            };
            self.evict_key(db, &key);
        }
        used() > limit
    }

    /// Nothing left to evict: memory still being freed by the lazyfree thread may bring us
    /// under the limit. Redis's performEvictions sleeps `eviction_time_limit_us` (500 us at
    /// the default tenacity) once when lazyfree jobs are pending, then checks again; we wait
    /// as long, returning early once the thread is idle. Returns true when still over.
    fn wait_for_lazyfree(&self, used: &dyn Fn() -> u64, limit: u64) -> bool {
        const POLLS: u32 = 10;
        const POLL: std::time::Duration = std::time::Duration::from_micros(50);
        for _ in 0..POLLS {
            if !self.lazyfree.busy() {
                break;
            }
            std::thread::sleep(POLL);
        }
        used() > limit
    }

    fn random_victim(&mut self, policy: Policy) -> Option<(usize, Vec<u8>)> {
        let n = self.dbs.len();
        let start = self.rng.below(n as u64) as usize;
        for i in 0..n {
            let db = (start + i) % n;
            let e = if policy.volatile() {
                self.dbs[db].random_expiring(&mut self.rng)
            } else {
                self.dbs[db].random_entry(&mut self.rng)
            };
            if let Some(e) = e {
                return Some((db, e.key.to_vec()));
            }
        }
        None
    }

    /// Samples every database and merges the samples into the pool (sorted ascending by
    /// score, best last), keeping at most POOL_SIZE.
    fn fill_pool(
        &mut self,
        pool: &mut Vec<Candidate>,
        policy: Policy,
        samples: usize,
        now: i64,
        decay: u32,
    ) {
        for db in 0..self.dbs.len() {
            for _ in 0..samples {
                let e = if policy.volatile() {
                    self.dbs[db].random_expiring(&mut self.rng)
                } else {
                    self.dbs[db].random_entry(&mut self.rng)
                };
                let Some(e) = e else { break };
                let score = match policy {
                    Policy::AllKeysLru | Policy::VolatileLru => {
                        crate::lru::estimate_idle_ms(e.lru, now)
                    }
                    Policy::AllKeysLfu | Policy::VolatileLfu => {
                        255 - u64::from(crate::lru::lfu_decr_and_return(e.lru, now, decay))
                    }
                    // Sooner expiry is better.
                    _ => u64::MAX - e.expire_at_ms.max(0) as u64,
                };
                if pool.iter().any(|c| c.db == db && c.key[..] == e.key[..]) {
                    continue;
                }
                let pos = pool.partition_point(|c| c.score <= score);
                if pool.len() < POOL_SIZE || pos > 0 {
                    pool.insert(
                        pos,
                        Candidate {
                            score,
                            db,
                            key: e.key.to_vec(),
                        },
                    );
                    if pool.len() > POOL_SIZE {
                        pool.remove(0);
                    }
                }
            }
        }
    }

    fn evict_key(&mut self, db: usize, key: &[u8]) {
        let lazy = self.conf.lazyfree_lazy_eviction;
        if let Some(e) = self.dbs[db].remove(key) {
            self.free_value(e.value, lazy);
        }
        self.stats.evicted_keys += 1;
        let del: &[u8] = if lazy { b"UNLINK" } else { b"DEL" };
        self.stream.append_now(db, &[del, key]);
        self.touch_watched_outside_command(db, key);
    }
}
