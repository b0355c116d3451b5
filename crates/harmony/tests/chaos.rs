//! The kill storm (`harmony --chaos SEED`), short: a few dozen runs of four scenarios over
//! rust, rust_python and python_rust, each with a SIGKILL of a random role before a random
//! step; then every run must have ended in bounded time, left no process and nothing in
//! `/dev/shm` or the lock directories, and every scenario must pass once more afterwards.
//! The long form is `target/release/harmony rust rust_python python_rust --chaos SEED`
//! (300 runs of every scenario).
//!
//! Our serve is built by asking cargo (a no-op when `cargo test --workspace` built it) and
//! handed to harmony as `ZEROBUFFER_SERVE_RUST`. The Python peer comes from `.venv/`
//! (scripts/install-peers.sh); without it the storm runs rust alone, saying so, and under
//! `CI=true` its absence fails the test.

use std::path::{Path, PathBuf};
use std::process::Command;

use regex::Regex;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Builds (if needed) and finds our serve.
fn serve() -> PathBuf {
    let out = Command::new(env!("CARGO"))
        .args([
            "build",
            "-p",
            "zerobuffer-serve",
            "--bin",
            "zerobuffer-serve",
        ])
        .arg("--message-format=json")
        .current_dir(repo())
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo cannot build the serve: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["target"]["name"] == "zerobuffer-serve")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo names the serve's executable")
}

/// The combinations to storm: with the Python peer when it is installed.
fn combinations() -> Vec<&'static str> {
    let peer = repo().join(".venv/bin/python");
    let installed = Command::new(&peer)
        .args(["-c", "import zerobuffer_serve"])
        .status()
        .is_ok_and(|s| s.success());
    if installed {
        return vec!["rust", "rust_python", "python_rust"];
    }
    let message = "the Python peer is not installed (scripts/install-peers.sh)";
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "{message}: required under CI=true"
    );
    eprintln!("\n!!!!! the storm runs rust only: {message} !!!!!\n");
    vec!["rust"]
}

#[test]
fn a_kill_storm_leaves_no_process_nothing_behind_and_no_later_failure() {
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("chaos");
    let output = Command::new(env!("CARGO_BIN_EXE_harmony"))
        .current_dir(repo())
        .env("ZEROBUFFER_SERVE_RUST", serve())
        .args(combinations())
        .args(["--chaos", "20261204", "--chaos-runs", "30"])
        .args(["--filter", "1.1,1.2,1.4,2.1", "--step-timeout-ms", "20000"])
        .arg("--out-dir")
        .arg(&out_dir)
        .output()
        .expect("harmony starts");
    // Indented: scripts/run-tests.sh sums every closing line it sees.
    let text: String = String::from_utf8_lossy(&output.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&output.stderr).lines())
        .map(|l| format!("  {l}\n"))
        .collect();
    assert!(output.status.success(), "the storm failed:\n{text}");
    let figures = text
        .lines()
        .find(|l| l.trim_start().starts_with("chaos figures:"))
        .unwrap_or_else(|| panic!("no figures:\n{text}"));
    // Each run's kill meets a running process, or nothing (its run failed before the kill's
    // step, or the role had ended): both are counted, and add up to the runs.
    let kills = Regex::new(r"30 runs, (\d+) kills \((\d+) met no running process\), 0 hangs")
        .unwrap()
        .captures(figures)
        .unwrap_or_else(|| panic!("no run and kill counts in {figures}"));
    let (met, missed): (usize, usize) = (kills[1].parse().unwrap(), kills[2].parse().unwrap());
    assert_eq!(met + missed, 30, "{figures}");
    assert!(met > 0, "no kill met a running process: {figures}");
    for holds in [
        "0 processes left (0 at the end)",
        "0 leaks (0 at the end)",
        "later failures: 0",
    ] {
        assert!(figures.contains(holds), "{holds:?} not in {figures}");
    }
    let runs = text.lines().filter(|l| l.contains(" KILL ")).count();
    assert_eq!(runs, 30, "{text}");
    assert!(!text.contains("BROKEN"), "{text}");
}
