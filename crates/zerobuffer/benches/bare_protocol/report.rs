//! Result rows, their medians and spreads, and the printed table and goal lines. Every ratio
//! is a row's median time over the bare -> bare median of the same size and mode.

use std::time::Duration;

use crate::session::{Pairing, BASELINE};

const GIB: f64 = (1u64 << 30) as f64;
/// The informational goal: at most 10% slower than the bare protocol.
const GOAL: f64 = 1.10;

/// The times of one pairing in one case (frame size and mode), one per round.
pub struct Row {
    pub case: String,
    pub pairing: Pairing,
    pub frames: u64,
    pub bytes: u64,
    pub times: Vec<Duration>,
}

impl Row {
    pub fn new(case: &str, pairing: Pairing, frames: u64, len: usize) -> Row {
        Row {
            case: case.to_owned(),
            pairing,
            frames,
            bytes: frames * len as u64,
            times: Vec::new(),
        }
    }

    fn median(&self) -> Duration {
        let mut t = self.times.clone();
        t.sort();
        t.get(t.len() / 2).copied().unwrap_or_default()
    }

    /// (max − min) / median of the rounds.
    fn spread(&self) -> f64 {
        let min = self.times.iter().min().copied().unwrap_or_default();
        let max = self.times.iter().max().copied().unwrap_or_default();
        (max - min).as_secs_f64() / self.median().as_secs_f64()
    }

    fn is_baseline(&self) -> bool {
        self.pairing == BASELINE
    }
}

/// Median time of `row` over the baseline median of the same case, if there is one.
fn ratio(row: &Row, rows: &[Row]) -> Option<f64> {
    let base = rows
        .iter()
        .find(|r| r.case == row.case && r.is_baseline())?;
    Some(row.median().as_secs_f64() / base.median().as_secs_f64())
}

pub fn print_header() {
    println!(
        "{:<16} {:<16} {:>9} {:>10} {:>8} {:>7} {:>7}",
        "case", "pairing", "frames", "median ms", "GiB/s", "ratio", "spread"
    );
}

/// One line per row: throughput of payload bytes, ratio to the baseline, spread of the rounds.
pub fn print_rows(rows: &[Row]) {
    for row in rows {
        let secs = row.median().as_secs_f64();
        let ratio = match ratio(row, rows) {
            Some(r) if !row.is_baseline() => format!("{r:.2}x"),
            _ => "-".into(),
        };
        println!(
            "{:<16} {:<16} {:>9} {:>10.3} {:>8.2} {:>7} {:>6.0}%",
            row.case,
            row.pairing.label,
            row.frames,
            secs * 1e3,
            row.bytes as f64 / GIB / secs,
            ratio,
            row.spread() * 100.0,
        );
    }
}

/// A goal line per non-baseline row. Nothing asserts on these.
pub fn print_goals(rows: &[Row]) {
    for row in rows.iter().filter(|r| !r.is_baseline()) {
        let Some(r) = ratio(row, rows) else { continue };
        let met = if r <= GOAL { "met" } else { "NOT met" };
        println!(
            "{} {}: ratio {r:.2} (goal ≤ {GOAL:.2}: {met}, informational)",
            row.case, row.pairing.label
        );
    }
}
