//! DuplexChannel: request/response over two ordinary buffers (protocol.md §10).
//!
//! A channel `CH` is `CH_request` (created and read by the server, written by the client) and
//! `CH_response` (created and read by the client, written by the server). There is no
//! correlation id on the wire: the server answers requests one at a time with exactly one
//! response each, so response number N (its frame sequence) answers request number N. The
//! client checks that correlation on every response.
//!
//! Only [`ProcessingMode::SingleThread`] exists: it is the only mode the protocol defines
//! (the other implementations reject their `ThreadPool` mode at start), and concurrent
//! handlers would break the order-based correlation.
//!
//! ```no_run
//! use std::time::Duration;
//! use zerobuffer::{BufferConfig, DuplexClient, DuplexServer, ProcessingMode};
//!
//! let mut server = DuplexServer::new("resize", BufferConfig::new(4096, 1 << 20))?;
//! server.start(ProcessingMode::SingleThread, |request| request.to_vec())?; // echo
//!
//! let client = DuplexClient::connect("resize", Duration::from_secs(5))?;
//! let seq = client.send_request(b"frame bytes")?;
//! let response = client.receive_response(Duration::from_secs(5))?;
//! assert_eq!((response.sequence(), &*response), (seq, &b"frame bytes"[..]));
//! drop(response);
//! server.stop()?;
//! # Ok::<(), zerobuffer::Error>(())
//! ```

mod client;
mod server;

pub use client::{
    ClientReturned, DuplexClient, OwnedRequestSlot, RequestSlot, DEFAULT_RESPONSE_CONFIG,
};
pub use server::{DuplexServer, Responder, DEFAULT_SERVER_TIMEOUT};

use crate::error::Result;
use crate::names::validate_name;

/// How the server runs its handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProcessingMode {
    /// One request at a time, on the server's own thread, in arrival order.
    #[default]
    SingleThread,
}

/// Name of the buffer carrying requests of `channel`.
pub fn request_buffer_name(channel: &str) -> String {
    format!("{channel}_request")
}

/// Name of the buffer carrying responses of `channel`.
pub fn response_buffer_name(channel: &str) -> String {
    format!("{channel}_response")
}

/// Both derived names must be valid buffer names (the longer one decides).
fn validate_channel(channel: &str) -> Result<()> {
    validate_name(channel)?;
    validate_name(&response_buffer_name(channel))?;
    validate_name(&request_buffer_name(channel))
}
