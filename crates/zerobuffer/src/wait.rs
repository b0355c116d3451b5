//! How an endpoint waits for the other side: blocking, spinning first, or spinning only.
//!
//! Every strategy takes and gives exactly the semaphore tokens protocol.md §4 describes, so
//! they are wire-compatible with each other and with every peer: a spinning reader takes its
//! `sem-w` token with `sem_trywait` instead of `sem_timedwait`, and a peer cannot tell the
//! difference. Only the waiting side's CPU use and wake-up latency change (the idea of the
//! LMAX Disruptor's wait strategies).

use std::fmt;
use std::hint;
use std::io;
use std::str::FromStr;
use std::thread;
use std::time::{Duration, Instant};

use crate::sem::NamedSemaphore;

/// Spins between two looks at the clock: reading it costs about as much as a few dozen spins.
const SPINS_PER_CLOCK_READ: u32 = 64;

/// How long [`WaitStrategy::SpinThenBlock`] spins before it also yields the CPU: longer than
/// a hand-off between two busy cores (under a microsecond), short enough that a peer waiting
/// for this core gets it quickly (the Disruptor's spin, then yield, then sleep).
const YIELD_AFTER: Duration = Duration::from_micros(5);

/// The default spin of [`WaitStrategy::SpinThenBlock`]: longer than a context switch and a
/// wake-up (a few microseconds), short enough not to matter when the peer is really idle.
pub const DEFAULT_SPIN: Duration = Duration::from_micros(50);

/// How a [`Reader`](crate::Reader) waits for a frame and a [`Writer`](crate::Writer) for space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WaitStrategy {
    /// `sem_timedwait` straight away: no CPU while waiting; each wait that finds nothing costs
    /// a sleep and a wake-up. What every other implementation does; the default.
    #[default]
    Block,
    /// `sem_trywait` in a spin loop for up to the given time (offering the CPU to other
    /// threads after the first 5 µs), then `sem_timedwait` for the rest of the timeout: a busy
    /// peer is met without a sleep, an idle one costs no CPU.
    SpinThenBlock(Duration),
    /// `sem_trywait` in a spin loop for the whole timeout: the lowest latency, one core kept
    /// busy while waiting. For latency-critical users with a core to spare per endpoint.
    BusySpin,
}

impl WaitStrategy {
    /// [`WaitStrategy::SpinThenBlock`] with [`DEFAULT_SPIN`].
    pub const fn spin_then_block() -> WaitStrategy {
        WaitStrategy::SpinThenBlock(DEFAULT_SPIN)
    }

    /// Takes one token of `sem` within `timeout`; `Ok(false)` when none came in time.
    #[inline]
    pub(crate) fn take(self, sem: &NamedSemaphore, timeout: Duration) -> io::Result<bool> {
        match self {
            WaitStrategy::Block => sem.wait(timeout),
            spinning => spinning.take_spinning(sem, timeout),
        }
    }

    /// [`take`](Self::take) for the spinning strategies, out of line: blocking, the default,
    /// is a `sem_trywait` inlined into every read and write.
    fn take_spinning(self, sem: &NamedSemaphore, timeout: Duration) -> io::Result<bool> {
        match self {
            WaitStrategy::Block => sem.wait(timeout),
            WaitStrategy::SpinThenBlock(spin) => {
                let started = Instant::now();
                if spin_for_token(sem, started, spin.min(timeout), Some(YIELD_AFTER))? {
                    return Ok(true);
                }
                sem.wait(timeout.saturating_sub(started.elapsed()))
            }
            WaitStrategy::BusySpin => spin_for_token(sem, Instant::now(), timeout, None),
        }
    }
}

/// Text that names no [`WaitStrategy`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown wait strategy {0:?}: expected block, busy-spin, spin-then-block or \
     spin-then-block:MICROSECONDS"
)]
pub struct UnknownWaitStrategy(pub String);

impl FromStr for WaitStrategy {
    type Err = UnknownWaitStrategy;

    /// `block`, `busy-spin`, `spin-then-block` (spinning [`DEFAULT_SPIN`]) or
    /// `spin-then-block:N` (spinning N microseconds), as [`fmt::Display`] writes them.
    fn from_str(text: &str) -> Result<Self, UnknownWaitStrategy> {
        let unknown = || UnknownWaitStrategy(text.to_owned());
        match text.trim() {
            "block" => Ok(WaitStrategy::Block),
            "busy-spin" => Ok(WaitStrategy::BusySpin),
            "spin-then-block" => Ok(WaitStrategy::spin_then_block()),
            other => {
                let micros = other.strip_prefix("spin-then-block:").ok_or_else(unknown)?;
                let micros = micros.parse::<u64>().map_err(|_| unknown())?;
                Ok(WaitStrategy::SpinThenBlock(Duration::from_micros(micros)))
            }
        }
    }
}

impl fmt::Display for WaitStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitStrategy::Block => f.write_str("block"),
            WaitStrategy::BusySpin => f.write_str("busy-spin"),
            WaitStrategy::SpinThenBlock(spin) => {
                write!(f, "spin-then-block:{}", spin.as_micros())
            }
        }
    }
}

/// `sem_trywait` until it succeeds or `limit` has passed since `started`; from `yield_after`
/// on, the CPU is offered to other threads at every look at the clock.
///
/// Why yield: when the scheduler has put the peer on this very core (a woken thread is often
/// placed on its waker's core), a spinner that never yields keeps the peer from running until
/// the spin ends; both sides then pay a full spin per hand-off (seen: 64 B round trips of
/// 100+ µs with a 50 µs spin, against 0.6 µs when the two sides sit on different cores).
///
/// Why only one `pause` per look at the clock, not one per try: under KVM a tight loop of
/// `pause` triggers pause-loop exits, and this machine's busy-spin round trip went from
/// 0.65 µs to 1.7 µs with a `pause` per try. A `sem_trywait` that finds nothing is a single
/// load of a cache line that stays shared until the peer posts, so the loop does not flood
/// the memory system without it.
fn spin_for_token(
    sem: &NamedSemaphore,
    started: Instant,
    limit: Duration,
    yield_after: Option<Duration>,
) -> io::Result<bool> {
    loop {
        for _ in 0..SPINS_PER_CLOCK_READ {
            if sem.try_wait()? {
                return Ok(true);
            }
        }
        let elapsed = started.elapsed();
        if elapsed >= limit {
            // One last look, so a zero limit still takes a token that is already there.
            return sem.try_wait();
        }
        if yield_after.is_some_and(|after| elapsed >= after) {
            thread::yield_now();
        } else {
            hint::spin_loop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::thread;

    fn semaphore(tag: &str) -> NamedSemaphore {
        let name = format!("/zbtest_wait_{tag}_{}", std::process::id());
        let sem = NamedSemaphore::create(&name).unwrap();
        NamedSemaphore::unlink(&name).unwrap();
        sem
    }

    const STRATEGIES: [WaitStrategy; 3] = [
        WaitStrategy::Block,
        WaitStrategy::SpinThenBlock(Duration::from_millis(5)),
        WaitStrategy::BusySpin,
    ];

    #[test]
    fn strategies_parse_from_their_names_and_print_back() {
        for strategy in STRATEGIES {
            assert_eq!(strategy.to_string().parse::<WaitStrategy>(), Ok(strategy));
        }
        assert_eq!(
            "spin-then-block".parse(),
            Ok(WaitStrategy::spin_then_block())
        );
        for bad in [
            "",
            "spin",
            "spin-then-block:",
            "spin-then-block:1ms",
            "Block",
        ] {
            let err = bad.parse::<WaitStrategy>().unwrap_err();
            assert!(
                err.to_string().contains("expected block, busy-spin"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn every_strategy_takes_exactly_one_token() {
        for strategy in STRATEGIES {
            let sem = semaphore("one");
            sem.post().unwrap();
            sem.post().unwrap();
            assert!(strategy.take(&sem, Duration::from_millis(100)).unwrap());
            assert_eq!(sem.value().unwrap(), 1, "{strategy:?}");
        }
    }

    #[test]
    fn every_strategy_gives_up_at_its_timeout() {
        for strategy in STRATEGIES {
            let sem = semaphore("timeout");
            let started = Instant::now();
            assert!(!strategy.take(&sem, Duration::from_millis(30)).unwrap());
            assert!(
                started.elapsed() >= Duration::from_millis(30),
                "{strategy:?}"
            );
            assert_eq!(sem.value().unwrap(), 0);
        }
    }

    #[test]
    fn every_strategy_is_woken_by_a_later_post() {
        for strategy in STRATEGIES {
            let sem = Arc::new(semaphore("woken"));
            let poster = Arc::clone(&sem);
            let post = thread::spawn(move || {
                thread::sleep(Duration::from_millis(20));
                poster.post().unwrap();
            });
            assert!(
                strategy.take(&sem, Duration::from_secs(5)).unwrap(),
                "{strategy:?}"
            );
            post.join().unwrap();
            assert_eq!(sem.value().unwrap(), 0);
        }
    }
}
