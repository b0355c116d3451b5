//! The serve facing bad input: recoverable JSON-RPC errors answered, garbage skipped, and
//! fatal framing errors ending the serve cleanly. Every test spawns the binary.

mod common;

use std::time::{Duration, Instant};

use common::session::*;
use serde_json::{json, Value};

// ---- bad input -----------------------------------------------------------------------------

/// Each recoverable case gets its JSON-RPC error (or, for a notification, nothing), and
/// `health` still answers after it.
#[test]
fn recoverable_bad_input_gets_the_right_error() {
    let mut serve = serve();
    // (body, expected (code, id) of the error, or None for no reply)
    type Case<'a> = (&'a [u8], Option<(i64, Value)>);
    let cases: [Case; 9] = [
        (
            b"\xff\xfe{\"jsonrpc\":\"2.0\"}",
            Some((-32700, Value::Null)),
        ),
        (
            b"{\"jsonrpc\":\"2.0\",\"id\":5,",
            Some((-32700, Value::Null)),
        ),
        (
            b"[{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"health\",\"params\":[]}]",
            Some((-32600, Value::Null)),
        ),
        (b"[]", Some((-32600, Value::Null))),
        (
            b"{\"id\":6,\"method\":\"health\",\"params\":[]}",
            Some((-32600, json!(6))),
        ),
        (
            b"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":42}",
            Some((-32600, json!(7))),
        ),
        (
            b"{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"launch\",\"params\":[]}",
            Some((-32601, json!(8))),
        ),
        (
            b"{\"jsonrpc\":\"2.0\",\"id\":\"s9\",\"method\":\"nope\"}",
            Some((-32601, json!("s9"))),
        ),
        (
            b"{\"jsonrpc\":\"2.0\",\"method\":\"health\",\"params\":[]}",
            None,
        ),
    ];
    for (body, expected) in cases {
        let mut frame = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
        frame.extend_from_slice(body);
        serve.write_raw(&frame);
        match expected {
            Some(expected) => {
                let message = serve.response(&expected.1, WAIT);
                assert_eq!(
                    error_of(&message),
                    expected,
                    "{}",
                    String::from_utf8_lossy(body)
                );
                assert!(message["error"]["message"].is_string());
            }
            None => serve.expect_silence(Duration::from_millis(300)),
        }
        health(&mut serve);
    }
    // Wrong params: -32602 with the request's id.
    for (method, params) in [
        ("executeStep", json!([])),
        ("executeStep", json!([{}])),
        ("executeStep", json!([{"Step": 5}])),
        ("executeStep", json!([{"Step": "x", "StepType": 7}])),
        ("executeStep", json!([{"Step": "x"}, {"Step": "y"}])),
        (
            "executeStep",
            json!([{"Step": "x", "Parameters": {"DataTable": [["a"]]}}]),
        ),
        (
            "executeStep",
            json!([{"Step": "x", "Parameters": {"DataTable": "[[\"a\"],[]]"}}]),
        ),
        ("initialize", json!([{"Role": "reader", "HostPid": "many"}])),
        ("initialize", json!([])),
    ] {
        let message = serve.call(method, params.clone(), WAIT);
        let id = message["id"].clone();
        assert_eq!(error_of(&message), (-32602, id), "{method} {params}");
        health(&mut serve);
    }
    finish(serve);
}

#[test]
fn garbage_before_a_header_is_skipped() {
    let mut serve = serve();
    serve.write_raw(b"hello there\r\n\r\nnot a header\nX-Custom: 1\r\n");
    let body = r#"{"jsonrpc":"2.0","id":41,"method":"health","params":[]}"#;
    // Lower-case name, other headers, bare LF.
    serve.write_raw(
        format!(
            "content-length: {}\nContent-Type: application/vscode-jsonrpc; charset=utf-8\n\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    assert_eq!(serve.response(&json!(41), WAIT)["result"], json!(true));
    health(&mut serve);
    let stderr = finish(serve);
    assert!(stderr.contains("not a header"), "{stderr}");
}

/// Input after which the stream cannot be resynchronised: exit 1 with a message on stderr,
/// no byte on stdout, no panic.
fn fatal(input: &[u8], close: bool, message: &str) {
    let mut serve = serve();
    health(&mut serve);
    serve.write_raw(input);
    if close {
        serve.close_stdin();
    }
    let status = serve
        .wait_exit(Duration::from_secs(5))
        .expect("exit on broken input");
    assert_eq!(status.code(), Some(1), "{status:?}");
    serve.expect_stdout_end(Duration::from_secs(2));
    let stderr = serve.stderr();
    assert!(
        stderr.contains(message),
        "expected {message:?} in:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn missing_content_length_ends_the_serve() {
    fatal(
        b"Content-Type: application/json\r\n\r\n{}",
        false,
        "no Content-Length",
    );
}

#[test]
fn non_numeric_content_length_ends_the_serve() {
    fatal(
        b"Content-Length: twelve\r\n\r\n{}",
        false,
        "is not a byte count",
    );
}

#[test]
fn short_body_ends_the_serve() {
    fatal(
        b"Content-Length: 100\r\n\r\n{\"jsonrpc\":\"2.0\"",
        true,
        "ended after 16 of 100",
    );
}

#[test]
fn ten_gigabytes_are_refused_without_allocating() {
    let started = Instant::now();
    fatal(
        b"Content-Length: 10000000000\r\n\r\n{}",
        false,
        "exceeds the limit",
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn input_ending_inside_a_header_ends_the_serve() {
    fatal(b"Content-Length: 10\r\n", true, "inside a header block");
}
