//! Our `Reader`/`Writer` beside a bare-protocol baseline: a reader and a writer written plainly
//! in this bench (`bare.rs`) that do only the steps of protocol.md §3.3/§3.4 and §3.6. The
//! ratio to the baseline is what the library's own machinery costs.
//!
//! ```text
//! cargo bench -p zerobuffer --bench bare_protocol              # ~1 s per row, 7 rounds
//! cargo bench -p zerobuffer --bench bare_protocol -- --quick   # ~0.2 s per row
//! cargo bench -p zerobuffer --bench bare_protocol -- 64KiB     # cases whose name has a word
//! ZEROBUFFER_BENCH_SECONDS=3 ZEROBUFFER_BENCH_ROUNDS=9 cargo bench -p zerobuffer --bench bare_protocol
//! ```
//!
//! Cases are a frame size (1 KiB and 64 KiB in a 1 MiB ring, 1 MiB in a 16 MiB ring) and a
//! mode. `copy`: the writer copies from a source slice (`write_frame` / bare copy), the reader
//! copies each frame into a private reused `Vec`. `zero-copy`: the writer fills the ring slot
//! in place (`get_frame_buffer` + `copy_from_slice` + `commit` / bare in-place fill — the same
//! memcpy, as in the throughput bench), the reader reads one byte of each 64-byte line.
//!
//! Each case runs six pairings with the same frame count, always across processes: this
//! process reads (and creates the buffer), a child (this binary re-executed) writes.
//! `bare -> bare` is the baseline; `our reader` is bare writer -> our reader (`read_frame`,
//! `&self`: the reader may be shared between threads); `our reader, &mut` is the same through
//! `read_frame_exclusive` (one place at a time, no lock); `our writer` is
//! our writer -> bare reader; `ours end to end` is ours on both sides; `ours, spin-block` is
//! ours on both sides with `WaitStrategy::spin_then_block()` (no goal: it shows what spinning
//! first buys over any blocking implementation). Every session has its
//! own buffer and first sends two rings' worth of frames untimed; the time runs from sending
//! the job until the reader has taken and released the last frame. Rounds interleave the
//! pairings (order rotated each round); rows show the median time, and each ratio is the
//! median of the per-round ratios (see `report.rs`). Nothing asserts on time. The reader
//! (this process) and the writer child each run on a core of their own (`common/cores.rs`).
//!
//! A second table runs the same cases (blocking pairings) with both ends in this thread, one
//! frame written then read: no hand-off between cores and no sleeping, so its ratios are each
//! side's own CPU cost per frame, apart from how the two sides hand work to each other.
//!
//! Without `--bench` (`cargo test --benches`) this is a smoke run of a few frames.

mod bare;
#[path = "../common/cases.rs"]
mod cases;
#[path = "../common/child.rs"]
mod child;
#[path = "../common/cores.rs"]
mod cores;
#[path = "../common/job.rs"]
mod job;
#[path = "../common/names.rs"]
mod names;
#[path = "../common/options.rs"]
mod options;
mod report;
mod roles;
#[path = "../common/rounds.rs"]
mod rounds;
mod session;
#[path = "../common/sleeps.rs"]
mod sleeps;

use std::error::Error;
use std::time::Duration;

use cases::{warm_frames, SizeCase, KIB, MIB};
use job::{Job, Mode};
use names::BufferNames;
use options::Options;
use report::Row;
use session::{one_thread, Pairing, Session, BASELINE, PAIRINGS, SPINNING};
use sleeps::{print_sleeps, SleepRow};

type BoxResult<T> = Result<T, Box<dyn Error>>;

/// Bound on every wait: a stuck peer fails the bench, it does not hang it.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Frames per timed job in a smoke run.
const SMOKE_FRAMES: u64 = 16;
/// Rounds of a `cargo bench` run.
const BENCH_ROUNDS: usize = 7;

const SIZES: [SizeCase; 3] = [
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
    SizeCase {
        label: "1MiB",
        len: MIB,
        ring: 16 * MIB,
    },
];

const MODES: [Mode; 2] = [Mode::Copy, Mode::ZeroCopy];

/// Frames per job so that one job takes about `seconds / rounds`, measured on the baseline:
/// double a probe until it runs long enough to give a usable rate.
fn calibrate(
    size: &SizeCase,
    mode: Mode,
    options: &Options,
    names: &mut BufferNames,
) -> BoxResult<u64> {
    let per_round = options.seconds / options.rounds as f64;
    let warm = warm_frames(size);
    let mut session = Session::open(BASELINE, &names.fresh(), size.ring, size.len, warm)?;
    let frames = rounds::calibrate_frames(per_round, warm, |frames| {
        session.run(Job {
            mode,
            len: size.len,
            frames,
        })
    })?;
    session.close()?;
    Ok(frames.max(SMOKE_FRAMES))
}

/// All pairings of one case, interleaved over the rounds.
fn bench_case(
    size: &SizeCase,
    mode: Mode,
    options: &Options,
    names: &mut BufferNames,
) -> BoxResult<(Vec<Row>, Vec<SleepRow<Pairing>>)> {
    let case = format!("{} {}", size.label, mode.label());
    let frames = if options.bench {
        calibrate(size, mode, options, names)?
    } else {
        SMOKE_FRAMES
    };
    let job = Job {
        mode,
        len: size.len,
        frames,
    };
    let mut rows = Row::for_pairings(&case, &PAIRINGS, frames, size.len);
    let mut sleeps: Vec<SleepRow<Pairing>> = PAIRINGS.iter().map(|&p| SleepRow::new(p)).collect();
    rounds::interleave(&mut rows, options.rounds, |row| {
        let name = names.fresh();
        let mut session =
            Session::open(row.pairing, &name, size.ring, size.len, warm_frames(size))?;
        let elapsed = session
            .run(job)
            .map_err(|e| format!("{case} {}: {e}", row.pairing.label))?;
        if let Some(counted) = sleeps.iter_mut().find(|s| s.pairing == row.pairing) {
            counted.add(session.sleeps, frames);
        }
        session.close()?;
        Ok(elapsed)
    })?;
    Ok((rows, sleeps))
}

/// The blocking pairings of one case with both ends in this thread (spinning means nothing
/// there), interleaved over the rounds.
fn one_thread_case(
    size: &SizeCase,
    mode: Mode,
    options: &Options,
    names: &mut BufferNames,
) -> BoxResult<Vec<Row>> {
    let case = format!("{} {} 1-thread", size.label, mode.label());
    let warm = warm_frames(size);
    let job = |frames| Job {
        mode,
        len: size.len,
        frames,
    };
    let frames = if options.bench {
        let per_round = options.seconds / options.rounds as f64;
        rounds::calibrate_frames(per_round, warm, |frames| {
            one_thread(BASELINE, &names.fresh(), size.ring, warm, job(frames))
        })?
        .max(SMOKE_FRAMES)
    } else {
        SMOKE_FRAMES
    };
    let blocking: Vec<Pairing> = PAIRINGS.into_iter().filter(|p| *p != SPINNING).collect();
    let mut rows = Row::for_pairings(&case, &blocking, frames, size.len);
    rounds::interleave(&mut rows, options.rounds, |row| {
        one_thread(row.pairing, &names.fresh(), size.ring, warm, job(frames))
            .map_err(|e| format!("{case} {}: {e}", row.pairing.label).into())
    })?;
    Ok(rows)
}

fn run(options: &Options, names: &mut BufferNames) -> BoxResult<()> {
    report::print_header();
    let mut all = Vec::new();
    for size in &SIZES {
        for mode in MODES {
            if !options.selects(&format!("{} {}", size.label, mode.label())) {
                continue;
            }
            let (rows, sleeps) = bench_case(size, mode, options, names)?;
            report::print_rows(&rows);
            print_sleeps(&sleeps);
            all.extend(rows);
        }
    }
    println!(
        "\nthe same work with both ends in one thread, a frame written then read (no hand-off \
         between cores, no sleeping: each side's own cost per frame):"
    );
    for size in &SIZES {
        for mode in MODES {
            if options.selects(&format!("{} {}", size.label, mode.label())) {
                report::print_rows(&one_thread_case(size, mode, options, names)?);
            }
        }
    }
    println!();
    report::print_goals(&all);
    if !options.bench {
        println!("smoke run (no --bench, possibly unoptimised, {SMOKE_FRAMES} frames): the numbers mean nothing");
    }
    Ok(())
}

fn main() -> BoxResult<()> {
    if let Some(outcome) = roles::writer_main() {
        return outcome;
    }
    let options = Options::parse(BENCH_ROUNDS);
    let placement = cores::Placement::apply()?;
    let budget = if options.bench {
        format!("{:.2} s per row", options.seconds)
    } else {
        format!("smoke run, {SMOKE_FRAMES} frames per job")
    };
    println!(
        "zerobuffer bare_protocol: ours vs a bare-protocol baseline, across processes; \
         {budget} in {} round(s); median; payload bytes only; {}",
        options.rounds,
        placement.describe("reader", "writer")
    );
    let mut names = BufferNames::new("bare");
    let outcome = run(&options, &mut names);
    names.warn_about_leftovers();
    outcome
}
