//! 4.5: a writer at full speed against a reader that takes its time: nothing is lost and the
//! writer is held back by the full ring.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use anyhow::{bail, ensure, Result};
use cucumber::{then, when};
use zerobuffer::Error;

use crate::captures::{Millis, Number};
use crate::drivers::endpoints::write_when_space;
use crate::drivers::explain::Explain as _;
use crate::drivers::poll::{poll_until, WAIT_SLICE};
use crate::drivers::ring::HEADER;
use crate::state::frames::{FlowStats, SlowProgress, SlowRead};
use crate::world::{ProcessState, ZbWorld, JOIN_TIMEOUT};

/// Labels of the writer and reader loops.
const FLOW_WRITER: &str = "continuous-writer";
const SLOW_READER: &str = "slow-reader";

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
                Err(Error::BufferFull) => write_when_space(w, &data, &stop, || {})
                    .with_context(|| format!("writing a {}-byte frame", data.len())),
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
fn reads_with_delay_per_frame(world: &mut ZbWorld, process: String, delay: Millis) -> Result<()> {
    let delay = delay.0;
    let state = world.process(&process);
    let reader = state.reader()?;
    let progress = Arc::new(SlowProgress {
        read: AtomicUsize::new(0),
        limit: AtomicUsize::new(usize::MAX),
    });
    state.frames.flow.slow = Some((Arc::clone(&progress), delay));
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
fn test_runs_for(world: &mut ZbWorld, process: String, count: Number<usize>) -> Result<()> {
    let count = count.0;
    let state = world.process(&process);
    let (progress, delay) = state
        .frames
        .flow
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
    let finished = poll_until(budget, Duration::from_millis(20), || {
        Ok(state.jobs.is_finished(SLOW_READER)?.then_some(()))
    })?;
    ensure!(
        finished.is_some(),
        "the reader got {} of {count} frames within {budget:?}",
        progress.read.load(Ordering::SeqCst)
    );
    let result = state.jobs.join::<SlowRead>(SLOW_READER, JOIN_TIMEOUT)?;
    state.frames.flow.slow_result = Some((count, result));
    Ok(())
}

#[then(regex = r"^the '(.*)' process should receive all frames without loss$")]
fn receives_all_without_loss(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let (count, result) = state
        .frames
        .flow
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
    if let Some(stats) = &state.frames.flow.flow {
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
    state.frames.flow.flow = Some(stats.clone());
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
