//! Writing frames: seeded, simple and text frames, filling the ring, a write that times out
//! and one that goes through at once.

use std::time::Duration;

use anyhow::{bail, Result};
use cucumber::{given, then, when};
use zerobuffer::testdata::{frame_data, simple_data};
use zerobuffer::Error;

use crate::captures::Number;
use crate::drivers::endpoints::{write, write_with_timeout};
use crate::drivers::explain::Explain as _;
use crate::world::ZbWorld;

/// Write timeout of the steps that fill a buffer until a write times out.
const FULL_PROBE_TIMEOUT: Duration = Duration::from_millis(500);

#[when(regex = r"^the '(.*)' process writes frame with size '(.*)' and sequence '(.*)'$")]
fn writes_sized_seeded_frame(
    world: &mut ZbWorld,
    process: String,
    size: Number<usize>,
    seed: Number<u64>,
) -> Result<()> {
    write(world.process(&process), &frame_data(size.0, seed.0)).map(drop)
}

#[given(regex = r"^the '(.*)' process writes frame with sequence '(.*)'$")]
#[when(regex = r"^the '(.*)' process writes frame with sequence '(.*)'$")]
fn writes_seeded_frame(world: &mut ZbWorld, process: String, seed: Number<u64>) -> Result<()> {
    write(world.process(&process), &frame_data(1024, seed.0)).map(drop)
}

#[when(regex = r"^the '(.*)' process writes frame with size '([^']*)'$")]
fn writes_simple_frame(world: &mut ZbWorld, process: String, size: Number<usize>) -> Result<()> {
    write(world.process(&process), &simple_data(size.0)).map(drop)
}

#[given(regex = r"^the '(.*)' process writes frame with data '(.*)'$")]
#[when(regex = r"^the '(.*)' process writes frame with data '(.*)'$")]
fn writes_text_frame(world: &mut ZbWorld, process: String, text: String) -> Result<()> {
    write(world.process(&process), text.as_bytes()).map(drop)
}

#[when(regex = r"^the '(.*)' process writes frames until buffer is full$")]
fn writes_until_full(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    for seed in 0..100u64 {
        match write_with_timeout(state, &frame_data(1024, seed), FULL_PROBE_TIMEOUT)? {
            Ok(_) => continue,
            Err(Error::BufferFull) if seed > 0 => return Ok(()),
            Err(e) => bail!("frame {seed} failed with {e} instead of filling the buffer"),
        }
    }
    bail!("100 frames of 1024 bytes fit without the buffer getting full")
}

#[then(regex = r"^the '(.*)' process should experience timeout on next write$")]
fn timeout_on_next_write(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    match write_with_timeout(state, &frame_data(1024, 999), FULL_PROBE_TIMEOUT)? {
        Err(Error::BufferFull) => Ok(()),
        Err(e) => bail!("expected the write to time out on a full buffer, got: {e}"),
        Ok(seq) => bail!("the write succeeded (sequence {seq}) although the buffer was full"),
    }
}

#[then(regex = r"^the '(.*)' process should write successfully immediately$")]
fn writes_immediately(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    write_with_timeout(state, &frame_data(1024, 1000), Duration::from_secs(1))?
        .context("the write did not succeed within 1 s")
        .map(drop)
}
