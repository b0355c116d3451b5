//! The one World of the suite: per-process state keyed by the process name in the step.
//!
//! The local runner keeps every process of a scenario ('reader', 'writer', 'server', ...) in
//! one World; a serve keeps only the ones whose steps reach it. Either way a step acts on the
//! state of the process its text names, so the same step functions serve both.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use anyhow::{anyhow, bail, Result};
use zerobuffer::{Abandon as _, DuplexClient, DuplexServer, Reader, Writer};

use crate::drivers::crash;
use crate::drivers::explain::Explain as _;
use crate::drivers::jobs::Jobs;
use crate::drivers::naming::BufferNames;
use crate::state::buffers::BuffersState;
use crate::state::duplex::Duplex;
use crate::state::faults::FaultsState;
use crate::state::frames::FramesState;
use crate::state::inspection::InspectionState;
use crate::state::lifecycle::LifecycleState;
use crate::state::measurement::MeasurementState;
use crate::state::metadata::MetadataState;

pub use crate::drivers::poll::{JOIN_TIMEOUT, READ_TIMEOUT, WRITE_TIMEOUT};
pub use crate::state::{ReceivedFrame, SharedWriter};

/// Everything one named process holds.
pub struct ProcessState {
    pub name: String,
    /// Mangled name of the buffer this process created or connected to last.
    pub buffer: Option<String>,
    pub reader: Option<Arc<Reader>>,
    pub writer: Option<SharedWriter>,
    pub duplex_server: Option<DuplexServer>,
    pub duplex_client: Option<Arc<DuplexClient>>,
    /// The frame read by the last reading step.
    pub last_frame: Option<ReceivedFrame>,
    /// Frames recorded by reading steps, in order (cleared by steps that start a new series).
    pub received: Vec<ReceivedFrame>,
    /// The error kept by an "attempts to ..." step for a later "should fail ..." step.
    pub last_error: Option<zerobuffer::Error>,
    /// Background work started by BG steps.
    pub jobs: Jobs,
    // What each subject's steps keep between steps (see `crate::state`).
    pub(crate) buffers: BuffersState,
    pub(crate) frames: FramesState,
    pub(crate) metadata: MetadataState,
    pub(crate) lifecycle: LifecycleState,
    pub(crate) duplex: Duplex,
    pub(crate) faults: FaultsState,
    pub(crate) inspection: InspectionState,
    pub(crate) measurement: MeasurementState,
}

impl ProcessState {
    fn new(name: &str) -> Self {
        ProcessState {
            name: name.to_owned(),
            buffer: None,
            reader: None,
            writer: None,
            duplex_server: None,
            duplex_client: None,
            last_frame: None,
            received: Vec::new(),
            last_error: None,
            jobs: Jobs::default(),
            buffers: BuffersState::default(),
            frames: FramesState::default(),
            metadata: MetadataState::default(),
            lifecycle: LifecycleState::default(),
            duplex: Duplex::default(),
            faults: FaultsState::default(),
            inspection: InspectionState::default(),
            measurement: MeasurementState::default(),
        }
    }

    /// Drops what the subjects' steps kept. Loans first: a pending zero-copy write holds its
    /// writer's lock until it is dropped (which abandons it), so it goes before the writer.
    fn drop_subject_state(&mut self) {
        self.frames.zero_copy = Default::default();
        self.faults.active_write = Default::default();
        self.frames = FramesState::default();
        self.metadata = MetadataState::default();
        self.buffers = BuffersState::default();
        self.lifecycle = LifecycleState::default();
        self.duplex = Duplex::default();
        self.faults = FaultsState::default();
        self.inspection = InspectionState::default();
        self.measurement = MeasurementState::default();
    }

    /// The reader this process owns.
    pub fn reader(&self) -> Result<Arc<Reader>> {
        self.reader.clone().ok_or_else(|| {
            anyhow!(
                "the '{}' process has no reader (no buffer created)",
                self.name
            )
        })
    }

    /// The writer this process holds.
    pub fn writer(&self) -> Result<SharedWriter> {
        self.writer
            .clone()
            .ok_or_else(|| anyhow!("the '{}' process has no writer (not connected)", self.name))
    }

    /// Runs `f` with this process's writer, waiting at most `JOIN_TIMEOUT` if a background
    /// job is using it.
    pub fn with_writer<T>(&self, f: impl FnOnce(&mut Writer) -> T) -> Result<T> {
        let shared = self.writer()?;
        let mut guard = shared
            .try_lock_for(JOIN_TIMEOUT)
            .ok_or_else(|| anyhow!("the '{}' writer stayed busy in a background job", self.name))?;
        let writer = guard.as_mut().ok_or_else(|| {
            anyhow!(
                "the '{}' writer is closed (or lent to a write in progress)",
                self.name
            )
        })?;
        Ok(f(writer))
    }

    /// The mangled buffer name this process works on.
    pub fn buffer(&self) -> Result<&str> {
        self.buffer
            .as_deref()
            .ok_or_else(|| anyhow!("the '{}' process has no buffer yet", self.name))
    }

    /// Takes the kept error of an "attempts to ..." step.
    pub fn take_error(&mut self, what: &str) -> Result<zerobuffer::Error> {
        self.last_error.take().ok_or_else(|| {
            anyhow!(
                "expected {what}, but the '{}' process's attempt succeeded",
                self.name
            )
        })
    }

    /// Closes everything this process holds, gracefully, in this order: background work
    /// (bounded), what the steps kept (held loans first), duplex endpoints, writer, reader.
    fn close(&mut self) -> Result<()> {
        let jobs = self.jobs.stop_all(JOIN_TIMEOUT);
        self.drop_subject_state();
        if let Some(mut server) = self.duplex_server.take() {
            let _ = server.stop();
        }
        self.duplex_client = None;
        if let Some(writer) = self.writer.take() {
            match writer.try_lock_for(JOIN_TIMEOUT) {
                Some(mut guard) => drop(guard.take()),
                None => tracing::warn!(process = %self.name, "writer still busy at the end"),
            }
        }
        self.reader = None;
        jobs
    }
}

impl fmt::Debug for ProcessState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessState")
            .field("name", &self.name)
            .field("buffer", &self.buffer)
            .field("reader", &self.reader.is_some())
            .field("writer", &self.writer.is_some())
            .field("received", &self.received.len())
            .field("last_error", &self.last_error)
            .finish()
    }
}

/// The scenario's state.
#[derive(cucumber::World)]
pub struct ZbWorld {
    processes: BTreeMap<String, ProcessState>,
    /// The process named last: subject-less steps act on it, as Harmony routes them.
    current: Option<String>,
    pub names: BufferNames,
    /// Set by a serve: a table step that arrives without its table was sent by an
    /// orchestrator that drops tables (upstream Harmony), so it may use its built-in rows
    /// (see [`crate::drivers::tables`]). Never set in-process.
    pub tables_may_be_dropped: bool,
}

impl ZbWorld {
    pub fn new() -> Self {
        ZbWorld {
            processes: BTreeMap::new(),
            current: None,
            names: BufferNames::from_environment(),
            tables_may_be_dropped: false,
        }
    }

    /// The state of process `name`, created on first use; it becomes the current process.
    pub fn process(&mut self, name: &str) -> &mut ProcessState {
        self.current = Some(name.to_owned());
        self.processes
            .entry(name.to_owned())
            .or_insert_with(|| ProcessState::new(name))
    }

    /// Makes `name` the current process unless a step has already named one: a serve is one
    /// role, so a step without a process phrase acts as that role until a step names another.
    pub fn default_process(&mut self, name: &str) {
        if self.current.is_none() {
            self.process(name);
        }
    }

    /// The process named by the last step that named one (for subject-less steps).
    pub fn current(&mut self) -> Result<&mut ProcessState> {
        let name = self
            .current
            .clone()
            .context("the step names no process and no earlier step named one")?;
        Ok(self.process(&name))
    }

    /// An existing process, without making it current.
    pub fn existing(&mut self, name: &str) -> Result<&mut ProcessState> {
        self.processes
            .get_mut(name)
            .ok_or_else(|| anyhow!("no step has used the '{name}' process yet"))
    }

    /// Every process of the scenario.
    pub fn processes(&mut self) -> impl Iterator<Item = &mut ProcessState> {
        self.processes.values_mut()
    }

    /// The mangled name of buffer `base` (see [`BufferNames`]).
    pub fn buffer_name(&mut self, base: &str) -> String {
        self.names.resolve(base)
    }

    /// Simulates the abrupt death of process `name` in-process: its background work is
    /// stopped, and its endpoints are abandoned without any graceful close, with their PIDs in
    /// the OIEB replaced by the PID of a reaped child, so peers see exactly what a killed
    /// process leaves behind. (Under an orchestrator real processes are killed instead.)
    pub fn crash(&mut self, name: &str) -> Result<()> {
        self.existing(name)?;
        // The step names the process, so later subject-less steps go to it (as Harmony routes).
        let state = self.process(name);
        let jobs = state.jobs.stop_all(JOIN_TIMEOUT);
        let dead = zerobuffer_test_support::dead_pid()?;
        if let Some(writer) = state.writer.take() {
            if let Some(writer) = writer.lock().take() {
                let buffer = writer.name().to_owned();
                writer.abandon()?;
                crash::mark_writer_dead(&buffer, dead)?;
            }
        }
        if let Some(reader) = state.reader.take() {
            let reader = Arc::try_unwrap(reader)
                .map_err(|_| anyhow!("the '{name}' reader is still in use by other work"))?;
            let buffer = reader.name().to_owned();
            reader.abandon()?;
            crash::mark_reader_dead(&buffer, dead)?;
        }
        // A server's handler may be running: it is not interrupted, but may send nothing more.
        let server = match state.duplex_server.take() {
            Some(server) => {
                let channel = server.channel().to_owned();
                server
                    .abandon()
                    .context("the crashed duplex server's thread did not end")
                    .and_then(|()| crash::mark_server_dead(&channel, dead))
            }
            None => Ok(()),
        };
        if let Some(client) = state.duplex_client.take() {
            let client = Arc::try_unwrap(client)
                .map_err(|_| anyhow!("the '{name}' duplex client is still in use by other work"))?;
            let channel = client.channel().to_owned();
            client.abandon()?;
            crash::mark_client_dead(&channel, dead)?;
        }
        state.last_frame = None;
        server?;
        jobs.context("background work of the crashed process")
    }

    /// Ends the scenario: joins background work (reporting its errors), closes every
    /// endpoint and removes what the scenario created. Safe to call more than once.
    pub fn finish(&mut self) -> Result<()> {
        let mut errors = Vec::new();
        for state in self.processes.values_mut() {
            if let Err(e) = state.close() {
                errors.push(format!("'{}': {e}", state.name));
            }
        }
        self.processes.clear();
        self.current = None;
        self.names.remove_all();
        if !errors.is_empty() {
            bail!("background work failed: {}", errors.join("; "));
        }
        Ok(())
    }
}

impl Default for ZbWorld {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for ZbWorld {
    fn drop(&mut self) {
        if let Err(e) = self.finish() {
            tracing::warn!("{e}");
        }
    }
}

impl fmt::Debug for ZbWorld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZbWorld")
            .field("processes", &self.processes)
            .field("current", &self.current)
            .finish()
    }
}
