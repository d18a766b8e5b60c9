//! Go `text/template` for Rust, with the Sprig functions Argo CD enables and
//! Helm's additions, matching Go's output byte for byte.
//!
//! Flotilla renders ApplicationSet templates (`goTemplate: true`), Vault agent
//! templates and Helm charts with it. The engine is a hand-written port of
//! Go's lexer, parser and executor: trim markers, comments, pipelines,
//! variables, `if`/`with`/`range` (with `else`, `break`, `continue`),
//! `define`/`template`/`block`, the builtins and the `missingkey` option all
//! behave as in Go, and errors carry Go's text
//! (`template: NAME:LINE:COL: executing "NAME" at <NODE>: ...`).
//!
//! ```
//! use flotilla_template::{FuncSet, MissingKey, Template};
//! let t = Template::new("app")
//!     .missing_key(MissingKey::Error)
//!     .funcs(FuncSet::Sprig)
//!     .parse(r#"{{ .cluster.name | upper }}-{{ index .path.segments 2 }}"#)
//!     .unwrap();
//! let data = serde_json::json!({
//!     "cluster": {"name": "eu"},
//!     "path": {"segments": ["manifests", "overlays", "prod"]},
//! });
//! assert_eq!(t.execute(&data).unwrap(), "EU-prod");
//! ```
//!
//! ## Data model
//!
//! Templates execute over [`Value`], built from `serde_json::Value` with
//! every number a Go `float64` — what Argo CD (JSON decoded into
//! `map[string]interface{}`) and Helm (`sigs.k8s.io/yaml`, which decodes
//! through JSON) hand to `text/template`. So `{{ .replicas }}` of `3` prints
//! `3`, of `1000000` prints `1e+06`, and `eq .replicas 3` is an error
//! (`incompatible types for comparison`), as in Argo CD.
//!
//! ## Bounds
//!
//! [`Limits`] bounds nested template calls (`template`, `include`, `tpl`),
//! output size, range iterations and parenthesis nesting; exceeding one is a
//! [`TemplateError`] of kind [`ErrorKind::Limit`].

#![deny(missing_docs)]

mod exec;
mod funcs;
mod gofmt;
pub mod gotime;
mod helm;
mod lex;
mod methods;
mod parse;
pub mod semver;
mod sprig;
mod value;
mod yaml;

use std::collections::HashMap;
use std::sync::Arc;

pub use exec::Ctx;
pub use funcs::{FuncError, FuncImpl, FuncMap, Function, Param};
pub use gofmt::{sprint, sprintf, sprintln};
pub use value::{deep_equal, ElemType, GoMethods, List, Map, Value};

/// What executing a template does when a map has no entry for a key
/// (Go's `Option("missingkey=...")`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MissingKey {
    /// `missingkey=default` (or `invalid`): no value, printed `<no value>`.
    #[default]
    Default,
    /// `missingkey=zero`: the zero value of the map's element type.
    Zero,
    /// `missingkey=error`: execution stops with an error naming the key.
    Error,
}

impl std::str::FromStr for MissingKey {
    type Err = String;

    /// Parses `missingkey=...` or just the value (`error`, `zero`,
    /// `default`, `invalid`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let v = s.strip_prefix("missingkey=").unwrap_or(s);
        match v {
            "default" | "invalid" => Ok(MissingKey::Default),
            "zero" => Ok(MissingKey::Zero),
            "error" => Ok(MissingKey::Error),
            _ => Err(format!("unrecognized option: {}", s)),
        }
    }
}

/// Which function library a template gets besides Go's builtins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FuncSet {
    /// Only Go's builtins.
    #[default]
    Builtins,
    /// Sprig's generic functions as Argo CD enables them: all but `env`,
    /// `expandenv` and `getHostByName`.
    Sprig,
    /// What Argo CD's ApplicationSet controller registers: [`FuncSet::Sprig`]
    /// plus `normalize`, `slugify`, `toYaml`, `fromYaml` and `fromYamlArray`.
    ArgoCd,
    /// Helm's function map: Sprig (without `env`/`expandenv`) plus `toYaml`,
    /// `fromYaml`, `fromYamlArray`, `toJson`, `fromJson`, `fromJsonArray`,
    /// `toToml`-less Helm extras, `include`, `tpl`, `required`, `fail` and
    /// an empty `lookup`.
    Helm,
}

/// Bounds on the work one execution may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Nesting of template calls (`template`, `include`, `tpl`).
    pub max_depth: usize,
    /// Helm's bound on recursive `include`s of one name.
    pub max_include_per_name: usize,
    /// Bytes of output.
    pub max_output_bytes: usize,
    /// Total `range` iterations.
    pub max_range_iterations: u64,
    /// Nesting of parenthesised pipelines when parsing.
    pub max_paren_depth: usize,
    /// Elements a list-building function (`until`, `seq`, ...) or bytes a
    /// string function (`repeat`, ...) may produce.
    pub max_collection: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 1000,
            max_include_per_name: 1000,
            max_output_bytes: 64 << 20,
            max_range_iterations: 10_000_000,
            max_paren_depth: 100,
            max_collection: 10_000_000,
        }
    }
}

/// The class of a [`TemplateError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The template text does not parse.
    Parse,
    /// Execution failed where Go's fails.
    Exec,
    /// A [`Limits`] bound was exceeded.
    Limit,
}

/// A parse or execution error. Its text is Go's:
/// `template: NAME:LINE: ...` for parse errors and
/// `template: NAME:LINE:COL: executing "NAME" at <NODE>: ...` for execution.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    /// Parse, execution or limit.
    pub kind: ErrorKind,
    /// The template being parsed or executed.
    pub template: String,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// 0-based byte column within the line, as Go reports it (execution
    /// errors only).
    pub column: Option<usize>,
    /// The full message, as Go prints it.
    pub message: String,
}

/// A parsed Go template with its associated (`define`d) templates.
///
/// ```
/// use flotilla_template::Template;
/// let t = Template::new("t")
///     .parse(r#"{{define "greet"}}hi {{.}}{{end}}{{template "greet" .name}}"#)
///     .unwrap();
/// assert_eq!(t.execute(&serde_json::json!({"name": "ann"})).unwrap(), "hi ann");
/// ```
#[derive(Clone)]
pub struct Template {
    name: String,
    set: exec::Set,
    extra: FuncMap,
    func_set: FuncSet,
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.set.trees.keys().collect();
        names.sort();
        f.debug_struct("Template")
            .field("name", &self.name)
            .field("templates", &names)
            .field("missing_key", &self.set.missing)
            .finish()
    }
}

/// The function library of `set` for `limits`, built once per process for
/// the default limits.
fn library(set: FuncSet, limits: Limits) -> Arc<FuncMap> {
    fn build(set: FuncSet, limits: Limits) -> Arc<FuncMap> {
        Arc::new(match set {
            FuncSet::Builtins => FuncMap::new(),
            FuncSet::Sprig => sprig::funcs(limits),
            FuncSet::ArgoCd => {
                let mut m = sprig::funcs(limits);
                helm::argocd_extras(&mut m);
                m
            }
            FuncSet::Helm => {
                let mut m = sprig::funcs(limits);
                helm::helm_extras(&mut m);
                m
            }
        })
    }
    if limits != Limits::default() {
        return build(set, limits);
    }
    static CACHE: std::sync::OnceLock<[Arc<FuncMap>; 4]> = std::sync::OnceLock::new();
    let c = CACHE.get_or_init(|| {
        let d = Limits::default();
        [
            build(FuncSet::Builtins, d),
            build(FuncSet::Sprig, d),
            build(FuncSet::ArgoCd, d),
            build(FuncSet::Helm, d),
        ]
    });
    c[set as usize].clone()
}

fn builtin_map() -> Arc<FuncMap> {
    static B: std::sync::OnceLock<Arc<FuncMap>> = std::sync::OnceLock::new();
    B.get_or_init(|| Arc::new(funcs::builtins())).clone()
}

impl Template {
    /// A template named `name`, with Go's builtins only and
    /// `missingkey=default`.
    pub fn new(name: impl Into<String>) -> Template {
        let name = name.into();
        Template {
            set: exec::Set {
                trees: HashMap::new(),
                funcs: Arc::new(FuncMap::new()),
                builtins: builtin_map(),
                missing: MissingKey::Default,
                limits: Limits::default(),
                left: "{{".into(),
                right: "}}".into(),
                root_name: name.clone(),
            },
            name,
            extra: FuncMap::new(),
            func_set: FuncSet::Builtins,
        }
    }

    /// Sets the `missingkey` option.
    pub fn missing_key(mut self, m: MissingKey) -> Template {
        self.set.missing = m;
        self
    }

    /// Applies a Go option string such as `missingkey=error` (as Argo CD's
    /// `goTemplateOptions` lists them).
    pub fn option(mut self, opt: &str) -> Result<Template, TemplateError> {
        match opt.parse::<MissingKey>() {
            Ok(m) => {
                self.set.missing = m;
                Ok(self)
            }
            Err(e) => Err(TemplateError {
                kind: ErrorKind::Parse,
                template: self.name.clone(),
                line: 0,
                column: None,
                message: if opt.starts_with("missingkey=") {
                    format!("unrecognized option: {}", opt)
                } else {
                    e
                },
            }),
        }
    }

    /// Selects the function library.
    pub fn funcs(mut self, set: FuncSet) -> Template {
        self.func_set = set;
        self.rebuild_funcs();
        self
    }

    /// Adds (or replaces) one function, e.g. the Vault agent's `secret`.
    pub fn func(mut self, name: &str, f: Function) -> Template {
        self.extra.insert(name.to_string(), f);
        self.rebuild_funcs();
        self
    }

    /// Sets the action delimiters (Go's `Delims`); empty means default.
    pub fn delims(mut self, left: &str, right: &str) -> Template {
        self.set.left = if left.is_empty() {
            "{{".into()
        } else {
            left.into()
        };
        self.set.right = if right.is_empty() {
            "}}".into()
        } else {
            right.into()
        };
        self
    }

    /// Sets the work bounds.
    pub fn limits(mut self, limits: Limits) -> Template {
        self.set.limits = limits;
        self.rebuild_funcs();
        self
    }

    fn rebuild_funcs(&mut self) {
        let base = library(self.func_set, self.set.limits);
        if self.extra.is_empty() {
            self.set.funcs = base;
            return;
        }
        let mut m = (*base).clone();
        for (k, v) in &self.extra {
            m.insert(k.clone(), v.clone());
        }
        self.set.funcs = Arc::new(m);
    }

    /// Parses `text` as this template's body (its `define`s become
    /// associated templates).
    pub fn parse(mut self, text: &str) -> Result<Template, TemplateError> {
        let name = self.name.clone();
        add_parse(&mut self.set, &name, text)?;
        Ok(self)
    }

    /// Parses `text` as another associated template named `name` (as Helm
    /// parses each chart file with `t.New(file).Parse(text)`).
    pub fn add(&mut self, name: &str, text: &str) -> Result<(), TemplateError> {
        add_parse(&mut self.set, name, text)
    }

    /// The template's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Names of all associated templates, sorted.
    pub fn template_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.set.trees.keys().cloned().collect();
        v.sort();
        v
    }

    /// Executes the template with JSON data (numbers become `float64`).
    pub fn execute(&self, data: &serde_json::Value) -> Result<String, TemplateError> {
        self.execute_value(Value::from(data))
    }

    /// Executes the template with a [`Value`].
    pub fn execute_value(&self, data: Value) -> Result<String, TemplateError> {
        if !self.set.trees.contains_key(&self.name) {
            return Err(TemplateError {
                kind: ErrorKind::Exec,
                template: self.name.clone(),
                line: 0,
                column: None,
                message: format!(
                    "template: {}: {} is an incomplete or empty template",
                    self.name,
                    gofmt::quote(&self.name)
                ),
            });
        }
        self.execute_template_value(&self.name.clone(), data)
    }

    /// Executes the associated template `name` (Go's `ExecuteTemplate`).
    pub fn execute_template(
        &self,
        name: &str,
        data: &serde_json::Value,
    ) -> Result<String, TemplateError> {
        self.execute_template_value(name, Value::from(data))
    }

    /// Executes the associated template `name` with a [`Value`].
    pub fn execute_template_value(&self, name: &str, data: Value) -> Result<String, TemplateError> {
        let mut budget = exec::Budget::default();
        exec::execute_named(&self.set, name, data, 0, &mut budget)
    }
}

/// Marshals `v` as Go's `encoding/json.Marshal` does (sorted keys, HTML
/// characters escaped, Go's float format).
///
/// ```
/// use flotilla_template::{to_go_json, Value};
/// let v = Value::from(serde_json::json!({"b": 1e21, "a": "<x>"}));
/// assert_eq!(to_go_json(&v).unwrap(), r#"{"a":"\u003cx\u003e","b":1e+21}"#);
/// ```
pub fn to_go_json(v: &Value) -> Result<String, String> {
    sprig::go_json(v, true, None)
}

/// Marshals `v` as `sigs.k8s.io/yaml.Marshal` does (what Helm's and Argo
/// CD's `toYaml` print, plus the trailing newline they trim).
///
/// ```
/// use flotilla_template::{to_go_yaml, Value};
/// let v = Value::from(serde_json::json!({"tag": "1.25", "list": ["a"]}));
/// assert_eq!(to_go_yaml(&v).unwrap(), "list:\n- a\ntag: \"1.25\"\n");
/// ```
pub fn to_go_yaml(v: &Value) -> Result<String, String> {
    yaml::marshal(v)
}

/// Reads YAML as `sigs.k8s.io/yaml.Unmarshal` into `interface{}` does
/// (YAML 1.1 scalars as go-yaml v2 resolves them, then JSON: numbers become
/// `float64`).
pub fn from_go_yaml(text: &str) -> Result<Value, String> {
    yaml::unmarshal(text)
}

/// Parses `text` into `set` under `name`, associating every tree as Go's
/// `Template.Parse`/`AddParseTree` do.
pub(crate) fn add_parse(set: &mut exec::Set, name: &str, text: &str) -> Result<(), TemplateError> {
    let trees = {
        let s: &exec::Set = set;
        let has = |n: &str| s.has_function(n);
        parse::parse(
            name,
            text,
            &s.left,
            &s.right,
            &has,
            s.limits.max_paren_depth,
        )
        .map_err(|e| TemplateError {
            kind: ErrorKind::Parse,
            template: name.to_string(),
            line: e.line,
            column: None,
            message: e.message,
        })?
    };
    for tree in trees {
        let empty = parse::is_empty_list(&tree.root);
        if empty && set.trees.contains_key(&tree.name) {
            continue;
        }
        set.trees.insert(tree.name.clone(), Arc::new(tree));
    }
    Ok(())
}
