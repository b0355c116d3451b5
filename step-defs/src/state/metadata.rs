//! Per-process state of the metadata steps.

/// What the metadata steps of one process keep between steps.
#[derive(Default)]
pub(crate) struct MetadataState {
    /// A metadata write attempted after the first.
    pub(crate) attempt: MetadataAttempt,
}

/// `metadata_written_bytes` before the last metadata attempt, to check that a refused write
/// left nothing behind.
#[derive(Default)]
pub(crate) struct MetadataAttempt {
    pub(crate) written_before: Option<u64>,
}
