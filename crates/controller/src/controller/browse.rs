//! What pages and the API read beyond an Application's status: one
//! resource in detail (live, desired, diff, events), the clusters with their
//! caches, the repositories, commit subjects, the stream of status changes;
//! and the person-driven actions that go with them (hard refresh, delete,
//! a selective sync's selection).

use serde_json::Value;

use super::*;
use crate::views::{
    CacheView, DiffLine, EventView, OperationView, RepositoryView, ResourceDetail, ResourceView,
    RevisionView, SyncRequest,
};

/// How long a page waits for a cluster's answer (events, a live object the
/// cache does not hold, discovery).
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// The key of one resource in an Application's per-resource maps.
pub(crate) fn resource_key(group: &str, kind: &str, namespace: &str, name: &str) -> String {
    format!("{group}/{kind}/{namespace}/{name}")
}

fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

/// One entry of a selection: `group:kind:name` or `group:kind:namespace/name`.
fn parse_selection(entry: &str) -> Option<(&str, &str, Option<&str>, &str)> {
    let mut parts = entry.splitn(3, ':');
    let (group, kind, rest) = (parts.next()?, parts.next()?, parts.next()?);
    if kind.is_empty() || rest.is_empty() {
        return None;
    }
    Some(match rest.split_once('/') {
        Some((ns, name)) if !name.is_empty() => (group, kind, Some(ns), name),
        Some(_) => return None,
        None => (group, kind, None, rest),
    })
}

/// The manifests a selective sync applies: those `request.resources` names,
/// each of which must be one of the Application's. Pruning cannot go with a
/// selection (it would prune everything left out).
pub(crate) fn select(
    app: &str,
    dest_ns: &str,
    all: Vec<Manifest>,
    request: &SyncRequest,
) -> Result<Vec<Manifest>, ControllerError> {
    if request.prune == Some(true) {
        return Err(ControllerError::Invalid(format!(
            "application {app:?}: prune cannot go with a resource selection (a selective sync prunes nothing); sync without a selection to prune"
        )));
    }
    let mut wanted = Vec::new();
    for entry in &request.resources {
        let Some(sel) = parse_selection(entry) else {
            return Err(ControllerError::Invalid(format!(
                "application {app:?}: resource {entry:?} is not GROUP:KIND:NAME or GROUP:KIND:NAMESPACE/NAME (the core group is empty, e.g. :ConfigMap:settings)"
            )));
        };
        wanted.push((entry, sel, false));
    }
    let mut out = Vec::new();
    for m in all {
        let group = group_of(m.api_version().unwrap_or_default());
        let (kind, name) = (m.kind().unwrap_or_default(), m.name().unwrap_or_default());
        let ns = match m.namespace().unwrap_or_default() {
            "" => dest_ns,
            ns => ns,
        };
        let mut hit = false;
        for (_, (g, k, n, nm), found) in wanted.iter_mut() {
            if *g == group && *k == kind && *nm == name && n.is_none_or(|n| n == ns) {
                *found = true;
                hit = true;
            }
        }
        if hit {
            out.push(m);
        }
    }
    if let Some((entry, _, _)) = wanted.iter().find(|(_, _, found)| !found) {
        return Err(ControllerError::Invalid(format!(
            "application {app:?} has no resource {entry:?} in its desired manifests"
        )));
    }
    Ok(out)
}

/// The side-by-side rows of a unified diff: context on both sides, removed
/// lines on the left (live), added lines on the right (desired), paired up.
pub fn side_by_side(unified: &str) -> Vec<DiffLine> {
    let mut out = Vec::new();
    let (mut left, mut right): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    let flush = |out: &mut Vec<DiffLine>, left: &mut Vec<String>, right: &mut Vec<String>| {
        let n = left.len().max(right.len());
        for i in 0..n {
            let (l, r) = (left.get(i).cloned(), right.get(i).cloned());
            let tag = match (&l, &r) {
                (Some(_), Some(_)) => "change",
                (Some(_), None) => "delete",
                _ => "insert",
            };
            out.push(DiffLine {
                tag: tag.into(),
                left: l.unwrap_or_default(),
                right: r.unwrap_or_default(),
            });
        }
        left.clear();
        right.clear();
    };
    for line in unified.lines() {
        if line.starts_with("---") || line.starts_with("+++") {
            continue;
        }
        if line.starts_with("@@") {
            flush(&mut out, &mut left, &mut right);
            out.push(DiffLine {
                tag: "hunk".into(),
                left: line.to_string(),
                right: String::new(),
            });
        } else if let Some(l) = line.strip_prefix('-') {
            left.push(l.to_string());
        } else if let Some(r) = line.strip_prefix('+') {
            right.push(r.to_string());
        } else {
            flush(&mut out, &mut left, &mut right);
            let text = line.strip_prefix(' ').unwrap_or(line).to_string();
            out.push(DiffLine {
                tag: "equal".into(),
                left: text.clone(),
                right: text,
            });
        }
    }
    flush(&mut out, &mut left, &mut right);
    out
}

fn to_yaml(v: &Value) -> String {
    serde_yaml_ng::to_string(v).unwrap_or_else(|_| v.to_string())
}

/// A live object as a page shows it: no managedFields, no last-applied
/// annotation, Secret values replaced.
fn presentable(mut obj: Value) -> Value {
    flotilla_sync::cache::store::trim(&mut obj);
    flotilla_sync::diff::mask_secret(&mut obj);
    obj
}

impl Controller {
    /// Names of Applications whose status changed, as they change (a
    /// lagging receiver should reload everything).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<String> {
        self.inner.changes.subscribe()
    }

    /// The subject line of `commit` (the first, for several sources) in
    /// `repo`, from the Git cache; `None` when not known. Remembered.
    pub fn commit_subject(&self, repo: &str, commit: &str) -> Option<String> {
        let commit = commit.split(',').next()?.trim();
        if commit.len() != 40 || repo.is_empty() {
            return None;
        }
        let key = format!("{repo}@{commit}");
        if let Some(s) = lock(&self.inner.subjects).get(&key) {
            return Some(s.clone());
        }
        let id: flotilla_git::CommitId = commit.parse().ok()?;
        let subject = self.inner.resolver.cache().commit_subject(repo, id)?;
        let mut memo = lock(&self.inner.subjects);
        if memo.len() > 10_000 {
            memo.clear();
        }
        memo.insert(key, subject.clone());
        Some(subject)
    }

    /// One resource of an Application (managed, or a child from the tree):
    /// its live and desired objects (Secret values masked), the last
    /// comparison's diff, its events and, for a Pod, its containers.
    pub async fn resource(
        &self,
        app: &str,
        group: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<ResourceDetail, ControllerError> {
        let key = resource_key(group, kind, namespace, name);
        let (application, desired, diff, status) = {
            let state = lock(&self.inner.state);
            let e = state
                .apps
                .get(app)
                .ok_or_else(|| ControllerError::NotFound(app.to_string()))?;
            // Manifests without a namespace go to the destination's.
            let dest_ns = e
                .app
                .spec
                .destination
                .namespace
                .as_deref()
                .unwrap_or_default();
            let desired = e.rendered.as_ref().and_then(|r| {
                r.manifests.iter().find(|m| {
                    let ns = m.namespace().unwrap_or_default();
                    group_of(m.api_version().unwrap_or_default()) == group
                        && m.kind() == Some(kind)
                        && m.name() == Some(name)
                        && (ns == namespace || (ns.is_empty() && namespace == dest_ns))
                })
            });
            let status = e.view.resources.iter().find(|r| {
                r.group == group && r.kind == kind && r.namespace == namespace && r.name == name
            });
            (
                e.app.clone(),
                desired.map(|m| m.clone().into_value()),
                e.diffs.get(&key).cloned().unwrap_or_default(),
                status.cloned(),
            )
        };
        let mut detail = ResourceDetail {
            group: group.to_string(),
            kind: kind.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
            status: status
                .as_ref()
                .map(|s| s.status.clone())
                .unwrap_or_default(),
            health: status.as_ref().and_then(|s| s.health.clone()),
            side_by_side: side_by_side(&diff),
            diff,
            ..ResourceDetail::default()
        };
        let live = self
            .live_object(&application, group, kind, namespace, name)
            .await;
        let mut desired = desired;
        if let Some(d) = desired.as_mut() {
            flotilla_sync::diff::mask_secret(d);
            detail.desired = to_yaml(d);
        }
        if let Some(live) = live {
            if detail.health.is_none() {
                detail.health =
                    flotilla_sync::health::assess(&live).map(|h| h.status.as_str().to_string());
            }
            if kind == "Pod" && group.is_empty() {
                detail.info = flotilla_sync::tree::pod_info(&live);
            }
            detail.live = to_yaml(&presentable(live));
        }
        detail.events = self
            .events(&application, kind, namespace, name)
            .await
            .unwrap_or_default();
        Ok(detail)
    }

    /// The live object, from the cluster cache when it holds it, else read.
    async fn live_object(
        &self,
        app: &Application,
        group: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Option<Value> {
        let engine = &self.inner.engine;
        let conn = engine.cluster_for(app).await.ok()?;
        let key: flotilla_sync::cache::ObjKey = (
            group.to_string(),
            kind.to_string(),
            namespace.to_string(),
            name.to_string(),
        );
        if let Ok(Some(cache)) = engine.cache_for(&conn).await {
            if let Some(v) = cache.get(&key) {
                return Some(v);
            }
        }
        let read = async {
            let disc = conn.discovery().await.ok()?;
            let rt = disc.any_version(group, kind)?.clone();
            let api: kube::Api<kube::api::DynamicObject> = if rt.namespaced {
                kube::Api::namespaced_with(conn.client().clone(), namespace, &rt.api_resource)
            } else {
                kube::Api::all_with(conn.client().clone(), &rt.api_resource)
            };
            let obj = api.get_opt(name).await.ok()??;
            serde_json::to_value(obj).ok()
        };
        tokio::time::timeout(LOOKUP_TIMEOUT, read)
            .await
            .ok()
            .flatten()
    }

    /// Events about one object, oldest first.
    async fn events(
        &self,
        app: &Application,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Option<Vec<EventView>> {
        use k8s_openapi::api::core::v1::Event;
        let conn = self.inner.engine.cluster_for(app).await.ok()?;
        let api: kube::Api<Event> = if namespace.is_empty() {
            kube::Api::all(conn.client().clone())
        } else {
            kube::Api::namespaced(conn.client().clone(), namespace)
        };
        let params = kube::api::ListParams::default().fields(&format!(
            "involvedObject.kind={kind},involvedObject.name={name}"
        ));
        let list = tokio::time::timeout(LOOKUP_TIMEOUT, api.list(&params))
            .await
            .ok()?
            .ok()?;
        let mut events: Vec<EventView> = list
            .items
            .into_iter()
            .map(|e| {
                let last = e
                    .last_timestamp
                    .map(|t| t.0.to_string())
                    .or_else(|| e.event_time.map(|t| t.0.to_string()))
                    .unwrap_or_default();
                EventView {
                    kind: e.type_.unwrap_or_default(),
                    reason: e.reason.unwrap_or_default(),
                    message: e.message.unwrap_or_default(),
                    count: i64::from(e.count.unwrap_or(1)),
                    last_seen: last,
                }
            })
            .collect();
        events.sort_by(|a, b| a.last_seen.cmp(&b.last_seen));
        Some(events)
    }

    /// The clusters with what is known of each: labels, Kubernetes
    /// version, whether its cache is complete, and the cache's size.
    pub async fn cluster_details(&self) -> Vec<ClusterView> {
        let mut views = self.clusters();
        let caches = self.inner.engine.caches();
        for v in &mut views {
            if let Some(c) = self.inner.clusters.iter().find(|c| c.name == v.name) {
                v.labels = c.labels.clone();
            }
            let cache = caches.iter().find(|c| c.cluster() == v.name);
            if let Some(cache) = cache {
                let s = cache.stats();
                v.state = if s.synced { "Connected" } else { "Connecting" }.into();
                v.cache = Some(CacheView {
                    objects: s.objects,
                    bytes: s.bytes,
                    watches: s.watches,
                    synced: s.synced,
                });
                let version = async {
                    let conn = self.inner.engine.registry().by_name(&v.name).await.ok()?;
                    let disc = conn.discovery().await.ok()?;
                    disc.server_version().map(str::to_string)
                };
                v.version = tokio::time::timeout(LOOKUP_TIMEOUT, version)
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_default();
            } else {
                v.state = "Unknown".into();
            }
        }
        views
    }

    /// The Git repositories Applications read, each with the revisions
    /// asked for, what they resolved to and the last fetch error.
    pub fn repository_views(&self) -> Vec<RepositoryView> {
        let mut repos: BTreeMap<String, RepositoryView> = BTreeMap::new();
        let mut pairs: Vec<(String, String, String)> = Vec::new();
        {
            let state = lock(&self.inner.state);
            for e in state.apps.values() {
                let sources = e.app.sources();
                let commits: Vec<&str> = e.view.revision.split(',').collect();
                for (i, s) in sources.iter().enumerate() {
                    let Some(url) = s.repo_url.clone().filter(|_| !s.is_helm_chart()) else {
                        continue;
                    };
                    let revision = s.target_revision.clone().unwrap_or_else(|| "HEAD".into());
                    let commit = commits.get(i).copied().unwrap_or_default().to_string();
                    pairs.push((url.clone(), revision, commit));
                    repos
                        .entry(url.clone())
                        .or_insert_with(|| RepositoryView {
                            url,
                            ..RepositoryView::default()
                        })
                        .applications += 1;
                }
            }
            for url in &state.generator_repos {
                repos.entry(url.clone()).or_insert_with(|| RepositoryView {
                    url: url.clone(),
                    ..RepositoryView::default()
                });
            }
            for (url, error) in &state.repo_errors {
                if let Some(r) = repos.get_mut(url) {
                    r.error = Some(error.clone());
                }
            }
        }
        let mut seen = BTreeSet::new();
        for (url, revision, commit) in pairs {
            if !seen.insert((url.clone(), revision.clone(), commit.clone())) {
                continue;
            }
            let subject = self.commit_subject(&url, &commit).unwrap_or_default();
            if let Some(r) = repos.get_mut(&url) {
                r.revisions.push(RevisionView {
                    revision,
                    commit,
                    subject,
                });
            }
        }
        repos.into_values().collect()
    }

    /// Runs `f` on one Application's status without copying it (for
    /// readers that need a few fields of it often, such as live pages).
    pub fn with_application<R>(&self, name: &str, f: impl FnOnce(&AppView) -> R) -> Option<R> {
        lock(&self.inner.state).apps.get(name).map(|e| f(&e.view))
    }

    /// Changes on the Applications' clusters, as the caches see them (a
    /// page showing a resource tree reloads it on these).
    pub fn cluster_events(&self) -> tokio::sync::broadcast::Receiver<flotilla_sync::CacheEvent> {
        self.inner.engine.cache_events()
    }

    /// One operation of an Application's history, with its per-resource
    /// results.
    pub fn operation(&self, name: &str, id: i64) -> Result<OperationView, ControllerError> {
        self.inner
            .store
            .entry(name, id)?
            .map(|e| e.view(true))
            .ok_or_else(|| ControllerError::NoSuchEntry {
                app: name.to_string(),
                id,
            })
    }

    /// What a rollback to history entry `id` would change: the Application
    /// rendered at that entry's commits, compared with its cluster (each
    /// resource with its diff; Secret values masked). Changes nothing.
    pub async fn rollback_preview(
        &self,
        name: &str,
        id: i64,
    ) -> Result<Vec<(ResourceView, String)>, ControllerError> {
        if !lock(&self.inner.state).apps.contains_key(name) {
            return Err(ControllerError::NotFound(name.to_string()));
        }
        let app = self.pinned_app(name, id)?;
        let (desired, _, _) = self.fresh_desired(&app).await;
        let status = self
            .inner
            .engine
            .compare(&app, desired)
            .await
            .map_err(|e| ControllerError::Failed(format!("application {name:?}: {e}")))?;
        Ok(status
            .resources
            .iter()
            .map(|r| (resource_view(r), r.diff.clone().unwrap_or_default()))
            .collect())
    }

    /// Argo CD's hard refresh: forgets the rendered manifests and the last
    /// comparison of `name`, then refreshes it (fetch, render, compare).
    pub fn hard_refresh(&self, name: &str) -> Result<(), ControllerError> {
        {
            let mut state = lock(&self.inner.state);
            let e = state
                .apps
                .get_mut(name)
                .ok_or_else(|| ControllerError::NotFound(name.to_string()))?;
            e.rendered = None;
            e.quiet = None;
        }
        self.refresh(name)
    }

    /// Deletes an Application, and with `cascade` every resource it tracks
    /// on its cluster (the deletion runs in the background, as Argo CD's
    /// background cascade does). An Application whose definition is still
    /// in Git comes back at the next refresh of its source, as a parent
    /// Application or ApplicationSet would recreate it in Argo CD.
    pub fn delete_application(&self, name: &str, cascade: bool) -> Result<(), ControllerError> {
        let entry = {
            let mut state = lock(&self.inner.state);
            match state.apps.get(name) {
                None => return Err(ControllerError::NotFound(name.to_string())),
                Some(e) if e.syncing => return Err(ControllerError::Busy(name.to_string())),
                Some(_) => {}
            }
            state.apps.remove(name)
        };
        let Some(entry) = entry else {
            return Err(ControllerError::NotFound(name.to_string()));
        };
        tracing::info!(app = %name, cascade, "application deleted by a person");
        self.inner.store.delete_app(name)?;
        let _ = self.inner.changes.send(name.to_string());
        if cascade {
            let c = self.clone();
            tokio::spawn(async move { c.delete_resources(entry.app).await });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(api: &str, kind: &str, ns: &str, name: &str) -> Manifest {
        Manifest::from_value(serde_json::json!({
            "apiVersion": api, "kind": kind,
            "metadata": {"name": name, "namespace": ns}
        }))
        .unwrap()
    }

    #[test]
    fn a_selection_keeps_what_it_names_and_refuses_what_is_not_there() {
        let all = vec![
            manifest("apps/v1", "Deployment", "a", "web"),
            manifest("v1", "Service", "a", "web"),
            manifest("v1", "ConfigMap", "b", "web"),
        ];
        let req = |r: &[&str]| SyncRequest {
            resources: r.iter().map(|s| s.to_string()).collect(),
            ..SyncRequest::default()
        };
        let got = select("x", "b", all.clone(), &req(&["apps:Deployment:web"])).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].kind(), Some("Deployment"));
        let got = select(
            "x",
            "b",
            all.clone(),
            &req(&[":ConfigMap:b/web", ":Service:web"]),
        )
        .unwrap();
        assert_eq!(got.len(), 2);
        let e = select("x", "b", all.clone(), &req(&[":ConfigMap:a/web"])).unwrap_err();
        assert!(e.to_string().contains(":ConfigMap:a/web"), "{e}");
        let e = select("x", "b", all.clone(), &req(&["Deployment/web"])).unwrap_err();
        assert!(e.to_string().contains("GROUP:KIND:NAME"), "{e}");
        let mut pruning = req(&["apps:Deployment:web"]);
        pruning.prune = Some(true);
        assert!(select("x", "b", all, &pruning).is_err());
    }

    #[test]
    fn side_by_side_pairs_removed_and_added_lines() {
        let unified =
            "--- live/x\n+++ desired/x\n@@ -1,3 +1,3 @@\n a: 1\n-b: 2\n+b: 3\n+c: 4\n d: 5\n";
        let rows = side_by_side(unified);
        let tags: Vec<&str> = rows.iter().map(|r| r.tag.as_str()).collect();
        assert_eq!(tags, ["hunk", "equal", "change", "insert", "equal"]);
        assert_eq!(rows[2].left, "b: 2");
        assert_eq!(rows[2].right, "b: 3");
        assert_eq!(rows[3].right, "c: 4");
    }
}
