//! A buffer's operating-system objects: the real /dev/shm entries (8.1) and the Windows-only
//! checks (8.2), which fail with their reason on this Linux-only library.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, ensure, Result};
use cucumber::{then, when};
use zerobuffer::layout::OIEB_SIGNATURE;
use zerobuffer::Reader;

use crate::drivers::explain::Explain as _;
use crate::drivers::os::{leftovers, object_paths};
use crate::world::ZbWorld;

/// Size of a glibc `sem_t`, the content of a `/dev/shm/sem.*` file on 64-bit Linux.
const SEM_T_SIZE: u64 = 32;

fn current_buffer(world: &mut ZbWorld) -> Result<(String, Arc<Reader>)> {
    let state = world.current()?;
    let reader = state.reader()?;
    Ok((state.buffer()?.to_owned(), reader))
}

#[then(regex = r"^verify shared memory entry exists in '([^']*)'$")]
fn shared_memory_entry_exists(world: &mut ZbWorld, dir: String) -> Result<()> {
    let (name, reader) = current_buffer(world)?;
    let path = Path::new(&dir).join(&name);
    let meta = fs::metadata(&path).with_context(|| format!("{} does not exist", path.display()))?;
    ensure!(meta.is_file(), "{} is not a regular file", path.display());
    let expected = reader.config().total_size();
    ensure!(
        meta.len() == expected,
        "{} has {} bytes, expected 128 + metadata + payload = {expected}",
        path.display(),
        meta.len()
    );
    let mut first = [0u8; 8];
    std::io::Read::read_exact(&mut File::open(&path)?, &mut first)?;
    ensure!(
        u64::from_le_bytes(first) == OIEB_SIGNATURE,
        "{} does not start with a v1 OIEB",
        path.display()
    );
    Ok(())
}

#[then(regex = r"^verify proper named semaphores created$")]
fn named_semaphores_created(world: &mut ZbWorld) -> Result<()> {
    let (name, reader) = current_buffer(world)?;
    for role in ["w", "r"] {
        let path = PathBuf::from(format!("/dev/shm/sem.sem-{role}-{name}"));
        let meta =
            fs::metadata(&path).with_context(|| format!("{} does not exist", path.display()))?;
        ensure!(
            meta.is_file() && meta.len() == SEM_T_SIZE,
            "{} is not a {SEM_T_SIZE}-byte glibc semaphore ({} bytes)",
            path.display(),
            meta.len()
        );
    }
    // A fresh buffer: no frame signalled, no space signalled.
    let (data, space) = (reader.pending_frames()?, reader.space_signals()?);
    ensure!(
        data == 0 && space == 0,
        "fresh semaphores hold tokens: sem-w {data}, sem-r {space}"
    );
    Ok(())
}

#[when(regex = r"^gracefully shutdown$")]
fn gracefully_shutdown(world: &mut ZbWorld) -> Result<()> {
    let state = world.current()?;
    let name = state.buffer()?.to_owned();
    if let Some(writer) = state.writer.take() {
        writer.lock().take();
    }
    let reader = state
        .reader
        .take()
        .context("the process has no reader to shut down")?;
    // Dropping the last handle runs the reader's close; a handle kept elsewhere would not.
    drop(
        Arc::try_unwrap(reader)
            .map_err(|_| anyhow!("the reader is still in use by background work"))?,
    );
    state.lifecycle.shutdown.buffer = Some(name);
    Ok(())
}

#[then(regex = r"^verify proper cleanup in '([^']*)'$")]
fn proper_cleanup(world: &mut ZbWorld, dir: String) -> Result<()> {
    let name = world
        .current()?
        .lifecycle
        .shutdown
        .buffer
        .clone()
        .context("no buffer was shut down")?;
    let dir = Path::new(&dir);
    ensure!(dir.is_dir(), "{} is not a directory", dir.display());
    // The segment and both semaphores live in DIR, so what is left of the buffer there (and
    // of its lock files) is what `leftovers` finds.
    let real_dir = fs::canonicalize(dir)?;
    for object in &object_paths(&name)[..3] {
        let home = object.parent().map(fs::canonicalize).transpose()?;
        ensure!(
            home.as_ref() == Some(&real_dir),
            "{} is not in {}",
            object.display(),
            dir.display()
        );
    }
    let left = leftovers(&name);
    ensure!(left.is_empty(), "left after shutdown: {}", left.join(", "));
    Ok(())
}

/// These steps need the Windows object manager; this library (and host) is Linux only.
fn windows_only(what: &str) -> Result<()> {
    bail!(
        "{what} needs the Windows object manager; this ZeroBuffer implementation supports Linux \
         only and this host runs {}",
        std::env::consts::OS
    )
}

#[then(regex = r"^verify CreateFileMapping with proper naming$")]
fn create_file_mapping(_world: &mut ZbWorld) -> Result<()> {
    windows_only("CreateFileMapping")
}

#[then(regex = r"^test Global vs Local namespace for different contexts$")]
fn global_vs_local(_world: &mut ZbWorld) -> Result<()> {
    windows_only("the Global\\ and Local\\ object namespaces")
}

#[then(regex = r"^verify semaphore limits and max count$")]
fn semaphore_limits(_world: &mut ZbWorld) -> Result<()> {
    windows_only("the maximum count of a Windows semaphore")
}

#[when(regex = r"^test across different user sessions$")]
fn across_user_sessions(_world: &mut ZbWorld) -> Result<()> {
    windows_only("a second Windows user session")
}

#[then(regex = r"^verify proper isolation or sharing as expected$")]
fn isolation_or_sharing(_world: &mut ZbWorld) -> Result<()> {
    windows_only("session isolation of named objects")
}
