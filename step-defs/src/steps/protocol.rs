//! Group N of steps.md: feature 12, protocol compliance. The OIEB after every write and read
//! (protocol.md §2–§3), the block layout and alignment, the reader's lock file (§5.1) and the
//! semaphore names (§0, §4.1). The checks read shared memory directly through
//! `zerobuffer::testing::RawBuffer`, independently of the reader's and writer's own views.

use std::fs::{self, File, TryLockError};
use std::os::unix::fs::MetadataExt;

use crate::explain::Explain as _;
use anyhow::{anyhow, bail, ensure, Result};
use cucumber::gherkin::Step;
use cucumber::{given, then, when};
use zerobuffer::layout::{FrameHeader, FRAME_HEADER_SIZE, OIEB_SIGNATURE, OIEB_SIZE};
use zerobuffer::testdata::{fill_frame_data, first_frame_data_mismatch, is_simple_data};
use zerobuffer::testing::NamedSemaphore;
use zerobuffer::testing::RawBuffer;
use zerobuffer::{
    current_pid, is_process_alive, BufferConfig, ObjectPaths, OiebSnapshot, Reader, BLOCK_ALIGNMENT,
};

use super::basic::DEFAULT_CONFIG;
use super::stress::{leftovers, mappings_of, subject};
use crate::world::{ProcessState, ZbWorld, READ_TIMEOUT};

const HEADER: u64 = FRAME_HEADER_SIZE as u64;

/// The rows of a data table after its header row (Harmony never sends tables; a local run
/// has them). Each table of feature 12 names what the step checks, so a row the step does
/// not check fails it instead of being silently ignored.
fn table_rows(step: &Step) -> Vec<Vec<String>> {
    step.table
        .as_ref()
        .map(|t| t.rows.iter().skip(1).cloned().collect())
        .unwrap_or_default()
}

fn check_table_fields(step: &Step, checked: &[&str]) -> Result<()> {
    for row in table_rows(step) {
        let field = row.first().map(String::as_str).unwrap_or_default();
        ensure!(
            checked.contains(&field),
            "the table asks about '{field}', which this step does not check (it checks {checked:?})"
        );
    }
    Ok(())
}

fn raw_buffer(state: &ProcessState) -> Result<RawBuffer> {
    let name = state.buffer()?;
    RawBuffer::open(name).with_context(|| format!("mapping '{name}' for inspection"))
}

#[given(regex = r"^we are in DEBUG mode for protocol compliance tests$")]
fn debug_mode(world: &mut ZbWorld) -> Result<()> {
    // "DEBUG mode" upstream means OIEB introspection. Ours is `zerobuffer::testing`; check on
    // a probe buffer that its view of shared memory agrees with the library's.
    let name = world.buffer_name("protocol-introspection-probe");
    let reader = Reader::create(&name, BufferConfig::new(64, 1024))?;
    let raw = RawBuffer::open(&name)?;
    ensure!(
        raw.read_u64(0) == OIEB_SIGNATURE && raw.oieb() == reader.oieb_snapshot(),
        "the raw view of the OIEB disagrees with the reader's: {:?} vs {:?}",
        raw.oieb(),
        reader.oieb_snapshot()
    );
    Ok(())
}

// ---- 12.1 OIEB after each write and read ---------------------------------------------------

/// Frames of 12.1: assorted sizes, 7782 bytes with headers, so they fit a 10 KiB ring unread.
const WRITE_SIZES: [usize; 6] = [1024, 100, 1, 2048, 513, 4000];

/// One write or read with the OIEB around it.
#[derive(Debug, Clone)]
struct Access {
    size: u64,
    sequence: u64,
    before: OiebSnapshot,
    /// Right after the write / while the read frame is held.
    after: OiebSnapshot,
    /// After the read frame was released (reads only).
    released: Option<OiebSnapshot>,
    /// Header found at the position the frame occupied (writes only).
    header: Option<FrameHeader>,
    /// The entry at the old position was a wrap marker (reads only).
    marker_at_start: bool,
    space_signals: (u64, u64),
}

#[derive(Default)]
struct Compliance {
    writes: Vec<Access>,
    reads: Vec<Access>,
    /// Frames written by "writes various sized frames": (offset, size, sequence).
    placed: Vec<(u64, u64, u64)>,
}

/// Where a frame of `len` bytes goes from write position `w` in a ring of `p` bytes:
/// `(offset, skipped tail)`. The protocol rule (§3.3), plus our writer's early wrap instead of
/// leaving a 1–15 byte tail when the frame also fits at the start (§3.6, README).
fn expected_placement(p: u64, w: u64, len: u64) -> (u64, u64) {
    let total = len + HEADER;
    let to_end = p - w;
    match to_end.checked_sub(total) {
        Some(left) if !((1..HEADER).contains(&left) && total <= w) => (w, 0),
        _ => (0, to_end),
    }
}

#[when(regex = r"^performs multiple write operations$")]
fn performs_multiple_writes(world: &mut ZbWorld) -> Result<()> {
    let state = subject(world)?;
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
        let after = raw.oieb();
        let (offset, _) =
            expected_placement(before.payload_size, before.payload_write_pos, size as u64);
        writes.push(Access {
            size: size as u64,
            sequence,
            before,
            after,
            released: None,
            header: Some(raw.frame_header(offset)),
            marker_at_start: false,
            space_signals: (0, 0),
        });
    }
    state.scratch::<Compliance>().writes = writes;
    Ok(())
}

const WRITE_FIELDS: [&str; 7] = [
    "payload_written_count",
    "payload_free_bytes",
    "payload_write_pos",
    "payload_read_pos",
    "payload_read_count",
    "writer_pid",
    "frame_header",
];

#[then(regex = r"^the '([^']*)' process should verify after each write:$")]
fn verify_after_each_write(world: &mut ZbWorld, step: &Step, process: String) -> Result<()> {
    check_table_fields(step, &WRITE_FIELDS)?;
    let state = world.process(&process);
    let writes = &state.scratch::<Compliance>().writes;
    ensure!(writes.len() > 1, "fewer than two writes were recorded");
    let pid = current_pid();
    for (i, a) in writes.iter().enumerate() {
        let (b, o) = (&a.before, &a.after);
        let at = |what: &str| format!("write {} ({} bytes): {what}", i + 1, a.size);
        let total = a.size + HEADER;
        let (offset, tail) = expected_placement(b.payload_size, b.payload_write_pos, a.size);
        let marker = u64::from(tail >= HEADER);
        ensure!(a.sequence == i as u64 + 1, at("sequence out of order"));
        ensure!(
            o.payload_written_count == b.payload_written_count + 1 + marker,
            at(&format!(
                "payload_written_count {} -> {}, expected +{}",
                b.payload_written_count,
                o.payload_written_count,
                1 + marker
            ))
        );
        ensure!(
            o.payload_free_bytes == b.payload_free_bytes - total - tail,
            at(&format!(
                "payload_free_bytes {} -> {}, expected -{}",
                b.payload_free_bytes,
                o.payload_free_bytes,
                total + tail
            ))
        );
        ensure!(
            o.payload_write_pos == (offset + total) % b.payload_size,
            at(&format!(
                "payload_write_pos {} -> {}, expected {}",
                b.payload_write_pos,
                o.payload_write_pos,
                (offset + total) % b.payload_size
            ))
        );
        ensure!(
            o.payload_read_pos == b.payload_read_pos
                && o.payload_read_count == b.payload_read_count,
            at("a write changed the reader's position or count")
        );
        ensure!(
            o.writer_pid == pid && o.reader_pid == b.reader_pid,
            at("the PIDs changed")
        );
        let expected = FrameHeader {
            payload_size: a.size,
            sequence: a.sequence,
        };
        ensure!(
            a.header == Some(expected),
            at(&format!("header {:?}, expected {expected:?}", a.header))
        );
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
        let to_end = before.payload_size - before.payload_read_pos;
        let marker_at_start =
            to_end >= HEADER && raw.frame_header(before.payload_read_pos).is_wrap_marker();
        let signals_before = reader.space_signals()?;
        let frame = reader.read_frame(READ_TIMEOUT)?;
        let after = raw.oieb();
        let (size, sequence) = (frame.len() as u64, frame.sequence());
        if let Some(i) = first_frame_data_mismatch(&frame, sequence) {
            bail!("frame {sequence} differs from its pattern at byte {i}");
        }
        drop(frame);
        reads.push(Access {
            size,
            sequence,
            before,
            after,
            released: Some(raw.oieb()),
            header: None,
            marker_at_start,
            space_signals: (signals_before, reader.space_signals()?),
        });
    }
    state.scratch::<Compliance>().reads = reads;
    Ok(())
}

const READ_FIELDS: [&str; 6] = [
    "payload_read_count",
    "payload_free_bytes",
    "payload_read_pos",
    "payload_written_count",
    "payload_write_pos",
    "sem-r",
];

#[then(regex = r"^the '([^']*)' process should verify after each read:$")]
fn verify_after_each_read(world: &mut ZbWorld, step: &Step, process: String) -> Result<()> {
    check_table_fields(step, &READ_FIELDS)?;
    let state = world.process(&process);
    let reads = &state.scratch::<Compliance>().reads;
    ensure!(reads.len() > 1, "fewer than two reads were recorded");
    for (i, a) in reads.iter().enumerate() {
        let (b, held) = (&a.before, &a.after);
        let released = a.released.context("no snapshot after the release")?;
        let at = |what: &str| format!("read {} ({} bytes): {what}", i + 1, a.size);
        let p = b.payload_size;
        let total = a.size + HEADER;
        // A marker (or a tail too short for one) sends the reader to 0 and frees the tail.
        let to_end = p - b.payload_read_pos;
        let (offset, tail) = match a.marker_at_start || to_end < HEADER {
            true => (0, to_end),
            false => (b.payload_read_pos, 0),
        };
        ensure!(
            i == 0 || a.sequence == reads[i - 1].sequence + 1,
            at("sequence out of order")
        );
        ensure!(
            held.payload_read_count == b.payload_read_count + 1 + u64::from(a.marker_at_start),
            at(&format!(
                "payload_read_count {} -> {}",
                b.payload_read_count, held.payload_read_count
            ))
        );
        ensure!(
            held.payload_read_pos == (offset + total) % p,
            at(&format!(
                "payload_read_pos {} -> {}, expected {}",
                b.payload_read_pos,
                held.payload_read_pos,
                (offset + total) % p
            ))
        );
        // The frame's space returns when it is released, not when it is read.
        ensure!(
            held.payload_free_bytes == b.payload_free_bytes + tail,
            at(&format!(
                "payload_free_bytes {} -> {} while the frame was held",
                b.payload_free_bytes, held.payload_free_bytes
            ))
        );
        ensure!(
            released.payload_free_bytes == held.payload_free_bytes + total,
            at(&format!(
                "payload_free_bytes {} -> {} at release, expected +{total}",
                held.payload_free_bytes, released.payload_free_bytes
            ))
        );
        ensure!(
            a.space_signals.1 == a.space_signals.0 + 1,
            at(&format!(
                "sem-r went {} -> {} at release, expected one post",
                a.space_signals.0, a.space_signals.1
            ))
        );
        ensure!(
            released.payload_written_count == b.payload_written_count
                && released.payload_write_pos == b.payload_write_pos,
            at("a read changed the writer's position or count")
        );
    }
    let end = reads.last().and_then(|a| a.released).context("no reads")?;
    ensure!(
        end.payload_free_bytes == end.payload_size
            && end.payload_read_pos == end.payload_write_pos
            && end.payload_read_count == end.payload_written_count,
        "after reading and releasing everything the OIEB is not back to empty: {end:?}"
    );
    Ok(())
}

// ---- 12.2 Layout and alignment ---------------------------------------------------------------

/// Sizes that put frame headers at offsets 17, 40, 119, ... (not multiples of 8).
const VARIOUS_SIZES: [usize; 8] = [1, 7, 63, 64, 65, 100, 1000, 333];

fn segment_path(state: &ProcessState) -> Result<String> {
    Ok(ObjectPaths::new(state.buffer()?)
        .segment
        .display()
        .to_string())
}

#[then(regex = r"^the '([^']*)' process should verify OIEB starts at 64-byte aligned address$")]
fn oieb_aligned(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let path = segment_path(state)?;
    let maps = mappings_of(std::slice::from_ref(&path))?;
    ensure!(!maps.is_empty(), "{path} is not mapped by this process");
    for m in &maps {
        ensure!(
            m.file_offset == 0 && m.start.is_multiple_of(BLOCK_ALIGNMENT),
            "{} is mapped at {:#x} from file offset {}: the OIEB is not at a 64-byte \
             aligned address",
            m.path,
            m.start,
            m.file_offset
        );
    }
    let raw = raw_buffer(state)?;
    ensure!(
        raw.read_u64(0) == OIEB_SIGNATURE,
        "offset 0 does not hold a v1.0 OIEB (size 128, version 1.0.0)"
    );
    Ok(())
}

#[then(regex = r"^should verify metadata block starts at 64-byte aligned offset$")]
fn metadata_aligned(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    let raw = raw_buffer(state)?;
    let oieb = raw.oieb();
    let start = u64::from(oieb.oieb_size);
    ensure!(
        start == OIEB_SIZE as u64 && start.is_multiple_of(BLOCK_ALIGNMENT),
        "the metadata block starts at {start}"
    );
    ensure!(
        oieb.metadata_size.is_multiple_of(BLOCK_ALIGNMENT),
        "metadata size {} is not a multiple of 64",
        oieb.metadata_size
    );
    // Written metadata (8-byte length, then the data) must sit right there.
    if oieb.metadata_written_bytes > 0 {
        let len = raw.read_u64(OIEB_SIZE);
        ensure!(
            len + 8 == oieb.metadata_written_bytes,
            "the length prefix at offset 128 says {len}, the OIEB {} bytes written",
            oieb.metadata_written_bytes
        );
        ensure!(
            is_simple_data(&raw.read(OIEB_SIZE + 8, len as usize)),
            "the metadata after the prefix at offset 136 is not what the writer wrote"
        );
    }
    Ok(())
}

#[then(regex = r"^should verify payload block starts at 64-byte aligned offset$")]
fn payload_aligned(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    let raw = raw_buffer(state)?;
    let oieb = raw.oieb();
    let start = raw.payload_offset() as u64;
    ensure!(
        start == OIEB_SIZE as u64 + oieb.metadata_size && start.is_multiple_of(BLOCK_ALIGNMENT),
        "the payload block starts at {start}"
    );
    ensure!(
        oieb.payload_size.is_multiple_of(BLOCK_ALIGNMENT),
        "payload size {} is not a multiple of 64",
        oieb.payload_size
    );
    let segment = fs::metadata(segment_path(state)?)?.len();
    ensure!(
        segment == start + oieb.payload_size,
        "the segment has {segment} bytes, not 128 + M + P = {}",
        start + oieb.payload_size
    );
    // The first frame of a fresh buffer sits at the very start of the block.
    if oieb.payload_written_count > 0 {
        let first = raw.frame_header(0);
        ensure!(
            first.sequence == 1 && first.payload_size > 0,
            "payload offset 0 does not hold frame 1: {first:?}"
        );
    }
    Ok(())
}

#[when(regex = r"^writes various sized frames$")]
fn writes_various_sizes(world: &mut ZbWorld) -> Result<()> {
    let state = subject(world)?;
    let mut placed = Vec::new();
    for size in VARIOUS_SIZES {
        let (offset, sequence) = state.with_writer(|w| -> Result<(u64, u64)> {
            let offset = w.oieb_snapshot().payload_write_pos;
            let mut slot = w.get_frame_buffer(size)?;
            let sequence = slot.sequence();
            fill_frame_data(&mut slot, sequence);
            Ok((offset, slot.commit()))
        })??;
        placed.push((offset, size as u64, sequence));
    }
    state.scratch::<Compliance>().placed = placed;
    Ok(())
}

#[then(regex = r"^the '([^']*)' process should verify all data access respects alignment$")]
fn access_respects_alignment(world: &mut ZbWorld, process: String) -> Result<()> {
    // v1 frames are not padded (protocol.md §3.1): headers land on any byte offset, so
    // "every header 8-byte aligned" cannot hold. What must hold: the OIEB words, which both
    // processes access atomically, are naturally aligned in every mapping, and every header and
    // its data are exactly where the protocol puts them although they are unaligned.
    let state = world.process(&process);
    let path = segment_path(state)?;
    for m in mappings_of(std::slice::from_ref(&path))? {
        ensure!(
            m.file_offset == 0 && m.start.is_multiple_of(8),
            "a mapping of {path} at {:#x} leaves the OIEB's u64 fields unaligned",
            m.start
        );
    }
    let raw = raw_buffer(state)?;
    let payload = raw.payload_offset();
    let placed = &state.scratch::<Compliance>().placed;
    ensure!(
        !placed.is_empty(),
        "no frames of various sizes were written"
    );
    let mut expected_offset = placed[0].0;
    let mut unaligned = 0;
    for &(offset, size, sequence) in placed {
        ensure!(
            offset == expected_offset,
            "frame {sequence} was placed at {offset}, not right after the previous frame at \
             {expected_offset} (frames are not padded)"
        );
        let header = raw.frame_header(offset);
        ensure!(
            header
                == FrameHeader {
                    payload_size: size,
                    sequence
                },
            "the header at payload offset {offset} reads {header:?}"
        );
        let data = raw.read(payload + (offset + HEADER) as usize, size as usize);
        if let Some(i) = first_frame_data_mismatch(&data, sequence) {
            bail!("frame {sequence} at offset {offset} differs at byte {i}");
        }
        unaligned += usize::from(!(payload as u64 + offset).is_multiple_of(8));
        expected_offset = offset + HEADER + size;
    }
    ensure!(
        unaligned > 0,
        "no header landed on an unaligned offset, so unaligned access was not exercised"
    );
    Ok(())
}

// ---- 12.3 Lock file ------------------------------------------------------------------------------

fn lock_path(state: &ProcessState) -> Result<String> {
    Ok(ObjectPaths::new(state.buffer()?)
        .lock_file
        .display()
        .to_string())
}

/// Tries an exclusive `flock` on the lock file from a descriptor of our own. `Ok(true)` if it
/// was free (the probe lock is released at once).
fn lock_is_free(path: &str) -> Result<bool> {
    let file = File::options()
        .read(true)
        .write(true)
        .open(path)
        .with_context(|| format!("opening {path}"))?;
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(TryLockError::WouldBlock) => Ok(false),
        Err(TryLockError::Error(e)) => Err(e).with_context(|| format!("flock {path}")),
    }
}

#[then(regex = r"^verify lock file exists at correct location$")]
fn lock_file_exists(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    let path = lock_path(state)?;
    let meta = fs::metadata(&path).with_context(|| format!("no lock file at {path}"))?;
    ensure!(meta.is_file(), "{path} is not a regular file");
    ensure!(meta.len() == 0, "the lock file holds {} bytes", meta.len());
    Ok(())
}

#[then(regex = r"^verify lock file is actually locked$")]
fn lock_file_locked(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    state.reader()?;
    let path = lock_path(state)?;
    ensure!(
        !lock_is_free(&path)?,
        "{path} could be locked from another descriptor while the reader lives"
    );
    Ok(())
}

#[when(regex = r"^kill reader process$")]
fn kill_reader_process(world: &mut ZbWorld) -> Result<()> {
    // Harmony does not intercept this text (no quoted process): the reader dies abruptly in
    // place, leaving its objects and a dead PID, with the kernel dropping its flock.
    let name = world.current()?.name.clone();
    world.current()?.reader()?;
    world.crash(&name)
}

#[then(regex = r"^new reader can acquire lock after detecting stale$")]
fn new_reader_takes_stale_lock(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    ensure!(state.reader.is_none(), "the old reader is still alive");
    let name = state.buffer()?.to_owned();
    let path = lock_path(state)?;
    // Stale: the file is still there, nobody holds it, and the recorded reader is dead.
    let old_ino = fs::metadata(&path)
        .with_context(|| format!("the dead reader's lock file {path} is gone already"))?
        .ino();
    ensure!(lock_is_free(&path)?, "{path} is still locked by someone");
    let old = zerobuffer::inspect(&name)?;
    ensure!(
        old.oieb.reader_pid != 0 && !old.reader_alive,
        "the old reader does not look dead: {old:?}"
    );
    let reader = Reader::create(&name, DEFAULT_CONFIG).context("a new reader for the name")?;
    let new_ino = fs::metadata(&path)
        .with_context(|| format!("the new reader has no lock file at {path}"))?
        .ino();
    ensure!(
        !lock_is_free(&path)?,
        "the new reader does not hold {path} (old inode {old_ino}, now {new_ino})"
    );
    let now = zerobuffer::inspect(&name)?;
    ensure!(
        now.oieb.reader_pid == current_pid() && is_process_alive(now.oieb.reader_pid),
        "the new reader did not take over the buffer: {now:?}"
    );
    state.reader = Some(std::sync::Arc::new(reader));
    Ok(())
}

#[when(regex = r"^graceful shutdown$")]
fn graceful_shutdown(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    let reader = state
        .reader
        .take()
        .context("no reader to shut down gracefully")?;
    std::sync::Arc::try_unwrap(reader)
        .map_err(|_| anyhow!("the reader is still in use by other work"))?;
    Ok(())
}

#[then(regex = r"^verify lock file is removed$")]
fn lock_file_removed(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    let name = state.buffer()?;
    let left = leftovers(name);
    ensure!(left.is_empty(), "still present after shutdown: {left:?}");
    Ok(())
}

// ---- 12.4 Semaphore names ------------------------------------------------------------------------

/// The names of 12.4: a UUID, punctuation, and a 54-character name.
const VARIOUS_NAMES: [&str; 3] = [
    "550e8400-e29b-41d4-a716-446655440000",
    "test_buffer-123",
    "a_rather_long_buffer_name_for_the_naming_rules_54chars",
];

#[derive(Default)]
struct Named {
    buffers: Vec<Reader>,
}

#[given(regex = r"^create buffers with various names:$")]
fn create_buffers_with_names(world: &mut ZbWorld, step: &Step) -> Result<()> {
    let rows = table_rows(step);
    if !rows.is_empty() {
        let listed: Vec<&str> = rows
            .iter()
            .map(|r| r.first().map(String::as_str).unwrap_or_default())
            .collect();
        ensure!(
            listed == VARIOUS_NAMES,
            "the table lists {listed:?}; this step creates {VARIOUS_NAMES:?}"
        );
    }
    let names: Vec<String> = VARIOUS_NAMES.iter().map(|b| world.buffer_name(b)).collect();
    let mut buffers = Vec::new();
    for name in names {
        buffers.push(
            Reader::create(&name, DEFAULT_CONFIG).with_context(|| format!("creating '{name}'"))?,
        );
    }
    subject(world)?.scratch::<Named>().buffers = buffers;
    Ok(())
}

fn named_buffers(world: &mut ZbWorld) -> Result<&mut Vec<Reader>> {
    let buffers = &mut subject(world)?.scratch::<Named>().buffers;
    ensure!(!buffers.is_empty(), "no buffers with various names exist");
    Ok(buffers)
}

#[then(regex = r"^verify semaphores created as '([^']*)' and '([^']*)'$")]
fn semaphores_named(world: &mut ZbWorld, data_sem: String, space_sem: String) -> Result<()> {
    for template in [&data_sem, &space_sem] {
        ensure!(
            template.contains("{name}"),
            "'{template}' has no {{name}} placeholder"
        );
    }
    for reader in named_buffers(world)?.iter() {
        let name = reader.name();
        let data = template_name(&data_sem, name)?;
        let space = template_name(&space_sem, name)?;
        // Open them by exactly those names and watch the library use them: a frame posts the
        // first, releasing it posts the second.
        let sem_w = NamedSemaphore::open(&format!("/{data}"))
            .with_context(|| format!("no semaphore '{data}' (/dev/shm/sem.{data})"))?;
        let sem_r = NamedSemaphore::open(&format!("/{space}"))
            .with_context(|| format!("no semaphore '{space}' (/dev/shm/sem.{space})"))?;
        let values = |what: &str| -> Result<(i32, i32)> {
            Ok((
                sem_w.value().with_context(|| format!("{data} {what}"))?,
                sem_r.value().with_context(|| format!("{space} {what}"))?,
            ))
        };
        ensure!(values("fresh")? == (0, 0), "fresh semaphores are not 0");
        let mut writer = zerobuffer::Writer::connect(name)?;
        writer.write_frame(b"naming")?;
        ensure!(
            values("after a write")? == (1, 0),
            "a write did not post '{data}' alone"
        );
        drop(reader.read_frame(READ_TIMEOUT)?);
        ensure!(
            values("after a read")? == (0, 1),
            "a read did not take '{data}' and post '{space}'"
        );
    }
    Ok(())
}

fn template_name(template: &str, name: &str) -> Result<String> {
    let out = template.replace("{name}", name);
    ensure!(
        out.starts_with("sem-") && out.ends_with(name),
        "'{template}' does not give a semaphore name of the form sem-?-NAME"
    );
    Ok(out)
}

/// Why `name` cannot be a Windows file or kernel-object name component, if it cannot.
fn windows_rule_broken(name: &str) -> Option<String> {
    const RESERVED: [&str; 4] = ["CON", "PRN", "AUX", "NUL"];
    if name.len() > 260 {
        return Some(format!("{} characters exceed MAX_PATH (260)", name.len()));
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_control() || "<>:\"/\\|?*".contains(*c))
    {
        return Some(format!("{c:?} is not allowed"));
    }
    if name.ends_with('.') || name.ends_with(' ') {
        return Some("a trailing dot or space is dropped by Windows".into());
    }
    let stem = name
        .split('.')
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    let device = RESERVED.contains(&stem.as_str())
        || ((stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.len() == 4
            && stem.as_bytes()[3].is_ascii_digit());
    device.then(|| format!("'{stem}' is a reserved device name"))
}

#[then(regex = r"^verify both Linux and Windows naming rules respected$")]
fn naming_rules_respected(world: &mut ZbWorld) -> Result<()> {
    for reader in named_buffers(world)?.iter() {
        let name = reader.name();
        // Linux: every object is a file name of at most 255 bytes in /dev/shm or the lock dir.
        let files = [
            name.to_owned(),
            format!("sem.sem-w-{name}"),
            format!("sem.sem-r-{name}"),
            format!("{name}.lock"),
        ];
        for file in &files {
            ensure!(
                file.len() <= 255 && !file.contains('/') && !file.contains('\0'),
                "'{file}' breaks the Linux file-name rules"
            );
        }
        let present = leftovers(name);
        ensure!(
            present.len() == 4,
            "Linux did not accept every object of '{name}': only {present:?} exist"
        );
        // Windows: the same names become kernel objects (sem-w-NAME ...) and the lock file.
        for object in [
            name.to_owned(),
            format!("sem-w-{name}"),
            format!("sem-r-{name}"),
            format!("{name}.lock"),
        ] {
            if let Some(why) = windows_rule_broken(&object) {
                bail!("'{object}' breaks the Windows naming rules: {why}");
            }
        }
    }
    Ok(())
}
