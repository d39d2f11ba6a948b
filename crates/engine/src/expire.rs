//! The active expiry cycle, like Redis 7.0's `activeExpireCycle` (slow mode).
//!
//! Lazy expiry alone would keep keys nobody reads forever. Every cron tick (`hz` times a
//! second) the cycle samples up to 20 keys with a TTL per database, deletes the expired ones,
//! and repeats on a database while more than 10% of its sample was expired, within a time
//! budget of 25% of the tick. Each deletion is recorded as a DEL (or UNLINK with
//! `lazyfree-lazy-expire`) in the replication stream.

use crate::Engine;

const KEYS_PER_LOOP: usize = 20;
const ACCEPTABLE_STALE_PERCENT: usize = 10;

impl Engine {
    /// Runs one cycle. `elapsed_us` reads how long the cycle has run (the caller owns the
    /// clock); `budget_us` bounds it. Returns the number of keys expired.
    pub fn active_expire_cycle(
        &mut self,
        now_ms: i64,
        budget_us: u64,
        elapsed_us: &dyn Fn() -> u64,
    ) -> u64 {
        if !self.conf.active_expire_enabled {
            return 0;
        }
        // A replica deletes only the keys its own clients gave a TTL (`expireSlaveKeys`).
        if self.is_replica() {
            return self.expire_replica_own_keys(now_ms, elapsed_us);
        }
        if self.expire_paused(now_ms) {
            return 0;
        }
        let mut total = 0;
        let mut sampled_total = 0usize;
        let mut expired_total = 0usize;
        for db in 0..self.dbs.len() {
            loop {
                let n = self.dbs[db].expires_len().min(KEYS_PER_LOOP);
                if n == 0 {
                    break;
                }
                let mut expired = 0;
                let (mut ttl_sum, mut ttl_samples) = (0i64, 0i64);
                for _ in 0..n {
                    let Some(e) = self.dbs[db].random_expiring(&mut self.rng) else {
                        break;
                    };
                    if now_ms > e.expire_at_ms {
                        let key = e.key.to_vec();
                        self.delete_expired(db, &key);
                        expired += 1;
                    } else if e.expire_at_ms - now_ms > 0 {
                        ttl_sum = ttl_sum.saturating_add(e.expire_at_ms - now_ms);
                        ttl_samples += 1;
                    }
                }
                if ttl_samples > 0 {
                    // Redis's running average: 2% this sample, 98% history.
                    let avg = ttl_sum / ttl_samples;
                    let d = &mut self.dbs[db];
                    if d.avg_ttl_ms == 0 {
                        d.avg_ttl_ms = avg;
                    }
                    d.avg_ttl_ms = (d.avg_ttl_ms / 50) * 49 + avg / 50;
                }
                total += expired as u64;
                sampled_total += n;
                expired_total += expired;
                if elapsed_us() > budget_us {
                    self.stats.expired_time_cap_reached_count += 1;
                    self.update_stale_perc(sampled_total, expired_total);
                    return total;
                }
                if expired * 100 / n <= ACCEPTABLE_STALE_PERCENT {
                    break;
                }
            }
        }
        self.update_stale_perc(sampled_total, expired_total);
        total
    }

    fn update_stale_perc(&mut self, sampled: usize, expired: usize) {
        let current = if sampled == 0 {
            0.0
        } else {
            expired as f64 / sampled as f64
        };
        // Redis's moving average: 95% history, 5% this cycle.
        self.stats.expired_stale_perc = current * 0.05 + self.stats.expired_stale_perc * 0.95;
    }

    /// Deletes a key whose TTL passed, outside any command, recording the effect.
    pub fn delete_expired(&mut self, db: usize, key: &[u8]) {
        let lazy = self.conf.lazyfree_lazy_expire;
        if let Some(e) = self.dbs[db].remove(key) {
            self.free_value(e.value, lazy);
        }
        self.stats.expired_keys += 1;
        let del: &[u8] = if lazy { b"UNLINK" } else { b"DEL" };
        self.stream.append_now(db, &[del, key]);
        self.touch_watched_outside_command(db, key);
    }

    /// WATCH invalidation when no client is executing.
    pub(crate) fn touch_watched_outside_command(&mut self, db: usize, key: &[u8]) {
        if self.watched.is_empty() {
            return;
        }
        let Some(ids) = self.watched.get(&(db, key.to_vec())).cloned() else {
            return;
        };
        for id in ids {
            if let Some(c) = self.clients.get_mut(&id) {
                match c
                    .watched
                    .iter_mut()
                    .find(|w| w.db == db && w.key[..] == *key)
                {
                    // Expired before WATCH and now deleted: no logical change.
                    Some(w) if w.expired => w.expired = false,
                    _ => c.watch_dirty = true,
                }
            }
        }
    }
}
