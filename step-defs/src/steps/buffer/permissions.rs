//! Permissions between OS users (10.6): a buffer created with restrictive permissions refuses
//! a writer of another user with a permission error.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;

use anyhow::{bail, ensure, Result};
use cucumber::{given, then, when};
use zerobuffer::{Error, Writer};

use crate::drivers::endpoints::{create_buffer, DEFAULT_CONFIG};
use crate::drivers::explain::Explain as _;
use crate::drivers::os::object_paths;
use crate::world::ZbWorld;

/// The name of the user this process runs as (effective UID, from /etc/passwd).
fn effective_user() -> Result<(u32, String)> {
    let uid = rustix::process::geteuid().as_raw();
    let passwd = fs::read_to_string("/etc/passwd").context("reading /etc/passwd")?;
    let name = passwd
        .lines()
        .find_map(|l| {
            let mut f = l.split(':');
            let (name, _, id) = (f.next()?, f.next()?, f.next()?);
            (id.parse::<u32>().ok()? == uid).then(|| name.to_owned())
        })
        .unwrap_or_else(|| format!("#{uid}"));
    Ok((uid, name))
}

/// Passes only if this process already runs as `user`: switching users would need privileges
/// and would change every thread of the process.
fn runs_as(user: &str) -> Result<()> {
    let (uid, name) = effective_user()?;
    ensure!(
        name == user,
        "this process must run as OS user '{user}', it runs as '{name}' (uid {uid}) and \
         cannot switch users"
    );
    Ok(())
}

#[given(regex = r"^the reader is '([^']*)'$")]
fn the_reader_is(world: &mut ZbWorld, user: String) -> Result<()> {
    world.process("reader");
    runs_as(&user)
}

/// Owner-only access for every object of the buffer.
const RESTRICTIVE_MODE: u32 = 0o600;

#[given(regex = r"^the '([^']*)' process creates buffer '([^']*)' with restrictive permissions$")]
fn creates_restrictive_buffer(world: &mut ZbWorld, process: String, buffer: String) -> Result<()> {
    create_buffer(world, &process, &buffer, DEFAULT_CONFIG)?;
    let name = world.process(&process).buffer()?.to_owned();
    // The library creates with 0666 less the umask; tighten every object right away.
    for path in object_paths(&name) {
        fs::set_permissions(&path, fs::Permissions::from_mode(RESTRICTIVE_MODE))
            .with_context(|| format!("chmod {}", path.display()))?;
        let mode = fs::metadata(&path)?.permissions().mode() & 0o777;
        ensure!(
            mode == RESTRICTIVE_MODE,
            "{} has mode {mode:o}",
            path.display()
        );
    }
    Ok(())
}

#[when(regex = r"^the writer is '([^']*)'$")]
fn the_writer_is(world: &mut ZbWorld, user: String) -> Result<()> {
    world.process("writer");
    runs_as(&user)
}

#[when(regex = r"^another writer attempts to connect without permissions$")]
fn connects_without_permissions(world: &mut ZbWorld) -> Result<()> {
    let own = world.current()?.buffer.clone();
    // The text names no buffer: this process's, else the one buffer of the scenario (local run).
    let name = match own {
        Some(name) => name,
        None => {
            let mut buffers: Vec<String> = world
                .processes()
                .filter_map(|p| p.reader.as_ref().map(|r| r.name().to_owned()))
                .collect();
            buffers.dedup();
            match buffers.as_slice() {
                [one] => one.clone(),
                _ => bail!("the step names no buffer and this process knows none"),
            }
        }
    };
    let state = world.current()?;
    match Writer::connect(&name) {
        Err(e) => state.last_error = Some(e),
        Ok(writer) => {
            drop(writer);
            let (uid, user) = effective_user()?;
            bail!(
                "the writer connected to '{name}': this process (user '{user}', uid {uid}) \
                 has access to the owner-only objects"
            );
        }
    }
    Ok(())
}

#[then(regex = r"^permission denied error should be handled$")]
fn permission_denied_handled(world: &mut ZbWorld) -> Result<()> {
    let err = world.current()?.take_error("a permission-denied error")?;
    ensure!(
        matches!(&err, Error::Os { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied),
        "expected permission denied, got: {err}"
    );
    Ok(())
}
