//! Splitting rendered files into documents and ordering them as Helm's
//! `releaseutil` does: hooks apart from ordinary manifests, each group in
//! Helm's install order of kinds (unknown kinds last, alphabetically),
//! otherwise in file and document order.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use flotilla_template::Value;
use regex::Regex;

use crate::error::HelmError;

/// Kinds in the order Helm installs them (`releaseutil.InstallOrder`).
pub const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
];

/// A Helm hook event (`helm.sh/hook`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HookEvent {
    /// `pre-install`
    PreInstall,
    /// `post-install`
    PostInstall,
    /// `pre-delete`
    PreDelete,
    /// `post-delete`
    PostDelete,
    /// `pre-upgrade`
    PreUpgrade,
    /// `post-upgrade`
    PostUpgrade,
    /// `pre-rollback`
    PreRollback,
    /// `post-rollback`
    PostRollback,
    /// `test` (or Helm 2's `test-success`)
    Test,
}

impl HookEvent {
    /// Parses one event name as Helm does (already lower-cased and trimmed).
    pub fn parse(s: &str) -> Option<HookEvent> {
        Some(match s {
            "pre-install" => HookEvent::PreInstall,
            "post-install" => HookEvent::PostInstall,
            "pre-delete" => HookEvent::PreDelete,
            "post-delete" => HookEvent::PostDelete,
            "pre-upgrade" => HookEvent::PreUpgrade,
            "post-upgrade" => HookEvent::PostUpgrade,
            "pre-rollback" => HookEvent::PreRollback,
            "post-rollback" => HookEvent::PostRollback,
            "test" | "test-success" => HookEvent::Test,
            _ => return None,
        })
    }

    /// The annotation spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            HookEvent::PreInstall => "pre-install",
            HookEvent::PostInstall => "post-install",
            HookEvent::PreDelete => "pre-delete",
            HookEvent::PostDelete => "post-delete",
            HookEvent::PreUpgrade => "pre-upgrade",
            HookEvent::PostUpgrade => "post-upgrade",
            HookEvent::PreRollback => "pre-rollback",
            HookEvent::PostRollback => "post-rollback",
            HookEvent::Test => "test",
        }
    }
}

/// What makes a manifest a hook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hook {
    /// `helm.sh/hook` events.
    pub events: Vec<HookEvent>,
    /// `helm.sh/hook-weight` (0 when absent or not an integer).
    pub weight: i64,
    /// `helm.sh/hook-delete-policy` values, lower-cased.
    pub delete_policies: Vec<String>,
}

impl Hook {
    /// Whether this is a `test` hook (`--skip-tests` leaves it out).
    pub fn is_test(&self) -> bool {
        self.events.contains(&HookEvent::Test)
    }
}

/// The head of a document: what Helm reads of it (`releaseutil.SimpleHead`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Head {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.annotations`.
    pub annotations: BTreeMap<String, String>,
}

/// One document of a rendered template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    /// The template it came from (`chart/templates/x.yaml`).
    pub source: String,
    /// The document text, trimmed as Helm trims it.
    pub content: String,
    /// 0-based index of the document in its template's output.
    pub index: usize,
    /// Its head.
    pub head: Head,
    /// Hook information when it is one.
    pub hook: Option<Hook>,
}

fn separator() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // `(?:^|\s*\n)---\s*` with Go's ASCII `\s`.
    RE.get_or_init(|| {
        Regex::new(r"(?:^|[\t\n\x0C\r ]*\n)---[\t\n\x0C\r ]*").unwrap_or_else(|_| unreachable!())
    })
}

/// Helm's `releaseutil.SplitManifests`: the documents of a YAML stream, in
/// order, each trimmed, empty ones dropped.
///
/// ```
/// let docs = flotilla_helm::split_manifests("\n---\na: 1\n---\nb: 2\n");
/// assert_eq!(docs, vec!["a: 1", "b: 2"]);
/// // As in Helm, a separator's trailing blank lines are eaten, so a second
/// // `---` right after them is not a separator.
/// let docs = flotilla_helm::split_manifests("a: 1\n---\n\n---\nb: 2");
/// assert_eq!(docs, vec!["a: 1", "---\nb: 2"]);
/// ```
pub fn split_manifests(big: &str) -> Vec<String> {
    let trimmed = big.trim();
    separator()
        .split(trimmed)
        .filter(|d| !d.is_empty())
        .map(|d| d.trim().to_string())
        .collect()
}

/// Reads a document's head as `sigs.k8s.io/yaml` into `SimpleHead` would:
/// a type mismatch or bad YAML is an error.
fn head(file: &str, doc: &str) -> Result<Head, HelmError> {
    let err = |message: String| HelmError::ManifestYaml {
        file: file.to_string(),
        message,
    };
    // go-yaml accepts some flow collections that yaml-rust2 (behind
    // `from_go_yaml`) rejects as badly indented (vault's `command: [ ...
    // # comment ... ]`); libyaml's parser, which go-yaml is a port of,
    // reads them, so it decides before we call the document invalid.
    let v = match flotilla_template::from_go_yaml(doc) {
        Ok(v) => v,
        Err(e) => match serde_yaml_ng::from_str::<serde_json::Value>(doc) {
            Ok(j) => Value::from(j),
            Err(_) => return Err(err(e)),
        },
    };
    let mut h = Head::default();
    let m = match &v {
        Value::Nil | Value::Invalid => return Ok(h),
        Value::Map(m) => m.clone(),
        other => {
            return Err(err(format!(
                "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type releaseutil.SimpleHead",
                json_kind(other)
            )))
        }
    };
    let string_field = |v: Option<Value>, field: &str| -> Result<String, HelmError> {
        match v {
            None | Some(Value::Nil) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.to_string()),
            Some(other) => Err(err(format!(
                "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go struct field {field} of type string",
                json_kind(&other)
            ))),
        }
    };
    h.api_version = string_field(m.get("apiVersion"), "SimpleHead.apiVersion")?;
    h.kind = string_field(m.get("kind"), "SimpleHead.kind")?;
    match m.get("metadata") {
        None | Some(Value::Nil) => {}
        Some(Value::Map(md)) => {
            h.name = string_field(md.get("name"), "SimpleHead.metadata.name")?;
            match md.get("annotations") {
                None | Some(Value::Nil) => {}
                Some(Value::Map(a)) => {
                    for (k, v) in a.entries() {
                        let s = string_field(
                            Some(v),
                            "SimpleHead.metadata.annotations",
                        )?;
                        h.annotations.insert(k, s);
                    }
                }
                Some(other) => {
                    return Err(err(format!(
                        "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go struct field .metadata.annotations of type map[string]string",
                        json_kind(&other)
                    )))
                }
            }
        }
        Some(other) => {
            return Err(err(format!(
                "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go struct field SimpleHead.metadata of type struct {{ Name string \"json:\\\"name\\\"\"; Annotations map[string]string \"json:\\\"annotations\\\"\" }}",
                json_kind(&other)
            )))
        }
    }
    Ok(h)
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

/// Helm's `SortManifests` over rendered files (by name): returns the
/// ordinary manifests and the hooks, each in install order of kinds.
/// Partials and whitespace-only files are skipped; documents with an
/// unknown hook event are dropped, as Helm drops them.
pub(crate) fn sort_manifests(
    files: &BTreeMap<String, String>,
) -> Result<(Vec<Document>, Vec<Document>), HelmError> {
    let mut generic = Vec::new();
    let mut hooks = Vec::new();
    for (path, content) in files {
        if path.rsplit('/').next().unwrap_or(path).starts_with('_') {
            continue;
        }
        if content.trim().is_empty() {
            continue;
        }
        for (index, doc) in split_manifests(content).into_iter().enumerate() {
            let head = head(path, &doc)?;
            let Some(hook_types) = head.annotations.get("helm.sh/hook").cloned() else {
                generic.push(Document {
                    source: path.clone(),
                    content: doc,
                    index,
                    head,
                    hook: None,
                });
                continue;
            };
            let weight = head
                .annotations
                .get("helm.sh/hook-weight")
                .and_then(|w| go_atoi(w))
                .unwrap_or(0);
            let mut events = Vec::new();
            let mut unknown = false;
            for t in hook_types.split(',') {
                match HookEvent::parse(&t.trim().to_lowercase()) {
                    Some(e) => events.push(e),
                    None => {
                        unknown = true;
                        break;
                    }
                }
            }
            if unknown {
                tracing::info!(template = %path, hook = %hook_types, "skipping unknown hook");
                continue;
            }
            let delete_policies = head
                .annotations
                .get("helm.sh/hook-delete-policy")
                .map(|d| d.split(',').map(|p| p.trim().to_lowercase()).collect())
                .unwrap_or_default();
            hooks.push(Document {
                source: path.clone(),
                content: doc,
                index,
                head,
                hook: Some(Hook {
                    events,
                    weight,
                    delete_policies,
                }),
            });
        }
    }
    sort_by_kind(&mut generic);
    sort_by_kind(&mut hooks);
    Ok((generic, hooks))
}

/// Go's `strconv.Atoi` (optional sign, decimal digits, fits in 64 bits).
fn go_atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Stable sort by Helm's install order of kinds; unknown kinds after known
/// ones, alphabetically among themselves.
pub(crate) fn sort_by_kind(docs: &mut [Document]) {
    docs.sort_by(|a, b| kind_key(&a.head.kind).cmp(&kind_key(&b.head.kind)));
}

fn kind_key(kind: &str) -> (bool, usize, &str) {
    match INSTALL_ORDER.iter().position(|k| *k == kind) {
        Some(i) => (false, i, ""),
        None => (true, 0, kind),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_helm() {
        assert_eq!(split_manifests("a: 1\n---\nb: 2"), vec!["a: 1", "b: 2"]);
        assert_eq!(
            split_manifests("---\na: 1  \n---  \nb: 2\n"),
            vec!["a: 1", "b: 2"]
        );
        // An indented `---` is content: the separator must follow a newline.
        assert_eq!(
            split_manifests("a: 1\n  ---\nb: 2"),
            vec!["a: 1\n  ---\nb: 2"]
        );
        // `---` glued to text still separates, as Go's regexp does.
        assert_eq!(split_manifests("a: 1\n---b: 2"), vec!["a: 1", "b: 2"]);
        assert!(split_manifests("\n\n---\n\n").is_empty());
    }

    #[test]
    fn kinds_sort_in_install_order_unknown_last() {
        let doc = |k: &str, n: &str| Document {
            source: n.into(),
            content: String::new(),
            index: 0,
            head: Head {
                kind: k.into(),
                ..Head::default()
            },
            hook: None,
        };
        let mut v = vec![
            doc("Zeta", "1"),
            doc("Deployment", "2"),
            doc("Alpha", "3"),
            doc("Service", "4"),
            doc("Deployment", "5"),
        ];
        sort_by_kind(&mut v);
        let got: Vec<&str> = v.iter().map(|d| d.source.as_str()).collect();
        assert_eq!(got, vec!["4", "2", "5", "3", "1"]);
    }

    #[test]
    fn hook_annotations_read_with_weight_and_policies() {
        let mut files = BTreeMap::new();
        files.insert(
            "c/templates/job.yaml".to_string(),
            "kind: Job\nmetadata:\n  name: j\n  annotations:\n    helm.sh/hook: Pre-Install, post-upgrade\n    helm.sh/hook-weight: \"-5\"\n    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded\n---\nkind: Job\nmetadata:\n  annotations:\n    helm.sh/hook: nonsense\n".to_string(),
        );
        let (generic, hooks) = sort_manifests(&files).unwrap();
        assert!(generic.is_empty());
        assert_eq!(hooks.len(), 1, "the unknown hook is dropped");
        let h = hooks[0].hook.as_ref().unwrap();
        assert_eq!(
            h.events,
            vec![HookEvent::PreInstall, HookEvent::PostUpgrade]
        );
        assert_eq!(h.weight, -5);
        assert_eq!(
            h.delete_policies,
            vec!["before-hook-creation", "hook-succeeded"]
        );
    }
}
