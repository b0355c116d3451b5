//! The writer: attaches to a reader's buffer and publishes frames (protocol.md §3.3–§3.5, §6, §8.1).

use std::io;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{fence, Ordering};
use std::time::{Duration, Instant};

use crate::abandon::Abandon;
use crate::error::{Error, Result};
use crate::layout::oieb::WRITER_PID;
use crate::layout::{FrameHeader, FRAME_HEADER_SIZE, METADATA_PREFIX_SIZE, OIEB_SIZE};
use crate::names::ObjectNames;
use crate::oieb::{Oieb, OiebSnapshot};
use crate::process::{current_pid, is_process_alive};
use crate::ring::{self, Placement, Unplaceable, Wrap};
use crate::sem::NamedSemaphore;
use crate::shm::SharedMemory;
use crate::wait::WaitStrategy;

/// Default time a write waits for space before [`Error::BufferFull`].
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Slice of a space wait after which the reader's liveness is checked.
const LIVENESS_SLICE: Duration = Duration::from_millis(100);

/// The writing end of a buffer created by a [`crate::Reader`].
pub struct Writer {
    names: ObjectNames,
    shm: SharedMemory,
    sem_write: NamedSemaphore,
    sem_read: NamedSemaphore,
    pid: u64,
    payload_offset: usize,
    payload_size: u64,
    metadata_size: u64,
    next_sequence: u64,
    metadata_written: bool,
    write_timeout: Duration,
    /// How a write waits for the reader's `sem-r` token when the ring is full.
    wait: WaitStrategy,
    /// Set by a simulated crash: drop then leaves `writer_pid` as it is.
    abandoned: bool,
}

impl Writer {
    /// Connects to buffer `name`.
    ///
    /// Checks the control block, requires a live reader, refuses when another live writer is
    /// attached, opens both semaphores, and only then claims `writer_pid` (with a
    /// compare-and-swap, so two connecting writers cannot both win). A failed connect leaves the
    /// shared memory untouched.
    pub fn connect(name: &str) -> Result<Writer> {
        let names = ObjectNames::new(name)?;
        let not_found = |what| Error::BufferNotFound {
            name: name.to_owned(),
            what,
        };
        let shm = match SharedMemory::open(&names.shm) {
            Ok(shm) => shm,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(not_found("shared memory"))
            }
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                return Err(Error::InvalidOieb("the segment is empty".into()))
            }
            Err(e) => return Err(Error::os(format!("open shared memory {name:?}"), e)),
        };
        if shm.len() < OIEB_SIZE {
            return Err(Error::InvalidOieb(format!(
                "segment of {} bytes is smaller than the OIEB",
                shm.len()
            )));
        }
        let oieb = Oieb::new(&shm);
        oieb.validate(shm.len())?;
        let reader = oieb.reader_pid();
        if !is_process_alive(reader) {
            return Err(Error::NoReader(name.to_owned()));
        }
        let previous = oieb.writer_pid();
        if previous != 0 && is_process_alive(previous) {
            return Err(Error::WriterAlreadyConnected { pid: previous });
        }
        let open_sem = |sem_name: &str| {
            NamedSemaphore::open(sem_name).map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => not_found("semaphore"),
                _ => Error::os(format!("open semaphore {sem_name}"), e),
            })
        };
        let sem_write = open_sem(&names.sem_write)?;
        let sem_read = open_sem(&names.sem_read)?;
        let pid = current_pid();
        if let Err(now) = oieb.word(WRITER_PID).compare_exchange(
            previous,
            pid,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            return Err(Error::WriterAlreadyConnected { pid: now });
        }
        let (metadata_size, payload_size) = (oieb.metadata_size(), oieb.payload_size());
        let metadata_written = oieb.metadata_written_bytes() > 0;
        tracing::debug!(buffer = name, "writer connected");
        Ok(Writer {
            names,
            payload_offset: OIEB_SIZE + metadata_size as usize,
            shm,
            sem_write,
            sem_read,
            pid,
            payload_size,
            metadata_size,
            next_sequence: 1,
            metadata_written,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            wait: WaitStrategy::default(),
            abandoned: false,
        })
    }

    /// The name of the buffer.
    pub fn name(&self) -> &str {
        &self.names.buffer
    }

    #[inline]
    fn oieb(&self) -> Oieb<'_> {
        Oieb::new(&self.shm)
    }

    /// How long a write waits for space (default 5 s).
    pub fn write_timeout(&self) -> Duration {
        self.write_timeout
    }

    /// Sets how long a write waits for space.
    pub fn set_write_timeout(&mut self, timeout: Duration) {
        self.write_timeout = timeout;
    }

    /// How writes wait for space ([`WaitStrategy::Block`] unless set).
    pub fn wait_strategy(&self) -> WaitStrategy {
        self.wait
    }

    /// Chooses how writes wait for space; any strategy works with any reader.
    pub fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        self.wait = strategy;
    }

    /// The rounded payload size of the ring.
    pub fn payload_size(&self) -> u64 {
        self.payload_size
    }

    /// The rounded metadata block size.
    pub fn metadata_size(&self) -> u64 {
        self.metadata_size
    }

    /// Frames committed by this writer so far.
    pub fn frames_written(&self) -> u64 {
        self.next_sequence - 1
    }

    /// True while the reader's PID is set and alive.
    pub fn is_reader_connected(&self) -> bool {
        is_process_alive(self.oieb().reader_pid())
    }

    /// A copy of the control block as it is now.
    pub fn oieb_snapshot(&self) -> OiebSnapshot {
        self.oieb().snapshot()
    }

    /// Frames committed and not yet taken by the reader, as the "data available" semaphore
    /// (`sem-w`) counts them.
    pub fn pending_frames(&self) -> Result<u64> {
        self.sem_write.tokens("sem-w")
    }

    /// Writes the buffer's metadata (once per buffer, up to metadata size − 8 bytes).
    pub fn set_metadata(&mut self, data: &[u8]) -> Result<()> {
        if self.metadata_written || self.oieb().metadata_written_bytes() > 0 {
            return Err(Error::MetadataAlreadyWritten);
        }
        let stored = (METADATA_PREFIX_SIZE + data.len()) as u64;
        if stored > self.metadata_size {
            return Err(Error::MetadataTooLarge {
                len: data.len(),
                metadata_size: self.metadata_size,
            });
        }
        self.shm
            .write_from(OIEB_SIZE, &(data.len() as u64).to_le_bytes());
        self.shm.write_from(OIEB_SIZE + METADATA_PREFIX_SIZE, data);
        let oieb = self.oieb();
        oieb.set_metadata_free_bytes(self.metadata_size - stored);
        oieb.set_metadata_written_bytes(stored);
        self.metadata_written = true;
        Ok(())
    }

    /// Copies `data` into the ring as one frame and returns its sequence number.
    #[inline]
    pub fn write_frame(&mut self, data: &[u8]) -> Result<u64> {
        let mut slot = self.get_frame_buffer(data.len())?;
        slot.copy_from_slice(data);
        Ok(slot.commit())
    }

    /// Reserves space for a frame of `len` bytes and returns a slot to fill in place.
    ///
    /// Waits up to the write timeout for space. Nothing is visible to the reader until
    /// [`FrameSlot::commit`]; dropping the slot uncommitted abandons it without a trace.
    #[inline]
    pub fn get_frame_buffer(&mut self, len: usize) -> Result<FrameSlot<'_>> {
        let (placement, data_offset) = self.reserve(len)?;
        Ok(FrameSlot {
            writer: self,
            placement,
            data_offset,
            len,
        })
    }

    /// Finds room for a frame of `len` bytes, waiting for space; returns where it goes and
    /// where its data starts in the segment. Changes nothing the reader can see.
    #[inline]
    pub(crate) fn reserve(&mut self, len: usize) -> Result<(Placement, usize)> {
        if len == 0 {
            return Err(Error::ZeroSizeFrame);
        }
        if self.oieb().reader_pid() == 0 {
            return Err(Error::ReaderDead);
        }
        let placement = match ring::place(self.payload_size, self.oieb().write_pos(), len as u64) {
            Ok(p) => p,
            Err(Unplaceable::LargerThanRing) => {
                return Err(Error::FrameTooLarge {
                    len,
                    max: self.payload_size - FRAME_HEADER_SIZE as u64,
                })
            }
            Err(Unplaceable::NeverFits { max }) => return Err(Error::FrameTooLarge { len, max }),
        };
        self.wait_for_space(placement.required)?;
        let data_offset = self.payload_offset + (placement.offset as usize) + FRAME_HEADER_SIZE;
        Ok((placement, data_offset))
    }

    /// The sequence number the next committed frame will carry.
    pub(crate) fn next_sequence(&self) -> u64 {
        self.next_sequence
    }

    /// The bytes of a reserved slot.
    pub(crate) fn slot_bytes(&self, offset: usize, len: usize) -> &[u8] {
        self.shm.bytes(offset, len)
    }

    /// The bytes of a reserved slot, to fill.
    pub(crate) fn slot_bytes_mut(&mut self, offset: usize, len: usize) -> &mut [u8] {
        self.shm.bytes_mut(offset, len)
    }

    /// Waits until the free bytes cover `required`, in slices that check on the reader.
    #[inline]
    fn wait_for_space(&self, required: u64) -> Result<()> {
        // The common case, without reading the clock: the space is there already (`reserve`
        // has just checked the reader).
        if self.oieb().payload_free_bytes() >= required {
            return Ok(());
        }
        self.sleep_for_space(required)
    }

    /// [`wait_for_space`](Self::wait_for_space) once the space was not there, out of line.
    fn sleep_for_space(&self, required: u64) -> Result<()> {
        let oieb = self.oieb();
        let deadline = Instant::now() + self.write_timeout;
        loop {
            let reader = oieb.reader_pid();
            if reader == 0 {
                return Err(Error::ReaderDead);
            }
            if oieb.payload_free_bytes() >= required {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::BufferFull);
            }
            let woken = self
                .wait
                .take(&self.sem_read, LIVENESS_SLICE.min(deadline - now))
                .map_err(|e| Error::os("wait for space", e))?;
            if woken {
                fence(Ordering::Acquire);
            } else if !is_process_alive(reader) {
                return Err(Error::ReaderDead);
            }
        }
    }

    /// Publishes a reserved frame: wrap step, header, positions, free bytes, count, `sem-w`.
    #[inline]
    pub(crate) fn publish(&mut self, placement: Placement, len: usize) -> u64 {
        let oieb = self.oieb();
        let size = self.payload_size;
        if placement.wrap != Wrap::None {
            let at = self.payload_offset + (size - placement.tail) as usize;
            if placement.wrap == Wrap::WithMarker {
                self.shm.write_from(at, &FrameHeader::WRAP_MARKER.encode());
                oieb.bump_written_count();
            } else if placement.tail > 0 {
                // Zeroed, the short tail reads as a marker even to readers that overrun it.
                self.shm.bytes_mut(at, placement.tail as usize).fill(0);
            }
            oieb.sub_free_bytes(placement.tail);
            oieb.set_write_pos(0);
        }
        let sequence = self.next_sequence;
        let header = FrameHeader {
            payload_size: len as u64,
            sequence,
        };
        self.shm.write_from(
            self.payload_offset + placement.offset as usize,
            &header.encode(),
        );
        let total = (FRAME_HEADER_SIZE + len) as u64;
        oieb.set_write_pos((placement.offset + total) % size);
        oieb.sub_free_bytes(total);
        oieb.bump_written_count();
        fence(Ordering::Release);
        if let Err(e) = self.sem_write.post() {
            self.report_failed_post(&e);
        }
        self.next_sequence += 1;
        sequence
    }

    /// Out of line: the log call would otherwise weigh on every commit.
    #[cold]
    fn report_failed_post(&self, error: &io::Error) {
        tracing::error!(buffer = self.name(), %error, "sem_post(sem-w) failed");
    }
}

impl Abandon for Writer {
    /// Leaves this process's PID as `writer_pid` (see [`Abandon`]).
    fn abandon(mut self) -> Result<()> {
        self.abandoned = true;
        Ok(())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if self.abandoned {
            return;
        }
        // Only clear our own claim; never post sem-w on close (protocol.md §7.3).
        let _ = self.oieb().word(WRITER_PID).compare_exchange(
            self.pid,
            0,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        tracing::debug!(buffer = self.name(), "writer disconnected");
    }
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("name", &self.names.buffer)
            .field("payload_size", &self.payload_size)
            .field("next_sequence", &self.next_sequence)
            .finish()
    }
}

/// Reserved ring space for one frame, filled in place and then [committed](FrameSlot::commit).
pub struct FrameSlot<'w> {
    writer: &'w mut Writer,
    placement: Placement,
    data_offset: usize,
    len: usize,
}

impl FrameSlot<'_> {
    /// The sequence number the frame will carry.
    pub fn sequence(&self) -> u64 {
        self.writer.next_sequence
    }

    /// Makes the frame visible to the reader and returns its sequence number.
    #[inline]
    pub fn commit(self) -> u64 {
        self.writer.publish(self.placement, self.len)
    }
}

impl Deref for FrameSlot<'_> {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        self.writer.shm.bytes(self.data_offset, self.len)
    }
}

impl DerefMut for FrameSlot<'_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        self.writer.shm.bytes_mut(self.data_offset, self.len)
    }
}
