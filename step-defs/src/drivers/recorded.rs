//! A frame written by one step and found again in the ring by a later one (4.3, 4.4): its
//! header, its bytes and the OIEB's count, read through a raw view of the segment.

use anyhow::{ensure, Context as _, Result};
use zerobuffer::layout::FrameHeader;
use zerobuffer_test_support::RawBuffer;

use crate::drivers::ring::HEADER;
use crate::state::frames::LastWrite;
use crate::world::ProcessState;

/// Writes one frame and remembers where it landed, for a later "verify ... succeeded" step.
pub(crate) fn write_recorded(state: &mut ProcessState, data: Vec<u8>) -> Result<()> {
    let (sequence, after) = state
        .with_writer(|w| w.write_frame(&data).map(|seq| (seq, w.oieb_snapshot())))?
        .with_context(|| format!("writing a {}-byte frame", data.len()))?;
    // The frame ends where the write position now is (stored modulo the ring size).
    let p = after.payload_size;
    let offset = (after.payload_write_pos + p - (data.len() as u64 + HEADER)) % p;
    state.frames.last_write = Some(LastWrite {
        offset,
        sequence,
        data,
    });
    Ok(())
}

/// The remembered frame is in the ring: its header and every data byte, and the OIEB counts it.
pub(crate) fn verify_last_write(state: &mut ProcessState) -> Result<()> {
    let name = state.buffer()?.to_owned();
    let last = state
        .frames
        .last_write
        .as_ref()
        .context("no frame was written by this process")?;
    let raw = RawBuffer::open(&name)?;
    let header = raw.frame_header(last.offset);
    let expected = FrameHeader {
        payload_size: last.data.len() as u64,
        sequence: last.sequence,
    };
    ensure!(
        header == expected,
        "the ring holds {header:?} at offset {}, expected {expected:?}",
        last.offset
    );
    let start = raw.payload_offset() + (last.offset + HEADER) as usize;
    ensure!(
        raw.read(start, last.data.len()) == last.data,
        "the frame's data in the ring differs from what was written"
    );
    let counted = raw.oieb().payload_written_count;
    ensure!(
        counted >= last.sequence,
        "the OIEB counts {counted} written frames, but frame {} was committed",
        last.sequence
    );
    Ok(())
}
