//! Group L of steps.md (feature 10, advanced error handling): a creation that fails at sem-w,
//! header corruptions and the reader's reaction to each (10.2, in [`headers`]), peer death
//! during a write and during a blocked read, semaphore exhaustion, and permissions between OS
//! users.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Result};
use cucumber::{given, then, when};
use zerobuffer::testdata::{fill_frame_data, frame_data};
use zerobuffer::{Error, NamedSemaphore, Writer};

use crate::captures::{Number, Seconds};
use crate::drivers::endpoints::{create_buffer, write_with_timeout, DEFAULT_CONFIG};
use crate::drivers::explain::Explain as _;
use crate::drivers::faults::{
    attempt_of, attempt_under_limit, ensure_blocked_semaphore_failure, run_with_semaphore_failure,
};
use crate::drivers::os::{
    ensure_nothing_left, leftovers, object_paths, process_references, DescriptorLimit,
};
use crate::drivers::pending::PendingWrite;
use crate::drivers::roles::broadcast_subject;
use crate::world::{ZbWorld, READ_TIMEOUT, WRITE_TIMEOUT};

mod headers;

// ---- 10.1 Partial initialization failures ----------------------------------------------------

// "the test creates shared memory successfully for '…'" arranges the creation exactly like
// 7.1's "attempt to create buffer '…' with default config" (bound together in resources.rs).

#[when(regex = r"^simulate failure creating sem-w semaphore$")]
fn simulate_sem_w_failure(world: &mut ZbWorld) -> Result<()> {
    let name = broadcast_subject(world).name.clone();
    let attempt = attempt_of(world, &name)
        .context("'the test creates shared memory successfully for ...' must come first")?;
    run_with_semaphore_failure(attempt)?;
    ensure!(
        attempt.watch()?.was_created(&attempt.name),
        "the segment /dev/shm/{} was never created, so sem-w did not fail after it",
        attempt.name
    );
    Ok(())
}

#[then(regex = r"^the '([^']*)' process should clean up shared memory$")]
fn cleans_up_shared_memory(world: &mut ZbWorld, process: String) -> Result<()> {
    let attempt = attempt_of(world, &process)?;
    attempt.error()?;
    attempt.ensure_segment_removed()
}

#[then(regex = r"^the '([^']*)' process should throw appropriate exception$")]
fn throws_appropriate_exception(world: &mut ZbWorld, process: String) -> Result<()> {
    let attempt = attempt_of(world, &process)?;
    let err = attempt.error()?;
    ensure_blocked_semaphore_failure(err)?;
    ensure!(
        err.to_string().contains(&attempt.name),
        "the error does not name the buffer: {err}"
    );
    Ok(())
}

#[then(regex = r"^the test should verify no resources leaked$")]
fn verify_no_resources_leaked(world: &mut ZbWorld) -> Result<()> {
    let name = broadcast_subject(world).name.clone();
    let attempt = attempt_of(world, &name)?;
    attempt.error()?;
    // Whatever the attempt created in /dev/shm (the segment and the semaphores, the first three
    // objects; the library also creates sem-r before it reports sem-w's failure) was removed
    // again.
    let watch = attempt.watch()?;
    for path in &object_paths(&attempt.name)[..3] {
        let file = path.file_name().unwrap_or_default().to_string_lossy();
        if watch.was_created(&file) {
            watch.created_then_removed(&file)?;
        }
    }
    ensure_nothing_left(&attempt.name)
}

// ---- 10.3 Reader death during active write ---------------------------------------------------

#[when(regex = r"^the '([^']*)' process starts writing large frame '([^']*)' bytes$")]
fn starts_writing_large_frame(
    world: &mut ZbWorld,
    process: String,
    size: Number<usize>,
) -> Result<()> {
    let size = size.0;
    let state = world.process(&process);
    // Reserved and filled in place, not yet committed: the write is in progress.
    let pending = PendingWrite::start(state.writer()?, size, fill_frame_data)?;
    state.faults.active_write.pending = Some(pending);
    Ok(())
}

#[when(regex = r"^the '([^']*)' process detects reader death on next operation$")]
fn detects_reader_death_next(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    // The write in progress completes first: a commit does not look at the reader.
    let size = match state.faults.active_write.pending.take() {
        Some(pending) => {
            let size = pending.len;
            pending
                .commit()
                .context("completing the write in progress")?;
            size
        }
        None => 1024,
    };
    // The next write of the same size needs space only the dead reader could free.
    match write_with_timeout(state, &frame_data(size, 0), WRITE_TIMEOUT)? {
        Err(e @ Error::ReaderDead) => {
            state.last_error = Some(e);
            Ok(())
        }
        Err(e) => bail!("expected reader death, the next write failed with: {e}"),
        Ok(seq) => bail!("the next write succeeded (frame {seq}) although the reader is dead"),
    }
}

// ---- 10.4 Writer death during read -----------------------------------------------------------

/// The blocked read: its result and how long it waited.
type BlockedRead = (Result<u64, Error>, Duration);

#[when(regex = r"^the '([^']*)' process waits on semaphore for data$")]
fn waits_on_semaphore(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let reader = state.reader()?;
    ensure!(
        reader.pending_frames()? == 0,
        "data is already waiting: the read would not block"
    );
    state.jobs.spawn("wait-for-data", move |_stop| {
        let started = Instant::now();
        let result = reader.read_frame(READ_TIMEOUT).map(|f| f.sequence());
        Ok::<BlockedRead, anyhow::Error>((result, started.elapsed()))
    })
}

#[then(
    regex = r"^the '([^']*)' process should detect writer death after timeout '([^']*)' seconds$"
)]
fn detects_writer_death_after(
    world: &mut ZbWorld,
    process: String,
    seconds: Seconds,
) -> Result<()> {
    let limit = seconds.0;
    let state = world.process(&process);
    // A little margin for scheduling on a busy machine.
    let (result, waited): BlockedRead = state
        .jobs
        .join("wait-for-data", limit + Duration::from_secs(2))
        .with_context(|| format!("the blocked read did not end within {limit:?}"))?;
    match result {
        Ok(seq) => bail!("the blocked read returned frame {seq} instead of detecting death"),
        Err(Error::Timeout(_)) => {
            bail!("the blocked read timed out after {waited:?} without detecting writer death")
        }
        Err(e) => {
            ensure!(
                waited <= limit + Duration::from_secs(1),
                "the death was detected only after {waited:?}"
            );
            state.last_error = Some(e);
        }
    }
    Ok(())
}

#[then(regex = r"^the '([^']*)' process should throw writer dead exception$")]
fn throws_writer_dead(world: &mut ZbWorld, process: String) -> Result<()> {
    let err = world.process(&process).take_error("a writer-dead error")?;
    ensure!(
        matches!(err, Error::WriterDead),
        "expected a writer-dead error, got: {err}"
    );
    Ok(())
}

// ---- 10.5 System resource exhaustion ---------------------------------------------------------

#[given(regex = r"^create maximum allowed semaphores$")]
fn exhaust_semaphores(world: &mut ZbWorld) -> Result<()> {
    // POSIX semaphores have no count limit of their own on Linux; opening or creating one needs
    // a descriptor. With none left this process can create no more semaphores (nor any other
    // object). The host's shared limits are never touched.
    let limit = DescriptorLimit::lower(0)?;
    let probe = format!("/sem-probe-{}", std::process::id());
    match NamedSemaphore::create(&probe) {
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::MFILE.raw_os_error()) => {}
        Err(e) => bail!("the probe semaphore failed with {e}, not EMFILE"),
        Ok(_) => {
            let _ = NamedSemaphore::unlink(&probe);
            bail!("a semaphore can still be created");
        }
    }
    broadcast_subject(world).faults.creation.limit = Some(limit);
    Ok(())
}

#[when(regex = r"^attempt to create buffer '([^']*)'$")]
fn attempt_to_create_buffer(world: &mut ZbWorld, buffer: String) -> Result<()> {
    attempt_under_limit(world, &buffer)
}

#[then(regex = r"^appropriate error handling should occur$")]
fn appropriate_error_handling(world: &mut ZbWorld) -> Result<()> {
    let name = broadcast_subject(world).name.clone();
    let attempt = attempt_of(world, &name)?;
    let err = attempt.error()?;
    ensure!(
        matches!(err, Error::Os { source, .. } if source.raw_os_error().is_some()),
        "expected an OS error with its error code, got: {err}"
    );
    // Handled: the failed creation keeps no descriptor or mapping open.
    let held = process_references(&attempt.name)?;
    ensure!(held.is_empty(), "still held: {}", held.join(", "));
    Ok(())
}

#[then(regex = r"^partial resources should be cleaned up$")]
fn partial_resources_cleaned_up(world: &mut ZbWorld) -> Result<()> {
    let name = broadcast_subject(world).name.clone();
    let attempt = attempt_of(world, &name)?;
    attempt.error()?;
    let left = leftovers(&attempt.name);
    ensure!(left.is_empty(), "left behind: {}", left.join(", "));
    Ok(())
}

// ---- 10.6 Permission errors ------------------------------------------------------------------

/// The name of the user this process runs as (effective UID, from /etc/passwd).
fn effective_user() -> Result<(u32, String)> {
    let uid = rustix::process::geteuid().as_raw();
    let passwd = fs::read_to_string("/etc/passwd").context("reading /etc/passwd")?;
    let name = passwd
        .lines()
        .find_map(|l| {
            let mut f = l.split(':');
            let (name, _, id) = (f.next()?, f.next()?, f.next()?);
            (id.parse::<u32>().ok()? == uid).then(|| name.to_owned())
        })
        .unwrap_or_else(|| format!("#{uid}"));
    Ok((uid, name))
}

/// Passes only if this process already runs as `user`: switching users would need privileges
/// and would change every thread of the process.
fn runs_as(user: &str) -> Result<()> {
    let (uid, name) = effective_user()?;
    ensure!(
        name == user,
        "this process must run as OS user '{user}', it runs as '{name}' (uid {uid}) and \
         cannot switch users"
    );
    Ok(())
}

#[given(regex = r"^the reader is '([^']*)'$")]
fn the_reader_is(world: &mut ZbWorld, user: String) -> Result<()> {
    world.process("reader");
    runs_as(&user)
}

/// Owner-only access for every object of the buffer.
const RESTRICTIVE_MODE: u32 = 0o600;

#[given(regex = r"^the '([^']*)' process creates buffer '([^']*)' with restrictive permissions$")]
fn creates_restrictive_buffer(world: &mut ZbWorld, process: String, buffer: String) -> Result<()> {
    create_buffer(world, &process, &buffer, DEFAULT_CONFIG)?;
    let name = world.process(&process).buffer()?.to_owned();
    // The library creates with 0666 less the umask; tighten every object right away.
    for path in object_paths(&name) {
        fs::set_permissions(&path, fs::Permissions::from_mode(RESTRICTIVE_MODE))
            .with_context(|| format!("chmod {}", path.display()))?;
        let mode = fs::metadata(&path)?.permissions().mode() & 0o777;
        ensure!(
            mode == RESTRICTIVE_MODE,
            "{} has mode {mode:o}",
            path.display()
        );
    }
    Ok(())
}

#[when(regex = r"^the writer is '([^']*)'$")]
fn the_writer_is(world: &mut ZbWorld, user: String) -> Result<()> {
    world.process("writer");
    runs_as(&user)
}

#[when(regex = r"^another writer attempts to connect without permissions$")]
fn connects_without_permissions(world: &mut ZbWorld) -> Result<()> {
    let own = world.current()?.buffer.clone();
    // The text names no buffer: this process's, else the one buffer of the scenario (local run).
    let name = match own {
        Some(name) => name,
        None => {
            let mut buffers: Vec<String> = world
                .processes()
                .filter_map(|p| p.reader.as_ref().map(|r| r.name().to_owned()))
                .collect();
            buffers.dedup();
            match buffers.as_slice() {
                [one] => one.clone(),
                _ => bail!("the step names no buffer and this process knows none"),
            }
        }
    };
    let state = world.current()?;
    match Writer::connect(&name) {
        Err(e) => state.last_error = Some(e),
        Ok(writer) => {
            drop(writer);
            let (uid, user) = effective_user()?;
            bail!(
                "the writer connected to '{name}': this process (user '{user}', uid {uid}) \
                 has access to the owner-only objects"
            );
        }
    }
    Ok(())
}

#[then(regex = r"^permission denied error should be handled$")]
fn permission_denied_handled(world: &mut ZbWorld) -> Result<()> {
    let err = world.current()?.take_error("a permission-denied error")?;
    ensure!(
        matches!(&err, Error::Os { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied),
        "expected permission denied, got: {err}"
    );
    Ok(())
}
