//! Group F of steps.md: the edge cases of feature 04 (alternating and exact-fit frame sizes,
//! wrap-around, signal coalescing, flow control with a slow reader, writer rejection on a full
//! buffer, creation races, a writer without a reader).
//!
//! The write that has to wait for space (4.1, 4.8, 4.10) is in [`wait`], the exact fit and the
//! frame overhead (4.6, 4.7) in [`sizes`], the slow reader of 4.5 in [`flow`].

use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Result};
use cucumber::{given, then, when};
use parking_lot::Mutex;
use zerobuffer::layout::FrameHeader;
use zerobuffer::testdata::{first_frame_data_mismatch, simple_data};
use zerobuffer::{Error, Reader, Writer};
use zerobuffer_test_support::RawBuffer;

use crate::captures::Number;
use crate::drivers::endpoints::{oieb, write, DEFAULT_CONFIG};
use crate::drivers::explain::Explain as _;
use crate::drivers::os::leftovers;
use crate::drivers::poll::{poll_until, retry_until};
use crate::drivers::ring::HEADER;
use crate::drivers::streams::spawn_seeded_stream;
use crate::state::frames::Drain;
use crate::state::metadata::LastWrite;
use crate::world::{ProcessState, ReceivedFrame, ZbWorld, JOIN_TIMEOUT, READ_TIMEOUT};

mod flow;
mod sizes;
mod wait;

/// Label of 4.9's writer.
const RAPID_WRITER: &str = "rapid-writer";
/// Writes one frame and remembers where it landed, for a later "verify ... succeeded" step.
fn write_recorded(state: &mut ProcessState, data: Vec<u8>) -> Result<()> {
    let (sequence, after) = state
        .with_writer(|w| w.write_frame(&data).map(|seq| (seq, w.oieb_snapshot())))?
        .with_context(|| format!("writing a {}-byte frame", data.len()))?;
    // The frame ends where the write position now is (stored modulo the ring size).
    let p = after.payload_size;
    let offset = (after.payload_write_pos + p - (data.len() as u64 + HEADER)) % p;
    state.metadata.last_write = Some(LastWrite {
        offset,
        sequence,
        data,
    });
    Ok(())
}

/// The remembered frame is in the ring: its header and every data byte, and the OIEB counts it.
fn verify_last_write(state: &mut ProcessState) -> Result<()> {
    let name = state.buffer()?.to_owned();
    let last = state
        .metadata
        .last_write
        .as_ref()
        .context("no frame was written by this process")?;
    let raw = RawBuffer::open(&name)?;
    let header = raw.frame_header(last.offset);
    let expected = FrameHeader {
        payload_size: last.data.len() as u64,
        sequence: last.sequence,
    };
    ensure!(
        header == expected,
        "the ring holds {header:?} at offset {}, expected {expected:?}",
        last.offset
    );
    let start = raw.payload_offset() + (last.offset + HEADER) as usize;
    ensure!(
        raw.read(start, last.data.len()) == last.data,
        "the frame's data in the ring differs from what was written"
    );
    let counted = raw.oieb().payload_written_count;
    ensure!(
        counted >= last.sequence,
        "the OIEB counts {counted} written frames, but frame {} was committed",
        last.sequence
    );
    Ok(())
}

// ---- 4.2 Semaphore signal coalescing -----------------------------------------------------------

#[when(regex = r"^the '(.*)' process writes '(.*)' frames rapidly without reader consuming$")]
fn writes_frames_rapidly(world: &mut ZbWorld, process: String, count: Number<usize>) -> Result<()> {
    let count = count.0;
    let state = world.process(&process);
    for i in 0..count {
        write(state, format!("rapid_frame_{i}").as_bytes())?;
    }
    Ok(())
}

#[then(regex = r"^the '(.*)' process the semaphore count should represent pending frames$")]
fn semaphore_counts_pending(world: &mut ZbWorld, process: String) -> Result<()> {
    // Harmony sends this to the writer: it reads the buffer's `sem-w` value (sem_getvalue)
    // through its own handle and compares it with the entries the OIEB says are written but
    // not yet read. (Wrap markers count as entries but post nothing; 4.2's frames never wrap.)
    let state = world.process(&process);
    let value = state.with_writer(|w| w.pending_frames())??;
    let o = oieb(state)?;
    let unread = o.payload_written_count - o.payload_read_count;
    ensure!(
        unread > 0,
        "no frame is pending: the OIEB shows everything read"
    );
    ensure!(
        value == unread,
        "sem-w holds {value}, but {unread} frames are written and not yet read"
    );
    Ok(())
}

#[when(regex = r"^the '(.*)' process wakes and processes all frames$")]
fn wakes_and_processes(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let reader = state.reader()?;
    state.frames.signals_at_wake = Some(reader.pending_frames()?);
    state.received.clear();
    for _ in 0..100 {
        match reader.read_frame(Duration::from_millis(100)) {
            Ok(frame) => state.received.push(ReceivedFrame {
                sequence: frame.sequence(),
                data: frame.to_vec(),
            }),
            Err(Error::Timeout(_)) => return Ok(()),
            Err(e) => return Err(e).context("draining the frames"),
        }
    }
    bail!("more than 100 frames were waiting")
}

#[then(regex = r"^the '(.*)' process all frames should be read correctly$")]
fn all_frames_read_correctly(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    ensure!(!state.received.is_empty(), "no frame was read");
    let first = state.received[0].sequence;
    for (i, frame) in state.received.iter().enumerate() {
        let expected = format!("rapid_frame_{i}");
        ensure!(
            frame.data == expected.as_bytes() && frame.sequence == first + i as u64,
            "frame {i} is {:?} (sequence {}), expected {expected:?} (sequence {})",
            String::from_utf8_lossy(&frame.data),
            frame.sequence,
            first + i as u64
        );
    }
    let o = oieb(state)?;
    ensure!(
        o.payload_read_count == o.payload_written_count,
        "{} entries written but {} read: frames were left behind",
        o.payload_written_count,
        o.payload_read_count
    );
    Ok(())
}

#[then(regex = r"^the '(.*)' process the coalesced signals should be handled properly$")]
fn coalesced_signals_handled(world: &mut ZbWorld, process: String) -> Result<()> {
    // Every post was taken exactly once: as many frames as signals had built up, none left over.
    let state = world.process(&process);
    let signals = state
        .frames
        .signals_at_wake
        .context("the reader has not processed the frames")?;
    let read = state.received.len() as u64;
    ensure!(
        signals > 1,
        "only {signals} signal(s) were pending at wake-up: nothing was coalesced"
    );
    ensure!(
        read == signals,
        "{signals} signals were pending but {read} frames were read"
    );
    let left = state.reader()?.pending_frames()?;
    ensure!(left == 0, "{left} signal(s) remain after draining");
    Ok(())
}

// ---- 4.3 / 4.4 Metadata block of size 0, minimum buffer ---------------------------------------

#[when(regex = r"^the '(.*)' process attempts to write metadata$")]
fn attempts_metadata(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    state.last_error = state
        .with_writer(|w| w.set_metadata(&simple_data(100)))?
        .err();
    Ok(())
}

#[then(regex = r"^the '(.*)' process metadata write should fail appropriately$")]
fn metadata_write_fails(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let err = state.take_error("a metadata-too-large error")?;
    ensure!(
        matches!(err, Error::MetadataTooLarge { .. }),
        "expected a metadata-too-large error, got: {err}"
    );
    let written = oieb(state)?.metadata_written_bytes;
    ensure!(
        written == 0,
        "the failed write left {written} metadata bytes"
    );
    Ok(())
}

#[when(regex = r"^the '(.*)' process writes frame without metadata$")]
fn writes_frame_without_metadata(world: &mut ZbWorld, process: String) -> Result<()> {
    write_recorded(world.process(&process), b"no_metadata_frame".to_vec())
}

#[then(regex = r"^the '(.*)' process should verify frame write succeeded$")]
#[then(regex = r"^the '(.*)' process should verify write succeeded$")]
fn verifies_write_succeeded(world: &mut ZbWorld, process: String) -> Result<()> {
    verify_last_write(world.process(&process))
}

#[then(regex = r"^the '(.*)' process should verify system works correctly without metadata$")]
fn works_without_metadata(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let reader = state.reader()?;
    let o = reader.oieb_snapshot();
    ensure!(
        o.metadata_size == 0,
        "the metadata block has {} bytes",
        o.metadata_size
    );
    let metadata = reader.metadata()?;
    ensure!(
        metadata.is_empty() && o.metadata_written_bytes == 0,
        "the reader sees {} bytes of metadata",
        metadata.len()
    );
    Ok(())
}

#[when(regex = r"^the '(.*)' process writes single byte frame$")]
fn writes_single_byte(world: &mut ZbWorld, process: String) -> Result<()> {
    write_recorded(world.process(&process), vec![0x42])
}

#[when(regex = r"^the '(.*)' process attempts to write '(.*)' byte frame$")]
fn attempts_sized_frame(world: &mut ZbWorld, process: String, size: Number<usize>) -> Result<()> {
    let data = simple_data(size.0);
    let state = world.process(&process);
    state.last_error = state.with_writer(|w| w.write_frame(&data))?.err();
    Ok(())
}

#[then(regex = r"^the '(.*)' process should receive FrameTooLargeException$")]
fn receives_frame_too_large(world: &mut ZbWorld, process: String) -> Result<()> {
    let err = world
        .process(&process)
        .take_error("a frame-too-large error")?;
    ensure!(
        matches!(err, Error::FrameTooLarge { .. }),
        "expected a frame-too-large error, got: {err}"
    );
    Ok(())
}

// ---- 4.9 Rapid write-read cycles ---------------------------------------------------------------

#[when(regex = r"^the '([^']*)' process writes '([^']*)' frames of size '([^']*)' rapidly$")]
fn writes_frames_rapidly_sized(
    world: &mut ZbWorld,
    process: String,
    count: Number<u64>,
    size: Number<usize>,
) -> Result<()> {
    let (count, size) = (count.0, size.0);
    spawn_seeded_stream(world.process(&process), RAPID_WRITER, count, size)
}

#[when(regex = r"^the '([^']*)' process reads all frames and signals immediately$")]
fn reads_all_frames(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let reader = state.reader()?;
    let mut drain = Drain::default();
    let budget = Duration::from_secs(60);
    retry_until(budget, || -> Result<Option<()>> {
        match reader.read_frame(Duration::from_secs(1)) {
            Ok(frame) => {
                // The frame is checked and released at once.
                if let Some(i) = first_frame_data_mismatch(&frame, frame.sequence()) {
                    drain
                        .bad_data
                        .push(format!("frame {} differs at byte {i}", frame.sequence()));
                }
                drain.sequences.push(frame.sequence());
            }
            Err(Error::WriterDead) => drain.stream_ended = true,
            Err(Error::Timeout(_)) => {
                drain.stream_ended = !reader.is_writer_connected() && reader.pending_frames()? == 0
            }
            Err(e) => return Err(e).context("reading the stream"),
        }
        Ok(drain.stream_ended.then_some(()))
    })?;
    let read = drain.sequences.len();
    let ended = drain.stream_ended;
    state.frames.drain = Some(drain);
    ensure!(
        ended,
        "the stream did not end within {budget:?} ({read} frames read)"
    );
    Ok(())
}

fn drain(state: &mut ProcessState) -> Result<&Drain> {
    state
        .frames
        .drain
        .as_ref()
        .context("this process has not read the stream")
}

#[then(regex = r"^all sequence numbers should be correct$")]
fn all_sequences_correct(world: &mut ZbWorld) -> Result<()> {
    let drain = drain(world.current()?)?;
    ensure!(!drain.sequences.is_empty(), "no frame was read");
    for (i, &seq) in drain.sequences.iter().enumerate() {
        ensure!(
            seq == i as u64 + 1,
            "frame {} has sequence {seq}, expected {}",
            i + 1,
            i + 1
        );
    }
    ensure!(
        drain.bad_data.is_empty(),
        "damaged frames: {}",
        drain.bad_data.join("; ")
    );
    Ok(())
}

#[then(regex = r"^no frames should be lost$")]
fn no_frames_lost(world: &mut ZbWorld) -> Result<()> {
    // On either side: every entry the writer committed has been taken by the reader (waiting a
    // little for a reader in another process to catch up), and the frames this process
    // recorded as reader have no gap in their sequence numbers.
    let state = world.current()?;
    let recorded: Vec<u64> = match &state.frames.drain {
        Some(d) => d.sequences.clone(),
        None => state.received.iter().map(|f| f.sequence).collect(),
    };
    if let Some(gap) = recorded.windows(2).find(|w| w[1] != w[0] + 1) {
        bail!("frames {} to {} are missing", gap[0] + 1, gap[1] - 1);
    }
    let mut last = oieb(state)?;
    let all_read = poll_until(Duration::from_secs(5), Duration::from_millis(20), || {
        last = oieb(state)?;
        Ok((last.payload_written_count > 0
            && last.payload_read_count == last.payload_written_count)
            .then_some(()))
    })?;
    ensure!(
        all_read.is_some(),
        "{} entries were written but {} read",
        last.payload_written_count,
        last.payload_read_count
    );
    Ok(())
}

#[then(regex = r"^no deadlocks should occur$")]
fn no_deadlocks_occur(world: &mut ZbWorld) -> Result<()> {
    // The exchange ran to its end within the reader's budget, and nothing is stuck: no frame
    // signalled but untaken, none held, the writer gone after its last frame.
    let state = world.current()?;
    let ended = drain(state)?.stream_ended;
    ensure!(ended, "the stream did not run to its end");
    let reader = state.reader()?;
    let (pending, held) = (reader.pending_frames()?, reader.outstanding_frames());
    ensure!(
        pending == 0 && held == 0,
        "{pending} frames still signalled, {held} still held"
    );
    ensure!(
        !reader.is_writer_connected(),
        "the writer is still attached after the stream ended"
    );
    Ok(())
}

// ---- 4.11 Concurrent initialization race ---------------------------------------------------------

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

// ---- 4.12 Writer before reader -------------------------------------------------------------------

#[when(regex = r"^a '([^']*)' process attempts to connect to non-existent buffer '([^']*)'$")]
fn connects_to_missing_buffer(world: &mut ZbWorld, role: String, buffer: String) -> Result<()> {
    // 4.12 is never generated under Harmony; in-process the attempt runs as the process named.
    let name = world.buffer_name(&buffer);
    let state = world.process(&role);
    state.buffer = Some(name.clone());
    match Writer::connect(&name) {
        Ok(writer) => {
            state.last_error = None;
            state.writer = Some(Arc::new(Mutex::new(Some(writer))));
        }
        Err(e) => state.last_error = Some(e),
    }
    Ok(())
}

fn kept_error(state: &ProcessState) -> Result<&Error> {
    state
        .last_error
        .as_ref()
        .ok_or_else(|| anyhow!("the '{}' process's connection succeeded", state.name))
}

#[then(regex = r"^the connection should fail with appropriate error$")]
fn connection_fails_appropriately(world: &mut ZbWorld) -> Result<()> {
    let err = kept_error(world.current()?)?;
    ensure!(
        matches!(err, Error::BufferNotFound { .. }),
        "expected a buffer-not-found error, got: {err}"
    );
    Ok(())
}

#[then(regex = r"^error should indicate no shared memory found$")]
fn error_says_no_shared_memory(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    let err = kept_error(state)?;
    ensure!(
        matches!(err, Error::BufferNotFound { what, .. } if *what == "shared memory"),
        "expected the error to name the missing shared memory, got: {err}"
    );
    // And the attempt created nothing.
    let left = leftovers(state.buffer()?);
    ensure!(
        left.is_empty(),
        "{} exist(s) after the failed connection",
        left.join(", ")
    );
    Ok(())
}
