//! The `harmony` binary as users call it: listing, and a platform that is not available.
//!
//! None of these needs a built serve: each points the Rust platform at a path that does not
//! exist, so a command that wrongly wants one fails here instead of passing on a machine
//! where an earlier build happened to leave it.

use std::path::PathBuf;
use std::process::Command;

const MISSING_SERVE: &str = "/nonexistent/zerobuffer-serve";

fn harmony() -> Command {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut command = Command::new(env!("CARGO_BIN_EXE_harmony"));
    command
        .current_dir(root)
        .env_remove("ZEROBUFFER_SERVE_CSHARP")
        .env_remove("ZEROBUFFER_SERVE_CPP")
        .env("ZEROBUFFER_SERVE_RUST", MISSING_SERVE);
    command
}

#[test]
fn list_shows_the_role_to_platform_assignment() {
    let out = harmony()
        .args(["--list", "rust_python", "--filter", "1.1"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.trim(),
        "rust/python | Test 1.1 - Simple Write-Read Cycle [reader=rust, writer=python]"
    );
}

#[test]
fn unavailable_platform_exits_2_naming_the_variable() {
    let out = harmony()
        .args(["rust_csharp", "--filter", "4.3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ZEROBUFFER_SERVE_CSHARP"), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "nothing runs: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn unknown_platform_is_a_usage_error() {
    let out = harmony().args(["rust_cobol"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!out.stderr.is_empty());
}

#[test]
fn a_named_expected_failures_file_must_exist() {
    let out = harmony()
        .args(["rust", "--filter", "1.1"])
        .args(["--expected-failures", "conformance/no-such-file.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no-such-file.toml"), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing runs");
}

#[test]
fn zero_jobs_is_a_usage_error() {
    let out = harmony().args(["rust", "-j", "0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("-j"));
}

#[test]
fn a_run_whose_serve_is_missing_exits_2_naming_the_variable() {
    let out = harmony()
        .args(["rust", "--filter", "1.1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(MISSING_SERVE) && stderr.contains("ZEROBUFFER_SERVE_RUST"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing runs");
}
