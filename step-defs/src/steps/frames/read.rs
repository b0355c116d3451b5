//! Reading frames: by sequence and size, validated against their pattern, in order, and
//! the space they free signalled back.

use anyhow::{ensure, Result};
use cucumber::{then, when};
use zerobuffer::testdata::is_simple_data;

use crate::captures::{num, Number};
use crate::drivers::endpoints::{last_frame, read_next};
use crate::drivers::patterns::{check_consecutive, check_seeded};
use crate::world::{ZbWorld, READ_TIMEOUT};

#[then(regex = r"^the '(.*)' process should read frame with sequence '(.*)' and size '(.*)'$")]
fn reads_frame_with_sequence_and_size(
    world: &mut ZbWorld,
    process: String,
    sequence: Number<u64>,
    size: Number<usize>,
) -> Result<()> {
    let (sequence, size) = (sequence.0, size.0);
    let frame = read_next(world.process(&process), READ_TIMEOUT)?;
    ensure!(
        frame.sequence == sequence,
        "read sequence {}, expected {sequence}",
        frame.sequence
    );
    ensure!(
        frame.data.len() == size,
        "read {} bytes, expected {size}",
        frame.data.len()
    );
    Ok(())
}

#[then(regex = r"^the '(.*)' process should validate frame data$")]
fn validates_frame_data(world: &mut ZbWorld, process: String) -> Result<()> {
    let frame = last_frame(world.process(&process))?;
    check_seeded(frame, frame.sequence)
}

#[when(regex = r"^the '(.*)' process signals space available$")]
#[then(regex = r"^the '(.*)' process signals space available$")]
fn signals_space_available(world: &mut ZbWorld, process: String) -> Result<()> {
    // Frames are released when the read step ends; check that nothing is still held, so the
    // writer really has the space back.
    let state = world.process(&process);
    let held = state.reader()?.outstanding_frames();
    ensure!(held == 0, "{held} frame(s) still hold ring space");
    state.last_frame = None;
    Ok(())
}

#[then(regex = r"^the '(.*)' process should read frame with sequence '(.*)';$")]
#[then(regex = r"^the '([^']*)' process should read frame with sequence '([^']*)'$")]
fn reads_frame_with_sequence(
    world: &mut ZbWorld,
    process: String,
    sequence: Number<u64>,
) -> Result<()> {
    let sequence = sequence.0;
    let state = world.process(&process);
    let frame = read_next(state, READ_TIMEOUT)?;
    ensure!(
        frame.sequence == sequence,
        "read sequence {}, expected {sequence}",
        frame.sequence
    );
    check_seeded(&frame, sequence)?;
    state.received.push(frame);
    Ok(())
}

#[then(regex = r"^the '(.*)' process should verify all frames maintain sequential order$")]
fn frames_in_sequential_order(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    ensure!(!state.received.is_empty(), "no frames were read");
    check_consecutive(&state.received, state.received[0].sequence)
}

#[when(regex = r"^the '(.*)' process reads one frame$")]
fn reads_one_frame(world: &mut ZbWorld, process: String) -> Result<()> {
    read_next(world.process(&process), READ_TIMEOUT).map(drop)
}

#[then(regex = r"^the '(.*)' process should read frame with size '(.*)'$")]
fn reads_frame_with_size(world: &mut ZbWorld, process: String, size: Number<usize>) -> Result<()> {
    let size = size.0;
    let frame = read_next(world.process(&process), READ_TIMEOUT)?;
    ensure!(
        frame.data.len() == size,
        "read {} bytes, expected {size}",
        frame.data.len()
    );
    Ok(())
}

#[then(regex = r"^the '(.*)' process should verify frame data matches test pattern$")]
fn frame_matches_test_pattern(world: &mut ZbWorld, process: String) -> Result<()> {
    let frame = last_frame(world.process(&process))?;
    check_seeded(frame, frame.sequence)
}

#[then(regex = r"^the '(.*)' process should read (.*) frames with sizes '(.*)' in order$")]
fn reads_frames_with_sizes(
    world: &mut ZbWorld,
    process: String,
    count: Number<usize>,
    sizes: String,
) -> Result<()> {
    let count = count.0;
    let sizes = sizes
        .split(',')
        .map(num::<usize>)
        .collect::<Result<Vec<_>>>()?;
    ensure!(
        sizes.len() == count,
        "{count} frames but {} sizes listed",
        sizes.len()
    );
    let state = world.process(&process);
    for (i, size) in sizes.into_iter().enumerate() {
        let frame = read_next(state, READ_TIMEOUT)?;
        ensure!(
            frame.data.len() == size,
            "frame {} has {} bytes, expected {size}",
            i + 1,
            frame.data.len()
        );
        ensure!(
            is_simple_data(&frame.data),
            "frame {} does not hold the i % 256 pattern",
            i + 1
        );
    }
    Ok(())
}

#[then(regex = r"^the '(.*)' process should read frame with data '(.*)'$")]
fn reads_text_frame(world: &mut ZbWorld, process: String, text: String) -> Result<()> {
    let frame = read_next(world.process(&process), READ_TIMEOUT)?;
    ensure!(
        frame.data == text.as_bytes(),
        "read {:?}, expected {text:?}",
        String::from_utf8_lossy(&frame.data)
    );
    Ok(())
}
