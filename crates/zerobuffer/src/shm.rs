//! POSIX shared memory: create/open/unlink a segment and access its bytes.
//!
//! This and `sem.rs` are the only modules with `unsafe` code. Everything else reaches the
//! mapping through the bounds-checked accessors below.

#![allow(
    unsafe_code,
    reason = "the mapping of the shared segment and the accesses to its bytes"
)]

use std::fs::File;
use std::io;
use std::slice;
use std::sync::atomic::AtomicU64;

use memmap2::{MmapOptions, MmapRaw};
use rustix::fs::Mode;
use rustix::shm;

/// A mapped shared-memory segment (`/dev/shm/NAME`).
pub(crate) struct SharedMemory {
    map: MmapRaw,
}

impl SharedMemory {
    /// Creates a new segment of `size` bytes (`O_CREAT|O_EXCL`, mode 0666 less the umask).
    ///
    /// A freshly created object is zero-filled by the kernel, so no explicit clearing is needed.
    pub fn create(shm_name: &str, size: u64) -> io::Result<Self> {
        let fd = shm::open(
            shm_name,
            shm::OFlags::CREATE | shm::OFlags::EXCL | shm::OFlags::RDWR,
            Mode::from_raw_mode(0o666),
        )?;
        let file = File::from(fd);
        let mapped = file.set_len(size).and_then(|()| Self::map(&file, size));
        if mapped.is_err() {
            let _ = shm::unlink(shm_name);
        }
        mapped
    }

    /// Opens an existing segment read-write and maps all of it.
    pub fn open(shm_name: &str) -> io::Result<Self> {
        let fd = shm::open(shm_name, shm::OFlags::RDWR, Mode::empty())?;
        let file = File::from(fd);
        let size = file.metadata()?.len();
        if size == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "segment is empty",
            ));
        }
        Self::map(&file, size)
    }

    /// Removes the name; existing mappings stay valid until unmapped.
    pub fn unlink(shm_name: &str) -> io::Result<()> {
        shm::unlink(shm_name).map_err(io::Error::from)
    }

    fn map(file: &File, size: u64) -> io::Result<Self> {
        let len = usize::try_from(size)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "segment too large"))?;
        let map = MmapOptions::new().len(len).map_raw(file)?;
        Ok(SharedMemory { map })
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Every access is bounds-checked; the check is inlined into the hot paths (each frame
    /// makes a dozen accesses) and its panic kept out of them.
    #[inline]
    fn check(&self, offset: usize, len: usize) {
        if offset.checked_add(len).is_none_or(|end| end > self.len()) {
            out_of_bounds(offset, len, self.len());
        }
    }

    /// The 8-byte OIEB word at `offset`, shared with the other process.
    #[inline]
    pub fn atomic_u64(&self, offset: usize) -> &AtomicU64 {
        self.check(offset, 8);
        if !offset.is_multiple_of(8) {
            unaligned(offset);
        }
        // SAFETY: in bounds and 8-byte aligned (the mapping is page aligned); the memory lives as
        // long as `self`; AtomicU64 has the layout of u64, and every concurrent access to OIEB
        // words by any implementation is a plain or atomic aligned 8-byte access.
        unsafe { &*(self.map.as_ptr().add(offset) as *const AtomicU64) }
    }

    /// Copies bytes out of the segment.
    #[inline]
    pub fn read_into(&self, offset: usize, out: &mut [u8]) {
        out.copy_from_slice(self.bytes(offset, out.len()));
    }

    /// Copies bytes into the segment.
    #[inline]
    pub fn write_from(&self, offset: usize, data: &[u8]) {
        self.bytes_mut(offset, data.len()).copy_from_slice(data);
    }

    /// A shared view of `[offset, offset+len)`.
    ///
    /// Crate invariant: callers only view regions the protocol hands to them (a frame between
    /// read and release, the metadata after it was committed), which the peer does not modify.
    #[inline]
    pub fn bytes(&self, offset: usize, len: usize) -> &[u8] {
        self.check(offset, len);
        // SAFETY: in bounds of a live mapping; per the crate invariant above no one writes the
        // region while the returned borrow exists.
        unsafe { slice::from_raw_parts(self.map.as_ptr().add(offset), len) }
    }

    /// An exclusive view of `[offset, offset+len)`.
    ///
    /// Crate invariant: callers only write regions the protocol gives them exclusively (free
    /// ring space reserved by the single writer, the metadata block before commit) and hold at
    /// most one such view of a region at a time.
    #[allow(clippy::mut_from_ref)]
    #[inline]
    pub fn bytes_mut(&self, offset: usize, len: usize) -> &mut [u8] {
        self.check(offset, len);
        // SAFETY: in bounds of a live mapping; per the crate invariant above the region is not
        // aliased by another view nor read by the peer until it is published.
        unsafe { slice::from_raw_parts_mut(self.map.as_mut_ptr().add(offset), len) }
    }
}

#[cold]
#[inline(never)]
fn out_of_bounds(offset: usize, len: usize, size: usize) -> ! {
    panic!("shared-memory access [{offset}, +{len}) outside a {size}-byte segment")
}

#[cold]
#[inline(never)]
fn unaligned(offset: usize) -> ! {
    panic!("unaligned atomic access at {offset}")
}
