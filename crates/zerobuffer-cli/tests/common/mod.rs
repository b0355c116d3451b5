//! Helpers shared by the CLI integration tests: bounded child processes, ready files and the
//! lock that keeps stale scans away from deliberate leftovers (unique names and the "nothing
//! left behind" check come from `zerobuffer-test-support`).
#![allow(dead_code)]

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Generous bound for anything that should take milliseconds.
pub const WAIT: Duration = Duration::from_secs(20);

/// The `zerobuffer` binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_zerobuffer")
}

/// Every path buffer `name` occupies while it is live (segment, both semaphores, lock file),
/// as [`zerobuffer_test_support::leftovers`] reports them.
pub fn all_objects(name: &str) -> Vec<String> {
    zerobuffer::ObjectPaths::new(name)
        .all()
        .iter()
        .map(|p| p.display().to_string())
        .collect()
}

/// Every reader creation runs a stale scan over all lock files, which would remove the
/// leftovers a test deliberately produced. Tests that create readers hold [`shared`]; tests
/// that need leftovers to survive until they look at them hold [`exclusive`].
static LEFTOVERS: RwLock<()> = RwLock::new(());

pub fn shared() -> RwLockReadGuard<'static, ()> {
    LEFTOVERS.read().unwrap_or_else(|e| e.into_inner())
}

pub fn exclusive() -> RwLockWriteGuard<'static, ()> {
    LEFTOVERS.write().unwrap_or_else(|e| e.into_inner())
}

/// Polls `cond` every 10 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// What a finished `zerobuffer` run printed.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The single JSON object on stdout.
    pub fn json(&self) -> serde_json::Value {
        let lines: Vec<&str> = self.stdout.lines().collect();
        assert_eq!(lines.len(), 1, "expected one line on stdout: {self:?}");
        serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }

    /// Asserts exit status 1 and exactly one `zerobuffer: error: ...` line on stderr.
    pub fn assert_one_error_line(&self) -> &str {
        assert_eq!(self.code(), Some(1), "{self:?}");
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "expected one stderr line: {self:?}");
        assert!(lines[0].starts_with("zerobuffer: error: "), "{self:?}");
        lines[0]
    }
}

/// How a test kills its child: reaped at once, or left a zombie until the test has made its
/// assertions (a parent that reaps late, issue 11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Death {
    Reaped,
    Zombie,
}

impl Death {
    /// Slack beyond an operation's own timeout: the reaped cases keep their original 1 s,
    /// the zombie ones the generous 5 s of issue 11.
    pub fn grace(self) -> Duration {
        match self {
            Death::Reaped => Duration::from_secs(1),
            Death::Zombie => Duration::from_secs(5),
        }
    }
}

/// A running `zerobuffer` child. Dropping it kills and reaps the process if still running.
pub struct Proc {
    child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
    status: Option<ExitStatus>,
}

impl Proc {
    pub fn spawn(args: &[&str]) -> Proc {
        let mut child = Command::new(bin())
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn zerobuffer");
        let stdout = child.stdout.take().map(drain);
        let stderr = child.stderr.take().map(drain);
        Proc {
            child,
            stdout,
            stderr,
            status: None,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn pid_u64(&self) -> u64 {
        u64::from(self.child.id())
    }

    /// The exit status if the process has ended (and reaps it).
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("try_wait");
        }
        self.status
    }

    /// Waits at most `timeout` for the process to end; kills it and panics otherwise.
    pub fn wait(mut self, timeout: Duration) -> Output {
        let deadline = Instant::now() + timeout;
        while self.try_status().is_none() {
            if Instant::now() >= deadline {
                self.kill_and_reap();
                let out = self.collect();
                panic!("zerobuffer did not finish within {timeout:?}: {out:?}");
            }
            thread::sleep(Duration::from_millis(5));
        }
        self.collect()
    }

    /// SIGKILL, then `wait()` (also reaps a zombie left by [`Proc::kill_leaving_zombie`]).
    pub fn kill_and_reap(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            self.status = Some(self.child.wait().expect("reap child"));
        }
    }

    /// SIGKILL without `wait()`: the child stays a zombie (state `Z`), which `kill(pid, 0)`
    /// still finds, until [`Proc::kill_and_reap`] or drop reaps it.
    pub fn kill_leaving_zombie(&mut self) {
        assert!(
            self.status.is_none(),
            "process {} already ended",
            self.pid()
        );
        self.child.kill().expect("SIGKILL");
        let zombie = wait_until(WAIT, || self.state() == Some('Z'));
        assert!(
            zombie,
            "process {} is not a zombie: {:?}",
            self.pid(),
            self.state()
        );
    }

    /// Kills the process the way `death` says.
    pub fn kill_as(&mut self, death: Death) {
        match death {
            Death::Reaped => self.kill_and_reap(),
            Death::Zombie => self.kill_leaving_zombie(),
        }
    }

    /// Sends a signal by name (e.g. "INT", "STOP") with the `kill` utility.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
        if name == "STOP" {
            let stopped = wait_until(WAIT, || self.state() == Some('T'));
            assert!(stopped, "process {} did not stop", self.pid());
        }
    }

    /// The state letter from `/proc/PID/stat` (R, S, T, Z, ...).
    pub fn state(&self) -> Option<char> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).ok()?;
        // "pid (comm) S ...": the state follows the last ')'.
        stat.rsplit_once(')')?.1.trim_start().chars().next()
    }

    /// Waits for `ready` to appear; panics if the process ends first or it takes too long.
    pub fn wait_ready(&mut self, ready: &ReadyFile) {
        let deadline = Instant::now() + WAIT;
        while !ready.path.exists() {
            if self.try_status().is_some() {
                let out = self.collect();
                panic!("zerobuffer ended before it was ready: {out:?}");
            }
            assert!(Instant::now() < deadline, "no ready file after {WAIT:?}");
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Kills (if needed) and returns everything the process printed.
    pub fn collect(&mut self) -> Output {
        self.kill_and_reap();
        let join = |h: Option<JoinHandle<String>>| h.map(|h| h.join().unwrap()).unwrap_or_default();
        Output {
            status: self.status.expect("reaped"),
            stdout: join(self.stdout.take()),
            stderr: join(self.stderr.take()),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill_and_reap();
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

/// Runs `zerobuffer ARGS` to completion, bounded by [`WAIT`].
pub fn run(args: &[&str]) -> Output {
    Proc::spawn(args).wait(WAIT)
}

/// A path for `zerobuffer read --ready-file`, removed again on drop.
pub struct ReadyFile {
    pub path: PathBuf,
}

impl ReadyFile {
    pub fn new(name: &str) -> ReadyFile {
        let path = std::env::temp_dir().join(format!("{name}.ready"));
        let _ = std::fs::remove_file(&path);
        ReadyFile { path }
    }

    pub fn arg(&self) -> &str {
        self.path.to_str().expect("utf-8 temp path")
    }
}

impl Drop for ReadyFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Starts `zerobuffer read NAME EXTRA... --ready-file F` and waits until the buffer exists.
pub fn start_reader(name: &str, extra: &[&str]) -> (Proc, ReadyFile) {
    let ready = ReadyFile::new(name);
    let mut args = vec!["read", name];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--ready-file", ready.arg()]);
    let mut proc = Proc::spawn(&args);
    proc.wait_ready(&ready);
    (proc, ready)
}
