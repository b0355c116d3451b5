//! Percentiles of the samples and the table they are printed in.

use crate::CASES;

pub struct Stats {
    pub n: usize,
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
    pub mean: f64,
    pub max: f64,
}

impl Stats {
    /// Nearest-rank percentiles of samples in nanoseconds, reported in µs.
    pub fn of(samples: &mut [u64]) -> Stats {
        samples.sort_unstable();
        let n = samples.len();
        let us = |ns: u64| ns as f64 / 1000.0;
        let rank = |p: f64| {
            let r = (p * n as f64).ceil() as usize;
            us(samples[r.clamp(1, n) - 1])
        };
        Stats {
            n,
            p50: rank(0.50),
            p99: rank(0.99),
            p999: rank(0.999),
            mean: samples.iter().map(|&s| s as f64).sum::<f64>() / n as f64 / 1000.0,
            max: us(samples[n - 1]),
        }
    }
}

pub fn print_table(stats: &[Stats]) {
    println!(
        "{:<14} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "case", "n", "p50 µs", "p99 µs", "p99.9 µs", "mean µs", "max µs", "p50/floor"
    );
    let floor = stats.first().map_or(f64::NAN, |s| s.p50);
    for (case, s) in CASES.iter().zip(stats) {
        println!(
            "{:<14} {:>7} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.2}x",
            case.label,
            s.n,
            s.p50,
            s.p99,
            s.p999,
            s.mean,
            s.max,
            s.p50 / floor
        );
    }
}
