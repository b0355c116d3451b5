//! The reader's lock file, `/tmp/zerobuffer/NAME.lock`, held with `flock` (protocol.md §5.1).

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// An exclusively held lock file. Dropping it releases the lock and leaves the file;
/// [`FileLock::remove`] unlinks it while still holding the lock.
#[derive(Debug)]
pub(crate) struct FileLock {
    file: File,
    path: PathBuf,
}

impl FileLock {
    /// Locks `path` without blocking. `Ok(None)` means another process holds it.
    ///
    /// With `create` the file (and its directory) is created if missing; without it a missing
    /// file is `Ok(None)`. After locking, the path must still name the locked inode: otherwise a
    /// stale-cleanup pass in another process unlinked it in between and we try again.
    pub fn try_acquire(path: &Path, create: bool) -> io::Result<Option<FileLock>> {
        if create {
            if let Some(dir) = path.parent() {
                fs::create_dir_all(dir)?;
            }
        }
        for _ in 0..8 {
            let opened = OpenOptions::new()
                .read(true)
                .write(true)
                .create(create)
                .truncate(false)
                .mode(0o666)
                .open(path);
            let file = match opened {
                Ok(f) => f,
                Err(e) if !create && e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            };
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => return Ok(None),
                Err(TryLockError::Error(e)) => return Err(e),
            }
            let locked_ino = file.metadata()?.ino();
            match fs::metadata(path) {
                Ok(m) if m.ino() == locked_ino => {
                    return Ok(Some(FileLock {
                        file,
                        path: path.to_owned(),
                    }))
                }
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    if create {
                        continue;
                    }
                    return Ok(None);
                }
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::other(format!(
            "lock file {} keeps being replaced",
            path.display()
        )))
    }

    /// Unlinks the file while the lock is still held, then releases it.
    pub fn remove(self) {
        let _ = fs::remove_file(&self.path);
        drop(self.file);
    }
}
