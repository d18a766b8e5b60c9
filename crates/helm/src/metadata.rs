//! `Chart.yaml` (API versions v1 and v2) and `Chart.lock`, as Helm's
//! `pkg/chart` types read them. Shared by the loader and the fetcher.

use serde::{Deserialize, Serialize};

/// A chart's `Chart.yaml`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChartMetadata {
    /// `name`.
    #[serde(default)]
    pub name: String,
    /// `home`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub home: String,
    /// `sources`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    /// `version` (SemVer 2).
    #[serde(default)]
    pub version: String,
    /// `description`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// `keywords`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// `maintainers`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub maintainers: Vec<Maintainer>,
    /// `icon`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub icon: String,
    /// `apiVersion`: `v1` or `v2`.
    #[serde(default)]
    pub api_version: String,
    /// `condition` (v1 requirements style, kept for `.Chart`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub condition: String,
    /// `tags`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tags: String,
    /// `appVersion`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub app_version: String,
    /// `deprecated`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deprecated: bool,
    /// `annotations`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
    /// `kubeVersion`: a semver constraint on the cluster version.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kube_version: String,
    /// `dependencies` (v2; v1 charts keep them in `requirements.yaml`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<Dependency>,
    /// `type`: `application` or `library`.
    #[serde(default, rename = "type", skip_serializing_if = "String::is_empty")]
    pub chart_type: String,
}

/// A chart maintainer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Maintainer {
    /// `name`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// `email`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub email: String,
    /// `url`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
}

/// One entry of `dependencies` (or `requirements.yaml`, or `Chart.lock`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Dependency {
    /// `name`.
    #[serde(default)]
    pub name: String,
    /// `version`: a semver constraint.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// `repository`: a chart repository URL, `oci://...`, `file://...`, or
    /// `@alias` / `alias:` of a registered repository.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub repository: String,
    /// `condition`: comma-separated value paths; the first that resolves
    /// to a boolean decides.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub condition: String,
    /// `tags`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// `enabled` (set while processing conditions and tags).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// `import-values`: strings (`child` exports) or `{child, parent}` maps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub import_values: Vec<ImportValue>,
    /// `alias`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub alias: String,
}

/// One `import-values` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ImportValue {
    /// `- data`: the child's `exports.data`.
    Name(String),
    /// `- {child: a.b, parent: c}`.
    Map {
        /// Path in the child's values.
        child: String,
        /// Path in the parent's values.
        parent: String,
    },
}
