//! OS probes: a buffer's objects on the file system, descriptors and mappings of this process, CPU
//! clocks, /dev/shm watches and descriptor limits.

use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd as _, OwnedFd};
use std::path::PathBuf;
use std::time::Duration;
use std::{fs, io};

use anyhow::{anyhow, ensure, Result};
use rustix::fs::inotify;
use rustix::io::Errno;
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
use rustix::time::{clock_gettime, ClockId};
use zerobuffer::CSHARP_LOCK_DIR;

use crate::drivers::explain::Explain as _;

/// Every path a buffer called `name` may occupy (ours, and the C# lock directory), whether it
/// exists or not: for matching mappings, whose files may be unlinked already. What exists of
/// them is [`leftovers`].
pub(crate) fn paths_with_csharp_lock(name: &str) -> Vec<String> {
    let csharp_lock = format!("{CSHARP_LOCK_DIR}/{name}.lock");
    zerobuffer::ObjectPaths::new(name)
        .all()
        .iter()
        .map(|p| p.display().to_string())
        .chain([csharp_lock])
        .collect()
}

/// The objects of buffer `name` that still exist, the C# lock file included: the one
/// leftover check every crate's tests share.
pub(crate) use zerobuffer_test_support::leftovers;

/// Descriptors open in this process.
pub(crate) fn open_fds() -> Result<Vec<u32>> {
    let mut fds = Vec::new();
    for entry in fs::read_dir("/proc/self/fd").context("listing /proc/self/fd")? {
        if let Some(fd) = entry?.file_name().to_str().and_then(|s| s.parse().ok()) {
            fds.push(fd);
        }
    }
    Ok(fds)
}

/// One line of /proc/self/maps that maps a file.
#[derive(Debug, Clone)]
pub(crate) struct Mapping {
    pub start: u64,
    pub file_offset: u64,
    pub path: String,
}

/// The mappings of this process whose file is one of `paths` (deleted files included).
pub(crate) fn mappings_of(paths: &[String]) -> Result<Vec<Mapping>> {
    let maps = fs::read_to_string("/proc/self/maps").context("reading /proc/self/maps")?;
    let mut found = Vec::new();
    for line in maps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(range), Some(offset), Some(path)) =
            (fields.first(), fields.get(2), fields.get(5))
        else {
            continue;
        };
        if !paths.iter().any(|p| p == path) {
            continue;
        }
        let start = range.split('-').next().unwrap_or_default();
        found.push(Mapping {
            start: u64::from_str_radix(start, 16).with_context(|| format!("maps line {line}"))?,
            file_offset: u64::from_str_radix(offset, 16)
                .with_context(|| format!("maps line {line}"))?,
            path: (*path).to_owned(),
        });
    }
    Ok(found)
}

/// CPU time of `clock` (`ProcessCPUTime` or `ThreadCPUTime`).
pub(crate) fn cpu_time(clock: ClockId) -> Duration {
    let t = clock_gettime(clock);
    Duration::new(
        t.tv_sec.max(0) as u64,
        t.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// Monotonic clock in nanoseconds, comparable across processes of the machine.
pub(crate) fn monotonic_ns() -> u64 {
    let t = clock_gettime(ClockId::Monotonic);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// The four objects of buffer `name` (protocol.md §0): segment, sem-w, sem-r, lock file.
pub(crate) fn object_paths(name: &str) -> [PathBuf; 4] {
    zerobuffer::ObjectPaths::new(name)
        .all()
        .map(std::path::Path::to_path_buf)
}

/// Those of the four objects of buffer `name` that do not exist: empty while the buffer is
/// complete. The converse of [`leftovers`] over [`object_paths`] only, since the C# lock file
/// is no part of a buffer that this implementation creates.
pub(crate) fn missing_objects(name: &str) -> Vec<String> {
    object_paths(name)
        .iter()
        .filter(|p| !p.exists())
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
    let left = leftovers(name);
    ensure!(left.is_empty(), "left behind: {}", left.join(", "));
    let held = process_references(name)?;
    ensure!(held.is_empty(), "still held: {}", held.join(", "));
    Ok(())
}

/// Records the entries created and removed in /dev/shm (inotify), so a step can tell that a
/// segment was created and removed again, rather than never created.
pub(crate) struct ShmWatch {
    pub(crate) fd: OwnedFd,
    /// (file name, true = appeared / false = removed), in order.
    pub(crate) events: Vec<(String, bool)>,
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

    pub(crate) fn position(&self, file: &str, appeared: bool) -> Option<usize> {
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

/// This process's RLIMIT_NOFILE lowered so that only `spare` more descriptors can be opened:
/// a harmless, deterministic stand-in for exhausted host limits, which are shared by
/// everything on the machine. The previous limit is restored on drop.
pub(crate) struct DescriptorLimit {
    pub(crate) previous: Rlimit,
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

/// Descriptors a run may open beyond its baseline without counting as a leak (a leak of one
/// per cycle or buffer shows far above this: the loops here run 49 to 500+ times).
pub(crate) const FD_SLACK: usize = 2;

pub(crate) fn check_fds(before: usize, after: usize) -> Result<()> {
    ensure!(
        after <= before + FD_SLACK,
        "open descriptors grew from {before} to {after}"
    );
    Ok(())
}
