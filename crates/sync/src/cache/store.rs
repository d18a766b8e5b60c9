//! The cluster cache's store: objects by watch stream, with indexes by
//! owning Application and by owner reference. Pure: no I/O, no clock; the
//! watch loops in [`super`] feed it.
//!
//! Objects are kept as compact JSON text with the parts nothing reads
//! removed (`managedFields`, `last-applied-configuration`, Secret values,
//! which are replaced by their SHA-256), so memory follows what compare,
//! health and the resource tree need, and the byte count is exact.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::Value;

use crate::cluster::ResourceType;
use crate::tracking::{self, TrackingMethod};

/// group, kind, namespace, name: one object on a cluster.
pub type ObjKey = (String, String, String, String);

/// Which watch an object came from: a type's tracked objects (or every
/// Namespace), or a type's objects in the namespaces Applications deploy
/// into (the children of tracked objects: Pods, ReplicaSets, ...).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId {
    /// API group.
    pub group: String,
    /// Kind.
    pub kind: String,
    /// `false`: tracked objects; `true`: children, kept only in the
    /// namespaces given with [`Store::add_child_namespaces`].
    pub children: bool,
}

impl StreamId {
    /// The stream of a type's tracked objects.
    pub fn tracked(group: &str, kind: &str) -> Self {
        StreamId {
            group: group.to_string(),
            kind: kind.to_string(),
            children: false,
        }
    }

    /// The stream of a type's objects in the Applications' namespaces.
    pub fn children(group: &str, kind: &str) -> Self {
        StreamId {
            children: true,
            ..Self::tracked(group, kind)
        }
    }
}

/// What a Secret's values are replaced with in the cache: `sha256:` and the
/// hex digest of the value as the API server returns it (base64 text).
pub const SECRET_HASH_PREFIX: &str = "sha256:";

/// One cached object.
#[derive(Clone, Debug)]
struct Entry {
    json: Box<str>,
    uid: Box<str>,
    rv: u64,
    app: Option<Box<str>>,
    owners: Vec<Box<str>>,
}

impl Entry {
    fn bytes(&self) -> usize {
        let ids = self.uid.len()
            + self.app.as_ref().map_or(0, |a| a.len())
            + self.owners.iter().map(|o| o.len()).sum::<usize>();
        // The `up` index holds them a second time.
        let up = if self.app.is_some() || !self.owners.is_empty() {
            ids + std::mem::size_of::<Up>() + 16
        } else {
            0
        };
        self.json.len() + ids + up + std::mem::size_of::<Entry>()
    }
}

type NsName = (String, String);

#[derive(Debug)]
struct Stream {
    rtype: ResourceType,
    synced: bool,
    objects: HashMap<NsName, Entry>,
    /// Objects of a list in progress (between `begin_list` and `end_list`).
    listing: Option<HashMap<NsName, Entry>>,
    /// Deleted by us at this resourceVersion: older events do not bring
    /// them back.
    tombstones: HashMap<NsName, u64>,
}

/// A change to a tracked object: the Applications it belonged to before and
/// after.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Change {
    /// Applications to look at again.
    pub apps: BTreeSet<String>,
    /// Applications whose resources' descendants (ReplicaSets, Pods, ...)
    /// changed: their resource trees changed, not their comparison.
    pub trees: BTreeSet<String>,
}

/// Per-cluster object counts and sizes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreSize {
    /// Cached objects.
    pub objects: usize,
    /// Bytes held for them (JSON text and index keys).
    pub bytes: usize,
}

/// The objects of one cluster.
#[derive(Debug)]
pub struct Store {
    tracking: TrackingMethod,
    child_namespaces: HashSet<String>,
    streams: HashMap<StreamId, Stream>,
    by_app: HashMap<String, HashSet<(StreamId, NsName)>>,
    by_owner: HashMap<String, HashSet<(StreamId, NsName)>>,
    /// Upwards, by UID: a tracked object's Application, or the owners of an
    /// untracked one (to find whose tree a child belongs to).
    up: HashMap<Box<str>, Up>,
    size: StoreSize,
}

#[derive(Debug)]
enum Up {
    App(Box<str>),
    Owners(Box<[Box<str>]>),
}

/// Removes what no reader needs and hashes Secret values.
pub fn trim(obj: &mut Value) {
    let is_secret = obj.get("kind").and_then(Value::as_str) == Some("Secret")
        && obj.get("apiVersion").and_then(Value::as_str) == Some("v1");
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
        if let Some(a) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            a.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
    }
    if is_secret {
        hash_secret_values(obj);
    }
}

/// Replaces each value of a Secret's `data` with [`SECRET_HASH_PREFIX`] and
/// its digest, as the cache stores them; applied to a desired Secret (after
/// `stringData` is folded into `data`) it compares with the cached one.
pub fn hash_secret_values(obj: &mut Value) {
    use sha2::Digest as _;
    if let Some(data) = obj.get_mut("data").and_then(Value::as_object_mut) {
        for v in data.values_mut() {
            if let Value::String(s) = v {
                if !s.starts_with(SECRET_HASH_PREFIX) {
                    *s = format!(
                        "{SECRET_HASH_PREFIX}{}",
                        hex::encode(sha2::Sha256::digest(s.as_bytes()))
                    );
                }
            }
        }
    }
}

fn meta<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get("metadata")
        .and_then(|m| m.get(key))
        .and_then(Value::as_str)
        .unwrap_or("")
}

impl Store {
    /// An empty store for objects tracked with `tracking`.
    pub fn new(tracking: TrackingMethod) -> Self {
        Store {
            tracking,
            child_namespaces: HashSet::new(),
            streams: HashMap::new(),
            by_app: HashMap::new(),
            by_owner: HashMap::new(),
            up: HashMap::new(),
            size: StoreSize::default(),
        }
    }

    /// Adds a stream (not synced until its first list ends). Adding one
    /// that exists changes nothing.
    pub fn add_stream(&mut self, id: StreamId, rtype: ResourceType) {
        self.streams.entry(id).or_insert_with(|| Stream {
            rtype,
            synced: false,
            objects: HashMap::new(),
            listing: None,
            tombstones: HashMap::new(),
        });
    }

    /// Removes a stream and its objects (its type is gone from the cluster,
    /// or no Application deploys into its namespace any more).
    pub fn remove_stream(&mut self, id: &StreamId) -> Change {
        let mut change = Change::default();
        if let Some(stream) = self.streams.remove(id) {
            for (k, e) in stream.objects {
                self.unindex(id, &k, &e, &mut change);
            }
        }
        change
    }

    /// Keeps children in these namespaces too; returns whether one is new
    /// (then the children streams must list again to see what was dropped).
    pub fn add_child_namespaces(&mut self, namespaces: impl IntoIterator<Item = String>) -> bool {
        let mut new = false;
        for ns in namespaces {
            if !ns.is_empty() {
                new |= self.child_namespaces.insert(ns);
            }
        }
        new
    }

    /// The namespaces children are kept in.
    pub fn child_namespaces(&self) -> Vec<String> {
        let mut v: Vec<String> = self.child_namespaces.iter().cloned().collect();
        v.sort();
        v
    }

    /// The streams the store holds.
    pub fn stream_ids(&self) -> Vec<StreamId> {
        self.streams.keys().cloned().collect()
    }

    /// Whether every cluster-wide stream has finished a list since it was
    /// added or last interrupted (namespace streams of children only feed
    /// health and the tree, never a compare).
    pub fn synced(&self) -> bool {
        self.streams.iter().all(|(id, s)| s.synced || id.children)
    }

    /// Whether every stream, namespace streams of children included, has
    /// listed.
    pub fn all_synced(&self) -> bool {
        self.streams.values().all(|s| s.synced)
    }

    /// The streams that are not synced.
    pub fn unsynced(&self) -> Vec<StreamId> {
        let mut v: Vec<StreamId> = self
            .streams
            .iter()
            .filter(|(_, s)| !s.synced)
            .map(|(id, _)| id.clone())
            .collect();
        v.sort();
        v
    }

    /// Marks a stream as interrupted: its objects may be stale until its
    /// next list ends.
    pub fn interrupted(&mut self, id: &StreamId) {
        if let Some(s) = self.streams.get_mut(id) {
            s.synced = false;
            s.listing = None;
        }
    }

    /// Marks a stream as due for a new list without dropping one in
    /// progress (children, after new namespaces were added).
    pub fn mark_stale(&mut self, id: &StreamId) {
        if let Some(s) = self.streams.get_mut(id) {
            s.synced = false;
        }
    }

    /// A list starts: objects arrive with [`Store::list_apply`] and replace
    /// the stream's at [`Store::end_list`].
    pub fn begin_list(&mut self, id: &StreamId) {
        if let Some(s) = self.streams.get_mut(id) {
            s.listing = Some(HashMap::new());
        }
    }

    /// One object of a list in progress.
    pub fn list_apply(&mut self, id: &StreamId, mut obj: Value) {
        let Some(entry) = self.entry_for(id, &mut obj) else {
            return;
        };
        let Some(s) = self.streams.get_mut(id) else {
            return;
        };
        let key = (
            meta(&obj, "namespace").to_string(),
            meta(&obj, "name").to_string(),
        );
        s.listing
            .get_or_insert_with(HashMap::new)
            .insert(key, entry);
    }

    /// A list ended: the stream now holds exactly what it listed. Returns
    /// the Applications whose objects changed.
    pub fn end_list(&mut self, id: &StreamId) -> Change {
        let mut change = Change::default();
        let Some(s) = self.streams.get_mut(id) else {
            return change;
        };
        let listed = s.listing.take().unwrap_or_default();
        let old = std::mem::take(&mut s.objects);
        s.synced = true;
        s.tombstones.clear();
        for (k, e) in &old {
            let same = listed.get(k).is_some_and(|n| n.json == e.json);
            if !same {
                if let Some(a) = &e.app {
                    change.apps.insert(a.to_string());
                }
            }
            self.unindex_only(id, k, e);
        }
        for (k, e) in &listed {
            let same = old.get(k).is_some_and(|o| o.json == e.json);
            if !same {
                if let Some(a) = &e.app {
                    change.apps.insert(a.to_string());
                }
            }
        }
        for (k, e) in listed {
            self.insert_entry(id, k, e);
        }
        change
    }

    /// An object was added or changed (a watch event, or the server's answer
    /// to our apply). An older resourceVersion than the one held is ignored.
    pub fn apply(&mut self, id: &StreamId, mut obj: Value) -> Change {
        let mut change = Change::default();
        let Some(entry) = self.entry_for(id, &mut obj) else {
            return change;
        };
        let key = (
            meta(&obj, "namespace").to_string(),
            meta(&obj, "name").to_string(),
        );
        let Some(s) = self.streams.get_mut(id) else {
            return change;
        };
        if let Some(listing) = s.listing.as_mut() {
            listing.insert(key, entry);
            return change;
        }
        if s.tombstones.get(&key).is_some_and(|&rv| entry.rv <= rv) {
            return change;
        }
        s.tombstones.remove(&key);
        if let Some(old) = s.objects.get(&key) {
            if old.rv > entry.rv && entry.rv != 0 {
                return change;
            }
            if old.json == entry.json {
                return change;
            }
        }
        if let Some(old) = self.take(id, &key) {
            if let Some(a) = &old.app {
                change.apps.insert(a.to_string());
            }
        }
        if let Some(a) = &entry.app {
            change.apps.insert(a.to_string());
        } else if let Some(a) = self.owner_app(&entry.owners) {
            change.trees.insert(a);
        }
        self.insert_entry(id, key, entry);
        change
    }

    /// An object was deleted (`rv`: its last resourceVersion, 0 if unknown:
    /// then the one held counts).
    pub fn delete(&mut self, id: &StreamId, namespace: &str, name: &str, rv: u64) -> Change {
        let mut change = Change::default();
        let key = (namespace.to_string(), name.to_string());
        if let Some(s) = self.streams.get_mut(id) {
            let rv = match rv {
                0 => s.objects.get(&key).map_or(0, |e| e.rv),
                rv => rv,
            };
            if let Some(listing) = s.listing.as_mut() {
                listing.remove(&key);
            }
            if rv != 0 {
                s.tombstones.insert(key.clone(), rv);
            }
        }
        if let Some(old) = self.take(id, &key) {
            if let Some(a) = &old.app {
                change.apps.insert(a.to_string());
            } else if let Some(a) = self.owner_app(&old.owners) {
                change.trees.insert(a);
            }
        }
        change
    }

    /// The entry to keep for an object of a stream, or `None` when the
    /// stream does not keep it (untracked; a child outside our namespaces).
    fn entry_for(&self, id: &StreamId, obj: &mut Value) -> Option<Entry> {
        if id.children && !self.child_namespaces.contains(meta(obj, "namespace")) {
            return None;
        }
        trim(obj);
        make_entry(obj, self.tracking, id)
    }

    fn take(&mut self, id: &StreamId, key: &NsName) -> Option<Entry> {
        let e = self.streams.get_mut(id)?.objects.remove(key)?;
        self.unindex_only(id, key, &e);
        Some(e)
    }

    fn insert_entry(&mut self, id: &StreamId, key: NsName, e: Entry) {
        if let Some(a) = &e.app {
            self.by_app
                .entry(a.to_string())
                .or_default()
                .insert((id.clone(), key.clone()));
        }
        for o in &e.owners {
            self.by_owner
                .entry(o.to_string())
                .or_default()
                .insert((id.clone(), key.clone()));
        }
        if !e.uid.is_empty() {
            match (&e.app, e.owners.is_empty()) {
                (Some(a), _) => {
                    self.up.insert(e.uid.clone(), Up::App(a.clone()));
                }
                (None, false) => {
                    self.up
                        .insert(e.uid.clone(), Up::Owners(e.owners.clone().into()));
                }
                (None, true) => {}
            }
        }
        self.size.objects += 1;
        self.size.bytes += e.bytes() + key.0.len() + key.1.len();
        if let Some(s) = self.streams.get_mut(id) {
            s.objects.insert(key, e);
        }
    }

    fn unindex(&mut self, id: &StreamId, key: &NsName, e: &Entry, change: &mut Change) {
        if let Some(a) = &e.app {
            change.apps.insert(a.to_string());
        }
        self.unindex_only(id, key, e);
    }

    fn unindex_only(&mut self, id: &StreamId, key: &NsName, e: &Entry) {
        let pair = (id.clone(), key.clone());
        self.up.remove(&e.uid);
        if let Some(a) = &e.app {
            if let Some(set) = self.by_app.get_mut(a.as_ref()) {
                set.remove(&pair);
                if set.is_empty() {
                    self.by_app.remove(a.as_ref());
                }
            }
        }
        for o in &e.owners {
            if let Some(set) = self.by_owner.get_mut(o.as_ref()) {
                set.remove(&pair);
                if set.is_empty() {
                    self.by_owner.remove(o.as_ref());
                }
            }
        }
        self.size.objects = self.size.objects.saturating_sub(1);
        self.size.bytes = self
            .size
            .bytes
            .saturating_sub(e.bytes() + key.0.len() + key.1.len());
    }

    /// The Application an untracked object belongs to through its owners
    /// (a Pod's ReplicaSet's Deployment), up to [`crate::tree::MAX_DEPTH`].
    fn owner_app(&self, owners: &[Box<str>]) -> Option<String> {
        let mut level: Vec<&Box<str>> = owners.iter().collect();
        for _ in 0..crate::tree::MAX_DEPTH {
            let mut next = Vec::new();
            for uid in level {
                match self.up.get(uid) {
                    Some(Up::App(a)) => return Some(a.to_string()),
                    Some(Up::Owners(os)) => next.extend(os.iter()),
                    None => {}
                }
            }
            if next.is_empty() {
                return None;
            }
            level = next;
        }
        None
    }

    fn value_of(&self, id: &StreamId, key: &NsName) -> Option<Value> {
        let s = self.streams.get(id)?;
        let e = s.objects.get(key)?;
        serde_json::from_str(&e.json).ok()
    }

    /// The live object, from the cluster-wide stream of its type, else from
    /// its namespace's stream.
    pub fn get(&self, key: &ObjKey) -> Option<Value> {
        let (group, kind, ns, name) = key;
        let nn = (ns.clone(), name.clone());
        self.value_of(&StreamId::tracked(group, kind), &nn)
            .or_else(|| self.value_of(&StreamId::children(group, kind), &nn))
    }

    /// Whether the type of `key` is watched cluster-wide and synced: then
    /// an absent object is really absent (as far as the tracking selector
    /// lets us see).
    pub fn covers(&self, group: &str, kind: &str) -> bool {
        self.streams
            .get(&StreamId::tracked(group, kind))
            .is_some_and(|s| s.synced)
    }

    /// The objects tracked by `app`, with their types.
    pub fn tracked_by(&self, app: &str) -> Vec<(ResourceType, Value)> {
        let mut out = Vec::new();
        if let Some(set) = self.by_app.get(app) {
            let mut keys: Vec<&(StreamId, NsName)> = set.iter().collect();
            keys.sort();
            for (id, key) in keys {
                if let (Some(s), Some(v)) = (self.streams.get(id), self.value_of(id, key)) {
                    out.push((s.rtype.clone(), v));
                }
            }
        }
        out
    }

    /// The objects that name `uid` in their owner references.
    pub fn children(&self, uid: &str) -> Vec<Value> {
        let mut out = Vec::new();
        if let Some(set) = self.by_owner.get(uid) {
            let mut keys: Vec<&(StreamId, NsName)> = set.iter().collect();
            keys.sort();
            let mut seen = HashSet::new();
            for (id, key) in keys {
                // The same object may come from two streams (tracked and a
                // child of another): keep one.
                if !seen.insert((id.group.clone(), id.kind.clone(), key.clone())) {
                    continue;
                }
                if let Some(v) = self.value_of(id, key) {
                    out.push(v);
                }
            }
        }
        out
    }

    /// Names of the Namespaces on the cluster (from the Namespace stream).
    pub fn namespaces(&self) -> BTreeSet<String> {
        self.streams
            .get(&StreamId::tracked("", "Namespace"))
            .map(|s| s.objects.keys().map(|(_, n)| n.clone()).collect())
            .unwrap_or_default()
    }

    /// Objects and bytes held.
    pub fn size(&self) -> StoreSize {
        self.size
    }
}

fn make_entry(obj: &Value, tracking: TrackingMethod, id: &StreamId) -> Option<Entry> {
    let name = meta(obj, "name");
    if name.is_empty() {
        return None;
    }
    let app = tracking::tracked_app(obj, tracking);
    // A cluster-wide stream of tracked objects keeps only tracked ones: with
    // annotation tracking it cannot select them on the server.
    let keeps_all = id.children || (id.group.is_empty() && id.kind == "Namespace");
    if !keeps_all && app.is_none() {
        return None;
    }
    let rv = meta(obj, "resourceVersion").parse().unwrap_or(0);
    let owners = obj
        .get("metadata")
        .and_then(|m| m.get("ownerReferences"))
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .filter_map(|r| r.get("uid").and_then(Value::as_str))
                .map(Box::from)
                .collect()
        })
        .unwrap_or_default();
    Some(Entry {
        json: obj.to_string().into_boxed_str(),
        uid: meta(obj, "uid").into(),
        rv,
        app: app.map(String::into_boxed_str),
        owners,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_core::annotations::{INSTANCE_LABEL, TRACKING_ID};
    use kube::api::ApiResource;
    use serde_json::json;

    fn rtype(group: &str, kind: &str) -> ResourceType {
        ResourceType {
            namespaced: true,
            verbs: vec!["list".into(), "watch".into(), "delete".into()],
            api_resource: ApiResource {
                group: group.into(),
                version: "v1".into(),
                api_version: if group.is_empty() {
                    "v1".into()
                } else {
                    format!("{group}/v1")
                },
                kind: kind.into(),
                plural: format!("{}s", kind.to_lowercase()),
            },
        }
    }

    fn cm(name: &str, app: Option<&str>, rv: u64) -> Value {
        let mut v = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "ns", "uid": format!("uid-{name}"),
                         "resourceVersion": rv.to_string(),
                         "managedFields": [{"manager": "x"}]},
            "data": {"k": rv.to_string()}});
        if let Some(app) = app {
            v["metadata"]["labels"] = json!({INSTANCE_LABEL: app});
            v["metadata"]["annotations"] =
                json!({TRACKING_ID: format!("{app}:/ConfigMap:ns/{name}")});
        }
        v
    }

    fn wide(kind: &str) -> StreamId {
        StreamId::tracked("", kind)
    }

    fn key(name: &str) -> ObjKey {
        ("".into(), "ConfigMap".into(), "ns".into(), name.into())
    }

    #[test]
    fn a_list_replaces_the_stream_and_reports_what_changed() {
        let mut s = Store::new(TrackingMethod::AnnotationAndLabel);
        let id = wide("ConfigMap");
        s.add_stream(id.clone(), rtype("", "ConfigMap"));
        assert!(!s.synced());
        s.begin_list(&id);
        s.list_apply(&id, cm("a", Some("web"), 1));
        s.list_apply(&id, cm("b", Some("api"), 2));
        // Untracked objects are dropped on arrival.
        s.list_apply(&id, cm("c", None, 3));
        let change = s.end_list(&id);
        assert!(s.synced());
        assert_eq!(s.size().objects, 2);
        assert_eq!(
            change.apps,
            ["api", "web"].iter().map(|s| s.to_string()).collect()
        );
        let live = s.get(&key("a")).unwrap();
        assert!(live["metadata"].get("managedFields").is_none());
        assert_eq!(s.tracked_by("web").len(), 1);
        assert!(s.get(&key("c")).is_none());

        // Listing again with one object gone and one unchanged.
        s.begin_list(&id);
        s.list_apply(&id, cm("a", Some("web"), 1));
        let change = s.end_list(&id);
        assert_eq!(change.apps, ["api".to_string()].into_iter().collect());
        assert!(s.tracked_by("api").is_empty());
        assert_eq!(s.size().objects, 1);
    }

    #[test]
    fn older_versions_never_replace_newer_ones_and_deletes_stay_deleted() {
        let mut s = Store::new(TrackingMethod::AnnotationAndLabel);
        let id = wide("ConfigMap");
        s.add_stream(id.clone(), rtype("", "ConfigMap"));
        s.begin_list(&id);
        s.end_list(&id);
        s.apply(&id, cm("a", Some("web"), 10));
        assert!(s.apply(&id, cm("a", Some("web"), 9)).apps.is_empty());
        assert_eq!(s.get(&key("a")).unwrap()["data"]["k"], "10");
        let change = s.delete(&id, "ns", "a", 11);
        assert_eq!(change.apps.len(), 1);
        // A late event from before the delete does not resurrect it.
        s.apply(&id, cm("a", Some("web"), 10));
        assert!(s.get(&key("a")).is_none());
        // A newer creation does.
        s.apply(&id, cm("a", Some("web"), 12));
        assert!(s.get(&key("a")).is_some());
        assert_eq!(s.size().objects, 1);
    }

    #[test]
    fn a_pod_of_a_replicaset_of_a_tracked_deployment_changes_that_apps_tree() {
        let mut s = Store::new(TrackingMethod::Label);
        let deploy_id = StreamId::tracked("apps", "Deployment");
        let rs_id = StreamId::children("apps", "ReplicaSet");
        let pod_id = StreamId::children("", "Pod");
        s.add_stream(deploy_id.clone(), rtype("apps", "Deployment"));
        s.add_stream(rs_id.clone(), rtype("apps", "ReplicaSet"));
        s.add_stream(pod_id.clone(), rtype("", "Pod"));
        for id in [&deploy_id, &rs_id, &pod_id] {
            s.begin_list(id);
            s.end_list(id);
        }
        s.add_child_namespaces(["web".to_string()]);
        let obj = |kind: &str, name: &str, uid: &str, owner: Option<&str>, app: Option<&str>| {
            let mut v = json!({"kind": kind, "metadata": {
                "name": name, "namespace": "web", "uid": uid, "resourceVersion": "5"}});
            if let Some(o) = owner {
                v["metadata"]["ownerReferences"] = json!([{"uid": o}]);
            }
            if let Some(a) = app {
                v["metadata"]["labels"] = json!({INSTANCE_LABEL: a});
            }
            v
        };
        // The ReplicaSet may arrive before its Deployment.
        let c = s.apply(&rs_id, obj("ReplicaSet", "web-1", "rs", Some("d"), None));
        assert!(c.apps.is_empty() && c.trees.is_empty());
        let c = s.apply(
            &deploy_id,
            obj("Deployment", "web", "d", None, Some("shop")),
        );
        assert_eq!(c.apps.len(), 1);
        let c = s.apply(&pod_id, obj("Pod", "web-1-x", "p", Some("rs"), None));
        assert!(c.apps.is_empty(), "a Pod does not change the comparison");
        assert_eq!(c.trees, ["shop".to_string()].into_iter().collect());
        let c = s.delete(&pod_id, "web", "web-1-x", 6);
        assert_eq!(c.trees, ["shop".to_string()].into_iter().collect());
        // A Pod nobody of ours owns changes no tree.
        let c = s.apply(&pod_id, obj("Pod", "other", "q", Some("nobody"), None));
        assert!(c.trees.is_empty());
    }

    #[test]
    fn moving_an_object_between_apps_reports_both() {
        let mut s = Store::new(TrackingMethod::Label);
        let id = wide("ConfigMap");
        s.add_stream(id.clone(), rtype("", "ConfigMap"));
        s.begin_list(&id);
        s.end_list(&id);
        s.apply(&id, cm("a", Some("one"), 1));
        let mut moved = cm("a", Some("two"), 2);
        moved["metadata"]["annotations"] = json!({});
        let change = s.apply(&id, moved);
        assert_eq!(
            change.apps,
            ["one", "two"].iter().map(|s| s.to_string()).collect()
        );
        assert!(s.tracked_by("one").is_empty());
        assert_eq!(s.tracked_by("two").len(), 1);
    }

    #[test]
    fn children_are_found_by_owner_uid_in_our_namespaces_only() {
        let mut s = Store::new(TrackingMethod::AnnotationAndLabel);
        let pods = StreamId::children("", "Pod");
        s.add_stream(pods.clone(), rtype("", "Pod"));
        assert!(s.add_child_namespaces(["ns".to_string()]));
        assert!(!s.add_child_namespaces(["ns".to_string()]));
        s.begin_list(&pods);
        // Elsewhere: dropped on arrival.
        s.list_apply(
            &pods,
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p3", "namespace": "other", "uid": "p3",
                "ownerReferences": [{"uid": "rs-1"}]}}),
        );
        s.list_apply(
            &pods,
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1", "namespace": "ns",
                "uid": "p1", "ownerReferences": [{"uid": "rs-1", "controller": true}]}}),
        );
        s.list_apply(
            &pods,
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p2", "namespace": "ns", "uid": "p2"}}),
        );
        s.end_list(&pods);
        assert_eq!(s.children("rs-1").len(), 1);
        assert!(s
            .get(&("".into(), "Pod".into(), "ns".into(), "p2".into()))
            .is_some());
        s.remove_stream(&pods);
        assert!(s.children("rs-1").is_empty());
        assert_eq!(s.size(), StoreSize::default());
    }

    #[test]
    fn secret_values_are_hashed_and_interrupted_streams_are_not_synced() {
        let mut s = Store::new(TrackingMethod::AnnotationAndLabel);
        let id = wide("Secret");
        s.add_stream(id.clone(), rtype("", "Secret"));
        s.begin_list(&id);
        s.list_apply(
            &id,
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "ns",
                "labels": {INSTANCE_LABEL: "web"}}, "data": {"password": "aHVudGVyMg=="}}),
        );
        s.end_list(&id);
        let live = s
            .get(&("".into(), "Secret".into(), "ns".into(), "s".into()))
            .unwrap();
        let text = live.to_string();
        assert!(!text.contains("aHVudGVyMg=="), "{text}");
        let mut desired =
            json!({"apiVersion": "v1", "kind": "Secret", "data": {"password": "aHVudGVyMg=="}});
        hash_secret_values(&mut desired);
        assert_eq!(desired["data"], live["data"]);
        s.interrupted(&id);
        assert!(!s.synced());
        assert_eq!(s.unsynced(), vec![id]);
    }
}
