//! Running the PyPI Python peer (`zerobuffer-ipc`, installed by scripts/install-peers.sh).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv's Python if the peer library imports; `None` (after a loud message) when it is
/// missing outside CI. Under `CI=true` a missing peer fails the test.
pub fn python_peer() -> Option<PathBuf> {
    let python = repo_root().join(".venv/bin/python");
    let ok = Command::new(&python)
        .args(["-c", "import zerobuffer"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(python);
    }
    let message = "the Python peer is not installed: run scripts/install-peers.sh";
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{message} (required under CI=true)");
    }
    eprintln!("\n!!!!! SKIPPED: {message} !!!!!\n");
    None
}

/// A child process that is killed and reaped if the test ends early.
pub struct PeerProcess {
    child: Child,
    stdout: mpsc::Receiver<String>,
    stdout_lines: Vec<String>,
}

impl PeerProcess {
    /// Starts `py_peer.py ARGS` with piped stdout (stderr goes to the test's stderr).
    pub fn spawn(python: &PathBuf, args: &[String]) -> Self {
        Self::spawn_script(python, "py_peer.py", args)
    }

    /// Starts `tests/peers/SCRIPT ARGS` with piped stdout.
    pub fn spawn_script(python: &PathBuf, script: &str, args: &[String]) -> Self {
        let script = repo_root()
            .join("crates/zerobuffer/tests/peers")
            .join(script);
        let mut child = Command::new(python)
            .arg(script)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn python peer");
        let out = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        PeerProcess {
            child,
            stdout: rx,
            stdout_lines: Vec::new(),
        }
    }

    /// Waits for a stdout line equal to `wanted`.
    pub fn expect_line(&mut self, wanted: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) if line == wanted => return,
                Ok(line) => self.stdout_lines.push(line),
                Err(_) => panic!("peer did not print {wanted:?} within {timeout:?}"),
            }
        }
    }

    /// Waits for exit (bounded) and returns the status with every stdout line.
    pub fn finish(mut self, timeout: Duration) -> (ExitStatus, Vec<String>) {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "peer still running after {timeout:?}"
            );
            thread::sleep(Duration::from_millis(20));
        };
        // The reader thread ends at EOF; collect what it saw.
        while let Ok(line) = self.stdout.recv_timeout(Duration::from_secs(2)) {
            self.stdout_lines.push(line);
        }
        (status, std::mem::take(&mut self.stdout_lines))
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
