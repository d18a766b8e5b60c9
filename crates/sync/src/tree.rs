//! The resource tree of an Application: its managed resources and, under
//! each, what it owns on the cluster by owner reference (Deployment →
//! ReplicaSet → Pod, StatefulSet → Pod, Job → Pod, Service → EndpointSlice),
//! with health per node and sync status for managed ones. Pure: the objects
//! come from a lookup and a children index (the cluster cache's).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::health::{self, HealthStatus};

/// How deep owner references are followed below a managed resource.
pub const MAX_DEPTH: usize = 6;

/// One name/value fact about a node (as Argo CD's `info`): a Pod's phase,
/// its ready containers, restarts, each container's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// What.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// One node of the tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeNode {
    /// API group (empty for the core group).
    pub group: String,
    /// Version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Namespace (empty for cluster-scoped).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// UID on the cluster (empty when the object is missing).
    pub uid: String,
    /// Health, for kinds that have one (`Missing` when a managed object is absent).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub health: Option<HealthStatus>,
    /// Sync status: managed resources only.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sync: Option<String>,
    /// Facts shown next to the node.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub info: Vec<NodeInfo>,
    /// What it owns.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub children: Vec<TreeNode>,
}

/// A managed resource the tree starts from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Root {
    /// API group.
    pub group: String,
    /// Version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Its sync status (`Synced`, `OutOfSync`, ...).
    pub sync: String,
}

/// An Application's tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceTree {
    /// The Application.
    pub app: String,
    /// Its cluster.
    pub cluster: String,
    /// Managed resources, each with what it owns.
    pub nodes: Vec<TreeNode>,
}

impl ResourceTree {
    /// Every node, depth first, with its depth.
    pub fn walk(&self) -> Vec<(usize, &TreeNode)> {
        fn go<'a>(n: &'a TreeNode, d: usize, out: &mut Vec<(usize, &'a TreeNode)>) {
            out.push((d, n));
            for c in &n.children {
                go(c, d + 1, out);
            }
        }
        let mut out = Vec::new();
        for n in &self.nodes {
            go(n, 0, &mut out);
        }
        out
    }

    /// The tree as indented text, one node a line:
    /// `Kind namespace/name  Health  [Sync]  info`.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for (depth, n) in self.walk() {
            let indent = if depth == 0 {
                String::new()
            } else {
                format!("{}└─ ", "   ".repeat(depth - 1))
            };
            let name = if n.namespace.is_empty() {
                n.name.clone()
            } else {
                format!("{}/{}", n.namespace, n.name)
            };
            out.push_str(&format!("{indent}{} {name}", n.kind));
            if let Some(h) = &n.health {
                out.push_str(&format!("  {}", h.status));
            }
            if let Some(s) = &n.sync {
                out.push_str(&format!("  {s}"));
            }
            let facts: Vec<String> = n
                .info
                .iter()
                .filter(|i| !i.name.starts_with("Container "))
                .map(|i| format!("{}={}", i.name, i.value))
                .collect();
            if !facts.is_empty() {
                out.push_str(&format!("  ({})", facts.join(", ")));
            }
            out.push('\n');
        }
        out
    }
}

fn meta<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get("metadata")
        .and_then(|m| m.get(key))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn split_api_version(v: &Value) -> (String, String) {
    let av = v.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    match av.split_once('/') {
        Some((g, ver)) => (g.to_string(), ver.to_string()),
        None => (String::new(), av.to_string()),
    }
}

/// Facts about a Pod: phase (or the reason it is not running), ready
/// containers, restarts, each container's state.
pub fn pod_info(pod: &Value) -> Vec<NodeInfo> {
    let mut info = Vec::new();
    let status = pod.get("status");
    let phase = status
        .and_then(|s| s.get("phase"))
        .and_then(Value::as_str)
        .unwrap_or("Unknown");
    let reason = status
        .and_then(|s| s.get("reason"))
        .and_then(Value::as_str)
        .unwrap_or(phase);
    info.push(NodeInfo {
        name: "Status".into(),
        value: reason.to_string(),
    });
    let containers = status
        .and_then(|s| s.get("containerStatuses"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let total = pod
        .get("spec")
        .and_then(|s| s.get("containers"))
        .and_then(Value::as_array)
        .map_or(containers.len(), Vec::len);
    let ready = containers
        .iter()
        .filter(|c| c.get("ready") == Some(&Value::Bool(true)))
        .count();
    let restarts: i64 = containers
        .iter()
        .filter_map(|c| c.get("restartCount").and_then(Value::as_i64))
        .sum();
    info.push(NodeInfo {
        name: "Containers".into(),
        value: format!("{ready}/{total}"),
    });
    info.push(NodeInfo {
        name: "Restarts".into(),
        value: restarts.to_string(),
    });
    for c in &containers {
        let name = c.get("name").and_then(Value::as_str).unwrap_or("");
        let state = c.get("state").and_then(Value::as_object);
        let value = match state.and_then(|s| s.iter().next()) {
            Some((k, detail)) => match detail.get("reason").and_then(Value::as_str) {
                Some(r) => format!("{k} ({r})"),
                None => k.clone(),
            },
            None => "unknown".into(),
        };
        info.push(NodeInfo {
            name: format!("Container {name}"),
            value,
        });
    }
    info
}

fn node_of(v: &Value) -> TreeNode {
    let (group, version) = split_api_version(v);
    let kind = v
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let info = if group.is_empty() && kind == "Pod" {
        pod_info(v)
    } else {
        Vec::new()
    };
    TreeNode {
        group,
        version,
        kind,
        namespace: meta(v, "namespace").to_string(),
        name: meta(v, "name").to_string(),
        uid: meta(v, "uid").to_string(),
        health: health::assess(v),
        sync: None,
        info,
        children: Vec::new(),
    }
}

fn add_children(
    node: &mut TreeNode,
    depth: usize,
    children: Children<'_>,
    seen: &mut HashSet<String>,
) {
    if depth >= MAX_DEPTH || node.uid.is_empty() {
        return;
    }
    let mut kids: Vec<TreeNode> = children(&node.uid)
        .iter()
        .filter(|c| seen.insert(meta(c, "uid").to_string()))
        .map(node_of)
        .collect();
    kids.sort_by(|a, b| (&a.kind, &a.namespace, &a.name).cmp(&(&b.kind, &b.namespace, &b.name)));
    for k in &mut kids {
        add_children(k, depth + 1, children, seen);
    }
    node.children = kids;
}

/// Looks an object up by (group, kind, namespace, name).
pub type Lookup<'a> = &'a dyn Fn(&(String, String, String, String)) -> Option<Value>;
/// The objects whose owner references name a UID.
pub type Children<'a> = &'a dyn Fn(&str) -> Vec<Value>;

/// Builds the tree: each root looked up with `get` (group, kind, namespace,
/// name), then what it owns with `children` (by owner UID), to
/// [`MAX_DEPTH`] levels; an object reached twice is shown once.
pub fn build(roots: &[Root], get: Lookup<'_>, children: Children<'_>) -> Vec<TreeNode> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for r in roots {
        let key = (
            r.group.clone(),
            r.kind.clone(),
            r.namespace.clone(),
            r.name.clone(),
        );
        let mut node = match get(&key) {
            Some(v) => {
                seen.insert(meta(&v, "uid").to_string());
                node_of(&v)
            }
            None => TreeNode {
                group: r.group.clone(),
                version: r.version.clone(),
                kind: r.kind.clone(),
                namespace: r.namespace.clone(),
                name: r.name.clone(),
                uid: String::new(),
                health: Some(HealthStatus::new(health::HealthCode::Missing, "")),
                sync: None,
                info: Vec::new(),
                children: Vec::new(),
            },
        };
        node.sync = Some(r.sync.clone());
        out.push(node);
    }
    for n in &mut out {
        add_children(n, 0, children, &mut seen);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    #[test]
    fn deployments_own_replica_sets_which_own_pods() {
        let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "ns", "uid": "d1", "generation": 1},
            "spec": {"replicas": 1},
            "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1, "readyReplicas": 1}});
        let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "web-1", "namespace": "ns", "uid": "r1",
                "ownerReferences": [{"uid": "d1"}]}});
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web-1-a", "namespace": "ns", "uid": "p1",
                "ownerReferences": [{"uid": "r1"}]},
            "spec": {"containers": [{"name": "app"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "app", "ready": true, "restartCount": 2, "state": {"running": {}}}]}});
        let mut owned: HashMap<&str, Vec<Value>> = HashMap::new();
        owned.insert("d1", vec![rs]);
        owned.insert("r1", vec![pod]);
        let roots = vec![
            Root {
                group: "apps".into(),
                version: "v1".into(),
                kind: "Deployment".into(),
                namespace: "ns".into(),
                name: "web".into(),
                sync: "Synced".into(),
            },
            Root {
                group: "".into(),
                version: "v1".into(),
                kind: "ConfigMap".into(),
                namespace: "ns".into(),
                name: "gone".into(),
                sync: "Missing".into(),
            },
        ];
        let get = |k: &(String, String, String, String)| (k.3 == "web").then(|| deploy.clone());
        let children = |uid: &str| owned.get(uid).cloned().unwrap_or_default();
        let tree = ResourceTree {
            app: "a".into(),
            cluster: "c".into(),
            nodes: build(&roots, &get, &children),
        };
        let kinds: Vec<(usize, &str)> = tree
            .walk()
            .iter()
            .map(|(d, n)| (*d, n.kind.as_str()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (0, "Deployment"),
                (1, "ReplicaSet"),
                (2, "Pod"),
                (0, "ConfigMap")
            ]
        );
        let text = tree.to_text();
        assert!(
            text.contains("Deployment ns/web  Healthy  Synced"),
            "{text}"
        );
        assert!(text.contains("\n   └─ Pod ns/web-1-a"), "{text}");
        assert!(text.contains("Containers=1/1, Restarts=2"), "{text}");
        assert!(
            text.contains("ConfigMap ns/gone  Missing  Missing"),
            "{text}"
        );
    }

    #[test]
    fn owner_cycles_end() {
        let a = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "uid": "a", "ownerReferences": [{"uid": "b"}]}});
        let b = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b", "uid": "b", "ownerReferences": [{"uid": "a"}]}});
        let roots = vec![Root {
            group: "".into(),
            version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: "".into(),
            name: "a".into(),
            sync: "Synced".into(),
        }];
        let get = |_: &(String, String, String, String)| Some(a.clone());
        let children = |uid: &str| match uid {
            "a" => vec![b.clone()],
            "b" => vec![a.clone()],
            _ => vec![],
        };
        let nodes = build(&roots, &get, &children);
        assert_eq!(nodes[0].children.len(), 1);
        assert!(nodes[0].children[0].children.is_empty());
    }
}
