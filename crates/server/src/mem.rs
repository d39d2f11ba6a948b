//! Allocator readings from jemalloc (INFO memory, maxmemory).

use redoubt_engine::MemoryStats;
use tikv_jemalloc_ctl::{epoch, stats};

/// Reads jemalloc's statistics after refreshing its epoch. Errors read as zero: stats are
/// informational and must never fail a command.
pub fn read() -> MemoryStats {
    let _ = epoch::advance();
    MemoryStats {
        allocated: stats::allocated::read().unwrap_or(0) as u64,
        active: stats::active::read().unwrap_or(0) as u64,
        resident: stats::resident::read().unwrap_or(0) as u64,
        retained: stats::retained::read().unwrap_or(0) as u64,
        mapped: stats::mapped::read().unwrap_or(0) as u64,
        rss: rss_bytes(),
    }
}

/// Resident set size from /proc/self/statm, as Redis's zmalloc_get_rss does on Linux.
pub fn rss_bytes() -> u64 {
    let page = 4096u64;
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * page)
}

/// Bytes currently allocated by this thread, from jemalloc's per-thread counters: a pointer
/// read, cheap enough to run before every command when `maxmemory` is set (Redis keeps its
/// own counter for the same reason). The server allocates from one thread only, so this is
/// the process's heap use; `read()` is the authoritative, slower reading for INFO.
pub fn used_fast() -> u64 {
    thread_local! {
        static COUNTERS: Option<(
            tikv_jemalloc_ctl::thread::ThreadLocal<u64>,
            tikv_jemalloc_ctl::thread::ThreadLocal<u64>,
        )> = tikv_jemalloc_ctl::thread::allocatedp::read()
            .ok()
            .zip(tikv_jemalloc_ctl::thread::deallocatedp::read().ok());
    }
    COUNTERS.with(|c| match c {
        Some((a, d)) => a.get().saturating_sub(d.get()),
        None => read().allocated,
    })
}

/// `mem_allocator` as Redis spells it: `jemalloc-<major.minor.patch>` of the linked jemalloc.
pub fn allocator_name() -> String {
    let version = tikv_jemalloc_ctl::version::read().unwrap_or("unknown");
    let release = version.split('-').next().unwrap_or(version);
    format!("jemalloc-{release}")
}
