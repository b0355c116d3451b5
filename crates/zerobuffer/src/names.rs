//! Buffer names and the OS object names derived from them (protocol.md §0, §1.1, §4.1, §5.1).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Longest usable name: `sem.sem-w-NAME` must fit the 255-byte file-name limit.
pub const MAX_NAME_LEN: usize = 245;

/// Directory of the reader lock files shared with the C++ and Python implementations.
pub const LOCK_DIR: &str = "/tmp/zerobuffer";

/// Directory where the C# implementation keeps its lock files (scanned by stale cleanup).
pub const CSHARP_LOCK_DIR: &str = "/tmp/zerobuffer/locks";

/// Checks that `name` can become a file name in `/dev/shm` and `/tmp/zerobuffer`.
///
/// Done before any OS call so that a bad name never reaches `shm_open` or the file system.
pub fn validate_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "the name is empty"
    } else if name.len() > MAX_NAME_LEN {
        "the name is longer than 245 bytes"
    } else if name.contains('/') {
        "the name contains '/'"
    } else if name.contains('\0') {
        "the name contains a NUL byte"
    } else if name == "." || name == ".." {
        "the name is '.' or '..'"
    } else {
        return Ok(());
    };
    Err(Error::InvalidName {
        name: name.to_owned(),
        reason,
    })
}

/// The names of every OS object that makes up one buffer.
#[derive(Debug, Clone)]
pub(crate) struct ObjectNames {
    pub buffer: String,
    /// `shm_open` name, `/NAME` → `/dev/shm/NAME`.
    pub shm: String,
    /// "data available" semaphore, posted by the writer.
    pub sem_write: String,
    /// "space available" semaphore, posted by the reader.
    pub sem_read: String,
    pub lock_file: PathBuf,
}

impl ObjectNames {
    pub fn new(name: &str) -> Result<Self> {
        validate_name(name)?;
        Ok(ObjectNames {
            buffer: name.to_owned(),
            shm: format!("/{name}"),
            sem_write: format!("/sem-w-{name}"),
            sem_read: format!("/sem-r-{name}"),
            lock_file: PathBuf::from(LOCK_DIR).join(format!("{name}.lock")),
        })
    }
}

/// Where the four OS objects of a buffer live on Linux: the segment and both named semaphores
/// under `/dev/shm`, the lock file under [`LOCK_DIR`]. For inspection, cleanup reports and
/// "nothing left behind" checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectPaths {
    /// The shared-memory segment (`/dev/shm/NAME`).
    pub segment: PathBuf,
    /// "data available" semaphore (`sem-w-NAME`).
    pub sem_write: PathBuf,
    /// "space available" semaphore (`sem-r-NAME`).
    pub sem_read: PathBuf,
    /// The reader lock file (`/tmp/zerobuffer/NAME.lock`).
    pub lock_file: PathBuf,
}

impl ObjectPaths {
    /// Where the objects of buffer `name` are or would be. The name is not validated, so a
    /// caller can also check that an attempt with an invalid name left nothing behind.
    pub fn new(name: &str) -> Self {
        let shm_dir = Path::new("/dev/shm");
        ObjectPaths {
            segment: shm_dir.join(name),
            sem_write: shm_dir.join(format!("sem.sem-w-{name}")),
            sem_read: shm_dir.join(format!("sem.sem-r-{name}")),
            lock_file: Path::new(LOCK_DIR).join(format!("{name}.lock")),
        }
    }

    /// All four, segment first.
    pub fn all(&self) -> [&Path; 4] {
        [
            &self.segment,
            &self.sem_write,
            &self.sem_read,
            &self.lock_file,
        ]
    }

    /// Those that exist now.
    pub fn existing(&self) -> Vec<PathBuf> {
        self.all()
            .into_iter()
            .filter(|p| p.exists())
            .map(Path::to_path_buf)
            .collect()
    }
}

impl ObjectNames {
    /// glibc keeps `shm_open("/X")` at `/dev/shm/X` and `sem_open("/X")` at `/dev/shm/sem.X`.
    pub fn paths(&self) -> ObjectPaths {
        ObjectPaths::new(&self.buffer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_and_longest_names() {
        assert!(validate_name("frames_123").is_ok());
        assert!(validate_name(&"a".repeat(245)).is_ok());
        assert!(validate_name("..a").is_ok());
    }

    #[test]
    fn rejects_names_that_are_not_file_names() {
        for bad in ["", "a/b", "/abs", "nul\0", ".", ".."] {
            assert!(
                matches!(validate_name(bad), Err(Error::InvalidName { .. })),
                "{bad:?}"
            );
        }
        assert!(validate_name(&"a".repeat(246)).is_err());
    }

    #[test]
    fn derives_the_upstream_object_names() {
        let n = ObjectNames::new("buf").unwrap();
        assert_eq!(n.shm, "/buf");
        assert_eq!(n.sem_write, "/sem-w-buf");
        assert_eq!(n.sem_read, "/sem-r-buf");
        assert_eq!(n.lock_file, PathBuf::from("/tmp/zerobuffer/buf.lock"));
        let p = n.paths();
        assert_eq!(
            p.all(),
            [
                Path::new("/dev/shm/buf"),
                Path::new("/dev/shm/sem.sem-w-buf"),
                Path::new("/dev/shm/sem.sem-r-buf"),
                Path::new("/tmp/zerobuffer/buf.lock"),
            ]
        );
    }
}
