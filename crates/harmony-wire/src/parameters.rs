//! A step's data table and doc string in the `Parameters` object of `executeStep`.
//!
//! Upstream Harmony drops both and always sends `Parameters: {}`. Ours sends them, as
//! strings because every serve types `Parameters` as a string → string map (the C# record is
//! `Dictionary<string,string>`, the Python model `Dict[str, str]`), so foreign serves keep
//! accepting the request and ignore what they do not know:
//!
//! ```json
//! "Parameters": {
//!   "DataTable": "[[\"frame_size\",\"iterations\"],[\"1KB\",\"10000\"]]",
//!   "DocString": "free text"
//! }
//! ```
//!
//! `DataTable` is the table as JSON text: an array of rows, each an array of cell strings,
//! the header row first, exactly as the feature file has them (cells trimmed). Either key is
//! present only when the step has that argument. Keys are matched case-insensitively.

use serde_json::{Map, Value};

/// The data table key of `Parameters`.
pub const DATA_TABLE: &str = "DataTable";
/// The doc string key of `Parameters`.
pub const DOC_STRING: &str = "DocString";

/// What a step carries besides its text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepParameters {
    /// Rows of the data table, the header row first.
    pub table: Option<Vec<Vec<String>>>,
    pub doc_string: Option<String>,
}

/// A `Parameters` object that names a table or doc string it does not hold in our shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParametersError {
    #[error("Parameters must be an object of strings, not {0}")]
    NotAnObject(String),
    #[error("Parameters.{key} must be a string, not {found}")]
    NotAString { key: &'static str, found: String },
    #[error("Parameters.DataTable is not a JSON array of rows of strings: {0}")]
    BadTable(String),
    #[error(
        "Parameters.DataTable rows differ in length (row {row} has {len} cells, the first {first})"
    )]
    Ragged {
        row: usize,
        len: usize,
        first: usize,
    },
}

impl StepParameters {
    /// The `Parameters` object to send.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        if let Some(table) = &self.table {
            let text = serde_json::to_string(table).expect("strings always serialise");
            map.insert(DATA_TABLE.to_owned(), Value::String(text));
        }
        if let Some(doc) = &self.doc_string {
            map.insert(DOC_STRING.to_owned(), Value::String(doc.clone()));
        }
        Value::Object(map)
    }

    /// Reads a received `Parameters` (absent and `null` mean none). Other keys are ignored.
    pub fn from_json(value: Option<&Value>) -> Result<Self, ParametersError> {
        let map = match value {
            None | Some(Value::Null) => return Ok(Self::default()),
            Some(Value::Object(map)) => map,
            Some(other) => return Err(ParametersError::NotAnObject(kind(other))),
        };
        let text = |key: &'static str| -> Result<Option<&str>, ParametersError> {
            match map.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
                None | Some((_, Value::Null)) => Ok(None),
                Some((_, Value::String(s))) => Ok(Some(s)),
                Some((_, other)) => Err(ParametersError::NotAString {
                    key,
                    found: kind(other),
                }),
            }
        };
        let table = match text(DATA_TABLE)? {
            None => None,
            Some(json) => {
                let rows: Vec<Vec<String>> = serde_json::from_str(json)
                    .map_err(|e| ParametersError::BadTable(e.to_string()))?;
                let first = rows.first().map_or(0, Vec::len);
                if let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != first) {
                    return Err(ParametersError::Ragged {
                        row: i + 1,
                        len: r.len(),
                        first,
                    });
                }
                Some(rows)
            }
        };
        Ok(StepParameters {
            table,
            doc_string: text(DOC_STRING)?.map(str::to_owned),
        })
    }
}

fn kind(value: &Value) -> String {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_and_stays_a_string_map() {
        let p = StepParameters {
            table: Some(vec![
                vec!["a".into(), "b".into()],
                vec!["1".into(), "x y".into()],
            ]),
            doc_string: Some("text".into()),
        };
        let sent = p.to_json();
        assert!(sent.as_object().unwrap().values().all(Value::is_string));
        assert_eq!(StepParameters::from_json(Some(&sent)).unwrap(), p);
        assert_eq!(StepParameters::default().to_json(), json!({}));
    }

    #[test]
    fn reads_what_others_send_and_rejects_what_it_cannot_read() {
        let none = StepParameters::default();
        assert_eq!(StepParameters::from_json(None).unwrap(), none);
        assert_eq!(StepParameters::from_json(Some(&json!({}))).unwrap(), none);
        let other = json!({"foo": "bar", "datatable": "[[\"h\"]]"});
        let p = StepParameters::from_json(Some(&other)).unwrap();
        assert_eq!(p.table, Some(vec![vec!["h".to_owned()]]));
        for bad in [
            json!([1]),
            json!({"DataTable": [["a"]]}),
            json!({"DataTable": "not json"}),
            json!({"DataTable": "[[\"a\",\"b\"],[\"c\"]]"}),
            json!({"DocString": 3}),
        ] {
            assert!(StepParameters::from_json(Some(&bad)).is_err(), "{bad}");
        }
    }
}
