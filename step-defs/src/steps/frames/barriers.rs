//! 7.3: a multi-field structure published through the ring arrives whole.

use std::sync::Arc;
use std::thread;

use anyhow::{anyhow, ensure, Result};
use cucumber::{then, when};
use zerobuffer::{BufferConfig, Reader, Writer};

use crate::drivers::explain::Explain as _;
use crate::drivers::roles::broadcast_subject;
use crate::drivers::structures::{
    check_consistency, struct_len, write_structure, wrong_fields, STRUCT_MAGIC,
};
use crate::world::{ZbWorld, READ_TIMEOUT};

// ---- 7.3 Memory barrier verification ---------------------------------------------------------

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
    state.frames.struct_read.frame = Some(received);
    Ok(())
}

fn read_structure(world: &mut ZbWorld) -> Result<(u64, Vec<u8>)> {
    broadcast_subject(world)
        .frames
        .struct_read
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
