//! Our side of each soak, in this process, against the hostile child.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use zerobuffer::{clean_stale, Error, Reader, Writer};
use zerobuffer_test_support::{exit_state, leftovers, unique_name, wait_exit};

use crate::hostile::CONFIG;

/// A soak: its length and seed; a line of figures, or what went wrong.
pub type Soak = fn(Duration, u64) -> Result<String, String>;

/// Each read or write waits at most this long for the other side.
const TIMEOUT: Duration = Duration::from_millis(20);
/// How much later than its timeout a call may return before it counts as hung: far above
/// any scheduling delay, far below a hang.
const SLACK: Duration = Duration::from_secs(2);
/// How long the child gets to start, and to end after its time is up.
const GRACE: Duration = Duration::from_secs(10);

/// The hostile child, killed and reaped if the soak ends early.
struct Hostile {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Hostile {
    fn start(role: &str, name: &str, seed: u64, length: Duration) -> Result<Hostile, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut child = Command::new(exe)
            .args(["--hostile", role, name, &seed.to_string()])
            .arg(length.as_secs().to_string())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the hostile {role}: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let mut hostile = Hostile { child, lines };
        match hostile.lines.recv_timeout(GRACE) {
            Ok(line) if line == "ready" => Ok(hostile),
            other => Err(format!(
                "the hostile {role} did not get ready ({other:?}; {})",
                hostile.state()
            )),
        }
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn state(&mut self) -> String {
        exit_state(&mut self.child)
    }

    /// Its exit, within `GRACE`.
    fn finish(&mut self) -> Result<ExitStatus, String> {
        wait_exit(&mut self.child, GRACE)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("the hostile child did not end within {GRACE:?}"))
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        if self.running() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// The variant of an error, for the tally.
fn kind(error: &Error) -> String {
    let debug = format!("{error:?}");
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// What our side saw.
#[derive(Default)]
struct Tally {
    frames: u64,
    errors: BTreeMap<String, u64>,
}

impl Tally {
    fn error(&mut self, error: &Error) {
        *self.errors.entry(kind(error)).or_default() += 1;
    }

    fn line(&self, what: &str) -> String {
        let errors: Vec<String> = self
            .errors
            .iter()
            .map(|(k, n)| format!("{k} x{n}"))
            .collect();
        format!(
            "{} {what}, typed errors: {}",
            self.frames,
            errors.join(", ")
        )
    }
}

/// Fails when a call took longer than its timeout allows.
fn bounded(started: Instant, what: &str) -> Result<(), String> {
    let took = started.elapsed();
    if took > TIMEOUT + SLACK {
        return Err(format!(
            "{what} took {took:?} with a {TIMEOUT:?} timeout: hung"
        ));
    }
    Ok(())
}

/// The child's end, our endpoint's end, and nothing of the buffer left once cleaned.
fn settle<T>(mut hostile: Hostile, endpoint: T, name: &str) -> Result<(), String> {
    let status = hostile.finish()?;
    drop(endpoint);
    if !status.success() {
        return Err(format!("the hostile child failed: {status}"));
    }
    clean_stale(name).map_err(|e| format!("clean {name}: {e}"))?;
    let left = leftovers(name);
    if !left.is_empty() {
        return Err(format!("left behind after clean: {left:?}"));
    }
    Ok(())
}

/// Our reader against a hostile writer.
pub fn our_reader(length: Duration, seed: u64) -> Result<String, String> {
    let name = unique_name("soak_reader");
    let reader = Reader::create(&name, CONFIG).map_err(|e| format!("create: {e}"))?;
    let payload = CONFIG.payload_block() as usize;
    let mut hostile = Hostile::start("writer", &name, seed, length)?;
    let mut tally = Tally::default();
    while hostile.running() {
        let started = Instant::now();
        match reader.read_frame(TIMEOUT) {
            Ok(frame) => {
                let len = frame.data().len();
                if len == 0 || len > payload {
                    return Err(format!(
                        "handed out a frame of {len} bytes (ring: {payload})"
                    ));
                }
                tally.frames += 1;
            }
            Err(e) => tally.error(&e),
        }
        bounded(started, "read_frame")?;
    }
    settle(hostile, reader, &name)?;
    Ok(tally.line("frames read"))
}

/// Our writer against a hostile reader.
pub fn our_writer(length: Duration, seed: u64) -> Result<String, String> {
    let name = unique_name("soak_writer");
    let mut hostile = Hostile::start("reader", &name, seed, length)?;
    let mut writer = Writer::connect(&name).map_err(|e| format!("connect: {e}"))?;
    writer.set_write_timeout(TIMEOUT);
    let mut rng = fastrand::Rng::with_seed(seed);
    let data: Vec<u8> = (0..8192u32).map(|i| i as u8).collect();
    let mut tally = Tally::default();
    while hostile.running() {
        let len = rng.usize(1..=data.len());
        let started = Instant::now();
        let outcome = if rng.bool() {
            writer.write_frame(&data[..len]).map(drop)
        } else {
            writer.get_frame_buffer(len).and_then(|mut slot| {
                if slot.len() != len {
                    return Err(Error::InvalidOperation("a slot of the wrong size"));
                }
                slot.copy_from_slice(&data[..len]);
                slot.commit();
                Ok(())
            })
        };
        match outcome {
            Ok(()) => tally.frames += 1,
            Err(e) => tally.error(&e),
        }
        bounded(started, "a write")?;
    }
    settle(hostile, writer, &name)?;
    Ok(tally.line("frames written"))
}
