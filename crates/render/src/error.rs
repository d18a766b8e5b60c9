//! The one error type of this crate.

use flotilla_core::Location;
use flotilla_git::GitError;

/// Why rendering failed. Every variant names the file (and line, when the
/// input has one) that is to blame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// The input is wrong: bad YAML, an unknown field, a missing file, a
    /// patch that matches nothing, a cycle, ...
    #[error("{location}: {message}")]
    Input {
        /// The file (and line) to blame.
        location: Location,
        /// What is wrong.
        message: String,
    },

    /// Reading the snapshot failed (a path escaping the repository, a
    /// symbolic link leading out of it, a file over the size limit, ...).
    #[error("{location}: {source}")]
    Read {
        /// The file that asked for the read (a kustomization and the line of
        /// the entry), or the path itself.
        location: Location,
        /// The snapshot's error.
        #[source]
        source: Box<GitError>,
    },
}

impl RenderError {
    /// An input error at a location.
    pub fn input(location: Location, message: impl Into<String>) -> Self {
        RenderError::Input {
            location,
            message: message.into(),
        }
    }

    /// The location the error names.
    pub fn location(&self) -> &Location {
        match self {
            RenderError::Input { location, .. } | RenderError::Read { location, .. } => location,
        }
    }

    /// Prefixes the message with context (which kustomization, which step).
    #[must_use]
    pub fn context(self, what: impl std::fmt::Display) -> Self {
        match self {
            RenderError::Input { location, message } => RenderError::Input {
                location,
                message: format!("{what}: {message}"),
            },
            other => other,
        }
    }
}
