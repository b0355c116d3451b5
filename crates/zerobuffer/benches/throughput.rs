//! Frame throughput of one reader and one writer, printed beside a plain `memcpy` of the same
//! bytes measured in the same run.
//!
//! ```text
//! cargo bench -p zerobuffer                       # ~1 s per case (3 interleaved rounds)
//! cargo bench -p zerobuffer -- --quick            # ~0.2 s per case
//! cargo bench -p zerobuffer -- 1MiB zero-copy     # only cases whose name contains a word
//! ZEROBUFFER_BENCH_SECONDS=3 ZEROBUFFER_BENCH_ROUNDS=5 cargo bench -p zerobuffer
//! ```
//!
//! What each row measures, for N frames of `len` bytes (only payload bytes are counted):
//!
//! * `memcpy` — the baseline: N × `copy_from_slice` of a cache-warm `len`-byte source into a
//!   pre-faulted destination as large as the ring, at the offsets (and 64-byte alignment) where
//!   the ring would put the frames, wrapping like the ring. One thread, no hand-off.
//! * `copy` — `Writer::write_frame(&source)` (the API copies the caller's bytes into the ring);
//!   the reader, on another thread or process, takes each frame with `read_frame`, reads one
//!   byte of every 64-byte line of it and drops it (returning its space).
//! * `zero-copy` — `get_frame_buffer(len)`, fill the slot in place with
//!   `copy_from_slice(&source)` (standing in for a producer that generates its data straight
//!   into shared memory), `commit()`; same reader. In this API `write_frame` is exactly that
//!   sequence, so `copy` and `zero-copy` do the same memory work: each is one memcpy into the
//!   ring, and the difference between the two rows is noise. What separates both from the
//!   `memcpy` row is the protocol (semaphores, control-block updates, fences, the reader's
//!   bookkeeping) and the cross-core hand-off of the frame's cache lines to the reader.
//!
//! `thread` rows run the writer on a second thread of this process; `process` rows run it in a
//! child process (this binary re-executed with `ZEROBUFFER_BENCH_WRITER` set). The ring is the
//! same shared memory either way. Each writer session first sends two rings' worth of frames
//! untimed, so page faults of a fresh mapping are not part of any timed row. Times are the
//! median of the rounds; `ratio` is the row's time over the `memcpy` time for the same bytes.
//! Nothing here asserts on time: the verdict line is informational.

use std::env;
use std::error::Error;
use std::hint::black_box;
use std::io::{self, BufRead, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use zerobuffer::{BufferConfig, Reader, Writer};

#[path = "common/cases.rs"]
mod cases;
#[path = "common/job.rs"]
mod job;
#[path = "common/options.rs"]
mod options;
#[path = "common/svg.rs"]
mod svg;

use cases::{warm_frames, SizeCase, FRAME_HEADER, KIB, MIB};
use job::{Job, Mode};
use options::Options;

type BoxResult<T> = Result<T, Box<dyn Error>>;

const WRITER_ENV: &str = "ZEROBUFFER_BENCH_WRITER";
/// Generous: a stuck peer should fail the bench, not hang it.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The payload area starts after the 128-byte control block (no metadata block here).
const PAYLOAD_START: usize = 128;
/// Rounds of a `cargo bench` run.
const BENCH_ROUNDS: usize = 3;
const GIB: f64 = (1u64 << 30) as f64;

const SIZES: [SizeCase; 2] = [
    SizeCase {
        label: "1KiB",
        len: KIB,
        ring: 4 * MIB,
    },
    SizeCase {
        label: "1MiB",
        len: MIB,
        ring: 16 * MIB,
    },
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum PeerKind {
    Thread,
    Process,
}

impl PeerKind {
    fn label(self) -> &'static str {
        match self {
            PeerKind::Thread => "thread",
            PeerKind::Process => "process",
        }
    }
}

/// Recognisable, non-constant frame contents.
fn source_data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i.wrapping_mul(31) >> 3) as u8).collect()
}

/// What the reader does with a frame: read one byte of every 64-byte line.
fn touch(data: &[u8]) -> u64 {
    data.iter().step_by(64).map(|&b| u64::from(b)).sum()
}

// ---------------------------------------------------------------------------------------------
// Writer side (a thread of this process, or a child process)

fn write_jobs(name: &str, jobs: impl Iterator<Item = BoxResult<Job>>) -> BoxResult<()> {
    let mut writer = Writer::connect(name)?;
    writer.set_write_timeout(TIMEOUT);
    let mut source = Vec::new();
    for job in jobs {
        let job = job?;
        if source.len() != job.len {
            source = source_data(job.len);
        }
        for _ in 0..job.frames {
            match job.mode {
                Mode::Copy => {
                    writer.write_frame(&source)?;
                }
                Mode::ZeroCopy => {
                    let mut slot = writer.get_frame_buffer(job.len)?;
                    slot.copy_from_slice(&source);
                    slot.commit();
                }
            }
        }
    }
    Ok(())
}

/// Entry point of a re-executed writer process: jobs arrive as lines on stdin until EOF.
fn writer_process(name: &str) -> BoxResult<()> {
    let stdin = io::stdin();
    let jobs = stdin
        .lock()
        .lines()
        .map(|line| Job::decode(&line?).map_err(|e| e.to_string().into()));
    write_jobs(name, jobs)
}

/// The writer of one session, seen from the reader.
enum Peer {
    Thread {
        jobs: Option<mpsc::Sender<Job>>,
        handle: Option<JoinHandle<Result<(), String>>>,
    },
    Process {
        child: Child,
        stdin: Option<ChildStdin>,
    },
}

impl Peer {
    fn spawn(kind: PeerKind, name: &str) -> BoxResult<Peer> {
        Ok(match kind {
            PeerKind::Thread => {
                let (tx, rx) = mpsc::channel::<Job>();
                let name = name.to_owned();
                let handle =
                    thread::Builder::new()
                        .name("bench-writer".into())
                        .spawn(move || {
                            write_jobs(&name, rx.into_iter().map(Ok)).map_err(|e| e.to_string())
                        })?;
                Peer::Thread {
                    jobs: Some(tx),
                    handle: Some(handle),
                }
            }
            PeerKind::Process => {
                let mut child = Command::new(env::current_exe()?)
                    .env(WRITER_ENV, name)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .spawn()?;
                let stdin = child.stdin.take();
                Peer::Process { child, stdin }
            }
        })
    }

    fn send(&mut self, job: Job) -> BoxResult<()> {
        match self {
            Peer::Thread { jobs, .. } => jobs
                .as_ref()
                .ok_or("writer closed")?
                .send(job)
                .map_err(|_| "writer thread has stopped".into()),
            Peer::Process { stdin, .. } => {
                let stdin = stdin.as_mut().ok_or("writer closed")?;
                stdin.write_all(job.encode().as_bytes())?;
                Ok(stdin.flush()?)
            }
        }
    }

    /// Closes the job stream and waits for the writer to disconnect.
    fn finish(mut self) -> BoxResult<()> {
        match &mut self {
            Peer::Thread { jobs, handle } => {
                jobs.take();
                let handle = handle.take().ok_or("writer already joined")?;
                handle.join().map_err(|_| "writer thread panicked")??;
            }
            Peer::Process { child, stdin } => {
                stdin.take();
                let status = child.wait()?;
                if !status.success() {
                    return Err(format!("writer process failed: {status}").into());
                }
            }
        }
        Ok(())
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // Only reached with a live writer when the bench is bailing out on an error.
        if let Peer::Process { child, stdin } = self {
            stdin.take();
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reader side and the baseline

/// Sends `job` to the writer and times the reader until it has taken and dropped every frame.
fn timed_job(reader: &Reader, peer: &mut Peer, job: Job) -> BoxResult<Duration> {
    let start = Instant::now();
    peer.send(job)?;
    let mut sum = 0u64;
    for _ in 0..job.frames {
        let frame = reader.read_frame(TIMEOUT)?;
        if frame.len() != job.len {
            return Err(format!("frame of {} bytes, expected {}", frame.len(), job.len).into());
        }
        sum = sum.wrapping_add(touch(&frame));
    }
    let elapsed = start.elapsed();
    black_box(sum);
    Ok(elapsed)
}

/// `memcpy` into a ring-sized buffer at the ring's offsets and alignment.
struct Baseline {
    source: Vec<u8>,
    dest: Vec<u8>,
    /// Index in `dest` that plays the role of payload offset 0.
    base: usize,
    ring: usize,
    pos: usize,
}

impl Baseline {
    fn new(size: &SizeCase) -> Baseline {
        // A shared-memory mapping is page aligned, so ring offset 0 sits at page offset 128.
        let mut dest = vec![0u8; size.ring + 4096 + PAYLOAD_START];
        let page_offset = dest.as_ptr() as usize % 4096;
        let base = (4096 + PAYLOAD_START - page_offset) % 4096;
        dest.fill(1); // fault the pages in
        let mut baseline = Baseline {
            source: source_data(size.len),
            dest,
            base,
            ring: size.ring,
            pos: 0,
        };
        baseline.run(warm_frames(size));
        baseline
    }

    fn run(&mut self, frames: u64) -> Duration {
        let len = self.source.len();
        let total = FRAME_HEADER + len;
        let start = Instant::now();
        for _ in 0..frames {
            if self.ring - self.pos < total {
                self.pos = 0;
            }
            let at = self.base + self.pos + FRAME_HEADER;
            self.dest[at..at + len].copy_from_slice(&self.source);
            black_box(&mut self.dest);
            self.pos += total;
        }
        start.elapsed()
    }
}

// ---------------------------------------------------------------------------------------------
// Driver

const PEERS: [PeerKind; 2] = [PeerKind::Thread, PeerKind::Process];
const MODES: [Mode; 2] = [Mode::Copy, Mode::ZeroCopy];

#[derive(Clone)]
struct Row {
    name: String,
    frames: u64,
    bytes: u64,
    times: Vec<Duration>,
}

impl Row {
    fn median(&self) -> Duration {
        let mut t = self.times.clone();
        t.sort();
        t[t.len() / 2]
    }

    /// (max − min) / median of the rounds.
    fn spread(&self) -> f64 {
        let min = self.times.iter().min().copied().unwrap_or_default();
        let max = self.times.iter().max().copied().unwrap_or_default();
        (max - min).as_secs_f64() / self.median().as_secs_f64()
    }
}

fn case_name(size: &SizeCase, mode: Mode, peer: PeerKind) -> String {
    format!("{} {} {}", size.label, mode.label(), peer.label())
}

/// Runs every selected case of one frame size; the first row is the `memcpy` baseline.
fn bench_size(size: &SizeCase, options: &Options) -> BoxResult<Vec<Row>> {
    let cases: Vec<(PeerKind, Mode)> = PEERS
        .iter()
        .flat_map(|&p| MODES.iter().map(move |&m| (p, m)))
        .filter(|&(p, m)| options.selects(&case_name(size, m, p)))
        .collect();
    if cases.is_empty() {
        return Ok(Vec::new());
    }
    let name = format!("zb_bench_{}_{}", std::process::id(), size.label);
    let reader = Reader::create(&name, BufferConfig::new(0, size.ring))?;
    let warm = |mode| Job {
        mode,
        len: size.len,
        frames: warm_frames(size),
    };

    // Calibrate on a thread writer: after a warm-up, double a probe until it takes long enough
    // to give a usable rate, then size the rounds from that rate.
    let per_round = options.seconds / options.rounds as f64;
    let mut peer = Peer::spawn(PeerKind::Thread, &name)?;
    let mut probe = warm(Mode::Copy);
    timed_job(&reader, &mut peer, probe)?;
    let rate = loop {
        let secs = timed_job(&reader, &mut peer, probe)?.as_secs_f64();
        if secs >= (per_round / 4.0).min(0.05) {
            break probe.frames as f64 / secs;
        }
        probe.frames *= 2;
    };
    peer.finish()?;
    let frames = ((rate * per_round) as u64).max(warm_frames(size));
    let bytes = frames * size.len as u64;

    let mut baseline = Baseline::new(size);
    let mut rows = vec![Row {
        name: format!("{} memcpy", size.label),
        frames,
        bytes,
        times: Vec::new(),
    }];
    for &(peer, mode) in &cases {
        rows.push(Row {
            name: case_name(size, mode, peer),
            frames,
            bytes,
            times: Vec::new(),
        });
    }
    for round in 0..options.rounds {
        rows[0].times.push(baseline.run(frames));
        for kind in PEERS {
            if !cases.iter().any(|&(p, _)| p == kind) {
                continue;
            }
            let mut peer = Peer::spawn(kind, &name)?;
            timed_job(&reader, &mut peer, warm(Mode::Copy))?; // untimed: faults, connect
                                                              // Alternate the order of the modes between rounds.
            let mut modes = MODES;
            if round % 2 == 1 {
                modes.reverse();
            }
            for mode in modes {
                let Some(i) = cases.iter().position(|&c| c == (kind, mode)) else {
                    continue;
                };
                let job = Job {
                    mode,
                    len: size.len,
                    frames,
                };
                let elapsed = timed_job(&reader, &mut peer, job)?;
                rows[i + 1].times.push(elapsed);
            }
            peer.finish()?;
        }
    }
    drop(reader);
    report_leftovers(&name);
    Ok(rows)
}

fn report_leftovers(name: &str) {
    let left = zerobuffer_test_support::leftovers(name);
    if !left.is_empty() {
        eprintln!("warning: left behind: {left:?}");
    }
}

fn print_rows(rows: &[Row]) {
    let Some(base) = rows.first() else { return };
    let base_time = base.median().as_secs_f64();
    for row in rows {
        let secs = row.median().as_secs_f64();
        println!(
            "{:<24} {:>9} {:>13} {:>9.4} {:>8.2} {:>12.0} {:>6.2}x {:>6.0}%",
            row.name,
            row.frames,
            row.bytes,
            secs,
            row.bytes as f64 / GIB / secs,
            row.frames as f64 / secs,
            secs / base_time,
            row.spread() * 100.0,
        );
    }
}

/// `target/bench/throughput.svg`: GiB/s of every row, grouped by frame size.
fn chart(sizes: &[(&str, Vec<Row>)]) -> BoxResult<()> {
    let groups: Vec<String> = sizes.iter().map(|(label, _)| label.to_string()).collect();
    let mut names: Vec<String> = Vec::new();
    for (label, rows) in sizes {
        for row in rows {
            let name = row.name.trim_start_matches(label).trim().to_owned();
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    let series: Vec<svg::Series<Vec<Option<f64>>>> = names
        .iter()
        .map(|name| svg::Series {
            name: name.clone(),
            values: sizes
                .iter()
                .map(|(label, rows)| {
                    rows.iter()
                        .find(|r| r.name.trim_start_matches(label).trim() == name)
                        .map(|r| r.bytes as f64 / GIB / r.median().as_secs_f64())
                })
                .collect(),
        })
        .collect();
    let cpus = thread::available_parallelism().map_or(0, |n| n.get());
    let svg = svg::grouped_bars(
        "zerobuffer throughput by frame size",
        &format!("one reader, one writer ({cpus} CPUs), median of the rounds; memcpy of the same bytes measured in the same run"),
        "GiB/s (payload bytes)",
        &groups,
        &series,
    );
    println!("chart: {}", svg::write("throughput.svg", &svg)?.display());
    Ok(())
}

fn verdict(rows: &[Row]) {
    let Some(base) = rows.first() else { return };
    let base_time = base.median().as_secs_f64();
    for row in rows.iter().filter(|r| r.name.contains("zero-copy")) {
        let ratio = row.median().as_secs_f64() / base_time;
        let verdict = if ratio <= 2.0 { "within" } else { "NOT within" };
        println!(
            "{}: {ratio:.2}x the memcpy time, {verdict} 2x (informational)",
            row.name
        );
    }
}

fn main() -> BoxResult<()> {
    if let Ok(name) = env::var(WRITER_ENV) {
        return writer_process(&name);
    }
    let options = Options::parse(BENCH_ROUNDS);
    println!(
        "zerobuffer throughput: {:.2} s per case in {} round(s); median time; payload bytes only",
        options.seconds, options.rounds
    );
    println!(
        "{:<24} {:>9} {:>13} {:>9} {:>8} {:>12} {:>7} {:>7}",
        "case", "frames", "bytes", "seconds", "GiB/s", "frames/s", "ratio", "spread"
    );
    let mut big = Vec::new();
    let mut all = Vec::new();
    for size in &SIZES {
        let rows = bench_size(size, &options)?;
        print_rows(&rows);
        all.push((size.label, rows.clone()));
        if size.len == MIB {
            big = rows;
        }
    }
    chart(&all)?;
    if options.bench {
        verdict(&big);
    } else {
        println!("smoke run (no --bench, possibly unoptimised): the numbers mean nothing");
    }
    Ok(())
}
