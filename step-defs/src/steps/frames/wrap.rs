//! 5.5: a frame that does not fit the tail wraps, wasting the tail behind a wrap marker, and
//! the reader follows the marker to the frame at offset 0.

use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Result};
use cucumber::{then, when};
use zerobuffer::layout::{FrameHeader, FRAME_HEADER_SIZE};
use zerobuffer::{Error, OiebSnapshot};

use crate::captures::Number;
use crate::drivers::endpoints::read_next;
use crate::drivers::explain::Explain as _;
use crate::drivers::patterns::Pattern;
use crate::drivers::poll::poll_until;
use crate::drivers::ring::{raw_buffer, HEADER};
use crate::drivers::streams::write_pattern;
use crate::state::frames::WrapWrite;
use crate::world::{ProcessState, ReceivedFrame, ZbWorld, JOIN_TIMEOUT, READ_TIMEOUT};

/// How long the check lets a wrapping write that has its room finish.
const SETTLE: Duration = Duration::from_secs(2);

const WRAP_JOB: &str = "wrapping-write";

impl WrapWrite {
    fn get(state: &mut ProcessState) -> Result<WrapWrite> {
        let wrap = state.frames.wrap_write;
        ensure!(wrap.pattern.is_some(), "no wrapping write was attempted");
        Ok(wrap)
    }

    fn finished(state: &mut ProcessState) -> Result<(WrapWrite, u64)> {
        let wrap = WrapWrite::get(state)?;
        let sequence = wrap
            .sequence
            .context("the wrapping write has not been checked to complete yet")?;
        Ok((wrap, sequence))
    }
}

#[when(regex = r"^writes frame that leaves '([^']*)' bytes at end with '([^']*)' pattern$")]
fn writes_frame_leaving(world: &mut ZbWorld, tail: Number<u64>, pattern: Pattern) -> Result<()> {
    let tail = tail.0;
    let after = world.current()?.with_writer(|w| -> Result<OiebSnapshot> {
        let before = w.oieb_snapshot();
        let (size, pos) = (before.payload_size, before.payload_write_pos);
        let len = size
            .checked_sub(pos + tail + HEADER)
            .filter(|&len| len > 0)
            .ok_or_else(|| {
                anyhow!("at write position {pos} of {size} no frame leaves {tail} bytes")
            })?;
        write_pattern(w, len as usize, pattern)?;
        Ok(w.oieb_snapshot())
    })??;
    let left = after.payload_size - after.payload_write_pos;
    ensure!(
        left == tail,
        "the frame left {left} bytes at the end, not {tail}"
    );
    Ok(())
}

/// The frame does not fit in the tail, so the writer needs the tail plus the frame free; in
/// 5.5 that space exists only once the reader releases the first frame. The write therefore
/// runs in the background (like 4.8's blocked write) and is joined by the next writer check.
#[when(regex = r"^attempts to write '([^']*)' byte frame with '([^']*)' pattern$")]
fn attempts_wrapping_write(
    world: &mut ZbWorld,
    size: Number<usize>,
    pattern: Pattern,
) -> Result<()> {
    let len: usize = size.0;
    let state = world.current()?;
    let before = state.with_writer(|w| w.oieb_snapshot())?;
    state.frames.wrap_write = WrapWrite {
        from: before.payload_write_pos,
        len,
        pattern: Some(pattern),
        sequence: None,
    };
    let writer = state.writer()?;
    // The write's own result is the job's value: the checks judge it, and a write still
    // waiting when the scenario ends (the reader closing under it) is no error of its own.
    state.jobs.spawn(WRAP_JOB, move |_stop| {
        let mut guard = writer
            .try_lock_for(JOIN_TIMEOUT)
            .context("the writer stayed busy")?;
        let w = guard.as_mut().context("the writer was closed")?;
        Ok::<_, anyhow::Error>(write_pattern(w, len, pattern))
    })
}

/// Waits for the wrapping write to complete; returns its sequence number. While it cannot
/// complete (the ring lacks the tail plus the frame, and only the reader can free more), this
/// process cannot make it: nothing reads while a writer step runs, so the check fails at once,
/// saying why, instead of waiting out the write timeout.
fn finish_wrap(state: &mut ProcessState, wrap: WrapWrite) -> Result<u64> {
    if let Some(sequence) = wrap.sequence {
        return Ok(sequence);
    }
    let mut last = None;
    let completes = poll_until(SETTLE, Duration::from_millis(10), || {
        if state.jobs.is_finished(WRAP_JOB)? {
            return Ok(Some(()));
        }
        let oieb = raw_buffer(state)?.oieb();
        let required = oieb.payload_size - wrap.from + HEADER + wrap.len as u64;
        // With its room it completes now.
        let room = oieb.payload_free_bytes >= required;
        last = Some(oieb);
        Ok(room.then_some(()))
    })?;
    if let (None, Some(oieb)) = (completes, last) {
        let tail = oieb.payload_size - wrap.from;
        let required = tail + HEADER + wrap.len as u64;
        let unread = oieb.payload_written_count - oieb.payload_read_count;
        bail!(
            "the {}-byte frame cannot be written: it must wrap at {}, which needs the {tail} \
             bytes left there plus {} for the frame, {required} free bytes, but only {} \
             are free; the other {} bytes hold {unread} unread frame(s) that only the reader can \
             free, and it has not read them, so neither the frame nor its wrap marker exists",
            wrap.len,
            wrap.from,
            HEADER + wrap.len as u64,
            oieb.payload_free_bytes,
            oieb.payload_size - oieb.payload_free_bytes,
        );
    }
    let result: Result<u64, Error> = state.jobs.join(WRAP_JOB, JOIN_TIMEOUT)?;
    let sequence = result.with_context(|| format!("writing the {}-byte frame", wrap.len))?;
    state.frames.wrap_write.sequence = Some(sequence);
    Ok(sequence)
}

#[then(regex = r"^the '([^']*)' process should write wrap marker at current position$")]
fn wrote_wrap_marker(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let wrap = WrapWrite::get(state)?;
    finish_wrap(state, wrap)?;
    let raw = raw_buffer(state)?;
    let tail = raw.oieb().payload_size - wrap.from;
    ensure!(
        tail >= HEADER,
        "only {tail} bytes were left at {}: no marker fits there",
        wrap.from
    );
    let header = raw.frame_header(wrap.from);
    ensure!(
        header == FrameHeader::WRAP_MARKER,
        "at the old write position {} there is {header:?}, not a wrap marker",
        wrap.from
    );
    Ok(())
}

#[then(regex = r"^should see payload_free_bytes reduced by wasted space$")]
fn free_bytes_reduced_by_waste(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    let (wrap, _) = WrapWrite::finished(state)?;
    let oieb = raw_buffer(state)?.oieb();
    let size = oieb.payload_size;
    let tail = size - wrap.from;
    let frame = HEADER + wrap.len as u64;
    // Everything before the wrap was read and released; the reader now waits at the marker.
    ensure!(
        oieb.payload_read_pos == wrap.from,
        "the reader is at {}, not at the marker ({}): the expected free bytes are unknown",
        oieb.payload_read_pos,
        wrap.from
    );
    let expected = size - tail - frame;
    ensure!(
        oieb.payload_free_bytes == expected,
        "payload_free_bytes is {}, expected {expected} = {size} - {tail} wasted - {frame} for \
         the frame (without the waste it would be {})",
        oieb.payload_free_bytes,
        size - frame
    );
    Ok(())
}

#[then(regex = r"^frame should be written at buffer start$")]
fn frame_at_buffer_start(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    let (wrap, sequence) = WrapWrite::finished(state)?;
    let raw = raw_buffer(state)?;
    let expected = FrameHeader {
        payload_size: wrap.len as u64,
        sequence,
    };
    let header = raw.frame_header(0);
    ensure!(
        header == expected,
        "at offset 0 there is {header:?}, expected {expected:?}"
    );
    let write_pos = raw.oieb().payload_write_pos;
    ensure!(
        write_pos == HEADER + wrap.len as u64,
        "write_pos is {write_pos}, expected {} right after the frame at 0",
        HEADER + wrap.len as u64
    );
    let data = raw.read(raw.payload_offset() + FRAME_HEADER_SIZE, wrap.len);
    wrap.pattern
        .expect("checked by WrapWrite::get")
        .check(&data, sequence)
}

fn read_trace(state: &mut ProcessState) -> Result<(OiebSnapshot, OiebSnapshot, ReceivedFrame)> {
    let (before, after) = state
        .frames
        .read_trace
        .0
        .context("no frame was read by 'reads next frame'")?;
    let frame = state.last_frame.clone().context("no frame was kept")?;
    Ok((before, after, frame))
}

#[when(regex = r"^the '([^']*)' process reads next frame$")]
fn reads_next_frame(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let raw = raw_buffer(state)?;
    let before = raw.oieb();
    read_next(state, READ_TIMEOUT)?;
    state.frames.read_trace.0 = Some((before, raw.oieb()));
    Ok(())
}

#[then(regex = r"^the '([^']*)' process should detect wrap marker$")]
fn detected_wrap_marker(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let (before, after, _) = read_trace(state)?;
    let header = raw_buffer(state)?.frame_header(before.payload_read_pos);
    ensure!(
        header.is_wrap_marker(),
        "the read started at {}, where there is {header:?}, not a wrap marker",
        before.payload_read_pos
    );
    let taken = after.payload_read_count - before.payload_read_count;
    ensure!(
        taken == 2,
        "the read took {taken} entries, expected 2 (the marker and the frame)"
    );
    Ok(())
}

#[then(regex = r"^should jump to buffer start$")]
fn jumped_to_buffer_start(world: &mut ZbWorld) -> Result<()> {
    let (before, after, frame) = read_trace(world.current()?)?;
    let total = HEADER + frame.data.len() as u64;
    let start = (after.payload_read_pos + after.payload_size - total) % after.payload_size;
    ensure!(
        start == 0 && before.payload_read_pos != 0,
        "the frame came from offset {start} (the read started at {})",
        before.payload_read_pos
    );
    Ok(())
}

#[then(regex = r"^should read '([^']*)' byte frame successfully with '([^']*)' pattern$")]
fn read_frame_with_pattern(
    world: &mut ZbWorld,
    size: Number<usize>,
    pattern: Pattern,
) -> Result<()> {
    let size = size.0;
    let (_, _, frame) = read_trace(world.current()?)?;
    ensure!(
        frame.data.len() == size,
        "read {} bytes, expected {size}",
        frame.data.len()
    );
    pattern.check(&frame.data, frame.sequence)
}
