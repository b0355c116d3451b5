//! Hostile peers as real processes, for a few seconds each:
//!
//! - **a hostile writer against our reader**: a child process that claims to be the writer
//!   and writes random bytes into the OIEB and the ring (now and then a plausible frame
//!   header, a made-up count or position), posting `sem-w` at random, while our reader reads;
//! - **a hostile reader against our writer**: a child that creates the buffer with our
//!   `Reader`, then scribbles over the reader's fields of the OIEB (free bytes, read position,
//!   read count, its PID) and posts `sem-r` at random, while our writer writes.
//!
//! Our side must get frames that lie inside the ring (`0 < len ≤ payload size`) or typed
//! errors, never panic, never return later than its timeout allows (a bound of
//! `timeout + SLACK`, a hang detector, not a performance check), and never die of a signal
//! (this process would: the run fails). Afterwards `clean_stale` leaves nothing of the
//! buffer behind. `harness = false`: this binary is also the hostile child it starts
//! (`--hostile writer|reader NAME SEED SECONDS`). `ZEROBUFFER_SOAK_SECONDS` sets each soak's
//! length (default 3; the long form e.g. 600), `ZEROBUFFER_SOAK_SEED` the first seed.
//! Ends with the plain line `N passed, N failed, 0 skipped`.

mod hostile;
mod soaks;

use std::process::ExitCode;
use std::time::Duration;

const SECONDS_ENV: &str = "ZEROBUFFER_SOAK_SECONDS";
const SEED_ENV: &str = "ZEROBUFFER_SOAK_SEED";

fn env_number(key: &str, default: u64) -> Result<u64, String> {
    match std::env::var(key) {
        Ok(v) => v
            .parse()
            .map_err(|_| format!("{key}={v:?} is not a number")),
        Err(_) => Ok(default),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--hostile") {
        return hostile::run(&args[at + 1..]);
    }
    let (seconds, base) = match (env_number(SECONDS_ENV, 3), env_number(SEED_ENV, 0)) {
        (Ok(s), Ok(seed)) => (s, if seed == 0 { fastrand::u64(..) } else { seed }),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("hostile_soak: {e}");
            return ExitCode::from(2);
        }
    };
    let length = Duration::from_secs(seconds);
    let soaks: [(&str, soaks::Soak); 2] = [
        ("a hostile writer against our reader", soaks::our_reader),
        ("a hostile reader against our writer", soaks::our_writer),
    ];
    let (mut passed, mut failed) = (0, 0);
    for (i, (what, soak)) in soaks.into_iter().enumerate() {
        let seed = base.wrapping_add(i as u64);
        match std::panic::catch_unwind(|| soak(length, seed)) {
            Ok(Ok(figures)) => {
                passed += 1;
                println!("ok {what} (seed {seed}, {seconds} s): {figures}");
            }
            Ok(Err(e)) => {
                failed += 1;
                println!("FAILED {what} (seed {seed}; rerun: {SEED_ENV}={base}): {e}");
            }
            Err(_) => {
                failed += 1;
                println!("FAILED {what} (seed {seed}; rerun: {SEED_ENV}={base}): panicked");
            }
        }
    }
    println!("{passed} passed, {failed} failed, 0 skipped");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
