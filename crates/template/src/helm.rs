//! Helm's additions to Sprig (helm.sh/helm/v3 pkg/engine) and the functions
//! Argo CD's ApplicationSet controller adds (applicationset/utils).

use std::collections::BTreeMap;

use crate::funcs::{add, FuncMap, Function, Param};
use crate::sprig::{from_json, go_json, s};
use crate::value::Value;

fn to_yaml_trimmed(v: &Value) -> Result<String, String> {
    let y = crate::yaml::marshal(v)?;
    Ok(y.strip_suffix('\n').unwrap_or(&y).to_string())
}

/// Helm's function map additions (Sprig minus `env`/`expandenv` is the
/// base).
pub(crate) fn helm_extras(m: &mut FuncMap) {
    use Param::*;
    m.remove("env");
    m.remove("expandenv");
    add(
        m,
        "toYaml",
        Function::new(&[Any], |_, a| {
            Ok(Value::str(to_yaml_trimmed(&a[0]).unwrap_or_default()))
        }),
    );
    add(
        m,
        "fromYaml",
        Function::new(&[String], |_, a| {
            Ok(match crate::yaml::unmarshal(s(&a[0])) {
            Ok(Value::Map(mm)) => Value::Map(mm),
            Ok(Value::Nil) => Value::empty_map(),
            Ok(other) => error_map(format!(
                "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                json_kind(&other)
            )),
            Err(e) => error_map(e),
        })
        }),
    );
    add(
        m,
        "fromYamlArray",
        Function::new(&[String], |_, a| {
            Ok(match crate::yaml::unmarshal(s(&a[0])) {
            Ok(Value::List(l)) => Value::List(l),
            Ok(Value::Nil) => Value::list(Vec::new()),
            Ok(other) => Value::list(vec![Value::str(format!(
                "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type []interface {{}}",
                json_kind(&other)
            ))]),
            Err(e) => Value::list(vec![Value::str(e)]),
        })
        }),
    );
    add(
        m,
        "toJson",
        Function::new(&[Any], |_, a| {
            Ok(Value::str(go_json(&a[0], true, None).unwrap_or_default()))
        }),
    );
    add(
        m,
        "fromJson",
        Function::new(&[String], |_, a| {
            Ok(match from_json(s(&a[0])) {
                Ok(Value::Map(mm)) => Value::Map(mm),
                Ok(Value::Nil) => Value::empty_map(),
                Ok(other) => error_map(format!(
                    "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                    json_kind(&other)
                )),
                Err(e) => error_map(e),
            })
        }),
    );
    add(
        m,
        "fromJsonArray",
        Function::new(&[String], |_, a| {
            Ok(match from_json(s(&a[0])) {
                Ok(Value::List(l)) => Value::List(l),
                Ok(Value::Nil) => Value::list(Vec::new()),
                Ok(other) => Value::list(vec![Value::str(format!(
                    "json: cannot unmarshal {} into Go value of type []interface {{}}",
                    json_kind(&other)
                ))]),
                Err(e) => Value::list(vec![Value::str(e)]),
            })
        }),
    );
    add(
        m,
        "include",
        Function::new(&[String, Any], |ctx, a| {
            let name = s(&a[0]).to_string();
            ctx.include(&name, a[1].clone()).map(Value::str)
        }),
    );
    add(
        m,
        "tpl",
        Function::new(&[String, Any], |ctx, a| {
            let text = s(&a[0]).to_string();
            ctx.tpl(&text, a[1].clone()).map(Value::str)
        }),
    );
    add(
        m,
        "required",
        Function::new(&[String, Any], |_, a| match &a[1] {
            Value::Nil | Value::Invalid => Err(s(&a[0]).to_string()),
            Value::String(x) if x.is_empty() => Err(s(&a[0]).to_string()),
            other => Ok(other.clone()),
        }),
    );
    add(
        m,
        "fail",
        Function::new(&[String], |_, a| Err(s(&a[0]).to_string())),
    );
    add(
        m,
        "lookup",
        Function::new(&[String, String, String, String], |_, _| {
            Ok(Value::empty_map())
        }),
    );
    add(
        m,
        "getHostByName",
        Function::new(&[String], |_, _| Ok(Value::str(""))),
    );
    for name in ["toToml", "fromToml", "toYamlPretty"] {
        add(
            m,
            name,
            Function::variadic(&[], Any, move |_, _| {
                Err(format!(
                    "{} is not supported by Flotilla's template engine",
                    name
                ))
            }),
        );
    }
}

fn error_map(e: String) -> Value {
    let mut m = BTreeMap::new();
    m.insert("Error".to_string(), Value::str(e));
    Value::map(m)
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::List(_) => "array",
        Value::Map(_) => "object",
        Value::String(_) => "string",
        Value::Bool(_) => "bool",
        Value::Float(_) | Value::Int(_) | Value::Int64(_) | Value::Uint64(_) => "number",
        _ => "null",
    }
}

/// Argo CD's `normalize` (utils.SanitizeName).
pub fn sanitize_name(name: &str) -> String {
    let lower = name.to_lowercase();
    let mut out: String = lower
        .chars()
        .map(|c| {
            if c == '-' || c == '.' || c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect();
    if out.len() > 253 {
        let mut cut = 253;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out.trim_matches(|c| c == '-' || c == '.').to_string()
}

/// The functions Argo CD's ApplicationSet controller adds to Sprig.
pub(crate) fn argocd_extras(m: &mut FuncMap) {
    use Param::*;
    add(
        m,
        "normalize",
        Function::new(&[String], |_, a| Ok(Value::str(sanitize_name(s(&a[0]))))),
    );
    add(
        m,
        "slugify",
        Function::variadic(&[], Any, |_, a| {
            // utils.SlugifyName: [maxSize int] [smartTruncate bool] name.
            let mut max = 50usize;
            let mut smart = true;
            let mut name = std::string::String::new();
            let n = a.len();
            for (i, v) in a.iter().enumerate() {
                if i + 1 == n {
                    name = s(v).to_string();
                } else if i == 0 {
                    if let Value::Int(x) = v {
                        max = (*x).max(0) as usize;
                    }
                } else if i == 1 {
                    if let Value::Bool(b) = v {
                        smart = *b;
                    }
                }
            }
            Ok(Value::str(slugify(&sanitize_name(&name), max, smart)))
        }),
    );
    add(
        m,
        "toYaml",
        Function::new(&[Any], |_, a| to_yaml_trimmed(&a[0]).map(Value::str)),
    );
    add(
        m,
        "fromYaml",
        Function::new(&[String], |_, a| {
            match crate::yaml::unmarshal(s(&a[0]))? {
        Value::Map(mm) => Ok(Value::Map(mm)),
        Value::Nil => Ok(Value::empty_map()),
        other => Err(format!(
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            json_kind(&other)
        )),
    }
        }),
    );
    add(
        m,
        "fromYamlArray",
        Function::new(&[String], |_, a| {
            match crate::yaml::unmarshal(s(&a[0]))? {
        Value::List(l) => Ok(Value::List(l)),
        Value::Nil => Ok(Value::nil_list()),
        other => Err(format!(
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type []interface {{}}",
            json_kind(&other)
        )),
    }
        }),
    );
}

/// An approximation of gosimple/slug's Make for already-sanitized names:
/// lower-case ASCII words joined by `-`, truncated to `max` (at a word
/// boundary when `smart`).
fn slugify(name: &str, max: usize, smart: bool) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c);
        } else {
            dash = true;
        }
    }
    if max > 0 && out.len() > max {
        if smart {
            let mut cut = String::new();
            for w in out.split('-') {
                let extra = if cut.is_empty() { w.len() } else { w.len() + 1 };
                if cut.len() + extra > max {
                    break;
                }
                if !cut.is_empty() {
                    cut.push('-');
                }
                cut.push_str(w);
            }
            if cut.is_empty() {
                out.truncate(max);
            } else {
                out = cut;
            }
        } else {
            out.truncate(max);
        }
    }
    out
}
