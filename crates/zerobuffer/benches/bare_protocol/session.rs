//! The parent's side of one session: a fresh buffer created by a reader (bare or ours), a
//! writer child attached to it and warmed up, and the timing of one job on it.

use std::hint::black_box;
use std::time::{Duration, Instant};

use zerobuffer::{BufferConfig, Reader};

use crate::bare::BareReader;
use crate::job::{Job, Mode};
use crate::roles::{source_data, AnyWriter, Side, WriterProcess};
use crate::sleeps::{SleepCounter, Sleeps};
use crate::{BoxResult, TIMEOUT};

/// Who writes and who reads in a session.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Pairing {
    pub writer: Side,
    pub reader: Side,
    pub label: &'static str,
}

impl crate::rounds::Labelled for Pairing {
    fn label(&self) -> &str {
        self.label
    }
}

/// The baseline first; the order of the others is rotated between rounds. The last pairing
/// is not held to the 1.1x goal: it shows what spinning before sleeping buys over blocking.
pub const PAIRINGS: [Pairing; 6] = [
    Pairing {
        writer: Side::Bare,
        reader: Side::Bare,
        label: "bare -> bare",
    },
    Pairing {
        writer: Side::Bare,
        reader: Side::Ours,
        label: "our reader",
    },
    Pairing {
        writer: Side::Bare,
        reader: Side::OursExclusive,
        label: "our reader, &mut",
    },
    Pairing {
        writer: Side::Ours,
        reader: Side::Bare,
        label: "our writer",
    },
    Pairing {
        writer: Side::Ours,
        reader: Side::Ours,
        label: "ours end to end",
    },
    Pairing {
        writer: Side::OursSpinning,
        reader: Side::OursSpinning,
        label: "ours, spin-block",
    },
];

/// The baseline pairing: bare writer to bare reader.
pub const BASELINE: Pairing = PAIRINGS[0];
/// Ours on both sides, spinning before it sleeps.
pub const SPINNING: Pairing = PAIRINGS[5];

enum AnyReader {
    Bare(BareReader),
    /// Read through `read_frame` (`&self`).
    Ours(Reader),
    /// Read through `read_frame_exclusive` (`&mut self`).
    Exclusive(Reader),
}

impl AnyReader {
    /// Creates buffer `name` with a `ring`-byte ring as a reader of `side`'s kind.
    fn create(side: Side, name: &str, ring: usize) -> BoxResult<AnyReader> {
        Ok(match side.wait_strategy() {
            None => AnyReader::Bare(BareReader::create(name, ring)?),
            Some(wait) => {
                let mut reader = Reader::create(name, BufferConfig::new(0, ring))?;
                reader.set_wait_strategy(wait);
                if side == Side::OursExclusive {
                    AnyReader::Exclusive(reader)
                } else {
                    AnyReader::Ours(reader)
                }
            }
        })
    }

    /// Takes, consumes and releases `job.frames` frames. One loop, expanded for each reader,
    /// so that the pairings differ in the reader they call, not in the code around it (a
    /// closure-driven loop for some and a plain one for others measured up to a quarter apart
    /// with both ends in one thread).
    fn drain(&mut self, job: Job, sink: &mut Vec<u8>) -> BoxResult<u64> {
        let mut sum = 0u64;
        let failed =
            |i: u64, e: &dyn std::fmt::Display| format!("frame {i} of {}: {e}", job.frames);
        macro_rules! drain_with {
            ($read:expr) => {
                for i in 0..job.frames {
                    let frame = $read.map_err(|e| failed(i, &e))?;
                    sum = sum.wrapping_add(checked_consume(job, &frame, sink)?);
                }
            };
        }
        match self {
            AnyReader::Bare(r) => drain_with!(r.read(TIMEOUT)),
            AnyReader::Ours(r) => drain_with!(r.read_frame(TIMEOUT)),
            AnyReader::Exclusive(r) => drain_with!(r.read_frame_exclusive(TIMEOUT)),
        }
        Ok(sum)
    }
}

/// What the reader does with a frame: copy it into a private buffer, or read one byte of
/// every 64-byte line (like `touch()` in the throughput bench).
fn consume(mode: Mode, data: &[u8], sink: &mut Vec<u8>) -> u64 {
    match mode {
        Mode::Copy => {
            sink.clear();
            sink.extend_from_slice(data);
            u64::from(black_box(&sink)[0])
        }
        Mode::ZeroCopy => data.iter().step_by(64).map(|&b| u64::from(b)).sum(),
    }
}

/// Checks a frame's length and consumes it.
fn checked_consume(job: Job, frame: &[u8], sink: &mut Vec<u8>) -> BoxResult<u64> {
    if frame.len() != job.len {
        return Err(format!("frame of {} bytes, expected {}", frame.len(), job.len).into());
    }
    Ok(consume(job.mode, frame, sink))
}

/// One buffer with its reader here and its writer in a child process.
pub struct Session {
    /// Declared first so that, when bailing out, the child is killed before the buffer goes.
    writer: WriterProcess,
    reader: AnyReader,
    sink: Vec<u8>,
    counter: SleepCounter,
    /// How often each side slept during the last job.
    pub sleeps: Sleeps,
}

impl Session {
    /// Creates buffer `name` with a `ring`-byte ring, starts the writer and sends it
    /// `warm_frames` frames of `len` bytes untimed (page faults of fresh mappings, connect).
    pub fn open(
        pairing: Pairing,
        name: &str,
        ring: usize,
        len: usize,
        warm_frames: u64,
    ) -> BoxResult<Session> {
        let reader = AnyReader::create(pairing.reader, name, ring)?;
        let writer = WriterProcess::spawn(pairing.writer, name)?;
        let mut session = Session {
            counter: SleepCounter::this_thread_and(writer.pid()),
            writer,
            reader,
            sink: Vec::with_capacity(len),
            sleeps: Sleeps::default(),
        };
        session.run(Job {
            mode: Mode::Copy,
            len,
            frames: warm_frames,
        })?;
        Ok(session)
    }

    /// Sends `job` and times until the reader has taken and released its last frame; counts
    /// each side's sleeps (outside the timed part: the writer has nothing left to do once the
    /// reader has its last frame).
    pub fn run(&mut self, job: Job) -> BoxResult<Duration> {
        let before = self.counter.sample()?;
        let start = Instant::now();
        self.writer.send(job)?;
        let outcome = self.reader.drain(job, &mut self.sink);
        let elapsed = start.elapsed();
        match outcome {
            Ok(sum) => {
                black_box(sum);
                self.sleeps = before.until(self.counter.sample()?);
                Ok(elapsed)
            }
            Err(e) => Err(format!("{e} ({})", self.writer.status()).into()),
        }
    }

    /// Lets the writer finish and disconnect, then closes the buffer.
    pub fn close(self) -> BoxResult<()> {
        let Session { writer, reader, .. } = self;
        writer.finish()?;
        drop(reader);
        Ok(())
    }
}

/// Both ends of one buffer in this thread, frames written and read in lockstep (write one,
/// take, consume and release it): no hand-off between cores and no sleeping, so what is left
/// is each side's own work per frame. Two rings' worth of frames go through untimed first.
pub fn one_thread(
    pairing: Pairing,
    name: &str,
    ring: usize,
    warm_frames: u64,
    job: Job,
) -> BoxResult<Duration> {
    let mut reader = AnyReader::create(pairing.reader, name, ring)?;
    let mut writer = AnyWriter::connect(pairing.writer, name)?;
    let source = source_data(job.len);
    let mut sink = Vec::with_capacity(job.len);
    let one = Job { frames: 1, ..job };
    let mut lockstep = |frames: u64| -> BoxResult<u64> {
        let mut sum = 0u64;
        for _ in 0..frames {
            writer.write(job.mode, &source)?;
            sum = sum.wrapping_add(reader.drain(one, &mut sink)?);
        }
        Ok(sum)
    };
    black_box(lockstep(warm_frames)?);
    let start = Instant::now();
    black_box(lockstep(job.frames)?);
    Ok(start.elapsed())
}
