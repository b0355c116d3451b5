//! Read-only inspection of a live buffer, for `zerobuffer inspect` and tests.

use std::io;

use crate::error::{Error, Result};
use crate::layout::OIEB_SIZE;
use crate::names::ObjectNames;
use crate::oieb::{Oieb, OiebSnapshot};
use crate::process::is_process_alive;
use crate::shm::SharedMemory;

/// The control block of a buffer plus what can be said about its processes.
#[derive(Debug, Clone)]
pub struct BufferInfo {
    /// The inspected buffer's name.
    pub name: String,
    /// Size of the shared-memory segment in bytes.
    pub segment_size: u64,
    /// Every OIEB field, as read at inspection time.
    pub oieb: OiebSnapshot,
    /// Whether `reader_pid` names a live process.
    pub reader_alive: bool,
    /// Whether `writer_pid` names a live process.
    pub writer_alive: bool,
}

/// Decodes the OIEB of buffer `name` without attaching as reader or writer.
pub fn inspect(name: &str) -> Result<BufferInfo> {
    let shm = open_segment(name)?;
    let oieb = Oieb::new(&shm).snapshot();
    Ok(BufferInfo {
        name: name.to_owned(),
        segment_size: shm.len() as u64,
        reader_alive: is_process_alive(oieb.reader_pid),
        writer_alive: is_process_alive(oieb.writer_pid),
        oieb,
    })
}

/// Maps the existing segment of buffer `name` without attaching to it; it must at least hold
/// an OIEB.
pub(crate) fn open_segment(name: &str) -> Result<SharedMemory> {
    let names = ObjectNames::new(name)?;
    let shm = SharedMemory::open(&names.shm).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => Error::BufferNotFound {
            name: name.to_owned(),
            what: "shared memory",
        },
        _ => Error::os(format!("open shared memory {name:?}"), e),
    })?;
    if shm.len() < OIEB_SIZE {
        return Err(Error::InvalidOieb(format!(
            "segment of {} bytes is smaller than the OIEB",
            shm.len()
        )));
    }
    Ok(shm)
}
