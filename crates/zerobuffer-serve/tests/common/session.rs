//! One serve session as the wire tests drive it: a serve for a fresh run id, steps and
//! their checked responses, and a clean end on stdin EOF.
#![allow(dead_code)] // each test binary uses part of it

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{json, Value};

use super::driver::check_step_response;
use super::serve::Serve;

pub const WAIT: Duration = Duration::from_secs(20);

/// A run id unique to this test process and call, as `(HARMONY_HOST_PID, HARMONY_FEATURE_ID)`.
pub fn run_id() -> (String, String) {
    static N: AtomicU64 = AtomicU64::new(1);
    (
        std::process::id().to_string(),
        (900_000 + N.fetch_add(1, Ordering::Relaxed)).to_string(),
    )
}

/// A serve named for a fresh run id; returns it with the buffer-name suffix.
pub fn serve_with(args: &[&str]) -> (Serve, String) {
    let (pid, feature) = run_id();
    let suffix = format!("_{pid}_{feature}");
    let env = [("HARMONY_HOST_PID", pid), ("HARMONY_FEATURE_ID", feature)];
    (Serve::rust("rust", &env, args), suffix)
}

pub fn serve() -> Serve {
    serve_with(&[]).0
}

pub fn step(kind: u8, text: &str) -> Value {
    json!([{"Process": "reader", "StepType": kind, "Step": text, "Parameters": {}, "Context": {}, "IsBroadcast": false}])
}

/// Runs a step; returns its checked `StepResponse`.
pub fn execute(serve: &mut Serve, kind: u8, text: &str) -> Value {
    let result = serve.result("executeStep", step(kind, text), WAIT);
    check_step_response(&result, true).unwrap();
    result
}

pub fn assert_success(result: &Value) {
    assert_eq!(result["Success"], json!(true), "{result}");
    assert_eq!(result["Error"], Value::Null, "{result}");
}

/// stdin EOF: a clean exit 0, nothing more on stdout, no panic on stderr.
pub fn finish(mut serve: Serve) -> String {
    serve.close_stdin();
    let status = serve
        .wait_exit(Duration::from_secs(5))
        .expect("exit on stdin EOF");
    assert!(status.success(), "{status:?}\n{}", serve.stderr());
    serve.expect_stdout_end(Duration::from_secs(2));
    let stderr = serve.stderr();
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

pub fn health(serve: &mut Serve) {
    assert_eq!(serve.result("health", json!([]), WAIT), json!(true));
}

pub fn error_of(message: &Value) -> (i64, Value) {
    let code = message["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("no error: {message}"));
    (code, message["id"].clone())
}
