//! Round-trip latencies, recorded per client and merged.

use std::time::Duration;

use hdrhistogram::Histogram;

/// A latency histogram in microseconds (1 µs to 60 s, 3 significant digits).
pub struct Latency(Histogram<u64>);

impl Latency {
    pub fn new() -> Self {
        Latency(Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds"))
    }

    pub fn record(&mut self, elapsed: Duration) {
        self.0.saturating_record(elapsed.as_micros() as u64);
    }

    pub fn merge(&mut self, other: &Latency) {
        self.0
            .add(&other.0)
            .expect("histograms with the same bounds");
    }

    /// The `quantile` (0.5 for the median) in milliseconds.
    pub fn millis(&self, quantile: f64) -> f64 {
        self.0.value_at_quantile(quantile) as f64 / 1000.0
    }

    /// "p50 1.2 ms, p99 4.5 ms".
    pub fn summary(&self) -> String {
        format!(
            "p50 {:.1} ms, p99 {:.1} ms",
            self.millis(0.5),
            self.millis(0.99)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_merged_histograms() {
        let mut a = Latency::new();
        let mut b = Latency::new();
        for ms in 1..=50 {
            a.record(Duration::from_millis(ms));
        }
        for ms in 51..=100 {
            b.record(Duration::from_millis(ms));
        }
        a.merge(&b);
        assert!((a.millis(0.5) - 50.0).abs() < 0.1);
        assert!((a.millis(0.99) - 99.0).abs() < 0.1);
        assert_eq!(a.summary(), "p50 50.0 ms, p99 99.0 ms");
    }
}
