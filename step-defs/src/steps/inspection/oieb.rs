//! 12.1: the OIEB after every write and every read, checked row by row against the step's
//! table (field | condition). Every row is checked; a row this step cannot check fails it.

use anyhow::{bail, ensure, Result};
use cucumber::gherkin::Step;
use cucumber::{then, when};
use zerobuffer::layout::FrameHeader;
use zerobuffer::testdata::{fill_frame_data, first_frame_data_mismatch};
use zerobuffer::{current_pid, OiebSnapshot};

use crate::drivers::endpoints::with_cause;
use crate::drivers::ring::{raw_buffer, HEADER};
use crate::drivers::roles::test_subject;
use crate::drivers::tables::{data_table, DataTable};
use crate::state::inspection::RecordedAccess;
use crate::world::{ZbWorld, READ_TIMEOUT};

/// Frames of 12.1: assorted sizes whose frames (16-byte header included) take multiples of 64
/// bytes, 8000 bytes in all, so they fit a 10 KiB ring unread and every position and free
/// count stays a multiple of 64. (v1 frames are not padded: other sizes would leave the
/// positions unaligned, see 12.2.) Nothing is read while they are written, so none can wrap.
const WRITE_SIZES: [usize; 6] = [1008, 48, 240, 2032, 496, 4080];

/// Upstream 12.1's tables, for an orchestrator that drops tables.
const BUILT_IN_WRITE_ROWS: &str = "
    | field                 | condition               |
    | payload_written_count | increments by 1         |
    | payload_free_bytes    | decreases by frame size |
    | payload_write_pos     | advances correctly      |
    | all values            | are 64-byte aligned     |
";
const BUILT_IN_READ_ROWS: &str = "
    | field              | condition               |
    | payload_read_count | increments by 1         |
    | payload_free_bytes | increases by frame size |
    | payload_read_pos   | advances correctly      |
";

/// What a row asks of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Condition {
    /// Exactly +1 per frame.
    PlusOne,
    /// Free bytes down by the frame's size in the ring (N + 16).
    DownByFrame,
    /// Free bytes unchanged while the frame is held, up by N + 16 at its release.
    UpByFrame,
    /// The position moves from the frame's start to right behind it (N + 16), modulo P.
    Advances,
    Unchanged,
    WritersPid,
    /// The header at the old write position is {N, sequence}.
    HeaderInPlace,
    /// One post of sem-r, at the release.
    PostedAtRelease,
    /// Every byte size and position of the OIEB is a multiple of 64.
    Aligned64,
}

/// The phrasings of each condition: upstream's and ours.
const PHRASES: [(Condition, &[&str]); 9] = [
    (Condition::PlusOne, &["increments by 1", "+1"]),
    (
        Condition::DownByFrame,
        &["decreases by frame size", "-(n + 16)"],
    ),
    (
        Condition::UpByFrame,
        &["increases by frame size", "+(n + 16) at its release"],
    ),
    (
        Condition::Advances,
        &[
            "advances correctly",
            "to (offset + n + 16) mod payload size",
        ],
    ),
    (Condition::Unchanged, &["unchanged"]),
    (Condition::WritersPid, &["the writer's pid"]),
    (
        Condition::HeaderInPlace,
        &["{n, sequence} at the frame offset"],
    ),
    (Condition::PostedAtRelease, &["posted once at release"]),
    (
        Condition::Aligned64,
        &["are 64-byte aligned", "multiples of 64"],
    ),
];

/// The field/condition pairs each step checks.
const WRITE_CHECKS: [(&str, Condition); 8] = [
    ("payload_written_count", Condition::PlusOne),
    ("payload_free_bytes", Condition::DownByFrame),
    ("payload_write_pos", Condition::Advances),
    ("payload_read_pos", Condition::Unchanged),
    ("payload_read_count", Condition::Unchanged),
    ("writer_pid", Condition::WritersPid),
    ("frame_header", Condition::HeaderInPlace),
    ("all values", Condition::Aligned64),
];
const READ_CHECKS: [(&str, Condition); 7] = [
    ("payload_read_count", Condition::PlusOne),
    ("payload_free_bytes", Condition::UpByFrame),
    ("payload_read_pos", Condition::Advances),
    ("sem-r", Condition::PostedAtRelease),
    ("payload_written_count", Condition::Unchanged),
    ("payload_write_pos", Condition::Unchanged),
    ("all values", Condition::Aligned64),
];

/// The rows of the step's table as (field, condition) pairs this step knows how to check.
fn checks(
    table: &DataTable,
    known: &[(&'static str, Condition)],
) -> Result<Vec<(&'static str, Condition)>> {
    let field = table.column("field")?;
    let condition = table.column("condition")?;
    ensure!(
        table.header.len() == 2,
        "the table's columns are [{}]; this step reads field and condition",
        table.header.join(", ")
    );
    table
        .map_rows(|row| {
            let name = row[field].trim();
            let text = row[condition]
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            let wanted = PHRASES
                .iter()
                .find(|(_, phrases)| phrases.iter().any(|p| p.eq_ignore_ascii_case(&text)))
                .map(|(c, _)| *c);
            let Some(&(name, expected)) = known.iter().find(|(f, _)| f.eq_ignore_ascii_case(name))
            else {
                bail!(
                    "this step does not check the field '{name}' (it checks {})",
                    known.iter().map(|(f, _)| *f).collect::<Vec<_>>().join(", ")
                );
            };
            match wanted {
                Some(c) if c == expected => Ok((name, c)),
                _ => {
                    let phrases = PHRASES
                        .iter()
                        .find(|(c, _)| *c == expected)
                        .map(|(_, p)| p.join("' or '"))
                        .unwrap_or_default();
                    bail!("'{text}' is not what this step checks of {name} (it checks '{phrases}')")
                }
            }
        })
        .map_err(with_cause)
}

/// The byte sizes and positions of `o` that are not multiples of 64.
fn unaligned(o: &OiebSnapshot) -> Vec<String> {
    [
        ("oieb_size", u64::from(o.oieb_size)),
        ("metadata_size", o.metadata_size),
        ("metadata_free_bytes", o.metadata_free_bytes),
        ("metadata_written_bytes", o.metadata_written_bytes),
        ("payload_size", o.payload_size),
        ("payload_free_bytes", o.payload_free_bytes),
        ("payload_write_pos", o.payload_write_pos),
        ("payload_read_pos", o.payload_read_pos),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_multiple_of(64))
    .map(|(f, v)| format!("{f} = {v}"))
    .collect()
}

#[when(regex = r"^performs multiple write operations$")]
fn performs_multiple_writes(world: &mut ZbWorld) -> Result<()> {
    let state = test_subject(world)?;
    let raw = raw_buffer(state)?;
    let mut writes = Vec::new();
    for size in WRITE_SIZES {
        let before = raw.oieb();
        let sequence = state.with_writer(|w| -> Result<u64> {
            let mut slot = w.get_frame_buffer(size)?;
            let sequence = slot.sequence();
            fill_frame_data(&mut slot, sequence);
            Ok(slot.commit())
        })??;
        writes.push(RecordedAccess {
            size: size as u64,
            sequence,
            before,
            after: raw.oieb(),
            released: None,
            header: Some(raw.frame_header(before.payload_write_pos)),
            space_signals: (0, 0),
        });
    }
    state.inspection.compliance.writes = writes;
    Ok(())
}

#[then(regex = r"^the '([^']*)' process should verify after each write:$")]
fn verify_after_each_write(world: &mut ZbWorld, step: &Step, process: String) -> Result<()> {
    let checks = checks(
        &data_table(world, step, BUILT_IN_WRITE_ROWS)?,
        &WRITE_CHECKS,
    )?;
    let state = world.process(&process);
    let writes = &state.inspection.compliance.writes;
    ensure!(writes.len() > 1, "fewer than two writes were recorded");
    let pid = current_pid();
    for (i, a) in writes.iter().enumerate() {
        let (b, o) = (&a.before, &a.after);
        let at = |what: String| format!("write {} ({} bytes): {what}", i + 1, a.size);
        let total = a.size + HEADER;
        ensure!(
            a.sequence == i as u64 + 1,
            at("sequence out of order".into())
        );
        for &(field, condition) in &checks {
            let (ok, found) = match condition {
                Condition::PlusOne => (
                    o.payload_written_count == b.payload_written_count + 1,
                    format!("{} -> {}", b.payload_written_count, o.payload_written_count),
                ),
                Condition::DownByFrame => (
                    o.payload_free_bytes + total == b.payload_free_bytes,
                    format!(
                        "{} -> {}, not -{total}",
                        b.payload_free_bytes, o.payload_free_bytes
                    ),
                ),
                Condition::Advances => (
                    o.payload_write_pos == (b.payload_write_pos + total) % b.payload_size,
                    format!(
                        "{} -> {}, not +{total}",
                        b.payload_write_pos, o.payload_write_pos
                    ),
                ),
                Condition::Unchanged if field == "payload_read_pos" => (
                    o.payload_read_pos == b.payload_read_pos,
                    format!("{} -> {}", b.payload_read_pos, o.payload_read_pos),
                ),
                Condition::Unchanged => (
                    o.payload_read_count == b.payload_read_count,
                    format!("{} -> {}", b.payload_read_count, o.payload_read_count),
                ),
                Condition::WritersPid => (
                    o.writer_pid == pid,
                    format!("{}, this writer is {pid}", o.writer_pid),
                ),
                Condition::HeaderInPlace => {
                    let expected = FrameHeader {
                        payload_size: a.size,
                        sequence: a.sequence,
                    };
                    (
                        a.header == Some(expected),
                        format!(
                            "{:?} at {}, expected {expected:?}",
                            a.header, b.payload_write_pos
                        ),
                    )
                }
                Condition::Aligned64 => {
                    let odd = unaligned(o);
                    (odd.is_empty(), odd.join(", "))
                }
                Condition::UpByFrame | Condition::PostedAtRelease => {
                    bail!("{condition:?} is not a write condition")
                }
            };
            ensure!(ok, at(format!("{field}: {found}")));
        }
    }
    Ok(())
}

#[when(regex = r"^the '([^']*)' process performs multiple read operations$")]
fn performs_multiple_reads(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let reader = state.reader()?;
    let raw = raw_buffer(state)?;
    let available = reader.pending_frames()?;
    ensure!(
        available > 1,
        "{available} frame(s) are waiting; multiple reads need more"
    );
    let mut reads = Vec::new();
    for _ in 0..available {
        let before = raw.oieb();
        let signals_before = reader.space_signals()?;
        let frame = reader.read_frame(READ_TIMEOUT)?;
        let after = raw.oieb();
        let (size, sequence) = (frame.len() as u64, frame.sequence());
        if let Some(i) = first_frame_data_mismatch(&frame, sequence) {
            bail!("frame {sequence} differs from its pattern at byte {i}");
        }
        drop(frame);
        reads.push(RecordedAccess {
            size,
            sequence,
            before,
            after,
            released: Some(raw.oieb()),
            header: None,
            space_signals: (signals_before, reader.space_signals()?),
        });
    }
    state.inspection.compliance.reads = reads;
    Ok(())
}

#[then(regex = r"^the '([^']*)' process should verify after each read:$")]
fn verify_after_each_read(world: &mut ZbWorld, step: &Step, process: String) -> Result<()> {
    let checks = checks(&data_table(world, step, BUILT_IN_READ_ROWS)?, &READ_CHECKS)?;
    let state = world.process(&process);
    let reads = &state.inspection.compliance.reads;
    ensure!(reads.len() > 1, "fewer than two reads were recorded");
    for (i, a) in reads.iter().enumerate() {
        let (b, held) = (&a.before, &a.after);
        let released = a.released.as_ref().expect("reads record their release");
        let at = |what: String| format!("read {} ({} bytes): {what}", i + 1, a.size);
        let total = a.size + HEADER;
        ensure!(
            i == 0 || a.sequence == reads[i - 1].sequence + 1,
            at("sequence out of order".into())
        );
        for &(field, condition) in &checks {
            let (ok, found) = match condition {
                Condition::PlusOne => (
                    held.payload_read_count == b.payload_read_count + 1,
                    format!("{} -> {}", b.payload_read_count, held.payload_read_count),
                ),
                // The frame's space returns when it is released, not when it is read.
                Condition::UpByFrame => (
                    held.payload_free_bytes == b.payload_free_bytes
                        && released.payload_free_bytes == b.payload_free_bytes + total,
                    format!(
                        "{} -> {} while held -> {} at release, not +{total} at release",
                        b.payload_free_bytes, held.payload_free_bytes, released.payload_free_bytes
                    ),
                ),
                Condition::Advances => (
                    held.payload_read_pos == (b.payload_read_pos + total) % b.payload_size,
                    format!(
                        "{} -> {}, not +{total}",
                        b.payload_read_pos, held.payload_read_pos
                    ),
                ),
                Condition::PostedAtRelease => (
                    a.space_signals.1 == a.space_signals.0 + 1,
                    format!("{} -> {} at release", a.space_signals.0, a.space_signals.1),
                ),
                Condition::Unchanged if field == "payload_write_pos" => (
                    released.payload_write_pos == b.payload_write_pos,
                    format!("{} -> {}", b.payload_write_pos, released.payload_write_pos),
                ),
                Condition::Unchanged => (
                    released.payload_written_count == b.payload_written_count,
                    format!(
                        "{} -> {}",
                        b.payload_written_count, released.payload_written_count
                    ),
                ),
                Condition::Aligned64 => {
                    let odd: Vec<String> = unaligned(held)
                        .into_iter()
                        .chain(unaligned(released))
                        .collect();
                    (odd.is_empty(), odd.join(", "))
                }
                Condition::DownByFrame | Condition::WritersPid | Condition::HeaderInPlace => {
                    bail!("{condition:?} is not a read condition")
                }
            };
            ensure!(ok, at(format!("{field}: {found}")));
        }
    }
    let end = reads.last().and_then(|a| a.released).expect("reads");
    ensure!(
        end.payload_free_bytes == end.payload_size
            && end.payload_read_pos == end.payload_write_pos
            && end.payload_read_count == end.payload_written_count,
        "after reading and releasing everything the OIEB is not back to empty: {end:?}"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_rows_are_all_interpreted() {
        let writes = checks(
            &DataTable::parse(BUILT_IN_WRITE_ROWS).unwrap(),
            &WRITE_CHECKS,
        );
        assert_eq!(writes.unwrap().len(), 4);
        let reads = checks(&DataTable::parse(BUILT_IN_READ_ROWS).unwrap(), &READ_CHECKS);
        assert_eq!(reads.unwrap().len(), 3);
    }

    #[test]
    fn the_frames_keep_positions_aligned_and_fit_the_default_ring() {
        let total: usize = WRITE_SIZES.iter().map(|s| s + HEADER as usize).sum();
        assert!(WRITE_SIZES
            .iter()
            .all(|s| (s + HEADER as usize).is_multiple_of(64)));
        assert!(total <= 10240);
    }
}
