//! A zero-copy write kept "in progress" across steps: the slot is reserved and filled on a
//! helper thread that holds the process's writer until a later step commits or abandons it.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};

use crate::world::{SharedWriter, JOIN_TIMEOUT};

enum Command {
    Commit,
    Abandon,
}

/// A reserved, filled, uncommitted frame.
pub struct PendingWrite {
    /// The sequence number the frame will carry.
    pub sequence: u64,
    pub len: usize,
    commands: mpsc::Sender<Command>,
    result: mpsc::Receiver<Result<u64>>,
}

impl PendingWrite {
    /// Reserves `len` bytes in the ring of `writer` (waiting at most its write timeout for
    /// space) and fills them with `fill(slot, sequence)`; returns once that is done.
    pub fn start(
        writer: SharedWriter,
        len: usize,
        fill: impl FnOnce(&mut [u8], u64) + Send + 'static,
    ) -> Result<PendingWrite> {
        let (ready_tx, ready_rx) = mpsc::channel::<Result<u64>>();
        let (cmd_tx, cmd_rx) = mpsc::channel();
        let (result_tx, result_rx) = mpsc::channel();
        thread::Builder::new()
            .name("pending-write".into())
            .spawn(move || {
                let mut guard = writer.lock();
                let Some(writer) = guard.as_mut() else {
                    let _ = ready_tx.send(Err(anyhow!("the writer is closed")));
                    return;
                };
                let mut slot = match writer.get_frame_buffer(len) {
                    Ok(slot) => slot,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.into()));
                        return;
                    }
                };
                let sequence = slot.sequence();
                fill(&mut slot, sequence);
                let _ = ready_tx.send(Ok(sequence));
                // Wait for the verdict; a dropped PendingWrite abandons the slot.
                let outcome = match cmd_rx.recv() {
                    Ok(Command::Commit) => Ok(slot.commit()),
                    Ok(Command::Abandon) | Err(_) => Err(anyhow!("abandoned")),
                };
                let _ = result_tx.send(outcome);
            })
            .map_err(|e| anyhow!("cannot start the pending write: {e}"))?;
        let sequence = ready_rx.recv_timeout(JOIN_TIMEOUT).map_err(|_| {
            anyhow!("reserving {len} bytes did not finish within {JOIN_TIMEOUT:?}")
        })??;
        Ok(PendingWrite {
            sequence,
            len,
            commands: cmd_tx,
            result: result_rx,
        })
    }

    /// Publishes the frame; returns its sequence number.
    pub fn commit(self) -> Result<u64> {
        self.finish(Command::Commit)
    }

    /// Drops the reserved slot without publishing anything.
    pub fn abandon(self) -> Result<()> {
        match self.finish(Command::Abandon) {
            Err(e) if e.to_string() == "abandoned" => Ok(()),
            Ok(_) => bail!("the abandoned frame was published"),
            Err(e) => Err(e),
        }
    }

    fn finish(self, command: Command) -> Result<u64> {
        self.commands
            .send(command)
            .map_err(|_| anyhow!("the pending write's thread is gone"))?;
        self.result
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| anyhow!("the pending write did not finish"))?
    }
}
