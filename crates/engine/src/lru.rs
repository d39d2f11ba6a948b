//! Access tracking for OBJECT IDLETIME/FREQ/REFCOUNT (and, later, LRU/LFU eviction): Redis
//! 7.0's clock and counter rules from evict.c and object.c.
//!
//! Every entry carries a 24-bit word (`Entry::lru`), as Redis's `robj.lru` does. Under an LRU
//! (or non-LFU) policy it is the LRU clock of the last access, in seconds modulo 2^24
//! (`LRU_CLOCK_RESOLUTION` 1000 ms). Under an LFU policy it is `(minutes << 8) | counter`:
//! the last decrement time in minutes modulo 2^16 and a logarithmic access counter.
//! Lookups update it unless the command asked Redis's `LOOKUP_NOTOUCH` (TYPE, EXISTS, the TTL
//! family, OBJECT, SCAN's TYPE filter). New keys start at the clock of the command that
//! creates them: the engine sets `Db::lru_for_new` before each command.
//!
//! Shared integers: Redis stores the values 0..9999 written by SET-like commands as one shared
//! object each (refcount `OBJ_SHARED_REFCOUNT`) unless `maxmemory` is set with an LRU or LFU
//! policy (`MAXMEMORY_FLAG_NO_SHARED_INTEGERS`). All keys holding a shared integer then share
//! that object's access word, created at server start: `SET k 100` followed by
//! `OBJECT IDLETIME k` reports the time since startup (or since any key holding 100 was last
//! read). We keep one word per shared integer in [`SharedInts`] to give the same answers.
//! Deviation (for docs/COMPATIBILITY.md): the rule is applied with the current configuration,
//! while Redis decides when the value is written; and COPY of a shared integer makes a private
//! object in Redis (refcount 1), which we still report as shared.

use crate::Engine;
use redoubt_keyspace::rand::Rng;
use redoubt_keyspace::{Entry, StrVal, Value};

/// `LRU_CLOCK_MAX`: the LRU clock wraps at 24 bits.
pub const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;
/// `LRU_CLOCK_RESOLUTION` in ms.
pub const LRU_CLOCK_RESOLUTION_MS: i64 = 1000;
/// `LFU_INIT_VAL`: the counter a new key starts with, so it is not evicted at once.
pub const LFU_INIT_VAL: u32 = 5;
/// `OBJ_SHARED_INTEGERS`.
pub const OBJ_SHARED_INTEGERS: i64 = 10000;
/// `OBJ_SHARED_REFCOUNT` (INT_MAX): what OBJECT REFCOUNT reports for a shared object.
pub const OBJ_SHARED_REFCOUNT: i64 = i32::MAX as i64;

/// `getLRUClock`.
pub fn lru_clock(now_ms: i64) -> u32 {
    ((now_ms / LRU_CLOCK_RESOLUTION_MS) as u64 & u64::from(LRU_CLOCK_MAX)) as u32
}

/// `LFUGetTimeInMinutes`: unix minutes modulo 2^16.
pub fn lfu_minutes(now_ms: i64) -> u32 {
    ((now_ms / 1000 / 60) as u64 & 65535) as u32
}

/// `LFUTimeElapsed`: minutes since `ldt`, modulo wrap.
fn lfu_time_elapsed(ldt: u32, now_ms: i64) -> u32 {
    let now = lfu_minutes(now_ms);
    if now >= ldt {
        now - ldt
    } else {
        65535 - ldt + now
    }
}

/// `LFULogIncr`: increments the counter with probability 1/((counter-5)*factor+1).
fn lfu_log_incr(counter: u32, log_factor: f64, rng: &mut Rng) -> u32 {
    if counter == 255 {
        return 255;
    }
    let r = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let baseval = counter.saturating_sub(LFU_INIT_VAL) as f64;
    let p = 1.0 / (baseval * log_factor + 1.0);
    if r < p {
        counter + 1
    } else {
        counter
    }
}

/// `LFUDecrAndReturn`: the counter after decaying one step per `lfu-decay-time` minutes
/// (0 disables decay).
pub fn lfu_decr_and_return(word: u32, now_ms: i64, decay_time: u32) -> u32 {
    let ldt = word >> 8;
    let counter = word & 255;
    let periods = lfu_time_elapsed(ldt, now_ms)
        .checked_div(decay_time)
        .unwrap_or(0);
    counter.saturating_sub(periods)
}

/// `estimateObjectIdleTime`, in ms.
pub fn estimate_idle_ms(word: u32, now_ms: i64) -> u64 {
    let clock = lru_clock(now_ms);
    let ticks = if clock >= word {
        clock - word
    } else {
        clock + (LRU_CLOCK_MAX - word)
    };
    u64::from(ticks) * LRU_CLOCK_RESOLUTION_MS as u64
}

/// The maxmemory-policy facts lookups need, read from the configuration once per lookup.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// `MAXMEMORY_FLAG_LFU`.
    pub lfu: bool,
    /// Integers 0..9999 are shared objects (`tryObjectEncoding`'s condition).
    pub shared_integers: bool,
    /// `lfu-log-factor`.
    pub lfu_log_factor: f64,
    /// `lfu-decay-time`, minutes.
    pub lfu_decay_time: u32,
}

/// The access word of every shared integer object, created lazily at the server's start time.
#[derive(Debug, Default)]
pub struct SharedInts {
    words: Vec<u32>,
}

impl SharedInts {
    fn word_mut(&mut self, n: usize, initial: u32) -> &mut u32 {
        if self.words.is_empty() {
            self.words = vec![initial; OBJ_SHARED_INTEGERS as usize];
        }
        &mut self.words[n]
    }
}

/// The shared-integer slot a value uses, if it is one of Redis's shared objects.
pub fn shared_index(value: &Value, policy: Policy) -> Option<usize> {
    match value {
        Value::Str(StrVal::Int(n))
            if policy.shared_integers && (0..OBJ_SHARED_INTEGERS).contains(n) =>
        {
            Some(*n as usize)
        }
        _ => None,
    }
}

/// The access word a fresh object gets (`createObject`).
pub fn new_object_word(policy: Policy, now_ms: i64) -> u32 {
    if policy.lfu {
        (lfu_minutes(now_ms) << 8) | LFU_INIT_VAL
    } else {
        lru_clock(now_ms)
    }
}

impl Engine {
    pub fn lru_policy(&self) -> Policy {
        let p = self.conf.maxmemory_policy.as_bytes();
        let lfu = p.ends_with(b"-lfu");
        let lru = p.ends_with(b"-lru");
        Policy {
            lfu,
            shared_integers: self.conf.maxmemory == 0 || !(lru || lfu),
            lfu_log_factor: self.conf.lfu_log_factor,
            lfu_decay_time: self.conf.lfu_decay_time,
        }
    }

    /// The word shared objects were created with: the server's start (or, in tests without
    /// one, the first use).
    pub fn shared_initial_word(&self, policy: Policy, now_ms: i64) -> u32 {
        let start = if self.info.start_ms > 0 {
            self.info.start_ms
        } else {
            now_ms
        };
        new_object_word(policy, start)
    }

    /// The access word OBJECT IDLETIME/FREQ read for an entry.
    /// `shared` is the entry's [`shared_index`].
    pub fn access_word(&mut self, e_word: u32, shared: Option<usize>, now_ms: i64) -> u32 {
        let policy = self.lru_policy();
        match shared {
            Some(i) => {
                let init = self.shared_initial_word(policy, now_ms);
                *self.shared_ints.word_mut(i, init)
            }
            None => e_word,
        }
    }

    /// Sets every database's clock for keys created by the command about to run.
    pub fn set_new_key_clock(&mut self, now_ms: i64) {
        let w = new_object_word(self.lru_policy(), now_ms);
        for db in &mut self.dbs {
            db.lru_for_new = w;
        }
    }
}

/// Redis's access update in `lookupKey`: LRU clock, or the LFU decay-and-increment.
pub fn touch(
    eng_shared: &mut SharedInts,
    shared_init: u32,
    e: &mut Entry,
    policy: Policy,
    rng: &mut Rng,
    now_ms: i64,
) {
    let word = match shared_index(&e.value, policy) {
        Some(i) => eng_shared.word_mut(i, shared_init),
        None => &mut e.lru,
    };
    *word = if policy.lfu {
        let decayed = lfu_decr_and_return(*word, now_ms, policy.lfu_decay_time);
        let counter = lfu_log_incr(decayed, policy.lfu_log_factor, rng);
        (lfu_minutes(now_ms) << 8) | counter
    } else {
        lru_clock(now_ms)
    };
}

impl Engine {
    /// Touches a key's access word as a lookup does (no-op when absent), for handlers that
    /// find keys without `Ctx::lookup_read`/`lookup_write`.
    pub fn touch_entry(&mut self, db: usize, key: &[u8], now_ms: i64) {
        let policy = self.lru_policy();
        let init = self.shared_initial_word(policy, now_ms);
        let Engine {
            dbs,
            rng,
            shared_ints,
            ..
        } = self;
        if let Some(s) = dbs[db].find(key) {
            let e = dbs[db].at_mut_access(s);
            touch(shared_ints, init, e, policy, rng, now_ms);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_time_wraps_like_redis() {
        let now = 1_700_000_000_000;
        let w = lru_clock(now - 5_000);
        assert_eq!(estimate_idle_ms(w, now), 5_000);
        // A word from "the future" (clock wrapped since): Redis's formula.
        let c = lru_clock(now);
        assert_eq!(
            estimate_idle_ms(c + 1, now),
            u64::from(c + (LRU_CLOCK_MAX - c - 1)) * 1000
        );
    }

    #[test]
    fn lfu_counter_decays_per_minute_and_grows_slowly() {
        let now = 1_700_000_000_000;
        let w = (lfu_minutes(now - 3 * 60_000) << 8) | 10;
        assert_eq!(lfu_decr_and_return(w, now, 1), 7);
        assert_eq!(
            lfu_decr_and_return((lfu_minutes(now) << 8) | 2, now + 5 * 60_000, 1),
            0
        );
        let mut rng = Rng::new(7);
        // From LFU_INIT_VAL the first increment always happens (p = 1).
        assert_eq!(lfu_log_incr(LFU_INIT_VAL, 10.0, &mut rng), LFU_INIT_VAL + 1);
        assert_eq!(lfu_log_incr(255, 10.0, &mut rng), 255);
    }
}
