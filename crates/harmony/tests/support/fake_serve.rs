//! A serve that fails on purpose, for harmony's own tests (`tests/expected_failures.rs`).
//!
//! It answers `health` and `initialize` with `true` and every `executeStep` with
//! `Success:false`, error `$FAKE_SERVE_ERROR` (default below), as `FAKE_SERVE_FAIL=all` (or
//! unset) says, with one step log (`fake serve: failing` or `passing`); `FAKE_SERVE_FAIL=none` passes every step, `FAKE_SERVE_FAIL=TEXT` fails only
//! the steps whose text contains TEXT. `cleanup` answers error -32000 with
//! `$FAKE_SERVE_CLEANUP_ERROR` when that is set (a failure seen only at the end), else
//! `null`. `shutdown` exits 0, stdin EOF too.

use std::io::{BufReader, Write};

use harmony::framing::{self, Incoming};
use serde_json::{json, Value};

const DEFAULT_ERROR: &str = "fake serve: failed on purpose";

/// Whether the step `text` fails under `rule` (the value of `FAKE_SERVE_FAIL`).
fn fails(rule: Option<&str>, text: &str) -> bool {
    match rule {
        None | Some("all") => true,
        Some("none") => false,
        Some(part) => text.contains(part),
    }
}

fn step_text(params: &Value) -> String {
    let object = params.get(0).unwrap_or(params);
    object
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("step")))
        .and_then(|(_, v)| v.as_str())
        .unwrap_or_default()
        .to_owned()
}

fn main() {
    let rule = std::env::var("FAKE_SERVE_FAIL").ok();
    let error = std::env::var("FAKE_SERVE_ERROR").unwrap_or_else(|_| DEFAULT_ERROR.into());
    let cleanup_error = std::env::var("FAKE_SERVE_CLEANUP_ERROR").ok();
    let mut input = BufReader::new(std::io::stdin().lock());
    let mut output = std::io::stdout().lock();
    loop {
        let message = match framing::read_frame(&mut input) {
            Incoming::Message(message, _) => message,
            Incoming::Eof => return,
            Incoming::Violation(what) => {
                eprintln!("fake serve: {what}");
                std::process::exit(1);
            }
        };
        let method = message.get("method").and_then(Value::as_str).unwrap_or("");
        let params = message.get("params").cloned().unwrap_or(Value::Null);
        let reply = match method {
            "health" | "initialize" => Ok(json!(true)),
            "executeStep" => {
                let text = step_text(&params);
                let failed = fails(rule.as_deref(), &text);
                eprintln!(
                    "fake serve: {text:?} -> {}",
                    if failed { "fail" } else { "pass" }
                );
                Ok(json!({
                    "Success": !failed,
                    "Error": if failed { Value::from(error.as_str()) } else { Value::Null },
                    "Context": {},
                    "Logs": [{
                        "Timestamp": "2026-01-01T00:00:00.000Z",
                        "Level": if failed { 4 } else { 2 },
                        "Message": format!("fake serve: {}", if failed { "failing" } else { "passing" }),
                    }],
                }))
            }
            "cleanup" => match &cleanup_error {
                Some(text) => Err(json!({"code": -32000, "message": text})),
                None => Ok(Value::Null),
            },
            "shutdown" => Ok(Value::Null),
            "crash" => std::process::abort(),
            _ => Err(json!({"code": -32601, "message": format!("Unknown method: {method}")})),
        };
        let Some(id) = message.get("id") else {
            continue; // a notification
        };
        let body = match reply {
            Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
            Err(error) => json!({"jsonrpc": "2.0", "id": id, "error": error}),
        };
        let frame = framing::frame(&body.to_string());
        if output
            .write_all(&frame)
            .and_then(|()| output.flush())
            .is_err()
        {
            return;
        }
        if method == "shutdown" {
            return;
        }
    }
}
