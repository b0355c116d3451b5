//! Two `zerobuffer-serve` processes (reader, writer) driven over the wire like Harmony drives
//! them (PascalCase params, integer step types, full step text): features 01 and 02.

mod common;

use common::driver::{self, extract_process, features_dir, Platform, RunOptions};
use harmony::scenario::KillMode;
use harmony_wire::StepType;

fn rust_pair() -> Vec<(&'static str, Platform)> {
    vec![("reader", Platform::Rust), ("writer", Platform::Rust)]
}

fn run(feature: &str, id: &str, options: RunOptions) {
    let plan = driver::plan(&features_dir().join(feature), id);
    if let Err(e) = driver::run(&plan, &rust_pair(), &options) {
        panic!("{e}");
    }
}

fn basic(id: &str) {
    run("01-BasicCommunication.feature", id, RunOptions::default());
}

#[test]
fn test_1_1_simple_write_read_cycle() {
    basic("1.1");
}

#[test]
fn test_1_2_multiple_frames_sequential() {
    basic("1.2");
}

#[test]
fn test_1_3_buffer_full_handling() {
    basic("1.3");
}

#[test]
fn test_1_4_zero_copy_write_operations() {
    basic("1.4");
}

#[test]
fn test_1_5_mixed_frame_sizes() {
    basic("1.5");
}

#[test]
fn test_1_6_slow_reader_with_fast_writer() {
    basic("1.6");
}

#[test]
fn test_1_7_slow_reader_with_fast_writer_high_volume() {
    basic("1.7");
}

/// As written, with a real death: "is killed" is SIGKILL of the writer (harmony's default).
#[test]
fn test_2_1_writer_crash_detection_sigkill() {
    run("02-ProcessLifecycle.feature", "2.1", RunOptions::default());
}

/// "is killed" as upstream Harmony does it: the writer's stdin is closed (teardown).
#[test]
fn test_2_1_writer_crash_detection_killed_by_teardown() {
    let options = RunOptions {
        kill_mode: KillMode::Teardown,
        ..RunOptions::default()
    };
    run("02-ProcessLifecycle.feature", "2.1", options);
}

/// The writer really crashes (`crash` RPC: it aborts with no cleanup) instead.
#[test]
fn test_2_1_writer_crash_detection_real_crash() {
    let options = RunOptions {
        kill_mode: KillMode::Crash,
        ..RunOptions::default()
    };
    run("02-ProcessLifecycle.feature", "2.1", options);
}

#[test]
fn test_2_2_reader_crash_detection() {
    run("02-ProcessLifecycle.feature", "2.2", RunOptions::default());
}

/// The reader really crashes (it aborts, leaving its segment, semaphores and lock file); the
/// steps routed to 'reader' afterwards go to a fresh reader serve, which replaces the dead
/// reader's buffer while the writer is still attached to the old one.
#[test]
fn test_2_3_reader_replacement_after_crash() {
    run("02-ProcessLifecycle.feature", "2.3", RunOptions::default());
}

/// Without the restart (upstream Harmony), the step after the crash goes to the dead reader.
#[test]
fn test_2_3_fails_when_the_crashed_reader_is_not_restarted() {
    let plan = driver::plan(&features_dir().join("02-ProcessLifecycle.feature"), "2.3");
    let options = RunOptions {
        restart_ended: false,
        ..RunOptions::default()
    };
    let error = driver::run(&plan, &rust_pair(), &options).unwrap_err();
    assert!(
        error.contains("reader: the process is gone (crashed)"),
        "{error}"
    );
}

#[test]
fn test_2_4_multiple_writer_rejection() {
    run("02-ProcessLifecycle.feature", "2.4", RunOptions::default());
}

#[test]
fn routing_follows_harmony() {
    assert_eq!(
        extract_process("the 'reader' process signals space available").as_deref(),
        Some("reader")
    );
    assert_eq!(
        extract_process("'writer' process writes data").as_deref(),
        Some("writer")
    );
    assert_eq!(
        extract_process("the 'client' connects").as_deref(),
        Some("client")
    );
    assert_eq!(
        extract_process("'server' starts listening").as_deref(),
        Some("server")
    );
    assert_eq!(
        extract_process("the writer is 'x'").as_deref(),
        Some("writer")
    );
    for none in [
        "a second 'writer' process attempts to connect",
        "the new reader should detect stale resources",
        "no sequence errors should have occurred",
    ] {
        assert_eq!(extract_process(none), None, "{none}");
    }

    let plan = driver::plan(&features_dir().join("02-ProcessLifecycle.feature"), "2.1");
    assert_eq!(plan.roles, ["reader", "writer"]);
    let first = &plan.steps[0];
    assert_eq!(
        (first.text.as_str(), first.process.as_deref()),
        ("we run in harmony", None)
    );
    // "And the 'writer' process connects" after a Given is sent as Given (0).
    assert_eq!(plan.steps[2].step_type, StepType::Given);
    // "Then wait for '2' seconds" inherits the writer named before it.
    let wait = plan
        .steps
        .iter()
        .find(|s| s.text.starts_with("wait for"))
        .unwrap();
    assert_eq!(
        (wait.step_type, wait.process.as_deref()),
        (StepType::Then, Some("writer"))
    );

    let plan = driver::plan(&features_dir().join("01-BasicCommunication.feature"), "1.6");
    let last = plan.steps.last().unwrap();
    assert_eq!(
        (last.text.as_str(), last.process.as_deref(), last.step_type),
        (
            "no sequence errors should have occurred",
            Some("reader"),
            StepType::Then
        )
    );
    // Background steps are broadcast.
    assert!(plan.steps[..2].iter().all(|s| s.process.is_none()));
}

/// The driver notices a failing step, and the serve reports the step's own message.
#[test]
fn a_failing_step_fails_the_scenario_with_its_message() {
    let mut plan = driver::plan(&features_dir().join("01-BasicCommunication.feature"), "1.1");
    let step = plan
        .steps
        .iter_mut()
        .find(|s| s.text.contains("should read frame with sequence '1'"))
        .unwrap();
    step.text = step.text.replace("sequence '1'", "sequence '2'");
    let error = driver::run(&plan, &rust_pair(), &RunOptions::default()).unwrap_err();
    assert!(
        error.contains("Scenario failed: Execution failed: reader [rust]"),
        "{error}"
    );
    assert!(error.contains('2'), "{error}");
}
