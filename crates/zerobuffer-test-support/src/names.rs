//! Buffer names for tests.

use std::sync::atomic::{AtomicU32, Ordering};

/// What every name of [`unique_name`] starts with. `scripts/run-tests.sh` counts anything
/// under this prefix still in `/dev/shm` or `/tmp/zerobuffer` after a run as a leak, so every
/// test buffer must carry it.
pub const TEST_NAME_PREFIX: &str = "zbtest_";

/// A buffer name unique to this test process and call: `zbtest_TAG_PID_N`.
///
/// `tag` says which test the buffer belongs to (it shows in a leak report). A duplex channel
/// named this way gives its two buffers (`…_request`, `…_response`) the prefix too.
pub fn unique_name(tag: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{TEST_NAME_PREFIX}{tag}_{}_{n}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_differ_per_call_and_carry_the_prefix() {
        let (a, b) = (unique_name("tag"), unique_name("tag"));
        assert_ne!(a, b);
        for name in [&a, &b] {
            assert!(name.starts_with("zbtest_tag_"), "{name}");
            assert!(zerobuffer::validate_name(name).is_ok(), "{name}");
        }
    }
}
