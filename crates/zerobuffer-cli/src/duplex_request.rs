//! `zerobuffer duplex-request`: call a duplex channel with test-pattern requests and check
//! that every response echoes its request.

use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use zerobuffer::duplex::{request_buffer_name, response_buffer_name};
use zerobuffer::testdata::{fill_frame_data, first_frame_data_mismatch};
use zerobuffer::{DuplexClient, Error, Frame};

use crate::ready::write_ready_file;
use crate::signals::{self, POLL_SLICE};
use crate::summary::RequestSummary;
use crate::DuplexRequestArgs;

/// Pause between looks at the request buffer while the server is not there yet.
const CONNECT_RETRY: Duration = Duration::from_millis(20);
/// Mismatching responses logged individually before going quiet.
const MAX_LOGGED_MISMATCHES: u64 = 10;

pub fn run(args: &DuplexRequestArgs) -> Result<()> {
    let size = usize::try_from(args.size).context("--size does not fit in memory")?;
    let timeout = Duration::from_millis(args.timeout_ms);
    let mut client = connect(&args.channel, timeout)?;
    client.set_wait_strategy(args.wait);
    let started = Instant::now();
    let mut summary = RequestSummary::default();
    let outcome = match &args.ready_file {
        Some(path) => write_ready_file(path)
            .and_then(|()| request_all(&client, args, size, timeout, &mut summary)),
        None => request_all(&client, args, size, timeout, &mut summary),
    };
    summary.set_elapsed(started.elapsed());
    // Leave the channel (removes the response buffer) before reporting.
    drop(client);
    summary
        .print(args.json)
        .context("cannot print the summary")?;
    outcome?;
    if summary.mismatches > 0 {
        bail!(
            "{} of {} responses did not echo their request",
            summary.mismatches,
            summary.requests
        );
    }
    Ok(())
}

/// Connects once the server's request buffer has a live reader, retrying until `timeout`.
///
/// Every attempt creates (and, failing, removes) the 256 MiB response buffer, so the server is
/// looked for first; attempts are short so that a signal is noticed.
fn connect(channel: &str, timeout: Duration) -> Result<DuplexClient> {
    zerobuffer::validate_name(channel)
        .and_then(|()| zerobuffer::validate_name(&response_buffer_name(channel)))
        .with_context(|| format!("invalid channel name {channel:?}"))?;
    let request_buffer = request_buffer_name(channel);
    let deadline = Instant::now() + timeout;
    loop {
        signals::check()?;
        let left = deadline.saturating_duration_since(Instant::now());
        let attempt = match zerobuffer::inspect(&request_buffer) {
            Ok(info) if info.reader_alive => DuplexClient::connect(channel, left.min(POLL_SLICE)),
            Ok(_) => Err(Error::NoReader(request_buffer.clone())),
            Err(e) => Err(e),
        };
        match attempt {
            Ok(client) => return Ok(client),
            // Another client holds the channel: waiting would not help.
            Err(e @ (Error::WriterAlreadyConnected { .. } | Error::ReaderAlreadyConnected(_))) => {
                return Err(e).with_context(|| format!("cannot connect to channel {channel:?}"));
            }
            Err(e) if Instant::now() >= deadline => {
                return Err(e).with_context(|| {
                    format!(
                        "cannot connect to channel {channel:?} within {} ms",
                        timeout.as_millis()
                    )
                });
            }
            Err(e) => {
                tracing::debug!(error = %e, "server not ready yet; retrying");
                let left = deadline.saturating_duration_since(Instant::now());
                thread::sleep(CONNECT_RETRY.min(left));
            }
        }
    }
}

/// Sends the requests one at a time, each answered before the next goes out.
fn request_all(
    client: &DuplexClient,
    args: &DuplexRequestArgs,
    size: usize,
    timeout: Duration,
    summary: &mut RequestSummary,
) -> Result<()> {
    let mut request = vec![0u8; size];
    for i in 1..=args.requests {
        signals::check()?;
        fill_frame_data(&mut request, i);
        let sequence = client
            .send_request(&request)
            .with_context(|| format!("cannot send request {i} ({size} bytes)"))?;
        let response = match next_response(client, timeout) {
            Ok(response) => response,
            Err(e) => {
                if matches!(e.downcast_ref(), Some(Error::UnexpectedResponse { .. })) {
                    summary.requests += 1;
                    summary.mismatches += 1;
                }
                return Err(e.context(format!("no valid response to request {i}")));
            }
        };
        summary.requests += 1;
        summary.bytes += response.len() as u64;
        if response.sequence() != sequence || *response != *request {
            summary.mismatches += 1;
            if summary.mismatches <= MAX_LOGGED_MISMATCHES {
                tracing::warn!(
                    request = i,
                    sequence = response.sequence(),
                    expected_sequence = sequence,
                    len = response.len(),
                    expected_len = size,
                    first_bad_byte = first_frame_data_mismatch(&response, i),
                    "the response does not echo the request"
                );
            }
        }
    }
    Ok(())
}

/// Waits up to `timeout` for the next response in slices of at most [`POLL_SLICE`], so that a
/// signal is noticed quickly.
fn next_response(client: &DuplexClient, timeout: Duration) -> Result<Frame<'_>> {
    let deadline = Instant::now() + timeout;
    loop {
        let slice = deadline
            .saturating_duration_since(Instant::now())
            .min(POLL_SLICE);
        match client.receive_response(slice) {
            Ok(response) => return Ok(response),
            Err(Error::Timeout(_)) => {
                signals::check()?;
                if Instant::now() >= deadline {
                    bail!("no response within {} ms", timeout.as_millis());
                }
            }
            Err(Error::WriterDead) => {
                return Err(Error::WriterDead).context("the server is gone");
            }
            Err(e) => return Err(e.into()),
        }
    }
}
