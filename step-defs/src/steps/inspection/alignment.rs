//! The block layout and its alignment (12.2, protocol.md §2): the OIEB, metadata and payload
//! blocks, and every access the reader and writer make, read through a raw view of the segment.

use std::fs::{self};

use anyhow::{bail, ensure, Result};
use cucumber::{given, then, when};
use zerobuffer::layout::{FrameHeader, OIEB_SIGNATURE, OIEB_SIZE};
use zerobuffer::testdata::{fill_frame_data, first_frame_data_mismatch, is_simple_data};
use zerobuffer::{BufferConfig, ObjectPaths, Reader, BLOCK_ALIGNMENT};
use zerobuffer_test_support::RawBuffer;

use crate::drivers::explain::Explain as _;
use crate::drivers::os::mappings_of;
use crate::drivers::ring::HEADER;
use crate::drivers::roles::test_subject;
use crate::world::{ProcessState, ZbWorld};

fn raw_buffer(state: &ProcessState) -> Result<RawBuffer> {
    let name = state.buffer()?;
    RawBuffer::open(name).with_context(|| format!("mapping '{name}' for inspection"))
}

#[given(regex = r"^we are in DEBUG mode for protocol compliance tests$")]
fn debug_mode(world: &mut ZbWorld) -> Result<()> {
    // "DEBUG mode" upstream means OIEB introspection. Ours is `zerobuffer_test_support::RawBuffer`; check on
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
    let state = test_subject(world)?;
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
    state.inspection.placed.0 = placed;
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
    let placed = &state.inspection.placed.0;
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
