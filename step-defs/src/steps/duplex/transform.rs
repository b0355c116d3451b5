//! 13.8: a handler that transforms the request (XOR) into new response data, leaving the
//! request frame as the client wrote it.

use anyhow::{anyhow, bail, ensure, Result};
use cucumber::{given, then, when};
use zerobuffer::duplex::{request_buffer_name, response_buffer_name};
use zerobuffer::testdata::simple_data;

use crate::captures::Number;
use crate::drivers::duplex::{
    client, frame_in_ring, last_response, receive, request_for, send, start_handler, Behaviour,
};
use crate::world::{ZbWorld, READ_TIMEOUT};

/// The key "response should contain XOR transformed data" checks: the step names none, and the
/// client cannot see the server's, so it is the suite's contract (steps.md §4.1, P296/P298):
/// 13.8's handler XORs with 0xFF.
const XOR_KEY: u8 = 0xFF;

#[given(regex = r"^the '(.*)' process starts handler that implements XOR with key '(.*)'$")]
fn starts_xor(world: &mut ZbWorld, process: String, key: String) -> Result<()> {
    let text = key.trim();
    let key = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u8::from_str_radix(hex, 16),
        None => text.parse(),
    }
    .map_err(|_| anyhow!("'{key}' is not a byte key (e.g. '0xFF')"))?;
    start_handler(world, &process, Behaviour::Xor(key))
}

#[when(regex = r"^the '(.*)' process sends '(.*)' byte frame with test pattern$")]
fn sends_pattern_frame(world: &mut ZbWorld, process: String, size: Number<usize>) -> Result<()> {
    send(world.process(&process), simple_data(size.0)).map(drop)
}

#[then(regex = r"^response should contain XOR transformed data$")]
fn response_xor_transformed(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    let response = receive(state, READ_TIMEOUT)?;
    let request = request_for(&state.duplex, &response)?;
    ensure!(
        request.len() == response.data.len() && !request.is_empty(),
        "response of {} bytes to a {}-byte request",
        response.data.len(),
        request.len()
    );
    // The client knows the key it checks: the suite's XOR handler uses 0xFF.
    if let Some(i) = (0..request.len()).find(|&i| request[i] ^ XOR_KEY != response.data[i]) {
        bail!(
            "byte {i} of response {} is {:#04x}, not {:#04x} ^ {XOR_KEY:#04x} = {:#04x}",
            response.sequence,
            response.data[i],
            request[i],
            request[i] ^ XOR_KEY
        );
    }
    Ok(())
}

#[then(regex = r"^the server handler receives immutable request frame$")]
fn handler_request_immutable(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    let channel = client(state)?.channel().to_owned();
    let scratch = &mut state.duplex;
    let response = last_response(scratch)?;
    let request = request_for(scratch, response)?;
    // The handler has run (its response is here): its request frame must still hold exactly
    // the bytes this client wrote, i.e. the handler only read it.
    let in_ring = frame_in_ring(&request_buffer_name(&channel), response.sequence)?;
    ensure!(
        in_ring == request,
        "the request frame in the request ring was modified by the handler"
    );
    Ok(())
}

#[then(regex = r"^the server handler returns new response data$")]
fn handler_returns_new_data(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    let channel = client(state)?.channel().to_owned();
    let scratch = &mut state.duplex;
    let response = last_response(scratch)?;
    let request = request_for(scratch, response)?;
    ensure!(
        response.data.as_slice() != request,
        "response {} is the request itself, not new data",
        response.sequence
    );
    // New data written into the response ring, while the request ring keeps the request.
    let written = frame_in_ring(&response_buffer_name(&channel), response.sequence)?;
    ensure!(
        written == response.data,
        "response {} in the response ring differs from what was received",
        response.sequence
    );
    let request_now = frame_in_ring(&request_buffer_name(&channel), response.sequence)?;
    ensure!(
        request_now == request,
        "the response was made by changing the request in place"
    );
    Ok(())
}
