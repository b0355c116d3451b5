//! Synchronization (feature 06): a burst read after a pause (6.2), flow control against a
//! slow reader (6.3), and the `sem-w` count against unread frames (6.4).

use std::thread;
use std::time::Duration;

use anyhow::{ensure, Result};
use cucumber::{then, when};

use crate::captures::{Millis, Number};
use crate::drivers::endpoints::read_next;
use crate::drivers::explain::Explain as _;
use crate::drivers::patterns::{check_consecutive, check_seeded};
use crate::drivers::ring::{
    ensure_all_taken, ensure_space_given_back, raw_buffer, unread_entries, HEADER,
};
use crate::drivers::streams::{read_stream, write_seeded};
use crate::state::frames::PacedFlowStats;
use crate::world::{ProcessState, ZbWorld, JOIN_TIMEOUT, READ_TIMEOUT};

// ---- 6.1 Sequence gap -------------------------------------------------------------------------

// ---- 6.2 Burst read after a pause -------------------------------------------------------------

#[when(regex = r"^the '([^']*)' process waits '([^']*)' second before reading$")]
fn waits_before_reading(world: &mut ZbWorld, process: String, seconds: Number<f64>) -> Result<()> {
    world.process(&process).reader()?;
    let seconds = seconds.0;
    ensure!(
        (0.0..=60.0).contains(&seconds),
        "a wait of {seconds} s is out of range"
    );
    thread::sleep(Duration::from_secs_f64(seconds));
    Ok(())
}

#[when(regex = r"^the '([^']*)' process reads all '([^']*)' frames$")]
fn reads_all_frames(world: &mut ZbWorld, process: String, count: Number<usize>) -> Result<()> {
    let count = count.0;
    let state = world.process(&process);
    state.received.clear();
    for i in 1..=count {
        let frame =
            read_next(state, READ_TIMEOUT).with_context(|| format!("frame {i} of {count}"))?;
        state.received.push(frame);
    }
    state.frames.burst.0 = Some(count);
    Ok(())
}

#[then(regex = r"^all frames should be received correctly$")]
fn all_frames_received(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    let expected = state
        .frames
        .burst
        .0
        .context("no 'reads all frames' step ran")?;
    ensure!(
        state.received.len() == expected,
        "received {} frames, expected {expected}",
        state.received.len()
    );
    check_consecutive(&state.received, 1)
}

#[then(regex = r"^data integrity should be maintained$")]
fn data_integrity_maintained(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    ensure!(!state.received.is_empty(), "no frames were received");
    state
        .received
        .iter()
        .try_for_each(|frame| check_seeded(frame, frame.sequence))
}

// ---- 6.3 Flow control against a slow reader ---------------------------------------------------

const FLOW_JOB: &str = "continuous-writer";
/// Frame size of the continuous writer: a 50 KiB ring holds 12 of them, so a few seconds of a
/// 100 ms reader cover the ring twice.
const FLOW_FRAME: usize = 4096;

/// Writes seeded frames in the background: twice what the ring holds, plus one, so it must
/// fill the ring and then wait for the reader. Then it leaves (the reader sees the stream end).
#[when(regex = r"^the '([^']*)' process writes frames continuously$")]
fn writes_continuously(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let total = HEADER + FLOW_FRAME as u64;
    let payload = state.with_writer(|w| w.payload_size())?;
    let limit = 2 * (payload / total) + 1;
    let writer = state.writer()?;
    state.jobs.spawn(FLOW_JOB, move |stop| {
        let mut stats = PacedFlowStats {
            limit,
            ..PacedFlowStats::default()
        };
        while stats.written < limit {
            ensure!(
                !stop.is_set(),
                "stopped after {} of {limit} frames",
                stats.written
            );
            let mut guard = writer.lock();
            let w = guard.as_mut().context("the writer was closed")?;
            let full = w.oieb_snapshot().payload_free_bytes < total;
            write_seeded(w, FLOW_FRAME)
                .with_context(|| format!("writing frame {} of {limit}", stats.written + 1))?;
            stats.written += 1;
            stats.blocked += u64::from(full);
        }
        writer.lock().take();
        Ok(stats)
    })
}

#[when(regex = r"^the '([^']*)' process reads one frame every '([^']*)' ms$")]
fn reads_one_frame_every(world: &mut ZbWorld, process: String, delay: Millis) -> Result<()> {
    let delay = delay.0;
    let state = world.process(&process);
    state.received.clear();
    // Until the writer has left and everything is read; bounded in any case.
    if let Some(e) = read_stream(state, delay)? {
        return Err(e).context("reading the stream");
    }
    let first = state.received.first().context("no frame arrived")?.sequence;
    check_consecutive(&state.received, first)?;
    state
        .received
        .iter()
        .try_for_each(|frame| check_seeded(frame, frame.sequence))
}

/// The continuous writer's statistics, joining it on first use.
fn flow_stats(state: &mut ProcessState) -> Result<PacedFlowStats> {
    if let Some(stats) = state.frames.paced_flow.0 {
        return Ok(stats);
    }
    let stats: PacedFlowStats = state.jobs.join(FLOW_JOB, JOIN_TIMEOUT)?;
    state.frames.paced_flow.0 = Some(stats);
    Ok(stats)
}

#[then(regex = r"^the '([^']*)' process should block when buffer full$")]
fn blocks_when_full(world: &mut ZbWorld, process: String) -> Result<()> {
    let stats = flow_stats(world.process(&process))?;
    ensure!(
        stats.blocked > 0,
        "none of the {} writes found the buffer full",
        stats.written
    );
    Ok(())
}

#[then(regex = r"^flow control should work correctly$")]
fn flow_control_works(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    let stats = flow_stats(state)?;
    ensure!(
        stats.written == stats.limit && stats.blocked > 0,
        "the writer wrote {} of {} frames, {} of them after waiting for space",
        stats.written,
        stats.limit,
        stats.blocked
    );
    // The writer has left; the OIEB shows what the reader did with its frames.
    let oieb = raw_buffer(state)?.oieb();
    ensure_all_taken(&oieb)?;
    ensure_space_given_back(&oieb)
}

// ---- 6.4 Signal ordering ----------------------------------------------------------------------

const SIGNAL_FRAME: usize = 1024;

#[when(regex = r"^the '([^']*)' process writes frame and signal$")]
fn writes_frame_and_signal(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let (sequence, read_count) = state.with_writer(|w| -> Result<(u64, u64)> {
        // Committing posts sem-w once for the frame.
        let sequence = write_seeded(w, SIGNAL_FRAME)?;
        Ok((sequence, w.oieb_snapshot().payload_read_count))
    })??;
    state.frames.first_signal.0 = Some((sequence, read_count));
    Ok(())
}

#[when(regex = r"^the '([^']*)' process immediately writes another frame before reader wakes$")]
fn writes_another_frame(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let (first, read_count) = state
        .frames
        .first_signal
        .0
        .context("no frame was written by 'writes frame and signal'")?;
    let (sequence, reads_before) = state.with_writer(|w| -> Result<(u64, u64)> {
        let reads_before = w.oieb_snapshot().payload_read_count;
        Ok((write_seeded(w, SIGNAL_FRAME)?, reads_before))
    })??;
    ensure!(
        reads_before == read_count,
        "the reader took the first frame before the second was written"
    );
    ensure!(
        sequence == first + 1,
        "the frames got sequences {first} and {sequence}"
    );
    Ok(())
}

/// Frames committed but not taken by the reader, found by walking the ring.
fn unread_frames(state: &ProcessState) -> Result<u64> {
    let raw = raw_buffer(state)?;
    Ok(unread_entries(&raw)?.iter().filter(|e| e.frame).count() as u64)
}

#[then(regex = r"^the '([^']*)' process should process both frames correctly$")]
fn processes_both_frames(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let signals = state.reader()?.pending_frames()?;
    let unread = unread_frames(state)?;
    state.frames.before_drain.0 = Some((signals, unread));
    let first = read_next(state, READ_TIMEOUT).context("the first frame")?;
    let second = read_next(state, READ_TIMEOUT).context("the second frame")?;
    check_consecutive(&[first.clone(), second.clone()], first.sequence)?;
    check_seeded(&first, first.sequence)?;
    check_seeded(&second, second.sequence)
}

/// Reads the real `sem-w` value (sem_getvalue) and compares it with the frames in the ring,
/// now and as "should process both frames" saw them before it drained the buffer.
#[then(regex = r"^the semaphore count should reflect pending frames$")]
fn semaphore_reflects_pending(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    let signals = state.reader()?.pending_frames()?;
    let unread = unread_frames(state)?;
    ensure!(
        signals == unread,
        "sem-w holds {signals} signals for {unread} unread frames"
    );
    if let Some((signals, unread)) = state.frames.before_drain.0 {
        ensure!(
            signals == unread,
            "before draining, sem-w held {signals} signals for {unread} unread frames"
        );
    }
    Ok(())
}
