//! 14.6: the fill of the ring while a writer outpaces its reader, and its recovery.

use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Result};
use cucumber::{given, then, when};
use zerobuffer_test_support::RawBuffer;

use crate::captures::Percent;
use crate::drivers::bench::spawn_bench;
use crate::drivers::drain::scenario_buffer;
use crate::drivers::endpoints::connect_writer_named;
use crate::drivers::explain::Explain as _;
use crate::drivers::poll::poll_until;
use crate::drivers::ring::HEADER;
use crate::drivers::streams::write_seeded;
use crate::state::measurement::Utilisation;
use crate::world::{ProcessState, ZbWorld, JOIN_TIMEOUT};

const UTILISATION_FRAME: usize = 1024;
/// How long the reader holds each frame (its standby drain, as the writer requests): far
/// longer than a write of [`UTILISATION_FRAME`] bytes takes.
const READER_HOLD: Duration = Duration::from_millis(2);
const LOAD_PHASE: Duration = Duration::from_millis(300);
const UTILISATION_JOB: &str = "utilization";

/// What the monitoring job hands over.
struct Monitored {
    samples: Vec<(Duration, f64)>,
    load_end: Duration,
    frames: u64,
}

/// The scenario never connects this writer, so the step connects it to the run's one buffer
/// (see [`scenario_buffer`]) when it is not connected yet.
#[given(regex = r"^the '([^']*)' process is configured to be faster than reader$")]
fn writer_faster_than_reader(world: &mut ZbWorld, process: String) -> Result<()> {
    if world.process(&process).writer.is_none() {
        let name = scenario_buffer(world)?;
        connect_writer_named(world, &process, name)?;
    }
    let state = world.process(&process);
    let payload = state.with_writer(|w| w.payload_size())?;
    ensure!(
        (UTILISATION_FRAME as u64 + HEADER) * 4 <= payload,
        "the {payload}-byte ring is too small to watch it fill with {UTILISATION_FRAME}-byte frames"
    );
    state.measurement.utilisation.configured = true;
    Ok(())
}

#[when(regex = r"^monitor buffer utilization over time$")]
fn monitor_utilisation(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    ensure!(
        state.measurement.utilisation.configured,
        "the writer was not configured to be faster than the reader"
    );
    let raw = RawBuffer::open(state.buffer()?)?;
    spawn_bench(world, UTILISATION_JOB, READER_HOLD, move |writer| {
        let payload = writer.payload_size() as f64;
        let start = Instant::now();
        let mut samples = Vec::new();
        let written = AtomicU64::new(0);
        let load_end = thread::scope(|scope| -> Result<Duration> {
            let mut writing = Some(scope.spawn(|| -> Result<()> {
                while start.elapsed() < LOAD_PHASE {
                    write_seeded(writer, UTILISATION_FRAME)?;
                    written.fetch_add(1, Ordering::SeqCst);
                }
                Ok(())
            }));
            // Sample the fill of the ring until the writer stopped and the reader has
            // released every byte (the last sample is that empty ring, as read).
            let mut load_end = None;
            let limit = start + LOAD_PHASE + JOIN_TIMEOUT;
            let left = limit.saturating_duration_since(Instant::now());
            let drained = poll_until(left, Duration::from_micros(500), || {
                let oieb = raw.oieb();
                ensure!(
                    oieb.payload_free_bytes <= oieb.payload_size,
                    "free bytes {} exceed the ring size",
                    oieb.payload_free_bytes
                );
                samples.push((
                    start.elapsed(),
                    1.0 - oieb.payload_free_bytes as f64 / payload,
                ));
                if let Some(done) = writing.take_if(|h| h.is_finished()) {
                    load_end = Some(start.elapsed());
                    done.join()
                        .unwrap_or_else(|_| Err(anyhow!("the writing thread panicked")))?;
                    // Taken before the writer was seen finished: sample once more.
                    return Ok(None);
                }
                Ok(load_end.filter(|_| oieb.payload_free_bytes == oieb.payload_size))
            })?;
            drained.ok_or_else(|| anyhow!("the reader did not drain the ring"))
        })?;
        Ok(Monitored {
            samples,
            load_end,
            frames: written.load(Ordering::SeqCst),
        })
    })
}

fn utilisation(state: &mut ProcessState) -> Result<&mut Utilisation> {
    if state.jobs.is_running(UTILISATION_JOB) {
        let m: Monitored = state.jobs.join(UTILISATION_JOB, JOIN_TIMEOUT)?;
        let u = &mut state.measurement.utilisation;
        (u.samples, u.load_end, u.frames) = (m.samples, m.load_end, m.frames);
    }
    let u = &mut state.measurement.utilisation;
    ensure!(!u.samples.is_empty(), "the utilization was not monitored");
    Ok(u)
}

#[then(regex = r"^verify degradation detection at '([^']*)'$")]
fn verify_degradation(world: &mut ZbWorld, threshold: Percent) -> Result<()> {
    let threshold = threshold.0;
    ensure!(
        threshold > 0.0 && threshold < 1.0,
        "a threshold must lie between 0% and 100%"
    );
    let u = utilisation(world.current()?)?;
    ensure!(
        u.samples.iter().all(|&(_, f)| (0.0..=1.0).contains(&f)),
        "a utilization sample lies outside 0..100%"
    );
    // Degradation: the first sample at or above the threshold, while the writer still runs.
    let first = u.samples.iter().position(|&(_, f)| f >= threshold);
    let Some(i) = first.filter(|&i| u.samples[i].0 <= u.load_end) else {
        bail!(
            "the ring never filled to {:.0}% while the faster writer ran ({} frames)",
            threshold * 100.0,
            u.frames
        );
    };
    u.degraded_at = Some(u.samples[i].0);
    // Recovery: the first sample below the threshold after the writer stopped.
    u.recovered_after = u
        .samples
        .iter()
        .find(|&&(t, f)| t >= u.load_end && f < threshold)
        .map(|&(t, _)| t - u.load_end);
    ensure!(
        u.recovered_after.is_some(),
        "the utilization never fell below {:.0}% after the writer stopped",
        threshold * 100.0
    );
    Ok(())
}

#[then(regex = r"^report time to degradation$")]
fn report_degradation(world: &mut ZbWorld) -> Result<()> {
    let u = utilisation(world.current()?)?;
    let at = u.degraded_at.context("no degradation was detected")?;
    let peak = u.samples.iter().map(|&(_, f)| f).fold(0.0, f64::max);
    tracing::info!(
        time_to_degradation = ?at,
        peak_pct = 100.0 * peak,
        frames = u.frames,
        samples = u.samples.len(),
        "buffer utilization"
    );
    ensure!(
        at <= u.load_end,
        "degradation was flagged after the load ended"
    );
    Ok(())
}

#[then(regex = r"^report recovery time$")]
fn report_recovery(world: &mut ZbWorld) -> Result<()> {
    let u = utilisation(world.current()?)?;
    let after = u.recovered_after.context("no recovery was detected")?;
    let drained = u.samples.last().map(|&(t, _)| t - u.load_end);
    tracing::info!(recovery_time = ?after, drained_after = ?drained, "buffer utilization");
    ensure!(
        u.samples.last().is_some_and(|&(_, f)| f == 0.0),
        "the ring did not drain completely"
    );
    Ok(())
}
