//! Measurement: summaries of samples, background benchmark work, CPU shares and resource usage.

use std::fs;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Result};
use rustix::time::ClockId;

use crate::captures::num;
use crate::drivers::explain::Explain as _;
use crate::drivers::os::{cpu_time, open_fds};

/// Summary of a series of nanosecond samples.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Summary {
    pub(crate) count: usize,
    pub(crate) min: u64,
    pub(crate) max: u64,
    pub(crate) mean: f64,
    pub(crate) p50: u64,
    pub(crate) p90: u64,
    pub(crate) p99: u64,
    pub(crate) p999: u64,
}

impl Summary {
    pub(crate) fn of(mut samples: Vec<u64>) -> Result<Summary> {
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

    pub(crate) fn check_ordered(&self, what: &str) -> Result<()> {
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

pub(crate) fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

/// A size like `1024`, `1KB`, `64 KB`, `1MB`, `10 MB` (binary units, as the sizes of 14.x).
pub(crate) fn parse_size(text: &str) -> Result<usize> {
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

/// Best time per iteration of `body` over several runs of `n` iterations.
pub(crate) fn best_ns(n: u64, mut body: impl FnMut()) -> f64 {
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
pub(crate) fn cpu_share(cpu: Duration, wall: Duration) -> f64 {
    cpu.as_secs_f64() / wall.as_secs_f64().max(1e-9)
}

/// A thread's CPU time cannot exceed the wall time it ran for (allowing for clock ticks).
pub(crate) fn check_cpu(what: &str, cpu: Duration, wall: Duration) -> Result<()> {
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

/// One sample of the resources the process and host use.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Usage {
    pub elapsed: Duration,
    pub fds: usize,
    pub maps: usize,
    pub rss_kib: u64,
    pub cpu: Duration,
    pub load1: f64,
    pub mem_available_kib: u64,
}

pub(crate) fn sample_usage(since: Instant) -> Result<Usage> {
    let load = fs::read_to_string("/proc/loadavg").context("reading /proc/loadavg")?;
    Ok(Usage {
        elapsed: since.elapsed(),
        fds: open_fds()?.len(),
        maps: fs::read_to_string("/proc/self/maps")?.lines().count(),
        rss_kib: proc_value("/proc/self/status", "VmRSS:")?,
        cpu: cpu_time(ClockId::ProcessCPUTime),
        load1: load
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .context("unreadable /proc/loadavg")?,
        mem_available_kib: proc_value("/proc/meminfo", "MemAvailable:")?,
    })
}

pub(crate) fn proc_value(file: &str, key: &str) -> Result<u64> {
    let text = fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no {key} in {file}"))
}
