//! Harmony's JSON-RPC messages: the envelope check done before dispatch, the request
//! parameters in every shape the real clients send, and the results we answer with
//! (harmony.md §1.3, §2).
//!
//! Requests: `params` may be `[ {…} ]` (StreamJsonRpc, positional) or `{…}`; keys are matched
//! case-insensitively (PascalCase and camelCase alike); unknown keys are ignored; `StepType` is
//! 0/1/2 or a keyword in any case. Results use PascalCase keys, as the shared C# records do.

use harmony_wire::StepRequest;
use jsonrpsee::types::{ErrorCode, ErrorObjectOwned};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What to do with one framed body.
#[derive(Debug, PartialEq)]
pub enum Incoming {
    /// A request with an id, ready for the RPC module.
    Call { method: String, body: String },
    /// A message without an id: never answered.
    Notification { method: String },
    /// A malformed message, answered with this error response.
    Reject(String),
}

/// Checks the envelope of `body` so that every malformed message gets the right JSON-RPC
/// error: -32700 for bytes that are not JSON text, -32600 for JSON that is not one valid
/// request object (batches included: Harmony never sends them).
pub fn classify(body: &[u8]) -> Incoming {
    let Ok(text) = std::str::from_utf8(body) else {
        return Incoming::Reject(error_response(
            &Value::Null,
            ErrorCode::ParseError.code(),
            "Parse error: the body is not valid UTF-8",
        ));
    };
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return Incoming::Reject(error_response(
                &Value::Null,
                ErrorCode::ParseError.code(),
                &format!("Parse error: {e}"),
            ))
        }
    };
    let invalid = |id: &Value, why: &str| {
        Incoming::Reject(error_response(
            id,
            ErrorCode::InvalidRequest.code(),
            &format!("Invalid request: {why}"),
        ))
    };
    let object = match value {
        Value::Object(object) => object,
        Value::Array(_) => return invalid(&Value::Null, "batch requests are not supported"),
        _ => return invalid(&Value::Null, "the message is not a JSON object"),
    };
    let id = match object.get("id") {
        None => None,
        Some(id @ (Value::String(_) | Value::Null)) => Some(id.clone()),
        Some(id @ Value::Number(n)) if n.is_u64() => Some(id.clone()),
        Some(_) => {
            return invalid(
                &Value::Null,
                "id must be a non-negative integer or a string",
            )
        }
    };
    let reply_id = id.clone().unwrap_or(Value::Null);
    if object.get("jsonrpc") != Some(&Value::String("2.0".into())) {
        return invalid(&reply_id, "\"jsonrpc\" must be \"2.0\"");
    }
    let method = match object.get("method") {
        Some(Value::String(m)) => m.clone(),
        _ => return invalid(&reply_id, "\"method\" must be a string"),
    };
    match object.get("params") {
        None | Some(Value::Array(_) | Value::Object(_)) => {}
        Some(_) => return invalid(&reply_id, "\"params\" must be an array or an object"),
    }
    match id {
        None => Incoming::Notification { method },
        Some(_) => Incoming::Call {
            method,
            body: text.to_owned(),
        },
    }
}

/// A JSON-RPC error response (`code` and `message`, no data).
pub fn error_response(id: &Value, code: i32, message: &str) -> String {
    #[derive(Serialize)]
    struct ErrorBody<'a> {
        code: i32,
        message: &'a str,
    }
    #[derive(Serialize)]
    struct Response<'a> {
        jsonrpc: &'static str,
        id: &'a Value,
        error: ErrorBody<'a>,
    }
    serde_json::to_string(&Response {
        jsonrpc: "2.0",
        id,
        error: ErrorBody { code, message },
    })
    .expect("an error response always serialises")
}

/// An invalid-params (-32602) error.
pub fn invalid_params(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(ErrorCode::InvalidParams.code(), message.into(), None::<()>)
}

/// The one object of a method's params, from `[ {…} ]` or `{…}`, with lower-cased keys.
pub fn object_param(params: Option<&str>) -> Result<Map<String, Value>, ErrorObjectOwned> {
    let value: Value = match params {
        None => {
            return Err(invalid_params(
                "params are missing: expected [ {…} ] or {…}",
            ))
        }
        Some(text) => serde_json::from_str(text)
            .map_err(|e| invalid_params(format!("params are not JSON: {e}")))?,
    };
    let object = match value {
        Value::Object(object) => object,
        Value::Array(mut items) if items.len() == 1 => match items.pop() {
            Some(Value::Object(object)) => object,
            _ => {
                return Err(invalid_params(
                    "the one element of params must be an object",
                ))
            }
        },
        Value::Array(items) => {
            return Err(invalid_params(format!(
                "params must hold exactly one object, found {} elements",
                items.len()
            )))
        }
        _ => return Err(invalid_params("params must be [ {…} ] or {…}")),
    };
    Ok(object
        .into_iter()
        .map(|(key, value)| (key.to_ascii_lowercase(), value))
        .collect())
}

/// Deserialises the (lower-cased) params object into `T`.
pub fn parse_param<T: for<'de> Deserialize<'de>>(
    params: Option<&str>,
) -> Result<T, ErrorObjectOwned> {
    let object = object_param(params)?;
    serde_json::from_value(Value::Object(object))
        .map_err(|e| invalid_params(format!("invalid params: {e}")))
}

/// `initialize`'s `InitializeRequest` (keys lower-cased by [`object_param`]).
#[derive(Debug, Clone, Deserialize)]
pub struct InitializeRequest {
    pub role: String,
    #[serde(default)]
    pub platform: Option<String>,
    #[serde(default)]
    pub scenario: Option<String>,
    #[serde(default, rename = "hostpid")]
    pub host_pid: Option<u64>,
    #[serde(default, rename = "featureid")]
    pub feature_id: Option<u64>,
}

/// `executeStep`'s request ([`harmony_wire::StepRequest`]: keys in any case, `StepType`
/// 0/1/2 or a keyword, `Parameters` with the step's table and doc string if the orchestrator
/// sends them); anything it cannot read is invalid params.
pub fn step_request(params: Option<&str>) -> Result<StepRequest, ErrorObjectOwned> {
    let object = object_param(params)?;
    StepRequest::from_json(&Value::Object(object)).map_err(invalid_params)
}

/// `discover`'s result.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DiscoverResponse {
    pub steps: Vec<StepInfo>,
}

/// One binding: its keyword in lower case and its (anchored) regex.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StepInfo {
    #[serde(rename = "Type")]
    pub kind: String,
    pub pattern: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use harmony_wire::StepType;
    use serde_json::json;

    fn rejected(body: &str) -> Value {
        match classify(body.as_bytes()) {
            Incoming::Reject(text) => serde_json::from_str(&text).unwrap(),
            other => panic!("{body}: expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn envelopes_are_checked() {
        assert_eq!(
            classify(br#"{"jsonrpc":"2.0","id":2,"method":"health","params":[]}"#),
            Incoming::Call {
                method: "health".into(),
                body: r#"{"jsonrpc":"2.0","id":2,"method":"health","params":[]}"#.into()
            }
        );
        assert_eq!(
            classify(br#"{"jsonrpc":"2.0","method":"shutdown"}"#),
            Incoming::Notification {
                method: "shutdown".into()
            }
        );
        assert_eq!(rejected("{nope")["error"]["code"], -32700);
        assert_eq!(rejected("{nope")["id"], Value::Null);
        let e = rejected(r#"[{"jsonrpc":"2.0","id":1,"method":"health"}]"#);
        assert_eq!(
            (e["error"]["code"].clone(), e["id"].clone()),
            (json!(-32600), Value::Null)
        );
        assert_eq!(rejected("42")["error"]["code"], -32600);
        let e = rejected(r#"{"jsonrpc":"1.0","id":7,"method":"health"}"#);
        assert_eq!(
            (e["error"]["code"].clone(), e["id"].clone()),
            (json!(-32600), json!(7))
        );
        assert_eq!(
            rejected(r#"{"jsonrpc":"2.0","id":7}"#)["error"]["code"],
            -32600
        );
        assert_eq!(
            rejected(r#"{"jsonrpc":"2.0","id":7,"method":"x","params":3}"#)["error"]["code"],
            -32600
        );
        assert_eq!(
            rejected(r#"{"jsonrpc":"2.0","id":-1,"method":"x"}"#)["id"],
            Value::Null
        );
        match classify(b"\xff\xfe{}") {
            Incoming::Reject(text) => assert!(text.contains("-32700"), "{text}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn step_requests_in_every_shape() {
        let pascal = r#"[{"Process":"reader","StepType":0,"Step":"x","Parameters":{},"Context":{},"IsBroadcast":true}]"#;
        let r = step_request(Some(pascal)).unwrap();
        assert_eq!(r.process.as_deref(), Some("reader"));
        assert_eq!(r.step_type, Some(StepType::Given));
        assert!(r.is_broadcast);
        let camel = r#"{"process":"w","stepType":"then","step":"y","table":[1],"extra":null}"#;
        let r = step_request(Some(camel)).unwrap();
        assert_eq!((r.step_type, r.step.as_str()), (Some(StepType::Then), "y"));
        let and = r#"[{"step":"z","stepType":"And"}]"#;
        assert_eq!(step_request(Some(and)).unwrap().step_type, None);
        for bad in [
            "[]",
            "[{}]",
            r#"[{"Step":5}]"#,
            r#"[{"Step":"x","StepType":3}]"#,
            r#"[{"Step":"x","StepType":"sometimes"}]"#,
            r#"[{"Step":"x"},{"Step":"y"}]"#,
            r#"["x"]"#,
        ] {
            let e = step_request(Some(bad)).unwrap_err();
            assert_eq!(e.code(), -32602, "{bad}");
        }
        assert_eq!(step_request(None).unwrap_err().code(), -32602);
    }

    #[test]
    fn initialize_requests() {
        let harmony = r#"[{"Role":"reader","Platform":"rust","Scenario":"test","HostPid":41217,"FeatureId":1,"TestRunId":"41217_1"}]"#;
        let r: InitializeRequest = parse_param(Some(harmony)).unwrap();
        assert_eq!(
            (r.role.as_str(), r.host_pid, r.feature_id),
            ("reader", Some(41217), Some(1))
        );
        let camel = r#"{"role":"writer","hostPid":3,"featureId":4}"#;
        let r: InitializeRequest = parse_param(Some(camel)).unwrap();
        assert_eq!((r.host_pid, r.feature_id), (Some(3), Some(4)));
        let e = parse_param::<InitializeRequest>(Some(r#"[{"Role":"r","HostPid":"x"}]"#));
        assert_eq!(e.unwrap_err().code(), -32602);
    }

    #[test]
    fn responses_use_harmony_field_names() {
        let r = harmony_wire::StepResponse {
            success: true,
            error: None,
            logs: vec![],
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"Success":true,"Error":null,"Context":{},"Logs":[]}"#
        );
        let d = DiscoverResponse {
            steps: vec![StepInfo {
                kind: "given".into(),
                pattern: "^a$".into(),
            }],
        };
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#"{"Steps":[{"Type":"given","Pattern":"^a$"}]}"#
        );
    }
}
