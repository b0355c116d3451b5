//! The undefined scenarios of a run (found by `scan` before anything runs), printed as
//! harmony prints them, and the dry run (`--dry-run`), which prints every selected scenario's
//! verdict and runs none.

use std::process::ExitCode;

use harmony_wire::undefined::DRY_RUN_NOTE;
use harmony_wire::{Undefined, Vocabulary};

use crate::scan::{Planned, Verdict};

/// Every undefined step of `planned`, with the kind it was used as.
pub fn collect(planned: &[Planned], vocabulary: &Vocabulary) -> Undefined {
    let mut undefined = Undefined::default();
    for p in planned {
        if let Verdict::Undefined(steps) = &p.verdict {
            let steps = steps
                .iter()
                .map(|(kind, text)| (Some(*kind), text.as_str()));
            undefined.add(vocabulary, &p.name, steps);
        }
    }
    undefined
}

/// `UNDEFINED Test N.M - …`, then one line per undefined step.
pub fn lines(planned: &Planned) -> Vec<String> {
    let Verdict::Undefined(steps) = &planned.verdict else {
        return Vec::new();
    };
    let mut lines = vec![format!("UNDEFINED {} (not run)", planned.name)];
    lines.extend(
        steps
            .iter()
            .map(|(kind, text)| format!("      undefined step: {} {text:?}", kind.keyword())),
    );
    lines
}

/// The block before the closing line: each distinct step, then the count.
pub fn print_report(undefined: &Undefined, vocabulary: &Vocabulary) {
    print!("{}", undefined.report(vocabulary));
    if let Some(count) = undefined.count_line() {
        println!("{count}");
    }
}

/// The dry run: a line per selected scenario (DEFINED, UNDEFINED with its steps, SKIPPED with
/// the reason), the undefined steps, the rule of the counts and the closing line; exit 1
/// when a scenario is undefined.
pub fn dry_run(planned: &[Planned], vocabulary: &Vocabulary) -> ExitCode {
    println!(
        "dry run: {} scenarios parsed and routed; nothing runs",
        planned.len()
    );
    let (mut defined, mut skipped) = (0, 0);
    for p in planned {
        match &p.verdict {
            Verdict::Run => {
                defined += 1;
                println!("DEFINED   {}", p.name);
            }
            Verdict::Skip(reason) => {
                skipped += 1;
                println!("SKIPPED   {}: {reason}", p.name);
            }
            Verdict::Undefined(_) => {
                for line in lines(p) {
                    println!("{line}");
                }
            }
        }
    }
    let undefined = collect(planned, vocabulary);
    println!();
    print_report(&undefined, vocabulary);
    println!("{DRY_RUN_NOTE}");
    println!(
        "{defined} passed, {} failed, {skipped} skipped",
        undefined.scenarios()
    );
    if undefined.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
