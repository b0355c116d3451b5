//! Groups A–C of steps.md: harness and background steps, crash steps, buffer creation and
//! connection, and the core frame write/read/validate steps of feature 01. The streaming steps
//! of 1.6 and 1.7 are in [`stream`]; what each write and read did to the OIEB in [`access`].

use std::thread;
use std::time::Duration;

use anyhow::{bail, ensure, Result};
use cucumber::{given, then, when};
use zerobuffer::testdata::{frame_data, is_simple_data, simple_data};
use zerobuffer::{BufferConfig, Error, Writer};

use crate::captures::{num, Number, Seconds};
use crate::drivers::endpoints::{
    connect_writer, create_buffer, last_frame, read_next, write, write_with_timeout, DEFAULT_CONFIG,
};
use crate::drivers::explain::Explain as _;
use crate::drivers::patterns::{check_consecutive, check_seeded};
use crate::drivers::pending::PendingWrite;
use crate::world::{ZbWorld, READ_TIMEOUT};

mod stream;

/// Write timeout of the steps that fill a buffer until a write times out.
const FULL_PROBE_TIMEOUT: Duration = Duration::from_millis(500);

// ---- A. Harness and background -------------------------------------------------------------

#[given(regex = r"^the test environment is initialized$")]
fn environment_initialized(world: &mut ZbWorld) -> Result<()> {
    // Start from a clean slate: nothing of an earlier scenario survives in this process.
    world.finish()
}

#[given(regex = r"^all processes are ready$")]
fn all_processes_ready(_world: &mut ZbWorld) -> Result<()> {
    environment_usable()
}

#[given(regex = r"^we run in harmony$")]
fn we_run_in_harmony(_world: &mut ZbWorld) -> Result<()> {
    // Under an orchestrator both variables name the run; locally neither is set and the
    // scenario's processes share this process (crashes are simulated, see `ZbWorld::crash`).
    let pid = std::env::var("HARMONY_HOST_PID").ok();
    let feature = std::env::var("HARMONY_FEATURE_ID").ok();
    match (pid, feature) {
        (Some(p), Some(f)) => {
            ensure!(
                p.parse::<u64>().is_ok(),
                "HARMONY_HOST_PID '{p}' is not a number"
            );
            ensure!(!f.is_empty(), "HARMONY_FEATURE_ID is empty");
        }
        (None, None) => {}
        _ => bail!("only one of HARMONY_HOST_PID and HARMONY_FEATURE_ID is set"),
    }
    environment_usable()
}

#[given(regex = r"^stress test environment is prepared$")]
#[given(regex = r"^benchmark environment is prepared$")]
#[given(regex = r"^the system is ready$")]
fn environment_prepared(_world: &mut ZbWorld) -> Result<()> {
    crate::drivers::scale::factor()?;
    environment_usable()
}

#[given(regex = r"^the platform is '([^']*)'$")]
fn platform_is(_world: &mut ZbWorld, platform: String) -> Result<()> {
    ensure!(
        platform.eq_ignore_ascii_case(std::env::consts::OS),
        "this scenario needs platform '{platform}', this is '{}'",
        std::env::consts::OS
    );
    Ok(())
}

/// Shared memory and the lock directory are usable by this process.
fn environment_usable() -> Result<()> {
    let probe = format!("/dev/shm/.zerobuffer-ready-{}", std::process::id());
    std::fs::write(&probe, b"").context("/dev/shm is not writable")?;
    std::fs::remove_file(&probe).context("cannot remove the /dev/shm probe")?;
    std::fs::create_dir_all(zerobuffer::LOCK_DIR)
        .with_context(|| format!("cannot create {}", zerobuffer::LOCK_DIR))?;
    Ok(())
}

#[then(regex = r"^wait for '(.*)' seconds$")]
fn wait_seconds(_world: &mut ZbWorld, seconds: Seconds) -> Result<()> {
    thread::sleep(seconds.0);
    Ok(())
}

#[when(regex = r"^the '(.*)' process is killed$")]
#[when(regex = r"^the '(.*)' process crashes$")]
#[when(regex = r"^the '([^']*)' process crashes while write in progress$")]
#[when(regex = r"^the '([^']*)' process is killed while write in progress$")]
#[when(regex = r"^the '([^']*)' process crashes while reader blocked$")]
fn process_dies(world: &mut ZbWorld, process: String) -> Result<()> {
    world.crash(&process)
}

// ---- B. Buffer creation and connection -----------------------------------------------------

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

// ---- C. Writing ----------------------------------------------------------------------------

#[when(regex = r"^the '(.*)' process writes metadata with size '(.*)'$")]
fn writes_metadata(world: &mut ZbWorld, process: String, size: Number<usize>) -> Result<()> {
    let data = simple_data(size.0);
    world
        .process(&process)
        .with_writer(|w| w.set_metadata(&data))?
        .context("writing metadata")
}

#[when(regex = r"^the '(.*)' process writes frame with size '(.*)' and sequence '(.*)'$")]
fn writes_sized_seeded_frame(
    world: &mut ZbWorld,
    process: String,
    size: Number<usize>,
    seed: Number<u64>,
) -> Result<()> {
    write(world.process(&process), &frame_data(size.0, seed.0)).map(drop)
}

#[given(regex = r"^the '(.*)' process writes frame with sequence '(.*)'$")]
#[when(regex = r"^the '(.*)' process writes frame with sequence '(.*)'$")]
fn writes_seeded_frame(world: &mut ZbWorld, process: String, seed: Number<u64>) -> Result<()> {
    write(world.process(&process), &frame_data(1024, seed.0)).map(drop)
}

#[when(regex = r"^the '(.*)' process writes frame with size '([^']*)'$")]
fn writes_simple_frame(world: &mut ZbWorld, process: String, size: Number<usize>) -> Result<()> {
    write(world.process(&process), &simple_data(size.0)).map(drop)
}

#[given(regex = r"^the '(.*)' process writes frame with data '(.*)'$")]
#[when(regex = r"^the '(.*)' process writes frame with data '(.*)'$")]
fn writes_text_frame(world: &mut ZbWorld, process: String, text: String) -> Result<()> {
    write(world.process(&process), text.as_bytes()).map(drop)
}

#[when(regex = r"^the '(.*)' process writes frames until buffer is full$")]
fn writes_until_full(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    for seed in 0..100u64 {
        match write_with_timeout(state, &frame_data(1024, seed), FULL_PROBE_TIMEOUT)? {
            Ok(_) => continue,
            Err(Error::BufferFull) if seed > 0 => return Ok(()),
            Err(e) => bail!("frame {seed} failed with {e} instead of filling the buffer"),
        }
    }
    bail!("100 frames of 1024 bytes fit without the buffer getting full")
}

#[then(regex = r"^the '(.*)' process should experience timeout on next write$")]
fn timeout_on_next_write(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    match write_with_timeout(state, &frame_data(1024, 999), FULL_PROBE_TIMEOUT)? {
        Err(Error::BufferFull) => Ok(()),
        Err(e) => bail!("expected the write to time out on a full buffer, got: {e}"),
        Ok(seq) => bail!("the write succeeded (sequence {seq}) although the buffer was full"),
    }
}

#[then(regex = r"^the '(.*)' process should write successfully immediately$")]
fn writes_immediately(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    write_with_timeout(state, &frame_data(1024, 1000), Duration::from_secs(1))?
        .context("the write did not succeed within 1 s")
        .map(drop)
}

#[when(regex = r"^the '(.*)' process requests zero-copy frame of size '(.*)'$")]
fn requests_zero_copy(world: &mut ZbWorld, process: String, size: Number<usize>) -> Result<()> {
    let size = size.0;
    ensure!(size > 0, "a zero-copy frame needs at least one byte");
    let state = world.process(&process);
    state.writer()?;
    state.frames.zero_copy.requested = Some(size);
    Ok(())
}

#[when(regex = r"^the '(.*)' process fills zero-copy buffer with test pattern$")]
fn fills_zero_copy(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let size = state
        .frames
        .zero_copy
        .requested
        .context("no zero-copy frame was requested")?;
    let pending = PendingWrite::start(state.writer()?, size, |slot, seq| {
        zerobuffer::testdata::fill_frame_data(slot, seq)
    })?;
    state.frames.zero_copy.pending = Some(pending);
    Ok(())
}

#[when(regex = r"^the '(.*)' process commits zero-copy frame$")]
fn commits_zero_copy(world: &mut ZbWorld, process: String) -> Result<()> {
    let zero_copy = &mut world.process(&process).frames.zero_copy;
    let pending = zero_copy
        .pending
        .take()
        .context("no zero-copy frame is pending")?;
    let expected = pending.sequence;
    let sequence = pending.commit()?;
    ensure!(
        sequence == expected,
        "committed as {sequence}, reserved as {expected}"
    );
    Ok(())
}

// ---- C. Reading ----------------------------------------------------------------------------

#[then(regex = r"^the '(.*)' process should read frame with sequence '(.*)' and size '(.*)'$")]
fn reads_frame_with_sequence_and_size(
    world: &mut ZbWorld,
    process: String,
    sequence: Number<u64>,
    size: Number<usize>,
) -> Result<()> {
    let (sequence, size) = (sequence.0, size.0);
    let frame = read_next(world.process(&process), READ_TIMEOUT)?;
    ensure!(
        frame.sequence == sequence,
        "read sequence {}, expected {sequence}",
        frame.sequence
    );
    ensure!(
        frame.data.len() == size,
        "read {} bytes, expected {size}",
        frame.data.len()
    );
    Ok(())
}

#[then(regex = r"^the '(.*)' process should validate frame data$")]
fn validates_frame_data(world: &mut ZbWorld, process: String) -> Result<()> {
    let frame = last_frame(world.process(&process))?;
    check_seeded(frame, frame.sequence)
}

#[when(regex = r"^the '(.*)' process signals space available$")]
#[then(regex = r"^the '(.*)' process signals space available$")]
fn signals_space_available(world: &mut ZbWorld, process: String) -> Result<()> {
    // Frames are released when the read step ends; check that nothing is still held, so the
    // writer really has the space back.
    let state = world.process(&process);
    let held = state.reader()?.outstanding_frames();
    ensure!(held == 0, "{held} frame(s) still hold ring space");
    state.last_frame = None;
    Ok(())
}

#[then(regex = r"^the '(.*)' process should read frame with sequence '(.*)';$")]
#[then(regex = r"^the '([^']*)' process should read frame with sequence '([^']*)'$")]
fn reads_frame_with_sequence(
    world: &mut ZbWorld,
    process: String,
    sequence: Number<u64>,
) -> Result<()> {
    let sequence = sequence.0;
    let state = world.process(&process);
    let frame = read_next(state, READ_TIMEOUT)?;
    ensure!(
        frame.sequence == sequence,
        "read sequence {}, expected {sequence}",
        frame.sequence
    );
    check_seeded(&frame, sequence)?;
    state.received.push(frame);
    Ok(())
}

#[then(regex = r"^the '(.*)' process should verify all frames maintain sequential order$")]
fn frames_in_sequential_order(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    ensure!(!state.received.is_empty(), "no frames were read");
    check_consecutive(&state.received, state.received[0].sequence)
}

#[when(regex = r"^the '(.*)' process reads one frame$")]
fn reads_one_frame(world: &mut ZbWorld, process: String) -> Result<()> {
    read_next(world.process(&process), READ_TIMEOUT).map(drop)
}

#[then(regex = r"^the '(.*)' process should read frame with size '(.*)'$")]
fn reads_frame_with_size(world: &mut ZbWorld, process: String, size: Number<usize>) -> Result<()> {
    let size = size.0;
    let frame = read_next(world.process(&process), READ_TIMEOUT)?;
    ensure!(
        frame.data.len() == size,
        "read {} bytes, expected {size}",
        frame.data.len()
    );
    Ok(())
}

#[then(regex = r"^the '(.*)' process should verify frame data matches test pattern$")]
fn frame_matches_test_pattern(world: &mut ZbWorld, process: String) -> Result<()> {
    let frame = last_frame(world.process(&process))?;
    check_seeded(frame, frame.sequence)
}

#[then(regex = r"^the '(.*)' process should read (.*) frames with sizes '(.*)' in order$")]
fn reads_frames_with_sizes(
    world: &mut ZbWorld,
    process: String,
    count: Number<usize>,
    sizes: String,
) -> Result<()> {
    let count = count.0;
    let sizes = sizes
        .split(',')
        .map(num::<usize>)
        .collect::<Result<Vec<_>>>()?;
    ensure!(
        sizes.len() == count,
        "{count} frames but {} sizes listed",
        sizes.len()
    );
    let state = world.process(&process);
    for (i, size) in sizes.into_iter().enumerate() {
        let frame = read_next(state, READ_TIMEOUT)?;
        ensure!(
            frame.data.len() == size,
            "frame {} has {} bytes, expected {size}",
            i + 1,
            frame.data.len()
        );
        ensure!(
            is_simple_data(&frame.data),
            "frame {} does not hold the i % 256 pattern",
            i + 1
        );
    }
    Ok(())
}

#[then(regex = r"^the '(.*)' process should read frame with data '(.*)'$")]
fn reads_text_frame(world: &mut ZbWorld, process: String, text: String) -> Result<()> {
    let frame = read_next(world.process(&process), READ_TIMEOUT)?;
    ensure!(
        frame.data == text.as_bytes(),
        "read {:?}, expected {text:?}",
        String::from_utf8_lossy(&frame.data)
    );
    Ok(())
}
