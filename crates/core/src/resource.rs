//! `ResourceKey`: what identifies a Kubernetes object.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::manifest::Manifest;

/// Splits an `apiVersion` into group and version: `apps/v1` gives
/// `("apps", "v1")`, `v1` gives `("", "v1")` (the core group).
///
/// ```
/// use flotilla_core::split_api_version;
///
/// assert_eq!(split_api_version("apps/v1").unwrap(), ("apps", "v1"));
/// assert_eq!(split_api_version("v1").unwrap(), ("", "v1"));
/// assert!(split_api_version("apps/").is_err());
/// ```
pub fn split_api_version(api_version: &str) -> Result<(&str, &str), CoreError> {
    let invalid = |reason: &str| CoreError::InvalidApiVersion {
        api_version: api_version.to_string(),
        reason: reason.to_string(),
        location: None,
    };
    if api_version.is_empty() {
        return Err(invalid("it is empty"));
    }
    if api_version.chars().any(char::is_whitespace) {
        return Err(invalid("it contains whitespace"));
    }
    let (group, version) = match api_version.split_once('/') {
        None => ("", api_version),
        Some((group, version)) => {
            if group.is_empty() {
                return Err(invalid("the group before `/` is empty"));
            }
            (group, version)
        }
    };
    if version.is_empty() {
        return Err(invalid("the version after `/` is empty"));
    }
    if version.contains('/') {
        return Err(invalid("expected `version` or `group/version`"));
    }
    Ok((group, version))
}

/// What identifies a Kubernetes object: group, version, kind, namespace, name.
///
/// `namespace` is `None` for cluster-scoped objects and for namespaced ones
/// that do not say (an empty namespace is treated as none). Keys order by
/// group, version, kind, namespace (none first), then name. `Display` gives
/// `apps/v1/Deployment ns/name`, `v1/Namespace name` for cluster-scoped
/// objects (the core group shows as just its version).
///
/// ```
/// use flotilla_core::{Manifest, ResourceKey};
///
/// let manifest = Manifest::from_value(serde_json::json!({
///     "apiVersion": "apps/v1",
///     "kind": "Deployment",
///     "metadata": {"name": "gen-algo-webui", "namespace": "gen-algo"}
/// }))?;
/// let key = ResourceKey::from_manifest(&manifest)?;
/// assert_eq!(key.group, "apps");
/// assert_eq!(key.version, "v1");
/// assert_eq!(key.to_string(), "apps/v1/Deployment gen-algo/gen-algo-webui");
///
/// let ns = ResourceKey::new("v1", "Namespace", None, "gen-algo")?;
/// assert_eq!(ns.to_string(), "v1/Namespace gen-algo");
/// # Ok::<(), flotilla_core::CoreError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ResourceKey {
    /// API group; empty for the core group.
    pub group: String,
    /// API version, e.g. `v1`.
    pub version: String,
    /// Kind, e.g. `Deployment`.
    pub kind: String,
    /// Namespace, when the object names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
}

impl ResourceKey {
    /// A key from an `apiVersion` string (`apps/v1`, `v1`), kind, namespace and name.
    ///
    /// Fails on a malformed apiVersion or an empty kind or name.
    pub fn new(
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Self, CoreError> {
        let (group, version) = split_api_version(api_version)?;
        if kind.is_empty() {
            return Err(CoreError::MissingField {
                field: "kind".into(),
                location: None,
            });
        }
        if name.is_empty() {
            return Err(CoreError::MissingField {
                field: "metadata.name".into(),
                location: None,
            });
        }
        Ok(ResourceKey {
            group: group.to_string(),
            version: version.to_string(),
            kind: kind.to_string(),
            namespace: namespace.filter(|ns| !ns.is_empty()).map(str::to_string),
            name: name.to_string(),
        })
    }

    /// The key of a manifest; same as [`Manifest::key`].
    pub fn from_manifest(manifest: &Manifest) -> Result<Self, CoreError> {
        manifest.key()
    }

    /// The `apiVersion`: `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `Kind.group` (just `Kind` for the core group), as kubectl names resource types.
    pub fn group_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }

    /// This key with the namespace set to `namespace` (none when empty).
    #[must_use]
    pub fn with_namespace(mut self, namespace: Option<&str>) -> Self {
        self.namespace = namespace.filter(|ns| !ns.is_empty()).map(str::to_string);
        self
    }
}

impl fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.group.is_empty() {
            write!(f, "{}/", self.group)?;
        }
        write!(f, "{}/{} ", self.version, self.kind)?;
        if let Some(namespace) = &self.namespace {
            write!(f, "{namespace}/")?;
        }
        f.write_str(&self.name)
    }
}
