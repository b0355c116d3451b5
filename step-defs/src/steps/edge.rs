//! Group F of steps.md: the edge cases of feature 04 (alternating and exact-fit frame sizes,
//! wrap-around, signal coalescing, flow control with a slow reader, writer rejection on a full
//! buffer, creation races, a writer without a reader).
//!
//! A write that has to wait for space runs in the background ([`BG_WRITE`]): P056 starts one,
//! P100 ends its fill with one; P057, P058, P090, P091 and P101 check it through the OIEB of the
//! shared memory, never through the writer it holds.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use crate::explain::Explain as _;
use anyhow::{anyhow, bail, ensure, Result};
use cucumber::{given, then, when};
use parking_lot::Mutex;
use zerobuffer::layout::{FrameHeader, FRAME_HEADER_SIZE};
use zerobuffer::testdata::{first_frame_data_mismatch, frame_data, simple_data};
use zerobuffer::testing::RawBuffer;
use zerobuffer::{Error, OiebSnapshot, Reader, Writer};

use super::basic::{
    last_frame, read_next, spawn_seeded_stream, write, write_with_timeout, DEFAULT_CONFIG,
};
use super::num;
use crate::jobs::StopFlag;
use crate::world::{ProcessState, ReceivedFrame, ZbWorld, JOIN_TIMEOUT, READ_TIMEOUT};

const HEADER: u64 = FRAME_HEADER_SIZE as u64;
/// Label of the background write that may wait for space (P056, P100).
const BG_WRITE: &str = "edge-write";
/// Label of 4.5's writer and reader loops.
const FLOW_WRITER: &str = "continuous-writer";
const SLOW_READER: &str = "slow-reader";
/// Label of 4.9's writer.
const RAPID_WRITER: &str = "rapid-writer";
/// Waits for space are cut into slices of this length so a stop request is seen quickly.
const WAIT_SLICE: Duration = Duration::from_millis(200);
/// How long a probe write may wait before "no space" is concluded (the space either is there
/// at once or never comes: nobody reads meanwhile).
const PROBE_TIMEOUT: Duration = Duration::from_millis(300);
/// How long a check waits for a just-started background thread to reach its wait.
const SETTLE: Duration = Duration::from_secs(2);

/// State of this group's steps in one process.
#[derive(Default)]
struct Edge {
    /// Data length of the last "large frame" (P054), repeated by P056.
    large_len: Option<usize>,
    /// The last frame written by a step whose success is verified later (P067, P071).
    last_write: Option<LastWrite>,
    /// The frame the background write waits to place, once it has reached that point.
    waiting: Option<Arc<Mutex<Option<Waiting>>>>,
    /// Outcome of the background write once joined: the sequence of the frame that waited.
    bg_written: Option<Option<u64>>,
    /// Frames signalled when the reader woke (P062): the `sem-w` value before draining.
    signals_at_wake: Option<u64>,
    /// 4.5: the slow reader's progress, its result (with the frame count asked for), and the
    /// writer's statistics.
    slow: Option<(Arc<SlowProgress>, Duration)>,
    slow_result: Option<(usize, SlowRead)>,
    flow: Option<FlowStats>,
    /// 4.9: what the draining reader saw.
    drain: Option<Drain>,
    /// 4.11: contenders prepared, extra winners (a bug if any) and the losers' errors.
    contenders: Option<usize>,
    extra_readers: Vec<Reader>,
    race_errors: Vec<Error>,
    /// A second writer that connected although it should not have (kept to close it).
    extra_writer: Option<Writer>,
}

/// A frame written by a step, to be found again in the ring.
struct LastWrite {
    offset: u64,
    sequence: u64,
    data: Vec<u8>,
}

/// The frame a background write is trying to place, and the OIEB just before it tried.
#[derive(Clone, Copy)]
struct Waiting {
    len: usize,
    before: OiebSnapshot,
}

/// How a frame of `len` bytes is placed at write position `w` of a ring of `p` bytes: whether it
/// wraps, and the free bytes it needs (protocol.md §3.3: a wrap also needs the tail; like our
/// writer, a 1–15 byte tail is avoided by wrapping early when the frame fits at the start).
fn plan(p: u64, w: u64, len: usize) -> (bool, u64) {
    let total = len as u64 + HEADER;
    let to_end = p - w.min(p);
    let short_tail = total < to_end && to_end - total < HEADER && total <= w;
    if total <= to_end && !short_tail {
        (false, total)
    } else {
        (true, to_end + total)
    }
}

fn edge(state: &mut ProcessState) -> &mut Edge {
    state.scratch::<Edge>()
}

/// A percentage such as '90%' (or a fraction such as '0.9') as a fraction of 1.
fn fraction(text: &str) -> Result<f64> {
    let text = text.trim();
    let (value, percent) = match text.strip_suffix('%') {
        Some(v) => (num::<f64>(v)?, true),
        None => (num::<f64>(text)?, false),
    };
    let f = if percent || value > 1.0 {
        value / 100.0
    } else {
        value
    };
    ensure!(f > 0.0 && f <= 1.0, "'{text}' is not a share of the buffer");
    Ok(f)
}

/// The OIEB of the buffer `state` works on, read from shared memory (no writer lock needed).
fn oieb(state: &ProcessState) -> Result<OiebSnapshot> {
    Ok(zerobuffer::inspect(state.buffer()?)?.oieb)
}

/// Writes `data`, waiting for space in slices so a stop request is noticed; gives up with
/// BufferFull after the writer's write timeout like a plain write. `None` when stopped.
fn write_when_space(w: &mut Writer, data: &[u8], stop: &StopFlag) -> Result<Option<u64>> {
    let timeout = w.write_timeout();
    let deadline = Instant::now() + timeout;
    w.set_write_timeout(WAIT_SLICE);
    let outcome = loop {
        match w.write_frame(data) {
            Err(Error::BufferFull) if stop.is_set() => break Ok(None),
            Err(Error::BufferFull) if Instant::now() < deadline => continue,
            other => break other.map(Some),
        }
    };
    w.set_write_timeout(timeout);
    outcome.with_context(|| format!("writing a {}-byte frame", data.len()))
}

/// Writes one frame and remembers where it landed, for a later "verify ... succeeded" step.
fn write_recorded(state: &mut ProcessState, data: Vec<u8>) -> Result<()> {
    let (sequence, after) = state
        .with_writer(|w| w.write_frame(&data).map(|seq| (seq, w.oieb_snapshot())))?
        .with_context(|| format!("writing a {}-byte frame", data.len()))?;
    // The frame ends where the write position now is (stored modulo the ring size).
    let p = after.payload_size;
    let offset = (after.payload_write_pos + p - (data.len() as u64 + HEADER)) % p;
    edge(state).last_write = Some(LastWrite {
        offset,
        sequence,
        data,
    });
    Ok(())
}

/// The remembered frame is in the ring: its header and every data byte, and the OIEB counts it.
fn verify_last_write(state: &mut ProcessState) -> Result<()> {
    let name = state.buffer()?.to_owned();
    let last = edge(state)
        .last_write
        .as_ref()
        .context("no frame was written by this process")?;
    let raw = RawBuffer::open(&name)?;
    let header = raw.frame_header(last.offset);
    let expected = FrameHeader {
        payload_size: last.data.len() as u64,
        sequence: last.sequence,
    };
    ensure!(
        header == expected,
        "the ring holds {header:?} at offset {}, expected {expected:?}",
        last.offset
    );
    let start = raw.payload_offset() + (last.offset + HEADER) as usize;
    ensure!(
        raw.read(start, last.data.len()) == last.data,
        "the frame's data in the ring differs from what was written"
    );
    let counted = raw.oieb().payload_written_count;
    ensure!(
        counted >= last.sequence,
        "the OIEB counts {counted} written frames, but frame {} was committed",
        last.sequence
    );
    Ok(())
}

// ---- 4.1 / 4.8 / 4.10: a write that has to wait for space ------------------------------------

#[when(regex = r"^the '(.*)' process writes large frame using '(.*)' of buffer$")]
fn writes_large_frame(world: &mut ZbWorld, process: String, share: String) -> Result<()> {
    let share = fraction(&share)?;
    let state = world.process(&process);
    let p = state.with_writer(|w| w.payload_size())?;
    let len = ((p as f64 * share).floor() as u64)
        .checked_sub(HEADER)
        .filter(|&l| l > 0)
        .with_context(|| format!("{share} of {p} bytes leaves no room for data"))?
        as usize;
    write(state, &simple_data(len))?;
    edge(state).large_len = Some(len);
    Ok(())
}

#[when(regex = r"^the '(.*)' process writes small frame of '(.*)' byte$")]
fn writes_small_frame(world: &mut ZbWorld, process: String, size: String) -> Result<()> {
    let size: usize = num(&size)?;
    ensure!(size > 0, "a small frame needs at least one byte");
    let mut data = simple_data(size);
    data[0] = 0xFF;
    write(world.process(&process), &data).map(drop)
}

#[when(regex = r"^the '(.*)' process attempts to write large frame again$")]
fn attempts_large_frame_again(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let len = edge(state)
        .large_len
        .context("no large frame was written before")?;
    let writer = state.writer()?;
    let before = state.with_writer(|w| w.oieb_snapshot())?;
    let waiting = Arc::new(Mutex::new(Some(Waiting { len, before })));
    let e = edge(state);
    e.waiting = Some(waiting);
    e.bg_written = None;
    // Seeded with 128 so it differs from the first large frame (i mod 256).
    let data = frame_data(len, 128);
    state.jobs.spawn(BG_WRITE, move |stop| {
        let mut guard = writer
            .try_lock_for(JOIN_TIMEOUT)
            .context("the writer stayed busy")?;
        let w = guard.as_mut().context("the writer was closed")?;
        write_when_space(w, &data, &stop)
    })
}

/// The frame the background write waits to place, once it got there (bounded wait).
fn waiting_frame(state: &mut ProcessState) -> Result<Waiting> {
    let shared = edge(state)
        .waiting
        .clone()
        .context("no background write was started")?;
    let deadline = Instant::now() + SETTLE;
    loop {
        if let Some(w) = *shared.lock() {
            return Ok(w);
        }
        if let Some(outcome) = edge(state).bg_written {
            bail!("the background write ended ({outcome:?}) without a frame waiting for space");
        }
        if state.jobs.is_finished(BG_WRITE)? {
            let outcome = join_bg_write(state)?;
            bail!("the background write ended ({outcome:?}) without a frame waiting for space");
        }
        ensure!(
            Instant::now() < deadline,
            "the background write did not reach its last frame within {SETTLE:?}"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// Lets a running background write settle: true once a frame waits for space, false when the
/// job ended (joined, errors reported) or none was started.
fn frame_is_waiting(state: &mut ProcessState) -> Result<bool> {
    if !state.jobs.is_running(BG_WRITE) {
        return Ok(false);
    }
    let shared = edge(state).waiting.clone();
    let deadline = Instant::now() + SETTLE;
    loop {
        if shared.as_ref().is_some_and(|w| w.lock().is_some()) {
            return Ok(true);
        }
        if state.jobs.is_finished(BG_WRITE)? {
            join_bg_write(state)?;
            return Ok(false);
        }
        ensure!(
            Instant::now() < deadline,
            "the background write neither finished nor reached a frame that waits within {SETTLE:?}"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// Joins the background write; `Some(sequence)` of the frame that waited.
fn join_bg_write(state: &mut ProcessState) -> Result<Option<u64>> {
    if let Some(done) = edge(state).bg_written {
        return Ok(done);
    }
    let outcome = state
        .jobs
        .join::<Option<u64>>(BG_WRITE, JOIN_TIMEOUT)
        .map_err(|e| anyhow!("{e}"))?;
    edge(state).bg_written = Some(outcome);
    Ok(outcome)
}

/// The background write is pending because the ring lacks the space the frame needs, and it has
/// published nothing meanwhile (so it overwrote nothing). Returns the frame's plan.
fn check_waits_for_space(state: &mut ProcessState) -> Result<(Waiting, bool)> {
    let waiting = waiting_frame(state)?;
    let deadline = Instant::now() + SETTLE;
    loop {
        if state.jobs.is_finished(BG_WRITE)? {
            let outcome = join_bg_write(state);
            bail!("the write did not wait for space: it ended with {outcome:?}");
        }
        let now = oieb(state)?;
        let (wraps, required) = plan(
            now.payload_size,
            waiting.before.payload_write_pos,
            waiting.len,
        );
        let untouched = now.payload_written_count == waiting.before.payload_written_count
            && now.payload_write_pos == waiting.before.payload_write_pos;
        if untouched && now.payload_free_bytes < required {
            return Ok((waiting, wraps));
        }
        // Room is there (or it is being used): the write is about to finish, which it must not.
        ensure!(
            Instant::now() < deadline,
            "the write is pending although {} bytes are free and it needs {required}",
            now.payload_free_bytes
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// The frame that waited landed at payload offset 0 behind a wrap marker at the old position.
fn check_at_start(state: &ProcessState, waiting: Waiting, sequence: u64) -> Result<()> {
    let before = waiting.before;
    let (p, w) = (before.payload_size, before.payload_write_pos);
    let (wraps, _) = plan(p, w, waiting.len);
    ensure!(
        wraps,
        "a {}-byte frame fits before the ring end at {w}: no wrap-around was needed",
        waiting.len
    );
    let raw = RawBuffer::open(state.buffer()?)?;
    let header = raw.frame_header(0);
    let expected = FrameHeader {
        payload_size: waiting.len as u64,
        sequence,
    };
    ensure!(
        header == expected,
        "offset 0 holds {header:?}, expected {expected:?}"
    );
    let tail = p - w;
    let marker = tail >= HEADER;
    if marker {
        ensure!(
            raw.frame_header(w).is_wrap_marker(),
            "no wrap marker at the old write position {w}"
        );
    }
    let now = raw.oieb();
    let entries = 1 + u64::from(marker);
    ensure!(
        now.payload_written_count == before.payload_written_count + entries,
        "the OIEB counts {} entries written, expected {} (+{entries})",
        now.payload_written_count,
        before.payload_written_count
    );
    let end = waiting.len as u64 + HEADER;
    ensure!(
        now.payload_write_pos == end % p,
        "write position is {}, expected {end} right after the frame at offset 0",
        now.payload_write_pos
    );
    Ok(())
}

#[then(regex = r"^the '(.*)' process proper wrap-around handling should occur$")]
fn proper_wrap_around(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let waiting = waiting_frame(state)?;
    if state.jobs.is_running(BG_WRITE) && !state.jobs.is_finished(BG_WRITE)? {
        // Still pending: it must be a wrap that waits for tail + frame, having overwritten nothing.
        let (waiting, wraps) = check_waits_for_space(state)?;
        ensure!(
            wraps,
            "the {}-byte frame fits before the ring end: no wrap-around involved",
            waiting.len
        );
        return Ok(());
    }
    let sequence = join_bg_write(state)?.context("the write was stopped before it finished")?;
    check_at_start(state, waiting, sequence)
}

#[then(regex = r"^the '(.*)' process no deadlocks should happen$")]
fn no_deadlocks_happen(world: &mut ZbWorld, process: String) -> Result<()> {
    // The waiting write completes once the reader has freed space (within the write timeout).
    let state = world.process(&process);
    waiting_frame(state)?;
    join_bg_write(state)?
        .map(drop)
        .context("the waiting write was stopped before it completed")
}

#[then(regex = r"^the '([^']*)' process should wait for space$")]
fn should_wait_for_space(world: &mut ZbWorld, process: String) -> Result<()> {
    check_waits_for_space(world.process(&process)).map(drop)
}

#[then(regex = r"^the '([^']*)' process should complete write at buffer start$")]
fn completes_write_at_start(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let waiting = waiting_frame(state)?;
    let sequence = join_bg_write(state)?.context("the write was stopped before it completed")?;
    check_at_start(state, waiting, sequence)
}

/// Writes frames of at most 1024 bytes until `share` of the ring is in use (headers included).
fn fill_to(w: &mut Writer, share: f64) -> Result<()> {
    let p = w.payload_size();
    let target = (p as f64 * share).floor() as u64;
    loop {
        let used = p - w.oieb_snapshot().payload_free_bytes;
        if used + HEADER + 1 > target {
            return Ok(());
        }
        let len = (target - used - HEADER).min(1024) as usize;
        w.write_frame(&simple_data(len))
            .with_context(|| format!("filling the buffer ({used} of {p} bytes used)"))?;
    }
}

#[when(regex = r"^the '(.*)' process fills buffer to '(.*)' capacity$")]
fn fills_buffer_to(world: &mut ZbWorld, process: String, share: String) -> Result<()> {
    let share = fraction(&share)?;
    world.process(&process).with_writer(|w| fill_to(w, share))?
}

#[when(
    regex = r"^the '(.*)' process a second writer process attempts to connect to buffer '(.*)'$"
)]
fn second_writer_attempts(world: &mut ZbWorld, process: String, buffer: String) -> Result<()> {
    let name = world.buffer_name(&buffer);
    let state = world.process(&process);
    match Writer::connect(&name) {
        Ok(extra) => {
            state.last_error = None;
            edge(state).extra_writer = Some(extra);
        }
        Err(e) => state.last_error = Some(e),
    }
    Ok(())
}

#[then(regex = r"^the '(.*)' process the second writer should fail with writer exists error$")]
fn second_writer_rejected(world: &mut ZbWorld, process: String) -> Result<()> {
    let err = world
        .process(&process)
        .take_error("a writer-already-connected error")?;
    ensure!(
        matches!(err, Error::WriterAlreadyConnected { .. }),
        "expected a writer-already-connected error, got: {err}"
    );
    Ok(())
}

#[when(regex = r"^the '(.*)' process continues filling buffer to '(.*)'$")]
fn continues_filling(world: &mut ZbWorld, process: String, share: String) -> Result<()> {
    let share = fraction(&share)?;
    let state = world.process(&process);
    let writer = state.writer()?;
    let waiting = Arc::new(Mutex::new(None));
    let e = edge(state);
    e.waiting = Some(Arc::clone(&waiting));
    e.bg_written = None;
    state.jobs.spawn(BG_WRITE, move |stop| {
        let mut guard = writer
            .try_lock_for(JOIN_TIMEOUT)
            .context("the writer stayed busy")?;
        let w = guard.as_mut().context("the writer was closed")?;
        fill_to(w, share)?;
        let before = w.oieb_snapshot();
        if before.payload_free_bytes > HEADER {
            return Ok(None); // Not full: nothing has to wait.
        }
        // Full: filling on means the next frame waits for the reader.
        let len = 1024;
        *waiting.lock() = Some(Waiting { len, before });
        write_when_space(w, &simple_data(len), &stop)
    })
}

#[then(regex = r"^the '(.*)' process should block waiting for space$")]
fn blocks_waiting_for_space(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    if frame_is_waiting(state)? {
        return check_waits_for_space(state).map(drop);
    }
    // No write in progress: a new small write must not get through.
    match write_with_timeout(state, &simple_data(100), PROBE_TIMEOUT)? {
        Err(Error::BufferFull) => Ok(()),
        Err(e) => bail!("expected the write to wait for space, it failed with: {e}"),
        Ok(seq) => bail!("a 100-byte write went through at once (sequence {seq})"),
    }
}

// ---- 4.2 Semaphore signal coalescing -----------------------------------------------------------

#[when(regex = r"^the '(.*)' process writes '(.*)' frames rapidly without reader consuming$")]
fn writes_frames_rapidly(world: &mut ZbWorld, process: String, count: String) -> Result<()> {
    let count: usize = num(&count)?;
    let state = world.process(&process);
    for i in 0..count {
        write(state, format!("rapid_frame_{i}").as_bytes())?;
    }
    Ok(())
}

#[then(regex = r"^the '(.*)' process the semaphore count should represent pending frames$")]
fn semaphore_counts_pending(world: &mut ZbWorld, process: String) -> Result<()> {
    // Harmony sends this to the writer: it reads the buffer's `sem-w` value (sem_getvalue)
    // through its own handle and compares it with the entries the OIEB says are written but
    // not yet read. (Wrap markers count as entries but post nothing; 4.2's frames never wrap.)
    let state = world.process(&process);
    let value = state.with_writer(|w| w.pending_frames())??;
    let o = oieb(state)?;
    let unread = o.payload_written_count - o.payload_read_count;
    ensure!(
        unread > 0,
        "no frame is pending: the OIEB shows everything read"
    );
    ensure!(
        value == unread,
        "sem-w holds {value}, but {unread} frames are written and not yet read"
    );
    Ok(())
}

#[when(regex = r"^the '(.*)' process wakes and processes all frames$")]
fn wakes_and_processes(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let reader = state.reader()?;
    edge(state).signals_at_wake = Some(reader.pending_frames()?);
    state.received.clear();
    for _ in 0..100 {
        match reader.read_frame(Duration::from_millis(100)) {
            Ok(frame) => state.received.push(ReceivedFrame {
                sequence: frame.sequence(),
                data: frame.to_vec(),
            }),
            Err(Error::Timeout(_)) => return Ok(()),
            Err(e) => return Err(e).context("draining the frames"),
        }
    }
    bail!("more than 100 frames were waiting")
}

#[then(regex = r"^the '(.*)' process all frames should be read correctly$")]
fn all_frames_read_correctly(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    ensure!(!state.received.is_empty(), "no frame was read");
    let first = state.received[0].sequence;
    for (i, frame) in state.received.iter().enumerate() {
        let expected = format!("rapid_frame_{i}");
        ensure!(
            frame.data == expected.as_bytes() && frame.sequence == first + i as u64,
            "frame {i} is {:?} (sequence {}), expected {expected:?} (sequence {})",
            String::from_utf8_lossy(&frame.data),
            frame.sequence,
            first + i as u64
        );
    }
    let o = oieb(state)?;
    ensure!(
        o.payload_read_count == o.payload_written_count,
        "{} entries written but {} read: frames were left behind",
        o.payload_written_count,
        o.payload_read_count
    );
    Ok(())
}

#[then(regex = r"^the '(.*)' process the coalesced signals should be handled properly$")]
fn coalesced_signals_handled(world: &mut ZbWorld, process: String) -> Result<()> {
    // Every post was taken exactly once: as many frames as signals had built up, none left over.
    let state = world.process(&process);
    let signals = edge(state)
        .signals_at_wake
        .context("the reader has not processed the frames")?;
    let read = state.received.len() as u64;
    ensure!(
        signals > 1,
        "only {signals} signal(s) were pending at wake-up: nothing was coalesced"
    );
    ensure!(
        read == signals,
        "{signals} signals were pending but {read} frames were read"
    );
    let left = state.reader()?.pending_frames()?;
    ensure!(left == 0, "{left} signal(s) remain after draining");
    Ok(())
}

// ---- 4.3 / 4.4 Metadata block of size 0, minimum buffer ---------------------------------------

#[when(regex = r"^the '(.*)' process attempts to write metadata$")]
fn attempts_metadata(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    state.last_error = state
        .with_writer(|w| w.set_metadata(&simple_data(100)))?
        .err();
    Ok(())
}

#[then(regex = r"^the '(.*)' process metadata write should fail appropriately$")]
fn metadata_write_fails(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let err = state.take_error("a metadata-too-large error")?;
    ensure!(
        matches!(err, Error::MetadataTooLarge { .. }),
        "expected a metadata-too-large error, got: {err}"
    );
    let written = oieb(state)?.metadata_written_bytes;
    ensure!(
        written == 0,
        "the failed write left {written} metadata bytes"
    );
    Ok(())
}

#[when(regex = r"^the '(.*)' process writes frame without metadata$")]
fn writes_frame_without_metadata(world: &mut ZbWorld, process: String) -> Result<()> {
    write_recorded(world.process(&process), b"no_metadata_frame".to_vec())
}

#[then(regex = r"^the '(.*)' process should verify frame write succeeded$")]
#[then(regex = r"^the '(.*)' process should verify write succeeded$")]
fn verifies_write_succeeded(world: &mut ZbWorld, process: String) -> Result<()> {
    verify_last_write(world.process(&process))
}

#[then(regex = r"^the '(.*)' process should verify system works correctly without metadata$")]
fn works_without_metadata(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let reader = state.reader()?;
    let o = reader.oieb_snapshot();
    ensure!(
        o.metadata_size == 0,
        "the metadata block has {} bytes",
        o.metadata_size
    );
    let metadata = reader.metadata()?;
    ensure!(
        metadata.is_empty() && o.metadata_written_bytes == 0,
        "the reader sees {} bytes of metadata",
        metadata.len()
    );
    Ok(())
}

#[when(regex = r"^the '(.*)' process writes single byte frame$")]
fn writes_single_byte(world: &mut ZbWorld, process: String) -> Result<()> {
    write_recorded(world.process(&process), vec![0x42])
}

#[when(regex = r"^the '(.*)' process attempts to write '(.*)' byte frame$")]
fn attempts_sized_frame(world: &mut ZbWorld, process: String, size: String) -> Result<()> {
    let data = simple_data(num(&size)?);
    let state = world.process(&process);
    state.last_error = state.with_writer(|w| w.write_frame(&data))?.err();
    Ok(())
}

#[then(regex = r"^the '(.*)' process should receive FrameTooLargeException$")]
fn receives_frame_too_large(world: &mut ZbWorld, process: String) -> Result<()> {
    let err = world
        .process(&process)
        .take_error("a frame-too-large error")?;
    ensure!(
        matches!(err, Error::FrameTooLarge { .. }),
        "expected a frame-too-large error, got: {err}"
    );
    Ok(())
}

// ---- 4.5 Reader slower than writer -------------------------------------------------------------

/// Shared between the slow reader's loop and the step that ends it.
struct SlowProgress {
    read: AtomicUsize,
    limit: AtomicUsize,
}

#[derive(Debug, Default)]
struct SlowRead {
    frames: usize,
    problems: Vec<String>,
}

/// What the continuous writer saw: per frame whether it had to wait, the most entries it was
/// ever ahead of the reader, and how many frames the empty ring holds.
#[derive(Debug, Default, Clone)]
struct FlowStats {
    waited: Vec<bool>,
    max_unread: u64,
    capacity: usize,
}

/// Counter frames: 100 bytes, the first 4 a little-endian int32 counter from 0.
const COUNTER_FRAME: usize = 100;

#[when(regex = r"^the '(.*)' process writes continuously at high speed$")]
fn writes_continuously(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let writer = state.writer()?;
    state.jobs.spawn(FLOW_WRITER, move |stop| {
        let mut stats = FlowStats::default();
        for counter in 0..i32::MAX {
            if stop.is_set() {
                break;
            }
            let mut data = vec![0u8; COUNTER_FRAME];
            data[..4].copy_from_slice(&counter.to_le_bytes());
            let mut guard = writer
                .try_lock_for(JOIN_TIMEOUT)
                .context("the writer stayed busy")?;
            let w = guard.as_mut().context("the writer was closed")?;
            stats.capacity = (w.payload_size() / (COUNTER_FRAME as u64 + HEADER)) as usize;
            // A zero timeout tries exactly once: did the frame have to wait for the reader?
            let timeout = w.write_timeout();
            w.set_write_timeout(Duration::ZERO);
            let first = w.write_frame(&data);
            w.set_write_timeout(timeout);
            let waited = matches!(first, Err(Error::BufferFull));
            let outcome = match first {
                Err(Error::BufferFull) => write_when_space(w, &data, &stop),
                other => other.map(Some).context("writing a counter frame"),
            };
            match outcome {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    // The reader stopped reading (or left) for a whole write timeout: the stream
                    // ends here; anything else is a failure.
                    let stalled = e
                        .downcast_ref::<Error>()
                        .is_some_and(|e| matches!(e, Error::BufferFull | Error::ReaderDead));
                    if stalled {
                        break;
                    }
                    return Err(e.context(format!("counter frame {counter}")));
                }
            }
            let o = w.oieb_snapshot();
            stats.max_unread = stats
                .max_unread
                .max(o.payload_written_count - o.payload_read_count);
            stats.waited.push(waited);
        }
        Ok(stats)
    })
}

#[when(regex = r"^the '(.*)' process reads with '(.*)' ms delay per frame$")]
fn reads_with_delay_per_frame(world: &mut ZbWorld, process: String, delay: String) -> Result<()> {
    let delay = Duration::from_millis(num(&delay)?);
    let state = world.process(&process);
    let reader = state.reader()?;
    let progress = Arc::new(SlowProgress {
        read: AtomicUsize::new(0),
        limit: AtomicUsize::new(usize::MAX),
    });
    edge(state).slow = Some((Arc::clone(&progress), delay));
    state.jobs.spawn(SLOW_READER, move |stop| {
        let mut result = SlowRead::default();
        while !stop.is_set() && result.frames < progress.limit.load(Ordering::SeqCst) {
            let frame = match reader.read_frame(WAIT_SLICE) {
                Ok(frame) => frame,
                Err(Error::Timeout(_)) => continue,
                Err(Error::WriterDead) => break,
                Err(e) => return Err(e).context("reading counter frames"),
            };
            let expected = result.frames as i32;
            let counter = frame
                .get(..4)
                .map(|b| i32::from_le_bytes(b.try_into().expect("4 bytes")));
            if counter != Some(expected) || frame.len() != COUNTER_FRAME {
                result.problems.push(format!(
                    "frame {}: counter {counter:?}, {} bytes; expected counter {expected}, {COUNTER_FRAME} bytes",
                    result.frames + 1,
                    frame.len()
                ));
            }
            drop(frame);
            result.frames += 1;
            progress.read.store(result.frames, Ordering::SeqCst);
            thread::sleep(delay);
        }
        Ok(result)
    })
}

#[when(regex = r"^the '(.*)' process the test runs for '(.*)' frames$")]
fn test_runs_for(world: &mut ZbWorld, process: String, count: String) -> Result<()> {
    let count: usize = num(&count)?;
    let state = world.process(&process);
    let (progress, delay) = edge(state)
        .slow
        .clone()
        .context("no slow reader was started")?;
    progress.limit.store(count, Ordering::SeqCst);
    let already = progress.read.load(Ordering::SeqCst);
    ensure!(
        already < count,
        "the reader had already read {already} frames before the run was limited to {count}"
    );
    // Generous: four times the reader's own pace, plus slack for a busy machine.
    let budget = delay * 4 * count as u32 + Duration::from_secs(10);
    let deadline = Instant::now() + budget;
    while !state.jobs.is_finished(SLOW_READER)? {
        ensure!(
            Instant::now() < deadline,
            "the reader got {} of {count} frames within {budget:?}",
            progress.read.load(Ordering::SeqCst)
        );
        thread::sleep(Duration::from_millis(20));
    }
    let result = state.jobs.join::<SlowRead>(SLOW_READER, JOIN_TIMEOUT)?;
    edge(state).slow_result = Some((count, result));
    Ok(())
}

#[then(regex = r"^the '(.*)' process should receive all frames without loss$")]
fn receives_all_without_loss(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let (count, result) = edge(state)
        .slow_result
        .as_ref()
        .context("the slow read has not run")?;
    ensure!(
        result.problems.is_empty(),
        "frames were lost or damaged: {}",
        result.problems.join("; ")
    );
    ensure!(
        result.frames == *count,
        "read {} frames, expected {count}",
        result.frames
    );
    Ok(())
}

/// The continuous writer's statistics: stops and joins it on first use.
fn flow_stats(state: &mut ProcessState) -> Result<FlowStats> {
    if let Some(stats) = &edge(state).flow {
        return Ok(stats.clone());
    }
    state.jobs.request_stop(FLOW_WRITER)?;
    let stats = state.jobs.join::<FlowStats>(FLOW_WRITER, JOIN_TIMEOUT)?;
    tracing::debug!(
        written = stats.waited.len(),
        waited = stats.waited.iter().filter(|&&w| w).count(),
        max_unread = stats.max_unread,
        capacity = stats.capacity,
        "continuous writer stopped"
    );
    edge(state).flow = Some(stats.clone());
    Ok(stats)
}

#[then(regex = r"^the '(.*)' process should block appropriately$")]
fn blocks_appropriately(world: &mut ZbWorld, process: String) -> Result<()> {
    // Causal, not timed: a write "waited" when a single attempt found no space for it.
    let stats = flow_stats(world.process(&process))?;
    let written = stats.waited.len();
    let after_fill = written.saturating_sub(stats.capacity);
    let waited = stats.waited.iter().filter(|&&w| w).count();
    ensure!(
        after_fill > 0,
        "the writer wrote {written} frames: the ring ({} frames) never filled",
        stats.capacity
    );
    ensure!(
        waited * 2 >= after_fill,
        "only {waited} of the {after_fill} writes after the ring filled had to wait for the reader"
    );
    Ok(())
}

#[then(regex = r"^the '(.*)' process flow control should work correctly$")]
fn flow_control_works(world: &mut ZbWorld, process: String) -> Result<()> {
    let stats = flow_stats(world.process(&process))?;
    let capacity = stats.capacity;
    ensure!(
        stats.waited.len() > capacity,
        "the writer wrote {} frames, not more than the ring holds ({capacity})",
        stats.waited.len()
    );
    // Full speed while there is room, ...
    if let Some(i) = stats.waited.iter().take(capacity).position(|&w| w) {
        bail!("frame {i} had to wait although the ring still had room");
    }
    // ... throttled to the reader once it is full, never further ahead than the ring holds
    // (one wrap marker may be among the unread entries).
    ensure!(
        stats.waited.iter().any(|&w| w),
        "the writer never had to wait for the reader"
    );
    ensure!(
        stats.max_unread <= capacity as u64 + 1,
        "the writer got {} entries ahead of the reader; the ring holds {capacity} frames",
        stats.max_unread
    );
    Ok(())
}

// ---- 4.6 / 4.7 Exact fit, minimum frame --------------------------------------------------------

#[when(regex = r"^the '([^']*)' process writes frame with exact size '([^']*)'$")]
fn writes_exact_size(world: &mut ZbWorld, process: String, size: String) -> Result<()> {
    let size: usize = num(&size)?;
    let state = world.process(&process);
    let p = state.with_writer(|w| w.payload_size())?;
    ensure!(
        size as u64 + HEADER == p,
        "{size} + {HEADER} bytes of header is not the payload size {p}"
    );
    write(state, &simple_data(size)).map(drop)
}

#[then(regex = r"^buffer should be completely full$")]
fn buffer_completely_full(world: &mut ZbWorld) -> Result<()> {
    let o = oieb(world.current()?)?;
    ensure!(
        o.payload_free_bytes == 0,
        "{} of {} payload bytes are still free",
        o.payload_free_bytes,
        o.payload_size
    );
    Ok(())
}

#[then(regex = r"^no more writes should be possible$")]
fn no_more_writes(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    match write_with_timeout(state, &simple_data(1), PROBE_TIMEOUT)? {
        Err(Error::BufferFull) => Ok(()),
        Err(e) => bail!("expected the 1-byte write to find no space, it failed with: {e}"),
        Ok(seq) => bail!("a 1-byte write went through (sequence {seq})"),
    }
}

#[when(regex = r"^the '([^']*)' process reads frame$")]
fn reads_frame(world: &mut ZbWorld, process: String) -> Result<()> {
    read_next(world.process(&process), READ_TIMEOUT).map(drop)
}

#[then(regex = r"^the frame should have size '([^']*)'$")]
fn frame_has_size(world: &mut ZbWorld, size: String) -> Result<()> {
    let size: usize = num(&size)?;
    let state = world.current()?;
    let frame = last_frame(state)?;
    ensure!(
        frame.data.len() == size,
        "the frame has {} bytes, expected {size}",
        frame.data.len()
    );
    Ok(())
}

#[then(regex = r"^the '([^']*)' process should be able to write again$")]
fn able_to_write_again(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    write_with_timeout(state, &simple_data(1024), Duration::from_secs(1))?
        .context("the write did not get through within 1 s")
        .map(drop)
}

#[when(regex = r"^the '([^']*)' process attempts to write frame with size '([^']*)'$")]
fn attempts_frame_with_size(world: &mut ZbWorld, process: String, size: String) -> Result<()> {
    let data = simple_data(num(&size)?);
    let state = world.process(&process);
    state.last_error = state.with_writer(|w| w.write_frame(&data))?.err();
    Ok(())
}

#[then(regex = r"^the '([^']*)' process should fail with zero size error$")]
fn fails_with_zero_size(world: &mut ZbWorld, process: String) -> Result<()> {
    let err = world
        .process(&process)
        .take_error("a zero-frame-size error")?;
    ensure!(
        matches!(err, Error::ZeroSizeFrame),
        "expected a zero-frame-size error, got: {err}"
    );
    Ok(())
}

#[then(regex = r"^frame overhead should be '([^']*)' bytes$")]
fn frame_overhead(world: &mut ZbWorld, expected: String) -> Result<()> {
    // Measured on the writer: the free bytes a 1-byte probe frame takes, minus its byte. The
    // probe stays in the ring like any frame (the reader reads it next).
    let expected: u64 = num(&expected)?;
    let state = world.current()?;
    let (before, after) = state
        .with_writer(|w| {
            let before = w.oieb_snapshot();
            w.write_frame(&simple_data(1))
                .map(|_| (before, w.oieb_snapshot()))
        })?
        .context("writing the 1-byte probe frame")?;
    let taken = before.payload_free_bytes - after.payload_free_bytes;
    // The probe must sit right after the old write position, not behind a wrap (whose skipped
    // tail would count too).
    let (p, end) = (before.payload_size, before.payload_write_pos + taken);
    ensure!(
        end <= p && after.payload_write_pos == end % p,
        "the probe did not land at the write position {} (it wrapped?)",
        before.payload_write_pos
    );
    let overhead = taken - 1;
    ensure!(
        overhead == expected,
        "a 1-byte frame takes {taken} bytes: overhead {overhead}, expected {expected}"
    );
    Ok(())
}

// ---- 4.9 Rapid write-read cycles ---------------------------------------------------------------

/// What the draining reader (P093) saw.
#[derive(Default)]
struct Drain {
    sequences: Vec<u64>,
    bad_data: Vec<String>,
    stream_ended: bool,
}

#[when(regex = r"^the '([^']*)' process writes '([^']*)' frames of size '([^']*)' rapidly$")]
fn writes_frames_rapidly_sized(
    world: &mut ZbWorld,
    process: String,
    count: String,
    size: String,
) -> Result<()> {
    let (count, size): (u64, usize) = (num(&count)?, num(&size)?);
    spawn_seeded_stream(world.process(&process), RAPID_WRITER, count, size)
}

#[when(regex = r"^the '([^']*)' process reads all frames and signals immediately$")]
fn reads_all_frames(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let reader = state.reader()?;
    let mut drain = Drain::default();
    let budget = Duration::from_secs(60);
    let deadline = Instant::now() + budget;
    while Instant::now() < deadline {
        match reader.read_frame(Duration::from_secs(1)) {
            Ok(frame) => {
                // The frame is checked and released at once.
                if let Some(i) = first_frame_data_mismatch(&frame, frame.sequence()) {
                    drain
                        .bad_data
                        .push(format!("frame {} differs at byte {i}", frame.sequence()));
                }
                drain.sequences.push(frame.sequence());
            }
            Err(Error::WriterDead) => drain.stream_ended = true,
            Err(Error::Timeout(_)) => {
                drain.stream_ended = !reader.is_writer_connected() && reader.pending_frames()? == 0
            }
            Err(e) => return Err(e).context("reading the stream"),
        }
        if drain.stream_ended {
            break;
        }
    }
    let read = drain.sequences.len();
    let ended = drain.stream_ended;
    edge(state).drain = Some(drain);
    ensure!(
        ended,
        "the stream did not end within {budget:?} ({read} frames read)"
    );
    Ok(())
}

fn drain(state: &mut ProcessState) -> Result<&Drain> {
    edge(state)
        .drain
        .as_ref()
        .context("this process has not read the stream")
}

#[then(regex = r"^all sequence numbers should be correct$")]
fn all_sequences_correct(world: &mut ZbWorld) -> Result<()> {
    let drain = drain(world.current()?)?;
    ensure!(!drain.sequences.is_empty(), "no frame was read");
    for (i, &seq) in drain.sequences.iter().enumerate() {
        ensure!(
            seq == i as u64 + 1,
            "frame {} has sequence {seq}, expected {}",
            i + 1,
            i + 1
        );
    }
    ensure!(
        drain.bad_data.is_empty(),
        "damaged frames: {}",
        drain.bad_data.join("; ")
    );
    Ok(())
}

#[then(regex = r"^no frames should be lost$")]
fn no_frames_lost(world: &mut ZbWorld) -> Result<()> {
    // On either side: every entry the writer committed has been taken by the reader (waiting a
    // little for a reader in another process to catch up), and the frames this process
    // recorded as reader have no gap in their sequence numbers.
    let state = world.current()?;
    let recorded: Vec<u64> = match &edge(state).drain {
        Some(d) => d.sequences.clone(),
        None => state.received.iter().map(|f| f.sequence).collect(),
    };
    if let Some(gap) = recorded.windows(2).find(|w| w[1] != w[0] + 1) {
        bail!("frames {} to {} are missing", gap[0] + 1, gap[1] - 1);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let o = oieb(state)?;
        if o.payload_written_count > 0 && o.payload_read_count == o.payload_written_count {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "{} entries were written but {} read",
            o.payload_written_count,
            o.payload_read_count
        );
        thread::sleep(Duration::from_millis(20));
    }
}

#[then(regex = r"^no deadlocks should occur$")]
fn no_deadlocks_occur(world: &mut ZbWorld) -> Result<()> {
    // The exchange ran to its end within the reader's budget, and nothing is stuck: no frame
    // signalled but untaken, none held, the writer gone after its last frame.
    let state = world.current()?;
    let ended = drain(state)?.stream_ended;
    ensure!(ended, "the stream did not run to its end");
    let reader = state.reader()?;
    let (pending, held) = (reader.pending_frames()?, reader.outstanding_frames());
    ensure!(
        pending == 0 && held == 0,
        "{pending} frames still signalled, {held} still held"
    );
    ensure!(
        !reader.is_writer_connected(),
        "the writer is still attached after the stream ended"
    );
    Ok(())
}

// ---- 4.11 Concurrent initialization race ---------------------------------------------------------

#[given(regex = r"^two '([^']*)' processes$")]
fn two_processes(world: &mut ZbWorld, role: String) -> Result<()> {
    // 4.11 names no process Harmony recognises (never generated); in-process the two would-be
    // owners are threads of the process named here.
    edge(world.process(&role)).contenders = Some(2);
    Ok(())
}

#[when(regex = r"^both simultaneously attempt to create buffer '([^']*)'$")]
fn both_create(world: &mut ZbWorld, buffer: String) -> Result<()> {
    let name = world.buffer_name(&buffer);
    let state = world.current()?;
    let contenders = edge(state)
        .contenders
        .context("no contenders were prepared")?;
    let start = Arc::new(Barrier::new(contenders));
    let (tx, rx) = mpsc::channel();
    for i in 0..contenders {
        let (start, tx, name) = (Arc::clone(&start), tx.clone(), name.clone());
        thread::Builder::new()
            .name(format!("creator-{i}"))
            .spawn(move || {
                start.wait();
                let _ = tx.send(Reader::create(&name, DEFAULT_CONFIG));
            })
            .context("starting a creator thread")?;
    }
    let mut winners = Vec::new();
    for _ in 0..contenders {
        match rx
            .recv_timeout(JOIN_TIMEOUT)
            .context("a creator did not finish")?
        {
            Ok(reader) => winners.push(reader),
            Err(e) => edge(state).race_errors.push(e),
        }
    }
    state.buffer = Some(name);
    state.reader = winners.pop().map(Arc::new);
    edge(state).extra_readers = winners;
    Ok(())
}

#[then(regex = r"^only one should succeed$")]
fn only_one_succeeds(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    let winners = usize::from(state.reader.is_some()) + edge(state).extra_readers.len();
    ensure!(winners == 1, "{winners} creations succeeded");
    Ok(())
}

#[then(regex = r"^other should receive appropriate error$")]
fn other_gets_error(world: &mut ZbWorld) -> Result<()> {
    let errors = &edge(world.current()?).race_errors;
    ensure!(
        errors.len() == 1,
        "{} creations failed: {errors:?}",
        errors.len()
    );
    ensure!(
        matches!(errors[0], Error::ReaderAlreadyConnected(_)),
        "expected a reader-already-connected error, got: {}",
        errors[0]
    );
    Ok(())
}

#[then(regex = r"^no resource corruption should occur$")]
fn no_resource_corruption(world: &mut ZbWorld) -> Result<()> {
    // The buffer's OIEB is consistent and its reader alive; where this process owns the reader
    // and has no writer, a frame must also make the round trip.
    let state = world.current()?;
    let name = state.buffer()?.to_owned();
    let info = zerobuffer::inspect(&name)?;
    let o = info.oieb;
    let consistent = o.oieb_size == 128
        && o.version[0] == 1
        && o.payload_size > 0
        && o.payload_free_bytes <= o.payload_size
        && o.payload_write_pos <= o.payload_size
        && o.payload_read_pos <= o.payload_size
        && o.payload_read_count <= o.payload_written_count
        && o.metadata_written_bytes <= o.metadata_size
        && info.segment_size >= 128 + o.metadata_size + o.payload_size;
    ensure!(consistent, "the OIEB of '{name}' is inconsistent: {o:?}");
    ensure!(info.reader_alive, "the buffer's reader is not alive");
    if let (Some(reader), None) = (state.reader.clone(), &state.writer) {
        let mut writer = Writer::connect(&name).context("connecting a writer to check")?;
        writer.write_frame(b"integrity")?;
        let frame = reader.read_frame(READ_TIMEOUT)?;
        ensure!(
            &*frame == b"integrity",
            "the round-trip frame came back different"
        );
    }
    Ok(())
}

// ---- 4.12 Writer before reader -------------------------------------------------------------------

#[when(regex = r"^a '([^']*)' process attempts to connect to non-existent buffer '([^']*)'$")]
fn connects_to_missing_buffer(world: &mut ZbWorld, role: String, buffer: String) -> Result<()> {
    // 4.12 is never generated under Harmony; in-process the attempt runs as the process named.
    let name = world.buffer_name(&buffer);
    let state = world.process(&role);
    state.buffer = Some(name.clone());
    match Writer::connect(&name) {
        Ok(writer) => {
            state.last_error = None;
            state.writer = Some(Arc::new(Mutex::new(Some(writer))));
        }
        Err(e) => state.last_error = Some(e),
    }
    Ok(())
}

fn kept_error(state: &ProcessState) -> Result<&Error> {
    state
        .last_error
        .as_ref()
        .ok_or_else(|| anyhow!("the '{}' process's connection succeeded", state.name))
}

#[then(regex = r"^the connection should fail with appropriate error$")]
fn connection_fails_appropriately(world: &mut ZbWorld) -> Result<()> {
    let err = kept_error(world.current()?)?;
    ensure!(
        matches!(err, Error::BufferNotFound { .. }),
        "expected a buffer-not-found error, got: {err}"
    );
    Ok(())
}

#[then(regex = r"^error should indicate no shared memory found$")]
fn error_says_no_shared_memory(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    let err = kept_error(state)?;
    ensure!(
        matches!(err, Error::BufferNotFound { what, .. } if *what == "shared memory"),
        "expected the error to name the missing shared memory, got: {err}"
    );
    // And the attempt created none.
    let segment = zerobuffer::ObjectPaths::new(state.buffer()?).segment;
    ensure!(
        !segment.exists(),
        "{} exists after the failed connection",
        segment.display()
    );
    Ok(())
}
