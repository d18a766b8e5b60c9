//! Sign-in for the web UI: users, sessions, CSRF tokens, the login rate
//! limit and the security headers.
//!
//! Who may look and who may change:
//!
//! - **A session**, started at `POST /login` and held in the
//!   `flotilla_session` cookie (`HttpOnly`, `SameSite=Strict`, `Path=/`,
//!   `Max-Age` of `api.sessionTtl`, `Secure` when `api.tls` is set).
//!   A user of `api.users` signs in with their password (argon2 PHC hash in
//!   the configuration); an empty user name with the API token
//!   (`api.tokenFrom`) as password signs in as `admin`, who may change
//!   things. Each session has its own CSRF token, which every form that
//!   changes something must send back ([`Auth::check_write`]).
//! - **A bearer token** (`Authorization: Bearer <api token>`), as the CLI
//!   sends: the viewer `token`, who may change things; such requests carry
//!   no CSRF token (a browser never adds that header by itself).
//! - **Nobody**, when `api.anonymousRead` is set: the viewer `anonymous`,
//!   who may only look.
//!
//! Otherwise a page answers `303` to `/login?next=...` (a `GET` or `HEAD`)
//! or `401`. Failed sign-ins are limited per client address and per user
//! name: after [`MAX_FAILURES`] within [`FAILURE_WINDOW`], attempts answer
//! `429` with `Retry-After` until the window moves on, even with the right
//! password. Unknown users are checked against a dummy hash, so that the
//! answer's timing does not tell which names exist, and the message is the
//! same. The login form is CSRF-protected too (a random
//! `flotilla_login_csrf` cookie and hidden field), so that another site
//! cannot sign a browser in as someone else.
//!
//! [`security_headers`] adds a strict Content-Security-Policy (no inline
//! script or style: pages use `/ui/static/*` only) and the usual hardening
//! headers to every response.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Argon2, PasswordHash};
use askama::Template;
use axum::extract::{
    ConnectInfo, FromRequestParts, OptionalFromRequestParts, Query, Request, State,
};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use flotilla_core::SecretString;
use serde::Deserialize;
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use super::session::{is_token, random_token, RateLimiter, Sessions};
pub use super::session::{FAILURE_WINDOW, MAX_FAILURES, MAX_SESSIONS};
use super::Ui;
use crate::config::ApiConfig;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "flotilla_session";
/// The login form's CSRF cookie's name (set by `GET /login`, checked by
/// `POST /login`).
pub const LOGIN_CSRF_COOKIE: &str = "flotilla_login_csrf";
/// Where a sign-in leads without a (valid) `next`.
pub const DEFAULT_NEXT: &str = "/applications";
/// The user a sign-in with the API token becomes.
pub const TOKEN_SESSION_USER: &str = "admin";
/// The viewer of a request with the API token as bearer token.
pub const BEARER_USER: &str = "token";
/// The viewer of a request without credentials, under `api.anonymousRead`.
pub const ANONYMOUS_USER: &str = "anonymous";
/// The `Content-Security-Policy` of every response: our own scripts and
/// styles only, none inline; no framing; forms post to us only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// How long the login form's CSRF cookie lasts, in seconds.
const LOGIN_CSRF_MAX_AGE: u64 = 3600;
/// Longer user names are never valid (and are cut to this for the rate limit).
const MAX_NAME_LEN: usize = 256;
/// Longer passwords are refused without hashing them.
const MAX_PASSWORD_LEN: usize = 4096;
/// Password checks run at once at most (each takes ~19 MiB and a core for
/// tens of milliseconds with the default parameters).
const MAX_CONCURRENT_VERIFY: usize = 4;
/// What unknown user names are checked against, so that they take as long
/// as known ones: the argon2id hash, with the default parameters, of a
/// random password nobody knows.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$\
     3ERcuocvevQ8TgR7Aomfxw$Mzb8MWT8aWmpmTxXF4TjWgmk5VI82dyFUiJnx126yxQ";

/// Who is looking at a page, and what they may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    /// The user name shown; [`BEARER_USER`] for the API token as bearer
    /// token, [`ANONYMOUS_USER`] under `api.anonymousRead`.
    pub user: String,
    /// Whether they may sync, refresh, roll back, delete.
    pub can_write: bool,
    /// The session's CSRF token, to put in every form (`name="csrf"`).
    /// Empty for bearer and anonymous viewers, who have no session.
    pub csrf: String,
}

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Empty passwords are not accepted.
    #[error("the password is empty")]
    Empty,
    /// The hasher failed.
    #[error("hashing the password: {0}")]
    Hash(String),
}

/// The argon2id PHC string of `password` (default parameters, a random
/// salt), as `api.users[].passwordHash` wants it.
///
/// # Errors
///
/// [`HashError::Empty`] for an empty password; [`HashError::Hash`] if
/// hashing fails (no random numbers).
pub fn hash_password(password: &str) -> Result<String, HashError> {
    if password.is_empty() {
        return Err(HashError::Empty);
    }
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| HashError::Hash(e.to_string()))
}

/// Whether `password` matches the argon2 PHC string `hash` (with the
/// parameters the hash names). A hash that does not parse matches nothing.
pub fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A configured user.
struct User {
    hash: SecretString,
    read_only: bool,
}

/// Users, sessions, CSRF tokens and the login rate limit of one UI.
pub struct Auth {
    token: Option<SecretString>,
    anonymous_read: bool,
    users: std::collections::HashMap<String, User>,
    secure: bool,
    sessions: Mutex<Sessions>,
    limiter: Mutex<RateLimiter>,
    verifying: Semaphore,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("users", &self.users.len())
            .field("token", &self.token.is_some())
            .field("anonymous_read", &self.anonymous_read)
            .field("secure", &self.secure)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn ct_eq(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

impl Auth {
    /// Users, token and cookie settings from the `api` configuration; no
    /// session yet.
    pub fn new(api: &ApiConfig) -> Auth {
        Auth {
            token: api.token.clone().filter(|t| !t.is_empty()),
            anonymous_read: api.anonymous_read,
            users: api
                .users
                .iter()
                .map(|u| {
                    let user = User {
                        hash: u.password_hash.clone(),
                        read_only: u.read_only,
                    };
                    (u.name.clone(), user)
                })
                .collect(),
            secure: api.tls.is_some(),
            sessions: Mutex::new(Sessions::new(api.session_ttl, MAX_SESSIONS)),
            limiter: Mutex::new(RateLimiter::default()),
            verifying: Semaphore::new(MAX_CONCURRENT_VERIFY),
        }
    }

    /// Whether cookies are marked `Secure` (the API is served over TLS).
    pub fn secure_cookies(&self) -> bool {
        self.secure
    }

    /// The viewer of a request with these headers: its session, else its
    /// bearer token, else anonymous under `api.anonymousRead`; `None` when
    /// it must sign in.
    pub fn viewer(&self, headers: &HeaderMap) -> Option<Viewer> {
        let now = Instant::now();
        for id in cookies(headers, SESSION_COOKIE) {
            if let Some(s) = lock(&self.sessions).get(id, now) {
                return Some(Viewer {
                    user: s.user,
                    can_write: s.can_write,
                    csrf: s.csrf,
                });
            }
        }
        if bearer(headers).is_some_and(|given| self.token_matches(given)) {
            return Some(Viewer {
                user: BEARER_USER.to_string(),
                can_write: true,
                csrf: String::new(),
            });
        }
        self.anonymous_read.then(|| Viewer {
            user: ANONYMOUS_USER.to_string(),
            can_write: false,
            csrf: String::new(),
        })
    }

    fn token_matches(&self, given: &str) -> bool {
        self.token
            .as_ref()
            .is_some_and(|t| ct_eq(t.expose(), given))
    }

    /// Refuses a change by `viewer` unless they may write and, for a
    /// session, `csrf_from_form` is the session's CSRF token (compared in
    /// constant time). Bearer-token viewers are not CSRF-checked.
    ///
    /// # Errors
    ///
    /// A `403` page saying why (a `Response`, to return from a handler as
    /// it is).
    #[allow(clippy::result_large_err)]
    pub fn check_write(&self, viewer: &Viewer, csrf_from_form: &str) -> Result<(), Response> {
        if !viewer.can_write {
            let message = if viewer.csrf.is_empty() && viewer.user == ANONYMOUS_USER {
                "You are not signed in: sign in to make changes.".to_string()
            } else {
                format!(
                    "{} is a read-only user: changes are not allowed.",
                    viewer.user
                )
            };
            return Err(denied(viewer, StatusCode::FORBIDDEN, "Read-only", &message));
        }
        if viewer.csrf.is_empty() {
            // A bearer token: browsers do not attach those by themselves.
            return Ok(());
        }
        if csrf_from_form.is_empty() || !ct_eq(&viewer.csrf, csrf_from_form) {
            return Err(denied(
                viewer,
                StatusCode::FORBIDDEN,
                "Forbidden",
                "CSRF token missing or wrong: reload the page and try again.",
            ));
        }
        Ok(())
    }

    /// Starts a session for `user` (as a sign-in does) and answers its id,
    /// the value of the [`SESSION_COOKIE`], with the viewer it stands for.
    pub fn start_session(&self, user: &str, can_write: bool) -> (String, Viewer) {
        let (id, s) = lock(&self.sessions).create(user, can_write, Instant::now());
        let viewer = Viewer {
            user: s.user,
            can_write: s.can_write,
            csrf: s.csrf,
        };
        (id, viewer)
    }

    /// Ends the session with this id; whether there was one.
    pub fn end_session(&self, id: &str) -> bool {
        lock(&self.sessions).remove(id)
    }

    /// The `Set-Cookie` value that holds session `id`.
    pub fn session_cookie(&self, id: &str) -> String {
        let ttl = lock(&self.sessions).ttl().as_secs();
        self.cookie(SESSION_COOKIE, id, "/", ttl)
    }

    fn cookie(&self, name: &str, value: &str, path: &str, max_age: u64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("{name}={value}; HttpOnly; SameSite=Strict; Path={path}; Max-Age={max_age}{secure}")
    }

    /// The user a sign-in with `username` and `password` becomes, with
    /// whether they may write. Takes about as long for unknown names as for
    /// known ones.
    async fn authenticate(&self, username: &str, password: &str) -> Option<(String, bool)> {
        if password.len() > MAX_PASSWORD_LEN {
            return None;
        }
        if username.is_empty() {
            return self
                .token_matches(password)
                .then(|| (TOKEN_SESSION_USER.to_string(), true));
        }
        let (hash, read_only, known) = match self.users.get(username) {
            Some(u) => (u.hash.expose().to_string(), u.read_only, true),
            None => (DUMMY_HASH.to_string(), true, false),
        };
        let _permit = self.verifying.acquire().await.ok()?;
        let password = password.to_string();
        let matched = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
            .await
            .unwrap_or(false);
        (matched && known).then(|| (username.to_string(), !read_only))
    }
}

/// The values of cookie `name` in the request's `Cookie` headers.
fn cookies<'h>(headers: &'h HeaderMap, name: &'h str) -> impl Iterator<Item = &'h str> + 'h {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(move |pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k.trim() == name).then(|| v.trim().trim_matches('"'))
        })
}

/// The token of an `Authorization: Bearer ...` header.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// `raw` when it is a path of this site to go to after signing in: it
/// starts with one `/` (not `//`, which would be another host), holds no
/// backslash or control character, and is not the login page itself.
pub fn safe_next(raw: &str) -> Option<&str> {
    let local = raw.starts_with('/') && !raw.starts_with("//") && !raw.starts_with("/\\");
    let clean = !raw.chars().any(|c| c == '\\' || c.is_control());
    let path = raw.split(['?', '#']).next().unwrap_or(raw);
    let login = path == "/login" || path == "/logout";
    (local && clean && !login && raw.len() <= 2048).then_some(raw)
}

/// `s` percent-encoded for a query parameter (all but `A-Z a-z 0-9 - . _ ~`).
fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `next` (already [`safe_next`]) as a `Location`: bytes outside visible
/// ASCII percent-encoded.
fn location(next: &str) -> HeaderValue {
    let mut out = String::with_capacity(next.len());
    for b in next.bytes() {
        if b.is_ascii_graphic() {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    HeaderValue::from_str(&out).unwrap_or(HeaderValue::from_static(DEFAULT_NEXT))
}

fn see_other(to: HeaderValue, cookies: &[String]) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::LOCATION, to);
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            headers.append(header::SET_COOKIE, v);
        }
    }
    (StatusCode::SEE_OTHER, headers).into_response()
}

/// The answer to a request that must sign in first.
fn sign_in_required(parts: &Parts) -> Response {
    if parts.method == Method::GET || parts.method == Method::HEAD {
        let here = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        let to = match safe_next(here) {
            Some(next) if next != DEFAULT_NEXT => format!("/login?next={}", encode_component(next)),
            _ => "/login".to_string(),
        };
        let to = HeaderValue::from_str(&to).unwrap_or(HeaderValue::from_static("/login"));
        return see_other(to, &[]);
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "Sign in first (open /login in a browser), or send Authorization: Bearer <api token>.\n",
    )
        .into_response()
}

impl FromRequestParts<Ui> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, ui: &Ui) -> Result<Self, Self::Rejection> {
        ui.auth
            .viewer(&parts.headers)
            .ok_or_else(|| sign_in_required(parts))
    }
}

impl OptionalFromRequestParts<Ui> for Viewer {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        ui: &Ui,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(ui.auth.viewer(&parts.headers))
    }
}

/// The client a sign-in attempt is counted against: its IP address (an
/// IPv6 address by its /64), or one shared bucket when the server was not
/// served with connection info.
struct Client(String);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let addr = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_canonical());
        Ok(Client(match addr {
            Some(IpAddr::V6(v6)) => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
            Some(ip) => ip.to_string(),
            None => "unknown".to_string(),
        }))
    }
}

/// The sign-in routes: `GET /login`, `POST /login`, `POST /logout`.
pub fn routes() -> Router<Ui> {
    Router::new()
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", post(logout))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    viewer_name: Option<String>,
    /// The login form's CSRF token.
    csrf: String,
    next: String,
    username: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(
    source = r#"{% extends "base.html" %}
{% block title %}{{ title }}{% endblock %}
{% block content %}
<section class="denied">
<h1>{{ title }}</h1>
<p class="error" id="denied">{{ message }}</p>
<p><a href="/applications">Back to the applications</a></p>
</section>
{% endblock %}"#,
    ext = "html"
)]
struct DeniedPage<'a> {
    viewer_name: Option<String>,
    csrf: String,
    title: &'a str,
    message: &'a str,
}

fn html(status: StatusCode, body: Result<String, askama::Error>) -> Response {
    match body {
        Ok(body) => (status, Html(body)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering a page");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot render the page\n",
            )
                .into_response()
        }
    }
}

fn denied(viewer: &Viewer, status: StatusCode, title: &str, message: &str) -> Response {
    let page = DeniedPage {
        viewer_name: (!viewer.csrf.is_empty()).then(|| viewer.user.clone()),
        csrf: viewer.csrf.clone(),
        title,
        message,
    };
    html(status, page.render())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LoginQuery {
    next: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LoginForm {
    username: String,
    password: String,
    csrf: String,
    next: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CsrfForm {
    csrf: String,
}

impl Auth {
    /// The login form's CSRF token of this browser, if it has a usable one.
    fn login_csrf<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        cookies(headers, LOGIN_CSRF_COOKIE).find(|v| is_token(v))
    }

    /// The login form with `status`, an error, and a (re)newed CSRF cookie.
    fn login_form(
        &self,
        headers: &HeaderMap,
        status: StatusCode,
        next: &str,
        username: &str,
        error: Option<String>,
        extra: &[(header::HeaderName, HeaderValue)],
    ) -> Response {
        let csrf = self
            .login_csrf(headers)
            .map_or_else(random_token, str::to_string);
        let page = LoginPage {
            viewer_name: None,
            csrf: csrf.clone(),
            next: safe_next(next).unwrap_or("").to_string(),
            username: username.chars().take(MAX_NAME_LEN).collect(),
            error,
        };
        let mut response = html(status, page.render());
        let cookie = self.cookie(LOGIN_CSRF_COOKIE, &csrf, "/login", LOGIN_CSRF_MAX_AGE);
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
        for (name, value) in extra {
            response.headers_mut().insert(name, value.clone());
        }
        response
    }
}

async fn login_page(
    State(ui): State<Ui>,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Response {
    let auth = &ui.auth;
    let signed_in = cookies(&headers, SESSION_COOKIE)
        .any(|id| lock(&auth.sessions).get(id, Instant::now()).is_some());
    if signed_in {
        let next = safe_next(&query.next).unwrap_or(DEFAULT_NEXT);
        return see_other(location(next), &[]);
    }
    auth.login_form(&headers, StatusCode::OK, &query.next, "", None, &[])
}

async fn login_submit(
    State(ui): State<Ui>,
    Client(client): Client,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let auth = &ui.auth;
    let form_ok = auth
        .login_csrf(&headers)
        .is_some_and(|expected| !form.csrf.is_empty() && ct_eq(expected, &form.csrf));
    if !form_ok {
        let error = "CSRF token missing or wrong: the form expired or came from another site. \
                     Sign in again."
            .to_string();
        return auth.login_form(
            &headers,
            StatusCode::FORBIDDEN,
            &form.next,
            &form.username,
            Some(error),
            &[],
        );
    }
    let name_key: String = form.username.chars().take(MAX_NAME_LEN).collect();
    let begun = lock(&auth.limiter).begin(&client, &name_key, Instant::now());
    let attempt = match begun {
        Ok(attempt) => attempt,
        Err(wait) => {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            tracing::warn!(client, "sign-in refused: too many failed attempts");
            let error = format!(
                "Too many failed sign-in attempts. Try again in {} (or later).",
                humantime::format_duration(std::time::Duration::from_secs(secs))
            );
            let retry = [(header::RETRY_AFTER, HeaderValue::from(secs))];
            return auth.login_form(
                &headers,
                StatusCode::TOO_MANY_REQUESTS,
                &form.next,
                &form.username,
                Some(error),
                &retry,
            );
        }
    };
    let Some((user, can_write)) = auth.authenticate(&form.username, &form.password).await else {
        tracing::info!(client, "sign-in failed: wrong user name or password");
        return auth.login_form(
            &headers,
            StatusCode::UNAUTHORIZED,
            &form.next,
            &form.username,
            Some("Wrong user name or password.".to_string()),
            &[],
        );
    };
    lock(&auth.limiter).succeeded(attempt);
    tracing::info!(user, client, "signed in");
    let (id, _) = auth.start_session(&user, can_write);
    let next = safe_next(&form.next).unwrap_or(DEFAULT_NEXT);
    see_other(
        location(next),
        &[
            auth.session_cookie(&id),
            auth.cookie(LOGIN_CSRF_COOKIE, "", "/login", 0),
        ],
    )
}

async fn logout(State(ui): State<Ui>, headers: HeaderMap, Form(form): Form<CsrfForm>) -> Response {
    let auth = &ui.auth;
    let now = Instant::now();
    let session = cookies(&headers, SESSION_COOKIE)
        .find_map(|id| lock(&auth.sessions).get(id, now).map(|s| (id, s)));
    if let Some((id, s)) = session {
        if form.csrf.is_empty() || !ct_eq(&s.csrf, &form.csrf) {
            let viewer = Viewer {
                user: s.user,
                can_write: s.can_write,
                csrf: s.csrf,
            };
            return denied(
                &viewer,
                StatusCode::FORBIDDEN,
                "Forbidden",
                "CSRF token missing or wrong: reload the page and try again.",
            );
        }
        auth.end_session(id);
        tracing::info!(user = s.user, "signed out");
    }
    see_other(
        HeaderValue::from_static("/login"),
        &[auth.cookie(SESSION_COOKIE, "", "/", 0)],
    )
}

/// Middleware adding the security headers to every response: the strict
/// [`CONTENT_SECURITY_POLICY`], `X-Content-Type-Options: nosniff`,
/// `Referrer-Policy: same-origin`, `X-Frame-Options: DENY`, and
/// `Cache-Control: no-store` on HTML. Apply it with
/// `axum::middleware::from_fn(security_headers)`.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    let is_html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/html"));
    if is_html {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{TlsConfig, UserConfig};

    fn config(tls: bool) -> ApiConfig {
        ApiConfig {
            token: Some(SecretString::new("the-token")),
            users: vec![
                UserConfig {
                    name: "alice".to_string(),
                    password_hash: SecretString::new(hash_password("alice-pw").unwrap()),
                    read_only: false,
                },
                UserConfig {
                    name: "bob".to_string(),
                    password_hash: SecretString::new(hash_password("bob-pw").unwrap()),
                    read_only: true,
                },
            ],
            tls: tls.then(|| TlsConfig {
                cert_file: "cert.pem".into(),
                key_file: "key.pem".into(),
            }),
            ..ApiConfig::default()
        }
    }

    fn with_cookie(id: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let value = format!("other=1; {SESSION_COOKIE}={id}; x=y");
        headers.insert(header::COOKIE, HeaderValue::from_str(&value).unwrap());
        headers
    }

    #[test]
    fn hash_and_verify_round_trip() {
        let hash = hash_password("correct horse").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct horse ", &hash));
        assert!(!verify_password("", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
        // Salted: the same password hashes differently each time.
        assert_ne!(hash_password("correct horse").unwrap(), hash);
        assert!(matches!(hash_password(""), Err(HashError::Empty)));
        // The dummy hash is a real one with the default parameters.
        let dummy = PasswordHash::new(DUMMY_HASH).unwrap();
        let params = argon2::Params::try_from(&dummy).unwrap();
        let default = argon2::Params::default();
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (default.m_cost(), default.t_cost(), default.p_cost())
        );
        assert_eq!(dummy.algorithm, argon2::ARGON2ID_IDENT);
    }

    #[test]
    fn next_paths_stay_on_this_site() {
        assert_eq!(safe_next("/applications/web"), Some("/applications/web"));
        assert_eq!(
            safe_next("/applications?q=web&page=2"),
            Some("/applications?q=web&page=2")
        );
        assert_eq!(safe_next("/"), Some("/"));
        for bad in [
            "",
            "applications",
            "//evil.example/x",
            "/\\evil.example",
            "/a\\b",
            "https://evil.example/",
            "/a\nb",
            "/login",
            "/login?next=/x",
            "/logout",
        ] {
            assert_eq!(safe_next(bad), None, "{bad:?}");
        }
        assert_eq!(safe_next(&format!("/{}", "a".repeat(3000))), None);
        assert_eq!(
            encode_component("/apps?q=a b&x=ü"),
            "%2Fapps%3Fq%3Da%20b%26x%3D%C3%BC"
        );
        assert_eq!(location("/a b"), "/a%20b");
    }

    #[test]
    fn viewers_from_session_bearer_or_anonymous() {
        let auth = Auth::new(&config(false));
        assert_eq!(auth.viewer(&HeaderMap::new()), None);
        let (id, viewer) = auth.start_session("alice", true);
        assert_eq!(auth.viewer(&with_cookie(&id)), Some(viewer.clone()));
        assert!(!viewer.csrf.is_empty());
        assert_eq!(auth.viewer(&with_cookie("forged")), None);

        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer the-token"),
        );
        let token = auth.viewer(&headers).unwrap();
        assert_eq!(token.user, BEARER_USER);
        assert!(token.can_write);
        assert!(token.csrf.is_empty());
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer wrong"),
        );
        assert_eq!(auth.viewer(&headers), None);

        let anonymous = Auth::new(&ApiConfig {
            anonymous_read: true,
            ..ApiConfig::default()
        });
        let viewer = anonymous.viewer(&HeaderMap::new()).unwrap();
        assert_eq!(viewer.user, ANONYMOUS_USER);
        assert!(!viewer.can_write);

        assert!(auth.end_session(&id));
        assert_eq!(auth.viewer(&with_cookie(&id)), None);
    }

    #[test]
    fn writes_need_rights_and_the_csrf_token() {
        let auth = Auth::new(&config(false));
        let (_, alice) = auth.start_session("alice", true);
        assert!(auth.check_write(&alice, &alice.csrf).is_ok());
        let wrong = auth.check_write(&alice, "nope").unwrap_err();
        assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
        let missing = auth.check_write(&alice, "").unwrap_err();
        assert_eq!(missing.status(), StatusCode::FORBIDDEN);

        let (_, bob) = auth.start_session("bob", false);
        let read_only = auth.check_write(&bob, &bob.csrf).unwrap_err();
        assert_eq!(read_only.status(), StatusCode::FORBIDDEN);

        let bearer = Viewer {
            user: BEARER_USER.to_string(),
            can_write: true,
            csrf: String::new(),
        };
        assert!(auth.check_write(&bearer, "").is_ok());
        let anonymous = Viewer {
            user: ANONYMOUS_USER.to_string(),
            can_write: false,
            csrf: String::new(),
        };
        assert!(auth.check_write(&anonymous, "").is_err());
    }

    #[tokio::test]
    async fn who_signs_in() {
        let auth = Auth::new(&config(false));
        assert_eq!(
            auth.authenticate("", "the-token").await,
            Some((TOKEN_SESSION_USER.to_string(), true))
        );
        assert_eq!(auth.authenticate("", "the-token2").await, None);
        assert_eq!(auth.authenticate("", "").await, None);
        assert_eq!(
            auth.authenticate("alice", "alice-pw").await,
            Some(("alice".to_string(), true))
        );
        assert_eq!(
            auth.authenticate("bob", "bob-pw").await,
            Some(("bob".to_string(), false))
        );
        assert_eq!(auth.authenticate("alice", "bob-pw").await, None);
        assert_eq!(auth.authenticate("carol", "alice-pw").await, None);
        // Without a configured token, an empty user name signs nobody in.
        let no_token = Auth::new(&ApiConfig::default());
        assert_eq!(no_token.authenticate("", "").await, None);
    }

    #[test]
    fn cookie_flags() {
        let plain = Auth::new(&ApiConfig::default());
        assert_eq!(
            plain.session_cookie("abc"),
            "flotilla_session=abc; HttpOnly; SameSite=Strict; Path=/; Max-Age=86400"
        );
        let tls = Auth::new(&config(true));
        assert!(tls.secure_cookies());
        assert!(tls.session_cookie("abc").ends_with("; Secure"));
    }
}
