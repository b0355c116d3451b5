//! Ending an endpoint without its goodbye.

use crate::error::Result;

/// Ends an endpoint as if its process had been killed at this instant: the process-local
/// handles close (the mapping, the semaphore handles, the lock file's descriptor, whose flock
/// the kernel then releases), but nothing the endpoint published changes. Its PID stays in
/// the OIEB, its objects stay in `/dev/shm` and the lock directory, and no semaphore is
/// posted, so the peer finds what a crash leaves behind: its liveness checks decide, and a
/// later stale cleanup removes the objects.
///
/// Use it to hand a buffer over without closing it (before `exec`, in a child after
/// `fork`), or to exercise a peer's crash handling without killing a process.
pub trait Abandon {
    /// Ends the endpoint without its graceful close. Fails only where the endpoint runs a
    /// thread of its own that does not end in time ([`crate::DuplexServer`]).
    fn abandon(self) -> Result<()>;
}
