//! A process dying, and what its peer detects: the writer killed mid-write or while the
//! reader is blocked (10.3, 10.4), the reader dying during a write (5.3).

use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Result};
use cucumber::{then, when};
use zerobuffer::testdata::{fill_frame_data, frame_data};
use zerobuffer::{is_process_alive, Error};

use crate::captures::{Number, Seconds};
use crate::drivers::endpoints::write_with_timeout;
use crate::drivers::explain::Explain as _;
use crate::drivers::pending::PendingWrite;
use crate::drivers::ring::HEADER;
use crate::drivers::streams::write_seeded;
use crate::state::faults::LargeWrite;
use crate::world::{ProcessState, ZbWorld, JOIN_TIMEOUT, READ_TIMEOUT, WRITE_TIMEOUT};

#[when(regex = r"^the '(.*)' process is killed$")]
#[when(regex = r"^the '(.*)' process crashes$")]
#[when(regex = r"^the '([^']*)' process crashes while write in progress$")]
#[when(regex = r"^the '([^']*)' process is killed while write in progress$")]
#[when(regex = r"^the '([^']*)' process crashes while reader blocked$")]
fn process_dies(world: &mut ZbWorld, process: String) -> Result<()> {
    world.crash(&process)
}

#[when(regex = r"^the '([^']*)' process starts writing large frame '([^']*)' bytes$")]
fn starts_writing_large_frame(
    world: &mut ZbWorld,
    process: String,
    size: Number<usize>,
) -> Result<()> {
    let size = size.0;
    let state = world.process(&process);
    // Reserved and filled in place, not yet committed: the write is in progress.
    let pending = PendingWrite::start(state.writer()?, size, fill_frame_data)?;
    state.faults.active_write.pending = Some(pending);
    Ok(())
}

#[when(regex = r"^the '([^']*)' process detects reader death on next operation$")]
fn detects_reader_death_next(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    // The write in progress completes first: a commit does not look at the reader.
    let size = match state.faults.active_write.pending.take() {
        Some(pending) => {
            let size = pending.len;
            pending
                .commit()
                .context("completing the write in progress")?;
            size
        }
        None => 1024,
    };
    // The next write of the same size needs space only the dead reader could free.
    match write_with_timeout(state, &frame_data(size, 0), WRITE_TIMEOUT)? {
        Err(e @ Error::ReaderDead) => {
            state.last_error = Some(e);
            Ok(())
        }
        Err(e) => bail!("expected reader death, the next write failed with: {e}"),
        Ok(seq) => bail!("the next write succeeded (frame {seq}) although the reader is dead"),
    }
}

/// The blocked read: its result and how long it waited.
type BlockedRead = (Result<u64, Error>, Duration);

#[when(regex = r"^the '([^']*)' process waits on semaphore for data$")]
fn waits_on_semaphore(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let reader = state.reader()?;
    ensure!(
        reader.pending_frames()? == 0,
        "data is already waiting: the read would not block"
    );
    state.jobs.spawn("wait-for-data", move |_stop| {
        let started = Instant::now();
        let result = reader.read_frame(READ_TIMEOUT).map(|f| f.sequence());
        Ok::<BlockedRead, anyhow::Error>((result, started.elapsed()))
    })
}

#[then(
    regex = r"^the '([^']*)' process should detect writer death after timeout '([^']*)' seconds$"
)]
fn detects_writer_death_after(
    world: &mut ZbWorld,
    process: String,
    seconds: Seconds,
) -> Result<()> {
    let limit = seconds.0;
    let state = world.process(&process);
    // A little margin for scheduling on a busy machine.
    let (result, waited): BlockedRead = state
        .jobs
        .join("wait-for-data", limit + Duration::from_secs(2))
        .with_context(|| format!("the blocked read did not end within {limit:?}"))?;
    match result {
        Ok(seq) => bail!("the blocked read returned frame {seq} instead of detecting death"),
        Err(Error::Timeout(_)) => {
            bail!("the blocked read timed out after {waited:?} without detecting writer death")
        }
        Err(e) => {
            ensure!(
                waited <= limit + Duration::from_secs(1),
                "the death was detected only after {waited:?}"
            );
            state.last_error = Some(e);
        }
    }
    Ok(())
}

#[then(regex = r"^the '([^']*)' process should throw writer dead exception$")]
fn throws_writer_dead(world: &mut ZbWorld, process: String) -> Result<()> {
    let err = world.process(&process).take_error("a writer-dead error")?;
    ensure!(
        matches!(err, Error::WriterDead),
        "expected a writer-dead error, got: {err}"
    );
    Ok(())
}

const LARGE_WRITE_JOB: &str = "large-write";

/// Reserves and fills a `size`-byte frame without committing it (see `PendingWrite`).
///
/// The pending write holds the writer until it is committed. A job keeps it, so that a
/// scenario ending early (which stops jobs before it closes the writer) abandons the write
/// instead of waiting for the writer forever.
pub(crate) fn start_large_write(state: &mut ProcessState, size: usize) -> Result<()> {
    ensure!(size > 0, "a frame needs at least one byte");
    ensure!(
        !state.jobs.is_running(LARGE_WRITE_JOB),
        "a large write is already in progress"
    );
    let written_before = state.with_writer(|w| w.oieb_snapshot().payload_written_count)?;
    let pending = PendingWrite::start(state.writer()?, size, fill_frame_data)?;
    let sequence = pending.sequence;
    let (commit, commands) = mpsc::channel::<()>();
    state.jobs.spawn(LARGE_WRITE_JOB, move |stop| loop {
        match commands.recv_timeout(Duration::from_millis(20)) {
            Ok(()) => return pending.commit().map(Some),
            Err(mpsc::RecvTimeoutError::Timeout) if !stop.is_set() => {}
            Err(_) => {
                drop(pending); // abandons the reserved slot
                return Ok(None);
            }
        }
    })?;
    state.faults.large_write = LargeWrite {
        commit: Some(commit),
        sequence,
        written_before,
        len: Some(size),
    };
    Ok(())
}

#[when(regex = r"^the '([^']*)' process starts writing large frame of '([^']*)' bytes$")]
fn starts_large_frame_write(
    world: &mut ZbWorld,
    process: String,
    size: Number<usize>,
) -> Result<()> {
    start_large_write(world.process(&process), size.0)
}

#[when(regex = r"^the '([^']*)' process completes write operation$")]
fn completes_write(world: &mut ZbWorld, process: String) -> Result<()> {
    commit_large_write(world.process(&process)).map(drop)
}

/// Commits the write started by [`start_large_write`]; returns its sequence number.
pub(crate) fn commit_large_write(state: &mut ProcessState) -> Result<u64> {
    let large = &mut state.faults.large_write;
    let commit = large.commit.take().context("no write is in progress")?;
    let (expected, written_before) = (large.sequence, large.written_before);
    // Reader death is not noticed here: a commit never waits, so it succeeds.
    commit
        .send(())
        .map_err(|_| anyhow!("the write in progress was abandoned"))?;
    let sequence = state
        .jobs
        .join::<Option<u64>>(LARGE_WRITE_JOB, JOIN_TIMEOUT)?
        .context("the write in progress was abandoned")?;
    ensure!(
        sequence == expected,
        "committed as {sequence}, reserved as {expected}"
    );
    let written = state.with_writer(|w| w.oieb_snapshot().payload_written_count)?;
    ensure!(
        written > written_before,
        "the commit did not publish the frame (written count still {written})"
    );
    Ok(sequence)
}

/// Writers check the reader's liveness only while they wait for space (protocol.md §4.3): a
/// write that fits succeeds even with a dead reader. So the next operation writes frames of
/// the last large write's size until one has to wait, which is bounded by the free space;
/// that wait finds the reader's PID dead within one 100 ms slice. (In 5.3 the first attempt
/// already waits: the unread 8 KiB frame leaves no room for another.)
#[when(regex = r"^the '([^']*)' process attempts next operation$")]
fn attempts_next_operation(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    state.last_error = next_write_error(state)?;
    Ok(())
}

/// Writes frames of the last large write's size (1 KiB without one) until one fails, at most
/// as many as the free space holds plus two; returns that failure, `None` if all succeeded.
pub(crate) fn next_write_error(state: &mut ProcessState) -> Result<Option<Error>> {
    let len = state.faults.large_write.len.unwrap_or(1024);
    let (attempts, error) = state.with_writer(|w| {
        let limit = w.oieb_snapshot().payload_free_bytes / (HEADER + len as u64) + 2;
        for attempt in 1..=limit {
            if let Err(e) = write_seeded(w, len) {
                return (attempt, Some(e));
            }
        }
        (limit, None)
    })?;
    tracing::debug!(attempts, ?error, "writes after the reader's death");
    Ok(error)
}

#[then(regex = r"^the '([^']*)' process should detect reader death$")]
fn detects_reader_death(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    match &state.last_error {
        Some(Error::ReaderDead) => {}
        Some(e) => bail!("expected the writer to detect the reader's death, got: {e}"),
        None => bail!("the writer's next operation succeeded; it did not detect the dead reader"),
    }
    // Detected by the liveness check: a crashed reader leaves its PID behind (a graceful
    // close would have cleared it).
    let pid = state.with_writer(|w| w.oieb_snapshot().reader_pid)?;
    ensure!(
        pid != 0 && !is_process_alive(pid),
        "the OIEB's reader PID is {pid}, not the PID of a dead process"
    );
    Ok(())
}

#[then(regex = r"^the '([^']*)' process should throw reader dead exception$")]
fn throws_reader_dead(world: &mut ZbWorld, process: String) -> Result<()> {
    let err = world.process(&process).take_error("a reader-dead error")?;
    ensure!(
        matches!(err, Error::ReaderDead),
        "expected a reader-dead error, got: {err}"
    );
    Ok(())
}
