//! The parent's handle on one endpoint process (Python or this binary re-executed): lines to
//! its stdin, lines from its stdout, every wait bounded by [`TIMEOUT`]. Dropping a handle
//! whose process still runs kills and reaps it.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use crate::child;
use crate::{BoxResult, TIMEOUT};

pub struct EndpointProcess {
    /// `python reader`, `our writer`, …: for error messages.
    label: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl EndpointProcess {
    /// Starts `command` with piped stdin and stdout (stderr is inherited, so a peer's
    /// traceback shows up beside the bench's own error).
    pub fn spawn(mut command: Command, label: &str) -> BoxResult<EndpointProcess> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start the {label} process: {e}"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or("no stdout pipe")?;
        let (tx, lines) = mpsc::channel();
        // Ends when the process closes its stdout (exits or is killed).
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(EndpointProcess {
            label: label.to_owned(),
            child,
            stdin,
            lines,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn send(&mut self, line: &str) -> BoxResult<()> {
        let stdin = self.stdin.as_mut().ok_or("stdin already closed")?;
        if let Err(e) = writeln!(stdin, "{line}").and_then(|()| stdin.flush()) {
            let status = self.status();
            return Err(format!("{}: cannot send {line:?}: {e} ({status})", self.label).into());
        }
        Ok(())
    }

    /// Waits for the next line, which must start with `word`; returns the words after it.
    pub fn expect(&mut self, word: &str) -> BoxResult<Vec<u64>> {
        let line = match self.lines.recv_timeout(TIMEOUT) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => {
                let status = self.status();
                let label = &self.label;
                return Err(format!("{label}: no '{word}' within {TIMEOUT:?} ({status})").into());
            }
            Err(RecvTimeoutError::Disconnected) => {
                // Give a dying process a moment, so its exit status can be reported.
                let _ =
                    zerobuffer_test_support::wait_exit(&mut self.child, Duration::from_millis(500));
                let status = self.status();
                let label = &self.label;
                return Err(format!("{label}: output ended before '{word}' ({status})").into());
            }
        };
        let mut words = line.split_whitespace();
        if words.next() != Some(word) {
            return Err(format!("{}: expected '{word} …', got {line:?}", self.label).into());
        }
        let numbers = words.map(str::parse).collect::<Result<Vec<u64>, _>>();
        numbers.map_err(|e| format!("{}: bad line {line:?}: {e}", self.label).into())
    }

    /// Closes stdin (the process then closes its endpoint and exits) and waits, bounded, for
    /// a successful exit.
    pub fn finish(mut self) -> BoxResult<()> {
        let label = self.label.clone();
        child::finish(&mut self.child, &mut self.stdin, &label, TIMEOUT)
    }

    /// A note on the process's state, for error messages.
    fn status(&mut self) -> String {
        zerobuffer_test_support::exit_state(&mut self.child)
    }
}

impl Drop for EndpointProcess {
    fn drop(&mut self) {
        // Reached with a live process only when the bench is bailing out on an error.
        child::end(&mut self.child, &mut self.stdin, Duration::ZERO);
    }
}
