//! Durations and counts of @long-running and @benchmark scenarios scale with the
//! environment variable `ZEROBUFFER_SUITE_SCALE`: the default keeps the run short, `1` runs
//! them as written (e.g. 11.3's 24 hours).

use std::time::Duration;

use anyhow::{bail, Result};

pub const VARIABLE: &str = "ZEROBUFFER_SUITE_SCALE";
/// Default factor: a thousandth of what the feature says.
pub const DEFAULT: f64 = 0.001;

/// The factor in force.
pub fn factor() -> Result<f64> {
    match std::env::var(VARIABLE) {
        Err(_) => Ok(DEFAULT),
        Ok(text) => match text.parse::<f64>() {
            Ok(f) if f > 0.0 && f.is_finite() => Ok(f),
            _ => bail!("{VARIABLE}='{text}' is not a positive number"),
        },
    }
}

/// `full` scaled, but at least `floor`.
pub fn duration(full: Duration, floor: Duration) -> Result<Duration> {
    Ok(full.mul_f64(factor()?.min(1.0)).max(floor.min(full)))
}

/// `full` scaled, but at least `floor`.
pub fn count(full: u64, floor: u64) -> Result<u64> {
    let scaled = (full as f64 * factor()?.min(1.0)).round() as u64;
    Ok(scaled.max(floor.min(full)))
}

/// Create/destroy cycles run at least (a cycle takes well under a millisecond; 11.1, 11.5).
pub(crate) const MIN_CYCLES: u64 = 500;
