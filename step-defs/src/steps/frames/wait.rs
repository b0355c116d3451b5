//! 4.1, 4.8 and 4.10: a write that has to wait for space. It runs in the background
//! ([`BG_WRITE`]): P056 starts one, P100 ends its fill with one. P057, P058, P090, P091 and
//! P101 are the writer's checks: they judge the waiting write through what the writer's
//! process can observe (the OIEB, the semaphores and the write's own progress), never through
//! the reader, which under an orchestrator lives in another process.
//!
//! The background write never fails the scenario by itself: it ends with an [`Outcome`] the
//! checks judge. A write still waiting when the scenario ends (upstream 4.1 and 4.10 end that
//! way) is stopped, or sees its reader close, and that is no error.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Result};
use cucumber::{then, when};
use parking_lot::Mutex;
use zerobuffer::layout::FrameHeader;
use zerobuffer::testdata::{frame_data, simple_data};
use zerobuffer::{Error, NamedSemaphore, OiebSnapshot, Writer};
use zerobuffer_test_support::RawBuffer;

use crate::captures::{num, Number};
use crate::drivers::endpoints::{oieb, with_cause, write, write_when_space, write_with_timeout};
use crate::drivers::explain::Explain as _;
use crate::drivers::jobs::StopFlag;
use crate::drivers::poll::{poll_until, PROBE_TIMEOUT, SETTLE};
use crate::drivers::ring::{unread_entries, HEADER};
use crate::state::frames::{Outcome, Waiting};
use crate::world::{ProcessState, ZbWorld, JOIN_TIMEOUT};

/// Label of the background write that may wait for space (P056, P100).
const BG_WRITE: &str = "edge-write";
/// How long a waiting write may go without a new attempt before it counts as stuck.
const STUCK: Duration = Duration::from_secs(2);

/// How a frame of `len` bytes is placed at write position `w` of a ring of `p` bytes: whether
/// it wraps, and the free bytes it needs (protocol.md §3.3: a wrap also needs the tail; like
/// our writer, a 1–15 byte tail is avoided by wrapping early when the frame fits at the start).
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

/// Writes `data` once the ring has room, trying again every slice (each try counted in
/// `attempts`, see [`write_when_space`]) until the writer's write timeout has passed or `stop`
/// is set.
fn wait_and_write(
    w: &mut Writer,
    data: &[u8],
    stop: &StopFlag,
    attempts: &AtomicU64,
) -> Result<Outcome> {
    let counted = || {
        attempts.fetch_add(1, Ordering::SeqCst);
    };
    match write_when_space(w, data, stop, counted) {
        Ok(Some(sequence)) => Ok(Outcome::Written(sequence)),
        Ok(None) => Ok(Outcome::Stopped),
        Err(Error::BufferFull) => Ok(Outcome::GaveUp),
        Err(Error::ReaderDead) => Ok(Outcome::ReaderGone),
        Err(e) => Err(e).with_context(|| format!("writing a {}-byte frame", data.len())),
    }
}

/// The written frame's sequence, or why there is none.
fn written(outcome: Outcome) -> Result<u64> {
    match outcome {
        Outcome::Written(sequence) => Ok(sequence),
        Outcome::NothingWaited => bail!("the ring was not full: no write had to wait"),
        Outcome::GaveUp => bail!("the waiting write gave up: no room came within its timeout"),
        Outcome::ReaderGone => bail!("the reader went away while the write waited"),
        Outcome::Stopped => bail!("the waiting write was stopped before it completed"),
    }
}

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
    state.frames.wait.large_len = Some(len);
    Ok(())
}

#[when(regex = r"^the '(.*)' process writes small frame of '(.*)' byte$")]
fn writes_small_frame(world: &mut ZbWorld, process: String, size: Number<usize>) -> Result<()> {
    let size = size.0;
    ensure!(size > 0, "a small frame needs at least one byte");
    let mut data = simple_data(size);
    data[0] = 0xFF;
    write(world.process(&process), &data).map(drop)
}

#[when(regex = r"^the '(.*)' process attempts to write large frame again$")]
fn attempts_large_frame_again(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let len = state
        .frames
        .wait
        .large_len
        .context("no large frame was written before")?;
    let writer = state.writer()?;
    let before = state.with_writer(|w| w.oieb_snapshot())?;
    let attempts = Arc::new(AtomicU64::new(0));
    let s = &mut state.frames.wait;
    s.waiting = Some(Arc::new(Mutex::new(Some(Waiting { len, before }))));
    s.attempts = Arc::clone(&attempts);
    s.outcome = None;
    // Seeded with 128 so it differs from the first large frame (i mod 256).
    let data = frame_data(len, 128);
    state.jobs.spawn(BG_WRITE, move |stop| {
        let mut guard = writer
            .try_lock_for(JOIN_TIMEOUT)
            .context("the writer stayed busy")?;
        let w = guard.as_mut().context("the writer was closed")?;
        wait_and_write(w, &data, &stop, &attempts)
    })
}

/// True once the background write has ended (its outcome is then kept).
fn bg_finished(state: &mut ProcessState) -> Result<bool> {
    if state.frames.wait.outcome.is_some() {
        return Ok(true);
    }
    if state.jobs.is_running(BG_WRITE) && !state.jobs.is_finished(BG_WRITE)? {
        return Ok(false);
    }
    join_bg_write(state).map(|_| true)
}

/// Joins the background write and keeps its outcome.
fn join_bg_write(state: &mut ProcessState) -> Result<Outcome> {
    if let Some(done) = state.frames.wait.outcome {
        return Ok(done);
    }
    let outcome = state
        .jobs
        .join::<Outcome>(BG_WRITE, JOIN_TIMEOUT)
        .map_err(with_cause)?;
    state.frames.wait.outcome = Some(outcome);
    Ok(outcome)
}

/// The frame the background write waits to place, once it got there (bounded wait).
fn waiting_frame(state: &mut ProcessState) -> Result<Waiting> {
    let shared = state
        .frames
        .wait
        .waiting
        .clone()
        .context("no background write was started")?;
    let reached = poll_until(SETTLE, Duration::from_millis(10), || {
        if let Some(w) = *shared.lock() {
            return Ok(Some(w));
        }
        if bg_finished(state)? {
            let outcome = join_bg_write(state)?;
            bail!("the background write ended ({outcome:?}) without a frame waiting for space");
        }
        Ok(None)
    })?;
    reached.with_context(|| {
        format!("the background write did not reach its last frame within {SETTLE:?}")
    })
}

/// Lets a running background write settle: true once a frame waits for space, false when the
/// job ended or none was started.
fn frame_is_waiting(state: &mut ProcessState) -> Result<bool> {
    if !state.jobs.is_running(BG_WRITE) {
        return Ok(false);
    }
    let shared = state.frames.wait.waiting.clone();
    let settled = poll_until(SETTLE, Duration::from_millis(10), || {
        if shared.as_ref().is_some_and(|w| w.lock().is_some()) {
            return Ok(Some(true));
        }
        Ok(bg_finished(state)?.then_some(false))
    })?;
    settled.ok_or_else(|| {
        anyhow!(
            "the background write neither finished nor reached a frame that waits within {SETTLE:?}"
        )
    })
}

/// Waits (bounded) until the pending write is seen waiting for room the ring lacks, having
/// published nothing meanwhile (so it overwrote nothing). `None` if it finished instead,
/// `Some((waiting, wraps, oieb))` otherwise.
fn settle_waiting(
    state: &mut ProcessState,
    waiting: Waiting,
) -> Result<Option<(bool, u64, OiebSnapshot)>> {
    let mut last = None;
    let settled = poll_until(SETTLE, Duration::from_millis(10), || {
        if bg_finished(state)? {
            return Ok(Some(None));
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
            return Ok(Some(Some((wraps, required, now))));
        }
        // Room is there (or it is being used): the write is about to finish.
        last = Some((now.payload_free_bytes, required));
        Ok(None)
    })?;
    match (settled, last) {
        (Some(outcome), _) => Ok(outcome),
        (None, Some((free, required))) => {
            bail!("the write is pending although {free} bytes are free and it needs {required}")
        }
        (None, None) => bail!("the pending write was not seen within {SETTLE:?}"),
    }
}

/// The background write is pending because the ring lacks the space the frame needs.
fn check_waits_for_space(state: &mut ProcessState) -> Result<(Waiting, bool)> {
    let waiting = waiting_frame(state)?;
    match settle_waiting(state, waiting)? {
        Some((wraps, _, _)) => Ok((waiting, wraps)),
        None => {
            let outcome = join_bg_write(state)?;
            bail!("the write did not wait for space: it ended with {outcome:?}")
        }
    }
}

/// The frame that waited is in the ring where the protocol puts it: at payload offset 0 behind
/// a wrap marker at the old position if it had to wrap, else at the old position.
fn check_placed(state: &ProcessState, waiting: Waiting, sequence: u64) -> Result<()> {
    let before = waiting.before;
    let (p, w) = (before.payload_size, before.payload_write_pos);
    let (wraps, _) = plan(p, w, waiting.len);
    let raw = RawBuffer::open(state.buffer()?)?;
    let offset = if wraps { 0 } else { w };
    let header = raw.frame_header(offset);
    let expected = FrameHeader {
        payload_size: waiting.len as u64,
        sequence,
    };
    ensure!(
        header == expected,
        "offset {offset} holds {header:?}, expected {expected:?}"
    );
    let marker = wraps && p - w >= HEADER;
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
    let end = offset + waiting.len as u64 + HEADER;
    ensure!(
        now.payload_write_pos == end % p,
        "write position is {}, expected {end} right after the frame at offset {offset}",
        now.payload_write_pos
    );
    Ok(())
}

/// The frame that waited landed at payload offset 0 behind a wrap marker at the old position.
fn check_at_start(state: &ProcessState, waiting: Waiting, sequence: u64) -> Result<()> {
    let (p, w) = (
        waiting.before.payload_size,
        waiting.before.payload_write_pos,
    );
    ensure!(
        plan(p, w, waiting.len).0,
        "a {}-byte frame fits before the ring end at {w}: no wrap-around was needed",
        waiting.len
    );
    check_placed(state, waiting, sequence)
}

#[then(regex = r"^the '(.*)' process proper wrap-around handling should occur$")]
fn proper_wrap_around(world: &mut ZbWorld, process: String) -> Result<()> {
    // Either still waiting, for a wrap's tail plus frame the ring lacks, or done at offset 0.
    let state = world.process(&process);
    if !bg_finished(state)? {
        let (waiting, wraps) = check_waits_for_space(state)?;
        ensure!(
            wraps,
            "the {}-byte frame fits before the ring end: no wrap-around involved",
            waiting.len
        );
        return Ok(());
    }
    let waiting = waiting_frame(state)?;
    let sequence = written(join_bg_write(state)?)?;
    check_at_start(state, waiting, sequence)
}

#[then(regex = r"^the '(.*)' process no deadlocks should happen$")]
fn no_deadlocks_happen(world: &mut ZbWorld, process: String) -> Result<()> {
    // Judged on the writer. A write that completed is in place; one that is still waiting is
    // not deadlocked if it keeps trying, waits only for room, and that room is the reader's to
    // give: the reader is alive, every frame it has not read is signalled to it (so it never
    // waits for the writer), and draining the ring frees enough.
    let state = world.process(&process);
    let waiting = waiting_frame(state)?;
    let pending = settle_waiting(state, waiting)?;
    let Some((_, required, now)) = pending else {
        return match join_bg_write(state)? {
            Outcome::Written(sequence) => check_placed(state, waiting, sequence),
            Outcome::GaveUp => {
                // It ended by itself, which a deadlock never does; only a missed wake-up would
                // let it give up while the room was there.
                let o = oieb(state)?;
                let (_, required) = plan(
                    o.payload_size,
                    waiting.before.payload_write_pos,
                    waiting.len,
                );
                ensure!(
                    o.payload_free_bytes < required,
                    "the write gave up although {} bytes are free and it needs {required}: it \
                     missed the reader's signal",
                    o.payload_free_bytes
                );
                Ok(())
            }
            other => written(other).map(drop),
        };
    };
    let name = state.buffer()?.to_owned();
    ensure!(
        required <= now.payload_size,
        "the write needs {required} free bytes, more than the whole {}-byte ring: it can never \
         proceed",
        now.payload_size
    );
    let info = zerobuffer::inspect(&name)?;
    ensure!(
        info.reader_alive,
        "the reader (PID {}) is gone: nobody can free the {required} bytes the write waits for",
        info.oieb.reader_pid
    );
    let unread = unread_entries(&RawBuffer::open(&name)?)?
        .iter()
        .filter(|e| e.frame)
        .count() as u64;
    let signalled = NamedSemaphore::open(&format!("/sem-w-{name}"))
        .and_then(|s| s.value())
        .with_context(|| format!("reading sem-w-{name}"))?;
    ensure!(
        signalled >= 0 && signalled as u64 == unread,
        "sem-w holds {signalled} signal(s) for {unread} unread frame(s): the reader may wait \
         for a signal the writer never gave"
    );
    // Still trying: the waiting write makes new attempts (it is not stuck in a wait that
    // nothing ends).
    let attempts = Arc::clone(&state.frames.wait.attempts);
    let seen = attempts.load(Ordering::SeqCst);
    // Some(true): a new attempt; Some(false): the write finished meanwhile.
    let moved = poll_until(STUCK, Duration::from_millis(10), || {
        if attempts.load(Ordering::SeqCst) != seen {
            return Ok(Some(true));
        }
        Ok(bg_finished(state)?.then_some(false))
    })?;
    match moved {
        Some(true) => Ok(()),
        Some(false) => written(join_bg_write(state)?).and_then(|s| check_placed(state, waiting, s)),
        None => bail!("the waiting write made no new attempt for {STUCK:?}: it is stuck"),
    }
}

#[then(regex = r"^the '([^']*)' process should wait for space$")]
fn should_wait_for_space(world: &mut ZbWorld, process: String) -> Result<()> {
    check_waits_for_space(world.process(&process)).map(drop)
}

#[then(regex = r"^the '([^']*)' process should complete write at buffer start$")]
fn completes_write_at_start(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let waiting = waiting_frame(state)?;
    let sequence = written(join_bg_write(state)?)?;
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
            state.frames.wait.extra_writer = Some(extra);
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
    let attempts = Arc::new(AtomicU64::new(0));
    let s = &mut state.frames.wait;
    s.waiting = Some(Arc::clone(&waiting));
    s.attempts = Arc::clone(&attempts);
    s.outcome = None;
    state.jobs.spawn(BG_WRITE, move |stop| {
        let mut guard = writer
            .try_lock_for(JOIN_TIMEOUT)
            .context("the writer stayed busy")?;
        let w = guard.as_mut().context("the writer was closed")?;
        fill_to(w, share)?;
        let before = w.oieb_snapshot();
        if before.payload_free_bytes > HEADER {
            return Ok(Outcome::NothingWaited);
        }
        // Full: filling on means the next frame waits for the reader.
        let len = 1024;
        *waiting.lock() = Some(Waiting { len, before });
        wait_and_write(w, &simple_data(len), &stop, &attempts)
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
