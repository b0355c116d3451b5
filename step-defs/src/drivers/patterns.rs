//! Frame contents: seeded and patterned frames written, checked on reading, and seeded streams.

use std::thread;
use std::time::Duration;

use anyhow::{bail, ensure, Result};
use zerobuffer::testdata::{
    fill_frame_data, first_frame_data_mismatch, frame_data, is_simple_data,
};
use zerobuffer::{Error, Writer};

use crate::drivers::explain::Explain as _;
use crate::drivers::poll::retry_until;
use crate::world::{ProcessState, ReceivedFrame};

/// The frame's bytes are `generate_frame_data(len, seed)`.
pub(crate) fn check_seeded(frame: &ReceivedFrame, seed: u64) -> Result<()> {
    if let Some(i) = first_frame_data_mismatch(&frame.data, seed) {
        bail!(
            "frame {} ({} bytes) differs from the pattern seeded with {seed} at byte {i}",
            frame.sequence,
            frame.data.len()
        );
    }
    Ok(())
}

/// The frames carry `first, first+1, ...`.
pub(crate) fn check_consecutive(frames: &[ReceivedFrame], first: u64) -> Result<()> {
    for (i, frame) in frames.iter().enumerate() {
        let expected = first + i as u64;
        ensure!(
            frame.sequence == expected,
            "frame {} has sequence {}, expected {expected}",
            i + 1,
            frame.sequence
        );
    }
    Ok(())
}

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

/// The data patterns the feature names. Upstream never defines them (steps.md §4.1); we
/// follow its suggestion: 'incremental' is the unseeded pattern, 'sequential' the seeded one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pattern {
    /// Byte i is i % 256.
    Incremental,
    /// Byte i is (i + sequence) % 256, the sequence being the frame's header sequence.
    Sequential,
}

/// A pattern named in a step (`'incremental'`, `'sequential'`).
impl std::str::FromStr for Pattern {
    type Err = anyhow::Error;

    fn from_str(name: &str) -> Result<Pattern> {
        match name {
            "incremental" => Ok(Pattern::Incremental),
            "sequential" => Ok(Pattern::Sequential),
            _ => bail!("unknown data pattern '{name}' (known: 'incremental', 'sequential')"),
        }
    }
}

impl Pattern {
    pub(crate) fn fill(self, buf: &mut [u8], sequence: u64) {
        match self {
            Pattern::Incremental => {
                for (i, b) in buf.iter_mut().enumerate() {
                    *b = (i & 0xFF) as u8;
                }
            }
            Pattern::Sequential => fill_frame_data(buf, sequence),
        }
    }

    pub(crate) fn check(self, data: &[u8], sequence: u64) -> Result<()> {
        let mismatch = match self {
            Pattern::Incremental => (!is_simple_data(data)).then_some("i % 256"),
            Pattern::Sequential => {
                first_frame_data_mismatch(data, sequence).map(|_| "(i + sequence) % 256")
            }
        };
        match mismatch {
            Some(rule) => bail!(
                "the {}-byte frame {sequence} does not hold the {self:?} pattern ({rule})",
                data.len()
            ),
            None => Ok(()),
        }
    }
}
