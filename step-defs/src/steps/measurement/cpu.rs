//! Group K of steps.md (feature 09, performance monitoring): the writer's own CPU time while
//! it is blocked on a semaphore and while it streams frames.
//!
//! CPU time is the calling thread's (`CLOCK_THREAD_CPUTIME_ID`), so the other threads of this
//! process (the reader's in a local run) do not count. The limits are wide: they tell waiting
//! from spinning and copying from thrashing, not milliseconds.
//!
//! Every step here acts on the writer, where Harmony routes them. The frames are seeded
//! (frame `n` carries `generate_frame_data(100, n)`); during the transfer the reader consumes
//! and checks them through its standby drain (see [`crate::drivers::drain`]), which the transfer
//! requests, in whichever OS process the reader lives.

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Result};
use cucumber::{then, when};
use rustix::time::{clock_gettime, ClockId};
use zerobuffer::testdata::fill_frame_data;
use zerobuffer::Error;

use crate::drivers::drain::DrainRequest;
use crate::drivers::explain::Explain as _;
use crate::state::measurement::Transfer;
use crate::world::{ZbWorld, JOIN_TIMEOUT, READ_TIMEOUT};

/// Frame size of the measurements: 100 bytes (the 'default config' ring holds 88 such frames).
const FRAME: usize = 100;
/// How long the measured write stays blocked on the full ring.
const BLOCKED_WAIT: Duration = Duration::from_secs(1);
/// Waiting may cost at most this share of the wall time (a 100 ms liveness slice costs µs).
const IDLE_CPU_SHARE: f64 = 0.05;
/// Frames written in all (the ring's fill included) when "transfer data actively" ends.
const TOTAL_FRAMES: u64 = 2000;
/// CPU time the writer may spend per streamed frame: copying 1 KiB and one semaphore post
/// take a few µs; this leaves room for a slow, shared machine.
const CPU_PER_FRAME: Duration = Duration::from_micros(100);

fn thread_cpu_time() -> Duration {
    let t = clock_gettime(ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Writes one seeded frame in place within `timeout`.
fn write_seeded_within(w: &mut zerobuffer::Writer, timeout: Duration) -> Result<u64, Error> {
    let previous = w.write_timeout();
    w.set_write_timeout(timeout);
    let result = w.get_frame_buffer(FRAME).map(|mut slot| {
        let sequence = slot.sequence();
        fill_frame_data(&mut slot, sequence);
        slot.commit()
    });
    w.set_write_timeout(previous);
    result
}

#[then(regex = r"^monitor CPU usage during idle \(blocked on semaphore\)$")]
fn monitor_idle_cpu(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    // Fill the ring: nobody reads, so the next write blocks on sem-r (space available).
    let (filled, measured) = state.with_writer(|w| -> Result<_> {
        let mut filled = 0;
        loop {
            match write_seeded_within(w, Duration::from_millis(200)) {
                Ok(_) => filled += 1,
                Err(Error::BufferFull) if filled > 0 => break,
                Err(e) => return Err(e).context("filling the ring"),
            }
            ensure!(filled < 1000, "1000 frames fit: nothing blocks");
        }
        let (cpu, wall) = (thread_cpu_time(), Instant::now());
        let blocked = write_seeded_within(w, BLOCKED_WAIT);
        let measured = (thread_cpu_time() - cpu, wall.elapsed());
        match blocked {
            Err(Error::BufferFull) => Ok((filled, measured)),
            Err(e) => Err(e).context("the measured write"),
            Ok(seq) => bail!("frame {seq} was written although the ring was full"),
        }
    })??;
    tracing::info!(filled, cpu = ?measured.0, wall = ?measured.1, "blocked on sem-r");
    let usage = &mut state.measurement.cpu;
    usage.filled = filled;
    usage.idle = Some(measured);
    Ok(())
}

#[then(regex = r"^verify near-zero CPU when waiting$")]
fn near_zero_idle_cpu(world: &mut ZbWorld) -> Result<()> {
    let (cpu, wall) = world
        .current()?
        .measurement
        .cpu
        .idle
        .context("the idle CPU was not measured")?;
    ensure!(
        wall >= BLOCKED_WAIT.mul_f64(0.9),
        "the write returned after {wall:?}: it did not wait"
    );
    ensure!(
        cpu.as_secs_f64() <= wall.as_secs_f64() * IDLE_CPU_SHARE,
        "waiting {wall:?} cost {cpu:?} of CPU (more than {:.0}%): the wait spins",
        IDLE_CPU_SHARE * 100.0
    );
    Ok(())
}

#[when(regex = r"^transfer data actively$")]
fn transfer_data_actively(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    let writer = state.writer()?;
    let buffer = state.buffer()?.to_owned();
    let filled = state.measurement.cpu.filled;
    ensure!(filled > 0, "the ring was not filled first");
    // Streams in the background until TOTAL_FRAMES are written, while the reader drains.
    state.jobs.spawn("cpu-transfer", move |stop| {
        let mut guard = writer.lock();
        let w = guard.as_mut().context("the writer is closed")?;
        let request = DrainRequest::new(&buffer, Duration::ZERO)?;
        let (cpu, wall) = (thread_cpu_time(), Instant::now());
        for n in filled..TOTAL_FRAMES {
            ensure!(!stop.is_set(), "stopped after {n} frames");
            write_seeded_within(w, READ_TIMEOUT)
                .with_context(|| format!("streaming frame {} (is a reader draining?)", n + 1))?;
        }
        let (cpu, wall) = (thread_cpu_time() - cpu, wall.elapsed());
        request.finish(w)?;
        let frames = TOTAL_FRAMES - filled;
        Ok(Transfer {
            frames,
            bytes: frames * FRAME as u64,
            cpu,
            wall,
        })
    })
}

#[then(regex = r"^monitor CPU during active transfer$")]
fn monitor_transfer_cpu(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    let transfer: Transfer = state.jobs.join("cpu-transfer", JOIN_TIMEOUT)?;
    // The job ended without error: the reader took every frame (checked by its drain).
    let o = state.with_writer(|w| w.oieb_snapshot())?;
    ensure!(
        o.payload_written_count >= TOTAL_FRAMES && o.payload_read_count == o.payload_written_count,
        "{} of {} written frames were read",
        o.payload_read_count,
        o.payload_written_count
    );
    tracing::info!(?transfer, "active transfer");
    state.measurement.cpu.transfer = Some(transfer);
    Ok(())
}

#[then(regex = r"^verify efficient data copying$")]
fn efficient_copying(world: &mut ZbWorld) -> Result<()> {
    let t = world
        .current()?
        .measurement
        .cpu
        .transfer
        .context("the transfer was not measured")?;
    // Zero CPU would mean the clock measures nothing, and the idle check proved nothing.
    ensure!(
        !t.cpu.is_zero(),
        "streaming {} bytes cost no CPU time",
        t.bytes
    );
    let limit = CPU_PER_FRAME * t.frames as u32;
    ensure!(
        t.cpu <= limit,
        "streaming {} frames ({} bytes) cost {:?} of CPU, more than {limit:?}",
        t.frames,
        t.bytes,
        t.cpu
    );
    tracing::info!(
        cpu_mb_per_s = t.bytes as f64 / t.cpu.as_secs_f64() / 1e6,
        wall_mb_per_s = t.bytes as f64 / t.wall.as_secs_f64() / 1e6,
        "copy efficiency"
    );
    Ok(())
}
