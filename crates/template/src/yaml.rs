//! YAML as Helm and Argo CD produce and read it through `sigs.k8s.io/yaml`,
//! on the workspace's one go-yaml implementation ([`flotilla_yaml`]): this
//! module only converts between template values and JSON values and words
//! errors as Go does.

use crate::gofmt;
use crate::value::Value;

/// Deepest value marshalled (a self-referencing map, built with
/// `set $d "self" $d`, is a cycle that Go's JSON encoder refuses).
const MAX_DEPTH: usize = 1000;

/// Marshals `v` as `sigs.k8s.io/yaml.Marshal` does (with its trailing
/// newline).
pub(crate) fn marshal(v: &Value) -> Result<String, String> {
    let json = to_json(v, 0)?;
    flotilla_yaml::marshal(&json).map_err(|e| format!("error converting YAML to JSON: {e}"))
}

/// A template value as Go's `encoding/json` sees it.
fn to_json(v: &Value, depth: usize) -> Result<serde_json::Value, String> {
    use serde_json::Value as J;
    if depth > MAX_DEPTH {
        return Err(
            "error marshaling into JSON: json: unsupported value: encountered a cycle".into(),
        );
    }
    Ok(match v {
        Value::Invalid | Value::Nil => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) | Value::Int64(i) => J::from(*i),
        Value::Uint64(u) => J::from(*u),
        Value::Float(f) => match serde_json::Number::from_f64(*f) {
            Some(n) => J::Number(n),
            None => {
                return Err(format!(
                    "error marshaling into JSON: json: unsupported value: {}",
                    gofmt::format_float(*f, 'g', -1)
                ))
            }
        },
        Value::String(s) => J::String(s.to_string()),
        Value::Time(t) => J::String(t.rfc3339_nano()),
        Value::Version(x) => J::String(x.to_string()),
        Value::List(l) if l.nil => J::Null,
        Value::List(l) => J::Array(
            l.items
                .iter()
                .map(|x| to_json(x, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Value::Map(m) => {
            let mut o = serde_json::Map::with_capacity(m.len());
            for (k, x) in m.entries() {
                o.insert(k, to_json(&x, depth + 1)?);
            }
            J::Object(o)
        }
    })
}

/// Unmarshals YAML the way `sigs.k8s.io/yaml.Unmarshal` into
/// `interface{}` ends up: go-yaml v2 (YAML 1.1 scalars: `yes`/`on` are
/// booleans, `0777` is octal) then JSON, so numbers are float64 and keys
/// strings. Only the first document is read.
pub(crate) fn unmarshal(text: &str) -> Result<Value, String> {
    match flotilla_yaml::unmarshal(text) {
        Ok(v) => Ok(Value::from(&v)),
        Err(e) if e.message.starts_with("json: ") => {
            Err(format!("error converting YAML to JSON: {}", e.message))
        }
        Err(e) => Err(format!(
            "error converting YAML to JSON: yaml: line {}: {}",
            e.line, e.message
        )),
    }
}
