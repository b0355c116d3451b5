//! Per-process state of the frame steps: writes, reads, zero-copy loans, streams, waits for space, flow control, wrap-around.

use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use zerobuffer::{OiebSnapshot, Writer};

use crate::drivers::patterns::Pattern;
use crate::drivers::pending::PendingWrite;

/// What the frame steps of one process keep between steps.
#[derive(Default)]
pub(crate) struct FramesState {
    /// A zero-copy write in progress (`requests zero-copy frame` … `commits`).
    pub(crate) zero_copy: ZeroCopy,
    /// Sequence errors a stream reader saw.
    pub(crate) stream: Stream,
    /// Writes waiting for space (4.x wrap and full-buffer steps).
    pub(crate) wait: Wait,
    /// A slow reader against a continuous writer (4.x).
    pub(crate) flow: Flow,
    /// A reader paced by a fixed delay (6.3).
    pub(crate) paced_flow: PacedFlow,
    /// Frames written in one burst before reading (6.x).
    pub(crate) burst: Burst,
    /// The first frame and its signal (6.x).
    pub(crate) first_signal: FirstSignal,
    /// Signals and unread frames before a drain (6.x).
    pub(crate) before_drain: BeforeDrain,
    /// A write that must wrap (the wrap-marker steps).
    pub(crate) wrap_write: WrapWrite,
    /// The OIEB around the last read across the wrap.
    pub(crate) read_trace: ReadTrace,
    /// Sizes of the pattern frames written.
    pub(crate) pattern_check: PatternCheck,
    /// The structure frame read after its signal.
    pub(crate) struct_read: StructRead,
    /// Frames signalled when the reader woke (P062): the `sem-w` value before draining.
    pub(crate) signals_at_wake: Option<u64>,
    /// 4.9: what the draining reader saw.
    pub(crate) drain: Option<Drain>,
    /// The last frame written by a step whose success is verified later (P067, P071).
    pub(crate) last_write: Option<LastWrite>,
}

/// Zero-copy write in progress between "fills zero-copy buffer" and "commits".
#[derive(Default)]
pub(crate) struct ZeroCopy {
    pub(crate) requested: Option<usize>,
    pub(crate) pending: Option<PendingWrite>,
}

/// What "reads frames with ... delay" recorded.
#[derive(Default)]
pub(crate) struct Stream {
    pub(crate) sequence_errors: Vec<String>,
}

/// This module's state in one process.
#[derive(Default)]
pub(crate) struct Wait {
    /// Data length of the last "large frame" (P054), repeated by P056.
    pub(crate) large_len: Option<usize>,
    /// The frame the background write waits to place, once it has reached that point.
    pub(crate) waiting: Option<Arc<Mutex<Option<Waiting>>>>,
    /// Tries of the background write so far: a waiting write keeps trying.
    pub(crate) attempts: Arc<AtomicU64>,
    /// How the background write ended, once joined.
    pub(crate) outcome: Option<Outcome>,
    /// A second writer that connected although it should not have (kept to close it).
    pub(crate) extra_writer: Option<Writer>,
}

/// This module's state in one process: the slow reader's progress, its result (with the frame
/// count asked for), and the writer's statistics.
#[derive(Default)]
pub(crate) struct Flow {
    pub(crate) slow: Option<(Arc<SlowProgress>, Duration)>,
    pub(crate) slow_result: Option<(usize, SlowRead)>,
    pub(crate) flow: Option<FlowStats>,
}

/// How many frames "reads all 'N' frames" was asked for.
#[derive(Default)]
pub(crate) struct Burst(pub(crate) Option<usize>);

#[derive(Default)]
pub(crate) struct PacedFlow(pub(crate) Option<PacedFlowStats>);

/// Writer side: the first frame's sequence and the reader's read count at that time.
#[derive(Default)]
pub(crate) struct FirstSignal(pub(crate) Option<(u64, u64)>);

/// Reader side: `sem-w` value and unread frames just before "should process both frames".
#[derive(Default)]
pub(crate) struct BeforeDrain(pub(crate) Option<(u64, u64)>);

/// The write that has to wrap, as "attempts to write ... byte frame" started it.
#[derive(Default, Clone, Copy)]
pub(crate) struct WrapWrite {
    /// Write position before the write: where the wrap marker goes.
    pub(crate) from: u64,
    pub(crate) len: usize,
    pub(crate) pattern: Option<Pattern>,
    /// Set once the background write finished.
    pub(crate) sequence: Option<u64>,
}

/// OIEB before and after "reads next frame".
#[derive(Default)]
pub(crate) struct ReadTrace(pub(crate) Option<(OiebSnapshot, OiebSnapshot)>);

/// What "should validate each byte" read.
#[derive(Default)]
pub(crate) struct PatternCheck {
    pub(crate) sizes: Vec<usize>,
}

/// The structure the reader took after the data signal.
#[derive(Default)]
pub(crate) struct StructRead {
    pub(crate) frame: Option<(u64, Vec<u8>)>,
}

/// What the draining reader (P093) saw.
#[derive(Default)]
pub(crate) struct Drain {
    pub(crate) sequences: Vec<u64>,
    pub(crate) bad_data: Vec<String>,
    pub(crate) stream_ended: bool,
}

/// What the continuous writer saw: per frame whether it had to wait, the most entries it was
/// ever ahead of the reader, and how many frames the empty ring holds.
#[derive(Debug, Default, Clone)]
pub(crate) struct FlowStats {
    pub(crate) waited: Vec<bool>,
    pub(crate) max_unread: u64,
    pub(crate) capacity: usize,
}

/// Shared between the slow reader's loop and the step that ends it.
pub(crate) struct SlowProgress {
    pub(crate) read: AtomicUsize,
    pub(crate) limit: AtomicUsize,
}

#[derive(Debug, Default)]
pub(crate) struct SlowRead {
    pub(crate) frames: usize,
    pub(crate) problems: Vec<String>,
}

/// What the continuous writer did.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct PacedFlowStats {
    pub(crate) limit: u64,
    pub(crate) written: u64,
    /// Writes that started with fewer free bytes than the frame needs: they could only
    /// complete after the reader released space, i.e. they blocked on the full buffer.
    pub(crate) blocked: u64,
}

/// How a background write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The frame was committed with this sequence number.
    Written(u64),
    /// The ring was not full after the fill, so no frame had to wait (P100 only).
    NothingWaited,
    /// Still no room when the writer's write timeout ran out.
    GaveUp,
    /// The reader closed or died while the write waited.
    ReaderGone,
    /// The scenario ended first.
    Stopped,
}

/// The frame a background write is trying to place, and the OIEB just before it tried.
#[derive(Clone, Copy)]
pub(crate) struct Waiting {
    pub(crate) len: usize,
    pub(crate) before: OiebSnapshot,
}

/// A frame written by a step, to be found again in the ring.
pub(crate) struct LastWrite {
    pub(crate) offset: u64,
    pub(crate) sequence: u64,
    pub(crate) data: Vec<u8>,
}
