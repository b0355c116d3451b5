//! Streaming (1.6, 1.7, reused by 4.9 and 6.x): a background writer pushing more frames than
//! the ring holds against a reader that may lag.

use std::thread;
use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use cucumber::{then, when};
use zerobuffer::testdata::frame_data;
use zerobuffer::Error;

use super::{check_consecutive, check_seeded};
use crate::explain::Explain as _;
use crate::steps::num;
use crate::world::{ProcessState, ReceivedFrame, ZbWorld};

/// What "reads frames with ... delay" recorded.
#[derive(Default)]
struct Stream {
    sequence_errors: Vec<String>,
}

#[when(regex = r"^the '(.*)' process writes '(.*)' frames of size '(.*)' as fast as possible$")]
fn writes_frames_fast(
    world: &mut ZbWorld,
    process: String,
    count: String,
    size: String,
) -> Result<()> {
    let (count, size): (u64, usize) = (num(&count)?, num(&size)?);
    spawn_seeded_stream(world.process(&process), "fast-writer", count, size)
}

/// Starts a background job that writes `count` frames of `size` bytes, frame `i` seeded with
/// `i` (its sequence from a fresh writer), then closes the writer so the reader sees the end
/// of the stream (writer_pid back to 0).
pub(crate) fn spawn_seeded_stream(
    state: &mut ProcessState,
    label: &str,
    count: u64,
    size: usize,
) -> Result<()> {
    let writer = state.writer()?;
    state.jobs.spawn(label, move |stop| {
        for seq in 1..=count {
            ensure!(
                !stop.is_set(),
                "stopped after {} of {count} frames",
                seq - 1
            );
            let mut guard = writer
                .try_lock_for(crate::world::JOIN_TIMEOUT)
                .context("the writer stayed busy")?;
            let w = guard.as_mut().context("the writer was closed")?;
            w.write_frame(&frame_data(size, seq))
                .with_context(|| format!("writing frame {seq} of {count}"))?;
        }
        writer.lock().take();
        Ok(count)
    })
}

/// Reads frames into `state.received`, sleeping `delay` after each, until the writer has left
/// and everything is read (at most 60 s). A sequence error ends the stream and is returned.
pub(crate) fn read_stream(state: &mut ProcessState, delay: Duration) -> Result<Option<Error>> {
    let reader = state.reader()?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut quiet = 0;
    loop {
        ensure!(
            Instant::now() < deadline,
            "the stream did not end within 60 s"
        );
        match reader.read_frame(Duration::from_secs(1)) {
            Ok(frame) => {
                quiet = 0;
                state.received.push(ReceivedFrame {
                    sequence: frame.sequence(),
                    data: frame.to_vec(),
                });
            }
            Err(Error::WriterDead) => return Ok(None),
            Err(Error::Timeout(_)) => {
                quiet += 1;
                if quiet >= 3 && !reader.is_writer_connected() {
                    return Ok(None);
                }
                continue;
            }
            Err(e @ Error::Sequence { .. }) => return Ok(Some(e)),
            Err(e) => return Err(e).context("reading the stream"),
        }
        if !delay.is_zero() {
            thread::sleep(delay);
        }
    }
}

#[when(regex = r"^the '(.*)' process reads frames with '(.*)' ms delay between each read$")]
fn reads_with_delay(world: &mut ZbWorld, process: String, delay: String) -> Result<()> {
    let delay = Duration::from_millis(num(&delay)?);
    let state = world.process(&process);
    if let Some(e) = read_stream(state, delay)? {
        state
            .scratch::<Stream>()
            .sequence_errors
            .push(e.to_string());
    }
    Ok(())
}

#[then(regex = r"^the '(.*)' process should have read '(.*)' frames$")]
fn has_read_frames(world: &mut ZbWorld, process: String, count: String) -> Result<()> {
    let count: usize = num(&count)?;
    let read = world.process(&process).received.len();
    ensure!(read == count, "read {read} frames, expected {count}");
    Ok(())
}

#[then(
    regex = r"^the '(.*)' process should verify all frames have sequential sequence numbers starting from '(.*)'$"
)]
fn sequential_from(world: &mut ZbWorld, process: String, first: String) -> Result<()> {
    let state = world.process(&process);
    check_consecutive(&state.received, num(&first)?)?;
    for frame in &state.received {
        check_seeded(frame, frame.sequence)?;
    }
    Ok(())
}

#[then(regex = r"^no sequence errors should have occurred$")]
fn no_sequence_errors(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    let errors = &state.scratch::<Stream>().sequence_errors;
    ensure!(errors.is_empty(), "sequence errors: {errors:?}");
    Ok(())
}
