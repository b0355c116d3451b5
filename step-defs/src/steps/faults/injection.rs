//! Injected failures at creation: sem-w fails (10.1) or no semaphore can be created (10.5);
//! the creation fails with a typed error and leaves nothing behind. 10.1's "the test creates
//! shared memory successfully for '…'" arranges the creation exactly like 7.1's and is bound
//! once, in `partial_init`.

use anyhow::{bail, ensure, Result};
use cucumber::{given, then, when};
use zerobuffer::{Error, NamedSemaphore};

use crate::drivers::explain::Explain as _;
use crate::drivers::faults::{
    attempt_of, attempt_under_limit, ensure_blocked_semaphore_failure, run_with_semaphore_failure,
};
use crate::drivers::os::{
    ensure_nothing_left, leftovers, object_paths, process_references, DescriptorLimit,
};
use crate::drivers::roles::broadcast_subject;
use crate::world::ZbWorld;

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
