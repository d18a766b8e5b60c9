//! Argo CD `argoproj.io/v1alpha1` `Application`.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::error::CoreError;
use crate::meta::ObjectMeta;
use crate::sync_options::SyncOptions;
use crate::unknown::{impl_unknown_fields, null_as_default, Extra};

/// `argoproj.io/v1alpha1`, the apiVersion of Argo CD's resources.
pub const ARGOPROJ_API_VERSION: &str = "argoproj.io/v1alpha1";
/// `Application`, the kind of an Argo CD Application.
pub const APPLICATION_KIND: &str = "Application";
/// `default`, the project an Application belongs to when `spec.project` is empty.
pub const DEFAULT_PROJECT: &str = "default";

/// An Argo CD `Application`: where manifests come from (`source` or
/// `sources`), where they go (`destination`) and how they are synced.
///
/// Reading and writing back gives the same data: absent fields stay absent,
/// fields written explicitly (even `prune: false`) stay, unknown fields are
/// kept in `extra` at every level and listed by
/// [`UnknownFields::unknown_fields`](crate::UnknownFields::unknown_fields).
/// `status` and `operation` are kept as opaque JSON.
///
/// ```
/// use flotilla_core::Application;
///
/// let json = r#"{
///   "apiVersion": "argoproj.io/v1alpha1",
///   "kind": "Application",
///   "metadata": {"name": "guestbook", "namespace": "argocd"},
///   "spec": {
///     "project": "default",
///     "source": {"repoURL": "https://github.com/argoproj/argocd-example-apps.git",
///                "targetRevision": "HEAD", "path": "guestbook"},
///     "destination": {"server": "https://kubernetes.default.svc", "namespace": "guestbook"},
///     "syncPolicy": {"automated": {"prune": false, "selfHeal": true},
///                    "syncOptions": ["CreateNamespace=true"]}
///   }
/// }"#;
/// let app: Application = serde_json::from_str(json)?;
/// assert_eq!(app.name(), "guestbook");
/// assert_eq!(app.sources()[0].path.as_deref(), Some("guestbook"));
/// assert_eq!(app.spec.sync_options().create_namespace(), Some(true));
///
/// // Writing it back gives the same data, `prune: false` included.
/// let back = serde_json::to_value(&app)?;
/// assert_eq!(back, serde_json::from_str::<serde_json::Value>(json)?);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    /// `apiVersion`, normally [`ARGOPROJ_API_VERSION`].
    pub api_version: String,
    /// `kind`, normally [`APPLICATION_KIND`].
    pub kind: String,
    /// `metadata`.
    #[serde(default, skip_serializing_if = "ObjectMeta::is_empty")]
    pub metadata: ObjectMeta,
    /// `spec`.
    pub spec: ApplicationSpec,
    /// `status`, kept as opaque JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
    /// `operation` (a requested sync), kept as opaque JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<Value>,
    /// Unknown top-level fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Application {
    /// An Application with the given name and spec and the standard apiVersion and kind.
    pub fn new(name: impl Into<String>, spec: ApplicationSpec) -> Self {
        Application {
            api_version: ARGOPROJ_API_VERSION.to_string(),
            kind: APPLICATION_KIND.to_string(),
            metadata: ObjectMeta::named(name),
            spec,
            ..Application::default()
        }
    }

    /// `metadata.name`, or `""` when absent.
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }

    /// `metadata.namespace`, when set.
    pub fn namespace(&self) -> Option<&str> {
        self.metadata.namespace.as_deref()
    }

    /// The effective sources: `spec.sources` when it is not empty, else
    /// `spec.source` alone, else none. See [`ApplicationSpec::sources`].
    pub fn sources(&self) -> &[ApplicationSource] {
        self.spec.sources()
    }

    /// Checks `apiVersion` and `kind` are those of an Argo CD Application.
    pub fn check_type_meta(&self) -> Result<(), CoreError> {
        check_type_meta(&self.api_version, &self.kind, APPLICATION_KIND)
    }
}

/// Checks a document's `apiVersion` and `kind` against an Argo CD kind.
pub(crate) fn check_type_meta(api_version: &str, kind: &str, want: &str) -> Result<(), CoreError> {
    if api_version != ARGOPROJ_API_VERSION {
        return Err(CoreError::InvalidValue {
            field: "apiVersion".into(),
            value: api_version.to_string(),
            reason: format!("expected {ARGOPROJ_API_VERSION}"),
            location: None,
        });
    }
    if kind != want {
        return Err(CoreError::InvalidValue {
            field: "kind".into(),
            value: kind.to_string(),
            reason: format!("expected {want}"),
            location: None,
        });
    }
    Ok(())
}

/// `spec` of an [`Application`] (also the `spec` of an ApplicationSet's template).
///
/// Every field is optional so that partial templates (generator-level
/// `template`s) can be read too.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSpec {
    /// `project`; empty means [`DEFAULT_PROJECT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// `source`: a single source. A list here is a common mistake and gives an
    /// error pointing at `sources`.
    #[serde(
        default,
        deserialize_with = "single_source",
        skip_serializing_if = "Option::is_none"
    )]
    pub source: Option<ApplicationSource>,
    /// `sources`: several sources; those with `ref` provide `$ref/...` value files.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub sources: Vec<ApplicationSource>,
    /// `destination`: the cluster (`server` or `name`) and namespace.
    #[serde(default, skip_serializing_if = "ApplicationDestination::is_empty")]
    pub destination: ApplicationDestination,
    /// `syncPolicy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_policy: Option<SyncPolicy>,
    /// `ignoreDifferences`: fields left out of the diff.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ignore_differences: Vec<ResourceIgnoreDifferences>,
    /// `revisionHistoryLimit`: how many past syncs to keep (Argo CD's default is 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<i64>,
    /// `info`: free-form name/value pairs shown in the UI.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub info: Vec<Info>,
    /// Unknown spec fields (e.g. `sourceHydrator`), kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The message given when `source:` holds a list.
pub(crate) const SOURCE_LIST_MESSAGE: &str = "`source` holds a list, but it takes a single source \
     (a mapping with repoURL, path or chart, ...); to deploy several sources, write them under \
     `sources:` instead of `source:`";

/// Deserialises `source`, with a clear error when it holds a list.
fn single_source<'de, D>(deserializer: D) -> Result<Option<ApplicationSource>, D::Error>
where
    D: Deserializer<'de>,
{
    struct SingleSource;

    impl<'de> Visitor<'de> for SingleSource {
        type Value = Option<ApplicationSource>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a single source (a mapping with repoURL, path or chart, ...)")
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            ApplicationSource::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, _seq: A) -> Result<Self::Value, A::Error> {
            Err(de::Error::custom(SOURCE_LIST_MESSAGE))
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            single_source(d)
        }
    }

    deserializer.deserialize_any(SingleSource)
}

impl ApplicationSpec {
    /// The effective sources, as Argo CD picks them: `sources` when it is not
    /// empty (then `source` is ignored), else `source` alone, else none.
    pub fn sources(&self) -> &[ApplicationSource] {
        if !self.sources.is_empty() {
            &self.sources
        } else if let Some(source) = &self.source {
            std::slice::from_ref(source)
        } else {
            &[]
        }
    }

    /// True when the Application uses `sources` (multi-source).
    pub fn has_multiple_sources(&self) -> bool {
        !self.sources.is_empty()
    }

    /// `project`, or [`DEFAULT_PROJECT`] when absent or empty.
    pub fn project(&self) -> &str {
        match self.project.as_deref() {
            None | Some("") => DEFAULT_PROJECT,
            Some(project) => project,
        }
    }

    /// `syncPolicy.syncOptions`, empty when absent.
    pub fn sync_options(&self) -> &SyncOptions {
        static EMPTY: SyncOptions = SyncOptions(Vec::new());
        self.sync_policy
            .as_ref()
            .map_or(&EMPTY, |policy| &policy.sync_options)
    }

    /// `syncPolicy.automated` when automated sync is on (present, and not
    /// switched off with `enabled: false`).
    pub fn automated(&self) -> Option<&SyncPolicyAutomated> {
        self.sync_policy
            .as_ref()?
            .automated
            .as_ref()
            .filter(|automated| automated.enabled != Some(false))
    }

    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        self == &ApplicationSpec::default()
    }
}

/// One source of manifests: a Git path or a Helm chart, with tool options.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSource {
    /// `repoURL`: a Git repository, or a Helm chart repository when `chart` is set.
    #[serde(rename = "repoURL", default, skip_serializing_if = "Option::is_none")]
    pub repo_url: Option<String>,
    /// `path` inside the Git repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `targetRevision`: branch, tag, commit or (for charts) version; `HEAD` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_revision: Option<String>,
    /// `chart`: Helm chart name in a chart repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<String>,
    /// `ref`: name by which other sources refer to this one (`$name/path`).
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub ref_name: Option<String>,
    /// `name`: a display name for the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `helm` options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helm: Option<ApplicationSourceHelm>,
    /// `kustomize` options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kustomize: Option<ApplicationSourceKustomize>,
    /// `directory` options (plain manifests and Jsonnet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<ApplicationSourceDirectory>,
    /// `plugin` options (config management plugins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<ApplicationSourcePlugin>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ApplicationSource {
    /// True when the source is a Helm chart from a chart repository (`chart` set).
    pub fn is_helm_chart(&self) -> bool {
        self.chart.is_some()
    }

    /// True when the source only provides files to other sources: it has a
    /// `ref` but neither `path` nor `chart`, so it renders nothing itself.
    pub fn is_ref_only(&self) -> bool {
        self.ref_name.is_some() && self.path.is_none() && self.chart.is_none()
    }

    /// `targetRevision`, or `HEAD` when absent or empty.
    pub fn target_revision(&self) -> &str {
        match self.target_revision.as_deref() {
            None | Some("") => "HEAD",
            Some(revision) => revision,
        }
    }
}

/// `helm` options of a source.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSourceHelm {
    /// `valueFiles`, relative to the chart, or `$ref/path` into a `ref` source.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub value_files: Vec<String>,
    /// `values`: inline values as a YAML string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<String>,
    /// `valuesObject`: inline values as structured data (wins over `values`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_object: Option<Value>,
    /// `parameters`: `--set` style overrides.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub parameters: Vec<HelmParameter>,
    /// `fileParameters`: `--set-file` style overrides.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub file_parameters: Vec<HelmFileParameter>,
    /// `releaseName`: defaults to the Application name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_name: Option<String>,
    /// `version`: Helm version (`v3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `passCredentials`: pass repository credentials to every domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass_credentials: Option<bool>,
    /// `ignoreMissingValueFiles`: skip value files that do not exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_missing_value_files: Option<bool>,
    /// `skipCrds`: do not render the chart's `crds/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_crds: Option<bool>,
    /// `skipSchemaValidation`: do not validate values against `values.schema.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_schema_validation: Option<bool>,
    /// `skipTests`: leave out test hooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_tests: Option<bool>,
    /// `namespace`: `.Release.Namespace` (defaults to the destination namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `kubeVersion`: `.Capabilities.KubeVersion`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_version: Option<String>,
    /// `apiVersions`: `.Capabilities.APIVersions`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub api_versions: Vec<String>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One `helm.parameters` entry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelmParameter {
    /// Dotted value path, as for `--set`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `forceString`: `--set-string` instead of `--set`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_string: Option<bool>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One `helm.fileParameters` entry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelmFileParameter {
    /// Dotted value path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// File whose content is the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `kustomize` options of a source.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSourceKustomize {
    /// `namePrefix`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_prefix: Option<String>,
    /// `nameSuffix`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_suffix: Option<String>,
    /// `images`: `kustomize edit set image` overrides.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub images: Vec<String>,
    /// `commonLabels`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub common_labels: BTreeMap<String, String>,
    /// `commonAnnotations`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub common_annotations: BTreeMap<String, String>,
    /// `commonAnnotationsEnvsubst`: substitute `${VAR}` in common annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_annotations_envsubst: Option<bool>,
    /// `forceCommonLabels`: override labels already set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_common_labels: Option<bool>,
    /// `forceCommonAnnotations`: override annotations already set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_common_annotations: Option<bool>,
    /// `labelWithoutSelector`: common labels not added to selectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_without_selector: Option<bool>,
    /// `namespace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `version`: kustomize version to use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `replicas` overrides.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub replicas: Vec<KustomizeReplica>,
    /// `patches`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub patches: Vec<KustomizePatch>,
    /// `components`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub components: Vec<String>,
    /// `ignoreMissingComponents`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_missing_components: Option<bool>,
    /// `kubeVersion`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_version: Option<String>,
    /// `apiVersions`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub api_versions: Vec<String>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One `kustomize.replicas` entry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KustomizeReplica {
    /// Name of the Deployment or StatefulSet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Replica count: a number or a string holding one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<Value>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One `kustomize.patches` entry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KustomizePatch {
    /// File holding the patch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Inline patch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    /// Which resources the patch applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<KustomizeSelector>,
    /// Patch options (`allowNameChange`, `allowKindChange`).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub options: BTreeMap<String, bool>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The `target` of a [`KustomizePatch`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KustomizeSelector {
    /// API group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// API version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name (a regular expression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Namespace (a regular expression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Label selector, as a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<String>,
    /// Annotation selector, as a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotation_selector: Option<String>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `directory` options of a source (plain manifests and Jsonnet).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSourceDirectory {
    /// `recurse`: include subdirectories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurse: Option<bool>,
    /// `include`: glob (or `{a,b}` list of globs) of files to include.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<String>,
    /// `exclude`: glob (or `{a,b}` list of globs) of files to exclude.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<String>,
    /// `jsonnet` options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jsonnet: Option<ApplicationSourceJsonnet>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `directory.jsonnet` options.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSourceJsonnet {
    /// `extVars`: external variables.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ext_vars: Vec<JsonnetVar>,
    /// `tlas`: top-level arguments.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tlas: Vec<JsonnetVar>,
    /// `libs`: library search paths.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub libs: Vec<String>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A Jsonnet external variable or top-level argument.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JsonnetVar {
    /// Variable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Value (a string, or Jsonnet code when `code` is true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `code`: the value is Jsonnet code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<bool>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `plugin` options of a source (config management plugins).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSourcePlugin {
    /// Plugin name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Environment passed to the plugin.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub env: Vec<PluginEnvEntry>,
    /// Parameters passed to the plugin.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub parameters: Vec<PluginParameter>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One `plugin.env` entry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginEnvEntry {
    /// Variable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Variable value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One `plugin.parameters` entry: a string, a list or a map.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginParameter {
    /// Parameter name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `string` value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string: Option<String>,
    /// `array` value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub array: Option<Vec<String>>,
    /// `map` value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map: Option<BTreeMap<String, String>>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `destination`: the cluster, by `server` URL or by `name`, and the namespace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationDestination {
    /// API server URL of the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Name of the cluster (as registered), instead of `server`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Namespace for namespaced resources that do not set one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ApplicationDestination {
    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        self == &ApplicationDestination::default()
    }
}

/// `syncPolicy`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncPolicy {
    /// `automated`: sync without a person asking; absent means manual sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automated: Option<SyncPolicyAutomated>,
    /// `syncOptions`, such as `CreateNamespace=true`.
    #[serde(default, skip_serializing_if = "SyncOptions::is_empty")]
    pub sync_options: SyncOptions,
    /// `retry`: how failed syncs are retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryStrategy>,
    /// `managedNamespaceMetadata`: labels and annotations for a created namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_namespace_metadata: Option<ManagedNamespaceMetadata>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `syncPolicy.automated`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncPolicyAutomated {
    /// `prune`: delete resources no longer in Git (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<bool>,
    /// `selfHeal`: undo changes made on the cluster (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_heal: Option<bool>,
    /// `allowEmpty`: allow a sync that would leave the Application empty (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_empty: Option<bool>,
    /// `enabled`: `false` switches automated sync off while keeping the settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

impl SyncPolicyAutomated {
    /// `prune`, false when absent.
    pub fn prune(&self) -> bool {
        self.prune.unwrap_or(false)
    }

    /// `selfHeal`, false when absent.
    pub fn self_heal(&self) -> bool {
        self.self_heal.unwrap_or(false)
    }

    /// `allowEmpty`, false when absent.
    pub fn allow_empty(&self) -> bool {
        self.allow_empty.unwrap_or(false)
    }
}

/// `syncPolicy.retry`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryStrategy {
    /// `limit`: attempts; negative means without limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// `backoff` between attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Backoff>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `syncPolicy.retry.backoff`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Backoff {
    /// `duration`: first wait, a Go duration (`5s`) or seconds (`"5"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// `factor`: multiplier applied after each failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<i64>,
    /// `maxDuration`: the cap on the wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<String>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `syncPolicy.managedNamespaceMetadata`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedNamespaceMetadata {
    /// Labels for the namespace.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
    /// Annotations for the namespace.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub annotations: BTreeMap<String, String>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One `ignoreDifferences` entry: which resources, and which fields of them
/// are left out of the diff.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceIgnoreDifferences {
    /// API group (`""` or absent for the core group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Resource name (all when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Resource namespace (all when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `jsonPointers`: RFC 6901 pointers to ignore.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub json_pointers: Vec<String>,
    /// `jqPathExpressions`: jq paths to ignore.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub jq_path_expressions: Vec<String>,
    /// `managedFieldsManagers`: ignore fields owned by these field managers.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub managed_fields_managers: Vec<String>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One `info` entry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Info {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

impl_unknown_fields!(Application { metadata => "metadata", spec => "spec" });
impl_unknown_fields!(ApplicationSpec {
    source => "source",
    sources => "sources",
    destination => "destination",
    sync_policy => "syncPolicy",
    ignore_differences => "ignoreDifferences",
    info => "info",
});
impl_unknown_fields!(ApplicationSource {
    helm => "helm",
    kustomize => "kustomize",
    directory => "directory",
    plugin => "plugin",
});
impl_unknown_fields!(ApplicationSourceHelm {
    parameters => "parameters",
    file_parameters => "fileParameters",
});
impl_unknown_fields!(HelmParameter {});
impl_unknown_fields!(HelmFileParameter {});
impl_unknown_fields!(ApplicationSourceKustomize {
    replicas => "replicas",
    patches => "patches",
});
impl_unknown_fields!(KustomizeReplica {});
impl_unknown_fields!(KustomizePatch { target => "target" });
impl_unknown_fields!(KustomizeSelector {});
impl_unknown_fields!(ApplicationSourceDirectory { jsonnet => "jsonnet" });
impl_unknown_fields!(ApplicationSourceJsonnet { ext_vars => "extVars", tlas => "tlas" });
impl_unknown_fields!(JsonnetVar {});
impl_unknown_fields!(ApplicationSourcePlugin { env => "env", parameters => "parameters" });
impl_unknown_fields!(PluginEnvEntry {});
impl_unknown_fields!(PluginParameter {});
impl_unknown_fields!(ApplicationDestination {});
impl_unknown_fields!(SyncPolicy {
    automated => "automated",
    retry => "retry",
    managed_namespace_metadata => "managedNamespaceMetadata",
});
impl_unknown_fields!(SyncPolicyAutomated {});
impl_unknown_fields!(RetryStrategy { backoff => "backoff" });
impl_unknown_fields!(Backoff {});
impl_unknown_fields!(ManagedNamespaceMetadata {});
impl_unknown_fields!(ResourceIgnoreDifferences {});
impl_unknown_fields!(Info {});
