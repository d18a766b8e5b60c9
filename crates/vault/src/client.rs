//! The HTTP client: one place that sends requests to Vault, adds the token
//! and namespace, retries what can be retried and turns answers into errors
//! that name the path.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::{Method, StatusCode, Url};
use serde_json::{Map, Value};

use crate::auth::{AuthMethod, TokenState};
use crate::config::{ClientConfig, RetryPolicy};
use crate::error::VaultError;
use crate::kv::MountInfo;
use crate::secret::SecretString;

/// An answer from Vault: the status and the JSON body, if any.
#[derive(Clone, Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub body: Option<Value>,
}

/// One request, before it is sent.
pub(crate) struct Request<'a> {
    pub method: Method,
    pub path: &'a str,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Value>,
    pub content_type: Option<&'static str>,
    /// Send the client's token (false for init, unseal, health, login).
    pub authenticated: bool,
    /// Treat 404 as an answer (body returned) instead of an error.
    pub allow_404: bool,
    /// Statuses that are answers rather than errors (e.g. 429/473 of sys/health).
    pub accept: &'a [u16],
}

impl<'a> Request<'a> {
    pub fn new(method: Method, path: &'a str) -> Self {
        Request {
            method,
            path,
            query: Vec::new(),
            body: None,
            content_type: None,
            authenticated: true,
            allow_404: false,
            accept: &[],
        }
    }

    pub fn get(path: &'a str) -> Self {
        Self::new(Method::GET, path)
    }

    pub fn post(path: &'a str, body: Value) -> Self {
        Self::new(Method::POST, path).body(body)
    }

    pub fn put(path: &'a str, body: Value) -> Self {
        Self::new(Method::PUT, path).body(body)
    }

    pub fn delete(path: &'a str) -> Self {
        Self::new(Method::DELETE, path)
    }

    pub fn list(path: &'a str) -> Self {
        // LIST is a Vault verb; a valid token, so this cannot fail.
        let method = Method::from_bytes(b"LIST").unwrap_or(Method::GET);
        let mut request = Self::new(method, path);
        request.query.push(("list", "true".into()));
        request
    }

    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    pub fn query(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.query.push((key, value.into()));
        self
    }

    pub fn unauthenticated(mut self) -> Self {
        self.authenticated = false;
        self
    }

    pub fn allow_404(mut self) -> Self {
        self.allow_404 = true;
        self
    }
}

pub(crate) struct Inner {
    pub http: reqwest::Client,
    pub addr: String,
    pub base: Url,
    pub namespace: Option<String>,
    pub auth: AuthMethod,
    pub renew_token: bool,
    pub retry: RetryPolicy,
    pub token: tokio::sync::Mutex<TokenState>,
    pub mounts: StdMutex<HashMap<String, MountInfo>>,
    pub mount_lookup: tokio::sync::Mutex<()>,
    pub requests: AtomicU64,
}

/// An asynchronous client for the Vault (and OpenBao) HTTP API.
///
/// Cheap to clone (clones share the connection pool, the token and the
/// mount cache). Every request carries the token of the configured
/// [`AuthMethod`] (logging in first, and renewing or logging in again before
/// the token expires) and the namespace; failures that can pass (connection
/// errors, 5xx, sealed, standby) are retried with backoff up to the
/// [`RetryPolicy`]'s cap.
///
/// ```no_run
/// # async fn f() -> Result<(), flotilla_vault::VaultError> {
/// use flotilla_vault::{ClientConfig, VaultClient};
///
/// let client = VaultClient::new(ClientConfig::from_env()?)?;
/// if let Some(secret) = client.kv_read("secret/api/env").await? {
///     let keys: Vec<&str> = secret.data.keys().collect();
///     println!("keys: {keys:?}");
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct VaultClient {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for VaultClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultClient")
            .field("addr", &self.inner.addr)
            .field("namespace", &self.inner.namespace)
            .field("auth", &self.inner.auth.kind())
            .finish()
    }
}

impl VaultClient {
    /// A client for `config`. Does not contact Vault yet.
    pub fn new(config: ClientConfig) -> Result<Self, VaultError> {
        let mut addr = config.addr.trim().trim_end_matches('/').to_string();
        if addr.is_empty() {
            return Err(VaultError::Config("the Vault address is empty".into()));
        }
        if !addr.contains("://") {
            addr = format!("https://{addr}");
        }
        let base = Url::parse(&format!("{addr}/v1/"))
            .map_err(|e| VaultError::Config(format!("Vault address {addr:?}: {e}")))?;
        if base.scheme() != "http" && base.scheme() != "https" {
            return Err(VaultError::Config(format!(
                "Vault address {addr:?}: the scheme must be http or https"
            )));
        }
        let mut builder = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .danger_accept_invalid_certs(config.skip_verify);
        if host_is_loopback(&base) {
            builder = builder.no_proxy();
        }
        let mut pems: Vec<(String, Vec<u8>)> = Vec::new();
        if let Some(path) = &config.ca_cert {
            let pem = std::fs::read(path).map_err(VaultError::io("reading the CA file", path))?;
            pems.push((path.display().to_string(), pem));
        }
        if let Some(pem) = &config.ca_cert_pem {
            pems.push(("the configured CA".into(), pem.clone()));
        }
        for (what, pem) in pems {
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| VaultError::Config(format!("{what}: not a PEM certificate: {e}")))?;
            if certs.is_empty() {
                return Err(VaultError::Config(format!(
                    "{what}: no PEM certificate in it"
                )));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .build()
            .map_err(|e| VaultError::Config(format!("building the HTTP client: {e}")))?;
        Ok(VaultClient {
            inner: Arc::new(Inner {
                http,
                addr,
                base,
                namespace: config.namespace.filter(|n| !n.trim().is_empty()),
                auth: config.auth,
                renew_token: config.renew_token,
                retry: config.retry,
                token: tokio::sync::Mutex::new(TokenState::default()),
                mounts: StdMutex::new(HashMap::new()),
                mount_lookup: tokio::sync::Mutex::new(()),
                requests: AtomicU64::new(0),
            }),
        })
    }

    /// A client from the `VAULT_*` environment variables.
    pub fn from_env() -> Result<Self, VaultError> {
        Self::new(ClientConfig::from_env()?)
    }

    /// The server address.
    pub fn addr(&self) -> &str {
        &self.inner.addr
    }

    /// The namespace requests are sent to, if any.
    pub fn namespace(&self) -> Option<&str> {
        self.inner.namespace.as_deref()
    }

    /// HTTP requests sent so far by this client and its clones (retries and
    /// logins included).
    pub fn request_count(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    fn url_for(&self, path: &str, query: &[(&'static str, String)]) -> Result<Url, VaultError> {
        let invalid = |reason: &str| VaultError::InvalidPath {
            path: path.to_string(),
            reason: reason.to_string(),
        };
        let trimmed = path.trim_start_matches('/');
        if trimmed.is_empty() {
            return Err(invalid("it is empty"));
        }
        if trimmed
            .chars()
            .any(|c| c.is_control() || c == '?' || c == '#')
        {
            return Err(invalid("it contains a control character, `?` or `#`"));
        }
        let mut url = self.inner.base.clone();
        {
            let mut segments = url
                .path_segments_mut()
                .map_err(|_| VaultError::Config("the Vault address cannot hold a path".into()))?;
            segments.pop_if_empty();
            for segment in trimmed.split('/') {
                if segment == ".." || segment == "." {
                    return Err(invalid("it contains `.` or `..` segments"));
                }
                segments.push(segment);
            }
        }
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        Ok(url)
    }

    /// Sends one request with retries. `token` is the token to send, if any.
    pub(crate) async fn execute(
        &self,
        request: &Request<'_>,
        token: Option<&SecretString>,
    ) -> Result<Answer, VaultError> {
        let url = self.url_for(request.path, &request.query)?;
        let method_name = request.method.as_str().to_string();
        let path = request.path.trim_start_matches('/').to_string();
        let retry = self.inner.retry;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            self.inner.requests.fetch_add(1, Ordering::Relaxed);
            let mut builder = self.inner.http.request(request.method.clone(), url.clone());
            if let Some(token) = token {
                builder = builder.header("X-Vault-Token", token.expose());
            }
            if let Some(ns) = &self.inner.namespace {
                builder = builder.header("X-Vault-Namespace", ns);
            }
            builder = builder.header("X-Vault-Request", "true");
            if let Some(body) = &request.body {
                let bytes = serde_json::to_vec(body).map_err(|e| VaultError::Decode {
                    method: method_name.clone(),
                    path: path.clone(),
                    message: format!("encoding the request: {e}"),
                })?;
                builder = builder
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        request.content_type.unwrap_or("application/json"),
                    )
                    .body(bytes);
            }
            let outcome = match builder.send().await {
                Err(e) => Err(VaultError::Unreachable {
                    addr: self.inner.addr.clone(),
                    method: method_name.clone(),
                    path: path.clone(),
                    attempts: attempt,
                    message: transport_message(&e),
                }),
                Ok(response) => {
                    let status = response.status();
                    let bytes = response.bytes().await;
                    match bytes {
                        Err(e) => Err(VaultError::Unreachable {
                            addr: self.inner.addr.clone(),
                            method: method_name.clone(),
                            path: path.clone(),
                            attempts: attempt,
                            message: format!("reading the answer: {}", transport_message(&e)),
                        }),
                        Ok(bytes) => self.interpret(request, &method_name, &path, status, &bytes),
                    }
                }
            };
            match outcome {
                Ok(answer) => {
                    tracing::debug!(method = %method_name, path = %path, status = answer.status, attempt, "vault request");
                    return Ok(answer);
                }
                Err(error) => {
                    let retryable = match &error {
                        VaultError::Unreachable { .. } | VaultError::Sealed { .. } => true,
                        VaultError::Api { status, errors, .. } => {
                            matches!(status, 412 | 429 | 500 | 502 | 503 | 504)
                                // A KV mount just enabled or upgraded to v2
                                // refuses requests for a moment.
                                || (*status == 400
                                    && errors.iter().any(|e| {
                                        e.contains("Upgrading from non-versioned to versioned data")
                                    }))
                        }
                        _ => false,
                    };
                    if !retryable || attempt > retry.max_retries {
                        tracing::debug!(method = %method_name, path = %path, attempt, error = %error, "vault request failed");
                        return Err(error);
                    }
                    let wait = jitter(retry.backoff(attempt));
                    tracing::info!(method = %method_name, path = %path, attempt, retry_in_ms = wait.as_millis() as u64, error = %error, "vault request failed; retrying");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    fn interpret(
        &self,
        request: &Request<'_>,
        method: &str,
        path: &str,
        status: StatusCode,
        bytes: &[u8],
    ) -> Result<Answer, VaultError> {
        let code = status.as_u16();
        let body: Option<Value> = if bytes.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            match serde_json::from_slice(bytes) {
                Ok(v) => Some(v),
                Err(e) if status.is_success() => {
                    return Err(VaultError::Decode {
                        method: method.to_string(),
                        path: path.to_string(),
                        message: format!(
                            "the {code} answer is not JSON (line {}, column {})",
                            e.line(),
                            e.column()
                        ),
                    })
                }
                Err(_) => None,
            }
        };
        if status.is_success()
            || request.accept.contains(&code)
            || (code == 404 && request.allow_404)
        {
            return Ok(Answer { status: code, body });
        }
        let errors: Vec<String> = body
            .as_ref()
            .and_then(|b| b.get("errors"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.as_str().map(|s| s.trim().to_string()))
                    .collect()
            })
            .unwrap_or_else(|| {
                // Not a Vault JSON error (a proxy page?): keep the status line only.
                status
                    .canonical_reason()
                    .map(|r| vec![r.to_string()])
                    .unwrap_or_default()
            });
        if code == 503 && errors.iter().any(|e| e.contains("sealed")) {
            return Err(VaultError::Sealed {
                addr: self.inner.addr.clone(),
                method: method.to_string(),
                path: path.to_string(),
            });
        }
        Err(VaultError::Api {
            method: method.to_string(),
            path: path.to_string(),
            status: code,
            errors,
        })
    }

    /// Sends a request with the client's token (logging in or renewing first when due).
    pub(crate) async fn send(&self, request: Request<'_>) -> Result<Answer, VaultError> {
        let token = if request.authenticated {
            self.token().await?
        } else {
            None
        };
        self.execute(&request, token.as_ref()).await
    }

    /// `GET path`: the whole answer body, or `None` for 404.
    ///
    /// Works on any Vault path; see the `kv_*` methods for KV secrets.
    pub async fn read(&self, path: &str) -> Result<Option<Value>, VaultError> {
        let answer = self.send(Request::get(path).allow_404()).await?;
        Ok(if answer.status == 404 {
            None
        } else {
            answer.body
        })
    }

    /// The `data` field of `GET path`, or `None` for 404.
    pub async fn read_data(&self, path: &str) -> Result<Option<Map<String, Value>>, VaultError> {
        match self.read(path).await? {
            None => Ok(None),
            Some(body) => Ok(Some(data_of(&body, "GET", path)?)),
        }
    }

    /// `POST path` with a JSON body: the answer body (`None` for 204).
    pub async fn write(&self, path: &str, body: Value) -> Result<Option<Value>, VaultError> {
        Ok(self.send(Request::post(path, body)).await?.body)
    }

    /// `LIST path`: the keys (empty for 404).
    pub async fn list(&self, path: &str) -> Result<Vec<String>, VaultError> {
        let answer = self.send(Request::list(path).allow_404()).await?;
        if answer.status == 404 {
            return Ok(Vec::new());
        }
        let body = answer.body.unwrap_or(Value::Null);
        Ok(body
            .pointer("/data/keys")
            .and_then(Value::as_array)
            .map(|keys| {
                keys.iter()
                    .filter_map(|k| k.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Result<(), VaultError> {
        self.send(Request::delete(path)).await.map(|_| ())
    }
}

fn host_is_loopback(url: &Url) -> bool {
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false),
        None => false,
    }
}

/// The `data` object of an answer.
pub(crate) fn data_of(
    body: &Value,
    method: &str,
    path: &str,
) -> Result<Map<String, Value>, VaultError> {
    match body.get("data") {
        Some(Value::Object(map)) => Ok(map.clone()),
        Some(Value::Null) | None => Ok(Map::new()),
        Some(_) => Err(VaultError::Decode {
            method: method.into(),
            path: path.into(),
            message: "`data` is not an object".into(),
        }),
    }
}

/// The transport error and its causes, without the URL's query.
fn transport_message(error: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    if error.is_timeout() {
        parts.push("timed out".to_string());
    } else if error.is_connect() {
        parts.push("connection failed".to_string());
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p == &text) {
            parts.push(text);
        }
        source = cause.source();
    }
    if parts.is_empty() {
        parts.push(error.to_string());
    }
    parts.join(": ")
}

/// Up to 20% random-ish jitter so clients do not retry in lockstep.
fn jitter(wait: Duration) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let extra = wait.as_millis() as u64 * (nanos as u64 % 200) / 1000;
    wait + Duration::from_millis(extra)
}

/// Seconds of a JSON number or numeric string.
pub(crate) fn as_u64(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0) as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}
