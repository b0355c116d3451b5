//! Streaming (1.6, 1.7, reused by 4.9 and 6.x): a background writer pushing more frames than
//! the ring holds against a reader that may lag.

use anyhow::{ensure, Result};
use cucumber::{then, when};

use crate::captures::{Millis, Number};
use crate::drivers::patterns::{check_consecutive, check_seeded};
use crate::drivers::streams::{read_stream, spawn_seeded_stream};
use crate::world::ZbWorld;

/// A background writer of `count` seeded frames, as fast as the ring lets it: 1.6's "as fast as
/// possible" and 4.9's "rapidly" are the same action.
#[when(regex = r"^the '(.*)' process writes '(.*)' frames of size '(.*)' as fast as possible$")]
#[when(regex = r"^the '([^']*)' process writes '([^']*)' frames of size '([^']*)' rapidly$")]
fn writes_frames_fast(
    world: &mut ZbWorld,
    process: String,
    count: Number<u64>,
    size: Number<usize>,
) -> Result<()> {
    let (count, size) = (count.0, size.0);
    spawn_seeded_stream(world.process(&process), "stream-writer", count, size)
}

#[when(regex = r"^the '(.*)' process reads frames with '(.*)' ms delay between each read$")]
fn reads_with_delay(world: &mut ZbWorld, process: String, delay: Millis) -> Result<()> {
    let delay = delay.0;
    let state = world.process(&process);
    if let Some(e) = read_stream(state, delay)? {
        state.frames.stream.sequence_errors.push(e.to_string());
    }
    Ok(())
}

#[then(regex = r"^the '(.*)' process should have read '(.*)' frames$")]
fn has_read_frames(world: &mut ZbWorld, process: String, count: Number<usize>) -> Result<()> {
    let count = count.0;
    let read = world.process(&process).received.len();
    ensure!(read == count, "read {read} frames, expected {count}");
    Ok(())
}

#[then(
    regex = r"^the '(.*)' process should verify all frames have sequential sequence numbers starting from '(.*)'$"
)]
fn sequential_from(world: &mut ZbWorld, process: String, first: Number<u64>) -> Result<()> {
    let state = world.process(&process);
    check_consecutive(&state.received, first.0)?;
    for frame in &state.received {
        check_seeded(frame, frame.sequence)?;
    }
    Ok(())
}

#[then(regex = r"^no sequence errors should have occurred$")]
fn no_sequence_errors(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    let errors = &state.frames.stream.sequence_errors;
    ensure!(errors.is_empty(), "sequence errors: {errors:?}");
    Ok(())
}
