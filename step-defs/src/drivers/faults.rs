//! Faults made real: creations under a failing semaphore or a descriptor limit.

use std::fs;
use std::path::PathBuf;

use anyhow::{anyhow, bail, ensure, Result};
use rustix::io::Errno;
use zerobuffer::{BufferConfig, Error, Reader};

use crate::drivers::endpoints::DEFAULT_CONFIG;
use crate::drivers::explain::Explain as _;
use crate::drivers::os::{leftovers, object_paths, DescriptorLimit, ShmWatch};
use crate::drivers::roles::{broadcast_subject, current_kept, kept_scratch};
use crate::world::ZbWorld;

/// One attempt to create a buffer that is expected to fail, and what it did.
pub(crate) struct Attempt {
    pub name: String,
    pub config: BufferConfig,
    pub watch: Option<ShmWatch>,
    /// `None` until the attempt ran; then the error, or `Ok` if the creation succeeded.
    pub outcome: Option<Result<(), Error>>,
}

/// The creation attempt of a scenario and the descriptor limit it may run under.
#[derive(Default)]
pub(crate) struct Creation {
    pub attempt: Option<Attempt>,
    pub limit: Option<DescriptorLimit>,
}

impl Attempt {
    /// Prepares an attempt on `name`: nothing of it may exist yet, so that anything found
    /// later was left by the attempt. With `watch`, /dev/shm is watched from now on.
    pub(crate) fn arrange(name: String, config: BufferConfig, watch: bool) -> Result<Attempt> {
        let existing = leftovers(&name);
        ensure!(
            existing.is_empty(),
            "objects of '{name}' exist before the attempt: {}",
            existing.join(", ")
        );
        Ok(Attempt {
            name,
            config,
            watch: if watch {
                Some(ShmWatch::start()?)
            } else {
                None
            },
            outcome: None,
        })
    }

    /// Runs the creation; a buffer that gets created after all is closed at once.
    pub(crate) fn run(&mut self) -> Result<()> {
        ensure!(self.outcome.is_none(), "the creation was already attempted");
        self.outcome = Some(Reader::create(&self.name, self.config).map(drop));
        if let Some(watch) = &mut self.watch {
            watch.collect()?;
        }
        Ok(())
    }

    /// The error of the attempt.
    pub(crate) fn error(&self) -> Result<&Error> {
        match &self.outcome {
            None => bail!("the creation of '{}' was not attempted", self.name),
            Some(Ok(())) => bail!("the creation of '{}' succeeded", self.name),
            Some(Err(e)) => Ok(e),
        }
    }

    /// The attempt created its segment and removed it again: none is left. Only the segment,
    /// not all of [`leftovers`]: the steps ("should clean up shared memory") ask about the
    /// shared memory alone, and their scenarios check every object in a step of its own.
    pub(crate) fn ensure_segment_removed(&self) -> Result<()> {
        self.watch()?.created_then_removed(&self.name)?;
        let segment = &object_paths(&self.name)[0];
        ensure!(
            segment.symlink_metadata().is_err(),
            "{} still exists",
            segment.display()
        );
        Ok(())
    }

    pub(crate) fn watch(&self) -> Result<&ShmWatch> {
        self.watch
            .as_ref()
            .ok_or_else(|| anyhow!("/dev/shm was not watched during the attempt"))
    }
}

/// The attempt kept by `process` or by a broadcast step.
pub(crate) fn attempt_of<'w>(world: &'w mut ZbWorld, process: &str) -> Result<&'w mut Attempt> {
    kept_scratch::<Creation>(world, process, |c| c.attempt.is_some())?
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
    let creation = state.scratch::<Creation>();
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
    current_kept::<Creation>(world, |c| c.attempt.is_some())?
        .attempt
        .as_mut()
        .ok_or_else(|| anyhow!("no creation was attempted"))
}
