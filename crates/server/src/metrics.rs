//! The Prometheus view of INFO: `GET /metrics` on `--metrics-port` (a Redoubt addition; see
//! [`crate::metrics_http`] for the listener).
//!
//! Every value comes from the text the INFO command renders (`info_detached`: the same code,
//! run on the engine thread for exactly as long as an INFO), and on a Sentinel also from
//! SENTINEL MASTERS as the core renders it, so the endpoint can never disagree with what
//! `redis-cli INFO` shows at the same moment. Turning that text into the exposition format
//! (version 0.0.4) is done here, after the engine is released, and is a pure function of the
//! text so that it is tested without sockets.
//!
//! Names follow Prometheus's conventions: the `redoubt_` prefix, base units in the name
//! (`_bytes`, `_seconds`), `_total` on counters. INFO fields a role does not print (a
//! Sentinel has no keyspace, a master no link to its master) are simply absent.

use std::collections::BTreeMap;
use std::fmt::Write;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Counter,
    Gauge,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

use Kind::{Counter, Gauge};

/// How an INFO value becomes a sample value.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Conv {
    /// The number as printed.
    Same,
    /// Milliseconds to seconds.
    Ms,
    /// INFO's kbps are KiB/s (`/ 1024` in Redis): to bytes per second.
    Kib,
    /// `ok` is 1, anything else 0.
    Ok,
    /// `up` is 1, anything else 0.
    Up,
}

/// Plain `field:number` INFO lines and the metric each becomes.
#[rustfmt::skip]
const FIELDS: &[(&str, &str, Kind, Conv, &str)] = &[
    // Server
    ("uptime_in_seconds", "uptime_seconds", Gauge, Conv::Same, "Seconds since the server started."),
    // Clients
    ("connected_clients", "connected_clients", Gauge, Conv::Same, "Client connections (replicas excluded)."),
    ("blocked_clients", "blocked_clients", Gauge, Conv::Same, "Clients blocked in BLPOP, BZPOPMIN and the like."),
    ("maxclients", "max_clients", Gauge, Conv::Same, "The maxclients setting."),
    // Memory
    ("used_memory", "memory_used_bytes", Gauge, Conv::Same, "Bytes allocated by the server (INFO used_memory)."),
    ("used_memory_rss", "memory_rss_bytes", Gauge, Conv::Same, "Resident set size of the process."),
    ("used_memory_peak", "memory_peak_bytes", Gauge, Conv::Same, "Peak of used_memory."),
    ("used_memory_dataset", "memory_dataset_bytes", Gauge, Conv::Same, "used_memory minus the overhead (INFO used_memory_dataset)."),
    ("used_memory_startup", "memory_startup_bytes", Gauge, Conv::Same, "Bytes allocated at startup."),
    ("maxmemory", "memory_max_bytes", Gauge, Conv::Same, "The maxmemory setting (0: no limit)."),
    ("mem_fragmentation_ratio", "memory_fragmentation_ratio", Gauge, Conv::Same, "used_memory_rss / used_memory."),
    ("mem_fragmentation_bytes", "memory_fragmentation_bytes", Gauge, Conv::Same, "used_memory_rss - used_memory."),
    ("total_system_memory", "system_memory_bytes", Gauge, Conv::Same, "Memory of the host."),
    ("lazyfree_pending_objects", "lazyfree_pending_objects", Gauge, Conv::Same, "Values waiting for the lazyfree thread."),
    // Persistence
    ("loading", "loading", Gauge, Conv::Same, "1 while the dataset is loading."),
    ("rdb_changes_since_last_save", "rdb_changes_since_last_save", Gauge, Conv::Same, "Writes since the last successful save."),
    ("rdb_bgsave_in_progress", "rdb_bgsave_in_progress", Gauge, Conv::Same, "1 while a BGSAVE runs."),
    ("rdb_last_save_time", "rdb_last_save_timestamp_seconds", Gauge, Conv::Same, "Unix time of the last successful save."),
    ("rdb_last_bgsave_status", "rdb_last_bgsave_ok", Gauge, Conv::Ok, "1 if the last BGSAVE succeeded."),
    ("rdb_last_bgsave_time_sec", "rdb_last_bgsave_duration_seconds", Gauge, Conv::Same, "Duration of the last BGSAVE (-1: none yet)."),
    ("rdb_saves", "rdb_saves_total", Counter, Conv::Same, "Snapshots saved since startup."),
    ("aof_enabled", "aof_enabled", Gauge, Conv::Same, "1 with appendonly yes."),
    ("aof_rewrite_in_progress", "aof_rewrite_in_progress", Gauge, Conv::Same, "1 while an AOF rewrite runs."),
    ("aof_last_bgrewrite_status", "aof_last_bgrewrite_ok", Gauge, Conv::Ok, "1 if the last AOF rewrite succeeded."),
    ("aof_last_write_status", "aof_last_write_ok", Gauge, Conv::Ok, "1 if the last AOF write succeeded (0: writes are refused)."),
    ("aof_rewrites", "aof_rewrites_total", Counter, Conv::Same, "AOF rewrites since startup."),
    ("aof_current_size", "aof_current_size_bytes", Gauge, Conv::Same, "Size of the AOF."),
    // Stats
    ("total_connections_received", "connections_received_total", Counter, Conv::Same, "Connections accepted."),
    ("total_commands_processed", "commands_processed_total", Counter, Conv::Same, "Commands processed."),
    ("instantaneous_ops_per_sec", "instantaneous_ops_per_second", Gauge, Conv::Same, "Commands per second, sampled by the server (INFO instantaneous_ops_per_sec)."),
    ("total_net_input_bytes", "net_input_bytes_total", Counter, Conv::Same, "Bytes read from the network."),
    ("total_net_output_bytes", "net_output_bytes_total", Counter, Conv::Same, "Bytes written to the network."),
    ("total_net_repl_input_bytes", "net_repl_input_bytes_total", Counter, Conv::Same, "Bytes read for replication."),
    ("total_net_repl_output_bytes", "net_repl_output_bytes_total", Counter, Conv::Same, "Bytes written for replication."),
    ("instantaneous_input_kbps", "instantaneous_input_bytes_per_second", Gauge, Conv::Kib, "Network input rate, sampled by the server."),
    ("instantaneous_output_kbps", "instantaneous_output_bytes_per_second", Gauge, Conv::Kib, "Network output rate, sampled by the server."),
    ("rejected_connections", "rejected_connections_total", Counter, Conv::Same, "Connections refused (maxclients, protected mode)."),
    ("sync_full", "sync_full_total", Counter, Conv::Same, "Full resynchronizations served to replicas."),
    ("sync_partial_ok", "sync_partial_ok_total", Counter, Conv::Same, "Partial resynchronizations accepted."),
    ("sync_partial_err", "sync_partial_err_total", Counter, Conv::Same, "Partial resynchronizations refused."),
    ("expired_keys", "expired_keys_total", Counter, Conv::Same, "Keys deleted on expiry."),
    ("evicted_keys", "evicted_keys_total", Counter, Conv::Same, "Keys evicted by maxmemory."),
    ("evicted_clients", "evicted_clients_total", Counter, Conv::Same, "Clients evicted by maxmemory-clients."),
    ("keyspace_hits", "keyspace_hits_total", Counter, Conv::Same, "Successful key lookups."),
    ("keyspace_misses", "keyspace_misses_total", Counter, Conv::Same, "Failed key lookups."),
    ("pubsub_channels", "pubsub_channels", Gauge, Conv::Same, "Channels with subscribers."),
    ("pubsub_patterns", "pubsub_patterns", Gauge, Conv::Same, "Patterns with subscribers."),
    ("total_error_replies", "error_replies_total", Counter, Conv::Same, "Error replies sent."),
    ("expire_cycle_cpu_milliseconds", "expire_cycle_cpu_seconds_total", Counter, Conv::Ms, "CPU time of the active expiry cycle."),
    // Replication
    ("connected_slaves", "connected_replicas", Gauge, Conv::Same, "Replicas attached to this server."),
    ("master_repl_offset", "master_repl_offset_bytes", Gauge, Conv::Same, "Replication offset of this server's stream."),
    ("repl_backlog_size", "repl_backlog_size_bytes", Gauge, Conv::Same, "The repl-backlog-size setting."),
    ("repl_backlog_histlen", "repl_backlog_history_bytes", Gauge, Conv::Same, "Bytes held in the backlog."),
    ("master_link_status", "master_link_up", Gauge, Conv::Up, "On a replica: 1 while the link to its master is up."),
    ("master_last_io_seconds_ago", "master_last_io_seconds", Gauge, Conv::Same, "On a replica: seconds since the last byte from its master."),
    ("master_sync_in_progress", "master_sync_in_progress", Gauge, Conv::Same, "On a replica: 1 while a full sync is loading."),
    ("master_link_down_since_seconds", "master_link_down_seconds", Gauge, Conv::Same, "On a replica: seconds the link has been down."),
    ("slave_repl_offset", "replica_repl_offset_bytes", Gauge, Conv::Same, "On a replica: the offset applied from its master."),
    ("slave_priority", "replica_priority", Gauge, Conv::Same, "On a replica: replica-priority."),
    // CPU
    ("used_cpu_sys", "cpu_sys_seconds_total", Counter, Conv::Same, "System CPU time of the process."),
    ("used_cpu_user", "cpu_user_seconds_total", Counter, Conv::Same, "User CPU time of the process."),
    // Sentinel
    ("sentinel_masters", "sentinel_masters", Gauge, Conv::Same, "Masters monitored by this Sentinel."),
    ("sentinel_tilt", "sentinel_tilt", Gauge, Conv::Same, "1 while this Sentinel is in TILT mode."),
    ("sentinel_tilt_since_seconds", "sentinel_tilt_since_seconds", Gauge, Conv::Same, "Seconds in TILT mode (-1: not in TILT)."),
    ("sentinel_running_scripts", "sentinel_running_scripts", Gauge, Conv::Same, "Notification and reconfig scripts running."),
    ("sentinel_scripts_queue_length", "sentinel_scripts_queue_length", Gauge, Conv::Same, "Scripts waiting to run."),
    ("sentinel_simulate_failure_flags", "sentinel_simulate_failure_flags", Gauge, Conv::Same, "SENTINEL SIMULATE-FAILURE flags."),
];

/// What a Sentinel adds to its INFO text.
#[derive(Default, Debug)]
pub struct SentinelView {
    /// SENTINEL MASTERS, one map of fields per master.
    pub masters: Vec<BTreeMap<String, String>>,
    pub current_epoch: u64,
    /// Events published since startup, by type (`+sdown`, `+switch-master`...).
    pub events: BTreeMap<String, u64>,
    /// `+switch-master` events per master name: failovers this Sentinel saw complete.
    pub switches: BTreeMap<String, u64>,
}

struct Family {
    name: String,
    kind: Kind,
    help: &'static str,
    samples: Vec<(String, String)>,
}

/// Metric families in the order first added; each family's samples stay together, as the
/// text format requires.
#[derive(Default)]
struct Exposition {
    families: Vec<Family>,
}

impl Exposition {
    fn add(
        &mut self,
        name: &str,
        kind: Kind,
        help: &'static str,
        labels: &[(&str, &str)],
        value: f64,
    ) {
        let full = format!("redoubt_{name}");
        let i = match self.families.iter().position(|f| f.name == full) {
            Some(i) => i,
            None => {
                self.families.push(Family {
                    name: full,
                    kind,
                    help,
                    samples: Vec::new(),
                });
                self.families.len() - 1
            }
        };
        let mut l = String::new();
        if !labels.is_empty() {
            l.push('{');
            for (j, (k, v)) in labels.iter().enumerate() {
                if j > 0 {
                    l.push(',');
                }
                let _ = write!(l, "{k}=\"{}\"", escape_label(v));
            }
            l.push('}');
        }
        self.families[i].samples.push((l, format_value(value)));
    }

    fn render(&self) -> String {
        let mut s = String::with_capacity(8192);
        for f in &self.families {
            let _ = writeln!(s, "# HELP {} {}", f.name, escape_help(f.help));
            let _ = writeln!(s, "# TYPE {} {}", f.name, f.kind.as_str());
            for (labels, value) in &f.samples {
                let _ = writeln!(s, "{}{labels} {value}", f.name);
            }
        }
        s
    }
}

/// Label values escape backslash, double quote and newline (exposition format 0.0.4).
pub fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// `a=1,b=x` (INFO's sub-fields, as in `slave0:` and `db0:`), split at the first `=`.
fn subfields(v: &str) -> BTreeMap<&str, &str> {
    v.split(',').filter_map(|kv| kv.split_once('=')).collect()
}

fn num(v: &str) -> Option<f64> {
    v.trim().parse::<f64>().ok().filter(|x| x.is_finite())
}

/// Renders INFO text (any sections, CRLF lines) and, on a Sentinel, its view of the
/// monitored masters, as a Prometheus exposition.
pub fn render(info: &str, sentinel: Option<&SentinelView>) -> String {
    let mut x = Exposition::default();
    let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
    let mut lines = Vec::new();
    for line in info.split("\r\n").flat_map(|l| l.split('\n')) {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            fields.insert(k, v);
            lines.push((k, v));
        }
    }
    let get = |k: &str| fields.get(k).copied();

    let mut build = vec![
        ("redis_version", get("redis_version").unwrap_or("")),
        ("redoubt_version", get("redoubt_version").unwrap_or("")),
        ("mode", get("redis_mode").unwrap_or("")),
    ];
    if let Some(run_id) = get("run_id") {
        build.push(("run_id", run_id));
    }
    x.add(
        "build_info",
        Gauge,
        "Always 1; the labels say which server and version answered.",
        &build,
        1.0,
    );

    for &(field, name, kind, conv, help) in FIELDS {
        let Some(raw) = get(field) else { continue };
        let value = match conv {
            Conv::Ok => Some(f64::from(u8::from(raw == "ok"))),
            Conv::Up => Some(f64::from(u8::from(raw == "up"))),
            Conv::Same => num(raw),
            Conv::Ms => num(raw).map(|v| v / 1e3),
            Conv::Kib => num(raw).map(|v| v * 1024.0),
        };
        if let Some(v) = value {
            x.add(name, kind, help, &[], v);
        }
    }

    if let Some(role) = get("role") {
        for r in ["master", "slave"] {
            x.add(
                "role",
                Gauge,
                "1 for the role this server has now (INFO role: master or slave).",
                &[("role", r)],
                f64::from(u8::from(role == r)),
            );
        }
    }
    if let (Some(host), Some(port)) = (get("master_host"), get("master_port")) {
        let addr = format!("{host}:{port}");
        x.add(
            "master_info",
            Gauge,
            "On a replica: always 1, labelled with its master's address.",
            &[("master", &addr)],
            1.0,
        );
    }
    let master_offset = get("master_repl_offset").and_then(num);
    for (k, v) in &lines {
        per_line(&mut x, k, v, master_offset);
    }
    if let Some(s) = sentinel {
        sentinel_metrics(&mut x, &lines, s);
    }
    x.render()
}

/// Lines with sub-fields: replicas, databases, commands, errors.
fn per_line(x: &mut Exposition, k: &str, v: &str, master_offset: Option<f64>) {
    if let Some(n) = k.strip_prefix("slave").filter(|n| n.parse::<u32>().is_ok()) {
        let f = subfields(v);
        let addr = format!(
            "{}:{}",
            f.get("ip").unwrap_or(&""),
            f.get("port").unwrap_or(&"")
        );
        let state = f.get("state").copied().unwrap_or("");
        let labels = [("replica", n), ("addr", addr.as_str()), ("state", state)];
        if let Some(off) = f.get("offset").copied().and_then(num) {
            x.add(
                "connected_replica_offset_bytes",
                Gauge,
                "Replication offset each replica acknowledged (INFO slaveN offset).",
                &labels,
                off,
            );
            if let Some(m) = master_offset {
                x.add(
                    "connected_replica_lag_bytes",
                    Gauge,
                    "master_repl_offset minus the replica's acknowledged offset.",
                    &labels,
                    (m - off).max(0.0),
                );
            }
        }
        if let Some(lag) = f.get("lag").copied().and_then(num) {
            x.add(
                "connected_replica_lag_seconds",
                Gauge,
                "Seconds since each replica's last acknowledgement (INFO slaveN lag).",
                &labels,
                lag,
            );
        }
    } else if let Some(db) = k.strip_prefix("db").filter(|n| n.parse::<u32>().is_ok()) {
        let f = subfields(v);
        let labels = [("db", db)];
        if let Some(n) = f.get("keys").copied().and_then(num) {
            x.add("db_keys", Gauge, "Keys per database.", &labels, n);
        }
        if let Some(n) = f.get("expires").copied().and_then(num) {
            x.add(
                "db_keys_expiring",
                Gauge,
                "Keys with a time to live, per database.",
                &labels,
                n,
            );
        }
        if let Some(n) = f.get("avg_ttl").copied().and_then(num) {
            x.add(
                "db_avg_ttl_seconds",
                Gauge,
                "Average time to live of the keys sampled, per database.",
                &labels,
                n / 1e3,
            );
        }
    } else if let Some(cmd) = k.strip_prefix("cmdstat_") {
        let f = subfields(v);
        let labels = [("cmd", cmd)];
        if let Some(n) = f.get("calls").copied().and_then(num) {
            x.add("commands_total", Counter, "Calls per command.", &labels, n);
        }
        if let Some(n) = f.get("usec").copied().and_then(num) {
            x.add(
                "commands_duration_seconds_total",
                Counter,
                "Time spent per command.",
                &labels,
                n / 1e6,
            );
        }
        if let Some(n) = f.get("rejected_calls").copied().and_then(num) {
            x.add(
                "commands_rejected_calls_total",
                Counter,
                "Calls refused before running, per command.",
                &labels,
                n,
            );
        }
        if let Some(n) = f.get("failed_calls").copied().and_then(num) {
            x.add(
                "commands_failed_calls_total",
                Counter,
                "Calls that replied with an error, per command.",
                &labels,
                n,
            );
        }
    } else if let Some(err) = k.strip_prefix("errorstat_") {
        if let Some(n) = subfields(v).get("count").copied().and_then(num) {
            x.add(
                "errors_total",
                Counter,
                "Error replies per error code.",
                &[("err", err)],
                n,
            );
        }
    }
}

fn sentinel_metrics(x: &mut Exposition, lines: &[(&str, &str)], s: &SentinelView) {
    x.add(
        "sentinel_current_epoch",
        Gauge,
        "This Sentinel's current epoch.",
        &[],
        s.current_epoch as f64,
    );
    for (k, v) in lines {
        if k.strip_prefix("master")
            .and_then(|n| n.parse::<u32>().ok())
            .is_none()
        {
            continue;
        }
        let f = subfields(v);
        let name = f.get("name").copied().unwrap_or("");
        let address = f.get("address").copied().unwrap_or("");
        let status = f.get("status").copied().unwrap_or("");
        for st in ["ok", "sdown", "odown"] {
            x.add(
                "sentinel_master_status",
                Gauge,
                "1 for the master's status as this Sentinel sees it (ok, sdown or odown).",
                &[("master", name), ("address", address), ("status", st)],
                f64::from(u8::from(status == st)),
            );
        }
        let labels = [("master", name)];
        if let Some(n) = f.get("slaves").copied().and_then(num) {
            x.add(
                "sentinel_master_replicas",
                Gauge,
                "Replicas known for the master.",
                &labels,
                n,
            );
        }
        if let Some(n) = f.get("sentinels").copied().and_then(num) {
            x.add(
                "sentinel_master_sentinels",
                Gauge,
                "Sentinels monitoring the master, this one included.",
                &labels,
                n,
            );
        }
    }
    let mut names: Vec<&str> = Vec::new();
    for m in &s.masters {
        let Some(name) = m.get("name") else { continue };
        names.push(name);
        let labels = [("master", name.as_str())];
        if let Some(q) = m.get("quorum").and_then(|v| num(v)) {
            x.add(
                "sentinel_master_quorum",
                Gauge,
                "Sentinels that must agree the master is down.",
                &labels,
                q,
            );
        }
        let in_progress = m
            .get("flags")
            .is_some_and(|f| f.split(',').any(|w| w == "failover_in_progress"));
        x.add(
            "sentinel_master_failover_in_progress",
            Gauge,
            "1 while a failover of the master is in progress.",
            &labels,
            f64::from(u8::from(in_progress)),
        );
        if let Some(e) = m.get("config-epoch").and_then(|v| num(v)) {
            x.add(
                "sentinel_master_config_epoch",
                Gauge,
                "The epoch of the master's current configuration.",
                &labels,
                e,
            );
        }
        if let Some(ms) = m.get("down-after-milliseconds").and_then(|v| num(v)) {
            x.add(
                "sentinel_master_down_after_seconds",
                Gauge,
                "down-after-milliseconds, in seconds.",
                &labels,
                ms / 1e3,
            );
        }
    }
    // Every monitored master has a series from the start, so rate() sees the first failover.
    let mut switches: BTreeMap<&str, u64> = names.iter().map(|n| (*n, 0)).collect();
    for (name, n) in &s.switches {
        switches.insert(name, *n);
    }
    for (name, n) in switches {
        x.add(
            "sentinel_master_failovers_total",
            Counter,
            "Failovers of the master this Sentinel saw complete (+switch-master events).",
            &[("master", name)],
            n as f64,
        );
    }
    for (event, n) in &s.events {
        x.add(
            "sentinel_events_total",
            Counter,
            "Events this Sentinel published, by type.",
            &[("event", event)],
            *n as f64,
        );
    }
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
