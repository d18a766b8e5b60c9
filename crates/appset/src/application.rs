//! Turning one parameter set into an Application: the template (with a
//! generator's own template merged in), `templatePatch`, the finalizer and
//! namespace Argo CD sets, and name checks.

use flotilla_core::{
    Application, ApplicationSet, ApplicationSetTemplate, APPLICATION_KIND, ARGOPROJ_API_VERSION,
};
use serde_json::Value;

use crate::error::{AppsetError, Origin};
use crate::params::Params;
use crate::render::{Data, FieldFailure, Node, Renderer};

/// The finalizer Argo CD puts on generated Applications (unless the
/// ApplicationSet's `syncPolicy.preserveResourcesOnDeletion` is true), so
/// that deleting one deletes its resources.
pub const RESOURCES_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";

/// Longest Kubernetes object name.
const MAX_NAME: usize = 253;

/// One step of a JSON path.
#[derive(Clone, Debug, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// The Application template of one top-level generator, compiled.
pub(crate) struct AppTemplate {
    /// `{"metadata": ..., "spec": ...}` as written.
    raw: Value,
    node: Node,
    /// Fields holding a whole placeholder where a non-string belongs.
    templated: Vec<(String, Vec<Seg>)>,
    patch: Option<String>,
    namespace: Option<String>,
    finalizer: bool,
}

impl AppTemplate {
    /// Merges a generator's `template` over the ApplicationSet's (the
    /// generator's fields win; empty ones are filled in, as Go's `mergo`
    /// does) and compiles it.
    pub(crate) fn new(
        appset: &ApplicationSet,
        generator_template: Option<&ApplicationSetTemplate>,
        renderer: &Renderer,
        generator: &str,
    ) -> Result<AppTemplate, AppsetError> {
        let name = appset.name().to_string();
        let to_json = |t: &ApplicationSetTemplate| -> Result<Value, AppsetError> {
            let metadata = serde_json::to_value(&t.metadata);
            let spec = t.spec.to_value();
            match (metadata, spec) {
                (Ok(m), Ok(s)) => Ok(serde_json::json!({"metadata": m, "spec": s})),
                (Err(e), _) | (_, Err(e)) => Err(AppsetError::Invalid {
                    appset: name.clone(),
                    field: "spec.template".into(),
                    reason: format!("cannot be serialised: {e}"),
                }),
            }
        };
        let base = &appset.spec.template;
        let mut raw = match generator_template {
            Some(t) => to_json(t)?,
            None => to_json(base)?,
        };
        if generator_template.is_some() {
            fill(&mut raw, &to_json(base)?);
        }
        let mut templated = Vec::new();
        for t in generator_template.into_iter().chain(Some(base)) {
            for (path, _) in t.spec.templated_fields() {
                let full = format!("spec.{path}");
                if let Some(segs) = parse_path(&full) {
                    if !templated.iter().any(|(p, _)| *p == full) {
                        templated.push((full, segs));
                    }
                }
            }
        }
        let node = renderer
            .compile(&raw, "")
            .map_err(|f| AppsetError::Template {
                appset: name.clone(),
                origin: Origin::new(generator, "template"),
                field: f.field,
                failure: f.failure,
            })?;
        let patch = appset
            .spec
            .template_patch
            .clone()
            .filter(|p| !p.trim().is_empty());
        if let Some(patch) = &patch {
            renderer
                .piece(patch)
                .map_err(|failure| AppsetError::Template {
                    appset: name.clone(),
                    origin: Origin::new(generator, "templatePatch"),
                    field: "spec.templatePatch".into(),
                    failure: Box::new(failure),
                })?;
        }
        Ok(AppTemplate {
            raw,
            node,
            templated,
            patch,
            namespace: appset.metadata.namespace.clone().filter(|n| !n.is_empty()),
            finalizer: !appset
                .spec
                .sync_policy
                .as_ref()
                .and_then(|p| p.preserve_resources_on_deletion)
                .unwrap_or(false),
        })
    }

    /// The Application for one parameter set.
    pub(crate) fn render(
        &self,
        appset: &str,
        renderer: &Renderer,
        params: &Params,
        origin: &Origin,
    ) -> Result<Application, AppsetError> {
        let template_error = |f: FieldFailure| AppsetError::Template {
            appset: appset.to_string(),
            origin: origin.clone(),
            field: f.field,
            failure: f.failure,
        };
        let render_error = |reason: String| AppsetError::Render {
            appset: appset.to_string(),
            origin: origin.clone(),
            reason,
        };
        let data = Data::new(params);
        // As in Argo CD, an empty parameter set leaves the template as written.
        let mut rendered = if params.is_empty() {
            self.raw.clone()
        } else {
            self.node.eval(&data).map_err(template_error)?
        };
        for (field, segs) in &self.templated {
            if let Some(slot) = get_mut(&mut rendered, segs) {
                if let Value::String(text) = slot {
                    *slot = scalar(text).map_err(|e| {
                        render_error(format!("`{field}` rendered to {text:?}, which {e}"))
                    })?;
                }
            }
        }
        let Value::Object(mut parts) = rendered else {
            return Err(render_error("the template is not a mapping".into()));
        };
        let mut app = serde_json::Map::new();
        app.insert(
            "apiVersion".into(),
            Value::String(ARGOPROJ_API_VERSION.into()),
        );
        app.insert("kind".into(), Value::String(APPLICATION_KIND.into()));
        app.insert(
            "metadata".into(),
            parts
                .remove("metadata")
                .unwrap_or_else(|| Value::Object(Default::default())),
        );
        app.insert(
            "spec".into(),
            parts
                .remove("spec")
                .unwrap_or_else(|| Value::Object(Default::default())),
        );
        let mut app = Value::Object(app);
        if self.finalizer {
            if let Some(meta) = object_at(&mut app, "metadata") {
                let empty = meta
                    .get("finalizers")
                    .is_none_or(|f| f.as_array().is_none_or(Vec::is_empty));
                if empty {
                    meta.insert(
                        "finalizers".into(),
                        Value::Array(vec![Value::String(RESOURCES_FINALIZER.into())]),
                    );
                }
            }
        }
        if let Some(patch) = &self.patch {
            let text = renderer.render_str(patch, &data).map_err(|failure| {
                template_error(FieldFailure {
                    field: "templatePatch".into(),
                    failure: Box::new(failure),
                })
            })?;
            let patch = parse_patch(&text).map_err(|e| {
                render_error(format!("templatePatch: {e}; it rendered to:\n{text}"))
            })?;
            let project = app.get("spec").and_then(|s| s.get("project")).cloned();
            strategic_merge(&mut app, &patch, "");
            // As Argo CD: a patch may not move an Application to another project.
            if let Some(spec) = object_at(&mut app, "spec") {
                match project {
                    Some(p) => {
                        spec.insert("project".into(), p);
                    }
                    None => {
                        spec.remove("project");
                    }
                }
            }
        }
        if let Some(ns) = &self.namespace {
            if let Some(meta) = object_at(&mut app, "metadata") {
                meta.insert("namespace".into(), Value::String(ns.clone()));
            }
        }
        let app: Application = serde_json::from_value(app)
            .map_err(|e| render_error(format!("the rendered Application is not valid: {e}")))?;
        if let Err(reason) = check_name(app.name()) {
            return Err(AppsetError::InvalidName {
                appset: appset.to_string(),
                name: app.name().to_string(),
                origin: origin.clone(),
                reason,
            });
        }
        Ok(app)
    }
}

/// The mapping at `key` of the mapping `value`, created when absent or
/// `null`; `None` when either is something else.
fn object_at<'v>(
    value: &'v mut Value,
    key: &str,
) -> Option<&'v mut serde_json::Map<String, Value>> {
    let slot = value
        .as_object_mut()?
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Default::default()));
    if slot.is_null() {
        *slot = Value::Object(Default::default());
    }
    slot.as_object_mut()
}

/// A name Kubernetes accepts for an Application: a DNS-1123 subdomain.
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(
            "the name is empty (metadata.name of the template must render to a name)".into(),
        );
    }
    if name.len() > MAX_NAME {
        return Err(format!("longer than {MAX_NAME} characters"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '-' | '.'))
    {
        return Err(format!(
            "{c:?} is not allowed: a name holds lower case letters, digits, '-' and '.' (the `normalize` function makes a name of any text)"
        ));
    }
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !alnum(name.chars().next()) || !alnum(name.chars().last()) {
        return Err("a name must start and end with a letter or digit".into());
    }
    Ok(())
}

/// Go's `mergo.Merge(dst, src)`: fields of `dst` that are absent or empty
/// (`""`, `0`, `false`, `null`, an empty list or mapping) take `src`'s value;
/// mappings merge recursively.
fn fill(dst: &mut Value, src: &Value) {
    let (Value::Object(d), Value::Object(s)) = (dst, src) else {
        return;
    };
    for (key, value) in s {
        match d.get_mut(key) {
            None => {
                d.insert(key.clone(), value.clone());
            }
            Some(slot) if is_empty(slot) => *slot = value.clone(),
            Some(slot @ Value::Object(_)) => fill(slot, value),
            Some(_) => {}
        }
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// A rendered whole-value placeholder as the value it spells: JSON
/// (`true`, `3`, `["a"]`), else YAML as Argo CD reads it (`yes`, `{a: 1}`).
fn scalar(text: &str) -> Result<Value, String> {
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        return Ok(v);
    }
    let v = flotilla_template::from_go_yaml(text)
        .and_then(|v| v.to_json())
        .map_err(|e| format!("is not a value ({e})"))?;
    Ok(integral(v))
}

/// Whole numbers read through YAML (always `float64`) as integers.
fn integral(v: Value) -> Value {
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
            _ => Value::Number(n),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(integral).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, integral(v))).collect())
        }
        other => other,
    }
}

/// A rendered `templatePatch`: YAML or JSON holding a mapping.
fn parse_patch(text: &str) -> Result<Value, String> {
    let value = if text.trim_start().starts_with('{') {
        serde_json::from_str::<Value>(text).map_err(|e| format!("not valid JSON: {e}"))?
    } else {
        let v = crate::files::read_yaml_value(text).map_err(|e| match e.line {
            Some(line) => format!("line {line}: {}", e.reason),
            None => e.reason,
        })?;
        integral(v)
    };
    match value {
        Value::Object(_) => Ok(value),
        Value::Null => Ok(Value::Object(Default::default())),
        other => Err(format!(
            "must be a mapping, not {}",
            flotilla_core::json_type_name(&other)
        )),
    }
}

/// Applies `patch` as Kubernetes' strategic merge patch does for the
/// Application type: mappings merge, `null` deletes, lists are replaced
/// except `metadata.finalizers` (merged), and `$patch: replace|delete`
/// directives are honoured.
fn strategic_merge(target: &mut Value, patch: &Value, path: &str) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    match p.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut replaced = p.clone();
            replaced.remove("$patch");
            *target = Value::Object(replaced);
            return;
        }
        Some("delete") => {
            *target = Value::Null;
            return;
        }
        _ => {}
    }
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    let Value::Object(t) = target else {
        return;
    };
    for (key, value) in p {
        if key == "$patch" {
            continue;
        }
        let child_path = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        match value {
            Value::Null => {
                t.remove(key);
            }
            Value::Object(o) if o.get("$patch").and_then(Value::as_str) == Some("delete") => {
                t.remove(key);
            }
            Value::Object(_) => {
                let slot = t.entry(key.clone()).or_insert(Value::Null);
                strategic_merge(slot, value, &child_path);
            }
            Value::Array(items) if child_path == "metadata.finalizers" => {
                let slot = t
                    .entry(key.clone())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(existing) = slot {
                    for item in items {
                        if !existing.contains(item) {
                            existing.push(item.clone());
                        }
                    }
                } else {
                    *slot = value.clone();
                }
            }
            _ => {
                t.insert(key.clone(), value.clone());
            }
        }
    }
}

/// Parses a path as `flotilla_core::field_path` writes it (`a.b[0]["c.d"]`).
fn parse_path(path: &str) -> Option<Vec<Seg>> {
    let mut out = Vec::new();
    let mut rest = path;
    let mut key = String::new();
    while let Some(c) = rest.chars().next() {
        match c {
            '.' => {
                if !key.is_empty() {
                    out.push(Seg::Key(std::mem::take(&mut key)));
                }
                rest = &rest[1..];
            }
            '[' => {
                if !key.is_empty() {
                    out.push(Seg::Key(std::mem::take(&mut key)));
                }
                let close_quoted = rest.starts_with("[\"");
                if close_quoted {
                    let mut s = String::new();
                    let mut chars = rest[2..].char_indices();
                    let mut end = None;
                    while let Some((i, ch)) = chars.next() {
                        match ch {
                            '\\' => {
                                if let Some((_, esc)) = chars.next() {
                                    s.push(esc);
                                }
                            }
                            '"' => {
                                end = Some(i);
                                break;
                            }
                            other => s.push(other),
                        }
                    }
                    let end = end?;
                    rest = rest[2 + end + 1..].strip_prefix(']')?;
                    out.push(Seg::Key(s));
                } else {
                    let close = rest.find(']')?;
                    let index = rest[1..close].parse().ok()?;
                    out.push(Seg::Index(index));
                    rest = &rest[close + 1..];
                }
            }
            other => {
                key.push(other);
                rest = &rest[other.len_utf8()..];
            }
        }
    }
    if !key.is_empty() {
        out.push(Seg::Key(key));
    }
    Some(out)
}

fn get_mut<'v>(value: &'v mut Value, path: &[Seg]) -> Option<&'v mut Value> {
    let mut current = value;
    for seg in path {
        current = match (seg, current) {
            (Seg::Key(k), Value::Object(m)) => m.get_mut(k)?,
            (Seg::Index(i), Value::Array(a)) => a.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_parse_back() {
        assert_eq!(
            parse_path(r#"spec.syncPolicy.automated.prune"#).unwrap(),
            vec![
                Seg::Key("spec".into()),
                Seg::Key("syncPolicy".into()),
                Seg::Key("automated".into()),
                Seg::Key("prune".into())
            ]
        );
        assert_eq!(
            parse_path(r#"spec.sources[1].helm["a.b"]"#).unwrap(),
            vec![
                Seg::Key("spec".into()),
                Seg::Key("sources".into()),
                Seg::Index(1),
                Seg::Key("helm".into()),
                Seg::Key("a.b".into())
            ]
        );
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("gen-algo-dev-us-east-2").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("Gen").is_err());
        assert!(check_name("-a").is_err());
        assert!(check_name("a_b").is_err());
        assert!(check_name(&"a".repeat(254)).is_err());
    }

    #[test]
    fn fill_like_mergo() {
        let mut dst = json!({"metadata": {"labels": {"a": "1"}, "name": ""}, "spec": {"project": "x", "list": []}});
        fill(
            &mut dst,
            &json!({"metadata": {"labels": {"b": "2"}, "name": "n"}, "spec": {"project": "y", "list": [1], "other": true}}),
        );
        assert_eq!(
            dst,
            json!({"metadata": {"labels": {"a": "1", "b": "2"}, "name": "n"}, "spec": {"project": "x", "list": [1], "other": true}})
        );
    }

    #[test]
    fn strategic_merge_patch() {
        let mut app = json!({
            "metadata": {"name": "a", "finalizers": ["f1"], "labels": {"x": "1"}},
            "spec": {"source": {"repoURL": "r", "helm": {"valueFiles": ["a"]}}, "project": "p"}
        });
        strategic_merge(
            &mut app,
            &json!({
                "metadata": {"finalizers": ["f2"], "labels": {"x": null, "y": "2"}},
                "spec": {"source": {"helm": {"valueFiles": ["b", "c"]}}}
            }),
            "",
        );
        assert_eq!(
            app,
            json!({
                "metadata": {"name": "a", "finalizers": ["f1", "f2"], "labels": {"y": "2"}},
                "spec": {"source": {"repoURL": "r", "helm": {"valueFiles": ["b", "c"]}}, "project": "p"}
            })
        );
    }

    #[test]
    fn scalars() {
        assert_eq!(scalar("true").unwrap(), json!(true));
        assert_eq!(scalar("yes").unwrap(), json!(true));
        assert_eq!(scalar("3").unwrap(), json!(3));
        assert_eq!(scalar("{a: 1}").unwrap(), json!({"a": 1}));
    }
}
