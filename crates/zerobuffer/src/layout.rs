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
    pub const OIEB_SIZE: usize = 0;
    pub const VERSION: usize = 4;
    pub const METADATA_SIZE: usize = 8;
    pub const METADATA_FREE_BYTES: usize = 16;
    pub const METADATA_WRITTEN_BYTES: usize = 24;
    pub const PAYLOAD_SIZE: usize = 32;
    pub const PAYLOAD_FREE_BYTES: usize = 40;
    pub const PAYLOAD_WRITE_POS: usize = 48;
    pub const PAYLOAD_READ_POS: usize = 56;
    pub const PAYLOAD_WRITTEN_COUNT: usize = 64;
    pub const PAYLOAD_READ_COUNT: usize = 72;
    pub const WRITER_PID: usize = 80;
    pub const READER_PID: usize = 88;
}

/// A frame header as stored in the ring. `payload_size == 0` marks a wrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub payload_size: u64,
    pub sequence: u64,
}

impl FrameHeader {
    pub const WRAP_MARKER: FrameHeader = FrameHeader {
        payload_size: 0,
        sequence: 0,
    };

    pub fn is_wrap_marker(&self) -> bool {
        self.payload_size == 0
    }

    pub fn encode(&self) -> [u8; FRAME_HEADER_SIZE] {
        let mut out = [0u8; FRAME_HEADER_SIZE];
        out[..8].copy_from_slice(&self.payload_size.to_le_bytes());
        out[8..].copy_from_slice(&self.sequence.to_le_bytes());
        out
    }

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
