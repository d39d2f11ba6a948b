//! Server-wide counters reported by INFO stats.

#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub total_connections_received: u64,
    pub total_commands_processed: u64,
    pub rejected_connections: u64,
    pub expired_keys: u64,
    pub expired_stale_perc: f64,
    pub expired_time_cap_reached_count: u64,
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
    /// Error prefix (ERR, WRONGTYPE, ...) -> count, for INFO errorstats.
    pub errors: std::collections::BTreeMap<String, u64>,
}

impl Stats {
    pub fn count_error(&mut self, prefix: &str) {
        self.total_error_replies += 1;
        *self.errors.entry(prefix.to_string()).or_insert(0) += 1;
    }
}
