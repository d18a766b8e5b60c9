//! Go's `fmt` printing (`Sprint`, `Sprintf`, `Sprintln`) and `strconv`
//! quoting/number formatting, over [`Value`]s.

use crate::value::Value;

// ---------------------------------------------------------------------------
// strconv

/// Go's unicode.IsPrint, approximated: graphic characters and ASCII space.
pub(crate) fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let u = c as u32;
    // Format characters (Cf), private use (Co) and noncharacters.
    let not_print: &[(u32, u32)] = &[
        (0x00AD, 0x00AD),
        (0x0600, 0x0605),
        (0x061C, 0x061C),
        (0x06DD, 0x06DD),
        (0x070F, 0x070F),
        (0x08E2, 0x08E2),
        (0x180E, 0x180E),
        (0x200B, 0x200F),
        (0x202A, 0x202E),
        (0x2060, 0x206F),
        (0xD800, 0xF8FF),
        (0xFDD0, 0xFDEF),
        (0xFEFF, 0xFEFF),
        (0xFFF0, 0xFFFB),
        (0xFFFE, 0xFFFF),
        (0x110BD, 0x110BD),
        (0x1BCA0, 0x1BCA3),
        (0x1D173, 0x1D17A),
        (0xE0001, 0xE007F),
        (0xF0000, 0x10FFFF),
    ];
    !not_print.iter().any(|&(a, b)| u >= a && u <= b)
}

fn append_escaped_rune(out: &mut String, r: char, quote: char, ascii_only: bool) {
    if r == quote || r == '\\' {
        out.push('\\');
        out.push(r);
        return;
    }
    if ascii_only {
        if (r as u32) < 0x80 && is_print(r) {
            out.push(r);
            return;
        }
    } else if is_print(r) {
        out.push(r);
        return;
    }
    match r {
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        _ => {
            let u = r as u32;
            if u < ' ' as u32 || u == 0x7f {
                out.push_str(&format!("\\x{:02x}", u));
            } else if u < 0x10000 {
                out.push_str(&format!("\\u{:04x}", u));
            } else {
                out.push_str(&format!("\\U{:08x}", u));
            }
        }
    }
}

/// strconv.Quote.
pub(crate) fn quote(s: &str) -> String {
    quote_with(s, '"', false)
}

pub(crate) fn quote_with(s: &str, q: char, ascii_only: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    for c in s.chars() {
        append_escaped_rune(&mut out, c, q, ascii_only);
    }
    out.push(q);
    out
}

/// strconv.QuoteRune.
pub(crate) fn quote_rune(r: char, ascii_only: bool) -> String {
    quote_with(&r.to_string(), '\'', ascii_only)
}

/// strconv.CanBackquote.
pub(crate) fn can_backquote(s: &str) -> bool {
    for c in s.chars() {
        if c == '`' || c == '\u{FEFF}' {
            return false;
        }
        if (c as u32) < ' ' as u32 && c != '\t' {
            return false;
        }
        if c == '\x7f' {
            return false;
        }
    }
    true
}

fn unhex(b: u8) -> Option<u32> {
    (b as char).to_digit(16)
}

/// strconv.UnquoteChar: decodes the first character or escape in `s`.
pub(crate) fn unquote_char(s: &str, quote: char) -> Result<(char, &str), String> {
    let syntax = || "invalid syntax".to_string();
    let mut chars = s.chars();
    let c = chars.next().ok_or_else(syntax)?;
    if c == quote && (quote == '\'' || quote == '"') {
        return Err(syntax());
    }
    if c != '\\' {
        return Ok((c, &s[c.len_utf8()..]));
    }
    let b = s.as_bytes();
    if b.len() <= 1 {
        return Err(syntax());
    }
    let e = b[1];
    let mut rest = &s[2..];
    let v = match e {
        b'a' => '\x07',
        b'b' => '\x08',
        b'f' => '\x0c',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        b'v' => '\x0b',
        b'x' | b'u' | b'U' => {
            let n = match e {
                b'x' => 2,
                b'u' => 4,
                _ => 8,
            };
            if rest.len() < n {
                return Err(syntax());
            }
            let mut v: u32 = 0;
            for &d in &rest.as_bytes()[..n] {
                v = (v << 4) | unhex(d).ok_or_else(syntax)?;
            }
            rest = &rest[n..];
            if e == b'x' {
                // A single byte; only ASCII round-trips in a Rust string.
                char::from_u32(v).unwrap_or('\u{FFFD}')
            } else {
                char::from_u32(v).ok_or_else(syntax)?
            }
        }
        b'0'..=b'7' => {
            let r2 = &s[1..];
            if r2.len() < 3 {
                return Err(syntax());
            }
            let mut v: u32 = 0;
            for &d in &r2.as_bytes()[..3] {
                let x = (d as char).to_digit(8).ok_or_else(syntax)?;
                v = (v << 3) | x;
            }
            if v > 255 {
                return Err(syntax());
            }
            rest = &r2[3..];
            char::from_u32(v).unwrap_or('\u{FFFD}')
        }
        b'\\' => '\\',
        b'\'' | b'"' => {
            if e as char != quote {
                return Err(syntax());
            }
            e as char
        }
        _ => return Err(syntax()),
    };
    Ok((v, rest))
}

/// strconv.Unquote for "..." and `...` literals.
pub(crate) fn unquote(s: &str) -> Result<String, String> {
    let syntax = || "invalid syntax".to_string();
    if s.len() < 2 {
        return Err(syntax());
    }
    let q = s.as_bytes()[0];
    if q != s.as_bytes()[s.len() - 1] {
        return Err(syntax());
    }
    let inner = &s[1..s.len() - 1];
    match q {
        b'`' => {
            if inner.contains('`') {
                return Err(syntax());
            }
            Ok(inner.replace('\r', ""))
        }
        b'"' => {
            if inner.contains('\n') {
                return Err(syntax());
            }
            let mut out = String::with_capacity(inner.len());
            let mut rest = inner;
            while !rest.is_empty() {
                let (c, r) = unquote_char(rest, '"')?;
                out.push(c);
                rest = r;
            }
            Ok(out)
        }
        b'\'' => {
            let (c, r) = unquote_char(inner, '\'')?;
            if !r.is_empty() {
                return Err(syntax());
            }
            Ok(c.to_string())
        }
        _ => Err(syntax()),
    }
}

fn strip_underscores(s: &str) -> Option<String> {
    // Go only allows underscores with a base prefix or between digits; keep
    // it simple: accept and remove them when the literal has a prefix.
    if !s.contains('_') {
        return Some(s.to_string());
    }
    let body = s.trim_start_matches(['+', '-']);
    let has_prefix = body.len() > 1 && body.starts_with('0');
    let ok = has_prefix || !body.starts_with('_');
    if !ok || s.ends_with('_') || s.contains("__") {
        return None;
    }
    Some(s.replace('_', ""))
}

/// strconv.ParseUint(s, 0, 64).
pub(crate) fn parse_go_uint(s: &str) -> Option<u64> {
    let s = strip_underscores(s)?;
    if s.starts_with('+') || s.starts_with('-') {
        return None;
    }
    let (digits, radix) = base_prefix(&s);
    if digits.is_empty() {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

fn base_prefix(s: &str) -> (&str, u32) {
    let b = s.as_bytes();
    if b.len() >= 2 && b[0] == b'0' {
        match b[1] {
            b'x' | b'X' => return (&s[2..], 16),
            b'o' | b'O' => return (&s[2..], 8),
            b'b' | b'B' => return (&s[2..], 2),
            _ => return (&s[1..], 8),
        }
    }
    (s, 10)
}

/// strconv.ParseInt(s, 0, 64).
pub(crate) fn parse_go_int(s: &str) -> Option<i64> {
    let s2 = strip_underscores(s)?;
    let (neg, body) = if let Some(r) = s2.strip_prefix('-') {
        (true, r)
    } else if let Some(r) = s2.strip_prefix('+') {
        (false, r)
    } else {
        (false, s2.as_str())
    };
    if body.starts_with(['+', '-']) {
        return None;
    }
    let (digits, radix) = base_prefix(body);
    if digits.is_empty() {
        if body == "0" {
            return Some(0);
        }
        return None;
    }
    let u = u64::from_str_radix(digits, radix).ok()?;
    if neg {
        if u <= (i64::MAX as u64) + 1 {
            Some((u as i128).wrapping_neg() as i64)
        } else {
            None
        }
    } else if u <= i64::MAX as u64 {
        Some(u as i64)
    } else {
        None
    }
}

/// strconv.ParseFloat(s, 64) for decimal and hex literals.
pub(crate) fn parse_go_float(s: &str) -> Option<f64> {
    let s = strip_underscores(s)?;
    let lower = s.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    if body.starts_with("0x") {
        return parse_hex_float(&lower);
    }
    match body {
        "inf" | "infinity" => {
            return Some(if lower.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            })
        }
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if body.is_empty()
        || !body
            .bytes()
            .all(|b| b.is_ascii_digit() || b".e+-".contains(&b))
    {
        return None;
    }
    lower.parse::<f64>().ok()
}

fn parse_hex_float(s: &str) -> Option<f64> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let body = body.strip_prefix("0x")?;
    let (mant, exp) = match body.find('p') {
        Some(i) => (&body[..i], body[i + 1..].parse::<i32>().ok()?),
        None => (body, 0),
    };
    let (ip, fp) = match mant.find('.') {
        Some(i) => (&mant[..i], &mant[i + 1..]),
        None => (mant, ""),
    };
    let mut v = 0f64;
    for c in ip.chars() {
        v = v * 16.0 + c.to_digit(16)? as f64;
    }
    let mut scale = 1.0 / 16.0;
    for c in fp.chars() {
        v += c.to_digit(16)? as f64 * scale;
        scale /= 16.0;
    }
    let v = v * 2f64.powi(exp);
    Some(if neg { -v } else { v })
}

/// Decimal digits of `v` (non-negative, finite) and the decimal point
/// position: value = 0.digits * 10^dp. `prec` < 0 means shortest.
fn decimal_digits(v: f64, mode: char, prec: i32) -> (Vec<u8>, i32) {
    if v == 0.0 {
        return (Vec::new(), 0);
    }
    let s = match (mode, prec) {
        (_, p) if p < 0 => format!("{:e}", v),
        ('e', p) => format!("{:.*e}", p as usize, v),
        ('g', p) => format!("{:.*e}", (p.max(1) - 1) as usize, v),
        ('f', p) => {
            // Fixed: digits after the point.
            let s = format!("{:.*}", p as usize, v);
            let (ip, fp) = match s.find('.') {
                Some(i) => (&s[..i], &s[i + 1..]),
                None => (s.as_str(), ""),
            };
            let mut digits: Vec<u8> = ip.bytes().chain(fp.bytes()).collect();
            let mut dp = ip.len() as i32;
            while digits.first() == Some(&b'0') {
                digits.remove(0);
                dp -= 1;
            }
            while digits.last() == Some(&b'0') {
                digits.pop();
            }
            if digits.is_empty() {
                return (Vec::new(), 0);
            }
            return (digits, dp);
        }
        _ => format!("{:e}", v),
    };
    let (mant, exp) = match s.find('e') {
        Some(i) => (&s[..i], s[i + 1..].parse::<i32>().unwrap_or(0)),
        None => (s.as_str(), 0),
    };
    let mut digits: Vec<u8> = mant.bytes().filter(|b| b.is_ascii_digit()).collect();
    while digits.len() > 1 && digits.last() == Some(&b'0') {
        digits.pop();
    }
    if digits == [b'0'] {
        return (Vec::new(), 0);
    }
    (digits, exp + 1)
}

/// strconv.FormatFloat(v, fmt, prec, 64) for 'e', 'E', 'f', 'g', 'G', 'b',
/// 'x', 'X'.
pub(crate) fn format_float(v: f64, fmt: char, prec: i32) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let neg = v.is_sign_negative();
    let a = v.abs();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    match fmt {
        'b' => {
            let bits = v.to_bits();
            let exp = ((bits >> 52) & 0x7ff) as i64;
            let mut mant = bits & ((1u64 << 52) - 1);
            let e = if exp == 0 {
                -1074
            } else {
                mant |= 1u64 << 52;
                exp - 1075
            };
            out.push_str(&format!("{}p{}{}", mant, if e >= 0 { "+" } else { "" }, e));
            return out;
        }
        'x' | 'X' => {
            out.push_str(&format_hex_float(a, prec, fmt == 'X'));
            return out;
        }
        _ => {}
    }
    let shortest = prec < 0;
    let lower = fmt.to_ascii_lowercase();
    let prec = if lower == 'g' && prec == 0 { 1 } else { prec };
    let (digits, dp) = match lower {
        'e' => decimal_digits(a, 'e', prec),
        'f' => {
            if shortest {
                decimal_digits(a, 'e', -1)
            } else {
                decimal_digits(a, 'f', prec)
            }
        }
        _ => {
            if shortest {
                decimal_digits(a, 'e', -1)
            } else {
                decimal_digits(a, 'g', prec)
            }
        }
    };
    let nd = digits.len() as i32;
    match lower {
        'e' => {
            let p = if shortest { (nd - 1).max(0) } else { prec };
            fmt_e(&mut out, &digits, dp, p, fmt);
        }
        'f' => {
            let p = if shortest { (nd - dp).max(0) } else { prec };
            fmt_f(&mut out, &digits, dp, p);
        }
        _ => {
            let mut eprec = prec;
            if eprec > nd && nd >= dp {
                eprec = nd;
            }
            if shortest {
                eprec = 6;
            }
            let exp = if nd == 0 { 0 } else { dp - 1 };
            if exp < -4 || exp >= eprec {
                let p = if shortest { nd - 1 } else { prec - 1 };
                let p = p.min(nd - 1).max(0);
                fmt_e(&mut out, &digits, dp, p, if fmt == 'G' { 'E' } else { 'e' });
            } else {
                let p = (nd - dp).max(0);
                fmt_f(&mut out, &digits, dp, p);
            }
        }
    }
    out
}

fn digit_at(d: &[u8], i: i32) -> char {
    if i >= 0 && (i as usize) < d.len() {
        d[i as usize] as char
    } else {
        '0'
    }
}

fn fmt_e(out: &mut String, d: &[u8], dp: i32, prec: i32, fmt: char) {
    out.push(digit_at(d, 0));
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            out.push(digit_at(d, i));
        }
    }
    out.push(fmt);
    let exp = if d.is_empty() { 0 } else { dp - 1 };
    out.push(if exp < 0 { '-' } else { '+' });
    let e = exp.abs();
    if e < 10 {
        out.push('0');
    }
    out.push_str(&e.to_string());
}

fn fmt_f(out: &mut String, d: &[u8], dp: i32, prec: i32) {
    if dp > 0 {
        for i in 0..dp {
            out.push(digit_at(d, i));
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            out.push(digit_at(d, dp + i - 1));
        }
    }
}

fn format_hex_float(a: f64, prec: i32, upper: bool) -> String {
    // %x on floats: 0x1.8p+01 style.
    let (mut mant, mut exp) = if a == 0.0 {
        (0u64, 0i64)
    } else {
        let bits = a.to_bits();
        let e = ((bits >> 52) & 0x7ff) as i64;
        let m = bits & ((1u64 << 52) - 1);
        if e == 0 {
            // subnormal: normalise
            let mut m = m;
            let mut e = -1022i64;
            while m & (1u64 << 52) == 0 {
                m <<= 1;
                e -= 1;
            }
            (m, e)
        } else {
            (m | (1u64 << 52), e - 1023)
        }
    };
    // mant has 53 bits with leading 1 at bit 52; shift so 60 bits: 1 + 15 hex digits
    mant <<= 8; // now leading bit at 60
    if (0..15).contains(&prec) {
        let shift = 4 * (15 - prec) as u32;
        let extra = mant & ((1u64 << shift) - 1);
        mant >>= shift;
        let half = 1u64 << (shift - 1);
        if extra > half || (extra == half && mant & 1 == 1) {
            mant += 1;
        }
        mant <<= shift;
        if mant >> 61 != 0 {
            mant >>= 1;
            exp += 1;
        }
    }
    let mut hex = String::new();
    let mut m = mant & ((1u64 << 60) - 1);
    let lead = if a == 0.0 { 0 } else { 1 };
    let mut ndig = 0;
    if prec < 0 {
        while m != 0 {
            let dgt = (m >> 56) & 0xf;
            hex.push(std::char::from_digit(dgt as u32, 16).unwrap_or('0'));
            m = (m << 4) & ((1u64 << 60) - 1);
        }
    } else {
        while ndig < prec {
            let dgt = (m >> 56) & 0xf;
            hex.push(std::char::from_digit(dgt as u32, 16).unwrap_or('0'));
            m = (m << 4) & ((1u64 << 60) - 1);
            ndig += 1;
        }
    }
    let mut s = format!("0x{}", lead);
    if !hex.is_empty() {
        s.push('.');
        s.push_str(&hex);
    }
    s.push('p');
    s.push(if exp >= 0 { '+' } else { '-' });
    let e = exp.abs();
    if e < 10 {
        s.push('0');
    }
    s.push_str(&e.to_string());
    if upper {
        s = s.to_uppercase();
    }
    s
}

/// Formats a float as Go's `encoding/json` does.
pub(crate) fn json_float(f: f64) -> String {
    let abs = f.abs();
    let mut fmt = 'f';
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        fmt = 'e';
    }
    let mut s = format_float(f, fmt, -1);
    if fmt == 'e' {
        let n = s.len();
        let b = s.as_bytes();
        if n >= 4 && b[n - 4] == b'e' && b[n - 3] == b'-' && b[n - 2] == b'0' {
            let last = b[n - 1] as char;
            s.truncate(n - 2);
            s.push(last);
        }
    }
    s
}

// ---------------------------------------------------------------------------
// fmt

/// Nesting beyond which printing stops (guards self-referencing maps made
/// with `set $d "self" $d`, which crash Go).
const MAX_PRINT_DEPTH: usize = 100;

#[derive(Clone, Copy, Default)]
struct Flags {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    plus_v: bool,
    sharp_v: bool,
    wid: Option<usize>,
    prec: Option<usize>,
}

struct Printer {
    buf: String,
    f: Flags,
}

/// fmt.Sprint.
pub fn sprint(args: &[Value]) -> String {
    let mut p = Printer {
        buf: String::new(),
        f: Flags::default(),
    };
    let mut prev_string = false;
    for (i, a) in args.iter().enumerate() {
        let is_string = matches!(a, Value::String(_));
        if i > 0 && !is_string && !prev_string {
            p.buf.push(' ');
        }
        p.print_arg(a, 'v');
        prev_string = is_string;
    }
    p.buf
}

/// fmt.Sprintln.
pub fn sprintln(args: &[Value]) -> String {
    let mut p = Printer {
        buf: String::new(),
        f: Flags::default(),
    };
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            p.buf.push(' ');
        }
        p.print_arg(a, 'v');
    }
    p.buf.push('\n');
    p.buf
}

/// fmt.Sprintf.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut p = Printer {
        buf: String::new(),
        f: Flags::default(),
    };
    p.do_printf(format, args);
    p.buf
}

/// fmt.Sprint of one value with `%v`.
pub fn to_string(v: &Value) -> String {
    sprint(std::slice::from_ref(v))
}

fn parse_num(s: &[u8], start: usize, end: usize) -> (Option<usize>, bool, usize) {
    if start >= end {
        return (None, false, end);
    }
    let mut num: usize = 0;
    let mut isnum = false;
    let mut i = start;
    while i < end && s[i].is_ascii_digit() {
        if num > 1_000_000 {
            return (None, false, end);
        }
        num = num * 10 + (s[i] - b'0') as usize;
        isnum = true;
        i += 1;
    }
    (if isnum { Some(num) } else { None }, isnum, i)
}

impl Printer {
    fn write_padding(&mut self, n: usize) {
        let c = if self.f.zero && !self.f.minus {
            '0'
        } else {
            ' '
        };
        for _ in 0..n {
            self.buf.push(c);
        }
    }

    fn pad(&mut self, s: &str) {
        match self.f.wid {
            None | Some(0) => self.buf.push_str(s),
            Some(w) => {
                let n = s.chars().count();
                if n >= w {
                    self.buf.push_str(s);
                    return;
                }
                if !self.f.minus {
                    self.write_padding(w - n);
                    self.buf.push_str(s);
                } else {
                    self.buf.push_str(s);
                    // Left-justified padding is always spaces.
                    for _ in 0..(w - n) {
                        self.buf.push(' ');
                    }
                }
            }
        }
    }

    fn fmt_boolean(&mut self, b: bool) {
        self.pad(if b { "true" } else { "false" });
    }

    fn truncate<'s>(&self, s: &'s str) -> &'s str {
        if let Some(p) = self.f.prec {
            if let Some((i, _)) = s.char_indices().nth(p) {
                return &s[..i];
            }
        }
        s
    }

    fn fmt_s(&mut self, s: &str) {
        let s = self.truncate(s).to_string();
        self.pad(&s);
    }

    fn fmt_sbx(&mut self, s: &[u8], upper: bool) {
        let digits: &[u8] = if upper {
            b"0123456789ABCDEF"
        } else {
            b"0123456789abcdef"
        };
        let mut length = s.len();
        if let Some(p) = self.f.prec {
            if p < length {
                length = p;
            }
        }
        let mut width = 2 * length;
        if width > 0 {
            if self.f.space {
                if self.f.sharp {
                    width *= 2;
                }
                width += length - 1;
            } else if self.f.sharp {
                width += 2;
            }
        } else {
            if let Some(w) = self.f.wid {
                for _ in 0..w {
                    self.buf.push(' ');
                }
            }
            return;
        }
        let w = self.f.wid.unwrap_or(0);
        if w > width && !self.f.minus {
            for _ in 0..(w - width) {
                self.buf.push(' ');
            }
        }
        let mut out = String::new();
        if self.f.sharp {
            out.push('0');
            out.push(if upper { 'X' } else { 'x' });
        }
        for (i, &c) in s.iter().take(length).enumerate() {
            if self.f.space && i > 0 {
                out.push(' ');
                if self.f.sharp {
                    out.push('0');
                    out.push(if upper { 'X' } else { 'x' });
                }
            }
            out.push(digits[(c >> 4) as usize] as char);
            out.push(digits[(c & 0xf) as usize] as char);
        }
        self.buf.push_str(&out);
        if w > width && self.f.minus {
            for _ in 0..(w - width) {
                self.buf.push(' ');
            }
        }
    }

    fn fmt_q(&mut self, s: &str) {
        let s = self.truncate(s).to_string();
        if self.f.sharp && can_backquote(&s) {
            self.pad(&format!("`{}`", s));
            return;
        }
        let q = quote_with(&s, '"', self.f.plus);
        self.pad(&q);
    }

    fn fmt_integer(&mut self, u: u64, neg: bool, base: u32, verb: char, upper: bool) {
        // u is the magnitude.
        let mut digits = match base {
            10 => u.to_string(),
            16 => {
                if upper {
                    format!("{:X}", u)
                } else {
                    format!("{:x}", u)
                }
            }
            8 => format!("{:o}", u),
            2 => format!("{:b}", u),
            _ => u.to_string(),
        };
        if let Some(p) = self.f.prec {
            if p == 0 && u == 0 {
                for _ in 0..self.f.wid.unwrap_or(0) {
                    self.buf.push(' ');
                }
                return;
            } else {
                while digits.len() < p {
                    digits.insert(0, '0');
                }
            }
        } else if self.f.zero && !self.f.minus {
            if let Some(w) = self.f.wid {
                let mut w = w;
                if neg || self.f.plus || self.f.space {
                    w = w.saturating_sub(1);
                }
                // Prefix counts are not subtracted in Go for zero padding of
                // the digits; mimic: prec = wid (minus sign).
                while digits.len() < w {
                    digits.insert(0, '0');
                }
            }
        }
        let mut prefix = String::new();
        if self.f.sharp {
            match base {
                2 => prefix.push_str("0b"),
                8 if !digits.starts_with('0') => {
                    prefix.push('0');
                }
                16 => prefix.push_str(if upper { "0X" } else { "0x" }),
                _ => {}
            }
        }
        if verb == 'O' {
            prefix = "0o".into();
        }
        let sign = if neg {
            "-"
        } else if self.f.plus {
            "+"
        } else if self.f.space {
            " "
        } else {
            ""
        };
        let s = format!("{}{}{}", sign, prefix, digits);
        // Zero flag was consumed above into digits.
        let old_zero = self.f.zero;
        self.f.zero = false;
        self.pad(&s);
        self.f.zero = old_zero;
    }

    fn fmt_c(&mut self, u: u64) {
        let c = if u > 0x10FFFF {
            '\u{FFFD}'
        } else {
            char::from_u32(u as u32).unwrap_or('\u{FFFD}')
        };
        self.pad(&c.to_string());
    }

    fn fmt_qc(&mut self, u: u64) {
        let c = if u > 0x10FFFF {
            '\u{FFFD}'
        } else {
            char::from_u32(u as u32).unwrap_or('\u{FFFD}')
        };
        if self.f.sharp && can_backquote(&c.to_string()) && c != '\'' {
            self.pad(&format!("'{}'", c));
        } else {
            let q = quote_rune(c, self.f.plus);
            self.pad(&q);
        }
    }

    fn fmt_unicode(&mut self, u: u64) {
        let mut s = format!("U+{:04X}", u);
        if let Some(p) = self.f.prec {
            let hex = format!("{:X}", u);
            if hex.len() < p {
                s = format!("U+{}{}", "0".repeat(p - hex.len()), hex);
            }
        }
        if self.f.sharp && u <= 0x10FFFF {
            if let Some(c) = char::from_u32(u as u32) {
                if is_print(c) {
                    s.push_str(&format!(" '{}'", c));
                }
            }
        }
        let old_zero = self.f.zero;
        self.f.zero = false;
        self.pad(&s);
        self.f.zero = old_zero;
    }

    fn print_int(&mut self, i: i64, unsigned: Option<u64>, verb: char, v: &Value) {
        let (mag, neg) = match unsigned {
            Some(u) => (u, false),
            None => (i.unsigned_abs(), i < 0),
        };
        match verb {
            'v' => {
                if self.f.sharp_v && unsigned.is_some() {
                    let old = self.f.sharp;
                    self.f.sharp = true;
                    self.fmt_integer(mag, neg, 16, verb, false);
                    self.f.sharp = old;
                } else {
                    self.fmt_integer(mag, neg, 10, verb, false)
                }
            }
            'd' => self.fmt_integer(mag, neg, 10, verb, false),
            'b' => self.fmt_integer(mag, neg, 2, verb, false),
            'o' | 'O' => self.fmt_integer(mag, neg, 8, verb, false),
            'x' => self.fmt_integer(mag, neg, 16, verb, false),
            'X' => self.fmt_integer(mag, neg, 16, verb, true),
            'c' => self.fmt_c(if neg { u64::MAX } else { mag }),
            'q' => self.fmt_qc(if neg { u64::MAX } else { mag }),
            'U' => self.fmt_unicode(if neg { i as u64 } else { mag }),
            _ => self.bad_verb(verb, v),
        }
    }

    fn fmt_float(&mut self, v: f64, verb: char, prec: i32) {
        let prec = match self.f.prec {
            Some(p) => p as i32,
            None => prec,
        };
        let mut num = format_float(v, verb, prec);
        if !(num.starts_with('-') || num.starts_with('+')) {
            num.insert(0, '+');
        }
        if self.f.space && num.starts_with('+') && !self.f.plus {
            num.replace_range(0..1, " ");
        }
        let second = num.as_bytes().get(1).copied().unwrap_or(b'0');
        if second == b'I' || second == b'N' {
            let old_zero = self.f.zero;
            self.f.zero = false;
            if second == b'N' && !self.f.space && !self.f.plus {
                num.remove(0);
            }
            self.pad(&num);
            self.f.zero = old_zero;
            return;
        }
        if self.f.sharp && verb != 'b' {
            let mut digits = 0i32;
            match verb {
                'v' | 'g' | 'G' | 'x' => {
                    digits = prec;
                    if digits == -1 {
                        digits = 6;
                    }
                }
                _ => {}
            }
            let (body, tail) = match num[1..].find(['e', 'E', 'p', 'P']) {
                Some(i) => (num[..i + 1].to_string(), num[i + 1..].to_string()),
                None => (num.clone(), String::new()),
            };
            let mut saw_nonzero = false;
            let mut has_point = false;
            for c in body[1..].chars() {
                match c {
                    '.' => has_point = true,
                    '0' if saw_nonzero => {
                        digits -= 1;
                    }
                    '1'..='9' => {
                        saw_nonzero = true;
                        digits -= 1;
                    }
                    _ => {}
                }
            }
            let mut body = body;
            if !has_point {
                if body.len() == 2 && body.as_bytes()[1] == b'0' {
                    digits -= 1;
                }
                body.push('.');
            }
            while digits > 0 {
                body.push('0');
                digits -= 1;
            }
            num = body + &tail;
        }
        if self.f.plus || !num.starts_with('+') {
            if self.f.zero && !self.f.minus {
                if let Some(w) = self.f.wid {
                    let n = num.chars().count();
                    if w > n {
                        self.buf.push_str(&num[..1]);
                        for _ in 0..(w - n) {
                            self.buf.push('0');
                        }
                        self.buf.push_str(&num[1..]);
                        return;
                    }
                }
            }
            self.pad(&num);
            return;
        }
        let rest = num[1..].to_string();
        self.pad(&rest);
    }

    fn print_float(&mut self, f: f64, verb: char, v: &Value) {
        match verb {
            'v' => self.fmt_float(f, 'g', -1),
            'b' | 'g' | 'G' | 'x' | 'X' => self.fmt_float(f, verb, -1),
            'f' | 'e' | 'E' => self.fmt_float(f, verb, 6),
            'F' => self.fmt_float(f, 'f', 6),
            _ => self.bad_verb(verb, v),
        }
    }

    fn print_string(&mut self, s: &str, verb: char, v: &Value) {
        match verb {
            'v' => {
                if self.f.sharp_v {
                    self.fmt_q(s)
                } else {
                    self.fmt_s(s)
                }
            }
            's' => self.fmt_s(s),
            'x' => self.fmt_sbx(s.as_bytes(), false),
            'X' => self.fmt_sbx(s.as_bytes(), true),
            'q' => self.fmt_q(s),
            _ => self.bad_verb(verb, v),
        }
    }

    fn bad_verb(&mut self, verb: char, v: &Value) {
        self.buf.push_str("%!");
        self.buf.push(verb);
        self.buf.push('(');
        match v {
            Value::Invalid | Value::Nil => self.buf.push_str("<nil>"),
            _ => {
                self.buf.push_str(v.go_type());
                self.buf.push('=');
                self.print_value(v, 'v', 0);
            }
        }
        self.buf.push(')');
    }

    fn print_arg(&mut self, v: &Value, verb: char) {
        if v.is_nil() {
            match verb {
                'T' | 'v' => self.pad("<nil>"),
                _ => self.bad_verb(verb, v),
            }
            return;
        }
        if verb == 'T' {
            self.fmt_s(v.go_type());
            return;
        }
        if verb == 'p' {
            self.bad_verb(verb, v);
            return;
        }
        self.print_value(v, verb, 0);
    }

    fn handle_methods(&mut self, v: &Value, verb: char) -> bool {
        let s = match v {
            Value::Time(t) => t.to_string(),
            Value::Version(ver) => ver.to_string(),
            _ => return false,
        };
        if self.f.sharp_v {
            return false;
        }
        match verb {
            'v' | 's' | 'x' | 'X' | 'q' => {
                self.print_string(&s, verb, v);
                true
            }
            _ => false,
        }
    }

    fn print_value(&mut self, v: &Value, verb: char, depth: usize) {
        if self.handle_methods(v, verb) {
            return;
        }
        match v {
            Value::Invalid | Value::Nil => {
                if depth == 0 && matches!(v, Value::Invalid) {
                    self.buf.push_str("<invalid reflect.Value>");
                } else if verb == 'v' {
                    if self.f.sharp_v {
                        self.buf.push_str("interface {}(nil)");
                    } else {
                        self.buf.push_str("<nil>");
                    }
                } else {
                    self.bad_verb(verb, v);
                }
            }
            Value::Bool(b) => match verb {
                't' | 'v' => self.fmt_boolean(*b),
                _ => self.bad_verb(verb, v),
            },
            Value::Int(i) | Value::Int64(i) => self.print_int(*i, None, verb, v),
            Value::Uint64(u) => self.print_int(0, Some(*u), verb, v),
            Value::Float(f) => self.print_float(*f, verb, v),
            Value::String(s) => self.print_string(s, verb, v),
            Value::Map(m) => {
                if self.f.sharp_v {
                    self.buf.push_str(v.go_type());
                    self.buf.push('{');
                } else {
                    self.buf.push_str("map[");
                }
                if depth > MAX_PRINT_DEPTH {
                    self.buf.push_str("...]");
                    return;
                }
                for (i, (k, val)) in m.entries().iter().enumerate() {
                    if i > 0 {
                        if self.f.sharp_v {
                            self.buf.push_str(", ");
                        } else {
                            self.buf.push(' ');
                        }
                    }
                    self.print_value(&Value::str(k.as_str()), verb, depth + 1);
                    self.buf.push(':');
                    self.print_value(val, verb, depth + 1);
                }
                self.buf.push(if self.f.sharp_v { '}' } else { ']' });
            }
            Value::List(l) => {
                if depth > MAX_PRINT_DEPTH {
                    self.buf.push_str("[...]");
                    return;
                }
                if self.f.sharp_v {
                    self.buf.push_str(v.go_type());
                    if l.nil {
                        self.buf.push_str("(nil)");
                        return;
                    }
                    self.buf.push('{');
                    for (i, item) in l.items.iter().enumerate() {
                        if i > 0 {
                            self.buf.push_str(", ");
                        }
                        self.print_value(item, verb, depth + 1);
                    }
                    self.buf.push('}');
                } else {
                    self.buf.push('[');
                    for (i, item) in l.items.iter().enumerate() {
                        if i > 0 {
                            self.buf.push(' ');
                        }
                        self.print_value(item, verb, depth + 1);
                    }
                    self.buf.push(']');
                }
            }
            Value::Time(t) => {
                let s = t.to_string();
                self.print_string(&s, 'v', v);
            }
            Value::Version(ver) => {
                let s = ver.to_string();
                self.print_string(&s, 'v', v);
            }
        }
    }

    fn do_printf(&mut self, format: &str, args: &[Value]) {
        let s = format.as_bytes();
        let end = s.len();
        let mut arg_num = 0usize;
        let mut reordered = false;
        let mut i = 0usize;
        'outer: while i < end {
            let mut good_arg_num = true;
            self.f = Flags::default();
            let lasti = i;
            while i < end && s[i] != b'%' {
                i += 1;
            }
            if i > lasti {
                self.buf.push_str(&format[lasti..i]);
            }
            if i >= end {
                break;
            }
            i += 1; // skip %
            while i < end {
                match s[i] {
                    b'#' => self.f.sharp = true,
                    b'0' => self.f.zero = !self.f.minus,
                    b'+' => self.f.plus = true,
                    b'-' => {
                        self.f.minus = true;
                        self.f.zero = false;
                    }
                    b' ' => self.f.space = true,
                    c => {
                        if c.is_ascii_lowercase() && arg_num < args.len() {
                            let verb = c as char;
                            if verb == 'v' {
                                self.f.sharp_v = self.f.sharp;
                                self.f.sharp = false;
                                self.f.plus_v = self.f.plus;
                                self.f.plus = false;
                            }
                            if verb == 'w' {
                                self.bad_verb('w', &args[arg_num].clone());
                            } else {
                                let a = args[arg_num].clone();
                                self.print_arg(&a, verb);
                            }
                            arg_num += 1;
                            i += 1;
                            continue 'outer;
                        }
                        break;
                    }
                }
                i += 1;
            }
            // Argument index, then width.
            let (na, ni, found) =
                arg_number(s, i, arg_num, args.len(), &mut reordered, &mut good_arg_num);
            arg_num = na;
            i = ni;
            let mut after_index = found;
            if i < end && s[i] == b'*' {
                i += 1;
                let (w, ok, na) = int_from_arg(args, arg_num);
                arg_num = na;
                if !ok {
                    self.buf.push_str("%!(BADWIDTH)");
                    self.f.wid = None;
                } else if w < 0 {
                    self.f.minus = true;
                    self.f.zero = false;
                    self.f.wid = Some((-w) as usize);
                } else {
                    self.f.wid = Some(w as usize);
                }
                after_index = false;
            } else {
                let (w, present, ni) = parse_num(s, i, end);
                self.f.wid = if present { w } else { None };
                i = ni;
                if after_index && present {
                    good_arg_num = false;
                }
            }
            // Precision.
            if i < end && s[i] == b'.' {
                i += 1;
                if after_index {
                    good_arg_num = false;
                }
                let (na, ni, found) =
                    arg_number(s, i, arg_num, args.len(), &mut reordered, &mut good_arg_num);
                arg_num = na;
                i = ni;
                after_index = found;
                if i < end && s[i] == b'*' {
                    i += 1;
                    let (p, ok, na) = int_from_arg(args, arg_num);
                    arg_num = na;
                    self.f.prec = if p < 0 { None } else { Some(p as usize) };
                    if !ok {
                        self.f.prec = None;
                        self.buf.push_str("%!(BADPREC)");
                    }
                    after_index = false;
                } else {
                    let (p, present, ni) = parse_num(s, i, end);
                    i = ni;
                    self.f.prec = if present { p } else { Some(0) };
                }
            }
            if !after_index {
                let (na, ni, found) =
                    arg_number(s, i, arg_num, args.len(), &mut reordered, &mut good_arg_num);
                arg_num = na;
                i = ni;
                after_index = found;
            }
            let _ = after_index;
            if i >= end {
                self.buf.push_str("%!(NOVERB)");
                break;
            }
            let verb = format[i..].chars().next().unwrap_or('?');
            i += verb.len_utf8();
            if verb == '%' {
                self.buf.push('%');
                continue;
            }
            if !good_arg_num {
                self.buf.push_str("%!");
                self.buf.push(verb);
                self.buf.push_str("(BADINDEX)");
                continue;
            }
            if arg_num >= args.len() {
                self.buf.push_str("%!");
                self.buf.push(verb);
                self.buf.push_str("(MISSING)");
                continue;
            }
            if verb == 'w' {
                let a = args[arg_num].clone();
                self.bad_verb('w', &a);
                arg_num += 1;
                continue;
            }
            if verb == 'v' {
                self.f.sharp_v = self.f.sharp;
                self.f.sharp = false;
                self.f.plus_v = self.f.plus;
                self.f.plus = false;
            }
            let a = args[arg_num].clone();
            self.print_arg(&a, verb);
            arg_num += 1;
        }
        if !reordered && arg_num < args.len() {
            self.f = Flags::default();
            self.buf.push_str("%!(EXTRA ");
            for (k, a) in args[arg_num..].iter().enumerate() {
                if k > 0 {
                    self.buf.push_str(", ");
                }
                if a.is_nil() {
                    self.buf.push_str("<nil>");
                } else {
                    self.buf.push_str(a.go_type());
                    self.buf.push('=');
                    self.print_arg(a, 'v');
                }
            }
            self.buf.push(')');
        }
    }
}

/// Go's argNumber: an optional `[n]` argument index.
fn arg_number(
    s: &[u8],
    i: usize,
    arg_num: usize,
    num_args: usize,
    reordered: &mut bool,
    good: &mut bool,
) -> (usize, usize, bool) {
    if i >= s.len() || s[i] != b'[' {
        return (arg_num, i, false);
    }
    *reordered = true;
    let rest = &s[i..];
    // parseArgNumber
    let (index, wid, ok) = if rest.len() < 3 {
        (0i64, 1usize, false)
    } else {
        let mut res = (0i64, 1usize, false);
        for k in 1..rest.len() {
            if rest[k] == b']' {
                let (n, present, newi) = parse_num(rest, 1, k);
                res = if !present || newi != k {
                    (0, k + 1, false)
                } else {
                    (n.unwrap_or(0) as i64 - 1, k + 1, true)
                };
                break;
            }
        }
        res
    };
    if ok && index >= 0 && (index as usize) < num_args {
        return (index as usize, i + wid, true);
    }
    *good = false;
    (arg_num, i + wid, ok)
}

fn int_from_arg(args: &[Value], arg_num: usize) -> (i64, bool, usize) {
    if arg_num < args.len() {
        let (n, ok) = match &args[arg_num] {
            Value::Int(i) | Value::Int64(i) => (*i, true),
            Value::Uint64(u) => (*u as i64, true),
            _ => (0, false),
        };
        let ok = ok && (-1_000_000..=1_000_000).contains(&n);
        (if ok { n } else { 0 }, ok, arg_num + 1)
    } else {
        (0, false, arg_num)
    }
}
