//! Group M of steps.md: feature 11, stress. Create/destroy cycles (alone and against a writer
//! that keeps connecting), a long continuous write/read run, and buffer exhaustion under a
//! lowered descriptor limit. Also the resource probes (open descriptors, mappings, leftovers
//! in /dev/shm and the lock directory) that the protocol and benchmark steps share.

use std::collections::BTreeMap;
use std::fs;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::explain::Explain as _;
use anyhow::{anyhow, bail, ensure, Result};
use cucumber::{given, then, when};
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
use rustix::time::{clock_gettime, ClockId};
use zerobuffer::testdata::{fill_frame_data, frame_data};
use zerobuffer::testing::RawBuffer;
use zerobuffer::{BufferConfig, Error, OiebSnapshot, Reader, Writer, CSHARP_LOCK_DIR};

use super::basic::DEFAULT_CONFIG;
use super::num;
use crate::drain::DrainRequest;
use crate::jobs::StopFlag;
use crate::scale;
use crate::world::{ProcessState, ZbWorld, JOIN_TIMEOUT, READ_TIMEOUT};

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

// ---- 11.1 Rapid create/destroy cycles ------------------------------------------------------

/// Cycles run at least (a cycle takes well under a millisecond).
const MIN_CYCLES: u64 = 500;

/// What "perform 'N' iterations of:" asked for and what the destroy step found.
#[derive(Default)]
struct Cycles {
    requested: Option<u64>,
    report: Option<CycleReport>,
}

struct CycleReport {
    name: String,
    config: BufferConfig,
    iterations: u64,
    completed: u64,
    /// Objects other than lock files found after a destroy, with the iteration.
    leaks: Vec<String>,
    lock_leftovers: Vec<String>,
    fds_before: usize,
    fds_after: usize,
    mappings_after: usize,
}

impl CycleReport {
    fn check_after_destroy(&mut self, iteration: u64) {
        for path in leftovers(&self.name) {
            let entry = format!("{path} after destroy {iteration}");
            if path.ends_with(".lock") {
                self.lock_leftovers.push(entry);
            } else {
                self.leaks.push(entry);
            }
        }
    }
}

#[given(regex = r"^perform '([^']*)' iterations of:$")]
fn perform_iterations(world: &mut ZbWorld, count: String) -> Result<()> {
    let count = scale::count(num(&count)?, MIN_CYCLES)?;
    ensure!(count > 0, "at least one iteration is needed");
    subject(world)?.scratch::<Cycles>().requested = Some(count);
    Ok(())
}

/// Closes the reader `process` owns (no one else may still use it).
fn destroy_reader(state: &mut ProcessState) -> Result<BufferConfig> {
    let reader = state
        .reader
        .take()
        .with_context(|| format!("the '{}' process has no buffer to destroy", state.name))?;
    let reader = Arc::try_unwrap(reader)
        .map_err(|_| anyhow!("the '{}' reader is still in use by other work", state.name))?;
    let config = reader.config();
    drop(reader);
    Ok(config)
}

#[when(regex = r"^the '([^']*)' process destroys buffer$")]
fn destroys_buffer(world: &mut ZbWorld, process: String) -> Result<()> {
    // "perform 'N' iterations of:" is broadcast before any process is named.
    let requested = match world.process(&process).scratch::<Cycles>().requested.take() {
        Some(n) => Some(n),
        None => world
            .existing(TEST_PROCESS)
            .ok()
            .and_then(|s| s.scratch::<Cycles>().requested.take()),
    };
    let state = world.process(&process);
    let name = state.buffer()?.to_owned();
    let config = destroy_reader(state)?;
    let iterations = requested.unwrap_or(1);
    let mut report = CycleReport {
        name: name.clone(),
        config,
        iterations,
        completed: 1,
        leaks: Vec::new(),
        lock_leftovers: Vec::new(),
        fds_before: open_fds()?.len(),
        fds_after: 0,
        mappings_after: 0,
    };
    report.check_after_destroy(1);
    let started = Instant::now();
    for i in 2..=iterations {
        let reader = Reader::create(&name, config)
            .with_context(|| format!("iteration {i} of {iterations}: creating '{name}'"))?;
        drop(reader);
        report.completed = i;
        report.check_after_destroy(i);
    }
    report.fds_after = open_fds()?.len();
    report.mappings_after = mappings_of(&object_paths(&name))?.len();
    tracing::info!(
        buffer = %name,
        cycles = iterations,
        elapsed = ?started.elapsed(),
        "create/destroy cycles done"
    );
    state.scratch::<Cycles>().report = Some(report);
    Ok(())
}

fn cycle_report(world: &mut ZbWorld) -> Result<&mut CycleReport> {
    world
        .current()?
        .scratch::<Cycles>()
        .report
        .as_mut()
        .context("no buffer was destroyed in this scenario")
}

#[then(regex = r"^no resource leaks should occur$")]
fn no_resource_leaks_occur(world: &mut ZbWorld) -> Result<()> {
    let report = cycle_report(world)?;
    ensure!(
        report.leaks.is_empty(),
        "left behind: {}",
        report.leaks.join(", ")
    );
    check_fds(report.fds_before, report.fds_after)?;
    ensure!(
        report.mappings_after == 0,
        "{} mapping(s) of '{}' are still in place",
        report.mappings_after,
        report.name
    );
    Ok(())
}

#[then(regex = r"^lock files should be properly cleaned$")]
fn lock_files_cleaned(world: &mut ZbWorld) -> Result<()> {
    let report = cycle_report(world)?;
    report.check_after_destroy(report.completed);
    ensure!(
        report.lock_leftovers.is_empty(),
        "lock files left: {}",
        report.lock_leftovers.join(", ")
    );
    Ok(())
}

#[then(regex = r"^system should remain stable$")]
fn system_remains_stable(world: &mut ZbWorld) -> Result<()> {
    let report = cycle_report(world)?;
    ensure!(
        report.completed == report.iterations,
        "{} of {} cycles completed",
        report.completed,
        report.iterations
    );
    // After all those cycles the name must still work like new.
    round_trip(&report.name, report.config)
}

// ---- 11.3 Long duration ----------------------------------------------------------------------

/// Without ZEROBUFFER_SUITE_SCALE the scaled 24 h would still be 86 s; a default run is capped
/// at this (set the variable to run longer, `1` for the full duration).
const DEFAULT_RUN_CAP: Duration = Duration::from_secs(10);

fn long_run_duration(full: Duration) -> Result<Duration> {
    let scaled = scale::duration(full, Duration::from_secs(1))?;
    Ok(match std::env::var_os(scale::VARIABLE) {
        None => scaled.min(DEFAULT_RUN_CAP),
        Some(_) => scaled,
    })
}

/// Frame sizes vary from 1 to 4000 bytes, so the ring wraps at every kind of tail.
fn stress_frame_size(sequence: u64) -> usize {
    1 + (sequence.wrapping_mul(7919) % 4000) as usize
}

/// One sample of the resources the process and host use.
#[derive(Debug, Clone, Copy)]
pub(super) struct Usage {
    pub elapsed: Duration,
    pub fds: usize,
    pub maps: usize,
    pub rss_kib: u64,
    pub cpu: Duration,
    pub load1: f64,
    pub mem_available_kib: u64,
}

fn proc_value(file: &str, key: &str) -> Result<u64> {
    let text = fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no {key} in {file}"))
}

pub(super) fn sample_usage(since: Instant) -> Result<Usage> {
    let load = fs::read_to_string("/proc/loadavg").context("reading /proc/loadavg")?;
    Ok(Usage {
        elapsed: since.elapsed(),
        fds: open_fds()?.len(),
        maps: fs::read_to_string("/proc/self/maps")?.lines().count(),
        rss_kib: proc_value("/proc/self/status", "VmRSS:")?,
        cpu: cpu_time(ClockId::ProcessCPUTime),
        load1: load
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .context("unreadable /proc/loadavg")?,
        mem_available_kib: proc_value("/proc/meminfo", "MemAvailable:")?,
    })
}

/// What the continuous run saw.
#[derive(Debug)]
struct RunReport {
    requested: Duration,
    elapsed: Duration,
    frames_written: u64,
    frames_read: u64,
    bytes: u64,
    errors: Vec<String>,
    samples: Vec<Usage>,
    end: OiebSnapshot,
}

#[derive(Default)]
struct LongRun {
    run_for: Duration,
    report: Option<RunReport>,
}

const LONG_RUN_JOB: &str = "continuous-write-read";

#[when(regex = r"^the test runs continuous write-read for '([^']*)' hours$")]
fn runs_continuous_write_read(world: &mut ZbWorld, hours: String) -> Result<()> {
    let hours: f64 = num(&hours)?;
    ensure!(hours > 0.0, "the run needs a positive number of hours");
    let run_for = long_run_duration(Duration::from_secs_f64(hours * 3600.0))?;
    let state = world.current()?;
    let (writer, name) = (state.writer()?, state.buffer()?.to_owned());
    tracing::info!(buffer = %name, ?run_for, "continuous write/read started");
    state.scratch::<LongRun>().run_for = run_for;
    // The writing half runs here, in the background; the reader drains and checks every
    // frame through its standby drain (see crate::drain), which the run requests.
    state.jobs.spawn(LONG_RUN_JOB, move |stop| {
        let mut guard = writer.lock();
        let writer = guard.as_mut().context("the writer is closed")?;
        let request = DrainRequest::new(&name, Duration::ZERO)?;
        request.await_start(writer, 64)?;
        continuous_run(writer, &name, run_for, &stop)
    })
}

/// Writes frames of varying size for `run_for`, then waits until the reader (wherever it
/// lives) has taken them all, as the OIEB shows. The frame that started the drain counts.
fn continuous_run(
    writer: &mut Writer,
    name: &str,
    run_for: Duration,
    stop: &StopFlag,
) -> Result<RunReport> {
    let raw = RawBuffer::open(name)?;
    let first_sequence = raw.oieb().payload_written_count;

    let start = Instant::now();
    let interval = (run_for / 10).clamp(Duration::from_millis(50), Duration::from_secs(60));
    let mut samples = vec![sample_usage(start)?];
    let mut errors = Vec::new();
    let mut written = first_sequence;
    let mut bytes = 0u64;
    let mut next_sample = start + interval;
    while start.elapsed() < run_for && !stop.is_set() {
        let size = stress_frame_size(written + 1);
        let mut slot = match writer.get_frame_buffer(size) {
            Ok(slot) => slot,
            Err(e) => {
                errors.push(format!("write {}: {e}", written + 1));
                break;
            }
        };
        written = slot.sequence();
        fill_frame_data(&mut slot, written);
        slot.commit();
        bytes += size as u64;
        if Instant::now() >= next_sample {
            match sample_usage(start) {
                Ok(s) => samples.push(s),
                Err(e) => errors.push(format!("sampling: {e}")),
            }
            next_sample += interval;
        }
    }
    if errors.is_empty() && stop.is_set() {
        errors.push("the run was stopped early".to_owned());
    }
    // The reader takes the rest once its step runs (after this one returned).
    let give_up = Instant::now() + JOIN_TIMEOUT;
    let mut end = raw.oieb();
    while end.payload_read_count != end.payload_written_count && !stop.is_set() {
        if Instant::now() > give_up {
            errors.push(format!(
                "{} frame(s) still unread {JOIN_TIMEOUT:?} after the run",
                end.payload_written_count
                    .wrapping_sub(end.payload_read_count)
            ));
            break;
        }
        thread::sleep(Duration::from_millis(5));
        end = raw.oieb();
    }
    samples.push(sample_usage(start)?);
    Ok(RunReport {
        requested: run_for,
        elapsed: start.elapsed(),
        frames_written: written,
        // The counters count ring entries, wrap markers too: the frames taken are those written
        // less the entries still unread.
        frames_read: written.saturating_sub(
            end.payload_written_count
                .wrapping_sub(end.payload_read_count),
        ),
        bytes,
        errors,
        samples,
        end,
    })
}

fn run_report(world: &mut ZbWorld) -> Result<&RunReport> {
    let state = world.current()?;
    if state.jobs.is_running(LONG_RUN_JOB) {
        // The drain gives up JOIN_TIMEOUT after the run should have ended; this is wider.
        let limit = state.scratch::<LongRun>().run_for * 2 + JOIN_TIMEOUT * 2;
        let report: RunReport = state.jobs.join(LONG_RUN_JOB, limit)?;
        state.scratch::<LongRun>().report = Some(report);
    }
    state
        .scratch::<LongRun>()
        .report
        .as_ref()
        .context("no continuous write-read run was started by this process")
}

#[then(regex = r"^verify no resource leaks$")]
fn verify_no_resource_leaks(world: &mut ZbWorld) -> Result<()> {
    let r = run_report(world)?;
    let (first, last) = (r.samples[0], r.samples[r.samples.len() - 1]);
    check_fds(first.fds, last.fds)?;
    ensure!(
        last.maps <= first.maps + 8,
        "mappings grew from {} to {}",
        first.maps,
        last.maps
    );
    ensure!(
        last.rss_kib <= first.rss_kib + 32 * 1024,
        "resident memory grew from {} KiB to {} KiB",
        first.rss_kib,
        last.rss_kib
    );
    // Ring space is a resource too: once drained, every byte is free again.
    ensure!(
        r.end.payload_free_bytes == r.end.payload_size,
        "{} of {} ring bytes free after draining",
        r.end.payload_free_bytes,
        r.end.payload_size
    );
    ensure!(
        r.end.payload_written_count == r.end.payload_read_count,
        "{} frame(s) unread after draining",
        r.end
            .payload_written_count
            .wrapping_sub(r.end.payload_read_count)
    );
    Ok(())
}

/// Impossible as written: frame sequence numbers are 64-bit and start at 1 with each writer
/// (protocol.md §3), so no run of this length, or of any length a machine lasts, reaches
/// their overflow; nothing in the run can show how it is handled. Seeding the OIEB's counters
/// instead would test counters, not sequences, so the step says why it cannot hold.
#[then(regex = r"^verify sequence numbers handle overflow$")]
fn verify_sequence_overflow(world: &mut ZbWorld) -> Result<()> {
    let r = run_report(world)?;
    let rate = r.frames_written as f64 / r.elapsed.as_secs_f64().max(1e-9);
    let years = (u64::MAX - r.frames_written) as f64 / rate.max(1.0) / (365.25 * 86400.0);
    bail!(
        "frame sequence numbers cannot overflow in this run: they are 64-bit and start at 1, \
         this run reached {} in {:?} ({rate:.0} frames/s), and at that rate the overflow is \
         {years:.1e} years away",
        r.frames_written,
        r.elapsed
    )
}

#[then(regex = r"^monitor system resource usage$")]
fn monitor_resource_usage(world: &mut ZbWorld) -> Result<()> {
    let r = run_report(world)?;
    ensure!(
        r.samples.len() >= 2,
        "only {} resource sample(s)",
        r.samples.len()
    );
    for s in &r.samples {
        tracing::info!(
            elapsed = ?s.elapsed,
            fds = s.fds,
            mappings = s.maps,
            rss_kib = s.rss_kib,
            cpu = ?s.cpu,
            load1 = s.load1,
            mem_available_kib = s.mem_available_kib,
            "resource sample"
        );
    }
    let (first, last) = (r.samples[0], r.samples[r.samples.len() - 1]);
    ensure!(
        last.elapsed > first.elapsed && last.cpu > first.cpu,
        "the samples show no time or CPU passing during the run"
    );
    ensure!(
        r.samples.iter().all(|s| s.rss_kib > 0 && s.fds > 0),
        "a sample has no resident memory or descriptors"
    );
    Ok(())
}

#[then(regex = r"^ensure stable operation throughout$")]
fn ensure_stable_operation(world: &mut ZbWorld) -> Result<()> {
    let r = run_report(world)?;
    ensure!(r.errors.is_empty(), "errors during the run: {:?}", r.errors);
    ensure!(
        r.frames_written > 0 && r.frames_read == r.frames_written,
        "{} frames written, {} read",
        r.frames_written,
        r.frames_read
    );
    ensure!(
        r.elapsed >= r.requested,
        "the run ended after {:?} of {:?}",
        r.elapsed,
        r.requested
    );
    let secs = r.elapsed.as_secs_f64();
    tracing::info!(
        frames = r.frames_written,
        mib = r.bytes as f64 / 1048576.0,
        frames_per_s = r.frames_written as f64 / secs,
        elapsed = ?r.elapsed,
        "continuous write/read finished"
    );
    Ok(())
}

// ---- 11.4 Buffer exhaustion -------------------------------------------------------------------

/// Descriptors left free when the limit is lowered: each live reader keeps one (its lock file).
const DESCRIPTOR_BUDGET: u64 = 48;

/// A lowered soft RLIMIT_NOFILE, restored on drop.
struct LoweredFdLimit {
    original: Rlimit,
}

impl LoweredFdLimit {
    fn lower_to(soft: u64) -> Result<Self> {
        let original = getrlimit(Resource::Nofile);
        ensure!(
            original.current.is_none_or(|c| c > soft),
            "the descriptor limit {:?} is already below {soft}",
            original.current
        );
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(soft),
                maximum: original.maximum,
            },
        )
        .context("lowering RLIMIT_NOFILE")?;
        Ok(LoweredFdLimit { original })
    }
}

impl Drop for LoweredFdLimit {
    fn drop(&mut self) {
        let original = Rlimit {
            current: self.original.current,
            maximum: self.original.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, original) {
            tracing::error!(error = %e, "cannot restore RLIMIT_NOFILE");
        }
    }
}

#[derive(Default)]
struct Exhaustion {
    fds_before: usize,
    limit: u64,
    buffers: Vec<Reader>,
    /// The refused creation and a second attempt at the limit: (name, error).
    refusals: Vec<(String, Error)>,
    released: Vec<String>,
    fds_after_cleanup: usize,
}

const EXHAUST_CONFIG: BufferConfig = BufferConfig::new(0, 1024);

#[given(regex = r"^create maximum number of buffers system allows$")]
fn create_maximum_buffers(world: &mut ZbWorld) -> Result<()> {
    // The machine-wide limits on shared memory and semaphores are shared with everything else
    // running here; the limit this test exhausts is its own descriptor limit, lowered for the
    // duration of this step to a few dozen above the descriptors already open.
    // New descriptors take the lowest free numbers, so at most the budget (plus any open
    // descriptors numbered above the limit) remains free below it.
    let fds = open_fds()?;
    let limit = fds.len() as u64 + DESCRIPTOR_BUDGET;
    let names: Vec<String> = (0..=limit + 2)
        .map(|i| world.buffer_name(&format!("test-exhaust-{i}")))
        .collect();
    let mut buffers = Vec::new();
    let mut refusals = Vec::new();
    {
        let _lowered = LoweredFdLimit::lower_to(limit)?;
        let mut names = names.into_iter();
        for name in names.by_ref() {
            match Reader::create(&name, EXHAUST_CONFIG) {
                Ok(reader) => buffers.push(reader),
                Err(e) => {
                    refusals.push((name, e));
                    break;
                }
            }
        }
        // Still at the limit: the next creation must be refused as well.
        if let (false, Some(name)) = (refusals.is_empty(), names.next()) {
            match Reader::create(&name, EXHAUST_CONFIG) {
                Ok(reader) => buffers.push(reader),
                Err(e) => refusals.push((name, e)),
            }
        }
    }
    tracing::info!(
        limit,
        created = buffers.len(),
        "buffers created under the lowered descriptor limit"
    );
    let state = subject(world)?;
    *state.scratch::<Exhaustion>() = Exhaustion {
        fds_before: fds.len(),
        limit,
        buffers,
        refusals,
        ..Exhaustion::default()
    };
    Ok(())
}

fn exhaustion(world: &mut ZbWorld) -> Result<&mut Exhaustion> {
    let state = subject(world)?;
    let ex = state.scratch::<Exhaustion>();
    ensure!(ex.limit > 0, "no buffers were created up to the limit");
    Ok(ex)
}

#[when(regex = r"^reach system limit$")]
fn reach_system_limit(world: &mut ZbWorld) -> Result<()> {
    let ex = exhaustion(world)?;
    ensure!(
        !ex.buffers.is_empty(),
        "no buffer could be created at all under a limit of {} descriptors",
        ex.limit
    );
    match ex.refusals.as_slice() {
        [] => bail!(
            "{} buffers were created without reaching the limit of {} descriptors",
            ex.buffers.len(),
            ex.limit
        ),
        [_] => bail!("a creation at the limit succeeded after the first refusal"),
        refusals => {
            for (name, e) in refusals {
                ensure!(
                    is_resource_exhaustion(e),
                    "creating '{name}' failed for another reason than the limit: {e}"
                );
            }
        }
    }
    Ok(())
}

#[then(regex = r"^the test should verify graceful failure when limit reached$")]
fn graceful_failure_at_limit(world: &mut ZbWorld) -> Result<()> {
    let ex = exhaustion(world)?;
    ensure!(!ex.refusals.is_empty(), "no creation was refused");
    for (name, e) in &ex.refusals {
        // A typed error that says what failed, and nothing half-created left behind.
        ensure!(
            matches!(e, Error::Os { .. }) && e.to_string().contains(name.as_str()),
            "the refusal of '{name}' does not name what failed: {e}"
        );
        let left = leftovers(name);
        ensure!(
            left.is_empty(),
            "the refused creation of '{name}' left {left:?}"
        );
    }
    // The buffers created before the limit still work.
    for reader in &ex.buffers {
        let info = zerobuffer::inspect(reader.name())?;
        ensure!(
            info.reader_alive && info.oieb.payload_free_bytes == info.oieb.payload_size,
            "buffer '{}' is damaged: {info:?}",
            reader.name()
        );
    }
    let last = ex.buffers.last().context("no buffers")?;
    let mut writer = Writer::connect(last.name())?;
    writer.write_frame(b"still alive")?;
    let frame = last.read_frame(READ_TIMEOUT)?;
    ensure!(
        frame.data() == b"still alive",
        "the frame came back altered"
    );
    Ok(())
}

#[when(regex = r"^cleanup all buffers$")]
fn cleanup_all_buffers(world: &mut ZbWorld) -> Result<()> {
    let ex = exhaustion(world)?;
    ex.released = ex.buffers.iter().map(|r| r.name().to_owned()).collect();
    ex.buffers.clear();
    ex.fds_after_cleanup = open_fds()?.len();
    Ok(())
}

#[then(regex = r"^the test should verify resources properly released$")]
fn resources_properly_released(world: &mut ZbWorld) -> Result<()> {
    let ex = exhaustion(world)?;
    ensure!(
        ex.buffers.is_empty() && !ex.released.is_empty(),
        "the buffers were not cleaned up"
    );
    let mut paths = Vec::new();
    for name in &ex.released {
        let left = leftovers(name);
        ensure!(left.is_empty(), "'{name}' left {left:?}");
        paths.extend(object_paths(name));
    }
    let mapped = mappings_of(&paths)?;
    ensure!(mapped.is_empty(), "still mapped: {mapped:?}");
    check_fds(ex.fds_before, ex.fds_after_cleanup)
}

#[then(regex = r"^the system should return to normal state$")]
fn system_returns_to_normal(world: &mut ZbWorld) -> Result<()> {
    let limit = exhaustion(world)?.limit;
    let current = getrlimit(Resource::Nofile).current;
    ensure!(
        current.is_none_or(|c| c > limit),
        "the descriptor limit is still lowered to {current:?}"
    );
    let name = world.buffer_name("test-exhaust-after");
    round_trip(&name, DEFAULT_CONFIG)
}

// ---- 11.5 Rapid create/destroy while a writer keeps connecting --------------------------------

/// Outcomes of the background connector.
#[derive(Debug, Default)]
struct ConnectorStats {
    attempts: u64,
    connected: u64,
    frames_written: u64,
    /// Expected refusals by kind.
    refusals: BTreeMap<&'static str, u64>,
    unexpected: Vec<String>,
}

impl ConnectorStats {
    fn refused(&mut self, kind: &'static str) {
        *self.refusals.entry(kind).or_default() += 1;
    }

    fn unexpected(&mut self, what: String) {
        if self.unexpected.len() < 10 {
            self.unexpected.push(what);
        }
    }
}

#[derive(Default)]
struct UnderLoad {
    name: Option<String>,
    fds_before: usize,
    config: Option<BufferConfig>,
    cycles: u64,
    leaks: Vec<String>,
    lock_leftovers: Vec<String>,
    fds_after: usize,
    mappings_after: usize,
    stats: Option<ConnectorStats>,
}

const CONNECTOR_JOB: &str = "connector";
const LOAD_BUFFER: &str = "test-rapid-load";

#[given(regex = r"^the test spawns writer attempting connections continuously$")]
fn spawn_connecting_writer(world: &mut ZbWorld) -> Result<()> {
    let name = world.buffer_name(LOAD_BUFFER);
    let state = subject(world)?;
    let load = state.scratch::<UnderLoad>();
    load.name = Some(name.clone());
    load.fds_before = open_fds()?.len();
    state.jobs.spawn(CONNECTOR_JOB, move |stop| {
        let mut stats = ConnectorStats::default();
        while !stop.is_set() {
            stats.attempts += 1;
            match Writer::connect(&name) {
                Ok(mut writer) => {
                    stats.connected += 1;
                    writer.set_write_timeout(Duration::from_millis(100));
                    match writer.write_frame(b"load") {
                        Ok(_) => stats.frames_written += 1,
                        Err(Error::ReaderDead) => stats.refused("reader gone while writing"),
                        Err(e) => stats.unexpected(format!("write: {e}")),
                    }
                }
                Err(Error::BufferNotFound { .. }) => stats.refused("not found"),
                Err(Error::NoReader(_)) => stats.refused("no reader"),
                // A segment caught between creation and initialisation.
                Err(Error::InvalidOieb(_)) => stats.refused("not initialised yet"),
                Err(e) => stats.unexpected(format!("connect: {e}")),
            }
            thread::yield_now();
        }
        Ok(stats)
    })
}

#[when(regex = r"^the test creates and destroys buffer '([^']*)' times$")]
fn creates_and_destroys_times(world: &mut ZbWorld, count: String) -> Result<()> {
    let cycles = scale::count(num(&count)?, MIN_CYCLES)?;
    let default_name = world.buffer_name(LOAD_BUFFER);
    let state = subject(world)?;
    let name = state
        .scratch::<UnderLoad>()
        .name
        .get_or_insert(default_name)
        .clone();
    let mut leaks = Vec::new();
    let mut lock_leftovers = Vec::new();
    for i in 1..=cycles {
        let reader = Reader::create(&name, DEFAULT_CONFIG)
            .with_context(|| format!("cycle {i} of {cycles}: creating '{name}'"))?;
        drop(reader);
        for path in leftovers(&name) {
            let entry = format!("{path} after cycle {i}");
            match path.ends_with(".lock") {
                true => lock_leftovers.push(entry),
                false => leaks.push(entry),
            }
        }
    }
    // The load ends with the cycles; what it saw is judged later.
    let stats = match state.jobs.is_running(CONNECTOR_JOB) {
        true => {
            state.jobs.request_stop(CONNECTOR_JOB)?;
            Some(
                state
                    .jobs
                    .join::<ConnectorStats>(CONNECTOR_JOB, JOIN_TIMEOUT)?,
            )
        }
        false => None,
    };
    let load = state.scratch::<UnderLoad>();
    load.config = Some(DEFAULT_CONFIG);
    load.cycles = cycles;
    load.leaks = leaks;
    load.lock_leftovers = lock_leftovers;
    load.fds_after = open_fds()?.len();
    load.mappings_after = mappings_of(&object_paths(&name))?.len();
    load.stats = stats;
    Ok(())
}

fn under_load(world: &mut ZbWorld) -> Result<&mut UnderLoad> {
    let load = subject(world)?.scratch::<UnderLoad>();
    ensure!(load.cycles > 0, "no create/destroy cycles ran");
    Ok(load)
}

#[then(regex = r"^the test should verify no resource leaks$")]
fn test_verifies_no_leaks(world: &mut ZbWorld) -> Result<()> {
    let load = under_load(world)?;
    ensure!(
        load.leaks.is_empty(),
        "left behind: {}",
        load.leaks.join(", ")
    );
    ensure!(
        load.mappings_after == 0,
        "{} mapping(s) of the buffer remain",
        load.mappings_after
    );
    check_fds(load.fds_before, load.fds_after)
}

#[then(regex = r"^the test should verify lock files cleaned up$")]
fn test_verifies_lock_files(world: &mut ZbWorld) -> Result<()> {
    let load = under_load(world)?;
    let name = load.name.clone().context("no buffer name")?;
    let mut left = load.lock_leftovers.clone();
    left.extend(
        leftovers(&name)
            .into_iter()
            .filter(|p| p.ends_with(".lock")),
    );
    ensure!(left.is_empty(), "lock files left: {}", left.join(", "));
    Ok(())
}

#[then(regex = r"^the system should handle writer connection attempts gracefully$")]
fn handles_connection_attempts(world: &mut ZbWorld) -> Result<()> {
    let load = under_load(world)?;
    let stats = load
        .stats
        .as_ref()
        .context("no writer was attempting connections during the cycles")?;
    tracing::info!(?stats, cycles = load.cycles, "writer connection attempts");
    ensure!(stats.attempts > 0, "the connecting writer made no attempt");
    ensure!(
        stats.unexpected.is_empty(),
        "unexpected outcomes: {}",
        stats.unexpected.join("; ")
    );
    // Once the churn is over, a writer connects to the same name as if nothing happened.
    let name = load.name.clone().context("no buffer name")?;
    let config = load.config.unwrap_or(DEFAULT_CONFIG);
    round_trip(&name, config)
}
