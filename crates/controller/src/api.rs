//! The controller's HTTP API (JSON), its webhook endpoint, health, metrics
//! and a small status page.
//!
//! | method and path | what | auth |
//! |---|---|---|
//! | `GET /healthz` | `{"status":"ok","ready":true}` | none |
//! | `GET /metrics` | Prometheus text | read |
//! | `GET /` | status page (HTML) | read |
//! | `GET /api/v1/applications` | [`AppView`] list | read |
//! | `GET /api/v1/applications/{name}` | [`AppView`] with resources | read |
//! | `GET /api/v1/applications/{name}/history` | [`OperationView`] list, newest first | read |
//! | `GET /api/v1/applications/{name}/tree` | [`crate::controller::ResourceTree`]: managed resources and what they own, with health | read |
//! | `POST /api/v1/applications/{name}/sync` | body [`SyncRequest`], answers the finished [`OperationView`] | token |
//! | `POST /api/v1/applications/{name}/rollback` | body [`RollbackRequest`] | token |
//! | `POST /api/v1/applications/{name}/refresh` | queue a reconcile | token |
//! | `GET /api/v1/applicationsets` | [`AppSetView`] list | read |
//! | `GET /api/v1/clusters` | [`ClusterView`] list | read |
//! | `POST /api/webhook` | Git push (GitHub, GitLab, Gitea) | signature |
//!
//! "read" calls need `Authorization: Bearer <token>` unless
//! `api.anonymousRead` is set; "token" calls always need it, and are
//! refused when no token is configured.
//!
//! [`AppView`]: crate::views::AppView
//! [`OperationView`]: crate::views::OperationView
//! [`AppSetView`]: crate::views::AppSetView
//! [`ClusterView`]: crate::views::ClusterView

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use subtle::ConstantTimeEq;

use crate::controller::{Controller, ControllerError};
use crate::views::{ErrorView, RollbackRequest, SyncRequest};
use crate::webhook::{self, WebhookOutcome, WebhookSecrets};

/// Errors starting the API server.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The address could not be bound.
    #[error("listening on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// A bound API server; [`Server::serve`] runs it until the controller stops.
pub struct Server {
    listener: tokio::net::TcpListener,
    router: Router,
    controller: Controller,
}

impl Server {
    /// Binds the address of the configuration (`api.listen`).
    pub async fn bind(controller: &Controller) -> Result<Server, ApiError> {
        let addr = controller.config().api.listen;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ApiError::Bind { addr, source })?;
        Ok(Server {
            listener,
            router: router(controller.clone()),
            controller: controller.clone(),
        })
    }

    /// The address bound (with the port chosen when it was 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Serves until the controller shuts down.
    pub async fn serve(self) -> std::io::Result<()> {
        let token = self.controller.shutdown_token();
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(async move { token.cancelled().await })
            .await
    }
}

/// The API's routes over `controller`.
pub fn router(controller: Controller) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/", get(page))
        .route("/api/v1/applications", get(list_apps))
        .route("/api/v1/applications/{name}", get(get_app))
        .route("/api/v1/applications/{name}/history", get(history))
        .route("/api/v1/applications/{name}/tree", get(tree))
        .route("/api/v1/applications/{name}/sync", post(sync))
        .route("/api/v1/applications/{name}/rollback", post(rollback))
        .route("/api/v1/applications/{name}/refresh", post(refresh))
        .route("/api/v1/applicationsets", get(list_sets))
        .route("/api/v1/clusters", get(clusters))
        .route("/api/webhook", post(webhook_push))
        .with_state(controller)
}

type Answer = Result<Response, (StatusCode, Json<ErrorView>)>;

fn refuse(code: StatusCode, message: impl Into<String>) -> (StatusCode, Json<ErrorView>) {
    (
        code,
        Json(ErrorView {
            error: message.into(),
        }),
    )
}

fn error_answer(e: ControllerError) -> (StatusCode, Json<ErrorView>) {
    let code = match &e {
        ControllerError::NotFound(_) | ControllerError::NoSuchEntry { .. } => StatusCode::NOT_FOUND,
        ControllerError::Busy(_) => StatusCode::CONFLICT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    refuse(code, e.to_string())
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn token_ok(c: &Controller, headers: &HeaderMap) -> bool {
    match (&c.config().api.token, bearer(headers)) {
        (Some(t), Some(given)) => bool::from(t.expose().as_bytes().ct_eq(given.as_bytes())),
        _ => false,
    }
}

fn check_read(c: &Controller, headers: &HeaderMap) -> Result<(), (StatusCode, Json<ErrorView>)> {
    if c.config().api.anonymous_read || token_ok(c, headers) {
        Ok(())
    } else {
        Err(refuse(
            StatusCode::UNAUTHORIZED,
            "a bearer token is required (Authorization: Bearer <token>)",
        ))
    }
}

fn check_write(c: &Controller, headers: &HeaderMap) -> Result<(), (StatusCode, Json<ErrorView>)> {
    if c.config().api.token.is_none() {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "changes through the API are disabled: no api.tokenFrom is configured",
        ));
    }
    if token_ok(c, headers) {
        Ok(())
    } else {
        Err(refuse(
            StatusCode::UNAUTHORIZED,
            "a valid bearer token is required (Authorization: Bearer <token>)",
        ))
    }
}

async fn healthz(State(c): State<Controller>) -> Response {
    Json(serde_json::json!({"status": "ok", "ready": c.ready()})).into_response()
}

async fn metrics(State(c): State<Controller>, headers: HeaderMap) -> Answer {
    check_read(&c, &headers)?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        c.encode_metrics(),
    )
        .into_response())
}

async fn list_apps(State(c): State<Controller>, headers: HeaderMap) -> Answer {
    check_read(&c, &headers)?;
    Ok(Json(c.applications()).into_response())
}

async fn get_app(
    State(c): State<Controller>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Answer {
    check_read(&c, &headers)?;
    match c.application(&name) {
        Some(a) => Ok(Json(a).into_response()),
        None => Err(error_answer(ControllerError::NotFound(name))),
    }
}

async fn history(
    State(c): State<Controller>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Answer {
    check_read(&c, &headers)?;
    c.history(&name)
        .map(|h| Json(h).into_response())
        .map_err(error_answer)
}

async fn tree(State(c): State<Controller>, headers: HeaderMap, Path(name): Path<String>) -> Answer {
    check_read(&c, &headers)?;
    c.tree(&name)
        .await
        .map(|t| Json(t).into_response())
        .map_err(error_answer)
}

fn body_or_default<T: serde::de::DeserializeOwned + Default>(
    body: &Bytes,
) -> Result<T, (StatusCode, Json<ErrorView>)> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| refuse(StatusCode::BAD_REQUEST, format!("request body: {e}")))
}

async fn sync(
    State(c): State<Controller>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Answer {
    check_write(&c, &headers)?;
    let request: SyncRequest = body_or_default(&body)?;
    c.sync(&name, request, "api")
        .await
        .map(|op| Json(op).into_response())
        .map_err(error_answer)
}

async fn rollback(
    State(c): State<Controller>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Answer {
    check_write(&c, &headers)?;
    let request: RollbackRequest = serde_json::from_slice(&body)
        .map_err(|e| refuse(StatusCode::BAD_REQUEST, format!("request body: {e}")))?;
    c.rollback(&name, request.id, request.prune, "api")
        .await
        .map(|op| Json(op).into_response())
        .map_err(error_answer)
}

async fn refresh(
    State(c): State<Controller>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Answer {
    check_write(&c, &headers)?;
    c.refresh(&name).map_err(error_answer)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({"refresh": name})),
    )
        .into_response())
}

async fn list_sets(State(c): State<Controller>, headers: HeaderMap) -> Answer {
    check_read(&c, &headers)?;
    Ok(Json(c.application_sets()).into_response())
}

async fn clusters(State(c): State<Controller>, headers: HeaderMap) -> Answer {
    check_read(&c, &headers)?;
    Ok(Json(c.clusters()).into_response())
}

async fn webhook_push(State(c): State<Controller>, headers: HeaderMap, body: Bytes) -> Answer {
    let w = &c.config().webhook;
    let secrets = WebhookSecrets {
        github: w.github.as_ref().map(|s| s.expose().to_string()),
        gitlab: w.gitlab.as_ref().map(|s| s.expose().to_string()),
        gitea: w.gitea.as_ref().map(|s| s.expose().to_string()),
    };
    match webhook::parse(&headers, &body, &secrets) {
        Err(e) => {
            let provider = e.provider().map(|p| p.label()).unwrap_or("unknown");
            c.metrics().webhook(provider, e.kind());
            tracing::warn!(provider, error = %e, "webhook refused");
            let code = match &e {
                webhook::WebhookError::Payload { .. } | webhook::WebhookError::UnknownProvider => {
                    StatusCode::BAD_REQUEST
                }
                _ => StatusCode::UNAUTHORIZED,
            };
            Err(refuse(code, e.to_string()))
        }
        Ok(WebhookOutcome::Ignored(why)) => {
            Ok(Json(serde_json::json!({"ignored": why})).into_response())
        }
        Ok(WebhookOutcome::Push(push)) => {
            let repos: Vec<String> = c
                .repositories()
                .into_iter()
                .filter(|r| push.matches_repo(r))
                .collect();
            c.metrics().webhook(
                push.provider.label(),
                if repos.is_empty() {
                    "unknown_repo"
                } else {
                    "ok"
                },
            );
            tracing::info!(provider = push.provider.label(), git_ref = %push.git_ref, repos = ?repos, "push received");
            if !repos.is_empty() {
                c.refresh_repositories(&repos);
            }
            Ok(Json(serde_json::json!({"refreshed": repos})).into_response())
        }
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn page(State(c): State<Controller>, headers: HeaderMap) -> Answer {
    check_read(&c, &headers)?;
    let mut rows = String::new();
    for a in c.applications() {
        let op = a
            .operation
            .as_ref()
            .map(|o| format!("{} ({})", o.phase, o.trigger))
            .unwrap_or_default();
        let problems = a
            .conditions
            .iter()
            .map(|c| escape(&format!("{}: {}", c.kind, c.message)))
            .collect::<Vec<_>>()
            .join("<br>");
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td class=\"{}\">{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>\n",
            escape(&a.name),
            escape(&a.cluster),
            escape(&a.namespace),
            escape(&a.sync),
            escape(&a.sync),
            escape(&a.health),
            escape(&a.health),
            escape(a.revision.get(..7).unwrap_or(&a.revision)),
            escape(&op),
            problems,
        ));
    }
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Flotilla</title>\
<meta http-equiv=\"refresh\" content=\"5\">\
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}\
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}\
.Synced,.Healthy{{color:#080}}.OutOfSync,.Progressing{{color:#b60}}\
.Degraded,.Unknown,.Missing{{color:#b00}}</style></head><body>\
<h1>Flotilla</h1><table><tr><th>Application</th><th>Cluster</th><th>Namespace</th>\
<th>Sync</th><th>Health</th><th>Revision</th><th>Last operation</th><th>Conditions</th></tr>\n{rows}</table></body></html>"
    );
    Ok(Html(html).into_response())
}
