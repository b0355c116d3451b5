//! `harmony`: runs the shared Gherkin suite across serve processes of any language.
//!
//! ```text
//! harmony rust_python --filter 1.1     Rust reader/client, Python writer/server
//! harmony rust                          two Rust processes per scenario
//! harmony all --filter "13.*"           every available combination
//! harmony --list rust_csharp            scenarios with the role → platform assignment
//! harmony rust --dry-run --features DIR  undefined steps of DIR, with suggestions; runs nothing
//! harmony rust --baseline old.json      the results page marks what changed since old.json
//! ```
//!
//! Reports go to `--out-dir` (default `target/harmony`): `junit.xml`, `results.json`,
//! `matrix.md`, Cucumber JSON per combination, and `index.html`, the results page
//! (`harmony::page`).
//!
//! A step no line of our vocabulary matches (and that harmony does not handle itself) is
//! undefined for every platform: its scenario is UNDEFINED, starts no process and fails the
//! run; each distinct undefined step is listed once before the closing line, with the
//! nearest lines of the vocabulary. `--dry-run` decides that for every selected scenario and
//! runs none (its counts: see `dry_run`).
//!
//! Exit status: 0 when nothing failed unexpectedly (an expected failure that passed is
//! reported as XPASS so the list can shrink, but does not fail the run), 1 when a scenario
//! failed unexpectedly or is undefined, 2 for usage errors, unavailable platforms and a
//! baseline that cannot be read.

mod chaos;
mod cli;
mod dry_run;
mod execute;
mod plan;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = <cli::Args as clap::Parser>::parse();
    let filter = if args.verbose { "debug" } else { "warn" };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .init();
    match cli::run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("harmony: {e:#}");
            ExitCode::from(2)
        }
    }
}
