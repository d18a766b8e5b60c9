//! `replacements`: copy a field of one resource into fields of others
//! (kustomize's replacement filter: exact id selectors, kyaml path syntax
//! with `[key=value]`, indices and `*`, delimiter options, `create`).

use serde_json::{Map, Value};

use super::build::{Engine, Kust};
use super::resource::{scalar_text, ResId, Resource};
use super::selector::LabelSelector;
use super::types::{FieldOptions, ReplacementField, Selector, SourceSelector, TargetSelector};
use crate::error::RenderError;
use crate::yaml::{parse_first_document, ParseOptions};

/// kustomize's `SmarterPathSplitter`: split on `.`, keeping `[a.b=c]` together.
pub fn split_path(path: &str) -> Vec<String> {
    let raw: Vec<&str> = path.split('.').collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        let e = raw[i];
        if e.starts_with('[') && !e.ends_with(']') {
            let mut parts = vec![e];
            while i < raw.len() - 1 {
                i += 1;
                parts.push(raw[i]);
                if raw[i].ends_with(']') {
                    break;
                }
            }
            let joined = parts.join(".");
            if joined.contains('=') {
                out.push(joined);
            } else {
                out.push(joined.trim_matches(|c| c == '[' || c == ']').to_string());
            }
        } else {
            out.push(e.to_string());
        }
        i += 1;
    }
    out
}

fn is_selected_by(id: &ResId, sel: &Selector) -> bool {
    (sel.name.is_empty() || sel.name == id.name)
        && (sel.namespace.is_empty() || ns_equal(&sel.namespace, id))
        && (sel.group.is_empty() || sel.group == id.gvk.group)
        && (sel.version.is_empty() || sel.version == id.gvk.version)
        && (sel.kind.is_empty() || sel.kind == id.gvk.kind)
}

fn ns_equal(ns: &str, id: &ResId) -> bool {
    let want = if ns.is_empty() || ns == "default" {
        "default"
    } else {
        ns
    };
    id.effective_namespace() == want
}

fn ids(r: &Resource) -> Vec<ResId> {
    let mut v = vec![r.cur_id()];
    v.extend(r.prev_ids());
    v
}

fn source_selector(s: &SourceSelector) -> Selector {
    Selector {
        group: s.group.clone(),
        version: s.version.clone(),
        kind: s.kind.clone(),
        name: s.name.clone(),
        namespace: s.namespace.clone(),
        ..Selector::default()
    }
}

/// kyaml's `Lookup` (PathGetter without create) for the source value.
fn lookup<'a>(obj: &'a Map<String, Value>, path: &[String]) -> Option<&'a Value> {
    let mut cur: Option<&Value> = None;
    let root = obj;
    for (i, part) in path.iter().enumerate() {
        let node: &Value = match cur {
            None if i == 0 => {
                cur = root.get(part);
                cur?;
                continue;
            }
            None => return None,
            Some(n) => n,
        };
        cur = if let Ok(idx) = part.parse::<usize>() {
            node.as_array()?.get(idx)
        } else if part == "-" {
            node.as_array()?.last()
        } else if part.starts_with('[') && part.ends_with(']') {
            let (k, v) = part[1..part.len() - 1].split_once('=')?;
            let items = node.as_array()?;
            if k.is_empty() {
                items
                    .iter()
                    .find(|e| !e.is_object() && !e.is_array() && scalar_text(e) == v)
            } else {
                items.iter().find(|e| {
                    e.as_object()
                        .and_then(|m| m.get(k))
                        .is_some_and(|x| scalar_text(x) == v)
                })
            }
        } else {
            match node {
                Value::Object(m) => m.get(part),
                _ => return None,
            }
        };
        cur?;
    }
    cur
}

fn refine(options: Option<&FieldOptions>, v: &Value) -> Result<Value, String> {
    let Some(o) = options.filter(|o| !o.delimiter.is_empty()) else {
        return Ok(v.clone());
    };
    if v.is_object() || v.is_array() {
        return Err("delimiter option can only be used with scalar nodes".into());
    }
    let text = scalar_text(v);
    let parts: Vec<&str> = text.split(o.delimiter.as_str()).collect();
    if o.index < 0 || o.index as usize >= parts.len() {
        return Err(format!(
            "options.index {} is out of bounds for value {text}",
            o.index
        ));
    }
    Ok(retype(v, parts[o.index as usize]))
}

/// A scalar with new text, keeping the old node's type as kustomize keeps its tag.
fn retype(old: &Value, text: &str) -> Value {
    match old {
        Value::String(_) => Value::String(text.to_string()),
        _ => crate::yaml::resolve_plain_value(text),
    }
}

fn set_value(
    options: Option<&FieldOptions>,
    target: &mut Value,
    value: &Value,
) -> Result<(), String> {
    let mut value = value.clone();
    if let Some(o) = options.filter(|o| !o.delimiter.is_empty()) {
        if target.is_object() || target.is_array() {
            return Err("delimiter option can only be used with scalar nodes".into());
        }
        let t = scalar_text(target);
        let mut tv: Vec<String> = t.split(o.delimiter.as_str()).map(str::to_string).collect();
        let v = scalar_text(&value);
        if o.index < 0 {
            tv.insert(0, v);
        } else if o.index as usize >= tv.len() {
            tv.push(v);
        } else {
            tv[o.index as usize] = v;
        }
        value = Value::String(tv.join(&o.delimiter));
    }
    match target {
        Value::Object(_) | Value::Array(_) => *target = value,
        Value::Null => *target = value,
        scalar => {
            let text = match &value {
                Value::Object(_) | Value::Array(_) => {
                    *scalar = value;
                    return Ok(());
                }
                v => scalar_text(v),
            };
            *scalar = retype(scalar, &text);
        }
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Create {
    No,
    Scalar,
    Map,
    Seq,
}

fn kind_for(next: Option<&String>, default: Create) -> Create {
    match next {
        None => default,
        Some(n) if n.starts_with('[') && n.ends_with(']') => Create::Seq,
        Some(n) if n.parse::<usize>().is_ok() => Create::Seq,
        Some(_) => Create::Map,
    }
}

fn empty_of(k: Create) -> Value {
    match k {
        Create::Map => Value::Object(Map::new()),
        Create::Seq => Value::Array(Vec::new()),
        _ => Value::String(String::new()),
    }
}

/// kyaml's `PathMatcher`: applies `f` to every node the path reaches.
fn matched(
    node: &mut Value,
    path: &[String],
    create: Create,
    f: &mut dyn FnMut(&mut Value) -> Result<(), String>,
) -> Result<usize, String> {
    let Some((part, rest)) = path.split_first() else {
        f(node)?;
        return Ok(1);
    };
    if let Ok(idx) = part.parse::<usize>() {
        let Value::Array(items) = node else {
            return Err(format!("wrong node kind: expected a list for {part:?}"));
        };
        if items.len() == idx && create != Create::No {
            items.push(empty_of(kind_for(rest.first(), create)));
        }
        let Some(elem) = items.get_mut(idx) else {
            return Err(format!(
                "index {idx} specified but only {} elements found",
                items.len()
            ));
        };
        return matched(elem, rest, create, f);
    }
    if part == "*" {
        let Value::Array(items) = node else {
            return Ok(0);
        };
        let mut n = 0;
        for item in items.iter_mut() {
            n += matched(item, rest, create, f)?;
        }
        return Ok(n);
    }
    if part.starts_with('[') && part.ends_with(']') {
        let Some((k, v)) = part[1..part.len() - 1].split_once('=') else {
            return Err(
                "list path element must contain fieldName=fieldValue for element to match".into(),
            );
        };
        let re =
            regex::Regex::new(v).map_err(|e| format!("invalid regular expression {v:?}: {e}"))?;
        let Value::Array(items) = node else {
            return Err(format!("wrong node kind: expected a list for {part:?}"));
        };
        let hit = |item: &Value| {
            if k.is_empty() {
                !item.is_object() && !item.is_array() && re.is_match(&scalar_text(item))
            } else {
                item.as_object()
                    .and_then(|m| m.get(k))
                    .is_some_and(|x| re.is_match(&scalar_text(x)))
            }
        };
        if create != Create::No && !items.iter().any(hit) {
            let elem = if k.is_empty() {
                crate::yaml::resolve_plain_value(v)
            } else {
                let mut m = Map::new();
                m.insert(k.to_string(), crate::yaml::resolve_plain_value(v));
                Value::Object(m)
            };
            items.push(elem);
        }
        let mut n = 0;
        for item in items.iter_mut() {
            if hit(item) {
                n += matched(item, rest, create, f)?;
            }
        }
        return Ok(n);
    }
    match node {
        Value::Object(m) => {
            if !m.contains_key(part.as_str()) {
                if create == Create::No {
                    return Ok(0);
                }
                m.insert(part.clone(), empty_of(kind_for(rest.first(), create)));
            }
            matched(m.get_mut(part.as_str()).expect("present"), rest, create, f)
        }
        Value::Null => Ok(0),
        _ => Err(format!("wrong node kind: expected a mapping for {part:?}")),
    }
}

fn load(
    engine: &Engine<'_>,
    kt: &Kust,
) -> Result<Vec<(ReplacementField, flotilla_core::Location)>, RenderError> {
    let mut out = Vec::new();
    for (i, r) in kt.k.replacements.iter().enumerate() {
        let loc = kt.loc("replacements", Some(i));
        if r.path.is_empty() {
            out.push((r.clone(), loc));
            continue;
        }
        if r.source.is_some() || !r.targets.is_empty() {
            return Err(RenderError::input(
                loc,
                "cannot specify both path and inline replacement",
            ));
        }
        let full = super::build::join(&kt.dir, &r.path)
            .ok_or_else(|| RenderError::input(loc.clone(), "path escapes the repository"))?;
        let bytes = engine.read(&full, &loc)?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let node = parse_first_document(&text, &ParseOptions::config()).map_err(|e| {
            RenderError::input(
                flotilla_core::Location::new(&full, e.line, e.column),
                e.message,
            )
        })?;
        let value = node.map(|n| n.into_value()).unwrap_or(Value::Null);
        let items = match value {
            Value::Array(items) => items,
            v @ Value::Object(_) => vec![v],
            _ => {
                return Err(RenderError::input(
                    flotilla_core::Location::in_file(&full),
                    "unsupported replacement type",
                ))
            }
        };
        for item in items {
            let rf: ReplacementField = serde_json::from_value(item).map_err(|e| {
                RenderError::input(
                    flotilla_core::Location::in_file(&full),
                    format!("invalid replacement: {e}"),
                )
            })?;
            out.push((rf, flotilla_core::Location::in_file(&full)));
        }
    }
    Ok(out)
}

fn anno_label_match(r: &Resource, s: &Selector) -> Result<bool, String> {
    let a = LabelSelector::parse(&s.annotation_selector)?;
    let l = LabelSelector::parse(&s.label_selector)?;
    Ok(a.matches(&r.string_map("annotations")) && l.matches(&r.string_map("labels")))
}

fn apply_one(res: &mut [Resource], rf: &ReplacementField) -> Result<(), String> {
    let (Some(source), false) = (&rf.source, rf.targets.is_empty()) else {
        return Err("replacements must specify a source and at least one target".into());
    };
    let sel = source_selector(source);
    let mut found: Option<usize> = None;
    for (i, r) in res.iter().enumerate() {
        if ids(r).iter().any(|id| is_selected_by(id, &sel)) {
            if found.is_some() {
                return Err(format!("multiple matches for selector {}", describe(&sel)));
            }
            found = Some(i);
        }
    }
    let Some(si) = found else {
        return Err(format!("nothing selected by {}", describe(&sel)));
    };
    let fp = if source.field_path.is_empty() {
        "metadata.name"
    } else {
        &source.field_path
    };
    let v = lookup(&res[si].obj, &split_path(fp)).cloned();
    let v = match v {
        None | Some(Value::Null) => {
            return Err(format!(
                "fieldPath `{fp}` is missing for replacement source {}",
                describe(&sel)
            ))
        }
        Some(Value::Object(m)) if m.is_empty() => {
            return Err(format!(
                "fieldPath `{fp}` is missing for replacement source {}",
                describe(&sel)
            ))
        }
        Some(Value::Array(a)) if a.is_empty() => {
            return Err(format!(
                "fieldPath `{fp}` is missing for replacement source {}",
                describe(&sel)
            ))
        }
        Some(v) => v,
    };
    let value = refine(source.options.as_ref(), &v)?;
    for t in &rf.targets {
        apply_target(res, t, &value)?;
    }
    Ok(())
}

fn apply_target(res: &mut [Resource], t: &TargetSelector, value: &Value) -> Result<(), String> {
    let Some(select) = &t.select else {
        return Err("target must specify resources to select".into());
    };
    let paths: Vec<String> = if t.field_paths.is_empty() {
        vec!["metadata.name".into()]
    } else {
        t.field_paths.clone()
    };
    for r in res.iter_mut() {
        if !anno_label_match(r, select)? {
            continue;
        }
        let mut rejected = false;
        for rej in &t.reject {
            if (!rej.annotation_selector.is_empty() || !rej.label_selector.is_empty())
                && anno_label_match(r, rej)?
            {
                rejected = true;
            }
        }
        if rejected {
            continue;
        }
        let rids = ids(r);
        let rejected_by_id = t.reject.iter().any(|rej| {
            let empty = rej.group.is_empty()
                && rej.version.is_empty()
                && rej.kind.is_empty()
                && rej.name.is_empty()
                && rej.namespace.is_empty();
            !empty && rids.iter().any(|id| is_selected_by(id, rej))
        });
        if !rids.iter().any(|id| is_selected_by(id, select)) || rejected_by_id {
            continue;
        }
        let create = match t.options.as_ref().is_some_and(|o| o.create) {
            false => Create::No,
            true => match value {
                Value::Object(_) => Create::Map,
                Value::Array(_) => Create::Seq,
                _ => Create::Scalar,
            },
        };
        for fp in &paths {
            let mut root = Value::Object(std::mem::take(&mut r.obj));
            let n = matched(&mut root, &split_path(fp), create, &mut |node| {
                set_value(t.options.as_ref(), node, value)
            });
            if let Value::Object(m) = root {
                r.obj = m;
            }
            let n = n?;
            if n == 0 {
                return Err(if create == Create::No {
                    format!("unable to find field {fp:?} in replacement target")
                } else {
                    format!("unable to find or create field {fp:?} in replacement target")
                });
            }
            r.aliases.clear();
        }
    }
    Ok(())
}

fn describe(s: &Selector) -> String {
    let mut parts = Vec::new();
    for (k, v) in [
        ("group", &s.group),
        ("version", &s.version),
        ("kind", &s.kind),
        ("name", &s.name),
        ("namespace", &s.namespace),
    ] {
        if !v.is_empty() {
            parts.push(format!("{k}={v}"));
        }
    }
    format!("{{{}}}", parts.join(", "))
}

/// Applies the kustomization's replacements.
pub(crate) fn apply(
    engine: &Engine<'_>,
    kt: &Kust,
    res: &mut [Resource],
) -> Result<(), RenderError> {
    for (rf, loc) in load(engine, kt)? {
        apply_one(res, &rf).map_err(|m| RenderError::input(loc, m))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting() {
        assert_eq!(
            split_path("spec.template.spec.containers.[name=app].image"),
            vec![
                "spec",
                "template",
                "spec",
                "containers",
                "[name=app]",
                "image"
            ]
        );
        assert_eq!(
            split_path("metadata.annotations.[a.b/c]"),
            vec!["metadata", "annotations", "a.b/c"]
        );
        assert_eq!(split_path("data.[x.y=1.2]"), vec!["data", "[x.y=1.2]"]);
    }
}
