//! `zerobuffer duplex-echo`: serve a duplex channel whose handler echoes every request.

use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use zerobuffer::duplex::{request_buffer_name, Responder};
use zerobuffer::{BufferConfig, DuplexServer, Error, Frame, ProcessingMode};

use crate::ready::write_ready_file;
use crate::signals::{self, POLL_SLICE};
use crate::DuplexEchoArgs;

pub fn run(args: &DuplexEchoArgs) -> Result<()> {
    signals::check()?;
    let channel = args.channel.as_str();
    let payload_size =
        usize::try_from(args.payload_size).context("--payload-size does not fit in memory")?;
    let config = BufferConfig::new(args.metadata_size, payload_size);
    let mut server = DuplexServer::new(channel, config)
        .with_context(|| format!("cannot serve channel {channel:?}"))?
        .with_wait_strategy(args.wait);
    let clients = Arc::new(Mutex::new(Clients::new(channel)));
    let delay = Duration::from_millis(args.delay_ms);
    server
        .start_zero_copy(
            ProcessingMode::SingleThread,
            echo_handler(delay, Arc::clone(&clients)),
        )
        .with_context(|| format!("cannot create buffer {:?}", request_buffer_name(channel)))?;
    tracing::info!(channel, "serving");
    let outcome = match &args.ready_file {
        Some(path) => write_ready_file(path).and_then(|()| serve(&server, &clients)),
        None => serve(&server, &clients),
    };
    // Stopping removes the request buffer; a handler cuts its delay short on a signal.
    let stopped = server.stop();
    log_errors(channel, server.take_errors());
    lock(&clients).stopped();
    stopped.context("the server did not stop in time")?;
    outcome
}

/// Watches the server until a signal arrives or it stops on its own (an error).
fn serve(server: &DuplexServer, clients: &Mutex<Clients>) -> Result<()> {
    let channel = server.channel();
    loop {
        signals::check()?;
        // Read before taking the errors: a thread that ended has recorded why.
        let running = server.is_running();
        let mut errors = server.take_errors();
        lock(clients).look();
        if !running {
            let last = errors.pop();
            log_errors(channel, errors);
            let cause = last.map_or_else(|| anyhow!("no error recorded"), anyhow::Error::new);
            return Err(cause.context(format!("the server of channel {channel:?} stopped")));
        }
        log_errors(channel, errors);
        thread::sleep(POLL_SLICE);
    }
}

/// The errors a running server records are clients leaving (logged by [`Clients`]); anything
/// else is worth a warning.
fn log_errors(channel: &str, errors: Vec<Error>) {
    for error in errors {
        match error {
            Error::WriterDead => tracing::debug!(channel, "the server saw its client leave"),
            Error::ReaderDead => tracing::info!(channel, "a client left before its response"),
            e => tracing::warn!(channel, error = %e, "server error"),
        }
    }
}

fn lock(clients: &Mutex<Clients>) -> MutexGuard<'_, Clients> {
    clients.lock().unwrap_or_else(|e| e.into_inner())
}

/// The arrival and departure log of the clients that send requests. A client arrives with its
/// first request (sequence 1); it has left once it is no longer the live writer of the request
/// buffer (looked at every [`POLL_SLICE`]) or when the next client arrives.
struct Clients {
    channel: String,
    request_buffer: String,
    /// The current client: its pid (0 if unknown) and the requests it got answered.
    current: Option<(u64, u64)>,
    seen: u64,
    requests: u64,
}

impl Clients {
    fn new(channel: &str) -> Clients {
        Clients {
            channel: channel.to_owned(),
            request_buffer: request_buffer_name(channel),
            current: None,
            seen: 0,
            requests: 0,
        }
    }

    /// The live writer of the request buffer, if any.
    fn live_writer(&self) -> Option<u64> {
        zerobuffer::inspect(&self.request_buffer)
            .ok()
            .filter(|info| info.writer_alive)
            .map(|info| info.oieb.writer_pid)
    }

    /// Called by the handler for every request before answering it.
    fn request(&mut self, sequence: u64) {
        if sequence == 1 || self.current.is_none() {
            self.left();
            let pid = self.live_writer().unwrap_or(0);
            self.seen += 1;
            self.current = Some((pid, 0));
            tracing::info!(channel = %self.channel, client_pid = pid, "client arrived");
        }
    }

    /// Called by the handler once a request is answered.
    fn answered(&mut self) {
        self.requests += 1;
        if let Some((_, requests)) = &mut self.current {
            *requests += 1;
        }
    }

    /// Notices a client that is gone.
    fn look(&mut self) {
        if let Some((pid, _)) = self.current {
            if self.live_writer() != Some(pid) {
                self.left();
            }
        }
    }

    fn left(&mut self) {
        if let Some((pid, requests)) = self.current.take() {
            tracing::info!(channel = %self.channel, client_pid = pid, requests, "client left");
        }
    }

    fn stopped(&mut self) {
        self.left();
        tracing::info!(
            channel = %self.channel,
            clients = self.seen,
            requests = self.requests,
            "server stopped"
        );
    }
}

/// Answers each request with its own bytes, copied straight into the response ring.
fn echo_handler(
    delay: Duration,
    clients: Arc<Mutex<Clients>>,
) -> impl FnMut(&Frame<'_>, &mut Responder<'_>) -> zerobuffer::Result<()> + Send + 'static {
    move |request, responder| {
        lock(&clients).request(request.sequence());
        simulate_processing(delay);
        responder.send(request)?;
        lock(&clients).answered();
        Ok(())
    }
}

/// Sleeps for `delay` in slices, returning early once a signal has arrived so that the server
/// stops promptly.
fn simulate_processing(delay: Duration) {
    let deadline = Instant::now() + delay;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || signals::check().is_err() {
            return;
        }
        thread::sleep(left.min(POLL_SLICE));
    }
}
