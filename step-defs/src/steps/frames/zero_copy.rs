//! Zero-copy writes: a slot requested, filled in place and committed.

use anyhow::{ensure, Result};
use cucumber::when;

use crate::captures::Number;
use crate::drivers::explain::Explain as _;
use crate::drivers::pending::PendingWrite;
use crate::world::ZbWorld;

#[when(regex = r"^the '(.*)' process requests zero-copy frame of size '(.*)'$")]
fn requests_zero_copy(world: &mut ZbWorld, process: String, size: Number<usize>) -> Result<()> {
    let size = size.0;
    ensure!(size > 0, "a zero-copy frame needs at least one byte");
    let state = world.process(&process);
    state.writer()?;
    state.frames.zero_copy.requested = Some(size);
    Ok(())
}

#[when(regex = r"^the '(.*)' process fills zero-copy buffer with test pattern$")]
fn fills_zero_copy(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let size = state
        .frames
        .zero_copy
        .requested
        .context("no zero-copy frame was requested")?;
    let pending = PendingWrite::start(state.writer()?, size, |slot, seq| {
        zerobuffer::testdata::fill_frame_data(slot, seq)
    })?;
    state.frames.zero_copy.pending = Some(pending);
    Ok(())
}

#[when(regex = r"^the '(.*)' process commits zero-copy frame$")]
fn commits_zero_copy(world: &mut ZbWorld, process: String) -> Result<()> {
    let zero_copy = &mut world.process(&process).frames.zero_copy;
    let pending = zero_copy
        .pending
        .take()
        .context("no zero-copy frame is pending")?;
    let expected = pending.sequence;
    let sequence = pending.commit()?;
    ensure!(
        sequence == expected,
        "committed as {sequence}, reserved as {expected}"
    );
    Ok(())
}
