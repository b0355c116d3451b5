//! The serve's framing and request parsing on arbitrary bytes, as the orchestrator's pipe could
//! bring them.
//!
//! Properties: the frame reader ends (a body, a clean end, or a typed error) and never hands out
//! a body larger than its limit; every body gets a verdict: a call with a method, a
//! notification, or a rejection that is itself a valid JSON-RPC error response; a call's
//! params parse into a request or are refused with an error, never a panic; and a body framed
//! by the serve reads back exactly.

#![no_main]

use std::io::{BufReader, Cursor};

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use zerobuffer_serve::framing::{write_frame, FrameReader, MAX_BODY};
use zerobuffer_serve::protocol::{
    classify, parse_param, step_request, Incoming, InitializeRequest,
};

fuzz_target!(|bytes: &[u8]| {
    // A small buffer, so that messages straddle the reader's refills.
    let mut frames = FrameReader::new(BufReader::with_capacity(7, Cursor::new(bytes)));
    let mut bodies = 0;
    while let Ok(Some(body)) = frames.next_frame() {
        assert!(body.len() <= MAX_BODY, "a body above the limit");
        bodies += 1;
        assert!(bodies <= bytes.len(), "more bodies than input bytes");
        judge(&body);
    }
    // The bytes as one body, unframed.
    judge(bytes);
    // Our own framing reads back exactly.
    let mut framed = Vec::new();
    write_frame(&mut framed, bytes).expect("framing into memory");
    let mut again = FrameReader::new(framed.as_slice());
    let body = again.next_frame().expect("our own frame").expect("a body");
    assert_eq!(body, bytes);
    assert!(
        matches!(again.next_frame(), Ok(None)),
        "bytes after our frame"
    );
});

fn judge(body: &[u8]) {
    match classify(body) {
        Incoming::Call { method, body } => {
            let request: Value = serde_json::from_str(&body).expect("a call is JSON");
            assert_eq!(request["method"].as_str(), Some(method.as_str()));
            let params = request.get("params").map(Value::to_string);
            let _ = step_request(params.as_deref());
            let _ = parse_param::<InitializeRequest>(params.as_deref());
        }
        Incoming::Notification { .. } => {}
        Incoming::Reject(response) => {
            let response: Value =
                serde_json::from_str(&response).expect("a rejection is a JSON response");
            assert_eq!(response["jsonrpc"], "2.0");
            let code = response["error"]["code"].as_i64().expect("an error code");
            assert!(code == -32700 || code == -32600, "rejection code {code}");
        }
    }
}
