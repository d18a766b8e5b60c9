//! `values.schema.json` validation, as Helm's
//! `chartutil.ValidateAgainstSchema` does it: the chart's schema against
//! its coalesced values, then each subchart's schema against the values
//! under the subchart's name, errors listed per chart in Helm's words
//! (`- replicas: Invalid type. Expected: integer, given: string`; Helm's
//! validator is gojsonschema, whose messages are reproduced for the
//! keywords charts use).

use flotilla_template::Value;
use jsonschema::error::{TypeKind, ValidationErrorKind};

use crate::chart::Chart;
use crate::values::as_table;

/// The values of one or more charts fail their schema.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "values don't meet the specifications of the schema(s) in the following chart(s):\n{report}"
)]
pub struct SchemaError {
    /// Helm's report: per chart `NAME:\n` then `- PATH: MESSAGE\n` lines.
    pub report: String,
    /// Every failure, in report order.
    pub failures: Vec<SchemaFailure>,
}

/// One failing value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaFailure {
    /// The chart whose schema failed (its name, or alias).
    pub chart: String,
    /// The value's path as Helm prints it: `(root)`, `image.tag`, `ports.0`.
    pub path: String,
    /// The message (`Invalid type. Expected: integer, given: string`).
    pub message: String,
}

/// Validates `values` (the coalesced values of `chart`) against the
/// schemas of `chart` and of every subchart.
pub fn validate_against_schema(chart: &Chart, values: &Value) -> Result<(), SchemaError> {
    let mut report = String::new();
    let mut failures = Vec::new();
    walk(chart, values, &mut report, &mut failures);
    if report.is_empty() {
        Ok(())
    } else {
        Err(SchemaError { report, failures })
    }
}

fn walk(chart: &Chart, values: &Value, report: &mut String, failures: &mut Vec<SchemaFailure>) {
    if let Some(schema) = &chart.schema {
        let name = chart.metadata.name.clone();
        match validate_single(values, schema) {
            Ok(list) if list.is_empty() => {}
            Ok(list) => {
                report.push_str(&format!("{name}:\n"));
                for (path, message) in list {
                    report.push_str(&format!("- {path}: {message}\n"));
                    failures.push(SchemaFailure {
                        chart: name.clone(),
                        path,
                        message,
                    });
                }
            }
            Err(e) => {
                report.push_str(&format!("{name}:\n{e}"));
                failures.push(SchemaFailure {
                    chart: name.clone(),
                    path: "(schema)".into(),
                    message: e,
                });
            }
        }
    }
    for sub in &chart.dependencies {
        let sv = as_table(values)
            .and_then(|m| m.get(&sub.metadata.name))
            .unwrap_or_else(Value::empty_map);
        walk(sub, &sv, report, failures);
    }
}

/// Values as the validator sees them: through YAML and back to JSON, so
/// integral floats are integers.
fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Nil | Value::Invalid => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(i) | Value::Int64(i) => serde_json::Value::from(*i),
        Value::Uint64(u) => serde_json::Value::from(*u),
        Value::Float(f) => {
            if f.fract() == 0.0 && f.abs() < 9.2e18 {
                serde_json::Value::from(*f as i64)
            } else {
                serde_json::Number::from_f64(*f)
                    .map(serde_json::Value::Number)
                    .unwrap_or(serde_json::Value::Null)
            }
        }
        Value::String(s) => serde_json::Value::String(s.to_string()),
        Value::List(l) => {
            if l.nil {
                serde_json::Value::Null
            } else {
                serde_json::Value::Array(l.items.iter().map(to_json).collect())
            }
        }
        Value::Map(m) => serde_json::Value::Object(
            m.entries()
                .into_iter()
                .map(|(k, v)| (k, to_json(&v)))
                .collect(),
        ),
        other => other.to_json().unwrap_or(serde_json::Value::Null),
    }
}

/// Validates `values` against one schema; the failures as (path, message),
/// or an error when the schema itself cannot be used.
pub fn validate_single(values: &Value, schema: &[u8]) -> Result<Vec<(String, String)>, String> {
    let schema: serde_json::Value =
        serde_json::from_slice(schema).map_err(|e| format!("invalid values.schema.json: {e}"))?;
    let validator = match jsonschema::options().build(&schema) {
        Ok(v) => v,
        Err(first) => {
            // gojsonschema accepts any `$schema`; fall back to draft 7 for
            // meta-schema URIs the crate does not know.
            let mut s = schema.clone();
            if let Some(o) = s.as_object_mut() {
                o.remove("$schema");
            }
            jsonschema::options()
                .with_draft(jsonschema::Draft::Draft7)
                .build(&s)
                .map_err(|_| format!("invalid values.schema.json: {first}"))?
        }
    };
    let mut instance = to_json(values);
    if instance.is_null() {
        instance = serde_json::Value::Object(Default::default());
    }
    let mut keyed = Vec::new();
    for e in validator.iter_errors(&instance) {
        let path = field(e.instance_path().as_str());
        let key = order_key(&schema, e.schema_path().as_str());
        for message in describe(e.kind(), &path, e.instance()) {
            keyed.push((key.clone(), path.clone(), message));
        }
    }
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(keyed.into_iter().map(|(_, p, m)| (p, m)).collect())
}

/// Where gojsonschema reports a failure, as a sort key over the schema
/// location: per level the type check first, then combinators, array and
/// object constraints, `required`, extra properties, `const`/`enum`,
/// string and number constraints, then each of `properties` in schema
/// order. (gojsonschema visits properties in Go map order, so Helm's own
/// order varies between runs; this is the order of the schema.)
fn order_key(schema: &serde_json::Value, pointer: &str) -> Vec<(u32, u32)> {
    let segs: Vec<String> = pointer
        .trim_start_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    let mut key = Vec::new();
    let mut node = Some(schema);
    let mut i = 0;
    while i < segs.len() {
        let kw = segs[i].as_str();
        let rank = match kw {
            "type" => 0,
            "anyOf" | "oneOf" | "allOf" | "not" | "dependencies" | "dependentRequired"
            | "dependentSchemas" | "if" | "then" | "else" | "$ref" => 1,
            "maxProperties" | "minProperties" | "items" | "prefixItems" | "additionalItems"
            | "maxItems" | "minItems" | "uniqueItems" | "contains" => 2,
            "required" => 3,
            "patternProperties" | "additionalProperties" | "propertyNames" => 4,
            "const" | "enum" => 5,
            "properties" => 7,
            _ => 6,
        };
        let next = node.and_then(|n| n.get(kw));
        if matches!(
            kw,
            "properties" | "patternProperties" | "$defs" | "definitions"
        ) && i + 1 < segs.len()
        {
            let name = &segs[i + 1];
            let idx = next
                .and_then(|p| p.as_object())
                .and_then(|o| o.keys().position(|k| k == name))
                .unwrap_or(u32::MAX as usize) as u32;
            key.push((rank, idx));
            node = next.and_then(|p| p.get(name));
            i += 2;
            continue;
        }
        if let Some(Ok(idx)) = segs.get(i + 1).map(|s| s.parse::<u32>()) {
            if next.is_some_and(|n| n.is_array()) {
                key.push((rank, idx));
                node = next.and_then(|n| n.get(idx as usize));
                i += 2;
                continue;
            }
        }
        key.push((rank, 0));
        node = next;
        i += 1;
    }
    key
}

/// A JSON pointer as gojsonschema names a field: `(root)`, `a.b.0`.
fn field(pointer: &str) -> String {
    if pointer.is_empty() || pointer == "/" {
        return "(root)".into();
    }
    pointer
        .trim_start_matches('/')
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect::<Vec<_>>()
        .join(".")
}

fn num(v: &serde_json::Value) -> String {
    match v.as_f64() {
        Some(f) => flotilla_template::sprint(&[Value::Float(f)]),
        None => v.to_string(),
    }
}

fn json_type_name(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(n) => {
            if n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0) {
                "integer"
            } else {
                "number"
            }
        }
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// gojsonschema's message for an error kind.
fn describe(kind: &ValidationErrorKind, path: &str, instance: &serde_json::Value) -> Vec<String> {
    use ValidationErrorKind as K;
    let one = |s: String| vec![s];
    match kind {
        K::Required { property } => one(format!(
            "{} is required",
            property
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| property.to_string())
        )),
        K::Type { kind } => {
            let expected = match kind {
                TypeKind::Single(t) => t.to_string(),
                TypeKind::Multiple(set) => {
                    let v: Vec<String> = set.iter().map(|t| t.to_string()).collect();
                    format!("[{}]", v.join(","))
                }
            };
            one(format!(
                "Invalid type. Expected: {expected}, given: {}",
                json_type_name(instance)
            ))
        }
        K::AdditionalProperties { unexpected } => unexpected
            .iter()
            .map(|p| format!("Additional property {p} is not allowed"))
            .collect(),
        K::Enum { options } => {
            let allowed: Vec<String> = options
                .as_array()
                .map(|a| a.iter().map(|v| v.to_string()).collect())
                .unwrap_or_default();
            one(format!(
                "{path} must be one of the following: {}",
                allowed.join(", ")
            ))
        }
        K::Constant { expected_value } => one(format!("{path} does not match: {expected_value}")),
        K::AnyOf { .. } => one("Must validate at least one schema (anyOf)".into()),
        K::OneOfMultipleValid { .. } | K::OneOfNotValid { .. } => {
            one("Must validate one and only one schema (oneOf)".into())
        }
        K::Not { .. } => one("Must not validate the schema (not)".into()),
        K::MinItems { limit } => one(format!("Array must have at least {limit} items")),
        K::MaxItems { limit } => one(format!("Array must have at most {limit} items")),
        K::UniqueItems => one(format!("{} items must be unique", json_type_name(instance))),
        K::Contains => one("At least one of the items must match".into()),
        K::MinProperties { limit } => one(format!("Must have at least {limit} properties")),
        K::MaxProperties { limit } => one(format!("Must have at most {limit} properties")),
        K::MinLength { limit } => one(format!(
            "String length must be greater than or equal to {limit}"
        )),
        K::MaxLength { limit } => one(format!(
            "String length must be less than or equal to {limit}"
        )),
        K::Pattern { pattern } => one(format!("Does not match pattern '{pattern}'")),
        K::Format { format } => one(format!("Does not match format '{format}'")),
        K::MultipleOf { multiple_of } => one(format!(
            "Must be a multiple of {}",
            flotilla_template::sprint(&[Value::Float(*multiple_of)])
        )),
        K::Minimum { limit } => one(format!("Must be greater than or equal to {}", num(limit))),
        K::ExclusiveMinimum { limit } => one(format!("Must be greater than {}", num(limit))),
        K::Maximum { limit } => one(format!("Must be less than or equal to {}", num(limit))),
        K::ExclusiveMaximum { limit } => one(format!("Must be less than {}", num(limit))),
        K::AdditionalItems { .. } => one("No additional items allowed on array".into()),
        K::FalseSchema => one("False always fails validation".into()),
        other => one(format!("{other:?}")),
    }
}
