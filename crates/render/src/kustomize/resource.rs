//! Resources as kustomize tracks them while building: the object plus the
//! bookkeeping kustomize keeps in `internal.config.kubernetes.io/*`
//! annotations (previous ids, prefixes and suffixes, generator options),
//! held here as fields and never written into the object.

use std::fmt;

use serde_json::{Map, Value};

use flotilla_core::Location;

/// Group, version and kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gvk {
    /// API group, empty for the core group.
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
}

/// Kinds kustomize knows to be cluster-scoped (kyaml's precomputed table).
const CLUSTER_SCOPED: &[(&str, &str)] = &[
    (
        "admissionregistration.k8s.io/v1",
        "MutatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io/v1",
        "ValidatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        "MutatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        "ValidatingWebhookConfiguration",
    ),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
    ("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition"),
    ("apiregistration.k8s.io/v1", "APIService"),
    ("apiregistration.k8s.io/v1beta1", "APIService"),
    ("certificates.k8s.io/v1", "CertificateSigningRequest"),
    ("certificates.k8s.io/v1beta1", "CertificateSigningRequest"),
    ("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema"),
    (
        "flowcontrol.apiserver.k8s.io/v1beta1",
        "PriorityLevelConfiguration",
    ),
    ("networking.k8s.io/v1", "IngressClass"),
    ("networking.k8s.io/v1beta1", "IngressClass"),
    ("node.k8s.io/v1", "RuntimeClass"),
    ("node.k8s.io/v1beta1", "RuntimeClass"),
    ("policy/v1beta1", "PodSecurityPolicy"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("rbac.authorization.k8s.io/v1beta1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1beta1", "ClusterRoleBinding"),
    ("scheduling.k8s.io/v1", "PriorityClass"),
    ("scheduling.k8s.io/v1beta1", "PriorityClass"),
    ("storage.k8s.io/v1", "CSIDriver"),
    ("storage.k8s.io/v1", "CSINode"),
    ("storage.k8s.io/v1", "StorageClass"),
    ("storage.k8s.io/v1", "VolumeAttachment"),
    ("storage.k8s.io/v1beta1", "CSIDriver"),
    ("storage.k8s.io/v1beta1", "CSINode"),
    ("storage.k8s.io/v1beta1", "StorageClass"),
    ("storage.k8s.io/v1beta1", "VolumeAttachment"),
    ("v1", "ComponentStatus"),
    ("v1", "Namespace"),
    ("v1", "Node"),
    ("v1", "NodeProxyOptions"),
    ("v1", "PersistentVolume"),
];

impl Gvk {
    /// From an `apiVersion` and a kind.
    pub fn new(api_version: &str, kind: &str) -> Gvk {
        let (group, version) = match api_version.find('/') {
            Some(i) => (&api_version[..i], &api_version[i + 1..]),
            None => ("", api_version),
        };
        Gvk {
            group: group.to_string(),
            version: version.to_string(),
            kind: kind.to_string(),
        }
    }

    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// True for kinds known to be cluster-scoped.
    pub fn is_cluster_scoped(&self) -> bool {
        let (g, v) = (self.group.as_str(), self.version.as_str());
        CLUSTER_SCOPED.iter().any(|(a, k)| {
            *k == self.kind
                && if g.is_empty() {
                    *a == v
                } else {
                    a.len() == g.len() + 1 + v.len()
                        && a.starts_with(g)
                        && a.as_bytes()[g.len()] == b'/'
                        && a.ends_with(v)
                }
        })
    }

    /// True when every non-empty part of `sel` equals this one's.
    pub fn is_selected(&self, sel: &Gvk) -> bool {
        (sel.group.is_empty() || sel.group == self.group)
            && (sel.version.is_empty() || sel.version == self.version)
            && (sel.kind.is_empty() || sel.kind == self.kind)
    }

    /// kustomize's `Kind.version.group` form with placeholders.
    pub fn kustomize_string(&self) -> String {
        format!(
            "{}.{}.{}",
            if self.kind.is_empty() {
                "[noKind]"
            } else {
                &self.kind
            },
            if self.version.is_empty() {
                "[noVer]"
            } else {
                &self.version
            },
            if self.group.is_empty() {
                "[noGrp]"
            } else {
                &self.group
            }
        )
    }
}

/// What identifies a resource while building.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResId {
    /// Group, version, kind.
    pub gvk: Gvk,
    /// Name.
    pub name: String,
    /// Namespace as written (may be empty).
    pub namespace: String,
    /// Whether the kind is known cluster-scoped (false for ids rebuilt from
    /// history, as in kustomize).
    pub cluster_scoped: bool,
}

/// The namespace kustomize uses for cluster-scoped ids.
pub const NOT_A_NAMESPACE: &str = "_non_namespaceable_";

impl ResId {
    /// A current id (cluster scope looked up).
    pub fn new(gvk: Gvk, name: &str, namespace: &str) -> ResId {
        let cluster_scoped = gvk.is_cluster_scoped();
        ResId {
            gvk,
            name: name.to_string(),
            namespace: namespace.to_string(),
            cluster_scoped,
        }
    }

    /// The namespace used to compare ids: `default` for an empty one,
    /// [`NOT_A_NAMESPACE`] for cluster-scoped kinds.
    pub fn effective_namespace(&self) -> &str {
        if self.cluster_scoped {
            NOT_A_NAMESPACE
        } else if self.namespace.is_empty() || self.namespace == "default" {
            "default"
        } else {
            &self.namespace
        }
    }

    /// Same group, version, kind, name and effective namespace.
    pub fn equals(&self, o: &ResId) -> bool {
        self.gvkn_equals(o) && self.effective_namespace() == o.effective_namespace()
    }

    /// Same group, version, kind and name.
    pub fn gvkn_equals(&self, o: &ResId) -> bool {
        self.name == o.name && self.gvk == o.gvk
    }

    /// kustomize's string form (`Kind.version.group/name.namespace`).
    pub fn kustomize_string(&self) -> String {
        format!(
            "{}/{}.{}",
            self.gvk.kustomize_string(),
            if self.name.is_empty() {
                "[noName]"
            } else {
                &self.name
            },
            if self.namespace.is_empty() {
                "[noNs]"
            } else {
                &self.namespace
            }
        )
    }
}

impl fmt::Display for ResId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.gvk.api_version())?;
        write!(f, " {}", self.gvk.kind)?;
        if !self.namespace.is_empty() {
            write!(f, " {}/{}", self.namespace, self.name)
        } else {
            write!(f, " {}", self.name)
        }
    }
}

/// Generator behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Behavior {
    /// Not generated, or `create`.
    #[default]
    Create,
    /// `merge`.
    Merge,
    /// `replace`.
    Replace,
}

/// One resource being built.
#[derive(Debug, Clone)]
pub struct Resource {
    /// The object.
    pub obj: Map<String, Value>,
    /// Where it was read or generated.
    pub origin: Location,
    /// Previous (namespace, name, kind), oldest first.
    pub prev: Vec<(String, String, String)>,
    /// Name prefixes applied, innermost first.
    pub prefixes: Vec<String>,
    /// Name suffixes applied, innermost first.
    pub suffixes: Vec<String>,
    /// Generated and still to receive a hash suffix.
    pub needs_hash: bool,
    /// Generator behaviour.
    pub behavior: Behavior,
    /// A patch that may rename its target.
    pub allow_name_change: bool,
    /// A patch that may change its target's kind.
    pub allow_kind_change: bool,
    /// Names of vars this resource provides.
    pub ref_vars: Vec<String>,
    /// Places that share one YAML node in kustomize (a label or annotation
    /// value its transformers inserted at several paths at once): writing
    /// one in place changes all of them there, so it does here too.
    pub aliases: Vec<Vec<Vec<super::fieldspec::Seg>>>,
}

/// Reads a string at a path of mapping keys (`""` when absent or not a string scalar).
pub fn get_str<'a>(obj: &'a Map<String, Value>, path: &[&str]) -> &'a str {
    let mut cur = obj;
    for (i, k) in path.iter().enumerate() {
        match cur.get(*k) {
            Some(Value::Object(m)) if i + 1 < path.len() => cur = m,
            Some(Value::String(s)) if i + 1 == path.len() => return s,
            _ => return "",
        }
    }
    ""
}

/// The text kyaml sees in a scalar node (`""` for null and collections).
pub fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// A scalar kyaml creates without a tag (it is resolved again when the
/// object is written out): `80` becomes a number, `web` a string.
pub fn plain_scalar(s: &str) -> Value {
    crate::yaml::resolve_plain_value(s)
}

impl Resource {
    /// A resource read from `origin`.
    pub fn new(obj: Map<String, Value>, origin: Location) -> Resource {
        Resource {
            obj,
            origin,
            prev: Vec::new(),
            prefixes: Vec::new(),
            suffixes: Vec::new(),
            needs_hash: false,
            behavior: Behavior::Create,
            allow_name_change: false,
            allow_kind_change: false,
            ref_vars: Vec::new(),
            aliases: Vec::new(),
        }
    }

    /// After an in-place write of `value` at `path`: the same write at every
    /// path sharing its node.
    pub fn propagate(&mut self, path: &[super::fieldspec::Seg], value: &Value) {
        let Some(group) = self
            .aliases
            .iter()
            .find(|g| g.iter().any(|p| p == path))
            .cloned()
        else {
            return;
        };
        for p in group {
            if p != path {
                if let Some(slot) = super::fieldspec::get_at(&mut self.obj, &p) {
                    *slot = value.clone();
                }
            }
        }
    }

    /// The values at aliased paths, to find what a patch changed.
    pub fn alias_snapshot(&mut self) -> Vec<Vec<Option<Value>>> {
        let groups = self.aliases.clone();
        groups
            .iter()
            .map(|g| {
                g.iter()
                    .map(|p| super::fieldspec::get_at(&mut self.obj, p).map(|v| v.clone()))
                    .collect()
            })
            .collect()
    }

    /// After a strategic merge: a changed aliased value is written to all
    /// its aliases (the last change in walk order wins); vanished paths
    /// leave their group.
    pub fn propagate_after_patch(&mut self, before: Vec<Vec<Option<Value>>>) {
        let mut groups = std::mem::take(&mut self.aliases);
        for (g, snap) in groups.iter_mut().zip(before) {
            let mut changed: Option<(Vec<super::fieldspec::Seg>, Value)> = None;
            let mut keep = Vec::new();
            for (p, old) in g.iter().zip(snap) {
                let now = super::fieldspec::get_at(&mut self.obj, p).map(|v| v.clone());
                let Some(now) = now else { continue };
                if !matches!(now, Value::String(_) | Value::Number(_) | Value::Bool(_)) {
                    continue;
                }
                if old.as_ref() != Some(&now) && changed.as_ref().is_none_or(|(cp, _)| p > cp) {
                    changed = Some((p.clone(), now.clone()));
                }
                keep.push(p.clone());
            }
            if let Some((_, v)) = changed {
                for p in &keep {
                    if let Some(slot) = super::fieldspec::get_at(&mut self.obj, p) {
                        *slot = v.clone();
                    }
                }
            }
            *g = keep;
        }
        groups.retain(|g| g.len() > 1);
        self.aliases = groups;
    }

    /// `apiVersion`.
    pub fn api_version(&self) -> &str {
        get_str(&self.obj, &["apiVersion"])
    }

    /// `kind`.
    pub fn kind(&self) -> &str {
        get_str(&self.obj, &["kind"])
    }

    /// `metadata.name`.
    pub fn name(&self) -> &str {
        get_str(&self.obj, &["metadata", "name"])
    }

    /// `metadata.namespace`.
    pub fn namespace(&self) -> &str {
        get_str(&self.obj, &["metadata", "namespace"])
    }

    /// Group, version, kind.
    pub fn gvk(&self) -> Gvk {
        Gvk::new(self.api_version(), self.kind())
    }

    /// The current id.
    pub fn cur_id(&self) -> ResId {
        ResId::new(self.gvk(), self.name(), self.namespace())
    }

    /// Previous ids, oldest first (cluster scope not looked up, as in kustomize).
    pub fn prev_ids(&self) -> Vec<ResId> {
        let gvk = self.gvk();
        self.prev
            .iter()
            .map(|(ns, name, kind)| ResId {
                gvk: Gvk {
                    group: gvk.group.clone(),
                    version: gvk.version.clone(),
                    kind: kind.clone(),
                },
                name: name.clone(),
                namespace: ns.clone(),
                cluster_scoped: false,
            })
            .collect()
    }

    /// The original id: the oldest previous one, else the current one.
    pub fn org_id(&self) -> ResId {
        self.prev_ids()
            .into_iter()
            .next()
            .unwrap_or_else(|| self.cur_id())
    }

    /// Previous ids then the current one.
    pub fn all_ids(&self) -> Vec<ResId> {
        let mut ids = self.prev_ids();
        ids.push(self.cur_id());
        ids
    }

    /// Records the current id as a previous one.
    pub fn store_previous_id(&mut self) {
        let id = self.cur_id();
        self.prev.push((
            id.effective_namespace().to_string(),
            id.name.clone(),
            id.gvk.kind.clone(),
        ));
    }

    /// `metadata`, created when absent or null.
    pub fn metadata_mut(&mut self) -> &mut Map<String, Value> {
        let m = self
            .obj
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if !m.is_object() {
            *m = Value::Object(Map::new());
        }
        m.as_object_mut().expect("metadata is a mapping")
    }

    /// Sets `metadata.name`.
    pub fn set_name(&mut self, name: &str) {
        self.metadata_mut()
            .insert("name".into(), Value::String(name.into()));
    }

    /// Sets `metadata.namespace` (removes it when empty, as kyaml's setter does).
    pub fn set_namespace(&mut self, ns: &str) {
        let md = self.metadata_mut();
        if ns.is_empty() {
            md.remove("namespace");
        } else {
            md.insert("namespace".into(), Value::String(ns.into()));
        }
    }

    /// Sets `kind`.
    pub fn set_kind(&mut self, kind: &str) {
        self.obj.insert("kind".into(), Value::String(kind.into()));
    }

    /// `metadata.labels` or `metadata.annotations` as strings.
    pub fn string_map(&self, field: &str) -> Vec<(String, String)> {
        match self.obj.get("metadata").and_then(|m| m.get(field)) {
            Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), scalar_text(v))).collect(),
            _ => Vec::new(),
        }
    }

    /// Replaces `metadata.labels` or `metadata.annotations` (removed when empty).
    pub fn set_string_map(&mut self, field: &str, entries: Vec<(String, String)>) {
        let md = self.metadata_mut();
        md.remove(field);
        if entries.is_empty() {
            return;
        }
        let mut m = Map::new();
        for (k, v) in entries {
            m.insert(k, Value::String(v));
        }
        md.insert(field.to_string(), Value::Object(m));
    }

    /// True when the object is empty (deleted by a patch).
    pub fn is_empty(&self) -> bool {
        self.obj.is_empty()
    }

    /// Same prefixes and suffixes as `o` (kustomize's `PrefixesSuffixesEquals`).
    pub fn prefixes_suffixes_equal(&self, o: &Resource, allow_empty: bool) -> bool {
        if allow_empty {
            let pe = self.prefixes.is_empty() || o.prefixes.is_empty();
            let se = self.suffixes.is_empty() || o.suffixes.is_empty();
            (pe || same_ending(&self.prefixes, &o.prefixes))
                && (se || same_ending(&self.suffixes, &o.suffixes))
        } else {
            same_ending(&self.prefixes, &o.prefixes) && same_ending(&self.suffixes, &o.suffixes)
        }
    }
}

fn same_ending(a: &[String], b: &[String]) -> bool {
    let (short, long) = if a.len() > b.len() { (b, a) } else { (a, b) };
    let diff = long.len() - short.len();
    if short.is_empty() {
        return diff == 0;
    }
    (0..short.len()).rev().all(|i| long[i + diff] == short[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        let ns = ResId::new(Gvk::new("v1", "Namespace"), "x", "");
        assert!(ns.cluster_scoped);
        assert_eq!(ns.effective_namespace(), NOT_A_NAMESPACE);
        let cm = ResId::new(Gvk::new("v1", "ConfigMap"), "x", "default");
        let cm2 = ResId::new(Gvk::new("v1", "ConfigMap"), "x", "");
        assert!(cm.equals(&cm2));
        assert_eq!(cm.kustomize_string(), "ConfigMap.v1.[noGrp]/x.default");
        assert!(same_ending(&["a".into(), "b".into()], &["b".into()]));
        assert!(!same_ending(&["a".into()], &[]));
    }
}
