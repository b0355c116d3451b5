//! Runs the plan (on `jobs` threads), printing one live line per scenario, and classifies
//! each outcome against the expected failures. A scenario with an undefined step (see
//! `harmony::undefined`) is UNDEFINED without a process being started; no expected failure
//! excuses it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use harmony::config::Platform;
use harmony::expected::{self, ExpectedFailure, Verdict};
use harmony::failure::{self, RoleFailure, RoleOutput, StepFailure};
use harmony::report::{self, Record, Status};
use harmony::scenario::{self, RunOptions};
use harmony::undefined::{undefined_steps, UndefinedStep};
use harmony_wire::Vocabulary;

use crate::plan::Item;

pub struct Outcome {
    pub records: Vec<Record>,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        report::failed(&self.records) == 0
    }
}

/// An item before it runs.
pub enum Prepared<'a> {
    /// It has to run, with this assignment; the record's status is not set yet.
    Runs(Record, &'a [(String, Platform)]),
    /// Decided already: SKIP with its reason, or UNDEFINED with its undefined steps.
    Decided(Record),
}

/// The record of `item` before it runs.
pub fn prepare(item: &Item) -> Prepared<'_> {
    let mut record = Record::new(
        &item.combination.name(),
        &item.platforms(),
        &item.scenario.feature,
        &item.scenario.name,
    );
    let assignment = match &item.assignment {
        Ok(a) => a,
        Err(reason) => {
            record.detail = reason.clone();
            return Prepared::Decided(record);
        }
    };
    record.assignment = assignment
        .iter()
        .map(|(r, p)| (r.clone(), p.name.clone()))
        .collect();
    let undefined = undefined_steps(&item.scenario.steps, Vocabulary::ours());
    if !undefined.is_empty() {
        mark_undefined(&mut record, item, undefined);
        return Prepared::Decided(record);
    }
    Prepared::Runs(record, assignment)
}

fn run_item(
    item: &Item,
    expected: &[ExpectedFailure],
    options: &RunOptions,
    verbose: bool,
) -> Record {
    let (mut record, assignment) = match prepare(item) {
        Prepared::Runs(record, assignment) => (record, assignment),
        Prepared::Decided(record) => return record,
    };
    let run = scenario::run(
        &item.scenario.steps,
        assignment,
        item.scenario.feature_id,
        options,
    );
    record.seconds = run.duration.as_secs_f64();
    if verbose {
        for end in &run.roles {
            eprintln!(
                "--- {}:{} stderr ---\n{}",
                end.platform, end.role, end.stderr
            );
        }
    }
    record.failure = run.failure.clone();
    if run.failure.is_some() {
        record.output = outputs(&run, options.stderr_lines);
    }
    classify(&mut record, expected, &run);
    record
}

/// What each process of a failed run printed (those that printed nothing left out).
fn outputs(run: &scenario::ScenarioRun, stderr_lines: usize) -> Vec<RoleOutput> {
    run.roles
        .iter()
        .map(|end| RoleOutput {
            role: end.role.clone(),
            platform: end.platform.clone(),
            stderr_tail: failure::tail(&end.stderr, stderr_lines),
            logs: end.logs.clone(),
        })
        .filter(|output| !output.is_empty())
        .collect()
}

/// Makes `record` UNDEFINED: one detail line per undefined step, and the first as the
/// failure, blamed on every role it is routed to (all of them for a broadcast).
fn mark_undefined(record: &mut Record, item: &Item, undefined: Vec<UndefinedStep>) {
    record.status = Status::Undefined;
    let lines: Vec<String> = undefined
        .iter()
        .map(|u| format!("undefined step: {:?}", u.step))
        .collect();
    record.detail = lines.join("\n");
    let first = &undefined[0];
    let index = item
        .scenario
        .steps
        .iter()
        .position(|s| s.text == first.step);
    let routed = index.map(|i| &item.scenario.steps[i]);
    let roles = record
        .assignment
        .iter()
        .filter(|(role, _)| {
            routed
                .and_then(|s| s.process.as_ref())
                .is_none_or(|p| p == role)
        })
        .map(|(role, platform)| RoleFailure::new(role, platform, first.message()))
        .collect();
    record.failure = Some(StepFailure {
        step: first.step.clone(),
        index,
        roles,
    });
    record.undefined = undefined;
}

/// Sets the status and detail of a finished run from the expected failures.
fn classify(record: &mut Record, expected: &[ExpectedFailure], run: &scenario::ScenarioRun) {
    let verdict = expected::judge(
        expected,
        &record.combination,
        &record.number,
        run.failure.as_ref(),
    );
    let message = run.outcome.as_ref().err().cloned().unwrap_or_default();
    let (status, detail) = match verdict {
        Verdict::Pass => (Status::Pass, String::new()),
        Verdict::IntermittentPass(entry) => (
            Status::Pass,
            format!("passed this time; intermittent failure: {}", entry.reason),
        ),
        Verdict::Xpass(entry) => (
            Status::Xpass,
            format!("listed as expected failure ({}) but passed", entry.reason),
        ),
        Verdict::Fail => (Status::Fail, format!("Scenario failed: {message}")),
        Verdict::Xfail(entries) => {
            let got = run
                .failure
                .as_ref()
                .map(|f| f.describe())
                .unwrap_or_default();
            let reasons: Vec<&str> = entries.iter().map(|e| e.reason.as_str()).collect();
            (
                Status::Xfail,
                format!("{} — got: {got}", reasons.join("; ")),
            )
        }
        Verdict::Different { expected, unpinned } => {
            let step = run.failure.as_ref().map_or("", |f| f.step.as_str());
            let first = expected::differently(&expected, &unpinned, step);
            (Status::Fail, format!("{first}\nScenario failed: {message}"))
        }
    };
    record.status = status;
    record.detail = detail;
}

pub fn execute(
    plan: &[Item],
    expected: &[ExpectedFailure],
    options: &RunOptions,
    jobs: usize,
    verbose: bool,
) -> Outcome {
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Record>>> = Mutex::new(vec![None; plan.len()]);
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(plan.len()).max(1) {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = plan.get(index) else {
                    return;
                };
                let record = run_item(item, expected, options, verbose);
                let mut results = results.lock().unwrap_or_else(|e| e.into_inner());
                println!("{}", record.live_line());
                if matches!(record.status, Status::Fail | Status::Undefined) {
                    for line in record.detail.lines() {
                        println!("      {line}");
                    }
                }
                results[index] = Some(record);
            });
        }
    });
    let records = results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .flatten()
        .collect();
    Outcome {
        records,
        elapsed: started.elapsed(),
    }
}
