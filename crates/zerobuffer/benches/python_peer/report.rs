//! Result rows, their medians and spreads, and the printed table. Nothing asserts on time.
//! Ratios are taken round by round (see `common/rounds.rs` for why).

use crate::rounds::{self, median, spread};
use crate::session::{Pairing, BASELINE};

const GIB: f64 = (1u64 << 30) as f64;

/// The times of one pairing in one case, one per round.
pub type Row = rounds::Row<Pairing>;

pub fn print_header() {
    println!(
        "{:<11} {:<21} {:>9} {:>10} {:>8} {:>7} {:>7}",
        "case", "pairing", "frames", "median ms", "GiB/s", "ratio", "spread"
    );
    println!(
        "(ratio: median of the per-round time ratios to python -> python, below 1 is faster; \
         spread: (max - min) / median of those ratios, or of the baseline's own times)"
    );
}

/// One line per row: throughput of payload bytes, ratio to the baseline, spread of the rounds.
pub fn print_rows(rows: &[Row]) {
    for row in rows {
        let secs = median(&row.seconds());
        let (ratio, spread) = match row.ratios(rows, BASELINE) {
            Some(r) => (format!("{:.3}x", median(&r)), spread(&r)),
            _ => ("-".into(), spread(&row.seconds())),
        };
        println!(
            "{:<11} {:<21} {:>9} {:>10.3} {:>8.3} {:>7} {:>6.0}%",
            row.case,
            row.pairing.label,
            row.frames,
            secs * 1e3,
            row.bytes as f64 / GIB / secs,
            ratio,
            spread * 100.0,
        );
    }
}
