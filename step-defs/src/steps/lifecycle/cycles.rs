//! 11.1: rapid create/destroy cycles of one buffer name.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, ensure, Result};
use cucumber::{given, then, when};
use zerobuffer::{BufferConfig, Reader};

use crate::captures::Number;
use crate::drivers::endpoints::round_trip;
use crate::drivers::explain::Explain as _;
use crate::drivers::os::{check_fds, mappings_of, open_fds, paths_with_csharp_lock};
use crate::drivers::roles::{test_subject, TEST_PROCESS};
use crate::drivers::scale;
use crate::drivers::scale::MIN_CYCLES;
use crate::state::lifecycle::CycleReport;
use crate::world::{ProcessState, ZbWorld};

#[given(regex = r"^perform '([^']*)' iterations of:$")]
fn perform_iterations(world: &mut ZbWorld, count: Number<u64>) -> Result<()> {
    let count = scale::count(count.0, MIN_CYCLES)?;
    ensure!(count > 0, "at least one iteration is needed");
    test_subject(world)?.lifecycle.cycles.requested = Some(count);
    Ok(())
}

/// Closes the reader `process` owns (no one else may still use it).
fn destroy_reader(state: &mut ProcessState) -> Result<BufferConfig> {
    let reader = state
        .reader
        .take()
        .with_context(|| format!("the '{}' process has no buffer to destroy", state.name))?;
    let reader = Arc::try_unwrap(reader)
        .map_err(|_| anyhow!("the '{}' reader is still in use by other work", state.name))?;
    let config = reader.config();
    drop(reader);
    Ok(config)
}

#[when(regex = r"^the '([^']*)' process destroys buffer$")]
fn destroys_buffer(world: &mut ZbWorld, process: String) -> Result<()> {
    // "perform 'N' iterations of:" is broadcast before any process is named.
    let requested = match world.process(&process).lifecycle.cycles.requested.take() {
        Some(n) => Some(n),
        None => world
            .existing(TEST_PROCESS)
            .ok()
            .and_then(|s| s.lifecycle.cycles.requested.take()),
    };
    let state = world.process(&process);
    let name = state.buffer()?.to_owned();
    let config = destroy_reader(state)?;
    let iterations = requested.unwrap_or(1);
    let mut report = CycleReport {
        name: name.clone(),
        config,
        iterations,
        completed: 1,
        leaks: Vec::new(),
        lock_leftovers: Vec::new(),
        fds_before: open_fds()?.len(),
        fds_after: 0,
        mappings_after: 0,
    };
    report.check_after_destroy(1);
    let started = Instant::now();
    for i in 2..=iterations {
        let reader = Reader::create(&name, config)
            .with_context(|| format!("iteration {i} of {iterations}: creating '{name}'"))?;
        drop(reader);
        report.completed = i;
        report.check_after_destroy(i);
    }
    report.fds_after = open_fds()?.len();
    report.mappings_after = mappings_of(&paths_with_csharp_lock(&name))?.len();
    tracing::info!(
        buffer = %name,
        cycles = iterations,
        elapsed = ?started.elapsed(),
        "create/destroy cycles done"
    );
    state.lifecycle.cycles.report = Some(report);
    Ok(())
}

fn cycle_report(world: &mut ZbWorld) -> Result<&mut CycleReport> {
    world
        .current()?
        .lifecycle
        .cycles
        .report
        .as_mut()
        .context("no buffer was destroyed in this scenario")
}

#[then(regex = r"^no resource leaks should occur$")]
fn no_resource_leaks_occur(world: &mut ZbWorld) -> Result<()> {
    let report = cycle_report(world)?;
    ensure!(
        report.leaks.is_empty(),
        "left behind: {}",
        report.leaks.join(", ")
    );
    check_fds(report.fds_before, report.fds_after)?;
    ensure!(
        report.mappings_after == 0,
        "{} mapping(s) of '{}' are still in place",
        report.mappings_after,
        report.name
    );
    Ok(())
}

#[then(regex = r"^lock files should be properly cleaned$")]
fn lock_files_cleaned(world: &mut ZbWorld) -> Result<()> {
    let report = cycle_report(world)?;
    report.check_after_destroy(report.completed);
    ensure!(
        report.lock_leftovers.is_empty(),
        "lock files left: {}",
        report.lock_leftovers.join(", ")
    );
    Ok(())
}

#[then(regex = r"^system should remain stable$")]
fn system_remains_stable(world: &mut ZbWorld) -> Result<()> {
    let report = cycle_report(world)?;
    ensure!(
        report.completed == report.iterations,
        "{} of {} cycles completed",
        report.completed,
        report.iterations
    );
    // After all those cycles the name must still work like new.
    round_trip(&report.name, report.config)
}
