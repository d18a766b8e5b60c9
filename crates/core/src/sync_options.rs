//! Argo CD sync options (`syncPolicy.syncOptions` and the
//! `argocd.argoproj.io/sync-options` annotation).

use serde::{Deserialize, Deserializer, Serialize};

/// What values a known sync option accepts.
#[derive(Clone, Copy)]
enum Accepts {
    Bool,
    BoolOrConfirm,
    OneOf(&'static [&'static str]),
}

/// Every sync option Argo CD knows, with the values it accepts.
const KNOWN: &[(&str, Accepts)] = &[
    ("CreateNamespace", Accepts::Bool),
    ("PruneLast", Accepts::Bool),
    ("ServerSideApply", Accepts::Bool),
    ("Validate", Accepts::Bool),
    ("ApplyOutOfSyncOnly", Accepts::Bool),
    ("Replace", Accepts::Bool),
    ("Force", Accepts::Bool),
    ("Prune", Accepts::BoolOrConfirm),
    ("Delete", Accepts::BoolOrConfirm),
    ("RespectIgnoreDifferences", Accepts::Bool),
    ("FailOnSharedResource", Accepts::Bool),
    ("SkipDryRunOnMissingResource", Accepts::Bool),
    ("ClientSideApplyMigration", Accepts::Bool),
    (
        "PrunePropagationPolicy",
        Accepts::OneOf(&["foreground", "background", "orphan"]),
    ),
];

/// A list of Argo CD sync options such as `CreateNamespace=true`.
///
/// Serialises as the plain list of strings it was read from. Accessors read
/// `Key=value` entries; when a key appears more than once the last one wins.
///
/// ```
/// use flotilla_core::SyncOptions;
///
/// let opts = SyncOptions::from(vec!["CreateNamespace=true".to_string(), "PruneLast=true".into()]);
/// assert!(opts.has_option("CreateNamespace=true"));
/// assert_eq!(opts.create_namespace(), Some(true));
/// assert_eq!(opts.server_side_apply(), None);
///
/// let from_annotation = SyncOptions::from_annotation("Prune=false, SkipDryRunOnMissingResource=true");
/// assert_eq!(from_annotation.get("Prune"), Some("false"));
/// assert_eq!(from_annotation.skip_dry_run_on_missing_resource(), Some(true));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct SyncOptions(pub Vec<String>);

impl<'de> Deserialize<'de> for SyncOptions {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let list = Option::<Vec<String>>::deserialize(deserializer)?;
        Ok(SyncOptions(list.unwrap_or_default()))
    }
}

impl From<Vec<String>> for SyncOptions {
    fn from(list: Vec<String>) -> Self {
        SyncOptions(list)
    }
}

impl SyncOptions {
    /// Parses the comma-separated value of the `argocd.argoproj.io/sync-options`
    /// annotation; blanks around entries are trimmed, empty entries skipped.
    pub fn from_annotation(value: &str) -> Self {
        SyncOptions(
            value
                .split(',')
                .map(str::trim)
                .filter(|entry| !entry.is_empty())
                .map(str::to_string)
                .collect(),
        )
    }

    /// True when there is no option.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The entries as written.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
        self.0.iter().map(String::as_str)
    }

    /// Whether the exact entry `option` (e.g. `CreateNamespace=true`) is present,
    /// ignoring blanks around entries. This is Argo CD's `HasOption`.
    pub fn has_option(&self, option: &str) -> bool {
        let option = option.trim();
        self.iter().any(|entry| entry.trim() == option)
    }

    /// The value of the last `key=value` entry for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.iter().rev().find_map(|entry| {
            let (k, v) = entry.split_once('=')?;
            (k.trim() == key).then_some(v.trim())
        })
    }

    /// The value of `key` as a boolean: `Some(true)` for `true`, `Some(false)`
    /// for `false`, `None` when absent or anything else.
    pub fn bool_option(&self, key: &str) -> Option<bool> {
        match self.get(key)? {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }

    /// `CreateNamespace=true|false`: create the destination namespace if missing.
    pub fn create_namespace(&self) -> Option<bool> {
        self.bool_option("CreateNamespace")
    }

    /// `PruneLast=true|false`: prune after every other resource is synced and healthy.
    pub fn prune_last(&self) -> Option<bool> {
        self.bool_option("PruneLast")
    }

    /// `ServerSideApply=true|false`: apply with server-side apply.
    pub fn server_side_apply(&self) -> Option<bool> {
        self.bool_option("ServerSideApply")
    }

    /// `Validate=true|false`: `Validate=false` skips schema validation.
    pub fn validate(&self) -> Option<bool> {
        self.bool_option("Validate")
    }

    /// `ApplyOutOfSyncOnly=true|false`: apply only resources that are out of sync.
    pub fn apply_out_of_sync_only(&self) -> Option<bool> {
        self.bool_option("ApplyOutOfSyncOnly")
    }

    /// `Replace=true|false`: use replace/create instead of apply.
    pub fn replace(&self) -> Option<bool> {
        self.bool_option("Replace")
    }

    /// `Force=true|false`: delete and re-create on apply failure (with `Replace`).
    pub fn force(&self) -> Option<bool> {
        self.bool_option("Force")
    }

    /// `RespectIgnoreDifferences=true|false`: keep ignored fields as they are live.
    pub fn respect_ignore_differences(&self) -> Option<bool> {
        self.bool_option("RespectIgnoreDifferences")
    }

    /// `FailOnSharedResource=true|false`: fail when another Application owns a resource.
    pub fn fail_on_shared_resource(&self) -> Option<bool> {
        self.bool_option("FailOnSharedResource")
    }

    /// `SkipDryRunOnMissingResource=true|false`: skip the dry run when the CRD is missing.
    pub fn skip_dry_run_on_missing_resource(&self) -> Option<bool> {
        self.bool_option("SkipDryRunOnMissingResource")
    }

    /// `Prune=false|confirm` (resource annotation): the raw value.
    pub fn prune(&self) -> Option<&str> {
        self.get("Prune")
    }

    /// `Delete=false|confirm` (resource annotation): the raw value.
    pub fn delete(&self) -> Option<&str> {
        self.get("Delete")
    }

    /// `PrunePropagationPolicy=foreground|background|orphan`.
    pub fn prune_propagation_policy(&self) -> Option<&str> {
        self.get("PrunePropagationPolicy")
    }

    /// Entries that are not a known option with an accepted value, as written,
    /// so that callers can report them by name.
    pub fn unrecognized(&self) -> Vec<&str> {
        self.iter()
            .filter(|entry| {
                let Some((key, value)) = entry.split_once('=') else {
                    return true;
                };
                let (key, value) = (key.trim(), value.trim());
                match KNOWN.iter().find(|(name, _)| *name == key) {
                    None => true,
                    Some((_, Accepts::Bool)) => !matches!(value, "true" | "false"),
                    Some((_, Accepts::BoolOrConfirm)) => {
                        !matches!(value, "true" | "false" | "confirm")
                    }
                    Some((_, Accepts::OneOf(values))) => !values.contains(&value),
                }
            })
            .collect()
    }
}
