//! `vars` (deprecated, still common): `$(NAME)` in the fields of kustomize's
//! var-reference table replaced by a field of a named resource.

use serde_json::Value;

use super::config_data::VAR_REFERENCE;
use super::fieldspec::{CreateKind, Spec};
use super::resource::{scalar_text, Gvk, ResId, Resource};
use super::types::Var;

/// The id a var's `objref` names.
pub fn target_id(v: &Var) -> ResId {
    let o = &v.objref;
    let gvk = if o.api_version.is_empty() {
        Gvk {
            group: o.group.clone(),
            version: o.version.clone(),
            kind: o.kind.clone(),
        }
    } else {
        Gvk::new(&o.api_version, &o.kind)
    };
    ResId::new(gvk, &o.name, &o.namespace)
}

/// kustomize's `MergeVars`: marks the resource each var refers to.
pub fn mark(resources: &mut [Resource], vars: &[Var]) -> Result<(), String> {
    for v in vars {
        let t = target_id(v);
        let strict = !t.namespace.is_empty() || t.cluster_scoped;
        let matched: Vec<usize> = resources
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.all_ids().iter().any(|id| {
                    if strict {
                        t.equals(id)
                    } else {
                        t.gvkn_equals(id)
                    }
                })
            })
            .map(|(i, _)| i)
            .collect();
        if matched.len() > 1 {
            return Err(format!(
                "found {} resId matches for var {} (unable to disambiguate)",
                matched.len(),
                v.name
            ));
        }
        if let Some(&i) = matched.first() {
            resources[i].ref_vars.push(v.name.clone());
        }
    }
    Ok(())
}

fn field_value(r: &Resource, path: &str) -> Option<Value> {
    let mut cur = Value::Object(r.obj.clone());
    for part in path.split('.') {
        let (name, idx) = match part.find('[') {
            Some(i) if part.ends_with(']') => (
                &part[..i],
                part[i + 1..part.len() - 1].parse::<usize>().ok(),
            ),
            _ => (part, None),
        };
        if !name.is_empty() {
            cur = cur.get(name)?.clone();
        }
        if let Some(i) = idx {
            cur = cur.get(i)?.clone();
        }
    }
    match cur {
        Value::Object(_) | Value::Array(_) | Value::Null => None,
        v => Some(v),
    }
}

/// kustomize's `DoReplacements`: `$(NAME)` expanded, `$$` kept as `$`.
fn expand(input: &str, map: &dyn Fn(&str) -> Option<Value>) -> Value {
    let b = input.as_bytes();
    let mut out = String::new();
    let mut checkpoint = 0;
    let mut cursor = 0;
    while cursor < b.len() {
        if b[cursor] == b'$' && cursor + 1 < b.len() {
            out.push_str(&input[checkpoint..cursor]);
            let rest = &input[cursor + 1..];
            let (read, is_var, advance) = match rest.as_bytes()[0] {
                b'$' => ("$".to_string(), false, 1),
                b'(' => match rest[1..].find(')') {
                    Some(end) => (rest[1..1 + end].to_string(), true, end + 2),
                    None => ("$(".to_string(), false, 1),
                },
                _ => {
                    let c = rest.chars().next().expect("non-empty");
                    (format!("${c}"), false, c.len_utf8())
                }
            };
            if is_var {
                let mapped = map(&read);
                if input == format!("$({read})") {
                    return mapped.unwrap_or_else(|| Value::String(input.to_string()));
                }
                match mapped {
                    Some(v) => out.push_str(&scalar_text(&v)),
                    None => out.push_str(&format!("$({read})")),
                }
            } else {
                out.push_str(&read);
            }
            cursor += advance;
            checkpoint = cursor + 1;
        }
        cursor += 1;
    }
    if checkpoint <= input.len() {
        out.push_str(&input[checkpoint.min(input.len())..]);
    }
    Value::String(out)
}

/// kustomize's `ResolveVars` at the top level.
pub fn resolve(resources: &mut [Resource], vars: &[Var]) -> Result<(), String> {
    if vars.is_empty() {
        return Ok(());
    }
    let mut values: Vec<(String, Value)> = Vec::new();
    let mut sorted: Vec<&Var> = vars.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    for v in sorted {
        let path = if v.fieldref.field_path.is_empty() {
            "metadata.name"
        } else {
            &v.fieldref.field_path
        };
        let holder = resources.iter().find(|r| r.ref_vars.contains(&v.name));
        let Some(r) = holder else {
            return Err(format!(
                "var '{}' cannot be mapped to a field in the set of known resources",
                v.name
            ));
        };
        let value = field_value(r, path).ok_or_else(|| {
            format!(
                "field specified in var '{}' not found in corresponding resource",
                v.name
            )
        })?;
        values.push((v.name.clone(), value));
    }
    let map = |k: &str| values.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let specs: Vec<Spec> = VAR_REFERENCE.iter().map(Spec::from).collect();
    for r in resources.iter_mut() {
        for spec in &specs {
            if !spec.matches(&r.obj) {
                continue;
            }
            spec.apply(&mut r.obj, CreateKind::None, &mut |node| {
                match node {
                    Value::String(s) => *node = expand(s, &map),
                    Value::Object(m) => {
                        for (_, v) in m.iter_mut() {
                            if let Value::String(s) = v {
                                *v = expand(s, &map);
                            }
                        }
                    }
                    Value::Array(items) => {
                        for item in items.iter_mut() {
                            match item {
                                Value::String(s) => *item = expand(s, &map),
                                _ => return Err("invalid value type expect a string".into()),
                            }
                        }
                    }
                    _ => {}
                }
                Ok(())
            })?;
        }
    }
    Ok(())
}
