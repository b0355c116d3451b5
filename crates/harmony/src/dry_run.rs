//! `--dry-run`: every selected scenario parsed, routed and checked against our vocabulary,
//! nothing started (no serve, no shared memory, no report written).
//!
//! One line per scenario run: DEFINED (it would run), UNDEFINED (with its undefined steps)
//! or SKIP (with the reason); then each distinct undefined step once with its nearest lines,
//! the count of undefined scenarios, the rule of the counts, and the closing line
//! `N passed, N failed, N skipped`, where passed = scenarios whose every step is defined,
//! failed = scenarios with an undefined step, skipped = scenarios skipped by their tags (or
//! that the combination cannot assign). Exit status 1 when a scenario is undefined, else 0.

use std::process::ExitCode;

use harmony::report::{self, Record, Status};
use harmony::undefined;
use harmony_wire::undefined::DRY_RUN_NOTE;
use harmony_wire::Vocabulary;

use crate::execute::{prepare, Prepared};
use crate::plan::Item;

/// The live line of a dry run's record.
fn line(record: &Record) -> String {
    let word = match record.status {
        Status::Pass => "DEFINED",
        other => other.word(),
    };
    let mut line = format!("{word:<9} {}", record.test_name());
    if record.status == Status::Skip {
        line.push_str(": ");
        line.push_str(&record.detail);
    }
    line
}

pub fn run(plan: &[Item]) -> ExitCode {
    println!(
        "dry run: {} scenario runs parsed and routed; nothing is started",
        plan.len()
    );
    let records: Vec<Record> = plan
        .iter()
        .map(|item| match prepare(item) {
            Prepared::Runs(mut record, _) => {
                record.status = Status::Pass;
                record
            }
            Prepared::Decided(record) => record,
        })
        .collect();
    for record in &records {
        println!("{}", line(record));
        if record.status == Status::Undefined {
            for detail in record.detail.lines() {
                println!("      {detail}");
            }
        }
    }
    let vocabulary = Vocabulary::ours();
    let undefined = undefined::collect(&records, vocabulary);
    println!();
    print!("{}", undefined.report(vocabulary));
    if let Some(count) = undefined.count_line() {
        println!("{count}");
    }
    println!("{DRY_RUN_NOTE}");
    println!("{}", report::summary_line(&records));
    if undefined.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
