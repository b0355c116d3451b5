//! Runs one scenario against serve processes, one per role (harmony.md §4): spawn in order
//! of first appearance with `HARMONY_HOST_PID`/`HARMONY_FEATURE_ID`, `health` + `initialize`
//! as the readiness handshake, the steps in order (stopping at the first failure), then a
//! teardown that always reaps every process.
//!
//! One deliberate extension of Harmony: a role that the scenario itself ended (`is killed`,
//! `crashes`) comes back as a fresh serve process, with the same run ids, when a later step is
//! routed to it. Harmony fails such a step instead, which makes a scenario like 2.3 ("a new
//! 'reader' process ..." after the reader crashed) impossible (harmony.md §3.4).
//! `RunOptions::restart_ended = false` keeps Harmony's behaviour. A role that died on its own,
//! timed out or was shut down is never restarted.

use std::os::unix::process::ExitStatusExt as _;
use std::process::{Command, ExitStatus};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use harmony_wire::{StepRequest, StepResponse};

use crate::config::Platform;
use crate::failure::{self, Fault, RoleFailure, StepFailure};
pub use crate::leftovers::leftovers;
use crate::routing::RoutedStep;
use crate::serve_process::{CallError, ServeProcess};
use crate::special::{special, Special};

pub use crate::run_options::{ChaosKill, KillMode, ResponseCheck, RunOptions};

/// How a role's process ended.
#[derive(Debug, Clone)]
pub struct RoleEnd {
    pub role: String,
    pub platform: String,
    pub status: Option<ExitStatus>,
    /// Teardown needed SIGKILL (the process ignored stdin EOF for 5 s).
    pub killed_at_teardown: bool,
    /// Ended by a step: `killed`, `crashed`, `shutdown`, `timeout` or `died`.
    pub ended_by: Option<&'static str>,
    /// The process id it had (reaped by now).
    pub pid: u32,
    pub stderr: String,
    /// The logs of its step responses (see `failure::RoleOutput::logs`).
    pub logs: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ScenarioRun {
    pub outcome: Result<(), String>,
    /// What failed, when `outcome` is an error: the step, the roles, their errors.
    pub failure: Option<StepFailure>,
    /// Every process the run started, role by role (a restarted role has one entry per
    /// process, earliest first).
    pub roles: Vec<RoleEnd>,
    pub host_pid: u32,
    pub feature_id: u32,
    /// Objects with the run id found after teardown (removed if asked to).
    pub leftovers: Vec<String>,
    /// `--chaos`: whether its SIGKILL met a running process. Not when the run ended before
    /// the kill's step, or the role had already ended (by a step, or on its own).
    pub chaos_killed: bool,
    pub duration: Duration,
}

struct Role {
    name: String,
    platform: Platform,
    serve: ServeProcess,
    ended_by: Option<&'static str>,
    /// The logs of this process's step responses so far.
    logs: Vec<String>,
    /// The processes this role had before a restart.
    earlier: Vec<RoleEnd>,
}

/// The ids every process of one scenario run gets.
#[derive(Debug, Clone, Copy)]
struct RunIds {
    host_pid: u32,
    feature_id: u32,
}

impl Role {
    fn spawn(name: &str, platform: &Platform, ids: RunIds) -> Result<Role, Fault> {
        let label = format!("{}:{name}", platform.name);
        let command = command(platform, ids.host_pid, ids.feature_id);
        let serve = ServeProcess::spawn(&label, command).map_err(|e| {
            let error = format!(
                "cannot start the {} serve {}: {e}",
                platform.name,
                platform.executable.display()
            );
            Fault::simple(name, &platform.name, error)
        })?;
        Ok(Role {
            name: name.to_owned(),
            platform: platform.clone(),
            serve,
            ended_by: None,
            logs: Vec::new(),
            earlier: Vec::new(),
        })
    }

    /// A failure of this role whose message is its error.
    fn fault(&self, error: String) -> Fault {
        Fault::simple(&self.name, &self.platform.name, error)
    }

    /// Reaps the process (teardown unless a step already ended it) and says how it ended.
    fn end(&mut self) -> RoleEnd {
        let (status, killed) = match self.ended_by {
            Some(_) => (self.serve.wait_exit(Duration::ZERO), false),
            None => {
                let (status, killed) = self.serve.teardown();
                (Some(status), killed)
            }
        };
        let status = status.or_else(|| Some(self.serve.kill()));
        RoleEnd {
            role: self.name.clone(),
            platform: self.platform.name.clone(),
            status,
            killed_at_teardown: killed,
            ended_by: self.ended_by,
            pid: self.serve.pid(),
            stderr: self.serve.stderr(),
            logs: std::mem::take(&mut self.logs),
        }
    }
}

/// The command that starts `platform`'s serve for one scenario run.
pub fn command(platform: &Platform, host_pid: u32, feature_id: u32) -> Command {
    let mut command = Command::new(&platform.executable);
    command.args(&platform.arguments);
    if let Some(dir) = &platform.working_directory {
        command.current_dir(dir);
    }
    command.envs(&platform.environment);
    command.env("HARMONY_HOST_PID", host_pid.to_string());
    command.env("HARMONY_FEATURE_ID", feature_id.to_string());
    command
}

/// Runs `steps` with `assignment` (role → platform, in start order).
pub fn run(
    steps: &[RoutedStep],
    assignment: &[(String, Platform)],
    feature_id: u32,
    options: &RunOptions,
) -> ScenarioRun {
    let started = Instant::now();
    let host_pid = crate::run_id::next_host_pid();
    let ids = RunIds {
        host_pid,
        feature_id,
    };
    let mut roles: Vec<Role> = Vec::new();
    let mut chaos_killed = false;
    let mut failed = start(assignment, ids, options, &mut roles)
        .err()
        .map(|fault| fault.at(failure::START, None));
    if failed.is_none() {
        for (index, step) in steps.iter().enumerate() {
            if let Some(kill) = options
                .chaos_kill
                .as_ref()
                .filter(|k| k.before_step == index)
            {
                chaos_killed = chaos_kill(&mut roles, &kill.role);
            }
            if let Err(fault) = execute(&mut roles, step, ids, options) {
                failed = Some(fault.at(&step.text, Some(index)));
                break;
            }
        }
    }
    if failed.is_none() {
        failed = end_scenario(&mut roles, options)
            .err()
            .map(|fault| fault.at(failure::END, None));
    }
    let (outcome, failure) = match failed {
        Some((message, failure)) => (Err(message), Some(failure)),
        None => (Ok(()), None),
    };
    let mut ends = Vec::new();
    for role in &mut roles {
        ends.append(&mut role.earlier);
        ends.push(role.end());
    }
    drop(roles);
    let suffix = format!("_{host_pid}_{feature_id}");
    let leftovers = leftovers(&suffix);
    if options.remove_leftovers {
        for path in &leftovers {
            let _ = std::fs::remove_file(path);
        }
    }
    ScenarioRun {
        outcome,
        failure,
        roles: ends,
        host_pid,
        feature_id,
        leftovers,
        chaos_killed,
        duration: started.elapsed(),
    }
}

/// SIGKILLs `name`'s process if it is still running; whether it was (no role of that name,
/// or one already ended: nothing).
fn chaos_kill(roles: &mut [Role], name: &str) -> bool {
    let Some(role) = roles
        .iter_mut()
        .find(|r| r.name == name && r.ended_by.is_none())
    else {
        return false;
    };
    let killed = role.serve.kill_if_running();
    role.ended_by = Some(if killed { "killed" } else { "died" });
    killed
}

/// Asks every live serve to end the scenario (`cleanup`), so work that fails only at its end
/// (a background job) fails it here too, as it does in-process. A serve without `cleanup`
/// (-32601) has nothing to report; upstream serves answer `null`.
fn end_scenario(roles: &mut [Role], options: &RunOptions) -> Result<(), Fault> {
    let mut errors: Vec<Fault> = Vec::new();
    for role in roles.iter_mut().filter(|r| r.ended_by.is_none()) {
        let reply = match call(role, "cleanup", json!([]), options) {
            Ok(reply) => reply,
            Err(fault) => {
                errors.push(fault);
                continue;
            }
        };
        let Some(error) = reply.get("error") else {
            continue;
        };
        if error.get("code").and_then(Value::as_i64) == Some(METHOD_NOT_FOUND) {
            continue;
        }
        let text = lookup(error, "message");
        let text = text
            .as_str()
            .map_or_else(|| error.to_string(), str::to_owned);
        let message = format!("{} [{}] at the end: {text}", role.name, role.platform.name);
        errors.push(Fault::one(
            RoleFailure::new(&role.name, &role.platform.name, text),
            message,
        ));
    }
    if errors.is_empty() {
        return Ok(());
    }
    let messages: Vec<&str> = errors.iter().map(|f| f.message.as_str()).collect();
    Err(Fault {
        message: format!("The scenario ended with errors: {}", messages.join(", ")),
        roles: errors.into_iter().flat_map(|f| f.roles).collect(),
    })
}

/// JSON-RPC's "method not found".
const METHOD_NOT_FOUND: i64 = -32601;

fn start(
    assignment: &[(String, Platform)],
    ids: RunIds,
    options: &RunOptions,
    roles: &mut Vec<Role>,
) -> Result<(), Fault> {
    for (name, platform) in assignment {
        roles.push(Role::spawn(name, platform, ids)?);
        let last = roles.len() - 1;
        handshake(&mut roles[last], ids, options)?;
    }
    Ok(())
}

/// `health` + `initialize`, then the configured delay.
fn handshake(role: &mut Role, ids: RunIds, options: &RunOptions) -> Result<(), Fault> {
    let health = call(role, "health", json!([]), options)?;
    if health.get("result") != Some(&json!(true)) {
        let error = format!("Process {} health check failed: {health}", role.name);
        return Err(role.fault(error));
    }
    let init = json!([{
        "Role": role.name, "Platform": role.platform.name, "Scenario": "test",
        "HostPid": ids.host_pid, "FeatureId": ids.feature_id,
        "TestRunId": format!("{}_{}", ids.host_pid, ids.feature_id),
    }]);
    let reply = call(role, "initialize", init, options)?;
    if reply.get("result").is_none() {
        let error = format!(
            "Failed to initialize servo process '{}': {}",
            role.name,
            reply.get("error").unwrap_or(&Value::Null)
        );
        return Err(role.fault(error));
    }
    if !options.init_delay.is_zero() {
        thread::sleep(options.init_delay);
    }
    Ok(())
}

/// Replaces a role the scenario killed or crashed with a fresh process (module docs).
fn restart(role: &mut Role, ids: RunIds, options: &RunOptions) -> Result<(), Fault> {
    let fresh = Role::spawn(&role.name, &role.platform, ids)?;
    let mut old = std::mem::replace(role, fresh);
    role.earlier = std::mem::take(&mut old.earlier);
    role.earlier.push(old.end());
    tracing::info!("restarted {} as pid {}", role.serve.label, role.serve.pid());
    handshake(role, ids, options)
}

/// Describes a call that got no response, killing the process if it is stuck. The role's
/// error is the short form; the message adds the stderr tail.
fn call_failure(role: &mut Role, error: CallError, options: &RunOptions) -> Fault {
    let tail = |role: &Role, short: String| {
        let message = format!(
            "{}: {short}\n--- {} stderr (tail) ---\n{}",
            role.name,
            role.serve.label,
            role.serve.stderr_tail(options.stderr_lines)
        );
        Fault::one(
            RoleFailure::new(&role.name, &role.platform.name, short),
            message,
        )
    };
    if let CallError::Timeout(_) = error {
        role.serve.kill();
        role.ended_by = Some("timeout");
        let short = format!(
            "no response within {:?}; the process was killed",
            options.step_timeout
        );
        return tail(role, short);
    }
    let status = role.serve.wait_exit(Duration::from_secs(1));
    if status.is_some() && role.ended_by.is_none() {
        role.ended_by = Some("died");
    }
    let status = match status {
        Some(s) => match s.signal() {
            Some(signal) => format!("killed by signal {signal}"),
            None => format!("exit status {}", s.code().unwrap_or(-1)),
        },
        None => "still running".into(),
    };
    tail(role, format!("{error} ({status})"))
}

fn call(
    role: &mut Role,
    method: &str,
    params: Value,
    options: &RunOptions,
) -> Result<Value, Fault> {
    if let Some(how) = role.ended_by {
        return Err(gone(role, how));
    }
    match role.serve.call(method, params, options.step_timeout) {
        Ok(reply) => Ok(reply),
        Err(e) => Err(call_failure(role, e, options)),
    }
}

/// A call to a role that a step already ended.
fn gone(role: &Role, how: &str) -> Fault {
    let message = format!("{}: the process is gone ({how})", role.name);
    Fault::one(
        RoleFailure::new(
            &role.name,
            &role.platform.name,
            format!("the process is gone ({how})"),
        ),
        message,
    )
}

/// A step names a role the scenario has no process for (no platform to blame).
fn no_process(name: &str) -> Fault {
    Fault::simple(name, "", format!("no process '{name}'"))
}

fn find<'a>(roles: &'a mut [Role], name: &str) -> Result<&'a mut Role, Fault> {
    roles
        .iter_mut()
        .find(|r| r.name == name)
        .ok_or_else(|| no_process(name))
}

fn crash(role: &mut Role, options: &RunOptions) -> Result<(), Fault> {
    // Harmony passes its CancellationToken, serialized, as the one argument (§2.7).
    let token = json!([{"IsCancellationRequested": false, "CanBeCanceled": false}]);
    let reply = call(role, "crash", token, options)?;
    if reply.get("result").is_none() {
        let error = format!(
            "{}: crash failed: {}",
            role.name,
            reply.get("error").unwrap_or(&Value::Null)
        );
        return Err(role.fault(error));
    }
    thread::sleep(Duration::from_millis(500));
    if role.serve.wait_exit(Duration::from_secs(2)).is_none() {
        tracing::warn!(
            "{} still alive 2.5 s after crash; SIGKILL",
            role.serve.label
        );
        role.serve.kill();
    }
    role.ended_by = Some("crashed");
    Ok(())
}

fn lookup(result: &Value, name: &str) -> Value {
    result
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
        .map(|(_, v)| v.clone())
        .unwrap_or(Value::Null)
}

fn execute(
    roles: &mut [Role],
    step: &RoutedStep,
    ids: RunIds,
    options: &RunOptions,
) -> Result<(), Fault> {
    match special(step) {
        Some(Special::Wait(seconds)) => {
            thread::sleep(Duration::from_secs_f64(seconds));
            return Ok(());
        }
        Some(Special::Shutdown(name)) => {
            let role = find(roles, &name)?;
            call(role, "shutdown", json!([]), options)?;
            thread::sleep(Duration::from_secs(1));
            role.serve.wait_exit(Duration::from_secs(4));
            role.serve.kill();
            role.ended_by = Some("shutdown");
            return Ok(());
        }
        Some(Special::Killed(name)) => {
            let role = find(roles, &name)?;
            match options.kill_mode {
                KillMode::Sigkill => {
                    role.serve.kill();
                }
                KillMode::Teardown => {
                    role.serve.teardown();
                }
                KillMode::Crash => return crash(role, options),
            }
            role.ended_by = Some("killed");
            return Ok(());
        }
        Some(Special::Crashes(name)) => return crash(find(roles, &name)?, options),
        None => {}
    }
    let targets: Vec<(usize, bool)> = match &step.process {
        Some(process) => {
            let index = roles
                .iter()
                .position(|r| &r.name == process)
                .ok_or_else(|| no_process(process))?;
            let role = &mut roles[index];
            if options.restart_ended && matches!(role.ended_by, Some("killed" | "crashed")) {
                restart(role, ids, options)?;
            }
            vec![(index, false)]
        }
        None => (0..roles.len()).map(|i| (i, true)).collect(),
    };
    // A broadcast goes out to every role first, then every answer is collected.
    let mut sent = Vec::new();
    let mut errors: Vec<Fault> = Vec::new();
    for &(index, broadcast) in &targets {
        let role = &mut roles[index];
        if let Some(how) = role.ended_by {
            errors.push(gone(role, how));
            continue;
        }
        let request = StepRequest {
            process: Some(role.name.clone()),
            step_type: Some(step.step_type),
            step: step.text.clone(),
            parameters: step.parameters.clone(),
            is_broadcast: broadcast,
        };
        let params = json!([request.to_json()]);
        match role.serve.request("executeStep", params) {
            Ok(id) => sent.push((index, id)),
            Err(e) => errors.push(call_failure(role, e, options)),
        }
    }
    let deadline = Instant::now() + options.step_timeout;
    for (index, id) in sent {
        let role = &mut roles[index];
        let left = deadline.saturating_duration_since(Instant::now());
        let message = match role.serve.response(&json!(id), left) {
            Ok(message) => message,
            Err(e) => {
                errors.push(call_failure(role, e, options));
                continue;
            }
        };
        let Some(result) = message.get("result") else {
            let error = lookup(message.get("error").unwrap_or(&Value::Null), "message");
            let text = error
                .as_str()
                .map(str::to_owned)
                .unwrap_or(error.to_string());
            let message = format!("Remote execution failed: {}: {error}", role.name);
            errors.push(Fault::one(
                RoleFailure::new(&role.name, &role.platform.name, text),
                message,
            ));
            continue;
        };
        if let Some(check) = options.check_response {
            check(&role.platform.name, result).map_err(|e| {
                let message = format!("{}: {e}", role.name);
                Fault::one(
                    RoleFailure::new(&role.name, &role.platform.name, e),
                    message,
                )
            })?;
        }
        let response = StepResponse::from_json(result).unwrap_or_else(|e| StepResponse {
            success: false,
            error: Some(format!("the serve's answer is malformed: {e}: {result}")),
            logs: Vec::new(),
        });
        if !response.logs.is_empty() {
            role.logs.push(format!("{}:", step.text));
        }
        for log in &response.logs {
            role.logs
                .push(format!("  [{}] {}", log.level_name(), log.message));
            tracing::debug!(
                "[{}:{}] [{}] {}",
                role.platform.name,
                role.name,
                log.level_name(),
                log.message
            );
        }
        if !response.success {
            let text = response.error.unwrap_or_else(|| "(no error text)".into());
            let message = format!(
                "{} [{}] {:?}: {text}",
                role.name, role.platform.name, step.text
            );
            errors.push(Fault::one(
                RoleFailure::new(&role.name, &role.platform.name, text),
                message,
            ));
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    let lead = match targets.len() {
        1 => "Execution failed",
        _ => "Broadcast failed on",
    };
    let messages: Vec<&str> = errors.iter().map(|f| f.message.as_str()).collect();
    Err(Fault {
        message: format!("{lead}: {}", messages.join(", ")),
        roles: errors.into_iter().flat_map(|f| f.roles).collect(),
    })
}
