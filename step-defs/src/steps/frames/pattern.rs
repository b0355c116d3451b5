//! 7.4: frames of 1 B, 1 KiB, 1 MiB and 10 MiB holding the incrementing pattern (byte i is
//! i % 256, steps.md §4.1) arrive whole, byte for byte, and nothing else does.

use anyhow::{bail, ensure, Result};
use cucumber::{then, when};
use zerobuffer::testdata::is_simple_data;

use crate::captures::Number;
use crate::drivers::access::explain_write;
use crate::drivers::explain::Explain as _;
use crate::drivers::ring::{ensure_all_taken, ensure_space_given_back};
use crate::drivers::roles::broadcast_subject;
use crate::world::{ZbWorld, READ_TIMEOUT};

/// The frames 7.4 writes, in order (steps.md P167/P168). The reader's check cannot learn the
/// writer's sizes from the writer's process, so it knows them: exactly these frames, in this
/// order, must arrive.
const PATTERN_SIZES: [usize; 4] = [1, 1024, 1 << 20, 10 << 20];

#[when(
    regex = r"^the '([^']*)' process writes frame with size '([^']*)' using incrementing pattern$"
)]
fn writes_incrementing_frame(
    world: &mut ZbWorld,
    process: String,
    size: Number<usize>,
) -> Result<()> {
    let size = size.0;
    let (before, result) = world.process(&process).with_writer(|w| {
        let before = w.oieb_snapshot();
        // Filled in place: byte i = i % 256 (steps.md §4.1, the unseeded pattern).
        let result = w.get_frame_buffer(size).map(|mut slot| {
            for (i, byte) in slot.iter_mut().enumerate() {
                *byte = i as u8;
            }
            slot.commit()
        });
        (before, result)
    })?;
    result
        .map(drop)
        .map_err(|e| explain_write(e, size as u64, &before))
}

#[then(regex = r"^the '([^']*)' process should validate each byte matches expected pattern$")]
fn validates_each_byte(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let reader = state.reader()?;
    let mut sizes = Vec::new();
    for (i, &size) in PATTERN_SIZES.iter().enumerate() {
        let frame = reader.read_frame(READ_TIMEOUT).with_context(|| {
            format!(
                "reading frame {} of {} (the {size}-byte one)",
                i + 1,
                PATTERN_SIZES.len()
            )
        })?;
        let n = i as u64 + 1;
        ensure!(
            frame.sequence() == n && frame.len() == size,
            "frame {n} is frame {} of {} bytes; expected frame {n} of {size} bytes (the frames \
             are {PATTERN_SIZES:?} bytes, in order)",
            frame.sequence(),
            frame.len()
        );
        if !is_simple_data(&frame) {
            let at = frame
                .iter()
                .enumerate()
                .position(|(i, &b)| b != i as u8)
                .unwrap_or(0);
            bail!(
                "frame {n} ({size} bytes): byte {at} is {}, expected {}",
                frame[at],
                at as u8
            );
        }
        sizes.push(frame.len());
    }
    let more = reader.pending_frames()?;
    ensure!(
        more == 0,
        "{more} more frame(s) arrived after the {} expected",
        PATTERN_SIZES.len()
    );
    state.frames.pattern_check.sizes = sizes;
    Ok(())
}

#[then(regex = r"^no data corruption should be detected$")]
fn no_data_corruption(world: &mut ZbWorld) -> Result<()> {
    // Beyond the bytes: the ring gave back exactly what was written, nothing more or less.
    let state = broadcast_subject(world);
    let sizes = state.frames.pattern_check.sizes.clone();
    ensure!(!sizes.is_empty(), "no frame was validated");
    let reader = state.reader()?;
    let oieb = reader.oieb_snapshot();
    ensure_all_taken(&oieb)?;
    ensure!(
        oieb.payload_read_pos == oieb.payload_write_pos,
        "read position {} differs from write position {}",
        oieb.payload_read_pos,
        oieb.payload_write_pos
    );
    ensure_space_given_back(&oieb)?;
    let (pending, held) = (reader.pending_frames()?, reader.outstanding_frames());
    ensure!(
        pending == 0 && held == 0,
        "{pending} unread frame signal(s), {held} frame(s) held"
    );
    Ok(())
}
