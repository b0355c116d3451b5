//! Per-process state of the inspection steps: OIEB after each access, alignment, free space.

use zerobuffer::layout::FrameHeader;
use zerobuffer::OiebSnapshot;

/// What the inspection steps of one process keep between steps.
#[derive(Default)]
pub(crate) struct InspectionState {
    /// Every write and read with the OIEB around it (13.x).
    pub(crate) compliance: Compliance,
    /// Where frames of various sizes were placed.
    pub(crate) placed: Placed,
    /// Free-space rows measured.
    pub(crate) free_space: FreeSpaceCheck,
    /// The last frame written or read, with the OIEB around it.
    pub(crate) last_access: LastAccess,
}

#[derive(Default)]
pub(crate) struct Compliance {
    pub(crate) writes: Vec<RecordedAccess>,
    pub(crate) reads: Vec<RecordedAccess>,
}

/// Frames written by "writes various sized frames": (offset, size, sequence).
#[derive(Default)]
pub(crate) struct Placed(pub(crate) Vec<(u64, u64, u64)>);

/// Every row as measured, with the row's name for messages.
#[derive(Default)]
pub(crate) struct FreeSpaceCheck(pub(crate) Vec<(String, FreeSpaceRow)>);

#[derive(Default)]
pub(crate) struct LastAccess(pub(crate) Option<Access>);

/// One row as measured on a real buffer.
#[derive(Debug)]
pub(crate) struct FreeSpaceRow {
    /// The row's value; `None` for "calculated" (the formula itself).
    pub(crate) expected: Option<u64>,
    /// The §3.7 formula applied to the positions in the OIEB.
    pub(crate) formula: u64,
    /// The largest free run a frame could use, found by walking the unread frames.
    pub(crate) scanned: u64,
    /// The writer takes a frame of exactly `scanned` bytes (header included) at once ...
    pub(crate) writer_takes: bool,
    /// ... and refuses one byte more.
    pub(crate) writer_refuses_more: bool,
}

/// One write or read with the OIEB around it.
#[derive(Debug, Clone)]
pub(crate) struct RecordedAccess {
    pub(crate) size: u64,
    pub(crate) sequence: u64,
    pub(crate) before: OiebSnapshot,
    /// Right after the write / while the read frame is held.
    pub(crate) after: OiebSnapshot,
    /// After the read frame was released (reads only).
    pub(crate) released: Option<OiebSnapshot>,
    /// Header found at the old write position (writes only).
    pub(crate) header: Option<FrameHeader>,
    /// sem-r before and after the release (reads only).
    pub(crate) space_signals: (u64, u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Write,
    Read,
}

/// One frame written or read by a step, with the control block around it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Access {
    pub(crate) side: Side,
    /// Data bytes of the frame.
    pub(crate) len: u64,
    pub(crate) before: OiebSnapshot,
    /// Right after the write, or while the read frame was still held.
    pub(crate) after: OiebSnapshot,
    /// After the read frame was released (reads only).
    pub(crate) released: Option<OiebSnapshot>,
}
