//! Group M of steps.md: feature 11, stress. Create/destroy cycles (alone and against a writer
//! that keeps connecting), a long continuous write/read run, and buffer exhaustion under a
//! lowered descriptor limit. Also the resource probes (open descriptors, mappings, leftovers
//! in /dev/shm and the lock directory) that the protocol and benchmark steps share.
use std::fs;
use std::time::Duration;

use crate::explain::Explain as _;
use anyhow::{ensure, Result};
use rustix::time::{clock_gettime, ClockId};
use zerobuffer::testdata::frame_data;
use zerobuffer::{BufferConfig, Error, Reader, Writer, CSHARP_LOCK_DIR};

use crate::world::{ProcessState, ZbWorld, READ_TIMEOUT};

mod cycles;
mod exhaustion;
mod long_run;
mod under_load;

// ---- Shared helpers ------------------------------------------------------------------------

/// The process that acts for a step naming none when no earlier step named one: the
/// broadcast steps of scenarios without roles (11.4, 11.5, 12.4, 14.3–14.5, 11.1's first
/// step). Their texts speak of "the test", hence the name.
pub(super) const TEST_PROCESS: &str = "test";

/// The process a subject-less step acts on: the last one named (Harmony's inheritance), or
/// [`TEST_PROCESS`] before any was named.
pub(super) fn subject(world: &mut ZbWorld) -> Result<&mut ProcessState> {
    if world.current().is_err() {
        world.process(TEST_PROCESS);
    }
    world.current()
}

/// Every path a buffer called `name` may occupy (ours, and the C# lock directory).
pub(super) fn object_paths(name: &str) -> Vec<String> {
    let csharp_lock = format!("{CSHARP_LOCK_DIR}/{name}.lock");
    zerobuffer::ObjectPaths::new(name)
        .all()
        .iter()
        .map(|p| p.display().to_string())
        .chain([csharp_lock])
        .collect()
}

/// The objects of buffer `name` that still exist.
pub(super) fn leftovers(name: &str) -> Vec<String> {
    object_paths(name)
        .into_iter()
        .filter(|p| fs::symlink_metadata(p).is_ok())
        .collect()
}

/// Descriptors open in this process.
pub(super) fn open_fds() -> Result<Vec<u32>> {
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
pub(super) struct Mapping {
    pub start: u64,
    pub file_offset: u64,
    pub path: String,
}

/// The mappings of this process whose file is one of `paths` (deleted files included).
pub(super) fn mappings_of(paths: &[String]) -> Result<Vec<Mapping>> {
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
pub(super) fn cpu_time(clock: ClockId) -> Duration {
    let t = clock_gettime(clock);
    Duration::new(
        t.tv_sec.max(0) as u64,
        t.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// Monotonic clock in nanoseconds, comparable across processes of the machine.
pub(super) fn monotonic_ns() -> u64 {
    let t = clock_gettime(ClockId::Monotonic);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// The OS refused for lack of a resource (descriptors, memory, space).
fn is_resource_exhaustion(e: &Error) -> bool {
    use rustix::io::Errno;
    let Error::Os { source, .. } = e else {
        return false;
    };
    [Errno::MFILE, Errno::NFILE, Errno::NOSPC, Errno::NOMEM]
        .iter()
        .any(|errno| source.raw_os_error() == Some(errno.raw_os_error()))
}

/// Creates, uses and closes buffer `name` once: a frame crosses and everything is removed.
fn round_trip(name: &str, config: BufferConfig) -> Result<()> {
    let reader = Reader::create(name, config).with_context(|| format!("creating '{name}'"))?;
    let mut writer = Writer::connect(name).with_context(|| format!("connecting to '{name}'"))?;
    let data = frame_data(256, 1);
    writer.write_frame(&data).context("writing a frame")?;
    let frame = reader
        .read_frame(READ_TIMEOUT)
        .context("reading the frame")?;
    ensure!(
        frame.sequence() == 1 && frame.data() == data.as_slice(),
        "frame {} came back altered",
        frame.sequence()
    );
    drop(frame);
    drop(writer);
    drop(reader);
    let left = leftovers(name);
    ensure!(left.is_empty(), "closing '{name}' left {left:?}");
    Ok(())
}

/// Descriptors a run may open beyond its baseline without counting as a leak (a leak of one
/// per cycle or buffer shows far above this: the loops here run 49 to 500+ times).
const FD_SLACK: usize = 2;

fn check_fds(before: usize, after: usize) -> Result<()> {
    ensure!(
        after <= before + FD_SLACK,
        "open descriptors grew from {before} to {after}"
    );
    Ok(())
}

/// Create/destroy cycles run at least (a cycle takes well under a millisecond; 11.1, 11.5).
const MIN_CYCLES: u64 = 500;
