//! What the workspace's tests and the suite's steps need beyond the library: raw access to a
//! live segment, to corrupt and inspect it the way the shared suite describes, the PID of a
//! process that is gone, as a crashed peer leaves it, buffer names unique to a test, and the
//! check that a buffer left nothing behind. The library itself knows nothing of tests.

#![warn(missing_docs)]

mod leftovers;
mod names;
mod process;
mod raw;

pub use leftovers::{assert_clean, leftovers};
pub use names::{unique_name, TEST_NAME_PREFIX};
pub use process::{dead_pid, exit_state, wait_exit};
pub use raw::RawBuffer;
