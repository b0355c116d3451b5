//! A Writer facing a hostile reader: the reader's half of the OIEB (free bytes, read position,
//! read count, sizes, PID) comes from the fuzzer, before the writer connects and between its
//! writes, while a real reader now and then reads and releases frames.
//!
//! Properties: every call returns (the write timeout is 0), with a typed error or a frame
//! written inside the ring: its header and bytes sit where the writer's position says, and a
//! frame write never touches the metadata block. Dropping both ends removes the segment.

#![no_main]

use std::path::Path;
use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use zerobuffer::layout::{oieb, FRAME_HEADER_SIZE, OIEB_SIZE};
use zerobuffer::{BufferConfig, NamedSemaphore, Reader, WaitStrategy, Writer};
use zerobuffer_fuzz::{unique_name, Segment, Value};

#[derive(Debug, Arbitrary)]
struct Input {
    metadata: u8,
    ring: u8,
    strategy: u8,
    /// What the reader's OIEB says before the writer connects.
    before: Vec<(u8, Value)>,
    ops: Vec<Op>,
}

#[derive(Debug, Arbitrary)]
enum Op {
    Write {
        len: u16,
        fill: u8,
    },
    /// A zero-copy slot, filled, then committed or dropped.
    Slot {
        len: u16,
        fill: u8,
        commit: bool,
    },
    Metadata(Vec<u8>),
    /// A field the reader owns, any value.
    ReaderField {
        field: u8,
        value: Value,
    },
    /// Any OIEB word, any value.
    Word {
        index: u8,
        value: Value,
    },
    /// The real reader reads (and releases) this many frames, whatever it finds.
    Read(u8),
    /// `sem-r` posts without space behind them.
    Post(u8),
}

const READER_FIELDS: [usize; 6] = [
    oieb::PAYLOAD_FREE_BYTES,
    oieb::PAYLOAD_READ_POS,
    oieb::PAYLOAD_READ_COUNT,
    oieb::PAYLOAD_SIZE,
    oieb::METADATA_SIZE,
    oieb::READER_PID,
];

fuzz_target!(|input: Input| {
    let config = BufferConfig::new(
        [0, 64, 256][usize::from(input.metadata % 3)],
        [64, 128, 1024, 4096][usize::from(input.ring % 4)],
    );
    let name = unique_name();
    let reader = Reader::create(&name, config).expect("creating the buffer");
    let segment = Segment::open(&name);
    let (ring, segment_len) = (config.payload_block(), segment.len());
    for (index, value) in input.before.into_iter().take(8) {
        segment.put_word(usize::from(index), value.resolve(ring, segment_len));
    }
    if let Ok(mut writer) = Writer::connect(&name) {
        writer.set_write_timeout(Duration::ZERO);
        writer.set_wait_strategy(match input.strategy % 3 {
            0 => WaitStrategy::Block,
            1 => WaitStrategy::SpinThenBlock(Duration::from_micros(5)),
            _ => WaitStrategy::BusySpin,
        });
        let space = NamedSemaphore::open(&format!("/sem-r-{name}")).expect("sem-r");
        for op in input.ops.into_iter().take(64) {
            apply(op, &mut writer, &reader, &segment, &space);
        }
    }
    drop(reader);
    assert!(
        !Path::new(&format!("/dev/shm/{name}")).exists(),
        "the reader left its segment behind"
    );
});

fn apply(op: Op, writer: &mut Writer, reader: &Reader, segment: &Segment, space: &NamedSemaphore) {
    let ring = writer.payload_size();
    let segment_len = segment.len();
    match op {
        Op::Write { len, fill } => {
            let data = vec![fill; usize::from(len)];
            let metadata_before = metadata_block(writer, segment);
            if let Ok(sequence) = writer.write_frame(&data) {
                assert_written(writer, segment, sequence, &data);
            }
            assert!(
                metadata_block(writer, segment) == metadata_before,
                "a frame write changed the metadata block"
            );
        }
        Op::Slot { len, fill, commit } => {
            let metadata_before = metadata_block(writer, segment);
            if let Ok(mut slot) = writer.get_frame_buffer(usize::from(len)) {
                assert_eq!(slot.len(), usize::from(len), "a slot of the wrong size");
                slot.fill(fill);
                if commit {
                    let sequence = slot.commit();
                    assert_written(writer, segment, sequence, &vec![fill; usize::from(len)]);
                }
            }
            assert!(
                metadata_block(writer, segment) == metadata_before,
                "a frame slot changed the metadata block"
            );
        }
        Op::Metadata(bytes) => {
            let _ = writer.set_metadata(&bytes);
        }
        Op::ReaderField { field, value } => {
            let offset = READER_FIELDS[usize::from(field) % READER_FIELDS.len()];
            segment.put_word(offset / 8, value.resolve(ring, segment_len));
        }
        Op::Word { index, value } => {
            segment.put_word(usize::from(index), value.resolve(ring, segment_len))
        }
        Op::Read(n) => {
            for _ in 0..n % 4 {
                let _ = reader.read_frame(Duration::ZERO);
            }
        }
        Op::Post(n) => {
            for _ in 0..n % 8 {
                let _ = space.post();
            }
        }
    }
}

/// The segment's metadata block, as this writer places it.
fn metadata_block(writer: &Writer, segment: &Segment) -> Vec<u8> {
    segment.get(OIEB_SIZE as u64, writer.metadata_size() as usize)
}

/// Frame `sequence` with `data` ends where the writer's position now is (or at the ring's end
/// when the position went back to 0), its header just before its bytes.
fn assert_written(writer: &Writer, segment: &Segment, sequence: u64, data: &[u8]) {
    let ring = writer.payload_size();
    let ring_offset = OIEB_SIZE as u64 + writer.metadata_size();
    let len = data.len() as u64;
    let end = match segment.write_pos() {
        0 => ring,
        pos => pos,
    };
    let total = len + FRAME_HEADER_SIZE as u64;
    assert!(
        end <= ring && end >= total,
        "a {len}-byte frame ending at {end} of a {ring}-byte ring"
    );
    assert!(
        ring_offset + ring <= segment.len(),
        "a {ring}-byte ring past the end of the {}-byte segment",
        segment.len()
    );
    let mut header = len.to_le_bytes().to_vec();
    header.extend(sequence.to_le_bytes());
    header.extend(data);
    let written = segment.get(ring_offset + end - total, total as usize);
    assert!(
        written == header,
        "frame {sequence} is not in the ring where the writer's position says"
    );
}
