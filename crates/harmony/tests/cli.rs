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

/// `--dry-run` over a suite in an older vocabulary: every selected scenario routed and
/// judged, the undefined steps listed once with their nearest lines, nothing started (the
/// Rust serve does not even exist here) and no report written.
#[test]
fn dry_run_lists_undefined_steps_and_starts_nothing() {
    let out_dir = std::env::temp_dir().join(format!("harmony-dry-run-{}", std::process::id()));
    let out = harmony()
        .args(["rust", "--dry-run"])
        .args(["--features", "step-defs/tests/fixtures/other-vocabulary"])
        .arg("--out-dir")
        .arg(&out_dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let all = format!(
        "{stdout}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(!out_dir.exists(), "a dry run writes no report: {all}");
    assert!(
        !all.contains(MISSING_SERVE) && !all.contains("cannot start"),
        "{all}"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("dry run: 7 scenario runs"), "{all}");
    for expected in [
        "UNDEFINED rust/rust | Test 1.1 - Write and read one frame, older words",
        "DEFINED   rust/rust | Test 1.2 - Every step in today's vocabulary",
        "SKIP      rust | Test 3.1 - Windows only, older words: @windows scenario; this host is not Windows",
        "  \"the operator presses the big red button\"",
        "      nearest: no close match",
        "      nearest:  94% (0.5 word edits)  Given/When the 'reader' process creates buffer 'old-metadata' with default config",
    ] {
        assert!(lines.contains(&expected), "{expected:?} in {all}");
    }
    let step = "\"the test environment is prepared\"";
    let block = &stdout[stdout.find("undefined steps (7 distinct").expect(&all)..];
    assert_eq!(block.matches(step).count(), 1, "once per run: {block}");
    assert_eq!(
        lines[lines.len() - 3..],
        [
            "4 scenarios undefined (7 distinct steps; see above)",
            harmony_wire::undefined::DRY_RUN_NOTE,
            "2 passed, 4 failed, 1 skipped",
        ],
        "{all}"
    );
}

#[test]
fn dry_run_of_a_defined_suite_passes() {
    let out = harmony()
        .args(["rust", "--dry-run", "--filter", "1.*"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        !stdout.contains("UNDEFINED") && !stdout.contains("undefined steps"),
        "{stdout}"
    );
    assert!(
        stdout.trim_end().ends_with(" passed, 0 failed, 0 skipped"),
        "{stdout}"
    );
}
