//! SIGINT/SIGTERM handling: the first signal only sets a flag that the commands check between
//! waits (every ≤ 200 ms), so that they return normally and drop their Reader/Writer, which
//! removes the buffer. A second signal terminates at once.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use signal_hook::consts::signal::{SIGINT, SIGTERM};
use signal_hook::flag;

/// Longest a command waits before looking at the flag again.
pub const POLL_SLICE: Duration = Duration::from_millis(200);

/// Set by the first signal; arms the immediate exit on the second one.
static STOP_REQUESTED: AtomicBool = AtomicBool::new(false);
/// The number of the last signal received (0: none).
static LAST_SIGNAL: AtomicUsize = AtomicUsize::new(0);

/// Registers the handlers. Call once, before any buffer is created.
pub fn install() -> io::Result<()> {
    for signal in [SIGINT, SIGTERM] {
        // The shutdown action must come first: it only fires if the flag was already set.
        flag::register_conditional_shutdown(signal, 128 + signal, &STOP_REQUESTED)?;
        flag::register(signal, &STOP_REQUESTED)?;
        flag::register_usize(signal, &LAST_SIGNAL, signal as usize)?;
    }
    Ok(())
}

/// `Err(Interrupted)` once a termination signal has arrived.
pub fn check() -> Result<(), Interrupted> {
    if STOP_REQUESTED.load(Ordering::SeqCst) {
        let signal = LAST_SIGNAL.load(Ordering::SeqCst);
        return Err(Interrupted {
            signal: i32::try_from(signal).unwrap_or(SIGTERM),
        });
    }
    Ok(())
}

/// The run was stopped by a signal; `main` exits with `128 + signal`.
#[derive(Debug, Clone, Copy)]
pub struct Interrupted {
    signal: i32,
}

impl Interrupted {
    pub fn exit_status(&self) -> u8 {
        u8::try_from(128 + self.signal).unwrap_or(1)
    }
}

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.signal {
            SIGINT => "SIGINT",
            SIGTERM => "SIGTERM",
            _ => "a signal",
        };
        write!(f, "interrupted by {name}")
    }
}

impl std::error::Error for Interrupted {}
