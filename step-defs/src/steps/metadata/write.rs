//! Writing metadata, and a buffer with no metadata block (4.3).

use anyhow::{ensure, Result};
use cucumber::{then, when};
use zerobuffer::testdata::simple_data;
use zerobuffer::Error;

use crate::captures::Number;
use crate::drivers::endpoints::oieb;
use crate::drivers::explain::Explain as _;
use crate::drivers::recorded::{verify_last_write, write_recorded};
use crate::world::ZbWorld;

#[when(regex = r"^the '(.*)' process writes metadata with size '(.*)'$")]
fn writes_metadata(world: &mut ZbWorld, process: String, size: Number<usize>) -> Result<()> {
    let data = simple_data(size.0);
    world
        .process(&process)
        .with_writer(|w| w.set_metadata(&data))?
        .context("writing metadata")
}

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
