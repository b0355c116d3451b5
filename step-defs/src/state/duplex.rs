//! Per-process state of the duplex steps: requests sent, responses received, the handler's log.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use parking_lot::{Condvar, Mutex};
use zerobuffer::duplex::{ClientReturned, OwnedRequestSlot};
use zerobuffer::testdata::fill_frame_data;
use zerobuffer::{DuplexClient, ProcessingMode};

use crate::drivers::alloc_counter::thread_allocations;
use crate::state::ReceivedFrame;

/// This group's per-process state.
#[derive(Default)]
pub(crate) struct Duplex {
    // Client side.
    /// Requests sent, by sequence number (which their responses carry).
    pub(crate) sent: BTreeMap<u64, Vec<u8>>,
    /// Responses received, in arrival order.
    pub(crate) responses: Vec<ReceivedFrame>,
    /// When the current batch of requests started ("measures total response time").
    pub(crate) batch_started: Option<Instant>,
    pub(crate) measured: Option<Duration>,
    pub(crate) zero_copy: Option<ZeroCopyRequest>,
    /// Sequence of the committed zero-copy request and its allocation counts per phase.
    pub(crate) zero_copy_sent: Option<(u64, Allocations)>,
    // Server side.
    pub(crate) mode: ProcessingMode,
    pub(crate) log: Arc<HandlerLog>,
    /// The response write "should block on response write" saw blocked.
    pub(crate) blocked_attempt: Option<usize>,
    /// Set by "a new 'server' process creates ...".
    pub(crate) new_server: bool,
}

/// Heap allocations counted per phase of a zero-copy send (`None`: no counting allocator).
pub(crate) type Allocations = Vec<(&'static str, Option<u64>)>;

/// What a handler did, written on the server's thread and read by the steps.
#[derive(Default)]
pub(crate) struct HandlerLog {
    pub(crate) state: Mutex<LogState>,
    pub(crate) changed: Condvar,
}

#[derive(Default)]
pub(crate) struct LogState {
    /// Response writes in order.
    pub(crate) attempts: Vec<Attempt>,
    /// The request during which the handler crashed the server, if it did.
    pub(crate) crashed_during: Option<u64>,
}

pub(crate) struct Attempt {
    pub(crate) request: u64,
    pub(crate) len: usize,
    /// Time from the request's arrival to the start of this write (the processing time).
    pub(crate) processing: Duration,
    pub(crate) started: Instant,
    /// `None` while the write is in progress; the error text and whether it means a dead client.
    pub(crate) outcome: Option<std::result::Result<u64, (String, bool)>>,
}

impl HandlerLog {
    pub(crate) fn update<T>(&self, f: impl FnOnce(&mut LogState) -> T) -> T {
        let result = f(&mut self.state.lock());
        self.changed.notify_all();
        result
    }

    /// Waits up to `timeout` until `ready` returns `Some`.
    pub(crate) fn wait_for<T>(
        &self,
        timeout: Duration,
        mut ready: impl FnMut(&LogState) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut state = self.state.lock();
        loop {
            if let Some(v) = ready(&state) {
                return Some(v);
            }
            if self.changed.wait_until(&mut state, deadline).timed_out() {
                return ready(&state);
            }
        }
    }
}

/// A zero-copy request in progress: the reserved slot owns the client between the acquire,
/// fill and commit steps, and the allocations each library call makes are counted on the
/// step's thread. Dropped uncommitted (the scenario ended first), the slot is abandoned and
/// the client it owns closed, so the end of the scenario finds nothing left behind.
pub(crate) struct ZeroCopyRequest {
    pub(crate) slot: OwnedRequestSlot,
    pub(crate) allocations: Allocations,
    pub(crate) filled: bool,
}

/// Allocations `f` makes on this thread (`None` without the counting allocator).
pub(crate) fn counting<T>(f: impl FnOnce() -> T) -> (T, Option<u64>) {
    let before = thread_allocations();
    let value = f();
    let after = thread_allocations();
    (value, before.zip(after).map(|(b, a)| a - b))
}

impl ZeroCopyRequest {
    /// Reserves the request; a request that cannot be reserved gives the client back.
    pub(crate) fn start(
        client: DuplexClient,
        len: usize,
    ) -> std::result::Result<ZeroCopyRequest, ClientReturned> {
        let (slot, allocations) = counting(|| client.into_request_slot(len));
        let slot = slot?;
        Ok(ZeroCopyRequest {
            slot,
            allocations: vec![("acquire", allocations)],
            filled: false,
        })
    }

    pub(crate) fn fill(&mut self) {
        let ((), allocations) = counting(|| fill_frame_data(&mut self.slot, 0));
        self.allocations.push(("fill", allocations));
        self.filled = true;
    }

    /// Commits; returns the client, the sequence and the allocations of every phase.
    pub(crate) fn commit(self) -> Result<(DuplexClient, u64, Allocations)> {
        let ZeroCopyRequest {
            slot,
            mut allocations,
            ..
        } = self;
        let reserved = slot.sequence();
        let ((client, sequence), committing) = counting(|| slot.commit());
        allocations.push(("commit", committing));
        ensure!(
            sequence == reserved,
            "committed as {sequence}, reserved as {reserved}"
        );
        Ok((client, sequence, allocations))
    }
}
