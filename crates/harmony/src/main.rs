//! `harmony`: runs the shared Gherkin suite across serve processes of any language.
//!
//! ```text
//! harmony rust_python --filter 1.1     Rust reader/client, Python writer/server
//! harmony rust                          two Rust processes per scenario
//! harmony all --filter "13.*"           every available combination
//! harmony --list rust_csharp            scenarios with the role → platform assignment
//! ```
//!
//! Exit status: 0 when nothing failed unexpectedly (an expected failure that passed is
//! reported as XPASS so the list can shrink, but does not fail the run), 1 when a scenario
//! failed unexpectedly, 2 for usage errors and unavailable platforms.

mod cli;
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
