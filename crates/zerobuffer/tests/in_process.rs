//! Reader and writer in one process: the protocol rules that need no second process.

use std::time::Duration;

use zerobuffer::testdata::{fill_frame_data, first_frame_data_mismatch, frame_data};
use zerobuffer::{BufferConfig, Error, Reader, Writer};
use zerobuffer_test_support::{assert_clean, unique_name};

const SECOND: Duration = Duration::from_secs(1);

#[test]
fn frames_and_metadata_round_trip() {
    let name = unique_name("roundtrip");
    {
        let reader = Reader::create(&name, BufferConfig::new(1024, 10240)).unwrap();
        let mut writer = Writer::connect(&name).unwrap();
        writer.set_metadata(b"hello").unwrap();
        assert_eq!(reader.metadata().unwrap(), b"hello");
        for seq in 1..=50u64 {
            assert_eq!(writer.write_frame(&frame_data(1024, seq)).unwrap(), seq);
            let frame = reader.read_frame(SECOND).unwrap();
            assert_eq!(frame.sequence(), seq);
            assert_eq!(first_frame_data_mismatch(&frame, seq), None);
        }
        let snap = reader.oieb_snapshot();
        assert_eq!(snap.payload_free_bytes, 10240);
        assert_eq!(snap.payload_written_count, snap.payload_read_count);
    }
    assert_clean(&name);
}

#[test]
fn oieb_bytes_are_the_v1_layout() {
    let name = unique_name("layout");
    let reader = Reader::create(&name, BufferConfig::new(100, 1000)).unwrap();
    let raw = std::fs::read(format!("/dev/shm/{name}")).unwrap();
    assert_eq!(raw.len(), 128 + 128 + 1024);
    let word = |off: usize| u64::from_le_bytes(raw[off..off + 8].try_into().unwrap());
    assert_eq!(word(0), 0x0000_0001_0000_0080);
    assert_eq!((word(8), word(16), word(24)), (128, 128, 0));
    assert_eq!((word(32), word(40), word(48), word(56)), (1024, 1024, 0, 0));
    assert_eq!((word(64), word(72), word(80)), (0, 0, 0));
    assert_eq!(word(88), u64::from(std::process::id()));
    drop(reader);
    assert_clean(&name);
}

#[test]
fn zero_copy_slot_is_invisible_until_commit_and_cancel_leaves_no_trace() {
    let name = unique_name("slot");
    let reader = Reader::create(&name, BufferConfig::new(0, 4096)).unwrap();
    let mut writer = Writer::connect(&name).unwrap();
    {
        let mut slot = writer.get_frame_buffer(100).unwrap();
        slot.fill(7);
    }
    assert!(matches!(
        reader.read_frame(Duration::from_millis(50)),
        Err(Error::Timeout(_))
    ));
    let mut slot = writer.get_frame_buffer(300).unwrap();
    assert_eq!(slot.sequence(), 1);
    fill_frame_data(&mut slot, 1);
    assert_eq!(slot.commit(), 1);
    let frame = reader.read_frame(SECOND).unwrap();
    assert_eq!(frame.len(), 300);
    assert_eq!(first_frame_data_mismatch(&frame, 1), None);
}

#[test]
fn size_rules_are_enforced_before_waiting() {
    let name = unique_name("sizes");
    let _reader = Reader::create(&name, BufferConfig::new(0, 64)).unwrap();
    let mut writer = Writer::connect(&name).unwrap();
    assert!(matches!(writer.write_frame(&[]), Err(Error::ZeroSizeFrame)));
    assert!(matches!(
        writer.write_frame(&[1; 49]),
        Err(Error::FrameTooLarge { len: 49, max: 48 })
    ));
    assert_eq!(writer.write_frame(&[1; 48]).unwrap(), 1);
    assert!(matches!(
        writer.set_metadata(b""),
        Err(Error::MetadataTooLarge { .. })
    ));
}

#[test]
fn frame_that_can_never_fit_fails_at_once() {
    let name = unique_name("neverfits");
    let reader = Reader::create(&name, BufferConfig::new(0, 10240)).unwrap();
    let mut writer = Writer::connect(&name).unwrap();
    writer.write_frame(&[0; 6144]).unwrap();
    drop(reader.read_frame(SECOND).unwrap());
    let started = std::time::Instant::now();
    assert!(matches!(
        writer.write_frame(&[0; 7168]),
        Err(Error::FrameTooLarge { .. })
    ));
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn metadata_is_write_once() {
    let name = unique_name("meta");
    let reader = Reader::create(&name, BufferConfig::new(64, 1024)).unwrap();
    let mut writer = Writer::connect(&name).unwrap();
    assert!(matches!(
        writer.set_metadata(&[0; 57]),
        Err(Error::MetadataTooLarge { .. })
    ));
    writer.set_metadata(&[9; 56]).unwrap();
    let err = writer.set_metadata(b"x").unwrap_err();
    assert!(err.to_string().contains("already"), "{err}");
    drop(writer);
    let mut second = Writer::connect(&name).unwrap();
    assert!(matches!(
        second.set_metadata(b"x"),
        Err(Error::MetadataAlreadyWritten)
    ));
    assert_eq!(reader.metadata().unwrap(), vec![9; 56]);
}

#[test]
fn full_ring_times_out_then_resumes_after_release() {
    let name = unique_name("full");
    let reader = Reader::create(&name, BufferConfig::new(0, 10240)).unwrap();
    let mut writer = Writer::connect(&name).unwrap();
    writer.set_write_timeout(Duration::from_millis(200));
    let mut written = 0;
    while writer.write_frame(&[1; 1024]).is_ok() {
        written += 1;
    }
    assert_eq!(written, 9, "9 frames of 1040 bytes fit in 10240");
    drop(reader.read_frame(SECOND).unwrap());
    drop(reader.read_frame(SECOND).unwrap());
    writer.write_frame(&[1; 1024]).unwrap();
}

#[test]
fn frames_released_out_of_order_return_space_in_ring_order() {
    let name = unique_name("order");
    let reader = Reader::create(&name, BufferConfig::new(0, 4096)).unwrap();
    let mut writer = Writer::connect(&name).unwrap();
    for seq in 1..=3 {
        writer.write_frame(&frame_data(1000, seq)).unwrap();
    }
    let a = reader.read_frame(SECOND).unwrap();
    let b = reader.read_frame(SECOND).unwrap();
    let c = reader.read_frame(SECOND).unwrap();
    let free = || reader.oieb_snapshot().payload_free_bytes;
    let before = free();
    drop(c);
    drop(b);
    assert_eq!(
        free(),
        before,
        "nothing returns while the oldest frame is held"
    );
    assert_eq!(first_frame_data_mismatch(&a, 1), None);
    drop(a);
    assert_eq!(free(), 4096);
    assert_eq!(reader.space_signals().unwrap(), 3);
}

#[test]
fn writer_reconnect_restarts_the_expected_sequence() {
    let name = unique_name("reconnect");
    let reader = Reader::create(&name, BufferConfig::new(0, 4096)).unwrap();
    for _ in 0..2 {
        let mut writer = Writer::connect(&name).unwrap();
        for seq in 1..=3 {
            writer.write_frame(&frame_data(100, seq)).unwrap();
            assert_eq!(reader.read_frame(SECOND).unwrap().sequence(), seq);
        }
    }
}

#[test]
fn graceful_writer_exit_is_reported_after_the_last_frame() {
    let name = unique_name("graceful");
    let reader = Reader::create(&name, BufferConfig::new(0, 4096)).unwrap();
    let mut writer = Writer::connect(&name).unwrap();
    writer.write_frame(b"last").unwrap();
    drop(writer);
    assert_eq!(&*reader.read_frame(SECOND).unwrap(), b"last");
    let err = reader.read_frame(Duration::from_millis(50)).unwrap_err();
    assert!(matches!(err, Error::WriterDead), "{err}");
}

#[test]
fn reader_without_any_writer_times_out() {
    let name = unique_name("nowriter");
    let reader = Reader::create(&name, BufferConfig::new(0, 1024)).unwrap();
    assert!(matches!(
        reader.read_frame(Duration::from_millis(20)),
        Err(Error::Timeout(_))
    ));
    assert!(!reader.is_writer_connected());
}

#[test]
fn connect_rules() {
    let name = unique_name("connect");
    assert!(matches!(
        Writer::connect(&name),
        Err(Error::BufferNotFound { .. })
    ));
    assert!(matches!(
        Writer::connect("a/b"),
        Err(Error::InvalidName { .. })
    ));
    let reader = Reader::create(&name, BufferConfig::new(0, 1024)).unwrap();
    assert!(matches!(
        Reader::create(&name, BufferConfig::new(0, 1024)),
        Err(Error::ReaderAlreadyConnected(_))
    ));
    let first = Writer::connect(&name).unwrap();
    let pid = reader.oieb_snapshot().writer_pid;
    assert!(matches!(
        Writer::connect(&name),
        Err(Error::WriterAlreadyConnected { .. })
    ));
    assert_eq!(
        reader.oieb_snapshot().writer_pid,
        pid,
        "a rejected writer touches nothing"
    );
    drop(first);
    assert_eq!(reader.oieb_snapshot().writer_pid, 0);
    drop(reader);
    assert_clean(&name);
}

#[test]
fn writer_sees_a_closed_reader() {
    let name = unique_name("closed");
    let reader = Reader::create(&name, BufferConfig::new(0, 1024)).unwrap();
    let mut writer = Writer::connect(&name).unwrap();
    drop(reader);
    assert!(matches!(writer.write_frame(b"x"), Err(Error::ReaderDead)));
    drop(writer);
    assert_clean(&name);
}

#[test]
fn wraps_write_markers_and_keep_free_bytes_exact() {
    let name = unique_name("wrap");
    let reader = Reader::create(&name, BufferConfig::new(0, 10240)).unwrap();
    let mut writer = Writer::connect(&name).unwrap();
    for seq in 1..=100u64 {
        let len = 1 + (seq as usize * 997) % 3000;
        writer.write_frame(&frame_data(len, seq)).unwrap();
        let frame = reader.read_frame(SECOND).unwrap();
        assert_eq!((frame.sequence(), frame.len()), (seq, len));
        assert_eq!(first_frame_data_mismatch(&frame, seq), None);
        drop(frame);
        let snap = reader.oieb_snapshot();
        assert_eq!(snap.payload_free_bytes, 10240);
        assert!(snap.payload_write_pos < 10240);
        assert_eq!(snap.payload_write_pos, snap.payload_read_pos);
    }
}

/// Overwrites the frame header at payload position `pos` through the /dev/shm file.
fn corrupt_header(name: &str, payload_offset: u64, pos: u64, size: u64, sequence: u64) {
    use std::os::unix::fs::FileExt;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/dev/shm/{name}"))
        .unwrap();
    let mut header = size.to_le_bytes().to_vec();
    header.extend_from_slice(&sequence.to_le_bytes());
    file.write_all_at(&header, payload_offset + pos).unwrap();
}

#[test]
fn zero_size_header_that_is_not_a_marker_is_rejected_and_changes_nothing() {
    let name = unique_name("zerohdr");
    let reader = Reader::create(&name, BufferConfig::new(1024, 10240)).unwrap();
    let mut writer = Writer::connect(&name).unwrap();
    writer.write_frame(b"first").unwrap();
    assert_eq!(&*reader.read_frame(SECOND).unwrap(), b"first");
    writer.write_frame(b"valid").unwrap();
    // The unread frame sits at 21 (16 + 5): give it size 0 but keep its sequence.
    corrupt_header(&name, 128 + 1024, 21, 0, 2);
    let before = reader.oieb_snapshot();
    for _ in 0..2 {
        let err = reader.read_frame(SECOND).unwrap_err();
        assert!(matches!(err, Error::InvalidFrameHeader(_)), "{err}");
        assert_eq!(
            reader.oieb_snapshot(),
            before,
            "a rejected header changes nothing"
        );
        assert_eq!(
            reader.pending_frames().unwrap(),
            1,
            "the unread frame is still counted"
        );
    }
}

#[test]
fn wrap_marker_at_offset_zero_is_rejected() {
    let name = unique_name("marker0");
    let reader = Reader::create(&name, BufferConfig::new(0, 1024)).unwrap();
    let mut writer = Writer::connect(&name).unwrap();
    writer.write_frame(b"x").unwrap();
    corrupt_header(&name, 128, 0, 0, 0);
    let before = reader.oieb_snapshot();
    let err = reader.read_frame(SECOND).unwrap_err();
    assert!(
        matches!(err, Error::Sequence { .. } | Error::InvalidFrameHeader(_)),
        "{err}"
    );
    assert_eq!(reader.oieb_snapshot(), before);
}

/// `read_frame_exclusive` beside `read_frame` on one reader, through many wraps of a ring that
/// does not divide by the frame sizes: every frame intact and in order, the space all back
/// after each frame, and a frame forgotten (never released) still holding back the space
/// behind it for exclusive reads too.
#[test]
fn exclusive_reads_mix_with_shared_ones_and_keep_the_ring_order() {
    let name = unique_name("exclusive");
    {
        let mut reader = Reader::create(&name, BufferConfig::new(0, 4096)).unwrap();
        let mut writer = Writer::connect(&name).unwrap();
        for i in 0..600u64 {
            let len = 100 + (i as usize * 37) % 900;
            let seq = writer.write_frame(&frame_data(len, i + 1)).unwrap();
            let frame = if i % 3 == 0 {
                reader.read_frame(SECOND).unwrap()
            } else {
                reader.read_frame_exclusive(SECOND).unwrap()
            };
            assert_eq!(frame.sequence(), seq);
            assert_eq!(first_frame_data_mismatch(&frame, seq), None);
            drop(frame);
            assert_eq!(
                reader.oieb_snapshot().payload_free_bytes,
                4096,
                "frame {seq}"
            );
        }
        let seq = writer.write_frame(&frame_data(1000, 601)).unwrap();
        std::mem::forget(reader.read_frame(SECOND).unwrap());
        writer.write_frame(&frame_data(1000, 602)).unwrap();
        let frame = reader.read_frame_exclusive(SECOND).unwrap();
        assert_eq!(frame.sequence(), seq + 1);
        drop(frame);
        let held = 2 * (1000 + 16);
        assert_eq!(reader.oieb_snapshot().payload_free_bytes, 4096 - held);
        assert_eq!(reader.outstanding_frames(), 2);
    }
    assert_clean(&name);
}
