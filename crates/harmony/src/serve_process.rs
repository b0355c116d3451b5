//! One serve child process seen from the orchestrator: requests framed onto its stdin,
//! responses read strictly from its stdout on a thread, stderr drained on another thread.
//! Every wait is bounded, and the child is always reaped (on drop at the latest).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::framing::{self, Incoming};

/// How long teardown waits after closing stdin before SIGKILL (harmony.md §1.5).
pub const TEARDOWN_GRACE: Duration = Duration::from_secs(5);

/// Why a call got no response.
#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    /// The serve wrote something that is not a frame.
    Violation(String),
    /// stdout ended (the process died or closed it).
    Ended,
    /// No response within the limit.
    Timeout(Duration),
    /// stdin could not be written (the process is gone).
    Write(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Violation(what) => write!(f, "protocol violation on stdout: {what}"),
            CallError::Ended => write!(f, "the process ended (stdout closed)"),
            CallError::Timeout(after) => write!(f, "no response within {after:?}"),
            CallError::Write(e) => write!(f, "cannot write to its stdin: {e}"),
        }
    }
}

/// One stdout event, without waiting for a particular id.
#[derive(Debug)]
pub enum Event {
    Message(Value, String),
    Violation(String),
    Ended,
    Timeout,
}

pub struct ServeProcess {
    pub label: String,
    child: Child,
    stdin: Option<ChildStdin>,
    incoming: mpsc::Receiver<Incoming>,
    pending: HashMap<String, (Value, String)>,
    stderr: Arc<Mutex<String>>,
    stderr_thread: Option<thread::JoinHandle<()>>,
    next_id: u64,
    ended: bool,
    status: Option<ExitStatus>,
}

impl ServeProcess {
    /// Spawns `command` with all three streams piped.
    pub fn spawn(label: &str, mut command: Command) -> std::io::Result<ServeProcess> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr_pipe = child.stderr.take().expect("piped stderr");
        let (tx, incoming) = mpsc::channel();
        thread::spawn(move || {
            let mut out = BufReader::new(stdout);
            loop {
                let event = framing::read_frame(&mut out);
                let last = !matches!(event, Incoming::Message(..));
                if tx.send(event).is_err() || last {
                    return;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let stderr_thread = thread::spawn(move || {
            for line in BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
                let mut all = sink.lock().unwrap_or_else(|e| e.into_inner());
                all.push_str(&line);
                all.push('\n');
            }
        });
        Ok(ServeProcess {
            label: label.to_owned(),
            stdin: child.stdin.take(),
            child,
            incoming,
            pending: HashMap::new(),
            stderr,
            stderr_thread: Some(stderr_thread),
            next_id: 2, // StreamJsonRpc's first id
            ended: false,
            status: None,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the child wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The last `lines` lines of stderr.
    pub fn stderr_tail(&self, lines: usize) -> String {
        crate::failure::tail(&self.stderr(), lines)
    }

    /// Writes raw bytes to the child's stdin.
    pub fn write_raw(&mut self, bytes: &[u8]) -> Result<(), CallError> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| CallError::Write("stdin is closed".into()))?;
        stdin
            .write_all(bytes)
            .and_then(|()| stdin.flush())
            .map_err(|e| CallError::Write(e.to_string()))
    }

    /// Sends a request with the next id; returns the id.
    pub fn request(&mut self, method: &str, params: Value) -> Result<u64, CallError> {
        let id = self.next_id;
        self.next_id += 1;
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.write_raw(&framing::frame(&body.to_string()))?;
        Ok(id)
    }

    /// The next stdout event within `timeout`.
    pub fn next_event(&mut self, timeout: Duration) -> Event {
        if self.ended {
            return Event::Ended;
        }
        match self.incoming.recv_timeout(timeout) {
            Ok(Incoming::Message(value, raw)) => Event::Message(value, raw),
            Ok(Incoming::Violation(what)) => {
                self.ended = true;
                Event::Violation(what)
            }
            Ok(Incoming::Eof) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                self.ended = true;
                Event::Ended
            }
            Err(mpsc::RecvTimeoutError::Timeout) => Event::Timeout,
        }
    }

    /// The response with `id` and its raw body; other messages are kept for later.
    pub fn response_raw(
        &mut self,
        id: &Value,
        timeout: Duration,
    ) -> Result<(Value, String), CallError> {
        let key = id.to_string();
        if let Some(message) = self.pending.remove(&key) {
            return Ok(message);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_event(left) {
                Event::Message(message, raw) => {
                    let got = message.get("id").map(Value::to_string).unwrap_or_default();
                    if got == key {
                        return Ok((message, raw));
                    }
                    self.pending.insert(got, (message, raw));
                }
                Event::Violation(what) => return Err(CallError::Violation(what)),
                Event::Ended => return Err(CallError::Ended),
                Event::Timeout => return Err(CallError::Timeout(timeout)),
            }
        }
    }

    /// The response message with `id`.
    pub fn response(&mut self, id: &Value, timeout: Duration) -> Result<Value, CallError> {
        self.response_raw(id, timeout).map(|(message, _)| message)
    }

    /// Whether a response with `id` has already arrived (no waiting).
    pub fn has_response(&mut self, id: &Value) -> Result<bool, CallError> {
        loop {
            match self.next_event(Duration::ZERO) {
                Event::Message(message, raw) => {
                    let got = message.get("id").map(Value::to_string).unwrap_or_default();
                    self.pending.insert(got, (message, raw));
                }
                Event::Timeout => break,
                Event::Ended => break,
                Event::Violation(what) => return Err(CallError::Violation(what)),
            }
        }
        Ok(self.pending.contains_key(&id.to_string()))
    }

    /// A request and its whole response message.
    pub fn call(
        &mut self,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, CallError> {
        let id = self.request(method, params)?;
        self.response(&json!(id), timeout)
    }

    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// Waits up to `timeout` for the child to exit (polling, so the wait is bounded).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if let Some(status) = self.status {
            return Some(status);
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.status = Some(status);
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn is_alive(&mut self) -> bool {
        self.wait_exit(Duration::ZERO).is_none()
    }

    /// SIGKILL now and reap, if the process is still running; false when it had already
    /// exited on its own (then it is only reaped).
    pub fn kill_if_running(&mut self) -> bool {
        if !self.is_alive() {
            self.finish_stderr();
            return false;
        }
        self.kill();
        true
    }

    /// SIGKILL now and reap.
    pub fn kill(&mut self) -> ExitStatus {
        if let Some(status) = self.status {
            return status;
        }
        let _ = self.child.kill();
        let status = self.child.wait().expect("reap a child we own");
        self.status = Some(status);
        self.finish_stderr();
        status
    }

    /// Harmony's teardown (harmony.md §1.5): close stdin, wait up to 5 s, then SIGKILL, reap,
    /// and drain stderr to its end. Returns the status and whether the kill was needed.
    pub fn teardown(&mut self) -> (ExitStatus, bool) {
        self.close_stdin();
        if let Some(status) = self.wait_exit(TEARDOWN_GRACE) {
            self.finish_stderr();
            return (status, false);
        }
        (self.kill(), true)
    }

    /// Waits (bounded) for the stderr reader to see the end of the pipe.
    fn finish_stderr(&mut self) {
        let Some(handle) = self.stderr_thread.take() else {
            return;
        };
        let deadline = Instant::now() + Duration::from_secs(2);
        while !handle.is_finished() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        if handle.is_finished() {
            let _ = handle.join();
        }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        if self.status.is_none() {
            self.teardown();
        }
    }
}
