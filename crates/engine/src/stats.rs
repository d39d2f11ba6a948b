//! Server-wide counters reported by INFO stats.

#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub total_connections_received: u64,
    /// Full syncs served, partial resyncs accepted and refused (INFO stats `sync_*`).
    pub sync_full: u64,
    pub sync_partial_ok: u64,
    pub sync_partial_err: u64,
    pub total_commands_processed: u64,
    pub rejected_connections: u64,
    pub expired_keys: u64,
    pub expired_stale_perc: f64,
    pub expired_time_cap_reached_count: u64,
    /// Time spent in the active expiry cycle (`expire_cycle_cpu_milliseconds`).
    pub expire_cycle_time_used_us: u64,
    pub evicted_keys: u64,
    pub evicted_clients: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub total_error_replies: u64,
    pub unexpected_error_replies: u64,
    pub total_net_input_bytes: u64,
    pub total_net_output_bytes: u64,
    pub dirty: u64,
    pub pubsub_messages: u64,
    pub total_reads_processed: u64,
    pub total_writes_processed: u64,
    pub io_threaded_reads_processed: u64,
    pub client_query_buffer_limit_disconnections: u64,
    pub client_output_buffer_limit_disconnections: u64,
    /// `used_memory_peak` (Redis's `stat_peak_memory`, reset by CONFIG RESETSTAT).
    pub peak_memory: u64,
    /// Error prefix (ERR, WRONGTYPE, ...) -> count, for INFO errorstats.
    pub errors: std::collections::BTreeMap<String, u64>,
    pub inst: InstMetrics,
}

impl Stats {
    pub fn count_error(&mut self, prefix: &str) {
        self.total_error_replies += 1;
        *self.errors.entry(prefix.to_string()).or_insert(0) += 1;
    }

    /// Redis updates the peak whenever it looks at memory (cron, INFO, MEMORY STATS).
    pub fn observe_memory(&mut self, used: u64) {
        self.peak_memory = self.peak_memory.max(used);
    }
}

/// Samples kept per metric (Redis's STATS_METRIC_SAMPLES).
const SAMPLES: usize = 16;
/// Redis samples every 100 ms (`run_with_period(100)` in serverCron).
const SAMPLE_PERIOD_MS: i64 = 100;

/// The metrics sampled for the `instantaneous_*` fields, in this order.
pub const INST_COMMANDS: usize = 0;
pub const INST_NET_INPUT: usize = 1;
pub const INST_NET_OUTPUT: usize = 2;
const METRICS: usize = 3;

/// Redis's `inst_metric`: a ring of per-second rates computed from successive readings.
#[derive(Debug, Default, Clone)]
pub struct InstMetrics {
    last_sample_ms: i64,
    last_readings: [u64; METRICS],
    samples: [[u64; SAMPLES]; METRICS],
    idx: usize,
}

impl InstMetrics {
    /// Records one sample of each metric if a sampling period has passed
    /// (`trackInstantaneousMetric`).
    pub fn sample(&mut self, now_ms: i64, readings: [u64; METRICS]) {
        if self.last_sample_ms == 0 {
            self.last_sample_ms = now_ms;
            self.last_readings = readings;
            return;
        }
        let t = now_ms - self.last_sample_ms;
        if t < SAMPLE_PERIOD_MS {
            return;
        }
        for (m, &reading) in readings.iter().enumerate() {
            let ops = reading.saturating_sub(self.last_readings[m]);
            self.samples[m][self.idx] = ops * 1000 / t as u64;
        }
        self.idx = (self.idx + 1) % SAMPLES;
        self.last_sample_ms = now_ms;
        self.last_readings = readings;
    }

    /// The mean of the samples (`getInstantaneousMetric`).
    pub fn get(&self, metric: usize) -> u64 {
        self.samples[metric].iter().sum::<u64>() / SAMPLES as u64
    }
}
