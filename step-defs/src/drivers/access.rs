//! What the last frame a process wrote or read did to the ring: the OIEB around it. A check
//! routed to either role judges a frame by this footprint (4.7's "frame overhead"), and a write
//! that can never fit is explained from it.

use anyhow::{ensure, Result};
use zerobuffer::{Error, OiebSnapshot};

use crate::drivers::explain::Explain as _;
use crate::drivers::ring::HEADER;
use crate::state::inspection::{Access, Side};
use crate::world::ProcessState;

/// Keeps a frame written between the OIEB snapshots `before` and `after`.
pub(crate) fn record_write(
    state: &mut ProcessState,
    len: u64,
    before: OiebSnapshot,
    after: OiebSnapshot,
) {
    keep(state, Side::Write, len, [before, after], None);
}

/// Keeps a frame read between `before` and `after` and released by `released`.
pub(crate) fn record_read(
    state: &mut ProcessState,
    len: u64,
    before: OiebSnapshot,
    after: OiebSnapshot,
    released: OiebSnapshot,
) {
    keep(state, Side::Read, len, [before, after], Some(released));
}

fn keep(
    state: &mut ProcessState,
    side: Side,
    len: u64,
    [before, after]: [OiebSnapshot; 2],
    released: Option<OiebSnapshot>,
) {
    state.inspection.last_access.0 = Some(Access {
        side,
        len,
        before,
        after,
        released,
    });
}

/// The error of writing a `len`-byte frame from ring state `before`; one that can never fit
/// says why.
pub(crate) fn explain_write(error: Error, len: u64, before: &OiebSnapshot) -> anyhow::Error {
    let context = match error {
        Error::FrameTooLarge { .. } => {
            format!("writing a {len}-byte frame: {}", never_fits(len, before))
        }
        _ => format!("writing a {len}-byte frame"),
    };
    Err::<(), _>(error).context(context).unwrap_err()
}

/// The last frame this process wrote or read through the basic steps.
pub(crate) fn last(state: &mut ProcessState) -> Result<Access> {
    let name = state.name.clone();
    state
        .inspection
        .last_access
        .0
        .with_context(|| format!("the '{name}' process has neither written nor read a frame"))
}

impl Access {
    /// The ring bytes the frame took (a write) or gave back at its release (a read). Fails
    /// unless the frame sat right at the old position and was the only entry: a wrap would add
    /// the skipped tail (and a marker entry) to the count.
    pub(crate) fn footprint(&self) -> Result<u64> {
        let (b, p) = (&self.before, self.before.payload_size);
        match self.side {
            Side::Write => {
                let taken = b.payload_free_bytes - self.after.payload_free_bytes;
                ensure!(
                    self.after.payload_written_count == b.payload_written_count + 1
                        && self.after.payload_write_pos == (b.payload_write_pos + taken) % p,
                    "the {}-byte frame did not land at the write position {} (it wrapped: \
                     write_pos {} -> {}, {} entries written)",
                    self.len,
                    b.payload_write_pos,
                    b.payload_write_pos,
                    self.after.payload_write_pos,
                    self.after.payload_written_count - b.payload_written_count
                );
                Ok(taken)
            }
            Side::Read => {
                let released = self
                    .released
                    .context("the read frame's release was not observed")?;
                let freed = released.payload_free_bytes - b.payload_free_bytes;
                ensure!(
                    self.after.payload_read_count == b.payload_read_count + 1
                        && self.after.payload_read_pos == (b.payload_read_pos + freed) % p,
                    "the {}-byte frame was not read at the read position {} (it followed a \
                     wrap: read_pos {} -> {}, {} entries read)",
                    self.len,
                    b.payload_read_pos,
                    b.payload_read_pos,
                    self.after.payload_read_pos,
                    self.after.payload_read_count - b.payload_read_count
                );
                Ok(freed)
            }
        }
    }
}

/// Why a frame of `len` data bytes can never be written from the ring state `before`
/// (protocol.md §3.3: a frame that does not fit before the ring end needs the tail it skips
/// plus itself free, and no ring frees more than its size).
pub(crate) fn never_fits(len: u64, before: &OiebSnapshot) -> String {
    let (p, w) = (before.payload_size, before.payload_write_pos);
    let total = len + HEADER;
    let to_end = p - w.min(p);
    if total > p {
        format!(
            "the {len}-byte frame can never fit: with its {HEADER}-byte header it needs {total} \
             bytes, more than the whole {p}-byte ring"
        )
    } else if total > to_end {
        format!(
            "the {len}-byte frame can never fit at write position {w}: the {to_end} bytes left \
             before the ring end are too few, and wrapping wastes them, so it needs {to_end} + \
             {total} = {} free bytes, more than the {p}-byte ring can ever have",
            to_end + total
        )
    } else {
        format!("the {len}-byte frame does not fit the {p}-byte ring at write position {w}")
    }
}
