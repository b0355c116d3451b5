//! `zerobuffer write`: connect to a buffer as its writer and write test-pattern frames.

use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use zerobuffer::testdata::fill_frame_data;
use zerobuffer::{Error, Writer};

use crate::signals::{self, POLL_SLICE};
use crate::sizes::FrameSizes;
use crate::summary::Summary;
use crate::WriteArgs;

/// Pause between connection attempts while the reader is not there yet.
const CONNECT_RETRY: Duration = Duration::from_millis(20);

pub fn run(args: &WriteArgs) -> Result<()> {
    let sizes = match args.sizes {
        Some(sizes) => sizes,
        None => FrameSizes::fixed(args.size).context("--size must be at least 1")?,
    };
    let timeout = Duration::from_millis(args.timeout_ms);
    let mut writer = connect(&args.name, timeout)?;
    writer.set_wait_strategy(args.wait);
    let started = Instant::now();
    let mut summary = Summary::default();
    let outcome = write_all(&mut writer, args, sizes, timeout, &mut summary);
    summary.set_elapsed(started.elapsed());
    // Disconnect (clears writer_pid) before reporting.
    drop(writer);
    summary
        .print(args.json, "wrote", false)
        .context("cannot print the summary")?;
    outcome
}

/// Connects, retrying until `timeout` while the buffer is missing or still being created.
fn connect(name: &str, timeout: Duration) -> Result<Writer> {
    let deadline = Instant::now() + timeout;
    loop {
        signals::check()?;
        match Writer::connect(name) {
            Ok(writer) => return Ok(writer),
            // A reader that is starting: no segment yet, a segment without its OIEB yet, or
            // no reader pid yet (it is stored last).
            Err(
                e @ (Error::BufferNotFound { .. } | Error::NoReader(_) | Error::InvalidOieb(_)),
            ) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(e).with_context(|| {
                        format!(
                            "cannot connect to buffer {name:?} within {} ms",
                            timeout.as_millis()
                        )
                    });
                }
                tracing::debug!(error = %e, "buffer not ready yet; retrying");
                thread::sleep(CONNECT_RETRY.min(left));
            }
            Err(e) => return Err(e).with_context(|| format!("cannot connect to buffer {name:?}")),
        }
    }
}

fn write_all(
    writer: &mut Writer,
    args: &WriteArgs,
    sizes: FrameSizes,
    timeout: Duration,
    summary: &mut Summary,
) -> Result<()> {
    if let Some(text) = &args.metadata {
        writer
            .set_metadata(text.as_bytes())
            .context("cannot write the metadata")?;
        summary.metadata_len = text.len() as u64;
    }
    for i in 1..=args.frames {
        signals::check()?;
        let size = sizes.size_of(i);
        let len = usize::try_from(size).context("frame size does not fit in memory")?;
        write_frame(writer, len, timeout)
            .with_context(|| format!("cannot write frame {i} ({size} bytes)"))?;
        summary.frames += 1;
        summary.bytes += size;
    }
    Ok(())
}

/// Writes one pattern frame in place (zero-copy), waiting up to `timeout` for space in slices
/// of at most [`POLL_SLICE`] so that a signal is noticed.
fn write_frame(writer: &mut Writer, len: usize, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let slice = deadline
            .saturating_duration_since(Instant::now())
            .min(POLL_SLICE);
        writer.set_write_timeout(slice);
        match writer.get_frame_buffer(len) {
            Ok(mut slot) => {
                // The frame's number is its sequence: byte j = (j + i) % 256.
                let sequence = slot.sequence();
                fill_frame_data(&mut slot, sequence);
                slot.commit();
                return Ok(());
            }
            Err(Error::BufferFull) if Instant::now() < deadline => signals::check()?,
            Err(Error::BufferFull) => {
                return Err(Error::BufferFull)
                    .with_context(|| format!("no space within {} ms", timeout.as_millis()))
            }
            Err(e) => return Err(e.into()),
        }
    }
}
