//! `zerobuffer`: read, write, inspect and clean ZeroBuffer shared-memory buffers, and serve or
//! call a DuplexChannel.
//!
//! This file holds the command line (clap) and the dispatch; every command lives in its own
//! module. Errors end up here: one line `zerobuffer: error: ...` on stderr and exit status 1
//! (clap's own usage errors exit with 2; a run stopped by SIGINT/SIGTERM exits with 128 + signal).

mod clean;
mod duplex_echo;
mod duplex_request;
mod inspect;
mod read;
mod ready;
mod signals;
mod sizes;
mod summary;
mod write;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use zerobuffer::WaitStrategy;

use crate::sizes::FrameSizes;

/// Read, write, inspect and clean ZeroBuffer shared-memory buffers (protocol v1.0.0), and serve
/// or call a DuplexChannel (buffers CHANNEL_request and CHANNEL_response).
///
/// Frames written by `write` and checked by `read --validate`, and the requests of
/// `duplex-request`, use the cross-language test pattern: frame number i (1-based, also its
/// sequence number) has byte j = (j + i) % 256.
/// Logs go to stderr; set RUST_LOG (e.g. RUST_LOG=debug) to see more than warnings.
#[derive(Debug, Parser)]
#[command(name = "zerobuffer", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Read(ReadArgs),
    Write(WriteArgs),
    Inspect(InspectArgs),
    Clean(CleanArgs),
    DuplexEcho(DuplexEchoArgs),
    DuplexRequest(DuplexRequestArgs),
}

/// Create buffer NAME as its reader and read frames from a writer.
///
/// Without --frames the run ends normally when the writer leaves (closes or dies) after at
/// least one frame. Prints a summary on stdout (also when the run fails after the buffer was
/// created). The buffer is removed again on exit, including on SIGINT/SIGTERM.
#[derive(Debug, Args)]
pub struct ReadArgs {
    /// Buffer name (no '/', at most 245 bytes)
    pub name: String,
    /// Size of the metadata block in bytes (rounded up to a multiple of 64)
    #[arg(long, value_name = "B", default_value_t = 1024)]
    pub metadata_size: usize,
    /// Size of the payload ring in bytes (rounded up to a multiple of 64)
    #[arg(long, value_name = "B", default_value_t = 1_048_576,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub payload_size: u64,
    /// Read exactly N frames; the writer leaving earlier is an error
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub frames: Option<u64>,
    /// Longest wait for each frame, in milliseconds; no frame within it is an error
    #[arg(long, value_name = "T", default_value_t = 5000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_ms: u64,
    /// Check every frame against the test pattern and the sequence numbers
    /// (a new writer restarting at sequence 1 is accepted); errors make the exit status 1
    #[arg(long)]
    pub validate: bool,
    /// Print the summary as one JSON object: frames, bytes, sequence_errors, pattern_errors,
    /// metadata_len, elapsed_ms
    #[arg(long)]
    pub json: bool,
    /// Create this file (containing the reader's pid) once the buffer exists, so that scripts
    /// can start the writer after it; the file is left in place
    #[arg(long, value_name = "PATH")]
    pub ready_file: Option<PathBuf>,
    /// How to wait for the other side: block (sem_timedwait, as every peer does),
    /// spin-then-block[:MICROS] (sem_trywait for a while first) or busy-spin (never sleeps;
    /// keeps one core busy). All of them work with any peer
    #[arg(long, value_name = "STRATEGY", default_value_t = WaitStrategy::Block)]
    pub wait: WaitStrategy,
}

/// Connect to buffer NAME as its writer and write test-pattern frames.
///
/// Waits up to --timeout-ms for the buffer to appear (the reader may still be starting).
/// Frame i (1-based) is i's sequence number and holds byte j = (j + i) % 256.
#[derive(Debug, Args)]
pub struct WriteArgs {
    /// Buffer name (no '/', at most 245 bytes)
    pub name: String,
    /// Number of frames to write
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub frames: u64,
    /// Size of every frame in bytes
    #[arg(long, value_name = "S", default_value_t = 1024, conflicts_with = "sizes",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub size: u64,
    /// Cycle the frame sizes: frame i has MIN + (i-1) % (MAX-MIN+1) bytes, i.e. MIN, MIN+1,
    /// ..., MAX, MIN, ... (1 <= MIN <= MAX)
    #[arg(long, value_name = "MIN..MAX")]
    pub sizes: Option<FrameSizes>,
    /// Store TEXT (UTF-8 bytes) as the buffer's metadata before the first frame
    #[arg(long, value_name = "TEXT")]
    pub metadata: Option<String>,
    /// Connect deadline and write timeout in milliseconds (longest wait for space per frame)
    #[arg(long, value_name = "T", default_value_t = 5000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_ms: u64,
    /// Print the summary as one JSON object: frames, bytes, sequence_errors, pattern_errors,
    /// metadata_len, elapsed_ms
    #[arg(long)]
    pub json: bool,
    /// How to wait for the other side: block (sem_timedwait, as every peer does),
    /// spin-then-block[:MICROS] (sem_trywait for a while first) or busy-spin (never sleeps;
    /// keeps one core busy). All of them work with any peer
    #[arg(long, value_name = "STRATEGY", default_value_t = WaitStrategy::Block)]
    pub wait: WaitStrategy,
}

/// Show the control block (OIEB) of buffer NAME and whether its processes are alive.
///
/// Read-only: attaches neither as reader nor as writer.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Buffer name (no '/', at most 245 bytes)
    pub name: String,
    /// Print one JSON object instead of a table
    #[arg(long)]
    pub json: bool,
}

/// Remove resources left behind by dead readers and writers.
///
/// With NAME, looks at that buffer only; without, at every buffer found in /tmp/zerobuffer
/// and /dev/shm. Resources of a live reader or writer are never touched.
#[derive(Debug, Args)]
pub struct CleanArgs {
    /// Buffer name; all buffers if omitted
    pub name: Option<String>,
}

/// Serve duplex channel CHANNEL, answering every request with its own bytes.
///
/// Creates CHANNEL_request and serves clients of any implementation, one after another: each
/// request is answered, one at a time, with the same bytes after --delay-ms. Runs until
/// SIGINT/SIGTERM, then stops the server and removes its buffer. RUST_LOG=info logs clients
/// arriving and leaving.
#[derive(Debug, Args)]
pub struct DuplexEchoArgs {
    /// Channel name: the buffers are CHANNEL_request and CHANNEL_response (no '/')
    pub channel: String,
    /// Size of the request buffer's metadata block in bytes (rounded up to a multiple of 64)
    #[arg(long, value_name = "B", default_value_t = 4096)]
    pub metadata_size: usize,
    /// Size of the request buffer's payload ring in bytes (rounded up to a multiple of 64)
    #[arg(long, value_name = "B", default_value_t = 1_048_576,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub payload_size: u64,
    /// Processing time simulated for every request, in milliseconds (cut short by a signal)
    #[arg(long, value_name = "D", default_value_t = 0)]
    pub delay_ms: u64,
    /// Create this file (containing the server's pid) once the request buffer exists, so that
    /// scripts can start clients after it; the file is left in place
    #[arg(long, value_name = "PATH")]
    pub ready_file: Option<PathBuf>,
    /// How to wait for the other side: block (sem_timedwait, as every peer does),
    /// spin-then-block[:MICROS] (sem_trywait for a while first) or busy-spin (never sleeps;
    /// keeps one core busy). All of them work with any peer
    #[arg(long, value_name = "STRATEGY", default_value_t = WaitStrategy::Block)]
    pub wait: WaitStrategy,
}

/// Call duplex channel CHANNEL as its client and check that the server echoes every request.
///
/// Waits up to --timeout-ms for the server, then sends the requests one at a time: request i
/// (1-based) holds byte j = (j + i) % 256, and its response must carry sequence i and the same
/// bytes. Prints a summary on stdout; a mismatch or an error makes the exit status 1.
#[derive(Debug, Args)]
pub struct DuplexRequestArgs {
    /// Channel name: the buffers are CHANNEL_request and CHANNEL_response (no '/')
    pub channel: String,
    /// Number of requests
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub requests: u64,
    /// Size of every request in bytes
    #[arg(long, value_name = "S", default_value_t = 1024,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub size: u64,
    /// Connect deadline and longest wait for each response, in milliseconds
    #[arg(long, value_name = "T", default_value_t = 5000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_ms: u64,
    /// Print the summary as one JSON object: requests, bytes, mismatches, elapsed_ms
    #[arg(long)]
    pub json: bool,
    /// Create this file (containing the client's pid) once connected, before the first
    /// request; the file is left in place
    #[arg(long, value_name = "PATH")]
    pub ready_file: Option<PathBuf>,
    /// How to wait for the other side: block (sem_timedwait, as every peer does),
    /// spin-then-block[:MICROS] (sem_trywait for a while first) or busy-spin (never sleeps;
    /// keeps one core busy). All of them work with any peer
    #[arg(long, value_name = "STRATEGY", default_value_t = WaitStrategy::Block)]
    pub wait: WaitStrategy,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    if let Err(e) = signals::install() {
        eprintln!("zerobuffer: error: cannot install signal handlers: {e}");
        return ExitCode::FAILURE;
    }
    let result = match cli.command {
        Command::Read(args) => read::run(&args),
        Command::Write(args) => write::run(&args),
        Command::Inspect(args) => inspect::run(&args),
        Command::Clean(args) => clean::run(&args),
        Command::DuplexEcho(args) => duplex_echo::run(&args),
        Command::DuplexRequest(args) => duplex_request::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(stop) = e.downcast_ref::<signals::Interrupted>() {
                eprintln!("zerobuffer: {stop}");
                return ExitCode::from(stop.exit_status());
            }
            eprintln!("zerobuffer: error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The anyhow chain joined by ": ", kept on a single line.
fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}

fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn size_and_sizes_exclude_each_other() {
        let parsed =
            Cli::try_parse_from(["zerobuffer", "write", "b", "--size", "4", "--sizes", "1..2"]);
        assert!(parsed.is_err());
        let parsed = Cli::try_parse_from(["zerobuffer", "write", "b", "--sizes", "3..5"]).unwrap();
        let Command::Write(w) = parsed.command else {
            panic!("not a write")
        };
        assert_eq!(w.sizes, Some(FrameSizes::new(3, 5).unwrap()));
    }
}
