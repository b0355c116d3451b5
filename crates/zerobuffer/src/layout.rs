//! Byte layout of a buffer: OIEB field offsets, frame header and wrap marker (protocol.md §2, §3).

/// Size of the Operation Info Exchange Block at offset 0.
pub const OIEB_SIZE: usize = 128;
/// Protocol version written by readers (`major, minor, patch, reserved`).
pub const PROTOCOL_VERSION: [u8; 4] = [1, 0, 0, 0];
/// Size of a frame header: `u64 data length`, `u64 sequence number`.
pub const FRAME_HEADER_SIZE: usize = 16;
/// Size of the metadata length prefix.
pub const METADATA_PREFIX_SIZE: usize = 8;
/// The first 8 bytes of a v1.0 OIEB read as a little-endian u64 (size 128, version 1.0.0).
pub const OIEB_SIGNATURE: u64 = 0x0000_0001_0000_0080;

/// Offsets of the OIEB fields; all but the first two are 8-byte aligned `u64`s.
pub mod oieb {
    /// `oieb_size` (u32): size of the block, 128 in v1.
    pub const OIEB_SIZE: usize = 0;
    /// The 4 version bytes: major, minor, patch, reserved.
    pub const VERSION: usize = 4;
    /// `metadata_size`: size `M` of the metadata block in bytes.
    pub const METADATA_SIZE: usize = 8;
    /// `metadata_free_bytes`: bytes of the metadata block not yet used.
    pub const METADATA_FREE_BYTES: usize = 16;
    /// `metadata_written_bytes`: bytes of metadata stored, 8-byte prefix included (0 if none).
    pub const METADATA_WRITTEN_BYTES: usize = 24;
    /// `payload_size`: size `P` of the payload ring in bytes.
    pub const PAYLOAD_SIZE: usize = 32;
    /// `payload_free_bytes`: bytes of the ring free for the writer; the one field both sides change.
    pub const PAYLOAD_FREE_BYTES: usize = 40;
    /// `payload_write_pos`: ring offset where the writer puts the next frame.
    pub const PAYLOAD_WRITE_POS: usize = 48;
    /// `payload_read_pos`: ring offset of the next frame the reader hands out.
    pub const PAYLOAD_READ_POS: usize = 56;
    /// `payload_written_count`: frames and wrap markers the writer has committed.
    pub const PAYLOAD_WRITTEN_COUNT: usize = 64;
    /// `payload_read_count`: frames the reader has handed out plus wrap markers it consumed.
    pub const PAYLOAD_READ_COUNT: usize = 72;
    /// `writer_pid`: PID of the connected writer, 0 when none.
    pub const WRITER_PID: usize = 80;
    /// `reader_pid`: PID of the reader that created the buffer, 0 after it closed.
    pub const READER_PID: usize = 88;
}

/// A frame header as stored in the ring. `payload_size == 0` marks a wrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Length of the frame's data in bytes; 0 in a wrap marker.
    pub payload_size: u64,
    /// Sequence number of the frame; 0 in a wrap marker.
    pub sequence: u64,
}

impl FrameHeader {
    /// The all-zero header meaning "nothing more before the ring end, continue at offset 0".
    pub const WRAP_MARKER: FrameHeader = FrameHeader {
        payload_size: 0,
        sequence: 0,
    };

    /// True if this header is a wrap marker (`payload_size == 0`).
    #[inline]
    pub fn is_wrap_marker(&self) -> bool {
        self.payload_size == 0
    }

    /// The 16 bytes of the header, both fields little-endian.
    #[inline]
    pub fn encode(&self) -> [u8; FRAME_HEADER_SIZE] {
        let mut out = [0u8; FRAME_HEADER_SIZE];
        out[..8].copy_from_slice(&self.payload_size.to_le_bytes());
        out[8..].copy_from_slice(&self.sequence.to_le_bytes());
        out
    }

    /// Reads a header from its 16 little-endian bytes.
    #[inline]
    pub fn decode(bytes: &[u8; FRAME_HEADER_SIZE]) -> Self {
        let (size, seq) = bytes.split_at(8);
        FrameHeader {
            payload_size: u64::from_le_bytes(size.try_into().expect("8 bytes")),
            sequence: u64::from_le_bytes(seq.try_into().expect("8 bytes")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_little_endian() {
        let h = FrameHeader {
            payload_size: 0x0102,
            sequence: 7,
        };
        let bytes = h.encode();
        assert_eq!(bytes[0..2], [0x02, 0x01]);
        assert_eq!(bytes[8], 7);
        assert_eq!(FrameHeader::decode(&bytes), h);
        assert!(FrameHeader::decode(&[0; 16]).is_wrap_marker());
    }

    #[test]
    fn signature_is_size_and_version() {
        let mut first = [0u8; 8];
        first[..4].copy_from_slice(&(OIEB_SIZE as u32).to_le_bytes());
        first[4..].copy_from_slice(&PROTOCOL_VERSION);
        assert_eq!(u64::from_le_bytes(first), OIEB_SIGNATURE);
    }
}
