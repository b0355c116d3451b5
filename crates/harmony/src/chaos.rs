//! `harmony --chaos SEED`: a kill storm. Runs the selected scenarios, picked at random (from
//! SEED), each with one SIGKILL it does not ask for: a random role, just before a random step.
//! The scenario's own verdict does not matter (most fail, as they should once a process is
//! gone); what is counted is what must hold whatever happens:
//!
//! - every run ends in bounded time (`(steps + 3) × the step limit`; harmony kills a serve
//!   that exceeds the step limit, so a longer run is a hang of harmony's own);
//! - no process is left: each serve started is reaped, and at the end no process carries one
//!   of the storm's run ids in its environment (`HARMONY_HOST_PID`), grandchildren included;
//! - nothing is left in `/dev/shm` or the lock directories: what a killed process could not
//!   remove is removed by run id after each run (counted as remains), and at the end nothing
//!   with a storm's run id exists;
//! - no later scenario fails because of an earlier one: after the storm every selected
//!   scenario runs once more without kills, judged against the expected failures as usual.
//!
//! The closing line counts each storm run whose checks held, and each later run that passed,
//! as passed; a broken check or a later failure as failed.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use harmony::expected::ExpectedFailure;
use harmony::report::{self, Status};
use harmony::scenario::{self, ChaosKill, RunOptions};
use harmony::undefined::undefined_steps;
use harmony_wire::Vocabulary;

use crate::execute;
use crate::plan::Item;

/// What the storm measured.
#[derive(Debug, Default)]
struct Figures {
    runs: usize,
    /// SIGKILLs that met a running process.
    kills: usize,
    /// Runs whose kill met nothing: the run ended before the kill's step (a failure), or the
    /// role had already ended (a step ended it, or it died on its own).
    kills_missed: usize,
    hangs: usize,
    processes_left: usize,
    leaks: usize,
    /// Objects of killed processes, removed by run id after their run.
    remains_removed: usize,
    longest: Duration,
    /// Runs whose checks all held.
    sound: usize,
}

/// The items a kill can be aimed at: runnable, every step defined, at least one step.
fn targets(plan: &[Item]) -> Vec<&Item> {
    plan.iter()
        .filter(|item| {
            item.assignment.is_ok()
                && !item.scenario.steps.is_empty()
                && undefined_steps(&item.scenario.steps, Vocabulary::ours()).is_empty()
        })
        .collect()
}

/// Whether process `pid` still exists (a zombie counts: nobody reaped it).
fn exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Processes whose environment carries one of `host_pids` as `HARMONY_HOST_PID`.
fn processes_with_run_ids(host_pids: &BTreeSet<u32>) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
                return false;
            };
            environ.split(|&b| b == 0).any(|var| {
                std::str::from_utf8(var)
                    .ok()
                    .and_then(|v| v.strip_prefix("HARMONY_HOST_PID="))
                    .and_then(|v| v.parse::<u32>().ok())
                    .is_some_and(|id| host_pids.contains(&id))
            })
        })
        .collect()
}

/// One storm run: a kill, the run, its checks. Returns the run's host pid and suffix.
fn storm_run(
    item: &Item,
    options: &RunOptions,
    rng: &mut fastrand::Rng,
    figures: &mut Figures,
) -> (u32, String) {
    let assignment = item.assignment.as_ref().expect("targets are runnable");
    let steps = &item.scenario.steps;
    let kill = ChaosKill {
        before_step: rng.usize(0..steps.len()),
        role: assignment[rng.usize(0..assignment.len())].0.clone(),
    };
    let options = RunOptions {
        chaos_kill: Some(kill.clone()),
        remove_leftovers: true,
        ..options.clone()
    };
    let started = Instant::now();
    let run = scenario::run(steps, assignment, item.scenario.feature_id, &options);
    let took = started.elapsed();
    let suffix = format!("_{}_{}", run.host_pid, run.feature_id);
    let bound = options.step_timeout * (steps.len() as u32 + 3);
    let mut broken = Vec::new();
    if took > bound {
        figures.hangs += 1;
        broken.push(format!("took {took:?}, more than {bound:?}"));
    }
    let left: Vec<u32> = run
        .roles
        .iter()
        .map(|r| r.pid)
        .filter(|&p| exists(p))
        .collect();
    if !left.is_empty() {
        figures.processes_left += left.len();
        broken.push(format!("processes left: {left:?}"));
    }
    let leaked = harmony::leftovers::leftovers(&suffix);
    if !leaked.is_empty() {
        figures.leaks += leaked.len();
        broken.push(format!("left behind: {leaked:?}"));
    }
    figures.runs += 1;
    if run.chaos_killed {
        figures.kills += 1;
    } else {
        figures.kills_missed += 1;
    }
    figures.remains_removed += run.leftovers.len();
    figures.longest = figures.longest.max(took);
    let verdict = if run.outcome.is_ok() {
        "passed"
    } else {
        "failed"
    };
    println!(
        "{:>4} KILL {} before step {}{} | {} | {}: {verdict} in {:.1} s{}",
        figures.runs,
        kill.role,
        kill.before_step + 1,
        if run.chaos_killed {
            ""
        } else {
            " (met no running process)"
        },
        item.platforms(),
        item.scenario.name,
        took.as_secs_f64(),
        if broken.is_empty() {
            String::new()
        } else {
            format!(" -- BROKEN: {}", broken.join("; "))
        }
    );
    if broken.is_empty() {
        figures.sound += 1;
    }
    (run.host_pid, suffix)
}

/// The storm, the checks at its end, then every selected scenario once more.
pub fn run(
    plan: &[Item],
    expected: &[ExpectedFailure],
    options: &RunOptions,
    seed: u64,
    runs: usize,
    jobs: usize,
    verbose: bool,
) -> ExitCode {
    let targets = targets(plan);
    if targets.is_empty() {
        eprintln!("harmony: --chaos: no runnable scenario with steps among those selected");
        return ExitCode::from(2);
    }
    println!(
        "chaos: seed {seed}, {runs} runs over {} scenario runs",
        targets.len()
    );
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut figures = Figures::default();
    let mut host_pids = BTreeSet::new();
    let mut suffixes = Vec::new();
    for _ in 0..runs {
        let item = targets[rng.usize(0..targets.len())];
        let (host_pid, suffix) = storm_run(item, options, &mut rng, &mut figures);
        host_pids.insert(host_pid);
        suffixes.push(suffix);
    }
    let orphans = processes_with_run_ids(&host_pids);
    let remains: Vec<String> = suffixes
        .iter()
        .flat_map(|s| harmony::leftovers::leftovers(s))
        .collect();
    println!("\nafter the storm, every selected scenario once more, without kills:");
    let after = execute::execute(plan, expected, options, jobs, verbose);
    let later_failures = report::failed(&after.records);
    println!(
        "\nchaos figures: {} runs, {} kills ({} met no running process), {} hangs, \
         {} processes left ({} at the end), {} leaks ({} at the end), {} remains of killed \
         processes removed, longest run {:.1} s; later failures: {later_failures}",
        figures.runs,
        figures.kills,
        figures.kills_missed,
        figures.hangs,
        figures.processes_left,
        orphans.len(),
        figures.leaks,
        remains.len(),
        figures.remains_removed,
        figures.longest.as_secs_f64()
    );
    if !orphans.is_empty() {
        println!("processes still carrying a storm's run id: {orphans:?}");
    }
    if !remains.is_empty() {
        println!("left behind by the storm: {remains:?}");
    }
    let passed = figures.sound
        + report::count(&after.records, Status::Pass)
        + report::count(&after.records, Status::Xfail)
        + report::count(&after.records, Status::Xpass);
    let failed = (figures.runs - figures.sound) + later_failures + orphans.len() + remains.len();
    println!(
        "{passed} passed, {failed} failed, {} skipped",
        report::count(&after.records, Status::Skip)
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
