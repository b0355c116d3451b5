//! Typed captures of step texts.

use std::str::FromStr;

use anyhow::{anyhow, Result};

/// Parses a captured number with a message naming the step argument.
pub(crate) fn num<T: FromStr>(text: &str) -> Result<T> {
    text.trim()
        .parse()
        .map_err(|_| anyhow!("'{text}' is not a valid number"))
}
