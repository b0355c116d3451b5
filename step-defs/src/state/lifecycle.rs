//! Per-process state of the lifecycle steps: stale resources, shutdown, re-creation, create/destroy cycles.

use std::collections::BTreeMap;
use std::fs::File;

use zerobuffer::BufferConfig;

use crate::drivers::inodes::Leftovers;
use crate::drivers::os::leftovers;

/// What the lifecycle steps of one process keep between steps.
#[derive(Default)]
pub(crate) struct LifecycleState {
    /// A buffer re-created after its reader died.
    pub(crate) replacement: Replacement,
    /// Stale resources set up before a creation.
    pub(crate) stale: Stale,
    /// The buffer of a graceful shutdown.
    pub(crate) shutdown: Shutdown,
    /// Create/destroy cycles.
    pub(crate) cycles: Cycles,
    /// Create/destroy cycles while a writer keeps connecting.
    pub(crate) under_load: UnderLoad,
}

/// What the new reader found at the buffer's names before creating it, and its name.
#[derive(Default)]
pub(crate) struct Replacement {
    pub(crate) buffer: Option<String>,
    pub(crate) found: Option<Leftovers>,
}

/// The stale objects pre-created for one name.
#[derive(Default)]
pub(crate) struct Stale {
    pub(crate) name: Option<String>,
    pub(crate) dead_pid: u64,
    /// Holds the stale lock file locked until the creation, so stale scans of readers created
    /// elsewhere on the host meanwhile leave our setup alone; released right before it.
    pub(crate) guard: Option<File>,
    /// Stale objects found in place right before the creation.
    pub(crate) present_before: Vec<String>,
}

/// The buffer "gracefully shutdown" closed.
#[derive(Default)]
pub(crate) struct Shutdown {
    pub(crate) buffer: Option<String>,
}

/// What "perform 'N' iterations of:" asked for and what the destroy step found.
#[derive(Default)]
pub(crate) struct Cycles {
    pub(crate) requested: Option<u64>,
    pub(crate) report: Option<CycleReport>,
}

#[derive(Default)]
pub(crate) struct UnderLoad {
    pub(crate) name: Option<String>,
    pub(crate) fds_before: usize,
    pub(crate) config: Option<BufferConfig>,
    pub(crate) cycles: u64,
    pub(crate) leaks: Vec<String>,
    pub(crate) lock_leftovers: Vec<String>,
    pub(crate) fds_after: usize,
    pub(crate) mappings_after: usize,
    pub(crate) stats: Option<ConnectorStats>,
}

/// Outcomes of the background connector.
#[derive(Debug, Default)]
pub(crate) struct ConnectorStats {
    pub(crate) attempts: u64,
    pub(crate) connected: u64,
    pub(crate) frames_written: u64,
    /// Expected refusals by kind.
    pub(crate) refusals: BTreeMap<&'static str, u64>,
    pub(crate) unexpected: Vec<String>,
}

impl ConnectorStats {
    pub(crate) fn refused(&mut self, kind: &'static str) {
        *self.refusals.entry(kind).or_default() += 1;
    }

    pub(crate) fn unexpected(&mut self, what: String) {
        if self.unexpected.len() < 10 {
            self.unexpected.push(what);
        }
    }
}

pub(crate) struct CycleReport {
    pub(crate) name: String,
    pub(crate) config: BufferConfig,
    pub(crate) iterations: u64,
    pub(crate) completed: u64,
    /// Objects other than lock files found after a destroy, with the iteration.
    pub(crate) leaks: Vec<String>,
    pub(crate) lock_leftovers: Vec<String>,
    pub(crate) fds_before: usize,
    pub(crate) fds_after: usize,
    pub(crate) mappings_after: usize,
}

impl CycleReport {
    pub(crate) fn check_after_destroy(&mut self, iteration: u64) {
        for path in leftovers(&self.name) {
            let entry = format!("{path} after destroy {iteration}");
            if path.ends_with(".lock") {
                self.lock_leftovers.push(entry);
            } else {
                self.leaks.push(entry);
            }
        }
    }
}
