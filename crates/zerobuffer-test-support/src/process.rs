//! PIDs of processes that are gone, and bounded waits for a child's exit.

use std::io;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// The PID of a process that existed and is gone (spawned, exited and reaped), as a crashed
/// peer leaves it in the OIEB.
pub fn dead_pid() -> io::Result<u64> {
    let mut child = Command::new("true").spawn()?;
    let pid = u64::from(child.id());
    child.wait()?;
    Ok(pid)
}

/// The child's exit status, or None if it is still running after `limit`.
pub fn wait_exit(child: &mut Child, limit: Duration) -> io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A note on the child's state, for error messages.
pub fn exit_state(child: &mut Child) -> String {
    match child.try_wait() {
        Ok(Some(status)) => format!("process exited: {status}"),
        Ok(None) => "process still running".into(),
        Err(e) => format!("process state unknown: {e}"),
    }
}
