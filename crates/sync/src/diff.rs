//! Comparing desired and live objects: normalisation of what the server
//! adds, `ignoreDifferences`, Secret masking and unified YAML diffs.

use flotilla_core::ResourceIgnoreDifferences;
use serde_json::{Map, Value};

use crate::error::{Result, SyncError};

/// The annotation holding the hash of the desired manifest last applied by
/// Flotilla: with it a no-op sync needs no per-resource request.
pub const DESIRED_HASH_ANNOTATION: &str = "flotilla.dev/desired-hash";

/// What Secret values show as in diffs and messages.
pub const SECRET_MASK: &str = "++++++++";

/// Annotations that servers, controllers or other tools add and that never
/// count as a difference.
const IGNORED_ANNOTATIONS: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
    DESIRED_HASH_ANNOTATION,
];

/// Removes what the server adds to every object (status, managed fields,
/// resource version, uid, timestamps, ...) and annotations other tools
/// maintain, so that the rest can be compared with a desired object.
pub fn normalize(obj: &Value) -> Value {
    let mut obj = obj.clone();
    if let Some(map) = obj.as_object_mut() {
        map.remove("status");
        if let Some(Value::Object(meta)) = map.get_mut("metadata") {
            for key in [
                "managedFields",
                "resourceVersion",
                "uid",
                "generation",
                "creationTimestamp",
                "selfLink",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
            ] {
                meta.remove(key);
            }
            if let Some(Value::Object(annotations)) = meta.get_mut("annotations") {
                for key in IGNORED_ANNOTATIONS {
                    annotations.remove(*key);
                }
                if annotations.is_empty() {
                    meta.remove("annotations");
                }
            }
            if meta
                .get("labels")
                .is_some_and(|l| l.as_object().is_some_and(Map::is_empty))
            {
                meta.remove("labels");
            }
            if meta.get("namespace").and_then(Value::as_str) == Some("") {
                meta.remove("namespace");
            }
        }
    }
    obj
}

/// A stable hash of a desired object (keys sorted), as written to
/// [`DESIRED_HASH_ANNOTATION`].
pub fn desired_hash(obj: &Value) -> String {
    use sha2::Digest as _;
    fn canonical(v: &Value, out: &mut String) {
        match v {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for k in keys {
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    canonical(&map[k], out);
                    out.push(',');
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for item in items {
                    canonical(item, out);
                    out.push(',');
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut text = String::new();
    canonical(obj, &mut text);
    hex::encode(&sha2::Sha256::digest(text.as_bytes())[..16])
}

fn scalar_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::String(s), Value::Number(n)) | (Value::Number(n), Value::String(s)) => {
            s == &n.to_string()
        }
        _ => a == b,
    }
}

/// True when every field the desired object sets has the same value live.
/// Lists must have the same length and match element by element. Fields the
/// server or other managers add live are not differences.
pub fn is_subset(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => d.iter().all(|(k, dv)| match l.get(k) {
            Some(lv) => is_subset(dv, lv),
            None => is_empty_value(dv),
        }),
        (Value::Object(d), Value::Null) => d.values().all(is_empty_value),
        (Value::Array(d), Value::Array(l)) => {
            d.len() == l.len() && d.iter().zip(l).all(|(dv, lv)| is_subset(dv, lv))
        }
        (Value::Array(d), Value::Null) => d.is_empty(),
        (Value::Null, _) => true,
        _ => scalar_eq(desired, live),
    }
}

fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.values().all(is_empty_value),
        Value::Array(a) => a.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// For a Secret, moves `stringData` into `data` (base64) as the server does,
/// so that a desired Secret compares with its live form.
pub fn fold_string_data(obj: &mut Value) {
    use base64::Engine as _;
    let is_secret = obj.get("kind").and_then(Value::as_str) == Some("Secret")
        && obj.get("apiVersion").and_then(Value::as_str) == Some("v1");
    if !is_secret {
        return;
    }
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    let Some(Value::Object(string_data)) = map.remove("stringData") else {
        return;
    };
    let data = map
        .entry("data")
        .or_insert_with(|| Value::Object(Map::new()));
    if !data.is_object() {
        *data = Value::Object(Map::new());
    }
    if let Some(data) = data.as_object_mut() {
        for (k, v) in string_data {
            let text = v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            data.insert(
                k,
                Value::String(base64::engine::general_purpose::STANDARD.encode(text)),
            );
        }
    }
}

/// Masks Secret `data` and `stringData` values in a pair of objects to be
/// shown side by side: equal values get the same mask, different values
/// different masks, so a diff still shows which keys changed.
pub fn mask_secret_pair(a: Option<&mut Value>, b: Option<&mut Value>) {
    let is_secret = |v: &Value| {
        v.get("kind").and_then(Value::as_str) == Some("Secret")
            && v.get("apiVersion").and_then(Value::as_str) == Some("v1")
    };
    let (a_secret, b_secret) = (
        a.as_deref().is_some_and(is_secret),
        b.as_deref().is_some_and(is_secret),
    );
    if !a_secret && !b_secret {
        return;
    }
    let mut a = a.filter(|v| is_secret(v));
    let mut b = b.filter(|v| is_secret(v));
    for field in ["data", "stringData"] {
        let get = |v: &Option<&mut Value>, k: &str| -> Option<Value> {
            v.as_deref()
                .and_then(|v| v.get(field))
                .and_then(|d| d.get(k))
                .cloned()
        };
        let keys: Vec<String> = [a.as_deref(), b.as_deref()]
            .into_iter()
            .flatten()
            .filter_map(|v| v.get(field).and_then(Value::as_object))
            .flat_map(|m| m.keys().cloned())
            .collect();
        for k in keys {
            let (va, vb) = (get(&a, &k), get(&b, &k));
            let same = va == vb;
            let set = |v: &mut Option<&mut Value>, mask: &str| {
                if let Some(Value::Object(d)) = v.as_deref_mut().and_then(|v| v.get_mut(field)) {
                    if let Some(slot) = d.get_mut(&k) {
                        *slot = Value::String(mask.into());
                    }
                }
            };
            set(&mut a, SECRET_MASK);
            set(&mut b, if same { SECRET_MASK } else { "++++++++++++" });
        }
    }
}

/// Masks Secret values in one object.
pub fn mask_secret(obj: &mut Value) {
    mask_secret_pair(Some(obj), None);
}

/// Removes every value of a Secret manifest (data, stringData, and their
/// base64-decoded forms) from a message, for errors that quote the object.
pub fn redact_secret_values(message: &str, obj: &Value) -> String {
    use base64::Engine as _;
    if obj.get("kind").and_then(Value::as_str) != Some("Secret") {
        return message.to_string();
    }
    let mut values: Vec<String> = Vec::new();
    for field in ["data", "stringData"] {
        if let Some(map) = obj.get(field).and_then(Value::as_object) {
            for v in map.values().filter_map(Value::as_str) {
                values.push(v.to_string());
                if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(v) {
                    if let Ok(text) = String::from_utf8(bytes) {
                        values.push(text);
                    }
                }
                values.push(base64::engine::general_purpose::STANDARD.encode(v));
            }
        }
    }
    values.retain(|v| v.len() >= 3);
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    let mut out = message.to_string();
    for v in values {
        out = out.replace(&v, flotilla_core::REDACTED);
    }
    out
}

/// A unified diff of two objects as YAML (`live` then `desired`), or `None`
/// when they are equal. Secret values must already be masked.
pub fn unified_yaml_diff(
    live: Option<&Value>,
    desired: Option<&Value>,
    name: &str,
) -> Option<String> {
    let to_yaml = |v: Option<&Value>| match v {
        Some(v) => serde_yaml_ng::to_string(v).unwrap_or_else(|_| v.to_string()),
        None => String::new(),
    };
    let (a, b) = (to_yaml(live), to_yaml(desired));
    if a == b {
        return None;
    }
    let diff = similar::TextDiff::from_lines(&a, &b);
    Some(
        diff.unified_diff()
            .context_radius(3)
            .header(&format!("live/{name}"), &format!("desired/{name}"))
            .to_string(),
    )
}

/// The `ignoreDifferences` rules of an Application, checked.
#[derive(Clone, Debug, Default)]
pub struct IgnoreRules {
    rules: Vec<ResourceIgnoreDifferences>,
}

impl IgnoreRules {
    /// Checks the rules: JSON pointers must start with `/`, jq expressions
    /// must compile.
    pub fn new(rules: &[ResourceIgnoreDifferences]) -> Result<Self> {
        for rule in rules {
            for pointer in &rule.json_pointers {
                if !pointer.is_empty() && !pointer.starts_with('/') {
                    return Err(SyncError::IgnoreRule {
                        message: format!("jsonPointer {pointer:?} must start with `/`"),
                    });
                }
            }
            for expr in &rule.jq_path_expressions {
                compile_del(expr)?;
            }
        }
        Ok(IgnoreRules {
            rules: rules.to_vec(),
        })
    }

    /// True when there is no rule.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    fn matching<'a>(
        &'a self,
        obj: &'a Value,
    ) -> impl Iterator<Item = &'a ResourceIgnoreDifferences> + 'a {
        let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        let meta = |k: &str| {
            obj.get("metadata")
                .and_then(|m| m.get(k))
                .and_then(Value::as_str)
                .unwrap_or("")
        };
        let (name, namespace) = (meta("name"), meta("namespace"));
        self.rules.iter().filter(move |r| {
            r.group.as_deref().unwrap_or("") == group
                && r.kind.as_deref().is_none_or(|k| k == kind || k == "*")
                && r.name.as_deref().is_none_or(|n| n.is_empty() || n == name)
                && r.namespace
                    .as_deref()
                    .is_none_or(|n| n.is_empty() || n == namespace)
        })
    }

    /// Removes the ignored fields from `obj`. `live` provides the managed
    /// fields for `managedFieldsManagers` rules (pass the live object when
    /// normalising either side).
    pub fn apply(&self, obj: &mut Value, live: Option<&Value>) -> Result<()> {
        if self.rules.is_empty() {
            return Ok(());
        }
        let subject = obj.clone();
        for rule in self.matching(&subject) {
            for pointer in &rule.json_pointers {
                remove_pointer(obj, pointer);
            }
            for expr in &rule.jq_path_expressions {
                *obj = run_del(expr, obj)?;
            }
            if let Some(live) = live {
                for manager in &rule.managed_fields_managers {
                    remove_managed_fields(obj, live, manager);
                }
            }
        }
        Ok(())
    }

    /// For `RespectIgnoreDifferences=true`: gives the ignored fields of
    /// `desired` the values they have live (or removes them when absent live).
    pub fn respect(&self, desired: &mut Value, live: &Value) -> Result<()> {
        if self.rules.is_empty() {
            return Ok(());
        }
        let mut stripped_live = live.clone();
        self.apply(&mut stripped_live, Some(live))?;
        let mut paths = Vec::new();
        removed_paths(live, &stripped_live, &mut String::new(), &mut paths);
        let mut stripped_desired = desired.clone();
        self.apply(&mut stripped_desired, Some(live))?;
        removed_paths(desired, &stripped_desired, &mut String::new(), &mut paths);
        for path in paths {
            match live.pointer(&path) {
                Some(v) => set_pointer(desired, &path, v.clone()),
                None => remove_pointer(desired, &path),
            }
        }
        Ok(())
    }
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Removes the value at a JSON pointer, if present.
pub fn remove_pointer(obj: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let last = unescape(last);
    match obj.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.remove(&last);
        }
        Some(Value::Array(items)) => {
            if let Ok(i) = last.parse::<usize>() {
                if i < items.len() {
                    items.remove(i);
                }
            }
        }
        _ => {}
    }
}

fn set_pointer(obj: &mut Value, pointer: &str, value: Value) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let last = unescape(last);
    match obj.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.insert(last, value);
        }
        Some(Value::Array(items)) => {
            if let Ok(i) = last.parse::<usize>() {
                if i < items.len() {
                    items[i] = value;
                }
            }
        }
        _ => {}
    }
}

/// Paths present in `before` and gone from `after` (lists compared element by
/// element when their lengths match).
fn removed_paths(before: &Value, after: &Value, prefix: &mut String, out: &mut Vec<String>) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for (k, bv) in b {
                let len = prefix.len();
                prefix.push('/');
                prefix.push_str(&escape(k));
                match a.get(k) {
                    None => out.push(prefix.clone()),
                    Some(av) => removed_paths(bv, av, prefix, out),
                }
                prefix.truncate(len);
            }
        }
        (Value::Array(b), Value::Array(a)) if a.len() == b.len() => {
            for (i, (bv, av)) in b.iter().zip(a).enumerate() {
                let len = prefix.len();
                prefix.push_str(&format!("/{i}"));
                removed_paths(bv, av, prefix, out);
                prefix.truncate(len);
            }
        }
        _ => {}
    }
}

type JqFilter = jaq_core::Filter<jaq_core::Native<jaq_json::Val>>;

fn compile_del(expr: &str) -> Result<JqFilter> {
    use jaq_core::load::{Arena, File, Loader};
    let code = format!("del({expr})");
    let loader = Loader::new(jaq_std::defs().chain(jaq_json::defs()));
    let arena = Arena::default();
    let modules = loader
        .load(
            &arena,
            File {
                code: code.as_str(),
                path: (),
            },
        )
        .map_err(|errors| SyncError::IgnoreRule {
            message: format!(
                "jqPathExpression {expr:?} does not parse ({} error(s))",
                errors.len()
            ),
        })?;
    jaq_core::Compiler::default()
        .with_funs(jaq_std::funs().chain(jaq_json::funs()))
        .compile(modules)
        .map_err(|errors| SyncError::IgnoreRule {
            message: format!(
                "jqPathExpression {expr:?} does not compile ({} error(s), unknown function or variable?)",
                errors.len()
            ),
        })
}

fn run_del(expr: &str, obj: &Value) -> Result<Value> {
    use jaq_core::{Ctx, RcIter};
    let filter = compile_del(expr)?;
    let inputs = RcIter::new(core::iter::empty());
    let mut out = filter.run((Ctx::new([], &inputs), jaq_json::Val::from(obj.clone())));
    match out.next() {
        Some(Ok(v)) => Ok(Value::from(v)),
        Some(Err(e)) => Err(SyncError::IgnoreRule {
            message: format!("jqPathExpression {expr:?} failed: {e}"),
        }),
        None => Ok(obj.clone()),
    }
}

/// Removes from `obj` the fields that `manager` owns in `live`'s managedFields.
fn remove_managed_fields(obj: &mut Value, live: &Value, manager: &str) {
    let Some(entries) = live
        .get("metadata")
        .and_then(|m| m.get("managedFields"))
        .and_then(Value::as_array)
    else {
        return;
    };
    for entry in entries {
        if entry.get("manager").and_then(Value::as_str) != Some(manager) {
            continue;
        }
        if let Some(Value::Object(fields)) = entry.get("fieldsV1") {
            remove_fieldset(obj, fields);
        }
    }
}

/// Walks a `fieldsV1` set and removes its leaves from `obj`.
fn remove_fieldset(obj: &mut Value, fields: &Map<String, Value>) {
    for (key, child) in fields {
        let leaf = child.as_object().is_none_or(|c| c.keys().all(|k| k == "."));
        let child_map = child.as_object();
        if let Some(name) = key.strip_prefix("f:") {
            if let Value::Object(map) = obj {
                if leaf {
                    map.remove(name);
                } else if let (Some(v), Some(c)) = (map.get_mut(name), child_map) {
                    remove_fieldset(v, c);
                }
            }
        } else if let Some(keys) = key.strip_prefix("k:") {
            let Ok(Value::Object(keys)) = serde_json::from_str::<Value>(keys) else {
                continue;
            };
            if let Value::Array(items) = obj {
                let found = items.iter().position(|item| {
                    keys.iter()
                        .all(|(k, v)| item.get(k).is_some_and(|iv| scalar_eq(iv, v)))
                });
                if let Some(i) = found {
                    if leaf {
                        items.remove(i);
                    } else if let Some(c) = child_map {
                        remove_fieldset(&mut items[i], c);
                    }
                }
            }
        } else if let Some(value) = key.strip_prefix("v:") {
            let Ok(value) = serde_json::from_str::<Value>(value) else {
                continue;
            };
            if let Value::Array(items) = obj {
                items.retain(|item| item != &value);
            }
        } else if let Some(index) = key.strip_prefix("i:") {
            if let (Value::Array(items), Ok(i)) = (&mut *obj, index.parse::<usize>()) {
                if i < items.len() {
                    if leaf {
                        items.remove(i);
                    } else if let Some(c) = child_map {
                        remove_fieldset(&mut items[i], c);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn normalisation_removes_server_fields() {
        let live = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "uid": "u", "resourceVersion": "1", "managedFields": [],
                         "creationTimestamp": "t",
                         "annotations": {"flotilla.dev/desired-hash": "x"}},
            "data": {"k": "v"}, "status": {}});
        assert_eq!(
            normalize(&live),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}})
        );
    }

    #[test]
    fn subset_comparison() {
        let live =
            json!({"spec": {"replicas": 2, "ports": [{"port": 80, "protocol": "TCP"}], "x": "y"}});
        assert!(is_subset(
            &json!({"spec": {"replicas": 2, "ports": [{"port": 80}]}}),
            &live
        ));
        assert!(!is_subset(&json!({"spec": {"replicas": 3}}), &live));
        assert!(!is_subset(
            &json!({"spec": {"ports": [{"port": 80}, {"port": 81}]}}),
            &live
        ));
        assert!(is_subset(&json!({"spec": {"labels": {}}}), &live));
        assert!(is_subset(
            &json!({"spec": {"port": "80"}}),
            &json!({"spec": {"port": 80}})
        ));
    }

    #[test]
    fn json_pointers_and_jq_expressions_are_ignored() {
        let rules = IgnoreRules::new(&[ResourceIgnoreDifferences {
            group: Some("admissionregistration.k8s.io".into()),
            kind: Some("MutatingWebhookConfiguration".into()),
            jq_path_expressions: vec![".webhooks[]?.clientConfig.caBundle".into()],
            json_pointers: vec!["/metadata/labels/x".into()],
            ..Default::default()
        }])
        .unwrap();
        let mut obj = json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": "w", "labels": {"x": "1", "y": "2"}},
            "webhooks": [{"name": "a", "clientConfig": {"caBundle": "Q0E=", "url": "https://x"}},
                         {"name": "b", "clientConfig": {"url": "https://y"}}]});
        rules.apply(&mut obj, None).unwrap();
        assert_eq!(
            obj["webhooks"][0]["clientConfig"],
            json!({"url": "https://x"})
        );
        assert_eq!(obj["metadata"]["labels"], json!({"y": "2"}));
        // Rules for other kinds do not apply.
        let mut other =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"labels": {"x": "1"}}});
        rules.apply(&mut other, None).unwrap();
        assert_eq!(other["metadata"]["labels"]["x"], "1");
        // No webhooks at all is fine with `[]?`.
        let mut empty = json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration", "metadata": {"name": "w"}});
        rules.apply(&mut empty, None).unwrap();
        assert!(IgnoreRules::new(&[ResourceIgnoreDifferences {
            jq_path_expressions: vec![".a[".into()],
            ..Default::default()
        }])
        .is_err());
    }

    #[test]
    fn managed_fields_managers_are_ignored() {
        let live = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d",
            "managedFields": [{"manager": "hpa", "operation": "Update", "fieldsV1": {"f:spec": {"f:replicas": {}}}},
                              {"manager": "sidecar", "operation": "Update", "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"proxy\"}": {".": {}, "f:image": {}}}}}}}}]},
            "spec": {"replicas": 5, "template": {"spec": {"containers": [{"name": "app", "image": "a"}, {"name": "proxy", "image": "p"}]}}}});
        let rules = IgnoreRules::new(&[ResourceIgnoreDifferences {
            group: Some("apps".into()),
            kind: Some("Deployment".into()),
            managed_fields_managers: vec!["hpa".into()],
            ..Default::default()
        }])
        .unwrap();
        let mut obj = normalize(&live);
        rules.apply(&mut obj, Some(&live)).unwrap();
        assert!(obj["spec"].get("replicas").is_none());
        assert_eq!(
            obj["spec"]["template"]["spec"]["containers"][1]["image"],
            "p"
        );
    }

    #[test]
    fn respect_ignore_differences_keeps_live_values() {
        let rules = IgnoreRules::new(&[ResourceIgnoreDifferences {
            group: Some("apps".into()),
            kind: Some("Deployment".into()),
            json_pointers: vec!["/spec/replicas".into()],
            ..Default::default()
        }])
        .unwrap();
        let live = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 7}});
        let mut desired = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 1}});
        rules.respect(&mut desired, &live).unwrap();
        assert_eq!(desired["spec"]["replicas"], 7);
    }

    #[test]
    fn secrets_are_masked() {
        let mut a = json!({"apiVersion": "v1", "kind": "Secret", "data": {"same": "c2FtZQ==", "changed": "b2xk"}});
        let mut b = json!({"apiVersion": "v1", "kind": "Secret", "data": {"same": "c2FtZQ==", "changed": "bmV3"}, "stringData": {"p": "hunter2"}});
        mask_secret_pair(Some(&mut a), Some(&mut b));
        let text = format!("{a}{b}");
        assert!(!text.contains("c2FtZQ") && !text.contains("hunter2") && !text.contains("bmV3"));
        assert_eq!(a["data"]["same"], b["data"]["same"]);
        assert_ne!(a["data"]["changed"], b["data"]["changed"]);
        let diff = unified_yaml_diff(Some(&a), Some(&b), "s").unwrap();
        assert!(diff.contains("changed"));
        assert!(!diff.contains("hunter2"));

        let secret = json!({"kind": "Secret", "stringData": {"password": "hunter2"}});
        assert_eq!(
            redact_secret_values("invalid value \"hunter2\" and aHVudGVyMg==", &secret),
            "invalid value \"<redacted>\" and <redacted>"
        );
    }

    #[test]
    fn string_data_folds_into_data() {
        let mut s = json!({"apiVersion": "v1", "kind": "Secret", "stringData": {"a": "b"}});
        fold_string_data(&mut s);
        assert_eq!(
            s,
            json!({"apiVersion": "v1", "kind": "Secret", "data": {"a": "Yg=="}})
        );
    }

    #[test]
    fn hashes_ignore_key_order() {
        assert_eq!(
            desired_hash(&json!({"a": 1, "b": [1, {"c": 2, "d": 3}]})),
            desired_hash(&json!({"b": [1, {"d": 3, "c": 2}], "a": 1}))
        );
        assert_ne!(
            desired_hash(&json!({"a": 1})),
            desired_hash(&json!({"a": 2}))
        );
    }
}
