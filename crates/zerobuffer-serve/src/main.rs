//! `zerobuffer-serve`: a Harmony serve. An orchestrator (the C# Harmony, ours, a CI job) puts
//! it opposite a C#, C++ or Python serve as one role (reader, writer, client, server) of a
//! scenario of the shared suite; it executes that role's steps with the `zerobuffer-steps`
//! bindings and the `zerobuffer` library.
//!
//! Contract: `../shared/spec/harmony.md`. Design, module by module:
//!
//! - [`framing`] (in the library): `Content-Length` framing on stdin/stdout, lenient on input,
//!   exact on output; what cannot be resynchronised ends the serve with a message on stderr
//!   (exit code 1).
//! - [`protocol`] (in the library): envelope check (-32700 / -32600 before dispatch; batches
//!   rejected), the request shapes (`[ {…} ]` or `{…}`, keys case-insensitive, `StepType`
//!   0/1/2 or a keyword), the PascalCase results.
//! - [`methods`]: `health`, `initialize`, `discover`, `executeStep`, `cleanup`, `shutdown`,
//!   `crash` on a jsonrpsee `RpcModule` (dispatched with `raw_json_request`; unknown methods
//!   are -32601, bad params -32602). A failing or unknown step is `Success:false` with the
//!   step's message or `undefined step: "<text>"; nearest: "<line>" (93%), …` (the nearest
//!   lines of our vocabulary, harmony-wire's `nearest`), never a JSON-RPC error.
//! - [`executor`]: the World and its non-`Send` step futures on one dedicated thread, one step
//!   at a time, each within `--step-timeout` (default 30 s); a step that blocks past it is
//!   abandoned with its World and a fresh World serves later requests.
//! - [`logs`]: tracing events of the World thread during a step become the step's `Logs`
//!   (ISO-8601 UTC, integer Microsoft `LogLevel`, debug and above, at most 200).
//! - [`server`]: the loop; stdout carries protocol bytes only (fd 1 is re-pointed to stderr);
//!   stdin EOF and `shutdown` end the scenario (bounded by 4 s) and exit 0; `crash` answers,
//!   flushes and aborts.
//!
//! Buffer names: `<base>_<HARMONY_HOST_PID>_<HARMONY_FEATURE_ID>` from the environment, like
//! the other serves; without those variables the `HostPid`/`FeatureId` of `initialize`; else a
//! name unique to this process (`zerobuffer_steps::naming`).

mod executor;
mod logs;
mod methods;
mod options;
mod server;

// The wire lives in the library (`src/lib.rs`), where the fuzz target reaches it too.
use zerobuffer_serve::{framing, protocol};

use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};
use zerobuffer_steps::alloc_counter::CountingAllocator;

use crate::options::{Options, USAGE};

/// Some steps count allocations and fail clearly without it.
#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn main() -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("zerobuffer-serve: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if options.help {
        eprintln!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    init_logging();
    install_panic_hook();
    for arg in &options.ignored {
        tracing::warn!(%arg, "ignoring an unknown argument");
    }
    match run(&options) {
        // Exit without waiting for the stdin thread, which may still be blocked in a read.
        Ok(code) => std::process::exit(code),
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(options: &Options) -> anyhow::Result<i32> {
    let output = Arc::new(server::Output::take_stdout().context("taking stdout for the protocol")?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("rpc")
        .enable_all()
        .build()
        .context("building the runtime")?;
    runtime.block_on(server::serve(output, options.step_timeout))
}

/// stderr only, level from `RUST_LOG` (default: warnings, and this crate's info); the step
/// log capture sees debug and above whatever `RUST_LOG` says.
fn init_logging() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,zerobuffer_serve=info"));
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_filter(filter);
    tracing_subscriber::registry()
        .with(stderr)
        .with(logs::CaptureLayer.with_filter(LevelFilter::DEBUG))
        .init();
}

/// A failing step panics (that is how cucumber reports a step error): such panics are the
/// step's result, not noise for stderr. Every other panic keeps the default report.
fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let on_world_thread = std::thread::current()
            .name()
            .is_some_and(|name| name.starts_with(executor::THREAD_PREFIX));
        if on_world_thread {
            executor::log_step_panic(&info.to_string());
        } else {
            default(info);
        }
    }));
}
