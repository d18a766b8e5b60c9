//! Parameter sets: what generators produce and templates consume, and the
//! ways Argo CD combines, flattens and prints them.

use std::collections::BTreeMap;

use serde_json::Value;

/// One parameter set: string keys to JSON values, as Argo CD's `map[string]any`.
///
/// With `goTemplate: true` values nest (`{"path": {"basename": ...}}`); with
/// `goTemplate: false` keys are flattened (`{"path.basename": ...}`) and
/// values are strings.
pub type Params = serde_json::Map<String, Value>;

/// Longest name [`sanitize_name`] returns (a DNS-1123 subdomain).
const MAX_DNS_NAME: usize = 253;

/// Argo CD's `SanitizeName` (the `normalize` template function and the
/// `*Normalized` parameters): lower case, every character other than
/// `a-z`, `0-9`, `-` and `.` replaced by `-`, at most 253 characters, and no
/// leading or trailing `-` or `.`.
///
/// ```
/// use flotilla_appset::sanitize_name;
///
/// assert_eq!(sanitize_name("US_East-2"), "us-east-2");
/// assert_eq!(sanitize_name("-my.App!"), "my.app");
/// ```
pub fn sanitize_name(name: &str) -> String {
    let mut out: String = name
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '-' | '.' => c,
            _ => '-',
        })
        .collect();
    out.truncate(MAX_DNS_NAME);
    out.trim_matches(|c| c == '-' || c == '.').to_string()
}

/// A value as Go's `fmt.Sprintf("%v", v)` prints it after `encoding/json`
/// decoded it: numbers are `float64` (`3`, `1.5`, `1e+06`), `null` is
/// `<nil>`, lists are `[a b]`, maps `map[k:v]`.
pub(crate) fn go_sprint(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        other => flotilla_template::sprint(&[flotilla_template::Value::from(other)]),
    }
}

/// Flattens a parameter set as `github.com/jeremywohl/flatten` does in
/// `DotStyle` (`a.b.c`, list items `a.0`), printing leaves with
/// [`go_sprint`]. Empty maps and lists disappear.
pub(crate) fn flatten(params: &Params) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (key, value) in params {
        flatten_into(key.clone(), value, &mut out);
    }
    out
}

fn flatten_into(key: String, value: &Value, out: &mut BTreeMap<String, String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                flatten_into(format!("{key}.{k}"), v, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten_into(format!("{key}.{i}"), v, out);
            }
        }
        leaf => {
            out.insert(key, go_sprint(leaf));
        }
    }
}

/// Like [`flatten`], keeping the result as parameters of string values (the
/// parameters of a git file in `goTemplate: false` mode).
pub(crate) fn flatten_params(object: &Params) -> Params {
    flatten(object)
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect()
}

/// Merges `src` into `dst` as `mergo.Merge(dst, src, mergo.WithOverride)`
/// does for `map[string]any`: maps present on both sides are merged
/// recursively, every other value of `src` replaces the one in `dst`.
pub(crate) fn merge_override(dst: &mut Params, src: &Params) {
    for (key, value) in src {
        match (dst.get_mut(key), value) {
            (Some(Value::Object(d)), Value::Object(s)) => merge_override(d, s),
            _ => {
                dst.insert(key.clone(), value.clone());
            }
        }
    }
}

/// Two parameter sets whose values are printed as strings, combined; a key
/// present in both with different values is an error `(key, a, b)`, as
/// Argo CD's `CombineStringMaps`.
pub(crate) fn combine_string_maps(
    a: &Params,
    b: &Params,
) -> Result<Params, (String, String, String)> {
    let mut out: Params = a
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(go_sprint(v))))
        .collect();
    for (key, value) in b {
        let value = go_sprint(value);
        if let Some(Value::String(current)) = out.get(key) {
            if *current != value {
                return Err((key.clone(), current.clone(), value));
            }
        }
        out.insert(key.clone(), Value::String(value));
    }
    Ok(out)
}

/// Like [`combine_string_maps`], but `b` wins on conflicts
/// (`CombineStringMapsAllowDuplicates`).
pub(crate) fn combine_string_maps_override(a: &Params, b: &Params) -> Params {
    let mut out: Params = a
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(go_sprint(v))))
        .collect();
    for (key, value) in b {
        out.insert(key.clone(), Value::String(go_sprint(value)));
    }
    out
}

/// The parameters of a matrix row: `preferred` (the first child's) wins
/// over `fallback` (the second child's). With Go templates maps merge
/// recursively; otherwise values are strings and a conflict is an error.
pub(crate) fn combine_matrix(
    preferred: &Params,
    fallback: &Params,
    go_template: bool,
) -> Result<Params, (String, String, String)> {
    if go_template {
        let mut out = Params::new();
        merge_override(&mut out, fallback);
        merge_override(&mut out, preferred);
        Ok(out)
    } else {
        combine_string_maps(preferred, fallback)
    }
}

/// Numbers as `float64`, so that `1` and `1.0` compare equal (Go decoded both the same way).
pub(crate) fn canonical(value: &Value) -> Value {
    match value {
        Value::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), canonical(v)))
                .collect::<BTreeMap<_, _>>()
                .into_iter()
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(v: Value) -> Params {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn sanitizes_like_argo_cd() {
        assert_eq!(sanitize_name("us-east-2"), "us-east-2");
        assert_eq!(sanitize_name("My_Cluster@Prod"), "my-cluster-prod");
        assert_eq!(sanitize_name("..a.."), "a");
        assert_eq!(sanitize_name("ÄB"), "b");
        assert_eq!(sanitize_name(&"x".repeat(300)).len(), 253);
    }

    #[test]
    fn prints_like_go() {
        assert_eq!(go_sprint(&json!(3)), "3");
        assert_eq!(go_sprint(&json!(1.5)), "1.5");
        assert_eq!(go_sprint(&json!(1000000)), "1e+06");
        assert_eq!(go_sprint(&json!(null)), "<nil>");
        assert_eq!(go_sprint(&json!(true)), "true");
        assert_eq!(go_sprint(&json!(["a", 1])), "[a 1]");
        assert_eq!(go_sprint(&json!({"b": 1, "a": "x"})), "map[a:x b:1]");
    }

    #[test]
    fn flattens_with_dots() {
        let flat = flatten(&params(json!({
            "cluster": {"name": "n", "tags": ["a", "b"], "empty": {}},
            "replicas": 2,
            "path.basename": "x"
        })));
        let expect: BTreeMap<String, String> = [
            ("cluster.name", "n"),
            ("cluster.tags.0", "a"),
            ("cluster.tags.1", "b"),
            ("path.basename", "x"),
            ("replicas", "2"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(flat, expect);
    }

    #[test]
    fn matrix_combination() {
        let a = params(json!({"x": 1, "values": {"a": "1"}}));
        let b = params(json!({"x": 2, "y": 3, "values": {"a": "2", "b": "3"}}));
        let go = combine_matrix(&a, &b, true).unwrap();
        assert_eq!(
            Value::Object(go),
            json!({"x": 1, "y": 3, "values": {"a": "1", "b": "3"}})
        );
        let fa = params(json!({"x": "1"}));
        let fb = params(json!({"x": "2"}));
        assert_eq!(
            combine_matrix(&fa, &fb, false).unwrap_err(),
            ("x".to_string(), "1".to_string(), "2".to_string())
        );
        let same = combine_matrix(&fa, &fa, false).unwrap();
        assert_eq!(Value::Object(same), json!({"x": "1"}));
        let over = combine_string_maps_override(&fa, &fb);
        assert_eq!(Value::Object(over), json!({"x": "2"}));
    }

    #[test]
    fn canonical_numbers() {
        assert_eq!(canonical(&json!(1)), canonical(&json!(1.0)));
    }
}
