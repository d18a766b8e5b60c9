//! The template engine as Helm's `pkg/engine` runs it: every template of
//! the chart and of its (enabled) subcharts parsed into one Go template set
//! under Helm's names (`chart/templates/x.yaml`,
//! `chart/charts/sub/templates/y.yaml`), `missingkey=zero`, values scoped
//! per chart, partials (`_*.tpl`) parsed but not rendered, and errors
//! cleaned up the way Helm cleans them.

mod capabilities;
mod files;

use std::collections::BTreeMap;

use flotilla_template::{
    FuncSet, Function, Limits, MissingKey, Param, Template, TemplateError, Value,
};

pub use capabilities::{Capabilities, HelmVersion, KubeVersion, DEFAULT_API_VERSIONS};

use crate::chart::Chart;
use crate::error::HelmError;
use crate::metadata::ChartMetadata;

/// Markers Helm puts around `required`/`fail` messages, so that its error
/// cleanup can find the chart author's text inside Go's error chain.
const WARN_START: &str = "HELM_ERR_START";
const WARN_END: &str = "HELM_ERR_END";

/// One template to parse, with the values it renders with.
struct Renderable {
    text: String,
    /// The chart's top-level object (`.Values`, `.Chart`, `.Files`, ...);
    /// shared by every template of one chart, as in Helm.
    vals: Value,
    /// `.Template.BasePath`.
    base_path: String,
}

/// The release a render is for (`.Release`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleaseInfo {
    /// `.Release.Name`.
    pub name: String,
    /// `.Release.Namespace`.
    pub namespace: String,
    /// `.Release.Revision`.
    pub revision: i64,
    /// `.Release.IsUpgrade` (`IsInstall` is its negation).
    pub is_upgrade: bool,
}

impl ReleaseInfo {
    fn to_value(&self) -> Value {
        let mut m = BTreeMap::new();
        m.insert("Name".into(), Value::str(self.name.as_str()));
        m.insert("Namespace".into(), Value::str(self.namespace.as_str()));
        m.insert("IsUpgrade".into(), Value::Bool(self.is_upgrade));
        m.insert("IsInstall".into(), Value::Bool(!self.is_upgrade));
        m.insert("Revision".into(), Value::Int(self.revision));
        m.insert("Service".into(), Value::str("Helm"));
        Value::map(m)
    }
}

/// Renders every template of `chart` (already processed for dependencies:
/// disabled subcharts removed, aliases applied) with the coalesced
/// `values`. Returns rendered text by template name, `<no value>` removed,
/// partials left out. NOTES.txt files are included.
pub(crate) fn render_files(
    chart: &Chart,
    values: &Value,
    release: &ReleaseInfo,
    caps: &Capabilities,
    limits: Limits,
) -> Result<BTreeMap<String, String>, HelmError> {
    let top = map(vec![
        ("Values", values.clone()),
        ("Release", release.to_value()),
        ("Capabilities", caps.to_value()),
    ]);
    let mut tpls = BTreeMap::new();
    collect(chart, None, &top, &mut tpls);

    let mut t = Template::new("gotpl")
        .missing_key(MissingKey::Zero)
        .limits(Limits {
            // Helm's own bound on recursive `include`s (1000 per name) must
            // trip before the general nesting bound, as Go's 100000 does.
            max_depth: limits.max_depth.max(limits.max_include_per_name * 2 + 8),
            ..limits
        })
        .funcs(FuncSet::Helm)
        .func(
            "required",
            Function::new(&[Param::String, Param::Any], |_, a| match &a[1] {
                Value::Nil | Value::Invalid => Err(warn_wrap(a[0].as_str().unwrap_or(""))),
                Value::String(s) if s.is_empty() => Err(warn_wrap(a[0].as_str().unwrap_or(""))),
                other => Ok(other.clone()),
            }),
        )
        .func(
            "fail",
            Function::new(&[Param::String], |_, a| {
                Err(warn_wrap(a[0].as_str().unwrap_or("")))
            }),
        );

    let keys = sort_templates(tpls.keys().cloned().collect());
    for name in &keys {
        let r = &tpls[name];
        t.add(name, &r.text).map_err(|e| parse_error(name, &e))?;
    }

    let mut rendered = BTreeMap::new();
    for name in &keys {
        if base_name(name).starts_with('_') {
            continue;
        }
        let r = &tpls[name];
        if let Value::Map(m) = &r.vals {
            m.insert(
                "Template".into(),
                map(vec![
                    ("Name", Value::str(name.as_str())),
                    ("BasePath", Value::str(r.base_path.as_str())),
                ]),
            );
        }
        let out = t
            .execute_template_value(name, r.vals.clone())
            .map_err(|e| exec_error(name, &e))?;
        rendered.insert(name.clone(), out.replace("<no value>", ""));
    }
    Ok(rendered)
}

fn warn_wrap(s: &str) -> String {
    format!("{WARN_START}{s}{WARN_END}")
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::map(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

fn base_name(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

/// Helm's `chartutil.Values.Table`: the map at a dotted path, if every step
/// is a map.
fn table(v: &Value, path: &str) -> Option<Value> {
    let mut cur = v.clone();
    for step in path.split('.') {
        let next = match &cur {
            Value::Map(m) => m.get(step)?,
            _ => return None,
        };
        if !matches!(next, Value::Map(_)) {
            return None;
        }
        cur = next;
    }
    Some(cur)
}

/// Helm's `recAllTpls`: gathers the templates of `c` and its subcharts,
/// building each chart's top-level object; returns the object of `c`.
fn collect(
    c: &Chart,
    parent_path: Option<&str>,
    vals: &Value,
    out: &mut BTreeMap<String, Renderable>,
) -> Value {
    let is_root = parent_path.is_none();
    let get = |k: &str| match vals {
        Value::Map(m) => m.get(k).unwrap_or(Value::Nil),
        _ => Value::Nil,
    };
    let values = if is_root {
        get("Values")
    } else {
        table(vals, &format!("Values.{}", c.metadata.name)).unwrap_or_else(Value::empty_map)
    };
    let subcharts = Value::empty_map();
    let next = map(vec![
        ("Chart", chart_value(&c.metadata, is_root)),
        ("Files", files::files_value(&c.files)),
        ("Release", get("Release")),
        ("Capabilities", get("Capabilities")),
        ("Values", values),
        ("Subcharts", subcharts.clone()),
    ]);
    let full_path = match parent_path {
        None => c.metadata.name.clone(),
        Some(p) => format!("{p}/charts/{}", c.metadata.name),
    };
    for child in &c.dependencies {
        let v = collect(child, Some(&full_path), &next, out);
        if let Value::Map(m) = &subcharts {
            m.insert(child.metadata.name.clone(), v);
        }
    }
    let library = c.metadata.chart_type.eq_ignore_ascii_case("library");
    for t in &c.templates {
        if library && !base_name(&t.name).starts_with('_') {
            continue;
        }
        out.insert(
            join(&full_path, &t.name),
            Renderable {
                text: String::from_utf8_lossy(&t.data).into_owned(),
                vals: next.clone(),
                base_path: format!("{full_path}/templates"),
            },
        );
    }
    next
}

/// `path.Join` of two relative, clean-ish paths.
pub(crate) fn join(a: &str, b: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in a.split('/').chain(b.split('/')) {
        match p {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// Helm's parse order: deeper paths first, then reverse lexical order (so a
/// parent's `define`s, parsed last, win over its subcharts').
fn sort_templates(mut keys: Vec<String>) -> Vec<String> {
    keys.sort_by(|a, b| {
        let (ca, cb) = (a.matches('/').count(), b.matches('/').count());
        cb.cmp(&ca).then_with(|| b.cmp(a))
    });
    keys
}

/// `.Chart`: the metadata under Go's field names, plus `IsRoot`.
fn chart_value(m: &ChartMetadata, is_root: bool) -> Value {
    let s = |x: &str| Value::str(x);
    let strings = |v: &[String]| {
        if v.is_empty() {
            Value::Nil
        } else {
            Value::string_list(v.to_vec())
        }
    };
    let maintainers = if m.maintainers.is_empty() {
        Value::Nil
    } else {
        Value::list(
            m.maintainers
                .iter()
                .map(|x| {
                    map(vec![
                        ("Name", s(&x.name)),
                        ("Email", s(&x.email)),
                        ("URL", s(&x.url)),
                    ])
                })
                .collect(),
        )
    };
    let deps = if m.dependencies.is_empty() {
        Value::Nil
    } else {
        Value::list(
            m.dependencies
                .iter()
                .map(|d| {
                    let imports = Value::list(
                        d.import_values
                            .iter()
                            .map(|iv| match iv {
                                crate::metadata::ImportValue::Name(n) => s(n),
                                crate::metadata::ImportValue::Map { child, parent } => {
                                    map(vec![("child", s(child)), ("parent", s(parent))])
                                }
                            })
                            .collect(),
                    );
                    map(vec![
                        ("Name", s(&d.name)),
                        ("Version", s(&d.version)),
                        ("Repository", s(&d.repository)),
                        ("Condition", s(&d.condition)),
                        ("Tags", strings(&d.tags)),
                        ("Enabled", Value::Bool(d.enabled.unwrap_or(false))),
                        ("ImportValues", imports),
                        ("Alias", s(&d.alias)),
                    ])
                })
                .collect(),
        )
    };
    let annotations = Value::Map(std::sync::Arc::new(flotilla_template::Map::new(
        true,
        m.annotations
            .iter()
            .map(|(k, v)| (k.clone(), Value::str(v.as_str())))
            .collect(),
    )));
    map(vec![
        ("Name", s(&m.name)),
        ("Home", s(&m.home)),
        ("Sources", strings(&m.sources)),
        ("Version", s(&m.version)),
        ("Description", s(&m.description)),
        ("Keywords", strings(&m.keywords)),
        ("Maintainers", maintainers),
        ("Icon", s(&m.icon)),
        ("APIVersion", s(&m.api_version)),
        ("Condition", s(&m.condition)),
        ("Tags", s(&m.tags)),
        ("AppVersion", s(&m.app_version)),
        ("Deprecated", Value::Bool(m.deprecated)),
        ("Annotations", annotations),
        ("KubeVersion", s(&m.kube_version)),
        ("Dependencies", deps),
        ("Type", s(&m.chart_type)),
        ("IsRoot", Value::Bool(is_root)),
    ])
}

/// Helm's `cleanupParseError`: `parse error at (LOCATION): LAST MESSAGE PART`.
fn parse_error(name: &str, e: &TemplateError) -> HelmError {
    let tokens: Vec<&str> = e.message.split(": ").collect();
    if tokens.len() == 1 {
        return HelmError::Exec {
            file: name.to_string(),
            location: name.to_string(),
            user: false,
            text: format!("parse error in ({name}): {}", e.message),
        };
    }
    let location = tokens[1];
    let message = tokens[tokens.len() - 1];
    let (file, line) = match location.rsplit_once(':') {
        Some((f, l)) if l.parse::<usize>().is_ok() => (f.to_string(), l.parse().unwrap_or(0)),
        _ => (location.to_string(), e.line),
    };
    HelmError::Parse {
        file,
        line,
        message: message.to_string(),
    }
}

/// Helm's `cleanupExecError`: the chart's own `required`/`fail` message at
/// the outermost location, or Go's full text.
fn exec_error(name: &str, e: &TemplateError) -> HelmError {
    let msg = &e.message;
    let tokens: Vec<&str> = msg.splitn(3, ": ").collect();
    if tokens.len() != 3 {
        return HelmError::Exec {
            file: name.to_string(),
            location: name.to_string(),
            user: false,
            text: format!("execution error in ({name}): {msg}"),
        };
    }
    let location = tokens[1].to_string();
    if let Some(start) = tokens[2].find(WARN_START) {
        let rest = &tokens[2][start + WARN_START.len()..];
        if let Some(end) = rest.rfind(WARN_END) {
            return HelmError::Exec {
                file: name.to_string(),
                text: format!("execution error at ({location}): {}", &rest[..end]),
                location,
                user: true,
            };
        }
    }
    HelmError::Exec {
        file: name.to_string(),
        location,
        user: false,
        text: msg.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_order_is_deepest_first_then_reverse_lexical() {
        let keys = sort_templates(vec![
            "a/templates/x.yaml".into(),
            "a/charts/b/templates/y.yaml".into(),
            "a/templates/_h.tpl".into(),
        ]);
        assert_eq!(
            keys,
            vec![
                "a/charts/b/templates/y.yaml",
                "a/templates/x.yaml",
                "a/templates/_h.tpl"
            ]
        );
    }

    #[test]
    fn table_walks_maps_only() {
        let v = Value::from(serde_json::json!({"Values": {"sub": {"x": 1}, "s": "str"}}));
        assert!(table(&v, "Values.sub").is_some());
        assert!(table(&v, "Values.s").is_none());
        assert!(table(&v, "Values.none").is_none());
    }
}
