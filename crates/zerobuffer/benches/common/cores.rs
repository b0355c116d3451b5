//! One core per side of a cross-process bench: the first side runs on the first CPU this
//! process may use, the second side on the second. Unpinned, the scheduler moves the two
//! processes between the cores and at times puts both on one, and each round then measures a
//! different placement (rounds of one row differed by 50–400 % on a 2-core machine). Pinned,
//! every pairing meets the same placement. `ZEROBUFFER_BENCH_PIN=0` leaves the scheduler alone.

// Each bench uses the part it needs.
#![allow(dead_code)]

use std::env;
use std::io;
use std::process::Command;
use std::sync::OnceLock;

use rustix::process::Pid;
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
    /// The first side on CPU `first`, the second on CPU `second`.
    Pinned { first: usize, second: usize },
    /// Left to the scheduler, for the reason given.
    Free(&'static str),
}

impl Placement {
    /// The first two CPUs this process may use, pinning nothing; with fewer than two, or
    /// `ZEROBUFFER_BENCH_PIN=0`, [`Placement::Free`].
    pub fn choose() -> io::Result<Placement> {
        if env::var(PIN_ENV).is_ok_and(|v| v == "0") {
            return Ok(Placement::Free("ZEROBUFFER_BENCH_PIN=0"));
        }
        let allowed = sched_getaffinity(None)?;
        let mut usable = (0..CpuSet::MAX_CPU).filter(|&cpu| allowed.is_set(cpu));
        Ok(match (usable.next(), usable.next()) {
            (Some(first), Some(second)) => Placement::Pinned { first, second },
            _ => Placement::Free("fewer than two usable CPUs"),
        })
    }

    /// [`choose`](Self::choose), then pins this process (the first side) and sends every
    /// child to the second CPU ([`place_child`]).
    pub fn apply() -> io::Result<Placement> {
        let placement = Placement::choose()?;
        if let Placement::Pinned { first, second } = placement {
            pin_to(first)?;
            let _ = CHILD_CPU.set(second);
        }
        Ok(placement)
    }

    /// Pins child process `pid`, the first side, to the first CPU (no-op when free).
    pub fn pin_first(&self, pid: u32) -> io::Result<()> {
        match *self {
            Placement::Pinned { first, .. } => pin_process(pid, first),
            Placement::Free(_) => Ok(()),
        }
    }

    /// Pins child process `pid`, the second side, to the second CPU (no-op when free).
    pub fn pin_second(&self, pid: u32) -> io::Result<()> {
        match *self {
            Placement::Pinned { second, .. } => pin_process(pid, second),
            Placement::Free(_) => Ok(()),
        }
    }

    /// Words for the bench's header, naming the two sides' roles.
    pub fn describe(&self, first_role: &str, second_role: &str) -> String {
        match self {
            Placement::Pinned { first, second } => {
                format!("{first_role} pinned to CPU {first}, {second_role} to CPU {second}")
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

/// Pins the main thread of process `pid` (threads it starts later inherit the CPU; a child
/// pinned right after its start runs its set-up unpinned, which no timed job includes).
fn pin_process(pid: u32, cpu: usize) -> io::Result<()> {
    let pid = i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("pid {pid}")))?;
    let mut set = CpuSet::new();
    set.set(cpu);
    Ok(sched_setaffinity(Some(pid), &set)?)
}
