//! Signals: rapid writes coalesced into fewer wake-ups (4.2).

use std::time::Duration;

use anyhow::{bail, ensure, Result};
use cucumber::{then, when};
use zerobuffer::Error;

use crate::captures::Number;
use crate::drivers::endpoints::{oieb, write};
use crate::drivers::explain::Explain as _;
use crate::drivers::ring::ensure_all_taken;
use crate::world::{ReceivedFrame, ZbWorld};

#[when(regex = r"^the '(.*)' process writes '(.*)' frames rapidly without reader consuming$")]
fn writes_frames_rapidly(world: &mut ZbWorld, process: String, count: Number<usize>) -> Result<()> {
    let count = count.0;
    let state = world.process(&process);
    for i in 0..count {
        write(state, format!("rapid_frame_{i}").as_bytes())?;
    }
    Ok(())
}

#[then(regex = r"^the '(.*)' process the semaphore count should represent pending frames$")]
fn semaphore_counts_pending(world: &mut ZbWorld, process: String) -> Result<()> {
    // Harmony sends this to the writer: it reads the buffer's `sem-w` value (sem_getvalue)
    // through its own handle and compares it with the entries the OIEB says are written but
    // not yet read. (Wrap markers count as entries but post nothing; 4.2's frames never wrap.)
    let state = world.process(&process);
    let value = state.with_writer(|w| w.pending_frames())??;
    let o = oieb(state)?;
    let unread = o.payload_written_count - o.payload_read_count;
    ensure!(
        unread > 0,
        "no frame is pending: the OIEB shows everything read"
    );
    ensure!(
        value == unread,
        "sem-w holds {value}, but {unread} frames are written and not yet read"
    );
    Ok(())
}

#[when(regex = r"^the '(.*)' process wakes and processes all frames$")]
fn wakes_and_processes(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let reader = state.reader()?;
    state.frames.signals_at_wake = Some(reader.pending_frames()?);
    state.received.clear();
    for _ in 0..100 {
        match reader.read_frame(Duration::from_millis(100)) {
            Ok(frame) => state.received.push(ReceivedFrame {
                sequence: frame.sequence(),
                data: frame.to_vec(),
            }),
            Err(Error::Timeout(_)) => return Ok(()),
            Err(e) => return Err(e).context("draining the frames"),
        }
    }
    bail!("more than 100 frames were waiting")
}

#[then(regex = r"^the '(.*)' process all frames should be read correctly$")]
fn all_frames_read_correctly(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    ensure!(!state.received.is_empty(), "no frame was read");
    let first = state.received[0].sequence;
    for (i, frame) in state.received.iter().enumerate() {
        let expected = format!("rapid_frame_{i}");
        ensure!(
            frame.data == expected.as_bytes() && frame.sequence == first + i as u64,
            "frame {i} is {:?} (sequence {}), expected {expected:?} (sequence {})",
            String::from_utf8_lossy(&frame.data),
            frame.sequence,
            first + i as u64
        );
    }
    ensure_all_taken(&oieb(state)?)
}

#[then(regex = r"^the '(.*)' process the coalesced signals should be handled properly$")]
fn coalesced_signals_handled(world: &mut ZbWorld, process: String) -> Result<()> {
    // Every post was taken exactly once: as many frames as signals had built up, none left over.
    let state = world.process(&process);
    let signals = state
        .frames
        .signals_at_wake
        .context("the reader has not processed the frames")?;
    let read = state.received.len() as u64;
    ensure!(
        signals > 1,
        "only {signals} signal(s) were pending at wake-up: nothing was coalesced"
    );
    ensure!(
        read == signals,
        "{signals} signals were pending but {read} frames were read"
    );
    let left = state.reader()?.pending_frames()?;
    ensure!(left == 0, "{left} signal(s) remain after draining");
    Ok(())
}
