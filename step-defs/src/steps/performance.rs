//! Group K of steps.md (feature 09, performance monitoring): the writer's own CPU time while
//! it is blocked on a semaphore and while it streams frames.
//!
//! CPU time is the calling thread's (`CLOCK_THREAD_CPUTIME_ID`), so the other threads of this
//! process (the reader's drain in a local run) do not count. The limits are wide: they tell
//! waiting from spinning and copying from thrashing, not milliseconds.

use std::time::{Duration, Instant};

use crate::explain::Explain as _;
use anyhow::{bail, ensure, Result};
use cucumber::{then, when};
use rustix::time::{clock_gettime, ClockId};
use zerobuffer::testdata::{fill_frame_data, first_frame_data_mismatch};
use zerobuffer::Error;

use crate::world::{ProcessState, ZbWorld, JOIN_TIMEOUT, READ_TIMEOUT};

/// Frame size of the measurements (the 'default config' ring holds nine of them).
const FRAME: usize = 1024;
/// How long the measured write stays blocked on the full ring.
const BLOCKED_WAIT: Duration = Duration::from_secs(1);
/// Waiting may cost at most this share of the wall time (a 100 ms liveness slice costs µs).
const IDLE_CPU_SHARE: f64 = 0.05;
/// Frames streamed by "transfer data actively".
const TRANSFER_FRAMES: u64 = 2000;
/// CPU time the writer may spend per streamed frame: copying 1 KiB and one semaphore post
/// take a few µs; this leaves room for a slow, shared machine.
const CPU_PER_FRAME: Duration = Duration::from_micros(100);

fn thread_cpu_time() -> Duration {
    let t = clock_gettime(ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// What the writer measured.
#[derive(Default)]
struct CpuUsage {
    /// Frames written to fill the ring before the blocked write.
    filled: u64,
    /// (CPU time, wall time) of the write that waited for space.
    idle: Option<(Duration, Duration)>,
    transfer: Option<Transfer>,
}

#[derive(Debug, Clone, Copy)]
struct Transfer {
    frames: u64,
    bytes: u64,
    cpu: Duration,
    wall: Duration,
}

/// Writes one seeded frame in place (seed = its sequence) within `timeout`.
fn write_seeded(w: &mut zerobuffer::Writer, timeout: Duration) -> Result<u64, Error> {
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
            match write_seeded(w, Duration::from_millis(200)) {
                Ok(_) => filled += 1,
                Err(Error::BufferFull) if filled > 0 => break,
                Err(e) => return Err(e).context("filling the ring"),
            }
            ensure!(filled < 1000, "1000 frames fit: nothing blocks");
        }
        let (cpu, wall) = (thread_cpu_time(), Instant::now());
        let blocked = write_seeded(w, BLOCKED_WAIT);
        let measured = (thread_cpu_time() - cpu, wall.elapsed());
        match blocked {
            Err(Error::BufferFull) => Ok((filled, measured)),
            Err(e) => Err(e).context("the measured write"),
            Ok(seq) => bail!("frame {seq} was written although the ring was full"),
        }
    })??;
    tracing::info!(filled, cpu = ?measured.0, wall = ?measured.1, "blocked on sem-r");
    let usage = state.scratch::<CpuUsage>();
    usage.filled = filled;
    usage.idle = Some(measured);
    Ok(())
}

#[then(regex = r"^verify near-zero CPU when waiting$")]
fn near_zero_idle_cpu(world: &mut ZbWorld) -> Result<()> {
    let (cpu, wall) = world
        .current()?
        .scratch::<CpuUsage>()
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
    let (writer, buffer) = (state.writer()?, state.buffer()?.to_owned());
    let filled = state.scratch::<CpuUsage>().filled;
    state.jobs.spawn("cpu-transfer", move |stop| {
        let mut guard = writer.lock();
        let w = guard.as_mut().context("the writer is closed")?;
        let (cpu, wall) = (thread_cpu_time(), Instant::now());
        for n in 0..TRANSFER_FRAMES {
            ensure!(!stop.is_set(), "stopped after {n} frames");
            write_seeded(w, READ_TIMEOUT).with_context(|| format!("streaming frame {n}"))?;
        }
        Ok(Transfer {
            frames: TRANSFER_FRAMES,
            bytes: TRANSFER_FRAMES * FRAME as u64,
            cpu: thread_cpu_time() - cpu,
            wall: wall.elapsed(),
        })
    })?;
    // The frames need a consumer in the reader process, and the vocabulary has no step telling
    // it to read. In a local run that process lives in this World: drain there.
    let Some(consumer) = world
        .processes()
        .find(|p| p.reader.as_ref().is_some_and(|r| r.name() == buffer))
    else {
        bail!(
            "no reader of '{buffer}' in this process to consume the transfer (under an \
             orchestrator the reader process gets no step that makes it read)"
        );
    };
    drain(consumer, filled + TRANSFER_FRAMES)
}

/// Reads `count` frames in the background of `state`, checking order and content.
fn drain(state: &mut ProcessState, count: u64) -> Result<()> {
    let reader = state.reader()?;
    state.jobs.spawn("cpu-drain", move |stop| {
        let mut expected = 1;
        while expected <= count {
            ensure!(!stop.is_set(), "stopped after {} frames", expected - 1);
            let frame = reader.read_frame(READ_TIMEOUT)?;
            ensure!(
                frame.sequence() == expected,
                "frame {} arrived, expected {expected}",
                frame.sequence()
            );
            if let Some(i) = first_frame_data_mismatch(&frame, expected) {
                bail!("frame {expected} differs from its pattern at byte {i}");
            }
            expected += 1;
        }
        Ok(count)
    })
}

#[then(regex = r"^monitor CPU during active transfer$")]
fn monitor_transfer_cpu(world: &mut ZbWorld) -> Result<()> {
    let transfer: Transfer = world.current()?.jobs.join("cpu-transfer", JOIN_TIMEOUT)?;
    let drained = world
        .processes()
        .find(|p| p.jobs.is_running("cpu-drain"))
        .context("no drain was started")?
        .jobs
        .join::<u64>("cpu-drain", JOIN_TIMEOUT)?;
    let filled = world.current()?.scratch::<CpuUsage>().filled;
    ensure!(
        drained == filled + transfer.frames,
        "{drained} frames were read, {} written",
        filled + transfer.frames
    );
    tracing::info!(?transfer, "active transfer");
    world.current()?.scratch::<CpuUsage>().transfer = Some(transfer);
    Ok(())
}

#[then(regex = r"^verify efficient data copying$")]
fn efficient_copying(world: &mut ZbWorld) -> Result<()> {
    let t = world
        .current()?
        .scratch::<CpuUsage>()
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
