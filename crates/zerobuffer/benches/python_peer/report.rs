//! Result rows, their medians and spreads, and the printed table. Nothing asserts on time.
//! Ratios are taken round by round (see `common/rounds.rs` for why).

use crate::rounds::{self, median};
use crate::session::{Pairing, BASELINE};
use crate::svg;

/// The times of one pairing in one case, one per round.
pub type Row = rounds::Row<Pairing>;

/// The table's shape; its ratios are to the Python peer on both ends.
const TABLE: rounds::Table = rounds::Table {
    case_width: 11,
    pairing_width: 30,
    ratio_digits: 3,
    baseline: "python -> python, below 1 is faster",
};

pub fn print_header() {
    TABLE.print_header();
}

pub fn print_rows(rows: &[Row]) {
    TABLE.print_rows(rows, BASELINE);
}

/// `target/bench/python_peer.svg`: GiB/s of every pairing, grouped by frame size.
pub fn chart(cases: &[(&str, Vec<Row>)], version: &str) -> Result<(), Box<dyn std::error::Error>> {
    let groups: Vec<String> = cases.iter().map(|(label, _)| label.to_string()).collect();
    let series: Vec<svg::Series<Vec<Option<f64>>>> = crate::session::PAIRINGS
        .iter()
        .map(|pairing| svg::Series {
            name: pairing.label.to_owned(),
            values: cases
                .iter()
                .map(|(_, rows)| {
                    rows.iter()
                        .find(|r| r.pairing == *pairing && !r.times.is_empty())
                        .map(|r| r.bytes as f64 / (1u64 << 30) as f64 / median(&r.seconds()))
                })
                .collect(),
        })
        .collect();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let svg = svg::grouped_bars(
        "zerobuffer and the Python peer: throughput by frame size",
        &format!(
            "writer -> reader across processes ({cpus} CPUs), copy mode, median of the rounds; \
             the Python peer is zerobuffer-ipc {version}"
        ),
        "GiB/s (payload bytes)",
        &groups,
        &series,
    );
    println!("chart: {}", svg::write("python_peer.svg", &svg)?.display());
    Ok(())
}
