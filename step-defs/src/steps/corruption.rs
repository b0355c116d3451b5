//! Group G of steps.md: feature 05, corruption detection. Raw writes into the OIEB and frame
//! headers, the reader dying during a write and the maximum frame size; wrap-around with wasted
//! space (5.5) is in [`wrap`], the "continuous free bytes" formula of protocol.md §3.7 (5.6) in
//! [`free_space`].

#![allow(
    unsafe_code,
    reason = "corrupts the OIEB and frame headers of a live segment (feature 05)"
)]

use std::sync::mpsc;
use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Result};
use cucumber::{then, when};
use zerobuffer::layout::{oieb as field, FrameHeader, OIEB_SIZE};
use zerobuffer::testdata::fill_frame_data;
use zerobuffer::{is_process_alive, Error};

use crate::captures::Number;
use crate::drivers::explain::Explain as _;
use crate::drivers::pending::PendingWrite;
use crate::drivers::ring::{corrupt_next_header, raw_buffer, HEADER};
use crate::drivers::streams::write_seeded;
use crate::state::faults::LargeWrite;
use crate::state::faults::MaxFrameWrite;
use crate::world::{ProcessState, ReceivedFrame, ZbWorld, JOIN_TIMEOUT, READ_TIMEOUT};

mod free_space;
mod wrap;

// ---- Helpers shared with sync.rs ------------------------------------------------------------

// ---- 5.1 Corrupted OIEB ----------------------------------------------------------------------

#[when(regex = r"^the test corrupts OIEB field '([^']*)' to wrong value$")]
fn corrupts_oieb_field(world: &mut ZbWorld, name: String) -> Result<()> {
    let raw = raw_buffer(world.current()?)?;
    let before = raw.oieb();
    let (offset, bytes): (usize, Vec<u8>) = match name.as_str() {
        // The README's obsolete OIEB table calls the first field "operation size".
        "oieb_size" | "operation_size" => (
            field::OIEB_SIZE,
            (2 * OIEB_SIZE as u32).to_le_bytes().to_vec(),
        ),
        "version" | "version_major" => (field::VERSION, vec![2]),
        // Sizes the segment cannot hold.
        "metadata_size" => (
            field::METADATA_SIZE,
            (raw.len() as u64).to_le_bytes().to_vec(),
        ),
        "payload_size" => (field::PAYLOAD_SIZE, 0u64.to_le_bytes().to_vec()),
        other => bail!(
            "no wrong value is defined for OIEB field '{other}' (known: oieb_size, \
             operation_size, version, metadata_size, payload_size)"
        ),
    };
    // SAFETY: OIEB bytes, which no reference of this process covers between library calls
    // (the library reads the OIEB through atomics during its calls).
    unsafe { raw.write(offset, &bytes) };
    ensure!(raw.oieb() != before, "the OIEB did not change");
    Ok(())
}

#[then(regex = r"^the connection should fail with invalid OIEB error$")]
fn connection_fails_invalid_oieb(world: &mut ZbWorld) -> Result<()> {
    let err = world.current()?.take_error("an invalid-OIEB error")?;
    // A wrong major version is the other way a writer refuses an OIEB (protocol.md §2.1).
    ensure!(
        matches!(
            err,
            Error::InvalidOieb(_) | Error::IncompatibleVersion { .. }
        ),
        "expected an invalid-OIEB error, got: {err}"
    );
    Ok(())
}

// ---- 5.2 / 6.1 Corrupted frame header and reading attempts ------------------------------------

#[when(regex = r"^the test corrupts frame header '([^']*)' to '([^']*)'$")]
fn corrupts_frame_header(world: &mut ZbWorld, name: String, value: Number<u64>) -> Result<()> {
    let value = value.0;
    let set: fn(&mut FrameHeader, u64) = match name.as_str() {
        "payload_size" | "size" => |h, v| h.payload_size = v,
        "sequence" | "sequence_number" => |h, v| h.sequence = v,
        other => bail!("a frame header has no field '{other}' (payload_size, sequence)"),
    };
    corrupt_next_header(world.current()?, |h| set(h, value)).map(drop)
}

#[when(regex = r"^the '([^']*)' process attempts to read frame$")]
fn attempts_to_read(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let reader = state.reader()?;
    state.last_error = None;
    match reader.read_frame(READ_TIMEOUT) {
        Ok(frame) => {
            state.last_frame = Some(ReceivedFrame {
                sequence: frame.sequence(),
                data: frame.to_vec(),
            })
        }
        Err(e) => state.last_error = Some(e),
    }
    Ok(())
}

#[then(regex = r"^the read should fail with invalid frame size error$")]
fn read_fails_invalid_frame_size(world: &mut ZbWorld) -> Result<()> {
    let err = world.current()?.take_error("an invalid-frame-size error")?;
    // A zero size at read_pos reads as a wrap marker followed by another zero size ("Invalid
    // frame size: 0"); an oversized one as a frame that leaves the ring.
    match &err {
        Error::InvalidFrameHeader(text)
            if text.contains("Invalid frame size")
                || text.contains("Frame extends past buffer boundary") =>
        {
            Ok(())
        }
        _ => bail!("expected an invalid-frame-size error, got: {err}"),
    }
}

// ---- 5.3 Reader death during a write ---------------------------------------------------------

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
fn starts_writing_large_frame(
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

// ---- 5.7 Maximum frame size -------------------------------------------------------------------

#[when(regex = r"^writes frame matching exactly payload size minus header$")]
fn writes_max_frame(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    // Filled in place: only the shared pages are touched, no 100 MiB copy is allocated.
    let write = state.with_writer(|w| {
        let len = (w.payload_size() - HEADER) as usize;
        let before = w.oieb_snapshot();
        let result = write_seeded(w, len);
        MaxFrameWrite {
            len,
            before,
            after: w.oieb_snapshot(),
            result,
        }
    })?;
    state.faults.max_frame.write = Some(write);
    Ok(())
}

#[then(regex = r"^the '([^']*)' process should verify frame was written successfully$")]
fn max_frame_written(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let write = state
        .faults
        .max_frame
        .write
        .take()
        .context("no maximum-size frame was written")?;
    let sequence = match write.result {
        Ok(sequence) => sequence,
        Err(e) => bail!("writing the {}-byte frame failed: {e}", write.len),
    };
    let (before, after) = (write.before, write.after);
    let total = HEADER + write.len as u64;
    ensure!(
        after.payload_written_count == before.payload_written_count + 1,
        "the written count went from {} to {}",
        before.payload_written_count,
        after.payload_written_count
    );
    ensure!(
        after.payload_free_bytes + total == before.payload_free_bytes,
        "free bytes went from {} to {}, expected a drop of {total}",
        before.payload_free_bytes,
        after.payload_free_bytes
    );
    let header = raw_buffer(state)?.frame_header(before.payload_write_pos);
    let expected = FrameHeader {
        payload_size: write.len as u64,
        sequence,
    };
    ensure!(
        header == expected,
        "the ring holds {header:?}, expected {expected:?}"
    );
    Ok(())
}

#[when(regex = r"^the '([^']*)' process attempts to write frame exceeding payload size$")]
fn attempts_oversized_frame(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let (len, error) = state.with_writer(|w| {
        let len = (w.payload_size() - HEADER + 1) as usize;
        // A granted slot would be dropped uncommitted here, leaving no trace.
        (len, w.get_frame_buffer(len).err())
    })?;
    state.faults.max_frame.attempted = Some(len);
    state.last_error = error;
    Ok(())
}

#[then(regex = r"^the '([^']*)' process write should be rejected with appropriate error$")]
fn oversized_frame_rejected(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let attempted = state
        .faults
        .max_frame
        .attempted
        .context("no oversized write was attempted")?;
    let payload = state.with_writer(|w| w.payload_size())?;
    let err = state.take_error("a frame-too-large error")?;
    match err {
        Error::FrameTooLarge { len, max } if len == attempted && max == payload - HEADER => Ok(()),
        _ => bail!(
            "expected FrameTooLarge for {attempted} bytes (at most {}), got: {err}",
            payload - HEADER
        ),
    }
}
