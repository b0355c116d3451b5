//! How often each side of a session slept: its voluntary context switches during a job, read
//! from `/proc` before and after, and one line per case of the medians over the rounds. At
//! small frames the time of a cross-process run is decided by these hand-offs (each sleep
//! costs the other side a `futex` wake and the sleeper its way back), so the tables show them
//! beside the times they explain.

// Each bench uses the part it needs.
#![allow(dead_code)]

use std::fs;

use crate::rounds::{median, Labelled};

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Sleeps of the reader and of the writer over one job.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sleeps {
    pub reader: u64,
    pub writer: u64,
}

/// Counts the voluntary context switches of both sides, each a thread or a single-threaded
/// process.
pub struct SleepCounter {
    reader_status: String,
    writer_status: String,
}

impl SleepCounter {
    /// The reader is this thread, the writer process `writer_pid`.
    pub fn this_thread_and(writer_pid: u32) -> SleepCounter {
        SleepCounter {
            reader_status: "/proc/thread-self/status".into(),
            writer_status: format!("/proc/{writer_pid}/status"),
        }
    }

    /// Both sides are other processes (their main threads).
    pub fn processes(reader_pid: u32, writer_pid: u32) -> SleepCounter {
        SleepCounter {
            reader_status: format!("/proc/{reader_pid}/status"),
            writer_status: format!("/proc/{writer_pid}/status"),
        }
    }

    /// The two counters as they are now.
    pub fn sample(&self) -> BoxResult<Sleeps> {
        Ok(Sleeps {
            reader: voluntary_switches(&self.reader_status)?,
            writer: voluntary_switches(&self.writer_status)?,
        })
    }
}

impl Sleeps {
    /// What happened between `self` (earlier) and `later`.
    pub fn until(self, later: Sleeps) -> Sleeps {
        Sleeps {
            reader: later.reader.saturating_sub(self.reader),
            writer: later.writer.saturating_sub(self.writer),
        }
    }
}

fn voluntary_switches(path: &str) -> BoxResult<u64> {
    let status = fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let value = status
        .lines()
        .find_map(|line| line.strip_prefix("voluntary_ctxt_switches:"))
        .ok_or_else(|| format!("{path}: no voluntary_ctxt_switches line"))?;
    Ok(value.trim().parse()?)
}

/// One pairing's sleeps per 1000 frames, reader and writer, one pair per round.
pub struct SleepRow<P> {
    pub pairing: P,
    reader: Vec<f64>,
    writer: Vec<f64>,
}

impl<P: Labelled> SleepRow<P> {
    pub fn new(pairing: P) -> SleepRow<P> {
        SleepRow {
            pairing,
            reader: Vec::new(),
            writer: Vec::new(),
        }
    }

    /// Records one round's `sleeps` over a job of `frames` frames.
    pub fn add(&mut self, sleeps: Sleeps, frames: u64) {
        let per_kilo = |n: u64| n as f64 * 1000.0 / frames.max(1) as f64;
        self.reader.push(per_kilo(sleeps.reader));
        self.writer.push(per_kilo(sleeps.writer));
    }
}

/// One line under a case's rows: how often each side slept, median and range of the rounds.
/// Each job also costs a side that waits for its next command line a sleep of its own.
pub fn print_sleeps<P: Labelled>(rows: &[SleepRow<P>]) {
    let range = |v: &[f64]| {
        let min = v.iter().copied().fold(f64::INFINITY, f64::min);
        let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        format!("{:.1} ({min:.1}-{max:.1})", median(v))
    };
    let cells: Vec<String> = rows
        .iter()
        .filter(|r| !r.reader.is_empty())
        .map(|r| {
            format!(
                "{}: r {} w {}",
                r.pairing.label(),
                range(&r.reader),
                range(&r.writer)
            )
        })
        .collect();
    if !cells.is_empty() {
        println!("  sleeps per 1000 frames: {}", cells.join("; "));
    }
}
