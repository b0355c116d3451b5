//! 11.3: a long continuous write/read run, its resources sampled throughout.

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Result};
use cucumber::{then, when};
use zerobuffer::testdata::fill_frame_data;
use zerobuffer::Writer;
use zerobuffer_test_support::RawBuffer;

use crate::captures::Number;
use crate::drivers::drain::DrainRequest;
use crate::drivers::explain::Explain as _;
use crate::drivers::jobs::StopFlag;
use crate::drivers::measure::sample_usage;
use crate::drivers::os::check_fds;
use crate::drivers::poll::poll_until;
use crate::drivers::scale;
use crate::state::measurement::RunReport;
use crate::world::{ZbWorld, JOIN_TIMEOUT};

/// Without ZEROBUFFER_SUITE_SCALE the scaled 24 h would still be 86 s; a default run is capped
/// at this (set the variable to run longer, `1` for the full duration).
const DEFAULT_RUN_CAP: Duration = Duration::from_secs(10);

fn long_run_duration(full: Duration) -> Result<Duration> {
    let scaled = scale::duration(full, Duration::from_secs(1))?;
    Ok(match std::env::var_os(scale::VARIABLE) {
        None => scaled.min(DEFAULT_RUN_CAP),
        Some(_) => scaled,
    })
}

/// Frame sizes vary from 1 to 4000 bytes, so the ring wraps at every kind of tail.
fn stress_frame_size(sequence: u64) -> usize {
    1 + (sequence.wrapping_mul(7919) % 4000) as usize
}

const LONG_RUN_JOB: &str = "continuous-write-read";

#[when(regex = r"^the test runs continuous write-read for '([^']*)' hours$")]
fn runs_continuous_write_read(world: &mut ZbWorld, hours: Number<f64>) -> Result<()> {
    let hours = hours.0;
    ensure!(hours > 0.0, "the run needs a positive number of hours");
    let run_for = long_run_duration(Duration::from_secs_f64(hours * 3600.0))?;
    let state = world.current()?;
    let (writer, name) = (state.writer()?, state.buffer()?.to_owned());
    tracing::info!(buffer = %name, ?run_for, "continuous write/read started");
    state.measurement.long_run.run_for = run_for;
    // The writing half runs here, in the background; the reader drains and checks every
    // frame through its standby drain (see crate::drivers::drain), which the run requests.
    state.jobs.spawn(LONG_RUN_JOB, move |stop| {
        let mut guard = writer.lock();
        let writer = guard.as_mut().context("the writer is closed")?;
        let request = DrainRequest::new(&name, Duration::ZERO)?;
        request.await_start(writer, 64)?;
        continuous_run(writer, &name, run_for, &stop)
    })
}

/// Writes frames of varying size for `run_for`, then waits until the reader (wherever it
/// lives) has taken them all, as the OIEB shows. The frame that started the drain counts.
fn continuous_run(
    writer: &mut Writer,
    name: &str,
    run_for: Duration,
    stop: &StopFlag,
) -> Result<RunReport> {
    let raw = RawBuffer::open(name)?;
    let first_sequence = raw.oieb().payload_written_count;

    let start = Instant::now();
    let interval = (run_for / 10).clamp(Duration::from_millis(50), Duration::from_secs(60));
    let mut samples = vec![sample_usage(start)?];
    let mut errors = Vec::new();
    let mut written = first_sequence;
    let mut bytes = 0u64;
    let mut next_sample = start + interval;
    while start.elapsed() < run_for && !stop.is_set() {
        let size = stress_frame_size(written + 1);
        let mut slot = match writer.get_frame_buffer(size) {
            Ok(slot) => slot,
            Err(e) => {
                errors.push(format!("write {}: {e}", written + 1));
                break;
            }
        };
        written = slot.sequence();
        fill_frame_data(&mut slot, written);
        slot.commit();
        bytes += size as u64;
        if Instant::now() >= next_sample {
            match sample_usage(start) {
                Ok(s) => samples.push(s),
                Err(e) => errors.push(format!("sampling: {e}")),
            }
            next_sample += interval;
        }
    }
    if errors.is_empty() && stop.is_set() {
        errors.push("the run was stopped early".to_owned());
    }
    // The reader takes the rest once its step runs (after this one returned).
    let drained = poll_until(JOIN_TIMEOUT, Duration::from_millis(5), || {
        let end = raw.oieb();
        Ok((end.payload_read_count == end.payload_written_count || stop.is_set()).then_some(()))
    })?;
    let end = raw.oieb();
    if drained.is_none() {
        errors.push(format!(
            "{} frame(s) still unread {JOIN_TIMEOUT:?} after the run",
            end.payload_written_count
                .wrapping_sub(end.payload_read_count)
        ));
    }
    samples.push(sample_usage(start)?);
    Ok(RunReport {
        requested: run_for,
        elapsed: start.elapsed(),
        frames_written: written,
        // The counters count ring entries, wrap markers too: the frames taken are those written
        // less the entries still unread.
        frames_read: written.saturating_sub(
            end.payload_written_count
                .wrapping_sub(end.payload_read_count),
        ),
        bytes,
        errors,
        samples,
        end,
    })
}

fn run_report(world: &mut ZbWorld) -> Result<&RunReport> {
    let state = world.current()?;
    if state.jobs.is_running(LONG_RUN_JOB) {
        // The drain gives up JOIN_TIMEOUT after the run should have ended; this is wider.
        let limit = state.measurement.long_run.run_for * 2 + JOIN_TIMEOUT * 2;
        let report: RunReport = state.jobs.join(LONG_RUN_JOB, limit)?;
        state.measurement.long_run.report = Some(report);
    }
    state
        .measurement
        .long_run
        .report
        .as_ref()
        .context("no continuous write-read run was started by this process")
}

#[then(regex = r"^verify no resource leaks$")]
fn verify_no_resource_leaks(world: &mut ZbWorld) -> Result<()> {
    let r = run_report(world)?;
    let (first, last) = (r.samples[0], r.samples[r.samples.len() - 1]);
    check_fds(first.fds, last.fds)?;
    ensure!(
        last.maps <= first.maps + 8,
        "mappings grew from {} to {}",
        first.maps,
        last.maps
    );
    ensure!(
        last.rss_kib <= first.rss_kib + 32 * 1024,
        "resident memory grew from {} KiB to {} KiB",
        first.rss_kib,
        last.rss_kib
    );
    // Ring space is a resource too: once drained, every byte is free again.
    ensure!(
        r.end.payload_free_bytes == r.end.payload_size,
        "{} of {} ring bytes free after draining",
        r.end.payload_free_bytes,
        r.end.payload_size
    );
    ensure!(
        r.end.payload_written_count == r.end.payload_read_count,
        "{} frame(s) unread after draining",
        r.end
            .payload_written_count
            .wrapping_sub(r.end.payload_read_count)
    );
    Ok(())
}

/// Impossible as written: frame sequence numbers are 64-bit and start at 1 with each writer
/// (protocol.md §3), so no run of this length, or of any length a machine lasts, reaches
/// their overflow; nothing in the run can show how it is handled. Seeding the OIEB's counters
/// instead would test counters, not sequences, so the step says why it cannot hold.
#[then(regex = r"^verify sequence numbers handle overflow$")]
fn verify_sequence_overflow(world: &mut ZbWorld) -> Result<()> {
    let r = run_report(world)?;
    let rate = r.frames_written as f64 / r.elapsed.as_secs_f64().max(1e-9);
    let years = (u64::MAX - r.frames_written) as f64 / rate.max(1.0) / (365.25 * 86400.0);
    bail!(
        "frame sequence numbers cannot overflow in this run: they are 64-bit and start at 1, \
         this run reached {} in {:?} ({rate:.0} frames/s), and at that rate the overflow is \
         {years:.1e} years away",
        r.frames_written,
        r.elapsed
    )
}

#[then(regex = r"^monitor system resource usage$")]
fn monitor_resource_usage(world: &mut ZbWorld) -> Result<()> {
    let r = run_report(world)?;
    ensure!(
        r.samples.len() >= 2,
        "only {} resource sample(s)",
        r.samples.len()
    );
    for s in &r.samples {
        tracing::info!(
            elapsed = ?s.elapsed,
            fds = s.fds,
            mappings = s.maps,
            rss_kib = s.rss_kib,
            cpu = ?s.cpu,
            load1 = s.load1,
            mem_available_kib = s.mem_available_kib,
            "resource sample"
        );
    }
    let (first, last) = (r.samples[0], r.samples[r.samples.len() - 1]);
    ensure!(
        last.elapsed > first.elapsed && last.cpu > first.cpu,
        "the samples show no time or CPU passing during the run"
    );
    ensure!(
        r.samples.iter().all(|s| s.rss_kib > 0 && s.fds > 0),
        "a sample has no resident memory or descriptors"
    );
    Ok(())
}

#[then(regex = r"^ensure stable operation throughout$")]
fn ensure_stable_operation(world: &mut ZbWorld) -> Result<()> {
    let r = run_report(world)?;
    ensure!(r.errors.is_empty(), "errors during the run: {:?}", r.errors);
    ensure!(
        r.frames_written > 0 && r.frames_read == r.frames_written,
        "{} frames written, {} read",
        r.frames_written,
        r.frames_read
    );
    ensure!(
        r.elapsed >= r.requested,
        "the run ended after {:?} of {:?}",
        r.elapsed,
        r.requested
    );
    let secs = r.elapsed.as_secs_f64();
    tracing::info!(
        frames = r.frames_written,
        mib = r.bytes as f64 / 1048576.0,
        frames_per_s = r.frames_written as f64 / secs,
        elapsed = ?r.elapsed,
        "continuous write/read finished"
    );
    Ok(())
}
