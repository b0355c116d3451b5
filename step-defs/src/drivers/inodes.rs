//! What a buffer's names point to at one moment, by inode: tells a re-created object from the
//! one a dead owner left, and an abandoned lock file from a held one.

use std::fs::{self, File, TryLockError};
use std::io;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use zerobuffer::ObjectPaths;

/// The objects a buffer's names pointed to at one moment.
#[derive(Debug)]
pub(crate) struct Leftovers {
    /// Inode and `reader_pid` of the segment, if there was one.
    pub(crate) segment: Option<(u64, u64)>,
    /// Semaphores that existed, with their inodes.
    pub(crate) semaphores: Vec<(PathBuf, u64)>,
    pub(crate) lock: LockState,
}

impl Leftovers {
    pub(crate) fn find(name: &str) -> Result<Leftovers> {
        let paths = ObjectPaths::new(name);
        let segment = match inode(&paths.segment)? {
            Some(ino) => Some((ino, zerobuffer::inspect(name)?.oieb.reader_pid)),
            None => None,
        };
        let mut semaphores = Vec::new();
        for path in [paths.sem_write, paths.sem_read] {
            if let Some(ino) = inode(&path)? {
                semaphores.push((path, ino));
            }
        }
        Ok(Leftovers {
            segment,
            semaphores,
            lock: lock_state(&paths.lock_file)?,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LockState {
    Missing,
    /// The file exists and nobody holds its lock: its owner died.
    Abandoned,
    Held,
}

/// The inode of `path`, `None` if it does not exist.
pub(crate) fn inode(path: &Path) -> Result<Option<u64>> {
    match fs::metadata(path) {
        Ok(m) => Ok(Some(m.ino())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("stat {}", path.display())),
    }
}

pub(crate) fn lock_state(path: &Path) -> Result<LockState> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(LockState::Missing),
        Err(e) => return Err(e).with_context(|| format!("open {}", path.display())),
    };
    // Our own descriptor: it conflicts with any other holder, even one in this process.
    // Closing it at once releases the lock again.
    match file.try_lock() {
        Ok(()) => Ok(LockState::Abandoned),
        Err(TryLockError::WouldBlock) => Ok(LockState::Held),
        Err(TryLockError::Error(e)) => Err(e).with_context(|| format!("flock {}", path.display())),
    }
}
