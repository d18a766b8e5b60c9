//! Argo CD `argoproj.io/v1alpha1` `ApplicationSet`.

use serde::de;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::application::{check_type_meta, ApplicationSpec, ARGOPROJ_API_VERSION};
use crate::error::CoreError;
use crate::generators::Generator;
use crate::meta::{LabelSelectorRequirement, ObjectMeta};
use crate::unknown::{
    field_path, impl_unknown_fields, index_path, null_as_default, Extra, UnknownFields,
};

/// `ApplicationSet`, the kind of an Argo CD ApplicationSet.
pub const APPLICATION_SET_KIND: &str = "ApplicationSet";

/// An Argo CD `ApplicationSet`: generators produce parameter sets, and the
/// template turns each into an [`Application`](crate::Application).
///
/// Like [`Application`](crate::Application), reading and writing back gives
/// the same data, and unknown fields are kept and listed by path.
///
/// ```
/// use flotilla_core::{ApplicationSet, GeneratorKind, UnknownFields};
///
/// let json = r#"{
///   "apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
///   "metadata": {"name": "guestbook"},
///   "spec": {
///     "goTemplate": true,
///     "generators": [{"list": {"elements": [{"cluster": "dev", "url": "https://1.2.3.4"}]}}],
///     "template": {
///       "metadata": {"name": "{{.cluster}}-guestbook"},
///       "spec": {"project": "default",
///                "source": {"repoURL": "https://example.com/apps.git", "path": "guestbook"},
///                "destination": {"server": "{{.url}}", "namespace": "guestbook"}}
///     }
///   }
/// }"#;
/// let appset: ApplicationSet = serde_json::from_str(json)?;
/// assert!(appset.spec.uses_go_template());
/// assert!(matches!(appset.spec.generators[0].kind(), Ok(GeneratorKind::List(_))));
/// assert_eq!(appset.spec.template.spec.spec().destination.server.as_deref(), Some("{{.url}}"));
/// assert!(appset.unknown_fields().is_empty());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSet {
    /// `apiVersion`, normally [`ARGOPROJ_API_VERSION`].
    pub api_version: String,
    /// `kind`, normally [`APPLICATION_SET_KIND`].
    pub kind: String,
    /// `metadata`.
    #[serde(default, skip_serializing_if = "ObjectMeta::is_empty")]
    pub metadata: ObjectMeta,
    /// `spec`.
    pub spec: ApplicationSetSpec,
    /// `status`, kept as opaque JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
    /// Unknown top-level fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ApplicationSet {
    /// An ApplicationSet with the given name and spec and the standard apiVersion and kind.
    pub fn new(name: impl Into<String>, spec: ApplicationSetSpec) -> Self {
        ApplicationSet {
            api_version: ARGOPROJ_API_VERSION.to_string(),
            kind: APPLICATION_SET_KIND.to_string(),
            metadata: ObjectMeta::named(name),
            spec,
            ..ApplicationSet::default()
        }
    }

    /// `metadata.name`, or `""` when absent.
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }

    /// Checks `apiVersion` and `kind` are those of an Argo CD ApplicationSet.
    pub fn check_type_meta(&self) -> Result<(), CoreError> {
        check_type_meta(&self.api_version, &self.kind, APPLICATION_SET_KIND)
    }
}

/// `spec` of an [`ApplicationSet`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetSpec {
    /// `goTemplate`: Go `text/template` instead of the default `{{param}}` substitution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub go_template: Option<bool>,
    /// `goTemplateOptions`, e.g. `missingkey=error`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub go_template_options: Vec<String>,
    /// `generators`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub generators: Vec<Generator>,
    /// `template`: the Application each parameter set is rendered into.
    #[serde(default, skip_serializing_if = "ApplicationSetTemplate::is_empty")]
    pub template: ApplicationSetTemplate,
    /// `templatePatch`: a templated YAML/JSON patch applied to each rendered Application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_patch: Option<String>,
    /// `syncPolicy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_policy: Option<ApplicationSetSyncPolicy>,
    /// `strategy`: progressive syncs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<ApplicationSetStrategy>,
    /// `preservedFields`: annotations and labels of generated Applications left alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preserved_fields: Option<ApplicationPreservedFields>,
    /// `ignoreApplicationDifferences`: fields of generated Applications left alone.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ignore_application_differences: Vec<ApplicationSetIgnoreDifferences>,
    /// `applyNestedSelectors` (deprecated, always on since Argo CD 2.x).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_nested_selectors: Option<bool>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ApplicationSetSpec {
    /// `goTemplate`, false when absent.
    pub fn uses_go_template(&self) -> bool {
        self.go_template.unwrap_or(false)
    }

    /// Whether `goTemplateOptions` holds exactly `option` (e.g. `missingkey=error`).
    pub fn has_go_template_option(&self, option: &str) -> bool {
        self.go_template_options.iter().any(|o| o.trim() == option)
    }
}

/// `template` of an ApplicationSet (or of one generator): Application
/// metadata and spec in which string fields may hold template placeholders.
///
/// Generator-level templates are partial, so both parts may be absent. An
/// explicitly written `metadata: {}` or `spec: {}` is written back as such.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ApplicationSetTemplate {
    /// `metadata`: `name`, `namespace`, `labels`, `annotations`, `finalizers`.
    pub metadata: ObjectMeta,
    /// `spec`: an Application spec, tolerant of placeholders in non-string fields.
    pub spec: TemplateSpec,
    /// Unknown fields, kept as written.
    pub extra: Extra,
    /// Which empty parts were written explicitly (`metadata: {}`).
    written_empty: WrittenEmpty,
}

/// Parts of a template written explicitly although empty.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct WrittenEmpty {
    metadata: bool,
    spec: bool,
}

/// How an [`ApplicationSetTemplate`] is read.
#[derive(Deserialize)]
struct TemplateIn {
    #[serde(default)]
    metadata: Option<ObjectMeta>,
    #[serde(default)]
    spec: Option<TemplateSpec>,
    #[serde(flatten)]
    extra: Extra,
}

/// How an [`ApplicationSetTemplate`] is written.
#[derive(Serialize)]
struct TemplateOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a ObjectMeta>,
    #[serde(skip_serializing_if = "Option::is_none")]
    spec: Option<&'a TemplateSpec>,
    #[serde(flatten)]
    extra: &'a Extra,
}

impl<'de> Deserialize<'de> for ApplicationSetTemplate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let TemplateIn {
            metadata,
            spec,
            extra,
        } = TemplateIn::deserialize(deserializer)?;
        let written_empty = WrittenEmpty {
            metadata: metadata.as_ref().is_some_and(ObjectMeta::is_empty),
            spec: spec.as_ref().is_some_and(TemplateSpec::is_empty),
        };
        Ok(ApplicationSetTemplate {
            metadata: metadata.unwrap_or_default(),
            spec: spec.unwrap_or_default(),
            extra,
            written_empty,
        })
    }
}

impl Serialize for ApplicationSetTemplate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        TemplateOut {
            metadata: (!self.metadata.is_empty() || self.written_empty.metadata)
                .then_some(&self.metadata),
            spec: (!self.spec.is_empty() || self.written_empty.spec).then_some(&self.spec),
            extra: &self.extra,
        }
        .serialize(serializer)
    }
}

impl ApplicationSetTemplate {
    /// A template from metadata and a spec.
    pub fn new(metadata: ObjectMeta, spec: impl Into<TemplateSpec>) -> Self {
        ApplicationSetTemplate {
            metadata,
            spec: spec.into(),
            ..ApplicationSetTemplate::default()
        }
    }

    /// True when nothing is set.
    pub fn is_empty(&self) -> bool {
        self.metadata.is_empty() && self.spec.is_empty() && self.extra.is_empty()
    }
}

/// Most placeholders a template spec is searched for when it does not parse
/// as it stands (bounds the work on hostile input).
const MAX_PLACEHOLDERS: usize = 256;
/// Deepest nesting searched for placeholders.
const MAX_DEPTH: usize = 64;

/// One step of a path into a JSON value.
#[derive(Clone, Debug, PartialEq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// A field of a template spec that holds a placeholder where the Application
/// spec wants a non-string value (e.g. `prune: "{{prune}}"`).
#[derive(Clone, Debug, PartialEq)]
struct TemplatedField {
    path: Vec<Segment>,
    template: String,
}

/// The `spec` of an [`ApplicationSetTemplate`]: an [`ApplicationSpec`], plus
/// the fields that hold a whole-value placeholder such as `"{{prune}}"` where
/// the spec wants a boolean, number, list or mapping.
///
/// Placeholders in string fields (`path: "{{ .path.path }}"`) are ordinary
/// strings of the typed spec. A placeholder in a non-string field leaves
/// that field absent in [`TemplateSpec::spec`] and is listed by
/// [`TemplateSpec::templated_fields`]; it is written back where it was on
/// serialisation, so the document round-trips. A spec that does not parse
/// even with such placeholders set aside (say, `source:` holding a list) is
/// an error.
///
/// ```
/// use flotilla_core::TemplateSpec;
///
/// let spec: TemplateSpec = serde_json::from_str(r#"{
///   "source": {"repoURL": "https://example.com/r.git", "path": "{{path}}"},
///   "syncPolicy": {"automated": {"prune": "{{prune}}"}}
/// }"#)?;
/// assert_eq!(spec.spec().source.as_ref().and_then(|s| s.path.as_deref()), Some("{{path}}"));
/// assert_eq!(spec.templated_fields(), vec![("syncPolicy.automated.prune".to_string(), "{{prune}}")]);
/// assert_eq!(serde_json::to_value(&spec)?["syncPolicy"]["automated"]["prune"], "{{prune}}");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TemplateSpec {
    spec: ApplicationSpec,
    templated: Vec<TemplatedField>,
}

impl From<ApplicationSpec> for TemplateSpec {
    fn from(spec: ApplicationSpec) -> Self {
        TemplateSpec {
            spec,
            templated: Vec::new(),
        }
    }
}

impl TemplateSpec {
    /// The typed spec (non-string fields holding a placeholder are absent here).
    pub fn spec(&self) -> &ApplicationSpec {
        &self.spec
    }

    /// The typed spec, mutably. Templated fields are still written back at
    /// their paths on serialisation, where their parent still exists.
    pub fn spec_mut(&mut self) -> &mut ApplicationSpec {
        &mut self.spec
    }

    /// The typed spec, dropping templated fields.
    pub fn into_spec(self) -> ApplicationSpec {
        self.spec
    }

    /// Fields that hold a placeholder where a non-string value belongs, as
    /// `(JSON path, placeholder)` pairs.
    pub fn templated_fields(&self) -> Vec<(String, &str)> {
        self.templated
            .iter()
            .map(|field| (display_path(&field.path), field.template.as_str()))
            .collect()
    }

    /// True when nothing is set.
    pub fn is_empty(&self) -> bool {
        self.templated.is_empty() && self.spec.is_empty()
    }

    /// The spec as JSON, templated fields included, exactly as serialised.
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        let mut value = serde_json::to_value(&self.spec)?;
        for field in &self.templated {
            insert_at(
                &mut value,
                &field.path,
                Value::String(field.template.clone()),
            );
        }
        Ok(value)
    }

    /// Reads a template spec from JSON; see the type's documentation.
    pub fn from_value(value: Value) -> Result<Self, serde_json::Error> {
        if value.is_null() {
            return Ok(TemplateSpec::default());
        }
        let first_error = match serde_json::from_value::<ApplicationSpec>(value.clone()) {
            Ok(spec) => return Ok(spec.into()),
            Err(error) => error,
        };
        // Set aside every field whose whole value is a placeholder, then put
        // back, one by one, those that parse where they are.
        let mut placeholders = Vec::new();
        collect_placeholders(&value, &mut Vec::new(), &mut placeholders);
        if placeholders.is_empty() || placeholders.len() > MAX_PLACEHOLDERS {
            return Err(first_error);
        }
        let mut neutral = value;
        for (path, _) in &placeholders {
            insert_at(&mut neutral, path, Value::Null);
        }
        if serde_json::from_value::<ApplicationSpec>(neutral.clone()).is_err() {
            return Err(first_error);
        }
        let mut templated = Vec::new();
        for (path, template) in placeholders {
            let mut candidate = neutral.clone();
            insert_at(&mut candidate, &path, Value::String(template.clone()));
            if serde_json::from_value::<ApplicationSpec>(candidate.clone()).is_ok() {
                neutral = candidate;
            } else {
                templated.push(TemplatedField { path, template });
            }
        }
        let spec = serde_json::from_value::<ApplicationSpec>(neutral)?;
        Ok(TemplateSpec { spec, templated })
    }
}

impl Serialize for TemplateSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.templated.is_empty() {
            self.spec.serialize(serializer)
        } else {
            self.to_value()
                .map_err(serde::ser::Error::custom)?
                .serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for TemplateSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        TemplateSpec::from_value(value).map_err(|e| de::Error::custom(format!("in `spec`: {e}")))
    }
}

impl UnknownFields for TemplateSpec {
    fn collect_unknown_fields(&self, path: &str, out: &mut Vec<String>) {
        self.spec.collect_unknown_fields(path, out);
    }
}

/// Whether a string is one whole template placeholder (`{{...}}`).
fn is_placeholder(s: &str) -> bool {
    let s = s.trim();
    s.len() >= 4 && s.starts_with("{{") && s.ends_with("}}")
}

/// Collects the paths of mapping members whose value is a whole placeholder.
fn collect_placeholders(
    value: &Value,
    path: &mut Vec<Segment>,
    out: &mut Vec<(Vec<Segment>, String)>,
) {
    if path.len() > MAX_DEPTH || out.len() > MAX_PLACEHOLDERS {
        return;
    }
    match value {
        Value::Object(map) => {
            for (key, member) in map {
                path.push(Segment::Key(key.clone()));
                match member {
                    Value::String(s) if is_placeholder(s) => out.push((path.clone(), s.clone())),
                    _ => collect_placeholders(member, path, out),
                }
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(Segment::Index(i));
                collect_placeholders(item, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Sets the value at `path`, creating missing mappings on the way; does
/// nothing when a list index is out of range or a step is not a container.
fn insert_at(root: &mut Value, path: &[Segment], new: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = root;
    for segment in parents {
        let next = match (segment, current) {
            (Segment::Key(key), Value::Object(map)) => map
                .entry(key.clone())
                .or_insert_with(|| Value::Object(Extra::new())),
            (Segment::Index(i), Value::Array(items)) => match items.get_mut(*i) {
                Some(item) => item,
                None => return,
            },
            _ => return,
        };
        if next.is_null() {
            *next = Value::Object(Extra::new());
        }
        current = next;
    }
    match (last, current) {
        (Segment::Key(key), Value::Object(map)) => {
            map.insert(key.clone(), new);
        }
        (Segment::Index(i), Value::Array(items)) => {
            if let Some(item) = items.get_mut(*i) {
                *item = new;
            }
        }
        _ => {}
    }
}

/// Formats a path as `a.b[0].c`.
fn display_path(path: &[Segment]) -> String {
    path.iter()
        .fold(String::new(), |acc, segment| match segment {
            Segment::Key(key) => field_path(&acc, key),
            Segment::Index(i) => index_path(&acc, *i),
        })
}

/// `syncPolicy` of an ApplicationSet.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetSyncPolicy {
    /// `preserveResourcesOnDeletion`: keep the Applications' resources when the set is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preserve_resources_on_deletion: Option<bool>,
    /// `applicationsSync`: `create-only`, `create-update`, `create-delete` or `sync`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applications_sync: Option<String>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `strategy` of an ApplicationSet (progressive syncs).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetStrategy {
    /// `type`: `AllAtOnce` or `RollingSync`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub strategy_type: Option<String>,
    /// `rollingSync` steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling_sync: Option<RollingSyncStrategy>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `strategy.rollingSync`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollingSyncStrategy {
    /// `steps`, synced one after the other.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub steps: Vec<RollingSyncStep>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One `strategy.rollingSync.steps` entry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollingSyncStep {
    /// `matchExpressions` on the generated Applications' labels.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub match_expressions: Vec<LabelSelectorRequirement>,
    /// `maxUpdate`: a number or a percentage string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_update: Option<Value>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `preservedFields` of an ApplicationSet.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationPreservedFields {
    /// Annotation keys left alone on generated Applications.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub annotations: Vec<String>,
    /// Label keys left alone on generated Applications.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub labels: Vec<String>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One `ignoreApplicationDifferences` entry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetIgnoreDifferences {
    /// Name of the generated Application (all when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `jsonPointers` to ignore.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub json_pointers: Vec<String>,
    /// `jqPathExpressions` to ignore.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub jq_path_expressions: Vec<String>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

impl_unknown_fields!(ApplicationSet { metadata => "metadata", spec => "spec" });
impl_unknown_fields!(ApplicationSetSpec {
    generators => "generators",
    template => "template",
    sync_policy => "syncPolicy",
    strategy => "strategy",
    preserved_fields => "preservedFields",
    ignore_application_differences => "ignoreApplicationDifferences",
});
impl_unknown_fields!(ApplicationSetTemplate { metadata => "metadata", spec => "spec" });
impl_unknown_fields!(ApplicationSetSyncPolicy {});
impl_unknown_fields!(ApplicationSetStrategy { rolling_sync => "rollingSync" });
impl_unknown_fields!(RollingSyncStrategy { steps => "steps" });
impl_unknown_fields!(RollingSyncStep { match_expressions => "matchExpressions" });
impl_unknown_fields!(ApplicationPreservedFields {});
impl_unknown_fields!(ApplicationSetIgnoreDifferences {});
