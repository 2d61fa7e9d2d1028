//! Diagnostics: the errors and warnings of `check` and `compile`.

use serde::{Deserialize, Serialize};

/// One error or warning about a policy file.
///
/// `line` and `column` are 1-based. When `field` names a rule
/// (`eligibility`, `applicability`, `suitability`, `context_weight`,
/// `propensity`), they point into that rule's expression; otherwise into the
/// YAML file (they are absent when the problem has no single place).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// A stable machine-readable kind, e.g. `yaml`, `unknown_field`,
    /// `expression`, `consent`, `unknown_trait`, `invalid_value`.
    pub code: String,
    /// The whole message, one line, lowercase, user input in backticks.
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

impl Diagnostic {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_string(),
            message: message.into(),
            action: None,
            field: None,
            line: None,
            column: None,
        }
    }

    pub fn at_action(mut self, action: &str, field: Option<&str>) -> Self {
        self.action = Some(action.to_string());
        self.field = field.map(str::to_string);
        self
    }

    pub fn at(mut self, line: usize, column: usize) -> Self {
        self.line = Some(line);
        self.column = Some(column);
        self
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The successful answer of `check`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    pub warnings: Vec<Diagnostic>,
}
