//! The in-process runner (`tests/bdd`) as `./test.sh` calls it, over a suite in an older
//! vocabulary (`tests/fixtures/other-vocabulary`): its undefined scenarios do not run and
//! count as failed, each distinct undefined step is named once with the nearest lines of our
//! vocabulary, and the run exits non-zero; `--dry-run` says the same and runs nothing.
//!
//! The runner is a `harness = false` test target, which cargo gives no `CARGO_BIN_EXE_`
//! for: the test asks cargo to build it (a no-op after `cargo test` built it) and runs the
//! executable cargo names. Its reports go to a directory of this test's own.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const FIXTURE: &str = "tests/fixtures/other-vocabulary";

/// Builds (if needed) and finds the runner's executable.
fn runner() -> PathBuf {
    let out = Command::new(env!("CARGO"))
        .args(["test", "--no-run", "--message-format=json"])
        .args(["-p", "zerobuffer-steps", "--test", "bdd"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo cannot build the runner: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["target"]["name"] == "bdd")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo names the runner's executable")
}

/// Runs the runner over the fixture with `args`, its reports in `out_dir`.
fn run(out_dir: &Path, args: &[&str]) -> Output {
    Command::new(runner())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["--features", FIXTURE, "--out-dir"])
        .arg(out_dir)
        .args(args)
        .output()
        .expect("the runner starts")
}

fn out_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The run for a failure message, its lines indented: scripts/run-tests.sh sums every
/// closing line it sees, and the runner's own must not count.
fn text(out: &Output) -> String {
    let indent = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes)
            .lines()
            .map(|l| format!("  {l}\n"))
            .collect::<String>()
    };
    format!(
        "status {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
        out.status.code(),
        indent(&out.stdout),
        indent(&out.stderr)
    )
}

/// The lines every run over the fixture prints about its undefined steps.
fn assert_undefined_named(stdout: &str, all: &str) {
    let block = &stdout[stdout.find("undefined steps (7 distinct").expect(all)..];
    for (step, nearest) in [
        (
            "\"the 'reader' process should receive frame with sequence '1' and size '1024'\" (Then)",
            "nearest:  94% (0.7 word edits)  Then the 'reader' process should read frame with \
             sequence '1' and size '1024'",
        ),
        (
            "\"the 'reader' process creates buffer 'old-metadata' with default configuration\" (Given)",
            "nearest:  94% (0.5 word edits)  Given/When the 'reader' process creates buffer \
             'old-metadata' with default config",
        ),
        (
            "\"the operator presses the big red button\" (Then)",
            "nearest: no close match",
        ),
    ] {
        assert_eq!(block.matches(step).count(), 1, "{step} once in {all}");
        let after = &block[block.find(step).unwrap()..];
        assert!(after.contains(nearest), "{nearest} after {step} in {all}");
    }
    let used_twice =
        "in: Test 2.1 - Writer death, older words; Test 2.2 - A step nobody ever wrote";
    assert!(block.contains(used_twice), "{all}");
}

#[test]
fn undefined_scenarios_do_not_run_and_fail_the_run() {
    let dir = out_dir("runner-undefined");
    let out = run(&dir, &[]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[lines.len() - 2..],
        [
            "4 scenarios undefined (7 distinct steps; see above)",
            "2 passed, 4 failed, 1 skipped"
        ],
        "{all}"
    );
    assert!(
        lines.contains(&"UNDEFINED Test 1.1 - Write and read one frame, older words (not run)"),
        "{all}"
    );
    assert_undefined_named(&stdout, &all);
    // Only the defined scenarios ran.
    assert!(stdout.contains("2 scenarios (2 passed)"), "{all}");
    assert!(
        !stdout.contains("old-basic"),
        "an undefined scenario's steps ran: {all}"
    );
    let junit = std::fs::read_to_string(dir.join("junit.xml")).expect("the JUnit report");
    assert_eq!(
        junit.matches("<failure type=\"undefined\"").count(),
        4,
        "{junit}"
    );
    assert!(
        junit.contains("Test 2.2 - A step nobody ever wrote"),
        "{junit}"
    );
    assert!(dir.join("cucumber.json").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_dry_run_lists_the_same_and_runs_nothing() {
    let dir = out_dir("runner-dry-run");
    let out = run(&dir, &["--dry-run"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[lines.len() - 3..],
        [
            "4 scenarios undefined (7 distinct steps; see above)",
            harmony_wire::undefined::DRY_RUN_NOTE,
            "2 passed, 4 failed, 1 skipped"
        ],
        "{all}"
    );
    for line in [
        "DEFINED   Test 1.2 - Every step in today's vocabulary",
        "SKIPPED   Test 3.1 - Windows only, older words: @windows scenario; this host is not Windows",
        "UNDEFINED Test 2.2 - A step nobody ever wrote (not run)",
    ] {
        assert!(lines.contains(&line), "{line:?} in {all}");
    }
    assert_undefined_named(&stdout, &all);
    assert!(!stdout.contains("[Summary]"), "cucumber-rs ran: {all}");
    assert!(!dir.exists(), "a dry run writes no report: {all}");
}

#[test]
fn a_dry_run_of_our_suite_finds_everything_defined() {
    let dir = out_dir("runner-dry-run-ours");
    let out = Command::new(runner())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("--out-dir")
        .arg(&dir)
        .arg("--dry-run")
        .output()
        .expect("the runner starts");
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("UNDEFINED"), "{all}");
    assert!(
        stdout.trim_end().ends_with(" passed, 0 failed, 2 skipped"),
        "{all}"
    );
}
