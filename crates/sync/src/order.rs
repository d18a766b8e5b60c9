//! Argo CD's sync order: phase, wave, kind, name.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Kinds in the order gitops-engine applies them within a wave; every other
/// kind (custom resources) comes after these.
pub const KIND_ORDER: &[&str] = &[
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
];

/// The position of a kind in [`KIND_ORDER`]; unknown kinds sort last.
///
/// ```
/// use flotilla_sync::order::kind_rank;
/// assert!(kind_rank("Namespace") < kind_rank("ConfigMap"));
/// assert!(kind_rank("CustomResourceDefinition") < kind_rank("Deployment"));
/// assert!(kind_rank("APIService") < kind_rank("Certificate"));
/// ```
pub fn kind_rank(kind: &str) -> usize {
    KIND_ORDER
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(KIND_ORDER.len())
}

/// A sync phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SyncPhase {
    /// Hooks before the manifests.
    PreSync,
    /// The manifests (and `Sync` hooks).
    Sync,
    /// Hooks after every resource is healthy.
    PostSync,
    /// Hooks when the sync failed.
    SyncFail,
}

impl fmt::Display for SyncPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SyncPhase::PreSync => "PreSync",
            SyncPhase::Sync => "Sync",
            SyncPhase::PostSync => "PostSync",
            SyncPhase::SyncFail => "SyncFail",
        })
    }
}

/// The sort key of a task: phase, wave, kind rank, name.
pub fn sort_key(
    phase: SyncPhase,
    wave: i64,
    kind: &str,
    name: &str,
) -> (SyncPhase, i64, usize, String) {
    (phase, wave, kind_rank(kind), name.to_string())
}
