//! Hooks for conformance tests (feature `testing`): raw access to a live buffer, dead PIDs for
//! simulated crashes. Nothing here is needed to use the library; these exist
//! so test steps can corrupt, inspect and break buffers the way the shared suite describes.

use std::process::Command;

use crate::error::{Error, Result};
use crate::layout::{FrameHeader, FRAME_HEADER_SIZE, OIEB_SIZE};
use crate::oieb::{Oieb, OiebSnapshot};
use crate::shm::SharedMemory;

/// A mapping of a live buffer's whole segment, readable and writable byte by byte.
pub struct RawBuffer {
    shm: SharedMemory,
}

impl RawBuffer {
    /// Maps buffer `name` without attaching as reader or writer.
    pub fn open(name: &str) -> Result<RawBuffer> {
        Ok(RawBuffer {
            shm: crate::inspect::open_segment(name)?,
        })
    }

    /// The size of the whole segment in bytes.
    pub fn len(&self) -> usize {
        self.shm.len()
    }

    /// Whether the segment has no bytes at all.
    pub fn is_empty(&self) -> bool {
        self.shm.len() == 0
    }

    /// A decoded copy of the segment's OIEB as it is now.
    pub fn oieb(&self) -> OiebSnapshot {
        Oieb::new(&self.shm).snapshot()
    }

    /// Offset of the payload ring in the segment: `128 + metadata size`.
    pub fn payload_offset(&self) -> usize {
        OIEB_SIZE + self.oieb().metadata_size as usize
    }

    /// A copy of `len` bytes at segment offset `offset`.
    pub fn read(&self, offset: usize, len: usize) -> Vec<u8> {
        self.shm.bytes(offset, len).to_vec()
    }

    /// Overwrites the bytes at segment offset `offset` with `data`, whatever they mean.
    pub fn write(&self, offset: usize, data: &[u8]) {
        self.shm.write_from(offset, data);
    }

    /// The little-endian u64 at segment offset `offset` (an OIEB field, say).
    pub fn read_u64(&self, offset: usize) -> u64 {
        u64::from_le_bytes(self.read(offset, 8).try_into().expect("8 bytes"))
    }

    /// Overwrites the little-endian u64 at segment offset `offset`.
    pub fn write_u64(&self, offset: usize, value: u64) {
        self.write(offset, &value.to_le_bytes());
    }

    /// The frame header at payload position `pos`.
    pub fn frame_header(&self, pos: u64) -> FrameHeader {
        let bytes = self.read(self.payload_offset() + pos as usize, FRAME_HEADER_SIZE);
        FrameHeader::decode(bytes.as_slice().try_into().expect("16 bytes"))
    }

    /// Overwrites the frame header at payload position `pos`.
    pub fn set_frame_header(&self, pos: u64, header: FrameHeader) {
        self.write(self.payload_offset() + pos as usize, &header.encode());
    }
}

/// The PID of a process that existed and is gone (spawned, exited and reaped), as a crashed
/// peer leaves it in the OIEB.
pub fn dead_pid() -> Result<u64> {
    let mut child = Command::new("true")
        .spawn()
        .map_err(|e| Error::os("spawn `true`", e))?;
    let pid = u64::from(child.id());
    child.wait().map_err(|e| Error::os("reap `true`", e))?;
    Ok(pid)
}
