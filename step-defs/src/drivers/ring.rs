//! The ring oracle: a raw view of a live segment, the unread frames walked from the OIEB, and
//! corruption of a header in place.

#![allow(
    unsafe_code,
    reason = "corrupts a frame header of a live segment in place (the corruption scenarios)"
)]

use anyhow::{anyhow, ensure, Result};
use zerobuffer::layout::FrameHeader;
use zerobuffer::OiebSnapshot;
use zerobuffer_test_support::RawBuffer;

use crate::drivers::explain::Explain as _;
use crate::world::ProcessState;

/// Maps the shared memory of the buffer `state` works on (no reader or writer role taken).
pub(crate) fn raw_buffer(state: &ProcessState) -> Result<RawBuffer> {
    let name = state.buffer()?;
    RawBuffer::open(name).with_context(|| format!("mapping buffer '{name}'"))
}

/// The reader took every entry the writer wrote: the OIEB's two counts agree.
pub(crate) fn ensure_all_taken(oieb: &OiebSnapshot) -> Result<()> {
    ensure!(
        oieb.payload_read_count == oieb.payload_written_count,
        "{} entries written but {} read: frames were left behind",
        oieb.payload_written_count,
        oieb.payload_read_count
    );
    Ok(())
}

/// The reader gave back all the payload space: the ring is empty again.
pub(crate) fn ensure_space_given_back(oieb: &OiebSnapshot) -> Result<()> {
    ensure!(
        oieb.payload_free_bytes == oieb.payload_size,
        "{} of {} payload bytes were given back",
        oieb.payload_free_bytes,
        oieb.payload_size
    );
    Ok(())
}

/// One entry the reader has not taken yet: a frame, or the bytes a wrap skips (a marker and
/// the tail behind it, or a marker-less tail of fewer than 16 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    pub offset: u64,
    pub bytes: u64,
    pub frame: bool,
}

/// Walks the ring from `payload_read_pos` through the headers of the entries not read yet
/// (`payload_written_count - payload_read_count` of them), the way a reader follows them.
/// Meant for a quiet buffer: the fields are read one by one, not as one atomic snapshot.
pub(crate) fn unread_entries(raw: &RawBuffer) -> Result<Vec<Entry>> {
    let oieb = raw.oieb();
    let size = oieb.payload_size;
    let mut left = oieb
        .payload_written_count
        .checked_sub(oieb.payload_read_count)
        .ok_or_else(|| {
            anyhow!(
                "read count {} exceeds written count {}",
                oieb.payload_read_count,
                oieb.payload_written_count
            )
        })?;
    ensure!(
        left <= size / (HEADER + 1) + 1,
        "{left} unread entries cannot fit a {size}-byte ring"
    );
    let mut pos = oieb.payload_read_pos;
    ensure!(
        pos < size,
        "read_pos {pos} lies outside the {size}-byte ring"
    );
    let mut entries = Vec::new();
    while left > 0 {
        let remaining = size - pos;
        if remaining < HEADER {
            // The writer wrapped without a marker (none fits); it does not count as an entry.
            entries.push(Entry {
                offset: pos,
                bytes: remaining,
                frame: false,
            });
            pos = 0;
            continue;
        }
        let header = raw.frame_header(pos);
        if header.is_wrap_marker() {
            entries.push(Entry {
                offset: pos,
                bytes: remaining,
                frame: false,
            });
            pos = 0;
        } else {
            let total = HEADER.saturating_add(header.payload_size);
            ensure!(
                total <= remaining,
                "the frame at {pos} ({} bytes) crosses the ring end",
                header.payload_size
            );
            entries.push(Entry {
                offset: pos,
                bytes: total,
                frame: true,
            });
            pos = (pos + total) % size;
        }
        left -= 1;
    }
    ensure!(
        pos == oieb.payload_write_pos,
        "the unread entries end at {pos}, but write_pos is {}",
        oieb.payload_write_pos
    );
    Ok(entries)
}

/// Rewrites the header of the next frame the reader will take; returns its offset and the
/// header before and after.
pub(crate) fn corrupt_next_header(
    state: &ProcessState,
    change: impl FnOnce(&mut FrameHeader),
) -> Result<(u64, FrameHeader, FrameHeader)> {
    let raw = raw_buffer(state)?;
    let next = unread_entries(&raw)?
        .into_iter()
        .find(|e| e.frame)
        .context("there is no unread frame to corrupt")?;
    let old = raw.frame_header(next.offset);
    let mut new = old;
    change(&mut new);
    // SAFETY: the header of a frame not read yet: no frame of this process borrows it.
    unsafe { raw.set_frame_header(next.offset, new) };
    tracing::debug!(offset = next.offset, ?old, ?new, "corrupted frame header");
    Ok((next.offset, old, new))
}

/// The size of a frame header (and wrap marker) in ring arithmetic.
pub(crate) const HEADER: u64 = zerobuffer::layout::FRAME_HEADER_SIZE as u64;
