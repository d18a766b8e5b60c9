//! What the controller shows: the JSON shapes of its HTTP API, shared by
//! the server and by clients (`flotilla app ...`). Plain data, no I/O.
//!
//! Names follow Argo CD's (`Synced`/`OutOfSync`/`Unknown`,
//! `Healthy`/`Progressing`/`Degraded`/`Suspended`/`Missing`/`Unknown`,
//! operation phases `Running`/`Succeeded`/`Failed`/`Interrupted`).

use serde::{Deserialize, Serialize};

/// One Application as the controller sees it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppView {
    /// Application name.
    pub name: String,
    /// Project (`default` when unset).
    pub project: String,
    /// The ApplicationSet that generated it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_set: Option<String>,
    /// Repository URL of the first rendered source.
    pub repo: String,
    /// Path of the first rendered source.
    pub path: String,
    /// Target revision as written (`HEAD`, a branch, a tag, a commit).
    pub target_revision: String,
    /// The commit last compared (empty before the first refresh).
    pub revision: String,
    /// Destination cluster name (as resolved, e.g. `lab-eu-west-1`).
    pub cluster: String,
    /// Destination server URL as written (may be empty when `name` is used).
    pub server: String,
    /// Destination namespace.
    pub namespace: String,
    /// `Synced`, `OutOfSync` or `Unknown`.
    pub sync: String,
    /// Aggregated health: `Healthy`, `Progressing`, `Degraded`,
    /// `Suspended`, `Missing` or `Unknown`.
    pub health: String,
    /// Automated sync as written in the spec.
    pub automated: bool,
    /// `automated.prune`.
    pub prune: bool,
    /// `automated.selfHeal`.
    pub self_heal: bool,
    /// Automated sync turned off by a rollback (Argo CD does the same).
    pub auto_sync_disabled: bool,
    /// Problems: comparison errors, sync errors, source errors.
    #[serde(default)]
    pub conditions: Vec<ConditionView>,
    /// When it was last reconciled (RFC 3339), empty before the first.
    pub reconciled_at: String,
    /// The last (or running) operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<OperationView>,
    /// Resources with their status (only in single-application answers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceView>,
}

/// A condition on an Application (Argo CD's `status.conditions`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionView {
    /// `ComparisonError`, `SyncError`, `InvalidSpecError`, `SharedResourceWarning`...
    #[serde(rename = "type")]
    pub kind: String,
    /// What went wrong, naming the file and line, resource and cluster, or
    /// Vault path. Never a secret value.
    pub message: String,
    /// When it was last seen (RFC 3339).
    pub time: String,
}

/// One resource of an Application.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceView {
    /// API group (empty for the core group).
    pub group: String,
    /// Kind.
    pub kind: String,
    /// Namespace (empty for cluster-scoped).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `Synced`, `OutOfSync`, `Missing` or `Extraneous`.
    pub status: String,
    /// Health, when the kind has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
    /// What the last operation did to it (`Created`, `Configured`,
    /// `Pruned`, `Failed`...), when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// A message (reason of a failure...).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// A sync operation: running, or finished (then it is also a history entry).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationView {
    /// History id (increasing; `rollback` takes one).
    pub id: i64,
    /// Application name.
    pub app: String,
    /// The commit synced.
    pub revision: String,
    /// `Running`, `Succeeded`, `Failed` or `Interrupted` (the controller
    /// stopped in the middle; the next reconcile converges).
    pub phase: String,
    /// Who or what started it: `automated`, `self-heal`, `webhook`,
    /// `api`, `rollback to <id>`.
    pub trigger: String,
    /// Start (RFC 3339).
    pub started_at: String,
    /// End (RFC 3339), empty while running.
    #[serde(default)]
    pub finished_at: String,
    /// Result message (the error that stopped it, or a summary).
    #[serde(default)]
    pub message: String,
    /// Per resource results (omitted in history lists).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceView>,
}

/// One ApplicationSet.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppSetView {
    /// Name.
    pub name: String,
    /// Where it was read from (`repo@revision:path` or a file).
    pub source: String,
    /// The Applications it generates, by name.
    pub applications: Vec<String>,
    /// The last generation error, if the last attempt failed (in which case
    /// the Applications it generated before are kept as they were).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A destination cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterView {
    /// Name (the kubeconfig context, or the configured name).
    pub name: String,
    /// API server URL.
    pub server: String,
    /// Applications deployed to it.
    pub applications: usize,
}

/// Body of `POST /api/v1/applications/{name}/sync`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncRequest {
    /// Prune resources no longer desired (default: `automated.prune`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<bool>,
    /// Validate only.
    #[serde(default)]
    pub dry_run: bool,
}

/// Body of `POST /api/v1/applications/{name}/rollback`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollbackRequest {
    /// The history id to return to.
    pub id: i64,
    /// Prune resources the earlier revision does not have.
    #[serde(default)]
    pub prune: bool,
}

/// An error answer: `{"error": "..."}` with a 4xx/5xx status.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorView {
    /// What went wrong.
    pub error: String,
}
