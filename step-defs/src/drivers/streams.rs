//! Streams of pattern frames written and read by a process's steps.

use std::thread;
use std::time::Duration;

use anyhow::{ensure, Result};
use zerobuffer::testdata::frame_data;
use zerobuffer::{Error, Writer};

use crate::drivers::explain::Explain as _;
use crate::drivers::patterns::Pattern;
use crate::drivers::poll::retry_until;
use crate::world::{ProcessState, ReceivedFrame};

/// Starts a background job that writes `count` frames of `size` bytes, frame `i` seeded with
/// `i` (its sequence from a fresh writer), then closes the writer so the reader sees the end
/// of the stream (writer_pid back to 0).
pub(crate) fn spawn_seeded_stream(
    state: &mut ProcessState,
    label: &str,
    count: u64,
    size: usize,
) -> Result<()> {
    let writer = state.writer()?;
    state.jobs.spawn(label, move |stop| {
        for seq in 1..=count {
            ensure!(
                !stop.is_set(),
                "stopped after {} of {count} frames",
                seq - 1
            );
            let mut guard = writer
                .try_lock_for(crate::world::JOIN_TIMEOUT)
                .context("the writer stayed busy")?;
            let w = guard.as_mut().context("the writer was closed")?;
            w.write_frame(&frame_data(size, seq))
                .with_context(|| format!("writing frame {seq} of {count}"))?;
        }
        writer.lock().take();
        Ok(count)
    })
}

/// Reads frames into `state.received`, sleeping `delay` after each, until the writer has left
/// and everything is read (at most 60 s). A sequence error ends the stream and is returned.
pub(crate) fn read_stream(state: &mut ProcessState, delay: Duration) -> Result<Option<Error>> {
    let reader = state.reader()?;
    let mut quiet = 0;
    // Some(how the stream ended): None when the writer left, the sequence error otherwise.
    let ended = retry_until(
        Duration::from_secs(60),
        || -> Result<Option<Option<Error>>> {
            match reader.read_frame(Duration::from_secs(1)) {
                Ok(frame) => {
                    quiet = 0;
                    state.received.push(ReceivedFrame {
                        sequence: frame.sequence(),
                        data: frame.to_vec(),
                    });
                }
                Err(Error::WriterDead) => return Ok(Some(None)),
                Err(Error::Timeout(_)) => {
                    quiet += 1;
                    return Ok((quiet >= 3 && !reader.is_writer_connected()).then_some(None));
                }
                Err(e @ Error::Sequence { .. }) => return Ok(Some(Some(e))),
                Err(e) => return Err(e).context("reading the stream"),
            }
            if !delay.is_zero() {
                thread::sleep(delay);
            }
            Ok(None)
        },
    )?;
    ended.context("the stream did not end within 60 s")
}

/// Writes a `len`-byte frame holding the pattern seeded with its own sequence number, filled
/// in place (no copy of the data is allocated).
pub(crate) fn write_seeded(writer: &mut Writer, len: usize) -> Result<u64, Error> {
    write_pattern(writer, len, Pattern::Sequential)
}

pub(crate) fn write_pattern(
    writer: &mut Writer,
    len: usize,
    pattern: Pattern,
) -> Result<u64, Error> {
    let mut slot = writer.get_frame_buffer(len)?;
    let sequence = slot.sequence();
    pattern.fill(&mut slot, sequence);
    Ok(slot.commit())
}
