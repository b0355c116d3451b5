//! ZeroBuffer v1.0.0 for Rust: zero-copy inter-process frames over POSIX shared memory.
//!
//! One [`Reader`] creates a buffer (a 128-byte control block, an optional metadata block and a
//! ring of frames, plus two named semaphores); one [`Writer`] attaches to it. The bytes in
//! shared memory are exactly those of the C++, C# and Python implementations, so any of them
//! can sit on the other side. See `shared/spec/protocol.md` for the layout this follows and
//! the upstream defects it avoids.
//!
//! ```no_run
//! use std::time::Duration;
//! use zerobuffer::{BufferConfig, Reader, Writer};
//!
//! let reader = Reader::create("camera0", BufferConfig::new(1024, 1 << 20))?;
//! let mut writer = Writer::connect("camera0")?;
//! writer.set_metadata(b"640x480 gray8")?;
//! let mut slot = writer.get_frame_buffer(640 * 480)?; // zero-copy: fill in place
//! slot.fill(0x80);
//! slot.commit();
//! let frame = reader.read_frame(Duration::from_secs(1))?; // borrows the shared bytes
//! assert_eq!((frame.sequence(), frame.len()), (1, 640 * 480));
//! # Ok::<(), zerobuffer::Error>(())
//! ```
//!
//! Linux with glibc only: the semaphores must be glibc's `sem_t` to be shared with the peers.

#![warn(missing_docs)]

#[cfg(not(target_os = "linux"))]
compile_error!("zerobuffer supports Linux (glibc) only");

mod abandon;
mod config;
mod credits;
pub mod duplex;
mod error;
mod frame;
mod inspect;
pub mod layout;
mod lock;
mod names;
mod next_frame;
mod oieb;
mod owned;
mod process;
mod reader;
mod ring;
mod sem;
mod shm;
mod stale;
pub mod testdata;
mod wait;
mod writer;

pub use abandon::Abandon;
pub use config::{align_to_block, BufferConfig, BLOCK_ALIGNMENT};
pub use duplex::{DuplexClient, DuplexServer, ProcessingMode};
pub use error::{Error, Result};
pub use frame::Frame;
pub use inspect::{inspect, BufferInfo};
pub use names::{validate_name, ObjectPaths, CSHARP_LOCK_DIR, LOCK_DIR, MAX_NAME_LEN};
pub use oieb::OiebSnapshot;
pub use owned::{OwnedFrame, OwnedFrameSlot, WriterReturned};
pub use process::{current_pid, is_process_alive};
pub use reader::Reader;
pub use sem::NamedSemaphore;
pub use stale::{clean_all_stale, clean_stale, CleanOutcome};
pub use wait::{UnknownWaitStrategy, WaitStrategy, DEFAULT_SPIN};
pub use writer::{FrameSlot, Writer, DEFAULT_WRITE_TIMEOUT};
