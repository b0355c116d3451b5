//! Result rows, their medians and spreads, and the printed table and goal lines.
//!
//! A ratio is the median over the rounds of (this row's time / the baseline's time in the same
//! round), not a ratio of two medians: on these shared machines the speed of the whole box
//! changes in phases lasting several rounds (seen: every pairing 5x slower for three rounds,
//! then fast), and only times taken side by side in one round cancel that out.

use std::time::Duration;

use crate::session::{Pairing, BASELINE, SPINNING};

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

    fn seconds(&self) -> Vec<f64> {
        self.times.iter().map(Duration::as_secs_f64).collect()
    }

    fn is_baseline(&self) -> bool {
        self.pairing == BASELINE
    }
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// (max − min) / median.
fn spread(values: &[f64]) -> f64 {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (max - min) / median(values)
}

/// `row`'s time over the baseline's, round by round, if the case has a baseline.
fn round_ratios(row: &Row, rows: &[Row]) -> Option<Vec<f64>> {
    let base = rows
        .iter()
        .find(|r| r.case == row.case && r.is_baseline())?;
    let ratios = row
        .seconds()
        .iter()
        .zip(base.seconds())
        .map(|(ours, bare)| ours / bare)
        .collect();
    Some(ratios)
}

fn ratio(row: &Row, rows: &[Row]) -> Option<f64> {
    round_ratios(row, rows).map(|r| median(&r))
}

pub fn print_header() {
    println!(
        "{:<16} {:<16} {:>9} {:>10} {:>8} {:>7} {:>7}",
        "case", "pairing", "frames", "median ms", "GiB/s", "ratio", "spread"
    );
    println!(
        "(ratio: median of the per-round ratios to bare -> bare; spread: (max - min) / median \
         of those ratios, or of the baseline's own times)"
    );
}

/// One line per row: throughput of payload bytes, ratio to the baseline, spread of the rounds.
pub fn print_rows(rows: &[Row]) {
    for row in rows {
        let secs = median(&row.seconds());
        let (ratio, spread) = match round_ratios(row, rows) {
            Some(r) if !row.is_baseline() => (format!("{:.2}x", median(&r)), spread(&r)),
            _ => ("-".into(), spread(&row.seconds())),
        };
        println!(
            "{:<16} {:<16} {:>9} {:>10.3} {:>8.2} {:>7} {:>6.0}%",
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

/// A goal line per non-baseline row, and a count of the goals met. The goal holds the
/// blocking library to the bare protocol; the spinning row has none, it shows the gain.
/// Nothing asserts on these.
pub fn print_goals(rows: &[Row]) {
    let (mut goals, mut met) = (0, 0);
    for row in rows.iter().filter(|r| !r.is_baseline()) {
        let Some(r) = ratio(row, rows) else { continue };
        if row.pairing == SPINNING {
            println!(
                "{} {}: ratio {r:.2} (no goal: below 1 is faster than the blocking protocol)",
                row.case, row.pairing.label
            );
            continue;
        }
        goals += 1;
        let verdict = if r <= GOAL {
            met += 1;
            "met"
        } else {
            "NOT met"
        };
        println!(
            "{} {}: ratio {r:.2} (goal ≤ {GOAL:.2}: {verdict}, informational)",
            row.case, row.pairing.label
        );
    }
    println!("goal ≤ {GOAL:.2}x met by {met} of {goals} blocking rows");
}
