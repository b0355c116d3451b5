//! `context` / `with_context` that keep the cause in the message.
//!
//! cucumber-rs reports a failed step with the error's `Display`, which for an `anyhow::Error`
//! is only the outermost context ("connecting to buffer 'x'"), losing why. Step code imports
//! this trait instead of `anyhow::Context`, so the message reads "connecting to buffer 'x':
//! No active reader found ..." in the runner's report and in the serve's `Error` field.

use std::fmt::Display;

use anyhow::{anyhow, Result};

pub trait Explain<T> {
    fn context<C: Display>(self, context: C) -> Result<T>;
    fn with_context<C: Display, F: FnOnce() -> C>(self, context: F) -> Result<T>;
}

/// Adds `context` as an anyhow context whose text already carries the cause, so the
/// outermost `Display` tells the whole story while `downcast` still finds the root error.
fn explain(error: impl Into<anyhow::Error>, context: impl Display) -> anyhow::Error {
    let error = error.into();
    let message = format!("{context}: {}", error);
    error.context(message)
}

impl<T, E: Into<anyhow::Error>> Explain<T> for std::result::Result<T, E> {
    fn context<C: Display>(self, context: C) -> Result<T> {
        self.map_err(|e| explain(e, context))
    }

    fn with_context<C: Display, F: FnOnce() -> C>(self, context: F) -> Result<T> {
        self.map_err(|e| explain(e, context()))
    }
}

impl<T> Explain<T> for Option<T> {
    fn context<C: Display>(self, context: C) -> Result<T> {
        self.ok_or_else(|| anyhow!("{context}"))
    }

    fn with_context<C: Display, F: FnOnce() -> C>(self, context: F) -> Result<T> {
        self.ok_or_else(|| anyhow!("{}", context()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cause_stays_in_the_message() {
        let failed: Result<(), _> = Err(std::io::Error::other("disk on fire"));
        let err = failed.context("writing").unwrap_err();
        assert_eq!(err.to_string(), "writing: disk on fire");
        let nested: Result<()> = Err(anyhow!("inner")).context("middle");
        assert_eq!(
            nested.context("outer").unwrap_err().to_string(),
            "outer: middle: inner"
        );
        assert_eq!(
            None::<u8>.context("missing").unwrap_err().to_string(),
            "missing"
        );
    }
}
