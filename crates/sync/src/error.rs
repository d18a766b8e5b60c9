//! Errors of the sync engine. Every variant names the cluster and, when one
//! is involved, the resource.

use std::fmt;

use flotilla_core::CoreError;

/// Why the desired manifests of an Application could not be produced (a
/// render error, a Git or Vault outage, ...). Handed to the engine instead of
/// manifests; the engine then never deletes anything.
#[derive(Debug)]
pub struct SourceError(Box<dyn std::error::Error + Send + Sync>);

impl SourceError {
    /// Wraps any error.
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        SourceError(error.into())
    }

    /// A source error from a message.
    pub fn msg(message: impl Into<String>) -> Self {
        SourceError(message.into().into())
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for SourceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// One resource that failed validation (server-side dry run).
#[derive(Debug, Clone)]
pub struct ValidationFailure {
    /// The resource, as `group/version/Kind namespace/name`.
    pub resource: String,
    /// Where its manifest came from, when known.
    pub location: Option<String>,
    /// The server's reason.
    pub reason: String,
}

impl fmt::Display for ValidationFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.resource)?;
        if let Some(location) = &self.location {
            write!(f, " (from {location})")?;
        }
        write!(f, ": {}", self.reason)
    }
}

fn join_failures(failures: &[ValidationFailure]) -> String {
    failures
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn join_errors(errors: &[SyncError]) -> String {
    const SHOWN: usize = 5;
    let mut text = errors
        .iter()
        .take(SHOWN)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    if errors.len() > SHOWN {
        text.push_str(&format!("; and {} more", errors.len() - SHOWN));
    }
    text
}

/// An error of the sync engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The desired state is absent: rendering or fetching the source failed.
    /// Nothing was applied and nothing was pruned.
    #[error("application {app}: desired manifests are unavailable, nothing was changed: {source}")]
    Source {
        /// The Application.
        app: String,
        /// What failed.
        #[source]
        source: SourceError,
    },

    /// The destination matches no known cluster.
    #[error("unknown destination {destination}; known clusters: {known}")]
    UnknownDestination {
        /// The destination as written (`server` or `name`).
        destination: String,
        /// The clusters the registry knows, comma separated.
        known: String,
    },

    /// A cluster's connection settings are unusable.
    #[error("cluster {cluster}: {message}")]
    ClusterConfig {
        /// The cluster.
        cluster: String,
        /// What is wrong.
        message: String,
    },

    /// A request to a cluster failed outside of any single resource
    /// (discovery, listing live objects).
    #[error("cluster {cluster}: {operation} failed: {message}")]
    Request {
        /// The cluster.
        cluster: String,
        /// What was attempted.
        operation: String,
        /// The reason.
        message: String,
    },

    /// A manifest is malformed (missing name, bad apiVersion, ...).
    #[error("invalid manifest: {source}")]
    Manifest {
        /// What is wrong, with the file and line when known.
        #[from]
        source: CoreError,
    },

    /// The kind of a manifest is not served by the cluster.
    #[error(
        "{resource} on cluster {cluster}: the server does not serve kind {kind} in {api_version}"
    )]
    UnknownKind {
        /// The cluster.
        cluster: String,
        /// The resource.
        resource: String,
        /// The kind.
        kind: String,
        /// The apiVersion.
        api_version: String,
    },

    /// An operation on one resource failed.
    #[error("{resource} on cluster {cluster}: {operation} failed: {message}")]
    Resource {
        /// The cluster.
        cluster: String,
        /// The resource.
        resource: String,
        /// `apply`, `dry-run`, `delete`, `create`, `get`.
        operation: String,
        /// The server's reason (secret values redacted).
        message: String,
        /// HTTP status code, when the server answered.
        code: Option<u16>,
    },

    /// Server-side apply found fields owned by another field manager.
    #[error(
        "{resource} on cluster {cluster}: apply conflicts with field manager(s) {}: {message} \
         (set the sync option Force=true or ServerSideApply=true to take the fields over)",
        .managers.join(", ")
    )]
    Conflict {
        /// The cluster.
        cluster: String,
        /// The resource.
        resource: String,
        /// The other field managers.
        managers: Vec<String>,
        /// The server's message.
        message: String,
    },

    /// At least one resource failed the server-side dry run: nothing was applied.
    #[error("cluster {cluster}: validation failed, nothing was applied: {}", join_failures(.failures))]
    Validation {
        /// The cluster.
        cluster: String,
        /// Each failing resource and the server's reason.
        failures: Vec<ValidationFailure>,
    },

    /// A resource (or hook) became Degraded while the sync waited for it.
    #[error("{resource} on cluster {cluster} is {health}: {message}")]
    Unhealthy {
        /// The cluster.
        cluster: String,
        /// The resource.
        resource: String,
        /// Its health (`Degraded`, ...).
        health: String,
        /// The health message.
        message: String,
    },

    /// A wait did not finish in time.
    #[error("cluster {cluster}: timed out after {seconds}s waiting for {what}")]
    Timeout {
        /// The cluster.
        cluster: String,
        /// What was waited for.
        what: String,
        /// How long.
        seconds: u64,
    },

    /// Pruning was refused (for example: it would delete every resource of
    /// the application and `allowEmpty` is not set).
    #[error("application {app}: refusing to prune: {reason}")]
    PruneRefused {
        /// The Application.
        app: String,
        /// Why.
        reason: String,
    },

    /// An `ignoreDifferences` rule is invalid.
    #[error("ignoreDifferences: {message}")]
    IgnoreRule {
        /// What is wrong (the expression and the parser's message).
        message: String,
    },

    /// The cluster cache has not listed every watched type since it started
    /// or was interrupted: its view may be partial or stale, so nothing is
    /// compared and nothing is pruned.
    #[error("cluster {cluster}: the cluster cache is not synced ({reason}); comparison is Unknown and nothing is pruned until it is")]
    CacheNotSynced {
        /// The cluster.
        cluster: String,
        /// What is not synced, and why when known.
        reason: String,
    },

    /// The operation was cancelled.
    #[error("cancelled")]
    Cancelled,

    /// Several errors (one per failed resource of a wave).
    #[error("{}", join_errors(.0))]
    Multiple(Vec<SyncError>),
}

impl SyncError {
    /// True when retrying may help: network errors, server errors (5xx),
    /// throttling, timeouts. Validation failures, conflicts and malformed
    /// manifests are permanent.
    pub fn is_transient(&self) -> bool {
        match self {
            SyncError::Request { .. }
            | SyncError::Timeout { .. }
            | SyncError::CacheNotSynced { .. } => true,
            SyncError::Resource { code, .. } => match code {
                None => true,
                Some(code) => *code >= 500 || *code == 429 || *code == 409,
            },
            SyncError::Multiple(errors) => errors.iter().any(SyncError::is_transient),
            _ => false,
        }
    }
}

/// A `Result` with a [`SyncError`].
pub type Result<T, E = SyncError> = std::result::Result<T, E>;
