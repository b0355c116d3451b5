//! Failure injection points, active only with the `testing` feature (no-ops otherwise).

use std::io;

#[cfg(feature = "testing")]
mod active {
    use std::collections::HashSet;
    use std::io;
    use std::sync::Mutex;

    static FAIL_SEMAPHORE_CREATION: Mutex<Option<HashSet<String>>> = Mutex::new(None);

    /// Makes the next creation of a semaphore of buffer `buffer` fail (once), as an OS
    /// refusal would.
    pub fn fail_next_semaphore_creation(buffer: &str) {
        let mut names = FAIL_SEMAPHORE_CREATION
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        names
            .get_or_insert_with(HashSet::new)
            .insert(buffer.to_owned());
    }

    pub fn semaphore_creation(buffer: &str) -> io::Result<()> {
        let mut names = FAIL_SEMAPHORE_CREATION
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match names.as_mut().is_some_and(|n| n.remove(buffer)) {
            true => Err(io::Error::other("injected semaphore creation failure")),
            false => Ok(()),
        }
    }
}

#[cfg(feature = "testing")]
pub use active::fail_next_semaphore_creation;

/// Called before the reader creates its semaphores.
#[cfg(feature = "testing")]
pub(crate) fn semaphore_creation(buffer: &str) -> io::Result<()> {
    active::semaphore_creation(buffer)
}

#[cfg(not(feature = "testing"))]
#[inline(always)]
pub(crate) fn semaphore_creation(_buffer: &str) -> io::Result<()> {
    Ok(())
}
