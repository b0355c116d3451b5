//! The reader: creates and owns a buffer, hands out zero-copy frames (protocol.md §3.6, §5, §7).

use std::io;
use std::sync::atomic::{fence, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use spin::mutex::{SpinMutex, SpinMutexGuard};
use spin::relax::Yield;

use crate::abandon::Abandon;
use crate::config::BufferConfig;
use crate::error::{Error, Result};
use crate::layout::{METADATA_PREFIX_SIZE, OIEB_SIZE};
use crate::lock::FileLock;
use crate::names::ObjectNames;
pub(crate) use crate::next_frame::{Owed, Taken};
use crate::next_frame::{ReadState, RingView, Took};
use crate::oieb::{Oieb, OiebSnapshot};
use crate::process::{current_pid, is_process_alive};
use crate::sem::NamedSemaphore;
use crate::shm::SharedMemory;
use crate::stale;
use crate::wait::WaitStrategy;

/// How long to wait for a lock briefly held by another process's stale-cleanup pass.
const LOCK_CONTENTION_WAIT: Duration = Duration::from_millis(250);
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The reading end of a buffer. It creates the shared memory, semaphores and lock file, and
/// removes them again when dropped.
///
/// `read_frame` takes `&self`, so several [`Frame`](crate::Frame)s may be outstanding at once; their space
/// returns to the writer in ring order whatever order they are dropped in.
pub struct Reader {
    names: ObjectNames,
    shm: SharedMemory,
    sem_write: NamedSemaphore,
    sem_read: NamedSemaphore,
    lock: Option<FileLock>,
    /// Set by [`Abandon::abandon`]: drop then leaves everything in place, like a killed process.
    abandoned: bool,
    payload_offset: usize,
    payload_size: u64,
    metadata_size: u64,
    /// How [`Reader::read_frame`] waits for the writer's `sem-w` token.
    wait: WaitStrategy,
    /// Every read and release takes this lock once. Its release is a plain store, where a
    /// sleeping mutex's is a second atomic read-modify-write: with 1 KiB frames written and
    /// read in one thread, the two round trips per frame of `std::sync::Mutex` were a fifth
    /// of the time. Nothing holding it blocks, logs or makes a system call (semaphore posts
    /// and the log line wait until it is released), so a thread that finds it taken yields for
    /// a few hundred nanoseconds at most.
    state: SpinMutex<ReadState, Yield>,
}

impl Reader {
    /// Creates buffer `name` with `config` and becomes its reader.
    ///
    /// Runs the stale-resource scan first, takes `/tmp/zerobuffer/NAME.lock`, replaces objects a
    /// dead reader left behind, and stores its PID last, once everything is in place.
    pub fn create(name: &str, config: BufferConfig) -> Result<Reader> {
        let names = ObjectNames::new(name)?;
        config.validate()?;
        stale::scan_lock_files();
        let lock = acquire_lock(&names)?;
        let (metadata_size, payload_size) = (config.metadata_block(), config.payload_block());
        let shm = match create_segment(&names, config.total_size()) {
            Ok(shm) => shm,
            Err(e) => {
                lock.remove();
                return Err(e);
            }
        };
        let oieb = Oieb::new(&shm);
        oieb.initialize(metadata_size, payload_size);
        let semaphores = NamedSemaphore::create(&names.sem_write)
            .and_then(|w| NamedSemaphore::create(&names.sem_read).map(|r| (w, r)));
        let (sem_write, sem_read) = match semaphores {
            Ok(pair) => pair,
            Err(err) => {
                for sem in [&names.sem_write, &names.sem_read] {
                    let _ = NamedSemaphore::unlink(sem);
                }
                let _ = SharedMemory::unlink(&names.shm);
                lock.remove();
                return Err(Error::os(format!("create semaphores of {name:?}"), err));
            }
        };
        oieb.set_reader_pid(current_pid());
        tracing::debug!(
            buffer = name,
            metadata_size,
            payload_size,
            "reader created buffer"
        );
        Ok(Reader {
            names,
            payload_offset: OIEB_SIZE + metadata_size as usize,
            payload_size,
            metadata_size,
            shm,
            sem_write,
            sem_read,
            lock: Some(lock),
            abandoned: false,
            wait: WaitStrategy::default(),
            state: SpinMutex::new(ReadState::default()),
        })
    }

    /// The name of the buffer.
    pub fn name(&self) -> &str {
        &self.names.buffer
    }

    /// The rounded metadata and payload sizes in use.
    pub fn config(&self) -> BufferConfig {
        BufferConfig::new(self.metadata_size as usize, self.payload_size as usize)
    }

    /// How reads wait for a frame ([`WaitStrategy::Block`] unless set).
    pub fn wait_strategy(&self) -> WaitStrategy {
        self.wait
    }

    /// Chooses how reads wait for a frame; any strategy works with any writer.
    pub fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        self.wait = strategy;
    }

    fn oieb(&self) -> Oieb<'_> {
        Oieb::new(&self.shm)
    }

    #[inline]
    fn ring(&self) -> RingView<'_> {
        RingView::new(&self.shm, self.payload_offset, self.payload_size)
    }

    #[inline]
    fn state(&self) -> SpinMutexGuard<'_, ReadState, Yield> {
        self.state.lock()
    }

    /// The bytes of a frame handed out by [`take_next`](Reader::take_next).
    #[inline]
    pub(crate) fn frame_bytes(&self, offset: usize, len: usize) -> &[u8] {
        self.shm.bytes(offset, len)
    }

    /// Takes the next frame off the ring: where its data is, and how its space goes back.
    #[inline]
    pub(crate) fn take_next(&self, timeout: Duration) -> Result<Taken> {
        self.wait_for_frame(timeout)?;
        let mut state = self.state();
        let taken = self.ring().take(&mut state, false);
        drop(state);
        self.finish_take(taken)
    }

    /// [`take_next`](Self::take_next) for a caller that holds the reader exclusively: no lock,
    /// and, when nothing is owed, no credit queued either (see [`Owed::Direct`]).
    #[inline]
    pub(crate) fn take_next_exclusive(&mut self, timeout: Duration) -> Result<Taken> {
        self.wait_for_frame(timeout)?;
        // The fields one by one, not `self.ring()`: the view and the state are borrowed apart.
        let ring = RingView::new(&self.shm, self.payload_offset, self.payload_size);
        let taken = ring.take(self.state.get_mut(), true);
        self.finish_take(taken)
    }

    /// Waits for the writer's `sem-w` token; a timeout or a writer gone is an error.
    // One body with each caller: a call per step cost about a tenth of a read at 1 KiB.
    #[inline(always)]
    fn wait_for_frame(&self, timeout: Duration) -> Result<()> {
        let woken = self
            .wait
            .take(&self.sem_write, timeout)
            .map_err(|e| Error::os("wait for data", e))?;
        if !woken {
            return Err(self.judge_silent_writer(timeout));
        }
        fence(Ordering::Acquire);
        let oieb = self.oieb();
        // The counts only matter once the writer is gone: while it is attached, its count is
        // a line it keeps changing, not worth a look per frame. Counters may wrap past 2^64 on
        // very long runs: compare their distance, not values.
        if oieb.writer_pid() == 0
            && oieb.written_count().wrapping_sub(oieb.read_count()) as i64 <= 0
        {
            return Err(Error::WriterDead);
        }
        Ok(())
    }

    /// After the state is let go: posts what a wrap paid and logs a writer's restart, or gives
    /// the token back on an error (nothing was consumed, so the semaphore still counts the
    /// unread frame, and every later read meets the same corrupt header).
    // One body with each caller: a call per step cost about a tenth of a read at 1 KiB.
    #[inline(always)]
    fn finish_take(&self, took: Result<Took>) -> Result<Taken> {
        match took {
            Ok(took) => {
                self.post_space(took.payment.posts);
                if let Some(expected) = took.restarted_after {
                    tracing::debug!(
                        buffer = self.name(),
                        expected,
                        "writer restarted at sequence 1 (new writer session)"
                    );
                }
                Ok(took.taken)
            }
            Err(e) => {
                let _ = self.sem_write.post();
                Err(e)
            }
        }
    }

    /// After a wait without data: is the writer gone, or is it just quiet? (protocol.md §4.2)
    ///
    /// A dead writer PID is `WriterDead`. A cleared PID means a graceful exit; it is
    /// `WriterDead` once a writer has written something (the counts say so) and no frame is
    /// left: the `sem-w` value is 0. Upstream compares the counts instead, which never settles
    /// after a Python writer (it counts marker-less wraps, protocol.md §12.6). The PID is read
    /// before the semaphore: a writer posts its last frame before clearing its PID.
    fn judge_silent_writer(&self, timeout: Duration) -> Error {
        let oieb = self.oieb();
        let pid = oieb.writer_pid();
        if pid != 0 && !is_process_alive(pid) {
            return Error::WriterDead;
        }
        if pid == 0 && oieb.written_count() > 0 && self.sem_write.value().is_ok_and(|v| v <= 0) {
            return Error::WriterDead;
        }
        Error::Timeout(timeout)
    }

    /// Called by a dropped frame: gives its space back, at once or once it is payable.
    #[inline]
    pub(crate) fn settle(&self, owed: Owed) {
        match owed {
            Owed::Queued(ticket) => self.release(ticket),
            Owed::Direct(bytes) => {
                self.oieb().add_free_bytes(bytes);
                self.post_space(1);
            }
        }
    }

    /// Marks the credit of `ticket` released and pays what is now payable.
    #[inline]
    fn release(&self, ticket: u64) {
        let mut state = self.state();
        state.credits.release(ticket);
        let payment = state.pay(self.oieb());
        drop(state);
        self.post_space(payment.posts);
    }

    /// Posts `sem-r` once per paid frame. A writer re-checks the free bytes after every token,
    /// so a token that arrives after the bytes it stands for is only a wake-up it does not need.
    #[inline]
    fn post_space(&self, posts: usize) {
        if posts == 0 {
            return;
        }
        fence(Ordering::Release);
        for _ in 0..posts {
            if let Err(e) = self.sem_read.post() {
                self.report_failed_post(&e);
            }
        }
    }

    /// Out of line: the log call would otherwise weigh on every release.
    #[cold]
    fn report_failed_post(&self, error: &io::Error) {
        tracing::error!(buffer = self.name(), %error, "sem_post(sem-r) failed");
    }

    /// The metadata the writer stored, without its 8-byte length prefix; empty if none.
    pub fn metadata(&self) -> Result<Vec<u8>> {
        let oieb = self.oieb();
        let written = oieb.metadata_written_bytes();
        if written == 0 {
            return Ok(Vec::new());
        }
        let mut prefix = [0u8; METADATA_PREFIX_SIZE];
        self.shm.read_into(OIEB_SIZE, &mut prefix);
        let len = u64::from_le_bytes(prefix);
        let limit = written.min(self.metadata_size);
        if len > limit.saturating_sub(METADATA_PREFIX_SIZE as u64) {
            return Err(Error::InvalidMetadata {
                prefix: len,
                written,
            });
        }
        Ok(self
            .shm
            .bytes(OIEB_SIZE + METADATA_PREFIX_SIZE, len as usize)
            .to_vec())
    }

    /// True if a writer is attached and its process is alive.
    pub fn is_writer_connected(&self) -> bool {
        is_process_alive(self.oieb().writer_pid())
    }

    /// Polls every 100 ms until a live writer is attached or `timeout` passes.
    pub fn wait_for_writer(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.is_writer_connected() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            thread::sleep(POLL_INTERVAL.min(deadline - now));
        }
    }

    /// A copy of the control block as it is now.
    pub fn oieb_snapshot(&self) -> OiebSnapshot {
        self.oieb().snapshot()
    }

    /// Frames handed out by [`Reader::read_frame`] whose space has not gone back to the writer
    /// yet (still held, or released after an older frame that is still held).
    pub fn outstanding_frames(&self) -> usize {
        self.state().credits.frames_owed()
    }

    /// Frames committed by writers but not yet taken by this reader (the `sem-w` value).
    pub fn pending_frames(&self) -> Result<u64> {
        self.sem_write.tokens("sem-w")
    }

    /// Tokens in the "space available" semaphore (`sem-r`), mostly for diagnostics and tests.
    pub fn space_signals(&self) -> Result<u64> {
        self.sem_read.tokens("sem-r")
    }
}

impl Abandon for Reader {
    /// Leaves the segment, semaphores and lock file in place with this process's PID as
    /// `reader_pid` (see [`Abandon`]).
    fn abandon(mut self) -> Result<()> {
        self.abandoned = true;
        Ok(())
    }
}

fn acquire_lock(names: &ObjectNames) -> Result<FileLock> {
    let deadline = Instant::now() + LOCK_CONTENTION_WAIT;
    loop {
        match FileLock::try_acquire(&names.lock_file, true) {
            Ok(Some(lock)) => return Ok(lock),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
            Ok(None) => return Err(Error::ReaderAlreadyConnected(names.buffer.clone())),
            Err(e) => {
                return Err(Error::os(
                    format!("lock file {}", names.lock_file.display()),
                    e,
                ))
            }
        }
    }
}

/// `shm_open(O_EXCL)`; an existing segment is replaced unless a live reader owns it.
fn create_segment(names: &ObjectNames, size: u64) -> Result<SharedMemory> {
    match SharedMemory::create(&names.shm, size) {
        Ok(shm) => return Ok(shm),
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
            return Err(Error::os(
                format!("create shared memory {:?}", names.buffer),
                e,
            ))
        }
        Err(_) => {}
    }
    if let Ok(old) = SharedMemory::open(&names.shm) {
        if old.len() >= OIEB_SIZE {
            let oieb = Oieb::new(&old);
            let pid = oieb.reader_pid();
            if pid != 0 && is_process_alive(pid) {
                return Err(Error::ReaderAlreadyConnected(names.buffer.clone()));
            }
            // Tell a writer still attached to the old segment that its reader is gone.
            oieb.set_reader_pid(0);
        }
    }
    tracing::info!(buffer = %names.buffer, "replacing resources left by a dead reader");
    let _ = SharedMemory::unlink(&names.shm);
    for sem in [&names.sem_write, &names.sem_read] {
        let _ = NamedSemaphore::unlink(sem);
    }
    SharedMemory::create(&names.shm, size)
        .map_err(|e| Error::os(format!("create shared memory {:?}", names.buffer), e))
}

impl Drop for Reader {
    fn drop(&mut self) {
        if self.abandoned {
            // The lock file's descriptor closes with the field (the kernel drops the flock, as
            // at a process death); the segment, semaphores and lock file stay.
            return;
        }
        self.oieb().set_reader_pid(0);
        let _ = SharedMemory::unlink(&self.names.shm);
        let _ = NamedSemaphore::unlink(&self.names.sem_write);
        let _ = NamedSemaphore::unlink(&self.names.sem_read);
        if let Some(lock) = self.lock.take() {
            lock.remove();
        }
        tracing::debug!(buffer = self.name(), "reader closed buffer");
    }
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("name", &self.names.buffer)
            .field("metadata_size", &self.metadata_size)
            .field("payload_size", &self.payload_size)
            .finish()
    }
}
