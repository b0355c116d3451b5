//! Each scenario's verdict against an expected-failures list, with harmony's format and
//! rules (`harmony::expected`): the combination is `in-process`, every role runs on
//! platform `rust`, and a step that names no process (a broadcast) has the role `(all)`.

use harmony::expected::{self, ExpectedFailure, Verdict};
use harmony::failure::{RoleFailure, StepFailure};
use harmony_wire::selection::scenario_number;

use crate::outcomes::{Outcome, Status};

/// The combination name entries use for this runner.
pub const COMBINATION: &str = "in-process";
/// The platform of every role here.
pub const PLATFORM: &str = "rust";
/// The role of a step that names no process.
pub const BROADCAST_ROLE: &str = "(all)";

/// The counts of a run and one line for every scenario that did not simply pass.
#[derive(Debug, Default)]
pub struct Tally {
    pub passed: usize,
    pub failed: usize,
    pub xfail: usize,
    pub xpass: usize,
    pub lines: Vec<String>,
}

/// What failed in `outcome`, as harmony records it (none when it passed).
pub fn failure(outcome: &Outcome) -> Option<StepFailure> {
    match &outcome.status {
        Status::Passed => None,
        Status::Failed(f) => Some(StepFailure {
            step: f.step.clone(),
            index: None,
            roles: vec![RoleFailure::new(
                f.role.as_deref().unwrap_or(BROADCAST_ROLE),
                PLATFORM,
                f.error.clone(),
            )],
        }),
    }
}

pub fn judge(outcomes: &[Outcome], list: &[ExpectedFailure]) -> Tally {
    let mut tally = Tally::default();
    for outcome in outcomes {
        let number = scenario_number(&outcome.scenario).unwrap_or_default();
        let failure = failure(outcome);
        let name = &outcome.scenario;
        match expected::judge(list, COMBINATION, number, failure.as_ref()) {
            Verdict::Pass | Verdict::IntermittentPass(_) => tally.passed += 1,
            Verdict::Xpass(entry) => {
                tally.passed += 1;
                tally.xpass += 1;
                tally.lines.push(format!(
                    "XPASS {name}: listed as an expected failure ({}) but passed; remove \
                     entry {} (line {})",
                    entry.reason, entry.entry, entry.line
                ));
            }
            Verdict::Xfail(entries) => {
                tally.passed += 1;
                tally.xfail += 1;
                let reasons: Vec<&str> = entries.iter().map(|e| e.reason.as_str()).collect();
                tally
                    .lines
                    .push(format!("XFAIL {name}: {}", reasons.join("; ")));
            }
            Verdict::Fail => tally.failed += 1,
            Verdict::Different { expected, unpinned } => {
                tally.failed += 1;
                let step = failure.as_ref().map_or("", |f| f.step.as_str());
                tally.lines.push(format!(
                    "FAIL  {name}: {}",
                    expected::differently(&expected, &unpinned, step)
                ));
            }
        }
    }
    tally
}
