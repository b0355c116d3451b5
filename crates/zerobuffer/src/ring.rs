//! Where the writer puts the next frame: the pure space arithmetic of protocol.md §3.3–§3.5,
//! kept apart from shared memory so it can be tested against a model.

use crate::layout::FRAME_HEADER_SIZE;

const HEADER: u64 = FRAME_HEADER_SIZE as u64;

/// How the writer reaches the slot for the next frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wrap {
    /// The frame goes at the current write position.
    None,
    /// Write a wrap marker at the current position, then put the frame at offset 0.
    WithMarker,
    /// Fewer than 16 bytes remain: zero them and put the frame at offset 0 (no marker fits).
    WithoutMarker,
}

/// The writer's decision for one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Placement {
    pub wrap: Wrap,
    /// Bytes skipped at the end of the ring (debited from the free bytes along with the frame).
    pub tail: u64,
    /// Payload offset of the frame header.
    pub offset: u64,
    /// Free bytes required before the frame may be written: `tail + 16 + len`.
    pub required: u64,
}

/// Why a frame cannot be placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unplaceable {
    /// `16 + len > P`.
    LargerThanRing,
    /// The frame fits neither before the end nor before the current position: with the v1
    /// layout it can never be written from here (protocol.md §12.17). `max` is the largest data
    /// length that could be written now.
    NeverFits { max: u64 },
}

/// Plans a frame of `len` data bytes in a ring of `size` bytes whose writer is at `write_pos`.
///
/// Unlike upstream, a frame that would leave a 1–15 byte tail (which older readers mis-parse)
/// wraps early instead when it also fits at offset 0. A stored write position equal to `size`
/// (left by a C++ or Python writer) counts as a wrap with an empty tail.
#[inline]
pub(crate) fn place(size: u64, write_pos: u64, len: u64) -> Result<Placement, Unplaceable> {
    let total = len + HEADER;
    if total > size {
        return Err(Unplaceable::LargerThanRing);
    }
    let write_pos = write_pos.min(size);
    let space_to_end = size - write_pos;
    let leftover = space_to_end.checked_sub(total);
    let short_tail = matches!(leftover, Some(1..HEADER));
    let fits_at_start = total <= write_pos;
    let wrap = match leftover {
        Some(_) if !(short_tail && fits_at_start) => {
            return Ok(Placement {
                wrap: Wrap::None,
                tail: 0,
                offset: write_pos,
                required: total,
            })
        }
        _ if !fits_at_start => {
            let max = space_to_end.max(write_pos).saturating_sub(HEADER);
            return Err(Unplaceable::NeverFits { max });
        }
        _ if space_to_end >= HEADER => Wrap::WithMarker,
        _ => Wrap::WithoutMarker,
    };
    Ok(Placement {
        wrap,
        tail: space_to_end,
        offset: 0,
        required: space_to_end + total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_that_fits_goes_at_the_write_position() {
        let p = place(10240, 1040, 1024).unwrap();
        assert_eq!((p.wrap, p.offset, p.required), (Wrap::None, 1040, 1040));
    }

    #[test]
    fn worked_example_of_protocol_3_8() {
        // After 9 frames of 1024 bytes W = 9360; frame 10 needs the 880-byte tail too.
        let p = place(10240, 9360, 1024).unwrap();
        assert_eq!(
            p,
            Placement {
                wrap: Wrap::WithMarker,
                tail: 880,
                offset: 0,
                required: 1920
            }
        );
    }

    #[test]
    fn exact_fit_at_the_end_does_not_wrap() {
        let p = place(1024, 512, 496).unwrap();
        assert_eq!((p.wrap, p.offset), (Wrap::None, 512));
    }

    #[test]
    fn short_tail_wraps_early_when_possible() {
        // 1024 - 500 - 516 = 8 bytes would remain: wrap early with a marker instead.
        let p = place(1024, 524, 500).unwrap();
        assert_eq!((p.wrap, p.tail, p.offset), (Wrap::WithMarker, 500, 0));
    }

    #[test]
    fn short_tail_stays_when_the_frame_cannot_go_to_the_start() {
        let p = place(1024, 0, 1000).unwrap();
        assert_eq!((p.wrap, p.offset), (Wrap::None, 0));
        // The next frame then wraps without a marker over the 8 remaining bytes.
        let p = place(1024, 1016, 100).unwrap();
        assert_eq!((p.wrap, p.tail, p.required), (Wrap::WithoutMarker, 8, 124));
    }

    #[test]
    fn write_position_at_the_end_wraps_with_empty_tail() {
        let p = place(1024, 1024, 100).unwrap();
        assert_eq!((p.wrap, p.tail, p.offset), (Wrap::WithoutMarker, 0, 0));
    }

    #[test]
    fn impossible_frames_are_reported_at_once() {
        assert_eq!(place(64, 0, 49), Err(Unplaceable::LargerThanRing));
        assert!(place(64, 0, 48).is_ok());
        // protocol.md §3.3: W = 6160 in 10240, a 7168-byte frame can never be written.
        assert_eq!(
            place(10240, 6160, 7168),
            Err(Unplaceable::NeverFits { max: 6144 })
        );
    }
}
