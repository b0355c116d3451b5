//! What the workspace's tests and the suite's steps need beyond the library: raw access to a
//! live segment, to corrupt and inspect it the way the shared suite describes, and the PID of
//! a process that is gone, as a crashed peer leaves it. The library itself knows nothing of
//! tests.

#![warn(missing_docs)]

mod process;
mod raw;

pub use process::dead_pid;
pub use raw::RawBuffer;
