//! Group D of steps.md: process lifecycle (feature 02). The survivor notices a killed or
//! crashed peer (2.1, 2.2), and a new reader takes over the buffer of a crashed one (2.3). The
//! kill and crash steps themselves are in `faults::death` (`ZbWorld::crash`).

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Result};
use cucumber::{then, when};
use zerobuffer::testdata::{frame_data, simple_data};
use zerobuffer::{BufferConfig, Error, Reader};

use crate::captures::Number;
use crate::drivers::endpoints::{connect_writer, write_with_timeout};
use crate::drivers::explain::Explain as _;
use crate::drivers::inodes::{inode, Leftovers, LockState};
use crate::state::lifecycle::Replacement;
use crate::world::{ProcessState, ZbWorld, JOIN_TIMEOUT};

/// Read timeout of "should timeout or detect writer death on next read".
const DEATH_READ_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one write of "fills buffer completely" waits before its size counts as not
/// fitting. Nobody reads meanwhile, so waiting longer would not change the outcome.
const FILL_PROBE_TIMEOUT: Duration = Duration::from_millis(50);
const MAX_FILL_FRAMES: usize = 1000;
/// "Detect reader death": up to this many small writes, this far apart.
const DEATH_PROBES: usize = 10;
const DEATH_PROBE_INTERVAL: Duration = Duration::from_millis(100);
/// Time one probe write may wait: well above the writer's 100 ms reader-liveness check.
const DEATH_PROBE_TIMEOUT: Duration = Duration::from_secs(1);
const SMALL_FRAME: usize = 64;

// ---- 2.1, 2.2: the survivor notices ------------------------------------------------------

#[then(regex = r"^the '(.*)' process should timeout or detect writer death on next read$")]
fn timeout_or_writer_death(world: &mut ZbWorld, process: String) -> Result<()> {
    let reader = world.process(&process).reader()?;
    // Keep only what the message needs, so the frame's space goes back at once.
    let outcome = reader
        .read_frame(DEATH_READ_TIMEOUT)
        .map(|frame| (frame.sequence(), frame.len()));
    match outcome {
        Err(Error::WriterDead) => Ok(()),
        Err(Error::Timeout(_)) => {
            tracing::debug!("the read timed out (writer death not reported)");
            Ok(())
        }
        Err(e) => bail!("expected a timeout or writer death, got: {e}"),
        Ok((sequence, len)) => {
            bail!("read frame {sequence} ({len} bytes) although the writer is dead")
        }
    }
}

#[when(regex = r"^the '(.*)' process fills buffer completely$")]
fn fills_buffer_completely(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    // 1 KiB frames until one does not fit, then ever smaller ones down to a single byte, so
    // no write at all can succeed afterwards without the reader freeing space.
    let mut size = 1024;
    let mut frames = 0;
    loop {
        ensure!(
            frames < MAX_FILL_FRAMES,
            "{MAX_FILL_FRAMES} frames fit without the buffer getting full"
        );
        // Seeded with the sequence the frame will carry, so it validates if it is ever read.
        let sequence = state.with_writer(|w| w.frames_written() + 1)?;
        match write_with_timeout(state, &frame_data(size, sequence), FILL_PROBE_TIMEOUT)? {
            Ok(_) => frames += 1,
            Err(Error::BufferFull | Error::FrameTooLarge { .. }) if size > 1 => size /= 2,
            Err(Error::BufferFull | Error::FrameTooLarge { .. }) => break,
            Err(e) => bail!(
                "frame {} ({size} bytes) failed with {e} instead of filling the buffer",
                frames + 1
            ),
        }
    }
    ensure!(frames > 0, "not even a one-byte frame fit into the buffer");
    let free = state.with_writer(|w| w.oieb_snapshot().payload_free_bytes)?;
    tracing::debug!(frames, free, "buffer filled completely");
    Ok(())
}

#[then(regex = r"^the '(.*)' process should detect reader death on next write$")]
fn detects_reader_death_on_write(world: &mut ZbWorld, process: String) -> Result<()> {
    detect_reader_death(world.process(&process))
}

/// Up to ten small writes 100 ms apart; one of them must fail with ReaderDead. (Our writer
/// judges the reader's PID while it waits for space, and at once when the PID is 0.)
fn detect_reader_death(state: &ProcessState) -> Result<()> {
    let mut outcomes = Vec::new();
    for attempt in 1..=DEATH_PROBES {
        match write_with_timeout(state, &simple_data(SMALL_FRAME), DEATH_PROBE_TIMEOUT)? {
            Err(Error::ReaderDead) => return Ok(()),
            Ok(sequence) => outcomes.push(format!("frame {sequence} was written")),
            Err(Error::BufferFull) => outcomes.push("a write timed out".to_owned()),
            Err(e) => bail!("write {attempt} failed with {e} instead of reporting the reader dead"),
        }
        thread::sleep(DEATH_PROBE_INTERVAL);
    }
    bail!(
        "{DEATH_PROBES} writes did not detect the reader's death: {}",
        outcomes.join(", ")
    )
}

// ---- 2.3: a new reader replaces a crashed one ---------------------------------------------

/// The name and findings of the replacement; fails if the new reader could not create it.
fn replacement(state: &mut ProcessState) -> Result<(String, &Leftovers)> {
    let error = state.last_error.as_ref().map(ToString::to_string);
    let scratch = &mut state.lifecycle.replacement;
    let (Some(buffer), Some(found)) = (scratch.buffer.clone(), scratch.found.as_ref()) else {
        bail!("no new reader attempted to create the buffer");
    };
    if let Some(e) = error {
        bail!("the new reader could not create buffer '{buffer}': {e}");
    }
    Ok((buffer, found))
}

#[when(
    regex = r"^a new '([^']*)' process attempts to create buffer '([^']*)' with metadata size '([^']*)' and payload size '([^']*)'$"
)]
fn new_reader_creates_buffer(
    world: &mut ZbWorld,
    _role: String,
    buffer: String,
    metadata: Number<usize>,
    payload: Number<usize>,
) -> Result<()> {
    let config = BufferConfig::new(metadata.0, payload.0);
    let name = world.buffer_name(&buffer);
    // Harmony sends "a new 'x' process ..." to the process named last (steps.md §0.2).
    let state = world.current()?;
    // Look first: once the buffer is created, nothing of the old owner is left to see.
    let found = Leftovers::find(&name)?;
    tracing::debug!(buffer = %name, ?found, "before re-creating");
    state.lifecycle.replacement = Replacement {
        buffer: Some(name.clone()),
        found: Some(found),
    };
    state.last_error = None;
    match Reader::create(&name, config) {
        Ok(reader) => {
            state.reader = Some(Arc::new(reader));
            state.buffer = Some(name);
        }
        Err(e) => state.last_error = Some(e),
    }
    Ok(())
}

#[then(regex = r"^the new reader should detect stale resources$")]
fn detects_stale_resources(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    let scratch = &mut state.lifecycle.replacement;
    let found = scratch
        .found
        .as_ref()
        .context("no new reader attempted to create the buffer")?;
    let mut missing = Vec::new();
    match found.segment {
        None => missing.push("no segment was left".to_owned()),
        Some((_, 0)) => missing.push("the segment names no reader".to_owned()),
        Some((_, pid)) if zerobuffer::is_process_alive(pid) => {
            missing.push(format!("the segment's reader {pid} is alive"))
        }
        Some(_) => {}
    }
    if found.semaphores.len() != 2 {
        missing.push(format!(
            "{} of 2 semaphores were left",
            found.semaphores.len()
        ));
    }
    if found.lock != LockState::Abandoned {
        missing.push(format!("the lock file was {:?}", found.lock));
    }
    ensure!(
        missing.is_empty(),
        "the buffer's names did not hold a dead reader's resources: {}",
        missing.join("; ")
    );
    Ok(())
}

#[then(regex = r"^the new reader should clean up stale resources$")]
fn cleans_up_stale_resources(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    let (name, old) = replacement(state)?;
    let now = Leftovers::find(&name)?;
    let (old_ino, dead_pid) = old.segment.context("no segment was left to clean up")?;
    let (ino, pid) = now
        .segment
        .context("no segment exists after the re-creation")?;
    ensure!(
        ino != old_ino,
        "the dead reader's segment is still in place"
    );
    ensure!(
        pid != dead_pid,
        "the segment still names the dead reader {dead_pid}"
    );
    for (path, old_ino) in &old.semaphores {
        let ino = inode(path)?.with_context(|| format!("{} is missing", path.display()))?;
        ensure!(
            ino != *old_ino,
            "{} is still the dead reader's semaphore",
            path.display()
        );
    }
    ensure!(
        now.lock == LockState::Held,
        "the lock file is {:?}, not held by the new reader",
        now.lock
    );
    Ok(())
}

#[then(regex = r"^the new reader should create fresh buffer successfully$")]
fn creates_fresh_buffer(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    let (name, _) = replacement(state)?;
    let reader = state.reader()?;
    let info = zerobuffer::inspect(&name)?;
    let oieb = info.oieb;
    ensure!(
        oieb == reader.oieb_snapshot(),
        "the buffer's name does not lead to the new reader's segment"
    );
    ensure!(
        oieb.oieb_size == 128 && oieb.version[0] == 1,
        "invalid OIEB: size {}, version {:?}",
        oieb.oieb_size,
        oieb.version
    );
    ensure!(
        oieb.reader_pid == zerobuffer::current_pid() && info.reader_alive,
        "reader_pid is {}, expected this process ({})",
        oieb.reader_pid,
        zerobuffer::current_pid()
    );
    let config = reader.config();
    ensure!(
        oieb.payload_size == config.payload_block()
            && oieb.metadata_size == config.metadata_block(),
        "sizes {}/{} differ from the requested {}/{}",
        oieb.metadata_size,
        oieb.payload_size,
        config.metadata_block(),
        config.payload_block()
    );
    ensure!(
        oieb.payload_free_bytes == oieb.payload_size,
        "only {} of {} payload bytes are free",
        oieb.payload_free_bytes,
        oieb.payload_size
    );
    let untouched = [
        oieb.payload_write_pos,
        oieb.payload_read_pos,
        oieb.payload_written_count,
        oieb.payload_read_count,
        oieb.metadata_written_bytes,
        oieb.writer_pid,
    ];
    ensure!(
        untouched.iter().all(|&v| v == 0),
        "positions, counts, metadata or writer of the fresh buffer are not zero: {oieb:?}"
    );
    Ok(())
}

#[when(regex = r"^the '([^']*)' process detects reader death and reconnects to buffer '([^']*)'$")]
fn reconnects_after_reader_death(
    world: &mut ZbWorld,
    process: String,
    buffer: String,
) -> Result<()> {
    let state = world.process(&process);
    detect_reader_death(state).map_err(|e| anyhow!("before reconnecting: {e}"))?;
    // Leave the old segment (gracefully: our PID there goes back to 0), then attach anew.
    if let Some(old) = state.writer.take() {
        old.try_lock_for(JOIN_TIMEOUT)
            .ok_or_else(|| anyhow!("the '{process}' writer stayed busy in a background job"))?
            .take();
    }
    connect_writer(world, &process, &buffer)
}
