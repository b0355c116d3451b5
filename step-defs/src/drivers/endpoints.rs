//! A process's endpoints: creating, connecting, writing and reading with the suite's timeouts, and
//! the errors explained from the ring's state.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Result};
use parking_lot::Mutex;
use zerobuffer::testdata::frame_data;
use zerobuffer::{BufferConfig, Error, OiebSnapshot, Reader, Writer};

use crate::drivers::access;
use crate::drivers::explain::Explain as _;
use crate::drivers::jobs::StopFlag;
use crate::drivers::os::{leftovers, missing_objects};
use crate::drivers::poll::{retry_until, WAIT_SLICE};
use crate::world::{ProcessState, ReceivedFrame, ZbWorld, READ_TIMEOUT, WRITE_TIMEOUT};

/// The configuration of "with default config": the C# reference's 1 KiB metadata, 10 KiB ring.
pub(crate) const DEFAULT_CONFIG: BufferConfig = BufferConfig::new(1024, 10240);

/// `error`'s message with the one below it: an error that wraps another with a label only
/// ("row 2 (…)", "background job 'x'") shows its cause too. (The step errors below it carry
/// their own causes in their messages, see [`crate::drivers::explain`].)
pub(crate) fn with_cause(error: anyhow::Error) -> anyhow::Error {
    match error.chain().nth(1) {
        Some(cause) => anyhow!("{error}: {cause}"),
        None => error,
    }
}

/// Creates buffer `base` as `process`'s reader.
pub(crate) fn create_buffer(
    world: &mut ZbWorld,
    process: &str,
    base: &str,
    config: BufferConfig,
) -> Result<()> {
    let name = world.buffer_name(base);
    let reader =
        Reader::create(&name, config).with_context(|| format!("creating buffer '{name}'"))?;
    let state = world.process(process);
    let reader = Arc::new(reader);
    // Measurements routed to the writer get the reader to consume through this job.
    crate::drivers::drain::start_standby(state, &reader, &name)?;
    state.reader = Some(reader);
    state.buffer = Some(name);
    Ok(())
}

/// Connects `process` as writer of buffer `base`.
pub(crate) fn connect_writer(world: &mut ZbWorld, process: &str, base: &str) -> Result<()> {
    let name = world.buffer_name(base);
    connect_writer_named(world, process, name)
}

/// Connects `process`'s writer to the buffer whose real (already mangled) name is `name`.
pub(crate) fn connect_writer_named(world: &mut ZbWorld, process: &str, name: String) -> Result<()> {
    let mut writer =
        Writer::connect(&name).with_context(|| format!("connecting to buffer '{name}'"))?;
    writer.set_write_timeout(WRITE_TIMEOUT);
    let state = world.process(process);
    state.writer = Some(Arc::new(Mutex::new(Some(writer))));
    state.buffer = Some(name);
    Ok(())
}

/// Writes one frame with the process's writer; returns its sequence number. The OIEB around
/// the write is kept ([`access::last`]); a frame that can never fit says why.
pub(crate) fn write(state: &mut ProcessState, data: &[u8]) -> Result<u64> {
    let len = data.len() as u64;
    let (before, result, after) = state.with_writer(|w| {
        let before = w.oieb_snapshot();
        let result = w.write_frame(data);
        (before, result, w.oieb_snapshot())
    })?;
    match result {
        Ok(sequence) => {
            access::record_write(state, len, before, after);
            Ok(sequence)
        }
        Err(e) => Err(access::explain_write(e, len, &before)),
    }
}

/// Writes one frame with a write timeout other than the default.
pub(crate) fn write_with_timeout(
    state: &ProcessState,
    data: &[u8],
    timeout: Duration,
) -> Result<Result<u64, Error>> {
    state.with_writer(|w| {
        let previous = w.write_timeout();
        w.set_write_timeout(timeout);
        let result = w.write_frame(data);
        w.set_write_timeout(previous);
        result
    })
}

/// Writes `data`, waiting for space in slices of [`WAIT_SLICE`] so a stop request is noticed
/// between them, for the writer's own write timeout in all: `Ok(Some(sequence))` once written,
/// `Ok(None)` when `stop` was set while the ring was full, `Err(BufferFull)` when no room came
/// in time (as from a plain write), any other error at once. `on_try` is called before every
/// slice's write. The writer's write timeout is restored afterwards.
pub(crate) fn write_when_space(
    w: &mut Writer,
    data: &[u8],
    stop: &StopFlag,
    mut on_try: impl FnMut(),
) -> Result<Option<u64>, Error> {
    let timeout = w.write_timeout();
    w.set_write_timeout(WAIT_SLICE);
    let outcome = retry_until(timeout, || {
        on_try();
        match w.write_frame(data) {
            Ok(sequence) => Ok(Some(Some(sequence))),
            Err(Error::BufferFull) if stop.is_set() => Ok(Some(None)),
            Err(Error::BufferFull) => Ok(None),
            Err(e) => Err(e),
        }
    });
    w.set_write_timeout(timeout);
    outcome?.ok_or(Error::BufferFull)
}

/// Reads the next frame of `state`'s reader, copies it and releases its space at once.
pub(crate) fn read_next(state: &mut ProcessState, timeout: Duration) -> Result<ReceivedFrame> {
    let reader = state.reader()?;
    let before = reader.oieb_snapshot();
    let frame = reader
        .read_frame(timeout)
        .with_context(|| format!("the '{}' process reading a frame", state.name))?;
    let after = reader.oieb_snapshot();
    let received = ReceivedFrame {
        sequence: frame.sequence(),
        data: frame.to_vec(),
    };
    drop(frame);
    let len = received.data.len() as u64;
    access::record_read(state, len, before, after, reader.oieb_snapshot());
    state.last_frame = Some(received.clone());
    Ok(received)
}

pub(crate) fn last_frame(state: &ProcessState) -> Result<&ReceivedFrame> {
    state
        .last_frame
        .as_ref()
        .ok_or_else(|| anyhow!("the '{}' process has not read a frame", state.name))
}

/// The OIEB of the buffer `state` works on, read from shared memory (no writer lock needed).
pub(crate) fn oieb(state: &ProcessState) -> Result<OiebSnapshot> {
    Ok(zerobuffer::inspect(state.buffer()?)?.oieb)
}

/// Creates, uses and closes buffer `name` once: a frame crosses and everything is removed.
pub(crate) fn round_trip(name: &str, config: BufferConfig) -> Result<()> {
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

/// Checks that `name` works end to end: created as the objects protocol.md §0 names, a frame
/// goes through, and closing removes every object.
pub(crate) fn name_round_trip(name: &str) -> Result<()> {
    let reader = Reader::create(name, DEFAULT_CONFIG).context("creating")?;
    let missing = missing_objects(name);
    ensure!(missing.is_empty(), "missing: {}", missing.join(", "));
    let mut writer = Writer::connect(name).context("connecting")?;
    let data = name.as_bytes();
    writer.write_frame(data).context("writing")?;
    let frame = reader
        .read_frame(Duration::from_secs(5))
        .context("reading")?;
    ensure!(&*frame == data, "the frame came back altered");
    drop(frame);
    drop(writer);
    drop(reader);
    let left = leftovers(name);
    ensure!(left.is_empty(), "left after closing: {}", left.join(", "));
    Ok(())
}

/// The name is refused as invalid before any object is created.
pub(crate) fn refused_as_invalid(name: &str) -> Result<()> {
    match Reader::create(name, DEFAULT_CONFIG) {
        Err(Error::InvalidName { .. }) => {}
        Err(e) => bail!("refused with {e} instead of an invalid-name error"),
        Ok(_) => bail!("accepted"),
    }
    // Only names that could be file names can have left objects behind.
    let file_name = !matches!(name, "" | "." | "..") && !name.contains(['\0', '/']);
    if file_name {
        let left = leftovers(name);
        ensure!(left.is_empty(), "created anyway: {}", left.join(", "));
    }
    Ok(())
}
