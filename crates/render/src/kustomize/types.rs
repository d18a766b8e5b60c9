//! The `kustomization.yaml` file, as kustomize v5.5.0 decodes it: unknown
//! fields are refused, deprecated fields are folded into their successors.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::config::OwnedFieldSpec;

/// `null` reads as the default, as Go's JSON decoder leaves the field unset.
fn nd<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A kustomization (or component).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Kustomization {
    #[serde(default, deserialize_with = "nd")]
    pub api_version: String,
    #[serde(default, deserialize_with = "nd")]
    pub kind: String,
    #[serde(default, deserialize_with = "nd")]
    pub metadata: Option<Value>,
    #[serde(default, deserialize_with = "nd", rename = "openapi")]
    pub openapi: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "nd")]
    pub name_prefix: String,
    #[serde(default, deserialize_with = "nd")]
    pub name_suffix: String,
    #[serde(default, deserialize_with = "nd")]
    pub namespace: String,
    #[serde(default, deserialize_with = "nd")]
    pub common_labels: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "nd")]
    pub labels: Vec<Label>,
    #[serde(default, deserialize_with = "nd")]
    pub common_annotations: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "nd")]
    pub patches_strategic_merge: Vec<String>,
    #[serde(default, deserialize_with = "nd", rename = "patchesJson6902")]
    pub patches_json6902: Vec<Patch>,
    #[serde(default, deserialize_with = "nd")]
    pub patches: Vec<Patch>,
    #[serde(default, deserialize_with = "nd")]
    pub images: Vec<Image>,
    #[serde(default, deserialize_with = "nd")]
    pub image_tags: Vec<Image>,
    #[serde(default, deserialize_with = "nd")]
    pub replacements: Vec<ReplacementField>,
    #[serde(default, deserialize_with = "nd")]
    pub replicas: Vec<Replica>,
    #[serde(default, deserialize_with = "nd")]
    pub vars: Vec<Var>,
    #[serde(default, deserialize_with = "nd")]
    pub sort_options: Option<SortOptions>,
    #[serde(default, deserialize_with = "nd")]
    pub resources: Vec<String>,
    #[serde(default, deserialize_with = "nd")]
    pub components: Vec<String>,
    #[serde(default, deserialize_with = "nd")]
    pub crds: Vec<String>,
    #[serde(default, deserialize_with = "nd")]
    pub bases: Vec<String>,
    #[serde(default, deserialize_with = "nd")]
    pub config_map_generator: Vec<GeneratorArgs>,
    #[serde(default, deserialize_with = "nd")]
    pub secret_generator: Vec<GeneratorArgs>,
    #[serde(default, deserialize_with = "nd")]
    pub helm_globals: Option<Value>,
    #[serde(default, deserialize_with = "nd")]
    pub helm_charts: Vec<Value>,
    #[serde(default, deserialize_with = "nd")]
    pub helm_chart_inflation_generator: Vec<Value>,
    #[serde(default, deserialize_with = "nd")]
    pub generator_options: Option<GeneratorOptions>,
    #[serde(default, deserialize_with = "nd")]
    pub configurations: Vec<String>,
    #[serde(default, deserialize_with = "nd")]
    pub generators: Vec<String>,
    #[serde(default, deserialize_with = "nd")]
    pub transformers: Vec<String>,
    #[serde(default, deserialize_with = "nd")]
    pub validators: Vec<String>,
    #[serde(default, deserialize_with = "nd")]
    pub build_metadata: Vec<String>,
}

/// An entry of `labels`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Label {
    #[serde(default, deserialize_with = "nd")]
    pub pairs: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "nd")]
    pub include_selectors: bool,
    #[serde(default, deserialize_with = "nd")]
    pub include_templates: bool,
    #[serde(default, deserialize_with = "nd", rename = "fields")]
    pub field_specs: Vec<OwnedFieldSpec>,
}

/// A patch target.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Selector {
    #[serde(default, deserialize_with = "nd")]
    pub group: String,
    #[serde(default, deserialize_with = "nd")]
    pub version: String,
    #[serde(default, deserialize_with = "nd")]
    pub kind: String,
    #[serde(default, deserialize_with = "nd")]
    pub name: String,
    #[serde(default, deserialize_with = "nd")]
    pub namespace: String,
    #[serde(default, deserialize_with = "nd")]
    pub label_selector: String,
    #[serde(default, deserialize_with = "nd")]
    pub annotation_selector: String,
}

/// An entry of `patches` (or `patchesJson6902`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Patch {
    #[serde(default, deserialize_with = "nd")]
    pub path: String,
    #[serde(default, deserialize_with = "nd")]
    pub patch: String,
    #[serde(default, deserialize_with = "nd")]
    pub target: Option<Selector>,
    #[serde(default, deserialize_with = "nd")]
    pub options: BTreeMap<String, bool>,
}

/// An entry of `images`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Image {
    #[serde(default, deserialize_with = "nd")]
    pub name: String,
    #[serde(default, deserialize_with = "nd")]
    pub new_name: String,
    #[serde(default, deserialize_with = "nd")]
    pub tag_suffix: String,
    #[serde(default, deserialize_with = "nd")]
    pub new_tag: String,
    #[serde(default, deserialize_with = "nd")]
    pub digest: String,
}

/// An entry of `replicas`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Replica {
    #[serde(default, deserialize_with = "nd")]
    pub name: String,
    #[serde(default, deserialize_with = "nd")]
    pub count: i64,
}

/// `sortOptions`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct SortOptions {
    #[serde(default, deserialize_with = "nd")]
    pub order: String,
    #[serde(default, deserialize_with = "nd")]
    pub legacy_sort_options: Option<LegacySortOptions>,
}

/// `sortOptions.legacySortOptions`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct LegacySortOptions {
    #[serde(default, deserialize_with = "nd")]
    pub order_first: Vec<String>,
    #[serde(default, deserialize_with = "nd")]
    pub order_last: Vec<String>,
}

/// `generatorOptions` (or a generator's `options`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct GeneratorOptions {
    #[serde(default, deserialize_with = "nd")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "nd")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "nd")]
    pub disable_name_suffix_hash: bool,
    #[serde(default, deserialize_with = "nd")]
    pub immutable: bool,
}

/// A `configMapGenerator` or `secretGenerator` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct GeneratorArgs {
    #[serde(default, deserialize_with = "nd")]
    pub namespace: String,
    #[serde(default, deserialize_with = "nd")]
    pub name: String,
    #[serde(default, deserialize_with = "nd")]
    pub behavior: String,
    #[serde(default, deserialize_with = "nd")]
    pub literals: Vec<String>,
    #[serde(default, deserialize_with = "nd")]
    pub files: Vec<String>,
    #[serde(default, deserialize_with = "nd")]
    pub envs: Vec<String>,
    #[serde(default, deserialize_with = "nd")]
    pub env: String,
    #[serde(default, deserialize_with = "nd")]
    pub options: Option<GeneratorOptions>,
    /// Secrets only.
    #[serde(default, deserialize_with = "nd", rename = "type")]
    pub type_: String,
}

/// A `vars` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Var {
    #[serde(default, deserialize_with = "nd")]
    pub name: String,
    #[serde(default, deserialize_with = "nd", alias = "objRef")]
    pub objref: VarTarget,
    #[serde(default, deserialize_with = "nd", alias = "fieldRef")]
    pub fieldref: FieldSelector,
}

/// `vars[].objref`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct VarTarget {
    #[serde(default, deserialize_with = "nd")]
    pub group: String,
    #[serde(default, deserialize_with = "nd")]
    pub version: String,
    #[serde(default, deserialize_with = "nd")]
    pub kind: String,
    #[serde(default, deserialize_with = "nd")]
    pub api_version: String,
    #[serde(default, deserialize_with = "nd")]
    pub name: String,
    #[serde(default, deserialize_with = "nd")]
    pub namespace: String,
}

/// `vars[].fieldref`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct FieldSelector {
    #[serde(default, deserialize_with = "nd", alias = "fieldpath")]
    pub field_path: String,
}

/// A `replacements` entry: inline, or a `path` to a file of them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ReplacementField {
    #[serde(default, deserialize_with = "nd")]
    pub path: String,
    #[serde(default, deserialize_with = "nd")]
    pub source: Option<SourceSelector>,
    #[serde(default, deserialize_with = "nd")]
    pub targets: Vec<TargetSelector>,
}

/// A replacement source.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct SourceSelector {
    #[serde(default, deserialize_with = "nd")]
    pub group: String,
    #[serde(default, deserialize_with = "nd")]
    pub version: String,
    #[serde(default, deserialize_with = "nd")]
    pub kind: String,
    #[serde(default, deserialize_with = "nd")]
    pub name: String,
    #[serde(default, deserialize_with = "nd")]
    pub namespace: String,
    #[serde(default, deserialize_with = "nd")]
    pub field_path: String,
    #[serde(default, deserialize_with = "nd")]
    pub options: Option<FieldOptions>,
}

/// A replacement target.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct TargetSelector {
    #[serde(default, deserialize_with = "nd")]
    pub select: Option<Selector>,
    #[serde(default, deserialize_with = "nd")]
    pub reject: Vec<Selector>,
    #[serde(default, deserialize_with = "nd")]
    pub field_paths: Vec<String>,
    #[serde(default, deserialize_with = "nd")]
    pub options: Option<FieldOptions>,
}

/// Replacement options.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct FieldOptions {
    #[serde(default, deserialize_with = "nd")]
    pub delimiter: String,
    #[serde(default, deserialize_with = "nd")]
    pub index: i64,
    #[serde(default, deserialize_with = "nd")]
    pub encoding: String,
    #[serde(default, deserialize_with = "nd")]
    pub create: bool,
}

impl Kustomization {
    /// True when nothing but `apiVersion`/`kind` is set (kustomize refuses it).
    pub fn is_empty(&self) -> bool {
        let mut k = self.clone();
        k.api_version.clear();
        k.kind.clear();
        format!("{k:?}") == format!("{:?}", Kustomization::default())
    }

    /// Folds deprecated fields into their successors, as kustomize's
    /// `FixKustomization` does.
    pub fn fix(&mut self) {
        if self.kind.is_empty() {
            self.kind = "Kustomization".into();
        }
        let bases = std::mem::take(&mut self.bases);
        self.resources.extend(bases);
        let tags = std::mem::take(&mut self.image_tags);
        self.images.extend(tags);
        for g in self
            .config_map_generator
            .iter_mut()
            .chain(self.secret_generator.iter_mut())
        {
            if !g.env.is_empty() {
                let e = std::mem::take(&mut g.env);
                g.envs.push(e);
            }
        }
    }
}
