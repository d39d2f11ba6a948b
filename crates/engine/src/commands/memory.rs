//! MEMORY USAGE STATS DOCTOR MALLOC-STATS PURGE HELP (Redis 7.0 object.c), and the memory
//! accounting INFO memory shares with them (`getMemoryOverheadData`).
//!
//! Totals come from the allocator (the server crate reads jemalloc). Per-key sizes are
//! computed from our own structures, not Redis's: a key costs its slot in the table, its
//! share of the hash index and the heap blocks of its key and value, rounded up to
//! jemalloc's size classes. So MEMORY USAGE answers what this server really holds, which
//! is not the number Redis would give for the same key.

use crate::commands::client::{client_memory, reply_help};
use crate::ctx::Ctx;
use crate::errors;
use crate::table::Handler;
use crate::Engine;
use bytes::Bytes;
use redoubt_keyspace::value::StrVal;
use redoubt_keyspace::{Entry, Value, NO_EXPIRE};

/// The block jemalloc hands out for a request of `n` bytes (its size classes: 8, 16, then
/// multiples of 16 up to 128, then four classes per doubling).
pub fn alloc_size(n: usize) -> usize {
    match n {
        0 => 0,
        1..=8 => 8,
        9..=128 => n.div_ceil(16) * 16,
        _ => {
            let k = usize::BITS - 1 - (n - 1).leading_zeros();
            let spacing = 1usize << (k - 2);
            n.div_ceil(spacing) * spacing
        }
    }
}

/// Heap bytes a value owns outside its table slot.
fn value_heap(v: &Value) -> usize {
    match v {
        Value::Str(StrVal::Int(_)) => 0,
        Value::Str(sv) => alloc_size(sv.heap_bytes()),
        // The boxed set plus its arrays and members (an estimate: allocator classes are
        // applied to the arrays only).
        Value::Set(s) => {
            alloc_size(std::mem::size_of::<redoubt_keyspace::set::SetVal>())
                + alloc_size(s.heap_bytes())
        }
        // The boxed set plus its slab, index, tree and long members.
        Value::ZSet(z) => {
            alloc_size(std::mem::size_of::<redoubt_keyspace::zset::ZSetVal>())
                + z.heap_bytes(alloc_size)
        }
        Value::List(l) => {
            let (slots, elems) = l.heap_bytes();
            std::mem::size_of::<redoubt_keyspace::list::ListVal>()
                + alloc_size(slots)
                + elems.map(alloc_size).sum::<usize>()
        }
        // Inline in the value: only its heap blocks count.
        Value::Hash(h) => h.heap_bytes(alloc_size),
    }
}

/// MEMORY USAGE of one key: its table slot, its hash index cell (a u32 and a control
/// byte), its key and value heap blocks, and its place in the TTL list if it has one.
pub fn entry_usage(e: &Entry) -> usize {
    let mut n = std::mem::size_of::<Option<Entry>>() + std::mem::size_of::<u32>() + 1;
    n += alloc_size(e.key.heap_size());
    n += value_heap(&e.value);
    if e.expire_at_ms != NO_EXPIRE {
        n += std::mem::size_of::<u32>();
    }
    n
}

/// Redis's `redisMemOverhead`.
#[derive(Debug, Default)]
pub struct MemOverhead {
    pub total_allocated: u64,
    pub startup_allocated: u64,
    pub peak_allocated: u64,
    pub clients_normal: u64,
    /// (db index, main table overhead, expires overhead), databases with keys only.
    pub dbs: Vec<(usize, u64, u64)>,
    pub overhead_total: u64,
    pub dataset: u64,
    pub total_keys: u64,
    pub bytes_per_key: u64,
    pub dataset_perc: f32,
    pub peak_perc: f32,
    pub allocator_allocated: u64,
    pub allocator_active: u64,
    pub allocator_resident: u64,
    pub rss: u64,
    pub allocator_frag: f32,
    pub allocator_frag_bytes: i64,
    pub allocator_rss: f32,
    pub allocator_rss_bytes: i64,
    pub rss_extra: f32,
    pub rss_extra_bytes: i64,
    pub total_frag: f32,
    pub total_frag_bytes: i64,
}

fn ratio(a: u64, b: u64) -> f32 {
    if b == 0 {
        0.0
    } else {
        a as f32 / b as f32
    }
}

/// `getMemoryOverheadData`. `calling_client_mem` accounts for the client running the
/// command, which is not in `eng.clients` while it runs.
pub fn overhead(eng: &mut Engine, calling_client_mem: u64) -> MemOverhead {
    let m = (eng.info.used_memory)();
    eng.stats.observe_memory(m.allocated);
    let used = m.allocated;
    // The startup reading includes allocations freed soon after (thread caches, parsing);
    // the baseline can never exceed what the server holds now.
    eng.mem_startup = eng.mem_startup.min(used);
    let mut mh = MemOverhead {
        total_allocated: used,
        startup_allocated: eng.mem_startup,
        peak_allocated: eng.stats.peak_memory,
        allocator_allocated: m.allocated,
        allocator_active: m.active,
        allocator_resident: m.resident,
        rss: m.rss,
        ..MemOverhead::default()
    };
    mh.clients_normal = calling_client_mem
        + eng
            .clients
            .values()
            .map(|c| client_memory(c) as u64)
            .sum::<u64>();
    let mut total = mh.startup_allocated + mh.clients_normal;
    for (i, db) in eng.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        let (main, expires) = db.overhead_bytes();
        mh.dbs.push((i, main as u64, expires as u64));
        total += (main + expires) as u64;
        mh.total_keys += db.len() as u64;
    }
    mh.overhead_total = total;
    mh.dataset = used.saturating_sub(total);
    mh.peak_perc = ratio(used * 100, mh.peak_allocated);
    let net = if used > mh.startup_allocated {
        used - mh.startup_allocated
    } else {
        1
    };
    mh.dataset_perc = ratio(mh.dataset * 100, net);
    mh.bytes_per_key = net.checked_div(mh.total_keys).unwrap_or(0);
    mh.allocator_frag = ratio(m.active, m.allocated);
    mh.allocator_frag_bytes = m.active as i64 - m.allocated as i64;
    mh.allocator_rss = ratio(m.resident, m.active);
    mh.allocator_rss_bytes = m.resident as i64 - m.active as i64;
    mh.rss_extra = ratio(m.rss, m.resident);
    mh.rss_extra_bytes = m.rss as i64 - m.resident as i64;
    mh.total_frag = ratio(m.rss, used);
    mh.total_frag_bytes = m.rss as i64 - used as i64;
    mh
}

pub fn memory_usage(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let mut j = 3;
    while j < argv.len() {
        if argv[j].eq_ignore_ascii_case(b"samples") && j + 1 < argv.len() {
            let Some(samples) = ctx.parse_i64(&argv[j + 1]) else {
                return;
            };
            if samples < 0 {
                ctx.error(errors::SYNTAX);
                return;
            }
            // Strings have nothing nested to sample; the count only matters for
            // aggregate types.
            j += 2;
        } else {
            ctx.error(errors::SYNTAX);
            return;
        }
    }
    // Like Redis's dbFind: no lazy expiry, a logically expired key still has a size.
    let usage = ctx.db().get_raw(&argv[2]).map(entry_usage);
    match usage {
        Some(n) => ctx.out().int(n as i64),
        None => ctx.out().null(),
    }
}

pub fn memory_stats(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    let me = client_memory(ctx.client) as u64;
    let mh = overhead(ctx.eng, me);
    let out = ctx.out();
    out.map_len(27 + mh.dbs.len());
    let int = |out: &mut redoubt_resp::ReplyBuf, k: &str, v: i64| {
        out.bulk_str(k);
        out.int(v);
    };
    int(out, "peak.allocated", mh.peak_allocated as i64);
    int(out, "total.allocated", mh.total_allocated as i64);
    int(out, "startup.allocated", mh.startup_allocated as i64);
    int(out, "replication.backlog", 0);
    int(out, "clients.slaves", 0);
    int(out, "clients.normal", mh.clients_normal as i64);
    int(out, "cluster.links", 0);
    int(out, "aof.buffer", 0);
    int(out, "lua.caches", 0);
    int(out, "functions.caches", 0);
    for &(i, main, expires) in &mh.dbs {
        out.bulk_str(&format!("db.{i}"));
        out.map_len(3);
        int(out, "overhead.hashtable.main", main as i64);
        int(out, "overhead.hashtable.expires", expires as i64);
        int(out, "overhead.hashtable.slot-to-keys", 0);
    }
    int(out, "overhead.total", mh.overhead_total as i64);
    int(out, "keys.count", mh.total_keys as i64);
    int(out, "keys.bytes-per-key", mh.bytes_per_key as i64);
    int(out, "dataset.bytes", mh.dataset as i64);
    let dbl = |out: &mut redoubt_resp::ReplyBuf, k: &str, v: f32| {
        out.bulk_str(k);
        out.double(f64::from(v));
    };
    dbl(out, "dataset.percentage", mh.dataset_perc);
    dbl(out, "peak.percentage", mh.peak_perc);
    int(out, "allocator.allocated", mh.allocator_allocated as i64);
    int(out, "allocator.active", mh.allocator_active as i64);
    int(out, "allocator.resident", mh.allocator_resident as i64);
    dbl(out, "allocator-fragmentation.ratio", mh.allocator_frag);
    int(
        out,
        "allocator-fragmentation.bytes",
        mh.allocator_frag_bytes,
    );
    dbl(out, "allocator-rss.ratio", mh.allocator_rss);
    int(out, "allocator-rss.bytes", mh.allocator_rss_bytes);
    dbl(out, "rss-overhead.ratio", mh.rss_extra);
    int(out, "rss-overhead.bytes", mh.rss_extra_bytes);
    dbl(out, "fragmentation", mh.total_frag);
    int(out, "fragmentation.bytes", mh.total_frag_bytes);
}

/// `getMemoryDoctorReport`, with Redis's thresholds and texts.
pub fn memory_doctor(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    let me = client_memory(ctx.client) as u64;
    let numclients = ctx.eng.clients.len() as u64 + 1;
    let mh = overhead(ctx.eng, me);
    let allocator = ctx.eng.info.mem_allocator.clone();
    let mut reports: Vec<String> = Vec::new();
    let empty = mh.total_allocated < 1024 * 1024 * 5;
    if !empty {
        const TEN_MB: i64 = 10 << 20;
        if ratio(mh.peak_allocated, mh.total_allocated) > 1.5 {
            reports.push(" * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n".into());
        }
        if mh.total_frag > 1.4 && mh.total_frag_bytes > TEN_MB {
            reports.push(format!(" * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"{allocator}\".\n\n"));
        }
        if mh.allocator_frag > 1.1 && mh.allocator_frag_bytes > TEN_MB {
            reports.push(" * High allocator fragmentation: This instance has an allocator external fragmentation greater than 1.1. This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. You can try enabling 'activedefrag' config option.\n\n".into());
        }
        if mh.allocator_rss > 1.1 && mh.allocator_rss_bytes > TEN_MB {
            reports.push(" * High allocator RSS overhead: This instance has an RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the allocator is much larger than the sum what the allocator actually holds). This problem is usually due to a large peak memory (check if there is a peak memory entry above in the report), you can try the MEMORY PURGE command to reclaim it.\n\n".into());
        }
        if mh.rss_extra > 1.1 && mh.rss_extra_bytes > TEN_MB {
            reports.push(" * High process RSS overhead: This instance has non-allocator RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the Redis process is much larger than the RSS the allocator holds). This problem may be due to Lua scripts or Modules.\n\n".into());
        }
        if mh.clients_normal / numclients > 1024 * 200 {
            reports.push(" * Big client buffers: The clients output buffers in this instance are greater than 200K per client (on average). This may result from different causes, like Pub/Sub clients subscribed to channels bot not receiving data fast enough, so that data piles on the Redis instance output buffer, or clients sending commands with large replies or very large sequences of commands in the same pipeline. Please use the CLIENT LIST command in order to investigate the issue if it causes problems in your instance, or to understand better why certain clients are using a big amount of memory.\n\n".into());
        }
    }
    let text = if empty {
        "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n".to_string()
    } else if reports.is_empty() {
        "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n".to_string()
    } else {
        let mut s =
            "Sam, I detected a few issues in this Redis instance memory implants:\n\n".to_string();
        for r in reports {
            s.push_str(&r);
        }
        s.push_str("I'm here to keep you safe, Sam. I want to help you.\n");
        s
    };
    ctx.out().verbatim(text.as_bytes(), "txt");
}

/// The allocator's report (jemalloc's `malloc_stats_print`, verbatim text); without one,
/// Redis's plain bulk answer for allocators it cannot ask.
pub fn memory_malloc_stats(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    match ctx.eng.info.malloc_stats {
        Some(report) => {
            let text = report();
            ctx.out().verbatim(text.as_bytes(), "txt");
        }
        None => ctx
            .out()
            .bulk(b"Stats not supported for the current allocator"),
    }
}

/// Purging is an allocator hint with nothing to report; Redis answers OK whatever the
/// allocator did.
pub fn memory_purge(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    ctx.ok();
}

const MEMORY_HELP: &[&str] = &[
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
];

pub fn memory_help(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    reply_help(ctx, MEMORY_HELP);
}

/// This family's commands (see `commands::all`).
pub static HANDLERS: &[(&str, Handler)] = &[
    ("memory|usage", memory_usage),
    ("memory|stats", memory_stats),
    ("memory|doctor", memory_doctor),
    ("memory|malloc-stats", memory_malloc_stats),
    ("memory|purge", memory_purge),
    ("memory|help", memory_help),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestEngine;

    #[test]
    fn jemalloc_size_classes() {
        let cases = [
            (0, 0),
            (1, 8),
            (8, 8),
            (9, 16),
            (17, 32),
            (100, 112),
            (128, 128),
            (129, 160),
            (257, 320),
            (1025, 1280),
        ];
        for (n, want) in cases {
            assert_eq!(alloc_size(n), want, "{n}");
        }
    }

    #[test]
    fn usage_and_errors() {
        let mut t = TestEngine::new();
        t.run("SET k v");
        t.run("SET big 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'");
        let base = std::mem::size_of::<Option<Entry>>() + 5;
        assert_eq!(t.text("MEMORY USAGE k"), format!(":{base}|"));
        // 68 bytes: a raw string, one 80-byte block.
        assert_eq!(t.text("MEMORY USAGE big"), format!(":{}|", base + 80));
        assert_eq!(t.text("MEMORY USAGE nokey"), "$-1|");
        assert_eq!(t.text("MEMORY USAGE k SAMPLES"), "-ERR syntax error|");
        assert_eq!(
            t.text("MEMORY USAGE k SAMPLES x"),
            "-ERR value is not an integer or out of range|"
        );
        assert_eq!(t.text("MEMORY USAGE k SAMPLES -1"), "-ERR syntax error|");
        assert_eq!(t.text("MEMORY USAGE k SAMPLES 0"), format!(":{base}|"));
        assert_eq!(t.text("MEMORY USAGE k foo"), "-ERR syntax error|");
        assert_eq!(
            t.text("MEMORY FOO"),
            "-ERR unknown subcommand 'FOO'. Try MEMORY HELP.|"
        );
        assert_eq!(t.text("MEMORY PURGE"), "+OK|");
        assert!(t
            .text("MEMORY DOCTOR")
            .contains("Hi Sam, this instance is empty"));
        assert!(t
            .text("MEMORY HELP")
            .starts_with("*14|+MEMORY <subcommand>"));
    }

    #[test]
    fn stats_shape() {
        let mut t = TestEngine::new();
        t.run("SET k v");
        let s = t.text("MEMORY STATS");
        assert!(s.starts_with("*56|$14|peak.allocated|:"), "{s}");
        assert!(
            s.contains("|$4|db.0|*6|$23|overhead.hashtable.main|:"),
            "{s}"
        );
        assert!(s.contains("|$10|keys.count|:1|"), "{s}");
        assert!(s.ends_with("|$19|fragmentation.bytes|:0|"), "{s}");
        t.run("HELLO 3");
        let s = t.text("MEMORY STATS");
        assert!(s.starts_with("%28|"), "{s}");
        assert!(s.contains("|$18|dataset.percentage|,"), "{s}");
    }
}
