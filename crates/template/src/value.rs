//! The data model templates execute over: the JSON-like values Go templates
//! see in Argo CD and Helm (`map[string]interface{}`, `[]interface{}`,
//! `float64` numbers, strings, booleans and nil) plus the few Go types that
//! Sprig functions return (`int`, `int64`, `[]string`, `time.Time`,
//! `*semver.Version`, ...), each tagged with its Go type so that `%T`, typed
//! function parameters and comparisons behave as in Go.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use crate::gotime::GoTime;
use crate::semver::Version;

/// A value seen by a template.
///
/// Numbers decoded from JSON are Go `float64` ([`Value::Float`]), as both Argo
/// CD (`encoding/json` into `map[string]interface{}`) and Helm
/// (`sigs.k8s.io/yaml`, which goes through JSON) decode them.
///
/// ```
/// use flotilla_template::Value;
/// let v = Value::from(serde_json::json!({"replicas": 3, "name": "web"}));
/// assert_eq!(v.go_type(), "map[string]interface {}");
/// ```
#[derive(Clone, Debug)]
pub enum Value {
    /// No value at all (Go's invalid `reflect.Value`): a missing map key,
    /// printed as `<no value>`.
    Invalid,
    /// A nil `interface{}` (JSON `null`).
    Nil,
    /// Go `bool`.
    Bool(bool),
    /// Go `int`.
    Int(i64),
    /// Go `int64`.
    Int64(i64),
    /// Go `uint64`.
    Uint64(u64),
    /// Go `float64`.
    Float(f64),
    /// Go `string`.
    String(Arc<str>),
    /// A Go slice (`[]interface {}`, `[]string`, `[]int`, ...).
    List(Arc<List>),
    /// A Go map with string keys (`map[string]interface {}` or
    /// `map[string]string`). Keys are kept sorted, which is the order Go
    /// prints, ranges over and marshals maps in.
    Map(Arc<Map>),
    /// Go `time.Time`.
    Time(GoTime),
    /// Masterminds `*semver.Version`.
    Version(Arc<Version>),
}

/// Element type of a Go slice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElemType {
    /// `interface {}`
    Any,
    /// `string`
    String,
    /// `int`
    Int,
    /// `[]interface {}`
    ListAny,
}

impl ElemType {
    fn slice_name(self) -> &'static str {
        match self {
            ElemType::Any => "[]interface {}",
            ElemType::String => "[]string",
            ElemType::Int => "[]int",
            ElemType::ListAny => "[][]interface {}",
        }
    }
}

/// A Go slice.
#[derive(Clone, Debug)]
pub struct List {
    /// Element type.
    pub elem: ElemType,
    /// Elements.
    pub items: Vec<Value>,
    /// A nil slice (marshals to JSON `null`).
    pub nil: bool,
    /// Methods of a named slice type (Helm's `chartutil.VersionSet` and
    /// its `Has`); `None` for plain slices.
    pub methods: Option<Arc<dyn GoMethods>>,
}

/// The methods of a Go named type built on a map or a slice, such as
/// Helm's `files` (`.Files.Get`, `.Files.Glob`) or `VersionSet`
/// (`.Capabilities.APIVersions.Has`). A template calls them as fields
/// (`{{ .Files.Get "a.txt" }}`); a method wins over a map key of the same
/// name, as in Go.
///
/// ```
/// use std::sync::Arc;
/// use flotilla_template::{Function, GoMethods, Param, Template, Value};
/// #[derive(Debug)]
/// struct Shout;
/// impl GoMethods for Shout {
///     fn method(&self, recv: &Value, name: &str) -> Option<Function> {
///         let Value::Map(m) = recv else { return None };
///         let m = m.clone();
///         (name == "Loud").then(|| Function::new(&[Param::String], move |_, a| {
///             let v = m.get(a[0].as_str().unwrap_or("")).unwrap_or(Value::Nil);
///             Ok(Value::str(v.as_str().unwrap_or("").to_uppercase()))
///         }))
///     }
/// }
/// let files = Value::map_with_methods(
///     [("a".to_string(), Value::str("hi"))].into_iter().collect(),
///     Arc::new(Shout),
/// );
/// let data = Value::map([("F".to_string(), files)].into_iter().collect());
/// let t = Template::new("t").parse(r#"{{ .F.Loud "a" }} {{ .F.a }}"#).unwrap();
/// assert_eq!(t.execute_value(data).unwrap(), "HI hi");
/// ```
pub trait GoMethods: Send + Sync + std::fmt::Debug {
    /// The method `name` bound to `recv` (the map or slice value that
    /// carries these methods), if the type has one.
    fn method(&self, recv: &Value, name: &str) -> Option<crate::funcs::Function>;

    /// The Go type name (`%T`) when the type is not assignable to the
    /// plain `map[string]interface {}` / slice type it is held as (Helm's
    /// `engine.files` is a `map[string][]byte`): such a value is then
    /// refused by functions taking a `map[string]interface {}`, as in Go.
    /// `None` (the default) for a named type with the same underlying
    /// type, which Go assigns freely.
    fn type_name(&self) -> Option<&'static str> {
        None
    }
}

/// A Go map with string keys. Like a Go map it is a reference: Sprig's
/// `set`, `unset` and `merge` change it in place, visibly to every holder.
#[derive(Debug)]
pub struct Map {
    /// `true` for `map[string]string`, `false` for `map[string]interface {}`.
    pub string_values: bool,
    entries: RwLock<BTreeMap<String, Value>>,
    methods: Option<Arc<dyn GoMethods>>,
}

impl Map {
    /// A map with the given entries.
    pub fn new(string_values: bool, entries: BTreeMap<String, Value>) -> Map {
        Map {
            string_values,
            entries: RwLock::new(entries),
            methods: None,
        }
    }

    /// A `map[string]interface {}` of a named type with `methods`.
    pub fn with_methods(entries: BTreeMap<String, Value>, methods: Arc<dyn GoMethods>) -> Map {
        Map {
            string_values: false,
            entries: RwLock::new(entries),
            methods: Some(methods),
        }
    }

    /// The methods of the map's named type, if any.
    pub fn methods(&self) -> Option<&Arc<dyn GoMethods>> {
        self.methods.as_ref()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Value>> {
        self.entries.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Value>> {
        self.entries.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The value at `key`.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.read().get(key).cloned()
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.read().contains_key(key)
    }

    /// Sets `key`.
    pub fn insert(&self, key: String, v: Value) {
        self.write().insert(key, v);
    }

    /// Removes `key`.
    pub fn remove(&self, key: &str) {
        self.write().remove(key);
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// A copy of the entries in sorted key order.
    pub fn entries(&self) -> Vec<(String, Value)> {
        self.read()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The keys in sorted order.
    pub fn keys(&self) -> Vec<String> {
        self.read().keys().cloned().collect()
    }

    /// A shallow copy as a new map.
    pub fn to_btree(&self) -> BTreeMap<String, Value> {
        self.read().clone()
    }
}

impl Value {
    /// A Go string.
    pub fn str(s: impl Into<Arc<str>>) -> Value {
        Value::String(s.into())
    }

    /// A `[]interface {}`.
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Arc::new(List {
            elem: ElemType::Any,
            items,
            nil: false,
            methods: None,
        }))
    }

    /// A slice with the given element type.
    pub fn typed_list(elem: ElemType, items: Vec<Value>) -> Value {
        Value::List(Arc::new(List {
            elem,
            items,
            nil: false,
            methods: None,
        }))
    }

    /// A nil `[]interface {}`.
    pub fn nil_list() -> Value {
        Value::List(Arc::new(List {
            elem: ElemType::Any,
            items: Vec::new(),
            nil: true,
            methods: None,
        }))
    }

    /// A `[]string`.
    pub fn string_list(items: Vec<String>) -> Value {
        Value::typed_list(
            ElemType::String,
            items.into_iter().map(Value::str).collect(),
        )
    }

    /// A `map[string]interface {}`.
    pub fn map(entries: BTreeMap<String, Value>) -> Value {
        Value::Map(Arc::new(Map::new(false, entries)))
    }

    /// A `map[string]interface {}` of a named type with `methods` (see
    /// [`GoMethods`]).
    pub fn map_with_methods(
        entries: BTreeMap<String, Value>,
        methods: Arc<dyn GoMethods>,
    ) -> Value {
        Value::Map(Arc::new(Map::with_methods(entries, methods)))
    }

    /// A slice with element type `elem` of a named type with `methods`.
    pub fn list_with_methods(
        elem: ElemType,
        items: Vec<Value>,
        methods: Arc<dyn GoMethods>,
    ) -> Value {
        Value::List(Arc::new(List {
            elem,
            items,
            nil: false,
            methods: Some(methods),
        }))
    }

    /// An empty `map[string]interface {}`.
    pub fn empty_map() -> Value {
        Value::map(BTreeMap::new())
    }

    /// The Go type name as `%T` prints it (`<nil>` for nil and no value).
    pub fn go_type(&self) -> &'static str {
        match self {
            Value::Invalid | Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Int64(_) => "int64",
            Value::Uint64(_) => "uint64",
            Value::Float(_) => "float64",
            Value::String(_) => "string",
            Value::List(l) => match l.methods.as_ref().and_then(|x| x.type_name()) {
                Some(n) => n,
                None => l.elem.slice_name(),
            },
            Value::Map(m) => {
                if let Some(n) = m.methods().and_then(|x| x.type_name()) {
                    n
                } else if m.string_values {
                    "map[string]string"
                } else {
                    "map[string]interface {}"
                }
            }
            Value::Time(_) => "time.Time",
            Value::Version(_) => "*semver.Version",
        }
    }

    /// The Go reflect kind name (`kindOf`).
    pub fn go_kind(&self) -> &'static str {
        match self {
            Value::Invalid | Value::Nil => "invalid",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Int64(_) => "int64",
            Value::Uint64(_) => "uint64",
            Value::Float(_) => "float64",
            Value::String(_) => "string",
            Value::List(_) => "slice",
            Value::Map(_) => "map",
            Value::Time(_) => "struct",
            Value::Version(_) => "ptr",
        }
    }

    /// Whether this is "no value" or a nil interface.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Invalid | Value::Nil)
    }

    /// The string, if this is a Go string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Go's template truth (`if`, `with`, `and`, `or`, `not`).
    pub fn truth(&self) -> bool {
        match self {
            Value::Invalid | Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) | Value::Int64(i) => *i != 0,
            Value::Uint64(u) => *u != 0,
            Value::Float(f) => *f != 0.0,
            Value::String(s) => !s.is_empty(),
            Value::List(l) => !l.items.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Time(_) => true,
            Value::Version(_) => true,
        }
    }

    /// Converts to JSON the way Go's `encoding/json` marshals the Go value;
    /// errors for NaN and infinities as Go does.
    pub fn to_json(&self) -> Result<serde_json::Value, String> {
        Ok(match self {
            Value::Invalid | Value::Nil => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) | Value::Int64(i) => serde_json::Value::from(*i),
            Value::Uint64(u) => serde_json::Value::from(*u),
            Value::Float(f) => {
                if !f.is_finite() {
                    return Err(format!(
                        "json: unsupported value: {}",
                        crate::gofmt::format_float(*f, 'g', -1)
                    ));
                }
                serde_json::Number::from_f64(*f)
                    .map(serde_json::Value::Number)
                    .unwrap_or(serde_json::Value::Null)
            }
            Value::String(s) => serde_json::Value::String(s.to_string()),
            Value::List(l) => {
                if l.nil {
                    serde_json::Value::Null
                } else {
                    serde_json::Value::Array(
                        l.items
                            .iter()
                            .map(|v| v.to_json())
                            .collect::<Result<_, _>>()?,
                    )
                }
            }
            Value::Map(m) => {
                let mut o = serde_json::Map::new();
                for (k, v) in m.entries() {
                    o.insert(k, v.to_json()?);
                }
                serde_json::Value::Object(o)
            }
            Value::Time(t) => serde_json::Value::String(t.rfc3339_nano()),
            Value::Version(v) => serde_json::Value::String(v.to_string()),
        })
    }
}

impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Self {
        Value::from(&v)
    }
}

impl From<&serde_json::Value> for Value {
    fn from(v: &serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
            serde_json::Value::String(s) => Value::str(s.as_str()),
            serde_json::Value::Array(a) => Value::list(a.iter().map(Value::from).collect()),
            serde_json::Value::Object(o) => {
                Value::map(o.iter().map(|(k, v)| (k.clone(), Value::from(v))).collect())
            }
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::str(s)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::str(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

/// Go's `reflect.DeepEqual` over values.
pub fn deep_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Invalid | Value::Nil, Value::Invalid | Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Int64(x), Value::Int64(y)) => x == y,
        (Value::Uint64(x), Value::Uint64(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            x.elem == y.elem
                && x.nil == y.nil
                && x.items.len() == y.items.len()
                && x.items.iter().zip(&y.items).all(|(a, b)| deep_equal(a, b))
        }
        (Value::Map(x), Value::Map(y)) => {
            if Arc::ptr_eq(x, y) {
                return true;
            }
            x.string_values == y.string_values
                && x.len() == y.len()
                && x.entries()
                    .iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| deep_equal(v, &w)))
        }
        (Value::Time(x), Value::Time(y)) => x == y,
        (Value::Version(x), Value::Version(y)) => x == y,
        _ => false,
    }
}
