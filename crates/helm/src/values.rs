//! Values as Helm's `chartutil` and `pkg/cli/values` build them: user
//! values from `-f` files and the `--set*` flags merged in Helm's order,
//! dependencies enabled or removed by `condition`/`tags`, `import-values`
//! pulled up, and everything coalesced with the chart defaults into the
//! tree a template sees as `.Values`.
//!
//! The one entry point for a renderer is [`prepare`]:
//!
//! ```
//! use flotilla_helm::{load_files, prepare, ChartFile, ValuesOptions};
//! let files = vec![
//!     ChartFile { name: "Chart.yaml".into(), data: b"apiVersion: v2\nname: web\nversion: 1.0.0\n".to_vec() },
//!     ChartFile { name: "values.yaml".into(), data: b"replicas: 1\nimage: {tag: latest}\n".to_vec() },
//! ];
//! let chart = load_files(files, "web").unwrap();
//! let mut opts = ValuesOptions::default();
//! opts.set.push("image.tag=1.2.3,replicas=3".into());
//! let prepared = prepare(chart, &opts).unwrap();
//! assert_eq!(
//!     flotilla_template::to_go_yaml(&prepared.values).unwrap(),
//!     "image:\n  tag: 1.2.3\nreplicas: 3\n",
//! );
//! ```
//!
//! Maps in a [`Value`] are references (as Go maps are), and the algorithms
//! here follow Helm's step by step, sharing and copying maps where Helm
//! does, so that the quirks that follow from it (globals of a subchart
//! showing in the parent's nested global maps, for one) come out the same.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use flotilla_template::{Map, Value};

use crate::chart::Chart;
use crate::strvals::{self, StrvalsError};

/// The key under which global values live.
pub const GLOBAL_KEY: &str = "global";

/// One `-f`/`--values` file, already read (from disk, from a Git tree, from
/// an Argo CD `values` string).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueFile {
    /// The name used in errors (`values-prod.yaml`, `$values/helm/x.yaml`).
    pub name: String,
    /// Contents.
    pub data: Vec<u8>,
}

/// Reads the file a `--set-file key=PATH` names; returns its contents or
/// an error message.
pub type FileReader = Arc<dyn Fn(&str) -> Result<Vec<u8>, String> + Send + Sync>;

/// What the user gave: the value files and `--set*` flags of
/// `helm template`, each list in command-line order.
#[derive(Clone, Default)]
pub struct ValuesOptions {
    /// `-f`/`--values`, in order (later files win).
    pub value_files: Vec<ValueFile>,
    /// `--set-json`.
    pub set_json: Vec<String>,
    /// `--set`.
    pub set: Vec<String>,
    /// `--set-string`.
    pub set_string: Vec<String>,
    /// `--set-file`: `key=PATH`, the value is the file's contents.
    pub set_file: Vec<String>,
    /// `--set-literal`.
    pub set_literal: Vec<String>,
    /// Reads `--set-file` paths; `None` reads them from the local file
    /// system relative to [`ValuesOptions::base_dir`].
    pub file_reader: Option<FileReader>,
    /// Directory relative `--set-file` paths are read from when no
    /// `file_reader` is set (default: the current directory).
    pub base_dir: Option<PathBuf>,
    /// `--skip-schema-validation`.
    pub skip_schema_validation: bool,
}

impl std::fmt::Debug for ValuesOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValuesOptions")
            .field(
                "value_files",
                &self.value_files.iter().map(|v| &v.name).collect::<Vec<_>>(),
            )
            .field("set_json", &self.set_json)
            .field("set", &self.set)
            .field("set_string", &self.set_string)
            .field("set_file", &self.set_file)
            .field("set_literal", &self.set_literal)
            .field("skip_schema_validation", &self.skip_schema_validation)
            .finish()
    }
}

/// Why values could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ValuesError {
    /// A value file is not YAML, or not a map.
    #[error("failed to parse {file}: {message}")]
    ValueFile {
        /// The file's name.
        file: String,
        /// What is wrong (with the line, for YAML syntax errors).
        message: String,
    },
    /// A `--set*` flag does not parse.
    #[error("{}", set_error_text(flag, value, source))]
    Set {
        /// `--set`, `--set-string`, `--set-json`, `--set-file`, `--set-literal`.
        flag: &'static str,
        /// The flag's argument.
        value: String,
        /// The parse error.
        source: StrvalsError,
    },
    /// The chart cannot be installed (a library chart).
    #[error("{kind} charts are not installable")]
    NotInstallable {
        /// `type` of the chart.
        kind: String,
    },
    /// Dependencies named in `Chart.yaml` are not in `charts/`.
    #[error("An error occurred while checking for chart dependencies. You may need to run `helm dependency build` to fetch missing dependencies: found in Chart.yaml, but missing in charts/ directory: {}", missing.join(", "))]
    MissingDependencies {
        /// Chart origin.
        chart: String,
        /// The names missing.
        missing: Vec<String>,
    },
    /// Values of a subchart are not a map (`type mismatch on NAME: ...`).
    #[error("{0}")]
    Coalesce(String),
    /// Values fail a chart's `values.schema.json`.
    #[error(transparent)]
    Schema(#[from] crate::schema::SchemaError),
}

fn set_error_text(flag: &str, value: &str, source: &StrvalsError) -> String {
    if flag == "--set-json" {
        // Helm drops the cause for --set-json.
        format!("failed parsing {flag} data {value}")
    } else {
        format!("failed parsing {flag} data: {source}")
    }
}

/// A chart ready to render: dependencies processed and its values.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The chart with disabled dependencies removed, aliases applied (an
    /// aliased subchart's `metadata.name` is its alias) and each chart's
    /// `values` replaced by its imported-and-merged values, as Helm's
    /// `ProcessDependenciesWithMerge` leaves it.
    pub chart: Chart,
    /// The coalesced values: what the templates see as `.Values` of the
    /// top chart; subchart `N` sees `values[N]`.
    pub values: Value,
    /// The user values before coalescing (`-f` and `--set*` merged).
    pub user_values: Value,
    /// Warnings Helm would log (skipped tables, non-boolean conditions, ...).
    pub warnings: Vec<String>,
}

/// Builds the final values for `chart` as `helm template` does: user
/// values ([`merge_user_values`]), the installable check, the check that
/// every dependency in `Chart.yaml` is present, dependency processing
/// ([`crate::deps::process_dependencies`] with merge, as `helm install`
/// does), coalescing ([`coalesce_values`]) and schema validation unless
/// skipped.
pub fn prepare(chart: Chart, opts: &ValuesOptions) -> Result<Prepared, ValuesError> {
    let user = merge_user_values(opts)?;
    prepare_with_values(chart, user, opts.skip_schema_validation)
}

/// [`prepare`] with user values that are already merged (Argo CD's
/// `valuesObject`, a test).
pub fn prepare_with_values(
    mut chart: Chart,
    user: Value,
    skip_schema_validation: bool,
) -> Result<Prepared, ValuesError> {
    check_installable(&chart)?;
    check_dependencies(&chart)?;
    let mut warnings = Vec::new();
    crate::deps::process_dependencies(&mut chart, &user, true, &mut warnings)?;
    let values = coalesce_values_warn(&chart, &user, &mut warnings)?;
    if !skip_schema_validation {
        crate::schema::validate_against_schema(&chart, &values)?;
    }
    Ok(Prepared {
        chart,
        values,
        user_values: user,
        warnings,
    })
}

/// `checkIfInstallable`: only `application` (or untyped) charts render.
pub fn check_installable(chart: &Chart) -> Result<(), ValuesError> {
    match chart.metadata.chart_type.as_str() {
        "" | "application" => Ok(()),
        other => Err(ValuesError::NotInstallable {
            kind: other.to_string(),
        }),
    }
}

/// `action.CheckDependencies`: every dependency in `Chart.yaml` must be
/// loaded from `charts/` (by name).
pub fn check_dependencies(chart: &Chart) -> Result<(), ValuesError> {
    let missing: Vec<String> = chart
        .metadata
        .dependencies
        .iter()
        .filter(|r| !chart.dependencies.iter().any(|d| d.metadata.name == r.name))
        .map(|r| r.name.clone())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ValuesError::MissingDependencies {
            chart: chart.origin.clone(),
            missing,
        })
    }
}

/// Reads a values file as `chartutil.ReadValues` does (`sigs.k8s.io/yaml`:
/// numbers are `float64`); an empty document is an empty map.
pub fn read_values(data: &[u8]) -> Result<Value, String> {
    let data = data
        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
        .unwrap_or(data);
    let text = std::str::from_utf8(data).map_err(|e| format!("invalid UTF-8: {e}"))?;
    let v = flotilla_template::from_go_yaml(text)?;
    match v {
        Value::Map(_) => Ok(v),
        Value::Nil | Value::Invalid => Ok(Value::empty_map()),
        other => Err(format!(
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            json_kind(&other)
        )),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Bool(_) => "bool",
        Value::String(_) => "string",
        Value::List(_) => "array",
        Value::Int(_) | Value::Int64(_) | Value::Uint64(_) | Value::Float(_) => "number",
        _ => "object",
    }
}

/// The user values: `-f` files merged in order (`mergeMaps`), then
/// `--set-json`, `--set`, `--set-string`, `--set-file` and
/// `--set-literal`, as `values.Options.MergeValues` does.
pub fn merge_user_values(opts: &ValuesOptions) -> Result<Value, ValuesError> {
    let mut base = Value::empty_map();
    for f in &opts.value_files {
        let cur = read_values(&f.data).map_err(|message| ValuesError::ValueFile {
            file: f.name.clone(),
            message,
        })?;
        base = merge_maps(&base, &cur);
    }
    let base_map = match &base {
        Value::Map(m) => m.clone(),
        _ => Arc::new(Map::new(false, BTreeMap::new())),
    };
    let wrap = |flag: &'static str, value: &str, source: StrvalsError| ValuesError::Set {
        flag,
        value: value.to_string(),
        source,
    };
    for s in &opts.set_json {
        strvals::parse_json_into(s, &base_map).map_err(|e| wrap("--set-json", s, e))?;
    }
    for s in &opts.set {
        strvals::parse_into(s, &base_map).map_err(|e| wrap("--set", s, e))?;
    }
    for s in &opts.set_string {
        strvals::parse_into_string(s, &base_map).map_err(|e| wrap("--set-string", s, e))?;
    }
    for s in &opts.set_file {
        let reader = |path: &str| -> Result<Value, String> {
            let data = match &opts.file_reader {
                Some(r) => r(path)?,
                None => {
                    let p = match &opts.base_dir {
                        Some(d) => d.join(path),
                        None => PathBuf::from(path),
                    };
                    std::fs::read(&p).map_err(|e| format!("open {}: {}", path, io_reason(&e)))?
                }
            };
            Ok(Value::str(String::from_utf8_lossy(&data).into_owned()))
        };
        strvals::parse_file_into(s, &base_map, &reader).map_err(|e| wrap("--set-file", s, e))?;
    }
    for s in &opts.set_literal {
        strvals::parse_literal_into(s, &base_map).map_err(|e| wrap("--set-literal", s, e))?;
    }
    Ok(Value::Map(base_map))
}

/// Go's wording for common I/O errors (`no such file or directory`).
pub(crate) fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// `mergeMaps` of `pkg/cli/values`: `b` over `a`, maps merged recursively,
/// everything else replaced; a new top map, nested maps of `a` shared.
pub fn merge_maps(a: &Value, b: &Value) -> Value {
    let mut out = match a {
        Value::Map(m) => m.to_btree(),
        _ => BTreeMap::new(),
    };
    if let Value::Map(bm) = b {
        for (k, v) in bm.entries() {
            if is_table(&v) {
                if let Some(bv) = out.get(&k) {
                    if is_table(bv) {
                        let merged = merge_maps(bv, &v);
                        out.insert(k, merged);
                        continue;
                    }
                }
            }
            out.insert(k, v);
        }
    }
    Value::map(out)
}

/// Whether `v` is a YAML table (`map[string]interface{}`).
pub(crate) fn is_table(v: &Value) -> bool {
    matches!(v, Value::Map(m) if !m.string_values)
}

pub(crate) fn as_table(v: &Value) -> Option<&Arc<Map>> {
    match v {
        Value::Map(m) if !m.string_values => Some(m),
        _ => None,
    }
}

/// A deep copy (`copystructure.Copy`): maps and lists are new, scalars
/// shared.
pub fn deep_copy(v: &Value) -> Value {
    match v {
        Value::Map(m) => {
            let entries = m
                .entries()
                .into_iter()
                .map(|(k, v)| (k, deep_copy(&v)))
                .collect();
            Value::Map(Arc::new(Map::new(m.string_values, entries)))
        }
        Value::List(l) => {
            let items = l.items.iter().map(deep_copy).collect();
            if l.nil {
                Value::nil_list()
            } else {
                Value::typed_list(l.elem, items)
            }
        }
        other => other.clone(),
    }
}

fn concat_prefix(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}.{b}")
    }
}

fn go_v(v: &Value) -> String {
    flotilla_template::sprint(std::slice::from_ref(v))
}

/// `chartutil.CoalesceValues`: the user values `vals` over the chart's
/// defaults and its subcharts', `null` deleting a default.
pub fn coalesce_values(chart: &Chart, vals: &Value) -> Result<Value, ValuesError> {
    coalesce_values_warn(chart, vals, &mut Vec::new())
}

/// `chartutil.MergeValues`: as [`coalesce_values`] but `null`s are kept.
pub fn merge_values(chart: &Chart, vals: &Value) -> Result<Value, ValuesError> {
    merge_values_warn(chart, vals, &mut Vec::new())
}

pub(crate) fn coalesce_values_warn(
    chart: &Chart,
    vals: &Value,
    w: &mut Vec<String>,
) -> Result<Value, ValuesError> {
    let copy = copy_values(vals);
    coalesce(w, chart, &copy, "", false)?;
    Ok(Value::Map(copy))
}

pub(crate) fn merge_values_warn(
    chart: &Chart,
    vals: &Value,
    w: &mut Vec<String>,
) -> Result<Value, ValuesError> {
    let copy = copy_values(vals);
    coalesce(w, chart, &copy, "", true)?;
    Ok(Value::Map(copy))
}

fn copy_values(vals: &Value) -> Arc<Map> {
    match deep_copy(vals) {
        Value::Map(m) => m,
        _ => Arc::new(Map::new(false, BTreeMap::new())),
    }
}

fn coalesce(
    w: &mut Vec<String>,
    ch: &Chart,
    dest: &Arc<Map>,
    prefix: &str,
    merge: bool,
) -> Result<(), ValuesError> {
    coalesce_chart_values(w, ch, dest, prefix, merge);
    coalesce_deps(w, ch, dest, prefix, merge)
}

fn coalesce_deps(
    w: &mut Vec<String>,
    ch: &Chart,
    dest: &Arc<Map>,
    prefix: &str,
    merge: bool,
) -> Result<(), ValuesError> {
    for sub in &ch.dependencies {
        let name = sub.metadata.name.as_str();
        match dest.get(name) {
            None => dest.insert(name.to_string(), Value::empty_map()),
            Some(c) if !is_table(&c) => {
                return Err(ValuesError::Coalesce(format!(
                    "type mismatch on {}: {}",
                    name,
                    flotilla_template::sprintf("%t", &[c])
                )));
            }
            Some(_) => {}
        }
        if let Some(dv) = dest.get(name) {
            let Some(dvmap) = as_table(&dv) else { continue };
            let sub_prefix = concat_prefix(prefix, &ch.metadata.name);
            coalesce_globals(w, dvmap, dest, &sub_prefix);
            coalesce(w, sub, dvmap, &sub_prefix, merge)?;
        }
    }
    Ok(())
}

/// `coalesceGlobals`: the parent's `global` merged into the child's.
fn coalesce_globals(w: &mut Vec<String>, dest: &Arc<Map>, src: &Arc<Map>, prefix: &str) {
    let dg = match dest.get(GLOBAL_KEY) {
        None => Arc::new(Map::new(false, BTreeMap::new())),
        Some(v) => match as_table(&v) {
            Some(m) => m.clone(),
            None => {
                w.push(
                    "warning: skipping globals because destination global is not a table.".into(),
                );
                return;
            }
        },
    };
    let sg = match src.get(GLOBAL_KEY) {
        None => Arc::new(Map::new(false, BTreeMap::new())),
        Some(v) => match as_table(&v) {
            Some(m) => m.clone(),
            None => {
                w.push("warning: skipping globals because source global is not a table.".into());
                return;
            }
        },
    };
    for (key, val) in sg.entries() {
        if let Some(vm) = as_table(&val) {
            // A shallow copy: nested maps stay shared, as in Helm.
            let vv = Arc::new(Map::new(false, vm.to_btree()));
            match dg.get(&key) {
                None => dg.insert(key, Value::Map(vv)),
                Some(destv) => match as_table(&destv) {
                    None => w.push(format!(
                        "Conflict: cannot merge map onto non-map for {}. Skipping.",
                        flotilla_template::sprintf("%q", &[Value::str(key.as_str())])
                    )),
                    Some(destvmap) => {
                        let sub_prefix = concat_prefix(prefix, &key);
                        coalesce_tables_full_key(w, &vv, destvmap, &sub_prefix, true);
                        dg.insert(key, Value::Map(vv));
                    }
                },
            }
        } else if dg.get(&key).is_some_and(|dv| is_table(&dv)) {
            w.push(format!("key {key} is table. Skipping"));
        } else {
            dg.insert(key, val);
        }
    }
    dest.insert(GLOBAL_KEY.to_string(), Value::Map(dg));
}

/// `coalesceValues`: the chart's defaults under `v`.
fn coalesce_chart_values(w: &mut Vec<String>, c: &Chart, v: &Arc<Map>, prefix: &str, merge: bool) {
    let sub_prefix = concat_prefix(prefix, &c.metadata.name);
    let vc = deep_copy(&c.values);
    let Some(vc) = as_table(&vc) else { return };
    for (key, val) in vc.entries() {
        match v.get(&key) {
            Some(value) => {
                if value.is_nil() && !merge {
                    v.remove(&key);
                } else if let Some(dest) = as_table(&value) {
                    match as_table(&val) {
                        None => {
                            if !val.is_nil() {
                                w.push(format!(
                                    "warning: skipped value for {sub_prefix}.{key}: Not a table."
                                ));
                            }
                        }
                        Some(src) => {
                            let merge =
                                merge || c.dependencies.iter().any(|d| d.metadata.name == key);
                            coalesce_tables_full_key(
                                w,
                                dest,
                                src,
                                &concat_prefix(&sub_prefix, &key),
                                merge,
                            );
                        }
                    }
                }
            }
            None => v.insert(key, val),
        }
    }
}

/// `chartutil.CoalesceTables`: `src` under `dst` (in place); `null` in
/// `dst` deletes the key.
pub fn coalesce_tables(dst: &Value, src: &Value) -> Value {
    tables(dst, src, false)
}

/// `chartutil.MergeTables`: as [`coalesce_tables`], `null`s kept.
pub fn merge_tables(dst: &Value, src: &Value) -> Value {
    tables(dst, src, true)
}

fn tables(dst: &Value, src: &Value, merge: bool) -> Value {
    match (as_table(dst), as_table(src)) {
        (Some(d), Some(s)) => {
            coalesce_tables_full_key(&mut Vec::new(), d, s, "", merge);
            dst.clone()
        }
        (Some(_), None) => dst.clone(),
        (None, _) => src.clone(),
    }
}

pub(crate) fn coalesce_tables_full_key(
    w: &mut Vec<String>,
    dst: &Arc<Map>,
    src: &Arc<Map>,
    prefix: &str,
    merge: bool,
) {
    if Arc::ptr_eq(dst, src) {
        return;
    }
    for (key, val) in src.entries() {
        let fullkey = concat_prefix(prefix, &key);
        match dst.get(&key) {
            Some(dv) if !merge && dv.is_nil() => dst.remove(&key),
            None => dst.insert(key, val),
            Some(dv) => {
                if let Some(vm) = as_table(&val) {
                    match as_table(&dv) {
                        Some(dm) => coalesce_tables_full_key(w, dm, vm, &fullkey, merge),
                        None => w.push(format!(
                            "warning: cannot overwrite table with non table for {} ({})",
                            fullkey,
                            go_v(&val)
                        )),
                    }
                } else if is_table(&dv) && !val.is_nil() {
                    w.push(format!(
                        "warning: destination for {} is a table. Ignoring non-table value ({})",
                        fullkey,
                        go_v(&val)
                    ));
                }
            }
        }
    }
}

/// `Values.Table`: the map at a dotted path.
pub(crate) fn table(v: &Value, path: &str) -> Option<Value> {
    let mut cur = v.clone();
    for n in path.split('.') {
        let next = as_table(&cur)?.get(n)?;
        if !is_table(&next) {
            return None;
        }
        cur = next;
    }
    Some(cur)
}

/// `Values.PathValue`: the non-table value at a dotted path.
pub(crate) fn path_value(v: &Value, path: &str) -> Option<Value> {
    if path.is_empty() {
        return None;
    }
    let (head, key) = match path.rsplit_once('.') {
        Some((h, k)) => (Some(h), k),
        None => (None, path),
    };
    let t = match head {
        Some(h) => table(v, h)?,
        None => v.clone(),
    };
    let found = as_table(&t)?.get(key)?;
    if is_table(&found) {
        None
    } else {
        Some(found)
    }
}
