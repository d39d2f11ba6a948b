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
