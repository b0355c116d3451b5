//! Result rows, their medians and spreads, and the printed table and goal lines.
//! Ratios are taken round by round (see `common/rounds.rs` for why).

use crate::rounds::{self, median};
use crate::session::{Pairing, BASELINE, SPINNING};

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
