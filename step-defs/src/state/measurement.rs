//! Per-process state of the measurement steps: benchmarks, CPU use, long runs.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use zerobuffer::{NamedSemaphore, OiebSnapshot};

use crate::drivers::explain::Explain;
use crate::drivers::measure::{Summary, Usage};

/// What the measurement steps of one process keep between steps.
#[derive(Default)]
pub(crate) struct MeasurementState {
    /// Costs of memory barriers and handoffs.
    pub(crate) barriers: Barriers,
    /// Latency rows.
    pub(crate) latency: Latency,
    /// Semaphore signalling costs and rates.
    pub(crate) signalling: Signalling,
    /// Throughput rows.
    pub(crate) throughput: ThroughputRun,
    /// Ring fill over a load pattern.
    pub(crate) utilisation: Utilisation,
    /// Cost of wrapping against tiling.
    pub(crate) wrap: WrapBench,
    /// CPU time of a blocked wait and of an active transfer.
    pub(crate) cpu: CpuUsage,
    /// A long continuous run.
    pub(crate) long_run: LongRun,
}

#[derive(Default)]
pub(crate) struct Barriers {
    /// Nanoseconds per operation, best of several runs: (name, cost).
    pub(crate) costs: Vec<(&'static str, f64)>,
    pub(crate) handoffs: Vec<Handoff>,
}

#[derive(Default)]
pub(crate) struct Latency {
    pub(crate) results: Vec<(Row, Summary)>,
}

#[derive(Default)]
pub(crate) struct Signalling {
    pub(crate) semaphores: Option<BenchSemaphores>,
    pub(crate) post_wait_ns: f64,
    pub(crate) wake_up: Option<Summary>,
    pub(crate) rates: Vec<RateResult>,
}

#[derive(Default)]
pub(crate) struct ThroughputRun {
    pub(crate) results: Vec<Throughput>,
}

#[derive(Default)]
pub(crate) struct Utilisation {
    pub(crate) configured: bool,
    /// (time since start, fill of the ring 0..=1).
    pub(crate) samples: Vec<(Duration, f64)>,
    pub(crate) load_end: Duration,
    pub(crate) frames: u64,
    pub(crate) degraded_at: Option<Duration>,
    pub(crate) recovered_after: Option<Duration>,
}

#[derive(Default)]
pub(crate) struct WrapBench {
    pub(crate) ratio: Option<f64>,
    /// Time per frame of each round, wrapping and tiling, measured alternately.
    pub(crate) wrapping: Vec<Duration>,
    pub(crate) tiling: Vec<Duration>,
    pub(crate) tiling_checked: bool,
    pub(crate) overhead_pct: Option<f64>,
}

/// What the writer measured.
#[derive(Default)]
pub(crate) struct CpuUsage {
    /// Frames written to fill the ring before the blocked write.
    pub(crate) filled: u64,
    /// (CPU time, wall time) of the write that waited for space.
    pub(crate) idle: Option<(Duration, Duration)>,
    pub(crate) transfer: Option<Transfer>,
}

#[derive(Default)]
pub(crate) struct LongRun {
    pub(crate) run_for: Duration,
    pub(crate) report: Option<RunReport>,
}

/// The two semaphores of a buffer name, created for the benchmark and unlinked on drop.
pub(crate) struct BenchSemaphores {
    pub(crate) names: [String; 2],
    pub(crate) ping: Arc<NamedSemaphore>,
    pub(crate) pong: Arc<NamedSemaphore>,
}

impl Drop for BenchSemaphores {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = NamedSemaphore::unlink(name);
        }
    }
}

impl BenchSemaphores {
    pub(crate) fn create(buffer: &str) -> Result<Self> {
        let names = [format!("/sem-w-{buffer}"), format!("/sem-r-{buffer}")];
        let ping = NamedSemaphore::create(&names[0]).context("creating a semaphore")?;
        let pong = match NamedSemaphore::create(&names[1]) {
            Ok(s) => s,
            Err(e) => {
                let _ = NamedSemaphore::unlink(&names[0]);
                return Err(e).context("creating a semaphore");
            }
        };
        Ok(BenchSemaphores {
            names,
            ping: Arc::new(ping),
            pong: Arc::new(pong),
        })
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct RateResult {
    pub(crate) rate: u64,
    pub(crate) impact: Option<Impact>,
    pub(crate) signals: usize,
    pub(crate) achieved_hz: f64,
    pub(crate) latency: Summary,
    pub(crate) waiter_cpu: f64,
    pub(crate) signaller_cpu: f64,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Handoff {
    pub(crate) barriers: bool,
    pub(crate) messages: u64,
    pub(crate) mismatches: u64,
    pub(crate) per_message: Duration,
}

impl Handoff {
    /// The faster of two rounds, with the torn messages of both.
    pub(crate) fn best(self, other: Handoff) -> Handoff {
        Handoff {
            messages: self.messages + other.messages,
            mismatches: self.mismatches + other.mismatches,
            per_message: self.per_message.min(other.per_message),
            ..self
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Row {
    pub(crate) size: usize,
    pub(crate) iterations: usize,
    pub(crate) bound: Option<Duration>,
}

/// What the continuous run saw.
#[derive(Debug)]
pub(crate) struct RunReport {
    pub(crate) requested: Duration,
    pub(crate) elapsed: Duration,
    pub(crate) frames_written: u64,
    pub(crate) frames_read: u64,
    pub(crate) bytes: u64,
    pub(crate) errors: Vec<String>,
    pub(crate) samples: Vec<Usage>,
    pub(crate) end: OiebSnapshot,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Throughput {
    pub(crate) size: usize,
    pub(crate) metrics: Metrics,
    pub(crate) frames: u64,
    pub(crate) elapsed: Duration,
    pub(crate) writer_cpu: Duration,
    /// Best plain copy rate of the same size in bytes/s, measured right after.
    pub(crate) memcpy: f64,
}

impl Throughput {
    pub(crate) fn bytes_per_s(&self) -> f64 {
        (self.frames * self.size as u64) as f64 / self.elapsed.as_secs_f64()
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Transfer {
    pub(crate) frames: u64,
    pub(crate) bytes: u64,
    pub(crate) cpu: Duration,
    pub(crate) wall: Duration,
}

/// The rates a row's `metric` column asks for.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Metrics {
    pub(crate) frames_per_s: bool,
    pub(crate) mb_per_s: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Impact {
    Negligible,
    Measurable,
}
