//! Helm's `--set` syntax (`pkg/strvals`): `a.b=1,c[0].d=x,e={1,2}`, with
//! `\` escaping the next character, values typed as Helm types them
//! (`true`/`false`/`null` in any case, integers without a leading zero as
//! `int64`, everything else a string), and the `--set-string`,
//! `--set-json`, `--set-file` and `--set-literal` variants.
//!
//! ```
//! use flotilla_helm::strvals;
//! let v = strvals::parse(r"name=web,ports[1]=80,tags={a,b},dotted\.key=x,on=TRUE").unwrap();
//! assert_eq!(
//!     flotilla_template::to_go_json(&v).unwrap(),
//!     r#"{"dotted.key":"x","name":"web","on":true,"ports":[null,80],"tags":["a","b"]}"#,
//! );
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use flotilla_template::{Map, Value};

/// The largest list index accepted (`strvals.MaxIndex`).
pub const MAX_INDEX: i64 = 65536;
/// The deepest `a.b.c` nesting accepted (`strvals.MaxNestedNameLevel`).
pub const MAX_NESTED_NAME_LEVEL: usize = 30;

/// A `--set` line that does not parse; the text is Helm's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StrvalsError(pub String);

enum E {
    Eof,
    NotList,
    Msg(String),
}

impl From<String> for E {
    fn from(s: String) -> E {
        E::Msg(s)
    }
}

fn finish(r: Result<(), E>) -> Result<(), StrvalsError> {
    match r {
        Ok(()) | Err(E::Eof) => Ok(()),
        Err(E::NotList) => Err(StrvalsError("not a list".into())),
        Err(E::Msg(m)) => Err(StrvalsError(m)),
    }
}

fn msg(e: E) -> String {
    match e {
        E::Eof => "EOF".into(),
        E::NotList => "not a list".into(),
        E::Msg(m) => m,
    }
}

/// How the parser turns the runes of a value into a value.
type Reader<'a> = &'a dyn Fn(&str) -> Result<Value, String>;

enum Mode<'a> {
    Typed(bool),
    Json,
    File(Reader<'a>),
}

struct Parser<'a> {
    sc: Vec<char>,
    pos: usize,
    mode: Mode<'a>,
    literal: bool,
}

fn go_quote(s: &str) -> String {
    flotilla_template::sprintf("%q", &[Value::str(s)])
}

fn go_type_name(v: &Value) -> &'static str {
    match v {
        Value::Nil | Value::Invalid => "nil",
        other => other.go_type(),
    }
}

fn conversion(v: &Value, want: &str) -> String {
    format!(
        "unable to parse key: interface conversion: interface {{}} is {}, not {}",
        go_type_name(v),
        want
    )
}

fn set(data: &Arc<Map>, key: &str, v: Value) {
    if !key.is_empty() {
        data.insert(key.to_string(), v);
    }
}

fn set_index(mut list: Vec<Value>, index: i64, v: Value) -> Result<Vec<Value>, String> {
    if index < 0 {
        return Err(format!("negative {index} index not allowed"));
    }
    if index > MAX_INDEX {
        return Err(format!(
            "index of {index} is greater than maximum supported index of {MAX_INDEX}"
        ));
    }
    let i = index as usize;
    if list.len() <= i {
        list.resize(i + 1, Value::Nil);
    }
    list[i] = v;
    Ok(list)
}

fn list_items(v: &Value) -> Option<Vec<Value>> {
    match v {
        Value::List(l) if l.elem == flotilla_template::ElemType::Any => Some(l.items.clone()),
        _ => None,
    }
}

/// `typedVal`: how `--set` types a value.
pub fn typed_val(s: &str, force_string: bool) -> Value {
    if force_string {
        return Value::str(s);
    }
    if s.eq_ignore_ascii_case("true") {
        return Value::Bool(true);
    }
    if s.eq_ignore_ascii_case("false") {
        return Value::Bool(false);
    }
    if s.eq_ignore_ascii_case("null") {
        return Value::Nil;
    }
    if s == "0" {
        return Value::Int64(0);
    }
    if !s.is_empty() && !s.starts_with('0') {
        if let Some(i) = go_parse_int(s) {
            return Value::Int64(i);
        }
    }
    Value::str(s)
}

/// `strconv.ParseInt(s, 10, 64)`.
fn go_parse_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

/// `strconv.Atoi` with Go's error text.
fn go_atoi(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "strconv.Atoi: parsing {}: invalid syntax",
            go_quote(s)
        ));
    }
    s.parse::<i64>()
        .map_err(|_| format!("strconv.Atoi: parsing {}: value out of range", go_quote(s)))
}

impl<'a> Parser<'a> {
    fn new(s: &str, mode: Mode<'a>, literal: bool) -> Parser<'a> {
        Parser {
            sc: s.chars().collect(),
            pos: 0,
            mode,
            literal,
        }
    }

    fn read(&mut self) -> Option<char> {
        let c = self.sc.get(self.pos).copied();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn unread(&mut self) {
        self.pos = self.pos.saturating_sub(1);
    }

    /// `runesUntil` (or `runesUntilLiteral`): runes up to one of `stop`,
    /// `\` escaping the next (not in literal mode). `None` for the last rune
    /// means the input ended.
    fn until(&mut self, stop: &[char]) -> (String, Option<char>) {
        let mut v = String::new();
        loop {
            match self.read() {
                None => return (v, None),
                Some(r) if stop.contains(&r) => return (v, Some(r)),
                Some('\\') if !self.literal => match self.read() {
                    None => return (v, None),
                    Some(n) => v.push(n),
                },
                Some(r) => v.push(r),
            }
        }
    }

    fn reader(&self, rs: &str) -> Result<Value, String> {
        match &self.mode {
            Mode::Typed(st) => Ok(typed_val(rs, *st)),
            Mode::Json => Ok(Value::str(rs)),
            Mode::File(r) => r(rs),
        }
    }

    fn parse(&mut self, data: &Arc<Map>) -> Result<(), E> {
        loop {
            self.key(data, 0)?;
        }
    }

    fn key(&mut self, data: &Arc<Map>, level: usize) -> Result<(), E> {
        let stop: &[char] = if self.literal {
            &['=', '[', '.']
        } else {
            &['=', '[', ',', '.']
        };
        let (k, last) = self.until(stop);
        match last {
            None => {
                if k.is_empty() {
                    Err(E::Eof)
                } else {
                    Err(E::Msg(format!("key {} has no value", go_quote(&k))))
                }
            }
            Some('[') => {
                let i = self
                    .key_index()
                    .map_err(|e| E::Msg(format!("error parsing index: {}", msg(e))))?;
                let list = match data.get(&k) {
                    None => Vec::new(),
                    Some(v) => {
                        list_items(&v).ok_or_else(|| E::Msg(conversion(&v, "[]interface {}")))?
                    }
                };
                let (list, err) = self.list_item(list, i, level);
                set(data, &k, Value::list(list));
                err
            }
            Some('=') => self.key_value(data, &k),
            Some(',') => {
                set(data, &k, Value::str(""));
                Err(E::Msg(format!(
                    "key {} has no value (cannot end with ,)",
                    go_quote(&k)
                )))
            }
            Some(_) => {
                let level = level + 1;
                if level > MAX_NESTED_NAME_LEVEL {
                    return Err(E::Msg(format!("value name nested level is greater than maximum supported nested level of {MAX_NESTED_NAME_LEVEL}")));
                }
                let inner = match data.get(&k) {
                    None => Arc::new(Map::new(false, BTreeMap::new())),
                    Some(Value::Map(m)) if !m.string_values => m,
                    Some(v) => return Err(E::Msg(conversion(&v, "map[string]interface {}"))),
                };
                let e = self.key(&inner, level);
                if e.is_ok() && inner.is_empty() {
                    return Err(E::Msg(format!("key map {} has no value", go_quote(&k))));
                }
                if !inner.is_empty() {
                    set(data, &k, Value::Map(inner));
                }
                e
            }
        }
    }

    fn key_value(&mut self, data: &Arc<Map>, k: &str) -> Result<(), E> {
        if self.literal {
            let (v, _) = self.until(&[]);
            set(data, k, Value::str(v));
            return Ok(());
        }
        if matches!(self.mode, Mode::Json) {
            if self.empty_val() {
                set(data, k, Value::Nil);
                return Ok(());
            }
            let v = self.json_value()?;
            set(data, k, v);
            self.empty_val();
            return Ok(());
        }
        match self.val_list() {
            Ok(vl) => {
                set(data, k, Value::list(vl));
                Ok(())
            }
            Err(E::Eof) => {
                set(data, k, Value::str(""));
                Err(E::Eof)
            }
            Err(E::NotList) => {
                let (rs, _) = self.until(&[',']);
                let v = self.reader(&rs);
                match v {
                    Ok(v) => {
                        set(data, k, v);
                        Ok(())
                    }
                    Err(e) => {
                        set(data, k, Value::Nil);
                        Err(E::Msg(e))
                    }
                }
            }
            Err(e) => Err(e),
        }
    }

    fn key_index(&mut self) -> Result<i64, E> {
        let (v, last) = self.until(&[']']);
        if last.is_none() {
            return Err(E::Eof);
        }
        go_atoi(&v).map_err(E::Msg)
    }

    fn list_item(&mut self, list: Vec<Value>, i: i64, level: usize) -> (Vec<Value>, Result<(), E>) {
        match self.list_item_inner(list.clone(), i, level) {
            Ok(l) => (l, Ok(())),
            Err((l, e)) => (l.unwrap_or(list), Err(e)),
        }
    }

    #[allow(clippy::type_complexity)]
    fn list_item_inner(
        &mut self,
        mut list: Vec<Value>,
        i: i64,
        level: usize,
    ) -> Result<Vec<Value>, (Option<Vec<Value>>, E)> {
        let fail = |e: E| (None, e);
        if i < 0 {
            return Err(fail(E::Msg(format!("negative {i} index not allowed"))));
        }
        let (k, last) = self.until(&['[', '.', '=']);
        if !k.is_empty() {
            return Err(fail(E::Msg(format!(
                "unexpected data at end of array index: {}",
                go_quote(&k)
            ))));
        }
        match last {
            None => Err(fail(E::Eof)),
            Some('=') => {
                if self.literal {
                    let (v, _) = self.until(&[]);
                    return set_index(list, i, Value::str(v)).map_err(|e| fail(E::Msg(e)));
                }
                if matches!(self.mode, Mode::Json) {
                    if self.empty_val() {
                        return set_index(list, i, Value::Nil).map_err(|e| fail(E::Msg(e)));
                    }
                    let v = self.json_value().map_err(fail)?;
                    let l = set_index(list, i, v).map_err(|e| fail(E::Msg(e)))?;
                    self.empty_val();
                    return Ok(l);
                }
                match self.val_list() {
                    Ok(vl) => set_index(list, i, Value::list(vl)).map_err(|e| fail(E::Msg(e))),
                    Err(E::Eof) => set_index(list, i, Value::str("")).map_err(|e| fail(E::Msg(e))),
                    Err(E::NotList) => {
                        let (rs, _) = self.until(&[',']);
                        let v = self.reader(&rs).map_err(|e| fail(E::Msg(e)))?;
                        set_index(list, i, v).map_err(|e| fail(E::Msg(e)))
                    }
                    Err(e) => Err(fail(e)),
                }
            }
            Some('[') => {
                let next = self
                    .key_index()
                    .map_err(|e| fail(E::Msg(format!("error parsing index: {}", msg(e)))))?;
                let mut crt = Vec::new();
                if (list.len() as i64) > i {
                    let existed = &list[i as usize];
                    if !existed.is_nil() {
                        crt = list_items(existed)
                            .ok_or_else(|| fail(E::Msg(conversion(existed, "[]interface {}"))))?;
                    }
                }
                let (list2, err) = self.list_item(crt, next, level);
                err.map_err(fail)?;
                set_index(list, i, Value::list(list2)).map_err(|e| fail(E::Msg(e)))
            }
            Some(_) => {
                let mut inner = Arc::new(Map::new(false, BTreeMap::new()));
                if (list.len() as i64) > i {
                    match &list[i as usize] {
                        Value::Map(m) if !m.string_values => inner = m.clone(),
                        _ => list[i as usize] = Value::Map(inner.clone()),
                    }
                }
                if let Err(e) = self.key(&inner, level) {
                    return Err((Some(list), e));
                }
                set_index(list, i, Value::Map(inner)).map_err(|e| fail(E::Msg(e)))
            }
        }
    }

    /// `emptyVal`: skips blanks; true at a comma (consumed) or the end.
    fn empty_val(&mut self) -> bool {
        loop {
            match self.read() {
                None => return true,
                Some(',') => return true,
                Some(c) if c.is_whitespace() => continue,
                Some(_) => {
                    self.unread();
                    return false;
                }
            }
        }
    }

    /// One JSON value from the rest of the input (Go's `json.Decoder`).
    fn json_value(&mut self) -> Result<Value, E> {
        let rest: String = self.sc[self.pos..].iter().collect();
        let mut it = serde_json::Deserializer::from_str(&rest).into_iter::<serde_json::Value>();
        match it.next() {
            Some(Ok(v)) => {
                let used = it.byte_offset();
                self.pos += rest[..used].chars().count();
                Ok(Value::from(v))
            }
            Some(Err(e)) => Err(E::Msg(e.to_string())),
            None => Err(E::Msg("EOF".into())),
        }
    }

    /// `valList`: `{a,b}`; `NotList` if the value does not start with `{`.
    fn val_list(&mut self) -> Result<Vec<Value>, E> {
        match self.read() {
            None => return Err(E::Eof),
            Some('{') => {}
            Some(_) => {
                self.unread();
                return Err(E::NotList);
            }
        }
        let mut list = Vec::new();
        loop {
            let (rs, last) = self.until(&[',', '}']);
            match last {
                None => return Err(E::Msg("list must terminate with '}'".into())),
                Some('}') => {
                    if let Some(r) = self.read() {
                        if r != ',' {
                            self.unread();
                        }
                    }
                    list.push(self.reader(&rs)?);
                    return Ok(list);
                }
                Some(_) => list.push(self.reader(&rs)?),
            }
        }
    }
}

fn dest_map(v: &Value) -> Result<Arc<Map>, StrvalsError> {
    match v {
        Value::Map(m) => Ok(m.clone()),
        _ => Err(StrvalsError("destination is not a map".into())),
    }
}

/// `strvals.Parse`: a `--set` line into a new map.
pub fn parse(s: &str) -> Result<Value, StrvalsError> {
    let m = Arc::new(Map::new(false, BTreeMap::new()));
    parse_into(s, &m)?;
    Ok(Value::Map(m))
}

/// `strvals.ParseString`: a `--set-string` line into a new map.
pub fn parse_string(s: &str) -> Result<Value, StrvalsError> {
    let m = Arc::new(Map::new(false, BTreeMap::new()));
    parse_into_string(s, &m)?;
    Ok(Value::Map(m))
}

/// `strvals.ParseLiteral`: a `--set-literal` line into a new map.
pub fn parse_literal(s: &str) -> Result<Value, StrvalsError> {
    let m = Arc::new(Map::new(false, BTreeMap::new()));
    parse_literal_into(s, &m)?;
    Ok(Value::Map(m))
}

/// `strvals.ParseJSON` into a new map.
pub fn parse_json(s: &str) -> Result<Value, StrvalsError> {
    let m = Arc::new(Map::new(false, BTreeMap::new()));
    parse_json_into(s, &m)?;
    Ok(Value::Map(m))
}

/// `strvals.ParseInto`: a `--set` line merged into `dest`.
pub fn parse_into(s: &str, dest: &Arc<Map>) -> Result<(), StrvalsError> {
    finish(Parser::new(s, Mode::Typed(false), false).parse(dest))
}

/// `strvals.ParseIntoString`: a `--set-string` line merged into `dest`.
pub fn parse_into_string(s: &str, dest: &Arc<Map>) -> Result<(), StrvalsError> {
    finish(Parser::new(s, Mode::Typed(true), false).parse(dest))
}

/// `strvals.ParseJSON`: a `--set-json` line (`key=JSON,...`; empty is
/// `null`) merged into `dest`.
pub fn parse_json_into(s: &str, dest: &Arc<Map>) -> Result<(), StrvalsError> {
    finish(Parser::new(s, Mode::Json, false).parse(dest))
}

/// `strvals.ParseIntoFile`: a `--set-file` line; `reader` turns each
/// value (a path) into the value set.
pub fn parse_file_into(
    s: &str,
    dest: &Arc<Map>,
    reader: &dyn Fn(&str) -> Result<Value, String>,
) -> Result<(), StrvalsError> {
    finish(Parser::new(s, Mode::File(reader), false).parse(dest))
}

/// `strvals.ParseLiteralInto`: a `--set-literal` line (`key=VALUE`, the
/// value taken verbatim to the end, commas included) merged into `dest`.
pub fn parse_literal_into(s: &str, dest: &Arc<Map>) -> Result<(), StrvalsError> {
    finish(Parser::new(s, Mode::Typed(true), true).parse(dest))
}

/// [`parse_into`] with a [`Value`] map as destination.
pub fn parse_into_value(s: &str, dest: &Value) -> Result<(), StrvalsError> {
    parse_into(s, &dest_map(dest)?)
}
