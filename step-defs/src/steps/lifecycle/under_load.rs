//! 11.5: create/destroy cycles while a writer keeps trying to connect.

use std::thread;
use std::time::Duration;

use anyhow::{ensure, Result};
use cucumber::{given, then, when};
use zerobuffer::{Error, Reader, Writer};

use crate::captures::Number;
use crate::drivers::endpoints::{round_trip, DEFAULT_CONFIG};
use crate::drivers::explain::Explain as _;
use crate::drivers::os::{check_fds, leftovers, mappings_of, open_fds, paths_with_csharp_lock};
use crate::drivers::roles::test_subject;
use crate::drivers::scale;
use crate::drivers::scale::MIN_CYCLES;
use crate::state::lifecycle::{ConnectorStats, UnderLoad};
use crate::world::{ZbWorld, JOIN_TIMEOUT};

const CONNECTOR_JOB: &str = "connector";
const LOAD_BUFFER: &str = "test-rapid-load";

#[given(regex = r"^the test spawns writer attempting connections continuously$")]
fn spawn_connecting_writer(world: &mut ZbWorld) -> Result<()> {
    let name = world.buffer_name(LOAD_BUFFER);
    let state = test_subject(world)?;
    let load = &mut state.lifecycle.under_load;
    load.name = Some(name.clone());
    load.fds_before = open_fds()?.len();
    state.jobs.spawn(CONNECTOR_JOB, move |stop| {
        let mut stats = ConnectorStats::default();
        while !stop.is_set() {
            stats.attempts += 1;
            match Writer::connect(&name) {
                Ok(mut writer) => {
                    stats.connected += 1;
                    writer.set_write_timeout(Duration::from_millis(100));
                    match writer.write_frame(b"load") {
                        Ok(_) => stats.frames_written += 1,
                        Err(Error::ReaderDead) => stats.refused("reader gone while writing"),
                        Err(e) => stats.unexpected(format!("write: {e}")),
                    }
                }
                Err(Error::BufferNotFound { .. }) => stats.refused("not found"),
                Err(Error::NoReader(_)) => stats.refused("no reader"),
                // A segment caught between creation and initialisation.
                Err(Error::InvalidOieb(_)) => stats.refused("not initialised yet"),
                Err(e) => stats.unexpected(format!("connect: {e}")),
            }
            thread::yield_now();
        }
        Ok(stats)
    })
}

#[when(regex = r"^the test creates and destroys buffer '([^']*)' times$")]
fn creates_and_destroys_times(world: &mut ZbWorld, count: Number<u64>) -> Result<()> {
    let cycles = scale::count(count.0, MIN_CYCLES)?;
    let default_name = world.buffer_name(LOAD_BUFFER);
    let state = test_subject(world)?;
    let name = state
        .lifecycle
        .under_load
        .name
        .get_or_insert(default_name)
        .clone();
    let mut leaks = Vec::new();
    let mut lock_leftovers = Vec::new();
    for i in 1..=cycles {
        let reader = Reader::create(&name, DEFAULT_CONFIG)
            .with_context(|| format!("cycle {i} of {cycles}: creating '{name}'"))?;
        drop(reader);
        for path in leftovers(&name) {
            let entry = format!("{path} after cycle {i}");
            match path.ends_with(".lock") {
                true => lock_leftovers.push(entry),
                false => leaks.push(entry),
            }
        }
    }
    // The load ends with the cycles; what it saw is judged later.
    let stats = match state.jobs.is_running(CONNECTOR_JOB) {
        true => {
            state.jobs.request_stop(CONNECTOR_JOB)?;
            Some(
                state
                    .jobs
                    .join::<ConnectorStats>(CONNECTOR_JOB, JOIN_TIMEOUT)?,
            )
        }
        false => None,
    };
    let load = &mut state.lifecycle.under_load;
    load.config = Some(DEFAULT_CONFIG);
    load.cycles = cycles;
    load.leaks = leaks;
    load.lock_leftovers = lock_leftovers;
    load.fds_after = open_fds()?.len();
    load.mappings_after = mappings_of(&paths_with_csharp_lock(&name))?.len();
    load.stats = stats;
    Ok(())
}

fn under_load(world: &mut ZbWorld) -> Result<&mut UnderLoad> {
    let load = &mut test_subject(world)?.lifecycle.under_load;
    ensure!(load.cycles > 0, "no create/destroy cycles ran");
    Ok(load)
}

#[then(regex = r"^the test should verify no resource leaks$")]
fn test_verifies_no_leaks(world: &mut ZbWorld) -> Result<()> {
    let load = under_load(world)?;
    ensure!(
        load.leaks.is_empty(),
        "left behind: {}",
        load.leaks.join(", ")
    );
    ensure!(
        load.mappings_after == 0,
        "{} mapping(s) of the buffer remain",
        load.mappings_after
    );
    check_fds(load.fds_before, load.fds_after)
}

#[then(regex = r"^the test should verify lock files cleaned up$")]
fn test_verifies_lock_files(world: &mut ZbWorld) -> Result<()> {
    let load = under_load(world)?;
    let name = load.name.clone().context("no buffer name")?;
    let mut left = load.lock_leftovers.clone();
    left.extend(
        leftovers(&name)
            .into_iter()
            .filter(|p| p.ends_with(".lock")),
    );
    ensure!(left.is_empty(), "lock files left: {}", left.join(", "));
    Ok(())
}

#[then(regex = r"^the system should handle writer connection attempts gracefully$")]
fn handles_connection_attempts(world: &mut ZbWorld) -> Result<()> {
    let load = under_load(world)?;
    let stats = load
        .stats
        .as_ref()
        .context("no writer was attempting connections during the cycles")?;
    tracing::info!(?stats, cycles = load.cycles, "writer connection attempts");
    ensure!(stats.attempts > 0, "the connecting writer made no attempt");
    ensure!(
        stats.unexpected.is_empty(),
        "unexpected outcomes: {}",
        stats.unexpected.join("; ")
    );
    // Once the churn is over, a writer connects to the same name as if nothing happened.
    let name = load.name.clone().context("no buffer name")?;
    let config = load.config.unwrap_or(DEFAULT_CONFIG);
    round_trip(&name, config)
}
