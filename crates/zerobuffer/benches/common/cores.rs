//! One core per side of a cross-process bench: the parent (the reader) runs on the first CPU
//! it may use, the child (the writer) on the second. Unpinned, the scheduler moves the two
//! processes between the cores and at times puts both on one, and each round then measures a
//! different placement (rounds of one row differed by 50–400 % on a 2-core machine). Pinned,
//! every pairing meets the same placement. `ZEROBUFFER_BENCH_PIN=0` leaves the scheduler alone.

// Each bench uses the part it needs.
#![allow(dead_code)]

use std::env;
use std::io;
use std::process::Command;
use std::sync::OnceLock;

use rustix::thread::{sched_getaffinity, sched_setaffinity, CpuSet};

/// `0` turns pinning off.
const PIN_ENV: &str = "ZEROBUFFER_BENCH_PIN";
/// Set in a child's environment to the CPU it should pin itself to.
const CHILD_CPU_ENV: &str = "ZEROBUFFER_BENCH_CHILD_CPU";

/// The CPU of every child, once [`Placement::apply`] has pinned this process (affinity is a
/// property of the process, so this is too).
static CHILD_CPU: OnceLock<usize> = OnceLock::new();

/// Where the two sides run.
#[derive(Clone, Copy, Debug)]
pub enum Placement {
    /// The parent on `parent`, every child on `child`.
    Pinned { parent: usize, child: usize },
    /// Left to the scheduler, for the reason given.
    Free(&'static str),
}

impl Placement {
    /// Pins this process to the first CPU it may use and returns where children go; with
    /// fewer than two usable CPUs, or `ZEROBUFFER_BENCH_PIN=0`, pins nothing.
    pub fn apply() -> io::Result<Placement> {
        if env::var(PIN_ENV).is_ok_and(|v| v == "0") {
            return Ok(Placement::Free("ZEROBUFFER_BENCH_PIN=0"));
        }
        let allowed = sched_getaffinity(None)?;
        let mut usable = (0..CpuSet::MAX_CPU).filter(|&cpu| allowed.is_set(cpu));
        let (Some(parent), Some(child)) = (usable.next(), usable.next()) else {
            return Ok(Placement::Free("fewer than two usable CPUs"));
        };
        pin_to(parent)?;
        let _ = CHILD_CPU.set(child);
        Ok(Placement::Pinned { parent, child })
    }

    /// Words for the bench's header, naming the parent's and the child's roles.
    pub fn describe(&self, parent_role: &str, child_role: &str) -> String {
        match self {
            Placement::Pinned { parent, child } => {
                format!("{parent_role} pinned to CPU {parent}, {child_role} to CPU {child}")
            }
            Placement::Free(why) => format!("processes not pinned ({why})"),
        }
    }
}

/// Tells a child about to be spawned which CPU to pin itself to, if this process is pinned.
pub fn place_child(command: &mut Command) -> &mut Command {
    match CHILD_CPU.get() {
        Some(cpu) => command.env(CHILD_CPU_ENV, cpu.to_string()),
        None => command.env_remove(CHILD_CPU_ENV),
    }
}

/// In a child: pins it to the CPU its parent chose, if any (a child inherits the parent's
/// affinity, so without this it would share the parent's core).
pub fn pin_child_from_env() -> io::Result<()> {
    let Ok(cpu) = env::var(CHILD_CPU_ENV) else {
        return Ok(());
    };
    let cpu = cpu.parse::<usize>().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{CHILD_CPU_ENV}={cpu:?}"),
        )
    })?;
    pin_to(cpu)
}

fn pin_to(cpu: usize) -> io::Result<()> {
    let mut set = CpuSet::new();
    set.set(cpu);
    Ok(sched_setaffinity(None, &set)?)
}
