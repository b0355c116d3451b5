//! Stale-resource cleanup (protocol.md §5.2): removing what a dead reader left behind.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::Path;

use crate::error::{Error, Result};
use crate::layout::{OIEB_SIGNATURE, OIEB_SIZE};
use crate::lock::FileLock;
use crate::names::{validate_name, ObjectNames, CSHARP_LOCK_DIR, LOCK_DIR};
use crate::oieb::Oieb;
use crate::process::is_process_alive;
use crate::sem::NamedSemaphore;
use crate::shm::SharedMemory;

/// What [`clean_stale`] did for one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CleanOutcome {
    /// Nothing of this name exists.
    NotFound,
    /// A live reader (lock held or live `reader_pid`) or a live writer still uses it.
    InUse,
    /// A segment of this name exists but is not a ZeroBuffer; it was left alone.
    Foreign,
    /// The listed objects (segment, semaphores, lock file) were removed.
    Removed(Vec<String>),
}

/// Removes the objects of buffer `name` if neither its reader nor its writer is alive.
pub fn clean_stale(name: &str) -> Result<CleanOutcome> {
    let names = ObjectNames::new(name)?;
    let lock = match FileLock::try_acquire(&names.lock_file, false) {
        Ok(Some(lock)) => Some(lock),
        Ok(None) if names.lock_file.exists() => return Ok(CleanOutcome::InUse),
        Ok(None) => None,
        Err(e) => return Err(Error::os(format!("lock {}", names.lock_file.display()), e)),
    };
    let outcome = remove_unowned(&names, lock.is_some());
    if let (Some(lock), Ok(CleanOutcome::Removed(_))) = (lock, &outcome) {
        lock.remove();
    }
    outcome
}

/// Cleans every buffer that looks stale: names of lock files, of ZeroBuffer segments and of
/// semaphores in `/dev/shm`. Returns the outcome for each name considered.
pub fn clean_all_stale() -> Result<Vec<(String, CleanOutcome)>> {
    let mut candidates = BTreeSet::new();
    for dir in [LOCK_DIR, CSHARP_LOCK_DIR] {
        candidates.extend(lock_file_stems(Path::new(dir)));
    }
    if let Ok(entries) = fs::read_dir("/dev/shm") {
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if let Some(name) = file
                .strip_prefix("sem.sem-w-")
                .or_else(|| file.strip_prefix("sem.sem-r-"))
            {
                candidates.insert(name.to_owned());
            } else if looks_like_segment(&entry.path()) {
                candidates.insert(file);
            }
        }
    }
    let mut results = Vec::new();
    for name in candidates {
        if validate_name(&name).is_err() {
            continue;
        }
        let outcome = clean_stale(&name)?;
        if outcome != CleanOutcome::NotFound {
            results.push((name, outcome));
        }
    }
    Ok(results)
}

/// The scan a reader runs before creating its buffer: every unlocked lock file in the lock
/// directories names a buffer whose reader died; its objects go if nobody alive uses them.
/// Errors are ignored, like upstream: this is best-effort housekeeping.
pub(crate) fn scan_lock_files() {
    for dir in [LOCK_DIR, CSHARP_LOCK_DIR] {
        for name in lock_file_stems(Path::new(dir)) {
            let Ok(names) = ObjectNames::new(&name) else {
                continue;
            };
            let path = Path::new(dir).join(format!("{name}.lock"));
            if let Ok(Some(lock)) = FileLock::try_acquire(&path, false) {
                tracing::debug!(buffer = %name, "found an abandoned lock file");
                if let Ok(CleanOutcome::Removed(_) | CleanOutcome::NotFound) =
                    remove_unowned(&names, true)
                {
                    lock.remove();
                }
            }
        }
    }
}

fn lock_file_stems(dir: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let file = e.file_name().into_string().ok()?;
            file.strip_suffix(".lock").map(str::to_owned)
        })
        .collect()
}

fn looks_like_segment(path: &Path) -> bool {
    use std::io::Read;
    let mut first = [0u8; 8];
    fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut first))
        .is_ok_and(|()| u64::from_le_bytes(first) == OIEB_SIGNATURE)
}

/// Removes segment and semaphores unless a live process owns them. The caller holds the lock
/// file if one exists (`have_lock`), so no reader can be creating the buffer meanwhile.
fn remove_unowned(names: &ObjectNames, have_lock: bool) -> Result<CleanOutcome> {
    let mut removed = Vec::new();
    match SharedMemory::open(&names.shm) {
        Ok(shm) => {
            if shm.len() < OIEB_SIZE || !looks_like_segment(&names.paths().segment) {
                return Ok(CleanOutcome::Foreign);
            }
            let oieb = Oieb::new(&shm);
            let reader = oieb.reader_pid();
            if is_process_alive(reader) || is_process_alive(oieb.writer_pid()) {
                return Ok(CleanOutcome::InUse);
            }
            // Without the lock a reader may be between creating the segment and storing its
            // pid (it stores it last); only a lock holder may judge a pid-less segment.
            if reader == 0 && !have_lock {
                return Ok(CleanOutcome::InUse);
            }
            if SharedMemory::unlink(&names.shm).is_ok() {
                removed.push(names.paths().segment.display().to_string());
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) if e.kind() == io::ErrorKind::InvalidData => return Ok(CleanOutcome::Foreign),
        Err(e) => return Err(Error::os(format!("open {}", names.shm), e)),
    }
    let paths = names.paths();
    for (sem, path) in [
        (&names.sem_write, &paths.sem_write),
        (&names.sem_read, &paths.sem_read),
    ] {
        if NamedSemaphore::unlink(sem).is_ok() {
            removed.push(path.display().to_string());
        }
    }
    if have_lock {
        removed.push(names.lock_file.display().to_string());
    }
    Ok(if removed.is_empty() {
        CleanOutcome::NotFound
    } else {
        CleanOutcome::Removed(removed)
    })
}
