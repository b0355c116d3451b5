//! The wire framing (harmony.md §1.2): `Content-Length: N\r\n\r\n` then N bytes of one JSON
//! object. Writing uses exactly that spelling; reading is as strict as StreamJsonRpc, so a
//! serve that would break the C# orchestrator breaks ours too.

use std::io::BufRead;

use serde_json::Value;

/// One request or notification frame, as Harmony writes it.
pub fn frame(body: &str) -> Vec<u8> {
    let mut bytes = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

/// What reading one frame from a serve's stdout gave.
#[derive(Debug)]
pub enum Incoming {
    /// A message and its body exactly as received.
    Message(Value, String),
    /// Bytes that are not a valid frame: the connection is dead.
    Violation(String),
    /// stdout ended cleanly between frames.
    Eof,
}

/// Reads the next frame. After `Violation` or `Eof` the stream must not be read again.
pub fn read_frame(out: &mut impl BufRead) -> Incoming {
    let mut length = None;
    let mut first = true;
    loop {
        let mut line = Vec::new();
        match out.read_until(b'\n', &mut line) {
            Ok(0) if first => return Incoming::Eof,
            Ok(0) => return Incoming::Violation("stdout ended inside a header".into()),
            Ok(_) => {}
            Err(e) => return Incoming::Violation(format!("read error: {e}")),
        }
        first = false;
        let text = String::from_utf8_lossy(&line).into_owned();
        let Some(text) = text.strip_suffix("\r\n") else {
            return Incoming::Violation(format!("header line without CRLF: {text:?}"));
        };
        if text.is_empty() {
            break;
        }
        let Some((name, value)) = text.split_once(':') else {
            return Incoming::Violation(format!("not a header: {text:?}"));
        };
        if name == "Content-Length" {
            length = value.trim().parse::<usize>().ok();
        }
    }
    let Some(length) = length else {
        return Incoming::Violation("no Content-Length".into());
    };
    let mut body = vec![0; length];
    if let Err(e) = out.read_exact(&mut body) {
        return Incoming::Violation(format!("short body: {e}"));
    }
    let value: Value = match serde_json::from_slice(&body) {
        Ok(Value::Object(o)) => Value::Object(o),
        other => {
            return Incoming::Violation(format!(
                "body is not one JSON object: {other:?} ({})",
                String::from_utf8_lossy(&body)
            ))
        }
    };
    if value.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Incoming::Violation(format!("no \"jsonrpc\":\"2.0\": {value}"));
    }
    Incoming::Message(value, String::from_utf8_lossy(&body).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_stray_text_is_a_violation() {
        let body = r#"{"jsonrpc":"2.0","id":2,"result":true}"#;
        let mut bytes = frame(body);
        bytes.extend_from_slice(b"hello\n");
        let mut input = &bytes[..];
        assert!(matches!(read_frame(&mut input), Incoming::Message(_, raw) if raw == body));
        assert!(matches!(read_frame(&mut input), Incoming::Violation(_)));
        assert!(matches!(read_frame(&mut &b""[..]), Incoming::Eof));
    }
}
