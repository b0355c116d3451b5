//! The client side of a duplex channel.

use std::collections::VecDeque;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use super::{request_buffer_name, response_buffer_name, validate_channel};
use crate::abandon::Abandon;
use crate::config::BufferConfig;
use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::owned::{OwnedFrameSlot, WriterReturned};
use crate::reader::Reader;
use crate::wait::WaitStrategy;
use crate::writer::{FrameSlot, Writer};

/// The response buffer every implementation's client creates: 4 KiB metadata, 256 MiB ring
/// (shared memory is allocated only as it is touched).
pub const DEFAULT_RESPONSE_CONFIG: BufferConfig = BufferConfig::new(4096, 256 * 1024 * 1024);

const CONNECT_RETRY: Duration = Duration::from_millis(50);
/// Outstanding requests the client tracks without allocating.
const OUTSTANDING_CAPACITY: usize = 64;

/// Sends requests to a [`super::DuplexServer`] (of any implementation) and receives its
/// responses, checking that each response answers the oldest request still waiting.
///
/// Requests go through `&self` as well as responses, so a response may be held while the next
/// request is sent; zero-copy requests ([`DuplexClient::acquire`]) need `&mut self`, or the
/// client itself for a request slot that owns it ([`DuplexClient::into_request_slot`]).
pub struct DuplexClient {
    channel: String,
    // Field order is drop order: the request writer leaves before the response buffer goes,
    // as the C# and Python clients do.
    request: Mutex<Writer>,
    response: Reader,
    outstanding: Mutex<VecDeque<u64>>,
}

impl DuplexClient {
    /// Connects to channel `channel` with the standard response buffer, waiting up to
    /// `timeout` for the server's request buffer to appear.
    pub fn connect(channel: &str, timeout: Duration) -> Result<DuplexClient> {
        Self::connect_with(channel, DEFAULT_RESPONSE_CONFIG, timeout)
    }

    /// Like [`DuplexClient::connect`] with a response buffer of `response_config`.
    ///
    /// The response buffer is created first (as the Python client does), so a server that
    /// attaches to it eagerly finds it; then the request buffer is joined, retrying until
    /// `timeout` because a server may create it asynchronously after its start returned.
    pub fn connect_with(
        channel: &str,
        response_config: BufferConfig,
        timeout: Duration,
    ) -> Result<DuplexClient> {
        validate_channel(channel)?;
        let response = Reader::create(&response_buffer_name(channel), response_config)?;
        let request = connect_writer(&request_buffer_name(channel), timeout)?;
        tracing::debug!(channel, "duplex client connected");
        Ok(DuplexClient {
            channel: channel.to_owned(),
            request: Mutex::new(request),
            response,
            // Sized up front: sending allocates nothing while fewer requests than this await
            // their responses.
            outstanding: Mutex::new(VecDeque::with_capacity(OUTSTANDING_CAPACITY)),
        })
    }

    /// Chooses how the client waits for responses and for space for its requests (default
    /// [`WaitStrategy::Block`]); any strategy works with any server.
    pub fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        self.response.set_wait_strategy(strategy);
        self.request
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .set_wait_strategy(strategy);
    }

    /// How the client waits for responses.
    pub fn wait_strategy(&self) -> WaitStrategy {
        self.response.wait_strategy()
    }

    /// The name of the channel this client is connected to.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    fn outstanding(&self) -> MutexGuard<'_, VecDeque<u64>> {
        self.outstanding.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends one request (copied) and returns its sequence number, which the matching
    /// response will carry.
    pub fn send_request(&self, data: &[u8]) -> Result<u64> {
        let mut writer = self.request.lock().unwrap_or_else(|e| e.into_inner());
        let sequence = writer.write_frame(data)?;
        self.outstanding().push_back(sequence);
        Ok(sequence)
    }

    /// Reserves a request of `len` bytes in the request ring, to be filled in place.
    pub fn acquire(&mut self, len: usize) -> Result<RequestSlot<'_>> {
        let writer = self.request.get_mut().unwrap_or_else(|e| e.into_inner());
        let slot = writer.get_frame_buffer(len)?;
        Ok(RequestSlot {
            slot,
            outstanding: &self.outstanding,
        })
    }

    /// [`acquire`](DuplexClient::acquire), for a request slot that owns this client instead of
    /// borrowing it: it can be filled later or on another thread, and
    /// [`OwnedRequestSlot::commit`] sends the request and hands the client back. On failure
    /// the client comes back with the error.
    pub fn into_request_slot(
        self,
        len: usize,
    ) -> std::result::Result<OwnedRequestSlot, ClientReturned> {
        let (writer, detached) = self.detach();
        match writer.into_frame_buffer(len) {
            Ok(slot) => Ok(OwnedRequestSlot {
                slot,
                client: detached,
            }),
            Err(WriterReturned { writer, error }) => Err(ClientReturned {
                client: Box::new(detached.attach(*writer)),
                error,
            }),
        }
    }

    /// Takes the request writer out; [`Detached::attach`] puts it back.
    fn detach(self) -> (Writer, Detached) {
        let DuplexClient {
            channel,
            request,
            response,
            outstanding,
        } = self;
        let writer = request.into_inner().unwrap_or_else(|e| e.into_inner());
        let detached = Detached {
            channel,
            response,
            outstanding,
        };
        (writer, detached)
    }

    /// Waits up to `timeout` for the next response.
    ///
    /// Errors: [`Error::WriterDead`] when the server is gone (its response writer died or
    /// left, or it died before ever attaching), [`Error::Timeout`] when it is alive but has
    /// not answered, [`Error::UnexpectedResponse`] when the response does not carry the
    /// sequence of the oldest request still waiting.
    pub fn receive_response(&self, timeout: Duration) -> Result<Frame<'_>> {
        let frame = match self.response.read_frame(timeout) {
            Err(Error::Timeout(t)) if !self.request_reader_alive() => {
                tracing::debug!(channel = %self.channel, waited = ?t, "server is gone");
                return Err(Error::WriterDead);
            }
            other => other?,
        };
        let expected = self.outstanding().pop_front();
        if expected != Some(frame.sequence()) {
            return Err(Error::UnexpectedResponse {
                expected,
                got: frame.sequence(),
            });
        }
        Ok(frame)
    }

    /// Requests sent whose responses have not been received yet.
    pub fn pending_requests(&self) -> usize {
        self.outstanding().len()
    }

    fn request_reader_alive(&self) -> bool {
        self.request
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_reader_connected()
    }

    /// True while the server reads requests and its response writer is attached and alive.
    pub fn is_server_connected(&self) -> bool {
        self.request_reader_alive() && self.response.is_writer_connected()
    }
}

impl fmt::Debug for DuplexClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DuplexClient")
            .field("channel", &self.channel)
            .finish()
    }
}

impl Abandon for DuplexClient {
    /// Abandons the request writer and the response buffer (see [`Abandon`]).
    fn abandon(self) -> Result<()> {
        let DuplexClient {
            request, response, ..
        } = self;
        request
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .abandon()?;
        response.abandon()
    }
}

/// Joins the server's request buffer, retrying while it is missing or still being set up.
fn connect_writer(name: &str, timeout: Duration) -> Result<Writer> {
    let deadline = Instant::now() + timeout;
    loop {
        match Writer::connect(name) {
            Ok(writer) => return Ok(writer),
            Err(e @ (Error::InvalidName { .. } | Error::WriterAlreadyConnected { .. })) => {
                return Err(e)
            }
            // Missing, no reader yet, half-initialised control block: the server may still be
            // creating it.
            Err(e) if Instant::now() >= deadline => {
                tracing::debug!(buffer = name, error = %e, "gave up waiting for the server");
                return Err(e);
            }
            Err(_) => thread::sleep(CONNECT_RETRY),
        }
    }
}

/// A request being written in place; [`RequestSlot::commit`] sends it.
pub struct RequestSlot<'c> {
    slot: FrameSlot<'c>,
    outstanding: &'c Mutex<VecDeque<u64>>,
}

impl RequestSlot<'_> {
    /// The sequence number the request (and its response) will carry.
    pub fn sequence(&self) -> u64 {
        self.slot.sequence()
    }

    /// Sends the request and returns its sequence number.
    pub fn commit(self) -> u64 {
        let sequence = self.slot.commit();
        self.outstanding
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(sequence);
        sequence
    }
}

impl Deref for RequestSlot<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.slot
    }
}

impl DerefMut for RequestSlot<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.slot
    }
}

/// A client whose request writer is lent to an [`OwnedRequestSlot`].
struct Detached {
    channel: String,
    response: Reader,
    outstanding: Mutex<VecDeque<u64>>,
}

impl Detached {
    fn attach(self, writer: Writer) -> DuplexClient {
        DuplexClient {
            channel: self.channel,
            request: Mutex::new(writer),
            response: self.response,
            outstanding: self.outstanding,
        }
    }
}

/// A request being written in place that owns its [`DuplexClient`] (from
/// [`DuplexClient::into_request_slot`]). Fill it in place, on any thread, then
/// [`commit`](OwnedRequestSlot::commit) it to send the request and get the client back, or
/// [`abandon`](OwnedRequestSlot::abandon) it to get the client back with nothing sent.
/// Dropping the slot drops (and so gracefully closes) the client it owns.
pub struct OwnedRequestSlot {
    // Field order is drop order: the request writer leaves before the response buffer goes,
    // as when a client is dropped.
    slot: OwnedFrameSlot,
    client: Detached,
}

impl OwnedRequestSlot {
    /// The sequence number the request (and its response) will carry.
    pub fn sequence(&self) -> u64 {
        self.slot.sequence()
    }

    /// The name of the channel the owned client is connected to.
    pub fn channel(&self) -> &str {
        &self.client.channel
    }

    /// Sends the request; returns the client, now waiting for the response, and the
    /// request's sequence number.
    pub fn commit(self) -> (DuplexClient, u64) {
        let OwnedRequestSlot { slot, mut client } = self;
        let (writer, sequence) = slot.commit();
        client
            .outstanding
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(sequence);
        (client.attach(writer), sequence)
    }

    /// Gives the request up without a trace (the server sees nothing, the next request takes
    /// this sequence number), as dropping a borrowed [`RequestSlot`] does, and returns the
    /// client.
    pub fn abandon(self) -> DuplexClient {
        let OwnedRequestSlot { slot, client } = self;
        client.attach(slot.abandon())
    }
}

impl Deref for OwnedRequestSlot {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.slot
    }
}

impl DerefMut for OwnedRequestSlot {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.slot
    }
}

impl fmt::Debug for OwnedRequestSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedRequestSlot")
            .field("channel", &self.client.channel)
            .field("sequence", &self.sequence())
            .field("len", &self.slot.len())
            .finish()
    }
}

/// [`DuplexClient::into_request_slot`] failed: why, and the client, unchanged.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct ClientReturned {
    /// The client that was to be lent, back to its owner.
    pub client: Box<DuplexClient>,
    /// Why no request slot could be reserved.
    #[source]
    pub error: Error,
}
