//! The server side of a duplex channel.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::{request_buffer_name, response_buffer_name, validate_channel, ProcessingMode};
use crate::abandon::Abandon;
use crate::config::BufferConfig;
use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::reader::Reader;
use crate::wait::WaitStrategy;
use crate::writer::{FrameSlot, Writer};

/// How long the server waits for a client's response buffer, and the bound of `stop`.
pub const DEFAULT_SERVER_TIMEOUT: Duration = Duration::from_secs(5);
/// Every wait of the server loop is sliced so that `stop` is noticed this quickly.
const SLICE: Duration = Duration::from_millis(100);
const ATTACH_RETRY: Duration = Duration::from_millis(100);
/// Errors kept for [`DuplexServer::take_errors`]; older ones are dropped first.
const MAX_KEPT_ERRORS: usize = 64;

/// What the server handle tells its serving thread (and the responder).
#[derive(Default)]
struct Control {
    stop: AtomicBool,
    /// Set when the server is to end as a killed process would (see [`Abandon`]).
    abandon: AtomicBool,
}

impl Control {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn request_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    fn request_abandon(&self) {
        self.abandon.store(true, Ordering::SeqCst);
        self.request_stop();
    }

    fn abandoning(&self) -> bool {
        self.abandon.load(Ordering::SeqCst)
    }
}

/// Lets a zero-copy handler write its one response straight into the response ring.
pub struct Responder<'s> {
    writer: &'s mut Writer,
    control: &'s Control,
    committed: bool,
}

impl Responder<'_> {
    /// Reserves the response of `len` bytes. Waits while the response ring is full (the
    /// client has not read earlier responses yet), for as long as the client lives and the
    /// server is not stopped.
    pub fn slot(&mut self, len: usize) -> Result<ResponseSlot<'_>> {
        if self.committed {
            return Err(Error::InvalidOperation(
                "a request gets exactly one response",
            ));
        }
        if self.control.abandoning() {
            return Err(Error::InvalidOperation("the server was abandoned"));
        }
        // Probe until there is room: an uncommitted slot leaves no trace, and room only grows
        // while we wait (the client frees it), so the real reservation then succeeds at once.
        loop {
            match self.writer.get_frame_buffer(len).map(drop) {
                Err(Error::BufferFull) if !self.control.stopped() => continue,
                other => break other?,
            }
        }
        let slot = self.writer.get_frame_buffer(len)?;
        Ok(ResponseSlot {
            slot,
            committed: &mut self.committed,
        })
    }

    /// Copies `data` as the response.
    pub fn send(&mut self, data: &[u8]) -> Result<u64> {
        let mut slot = self.slot(data.len())?;
        slot.copy_from_slice(data);
        Ok(slot.commit())
    }
}

impl Responder<'_> {
    /// Ends the server as a killed process would, once this handler returns: nothing more is
    /// written, the request being handled is never released, and the serving thread abandons
    /// the request buffer and the response writer (see [`Abandon`]).
    pub fn abandon_server(&mut self) {
        self.control.request_abandon();
    }
}

/// A response being written in place; [`ResponseSlot::commit`] sends it.
pub struct ResponseSlot<'r> {
    slot: FrameSlot<'r>,
    committed: &'r mut bool,
}

impl ResponseSlot<'_> {
    pub fn commit(self) -> u64 {
        *self.committed = true;
        self.slot.commit()
    }
}

impl Deref for ResponseSlot<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.slot
    }
}

impl DerefMut for ResponseSlot<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.slot
    }
}

type Handler = Box<dyn FnMut(&Frame<'_>, &mut Responder<'_>) -> Result<()> + Send>;

/// Serves one channel: reads requests from `CH_request` and answers each on `CH_response`.
///
/// Clients come and go: when a client dies or leaves, the server drops its response writer
/// and waits for the next client on the same request buffer.
///
/// A handler must produce exactly one response per request; that is the only correlation the
/// protocol has. A request left without a response (the handler failed, panicked or did not
/// respond) would shift every later answer onto the wrong request, so the server records the
/// error and stops instead.
pub struct DuplexServer {
    channel: String,
    config: BufferConfig,
    timeout: Duration,
    wait: WaitStrategy,
    running: Arc<AtomicBool>,
    control: Arc<Control>,
    errors: Arc<Mutex<Vec<Error>>>,
    worker: Option<(thread::JoinHandle<()>, mpsc::Receiver<()>)>,
}

impl DuplexServer {
    /// A server for `channel` whose request buffer has `config`; nothing is created until
    /// [`DuplexServer::start`].
    pub fn new(channel: &str, config: BufferConfig) -> Result<DuplexServer> {
        validate_channel(channel)?;
        Ok(DuplexServer {
            channel: channel.to_owned(),
            config,
            timeout: DEFAULT_SERVER_TIMEOUT,
            wait: WaitStrategy::default(),
            running: Arc::new(AtomicBool::new(false)),
            control: Arc::new(Control::default()),
            errors: Arc::new(Mutex::new(Vec::new())),
            worker: None,
        })
    }

    /// How long to wait for a client's response buffer and for `stop` to finish (default 5 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How the server waits for requests and for space for its responses (default
    /// [`WaitStrategy::Block`]); any strategy works with any client.
    pub fn with_wait_strategy(mut self, strategy: WaitStrategy) -> Self {
        self.wait = strategy;
        self
    }

    /// The name of the channel this server serves.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// Starts serving with a handler that returns each response as a new buffer (copied into
    /// the response ring). The response must not be empty.
    pub fn start<F>(&mut self, mode: ProcessingMode, mut handler: F) -> Result<()>
    where
        F: FnMut(&Frame<'_>) -> Vec<u8> + Send + 'static,
    {
        self.start_zero_copy(mode, move |request, responder| {
            let response = handler(request);
            responder.send(&response).map(drop)
        })
    }

    /// Starts serving with a handler that writes its response straight into the response
    /// ring through the [`Responder`] (`slot(len)`, fill, `commit()`).
    ///
    /// The request buffer is created before this returns, so clients may connect at once.
    pub fn start_zero_copy<F>(&mut self, mode: ProcessingMode, handler: F) -> Result<()>
    where
        F: FnMut(&Frame<'_>, &mut Responder<'_>) -> Result<()> + Send + 'static,
    {
        let ProcessingMode::SingleThread = mode;
        if self.is_running() || self.worker.is_some() {
            return Err(Error::InvalidOperation("the server is already started"));
        }
        let mut reader = Reader::create(&request_buffer_name(&self.channel), self.config)?;
        reader.set_wait_strategy(self.wait);
        // A fresh control block: a stopped (or crashed) earlier run leaves its flags behind.
        self.control = Arc::new(Control::default());
        self.running.store(true, Ordering::SeqCst);
        let serve = ServeLoop {
            channel: self.channel.clone(),
            reader,
            response: None,
            handler: Box::new(handler),
            attach: Attach {
                timeout: self.timeout,
                wait: self.wait,
            },
            control: Arc::clone(&self.control),
            errors: Arc::clone(&self.errors),
        };
        let running = Arc::clone(&self.running);
        let (done_tx, done_rx) = mpsc::channel();
        let spawned = thread::Builder::new()
            .name(format!("duplex-server-{}", self.channel))
            .spawn(move || {
                serve.run();
                running.store(false, Ordering::SeqCst);
                let _ = done_tx.send(());
            });
        match spawned {
            Ok(handle) => {
                self.worker = Some((handle, done_rx));
                Ok(())
            }
            Err(e) => {
                self.running.store(false, Ordering::SeqCst);
                Err(Error::os("spawn the server thread", e))
            }
        }
    }

    /// True while the serving thread runs.
    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::SeqCst)
    }

    /// Stops serving and removes the request buffer. Returns [`Error::Timeout`] if the serving
    /// thread did not finish within the server timeout (a handler that does not return); the
    /// thread then cleans up on its own when the handler returns.
    pub fn stop(&mut self) -> Result<()> {
        self.control.request_stop();
        let Some((handle, done)) = self.worker.take() else {
            return Ok(());
        };
        match done.recv_timeout(self.timeout + SLICE) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                let _ = handle.join();
                Ok(())
            }
            Err(mpsc::RecvTimeoutError::Timeout) => Err(Error::Timeout(self.timeout)),
        }
    }

    /// Errors the serving loop met (clients that died, failed handlers, ...), oldest first.
    pub fn take_errors(&self) -> Vec<Error> {
        std::mem::take(&mut *self.errors.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Abandon for DuplexServer {
    /// A running handler is not interrupted, but whatever it still tries to send is refused;
    /// then the request buffer and the response writer are abandoned, not closed. Waits for
    /// the serving thread like [`DuplexServer::stop`], and fails as it does.
    fn abandon(mut self) -> Result<()> {
        self.control.request_abandon();
        self.stop()
    }
}

impl Drop for DuplexServer {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::warn!(channel = %self.channel, error = %e, "server thread did not stop in time");
        }
    }
}

impl std::fmt::Debug for DuplexServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DuplexServer")
            .field("channel", &self.channel)
            .field("running", &self.is_running())
            .finish()
    }
}

/// The serving thread's state.
struct ServeLoop {
    channel: String,
    reader: Reader,
    /// Writer into the current client's response buffer, attached on its first request.
    response: Option<Writer>,
    handler: Handler,
    attach: Attach,
    control: Arc<Control>,
    errors: Arc<Mutex<Vec<Error>>>,
}

impl ServeLoop {
    fn run(mut self) {
        tracing::debug!(channel = %self.channel, "duplex server serving");
        while !self.control.stopped() {
            let request = match self.reader.read_frame(SLICE) {
                Ok(frame) => frame,
                Err(Error::Timeout(_)) => continue,
                Err(Error::WriterDead) => {
                    // The client died or left: forget its response buffer, wait for the next.
                    if self.response.take().is_some() {
                        tracing::info!(channel = %self.channel, "client disconnected");
                        record(&self.errors, Error::WriterDead);
                    }
                    continue;
                }
                Err(e) => {
                    record(&self.errors, e);
                    break;
                }
            };
            // A client's first request starts at sequence 1: a new client, a new response buffer.
            if request.sequence() == 1 {
                self.response = None;
            }
            let client_alive = || self.reader.is_writer_connected();
            let outcome = answer(
                &client_alive,
                &request,
                &mut self.response,
                &mut self.handler,
                &self.channel,
                self.attach,
                &self.control,
            );
            if self.control.abandoning() {
                // A killed process releases nothing, not even the request it was handling.
                std::mem::forget(request);
                break;
            }
            drop(request);
            match outcome {
                Ok(()) => {}
                Err(Error::ReaderDead) => {
                    // The client is gone; its request is moot. Serve the next client.
                    tracing::info!(channel = %self.channel, "client left before its response");
                    self.response = None;
                    record(&self.errors, Error::ReaderDead);
                }
                Err(e) => {
                    tracing::error!(channel = %self.channel, error = %e, "request left unanswered; stopping");
                    record(&self.errors, e);
                    break;
                }
            }
        }
        if self.control.abandoning() {
            self.abandon();
            return;
        }
        tracing::debug!(channel = %self.channel, "duplex server stopped");
        // Response writer first, then the request buffer (as the other servers do).
        drop(self.response.take());
    }
}

impl ServeLoop {
    /// Leaves both endpoints as a killed process would (see [`Abandon`]).
    fn abandon(mut self) {
        tracing::debug!(channel = %self.channel, "duplex server abandoned");
        if let Some(writer) = self.response.take() {
            let _ = writer.abandon();
        }
        let _ = self.reader.abandon();
    }
}

/// Runs the handler for one request and checks that it answered.
fn answer(
    client_alive: &dyn Fn() -> bool,
    request: &Frame<'_>,
    response: &mut Option<Writer>,
    handler: &mut Handler,
    channel: &str,
    attach: Attach,
    control: &Control,
) -> Result<()> {
    if response.is_none() {
        *response = Some(attach_response(channel, attach, control, client_alive)?);
    }
    let writer = response.as_mut().expect("attached above");
    let mut responder = Responder {
        writer,
        control,
        committed: false,
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        handler(request, &mut responder)
    }));
    match result {
        Ok(Ok(())) if responder.committed => Ok(()),
        Ok(Ok(())) => Err(Error::InvalidOperation(
            "the handler returned without a response",
        )),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(Error::InvalidOperation("the handler panicked")),
    }
}

/// How the server attaches to a client's response buffer.
#[derive(Debug, Clone, Copy)]
struct Attach {
    /// How long to keep trying.
    timeout: Duration,
    /// How the response writer waits for space.
    wait: WaitStrategy,
}

/// Attaches to the client's response buffer, retrying on any error: the client may still be
/// creating it (segment, then control block, then semaphores). A client that died meanwhile
/// is [`Error::ReaderDead`], like one that dies later while we write.
fn attach_response(
    channel: &str,
    attach: Attach,
    control: &Control,
    client_alive: &dyn Fn() -> bool,
) -> Result<Writer> {
    let name = response_buffer_name(channel);
    let deadline = Instant::now() + attach.timeout;
    loop {
        match Writer::connect(&name) {
            Ok(mut writer) => {
                writer.set_write_timeout(SLICE);
                writer.set_wait_strategy(attach.wait);
                return Ok(writer);
            }
            Err(_) if !client_alive() => return Err(Error::ReaderDead),
            Err(e) if Instant::now() >= deadline || control.stopped() => return Err(e),
            Err(_) => thread::sleep(ATTACH_RETRY),
        }
    }
}

/// Keeps `error` for [`DuplexServer::take_errors`], dropping the oldest beyond the limit.
fn record(errors: &Mutex<Vec<Error>>, error: Error) {
    let mut errors = errors.lock().unwrap_or_else(|e| e.into_inner());
    if errors.len() >= MAX_KEPT_ERRORS {
        errors.remove(0);
    }
    errors.push(error);
}
