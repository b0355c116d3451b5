//! The stdio loop: frames in, envelope check, dispatch through the `RpcModule`, frames out.
//!
//! - stdin is read on its own thread, so the loop keeps answering (`health` while a step
//!   runs, several requests in flight). Each call runs as its own task; its answer is written
//!   and flushed as soon as it is ready.
//! - fd 1 is re-pointed to stderr at start and the protocol writes to a private duplicate of
//!   the original stdout, so a stray print anywhere in the process cannot corrupt the stream.
//! - Ends: stdin EOF or `shutdown` (request or notification) end the scenario within
//!   [`EXIT_BOUND`] and exit 0; an input that cannot be resynchronised is reported on stderr,
//!   then the same clean end with exit code 1; `crash` answers `null`, flushes and aborts at
//!   once, with no cleanup and no core file.

use std::fs::File;
use std::io::{self, Write as _};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonrpsee::RpcModule;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::executor::Executor;
use crate::framing::{write_frame, FrameError, FrameReader};
use crate::methods::{self, ServeState, CRASH, SHUTDOWN};
use crate::protocol::{self, Incoming};

/// How long an exit waits for the scenario to end (Harmony kills 5 s after closing stdin).
pub const EXIT_BOUND: Duration = Duration::from_secs(4);

/// Exit code after an input that could not be resynchronised.
pub const EXIT_PROTOCOL_ERROR: i32 = 1;

/// The protocol's side of stdout.
pub struct Output {
    file: Mutex<File>,
}

impl Output {
    /// Takes fd 1 for the protocol (a close-on-exec duplicate) and points fd 1 at stderr.
    pub fn take_stdout() -> io::Result<Output> {
        let protocol = rustix::io::fcntl_dupfd_cloexec(io::stdout(), 3)?;
        rustix::stdio::dup2_stdout(io::stderr())?;
        Ok(Output {
            file: Mutex::new(File::from(protocol)),
        })
    }

    /// Writes one framed message and flushes it.
    pub fn send(&self, body: &str) {
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = write_frame(&mut *file, body.as_bytes()).and_then(|()| file.flush()) {
            tracing::error!("writing a response failed: {e}");
        }
    }
}

enum Input {
    Frame(Vec<u8>),
    End,
    Broken(FrameError),
}

fn read_input(tx: mpsc::UnboundedSender<Input>) {
    let stdin = io::stdin();
    let mut frames = FrameReader::new(stdin.lock());
    loop {
        let input = match frames.next_frame() {
            Ok(Some(body)) => Input::Frame(body),
            Ok(None) => Input::End,
            Err(e) => Input::Broken(e),
        };
        let last = !matches!(input, Input::Frame(_));
        if tx.send(input).is_err() || last {
            return;
        }
    }
}

/// Serves until the input ends; returns the exit code.
pub async fn serve(output: Arc<Output>, step_timeout: Duration) -> anyhow::Result<i32> {
    let executor = Arc::new(Executor::start(step_timeout));
    let module = Arc::new(methods::module(ServeState {
        executor: Arc::clone(&executor),
        session: Mutex::new(None),
    }));
    let (tx, mut inputs) = mpsc::unbounded_channel();
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || read_input(tx))?;
    tracing::info!(
        pid = std::process::id(),
        step_timeout_ms = step_timeout.as_millis() as u64,
        "serving on stdin/stdout"
    );

    // Methods that act on the World run strictly in arrival order on one lane; the others
    // (health, discover, errors) are answered at once, even while a step runs.
    let (lane, mut lane_requests) = mpsc::unbounded_channel::<String>();
    let lane_task = tokio::spawn({
        let module = Arc::clone(&module);
        let output = Arc::clone(&output);
        async move {
            while let Some(body) = lane_requests.recv().await {
                output.send(&call(&module, &body).await);
            }
        }
    });

    let code = loop {
        let body = match inputs.recv().await {
            Some(Input::Frame(body)) => body,
            Some(Input::End) | None => {
                tracing::info!("stdin ended");
                break 0;
            }
            Some(Input::Broken(e)) => {
                tracing::error!("{e}; the input cannot be resynchronised, exiting");
                break EXIT_PROTOCOL_ERROR;
            }
        };
        match protocol::classify(&body) {
            Incoming::Reject(response) => {
                tracing::warn!(response = %response, "rejected a malformed message");
                output.send(&response);
            }
            Incoming::Notification { method } if method == SHUTDOWN => {
                tracing::info!("shutdown notification");
                break 0;
            }
            Incoming::Notification { method } => {
                tracing::debug!(%method, "ignoring a notification");
            }
            Incoming::Call { method, body } if method == CRASH => {
                output.send(&call(&module, &body).await);
                crash_now();
            }
            Incoming::Call { method, body } if method == SHUTDOWN => {
                output.send(&call(&module, &body).await);
                tracing::info!("shutdown requested");
                break 0;
            }
            Incoming::Call { method, body }
                if methods::ACTS_ON_WORLD.contains(&method.as_str()) =>
            {
                let _ = lane.send(body);
            }
            Incoming::Call { body, .. } => {
                let module = Arc::clone(&module);
                let output = Arc::clone(&output);
                tokio::spawn(async move { output.send(&call(&module, &body).await) });
            }
        }
    };
    // Requests still queued are dropped; a step still running gets the rest of the bound.
    lane_task.abort();
    if !executor.finish(EXIT_BOUND).await {
        tracing::warn!(
            "the scenario did not end within {EXIT_BOUND:?}; exiting without full cleanup"
        );
    }
    Ok(code)
}

/// Dispatches one request that passed the envelope check.
async fn call(module: &RpcModule<ServeState>, body: &str) -> String {
    match module.raw_json_request(body, 1).await {
        Ok((response, _subscriptions)) => response.get().to_owned(),
        Err(e) => {
            let id = serde_json::from_str::<Value>(body)
                .ok()
                .and_then(|v| v.get("id").cloned())
                .unwrap_or(Value::Null);
            protocol::error_response(
                &id,
                jsonrpsee::types::ErrorCode::InvalidRequest.code(),
                &format!("Invalid request: {e}"),
            )
        }
    }
}

/// A real crash for the peer to detect: no cleanup, no unwinding, no core file.
fn crash_now() -> ! {
    tracing::warn!("crash requested: aborting");
    let limit = rustix::process::getrlimit(rustix::process::Resource::Core);
    let _ = rustix::process::setrlimit(
        rustix::process::Resource::Core,
        rustix::process::Rlimit {
            current: Some(0),
            maximum: limit.maximum,
        },
    );
    std::process::abort()
}
