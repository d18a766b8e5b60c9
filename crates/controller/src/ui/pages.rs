//! The pages: handlers that read the controller and fill templates.
//! Every action is a plain form (CSRF-checked), so the UI works with
//! JavaScript off; `ui.js` only adds live updates.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::auth::Viewer;
use super::Ui;
use crate::controller::ControllerError;
use crate::views::{
    AppSetView, AppView, ClusterView, DiffLine, EventView, OperationView, RepositoryView,
};
use flotilla_sync::tree::{NodeInfo, ResourceTree};

/// Rows on one page of the Applications list.
pub const PAGE_SIZE: usize = 100;

/// Encodes a query-string component (or a path segment of ours: names are
/// DNS labels).
pub fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A revision as pages show it: commits shortened to 7 characters.
pub fn short(rev: &str) -> String {
    rev.split(',')
        .map(|r| if r.len() == 40 { &r[..7] } else { r })
        .collect::<Vec<_>>()
        .join(",")
}

/// When the last operation ended (or started, while it runs).
pub fn last_sync(op: Option<&OperationView>) -> String {
    op.map(|o| {
        if o.finished_at.is_empty() {
            o.started_at.clone()
        } else {
            o.finished_at.clone()
        }
    })
    .unwrap_or_default()
}

/// An error page with a status.
pub(super) fn error_page(viewer: &Viewer, code: StatusCode, message: String) -> Response {
    let page = ErrorPage {
        viewer_name: Some(viewer.user.clone()),
        csrf: viewer.csrf.clone(),
        code: code.as_u16(),
        message,
    };
    (code, render(&page)).into_response()
}

pub(super) fn controller_error(viewer: &Viewer, e: ControllerError) -> Response {
    let code = match &e {
        ControllerError::NotFound(_) | ControllerError::NoSuchEntry { .. } => StatusCode::NOT_FOUND,
        ControllerError::Busy(_) => StatusCode::CONFLICT,
        ControllerError::Invalid(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error_page(viewer, code, e.to_string())
}

pub(super) fn render<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering a page");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered",
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    viewer_name: Option<String>,
    csrf: String,
    code: u16,
    message: String,
}

// ----- Applications --------------------------------------------------------

/// The filters of the Applications page, all in the URL.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct AppsQuery {
    /// Search: part of the name, repository, path or cluster.
    pub q: String,
    /// Sync status.
    pub sync: String,
    /// Health.
    pub health: String,
    /// Cluster.
    pub cluster: String,
    /// Namespace.
    pub namespace: String,
    /// Project.
    pub project: String,
    /// `key=value` or `key`.
    pub label: String,
    /// ApplicationSet.
    pub appset: String,
    /// `list` (default) or `tiles`.
    pub view: String,
    /// Page, from 1.
    pub page: Option<usize>,
}

impl AppsQuery {
    fn matches(&self, a: &AppView) -> bool {
        let eq = |want: &str, have: &str| want.is_empty() || want == have;
        if !(eq(&self.sync, &a.sync)
            && eq(&self.health, &a.health)
            && eq(&self.cluster, &a.cluster)
            && eq(&self.namespace, &a.namespace)
            && eq(&self.project, &a.project)
            && eq(&self.appset, a.app_set.as_deref().unwrap_or_default()))
        {
            return false;
        }
        if !self.label.is_empty() {
            let ok = match self.label.split_once('=') {
                Some((k, v)) => a.labels.get(k.trim()).is_some_and(|x| x == v.trim()),
                None => a.labels.contains_key(self.label.trim()),
            };
            if !ok {
                return false;
            }
        }
        let q = self.q.trim().to_lowercase();
        q.is_empty()
            || [&a.name, &a.repo, &a.path, &a.cluster, &a.namespace]
                .iter()
                .any(|f| f.to_lowercase().contains(&q))
    }

    /// The query string with one field replaced (`page` reset unless it is the field).
    fn with(&self, field: &str, value: &str) -> String {
        let mut pairs: Vec<(&str, String)> = vec![
            ("q", self.q.clone()),
            ("sync", self.sync.clone()),
            ("health", self.health.clone()),
            ("cluster", self.cluster.clone()),
            ("namespace", self.namespace.clone()),
            ("project", self.project.clone()),
            ("label", self.label.clone()),
            ("appset", self.appset.clone()),
            ("view", self.view.clone()),
        ];
        for p in pairs.iter_mut() {
            if p.0 == field {
                p.1 = value.to_string();
            }
        }
        if field == "page" {
            pairs.push(("page", value.to_string()));
        }
        let parts: Vec<String> = pairs
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", enc(&v)))
            .collect();
        if parts.is_empty() {
            "/applications".into()
        } else {
            format!("/applications?{}", parts.join("&"))
        }
    }
}

/// One Application as a row or a tile.
struct AppRow {
    name: String,
    href: String,
    sync: String,
    health: String,
    revision: String,
    subject: String,
    cluster: String,
    region: String,
    namespace: String,
    project: String,
    appset: String,
    last_sync: String,
    operation: String,
}

struct Choice {
    value: String,
    selected: bool,
}

struct Select {
    name: &'static str,
    label: &'static str,
    choices: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "apps.html")]
struct AppsPage {
    viewer_name: Option<String>,
    csrf: String,
    query: AppsQuery,
    selects: Vec<Select>,
    rows: Vec<AppRow>,
    tiles: bool,
    total: usize,
    matched: usize,
    page: usize,
    pages: usize,
    prev: Option<String>,
    next: Option<String>,
    list_href: String,
    tiles_href: String,
    counts: Vec<(String, usize)>,
    problems: Vec<String>,
}

fn choices(values: BTreeSet<String>, selected: &str) -> Vec<Choice> {
    values
        .into_iter()
        .filter(|v| !v.is_empty())
        .map(|v| Choice {
            selected: v == selected,
            value: v,
        })
        .collect()
}

fn app_row(ui: &Ui, a: &AppView, regions: &BTreeMap<String, String>) -> AppRow {
    AppRow {
        href: format!("/applications/{}", enc(&a.name)),
        sync: a.sync.clone(),
        health: a.health.clone(),
        revision: short(&a.revision),
        subject: ui
            .controller
            .commit_subject(&a.repo, &a.revision)
            .unwrap_or_default(),
        region: regions.get(&a.cluster).cloned().unwrap_or_default(),
        cluster: a.cluster.clone(),
        namespace: a.namespace.clone(),
        project: a.project.clone(),
        appset: a.app_set.clone().unwrap_or_default(),
        last_sync: last_sync(a.operation.as_ref()),
        operation: a
            .operation
            .as_ref()
            .map(|o| o.phase.clone())
            .unwrap_or_default(),
        name: a.name.clone(),
    }
}

/// `GET /applications`.
pub async fn applications(
    State(ui): State<Ui>,
    viewer: Viewer,
    Query(query): Query<AppsQuery>,
) -> Response {
    let apps = ui.controller.applications();
    let total = apps.len();
    let mut sets: [BTreeSet<String>; 7] = Default::default();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut matched: Vec<&AppView> = Vec::new();
    for a in &apps {
        sets[0].insert(a.sync.clone());
        sets[1].insert(a.health.clone());
        sets[2].insert(a.cluster.clone());
        sets[3].insert(a.namespace.clone());
        sets[4].insert(a.project.clone());
        sets[5].extend(a.app_set.clone());
        sets[6].extend(a.labels.iter().map(|(k, v)| format!("{k}={v}")));
        if query.matches(a) {
            *counts.entry(a.sync.clone()).or_default() += 1;
            *counts.entry(a.health.clone()).or_default() += 1;
            matched.push(a);
        }
    }
    // The `region` label of each cluster, shown next to it.
    let regions: BTreeMap<String, String> = ui
        .controller
        .clusters()
        .into_iter()
        .filter_map(|c| Some((c.name, c.labels.get("region")?.clone())))
        .collect();
    let pages = matched.len().div_ceil(PAGE_SIZE).max(1);
    let page = query.page.unwrap_or(1).clamp(1, pages);
    let rows: Vec<AppRow> = matched
        .iter()
        .skip((page - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .map(|a| app_row(&ui, a, &regions))
        .collect();
    let [sync, health, cluster, namespace, project, appset, label] = sets;
    let selects = [
        ("sync", "Sync", sync, &query.sync),
        ("health", "Health", health, &query.health),
        ("cluster", "Cluster", cluster, &query.cluster),
        ("namespace", "Namespace", namespace, &query.namespace),
        ("project", "Project", project, &query.project),
        ("label", "Label", label, &query.label),
        ("appset", "ApplicationSet", appset, &query.appset),
    ]
    .into_iter()
    .map(|(name, label, values, selected)| Select {
        name,
        label,
        choices: choices(values, selected),
    })
    .collect();
    let page_href = |p: usize| query.with("page", &p.to_string());
    let view = AppsPage {
        viewer_name: Some(viewer.user.clone()),
        csrf: viewer.csrf.clone(),
        tiles: query.view == "tiles",
        selects,
        total,
        matched: matched.len(),
        page,
        pages,
        prev: (page > 1).then(|| page_href(page - 1)),
        next: (page < pages).then(|| page_href(page + 1)),
        list_href: query.with("view", ""),
        tiles_href: query.with("view", "tiles"),
        counts: counts.into_iter().collect(),
        problems: ui.controller.problems(),
        rows,
        query,
    };
    render(&view)
}

// ----- One Application -------------------------------------------------------

/// One node of the tree as the page draws it.
struct NodeRow {
    depth: usize,
    kind: String,
    name: String,
    namespace: String,
    href: String,
    health: String,
    sync: String,
    info: Vec<NodeInfo>,
    children: usize,
}

/// A managed resource and what it owns, drawn as one foldable block.
struct RootBlock {
    row: NodeRow,
    descendants: Vec<NodeRow>,
}

/// The tree as the page draws it: a count per kind, then each managed
/// resource with its descendants (folded when the tree is large).
#[derive(Default)]
struct TreeView {
    kinds: Vec<(String, usize)>,
    roots: Vec<RootBlock>,
    open: bool,
    error: String,
}

/// Above this many nodes, the blocks start folded.
const UNFOLDED_NODES: usize = 300;

#[derive(Template)]
#[template(path = "app.html")]
struct AppPage {
    viewer_name: Option<String>,
    csrf: String,
    can_write: bool,
    app: AppView,
    href: String,
    revision: String,
    subject: String,
    tree: TreeView,
    operation: Option<OperationView>,
    history: Vec<OperationView>,
}

#[derive(Template)]
#[template(path = "tree.html")]
struct TreeFragment {
    tree: TreeView,
}

fn tree_view(app: &str, tree: &ResourceTree) -> TreeView {
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut roots: Vec<RootBlock> = Vec::new();
    let walk = tree.walk();
    let nodes = walk.len();
    for (depth, n) in walk {
        *kinds.entry(n.kind.clone()).or_default() += 1;
        let row = NodeRow {
            depth,
            href: format!(
                "/applications/{}/resource?group={}&kind={}&namespace={}&name={}",
                enc(app),
                enc(&n.group),
                enc(&n.kind),
                enc(&n.namespace),
                enc(&n.name)
            ),
            kind: n.kind.clone(),
            name: n.name.clone(),
            namespace: n.namespace.clone(),
            health: n
                .health
                .as_ref()
                .map(|h| h.status.as_str().to_string())
                .unwrap_or_default(),
            sync: n.sync.clone().unwrap_or_default(),
            info: n.info.clone(),
            children: n.children.len(),
        };
        match (depth, roots.last_mut()) {
            (0, _) | (_, None) => roots.push(RootBlock {
                row,
                descendants: Vec::new(),
            }),
            (_, Some(root)) => root.descendants.push(row),
        }
    }
    TreeView {
        kinds: kinds.into_iter().collect(),
        roots,
        open: nodes <= UNFOLDED_NODES,
        error: String::new(),
    }
}

async fn tree_of(ui: &Ui, name: &str) -> TreeView {
    match ui.controller.tree(name).await {
        Ok(t) => tree_view(name, &t),
        Err(e) => TreeView {
            error: e.to_string(),
            ..TreeView::default()
        },
    }
}

/// `GET /applications/{name}`.
pub async fn application(
    State(ui): State<Ui>,
    viewer: Viewer,
    Path(name): Path<String>,
) -> Response {
    let Some(app) = ui.controller.application(&name) else {
        return controller_error(&viewer, ControllerError::NotFound(name));
    };
    let tree = tree_of(&ui, &name).await;
    let history = ui.controller.history(&name).unwrap_or_default();
    let operation = app
        .operation
        .as_ref()
        .and_then(|o| ui.controller.operation(&name, o.id).ok())
        .or_else(|| app.operation.clone());
    let page = AppPage {
        viewer_name: Some(viewer.user.clone()),
        csrf: viewer.csrf.clone(),
        can_write: viewer.can_write,
        href: format!("/applications/{}", enc(&name)),
        revision: short(&app.revision),
        subject: ui
            .controller
            .commit_subject(&app.repo, &app.revision)
            .unwrap_or_default(),
        tree,
        operation,
        history,
        app,
    };
    render(&page)
}

/// `GET /applications/{name}/tree`: the tree alone, for live updates.
pub async fn tree_fragment(
    State(ui): State<Ui>,
    _viewer: Viewer,
    Path(name): Path<String>,
) -> Response {
    let tree = tree_of(&ui, &name).await;
    render(&TreeFragment { tree })
}

/// Which resource: `?group=&kind=&namespace=&name=`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ResourceQuery {
    group: String,
    kind: String,
    namespace: String,
    name: String,
}

#[derive(Template)]
#[template(path = "resource.html")]
struct ResourcePage {
    viewer_name: Option<String>,
    csrf: String,
    app: String,
    app_href: String,
    group: String,
    kind: String,
    namespace: String,
    name: String,
    status: String,
    health: String,
    live: String,
    desired: String,
    diff: String,
    rows: Vec<DiffLine>,
    events: Vec<EventView>,
    info: Vec<NodeInfo>,
}

/// `GET /applications/{name}/resource`.
pub async fn resource(
    State(ui): State<Ui>,
    viewer: Viewer,
    Path(name): Path<String>,
    Query(q): Query<ResourceQuery>,
) -> Response {
    match ui
        .controller
        .resource(&name, &q.group, &q.kind, &q.namespace, &q.name)
        .await
    {
        Err(e) => controller_error(&viewer, e),
        Ok(d) => render(&ResourcePage {
            viewer_name: Some(viewer.user.clone()),
            csrf: viewer.csrf.clone(),
            app_href: format!("/applications/{}", enc(&name)),
            app: name,
            group: d.group,
            kind: d.kind,
            namespace: d.namespace,
            name: d.name,
            status: d.status,
            health: d.health.unwrap_or_default(),
            live: d.live,
            desired: d.desired,
            diff: d.diff,
            rows: d.side_by_side,
            events: d.events,
            info: d.info,
        }),
    }
}

// ----- The other lists -------------------------------------------------------

#[derive(Template)]
#[template(path = "appsets.html")]
struct AppSetsPage {
    viewer_name: Option<String>,
    csrf: String,
    sets: Vec<AppSetBlock>,
}

struct AppSetBlock {
    set: AppSetView,
    generators: Vec<String>,
    rows: Vec<(String, String, String, String, String, String)>,
}

/// `GET /applicationsets`.
pub async fn appsets(State(ui): State<Ui>, viewer: Viewer) -> Response {
    let apps: BTreeMap<String, AppView> = ui
        .controller
        .applications()
        .into_iter()
        .map(|a| (a.name.clone(), a))
        .collect();
    let sets = ui
        .controller
        .application_sets()
        .into_iter()
        .map(|set| {
            let generators = set
                .generators
                .iter()
                .map(|g| serde_yaml_ng::to_string(g).unwrap_or_else(|_| g.to_string()))
                .collect();
            let rows = set
                .parameters
                .iter()
                .map(|p| {
                    let params = p
                        .parameters
                        .iter()
                        .map(|(k, v)| match v {
                            serde_json::Value::String(s) => format!("{k}={s}"),
                            other => format!("{k}={other}"),
                        })
                        .collect::<Vec<_>>()
                        .join("\n");
                    let (sync, health) = apps
                        .get(&p.application)
                        .map(|a| (a.sync.clone(), a.health.clone()))
                        .unwrap_or_default();
                    (
                        p.generator.clone(),
                        p.source.clone(),
                        params,
                        p.application.clone(),
                        sync,
                        health,
                    )
                })
                .collect();
            AppSetBlock {
                set,
                generators,
                rows,
            }
        })
        .collect();
    render(&AppSetsPage {
        viewer_name: Some(viewer.user.clone()),
        csrf: viewer.csrf.clone(),
        sets,
    })
}

#[derive(Template)]
#[template(path = "clusters.html")]
struct ClustersPage {
    viewer_name: Option<String>,
    csrf: String,
    clusters: Vec<ClusterView>,
}

/// `GET /clusters`.
pub async fn clusters(State(ui): State<Ui>, viewer: Viewer) -> Response {
    render(&ClustersPage {
        viewer_name: Some(viewer.user.clone()),
        csrf: viewer.csrf.clone(),
        clusters: ui.controller.cluster_details().await,
    })
}

#[derive(Template)]
#[template(path = "repos.html")]
struct ReposPage {
    viewer_name: Option<String>,
    csrf: String,
    repos: Vec<RepositoryView>,
}

/// `GET /repositories`.
pub async fn repositories(State(ui): State<Ui>, viewer: Viewer) -> Response {
    render(&ReposPage {
        viewer_name: Some(viewer.user.clone()),
        csrf: viewer.csrf.clone(),
        repos: ui.controller.repository_views(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_survive_in_links() {
        let q = AppsQuery {
            sync: "OutOfSync".into(),
            label: "team=a b".into(),
            ..AppsQuery::default()
        };
        assert_eq!(
            q.with("page", "2"),
            "/applications?sync=OutOfSync&label=team%3Da+b&page=2"
        );
        assert_eq!(q.with("sync", ""), "/applications?label=team%3Da+b");
    }
}
