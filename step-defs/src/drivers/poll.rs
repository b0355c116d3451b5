//! Bounded waiting. Every wait of a step ends by a deadline; the step says what did not
//! happen, so these return `None` (or fail with the text given) once the time is up.

use std::thread;
use std::time::{Duration, Instant};

use anyhow::{ensure, Result};

/// Calls `check` every `interval` until it yields a value, for at most `timeout` (checking
/// once more at the deadline); `None` when the time ran out.
pub fn poll_until<T>(
    timeout: Duration,
    interval: Duration,
    check: impl FnMut() -> Result<Option<T>>,
) -> Result<Option<T>> {
    repeat_until(timeout, interval, check)
}

/// Calls `attempt` again and again until it yields a value, for at most `timeout`, with no
/// pause in between: for a call that waits by itself (a read or a write with a timeout of its
/// own), so every try already takes its time. The first try is always made, and none starts
/// after the deadline (one that started before it may end after it); `None` when the time ran
/// out. The error type is the attempt's, so a caller can still match on a library error.
pub fn retry_until<T, E>(
    timeout: Duration,
    attempt: impl FnMut() -> std::result::Result<Option<T>, E>,
) -> std::result::Result<Option<T>, E> {
    repeat_until(timeout, Duration::ZERO, attempt)
}

/// [`poll_until`] and [`retry_until`]: `check` until it yields a value or `timeout` has
/// passed, sleeping `pause` (cut at the deadline) between calls.
fn repeat_until<T, E>(
    timeout: Duration,
    pause: Duration,
    mut check: impl FnMut() -> std::result::Result<Option<T>, E>,
) -> std::result::Result<Option<T>, E> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check()? {
            return Ok(Some(value));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        thread::sleep(pause.min(deadline - now));
    }
}

/// Spins (yielding now and then) until `done`, or fails after `limit` saying `what` did not
/// happen: for waits measured in microseconds, where a sleep would distort the measurement.
pub fn spin_until(limit: Instant, what: &str, done: impl Fn() -> bool) -> Result<()> {
    let mut spins = 0u32;
    while !done() {
        spins += 1;
        if spins.is_multiple_of(256) {
            ensure!(Instant::now() < limit, "{what} did not happen in time");
            thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
    Ok(())
}

/// Waits for space are cut into slices of this length so a stop request is seen quickly.
pub(crate) const WAIT_SLICE: Duration = Duration::from_millis(200);

/// How long a probe write may wait before "no space" is concluded (the space either is there
/// at once or never comes: nobody reads meanwhile).
pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_millis(300);

/// How long a check waits for a just-started background thread to reach its wait.
pub(crate) const SETTLE: Duration = Duration::from_secs(2);

/// How long a step waits for a frame unless the step says otherwise.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a blocked write waits before it reports a full buffer, unless a step sets another.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long joining background work may take before the step fails.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polling_yields_the_value_or_none_at_the_deadline() {
        let mut calls = 0;
        let found = poll_until(Duration::from_secs(5), Duration::from_millis(1), || {
            calls += 1;
            Ok((calls == 3).then_some(calls))
        });
        assert_eq!(found.unwrap(), Some(3));
        let start = Instant::now();
        let none = poll_until(Duration::from_millis(30), Duration::from_millis(5), || {
            Ok(None::<()>)
        });
        assert_eq!(none.unwrap(), None);
        assert!(start.elapsed() >= Duration::from_millis(30));
        assert!(spin_until(Instant::now(), "x", || false).is_err());
    }

    #[test]
    fn retrying_tries_at_once_until_a_value_or_the_deadline() {
        let mut tries = 0;
        let found = retry_until(Duration::from_secs(5), || {
            tries += 1;
            Ok::<_, ()>((tries == 3).then_some(tries))
        });
        assert_eq!(found, Ok(Some(3)));
        // Tries of 20 ms within 30 ms: the second starts before the deadline, a third would
        // start after it; none is the answer once the time is up.
        let mut tries = 0;
        let start = Instant::now();
        let none = retry_until(Duration::from_millis(30), || {
            tries += 1;
            thread::sleep(Duration::from_millis(20));
            Ok::<Option<()>, ()>(None)
        });
        assert_eq!(none, Ok(None));
        assert!((1..=2).contains(&tries), "{tries} tries");
        assert!(start.elapsed() >= Duration::from_millis(30));
        // A try is made even with no time at all.
        let mut tries = 0;
        let once = retry_until(Duration::ZERO, || {
            tries += 1;
            Ok::<Option<()>, ()>(None)
        });
        assert_eq!((once, tries), (Ok(None), 1));
        // The attempt's own error ends the retries and comes back as it is.
        let failed = retry_until(Duration::from_secs(5), || Err::<Option<()>, _>("broken"));
        assert_eq!(failed, Err("broken"));
    }
}
