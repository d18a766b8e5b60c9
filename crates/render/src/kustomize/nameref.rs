//! Name references: after prefixes, suffixes and hashes have renamed
//! resources, every field that names another resource (kustomize's
//! name-reference table) is updated to the new name.

use serde_json::{Map, Value};

use super::config::NameBackRef;
use super::config_data::NAME_REFERENCE;
use super::fieldspec::{CreateKind, Spec};
use super::resource::{scalar_text, Gvk, ResId, Resource};

/// A referral candidate, frozen before any update.
struct Candidate {
    prev: Vec<ResId>,
    cur: ResId,
    name: String,
    namespace: String,
    kind: String,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
}

/// Context of the referrer.
struct Referrer {
    cur: ResId,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
    role_ref: Option<Gvk>,
}

fn same_ending(a: &[String], b: &[String]) -> bool {
    let (short, long) = if a.len() > b.len() { (b, a) } else { (a, b) };
    let diff = long.len() - short.len();
    if short.is_empty() {
        return diff == 0;
    }
    (0..short.len()).rev().all(|i| long[i + diff] == short[i])
}

fn ps_equal(c: &Candidate, r: &Referrer, allow_empty: bool) -> bool {
    if allow_empty {
        let pe = c.prefixes.is_empty() || r.prefixes.is_empty();
        let se = c.suffixes.is_empty() || r.suffixes.is_empty();
        (pe || same_ending(&c.prefixes, &r.prefixes))
            && (se || same_ending(&c.suffixes, &r.suffixes))
    } else {
        same_ending(&c.prefixes, &r.prefixes) && same_ending(&c.suffixes, &r.suffixes)
    }
}

fn select<'a>(
    old_name: &str,
    cands: Vec<&'a Candidate>,
    target: &Gvk,
    referrer: &Referrer,
    path: &str,
    with_namespace: bool,
) -> Result<Option<&'a Candidate>, String> {
    let mut c: Vec<&Candidate> = cands
        .into_iter()
        .filter(|c| c.prev.iter().any(|id| id.name == old_name))
        .filter(|c| c.prev.iter().any(|id| id.gvk.is_selected(target)))
        .collect();
    if path.ends_with("roleRef/name") {
        if let Some(rr) = &referrer.role_ref {
            c.retain(|c| c.prev.iter().any(|id| id.gvk.is_selected(rr)));
        }
    }
    if !referrer.cur.cluster_scoped {
        c.retain(|c| {
            c.cur.cluster_scoped
                || c.kind == "ServiceAccount"
                || c.cur.effective_namespace() == referrer.cur.effective_namespace()
        });
    }
    if c.len() == 1 {
        return Ok(Some(c[0]));
    }
    c.retain(|x| ps_equal(x, referrer, true));
    if c.len() > 1 {
        c.retain(|x| ps_equal(x, referrer, false));
    }
    match c.len() {
        0 => Ok(None),
        1 => Ok(Some(c[0])),
        _ => {
            let same = c
                .iter()
                .all(|x| x.name == c[0].name && (!with_namespace || x.namespace == c[0].namespace));
            if same {
                Ok(Some(c[0]))
            } else {
                let ids: Vec<String> = c.iter().map(|x| x.cur.kustomize_string()).collect();
                Err(format!(
                    "found multiple possible referrals: {}",
                    ids.join(", ")
                ))
            }
        }
    }
}

fn candidates_for(
    all: &[Candidate],
    referrer: &Referrer,
    role_binding_ns: &[String],
) -> Vec<usize> {
    if referrer.cur.cluster_scoped {
        return (0..all.len()).collect();
    }
    (0..all.len())
        .filter(|&i| {
            let c = &all[i];
            c.cur.cluster_scoped
                || c.cur.effective_namespace() == referrer.cur.effective_namespace()
                || role_binding_ns.contains(&c.namespace)
        })
        .collect()
}

fn role_binding_namespaces(r: &Resource) -> Vec<String> {
    if r.kind() != "RoleBinding" {
        return Vec::new();
    }
    let mut out = Vec::new();
    if let Some(Value::Array(subjects)) = r.obj.get("subjects") {
        for s in subjects {
            if let Value::Object(m) = s {
                if let (Some(Value::String(ns)), Some(Value::String(kind))) =
                    (m.get("namespace"), m.get("kind"))
                {
                    if kind == "ServiceAccount" {
                        out.push(ns.clone());
                    }
                }
            }
        }
    }
    out
}

fn role_ref_gvk(obj: &Map<String, Value>) -> Option<Gvk> {
    let rr = obj.get("roleRef")?.as_object()?;
    let group = rr.get("apiGroup")?;
    let kind = rr.get("kind")?;
    Some(Gvk {
        group: scalar_text(group),
        version: String::new(),
        kind: scalar_text(kind),
    })
}

/// Updates name references in all resources.
pub fn fix_name_references(resources: &mut [Resource]) -> Result<(), (usize, String)> {
    fix_with_table(resources, &NAME_REFERENCE)
}

fn fix_with_table(
    resources: &mut [Resource],
    table: &[NameBackRef],
) -> Result<(), (usize, String)> {
    let cands: Vec<Candidate> = resources
        .iter()
        .map(|r| Candidate {
            prev: r.prev_ids(),
            cur: r.cur_id(),
            name: r.name().to_string(),
            namespace: r.namespace().to_string(),
            kind: r.kind().to_string(),
            prefixes: r.prefixes.clone(),
            suffixes: r.suffixes.clone(),
        })
        .collect();
    let specs: Vec<(Gvk, Vec<Spec>)> = table
        .iter()
        .map(|b| {
            (
                Gvk {
                    group: b.gvk.0.into(),
                    version: b.gvk.1.into(),
                    kind: b.gvk.2.into(),
                },
                b.referrers.iter().map(Spec::from).collect(),
            )
        })
        .collect();
    for (ri, r) in resources.iter_mut().enumerate() {
        let org = r.org_id();
        let referrer = Referrer {
            cur: r.cur_id(),
            prefixes: r.prefixes.clone(),
            suffixes: r.suffixes.clone(),
            role_ref: role_ref_gvk(&r.obj),
        };
        let rb_ns = role_binding_namespaces(r);
        let subset = candidates_for(&cands, &referrer, &rb_ns);
        let gvk = r.gvk();
        for (target, refs) in &specs {
            for spec in refs {
                if !org.gvk.is_selected(&spec.gvk) {
                    continue;
                }
                // kustomize re-targets the spec at the referrer's current kind.
                let spec = Spec {
                    gvk: gvk.clone(),
                    path: spec.path.clone(),
                    create: spec.create,
                };
                let path = spec.path.join("/");
                spec.apply(&mut r.obj, CreateKind::None, &mut |node| {
                    set_node(node, &cands, &subset, target, &referrer, &path)
                })
                .map_err(|e| {
                    (
                        ri,
                        format!(
                            "updating name reference in '{path}' field of '{}': {e}",
                            referrer.cur.kustomize_string()
                        ),
                    )
                })?;
            }
        }
    }
    Ok(())
}

fn set_node(
    node: &mut Value,
    all: &[Candidate],
    subset: &[usize],
    target: &Gvk,
    referrer: &Referrer,
    path: &str,
) -> Result<(), String> {
    match node {
        Value::Null => Ok(()),
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Null => {}
                    Value::Object(_) => set_mapping(item, all, subset, target, referrer, path)?,
                    Value::Array(_) => {
                        return Err(
                            "a list item is expected to be either a string or a map of string"
                                .into(),
                        )
                    }
                    _ => set_scalar(item, all, subset, target, referrer, path)?,
                }
            }
            Ok(())
        }
        Value::Object(_) => set_mapping(node, all, subset, target, referrer, path),
        _ => set_scalar(node, all, subset, target, referrer, path),
    }
}

fn set_scalar(
    node: &mut Value,
    all: &[Candidate],
    subset: &[usize],
    target: &Gvk,
    referrer: &Referrer,
    path: &str,
) -> Result<(), String> {
    let old = scalar_text(node);
    let cands: Vec<&Candidate> = subset.iter().map(|&i| &all[i]).collect();
    if let Some(c) = select(&old, cands, target, referrer, path, false)? {
        if c.name != old {
            *node = Value::String(c.name.clone());
        }
    }
    Ok(())
}

fn set_mapping(
    node: &mut Value,
    all: &[Candidate],
    subset: &[usize],
    target: &Gvk,
    referrer: &Referrer,
    path: &str,
) -> Result<(), String> {
    let Value::Object(m) = node else {
        return Err("expect a mapping node".into());
    };
    let Some(name) = m.get("name") else {
        return Err("path config error; no 'name' field in node".into());
    };
    let old = scalar_text(name);
    let cands: Vec<&Candidate> = match m.get("namespace") {
        None => subset.iter().map(|&i| &all[i]).collect(),
        Some(ns) => {
            let ns = scalar_text(ns);
            // Grouped by original namespace first, then by current one.
            let by_org: Vec<&Candidate> = subset
                .iter()
                .map(|&i| &all[i])
                .filter(|c| {
                    let org = c.prev.first().unwrap_or(&c.cur);
                    !org.cluster_scoped && org.effective_namespace() == ns
                })
                .collect();
            if !by_org.is_empty() {
                by_org
            } else {
                subset
                    .iter()
                    .map(|&i| &all[i])
                    .filter(|c| !c.cur.cluster_scoped && c.cur.effective_namespace() == ns)
                    .collect()
            }
        }
    };
    let Some(c) = select(&old, cands, target, referrer, path, true)? else {
        return Ok(());
    };
    if c.name == old && c.namespace.is_empty() {
        return Ok(());
    }
    m.insert("name".into(), Value::String(c.name.clone()));
    if !c.namespace.is_empty() {
        m.insert("namespace".into(), Value::String(c.namespace.clone()));
    }
    Ok(())
}
