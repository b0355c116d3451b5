//! 14.3: the cost of wrapping, measured against a ring where frames tile exactly.

use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use cucumber::{given, then, when};
use zerobuffer::testdata::frame_data;
use zerobuffer::{align_to_block, BufferConfig, Reader, Writer};

use crate::captures::{Percent, Ratio};
use crate::drivers::bench::BENCH_READ_TIMEOUT;
use crate::drivers::explain::Explain as _;
use crate::drivers::ring::HEADER;
use crate::drivers::roles::test_subject;
use crate::drivers::scale;
use crate::world::ZbWorld;

/// Frame of 14.3: with its header exactly 64 KiB, so a ring of one frame tiles perfectly.
const WRAP_FRAME: usize = (64 << 10) - HEADER as usize;
/// Rounds of each ring, alternating; the overhead compares the best round of each.
const ROUNDS: usize = 21;

#[given(regex = r"^buffer size is '([^']*)' frame size to force wrap$")]
fn buffer_size_forces_wrap(world: &mut ZbWorld, ratio: Ratio) -> Result<()> {
    let Ratio(ratio) = ratio;
    // Between one and two frames: every frame after the first must wrap to fit.
    ensure!(
        ratio > 1.0 && ratio < 2.0,
        "a ring of {ratio} frames does not force a wrap on every frame"
    );
    test_subject(world)?.measurement.wrap.ratio = Some(ratio);
    Ok(())
}

/// One ring of the comparison: its endpoints and what went through it.
struct Ring {
    reader: Reader,
    writer: Writer,
    frames: u64,
}

impl Ring {
    fn create(name: &str, payload: usize) -> Result<Ring> {
        let reader = Reader::create(name, BufferConfig::new(0, payload))
            .with_context(|| format!("creating '{name}'"))?;
        let writer = Writer::connect(name).with_context(|| format!("connecting to '{name}'"))?;
        Ok(Ring {
            reader,
            writer,
            frames: 0,
        })
    }

    /// Time per frame of `n` frames, each written, read, checked and released in turn by this
    /// one thread: no hand-over between threads, whose scheduling noise would drown the
    /// cost being measured.
    fn round(&mut self, data: &[u8], n: usize) -> Result<Duration> {
        let start = Instant::now();
        for _ in 0..n {
            self.writer.write_frame(data)?;
            let frame = self.reader.read_frame(BENCH_READ_TIMEOUT)?;
            ensure!(
                frame.data() == data,
                "frame {} arrived altered",
                frame.sequence()
            );
        }
        self.frames += n as u64;
        Ok(start.elapsed() / n as u32)
    }

    /// Wrap markers written: ring entries beyond the frames.
    fn markers(&self) -> Result<u64> {
        let o = self.reader.oieb_snapshot();
        ensure!(
            o.payload_free_bytes == o.payload_size,
            "the ring is not empty after the run"
        );
        Ok(o.payload_written_count - self.frames)
    }
}

/// Runs both rings in alternating rounds (which goes first alternates too), so that a shift
/// in the machine's load hits both alike. The second step checks and reports the tiling half.
#[when(regex = r"^measure performance with wrap-around$")]
fn measure_with_wrap(world: &mut ZbWorld) -> Result<()> {
    let (wrap_name, tile_name) = (
        world.buffer_name("test-wrap-overhead-wrapping"),
        world.buffer_name("test-wrap-overhead-tiling"),
    );
    let bench = &mut test_subject(world)?.measurement.wrap;
    let ratio = bench.ratio.context("no ring size was given")?;
    let frame = WRAP_FRAME as u64 + HEADER;
    let payload = align_to_block((ratio * frame as f64).ceil() as u64) as usize;
    let mut wrapping = Ring::create(&wrap_name, payload)?;
    // A ring of exactly one frame: every frame starts at 0 with no marker and no waste, as
    // every frame after the first does in the wrapping ring.
    let mut tiling = Ring::create(&tile_name, frame as usize)?;
    let per_round = (scale::count(100_000, (ROUNDS * 1000) as u64)? as usize).div_ceil(ROUNDS);
    let data = frame_data(WRAP_FRAME, 0);
    // Warm both up (page faults, caches) before anything counts.
    wrapping.round(&data, 50)?;
    tiling.round(&data, 50)?;
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        if round % 2 == 0 {
            with.push(wrapping.round(&data, per_round)?);
            without.push(tiling.round(&data, per_round)?);
        } else {
            without.push(tiling.round(&data, per_round)?);
            with.push(wrapping.round(&data, per_round)?);
        }
    }
    // Every frame but the very first went through a wrap marker.
    let markers = wrapping.markers()?;
    ensure!(
        markers == wrapping.frames - 1,
        "{markers} wrap markers for {} frames in a ring of {payload} bytes",
        wrapping.frames
    );
    ensure!(
        tiling.markers()? == 0,
        "wrap markers in a ring of exactly one frame"
    );
    (bench.wrapping, bench.tiling) = (with, without);
    Ok(())
}

#[when(regex = r"^measure performance without wrap-around$")]
fn measure_without_wrap(world: &mut ZbWorld) -> Result<()> {
    let bench = &mut test_subject(world)?.measurement.wrap;
    ensure!(
        bench.tiling.len() == ROUNDS && bench.wrapping.len() == ROUNDS,
        "the rounds without wrap-around run alternately with those of the measurement with \
         it, which has not run"
    );
    tracing::info!(rounds = ?bench.tiling, "time per frame without wrap-around");
    bench.tiling_checked = true;
    Ok(())
}

#[then(regex = r"^calculate overhead percentage$")]
fn calculate_overhead(world: &mut ZbWorld) -> Result<()> {
    let bench = &mut test_subject(world)?.measurement.wrap;
    ensure!(bench.tiling_checked, "no run without wrap-around");
    ensure!(
        bench
            .wrapping
            .iter()
            .chain(&bench.tiling)
            .all(|t| !t.is_zero()),
        "a round took no time"
    );
    // The fastest round of each ring: load on a shared machine only ever slows a round down,
    // so the best one is the ring's own cost (a median still moved with sustained load).
    let best = |rounds: &[Duration]| rounds.iter().min().copied().unwrap_or_default();
    let (with, without) = (best(&bench.wrapping), best(&bench.tiling));
    let overhead = 100.0 * (with.as_secs_f64() / without.as_secs_f64() - 1.0);
    tracing::info!(
        rounds_with = ?bench.wrapping,
        rounds_without = ?bench.tiling,
        ?with,
        ?without,
        overhead_pct = overhead,
        "wrap-around overhead per frame (best of the alternating rounds)"
    );
    bench.overhead_pct = Some(overhead);
    Ok(())
}

#[then(regex = r"^expect less than '([^']*)' performance impact$")]
fn expect_wrap_impact(world: &mut ZbWorld, limit: Percent) -> Result<()> {
    // The overhead is kept in percent, as reported.
    let limit = limit.0 * 100.0;
    let overhead = test_subject(world)?
        .measurement
        .wrap
        .overhead_pct
        .context("no overhead was calculated")?;
    ensure!(
        overhead < limit,
        "wrapping makes each frame {overhead:.1}% slower (best of {ROUNDS} alternating \
         rounds each), not less than {limit}%"
    );
    Ok(())
}
