//! Buffer sizes and the 64-byte block alignment of protocol.md §1.3.

use crate::error::{Error, Result};
use crate::layout::OIEB_SIZE;

/// Block alignment of the metadata and payload areas.
pub const BLOCK_ALIGNMENT: u64 = 64;

/// Sizes requested by the reader when it creates a buffer.
///
/// Both sizes are rounded up to a multiple of 64 bytes. A metadata size of 0 is legal (no
/// metadata can then be written); the payload size must be at least 1 byte (rounded to 64).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferConfig {
    /// Requested metadata size in bytes, before rounding.
    pub metadata_size: usize,
    /// Requested payload (ring) size in bytes, before rounding.
    pub payload_size: usize,
}

impl BufferConfig {
    /// A configuration with the given sizes, stored as given (rounding happens when used).
    pub const fn new(metadata_size: usize, payload_size: usize) -> Self {
        BufferConfig {
            metadata_size,
            payload_size,
        }
    }

    /// The rounded metadata block size `M`.
    pub fn metadata_block(&self) -> u64 {
        align_to_block(self.metadata_size as u64)
    }

    /// The rounded payload block size `P`.
    pub fn payload_block(&self) -> u64 {
        align_to_block(self.payload_size as u64)
    }

    /// Total segment size: `128 + M + P`.
    pub fn total_size(&self) -> u64 {
        OIEB_SIZE as u64 + self.metadata_block() + self.payload_block()
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.payload_size == 0 {
            return Err(Error::InvalidConfig(
                "payload size must be greater than 0".into(),
            ));
        }
        // Every offset must fit an i64 for mmap/ftruncate; C# peers additionally need < 2 GiB.
        let fits = (self.metadata_size as u64)
            .checked_add(self.payload_size as u64)
            .and_then(|s| s.checked_add(OIEB_SIZE as u64 + 2 * BLOCK_ALIGNMENT))
            .is_some_and(|s| s <= i64::MAX as u64);
        if !fits {
            return Err(Error::InvalidConfig(
                "sizes overflow the addressable range".into(),
            ));
        }
        Ok(())
    }
}

impl Default for BufferConfig {
    /// The upstream default: 1 KiB metadata, 1 MiB payload.
    fn default() -> Self {
        BufferConfig::new(1024, 1024 * 1024)
    }
}

/// Rounds `size` up to the next multiple of 64 (`0` stays `0`).
pub const fn align_to_block(size: u64) -> u64 {
    (size + BLOCK_ALIGNMENT - 1) & !(BLOCK_ALIGNMENT - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_protocol_examples() {
        let c = BufferConfig::new(1024, 10240);
        assert_eq!(
            (c.metadata_block(), c.payload_block(), c.total_size()),
            (1024, 10240, 11392)
        );
        assert_eq!(BufferConfig::new(64, 10240).total_size(), 10432);
        assert_eq!(BufferConfig::new(0, 64).total_size(), 192);
        let c = BufferConfig::new(100, 1000);
        assert_eq!(
            (c.metadata_block(), c.payload_block(), c.total_size()),
            (128, 1024, 1280)
        );
    }

    #[test]
    fn zero_payload_is_rejected() {
        assert!(BufferConfig::new(0, 0).validate().is_err());
        assert!(BufferConfig::new(0, 1).validate().is_ok());
    }
}
