//! The job a writer child is sent as one stdin line (`mode len frames`), shared by the benches
//! whose writer is this binary re-executed.

use std::error::Error;

/// How frames are written (and, in some benches, consumed).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// The writer copies from a source slice.
    Copy,
    /// The writer fills the ring slot in place.
    ZeroCopy,
}

impl Mode {
    pub fn label(self) -> &'static str {
        match self {
            Mode::Copy => "copy",
            Mode::ZeroCopy => "zero-copy",
        }
    }
}

/// What the writer is asked to send.
#[derive(Clone, Copy, Debug)]
pub struct Job {
    pub mode: Mode,
    pub len: usize,
    pub frames: u64,
}

impl Job {
    pub fn encode(&self) -> String {
        format!("{} {} {}\n", self.mode.label(), self.len, self.frames)
    }

    pub fn decode(line: &str) -> Result<Job, Box<dyn Error>> {
        let mut words = line.split_whitespace();
        let mode = match words.next() {
            Some("copy") => Mode::Copy,
            Some("zero-copy") => Mode::ZeroCopy,
            other => return Err(format!("bad job mode {other:?}").into()),
        };
        let len = words.next().ok_or("job without length")?.parse()?;
        let frames = words.next().ok_or("job without frame count")?.parse()?;
        Ok(Job { mode, len, frames })
    }
}
