//! Which process a step acts on when its text names none.

use anyhow::{bail, ensure, Result};

use crate::world::{ProcessState, ZbWorld};

/// The process that acts for a step naming none when no earlier step named one: the
/// broadcast steps of scenarios without roles (11.4, 11.5, 12.4, 14.3–14.5, 11.1's first
/// step). Their texts speak of "the test", hence the name.
pub(crate) const TEST_PROCESS: &str = "test";

/// The process a subject-less step acts on: the last one named (Harmony's inheritance), or
/// [`TEST_PROCESS`] before any was named.
pub(crate) fn test_subject(world: &mut ZbWorld) -> Result<&mut ProcessState> {
    if world.current().is_err() {
        world.process(TEST_PROCESS);
    }
    world.current()
}

/// The pseudo-process holding the state of steps that come before any process is named (7.1,
/// 7.2, 8.4, 10.1 and 10.5 start that way). Harmony broadcasts such steps to every role, so in
/// a serve they run in the very process whose named steps follow.
pub(crate) const BROADCAST: &str = "all";

/// The process a subject-less step acts on: the last one named, else [`BROADCAST`].
pub(crate) fn broadcast_subject(world: &mut ZbWorld) -> &mut ProcessState {
    if world.current().is_err() {
        return world.process(BROADCAST);
    }
    world.current().expect("a process was named")
}

/// The part `T` of `process`'s state that `part` selects, if `holds` says it has what the
/// step needs, else the same part of the state kept by broadcast steps (see [`BROADCAST`]).
pub(crate) fn kept_part<'w, T>(
    world: &'w mut ZbWorld,
    process: &str,
    part: impl Fn(&mut ProcessState) -> &mut T,
    holds: impl Fn(&mut T) -> bool,
) -> Result<&'w mut T> {
    if holds(part(world.process(process))) {
        return Ok(part(world.process(process)));
    }
    let shared = match world.existing(BROADCAST) {
        Ok(state) => part(state),
        Err(_) => bail!("no earlier step of the '{process}' process prepared this check"),
    };
    ensure!(
        holds(shared),
        "no earlier step of the '{process}' process prepared this check"
    );
    Ok(shared)
}

/// [`kept_part`] for subject-less steps.
pub(crate) fn current_kept<T>(
    world: &mut ZbWorld,
    part: impl Fn(&mut ProcessState) -> &mut T,
    holds: impl Fn(&mut T) -> bool,
) -> Result<&mut T> {
    let name = broadcast_subject(world).name.clone();
    kept_part(world, &name, part, holds)
}
