//! Per-process state of the fault steps: injected failures, exhaustion, corruption, peers dying mid-write.

use std::sync::mpsc;

use anyhow::{anyhow, bail, ensure, Result};
use zerobuffer::{BufferConfig, Error, OiebSnapshot, Reader};

use crate::drivers::os::{leftovers, object_paths, DescriptorLimit, ShmWatch};
use crate::drivers::pending::PendingWrite;

/// What the fault steps of one process keep between steps.
#[derive(Default)]
pub(crate) struct FaultsState {
    /// A large write left open while its reader dies.
    pub(crate) active_write: ActiveWrite,
    /// A creation under an injected failure or a descriptor limit.
    pub(crate) creation: Creation,
    /// A large write held in a background job.
    pub(crate) large_write: LargeWrite,
    /// The largest frame and the oversized attempt.
    pub(crate) max_frame: MaxFrame,
    /// Buffers created up to the system limit.
    pub(crate) exhaustion: Exhaustion,
}

/// A write kept in progress by "starts writing large frame".
#[derive(Default)]
pub(crate) struct ActiveWrite {
    pub(crate) pending: Option<PendingWrite>,
}

/// The creation attempt of a scenario and the descriptor limit it may run under.
#[derive(Default)]
pub(crate) struct Creation {
    pub(crate) attempt: Option<Attempt>,
    pub(crate) limit: Option<DescriptorLimit>,
}

/// The write kept in progress by "starts writing large frame" (also used by 10.3's wording).
#[derive(Default)]
pub(crate) struct LargeWrite {
    /// Tells the job holding the write to commit it.
    pub(crate) commit: Option<mpsc::Sender<()>>,
    pub(crate) sequence: u64,
    /// Frames published before the write started (OIEB `payload_written_count`).
    pub(crate) written_before: u64,
    /// Size of the last large write, reused by "attempts next operation".
    pub(crate) len: Option<usize>,
}

#[derive(Default)]
pub(crate) struct MaxFrame {
    pub(crate) write: Option<MaxFrameWrite>,
    /// Length of the oversized attempt.
    pub(crate) attempted: Option<usize>,
}

#[derive(Default)]
pub(crate) struct Exhaustion {
    pub(crate) fds_before: usize,
    pub(crate) limit: u64,
    pub(crate) buffers: Vec<Reader>,
    /// The refused creation and a second attempt at the limit: (name, error).
    pub(crate) refusals: Vec<(String, Error)>,
    pub(crate) released: Vec<String>,
    pub(crate) fds_after_cleanup: usize,
}

/// The frame of payload size − 16 bytes and what the OIEB said around it.
pub(crate) struct MaxFrameWrite {
    pub(crate) len: usize,
    pub(crate) before: OiebSnapshot,
    pub(crate) after: OiebSnapshot,
    pub(crate) result: Result<u64, Error>,
}

/// One attempt to create a buffer that is expected to fail, and what it did.
pub(crate) struct Attempt {
    pub name: String,
    pub config: BufferConfig,
    pub watch: Option<ShmWatch>,
    /// `None` until the attempt ran; then the error, or `Ok` if the creation succeeded.
    pub outcome: Option<Result<(), Error>>,
}

impl Attempt {
    /// Prepares an attempt on `name`: nothing of it may exist yet, so that anything found
    /// later was left by the attempt. With `watch`, /dev/shm is watched from now on.
    pub(crate) fn arrange(name: String, config: BufferConfig, watch: bool) -> Result<Attempt> {
        let existing = leftovers(&name);
        ensure!(
            existing.is_empty(),
            "objects of '{name}' exist before the attempt: {}",
            existing.join(", ")
        );
        Ok(Attempt {
            name,
            config,
            watch: if watch {
                Some(ShmWatch::start()?)
            } else {
                None
            },
            outcome: None,
        })
    }

    /// Runs the creation; a buffer that gets created after all is closed at once.
    pub(crate) fn run(&mut self) -> Result<()> {
        ensure!(self.outcome.is_none(), "the creation was already attempted");
        self.outcome = Some(Reader::create(&self.name, self.config).map(drop));
        if let Some(watch) = &mut self.watch {
            watch.collect()?;
        }
        Ok(())
    }

    /// The error of the attempt.
    pub(crate) fn error(&self) -> Result<&Error> {
        match &self.outcome {
            None => bail!("the creation of '{}' was not attempted", self.name),
            Some(Ok(())) => bail!("the creation of '{}' succeeded", self.name),
            Some(Err(e)) => Ok(e),
        }
    }

    /// The attempt created its segment and removed it again: none is left. Only the segment,
    /// not all of [`leftovers`]: the steps ("should clean up shared memory") ask about the
    /// shared memory alone, and their scenarios check every object in a step of its own.
    pub(crate) fn ensure_segment_removed(&self) -> Result<()> {
        self.watch()?.created_then_removed(&self.name)?;
        let segment = &object_paths(&self.name)[0];
        ensure!(
            segment.symlink_metadata().is_err(),
            "{} still exists",
            segment.display()
        );
        Ok(())
    }

    pub(crate) fn watch(&self) -> Result<&ShmWatch> {
        self.watch
            .as_ref()
            .ok_or_else(|| anyhow!("/dev/shm was not watched during the attempt"))
    }
}
