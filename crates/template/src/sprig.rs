//! Sprig v3.3.0's generic function map, as Argo CD enables it (everything
//! but `env`, `expandenv` and `getHostByName`), reimplemented with Sprig's
//! Go signatures so argument checking matches, and Sprig's semantics
//! (including its conversions through `spf13/cast` and `mergo`).

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use sha2::Digest as _;

use crate::funcs::{add, FuncError, FuncMap, Function, Param};
use crate::gofmt;
use crate::gotime::{self, GoTime, Zone};
use crate::value::{deep_equal, ElemType, List, Map, Value};
use crate::Limits;

type R = Result<Value, FuncError>;

const NIL_DEREF: &str = "runtime error: invalid memory address or nil pointer dereference";

pub(crate) fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

pub(crate) fn int(v: &Value) -> i64 {
    match v {
        Value::Int(i) | Value::Int64(i) => *i,
        _ => 0,
    }
}

fn flt(v: &Value) -> f64 {
    match v {
        Value::Float(f) => *f,
        _ => 0.0,
    }
}

fn string(x: impl Into<String>) -> R {
    Ok(Value::str(x.into()))
}

/// Sprig's strval: strings as is, Stringers through String(), else `%v`.
pub(crate) fn strval(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        Value::Time(t) => t.to_string(),
        Value::Version(x) => x.to_string(),
        Value::Invalid | Value::Nil => "<nil>".into(),
        other => gofmt::to_string(other),
    }
}

fn go_f64_to_i64(f: f64) -> i64 {
    if f.is_nan() || !(-9.223372036854776e18..9.223372036854776e18).contains(&f) {
        i64::MIN
    } else {
        f as i64
    }
}

fn trim_zero_decimal(s: &str) -> &str {
    let b = s.as_bytes();
    let mut found_zero = false;
    let mut i = b.len();
    while i > 0 {
        match b[i - 1] {
            b'.' => {
                if found_zero {
                    return &s[..i - 1];
                }
            }
            b'0' => found_zero = true,
            _ => return s,
        }
        i -= 1;
    }
    s
}

/// spf13/cast ToInt64 (errors become 0).
pub(crate) fn to_int64(v: &Value) -> i64 {
    match v {
        Value::Int(i) | Value::Int64(i) => *i,
        Value::Uint64(u) => *u as i64,
        Value::Float(f) => go_f64_to_i64(*f),
        Value::String(s) => gofmt::parse_go_int(trim_zero_decimal(s)).unwrap_or(0),
        Value::Bool(b) => i64::from(*b),
        _ => 0,
    }
}

/// spf13/cast ToFloat64 (errors become 0).
pub(crate) fn to_float64(v: &Value) -> f64 {
    match v {
        Value::Int(i) | Value::Int64(i) => *i as f64,
        Value::Uint64(u) => *u as f64,
        Value::Float(f) => *f,
        Value::String(s) => parse_float(s).unwrap_or(0.0),
        Value::Bool(b) => f64::from(u8::from(*b)),
        _ => 0.0,
    }
}

/// strconv.ParseFloat(s, 64).
fn parse_float(s: &str) -> Option<f64> {
    let t = s;
    if t.is_empty() {
        return None;
    }
    let body = t.trim_start_matches(['+', '-']);
    if body.len() + 1 < t.len() {
        return None;
    }
    let lower = body.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" || lower == "nan" {
        return gofmt::parse_go_float(t);
    }
    if lower.starts_with("0x") {
        if !lower.contains('p') {
            return None;
        }
        return gofmt::parse_go_float(t);
    }
    let b = t.as_bytes();
    for (k, &c) in b.iter().enumerate() {
        if c == b'_' {
            let prev_digit = k > 0 && b[k - 1].is_ascii_digit();
            let next_digit = k + 1 < b.len() && b[k + 1].is_ascii_digit();
            if !prev_digit || !next_digit {
                return None;
            }
        }
    }
    let owned = t.replace('_', "");
    let t = owned.as_str();
    let body = t.trim_start_matches(['+', '-']);
    if !body
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    t.parse::<f64>().ok()
}

/// Sprig's `empty`.
pub(crate) fn empty(v: &Value) -> bool {
    match v {
        Value::Invalid | Value::Nil => true,
        Value::Bool(b) => !b,
        Value::Int(i) | Value::Int64(i) => *i == 0,
        Value::Uint64(u) => *u == 0,
        Value::Float(f) => *f == 0.0,
        Value::String(s) => s.is_empty(),
        Value::List(l) => l.items.is_empty(),
        Value::Map(m) => m.is_empty(),
        Value::Time(_) | Value::Version(_) => false,
    }
}

/// reflect Kind name, as Sprig's "Cannot ... on type %s" messages print it.
fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Invalid | Value::Nil => "invalid",
        Value::Version(_) => "ptr",
        Value::Time(_) => "struct",
        Value::List(_) => "slice",
        Value::Map(_) => "map",
        other => other.go_type(),
    }
}

/// The elements of a slice argument, or Sprig's error for other kinds.
fn list_items(v: &Value, what: &str) -> Result<Vec<Value>, FuncError> {
    match v {
        Value::List(l) => Ok(l.items.clone()),
        Value::Invalid | Value::Nil => Err(NIL_DEREF.into()),
        other => Err(format!("{} {}", what, kind_name(other))),
    }
}

fn any_list(items: Vec<Value>) -> Value {
    Value::list(items)
}

fn map_arg(v: &Value) -> Option<&Arc<Map>> {
    match v {
        Value::Map(m) => Some(m),
        _ => None,
    }
}

fn go_repeat(s: &str, n: i64, limits: &Limits) -> Result<String, FuncError> {
    if n < 0 {
        return Err("strings: negative Repeat count".into());
    }
    let total = (s.len() as u128) * (n as u128);
    if total > limits.max_collection as u128 {
        return Err(format!(
            "repeat: result of {} bytes exceeds the limit of {}",
            total, limits.max_collection
        ));
    }
    Ok(s.repeat(n as usize))
}

fn is_go_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\x0b' | '\x0c' | '\r' | ' ' | '\u{85}' | '\u{A0}'
    ) || (c as u32 > 0xFF && c.is_whitespace())
}

fn to_upper_go(c: char) -> char {
    let mut it = c.to_uppercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

fn to_lower_go(c: char) -> char {
    let mut it = c.to_lowercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        (Some(u), Some(_)) => u,
        _ => c,
    }
}

fn to_title_go(c: char) -> char {
    // Title case equals upper case outside a few digraphs.
    match c {
        'ǆ' | 'ǅ' | 'Ǆ' => 'ǅ',
        'ǉ' | 'ǈ' | 'Ǉ' => 'ǈ',
        'ǌ' | 'ǋ' | 'Ǌ' => 'ǋ',
        'ǳ' | 'ǲ' | 'Ǳ' => 'ǲ',
        _ => to_upper_go(c),
    }
}

/// strings.Title.
fn title(s: &str) -> String {
    let is_sep = |r: char| -> bool {
        if r.is_ascii() {
            return !(r.is_ascii_alphanumeric() || r == '_');
        }
        if r.is_alphabetic() || r.is_numeric() {
            return false;
        }
        is_go_space(r)
    };
    let mut prev = ' ';
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_sep(prev) {
            out.push(to_title_go(c));
        } else {
            out.push(c);
        }
        prev = c;
    }
    out
}

fn untitle(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut next = true;
    for c in s.chars() {
        if is_go_space(c) {
            next = true;
            out.push(c);
        } else if next {
            out.push(to_lower_go(c));
            next = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn swapcase(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut ws = true;
    for c in s.chars() {
        if c.is_uppercase() {
            out.push(to_lower_go(c));
            ws = false;
        } else if c.is_lowercase() {
            if ws {
                out.push(to_title_go(c));
                ws = false;
            } else {
                out.push(to_upper_go(c));
            }
        } else {
            ws = is_go_space(c);
            out.push(c);
        }
    }
    out
}

/// goutils.Initials: byte-wise, as the Go code is.
fn initials(s: &str) -> String {
    let mut out = String::new();
    let mut gap = true;
    for &b in s.as_bytes() {
        let ch = b as char;
        if is_go_space(ch) {
            gap = true;
        } else if gap {
            out.push(ch);
            gap = false;
        }
    }
    out
}

/// goutils.DeleteWhiteSpace: byte-wise, as the Go code is.
fn nospace(s: &str) -> String {
    let mut out = String::new();
    let mut count = 0;
    for &b in s.as_bytes() {
        let ch = b as char;
        if !is_go_space(ch) {
            out.push(ch);
            count += 1;
        }
    }
    if count == s.len() {
        return s.to_string();
    }
    out
}

fn byte_str(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn abbreviate_full(s: &str, offset: i64, max_width: i64) -> Result<String, String> {
    if s.is_empty() {
        return Ok(String::new());
    }
    if max_width < 4 {
        return Err("stringutils illegal argument: Minimum abbreviation width is 4".into());
    }
    let len = s.len() as i64;
    if len <= max_width {
        return Ok(s.to_string());
    }
    let mut offset = offset.min(len);
    if len - offset < max_width - 3 {
        offset = len - (max_width - 3);
    }
    let b = s.as_bytes();
    if offset <= 4 {
        return Ok(format!("{}...", byte_str(&b[..(max_width - 3) as usize])));
    }
    if max_width < 7 {
        return Err(
            "stringutils illegal argument: Minimum abbreviation width with offset is 7".into(),
        );
    }
    if offset + max_width - 3 < len {
        let rest = byte_str(&b[offset as usize..]);
        let ab = abbreviate_full(&rest, 0, max_width - 3).unwrap_or_default();
        return Ok(format!("...{}", ab));
    }
    Ok(format!(
        "...{}",
        byte_str(&b[(len - (max_width - 3)) as usize..])
    ))
}

fn wrap_custom(s: &str, wrap_length: i64, newline: &str, wrap_long: bool) -> String {
    if s.is_empty() {
        return String::new();
    }
    let newline = if newline.is_empty() { "\n" } else { newline };
    let wl = wrap_length.max(1) as usize;
    let b = s.as_bytes();
    let len = b.len();
    let mut offset = 0usize;
    let mut out: Vec<u8> = Vec::new();
    while len - offset > wl {
        if b[offset] == b' ' {
            offset += 1;
            continue;
        }
        let end = (wl + offset + 1).min(len);
        let space = b[offset..end].iter().rposition(|&c| c == b' ');
        if let Some(sp) = space {
            let at = sp + offset;
            out.extend_from_slice(&b[offset..at]);
            out.extend_from_slice(newline.as_bytes());
            offset = at + 1;
        } else if wrap_long {
            let end = wl + offset;
            out.extend_from_slice(&b[offset..end]);
            out.extend_from_slice(newline.as_bytes());
            offset += wl;
        } else {
            let end = wl + offset;
            match b[end..].iter().position(|&c| c == b' ') {
                None => {
                    out.extend_from_slice(&b[offset..]);
                    offset = len;
                }
                Some(idx) => {
                    let at = idx + end;
                    out.extend_from_slice(&b[offset..at]);
                    out.extend_from_slice(newline.as_bytes());
                    offset = at + 1;
                }
            }
        }
    }
    out.extend_from_slice(&b[offset..]);
    byte_str(&out)
}

// ---------------------------------------------------------------------------
// xstrings case conversion

fn is_connector(r: char) -> bool {
    r == '-' || r == '_' || is_go_space(r)
}

fn is_alphabet(r: char) -> bool {
    if !r.is_alphabetic() {
        return false;
    }
    let u = r as u32;
    !(0x2E80..=0x9FFF).contains(&u)
        && !(0xF900..=0xFAFF).contains(&u)
        && !(0x20000..=0x2FA1F).contains(&u)
}

fn is_punct(r: char) -> bool {
    r.is_ascii_punctuation() && !matches!(r, '$' | '+' | '<' | '=' | '>' | '^' | '`' | '|' | '~')
        || (!r.is_ascii()
            && !r.is_alphanumeric()
            && !r.is_whitespace()
            && !r.is_control()
            && is_unicode_punct(r))
}

fn is_unicode_punct(r: char) -> bool {
    let u = r as u32;
    (0x2010..=0x2027).contains(&u)
        || (0x2030..=0x205E).contains(&u)
        || (0x3001..=0x3003).contains(&u)
        || (0x3008..=0x3011).contains(&u)
        || matches!(u, 0xA1 | 0xA7 | 0xAB | 0xB6 | 0xB7 | 0xBB | 0xBF)
}

fn to_camel(s: &str, big: bool) -> String {
    if s.is_empty() {
        return String::new();
    }
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut idx = 0;
    let mut first_upper = false;
    let mut r0 = '\0';
    let mut consumed = false;
    while idx < chars.len() {
        r0 = chars[idx];
        idx += 1;
        consumed = true;
        if !is_connector(r0) {
            first_upper = r0.is_uppercase();
            r0 = if big {
                to_upper_go(r0)
            } else {
                to_lower_go(r0)
            };
            break;
        }
        out.push(r0);
    }
    if idx >= chars.len() {
        if consumed {
            out.push(r0);
        }
        return out;
    }
    while idx < chars.len() {
        let r1 = r0;
        r0 = chars[idx];
        idx += 1;
        if is_connector(r0) && is_connector(r1) {
            out.push(r1);
            continue;
        }
        if is_connector(r1) {
            first_upper = r0.is_uppercase();
            r0 = to_upper_go(r0);
        } else {
            if first_upper {
                if r0.is_uppercase() {
                    r0 = to_lower_go(r0);
                } else {
                    first_upper = false;
                }
            }
            out.push(r1);
        }
    }
    if first_upper && !big {
        r0 = to_lower_go(r0);
    }
    out.push(r0);
    out
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Wt {
    Invalid,
    Number,
    Upper,
    Alpha,
    Connector,
    Punct,
    Other,
}

fn next_word(s: &str) -> (Wt, &str, &str) {
    if s.is_empty() {
        return (Wt::Invalid, "", "");
    }
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    let at = |k: usize| chars.get(k).map(|c| c.1);
    let r = chars[0].1;
    let mut n = 1usize; // chars consumed into the word
    let wt;
    if is_connector(r) {
        wt = Wt::Connector;
        while at(n).is_some_and(is_connector) {
            n += 1;
        }
    } else if is_punct(r) {
        wt = Wt::Punct;
        while at(n).is_some_and(is_punct) {
            n += 1;
        }
    } else if r.is_uppercase() {
        wt = Wt::Upper;
        if let Some(r2) = at(n) {
            if r2.is_uppercase() {
                // run of upper case letters
                let mut m = n + 1;
                while at(m).is_some_and(|c| c.is_uppercase()) {
                    m += 1;
                }
                if at(m).is_some_and(is_alphabet) {
                    m -= 1;
                }
                n = m;
            } else if is_alphabet(r2) {
                let mut m = n + 1;
                while at(m).is_some_and(|c| is_alphabet(c) && !c.is_uppercase()) {
                    m += 1;
                }
                n = m;
            }
        }
    } else if is_alphabet(r) {
        wt = Wt::Alpha;
        while at(n).is_some_and(|c| is_alphabet(c) && !c.is_uppercase()) {
            n += 1;
        }
    } else if r.is_numeric() {
        wt = Wt::Number;
        while at(n).is_some_and(|c| c.is_numeric()) {
            n += 1;
        }
    } else {
        wt = Wt::Other;
        while at(n)
            .is_some_and(|c| !(is_connector(c) || is_alphabet(c) || c.is_numeric() || is_punct(c)))
        {
            n += 1;
        }
    }
    let off = chars.get(n).map(|c| c.0).unwrap_or(s.len());
    (wt, &s[..off], &s[off..])
}

fn to_lower_word(out: &mut String, wt: Wt, w: &str, conn: char) {
    if wt != Wt::Upper && wt != Wt::Connector {
        out.push_str(w);
        return;
    }
    for c in w.chars() {
        if is_connector(c) {
            out.push(conn);
        } else if c.is_uppercase() {
            out.push(to_lower_go(c));
        } else {
            out.push(c);
        }
    }
}

fn camel_to_lower(s: &str, conn: char) -> String {
    if s.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    let (mut wt, mut word, mut remaining) = next_word(s);
    while !remaining.is_empty() {
        if wt != Wt::Connector {
            to_lower_word(&mut out, wt, word, conn);
        }
        let prev = wt;
        let last = word;
        let nw = next_word(remaining);
        wt = nw.0;
        word = nw.1;
        remaining = nw.2;
        match prev {
            Wt::Number => {
                while wt == Wt::Alpha || wt == Wt::Number {
                    to_lower_word(&mut out, wt, word, conn);
                    let nw = next_word(remaining);
                    wt = nw.0;
                    word = nw.1;
                    remaining = nw.2;
                }
                if wt != Wt::Invalid && wt != Wt::Punct && wt != Wt::Connector {
                    out.push(conn);
                }
            }
            Wt::Connector => to_lower_word(&mut out, prev, last, conn),
            Wt::Punct => {}
            _ => {
                if wt != Wt::Number {
                    if wt != Wt::Connector && wt != Wt::Punct {
                        out.push(conn);
                    }
                    continue;
                }
                if remaining.is_empty() {
                    continue;
                }
                let last = word;
                let nw = next_word(remaining);
                wt = nw.0;
                word = nw.1;
                remaining = nw.2;
                if wt != Wt::Alpha {
                    to_lower_word(&mut out, Wt::Number, last, conn);
                    if wt != Wt::Connector && wt != Wt::Punct {
                        out.push(conn);
                    }
                    continue;
                }
                out.push(conn);
                to_lower_word(&mut out, Wt::Number, last, conn);
                while wt == Wt::Alpha || wt == Wt::Number {
                    to_lower_word(&mut out, wt, word, conn);
                    let nw = next_word(remaining);
                    wt = nw.0;
                    word = nw.1;
                    remaining = nw.2;
                }
                if wt != Wt::Invalid && wt != Wt::Connector && wt != Wt::Punct {
                    out.push(conn);
                }
            }
        }
    }
    to_lower_word(&mut out, wt, word, conn);
    out
}

// ---------------------------------------------------------------------------
// Randomness

fn rand_bytes(n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    if getrandom::getrandom(&mut b).is_err() {
        // Fall back to a time-seeded xorshift; randomness here is never
        // security-relevant for templates that only need shape.
        let mut x = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E3779B97F4A7C15)
            | 1;
        for v in b.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *v = x as u8;
        }
    }
    b
}

fn rand_below(n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    loop {
        let b = rand_bytes(8);
        let v = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        let zone = u64::MAX - (u64::MAX % n);
        if v < zone {
            return v % n;
        }
    }
}

fn rand_from(chars: &[u8], count: i64) -> String {
    if count <= 0 {
        return String::new();
    }
    (0..count)
        .map(|_| chars[rand_below(chars.len() as u64) as usize] as char)
        .collect()
}

const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

// ---------------------------------------------------------------------------
// Base64/32 (Go's decoders, to keep their error offsets)

fn b64_decode(s: &str) -> Result<Vec<u8>, String> {
    let src = s.as_bytes();
    let map = |c: u8| -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some((c - b'A') as u32),
            b'a'..=b'z' => Some((c - b'a') as u32 + 26),
            b'0'..=b'9' => Some((c - b'0') as u32 + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    };
    let corrupt = |i: usize| format!("illegal base64 data at input byte {}", i);
    let mut out = Vec::new();
    let mut si = 0usize;
    while si < src.len() {
        let mut dbuf = [0u32; 4];
        let mut dlen = 4;
        let mut j = 0usize;
        let mut end = false;
        while j < 4 {
            if si == src.len() {
                if j == 0 {
                    return Ok(out);
                }
                return Err(corrupt(si - j));
            }
            let c = src[si];
            si += 1;
            if let Some(v) = map(c) {
                dbuf[j] = v;
                j += 1;
                continue;
            }
            if c == b'\n' || c == b'\r' {
                continue;
            }
            if c != b'=' {
                return Err(corrupt(si - 1));
            }
            match j {
                0 | 1 => return Err(corrupt(si - 1)),
                2 => {
                    while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                        si += 1;
                    }
                    if si == src.len() {
                        return Err(corrupt(src.len()));
                    }
                    if src[si] != b'=' {
                        return Err(corrupt(si - 1));
                    }
                    si += 1;
                }
                _ => {}
            }
            while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                si += 1;
            }
            if si < src.len() {
                return Err(corrupt(si));
            }
            dlen = j;
            end = true;
            break;
        }
        let val = dbuf[0] << 18 | dbuf[1] << 12 | dbuf[2] << 6 | dbuf[3];
        let bytes = [(val >> 16) as u8, (val >> 8) as u8, val as u8];
        out.extend_from_slice(&bytes[..dlen - 1]);
        if end {
            break;
        }
    }
    Ok(out)
}

const B32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn b32_encode(src: &[u8]) -> String {
    let mut out = String::new();
    for chunk in src.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let v = u64::from(buf[0]) << 32
            | u64::from(buf[1]) << 24
            | u64::from(buf[2]) << 16
            | u64::from(buf[3]) << 8
            | u64::from(buf[4]);
        let n = match chunk.len() {
            1 => 2,
            2 => 4,
            3 => 5,
            4 => 7,
            _ => 8,
        };
        for k in 0..8 {
            if k < n {
                out.push(B32[((v >> (35 - 5 * k)) & 31) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn b32_decode(s: &str) -> Result<Vec<u8>, String> {
    let src: Vec<u8> = s.bytes().filter(|&c| c != b'\n' && c != b'\r').collect();
    let corrupt = |i: usize| format!("illegal base32 data at input byte {}", i);
    let mut out = Vec::new();
    let mut i = 0;
    while i < src.len() {
        if src.len() - i < 8 {
            return Err(corrupt(src.len() - (src.len() - i).min(src.len())));
        }
        let q = &src[i..i + 8];
        let mut v: u64 = 0;
        let mut n = 8;
        for (k, &c) in q.iter().enumerate() {
            if c == b'=' {
                if k < 2 || !q[k..].iter().all(|&x| x == b'=') || i + 8 != src.len() {
                    return Err(corrupt(i + k));
                }
                n = k;
                break;
            }
            let d = B32
                .iter()
                .position(|&x| x == c)
                .ok_or_else(|| corrupt(i + k))?;
            v = v << 5 | d as u64;
        }
        v <<= 5 * (8 - n) as u64;
        let bytes = [
            (v >> 32) as u8,
            (v >> 24) as u8,
            (v >> 16) as u8,
            (v >> 8) as u8,
            v as u8,
        ];
        let nb = match n {
            8 => 5,
            7 => 4,
            5 => 3,
            4 => 2,
            2 => 1,
            _ => return Err(corrupt(i + n)),
        };
        out.extend_from_slice(&bytes[..nb]);
        i += 8;
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Go JSON

/// Writes `v` as Go's encoding/json does.
pub(crate) fn go_json(
    v: &Value,
    escape_html: bool,
    indent: Option<&str>,
) -> Result<String, String> {
    let mut out = String::new();
    write_json(&mut out, v, escape_html, indent, 0)?;
    Ok(out)
}

pub(crate) fn json_string(out: &mut String, s: &str, escape_html: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '<' | '>' | '&' if escape_html => out.push_str(&format!("\\u00{:02x}", c as u32)),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u00{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn newline_indent(out: &mut String, indent: &str, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str(indent);
    }
}

fn write_json(
    out: &mut String,
    v: &Value,
    esc: bool,
    indent: Option<&str>,
    depth: usize,
) -> Result<(), String> {
    if depth > 1000 {
        return Err("json: unsupported value: encountered a cycle".into());
    }
    match v {
        Value::Invalid | Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) | Value::Int64(i) => out.push_str(&i.to_string()),
        Value::Uint64(u) => out.push_str(&u.to_string()),
        Value::Float(f) => {
            if !f.is_finite() {
                return Err(format!(
                    "json: unsupported value: {}",
                    gofmt::format_float(*f, 'g', -1)
                ));
            }
            out.push_str(&gofmt::json_float(*f));
        }
        Value::String(s) => json_string(out, s, esc),
        Value::Time(t) => json_string(out, &t.rfc3339_nano(), esc),
        Value::Version(x) => json_string(out, &x.to_string(), esc),
        Value::List(l) => {
            if l.nil {
                out.push_str("null");
                return Ok(());
            }
            out.push('[');
            for (i, item) in l.items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if let Some(ind) = indent {
                    newline_indent(out, ind, depth + 1);
                }
                write_json(out, item, esc, indent, depth + 1)?;
            }
            if let (Some(ind), false) = (indent, l.items.is_empty()) {
                newline_indent(out, ind, depth);
            }
            out.push(']');
        }
        Value::Map(m) => {
            let entries = m.entries();
            out.push('{');
            for (i, (k, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if let Some(ind) = indent {
                    newline_indent(out, ind, depth + 1);
                }
                json_string(out, k, esc);
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
                write_json(out, item, esc, indent, depth + 1)?;
            }
            if let (Some(ind), false) = (indent, entries.is_empty()) {
                newline_indent(out, ind, depth);
            }
            out.push('}');
        }
    }
    Ok(())
}

/// Go's json.Unmarshal into interface{}.
pub(crate) fn from_json(s: &str) -> Result<Value, String> {
    match serde_json::from_str::<serde_json::Value>(s) {
        Ok(v) => Ok(Value::from(&v)),
        Err(e) => Err(json_error(s, &e)),
    }
}

fn json_error(s: &str, e: &serde_json::Error) -> String {
    if s.trim().is_empty() || e.is_eof() {
        return "unexpected end of JSON input".into();
    }
    format!("invalid JSON: {}", e)
}

// ---------------------------------------------------------------------------
// Decimal arithmetic (shopspring/decimal as Sprig's addf etc. use it)

#[derive(Clone, Copy, Debug)]
struct Dec {
    m: i128,
    e: i32, // value = m * 10^e
}

impl Dec {
    fn from_f64(f: f64) -> Option<Dec> {
        if !f.is_finite() {
            return None;
        }
        if f == 0.0 {
            return Some(Dec { m: 0, e: 0 });
        }
        let s = format!("{:e}", f);
        let (mant, exp) = s.split_once('e')?;
        let exp: i32 = exp.parse().ok()?;
        let neg = mant.starts_with('-');
        let mant = mant.trim_start_matches('-');
        let (ip, fp) = mant.split_once('.').unwrap_or((mant, ""));
        let digits = format!("{}{}", ip, fp);
        let m: i128 = digits.parse().ok()?;
        Some(Dec {
            m: if neg { -m } else { m },
            e: exp - fp.len() as i32,
        })
    }

    fn align(a: Dec, b: Dec) -> Option<(i128, i128, i32)> {
        let e = a.e.min(b.e);
        let sa = 10i128.checked_pow((a.e - e) as u32)?;
        let sb = 10i128.checked_pow((b.e - e) as u32)?;
        Some((a.m.checked_mul(sa)?, b.m.checked_mul(sb)?, e))
    }

    fn add(a: Dec, b: Dec) -> Option<Dec> {
        let (x, y, e) = Dec::align(a, b)?;
        Some(Dec {
            m: x.checked_add(y)?,
            e,
        })
    }

    fn sub(a: Dec, b: Dec) -> Option<Dec> {
        let (x, y, e) = Dec::align(a, b)?;
        Some(Dec {
            m: x.checked_sub(y)?,
            e,
        })
    }

    fn mul(a: Dec, b: Dec) -> Option<Dec> {
        Some(Dec {
            m: a.m.checked_mul(b.m)?,
            e: a.e + b.e,
        })
    }

    /// DivRound(b, 16): rounded half away from zero to 16 decimals.
    fn div(a: Dec, b: Dec) -> Option<Dec> {
        if b.m == 0 {
            return None;
        }
        // a/b = (a.m / b.m) * 10^(a.e - b.e); want m * 10^-16.
        let shift = a.e - b.e + 16;
        let (num, den) = if shift >= 0 {
            (a.m.checked_mul(10i128.checked_pow(shift as u32)?)?, b.m)
        } else {
            (a.m, b.m.checked_mul(10i128.checked_pow((-shift) as u32)?)?)
        };
        let q = num / den;
        let r = num % den;
        let neg = (num < 0) != (den < 0);
        let q = if r.abs().checked_mul(2)? >= den.abs() {
            if neg {
                q - 1
            } else {
                q + 1
            }
        } else {
            q
        };
        Some(Dec { m: q, e: -16 })
    }

    fn to_f64(self) -> f64 {
        format!("{}e{}", self.m, self.e).parse().unwrap_or(0.0)
    }
}

fn decimal_op(
    a: &Value,
    rest: &[Value],
    op: fn(Dec, Dec) -> Option<Dec>,
    fop: fn(f64, f64) -> f64,
    is_div: bool,
) -> Result<f64, FuncError> {
    let mut acc_f = to_float64(a);
    let mut acc = Dec::from_f64(acc_f);
    for x in rest {
        let xf = to_float64(x);
        let d = Dec::from_f64(xf);
        acc = match (acc, d) {
            (Some(a), Some(b)) => {
                if b.m == 0 && is_div {
                    return Err("decimal division by zero".into());
                }
                op(a, b)
            }
            _ => None,
        };
        acc_f = match acc {
            Some(d) => d.to_f64(),
            None => fop(acc_f, xf),
        };
        if acc.is_none() {
            acc = Dec::from_f64(acc_f);
        }
    }
    Ok(match acc {
        Some(d) => d.to_f64(),
        None => acc_f,
    })
}

// ---------------------------------------------------------------------------
// Lists

fn until_step(start: i64, stop: i64, step: i64, limits: &Limits) -> Result<Vec<i64>, FuncError> {
    let mut v = Vec::new();
    let check = |n: usize| -> Result<(), FuncError> {
        if n > limits.max_collection {
            Err(format!(
                "untilStep: more than {} elements",
                limits.max_collection
            ))
        } else {
            Ok(())
        }
    };
    if stop < start {
        if step >= 0 {
            return Ok(v);
        }
        let mut i = start;
        while i > stop {
            v.push(i);
            check(v.len())?;
            i = match i.checked_add(step) {
                Some(x) => x,
                None => break,
            };
        }
        return Ok(v);
    }
    if step <= 0 {
        return Ok(v);
    }
    let mut i = start;
    while i < stop {
        v.push(i);
        check(v.len())?;
        i = match i.checked_add(step) {
            Some(x) => x,
            None => break,
        };
    }
    Ok(v)
}

fn int_list(v: Vec<i64>) -> Value {
    Value::typed_list(ElemType::Int, v.into_iter().map(Value::Int).collect())
}

/// Sprig's strslice.
fn strslice(v: &Value) -> Vec<String> {
    match v {
        Value::List(l) => {
            if l.elem == ElemType::String {
                return l.items.iter().map(|x| s(x).to_string()).collect();
            }
            l.items.iter().filter(|x| !x.is_nil()).map(strval).collect()
        }
        Value::Invalid | Value::Nil => Vec::new(),
        other => vec![strval(other)],
    }
}

fn deep_copy(v: &Value) -> Value {
    match v {
        Value::List(l) => Value::List(Arc::new(List {
            elem: l.elem,
            items: l.items.iter().map(deep_copy).collect(),
            nil: l.nil,
            methods: None,
        })),
        Value::Map(m) => Value::Map(Arc::new(Map::new(
            m.string_values,
            m.entries()
                .into_iter()
                .map(|(k, v)| (k, deep_copy(&v)))
                .collect(),
        ))),
        other => other.clone(),
    }
}

/// mergo.Merge / MergeWithOverwrite for map[string]interface{}, as Sprig
/// uses them (the destination is changed in place).
fn mergo(dst: &Arc<Map>, src: &Arc<Map>, overwrite: bool, depth: usize) {
    if depth > 100 || Arc::ptr_eq(dst, src) {
        return;
    }
    for (k, sv) in src.entries() {
        let dv = dst.get(&k);
        if let Value::Nil = sv {
            if overwrite {
                dst.insert(k, Value::Nil);
            }
            continue;
        }
        if let (Value::Map(sm), Some(Value::Map(dm))) = (&sv, &dv) {
            mergo(dm, sm, overwrite, depth + 1);
            if !dm.is_empty() {
                continue;
            }
        }
        let dst_empty = match &dv {
            None => true,
            Some(d) => empty(d),
        };
        if overwrite || dst_empty {
            dst.insert(k, sv);
        }
    }
}

// ---------------------------------------------------------------------------
// Paths (Go's path package)

pub(crate) fn path_clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    if rooted {
        format!("/{}", joined)
    } else if joined.is_empty() {
        ".".into()
    } else {
        joined
    }
}

fn path_base(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return "/".into();
    }
    match t.rfind('/') {
        Some(i) => t[i + 1..].to_string(),
        None => t.to_string(),
    }
}

fn path_dir(p: &str) -> String {
    let i = p.rfind('/').map(|i| i + 1).unwrap_or(0);
    path_clean(&p[..i])
}

fn path_ext(p: &str) -> String {
    for (i, c) in p.char_indices().rev() {
        if c == '/' {
            break;
        }
        if c == '.' {
            return p[i..].to_string();
        }
    }
    String::new()
}

// ---------------------------------------------------------------------------
// Regexp (Go RE2 syntax on Rust's regex)

/// Translates Go's ASCII-only Perl classes to Rust's Unicode regex.
fn go_regex(pat: &str) -> Result<regex::Regex, String> {
    let mut out = String::with_capacity(pat.len() + 8);
    let b: Vec<char> = pat.chars().collect();
    let mut i = 0;
    let mut in_class = false;
    while i < b.len() {
        let c = b[i];
        if c == '\\' && i + 1 < b.len() {
            let n = b[i + 1];
            let rep = match (in_class, n) {
                (false, 'd' | 'D' | 'w' | 'W' | 's' | 'S' | 'b' | 'B') => {
                    Some(format!("(?-u:\\{})", n))
                }
                (true, 'd') => Some("0-9".to_string()),
                (true, 'w') => Some("0-9A-Za-z_".to_string()),
                (true, 's') => Some("\\t\\n\\x0C\\r ".to_string()),
                _ => None,
            };
            match rep {
                Some(r) => out.push_str(&r),
                None => {
                    out.push(c);
                    out.push(n);
                }
            }
            i += 2;
            continue;
        }
        if c == '[' && !in_class {
            in_class = true;
            out.push(c);
            i += 1;
            // A leading ']' or '^]' is literal.
            if i < b.len() && b[i] == '^' {
                out.push('^');
                i += 1;
            }
            if i < b.len() && b[i] == ']' {
                out.push_str("\\]");
                i += 1;
            }
            continue;
        }
        if c == '[' && in_class && i + 1 < b.len() && b[i + 1] == ':' {
            // POSIX class [:alpha:]
            if let Some(end) = pat[pat.char_indices().nth(i).map(|x| x.0).unwrap_or(0)..].find(":]")
            {
                let start_byte = pat.char_indices().nth(i).map(|x| x.0).unwrap_or(0);
                let cls = &pat[start_byte..start_byte + end + 2];
                out.push_str(cls);
                i += cls.chars().count();
                continue;
            }
        }
        if c == ']' && in_class {
            in_class = false;
        }
        out.push(c);
        i += 1;
    }
    regex::Regex::new(&out).map_err(|e| {
        let msg = e.to_string();
        let last = msg.lines().last().unwrap_or("").trim().to_string();
        format!(
            "error parsing regexp: {}: `{}`",
            last.trim_start_matches("error: "),
            pat
        )
    })
}

fn must_regex(pat: &str) -> Result<regex::Regex, FuncError> {
    go_regex(pat).map_err(|e| format!("regexp: Compile({}): {}", go_backquote(pat), e))
}

fn go_backquote(s: &str) -> String {
    if gofmt::can_backquote(s) {
        format!("`{}`", s)
    } else {
        gofmt::quote(s)
    }
}

fn find_all(re: &regex::Regex, s: &str, n: i64) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    if n == 0 {
        return out;
    }
    let mut prev_end: Option<usize> = None;
    for m in re.find_iter(s) {
        if m.start() == m.end() && prev_end == Some(m.start()) {
            continue;
        }
        out.push((m.start(), m.end()));
        prev_end = Some(m.end());
        if n > 0 && out.len() as i64 >= n {
            break;
        }
    }
    out
}

fn regex_split(re: &regex::Regex, s: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    if !re.as_str().is_empty() && s.is_empty() {
        return vec![String::new()];
    }
    let matches = find_all(re, s, n);
    let mut strings = Vec::new();
    let mut beg = 0;
    let mut end = 0;
    for (a, b) in matches {
        if n > 0 && strings.len() as i64 == n - 1 {
            break;
        }
        end = a;
        if b != 0 {
            strings.push(s[beg..end].to_string());
        }
        beg = b;
    }
    if end != s.len() {
        strings.push(s[beg..].to_string());
    }
    strings
}

fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Go's Regexp.ReplaceAllString template expansion ($1, ${name}).
fn expand_replace(re: &regex::Regex, s: &str, repl: &str, literal: bool) -> String {
    let mut out = String::new();
    let mut last = 0;
    let mut prev_end: Option<usize> = None;
    for caps in re.captures_iter(s) {
        let m = match caps.get(0) {
            Some(m) => m,
            None => continue,
        };
        if m.start() == m.end() && prev_end == Some(m.start()) {
            continue;
        }
        out.push_str(&s[last..m.start()]);
        if literal {
            out.push_str(repl);
        } else {
            expand(&mut out, repl, &caps, re);
        }
        last = m.end();
        prev_end = Some(m.end());
    }
    out.push_str(&s[last..]);
    out
}

fn expand(out: &mut String, template: &str, caps: &regex::Captures<'_>, re: &regex::Regex) {
    let t = template.as_bytes();
    let mut i = 0;
    while i < t.len() {
        if t[i] != b'$' {
            let start = i;
            while i < t.len() && t[i] != b'$' {
                i += 1;
            }
            out.push_str(&template[start..i]);
            continue;
        }
        if i + 1 < t.len() && t[i + 1] == b'$' {
            out.push('$');
            i += 2;
            continue;
        }
        // parse name
        let (name, next) = if i + 1 < t.len() && t[i + 1] == b'{' {
            match template[i + 2..].find('}') {
                Some(e) => {
                    let n = &template[i + 2..i + 2 + e];
                    if n.is_empty() || !n.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
                        out.push('$');
                        i += 1;
                        continue;
                    }
                    (n, i + 3 + e)
                }
                None => {
                    out.push('$');
                    i += 1;
                    continue;
                }
            }
        } else {
            let mut j = i + 1;
            while j < t.len() && (t[j].is_ascii_alphanumeric() || t[j] == b'_') {
                j += 1;
            }
            if j == i + 1 {
                out.push('$');
                i += 1;
                continue;
            }
            (&template[i + 1..j], j)
        };
        if let Ok(num) = name.parse::<usize>() {
            if let Some(m) = caps.get(num) {
                out.push_str(m.as_str());
            }
        } else if re.capture_names().any(|n| n == Some(name)) {
            if let Some(m) = caps.name(name) {
                out.push_str(m.as_str());
            }
        }
        i = next;
    }
}

// ---------------------------------------------------------------------------
// URLs

fn url_parse(v: &str) -> Result<Value, FuncError> {
    // A reduced net/url.Parse covering scheme://userinfo@host/path?query#fragment
    // and opaque URLs.
    let mut rest = v;
    let mut fragment = String::new();
    if let Some(i) = rest.find('#') {
        fragment = pct_unescape(&rest[i + 1..]);
        rest = &rest[..i];
    }
    let mut scheme = String::new();
    if let Some(i) = rest.find(':') {
        let cand = &rest[..i];
        if !cand.is_empty()
            && cand.as_bytes()[0].is_ascii_alphabetic()
            && cand
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'-' || c == b'.')
        {
            scheme = cand.to_ascii_lowercase();
            rest = &rest[i + 1..];
        } else if i == 0 {
            return Err(format!(
                "unable to parse url: parse {}: missing protocol scheme",
                gofmt::quote(v)
            ));
        }
    }
    let mut query = String::new();
    if let Some(i) = rest.find('?') {
        query = rest[i + 1..].to_string();
        rest = &rest[..i];
    }
    let mut opaque = String::new();
    let mut host = String::new();
    let mut userinfo = String::new();
    let mut path = String::new();
    if !scheme.is_empty() && !rest.starts_with('/') {
        opaque = rest.to_string();
    } else {
        if let Some(r) = rest.strip_prefix("//") {
            let end = r.find('/').unwrap_or(r.len());
            let authority = &r[..end];
            rest = &r[end..];
            match authority.rfind('@') {
                Some(i) => {
                    userinfo = authority[..i].to_string();
                    host = authority[i + 1..].to_string();
                }
                None => host = authority.to_string(),
            }
        }
        path = pct_unescape(rest);
    }
    let hostname = {
        let h = host.as_str();
        if let Some(stripped) = h.strip_prefix('[') {
            stripped.split(']').next().unwrap_or("").to_string()
        } else {
            match h.rfind(':') {
                Some(i) => h[..i].to_string(),
                None => h.to_string(),
            }
        }
    };
    let mut m = BTreeMap::new();
    m.insert("scheme".into(), Value::str(scheme));
    m.insert("host".into(), Value::str(host));
    m.insert("hostname".into(), Value::str(hostname));
    m.insert("path".into(), Value::str(path));
    m.insert("query".into(), Value::str(query));
    m.insert("opaque".into(), Value::str(opaque));
    m.insert("fragment".into(), Value::str(fragment));
    m.insert("userinfo".into(), Value::str(userinfo));
    Ok(Value::map(m))
}

fn pct_unescape(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

fn escape_path(p: &str) -> String {
    let mut out = String::new();
    for &b in p.as_bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'_'
                    | b'.'
                    | b'~'
                    | b'$'
                    | b'&'
                    | b'+'
                    | b','
                    | b'/'
                    | b':'
                    | b';'
                    | b'='
                    | b'@'
            )
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{:02X}", b));
        }
    }
    out
}

fn url_join(d: &Arc<Map>) -> Result<Value, FuncError> {
    let get = |k: &str| -> Result<String, FuncError> {
        match d.get(k) {
            None => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.to_string()),
            Some(other) => Err(format!(
                "unable to parse {} key, must be of type string, but {} found",
                k,
                kind_name(&other)
            )),
        }
    };
    let scheme = get("scheme")?;
    let host = get("host")?;
    let path = get("path")?;
    let query = get("query")?;
    let opaque = get("opaque")?;
    let fragment = get("fragment")?;
    let userinfo = get("userinfo")?;
    let mut out = String::new();
    if !scheme.is_empty() {
        out.push_str(&scheme);
        out.push(':');
    }
    if !opaque.is_empty() {
        out.push_str(&opaque);
    } else {
        if !scheme.is_empty() || !host.is_empty() || !userinfo.is_empty() {
            if !host.is_empty() || !path.is_empty() || !userinfo.is_empty() {
                out.push_str("//");
            }
            if !userinfo.is_empty() {
                out.push_str(&userinfo);
                out.push('@');
            }
            out.push_str(&host);
        }
        let ep = escape_path(&path);
        if !ep.is_empty() && !ep.starts_with('/') && !host.is_empty() {
            out.push('/');
        }
        out.push_str(&ep);
    }
    if !query.is_empty() {
        out.push('?');
        out.push_str(&query);
    }
    if !fragment.is_empty() {
        out.push('#');
        out.push_str(&escape_path(&fragment));
    }
    Ok(Value::str(out))
}

// ---------------------------------------------------------------------------
// Dates

fn date_in_zone(fmt: &str, date: &Value, zone: &str) -> String {
    let t = match date {
        Value::Time(t) => t.clone(),
        Value::Int64(i) | Value::Int(i) => GoTime::from_unix(*i),
        _ => GoTime::now(),
    };
    let loc = Zone::load(zone).unwrap_or_else(|_| Zone::utc());
    t.in_zone(&loc).format(fmt)
}

fn duration_round(v: &Value) -> String {
    let d: i128 = match v {
        Value::String(s) => gotime::parse_duration(s).unwrap_or(0) as i128,
        Value::Int64(i) => *i as i128,
        Value::Time(t) => GoTime::now().sub(t),
        _ => 0,
    };
    let u = d.unsigned_abs();
    let second: u128 = 1_000_000_000;
    let minute = 60 * second;
    let hour = 60 * minute;
    let day = 24 * hour;
    let month = 30 * day;
    let year = 365 * day;
    if u > year {
        format!("{}y", u / year)
    } else if u > month {
        format!("{}mo", u / month)
    } else if u > day {
        format!("{}d", u / day)
    } else if u > hour {
        format!("{}h", u / hour)
    } else if u > minute {
        format!("{}m", u / minute)
    } else if u > second {
        format!("{}s", u / second)
    } else {
        "0s".into()
    }
}

fn round_duration_to_second(d: i128) -> i64 {
    let s: i128 = 1_000_000_000;
    let r = d % s;
    let mut q = d - r;
    if d >= 0 {
        if r + r >= s {
            q += s;
        }
    } else if -(r + r) >= s {
        q -= s;
    }
    q.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

// ---------------------------------------------------------------------------

fn unsupported(name: &'static str) -> Function {
    Function::variadic(&[], Param::Any, move |_, _| {
        Err(format!(
            "{} is not supported by Flotilla's template engine",
            name
        ))
    })
}

#[allow(clippy::too_many_lines)]
pub(crate) fn funcs(limits: Limits) -> FuncMap {
    use Param::*;
    let mut m = FuncMap::new();
    let l = limits;

    add(&mut m, "hello", Function::new(&[], |_, _| string("Hello!")));

    // Dates
    add(
        &mut m,
        "ago",
        Function::new(&[Any], |_, a| {
            let t = match &a[0] {
                Value::Time(t) => t.clone(),
                Value::Int64(i) | Value::Int(i) => GoTime::from_unix(*i),
                _ => GoTime::now(),
            };
            let d = GoTime::now().sub(&t);
            string(gotime::duration_string(round_duration_to_second(d)))
        }),
    );
    add(
        &mut m,
        "date",
        Function::new(&[String, Any], |_, a| {
            string(date_in_zone(s(&a[0]), &a[1], "Local"))
        }),
    );
    let diz = Function::new(&[String, Any, String], |_, a| {
        string(date_in_zone(s(&a[0]), &a[1], s(&a[2])))
    });
    add(&mut m, "date_in_zone", diz.clone());
    add(&mut m, "dateInZone", diz);
    let dm = Function::new(&[String, Time], |_, a| {
        let t = match &a[1] {
            Value::Time(t) => t.clone(),
            _ => GoTime::zero(),
        };
        match gotime::parse_duration(s(&a[0])) {
            Ok(d) => Ok(Value::Time(t.add_nanos(d as i128))),
            Err(_) => Ok(Value::Time(t)),
        }
    });
    add(&mut m, "date_modify", dm.clone());
    add(&mut m, "dateModify", dm);
    let mdm = Function::new(&[String, Time], |_, a| {
        let t = match &a[1] {
            Value::Time(t) => t.clone(),
            _ => GoTime::zero(),
        };
        let d = gotime::parse_duration(s(&a[0]))?;
        Ok(Value::Time(t.add_nanos(d as i128)))
    });
    add(&mut m, "must_date_modify", mdm.clone());
    add(&mut m, "mustDateModify", mdm);
    add(
        &mut m,
        "duration",
        Function::new(&[Any], |_, a| {
            let n: i64 = match &a[0] {
                Value::String(x) => x.parse::<i64>().unwrap_or(0),
                Value::Int64(i) => *i,
                _ => 0,
            };
            string(gotime::duration_string(n.wrapping_mul(1_000_000_000)))
        }),
    );
    add(
        &mut m,
        "durationRound",
        Function::new(&[Any], |_, a| string(duration_round(&a[0]))),
    );
    add(
        &mut m,
        "htmlDate",
        Function::new(&[Any], |_, a| {
            string(date_in_zone("2006-01-02", &a[0], "Local"))
        }),
    );
    add(
        &mut m,
        "htmlDateInZone",
        Function::new(&[Any, String], |_, a| {
            string(date_in_zone("2006-01-02", &a[0], s(&a[1])))
        }),
    );
    add(
        &mut m,
        "mustToDate",
        Function::new(&[String, String], |_, a| {
            GoTime::parse(s(&a[0]), s(&a[1]), &Zone::utc()).map(Value::Time)
        }),
    );
    add(
        &mut m,
        "toDate",
        Function::new(&[String, String], |_, a| {
            Ok(Value::Time(
                GoTime::parse(s(&a[0]), s(&a[1]), &Zone::utc()).unwrap_or_else(|_| GoTime::zero()),
            ))
        }),
    );
    add(
        &mut m,
        "now",
        Function::new(&[], |_, _| Ok(Value::Time(GoTime::now()))),
    );
    add(
        &mut m,
        "unixEpoch",
        Function::new(&[Time], |_, a| match &a[0] {
            Value::Time(t) => string(t.unix().to_string()),
            _ => string("0"),
        }),
    );

    // Strings
    add(
        &mut m,
        "abbrev",
        Function::new(&[Int, String], |_, a| {
            let w = int(&a[0]);
            if w < 4 {
                return string(s(&a[1]));
            }
            string(abbreviate_full(s(&a[1]), 0, w).unwrap_or_default())
        }),
    );
    add(
        &mut m,
        "abbrevboth",
        Function::new(&[Int, Int, String], |_, a| {
            let (left, right) = (int(&a[0]), int(&a[1]));
            if right < 4 || left > 0 && right < 7 {
                return string(s(&a[2]));
            }
            string(abbreviate_full(s(&a[2]), left, right).unwrap_or_default())
        }),
    );
    add(
        &mut m,
        "trunc",
        Function::new(&[Int, String], |_, a| {
            let c = int(&a[0]);
            let st = s(&a[1]);
            let len = st.len() as i64;
            let b = st.as_bytes();
            if c < 0 && len + c > 0 {
                return string(byte_str(&b[(len + c) as usize..]));
            }
            if c >= 0 && len > c {
                return string(byte_str(&b[..c as usize]));
            }
            string(st)
        }),
    );
    add(
        &mut m,
        "trim",
        Function::new(&[String], |_, a| string(s(&a[0]).trim_matches(is_go_space))),
    );
    add(
        &mut m,
        "upper",
        Function::new(&[String], |_, a| {
            string(
                s(&a[0])
                    .chars()
                    .map(to_upper_go)
                    .collect::<std::string::String>(),
            )
        }),
    );
    add(
        &mut m,
        "lower",
        Function::new(&[String], |_, a| {
            string(
                s(&a[0])
                    .chars()
                    .map(to_lower_go)
                    .collect::<std::string::String>(),
            )
        }),
    );
    add(
        &mut m,
        "title",
        Function::new(&[String], |_, a| string(title(s(&a[0])))),
    );
    add(
        &mut m,
        "untitle",
        Function::new(&[String], |_, a| string(untitle(s(&a[0])))),
    );
    add(
        &mut m,
        "substr",
        Function::new(&[Int, Int, String], |_, a| {
            let (start, end) = (int(&a[0]), int(&a[1]));
            let st = s(&a[2]);
            let b = st.as_bytes();
            let len = b.len() as i64;
            if start < 0 {
                if end < 0 || end > len {
                    return Err(format!(
                        "runtime error: slice bounds out of range [:{}] with length {}",
                        end, len
                    ));
                }
                return string(byte_str(&b[..end as usize]));
            }
            if end < 0 || end > len {
                if start > len {
                    return Err(format!(
                        "runtime error: slice bounds out of range [{}:{}]",
                        start, len
                    ));
                }
                return string(byte_str(&b[start as usize..]));
            }
            if start > end {
                return Err(format!(
                    "runtime error: slice bounds out of range [{}:{}]",
                    start, end
                ));
            }
            string(byte_str(&b[start as usize..end as usize]))
        }),
    );
    add(
        &mut m,
        "repeat",
        Function::new(&[Int, String], move |_, a| {
            string(go_repeat(s(&a[1]), int(&a[0]), &l)?)
        }),
    );
    let trim_all = Function::new(&[String, String], |_, a| {
        let cut: Vec<char> = s(&a[0]).chars().collect();
        string(s(&a[1]).trim_matches(|c| cut.contains(&c)))
    });
    add(&mut m, "trimall", trim_all.clone());
    add(&mut m, "trimAll", trim_all);
    add(
        &mut m,
        "trimSuffix",
        Function::new(&[String, String], |_, a| {
            string(s(&a[1]).strip_suffix(s(&a[0])).unwrap_or(s(&a[1])))
        }),
    );
    add(
        &mut m,
        "trimPrefix",
        Function::new(&[String, String], |_, a| {
            string(s(&a[1]).strip_prefix(s(&a[0])).unwrap_or(s(&a[1])))
        }),
    );
    add(
        &mut m,
        "nospace",
        Function::new(&[String], |_, a| string(nospace(s(&a[0])))),
    );
    add(
        &mut m,
        "initials",
        Function::new(&[String], |_, a| string(initials(s(&a[0])))),
    );
    add(
        &mut m,
        "randAlphaNum",
        Function::new(&[Int], |_, a| string(rand_from(ALNUM, int(&a[0])))),
    );
    add(
        &mut m,
        "randAlpha",
        Function::new(&[Int], |_, a| string(rand_from(&ALNUM[..52], int(&a[0])))),
    );
    add(
        &mut m,
        "randNumeric",
        Function::new(&[Int], |_, a| string(rand_from(&ALNUM[52..], int(&a[0])))),
    );
    add(
        &mut m,
        "randAscii",
        Function::new(&[Int], |_, a| {
            let chars: Vec<u8> = (32u8..=126).collect();
            string(rand_from(&chars, int(&a[0])))
        }),
    );
    add(
        &mut m,
        "swapcase",
        Function::new(&[String], |_, a| string(swapcase(s(&a[0])))),
    );
    add(
        &mut m,
        "shuffle",
        Function::new(&[String], |_, a| {
            let mut r: Vec<char> = s(&a[0]).chars().collect();
            for i in (1..r.len()).rev() {
                let j = rand_below(i as u64 + 1) as usize;
                r.swap(i, j);
            }
            string(r.into_iter().collect::<std::string::String>())
        }),
    );
    add(
        &mut m,
        "snakecase",
        Function::new(&[String], |_, a| string(camel_to_lower(s(&a[0]), '_'))),
    );
    add(
        &mut m,
        "camelcase",
        Function::new(&[String], |_, a| string(to_camel(s(&a[0]), true))),
    );
    add(
        &mut m,
        "kebabcase",
        Function::new(&[String], |_, a| string(camel_to_lower(s(&a[0]), '-'))),
    );
    add(
        &mut m,
        "wrap",
        Function::new(&[Int, String], |_, a| {
            string(wrap_custom(s(&a[1]), int(&a[0]), "", false))
        }),
    );
    add(
        &mut m,
        "wrapWith",
        Function::new(&[Int, String, String], |_, a| {
            string(wrap_custom(s(&a[2]), int(&a[0]), s(&a[1]), true))
        }),
    );
    add(
        &mut m,
        "contains",
        Function::new(&[String, String], |_, a| {
            Ok(Value::Bool(s(&a[1]).contains(s(&a[0]))))
        }),
    );
    add(
        &mut m,
        "hasPrefix",
        Function::new(&[String, String], |_, a| {
            Ok(Value::Bool(s(&a[1]).starts_with(s(&a[0]))))
        }),
    );
    add(
        &mut m,
        "hasSuffix",
        Function::new(&[String, String], |_, a| {
            Ok(Value::Bool(s(&a[1]).ends_with(s(&a[0]))))
        }),
    );
    add(
        &mut m,
        "quote",
        Function::variadic(&[], Any, |_, a| {
            let v: Vec<std::string::String> = a
                .iter()
                .filter(|x| !x.is_nil())
                .map(|x| gofmt::quote(&strval(x)))
                .collect();
            string(v.join(" "))
        }),
    );
    add(
        &mut m,
        "squote",
        Function::variadic(&[], Any, |_, a| {
            let v: Vec<std::string::String> = a
                .iter()
                .filter(|x| !x.is_nil())
                .map(|x| format!("'{}'", gofmt::to_string(x)))
                .collect();
            string(v.join(" "))
        }),
    );
    add(
        &mut m,
        "cat",
        Function::variadic(&[], Any, |_, a| {
            let v: Vec<std::string::String> = a
                .iter()
                .filter(|x| !x.is_nil())
                .map(gofmt::to_string)
                .collect();
            string(v.join(" "))
        }),
    );
    add(
        &mut m,
        "indent",
        Function::new(&[Int, String], move |_, a| {
            let pad = go_repeat(" ", int(&a[0]), &l)?;
            string(format!(
                "{}{}",
                pad,
                s(&a[1]).replace('\n', &format!("\n{}", pad))
            ))
        }),
    );
    add(
        &mut m,
        "nindent",
        Function::new(&[Int, String], move |_, a| {
            let pad = go_repeat(" ", int(&a[0]), &l)?;
            string(format!(
                "\n{}{}",
                pad,
                s(&a[1]).replace('\n', &format!("\n{}", pad))
            ))
        }),
    );
    add(
        &mut m,
        "replace",
        Function::new(&[String, String, String], |_, a| {
            let (old, new, src) = (s(&a[0]), s(&a[1]), s(&a[2]));
            if old.is_empty() {
                // strings.Replace with empty old inserts at every rune boundary.
                let mut out = std::string::String::new();
                out.push_str(new);
                for c in src.chars() {
                    out.push(c);
                    out.push_str(new);
                }
                return string(out);
            }
            string(src.replace(old, new))
        }),
    );
    add(
        &mut m,
        "plural",
        Function::new(&[String, String, Int], |_, a| {
            string(if int(&a[2]) == 1 { s(&a[0]) } else { s(&a[1]) })
        }),
    );
    add(
        &mut m,
        "sha1sum",
        Function::new(&[String], |_, a| {
            string(hex::encode(sha1::Sha1::digest(s(&a[0]).as_bytes())))
        }),
    );
    add(
        &mut m,
        "sha256sum",
        Function::new(&[String], |_, a| {
            string(hex::encode(sha2::Sha256::digest(s(&a[0]).as_bytes())))
        }),
    );
    add(
        &mut m,
        "sha512sum",
        Function::new(&[String], |_, a| {
            string(hex::encode(sha2::Sha512::digest(s(&a[0]).as_bytes())))
        }),
    );
    add(
        &mut m,
        "adler32sum",
        Function::new(&[String], |_, a| {
            let (mut x, mut y) = (1u32, 0u32);
            for &b in s(&a[0]).as_bytes() {
                x = (x + b as u32) % 65521;
                y = (y + x) % 65521;
            }
            string(((y << 16) | x).to_string())
        }),
    );
    add(
        &mut m,
        "toString",
        Function::new(&[Any], |_, a| string(strval(&a[0]))),
    );
    add(
        &mut m,
        "atoi",
        Function::new(&[String], |_, a| {
            let st = s(&a[0]);
            let v = if st.contains('_') || st.starts_with("0x") {
                0
            } else {
                st.parse::<i64>().unwrap_or(0)
            };
            Ok(Value::Int(v))
        }),
    );
    add(
        &mut m,
        "int64",
        Function::new(&[Any], |_, a| Ok(Value::Int64(to_int64(&a[0])))),
    );
    add(
        &mut m,
        "int",
        Function::new(&[Any], |_, a| Ok(Value::Int(to_int64(&a[0])))),
    );
    add(
        &mut m,
        "float64",
        Function::new(&[Any], |_, a| Ok(Value::Float(to_float64(&a[0])))),
    );
    add(
        &mut m,
        "seq",
        Function::variadic(&[], Int, move |_, a| {
            let p: Vec<i64> = a.iter().map(int).collect();
            let join = |v: Vec<i64>| -> std::string::String {
                v.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let r = match p.len() {
                0 => return string(""),
                1 => {
                    let (start, end) = (1, p[0]);
                    let inc = if end < start { -1 } else { 1 };
                    until_step(start, end.wrapping_add(inc), inc, &l)?
                }
                3 => {
                    let (start, step, end) = (p[0], p[1], p[2]);
                    let mut inc = 1;
                    if end < start {
                        inc = -1;
                        if step > 0 {
                            return string("");
                        }
                    }
                    until_step(start, end.wrapping_add(inc), step, &l)?
                }
                2 => {
                    let (start, end) = (p[0], p[1]);
                    let step = if end < start { -1 } else { 1 };
                    until_step(start, end.wrapping_add(step), step, &l)?
                }
                _ => return string(""),
            };
            string(join(r))
        }),
    );
    add(
        &mut m,
        "toDecimal",
        Function::new(&[Any], |_, a| {
            let st = gofmt::to_string(&a[0]);
            let v = i64::from_str_radix(&st, 8)
                .ok()
                .filter(|_| !st.starts_with('+') || st.len() > 1)
                .unwrap_or(0);
            Ok(Value::Int64(v))
        }),
    );
    add(
        &mut m,
        "split",
        Function::new(&[String, String], |_, a| {
            let parts = go_split(s(&a[1]), s(&a[0]), -1);
            Ok(split_map(parts))
        }),
    );
    add(
        &mut m,
        "splitList",
        Function::new(&[String, String], |_, a| {
            Ok(Value::string_list(go_split(s(&a[1]), s(&a[0]), -1)))
        }),
    );
    add(
        &mut m,
        "splitn",
        Function::new(&[String, Int, String], |_, a| {
            let parts = go_split(s(&a[2]), s(&a[0]), int(&a[1]));
            Ok(split_map(parts))
        }),
    );
    add(
        &mut m,
        "toStrings",
        Function::new(&[Any], |_, a| Ok(Value::string_list(strslice(&a[0])))),
    );
    add(
        &mut m,
        "until",
        Function::new(&[Int], move |_, a| {
            let c = int(&a[0]);
            let step = if c < 0 { -1 } else { 1 };
            Ok(int_list(until_step(0, c, step, &l)?))
        }),
    );
    add(
        &mut m,
        "untilStep",
        Function::new(&[Int, Int, Int], move |_, a| {
            Ok(int_list(until_step(
                int(&a[0]),
                int(&a[1]),
                int(&a[2]),
                &l,
            )?))
        }),
    );

    // Arithmetic
    add(
        &mut m,
        "add1",
        Function::new(&[Any], |_, a| {
            Ok(Value::Int64(to_int64(&a[0]).wrapping_add(1)))
        }),
    );
    add(
        &mut m,
        "add",
        Function::variadic(&[], Any, |_, a| {
            Ok(Value::Int64(
                a.iter().fold(0i64, |acc, x| acc.wrapping_add(to_int64(x))),
            ))
        }),
    );
    add(
        &mut m,
        "sub",
        Function::new(&[Any, Any], |_, a| {
            Ok(Value::Int64(to_int64(&a[0]).wrapping_sub(to_int64(&a[1]))))
        }),
    );
    add(
        &mut m,
        "div",
        Function::new(&[Any, Any], |_, a| {
            let d = to_int64(&a[1]);
            if d == 0 {
                return Err("runtime error: integer divide by zero".into());
            }
            Ok(Value::Int64(to_int64(&a[0]).wrapping_div(d)))
        }),
    );
    add(
        &mut m,
        "mod",
        Function::new(&[Any, Any], |_, a| {
            let d = to_int64(&a[1]);
            if d == 0 {
                return Err("runtime error: integer divide by zero".into());
            }
            Ok(Value::Int64(to_int64(&a[0]).wrapping_rem(d)))
        }),
    );
    add(
        &mut m,
        "mul",
        Function::variadic(&[Any], Any, |_, a| {
            Ok(Value::Int64(
                a[1..]
                    .iter()
                    .fold(to_int64(&a[0]), |acc, x| acc.wrapping_mul(to_int64(x))),
            ))
        }),
    );
    add(
        &mut m,
        "randInt",
        Function::new(&[Int, Int], |_, a| {
            let (min, max) = (int(&a[0]), int(&a[1]));
            if max - min <= 0 {
                return Err("invalid argument to Intn".into());
            }
            Ok(Value::Int(rand_below((max - min) as u64) as i64 + min))
        }),
    );
    add(
        &mut m,
        "add1f",
        Function::new(&[Any], |_, a| {
            Ok(Value::Float(decimal_op(
                &a[0],
                &[Value::Int(1)],
                Dec::add,
                |x, y| x + y,
                false,
            )?))
        }),
    );
    add(
        &mut m,
        "addf",
        Function::variadic(&[], Any, |_, a| {
            Ok(Value::Float(decimal_op(
                &Value::Float(0.0),
                &a,
                Dec::add,
                |x, y| x + y,
                false,
            )?))
        }),
    );
    add(
        &mut m,
        "subf",
        Function::variadic(&[Any], Any, |_, a| {
            Ok(Value::Float(decimal_op(
                &a[0],
                &a[1..],
                Dec::sub,
                |x, y| x - y,
                false,
            )?))
        }),
    );
    add(
        &mut m,
        "divf",
        Function::variadic(&[Any], Any, |_, a| {
            Ok(Value::Float(decimal_op(
                &a[0],
                &a[1..],
                Dec::div,
                |x, y| x / y,
                true,
            )?))
        }),
    );
    add(
        &mut m,
        "mulf",
        Function::variadic(&[Any], Any, |_, a| {
            Ok(Value::Float(decimal_op(
                &a[0],
                &a[1..],
                Dec::mul,
                |x, y| x * y,
                false,
            )?))
        }),
    );
    let max = Function::variadic(&[Any], Any, |_, a| {
        Ok(Value::Int64(
            a[1..]
                .iter()
                .fold(to_int64(&a[0]), |acc, x| acc.max(to_int64(x))),
        ))
    });
    add(&mut m, "biggest", max.clone());
    add(&mut m, "max", max);
    add(
        &mut m,
        "min",
        Function::variadic(&[Any], Any, |_, a| {
            Ok(Value::Int64(
                a[1..]
                    .iter()
                    .fold(to_int64(&a[0]), |acc, x| acc.min(to_int64(x))),
            ))
        }),
    );
    add(
        &mut m,
        "maxf",
        Function::variadic(&[Any], Any, |_, a| {
            Ok(Value::Float(
                a[1..]
                    .iter()
                    .fold(to_float64(&a[0]), |acc, x| go_max(acc, to_float64(x))),
            ))
        }),
    );
    add(
        &mut m,
        "minf",
        Function::variadic(&[Any], Any, |_, a| {
            Ok(Value::Float(
                a[1..]
                    .iter()
                    .fold(to_float64(&a[0]), |acc, x| go_min(acc, to_float64(x))),
            ))
        }),
    );
    add(
        &mut m,
        "ceil",
        Function::new(&[Any], |_, a| Ok(Value::Float(to_float64(&a[0]).ceil()))),
    );
    add(
        &mut m,
        "floor",
        Function::new(&[Any], |_, a| Ok(Value::Float(to_float64(&a[0]).floor()))),
    );
    add(
        &mut m,
        "round",
        Function::variadic(&[Any, Int], Float64, |_, a| {
            let round_on = a.get(2).map(flt).unwrap_or(0.5);
            let val = to_float64(&a[0]);
            let pow = 10f64.powf(int(&a[1]) as f64);
            let digit = pow * val;
            let div = digit - digit.trunc();
            let r = if div >= round_on {
                digit.ceil()
            } else {
                digit.floor()
            };
            Ok(Value::Float(r / pow))
        }),
    );

    // String slices
    add(
        &mut m,
        "join",
        Function::new(&[String, Any], |_, a| {
            string(strslice(&a[1]).join(s(&a[0])))
        }),
    );
    add(
        &mut m,
        "sortAlpha",
        Function::new(&[Any], |_, a| match &a[0] {
            Value::List(_) => {
                let mut v = strslice(&a[0]);
                v.sort();
                Ok(Value::string_list(v))
            }
            other => Ok(Value::string_list(vec![strval(other)])),
        }),
    );

    // Defaults
    add(
        &mut m,
        "default",
        Function::variadic(&[Any], Any, |_, a| {
            if a.len() < 2 || empty(&a[1]) {
                return Ok(a[0].clone());
            }
            Ok(a[1].clone())
        }),
    );
    add(
        &mut m,
        "empty",
        Function::new(&[Any], |_, a| Ok(Value::Bool(empty(&a[0])))),
    );
    add(
        &mut m,
        "coalesce",
        Function::variadic(&[], Any, |_, a| {
            Ok(a.iter().find(|x| !empty(x)).cloned().unwrap_or(Value::Nil))
        }),
    );
    add(
        &mut m,
        "all",
        Function::variadic(&[], Any, |_, a| {
            Ok(Value::Bool(a.iter().all(|x| !empty(x))))
        }),
    );
    add(
        &mut m,
        "any",
        Function::variadic(&[], Any, |_, a| {
            Ok(Value::Bool(a.iter().any(|x| !empty(x))))
        }),
    );
    let compact = |name: &'static str| {
        Function::new(&[Any], move |_, a| {
            let items = list_items(&a[0], name)?;
            Ok(any_list(items.into_iter().filter(|x| !empty(x)).collect()))
        })
    };
    add(&mut m, "compact", compact("Cannot compact on type"));
    add(&mut m, "mustCompact", compact("Cannot compact on type"));
    add(
        &mut m,
        "fromJson",
        Function::new(&[String], |_, a| {
            Ok(from_json(s(&a[0])).unwrap_or(Value::Nil))
        }),
    );
    add(
        &mut m,
        "mustFromJson",
        Function::new(&[String], |_, a| from_json(s(&a[0]))),
    );
    add(
        &mut m,
        "toJson",
        Function::new(&[Any], |_, a| {
            string(go_json(&a[0], true, None).unwrap_or_default())
        }),
    );
    add(
        &mut m,
        "mustToJson",
        Function::new(&[Any], |_, a| string(go_json(&a[0], true, None)?)),
    );
    add(
        &mut m,
        "toPrettyJson",
        Function::new(&[Any], |_, a| {
            string(go_json(&a[0], true, Some("  ")).unwrap_or_default())
        }),
    );
    add(
        &mut m,
        "mustToPrettyJson",
        Function::new(&[Any], |_, a| string(go_json(&a[0], true, Some("  "))?)),
    );
    add(
        &mut m,
        "toRawJson",
        Function::new(&[Any], |_, a| string(go_json(&a[0], false, None)?)),
    );
    add(
        &mut m,
        "mustToRawJson",
        Function::new(&[Any], |_, a| string(go_json(&a[0], false, None)?)),
    );
    add(
        &mut m,
        "ternary",
        Function::new(&[Any, Any, Bool], |_, a| {
            Ok(if matches!(a[2], Value::Bool(true)) {
                a[0].clone()
            } else {
                a[1].clone()
            })
        }),
    );
    add(
        &mut m,
        "deepCopy",
        Function::new(&[Any], |_, a| Ok(deep_copy(&a[0]))),
    );
    add(
        &mut m,
        "mustDeepCopy",
        Function::new(&[Any], |_, a| Ok(deep_copy(&a[0]))),
    );

    // Reflection
    add(
        &mut m,
        "typeOf",
        Function::new(&[Any], |_, a| string(a[0].go_type())),
    );
    add(
        &mut m,
        "typeIs",
        Function::new(&[String, Any], |_, a| {
            Ok(Value::Bool(s(&a[0]) == a[1].go_type()))
        }),
    );
    add(
        &mut m,
        "typeIsLike",
        Function::new(&[String, Any], |_, a| {
            let t = a[1].go_type();
            Ok(Value::Bool(s(&a[0]) == t || format!("*{}", s(&a[0])) == t))
        }),
    );
    add(
        &mut m,
        "kindOf",
        Function::new(&[Any], |_, a| string(kind_name(&a[0]))),
    );
    add(
        &mut m,
        "kindIs",
        Function::new(&[String, Any], |_, a| {
            Ok(Value::Bool(s(&a[0]) == kind_name(&a[1])))
        }),
    );
    add(
        &mut m,
        "deepEqual",
        Function::new(&[Any, Any], |_, a| {
            Ok(Value::Bool(deep_equal(&a[0], &a[1])))
        }),
    );

    // Paths
    for (name, os) in [("base", false), ("osBase", true)] {
        let _ = os;
        add(
            &mut m,
            name,
            Function::new(&[String], |_, a| string(path_base(s(&a[0])))),
        );
    }
    for name in ["dir", "osDir"] {
        add(
            &mut m,
            name,
            Function::new(&[String], |_, a| string(path_dir(s(&a[0])))),
        );
    }
    for name in ["clean", "osClean"] {
        add(
            &mut m,
            name,
            Function::new(&[String], |_, a| string(path_clean(s(&a[0])))),
        );
    }
    for name in ["ext", "osExt"] {
        add(
            &mut m,
            name,
            Function::new(&[String], |_, a| string(path_ext(s(&a[0])))),
        );
    }
    for name in ["isAbs", "osIsAbs"] {
        add(
            &mut m,
            name,
            Function::new(&[String], |_, a| Ok(Value::Bool(s(&a[0]).starts_with('/')))),
        );
    }

    // Encoding
    add(
        &mut m,
        "b64enc",
        Function::new(&[String], |_, a| {
            string(base64::engine::general_purpose::STANDARD.encode(s(&a[0]).as_bytes()))
        }),
    );
    add(
        &mut m,
        "b64dec",
        Function::new(&[String], |_, a| match b64_decode(s(&a[0])) {
            Ok(b) => string(byte_str(&b)),
            Err(e) => string(e),
        }),
    );
    add(
        &mut m,
        "b32enc",
        Function::new(&[String], |_, a| string(b32_encode(s(&a[0]).as_bytes()))),
    );
    add(
        &mut m,
        "b32dec",
        Function::new(&[String], |_, a| match b32_decode(s(&a[0])) {
            Ok(b) => string(byte_str(&b)),
            Err(e) => string(e),
        }),
    );

    // Data structures
    let list = Function::variadic(&[], Any, |_, a| Ok(any_list(a)));
    add(&mut m, "tuple", list.clone());
    add(&mut m, "list", list);
    add(
        &mut m,
        "dict",
        Function::variadic(&[], Any, |_, a| {
            let mut d = BTreeMap::new();
            let mut i = 0;
            while i < a.len() {
                let key = strval(&a[i]);
                let v = a.get(i + 1).cloned().unwrap_or_else(|| Value::str(""));
                d.insert(key, v);
                i += 2;
            }
            Ok(Value::map(d))
        }),
    );
    add(
        &mut m,
        "get",
        Function::new(&[Map, String], |_, a| {
            Ok(map_arg(&a[0])
                .and_then(|d| d.get(s(&a[1])))
                .unwrap_or_else(|| Value::str("")))
        }),
    );
    add(
        &mut m,
        "set",
        Function::new(&[Map, String, Any], |_, a| match map_arg(&a[0]) {
            Some(d) => {
                d.insert(s(&a[1]).to_string(), a[2].clone());
                Ok(a[0].clone())
            }
            None => Err("assignment to entry in nil map".into()),
        }),
    );
    add(
        &mut m,
        "unset",
        Function::new(&[Map, String], |_, a| {
            if let Some(d) = map_arg(&a[0]) {
                d.remove(s(&a[1]));
                return Ok(a[0].clone());
            }
            Ok(Value::Map(Arc::new(crate::value::Map::new(
                false,
                BTreeMap::new(),
            ))))
        }),
    );
    add(
        &mut m,
        "hasKey",
        Function::new(&[Map, String], |_, a| {
            Ok(Value::Bool(
                map_arg(&a[0]).is_some_and(|d| d.contains_key(s(&a[1]))),
            ))
        }),
    );
    add(
        &mut m,
        "pluck",
        Function::variadic(&[String], Map, |_, a| {
            let k = s(&a[0]);
            Ok(any_list(
                a[1..]
                    .iter()
                    .filter_map(|d| map_arg(d).and_then(|d| d.get(k)))
                    .collect(),
            ))
        }),
    );
    add(
        &mut m,
        "keys",
        Function::variadic(&[], Map, |_, a| {
            let mut k = Vec::new();
            for d in &a {
                if let Some(d) = map_arg(d) {
                    k.extend(d.keys());
                }
            }
            Ok(Value::string_list(k))
        }),
    );
    add(
        &mut m,
        "pick",
        Function::variadic(&[Map], String, |_, a| {
            let mut res = BTreeMap::new();
            if let Some(d) = map_arg(&a[0]) {
                for k in &a[1..] {
                    if let Some(v) = d.get(s(k)) {
                        res.insert(s(k).to_string(), v);
                    }
                }
            }
            Ok(Value::map(res))
        }),
    );
    add(
        &mut m,
        "omit",
        Function::variadic(&[Map], String, |_, a| {
            let omit: Vec<&str> = a[1..].iter().map(s).collect();
            let mut res = BTreeMap::new();
            if let Some(d) = map_arg(&a[0]) {
                for (k, v) in d.entries() {
                    if !omit.contains(&k.as_str()) {
                        res.insert(k, v);
                    }
                }
            }
            Ok(Value::map(res))
        }),
    );
    for (name, overwrite) in [
        ("merge", false),
        ("mustMerge", false),
        ("mergeOverwrite", true),
        ("mustMergeOverwrite", true),
    ] {
        add(
            &mut m,
            name,
            Function::variadic(&[Map], Map, move |_, a| {
                let dst = match map_arg(&a[0]) {
                    Some(d) => d.clone(),
                    None => Arc::new(crate::value::Map::new(false, BTreeMap::new())),
                };
                for src in &a[1..] {
                    if let Some(sm) = map_arg(src) {
                        mergo(&dst, sm, overwrite, 0);
                    }
                }
                Ok(Value::Map(dst))
            }),
        );
    }
    add(
        &mut m,
        "values",
        Function::new(&[Map], |_, a| {
            Ok(any_list(
                map_arg(&a[0])
                    .map(|d| d.entries().into_iter().map(|(_, v)| v).collect())
                    .unwrap_or_default(),
            ))
        }),
    );
    for name in ["append", "push", "mustAppend", "mustPush"] {
        add(
            &mut m,
            name,
            Function::new(&[Any, Any], |_, a| {
                let mut items = list_items(&a[0], "Cannot push on type")?;
                items.push(a[1].clone());
                Ok(any_list(items))
            }),
        );
    }
    for name in ["prepend", "mustPrepend"] {
        add(
            &mut m,
            name,
            Function::new(&[Any, Any], |_, a| {
                let mut items = list_items(&a[0], "Cannot prepend on type")?;
                items.insert(0, a[1].clone());
                Ok(any_list(items))
            }),
        );
    }
    for name in ["first", "mustFirst"] {
        add(
            &mut m,
            name,
            Function::new(&[Any], |_, a| {
                Ok(list_items(&a[0], "Cannot find first on type")?
                    .into_iter()
                    .next()
                    .unwrap_or(Value::Nil))
            }),
        );
    }
    for name in ["last", "mustLast"] {
        add(
            &mut m,
            name,
            Function::new(&[Any], |_, a| {
                Ok(list_items(&a[0], "Cannot find last on type")?
                    .pop()
                    .unwrap_or(Value::Nil))
            }),
        );
    }
    for name in ["rest", "mustRest"] {
        add(
            &mut m,
            name,
            Function::new(&[Any], |_, a| {
                let items = list_items(&a[0], "Cannot find rest on type")?;
                if items.is_empty() {
                    return Ok(Value::nil_list());
                }
                Ok(any_list(items[1..].to_vec()))
            }),
        );
    }
    for name in ["initial", "mustInitial"] {
        add(
            &mut m,
            name,
            Function::new(&[Any], |_, a| {
                let items = list_items(&a[0], "Cannot find initial on type")?;
                if items.is_empty() {
                    return Ok(Value::nil_list());
                }
                Ok(any_list(items[..items.len() - 1].to_vec()))
            }),
        );
    }
    for name in ["reverse", "mustReverse"] {
        add(
            &mut m,
            name,
            Function::new(&[Any], |_, a| {
                let mut items = list_items(&a[0], "Cannot find reverse on type")?;
                items.reverse();
                Ok(any_list(items))
            }),
        );
    }
    for name in ["uniq", "mustUniq"] {
        add(
            &mut m,
            name,
            Function::new(&[Any], |_, a| {
                let items = list_items(&a[0], "Cannot find uniq on type")?;
                let mut dest: Vec<Value> = Vec::new();
                for it in items {
                    if !dest.iter().any(|d| deep_equal(d, &it)) {
                        dest.push(it);
                    }
                }
                Ok(any_list(dest))
            }),
        );
    }
    for name in ["without", "mustWithout"] {
        add(
            &mut m,
            name,
            Function::variadic(&[Any], Any, |_, a| {
                let items = list_items(&a[0], "Cannot find without on type")?;
                let omit = &a[1..];
                Ok(any_list(
                    items
                        .into_iter()
                        .filter(|it| !omit.iter().any(|o| deep_equal(o, it)))
                        .collect(),
                ))
            }),
        );
    }
    for name in ["has", "mustHas"] {
        add(
            &mut m,
            name,
            Function::new(&[Any, Any], |_, a| {
                if a[1].is_nil() {
                    return Ok(Value::Bool(false));
                }
                let items = list_items(&a[1], "Cannot find has on type")?;
                Ok(Value::Bool(items.iter().any(|it| deep_equal(&a[0], it))))
            }),
        );
    }
    for name in ["slice", "mustSlice"] {
        add(
            &mut m,
            name,
            Function::variadic(&[Any], Any, |_, a| {
                let l = match &a[0] {
                    Value::List(l) => l.clone(),
                    Value::Invalid | Value::Nil => return Err(NIL_DEREF.into()),
                    other => {
                        return Err(format!(
                            "list should be type of slice or array but {}",
                            kind_name(other)
                        ))
                    }
                };
                let n = l.items.len() as i64;
                if n == 0 {
                    return Ok(Value::Nil);
                }
                let start = a.get(1).map(to_int64).unwrap_or(0);
                let end = if a.len() < 3 { n } else { to_int64(&a[2]) };
                if start < 0 || end < start || end > n {
                    return Err("reflect: slice index out of range".to_string());
                }
                Ok(Value::typed_list(
                    l.elem,
                    l.items[start as usize..end as usize].to_vec(),
                ))
            }),
        );
    }
    add(
        &mut m,
        "concat",
        Function::variadic(&[], Any, |_, a| {
            let mut res = Vec::new();
            for x in &a {
                match x {
                    Value::List(l) => res.extend(l.items.iter().cloned()),
                    Value::Invalid | Value::Nil => return Err(NIL_DEREF.into()),
                    other => {
                        return Err(format!("Cannot concat type {} as list", kind_name(other)))
                    }
                }
            }
            if res.is_empty() {
                return Ok(Value::nil_list());
            }
            Ok(any_list(res))
        }),
    );
    add(
        &mut m,
        "dig",
        Function::variadic(&[], Any, |_, a| {
            if a.len() < 3 {
                return Err("dig needs at least three arguments".into());
            }
            let mut dict =
                match &a[a.len() - 1] {
                    Value::Map(d) if !d.string_values => d.clone(),
                    other => {
                        return Err(format!(
                    "interface conversion: interface {{}} is {}, not map[string]interface {{}}",
                    if other.is_nil() { "nil" } else { other.go_type() }
                ))
                    }
                };
            let def = a[a.len() - 2].clone();
            let keys = &a[..a.len() - 2];
            for (i, k) in keys.iter().enumerate() {
                let key = match k {
                    Value::String(x) => x.to_string(),
                    other => {
                        return Err(format!(
                            "interface conversion: interface {{}} is {}, not string",
                            if other.is_nil() {
                                "nil"
                            } else {
                                other.go_type()
                            }
                        ))
                    }
                };
                let step = match dict.get(&key) {
                    None => return Ok(def),
                    Some(v) => v,
                };
                if i == keys.len() - 1 {
                    return Ok(step);
                }
                dict = match step {
                    Value::Map(d) if !d.string_values => d,
                    other => {
                        return Err(format!(
                        "interface conversion: interface {{}} is {}, not map[string]interface {{}}",
                        if other.is_nil() { "nil" } else { other.go_type() }
                    ))
                    }
                };
            }
            Ok(def)
        }),
    );
    for name in ["chunk", "mustChunk"] {
        add(
            &mut m,
            name,
            Function::new(&[Int, Any], |_, a| {
                let size = int(&a[0]);
                let items = list_items(&a[1], "Cannot chunk type")?;
                if size <= 0 {
                    return Err("runtime error: integer divide by zero".into());
                }
                let chunks: Vec<Value> = if items.is_empty() {
                    Vec::new()
                } else {
                    items
                        .chunks(size as usize)
                        .map(|c| any_list(c.to_vec()))
                        .collect()
                };
                Ok(Value::typed_list(ElemType::ListAny, chunks))
            }),
        );
    }

    // Crypto
    for name in [
        "bcrypt",
        "htpasswd",
        "genPrivateKey",
        "derivePassword",
        "buildCustomCert",
        "genCA",
        "genCAWithKey",
        "genSelfSignedCert",
        "genSelfSignedCertWithKey",
        "genSignedCert",
        "genSignedCertWithKey",
        "encryptAES",
        "decryptAES",
    ] {
        add(&mut m, name, unsupported(name));
    }
    add(
        &mut m,
        "randBytes",
        Function::new(&[Int], |_, a| {
            let n = int(&a[0]);
            if n < 0 {
                return Err("runtime error: makeslice: len out of range".into());
            }
            string(base64::engine::general_purpose::STANDARD.encode(rand_bytes(n as usize)))
        }),
    );
    add(
        &mut m,
        "uuidv4",
        Function::new(&[], |_, _| {
            let mut b = rand_bytes(16);
            b[6] = (b[6] & 0x0f) | 0x40;
            b[8] = (b[8] & 0x3f) | 0x80;
            let h = hex::encode(&b);
            string(format!(
                "{}-{}-{}-{}-{}",
                &h[..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..]
            ))
        }),
    );

    // SemVer
    add(
        &mut m,
        "semver",
        Function::new(&[String], |_, a| {
            Ok(Value::Version(Arc::new(crate::semver::Version::parse(s(
                &a[0],
            ))?)))
        }),
    );
    add(
        &mut m,
        "semverCompare",
        Function::new(&[String, String], |_, a| {
            let v = crate::semver::Version::parse(s(&a[1]));
            // The constraint is parsed first, as Masterminds does.
            let c =
                crate::semver::check_constraint(s(&a[0]), &crate::semver::Version::parse("0.0.0")?);
            c?;
            let v = v?;
            Ok(Value::Bool(crate::semver::check_constraint(s(&a[0]), &v)?))
        }),
    );

    add(
        &mut m,
        "fail",
        Function::new(&[String], |_, a| Err(s(&a[0]).to_string())),
    );

    // Regex
    add(
        &mut m,
        "regexMatch",
        Function::new(&[String, String], |_, a| {
            Ok(Value::Bool(
                go_regex(s(&a[0]))
                    .map(|r| r.is_match(s(&a[1])))
                    .unwrap_or(false),
            ))
        }),
    );
    add(
        &mut m,
        "mustRegexMatch",
        Function::new(&[String, String], |_, a| {
            Ok(Value::Bool(go_regex(s(&a[0]))?.is_match(s(&a[1]))))
        }),
    );
    let find_all_fn = |must: bool| {
        Function::new(&[String, String, Int], move |_, a| {
            let re = if must {
                go_regex(s(&a[0]))?
            } else {
                must_regex(s(&a[0]))?
            };
            let st = s(&a[1]);
            let v: Vec<std::string::String> = find_all(&re, st, int(&a[2]))
                .into_iter()
                .map(|(x, y)| st[x..y].to_string())
                .collect();
            if v.is_empty() {
                return Ok(Value::List(Arc::new(List {
                    elem: ElemType::String,
                    items: Vec::new(),
                    nil: true,
                    methods: None,
                })));
            }
            Ok(Value::string_list(v))
        })
    };
    add(&mut m, "regexFindAll", find_all_fn(false));
    add(&mut m, "mustRegexFindAll", find_all_fn(true));
    let find_fn = |must: bool| {
        Function::new(&[String, String], move |_, a| {
            let re = if must {
                go_regex(s(&a[0]))?
            } else {
                must_regex(s(&a[0]))?
            };
            string(
                re.find(s(&a[1]))
                    .map(|m| m.as_str().to_string())
                    .unwrap_or_default(),
            )
        })
    };
    add(&mut m, "regexFind", find_fn(false));
    add(&mut m, "mustRegexFind", find_fn(true));
    let repl_fn = |must: bool, literal: bool| {
        Function::new(&[String, String, String], move |_, a| {
            let re = if must {
                go_regex(s(&a[0]))?
            } else {
                must_regex(s(&a[0]))?
            };
            string(expand_replace(&re, s(&a[1]), s(&a[2]), literal))
        })
    };
    add(&mut m, "regexReplaceAll", repl_fn(false, false));
    add(&mut m, "mustRegexReplaceAll", repl_fn(true, false));
    add(&mut m, "regexReplaceAllLiteral", repl_fn(false, true));
    add(&mut m, "mustRegexReplaceAllLiteral", repl_fn(true, true));
    let split_fn = |must: bool| {
        Function::new(&[String, String, Int], move |_, a| {
            let re = if must {
                go_regex(s(&a[0]))?
            } else {
                must_regex(s(&a[0]))?
            };
            Ok(Value::string_list(regex_split(&re, s(&a[1]), int(&a[2]))))
        })
    };
    add(&mut m, "regexSplit", split_fn(false));
    add(&mut m, "mustRegexSplit", split_fn(true));
    add(
        &mut m,
        "regexQuoteMeta",
        Function::new(&[String], |_, a| string(quote_meta(s(&a[0])))),
    );

    // URLs
    add(
        &mut m,
        "urlParse",
        Function::new(&[String], |_, a| url_parse(s(&a[0]))),
    );
    add(
        &mut m,
        "urlJoin",
        Function::new(&[Map], |_, a| match map_arg(&a[0]) {
            Some(d) => url_join(d),
            None => string(""),
        }),
    );

    m
}

fn go_max(a: f64, b: f64) -> f64 {
    if a.is_infinite() && a > 0.0 || b.is_infinite() && b > 0.0 {
        return f64::INFINITY;
    }
    if a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() {
            return b;
        }
        return a;
    }
    if a > b {
        a
    } else {
        b
    }
}

fn go_min(a: f64, b: f64) -> f64 {
    if a.is_infinite() && a < 0.0 || b.is_infinite() && b < 0.0 {
        return f64::NEG_INFINITY;
    }
    if a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() {
            return a;
        }
        return b;
    }
    if a < b {
        a
    } else {
        b
    }
}

/// strings.SplitN(s, sep, n).
fn go_split(s: &str, sep: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    if sep.is_empty() {
        let chars: Vec<String> = s.chars().map(|c| c.to_string()).collect();
        if n > 0 && (n as usize) < chars.len() {
            let mut v: Vec<String> = chars[..n as usize - 1].to_vec();
            let consumed: usize = v.iter().map(|x| x.len()).sum();
            v.push(s[consumed..].to_string());
            return v;
        }
        return chars;
    }
    if n < 0 {
        return s.split(sep).map(String::from).collect();
    }
    s.splitn(n as usize, sep).map(String::from).collect()
}

fn split_map(parts: Vec<String>) -> Value {
    let entries: BTreeMap<String, Value> = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| (format!("_{}", i), Value::str(p)))
        .collect();
    Value::Map(Arc::new(Map::new(true, entries)))
}
