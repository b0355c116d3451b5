//! A zero-copy write kept "in progress" across steps: the process's writer is lent to an
//! [`OwnedFrameSlot`], reserved and filled, until a later step commits or abandons it (or the
//! pending write is dropped, which abandons it); the writer then goes back to its process.
//! While lent, the process has no writer to use (its steps say the writer is lent).

use anyhow::{anyhow, Result};
use zerobuffer::OwnedFrameSlot;

use crate::drivers::poll::JOIN_TIMEOUT;
use crate::state::SharedWriter;

/// A reserved, filled, uncommitted frame.
pub struct PendingWrite {
    /// The sequence number the frame will carry.
    pub sequence: u64,
    pub len: usize,
    home: SharedWriter,
    slot: Option<OwnedFrameSlot>,
}

impl PendingWrite {
    /// Reserves `len` bytes in the ring of `writer` (waiting at most its write timeout for
    /// space) and fills them with `fill(slot, sequence)`.
    pub fn start(
        writer: SharedWriter,
        len: usize,
        fill: impl FnOnce(&mut [u8], u64),
    ) -> Result<PendingWrite> {
        let lent = writer
            .try_lock_for(JOIN_TIMEOUT)
            .ok_or_else(|| anyhow!("the writer stayed busy in a background job"))?
            .take()
            .ok_or_else(|| anyhow!("the writer is closed or lent to another write"))?;
        let mut slot = match lent.into_frame_buffer(len) {
            Ok(slot) => slot,
            Err(refused) => {
                *writer.lock() = Some(*refused.writer);
                return Err(refused.error.into());
            }
        };
        let sequence = slot.sequence();
        fill(&mut slot, sequence);
        Ok(PendingWrite {
            sequence,
            len,
            home: writer,
            slot: Some(slot),
        })
    }

    /// Publishes the frame; returns its sequence number.
    pub fn commit(mut self) -> Result<u64> {
        let slot = self
            .slot
            .take()
            .ok_or_else(|| anyhow!("nothing is pending"))?;
        let (writer, sequence) = slot.commit();
        *self.home.lock() = Some(writer);
        Ok(sequence)
    }
}

impl Drop for PendingWrite {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            *self.home.lock() = Some(slot.abandon());
        }
    }
}
