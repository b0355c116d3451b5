//! Per-process state of a scenario, one typed part per subject of the bindings. These modules
//! hold data only: they import the library and leaf drivers, never `world` or a binding, so
//! `world` can own them without a circle.

use std::sync::Arc;

use parking_lot::Mutex;
use zerobuffer::Writer;

pub(crate) mod buffers;
pub(crate) mod duplex;
pub(crate) mod faults;
pub(crate) mod frames;
pub(crate) mod inspection;
pub(crate) mod lifecycle;
pub(crate) mod measurement;
pub(crate) mod metadata;

/// A writer shared with background jobs of its process. `None` once it was closed or crashed.
pub type SharedWriter = Arc<Mutex<Option<Writer>>>;

/// A frame the process has read, copied out of the ring (the ring space is released at once,
/// as every implementation does when its read step ends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedFrame {
    pub sequence: u64,
    pub data: Vec<u8>,
}
