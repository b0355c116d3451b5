//! Owned loans: frames that hold their reader and slots that hold their writer, kept across
//! calls and moved between threads.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use zerobuffer::testdata::{fill_frame_data, first_frame_data_mismatch};
use zerobuffer::{BufferConfig, Error, OwnedFrame, Reader, Writer};
use zerobuffer_test_support::{assert_clean, unique_name};

const SECOND: Duration = Duration::from_secs(1);

#[test]
fn owned_frames_outlive_later_reads_and_return_their_space_in_ring_order() {
    let name = unique_name("owned-frames");
    {
        let reader = Arc::new(Reader::create(&name, BufferConfig::new(0, 4096)).unwrap());
        let mut writer = Writer::connect(&name).unwrap();
        for _ in 0..3 {
            let mut slot = writer.get_frame_buffer(1000).unwrap();
            let seq = slot.sequence();
            fill_frame_data(&mut slot, seq);
            slot.commit();
        }
        let frames: Vec<OwnedFrame> = (0..3)
            .map(|_| reader.read_frame_owned(SECOND).unwrap())
            .collect();
        let mut frames = frames.into_iter();
        let (first, second, third) = (
            frames.next().unwrap(),
            frames.next().unwrap(),
            frames.next().unwrap(),
        );
        // Checked and dropped on another thread, the middle one first.
        let checker = thread::spawn(move || {
            for frame in [&second, &third, &first] {
                assert_eq!(first_frame_data_mismatch(frame, frame.sequence()), None);
            }
            drop(second);
            (first, third)
        });
        let (first, third) = checker.join().unwrap();
        let held = 3 * (1000 + 16);
        assert_eq!(reader.oieb_snapshot().payload_free_bytes, 4096 - held);
        drop(first); // frames 1 and 2 are now contiguous from the ring start
        assert_eq!(
            reader.oieb_snapshot().payload_free_bytes,
            4096 - held + 2 * 1016
        );
        drop(third);
        assert_eq!(reader.oieb_snapshot().payload_free_bytes, 4096);
    }
    assert_clean(&name);
}

#[test]
fn an_owned_slot_is_filled_on_another_thread_and_hands_the_writer_back() {
    let name = unique_name("owned-slot");
    {
        let reader = Reader::create(&name, BufferConfig::new(0, 4096)).unwrap();
        let writer = Writer::connect(&name).unwrap();
        let slot = writer.into_frame_buffer(500).unwrap();
        assert_eq!(slot.sequence(), 1);
        let filler = thread::spawn(move || {
            let mut slot = slot;
            fill_frame_data(&mut slot, 1);
            slot.commit()
        });
        let (writer, sequence) = filler.join().unwrap();
        assert_eq!(sequence, 1);
        let frame = reader.read_frame(SECOND).unwrap();
        assert_eq!((frame.sequence(), frame.len()), (1, 500));
        assert_eq!(first_frame_data_mismatch(&frame, 1), None);
        drop(frame);

        // Abandoned: nothing reaches the reader, and the next frame is still sequence 2.
        let abandoned = writer.into_frame_buffer(100).unwrap();
        let mut writer = abandoned.abandon();
        assert!(matches!(
            reader.read_frame(Duration::from_millis(50)),
            Err(Error::Timeout(_))
        ));
        assert_eq!(writer.write_frame(b"next").unwrap(), 2);
        assert_eq!(reader.read_frame(SECOND).unwrap().sequence(), 2);

        // A slot that cannot be reserved gives the writer back with the reason.
        let refused = writer.into_frame_buffer(0).unwrap_err();
        assert!(matches!(refused.error, Error::ZeroSizeFrame), "{refused}");
        let mut writer = refused.writer;
        assert_eq!(writer.write_frame(b"still usable").unwrap(), 3);
    }
    assert_clean(&name);
}
