//! 7.1: a creation that fails part-way leaves nothing behind.

use anyhow::Result;
use cucumber::{given, then};

use crate::drivers::endpoints::DEFAULT_CONFIG;
use crate::drivers::explain::Explain as _;
use crate::drivers::faults::{
    current_attempt, ensure_blocked_semaphore_failure, run_with_semaphore_failure,
};
use crate::drivers::os::ensure_nothing_left;
use crate::drivers::roles::broadcast_subject;
use crate::state::faults::Attempt;
use crate::world::ZbWorld;

// ---- 7.1 Partial initialization failure ------------------------------------------------------

/// Arranges a creation and watches /dev/shm; the next step runs it (7.1, and 10.1's "creates
/// shared memory successfully", whose later steps check the segment was created before sem-w
/// failed).
#[given(regex = r"^attempt to create buffer '([^']*)' with default config$")]
#[given(regex = r"^the test creates shared memory successfully for '([^']*)'$")]
fn arrange_creation(world: &mut ZbWorld, buffer: String) -> Result<()> {
    let name = world.buffer_name(&buffer);
    let attempt = Attempt::arrange(name, DEFAULT_CONFIG, true)?;
    broadcast_subject(world).faults.creation.attempt = Some(attempt);
    Ok(())
}

#[given(regex = r"^the test simulates semaphore creation failure$")]
fn simulates_semaphore_failure(world: &mut ZbWorld) -> Result<()> {
    let attempt =
        current_attempt(world).context("'attempt to create buffer ...' must come first")?;
    run_with_semaphore_failure(attempt)
}

#[then(regex = r"^the buffer creation should fail$")]
fn creation_failed(world: &mut ZbWorld) -> Result<()> {
    let attempt = current_attempt(world)?;
    ensure_blocked_semaphore_failure(attempt.error()?)
}

#[then(regex = r"^the shared memory should be cleaned up$")]
fn shared_memory_cleaned_up(world: &mut ZbWorld) -> Result<()> {
    let attempt = current_attempt(world)?;
    attempt.ensure_segment_removed()
}

#[then(regex = r"^no resources should be leaked$")]
fn no_resources_leaked(world: &mut ZbWorld) -> Result<()> {
    let attempt = current_attempt(world)?;
    attempt.error()?;
    ensure_nothing_left(&attempt.name)
}
