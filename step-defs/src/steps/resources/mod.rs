//! Group I of steps.md (feature 07, system resources): creation failures and resource
//! exhaustion that must leave nothing behind, a multi-field structure published through the
//! ring, and frames of every size checked byte for byte (7.4, in [`pattern`]); 7.1, 7.2 and
//! 7.3 in [`partial_init`], [`exhaustion`] and [`barriers`].
//!
//! Also the helpers features 08 and 10 share: the objects of a buffer, creation attempts (with
//! /dev/shm watched through inotify), a lowered descriptor limit, and the state of steps that
//! are broadcast before any process is named.

use std::fs;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd as _, OwnedFd};
use std::path::PathBuf;

use crate::explain::Explain as _;
use anyhow::{anyhow, bail, ensure, Result};
use rustix::fs::inotify;
use rustix::io::Errno;
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
use zerobuffer::{BufferConfig, Error, Reader};

use super::basic::DEFAULT_CONFIG;
use crate::world::{ProcessState, ZbWorld};

mod barriers;
mod exhaustion;
mod partial_init;
mod pattern;

// ---- State of broadcast steps ----------------------------------------------------------------

/// The pseudo-process holding the state of steps that come before any process is named (7.1,
/// 7.2, 8.4, 10.1 and 10.5 start that way). Harmony broadcasts such steps to every role, so in
/// a serve they run in the very process whose named steps follow.
pub(crate) const BROADCAST: &str = "all";

/// The process a subject-less step acts on: the last one named, else [`BROADCAST`].
pub(crate) fn subject(world: &mut ZbWorld) -> &mut ProcessState {
    if world.current().is_err() {
        return world.process(BROADCAST);
    }
    world.current().expect("a process was named")
}

/// The scratch `T` of `process` if `holds` says it has what the step needs, else the one kept
/// by broadcast steps (see [`BROADCAST`]).
pub(crate) fn kept_scratch<'w, T: Default + Send + 'static>(
    world: &'w mut ZbWorld,
    process: &str,
    holds: impl Fn(&mut T) -> bool,
) -> Result<&'w mut T> {
    if holds(world.process(process).scratch::<T>()) {
        return Ok(world.process(process).scratch::<T>());
    }
    let shared = match world.existing(BROADCAST) {
        Ok(state) => state.scratch::<T>(),
        Err(_) => bail!("no earlier step of the '{process}' process prepared this check"),
    };
    ensure!(
        holds(shared),
        "no earlier step of the '{process}' process prepared this check"
    );
    Ok(shared)
}

/// [`kept_scratch`] for subject-less steps.
fn current_kept<T: Default + Send + 'static>(
    world: &mut ZbWorld,
    holds: impl Fn(&mut T) -> bool,
) -> Result<&mut T> {
    let name = subject(world).name.clone();
    kept_scratch(world, &name, holds)
}

// ---- The objects of a buffer -----------------------------------------------------------------

/// The four objects of buffer `name` (protocol.md §0): segment, sem-w, sem-r, lock file.
pub(crate) fn object_paths(name: &str) -> [PathBuf; 4] {
    zerobuffer::ObjectPaths::new(name)
        .all()
        .map(std::path::Path::to_path_buf)
}

/// Those of the four objects that exist.
pub(crate) fn existing_objects(name: &str) -> Vec<String> {
    object_paths(name)
        .iter()
        .filter(|p| p.symlink_metadata().is_ok())
        .map(|p| p.display().to_string())
        .collect()
}

/// Descriptors and mappings of this process that still refer to an object of `name` (a
/// leaked descriptor or mapping keeps an unlinked object alive).
pub(crate) fn process_references(name: &str) -> Result<Vec<String>> {
    let objects: Vec<String> = object_paths(name)
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let refers = |target: &str| {
        objects
            .iter()
            .any(|o| target == o || target.strip_suffix(" (deleted)") == Some(o))
    };
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc/self/fd").context("listing /proc/self/fd")? {
        let entry = entry?;
        if let Ok(target) = fs::read_link(entry.path()) {
            let target = target.display().to_string();
            if refers(&target) {
                found.push(format!(
                    "descriptor {} → {target}",
                    entry.file_name().display()
                ));
            }
        }
    }
    let maps = fs::read_to_string("/proc/self/maps").context("reading /proc/self/maps")?;
    for line in maps.lines() {
        // The path is the sixth column; it may contain spaces.
        let path = line.splitn(6, ' ').nth(5).unwrap_or("").trim_start();
        if refers(path) {
            found.push(format!("mapping of {path}"));
        }
    }
    Ok(found)
}

/// Fails unless nothing of `name` is left, neither on the file system nor in this process.
pub(crate) fn ensure_nothing_left(name: &str) -> Result<()> {
    let left = existing_objects(name);
    ensure!(left.is_empty(), "left behind: {}", left.join(", "));
    let held = process_references(name)?;
    ensure!(held.is_empty(), "still held: {}", held.join(", "));
    Ok(())
}

// ---- Watching /dev/shm -----------------------------------------------------------------------

/// Records the entries created and removed in /dev/shm (inotify), so a step can tell that a
/// segment was created and removed again, rather than never created.
pub(crate) struct ShmWatch {
    fd: OwnedFd,
    /// (file name, true = appeared / false = removed), in order.
    events: Vec<(String, bool)>,
}

impl ShmWatch {
    pub(crate) fn start() -> Result<ShmWatch> {
        let fd = inotify::init(inotify::CreateFlags::NONBLOCK | inotify::CreateFlags::CLOEXEC)
            .context("inotify_init")?;
        let mask = inotify::WatchFlags::CREATE
            | inotify::WatchFlags::DELETE
            | inotify::WatchFlags::MOVED_TO
            | inotify::WatchFlags::MOVED_FROM;
        inotify::add_watch(&fd, "/dev/shm", mask).context("watching /dev/shm")?;
        Ok(ShmWatch {
            fd,
            events: Vec::new(),
        })
    }

    /// Takes in the events queued so far (the kernel queues them as the calls happen).
    pub(crate) fn collect(&mut self) -> Result<()> {
        let ShmWatch { fd, events } = self;
        let mut buf = [MaybeUninit::<u8>::uninit(); 16 * 1024];
        let mut reader = inotify::Reader::new(&*fd, &mut buf);
        loop {
            match reader.next() {
                Ok(event) => {
                    let flags = event.events();
                    ensure!(
                        !flags.contains(inotify::ReadFlags::QUEUE_OVERFLOW),
                        "the /dev/shm event queue overflowed"
                    );
                    if let Some(file) = event.file_name() {
                        let appeared = flags
                            .intersects(inotify::ReadFlags::CREATE | inotify::ReadFlags::MOVED_TO);
                        events.push((file.to_string_lossy().into_owned(), appeared));
                    }
                }
                Err(Errno::AGAIN) => return Ok(()),
                Err(Errno::INTR) => continue,
                Err(e) => return Err(io::Error::from(e)).context("reading /dev/shm events"),
            }
        }
    }

    fn position(&self, file: &str, appeared: bool) -> Option<usize> {
        self.events
            .iter()
            .position(|(f, a)| f == file && *a == appeared)
    }

    /// `/dev/shm/FILE` was created and afterwards removed.
    pub(crate) fn created_then_removed(&self, file: &str) -> Result<()> {
        let created = self
            .position(file, true)
            .ok_or_else(|| anyhow!("/dev/shm/{file} was never created"))?;
        let removed = self.events[created..]
            .iter()
            .any(|(f, appeared)| f == file && !appeared);
        ensure!(removed, "/dev/shm/{file} was created but never removed");
        Ok(())
    }

    pub(crate) fn was_created(&self, file: &str) -> bool {
        self.position(file, true).is_some()
    }
}

// ---- Creation attempts -----------------------------------------------------------------------

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
        let existing = existing_objects(&name);
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

    /// The attempt created its segment and removed it again: none is left.
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

fn current_attempt(world: &mut ZbWorld) -> Result<&mut Attempt> {
    current_kept::<Creation>(world, |c| c.attempt.is_some())?
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

// ---- A lowered descriptor limit --------------------------------------------------------------

/// This process's RLIMIT_NOFILE lowered so that only `spare` more descriptors can be opened:
/// a harmless, deterministic stand-in for exhausted host limits, which are shared by
/// everything on the machine. The previous limit is restored on drop.
pub(crate) struct DescriptorLimit {
    previous: Rlimit,
}

impl DescriptorLimit {
    pub(crate) fn lower(spare: u64) -> Result<DescriptorLimit> {
        let previous = getrlimit(Resource::Nofile);
        // The kernel hands out the lowest free descriptor, and refuses any at or above the
        // soft limit: with the limit at lowest-free + spare exactly `spare` opens succeed.
        let lowest = {
            let probe = fs::File::open("/dev/null").context("opening /dev/null")?;
            probe.as_raw_fd() as u64
        };
        let lowered = Rlimit {
            current: Some(lowest + spare),
            maximum: previous.maximum,
        };
        setrlimit(Resource::Nofile, lowered).context("lowering RLIMIT_NOFILE")?;
        tracing::debug!(limit = lowest + spare, "lowered RLIMIT_NOFILE");
        Ok(DescriptorLimit { previous })
    }

    /// Opens descriptors until that fails and returns how many could be opened (at most 64),
    /// checking that the failure is EMFILE.
    pub(crate) fn spare_descriptors() -> Result<usize> {
        let mut opened = Vec::new();
        loop {
            match fs::File::open("/dev/null") {
                Ok(f) if opened.len() < 64 => opened.push(f),
                Ok(_) => return Ok(opened.len() + 1),
                Err(e) if e.raw_os_error() == Some(Errno::MFILE.raw_os_error()) => {
                    return Ok(opened.len())
                }
                Err(e) => return Err(e).context("probing the descriptor limit"),
            }
        }
    }
}

impl Drop for DescriptorLimit {
    fn drop(&mut self) {
        let previous = Rlimit {
            current: self.previous.current,
            maximum: self.previous.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, previous) {
            tracing::error!(error = %e, "restoring RLIMIT_NOFILE failed");
        }
    }
}

/// Errors meaning the system ran out of a resource.
const EXHAUSTION: [Errno; 4] = [Errno::MFILE, Errno::NFILE, Errno::NOSPC, Errno::NOMEM];

/// The OS error code of a system error caused by an exhausted resource.
fn exhaustion_code(err: &Error) -> Option<i32> {
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
    let state = subject(world);
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
