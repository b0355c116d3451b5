//! Creating a buffer and connecting to it: configurations, a second writer refused (1.x),
//! and connecting before any reader exists (4.12).

use std::sync::Arc;

use anyhow::{anyhow, ensure, Result};
use cucumber::{given, then, when};
use parking_lot::Mutex;
use zerobuffer::{BufferConfig, Error, Writer};

use crate::captures::Number;
use crate::drivers::endpoints::{connect_writer, create_buffer, DEFAULT_CONFIG};
use crate::drivers::os::leftovers;
use crate::world::{ProcessState, ZbWorld};

#[given(
    regex = r"^the '(.*)' process creates buffer '(.*)' with metadata size '(.*)' and payload size '(.*)'$"
)]
fn creates_buffer(
    world: &mut ZbWorld,
    process: String,
    buffer: String,
    metadata: Number<usize>,
    payload: Number<usize>,
) -> Result<()> {
    let config = BufferConfig::new(metadata.0, payload.0);
    create_buffer(world, &process, &buffer, config)
}

#[given(regex = r"^the '(.*)' process creates buffer '(.*)' with default config$")]
#[when(regex = r"^the '(.*)' process creates buffer '(.*)' with default config$")]
fn creates_buffer_default(world: &mut ZbWorld, process: String, buffer: String) -> Result<()> {
    create_buffer(world, &process, &buffer, DEFAULT_CONFIG)
}

#[given(regex = r"^the '(.*)' process creates buffer '(.*)' with minimum viable size '(.*)'$")]
fn creates_buffer_minimum(
    world: &mut ZbWorld,
    process: String,
    buffer: String,
    payload: Number<usize>,
) -> Result<()> {
    create_buffer(world, &process, &buffer, BufferConfig::new(0, payload.0))
}

#[given(regex = r"^the '(.*)' process connects to buffer '(.*)'$")]
#[when(regex = r"^the '(.*)' process connects to buffer '(.*)'$")]
fn connects_to_buffer(world: &mut ZbWorld, process: String, buffer: String) -> Result<()> {
    connect_writer(world, &process, &buffer)
}

#[when(regex = r"^a second '(.*)' process attempts to connect to buffer '(.*)'$")]
fn second_writer_attempts(world: &mut ZbWorld, _role: String, buffer: String) -> Result<()> {
    let name = world.buffer_name(&buffer);
    let state = world.current()?;
    state.last_error = Writer::connect(&name).err();
    Ok(())
}

#[then(regex = r"^the connection should fail with writer exists error$")]
fn connection_fails_writer_exists(world: &mut ZbWorld) -> Result<()> {
    let err = world
        .current()?
        .take_error("a writer-already-connected error")?;
    ensure!(
        matches!(err, Error::WriterAlreadyConnected { .. }),
        "expected a writer-already-connected error, got: {err}"
    );
    Ok(())
}

#[when(regex = r"^a '([^']*)' process attempts to connect to non-existent buffer '([^']*)'$")]
fn connects_to_missing_buffer(world: &mut ZbWorld, role: String, buffer: String) -> Result<()> {
    // 4.12 is never generated under Harmony; in-process the attempt runs as the process named.
    let name = world.buffer_name(&buffer);
    let state = world.process(&role);
    state.buffer = Some(name.clone());
    match Writer::connect(&name) {
        Ok(writer) => {
            state.last_error = None;
            state.writer = Some(Arc::new(Mutex::new(Some(writer))));
        }
        Err(e) => state.last_error = Some(e),
    }
    Ok(())
}

fn kept_error(state: &ProcessState) -> Result<&Error> {
    state
        .last_error
        .as_ref()
        .ok_or_else(|| anyhow!("the '{}' process's connection succeeded", state.name))
}

#[then(regex = r"^the connection should fail with appropriate error$")]
fn connection_fails_appropriately(world: &mut ZbWorld) -> Result<()> {
    let err = kept_error(world.current()?)?;
    ensure!(
        matches!(err, Error::BufferNotFound { .. }),
        "expected a buffer-not-found error, got: {err}"
    );
    Ok(())
}

#[then(regex = r"^error should indicate no shared memory found$")]
fn error_says_no_shared_memory(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    let err = kept_error(state)?;
    ensure!(
        matches!(err, Error::BufferNotFound { what, .. } if *what == "shared memory"),
        "expected the error to name the missing shared memory, got: {err}"
    );
    // And the attempt created nothing.
    let left = leftovers(state.buffer()?);
    ensure!(
        left.is_empty(),
        "{} exist(s) after the failed connection",
        left.join(", ")
    );
    Ok(())
}
