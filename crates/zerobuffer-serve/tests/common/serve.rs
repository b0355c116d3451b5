//! A serve child process seen from the orchestrator's side: frames requests onto its stdin
//! exactly as Harmony does, and reads its stdout as strictly as StreamJsonRpc does (any stray
//! byte is a protocol violation that fails the test). Every wait is bounded; the child is
//! killed and reaped when the handle is dropped.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// What the stdout reader saw.
#[derive(Debug)]
pub enum Incoming {
    /// A message and its body exactly as framed.
    Message(Value, String),
    /// Bytes that are not a valid frame: what Harmony would die on.
    Violation(String),
    Eof,
}

pub struct Serve {
    pub label: String,
    child: Child,
    stdin: Option<ChildStdin>,
    incoming: mpsc::Receiver<Incoming>,
    /// Messages (and raw bodies) read while waiting for another id.
    pending: HashMap<String, (Value, String)>,
    stderr: Arc<Mutex<String>>,
    next_id: u64,
    saw_eof: bool,
}

/// The binary under test.
pub fn serve_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_zerobuffer-serve"))
}

impl Serve {
    /// Starts our serve with `env` added (and `RUST_LOG` unless given).
    pub fn rust(label: &str, env: &[(&str, String)], args: &[&str]) -> Serve {
        let mut command = Command::new(serve_binary());
        command.args(args);
        if !env.iter().any(|(k, _)| *k == "RUST_LOG") {
            command.env("RUST_LOG", "info");
        }
        Self::spawn(label, command, env)
    }

    /// Starts the PyPI Python serve (`python -m zerobuffer_serve`).
    pub fn python(label: &str, python: &Path, env: &[(&str, String)]) -> Serve {
        let mut command = Command::new(python);
        command.args(["-m", "zerobuffer_serve"]);
        Self::spawn(label, command, env)
    }

    pub fn spawn(label: &str, mut command: Command, env: &[(&str, String)]) -> Serve {
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {label}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr_pipe = child.stderr.take().expect("piped stderr");
        let (tx, incoming) = mpsc::channel();
        thread::spawn(move || read_frames(BufReader::new(stdout), tx));
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        thread::spawn(move || {
            for line in BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
                let mut all = sink.lock().unwrap();
                all.push_str(&line);
                all.push('\n');
            }
        });
        Serve {
            label: label.to_owned(),
            stdin: child.stdin.take(),
            child,
            incoming,
            pending: HashMap::new(),
            stderr,
            next_id: 2, // StreamJsonRpc's first id
            saw_eof: false,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the child wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Writes raw bytes to the child's stdin.
    pub fn write_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin.write_all(bytes).expect("write to the serve");
        stdin.flush().expect("flush to the serve");
    }

    /// Frames `body` as Harmony does.
    pub fn write_frame(&mut self, body: &str) {
        let mut frame = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
        frame.extend_from_slice(body.as_bytes());
        self.write_raw(&frame);
    }

    /// Sends a request with the next id; returns the id.
    pub fn request(&mut self, method: &str, params: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.write_frame(&body.to_string());
        id
    }

    fn receive(&mut self, timeout: Duration) -> (Value, String) {
        match self.incoming.recv_timeout(timeout) {
            Ok(Incoming::Message(value, raw)) => (value, raw),
            Ok(Incoming::Violation(what)) => panic!(
                "{}: protocol violation on stdout: {what}\nstderr:\n{}",
                self.label,
                self.stderr()
            ),
            Ok(Incoming::Eof) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                self.saw_eof = true;
                panic!(
                    "{}: stdout ended while a response was awaited\nstderr:\n{}",
                    self.label,
                    self.stderr()
                )
            }
            Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                "{}: no response within {timeout:?}\nstderr:\n{}",
                self.label,
                self.stderr()
            ),
        }
    }

    /// The response with `id` (other messages are kept for later).
    pub fn response(&mut self, id: &Value, timeout: Duration) -> Value {
        self.response_raw(id, timeout).0
    }

    /// The response with `id` and its body exactly as received.
    pub fn response_raw(&mut self, id: &Value, timeout: Duration) -> (Value, String) {
        let key = id.to_string();
        if let Some(message) = self.pending.remove(&key) {
            return message;
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let (message, raw) = self.receive(left);
            let got = message.get("id").map(Value::to_string).unwrap_or_default();
            if got == key {
                return (message, raw);
            }
            self.pending.insert(got, (message, raw));
        }
    }

    /// Whether a response with `id` has arrived (without waiting).
    pub fn has_response(&mut self, id: &Value) -> bool {
        while let Ok(incoming) = self.incoming.try_recv() {
            match incoming {
                Incoming::Message(message, raw) => {
                    let got = message.get("id").map(Value::to_string).unwrap_or_default();
                    self.pending.insert(got, (message, raw));
                }
                other => panic!("{}: {other:?}", self.label),
            }
        }
        self.pending.contains_key(&id.to_string())
    }

    /// A request and its whole response message.
    pub fn call(&mut self, method: &str, params: Value, timeout: Duration) -> Value {
        let id = self.request(method, params);
        self.response(&json!(id), timeout)
    }

    /// A request and its `result` (panics on an error response).
    pub fn result(&mut self, method: &str, params: Value, timeout: Duration) -> Value {
        let message = self.call(method, params, timeout);
        match message.get("result") {
            Some(result) if message.get("error").is_none() => result.clone(),
            _ => panic!("{}: {method} failed: {message}", self.label),
        }
    }

    /// Asserts that nothing arrives on stdout for `quiet`.
    pub fn expect_silence(&mut self, quiet: Duration) {
        match self.incoming.recv_timeout(quiet) {
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Ok(other) => panic!("{}: expected no output, got {other:?}", self.label),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                panic!("{}: stdout closed unexpectedly", self.label)
            }
        }
    }

    /// Waits for stdout to end with no further byte (after an exit).
    pub fn expect_stdout_end(&mut self, timeout: Duration) {
        if self.saw_eof {
            return;
        }
        match self.incoming.recv_timeout(timeout) {
            Ok(Incoming::Eof) | Err(mpsc::RecvTimeoutError::Disconnected) => self.saw_eof = true,
            Ok(other) => panic!("{}: expected stdout to end, got {other:?}", self.label),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("{}: stdout still open after {timeout:?}", self.label)
            }
        }
    }

    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// Waits up to `timeout` for the child to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Harmony's teardown (harmony.md §1.5): close stdin, wait up to 5 s, then SIGKILL.
    /// Returns the exit status and whether the kill was needed.
    pub fn teardown(&mut self) -> (ExitStatus, bool) {
        self.close_stdin();
        if let Some(status) = self.wait_exit(Duration::from_secs(5)) {
            return (status, false);
        }
        let _ = self.child.kill();
        (self.child.wait().expect("reap the serve"), true)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.stdin.take();
        if self.wait_exit(Duration::from_secs(5)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Reads frames as StreamJsonRpc's HeaderDelimitedMessageHandler does: CRLF header lines,
/// `Content-Length` spelt exactly, exactly that many bytes of one JSON object with
/// `"jsonrpc":"2.0"`.
fn read_frames(mut out: impl BufRead, tx: mpsc::Sender<Incoming>) {
    loop {
        let mut length = None;
        let mut first = true;
        loop {
            let mut line = Vec::new();
            match out.read_until(b'\n', &mut line) {
                Ok(0) if first => {
                    let _ = tx.send(Incoming::Eof);
                    return;
                }
                Ok(_) => {}
                Err(e) => {
                    let _ = tx.send(Incoming::Violation(format!("read error: {e}")));
                    return;
                }
            }
            first = false;
            let text = String::from_utf8_lossy(&line).into_owned();
            let Some(text) = text.strip_suffix("\r\n") else {
                let _ = tx.send(Incoming::Violation(format!(
                    "header line without CRLF: {text:?}"
                )));
                return;
            };
            if text.is_empty() {
                break;
            }
            let Some((name, value)) = text.split_once(':') else {
                let _ = tx.send(Incoming::Violation(format!("not a header: {text:?}")));
                return;
            };
            if name == "Content-Length" {
                length = value.trim().parse::<usize>().ok();
            }
        }
        let Some(length) = length else {
            let _ = tx.send(Incoming::Violation("no Content-Length".into()));
            return;
        };
        let mut body = vec![0; length];
        if let Err(e) = out.read_exact(&mut body) {
            let _ = tx.send(Incoming::Violation(format!("short body: {e}")));
            return;
        }
        let value: Value = match serde_json::from_slice(&body) {
            Ok(Value::Object(o)) => Value::Object(o),
            other => {
                let _ = tx.send(Incoming::Violation(format!(
                    "body is not one JSON object: {other:?} ({})",
                    String::from_utf8_lossy(&body)
                )));
                return;
            }
        };
        if value.get("jsonrpc") != Some(&json!("2.0")) {
            let _ = tx.send(Incoming::Violation(format!(
                "no \"jsonrpc\":\"2.0\": {value}"
            )));
            return;
        }
        let raw = String::from_utf8_lossy(&body).into_owned();
        if tx.send(Incoming::Message(value, raw)).is_err() {
            return;
        }
    }
}
