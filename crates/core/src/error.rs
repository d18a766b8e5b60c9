//! Shared error kinds and source locations.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where a piece of input came from: a file, and when known the line, column
/// and YAML document inside it.
///
/// Line, column and document numbers are 1-based, as editors and compilers
/// show them. `Display` prints `file:line:col` (or as much of it as is known).
///
/// ```
/// use flotilla_core::Location;
///
/// let loc = Location::new("overlays/dev/us-east-2/kustomization.yaml", 12, 3);
/// assert_eq!(loc.to_string(), "overlays/dev/us-east-2/kustomization.yaml:12:3");
/// assert_eq!(Location::in_file("a.yaml").with_document(2).to_string(), "a.yaml (document 2)");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    /// The file, as a path relative to the repository or directory it was read from.
    pub file: String,
    /// 1-based line number, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// 1-based column number, when known (only shown together with a line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// 1-based index of the YAML document inside a multi-document file, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<u32>,
}

impl Location {
    /// A location with a file, line and column.
    pub fn new(file: impl Into<String>, line: u32, column: u32) -> Self {
        Location {
            file: file.into(),
            line: Some(line),
            column: Some(column),
            document: None,
        }
    }

    /// A location naming only a file.
    pub fn in_file(file: impl Into<String>) -> Self {
        Location {
            file: file.into(),
            ..Location::default()
        }
    }

    /// Returns this location with the given 1-based line (and no column).
    #[must_use]
    pub fn with_line(mut self, line: u32) -> Self {
        self.line = Some(line);
        self
    }

    /// Returns this location with the given 1-based document index.
    #[must_use]
    pub fn with_document(mut self, document: u32) -> Self {
        self.document = Some(document);
        self
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        match (self.line, self.column, self.document) {
            (Some(line), Some(column), _) => write!(f, ":{line}:{column}"),
            (Some(line), None, _) => write!(f, ":{line}"),
            (None, _, Some(document)) => write!(f, " (document {document})"),
            (None, _, None) => Ok(()),
        }
    }
}

/// Formats an optional location as a message suffix: ` at file:line:col`, or nothing.
fn at(location: &Option<Location>) -> String {
    match location {
        Some(location) => format!(" at {location}"),
        None => String::new(),
    }
}

/// Formats an optional JSON path as a message part: `` `path` ``, or nothing.
fn named(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!(" `{path}`")
    }
}

/// The error kinds shared by every Flotilla crate for malformed input.
///
/// Each variant names the field that is wrong (as a JSON path such as
/// `metadata.name`) and, when known, the [`Location`] of the input.
///
/// ```
/// use flotilla_core::{CoreError, Location};
///
/// let err = CoreError::MissingField {
///     field: "metadata.name".into(),
///     location: Some(Location::new("base/deploy.yaml", 1, 1)),
/// };
/// assert_eq!(err.to_string(), "missing field `metadata.name` at base/deploy.yaml:1:1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// A required field is absent (or empty).
    #[error("missing field `{field}`{}", at(.location))]
    MissingField {
        /// JSON path of the field, e.g. `metadata.name`.
        field: String,
        /// Where the document came from, when known.
        location: Option<Location>,
    },

    /// A field holds a value of the wrong JSON type.
    #[error("field `{field}` must be {expected}, found {found}{}", at(.location))]
    InvalidFieldType {
        /// JSON path of the field.
        field: String,
        /// The expected type, e.g. `a string`.
        expected: &'static str,
        /// The JSON type that was found, e.g. `a number`.
        found: &'static str,
        /// Where the document came from, when known.
        location: Option<Location>,
    },

    /// A field holds a value of the right type that is not acceptable.
    #[error("invalid value {value:?} for `{field}`: {reason}{}", at(.location))]
    InvalidValue {
        /// JSON path of the field.
        field: String,
        /// The offending value (never a secret: those are replaced by `<redacted>`).
        value: String,
        /// Why it is not acceptable.
        reason: String,
        /// Where the document came from, when known.
        location: Option<Location>,
    },

    /// An `apiVersion` that is not `version` or `group/version`.
    #[error("invalid apiVersion {api_version:?}: {reason}{}", at(.location))]
    InvalidApiVersion {
        /// The apiVersion as written.
        api_version: String,
        /// Why it is not valid.
        reason: String,
        /// Where the document came from, when known.
        location: Option<Location>,
    },

    /// A document that should be a Kubernetes object (a mapping) is something else.
    #[error("expected a Kubernetes object (a mapping), found {found}{}", at(.location))]
    NotAnObject {
        /// The JSON type that was found.
        found: &'static str,
        /// Where the document came from, when known.
        location: Option<Location>,
    },

    /// An ApplicationSet generator entry that does not hold exactly one generator.
    #[error("generator{}: {reason}", named(.path))]
    InvalidGenerator {
        /// JSON path of the generator entry, e.g. `spec.generators[0]` (may be empty).
        path: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl CoreError {
    /// The location attached to this error, if any.
    pub fn location(&self) -> Option<&Location> {
        match self {
            CoreError::MissingField { location, .. }
            | CoreError::InvalidFieldType { location, .. }
            | CoreError::InvalidValue { location, .. }
            | CoreError::InvalidApiVersion { location, .. }
            | CoreError::NotAnObject { location, .. } => location.as_ref(),
            CoreError::InvalidGenerator { .. } => None,
        }
    }

    /// Attaches `new` as the location of this error unless it already has one.
    #[must_use]
    pub fn with_location(mut self, new: Option<&Location>) -> Self {
        if let Some(new) = new {
            match &mut self {
                CoreError::MissingField { location, .. }
                | CoreError::InvalidFieldType { location, .. }
                | CoreError::InvalidValue { location, .. }
                | CoreError::InvalidApiVersion { location, .. }
                | CoreError::NotAnObject { location, .. } => {
                    if location.is_none() {
                        *location = Some(new.clone());
                    }
                }
                CoreError::InvalidGenerator { .. } => {}
            }
        }
        self
    }
}

/// The JSON type of a value as an English noun phrase, for error messages
/// (`a string`, `a number`, `a list`, ...).
pub fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}
