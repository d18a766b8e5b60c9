//! Template functions: the typed-signature model (so argument checking and
//! its errors follow Go's reflection rules) and Go's builtin functions.

use std::collections::HashMap;
use std::sync::Arc;

use crate::exec::Ctx;
use crate::gofmt;
use crate::value::Value;

/// The Go type of a function parameter. Arguments are checked against it
/// the way `text/template` checks them with reflection: a `float64` from
/// JSON passed to an `int` parameter is an error, a literal `3` is not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Param {
    /// `interface {}`: anything; "no value" arrives as [`Value::Nil`].
    Any,
    /// `string`
    String,
    /// `int`
    Int,
    /// `float64`
    Float64,
    /// `bool`
    Bool,
    /// `map[string]interface {}`
    Map,
    /// `time.Time`
    Time,
    /// `reflect.Value`: the raw value, [`Value::Invalid`] included.
    Raw,
}

impl Param {
    /// The Go type name used in error messages.
    pub fn go_name(self) -> &'static str {
        match self {
            Param::Any => "interface {}",
            Param::String => "string",
            Param::Int => "int",
            Param::Float64 => "float64",
            Param::Bool => "bool",
            Param::Map => "map[string]interface {}",
            Param::Time => "time.Time",
            Param::Raw => "reflect.Value",
        }
    }

    pub(crate) fn can_be_nil(self) -> bool {
        matches!(self, Param::Any | Param::Map | Param::Raw)
    }
}

/// What a function implementation returns on failure: Go prints it after
/// `error calling NAME: `.
pub type FuncError = String;

/// Signature of a function implementation. The context gives access to the
/// running template set (for `include`/`tpl`-like functions).
pub type FuncImpl = dyn Fn(&mut Ctx<'_>, Vec<Value>) -> Result<Value, FuncError> + Send + Sync;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Special {
    None,
    And,
    Or,
    Call,
}

/// A template function with a Go signature.
///
/// ```
/// use flotilla_template::{Function, Param, Template, Value};
/// let secret = Function::new(&[Param::String], |_ctx, args| {
///     Ok(Value::str(format!("<{}>", args[0].as_str().unwrap_or(""))))
/// });
/// let t = Template::new("t").func("secret", secret).parse(r#"{{ secret "db/pass" }}"#).unwrap();
/// assert_eq!(t.execute(&serde_json::json!({})).unwrap(), "<db/pass>");
/// ```
#[derive(Clone)]
pub struct Function {
    pub(crate) params: Vec<Param>,
    pub(crate) variadic: Option<Param>,
    pub(crate) imp: Arc<FuncImpl>,
    pub(crate) special: Special,
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Function")
            .field("params", &self.params)
            .field("variadic", &self.variadic)
            .finish()
    }
}

impl Function {
    /// A function with fixed parameters.
    pub fn new<F>(params: &[Param], f: F) -> Function
    where
        F: Fn(&mut Ctx<'_>, Vec<Value>) -> Result<Value, FuncError> + Send + Sync + 'static,
    {
        Function {
            params: params.to_vec(),
            variadic: None,
            imp: Arc::new(f),
            special: Special::None,
        }
    }

    /// A variadic function: fixed parameters then any number of `rest`.
    pub fn variadic<F>(params: &[Param], rest: Param, f: F) -> Function
    where
        F: Fn(&mut Ctx<'_>, Vec<Value>) -> Result<Value, FuncError> + Send + Sync + 'static,
    {
        Function {
            params: params.to_vec(),
            variadic: Some(rest),
            imp: Arc::new(f),
            special: Special::None,
        }
    }

    fn special(mut self, s: Special) -> Function {
        self.special = s;
        self
    }

    /// Number of declared parameters (Go's `NumIn`).
    pub(crate) fn num_in(&self) -> usize {
        self.params.len() + usize::from(self.variadic.is_some())
    }

    pub(crate) fn param_at(&self, i: usize) -> Param {
        if i < self.params.len() {
            self.params[i]
        } else {
            self.variadic.unwrap_or(Param::Any)
        }
    }
}

/// A map of function names to functions.
pub type FuncMap = HashMap<String, Function>;

pub(crate) fn add(m: &mut FuncMap, name: &str, f: Function) {
    m.insert(name.to_string(), f);
}

fn ok_str(s: String) -> Result<Value, FuncError> {
    Ok(Value::str(s))
}

/// Go's builtin template functions.
pub(crate) fn builtins() -> FuncMap {
    let mut m = FuncMap::new();
    use Param::*;
    add(
        &mut m,
        "and",
        Function::variadic(&[Raw], Raw, |_, _| Ok(Value::Invalid)).special(Special::And),
    );
    add(
        &mut m,
        "or",
        Function::variadic(&[Raw], Raw, |_, _| Ok(Value::Invalid)).special(Special::Or),
    );
    add(
        &mut m,
        "call",
        Function::variadic(&[Raw], Raw, call).special(Special::Call),
    );
    add(
        &mut m,
        "html",
        Function::variadic(&[], Any, |_, a| ok_str(html_escape(&eval_args(&a)))),
    );
    add(
        &mut m,
        "js",
        Function::variadic(&[], Any, |_, a| ok_str(js_escape(&eval_args(&a)))),
    );
    add(
        &mut m,
        "urlquery",
        Function::variadic(&[], Any, |_, a| ok_str(query_escape(&eval_args(&a)))),
    );
    add(
        &mut m,
        "index",
        Function::variadic(&[Raw], Raw, |_, a| index(&a[0], &a[1..])),
    );
    add(
        &mut m,
        "slice",
        Function::variadic(&[Raw], Raw, |_, a| slice(&a[0], &a[1..])),
    );
    add(&mut m, "len", Function::new(&[Raw], |_, a| length(&a[0])));
    add(
        &mut m,
        "not",
        Function::new(&[Raw], |_, a| Ok(Value::Bool(!a[0].truth()))),
    );
    add(
        &mut m,
        "print",
        Function::variadic(&[], Any, |_, a| ok_str(gofmt::sprint(&a))),
    );
    add(
        &mut m,
        "println",
        Function::variadic(&[], Any, |_, a| ok_str(gofmt::sprintln(&a))),
    );
    add(
        &mut m,
        "printf",
        Function::variadic(&[String], Any, |_, a| {
            let f = a[0].as_str().unwrap_or("").to_string();
            ok_str(gofmt::sprintf(&f, &a[1..]))
        }),
    );
    add(
        &mut m,
        "eq",
        Function::variadic(&[Raw], Raw, |_, a| eq(&a[0], &a[1..]).map(Value::Bool)),
    );
    add(
        &mut m,
        "ne",
        Function::new(&[Raw, Raw], |_, a| {
            eq(&a[0], &a[1..]).map(|b| Value::Bool(!b))
        }),
    );
    add(
        &mut m,
        "lt",
        Function::new(&[Raw, Raw], |_, a| lt(&a[0], &a[1]).map(Value::Bool)),
    );
    add(
        &mut m,
        "le",
        Function::new(&[Raw, Raw], |_, a| le(&a[0], &a[1]).map(Value::Bool)),
    );
    add(
        &mut m,
        "gt",
        Function::new(&[Raw, Raw], |_, a| {
            le(&a[0], &a[1]).map(|b| Value::Bool(!b))
        }),
    );
    add(
        &mut m,
        "ge",
        Function::new(&[Raw, Raw], |_, a| {
            lt(&a[0], &a[1]).map(|b| Value::Bool(!b))
        }),
    );
    m
}

fn call(_: &mut Ctx<'_>, a: Vec<Value>) -> Result<Value, FuncError> {
    // a[0] is the callee's name; a[1] the function value. The data model
    // holds no functions, so this is always an error, worded as Go's.
    let name = a[0].as_str().unwrap_or("").to_string();
    match a.get(1) {
        None | Some(Value::Invalid) | Some(Value::Nil) => Err("call of nil".into()),
        Some(v) => Err(format!("non-function {} of type {}", name, v.go_type())),
    }
}

/// Go's evalArgs for html/js/urlquery.
fn eval_args(args: &[Value]) -> String {
    if args.len() == 1 {
        if let Value::String(s) = &args[0] {
            return s.to_string();
        }
    }
    let conv: Vec<Value> = args
        .iter()
        .map(|a| match a {
            Value::Invalid | Value::Nil => Value::str("<no value>"),
            other => other.clone(),
        })
        .collect();
    gofmt::sprint(&conv)
}

pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => out.push('\u{FFFD}'),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

pub(crate) fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u00{:02X}", c as u32)),
            c if (c as u32) < 0x80 => out.push(c),
            c => {
                if gofmt::is_print(c) {
                    out.push(c);
                } else {
                    out.push_str(&format!("\\u{:04X}", c as u32));
                }
            }
        }
    }
    out
}

/// url.QueryEscape.
pub(crate) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{:02X}", b)),
        }
    }
    out
}

fn index_arg(idx: &Value, cap: usize) -> Result<usize, FuncError> {
    let x: i128 = match idx {
        Value::Int(i) | Value::Int64(i) => *i as i128,
        Value::Uint64(u) => *u as i128,
        Value::Invalid | Value::Nil => return Err("cannot index slice/array with nil".into()),
        other => {
            return Err(format!(
                "cannot index slice/array with type {}",
                other.go_type()
            ))
        }
    };
    if x < 0 || x > cap as i128 {
        return Err(format!("index out of range: {}", x));
    }
    Ok(x as usize)
}

fn index(item: &Value, indexes: &[Value]) -> Result<Value, FuncError> {
    let mut item = item.clone();
    if item.is_nil() {
        return Err("index of untyped nil".into());
    }
    for idx in indexes {
        if matches!(item, Value::Nil) {
            return Err("index of nil pointer".into());
        }
        item = match &item {
            Value::List(l) => {
                let x = index_arg(idx, l.items.len())?;
                if x >= l.items.len() {
                    return Err(format!("index out of range: {}", x));
                }
                l.items[x].clone()
            }
            Value::String(s) => {
                let x = index_arg(idx, s.len())?;
                if x >= s.len() {
                    return Err(format!("index out of range: {}", x));
                }
                Value::Uint64(s.as_bytes()[x] as u64)
            }
            Value::Map(m) => {
                let key = match idx {
                    Value::String(k) => k.to_string(),
                    Value::Invalid => {
                        return Err("value is nil; should be of type string".into());
                    }
                    Value::Nil => String::new(),
                    other => {
                        return Err(format!(
                            "value has type {}; should be string",
                            other.go_type()
                        ))
                    }
                };
                match m.get(&key) {
                    Some(v) => v,
                    None => {
                        if m.string_values {
                            Value::str("")
                        } else {
                            Value::Nil
                        }
                    }
                }
            }
            Value::Invalid => return Err("index of untyped nil".into()),
            other => return Err(format!("can't index item of type {}", other.go_type())),
        };
    }
    Ok(item)
}

fn slice(item: &Value, indexes: &[Value]) -> Result<Value, FuncError> {
    if item.is_nil() {
        return Err("slice of untyped nil".into());
    }
    if indexes.len() > 3 {
        return Err(format!("too many slice indexes: {}", indexes.len()));
    }
    let (len, cap) = match item {
        Value::String(s) => {
            if indexes.len() == 3 {
                return Err("cannot 3-index slice a string".into());
            }
            (s.len(), s.len())
        }
        Value::List(l) => (l.items.len(), l.items.len()),
        other => return Err(format!("can't slice item of type {}", other.go_type())),
    };
    let mut idx = [0usize, len, 0];
    for (i, x) in indexes.iter().enumerate() {
        idx[i] = index_arg(x, cap)?;
    }
    if idx[0] > idx[1] {
        return Err(format!("invalid slice index: {} > {}", idx[0], idx[1]));
    }
    if indexes.len() == 3 && idx[1] > idx[2] {
        return Err(format!("invalid slice index: {} > {}", idx[1], idx[2]));
    }
    Ok(match item {
        Value::String(s) => {
            let b = &s.as_bytes()[idx[0]..idx[1]];
            Value::str(String::from_utf8_lossy(b).into_owned())
        }
        Value::List(l) => Value::typed_list(l.elem, l.items[idx[0]..idx[1]].to_vec()),
        _ => Value::Invalid,
    })
}

fn length(item: &Value) -> Result<Value, FuncError> {
    match item {
        Value::Nil => Err("len of nil pointer".into()),
        Value::Invalid => Err("reflect: call of reflect.Value.Type on zero Value".into()),
        Value::String(s) => Ok(Value::Int(s.len() as i64)),
        Value::List(l) => Ok(Value::Int(l.items.len() as i64)),
        Value::Map(m) => Ok(Value::Int(m.len() as i64)),
        other => Err(format!("len of type {}", other.go_type())),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Invalid,
    Bool,
    Int,
    Float,
    String,
    Uint,
}

fn basic_kind(v: &Value) -> Kind {
    match v {
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) | Value::Int64(_) => Kind::Int,
        Value::Uint64(_) => Kind::Uint,
        Value::Float(_) => Kind::Float,
        Value::String(_) => Kind::String,
        _ => Kind::Invalid,
    }
}

fn int_of(v: &Value) -> i64 {
    match v {
        Value::Int(i) | Value::Int64(i) => *i,
        _ => 0,
    }
}

fn uint_of(v: &Value) -> u64 {
    match v {
        Value::Uint64(u) => *u,
        _ => 0,
    }
}

fn float_of(v: &Value) -> f64 {
    match v {
        Value::Float(f) => *f,
        _ => 0.0,
    }
}

fn is_valid(v: &Value) -> bool {
    // indirectInterface: a nil interface becomes invalid.
    !v.is_nil()
}

/// Go's `eq` builtin.
pub(crate) fn eq(arg1: &Value, args: &[Value]) -> Result<bool, FuncError> {
    if args.is_empty() {
        return Err("missing argument for comparison".into());
    }
    let k1 = basic_kind(arg1);
    for arg in args {
        let k2 = basic_kind(arg);
        let truth = if k1 != k2 {
            match (k1, k2) {
                (Kind::Int, Kind::Uint) => int_of(arg1) >= 0 && int_of(arg1) as u64 == uint_of(arg),
                (Kind::Uint, Kind::Int) => int_of(arg) >= 0 && uint_of(arg1) == int_of(arg) as u64,
                _ => {
                    if is_valid(arg1) && is_valid(arg) {
                        return Err(format!(
                            "incompatible types for comparison: {} and {}",
                            arg1.go_type(),
                            arg.go_type()
                        ));
                    }
                    false
                }
            }
        } else {
            match k1 {
                Kind::Bool => matches!((arg1, arg), (Value::Bool(a), Value::Bool(b)) if a == b),
                Kind::Float => float_of(arg1) == float_of(arg),
                Kind::Int => int_of(arg1) == int_of(arg),
                Kind::String => arg1.as_str() == arg.as_str(),
                Kind::Uint => uint_of(arg1) == uint_of(arg),
                Kind::Invalid => {
                    let n1 = !is_valid(arg1);
                    let n2 = !is_valid(arg);
                    // canCompare: same kind or one invalid.
                    let same_kind = std::mem::discriminant(arg1) == std::mem::discriminant(arg);
                    if !(n1 || n2 || same_kind) {
                        return Err(format!(
                            "non-comparable types {}: {}, {}: {}",
                            gofmt::sprintf("%s", std::slice::from_ref(arg1)),
                            arg1.go_type(),
                            arg.go_type(),
                            gofmt::to_string(arg)
                        ));
                    }
                    if n1 || n2 {
                        n1 == n2
                    } else {
                        match (arg1, arg) {
                            (Value::Time(a), Value::Time(b)) => a == b,
                            (Value::Version(a), Value::Version(b)) => Arc::ptr_eq(a, b),
                            _ => {
                                return Err(format!(
                                    "non-comparable type {}: {}",
                                    gofmt::sprintf("%s", std::slice::from_ref(arg)),
                                    arg.go_type()
                                ))
                            }
                        }
                    }
                }
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn lt(a: &Value, b: &Value) -> Result<bool, FuncError> {
    let k1 = basic_kind(a);
    if k1 == Kind::Invalid {
        return Err("invalid type for comparison".into());
    }
    let k2 = basic_kind(b);
    if k2 == Kind::Invalid {
        return Err("invalid type for comparison".into());
    }
    if k1 != k2 {
        return match (k1, k2) {
            (Kind::Int, Kind::Uint) => Ok(int_of(a) < 0 || (int_of(a) as u64) < uint_of(b)),
            (Kind::Uint, Kind::Int) => Ok(int_of(b) >= 0 && uint_of(a) < int_of(b) as u64),
            _ => Err(format!(
                "incompatible types for comparison: {} and {}",
                a.go_type(),
                b.go_type()
            )),
        };
    }
    Ok(match k1 {
        Kind::Bool => return Err("invalid type for comparison".into()),
        Kind::Float => float_of(a) < float_of(b),
        Kind::Int => int_of(a) < int_of(b),
        Kind::String => a.as_str() < b.as_str(),
        Kind::Uint => uint_of(a) < uint_of(b),
        Kind::Invalid => false,
    })
}

fn le(a: &Value, b: &Value) -> Result<bool, FuncError> {
    let l = lt(a, b)?;
    if l {
        return Ok(true);
    }
    eq(a, std::slice::from_ref(b))
}
