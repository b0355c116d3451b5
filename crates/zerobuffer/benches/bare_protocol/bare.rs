//! The bare-protocol baseline: a reader and a writer that do only the steps of protocol.md
//! §3.3/§3.4 (writer) and §3.6 (reader), and nothing else — no liveness checks beyond what the
//! steps say, no credit queue, no mutex. They speak the same wire format as the library, so any
//! bare endpoint can face one of ours; the gap between the two is what the library adds.

#![allow(
    unsafe_code,
    reason = "the bare baseline maps the segment and reads/writes it directly, as any implementation does"
)]

use std::cell::Cell;
use std::fs::{self, OpenOptions};
use std::ops::Deref;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::atomic::{fence, AtomicU64, Ordering};
use std::time::Duration;

use memmap2::MmapRaw;
use zerobuffer::layout::{oieb, FrameHeader, FRAME_HEADER_SIZE, OIEB_SIZE, PROTOCOL_VERSION};
use zerobuffer::{NamedSemaphore, ObjectPaths};

use crate::BoxResult;

const HEADER: u64 = FRAME_HEADER_SIZE as u64;

/// The first 8 bytes of the OIEB: `oieb_size` 128 (u32) and the version bytes 1.0.0.0 (§2).
fn signature() -> u64 {
    let mut first = [0u8; 8];
    first[..4].copy_from_slice(&(OIEB_SIZE as u32).to_le_bytes());
    first[4..].copy_from_slice(&PROTOCOL_VERSION);
    u64::from_le_bytes(first)
}

/// `/sem-w-NAME` ("data available") and `/sem-r-NAME` ("space available"), §4.1.
fn semaphore_names(name: &str) -> (String, String) {
    (format!("/sem-w-{name}"), format!("/sem-r-{name}"))
}

/// One mapped segment: OIEB words reached as atomics, ring bytes as slices.
struct Segment {
    map: MmapRaw,
    /// Offset of the payload ring in the segment (`128 + M`).
    payload: usize,
    /// Ring size `P`.
    size: usize,
}

impl Segment {
    /// `map` must be at least `OIEB_SIZE` long; the ring bounds are set by the caller.
    fn new(map: MmapRaw) -> BoxResult<Segment> {
        if map.len() < OIEB_SIZE {
            return Err(format!("segment of {} bytes has no OIEB", map.len()).into());
        }
        Ok(Segment {
            map,
            payload: OIEB_SIZE,
            size: 0,
        })
    }

    fn word(&self, offset: usize) -> &AtomicU64 {
        assert!(offset.is_multiple_of(8) && offset + 8 <= OIEB_SIZE);
        // SAFETY: the mapping is page aligned and at least OIEB_SIZE bytes long (checked in
        // `new`), so `offset` names an 8-aligned word inside it that lives as long as `self`.
        // Both processes access OIEB words only atomically.
        unsafe { AtomicU64::from_ptr(self.map.as_mut_ptr().add(offset).cast()) }
    }

    fn load(&self, offset: usize) -> u64 {
        self.word(offset).load(Ordering::Acquire)
    }

    fn store(&self, offset: usize, value: u64) {
        self.word(offset).store(value, Ordering::Release);
    }

    /// `+1` on a counter that only this side writes (a plain increment, as upstream does).
    fn bump(&self, offset: usize) {
        self.store(offset, self.load(offset) + 1);
    }

    /// Bytes `[at, at+len)` of the ring, which the protocol has handed to the reader.
    fn ring(&self, at: usize, len: usize) -> &[u8] {
        assert!(at.checked_add(len).is_some_and(|end| end <= self.size));
        // SAFETY: the range lies inside the ring, inside the mapping (checked when the ring
        // bounds were set), which lives as long as `self`. The writer does not touch these
        // bytes until the reader releases the frame.
        unsafe { std::slice::from_raw_parts(self.map.as_ptr().add(self.payload + at), len) }
    }

    /// Bytes `[at, at+len)` of the ring, which the protocol has handed to the writer.
    fn ring_mut(&mut self, at: usize, len: usize) -> &mut [u8] {
        assert!(at.checked_add(len).is_some_and(|end| end <= self.size));
        // SAFETY: as in `ring`; the range is free space, so the reader does not look at it
        // until the writer posts `sem-w`, and `&mut self` keeps this process from aliasing it.
        unsafe { std::slice::from_raw_parts_mut(self.map.as_mut_ptr().add(self.payload + at), len) }
    }
}

/// The objects the bare reader created; removed on drop, also when creation fails halfway.
struct Created {
    segment: PathBuf,
    semaphores: Vec<String>,
}

impl Drop for Created {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.segment);
        for sem in &self.semaphores {
            let _ = NamedSemaphore::unlink(sem);
        }
    }
}

/// A reader that creates the buffer and reads frames per §3.6. No lock file.
pub struct BareReader {
    seg: Segment,
    sem_write: NamedSemaphore,
    sem_read: NamedSemaphore,
    /// Sequence number the next frame must carry (§7.1).
    expected: Cell<u64>,
    /// Declared last: unlinks after the `Drop` below has cleared `reader_pid`.
    _created: Created,
}

impl BareReader {
    /// Creates buffer `name` with a `payload_size`-byte ring (a multiple of 64) and no metadata.
    pub fn create(name: &str, payload_size: usize) -> BoxResult<BareReader> {
        if payload_size == 0 || !payload_size.is_multiple_of(64) {
            return Err(format!("bad ring size {payload_size}: not a multiple of 64").into());
        }
        let path = ObjectPaths::new(name).segment;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o666)
            .open(&path)?;
        let mut created = Created {
            segment: path,
            semaphores: Vec::new(),
        };
        file.set_len((OIEB_SIZE + payload_size) as u64)?;
        let mut seg = Segment::new(MmapRaw::map_raw(&file)?)?;
        seg.size = payload_size;

        let p = payload_size as u64;
        seg.store(oieb::OIEB_SIZE, signature()); // oieb_size and the version bytes
        seg.store(oieb::METADATA_SIZE, 0);
        seg.store(oieb::METADATA_FREE_BYTES, 0);
        seg.store(oieb::METADATA_WRITTEN_BYTES, 0);
        seg.store(oieb::PAYLOAD_SIZE, p);
        seg.store(oieb::PAYLOAD_FREE_BYTES, p);
        for field in [
            oieb::PAYLOAD_WRITE_POS,
            oieb::PAYLOAD_READ_POS,
            oieb::PAYLOAD_WRITTEN_COUNT,
            oieb::PAYLOAD_READ_COUNT,
            oieb::WRITER_PID,
        ] {
            seg.store(field, 0);
        }

        let (w, r) = semaphore_names(name);
        let sem_write = NamedSemaphore::create(&w)?;
        created.semaphores.push(w);
        let sem_read = NamedSemaphore::create(&r)?;
        created.semaphores.push(r);
        seg.store(oieb::READER_PID, u64::from(std::process::id()));
        Ok(BareReader {
            seg,
            sem_write,
            sem_read,
            expected: Cell::new(1),
            _created: created,
        })
    }

    /// The 16-byte header at ring offset `r`; an error if it does not fit before the end.
    fn header_at(&self, r: u64) -> BoxResult<FrameHeader> {
        if r.checked_add(HEADER)
            .is_none_or(|end| end > self.seg.size as u64)
        {
            return Err(format!("header at {r} crosses the end of the ring").into());
        }
        let bytes = self.seg.ring(r as usize, FRAME_HEADER_SIZE);
        Ok(FrameHeader::decode(bytes.try_into()?))
    }

    /// Waits up to `timeout` for the next frame (§3.6 steps 1–5). Frames must be dropped in
    /// order (FIFO), as the protocol assumes.
    pub fn read(&self, timeout: Duration) -> BoxResult<BareFrame<'_>> {
        if !self.sem_write.wait(timeout)? {
            return Err(format!("bare reader: no frame within {timeout:?}").into());
        }
        fence(Ordering::Acquire);
        let seg = &self.seg;
        let p = seg.size as u64;

        // 1. Graceful disconnect: no writer and nothing left to take.
        if seg.load(oieb::WRITER_PID) == 0
            && seg.load(oieb::PAYLOAD_WRITTEN_COUNT) <= seg.load(oieb::PAYLOAD_READ_COUNT)
        {
            return Err("bare reader: the writer disconnected".into());
        }
        // 2. The header at R.
        let mut r = seg.load(oieb::PAYLOAD_READ_POS);
        let mut header = self.header_at(r)?;
        // 3. A wrap marker: give the tail back, continue at 0 without another wait.
        if header.is_wrap_marker() && r > 0 {
            seg.word(oieb::PAYLOAD_FREE_BYTES)
                .fetch_add(p - r, Ordering::AcqRel);
            seg.store(oieb::PAYLOAD_READ_POS, 0);
            seg.bump(oieb::PAYLOAD_READ_COUNT);
            r = 0;
            header = self.header_at(0)?;
        }
        // 4. Validate: sequence first, then size, then bounds.
        let expected = self.expected.get();
        if header.sequence != expected {
            let got = header.sequence;
            return Err(format!("sequence error: expected {expected}, got {got}").into());
        }
        let size = header.payload_size;
        if size == 0 {
            return Err("invalid frame size: 0".into());
        }
        let total = HEADER
            .checked_add(size)
            .filter(|t| r.checked_add(*t).is_some_and(|end| end <= p))
            .ok_or_else(|| {
                format!("frame of {size} bytes at {r} extends past the {p}-byte ring")
            })?;
        // 5. Hand out [R+16, R+16+size); advance R and the read count.
        let next = r + total;
        seg.store(
            oieb::PAYLOAD_READ_POS,
            if next >= p { next - p } else { next },
        );
        seg.bump(oieb::PAYLOAD_READ_COUNT);
        self.expected.set(expected + 1);
        Ok(BareFrame {
            reader: self,
            data: seg.ring((r + HEADER) as usize, size as usize),
            total,
        })
    }
}

impl Drop for BareReader {
    fn drop(&mut self) {
        self.seg.store(oieb::READER_PID, 0);
    }
}

/// A frame in the ring; dropping it gives its space back (§3.6 step 6).
pub struct BareFrame<'a> {
    reader: &'a BareReader,
    data: &'a [u8],
    total: u64,
}

impl Deref for BareFrame<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.data
    }
}

impl Drop for BareFrame<'_> {
    fn drop(&mut self) {
        let seg = &self.reader.seg;
        seg.word(oieb::PAYLOAD_FREE_BYTES)
            .fetch_add(self.total, Ordering::AcqRel);
        fence(Ordering::Release);
        let _ = self.reader.sem_read.post();
    }
}

/// A writer that attaches to a buffer and writes frames per §3.3/§3.4.
pub struct BareWriter {
    seg: Segment,
    sem_write: NamedSemaphore,
    sem_read: NamedSemaphore,
    next_sequence: u64,
    /// How long to wait for space before failing.
    timeout: Duration,
}

impl BareWriter {
    /// Opens buffer `name` and both semaphores, then sets `writer_pid`.
    pub fn connect(name: &str, timeout: Duration) -> BoxResult<BareWriter> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(ObjectPaths::new(name).segment)?;
        let mut seg = Segment::new(MmapRaw::map_raw(&file)?)?;
        if seg.load(oieb::OIEB_SIZE) != signature() {
            return Err("not a v1 OIEB (oieb_size 128, version 1.0.0)".into());
        }
        let (m, p) = (seg.load(oieb::METADATA_SIZE), seg.load(oieb::PAYLOAD_SIZE));
        let end = (OIEB_SIZE as u64).saturating_add(m).saturating_add(p);
        if p == 0 || end > seg.map.len() as u64 {
            return Err(format!("sizes M={m} P={p} do not fit the segment").into());
        }
        seg.payload = OIEB_SIZE + m as usize;
        seg.size = p as usize;
        let (w, r) = semaphore_names(name);
        let sem_write = NamedSemaphore::open(&w)?;
        let sem_read = NamedSemaphore::open(&r)?;
        seg.store(oieb::WRITER_PID, u64::from(std::process::id()));
        Ok(BareWriter {
            seg,
            sem_write,
            sem_read,
            next_sequence: 1,
            timeout,
        })
    }

    /// Copy mode: writes `data` as one frame.
    pub fn write_copy(&mut self, data: &[u8]) -> BoxResult<u64> {
        self.write_in_place(data.len(), |slot| slot.copy_from_slice(data))
    }

    /// Zero-copy mode: `fill` writes the frame's `len` data bytes straight into the ring.
    pub fn write_in_place(&mut self, len: usize, fill: impl FnOnce(&mut [u8])) -> BoxResult<u64> {
        if len == 0 {
            return Err("frames cannot be empty".into());
        }
        let p = self.seg.size as u64;
        let total = HEADER + len as u64;
        // §3.3: the space check compares only F.
        let mut w = self.seg.load(oieb::PAYLOAD_WRITE_POS);
        let space_to_end = p.checked_sub(w).ok_or("write position past the ring end")?;
        let need_wrap = space_to_end < total;
        let required = if need_wrap {
            space_to_end + total
        } else {
            total
        };
        while self.seg.load(oieb::PAYLOAD_FREE_BYTES) < required {
            if !self.sem_read.wait(self.timeout)? {
                return Err(format!("bare writer: no space within {:?}", self.timeout).into());
            }
            fence(Ordering::Acquire);
        }
        // §3.4 steps 1-3: the wrap.
        if need_wrap {
            if space_to_end >= HEADER {
                self.seg
                    .ring_mut(w as usize, FRAME_HEADER_SIZE)
                    .copy_from_slice(&FrameHeader::WRAP_MARKER.encode());
                self.seg.bump(oieb::PAYLOAD_WRITTEN_COUNT);
            }
            self.seg
                .word(oieb::PAYLOAD_FREE_BYTES)
                .fetch_sub(space_to_end, Ordering::AcqRel);
            w = 0;
            self.seg.store(oieb::PAYLOAD_WRITE_POS, 0);
        }
        // Steps 4-8: header, data, W, F, count, fence, signal.
        let sequence = self.next_sequence;
        let header = FrameHeader {
            payload_size: len as u64,
            sequence,
        };
        self.seg
            .ring_mut(w as usize, FRAME_HEADER_SIZE)
            .copy_from_slice(&header.encode());
        fill(self.seg.ring_mut((w + HEADER) as usize, len));
        self.seg.store(oieb::PAYLOAD_WRITE_POS, (w + total) % p);
        self.seg
            .word(oieb::PAYLOAD_FREE_BYTES)
            .fetch_sub(total, Ordering::AcqRel);
        self.seg.bump(oieb::PAYLOAD_WRITTEN_COUNT);
        self.next_sequence += 1;
        fence(Ordering::Release);
        self.sem_write.post()?;
        Ok(sequence)
    }
}

impl Drop for BareWriter {
    /// Graceful close (§7.3): clear `writer_pid`, never post `sem-w`.
    fn drop(&mut self) {
        self.seg.store(oieb::WRITER_PID, 0);
    }
}
