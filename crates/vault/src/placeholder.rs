//! Secret placeholders in rendered manifests, in argocd-vault-plugin's
//! inline-path syntax: `<path:secret/data/api/env#DB_URL>`, optionally with a
//! version (`<path:secret/data/api/env#DB_URL#2>`) and modifiers
//! (`<path:...#KEY | base64encode>`).
//!
//! Resolution reads each distinct (path, version) once, however many
//! placeholders name it, then substitutes. Any failure leaves every
//! manifest untouched and names the resource, field, path and key — never
//! a value.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;

use base64::Engine as _;
use flotilla_core::Manifest;
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::client::VaultClient;
use crate::error::{PlaceholderFailure, ResolveError, VaultError};
use crate::secret::SecretData;

const OPEN: &str = "<path:";

/// A transformation applied to a secret value, after `|`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Modifier {
    /// `base64encode`
    Base64Encode,
    /// `base64decode`
    Base64Decode,
}

/// One `<path:PATH#KEY[#VERSION][ | modifier]...>` placeholder.
///
/// ```
/// use flotilla_vault::{find_placeholders, Modifier};
///
/// let found = find_placeholders("postgres://<path:secret/data/db#user>@db")?;
/// assert_eq!(found.len(), 1);
/// assert_eq!(found[0].path, "secret/data/db");
/// assert_eq!(found[0].key, "user");
/// assert_eq!(found[0].version, None);
///
/// let v = find_placeholders("<path:secret/data/db#pass#3 | base64encode>")?;
/// assert_eq!(v[0].version, Some(3));
/// assert_eq!(v[0].modifiers, vec![Modifier::Base64Encode]);
/// # Ok::<(), flotilla_vault::PlaceholderSyntaxError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placeholder {
    /// The Vault path (for KV v2, with or without `data/`).
    pub path: String,
    /// The key inside the secret.
    pub key: String,
    /// The KV v2 version, when pinned.
    pub version: Option<u64>,
    /// Modifiers, in order.
    pub modifiers: Vec<Modifier>,
    /// Byte range of the whole placeholder in the string.
    pub span: std::ops::Range<usize>,
}

/// A `<path:...>` that is not a valid placeholder.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid placeholder `{text}`: {reason}")]
pub struct PlaceholderSyntaxError {
    /// The placeholder text (it never holds a secret value).
    pub text: String,
    /// What is wrong.
    pub reason: String,
}

/// Every placeholder in `text`, in order.
pub fn find_placeholders(text: &str) -> Result<Vec<Placeholder>, PlaceholderSyntaxError> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(offset) = text[from..].find(OPEN) {
        let start = from + offset;
        let inner_start = start + OPEN.len();
        let Some(close) = text[inner_start..].find('>') else {
            return Err(PlaceholderSyntaxError {
                text: text[start..].chars().take(80).collect(),
                reason: "no closing `>`".into(),
            });
        };
        let end = inner_start + close + 1;
        let inner = &text[inner_start..inner_start + close];
        let whole = &text[start..end];
        let bad = |reason: &str| PlaceholderSyntaxError {
            text: whole.to_string(),
            reason: reason.to_string(),
        };
        let mut pipeline = inner.split('|');
        let reference = pipeline.next().unwrap_or_default().trim();
        let mut modifiers = Vec::new();
        for m in pipeline {
            match m.trim() {
                "base64encode" => modifiers.push(Modifier::Base64Encode),
                "base64decode" => modifiers.push(Modifier::Base64Decode),
                "" => return Err(bad("empty modifier after `|`")),
                other => {
                    return Err(bad(&format!(
                        "unsupported modifier `{other}` (supported: base64encode, base64decode)"
                    )))
                }
            }
        }
        let parts: Vec<&str> = reference.split('#').collect();
        let (path, key, version) = match parts.as_slice() {
            [path, key] => (*path, *key, None),
            [path, key, version] => (*path, *key, Some(*version)),
            [_] => return Err(bad("missing `#KEY` after the path")),
            _ => {
                return Err(bad(
                    "expected `<path:PATH#KEY>` or `<path:PATH#KEY#VERSION>`",
                ))
            }
        };
        let path = path.trim().trim_matches('/');
        let key = key.trim();
        if path.is_empty() {
            return Err(bad("the path is empty"));
        }
        if key.is_empty() {
            return Err(bad("the key is empty"));
        }
        let version = match version.map(str::trim) {
            None => None,
            Some(v) => Some(
                v.parse::<u64>()
                    .ok()
                    .filter(|v| *v > 0)
                    .ok_or_else(|| bad("the version must be a positive integer"))?,
            ),
        };
        found.push(Placeholder {
            path: path.to_string(),
            key: key.to_string(),
            version,
            modifiers,
            span: start..end,
        });
        from = end;
    }
    Ok(found)
}

/// Where secret values come from: Vault, or anything else in tests.
pub trait SecretSource: Send + Sync {
    /// The secret at `path` (as a placeholder writes it), at `version` or the newest.
    fn read_secret(
        &self,
        path: &str,
        version: Option<u64>,
    ) -> impl Future<Output = Result<SecretData, VaultError>> + Send;
}

impl SecretSource for VaultClient {
    async fn read_secret(
        &self,
        path: &str,
        version: Option<u64>,
    ) -> Result<SecretData, VaultError> {
        let kv = self.kv_path_api(path).await?;
        let secret = self.kv_read_at(&kv, version).await?;
        match secret {
            None => Err(VaultError::Kv {
                path: path.into(),
                message: "no secret at this path".into(),
            }),
            Some(s) if s.metadata.as_ref().is_some_and(|m| m.is_gone()) => Err(VaultError::Kv {
                path: path.into(),
                message: format!(
                    "version {} is deleted or destroyed",
                    s.metadata.map(|m| m.version).unwrap_or_default()
                ),
            }),
            Some(s) => Ok(s.data),
        }
    }
}

impl<T: SecretSource> SecretSource for Arc<T> {
    fn read_secret(
        &self,
        path: &str,
        version: Option<u64>,
    ) -> impl Future<Output = Result<SecretData, VaultError>> + Send {
        (**self).read_secret(path, version)
    }
}

/// How placeholders are resolved.
#[derive(Clone, Debug)]
pub struct ResolveOptions {
    /// Secrets read at the same time.
    pub concurrency: usize,
}

impl Default for ResolveOptions {
    fn default() -> Self {
        ResolveOptions { concurrency: 16 }
    }
}

/// What a resolution did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResolveReport {
    /// Placeholders substituted.
    pub placeholders: usize,
    /// Distinct (path, version) secrets read: one read each.
    pub secrets_read: usize,
    /// Manifests that held at least one placeholder.
    pub manifests_changed: usize,
}

/// How a string field is treated.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FieldMode {
    /// Any field: a lone placeholder may become a non-string value.
    Generic,
    /// Must stay a string (ConfigMap `data`, Secret `stringData`).
    Text,
    /// Secret `data`: base64.
    SecretData,
}

/// One string field holding placeholders.
struct Site {
    manifest: usize,
    pointer: Vec<PathSegment>,
    field: String,
    mode: FieldMode,
    /// The text placeholders were found in (decoded, for base64 `data`).
    text: String,
    /// The text was base64 in the manifest.
    was_base64: bool,
    placeholders: Vec<Placeholder>,
}

#[derive(Clone)]
enum PathSegment {
    Key(String),
    Index(usize),
}

fn describe(manifest: &Manifest) -> (String, Option<String>) {
    let resource = match manifest.key() {
        Ok(key) => key.to_string(),
        Err(_) => format!(
            "{} {}",
            manifest.kind().unwrap_or("(no kind)"),
            manifest.name().unwrap_or("(no name)")
        ),
    };
    (
        resource,
        manifest.location.as_ref().map(ToString::to_string),
    )
}

fn field_name(parent: &str, segment: &PathSegment) -> String {
    match segment {
        PathSegment::Key(k) => {
            let simple = !k.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            match (parent.is_empty(), simple) {
                (true, true) => k.clone(),
                (false, true) => format!("{parent}.{k}"),
                (_, false) => format!("{parent}[{k:?}]"),
            }
        }
        PathSegment::Index(i) => format!("{parent}[{i}]"),
    }
}

fn collect(
    index: usize,
    value: &Value,
    pointer: &mut Vec<PathSegment>,
    field: &str,
    mode: FieldMode,
    sites: &mut Vec<Site>,
    failures: &mut Vec<(usize, String, PlaceholderSyntaxError)>,
) {
    match value {
        Value::String(s) => {
            let (text, was_base64) = if mode == FieldMode::SecretData && !s.contains(OPEN) {
                match base64::engine::general_purpose::STANDARD
                    .decode(s.trim())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                {
                    Some(decoded) if decoded.contains(OPEN) => (decoded, true),
                    _ => return,
                }
            } else if s.contains(OPEN) {
                (s.clone(), false)
            } else {
                return;
            };
            match find_placeholders(&text) {
                Ok(placeholders) if !placeholders.is_empty() => sites.push(Site {
                    manifest: index,
                    pointer: pointer.clone(),
                    field: field.to_string(),
                    mode,
                    text,
                    was_base64,
                    placeholders,
                }),
                Ok(_) => {}
                Err(e) => failures.push((index, field.to_string(), e)),
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let segment = PathSegment::Index(i);
                let name = field_name(field, &segment);
                pointer.push(segment);
                collect(index, item, pointer, &name, mode, sites, failures);
                pointer.pop();
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                let segment = PathSegment::Key(k.clone());
                let name = field_name(field, &segment);
                pointer.push(segment);
                collect(index, v, pointer, &name, mode, sites, failures);
                pointer.pop();
            }
        }
        _ => {}
    }
}

fn mode_for(manifest: &Manifest, top: &str) -> FieldMode {
    let core = manifest.api_version() == Some("v1");
    match (core, manifest.kind(), top) {
        (true, Some("Secret"), "data") => FieldMode::SecretData,
        (true, Some("Secret"), "stringData") => FieldMode::Text,
        (true, Some("ConfigMap"), "data") => FieldMode::Text,
        _ => FieldMode::Generic,
    }
}

fn stringify(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn apply_modifiers(value: Value, modifiers: &[Modifier]) -> Result<Value, String> {
    let mut value = value;
    for m in modifiers {
        value = match m {
            Modifier::Base64Encode => {
                Value::String(base64::engine::general_purpose::STANDARD.encode(stringify(&value)))
            }
            Modifier::Base64Decode => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(stringify(&value).trim())
                    .map_err(|_| "base64decode: the value is not valid base64".to_string())?;
                Value::String(
                    String::from_utf8(bytes)
                        .map_err(|_| "base64decode: the decoded value is not UTF-8".to_string())?,
                )
            }
        };
    }
    Ok(value)
}

fn slot<'a>(root: &'a mut Value, pointer: &[PathSegment]) -> Option<&'a mut Value> {
    let mut current = root;
    for segment in pointer {
        current = match segment {
            PathSegment::Key(k) => current.as_object_mut()?.get_mut(k)?,
            PathSegment::Index(i) => current.as_array_mut()?.get_mut(*i)?,
        };
    }
    Some(current)
}

/// Replaces every placeholder in `manifests` with its value from `source`.
///
/// Rules (those of argocd-vault-plugin): a field that is exactly one
/// placeholder takes the secret's value with its JSON type (a number stays a
/// number), except in Secret `data`/`stringData` and ConfigMap `data`, which
/// stay strings; placeholders inside longer strings are replaced by the
/// value's text. In a Secret's `data`, the result is base64-encoded — unless
/// its placeholders end with `| base64encode` — and a `data` value that is
/// itself base64 of text with placeholders is decoded, resolved and encoded
/// again. Map keys are not resolved.
///
/// Each distinct (path, version) is read once, `options.concurrency` at a
/// time. On any failure nothing is changed and every failing placeholder
/// is reported by resource, field, path and key.
///
/// ```
/// use flotilla_core::Manifest;
/// use flotilla_vault::{resolve_manifests, ResolveOptions, SecretData, SecretSource, VaultError};
///
/// #[derive(Clone)]
/// struct Fixed;
/// impl SecretSource for Fixed {
///     async fn read_secret(&self, _path: &str, _v: Option<u64>) -> Result<SecretData, VaultError> {
///         Ok(SecretData::from_pairs([("DB_URL", "postgres://db")]))
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let mut manifests = vec![Manifest::from_value(serde_json::json!({
///     "apiVersion": "v1", "kind": "Secret",
///     "metadata": {"name": "api-env"},
///     "stringData": {"DB_URL": "<path:secret/data/api/env#DB_URL>"}
/// })).unwrap()];
/// let report = resolve_manifests(&Fixed, &mut manifests, &ResolveOptions::default()).await.unwrap();
/// assert_eq!(report.secrets_read, 1);
/// assert_eq!(manifests[0].object["stringData"]["DB_URL"], "postgres://db");
/// # });
/// ```
pub async fn resolve_manifests<S>(
    source: &S,
    manifests: &mut [Manifest],
    options: &ResolveOptions,
) -> Result<ResolveReport, ResolveError>
where
    S: SecretSource + Clone + 'static,
{
    let mut sites = Vec::new();
    let mut syntax = Vec::new();
    for (index, manifest) in manifests.iter().enumerate() {
        for (top, value) in &manifest.object {
            let mode = mode_for(manifest, top);
            let mut pointer = vec![PathSegment::Key(top.clone())];
            let name = field_name("", &PathSegment::Key(top.clone()));
            collect(
                index,
                value,
                &mut pointer,
                &name,
                mode,
                &mut sites,
                &mut syntax,
            );
        }
    }
    let mut failures: Vec<PlaceholderFailure> = syntax
        .into_iter()
        .map(|(index, field, e)| {
            let (resource, location) = describe(&manifests[index]);
            PlaceholderFailure {
                resource,
                location,
                field,
                path: None,
                key: None,
                reason: e.to_string(),
            }
        })
        .collect();

    // Read each distinct secret once.
    let wanted: BTreeSet<(String, Option<u64>)> = sites
        .iter()
        .flat_map(|s| s.placeholders.iter().map(|p| (p.path.clone(), p.version)))
        .collect();
    let semaphore = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (path, version) in wanted.iter().cloned() {
        let source = source.clone();
        let semaphore = semaphore.clone();
        tasks.spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            let result = source.read_secret(&path, version).await;
            (path, version, result)
        });
    }
    let mut secrets: BTreeMap<(String, Option<u64>), Result<SecretData, String>> = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((path, version, result)) => {
                if let Err(e) = &result {
                    tracing::warn!(path = %path, version = ?version, error = %e, "reading a secret for placeholders failed");
                }
                secrets.insert((path, version), result.map_err(|e| e.to_string()));
            }
            Err(e) => {
                return Err(ResolveError {
                    failures: vec![PlaceholderFailure {
                        resource: "(all)".into(),
                        location: None,
                        field: String::new(),
                        path: None,
                        key: None,
                        reason: format!("a secret read task failed: {e}"),
                    }],
                })
            }
        }
    }

    // Compute every replacement before changing anything.
    let mut replacements: Vec<(usize, Vec<PathSegment>, Value)> = Vec::new();
    let mut changed = BTreeSet::new();
    let mut count = 0;
    for site in &sites {
        let (resource, location) = describe(&manifests[site.manifest]);
        let mut out = String::with_capacity(site.text.len());
        let mut last = 0;
        let mut lone: Option<Value> = None;
        let mut ok = true;
        let all_encoded = site
            .placeholders
            .iter()
            .all(|p| p.modifiers.last() == Some(&Modifier::Base64Encode));
        for p in &site.placeholders {
            let fail = |reason: String| PlaceholderFailure {
                resource: resource.clone(),
                location: location.clone(),
                field: site.field.clone(),
                path: Some(p.path.clone()),
                key: Some(p.key.clone()),
                reason,
            };
            let value = match secrets.get(&(p.path.clone(), p.version)) {
                Some(Ok(data)) => match data.get(&p.key) {
                    Some(v) => apply_modifiers(v.clone(), &p.modifiers).map_err(fail),
                    None => Err(fail(format!(
                        "no key `{}` in the secret{}",
                        p.key,
                        p.version
                            .map(|v| format!(" (version {v})"))
                            .unwrap_or_default()
                    ))),
                },
                Some(Err(reason)) => Err(fail(reason.clone())),
                None => Err(fail("the secret was not read".into())),
            };
            match value {
                Ok(v) => {
                    out.push_str(&site.text[last..p.span.start]);
                    if site.placeholders.len() == 1 && p.span == (0..site.text.len()) {
                        lone = Some(v.clone());
                    }
                    out.push_str(&stringify(&v));
                    last = p.span.end;
                }
                Err(f) => {
                    failures.push(f);
                    ok = false;
                }
            }
        }
        if !ok {
            continue;
        }
        out.push_str(&site.text[last..]);
        count += site.placeholders.len();
        let value = match site.mode {
            FieldMode::Generic => match lone {
                Some(v) if !v.is_string() && !v.is_null() => v,
                _ => Value::String(out),
            },
            FieldMode::Text => Value::String(out),
            FieldMode::SecretData => {
                if site.was_base64 || !all_encoded {
                    Value::String(base64::engine::general_purpose::STANDARD.encode(out))
                } else {
                    Value::String(out)
                }
            }
        };
        changed.insert(site.manifest);
        replacements.push((site.manifest, site.pointer.clone(), value));
    }
    if !failures.is_empty() {
        return Err(ResolveError { failures });
    }
    for (index, pointer, value) in replacements {
        let object = std::mem::take(&mut manifests[index].object);
        let mut root = Value::Object(object);
        if let Some(target) = slot(&mut root, &pointer) {
            *target = value;
        }
        if let Value::Object(object) = root {
            manifests[index].object = object;
        }
    }
    Ok(ResolveReport {
        placeholders: count,
        secrets_read: wanted.len(),
        manifests_changed: changed.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Mutex;

    type Reads = Arc<Mutex<Vec<(String, Option<u64>)>>>;

    #[derive(Clone, Debug, Default)]
    struct Fake {
        reads: Reads,
    }

    impl SecretSource for Fake {
        async fn read_secret(
            &self,
            path: &str,
            version: Option<u64>,
        ) -> Result<SecretData, VaultError> {
            if let Ok(mut reads) = self.reads.lock() {
                reads.push((path.to_string(), version));
            }
            match path {
                "secret/data/api/env" => Ok(SecretData::from_iter([
                    (
                        "DB_URL",
                        json!(format!("postgres://v{}", version.unwrap_or(9))),
                    ),
                    ("PORT", json!(5432)),
                    ("B64", json!("aGVsbG8=")),
                ])),
                _ => Err(VaultError::Kv {
                    path: path.into(),
                    message: "no secret at this path".into(),
                }),
            }
        }
    }

    fn manifest(v: Value) -> Manifest {
        Manifest::from_value(v).expect("object")
    }

    async fn run(manifests: &mut [Manifest]) -> Result<(ResolveReport, Fake), ResolveError> {
        let fake = Fake::default();
        let report = resolve_manifests(&fake, manifests, &ResolveOptions::default()).await?;
        Ok((report, fake))
    }

    #[test]
    fn syntax() {
        assert!(find_placeholders("no placeholders <here>")
            .unwrap()
            .is_empty());
        assert!(find_placeholders("<path:secret/x>").is_err());
        assert!(find_placeholders("<path:secret/x#k#v2>").is_err());
        assert!(find_placeholders("<path:secret/x#k | sha256sum>").is_err());
        let two = find_placeholders("a<path:s/x#a>b<path:s/y#b#2>c").unwrap();
        assert_eq!(two.len(), 2);
        assert_eq!(two[1].version, Some(2));
    }

    #[tokio::test]
    async fn one_read_per_path_and_types_kept() {
        let mut manifests = vec![
            manifest(json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "api", "namespace": "ns"},
                "spec": {
                    "replicas": "<path:secret/data/api/env#PORT>",
                    "template": {"spec": {"containers": [{"env": [
                        {"name": "DB", "value": "url=<path:secret/data/api/env#DB_URL>"},
                        {"name": "OLD", "value": "<path:secret/data/api/env#DB_URL#1>"},
                    ]}]}}
                }
            })),
            manifest(json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "s"},
                "stringData": {"port": "<path:secret/data/api/env#PORT>"},
                "data": {
                    "db": "<path:secret/data/api/env#DB_URL>",
                    "pre": "<path:secret/data/api/env#DB_URL | base64encode>",
                    "enc": base64::engine::general_purpose::STANDARD.encode("<path:secret/data/api/env#DB_URL>"),
                    "plain": "aGk=",
                }
            })),
        ];
        let (report, fake) = run(&mut manifests).await.unwrap();
        assert_eq!(report.secrets_read, 2, "latest and version 1");
        assert_eq!(fake.reads.lock().unwrap().len(), 2);
        assert_eq!(report.placeholders, 7);
        let d = &manifests[0].object;
        assert_eq!(d["spec"]["replicas"], json!(5432));
        let env = &d["spec"]["template"]["spec"]["containers"][0]["env"];
        assert_eq!(env[0]["value"], "url=postgres://v9");
        assert_eq!(env[1]["value"], "postgres://v1");
        let s = &manifests[1].object;
        assert_eq!(s["stringData"]["port"], "5432");
        let b64 = |t: &str| base64::engine::general_purpose::STANDARD.encode(t);
        assert_eq!(s["data"]["db"], json!(b64("postgres://v9")));
        assert_eq!(s["data"]["pre"], json!(b64("postgres://v9")));
        assert_eq!(s["data"]["enc"], json!(b64("postgres://v9")));
        assert_eq!(s["data"]["plain"], "aGk=");
    }

    #[tokio::test]
    async fn failures_name_path_and_key_never_values_and_change_nothing() {
        let original = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cm", "namespace": "ns"},
            "data": {
                "ok": "<path:secret/data/api/env#DB_URL>",
                "missing_key": "<path:secret/data/api/env#NOPE>",
                "missing_path": "<path:secret/data/none#X>",
                "bad": "<path:secret/data/api/env>",
            }
        });
        let mut manifests = vec![manifest(original.clone())];
        let err = run(&mut manifests).await.unwrap_err();
        assert_eq!(err.failures.len(), 3, "{err}");
        let text = err.to_string();
        assert!(text.contains("secret/data/api/env#NOPE"), "{text}");
        assert!(text.contains("no key `NOPE`"), "{text}");
        assert!(text.contains("secret/data/none#X"), "{text}");
        assert!(text.contains("v1/ConfigMap ns/cm"), "{text}");
        assert!(text.contains("data.bad"), "{text}");
        assert!(!text.contains("postgres://"), "{text}");
        assert_eq!(manifests[0].object, *original.as_object().unwrap());
    }

    #[tokio::test]
    async fn modifiers() {
        let mut manifests = vec![manifest(json!({
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"},
            "data": {"x": "<path:secret/data/api/env#B64 | base64decode>"}
        }))];
        run(&mut manifests).await.unwrap();
        assert_eq!(manifests[0].object["data"]["x"], "hello");
    }
}
