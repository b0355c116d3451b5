//! Frame contents: seeded and patterned frames, and the checks made on reading them.

use anyhow::{bail, ensure, Result};
use zerobuffer::testdata::{fill_frame_data, first_frame_data_mismatch, is_simple_data};

use crate::state::ReceivedFrame;

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
