//! A YAML reader that keeps positions, resolves scalars as go-yaml does,
//! expands aliases and merge keys (as kyaml's `DeAnchor` does) with a bound
//! on the work, and refuses non-breaking spaces used as indentation.
//!
//! Tokens come from `yaml-rust2`'s event parser; everything above it (tree
//! building, resolution, limits, error messages) is ours.

use base64::Engine as _;
use serde_json::{Map, Value};
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::number::go_format_float32;
use crate::resolve::{resolve_plain, resolved_to_value, Resolved, Resolver};

/// Bounds on what one document may cost to read.
#[derive(Debug, Clone, Copy)]
pub struct ParseLimits {
    /// Most nodes that alias expansion may add to one document.
    pub max_alias_nodes: usize,
    /// Deepest nesting of collections.
    pub max_depth: usize,
}

impl Default for ParseLimits {
    /// 100,000 alias-expanded nodes, 256 levels of nesting.
    fn default() -> Self {
        ParseLimits {
            max_alias_nodes: 100_000,
            max_depth: 256,
        }
    }
}

/// A YAML error with a 1-based line and column relative to the parsed text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct YamlError {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// What is wrong.
    pub message: String,
}

/// A node with its position (1-based line and column).
#[derive(Debug, Clone, PartialEq)]
pub struct PNode {
    /// The content.
    pub kind: PKind,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub col: u32,
}

/// Content of a [`PNode`].
#[derive(Debug, Clone, PartialEq)]
pub enum PKind {
    /// A scalar, already resolved to its JSON value.
    Scalar(Value),
    /// A sequence.
    Seq(Vec<PNode>),
    /// A mapping with string keys, in document order.
    Map(Vec<(String, PNode)>),
}

impl PNode {
    /// Converts to a JSON value (consuming the tree).
    pub fn into_value(self) -> Value {
        match self.kind {
            PKind::Scalar(v) => v,
            PKind::Seq(items) => Value::Array(items.into_iter().map(PNode::into_value).collect()),
            PKind::Map(entries) => {
                let mut m = Map::with_capacity(entries.len());
                for (k, v) in entries {
                    m.insert(k, v.into_value());
                }
                Value::Object(m)
            }
        }
    }

    /// The value of a mapping entry.
    pub fn get(&self, key: &str) -> Option<&PNode> {
        match &self.kind {
            PKind::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The items of a sequence (empty for anything else).
    pub fn items(&self) -> &[PNode] {
        match &self.kind {
            PKind::Seq(items) => items,
            _ => &[],
        }
    }

    fn count(&self) -> usize {
        match &self.kind {
            PKind::Scalar(_) => 1,
            PKind::Seq(items) => 1 + items.iter().map(PNode::count).sum::<usize>(),
            PKind::Map(entries) => 1 + entries.iter().map(|(_, v)| 1 + v.count()).sum::<usize>(),
        }
    }
}

/// Options for [`parse_first_document`].
#[derive(Debug, Clone, Copy)]
pub struct ParseOptions {
    /// Scalar resolution rules.
    pub resolver: Resolver,
    /// Work bounds.
    pub limits: ParseLimits,
    /// Whether mapping keys that are not strings are refused (go-yaml v3
    /// decoding into `map[string]interface{}`) or turned into strings
    /// (sigs.k8s.io/yaml's YAML-to-JSON conversion).
    pub strict_keys: bool,
}

impl ParseOptions {
    /// How kyaml reads resources and patches.
    pub fn resources() -> Self {
        ParseOptions {
            resolver: Resolver::V3,
            limits: ParseLimits::default(),
            strict_keys: true,
        }
    }

    /// How sigs.k8s.io/yaml reads kustomization files and JSON patches.
    pub fn config() -> Self {
        ParseOptions {
            resolver: Resolver::V2,
            limits: ParseLimits::default(),
            strict_keys: false,
        }
    }
}

/// Finds a non-breaking space (U+00A0) used as indentation: in the run of
/// blanks that starts a line. Returns its 1-based line and column.
///
/// ```
/// use flotilla_yaml::find_nbsp_indentation;
///
/// assert_eq!(find_nbsp_indentation("a:\n\u{a0} b: 1\n"), Some((2, 1)));
/// assert_eq!(find_nbsp_indentation("a: \u{a0}x\n"), None);
/// ```
pub fn find_nbsp_indentation(text: &str) -> Option<(u32, u32)> {
    if !text.contains('\u{a0}') {
        return None;
    }
    for (i, line) in text.split('\n').enumerate() {
        for (col, c) in line.chars().enumerate() {
            match c {
                ' ' | '\t' => continue,
                '\u{a0}' => return Some((i as u32 + 1, col as u32 + 1)),
                _ => break,
            }
        }
    }
    None
}

enum Frame {
    Seq {
        items: Vec<PNode>,
        anchor: usize,
        line: u32,
        col: u32,
    },
    Map {
        entries: Vec<(String, PNode)>,
        merges: Vec<PNode>,
        key: Option<KeySlot>,
        anchor: usize,
        line: u32,
        col: u32,
    },
}

enum KeySlot {
    Key(String),
    Merge,
}

fn err(mark: &Marker, message: impl Into<String>) -> YamlError {
    YamlError {
        line: mark.line() as u32,
        column: mark.col() as u32 + 1,
        message: message.into(),
    }
}

fn short_tag(tag: &Tag) -> Option<&str> {
    if tag.handle == "tag:yaml.org,2002:" || tag.handle == "!!" {
        Some(tag.suffix.as_str())
    } else {
        None
    }
}

fn scalar_value(
    text: String,
    style: TScalarStyle,
    tag: Option<&Tag>,
    opts: &ParseOptions,
    mark: &Marker,
) -> Result<(Value, bool), YamlError> {
    // Returns the value and whether it is the merge key `<<`.
    let plain = matches!(style, TScalarStyle::Plain);
    let v2 = opts.resolver == Resolver::V2;
    let non_finite = |t: &str| {
        if v2 {
            // sigs.k8s.io/yaml's JSON step, in Go's words.
            let go = match resolve_plain(t, Resolver::V2) {
                Resolved::Float(f) if f.is_nan() => "NaN",
                Resolved::Float(f) if f < 0.0 => "-Inf",
                _ => "+Inf",
            };
            return err(mark, format!("json: unsupported value: {go}"));
        }
        err(
            mark,
            format!("value {t:?} is not a finite number; it cannot be rendered as JSON"),
        )
    };
    // go-yaml v2 decodes timestamps into `interface{}` as the text written
    // (for backward compatibility); v3 makes them times.
    let keep_timestamp_text = |r: Resolved| match r {
        Resolved::Timestamp(_) if v2 => Resolved::Str,
        r => r,
    };
    match tag {
        None => {
            if !plain {
                return Ok((Value::String(text), false));
            }
            let r = keep_timestamp_text(resolve_plain(&text, opts.resolver));
            if r == Resolved::Merge {
                return Ok((Value::String(text), true));
            }
            let v = resolved_to_value(r, &text).ok_or_else(|| non_finite(&text))?;
            Ok((v, false))
        }
        Some(t) => match short_tag(t) {
            Some("str") => Ok((Value::String(text), false)),
            Some("binary") => {
                let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(clean.as_bytes())
                    .map_err(|e| err(mark, format!("invalid !!binary value: {e}")))?;
                Ok((
                    Value::String(String::from_utf8_lossy(&bytes).into_owned()),
                    false,
                ))
            }
            Some(kind @ ("int" | "float" | "bool" | "null" | "timestamp")) => {
                let r = resolve_plain(&text, opts.resolver);
                let ok = matches!(
                    (kind, &r),
                    ("int", Resolved::Int(_) | Resolved::UInt(_))
                        | (
                            "float",
                            Resolved::Float(_) | Resolved::Int(_) | Resolved::UInt(_)
                        )
                        | ("bool", Resolved::Bool(_))
                        | ("null", Resolved::Null)
                        | ("timestamp", Resolved::Timestamp(_))
                );
                if !ok {
                    return Err(err(mark, format!("cannot decode {text:?} as a !!{kind}")));
                }
                let r = match (kind, r) {
                    ("float", Resolved::Int(i)) => Resolved::Float(i as f64),
                    ("float", Resolved::UInt(u)) => Resolved::Float(u as f64),
                    (_, r) => keep_timestamp_text(r),
                };
                let v = resolved_to_value(r, &text).ok_or_else(|| non_finite(&text))?;
                Ok((v, false))
            }
            Some("merge") => Ok((Value::String(text), true)),
            // Any other tag (`!`, `!foo`, `!!seq` on a scalar, ...): go-yaml
            // keeps the text as a string.
            _ => Ok((Value::String(text), false)),
        },
    }
}

fn key_string(
    node: &PNode,
    opts: &ParseOptions,
    mark_line: u32,
    mark_col: u32,
) -> Result<String, YamlError> {
    match &node.kind {
        PKind::Scalar(Value::String(s)) => Ok(s.clone()),
        PKind::Scalar(v) => {
            let text = match v {
                Value::Null => "null".to_string(),
                // sigs.k8s.io/yaml spells float keys as float32 `%g`.
                Value::Number(n) if n.is_f64() => go_format_float32(n.as_f64().unwrap_or(0.0)),
                other => other.to_string(),
            };
            if !opts.strict_keys && v.is_null() {
                return Err(YamlError {
                    line: mark_line,
                    column: mark_col,
                    message: "unsupported map key of type: %!s(<nil>) (a null mapping key \
                              cannot be converted to JSON)"
                        .into(),
                });
            }
            if opts.strict_keys {
                Err(YamlError {
                    line: mark_line,
                    column: mark_col,
                    message: format!(
                        "mapping key {text} is not a string (quote it); kustomize cannot render objects with non-string keys"
                    ),
                })
            } else {
                Ok(text)
            }
        }
        _ => Err(YamlError {
            line: mark_line,
            column: mark_col,
            message: "mapping keys must be scalars".into(),
        }),
    }
}

/// The mappings a `<<` value names, in order.
fn merge_sources(merges: Vec<PNode>) -> Result<Vec<Vec<(String, PNode)>>, YamlError> {
    let mut sources = Vec::new();
    for m in merges {
        match m.kind {
            PKind::Map(e) => sources.push(e),
            PKind::Seq(items) => {
                for item in items {
                    match item.kind {
                        PKind::Map(e) => sources.push(e),
                        _ => {
                            return Err(YamlError {
                                line: item.line,
                                column: item.col,
                                message: "map merge requires map or sequence of maps as the value"
                                    .into(),
                            })
                        }
                    }
                }
            }
            _ => {
                return Err(YamlError {
                    line: m.line,
                    column: m.col,
                    message: "map merge requires map or sequence of maps as the value".into(),
                })
            }
        }
    }
    Ok(sources)
}

/// go-yaml v3's (and kyaml's) merge: applied after the mapping's own keys;
/// explicit keys win, then earlier sources.
fn apply_merges(entries: &mut Vec<(String, PNode)>, merges: Vec<PNode>) -> Result<(), YamlError> {
    for source in merge_sources(merges)? {
        for (k, v) in source {
            if !entries.iter().any(|(ek, _)| *ek == k) {
                entries.push((k, v));
            }
        }
    }
    Ok(())
}

/// Sets a key, replacing an earlier value in place (go-yaml v2 decoding
/// into a map: the last value wins).
fn set_entry(entries: &mut Vec<(String, PNode)>, k: String, v: PNode) {
    match entries.iter_mut().find(|(ek, _)| *ek == k) {
        Some(e) => e.1 = v,
        None => entries.push((k, v)),
    }
}

/// go-yaml v2's merge: applied where `<<` stands, overwriting the keys
/// before it; among several sources the earlier wins.
fn merge_now(entries: &mut Vec<(String, PNode)>, merge: PNode) -> Result<(), YamlError> {
    for source in merge_sources(vec![merge])?.into_iter().rev() {
        for (k, v) in source {
            set_entry(entries, k, v);
        }
    }
    Ok(())
}

/// Parses the first YAML document of `text`. `Ok(None)` when there is none,
/// or when it is empty or `null` (comment-only documents included).
///
/// ```
/// use flotilla_yaml::{parse_first_document, ParseOptions};
///
/// let doc = parse_first_document("a: &x [1, 2]\nb: *x\n", &ParseOptions::resources()).unwrap().unwrap();
/// assert_eq!(doc.into_value(), serde_json::json!({"a": [1, 2], "b": [1, 2]}));
/// assert!(parse_first_document("# only a comment\n", &ParseOptions::resources()).unwrap().is_none());
/// ```
pub fn parse_first_document(text: &str, opts: &ParseOptions) -> Result<Option<PNode>, YamlError> {
    if let Some((line, column)) = find_nbsp_indentation(text) {
        return Err(YamlError {
            line,
            column,
            message: "a non-breaking space (U+00A0) is used as indentation; YAML indentation \
                      must be plain spaces (this often comes from copying YAML out of a web page)"
                .into(),
        });
    }
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: std::collections::HashMap<usize, (PNode, usize)> =
        std::collections::HashMap::new();
    let mut alias_budget = opts.limits.max_alias_nodes;
    let mut in_doc = false;
    let mut root: Option<PNode> = None;

    loop {
        let (event, mark) = parser.next_token().map_err(|e| YamlError {
            line: e.marker().line() as u32,
            column: e.marker().col() as u32 + 1,
            message: e.info().to_string(),
        })?;
        let line = mark.line() as u32;
        let col = mark.col() as u32 + 1;
        let mut finished: Option<(PNode, usize, bool)> = None; // node, anchor, is-merge-key
        match event {
            Event::StreamStart | Event::Nothing => continue,
            Event::StreamEnd => break,
            Event::DocumentStart => {
                in_doc = true;
                continue;
            }
            Event::DocumentEnd => break,
            Event::Alias(id) => {
                let Some((node, count)) = anchors.get(&id) else {
                    return Err(err(&mark, "unknown anchor"));
                };
                if *count > alias_budget {
                    return Err(err(
                        &mark,
                        format!(
                            "alias expansion exceeds the limit of {} nodes (a \"billion laughs\" document?)",
                            opts.limits.max_alias_nodes
                        ),
                    ));
                }
                alias_budget -= *count;
                finished = Some((node.clone(), 0, false));
            }
            Event::Scalar(text, style, anchor, tag) => {
                let (value, is_merge) = scalar_value(text, style, tag.as_ref(), opts, &mark)?;
                finished = Some((
                    PNode {
                        kind: PKind::Scalar(value),
                        line,
                        col,
                    },
                    anchor,
                    is_merge,
                ));
            }
            Event::SequenceStart(anchor, _) => {
                if stack.len() >= opts.limits.max_depth {
                    return Err(err(
                        &mark,
                        format!("nesting deeper than {} levels", opts.limits.max_depth),
                    ));
                }
                stack.push(Frame::Seq {
                    items: Vec::new(),
                    anchor,
                    line,
                    col,
                });
            }
            Event::MappingStart(anchor, _) => {
                if stack.len() >= opts.limits.max_depth {
                    return Err(err(
                        &mark,
                        format!("nesting deeper than {} levels", opts.limits.max_depth),
                    ));
                }
                stack.push(Frame::Map {
                    entries: Vec::new(),
                    merges: Vec::new(),
                    key: None,
                    anchor,
                    line,
                    col,
                });
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq {
                    items,
                    anchor,
                    line,
                    col,
                }) => {
                    finished = Some((
                        PNode {
                            kind: PKind::Seq(items),
                            line,
                            col,
                        },
                        anchor,
                        false,
                    ))
                }
                _ => return Err(err(&mark, "unbalanced sequence end")),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map {
                    mut entries,
                    merges,
                    anchor,
                    line,
                    col,
                    ..
                }) => {
                    if !merges.is_empty() {
                        apply_merges(&mut entries, merges)?;
                    }
                    finished = Some((
                        PNode {
                            kind: PKind::Map(entries),
                            line,
                            col,
                        },
                        anchor,
                        false,
                    ))
                }
                _ => return Err(err(&mark, "unbalanced mapping end")),
            },
        }
        let Some((node, anchor, is_merge)) = finished else {
            continue;
        };
        if anchor != 0 {
            let count = node.count();
            anchors.insert(anchor, (node.clone(), count));
        }
        match stack.last_mut() {
            None => {
                root = Some(node);
                if !in_doc {
                    in_doc = true;
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                merges,
                key,
                ..
            }) => match key.take() {
                None => {
                    if is_merge {
                        *key = Some(KeySlot::Merge);
                    } else {
                        let k = key_string(&node, opts, node.line, node.col)?;
                        if let Some(pos) = entries.iter().position(|(ek, _)| *ek == k) {
                            if opts.strict_keys {
                                return Err(YamlError {
                                    line: node.line,
                                    column: node.col,
                                    message: format!(
                                        "mapping key {k:?} already defined at line {}",
                                        entries[pos].1.line
                                    ),
                                });
                            }
                        }
                        *key = Some(KeySlot::Key(k));
                    }
                }
                Some(KeySlot::Merge) if opts.resolver == Resolver::V2 => merge_now(entries, node)?,
                Some(KeySlot::Merge) => merges.push(node),
                Some(KeySlot::Key(k)) if opts.strict_keys => entries.push((k, node)),
                Some(KeySlot::Key(k)) => set_entry(entries, k, node),
            },
        }
    }
    Ok(match root {
        Some(PNode {
            kind: PKind::Scalar(Value::Null),
            ..
        }) => None,
        other => other,
    })
}

/// Reads the first document of `text` as `sigs.k8s.io/yaml.Unmarshal` into
/// `interface{}` does (how Helm reads values files and `fromYaml` reads
/// text): go-yaml v2 (YAML 1.1 scalars: `yes`/`on` are booleans, `0777` is
/// octal, timestamps stay text, merge keys as v2 applies them), then JSON:
/// every number becomes a float64 and every key a string. An empty
/// document is `null`.
///
/// ```
/// use serde_json::json;
///
/// let v = flotilla_yaml::unmarshal("a: 010\nb: on\nc: 2001-12-14\n1.50: x\n").unwrap();
/// assert_eq!(v, json!({"a": 8.0, "b": true, "c": "2001-12-14", "1.5": "x"}));
/// assert_eq!(flotilla_yaml::unmarshal("# nothing\n").unwrap(), json!(null));
/// ```
pub fn unmarshal(text: &str) -> Result<Value, YamlError> {
    unmarshal_with(text, ParseLimits::default())
}

/// [`unmarshal`] with explicit bounds.
pub fn unmarshal_with(text: &str, limits: ParseLimits) -> Result<Value, YamlError> {
    let opts = ParseOptions {
        limits,
        ..ParseOptions::config()
    };
    Ok(match parse_first_document(text, &opts)? {
        Some(node) => json_numbers(node.into_value()),
        None => Value::Null,
    })
}

/// Numbers as Go's JSON decoder makes them for `interface{}`: float64.
fn json_numbers(v: Value) -> Value {
    match v {
        Value::Number(n) if !n.is_f64() => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or(Value::Number(n)),
        Value::Array(items) => Value::Array(items.into_iter().map(json_numbers).collect()),
        Value::Object(m) => {
            Value::Object(m.into_iter().map(|(k, x)| (k, json_numbers(x))).collect())
        }
        other => other,
    }
}

/// Splits a multi-document stream the way kyaml does: on lines starting
/// with `---` (after a newline), which may only be followed by a comment.
/// Returns each document's text and its 0-based starting line.
pub fn split_documents(text: &str) -> Result<Vec<(&str, u32)>, YamlError> {
    let mut docs = Vec::new();
    let bytes = text.as_bytes();
    let mut prev = 0usize;
    let mut prev_line = 0u32;
    let mut line = 0u32;
    let mut i = 0usize;
    while i < bytes.len() {
        if bytes[i] == b'\n' {
            line += 1;
            if bytes[i + 1..].starts_with(b"---") {
                // separator runs to the next newline (which must exist)
                let start = i;
                if let Some(nl) = bytes[i + 1..].iter().position(|&b| b == b'\n') {
                    let end = i + 1 + nl; // index of the closing newline
                    let rest = text[start + 4..end].trim();
                    if !rest.is_empty() && !rest.starts_with('#') {
                        return Err(YamlError {
                            line: line + 1,
                            column: 1,
                            message: format!(
                                "invalid document separator: {}",
                                text[start + 1..end].trim()
                            ),
                        });
                    }
                    docs.push((&text[prev..start], prev_line));
                    prev = end + 1;
                    line += 1;
                    prev_line = line;
                    i = end + 1;
                    continue;
                }
            }
        }
        i += 1;
    }
    docs.push((&text[prev..], prev_line));
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> Value {
        parse_first_document(s, &ParseOptions::resources())
            .unwrap()
            .unwrap()
            .into_value()
    }

    #[test]
    fn scalars() {
        assert_eq!(
            p("a: 010\nb: '010'\nc: yes\nd: ~\ne: 1.0\nf: !!str 5\ng: |\n  x\n  y\n"),
            json!({"a": 8, "b": "010", "c": "yes", "d": null, "e": 1.0, "f": "5", "g": "x\ny\n"})
        );
    }

    #[test]
    fn merge_keys() {
        assert_eq!(
            p("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n"),
            json!({"base": {"x": 1, "y": 2}, "m": {"y": 3, "x": 1}})
        );
    }

    #[test]
    fn billion_laughs() {
        let mut doc = String::from(
            "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        let names = ["b", "c", "d", "e", "f", "g", "h", "i"];
        let mut prev = "a";
        for n in names {
            doc.push_str(&format!("{n}: &{n} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
            prev = n;
        }
        let start = std::time::Instant::now();
        let e = parse_first_document(&doc, &ParseOptions::resources()).unwrap_err();
        assert!(e.message.contains("alias expansion"), "{e}");
        assert!(start.elapsed().as_millis() < 1000);
    }

    #[test]
    fn nbsp() {
        let e = parse_first_document("metadata:\n\u{a0} name: x\n", &ParseOptions::resources())
            .unwrap_err();
        assert_eq!((e.line, e.column), (2, 1));
        assert!(e.message.contains("U+00A0"));
    }

    #[test]
    fn keys() {
        let e = parse_first_document("a: 1\na: 2\n", &ParseOptions::resources()).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(parse_first_document("1: a\n", &ParseOptions::resources()).is_err());
        let v = parse_first_document("1: a\n", &ParseOptions::config())
            .unwrap()
            .unwrap()
            .into_value();
        assert_eq!(v, json!({"1": "a"}));
    }

    #[test]
    fn splitting() {
        let docs = split_documents("a: 1\n---\nb: 2\n--- # c\nc: 3").unwrap();
        assert_eq!(docs, vec![("a: 1", 0), ("b: 2", 2), ("c: 3", 4)]);
        assert!(split_documents("a\n--- x\nb\n").is_err());
    }
}
