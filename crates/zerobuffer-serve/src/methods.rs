//! The JSON-RPC methods of a serve (harmony.md §2), registered on a jsonrpsee `RpcModule`.
//!
//! `shutdown` and `crash` only answer here (`null`); what follows the answer — a clean exit,
//! or an abort — is done by the dispatcher once the answer is flushed (see `server.rs`).

use std::sync::{Arc, Mutex};

use harmony_wire::StepResponse;
use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::RpcModule;

use crate::executor::{Executor, StepCall};
use crate::protocol::{parse_param, step_request, DiscoverResponse, InitializeRequest, StepInfo};

/// What `initialize` announced.
#[derive(Debug, Clone)]
pub struct Session {
    pub role: String,
    pub platform: Option<String>,
    pub scenario: Option<String>,
    pub host_pid: Option<u64>,
    pub feature_id: Option<u64>,
}

/// State shared by the methods.
pub struct ServeState {
    pub executor: Arc<Executor>,
    pub session: Mutex<Option<Session>>,
}

/// Names of the methods, as the dispatcher needs them.
pub const SHUTDOWN: &str = "shutdown";
pub const CRASH: &str = "crash";
/// Methods that act on the World: the dispatcher runs them strictly in arrival order.
pub const ACTS_ON_WORLD: [&str; 3] = ["initialize", "executeStep", "cleanup"];

/// The `cleanup` error of a scenario whose end failed (a generic server error code).
pub const SCENARIO_END_FAILED: i32 = -32000;

pub fn module(state: ServeState) -> RpcModule<ServeState> {
    let mut module = RpcModule::new(state);
    register(&mut module).expect("method names are distinct");
    module
}

fn register(
    module: &mut RpcModule<ServeState>,
) -> Result<(), jsonrpsee::core::error::RegisterMethodError> {
    module.register_method("health", |_, _, _| true)?;

    module.register_async_method("initialize", |params, state, _| async move {
        let request: InitializeRequest = parse_param(params.as_str())?;
        let session = Session {
            role: request.role,
            platform: request.platform,
            scenario: request.scenario,
            host_pid: request.host_pid,
            feature_id: request.feature_id,
        };
        tracing::info!(
            role = %session.role,
            platform = session.platform.as_deref().unwrap_or("?"),
            scenario = session.scenario.as_deref().unwrap_or("?"),
            host_pid = session.host_pid,
            feature_id = session.feature_id,
            "initialize"
        );
        let run = session.host_pid.zip(session.feature_id);
        *state.session.lock().unwrap_or_else(|p| p.into_inner()) = Some(session);
        // A fresh scenario: whatever an earlier one left is ended first (harmony.md §4.3).
        if let Err(e) = state.executor.reset(Some(run)).await {
            tracing::warn!("ending the previous scenario: {e}");
        }
        Ok::<_, ErrorObjectOwned>(true)
    })?;

    module.register_method("discover", |_, _, _| {
        Ok::<_, ErrorObjectOwned>(DiscoverResponse {
            steps: zerobuffer_steps::step_catalogue()
                .into_iter()
                .map(|(kind, pattern)| StepInfo {
                    kind: kind.to_owned(),
                    pattern,
                })
                .collect(),
        })
    })?;

    module.register_async_method("executeStep", |params, state, _| async move {
        let request = step_request(params.as_str())?;
        tracing::debug!(
            process = request.process.as_deref().unwrap_or("-"),
            kind = ?request.step_type,
            broadcast = request.is_broadcast,
            step = %request.step,
            "executeStep"
        );
        let outcome = state
            .executor
            .execute(StepCall {
                process: request.process,
                kind: request.step_type,
                text: request.step,
                parameters: request.parameters,
            })
            .await;
        let response = StepResponse {
            success: outcome.error.is_none(),
            error: outcome.error,
            logs: outcome.logs,
        };
        Ok::<_, ErrorObjectOwned>(response)
    })?;

    module.register_async_method("cleanup", |_, state, _| async move {
        // The announced run stays: a reused process keeps its buffer names.
        let ended = state.executor.reset(None).await;
        *state.session.lock().unwrap_or_else(|p| p.into_inner()) = None;
        // What failed only at the end (a background job) fails the scenario: our harmony
        // sends cleanup at every scenario end and reads this error; upstream swallows it.
        ended.map_err(|e| {
            tracing::warn!("cleanup: {e}");
            ErrorObjectOwned::owned(
                SCENARIO_END_FAILED,
                format!("the scenario ended with errors: {e}"),
                None::<()>,
            )
        })
    })?;

    module.register_method(SHUTDOWN, |_, _, _| ())?;
    // Any params: Harmony passes its serialised CancellationToken (harmony.md §2.7).
    module.register_method(CRASH, |_, _, _| ())?;
    Ok(())
}
