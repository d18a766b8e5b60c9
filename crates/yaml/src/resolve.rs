//! Plain-scalar resolution as go-yaml resolves it.
//!
//! Kustomize reads resources with go-yaml v3 (YAML 1.2 booleans, `010` is
//! octal, `1_000` is an integer, timestamps become times) and kustomization
//! files, JSON patches and its final output with go-yaml v2 (YAML 1.1
//! booleans: `yes`, `on`, `n`, ...). The two differ only in booleans; both
//! use Go's `strconv` number syntax, which this module reimplements.

use serde_json::{Number, Value};

/// Which go-yaml version's rules apply to a plain scalar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolver {
    /// go-yaml v3 (kyaml): how resources and patches are read.
    V3,
    /// go-yaml v2 (sigs.k8s.io/yaml): how kustomization files are read.
    V2,
}

/// What a plain scalar resolves to.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved {
    /// `null`, `~`, empty.
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer above `i64::MAX`.
    UInt(u64),
    /// A float (may be infinite or NaN).
    Float(f64),
    /// A timestamp, already formatted as Go's `time.RFC3339Nano` prints it.
    Timestamp(String),
    /// The merge key `<<`.
    Merge,
    /// A string.
    Str,
}

fn v3_map(s: &str) -> Option<Resolved> {
    Some(match s {
        "true" | "True" | "TRUE" => Resolved::Bool(true),
        "false" | "False" | "FALSE" => Resolved::Bool(false),
        "" | "~" | "null" | "Null" | "NULL" => Resolved::Null,
        ".nan" | ".NaN" | ".NAN" => Resolved::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Resolved::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Resolved::Float(f64::NEG_INFINITY),
        "<<" => Resolved::Merge,
        _ => return None,
    })
}

fn v2_map(s: &str) -> Option<Resolved> {
    Some(match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Resolved::Bool(true),
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Resolved::Bool(false),
        _ => return v3_map(s),
    })
}

/// Resolves a plain scalar the way go-yaml does with no explicit tag.
///
/// ```
/// use flotilla_yaml::{resolve_plain, Resolved, Resolver};
///
/// assert_eq!(resolve_plain("010", Resolver::V3), Resolved::Int(8));
/// assert_eq!(resolve_plain("yes", Resolver::V3), Resolved::Str);
/// assert_eq!(resolve_plain("yes", Resolver::V2), Resolved::Bool(true));
/// assert_eq!(resolve_plain("1_000", Resolver::V3), Resolved::Int(1000));
/// ```
pub fn resolve_plain(s: &str, resolver: Resolver) -> Resolved {
    let hint = s.as_bytes().first().copied();
    let mapped = match resolver {
        Resolver::V3 => v3_map(s),
        Resolver::V2 => v2_map(s),
    };
    if let Some(r) = mapped {
        return r;
    }
    match hint {
        None => Resolved::Null,
        Some(b'.') => match parse_go_float(s) {
            Some(f) => Resolved::Float(f),
            None => Resolved::Str,
        },
        Some(b'0'..=b'9' | b'+' | b'-') => {
            if let Some(t) = parse_timestamp(s) {
                return Resolved::Timestamp(t);
            }
            let plain: std::borrow::Cow<str> = if s.contains('_') {
                s.chars().filter(|&c| c != '_').collect::<String>().into()
            } else {
                s.into()
            };
            if let Some(i) = parse_go_int(&plain) {
                return Resolved::Int(i);
            }
            if let Some(u) = parse_go_uint(&plain) {
                return Resolved::UInt(u);
            }
            if is_yaml_style_float(&plain) {
                if let Some(f) = parse_go_float(&plain) {
                    return Resolved::Float(f);
                }
            }
            Resolved::Str
        }
        _ => Resolved::Str,
    }
}

/// True when go-yaml v2 would read `s`, written plain, as something other
/// than a string (so its encoder must quote it). Also true for base-60
/// floats such as `1:20`, which v2 quotes for YAML 1.1 readers. The merge
/// key `<<` is a string to go-yaml's resolver (`<` starts no special
/// form), so it is written plain.
///
/// ```
/// use flotilla_yaml::v2_needs_quotes;
///
/// assert!(v2_needs_quotes("yes") && v2_needs_quotes("1.5") && v2_needs_quotes(""));
/// assert!(!v2_needs_quotes("<<") && !v2_needs_quotes("nginx:1.2"));
/// ```
pub fn v2_needs_quotes(s: &str) -> bool {
    !matches!(
        resolve_plain(s, Resolver::V2),
        Resolved::Str | Resolved::Merge
    ) || is_base60_float(s)
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
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
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`
fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || !(b[0] == b'+' || b[0] == b'-' || b[0].is_ascii_digit()) || !s.contains(':')
    {
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
        // [0-5]?[0-9]
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() && i - start < 2 {
            i += 1;
        }
        match i - start {
            1 => {}
            2 if b[start] <= b'5' => {}
            2 => {
                // `[0-5]?` did not match: only one digit belongs to the group.
                i = start + 1;
            }
            _ => return false,
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

/// Go's `strconv.ParseInt(s, 0, 64)` (underscores already removed).
pub fn parse_go_int(s: &str) -> Option<i64> {
    let (neg, rest) = match s.as_bytes().first()? {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    let mag = parse_go_uint_digits(rest)?;
    if neg {
        if mag <= i64::MAX as u64 + 1 {
            Some((mag as i64).wrapping_neg())
        } else {
            None
        }
    } else if mag <= i64::MAX as u64 {
        Some(mag as i64)
    } else {
        None
    }
}

/// Go's `strconv.ParseUint(s, 0, 64)` (no sign allowed).
pub fn parse_go_uint(s: &str) -> Option<u64> {
    match s.as_bytes().first()? {
        b'+' | b'-' => None,
        _ => parse_go_uint_digits(s),
    }
}

fn parse_go_uint_digits(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    let (base, digits) = if b[0] == b'0' && b.len() > 1 {
        match b[1] {
            b'x' | b'X' => (16, &s[2..]),
            b'o' | b'O' => (8, &s[2..]),
            b'b' | b'B' => (2, &s[2..]),
            _ => (8, &s[1..]),
        }
    } else {
        (10, s)
    };
    if digits.is_empty() {
        return None;
    }
    let mut acc: u64 = 0;
    for c in digits.chars() {
        let d = c.to_digit(base)? as u64;
        acc = acc.checked_mul(base as u64)?.checked_add(d)?;
    }
    Some(acc)
}

/// Go's `strconv.ParseFloat(s, 64)` for the decimal forms YAML uses; an
/// out-of-range result is a failure, as in Go.
pub fn parse_go_float(s: &str) -> Option<f64> {
    let lower = s.trim_start_matches(['+', '-']).to_ascii_lowercase();
    if lower.starts_with("inf")
        || lower.starts_with("nan")
        || lower.contains('_')
        || lower.starts_with("0x")
    {
        return None;
    }
    let f: f64 = s.parse().ok()?;
    if f.is_infinite() {
        None
    } else {
        Some(f)
    }
}

const DAYS: [u32; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

/// go-yaml's timestamp recognition (`2006-1-2`, `2006-1-2T15:4:5.999999999Z07:00`,
/// lower-case `t`, or a space and no zone), returning the time as Go's
/// JSON encoder prints it (RFC 3339 with nanoseconds, trailing zeros trimmed).
pub fn parse_timestamp(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i != 4 || i == b.len() || b[i] != b'-' {
        return None;
    }
    let year: i64 = s[..4].parse().ok()?;
    let mut p = 5;
    let num = |p: &mut usize, max_digits: usize| -> Option<u32> {
        let start = *p;
        while *p < b.len() && b[*p].is_ascii_digit() && *p - start < max_digits {
            *p += 1;
        }
        if *p == start {
            return None;
        }
        s[start..*p].parse().ok()
    };
    let month = num(&mut p, 2)?;
    if p >= b.len() || b[p] != b'-' {
        return None;
    }
    p += 1;
    let day = num(&mut p, 2)?;
    if !(1..=12).contains(&month) {
        return None;
    }
    let mut dim = DAYS[month as usize - 1];
    if month == 2 && is_leap(year) {
        dim = 29;
    }
    if day < 1 || day > dim {
        return None;
    }
    let date = format!("{year:04}-{month:02}-{day:02}");
    if p == b.len() {
        return Some(format!("{date}T00:00:00Z"));
    }
    let sep = b[p];
    if !(sep == b'T' || sep == b't' || sep == b' ') {
        return None;
    }
    p += 1;
    let hour = num(&mut p, 2)?;
    if p >= b.len() || b[p] != b':' {
        return None;
    }
    p += 1;
    let min = num(&mut p, 2)?;
    if p >= b.len() || b[p] != b':' {
        return None;
    }
    p += 1;
    let sec = num(&mut p, 2)?;
    if hour >= 24 || min >= 60 || sec >= 60 {
        return None;
    }
    let mut frac = String::new();
    if p < b.len() && (b[p] == b'.' || b[p] == b',') {
        p += 1;
        let start = p;
        while p < b.len() && b[p].is_ascii_digit() {
            p += 1;
        }
        if p == start || p - start > 9 {
            return None;
        }
        frac = s[start..p].trim_end_matches('0').to_string();
    }
    let zone = if sep == b' ' {
        if p != b.len() {
            return None;
        }
        "Z".to_string()
    } else {
        if p >= b.len() {
            return None;
        }
        match b[p] {
            b'Z' if p + 1 == b.len() => "Z".to_string(),
            b'+' | b'-' => {
                let z = &s[p..];
                let zb = z.as_bytes();
                if zb.len() != 6 || zb[3] != b':' {
                    return None;
                }
                let hh: u32 = z[1..3].parse().ok()?;
                let mm: u32 = z[4..6].parse().ok()?;
                if !z[1..3].bytes().all(|c| c.is_ascii_digit())
                    || !z[4..6].bytes().all(|c| c.is_ascii_digit())
                {
                    return None;
                }
                if hh >= 24 || mm >= 60 {
                    return None;
                }
                if hh == 0 && mm == 0 {
                    "Z".to_string()
                } else {
                    z.to_string()
                }
            }
            _ => return None,
        }
    };
    let frac = if frac.is_empty() {
        String::new()
    } else {
        format!(".{frac}")
    };
    Some(format!("{date}T{hour:02}:{min:02}:{sec:02}{frac}{zone}"))
}

/// Converts a resolved scalar into a JSON value, as kustomize's JSON round
/// trip would see it. `None` for values JSON cannot hold (NaN, infinities).
pub fn resolved_to_value(r: Resolved, text: &str) -> Option<Value> {
    Some(match r {
        Resolved::Null => Value::Null,
        Resolved::Bool(b) => Value::Bool(b),
        Resolved::Int(i) => Value::Number(i.into()),
        Resolved::UInt(u) => Value::Number(u.into()),
        Resolved::Float(f) => Value::Number(Number::from_f64(f)?),
        Resolved::Timestamp(t) => Value::String(t),
        Resolved::Merge | Resolved::Str => Value::String(text.to_string()),
    })
}

/// A plain scalar's JSON value under go-yaml v3's rules (strings for values
/// JSON cannot hold).
pub fn resolve_plain_value(s: &str) -> Value {
    resolved_to_value(resolve_plain(s, Resolver::V3), s)
        .unwrap_or_else(|| Value::String(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(resolve_plain("0x10", Resolver::V3), Resolved::Int(16));
        assert_eq!(resolve_plain("0o17", Resolver::V3), Resolved::Int(15));
        assert_eq!(resolve_plain("09", Resolver::V3), Resolved::Float(9.0));
        assert_eq!(resolve_plain("-0b101", Resolver::V3), Resolved::Int(-5));
        assert_eq!(resolve_plain("1e3", Resolver::V3), Resolved::Float(1000.0));
        assert_eq!(resolve_plain(".5", Resolver::V3), Resolved::Float(0.5));
        assert_eq!(resolve_plain("1.", Resolver::V3), Resolved::Float(1.0));
        assert_eq!(resolve_plain("1e400", Resolver::V3), Resolved::Str);
        assert_eq!(resolve_plain("+", Resolver::V3), Resolved::Str);
        assert_eq!(
            resolve_plain("12345678901234567890", Resolver::V3),
            Resolved::UInt(12345678901234567890)
        );
        assert_eq!(resolve_plain("1.2.3", Resolver::V3), Resolved::Str);
        assert_eq!(resolve_plain("on", Resolver::V3), Resolved::Str);
        assert_eq!(resolve_plain("On", Resolver::V2), Resolved::Bool(true));
    }

    #[test]
    fn timestamps() {
        assert_eq!(
            parse_timestamp("2001-12-14").as_deref(),
            Some("2001-12-14T00:00:00Z")
        );
        assert_eq!(
            parse_timestamp("2001-2-4t1:2:3.50+05:30").as_deref(),
            Some("2001-02-04T01:02:03.5+05:30")
        );
        assert_eq!(
            parse_timestamp("2001-12-14 21:59:43.10").as_deref(),
            Some("2001-12-14T21:59:43.1Z")
        );
        assert_eq!(parse_timestamp("2001-02-30"), None);
        assert_eq!(parse_timestamp("2001-12"), None);
    }

    #[test]
    fn base60() {
        assert!(is_base60_float("1:20"));
        assert!(is_base60_float("190:20:30.15"));
        assert!(!is_base60_float("1:2a"));
        assert!(!is_base60_float("a:20"));
        assert!(v2_needs_quotes("yes"));
        assert!(v2_needs_quotes("1.5"));
        assert!(v2_needs_quotes(""));
        assert!(!v2_needs_quotes("nginx:1.2"));
    }
}
