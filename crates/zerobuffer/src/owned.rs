//! Loans that own their endpoint: a received frame holding its reader, a reserved slot
//! holding its writer. For users who pass frames between threads or keep them across calls,
//! where a [`Frame`](crate::Frame) or [`FrameSlot`](crate::FrameSlot) cannot outlive the
//! borrow of its endpoint.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::reader::{Owed, Reader};
use crate::ring::Placement;
use crate::writer::Writer;

/// A received frame that shares ownership of its [`Reader`] (from
/// [`Reader::read_frame_owned`]). It may be stored, sent to another thread and dropped in any
/// order; its space goes back to the writer on drop, in ring order, exactly as for a borrowed
/// [`Frame`](crate::Frame). The buffer stays open while any such frame lives.
pub struct OwnedFrame {
    reader: Arc<Reader>,
    offset: usize,
    len: usize,
    sequence: u64,
    owed: Owed,
}

impl OwnedFrame {
    pub(crate) fn new(
        reader: Arc<Reader>,
        offset: usize,
        len: usize,
        sequence: u64,
        owed: Owed,
    ) -> Self {
        OwnedFrame {
            reader,
            offset,
            len,
            sequence,
            owed,
        }
    }

    /// The sequence number from the frame header (1 for a writer's first frame).
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// The frame's data, in shared memory (no copy).
    pub fn data(&self) -> &[u8] {
        self.reader.frame_bytes(self.offset, self.len)
    }
}

impl Deref for OwnedFrame {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.data()
    }
}

impl AsRef<[u8]> for OwnedFrame {
    fn as_ref(&self) -> &[u8] {
        self.data()
    }
}

impl Drop for OwnedFrame {
    fn drop(&mut self) {
        self.reader.settle(self.owed);
    }
}

impl fmt::Debug for OwnedFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedFrame")
            .field("sequence", &self.sequence)
            .field("len", &self.len)
            .finish()
    }
}

/// Reserved ring space for one frame that owns its [`Writer`] (from
/// [`Writer::into_frame_buffer`]). Fill it in place, on any thread, then
/// [`commit`](OwnedFrameSlot::commit) it to get the writer back, or
/// [`abandon`](OwnedFrameSlot::abandon) it to get the writer back with nothing written.
/// Dropping the slot drops (and so gracefully closes) the writer it owns.
pub struct OwnedFrameSlot {
    writer: Writer,
    placement: Placement,
    data_offset: usize,
    len: usize,
}

impl OwnedFrameSlot {
    pub(crate) fn new(
        writer: Writer,
        placement: Placement,
        data_offset: usize,
        len: usize,
    ) -> Self {
        OwnedFrameSlot {
            writer,
            placement,
            data_offset,
            len,
        }
    }

    /// The sequence number the frame will carry.
    pub fn sequence(&self) -> u64 {
        self.writer.next_sequence()
    }

    /// Makes the frame visible to the reader; returns the writer and the frame's sequence.
    pub fn commit(mut self) -> (Writer, u64) {
        let sequence = self.writer.publish(self.placement, self.len);
        (self.writer, sequence)
    }

    /// Gives the reservation up without a trace (nothing was visible to the reader) and
    /// returns the writer.
    pub fn abandon(self) -> Writer {
        self.writer
    }
}

impl Deref for OwnedFrameSlot {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.writer.slot_bytes(self.data_offset, self.len)
    }
}

impl DerefMut for OwnedFrameSlot {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.writer.slot_bytes_mut(self.data_offset, self.len)
    }
}

impl fmt::Debug for OwnedFrameSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedFrameSlot")
            .field("sequence", &self.sequence())
            .field("len", &self.len)
            .finish()
    }
}

/// [`Writer::into_frame_buffer`] failed: why, and the writer, unchanged.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct WriterReturned {
    /// The writer that was to be lent, back to its owner.
    pub writer: Box<Writer>,
    /// Why no slot could be reserved.
    #[source]
    pub error: Error,
}

impl Reader {
    /// [`read_frame`](Reader::read_frame), for a frame that owns a handle on its reader
    /// instead of borrowing it: it can be kept past later reads, stored, or sent to another
    /// thread, and gives its space back when dropped, in ring order as a [`Frame`](crate::Frame) does.
    pub fn read_frame_owned(self: &Arc<Self>, timeout: Duration) -> Result<OwnedFrame> {
        let taken = self.take_next(timeout)?;
        Ok(OwnedFrame::new(
            Arc::clone(self),
            taken.offset,
            taken.len,
            taken.sequence,
            taken.owed,
        ))
    }
}

impl Writer {
    /// [`get_frame_buffer`](Writer::get_frame_buffer), for a slot that owns this writer
    /// instead of borrowing it: it can be filled later or on another thread, and
    /// [`OwnedFrameSlot::commit`] hands the writer back. On failure the writer comes back
    /// with the error.
    pub fn into_frame_buffer(
        mut self,
        len: usize,
    ) -> std::result::Result<OwnedFrameSlot, WriterReturned> {
        match self.reserve(len) {
            Ok((placement, data_offset)) => {
                Ok(OwnedFrameSlot::new(self, placement, data_offset, len))
            }
            Err(error) => Err(WriterReturned {
                writer: Box::new(self),
                error,
            }),
        }
    }
}
