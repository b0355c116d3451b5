//! 13.10: the server is disposed while requests wait for their responses; the client's
//! receives fail, the channel's shared memory goes away, and a new server reuses the name.

use std::sync::Arc;

use anyhow::{anyhow, bail, ensure, Result};
use cucumber::{then, when};
use zerobuffer::duplex::{request_buffer_name, response_buffer_name};
use zerobuffer::{Error, ProcessingMode};

use crate::captures::Number;
use crate::drivers::duplex::{
    client, connect_client, create_server, ensure_removed, receive, server, server_log,
    DEFAULT_CHANNEL, PENDING_TIMEOUT,
};
use crate::drivers::explain::Explain as _;
use crate::world::{ZbWorld, READ_TIMEOUT};

#[then(regex = r"^the '([^']*)' process disposes server while '([^']*)' responses pending$")]
fn disposes_server(world: &mut ZbWorld, process: String, pending: Number<u64>) -> Result<()> {
    let expected = pending.0;
    let state = world.process(&process);
    let mut server = state
        .duplex_server
        .take()
        .ok_or_else(|| anyhow!("the '{process}' process has no duplex server"))?;
    let channel = server.channel().to_owned();
    // Requests the client wrote and responses the server wrote, from the two control blocks.
    let requests = zerobuffer::inspect(&request_buffer_name(&channel))?
        .oieb
        .payload_written_count;
    let responses = zerobuffer::inspect(&response_buffer_name(&channel))?
        .oieb
        .payload_written_count;
    let pending = requests.saturating_sub(responses);
    if pending != expected {
        let answered = server_log(state).state.lock().attempts.len();
        bail!(
            "{requests} requests and {responses} responses: {pending} pending, not {expected}{}",
            if pending < expected {
                format!(
                    "; the handler had already answered {answered} request(s): it answers each \
                     request as it arrives, faster than the client takes the responses, so \
                     nothing is left unanswered by the time the server is disposed"
                )
            } else {
                String::new()
            }
        );
    }
    server.stop().context("disposing the server")?;
    ensure!(!server.is_running(), "the disposed server still runs");
    drop(server);
    Ok(())
}

#[when(regex = r"^a new '([^']*)' process creates immutable duplex channel '([^']*)'$")]
fn new_server_creates(world: &mut ZbWorld, process: String, channel: String) -> Result<()> {
    create_server(world, &process, &channel, DEFAULT_CHANNEL)?;
    world.process(&process).duplex.new_server = true;
    Ok(())
}

#[then(regex = r"^the new server should reuse same channel name successfully$")]
fn new_server_reuses_name(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    ensure!(
        state.duplex.new_server,
        "no new server was created in the '{}' process",
        state.name
    );
    let server = server(state)?;
    let channel = server.channel().to_owned();
    // Reusing the name means creating the request buffer under it again and serving on it.
    server
        .start(ProcessingMode::SingleThread, |request| request.to_vec())
        .context("the new server could not take the channel name")?;
    let info = zerobuffer::inspect(&request_buffer_name(&channel))?;
    ensure!(
        info.reader_alive && info.oieb.payload_written_count == 0,
        "the request buffer is not the new server's fresh one: {:?}",
        info.oieb
    );
    let client = connect_client(&channel)?;
    let sequence = client.send_request(b"reused")?;
    let response = client.receive_response(READ_TIMEOUT)?;
    ensure!(
        (response.sequence(), &*response) == (sequence, &b"reused"[..]),
        "the new server answered {} = {:?}",
        response.sequence(),
        String::from_utf8_lossy(&response)
    );
    Ok(())
}

#[when(regex = r"^the '([^']*)' process receives '([^']*)' responses$")]
fn receives_responses(world: &mut ZbWorld, process: String, count: Number<usize>) -> Result<()> {
    let count = count.0;
    let state = world.process(&process);
    for _ in 0..count {
        receive(state, READ_TIMEOUT)?;
    }
    Ok(())
}

#[when(regex = r"^the '([^']*)' process attempts to receive pending responses$")]
fn attempts_pending(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let client = client(state)?;
    ensure!(
        client.pending_requests() > 0,
        "no request awaits a response"
    );
    state.last_error = None;
    while client.pending_requests() > 0 {
        if let Err(e) = receive(state, PENDING_TIMEOUT) {
            let error = e
                .downcast::<Error>()
                .map_err(|e| e.context("receiving a pending response"))?;
            state.last_error = Some(error);
            break;
        }
    }
    Ok(())
}

#[then(regex = r"^the '([^']*)' process should receive exception on pending$")]
fn exception_on_pending(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let error = state.take_error("an error for the pending responses")?;
    ensure!(
        matches!(error, Error::WriterDead | Error::Timeout(_)),
        "expected writer-dead or a timeout for the pending responses, got: {error}"
    );
    ensure!(
        client(state)?.pending_requests() > 0,
        "every request was answered after all"
    );
    Ok(())
}

#[then(regex = r"^all shared memory should be cleaned up$")]
fn all_shared_memory_cleaned(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    let client = state
        .duplex_client
        .take()
        .ok_or_else(|| anyhow!("the '{}' process has no duplex client", state.name))?;
    let channel = client.channel().to_owned();
    ensure_removed(&request_buffer_name(&channel))
        .context("the disposed server's request buffer")?;
    // The response buffer is the client's: it goes with the client, which is done here.
    Arc::try_unwrap(client)
        .map_err(|_| anyhow!("the duplex client is still in use by other work"))?;
    ensure_removed(&response_buffer_name(&channel)).context("the client's response buffer")
}
