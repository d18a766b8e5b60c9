//! `Manifest`: one Kubernetes object as rendered, with where it came from.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::annotations::{HookType, HELM_HOOK, HELM_HOOK_WEIGHT, HOOK, SYNC_OPTIONS, SYNC_WAVE};
use crate::error::{json_type_name, CoreError, Location};
use crate::resource::{split_api_version, ResourceKey};
use crate::sync_options::SyncOptions;
use crate::unknown::field_path;

/// One Kubernetes object, kept as a JSON mapping in the order it was written
/// (the workspace enables serde_json's `preserve_order`), plus the
/// [`Location`] it came from, so that errors can name file and line.
///
/// Serialises as the object alone; the location is not part of the data.
///
/// ```
/// use flotilla_core::{Location, Manifest};
///
/// let manifest = Manifest::from_value(serde_json::json!({
///     "apiVersion": "v1",
///     "kind": "Service",
///     "metadata": {"labels": {"app": "gen-algo-webui"}}
/// }))?
/// .with_location(Location::new("base/service.yaml", 1, 1));
/// assert_eq!(manifest.kind(), Some("Service"));
/// assert_eq!(manifest.label("app"), Some("gen-algo-webui"));
///
/// let err = manifest.key().unwrap_err();
/// assert_eq!(err.to_string(), "missing field `metadata.name` at base/service.yaml:1:1");
/// # Ok::<(), flotilla_core::CoreError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Manifest {
    /// The object itself.
    pub object: Map<String, Value>,
    /// Where it came from, when known.
    pub location: Option<Location>,
}

impl Manifest {
    /// A manifest from an object, with no location.
    pub fn new(object: Map<String, Value>) -> Self {
        Manifest {
            object,
            location: None,
        }
    }

    /// A manifest from a JSON value, which must be a mapping.
    pub fn from_value(value: Value) -> Result<Self, CoreError> {
        match value {
            Value::Object(object) => Ok(Manifest::new(object)),
            other => Err(CoreError::NotAnObject {
                found: json_type_name(&other),
                location: None,
            }),
        }
    }

    /// Like [`Manifest::from_value`], with the location attached (also to the error).
    pub fn from_value_at(value: Value, location: Location) -> Result<Self, CoreError> {
        match Manifest::from_value(value) {
            Ok(manifest) => Ok(manifest.with_location(location)),
            Err(error) => Err(error.with_location(Some(&location))),
        }
    }

    /// This manifest with its location set.
    #[must_use]
    pub fn with_location(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    /// The object as a JSON value.
    pub fn into_value(self) -> Value {
        Value::Object(self.object)
    }

    /// `apiVersion`, when it is a string.
    pub fn api_version(&self) -> Option<&str> {
        self.object.get("apiVersion")?.as_str()
    }

    /// `kind`, when it is a string.
    pub fn kind(&self) -> Option<&str> {
        self.object.get("kind")?.as_str()
    }

    /// `metadata`, when it is a mapping.
    pub fn metadata(&self) -> Option<&Map<String, Value>> {
        self.object.get("metadata")?.as_object()
    }

    /// `metadata.name`, when it is a non-empty string.
    pub fn name(&self) -> Option<&str> {
        self.metadata_str("name")
    }

    /// `metadata.generateName`, when it is a non-empty string.
    pub fn generate_name(&self) -> Option<&str> {
        self.metadata_str("generateName")
    }

    /// `metadata.namespace`, when it is a non-empty string.
    pub fn namespace(&self) -> Option<&str> {
        self.metadata_str("namespace")
    }

    fn metadata_str(&self, key: &str) -> Option<&str> {
        self.metadata()?
            .get(key)?
            .as_str()
            .filter(|value| !value.is_empty())
    }

    fn string_map(&self, key: &str) -> BTreeMap<&str, &str> {
        self.metadata()
            .and_then(|metadata| metadata.get(key))
            .and_then(Value::as_object)
            .map(|map| {
                map.iter()
                    .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `metadata.labels` (entries whose value is not a string are left out).
    pub fn labels(&self) -> BTreeMap<&str, &str> {
        self.string_map("labels")
    }

    /// One label.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.metadata()?.get("labels")?.get(key)?.as_str()
    }

    /// `metadata.annotations` (entries whose value is not a string are left out).
    pub fn annotations(&self) -> BTreeMap<&str, &str> {
        self.string_map("annotations")
    }

    /// One annotation.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.metadata()?.get("annotations")?.get(key)?.as_str()
    }

    /// `metadata`, mutably, created when absent; an error when it is not a mapping.
    pub fn metadata_mut(&mut self) -> Result<&mut Map<String, Value>, CoreError> {
        let location = self.location.clone();
        let metadata = self
            .object
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if metadata.is_null() {
            *metadata = Value::Object(Map::new());
        }
        let found = json_type_name(metadata);
        metadata.as_object_mut().ok_or(CoreError::InvalidFieldType {
            field: "metadata".into(),
            expected: "a mapping",
            found,
            location,
        })
    }

    /// A mapping inside `metadata` (`labels`, `annotations`), created when absent.
    fn metadata_map_mut(&mut self, key: &str) -> Result<&mut Map<String, Value>, CoreError> {
        let location = self.location.clone();
        let entry = self
            .metadata_mut()?
            .entry(key)
            .or_insert_with(|| Value::Object(Map::new()));
        if entry.is_null() {
            *entry = Value::Object(Map::new());
        }
        let found = json_type_name(entry);
        entry.as_object_mut().ok_or(CoreError::InvalidFieldType {
            field: field_path("metadata", key),
            expected: "a mapping",
            found,
            location,
        })
    }

    /// Sets `metadata.namespace`.
    pub fn set_namespace(&mut self, namespace: &str) -> Result<(), CoreError> {
        self.metadata_mut()?
            .insert("namespace".into(), Value::String(namespace.into()));
        Ok(())
    }

    /// Sets one label.
    pub fn set_label(&mut self, key: &str, value: &str) -> Result<(), CoreError> {
        self.metadata_map_mut("labels")?
            .insert(key.into(), Value::String(value.into()));
        Ok(())
    }

    /// Sets one annotation.
    pub fn set_annotation(&mut self, key: &str, value: &str) -> Result<(), CoreError> {
        self.metadata_map_mut("annotations")?
            .insert(key.into(), Value::String(value.into()));
        Ok(())
    }

    /// Reads a string field at `path` (absent or `null` gives `None`).
    fn string_at(&self, path: &[&str]) -> Result<Option<&str>, CoreError> {
        let mut current = &self.object;
        let mut walked = String::new();
        for (i, key) in path.iter().enumerate() {
            walked = field_path(&walked, key);
            let Some(value) = current.get(*key) else {
                return Ok(None);
            };
            let last = i + 1 == path.len();
            match value {
                Value::Null => return Ok(None),
                Value::String(s) if last => return Ok(Some(s)),
                Value::Object(map) if !last => current = map,
                other => {
                    return Err(CoreError::InvalidFieldType {
                        field: walked,
                        expected: if last { "a string" } else { "a mapping" },
                        found: json_type_name(other),
                        location: self.location.clone(),
                    })
                }
            }
        }
        Ok(None)
    }

    /// Reads a required, non-empty string field at `path`.
    fn required_str(&self, path: &[&str]) -> Result<&str, CoreError> {
        match self.string_at(path)? {
            Some(value) if !value.is_empty() => Ok(value),
            _ => Err(CoreError::MissingField {
                field: path.join("."),
                location: self.location.clone(),
            }),
        }
    }

    /// The object's [`ResourceKey`].
    ///
    /// Fails, naming the field and this manifest's location, when
    /// `apiVersion`, `kind` or `metadata.name` is missing, empty or not a
    /// string, or when `apiVersion` is malformed.
    pub fn key(&self) -> Result<ResourceKey, CoreError> {
        let api_version = self.required_str(&["apiVersion"])?;
        let kind = self.required_str(&["kind"])?;
        let name = self.required_str(&["metadata", "name"])?;
        let namespace = self.string_at(&["metadata", "namespace"])?;
        let (group, version) =
            split_api_version(api_version).map_err(|e| e.with_location(self.location.as_ref()))?;
        Ok(ResourceKey {
            group: group.to_string(),
            version: version.to_string(),
            kind: kind.to_string(),
            namespace: namespace.filter(|ns| !ns.is_empty()).map(str::to_string),
            name: name.to_string(),
        })
    }

    /// The Argo CD sync wave: the `argocd.argoproj.io/sync-wave` annotation,
    /// else `helm.sh/hook-weight`, else 0. A value that is not an integer is
    /// an error (Argo CD silently uses 0).
    pub fn sync_wave(&self) -> Result<i64, CoreError> {
        for key in [SYNC_WAVE, HELM_HOOK_WEIGHT] {
            if let Some(text) = self.annotation(key) {
                return text.trim().parse().map_err(|_| CoreError::InvalidValue {
                    field: field_path("metadata.annotations", key),
                    value: text.to_string(),
                    reason: "expected an integer".into(),
                    location: self.location.clone(),
                });
            }
        }
        Ok(0)
    }

    /// The Argo CD hook types of this object: from `argocd.argoproj.io/hook`
    /// (comma-separated), else from `helm.sh/hook` (`pre-install` and
    /// `pre-upgrade` are PreSync, `post-install` and `post-upgrade` are
    /// PostSync; other Helm hooks are not mapped). Empty for a plain resource.
    pub fn hook_types(&self) -> Result<Vec<HookType>, CoreError> {
        if let Some(text) = self.annotation(HOOK) {
            return text
                .split(',')
                .map(str::trim)
                .filter(|hook| !hook.is_empty())
                .map(|hook| {
                    hook.parse::<HookType>()
                        .map_err(|e| e.with_location(self.location.as_ref()))
                })
                .collect();
        }
        let mut hooks = Vec::new();
        if let Some(text) = self.annotation(HELM_HOOK) {
            for hook in text.split(',').map(str::trim) {
                let mapped = match hook {
                    "pre-install" | "pre-upgrade" => HookType::PreSync,
                    "post-install" | "post-upgrade" => HookType::PostSync,
                    _ => continue,
                };
                if !hooks.contains(&mapped) {
                    hooks.push(mapped);
                }
            }
        }
        Ok(hooks)
    }

    /// True for a Helm hook that Argo CD never applies: `helm.sh/hook` is
    /// set (and `argocd.argoproj.io/hook` is not) but names none of the
    /// events Argo CD maps (`pre-install`, `pre-upgrade`, `post-install`,
    /// `post-upgrade`) and is not `crd-install` (a plain resource for Argo
    /// CD). Test, delete and rollback hooks are such hooks.
    pub fn is_unmapped_helm_hook(&self) -> bool {
        if self.annotation(HOOK).is_some() {
            return false;
        }
        let Some(text) = self.annotation(HELM_HOOK) else {
            return false;
        };
        !text.split(',').map(str::trim).any(|h| {
            matches!(
                h,
                "pre-install" | "pre-upgrade" | "post-install" | "post-upgrade" | "crd-install"
            )
        })
    }

    /// The per-resource sync options of the `argocd.argoproj.io/sync-options` annotation.
    pub fn sync_options(&self) -> SyncOptions {
        self.annotation(SYNC_OPTIONS)
            .map(SyncOptions::from_annotation)
            .unwrap_or_default()
    }
}

impl Serialize for Manifest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.object.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Manifest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Map::deserialize(deserializer).map(Manifest::new)
    }
}

impl From<Map<String, Value>> for Manifest {
    fn from(object: Map<String, Value>) -> Self {
        Manifest::new(object)
    }
}
