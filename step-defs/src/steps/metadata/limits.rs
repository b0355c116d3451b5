//! Group E of steps.md: metadata errors and buffers without metadata (feature 03).
//! Metadata follows the shared contract (steps.md §4.1): byte i = i % 256, a second attempt
//! (i + 100) % 256.

use std::time::Duration;

use anyhow::{bail, ensure, Result};
use cucumber::{then, when};
use zerobuffer::testdata::{frame_data, is_simple_data, simple_data};
use zerobuffer::Error;

use crate::captures::Number;
use crate::drivers::endpoints::{read_next, write};
use crate::world::ZbWorld;

/// Seed of the second metadata attempt's pattern: byte i = (i + 100) % 256.
const SECOND_METADATA_SEED: u64 = 100;
/// "the original metadata should remain unchanged" names no size: its one user, 3.1, writes
/// 500 bytes first (the C# reference assumes the same).
const ORIGINAL_METADATA_LEN: usize = 500;
/// Every metadata block starts with its length as a u64.
const METADATA_PREFIX: u64 = 8;
const TEXT_FRAMES: [&str; 3] = ["frame_0", "frame_1", "frame_2"];
const TEXT_READ_TIMEOUT: Duration = Duration::from_secs(1);

#[when(regex = r"^the '(.*)' process attempts to write metadata again with size '(.*)'$")]
fn attempts_metadata_again(
    world: &mut ZbWorld,
    process: String,
    size: Number<usize>,
) -> Result<()> {
    let data = frame_data(size.0, SECOND_METADATA_SEED);
    let state = world.process(&process);
    state.last_error = state.with_writer(|w| w.set_metadata(&data))?.err();
    Ok(())
}

#[then(regex = r"^the '(.*)' process verifies the second metadata write should fail$")]
fn second_metadata_write_failed(world: &mut ZbWorld, process: String) -> Result<()> {
    let err = world
        .process(&process)
        .take_error("the second metadata write to fail")?;
    ensure!(
        matches!(err, Error::MetadataAlreadyWritten),
        "expected a metadata-already-written error, got: {err}"
    );
    Ok(())
}

#[then(regex = r"^the '(.*)' process verifies the original metadata should remain unchanged$")]
fn original_metadata_unchanged(world: &mut ZbWorld, process: String) -> Result<()> {
    let reader = world.process(&process).reader()?;
    let metadata = reader.metadata()?;
    ensure!(
        metadata.len() == ORIGINAL_METADATA_LEN,
        "the metadata has {} bytes, expected the original {ORIGINAL_METADATA_LEN}",
        metadata.len()
    );
    // The second attempt's bytes differ from the original pattern at every index.
    ensure!(
        is_simple_data(&metadata),
        "the metadata no longer holds the original i % 256 pattern"
    );
    let written = reader.oieb_snapshot().metadata_written_bytes;
    ensure!(
        written == METADATA_PREFIX + ORIGINAL_METADATA_LEN as u64,
        "metadata_written_bytes is {written}, not that of the original metadata"
    );
    Ok(())
}

#[when(regex = r"^the '(.*)' process attempts to write metadata with size '(.*)'$")]
fn attempts_metadata(world: &mut ZbWorld, process: String, size: Number<usize>) -> Result<()> {
    let data = simple_data(size.0);
    let state = world.process(&process);
    let (before, result) = state.with_writer(|w| {
        let before = w.oieb_snapshot().metadata_written_bytes;
        (before, w.set_metadata(&data))
    })?;
    state.metadata.attempt.written_before = Some(before);
    state.last_error = result.err();
    Ok(())
}

#[then(regex = r"^the '(.*)' process verifies the metadata write should fail with size error$")]
fn metadata_write_failed_with_size_error(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let err = state.take_error("the metadata write to fail")?;
    ensure!(
        matches!(err, Error::MetadataTooLarge { .. }),
        "expected a metadata-too-large error, got: {err}"
    );
    let before = state.metadata.attempt.written_before;
    let after = state.with_writer(|w| w.oieb_snapshot().metadata_written_bytes)?;
    ensure!(
        before == Some(after),
        "the refused write changed metadata_written_bytes from {before:?} to {after}"
    );
    Ok(())
}

#[when(regex = r"^the '(.*)' process writes frames without metadata$")]
fn writes_frames_without_metadata(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let written = state.with_writer(|w| w.oieb_snapshot().metadata_written_bytes)?;
    ensure!(
        written == 0,
        "{written} bytes of metadata were written already"
    );
    for text in TEXT_FRAMES {
        write(state, text.as_bytes())?;
    }
    Ok(())
}

#[then(regex = r"^the '(.*)' process should read frames successfully$")]
fn reads_frames_successfully(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    for text in TEXT_FRAMES {
        let frame = read_next(state, TEXT_READ_TIMEOUT)?;
        ensure!(
            frame.data == text.as_bytes(),
            "read {:?}, expected {text:?}",
            String::from_utf8_lossy(&frame.data)
        );
        state.received.push(frame);
    }
    Ok(())
}

#[then(regex = r"^the '(.*)' process verifies the system should work without metadata$")]
fn works_without_metadata(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let reader = state.reader()?;
    let metadata = reader.metadata()?;
    ensure!(
        metadata.is_empty(),
        "the reader sees {} bytes of metadata",
        metadata.len()
    );
    let written = reader.oieb_snapshot().metadata_written_bytes;
    ensure!(written == 0, "metadata_written_bytes is {written}");
    if state.received.is_empty() {
        bail!("the reader has not received any frame, so nothing shows the system works");
    }
    Ok(())
}
