//! Process identity and liveness (protocol.md §4.4).

use std::sync::OnceLock;

use rustix::io::Errno;
use rustix::process::{test_kill_process, Pid};

/// This process's PID as stored in the OIEB.
pub fn current_pid() -> u64 {
    u64::from(std::process::id())
}

/// Whether the process `pid` is alive: the one liveness rule of the library.
///
/// - `kill(pid, 0)` failing with ESRCH means dead; EPERM means alive under another user
///   (upstream C++ and Python wrongly call that dead). PID 0 and values beyond `pid_t` are
///   never alive.
/// - A process that `kill` finds but whose `/proc/PID/stat` state is zombie (`Z`) or dead
///   (`X`, `x`) is dead: it stays a zombie until its parent reaps it, and `kill(pid, 0)`
///   still succeeds on it.
/// - When `/proc` says nothing (not mounted, another PID namespace's, the entry hidden by
///   `hidepid`, or a state it cannot parse), the `kill` answer stands; the entry having
///   vanished meanwhile is checked with `kill` again.
pub fn is_process_alive(pid: u64) -> bool {
    let Some(raw) = i32::try_from(pid).ok() else {
        return false;
    };
    let Some(pid) = Pid::from_raw(raw) else {
        return false;
    };
    if !kill_finds(pid) {
        return false;
    }
    if !proc_is_ours() {
        return true;
    }
    match std::fs::read(format!("/proc/{raw}/stat")) {
        Ok(stat) => !stat_state(&stat).is_some_and(|state| matches!(state, b'Z' | b'X' | b'x')),
        // Gone since `kill` looked (then dead), or hidden from us (then `kill` still finds it).
        Err(_) => kill_finds(pid),
    }
}

/// `kill(pid, 0)`: ESRCH means no such process; EPERM means one owned by another user.
fn kill_finds(pid: Pid) -> bool {
    match test_kill_process(pid) {
        Ok(()) => true,
        Err(e) => e == Errno::PERM,
    }
}

/// Whether `/proc` is mounted and shows our PID namespace: `/proc/self/stat` names our PID.
/// Another namespace's `/proc` would describe different processes under the same numbers.
fn proc_is_ours() -> bool {
    static OURS: OnceLock<bool> = OnceLock::new();
    *OURS.get_or_init(|| {
        std::fs::read("/proc/self/stat").is_ok_and(|stat| {
            stat.split(|&b| b == b' ').next() == Some(std::process::id().to_string().as_bytes())
        })
    })
}

/// The state letter of a `/proc/PID/stat` line (`PID (COMM) STATE ...`). COMM may hold
/// spaces, parentheses and bytes that are not UTF-8, so the state is the first field after
/// the last `)`.
fn stat_state(stat: &[u8]) -> Option<u8> {
    let after_comm = &stat[stat.iter().rposition(|&b| b == b')')? + 1..];
    let mut fields = after_comm
        .split(u8::is_ascii_whitespace)
        .filter(|f| !f.is_empty());
    match fields.next()? {
        [state] => Some(*state),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Child, Command};
    use std::time::{Duration, Instant};

    #[test]
    fn own_pid_is_alive_and_zero_is_not() {
        assert!(proc_is_ours());
        assert!(is_process_alive(current_pid()));
        assert!(!is_process_alive(0));
        assert!(!is_process_alive(u64::MAX));
    }

    #[test]
    fn reaped_child_is_dead() {
        let mut child = Command::new("true").spawn().unwrap();
        let pid = u64::from(child.id());
        child.wait().unwrap();
        assert!(!is_process_alive(pid));
    }

    #[test]
    fn state_follows_the_last_parenthesis() {
        assert_eq!(stat_state(b"42 (sleep) S 1 42 42 0"), Some(b'S'));
        assert_eq!(stat_state(b"42 (a) Z (b) S 1 42 42 0"), Some(b'S'));
        assert_eq!(stat_state(b"42 (a) Z (b) Z 1 42"), Some(b'Z'));
        assert_eq!(stat_state(b"42 ((x)) X 1\n"), Some(b'X'));
        assert_eq!(stat_state(b"42 (tab\tand\nnewline) R 1"), Some(b'R'));
        assert_eq!(stat_state(b"42 (\xff\xfe) x 1"), Some(b'x'));
        assert_eq!(stat_state(b"42 () D 1"), Some(b'D'));
    }

    #[test]
    fn unparsable_stat_has_no_state() {
        assert_eq!(stat_state(b""), None);
        assert_eq!(stat_state(b"42 sleep S 1"), None);
        assert_eq!(stat_state(b"42 (sleep)"), None);
        assert_eq!(stat_state(b"42 (sleep)   \n"), None);
        assert_eq!(stat_state(b"42 (sleep) SS 1"), None);
    }

    /// `sleep 60` under a command name with the characters that trip naive parsers.
    fn spawn_oddly_named_sleeper(dir: &std::path::Path) -> Child {
        let link = dir.join("a) Z (b");
        std::os::unix::fs::symlink("/bin/sleep", &link).unwrap();
        Command::new(&link).arg("60").spawn().unwrap()
    }

    #[test]
    fn unreaped_zombie_child_is_dead() {
        let dir = std::env::temp_dir().join(format!("zb-zombie-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut child = spawn_oddly_named_sleeper(&dir);
        let pid = u64::from(child.id());
        let stat = || std::fs::read(format!("/proc/{pid}/stat")).unwrap();
        let text = String::from_utf8_lossy(&stat()).into_owned();
        assert!(text.contains(" (a) Z (b) "), "{text:?}");
        assert!(is_process_alive(pid), "{text:?}");

        child.kill().unwrap();
        // Not reaped: the child stays a zombie that `kill(pid, 0)` still finds.
        let deadline = Instant::now() + Duration::from_secs(20);
        while stat_state(&stat()) != Some(b'Z') {
            assert!(Instant::now() < deadline, "no zombie: {:?}", stat());
            std::thread::sleep(Duration::from_millis(10));
        }
        let kill_finds_it = kill_finds(Pid::from_raw(pid as i32).unwrap());
        let alive = is_process_alive(pid);
        child.wait().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(kill_finds_it);
        assert!(!alive);
    }
}
