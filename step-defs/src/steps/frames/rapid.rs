//! Rapid write-read cycles: every frame read, in order, none lost, no deadlock (4.9).

use std::time::Duration;

use anyhow::{bail, ensure, Result};
use cucumber::{then, when};
use zerobuffer::testdata::first_frame_data_mismatch;
use zerobuffer::Error;

use crate::drivers::endpoints::oieb;
use crate::drivers::explain::Explain as _;
use crate::drivers::poll::{poll_until, retry_until};
use crate::state::frames::Drain;
use crate::world::{ProcessState, ZbWorld};

#[when(regex = r"^the '([^']*)' process reads all frames and signals immediately$")]
fn reads_all_frames(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let reader = state.reader()?;
    let mut drain = Drain::default();
    let budget = Duration::from_secs(60);
    retry_until(budget, || -> Result<Option<()>> {
        match reader.read_frame(Duration::from_secs(1)) {
            Ok(frame) => {
                // The frame is checked and released at once.
                if let Some(i) = first_frame_data_mismatch(&frame, frame.sequence()) {
                    drain
                        .bad_data
                        .push(format!("frame {} differs at byte {i}", frame.sequence()));
                }
                drain.sequences.push(frame.sequence());
            }
            Err(Error::WriterDead) => drain.stream_ended = true,
            Err(Error::Timeout(_)) => {
                drain.stream_ended = !reader.is_writer_connected() && reader.pending_frames()? == 0
            }
            Err(e) => return Err(e).context("reading the stream"),
        }
        Ok(drain.stream_ended.then_some(()))
    })?;
    let read = drain.sequences.len();
    let ended = drain.stream_ended;
    state.frames.drain = Some(drain);
    ensure!(
        ended,
        "the stream did not end within {budget:?} ({read} frames read)"
    );
    Ok(())
}

fn drain(state: &mut ProcessState) -> Result<&Drain> {
    state
        .frames
        .drain
        .as_ref()
        .context("this process has not read the stream")
}

#[then(regex = r"^all sequence numbers should be correct$")]
fn all_sequences_correct(world: &mut ZbWorld) -> Result<()> {
    let drain = drain(world.current()?)?;
    ensure!(!drain.sequences.is_empty(), "no frame was read");
    for (i, &seq) in drain.sequences.iter().enumerate() {
        ensure!(
            seq == i as u64 + 1,
            "frame {} has sequence {seq}, expected {}",
            i + 1,
            i + 1
        );
    }
    ensure!(
        drain.bad_data.is_empty(),
        "damaged frames: {}",
        drain.bad_data.join("; ")
    );
    Ok(())
}

#[then(regex = r"^no frames should be lost$")]
fn no_frames_lost(world: &mut ZbWorld) -> Result<()> {
    // On either side: every entry the writer committed has been taken by the reader (waiting a
    // little for a reader in another process to catch up), and the frames this process
    // recorded as reader have no gap in their sequence numbers.
    let state = world.current()?;
    let recorded: Vec<u64> = match &state.frames.drain {
        Some(d) => d.sequences.clone(),
        None => state.received.iter().map(|f| f.sequence).collect(),
    };
    if let Some(gap) = recorded.windows(2).find(|w| w[1] != w[0] + 1) {
        bail!("frames {} to {} are missing", gap[0] + 1, gap[1] - 1);
    }
    let mut last = oieb(state)?;
    let all_read = poll_until(Duration::from_secs(5), Duration::from_millis(20), || {
        last = oieb(state)?;
        Ok((last.payload_written_count > 0
            && last.payload_read_count == last.payload_written_count)
            .then_some(()))
    })?;
    ensure!(
        all_read.is_some(),
        "{} entries were written but {} read",
        last.payload_written_count,
        last.payload_read_count
    );
    Ok(())
}

#[then(regex = r"^no deadlocks should occur$")]
fn no_deadlocks_occur(world: &mut ZbWorld) -> Result<()> {
    // The exchange ran to its end within the reader's budget, and nothing is stuck: no frame
    // signalled but untaken, none held, the writer gone after its last frame.
    let state = world.current()?;
    let ended = drain(state)?.stream_ended;
    ensure!(ended, "the stream did not run to its end");
    let reader = state.reader()?;
    let (pending, held) = (reader.pending_frames()?, reader.outstanding_frames());
    ensure!(
        pending == 0 && held == 0,
        "{pending} frames still signalled, {held} still held"
    );
    ensure!(
        !reader.is_writer_connected(),
        "the writer is still attached after the stream ended"
    );
    Ok(())
}
