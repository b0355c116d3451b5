//! The Gherkin kind of a step and its numbers on the wire (harmony.md §2.3): 0 Given,
//! 1 When, 2 Then. And/But/`*` have no kind of their own: the orchestrator gives them the
//! previous step's; a serve that receives one looks the step up under every kind.

use serde::{Serialize, Serializer};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepType {
    Given,
    When,
    Then,
}

impl StepType {
    pub const ALL: [StepType; 3] = [StepType::Given, StepType::When, StepType::Then];

    /// The number Harmony sends.
    pub const fn number(self) -> u8 {
        match self {
            StepType::Given => 0,
            StepType::When => 1,
            StepType::Then => 2,
        }
    }

    pub fn from_number(n: u64) -> Option<Self> {
        match n {
            0 => Some(StepType::Given),
            1 => Some(StepType::When),
            2 => Some(StepType::Then),
            _ => None,
        }
    }

    /// A keyword in any case, surrounding blanks ignored: `Some(None)` for And/But/`*`
    /// (the kind is inherited), `None` for a word that is no keyword.
    pub fn from_keyword(keyword: &str) -> Option<Option<Self>> {
        match keyword.trim().to_ascii_lowercase().as_str() {
            "given" => Some(Some(StepType::Given)),
            "when" => Some(Some(StepType::When)),
            "then" => Some(Some(StepType::Then)),
            "and" | "but" | "*" | "" => Some(None),
            _ => None,
        }
    }

    /// A received `StepType`: a number or a keyword; absent, null and And/But give `None`.
    pub fn from_json(value: Option<&Value>) -> Result<Option<Self>, String> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(Self::from_number)
                .map(Some)
                .ok_or_else(|| format!("StepType {n} is not 0 (Given), 1 (When) or 2 (Then)")),
            Some(Value::String(s)) => Self::from_keyword(s)
                .ok_or_else(|| format!("StepType {s:?} is not Given, When, Then, And or But")),
            Some(other) => Err(format!(
                "StepType must be a number or a string, not {other}"
            )),
        }
    }

    /// The keyword, for messages and lookups (`Given`).
    pub const fn keyword(self) -> &'static str {
        match self {
            StepType::Given => "Given",
            StepType::When => "When",
            StepType::Then => "Then",
        }
    }
}

/// On the wire a step type is its number: StreamJsonRpc has no string enum converter.
impl Serialize for StepType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.number())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_keywords_and_json() {
        for t in StepType::ALL {
            assert_eq!(StepType::from_number(u64::from(t.number())), Some(t));
            assert_eq!(StepType::from_keyword(t.keyword()), Some(Some(t)));
            assert_eq!(json!(t), json!(t.number()));
        }
        assert_eq!(StepType::from_keyword(" AND "), Some(None));
        assert_eq!(StepType::from_keyword("Soit"), None);
        assert_eq!(
            StepType::from_json(Some(&json!(2))),
            Ok(Some(StepType::Then))
        );
        assert_eq!(StepType::from_json(Some(&json!("but"))), Ok(None));
        assert_eq!(StepType::from_json(None), Ok(None));
        for bad in [json!(7), json!(-1), json!("x"), json!([0])] {
            assert!(StepType::from_json(Some(&bad)).is_err(), "{bad}");
        }
    }
}
