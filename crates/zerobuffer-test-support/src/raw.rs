//! A raw view of a live buffer's segment.

#![allow(
    unsafe_code,
    reason = "reads and writes the bytes of a live shared segment through its own mapping"
)]

use std::fs::OpenOptions;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use memmap2::{MmapOptions, MmapRaw};
use zerobuffer::layout::{FrameHeader, FRAME_HEADER_SIZE, OIEB_SIZE};
use zerobuffer::OiebSnapshot;

/// A mapping of a live buffer's whole segment, readable and writable byte by byte, without
/// attaching as reader or writer.
pub struct RawBuffer {
    map: MmapRaw,
}

impl RawBuffer {
    /// Maps the segment of buffer `name` (`/dev/shm/NAME`).
    pub fn open(name: &str) -> io::Result<RawBuffer> {
        zerobuffer::validate_name(name).map_err(io::Error::other)?;
        let path = format!("/dev/shm/{name}");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("opening {path}: {e}")))?;
        let map = MmapOptions::new().map_raw(&file)?;
        if map.len() < OIEB_SIZE {
            return Err(io::Error::other(format!(
                "{path} has {} bytes, fewer than an OIEB",
                map.len()
            )));
        }
        Ok(RawBuffer { map })
    }

    /// The size of the whole segment in bytes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the segment has no bytes at all.
    pub fn is_empty(&self) -> bool {
        self.map.len() == 0
    }

    fn check(&self, offset: usize, len: usize) {
        assert!(
            offset
                .checked_add(len)
                .is_some_and(|end| end <= self.map.len()),
            "bytes {offset}..{} lie outside the {}-byte segment",
            offset.saturating_add(len),
            self.map.len()
        );
    }

    /// A decoded copy of the segment's OIEB as it is now (each field read atomically).
    pub fn oieb(&self) -> OiebSnapshot {
        OiebSnapshot::from_words(|offset| {
            self.check(offset, 8);
            assert!(
                offset.is_multiple_of(8),
                "OIEB word offset {offset} is not aligned"
            );
            // SAFETY: in bounds (checked) and 8-aligned (the mapping starts on a page); other
            // processes access these words atomically too, so an atomic load is the right read.
            unsafe { AtomicU64::from_ptr(self.map.as_mut_ptr().add(offset).cast()) }
                .load(Ordering::Acquire)
        })
    }

    /// Offset of the payload ring in the segment: `128 + metadata size`.
    pub fn payload_offset(&self) -> usize {
        OIEB_SIZE + self.oieb().metadata_size as usize
    }

    /// A copy of `len` bytes at segment offset `offset`.
    pub fn read(&self, offset: usize, len: usize) -> Vec<u8> {
        self.check(offset, len);
        let mut out = vec![0u8; len];
        // SAFETY: the source range lies inside the mapping (checked), which lives as long as
        // `self`; the destination is a fresh buffer of `len` bytes. A peer may be changing the
        // bytes meanwhile: a snapshot of them is what is asked for.
        unsafe {
            std::ptr::copy_nonoverlapping(self.map.as_ptr().add(offset), out.as_mut_ptr(), len)
        };
        out
    }

    /// The little-endian u64 at segment offset `offset` (an OIEB field, say).
    pub fn read_u64(&self, offset: usize) -> u64 {
        u64::from_le_bytes(self.read(offset, 8).try_into().expect("8 bytes"))
    }

    /// The frame header at payload position `pos`.
    pub fn frame_header(&self, pos: u64) -> FrameHeader {
        let bytes = self.read(self.payload_offset() + pos as usize, FRAME_HEADER_SIZE);
        FrameHeader::decode(bytes.as_slice().try_into().expect("16 bytes"))
    }

    /// Overwrites the bytes at segment offset `offset` with `data`, whatever they mean.
    ///
    /// # Safety
    ///
    /// No reference into these bytes may be alive in this process while they change: not a
    /// [`zerobuffer::Frame`], [`zerobuffer::FrameSlot`] or their owned forms covering them
    /// (the library hands those out as plain slices of the mapping), nor a metadata slice.
    /// What other processes see is the point of the write, and not a safety matter.
    pub unsafe fn write(&self, offset: usize, data: &[u8]) {
        self.check(offset, data.len());
        // SAFETY: the target range lies inside the mapping (checked); the caller guarantees
        // that no reference of this process covers it.
        unsafe {
            std::ptr::copy_nonoverlapping(
                data.as_ptr(),
                self.map.as_mut_ptr().add(offset),
                data.len(),
            )
        };
    }

    /// Overwrites the little-endian u64 at segment offset `offset`.
    ///
    /// # Safety
    ///
    /// As for [`RawBuffer::write`].
    pub unsafe fn write_u64(&self, offset: usize, value: u64) {
        // SAFETY: the caller upholds `write`'s contract for these 8 bytes.
        unsafe { self.write(offset, &value.to_le_bytes()) };
    }

    /// Overwrites the frame header at payload position `pos`.
    ///
    /// # Safety
    ///
    /// As for [`RawBuffer::write`].
    pub unsafe fn set_frame_header(&self, pos: u64, header: FrameHeader) {
        // SAFETY: the caller upholds `write`'s contract for the header's 16 bytes.
        unsafe { self.write(self.payload_offset() + pos as usize, &header.encode()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerobuffer::layout::oieb::PAYLOAD_WRITE_POS;
    use zerobuffer::{BufferConfig, Reader};

    #[test]
    fn the_raw_view_sees_and_changes_what_the_library_sees() {
        let name = crate::unique_name("raw-view");
        let reader = Reader::create(&name, BufferConfig::new(64, 1024)).unwrap();
        let raw = RawBuffer::open(&name).unwrap();
        assert_eq!(raw.oieb(), reader.oieb_snapshot());
        assert_eq!(raw.payload_offset(), OIEB_SIZE + 64);
        // SAFETY: an OIEB word; nothing of this process borrows it.
        unsafe { raw.write_u64(PAYLOAD_WRITE_POS, 512) };
        assert_eq!(reader.oieb_snapshot().payload_write_pos, 512);
        assert_eq!(raw.read_u64(PAYLOAD_WRITE_POS), 512);
        let beyond = std::panic::catch_unwind(|| raw.read(raw.len() - 4, 8));
        assert!(
            beyond.is_err(),
            "a read past the segment end must not happen"
        );
        assert!(RawBuffer::open("no-such-buffer-here").is_err());
        assert!(RawBuffer::open("bad/name").is_err());
        drop(raw);
        drop(reader);
        crate::assert_clean(&name);
    }
}
