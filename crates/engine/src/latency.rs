//! Per-command latency histograms for INFO latencystats.
//!
//! Redis 7.0 records each call's duration in nanoseconds into an HdrHistogram with a
//! lowest value of 1, a highest of 1e9 and 2 significant figures, and reports
//! `hdr_value_at_percentile` for p50, p99 and p99.9. We keep the same bucket layout, but
//! sparsely (a map from each bucket's lowest value to its count), so the reported values
//! are the ones Redis would print for the same durations: 3 us shows as `3.007`.

use std::collections::BTreeMap;

/// LATENCY_HISTOGRAM_MIN_VALUE / MAX_VALUE (nanoseconds).
const MIN_VALUE: u64 = 1;
const MAX_VALUE: u64 = 1_000_000_000;
/// 2 significant figures: 256 sub-buckets per bucket, half of them per power of two.
const SUB_BUCKET_COUNT: u64 = 256;
const SUB_BUCKET_HALF_COUNT_MAGNITUDE: u32 = 7;
const SUB_BUCKET_MASK: u64 = SUB_BUCKET_COUNT - 1;

/// The percentiles Redis reports by default (`latency-tracking-info-percentiles`).
pub const DEFAULT_PERCENTILES: [f64; 3] = [50.0, 99.0, 99.9];

/// A percentile's name in INFO: `%f` with trailing zeros trimmed (`trimDoubleString`).
fn percentile_name(p: f64) -> String {
    let s = format!("{p:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[derive(Debug, Default, Clone)]
pub struct LatencyHistogram {
    /// Lowest equivalent value of a bucket -> count.
    counts: BTreeMap<u64, u64>,
    total: u64,
}

fn bucket_index(v: u64) -> u32 {
    let pow2ceiling = 64 - (v | SUB_BUCKET_MASK).leading_zeros();
    pow2ceiling - (SUB_BUCKET_HALF_COUNT_MAGNITUDE + 1)
}

/// The smallest value sharing `v`'s bucket (`lowest_equivalent_value`).
fn lowest_equivalent(v: u64) -> u64 {
    let b = bucket_index(v);
    (v >> b) << b
}

/// The largest value sharing `v`'s bucket (`highest_equivalent_value`).
fn highest_equivalent(v: u64) -> u64 {
    let b = bucket_index(v);
    let sub = v >> b;
    let adjusted = if sub >= SUB_BUCKET_COUNT { b + 1 } else { b };
    lowest_equivalent(v) + (1u64 << adjusted) - 1
}

impl LatencyHistogram {
    /// Records one duration in nanoseconds, clamped to the histogram's range as Redis's
    /// `updateCommandLatencyHistogram` does.
    pub fn record(&mut self, ns: u64) {
        let v = ns.clamp(MIN_VALUE, MAX_VALUE);
        *self.counts.entry(lowest_equivalent(v)).or_insert(0) += 1;
        self.total += 1;
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// `hdr_value_at_percentile`: the highest value of the first bucket whose cumulative
    /// count reaches the percentile's share of all samples.
    pub fn value_at_percentile(&self, percentile: f64) -> u64 {
        let p = percentile.min(100.0);
        let wanted = ((p / 100.0 * self.total as f64) + 0.5) as u64;
        let wanted = wanted.max(1);
        let mut seen = 0;
        for (&lowest, &n) in &self.counts {
            seen += n;
            if seen >= wanted {
                return if percentile == 0.0 {
                    lowest
                } else {
                    highest_equivalent(lowest)
                };
            }
        }
        0
    }

    /// The INFO latencystats value for the given percentiles:
    /// `p50=1.003,p99=1.003,p99.9=1.003` (microseconds).
    pub fn info_line(&self, percentiles: &[f64]) -> String {
        percentiles
            .iter()
            .map(|&p| {
                format!(
                    "p{}={:.3}",
                    percentile_name(p),
                    self.value_at_percentile(p) as f64 / 1000.0
                )
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_redis_hdr_buckets() {
        // Values observed from Redis 7.0.15 INFO latencystats for whole-microsecond calls.
        let cases = [
            (1, "1.003"),
            (2, "2.007"),
            (3, "3.007"),
            (4, "4.015"),
            (9, "9.023"),
            (26, "26.111"),
            (48, "48.127"),
            (239, "239.615"),
        ];
        for (us, want) in cases {
            let mut h = LatencyHistogram::default();
            h.record(us * 1000);
            assert_eq!(
                h.info_line(&DEFAULT_PERCENTILES),
                format!("p50={want},p99={want},p99.9={want}")
            );
        }
        let mut h = LatencyHistogram::default();
        h.record(0);
        assert_eq!(
            h.info_line(&DEFAULT_PERCENTILES),
            "p50=0.001,p99=0.001,p99.9=0.001"
        );
    }

    #[test]
    fn percentiles_pick_the_right_sample() {
        let mut h = LatencyHistogram::default();
        for us in [2, 3, 3] {
            h.record(us * 1000);
        }
        assert_eq!(
            h.info_line(&DEFAULT_PERCENTILES),
            "p50=3.007,p99=3.007,p99.9=3.007"
        );
        let mut h = LatencyHistogram::default();
        for us in 1..=100 {
            h.record(us * 1000);
        }
        assert_eq!(h.value_at_percentile(50.0), 50_175);
        assert_eq!(h.value_at_percentile(99.0), 99_327);
        assert_eq!(
            h.info_line(&[0.0, 100.0, 12.5]),
            "p0=1.000,p100=100.351,p12.5=13.055"
        );
        assert_eq!(h.info_line(&[]), "");
    }
}
