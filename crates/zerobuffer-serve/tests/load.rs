//! The serve under load: hundreds of `executeStep`, `health` and `discover` requests written
//! back to back without waiting for a single answer (as an orchestrator pipelining would).
//! Every request gets exactly one answer, none is lost, none is invented; the World's methods
//! (`executeStep`) are answered in the order they were sent, each with the outcome its step
//! deserves (real frames written and read back, an undefined step failing with its hint);
//! `health` and `discover` answer whenever they arrive, with their usual results.
//!
//! `ZEROBUFFER_LOAD_ROUNDS` sets the number of write/read rounds (default 300, about 1,000
//! requests); the long form is e.g. `ZEROBUFFER_LOAD_ROUNDS=20000`.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::driver::leftovers;
use common::serve::Serve;
use common::session::*;
use serde_json::{json, Value};

const ROUNDS_ENV: &str = "ZEROBUFFER_LOAD_ROUNDS";
const DEFAULT_ROUNDS: usize = 300;

/// What a request was, so its answer can be checked.
#[derive(Debug, Clone, PartialEq)]
enum Sent {
    Health,
    Discover,
    /// A step that must succeed.
    Step(String),
    /// An undefined step: `Success:false` with the hint.
    Undefined(String),
}

fn rounds() -> usize {
    match std::env::var(ROUNDS_ENV) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{ROUNDS_ENV}={v:?} is not a count")),
        Err(_) => DEFAULT_ROUNDS,
    }
}

fn step_params(kind: u8, process: &str, text: &str) -> Value {
    json!([{"Process": process, "StepType": kind, "Step": text, "Parameters": {},
        "Context": {}, "IsBroadcast": false}])
}

/// The pipelined requests: per round a frame written, a `health`, the frame read back, and
/// now and then a `discover` or an undefined step.
fn requests(rounds: usize) -> Vec<(&'static str, Value, Sent)> {
    let mut out = Vec::new();
    for k in 1..=rounds {
        let size = 64 + (k * 37) % 4000;
        let write =
            format!("the 'writer' process writes frame with size '{size}' and sequence '{k}'");
        out.push((
            "executeStep",
            step_params(1, "writer", &write),
            Sent::Step(write),
        ));
        out.push(("health", json!([]), Sent::Health));
        let read =
            format!("the 'reader' process should read frame with sequence '{k}' and size '{size}'");
        out.push((
            "executeStep",
            step_params(2, "reader", &read),
            Sent::Step(read),
        ));
        if k % 25 == 0 {
            out.push(("discover", json!([]), Sent::Discover));
        }
        if k % 40 == 0 {
            let nonsense = format!("the 'reader' process juggles '{k}' frames");
            out.push((
                "executeStep",
                step_params(1, "reader", &nonsense),
                Sent::Undefined(nonsense),
            ));
        }
    }
    out
}

/// Checks one answer against what was sent.
fn check(sent: &Sent, message: &Value) {
    assert!(message.get("error").is_none(), "{sent:?}: {message}");
    let result = &message["result"];
    match sent {
        Sent::Health => assert_eq!(result, &json!(true), "{message}"),
        Sent::Discover => assert!(
            result["Steps"]
                .as_array()
                .is_some_and(|steps| !steps.is_empty()),
            "{message}"
        ),
        Sent::Step(text) => {
            assert_eq!(result["Success"], json!(true), "{text}: {message}");
        }
        Sent::Undefined(text) => {
            assert_eq!(result["Success"], json!(false), "{message}");
            let error = result["Error"].as_str().unwrap_or_default();
            assert!(
                error.starts_with(&format!("undefined step: {text:?}; nearest: ")),
                "{error}"
            );
        }
    }
}

fn initialize(serve: &mut Serve, pid: &str, feature: &str) {
    let init = json!([{"Role": "reader", "Platform": "rust", "Scenario": "load",
        "HostPid": pid.parse::<u64>().unwrap(), "FeatureId": feature.parse::<u64>().unwrap(),
        "TestRunId": format!("{pid}_{feature}")}]);
    assert_eq!(serve.result("initialize", init, WAIT), json!(true));
}

#[test]
fn pipelined_requests_are_all_answered_once_and_steps_in_order() {
    let (pid, feature) = run_id();
    let suffix = format!("_{pid}_{feature}");
    let env = [
        ("HARMONY_HOST_PID", pid.clone()),
        ("HARMONY_FEATURE_ID", feature.clone()),
        ("RUST_LOG", "warn".to_owned()),
    ];
    let mut serve = Serve::rust("rust", &env, &[]);
    initialize(&mut serve, &pid, &feature);
    let create = "the 'reader' process creates buffer 'load' with metadata size '0' and payload size '65536'";
    assert_success(&execute(&mut serve, 0, create));
    assert_success(&execute(
        &mut serve,
        1,
        "the 'writer' process connects to buffer 'load'",
    ));

    // Everything written before anything is read back.
    let rounds = rounds();
    let mut outstanding: HashMap<u64, Sent> = HashMap::new();
    let mut step_order: Vec<u64> = Vec::new();
    for (method, params, sent) in requests(rounds) {
        let id = serve.request(method, params);
        if method == "executeStep" {
            step_order.push(id);
        }
        outstanding.insert(id, sent);
    }
    let total = outstanding.len();

    let deadline =
        Instant::now() + Duration::from_secs(60) + Duration::from_millis(rounds as u64 * 20);
    let mut steps_answered: Vec<u64> = Vec::new();
    while !outstanding.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "{} of {total} requests unanswered at the deadline; stderr:\n{}",
            outstanding.len(),
            serve.stderr()
        );
        let message = match serve.next_message(left) {
            Some(message) => message,
            None => continue,
        };
        let id = message["id"]
            .as_u64()
            .unwrap_or_else(|| panic!("an answer without a request id: {message}"));
        let sent = outstanding.remove(&id).unwrap_or_else(|| {
            panic!("an answer to {id}, which was not asked or was answered already: {message}")
        });
        check(&sent, &message);
        if matches!(sent, Sent::Step(_) | Sent::Undefined(_)) {
            steps_answered.push(id);
        }
    }
    assert_eq!(
        steps_answered, step_order,
        "steps answered out of their order"
    );
    // Nothing more: no answer twice, no stray message.
    serve.expect_silence(Duration::from_millis(200));
    finish(serve);
    assert_eq!(leftovers(&suffix), Vec::<String>::new());
}
