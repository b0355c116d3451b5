//! Faults made real: creations under a failing semaphore or a descriptor limit.

use std::fs;
use std::path::PathBuf;

use anyhow::{anyhow, ensure, Result};
use rustix::io::Errno;
use zerobuffer::Error;

use crate::drivers::endpoints::DEFAULT_CONFIG;
use crate::drivers::explain::Explain as _;
use crate::drivers::roles::{broadcast_subject, current_kept, kept_part};
use crate::state::faults::Attempt;
use crate::world::ZbWorld;

/// The attempt kept by `process` or by a broadcast step.
pub(crate) fn attempt_of<'w>(world: &'w mut ZbWorld, process: &str) -> Result<&'w mut Attempt> {
    kept_part(
        world,
        process,
        |s| &mut s.faults.creation,
        |c| c.attempt.is_some(),
    )?
    .attempt
    .as_mut()
    .ok_or_else(|| anyhow!("no creation was attempted"))
}

/// The error is the creation of sem-w failing, as [`run_with_semaphore_failure`] makes it.
pub(crate) fn ensure_blocked_semaphore_failure(err: &Error) -> Result<()> {
    let blocked = matches!(err, Error::Os { context, source }
        if context.contains("semaphores") && source.raw_os_error() == Some(Errno::EXIST.raw_os_error()));
    ensure!(
        blocked,
        "expected the creation of sem-w to fail (its name was taken by a directory), got: {err}"
    );
    Ok(())
}

/// Runs the attempt with sem-w's name taken by a directory (`/dev/shm/sem.sem-w-NAME`), so
/// that its creation fails for real, after the lock file and the segment exist: `sem_open`
/// with `O_EXCL` finds the name taken, and the library cannot unlink a directory to retry.
/// The directory is removed right after.
pub(crate) fn run_with_semaphore_failure(attempt: &mut Attempt) -> Result<()> {
    let blocker = PathBuf::from(format!("/dev/shm/sem.sem-w-{}", attempt.name));
    fs::create_dir(&blocker).with_context(|| format!("creating {}", blocker.display()))?;
    let ran = attempt.run();
    let removed =
        fs::remove_dir(&blocker).with_context(|| format!("removing {}", blocker.display()));
    ran?;
    removed?;
    match &mut attempt.watch {
        Some(watch) => watch.collect(),
        None => Ok(()),
    }
}

/// Errors meaning the system ran out of a resource.
pub(crate) const EXHAUSTION: [Errno; 4] = [Errno::MFILE, Errno::NFILE, Errno::NOSPC, Errno::NOMEM];

/// The OS error code of a system error caused by an exhausted resource.
pub(crate) fn exhaustion_code(err: &Error) -> Option<i32> {
    match err {
        Error::Os { source, .. } => source
            .raw_os_error()
            .filter(|c| EXHAUSTION.iter().any(|e| e.raw_os_error() == *c)),
        _ => None,
    }
}

/// Lowers the limit, then attempts the creation of `base` and restores the limit at once.
pub(crate) fn attempt_under_limit(world: &mut ZbWorld, base: &str) -> Result<()> {
    let name = world.buffer_name(base);
    let state = broadcast_subject(world);
    let creation = &mut state.faults.creation;
    let limit = creation
        .limit
        .take()
        .context("no step lowered the resource limit first")?;
    // No watch: inotify would need a descriptor of its own.
    let mut attempt = Attempt::arrange(name, DEFAULT_CONFIG, false)?;
    let result = attempt.run();
    drop(limit);
    creation.attempt = Some(attempt);
    result
}

/// The OS refused for lack of a resource (descriptors, memory, space).
pub(crate) fn is_resource_exhaustion(e: &Error) -> bool {
    use rustix::io::Errno;
    let Error::Os { source, .. } = e else {
        return false;
    };
    [Errno::MFILE, Errno::NFILE, Errno::NOSPC, Errno::NOMEM]
        .iter()
        .any(|errno| source.raw_os_error() == Some(errno.raw_os_error()))
}

pub(crate) fn current_attempt(world: &mut ZbWorld) -> Result<&mut Attempt> {
    current_kept(world, |s| &mut s.faults.creation, |c| c.attempt.is_some())?
        .attempt
        .as_mut()
        .ok_or_else(|| anyhow!("no creation was attempted"))
}
