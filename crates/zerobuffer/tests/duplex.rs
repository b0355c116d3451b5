//! DuplexChannel in one process: correlation, zero-copy both ways, lifecycle and failures.

use std::thread;
use std::time::{Duration, Instant};

use zerobuffer::duplex::{request_buffer_name, response_buffer_name};
use zerobuffer::testdata::{fill_frame_data, first_frame_data_mismatch, frame_data};
use zerobuffer::{BufferConfig, DuplexClient, DuplexServer, Error, ProcessingMode};
use zerobuffer_test_support::{assert_clean, unique_name};

const CONFIG: BufferConfig = BufferConfig::new(4096, 1 << 20);
const WAIT: Duration = Duration::from_secs(5);

fn echo_server(channel: &str) -> DuplexServer {
    let mut server = DuplexServer::new(channel, CONFIG).unwrap();
    server
        .start(ProcessingMode::SingleThread, |req| req.to_vec())
        .unwrap();
    server
}

fn assert_channel_clean(channel: &str) {
    assert_clean(&request_buffer_name(channel));
    assert_clean(&response_buffer_name(channel));
}

#[test]
fn echo_round_trips_mixed_sizes_in_order() {
    let channel = unique_name("dx_echo");
    {
        let _server = echo_server(&channel);
        let client = DuplexClient::connect(&channel, WAIT).unwrap();
        for i in 1..=300u64 {
            let len = 1 + (i as usize * 7919) % 20_000;
            let seq = client.send_request(&frame_data(len, i)).unwrap();
            assert_eq!(seq, i);
            let response = client.receive_response(WAIT).unwrap();
            assert_eq!(response.sequence(), seq);
            assert_eq!(response.len(), len);
            assert_eq!(first_frame_data_mismatch(&response, i), None);
        }
        assert!(client.is_server_connected());
    }
    assert_channel_clean(&channel);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let channel = unique_name("dx_pipe");
    let _server = echo_server(&channel);
    let client = DuplexClient::connect(&channel, WAIT).unwrap();
    for i in 1..=20u64 {
        client.send_request(&frame_data(100, i)).unwrap();
    }
    assert_eq!(client.pending_requests(), 20);
    for i in 1..=20u64 {
        let r = client.receive_response(WAIT).unwrap();
        assert_eq!(r.sequence(), i);
        assert_eq!(first_frame_data_mismatch(&r, i), None);
    }
    assert_eq!(client.pending_requests(), 0);
}

#[test]
fn zero_copy_both_ways() {
    let channel = unique_name("dx_zc");
    let mut server = DuplexServer::new(&channel, CONFIG).unwrap();
    server
        .start_zero_copy(ProcessingMode::SingleThread, |req, responder| {
            // Respond with the request bytes inverted, written straight into the response ring.
            let mut slot = responder.slot(req.len())?;
            for (out, b) in slot.iter_mut().zip(req.iter()) {
                *out = !b;
            }
            slot.commit();
            Ok(())
        })
        .unwrap();
    let mut client = DuplexClient::connect(&channel, WAIT).unwrap();
    let mut slot = client.acquire(4000).unwrap();
    let seq = slot.sequence();
    fill_frame_data(&mut slot, 3);
    assert_eq!(slot.commit(), seq);
    let response = client.receive_response(WAIT).unwrap();
    let expected: Vec<u8> = frame_data(4000, 3).iter().map(|b| !b).collect();
    assert_eq!(&*response, &expected[..]);
}

#[test]
fn client_connecting_before_the_server_retries_until_it_appears() {
    let channel = unique_name("dx_early");
    let starter = {
        let channel = channel.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(300));
            echo_server(&channel)
        })
    };
    let client = DuplexClient::connect(&channel, WAIT).unwrap();
    let _server = starter.join().unwrap();
    client.send_request(b"hi").unwrap();
    assert_eq!(&*client.receive_response(WAIT).unwrap(), b"hi");
}

#[test]
fn client_without_server_fails_after_its_timeout() {
    let channel = unique_name("dx_none");
    let started = Instant::now();
    let err = DuplexClient::connect(&channel, Duration::from_millis(300)).unwrap_err();
    assert!(matches!(err, Error::BufferNotFound { .. }), "{err}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_channel_clean(&channel);
}

#[test]
fn client_learns_that_the_server_stopped() {
    let channel = unique_name("dx_stop");
    let mut server = echo_server(&channel);
    let client = DuplexClient::connect(&channel, WAIT).unwrap();
    client.send_request(b"one").unwrap();
    drop(client.receive_response(WAIT).unwrap());
    server.stop().unwrap();
    assert!(!server.is_running());
    assert!(!client.is_server_connected());
    let err = client
        .receive_response(Duration::from_millis(200))
        .unwrap_err();
    assert!(matches!(err, Error::WriterDead), "{err}");
    assert!(matches!(
        client.send_request(b"two"),
        Err(Error::ReaderDead)
    ));
}

#[test]
fn server_serves_the_next_client_after_one_leaves() {
    let channel = unique_name("dx_next");
    let server = echo_server(&channel);
    for round in 0..3u64 {
        let client = DuplexClient::connect(&channel, WAIT).unwrap();
        for i in 1..=5u64 {
            client
                .send_request(&frame_data(64, round * 10 + i))
                .unwrap();
            let r = client.receive_response(WAIT).unwrap();
            assert_eq!(r.sequence(), i);
            assert_eq!(first_frame_data_mismatch(&r, round * 10 + i), None);
        }
    }
    assert!(server.is_running());
}

#[test]
fn channel_name_is_reusable_after_the_server_is_gone() {
    let channel = unique_name("dx_reuse");
    for _ in 0..2 {
        let _server = echo_server(&channel);
        let client = DuplexClient::connect(&channel, WAIT).unwrap();
        client.send_request(b"x").unwrap();
        assert_eq!(&*client.receive_response(WAIT).unwrap(), b"x");
    }
    assert_channel_clean(&channel);
}

#[test]
fn full_response_ring_blocks_the_server_until_the_client_reads() {
    let channel = unique_name("dx_full");
    let _server = echo_server(&channel);
    // A 16 KiB response ring holds 3 responses of 4 KiB; send 12 before reading any.
    let client =
        DuplexClient::connect_with(&channel, BufferConfig::new(0, 16 * 1024), WAIT).unwrap();
    for i in 1..=12u64 {
        client.send_request(&frame_data(4096, i)).unwrap();
    }
    thread::sleep(Duration::from_millis(300));
    let snap = zerobuffer::inspect(&request_buffer_name(&channel))
        .unwrap()
        .oieb;
    assert!(
        snap.payload_read_count < 12,
        "the server must be blocked on the full response ring"
    );
    for i in 1..=12u64 {
        let r = client.receive_response(WAIT).unwrap();
        assert_eq!(r.sequence(), i);
        assert_eq!(first_frame_data_mismatch(&r, i), None);
    }
}

#[test]
fn handler_without_response_stops_the_server_with_an_error() {
    let channel = unique_name("dx_noresp");
    let mut server = DuplexServer::new(&channel, CONFIG).unwrap();
    server
        .start_zero_copy(ProcessingMode::SingleThread, |_req, _responder| Ok(()))
        .unwrap();
    let client = DuplexClient::connect(&channel, WAIT).unwrap();
    client.send_request(b"lost").unwrap();
    let deadline = Instant::now() + WAIT;
    while server.is_running() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    assert!(!server.is_running());
    let errors = server.take_errors();
    assert!(
        errors
            .iter()
            .any(|e| e.to_string().contains("without a response")),
        "{errors:?}"
    );
}

#[test]
fn invalid_channel_names_are_rejected() {
    assert!(matches!(
        DuplexServer::new("a/b", CONFIG),
        Err(Error::InvalidName { .. })
    ));
    let too_long = "c".repeat(240);
    assert!(matches!(
        DuplexServer::new(&too_long, CONFIG),
        Err(Error::InvalidName { .. })
    ));
    assert!(matches!(
        DuplexClient::connect("", WAIT),
        Err(Error::InvalidName { .. })
    ));
}
