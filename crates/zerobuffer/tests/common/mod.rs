//! Helpers shared by the interop tests (unique names and the "nothing left behind" check come
//! from `zerobuffer-test-support`).
#![allow(
    dead_code,
    reason = "each interop test binary uses part of the peer helpers"
)]

pub mod peer;
