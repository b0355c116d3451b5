//! A bench's child process: its bounded, checked end, and its end when the bench bails out
//! (the bounded wait itself is `zerobuffer_test_support::wait_exit`).

// Each bench uses the part it needs.
#![allow(dead_code)]

use std::process::{Child, ChildStdin};
use std::time::Duration;

use zerobuffer_test_support::wait_exit;

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

/// Ends the child for good: closes its stdin, gives it `grace` to exit, then kills it, and
/// reaps it either way (for a `Drop`, reached with a live child only when bailing out).
pub fn end(child: &mut Child, stdin: &mut Option<ChildStdin>, grace: Duration) {
    stdin.take();
    if !matches!(wait_exit(child, grace), Ok(Some(_))) {
        let _ = child.kill();
        let _ = child.wait();
    }
}
