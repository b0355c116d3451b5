//! The reader's standby drain: how a step routed to the writer gets the reader to consume.
//!
//! Harmony routes every step of a measurement (9.1, 11.3, 14.1, 14.2, 14.6) to the writer,
//! so nothing in the scenario's text makes the reader read. As `steps.md` suggests, the
//! reader's create step starts a standby job instead. It does nothing until a writer asks for
//! a drain by creating the request file `/tmp/zerobuffer/<buffer>.drain` (the file's text is
//! how long the reader holds each frame, in microseconds; empty for no hold). Then it reads
//! every frame, checks it against the seeded pattern (frame `n` carries the bytes of
//! `generate_frame_data(size, n)`) and releases it, until the writer removes the file (once
//! the OIEB shows every frame taken) or goes away. A corrupt frame fails the job, which fails
//! the scenario at its end, in-process and through harmony alike.
//!
//! The file works the same whether the reader lives in this process or in another serve of
//! ours; a reader of another implementation starts no standby, and the writer's measuring
//! step then fails saying so. The job holds only a weak reference to the reader, so a reader
//! closed or crashed by a later step is never kept alive by it.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use std::{fs, thread};

use anyhow::{anyhow, bail, Result};
use zerobuffer::testdata::first_frame_data_mismatch;
use zerobuffer::{Error, Reader, Writer, LOCK_DIR};

use crate::drivers::explain::Explain as _;
use crate::drivers::jobs::StopFlag;
use crate::drivers::poll::spin_until;
use crate::drivers::streams::write_seeded;
use crate::world::{ProcessState, ZbWorld, JOIN_TIMEOUT};

const STANDBY_JOB: &str = "standby-drain";
/// How often an idle standby looks for a request (a stat of a missing file).
const REQUEST_POLL: Duration = Duration::from_millis(5);
/// A draining reader waits this long for a frame before it checks whether the request stands.
const FRAME_POLL: Duration = Duration::from_millis(20);
/// How long a writer waits for the reader to start draining.
const DRAIN_START_TIMEOUT: Duration = Duration::from_secs(10);

fn request_path(buffer: &str) -> PathBuf {
    Path::new(LOCK_DIR).join(format!("{buffer}.drain"))
}

/// Starts (or restarts, for a new reader) the standby drain of `state`'s reader of `buffer`.
pub fn start_standby(state: &mut ProcessState, reader: &Arc<Reader>, buffer: &str) -> Result<()> {
    if state.jobs.is_running(STANDBY_JOB) {
        state.jobs.request_stop(STANDBY_JOB)?;
        state.jobs.join::<u64>(STANDBY_JOB, JOIN_TIMEOUT)?;
    }
    let reader = Arc::downgrade(reader);
    let path = request_path(buffer);
    state
        .jobs
        .spawn(STANDBY_JOB, move |stop| standby(&reader, &path, &stop))
}

/// Waits for requests and serves them; returns the frames drained in all.
fn standby(reader: &Weak<Reader>, path: &Path, stop: &StopFlag) -> Result<u64> {
    let mut drained = 0;
    while !stop.is_set() {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                thread::sleep(REQUEST_POLL);
                continue;
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let hold = parse_hold(&text).with_context(|| format!("the request {}", path.display()))?;
        let Some(reader) = reader.upgrade() else {
            bail!(
                "a drain was requested ({}) but this process's reader is closed",
                path.display()
            );
        };
        let n = drain(&reader, path, hold, stop)?;
        tracing::debug!(frames = n, ?hold, "drain finished");
        drained += n;
    }
    Ok(drained)
}

fn parse_hold(text: &str) -> Result<Duration> {
    match text.trim() {
        "" => Ok(Duration::ZERO),
        t => t
            .parse()
            .map(Duration::from_micros)
            .with_context(|| format!("'{t}' is not a hold time in microseconds")),
    }
}

/// Reads, checks and releases frames until the request is withdrawn or the writer is gone.
fn drain(reader: &Reader, path: &Path, hold: Duration, stop: &StopFlag) -> Result<u64> {
    let mut frames = 0;
    while !stop.is_set() {
        match reader.read_frame(FRAME_POLL) {
            Ok(frame) => {
                if let Some(at) = first_frame_data_mismatch(frame.data(), frame.sequence()) {
                    bail!(
                        "frame {} ({} bytes) differs from its seeded pattern at byte {at}",
                        frame.sequence(),
                        frame.data().len()
                    );
                }
                if !hold.is_zero() {
                    thread::sleep(hold);
                }
                frames += 1;
            }
            Err(Error::Timeout(_)) if !path.exists() => break,
            Err(Error::Timeout(_)) => {}
            Err(Error::WriterDead) => {
                // Nobody is left to withdraw the request.
                let _ = fs::remove_file(path);
                break;
            }
            Err(e) => return Err(e).with_context(|| format!("draining after {frames} frames")),
        }
    }
    Ok(frames)
}

/// A writer's standing request that the reader drain its buffer; withdrawn on drop.
pub struct DrainRequest {
    path: PathBuf,
}

impl DrainRequest {
    /// Asks the reader of `buffer` to drain it, holding each frame for `hold`.
    pub fn new(buffer: &str, hold: Duration) -> Result<Self> {
        let path = request_path(buffer);
        fs::create_dir_all(LOCK_DIR).with_context(|| format!("creating {LOCK_DIR}"))?;
        let text = match hold.is_zero() {
            true => String::new(),
            false => hold.as_micros().to_string(),
        };
        fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        Ok(DrainRequest { path })
    }

    /// Writes one seeded frame of `size` bytes and waits until the reader has taken it: the
    /// drain has started. Fails, saying why, when no reader drains.
    pub fn await_start(&self, writer: &mut Writer, size: usize) -> Result<()> {
        write_seeded(writer, size)?;
        wait_taken(writer, Instant::now() + DRAIN_START_TIMEOUT).with_context(|| {
            format!(
                "no reader drained the buffer within {DRAIN_START_TIMEOUT:?} of the request {}: \
                 the reader's create step starts a standby drain in the Rust steps only; a \
                 reader of another implementation does not consume frames the scenario's text \
                 never asks it to read",
                self.path.display()
            )
        })
    }

    /// Waits until the reader has taken every frame, then withdraws the request.
    pub fn finish(self, writer: &Writer) -> Result<()> {
        wait_taken(writer, Instant::now() + JOIN_TIMEOUT)
    }
}

impl Drop for DrainRequest {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Waits until the reader, wherever it lives, has taken every entry written (the OIEB's
/// counts agree), spinning briefly between looks so that latencies stay measurable.
pub fn wait_taken(writer: &Writer, limit: Instant) -> Result<()> {
    let taken = || {
        let o = writer.oieb_snapshot();
        o.payload_read_count == o.payload_written_count
    };
    spin_until(limit, "the reader taking every entry", taken).map_err(|_| {
        let o = writer.oieb_snapshot();
        anyhow!(
            "the reader took {} of {} ring entries",
            o.payload_read_count,
            o.payload_written_count
        )
    })
}

/// The one buffer this scenario's run created, for a writer step that must connect although
/// the scenario never says to what (14.6's "is configured to be faster than reader"). Buffer
/// names end in the run's suffix (see [`crate::drivers::naming`]), so the run's buffer is the one
/// `/dev/shm` entry with that suffix that is not a semaphore.
pub fn scenario_buffer(world: &ZbWorld) -> Result<String> {
    let suffix = world.names.suffix();
    let mut found: Vec<String> = fs::read_dir("/dev/shm")
        .context("listing /dev/shm")?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(suffix) && !n.starts_with("sem."))
        .collect();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => bail!("no buffer of this run (a name ending in '{suffix}') exists to connect to"),
        _ => {
            found.sort();
            bail!(
                "this run has several buffers ({}): which one is meant is not said",
                found.join(", ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::jobs::Jobs;
    use zerobuffer::BufferConfig;

    /// A reader of a fresh buffer with its standby started, and a writer.
    fn standby_pair(base: &str) -> (Arc<Reader>, Writer, Jobs, String) {
        let name = format!("{base}_{}", std::process::id());
        let reader = Arc::new(Reader::create(&name, BufferConfig::new(0, 4096)).unwrap());
        let writer = Writer::connect(&name).unwrap();
        let mut jobs = Jobs::default();
        let (weak, path) = (Arc::downgrade(&reader), request_path(&name));
        jobs.spawn(STANDBY_JOB, move |stop| standby(&weak, &path, &stop))
            .unwrap();
        (reader, writer, jobs, name)
    }

    #[test]
    fn a_requested_drain_takes_every_frame_and_ends_when_withdrawn() {
        let (_reader, mut writer, mut jobs, name) = standby_pair("drain-ok");
        let request = DrainRequest::new(&name, Duration::ZERO).unwrap();
        request.await_start(&mut writer, 64).unwrap();
        for size in [1, 100, 1000, 2000] {
            write_seeded(&mut writer, size).unwrap();
        }
        request.finish(&writer).unwrap();
        assert!(
            !request_path(&name).exists(),
            "the request was not withdrawn"
        );
        jobs.request_stop(STANDBY_JOB).unwrap();
        assert_eq!(jobs.join::<u64>(STANDBY_JOB, JOIN_TIMEOUT).unwrap(), 5);
    }

    #[test]
    fn a_frame_without_its_seeded_pattern_fails_the_drain() {
        let (_reader, mut writer, mut jobs, name) = standby_pair("drain-corrupt");
        let _request = DrainRequest::new(&name, Duration::ZERO).unwrap();
        writer.write_frame(&[0u8; 300]).unwrap();
        let e = jobs.join::<u64>(STANDBY_JOB, JOIN_TIMEOUT).unwrap_err();
        assert!(
            format!("{e:#}")
                .contains("frame 1 (300 bytes) differs from its seeded pattern at byte 0"),
            "{e:#}"
        );
    }

    #[test]
    fn without_a_draining_reader_the_writer_is_told_why() {
        let name = format!("drain-none_{}", std::process::id());
        let _reader = Reader::create(&name, BufferConfig::new(0, 4096)).unwrap();
        let mut writer = Writer::connect(&name).unwrap();
        let request = DrainRequest::new(&name, Duration::ZERO).unwrap();
        write_seeded(&mut writer, 10).unwrap();
        let e = wait_taken(&writer, Instant::now() + Duration::from_millis(50)).unwrap_err();
        assert!(e.to_string().contains("took 0 of 1"), "{e}");
        drop(request);
        assert!(!request_path(&name).exists());
    }

    #[test]
    fn a_request_says_how_long_each_frame_is_held() {
        assert_eq!(parse_hold(" 2000\n").unwrap(), Duration::from_millis(2));
        assert!(parse_hold("2ms").is_err());
    }
}
