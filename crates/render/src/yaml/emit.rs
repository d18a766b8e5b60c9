//! Writes JSON values as YAML exactly as `kustomize build` prints them.
//!
//! Kustomize serialises each resource to JSON and converts the JSON to YAML
//! with sigs.k8s.io/yaml, i.e. go-yaml v2 (a port of libyaml's emitter):
//! keys sorted in go-yaml v2's "natural" order, block style, sequences not
//! indented inside mappings, lines folded at 80 columns, strings quoted when
//! YAML 1.1 would read them as something else. This module reimplements
//! that emitter's decisions (style selection, scalar analysis, folding,
//! escapes, chomping indicators) for the subset of events kustomize produces.

use serde_json::{Map, Number, Value};

use super::resolve::v2_needs_quotes;

const BEST_WIDTH: i64 = 80;
const BEST_INDENT: i64 = 2;

/// go-yaml v2's map key order (`keyList.Less`) for string keys: letters
/// compare by code point, letters sort after non-letters, and runs of
/// digits compare by numeric value.
///
/// ```
/// use flotilla_render::yaml::v2_key_less;
///
/// assert!(v2_key_less("a2", "a10"));
/// assert!(v2_key_less("apiVersion", "kind"));
/// assert!(v2_key_less("a-b", "ab"));
/// ```
pub fn v2_key_less(a: &str, b: &str) -> bool {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
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
            let mut j = i as isize - 1;
            while j >= 0 && ar[j as usize].is_ascii_digit() {
                if ar[j as usize] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
                j -= 1;
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

fn sorted_entries(m: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut v: Vec<(&String, &Value)> = m.iter().collect();
    v.sort_by(|a, b| {
        if v2_key_less(a.0, b.0) {
            std::cmp::Ordering::Less
        } else if v2_key_less(b.0, a.0) {
            std::cmp::Ordering::Greater
        } else {
            std::cmp::Ordering::Equal
        }
    });
    v
}

/// Formats a float as Go's `strconv.FormatFloat(f, 'g', -1, 64)`.
pub fn go_format_g(f: f64) -> String {
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // Shortest round-trip digits and exponent, from Rust's `{:e}`.
    let e = format!("{:e}", f.abs());
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let neg = if f < 0.0 { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let mut s = String::new();
        s.push_str(neg);
        s.push_str(&digits[..1]);
        if digits.len() > 1 {
            s.push('.');
            s.push_str(&digits[1..]);
        }
        s.push('e');
        s.push(if exp < 0 { '-' } else { '+' });
        let a = exp.unsigned_abs();
        if a < 10 {
            s.push('0');
        }
        s.push_str(&a.to_string());
        s
    } else {
        // %f with as many decimals as needed.
        let dp = exp + 1; // digits before the point
        let mut s = String::from(neg);
        if dp <= 0 {
            s.push_str("0.");
            for _ in 0..(-dp) {
                s.push('0');
            }
            s.push_str(&digits);
        } else if dp as usize >= digits.len() {
            s.push_str(&digits);
            for _ in 0..(dp as usize - digits.len()) {
                s.push('0');
            }
        } else {
            s.push_str(&digits[..dp as usize]);
            s.push('.');
            s.push_str(&digits[dp as usize..]);
        }
        s
    }
}

/// The text go-yaml v2 prints for a JSON number that went through Go's
/// JSON encoder (kustomize's round trip): integral values in the plain
/// range print as integers, everything else as `%g`.
pub fn number_text(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    let a = f.abs();
    if f == 0.0 {
        return "0".into();
    }
    if (1e-6..1e21).contains(&a) && f.fract() == 0.0 {
        // Go's JSON encoder writes it without a point; go-yaml v2 then reads
        // an integer if it fits in 64 bits.
        if a <= i64::MAX as f64 && f >= i64::MIN as f64 && (f as i64) as f64 == f {
            return (f as i64).to_string();
        }
        if f > 0.0 && f <= u64::MAX as f64 && (f as u64) as f64 == f {
            return (f as u64).to_string();
        }
    }
    go_format_g(f)
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
    flow_plain_allowed: bool,
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

fn analyze(value: &str) -> Analysis {
    if value.is_empty() {
        return Analysis {
            multiline: false,
            flow_plain_allowed: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let mut block_indicators = false;
    let mut flow_indicators = false;
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

    if value.starts_with("---") || value.starts_with("...") {
        block_indicators = true;
        flow_indicators = true;
    }
    let chars: Vec<char> = value.chars().collect();
    let n = chars.len();
    let mut preceded_by_whitespace = true;
    for i in 0..n {
        let c = chars[i];
        let followed_by_whitespace = i + 1 >= n || chars[i + 1] == ' ' || chars[i + 1] == '\t';
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                '?' | ':' => {
                    flow_indicators = true;
                    if followed_by_whitespace {
                        block_indicators = true;
                    }
                }
                '-' if followed_by_whitespace => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                _ => {}
            }
        } else {
            match c {
                ',' | '?' | '[' | ']' | '{' | '}' => flow_indicators = true,
                ':' => {
                    flow_indicators = true;
                    if followed_by_whitespace {
                        block_indicators = true;
                    }
                }
                '#' if preceded_by_whitespace => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                _ => {}
            }
        }
        if !is_printable(c) {
            special_characters = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if i + 1 == n {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break_char(c) {
            line_breaks = true;
            if i == 0 {
                leading_break = true;
            }
            if i + 1 == n {
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
    }
    let mut a = Analysis {
        multiline: line_breaks,
        flow_plain_allowed: true,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special_characters {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
        a.block_allowed = false;
    }
    if line_breaks {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
    }
    if flow_indicators {
        a.flow_plain_allowed = false;
    }
    if block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

struct Emitter {
    out: String,
    column: i64,
    indent: i64,
    indents: Vec<i64>,
    whitespace: bool,
    indention: bool,
    open_ended: bool,
}

impl Emitter {
    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    /// Writes a character from a scalar (a line break other than `\n` is
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
        for c in indicator.chars() {
            self.put(c);
        }
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
        self.open_ended = false;
    }

    fn write_plain(&mut self, value: &[char], allow_breaks: bool) {
        if !self.whitespace {
            self.put(' ');
        }
        let mut spaces = false;
        let mut breaks = false;
        let n = value.len();
        let mut i = 0;
        while i < n {
            let c = value[i];
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && !(i + 1 < n && value[i + 1] == ' ')
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
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
            i += 1;
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn write_single(&mut self, value: &[char], allow_breaks: bool) {
        self.write_indicator("'", true, false, false);
        let mut spaces = false;
        let mut breaks = false;
        let n = value.len();
        let mut i = 0;
        while i < n {
            let c = value[i];
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i > 0
                    && i < n - 1
                    && !(i + 1 < n && value[i + 1] == ' ')
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
            i += 1;
        }
        self.write_indicator("'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_double(&mut self, value: &[char], allow_breaks: bool) {
        let mut spaces = false;
        self.write_indicator("\"", true, false, false);
        let n = value.len();
        let starts_with_bom = value.first() == Some(&'\u{feff}');
        let mut i = 0;
        while i < n {
            let c = value[i];
            if !is_printable(c) || starts_with_bom || is_break_char(c) || c == '"' || c == '\\' {
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
                    if i + 1 < n && value[i + 1] == ' ' {
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
            i += 1;
        }
        self.write_indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_block_hints(&mut self, value: &[char]) {
        if let Some(&c) = value.first() {
            if c == ' ' || is_break_char(c) {
                self.write_indicator(&BEST_INDENT.to_string(), false, false, false);
            }
        }
        self.open_ended = false;
        let n = value.len();
        let chomp = if n == 0 || !is_break_char(value[n - 1]) {
            Some('-')
        } else if n == 1 || is_break_char(value[n - 2]) {
            self.open_ended = true;
            Some('+')
        } else {
            None
        };
        if let Some(c) = chomp {
            // As in go-yaml, writing the indicator clears `open_ended` again.
            self.write_indicator(&c.to_string(), false, false, false);
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

    /// Emits a scalar string with go-yaml v2's style choice.
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
        let chars: Vec<char> = s.chars().collect();
        match style {
            Style::Plain => self.write_plain(&chars, !simple_key),
            Style::Single => self.write_single(&chars, !simple_key),
            Style::Double => self.write_double(&chars, !simple_key),
            Style::Literal => self.write_literal(&chars),
        }
        self.pop_indent();
    }

    fn emit_node(&mut self, v: &Value, mapping_context: bool, simple_key: bool) {
        match v {
            Value::Null => self.emit_scalar("null", Style::Plain, simple_key),
            Value::Bool(b) => {
                self.emit_scalar(if *b { "true" } else { "false" }, Style::Plain, simple_key)
            }
            Value::Number(n) => self.emit_scalar(&number_text(n), Style::Plain, simple_key),
            Value::String(s) => self.emit_string(s, simple_key),
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
                    self.emit_node(item, false, false);
                }
                self.pop_indent();
            }
            Value::Object(m) => {
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
                    self.emit_node(val, true, false);
                }
                self.pop_indent();
            }
        }
    }
}

/// Writes one document (a resource) as go-yaml v2 would, trailing newline
/// included, appending to `out`.
///
/// ```
/// use flotilla_render::yaml::emit_document;
///
/// let mut out = String::new();
/// emit_document(&serde_json::json!({"kind": "A", "b": ["x", "yes"], "a": {}}), &mut out);
/// assert_eq!(out, "a: {}\nb:\n- x\n- \"yes\"\nkind: A\n");
/// ```
pub fn emit_document(v: &Value, out: &mut String) {
    let mut e = Emitter {
        out: std::mem::take(out),
        column: 0,
        indent: -1,
        indents: Vec::new(),
        whitespace: true,
        indention: true,
        open_ended: false,
    };
    e.emit_node(v, false, false);
    // Document end (implicit): a final line break.
    e.write_indent();
    if e.open_ended {
        e.write_indicator("...", true, false, false);
        e.write_indent();
    }
    *out = e.out;
}

/// Formats one value as its own document.
pub fn to_yaml_string(v: &Value) -> String {
    let mut s = String::new();
    emit_document(v, &mut s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats() {
        assert_eq!(go_format_g(1.5e-7), "1.5e-07");
        assert_eq!(go_format_g(123456789.5), "1.234567895e+08");
        assert_eq!(go_format_g(100000.5), "100000.5");
        assert_eq!(go_format_g(0.001), "0.001");
        assert_eq!(go_format_g(1e21), "1e+21");
        assert_eq!(number_text(&Number::from_f64(1.0).unwrap()), "1");
        assert_eq!(number_text(&Number::from_f64(1e20).unwrap()), "1e+20");
        assert_eq!(number_text(&Number::from_f64(0.5).unwrap()), "0.5");
    }

    #[test]
    fn strings() {
        let v = json!({"a": "x: y", "b": "- x", "c": "it's", "d": "", "e": "a\nb", "f": "a\n", "g": "a\n\n",
                       "h": "tab\there", "i": " lead", "n": 1, "o": "😀"});
        assert_eq!(
            to_yaml_string(&v),
            "a: 'x: y'\nb: '- x'\nc: it's\nd: \"\"\ne: |-\n  a\n  b\nf: |\n  a\ng: |+\n  a\n\n\
             h: \"tab\\there\"\ni: ' lead'\n\"n\": 1\no: \"\\U0001F600\"\n"
        );
    }

    #[test]
    fn folding() {
        let long = "word ".repeat(30);
        let s = to_yaml_string(&json!({"k": long.trim_end()}));
        assert!(s.lines().next().unwrap().len() <= 90, "{s}");
        assert!(s.contains("\n  word"), "{s}");
    }
}
