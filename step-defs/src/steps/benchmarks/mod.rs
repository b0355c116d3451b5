//! Group P of steps.md: feature 14, benchmarks. Every step measures for real, reports its
//! numbers (tracing, info level) and asserts what its text claims: the bound the text gives
//! (14.3's 5 %, 14.4's 100 ns, 14.6's 80 %), or where it gives none a bound stated in the step's
//! doc comment and in the feature file's comment.
//!
//! Harmony routes the reader/writer benchmark steps (14.1, 14.2, 14.6) to the writer. A
//! background job writes seeded frames and times what it sees in the OIEB; the reader
//! consumes and checks them through its standby drain (see [`crate::drain`]), which the job
//! requests and withdraws. The reporting steps join the job. Scenarios that name no process
//! (14.3–14.5) build their own buffers and threads.

mod barriers;
mod latency;
mod signalling;
mod throughput;
mod utilisation;
mod wrap;

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Result};
use zerobuffer::Writer;

use super::{num, HEADER};
use crate::drain::DrainRequest;
use crate::explain::Explain as _;
use crate::world::ZbWorld;

/// A read wait inside a benchmark: generous, only a stalled peer exceeds it.
const BENCH_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Summary of a series of nanosecond samples.
#[derive(Debug, Clone, Copy)]
struct Summary {
    count: usize,
    min: u64,
    max: u64,
    mean: f64,
    p50: u64,
    p90: u64,
    p99: u64,
    p999: u64,
}

impl Summary {
    fn of(mut samples: Vec<u64>) -> Result<Summary> {
        ensure!(!samples.is_empty(), "no samples");
        samples.sort_unstable();
        // Nearest rank: the smallest sample with at least q of all samples at or below it.
        let rank = |q: f64| samples[((q * samples.len() as f64).ceil() as usize).max(1) - 1];
        Ok(Summary {
            count: samples.len(),
            min: samples[0],
            max: samples[samples.len() - 1],
            mean: samples.iter().map(|&s| s as f64).sum::<f64>() / samples.len() as f64,
            p50: rank(0.50),
            p90: rank(0.90),
            p99: rank(0.99),
            p999: rank(0.999),
        })
    }

    fn check_ordered(&self, what: &str) -> Result<()> {
        let order = [self.min, self.p50, self.p90, self.p99, self.p999, self.max];
        ensure!(
            order.windows(2).all(|w| w[0] <= w[1]),
            "{what}: percentiles out of order: {self:?}"
        );
        ensure!(
            self.min as f64 <= self.mean && self.mean <= self.max as f64,
            "{what}: mean outside [min, max]: {self:?}"
        );
        Ok(())
    }
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

/// A size like `1024`, `1KB`, `64 KB`, `1MB`, `10 MB` (binary units, as the sizes of 14.x).
fn parse_size(text: &str) -> Result<usize> {
    let t = text.trim().to_ascii_uppercase().replace(' ', "");
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: usize = num(digits)?;
    let factor = match unit {
        "" | "B" => 1,
        "KB" | "KIB" => 1 << 10,
        "MB" | "MIB" => 1 << 20,
        _ => bail!("'{text}' is not a frame size"),
    };
    Ok(n * factor)
}

/// Fails, saying why, unless frames of every size in `sizes` can be written from any ring
/// position of the current process's writer (a frame that can wrap needs twice its room).
fn check_fits(world: &mut ZbWorld, sizes: &[usize]) -> Result<()> {
    let payload = world.current()?.with_writer(|w| w.payload_size())?;
    for &size in sizes {
        let needed = 2 * (size as u64 + HEADER);
        ensure!(
            needed <= payload,
            "a frame of {size} bytes can never fit the {payload}-byte ring from every \
             position: with its {HEADER}-byte header, and room to wrap, it needs {needed} bytes"
        );
    }
    Ok(())
}

/// Runs `work` with the current process's writer in the background job `label`, with a drain
/// of the reader requested (each frame held for `hold`) and started; when `work` is done the
/// job waits until the reader has taken every frame and withdraws the request.
fn spawn_bench<T: Send + 'static>(
    world: &mut ZbWorld,
    label: &str,
    hold: Duration,
    work: impl FnOnce(&mut Writer) -> Result<T> + Send + 'static,
) -> Result<()> {
    let state = world.current()?;
    let writer = state.writer()?;
    let buffer = state.buffer()?.to_owned();
    state.jobs.spawn(label, move |_stop| {
        let mut guard = writer.lock();
        let writer = guard.as_mut().context("the writer is closed")?;
        let request = DrainRequest::new(&buffer, hold)?;
        request.await_start(writer, 64)?;
        let result = work(writer)?;
        request.finish(writer)?;
        Ok(result)
    })
}

/// Best time per iteration of `body` over several runs of `n` iterations.
fn best_ns(n: u64, mut body: impl FnMut()) -> f64 {
    (0..7)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..n {
                body();
            }
            start.elapsed().as_nanos() as f64 / n as f64
        })
        .fold(f64::INFINITY, f64::min)
}

/// Share of `wall` a thread spent on a CPU.
fn cpu_share(cpu: Duration, wall: Duration) -> f64 {
    cpu.as_secs_f64() / wall.as_secs_f64().max(1e-9)
}

/// A thread's CPU time cannot exceed the wall time it ran for (allowing for clock ticks).
fn check_cpu(what: &str, cpu: Duration, wall: Duration) -> Result<()> {
    ensure!(
        cpu > Duration::ZERO,
        "{what}: no CPU time was measured at all"
    );
    ensure!(
        cpu <= wall.mul_f64(1.05) + Duration::from_millis(20),
        "{what}: {cpu:?} of CPU in {wall:?} of wall time"
    );
    Ok(())
}
