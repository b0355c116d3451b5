//! The client's steps of group O: connecting, sending, receiving and checking responses.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Result};
use cucumber::{then, when};
use zerobuffer::duplex::ClientReturned;
use zerobuffer::testdata::{is_simple_data, simple_data};
use zerobuffer::Error;

use crate::captures::{Millis, Number, Seconds};
use crate::drivers::duplex::{
    client, connect_client, receive, request_for, send, send_numbered, timestamped_request,
    NO_EXTRA_WAIT, ORDERED_RESPONSE_TIMEOUT,
};
use crate::drivers::explain::Explain as _;
use crate::drivers::poll::poll_until;
use crate::state::duplex::ZeroCopyRequest;
use crate::world::{ProcessState, ReceivedFrame, ZbWorld, READ_TIMEOUT};

// ---- O. Client steps -----------------------------------------------------------------------

#[when(regex = r"^the '(.*)' process creates duplex channel client '(.*)'$")]
fn creates_client(world: &mut ZbWorld, process: String, channel: String) -> Result<()> {
    let channel = world.buffer_name(&channel);
    let state = world.process(&process);
    ensure!(
        state.duplex_client.is_none(),
        "the '{process}' process already has a duplex client"
    );
    state.duplex_client = Some(Arc::new(connect_client(&channel)?));
    Ok(())
}

#[when(regex = r"^the '(.*)' process sends request with size '(.*)'$")]
fn sends_request_with_size(
    world: &mut ZbWorld,
    process: String,
    size: Number<usize>,
) -> Result<()> {
    let data = timestamped_request(size.0)?;
    send(world.process(&process), data).map(drop)
}

#[then(regex = r"^response should match request with size '(.*)'$")]
fn response_matches_request(world: &mut ZbWorld, size: Number<usize>) -> Result<()> {
    let size = size.0;
    let state = world.current()?;
    let response = receive(state, READ_TIMEOUT)?;
    ensure!(
        response.data.len() == size,
        "response {} has {} bytes, expected {size}",
        response.sequence,
        response.data.len()
    );
    let request = request_for(&state.duplex, &response)?;
    ensure!(
        request == response.data.as_slice(),
        "response {} differs from its request",
        response.sequence
    );
    Ok(())
}

#[when(regex = r"^the '(.*)' process sends '(.*)' requests sequentially$")]
#[when(regex = r"^the '(.*)' process sends '(.*)' requests from single thread$")]
#[when(regex = r"^the '([^']*)' process sends '([^']*)' requests$")]
fn sends_requests(world: &mut ZbWorld, process: String, count: String) -> Result<()> {
    send_numbered(world.process(&process), &count)
}

#[then(regex = r"^the '(.*)' process receives '(.*)' responses in order$")]
fn receives_in_order(world: &mut ZbWorld, process: String, count: Number<usize>) -> Result<()> {
    let count = count.0;
    let state = world.process(&process);
    let first = state.duplex.responses.len();
    for _ in 0..count {
        receive(state, ORDERED_RESPONSE_TIMEOUT)?;
    }
    check_in_order(&state.duplex.responses[first..])
}

/// Sequences increase by one from response to response.
fn check_in_order(responses: &[ReceivedFrame]) -> Result<()> {
    ensure!(!responses.is_empty(), "no response has been received");
    for pair in responses.windows(2) {
        ensure!(
            pair[1].sequence == pair[0].sequence + 1,
            "response {} followed response {}",
            pair[1].sequence,
            pair[0].sequence
        );
    }
    Ok(())
}

#[then(regex = r"^responses should match requests by content$")]
fn responses_match_by_content(world: &mut ZbWorld) -> Result<()> {
    let scratch = &mut world.current()?.duplex;
    ensure!(
        !scratch.responses.is_empty(),
        "no response has been received"
    );
    for response in &scratch.responses {
        ensure!(
            request_for(scratch, response)? == response.data.as_slice(),
            "response {} = {:?} differs from its request",
            response.sequence,
            String::from_utf8_lossy(&response.data)
        );
    }
    Ok(())
}

#[then(regex = r"^no responses should be lost or duplicated$")]
fn none_lost_or_duplicated(world: &mut ZbWorld) -> Result<()> {
    let scratch = &mut world.current()?.duplex;
    let mut answered = BTreeSet::new();
    for response in &scratch.responses {
        ensure!(
            answered.insert(response.sequence),
            "response {} arrived twice",
            response.sequence
        );
    }
    let lost: Vec<_> = scratch
        .sent
        .keys()
        .filter(|s| !answered.contains(s))
        .collect();
    ensure!(lost.is_empty(), "requests without a response: {lost:?}");
    ensure!(
        scratch.responses.len() == scratch.sent.len(),
        "{} responses for {} requests",
        scratch.responses.len(),
        scratch.sent.len()
    );
    Ok(())
}

#[then(regex = r"^the '(.*)' process receives exactly '(.*)' responses$")]
fn receives_exactly(world: &mut ZbWorld, process: String, count: Number<usize>) -> Result<()> {
    let count = count.0;
    let state = world.process(&process);
    while state.duplex.responses.len() < count {
        receive(state, READ_TIMEOUT)?;
    }
    let client = client(state)?;
    ensure!(
        client.pending_requests() == 0,
        "{} more requests await responses beyond {count}",
        client.pending_requests()
    );
    match client.receive_response(NO_EXTRA_WAIT) {
        Err(Error::Timeout(_)) => {}
        Ok(extra) => bail!("an extra response {} arrived", extra.sequence()),
        Err(e) => bail!("looking for extra responses: {e}"),
    };
    let got = state.duplex.responses.len();
    ensure!(got == count, "{got} responses, expected exactly {count}");
    Ok(())
}

#[then(regex = r"^all '(.*)' responses match their requests$")]
fn all_responses_match(world: &mut ZbWorld, count: Number<usize>) -> Result<()> {
    let count = count.0;
    let scratch = &mut world.current()?.duplex;
    ensure!(
        scratch.responses.len() == count && scratch.sent.len() == count,
        "{} responses for {} requests, expected {count} of each",
        scratch.responses.len(),
        scratch.sent.len()
    );
    for response in &scratch.responses {
        ensure!(
            request_for(scratch, response)? == response.data.as_slice(),
            "response {} differs from its request",
            response.sequence
        );
    }
    Ok(())
}

#[when(regex = r"^the '(.*)' process measures total response time$")]
fn measures_total_time(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let started = state
        .duplex
        .batch_started
        .ok_or_else(|| anyhow!("no requests were sent to time"))?;
    let client = client(state)?;
    while client.pending_requests() > 0 {
        receive(state, ORDERED_RESPONSE_TIMEOUT)?;
    }
    state.duplex.measured = Some(started.elapsed());
    Ok(())
}

#[then(regex = r"^total time should be at least '(.*)' ms$")]
fn total_time_at_least(world: &mut ZbWorld, ms: Millis) -> Result<()> {
    let minimum = ms.0;
    let measured = world
        .current()?
        .duplex
        .measured
        .ok_or_else(|| anyhow!("no response time was measured"))?;
    ensure!(
        measured >= minimum,
        "the responses took {measured:?}, less than {minimum:?}"
    );
    Ok(())
}

#[then(regex = r"^responses should arrive in order$")]
fn responses_in_order(world: &mut ZbWorld) -> Result<()> {
    let scratch = &mut world.current()?.duplex;
    check_in_order(&scratch.responses)?;
    let first_sent = scratch.sent.keys().next().copied();
    ensure!(
        scratch.responses.first().map(|r| r.sequence) == first_sent,
        "the first response does not answer the first request"
    );
    Ok(())
}

#[when(regex = r"^the '([^']*)' process sends request of '([^']*)' bytes$")]
fn sends_request_of(world: &mut ZbWorld, process: String, size: Number<usize>) -> Result<()> {
    send(world.process(&process), simple_data(size.0)).map(drop)
}

#[when(regex = r"^the '([^']*)' process waits for response with timeout '([^']*)' seconds$")]
fn waits_for_response(world: &mut ZbWorld, process: String, seconds: Seconds) -> Result<()> {
    let timeout = seconds.0;
    let state = world.process(&process);
    let client = client(state)?;
    state.last_error = None;
    match client.receive_response(timeout) {
        Ok(frame) => {
            let received = ReceivedFrame {
                sequence: frame.sequence(),
                data: frame.to_vec(),
            };
            drop(frame);
            state.duplex.responses.push(received);
        }
        Err(e) => state.last_error = Some(e),
    }
    Ok(())
}

/// The kept error must say the server (the response writer) is dead.
fn kept_server_death(state: &ProcessState) -> Result<()> {
    match &state.last_error {
        Some(Error::WriterDead) => Ok(()),
        Some(other) => bail!("expected the server's death (writer dead), got: {other}"),
        None => bail!("the client got its response: no error was kept"),
    }
}

#[then(regex = r"^the '([^']*)' process should detect server death$")]
fn should_detect_server_death(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    kept_server_death(state)?;
    ensure!(
        !client(state)?.is_server_connected(),
        "the client still sees the server connected"
    );
    Ok(())
}

#[then(regex = r"^an appropriate exception should be thrown$")]
fn appropriate_exception(world: &mut ZbWorld) -> Result<()> {
    kept_server_death(world.current()?)
}

#[when(regex = r"^the '([^']*)' process acquires zero-copy request buffer of size '([^']*)'$")]
fn acquires_request_buffer(
    world: &mut ZbWorld,
    process: String,
    size: Number<usize>,
) -> Result<()> {
    let len: usize = size.0;
    let state = world.process(&process);
    ensure!(
        state.duplex.zero_copy.is_none(),
        "a zero-copy request is already in progress"
    );
    // The slot owns the client until the request is committed.
    let shared = state
        .duplex_client
        .take()
        .ok_or_else(|| anyhow!("the '{process}' process has no duplex client"))?;
    let owned = Arc::try_unwrap(shared).map_err(|shared| {
        state.duplex_client = Some(shared);
        anyhow!("the '{process}' duplex client is in use by other work")
    })?;
    match ZeroCopyRequest::start(owned, len) {
        Ok(request) => {
            state.duplex.zero_copy = Some(request);
            Ok(())
        }
        Err(ClientReturned { client, error }) => {
            state.duplex_client = Some(Arc::from(client));
            Err(error).context("acquiring the request")
        }
    }
}

#[when(regex = r"^the '([^']*)' process fills buffer with test pattern$")]
fn fills_request_buffer(world: &mut ZbWorld, process: String) -> Result<()> {
    world
        .process(&process)
        .duplex
        .zero_copy
        .as_mut()
        .ok_or_else(|| anyhow!("no zero-copy request buffer was acquired"))?
        .fill();
    Ok(())
}

#[when(regex = r"^the '([^']*)' process commits request$")]
fn commits_request(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let request = state
        .duplex
        .zero_copy
        .take()
        .ok_or_else(|| anyhow!("no zero-copy request buffer was acquired"))?;
    ensure!(request.filled, "the request buffer was not filled");
    let len = request.slot.len();
    let (client, sequence, allocations) = request.commit()?;
    state.duplex_client = Some(Arc::new(client));
    let scratch = &mut state.duplex;
    scratch.sent.insert(sequence, simple_data(len));
    scratch.zero_copy_sent = Some((sequence, allocations));
    Ok(())
}

#[then(regex = r"^response should contain same test pattern$")]
fn response_same_pattern(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    let (sequence, _) = state
        .duplex
        .zero_copy_sent
        .clone()
        .ok_or_else(|| anyhow!("no zero-copy request was committed"))?;
    let response = receive(state, READ_TIMEOUT)?;
    ensure!(
        response.sequence == sequence,
        "response {} does not answer request {sequence}",
        response.sequence
    );
    let len = state.duplex.sent[&sequence].len();
    ensure!(
        response.data.len() == len && is_simple_data(&response.data),
        "the {}-byte response does not hold the {len}-byte test pattern",
        response.data.len()
    );
    Ok(())
}

#[then(regex = r"^no memory allocations in send path$")]
fn no_allocations_in_send_path(world: &mut ZbWorld) -> Result<()> {
    let (_, phases) = world
        .current()?
        .duplex
        .zero_copy_sent
        .clone()
        .ok_or_else(|| anyhow!("no zero-copy request was sent"))?;
    for (phase, allocations) in phases {
        let Some(allocations) = allocations else {
            bail!(
                "cannot count allocations: this binary does not install \
                 zerobuffer_steps::alloc_counter::CountingAllocator as its global allocator"
            );
        };
        ensure!(
            allocations == 0,
            "the zero-copy {phase} made {allocations} heap allocation(s)"
        );
    }
    Ok(())
}

#[when(regex = r"^the '([^']*)' process sends request$")]
fn sends_request(world: &mut ZbWorld, process: String) -> Result<()> {
    let state = world.process(&process);
    let i = state.duplex.sent.len();
    send(state, format!("Request {i}").into_bytes()).map(drop)
}

#[when(regex = r"^the '([^']*)' process simulates crash after '([^']*)' second$")]
fn simulates_crash_after(world: &mut ZbWorld, process: String, seconds: Seconds) -> Result<()> {
    let delay = seconds.0;
    let dead_pid = zerobuffer_test_support::dead_pid()?;
    let state = world.process(&process);
    // The client leaves this process's hands now: from here on only the timer touches it.
    let client = state
        .duplex_client
        .take()
        .ok_or_else(|| anyhow!("the '{process}' process has no duplex client"))?;
    state.jobs.spawn("duplex-client-crash", move |stop| {
        let stopped = poll_until(delay, Duration::from_millis(10), || {
            Ok(stop.is_set().then_some(()))
        })?;
        if stopped.is_some() {
            return Ok(()); // the scenario ended first: close normally
        }
        let client = Arc::try_unwrap(client)
            .map_err(|_| anyhow!("the duplex client is still in use by other work"))?;
        let channel = client.channel().to_owned();
        zerobuffer::Abandon::abandon(client)?;
        crate::drivers::crash::mark_client_dead(&channel, dead_pid)
    })
}
