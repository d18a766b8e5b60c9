//! The controller's HTTP API (JSON), its webhook endpoint, health, metrics
//! and a small status page.
//!
//! | method and path | what | auth |
//! |---|---|---|
//! | `GET /healthz` | `{"status":"ok","ready":true}` | none |
//! | `GET /metrics` | Prometheus text | read |
//! | `GET /`, `/applications`, ... | the web UI ([`crate::ui`]) | session |
//! | `GET /api/v1/applications` | [`AppView`] list | read |
//! | `GET /api/v1/applications/{name}` | [`AppView`] with resources | read |
//! | `GET /api/v1/applications/{name}/history` | [`OperationView`] list, newest first | read |
//! | `GET /api/v1/applications/{name}/resource?group=&kind=&namespace=&name=` | [`crate::views::ResourceDetail`]: live, desired, diff, events | read |
//! | `DELETE /api/v1/applications/{name}?cascade=true` | delete it (and its resources) | token |
//! | `GET /api/v1/repositories` | [`crate::views::RepositoryView`] list | read |
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
use std::path::Path as FilePath;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
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
    /// The certificate pair of `api.tls` could not be loaded.
    #[error("api.tls: {0}")]
    Tls(String),
}

/// How long open connections (a UI's event stream) may take to finish
/// after the controller stops, when serving HTTPS.
const TLS_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A bound API server; [`Server::serve`] runs it until the controller stops.
///
/// It serves HTTPS (rustls; HTTP/2 and HTTP/1.1) when `api.tls` is
/// configured, plain HTTP otherwise. Handlers can read the client's
/// address with `axum::extract::ConnectInfo<SocketAddr>`.
pub struct Server {
    listener: tokio::net::TcpListener,
    router: Router,
    controller: Controller,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
}

impl Server {
    /// Binds the address of the configuration (`api.listen`), and loads
    /// the certificate pair of `api.tls` if there is one.
    pub async fn bind(controller: &Controller) -> Result<Server, ApiError> {
        let api = &controller.config().api;
        let tls = match &api.tls {
            Some(tls) => Some(load_tls(&tls.cert_file, &tls.key_file)?),
            None => None,
        };
        let addr = api.listen;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ApiError::Bind { addr, source })?;
        Ok(Server {
            listener,
            router: router(controller.clone()),
            controller: controller.clone(),
            tls,
        })
    }

    /// Whether it serves HTTPS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Serves `router` instead of [`router`]'s routes (an embedder's own
    /// routes, or the API merged with more), on the same address, TLS and
    /// shutdown.
    pub fn with_router(mut self, router: Router) -> Server {
        self.router = router;
        self
    }

    /// The address bound (with the port chosen when it was 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Serves until the controller shuts down.
    pub async fn serve(self) -> std::io::Result<()> {
        let token = self.controller.shutdown_token();
        let app = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        let Some(tls) = self.tls else {
            return axum::serve(self.listener, app)
                .with_graceful_shutdown(async move { token.cancelled().await })
                .await;
        };
        let handle = axum_server::Handle::new();
        let server = axum_server::from_tcp_rustls(self.listener.into_std()?, tls)?
            .handle(handle.clone())
            .serve(app);
        tokio::pin!(server);
        tokio::select! {
            result = &mut server => result,
            () = token.cancelled() => {
                handle.graceful_shutdown(Some(TLS_SHUTDOWN_GRACE));
                server.await
            }
        }
    }
}

/// The rustls configuration serving the PEM certificate chain in `cert`
/// with the private key in `key` (ring as the crypto provider, as the rest
/// of Flotilla).
fn load_tls(
    cert: &FilePath,
    key: &FilePath,
) -> Result<axum_server::tls_rustls::RustlsConfig, ApiError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| ApiError::Tls(format!("certFile {}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(ApiError::Tls(format!(
            "certFile {}: no PEM certificate in it",
            cert.display()
        )));
    }
    let private_key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| ApiError::Tls(format!("keyFile {}: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ApiError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, private_key)
        .map_err(|e| ApiError::Tls(format!("{} and {}: {e}", cert.display(), key.display())))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(axum_server::tls_rustls::RustlsConfig::from_config(
        Arc::new(config),
    ))
}

/// The API's routes over `controller`.
pub fn router(controller: Controller) -> Router {
    let api = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/v1/applications", get(list_apps))
        .route(
            "/api/v1/applications/{name}",
            get(get_app).delete(delete_app),
        )
        .route("/api/v1/applications/{name}/history", get(history))
        .route("/api/v1/applications/{name}/tree", get(tree))
        .route("/api/v1/applications/{name}/resource", get(resource))
        .route("/api/v1/applications/{name}/sync", post(sync))
        .route("/api/v1/applications/{name}/rollback", post(rollback))
        .route("/api/v1/applications/{name}/refresh", post(refresh))
        .route("/api/v1/applicationsets", get(list_sets))
        .route("/api/v1/clusters", get(clusters))
        .route("/api/v1/repositories", get(repositories))
        .route("/api/webhook", post(webhook_push))
        .with_state(controller.clone());
    api.merge(crate::ui::router(crate::ui::Ui::new(controller)))
        .layer(axum::middleware::from_fn(crate::ui::auth::security_headers))
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
        ControllerError::Invalid(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    refuse(code, e.to_string())
}

fn token_ok(c: &Controller, headers: &HeaderMap) -> bool {
    match (&c.config().api.token, crate::ui::auth::bearer(headers)) {
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

/// `?group=&kind=&namespace=&name=` of one resource.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct ResourceQuery {
    group: String,
    kind: String,
    namespace: String,
    name: String,
}

async fn resource(
    State(c): State<Controller>,
    headers: HeaderMap,
    Path(name): Path<String>,
    axum::extract::Query(q): axum::extract::Query<ResourceQuery>,
) -> Answer {
    check_read(&c, &headers)?;
    c.resource(&name, &q.group, &q.kind, &q.namespace, &q.name)
        .await
        .map(|d| Json(d).into_response())
        .map_err(error_answer)
}

/// `?cascade=true|false` (default true, as `argocd app delete`).
#[derive(Debug, serde::Deserialize)]
struct DeleteQuery {
    #[serde(default = "yes")]
    cascade: bool,
}

fn yes() -> bool {
    true
}

async fn delete_app(
    State(c): State<Controller>,
    headers: HeaderMap,
    Path(name): Path<String>,
    axum::extract::Query(q): axum::extract::Query<DeleteQuery>,
) -> Answer {
    check_write(&c, &headers)?;
    c.delete_application(&name, q.cascade)
        .map_err(error_answer)?;
    Ok(Json(serde_json::json!({"deleted": name, "cascade": q.cascade})).into_response())
}

async fn repositories(State(c): State<Controller>, headers: HeaderMap) -> Answer {
    check_read(&c, &headers)?;
    Ok(Json(c.repository_views()).into_response())
}

async fn list_sets(State(c): State<Controller>, headers: HeaderMap) -> Answer {
    check_read(&c, &headers)?;
    Ok(Json(c.application_sets()).into_response())
}

async fn clusters(State(c): State<Controller>, headers: HeaderMap) -> Answer {
    check_read(&c, &headers)?;
    Ok(Json(c.cluster_details().await).into_response())
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
