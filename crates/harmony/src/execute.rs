//! Runs the plan (on `jobs` threads), printing one live line per scenario, and classifies
//! each outcome against the expected failures.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use harmony::expected::{self, ExpectedFailure, Verdict};
use harmony::report::{Record, Status};
use harmony::scenario::{self, RunOptions};

use crate::plan::Item;

pub struct Outcome {
    pub records: Vec<Record>,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        !self.records.iter().any(|r| r.status == Status::Fail)
    }
}

fn run_item(
    item: &Item,
    expected: &[ExpectedFailure],
    options: &RunOptions,
    verbose: bool,
) -> Record {
    let number = item.scenario.number().unwrap_or_default().to_owned();
    let mut record = Record {
        combination: item.combination.name(),
        platforms: item.platforms(),
        feature: item.scenario.feature.clone(),
        scenario: item.scenario.name.clone(),
        number: number.clone(),
        status: Status::Skip,
        seconds: 0.0,
        assignment: Vec::new(),
        detail: String::new(),
        failure: None,
    };
    let assignment = match &item.assignment {
        Ok(a) => a,
        Err(reason) => {
            record.detail = reason.clone();
            return record;
        }
    };
    record.assignment = assignment
        .iter()
        .map(|(r, p)| (r.clone(), p.name.clone()))
        .collect();
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
    classify(&mut record, expected, &run);
    record
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
                if record.status == Status::Fail {
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
