//! ApplicationSet generators: list, clusters, git, matrix, merge; other
//! kinds are kept as raw JSON and named so they can be reported.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::appset::ApplicationSetTemplate;
use crate::error::CoreError;
use crate::meta::LabelSelector;
use crate::unknown::{impl_unknown_fields, null_as_default, Extra};

/// Argo CD generator kinds that Flotilla reads and keeps but does not run.
pub const UNSUPPORTED_GENERATOR_KINDS: &[&str] = &[
    "scmProvider",
    "pullRequest",
    "clusterDecisionResource",
    "plugin",
];

/// One entry of `spec.generators` (or of a matrix/merge `generators` list).
///
/// As in Argo CD, an entry is a mapping with one generator kind as key
/// (`list`, `clusters`, `git`, `matrix`, `merge`, ...) and an optional
/// `selector` that filters the parameter sets the generator produces.
/// Generator kinds Flotilla does not run, and any other key, are kept in
/// `extra` as raw JSON; [`Generator::kinds`] names them.
///
/// ```
/// use flotilla_core::{Generator, GeneratorKind};
///
/// let generator: Generator = serde_json::from_str(
///     r#"{"pullRequest": {"github": {"owner": "o", "repo": "r"}}}"#,
/// ).unwrap();
/// match generator.kind().unwrap() {
///     GeneratorKind::Unsupported { name, .. } => assert_eq!(name, "pullRequest"),
///     other => panic!("unexpected {}", other.name()),
/// }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Generator {
    /// `list` generator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<ListGenerator>,
    /// `clusters` generator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clusters: Option<ClusterGenerator>,
    /// `git` generator (files or directories).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitGenerator>,
    /// `matrix` generator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<MatrixGenerator>,
    /// `merge` generator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<MergeGenerator>,
    /// `selector`: keeps only the parameter sets whose values match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// Other generator kinds (see [`UNSUPPORTED_GENERATOR_KINDS`]) and unknown keys, raw.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A generator kind found in a [`Generator`] entry, borrowed from it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum GeneratorKind<'a> {
    /// `list`.
    List(&'a ListGenerator),
    /// `clusters`.
    Clusters(&'a ClusterGenerator),
    /// `git`.
    Git(&'a GitGenerator),
    /// `matrix`.
    Matrix(&'a MatrixGenerator),
    /// `merge`.
    Merge(&'a MergeGenerator),
    /// An Argo CD generator kind Flotilla does not run (one of
    /// [`UNSUPPORTED_GENERATOR_KINDS`]), kept as raw JSON.
    Unsupported {
        /// The key, e.g. `scmProvider`.
        name: &'a str,
        /// Its value, as written.
        value: &'a Value,
    },
    /// A key that is no Argo CD generator kind at all, kept as raw JSON.
    Unknown {
        /// The key.
        name: &'a str,
        /// Its value, as written.
        value: &'a Value,
    },
}

impl GeneratorKind<'_> {
    /// The generator's key: `list`, `clusters`, `git`, `matrix`, `merge`, or the raw key.
    pub fn name(&self) -> &str {
        match self {
            GeneratorKind::List(_) => "list",
            GeneratorKind::Clusters(_) => "clusters",
            GeneratorKind::Git(_) => "git",
            GeneratorKind::Matrix(_) => "matrix",
            GeneratorKind::Merge(_) => "merge",
            GeneratorKind::Unsupported { name, .. } | GeneratorKind::Unknown { name, .. } => name,
        }
    }

    /// The generator-level `template` override, for the kinds Flotilla runs.
    pub fn template(&self) -> Option<&ApplicationSetTemplate> {
        match self {
            GeneratorKind::List(g) => g.template.as_ref(),
            GeneratorKind::Clusters(g) => g.template.as_ref(),
            GeneratorKind::Git(g) => g.template.as_ref(),
            GeneratorKind::Matrix(g) => g.template.as_ref(),
            GeneratorKind::Merge(g) => g.template.as_ref(),
            GeneratorKind::Unsupported { .. } | GeneratorKind::Unknown { .. } => None,
        }
    }
}

impl Generator {
    /// Every generator kind set in this entry, in the order list, clusters,
    /// git, matrix, merge, then other keys as written (except `selector`).
    pub fn kinds(&self) -> Vec<GeneratorKind<'_>> {
        let mut kinds = Vec::new();
        kinds.extend(self.list.as_ref().map(GeneratorKind::List));
        kinds.extend(self.clusters.as_ref().map(GeneratorKind::Clusters));
        kinds.extend(self.git.as_ref().map(GeneratorKind::Git));
        kinds.extend(self.matrix.as_ref().map(GeneratorKind::Matrix));
        kinds.extend(self.merge.as_ref().map(GeneratorKind::Merge));
        kinds.extend(self.extra.iter().map(|(name, value)| {
            if UNSUPPORTED_GENERATOR_KINDS.contains(&name.as_str()) {
                GeneratorKind::Unsupported { name, value }
            } else {
                GeneratorKind::Unknown { name, value }
            }
        }));
        kinds
    }

    /// The one generator kind of this entry; an error when it has none or several.
    pub fn kind(&self) -> Result<GeneratorKind<'_>, CoreError> {
        self.kind_at("")
    }

    /// Like [`Generator::kind`], naming the entry by its JSON `path`
    /// (e.g. `spec.generators[0]`) in the error.
    pub fn kind_at(&self, path: &str) -> Result<GeneratorKind<'_>, CoreError> {
        let kinds = self.kinds();
        match kinds.as_slice() {
            [one] => Ok(*one),
            [] => Err(CoreError::InvalidGenerator {
                path: path.to_string(),
                reason: "no generator kind (expected one of list, clusters, git, matrix, merge)"
                    .into(),
            }),
            several => Err(CoreError::InvalidGenerator {
                path: path.to_string(),
                reason: format!(
                    "several generator kinds in one entry: {}",
                    several
                        .iter()
                        .map(GeneratorKind::name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
        }
    }

    /// Names of the generator kinds in this entry that Flotilla does not run
    /// (known Argo CD kinds and unknown keys alike).
    pub fn unsupported_kinds(&self) -> Vec<&str> {
        self.extra.keys().map(String::as_str).collect()
    }
}

/// `list` generator: one parameter set per element.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListGenerator {
    /// `elements`: arbitrary JSON objects, one parameter set each.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub elements: Vec<Value>,
    /// `elementsYaml`: elements as a (usually templated) YAML string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elements_yaml: Option<String>,
    /// `template` override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<ApplicationSetTemplate>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `clusters` generator: one parameter set per registered cluster matching `selector`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterGenerator {
    /// `selector` on the cluster secrets' labels (all clusters when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// `values`: extra parameters, available as `values.<key>`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub values: BTreeMap<String, String>,
    /// `template` override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<ApplicationSetTemplate>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `git` generator: parameter sets from directories or from JSON/YAML files of a Git repository.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GitGenerator {
    /// `repoURL`.
    #[serde(rename = "repoURL", default, skip_serializing_if = "Option::is_none")]
    pub repo_url: Option<String>,
    /// `revision`: branch, tag or commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// `directories`: one parameter set per matching directory.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub directories: Vec<GitPathItem>,
    /// `files`: parameter sets read from each matching file.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub files: Vec<GitPathItem>,
    /// `values`: extra parameters (templated), available as `values.<key>`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub values: BTreeMap<String, String>,
    /// `pathParamPrefix`: prefix for the `path` parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_param_prefix: Option<String>,
    /// `requeueAfterSeconds`: polling interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requeue_after_seconds: Option<i64>,
    /// `template` override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<ApplicationSetTemplate>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One `git.directories` or `git.files` entry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GitPathItem {
    /// Glob of paths, e.g. `manifests/overlays/**/config.json` (required).
    pub path: String,
    /// `exclude`: paths matching this entry are left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<bool>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `matrix` generator: the cartesian product of two child generators.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MatrixGenerator {
    /// The child generators.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub generators: Vec<Generator>,
    /// `template` override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<ApplicationSetTemplate>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `merge` generator: the first child's parameter sets, overridden by the
/// others' where `mergeKeys` match.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MergeGenerator {
    /// The child generators.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub generators: Vec<Generator>,
    /// `mergeKeys`: parameters that identify a parameter set across children.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub merge_keys: Vec<String>,
    /// `template` override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<ApplicationSetTemplate>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

impl_unknown_fields!(Generator {
    list => "list",
    clusters => "clusters",
    git => "git",
    matrix => "matrix",
    merge => "merge",
    selector => "selector",
});
impl_unknown_fields!(ListGenerator { template => "template" });
impl_unknown_fields!(ClusterGenerator { selector => "selector", template => "template" });
impl_unknown_fields!(GitGenerator {
    directories => "directories",
    files => "files",
    template => "template",
});
impl_unknown_fields!(GitPathItem {});
impl_unknown_fields!(MatrixGenerator { generators => "generators", template => "template" });
impl_unknown_fields!(MergeGenerator { generators => "generators", template => "template" });
