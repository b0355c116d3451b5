//! Two processes racing to create one buffer: one wins, the other gets an error, nothing is
//! corrupted (4.11).

use std::sync::{mpsc, Arc, Barrier};
use std::thread;

use anyhow::{ensure, Result};
use cucumber::{given, then, when};
use zerobuffer::{Error, Reader, Writer};

use crate::drivers::endpoints::DEFAULT_CONFIG;
use crate::drivers::explain::Explain as _;
use crate::world::{ZbWorld, JOIN_TIMEOUT, READ_TIMEOUT};

#[given(regex = r"^two '([^']*)' processes$")]
fn two_processes(world: &mut ZbWorld, role: String) -> Result<()> {
    // 4.11 names no process Harmony recognises (never generated); in-process the two would-be
    // owners are threads of the process named here.
    world.process(&role).buffers.race.contenders = Some(2);
    Ok(())
}

#[when(regex = r"^both simultaneously attempt to create buffer '([^']*)'$")]
fn both_create(world: &mut ZbWorld, buffer: String) -> Result<()> {
    let name = world.buffer_name(&buffer);
    let state = world.current()?;
    let contenders = state
        .buffers
        .race
        .contenders
        .context("no contenders were prepared")?;
    let start = Arc::new(Barrier::new(contenders));
    let (tx, rx) = mpsc::channel();
    for i in 0..contenders {
        let (start, tx, name) = (Arc::clone(&start), tx.clone(), name.clone());
        thread::Builder::new()
            .name(format!("creator-{i}"))
            .spawn(move || {
                start.wait();
                let _ = tx.send(Reader::create(&name, DEFAULT_CONFIG));
            })
            .context("starting a creator thread")?;
    }
    let mut winners = Vec::new();
    for _ in 0..contenders {
        match rx
            .recv_timeout(JOIN_TIMEOUT)
            .context("a creator did not finish")?
        {
            Ok(reader) => winners.push(reader),
            Err(e) => state.buffers.race.race_errors.push(e),
        }
    }
    state.buffer = Some(name);
    state.reader = winners.pop().map(Arc::new);
    state.buffers.race.extra_readers = winners;
    Ok(())
}

#[then(regex = r"^only one should succeed$")]
fn only_one_succeeds(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    let winners = usize::from(state.reader.is_some()) + state.buffers.race.extra_readers.len();
    ensure!(winners == 1, "{winners} creations succeeded");
    Ok(())
}

#[then(regex = r"^other should receive appropriate error$")]
fn other_gets_error(world: &mut ZbWorld) -> Result<()> {
    let errors = &world.current()?.buffers.race.race_errors;
    ensure!(
        errors.len() == 1,
        "{} creations failed: {errors:?}",
        errors.len()
    );
    ensure!(
        matches!(errors[0], Error::ReaderAlreadyConnected(_)),
        "expected a reader-already-connected error, got: {}",
        errors[0]
    );
    Ok(())
}

#[then(regex = r"^no resource corruption should occur$")]
fn no_resource_corruption(world: &mut ZbWorld) -> Result<()> {
    // The buffer's OIEB is consistent and its reader alive; where this process owns the reader
    // and has no writer, a frame must also make the round trip.
    let state = world.current()?;
    let name = state.buffer()?.to_owned();
    let info = zerobuffer::inspect(&name)?;
    let o = info.oieb;
    let consistent = o.oieb_size == 128
        && o.version[0] == 1
        && o.payload_size > 0
        && o.payload_free_bytes <= o.payload_size
        && o.payload_write_pos <= o.payload_size
        && o.payload_read_pos <= o.payload_size
        && o.payload_read_count <= o.payload_written_count
        && o.metadata_written_bytes <= o.metadata_size
        && info.segment_size >= 128 + o.metadata_size + o.payload_size;
    ensure!(consistent, "the OIEB of '{name}' is inconsistent: {o:?}");
    ensure!(info.reader_alive, "the buffer's reader is not alive");
    if let (Some(reader), None) = (state.reader.clone(), &state.writer) {
        let mut writer = Writer::connect(&name).context("connecting a writer to check")?;
        writer.write_frame(b"integrity")?;
        let frame = reader.read_frame(READ_TIMEOUT)?;
        ensure!(
            &*frame == b"integrity",
            "the round-trip frame came back different"
        );
    }
    Ok(())
}
