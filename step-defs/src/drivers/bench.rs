//! Benchmark runs inside a scenario's processes: the ring fits the sizes, a bench job drains.

use std::time::Duration;

use anyhow::{ensure, Result};
use zerobuffer::Writer;

use crate::drivers::drain::DrainRequest;
use crate::drivers::explain::Explain as _;
use crate::drivers::ring::HEADER;
use crate::world::ZbWorld;

/// A read wait inside a benchmark: generous, only a stalled peer exceeds it.
pub(crate) const BENCH_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Fails, saying why, unless frames of every size in `sizes` can be written from any ring
/// position of the current process's writer (a frame that can wrap needs twice its room).
pub(crate) fn check_fits(world: &mut ZbWorld, sizes: &[usize]) -> Result<()> {
    let payload = world.current()?.with_writer(|w| w.payload_size())?;
    for &size in sizes {
        let needed = 2 * (size as u64 + HEADER);
        ensure!(
            needed <= payload,
            "a frame of {size} bytes can never fit the {payload}-byte ring from every \
             position: with its {HEADER}-byte header, and room to wrap, it needs {needed} bytes"
        );
    }
    Ok(())
}

/// Runs `work` with the current process's writer in the background job `label`, with a drain
/// of the reader requested (each frame held for `hold`) and started; when `work` is done the
/// job waits until the reader has taken every frame and withdraws the request.
pub(crate) fn spawn_bench<T: Send + 'static>(
    world: &mut ZbWorld,
    label: &str,
    hold: Duration,
    work: impl FnOnce(&mut Writer) -> Result<T> + Send + 'static,
) -> Result<()> {
    let state = world.current()?;
    let writer = state.writer()?;
    let buffer = state.buffer()?.to_owned();
    state.jobs.spawn(label, move |_stop| {
        let mut guard = writer.lock();
        let writer = guard.as_mut().context("the writer is closed")?;
        let request = DrainRequest::new(&buffer, hold)?;
        request.await_start(writer, 64)?;
        let result = work(writer)?;
        request.finish(writer)?;
        Ok(result)
    })
}
