//! This runner's results page (`target/bdd/index.html`): harmony's page (`harmony::page`)
//! with one column, `in-process`. Each selected scenario becomes a `harmony::report::Record`:
//! a SKIP or UNDEFINED from the scan, the others from their outcome in the Cucumber JSON
//! report, judged against the expected failures as `verdicts` judges them.

use std::path::Path;
use std::time::Duration;

use harmony::expected::{self, ExpectedFailure, Verdict};
use harmony::failure::{RoleFailure, StepFailure};
use harmony::features::Scenario as Routed;
use harmony::page::Page;
use harmony::report::{Record, Status};
use harmony::undefined::UndefinedStep;
use harmony_wire::{nearest, Vocabulary};

use crate::outcomes::{self, Outcome};
use crate::scan::{self, Planned};
use crate::verdicts::{self, BROADCAST_ROLE, COMBINATION, PLATFORM};

/// The record of every scenario of `planned`, in their order.
pub fn records(
    planned: &[Planned],
    outcomes: &[Outcome],
    list: &[ExpectedFailure],
    routed: &[Routed],
    vocabulary: &Vocabulary,
) -> Vec<Record> {
    planned
        .iter()
        .map(|p| {
            let routed = routed.iter().find(|r| r.name == p.name);
            let mut record = blank(p, routed);
            match &p.verdict {
                scan::Verdict::Skip(reason) => record.detail = (*reason).to_owned(),
                scan::Verdict::Undefined(steps) => {
                    let texts = steps.iter().map(|(_, text)| text.as_str());
                    undefined(&mut record, texts, routed, vocabulary);
                }
                scan::Verdict::Run => match outcomes.iter().find(|o| o.scenario == p.name) {
                    Some(outcome) => {
                        record.seconds = Duration::from_nanos(outcome.nanos).as_secs_f64();
                        judge(&mut record, outcome, list);
                    }
                    None => {
                        record.status = Status::Fail;
                        "no result in the Cucumber JSON report".clone_into(&mut record.detail);
                    }
                },
            }
            record
        })
        .collect()
}

/// Writes the page of `records` to `path`.
pub fn write(path: &Path, records: &[Record]) {
    let html = harmony::page::render(&Page {
        title: "in-process runner (cargo test -p zerobuffer-steps --test bdd)",
        records,
        baseline: None,
    });
    if let Err(e) = std::fs::write(path, html) {
        eprintln!("bdd: cannot write {}: {e}", path.display());
    }
}

/// A SKIP record of `planned`, every role on [`PLATFORM`].
fn blank(planned: &Planned, routed: Option<&Routed>) -> Record {
    let feature = routed.map_or(planned.feature.as_str(), |r| r.feature.as_str());
    Record {
        assignment: routed
            .map(|r| {
                r.roles
                    .iter()
                    .map(|role| (role.clone(), PLATFORM.to_owned()))
            })
            .into_iter()
            .flatten()
            .collect(),
        ..Record::new(COMBINATION, PLATFORM, feature, &planned.name)
    }
}

/// Makes `record` UNDEFINED with its undefined `steps`; the first is the failure, on the
/// role it runs as.
fn undefined<'a>(
    record: &mut Record,
    steps: impl Iterator<Item = &'a str>,
    routed: Option<&Routed>,
    vocabulary: &Vocabulary,
) {
    record.status = Status::Undefined;
    record.undefined = steps
        .map(|step| UndefinedStep {
            step: step.to_owned(),
            nearest: nearest::nearest(vocabulary, step),
        })
        .collect();
    let lines: Vec<String> = record
        .undefined
        .iter()
        .map(|u| format!("undefined step: {:?}", u.step))
        .collect();
    record.detail = lines.join("\n");
    record.failure = record.undefined.first().map(|first| {
        let role = routed
            .and_then(|r| r.steps.iter().find(|s| s.text == first.step))
            .and_then(|s| s.process.clone());
        StepFailure {
            step: first.step.clone(),
            index: None,
            roles: vec![RoleFailure::new(
                role.as_deref().unwrap_or(BROADCAST_ROLE),
                PLATFORM,
                first.message(),
            )],
        }
    });
}

/// Sets the status and detail of a scenario that ran, from the expected failures.
fn judge(record: &mut Record, outcome: &Outcome, list: &[ExpectedFailure]) {
    let failure = verdicts::failure(outcome);
    let error = match &outcome.status {
        outcomes::Status::Failed(f) => format!("step {:?} failed: {}", f.step, f.error),
        outcomes::Status::Passed => String::new(),
    };
    let verdict = expected::judge(list, COMBINATION, &record.number, failure.as_ref());
    (record.status, record.detail) = match verdict {
        Verdict::Pass => (Status::Pass, String::new()),
        Verdict::IntermittentPass(entry) => (
            Status::Pass,
            format!("passed this time; intermittent failure: {}", entry.reason),
        ),
        Verdict::Xpass(entry) => (
            Status::Xpass,
            format!(
                "listed as expected failure ({}) but passed; remove entry {} (line {})",
                entry.reason, entry.entry, entry.line
            ),
        ),
        Verdict::Xfail(entries) => {
            let reasons: Vec<&str> = entries.iter().map(|e| e.reason.as_str()).collect();
            let got = failure
                .as_ref()
                .map(StepFailure::describe)
                .unwrap_or_default();
            (
                Status::Xfail,
                format!("{} — got: {got}", reasons.join("; ")),
            )
        }
        Verdict::Fail => (Status::Fail, error),
        Verdict::Different { expected, unpinned } => {
            let step = failure.as_ref().map_or("", |f| f.step.as_str());
            let first = expected::differently(&expected, &unpinned, step);
            (Status::Fail, format!("{first}\n{error}"))
        }
    };
    record.failure = failure;
}
