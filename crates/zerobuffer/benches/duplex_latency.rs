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
//! The server exits when its stdin closes (so it never outlives this process) and every wait
//! here is bounded, so a stuck peer fails the bench instead of hanging it. The semaphore names
//! are unlinked as soon as both processes hold them; the duplex buffers are removed by their
//! owners on drop (and by stale cleanup if the server had to be killed).

use std::env;
use std::error::Error;
use std::fs;
use std::io::{self, Read};
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use zerobuffer::duplex::request_buffer_name;
use zerobuffer::NamedSemaphore;
use zerobuffer::{BufferConfig, DuplexClient, DuplexServer, ProcessingMode, LOCK_DIR};

type BoxResult<T> = Result<T, Box<dyn Error>>;

const ROLE_ENV: &str = "ZEROBUFFER_BENCH_ROLE";
const CHANNEL_ENV: &str = "ZEROBUFFER_BENCH_CHANNEL";
const PING_ENV: &str = "ZEROBUFFER_BENCH_PING";
const PONG_ENV: &str = "ZEROBUFFER_BENCH_PONG";
const QUICK_ENV: &str = "ZEROBUFFER_BENCH_QUICK";

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

    fn count(self, n: usize) -> usize {
        (n / self.divisor()).max(ROUNDS)
    }
}

// ---------------------------------------------------------------------------------------------
// The server process.

fn server_process() -> BoxResult<()> {
    let channel = env::var(CHANNEL_ENV)?;
    let ping = NamedSemaphore::open(&env::var(PING_ENV)?)?;
    let pong = NamedSemaphore::open(&env::var(PONG_ENV)?)?;

    // The parent holds the other end of stdin; EOF (or an error) means it is done or gone.
    let quit = Arc::new(AtomicBool::new(false));
    {
        let quit = Arc::clone(&quit);
        thread::Builder::new()
            .name("stdin-watch".into())
            .spawn(move || {
                let mut stdin = io::stdin();
                let mut buf = [0u8; 64];
                while let Ok(n) = stdin.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                }
                quit.store(true, Ordering::SeqCst);
            })?;
    }

    let mut server = DuplexServer::new(&channel, BufferConfig::new(METADATA, REQUEST_RING))?;
    server.start_zero_copy(ProcessingMode::SingleThread, |request, responder| {
        let mut slot = responder.slot(request.len())?;
        slot.copy_from_slice(request);
        slot.commit();
        Ok(())
    })?;
    pong.post()?; // ready: the request buffer exists and both semaphores are open

    let served = (|| -> BoxResult<()> {
        while !quit.load(Ordering::SeqCst) {
            if ping.wait(SLICE)? {
                pong.post()?;
            } else if !server.is_running() {
                return Err("the duplex server stopped on its own".into());
            }
        }
        Ok(())
    })();
    let stopped = server.stop();
    for e in server.take_errors() {
        // A client leaving is routine; anything else is worth seeing.
        if !matches!(
            e,
            zerobuffer::Error::WriterDead | zerobuffer::Error::ReaderDead
        ) {
            eprintln!("duplex_latency server: {e}");
        }
    }
    served?;
    stopped?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The client process: resources that clean up after themselves.

/// The ping/pong semaphores; their names are unlinked once the server holds them, or on drop.
struct Semaphores {
    ping: NamedSemaphore,
    pong: NamedSemaphore,
    names: Option<[String; 2]>,
}

impl Semaphores {
    fn create(ping_name: &str, pong_name: &str) -> BoxResult<Semaphores> {
        let ping = NamedSemaphore::create(ping_name)?;
        let pong = NamedSemaphore::create(pong_name).inspect_err(|_| {
            let _ = NamedSemaphore::unlink(ping_name);
        })?;
        Ok(Semaphores {
            ping,
            pong,
            names: Some([ping_name.to_owned(), pong_name.to_owned()]),
        })
    }

    /// Removes the names; the open handles stay usable.
    fn unlink(&mut self) {
        for name in self.names.take().into_iter().flatten() {
            let _ = NamedSemaphore::unlink(&name);
        }
    }
}

impl Drop for Semaphores {
    fn drop(&mut self) {
        self.unlink();
    }
}

/// The re-executed server; on drop its stdin is closed, and it is killed if it does not exit.
struct ServerProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    channel: String,
}

impl ServerProcess {
    fn spawn(channel: &str, ping: &str, pong: &str) -> BoxResult<ServerProcess> {
        let mut child = Command::new(env::current_exe()?)
            .env(ROLE_ENV, "server")
            .env(CHANNEL_ENV, channel)
            .env(PING_ENV, ping)
            .env(PONG_ENV, pong)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = child.stdin.take();
        Ok(ServerProcess {
            child,
            stdin,
            channel: channel.to_owned(),
        })
    }

    /// Waits for the server's first `pong` (posted once it is set up).
    fn wait_ready(&mut self, pong: &NamedSemaphore) -> BoxResult<()> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if pong.wait(SLICE)? {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                return Err(format!("the server process exited during setup ({status})").into());
            }
            if Instant::now() >= deadline {
                return Err(format!("the server process was not ready within {TIMEOUT:?}").into());
            }
        }
    }

    /// Closes stdin and waits (bounded) for a clean exit.
    fn finish(mut self) -> BoxResult<()> {
        self.stdin.take();
        match self.wait_exit(TIMEOUT)? {
            Some(status) if status.success() => Ok(()),
            Some(status) => Err(format!("the server process failed ({status})").into()),
            None => Err(format!("the server process did not exit within {TIMEOUT:?}").into()),
        }
    }

    fn wait_exit(&mut self, limit: Duration) -> io::Result<Option<std::process::ExitStatus>> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stdin.take();
        if !matches!(self.wait_exit(Duration::from_secs(2)), Ok(Some(_))) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // A server that was killed (by us or anyone) could not remove its request buffer;
        // after a clean exit there is nothing left and this finds nothing.
        let _ = zerobuffer::clean_stale(&request_buffer_name(&self.channel));
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

struct Stats {
    n: usize,
    p50: f64,
    p99: f64,
    p999: f64,
    mean: f64,
    max: f64,
}

impl Stats {
    /// Nearest-rank percentiles of samples in nanoseconds, reported in µs.
    fn of(samples: &mut [u64]) -> Stats {
        samples.sort_unstable();
        let n = samples.len();
        let us = |ns: u64| ns as f64 / 1000.0;
        let rank = |p: f64| {
            let r = (p * n as f64).ceil() as usize;
            us(samples[r.clamp(1, n) - 1])
        };
        Stats {
            n,
            p50: rank(0.50),
            p99: rank(0.99),
            p999: rank(0.999),
            mean: samples.iter().map(|&s| s as f64).sum::<f64>() / n as f64 / 1000.0,
            max: us(samples[n - 1]),
        }
    }
}

fn measure(sems: &Semaphores, client: &DuplexClient, scale: Scale) -> BoxResult<Vec<Stats>> {
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
    Ok(samples.iter_mut().map(|s| Stats::of(s)).collect())
}

fn print_table(stats: &[Stats]) {
    println!(
        "{:<14} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "case", "n", "p50 µs", "p99 µs", "p99.9 µs", "mean µs", "max µs", "p50/floor"
    );
    let floor = stats.first().map_or(f64::NAN, |s| s.p50);
    for (case, s) in CASES.iter().zip(stats) {
        println!(
            "{:<14} {:>7} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.2}x",
            case.label,
            s.n,
            s.p50,
            s.p99,
            s.p999,
            s.mean,
            s.max,
            s.p50 / floor
        );
    }
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

fn run(scale: Scale, tag: &str) -> BoxResult<()> {
    let channel = format!("{tag}-duplex");
    let ping_name = format!("/{tag}-ping");
    let pong_name = format!("/{tag}-pong");
    // Declaration order is the reverse of drop order: client, then server, then semaphores.
    let mut sems = Semaphores::create(&ping_name, &pong_name)?;
    let mut server = ServerProcess::spawn(&channel, &ping_name, &pong_name)?;
    server.wait_ready(&sems.pong)?;
    sems.unlink();
    let client = DuplexClient::connect(&channel, TIMEOUT)?;

    let cpus = thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "zerobuffer duplex round trip, client and echo server in two processes ({cpus} CPUs); \
         request ring {} MiB, response ring 256 MiB; {ROUNDS} interleaved rounds{}",
        REQUEST_RING / MIB,
        match scale {
            Scale::Full => "",
            Scale::Quick => " (quick)",
            Scale::Smoke => " (smoke run, numbers meaningless)",
        }
    );
    let started = Instant::now();
    let stats = measure(&sems, &client, scale)?;
    print_table(&stats);
    println!("measured in {:.1} s", started.elapsed().as_secs_f64());

    drop(client);
    server.finish()?;
    Ok(())
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
