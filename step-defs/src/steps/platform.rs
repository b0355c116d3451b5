//! Group J of steps.md (feature 08, platform specific): the real /dev/shm objects of a buffer,
//! names with special characters and at the length limit, the Windows-only checks (which
//! fail with their reason on this Linux-only library), and stale-resource cleanup.
//! P170 (`the platform is ...`) is bound in basic.rs.

#![allow(
    unsafe_code,
    reason = "writes the OIEB of a stale segment left by a dead reader (2.4)"
)]

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Result};
use cucumber::{given, then, when};
use zerobuffer::layout::{oieb as off, OIEB_SIGNATURE};
use zerobuffer::{BufferConfig, NamedSemaphore, Reader, Writer, MAX_NAME_LEN};
use zerobuffer_test_support::RawBuffer;

use crate::drivers::endpoints::{name_round_trip, refused_as_invalid, DEFAULT_CONFIG};
use crate::drivers::explain::Explain as _;
use crate::drivers::os::{leftovers, missing_objects, object_paths};
use crate::drivers::roles::{broadcast_subject, kept_part};
use crate::state::buffers::LengthTest;
use crate::state::lifecycle::Stale;
use crate::world::{ProcessState, ZbWorld};

/// Size of a glibc `sem_t`, the content of a `/dev/shm/sem.*` file on 64-bit Linux.
const SEM_T_SIZE: u64 = 32;

// ---- 8.1 Linux shared memory verification ----------------------------------------------------

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

/// Names that are valid file names but hostile to naive code (spaces, quotes, shell and regex
/// metacharacters, a backslash, non-ASCII, leading dash and dot).
const SPECIAL_NAMES: [&str; 9] = [
    "with space",
    "quote'double\"",
    "shell;|&$(x)`y`*?",
    "regex.^+[]{}()\\",
    "unicode-ümlaut-日本",
    "-leading-dash",
    ".leading-dot",
    "percent%s%n",
    "tab\tand\nnewline",
];

#[then(regex = r"^test with buffer names containing special characters$")]
fn special_character_names(world: &mut ZbWorld) -> Result<()> {
    let mut problems = Vec::new();
    for base in SPECIAL_NAMES {
        let name = world.buffer_name(base);
        if let Err(e) = name_round_trip(&name) {
            problems.push(format!("{name:?}: {e}"));
        }
    }
    // What can never be a file name is refused before any OS call.
    let valid = world.buffer_name("slash-test");
    for bad in [
        String::new(),
        ".".into(),
        "..".into(),
        format!("a/{valid}"),
        format!("{valid}\0nul"),
    ] {
        if let Err(e) = refused_as_invalid(&bad) {
            problems.push(format!("{bad:?}: {e}"));
        }
    }
    ensure!(problems.is_empty(), "{}", problems.join("; "));
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

// ---- 8.2 Windows named objects (Windows only) ------------------------------------------------

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

// ---- 8.3 Cross-platform name compatibility ---------------------------------------------------

/// Characters every implementation and both OSes accept in object names.
fn portable(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-'
}

/// The feature-file part of a mangled name: `base_<pid>_<n>` → `base`.
fn base_of(name: &str) -> &str {
    let mut parts = name.rsplitn(3, '_');
    let (Some(b), Some(a), Some(base)) = (parts.next(), parts.next(), parts.next()) else {
        return name;
    };
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if numeric(a) && numeric(b) {
        base
    } else {
        name
    }
}

/// Windows kernel object names: anything but a backslash (the namespace separator), at most
/// MAX_PATH (260) characters including the `Global\` or `Local\` prefix.
fn valid_windows_object(name: &str) -> bool {
    !name.contains('\\') && format!("Global\\{name}").chars().count() <= 260
}

#[then(regex = r"^verify name contains only alphanumeric and dash$")]
fn name_alphanumeric_and_dash(world: &mut ZbWorld) -> Result<()> {
    let name = world.current()?.buffer()?.to_owned();
    let base = base_of(&name);
    let bad: String = base.chars().filter(|&c| !portable(c)).collect();
    ensure!(
        bad.is_empty(),
        "the buffer name '{base}' contains {bad:?} besides letters, digits and '-'"
    );
    // The run suffix (steps.md §0.3) adds only '_' and digits.
    let suffix = &name[base.len()..];
    ensure!(
        suffix.chars().all(|c| c == '_' || c.is_ascii_digit()),
        "the run suffix '{suffix}' is not '_' and digits"
    );
    Ok(())
}

#[then(regex = r"^same name rules work on both platforms$")]
fn same_rules_on_both(world: &mut ZbWorld) -> Result<()> {
    // Only Linux is at hand: every object name of this buffer must be valid under the Linux
    // rules (checked by creating them) and under the Windows rules (checked by rule).
    let name = world.current()?.buffer()?.to_owned();
    zerobuffer::validate_name(&name)?;
    let missing = missing_objects(&name);
    ensure!(
        missing.is_empty(),
        "missing on Linux: {}",
        missing.join(", ")
    );
    for object in [
        name.clone(),
        format!("sem-w-{name}"),
        format!("sem-r-{name}"),
    ] {
        ensure!(
            valid_windows_object(&object),
            "'{object}' is not a valid Windows object name"
        );
    }
    Ok(())
}

#[when(regex = r"^test maximum name length$")]
fn test_maximum_name_length(world: &mut ZbWorld) -> Result<()> {
    // Names get the run suffix: pad the base so the full name is exactly the limit.
    let suffix = world.buffer_name("n").len() - 1;
    let longest = world.buffer_name(&"n".repeat(MAX_NAME_LEN - suffix));
    let too_long = world.buffer_name(&"o".repeat(MAX_NAME_LEN + 1 - suffix));
    let outcome = LengthTest {
        longest: Some((longest.len(), name_round_trip(&longest))),
        too_long: Some((too_long.len(), refused_as_invalid(&too_long))),
    };
    world.current()?.buffers.length_test = outcome;
    Ok(())
}

#[then(regex = r"^both platforms should handle it correctly$")]
fn both_platforms_handle_it(world: &mut ZbWorld) -> Result<()> {
    let test = &mut world.current()?.buffers.length_test;
    let (Some((long_len, longest)), Some((over_len, too_long))) =
        (test.longest.take(), test.too_long.take())
    else {
        bail!("'test maximum name length' did not run");
    };
    ensure!(
        long_len == MAX_NAME_LEN && over_len == MAX_NAME_LEN + 1,
        "tested lengths {long_len} and {over_len}"
    );
    longest.with_context(|| format!("a {long_len}-byte name (the limit) failed"))?;
    too_long.with_context(|| format!("a {over_len}-byte name was not refused"))?;
    // Linux: `sem.sem-w-` + 245 bytes is the 255-byte file-name limit. Windows: the same
    // names with their namespace prefix stay within MAX_PATH.
    let longest_sem = format!("sem-w-{}", "n".repeat(MAX_NAME_LEN));
    ensure!(
        format!("sem.{longest_sem}").len() == 255,
        "the longest semaphore file name is not 255 bytes"
    );
    ensure!(
        valid_windows_object(&longest_sem),
        "the longest semaphore name exceeds the Windows limit"
    );
    Ok(())
}

// ---- 8.4 Stale resource cleanup --------------------------------------------------------------

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
