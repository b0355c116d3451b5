//! Frame-size cases shared by the throughput benches.

/// The frame header the protocol puts before every payload.
pub const FRAME_HEADER: usize = 16;
pub const KIB: usize = 1024;
pub const MIB: usize = 1024 * KIB;

/// One frame size and the ring it runs in.
pub struct SizeCase {
    pub label: &'static str,
    pub len: usize,
    pub ring: usize,
}

/// Frames that cover the ring twice: enough to fault in every page of both mappings.
pub fn warm_frames(size: &SizeCase) -> u64 {
    (2 * size.ring / (size.len + FRAME_HEADER) + 2) as u64
}
