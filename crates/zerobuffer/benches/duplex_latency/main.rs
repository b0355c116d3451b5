//! Round-trip latency of a duplex channel between two processes, printed beside a raw
//! named-semaphore ping-pong between the same two processes measured in the same run.
//!
//! ```text
//! cargo bench -p zerobuffer --bench duplex_latency              # 100,000 / 5,000 round trips
//! cargo bench -p zerobuffer --bench duplex_latency -- --quick   # a tenth of that
//! ZEROBUFFER_BENCH_QUICK=1 cargo bench -p zerobuffer --bench duplex_latency
//! ```
//!
//! This binary re-executes itself (with `ZEROBUFFER_BENCH_ROLE=server`) as the server process:
//! an echo [`DuplexServer`] (request ring 4 MiB, zero-copy handler: one `copy_from_slice` of
//! the request into the response slot) plus a loop that answers every post of the `ping`
//! semaphore with a post of `pong`. This process is the client, with the standard response
//! buffer of [`DuplexClient::connect`] (256 MiB).
//!
//! * `sem ping-pong` — the floor: `ping.post()` then `pong.wait()`, i.e. two cross-process
//!   semaphore wake-ups and nothing else. A duplex round trip needs at least the same two.
//! * `64 B`, `4 KiB`, `1 MiB` — `send_request(&request)` (a copy into the request ring),
//!   `receive_response()`, a check of length, sequence and two bytes, and the drop of the
//!   response (which returns its space). The server copies each request into its response.
//!
//! Each timed round trip is one `Instant` interval. The cases are interleaved in rounds (with
//! a short warm-up per case and round) so slow drift of the machine hits them all alike, and
//! before anything is timed both rings are faulted in with 1 MiB round trips, so page faults
//! of fresh shared memory are not part of any sample. Percentiles are nearest-rank over all
//! samples; `p50/floor` is the row's p50 over the ping-pong p50. Nothing asserts on time.
//!
//! The whole comparison runs once per [`WaitStrategy`] in each of three interleaved passes,
//! the client and the server both using it, each session with a fresh server process. A spinning server keeps a core busy beside
//! its ping-pong loop, so a spinning session's own floor is not the protocol's floor; the
//! closing table sets each spinning strategy's 64 B p50 (the median over its sessions)
//! against the median floor of the blocking sessions of the same run, and the blocking
//! strategy against its own sessions' floors, session by session (goals: blocking within 1.2x
//! of the floor, busy-spin at least 10x below it).
//!
//! The server exits when its stdin closes (so it never outlives this process) and every wait
//! here is bounded, so a stuck peer fails the bench instead of hanging it. The semaphore names
//! are unlinked as soon as both processes hold them; the duplex buffers are removed by their
//! owners on drop (and by stale cleanup if the server had to be killed).

#[path = "../common/child.rs"]
mod child;
#[path = "../common/cores.rs"]
mod cores;
mod processes;
mod server;
mod stats;
#[path = "../common/svg.rs"]
mod svg;

use std::env;
use std::error::Error;
use std::fs;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use zerobuffer::{DuplexClient, WaitStrategy, LOCK_DIR};

use processes::{Semaphores, ServerProcess};
use server::server_process;
use stats::{print_table, Stats};
use svg::Series;

type BoxResult<T> = Result<T, Box<dyn Error>>;

const ROLE_ENV: &str = "ZEROBUFFER_BENCH_ROLE";
const CHANNEL_ENV: &str = "ZEROBUFFER_BENCH_CHANNEL";
const PING_ENV: &str = "ZEROBUFFER_BENCH_PING";
const PONG_ENV: &str = "ZEROBUFFER_BENCH_PONG";
const QUICK_ENV: &str = "ZEROBUFFER_BENCH_QUICK";
const WAIT_ENV: &str = "ZEROBUFFER_BENCH_WAIT";

/// Every session of the run, in order; the first (blocking) one gives the floor.
const STRATEGIES: [WaitStrategy; 3] = [
    WaitStrategy::Block,
    WaitStrategy::spin_then_block(),
    WaitStrategy::BusySpin,
];

/// Bound of every wait on the other process: a stuck peer fails the bench.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The server's semaphore wait is sliced so it notices its stdin closing this quickly.
const SLICE: Duration = Duration::from_millis(100);
const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;
const METADATA: usize = 4096;
/// Request ring: a 1 MiB request must fit.
const REQUEST_RING: usize = 4 * MIB;
/// 1 MiB round trips before timing: wraps the 256 MiB response ring once (≈256 frames).
const PREFAULT_ROUND_TRIPS: usize = 300;
/// Interleaved rounds; each case runs `iterations / ROUNDS` timed round trips per round.
const ROUNDS: usize = 4;

/// One row of the table: the semaphore floor (`len == None`) or a request size.
struct Case {
    label: &'static str,
    len: Option<usize>,
    iterations: usize,
    warmup: usize,
}

const CASES: [Case; 4] = [
    Case {
        label: "sem ping-pong",
        len: None,
        iterations: 100_000,
        warmup: 200,
    },
    Case {
        label: "64 B",
        len: Some(64),
        iterations: 100_000,
        warmup: 200,
    },
    Case {
        label: "4 KiB",
        len: Some(4 * KIB),
        iterations: 100_000,
        warmup: 200,
    },
    Case {
        label: "1 MiB",
        len: Some(MIB),
        iterations: 5_000,
        warmup: 20,
    },
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scale {
    /// `cargo bench`: the full counts.
    Full,
    /// `--quick` or `ZEROBUFFER_BENCH_QUICK=1`: a tenth.
    Quick,
    /// No `--bench` flag (`cargo test --benches`): a smoke run.
    Smoke,
}

impl Scale {
    /// Cargo passes `--bench` to `cargo bench` runs; other arguments (filters, flags) are
    /// ignored except `--quick`.
    fn parse() -> Scale {
        let args: Vec<String> = env::args().skip(1).collect();
        let quick_env = env::var(QUICK_ENV).is_ok_and(|v| !v.is_empty() && v != "0");
        if !args.iter().any(|a| a == "--bench") {
            Scale::Smoke
        } else if quick_env || args.iter().any(|a| a == "--quick") {
            Scale::Quick
        } else {
            Scale::Full
        }
    }

    fn divisor(self) -> usize {
        match self {
            Scale::Full => 1,
            Scale::Quick => 10,
            Scale::Smoke => 100,
        }
    }

    /// Sessions per strategy, interleaved: where the host puts the two processes changes from
    /// session to session (seen: busy-spin at 0.6 µs in one session, 1.8 µs in the next), so
    /// one session per strategy would be a sample of one.
    fn sessions(self) -> usize {
        match self {
            Scale::Full | Scale::Quick => 3,
            Scale::Smoke => 1,
        }
    }

    fn count(self, n: usize) -> usize {
        (n / self.divisor()).max(ROUNDS)
    }
}

// ---------------------------------------------------------------------------------------------
// Measurement.

/// Recognisable, non-constant request contents, different for each size.
fn request_data(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) >> 3).wrapping_add(len) as u8)
        .collect()
}

fn duplex_round_trips(
    client: &DuplexClient,
    request: &[u8],
    n: usize,
    mut samples: Option<&mut Vec<u64>>,
) -> BoxResult<()> {
    let last = request.len() - 1;
    for _ in 0..n {
        let start = Instant::now();
        let sequence = client.send_request(request)?;
        let response = client.receive_response(TIMEOUT)?;
        let ok = response.sequence() == sequence
            && response.len() == request.len()
            && response[0] == request[0]
            && response[last] == request[last];
        drop(response);
        let elapsed = start.elapsed();
        if !ok {
            return Err(format!("wrong echo for request {sequence}").into());
        }
        if let Some(samples) = samples.as_deref_mut() {
            samples.push(elapsed.as_nanos() as u64);
        }
    }
    Ok(())
}

fn ping_pongs(sems: &Semaphores, n: usize, mut samples: Option<&mut Vec<u64>>) -> BoxResult<()> {
    for _ in 0..n {
        let start = Instant::now();
        sems.ping.post()?;
        let answered = sems.pong.wait(TIMEOUT)?;
        let elapsed = start.elapsed();
        if !answered {
            return Err(format!("no pong within {TIMEOUT:?}").into());
        }
        if let Some(samples) = samples.as_deref_mut() {
            samples.push(elapsed.as_nanos() as u64);
        }
    }
    Ok(())
}

/// One full echo compared byte for byte (untimed), so the timed check of two bytes is enough.
fn verify_echo(client: &DuplexClient, request: &[u8]) -> BoxResult<()> {
    client.send_request(request)?;
    let response = client.receive_response(TIMEOUT)?;
    if *response != *request {
        return Err(format!("the {}-byte echo differs from the request", request.len()).into());
    }
    Ok(())
}

/// The statistics of every case, and the raw 64 B round trips (ns) for the histogram.
fn measure(
    sems: &Semaphores,
    client: &DuplexClient,
    scale: Scale,
) -> BoxResult<(Vec<Stats>, Vec<u64>)> {
    let requests: Vec<Option<Vec<u8>>> = CASES.iter().map(|c| c.len.map(request_data)).collect();
    for request in requests.iter().flatten() {
        verify_echo(client, request)?;
    }
    if scale != Scale::Smoke {
        let big = request_data(MIB);
        duplex_round_trips(client, &big, PREFAULT_ROUND_TRIPS, None)
            .map_err(|e| format!("pre-faulting the rings: {e}"))?;
    }
    let mut samples: Vec<Vec<u64>> = CASES
        .iter()
        .map(|c| Vec::with_capacity(scale.count(c.iterations)))
        .collect();
    for round in 0..ROUNDS {
        for ((case, request), samples) in CASES.iter().zip(&requests).zip(&mut samples) {
            let total = scale.count(case.iterations);
            // Spread `total` over the rounds exactly.
            let n = total * (round + 1) / ROUNDS - total * round / ROUNDS;
            let warmup = (case.warmup / scale.divisor()).max(1);
            let done = match request {
                None => {
                    ping_pongs(sems, warmup, None).and_then(|()| ping_pongs(sems, n, Some(samples)))
                }
                Some(request) => duplex_round_trips(client, request, warmup, None)
                    .and_then(|()| duplex_round_trips(client, request, n, Some(samples))),
            };
            done.map_err(|e| format!("{} (round {}): {e}", case.label, round + 1))?;
        }
    }
    let small = CASES
        .iter()
        .position(|c| c.len == Some(64))
        .map(|i| samples[i].clone())
        .unwrap_or_default();
    Ok((samples.iter_mut().map(|s| Stats::of(s)).collect(), small))
}

/// Everything this run may create has `tag` in its file name.
fn leftovers(tag: &str) -> Vec<String> {
    ["/dev/shm", LOCK_DIR]
        .iter()
        .filter_map(|dir| fs::read_dir(dir).ok())
        .flatten()
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.contains(tag))
        })
        .map(|path| path.display().to_string())
        .collect()
}

/// One session: a server process and a client that both wait with `wait`.
fn session(scale: Scale, tag: &str, wait: WaitStrategy) -> BoxResult<(Vec<Stats>, Vec<u64>)> {
    let channel = format!("{tag}-duplex");
    let ping_name = format!("/{tag}-ping");
    let pong_name = format!("/{tag}-pong");
    // Declaration order is the reverse of drop order: client, then server, then semaphores.
    let mut sems = Semaphores::create(&ping_name, &pong_name)?;
    let mut server = ServerProcess::spawn(&channel, &ping_name, &pong_name, wait)?;
    server.wait_ready(&sems.pong)?;
    sems.unlink();
    let mut client = DuplexClient::connect(&channel, TIMEOUT)?;
    client.set_wait_strategy(wait);

    println!("\nwait strategy {wait} (client and server):");
    let started = Instant::now();
    let (stats, small) = measure(&sems, &client, scale)?;
    print_table(&stats);
    println!("measured in {:.1} s", started.elapsed().as_secs_f64());

    drop(client);
    server.finish()?;
    Ok((stats, small))
}

fn run(scale: Scale, tag: &str) -> BoxResult<()> {
    // Counted before pinning: the count follows this process's affinity.
    let cpus = thread::available_parallelism().map_or(0, |n| n.get());
    let placement = cores::Placement::apply()?;
    println!(
        "zerobuffer duplex round trip, client and echo server in two processes ({cpus} CPUs, {}); \
         request ring {} MiB, response ring 256 MiB; {ROUNDS} interleaved rounds{}",
        placement.describe("client", "server"),
        REQUEST_RING / MIB,
        match scale {
            Scale::Full => "",
            Scale::Quick => " (quick)",
            Scale::Smoke => " (smoke run, numbers meaningless)",
        }
    );
    let mut sessions = Vec::new();
    let mut round_trips: Vec<(WaitStrategy, Vec<u64>)> = Vec::new();
    for repeat in 0..scale.sessions() {
        for (i, wait) in STRATEGIES.into_iter().enumerate() {
            let tag = format!("{tag}-{repeat}-{i}");
            let (stats, small) = session(scale, &tag, wait)?;
            sessions.push((wait, stats));
            round_trips.push((wait, small));
        }
    }
    print_strategies(&sessions);
    chart(&round_trips, cpus)?;
    Ok(())
}

/// `target/bench/duplex_latency.svg`: the 64 B round trips of each strategy (all its
/// sessions) as a histogram over a log scale.
fn chart(round_trips: &[(WaitStrategy, Vec<u64>)], cpus: usize) -> BoxResult<()> {
    let series: Vec<Series<Vec<f64>>> = STRATEGIES
        .iter()
        .map(|&wait| Series {
            name: wait.to_string(),
            values: round_trips
                .iter()
                .filter(|(w, _)| *w == wait)
                .flat_map(|(_, ns)| ns.iter().map(|&n| n as f64 / 1000.0))
                .collect(),
        })
        .collect();
    let svg = svg::log_histogram(
        "zerobuffer duplex round trip, 64 B, by wait strategy",
        &format!("client and echo server in two processes, {cpus} CPUs; every timed round trip of every session"),
        &series,
    );
    println!(
        "chart: {}",
        svg::write("duplex_latency.svg", &svg)?.display()
    );
    Ok(())
}

/// The median of a few values (the upper one of an even count).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The 64 B round trip of each strategy (median over its sessions) against the semaphore
/// floor: for blocking, the median of per-session ratios; for the spinners, the median floor
/// of the blocking sessions.
fn print_strategies(sessions: &[(WaitStrategy, Vec<Stats>)]) {
    let row = CASES
        .iter()
        .position(|c| c.len == Some(64))
        .expect("a 64 B case");
    let p50s = |strategy: WaitStrategy, case: usize| -> Vec<f64> {
        sessions
            .iter()
            .filter(|(wait, _)| *wait == strategy)
            .map(|(_, stats)| stats[case].p50)
            .collect()
    };
    let floor = median(p50s(WaitStrategy::Block, 0));
    let count = p50s(WaitStrategy::Block, 0).len();
    println!(
        "\n64 B round trip by wait strategy, median p50 over {count} session(s) each, against \
         the blocking sessions' median sem ping-pong p50 ({floor:.1} µs):"
    );
    println!(
        "{:<22} {:>9} {:>10}  {:<22} goal (informational)",
        "strategy", "p50 µs", "p50/floor", "per session µs"
    );
    for wait in STRATEGIES {
        let each = p50s(wait, row);
        let listed: Vec<String> = each.iter().map(|p| format!("{p:.2}")).collect();
        let p50 = median(each);
        // Blocking sessions are set against their own floor, session by session (the floor
        // itself moves by up to 2x between sessions); a spinning session's own floor is not
        // the protocol's, so the spinners are set against the blocking sessions' floor.
        let ratio = match wait {
            WaitStrategy::Block => median(
                sessions
                    .iter()
                    .filter(|(w, _)| *w == wait)
                    .map(|(_, stats)| stats[row].p50 / stats[0].p50)
                    .collect(),
            ),
            _ => p50 / floor,
        };
        let goal = match wait {
            WaitStrategy::Block => Some(("≤ 1.20x", ratio <= 1.2)),
            WaitStrategy::BusySpin => Some(("≤ 0.10x", ratio <= 0.1)),
            WaitStrategy::SpinThenBlock(_) => None,
        };
        let verdict = goal.map_or(String::from("-"), |(text, met)| {
            format!("{text}: {}", if met { "met" } else { "NOT met" })
        });
        println!(
            "{:<22} {p50:>9.2} {ratio:>9.2}x  {:<22} {verdict}",
            wait.to_string(),
            listed.join(" ")
        );
    }
}

fn main() -> ExitCode {
    if env::var(ROLE_ENV).is_ok_and(|role| role == "server") {
        return match server_process() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("duplex_latency server: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let scale = Scale::parse();
    let tag = format!("zbbench-{}", std::process::id());
    let result = run(scale, &tag);
    // Everything is dropped by now, whether the run succeeded or not.
    let left = leftovers(&tag);
    let mut failed = false;
    if let Err(e) = result {
        eprintln!("duplex_latency: {e}");
        failed = true;
    }
    if !left.is_empty() {
        eprintln!("duplex_latency: left behind: {left:?}");
        failed = true;
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
