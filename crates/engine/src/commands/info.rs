//! INFO (Redis 7.0 server.c `genRedisInfoString`).
//!
//! Sections come in Redis's order with its `# Section` headers and CRLF lines, separated by
//! an empty line. `INFO` and `INFO default` give the default sections; `all` adds
//! commandstats and latencystats; `everything` adds module sections too (we have none).
//! Unknown section names are ignored, so asking only for them gives an empty reply.
//! Fields describing machinery we have not built (fork, AOF, Lua, replication links) carry
//! the values a fresh Redis with that feature idle reports.

use crate::commands::client::client_memory;
use crate::commands::memory::{overhead, MemOverhead};
use crate::ctx::Ctx;
use crate::stats::{INST_COMMANDS, INST_NET_INPUT, INST_NET_OUTPUT};
use crate::table::{Command, Handler};
use crate::{Engine, REDIS_VERSION, REDOUBT_VERSION};
use bytes::Bytes;
use std::fmt::Write;

/// Redis's `default_sections`.
const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "module_list",
    "errorstats",
    "cluster",
    "keyspace",
];

/// Which sections one INFO call asked for (`genInfoSectionDict`).
pub struct Sections {
    names: Vec<String>,
    all: bool,
}

impl Sections {
    pub fn parse(args: &[Bytes]) -> Sections {
        let mut s = Sections {
            names: Vec::new(),
            all: false,
        };
        if args.is_empty() {
            s.names = DEFAULT_SECTIONS.iter().map(|n| n.to_string()).collect();
            return s;
        }
        for a in args {
            let name = String::from_utf8_lossy(a).to_ascii_lowercase();
            match name.as_str() {
                "default" => s
                    .names
                    .extend(DEFAULT_SECTIONS.iter().map(|n| n.to_string())),
                "all" | "everything" => s.all = true,
                _ => s.names.push(name),
            }
        }
        s
    }

    fn wants(&self, name: &str) -> bool {
        self.all || self.names.iter().any(|n| n == name)
    }
}

/// Redis's `bytesToHuman`.
pub fn bytes_to_human(n: u64) -> String {
    const UNITS: [(u64, &str); 5] = [
        (1 << 10, "K"),
        (1 << 20, "M"),
        (1 << 30, "G"),
        (1 << 40, "T"),
        (1 << 50, "P"),
    ];
    if n < 1024 {
        return format!("{n}B");
    }
    for (i, (div, unit)) in UNITS.iter().enumerate() {
        let next = UNITS.get(i + 1).map_or(1u64 << 60, |u| u.0);
        if n < next {
            return format!("{:.2}{unit}", n as f64 / *div as f64);
        }
    }
    format!("{n}B")
}

/// A stable build id derived from our version (Redis hashes its build environment).
fn build_id() -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in REDOUBT_VERSION.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")[..15].to_string()
}

fn section_server(eng: &Engine, s: &mut String, now_ms: i64) {
    let f = &eng.info;
    let uptime = (now_ms - f.start_ms).max(0) / 1000;
    let _ = write!(
        s,
        "# Server\r\n\
         redis_version:{REDIS_VERSION}\r\n\
         redoubt_version:{REDOUBT_VERSION}\r\n\
         redis_git_sha1:00000000\r\n\
         redis_git_dirty:0\r\n\
         redis_build_id:{}\r\n\
         redis_mode:standalone\r\n\
         os:{}\r\n\
         arch_bits:{}\r\n\
         monotonic_clock:POSIX clock_gettime\r\n\
         multiplexing_api:epoll\r\n\
         atomicvar_api:c11-builtin\r\n\
         gcc_version:0.0.0\r\n\
         process_id:{}\r\n\
         process_supervised:no\r\n\
         run_id:{}\r\n\
         tcp_port:{}\r\n\
         server_time_usec:{}\r\n\
         uptime_in_seconds:{}\r\n\
         uptime_in_days:{}\r\n\
         hz:{}\r\n\
         configured_hz:{}\r\n\
         lru_clock:{}\r\n\
         executable:{}\r\n\
         config_file:{}\r\n\
         io_threads_active:0\r\n",
        build_id(),
        f.os,
        f.arch_bits,
        f.pid,
        f.run_id,
        f.tcp_port,
        now_ms.saturating_mul(1000),
        uptime,
        uptime / 86400,
        eng.conf.hz,
        eng.conf.hz,
        (now_ms / 1000) & 0xFF_FFFF,
        f.executable,
        f.config_file,
    );
}

/// `me` is the client running INFO, taken out of `eng.clients` while it runs; a scrape of
/// the metrics endpoint has none (`info_detached`) and so counts no client of its own.
fn section_clients(eng: &Engine, s: &mut String, me: Option<&crate::Client>) {
    let clients = eng.clients.values().map(|b| &**b).chain(me);
    let (mut max_in, mut max_out) = (0, 0);
    for c in clients {
        max_in = max_in.max(c.query_buf_len);
        max_out = max_out.max(c.out.len());
    }
    let _ = write!(
        s,
        "# Clients\r\n\
         connected_clients:{}\r\n\
         cluster_connections:0\r\n\
         maxclients:{}\r\n\
         client_recent_max_input_buffer:{max_in}\r\n\
         client_recent_max_output_buffer:{max_out}\r\n\
         blocked_clients:{}\r\n\
         tracking_clients:0\r\n\
         clients_in_timeout_table:0\r\n",
        eng.clients.len() + usize::from(me.is_some()),
        eng.conf.maxclients,
        eng.blocking.count,
    );
}

fn section_memory(eng: &Engine, s: &mut String, mh: &MemOverhead) {
    let used = mh.total_allocated;
    let total_sys = eng.info.total_system_memory;
    let _ = write!(
        s,
        "# Memory\r\n\
         used_memory:{used}\r\n\
         used_memory_human:{}\r\n\
         used_memory_rss:{}\r\n\
         used_memory_rss_human:{}\r\n\
         used_memory_peak:{}\r\n\
         used_memory_peak_human:{}\r\n\
         used_memory_peak_perc:{:.2}%\r\n\
         used_memory_overhead:{}\r\n\
         used_memory_startup:{}\r\n\
         used_memory_dataset:{}\r\n\
         used_memory_dataset_perc:{:.2}%\r\n\
         allocator_allocated:{}\r\n\
         allocator_active:{}\r\n\
         allocator_resident:{}\r\n\
         total_system_memory:{total_sys}\r\n\
         total_system_memory_human:{}\r\n\
         used_memory_lua:0\r\n\
         used_memory_vm_eval:0\r\n\
         used_memory_lua_human:0B\r\n\
         used_memory_scripts_eval:0\r\n\
         number_of_cached_scripts:0\r\n\
         number_of_functions:0\r\n\
         number_of_libraries:0\r\n\
         used_memory_vm_functions:0\r\n\
         used_memory_vm_total:0\r\n\
         used_memory_vm_total_human:0B\r\n\
         used_memory_functions:0\r\n\
         used_memory_scripts:0\r\n\
         used_memory_scripts_human:0B\r\n\
         maxmemory:{}\r\n\
         maxmemory_human:{}\r\n\
         maxmemory_policy:{}\r\n\
         allocator_frag_ratio:{:.2}\r\n\
         allocator_frag_bytes:{}\r\n\
         allocator_rss_ratio:{:.2}\r\n\
         allocator_rss_bytes:{}\r\n\
         rss_overhead_ratio:{:.2}\r\n\
         rss_overhead_bytes:{}\r\n\
         mem_fragmentation_ratio:{:.2}\r\n\
         mem_fragmentation_bytes:{}\r\n\
         mem_not_counted_for_evict:0\r\n\
         mem_replication_backlog:0\r\n\
         mem_total_replication_buffers:0\r\n\
         mem_clients_slaves:0\r\n\
         mem_clients_normal:{}\r\n\
         mem_cluster_links:0\r\n\
         mem_aof_buffer:0\r\n\
         mem_allocator:{}\r\n\
         active_defrag_running:0\r\n\
         lazyfree_pending_objects:{}\r\n\
         lazyfreed_objects:{}\r\n",
        bytes_to_human(used),
        mh.rss,
        bytes_to_human(mh.rss),
        mh.peak_allocated,
        bytes_to_human(mh.peak_allocated),
        mh.peak_perc,
        mh.overhead_total,
        mh.startup_allocated,
        mh.dataset,
        mh.dataset_perc,
        mh.allocator_allocated,
        mh.allocator_active,
        mh.allocator_resident,
        bytes_to_human(total_sys),
        eng.conf.maxmemory,
        bytes_to_human(eng.conf.maxmemory),
        eng.conf.maxmemory_policy,
        mh.allocator_frag,
        mh.allocator_frag_bytes,
        mh.allocator_rss,
        mh.allocator_rss_bytes,
        mh.rss_extra,
        mh.rss_extra_bytes,
        mh.total_frag,
        mh.total_frag_bytes,
        mh.clients_normal,
        eng.info.mem_allocator,
        eng.lazyfree.pending(),
        eng.lazyfree.freed(),
    );
}

/// Save/load facts: SAVE, BGSAVE (a snapshot without fork: the "cow" fields report the
/// bytes of entries copied before a change, see `crate::snapshot`) and the startup load.
fn section_persistence(eng: &Engine, s: &mut String, now_ms: i64) {
    let (cow, cur_time, processed, total) = match eng.bgsave.as_deref() {
        Some(bg) => (
            bg.snap.copied_bytes(&eng.dbs),
            now_ms / 1000 - bg.start_ms / 1000,
            bg.snap.entries_done(&eng.dbs),
            bg.snap.keys_total,
        ),
        None => (0, -1, 0, 0),
    };
    let (rdb_time, aof_time) = if eng.aof_child() {
        (-1, cur_time)
    } else {
        (cur_time, -1)
    };
    let rw = &eng.rdb;
    let _ = write!(
        s,
        "# Persistence\r\n\
         loading:{}\r\n\
         async_loading:0\r\n\
         current_cow_peak:{cow}\r\n\
         current_cow_size:{cow}\r\n\
         current_cow_size_age:0\r\n\
         current_fork_perc:{:.2}\r\n\
         current_save_keys_processed:{processed}\r\n\
         current_save_keys_total:{total}\r\n\
         rdb_changes_since_last_save:{}\r\n\
         rdb_bgsave_in_progress:{}\r\n\
         rdb_last_save_time:{}\r\n\
         rdb_last_bgsave_status:{}\r\n\
         rdb_last_bgsave_time_sec:{}\r\n\
         rdb_current_bgsave_time_sec:{rdb_time}\r\n\
         rdb_saves:{}\r\n\
         rdb_last_cow_size:{}\r\n\
         rdb_last_load_keys_expired:{}\r\n\
         rdb_last_load_keys_loaded:{}\r\n\
         aof_enabled:{}\r\n\
         aof_rewrite_in_progress:{}\r\n\
         aof_rewrite_scheduled:{}\r\n\
         aof_last_rewrite_time_sec:{}\r\n\
         aof_current_rewrite_time_sec:{aof_time}\r\n\
         aof_last_bgrewrite_status:{}\r\n\
         aof_rewrites:{}\r\n\
         aof_rewrites_consecutive_failures:{}\r\n\
         aof_last_write_status:{}\r\n\
         aof_last_cow_size:{}\r\n\
         module_fork_in_progress:0\r\n\
         module_fork_last_cow_size:0\r\n",
        u8::from(eng.loading.is_some()),
        if total > 0 {
            processed as f64 * 100.0 / total as f64
        } else {
            0.0
        },
        eng.stats.dirty,
        u8::from(eng.rdb_child()),
        eng.lastsave_s,
        if eng.rdb.last_status_ok { "ok" } else { "err" },
        eng.rdb.last_bgsave_time_s,
        eng.rdb.saves,
        eng.rdb.last_cow_bytes,
        eng.rdb.last_load_keys_expired,
        // While loading, the keys loaded so far (Redis counts them as it goes).
        eng.loading
            .as_ref()
            .map_or(eng.rdb.last_load_keys_loaded, |l| l
                .progress
                .keys
                .load(std::sync::atomic::Ordering::Relaxed)),
        u8::from(eng.aof.is_some()),
        u8::from(eng.aof_child()),
        u8::from(rw.aof_rewrite_scheduled),
        rw.aof_last_rewrite_time_s,
        if rw.aof_last_rewrite_ok { "ok" } else { "err" },
        rw.aof_rewrites,
        rw.aof_rewrite_failures,
        if eng.aof.as_ref().is_none_or(|a| a.last_write_ok) {
            "ok"
        } else {
            "err"
        },
        rw.aof_last_cow_bytes,
    );
    if let Some(a) = &eng.aof {
        let _ = write!(
            s,
            "aof_current_size:{}\r\n\
             aof_base_size:{}\r\n\
             aof_pending_rewrite:0\r\n\
             aof_buffer_length:{}\r\n\
             aof_pending_bio_fsync:0\r\n\
             aof_delayed_fsync:0\r\n",
            a.current_size, a.base_size, a.buffer_length
        );
    }
    if let Some(l) = &eng.loading {
        s.push_str(&l.info_lines(now_ms / 1000));
    }
}

fn section_stats(eng: &Engine, s: &mut String) {
    let st = &eng.stats;
    let _ = write!(
        s,
        "# Stats\r\n\
         total_connections_received:{}\r\n\
         total_commands_processed:{}\r\n\
         instantaneous_ops_per_sec:{}\r\n\
         total_net_input_bytes:{}\r\n\
         total_net_output_bytes:{}\r\n\
         total_net_repl_input_bytes:0\r\n\
         total_net_repl_output_bytes:0\r\n\
         instantaneous_input_kbps:{:.2}\r\n\
         instantaneous_output_kbps:{:.2}\r\n\
         instantaneous_input_repl_kbps:0.00\r\n\
         instantaneous_output_repl_kbps:0.00\r\n\
         rejected_connections:{}\r\n\
         sync_full:{}\r\n\
         sync_partial_ok:{}\r\n\
         sync_partial_err:{}\r\n\
         expired_keys:{}\r\n\
         expired_stale_perc:{:.2}\r\n\
         expired_time_cap_reached_count:{}\r\n\
         expire_cycle_cpu_milliseconds:{}\r\n\
         evicted_keys:{}\r\n\
         evicted_clients:{}\r\n\
         total_eviction_exceeded_time:0\r\n\
         current_eviction_exceeded_time:0\r\n\
         keyspace_hits:{}\r\n\
         keyspace_misses:{}\r\n\
         pubsub_channels:{}\r\n\
         pubsub_patterns:{}\r\n\
         pubsubshard_channels:{}\r\n\
         latest_fork_usec:0\r\n\
         total_forks:0\r\n\
         migrate_cached_sockets:0\r\n\
         slave_expires_tracked_keys:{}\r\n\
         active_defrag_hits:0\r\n\
         active_defrag_misses:0\r\n\
         active_defrag_key_hits:0\r\n\
         active_defrag_key_misses:0\r\n\
         total_active_defrag_time:0\r\n\
         current_active_defrag_time:0\r\n\
         tracking_total_keys:0\r\n\
         tracking_total_items:0\r\n\
         tracking_total_prefixes:0\r\n\
         unexpected_error_replies:{}\r\n\
         total_error_replies:{}\r\n\
         dump_payload_sanitizations:0\r\n\
         total_reads_processed:{}\r\n\
         total_writes_processed:{}\r\n\
         io_threaded_reads_processed:{}\r\n\
         io_threaded_writes_processed:0\r\n\
         reply_buffer_shrinks:0\r\n\
         reply_buffer_expands:0\r\n",
        st.total_connections_received,
        st.total_commands_processed,
        st.inst.get(INST_COMMANDS),
        st.total_net_input_bytes,
        st.total_net_output_bytes,
        st.inst.get(INST_NET_INPUT) as f64 / 1024.0,
        st.inst.get(INST_NET_OUTPUT) as f64 / 1024.0,
        st.rejected_connections,
        st.sync_full,
        st.sync_partial_ok,
        st.sync_partial_err,
        st.expired_keys,
        st.expired_stale_perc * 100.0,
        st.expired_time_cap_reached_count,
        st.expire_cycle_time_used_us / 1000,
        st.evicted_keys,
        st.evicted_clients,
        st.keyspace_hits,
        st.keyspace_misses,
        eng.pubsub.channels.len(),
        eng.pubsub.patterns.len(),
        eng.pubsub.shard_channels.len(),
        eng.repl.own_expires.len(),
        st.unexpected_error_replies,
        st.total_error_replies,
        st.total_reads_processed,
        st.total_writes_processed,
        st.io_threaded_reads_processed,
    );
}

fn secs(us: u64) -> String {
    format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
}

fn section_cpu(eng: &Engine, s: &mut String) {
    let c = (eng.info.cpu)();
    let _ = write!(
        s,
        "# CPU\r\n\
         used_cpu_sys:{}\r\n\
         used_cpu_user:{}\r\n\
         used_cpu_sys_children:{}\r\n\
         used_cpu_user_children:{}\r\n\
         used_cpu_sys_main_thread:{}\r\n\
         used_cpu_user_main_thread:{}\r\n",
        secs(c.sys_us),
        secs(c.user_us),
        secs(c.sys_children_us),
        secs(c.user_children_us),
        secs(c.sys_main_thread_us),
        secs(c.user_main_thread_us),
    );
}

/// Commands by name, each container followed by its subcommands (Redis walks its command
/// dict in hash order; we use name order so the output is stable).
fn commands_in_order(eng: &Engine) -> Vec<&Command> {
    let mut top: Vec<&Command> = eng.table.iter().collect();
    top.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = Vec::new();
    for c in top {
        out.push(c);
        let mut subs: Vec<&Command> = c.subcommands.values().collect();
        subs.sort_by(|a, b| a.name.cmp(&b.name));
        out.extend(subs);
    }
    out
}

fn section_commandstats(eng: &Engine, s: &mut String) {
    s.push_str("# Commandstats\r\n");
    for c in commands_in_order(eng) {
        let st = &c.stats;
        if !st.any() {
            continue;
        }
        let calls = st.calls.get();
        let usec = st.usec.get();
        // Redis divides in single precision.
        let per_call = if calls == 0 {
            0.0
        } else {
            usec as f32 / calls as f32
        };
        let _ = write!(
            s,
            "cmdstat_{}:calls={calls},usec={usec},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}\r\n",
            c.name,
            st.rejected_calls.get(),
            st.failed_calls.get(),
        );
    }
}

fn section_errorstats(eng: &Engine, s: &mut String) {
    s.push_str("# Errorstats\r\n");
    for (code, n) in &eng.stats.errors {
        let _ = write!(s, "errorstat_{code}:count={n}\r\n");
    }
}

fn section_latencystats(eng: &Engine, s: &mut String) {
    s.push_str("# Latencystats\r\n");
    // With `latency-tracking no` Redis prints the header alone.
    if !eng.conf.latency_tracking {
        return;
    }
    let percentiles = eng.config.latency_tracking_info_percentiles();
    for c in commands_in_order(eng) {
        let h = c.stats.latency.borrow();
        if h.is_empty() {
            continue;
        }
        let _ = write!(
            s,
            "latency_percentiles_usec_{}:{}\r\n",
            c.name,
            h.info_line(percentiles)
        );
    }
}

fn section_keyspace(eng: &Engine, s: &mut String) {
    s.push_str("# Keyspace\r\n");
    for (i, db) in eng.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        let _ = write!(
            s,
            "db{i}:keys={},expires={},avg_ttl={}\r\n",
            db.len(),
            db.expires_len(),
            db.avg_ttl_ms
        );
    }
}

/// Builds the INFO text for the sections asked (`genRedisInfoString`).
pub fn info_string(ctx: &mut Ctx<'_>, sections: &Sections) -> String {
    let now = ctx.now_ms;
    info_generic(ctx.eng, Some(ctx.client), sections, now)
}

/// The INFO text as seen from outside any client (the metrics endpoint): the same code as
/// the INFO command, without counting a calling client, a command or its reply.
pub fn info_detached(eng: &mut Engine, sections: &Sections, now_ms: i64) -> String {
    info_generic(eng, None, sections, now_ms)
}

fn info_generic(
    eng: &mut Engine,
    me: Option<&crate::Client>,
    sections: &Sections,
    now: i64,
) -> String {
    let mut s = String::with_capacity(4096);
    let mut n = 0;
    let mut begin = |s: &mut String| {
        if n > 0 {
            s.push_str("\r\n");
        }
        n += 1;
    };
    if sections.wants("server") {
        begin(&mut s);
        section_server(eng, &mut s, now);
    }
    if sections.wants("clients") {
        begin(&mut s);
        section_clients(eng, &mut s, me);
    }
    if sections.wants("memory") {
        begin(&mut s);
        let me_mem = me.map_or(0, |c| client_memory(c) as u64);
        let mh = overhead(eng, me_mem);
        section_memory(eng, &mut s, &mh);
    }
    if sections.wants("persistence") {
        begin(&mut s);
        section_persistence(eng, &mut s, now);
    }
    if sections.wants("stats") {
        begin(&mut s);
        section_stats(eng, &mut s);
    }
    if sections.wants("replication") {
        begin(&mut s);
        crate::commands::replication::info_section(eng, &mut s, now);
    }
    if sections.wants("cpu") {
        begin(&mut s);
        section_cpu(eng, &mut s);
    }
    if sections.wants("module_list") || sections.wants("modules") {
        begin(&mut s);
        s.push_str("# Modules\r\n");
    }
    if sections.wants("commandstats") {
        begin(&mut s);
        section_commandstats(eng, &mut s);
    }
    if sections.wants("errorstats") {
        begin(&mut s);
        section_errorstats(eng, &mut s);
    }
    if sections.wants("latencystats") {
        begin(&mut s);
        section_latencystats(eng, &mut s);
    }
    if sections.wants("cluster") {
        begin(&mut s);
        s.push_str("# Cluster\r\ncluster_enabled:0\r\n");
    }
    if sections.wants("keyspace") {
        begin(&mut s);
        section_keyspace(eng, &mut s);
    }
    s
}

pub fn info(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let sections = Sections::parse(&argv[1..]);
    let text = info_string(ctx, &sections);
    ctx.out().verbatim(text.as_bytes(), "txt");
}

/// This family's commands (see `commands::all`).
pub static HANDLERS: &[(&str, Handler)] = &[("info", info)];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestEngine;

    fn headers(text: &str) -> Vec<String> {
        text.split("\r\n")
            .filter(|l| l.starts_with("# "))
            .map(|l| l.to_string())
            .collect()
    }

    fn info(t: &mut TestEngine, line: &str) -> String {
        let raw = t.run(line);
        let s = String::from_utf8_lossy(&raw).into_owned();
        // Strip the bulk header and trailing CRLF.
        let body = s.split_once("\r\n").map(|x| x.1).unwrap_or_default();
        body.strip_suffix("\r\n").unwrap_or(body).to_string()
    }

    /// The metrics endpoint's INFO counts neither itself as a client nor a command.
    #[test]
    fn detached_info_counts_no_caller() {
        let mut t = TestEngine::new();
        t.run("SET k v");
        let field = |text: &str, name: &str| {
            text.split("\r\n")
                .find_map(|l| l.strip_prefix(&format!("{name}:")).map(str::to_string))
                .unwrap_or_default()
        };
        let by_client = info(&mut t, "INFO clients stats");
        assert_eq!(field(&by_client, "connected_clients"), "1");
        let sections = Sections::parse(&[Bytes::from("clients"), Bytes::from("stats")]);
        let now = t.now_ms;
        let detached = info_detached(&mut t.eng, &sections, now);
        // The test client is connected (idle); the scrape adds none.
        assert_eq!(field(&detached, "connected_clients"), "1");
        // SET and the INFO above; the detached INFO is not a command.
        assert_eq!(field(&detached, "total_commands_processed"), "2");
        assert_eq!(headers(&detached), ["# Clients", "# Stats"]);
    }

    #[test]
    fn section_selection_like_redis() {
        let mut t = TestEngine::new();
        let default = [
            "# Server",
            "# Clients",
            "# Memory",
            "# Persistence",
            "# Stats",
            "# Replication",
            "# CPU",
            "# Modules",
            "# Errorstats",
            "# Cluster",
            "# Keyspace",
        ];
        assert_eq!(headers(&info(&mut t, "INFO")), default);
        assert_eq!(headers(&info(&mut t, "INFO default")), default);
        assert_eq!(headers(&info(&mut t, "INFO default keyspace")), default);
        let all = [
            "# Server",
            "# Clients",
            "# Memory",
            "# Persistence",
            "# Stats",
            "# Replication",
            "# CPU",
            "# Modules",
            "# Commandstats",
            "# Errorstats",
            "# Latencystats",
            "# Cluster",
            "# Keyspace",
        ];
        assert_eq!(headers(&info(&mut t, "INFO all")), all);
        assert_eq!(headers(&info(&mut t, "INFO everything foo")), all);
        assert_eq!(
            headers(&info(&mut t, "INFO SERVER Clients server")),
            ["# Server", "# Clients"]
        );
        assert_eq!(headers(&info(&mut t, "INFO modules")), ["# Modules"]);
        assert_eq!(headers(&info(&mut t, "INFO module_list")), ["# Modules"]);
        assert_eq!(t.text("INFO foo"), "$0||");
        assert_eq!(t.text("INFO cluster"), "$30|# Cluster|cluster_enabled:0||");
        t.run("HELLO 3");
        assert_eq!(
            t.text("INFO cluster"),
            "=34|txt:# Cluster|cluster_enabled:0||"
        );
    }

    #[test]
    fn server_section_fields_in_order() {
        let mut t = TestEngine::new();
        let text = info(&mut t, "INFO server");
        let keys: Vec<&str> = text
            .split_terminator("\r\n")
            .skip(1)
            .filter_map(|l| l.split(':').next())
            .collect();
        assert_eq!(
            keys,
            [
                "redis_version",
                "redoubt_version",
                "redis_git_sha1",
                "redis_git_dirty",
                "redis_build_id",
                "redis_mode",
                "os",
                "arch_bits",
                "monotonic_clock",
                "multiplexing_api",
                "atomicvar_api",
                "gcc_version",
                "process_id",
                "process_supervised",
                "run_id",
                "tcp_port",
                "server_time_usec",
                "uptime_in_seconds",
                "uptime_in_days",
                "hz",
                "configured_hz",
                "lru_clock",
                "executable",
                "config_file",
                "io_threads_active"
            ]
        );
        assert!(text.contains("\r\nredis_version:7.0.15\r\n"));
        // 1_700_000_000 & 0xFFFFFF
        assert!(text.contains("\r\nlru_clock:5501184\r\n"), "{text}");
    }

    #[test]
    fn stats_sections_count_calls_and_errors() {
        let mut t = TestEngine::new();
        t.run("SET a 1");
        t.run("GET a");
        t.run("GET");
        t.run("CLIENT NOPE");
        t.run("CLIENT SETNAME 'a b'");
        let cs = info(&mut t, "INFO commandstats");
        assert!(
            cs.contains(
                "\r\ncmdstat_get:calls=1,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0"
            ),
            "{cs}"
        );
        assert!(cs.contains(
            "\r\ncmdstat_client|setname:calls=1,usec=0,usec_per_call=0.00,rejected_calls=0,failed_calls=1"
        ));
        assert!(cs.contains("\r\ncmdstat_set:calls=1,"));
        let es = info(&mut t, "INFO errorstats");
        assert_eq!(es, "# Errorstats\r\nerrorstat_ERR:count=3\r\n");
        let ls = info(&mut t, "INFO latencystats");
        assert!(
            ls.contains("\r\nlatency_percentiles_usec_get:p50=0.001,p99=0.001,p99.9=0.001"),
            "{ls}"
        );
        let ks = info(&mut t, "INFO keyspace");
        assert_eq!(ks, "# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n");
        let st = info(&mut t, "INFO stats");
        assert!(st.contains("\r\ntotal_commands_processed:"), "{st}");
        assert!(st.contains("\r\nkeyspace_hits:1\r\n"), "{st}");
    }

    #[test]
    fn replication_and_persistence() {
        let mut t = TestEngine::new();
        t.run("SET a 1");
        let r = info(&mut t, "INFO replication");
        assert!(r.contains("\r\nrole:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\nmaster_replid:0000000000000000000000000000000000000000\r\nmaster_replid2:0000000000000000000000000000000000000000\r\nmaster_repl_offset:"), "{r}");
        let offset = t.eng.stream.offset();
        assert!(r.contains(&format!("master_repl_offset:{offset}\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:0\r\nrepl_backlog_size:1048576\r\nrepl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0")));
        let p = info(&mut t, "INFO persistence");
        assert!(p.contains("\r\nrdb_changes_since_last_save:1\r\n"), "{p}");
    }

    #[test]
    fn human_sizes() {
        assert_eq!(bytes_to_human(0), "0B");
        assert_eq!(bytes_to_human(1023), "1023B");
        assert_eq!(bytes_to_human(916392), "894.91K");
        assert_eq!(bytes_to_human(12140544), "11.58M");
        assert_eq!(bytes_to_human(25276502016), "23.54G");
    }
}
