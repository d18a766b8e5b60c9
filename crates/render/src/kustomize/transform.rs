//! kustomize's built-in transformers: namespace, name prefix and suffix,
//! labels, annotations, images, replica counts.

use std::collections::BTreeMap;

use serde_json::Value;

use super::config::{merge_field_specs, OwnedFieldSpec};
use super::config_data::{
    COMMON_ANNOTATIONS, COMMON_LABELS, IMAGES, NAMESPACE, NAME_PREFIX, REPLICAS, TEMPLATE_LABELS,
};
use super::fieldspec::{kind_name, set_entry, CreateKind, Seg, Spec};
use super::resource::{Gvk, Resource};
use super::types::{Image, Label, Replica};

/// A transformer failure: the resource it failed on and why.
#[derive(Debug)]
pub struct TransformError {
    /// Index of the resource, when one is to blame.
    pub resource: Option<usize>,
    /// What went wrong.
    pub message: String,
}

type TResult = Result<(), TransformError>;

fn on(i: usize) -> impl Fn(String) -> TransformError {
    move |message| TransformError {
        resource: Some(i),
        message,
    }
}

fn specs(table: &[super::config::FieldSpec]) -> Vec<Spec> {
    table.iter().map(Spec::from).collect()
}

/// `namespace:`.
pub fn namespace(resources: &mut [Resource], ns: &str) -> TResult {
    if ns.is_empty() {
        return Ok(());
    }
    let table = specs(&NAMESPACE);
    for i in 0..resources.len() {
        if resources[i].is_empty() {
            continue;
        }
        resources[i].store_previous_id();
        let r = &mut resources[i];
        let gvk = r.gvk();
        let api_version = r.api_version().to_string();
        // metadata.namespace on namespaced kinds.
        if !gvk.is_cluster_scoped() {
            r.metadata_mut()
                .insert("namespace".into(), Value::String(ns.into()));
        }
        let role_binding = gvk.kind == "RoleBinding" || gvk.kind == "ClusterRoleBinding";
        if role_binding {
            if let Some(Value::Array(subjects)) = r.obj.get_mut("subjects") {
                for s in subjects.iter_mut() {
                    if let Value::Object(m) = s {
                        if m.get("name").and_then(Value::as_str) == Some("default") {
                            m.insert("namespace".into(), Value::String(ns.into()));
                        }
                    }
                }
            }
        }
        for spec in &table {
            let p = spec.path.join("/");
            if p == "metadata/namespace" || (api_version != "v1" && p == "metadata/name") {
                continue;
            }
            if role_binding && p == "subjects/namespace" {
                continue;
            }
            if !spec.matches(&r.obj) {
                continue;
            }
            spec.apply(&mut r.obj, CreateKind::Scalar, &mut |n| match n {
                Value::Object(_) | Value::Array(_) => Err(format!(
                    "namespace field specs must target scalar nodes (found a {})",
                    kind_name(n)
                )),
                _ => {
                    *n = Value::String(ns.into());
                    Ok(())
                }
            })
            .map_err(on(i))?;
        }
        let id = resources[i].cur_id();
        let n = resources.iter().filter(|o| o.cur_id().equals(&id)).count();
        if n != 1 {
            return Err(TransformError {
                resource: Some(i),
                message: format!(
                    "namespace transformation produces ID conflict: {n} resources are now {id}"
                ),
            });
        }
    }
    Ok(())
}

fn prefix_skipped(g: &Gvk) -> bool {
    g.kind == "CustomResourceDefinition"
        || (g.group == "apiregistration.k8s.io" && g.kind == "APIService")
        || g.kind == "Namespace"
}

/// `namePrefix:` / `nameSuffix:`.
pub fn prefix_suffix(resources: &mut [Resource], prefix: &str, suffix: bool) -> TResult {
    if prefix.is_empty() {
        return Ok(());
    }
    let table = if suffix {
        specs(&super::config_data::NAME_SUFFIX)
    } else {
        specs(&NAME_PREFIX)
    };
    for (i, r) in resources.iter_mut().enumerate() {
        let org = r.org_id();
        if prefix_skipped(&org.gvk) {
            continue;
        }
        for spec in &table {
            if !org.gvk.is_selected(&spec.gvk) {
                continue;
            }
            if spec.path.join("/") == "metadata/name" {
                if suffix {
                    r.suffixes.push(prefix.to_string());
                } else {
                    r.prefixes.push(prefix.to_string());
                }
                r.store_previous_id();
            }
            if !spec.matches(&r.obj) {
                continue;
            }
            spec.apply(&mut r.obj, CreateKind::Scalar, &mut |n| {
                let cur = super::resource::scalar_text(n);
                *n = Value::String(if suffix {
                    format!("{cur}{prefix}")
                } else {
                    format!("{prefix}{cur}")
                });
                Ok(())
            })
            .map_err(on(i))?;
        }
    }
    Ok(())
}

fn set_map_entries(
    resources: &mut [Resource],
    entries: &BTreeMap<String, String>,
    table: &[Spec],
) -> TResult {
    if entries.is_empty() {
        return Ok(());
    }
    for (i, r) in resources.iter_mut().enumerate() {
        for (k, v) in entries {
            let value = Value::String(v.clone());
            // kustomize inserts one shared node for this key (see `Resource::aliases`).
            let mut fresh: Vec<Vec<Seg>> = Vec::new();
            let mut in_place: Vec<Vec<Seg>> = Vec::new();
            for spec in table {
                if !spec.matches(&r.obj) {
                    continue;
                }
                spec.apply_at(&mut r.obj, CreateKind::Map, &mut |n, at| {
                    let mut p = at.to_vec();
                    p.push(Seg::Key(k.clone()));
                    match n {
                        Value::Object(m) if m.contains_key(k) => in_place.push(p),
                        Value::Object(_) => fresh.push(p),
                        _ => {}
                    }
                    set_entry(n, k, value.clone())
                })
                .map_err(on(i))?;
            }
            for p in in_place {
                r.propagate(&p, &value);
            }
            if fresh.len() > 1 {
                r.aliases.push(fresh);
            }
        }
    }
    Ok(())
}

fn owned(table: &[super::config::FieldSpec]) -> Vec<OwnedFieldSpec> {
    table.iter().map(OwnedFieldSpec::from).collect()
}

/// `labels:` entries, then `commonLabels:`.
pub fn labels(
    resources: &mut [Resource],
    labels: &[Label],
    common: &BTreeMap<String, String>,
) -> TResult {
    let err = |m: String| TransformError {
        resource: None,
        message: m,
    };
    for label in labels {
        let mut fss = label.field_specs.clone();
        if label.include_selectors {
            merge_field_specs(&mut fss, &owned(&COMMON_LABELS)).map_err(err)?;
        } else {
            if label.include_templates {
                merge_field_specs(&mut fss, &owned(&TEMPLATE_LABELS)).map_err(err)?;
            }
            merge_field_specs(
                &mut fss,
                &[OwnedFieldSpec {
                    path: "metadata/labels".into(),
                    create: true,
                    ..Default::default()
                }],
            )
            .map_err(err)?;
        }
        let table: Vec<Spec> = fss.iter().map(Spec::from).collect();
        set_map_entries(resources, &label.pairs, &table)?;
    }
    set_map_entries(resources, common, &specs(&COMMON_LABELS))
}

/// `commonAnnotations:`.
pub fn annotations(resources: &mut [Resource], common: &BTreeMap<String, String>) -> TResult {
    set_map_entries(resources, common, &specs(&COMMON_ANNOTATIONS))
}

/// Whether `image` is `name` with an optional tag and digest (kustomize's
/// `IsImageMatched`; the name is used as a regular expression, as there).
#[cfg(test)]
fn image_matches(image: &str, name: &str) -> bool {
    ImageRule::new(&Image {
        name: name.to_string(),
        ..Default::default()
    })
    .matches(image)
}

/// One `images:` entry with its name pattern compiled once (not per
/// resource and field).
struct ImageRule<'a> {
    img: &'a Image,
    /// `None` when the name is not a valid regular expression (it then
    /// matches nothing, as in kustomize).
    re: Option<regex::Regex>,
}

impl<'a> ImageRule<'a> {
    fn new(img: &'a Image) -> Self {
        let name = &img.name;
        let pattern = format!("^{name}(:[a-zA-Z0-9_.{{}}-]*)?(@sha256:[a-zA-Z0-9_.{{}}-]*)?$");
        ImageRule {
            img,
            re: regex::Regex::new(&pattern).ok(),
        }
    }

    fn matches(&self, image: &str) -> bool {
        // Cheap refusal first: a match starts with the name's literal
        // prefix (up to its first metacharacter; none with an alternation).
        let lit_end = if self.img.name.contains('|') {
            0
        } else {
            self.img
                .name
                .find(|c: char| "\\.+*?()|[]{}^$".contains(c))
                .unwrap_or(self.img.name.len())
        };
        if !image.starts_with(&self.img.name[..lit_end]) {
            return false;
        }
        self.re.as_ref().is_some_and(|r| r.is_match(image))
    }
}

/// Splits an image reference into name, tag and digest.
pub fn split_image(image: &str) -> (String, String, String) {
    let (search, offset) = match image.find('/') {
        Some(i) if i > 0 => (&image[i..], i),
        _ => (image, 0),
    };
    let id = search.find('@');
    let ic = search.find(':');
    match (id, ic) {
        (None, None) => (image.to_string(), String::new(), String::new()),
        (Some(d), c) if c.is_none_or(|c| d < c) => {
            let d = d + offset;
            (
                image[..d].to_string(),
                String::new(),
                image[d + 1..].to_string(),
            )
        }
        (Some(d), Some(c)) => {
            let (d, c) = (d + offset, c + offset);
            (
                image[..c].to_string(),
                image[c + 1..d].to_string(),
                image[d + 1..].to_string(),
            )
        }
        (None, Some(c)) => {
            let c = c + offset;
            (
                image[..c].to_string(),
                image[c + 1..].to_string(),
                String::new(),
            )
        }
        _ => unreachable!(),
    }
}

fn update_image(node: &mut Value, rule: &ImageRule) -> Result<(), String> {
    let img = rule.img;
    let current = match &*node {
        Value::Null => return Ok(()),
        Value::Object(_) | Value::Array(_) => {
            return Err(format!(
                "wrong node kind: expected a scalar image but got a {}",
                kind_name(node)
            ))
        }
        other => super::resource::scalar_text(other),
    };
    if !rule.matches(&current) {
        return Ok(());
    }
    let (mut name, mut tag, mut digest) = split_image(&current);
    if !img.new_name.is_empty() {
        name = img.new_name.clone();
    }
    if !img.new_tag.is_empty() && !img.digest.is_empty() {
        tag = img.new_tag.clone();
        digest = img.digest.clone();
    } else if !img.new_tag.is_empty() {
        tag = img.new_tag.clone();
        digest.clear();
    } else if !img.digest.is_empty() {
        tag.clear();
        digest = img.digest.clone();
    } else if !img.tag_suffix.is_empty() {
        tag.push_str(&img.tag_suffix);
        digest.clear();
    }
    if !tag.is_empty() {
        name = format!("{name}:{tag}");
    }
    if !digest.is_empty() {
        name = format!("{name}@{digest}");
    }
    *node = Value::String(name);
    Ok(())
}

/// kustomize's legacy image walk: every `containers` / `initContainers`
/// list anywhere in the object.
fn legacy_images(v: &mut Value, img: &ImageRule) -> Result<(), String> {
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                legacy_images(child, img)?;
                if k == "containers" || k == "initContainers" {
                    if let Value::Array(items) = child {
                        for item in items.iter_mut() {
                            if let Value::Object(c) = item {
                                if let Some(image) = c.get_mut("image") {
                                    update_image(image, img)?;
                                }
                            }
                        }
                    }
                }
            }
            Ok(())
        }
        Value::Array(items) => {
            for item in items {
                legacy_images(item, img)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// `images:`.
pub fn images(resources: &mut [Resource], images: &[Image]) -> TResult {
    let table = specs(&IMAGES);
    for img in images {
        let img = &ImageRule::new(img);
        for (i, r) in resources.iter_mut().enumerate() {
            if r.kind() == "CustomResourceDefinition" {
                continue;
            }
            let mut v = Value::Object(std::mem::take(&mut r.obj));
            let res = legacy_images(&mut v, img);
            if let Value::Object(m) = v {
                r.obj = m;
            }
            res.map_err(on(i))?;
        }
        for (i, r) in resources.iter_mut().enumerate() {
            if r.kind() == "CustomResourceDefinition" {
                continue;
            }
            for spec in &table {
                if !spec.matches(&r.obj) {
                    continue;
                }
                spec.apply(&mut r.obj, CreateKind::None, &mut |n| update_image(n, img))
                    .map_err(on(i))?;
            }
        }
    }
    Ok(())
}

/// `replicas:`.
pub fn replicas(resources: &mut [Resource], replicas: &[Replica]) -> TResult {
    let table = specs(&REPLICAS);
    for rep in replicas {
        let mut found = false;
        for spec in &table {
            for (i, r) in resources.iter_mut().enumerate() {
                let hit = r
                    .all_ids()
                    .iter()
                    .any(|id| id.name == rep.name && id.gvk.is_selected(&spec.gvk));
                if !hit {
                    continue;
                }
                found = true;
                if !spec.matches(&r.obj) {
                    continue;
                }
                spec.apply(&mut r.obj, CreateKind::Scalar, &mut |n| {
                    *n = Value::Number(rep.count.into());
                    Ok(())
                })
                .map_err(on(i))?;
            }
        }
        if !found {
            let gvks: Vec<String> = table.iter().map(|s| s.gvk.kustomize_string()).collect();
            return Err(TransformError {
                resource: None,
                message: format!(
                    "resource with name {} does not match a config with the following GVK [{}]",
                    rep.name,
                    gvks.join(" ")
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_split() {
        assert_eq!(split_image("nginx"), ("nginx".into(), "".into(), "".into()));
        assert_eq!(
            split_image("nginx:1.2"),
            ("nginx".into(), "1.2".into(), "".into())
        );
        assert_eq!(
            split_image("reg:5000/nginx:1.2"),
            ("reg:5000/nginx".into(), "1.2".into(), "".into())
        );
        assert_eq!(
            split_image("nginx:1@sha256:abc"),
            ("nginx".into(), "1".into(), "sha256:abc".into())
        );
        assert!(image_matches("nginx:1.2", "nginx"));
        assert!(!image_matches("nginx-x:1.2", "nginx"));
    }
}
