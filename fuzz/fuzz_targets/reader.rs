//! A Reader over a segment whose OIEB, frame headers, positions, counts and metadata come from
//! the fuzzer, changed between reads and while frames are held (a peer scribbling as we read).
//!
//! Properties: every call returns (the reads never wait: timeout 0), with a typed error or a
//! frame that is one: its sequence follows the last one (or restarts at 1, a new writer
//! session), it lies inside the ring, and its bytes are the ring's bytes where it ends. The
//! metadata fits the metadata block. Dropping the reader removes the segment.

#![no_main]

use std::path::Path;
use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use zerobuffer::layout::{oieb, FRAME_HEADER_SIZE, METADATA_PREFIX_SIZE, OIEB_SIZE};
use zerobuffer::{BufferConfig, Frame, NamedSemaphore, Reader, WaitStrategy};
use zerobuffer_fuzz::{unique_name, Segment, Value};

const HEADER: u64 = FRAME_HEADER_SIZE as u64;

#[derive(Debug, Arbitrary)]
struct Input {
    metadata: u8,
    ring: u8,
    strategy: u8,
    ops: Vec<Op>,
}

#[derive(Debug, Arbitrary)]
enum Op {
    /// A frame as the protocol writes it, at the scribbler's own cursor (wrapping with a
    /// marker or a zeroed tail), with the counts and `sem-w` the protocol asks for.
    Frame {
        len: u16,
        fill: u8,
        sequence: Option<Value>,
    },
    /// A header anywhere in the ring, then a `sem-w` post.
    Header {
        pos: Value,
        size: Value,
        sequence: Value,
    },
    /// Any OIEB word, any value.
    Word {
        index: u8,
        value: Value,
    },
    /// Any bytes anywhere after the OIEB (metadata or ring).
    Bytes {
        offset: u16,
        bytes: Vec<u8>,
    },
    /// A metadata block as a writer writes it, with any announced size.
    Metadata {
        size: Value,
        bytes: Vec<u8>,
    },
    Post(u8),
    /// Reads one frame and releases it at once.
    Read,
    /// Reads one frame and keeps it (its space stays unreleased).
    Hold,
    /// Releases one held frame, not necessarily the oldest.
    Release(u8),
    ReadMetadata,
}

/// What the scribbling "writer" believes of the ring.
struct Cursor {
    write_pos: u64,
    sequence: u64,
}

struct Run<'r> {
    reader: &'r Reader,
    segment: Segment,
    data_ready: NamedSemaphore,
    ring_offset: u64,
    ring: u64,
    metadata_block: u64,
    cursor: Cursor,
    last_sequence: Option<u64>,
    held: Vec<Frame<'r>>,
}

fuzz_target!(|input: Input| {
    let config = BufferConfig::new(
        [0, 64, 256][usize::from(input.metadata % 3)],
        [64, 128, 1024, 4096][usize::from(input.ring % 4)],
    );
    let name = unique_name();
    let mut reader = Reader::create(&name, config).expect("creating the buffer");
    reader.set_wait_strategy(match input.strategy % 3 {
        0 => WaitStrategy::Block,
        1 => WaitStrategy::SpinThenBlock(Duration::from_micros(5)),
        _ => WaitStrategy::BusySpin,
    });
    let segment = Segment::open(&name);
    // This process plays the writer: alive, so silence is a timeout, not a dead writer.
    segment.put_word(oieb::WRITER_PID / 8, u64::from(std::process::id()));
    let data_ready = NamedSemaphore::open(&format!("/sem-w-{name}")).expect("sem-w");
    let mut run = Run {
        reader: &reader,
        segment,
        data_ready,
        ring_offset: OIEB_SIZE as u64 + config.metadata_block(),
        ring: config.payload_block(),
        metadata_block: config.metadata_block(),
        cursor: Cursor {
            write_pos: 0,
            sequence: 1,
        },
        last_sequence: None,
        held: Vec::new(),
    };
    for op in input.ops.into_iter().take(64) {
        run.apply(op);
    }
    drop(run);
    drop(reader);
    assert!(
        !Path::new(&format!("/dev/shm/{name}")).exists(),
        "the reader left its segment behind"
    );
});

impl<'r> Run<'r> {
    fn apply(&mut self, op: Op) {
        let (ring, segment_len) = (self.ring, self.segment.len());
        match op {
            Op::Frame {
                len,
                fill,
                sequence,
            } => {
                let sequence = sequence.map(|s| s.resolve(ring, segment_len));
                self.well_formed(u64::from(len) + 1, fill, sequence);
            }
            Op::Header {
                pos,
                size,
                sequence,
            } => {
                let pos = pos.resolve(ring, segment_len) % ring;
                let mut header = size.resolve(ring, segment_len).to_le_bytes().to_vec();
                header.extend(sequence.resolve(ring, segment_len).to_le_bytes());
                self.segment.put(self.ring_offset + pos, &header);
                self.bump(oieb::PAYLOAD_WRITTEN_COUNT);
                let _ = self.data_ready.post();
            }
            Op::Word { index, value } => self
                .segment
                .put_word(usize::from(index), value.resolve(ring, segment_len)),
            Op::Bytes { offset, bytes } => self
                .segment
                .put(OIEB_SIZE as u64 + u64::from(offset), &bytes),
            Op::Metadata { size, bytes } => {
                let size = size.resolve(ring, segment_len);
                self.segment.put(OIEB_SIZE as u64, &size.to_le_bytes());
                self.segment
                    .put((OIEB_SIZE + METADATA_PREFIX_SIZE) as u64, &bytes);
                let written = (bytes.len() + METADATA_PREFIX_SIZE) as u64;
                self.segment
                    .put_word(oieb::METADATA_WRITTEN_BYTES / 8, written);
                self.segment.put_word(
                    oieb::METADATA_FREE_BYTES / 8,
                    self.metadata_block.saturating_sub(written),
                );
            }
            Op::Post(n) => {
                for _ in 0..n % 8 {
                    let _ = self.data_ready.post();
                }
            }
            Op::Read => {
                let _ = self.read();
            }
            Op::Hold => {
                if self.held.len() < 8 {
                    if let Some(frame) = self.read() {
                        self.held.push(frame);
                    }
                }
            }
            Op::Release(i) => {
                if !self.held.is_empty() {
                    let i = usize::from(i) % self.held.len();
                    drop(self.held.remove(i));
                }
            }
            Op::ReadMetadata => {
                if let Ok(metadata) = self.reader.metadata() {
                    // Nothing written reads as empty, whatever the block's size.
                    assert!(
                        metadata.is_empty()
                            || metadata.len() as u64 + METADATA_PREFIX_SIZE as u64
                                <= self.metadata_block,
                        "{} bytes of metadata from a {}-byte block",
                        metadata.len(),
                        self.metadata_block
                    );
                }
            }
        }
    }

    /// One read without waiting; a frame is checked against the ring before it is handed on.
    fn read(&mut self) -> Option<Frame<'r>> {
        let frame = self.reader.read_frame(Duration::ZERO).ok()?;
        let (len, sequence) = (frame.len() as u64, frame.sequence());
        let expected = self.last_sequence.map_or(1, |last| last.wrapping_add(1));
        assert!(
            sequence == expected || sequence == 1,
            "frame {sequence} where {expected} (or 1, a new writer session) was due"
        );
        self.last_sequence = Some(sequence);
        assert!(len > 0, "an empty frame is not a frame");
        // The reader's position now follows the frame; the frame ends there (or at the end
        // of the ring when the position went back to 0).
        let end = match self.segment.read_pos() {
            0 => self.ring,
            pos => pos,
        };
        assert!(
            end <= self.ring && end >= len + HEADER,
            "a {len}-byte frame ending at {end} of a {}-byte ring",
            self.ring
        );
        let in_ring = self.segment.get(self.ring_offset + end - len, len as usize);
        assert!(
            frame.data() == in_ring.as_slice(),
            "frame {sequence}'s bytes are not the ring's bytes"
        );
        Some(frame)
    }

    fn bump(&self, offset: usize) {
        let value = self.segment.word(offset).wrapping_add(1);
        self.segment.put_word(offset / 8, value);
    }

    /// Writes a frame of `len` bytes the way the protocol does, if the OIEB says it fits.
    fn well_formed(&mut self, len: u64, fill: u8, sequence: Option<u64>) {
        let need = HEADER + len;
        let mut free = self.segment.word(oieb::PAYLOAD_FREE_BYTES);
        let cursor = &mut self.cursor;
        if need > self.ring {
            return;
        }
        if cursor.write_pos + need > self.ring {
            let tail = self.ring - cursor.write_pos.min(self.ring);
            if free < tail + need {
                return;
            }
            if tail >= HEADER {
                self.segment.put(
                    self.ring_offset + cursor.write_pos,
                    &[0u8; FRAME_HEADER_SIZE],
                );
                let written = self.segment.word(oieb::PAYLOAD_WRITTEN_COUNT);
                self.segment
                    .put_word(oieb::PAYLOAD_WRITTEN_COUNT / 8, written.wrapping_add(1));
            } else {
                self.segment.put(
                    self.ring_offset + cursor.write_pos,
                    &vec![0u8; tail as usize],
                );
            }
            free -= tail;
            cursor.write_pos = 0;
        }
        if free < need {
            return;
        }
        let sequence = sequence.unwrap_or(cursor.sequence);
        let mut frame = len.to_le_bytes().to_vec();
        frame.extend(sequence.to_le_bytes());
        frame.resize(need as usize, fill);
        self.segment
            .put(self.ring_offset + cursor.write_pos, &frame);
        cursor.write_pos = (cursor.write_pos + need) % self.ring;
        cursor.sequence = sequence.wrapping_add(1);
        self.segment
            .put_word(oieb::PAYLOAD_WRITE_POS / 8, cursor.write_pos);
        self.segment
            .put_word(oieb::PAYLOAD_FREE_BYTES / 8, free - need);
        self.bump(oieb::PAYLOAD_WRITTEN_COUNT);
        let _ = self.data_ready.post();
    }
}
