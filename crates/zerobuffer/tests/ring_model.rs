//! Property test of the ring: random frame sizes, reads and out-of-order releases, checked
//! after every operation against a simple model of the ring's contents.
//!
//! The model keeps the ring's entries (frames and skipped tails) in order with their offsets,
//! taken from the write position the writer publishes. It checks: no loss (every frame is read
//! once, in order, with its bytes), no overlap (a new frame never lands on space still owed to
//! the writer, and held frames keep their bytes), free bytes always equal to the payload size
//! minus the space not yet given back, and that a frame of at most half the ring is always
//! writable into an empty ring.

use std::collections::VecDeque;
use std::time::Duration;

use proptest::prelude::*;
use zerobuffer::testdata::{fill_frame_data, first_frame_data_mismatch};
use zerobuffer::{BufferConfig, Error, Frame, Reader, Writer};
use zerobuffer_test_support::{assert_clean, unique_name};

#[derive(Debug, Clone)]
enum Op {
    /// Write a frame whose size is this fraction (per mille) of the largest possible frame.
    Write(u16),
    Read,
    /// Release the held frame at this index (modulo the number held).
    Release(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1u16..=1000).prop_map(Op::Write),
        1 => (1u16..=60).prop_map(Op::Write),
        3 => Just(Op::Read),
        3 => any::<usize>().prop_map(Op::Release),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Unread,
    Held,
    Done,
}

#[derive(Debug)]
struct Entry {
    offset: u64,
    len: u64,
    /// `None` for a skipped tail.
    sequence: Option<u64>,
    state: State,
}

struct Model {
    size: u64,
    entries: VecDeque<Entry>,
    next_sequence: u64,
}

impl Model {
    /// Space owed to the writer: every entry not yet given back.
    fn owed(&self) -> u64 {
        self.entries.iter().map(|e| e.len).sum()
    }

    /// Gives back entries from the front while they are done (ring order).
    fn settle(&mut self) {
        while self.entries.front().is_some_and(|e| e.state == State::Done) {
            self.entries.pop_front();
        }
    }

    fn assert_free(&self, region: (u64, u64)) {
        for e in &self.entries {
            let overlap = region.0 < e.offset + e.len && e.offset < region.0 + region.1;
            assert!(!overlap, "new region {region:?} overlaps owed entry {e:?}");
        }
    }
}

fn run(payload: usize, ops: Vec<Op>) {
    let name = unique_name("model");
    {
        let reader = Reader::create(&name, BufferConfig::new(0, payload)).unwrap();
        let mut writer = Writer::connect(&name).unwrap();
        writer.set_write_timeout(Duration::ZERO);
        let size = reader.config().payload_size as u64;
        let mut model = Model {
            size,
            entries: VecDeque::new(),
            next_sequence: 1,
        };
        let mut held: Vec<(Frame<'_>, u64)> = Vec::new();
        for op in ops {
            match op {
                Op::Write(per_mille) => write(&reader, &mut writer, &mut model, per_mille),
                Op::Read => read(&reader, &mut model, &mut held),
                Op::Release(i) if !held.is_empty() => {
                    let (frame, seq) = held.remove(i % held.len());
                    drop(frame);
                    let entry = model.entries.iter_mut().find(|e| e.sequence == Some(seq));
                    entry.expect("held frame is owed").state = State::Done;
                    model.settle();
                }
                Op::Release(_) => {}
            }
            for (frame, seq) in &held {
                assert_eq!(
                    first_frame_data_mismatch(frame, *seq),
                    None,
                    "held frame {seq} changed"
                );
            }
            let snap = reader.oieb_snapshot();
            assert_eq!(snap.payload_free_bytes, size - model.owed(), "free bytes");
        }
    }
    assert_clean(&name);
}

fn write(reader: &Reader, writer: &mut Writer, model: &mut Model, per_mille: u16) {
    let size = model.size;
    let len = (((size - 16) * u64::from(per_mille)) / 1000).max(1);
    let total = len + 16;
    let before = reader.oieb_snapshot().payload_write_pos;
    let empty = model.entries.is_empty();
    let seq = model.next_sequence;
    match writer.get_frame_buffer(len as usize) {
        Ok(mut slot) => {
            fill_frame_data(&mut slot, seq);
            assert_eq!(slot.commit(), seq);
        }
        Err(Error::BufferFull | Error::FrameTooLarge { .. }) => {
            assert!(
                !(empty && total <= size / 2),
                "a {len}-byte frame must fit an empty {size}-byte ring"
            );
            return;
        }
        Err(e) => panic!("unexpected write error: {e}"),
    }
    let after = reader.oieb_snapshot().payload_write_pos;
    assert!(after < size, "write position {after} stored unreduced");
    let end = if after == 0 { size } else { after };
    let offset = end - total;
    if offset != before {
        assert_eq!(
            offset, 0,
            "a frame goes at the write position or at 0 after a wrap"
        );
        let tail = (before, size - before);
        model.assert_free(tail);
        model.entries.push_back(Entry {
            offset: tail.0,
            len: tail.1,
            sequence: None,
            state: State::Unread,
        });
    }
    model.assert_free((offset, total));
    model.entries.push_back(Entry {
        offset,
        len: total,
        sequence: Some(seq),
        state: State::Unread,
    });
    model.next_sequence += 1;
}

fn read<'r>(reader: &'r Reader, model: &mut Model, held: &mut Vec<(Frame<'r>, u64)>) {
    let next = model
        .entries
        .iter()
        .position(|e| e.sequence.is_some() && e.state == State::Unread);
    match reader.read_frame(Duration::ZERO) {
        Ok(frame) => {
            let index = next.expect("the reader returned a frame the model does not have");
            // Tails before the frame are passed over by this read.
            for e in model.entries.iter_mut().take(index) {
                if e.sequence.is_none() && e.state == State::Unread {
                    e.state = State::Done;
                }
            }
            let entry = &mut model.entries[index];
            let seq = entry.sequence.expect("frame entry");
            assert_eq!(frame.sequence(), seq, "frames arrive in order, none lost");
            assert_eq!(frame.len() as u64 + 16, entry.len);
            assert_eq!(first_frame_data_mismatch(&frame, seq), None);
            entry.state = State::Held;
            let read_pos = reader.oieb_snapshot().payload_read_pos;
            assert_eq!(read_pos, (entry.offset + entry.len) % model.size);
            held.push((frame, seq));
            model.settle();
        }
        Err(Error::Timeout(_)) => assert!(next.is_none(), "a written frame was not delivered"),
        Err(e) => panic!("unexpected read error: {e}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn ring_never_loses_overlaps_or_miscounts(
        payload in prop_oneof![Just(256usize), Just(1000), Just(4096), Just(10240)],
        ops in proptest::collection::vec(op(), 1..300),
    ) {
        run(payload, ops);
    }
}
