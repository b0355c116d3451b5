//! One session: a fresh buffer, its reader process (which creates it) and its writer process,
//! Python or ours each, set up and warmed up untimed; then the timing of jobs on it.

use std::env;
use std::process::Command;
use std::time::{Duration, Instant};

use zerobuffer::WaitStrategy;

use crate::cores::Placement;
use crate::process::EndpointProcess;
use crate::python::PythonPeer;
use crate::roles::{self, CHILD_ENV, WAIT_ENV};
use crate::sleeps::{SleepCounter, Sleeps};
use crate::{BoxResult, METADATA};

/// Which implementation plays a role.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Side {
    Python,
    /// The library with its default, [`WaitStrategy::Block`] (what every peer does).
    Ours,
    /// The library with [`WaitStrategy::spin_then_block`]: a writer that meets a slower reader
    /// without sleeping, so the reader's release never has to wake it.
    OursSpinning,
}

impl Side {
    fn label(self, role: &str) -> String {
        match self {
            Side::Python => format!("python {role}"),
            Side::Ours => format!("our {role}"),
            Side::OursSpinning => format!("our spinning {role}"),
        }
    }
}

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

/// The baseline first; the order is rotated between rounds.
pub const PAIRINGS: [Pairing; 5] = [
    Pairing {
        writer: Side::Python,
        reader: Side::Python,
        label: "python -> python",
    },
    Pairing {
        writer: Side::Python,
        reader: Side::Ours,
        label: "python -> our reader",
    },
    Pairing {
        writer: Side::Ours,
        reader: Side::Python,
        label: "our writer -> python",
    },
    Pairing {
        writer: Side::OursSpinning,
        reader: Side::Python,
        label: "our spinning writer -> python",
    },
    Pairing {
        writer: Side::Ours,
        reader: Side::Ours,
        label: "ours -> ours",
    },
];

/// The baseline pairing: the Python writer to the Python reader.
pub const BASELINE: Pairing = PAIRINGS[0];

/// The command that starts an endpoint of `side` with the protocol's `args`.
fn endpoint(side: Side, peer: &PythonPeer, args: &[String]) -> BoxResult<Command> {
    Ok(match side {
        Side::Python => {
            let mut command = Command::new(&peer.python);
            command.arg(&peer.script).args(args);
            command
        }
        Side::Ours | Side::OursSpinning => {
            let wait = if side == Side::OursSpinning {
                WaitStrategy::spin_then_block()
            } else {
                WaitStrategy::Block
            };
            let mut command = Command::new(env::current_exe()?);
            command
                .env(CHILD_ENV, "1")
                .env(WAIT_ENV, wait.to_string())
                .args(args);
            command
        }
    })
}

/// Buffer `name` with its two endpoint processes. Dropping a session that was not closed
/// kills both and removes what they left of the buffer.
pub struct Session {
    name: String,
    /// Counts both endpoints' sleeps over a job, once both run.
    counter: Option<SleepCounter>,
    writer: Option<EndpointProcess>,
    reader: Option<EndpointProcess>,
    /// What the reader's sum of first and last bytes must be, per frame.
    touch: u64,
}

impl Session {
    /// Starts the reader (which creates buffer `name`, a `ring`-byte ring), then the writer,
    /// and runs `warm_frames` frames of `len` bytes untimed (interpreter start-up, connect,
    /// page faults of fresh mappings are all before the first timed job).
    pub fn open(
        pairing: Pairing,
        peer: &PythonPeer,
        placement: Placement,
        name: &str,
        ring: usize,
        len: usize,
        warm_frames: u64,
    ) -> BoxResult<Session> {
        let read_args = [
            "read".into(),
            name.into(),
            METADATA.to_string(),
            ring.to_string(),
            len.to_string(),
        ];
        let mut session = Session {
            name: name.to_owned(),
            counter: None,
            writer: None,
            reader: None,
            touch: roles::touch(&roles::source_data(len)),
        };
        let command = endpoint(pairing.reader, peer, &read_args)?;
        let mut reader = EndpointProcess::spawn(command, &pairing.reader.label("reader"))?;
        placement.pin_first(reader.pid())?;
        reader.expect("ready")?;
        let reader_pid = reader.pid();
        session.reader = Some(reader);
        let write_args = ["write".into(), name.into(), len.to_string()];
        let command = endpoint(pairing.writer, peer, &write_args)?;
        let mut writer = EndpointProcess::spawn(command, &pairing.writer.label("writer"))?;
        placement.pin_second(writer.pid())?;
        writer.expect("ready")?;
        session.counter = Some(SleepCounter::processes(reader_pid, writer.pid()));
        session.writer = Some(writer);
        session.run(warm_frames)?;
        Ok(session)
    }

    /// Times one job of `frames` frames: from the `go` line to the writer until the reader's
    /// `done` line, which it prints after releasing the last frame; and counts each side's
    /// sleeps from before the reader's `read` line until the writer's `sent` line.
    pub fn run(&mut self, frames: u64) -> BoxResult<(Duration, Sleeps)> {
        let (Some(reader), Some(writer), Some(counter)) = (
            self.reader.as_mut(),
            self.writer.as_mut(),
            self.counter.as_ref(),
        ) else {
            return Err("session already closed".into());
        };
        let before = counter.sample()?;
        reader.send(&format!("read {frames}"))?;
        let start = Instant::now();
        writer.send(&format!("go {frames}"))?;
        let done = reader.expect("done")?;
        let elapsed = start.elapsed();
        let sent = writer.expect("sent")?;
        let want = frames * self.touch;
        if done != [frames, want] || sent != [frames] {
            return Err(format!(
                "reader reported {done:?}, writer {sent:?}; expected [{frames}, {want}] and \
                 [{frames}]"
            )
            .into());
        }
        Ok((elapsed, before.until(counter.sample()?)))
    }

    /// Lets the writer disconnect and exit, then the reader remove the buffer and exit.
    pub fn close(mut self) -> BoxResult<()> {
        if let Some(writer) = self.writer.take() {
            writer.finish()?;
        }
        if let Some(reader) = self.reader.take() {
            reader.finish()?;
        }
        Ok(())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Writer first, then reader: each is killed (if still running) and reaped.
        self.writer.take();
        self.reader.take();
        // A killed reader could not remove its buffer; with both endpoints dead this removes
        // it. After a clean close there is nothing left and this finds nothing.
        let _ = zerobuffer::clean_stale(&self.name);
    }
}
