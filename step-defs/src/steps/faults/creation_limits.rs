//! 7.2: creations refused for lack of resources leave nothing behind.

use std::io;

use anyhow::{ensure, Result};
use cucumber::{given, then, when};

use crate::drivers::explain::Explain as _;
use crate::drivers::faults::{attempt_under_limit, current_attempt, exhaustion_code};
use crate::drivers::os::DescriptorLimit;
use crate::drivers::roles::broadcast_subject;
use crate::world::ZbWorld;

// ---- 7.2 System resource exhaustion ----------------------------------------------------------

#[given(regex = r"^create maximum allowed shared memory segments$")]
fn exhaust_segments(world: &mut ZbWorld) -> Result<()> {
    // A buffer keeps its lock file open while it creates its segment: with one descriptor
    // left, no further segment can be created by this process.
    let limit = DescriptorLimit::lower(1)?;
    let spare = DescriptorLimit::spare_descriptors()?;
    ensure!(
        spare == 1,
        "{spare} descriptors can still be opened, expected exactly 1"
    );
    broadcast_subject(world).faults.creation.limit = Some(limit);
    Ok(())
}

#[when(regex = r"^attempt to create one more buffer '([^']*)'$")]
fn attempt_one_more_buffer(world: &mut ZbWorld, buffer: String) -> Result<()> {
    attempt_under_limit(world, &buffer)
}

#[then(regex = r"^the creation should fail with system error$")]
fn failed_with_system_error(world: &mut ZbWorld) -> Result<()> {
    let err = current_attempt(world)?.error()?;
    ensure!(
        exhaustion_code(err).is_some(),
        "expected a system error for an exhausted resource (EMFILE, ENFILE, ENOSPC, ENOMEM), got: {err}"
    );
    Ok(())
}

#[then(regex = r"^an appropriate error message should be returned$")]
fn appropriate_error_message(world: &mut ZbWorld) -> Result<()> {
    let attempt = current_attempt(world)?;
    let err = attempt.error()?;
    let message = err.to_string();
    let code = exhaustion_code(err).context("the error is not a resource-exhaustion error")?;
    let reason = io::Error::from_raw_os_error(code).to_string();
    ensure!(
        message.contains(&attempt.name),
        "the message does not name the buffer: {message}"
    );
    ensure!(
        ["shared memory", "semaphore", "lock file"]
            .iter()
            .any(|what| message.contains(what)),
        "the message does not say which object failed: {message}"
    );
    ensure!(
        message.contains(&reason),
        "the message does not give the system's reason ({reason}): {message}"
    );
    Ok(())
}
