//! The reader's lock file (12.3, protocol.md §5.1): held while the reader lives, taken over
//! when it is stale, removed on a graceful shutdown.

use std::fs::{self, File, TryLockError};
use std::os::unix::fs::MetadataExt;

use anyhow::{anyhow, ensure, Result};
use cucumber::{then, when};
use zerobuffer::{current_pid, is_process_alive, ObjectPaths, Reader};

use crate::drivers::endpoints::DEFAULT_CONFIG;
use crate::drivers::explain::Explain as _;
use crate::drivers::os::leftovers;
use crate::world::{ProcessState, ZbWorld};

fn lock_path(state: &ProcessState) -> Result<String> {
    Ok(ObjectPaths::new(state.buffer()?)
        .lock_file
        .display()
        .to_string())
}

/// Tries an exclusive `flock` on the lock file from a descriptor of our own. `Ok(true)` if it
/// was free (the probe lock is released at once).
fn lock_is_free(path: &str) -> Result<bool> {
    let file = File::options()
        .read(true)
        .write(true)
        .open(path)
        .with_context(|| format!("opening {path}"))?;
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(TryLockError::WouldBlock) => Ok(false),
        Err(TryLockError::Error(e)) => Err(e).with_context(|| format!("flock {path}")),
    }
}

#[then(regex = r"^verify lock file exists at correct location$")]
fn lock_file_exists(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    let path = lock_path(state)?;
    let meta = fs::metadata(&path).with_context(|| format!("no lock file at {path}"))?;
    ensure!(meta.is_file(), "{path} is not a regular file");
    ensure!(meta.len() == 0, "the lock file holds {} bytes", meta.len());
    Ok(())
}

#[then(regex = r"^verify lock file is actually locked$")]
fn lock_file_locked(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    state.reader()?;
    let path = lock_path(state)?;
    ensure!(
        !lock_is_free(&path)?,
        "{path} could be locked from another descriptor while the reader lives"
    );
    Ok(())
}

#[when(regex = r"^kill reader process$")]
fn kill_reader_process(world: &mut ZbWorld) -> Result<()> {
    // Harmony does not intercept this text (no quoted process): the reader dies abruptly in
    // place, leaving its objects and a dead PID, with the kernel dropping its flock.
    let name = world.current()?.name.clone();
    world.current()?.reader()?;
    world.crash(&name)
}

#[then(regex = r"^new reader can acquire lock after detecting stale$")]
fn new_reader_takes_stale_lock(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    ensure!(state.reader.is_none(), "the old reader is still alive");
    let name = state.buffer()?.to_owned();
    let path = lock_path(state)?;
    // Stale: the file is still there, nobody holds it, and the recorded reader is dead.
    // Unless another process's reader got here first: every reader's create scans the lock
    // directory and removes a dead reader's buffer, lock file last (as the protocol has it,
    // and as parallel scenarios do). Then the whole buffer must be gone, not a part of it.
    let old_ino = match fs::metadata(&path) {
        Ok(meta) => Some(meta.ino()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let left = zerobuffer::ObjectPaths::new(&name).existing();
            ensure!(
                left.is_empty(),
                "the dead reader's lock file {path} is gone but not the rest of its buffer: {left:?}"
            );
            tracing::info!(
                "{path}: another process's stale scan removed the dead reader's buffer first"
            );
            None
        }
        Err(e) => return Err(e).with_context(|| format!("the dead reader's lock file {path}")),
    };
    if old_ino.is_some() {
        ensure!(lock_is_free(&path)?, "{path} is still locked by someone");
        let old = zerobuffer::inspect(&name)?;
        ensure!(
            old.oieb.reader_pid != 0 && !old.reader_alive,
            "the old reader does not look dead: {old:?}"
        );
    }
    let reader = Reader::create(&name, DEFAULT_CONFIG).context("a new reader for the name")?;
    let new_ino = fs::metadata(&path)
        .with_context(|| format!("the new reader has no lock file at {path}"))?
        .ino();
    ensure!(
        !lock_is_free(&path)?,
        "the new reader does not hold {path} (old inode {old_ino:?}, now {new_ino})"
    );
    let now = zerobuffer::inspect(&name)?;
    ensure!(
        now.oieb.reader_pid == current_pid() && is_process_alive(now.oieb.reader_pid),
        "the new reader did not take over the buffer: {now:?}"
    );
    state.reader = Some(std::sync::Arc::new(reader));
    Ok(())
}

#[when(regex = r"^graceful shutdown$")]
fn graceful_shutdown(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    let reader = state
        .reader
        .take()
        .context("no reader to shut down gracefully")?;
    std::sync::Arc::try_unwrap(reader)
        .map_err(|_| anyhow!("the reader is still in use by other work"))?;
    Ok(())
}

#[then(regex = r"^verify lock file is removed$")]
fn lock_file_removed(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    let name = state.buffer()?;
    let left = leftovers(name);
    ensure!(left.is_empty(), "still present after shutdown: {left:?}");
    Ok(())
}
