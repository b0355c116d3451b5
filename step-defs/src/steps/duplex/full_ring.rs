//! 13.6: a client that does not read fills its response ring, and the server's response
//! write blocks until the client reads one response.

use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Result};
use cucumber::{then, when};
use zerobuffer::duplex::response_buffer_name;

use crate::captures::Number;
use crate::drivers::duplex::{client, receive, server, server_log, BLOCK_PROOF, HANDLER_WAIT};
use crate::drivers::poll::poll_until;
use crate::drivers::ring::HEADER;
use crate::world::{ZbWorld, READ_TIMEOUT};

#[then(regex = r"^the '([^']*)' process attempts to send response of '([^']*)' bytes$")]
fn attempts_response_of(world: &mut ZbWorld, process: String, size: Number<usize>) -> Result<()> {
    let len: usize = size.0;
    let log = server_log(world.process(&process));
    log.wait_for(HANDLER_WAIT, |s| {
        s.attempts.iter().any(|a| a.len == len).then_some(())
    })
    .ok_or_else(|| anyhow!("the handler started no {len}-byte response within {HANDLER_WAIT:?}"))
}

#[then(regex = r"^the '([^']*)' process should block on response write$")]
fn should_block_on_response(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let log = server_log(state);
    let channel = server(state)?.channel().to_owned();
    // Blocked: a write that has been in progress for a while (a write that finds room
    // completes within microseconds).
    let blocked = poll_until(HANDLER_WAIT, Duration::from_millis(20), || {
        Ok(log
            .state
            .lock()
            .attempts
            .iter()
            .enumerate()
            .rev()
            .find_map(|(i, a)| {
                (a.outcome.is_none() && a.started.elapsed() >= BLOCK_PROOF).then_some((i, a.len))
            }))
    })?;
    let Some((index, len)) = blocked else {
        let ring = zerobuffer::inspect(&response_buffer_name(&channel))?.oieb;
        let largest = log
            .state
            .lock()
            .attempts
            .iter()
            .map(|a| a.len)
            .max()
            .unwrap_or(0);
        bail!(
            "no response write stayed pending for {BLOCK_PROOF:?}: every write completed. \
             The client's response ring holds {} bytes, {} of them free, with {} \
             response(s) unread, and the largest response ({largest} bytes, plus a \
             {HEADER}-byte header) fits it, so what was requested cannot fill the ring",
            ring.payload_size,
            ring.payload_free_bytes,
            ring.payload_written_count - ring.payload_read_count,
        );
    };
    let free = zerobuffer::inspect(&response_buffer_name(&channel))?
        .oieb
        .payload_free_bytes;
    ensure!(
        free < len as u64 + HEADER,
        "the response ring has {free} free bytes, enough for the {len}-byte response"
    );
    state.duplex.blocked_attempt = Some(index);
    Ok(())
}

#[then(regex = r"^the '([^']*)' process should unblock and complete write$")]
fn should_unblock(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let index = state
        .duplex
        .blocked_attempt
        .ok_or_else(|| anyhow!("no blocked response write was observed before"))?;
    let log = server_log(state);
    let outcome = log
        .wait_for(HANDLER_WAIT, |s| s.attempts[index].outcome.clone())
        .ok_or_else(|| anyhow!("the blocked response write did not complete"))?;
    outcome
        .map(drop)
        .map_err(|(e, _)| anyhow!("the blocked response write failed: {e}"))
}

#[when(regex = r"^the '([^']*)' process does not read responses$")]
fn does_not_read(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let client = client(state)?;
    ensure!(
        client.pending_requests() > 0,
        "no request awaits a response, so there is nothing to leave unread"
    );
    // Leaving them unread: nothing was taken from the response ring behind the steps' back.
    let read = zerobuffer::inspect(&response_buffer_name(client.channel()))?
        .oieb
        .payload_read_count;
    let recorded = state.duplex.responses.len() as u64;
    ensure!(
        read == recorded,
        "{read} responses were read, {recorded} by the steps"
    );
    Ok(())
}

#[when(regex = r"^the '([^']*)' process reads one response$")]
fn reads_one_response(world: &mut ZbWorld, process: String) -> Result<()> {
    receive(world.process(&process), READ_TIMEOUT).map(drop)
}
