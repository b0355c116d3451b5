//! Owned loans: frames that hold their reader, slots that hold their writer and request slots
//! that hold their duplex client, kept across calls and moved between threads.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use zerobuffer::duplex::{request_buffer_name, response_buffer_name};
use zerobuffer::testdata::{fill_frame_data, first_frame_data_mismatch};
use zerobuffer::{
    BufferConfig, DuplexClient, DuplexServer, Error, OwnedFrame, ProcessingMode, Reader, Writer,
};
use zerobuffer_test_support::{assert_clean, unique_name};

const SECOND: Duration = Duration::from_secs(1);
const WAIT: Duration = Duration::from_secs(5);

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

/// Four threads share one reader: each takes frames and drops them after a few later ones, so
/// reads and releases of different threads meet on the reader's lock all the time. Every frame
/// is taken once, intact, and all the space comes back (a lost credit would leave the writer
/// on this thread without space: `BufferFull`). A thread that finds no frame for a moment lets
/// go of what it holds: the oldest held frame keeps the space after it from the writer, and
/// its holder may be waiting for a frame the writer cannot write.
#[test]
fn threads_sharing_a_reader_take_every_frame_once_and_return_all_space() {
    const FRAMES: u64 = 20_000;
    const THREADS: usize = 4;
    let name = unique_name("owned-shared");
    {
        let reader = Arc::new(Reader::create(&name, BufferConfig::new(0, 64 * 1024)).unwrap());
        let mut writer = Writer::connect(&name).unwrap();
        let written = Arc::new(AtomicBool::new(false));
        let takers: Vec<_> = (0..THREADS)
            .map(|_| {
                let (reader, written) = (Arc::clone(&reader), Arc::clone(&written));
                thread::spawn(move || {
                    let (mut seen, mut held) = (Vec::new(), Vec::new());
                    loop {
                        // Read before the wait: a timeout then means the last frame is taken.
                        let all_written = written.load(Ordering::Acquire);
                        let frame = match reader.read_frame_owned(Duration::from_millis(5)) {
                            Ok(frame) => frame,
                            Err(Error::Timeout(_)) if all_written => break,
                            Err(Error::Timeout(_)) => {
                                held.clear();
                                continue;
                            }
                            Err(e) => panic!("read failed: {e}"),
                        };
                        assert_eq!(first_frame_data_mismatch(&frame, frame.sequence()), None);
                        seen.push(frame.sequence());
                        held.push(frame);
                        if held.len() > 3 {
                            held.remove(fastrand::usize(..held.len()));
                        }
                    }
                    seen
                })
            })
            .collect();
        for _ in 0..FRAMES {
            let mut slot = writer.get_frame_buffer(fastrand::usize(1..600)).unwrap();
            let seq = slot.sequence();
            fill_frame_data(&mut slot, seq);
            slot.commit();
        }
        written.store(true, Ordering::Release);
        let mut seen: Vec<u64> = takers.into_iter().flat_map(|t| t.join().unwrap()).collect();
        seen.sort_unstable();
        assert_eq!(seen, (1..=FRAMES).collect::<Vec<_>>());
        assert_eq!(reader.outstanding_frames(), 0);
        assert_eq!(reader.oieb_snapshot().payload_free_bytes, 64 * 1024);
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

fn echo_server(channel: &str) -> DuplexServer {
    let mut server = DuplexServer::new(channel, BufferConfig::new(0, 64 * 1024)).unwrap();
    server
        .start(ProcessingMode::SingleThread, |req| req.to_vec())
        .unwrap();
    server
}

fn small_client(channel: &str) -> DuplexClient {
    DuplexClient::connect_with(channel, BufferConfig::new(0, 64 * 1024), WAIT).unwrap()
}

#[test]
fn an_owned_request_slot_is_filled_on_another_thread_and_hands_the_client_back() {
    let channel = unique_name("owned-request");
    {
        let _server = echo_server(&channel);
        let client = small_client(&channel);
        let slot = client.into_request_slot(3000).unwrap();
        assert_eq!((slot.sequence(), slot.len()), (1, 3000));
        assert_eq!(slot.channel(), channel);
        let filler = thread::spawn(move || {
            let mut slot = slot;
            fill_frame_data(&mut slot, 1);
            slot.commit()
        });
        let (client, sequence) = filler.join().unwrap();
        assert_eq!((sequence, client.pending_requests()), (1, 1));
        let response = client.receive_response(WAIT).unwrap();
        assert_eq!((response.sequence(), response.len()), (1, 3000));
        assert_eq!(first_frame_data_mismatch(&response, 1), None);
        drop(response);

        // Abandoned: the server sees nothing, and the next request is still sequence 2.
        let abandoned = client.into_request_slot(100).unwrap();
        let client = abandoned.abandon();
        assert_eq!(client.pending_requests(), 0);
        assert!(matches!(
            client.receive_response(Duration::from_millis(100)),
            Err(Error::Timeout(_))
        ));
        assert_eq!(client.send_request(b"next").unwrap(), 2);
        assert_eq!(&*client.receive_response(WAIT).unwrap(), b"next");

        // A slot that cannot be reserved gives the client back with the reason.
        let refused = client.into_request_slot(0).unwrap_err();
        assert!(matches!(refused.error, Error::ZeroSizeFrame), "{refused}");
        let refused = refused.client.into_request_slot(1 << 20).unwrap_err();
        assert!(
            matches!(refused.error, Error::FrameTooLarge { .. }),
            "{refused}"
        );
        let client = refused.client;
        assert_eq!(client.send_request(b"still usable").unwrap(), 3);
        let response = client.receive_response(WAIT).unwrap();
        assert_eq!((response.sequence(), &*response), (3, &b"still usable"[..]));
    }
    assert_clean(&request_buffer_name(&channel));
    assert_clean(&response_buffer_name(&channel));
}

#[test]
fn dropping_an_owned_request_slot_closes_its_client() {
    let channel = unique_name("owned-request-drop");
    {
        let server = echo_server(&channel);
        let slot = small_client(&channel).into_request_slot(500).unwrap();
        drop(slot);
        assert_clean(&response_buffer_name(&channel));

        // The server never saw the request and serves the next client from its first one.
        let client = small_client(&channel);
        assert_eq!(client.send_request(b"first").unwrap(), 1);
        let response = client.receive_response(WAIT).unwrap();
        assert_eq!((response.sequence(), &*response), (1, &b"first"[..]));
        assert!(server.is_running());
    }
    assert_clean(&request_buffer_name(&channel));
    assert_clean(&response_buffer_name(&channel));
}
