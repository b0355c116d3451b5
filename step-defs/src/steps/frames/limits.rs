//! The largest frame a ring takes, and one byte more (5.7).

use anyhow::{bail, ensure, Result};
use cucumber::{then, when};
use zerobuffer::layout::FrameHeader;
use zerobuffer::Error;

use crate::drivers::explain::Explain as _;
use crate::drivers::ring::{raw_buffer, HEADER};
use crate::drivers::streams::write_seeded;
use crate::state::faults::MaxFrameWrite;
use crate::world::ZbWorld;

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
    state.faults.max_frame.write = Some(write);
    Ok(())
}

#[then(regex = r"^the '([^']*)' process should verify frame was written successfully$")]
fn max_frame_written(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let write = state
        .faults
        .max_frame
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
    state.faults.max_frame.attempted = Some(len);
    state.last_error = error;
    Ok(())
}

#[then(regex = r"^the '([^']*)' process write should be rejected with appropriate error$")]
fn oversized_frame_rejected(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let attempted = state
        .faults
        .max_frame
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
