//! Harness and background steps: the test environment, the platform, waiting.

use std::thread;

use anyhow::{bail, ensure, Result};
use cucumber::{given, then};

use crate::captures::Seconds;
use crate::drivers::explain::Explain as _;
use crate::world::ZbWorld;

#[given(regex = r"^the test environment is initialized$")]
fn environment_initialized(world: &mut ZbWorld) -> Result<()> {
    // Start from a clean slate: nothing of an earlier scenario survives in this process.
    world.finish()
}

#[given(regex = r"^all processes are ready$")]
fn all_processes_ready(_world: &mut ZbWorld) -> Result<()> {
    environment_usable()
}

#[given(regex = r"^we run in harmony$")]
fn we_run_in_harmony(_world: &mut ZbWorld) -> Result<()> {
    // Under an orchestrator both variables name the run; locally neither is set and the
    // scenario's processes share this process (crashes are simulated, see `ZbWorld::crash`).
    let pid = std::env::var("HARMONY_HOST_PID").ok();
    let feature = std::env::var("HARMONY_FEATURE_ID").ok();
    match (pid, feature) {
        (Some(p), Some(f)) => {
            ensure!(
                p.parse::<u64>().is_ok(),
                "HARMONY_HOST_PID '{p}' is not a number"
            );
            ensure!(!f.is_empty(), "HARMONY_FEATURE_ID is empty");
        }
        (None, None) => {}
        _ => bail!("only one of HARMONY_HOST_PID and HARMONY_FEATURE_ID is set"),
    }
    environment_usable()
}

#[given(regex = r"^stress test environment is prepared$")]
#[given(regex = r"^benchmark environment is prepared$")]
#[given(regex = r"^the system is ready$")]
fn environment_prepared(_world: &mut ZbWorld) -> Result<()> {
    crate::drivers::scale::factor()?;
    environment_usable()
}

#[given(regex = r"^the platform is '([^']*)'$")]
fn platform_is(_world: &mut ZbWorld, platform: String) -> Result<()> {
    ensure!(
        platform.eq_ignore_ascii_case(std::env::consts::OS),
        "this scenario needs platform '{platform}', this is '{}'",
        std::env::consts::OS
    );
    Ok(())
}

/// Shared memory and the lock directory are usable by this process.
fn environment_usable() -> Result<()> {
    let probe = format!("/dev/shm/.zerobuffer-ready-{}", std::process::id());
    std::fs::write(&probe, b"").context("/dev/shm is not writable")?;
    std::fs::remove_file(&probe).context("cannot remove the /dev/shm probe")?;
    std::fs::create_dir_all(zerobuffer::LOCK_DIR)
        .with_context(|| format!("cannot create {}", zerobuffer::LOCK_DIR))?;
    Ok(())
}

#[then(regex = r"^wait for '(.*)' seconds$")]
fn wait_seconds(_world: &mut ZbWorld, seconds: Seconds) -> Result<()> {
    thread::sleep(seconds.0);
    Ok(())
}
