//! The structure frames of the memory-barrier checks: written, read back and compared field by
//! field.

use std::ops::Range;

use anyhow::{ensure, Result};

pub(crate) fn struct_len() -> usize {
    STRUCT_FIELDS.iter().map(|(_, len)| len).sum()
}

/// The bytes of the structure of `generation`.
pub(crate) fn structure(generation: u64) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(struct_len());
    bytes.extend_from_slice(STRUCT_MAGIC);
    bytes.extend_from_slice(&generation.to_le_bytes());
    bytes.extend_from_slice(&1920u32.to_le_bytes());
    bytes.extend_from_slice(&1080u32.to_le_bytes());
    bytes.extend_from_slice(&(1_700_000_000_000_000_000u64 + generation).to_le_bytes());
    bytes.extend_from_slice(&(generation as f64 / 64.0).to_le_bytes());
    let mut label = [b' '; 32];
    let text = format!("zerobuffer structure {generation}");
    label[..text.len().min(32)].copy_from_slice(&text.as_bytes()[..text.len().min(32)]);
    bytes.extend_from_slice(&label);
    for i in 0..16u64 {
        bytes.extend_from_slice(&(generation.wrapping_mul(1_000_003) ^ (i * i)).to_le_bytes());
    }
    bytes.extend_from_slice(&generation.to_le_bytes());
    let checksum = fnv1a(&bytes);
    bytes.extend_from_slice(&checksum.to_le_bytes());
    bytes
}

/// Fills a reserved slot field by field, checksum last, as a producer publishing a structure
/// in place does; the commit that follows must make all of it visible at once.
pub(crate) fn write_structure(slot: &mut [u8], generation: u64) {
    let bytes = structure(generation);
    for (_, range) in struct_fields() {
        slot[range.clone()].copy_from_slice(&bytes[range]);
    }
}

/// Names of the fields of `received` that differ from the structure of `generation`.
pub(crate) fn wrong_fields(received: &[u8], generation: u64) -> Vec<&'static str> {
    let expected = structure(generation);
    struct_fields()
        .filter(|(_, range)| received.get(range.clone()) != expected.get(range.clone()))
        .map(|(name, _)| name)
        .collect()
}

/// The structure is internally consistent: both generations equal `sequence` and the checksum
/// matches the bytes as received.
pub(crate) fn check_consistency(received: &[u8], sequence: u64) -> Result<()> {
    let len = struct_len();
    ensure!(
        received.len() == len,
        "the structure has {} bytes, expected {len}",
        received.len()
    );
    let word = |at: usize| u64::from_le_bytes(received[at..at + 8].try_into().expect("8 bytes"));
    let (first, last) = (word(8), word(len - 16));
    ensure!(
        first == sequence && last == sequence,
        "generations {first} (start) and {last} (end), frame sequence {sequence}: a torn write"
    );
    let (stored, computed) = (word(len - 8), fnv1a(&received[..len - 8]));
    ensure!(
        stored == computed,
        "checksum {stored:#018x} stored, {computed:#018x} computed: a partially visible write"
    );
    Ok(())
}

/// The "complex structure" of 7.3 (its layout is not specified upstream): little-endian fields
/// with the generation (the frame's sequence number) at both ends and an FNV-1a checksum last.
pub(crate) const STRUCT_FIELDS: [(&str, usize); 10] = [
    ("magic", 8),
    ("generation", 8),
    ("width", 4),
    ("height", 4),
    ("timestamp_ns", 8),
    ("exposure", 8),
    ("label", 32),
    ("values", 128),
    ("generation_end", 8),
    ("checksum", 8),
];

pub(crate) const STRUCT_MAGIC: &[u8; 8] = b"ZBSTRUCT";

pub(crate) fn struct_fields() -> impl Iterator<Item = (&'static str, Range<usize>)> {
    STRUCT_FIELDS.iter().scan(0, |offset, &(name, len)| {
        let range = *offset..*offset + len;
        *offset += len;
        Some((name, range))
    })
}

pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
