//! Taking the next frame off the ring (protocol.md §3.6): find and validate its header, apply
//! a wrap before it, advance the read position and count, and record what the frame owes the
//! writer. The reader's waiting, locking and paying back live in `reader.rs`.

use crate::credits::{Credits, Payment};
use crate::error::{Error, Result};
use crate::layout::{FrameHeader, FRAME_HEADER_SIZE};
use crate::oieb::Oieb;
use crate::shm::SharedMemory;

const HEADER: u64 = FRAME_HEADER_SIZE as u64;

/// Reader-private bookkeeping (never in shared memory).
#[derive(Debug)]
pub(crate) struct ReadState {
    /// Sequence number the next frame must carry.
    expected_sequence: u64,
    /// Space owed to the writer, in ring order; each credit is paid once everything before it is.
    pub(crate) credits: Credits,
}

impl Default for ReadState {
    /// A fresh buffer: the first frame carries sequence 1, nothing is owed.
    fn default() -> Self {
        ReadState {
            expected_sequence: 1,
            credits: Credits::default(),
        }
    }
}

impl ReadState {
    /// Gives the writer back every released credit at the head of the queue, in one addition
    /// to the free bytes; the `sem-r` posts it owes are the caller's, once its lock is released.
    #[inline]
    pub(crate) fn pay(&mut self, oieb: Oieb<'_>) -> Payment {
        let payment = self.credits.pay();
        if payment.bytes > 0 {
            oieb.add_free_bytes(payment.bytes);
        }
        payment
    }
}

/// A frame taken off the ring, not yet released.
pub(crate) struct Taken {
    /// Where its data starts in the segment.
    pub(crate) offset: usize,
    /// Its length in bytes.
    pub(crate) len: usize,
    /// The sequence number from its header.
    pub(crate) sequence: u64,
    /// How its space goes back to the writer, for `Reader::settle`.
    pub(crate) owed: Owed,
}

/// What [`RingView::take`] did under the reader's lock, to finish once it is released.
pub(crate) struct Took {
    pub(crate) taken: Taken,
    /// Space a wrap before the frame gave back.
    pub(crate) payment: Payment,
    /// The sequence expected when the writer restarted at 1 instead (a new writer session).
    pub(crate) restarted_after: Option<u64>,
}

/// How a taken frame's space goes back to the writer when the frame is dropped.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Owed {
    /// Its ticket in the credit queue: paid once every credit before it is.
    Queued(u64),
    /// These bytes, straight away: nothing was owed before it when it was taken and nothing
    /// can be taken while it lives (it came through `&mut Reader`).
    Direct(u64),
}

/// A wrap found on the way to the next frame: the skipped tail and whether a marker was there.
#[derive(Debug, Clone, Copy)]
struct Wrap {
    tail: u64,
    marker: bool,
}

/// The reader's ring: the segment, where the payload starts and how long it is. Borrowed apart
/// from the reader's state, so that a reader held by `&mut` reaches both without its lock.
#[derive(Clone, Copy)]
pub(crate) struct RingView<'a> {
    shm: &'a SharedMemory,
    payload_offset: usize,
    payload_size: u64,
}

impl<'a> RingView<'a> {
    #[inline]
    pub(crate) fn new(shm: &'a SharedMemory, payload_offset: usize, payload_size: u64) -> Self {
        RingView {
            shm,
            payload_offset,
            payload_size,
        }
    }

    #[inline]
    fn oieb(self) -> Oieb<'a> {
        Oieb::new(self.shm)
    }

    /// With the `sem-w` token taken: locates the frame, applies a wrap before it, advances the
    /// read position and count, and records what the frame owes (`exclusive`: straight back on
    /// drop when nothing is owed before it, see [`Owed::Direct`]).
    // One body with each caller: a call per step cost about a tenth of a read at 1 KiB.
    #[inline(always)]
    pub(crate) fn take(self, state: &mut ReadState, exclusive: bool) -> Result<Took> {
        let oieb = self.oieb();
        let (offset, header, wrap) = self.locate_next(state.expected_sequence)?;
        let mut payment = Payment::default();
        if let Some(wrap) = wrap {
            // The frame after the wrap is valid: only now does the wrap take effect.
            if wrap.tail > 0 {
                state.credits.push(wrap.tail, false, true);
            }
            if wrap.marker {
                oieb.bump_read_count();
            }
            payment = state.pay(oieb);
        }
        let restarted_after =
            (header.sequence != state.expected_sequence).then_some(state.expected_sequence);
        let total = HEADER + header.payload_size;
        let next = offset + total;
        oieb.set_read_pos(if next >= self.payload_size {
            next - self.payload_size
        } else {
            next
        });
        oieb.bump_read_count();
        state.expected_sequence = header.sequence + 1;
        let owed = if exclusive && state.credits.is_empty() {
            Owed::Direct(total)
        } else {
            Owed::Queued(state.credits.push(total, true, false))
        };
        let taken = Taken {
            offset: self.payload_offset + (offset + HEADER) as usize,
            len: header.payload_size as usize,
            sequence: header.sequence,
            owed,
        };
        Ok(Took {
            taken,
            payment,
            restarted_after,
        })
    }

    /// Finds and validates the next frame without changing anything: follows a wrap marker or
    /// a marker-less short tail (implicit wrap) to offset 0, then checks the sequence (a
    /// restart at 1 is a new writer session) and that the frame lies inside the ring.
    ///
    /// Only `{size 0, sequence 0}` is a wrap marker, and never at offset 0; any other
    /// zero-size header is invalid (a C# writer can produce such frames, protocol.md §12.10).
    #[inline(always)]
    fn locate_next(self, expected: u64) -> Result<(u64, FrameHeader, Option<Wrap>)> {
        let offset = self.oieb().read_pos().min(self.payload_size);
        let remaining = self.payload_size - offset;
        let (offset, header, wrap) = if remaining < HEADER {
            // No marker fits in fewer than 16 bytes: the writer wrapped implicitly.
            let wrap = Wrap {
                tail: remaining,
                marker: false,
            };
            (0, self.read_header(0), Some(wrap))
        } else {
            let header = self.read_header(offset);
            if header == FrameHeader::WRAP_MARKER && offset > 0 {
                let wrap = Wrap {
                    tail: remaining,
                    marker: true,
                };
                (0, self.read_header(0), Some(wrap))
            } else {
                (offset, header, None)
            }
        };
        if header.sequence != expected && header.sequence != 1 {
            return Err(Error::Sequence {
                expected,
                got: header.sequence,
            });
        }
        if header.payload_size == 0 {
            return Err(zero_size_frame());
        }
        self.check_bounds(offset, &header)?;
        Ok((offset, header, wrap))
    }

    /// Checked after the sequence, as upstream does: a frame must lie inside the ring.
    #[inline]
    fn check_bounds(self, offset: u64, header: &FrameHeader) -> Result<()> {
        if header.payload_size > self.payload_size
            || offset + HEADER + header.payload_size > self.payload_size
        {
            return Err(self.past_the_end(offset, header));
        }
        Ok(())
    }

    #[cold]
    fn past_the_end(self, offset: u64, header: &FrameHeader) -> Error {
        Error::InvalidFrameHeader(format!(
            "Frame extends past buffer boundary: readPos={offset}, frameSize={}, \
             payloadSize={}, writePos={}",
            header.payload_size,
            self.payload_size,
            self.oieb().write_pos()
        ))
    }

    #[inline]
    fn read_header(self, offset: u64) -> FrameHeader {
        let mut bytes = [0u8; FRAME_HEADER_SIZE];
        self.shm
            .read_into(self.payload_offset + offset as usize, &mut bytes);
        FrameHeader::decode(&bytes)
    }
}

#[cold]
fn zero_size_frame() -> Error {
    Error::InvalidFrameHeader("Invalid frame size: 0".into())
}
