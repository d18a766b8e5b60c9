//! A Git smart-HTTP server on loopback, for tests, benchmarks and demos.
//!
//! It serves a directory of repositories (bare or not) the way a Git hosting
//! service does, by running the real `git http-backend` as a CGI program for
//! each request behind a small HTTP/1.1 server on `127.0.0.1`. It supports
//! protocol v2 (the `Git-Protocol` header is passed through), optional HTTP
//! basic authentication, optional pushes, and records every request so tests
//! can tell a ref listing from a pack download.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use flotilla_lab::git_http::{GitHttpOptions, GitHttpServer};
//!
//! let server = GitHttpServer::start("/srv/repos").await?;
//! let url = server.url("deploy.git"); // http://127.0.0.1:PORT/deploy.git
//!
//! let private = GitHttpServer::start_with(GitHttpOptions::new("/srv/repos").with_basic_auth("ci", "s3cret")).await?;
//! # let _ = (url, private); Ok(()) }
//! ```
//!
//! The server stops when the handle is dropped.

use std::convert::Infallible;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Bytes, Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader, ReadBuf};
use tokio::net::TcpListener;
use tokio::process::{ChildStdout, Command};

/// Largest request body accepted (pushes of big packs aside, requests are small).
const MAX_REQUEST_BODY: usize = 512 * 1024 * 1024;

/// How to run the server.
#[derive(Clone)]
pub struct GitHttpOptions {
    /// The directory whose repositories are served (`GIT_PROJECT_ROOT`).
    pub root: PathBuf,
    /// Require HTTP basic authentication with this user name and password.
    pub basic_auth: Option<(String, String)>,
    /// Accept pushes (`git-receive-pack`).
    pub allow_push: bool,
    /// The `git` program.
    pub git: PathBuf,
}

impl fmt::Debug for GitHttpOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHttpOptions")
            .field("root", &self.root)
            .field(
                "basic_auth",
                &self.basic_auth.as_ref().map(|(u, _)| (u, "***")),
            )
            .field("allow_push", &self.allow_push)
            .field("git", &self.git)
            .finish()
    }
}

impl GitHttpOptions {
    /// Serve `root` without authentication, read-only.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        GitHttpOptions {
            root: root.into(),
            basic_auth: None,
            allow_push: false,
            git: PathBuf::from("git"),
        }
    }

    /// Require basic authentication.
    pub fn with_basic_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.basic_auth = Some((user.into(), password.into()));
        self
    }

    /// Accept pushes.
    pub fn with_push(mut self) -> Self {
        self.allow_push = true;
        self
    }
}

/// One request the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// `GET` or `POST`.
    pub method: String,
    /// The request path, like `/deploy.git/git-upload-pack`.
    pub path: String,
    /// The query string, like `service=git-upload-pack`.
    pub query: String,
    /// For protocol v2 requests, the command (`ls-refs`, `fetch`).
    pub command: Option<String>,
    /// The HTTP status sent.
    pub status: u16,
}

struct State {
    options: GitHttpOptions,
    expected_auth: Option<String>,
    requests: Mutex<Vec<RequestRecord>>,
}

/// A running server; it stops when dropped.
pub struct GitHttpServer {
    addr: SocketAddr,
    base_url: String,
    state: Arc<State>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl fmt::Debug for GitHttpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHttpServer")
            .field("base_url", &self.base_url)
            .field("options", &self.state.options)
            .finish()
    }
}

impl GitHttpServer {
    /// Serve `root` on an ephemeral loopback port, without authentication.
    pub async fn start(root: impl Into<PathBuf>) -> io::Result<Self> {
        Self::start_with(GitHttpOptions::new(root)).await
    }

    /// Serve with `options` on an ephemeral loopback port.
    pub async fn start_with(options: GitHttpOptions) -> io::Result<Self> {
        Self::start_on(options, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Serve with `options` on `addr` (which should be a loopback address).
    pub async fn start_on(options: GitHttpOptions, addr: SocketAddr) -> io::Result<Self> {
        let root = std::fs::canonicalize(&options.root).map_err(|e| {
            io::Error::new(e.kind(), format!("serving {}: {e}", options.root.display()))
        })?;
        let options = GitHttpOptions { root, ..options };
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let expected_auth = options
            .basic_auth
            .as_ref()
            .map(|(u, p)| format!("Basic {}", base64_encode(format!("{u}:{p}").as_bytes())));
        let state = Arc::new(State {
            options,
            expected_auth,
            requests: Mutex::new(Vec::new()),
        });
        let st = state.clone();
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let (stream, _) = match listener.accept().await {
                    Ok(c) => c,
                    Err(_) => {
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let st = st.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let st = st.clone();
                        async move { Ok::<_, Infallible>(handle(st, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
                // Reap finished connections so the set does not grow without bound.
                while connections.try_join_next().is_some() {}
            }
        });
        Ok(GitHttpServer {
            addr,
            base_url: format!("http://{addr}"),
            state,
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The URL of the repository at `relative` below the root.
    pub fn url(&self, relative: &str) -> String {
        format!("{}/{}", self.base_url, relative.trim_start_matches('/'))
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The directory served.
    pub fn root(&self) -> &Path {
        &self.state.options.root
    }

    /// Every request answered so far.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.state
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// Forget the recorded requests.
    pub fn clear_requests(&self) {
        if let Ok(mut r) = self.state.requests.lock() {
            r.clear();
        }
    }

    /// Stop accepting connections and close the open ones.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Drop for GitHttpServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

type ResponseBody = http_body_util::combinators::BoxBody<Bytes, io::Error>;

fn simple(status: StatusCode, text: &str) -> Response<ResponseBody> {
    let mut resp = Response::new(
        Full::new(Bytes::from(text.to_string()))
            .map_err(|never| match never {})
            .boxed(),
    );
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain"),
    );
    resp
}

fn record(state: &State, rec: RequestRecord) {
    if let Ok(mut r) = state.requests.lock() {
        r.push(rec);
    }
}

/// The protocol v2 command of an upload-pack request body (`command=fetch`).
fn v2_command(body: &[u8]) -> Option<String> {
    // The first pkt-line: 4 hex digits of length, then "command=NAME\n".
    let len = usize::from_str_radix(std::str::from_utf8(body.get(..4)?).ok()?, 16).ok()?;
    let line = std::str::from_utf8(body.get(4..len)?).ok()?;
    line.trim_end().strip_prefix("command=").map(str::to_string)
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Response<ResponseBody> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let mut rec = RequestRecord {
        method: method.clone(),
        path: path.clone(),
        query: query.clone(),
        command: None,
        status: 0,
    };
    if path.split('/').any(|seg| seg == "..") {
        rec.status = 400;
        record(&state, rec);
        return simple(StatusCode::BAD_REQUEST, "bad path\n");
    }
    let mut remote_user = None;
    if let Some(expected) = &state.expected_auth {
        let given = req
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if given != Some(expected.as_str()) {
            rec.status = 401;
            record(&state, rec);
            let mut resp = simple(StatusCode::UNAUTHORIZED, "authentication required\n");
            resp.headers_mut().insert(
                hyper::header::WWW_AUTHENTICATE,
                hyper::header::HeaderValue::from_static("Basic realm=\"git\""),
            );
            return resp;
        }
        remote_user = state.options.basic_auth.as_ref().map(|(u, _)| u.clone());
    }
    let is_push = path.ends_with("/git-receive-pack") || query.contains("service=git-receive-pack");
    if is_push && !state.options.allow_push {
        rec.status = 403;
        record(&state, rec);
        return simple(StatusCode::FORBIDDEN, "pushes are not accepted\n");
    }
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let content_type = header("content-type");
    let content_encoding = header("content-encoding");
    let git_protocol = header("git-protocol");
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            rec.status = 400;
            record(&state, rec);
            return simple(StatusCode::BAD_REQUEST, &format!("reading request: {e}\n"));
        }
    };
    if body.len() > MAX_REQUEST_BODY {
        rec.status = 413;
        record(&state, rec);
        return simple(StatusCode::PAYLOAD_TOO_LARGE, "request too large\n");
    }
    if content_encoding.is_none() {
        rec.command = v2_command(&body);
    }

    let mut cmd = Command::new(&state.options.git);
    cmd.arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("HOME", &state.options.root)
        .env("GIT_PROJECT_ROOT", &state.options.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("SERVER_PROTOCOL", "HTTP/1.1")
        .env("REQUEST_METHOD", &method)
        .env("PATH_INFO", &path)
        .env("QUERY_STRING", &query)
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(ct) = &content_type {
        cmd.env("CONTENT_TYPE", ct);
    }
    if !body.is_empty() || method == "POST" {
        cmd.env("CONTENT_LENGTH", body.len().to_string());
    }
    if let Some(enc) = &content_encoding {
        cmd.env("HTTP_CONTENT_ENCODING", enc);
    }
    if let Some(proto) = &git_protocol {
        cmd.env("GIT_PROTOCOL", proto);
    }
    match &remote_user {
        Some(user) => {
            cmd.env("REMOTE_USER", user);
        }
        None if state.options.allow_push => {
            // http-backend only accepts pushes from an authenticated user.
            cmd.env("REMOTE_USER", "anonymous");
        }
        None => {}
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            rec.status = 500;
            record(&state, rec);
            return simple(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("starting git http-backend: {e}\n"),
            );
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        tokio::spawn(async move {
            let _ = stdin.write_all(&body).await;
            let _ = stdin.shutdown().await;
        });
    }
    if let Some(stderr) = child.stderr.take() {
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::warn!(target: "git_http", "git http-backend: {line}");
            }
        });
    }
    let Some(stdout) = child.stdout.take() else {
        rec.status = 500;
        record(&state, rec);
        return simple(
            StatusCode::INTERNAL_SERVER_ERROR,
            "no output from git http-backend\n",
        );
    };
    let mut reader = BufReader::new(stdout);
    // CGI headers, then the body.
    let mut status = StatusCode::OK;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line).await {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                rec.status = 502;
                record(&state, rec);
                return simple(
                    StatusCode::BAD_GATEWAY,
                    &format!("reading git http-backend: {e}\n"),
                );
            }
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value
                .split_whitespace()
                .next()
                .and_then(|c| c.parse::<u16>().ok());
            if let Some(s) = code.and_then(|c| StatusCode::from_u16(c).ok()) {
                status = s;
            }
        } else {
            headers.push((name.to_string(), value.to_string()));
        }
    }
    rec.status = status.as_u16();
    record(&state, rec);
    let buffered = Bytes::copy_from_slice(reader.buffer());
    let body = CgiBody {
        prefix: (!buffered.is_empty()).then_some(buffered),
        stdout: reader.into_inner(),
        buf: vec![0; 64 * 1024].into_boxed_slice(),
        _child: child,
    };
    let mut resp = Response::new(body.boxed());
    *resp.status_mut() = status;
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            hyper::header::HeaderName::from_bytes(name.as_bytes()),
            hyper::header::HeaderValue::from_str(&value),
        ) {
            resp.headers_mut().append(n, v);
        }
    }
    resp
}

/// The rest of the CGI program's standard output, streamed.
struct CgiBody {
    prefix: Option<Bytes>,
    stdout: ChildStdout,
    buf: Box<[u8]>,
    _child: tokio::process::Child,
}

impl Body for CgiBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = &mut *self;
        if let Some(p) = this.prefix.take() {
            return Poll::Ready(Some(Ok(Frame::data(p))));
        }
        let mut rb = ReadBuf::new(&mut this.buf);
        match Pin::new(&mut this.stdout).poll_read(cx, &mut rb) {
            Poll::Ready(Ok(())) => {
                let filled = rb.filled();
                if filled.is_empty() {
                    Poll::Ready(None)
                } else {
                    Poll::Ready(Some(Ok(Frame::data(Bytes::copy_from_slice(filled)))))
                }
            }
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Pending => Poll::Pending,
        }
    }
}

fn base64_encode(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64() {
        assert_eq!(super::base64_encode(b""), "");
        assert_eq!(super::base64_encode(b"f"), "Zg==");
        assert_eq!(super::base64_encode(b"fo"), "Zm8=");
        assert_eq!(super::base64_encode(b"foo"), "Zm9v");
        assert_eq!(super::base64_encode(b"user:pass"), "dXNlcjpwYXNz");
    }

    #[test]
    fn v2_commands() {
        assert_eq!(
            super::v2_command(b"0014command=ls-refs\n0000").as_deref(),
            Some("ls-refs")
        );
        assert_eq!(
            super::v2_command(b"0012command=fetch\n").as_deref(),
            Some("fetch")
        );
        assert_eq!(super::v2_command(b"0000"), None);
        assert_eq!(super::v2_command(b"zz"), None);
    }
}
