//! Group G of steps.md: feature 05, corruption detection. Raw writes into the OIEB and frame
//! headers, the reader dying during a write, wrap-around with wasted space, the "continuous
//! free bytes" formula of protocol.md §3.7 and the maximum frame size.

use std::sync::mpsc;
use std::time::Duration;

use crate::explain::Explain as _;
use anyhow::{anyhow, bail, ensure, Result};
use cucumber::gherkin::Step;
use cucumber::{given, then, when};
use zerobuffer::layout::{oieb as field, FrameHeader, FRAME_HEADER_SIZE, OIEB_SIZE};
use zerobuffer::testdata::{fill_frame_data, first_frame_data_mismatch, is_simple_data};
use zerobuffer::testing::RawBuffer;
use zerobuffer::{is_process_alive, BufferConfig, Error, OiebSnapshot, Reader, Writer};

use super::basic::{create_buffer, read_next, DEFAULT_CONFIG};
use super::num;
use crate::pending::PendingWrite;
use crate::world::{ProcessState, ReceivedFrame, ZbWorld, JOIN_TIMEOUT, READ_TIMEOUT};

const HEADER: u64 = FRAME_HEADER_SIZE as u64;

// ---- Helpers shared with sync.rs ------------------------------------------------------------

/// Maps the shared memory of the buffer `state` works on (no reader or writer role taken).
pub(crate) fn raw_buffer(state: &ProcessState) -> Result<RawBuffer> {
    let name = state.buffer()?;
    RawBuffer::open(name).with_context(|| format!("mapping buffer '{name}'"))
}

/// Writes a `len`-byte frame holding the pattern seeded with its own sequence number, filled
/// in place (no copy of the data is allocated).
pub(crate) fn write_seeded(writer: &mut Writer, len: usize) -> Result<u64, Error> {
    write_pattern(writer, len, Pattern::Sequential)
}

fn write_pattern(writer: &mut Writer, len: usize, pattern: Pattern) -> Result<u64, Error> {
    let mut slot = writer.get_frame_buffer(len)?;
    let sequence = slot.sequence();
    pattern.fill(&mut slot, sequence);
    Ok(slot.commit())
}

/// One entry the reader has not taken yet: a frame, or the bytes a wrap skips (a marker and
/// the tail behind it, or a marker-less tail of fewer than 16 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    pub offset: u64,
    pub bytes: u64,
    pub frame: bool,
}

/// Walks the ring from `payload_read_pos` through the headers of the entries not read yet
/// (`payload_written_count - payload_read_count` of them), the way a reader follows them.
/// Meant for a quiet buffer: the fields are read one by one, not as one atomic snapshot.
pub(crate) fn unread_entries(raw: &RawBuffer) -> Result<Vec<Entry>> {
    let oieb = raw.oieb();
    let size = oieb.payload_size;
    let mut left = oieb
        .payload_written_count
        .checked_sub(oieb.payload_read_count)
        .ok_or_else(|| {
            anyhow!(
                "read count {} exceeds written count {}",
                oieb.payload_read_count,
                oieb.payload_written_count
            )
        })?;
    ensure!(
        left <= size / (HEADER + 1) + 1,
        "{left} unread entries cannot fit a {size}-byte ring"
    );
    let mut pos = oieb.payload_read_pos;
    ensure!(
        pos < size,
        "read_pos {pos} lies outside the {size}-byte ring"
    );
    let mut entries = Vec::new();
    while left > 0 {
        let remaining = size - pos;
        if remaining < HEADER {
            // The writer wrapped without a marker (none fits); it does not count as an entry.
            entries.push(Entry {
                offset: pos,
                bytes: remaining,
                frame: false,
            });
            pos = 0;
            continue;
        }
        let header = raw.frame_header(pos);
        if header.is_wrap_marker() {
            entries.push(Entry {
                offset: pos,
                bytes: remaining,
                frame: false,
            });
            pos = 0;
        } else {
            let total = HEADER.saturating_add(header.payload_size);
            ensure!(
                total <= remaining,
                "the frame at {pos} ({} bytes) crosses the ring end",
                header.payload_size
            );
            entries.push(Entry {
                offset: pos,
                bytes: total,
                frame: true,
            });
            pos = (pos + total) % size;
        }
        left -= 1;
    }
    ensure!(
        pos == oieb.payload_write_pos,
        "the unread entries end at {pos}, but write_pos is {}",
        oieb.payload_write_pos
    );
    Ok(entries)
}

/// Rewrites the header of the next frame the reader will take; returns its offset and the
/// header before and after.
pub(crate) fn corrupt_next_header(
    state: &ProcessState,
    change: impl FnOnce(&mut FrameHeader),
) -> Result<(u64, FrameHeader, FrameHeader)> {
    let raw = raw_buffer(state)?;
    let next = unread_entries(&raw)?
        .into_iter()
        .find(|e| e.frame)
        .context("there is no unread frame to corrupt")?;
    let old = raw.frame_header(next.offset);
    let mut new = old;
    change(&mut new);
    raw.set_frame_header(next.offset, new);
    tracing::debug!(offset = next.offset, ?old, ?new, "corrupted frame header");
    Ok((next.offset, old, new))
}

/// The data patterns the feature names. Upstream never defines them (steps.md §4.1); we
/// follow its suggestion: 'incremental' is the unseeded pattern, 'sequential' the seeded one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pattern {
    /// Byte i is i % 256.
    Incremental,
    /// Byte i is (i + sequence) % 256, the sequence being the frame's header sequence.
    Sequential,
}

impl Pattern {
    fn parse(name: &str) -> Result<Pattern> {
        match name {
            "incremental" => Ok(Pattern::Incremental),
            "sequential" => Ok(Pattern::Sequential),
            _ => bail!("unknown data pattern '{name}' (known: 'incremental', 'sequential')"),
        }
    }

    fn fill(self, buf: &mut [u8], sequence: u64) {
        match self {
            Pattern::Incremental => {
                for (i, b) in buf.iter_mut().enumerate() {
                    *b = (i & 0xFF) as u8;
                }
            }
            Pattern::Sequential => fill_frame_data(buf, sequence),
        }
    }

    fn check(self, data: &[u8], sequence: u64) -> Result<()> {
        let mismatch = match self {
            Pattern::Incremental => (!is_simple_data(data)).then_some("i % 256"),
            Pattern::Sequential => {
                first_frame_data_mismatch(data, sequence).map(|_| "(i + sequence) % 256")
            }
        };
        match mismatch {
            Some(rule) => bail!(
                "the {}-byte frame {sequence} does not hold the {self:?} pattern ({rule})",
                data.len()
            ),
            None => Ok(()),
        }
    }
}

// ---- 5.1 Corrupted OIEB ----------------------------------------------------------------------

#[when(regex = r"^the test corrupts OIEB field '([^']*)' to wrong value$")]
fn corrupts_oieb_field(world: &mut ZbWorld, name: String) -> Result<()> {
    let raw = raw_buffer(world.current()?)?;
    let before = raw.oieb();
    match name.as_str() {
        // The README's obsolete OIEB table calls the first field "operation size".
        "oieb_size" | "operation_size" => {
            raw.write(field::OIEB_SIZE, &(2 * OIEB_SIZE as u32).to_le_bytes())
        }
        "version" | "version_major" => raw.write(field::VERSION, &[2]),
        // Sizes the segment cannot hold.
        "metadata_size" => raw.write_u64(field::METADATA_SIZE, raw.len() as u64),
        "payload_size" => raw.write_u64(field::PAYLOAD_SIZE, 0),
        other => bail!(
            "no wrong value is defined for OIEB field '{other}' (known: oieb_size, \
             operation_size, version, metadata_size, payload_size)"
        ),
    }
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
fn corrupts_frame_header(world: &mut ZbWorld, name: String, value: String) -> Result<()> {
    let value: u64 = num(&value)?;
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

/// The write kept in progress by "starts writing large frame" (also used by 10.3's wording).
#[derive(Default)]
pub(crate) struct LargeWrite {
    /// Tells the job holding the write to commit it.
    commit: Option<mpsc::Sender<()>>,
    sequence: u64,
    /// Frames published before the write started (OIEB `payload_written_count`).
    written_before: u64,
    /// Size of the last large write, reused by "attempts next operation".
    len: Option<usize>,
}

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
            Err(_) => return pending.abandon().map(|()| None),
        }
    })?;
    *state.scratch::<LargeWrite>() = LargeWrite {
        commit: Some(commit),
        sequence,
        written_before,
        len: Some(size),
    };
    Ok(())
}

#[when(regex = r"^the '([^']*)' process starts writing large frame of '([^']*)' bytes$")]
fn starts_writing_large_frame(world: &mut ZbWorld, process: String, size: String) -> Result<()> {
    start_large_write(world.process(&process), num(&size)?)
}

#[when(regex = r"^the '([^']*)' process completes write operation$")]
fn completes_write(world: &mut ZbWorld, process: String) -> Result<()> {
    commit_large_write(world.process(&process)).map(drop)
}

/// Commits the write started by [`start_large_write`]; returns its sequence number.
pub(crate) fn commit_large_write(state: &mut ProcessState) -> Result<u64> {
    let large = state.scratch::<LargeWrite>();
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
    let len = state.scratch::<LargeWrite>().len.unwrap_or(1024);
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

// ---- 5.5 Wrap-around with wasted space --------------------------------------------------------

const WRAP_JOB: &str = "wrapping-write";

/// The write that has to wrap, as "attempts to write ... byte frame" started it.
#[derive(Default, Clone, Copy)]
struct WrapWrite {
    /// Write position before the write: where the wrap marker goes.
    from: u64,
    len: usize,
    pattern: Option<Pattern>,
    /// Set once the background write finished.
    sequence: Option<u64>,
}

impl WrapWrite {
    fn get(state: &mut ProcessState) -> Result<WrapWrite> {
        let wrap = *state.scratch::<WrapWrite>();
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
fn writes_frame_leaving(world: &mut ZbWorld, tail: String, pattern: String) -> Result<()> {
    let tail: u64 = num(&tail)?;
    let pattern = Pattern::parse(&pattern)?;
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
fn attempts_wrapping_write(world: &mut ZbWorld, size: String, pattern: String) -> Result<()> {
    let len: usize = num(&size)?;
    let pattern = Pattern::parse(&pattern)?;
    let state = world.current()?;
    let before = state.with_writer(|w| w.oieb_snapshot())?;
    *state.scratch::<WrapWrite>() = WrapWrite {
        from: before.payload_write_pos,
        len,
        pattern: Some(pattern),
        sequence: None,
    };
    let writer = state.writer()?;
    state.jobs.spawn(WRAP_JOB, move |_stop| {
        let mut guard = writer.lock();
        let w = guard.as_mut().context("the writer was closed")?;
        write_pattern(w, len, pattern).with_context(|| format!("writing the {len}-byte frame"))
    })
}

#[then(regex = r"^the '([^']*)' process should write wrap marker at current position$")]
fn wrote_wrap_marker(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let wrap = WrapWrite::get(state)?;
    let sequence: u64 = state.jobs.join(WRAP_JOB, JOIN_TIMEOUT)?;
    state.scratch::<WrapWrite>().sequence = Some(sequence);
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

/// OIEB before and after "reads next frame".
#[derive(Default)]
struct ReadTrace(Option<(OiebSnapshot, OiebSnapshot)>);

fn read_trace(state: &mut ProcessState) -> Result<(OiebSnapshot, OiebSnapshot, ReceivedFrame)> {
    let (before, after) = state
        .scratch::<ReadTrace>()
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
    state.scratch::<ReadTrace>().0 = Some((before, raw.oieb()));
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
fn read_frame_with_pattern(world: &mut ZbWorld, size: String, pattern: String) -> Result<()> {
    let size: usize = num(&size)?;
    let pattern = Pattern::parse(&pattern)?;
    let (_, _, frame) = read_trace(world.current()?)?;
    ensure!(
        frame.data.len() == size,
        "read {} bytes, expected {size}",
        frame.data.len()
    );
    pattern.check(&frame.data, frame.sequence)
}

// ---- 5.6 Continuous free space ----------------------------------------------------------------

/// Payload size the rows below are written for.
const FREE_SPACE_PAYLOAD: u64 = 10240;

/// The (write_pos, read_pos, continuous free bytes) rows of 5.6. Harmony does not send data
/// tables, so they live here; a table in the feature must repeat them.
const FREE_SPACE_ROWS: [(u64, u64, u64); 5] = [
    // Reader at 0: only the tail counts (a frame at 0 would overwrite the reader's frame).
    (5120, 0, 5120),
    // Writer ahead of the reader, the tail (4096) larger than the head (2048).
    (6144, 2048, 4096),
    // Writer ahead of the reader, the head (3072) larger than the tail (2048).
    (8192, 3072, 3072),
    // Writer behind the reader after a wrap: the gap between them.
    (2048, 7168, 5120),
    // Empty ring with both in the middle: W == R counts as empty.
    (4096, 4096, 6144),
];

/// protocol.md §3.7.
fn continuous_free_bytes(size: u64, write_pos: u64, read_pos: u64) -> u64 {
    if write_pos >= read_pos {
        if read_pos == 0 {
            size - write_pos
        } else {
            (size - write_pos).max(read_pos)
        }
    } else {
        read_pos - write_pos
    }
}

/// One row as measured on a real buffer.
#[derive(Debug)]
struct FreeSpaceRow {
    write_pos: u64,
    read_pos: u64,
    expected: u64,
    /// The §3.7 formula applied to the positions in the OIEB.
    formula: u64,
    /// The largest free run a frame could use, found by walking the unread frames.
    scanned: u64,
    /// The writer takes a frame of exactly `scanned` bytes (header included) at once ...
    writer_takes: bool,
    /// ... and refuses one byte more.
    writer_refuses_more: bool,
}

#[derive(Default)]
struct FreeSpaceCheck(Vec<FreeSpaceRow>);

#[given(regex = r"^the '([^']*)' process creates buffer '([^']*)' with specific configuration$")]
fn creates_buffer_specific(world: &mut ZbWorld, process: String, buffer: String) -> Result<()> {
    // The free-space rows are written for a 10240-byte ring (the default config's).
    create_buffer(world, &process, &buffer, DEFAULT_CONFIG)
}

/// For every row, a fresh buffer of the reader's configuration is driven (by real writes and
/// reads) to the row's positions. The formula is then compared with an independent
/// computation from the ring's contents and with what the writer actually accepts.
#[when(regex = r"^the system tests continuous_free_bytes calculation with:$")]
fn tests_continuous_free_bytes(world: &mut ZbWorld, step: &Step) -> Result<()> {
    if let Some(table) = &step.table {
        check_free_space_table(&table.rows)?;
    }
    let config = world.current()?.reader()?.config();
    ensure!(
        config.payload_block() == FREE_SPACE_PAYLOAD,
        "the rows are written for a {FREE_SPACE_PAYLOAD}-byte payload, the buffer has {}",
        config.payload_block()
    );
    let mut rows = Vec::new();
    for (i, &(write_pos, read_pos, expected)) in FREE_SPACE_ROWS.iter().enumerate() {
        let name = world.buffer_name(&format!("continuous-free-row{}", i + 1));
        let row = measure_free_space(&name, config, write_pos, read_pos, expected).with_context(
            || format!("row {} (write_pos {write_pos}, read_pos {read_pos})", i + 1),
        )?;
        tracing::debug!(?row, "continuous free bytes");
        rows.push(row);
    }
    world.current()?.scratch::<FreeSpaceCheck>().0 = rows;
    Ok(())
}

fn check_free_space_table(rows: &[Vec<String>]) -> Result<()> {
    let data = rows.get(1..).unwrap_or_default();
    let parsed = data
        .iter()
        .map(|row| match row.as_slice() {
            [w, r, e] => Ok((num(w)?, num(r)?, num(e)?)),
            _ => bail!("table rows need write_pos, read_pos and the expected value"),
        })
        .collect::<Result<Vec<(u64, u64, u64)>>>()?;
    ensure!(
        parsed == FREE_SPACE_ROWS,
        "the table differs from the rows built into the step (Harmony does not send tables): \
         {FREE_SPACE_ROWS:?}"
    );
    Ok(())
}

fn measure_free_space(
    name: &str,
    config: BufferConfig,
    write_pos: u64,
    read_pos: u64,
    expected: u64,
) -> Result<FreeSpaceRow> {
    let reader = Reader::create(name, config)?;
    let mut writer = Writer::connect(name)?;
    // Nothing here may wait: a write either fits now or is refused at once.
    writer.set_write_timeout(Duration::ZERO);
    let size = writer.payload_size();
    let mut put = |total: u64| -> Result<()> {
        if total > 0 {
            write_seeded(&mut writer, (total - HEADER) as usize)?;
        }
        Ok(())
    };
    // Both positions to read_pos: one frame, read and released.
    if read_pos > 0 {
        put(read_pos)?;
        drop(reader.read_frame(READ_TIMEOUT)?);
    }
    if write_pos >= read_pos {
        put(write_pos - read_pos)?;
    } else {
        // Fill up to the end (the writer continues at 0), then up to write_pos.
        put(size - read_pos)?;
        put(write_pos)?;
    }
    let raw = RawBuffer::open(name)?;
    let state = raw.oieb();
    ensure!(
        (state.payload_write_pos, state.payload_read_pos) == (write_pos, read_pos),
        "the ring reached ({}, {}) instead",
        state.payload_write_pos,
        state.payload_read_pos
    );
    let scanned = scanned_continuous_free(&raw)?;
    // Timeout zero: a slot is granted only if the space is there now; it is dropped
    // uncommitted, which leaves no trace.
    let mut accepts = |total: u64| {
        total > HEADER
            && total <= size
            && writer.get_frame_buffer((total - HEADER) as usize).is_ok()
    };
    let writer_takes = accepts(scanned);
    let writer_refuses_more = !accepts(scanned + 1);
    ensure!(raw.oieb() == state, "probing the writer changed the OIEB");
    Ok(FreeSpaceRow {
        write_pos,
        read_pos,
        expected,
        formula: continuous_free_bytes(size, state.payload_write_pos, state.payload_read_pos),
        scanned,
        writer_takes,
        writer_refuses_more,
    })
}

/// The longest run of bytes free of unread entries that a frame can use: from write_pos up
/// to the first unread byte or the ring end, or, after a wrap (which needs the tail to hold
/// nothing unread), from 0 up to the first unread byte but not past the marker at write_pos.
fn scanned_continuous_free(raw: &RawBuffer) -> Result<u64> {
    let oieb = raw.oieb();
    let size = oieb.payload_size as usize;
    let write_pos = oieb.payload_write_pos as usize;
    let mut used = vec![false; size];
    for e in unread_entries(raw)? {
        used[e.offset as usize..(e.offset + e.bytes) as usize].fill(true);
    }
    let free_run = |from: usize| used[from..].iter().take_while(|u| !**u).count();
    let at_write_pos = free_run(write_pos);
    let after_wrap = if write_pos > 0 && used[write_pos..].iter().all(|u| !u) {
        free_run(0).min(write_pos)
    } else {
        0
    };
    Ok(at_write_pos.max(after_wrap) as u64)
}

#[then(regex = r"^the '([^']*)' process calculations should match specification$")]
fn calculations_match(world: &mut ZbWorld, process: String) -> Result<()> {
    let rows = &world.process(&process).scratch::<FreeSpaceCheck>().0;
    ensure!(!rows.is_empty(), "no continuous free bytes were calculated");
    let mut problems = Vec::new();
    for r in rows {
        let at = format!("(write_pos {}, read_pos {})", r.write_pos, r.read_pos);
        if r.formula != r.expected {
            problems.push(format!(
                "{at}: formula gives {}, table says {}",
                r.formula, r.expected
            ));
        }
        if r.scanned != r.formula {
            problems.push(format!(
                "{at}: the ring has {} usable bytes, formula {}",
                r.scanned, r.formula
            ));
        }
        if !r.writer_takes || !r.writer_refuses_more {
            problems.push(format!(
                "{at}: the writer {} a {}-byte frame (header included) and {} one byte more",
                if r.writer_takes { "takes" } else { "refuses" },
                r.scanned,
                if r.writer_refuses_more {
                    "refuses"
                } else {
                    "takes"
                },
            ));
        }
    }
    ensure!(problems.is_empty(), "{}", problems.join("; "));
    Ok(())
}

// ---- 5.7 Maximum frame size -------------------------------------------------------------------

/// The frame of payload size − 16 bytes and what the OIEB said around it.
struct MaxFrameWrite {
    len: usize,
    before: OiebSnapshot,
    after: OiebSnapshot,
    result: Result<u64, Error>,
}

#[derive(Default)]
struct MaxFrame {
    write: Option<MaxFrameWrite>,
    /// Length of the oversized attempt.
    attempted: Option<usize>,
}

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
    state.scratch::<MaxFrame>().write = Some(write);
    Ok(())
}

#[then(regex = r"^the '([^']*)' process should verify frame was written successfully$")]
fn max_frame_written(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let write = state
        .scratch::<MaxFrame>()
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
    state.scratch::<MaxFrame>().attempted = Some(len);
    state.last_error = error;
    Ok(())
}

#[then(regex = r"^the '([^']*)' process write should be rejected with appropriate error$")]
fn oversized_frame_rejected(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let attempted = state
        .scratch::<MaxFrame>()
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
