//! Corruption detection (5.1, 5.2, 6.1): raw writes into the OIEB and the frame headers of a
//! live segment, and the typed errors the reader and writer answer them with.

#![allow(
    unsafe_code,
    reason = "corrupts the OIEB and frame headers of a live segment (feature 05)"
)]

use anyhow::{bail, ensure, Result};
use cucumber::{then, when};
use zerobuffer::layout::{oieb as field, FrameHeader, OIEB_SIZE};
use zerobuffer::Error;

use crate::captures::Number;
use crate::drivers::ring::{corrupt_next_header, raw_buffer};
use crate::world::{ReceivedFrame, ZbWorld, READ_TIMEOUT};

// ---- 5.1 Corrupted OIEB ----------------------------------------------------------------------

#[when(regex = r"^the test corrupts OIEB field '([^']*)' to wrong value$")]
fn corrupts_oieb_field(world: &mut ZbWorld, name: String) -> Result<()> {
    let raw = raw_buffer(world.current()?)?;
    let before = raw.oieb();
    let (offset, bytes): (usize, Vec<u8>) = match name.as_str() {
        // The README's obsolete OIEB table calls the first field "operation size".
        "oieb_size" | "operation_size" => (
            field::OIEB_SIZE,
            (2 * OIEB_SIZE as u32).to_le_bytes().to_vec(),
        ),
        "version" | "version_major" => (field::VERSION, vec![2]),
        // Sizes the segment cannot hold.
        "metadata_size" => (
            field::METADATA_SIZE,
            (raw.len() as u64).to_le_bytes().to_vec(),
        ),
        "payload_size" => (field::PAYLOAD_SIZE, 0u64.to_le_bytes().to_vec()),
        other => bail!(
            "no wrong value is defined for OIEB field '{other}' (known: oieb_size, \
             operation_size, version, metadata_size, payload_size)"
        ),
    };
    // SAFETY: OIEB bytes, which no reference of this process covers between library calls
    // (the library reads the OIEB through atomics during its calls).
    unsafe { raw.write(offset, &bytes) };
    ensure!(raw.oieb() != before, "the OIEB did not change");
    Ok(())
}

#[then(regex = r"^the connection should fail with invalid OIEB error$")]
fn connection_fails_invalid_oieb(world: &mut ZbWorld) -> Result<()> {
    let err = world.current()?.take_error("an invalid-OIEB error")?;
    // A wrong major version is the other way a writer refuses an OIEB (protocol.md §2.1).
    ensure!(
        matches!(
            err,
            Error::InvalidOieb(_) | Error::IncompatibleVersion { .. }
        ),
        "expected an invalid-OIEB error, got: {err}"
    );
    Ok(())
}

// ---- 5.2 / 6.1 Corrupted frame header and reading attempts ------------------------------------

#[when(regex = r"^the test corrupts frame header '([^']*)' to '([^']*)'$")]
fn corrupts_frame_header(world: &mut ZbWorld, name: String, value: Number<u64>) -> Result<()> {
    let value = value.0;
    let set: fn(&mut FrameHeader, u64) = match name.as_str() {
        "payload_size" | "size" => |h, v| h.payload_size = v,
        "sequence" | "sequence_number" => |h, v| h.sequence = v,
        other => bail!("a frame header has no field '{other}' (payload_size, sequence)"),
    };
    corrupt_next_header(world.current()?, |h| set(h, value)).map(drop)
}

#[when(regex = r"^the '([^']*)' process attempts to read frame$")]
fn attempts_to_read(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let reader = state.reader()?;
    state.last_error = None;
    match reader.read_frame(READ_TIMEOUT) {
        Ok(frame) => {
            state.last_frame = Some(ReceivedFrame {
                sequence: frame.sequence(),
                data: frame.to_vec(),
            })
        }
        Err(e) => state.last_error = Some(e),
    }
    Ok(())
}

#[then(regex = r"^the read should fail with invalid frame size error$")]
fn read_fails_invalid_frame_size(world: &mut ZbWorld) -> Result<()> {
    let err = world.current()?.take_error("an invalid-frame-size error")?;
    // A zero size at read_pos reads as a wrap marker followed by another zero size ("Invalid
    // frame size: 0"); an oversized one as a frame that leaves the ring.
    match &err {
        Error::InvalidFrameHeader(text)
            if text.contains("Invalid frame size")
                || text.contains("Frame extends past buffer boundary") =>
        {
            Ok(())
        }
        _ => bail!("expected an invalid-frame-size error, got: {err}"),
    }
}

// ---- 5.3 Reader death during a write ---------------------------------------------------------

// ---- 5.7 Maximum frame size -------------------------------------------------------------------
