//! The duplex driver: a server's handler (its behaviours and the log it keeps), a client's
//! requests and responses, and a zero-copy request held across steps (an owned loan).
//!
//! Payloads follow protocol.md §11.3: "Request {i}" texts, `i % 256` patterns (after an
//! 8-byte timestamp for "sends request with size"), echo / delay / XOR / doubling handlers.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, ensure, Result};
use zerobuffer::duplex::{request_buffer_name, Responder};
use zerobuffer::testdata::simple_data;
use zerobuffer::{BufferConfig, DuplexClient, DuplexServer, Error, Frame};
use zerobuffer_test_support::RawBuffer;

use crate::captures::num;
use crate::drivers::explain::Explain as _;
use crate::drivers::os::leftovers;
use crate::drivers::poll::poll_until;
use crate::drivers::ring::HEADER;
use crate::state::duplex::{Attempt, Duplex, HandlerLog};
use crate::world::{ProcessState, ReceivedFrame, ZbWorld};

/// The request buffer of "with default config" (protocol.md §11.3): 4 KiB metadata, 1 MiB ring.
pub(crate) const DEFAULT_CHANNEL: BufferConfig = BufferConfig::new(4096, 1 << 20);
/// How long a client waits for the server's request buffer.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Per-response wait of the steps that collect responses in order (the C# reference's 10 s).
pub(crate) const ORDERED_RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);
/// Per-response wait once the server is disposed: what it answered is already in the ring.
pub(crate) const PENDING_TIMEOUT: Duration = Duration::from_secs(2);
/// How long to wait for the handler (on the server's thread) to reach a point.
pub(crate) const HANDLER_WAIT: Duration = Duration::from_secs(5);
/// A response write still pending this long after it started counts as blocked.
pub(crate) const BLOCK_PROOF: Duration = Duration::from_millis(300);
/// After the last expected response, how long to watch for an extra one.
pub(crate) const NO_EXTRA_WAIT: Duration = Duration::from_millis(200);

// ---- Scratch state -------------------------------------------------------------------------

// ---- Server: handlers and their log --------------------------------------------------------

/// The handlers of the feature's "starts ... handler" steps.
#[derive(Clone, Copy)]
pub(crate) enum Behaviour {
    Echo,
    Delay(Duration),
    Xor(u8),
    Double,
    /// Crash the server this long after a request arrives (leaving this dead PID behind).
    CrashAfter(Duration, u64),
}

impl Behaviour {
    pub(crate) fn respond(self, request: &[u8]) -> Vec<u8> {
        match self {
            Behaviour::Xor(key) => request.iter().map(|b| b ^ key).collect(),
            Behaviour::Double => [request, request].concat(),
            Behaviour::Echo | Behaviour::Delay(_) | Behaviour::CrashAfter(..) => request.to_vec(),
        }
    }
}

/// Starts `process`'s server with `behaviour`; the handler logs its response writes (and a
/// simulated crash) for the steps to check.
pub(crate) fn start_handler(
    world: &mut ZbWorld,
    process: &str,
    behaviour: Behaviour,
) -> Result<()> {
    let state = world.process(process);
    let log = Arc::new(HandlerLog::default());
    let scratch = &mut state.duplex;
    scratch.log = Arc::clone(&log);
    scratch.blocked_attempt = None;
    let mode = scratch.mode;
    let server = state
        .duplex_server
        .as_mut()
        .ok_or_else(|| anyhow!("the '{process}' process has created no duplex channel"))?;
    let channel_name = server.channel().to_owned();
    let handler = move |request: &Frame<'_>, responder: &mut Responder<'_>| {
        let arrived = Instant::now();
        match behaviour {
            Behaviour::Delay(d) => thread::sleep(d),
            Behaviour::CrashAfter(d, dead_pid) => {
                thread::sleep(d);
                log.update(|s| s.crashed_during = Some(request.sequence()));
                // Dead first (nothing more is written once the handler returns), then the
                // serving thread abandons both endpoints.
                let marked = crate::drivers::crash::mark_server_dead(&channel_name, dead_pid);
                responder.abandon_server();
                if let Err(e) = marked {
                    tracing::error!(error = %e, "could not mark the crashed server dead");
                }
                return Err(Error::InvalidOperation("the server crashed (simulated)"));
            }
            _ => {}
        }
        let response = behaviour.respond(request);
        let index = log.update(|s| {
            s.attempts.push(Attempt {
                request: request.sequence(),
                len: response.len(),
                processing: arrived.elapsed(),
                started: Instant::now(),
                outcome: None,
            });
            s.attempts.len() - 1
        });
        let result = responder.send(&response);
        let outcome = match &result {
            Ok(sequence) => Ok(*sequence),
            Err(e) => Err((e.to_string(), matches!(e, Error::ReaderDead))),
        };
        log.update(|s| s.attempts[index].outcome = Some(outcome));
        result.map(drop)
    };
    server
        .start_zero_copy(mode, handler)
        .with_context(|| format!("starting the '{process}' server"))
}

pub(crate) fn server_log(state: &mut ProcessState) -> Arc<HandlerLog> {
    Arc::clone(&state.duplex.log)
}

pub(crate) fn server(state: &mut ProcessState) -> Result<&mut DuplexServer> {
    let name = state.name.clone();
    state
        .duplex_server
        .as_mut()
        .ok_or_else(|| anyhow!("the '{name}' process has no duplex server"))
}

/// Creates `process`'s server for channel `base` (nothing exists until a handler starts).
pub(crate) fn create_server(
    world: &mut ZbWorld,
    process: &str,
    base: &str,
    config: BufferConfig,
) -> Result<()> {
    let channel = world.buffer_name(base);
    let state = world.process(process);
    ensure!(
        state.duplex_server.is_none(),
        "the '{process}' process already has a duplex server"
    );
    let server = DuplexServer::new(&channel, config)
        .with_context(|| format!("creating duplex channel '{channel}'"))?;
    state.duplex_server = Some(server);
    Ok(())
}

// ---- Client helpers ------------------------------------------------------------------------

/// Connects a client to `channel`. Its response ring mirrors the channel's request ring
/// instead of the fixed 256 MiB of the other implementations' clients (any size is valid on
/// the wire): only then can a response ring fill up (13.6).
pub(crate) fn connect_client(channel: &str) -> Result<DuplexClient> {
    let request = request_buffer_name(channel);
    // The server may still be creating its request buffer (a Python server does it on its
    // own thread); wait for a complete control block. What the last look found says why not.
    let mut missing = None;
    let found = poll_until(CONNECT_TIMEOUT, Duration::from_millis(20), || {
        match zerobuffer::inspect(&request) {
            Ok(info) if info.oieb.payload_size > 0 => return Ok(Some(info.oieb)),
            Ok(_) => missing = None,
            Err(e @ (Error::BufferNotFound { .. } | Error::InvalidOieb(_))) => missing = Some(e),
            Err(e) => return Err(e).with_context(|| format!("looking for '{request}'")),
        }
        Ok(None)
    })?;
    let oieb = match (found, missing) {
        (Some(oieb), _) => oieb,
        (None, None) => bail!("the request buffer '{request}' never got a valid control block"),
        (None, Some(e)) => return Err(e).with_context(|| format!("looking for '{request}'")),
    };
    let config = BufferConfig::new(oieb.metadata_size as usize, oieb.payload_size as usize);
    DuplexClient::connect_with(channel, config, CONNECT_TIMEOUT)
        .with_context(|| format!("connecting a client to duplex channel '{channel}'"))
}

pub(crate) fn client(state: &ProcessState) -> Result<Arc<DuplexClient>> {
    state.duplex_client.clone().ok_or_else(|| {
        anyhow!(
            "the '{}' process has no duplex client (not created, crashed or disposed)",
            state.name
        )
    })
}

/// Sends `data` as a request and remembers it by its sequence number.
pub(crate) fn send(state: &mut ProcessState, data: Vec<u8>) -> Result<u64> {
    let client = client(state)?;
    let len = data.len();
    let sequence = client
        .send_request(&data)
        .with_context(|| format!("sending a {len}-byte request"))?;
    let scratch = &mut state.duplex;
    if scratch.sent.is_empty() || scratch.batch_started.is_none() {
        scratch.batch_started = Some(Instant::now());
    }
    scratch.sent.insert(sequence, data);
    Ok(sequence)
}

/// Sends "Request 0" .. "Request {count-1}" (protocol.md §11.3); starts a new batch.
pub(crate) fn send_numbered(state: &mut ProcessState, count: &str) -> Result<()> {
    let count: usize = num(count)?;
    state.duplex.batch_started = Some(Instant::now());
    for i in 0..count {
        send(state, format!("Request {i}").into_bytes())?;
    }
    Ok(())
}

/// Receives one response (copied out of the ring) and records it.
pub(crate) fn receive(state: &mut ProcessState, timeout: Duration) -> Result<ReceivedFrame> {
    let client = client(state)?;
    let received = {
        let frame = client
            .receive_response(timeout)
            .context("receiving a response")?;
        ReceivedFrame {
            sequence: frame.sequence(),
            data: frame.to_vec(),
        }
    };
    state.duplex.responses.push(received.clone());
    Ok(received)
}

/// The request a response answers.
pub(crate) fn request_for<'a>(scratch: &'a Duplex, response: &ReceivedFrame) -> Result<&'a [u8]> {
    scratch
        .sent
        .get(&response.sequence)
        .map(Vec::as_slice)
        .ok_or_else(|| anyhow!("response {} answers no request sent", response.sequence))
}

pub(crate) fn last_response(scratch: &Duplex) -> Result<&ReceivedFrame> {
    scratch
        .responses
        .last()
        .ok_or_else(|| anyhow!("no response has been received"))
}

/// The request of "sends request with size": a little-endian microsecond timestamp in the
/// first 8 bytes when it fits, `i % 256` elsewhere (protocol.md §11.3).
pub(crate) fn timestamped_request(size: usize) -> Result<Vec<u8>> {
    let mut data = simple_data(size);
    if size >= 8 {
        let micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .context("the clock is before 1970")?
            .as_micros() as u64;
        data[..8].copy_from_slice(&micros.to_le_bytes());
    }
    Ok(data)
}

/// Fails unless nothing of buffer `name` is left (see [`leftovers`]).
pub(crate) fn ensure_removed(name: &str) -> Result<()> {
    let left = leftovers(name);
    ensure!(left.is_empty(), "still present: {}", left.join(", "));
    Ok(())
}

/// The bytes of the frame with `sequence` that is still in the ring of buffer `name`,
/// walking the frame headers from the ring start (the frames of a fresh channel).
pub(crate) fn frame_in_ring(name: &str, sequence: u64) -> Result<Vec<u8>> {
    let raw = RawBuffer::open(name).with_context(|| format!("mapping '{name}'"))?;
    let size = raw.oieb().payload_size;
    let base = raw.payload_offset();
    let mut pos = 0u64;
    while pos + HEADER <= size {
        let header = raw.frame_header(pos);
        if header.payload_size == 0 || pos + HEADER + header.payload_size > size {
            break; // a wrap marker, or not a frame: the walk ends here
        }
        if header.sequence == sequence {
            return Ok(raw.read(
                (base as u64 + pos + HEADER) as usize,
                header.payload_size as usize,
            ));
        }
        pos += HEADER + header.payload_size;
    }
    bail!("frame {sequence} is no longer at the start of '{name}'")
}

// ---- Zero-copy requests kept across steps --------------------------------------------------
