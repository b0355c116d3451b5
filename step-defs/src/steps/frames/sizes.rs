//! Frame sizes: the single-byte frame and the frame too large for a minimum buffer (4.4), a
//! frame that fills the ring exactly, the zero-size frame, and the 16-byte frame header every
//! frame costs (4.6, 4.7).

use std::time::Duration;

use anyhow::{bail, ensure, Result};
use cucumber::{then, when};
use zerobuffer::testdata::simple_data;
use zerobuffer::Error;

use crate::captures::Number;
use crate::drivers::access;
use crate::drivers::endpoints::{last_frame, oieb, read_next, write, write_with_timeout};
use crate::drivers::explain::Explain as _;
use crate::drivers::poll::PROBE_TIMEOUT;
use crate::drivers::recorded::write_recorded;
use crate::drivers::ring::HEADER;
use crate::world::{ZbWorld, READ_TIMEOUT};

#[when(regex = r"^the '([^']*)' process writes frame with exact size '([^']*)'$")]
fn writes_exact_size(world: &mut ZbWorld, process: String, size: Number<usize>) -> Result<()> {
    let size = size.0;
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
fn frame_has_size(world: &mut ZbWorld, size: Number<usize>) -> Result<()> {
    let size = size.0;
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
fn attempts_frame_with_size(
    world: &mut ZbWorld,
    process: String,
    size: Number<usize>,
) -> Result<()> {
    let data = simple_data(size.0);
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
fn frame_overhead(world: &mut ZbWorld, expected: Number<u64>) -> Result<()> {
    // Judged on the last frame the process handled, as whichever role the step reaches: the
    // free bytes a write took, or those a read gave back at its release, minus the data bytes.
    let expected = expected.0;
    let state = world.current()?;
    let access = access::last(state)?;
    let bytes = access.footprint()?;
    let overhead = bytes - access.len;
    ensure!(
        overhead == expected,
        "a {}-byte frame took {bytes} ring bytes ({:?}): overhead {overhead}, expected {expected}",
        access.len,
        access.side
    );
    Ok(())
}

#[when(regex = r"^the '(.*)' process writes single byte frame$")]
fn writes_single_byte(world: &mut ZbWorld, process: String) -> Result<()> {
    write_recorded(world.process(&process), vec![0x42])
}

#[when(regex = r"^the '(.*)' process attempts to write '(.*)' byte frame$")]
fn attempts_sized_frame(world: &mut ZbWorld, process: String, size: Number<usize>) -> Result<()> {
    let data = simple_data(size.0);
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
