//! `executeStep`'s request and response (harmony.md §2.3), typed on both sides: we send
//! PascalCase with every field present, and read any key case (Python answers camelCase,
//! C++ lower case), a missing `Error` as none, a `Level` as a number or a LogLevel name.

use serde::ser::{Serialize, SerializeStruct as _, Serializer};
use serde_json::{json, Map, Value};

use crate::{StepParameters, StepType};

/// What the orchestrator asks a serve to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRequest {
    /// The receiving role (for a broadcast, the receiver's own role).
    pub process: Option<String>,
    /// `None` for And/But or a request that names no type.
    pub step_type: Option<StepType>,
    /// The full step text without its keyword.
    pub step: String,
    pub parameters: StepParameters,
    pub is_broadcast: bool,
}

/// How a step went, as a serve reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepResponse {
    pub success: bool,
    pub error: Option<String>,
    pub logs: Vec<LogEntry>,
}

/// One log record of a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// ISO-8601, e.g. `2025-08-13T09:05:28.412Z`.
    pub timestamp: String,
    /// Microsoft `LogLevel`: 0 Trace, 1 Debug, 2 Information, 3 Warning, 4 Error,
    /// 5 Critical, 6 None.
    pub level: u8,
    pub message: String,
}

/// The value of `key` in `object`, whatever the case of its name.
pub fn field<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn object<'a>(value: &'a Value, what: &str) -> Result<&'a Map<String, Value>, String> {
    value
        .as_object()
        .ok_or_else(|| format!("{what} must be an object, not {value}"))
}

fn optional_string(object: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match field(object, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!("{key} must be a string, not {other}")),
    }
}

impl StepRequest {
    /// The request object (the one element of `params`), exactly the six keys upstream
    /// sends: the Python serve refuses any other.
    pub fn to_json(&self) -> Value {
        json!({
            "Process": self.process,
            "StepType": self.step_type.map_or(0, StepType::number),
            "Step": self.step,
            "Parameters": self.parameters.to_json(),
            "Context": {},
            "IsBroadcast": self.is_broadcast,
        })
    }

    /// Reads a request object; unknown keys are ignored.
    pub fn from_json(value: &Value) -> Result<Self, String> {
        let o = object(value, "the step request")?;
        let step = optional_string(o, "Step")?.ok_or("the step request has no Step text")?;
        let is_broadcast = match field(o, "IsBroadcast") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => return Err(format!("IsBroadcast must be a boolean, not {other}")),
        };
        Ok(StepRequest {
            process: optional_string(o, "Process")?,
            step_type: StepType::from_json(field(o, "StepType"))?,
            step,
            parameters: StepParameters::from_json(field(o, "Parameters"))
                .map_err(|e| e.to_string())?,
            is_broadcast,
        })
    }
}

impl StepResponse {
    /// The result object, every field present (`Context` is always `{}`).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("a step response always serialises")
    }

    /// Reads a serve's result; `Success` must be present (absent means failure upstream,
    /// which we report as a malformed answer instead).
    pub fn from_json(value: &Value) -> Result<Self, String> {
        let o = object(value, "the step result")?;
        let success = match field(o, "Success") {
            Some(Value::Bool(b)) => *b,
            Some(other) => return Err(format!("Success must be a boolean, not {other}")),
            None => return Err("the step result has no Success".into()),
        };
        let error = match field(o, "Error") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        };
        let logs = match field(o, "Logs") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(LogEntry::from_json)
                .collect::<Result<_, _>>()?,
            Some(other) => return Err(format!("Logs must be an array, not {other}")),
        };
        Ok(StepResponse {
            success,
            error,
            logs,
        })
    }
}

/// Serialised in the order of harmony.md's examples (`Success`, `Error`, `Context`, `Logs`),
/// so a serve's answer is byte for byte the documented one.
impl Serialize for StepResponse {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_struct("StepResponse", 4)?;
        out.serialize_field("Success", &self.success)?;
        out.serialize_field("Error", &self.error)?;
        out.serialize_field("Context", &Map::new())?;
        out.serialize_field("Logs", &self.logs)?;
        out.end()
    }
}

impl Serialize for LogEntry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_struct("LogEntry", 3)?;
        out.serialize_field("Timestamp", &self.timestamp)?;
        out.serialize_field("Level", &self.level)?;
        out.serialize_field("Message", &self.message)?;
        out.end()
    }
}

/// The LogLevel names .NET accepts besides the numbers.
const LEVELS: [&str; 7] = [
    "Trace",
    "Debug",
    "Information",
    "Warning",
    "Error",
    "Critical",
    "None",
];

impl LogEntry {
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("a log record always serialises")
    }

    /// Reads a log record. A log informs, it never decides a verdict: a level that is no
    /// number 0..=6 and no LogLevel name (`"INFO"`, which older serves send) is read as
    /// Information rather than failing the step it came with.
    pub fn from_json(value: &Value) -> Result<Self, String> {
        let o = object(value, "a log record")?;
        let level = match field(o, "Level") {
            Some(Value::Number(n)) => n.as_u64().filter(|n| *n < 7).map(|n| n as u8),
            Some(Value::String(s)) => LEVELS
                .iter()
                .position(|l| l.eq_ignore_ascii_case(s))
                .map(|i| i as u8),
            _ => None,
        };
        let text = |key| match field(o, key) {
            Some(Value::String(s)) => s.clone(),
            None | Some(Value::Null) => String::new(),
            Some(other) => other.to_string(),
        };
        Ok(LogEntry {
            timestamp: text("Timestamp"),
            level: level.unwrap_or(2),
            message: text("Message"),
        })
    }

    /// The level's name, for printing.
    pub fn level_name(&self) -> &'static str {
        LEVELS.get(usize::from(self.level)).copied().unwrap_or("?")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_and_read_every_case() {
        let request = StepRequest {
            process: Some("reader".into()),
            step_type: Some(StepType::Then),
            step: "the 'reader' process x".into(),
            parameters: StepParameters {
                table: Some(vec![vec!["a".into()]]),
                doc_string: None,
            },
            is_broadcast: false,
        };
        let sent = request.to_json();
        assert_eq!(sent.as_object().unwrap().len(), 6);
        assert_eq!(sent["StepType"], json!(2));
        assert_eq!(StepRequest::from_json(&sent).unwrap(), request);
        let camel = json!({"process": "w", "stepType": "and", "step": "y", "extra": 1});
        let r = StepRequest::from_json(&camel).unwrap();
        assert_eq!((r.step_type, r.is_broadcast), (None, false));
        for bad in [
            json!({}),
            json!({"Step": 5}),
            json!({"Step": "x", "StepType": 9}),
            json!([]),
        ] {
            assert!(StepRequest::from_json(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn responses_round_trip_and_read_every_serve() {
        let response = StepResponse {
            success: false,
            error: Some("boom".into()),
            logs: vec![LogEntry {
                timestamp: "2025-08-13T09:05:28.412Z".into(),
                level: 4,
                message: "m".into(),
            }],
        };
        assert_eq!(
            StepResponse::from_json(&response.to_json()).unwrap(),
            response
        );
        let python = json!({"success": true, "error": null, "logs": [{"level": "Information", "message": "x"}]});
        let r = StepResponse::from_json(&python).unwrap();
        assert!(r.success && r.logs[0].level == 2 && r.logs[0].level_name() == "Information");
        assert!(StepResponse::from_json(&json!({"Error": "x"})).is_err());
        let old = json!({"Success": true, "Logs": [{"Level": "INFO", "Message": 5}]});
        let r = StepResponse::from_json(&old).unwrap();
        assert_eq!((r.logs[0].level, r.logs[0].message.as_str()), (2, "5"));
    }
}
