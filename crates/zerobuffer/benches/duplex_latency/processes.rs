//! The client's view of the resources it starts: they clean up after themselves.

use std::env;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use zerobuffer::duplex::request_buffer_name;
use zerobuffer::{NamedSemaphore, WaitStrategy};

use crate::{child, cores};
use crate::{BoxResult, CHANNEL_ENV, PING_ENV, PONG_ENV, ROLE_ENV, SLICE, TIMEOUT, WAIT_ENV};

/// The ping/pong semaphores; their names are unlinked once the server holds them, or on drop.
pub struct Semaphores {
    pub ping: NamedSemaphore,
    pub pong: NamedSemaphore,
    names: Option<[String; 2]>,
}

impl Semaphores {
    pub fn create(ping_name: &str, pong_name: &str) -> BoxResult<Semaphores> {
        let ping = NamedSemaphore::create(ping_name)?;
        let pong = NamedSemaphore::create(pong_name).inspect_err(|_| {
            let _ = NamedSemaphore::unlink(ping_name);
        })?;
        Ok(Semaphores {
            ping,
            pong,
            names: Some([ping_name.to_owned(), pong_name.to_owned()]),
        })
    }

    /// Removes the names; the open handles stay usable.
    pub fn unlink(&mut self) {
        for name in self.names.take().into_iter().flatten() {
            let _ = NamedSemaphore::unlink(&name);
        }
    }
}

impl Drop for Semaphores {
    fn drop(&mut self) {
        self.unlink();
    }
}

/// The re-executed server; on drop its stdin is closed, and it is killed if it does not exit.
pub struct ServerProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    channel: String,
}

impl ServerProcess {
    /// Starts the server of `channel`, waiting for requests with `wait`.
    pub fn spawn(
        channel: &str,
        ping: &str,
        pong: &str,
        wait: WaitStrategy,
    ) -> BoxResult<ServerProcess> {
        let mut child = cores::place_child(&mut Command::new(env::current_exe()?))
            .env(ROLE_ENV, "server")
            .env(WAIT_ENV, wait.to_string())
            .env(CHANNEL_ENV, channel)
            .env(PING_ENV, ping)
            .env(PONG_ENV, pong)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = child.stdin.take();
        Ok(ServerProcess {
            child,
            stdin,
            channel: channel.to_owned(),
        })
    }

    /// Waits for the server's first `pong` (posted once it is set up).
    pub fn wait_ready(&mut self, pong: &NamedSemaphore) -> BoxResult<()> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if pong.wait(SLICE)? {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                return Err(format!("the server process exited during setup ({status})").into());
            }
            if Instant::now() >= deadline {
                return Err(format!("the server process was not ready within {TIMEOUT:?}").into());
            }
        }
    }

    /// Closes stdin and waits (bounded) for a clean exit.
    pub fn finish(mut self) -> BoxResult<()> {
        child::finish(&mut self.child, &mut self.stdin, "server", TIMEOUT)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        child::end(&mut self.child, &mut self.stdin, Duration::from_secs(2));
        // A server that was killed (by us or anyone) could not remove its request buffer;
        // after a clean exit there is nothing left and this finds nothing.
        let _ = zerobuffer::clean_stale(&request_buffer_name(&self.channel));
    }
}
