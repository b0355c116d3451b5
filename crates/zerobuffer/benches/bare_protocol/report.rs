//! Result rows, their medians and spreads, and the printed table and goal lines.
//! Ratios are taken round by round (see `common/rounds.rs` for why).

use crate::rounds::{self, median};
use crate::session::{Pairing, BASELINE, SPINNING};
use crate::sleeps::Sleeps;

/// The informational goal: at most 10% slower than the bare protocol.
const GOAL: f64 = 1.10;

/// The times of one pairing in one case (frame size and mode), one per round.
pub type Row = rounds::Row<Pairing>;

fn ratio(row: &Row, rows: &[Row]) -> Option<f64> {
    row.ratios(rows, BASELINE).map(|r| median(&r))
}

/// The table's shape; its ratios are to the bare protocol on both ends.
const TABLE: rounds::Table = rounds::Table {
    case_width: 23,
    pairing_width: 16,
    ratio_digits: 2,
    baseline: "bare -> bare",
};

pub fn print_header() {
    TABLE.print_header();
}

pub fn print_rows(rows: &[Row]) {
    TABLE.print_rows(rows, BASELINE);
}

/// A goal line per non-baseline row, and a count of the goals met. The goal holds the
/// blocking library to the bare protocol; the spinning row has none, it shows the gain.
/// Nothing asserts on these.
pub fn print_goals(rows: &[Row]) {
    let (mut goals, mut met) = (0, 0);
    for row in rows {
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

/// One pairing's sleeps per 1000 frames, reader and writer, one pair per round.
pub struct SleepRow {
    pub pairing: Pairing,
    reader: Vec<f64>,
    writer: Vec<f64>,
}

impl SleepRow {
    pub fn new(pairing: Pairing) -> SleepRow {
        SleepRow {
            pairing,
            reader: Vec::new(),
            writer: Vec::new(),
        }
    }

    /// Records one round's `sleeps` over a job of `frames` frames.
    pub fn add(&mut self, sleeps: Sleeps, frames: u64) {
        let per_kilo = |n: u64| n as f64 * 1000.0 / frames.max(1) as f64;
        self.reader.push(per_kilo(sleeps.reader));
        self.writer.push(per_kilo(sleeps.writer));
    }
}

/// One line under a case's rows: how often each side slept, median and range of the rounds.
/// Each job also costs the writer one sleep of its own: waiting on its stdin for the next.
pub fn print_sleeps(rows: &[SleepRow]) {
    let range = |v: &[f64]| {
        let min = v.iter().copied().fold(f64::INFINITY, f64::min);
        let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        format!("{:.1} ({min:.1}-{max:.1})", median(v))
    };
    let cells: Vec<String> = rows
        .iter()
        .filter(|r| !r.reader.is_empty())
        .map(|r| {
            format!(
                "{}: r {} w {}",
                r.pairing.label,
                range(&r.reader),
                range(&r.writer)
            )
        })
        .collect();
    if !cells.is_empty() {
        println!("  sleeps per 1000 frames: {}", cells.join("; "));
    }
}
