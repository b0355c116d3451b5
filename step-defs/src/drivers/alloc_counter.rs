//! A counting global allocator, so steps can check that a path allocates nothing.
//!
//! Binaries that run the suite install it (`#[global_allocator] static A: CountingAllocator =
//! CountingAllocator;`); without it the counting steps fail with a clear message instead of
//! passing.

#![allow(
    unsafe_code,
    reason = "a GlobalAlloc implementation is unsafe by definition; it only delegates to System"
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

/// Counts allocations per thread, then delegates to the system allocator.
pub struct CountingAllocator;

static INSTALLED: AtomicBool = AtomicBool::new(false);

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every method delegates to `System` with the caller's arguments unchanged; the
// bookkeeping touches only a const-initialised thread-local Cell and an atomic, neither of
// which allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded as received; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded as received.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded as received; `ptr` came from this allocator, i.e. from `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as received; `ptr` came from `System` through this allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

fn count() {
    INSTALLED.store(true, Ordering::Relaxed);
    // `try_with`: during thread teardown the slot may be gone; such allocations are not ours.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

/// Allocations made by the calling thread so far, or `None` if the counting allocator is not
/// the global allocator of this binary.
pub fn thread_allocations() -> Option<u64> {
    if !INSTALLED.load(Ordering::Relaxed) {
        // Nothing allocated through us yet: allocate once to find out whether we are installed.
        drop(std::hint::black_box(Box::new(0u8)));
        if !INSTALLED.load(Ordering::Relaxed) {
            return None;
        }
    }
    ALLOCATIONS.try_with(Cell::get).ok()
}
