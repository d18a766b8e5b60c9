//! Reading the documents generation starts from: ApplicationSets from a
//! (multi-document) YAML file, and clusters from Argo CD cluster secrets.
//! These functions parse text; reading the file is the caller's business.

use std::collections::BTreeMap;

use base64::Engine;
use flotilla_core::{ApplicationSet, Cluster, Location, APPLICATION_SET_KIND};
use serde::Deserialize;
use serde_json::Value;

use crate::error::AppsetError;
use crate::generators::SECRET_TYPE_LABEL;

/// An ApplicationSet and where its document starts.
#[derive(Clone, Debug, PartialEq)]
pub struct LocatedApplicationSet {
    /// The ApplicationSet.
    pub appset: ApplicationSet,
    /// The file, the 1-based document index and the line the document starts on.
    pub location: Location,
}

/// 1-based start line of each YAML document of `text`, by `---` markers.
fn document_lines(text: &str) -> Vec<u32> {
    let mut starts = Vec::new();
    let mut content_before_marker = false;
    for (i, line) in text.lines().enumerate() {
        let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let is_marker = line == "---" || line.starts_with("--- ") || line.starts_with("---\t");
        if is_marker {
            starts.push(n);
        } else if starts.is_empty() && !content_before_marker {
            let t = line.trim();
            if !t.is_empty() && !t.starts_with('#') && !t.starts_with('%') {
                content_before_marker = true;
                starts.push(n);
            }
        }
    }
    starts
}

fn location(file: &str, index: usize, lines: &[u32]) -> Location {
    let doc = u32::try_from(index + 1).unwrap_or(u32::MAX);
    match lines.get(index) {
        Some(&line) => Location {
            file: file.to_string(),
            line: Some(line),
            column: None,
            document: Some(doc),
        },
        None => Location::in_file(file).with_document(doc),
    }
}

fn yaml_error(file: &str, index: usize, lines: &[u32], e: &serde_yaml_ng::Error) -> AppsetError {
    let mut at = location(file, index, lines);
    if let Some(l) = e.location() {
        at.line = u32::try_from(l.line()).ok();
        at.column = u32::try_from(l.column()).ok();
    }
    let message = e.to_string();
    let message = match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message,
    };
    AppsetError::Document {
        location: at,
        reason: message,
    }
}

/// Every YAML document of `text` as JSON, with its index.
fn documents(text: &str, file: &str) -> Result<Vec<(usize, Value)>, AppsetError> {
    let lines = document_lines(text);
    let mut out = Vec::new();
    for (i, doc) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let value = Value::deserialize(doc).map_err(|e| yaml_error(file, i, &lines, &e))?;
        if !value.is_null() {
            out.push((i, value));
        }
    }
    Ok(out)
}

/// The ApplicationSets of a (multi-document) YAML file's `text`; `file`
/// names it in locations and errors. Documents of other kinds are skipped.
///
/// ```
/// use flotilla_appset::read_application_sets;
///
/// let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\n\
///             apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {name: a}\n\
///             spec:\n  generators: []\n";
/// let sets = read_application_sets(text, "apps.yaml").unwrap();
/// assert_eq!(sets.len(), 1);
/// assert_eq!(sets[0].appset.name(), "a");
/// assert_eq!(sets[0].location.to_string(), "apps.yaml:4");
/// ```
pub fn read_application_sets(
    text: &str,
    file: &str,
) -> Result<Vec<LocatedApplicationSet>, AppsetError> {
    Ok(
        read_kind::<ApplicationSet>(text, file, APPLICATION_SET_KIND)?
            .into_iter()
            .map(|(appset, location)| LocatedApplicationSet { appset, location })
            .collect(),
    )
}

/// The documents of `kind` in a (multi-document) YAML file's `text`,
/// deserialised, each with where it starts; `file` names it in locations
/// and errors (which carry the line). Documents of other kinds are skipped.
///
/// ```
/// use flotilla_core::{Application, APPLICATION_KIND};
///
/// let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\n\
///             apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\nspec: {}\n";
/// let apps = flotilla_appset::read_kind::<Application>(text, "apps.yaml", APPLICATION_KIND).unwrap();
/// assert_eq!(apps[0].0.name(), "a");
/// assert_eq!(apps[0].1.to_string(), "apps.yaml:4");
/// ```
pub fn read_kind<T: serde::de::DeserializeOwned>(
    text: &str,
    file: &str,
    kind: &str,
) -> Result<Vec<(T, Location)>, AppsetError> {
    let lines = document_lines(text);
    let mut out = Vec::new();
    for (i, value) in documents(text, file)? {
        let found = value
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if found != kind {
            tracing::debug!(
                file,
                document = i + 1,
                kind = found,
                "skipping a document of another kind"
            );
            continue;
        }
        // Deserialise from the YAML again so that errors carry a line.
        let item = match serde_yaml_ng::Deserializer::from_str(text).nth(i) {
            Some(doc) => T::deserialize(doc).map_err(|e| yaml_error(file, i, &lines, &e))?,
            None => serde_json::from_value(value).map_err(|e| AppsetError::Document {
                location: location(file, i, &lines),
                reason: e.to_string(),
            })?,
        };
        out.push((item, location(file, i, &lines)));
    }
    Ok(out)
}

/// Clusters for the clusters generator from a YAML file's `text`: Argo CD
/// cluster `Secret`s (`data` base64-encoded or `stringData`; their labels
/// and annotations are the cluster's), `List`s of them, or plain cluster
/// documents (`name`, `server`, `labels`, `annotations`, `project`,
/// `namespaces`, `config`) — one per document or a YAML list of them.
///
/// ```
/// use flotilla_appset::read_clusters;
///
/// let text = r#"
/// apiVersion: v1
/// kind: Secret
/// metadata:
///   name: prod-eu
///   labels: {argocd.argoproj.io/secret-type: cluster, env: prod}
/// stringData:
///   name: prod-eu
///   server: https://10.0.0.1:6443
/// ---
/// - name: dev
///   server: https://10.0.0.2:6443
///   labels: {env: dev}
/// "#;
/// let clusters = read_clusters(text, "clusters.yaml").unwrap();
/// assert_eq!(clusters.len(), 2);
/// assert_eq!(clusters[0].labels["env"], "prod");
/// assert_eq!(clusters[1].name, "dev");
/// ```
pub fn read_clusters(text: &str, file: &str) -> Result<Vec<Cluster>, AppsetError> {
    let lines = document_lines(text);
    let mut out = Vec::new();
    for (i, value) in documents(text, file)? {
        let at = || location(file, i, &lines);
        cluster_values(value, &at, &mut out, 0)?;
    }
    Ok(out)
}

fn cluster_values(
    value: Value,
    at: &dyn Fn() -> Location,
    out: &mut Vec<Cluster>,
    depth: usize,
) -> Result<(), AppsetError> {
    let error = |reason: String| AppsetError::Document {
        location: at(),
        reason,
    };
    if depth > 4 {
        return Err(error("lists nest too deeply".into()));
    }
    match value {
        Value::Array(items) => {
            for item in items {
                cluster_values(item, at, out, depth + 1)?;
            }
            Ok(())
        }
        Value::Object(map) => {
            let kind = map.get("kind").and_then(Value::as_str).unwrap_or_default();
            match kind {
                "" => {
                    let cluster: Cluster = serde_json::from_value(Value::Object(map))
                        .map_err(|e| error(format!("not a cluster: {e}")))?;
                    out.push(cluster);
                    Ok(())
                }
                "Secret" => {
                    out.push(cluster_from_secret(&map).map_err(error)?);
                    Ok(())
                }
                k if k.ends_with("List") => {
                    let items = map
                        .get("items")
                        .cloned()
                        .unwrap_or(Value::Array(Vec::new()));
                    cluster_values(items, at, out, depth + 1)
                }
                other => {
                    tracing::debug!(kind = other, "skipping a document that is not a cluster");
                    Ok(())
                }
            }
        }
        other => Err(error(format!(
            "expected a cluster Secret or a cluster, found {}",
            flotilla_core::json_type_name(&other)
        ))),
    }
}

fn string_map(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn cluster_from_secret(secret: &serde_json::Map<String, Value>) -> Result<Cluster, String> {
    let meta = secret.get("metadata");
    let secret_name = meta
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("<unnamed>")
        .to_string();
    let labels = string_map(meta.and_then(|m| m.get("labels")));
    let annotations = string_map(meta.and_then(|m| m.get("annotations")));
    if let Some(t) = labels.get(SECRET_TYPE_LABEL) {
        if t != "cluster" {
            return Err(format!(
                "Secret {secret_name:?} has {SECRET_TYPE_LABEL}={t}, not a cluster secret"
            ));
        }
    }
    let mut data = BTreeMap::new();
    if let Some(encoded) = secret.get("data").and_then(Value::as_object) {
        for (key, value) in encoded {
            let text = value.as_str().unwrap_or_default();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|_| format!("Secret {secret_name:?}: data.{key} is not base64"))?;
            let text = String::from_utf8(bytes)
                .map_err(|_| format!("Secret {secret_name:?}: data.{key} is not UTF-8 text"))?;
            data.insert(key.clone(), text);
        }
    }
    data.extend(string_map(secret.get("stringData")));
    Cluster::from_secret_data(&data, labels, annotations)
        .map_err(|e| format!("Secret {secret_name:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_start_lines() {
        assert_eq!(document_lines("a: 1\n---\nb: 2\n"), vec![1, 2]);
        assert_eq!(document_lines("# c\n---\na: 1\n---\nb: 2\n"), vec![2, 4]);
    }

    #[test]
    fn bad_documents_name_file_and_line() {
        let text = "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {name: a}\nspec:\n  goTemplate: [1]\n";
        let err = read_application_sets(text, "a.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("a.yaml:"), "{err}");
        let text = "a: [\n";
        let err = read_application_sets(text, "b.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("b.yaml:"), "{err}");
    }

    #[test]
    fn cluster_secrets_with_base64_data() {
        let text = "kind: Secret\nmetadata:\n  name: s\n  labels: {argocd.argoproj.io/secret-type: cluster}\n  annotations: {team: a}\ndata:\n  name: cHJvZA==\n  server: aHR0cHM6Ly8xLjIuMy40\n";
        let clusters = read_clusters(text, "c.yaml").unwrap();
        assert_eq!(clusters[0].name, "prod");
        assert_eq!(clusters[0].server, "https://1.2.3.4");
        assert_eq!(clusters[0].annotations["team"], "a");
        let bad = "kind: Secret\nmetadata: {name: s}\ndata: {server: '%%'}\n";
        assert!(read_clusters(bad, "c.yaml").is_err());
    }
}
