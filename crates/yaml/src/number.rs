//! Go's number spellings: `strconv.FormatFloat(f, 'g', -1, 64|32)` and the
//! text a JSON number ends up as after Go's JSON encoder and go-yaml v2's
//! reader (the round trip behind kustomize's output and Helm's `toYaml`).

use serde_json::Number;

/// Shortest round-trip digits (no trailing zeros) and decimal exponent of
/// the `{:e}` text of a finite, non-zero value.
fn digits_and_exp(e: &str) -> (String, i32) {
    let (mant, exp) = e.split_once('e').unwrap_or((e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    (digits, exp)
}

/// `%g` with the shortest precision: exponent form when the exponent is
/// below -4 or at least 6 (Go's `eprec = 6` for shortest), else decimal.
fn layout_g(neg: bool, digits: &str, exp: i32) -> String {
    let mut s = String::with_capacity(digits.len() + 8);
    if neg {
        s.push('-');
    }
    if !(-4..6).contains(&exp) {
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
    } else {
        layout_f(&mut s, digits, exp);
    }
    s
}

/// Plain decimal layout of `0.digits × 10^(exp+1)` (Go's `%f`, shortest).
fn layout_f(s: &mut String, digits: &str, exp: i32) {
    let dp = exp + 1; // digits before the point
    if dp <= 0 {
        s.push_str("0.");
        for _ in 0..(-dp) {
            s.push('0');
        }
        s.push_str(digits);
    } else if dp as usize >= digits.len() {
        s.push_str(digits);
        for _ in 0..(dp as usize - digits.len()) {
            s.push('0');
        }
    } else {
        s.push_str(&digits[..dp as usize]);
        s.push('.');
        s.push_str(&digits[dp as usize..]);
    }
}

/// Formats a float as Go's `strconv.FormatFloat(f, 'g', -1, 64)`.
///
/// ```
/// assert_eq!(flotilla_yaml::go_format_g(1.5e-7), "1.5e-07");
/// assert_eq!(flotilla_yaml::go_format_g(100000.5), "100000.5");
/// assert_eq!(flotilla_yaml::go_format_g(1234567.0), "1.234567e+06");
/// ```
pub fn go_format_g(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let (digits, exp) = digits_and_exp(&format!("{:e}", f.abs()));
    layout_g(f < 0.0, &digits, exp)
}

/// Formats a float as Go's `strconv.FormatFloat(f, 'g', -1, 32)`: the
/// shortest digits that round-trip the value as a float32 (how
/// sigs.k8s.io/yaml spells a float used as a mapping key).
///
/// ```
/// assert_eq!(flotilla_yaml::go_format_float32(1.1), "1.1");
/// assert_eq!(flotilla_yaml::go_format_float32(3.14159265358979), "3.1415927");
/// ```
pub fn go_format_float32(f: f64) -> String {
    let x = f as f32;
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let (digits, exp) = digits_and_exp(&format!("{:e}", x.abs()));
    layout_g(x < 0.0, &digits, exp)
}

/// The text go-yaml v2 prints for a JSON number after Go's JSON encoder:
/// integers as they are; a float64 is first written as JSON does (`%f`
/// with shortest digits between 1e-6 and 1e21, else `%e`), read back by
/// go-yaml v2 (an integer when that text fits in 64 bits, signed or not)
/// and printed (`%g` for floats).
///
/// ```
/// use serde_json::Number;
/// use flotilla_yaml::number_text;
///
/// let f = |x: f64| number_text(&Number::from_f64(x).unwrap());
/// assert_eq!(f(1.0), "1");
/// assert_eq!(f(1.5), "1.5");
/// assert_eq!(f(1.2345678901234567e19), "12345678901234567000");
/// assert_eq!(f(1e20), "1e+20");
/// assert_eq!(f(1e21), "1e+21");
/// assert_eq!(f(1e-7), "1e-07");
/// ```
pub fn number_text(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    float_text(f)
}

/// [`number_text`] for a float64.
pub(crate) fn float_text(f: f64) -> String {
    if f == 0.0 {
        // `-0` in JSON reads back as the integer 0.
        return "0".into();
    }
    if !f.is_finite() {
        return go_format_g(f);
    }
    let a = f.abs();
    if (1e-6..1e21).contains(&a) && f.fract() == 0.0 {
        // JSON writes the integral value's shortest digits padded with
        // zeros; go-yaml v2 reads that as an integer when it fits.
        let (digits, exp) = digits_and_exp(&format!("{:e}", a));
        let mut text = String::new();
        layout_f(&mut text, &digits, exp);
        let fits = match text.parse::<u128>() {
            Ok(v) if f < 0.0 => v <= i64::MAX as u128 + 1,
            Ok(v) => v <= u64::MAX as u128,
            Err(_) => false,
        };
        if fits {
            if f < 0.0 {
                text.insert(0, '-');
            }
            return text;
        }
    }
    go_format_g(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats() {
        assert_eq!(go_format_g(1.5e-7), "1.5e-07");
        assert_eq!(go_format_g(123456789.5), "1.234567895e+08");
        assert_eq!(go_format_g(0.001), "0.001");
        assert_eq!(go_format_g(1e21), "1e+21");
        assert_eq!(go_format_g(-2.5), "-2.5");
        assert_eq!(float_text(-4.0), "-4");
        assert_eq!(float_text(-0.0), "0");
        assert_eq!(float_text(100.0), "100");
        assert_eq!(float_text(123456789012.0), "123456789012");
        assert_eq!(float_text(i64::MIN as f64), "-9.223372036854776e+18");
        assert_eq!(float_text(-9.2233720368547e18), "-9223372036854700000");
        assert_eq!(float_text(1.8446744073709552e19), "1.8446744073709552e+19");
        assert_eq!(float_text(0.1), "0.1");
        assert_eq!(go_format_float32(1e10), "1e+10");
        assert_eq!(go_format_float32(0.5), "0.5");
    }
}
