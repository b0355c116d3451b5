//! 7.3: a multi-field structure published through the ring arrives whole.

use super::*;
use crate::world::{ZbWorld, READ_TIMEOUT};
use anyhow::{anyhow, ensure, Result};
use cucumber::{then, when};
use std::ops::Range;
use std::sync::Arc;
use std::thread;
use zerobuffer::{BufferConfig, Reader, Writer};

// ---- 7.3 Memory barrier verification ---------------------------------------------------------

/// The "complex structure" of 7.3 (its layout is not specified upstream): little-endian fields
/// with the generation (the frame's sequence number) at both ends and an FNV-1a checksum last.
const STRUCT_FIELDS: [(&str, usize); 10] = [
    ("magic", 8),
    ("generation", 8),
    ("width", 4),
    ("height", 4),
    ("timestamp_ns", 8),
    ("exposure", 8),
    ("label", 32),
    ("values", 128),
    ("generation_end", 8),
    ("checksum", 8),
];
const STRUCT_MAGIC: &[u8; 8] = b"ZBSTRUCT";

fn struct_fields() -> impl Iterator<Item = (&'static str, Range<usize>)> {
    STRUCT_FIELDS.iter().scan(0, |offset, &(name, len)| {
        let range = *offset..*offset + len;
        *offset += len;
        Some((name, range))
    })
}

pub(crate) fn struct_len() -> usize {
    STRUCT_FIELDS.iter().map(|(_, len)| len).sum()
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The bytes of the structure of `generation`.
pub(crate) fn structure(generation: u64) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(struct_len());
    bytes.extend_from_slice(STRUCT_MAGIC);
    bytes.extend_from_slice(&generation.to_le_bytes());
    bytes.extend_from_slice(&1920u32.to_le_bytes());
    bytes.extend_from_slice(&1080u32.to_le_bytes());
    bytes.extend_from_slice(&(1_700_000_000_000_000_000u64 + generation).to_le_bytes());
    bytes.extend_from_slice(&(generation as f64 / 64.0).to_le_bytes());
    let mut label = [b' '; 32];
    let text = format!("zerobuffer structure {generation}");
    label[..text.len().min(32)].copy_from_slice(&text.as_bytes()[..text.len().min(32)]);
    bytes.extend_from_slice(&label);
    for i in 0..16u64 {
        bytes.extend_from_slice(&(generation.wrapping_mul(1_000_003) ^ (i * i)).to_le_bytes());
    }
    bytes.extend_from_slice(&generation.to_le_bytes());
    let checksum = fnv1a(&bytes);
    bytes.extend_from_slice(&checksum.to_le_bytes());
    bytes
}

/// Fills a reserved slot field by field, checksum last, as a producer publishing a structure
/// in place does; the commit that follows must make all of it visible at once.
pub(crate) fn write_structure(slot: &mut [u8], generation: u64) {
    let bytes = structure(generation);
    for (_, range) in struct_fields() {
        slot[range.clone()].copy_from_slice(&bytes[range]);
    }
}

/// Names of the fields of `received` that differ from the structure of `generation`.
pub(crate) fn wrong_fields(received: &[u8], generation: u64) -> Vec<&'static str> {
    let expected = structure(generation);
    struct_fields()
        .filter(|(_, range)| received.get(range.clone()) != expected.get(range.clone()))
        .map(|(name, _)| name)
        .collect()
}

/// The structure is internally consistent: both generations equal `sequence` and the checksum
/// matches the bytes as received.
pub(crate) fn check_consistency(received: &[u8], sequence: u64) -> Result<()> {
    let len = struct_len();
    ensure!(
        received.len() == len,
        "the structure has {} bytes, expected {len}",
        received.len()
    );
    let word = |at: usize| u64::from_le_bytes(received[at..at + 8].try_into().expect("8 bytes"));
    let (first, last) = (word(8), word(len - 16));
    ensure!(
        first == sequence && last == sequence,
        "generations {first} (start) and {last} (end), frame sequence {sequence}: a torn write"
    );
    let (stored, computed) = (word(len - 8), fnv1a(&received[..len - 8]));
    ensure!(
        stored == computed,
        "checksum {stored:#018x} stored, {computed:#018x} computed: a partially visible write"
    );
    Ok(())
}

/// The structure the reader took after the data signal.
#[derive(Default)]
struct StructRead {
    frame: Option<(u64, Vec<u8>)>,
}

#[when(regex = r"^the '([^']*)' process writes complex structure with multiple fields$")]
fn writes_structure(world: &mut ZbWorld, process: String) -> Result<()> {
    world
        .process(&process)
        .with_writer(|w| -> Result<u64> {
            let mut slot = w.get_frame_buffer(struct_len())?;
            let generation = slot.sequence();
            write_structure(&mut slot, generation);
            Ok(slot.commit())
        })?
        .context("publishing the structure")
        .map(drop)
}

/// Frames of the in-process ordering probe.
const BARRIER_PROBE_FRAMES: u64 = 5000;

#[when(regex = r"^the system ensures memory barriers are in place$")]
fn memory_barriers_in_place(world: &mut ZbWorld) -> Result<()> {
    // Barriers cannot be seen, only their effect: a writer thread publishes structures in
    // place through a small ring while a reader thread of this process checks that each one
    // is complete the moment its signal arrives.
    let name = world.buffer_name("barrier-probe");
    let reader = Arc::new(Reader::create(&name, BufferConfig::new(0, 4096))?);
    let mut writer = Writer::connect(&name)?;
    let producer =
        thread::Builder::new()
            .name("barrier-writer".into())
            .spawn(move || -> Result<()> {
                for _ in 0..BARRIER_PROBE_FRAMES {
                    let mut slot = writer.get_frame_buffer(struct_len())?;
                    let generation = slot.sequence();
                    write_structure(&mut slot, generation);
                    slot.commit();
                }
                Ok(())
            })?;
    let mut torn = Vec::new();
    for expected in 1..=BARRIER_PROBE_FRAMES {
        let frame = reader
            .read_frame(READ_TIMEOUT)
            .with_context(|| format!("reading probe structure {expected}"))?;
        ensure!(
            frame.sequence() == expected,
            "probe frame {} arrived, expected {expected}",
            frame.sequence()
        );
        let wrong = wrong_fields(&frame, expected);
        if !wrong.is_empty() && torn.len() < 5 {
            torn.push(format!("structure {expected}: {}", wrong.join(", ")));
        }
    }
    producer
        .join()
        .map_err(|_| anyhow!("the probe writer panicked"))??;
    ensure!(
        torn.is_empty(),
        "structures read right after their signal were incomplete: {}",
        torn.join("; ")
    );
    Ok(())
}

#[then(regex = r"^the '([^']*)' process should read structure after semaphore signal$")]
fn reads_structure_after_signal(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let reader = state.reader()?;
    let signals = reader.pending_frames()?;
    ensure!(
        signals >= 1,
        "no data signal is pending (sem-w is 0): the structure was not published"
    );
    let frame = reader.read_frame(READ_TIMEOUT)?;
    let received = (frame.sequence(), frame.to_vec());
    drop(frame);
    ensure!(
        received.1.len() == struct_len() && received.1.starts_with(STRUCT_MAGIC),
        "frame {} ({} bytes) is not a structure",
        received.0,
        received.1.len()
    );
    state.scratch::<StructRead>().frame = Some(received);
    Ok(())
}

fn read_structure(world: &mut ZbWorld) -> Result<(u64, Vec<u8>)> {
    subject(world)
        .scratch::<StructRead>()
        .frame
        .clone()
        .context("no structure was read")
}

#[then(regex = r"^all fields should be fully visible$")]
fn all_fields_visible(world: &mut ZbWorld) -> Result<()> {
    let (sequence, bytes) = read_structure(world)?;
    let wrong = wrong_fields(&bytes, sequence);
    ensure!(
        wrong.is_empty(),
        "fields with other values than written: {}",
        wrong.join(", ")
    );
    Ok(())
}

#[then(regex = r"^no partially visible writes should occur$")]
fn no_partial_writes(world: &mut ZbWorld) -> Result<()> {
    let (sequence, bytes) = read_structure(world)?;
    check_consistency(&bytes, sequence)
}
