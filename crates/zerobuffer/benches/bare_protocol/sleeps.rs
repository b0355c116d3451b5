//! How often each side of a session slept: its voluntary context switches during a job, read
//! from `/proc` before and after. At small frames the time of a cross-process run is decided
//! by these hand-offs (each sleep costs the other side a `futex` wake and the sleeper its way
//! back), so the table shows them beside the times they explain.

use std::fs;

use crate::BoxResult;

/// Sleeps of the reader (this thread) and of the writer (the child) over one job.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sleeps {
    pub reader: u64,
    pub writer: u64,
}

/// Counts the voluntary context switches of this thread and of process `writer_pid`
/// (single-threaded).
pub struct SleepCounter {
    writer_status: String,
}

impl SleepCounter {
    pub fn new(writer_pid: u32) -> SleepCounter {
        SleepCounter {
            writer_status: format!("/proc/{writer_pid}/status"),
        }
    }

    /// The two counters as they are now.
    pub fn sample(&self) -> BoxResult<Sleeps> {
        Ok(Sleeps {
            reader: voluntary_switches("/proc/thread-self/status")?,
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
