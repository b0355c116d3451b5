//! Typed access to the OIEB of a mapped segment (protocol.md §2).
//!
//! Single-owner fields use `Release` stores and `Acquire` loads; `payload_free_bytes`, the one
//! field both sides change, only ever moves by atomic read-modify-write.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};
use crate::layout::{oieb as off, FRAME_HEADER_SIZE, OIEB_SIZE, PROTOCOL_VERSION};
use crate::shm::SharedMemory;

/// A decoded copy of every OIEB field, as `zerobuffer inspect` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OiebSnapshot {
    /// Size of the block as stored (`oieb_size`, 128 in v1).
    pub oieb_size: u32,
    /// Version bytes: major, minor, patch, reserved.
    pub version: [u8; 4],
    /// Size `M` of the metadata block in bytes.
    pub metadata_size: u64,
    /// Bytes of the metadata block not yet used.
    pub metadata_free_bytes: u64,
    /// Bytes of metadata stored, 8-byte prefix included (0 if none).
    pub metadata_written_bytes: u64,
    /// Size `P` of the payload ring in bytes.
    pub payload_size: u64,
    /// Bytes of the ring free for the writer.
    pub payload_free_bytes: u64,
    /// Ring offset where the writer puts the next frame.
    pub payload_write_pos: u64,
    /// Ring offset of the next frame the reader hands out.
    pub payload_read_pos: u64,
    /// Frames and wrap markers the writer has committed.
    pub payload_written_count: u64,
    /// Frames the reader has handed out plus wrap markers it consumed.
    pub payload_read_count: u64,
    /// PID of the connected writer, 0 when none.
    pub writer_pid: u64,
    /// PID of the reader that created the buffer, 0 after it closed.
    pub reader_pid: u64,
}

impl OiebSnapshot {
    /// Decodes an OIEB from its little-endian 64-bit words: `word(offset)` is the word at byte
    /// `offset` (0, 8, ..., 88), read from a copy of the bytes or from a live mapping.
    pub fn from_words(word: impl Fn(usize) -> u64) -> OiebSnapshot {
        let first = word(off::OIEB_SIZE).to_le_bytes();
        OiebSnapshot {
            oieb_size: u32::from_le_bytes([first[0], first[1], first[2], first[3]]),
            version: [first[4], first[5], first[6], first[7]],
            metadata_size: word(off::METADATA_SIZE),
            metadata_free_bytes: word(off::METADATA_FREE_BYTES),
            metadata_written_bytes: word(off::METADATA_WRITTEN_BYTES),
            payload_size: word(off::PAYLOAD_SIZE),
            payload_free_bytes: word(off::PAYLOAD_FREE_BYTES),
            payload_write_pos: word(off::PAYLOAD_WRITE_POS),
            payload_read_pos: word(off::PAYLOAD_READ_POS),
            payload_written_count: word(off::PAYLOAD_WRITTEN_COUNT),
            payload_read_count: word(off::PAYLOAD_READ_COUNT),
            writer_pid: word(off::WRITER_PID),
            reader_pid: word(off::READER_PID),
        }
    }
}

/// The OIEB of one mapping.
#[derive(Clone, Copy)]
pub(crate) struct Oieb<'a> {
    shm: &'a SharedMemory,
}

macro_rules! fields {
    ($($get:ident / $set:ident => $offset:ident;)*) => {
        $(
            #[allow(dead_code)]
            #[inline]
            pub fn $get(&self) -> u64 {
                self.word(off::$offset).load(Ordering::Acquire)
            }
            #[allow(dead_code)]
            #[inline]
            pub fn $set(&self, value: u64) {
                self.word(off::$offset).store(value, Ordering::Release)
            }
        )*
    };
}

impl<'a> Oieb<'a> {
    #[inline]
    pub fn new(shm: &'a SharedMemory) -> Self {
        debug_assert!(shm.len() >= OIEB_SIZE);
        Oieb { shm }
    }

    #[inline]
    pub fn word(&self, offset: usize) -> &'a AtomicU64 {
        self.shm.atomic_u64(offset)
    }

    fields! {
        metadata_size / set_metadata_size => METADATA_SIZE;
        metadata_free_bytes / set_metadata_free_bytes => METADATA_FREE_BYTES;
        metadata_written_bytes / set_metadata_written_bytes => METADATA_WRITTEN_BYTES;
        payload_size / set_payload_size => PAYLOAD_SIZE;
        payload_free_bytes / set_payload_free_bytes => PAYLOAD_FREE_BYTES;
        write_pos / set_write_pos => PAYLOAD_WRITE_POS;
        read_pos / set_read_pos => PAYLOAD_READ_POS;
        written_count / set_written_count => PAYLOAD_WRITTEN_COUNT;
        read_count / set_read_count => PAYLOAD_READ_COUNT;
        writer_pid / set_writer_pid => WRITER_PID;
        reader_pid / set_reader_pid => READER_PID;
    }

    #[inline]
    pub fn add_free_bytes(&self, n: u64) {
        self.word(off::PAYLOAD_FREE_BYTES)
            .fetch_add(n, Ordering::AcqRel);
    }

    #[inline]
    pub fn sub_free_bytes(&self, n: u64) {
        self.word(off::PAYLOAD_FREE_BYTES)
            .fetch_sub(n, Ordering::AcqRel);
    }

    /// Counters have a single writer, so load + store is enough (no RMW needed).
    #[inline]
    pub fn bump_written_count(&self) {
        self.set_written_count(self.written_count().wrapping_add(1));
    }

    #[inline]
    pub fn bump_read_count(&self) {
        self.set_read_count(self.read_count().wrapping_add(1));
    }

    /// Size (u32) and version bytes, the first 8 bytes of the block.
    pub fn header(&self) -> (u32, [u8; 4]) {
        let mut first = [0u8; 8];
        self.shm.read_into(off::OIEB_SIZE, &mut first);
        let size = u32::from_le_bytes(first[..4].try_into().expect("4 bytes"));
        (size, first[4..].try_into().expect("4 bytes"))
    }

    /// Writes a fresh reader-side OIEB: sizes, full free space, zero positions and pids.
    pub fn initialize(&self, metadata_size: u64, payload_size: u64) {
        let mut first = [0u8; 8];
        first[..4].copy_from_slice(&(OIEB_SIZE as u32).to_le_bytes());
        first[4..].copy_from_slice(&PROTOCOL_VERSION);
        self.shm.write_from(off::OIEB_SIZE, &first);
        self.set_metadata_size(metadata_size);
        self.set_metadata_free_bytes(metadata_size);
        self.set_metadata_written_bytes(0);
        self.set_payload_size(payload_size);
        self.set_payload_free_bytes(payload_size);
        self.set_write_pos(0);
        self.set_read_pos(0);
        self.set_written_count(0);
        self.set_read_count(0);
        self.set_writer_pid(0);
        self.set_reader_pid(0);
    }

    /// Checks that the block describes a v1 buffer that fits the mapping (writer side, §2.1).
    pub fn validate(&self, mapped_len: usize) -> Result<()> {
        let (size, version) = self.header();
        if size as usize != OIEB_SIZE {
            return Err(Error::InvalidOieb(format!(
                "oieb_size is {size}, expected {OIEB_SIZE}"
            )));
        }
        if version[0] != PROTOCOL_VERSION[0] {
            return Err(Error::IncompatibleVersion {
                major: version[0],
                minor: version[1],
                patch: version[2],
            });
        }
        let (m, p) = (self.metadata_size(), self.payload_size());
        let needed = (OIEB_SIZE as u64)
            .checked_add(m)
            .and_then(|s| s.checked_add(p));
        if needed.is_none_or(|n| n > mapped_len as u64) {
            return Err(Error::InvalidOieb(format!(
                "metadata size {m} and payload size {p} do not fit a {mapped_len}-byte segment"
            )));
        }
        // Found by the fuzz target `writer`: a ring without room for one frame (a header and
        // a byte) is no v1 buffer, and the space arithmetic assumes room for a header.
        if p <= FRAME_HEADER_SIZE as u64 {
            return Err(Error::InvalidOieb(format!(
                "payload size {p} cannot hold a frame ({FRAME_HEADER_SIZE}-byte header)"
            )));
        }
        Ok(())
    }

    pub fn snapshot(&self) -> OiebSnapshot {
        OiebSnapshot::from_words(|offset| self.word(offset).load(Ordering::Acquire))
    }
}
