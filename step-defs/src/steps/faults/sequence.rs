//! A sequence number out of order is a typed error that names both sequences (6.1).

use anyhow::{bail, ensure, Result};
use cucumber::{then, when};
use zerobuffer::Error;

use crate::captures::Number;
use crate::drivers::ring::corrupt_next_header;
use crate::world::ZbWorld;

#[when(regex = r"^the test corrupts next frame sequence to '([^']*)'$")]
fn corrupts_next_sequence(world: &mut ZbWorld, sequence: Number<u64>) -> Result<()> {
    let sequence = sequence.0;
    corrupt_next_header(world.current()?, |h| h.sequence = sequence).map(drop)
}

#[then(regex = r"^the read should fail with sequence error$")]
fn read_fails_with_sequence_error(world: &mut ZbWorld) -> Result<()> {
    // Only looked at: the next step checks the numbers of the same error.
    match &world.current()?.last_error {
        Some(Error::Sequence { .. }) => Ok(()),
        Some(e) => bail!("expected a sequence error, got: {e}"),
        None => bail!("the read succeeded; expected a sequence error"),
    }
}

#[then(regex = r"^the error should show expected '([^']*)' got '([^']*)'$")]
fn error_shows_sequences(
    world: &mut ZbWorld,
    expected: Number<u64>,
    got: Number<u64>,
) -> Result<()> {
    let (want_expected, want_got) = (expected.0, got.0);
    let err = world.current()?.take_error("a sequence error")?;
    let Error::Sequence { expected, got } = err else {
        bail!("expected a sequence error, got: {err}");
    };
    // The expected number is the reader's own: one past the last frame it read.
    ensure!(
        expected == want_expected,
        "the error says expected {expected}, got {got}; the step expects {want_expected}: the \
         reader has read frames up to {}, so the next sequence it expects is {expected}: an \
         error saying expected {want_expected} cannot happen here",
        expected.saturating_sub(1)
    );
    ensure!(
        got == want_got,
        "the error says expected {expected}, got {got}; the step expects got {want_got}"
    );
    let text = err.to_string();
    ensure!(
        text.contains(&format!("expected {expected}, got {got}")),
        "the message '{text}' does not show both numbers"
    );
    Ok(())
}
