//! A serve child process for the wire tests: harmony's `ServeProcess` (strict framing,
//! bounded waits, always reaped), with calls that panic on failure.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, ExitStatus};
use std::time::Duration;

use harmony::serve_process::{Event, ServeProcess};
use serde_json::{json, Value};

pub struct Serve {
    pub label: String,
    inner: ServeProcess,
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

    pub fn spawn(label: &str, mut command: Command, env: &[(&str, String)]) -> Serve {
        for (key, value) in env {
            command.env(key, value);
        }
        let inner = ServeProcess::spawn(label, command)
            .unwrap_or_else(|e| panic!("cannot start {label}: {e}"));
        Serve {
            label: label.to_owned(),
            inner,
        }
    }

    fn fail(&self, what: impl std::fmt::Display) -> ! {
        panic!("{}: {what}\nstderr:\n{}", self.label, self.inner.stderr())
    }

    pub fn pid(&self) -> u32 {
        self.inner.pid()
    }

    pub fn stderr(&self) -> String {
        self.inner.stderr()
    }

    pub fn write_raw(&mut self, bytes: &[u8]) {
        if let Err(e) = self.inner.write_raw(bytes) {
            self.fail(e)
        }
    }

    /// Frames `body` as Harmony does.
    pub fn write_frame(&mut self, body: &str) {
        self.write_raw(&harmony::framing::frame(body));
    }

    pub fn request(&mut self, method: &str, params: Value) -> u64 {
        match self.inner.request(method, params) {
            Ok(id) => id,
            Err(e) => self.fail(e),
        }
    }

    pub fn response(&mut self, id: &Value, timeout: Duration) -> Value {
        self.response_raw(id, timeout).0
    }

    pub fn response_raw(&mut self, id: &Value, timeout: Duration) -> (Value, String) {
        match self.inner.response_raw(id, timeout) {
            Ok(message) => message,
            Err(e) => self.fail(e),
        }
    }

    pub fn has_response(&mut self, id: &Value) -> bool {
        match self.inner.has_response(id) {
            Ok(has) => has,
            Err(e) => self.fail(e),
        }
    }

    pub fn call(&mut self, method: &str, params: Value, timeout: Duration) -> Value {
        let id = self.request(method, params);
        self.response(&json!(id), timeout)
    }

    /// A request and its `result` (panics on an error response).
    pub fn result(&mut self, method: &str, params: Value, timeout: Duration) -> Value {
        let message = self.call(method, params, timeout);
        match message.get("result") {
            Some(result) if message.get("error").is_none() => result.clone(),
            _ => self.fail(format!("{method} failed: {message}")),
        }
    }

    /// The next message on stdout in arrival order (bypassing the by-id lookup of
    /// `response`), or None when nothing came within `timeout`; fails on a framing violation
    /// or the end of stdout.
    pub fn next_message(&mut self, timeout: Duration) -> Option<Value> {
        match self.inner.next_event(timeout) {
            Event::Message(value, _) => Some(value),
            Event::Timeout => None,
            other => self.fail(format!("expected a message, got {other:?}")),
        }
    }

    /// Asserts that nothing arrives on stdout for `quiet`.
    pub fn expect_silence(&mut self, quiet: Duration) {
        match self.inner.next_event(quiet) {
            Event::Timeout => {}
            other => self.fail(format!("expected no output, got {other:?}")),
        }
    }

    /// Waits for stdout to end with no further byte (after an exit).
    pub fn expect_stdout_end(&mut self, timeout: Duration) {
        match self.inner.next_event(timeout) {
            Event::Ended => {}
            other => self.fail(format!("expected stdout to end, got {other:?}")),
        }
    }

    pub fn close_stdin(&mut self) {
        self.inner.close_stdin();
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.inner.wait_exit(timeout)
    }

    pub fn is_alive(&mut self) -> bool {
        self.inner.is_alive()
    }

    /// Harmony's teardown: close stdin, wait up to 5 s, then SIGKILL.
    pub fn teardown(&mut self) -> (ExitStatus, bool) {
        self.inner.teardown()
    }
}
