//! Run ids: the `(HARMONY_HOST_PID, HARMONY_FEATURE_ID)` pair of one scenario run.
//!
//! Upstream uses the orchestrator's pid and the feature number, so two runs of one scenario
//! at the same time share buffer names (harmony.md §5.3). We give every scenario run its own
//! host pid instead: `(own pid mod 21474) * 100000 + n`, which stays below 2^31 (the C# serve
//! reads it as an `int`) and differs between concurrent runs of one orchestrator. The feature
//! id keeps its upstream meaning.

use std::sync::atomic::{AtomicU32, Ordering};

/// A fresh host pid for one scenario run.
pub fn next_host_pid() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed) % 100_000;
    (std::process::id() % 21_474) * 100_000 + n.max(1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn host_pids_are_distinct_and_fit_an_int() {
        let a = super::next_host_pid();
        let b = super::next_host_pid();
        assert_ne!(a, b);
        assert!(a < i32::MAX as u32 && b < i32::MAX as u32);
    }
}
