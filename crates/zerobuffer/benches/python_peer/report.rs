//! Result rows, their medians and spreads, and the printed table. Nothing asserts on time.
//! Ratios are taken round by round (see `common/rounds.rs` for why).

use crate::rounds;
use crate::session::{Pairing, BASELINE};

/// The times of one pairing in one case, one per round.
pub type Row = rounds::Row<Pairing>;

/// The table's shape; its ratios are to the Python peer on both ends.
const TABLE: rounds::Table = rounds::Table {
    case_width: 11,
    pairing_width: 21,
    ratio_digits: 3,
    baseline: "python -> python, below 1 is faster",
};

pub fn print_header() {
    TABLE.print_header();
}

pub fn print_rows(rows: &[Row]) {
    TABLE.print_rows(rows, BASELINE);
}
