//! Well-known Argo CD (and Helm) annotation and label names, and hook types.

use std::fmt;
use std::str::FromStr;

use crate::error::CoreError;

/// `argocd.argoproj.io/sync-wave`: integer wave a resource is synced in (default 0).
pub const SYNC_WAVE: &str = "argocd.argoproj.io/sync-wave";
/// `argocd.argoproj.io/hook`: comma-separated hook types (`PreSync`, `Sync`, ...).
pub const HOOK: &str = "argocd.argoproj.io/hook";
/// `argocd.argoproj.io/hook-delete-policy`: `HookSucceeded`, `HookFailed`, `BeforeHookCreation`.
pub const HOOK_DELETE_POLICY: &str = "argocd.argoproj.io/hook-delete-policy";
/// `argocd.argoproj.io/sync-options`: comma-separated per-resource sync options.
pub const SYNC_OPTIONS: &str = "argocd.argoproj.io/sync-options";
/// `argocd.argoproj.io/compare-options`: comma-separated per-resource compare options.
pub const COMPARE_OPTIONS: &str = "argocd.argoproj.io/compare-options";
/// `argocd.argoproj.io/tracking-id`: annotation tracking which Application owns a resource.
pub const TRACKING_ID: &str = "argocd.argoproj.io/tracking-id";
/// `argocd.argoproj.io/refresh`: on an Application, asks for a `normal` or `hard` refresh.
pub const REFRESH: &str = "argocd.argoproj.io/refresh";
/// `argocd.argoproj.io/manifest-generate-paths`: paths whose changes trigger a refresh.
pub const MANIFEST_GENERATE_PATHS: &str = "argocd.argoproj.io/manifest-generate-paths";
/// `argocd.argoproj.io/skip-reconcile`: on an Application, pauses reconciliation when `true`.
pub const SKIP_RECONCILE: &str = "argocd.argoproj.io/skip-reconcile";

/// `app.kubernetes.io/instance`: the label Argo CD's default (label) tracking writes.
pub const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";
/// `argocd.argoproj.io/secret-type`: label marking Argo CD cluster and repository secrets.
pub const SECRET_TYPE_LABEL: &str = "argocd.argoproj.io/secret-type";
/// Value of [`SECRET_TYPE_LABEL`] on a cluster secret.
pub const SECRET_TYPE_CLUSTER: &str = "cluster";

/// `resources-finalizer.argocd.argoproj.io`: Application finalizer that deletes
/// the Application's resources (cascading delete).
pub const RESOURCES_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";

/// `helm.sh/hook`: Helm hook annotation, mapped onto Argo CD hooks.
pub const HELM_HOOK: &str = "helm.sh/hook";
/// `helm.sh/hook-weight`: Helm hook weight, used as the sync wave when no
/// [`SYNC_WAVE`] annotation is present.
pub const HELM_HOOK_WEIGHT: &str = "helm.sh/hook-weight";
/// `helm.sh/hook-delete-policy`: Helm hook delete policy.
pub const HELM_HOOK_DELETE_POLICY: &str = "helm.sh/hook-delete-policy";

/// An Argo CD resource hook type, the values of [`HOOK`].
///
/// ```
/// use flotilla_core::HookType;
///
/// assert_eq!("PreSync".parse::<HookType>().unwrap(), HookType::PreSync);
/// assert!("Presync".parse::<HookType>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HookType {
    /// Runs before the sync's manifests are applied.
    PreSync,
    /// Runs with the manifests, after all PreSync hooks succeeded.
    Sync,
    /// Runs after every Sync hook succeeded and every resource is healthy.
    PostSync,
    /// Runs when the sync fails.
    SyncFail,
    /// Runs after the Application's resources are deleted.
    PostDelete,
    /// The resource is not applied at all.
    Skip,
}

impl HookType {
    /// Every hook type, in lifecycle order.
    pub const ALL: [HookType; 6] = [
        HookType::PreSync,
        HookType::Sync,
        HookType::PostSync,
        HookType::SyncFail,
        HookType::PostDelete,
        HookType::Skip,
    ];

    /// The name as written in the annotation.
    pub fn as_str(self) -> &'static str {
        match self {
            HookType::PreSync => "PreSync",
            HookType::Sync => "Sync",
            HookType::PostSync => "PostSync",
            HookType::SyncFail => "SyncFail",
            HookType::PostDelete => "PostDelete",
            HookType::Skip => "Skip",
        }
    }
}

impl fmt::Display for HookType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for HookType {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HookType::ALL
            .into_iter()
            .find(|hook| hook.as_str() == s)
            .ok_or_else(|| CoreError::InvalidValue {
                field: format!("metadata.annotations[{HOOK:?}]"),
                value: s.to_string(),
                reason: "expected one of PreSync, Sync, PostSync, SyncFail, PostDelete, Skip"
                    .into(),
                location: None,
            })
    }
}
