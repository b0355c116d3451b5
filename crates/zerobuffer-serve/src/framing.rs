//! `Content-Length` framing of JSON-RPC messages on a byte stream (harmony.md §1.2).
//!
//! Input is parsed leniently: header names are case-insensitive, other headers are ignored, a
//! bare LF ends a line as well as CR LF, blank lines between messages are skipped, and lines
//! that are not `name: value` headers (stray text before a header) are skipped with a warning.
//! What cannot be resynchronised ends the stream with a [`FrameError`]: a header block without
//! a usable `Content-Length`, a length above [`MAX_BODY`], or a stream that ends inside a
//! message. Output is always exactly `Content-Length: N\r\n\r\n` followed by the body.

use std::io::{self, BufRead, Read as _, Write};

/// The largest body accepted. Harmony messages are a few hundred bytes; anything near this is
/// a broken or hostile sender, and is refused before any memory is reserved for it.
pub const MAX_BODY: usize = 16 * 1024 * 1024;
/// Header lines longer than this are garbage; the excess is discarded without being stored.
const MAX_HEADER_LINE: usize = 8 * 1024;

/// Why the input stream cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("a header block has no Content-Length header (headers: {headers:?})")]
    MissingContentLength { headers: Vec<String> },
    #[error("Content-Length {value:?} is not a byte count")]
    InvalidContentLength { value: String },
    #[error("Content-Length {length} exceeds the limit of {MAX_BODY} bytes")]
    TooLarge { length: u64 },
    #[error("the input ended after {got} of {expected} announced body bytes")]
    TruncatedBody { expected: usize, got: usize },
    #[error("the input ended inside a header block")]
    TruncatedHeader,
    #[error("reading the input failed: {0}")]
    Io(#[from] io::Error),
}

/// Reads framed message bodies from `input`.
pub struct FrameReader<R> {
    input: R,
}

/// One header line, as read.
enum Line {
    /// End of input before any byte of the line.
    Eof,
    /// The line without its terminator; `complete` is false when the input ended inside it.
    Text { bytes: Vec<u8>, complete: bool },
    /// A line longer than `MAX_HEADER_LINE` (never a header), discarded.
    Overlong,
}

impl<R: BufRead> FrameReader<R> {
    pub fn new(input: R) -> Self {
        FrameReader { input }
    }

    /// The next message body, or `Ok(None)` at a clean end of input (between messages).
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let mut length: Option<usize> = None;
        let mut headers = Vec::new();
        let mut in_block = false;
        loop {
            let (bytes, complete) = match self.read_line()? {
                Line::Eof if in_block => return Err(FrameError::TruncatedHeader),
                Line::Eof => return Ok(None),
                Line::Overlong => {
                    tracing::warn!("skipping a line longer than {MAX_HEADER_LINE} bytes");
                    continue;
                }
                Line::Text { bytes, complete } => (bytes, complete),
            };
            if !complete {
                if in_block || !bytes.iter().all(u8::is_ascii_whitespace) {
                    return Err(FrameError::TruncatedHeader);
                }
                return Ok(None);
            }
            let text = String::from_utf8_lossy(&bytes);
            let text = text.trim();
            if text.is_empty() {
                if !in_block {
                    continue; // blank lines between messages
                }
                match length {
                    Some(length) => return self.read_body(length).map(Some),
                    None => return Err(FrameError::MissingContentLength { headers }),
                }
            }
            let Some((name, value)) = text.split_once(':') else {
                tracing::warn!(text, "skipping a line that is not a header");
                continue;
            };
            in_block = true;
            headers.push(name.trim().to_owned());
            if name.trim().eq_ignore_ascii_case("content-length") {
                length = Some(parse_length(value.trim())?);
            }
        }
    }

    fn read_body(&mut self, length: usize) -> Result<Vec<u8>, FrameError> {
        let mut body = Vec::with_capacity(length);
        let got = (&mut self.input)
            .take(length as u64)
            .read_to_end(&mut body)?;
        if got < length {
            return Err(FrameError::TruncatedBody {
                expected: length,
                got,
            });
        }
        Ok(body)
    }

    /// One line up to LF (a CR before it is stripped), keeping at most `MAX_HEADER_LINE` bytes.
    fn read_line(&mut self) -> Result<Line, FrameError> {
        let mut line = Vec::new();
        let mut seen_any = false;
        let mut overlong = false;
        loop {
            let chunk = match self.input.fill_buf() {
                Ok(chunk) => chunk,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            if chunk.is_empty() {
                if !seen_any {
                    return Ok(Line::Eof);
                }
                return Ok(Line::Text {
                    bytes: line,
                    complete: false,
                });
            }
            seen_any = true;
            let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            let room = MAX_HEADER_LINE.saturating_sub(line.len());
            let content = &chunk[..take - usize::from(done)];
            if content.len() > room {
                overlong = true;
            }
            line.extend_from_slice(&content[..content.len().min(room)]);
            self.input.consume(take);
            if done {
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if overlong {
                    return Ok(Line::Overlong);
                }
                return Ok(Line::Text {
                    bytes: line,
                    complete: true,
                });
            }
        }
    }
}

fn parse_length(value: &str) -> Result<usize, FrameError> {
    let invalid = || FrameError::InvalidContentLength {
        value: value.to_owned(),
    };
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let length: u64 = match value.parse() {
        Ok(n) => n,
        // All digits but too many of them for u64: certainly too large.
        Err(_) => return Err(FrameError::TooLarge { length: u64::MAX }),
    };
    if length > MAX_BODY as u64 {
        return Err(FrameError::TooLarge { length });
    }
    usize::try_from(length).map_err(|_| invalid())
}

/// Writes one framed message in a single write and flushes it.
pub fn write_frame(out: &mut impl Write, body: &[u8]) -> io::Result<()> {
    let mut message = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    message.extend_from_slice(body);
    out.write_all(&message)?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[u8]) -> (Vec<String>, Option<FrameError>) {
        let mut reader = FrameReader::new(input);
        let mut bodies = Vec::new();
        loop {
            match reader.next_frame() {
                Ok(Some(body)) => bodies.push(String::from_utf8(body).unwrap()),
                Ok(None) => return (bodies, None),
                Err(e) => return (bodies, Some(e)),
            }
        }
    }

    #[test]
    fn reads_consecutive_frames() {
        let (bodies, error) = frames(b"Content-Length: 2\r\n\r\n{}Content-Length: 4\r\n\r\ntrue");
        assert_eq!(bodies, ["{}", "true"]);
        assert!(error.is_none());
    }

    #[test]
    fn header_name_is_case_insensitive_and_other_headers_are_ignored() {
        let input = b"content-length:2\r\nContent-Type: application/json; charset=utf-8\r\n\r\n{}\
                      CONTENT-LENGTH:   3  \n\n[1]";
        let (bodies, error) = frames(input);
        assert_eq!(bodies, ["{}", "[1]"]);
        assert!(error.is_none());
    }

    #[test]
    fn stray_lines_and_blank_lines_are_skipped() {
        let (bodies, error) =
            frames(b"garbage here\r\n\r\n\r\nhello\r\nContent-Length: 2\r\n\r\n{}");
        assert_eq!(bodies, ["{}"]);
        assert!(error.is_none());
    }

    #[test]
    fn overlong_garbage_is_discarded_without_being_kept() {
        let mut input = vec![b'x'; 100_000];
        input.extend_from_slice(b":1\r\nContent-Length: 2\r\n\r\n{}");
        let (bodies, error) = frames(&input);
        assert_eq!(bodies, ["{}"]);
        assert!(error.is_none());
    }

    #[test]
    fn missing_or_bad_lengths_end_the_stream() {
        assert!(matches!(
            frames(b"Content-Type: x\r\n\r\n{}").1,
            Some(FrameError::MissingContentLength { .. })
        ));
        for bad in ["abc", "-1", "1.5", "", "0x10"] {
            let input = format!("Content-Length: {bad}\r\n\r\n{{}}");
            assert!(
                matches!(
                    frames(input.as_bytes()).1,
                    Some(FrameError::InvalidContentLength { .. })
                ),
                "{bad:?}"
            );
        }
        for huge in ["10000000000", "99999999999999999999999999"] {
            let input = format!("Content-Length: {huge}\r\n\r\n{{}}");
            assert!(matches!(
                frames(input.as_bytes()).1,
                Some(FrameError::TooLarge { .. })
            ));
        }
    }

    #[test]
    fn truncation_is_reported() {
        assert!(matches!(
            frames(b"Content-Length: 10\r\n\r\n{}").1,
            Some(FrameError::TruncatedBody {
                expected: 10,
                got: 2
            })
        ));
        assert!(matches!(
            frames(b"Content-Length: 10\r\n").1,
            Some(FrameError::TruncatedHeader)
        ));
        assert!(matches!(
            frames(b"Content-Len").1,
            Some(FrameError::TruncatedHeader)
        ));
        assert!(frames(b"Content-Length: 2\r\n\r\n{}\r\n").1.is_none());
    }

    #[test]
    fn writes_exact_framing() {
        let mut out = Vec::new();
        write_frame(&mut out, "{\"a\":\"é\"}".as_bytes()).unwrap();
        assert_eq!(out, "Content-Length: 10\r\n\r\n{\"a\":\"é\"}".as_bytes());
    }
}
