//! Per-process state of the metadata steps.

/// What the metadata steps of one process keep between steps.
#[derive(Default)]
pub(crate) struct MetadataState {
    /// A metadata write attempted after the first.
    pub(crate) attempt: MetadataAttempt,
    /// The last frame written by a step whose success is verified later (P067, P071).
    pub(crate) last_write: Option<LastWrite>,
}

/// `metadata_written_bytes` before the last metadata attempt, to check that a refused write
/// left nothing behind.
#[derive(Default)]
pub(crate) struct MetadataAttempt {
    pub(crate) written_before: Option<u64>,
}

/// A frame written by a step, to be found again in the ring.
pub(crate) struct LastWrite {
    pub(crate) offset: u64,
    pub(crate) sequence: u64,
    pub(crate) data: Vec<u8>,
}
