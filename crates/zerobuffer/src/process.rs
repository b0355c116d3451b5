//! Process identity and liveness (protocol.md §4.4).

use rustix::io::Errno;
use rustix::process::{test_kill_process, Pid};

/// This process's PID as stored in the OIEB.
pub fn current_pid() -> u64 {
    u64::from(std::process::id())
}

/// `kill(pid, 0)`: ESRCH means dead; EPERM means alive under another user (upstream C++ and
/// Python wrongly call that dead). PID 0 and values beyond `pid_t` are never alive.
pub fn is_process_alive(pid: u64) -> bool {
    let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return false;
    };
    match test_kill_process(pid) {
        Ok(()) => true,
        Err(e) => e == Errno::PERM,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_pid_is_alive_and_zero_is_not() {
        assert!(is_process_alive(current_pid()));
        assert!(!is_process_alive(0));
        assert!(!is_process_alive(u64::MAX));
    }

    #[test]
    fn reaped_child_is_dead() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = u64::from(child.id());
        child.wait().unwrap();
        assert!(!is_process_alive(pid));
    }
}
