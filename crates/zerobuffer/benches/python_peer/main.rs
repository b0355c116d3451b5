//! Frame throughput across processes between our library and the real Python peer (PyPI
//! `zerobuffer-ipc`, module `zerobuffer`, installed in `.venv/` by `scripts/install-peers.sh`).
//!
//! ```text
//! cargo bench -p zerobuffer --bench python_peer              # ~1 s per row, 7 rounds
//! cargo bench -p zerobuffer --bench python_peer -- --quick   # ~0.2 s per row
//! cargo bench -p zerobuffer --bench python_peer -- 64KiB     # cases whose name has a word
//! ZEROBUFFER_BENCH_SECONDS=3 ZEROBUFFER_BENCH_ROUNDS=9 cargo bench -p zerobuffer --bench python_peer
//! ```
//!
//! Cases: 1 KiB and 64 KiB frames in a 1 MiB ring (1 KiB metadata block), copy mode only:
//! every writer calls `write_frame` with one prepared source; every reader takes each frame,
//! checks its length, adds its first and last byte and releases it (the same minimal work in
//! Python and in Rust). Throughput counts payload bytes only.
//!
//! Each case runs five pairings with the same frame count, each in its own two processes: a
//! reader (which creates the buffer) and a writer, either `peer.py` under the venv's Python
//! or this binary re-executed as our `Reader` / `Writer` (`roles.rs`); this process only
//! coordinates them over stdin/stdout lines, and pins the reader to one core and the writer
//! to another (`common/cores.rs`). `python -> python` is the baseline; `python -> our
//! reader` and `our writer -> python` swap one side for ours; `our spinning writer ->
//! python` is ours with `WaitStrategy::spin_then_block()`; `ours -> ours` is ours on both
//! sides. Under each case a line gives each side's sleeps per 1000 frames (`common/sleeps.rs`):
//! a writer faster than its reader sleeps on every frame it finds no room for, and the
//! reader's release then has to wake it.
//!
//! Timing excludes interpreter start-up and buffer creation: every session has its own buffer;
//! the reader creates it and says `ready`, the writer connects and says `ready`, then two
//! rings' worth of frames go through untimed. For the timed job the reader is told how many
//! frames to expect, and **this process measures** from writing the `go` line to the writer's
//! stdin until it receives the reader's `done` line, which the reader prints after releasing
//! the last frame (so the time includes two pipe hops, tens of microseconds, alike for every
//! pairing). The reader's `done` line carries the sum of the bytes it touched, which is
//! checked. Rounds interleave the pairings (order rotated each round); rows show the median
//! time, and each ratio is the median of the per-round ratios (see `report.rs`), with their
//! spread. Nothing asserts on time. The frame count is calibrated on the (slow) baseline, so
//! an `ours -> ours` job lasts only a millisecond or so and its spread is large.
//!
//! Every wait (on a process's line, on a frame, for space, for an exit) is bounded by 10 s,
//! so a stuck peer fails the bench; on an error both processes are killed and the buffer's
//! leftovers removed. Buffers are named `zb_bench_py_…`, and each is checked for leftovers at
//! the end.
//!
//! Without the peer (no `.venv/bin/python`, or no `zerobuffer` module in it) the bench prints
//! one line saying it is skipped and exits 0. Without `--bench` (`cargo test --benches`) it is
//! a smoke run of a few frames per pairing.

#[path = "../common/cases.rs"]
mod cases;
#[path = "../common/child.rs"]
mod child;
#[path = "../common/cores.rs"]
mod cores;
#[path = "../common/names.rs"]
mod names;
#[path = "../common/options.rs"]
mod options;
mod process;
mod python;
mod report;
mod roles;
#[path = "../common/rounds.rs"]
mod rounds;
mod session;
#[path = "../common/sleeps.rs"]
mod sleeps;
#[path = "../common/svg.rs"]
mod svg;

use std::error::Error;
use std::time::Duration;

use cases::{warm_frames, SizeCase, FRAME_HEADER, KIB, MIB};
use cores::Placement;
use names::BufferNames;
use options::Options;
use python::PythonPeer;
use report::Row;
use session::{Pairing, Session, BASELINE, PAIRINGS};
use sleeps::{print_sleeps, SleepRow, Sleeps};

type BoxResult<T> = Result<T, Box<dyn Error>>;

/// Bound on every wait: a stuck peer fails the bench, it does not hang it.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Frames per timed job in a smoke run.
const SMOKE_FRAMES: u64 = 16;
/// The metadata block of every buffer (nothing is written to it).
const METADATA: usize = 1024;
/// Rounds of a `cargo bench` run.
const BENCH_ROUNDS: usize = 7;

// Why a plain 1 MiB ring is safe from the Python writer's defects (README "The Python peer").
// All frames of a session have one size, so a frame occupies T = len + 16 bytes and, since
// every wrap restarts at 0, the frames of each lap end at T, 2T, … The writer wraps when the
// next frame does not fit, leaving a tail of P mod T bytes (P = ring size):
// - §12.5 (Python `write_frame` writes past the segment end) needs a frame ending exactly at
//   the ring end, i.e. P mod T == 0;
// - §12.4 (no marker, a tail the Python reader cannot parse) needs P mod T in 1..=15.
// With P = 2^20: 1 KiB frames, T = 1040 = 16 * 65, 1008 frames per lap, tail 256;
// 64 KiB frames, T = 65552 = 16 * 4097, 15 frames per lap, tail 65296. T = 16 * odd never
// divides 2^20, and both tails hold a wrap marker, so neither defect can be hit and the ring
// stays exactly 1 MiB. The `const _` below checks this for every case at compile time.
const SIZES: [SizeCase; 2] = [
    SizeCase {
        label: "1KiB",
        len: KIB,
        ring: MIB,
    },
    SizeCase {
        label: "64KiB",
        len: 64 * KIB,
        ring: MIB,
    },
];

/// Every ring is a multiple of 64 and leaves a tail of at least one header (see above).
const _: () = {
    let mut i = 0;
    while i < SIZES.len() {
        let tail = SIZES[i].ring % (SIZES[i].len + FRAME_HEADER);
        assert!(SIZES[i].ring.is_multiple_of(64) && tail >= FRAME_HEADER);
        i += 1;
    }
};

/// Frames per job so that one job takes about `seconds / rounds`, measured on the baseline:
/// double a probe until it runs long enough to give a usable rate.
fn calibrate(
    size: &SizeCase,
    peer: &PythonPeer,
    placement: Placement,
    options: &Options,
    names: &mut BufferNames,
) -> BoxResult<u64> {
    let per_round = options.seconds / options.rounds as f64;
    let warm = warm_frames(size);
    let name = names.fresh();
    let mut session = Session::open(BASELINE, peer, placement, &name, size.ring, size.len, warm)?;
    let frames = rounds::calibrate_frames(per_round, warm, |frames| {
        session.run(frames).map(|(elapsed, _)| elapsed)
    })?;
    session.close()?;
    Ok(frames.max(SMOKE_FRAMES))
}

/// One round of one pairing: a fresh session, warmed up, one timed job of `frames` frames,
/// and how often each side slept in it.
fn timed_session(
    pairing: Pairing,
    size: &SizeCase,
    frames: u64,
    peer: &PythonPeer,
    placement: Placement,
    name: &str,
) -> BoxResult<(Duration, Sleeps)> {
    let warm = warm_frames(size);
    let mut session = Session::open(pairing, peer, placement, name, size.ring, size.len, warm)?;
    let timed = session.run(frames)?;
    session.close()?;
    Ok(timed)
}

/// All four pairings of one case, interleaved over the rounds.
fn bench_case(
    size: &SizeCase,
    peer: &PythonPeer,
    placement: Placement,
    options: &Options,
    names: &mut BufferNames,
) -> BoxResult<(Vec<Row>, Vec<SleepRow<Pairing>>)> {
    let case = format!("{} copy", size.label);
    let frames = if options.bench {
        calibrate(size, peer, placement, options, names)
            .map_err(|e| format!("{case} calibration: {e}"))?
    } else {
        SMOKE_FRAMES
    };
    let mut rows = Row::for_pairings(&case, &PAIRINGS, frames, size.len);
    let mut sleeps: Vec<SleepRow<Pairing>> = PAIRINGS.iter().map(|&p| SleepRow::new(p)).collect();
    rounds::interleave(&mut rows, options.rounds, |row| {
        let (elapsed, slept) =
            timed_session(row.pairing, size, frames, peer, placement, &names.fresh())
                .map_err(|e| format!("{case} {}: {e}", row.pairing.label))?;
        if let Some(counted) = sleeps.iter_mut().find(|s| s.pairing == row.pairing) {
            counted.add(slept, frames);
        }
        Ok(elapsed)
    })?;
    Ok((rows, sleeps))
}

fn run(
    peer: &PythonPeer,
    placement: Placement,
    options: &Options,
    names: &mut BufferNames,
) -> BoxResult<()> {
    report::print_header();
    let mut all = Vec::new();
    for size in &SIZES {
        if !options.selects(&format!("{} copy", size.label)) {
            continue;
        }
        let (rows, sleeps) = bench_case(size, peer, placement, options, names)?;
        report::print_rows(&rows);
        print_sleeps(&sleeps);
        all.push((size.label, rows));
    }
    report::chart(&all, &peer.version)?;
    if !options.bench {
        println!("smoke run (no --bench, possibly unoptimised, {SMOKE_FRAMES} frames): the numbers mean nothing");
    }
    Ok(())
}

fn main() -> BoxResult<()> {
    if let Some(outcome) = roles::child_main() {
        return outcome;
    }
    let peer = match python::find()? {
        Ok(peer) => peer,
        Err(why) => {
            println!("zerobuffer python_peer: skipped: {why}");
            return Ok(());
        }
    };
    let options = Options::parse(BENCH_ROUNDS);
    let placement = Placement::choose()?;
    let budget = if options.bench {
        format!("{:.2} s per row", options.seconds)
    } else {
        format!("smoke run, {SMOKE_FRAMES} frames per job")
    };
    println!(
        "zerobuffer python_peer: ours vs the Python peer (zerobuffer-ipc {}), across processes; \
         {budget} in {} round(s); median; payload bytes only; {}",
        peer.version,
        options.rounds,
        placement.describe("reader", "writer")
    );
    let mut names = BufferNames::new("py");
    let outcome = run(&peer, placement, &options, &mut names);
    names.warn_about_leftovers();
    outcome
}
