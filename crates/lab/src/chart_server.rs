//! The HTTP server of a [`ChartRepo`]: `GET /index.yaml` and the archives,
//! optional basic authentication, `GET /healthz` without it.

use std::convert::Infallible;
use std::fmt;
use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

use crate::charts::ChartRepo;
use crate::error::{io, LabError, Result};

/// How a [`ChartServer`] runs.
#[derive(Clone, Serialize, Deserialize)]
pub struct ChartServerOptions {
    /// What it serves.
    pub repo: ChartRepo,
    /// Require HTTP basic authentication with this user and password.
    pub basic_auth: Option<(String, String)>,
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
}

impl fmt::Debug for ChartServerOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChartServerOptions")
            .field("repo", &self.repo.index)
            .field(
                "basic_auth",
                &self.basic_auth.as_ref().map(|(u, _)| (u, "***")),
            )
            .field("port", &self.port)
            .finish()
    }
}

impl ChartServerOptions {
    /// Serve `repo` on a free port without authentication.
    pub fn new(repo: ChartRepo) -> Self {
        Self {
            repo,
            basic_auth: None,
            port: 0,
        }
    }

    /// Require basic authentication.
    pub fn with_basic_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.basic_auth = Some((user.into(), password.into()));
        self
    }
}

/// One request the chart server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartRequest {
    /// The request path (`/index.yaml`).
    pub path: String,
    /// The status sent.
    pub status: u16,
}

struct ServerState {
    options: ChartServerOptions,
    expected_auth: Option<String>,
    requests: Mutex<Vec<ChartRequest>>,
}

/// A running chart repository server; it stops when dropped.
pub struct ChartServer {
    addr: SocketAddr,
    state: Arc<ServerState>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl fmt::Debug for ChartServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChartServer")
            .field("addr", &self.addr)
            .finish()
    }
}

impl ChartServer {
    /// Binds 127.0.0.1:`options.port` and serves in a background task.
    pub async fn start(options: ChartServerOptions) -> Result<Self> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], options.port)))
            .await
            .map_err(LabError::Port)?;
        let addr = listener.local_addr().map_err(LabError::Port)?;
        let expected_auth = options.basic_auth.as_ref().map(|(u, p)| {
            use base64::Engine as _;
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        });
        let state = Arc::new(ServerState {
            options,
            expected_auth,
            requests: Mutex::new(Vec::new()),
        });
        let st = state.clone();
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                };
                let st = st.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let st = st.clone();
                        async move { Ok::<_, Infallible>(handle(&st, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
                while connections.try_join_next().is_some() {}
            }
        });
        Ok(Self {
            addr,
            state,
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`, the repository URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What it serves.
    pub fn repo(&self) -> &ChartRepo {
        &self.state.options.repo
    }

    /// Every request answered so far.
    pub fn requests(&self) -> Vec<ChartRequest> {
        self.state
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// Serves until the task ends (never, unless aborted): for a lab process.
    pub async fn run(mut self) {
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ChartServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn respond(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    resp
}

async fn handle(state: &ServerState, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let resp = answer(state, &req, &path).await;
    if let Ok(mut r) = state.requests.lock() {
        r.push(ChartRequest {
            path,
            status: resp.status().as_u16(),
        });
    }
    resp
}

async fn answer(state: &ServerState, req: &Request<Incoming>, path: &str) -> Response<Full<Bytes>> {
    if req.method() != hyper::Method::GET && req.method() != hyper::Method::HEAD {
        return respond(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET only\n".into(),
        );
    }
    if path == "/healthz" {
        return respond(StatusCode::OK, "text/plain", "ok\n".into());
    }
    if let Some(expected) = &state.expected_auth {
        let given = req
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if given != Some(expected.as_str()) {
            let mut resp = respond(
                StatusCode::UNAUTHORIZED,
                "text/plain",
                "authentication required\n".into(),
            );
            resp.headers_mut().insert(
                hyper::header::WWW_AUTHENTICATE,
                hyper::header::HeaderValue::from_static("Basic realm=\"charts\""),
            );
            return resp;
        }
    }
    let repo = &state.options.repo;
    let rel = path.trim_start_matches('/');
    let (file, content_type) = if rel == "index.yaml" || rel.is_empty() {
        (&repo.index, "application/x-yaml")
    } else if let Some(f) = repo.files.get(rel) {
        (f, "application/gzip")
    } else {
        return respond(
            StatusCode::NOT_FOUND,
            "text/plain",
            format!("{path} not found\n").into(),
        );
    };
    match tokio::fs::read(file).await {
        Ok(bytes) => {
            let mut resp = respond(StatusCode::OK, content_type, Bytes::from(bytes));
            if req.method() == hyper::Method::HEAD {
                *resp.body_mut() = Full::new(Bytes::new());
            }
            resp
        }
        Err(e) => respond(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain",
            format!("reading {}: {e}\n", file.display()).into(),
        ),
    }
}

/// Runs a chart server from a configuration file written by the lab
/// (`<lab>/charts/server.json`) until the process is stopped: what
/// `flotilla lab serve-charts` runs.
pub async fn serve_config(config: &Path) -> Result<()> {
    let text = fs::read_to_string(config).map_err(io("reading", config))?;
    let options: ChartServerOptions = serde_json::from_str(&text).map_err(|e| LabError::State {
        path: config.to_path_buf(),
        message: e.to_string(),
    })?;
    let server = ChartServer::start(options).await?;
    tracing::info!(url = %server.url(), "serving charts");
    server.run().await;
    Ok(())
}
