//! The writer side: a child process (this bench binary re-executed with [`WRITER_ENV`] set)
//! that attaches one writer, bare or ours, and writes the jobs it reads as stdin lines until
//! EOF; and the parent's handle on that child, whose every wait is bounded.

use std::env;
use std::io::{self, BufRead, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use zerobuffer::{WaitStrategy, Writer};

use crate::bare::BareWriter;
use crate::job::{Job, Mode};
use crate::{child, cores};
use crate::{BoxResult, TIMEOUT};

/// Set in the child's environment to the buffer name it should write to.
const WRITER_ENV: &str = "ZEROBUFFER_BENCH_BARE_WRITER";
/// Set in the child's environment to the kind of writer: `bare`, `ours` or `ours-spin`.
const WRITER_KIND_ENV: &str = "ZEROBUFFER_BENCH_BARE_WRITER_KIND";

/// Which implementation plays a role: the bare baseline or the library, and how it waits.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Side {
    /// The bare protocol: `sem_timedwait` like every blocking peer.
    Bare,
    /// The library with its default, [`WaitStrategy::Block`].
    Ours,
    /// As `Ours`; as the reader it reads through `read_frame_exclusive` (`&mut`, no lock).
    OursExclusive,
    /// The library with [`WaitStrategy::spin_then_block`]: what no blocking peer can do.
    OursSpinning,
}

impl Side {
    fn label(self) -> &'static str {
        match self {
            Side::Bare => "bare",
            Side::Ours => "ours",
            Side::OursExclusive => "ours-exclusive",
            Side::OursSpinning => "ours-spin",
        }
    }

    /// How the library waits on this side (None for the bare protocol).
    pub fn wait_strategy(self) -> Option<WaitStrategy> {
        match self {
            Side::Bare => None,
            Side::Ours | Side::OursExclusive => Some(WaitStrategy::Block),
            Side::OursSpinning => Some(WaitStrategy::spin_then_block()),
        }
    }
}

/// Recognisable, non-constant frame contents.
pub fn source_data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i.wrapping_mul(31) >> 3) as u8).collect()
}

/// A connected writer of either kind.
pub enum AnyWriter {
    Bare(BareWriter),
    Ours(Writer),
}

impl AnyWriter {
    pub fn connect(side: Side, name: &str) -> BoxResult<AnyWriter> {
        Ok(match side.wait_strategy() {
            None => AnyWriter::Bare(BareWriter::connect(name, TIMEOUT)?),
            Some(wait) => {
                let mut writer = Writer::connect(name)?;
                writer.set_write_timeout(TIMEOUT);
                writer.set_wait_strategy(wait);
                AnyWriter::Ours(writer)
            }
        })
    }

    pub fn write(&mut self, mode: Mode, source: &[u8]) -> BoxResult<()> {
        match (self, mode) {
            (AnyWriter::Bare(w), Mode::Copy) => {
                w.write_copy(source)?;
            }
            (AnyWriter::Bare(w), Mode::ZeroCopy) => {
                w.write_in_place(source.len(), |slot| slot.copy_from_slice(source))?;
            }
            (AnyWriter::Ours(w), Mode::Copy) => {
                w.write_frame(source)?;
            }
            (AnyWriter::Ours(w), Mode::ZeroCopy) => {
                let mut slot = w.get_frame_buffer(source.len())?;
                slot.copy_from_slice(source);
                slot.commit();
            }
        }
        Ok(())
    }
}

/// In a re-executed child: connects the writer and runs the jobs from stdin, then returns
/// `Some(outcome)`. In the parent (no [`WRITER_ENV`]): `None`.
pub fn writer_main() -> Option<BoxResult<()>> {
    let name = env::var(WRITER_ENV).ok()?;
    let side = match env::var(WRITER_KIND_ENV).as_deref() {
        Ok("bare") => Side::Bare,
        Ok("ours") => Side::Ours,
        Ok("ours-exclusive") => Side::OursExclusive,
        Ok("ours-spin") => Side::OursSpinning,
        other => return Some(Err(format!("bad writer kind {other:?}").into())),
    };
    Some(write_jobs(side, &name))
}

fn write_jobs(side: Side, name: &str) -> BoxResult<()> {
    cores::pin_child_from_env()?;
    let mut writer = AnyWriter::connect(side, name)?;
    let mut source = Vec::new();
    for line in io::stdin().lock().lines() {
        let job = Job::decode(&line?)?;
        if source.len() != job.len {
            source = source_data(job.len);
        }
        for _ in 0..job.frames {
            writer.write(job.mode, &source)?;
        }
    }
    Ok(())
}

/// The parent's handle on one writer child. Dropping it kills and reaps a child still running.
pub struct WriterProcess {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl WriterProcess {
    pub fn spawn(side: Side, name: &str) -> BoxResult<WriterProcess> {
        let mut child = cores::place_child(&mut Command::new(env::current_exe()?))
            .env(WRITER_ENV, name)
            .env(WRITER_KIND_ENV, side.label())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()?;
        let stdin = child.stdin.take();
        Ok(WriterProcess { child, stdin })
    }

    pub fn send(&mut self, job: Job) -> BoxResult<()> {
        let stdin = self.stdin.as_mut().ok_or("writer closed")?;
        stdin.write_all(job.encode().as_bytes())?;
        Ok(stdin.flush()?)
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A note on the child's state, for error messages.
    pub fn status(&mut self) -> String {
        format!(
            "writer {}",
            zerobuffer_test_support::exit_state(&mut self.child)
        )
    }

    /// Closes the job stream and waits (bounded) for the child to disconnect and exit.
    pub fn finish(mut self) -> BoxResult<()> {
        child::finish(&mut self.child, &mut self.stdin, "writer", TIMEOUT)
    }
}

impl Drop for WriterProcess {
    fn drop(&mut self) {
        // Reached with a live child only when the bench is bailing out on an error.
        child::end(&mut self.child, &mut self.stdin, Duration::ZERO);
    }
}
