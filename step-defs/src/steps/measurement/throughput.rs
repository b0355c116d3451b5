//! 14.2: throughput per frame size with the reader checking every byte, against a plain
//! copy measured in the same run.

use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Result};
use cucumber::gherkin::Step;
use cucumber::{given, then};
use rustix::time::ClockId;
use zerobuffer::testdata::frame_data;
use zerobuffer::{BufferConfig, Writer};

use crate::captures::Seconds;
use crate::drivers::bench::{check_fits, spawn_bench};
use crate::drivers::endpoints::create_buffer;
use crate::drivers::explain::Explain as _;
use crate::drivers::measure::{check_cpu, cpu_share, parse_size};
use crate::drivers::os::cpu_time;
use crate::drivers::scale;
use crate::drivers::streams::write_seeded;
use crate::drivers::tables::data_table;
use crate::state::measurement::{Metrics, Throughput};
use crate::world::{ZbWorld, JOIN_TIMEOUT};

/// "Large config": room for frames of 10 MiB from any ring position.
const LARGE_CONFIG: BufferConfig = BufferConfig::new(1024, 32 << 20);
const JOB: &str = "throughput";
/// The shared feature file's rows, for an orchestrator that drops tables.
const BUILT_IN: &str = "| size | metric |
| 1KB | frames/sec, MB/sec |
| 64KB | frames/sec, MB/sec |
| 1MB | frames/sec, MB/sec |
| 10MB | frames/sec, MB/sec |";
/// "Saturate memory bandwidth", as a bound: frames of at least this size move at no less
/// than [`MEMORY_BOUND_SHARE`] of a plain copy's rate measured in the same run. Smaller
/// frames are bound by the per-frame work (a semaphore post, a header), not by memory.
const MEMORY_BOUND_FROM: usize = 1 << 20;
/// The writer writes every byte once and the reader reads it once, as a copy does; a fifth
/// leaves room for two processes sharing two cores with the rest of the machine.
const MEMORY_BOUND_SHARE: f64 = 0.2;

#[given(regex = r"^the '([^']*)' process creates buffer '([^']*)' with large config$")]
fn creates_buffer_large(world: &mut ZbWorld, process: String, buffer: String) -> Result<()> {
    create_buffer(world, &process, &buffer, LARGE_CONFIG)
}

fn parse_metrics(text: &str) -> Result<Metrics> {
    let mut m = Metrics::default();
    for metric in text.split(',').map(str::trim) {
        match metric.to_ascii_lowercase().as_str() {
            "frames/sec" | "frames/s" => m.frames_per_s = true,
            "mb/sec" | "mb/s" => m.mb_per_s = true,
            _ => bail!("unknown metric '{metric}' (frames/sec or MB/sec)"),
        }
    }
    Ok(m)
}

#[then(regex = r"^measure throughput for '([^']*)' seconds with frame sizes:$")]
fn measure_throughput(world: &mut ZbWorld, step: &Step, seconds: Seconds) -> Result<()> {
    let table = data_table(world, step, BUILT_IN)?;
    let (size, metric) = (table.column("size")?, table.column("metric")?);
    let rows = table.map_rows(|r| Ok((parse_size(&r[size])?, parse_metrics(&r[metric])?)))?;
    ensure!(!rows.is_empty(), "the table lists no frame size");
    check_fits(world, &rows.iter().map(|r| r.0).collect::<Vec<_>>())?;
    let per_size = scale::duration(seconds.0, Duration::from_millis(250))?;
    spawn_bench(world, JOB, Duration::ZERO, move |writer| {
        let ring = writer.payload_size() as usize;
        let mut results = Vec::new();
        for &(size, metrics) in &rows {
            let mut r = stream(writer, size, per_size)
                .with_context(|| format!("frames of {size} bytes"))?;
            r.metrics = metrics;
            r.memcpy = best_memcpy_rate(size, ring);
            results.push(r);
        }
        Ok(results)
    })
}

/// Writes frames of `size` bytes as fast as possible for `duration`; the run ends when the
/// reader (which checks every byte) has taken them all.
fn stream(writer: &mut Writer, size: usize, duration: Duration) -> Result<Throughput> {
    let start = Instant::now();
    let cpu0 = cpu_time(ClockId::ThreadCPUTime);
    let mut frames = 0u64;
    while start.elapsed() < duration {
        write_seeded(writer, size).context("writing")?;
        frames += 1;
    }
    let writer_cpu = cpu_time(ClockId::ThreadCPUTime) - cpu0;
    crate::drivers::drain::wait_taken(writer, Instant::now() + JOIN_TIMEOUT)?;
    Ok(Throughput {
        size,
        metrics: Metrics::default(),
        frames,
        elapsed: start.elapsed(),
        writer_cpu,
        memcpy: 0.0,
    })
}

/// Bytes per second of the fastest of several plain copies of `size` bytes into successive
/// places of a buffer as large as the ring, as frames go into the ring (a copy into one
/// small buffer would run from cache, which frames moving through a large ring never do).
/// Noise only ever slows a run down, so the best one is the machine's rate.
fn best_memcpy_rate(size: usize, ring: usize) -> f64 {
    let src = frame_data(size, 1);
    let slots = (ring / size.max(1)).max(1);
    let mut dst = vec![0u8; slots * size];
    let copies = ((64 << 20) / size.max(1)).max(slots);
    (0..5)
        .map(|_| {
            let start = Instant::now();
            for i in 0..copies {
                let at = (i % slots) * size;
                dst[at..at + size].copy_from_slice(black_box(&src));
                black_box(&mut dst);
            }
            (copies * size) as f64 / start.elapsed().as_secs_f64()
        })
        .fold(0.0, f64::max)
}

fn throughput_results(world: &mut ZbWorld) -> Result<&Vec<Throughput>> {
    let state = world.current()?;
    if state.jobs.is_running(JOB) {
        let results = state.jobs.join(JOB, JOIN_TIMEOUT * 4)?;
        state.measurement.throughput.results = results;
    }
    let results = &state.measurement.throughput.results;
    ensure!(!results.is_empty(), "no throughput was measured");
    Ok(results)
}

#[then(regex = r"^report CPU usage percentage$")]
fn report_cpu_usage(world: &mut ZbWorld) -> Result<()> {
    for r in throughput_results(world)? {
        ensure!(r.frames > 0, "{} bytes: no frame was written", r.size);
        let secs = r.elapsed.as_secs_f64();
        tracing::info!(
            size = r.size,
            frames = r.frames,
            frames_per_s = r.metrics.frames_per_s.then(|| r.frames as f64 / secs),
            mb_per_s = r.metrics.mb_per_s.then(|| r.bytes_per_s() / 1e6),
            writer_cpu_pct = 100.0 * cpu_share(r.writer_cpu, r.elapsed),
            "throughput"
        );
        check_cpu(
            &format!("writer, {} bytes", r.size),
            r.writer_cpu,
            r.elapsed,
        )?;
    }
    Ok(())
}

/// Frames of [`MEMORY_BOUND_FROM`] bytes and more reach [`MEMORY_BOUND_SHARE`] of a plain
/// copy's rate.
#[then(regex = r"^expect to saturate memory bandwidth$")]
fn expect_memory_bound(world: &mut ZbWorld) -> Result<()> {
    let results = throughput_results(world)?;
    ensure!(
        results.iter().any(|r| r.size >= MEMORY_BOUND_FROM),
        "no frame size of {MEMORY_BOUND_FROM} bytes or more was measured: memory bandwidth \
         is what bounds large frames only"
    );
    for r in results {
        let share = r.bytes_per_s() / r.memcpy;
        tracing::info!(
            size = r.size,
            transfer_mb_per_s = r.bytes_per_s() / 1e6,
            memcpy_mb_per_s = r.memcpy / 1e6,
            share_of_memcpy_pct = 100.0 * share,
            bound_pct = (r.size >= MEMORY_BOUND_FROM).then_some(100.0 * MEMORY_BOUND_SHARE),
            "memory bandwidth"
        );
        if r.size >= MEMORY_BOUND_FROM {
            ensure!(
                share >= MEMORY_BOUND_SHARE,
                "{} bytes: {:.0} MB/s transferred, {:.0}% of a plain copy's {:.0} MB/s, \
                 below the {:.0}% that memory-bound transfer reaches",
                r.size,
                r.bytes_per_s() / 1e6,
                100.0 * share,
                r.memcpy / 1e6,
                100.0 * MEMORY_BOUND_SHARE
            );
        }
    }
    Ok(())
}
