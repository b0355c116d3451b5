//! The command line and environment every throughput bench takes: `--bench` (cargo passes it
//! to `cargo bench` runs; without it, under `cargo test --benches`, the run is a smoke run),
//! `--quick`, words that filter the cases, `ZEROBUFFER_BENCH_SECONDS` and
//! `ZEROBUFFER_BENCH_ROUNDS`. Shared by the bench targets through `#[path]`.

use std::env;

const SECONDS_ENV: &str = "ZEROBUFFER_BENCH_SECONDS";
const ROUNDS_ENV: &str = "ZEROBUFFER_BENCH_ROUNDS";

pub struct Options {
    /// False for a smoke run (`cargo test --benches`), whose numbers mean nothing.
    pub bench: bool,
    /// Timed seconds per row, spread over the rounds.
    pub seconds: f64,
    pub rounds: usize,
    pub filters: Vec<String>,
}

impl Options {
    /// `bench_rounds` is the number of rounds of a `cargo bench` run (a smoke run has one).
    /// Unknown flags are ignored; other words filter the cases.
    pub fn parse(bench_rounds: usize) -> Options {
        let args: Vec<String> = env::args().skip(1).collect();
        let bench = args.iter().any(|a| a == "--bench");
        let quick = args.iter().any(|a| a == "--quick");
        let env_f64 = |key| env::var(key).ok().and_then(|v| v.parse::<f64>().ok());
        let seconds = env_f64(SECONDS_ENV)
            .filter(|s| *s > 0.0)
            .unwrap_or(match (bench, quick) {
                (false, _) => 0.02,
                (true, true) => 0.2,
                (true, false) => 1.0,
            });
        let rounds = env_f64(ROUNDS_ENV)
            .map(|r| r as usize)
            .filter(|r| *r > 0)
            .unwrap_or(if bench { bench_rounds } else { 1 });
        let filters = args.into_iter().filter(|a| !a.starts_with('-')).collect();
        Options {
            bench,
            seconds,
            rounds,
            filters,
        }
    }

    pub fn selects(&self, case: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| case.contains(f.as_str()))
    }
}
