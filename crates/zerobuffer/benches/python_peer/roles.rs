//! Our endpoints in a child process: this bench binary re-executed with [`CHILD_ENV`] set and
//! the same arguments and stdin/stdout line protocol as `peer.py` (see its doc string):
//!
//! ```text
//! read  NAME METADATA_SIZE PAYLOAD_SIZE LEN   creates the buffer; "read N" -> "done N SUM"
//! write NAME LEN                              connects;           "go N"   -> "sent N"
//! ```
//!
//! Both print `ready` once set up and close their endpoint (the reader removes the buffer) at
//! stdin EOF. The reader does what the Python reader does with a frame: check its length, add
//! its first and last byte, release it.

use std::env;
use std::hint::black_box;
use std::io::{self, BufRead, Write};

use zerobuffer::{BufferConfig, Reader, WaitStrategy, Writer};

use crate::{BoxResult, TIMEOUT};

/// Set (to `1`) in the environment of a re-executed endpoint.
pub const CHILD_ENV: &str = "ZEROBUFFER_BENCH_PYTHON_PEER_CHILD";
/// The child's [`WaitStrategy`], as `Display` writes it.
pub const WAIT_ENV: &str = "ZEROBUFFER_BENCH_PYTHON_PEER_WAIT";

/// Frame contents, as `peer.py` makes them: byte `i` is `((i * 31) >> 3) % 256`.
pub fn source_data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i.wrapping_mul(31) >> 3) as u8).collect()
}

/// What a reader adds up per frame: its first and last byte.
pub fn touch(data: &[u8]) -> u64 {
    match data {
        [first, .., last] => u64::from(*first) + u64::from(*last),
        [only] => 2 * u64::from(*only),
        [] => 0,
    }
}

/// In a re-executed endpoint: runs it and returns `Some(outcome)`. In the parent: `None`.
pub fn child_main() -> Option<BoxResult<()>> {
    env::var_os(CHILD_ENV)?;
    let args: Vec<String> = env::args().skip(1).collect();
    Some(run_role(&args))
}

fn run_role(args: &[String]) -> BoxResult<()> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let wait: WaitStrategy = match env::var(WAIT_ENV) {
        Ok(text) => text.parse()?,
        Err(env::VarError::NotPresent) => WaitStrategy::Block,
        Err(e) => return Err(format!("{WAIT_ENV}: {e}").into()),
    };
    match words.as_slice() {
        ["read", name, metadata, payload, len] => read_role(
            name,
            metadata.parse()?,
            payload.parse()?,
            len.parse()?,
            wait,
        ),
        ["write", name, len] => write_role(name, len.parse()?, wait),
        _ => Err(format!("bad endpoint arguments {args:?}").into()),
    }
}

fn say(line: &str) -> BoxResult<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{line}")?;
    Ok(out.flush()?)
}

/// The frame counts of the stdin lines `word N`, until EOF.
fn jobs(word: &'static str) -> impl Iterator<Item = BoxResult<u64>> {
    io::stdin().lock().lines().map(move |line| {
        let line = line?;
        match line.split_whitespace().collect::<Vec<_>>().as_slice() {
            [w, n] if *w == word => Ok(n.parse()?),
            _ => Err(format!("expected '{word} N', got {line:?}").into()),
        }
    })
}

fn read_role(
    name: &str,
    metadata: usize,
    payload: usize,
    len: usize,
    wait: WaitStrategy,
) -> BoxResult<()> {
    let mut reader = Reader::create(name, BufferConfig::new(metadata, payload))?;
    reader.set_wait_strategy(wait);
    say("ready")?;
    for frames in jobs("read") {
        let frames = frames?;
        let total = read_frames(&reader, frames, len)?;
        say(&format!("done {frames} {total}"))?;
    }
    Ok(())
}

/// The timed loop: take, touch and release each frame.
fn read_frames(reader: &Reader, frames: u64, len: usize) -> BoxResult<u64> {
    let mut total = 0u64;
    for i in 0..frames {
        let frame = reader
            .read_frame(TIMEOUT)
            .map_err(|e| format!("frame {i} of {frames}: {e}"))?;
        if frame.len() != len {
            return Err(format!("frame of {} bytes, expected {len}", frame.len()).into());
        }
        total += touch(black_box(&frame));
        drop(frame);
    }
    Ok(total)
}

fn write_role(name: &str, len: usize, wait: WaitStrategy) -> BoxResult<()> {
    let mut writer = Writer::connect(name)?;
    writer.set_write_timeout(TIMEOUT);
    writer.set_wait_strategy(wait);
    let source = source_data(len);
    say("ready")?;
    for frames in jobs("go") {
        let frames = frames?;
        for _ in 0..frames {
            writer.write_frame(&source)?;
        }
        say(&format!("sent {frames}"))?;
    }
    Ok(())
}
