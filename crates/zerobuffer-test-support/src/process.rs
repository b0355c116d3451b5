//! PIDs of processes that are gone.

use std::io;
use std::process::Command;

/// The PID of a process that existed and is gone (spawned, exited and reaped), as a crashed
/// peer leaves it in the OIEB.
pub fn dead_pid() -> io::Result<u64> {
    let mut child = Command::new("true").spawn()?;
    let pid = u64::from(child.id());
    child.wait()?;
    Ok(pid)
}
