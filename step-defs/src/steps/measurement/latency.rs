//! 14.1: one-way latency of frames of each size, one frame in flight at a time.

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Result};
use cucumber::gherkin::Step;
use cucumber::then;
use zerobuffer::Writer;

use crate::captures::num;
use crate::drivers::bench::{check_fits, spawn_bench, BENCH_READ_TIMEOUT};
use crate::drivers::drain::wait_taken;
use crate::drivers::explain::Explain as _;
use crate::drivers::measure::{parse_size, us, Summary};
use crate::drivers::os::monotonic_ns;
use crate::drivers::scale;
use crate::drivers::streams::write_seeded;
use crate::drivers::tables::data_table;
use crate::state::measurement::Row;
use crate::world::{ZbWorld, JOIN_TIMEOUT};

const JOB: &str = "latency";
/// The shared feature file's rows, for an orchestrator that drops tables.
const BUILT_IN: &str = "| size | iterations | expected |
| 1KB | 10000 | sub-millisecond |
| 64KB | 10000 | sub-millisecond |
| 1MB | 10000 | low milliseconds |
| 10MB | 10000 | low milliseconds |";

/// What a row's `expected` column claims, as a bound on the median latency: "sub-millisecond"
/// is below 1 ms, "low milliseconds" below 10 ms. The median, because the claim is about the
/// usual frame; the tail is reported.
fn expected_bound(text: &str) -> Result<Duration> {
    match text.trim().to_ascii_lowercase().as_str() {
        "sub-millisecond" => Ok(Duration::from_millis(1)),
        "low milliseconds" => Ok(Duration::from_millis(10)),
        other => bail!("unknown expectation '{other}' (sub-millisecond or low milliseconds)"),
    }
}

#[then(regex = r"^measure latency for frame sizes:$")]
fn measure_latency(world: &mut ZbWorld, step: &Step) -> Result<()> {
    let table = data_table(world, step, BUILT_IN)?;
    let (size, iterations) = (table.column("size")?, table.column("iterations")?);
    let expected = table.column("expected").ok();
    let rows = table.map_rows(|r| {
        Ok(Row {
            size: parse_size(&r[size])?,
            iterations: scale::count(num(&r[iterations])?, 20)? as usize,
            bound: expected.map(|c| expected_bound(&r[c])).transpose()?,
        })
    })?;
    ensure!(!rows.is_empty(), "the table lists no frame size");
    check_fits(world, &rows.iter().map(|r| r.size).collect::<Vec<_>>())?;
    spawn_bench(world, JOB, Duration::ZERO, move |writer| {
        rows.iter()
            .map(|&row| {
                let samples = one_way_latency(writer, row.size, row.iterations)
                    .with_context(|| format!("frames of {} bytes", row.size))?;
                Ok((row, Summary::of(samples)?))
            })
            .collect::<Result<Vec<_>>>()
    })
}

/// Sends `iterations` frames one at a time and returns how long each took from the writer's
/// call until the reader had read, checked and released it (seen in the OIEB).
fn one_way_latency(writer: &mut Writer, size: usize, iterations: usize) -> Result<Vec<u64>> {
    let mut samples = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let start = monotonic_ns();
        write_seeded(writer, size)?;
        // One frame at a time: latency, not queueing.
        wait_taken(writer, Instant::now() + BENCH_READ_TIMEOUT)
            .with_context(|| format!("frame {} of {iterations}", i + 1))?;
        samples.push(monotonic_ns().saturating_sub(start));
    }
    Ok(samples)
}

#[then(regex = r"^report Min, Max, Mean, P50, P90, P99, P99\.9$")]
fn report_latency(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    if state.jobs.is_running(JOB) {
        let results = state.jobs.join(JOB, JOIN_TIMEOUT * 4)?;
        state.measurement.latency.results = results;
    }
    let results = &state.measurement.latency.results;
    ensure!(!results.is_empty(), "no latency was measured");
    for (row, s) in results {
        let size = row.size;
        tracing::info!(
            size,
            samples = s.count,
            min_us = us(s.min),
            max_us = us(s.max),
            mean_us = s.mean / 1000.0,
            p50_us = us(s.p50),
            p90_us = us(s.p90),
            p99_us = us(s.p99),
            p999_us = us(s.p999),
            bound = ?row.bound,
            "one-way latency (written to taken)"
        );
        ensure!(
            s.count == row.iterations && s.min > 0,
            "{size} bytes: {} samples (expected {}), min {} ns",
            s.count,
            row.iterations,
            s.min
        );
        s.check_ordered(&format!("{size} bytes"))?;
        if let Some(bound) = row.bound {
            ensure!(
                Duration::from_nanos(s.p50) < bound,
                "{size} bytes: the median latency is {:.1} µs, not below the {bound:?} the \
                 table expects",
                us(s.p50)
            );
        }
    }
    // Causality, not speed: the fastest transfer of the largest frame includes a copy of all
    // of it, which the fastest transfer of the smallest does not.
    if let (Some((a, small)), Some((b, large))) = (results.first(), results.last()) {
        if b.size >= a.size * 1024 {
            ensure!(
                large.min > small.min,
                "{}-byte frames were never slower than {}-byte ones ({} vs {} ns)",
                b.size,
                a.size,
                large.min,
                small.min
            );
        }
    }
    Ok(())
}
