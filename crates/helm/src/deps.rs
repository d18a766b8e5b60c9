//! Dependency processing as Helm's `chartutil.ProcessDependencies` does
//! it: aliases, `condition` and `tags` (disabled subcharts are removed),
//! then `import-values` (both forms) and `exports` pulled from each child
//! into its parent's values.

use flotilla_template::Value;

use crate::chart::Chart;
use crate::metadata::{Dependency, ImportValue};
use crate::values::{
    self, as_table, coalesce_tables, deep_copy, merge_tables, path_value, table, ValuesError,
};

/// Processes the dependencies of `chart` against the user values `vals`:
/// applies aliases, enables or removes subcharts by `tags` and
/// `condition` (recursively), then imports values. `merge` keeps `null`s
/// while importing (`ProcessDependenciesWithMerge`, what `helm install` and
/// `helm template` use); warnings Helm would log are pushed to `warnings`.
pub fn process_dependencies(
    chart: &mut Chart,
    vals: &Value,
    merge: bool,
    warnings: &mut Vec<String>,
) -> Result<(), ValuesError> {
    process_enabled(chart, vals, "", warnings)?;
    process_import_values_rec(chart, merge, warnings)
}

/// `IsCompatibleRange`: whether `version` satisfies the constraint.
pub fn is_compatible_range(constraint: &str, version: &str) -> bool {
    let Ok(v) = flotilla_template::semver::Version::parse(version) else {
        return false;
    };
    flotilla_template::semver::check_constraint(constraint, &v).unwrap_or(false)
}

fn alias_dependency(charts: &[Chart], dep: &Dependency) -> Option<Chart> {
    let c = charts.iter().find(|c| {
        c.metadata.name == dep.name && is_compatible_range(&dep.version, &c.metadata.version)
    })?;
    let mut out = c.clone();
    if !dep.alias.is_empty() {
        out.metadata.name = dep.alias.clone();
    }
    Some(out)
}

fn process_enabled(
    c: &mut Chart,
    v: &Value,
    path: &str,
    w: &mut Vec<String>,
) -> Result<(), ValuesError> {
    if c.metadata.dependencies.is_empty() {
        return Ok(());
    }
    let mut chart_deps: Vec<Chart> = Vec::new();
    for existing in &c.dependencies {
        let declared = c.metadata.dependencies.iter().any(|req| {
            existing.metadata.name == req.name
                && is_compatible_range(&req.version, &existing.metadata.version)
        });
        if !declared {
            chart_deps.push(existing.clone());
        }
    }
    for req in c.metadata.dependencies.iter_mut() {
        if let Some(cd) = alias_dependency(&c.dependencies, req) {
            chart_deps.push(cd);
        }
        if !req.alias.is_empty() {
            req.name = req.alias.clone();
        }
    }
    c.dependencies = chart_deps;
    for lr in c.metadata.dependencies.iter_mut() {
        lr.enabled = Some(true);
    }
    let cvals = values::coalesce_values_warn(c, v, w)?;
    process_tags(&mut c.metadata.dependencies, &cvals, w);
    process_conditions(&mut c.metadata.dependencies, &cvals, path, w);
    let removed: Vec<String> = c
        .metadata
        .dependencies
        .iter()
        .filter(|r| r.enabled == Some(false))
        .map(|r| r.name.clone())
        .collect();
    c.dependencies
        .retain(|d| !removed.contains(&d.metadata.name));
    c.metadata
        .dependencies
        .retain(|d| !removed.contains(&d.name));
    for t in c.dependencies.iter_mut() {
        let sub = format!("{}{}.", path, t.metadata.name);
        process_enabled(t, &cvals, &sub, w)?;
    }
    Ok(())
}

fn process_conditions(reqs: &mut [Dependency], cvals: &Value, cpath: &str, w: &mut Vec<String>) {
    for r in reqs.iter_mut() {
        for cond in r.condition.trim().split(',') {
            if cond.is_empty() {
                continue;
            }
            if let Some(vv) = path_value(cvals, &format!("{cpath}{cond}")) {
                if let Value::Bool(b) = vv {
                    r.enabled = Some(b);
                    break;
                }
                w.push(format!(
                    "Warning: Condition path '{}' for chart {} returned non-bool value",
                    cond, r.name
                ));
            }
        }
    }
}

fn process_tags(reqs: &mut [Dependency], cvals: &Value, w: &mut Vec<String>) {
    let Some(vt) = table(cvals, "tags") else {
        return;
    };
    let Some(vt) = as_table(&vt) else { return };
    for r in reqs.iter_mut() {
        let (mut has_true, mut has_false) = (false, false);
        for k in &r.tags {
            if let Some(b) = vt.get(k) {
                match b {
                    Value::Bool(true) => has_true = true,
                    Value::Bool(false) => has_false = true,
                    _ => w.push(format!(
                        "Warning: Tag '{}' for chart {} returned non-bool value",
                        k, r.name
                    )),
                }
            }
        }
        if !has_true && has_false {
            r.enabled = Some(false);
        } else if has_true || !has_false {
            r.enabled = Some(true);
        }
    }
}

/// `pathToMap`: `a.b` and `data` to `{a: {b: data}}`; `.` is `data`.
fn path_to_map(path: &str, data: Value) -> Value {
    if path == "." {
        return data;
    }
    let mut cur = data;
    for seg in path.split('.').rev() {
        cur = Value::map([(seg.to_string(), cur)].into_iter().collect());
    }
    cur
}

fn trim_nil_values(v: &Value) -> Value {
    let copy = deep_copy(v);
    trim_in_place(&copy);
    copy
}

fn trim_in_place(v: &Value) {
    if let Some(m) = as_table(v) {
        for (k, val) in m.entries() {
            if val.is_nil() {
                m.remove(&k);
            } else if as_table(&val).is_some() {
                trim_in_place(&val);
            }
        }
    }
}

fn process_import_values_rec(
    c: &mut Chart,
    merge: bool,
    w: &mut Vec<String>,
) -> Result<(), ValuesError> {
    for d in c.dependencies.iter_mut() {
        process_import_values_rec(d, merge, w)?;
    }
    process_import_values(c, merge, w)
}

fn process_import_values(
    c: &mut Chart,
    merge: bool,
    w: &mut Vec<String>,
) -> Result<(), ValuesError> {
    if c.metadata.dependencies.is_empty() {
        return Ok(());
    }
    let empty = Value::empty_map();
    let cvals = if merge {
        values::merge_values_warn(c, &empty, w)?
    } else {
        values::coalesce_values_warn(c, &empty, w)?
    };
    let mut b = Value::empty_map();
    let combine = |b: &Value, src: Value| {
        if merge {
            merge_tables(b, &src)
        } else {
            coalesce_tables(b, &src)
        }
    };
    for r in c.metadata.dependencies.iter_mut() {
        let mut out = Vec::new();
        for iv in &r.import_values {
            let (child, parent) = match iv {
                ImportValue::Map { child, parent } => (child.clone(), parent.clone()),
                ImportValue::Name(s) => (format!("exports.{s}"), ".".to_string()),
            };
            out.push(ImportValue::Map {
                child: child.clone(),
                parent: parent.clone(),
            });
            let Some(vv) = table(&cvals, &format!("{}.{}", r.name, child)) else {
                w.push(match iv {
                    ImportValue::Map { .. } => format!(
                        "Warning: ImportValues missing table from chart {}: no table named {:?}",
                        r.name, child
                    ),
                    ImportValue::Name(_) => {
                        format!("Warning: ImportValues missing table: no table named {child:?}")
                    }
                });
                continue;
            };
            b = combine(&b, path_to_map(&parent, vv));
        }
        r.import_values = out;
    }
    c.values = if merge {
        merge_tables(&deep_copy(&cvals), &b)
    } else {
        coalesce_tables(&trim_nil_values(&cvals), &b)
    };
    Ok(())
}
