//! Result rows, their medians and spreads, and the printed table and goal lines.
//! Ratios are taken round by round (see `common/rounds.rs` for why).

use crate::rounds::{self, median, spread};
use crate::session::{Pairing, BASELINE, SPINNING};

const GIB: f64 = (1u64 << 30) as f64;
/// The informational goal: at most 10% slower than the bare protocol.
const GOAL: f64 = 1.10;

/// The times of one pairing in one case (frame size and mode), one per round.
pub type Row = rounds::Row<Pairing>;

fn round_ratios(row: &Row, rows: &[Row]) -> Option<Vec<f64>> {
    row.ratios(rows, BASELINE)
}

fn ratio(row: &Row, rows: &[Row]) -> Option<f64> {
    round_ratios(row, rows).map(|r| median(&r))
}

pub fn print_header() {
    println!(
        "{:<23} {:<16} {:>9} {:>10} {:>8} {:>7} {:>7}",
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
            Some(r) => (format!("{:.2}x", median(&r)), spread(&r)),
            _ => ("-".into(), spread(&row.seconds())),
        };
        println!(
            "{:<23} {:<16} {:>9} {:>10.3} {:>8.2} {:>7} {:>6.0}%",
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
