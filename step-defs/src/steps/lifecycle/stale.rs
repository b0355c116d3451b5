//! Stale resources: a lock, segment and semaphores left by a dead reader are detected and
//! cleaned up, and a new buffer is created over them (8.4).

#![allow(
    unsafe_code,
    reason = "writes the OIEB of a stale segment left by a dead reader (8.4)"
)]

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Result};
use cucumber::{given, then, when};
use zerobuffer::layout::{oieb as off, OIEB_SIGNATURE};
use zerobuffer::{BufferConfig, NamedSemaphore, Reader, Writer};
use zerobuffer_test_support::RawBuffer;

use crate::drivers::endpoints::DEFAULT_CONFIG;
use crate::drivers::explain::Explain as _;
use crate::drivers::os::{leftovers, object_paths};
use crate::drivers::roles::{broadcast_subject, kept_part};
use crate::state::lifecycle::Stale;
use crate::world::{ProcessState, ZbWorld};

/// Marker written into the stale lock file: a reader never writes its lock file, so finding it
/// later means the stale file was reused instead of replaced.
const STALE_LOCK_TEXT: &[u8] = b"stale lock of a dead reader\n";

/// The orphaned segment's configuration, unlike the default the new reader uses.
const ORPHAN_CONFIG: BufferConfig = BufferConfig::new(64, 4096);

/// Tokens left in the orphaned semaphores: a reused sem-w would announce phantom frames.
const ORPHAN_TOKENS: u32 = 3;

fn stale_for<'w>(world: &'w mut ZbWorld, base: &str) -> Result<&'w mut Stale> {
    let name = world.buffer_name(base);
    let stale = &mut broadcast_subject(world).lifecycle.stale;
    match &stale.name {
        Some(n) if *n != name => bail!("stale objects were prepared for '{n}', not '{name}'"),
        Some(_) => {}
        None => stale.name = Some(name),
    }
    Ok(stale)
}

#[given(regex = r"^manually create stale lock file for '([^']*)'$")]
fn create_stale_lock(world: &mut ZbWorld, buffer: String) -> Result<()> {
    let stale = stale_for(world, &buffer)?;
    let path = object_paths(stale.name.as_deref().expect("set"))[3].clone();
    fs::create_dir_all(zerobuffer::LOCK_DIR)?;
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(STALE_LOCK_TEXT)?;
    file.try_lock()
        .map_err(|e| anyhow!("locking {}: {e}", path.display()))?;
    stale.guard = Some(file);
    Ok(())
}

#[given(regex = r"^create orphaned shared memory for '([^']*)'$")]
fn create_orphaned_segment(world: &mut ZbWorld, buffer: String) -> Result<()> {
    let stale = stale_for(world, &buffer)?;
    let name = stale.name.clone().expect("set");
    let fd = rustix::shm::open(
        format!("/{name}").as_str(),
        rustix::shm::OFlags::CREATE | rustix::shm::OFlags::EXCL | rustix::shm::OFlags::RDWR,
        rustix::fs::Mode::from_raw_mode(0o666),
    )
    .with_context(|| format!("creating the segment /dev/shm/{name}"))?;
    File::from(fd).set_len(ORPHAN_CONFIG.total_size())?;
    // The OIEB of a buffer whose reader died with two unread frames.
    let dead = zerobuffer_test_support::dead_pid()?;
    let raw = RawBuffer::open(&name)?;
    let (m, p) = (
        ORPHAN_CONFIG.metadata_block(),
        ORPHAN_CONFIG.payload_block(),
    );
    for (offset, value) in [
        (off::OIEB_SIZE, OIEB_SIGNATURE),
        (off::METADATA_SIZE, m),
        (off::METADATA_FREE_BYTES, m),
        (off::PAYLOAD_SIZE, p),
        (off::PAYLOAD_FREE_BYTES, p - 200),
        (off::PAYLOAD_WRITE_POS, 200),
        (off::PAYLOAD_WRITTEN_COUNT, 2),
        (off::READER_PID, dead),
    ] {
        // SAFETY: OIEB words of a segment this process has no endpoint on.
        unsafe { raw.write_u64(offset, value) };
    }
    stale.dead_pid = dead;
    Ok(())
}

#[given(regex = r"^create orphaned semaphores for '([^']*)'$")]
fn create_orphaned_semaphores(world: &mut ZbWorld, buffer: String) -> Result<()> {
    let stale = stale_for(world, &buffer)?;
    let name = stale.name.clone().expect("set");
    for role in ["w", "r"] {
        let sem = format!("/sem-{role}-{name}");
        let handle = NamedSemaphore::create(&sem).with_context(|| format!("creating {sem}"))?;
        for _ in 0..ORPHAN_TOKENS {
            handle.post()?;
        }
        // Closed, not unlinked: left behind as by a reader that died.
    }
    Ok(())
}

#[when(regex = r"^the '([^']*)' process attempts to create buffer '([^']*)'$")]
fn attempts_to_create(world: &mut ZbWorld, process: String, buffer: String) -> Result<()> {
    let name = world.buffer_name(&buffer);
    let prepared = kept_part(
        world,
        &process,
        |s| &mut s.lifecycle.stale,
        |s| s.name.is_some(),
    )
    .ok()
    .filter(|s| s.name.as_deref() == Some(name.as_str()));
    if let Some(stale) = prepared {
        // From here on the lock file is as a dead reader leaves it: present, unlocked.
        stale.guard = None;
        stale.present_before = leftovers(&name);
    }
    let state = world.process(&process);
    match Reader::create(&name, DEFAULT_CONFIG) {
        Ok(reader) => {
            state.reader = Some(Arc::new(reader));
            state.buffer = Some(name);
            state.last_error = None;
        }
        Err(e) => state.last_error = Some(e),
    }
    Ok(())
}

/// The reader the creation produced and the stale setup it met.
fn created_over_stale(world: &mut ZbWorld) -> Result<(Arc<Reader>, String, Vec<String>, u64)> {
    let process = world.current()?.name.clone();
    let (name, present, dead) = {
        let stale = kept_part(
            world,
            &process,
            |s| &mut s.lifecycle.stale,
            |s| s.name.is_some(),
        )?;
        (
            stale.name.clone().expect("checked"),
            stale.present_before.clone(),
            stale.dead_pid,
        )
    };
    let state: &mut ProcessState = world.current()?;
    if let Some(e) = &state.last_error {
        bail!("the creation failed: {e}");
    }
    let reader = state.reader()?;
    ensure!(
        reader.name() == name,
        "the reader is for '{}', not '{name}'",
        reader.name()
    );
    Ok((reader, name, present, dead))
}

#[then(regex = r"^the stale resources should be detected$")]
fn stale_resources_detected(world: &mut ZbWorld) -> Result<()> {
    let (reader, name, present, dead) = created_over_stale(world)?;
    let all: Vec<String> = object_paths(&name)
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let missing: Vec<&String> = all.iter().filter(|p| !present.contains(p)).collect();
    ensure!(
        missing.is_empty(),
        "stale objects were gone before the creation (another process's stale scan?): {missing:?}"
    );
    ensure!(
        dead != 0 && !zerobuffer::is_process_alive(dead),
        "the orphan's reader PID {dead} is not a dead process"
    );
    // Recognised as stale: the creation went ahead and the buffer now names this process.
    let owner = reader.oieb_snapshot().reader_pid;
    ensure!(
        owner == zerobuffer::current_pid(),
        "the buffer names reader {owner}, not this process"
    );
    Ok(())
}

#[then(regex = r"^the old resources should be cleaned up$")]
fn old_resources_cleaned_up(world: &mut ZbWorld) -> Result<()> {
    let (reader, name, _, dead) = created_over_stale(world)?;
    let segment = &object_paths(&name)[0];
    let size = fs::metadata(segment)?.len();
    ensure!(
        size == DEFAULT_CONFIG.total_size(),
        "the segment has {size} bytes: still the orphan's"
    );
    let oieb = reader.oieb_snapshot();
    ensure!(
        oieb.payload_size == DEFAULT_CONFIG.payload_block()
            && oieb.payload_written_count == 0
            && oieb.payload_write_pos == 0
            && oieb.payload_free_bytes == oieb.payload_size
            && oieb.reader_pid != dead,
        "the control block still carries the orphan's state: {oieb:?}"
    );
    let (data, space) = (reader.pending_frames()?, reader.space_signals()?);
    ensure!(
        data == 0 && space == 0,
        "the orphaned semaphores' tokens survived: sem-w {data}, sem-r {space}"
    );
    let lock = &object_paths(&name)[3];
    let content = fs::read(lock).with_context(|| format!("reading {}", lock.display()))?;
    ensure!(
        content.is_empty(),
        "{} is the stale lock file, reused instead of replaced",
        lock.display()
    );
    Ok(())
}

#[then(regex = r"^the new buffer should be created successfully$")]
fn new_buffer_created(world: &mut ZbWorld) -> Result<()> {
    let (reader, name, _, _) = created_over_stale(world)?;
    let lock = &object_paths(&name)[3];
    match File::open(lock)?.try_lock() {
        Err(TryLockError::WouldBlock) => {}
        Ok(()) => bail!("{} is not held by the new reader", lock.display()),
        Err(TryLockError::Error(e)) => return Err(e).context("probing the lock"),
    }
    let mut writer = Writer::connect(&name).context("connecting a writer to the new buffer")?;
    let data = b"fresh buffer";
    let sequence = writer.write_frame(data)?;
    let frame = reader.read_frame(Duration::from_secs(5))?;
    ensure!(
        frame.sequence() == sequence && *frame == data[..],
        "read frame {} ({} bytes), expected frame {sequence} with the written bytes",
        frame.sequence(),
        frame.len()
    );
    Ok(())
}
