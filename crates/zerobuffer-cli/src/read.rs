//! `zerobuffer read`: create a buffer as its reader, read (and optionally validate) frames.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use zerobuffer::testdata::first_frame_data_mismatch;
use zerobuffer::{BufferConfig, Error, Frame, Reader};

use crate::ready::write_ready_file;
use crate::signals::{self, POLL_SLICE};
use crate::summary::Summary;
use crate::ReadArgs;

/// Validation problems logged individually before going quiet.
const MAX_LOGGED_ERRORS: u64 = 10;

pub fn run(args: &ReadArgs) -> Result<()> {
    signals::check()?;
    let payload_size =
        usize::try_from(args.payload_size).context("--payload-size does not fit in memory")?;
    let config = BufferConfig::new(args.metadata_size, payload_size);
    let mut reader = Reader::create(&args.name, config)
        .with_context(|| format!("cannot create buffer {:?}", args.name))?;
    reader.set_wait_strategy(args.wait);
    let started = Instant::now();
    let mut run = ReadRun::new(args);
    let outcome = match &args.ready_file {
        Some(path) => write_ready_file(path).and_then(|()| run.read_all(&reader)),
        None => run.read_all(&reader),
    };
    run.summary.set_elapsed(started.elapsed());
    // Remove the buffer before reporting: once the summary is out, nothing is left behind.
    drop(reader);
    run.summary
        .print(args.json, "read", args.validate)
        .context("cannot print the summary")?;
    outcome?;
    let s = &run.summary;
    if s.sequence_errors + s.pattern_errors > 0 {
        bail!(
            "validation failed: {} sequence errors, {} pattern errors in {} frames",
            s.sequence_errors,
            s.pattern_errors,
            s.frames
        );
    }
    Ok(())
}

struct ReadRun<'a> {
    args: &'a ReadArgs,
    summary: Summary,
    last_sequence: Option<u64>,
    pattern: Pattern,
}

impl<'a> ReadRun<'a> {
    fn new(args: &'a ReadArgs) -> Self {
        ReadRun {
            args,
            summary: Summary::default(),
            last_sequence: None,
            pattern: Pattern::default(),
        }
    }

    /// Reads until `--frames` frames arrived or, without it, until the writer leaves.
    fn read_all(&mut self, reader: &Reader) -> Result<()> {
        let timeout = Duration::from_millis(self.args.timeout_ms);
        loop {
            if self.args.frames.is_some_and(|n| self.summary.frames >= n) {
                return Ok(());
            }
            signals::check()?;
            match next_frame(reader, timeout) {
                Ok(frame) => {
                    self.check_frame(&frame);
                    drop(frame);
                    if self.summary.frames == 1 {
                        let metadata = reader.metadata().context("cannot read the metadata")?;
                        self.summary.metadata_len = metadata.len() as u64;
                    }
                }
                Err(Error::WriterDead) => return self.writer_gone(),
                Err(Error::Timeout(_)) => {
                    signals::check()?;
                    bail!(
                        "no frame within {} ms (after {} frames)",
                        self.args.timeout_ms,
                        self.summary.frames
                    );
                }
                Err(e) => {
                    if matches!(e, Error::Sequence { .. }) {
                        // The reader cannot move past a frame with a wrong sequence number.
                        self.summary.sequence_errors += 1;
                    }
                    let n = self.summary.frames + 1;
                    return Err(e).with_context(|| format!("cannot read frame {n}"));
                }
            }
        }
    }

    /// The writer closed or died: the normal end without `--frames`, an error with it.
    fn writer_gone(&self) -> Result<()> {
        let got = self.summary.frames;
        match self.args.frames {
            None if got > 0 => {
                tracing::debug!(frames = got, "writer left; done");
                Ok(())
            }
            None => Err(Error::WriterDead).context("the writer left before sending any frame"),
            Some(n) => Err(Error::WriterDead).context(format!("only {got} of {n} frames arrived")),
        }
    }

    fn check_frame(&mut self, frame: &Frame<'_>) {
        let sequence = frame.sequence();
        self.summary.frames += 1;
        self.summary.bytes += frame.len() as u64;
        if self.args.validate {
            let expected = self.last_sequence.map_or(1, |s| s + 1);
            if sequence != expected && sequence != 1 {
                self.summary.sequence_errors += 1;
                if self.summary.sequence_errors <= MAX_LOGGED_ERRORS {
                    tracing::warn!(
                        frame = self.summary.frames,
                        sequence,
                        expected,
                        "sequence gap"
                    );
                }
            }
            if !self.pattern.matches(frame, sequence) {
                self.summary.pattern_errors += 1;
                if self.summary.pattern_errors <= MAX_LOGGED_ERRORS {
                    tracing::warn!(
                        frame = self.summary.frames,
                        sequence,
                        len = frame.len(),
                        first_bad_byte = first_frame_data_mismatch(frame, sequence),
                        "frame data does not match the test pattern"
                    );
                }
            }
        }
        self.last_sequence = Some(sequence);
    }
}

/// Waits up to `timeout` for a frame in slices of at most [`POLL_SLICE`], so that a signal is
/// noticed quickly; returns `Error::Timeout` early when one arrived.
fn next_frame(reader: &Reader, timeout: Duration) -> Result<Frame<'_>, Error> {
    let deadline = Instant::now() + timeout;
    loop {
        let slice = deadline
            .saturating_duration_since(Instant::now())
            .min(POLL_SLICE);
        match reader.read_frame(slice) {
            Err(Error::Timeout(_)) => {
                if Instant::now() >= deadline || signals::check().is_err() {
                    return Err(Error::Timeout(timeout));
                }
            }
            other => return other,
        }
    }
}

/// The test pattern `byte j = (j + seq) % 256`, checked with one slice comparison per frame.
#[derive(Default)]
struct Pattern {
    /// `bytes[k] = k % 256`, so `bytes[seq % 256 ..][..len]` is the frame for `seq`.
    bytes: Vec<u8>,
}

impl Pattern {
    fn matches(&mut self, data: &[u8], sequence: u64) -> bool {
        let needed = 256 + data.len();
        if self.bytes.len() < needed {
            self.bytes = (0..needed).map(|k| (k & 0xFF) as u8).collect();
        }
        let start = (sequence & 0xFF) as usize;
        data == &self.bytes[start..start + data.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerobuffer::testdata::frame_data;

    #[test]
    fn pattern_matches_the_shared_definition() {
        let mut p = Pattern::default();
        for (len, seq) in [(1, 1), (300, 255), (1000, 256), (5, u64::MAX)] {
            let mut data = frame_data(len, seq);
            assert!(p.matches(&data, seq), "len {len} seq {seq}");
            assert!(!p.matches(&data, seq.wrapping_add(1)));
            data[len - 1] ^= 0x10;
            assert!(!p.matches(&data, seq));
        }
    }
}
