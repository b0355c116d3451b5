//! DuplexChannel interop with the real Python peer (`zerobuffer.duplex` from PyPI
//! `zerobuffer-ipc` 1.3.0): Rust client ↔ Python echo server and Python client ↔ Rust echo
//! server, 1,000 requests of mixed sizes, every response checked against its request; our
//! side with each [`WaitStrategy`].

mod common;

use std::time::Duration;

use common::peer::{python_peer, PeerProcess};
use zerobuffer::duplex::{request_buffer_name, response_buffer_name};
use zerobuffer::testdata::{first_frame_data_mismatch, frame_data};
use zerobuffer::{BufferConfig, DuplexClient, DuplexServer, ProcessingMode, WaitStrategy};
use zerobuffer_test_support::{assert_clean, unique_name};

const REQUESTS: u64 = 1_000;
const WAIT: Duration = Duration::from_secs(10);

/// Size of request `i`, the same formula as py_duplex.py.
fn request_size(i: u64) -> usize {
    1 + ((i * 7919) % 20_000) as usize
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

fn assert_channel_clean(channel: &str) {
    assert_clean(&request_buffer_name(channel));
    assert_clean(&response_buffer_name(channel));
}

fn rust_client_to_python_echo_server(tag: &str, wait: WaitStrategy) {
    let Some(python) = python_peer() else { return };
    let channel = unique_name(tag);
    let server = PeerProcess::spawn_script(
        &python,
        "py_duplex.py",
        &strings(&["server", &channel, "--timeout-s", "3"]),
    );
    {
        // Connect at once: the Python server creates its request buffer on a background
        // thread after start returns (and Python takes a while to start), so the client must
        // retry until it appears.
        let mut client = DuplexClient::connect(&channel, Duration::from_secs(30)).unwrap();
        client.set_wait_strategy(wait);
        for i in 1..=REQUESTS {
            let seq = client
                .send_request(&frame_data(request_size(i), i))
                .unwrap();
            assert_eq!(seq, i);
            let response = client.receive_response(WAIT).unwrap();
            assert_eq!(response.sequence(), seq);
            assert_eq!(response.len(), request_size(i), "response {i}");
            assert_eq!(
                first_frame_data_mismatch(&response, i),
                None,
                "response {i}"
            );
        }
    }
    // Our client left: the Python server sees its writer gone and ends.
    let (status, lines) = server.finish(Duration::from_secs(60));
    assert!(status.success(), "Python server failed: {lines:?}");
    let summary: serde_json::Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(summary["handled"], REQUESTS);
    assert_channel_clean(&channel);
}

#[test]
fn rust_blocking_client_to_python_echo_server() {
    rust_client_to_python_echo_server("dx_pyserver", WaitStrategy::Block);
}

#[test]
fn rust_spin_then_block_client_to_python_echo_server() {
    rust_client_to_python_echo_server("dx_pyserver_spin", WaitStrategy::spin_then_block());
}

#[test]
fn rust_busy_spin_client_to_python_echo_server() {
    rust_client_to_python_echo_server("dx_pyserver_busy", WaitStrategy::BusySpin);
}

fn python_client_to_rust_echo_server(tag: &str, wait: WaitStrategy) {
    let Some(python) = python_peer() else { return };
    let channel = unique_name(tag);
    {
        let mut server = DuplexServer::new(&channel, BufferConfig::new(4096, 1 << 20))
            .unwrap()
            .with_wait_strategy(wait);
        server
            .start(ProcessingMode::SingleThread, |req| req.to_vec())
            .unwrap();
        let client = PeerProcess::spawn_script(
            &python,
            "py_duplex.py",
            &strings(&["client", &channel, "--requests", &REQUESTS.to_string()]),
        );
        let (status, lines) = client.finish(Duration::from_secs(120));
        assert!(status.success(), "Python client failed: {lines:?}");
        let summary: serde_json::Value = serde_json::from_str(lines.last().unwrap()).unwrap();
        assert_eq!(summary["errors"], serde_json::json!([]));
        assert!(
            server.is_running(),
            "the server keeps serving after its client left"
        );
        server.stop().unwrap();
    }
    assert_channel_clean(&channel);
}

#[test]
fn python_client_to_rust_blocking_echo_server() {
    python_client_to_rust_echo_server("dx_pyclient", WaitStrategy::Block);
}

#[test]
fn python_client_to_rust_spin_then_block_echo_server() {
    python_client_to_rust_echo_server("dx_pyclient_spin", WaitStrategy::spin_then_block());
}

#[test]
fn python_client_to_rust_busy_spin_echo_server() {
    python_client_to_rust_echo_server("dx_pyclient_busy", WaitStrategy::BusySpin);
}
