//! Named POSIX semaphores (glibc `sem_open` family), shared with the C++/C#/Python peers.

#![allow(
    unsafe_code,
    reason = "the FFI to glibc's sem_open family and the sem_t pointer it returns"
)]

use std::ffi::CString;
use std::io;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// An open named semaphore; closed (not unlinked) on drop. A buffer's two are
/// `/sem-w-NAME` and `/sem-r-NAME` (protocol.md §0, §4); tools use this type to prepare, probe
/// or benchmark a buffer's signalling without attaching as reader or writer.
pub struct NamedSemaphore {
    sem: *mut libc::sem_t,
}

// SAFETY: a POSIX semaphore handle may be used from any thread; all operations on it are
// thread-safe by specification.
unsafe impl Send for NamedSemaphore {}
// SAFETY: as above; `&NamedSemaphore` only exposes thread-safe operations.
unsafe impl Sync for NamedSemaphore {}

fn c_name(name: &str) -> io::Result<CString> {
    CString::new(name).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in name"))
}

impl NamedSemaphore {
    /// Creates the semaphore with value 0. A leftover of the same name (e.g. from a Python
    /// reader, which never unlinks) is unlinked and the creation retried once.
    pub fn create(name: &str) -> io::Result<Self> {
        let cname = c_name(name)?;
        let mut retried = false;
        loop {
            // SAFETY: valid NUL-terminated name; the variadic mode and value have the types
            // sem_open reads with O_CREAT (mode_t promoted to unsigned int, unsigned int).
            let sem = unsafe {
                libc::sem_open(
                    cname.as_ptr(),
                    libc::O_CREAT | libc::O_EXCL,
                    0o666 as libc::c_uint,
                    0 as libc::c_uint,
                )
            };
            if sem != libc::SEM_FAILED {
                return Ok(NamedSemaphore { sem });
            }
            let err = io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EEXIST) && !retried {
                retried = true;
                let _ = Self::unlink(name);
                continue;
            }
            return Err(err);
        }
    }

    /// Opens an existing semaphore.
    pub fn open(name: &str) -> io::Result<Self> {
        let cname = c_name(name)?;
        // SAFETY: valid NUL-terminated name; without O_CREAT no variadic arguments are read.
        let sem = unsafe { libc::sem_open(cname.as_ptr(), 0) };
        if sem == libc::SEM_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(NamedSemaphore { sem })
    }

    /// Removes the name; open handles stay usable.
    pub fn unlink(name: &str) -> io::Result<()> {
        let cname = c_name(name)?;
        // SAFETY: valid NUL-terminated name.
        if unsafe { libc::sem_unlink(cname.as_ptr()) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Adds one token (`sem_post`), waking one waiter if there is any.
    #[inline]
    pub fn post(&self) -> io::Result<()> {
        // SAFETY: `self.sem` is an open semaphore until drop.
        if unsafe { libc::sem_post(self.sem) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Takes one token if available without waiting.
    #[inline]
    pub fn try_wait(&self) -> io::Result<bool> {
        loop {
            // SAFETY: `self.sem` is an open semaphore until drop.
            if unsafe { libc::sem_trywait(self.sem) } == 0 {
                return Ok(true);
            }
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EAGAIN) => return Ok(false),
                Some(libc::EINTR) => continue,
                _ => return Err(err),
            }
        }
    }

    /// Waits up to `timeout` for a token; `Ok(false)` on timeout. Retries on EINTR.
    #[inline]
    pub fn wait(&self, timeout: Duration) -> io::Result<bool> {
        // A token already there is taken without reading the clock: on a busy ring that is
        // most waits, and the deadline below costs more than the take.
        if self.try_wait()? {
            return Ok(true);
        }
        self.wait_for_token(timeout)
    }

    /// [`wait`](Self::wait) once no token was there: sleeps in `sem_timedwait` until one
    /// comes or `timeout` passes (kept out of line, away from the inlined take).
    fn wait_for_token(&self, timeout: Duration) -> io::Result<bool> {
        if timeout.is_zero() {
            return Ok(false);
        }
        // sem_timedwait takes an absolute CLOCK_REALTIME deadline, like the peers use.
        let deadline = SystemTime::now() + timeout;
        let since_epoch = deadline.duration_since(UNIX_EPOCH).unwrap_or_default();
        let ts = libc::timespec {
            tv_sec: since_epoch.as_secs() as libc::time_t,
            tv_nsec: since_epoch.subsec_nanos() as libc::c_long,
        };
        loop {
            // SAFETY: `self.sem` is open; `ts` is a valid timespec for the call's duration.
            if unsafe { libc::sem_timedwait(self.sem, &ts) } == 0 {
                return Ok(true);
            }
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::ETIMEDOUT) => return Ok(false),
                Some(libc::EINTR) => continue,
                _ => return Err(err),
            }
        }
    }

    /// The current value as a token count, for the crate's typed errors; `what` names the
    /// semaphore in the error.
    pub(crate) fn tokens(&self, what: &str) -> crate::Result<u64> {
        let value = self
            .value()
            .map_err(|e| crate::Error::os(format!("sem_getvalue({what})"), e))?;
        Ok(value.max(0) as u64)
    }

    /// The current value (number of tokens available).
    pub fn value(&self) -> io::Result<i32> {
        let mut value: libc::c_int = 0;
        // SAFETY: `self.sem` is open; `value` is a valid out pointer.
        if unsafe { libc::sem_getvalue(self.sem, &mut value) } == 0 {
            Ok(value)
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

impl Drop for NamedSemaphore {
    fn drop(&mut self) {
        // SAFETY: `self.sem` came from a successful sem_open and is closed exactly once.
        unsafe {
            libc::sem_close(self.sem);
        }
    }
}
