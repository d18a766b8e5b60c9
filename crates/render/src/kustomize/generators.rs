//! `configMapGenerator` and `secretGenerator`, and the name hash suffix.

use base64::Engine as _;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::resource::{Behavior, Resource};
use super::types::{GeneratorArgs, GeneratorOptions};

/// Merges the kustomization's `generatorOptions` into a generator's own
/// options (kustomize's `MergeGlobalOptionsIntoLocal`).
pub fn merge_options(
    local: Option<&GeneratorOptions>,
    global: Option<&GeneratorOptions>,
) -> Option<GeneratorOptions> {
    let Some(global) = global else {
        return local.cloned();
    };
    let mut l = local.cloned().unwrap_or_default();
    for (mine, theirs) in [
        (&mut l.labels, &global.labels),
        (&mut l.annotations, &global.annotations),
    ] {
        match (mine.as_mut(), theirs) {
            (None, Some(g)) => *mine = Some(g.clone()),
            (Some(m), Some(g)) => {
                for (k, v) in g {
                    m.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            _ => {}
        }
    }
    if global.disable_name_suffix_hash {
        l.disable_name_suffix_hash = true;
    }
    if global.immutable {
        l.immutable = true;
    }
    Some(l)
}

/// A `key=value` literal (kustomize's `parseLiteralSource`).
pub fn parse_literal(source: &str) -> Result<(String, String), String> {
    if source.starts_with('=') {
        return Err(format!(
            "invalid literal source {source}, expected key=value"
        ));
    }
    let Some((k, v)) = source.split_once('=') else {
        return Err(format!(
            "invalid literal source {source}, expected key=value"
        ));
    };
    let v = if v.len() >= 2
        && v.as_bytes()[0] == v.as_bytes()[v.len() - 1]
        && (v.starts_with('"') || v.starts_with('\''))
    {
        &v[1..v.len() - 1]
    } else {
        v
    };
    Ok((k.to_string(), v.to_string()))
}

/// A `files` entry: `[key=]path` (kustomize's `ParseFileSource`).
pub fn parse_file_source(source: &str) -> Result<(String, String), String> {
    let n = source.matches('=').count();
    match n {
        0 => {
            let base = source.rsplit('/').find(|s| !s.is_empty()).unwrap_or(source);
            Ok((base.to_string(), source.to_string()))
        }
        1 if source.starts_with('=') => Err(format!(
            "missing key name for file path {:?} in source {source:?}",
            source.trim_start_matches('=')
        )),
        1 if source.ends_with('=') => Err(format!(
            "missing file path for key name {:?} in source {source:?}",
            source.trim_end_matches('=')
        )),
        1 => {
            let (k, p) = source.split_once('=').expect("one '='");
            Ok((k.to_string(), p.to_string()))
        }
        _ => Err(format!(
            "source {source:?} key name or file path contains '='"
        )),
    }
}

/// Key/value pairs of an env file (kustomize's `keyValuesFromLines`).
pub fn parse_env_file(content: &[u8]) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    // bufio.Scanner splits on \n and drops a trailing \r.
    for (i, raw) in content.split(|&b| b == b'\n').enumerate() {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let Ok(mut line) = std::str::from_utf8(raw) else {
            return Err(format!("line {} has invalid utf8 bytes", i + 1));
        };
        if i == 0 {
            line = line.strip_prefix('\u{feff}').unwrap_or(line);
        }
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = match line.split_once('=') {
            Some((k, v)) => (k, v),
            None => (line, ""),
        };
        if k.is_empty() {
            continue;
        }
        out.push((k.to_string(), v.to_string()));
    }
    // A trailing newline yields no extra line.
    Ok(out)
}

/// Base64 as kyaml writes binary and secret data: lines of 70 characters,
/// each ended by a newline once the text is 70 characters or longer.
pub fn encode_base64(bytes: &[u8]) -> String {
    let enc = base64::engine::general_purpose::STANDARD.encode(bytes);
    const LINE: usize = 70;
    let lines = enc.len() / LINE + 1;
    if lines == 1 {
        return enc;
    }
    let mut out = String::with_capacity(enc.len() + lines);
    for chunk in enc.as_bytes().chunks(LINE) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out
}

/// Builds the generated object. `pairs` hold raw bytes (file contents may
/// not be UTF-8); `secret` selects a Secret.
pub fn make_object(
    args: &GeneratorArgs,
    secret: bool,
    pairs: Vec<(String, Vec<u8>)>,
    options: Option<&GeneratorOptions>,
) -> Result<Map<String, Value>, String> {
    if args.name.is_empty() {
        return Err("a configmap must have a name".into());
    }
    let mut seen = std::collections::HashSet::new();
    for (k, _) in &pairs {
        if !seen.insert(k.clone()) {
            return Err(format!(
                "configmap {} illegally repeats the key `{k}`",
                args.name
            ));
        }
    }
    let mut obj = Map::new();
    obj.insert("apiVersion".into(), Value::String("v1".into()));
    obj.insert(
        "kind".into(),
        Value::String(if secret { "Secret" } else { "ConfigMap" }.into()),
    );
    let mut md = Map::new();
    md.insert("name".into(), Value::String(args.name.clone()));
    if !args.namespace.is_empty() {
        md.insert("namespace".into(), Value::String(args.namespace.clone()));
    }
    obj.insert("metadata".into(), Value::Object(md));
    if secret {
        let t = if args.type_.is_empty() {
            "Opaque"
        } else {
            &args.type_
        };
        obj.insert("type".into(), Value::String(t.into()));
        let mut data = Map::new();
        for (k, v) in pairs {
            data.insert(k, Value::String(encode_base64(&v)));
        }
        obj.insert("data".into(), Value::Object(data));
    } else {
        let mut data = Map::new();
        let mut binary = Map::new();
        for (k, v) in pairs {
            match String::from_utf8(v) {
                Ok(s) => {
                    data.insert(k, Value::String(s));
                }
                Err(e) => {
                    binary.insert(k, Value::String(encode_base64(e.as_bytes())));
                }
            }
        }
        if !data.is_empty() {
            obj.insert("data".into(), Value::Object(data));
        }
        if !binary.is_empty() {
            obj.insert("binaryData".into(), Value::Object(binary));
        }
    }
    if let Some(o) = options {
        let md = obj
            .get_mut("metadata")
            .and_then(Value::as_object_mut)
            .expect("metadata");
        for (field, entries) in [("labels", &o.labels), ("annotations", &o.annotations)] {
            if let Some(entries) = entries {
                if entries.is_empty() {
                    continue;
                }
                let m: Map<String, Value> = entries
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect();
                md.insert(field.into(), Value::Object(m));
            }
        }
        if o.immutable {
            obj.insert("immutable".into(), Value::Bool(true));
        }
    }
    Ok(obj)
}

/// Marks a generated resource as kustomize does (`makeOne`).
pub fn mark_generated(
    r: &mut Resource,
    behavior: &str,
    options: Option<&GeneratorOptions>,
) -> Result<(), String> {
    if options.is_none_or(|o| !o.disable_name_suffix_hash) {
        r.needs_hash = true;
    }
    r.behavior = match behavior {
        "" | "create" => Behavior::Create,
        "merge" => Behavior::Merge,
        "replace" => Behavior::Replace,
        other => {
            return Err(format!(
                "unknown generator behavior {other:?}; use create, merge or replace"
            ))
        }
    };
    Ok(())
}

/// Go's `json.Marshal` string escaping (HTML-safe).
fn go_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Go's `json.Marshal` of a JSON value (maps with sorted keys).
pub fn go_json(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&go_json_number(n)),
        Value::String(s) => go_json_string(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json_string(k, out);
                out.push(':');
                go_json(&m[k], out);
            }
            out.push('}');
        }
    }
}

fn go_json_number(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    let a = f.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        // 'e' format with a two-digit-minimum exponent cleaned to one digit.
        let s = crate::yaml::go_format_g(f);
        return s.replace("e-0", "e-").replace("e+0", "e+");
    }
    // 'f' format, shortest.
    let s = format!("{f}");
    s
}

/// kustomize's hash suffix: the first ten hex digits of a SHA-256 with
/// some digits mapped to letters.
pub fn encode_hash(data: &str) -> String {
    let digest = Sha256::digest(data.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex[..10]
        .chars()
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            c => c,
        })
        .collect()
}

/// The hash suffix of a generated ConfigMap or Secret. As in kustomize, the
/// name does not take part (its lookup path never matches), only the data.
pub fn hash_of(obj: &Map<String, Value>) -> String {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let field = |k: &str| -> Value {
        match obj.get(k) {
            None => Value::String(String::new()),
            Some(v @ (Value::Object(_) | Value::Array(_))) => v.clone(),
            Some(v) => Value::String(super::resource::scalar_text(v)),
        }
    };
    let mut m = Map::new();
    m.insert("kind".into(), Value::String(kind.to_string()));
    m.insert("name".into(), Value::String(String::new()));
    match kind {
        "ConfigMap" => {
            m.insert("data".into(), field("data"));
            if let Some(Value::Object(_)) = obj.get("binaryData") {
                m.insert("binaryData".into(), field("binaryData"));
            }
        }
        "Secret" => {
            m.insert("type".into(), field("type"));
            m.insert("data".into(), field("data"));
            if let Some(Value::Object(_)) = obj.get("stringData") {
                m.insert("stringData".into(), field("stringData"));
            }
        }
        _ => {
            let mut s = String::new();
            go_json(&Value::Object(obj.clone()), &mut s);
            return encode_hash(&s);
        }
    }
    let mut s = String::new();
    go_json(&Value::Object(m), &mut s);
    encode_hash(&s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn configmap_hash() {
        let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "foo"},
                         "data": {"a": "b", "c": "<x&y>"}});
        assert_eq!(hash_of(obj.as_object().unwrap()), "2h478k6bf6");
    }

    #[test]
    fn sources() {
        assert_eq!(
            parse_literal("a=\"b c\"").unwrap(),
            ("a".into(), "b c".into())
        );
        assert_eq!(parse_literal("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert!(parse_literal("=b").is_err());
        assert_eq!(
            parse_file_source("dir/app.properties").unwrap(),
            ("app.properties".into(), "dir/app.properties".into())
        );
        assert_eq!(
            parse_file_source("k=dir/x").unwrap(),
            ("k".into(), "dir/x".into())
        );
        assert_eq!(
            parse_env_file(b"# c\nA=1\n  B=2=3\nC\n\n").unwrap(),
            vec![
                ("A".into(), "1".into()),
                ("B".into(), "2=3".into()),
                ("C".into(), "".into())
            ]
        );
    }
}
