//! The run summaries printed by `read`, `write` and `duplex-request`: one JSON object or one
//! human line on stdout.

use std::io::{self, Write};
use std::time::Duration;

use serde::Serialize;

/// What a `read` or `write` run did. The JSON field names are part of the CLI's interface.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Summary {
    pub frames: u64,
    pub bytes: u64,
    pub sequence_errors: u64,
    pub pattern_errors: u64,
    pub metadata_len: u64,
    /// Milliseconds since the buffer was created (read) or connected (write).
    pub elapsed_ms: f64,
}

impl Summary {
    pub fn set_elapsed(&mut self, elapsed: Duration) {
        self.elapsed_ms = millis(elapsed);
    }

    /// Prints the summary on stdout; `verb` is "read" or "wrote" for the human form.
    pub fn print(&self, json: bool, verb: &str, validated: bool) -> io::Result<()> {
        let mut out = io::stdout().lock();
        if json {
            serde_json::to_writer(&mut out, self)?;
            writeln!(out)
        } else {
            writeln!(out, "{}", self.human(verb, validated))
        }
    }

    fn human(&self, verb: &str, validated: bool) -> String {
        let seconds = self.elapsed_ms / 1e3;
        let rate = if seconds > 0.0 {
            format!(", {:.1} MB/s", self.bytes as f64 / seconds / 1e6)
        } else {
            String::new()
        };
        let mut line = format!(
            "{verb} {} frames, {} bytes in {:.1} ms{rate}; metadata {} bytes",
            self.frames, self.bytes, self.elapsed_ms, self.metadata_len
        );
        if validated {
            line.push_str(&format!(
                "; {} sequence errors, {} pattern errors",
                self.sequence_errors, self.pattern_errors
            ));
        }
        line
    }
}

/// What a `duplex-request` run did. The JSON field names are part of the CLI's interface.
#[derive(Debug, Default, Clone, Serialize)]
pub struct RequestSummary {
    /// Requests answered (a response arrived, matching or not).
    pub requests: u64,
    /// Bytes of those responses.
    pub bytes: u64,
    /// Responses that did not echo their request (wrong sequence or different bytes).
    pub mismatches: u64,
    /// Milliseconds since the client connected.
    pub elapsed_ms: f64,
}

impl RequestSummary {
    pub fn set_elapsed(&mut self, elapsed: Duration) {
        self.elapsed_ms = millis(elapsed);
    }

    pub fn print(&self, json: bool) -> io::Result<()> {
        let mut out = io::stdout().lock();
        if json {
            serde_json::to_writer(&mut out, self)?;
            writeln!(out)
        } else {
            writeln!(out, "{}", self.human())
        }
    }

    fn human(&self) -> String {
        let per_request = if self.requests > 0 {
            format!(
                " ({:.3} ms per round trip)",
                self.elapsed_ms / self.requests as f64
            )
        } else {
            String::new()
        };
        format!(
            "{} requests, {} bytes echoed in {:.1} ms{per_request}; {} mismatches",
            self.requests, self.bytes, self.elapsed_ms, self.mismatches
        )
    }
}

/// Milliseconds with microsecond resolution: plenty, and it keeps the JSON short.
fn millis(elapsed: Duration) -> f64 {
    (elapsed.as_secs_f64() * 1e6).round() / 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_the_documented_fields() {
        let mut s = Summary {
            frames: 2,
            bytes: 30,
            metadata_len: 5,
            ..Summary::default()
        };
        s.set_elapsed(Duration::from_micros(1500));
        let v: serde_json::Value = serde_json::to_value(&s).unwrap();
        let mut keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "bytes",
                "elapsed_ms",
                "frames",
                "metadata_len",
                "pattern_errors",
                "sequence_errors"
            ]
        );
        assert_eq!(v["elapsed_ms"], 1.5);
        assert!(s.human("read", true).starts_with("read 2 frames, 30 bytes"));
        assert!(!s.human("wrote", false).contains("pattern"));
    }

    #[test]
    fn request_json_has_the_documented_fields() {
        let mut s = RequestSummary {
            requests: 4,
            bytes: 400,
            mismatches: 1,
            ..RequestSummary::default()
        };
        s.set_elapsed(Duration::from_micros(2000));
        let v: serde_json::Value = serde_json::to_value(&s).unwrap();
        let mut keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["bytes", "elapsed_ms", "mismatches", "requests"]);
        assert_eq!(v["elapsed_ms"], 2.0);
        assert_eq!(
            s.human(),
            "4 requests, 400 bytes echoed in 2.0 ms (0.500 ms per round trip); 1 mismatches"
        );
    }
}
