//! Per-process state of the buffer steps: names, creation races.

use anyhow::Result;
use zerobuffer::{Error, Reader};

/// What the buffer steps of one process keep between steps.
#[derive(Default)]
pub(crate) struct BuffersState {
    /// Buffers created for the naming checks.
    pub(crate) named: Named,
    /// The longest valid name and the one too long.
    pub(crate) length_test: LengthTest,
    /// 4.11: the concurrent creation race.
    pub(crate) race: Race,
}

/// 4.11: contenders prepared, extra winners (a bug if any) and the losers' errors.
#[derive(Default)]
pub(crate) struct Race {
    pub(crate) contenders: Option<usize>,
    pub(crate) extra_readers: Vec<Reader>,
    pub(crate) race_errors: Vec<Error>,
}

#[derive(Default)]
pub(crate) struct Named {
    pub(crate) buffers: Vec<Reader>,
}

/// Outcome of "test maximum name length".
#[derive(Default)]
pub(crate) struct LengthTest {
    pub(crate) longest: Option<(usize, Result<()>)>,
    pub(crate) too_long: Option<(usize, Result<()>)>,
}
