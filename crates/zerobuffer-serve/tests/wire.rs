//! The serve's wire behaviour: methods, request shapes, step outcomes, timeouts, lifecycle,
//! and bad input. Every test spawns the binary; stdout is read as strictly as Harmony reads
//! it, so any stray byte fails the test.

mod common;

use std::os::unix::process::ExitStatusExt as _;
use std::time::{Duration, Instant};

use common::driver::{check_step_response, leftovers};
use common::serve::Serve;
use common::session::*;
use serde_json::{json, Value};

// ---- harmony.md §13 ------------------------------------------------------------------------

/// The "Minimal conversation" of harmony.md §13, replayed byte for byte on the request side,
/// with both roles played by our serve. Answers must be identical field for field; only the
/// log records (timestamps and text, which the example made up) are compared by form.
#[test]
fn minimal_conversation_replays() {
    let (pid, feature) = run_id();
    let env = [
        ("HARMONY_HOST_PID", pid.clone()),
        ("HARMONY_FEATURE_ID", feature.clone()),
    ];
    // (request, its Content-Length in the spec, the expected answer)
    let health = (
        r#"{"jsonrpc":"2.0","id":2,"method":"health","params":[]}"#,
        54,
    );
    let init_r = (
        r#"{"jsonrpc":"2.0","id":3,"method":"initialize","params":[{"Role":"reader","Platform":"rust","Scenario":"test","HostPid":41217,"FeatureId":1,"TestRunId":"41217_1"}]}"#,
        163,
    );
    let init_w = (
        r#"{"jsonrpc":"2.0","id":3,"method":"initialize","params":[{"Role":"writer","Platform":"csharp","Scenario":"test","HostPid":41217,"FeatureId":1,"TestRunId":"41217_1"}]}"#,
        165,
    );
    let true_answer = |id: u64| format!(r#"{{"jsonrpc":"2.0","id":{id},"result":true}}"#);
    let step_answer = |id: u64| {
        format!(
            r#"{{"jsonrpc":"2.0","id":{id},"result":{{"Success":true,"Error":null,"Context":{{}},"Logs":[…]}}}}"#
        )
    };

    let mut r = Serve::rust("R", &env, &[]);
    let mut w = Serve::rust("W", &env, &[]);
    let exchange =
        |serve: &mut Serve, (request, length): (&str, usize), id: u64, expected: &str| {
            assert_eq!(request.len(), length, "transcription of {request}");
            serve.write_frame(request);
            let (_, raw) = serve.response_raw(&json!(id), WAIT);
            let logs = regex::Regex::new(r#""Logs":\[.*\]\}\}$"#).unwrap();
            if let Some(found) = logs.find(&raw) {
                let records: Value =
                    serde_json::from_str(&raw[found.start() + 7..found.end() - 2]).unwrap();
                check_step_response(
                    &json!({"Success": true, "Error": null, "Context": {}, "Logs": records}),
                    true,
                )
                .unwrap();
            }
            let normalised = logs.replace(&raw, r#""Logs":[…]}}"#);
            assert_eq!(normalised, expected, "{}", serve.stderr());
            // The frame itself: Content-Length is the exact byte count (checked by the reader).
        };

    exchange(&mut r, health, 2, &true_answer(2));
    exchange(&mut r, init_r, 3, &true_answer(3));
    exchange(&mut w, health, 2, &true_answer(2));
    exchange(&mut w, init_w, 3, &true_answer(3));

    // The broadcasts go to both serves before either answers.
    let broadcast = |process: &str, id: u64, text: &str| {
        format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"executeStep","params":[{{"Process":"{process}","StepType":0,"Step":"{text}","Parameters":{{}},"Context":{{}},"IsBroadcast":true}}]}}"#
        )
    };
    for (id, text, length) in [
        (4, "the test environment is initialized", 185),
        (5, "all processes are ready", 173),
    ] {
        let (to_r, to_w) = (broadcast("reader", id, text), broadcast("writer", id, text));
        assert_eq!((to_r.len(), to_w.len()), (length, length));
        r.write_frame(&to_r);
        w.write_frame(&to_w);
        for serve in [&mut r, &mut w] {
            let (_, raw) = serve.response_raw(&json!(id), WAIT);
            assert_eq!(
                raw,
                format!(
                    r#"{{"jsonrpc":"2.0","id":{id},"result":{{"Success":true,"Error":null,"Context":{{}},"Logs":[]}}}}"#
                )
            );
        }
    }

    let single = |process: &str, id: u64, kind: u8, text: &str| {
        format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"executeStep","params":[{{"Process":"{process}","StepType":{kind},"Step":"{text}","Parameters":{{}},"Context":{{}},"IsBroadcast":false}}]}}"#
        )
    };
    let script: [(&str, u64, u8, &str, usize); 7] = [
        ("reader", 6, 0, "the 'reader' process creates buffer 'test-basic' with metadata size '1024' and payload size '10240'", 250),
        ("writer", 6, 1, "the 'writer' process connects to buffer 'test-basic'", 203),
        ("writer", 7, 1, "the 'writer' process writes metadata with size '100'", 203),
        ("writer", 8, 1, "the 'writer' process writes frame with size '1024' and sequence '1'", 218),
        ("reader", 7, 2, "the 'reader' process should read frame with sequence '1' and size '1024'", 223),
        ("reader", 8, 2, "the 'reader' process should validate frame data", 198),
        ("reader", 9, 2, "the 'reader' process signals space available", 195),
    ];
    for (process, id, kind, text, length) in script {
        let request = single(process, id, kind, text);
        let serve = if process == "reader" { &mut r } else { &mut w };
        exchange(serve, (&request, length), id, &step_answer(id));
    }
    // The buffer is named from the environment (which wins over initialize's 41217/1).
    let suffix = format!("_{pid}_{feature}");
    assert!(std::path::Path::new(&format!("/dev/shm/test-basic{suffix}")).exists());

    // Teardown: stdin closed, R first; each exits 0 on its own and removes what it made.
    finish(r);
    finish(w);
    assert_eq!(leftovers(&suffix), Vec::<String>::new());
}

// ---- methods and request shapes ------------------------------------------------------------

#[test]
fn discover_lists_the_real_bindings() {
    let mut serve = serve();
    let result = serve.result("discover", json!([]), WAIT);
    let steps = result["Steps"].as_array().expect("Steps");
    let catalogue = zerobuffer_steps::step_catalogue();
    assert_eq!(steps.len(), catalogue.len());
    for (entry, (kind, pattern)) in steps.iter().zip(&catalogue) {
        assert_eq!(entry, &json!({"Type": kind, "Pattern": pattern}));
    }
    assert!(steps.iter().any(|s| s["Pattern"]
        == json!("^the '(.*)' process creates buffer '(.*)' with metadata size '(.*)' and payload size '(.*)'$")));
    finish(serve);
}

#[test]
fn steps_in_every_request_shape() {
    let (mut serve, suffix) = serve_with(&[]);
    // camelCase, a plain object, a string step type, unknown fields.
    let camel = json!({"process": "reader", "stepType": "given", "step": "the test environment is initialized", "table": null, "extra": 1});
    assert_success(&serve.result("executeStep", camel, WAIT));
    // Text without its process phrase (as the design documents describe), StepType "And".
    let stripped = json!([{"Process": "reader", "StepType": "And",
        "Step": "creates buffer 'shapes' with metadata size '0' and payload size '4096'"}]);
    assert_success(&serve.result("executeStep", stripped, WAIT));
    let buffer = format!("/dev/shm/shapes{suffix}");
    assert!(std::path::Path::new(&buffer).exists(), "{buffer}");
    // "And the 'reader' process signals space available" arrives as Then (2) and as When (1).
    for kind in [1, 2] {
        assert_success(&execute(
            &mut serve,
            kind,
            "the 'reader' process signals space available",
        ));
    }
    // Subject-less steps act on the process named last.
    let wait = execute(&mut serve, 1, "wait for '0' seconds");
    assert_success(&wait);

    // cleanup ends the scenario (the buffer is removed); the process can be reused.
    assert_eq!(serve.result("cleanup", json!([]), WAIT), Value::Null);
    assert!(
        !std::path::Path::new(&buffer).exists(),
        "cleanup left {buffer}"
    );
    let create = "the 'reader' process creates buffer 'shapes' with metadata size '0' and payload size '4096'";
    assert_success(&execute(&mut serve, 0, create));
    assert!(std::path::Path::new(&buffer).exists());
    finish(serve);
    assert_eq!(leftovers(&suffix), Vec::<String>::new());
}

#[test]
fn initialize_names_buffers_when_the_environment_does_not() {
    let (pid, feature) = run_id();
    let mut command = std::process::Command::new(common::serve::serve_binary());
    command
        .env_remove("HARMONY_HOST_PID")
        .env_remove("HARMONY_FEATURE_ID");
    let mut serve = Serve::spawn("rust", command, &[]);
    let init = json!([{"Role": "reader", "Platform": "rust", "Scenario": "test",
        "HostPid": pid.parse::<u64>().unwrap(), "FeatureId": feature.parse::<u64>().unwrap(),
        "TestRunId": format!("{pid}_{feature}")}]);
    assert_eq!(serve.result("initialize", init, WAIT), json!(true));
    let create = "the 'reader' process creates buffer 'named' with metadata size '0' and payload size '4096'";
    assert_success(&execute(&mut serve, 0, create));
    let suffix = format!("_{pid}_{feature}");
    assert!(std::path::Path::new(&format!("/dev/shm/named{suffix}")).exists());
    finish(serve);
    assert_eq!(leftovers(&suffix), Vec::<String>::new());
}

#[test]
fn failing_and_unknown_steps_are_outcomes_not_errors() {
    let mut serve = serve();
    let unknown = execute(&mut serve, 0, "the moon is made of cheese");
    assert_eq!(unknown["Success"], json!(false));
    assert_eq!(
        unknown["Error"],
        json!("undefined step: \"the moon is made of cheese\"; nearest: no close match")
    );
    let logs = unknown["Logs"].as_array().unwrap();
    assert!(logs.iter().any(|l| l["Level"] == json!(4)), "{unknown}");
    // An older wording: the hint names today's line, with the step's own values.
    let older = "the 'writer' process writes a frame of size '1024' with sequence '1'";
    let answer = execute(&mut serve, 1, older);
    assert_eq!(answer["Success"], json!(false));
    let error = answer["Error"].as_str().unwrap();
    assert!(
        error.starts_with(&format!(
            "undefined step: {older:?}; nearest: \"the 'writer' process writes frame with \
             size '1024' and sequence '1'\" ("
        )),
        "{error}"
    );

    let failing = execute(
        &mut serve,
        2,
        "the 'reader' process should validate frame data",
    );
    assert_eq!(failing["Success"], json!(false));
    let error = failing["Error"].as_str().unwrap();
    assert!(error.contains("'reader'"), "{error}");

    let bad_number = execute(
        &mut serve,
        0,
        "the 'reader' process creates buffer 'x' with metadata size 'many' and payload size '1'",
    );
    assert_eq!(bad_number["Success"], json!(false));
    assert!(
        bad_number["Error"].as_str().unwrap().contains("many"),
        "{bad_number}"
    );
    health(&mut serve);
    finish(serve);
}

// ---- concurrency, timeouts, lifecycle ------------------------------------------------------

#[test]
fn health_answers_while_a_step_runs() {
    let mut serve = serve();
    let started = Instant::now();
    let step_id = serve.request("executeStep", step(2, "wait for '2' seconds"));
    health(&mut serve);
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert!(!serve.has_response(&json!(step_id)));
    let answer = serve.response(&json!(step_id), WAIT);
    assert_success(&answer["result"]);
    assert!(started.elapsed() >= Duration::from_secs(2));
    finish(serve);
}

#[test]
fn a_step_past_the_timeout_fails_and_the_serve_stays_usable() {
    let mut serve = serve_with(&["--step-timeout", "1s"]).0;
    let started = Instant::now();
    let result = execute(&mut serve, 2, "wait for '4' seconds");
    let took = started.elapsed();
    assert_eq!(result["Success"], json!(false));
    assert_eq!(
        result["Error"],
        json!("Step execution timeout after 1000 ms")
    );
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(3),
        "{took:?}"
    );
    health(&mut serve);
    // Later steps run at once, on a fresh World.
    let started = Instant::now();
    assert_success(&execute(
        &mut serve,
        0,
        "the test environment is initialized",
    ));
    assert!(started.elapsed() < Duration::from_secs(1));
    finish(serve);
}

#[test]
fn background_steps_keep_running_between_requests() {
    let (mut serve, suffix) = serve_with(&[]);
    for (kind, text) in [
        (0, "the 'reader' process creates buffer 'bg' with metadata size '0' and payload size '10240'"),
        (1, "the 'writer' process connects to buffer 'bg'"),
        // 50 frames do not fit: the writer keeps going in the background as the reader reads.
        (1, "the 'writer' process writes '50' frames of size '1024' as fast as possible"),
    ] {
        assert_success(&execute(&mut serve, kind, text));
    }
    health(&mut serve);
    for (kind, text) in [
        (1, "the 'reader' process reads frames with '0' ms delay between each read"),
        (2, "the 'reader' process should have read '50' frames"),
        (2, "the 'reader' process should verify all frames have sequential sequence numbers starting from '1'"),
    ] {
        assert_success(&execute(&mut serve, kind, text));
    }
    finish(serve);
    assert_eq!(leftovers(&suffix), Vec::<String>::new());
}

#[test]
fn background_work_that_fails_fails_the_cleanup() {
    let (mut serve, suffix) = serve_with(&[]);
    for (kind, text) in [
        (0, "the 'reader' process creates buffer 'bg-fail' with metadata size '0' and payload size '10240'"),
        (1, "the 'writer' process connects to buffer 'bg-fail'"),
        // Nobody reads: the background writer fills the ring and its write times out.
        (1, "the 'writer' process writes '50' frames of size '1024' as fast as possible"),
    ] {
        assert_success(&execute(&mut serve, kind, text));
    }
    let message = serve.call("cleanup", json!([]), Duration::from_secs(60));
    let (code, id) = error_of(&message);
    assert_eq!((code, id), (-32000, message["id"].clone()), "{message}");
    let text = message["error"]["message"].as_str().unwrap_or_default();
    assert!(
        text.starts_with("the scenario ended with errors: background work failed"),
        "{text}"
    );
    // The process stays usable, and the failed scenario left nothing behind.
    health(&mut serve);
    assert_eq!(serve.result("cleanup", json!([]), WAIT), Value::Null);
    finish(serve);
    assert_eq!(leftovers(&suffix), Vec::<String>::new());
}

#[test]
fn shutdown_replies_then_exits_zero() {
    let mut serve = serve();
    let reply = serve.call("shutdown", json!([]), WAIT);
    assert_eq!(reply, json!({"jsonrpc": "2.0", "id": 2, "result": null}));
    let status = serve
        .wait_exit(Duration::from_secs(5))
        .expect("exit after shutdown");
    assert!(status.success(), "{status:?}");
    serve.expect_stdout_end(Duration::from_secs(2));
}

#[test]
fn shutdown_notification_exits_without_a_reply() {
    let mut serve = serve();
    serve.write_frame(r#"{"jsonrpc":"2.0","method":"shutdown","params":[]}"#);
    let status = serve
        .wait_exit(Duration::from_secs(5))
        .expect("exit after shutdown");
    assert!(status.success(), "{status:?}");
    serve.expect_stdout_end(Duration::from_secs(2));
}

#[test]
fn crash_replies_null_then_aborts_without_cleanup() {
    let (mut serve, suffix) = serve_with(&[]);
    let create = "the 'reader' process creates buffer 'crashed' with metadata size '0' and payload size '4096'";
    assert_success(&execute(&mut serve, 0, create));
    let token =
        json!([{"IsCancellationRequested": false, "CanBeCanceled": true, "WaitHandle": null}]);
    let started = Instant::now();
    let reply = serve.call("crash", token, WAIT);
    assert_eq!(reply, json!({"jsonrpc": "2.0", "id": 3, "result": null}));
    let status = serve
        .wait_exit(Duration::from_millis(500))
        .expect("dead within 500 ms");
    assert!(started.elapsed() < Duration::from_millis(1000));
    assert_eq!(status.signal(), Some(6), "{status:?}");
    serve.expect_stdout_end(Duration::from_secs(2));
    // No cleanup: the buffer is still there, as a real crash leaves it. Remove it here.
    let buffer = format!("crashed{suffix}");
    assert!(std::path::Path::new(&format!("/dev/shm/{buffer}")).exists());
    remove_buffer(&buffer);
    assert_eq!(leftovers(&suffix), Vec::<String>::new());
}

/// Removes the objects of a buffer whose owner is dead.
fn remove_buffer(buffer: &str) {
    for path in zerobuffer::ObjectPaths::new(buffer).all() {
        let _ = std::fs::remove_file(path);
    }
}

#[test]
fn stdin_eof_exits_promptly() {
    let mut serve = serve();
    health(&mut serve);
    let started = Instant::now();
    finish(serve);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn unknown_arguments_are_ignored() {
    let mut serve = serve_with(&["serve", "--whatever"]).0;
    health(&mut serve);
    let stderr = finish(serve);
    assert!(stderr.contains("--whatever"), "{stderr}");
}
