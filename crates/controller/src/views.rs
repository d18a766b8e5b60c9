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
    /// The Application's labels (for filters).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
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
    /// Its generators as written (JSON), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub generators: Vec<serde_json::Value>,
    /// What each parameter set produced: the generator path, the source of
    /// the parameters, the parameters and the Application made from them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<GeneratedView>,
    /// The last generation error, if the last attempt failed (in which case
    /// the Applications it generated before are kept as they were).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One parameter set of an ApplicationSet and the Application made from it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GeneratedView {
    /// The generator, e.g. `spec.generators[0]`.
    pub generator: String,
    /// Where the parameters came from (`list element 2`, `git file ...`).
    pub source: String,
    /// The parameters.
    pub parameters: serde_json::Map<String, serde_json::Value>,
    /// The Application's name.
    pub application: String,
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
    /// Labels (a `region` label among them, as the clusters generator sees them).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
    /// Kubernetes version (`v1.32.3`), once discovered.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// `Connected` (its cache is complete), `Connecting` or `Unknown`
    /// (nothing has used it yet).
    #[serde(default)]
    pub state: String,
    /// The cluster cache, once started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheView>,
}

/// What a cluster cache holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheView {
    /// Objects held.
    pub objects: usize,
    /// Their approximate size in bytes.
    pub bytes: usize,
    /// Watches open.
    pub watches: usize,
    /// Whether every watch has listed.
    pub synced: bool,
}

/// A Git repository the Applications read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryView {
    /// URL as written.
    pub url: String,
    /// Revisions the Applications ask for and the commit each resolved to.
    pub revisions: Vec<RevisionView>,
    /// Applications reading it.
    pub applications: usize,
    /// The last fetch error, if the last fetch failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A revision and what it resolved to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevisionView {
    /// As written (`HEAD`, `main`, a tag).
    pub revision: String,
    /// The commit, when resolved.
    pub commit: String,
    /// The commit's subject line, when the cache holds it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subject: String,
}

/// One resource of an Application in detail.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceDetail {
    /// API group.
    pub group: String,
    /// Kind.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Sync status (from the last comparison), empty for a child.
    #[serde(default)]
    pub status: String,
    /// Health, when the kind has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
    /// The live object as YAML (no managedFields; Secret values masked),
    /// empty when absent.
    #[serde(default)]
    pub live: String,
    /// The desired object as YAML (Secret values masked), empty for
    /// children and extraneous resources.
    #[serde(default)]
    pub desired: String,
    /// The diff, live to desired, as unified YAML, empty when equal.
    #[serde(default)]
    pub diff: String,
    /// Lines of the side-by-side view: live on the left, desired on the right.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub side_by_side: Vec<DiffLine>,
    /// Its events, newest last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventView>,
    /// Facts: a Pod's phase, readiness, restarts, each container's state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub info: Vec<flotilla_sync::tree::NodeInfo>,
}

/// One row of a side-by-side diff.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiffLine {
    /// `equal`, `delete`, `insert` or `change`.
    pub tag: String,
    /// The live line (empty on an insert).
    pub left: String,
    /// The desired line (empty on a delete).
    pub right: String,
}

/// A Kubernetes event about a resource.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Reason (`Scheduled`, `BackOff`...).
    pub reason: String,
    /// Message.
    pub message: String,
    /// How many times.
    pub count: i64,
    /// Last seen (RFC 3339).
    pub last_seen: String,
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
    /// Take over fields other managers own (`--force`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,
    /// Sync only these resources (`group:kind:name` or
    /// `group:kind:namespace/name`; the core group is empty); all when empty.
    /// Nothing outside the selection is pruned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
}

/// Body of `POST /api/v1/applications/{name}/delete`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteRequest {
    /// Delete its resources on the cluster too (Argo CD's cascade).
    #[serde(default)]
    pub cascade: bool,
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
