//! A bench's child process: a bounded wait for its exit, its state for error messages, and
//! its end when the bench bails out.

// Each bench uses the part it needs.
#![allow(dead_code)]

use std::io;
use std::process::{Child, ChildStdin, ExitStatus};
use std::thread;
use std::time::{Duration, Instant};

/// The exit status, or None if the child is still running after `limit`.
pub fn wait_exit(child: &mut Child, limit: Duration) -> io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// Closes the child's stdin (its cue to end) and waits up to `limit` for a successful exit.
pub fn finish(
    child: &mut Child,
    stdin: &mut Option<ChildStdin>,
    label: &str,
    limit: Duration,
) -> Result<(), Box<dyn std::error::Error>> {
    stdin.take();
    match wait_exit(child, limit)? {
        Some(status) if status.success() => Ok(()),
        Some(status) => Err(format!("the {label} process failed ({status})").into()),
        None => Err(format!("the {label} process did not exit within {limit:?}").into()),
    }
}

/// A note on the child's state, for error messages.
pub fn state(child: &mut Child) -> String {
    match child.try_wait() {
        Ok(Some(status)) => format!("process exited: {status}"),
        Ok(None) => "process still running".into(),
        Err(e) => format!("process state unknown: {e}"),
    }
}

/// Ends the child for good: closes its stdin, gives it `grace` to exit, then kills it, and
/// reaps it either way (for a `Drop`, reached with a live child only when bailing out).
pub fn end(child: &mut Child, stdin: &mut Option<ChildStdin>, grace: Duration) {
    stdin.take();
    if !matches!(wait_exit(child, grace), Ok(Some(_))) {
        let _ = child.kill();
        let _ = child.wait();
    }
}
