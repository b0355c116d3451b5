//! 5.6: the "continuous free bytes" of protocol.md §3.7, row by row from the step's table.

use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Result};
use cucumber::gherkin::Step;
use cucumber::{given, then, when};
use zerobuffer::{BufferConfig, Reader, Writer};
use zerobuffer_test_support::RawBuffer;

use crate::captures::num;
use crate::drivers::endpoints::{create_buffer, with_cause, DEFAULT_CONFIG};
use crate::drivers::explain::Explain as _;
use crate::drivers::ring::{unread_entries, HEADER};
use crate::drivers::streams::write_seeded;
use crate::drivers::tables::{data_table, DataTable};
use crate::state::inspection::FreeSpaceRow;
use crate::world::{ZbWorld, READ_TIMEOUT};

/// protocol.md §3.7.
fn continuous_free_bytes(size: u64, write_pos: u64, read_pos: u64) -> u64 {
    if write_pos >= read_pos {
        if read_pos == 0 {
            size - write_pos
        } else {
            (size - write_pos).max(read_pos)
        }
    } else {
        read_pos - write_pos
    }
}

#[given(regex = r"^the '([^']*)' process creates buffer '([^']*)' with specific configuration$")]
fn creates_buffer_specific(world: &mut ZbWorld, process: String, buffer: String) -> Result<()> {
    // The free-space rows are written for a 10240-byte ring (the default config's).
    create_buffer(world, &process, &buffer, DEFAULT_CONFIG)
}

/// The table of upstream 5.6, for an orchestrator that drops tables: every expected value is
/// the protocol's formula ("calculated").
const BUILT_IN_ROWS: &str = "
    | write_pos | read_pos | expected_result | scenario                      |
    | 5000      | 2000     | calculated      | write_pos > read_pos          |
    | 2000      | 5000     | calculated      | write_pos < read_pos          |
    | 5000      | 5000     | calculated      | write_pos == read_pos empty   |
    | 0         | 0        | calculated      | both at start                 |
    | 5000      | 0        | calculated      | read_pos at start cannot wrap |
";

/// One row of the table: the positions, the expected continuous free bytes (`None`: whatever
/// the formula gives, "calculated") and the row's label.
struct Row {
    write_pos: u64,
    read_pos: u64,
    expected: Option<u64>,
    label: String,
}

fn rows(table: &DataTable) -> Result<Vec<Row>> {
    let write_pos = table.column("write_pos")?;
    let read_pos = table.column("read_pos")?;
    let expected = ["expected_result", "continuous_free_bytes"]
        .iter()
        .find_map(|c| table.column(c).ok())
        .context("the table needs a column 'expected_result' (or 'continuous_free_bytes')")?;
    let label = ["scenario", "description"]
        .iter()
        .find_map(|c| table.column(c).ok());
    let known = [Some(write_pos), Some(read_pos), Some(expected), label];
    if let Some(extra) = (0..table.header.len()).find(|i| !known.contains(&Some(*i))) {
        bail!(
            "the table's column '{}' is not one this step reads (write_pos, read_pos, \
             expected_result or continuous_free_bytes, scenario or description)",
            table.header[extra]
        );
    }
    table
        .map_rows(|row| {
            let value = row[expected].trim();
            let expected = match value {
                "calculated" => None,
                _ => Some(num(value).map_err(|_| {
                    anyhow!("the expected value '{value}' is neither a number nor 'calculated'")
                })?),
            };
            Ok(Row {
                write_pos: num(&row[write_pos])?,
                read_pos: num(&row[read_pos])?,
                expected,
                label: label.map(|l| row[l].clone()).unwrap_or_default(),
            })
        })
        .map_err(with_cause)
}

/// For every row of the step's table, a fresh buffer of the reader's configuration is driven
/// (by real writes and reads) to the row's positions. The formula is then compared with the
/// row's value, with an independent computation from the ring's contents, and with what the
/// writer actually accepts.
#[when(regex = r"^the system tests continuous_free_bytes calculation with:$")]
fn tests_continuous_free_bytes(world: &mut ZbWorld, step: &Step) -> Result<()> {
    let table = data_table(world, step, BUILT_IN_ROWS)?;
    let rows = rows(&table)?;
    let config = world.current()?.reader()?.config();
    let mut measured = Vec::new();
    for (i, row) in rows.into_iter().enumerate() {
        let name = world.buffer_name(&format!("continuous-free-row{}", i + 1));
        let at = format!(
            "row {} (write_pos {}, read_pos {}{})",
            i + 1,
            row.write_pos,
            row.read_pos,
            if row.label.is_empty() {
                String::new()
            } else {
                format!(", {}", row.label)
            }
        );
        let result = measure_free_space(&name, config, &row).with_context(|| at.clone())?;
        tracing::debug!(?result, "continuous free bytes");
        measured.push((at, result));
    }
    world.current()?.inspection.free_space.0 = measured;
    Ok(())
}

fn measure_free_space(name: &str, config: BufferConfig, row: &Row) -> Result<FreeSpaceRow> {
    let (write_pos, read_pos) = (row.write_pos, row.read_pos);
    let reader = Reader::create(name, config)?;
    let mut writer = Writer::connect(name)?;
    // Nothing here may wait: a write either fits now or is refused at once.
    writer.set_write_timeout(Duration::ZERO);
    let size = writer.payload_size();
    ensure!(
        write_pos < size && read_pos < size,
        "the positions must lie inside the {size}-byte ring"
    );
    // One frame of `total` ring bytes (header included); a gap of 1 to 16 bytes cannot be
    // made of frames.
    let mut put = |total: u64| -> Result<()> {
        match total {
            0 => Ok(()),
            1..=HEADER => bail!(
                "a gap of {total} bytes cannot be filled: a frame takes at least {} bytes",
                HEADER + 1
            ),
            _ => write_seeded(&mut writer, (total - HEADER) as usize)
                .map(drop)
                .with_context(|| format!("writing a frame of {total} ring bytes")),
        }
    };
    // Both positions to read_pos: one frame, read and released.
    if read_pos > 0 {
        put(read_pos)?;
        drop(reader.read_frame(READ_TIMEOUT)?);
    }
    if write_pos >= read_pos {
        put(write_pos - read_pos)?;
    } else {
        // Fill up to the end (the writer continues at 0), then up to write_pos.
        put(size - read_pos)?;
        put(write_pos)?;
    }
    let raw = RawBuffer::open(name)?;
    let state = raw.oieb();
    ensure!(
        (state.payload_write_pos, state.payload_read_pos) == (write_pos, read_pos),
        "the ring reached ({}, {}) instead",
        state.payload_write_pos,
        state.payload_read_pos
    );
    let scanned = scanned_continuous_free(&raw)?;
    // Timeout zero: a slot is granted only if the space is there now; it is dropped
    // uncommitted, which leaves no trace.
    let mut accepts = |total: u64| {
        total > HEADER
            && total <= size
            && writer.get_frame_buffer((total - HEADER) as usize).is_ok()
    };
    let writer_takes = accepts(scanned);
    let writer_refuses_more = !accepts(scanned + 1);
    ensure!(raw.oieb() == state, "probing the writer changed the OIEB");
    Ok(FreeSpaceRow {
        expected: row.expected,
        formula: continuous_free_bytes(size, state.payload_write_pos, state.payload_read_pos),
        scanned,
        writer_takes,
        writer_refuses_more,
    })
}

/// The longest run of bytes free of unread entries that a frame can use: from write_pos up
/// to the first unread byte or the ring end, or, after a wrap (which needs the tail to hold
/// nothing unread), from 0 up to the first unread byte but not past the marker at write_pos.
fn scanned_continuous_free(raw: &RawBuffer) -> Result<u64> {
    let oieb = raw.oieb();
    let size = oieb.payload_size as usize;
    let write_pos = oieb.payload_write_pos as usize;
    let mut used = vec![false; size];
    for e in unread_entries(raw)? {
        used[e.offset as usize..(e.offset + e.bytes) as usize].fill(true);
    }
    let free_run = |from: usize| used[from..].iter().take_while(|u| !**u).count();
    let at_write_pos = free_run(write_pos);
    let after_wrap = if write_pos > 0 && used[write_pos..].iter().all(|u| !u) {
        free_run(0).min(write_pos)
    } else {
        0
    };
    Ok(at_write_pos.max(after_wrap) as u64)
}

#[then(regex = r"^the '([^']*)' process calculations should match specification$")]
fn calculations_match(world: &mut ZbWorld, process: String) -> Result<()> {
    let rows = &world.process(&process).inspection.free_space.0;
    ensure!(!rows.is_empty(), "no continuous free bytes were calculated");
    let mut problems = Vec::new();
    for (at, r) in rows {
        if let Some(expected) = r.expected.filter(|&e| e != r.formula) {
            problems.push(format!(
                "{at}: formula gives {}, the table says {expected}",
                r.formula
            ));
        }
        if r.scanned != r.formula {
            problems.push(format!(
                "{at}: the ring has {} usable bytes, formula {}",
                r.scanned, r.formula
            ));
        }
        if !r.writer_takes || !r.writer_refuses_more {
            problems.push(format!(
                "{at}: the writer {} a {}-byte frame (header included) and {} one byte more",
                if r.writer_takes { "takes" } else { "refuses" },
                r.scanned,
                if r.writer_refuses_more {
                    "refuses"
                } else {
                    "takes"
                },
            ));
        }
    }
    ensure!(problems.is_empty(), "{}", problems.join("; "));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_rows_are_all_interpreted() {
        let rows = rows(&DataTable::parse(BUILT_IN_ROWS).unwrap()).unwrap();
        let positions: Vec<_> = rows.iter().map(|r| (r.write_pos, r.read_pos)).collect();
        assert_eq!(
            positions,
            [(5000, 2000), (2000, 5000), (5000, 5000), (0, 0), (5000, 0)]
        );
        assert!(rows
            .iter()
            .all(|r| r.expected.is_none() && !r.label.is_empty()));
    }
}
