//! Writes JSON values as YAML exactly as go-yaml v2 prints them.
//!
//! kustomize serialises each resource to JSON and converts the JSON to YAML
//! with sigs.k8s.io/yaml, and Helm's `toYaml` does the same: go-yaml v2 (a
//! port of libyaml's emitter) with keys sorted in go-yaml v2's "natural"
//! order, block style, sequences not indented inside mappings, lines folded
//! at 80 columns, strings quoted when YAML 1.1 would read them as something
//! else. This module reimplements that emitter's decisions (style
//! selection, scalar analysis, folding, escapes, chomping indicators) for
//! the events a JSON value produces.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use crate::number::number_text;
use crate::resolve::v2_needs_quotes;

const BEST_WIDTH: i64 = 80;
const BEST_INDENT: i64 = 2;

/// go-yaml v2's `keyList.Less` on two sequences of characters.
fn key_less_chars(ar: &[char], br: &[char]) -> bool {
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i] < br[i];
        }
        if al || bl {
            return bl;
        }
        let mut an: i64 = 0;
        let mut bn: i64 = 0;
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && ar[j - 1].is_ascii_digit() {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an.wrapping_mul(10).wrapping_add(ar[ai] as i64 - '0' as i64);
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn.wrapping_mul(10).wrapping_add(br[bi] as i64 - '0' as i64);
            bi += 1;
        }
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ar[i] < br[i];
    }
    ar.len() < br.len()
}

/// The same on ASCII bytes (no allocation).
fn key_less_ascii(ar: &[u8], br: &[u8]) -> bool {
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
            continue;
        }
        let al = ar[i].is_ascii_alphabetic();
        let bl = br[i].is_ascii_alphabetic();
        if al && bl {
            return ar[i] < br[i];
        }
        if al || bl {
            return bl;
        }
        let mut an: i64 = 0;
        let mut bn: i64 = 0;
        if ar[i] == b'0' || br[i] == b'0' {
            let mut j = i;
            while j > 0 && ar[j - 1].is_ascii_digit() {
                j -= 1;
                if ar[j] != b'0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an.wrapping_mul(10).wrapping_add((ar[ai] - b'0') as i64);
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn.wrapping_mul(10).wrapping_add((br[bi] - b'0') as i64);
            bi += 1;
        }
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ar[i] < br[i];
    }
    ar.len() < br.len()
}

/// go-yaml v2's map key order (`keyList.Less`) for string keys: letters
/// compare by code point, letters sort after non-letters, and runs of
/// digits compare by numeric value.
///
/// ```
/// use flotilla_yaml::v2_key_less;
///
/// assert!(v2_key_less("a2", "a10"));
/// assert!(v2_key_less("apiVersion", "kind"));
/// assert!(v2_key_less("a-b", "ab"));
/// ```
pub fn v2_key_less(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return key_less_ascii(a.as_bytes(), b.as_bytes());
    }
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    key_less_chars(&ar, &br)
}

/// [`v2_key_less`] as a total order (keys go-yaml finds equal compare by
/// their bytes).
pub fn v2_key_cmp(a: &str, b: &str) -> Ordering {
    if v2_key_less(a, b) {
        Ordering::Less
    } else if v2_key_less(b, a) {
        Ordering::Greater
    } else {
        a.cmp(b)
    }
}

fn sorted_entries(m: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut v: Vec<(&String, &Value)> = m.iter().collect();
    v.sort_by(|a, b| v2_key_cmp(a.0, b.0));
    v
}

#[derive(Clone, Copy, PartialEq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

struct Analysis {
    multiline: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

fn is_break_char(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// libyaml's `is_printable` (with go-yaml's byte-level quirks: characters
/// outside the Basic Multilingual Plane count as not printable).
fn is_printable(c: char) -> bool {
    let u = c as u32;
    u == 0x0A
        || (0x20..=0x7E).contains(&u)
        || (0xA0..=0xD7FF).contains(&u)
        || (0xE000..=0xFFFD).contains(&u) && u != 0xFEFF
}

/// libyaml's `yaml_emitter_analyze_scalar` (the block-context part: the
/// emitter never writes flow collections with content).
fn analyze(value: &str) -> Analysis {
    if value.is_empty() {
        return Analysis {
            multiline: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let mut block_indicators = value.starts_with("---") || value.starts_with("...");
    let mut line_breaks = false;
    let mut special_characters = false;
    let mut leading_space = false;
    let mut leading_break = false;
    let mut trailing_space = false;
    let mut trailing_break = false;
    let mut break_space = false;
    let mut space_break = false;
    let mut previous_space = false;
    let mut previous_break = false;

    let mut preceded_by_whitespace = true;
    let mut first = true;
    let mut it = value.chars().peekable();
    while let Some(c) = it.next() {
        let next = it.peek().copied();
        let last = next.is_none();
        let followed_by_whitespace = matches!(next, None | Some(' ') | Some('\t'));
        if first {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => block_indicators = true,
                '?' | ':' if followed_by_whitespace => block_indicators = true,
                '-' if followed_by_whitespace => block_indicators = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_by_whitespace => block_indicators = true,
                '#' if preceded_by_whitespace => block_indicators = true,
                _ => {}
            }
        }
        if !is_printable(c) {
            special_characters = true;
        }
        if c == ' ' {
            if first {
                leading_space = true;
            }
            if last {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break_char(c) {
            line_breaks = true;
            if first {
                leading_break = true;
            }
            if last {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = matches!(c, ' ' | '\t' | '\0') || is_break_char(c);
        first = false;
    }
    let mut a = Analysis {
        multiline: line_breaks,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special_characters {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
        a.block_allowed = false;
    }
    if line_breaks || block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

struct Emitter<'o> {
    out: &'o mut String,
    column: i64,
    indent: i64,
    indents: Vec<i64>,
    whitespace: bool,
    indention: bool,
    open_ended: bool,
}

impl Emitter<'_> {
    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_str_ascii(&mut self, s: &str) {
        self.out.push_str(s);
        self.column += s.len() as i64;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    /// Writes a line break from a scalar (a break other than `\n` is
    /// copied as is and resets the column).
    fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
        }
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { BEST_INDENT } else { 0 };
        } else if !indentless {
            self.indent += BEST_INDENT;
        }
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }

    fn write_indent(&mut self) {
        let indent = self.indent.max(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indicator(
        &mut self,
        indicator: &str,
        need_whitespace: bool,
        is_whitespace: bool,
        is_indention: bool,
    ) {
        if need_whitespace && !self.whitespace {
            self.put(' ');
        }
        self.put_str_ascii(indicator);
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
        self.open_ended = false;
    }

    fn write_plain(&mut self, value: &str, allow_breaks: bool) {
        if !self.whitespace {
            self.put(' ');
        }
        if !allow_breaks || (self.column + value.len() as i64 <= BEST_WIDTH) {
            // Nothing can fold: no break may be written before column 80,
            // and plain scalars hold no line breaks.
            if value.is_ascii() {
                self.put_str_ascii(value);
            } else {
                for c in value.chars() {
                    self.put(c);
                }
            }
            self.whitespace = false;
            self.indention = false;
            return;
        }
        let mut spaces = false;
        let mut it = value.chars().peekable();
        while let Some(c) = it.next() {
            if c == ' ' {
                if allow_breaks && !spaces && self.column > BEST_WIDTH && it.peek() != Some(&' ') {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                self.indention = false;
                spaces = false;
            }
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn write_single(&mut self, value: &[char], allow_breaks: bool) {
        self.write_indicator("'", true, false, false);
        let mut spaces = false;
        let mut breaks = false;
        let n = value.len();
        for (i, &c) in value.iter().enumerate() {
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i > 0
                    && i < n - 1
                    && value[i + 1] != ' '
                {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break_char(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.write_indicator("'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_double(&mut self, value: &[char], allow_breaks: bool) {
        let mut spaces = false;
        self.write_indicator("\"", true, false, false);
        let n = value.len();
        for (i, &c) in value.iter().enumerate() {
            if !is_printable(c) || c == '\u{feff}' || is_break_char(c) || c == '"' || c == '\\' {
                self.put('\\');
                let v = c as u32;
                match v {
                    0x00 => self.put('0'),
                    0x07 => self.put('a'),
                    0x08 => self.put('b'),
                    0x09 => self.put('t'),
                    0x0A => self.put('n'),
                    0x0B => self.put('v'),
                    0x0C => self.put('f'),
                    0x0D => self.put('r'),
                    0x1B => self.put('e'),
                    0x22 => self.put('"'),
                    0x5C => self.put('\\'),
                    0x85 => self.put('N'),
                    0xA0 => self.put('_'),
                    0x2028 => self.put('L'),
                    0x2029 => self.put('P'),
                    _ => {
                        let (letter, width) = if v <= 0xFF {
                            ('x', 2)
                        } else if v <= 0xFFFF {
                            ('u', 4)
                        } else {
                            ('U', 8)
                        };
                        self.put(letter);
                        for k in (0..width).rev() {
                            let digit = (v >> (k * 4)) & 0xF;
                            let ch = if digit < 10 {
                                (b'0' + digit as u8) as char
                            } else {
                                (b'A' + digit as u8 - 10) as char
                            };
                            self.put(ch);
                        }
                    }
                }
                spaces = false;
            } else if c == ' ' {
                if allow_breaks && !spaces && self.column > BEST_WIDTH && i > 0 && i < n - 1 {
                    self.write_indent();
                    if value[i + 1] == ' ' {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_block_hints(&mut self, value: &[char]) {
        if let Some(&c) = value.first() {
            if c == ' ' || is_break_char(c) {
                self.write_indicator("2", false, false, false);
            }
        }
        self.open_ended = false;
        let n = value.len();
        let chomp = if n == 0 || !is_break_char(value[n - 1]) {
            Some("-")
        } else if n == 1 || is_break_char(value[n - 2]) {
            self.open_ended = true;
            Some("+")
        } else {
            None
        };
        if let Some(c) = chomp {
            // As in go-yaml, writing the indicator clears `open_ended` again.
            self.write_indicator(c, false, false, false);
        }
    }

    fn write_literal(&mut self, value: &[char]) {
        self.write_indicator("|", true, false, false);
        self.write_block_hints(value);
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for &c in value {
            if is_break_char(c) {
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                breaks = false;
            }
        }
    }

    /// Emits a string with go-yaml v2's style choice.
    fn emit_string(&mut self, s: &str, simple_key: bool) {
        let style = if s.contains('\n') {
            Style::Literal
        } else if !v2_needs_quotes(s) {
            Style::Plain
        } else {
            Style::Double
        };
        self.emit_scalar(s, style, simple_key);
    }

    fn emit_scalar(&mut self, s: &str, requested: Style, simple_key: bool) {
        let a = analyze(s);
        let mut style = requested;
        if simple_key && a.multiline {
            style = Style::Double;
        }
        if style == Style::Plain {
            if !a.block_plain_allowed {
                style = Style::Single;
            }
            if s.is_empty() && simple_key {
                style = Style::Single;
            }
        }
        if style == Style::Single && !a.single_quoted_allowed {
            style = Style::Double;
        }
        if style == Style::Literal && (!a.block_allowed || simple_key) {
            style = Style::Double;
        }
        self.increase_indent(true, false);
        match style {
            Style::Plain => self.write_plain(s, !simple_key),
            other => {
                let chars: Vec<char> = s.chars().collect();
                match other {
                    Style::Single => self.write_single(&chars, !simple_key),
                    Style::Double => self.write_double(&chars, !simple_key),
                    _ => self.write_literal(&chars),
                }
            }
        }
        self.pop_indent();
    }

    fn emit_map(&mut self, m: &Map<String, Value>) {
        if m.is_empty() {
            self.write_indicator("{", true, true, false);
            self.write_indicator("}", false, false, false);
            return;
        }
        self.increase_indent(false, false);
        for (k, val) in sorted_entries(m) {
            self.write_indent();
            let simple = k.len() <= 128 && !k.chars().any(is_break_char);
            if simple {
                self.emit_string(k, true);
                self.write_indicator(":", false, false, false);
            } else {
                self.write_indicator("?", true, false, true);
                self.emit_string(k, false);
                self.write_indent();
                self.write_indicator(":", true, false, true);
            }
            self.emit_node(val, true);
        }
        self.pop_indent();
    }

    fn emit_node(&mut self, v: &Value, mapping_context: bool) {
        match v {
            Value::Null => self.emit_scalar("null", Style::Plain, false),
            Value::Bool(b) => {
                self.emit_scalar(if *b { "true" } else { "false" }, Style::Plain, false)
            }
            Value::Number(n) => self.emit_scalar(&number_text(n), Style::Plain, false),
            Value::String(s) => self.emit_string(s, false),
            Value::Array(items) => {
                if items.is_empty() {
                    self.write_indicator("[", true, true, false);
                    self.write_indicator("]", false, false, false);
                    return;
                }
                self.increase_indent(false, mapping_context && !self.indention);
                for item in items {
                    self.write_indent();
                    self.write_indicator("-", true, false, true);
                    self.emit_node(item, false);
                }
                self.pop_indent();
            }
            Value::Object(m) => self.emit_map(m),
        }
    }

    fn finish(&mut self) {
        // Document end (implicit): a final line break.
        self.write_indent();
        if self.open_ended {
            self.write_indicator("...", true, false, false);
            self.write_indent();
        }
    }
}

fn emitter(out: &mut String) -> Emitter<'_> {
    Emitter {
        out,
        column: 0,
        indent: -1,
        indents: Vec::new(),
        whitespace: true,
        indention: true,
        open_ended: false,
    }
}

/// Writes one document as go-yaml v2 would, trailing newline included,
/// appending to `out`.
///
/// ```
/// use flotilla_yaml::emit_document;
///
/// let mut out = String::new();
/// emit_document(&serde_json::json!({"kind": "A", "b": ["x", "yes"], "a": {}}), &mut out);
/// assert_eq!(out, "a: {}\nb:\n- x\n- \"yes\"\nkind: A\n");
/// ```
pub fn emit_document(v: &Value, out: &mut String) {
    let mut e = emitter(out);
    e.emit_node(v, false);
    e.finish();
}

/// [`emit_document`] for a mapping (a resource), without wrapping it in a
/// [`Value`].
pub fn emit_map_document(m: &Map<String, Value>, out: &mut String) {
    let mut e = emitter(out);
    e.emit_map(m);
    e.finish();
}

/// Formats one value as its own document.
pub fn to_yaml_string(v: &Value) -> String {
    let mut s = String::new();
    emit_document(v, &mut s);
    s
}

/// Why [`marshal`] refused a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarshalError {
    /// A string holds a character that JSON writes raw but YAML forbids
    /// (C1 controls, DEL, U+FFFE, U+FFFF).
    #[error("yaml: control characters are not allowed")]
    ControlCharacters,
}

fn forbidden(c: char) -> bool {
    let u = c as u32;
    (0x7F..=0x84).contains(&u) || (0x86..=0x9F).contains(&u) || u == 0xFFFE || u == 0xFFFF
}

/// A string as go-yaml reads it back from Go's JSON text: a raw NEL
/// (U+0085, a YAML line break that JSON leaves unescaped) is folded as in
/// a double-quoted scalar.
fn fold_nel(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let n = chars.len();
    while i < n {
        while i < n && chars[i] != ' ' && chars[i] != '\u{85}' {
            out.push(chars[i]);
            i += 1;
        }
        if i >= n {
            break;
        }
        let mut whitespaces = String::new();
        let mut leading_blanks = false;
        let mut trailing_breaks = String::new();
        while i < n && (chars[i] == ' ' || chars[i] == '\u{85}') {
            if chars[i] == ' ' {
                if !leading_blanks {
                    whitespaces.push(' ');
                }
            } else if !leading_blanks {
                whitespaces.clear();
                leading_blanks = true;
            } else {
                trailing_breaks.push('\n');
            }
            i += 1;
        }
        if leading_blanks {
            if trailing_breaks.is_empty() {
                out.push(' ');
            } else {
                out.push_str(&trailing_breaks);
            }
        } else {
            out.push_str(&whitespaces);
        }
    }
    out
}

/// Checks every string; true when one holds a NEL (the value must then be
/// rewritten before emitting).
fn check(v: &Value) -> Result<bool, MarshalError> {
    let s_check = |s: &str| -> Result<bool, MarshalError> {
        if s.is_ascii() {
            return if s.as_bytes().contains(&0x7F) {
                Err(MarshalError::ControlCharacters)
            } else {
                Ok(false)
            };
        }
        if s.chars().any(forbidden) {
            return Err(MarshalError::ControlCharacters);
        }
        Ok(s.contains('\u{85}'))
    };
    Ok(match v {
        Value::String(s) => s_check(s)?,
        Value::Array(items) => {
            let mut any = false;
            for x in items {
                any |= check(x)?;
            }
            any
        }
        Value::Object(m) => {
            let mut any = false;
            for (k, x) in m {
                any |= s_check(k)?;
                any |= check(x)?;
            }
            any
        }
        _ => false,
    })
}

fn folded(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(fold_nel(s)),
        Value::Array(items) => Value::Array(items.iter().map(folded).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, x)| (fold_nel(k), folded(x))).collect())
        }
        other => other.clone(),
    }
}

/// Marshals `v` as `sigs.k8s.io/yaml.Marshal` does (JSON, read back by
/// go-yaml v2, then emitted): what Helm's `toYaml` prints, trailing newline
/// included.
///
/// ```
/// use serde_json::json;
///
/// let v = json!({"tag": "1.25", "list": ["a"], "n": 1.50});
/// assert_eq!(flotilla_yaml::marshal(&v).unwrap(), "list:\n- a\n\"n\": 1.5\ntag: \"1.25\"\n");
/// assert!(flotilla_yaml::marshal(&json!("\u{7f}")).is_err());
/// ```
pub fn marshal(v: &Value) -> Result<String, MarshalError> {
    let mut out = String::new();
    if check(v)? {
        emit_document(&folded(v), &mut out);
    } else {
        emit_document(v, &mut out);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings() {
        let v = json!({"a": "x: y", "b": "- x", "c": "it's", "d": "", "e": "a\nb", "f": "a\n", "g": "a\n\n",
                       "h": "tab\there", "i": " lead", "n": 1, "o": "😀", "p": "\u{feff}bom"});
        assert_eq!(
            to_yaml_string(&v),
            "a: 'x: y'\nb: '- x'\nc: it's\nd: \"\"\ne: |-\n  a\n  b\nf: |\n  a\ng: |+\n  a\n\n\
             h: \"tab\\there\"\ni: ' lead'\n\"n\": 1\no: \"\\U0001F600\"\np: \"\\uFEFFbom\"\n"
        );
    }

    #[test]
    fn folding() {
        let long = "word ".repeat(30);
        let s = to_yaml_string(&json!({"k": long.trim_end()}));
        assert!(s.lines().next().unwrap().len() <= 90, "{s}");
        assert!(s.contains("\n  word"), "{s}");
    }

    #[test]
    fn key_order() {
        for (a, b) in [
            ("a2", "a10"),
            ("B", "a"),
            ("9", "10"),
            ("_x", "a"),
            ("a1b", "a01b"),
        ] {
            assert_eq!(v2_key_cmp(a, b), Ordering::Less, "{a} {b}");
            let (ca, cb): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
            assert_eq!(
                key_less_chars(&ca, &cb),
                key_less_ascii(a.as_bytes(), b.as_bytes())
            );
        }
        assert!(v2_key_less("é1", "é2"));
    }

    #[test]
    fn nel() {
        assert_eq!(marshal(&json!("a\u{85}b")).unwrap(), "a b\n");
    }
}
