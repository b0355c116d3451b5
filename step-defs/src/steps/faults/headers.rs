//! 10.2: corrupted frame headers and the reader's reaction to each, row by row from the
//! step's table (corruption | expected reaction).
//!
//! Harmony routes the table step to the writer, and a reader that met a corrupt header cannot
//! go on, so each row runs on a fresh buffer of this process's own: frame 1 is read intact,
//! frame 2's header is corrupted in shared memory, and the read of frame 2 must fail as the
//! row says without moving the reader past the bad header.

#![allow(
    unsafe_code,
    reason = "corrupts frame headers of a live segment (10.2)"
)]

use anyhow::{bail, ensure, Result};
use cucumber::gherkin::Step;
use cucumber::{then, when};
use zerobuffer::layout::{FrameHeader, FRAME_HEADER_SIZE};
use zerobuffer::testdata::{fill_frame_data, frame_data};
use zerobuffer::{Error, Reader, Writer};
use zerobuffer_test_support::RawBuffer;

use crate::drivers::endpoints::{with_cause, DEFAULT_CONFIG};
use crate::drivers::explain::Explain as _;
use crate::drivers::tables::{data_table, DataTable};
use crate::world::{ZbWorld, READ_TIMEOUT};

/// Upstream 10.2's table, for an orchestrator that drops tables.
const BUILT_IN_ROWS: &str = "
    | corruption_type          | expected_result           |
    | payload_size > remaining | reader handles gracefully |
    | sequence_number invalid  | reader detects error      |
    | header magic corrupted   | reader rejects frame      |
";

#[when(regex = r"^the '([^']*)' process writes valid frame$")]
fn writes_valid_frame(world: &mut ZbWorld, process: String) -> Result<()> {
    let sequence = world.process(&process).with_writer(|w| -> Result<u64> {
        let mut slot = w.get_frame_buffer(1024)?;
        let sequence = slot.sequence();
        fill_frame_data(&mut slot, sequence);
        Ok(slot.commit())
    })??;
    tracing::debug!(sequence, "valid frame written");
    Ok(())
}

/// A way to damage the header of frame 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Corruption {
    /// payload_size larger than the whole ring.
    SizeBeyondRing,
    /// payload_size larger than what remains from the frame to the ring end.
    SizePastEnd,
    /// The sequence number one too far.
    SequenceSkipped,
    /// The whole header garbage (all bits set). The v1 header has no magic field: a corrupted
    /// "magic" is a header of garbage, which the sequence check (done first, protocol.md §3.6)
    /// catches.
    Garbage,
}

const CORRUPTIONS: [(Corruption, &[&str]); 4] = [
    (
        Corruption::SizeBeyondRing,
        &["payload_size beyond the ring"],
    ),
    (
        Corruption::SizePastEnd,
        &["payload_size > remaining", "payload_size past the ring end"],
    ),
    (
        Corruption::SequenceSkipped,
        &["sequence_number invalid", "sequence number skipped"],
    ),
    (
        Corruption::Garbage,
        &["header magic corrupted", "garbage header"],
    ),
];

impl Corruption {
    /// The corrupted header, from the valid one at position `pos` of a `ring`-byte ring.
    fn apply(self, h: FrameHeader, ring: u64, pos: u64) -> FrameHeader {
        match self {
            Corruption::SizeBeyondRing => FrameHeader {
                payload_size: ring + 1,
                ..h
            },
            Corruption::SizePastEnd => FrameHeader {
                payload_size: ring - pos - FRAME_HEADER_SIZE as u64 + 1,
                ..h
            },
            Corruption::SequenceSkipped => FrameHeader {
                sequence: h.sequence + 1,
                ..h
            },
            Corruption::Garbage => FrameHeader {
                payload_size: u64::MAX,
                sequence: u64::MAX,
            },
        }
    }

    /// The error that detects this damage when frame 2 is read.
    fn detected_by(self, e: &Error) -> bool {
        match self {
            Corruption::SizeBeyondRing | Corruption::SizePastEnd => {
                matches!(e, Error::InvalidFrameHeader(_))
            }
            Corruption::SequenceSkipped => matches!(
                e,
                Error::Sequence {
                    expected: 2,
                    got: 3
                }
            ),
            Corruption::Garbage => matches!(
                e,
                Error::Sequence {
                    expected: 2,
                    got: u64::MAX
                }
            ),
        }
    }
}

/// What a row expects of the reader. Every reaction also means: no frame is delivered and the
/// reader stays before the bad header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reaction {
    /// A typed protocol error, and a second attempt fails the same way (no crash, no drift).
    Graceful,
    /// The error that detects this particular damage.
    Detects,
    /// Any protocol error: the frame is refused.
    Rejects,
    InvalidHeader,
    SequenceError,
}

const REACTIONS: [(Reaction, &str); 5] = [
    (Reaction::Graceful, "reader handles gracefully"),
    (Reaction::Detects, "reader detects error"),
    (Reaction::Rejects, "reader rejects frame"),
    (Reaction::InvalidHeader, "invalid frame header"),
    (Reaction::SequenceError, "sequence error"),
];

fn is_protocol_error(e: &Error) -> bool {
    matches!(e, Error::InvalidFrameHeader(_) | Error::Sequence { .. })
}

impl Reaction {
    fn accepts(self, corruption: Corruption, e: &Error) -> bool {
        match self {
            Reaction::Graceful | Reaction::Rejects => is_protocol_error(e),
            Reaction::Detects => corruption.detected_by(e),
            Reaction::InvalidHeader => matches!(e, Error::InvalidFrameHeader(_)),
            Reaction::SequenceError => matches!(e, Error::Sequence { .. }),
        }
    }
}

/// Looks `text` up among `names` (case and runs of spaces ignored).
fn lookup<T: Copy>(text: &str, names: &[(T, &[&str])]) -> Option<T> {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    names
        .iter()
        .find(|(_, n)| n.iter().any(|n| n.eq_ignore_ascii_case(&text)))
        .map(|(t, _)| *t)
}

fn rows(table: &DataTable) -> Result<Vec<(String, Corruption, Reaction)>> {
    let corruption = ["corruption_type", "corruption"]
        .iter()
        .find_map(|c| table.column(c).ok())
        .context("the table needs a column 'corruption_type' (or 'corruption')")?;
    let reaction = ["expected_result", "expected reader error"]
        .iter()
        .find_map(|c| table.column(c).ok())
        .context("the table needs a column 'expected_result' (or 'expected reader error')")?;
    ensure!(
        table.header.len() == 2,
        "the table's columns are [{}]; this step reads the corruption and the expected result",
        table.header.join(", ")
    );
    let reactions: Vec<(Reaction, &[&str])> = REACTIONS
        .iter()
        .map(|(r, n)| (*r, std::slice::from_ref(n)))
        .collect();
    table
        .map_rows(|row| {
            let c = lookup(&row[corruption], &CORRUPTIONS).with_context(|| {
                format!(
                    "unknown corruption type '{}' (known: {})",
                    row[corruption],
                    CORRUPTIONS
                        .iter()
                        .flat_map(|(_, n)| n.iter())
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
            let r = lookup(&row[reaction], &reactions).with_context(|| {
                format!(
                    "unknown expected result '{}' (known: {})",
                    row[reaction],
                    REACTIONS.map(|(_, n)| n).join(", ")
                )
            })?;
            Ok((row[corruption].trim().to_owned(), c, r))
        })
        .map_err(with_cause)
}

/// Runs one row on a fresh buffer `name`.
fn check_row(name: &str, corruption: Corruption, reaction: Reaction) -> Result<()> {
    let reader = Reader::create(name, DEFAULT_CONFIG)?;
    let mut writer = Writer::connect(name)?;
    writer.write_frame(&frame_data(1024, 1))?;
    drop(reader.read_frame(READ_TIMEOUT).context("reading frame 1")?);
    writer.write_frame(&frame_data(1024, 2))?;
    let before = reader.oieb_snapshot();
    let raw = RawBuffer::open(name)?;
    let pos = before.payload_read_pos;
    let header = raw.frame_header(pos);
    ensure!(
        header.sequence == 2,
        "frame 2 is not at the read position {pos}"
    );
    // SAFETY: the header of frame 2, which this process has not read, so no frame of it
    // borrows those bytes (frame 1 was released, and frames borrow data, not headers).
    unsafe { raw.set_frame_header(pos, corruption.apply(header, before.payload_size, pos)) };
    let attempts = if reaction == Reaction::Graceful { 2 } else { 1 };
    let mut first: Option<String> = None;
    for attempt in 1..=attempts {
        let err = match reader.read_frame(READ_TIMEOUT) {
            Ok(frame) => bail!(
                "read {attempt}: the corrupted frame was delivered ({} bytes, sequence {})",
                frame.len(),
                frame.sequence()
            ),
            Err(e) => e,
        };
        ensure!(
            reaction.accepts(corruption, &err),
            "read {attempt}: the reader's error does not fit '{reaction:?}' for \
             {corruption:?}: {err}"
        );
        let text = err.to_string();
        if let Some(first) = &first {
            ensure!(
                *first == text,
                "a second read failed differently: '{first}', then '{text}'"
            );
        }
        first = Some(text);
        let after = reader.oieb_snapshot();
        ensure!(
            after.payload_read_pos == pos && after.payload_read_count == before.payload_read_count,
            "read {attempt}: the reader moved past the bad header (read position {pos} → {})",
            after.payload_read_pos
        );
    }
    Ok(())
}

#[then(regex = r"^test multiple corruption scenarios:$")]
fn multiple_corruption_scenarios(world: &mut ZbWorld, step: &Step) -> Result<()> {
    let rows = rows(&data_table(world, step, BUILT_IN_ROWS)?)?;
    world.current()?.writer()?;
    let mut failures = Vec::new();
    for (i, (label, corruption, reaction)) in rows.into_iter().enumerate() {
        let name = world.buffer_name(&format!("header-variation-{}", i + 1));
        if let Err(e) = check_row(&name, corruption, reaction) {
            failures.push(format!("row {} ({label}): {e}", i + 1));
        }
    }
    ensure!(failures.is_empty(), "{}", failures.join("; "));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_rows_are_all_interpreted() {
        let rows = rows(&DataTable::parse(BUILT_IN_ROWS).unwrap()).unwrap();
        let kinds: Vec<_> = rows.iter().map(|(_, c, r)| (*c, *r)).collect();
        assert_eq!(
            kinds,
            [
                (Corruption::SizePastEnd, Reaction::Graceful),
                (Corruption::SequenceSkipped, Reaction::Detects),
                (Corruption::Garbage, Reaction::Rejects),
            ]
        );
    }
}
