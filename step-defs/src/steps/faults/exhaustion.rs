//! 11.4: buffer exhaustion under a lowered descriptor limit, and recovery.

use anyhow::{bail, ensure, Result};
use cucumber::{given, then, when};
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
use zerobuffer::{BufferConfig, Error, Reader, Writer};

use crate::drivers::endpoints::{round_trip, DEFAULT_CONFIG};
use crate::drivers::explain::Explain as _;
use crate::drivers::faults::is_resource_exhaustion;
use crate::drivers::os::{check_fds, leftovers, mappings_of, open_fds, paths_with_csharp_lock};
use crate::drivers::roles::test_subject;
use crate::state::faults::Exhaustion;
use crate::world::{ZbWorld, READ_TIMEOUT};

/// Descriptors left free when the limit is lowered: each live reader keeps one (its lock file).
const DESCRIPTOR_BUDGET: u64 = 48;

/// A lowered soft RLIMIT_NOFILE, restored on drop.
struct LoweredFdLimit {
    original: Rlimit,
}

impl LoweredFdLimit {
    fn lower_to(soft: u64) -> Result<Self> {
        let original = getrlimit(Resource::Nofile);
        ensure!(
            original.current.is_none_or(|c| c > soft),
            "the descriptor limit {:?} is already below {soft}",
            original.current
        );
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(soft),
                maximum: original.maximum,
            },
        )
        .context("lowering RLIMIT_NOFILE")?;
        Ok(LoweredFdLimit { original })
    }
}

impl Drop for LoweredFdLimit {
    fn drop(&mut self) {
        let original = Rlimit {
            current: self.original.current,
            maximum: self.original.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, original) {
            tracing::error!(error = %e, "cannot restore RLIMIT_NOFILE");
        }
    }
}

const EXHAUST_CONFIG: BufferConfig = BufferConfig::new(0, 1024);

#[given(regex = r"^create maximum number of buffers system allows$")]
fn create_maximum_buffers(world: &mut ZbWorld) -> Result<()> {
    // The machine-wide limits on shared memory and semaphores are shared with everything else
    // running here; the limit this test exhausts is its own descriptor limit, lowered for the
    // duration of this step to a few dozen above the descriptors already open.
    // New descriptors take the lowest free numbers, so at most the budget (plus any open
    // descriptors numbered above the limit) remains free below it.
    let fds = open_fds()?;
    let limit = fds.len() as u64 + DESCRIPTOR_BUDGET;
    let names: Vec<String> = (0..=limit + 2)
        .map(|i| world.buffer_name(&format!("test-exhaust-{i}")))
        .collect();
    let mut buffers = Vec::new();
    let mut refusals = Vec::new();
    {
        let _lowered = LoweredFdLimit::lower_to(limit)?;
        let mut names = names.into_iter();
        for name in names.by_ref() {
            match Reader::create(&name, EXHAUST_CONFIG) {
                Ok(reader) => buffers.push(reader),
                Err(e) => {
                    refusals.push((name, e));
                    break;
                }
            }
        }
        // Still at the limit: the next creation must be refused as well.
        if let (false, Some(name)) = (refusals.is_empty(), names.next()) {
            match Reader::create(&name, EXHAUST_CONFIG) {
                Ok(reader) => buffers.push(reader),
                Err(e) => refusals.push((name, e)),
            }
        }
    }
    tracing::info!(
        limit,
        created = buffers.len(),
        "buffers created under the lowered descriptor limit"
    );
    let state = test_subject(world)?;
    state.faults.exhaustion = Exhaustion {
        fds_before: fds.len(),
        limit,
        buffers,
        refusals,
        ..Exhaustion::default()
    };
    Ok(())
}

fn exhaustion(world: &mut ZbWorld) -> Result<&mut Exhaustion> {
    let state = test_subject(world)?;
    let ex = &mut state.faults.exhaustion;
    ensure!(ex.limit > 0, "no buffers were created up to the limit");
    Ok(ex)
}

#[when(regex = r"^reach system limit$")]
fn reach_system_limit(world: &mut ZbWorld) -> Result<()> {
    let ex = exhaustion(world)?;
    ensure!(
        !ex.buffers.is_empty(),
        "no buffer could be created at all under a limit of {} descriptors",
        ex.limit
    );
    match ex.refusals.as_slice() {
        [] => bail!(
            "{} buffers were created without reaching the limit of {} descriptors",
            ex.buffers.len(),
            ex.limit
        ),
        [_] => bail!("a creation at the limit succeeded after the first refusal"),
        refusals => {
            for (name, e) in refusals {
                ensure!(
                    is_resource_exhaustion(e),
                    "creating '{name}' failed for another reason than the limit: {e}"
                );
            }
        }
    }
    Ok(())
}

#[then(regex = r"^the test should verify graceful failure when limit reached$")]
fn graceful_failure_at_limit(world: &mut ZbWorld) -> Result<()> {
    let ex = exhaustion(world)?;
    ensure!(!ex.refusals.is_empty(), "no creation was refused");
    for (name, e) in &ex.refusals {
        // A typed error that says what failed, and nothing half-created left behind.
        ensure!(
            matches!(e, Error::Os { .. }) && e.to_string().contains(name.as_str()),
            "the refusal of '{name}' does not name what failed: {e}"
        );
        let left = leftovers(name);
        ensure!(
            left.is_empty(),
            "the refused creation of '{name}' left {left:?}"
        );
    }
    // The buffers created before the limit still work.
    for reader in &ex.buffers {
        let info = zerobuffer::inspect(reader.name())?;
        ensure!(
            info.reader_alive && info.oieb.payload_free_bytes == info.oieb.payload_size,
            "buffer '{}' is damaged: {info:?}",
            reader.name()
        );
    }
    let last = ex.buffers.last().context("no buffers")?;
    let mut writer = Writer::connect(last.name())?;
    writer.write_frame(b"still alive")?;
    let frame = last.read_frame(READ_TIMEOUT)?;
    ensure!(
        frame.data() == b"still alive",
        "the frame came back altered"
    );
    Ok(())
}

#[when(regex = r"^cleanup all buffers$")]
fn cleanup_all_buffers(world: &mut ZbWorld) -> Result<()> {
    let ex = exhaustion(world)?;
    ex.released = ex.buffers.iter().map(|r| r.name().to_owned()).collect();
    ex.buffers.clear();
    ex.fds_after_cleanup = open_fds()?.len();
    Ok(())
}

#[then(regex = r"^the test should verify resources properly released$")]
fn resources_properly_released(world: &mut ZbWorld) -> Result<()> {
    let ex = exhaustion(world)?;
    ensure!(
        ex.buffers.is_empty() && !ex.released.is_empty(),
        "the buffers were not cleaned up"
    );
    let mut paths = Vec::new();
    for name in &ex.released {
        let left = leftovers(name);
        ensure!(left.is_empty(), "'{name}' left {left:?}");
        paths.extend(paths_with_csharp_lock(name));
    }
    let mapped = mappings_of(&paths)?;
    ensure!(mapped.is_empty(), "still mapped: {mapped:?}");
    check_fds(ex.fds_before, ex.fds_after_cleanup)
}

#[then(regex = r"^the system should return to normal state$")]
fn system_returns_to_normal(world: &mut ZbWorld) -> Result<()> {
    let limit = exhaustion(world)?.limit;
    let current = getrlimit(Resource::Nofile).current;
    ensure!(
        current.is_none_or(|c| c > limit),
        "the descriptor limit is still lowered to {current:?}"
    );
    let name = world.buffer_name("test-exhaust-after");
    round_trip(&name, DEFAULT_CONFIG)
}
