//! The World thread: one dedicated thread owns the `ZbWorld` and runs its (non-`Send`) step
//! futures on a current-thread runtime; RPC handlers talk to it through a channel.
//!
//! Steps run one at a time (a lane lock). A step gets `step_timeout`: an async step that is
//! still pending then is dropped on its thread; a step that blocks its thread (semaphore waits
//! are synchronous) cannot be interrupted, so its World thread is abandoned — it drops that
//! World (closing its endpoints) whenever the step returns — and a fresh World on a new thread
//! serves the following requests. Either way the step fails with
//! `Step execution timeout after N ms`, and the serve stays usable.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use cucumber::gherkin;
use cucumber::step::Collection;
use cucumber::World as _;
use futures::FutureExt as _;
use harmony_wire::nearest;
use harmony_wire::vocabulary::lookup_texts;
use harmony_wire::{StepParameters, Vocabulary};
use tokio::sync::{mpsc, oneshot, Mutex};
use tracing::Level;
use zerobuffer_steps::jobs::panic_text;
use zerobuffer_steps::naming::BufferNames;
use zerobuffer_steps::ZbWorld;

use crate::logs;
use harmony_wire::StepType;

/// Time the World thread gets beyond the step timeout to report an async timeout itself
/// before its caller gives up on it.
const GRACE: Duration = Duration::from_millis(250);
/// Name prefix of World threads (the panic hook keeps step panics off stderr by it).
pub const THREAD_PREFIX: &str = "zerobuffer-world";

/// One step to run.
#[derive(Debug, Clone)]
pub struct StepCall {
    pub process: Option<String>,
    pub kind: Option<StepType>,
    pub text: String,
    /// The data table and doc string the orchestrator sent with the step.
    pub parameters: StepParameters,
}

/// How a step went.
#[derive(Debug, Clone)]
pub struct StepOutcome {
    pub error: Option<String>,
    pub logs: Vec<harmony_wire::LogEntry>,
}

impl StepOutcome {
    fn failed(error: String) -> Self {
        StepOutcome {
            error: Some(error),
            logs: Vec::new(),
        }
    }
}

/// The run announced by `initialize`: `(host pid, feature id)`.
pub type Run = Option<(u64, u64)>;

enum Command {
    Step {
        call: StepCall,
        reply: oneshot::Sender<StepOutcome>,
    },
    /// Ends the scenario (`world.finish()`) and starts a fresh World named for `run`.
    Reset {
        run: Run,
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// Ends the scenario and the thread.
    Finish { reply: oneshot::Sender<()> },
}

/// Handle of the current World thread.
struct Lane {
    commands: mpsc::UnboundedSender<Command>,
    run: Run,
    generation: u64,
}

impl Lane {
    fn start(run: Run, generation: u64, step_timeout: Duration) -> Lane {
        let (commands, rx) = mpsc::unbounded_channel();
        let spawned = std::thread::Builder::new()
            .name(format!("{THREAD_PREFIX}-{generation}"))
            .spawn(move || world_thread(rx, run, step_timeout));
        if let Err(e) = spawned {
            // The dropped receiver makes every command fail with a clear message.
            tracing::error!("cannot start a World thread: {e}");
        }
        Lane {
            commands,
            run,
            generation,
        }
    }

    /// Abandons the current World thread and starts a fresh one.
    fn replace(&mut self, step_timeout: Duration) {
        tracing::warn!(
            generation = self.generation,
            "abandoning the World thread; later requests use a fresh World"
        );
        *self = Lane::start(self.run, self.generation + 1, step_timeout);
    }
}

/// Runs steps on the World thread, one at a time, each within the step timeout.
pub struct Executor {
    lane: Mutex<Lane>,
    step_timeout: Duration,
}

impl Executor {
    pub fn start(step_timeout: Duration) -> Executor {
        Executor {
            lane: Mutex::new(Lane::start(None, 1, step_timeout)),
            step_timeout,
        }
    }

    /// Runs one step; every failure (including a timeout) is an outcome with an error.
    pub async fn execute(&self, call: StepCall) -> StepOutcome {
        let mut lane = self.lane.lock().await;
        let (reply, answer) = oneshot::channel();
        if let Err(mpsc::error::SendError(command)) =
            lane.commands.send(Command::Step { call, reply })
        {
            // The thread is gone (it could not start, or died): once more on a fresh one.
            lane.replace(self.step_timeout);
            if lane.commands.send(command).is_err() {
                return StepOutcome::failed("no World thread could be started".into());
            }
        }
        match tokio::time::timeout(self.step_timeout + GRACE, answer).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => {
                lane.replace(self.step_timeout);
                StepOutcome::failed("the World thread ended during the step".into())
            }
            Err(_) => {
                lane.replace(self.step_timeout);
                StepOutcome::failed(timeout_message(self.step_timeout))
            }
        }
    }

    /// Ends the scenario (background work, endpoints, created buffers) and starts a fresh
    /// World; `run` replaces the announced run when given. Errors are what the ended
    /// scenario's background work reported.
    pub async fn reset(&self, run: Option<Run>) -> Result<(), String> {
        let mut lane = self.lane.lock().await;
        if let Some(run) = run {
            lane.run = run;
        }
        let (reply, answer) = oneshot::channel();
        let sent = lane.commands.send(Command::Reset {
            run: lane.run,
            reply,
        });
        if sent.is_err() {
            lane.replace(self.step_timeout);
            return Ok(());
        }
        match tokio::time::timeout(self.step_timeout + GRACE, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => {
                lane.replace(self.step_timeout);
                Err("the World thread ended while resetting".into())
            }
            Err(_) => {
                lane.replace(self.step_timeout);
                Err(format!(
                    "ending the scenario took longer than {} ms",
                    self.step_timeout.as_millis()
                ))
            }
        }
    }

    /// Ends the scenario within `bound` (for exits). False if that did not finish in time.
    pub async fn finish(&self, bound: Duration) -> bool {
        let finished = tokio::time::timeout(bound, async {
            let lane = self.lane.lock().await;
            let (reply, answer) = oneshot::channel();
            if lane.commands.send(Command::Finish { reply }).is_ok() {
                let _ = answer.await;
            }
        })
        .await;
        finished.is_ok()
    }
}

fn timeout_message(limit: Duration) -> String {
    format!("Step execution timeout after {} ms", limit.as_millis())
}

fn new_world(run: Run) -> ZbWorld {
    let mut world = ZbWorld::new();
    world.names = BufferNames::for_run(run);
    // A table step without its table here was sent by an orchestrator that drops tables.
    world.tables_may_be_dropped = true;
    world
}

fn world_thread(mut commands: mpsc::UnboundedReceiver<Command>, run: Run, step_timeout: Duration) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!("cannot build the World thread's runtime: {e}");
            return;
        }
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let collection = ZbWorld::collection();
        let mut world = new_world(run);
        tracing::debug!(suffix = world.names.suffix(), "World ready");
        while let Some(command) = commands.recv().await {
            match command {
                Command::Step { call, reply } => {
                    let outcome = run_step(&collection, &mut world, &call, step_timeout).await;
                    let _ = reply.send(outcome);
                }
                Command::Reset { run, reply } => {
                    let result = end_scenario(&mut world);
                    world = new_world(run);
                    let _ = reply.send(result);
                }
                Command::Finish { reply } => {
                    if let Err(e) = end_scenario(&mut world) {
                        tracing::warn!("{e}");
                    }
                    let _ = reply.send(());
                    return;
                }
            }
        }
        // The lane was replaced or the serve is exiting: dropping the World closes it.
    });
}

fn end_scenario(world: &mut ZbWorld) -> Result<(), String> {
    match std::panic::catch_unwind(AssertUnwindSafe(|| world.finish())) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("{e:#}")),
        Err(panic) => Err(format!(
            "ending the scenario panicked: {}",
            panic_text(&*panic)
        )),
    }
}

fn gherkin_type(kind: StepType) -> gherkin::StepType {
    match kind {
        StepType::Given => gherkin::StepType::Given,
        StepType::When => gherkin::StepType::When,
        StepType::Then => gherkin::StepType::Then,
    }
}

/// Runs one step with its records captured; the failure, if any, is logged as an error.
async fn run_step(
    collection: &Collection<ZbWorld>,
    world: &mut ZbWorld,
    call: &StepCall,
    step_timeout: Duration,
) -> StepOutcome {
    let (error, logs) = logs::capture(async {
        let error = execute(collection, world, call, step_timeout).await.err();
        if let Some(error) = &error {
            tracing::error!(step = %call.text, "step failed: {error}");
        } else {
            tracing::trace!(step = %call.text, "step passed");
        }
        error
    })
    .await;
    StepOutcome { error, logs }
}

/// The texts to look up: as received, then (for a text sent without its process phrase, as
/// the design documents describe) with `the '<Process>' process ` put in front. The rule is
/// harmony-wire's, so harmony's "undefined" before sending is exactly this serve's.
fn candidate_texts(call: &StepCall) -> Vec<String> {
    lookup_texts(&call.text, call.process.as_deref())
}

/// The kinds to look up in: the received kind first, then the other two.
fn candidate_kinds(kind: Option<StepType>) -> Vec<StepType> {
    let mut kinds = Vec::with_capacity(3);
    kinds.extend(kind);
    for k in [StepType::Given, StepType::When, StepType::Then] {
        if !kinds.contains(&k) {
            kinds.push(k);
        }
    }
    kinds
}

async fn execute(
    collection: &Collection<ZbWorld>,
    world: &mut ZbWorld,
    call: &StepCall,
    step_timeout: Duration,
) -> Result<(), String> {
    // This serve is the role the call names: a step whose text names no process (an
    // inherited one, e.g. "a new 'reader' process ...") acts as that role in a World that
    // has seen no step naming one, as after the orchestrator restarted a crashed role. Later,
    // the last process a step named stays current, exactly as in the local runner.
    if let Some(process) = call.process.as_deref().filter(|p| !p.is_empty()) {
        world.default_process(process);
    }
    for text in candidate_texts(call) {
        for kind in candidate_kinds(call.kind) {
            let ty = gherkin_type(kind);
            let step = gherkin::Step {
                keyword: format!("{ty:?} "),
                ty,
                value: text.clone(),
                docstring: call.parameters.doc_string.clone(),
                table: call.parameters.table.clone().map(|rows| gherkin::Table {
                    rows,
                    span: Default::default(),
                    position: Default::default(),
                }),
                span: Default::default(),
                position: Default::default(),
            };
            let (step_fn, context) = match collection.find(&step) {
                Err(ambiguous) => return Err(format!("ambiguous step {text:?}: {ambiguous}")),
                Ok(None) => continue,
                Ok(Some((step_fn, _captures, _location, context))) => (step_fn, context),
            };
            tracing::trace!(step = %text, ?kind, "running");
            let future =
                match std::panic::catch_unwind(AssertUnwindSafe(|| step_fn(world, context))) {
                    Ok(future) => future,
                    Err(panic) => return Err(panic_text(&*panic)),
                };
            return match tokio::time::timeout(step_timeout, AssertUnwindSafe(future).catch_unwind())
                .await
            {
                Ok(Ok(())) => Ok(()),
                Ok(Err(panic)) => Err(panic_text(&*panic)),
                Err(_) => Err(timeout_message(step_timeout)),
            };
        }
    }
    // Undefined: the same hint harmony and the in-process runner print, for any orchestrator.
    Err(nearest::undefined_message(Vocabulary::ours(), &call.text))
}

/// Used by the panic hook: records a step panic (a step failure) without the default
/// backtrace noise on stderr.
pub fn log_step_panic(message: &str) {
    tracing::event!(Level::TRACE, "step panicked: {message}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripped_texts_get_the_process_phrase_back() {
        let call = StepCall {
            process: Some("writer".into()),
            kind: None,
            text: "connects to buffer 'x'".into(),
            parameters: StepParameters::default(),
        };
        assert_eq!(
            candidate_texts(&call),
            [
                "connects to buffer 'x'",
                "the 'writer' process connects to buffer 'x'"
            ]
        );
        let full = StepCall {
            text: "the 'writer' process connects to buffer 'x'".into(),
            ..call
        };
        assert_eq!(candidate_texts(&full).len(), 1);
    }

    #[test]
    fn received_kind_first() {
        assert_eq!(
            candidate_kinds(Some(StepType::Then)),
            [StepType::Then, StepType::Given, StepType::When]
        );
        assert_eq!(
            candidate_kinds(None),
            [StepType::Given, StepType::When, StepType::Then]
        );
    }
}
