//! Strategic merge as kustomize applies it (kyaml's `merge2` walker with
//! "prepend" list order), reimplemented over JSON values.
//!
//! The walker's observable behaviour depends on node identity: when the
//! destination is missing, or a `$patch: replace` directive applies, the
//! patch node itself becomes the destination and is merged with itself,
//! which drops its `null` fields and resolves nested directives. That
//! aliasing is modelled explicitly ([`self_walk`]). List elements that
//! exist in the destination are merged in place, which decides the order of
//! merged lists (patch elements first, then the destination's others).

use serde_json::{Map, Value};

use super::resource::{plain_scalar, scalar_text};
use super::schema::Schema;

type R<T> = Result<T, String>;

/// Which node a walk returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Id {
    /// The destination node (merged in place).
    Dest,
    /// The patch node (merged with itself).
    Origin,
    /// A node built by the merge (lists).
    New,
    /// A `null` that must be kept.
    KeepNull,
}

type Walked = Option<(Id, Value)>;

/// Merges a strategic-merge patch into an object. `None` when the patch
/// deletes it.
pub fn merge_patch(
    patch: Map<String, Value>,
    dest: Map<String, Value>,
) -> R<Option<Map<String, Value>>> {
    let schema = Schema::for_map(&dest).or_else(|| Schema::for_map(&patch));
    let out = walk(
        Some(Value::Object(dest)),
        Some(Value::Object(patch)),
        schema,
        &mut Vec::new(),
    )?;
    Ok(match out {
        Some((_, Value::Object(m))) => Some(m),
        _ => None,
    })
}

fn is_missing_or_null(v: &Option<Value>) -> bool {
    matches!(v, None | Some(Value::Null))
}

fn kind_of(v: &Value) -> u8 {
    match v {
        Value::Object(_) => 1,
        Value::Array(_) => 2,
        Value::Null => 0,
        _ => 3,
    }
}

fn kind_word(k: u8) -> &'static str {
    match k {
        1 => "MappingNode",
        2 => "SequenceNode",
        _ => "ScalarNode",
    }
}

fn check_kinds(want: u8, nodes: &[&Option<Value>], path: &[String]) -> R<()> {
    for v in nodes.iter().filter_map(|n| n.as_ref()) {
        let k = kind_of(v);
        if k != 0 && k != want {
            return Err(format!(
                "wrong node kind at {}: expected {} but got {}",
                if path.is_empty() {
                    "the top level".to_string()
                } else {
                    path.join(".")
                },
                kind_word(want),
                kind_word(k)
            ));
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Directive {
    Merge,
    Replace,
    Delete,
}

fn parse_directive(v: &str) -> R<Directive> {
    match v {
        "merge" => Ok(Directive::Merge),
        "replace" => Ok(Directive::Replace),
        "delete" => Ok(Directive::Delete),
        other => Err(format!("unknown patch strategy '{other}'")),
    }
}

/// `$patch` on a mapping: read and removed.
fn map_directive(m: &mut Map<String, Value>) -> R<Directive> {
    match m.get("$patch") {
        None => Ok(Directive::Merge),
        Some(v) => {
            let d = parse_directive(&scalar_text(v))?;
            m.remove("$patch");
            Ok(d)
        }
    }
}

/// `$patch` in a list (an element holding only `$patch`): read and removed.
fn list_directive(items: &mut Vec<Value>) -> R<Directive> {
    let Some(elem) = items
        .iter()
        .find(|e| e.as_object().is_some_and(|m| m.contains_key("$patch")))
    else {
        return Ok(Directive::Merge);
    };
    let m = elem.as_object().expect("mapping");
    if m.len() > 1 {
        return Ok(Directive::Merge);
    }
    let v = scalar_text(&m["$patch"]);
    let d = parse_directive(&v)?;
    element_setter(
        items,
        None,
        &["$patch".to_string()],
        std::slice::from_ref(&v),
    )?;
    Ok(d)
}

fn walk(
    dest: Option<Value>,
    origin: Option<Value>,
    schema: Option<Schema>,
    path: &mut Vec<String>,
) -> R<Walked> {
    let kind = [&dest, &origin]
        .iter()
        .find_map(|v| match v {
            Some(x) if !x.is_null() => Some(kind_of(x)),
            _ => None,
        })
        .unwrap_or(0);
    match kind {
        2 => {
            check_kinds(2, &[&dest, &origin], path)?;
            if matches!(schema, Some(Schema::List { .. })) {
                walk_assoc(dest, origin, schema, path)
            } else {
                // Not associative: the patch's list replaces the destination's.
                Ok(match origin {
                    Some(o) => Some((Id::Origin, o)),
                    None => dest.map(|d| (Id::Dest, d)),
                })
            }
        }
        3 => {
            check_kinds(3, &[&dest, &origin], path)?;
            Ok(match origin {
                Some(o) => Some((Id::Origin, o)),
                None => dest.map(|d| (Id::Dest, d)),
            })
        }
        _ => {
            check_kinds(1, &[&dest, &origin], path)?;
            walk_map(dest, origin, schema, path)
        }
    }
}

fn walk_map(
    dest: Option<Value>,
    origin: Option<Value>,
    schema: Option<Schema>,
    path: &mut Vec<String>,
) -> R<Walked> {
    let schema = schema
        .or_else(|| dest.as_ref().and_then(Schema::for_node))
        .or_else(|| origin.as_ref().and_then(Schema::for_node));
    if is_missing_or_null(&dest) {
        let mut origin = origin;
        if let Some(Value::Object(m)) = origin.as_mut() {
            // Errors are ignored here, as in kyaml.
            if let Ok(Directive::Delete) = map_directive(m) {
                return Ok(None);
            }
        }
        return Ok(match (origin, dest) {
            (None, Some(Value::Null)) => Some((Id::KeepNull, Value::Null)),
            (None, _) => None,
            (Some(o), _) => self_walk(o, schema, path)?.map(|v| (Id::Origin, v)),
        });
    }
    let dest = match dest {
        Some(Value::Object(m)) => m,
        _ => unreachable!("checked to be a mapping"),
    };
    let origin = match origin {
        None => None,
        Some(Value::Null) => return Ok(None),
        Some(Value::Object(m)) => Some(m),
        Some(_) => unreachable!("checked to be a mapping"),
    };
    let mut origin = origin;
    let directive = match origin.as_mut() {
        Some(m) => map_directive(m)?,
        None => Directive::Merge,
    };
    match directive {
        Directive::Delete => Ok(None),
        Directive::Replace => {
            let o = Value::Object(origin.expect("a patch"));
            Ok(self_walk(o, schema, path)?.map(|v| (Id::Origin, v)))
        }
        Directive::Merge => {
            let mut dest = dest;
            let mut names: Vec<String> = dest.keys().cloned().collect();
            if let Some(o) = &origin {
                for k in o.keys() {
                    if !dest.contains_key(k) {
                        names.push(k.clone());
                    }
                }
            }
            names.sort();
            names.dedup();
            for name in names {
                let d = dest.remove(&name);
                let o = origin.as_mut().and_then(|o| o.remove(&name));
                let child = schema.and_then(|s| s.child(&name));
                path.push(name.clone());
                let r = walk(d, o, child, path)?;
                path.pop();
                set_field(&mut dest, name, r);
            }
            Ok(Some((Id::Dest, Value::Object(dest))))
        }
    }
}

/// kyaml's `FieldSetter`: a missing result or a `null` clears the field.
fn set_field(m: &mut Map<String, Value>, name: String, r: Walked) {
    match r {
        None | Some((Id::Dest | Id::Origin | Id::New, Value::Null)) => {
            m.remove(&name);
        }
        Some((_, v)) => {
            m.insert(name, v);
        }
    }
}

/// The walk of a node merged with itself (kyaml aliasing the patch as destination).
fn self_walk(x: Value, schema: Option<Schema>, path: &mut Vec<String>) -> R<Option<Value>> {
    match x {
        Value::Null => Ok(Some(Value::Null)),
        Value::Object(mut m) => {
            let schema = schema.or_else(|| Schema::for_map(&m));
            match map_directive(&mut m)? {
                Directive::Delete => return Ok(None),
                Directive::Replace | Directive::Merge => {}
            }
            let mut names: Vec<String> = m.keys().cloned().collect();
            names.sort();
            for name in names {
                let v = m.remove(&name).expect("field present");
                let child = schema.and_then(|s| s.child(&name));
                path.push(name.clone());
                let r = self_walk(v, child, path)?;
                path.pop();
                match r {
                    None | Some(Value::Null) => {}
                    Some(v) => {
                        m.insert(name, v);
                    }
                }
            }
            Ok(Some(Value::Object(m)))
        }
        Value::Array(mut items) => {
            if !matches!(schema, Some(Schema::List { .. })) {
                return Ok(Some(Value::Array(items)));
            }
            match list_directive(&mut items)? {
                Directive::Delete => Ok(None),
                Directive::Replace | Directive::Merge => {
                    let out = assoc_merge(items, None, schema, path)?;
                    Ok(out)
                }
            }
        }
        scalar => Ok(Some(scalar)),
    }
}

fn walk_assoc(
    dest: Option<Value>,
    origin: Option<Value>,
    schema: Option<Schema>,
    path: &mut Vec<String>,
) -> R<Walked> {
    // VisitList
    if is_missing_or_null(&dest) {
        return Ok(match origin {
            None => None,
            // The patch's list becomes the destination and merges with itself
            // (kyaml does not look at list directives in this case).
            Some(Value::Array(items)) => {
                assoc_merge(items, None, schema, path)?.map(|v| (Id::New, v))
            }
            Some(o) => Some((Id::Origin, o)),
        });
    }
    let Some(Value::Array(dest)) = dest else {
        unreachable!("checked to be a sequence")
    };
    let mut origin = match origin {
        None => None,
        Some(Value::Null) => return Ok(None),
        Some(Value::Array(o)) => Some(o),
        Some(_) => unreachable!("checked to be a sequence"),
    };
    let directive = match origin.as_mut() {
        Some(o) => list_directive(o)?,
        None => Directive::Merge,
    };
    match directive {
        Directive::Delete => Ok(None),
        Directive::Replace => {
            let o = origin.expect("a patch");
            Ok(assoc_merge(o, None, schema, path)?.map(|v| (Id::New, v)))
        }
        Directive::Merge => Ok(assoc_merge(dest, origin, schema, path)?.map(|v| (Id::New, v))),
    }
}

/// The value kyaml compares for a merge key: the field's scalar text, `""`
/// when absent, null or an empty collection.
fn key_value(elem: &Value, key: &str) -> String {
    match elem.as_object().and_then(|m| m.get(key)) {
        None | Some(Value::Null) => String::new(),
        Some(Value::Object(m)) if m.is_empty() => String::new(),
        Some(Value::Array(a)) if a.is_empty() => String::new(),
        Some(v) => scalar_text(v),
    }
}

fn element_values(list: &[Value], keys: &[String]) -> Vec<Vec<String>> {
    list.iter()
        .map(|e| keys.iter().map(|k| key_value(e, k)).collect())
        .collect()
}

fn validate_keys(
    values_list: &[Vec<String>],
    values: &[String],
    keys: &[String],
) -> (Vec<String>, Vec<String>) {
    let mut valid = std::collections::HashSet::new();
    for vs in values_list {
        for (i, v) in vs.iter().enumerate() {
            if !v.is_empty() {
                valid.insert(keys[i].clone());
            }
        }
    }
    if valid.is_empty() {
        return (keys.to_vec(), values.to_vec());
    }
    let vk = keys
        .iter()
        .filter(|k| valid.contains(*k))
        .cloned()
        .collect();
    let vv = values
        .iter()
        .enumerate()
        .filter(|(i, v)| !v.is_empty() || valid.contains(&keys[*i]))
        .map(|(_, v)| v.clone())
        .collect();
    (vk, vv)
}

fn match_values(a: &[String], b: &[String]) -> Option<Vec<String>> {
    if a.len() != b.len() {
        return None;
    }
    let mut common = false;
    let mut res = Vec::with_capacity(a.len());
    for i in 0..a.len() {
        if a[i] == b[i] {
            common = true;
            res.push(a[i].clone());
            continue;
        }
        if !a[i].is_empty() && !b[i].is_empty() {
            return None;
        }
        res.push(if !a[i].is_empty() {
            a[i].clone()
        } else {
            b[i].clone()
        });
    }
    common.then_some(res)
}

fn merge_values(list: &mut [Vec<String>]) {
    for i in 0..list.len() {
        let v1 = list[i].clone();
        for j in 0..list.len() {
            let v2 = list[j].clone();
            if let Some(res) = match_values(&v1, &v2) {
                list[i] = res.clone();
                list[j] = res;
            }
        }
    }
}

/// kyaml's `FieldMatcher{Name, StringValue}` on one element.
fn field_matches(elem: &Value, name: &str, value: &str) -> R<bool> {
    if elem.is_null() {
        return Ok(false);
    }
    if name.is_empty() {
        if elem.is_object() || elem.is_array() {
            return Err("wrong node kind: expected ScalarNode in a list of scalars".into());
        }
        return Ok(scalar_text(elem) == value);
    }
    let Some(m) = elem.as_object() else {
        return Err(format!(
            "wrong node kind: expected MappingNode matching {name:?}"
        ));
    };
    Ok(match m.get(name) {
        None => false,
        Some(v) => value.is_empty() || scalar_text(v) == value,
    })
}

/// kyaml's `ElementSetter`: replaces (or, without an element, removes) the
/// elements matching `keys`/`values`, appending the element when none
/// matched; null and empty-map elements are dropped on the way.
fn element_setter(
    list: &mut Vec<Value>,
    element: Option<Value>,
    keys: &[String],
    values: &[String],
) -> R<()> {
    let default_keys = [String::new()];
    let keys: &[String] = if keys.is_empty() { &default_keys } else { keys };
    let mapping_setter = !keys[0].is_empty() && !values.is_empty() && !values[0].is_empty();
    let mut out = Vec::with_capacity(list.len() + 1);
    let mut any = false;
    for elem in std::mem::take(list) {
        if elem.is_null() || elem.as_object().is_some_and(Map::is_empty) {
            continue;
        }
        if !elem.is_object() && mapping_setter {
            out.push(elem);
            continue;
        }
        let mut val = false;
        let mut found = true;
        for (j, key) in keys.iter().enumerate() {
            if j < values.len() {
                val = field_matches(&elem, key, &values[j])?;
            }
            if !val {
                found = false;
                break;
            }
        }
        if !found {
            if !values.is_empty() {
                out.push(elem);
            }
            continue;
        }
        any = true;
        if let Some(e) = &element {
            out.push(e.clone());
        }
    }
    *list = out;
    if let Some(e) = element {
        if !e.is_null() && !any {
            list.push(e);
        }
    }
    Ok(())
}

/// kyaml's `ElementMatcher` for `keys`/`values`: the index of the first match.
fn find_element(list: &[Value], keys: &[String], values: &[String]) -> Option<usize> {
    let keys: Vec<String> = if keys.is_empty() {
        vec![String::new()]
    } else {
        keys.to_vec()
    };
    let values: Vec<String> = if values.is_empty() {
        vec![String::new()]
    } else {
        values.to_vec()
    };
    if keys[0].is_empty() {
        return list
            .iter()
            .position(|e| !e.is_object() && !e.is_array() && scalar_text(e) == values[0]);
    }
    if keys.len() != values.len() {
        return None;
    }
    list.iter().position(|e| {
        let Some(m) = e.as_object() else { return false };
        keys.iter()
            .zip(values.iter())
            .all(|(k, v)| m.get(k).is_some_and(|fv| scalar_text(fv) == *v))
    })
}

/// Merges an associative list. `origin` is `None` when the list merges with
/// itself (the patch list became the destination).
fn assoc_merge(
    dest: Vec<Value>,
    origin: Option<Vec<Value>>,
    schema: Option<Schema>,
    path: &mut Vec<String>,
) -> R<Option<Value>> {
    let Some(Schema::List { keys, .. }) = schema else {
        return Ok(Some(Value::Array(dest)));
    };
    let elem_schema = schema.and_then(Schema::elements);
    let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    let mut dest = dest;
    let aliased = origin.is_none();

    // elementValues, origin first ("prepend").
    let mut values_list: Vec<Vec<String>> = Vec::new();
    let primitive;
    {
        let sources: Vec<&Vec<Value>> = match &origin {
            Some(o) => vec![o, &dest],
            None => vec![&dest, &dest],
        };
        let mut seen = std::collections::HashSet::new();
        if !keys.is_empty() {
            for src in &sources {
                for vs in element_values(src, &keys) {
                    if vs.is_empty() || seen.contains(&vs) {
                        continue;
                    }
                    seen.insert(vs.clone());
                    values_list.push(vs);
                }
            }
        }
        primitive = values_list.is_empty() && keys.is_empty();
        if primitive {
            let mut seen = std::collections::HashSet::new();
            for src in &sources {
                for item in src.iter() {
                    let t = scalar_text(item);
                    if seen.insert(t.clone()) {
                        values_list.push(vec![t]);
                    }
                }
            }
        }
    }
    let keys: Vec<String> = if primitive { vec![String::new()] } else { keys };

    let mut items: Vec<Value> = Vec::new();
    if keys.len() > 1 {
        merge_values(&mut values_list);
    }
    let mut valid_keys: Vec<String> = Vec::new();
    for values in values_list.clone() {
        if values.is_empty() {
            continue;
        }
        let (vk, vv) = validate_keys(&values_list, &values, &keys);
        valid_keys = vk.clone();
        // elementValueList
        let (ek, ev) = validate_keys(std::slice::from_ref(&vv), &vv, &vk);
        let d_idx = find_element(&dest, &ek, &ev);
        let val: Walked = if aliased {
            match d_idx {
                Some(i) => {
                    let r = self_walk(dest[i].clone(), elem_schema, path)?;
                    if let Some(v) = &r {
                        dest[i] = v.clone();
                    }
                    r.map(|v| (Id::Dest, v))
                }
                None => None,
            }
        } else {
            let o_elem = origin
                .as_ref()
                .and_then(|o| find_element(o, &ek, &ev).map(|i| o[i].clone()));
            let d_elem = d_idx.map(|i| dest[i].clone());
            let r = walk(d_elem, o_elem, elem_schema, path)?;
            if let (Some(i), Some((Id::Dest, v))) = (d_idx, &r) {
                dest[i] = v.clone();
            }
            r
        };
        let val_is_dest = matches!(val, Some((Id::Dest, _)));
        let mut val = val.map(|(_, v)| v);
        let mut exit = false;
        for (i, key) in vk.iter().enumerate() {
            let empty = match &val {
                None | Some(Value::Null) => true,
                Some(Value::Object(m)) => m.is_empty(),
                _ => false,
            };
            if empty {
                element_setter(&mut dest, None, &vk, &vv)?;
                exit = true;
            } else if let Some(Value::Object(m)) = val.as_mut() {
                if !m.contains_key(key) && !vv[i].is_empty() {
                    m.insert(key.clone(), plain_scalar(&vv[i]));
                    // The destination element is the same node in kyaml.
                    if let (true, Some(di)) = (val_is_dest, d_idx) {
                        if let Some(Value::Object(dm)) = dest.get_mut(di) {
                            dm.insert(key.clone(), m[key].clone());
                        }
                    }
                }
            }
        }
        if exit {
            continue;
        }
        if let Some(v) = val {
            element_setter(&mut items, Some(v), &vk, &vv)?;
        }
    }
    if values_list.is_empty() {
        return Ok(Some(Value::Array(dest)));
    }
    // appendListNode(itemsToBeAdded, dest, validKeys)
    let keys = if valid_keys.is_empty() {
        vec![String::new()]
    } else {
        valid_keys
    };
    for elem in dest {
        if keys[0].is_empty() {
            let t = scalar_text(&elem);
            element_setter(&mut items, Some(elem), &[String::new()], &[t])?;
            continue;
        }
        let Some(m) = elem.as_object() else {
            return Err("wrong node kind: expected MappingNode in a keyed list".into());
        };
        let mut v = Vec::new();
        for key in &keys {
            match m.get(key) {
                None => items.push(elem.clone()),
                Some(x) => v.push(scalar_text(x)),
            }
        }
        if keys.len() > 1 {
            element_setter(&mut items, None, &keys, &v)?;
        }
        element_setter(&mut items, Some(elem), &keys, &v)?;
    }
    Ok(Some(Value::Array(items)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn containers_order() {
        let dest = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"template": {"spec": {"containers": [
                {"name": "a", "image": "a"},
                {"name": "b", "image": "b", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]},
                {"name": "c", "image": "c"}],
              "volumes": [{"name": "v1", "emptyDir": {}}]}}}});
        let patch = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"template": {"spec": {"containers": [
                {"name": "c", "image": "c2"}, {"name": "d", "image": "d"},
                {"name": "b", "env": [{"name": "Z", "value": "3"}, {"name": "X", "$patch": "delete"}]}],
              "volumes": [{"name": "v0", "emptyDir": {}}]}}}});
        let out = Value::Object(merge_patch(m(patch), m(dest)).unwrap().unwrap());
        assert_eq!(
            out["spec"]["template"]["spec"],
            json!({"containers": [
                {"name": "c", "image": "c2"}, {"name": "d", "image": "d"},
                {"name": "b", "image": "b", "env": [{"name": "Z", "value": "3"}, {"name": "Y", "value": "2"}]},
                {"name": "a", "image": "a"}],
              "volumes": [{"name": "v0", "emptyDir": {}}, {"name": "v1", "emptyDir": {}}]})
        );
    }

    #[test]
    fn nulls_and_directives() {
        let dest = json!({"kind": "X", "apiVersion": "example.com/v1", "metadata": {"name": "a", "labels": {"x": "1"}},
            "spec": {"list": [1, 2], "keep": null, "m": {"a": 1}}});
        let patch = json!({"metadata": {"labels": {"x": null, "y": "2"}}, "spec": {"list": [3], "m": {"$patch": "replace", "b": 2}, "n": {"c": null, "d": 1}}});
        let out = Value::Object(merge_patch(m(patch), m(dest)).unwrap().unwrap());
        assert_eq!(
            out,
            json!({"kind": "X", "apiVersion": "example.com/v1", "metadata": {"name": "a", "labels": {"y": "2"}},
                "spec": {"list": [3], "keep": null, "m": {"b": 2}, "n": {"d": 1}}})
        );
        let del = json!({"$patch": "delete"});
        assert!(merge_patch(m(del), m(out)).unwrap().is_none());
    }
}
