//! The server's steps of group O: channels, handlers, crashes and responses.

use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Result};
use cucumber::{given, then};
use zerobuffer::duplex::{request_buffer_name, response_buffer_name};
use zerobuffer::{BufferConfig, Error, ProcessingMode};

use crate::captures::{Millis, Number, Seconds};
use crate::drivers::duplex::{
    connect_client, create_server, server, server_log, start_handler, Behaviour, DEFAULT_CHANNEL,
    HANDLER_WAIT,
};
use crate::drivers::explain::Explain as _;
use crate::drivers::poll::poll_until;
use crate::world::{ZbWorld, READ_TIMEOUT};

// ---- O. Server steps -----------------------------------------------------------------------

#[given(
    regex = r"^the '(.*)' process creates immutable duplex channel '(.*)' with metadata size '(.*)' and payload size '(.*)'$"
)]
fn creates_channel(
    world: &mut ZbWorld,
    process: String,
    channel: String,
    metadata: Number<usize>,
    payload: Number<usize>,
) -> Result<()> {
    let config = BufferConfig::new(metadata.0, payload.0);
    create_server(world, &process, &channel, config)
}

#[given(
    regex = r"^the '(.*)' process creates immutable duplex channel '(.*)' with default config$"
)]
fn creates_channel_default(world: &mut ZbWorld, process: String, channel: String) -> Result<()> {
    create_server(world, &process, &channel, DEFAULT_CHANNEL)
}

#[given(
    regex = r"^the '(.*)' process creates immutable duplex channel '(.*)' with processing mode '(.*)'$"
)]
fn creates_channel_mode(
    world: &mut ZbWorld,
    process: String,
    channel: String,
    mode: String,
) -> Result<()> {
    let mode = match mode.as_str() {
        "SingleThread" => ProcessingMode::SingleThread,
        other => bail!(
            "processing mode '{other}' is not supported: protocol v1 defines only SingleThread"
        ),
    };
    create_server(world, &process, &channel, DEFAULT_CHANNEL)?;
    world.process(&process).duplex.mode = mode;
    Ok(())
}

#[given(regex = r"^the '(.*)' process starts echo handler$")]
fn starts_echo(world: &mut ZbWorld, process: String) -> Result<()> {
    start_handler(world, &process, Behaviour::Echo)
}

#[given(regex = r"^the '(.*)' process starts handler with '(.*)' ms processing time$")]
fn starts_delay_ms(world: &mut ZbWorld, process: String, ms: Millis) -> Result<()> {
    let delay = ms.0;
    start_handler(world, &process, Behaviour::Delay(delay))
}

#[given(regex = r"^the '([^']*)' process starts handler with '([^']*)' second processing delay$")]
fn starts_delay_seconds(world: &mut ZbWorld, process: String, seconds: Seconds) -> Result<()> {
    let delay = seconds.0;
    start_handler(world, &process, Behaviour::Delay(delay))
}

#[given(regex = r"^the '([^']*)' process starts handler that doubles request size$")]
fn starts_doubling(world: &mut ZbWorld, process: String) -> Result<()> {
    start_handler(world, &process, Behaviour::Double)
}

#[given(regex = r"^the '([^']*)' process starts handler that crashes after '([^']*)' ms$")]
fn starts_crashing(world: &mut ZbWorld, process: String, ms: Millis) -> Result<()> {
    let delay = ms.0;
    // In-process the handler cannot kill the process: it makes the server abandon both of
    // its endpoints with a dead PID, which is what a killed server leaves behind.
    let dead_pid = zerobuffer_test_support::dead_pid()?;
    start_handler(world, &process, Behaviour::CrashAfter(delay, dead_pid))
}

#[then(regex = r"^the '([^']*)' process simulates crash during processing$")]
fn simulates_crash_during_processing(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let log = server_log(state);
    let crashed = log.wait_for(HANDLER_WAIT, |s| s.crashed_during);
    let request = crashed.ok_or_else(|| {
        anyhow!("the server's handler did not crash within {HANDLER_WAIT:?} (no request came?)")
    })?;
    let server = server(state)?;
    let channel = server.channel().to_owned();
    poll_until(HANDLER_WAIT, Duration::from_millis(10), || {
        Ok((!server.is_running()).then_some(()))
    })?;
    ensure!(!server.is_running(), "the crashed server is still serving");
    ensure!(
        log.state.lock().attempts.is_empty(),
        "the server wrote a response before it crashed"
    );
    // What a killed server leaves: its objects, with its (dead) PID still in them.
    let requests = zerobuffer::inspect(&request_buffer_name(&channel))
        .context("the crashed server's request buffer should be left behind")?;
    ensure!(
        requests.oieb.reader_pid != 0 && !requests.reader_alive,
        "the request buffer's reader PID is {} (alive: {}): closed, not crashed",
        requests.oieb.reader_pid,
        requests.reader_alive
    );
    let responses = zerobuffer::inspect(&response_buffer_name(&channel))
        .context("inspecting the client's response buffer")?;
    ensure!(
        responses.oieb.writer_pid != 0 && !responses.writer_alive,
        "the response writer PID is {} (alive: {}): the server should have crashed attached",
        responses.oieb.writer_pid,
        responses.writer_alive
    );
    tracing::info!(request, "server crashed while processing request");
    Ok(())
}

#[then(regex = r"^the '([^']*)' process completes processing after '([^']*)' seconds$")]
fn completes_processing_after(world: &mut ZbWorld, process: String, secs: Seconds) -> Result<()> {
    let delay = secs.0;
    let log = server_log(world.process(&process));
    // The handler has finished processing when it starts writing the response.
    let processing = log
        .wait_for(delay + HANDLER_WAIT, |s| {
            s.attempts.last().map(|a| a.processing)
        })
        .ok_or_else(|| anyhow!("the handler did not finish processing a request"))?;
    ensure!(
        processing >= delay,
        "the handler finished after {processing:?}, before the {delay:?} processing time"
    );
    Ok(())
}

#[then(regex = r"^the '([^']*)' process attempts to send response$")]
fn attempts_response(world: &mut ZbWorld, process: String) -> Result<()> {
    let log = server_log(world.process(&process));
    let (request, len) = log
        .wait_for(HANDLER_WAIT, |s| {
            s.attempts.last().map(|a| (a.request, a.len))
        })
        .ok_or_else(|| anyhow!("the handler made no attempt to send a response"))?;
    log.wait_for(HANDLER_WAIT, |s| {
        s.attempts.last()?.outcome.as_ref().map(drop)
    })
    .ok_or_else(|| anyhow!("the {len}-byte response to request {request} is still being written"))
}

#[then(regex = r"^the '([^']*)' process detects client death when writing$")]
fn detects_client_death(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let log = server_log(state);
    let outcome = log
        .wait_for(HANDLER_WAIT, |s| s.attempts.last()?.outcome.clone())
        .ok_or_else(|| anyhow!("the server made no response write"))?;
    match outcome {
        // The client had closed its response buffer: the write itself failed.
        Err((_, true)) => Ok(()),
        Err((e, false)) => bail!("the response write failed, but not for a dead client: {e}"),
        // A killed client's ring still has room, so the write lands in it (every
        // implementation, protocol.md §10.5); the server must then find the client dead
        // at once, from its dead request writer, and let it go.
        Ok(sequence) => {
            let server = server(state)?;
            let mut seen = Vec::new();
            let noticed = poll_until(HANDLER_WAIT, Duration::from_millis(20), || {
                seen.extend(server.take_errors());
                Ok(seen.iter().any(Error::is_peer_dead).then_some(()))
            })?;
            ensure!(
                noticed.is_some(),
                "response {sequence} went to the dead client and the server never noticed its \
                 death (errors: {seen:?})"
            );
            Ok(())
        }
    }
}

#[then(regex = r"^the '([^']*)' process continues processing other requests$")]
fn continues_processing(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let server = server(state)?;
    ensure!(
        server.is_running(),
        "the server stopped serving: {:?}",
        server.take_errors()
    );
    let channel = server.channel().to_owned();
    // Another client is served on the same channel.
    let delay = match state.duplex.log.state.lock().attempts.last() {
        Some(a) => a.processing,
        None => Duration::ZERO,
    };
    let client = connect_client(&channel)?;
    let sequence = client.send_request(b"next client")?;
    let response = client
        .receive_response(delay + READ_TIMEOUT)
        .context("the next client got no response")?;
    ensure!(
        (response.sequence(), &*response) == (sequence, &b"next client"[..]),
        "the next client got response {} = {:?}",
        response.sequence(),
        String::from_utf8_lossy(&response)
    );
    Ok(())
}
