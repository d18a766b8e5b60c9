//! `Chart.yaml`, `requirements.yaml` and `Chart.lock` read as Helm reads
//! them with `sigs.k8s.io/yaml` into typed structs: a number or boolean
//! where a string field is expected becomes that string (`appVersion:
//! 1.16` is `"1.16"`, formatted as Go formats a float32), `null` leaves a
//! field empty; then `Metadata.Validate`.

use serde_json::Value as J;

use crate::chart::Lock;
use crate::metadata::{ChartMetadata, Dependency};

/// Go's `strconv.FormatFloat(f, 'g', -1, 32)`, integers kept whole.
fn float_string(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 9.2e18 {
        return format!("{}", f as i64);
    }
    let x = f as f32;
    // Shortest digits of the float32 and its decimal exponent.
    let e = format!("{x:e}");
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if neg { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let (d0, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let es = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{d0}{frac}e{es}{:02}", exp.abs());
    }
    format!("{sign}{}", x.abs())
}

fn stringify(v: &mut J) {
    match v {
        J::Number(n) => *v = J::String(float_string(n.as_f64().unwrap_or(0.0))),
        J::Bool(b) => *v = J::String(b.to_string()),
        J::Null => *v = J::String(String::new()),
        _ => {}
    }
}

fn string_fields(o: &mut serde_json::Map<String, J>, keys: &[&str]) {
    for k in keys {
        if let Some(v) = o.get_mut(*k) {
            stringify(v);
        }
    }
}

fn string_list(o: &mut serde_json::Map<String, J>, key: &str) {
    if let Some(J::Array(a)) = o.get_mut(key) {
        a.iter_mut().for_each(stringify);
    }
}

fn drop_nulls(o: &mut serde_json::Map<String, J>) {
    o.retain(|_, v| !v.is_null());
}

fn fix_dependencies(o: &mut serde_json::Map<String, J>) -> Result<(), String> {
    if let Some(J::Array(deps)) = o.get_mut("dependencies") {
        for d in deps.iter_mut() {
            match d {
                J::Object(m) => {
                    drop_nulls(m);
                    string_fields(m, &["name", "version", "repository", "condition", "alias"]);
                    string_list(m, "tags");
                }
                J::Null => {
                    return Err(
                        "validation: dependencies must not contain empty or null nodes".into(),
                    )
                }
                _ => {}
            }
        }
    }
    Ok(())
}

fn to_object(data: &[u8]) -> Result<serde_json::Map<String, J>, String> {
    let v = crate::values::read_values(data)?;
    match v.to_json()? {
        J::Object(o) => Ok(o),
        _ => Ok(serde_json::Map::new()),
    }
}

/// Parses `Chart.yaml`; a missing `apiVersion` is `v1`, as Helm assumes.
pub(crate) fn parse_metadata(data: &[u8]) -> Result<ChartMetadata, String> {
    let mut o = to_object(data)?;
    drop_nulls(&mut o);
    string_fields(
        &mut o,
        &[
            "name",
            "home",
            "version",
            "description",
            "icon",
            "apiVersion",
            "condition",
            "tags",
            "appVersion",
            "kubeVersion",
            "type",
        ],
    );
    string_list(&mut o, "sources");
    string_list(&mut o, "keywords");
    if let Some(J::Array(ms)) = o.get_mut("maintainers") {
        for m in ms.iter_mut() {
            match m {
                J::Object(m) => {
                    drop_nulls(m);
                    string_fields(m, &["name", "email", "url"]);
                }
                J::Null => {
                    return Err(
                        "validation: maintainers must not contain empty or null nodes".into(),
                    )
                }
                _ => {}
            }
        }
    }
    if let Some(J::Object(a)) = o.get_mut("annotations") {
        a.values_mut().for_each(stringify);
    }
    fix_dependencies(&mut o)?;
    let mut md: ChartMetadata = serde_json::from_value(J::Object(o))
        .map_err(|e| format!("error unmarshaling JSON: {e}"))?;
    if md.api_version.is_empty() {
        md.api_version = "v1".into();
    }
    Ok(md)
}

/// Parses `requirements.yaml`: its `dependencies`.
pub(crate) fn parse_requirements(data: &[u8]) -> Result<Vec<Dependency>, String> {
    let mut o = to_object(data)?;
    fix_dependencies(&mut o)?;
    let deps = o.remove("dependencies").unwrap_or(J::Array(Vec::new()));
    if deps.is_null() {
        return Ok(Vec::new());
    }
    serde_json::from_value(deps).map_err(|e| format!("error unmarshaling JSON: {e}"))
}

/// Parses `Chart.lock` / `requirements.lock`.
pub(crate) fn parse_lock(data: &[u8]) -> Result<Lock, String> {
    let mut o = to_object(data)?;
    fix_dependencies(&mut o)?;
    let s = |o: &serde_json::Map<String, J>, k: &str| match o.get(k) {
        Some(J::String(s)) => s.clone(),
        Some(J::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    let dependencies = match o.get("dependencies") {
        Some(J::Array(_)) => serde_json::from_value(o["dependencies"].clone())
            .map_err(|e| format!("error unmarshaling JSON: {e}"))?,
        _ => Vec::new(),
    };
    Ok(Lock {
        generated: s(&o, "generated"),
        digest: s(&o, "digest"),
        dependencies,
    })
}

/// Helm's `sanitizeString`: white space becomes a space, non-printable
/// characters are dropped.
fn sanitize(s: &mut String) {
    if s.chars()
        .all(|c| (c == ' ' || !c.is_whitespace()) && printable(c))
    {
        return;
    }
    *s = s
        .chars()
        .filter_map(|c| {
            if c.is_whitespace() {
                Some(' ')
            } else if printable(c) {
                Some(c)
            } else {
                None
            }
        })
        .collect();
}

fn printable(c: char) -> bool {
    !c.is_control()
        && !matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
}

/// `Metadata.Validate`: sanitizes strings and checks what Helm checks.
pub(crate) fn validate(md: &mut ChartMetadata) -> Result<(), String> {
    for s in [
        &mut md.name,
        &mut md.description,
        &mut md.home,
        &mut md.icon,
        &mut md.condition,
        &mut md.tags,
        &mut md.app_version,
        &mut md.kube_version,
    ] {
        sanitize(s);
    }
    md.sources.iter_mut().for_each(sanitize);
    md.keywords.iter_mut().for_each(sanitize);
    let v = |m: &str| Err(format!("validation: {m}"));
    if md.api_version.is_empty() {
        return v("chart.metadata.apiVersion is required");
    }
    if md.name.is_empty() {
        return v("chart.metadata.name is required");
    }
    if md.name != go_base(&md.name) {
        return v(&format!("chart.metadata.name {:?} is invalid", md.name));
    }
    if md.version.is_empty() {
        return v("chart.metadata.version is required");
    }
    if flotilla_template::semver::Version::parse(&md.version).is_err() {
        return v(&format!(
            "chart.metadata.version {:?} is invalid",
            md.version
        ));
    }
    if !matches!(md.chart_type.as_str(), "" | "application" | "library") {
        return v("chart.metadata.type must be application or library");
    }
    for m in md.maintainers.iter_mut() {
        sanitize(&mut m.name);
        sanitize(&mut m.email);
        sanitize(&mut m.url);
    }
    let mut seen = std::collections::BTreeSet::new();
    for d in md.dependencies.iter_mut() {
        sanitize(&mut d.name);
        sanitize(&mut d.version);
        sanitize(&mut d.repository);
        sanitize(&mut d.condition);
        d.tags.iter_mut().for_each(sanitize);
        if !d.alias.is_empty()
            && !d
                .alias
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return v(&format!(
                "dependency {:?} has disallowed characters in the alias",
                d.name
            ));
        }
        let key = if d.alias.is_empty() {
            d.name.clone()
        } else {
            d.alias.clone()
        };
        if !seen.insert(key.clone()) {
            return v(&format!(
                "more than one dependency with name or alias {key:?}"
            ));
        }
    }
    Ok(())
}

/// Go's `filepath.Base`.
fn go_base(p: &str) -> &str {
    if p.is_empty() {
        return ".";
    }
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return "/";
    }
    match t.rfind('/') {
        Some(i) => &t[i + 1..],
        None => t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_string_fields_read_as_go_does() {
        assert_eq!(float_string(1.16), "1.16");
        assert_eq!(float_string(1.10), "1.1");
        assert_eq!(float_string(3.0), "3");
        let md =
            parse_metadata(b"name: a\nversion: 1.0\nappVersion: 1.16\ndeprecated: true\n").unwrap();
        assert_eq!(md.version, "1");
        assert_eq!(md.app_version, "1.16");
        assert_eq!(md.api_version, "v1");
        assert!(md.deprecated);
    }

    #[test]
    fn validation_names_the_field() {
        let mut md = parse_metadata(b"apiVersion: v2\nname: a/b\nversion: 1.0.0\n").unwrap();
        assert_eq!(
            validate(&mut md).unwrap_err(),
            "validation: chart.metadata.name \"a/b\" is invalid"
        );
        let mut md = parse_metadata(b"apiVersion: v2\nname: a\nversion: one\n").unwrap();
        assert_eq!(
            validate(&mut md).unwrap_err(),
            "validation: chart.metadata.version \"one\" is invalid"
        );
    }
}
