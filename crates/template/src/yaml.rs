//! YAML as Helm and Argo CD produce and read it through
//! `sigs.k8s.io/yaml`: values are marshalled to JSON, the JSON is read back
//! by go-yaml v2 (which picks int/float/string types) and emitted by go-yaml
//! v2's port of libyaml's emitter. This module reproduces that pipeline's
//! output: key order (go-yaml's "natural" sort), quoting decisions, literal
//! blocks for multi-line strings, and line folding at 80 columns.

use std::collections::BTreeMap;

use crate::gofmt;
use crate::value::Value;

#[derive(Debug, Clone)]
enum Node {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

/// Marshals `v` as `sigs.k8s.io/yaml.Marshal` does (with its trailing
/// newline).
pub(crate) fn marshal(v: &Value) -> Result<String, String> {
    let n = to_node(v, 0)?;
    let mut e = Emitter::new();
    e.emit_node(&n, true, false, false, false);
    // Document end: write_indent.
    e.indent = -1;
    e.write_indent();
    Ok(e.out)
}

fn to_node(v: &Value, depth: usize) -> Result<Node, String> {
    if depth > 1000 {
        return Err(
            "error marshaling into JSON: json: unsupported value: encountered a cycle".into(),
        );
    }
    Ok(match v {
        Value::Invalid | Value::Nil => Node::Null,
        Value::Bool(b) => Node::Bool(*b),
        Value::Int(i) | Value::Int64(i) => Node::Num(i.to_string()),
        Value::Uint64(u) => Node::Num(u.to_string()),
        Value::Float(f) => {
            if !f.is_finite() {
                return Err(format!(
                    "error marshaling into JSON: json: unsupported value: {}",
                    gofmt::format_float(*f, 'g', -1)
                ));
            }
            let t = gofmt::json_float(*f);
            if gofmt::parse_go_int(&t).is_some() && !t.contains(['e', 'E', '.']) {
                Node::Num(gofmt::parse_go_int(&t).unwrap_or(0).to_string())
            } else if let (Some(u), false) = (gofmt::parse_go_uint(&t), t.contains(['e', 'E', '.']))
            {
                Node::Num(u.to_string())
            } else {
                let x: f64 = t.parse().unwrap_or(*f);
                Node::Num(gofmt::format_float(x, 'g', -1))
            }
        }
        Value::String(s) => Node::Str(json_yaml_string(s)?),
        Value::Time(t) => Node::Str(t.rfc3339_nano()),
        Value::Version(x) => Node::Str(x.to_string()),
        Value::List(l) => {
            if l.nil {
                Node::Null
            } else {
                Node::Seq(
                    l.items
                        .iter()
                        .map(|x| to_node(x, depth + 1))
                        .collect::<Result<_, _>>()?,
                )
            }
        }
        Value::Map(m) => {
            let mut entries: Vec<(String, Node)> = m
                .entries()
                .into_iter()
                .map(|(k, x)| {
                    let k = json_yaml_string(&k)?;
                    to_node(&x, depth + 1).map(|n| (k, n))
                })
                .collect::<Result<_, _>>()?;
            entries.sort_by(|a, b| natural_cmp(&a.0, &b.0));
            Node::Map(entries)
        }
    })
}

/// A string as go-yaml reads it back from Go's JSON text: characters JSON
/// leaves raw but YAML forbids make the conversion fail, and a raw NEL
/// (U+0085, a YAML line break) is folded as in a double-quoted scalar.
fn json_yaml_string(s: &str) -> Result<String, String> {
    for c in s.chars() {
        let u = c as u32;
        if (0x7F..=0x84).contains(&u) || (0x86..=0x9F).contains(&u) || u == 0xFFFE || u == 0xFFFF {
            return Err(
                "error converting YAML to JSON: yaml: control characters are not allowed".into(),
            );
        }
    }
    if !s.contains('\u{85}') {
        return Ok(s.to_string());
    }
    // libyaml's flow scalar folding, with ' ' as the only raw blank and NEL
    // as the only raw break (JSON escapes the others).
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
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
    Ok(out)
}

fn is_letter(c: char) -> bool {
    c.is_alphabetic()
}

fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || (c.is_numeric() && c.is_ascii_digit())
}

/// go-yaml v2's keyList.Less for string keys.
fn natural_less(a: &str, b: &str) -> bool {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
            continue;
        }
        let al = is_letter(ar[i]);
        let bl = is_letter(br[i]);
        if al && bl {
            return ar[i] < br[i];
        }
        if al || bl {
            return bl;
        }
        let (mut an, mut bn): (i64, i64) = (0, 0);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i as i64 - 1;
            while j >= 0 && is_digit(ar[j as usize]) {
                if ar[j as usize] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
                j -= 1;
            }
        }
        let mut ai = i;
        while ai < ar.len() && is_digit(ar[ai]) {
            an = an.wrapping_mul(10).wrapping_add(ar[ai] as i64 - '0' as i64);
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && is_digit(br[bi]) {
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

fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    if natural_less(a, b) {
        std::cmp::Ordering::Less
    } else if natural_less(b, a) {
        std::cmp::Ordering::Greater
    } else {
        a.cmp(b)
    }
}

// ---------------------------------------------------------------------------
// go-yaml v2 resolve(), to decide whether a string may be written plain.

fn resolves_to_non_string(s: &str) -> bool {
    const MAP: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "n", "N", "no",
        "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", "", "~", "null", "Null",
        "NULL", ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
        "-.Inf", "-.INF", "<<",
    ];
    let c = match s.as_bytes().first() {
        Some(c) => *c,
        None => return true,
    };
    let hinted = matches!(
        c,
        b'+' | b'-' | b'0'
            ..=b'9'
                | b'y'
                | b'Y'
                | b'n'
                | b'N'
                | b't'
                | b'T'
                | b'f'
                | b'F'
                | b'o'
                | b'O'
                | b'~'
                | b'.'
    );
    if hinted && MAP.contains(&s) {
        return true;
    }
    match c {
        b'.' => s.parse::<f64>().is_ok() && go_parse_float_ok(s),
        b'+' | b'-' | b'0'..=b'9' => {
            if is_timestamp(s) {
                return true;
            }
            let plain = s.replace('_', "");
            if gofmt::parse_go_int(&plain).is_some() || gofmt::parse_go_uint(&plain).is_some() {
                return true;
            }
            if yaml_style_float(&plain) && go_parse_float_ok(&plain) {
                return true;
            }
            if let Some(r) = plain.strip_prefix("0b") {
                if i64::from_str_radix(r, 2).is_ok() || u64::from_str_radix(r, 2).is_ok() {
                    return true;
                }
            } else if let Some(r) = plain.strip_prefix("-0b") {
                if i64::from_str_radix(&format!("-{}", r), 2).is_ok() {
                    return true;
                }
            }
            false
        }
        _ => false,
    }
}

fn go_parse_float_ok(s: &str) -> bool {
    gofmt::parse_go_float(s).is_some()
}

fn yaml_style_float(s: &str) -> bool {
    // ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let digits = |i: &mut usize| -> usize {
        let st = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - st
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i != 4 || i == b.len() || b[i] != b'-' {
        return false;
    }
    let zone = crate::gotime::Zone::utc();
    for layout in [
        "2006-1-2T15:4:5.999999999Z07:00",
        "2006-1-2t15:4:5.999999999Z07:00",
        "2006-1-2 15:4:5.999999999",
        "2006-1-2",
    ] {
        if crate::gotime::GoTime::parse(layout, s, &zone).is_ok() {
            return true;
        }
    }
    false
}

fn is_base60_float(s: &str) -> bool {
    // ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$
    let b = s.as_bytes();
    if b.is_empty() {
        return false;
    }
    let c = b[0];
    if !(c == b'+' || c == b'-' || c.is_ascii_digit()) || !s.contains(':') {
        return false;
    }
    let mut i = 0;
    if b[i] == b'+' || b[i] == b'-' {
        i += 1;
    }
    if i >= b.len() || !b[i].is_ascii_digit() {
        return false;
    }
    i += 1;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while i < b.len() && b[i] == b':' {
        i += 1;
        let st = i;
        while i < b.len() && b[i].is_ascii_digit() && i - st < 2 {
            i += 1;
        }
        let n = i - st;
        if n == 0 {
            return false;
        }
        if n == 2 && b[st] > b'5' {
            return false;
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

// ---------------------------------------------------------------------------
// Emitter

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
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

fn is_printable(c: char) -> bool {
    let u = c as u32;
    c == '\n'
        || (0x20..=0x7E).contains(&u)
        || (0xA0..=0xD7FF).contains(&u)
        || ((0xE000..=0xFFFD).contains(&u) && u != 0xFEFF)
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
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
    let chars: Vec<char> = value.chars().collect();
    let n = chars.len();
    let (mut block_ind, mut flow_ind, mut line_breaks, mut special) = (false, false, false, false);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    if value.starts_with("---") || value.starts_with("...") {
        block_ind = true;
        flow_ind = true;
    }
    let mut preceded_by_ws = true;
    for i in 0..n {
        let c = chars[i];
        let followed_by_ws = i + 1 >= n || is_blank(chars[i + 1]);
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => {
                    flow_ind = true;
                    block_ind = true;
                }
                '?' | ':' => {
                    flow_ind = true;
                    if followed_by_ws {
                        block_ind = true;
                    }
                }
                '-' if followed_by_ws => {
                    flow_ind = true;
                    block_ind = true;
                }
                _ => {}
            }
        } else {
            match c {
                ',' | '?' | '[' | ']' | '{' | '}' => flow_ind = true,
                ':' => {
                    flow_ind = true;
                    if followed_by_ws {
                        block_ind = true;
                    }
                }
                '#' if preceded_by_ws => {
                    flow_ind = true;
                    block_ind = true;
                }
                _ => {}
            }
        }
        if !is_printable(c) {
            special = true;
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
        } else if is_break(c) {
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
        preceded_by_ws = is_blank(c) || is_break(c) || c == '\0';
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
    if space_break || special {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
        a.block_allowed = false;
    }
    if line_breaks {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
    }
    if flow_ind {
        a.flow_plain_allowed = false;
    }
    if block_ind {
        a.block_plain_allowed = false;
    }
    a
}

struct Emitter {
    out: String,
    column: usize,
    indent: i32,
    indents: Vec<i32>,
    whitespace: bool,
    indention: bool,
    flow_level: usize,
    root_context: bool,
    mapping_context: bool,
    simple_key_context: bool,
}

const BEST_INDENT: i32 = 2;
const BEST_WIDTH: usize = 80;

impl Emitter {
    fn new() -> Self {
        Emitter {
            out: String::new(),
            column: 0,
            indent: -1,
            indents: Vec::new(),
            whitespace: true,
            indention: true,
            flow_level: 0,
            root_context: false,
            mapping_context: false,
            simple_key_context: false,
        }
    }

    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

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
        let indent = self.indent.max(0) as usize;
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indicator(&mut self, ind: &str, need_ws: bool, is_ws: bool, is_indention: bool) {
        if need_ws && !self.whitespace {
            self.put(' ');
        }
        for c in ind.chars() {
            self.put(c);
        }
        self.whitespace = is_ws;
        self.indention = self.indention && is_indention;
    }

    fn emit_node(
        &mut self,
        n: &Node,
        root: bool,
        _sequence: bool,
        mapping: bool,
        simple_key: bool,
    ) {
        self.root_context = root;
        self.mapping_context = mapping;
        self.simple_key_context = simple_key;
        match n {
            Node::Null => self.emit_scalar("null", Style::Plain),
            Node::Bool(b) => self.emit_scalar(if *b { "true" } else { "false" }, Style::Plain),
            Node::Num(s) => self.emit_scalar(s, Style::Plain),
            Node::Str(s) => {
                let can_plain = !resolves_to_non_string(s) && !is_base60_float(s);
                let style = if s.contains('\n') {
                    Style::Literal
                } else if can_plain {
                    Style::Plain
                } else {
                    Style::Double
                };
                self.emit_scalar(s, style);
            }
            Node::Seq(items) => {
                if items.is_empty() {
                    self.write_indicator("[", true, true, false);
                    self.increase_indent(true, false);
                    self.flow_level += 1;
                    self.flow_level -= 1;
                    self.pop_indent();
                    self.write_indicator("]", false, false, false);
                    return;
                }
                let indentless = self.mapping_context && !self.indention;
                self.increase_indent(false, indentless);
                for it in items {
                    self.write_indent();
                    self.write_indicator("-", true, false, true);
                    self.emit_node(it, false, true, false, false);
                }
                self.pop_indent();
            }
            Node::Map(entries) => {
                if entries.is_empty() {
                    self.write_indicator("{", true, true, false);
                    self.increase_indent(true, false);
                    self.flow_level += 1;
                    self.flow_level -= 1;
                    self.pop_indent();
                    self.write_indicator("}", false, false, false);
                    return;
                }
                self.increase_indent(false, false);
                for (k, v) in entries {
                    self.write_indent();
                    let key = Node::Str(k.clone());
                    let simple = !analyze(k).multiline && k.len() <= 128;
                    if simple {
                        self.emit_node(&key, false, false, true, true);
                        self.write_indicator(":", false, false, false);
                        self.emit_node(v, false, false, true, false);
                    } else {
                        self.write_indicator("?", true, false, true);
                        self.emit_node(&key, false, false, true, false);
                        self.write_indent();
                        self.write_indicator(":", true, false, true);
                        self.emit_node(v, false, false, true, false);
                    }
                }
                self.pop_indent();
            }
        }
    }

    fn emit_scalar(&mut self, value: &str, style: Style) {
        let a = analyze(value);
        let mut style = style;
        if self.simple_key_context && a.multiline {
            style = Style::Double;
        }
        if style == Style::Plain {
            if (self.flow_level > 0 && !a.flow_plain_allowed)
                || (self.flow_level == 0 && !a.block_plain_allowed)
            {
                style = Style::Single;
            }
            if value.is_empty() && (self.flow_level > 0 || self.simple_key_context) {
                style = Style::Single;
            }
        }
        if style == Style::Single && !a.single_quoted_allowed {
            style = Style::Double;
        }
        if style == Style::Literal
            && (!a.block_allowed || self.flow_level > 0 || self.simple_key_context)
        {
            style = Style::Double;
        }
        self.increase_indent(true, false);
        let allow_breaks = !self.simple_key_context;
        match style {
            Style::Plain => self.write_plain(value, allow_breaks),
            Style::Single => self.write_single(value, allow_breaks),
            Style::Double => self.write_double(value, allow_breaks),
            Style::Literal => self.write_literal(value),
        }
        self.pop_indent();
    }

    fn write_plain(&mut self, value: &str, allow_breaks: bool) {
        if !self.whitespace {
            self.put(' ');
        }
        let chars: Vec<char> = value.chars().collect();
        let mut spaces = false;
        let mut breaks = false;
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && chars.get(i + 1) != Some(&' ')
                {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
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

    fn write_single(&mut self, value: &str, allow_breaks: bool) {
        self.write_indicator("'", true, false, false);
        let chars: Vec<char> = value.chars().collect();
        let mut spaces = false;
        let mut breaks = false;
        let n = chars.len();
        let mut i = 0;
        while i < n {
            let c = chars[i];
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i > 0
                    && i < n - 1
                    && chars.get(i + 1) != Some(&' ')
                {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
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

    fn write_double(&mut self, value: &str, allow_breaks: bool) {
        let mut spaces = false;
        self.write_indicator("\"", true, false, false);
        let chars: Vec<char> = value.chars().collect();
        let n = chars.len();
        let mut i = 0;
        while i < n {
            let c = chars[i];
            if !is_printable(c) || c == '\u{FEFF}' || is_break(c) || c == '"' || c == '\\' {
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
                        let (ch, w) = if v <= 0xFF {
                            ('x', 2)
                        } else if v <= 0xFFFF {
                            ('u', 4)
                        } else {
                            ('U', 8)
                        };
                        self.put(ch);
                        let hex = format!("{:0width$X}", v, width = w);
                        for h in hex.chars() {
                            self.put(h);
                        }
                    }
                }
                spaces = false;
            } else if c == ' ' {
                if allow_breaks && !spaces && self.column > BEST_WIDTH && i > 0 && i < n - 1 {
                    self.write_indent();
                    if chars.get(i + 1) == Some(&' ') {
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

    fn write_literal(&mut self, value: &str) {
        self.write_indicator("|", true, false, false);
        let chars: Vec<char> = value.chars().collect();
        if chars.first().is_some_and(|&c| c == ' ' || is_break(c)) {
            self.write_indicator(&BEST_INDENT.to_string(), false, false, false);
        }
        let chomp = if chars.is_empty() {
            Some('-')
        } else {
            let last = chars[chars.len() - 1];
            if !is_break(last) {
                Some('-')
            } else if chars.len() == 1 || is_break(chars[chars.len() - 2]) {
                Some('+')
            } else {
                None
            }
        };
        if let Some(c) = chomp {
            self.write_indicator(&c.to_string(), false, false, false);
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for &c in &chars {
            if is_break(c) {
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
}

// ---------------------------------------------------------------------------
// Parsing

/// A node as go-yaml v2 decodes it into `interface{}`.
#[derive(Clone, Debug)]
enum Y {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Y>),
    Map(Vec<(Y, Y)>),
    Merge,
}

/// go-yaml v2's resolve() for a plain scalar.
fn resolve_plain(s: &str) -> Y {
    match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Y::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Y::Bool(false)
        }
        "" | "~" | "null" | "Null" | "NULL" => return Y::Null,
        ".nan" | ".NaN" | ".NAN" => return Y::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Y::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Y::Float(f64::NEG_INFINITY),
        "<<" => return Y::Merge,
        _ => {}
    }
    let c = s.as_bytes()[0];
    match c {
        b'.' => {
            if let Some(f) = gofmt::parse_go_float(s) {
                return Y::Float(f);
            }
        }
        b'+' | b'-' | b'0'..=b'9' => {
            if is_timestamp(s) {
                return Y::Str(s.to_string());
            }
            let plain = s.replace('_', "");
            if let Some(i) = gofmt::parse_go_int(&plain) {
                return Y::Int(i as i128);
            }
            if let Some(u) = gofmt::parse_go_uint(&plain) {
                return Y::Int(u as i128);
            }
            if yaml_style_float(&plain) {
                if let Some(f) = gofmt::parse_go_float(&plain) {
                    return Y::Float(f);
                }
            }
            if let Some(r) = plain.strip_prefix("0b") {
                if let Ok(i) = i64::from_str_radix(r, 2) {
                    return Y::Int(i as i128);
                }
                if let Ok(u) = u64::from_str_radix(r, 2) {
                    return Y::Int(u as i128);
                }
            } else if let Some(r) = plain.strip_prefix("-0b") {
                if let Ok(i) = i64::from_str_radix(&format!("-{}", r), 2) {
                    return Y::Int(i as i128);
                }
            }
        }
        _ => {}
    }
    Y::Str(s.to_string())
}

struct Loader<'a> {
    parser: yaml_rust2::parser::Parser<std::str::Chars<'a>>,
    anchors: std::collections::HashMap<usize, Y>,
    depth: usize,
}

impl<'a> Loader<'a> {
    fn next(&mut self) -> Result<yaml_rust2::parser::Event, String> {
        self.parser
            .next_token()
            .map(|(e, _)| e)
            .map_err(|e| format!("error converting YAML to JSON: yaml: {}", e))
    }

    fn node(&mut self, ev: yaml_rust2::parser::Event) -> Result<Y, String> {
        use yaml_rust2::parser::Event;
        use yaml_rust2::scanner::TScalarStyle;
        self.depth += 1;
        if self.depth > 500 {
            return Err("error converting YAML to JSON: yaml: document nests too deeply".into());
        }
        let r = match ev {
            Event::Scalar(v, style, anchor, tag) => {
                let y = match (&tag, style) {
                    (Some(t), _) if t.suffix == "str" || t.suffix == "tag:yaml.org,2002:str" => {
                        Y::Str(v)
                    }
                    (Some(t), _) if t.handle == "!!" || t.handle == "tag:yaml.org,2002:" => {
                        resolve_plain(&v)
                    }
                    (_, TScalarStyle::Plain) => resolve_plain(&v),
                    _ => Y::Str(v),
                };
                if anchor > 0 {
                    self.anchors.insert(anchor, y.clone());
                }
                y
            }
            Event::Alias(id) => {
                self.anchors.get(&id).cloned().ok_or_else(|| {
                    "error converting YAML to JSON: yaml: unknown anchor".to_string()
                })?
            }
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                loop {
                    let e = self.next()?;
                    if let Event::SequenceEnd = e {
                        break;
                    }
                    items.push(self.node(e)?);
                }
                let y = Y::Seq(items);
                if anchor > 0 {
                    self.anchors.insert(anchor, y.clone());
                }
                y
            }
            Event::MappingStart(anchor, _) => {
                let mut entries: Vec<(Y, Y)> = Vec::new();
                loop {
                    let e = self.next()?;
                    if let Event::MappingEnd = e {
                        break;
                    }
                    let k = self.node(e)?;
                    let ve = self.next()?;
                    let v = self.node(ve)?;
                    if let Y::Merge = k {
                        merge_into(&mut entries, &v);
                        continue;
                    }
                    set_entry(&mut entries, k, v);
                }
                let y = Y::Map(entries);
                if anchor > 0 {
                    self.anchors.insert(anchor, y.clone());
                }
                y
            }
            other => {
                return Err(format!(
                    "error converting YAML to JSON: yaml: unexpected event {:?}",
                    other
                ))
            }
        };
        self.depth -= 1;
        Ok(r)
    }
}

fn key_eq(a: &Y, b: &Y) -> bool {
    match (a, b) {
        (Y::Str(x), Y::Str(y)) => x == y,
        (Y::Int(x), Y::Int(y)) => x == y,
        (Y::Bool(x), Y::Bool(y)) => x == y,
        (Y::Float(x), Y::Float(y)) => x == y,
        (Y::Null, Y::Null) => true,
        _ => false,
    }
}

fn set_entry(entries: &mut Vec<(Y, Y)>, k: Y, v: Y) {
    if let Some(e) = entries.iter_mut().find(|(ek, _)| key_eq(ek, &k)) {
        e.1 = v;
    } else {
        entries.push((k, v));
    }
}

fn merge_into(entries: &mut Vec<(Y, Y)>, v: &Y) {
    match v {
        Y::Map(m) => {
            for (k, x) in m {
                set_entry(entries, k.clone(), x.clone());
            }
        }
        Y::Seq(items) => {
            for it in items.iter().rev() {
                if let Y::Map(m) = it {
                    for (k, x) in m {
                        set_entry(entries, k.clone(), x.clone());
                    }
                }
            }
        }
        _ => {}
    }
}

fn key_string(k: &Y) -> Result<String, String> {
    Ok(match k {
        Y::Str(s) => s.clone(),
        Y::Int(i) => i.to_string(),
        Y::Bool(b) => b.to_string(),
        Y::Float(f) => {
            let s = gofmt::format_float((*f as f32) as f64, 'g', -1);
            match s.as_str() {
                "+Inf" => ".inf".into(),
                "-Inf" => "-.inf".into(),
                "NaN" => ".nan".into(),
                _ => format_float32(*f),
            }
        }
        other => {
            return Err(format!(
                "error converting YAML to JSON: unsupported map key of type: {}",
                match other {
                    Y::Null => "%!s(<nil>)",
                    _ => "[]interface {}",
                }
            ))
        }
    })
}

/// strconv.FormatFloat(f, 'g', -1, 32): shortest digits that round-trip a
/// float32.
fn format_float32(f: f64) -> String {
    let x = f as f32;
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let s = format!("{:e}", x);
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let nd = digits.len() as i32;
    let dp = exp + 1;
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if !(-4..6).contains(&exp) {
        out.push_str(&digits[..1]);
        if nd > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push_str(&format!(
            "e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        ));
    } else if dp <= 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat((-dp) as usize));
        out.push_str(digits);
    } else if dp >= nd {
        out.push_str(digits);
        out.push_str(&"0".repeat((dp - nd) as usize));
    } else {
        out.push_str(&digits[..dp as usize]);
        out.push('.');
        out.push_str(&digits[dp as usize..]);
    }
    out
}

fn y_to_value(y: &Y) -> Result<Value, String> {
    Ok(match y {
        Y::Null | Y::Merge => Value::Nil,
        Y::Bool(b) => Value::Bool(*b),
        Y::Int(i) => Value::Float(*i as f64),
        Y::Float(f) => {
            if !f.is_finite() {
                return Err(format!(
                    "error converting YAML to JSON: json: unsupported value: {}",
                    gofmt::format_float(*f, 'g', -1)
                ));
            }
            Value::Float(*f)
        }
        Y::Str(s) => Value::str(s.as_str()),
        Y::Seq(items) => Value::list(items.iter().map(y_to_value).collect::<Result<_, _>>()?),
        Y::Map(entries) => {
            let mut out = BTreeMap::new();
            for (k, v) in entries {
                out.insert(key_string(k)?, y_to_value(v)?);
            }
            Value::map(out)
        }
    })
}

/// Unmarshals YAML the way `sigs.k8s.io/yaml.Unmarshal` into
/// `interface{}` ends up: go-yaml v2 (YAML 1.1 scalars: `yes`/`on` are
/// booleans, `0777` is octal) then JSON, so numbers are float64 and keys
/// strings. Only the first document is read.
pub(crate) fn unmarshal(text: &str) -> Result<Value, String> {
    use yaml_rust2::parser::Event;
    let mut l = Loader {
        parser: yaml_rust2::parser::Parser::new_from_str(text),
        anchors: std::collections::HashMap::new(),
        depth: 0,
    };
    loop {
        match l.next()? {
            Event::StreamStart | Event::DocumentStart => continue,
            Event::StreamEnd | Event::DocumentEnd => return Ok(Value::Nil),
            e => {
                let y = l.node(e)?;
                return y_to_value(&y);
            }
        }
    }
}
