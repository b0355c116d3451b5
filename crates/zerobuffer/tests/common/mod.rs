//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

/// A buffer name unique to this test process and call.
pub fn unique_name(tag: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("zbtest_{tag}_{}_{n}", std::process::id())
}

/// Every OS object a buffer named `name` can leave behind.
pub fn leftovers(name: &str) -> Vec<String> {
    zerobuffer::ObjectPaths::new(name)
        .existing()
        .iter()
        .map(|p| p.display().to_string())
        .collect()
}

/// Asserts that nothing of buffer `name` is left on the machine.
pub fn assert_clean(name: &str) {
    let left = leftovers(name);
    assert!(left.is_empty(), "left behind: {left:?}");
}

pub mod peer;
