//! The actions: sync (the panel is its confirmation), refresh and hard
//! refresh, rollback (showing what it changes), delete (type the name).
//! Plain forms, each CSRF-checked; a long action runs in the background and
//! the browser goes to the Application's page, where it shows live.

use std::time::Duration;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::auth::Viewer;
use super::pages::{controller_error, enc, render};
use super::Ui;
use crate::controller::ControllerError;
use crate::views::{AppView, DiffLine, OperationView, ResourceView, SyncRequest};

#[derive(Template)]
#[template(path = "sync.html")]
struct SyncPage {
    viewer_name: Option<String>,
    csrf: String,
    app: AppView,
    href: String,
    resources: Vec<(String, ResourceView)>,
}

/// `GET /applications/{name}/sync`: the sync panel (options, a selection of
/// resources), which is also the confirmation.
pub async fn sync_panel(
    State(ui): State<Ui>,
    viewer: Viewer,
    Path(name): Path<String>,
) -> Response {
    let Some(app) = ui.controller.application(&name) else {
        return controller_error(&viewer, ControllerError::NotFound(name));
    };
    let resources = app
        .resources
        .iter()
        .filter(|r| r.status != "Extraneous")
        .map(|r| {
            let ns = if r.namespace.is_empty() {
                String::new()
            } else {
                format!("{}/", r.namespace)
            };
            (format!("{}:{}:{ns}{}", r.group, r.kind, r.name), r.clone())
        })
        .collect();
    render(&SyncPage {
        viewer_name: Some(viewer.user.clone()),
        csrf: viewer.csrf.clone(),
        href: format!("/applications/{}", enc(&name)),
        resources,
        app,
    })
}

/// The sync panel's form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SyncForm {
    csrf: String,
    prune: Option<String>,
    dry_run: Option<String>,
    force: Option<String>,
    resource: Vec<String>,
}

fn parse_sync_form(body: &str) -> SyncForm {
    // Repeated `resource` fields: parsed by hand (serde_urlencoded keeps one).
    let mut f = SyncForm::default();
    for (k, v) in form_pairs(body) {
        match k.as_str() {
            "csrf" => f.csrf = v,
            "prune" => f.prune = Some(v),
            "dry_run" => f.dry_run = Some(v),
            "force" => f.force = Some(v),
            "resource" => f.resource.push(v),
            _ => {}
        }
    }
    f
}

/// Decodes an `application/x-www-form-urlencoded` body, repeated fields kept.
pub fn form_pairs(body: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(body.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Runs `work` in the background; answers its error if it fails within
/// half a second, else sends the browser to the Application's page, where
/// the operation shows live.
async fn start<F>(viewer: &Viewer, href: String, work: F) -> Response
where
    F: std::future::Future<Output = Result<(), ControllerError>> + Send + 'static,
{
    let mut task = tokio::spawn(work);
    match tokio::time::timeout(Duration::from_millis(500), &mut task).await {
        Ok(Ok(Err(e))) => controller_error(viewer, e),
        _ => Redirect::to(&href).into_response(),
    }
}

/// `POST /applications/{name}/sync`.
pub async fn sync(
    State(ui): State<Ui>,
    viewer: Viewer,
    Path(name): Path<String>,
    body: String,
) -> Response {
    let form = parse_sync_form(&body);
    if let Err(r) = ui.auth.check_write(&viewer, &form.csrf) {
        return r;
    }
    let request = SyncRequest {
        prune: form.prune.is_some().then_some(true),
        dry_run: form.dry_run.is_some(),
        force: form.force.is_some(),
        resources: form.resource,
    };
    let href = format!("/applications/{}", enc(&name));
    let who = format!("{} (ui)", viewer.user);
    let c = ui.controller.clone();
    start(&viewer, href, async move {
        c.sync(&name, request, &who).await.map(|_| ())
    })
    .await
}

/// A form with only the CSRF token (and maybe a flag).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ActionForm {
    csrf: String,
    hard: Option<String>,
    prune: Option<String>,
    cascade: String,
    confirm: String,
}

/// `POST /applications/{name}/refresh` (`hard=1` for a hard refresh).
pub async fn refresh(
    State(ui): State<Ui>,
    viewer: Viewer,
    Path(name): Path<String>,
    Form(form): Form<ActionForm>,
) -> Response {
    if let Err(r) = ui.auth.check_write(&viewer, &form.csrf) {
        return r;
    }
    let r = if form.hard.is_some() {
        ui.controller.hard_refresh(&name)
    } else {
        ui.controller.refresh(&name)
    };
    match r {
        Ok(()) => Redirect::to(&format!("/applications/{}", enc(&name))).into_response(),
        Err(e) => controller_error(&viewer, e),
    }
}

#[derive(Template)]
#[template(path = "rollback.html")]
struct RollbackPage {
    viewer_name: Option<String>,
    csrf: String,
    app: String,
    href: String,
    entry: OperationView,
    changes: Vec<(ResourceView, Vec<DiffLine>)>,
    error: String,
}

/// `?id=N`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct IdQuery {
    id: i64,
}

/// `GET /applications/{name}/rollback?id=N`: what a rollback would change,
/// and the confirmation.
pub async fn rollback_panel(
    State(ui): State<Ui>,
    viewer: Viewer,
    Path(name): Path<String>,
    Query(q): Query<IdQuery>,
) -> Response {
    let entry = match ui.controller.operation(&name, q.id) {
        Ok(e) => e,
        Err(e) => return controller_error(&viewer, e),
    };
    let (changes, error) = match ui.controller.rollback_preview(&name, q.id).await {
        Ok(list) => (
            list.into_iter()
                .filter(|(r, _)| r.status != "Synced")
                .map(|(r, d)| (r, crate::controller::side_by_side(&d)))
                .collect(),
            String::new(),
        ),
        Err(e) => (Vec::new(), e.to_string()),
    };
    render(&RollbackPage {
        viewer_name: Some(viewer.user.clone()),
        csrf: viewer.csrf.clone(),
        href: format!("/applications/{}", enc(&name)),
        app: name,
        entry,
        changes,
        error,
    })
}

/// `POST /applications/{name}/rollback?id=N`.
pub async fn rollback(
    State(ui): State<Ui>,
    viewer: Viewer,
    Path(name): Path<String>,
    Query(q): Query<IdQuery>,
    Form(form): Form<ActionForm>,
) -> Response {
    if let Err(r) = ui.auth.check_write(&viewer, &form.csrf) {
        return r;
    }
    let href = format!("/applications/{}", enc(&name));
    let who = format!("{} (ui)", viewer.user);
    let prune = form.prune.is_some();
    let c = ui.controller.clone();
    start(&viewer, href, async move {
        c.rollback(&name, q.id, prune, &who).await.map(|_| ())
    })
    .await
}

#[derive(Template)]
#[template(path = "delete.html")]
struct DeletePage {
    viewer_name: Option<String>,
    csrf: String,
    app: String,
    href: String,
    error: String,
}

/// `GET /applications/{name}/delete`: the confirmation (type the name).
pub async fn delete_panel(
    State(ui): State<Ui>,
    viewer: Viewer,
    Path(name): Path<String>,
) -> Response {
    if ui.controller.application(&name).is_none() {
        return controller_error(&viewer, ControllerError::NotFound(name));
    }
    render(&DeletePage {
        viewer_name: Some(viewer.user.clone()),
        csrf: viewer.csrf.clone(),
        href: format!("/applications/{}", enc(&name)),
        app: name,
        error: String::new(),
    })
}

/// `POST /applications/{name}/delete`.
pub async fn delete(
    State(ui): State<Ui>,
    viewer: Viewer,
    Path(name): Path<String>,
    Form(form): Form<ActionForm>,
) -> Response {
    if let Err(r) = ui.auth.check_write(&viewer, &form.csrf) {
        return r;
    }
    if form.confirm != name {
        let page = DeletePage {
            viewer_name: Some(viewer.user.clone()),
            csrf: viewer.csrf.clone(),
            href: format!("/applications/{}", enc(&name)),
            error: "Type the Application's name to confirm.".into(),
            app: name,
        };
        return (StatusCode::BAD_REQUEST, render(&page)).into_response();
    }
    let cascade = form.cascade != "none";
    match ui.controller.delete_application(&name, cascade) {
        Ok(()) => Redirect::to("/applications").into_response(),
        Err(e) => controller_error(&viewer, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_pairs_decode_repeated_fields() {
        let p = form_pairs(
            "csrf=a%2Bb&resource=apps%3ADeployment%3Aweb&resource=%3AService%3Aweb&prune=on",
        );
        assert_eq!(p[0], ("csrf".into(), "a+b".into()));
        let f =
            parse_sync_form("csrf=x&resource=apps%3ADeployment%3Aweb&resource=%3AService%3Aweb");
        assert_eq!(f.resource, ["apps:Deployment:web", ":Service:web"]);
        assert!(f.prune.is_none());
    }
}
