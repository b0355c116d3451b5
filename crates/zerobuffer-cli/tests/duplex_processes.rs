//! Two real processes on a DuplexChannel: a `zerobuffer duplex-echo` or `duplex-request` child
//! and the library in the test process.
//!
//! "Two-process tests for server death, client death and the full-response-ring case": a
//! killed server is reported to its waiting client as `WriterDead` within the timeout plus 1 s
//! (also before it ever attached), a killed client leaves the server serving the next one, and
//! a full response ring blocks the server until the client reads. A killed side its parent
//! has not reaped yet (a zombie, issue 11) counts as dead too, within the timeout plus 5 s.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{run, shared, wait_until, Death, Proc, ReadyFile, WAIT};
use zerobuffer::duplex::{request_buffer_name, response_buffer_name};
use zerobuffer::testdata::{first_frame_data_mismatch, frame_data};
use zerobuffer::{
    clean_stale, inspect, BufferConfig, CleanOutcome, DuplexClient, DuplexServer, Error,
    ProcessingMode,
};
use zerobuffer_test_support::{assert_clean, unique_name};

const TIMEOUT: Duration = Duration::from_secs(2);
/// Connect deadline of the clients in the test process.
const CONNECT: Duration = Duration::from_secs(5);
/// Longest wait for one response in the test process.
const RESPONSE_WAIT: Duration = Duration::from_secs(10);

/// Starts `zerobuffer duplex-echo CHANNEL EXTRA... --ready-file F` and waits until the request
/// buffer exists.
fn start_echo(channel: &str, extra: &[&str]) -> (Proc, ReadyFile) {
    let ready = ReadyFile::new(channel);
    let mut args = vec!["duplex-echo", channel];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--ready-file", ready.arg()]);
    let mut proc = Proc::spawn(&args);
    proc.wait_ready(&ready);
    (proc, ready)
}

/// An in-process echo server whose handler takes `delay` while `slow` is set.
fn slow_echo_server(channel: &str, delay: Duration, slow: &Arc<AtomicBool>) -> DuplexServer {
    let mut server = DuplexServer::new(channel, BufferConfig::new(4096, 1 << 20)).unwrap();
    let slow = Arc::clone(slow);
    server
        .start(ProcessingMode::SingleThread, move |request| {
            if slow.load(Ordering::SeqCst) {
                thread::sleep(delay);
            }
            request.to_vec()
        })
        .unwrap();
    server
}

/// Echo round trips `1..=count` with verified sequence and bytes.
fn round_trips(client: &DuplexClient, count: u64, size: usize) {
    for i in 1..=count {
        let sequence = client.send_request(&frame_data(size, i)).unwrap();
        assert_eq!(sequence, i);
        let response = client.receive_response(RESPONSE_WAIT).unwrap();
        assert_eq!((response.sequence(), response.len()), (i, size));
        assert_eq!(
            first_frame_data_mismatch(&response, i),
            None,
            "response {i}"
        );
    }
}

/// Requests the server has taken from its request buffer.
fn requests_taken(channel: &str) -> u64 {
    inspect(&request_buffer_name(channel)).map_or(0, |info| info.oieb.payload_read_count)
}

/// Removes the objects a SIGKILLed side left behind; another reader's stale scan may have
/// removed them already.
fn clean_killed(name: &str) {
    match clean_stale(name).unwrap() {
        CleanOutcome::Removed(_) | CleanOutcome::NotFound => {}
        other => panic!("unexpected clean outcome for {name}: {other:?}"),
    }
}

fn assert_channel_clean(channel: &str) {
    assert_clean(&request_buffer_name(channel));
    assert_clean(&response_buffer_name(channel));
}

/// The error of `receive_response(TIMEOUT)` and how long it took.
fn receive_error(client: &DuplexClient) -> (Error, Duration) {
    let started = Instant::now();
    match client.receive_response(TIMEOUT) {
        Ok(response) => panic!("unexpected response {}", response.sequence()),
        Err(e) => (e, started.elapsed()),
    }
}

#[test]
fn killed_server_is_reported_to_a_client_waiting_for_its_response() {
    dead_server_is_reported_to_a_waiting_client(Death::Reaped);
}

#[test]
fn unreaped_killed_server_is_reported_to_a_client_waiting_for_its_response() {
    dead_server_is_reported_to_a_waiting_client(Death::Zombie);
}

fn dead_server_is_reported_to_a_waiting_client(death: Death) {
    let _guard = shared();
    let channel = unique_name("dx_deadserver");
    let (mut server, _ready) = start_echo(&channel, &["--delay-ms", "3000"]);
    let client = DuplexClient::connect(&channel, CONNECT).unwrap();
    assert_eq!(client.send_request(&frame_data(1024, 1)).unwrap(), 1);
    // The server attaches to our response buffer just before its handler starts sleeping.
    let server_pid = server.pid_u64();
    assert!(
        wait_until(WAIT, || inspect(&response_buffer_name(&channel))
            .is_ok_and(|info| info.oieb.writer_pid == server_pid)),
        "the server never attached to the response buffer"
    );
    thread::sleep(Duration::from_millis(300));
    server.kill_as(death);

    let (error, took) = receive_error(&client);
    assert!(matches!(error, Error::WriterDead), "{error:?}");
    assert!(took <= TIMEOUT + death.grace(), "WriterDead after {took:?}");
    assert!(!client.is_server_connected());
    server.kill_and_reap();
    drop(client);
    clean_killed(&request_buffer_name(&channel));
    assert_channel_clean(&channel);
}

#[test]
fn server_killed_before_any_request_is_reported_too() {
    idle_dead_server_is_reported(Death::Reaped);
}

#[test]
fn unreaped_server_killed_before_any_request_is_reported_too() {
    idle_dead_server_is_reported(Death::Zombie);
}

fn idle_dead_server_is_reported(death: Death) {
    let _guard = shared();
    let channel = unique_name("dx_deadidle");
    let (mut server, _ready) = start_echo(&channel, &[]);
    let client = DuplexClient::connect(&channel, CONNECT).unwrap();
    assert!(
        inspect(&request_buffer_name(&channel))
            .unwrap()
            .writer_alive
    );
    server.kill_as(death);

    // The server never attached its response writer: the client judges by the request reader.
    let (error, took) = receive_error(&client);
    assert!(matches!(error, Error::WriterDead), "{error:?}");
    assert!(took <= TIMEOUT + death.grace(), "WriterDead after {took:?}");
    server.kill_and_reap();
    drop(client);
    clean_killed(&request_buffer_name(&channel));
    assert_channel_clean(&channel);
}

#[test]
fn killed_client_leaves_the_server_serving_the_next_one() {
    dead_client_leaves_the_server_serving_the_next_one(Death::Reaped);
}

#[test]
fn unreaped_killed_client_leaves_the_server_serving_the_next_one() {
    dead_client_leaves_the_server_serving_the_next_one(Death::Zombie);
}

fn dead_client_leaves_the_server_serving_the_next_one(death: Death) {
    let _guard = shared();
    let channel = unique_name("dx_deadclient");
    let slow = Arc::new(AtomicBool::new(true));
    let mut server = slow_echo_server(&channel, Duration::from_secs(1), &slow);
    let ready = ReadyFile::new(&format!("{channel}_client"));
    let mut child = Proc::spawn(&[
        "duplex-request",
        &channel,
        "--requests",
        "1",
        "--ready-file",
        ready.arg(),
    ]);
    child.wait_ready(&ready);
    // The server has taken the request and sleeps in its handler.
    assert!(
        wait_until(WAIT, || requests_taken(&channel) >= 1),
        "the request never arrived"
    );
    thread::sleep(Duration::from_millis(300));
    child.kill_as(death);

    let mut errors = Vec::new();
    let departed = wait_until(WAIT, || {
        errors.extend(server.take_errors());
        errors
            .iter()
            .any(|e| matches!(e, Error::ReaderDead | Error::WriterDead))
    });
    assert!(
        departed,
        "the server did not notice the client leave: {errors:?}"
    );
    assert!(server.is_running());
    slow.store(false, Ordering::SeqCst);

    {
        let client = DuplexClient::connect(&channel, CONNECT).unwrap();
        round_trips(&client, 5, 3000);
    }
    server.stop().unwrap();
    errors.extend(server.take_errors());
    assert!(
        errors
            .iter()
            .all(|e| matches!(e, Error::ReaderDead | Error::WriterDead)),
        "{errors:?}"
    );
    child.kill_and_reap();
    clean_killed(&response_buffer_name(&channel));
    assert_channel_clean(&channel);
}

#[test]
fn full_response_ring_blocks_the_server_until_the_client_reads() {
    let _guard = shared();
    let channel = unique_name("dx_fullring");
    let (server, _ready) = start_echo(&channel, &[]);
    // Three 4 KiB responses (16-byte header each) fill a 16 KiB response ring.
    let client =
        DuplexClient::connect_with(&channel, BufferConfig::new(0, 16 * 1024), CONNECT).unwrap();
    for i in 1..=12u64 {
        assert_eq!(client.send_request(&frame_data(4096, i)).unwrap(), i);
    }
    assert!(
        wait_until(WAIT, || requests_taken(&channel) >= 1),
        "the server never took a request"
    );
    thread::sleep(Duration::from_millis(300));
    let taken = requests_taken(&channel);
    assert!(
        taken < 12,
        "the server took {taken} requests past a full response ring"
    );

    for i in 1..=12u64 {
        let response = client.receive_response(RESPONSE_WAIT).unwrap();
        assert_eq!((response.sequence(), response.len()), (i, 4096));
        assert_eq!(
            first_frame_data_mismatch(&response, i),
            None,
            "response {i}"
        );
    }
    assert_eq!(client.pending_requests(), 0);

    server.signal("TERM");
    let out = server.wait(WAIT);
    assert_eq!(out.code(), Some(143), "{out:?}");
    assert_eq!(
        out.stderr, "zerobuffer: interrupted by SIGTERM\n",
        "{out:?}"
    );
    // The server removed its request buffer although our writer is still attached.
    assert_clean(&request_buffer_name(&channel));
    drop(client);
    assert_channel_clean(&channel);
}

#[test]
fn duplex_request_checks_a_duplex_echo_child() {
    let _guard = shared();
    let channel = unique_name("dx_echo");
    let (server, _ready) = start_echo(&channel, &["--payload-size", "65536"]);
    // Requests of 3000 bytes wrap the 64 KiB request ring several times.
    let out = run(&[
        "duplex-request",
        &channel,
        "--requests",
        "100",
        "--size",
        "3000",
        "--json",
    ]);
    assert_eq!(out.code(), Some(0), "{out:?}");
    assert_eq!(out.stderr, "", "{out:?}");
    let json = out.json();
    assert_eq!(json["requests"], 100);
    assert_eq!(json["bytes"], 300_000);
    assert_eq!(json["mismatches"], 0);
    assert!(json["elapsed_ms"].as_f64().unwrap() > 0.0);
    assert_clean(&response_buffer_name(&channel));

    // A second client after the first one left; the human summary this time.
    let out = run(&["duplex-request", &channel, "--requests", "3"]);
    assert_eq!(out.code(), Some(0), "{out:?}");
    assert!(
        out.stdout.starts_with("3 requests, 3072 bytes echoed in "),
        "{out:?}"
    );
    assert!(out.stdout.ends_with("; 0 mismatches\n"), "{out:?}");

    server.signal("INT");
    let out = server.wait(WAIT);
    assert_eq!(out.code(), Some(130), "{out:?}");
    assert_channel_clean(&channel);
}

#[test]
fn duplex_request_counts_responses_that_differ() {
    let _guard = shared();
    let channel = unique_name("dx_mismatch");
    let mut server = DuplexServer::new(&channel, BufferConfig::new(0, 65536)).unwrap();
    server
        .start(ProcessingMode::SingleThread, |request| {
            let mut response = request.to_vec();
            if request.sequence() == 2 {
                response[100] ^= 0xFF;
            }
            response
        })
        .unwrap();
    let out = run(&[
        "duplex-request",
        &channel,
        "--requests",
        "3",
        "--size",
        "500",
        "--json",
    ]);
    assert_eq!(out.code(), Some(1), "{out:?}");
    let json = out.json();
    assert_eq!(json["requests"], 3);
    assert_eq!(json["bytes"], 1500);
    assert_eq!(json["mismatches"], 1);
    let last = out.stderr.lines().last().unwrap();
    assert_eq!(
        last, "zerobuffer: error: 1 of 3 responses did not echo their request",
        "{out:?}"
    );
    let warning = out.stderr.lines().next().unwrap();
    assert!(
        warning.contains("the response does not echo the request") && warning.contains("100"),
        "{out:?}"
    );
    server.stop().unwrap();
    assert!(server
        .take_errors()
        .iter()
        .all(|e| matches!(e, Error::WriterDead)));
    assert_channel_clean(&channel);
}

#[test]
fn duplex_request_without_a_server_gives_up_after_the_timeout() {
    let _guard = shared();
    let channel = unique_name("dx_noserver");
    let started = Instant::now();
    let out = run(&["duplex-request", &channel, "--timeout-ms", "300", "--json"]);
    let line = out.assert_one_error_line();
    assert!(
        line.contains(&format!(
            "cannot connect to channel {channel:?} within 300 ms"
        )),
        "{line}"
    );
    assert!(line.contains("not found"), "{line}");
    assert!(started.elapsed() < WAIT);
    assert_eq!(out.stdout, "");
    assert_channel_clean(&channel);

    for command in ["duplex-echo", "duplex-request"] {
        let out = run(&[command, "no/slash"]);
        let line = out.assert_one_error_line();
        assert!(line.contains("invalid"), "{command}: {line}");
    }
}

#[test]
fn signals_stop_a_waiting_client_and_a_busy_server_promptly() {
    let _guard = shared();
    let channel = unique_name("dx_signal");
    let (server, _ready) = start_echo(&channel, &["--delay-ms", "60000"]);
    let ready = ReadyFile::new(&format!("{channel}_client"));
    let mut client = Proc::spawn(&[
        "duplex-request",
        &channel,
        "--timeout-ms",
        "60000",
        "--json",
        "--ready-file",
        ready.arg(),
    ]);
    client.wait_ready(&ready);
    assert!(
        wait_until(WAIT, || requests_taken(&channel) >= 1),
        "the request never arrived"
    );

    // The client waits for a response that takes a minute; the server sleeps in its handler.
    let started = Instant::now();
    client.signal("TERM");
    let out = client.wait(WAIT);
    assert_eq!(out.code(), Some(143), "{out:?}");
    assert_eq!(out.json()["requests"], 0);
    assert_eq!(
        out.stderr, "zerobuffer: interrupted by SIGTERM\n",
        "{out:?}"
    );
    assert_clean(&response_buffer_name(&channel));

    server.signal("INT");
    let out = server.wait(WAIT);
    assert_eq!(out.code(), Some(130), "{out:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_channel_clean(&channel);
}
