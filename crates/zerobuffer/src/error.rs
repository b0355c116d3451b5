//! The library's error type: one variant per condition of protocol.md §9.
//!
//! `Display` texts keep the upstream wording ("Writer process is dead", "Sequence error:
//! expected E, got G", ...) because cross-language test steps match on substrings of them.

use std::io;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong when creating, connecting, reading or writing a buffer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The buffer name cannot be used as a file name (see [`crate::validate_name`]).
    #[error("invalid buffer name {name:?}: {reason}")]
    InvalidName {
        /// The rejected name.
        name: String,
        /// Why it was rejected, e.g. "the name contains '/'".
        reason: &'static str,
    },

    /// The configuration cannot describe a buffer (e.g. payload size 0).
    #[error("invalid buffer configuration: {0}")]
    InvalidConfig(String),

    /// The shared memory or one of its semaphores does not exist.
    #[error("buffer {name:?} not found: {what} does not exist")]
    BufferNotFound {
        /// The buffer that was looked up.
        name: String,
        /// The missing object: "shared memory" or "semaphore".
        what: &'static str,
    },

    /// The segment exists but nobody is reading it (`reader_pid` 0 or dead).
    #[error("No active reader found for buffer {0:?}")]
    NoReader(String),

    /// Another live process already reads this buffer (lock held or live `reader_pid`).
    #[error("Reader already connected to buffer {0:?}")]
    ReaderAlreadyConnected(String),

    /// Another live process already writes this buffer.
    #[error("Another writer is already connected (pid {pid})")]
    WriterAlreadyConnected {
        /// PID of the live writer that holds the buffer.
        pid: u64,
    },

    /// The OIEB does not describe a v1 buffer this library can use.
    #[error("Invalid OIEB: {0}")]
    InvalidOieb(String),

    /// The OIEB announces a protocol major version other than 1.
    #[error("Incompatible protocol version {major}.{minor}.{patch}")]
    IncompatibleVersion {
        /// Major version byte found in the OIEB.
        major: u8,
        /// Minor version byte found in the OIEB.
        minor: u8,
        /// Patch version byte found in the OIEB.
        patch: u8,
    },

    /// The writer died (PID not alive) or left gracefully with nothing left to read.
    #[error("Writer process is dead")]
    WriterDead,

    /// The reader died or closed the buffer.
    #[error("Reader process is dead")]
    ReaderDead,

    /// No space became available before the write timeout.
    #[error("Buffer is full")]
    BufferFull,

    /// The frame can never be written: `16 + len` exceeds the payload size, or (v1 layout,
    /// protocol.md §12.17) it fits neither before the ring end nor before the write position.
    /// `max` is the largest frame that can be written at this point.
    #[error("Frame too large: {len} bytes, at most {max} bytes fit")]
    FrameTooLarge {
        /// Data length of the refused frame in bytes.
        len: usize,
        /// Largest data length in bytes that can be written at this point.
        max: u64,
    },

    /// Zero-length frames are refused: a zero size header is the wrap marker.
    #[error("Invalid frame size: 0")]
    ZeroSizeFrame,

    /// The frame header carries a sequence number other than the expected one.
    #[error("Sequence error: expected {expected}, got {got}")]
    Sequence {
        /// The sequence number the reader expected next.
        expected: u64,
        /// The sequence number found in the frame header.
        got: u64,
    },

    /// A frame header that cannot be valid (zero size after a wrap, crossing the ring end, ...).
    #[error("Invalid frame header: {0}")]
    InvalidFrameHeader(String),

    /// Metadata may be written once per buffer.
    #[error("Metadata has already been written")]
    MetadataAlreadyWritten,

    /// `8 + len` exceeds the metadata block.
    #[error("Metadata too large for buffer: {len} bytes + 8-byte prefix exceed metadata size {metadata_size}")]
    MetadataTooLarge {
        /// Length of the refused metadata in bytes, without the prefix.
        len: usize,
        /// Size of the buffer's metadata block in bytes.
        metadata_size: u64,
    },

    /// The stored metadata length prefix does not fit the written bytes.
    #[error("Invalid metadata size: prefix {prefix}, written bytes {written}")]
    InvalidMetadata {
        /// The data length stored in the 8-byte prefix.
        prefix: u64,
        /// `metadata_written_bytes` from the OIEB (prefix included).
        written: u64,
    },

    /// The wait ended without data (reader) or without an answer (other waits).
    #[error("timed out after {0:?}")]
    Timeout(std::time::Duration),

    /// A duplex response did not answer the oldest outstanding request (`expected` is `None`
    /// when no request was outstanding). Requests and responses correlate by order only.
    #[error("Unexpected response: expected sequence {expected:?}, got {got}")]
    UnexpectedResponse {
        /// Sequence number of the oldest outstanding request, if any.
        expected: Option<u64>,
        /// Sequence number the response carried.
        got: u64,
    },

    /// A second zero-copy slot was requested while one is still outstanding, or a similar misuse.
    #[error("invalid operation: {0}")]
    InvalidOperation(&'static str),

    /// An operating-system call failed.
    #[error("{context}: {source}")]
    Os {
        /// What was being done when the call failed.
        context: String,
        /// The error the operating system reported.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// Wraps an OS error with a short description of what was being done.
    pub(crate) fn os(context: impl Into<String>, source: impl Into<io::Error>) -> Self {
        Error::Os {
            context: context.into(),
            source: source.into(),
        }
    }

    /// True for the errors that mean the other side is gone.
    pub fn is_peer_dead(&self) -> bool {
        matches!(self, Error::WriterDead | Error::ReaderDead)
    }
}
