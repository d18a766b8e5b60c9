//! Sign-in to the web UI over real HTTP and HTTPS: a real `Controller`
//! (no cluster is contacted), its `api::Server` serving the UI routes with
//! the security headers, and reqwest without a cookie store, so that every
//! cookie and its flags are seen as a browser would get them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use flotilla_controller::api::{ApiError, Server};
use flotilla_controller::config::ControllerConfig;
use flotilla_controller::ui::auth::{hash_password, security_headers, Viewer};
use flotilla_controller::ui::{self, Ui};
use flotilla_controller::Controller;
use reqwest::header::{HeaderMap, CONTENT_SECURITY_POLICY, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use reqwest::StatusCode;

const KUBECONFIG: &str = "\
apiVersion: v1
kind: Config
clusters:
  - {name: cl-a, cluster: {server: 'https://127.0.0.1:1'}}
users:
  - {name: u, user: {token: t}}
contexts:
  - {name: ctx-a, context: {cluster: cl-a, user: u}}
current-context: ctx-a
";

const TOKEN: &str = "ui-test-api-token";
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A controller in `dir` with users alice, bob (read-only), carol and dave
/// (each's password is `<name>-pw`), the API token, and `extra_api` lines.
async fn controller(dir: &Path, extra_api: &str) -> Controller {
    std::fs::create_dir_all(dir.join("apps")).unwrap();
    std::fs::write(dir.join("kubeconfig"), KUBECONFIG).unwrap();
    let mut users = String::new();
    for (name, read_only) in [
        ("alice", false),
        ("bob", true),
        ("carol", false),
        ("dave", false),
    ] {
        let hash = hash_password(&format!("{name}-pw")).unwrap();
        users.push_str(&format!(
            "    - {{name: {name}, passwordHash: '{hash}', readOnly: {read_only}}}\n"
        ));
    }
    let text = format!(
        "applications: [{{directory: apps}}]\nclusters: {{kubeconfig: kubeconfig}}\n\
         api:\n  listen: '127.0.0.1:0'\n  tokenFrom: {{value: {TOKEN}}}\n  users:\n{users}{extra_api}"
    );
    let config = ControllerConfig::parse(&text, &dir.join("flotilla.yaml")).unwrap();
    Controller::new(config).await.unwrap()
}

/// `GET`: who is looking, and their CSRF token.
async fn whoami(viewer: Viewer) -> String {
    format!("{} {} {}", viewer.user, viewer.can_write, viewer.csrf)
}

/// `POST`: a change, as the UI's action forms make.
async fn change(
    State(ui): State<Ui>,
    viewer: Viewer,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let csrf = form.get("csrf").map_or("", String::as_str);
    match ui.auth.check_write(&viewer, csrf) {
        Ok(()) => "changed".into_response(),
        Err(refused) => refused,
    }
}

/// Serves the UI (and the two test routes) with the controller's server;
/// answers its base URL.
async fn serve(controller: &Controller) -> String {
    let ui = Ui::new(controller.clone());
    let router = Router::new()
        .route("/test/whoami", get(whoami).post(change))
        .with_state(ui.clone())
        .merge(ui::router(ui))
        .layer(axum::middleware::from_fn(security_headers));
    let server = Server::bind(controller).await.unwrap().with_router(router);
    let scheme = if server.is_tls() { "https" } else { "http" };
    let port = server.local_addr().unwrap().port();
    tokio::spawn(server.serve());
    format!("{scheme}://127.0.0.1:{port}")
}

fn client_from(ip: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .local_address(IpAddr::from(ip))
        .build()
        .unwrap()
}

/// Whether an HTML text has an `on...=` attribute (an inline event handler).
fn has_event_handler(html: &str) -> bool {
    html.match_indices(" on").any(|(i, _)| {
        let rest = &html[i + 3..];
        let name_len = rest.chars().take_while(char::is_ascii_alphabetic).count();
        name_len > 0 && rest[name_len..].starts_with('=')
    })
}

/// The `Set-Cookie` header setting `name`.
fn set_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

/// The value a `Set-Cookie` header sets.
fn cookie_value(set_cookie: &str) -> String {
    let pair = set_cookie.split(';').next().unwrap();
    pair.split_once('=').unwrap().1.to_string()
}

/// The login form's CSRF token: its cookie and its hidden field.
async fn login_form(client: &reqwest::Client, base: &str) -> (String, String) {
    let response = client.get(format!("{base}/login")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = set_cookie(response.headers(), "flotilla_login_csrf").expect("csrf cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    let body = response.text().await.unwrap();
    let field = body
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("csrf field")
        .to_string();
    (cookie_value(&cookie), field)
}

/// Posts the login form (with a fresh form CSRF token).
async fn login(
    client: &reqwest::Client,
    base: &str,
    username: &str,
    password: &str,
    next: &str,
) -> reqwest::Response {
    let (cookie, field) = login_form(client, base).await;
    client
        .post(format!("{base}/login"))
        .header("cookie", format!("flotilla_login_csrf={cookie}"))
        .form(&[
            ("username", username),
            ("password", password),
            ("csrf", &field),
            ("next", next),
        ])
        .send()
        .await
        .unwrap()
}

/// Signs in; answers the session cookie's `Set-Cookie` header.
async fn session(client: &reqwest::Client, base: &str, user: &str, password: &str) -> String {
    let response = login(client, base, user, password, "").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{user}");
    set_cookie(response.headers(), "flotilla_session").expect("session cookie")
}

async fn get_as(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    cookie: &str,
) -> reqwest::Response {
    client
        .get(format!("{base}{path}"))
        .header("cookie", format!("flotilla_session={cookie}"))
        .send()
        .await
        .unwrap()
}

async fn post_as(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    cookie: &str,
    csrf: &str,
) -> reqwest::Response {
    client
        .post(format!("{base}{path}"))
        .header("cookie", format!("flotilla_session={cookie}"))
        .form(&[("csrf", csrf)])
        .send()
        .await
        .unwrap()
}

/// `user can_write csrf` of a session.
async fn who(client: &reqwest::Client, base: &str, cookie: &str) -> (String, String, String) {
    let response = get_as(client, base, "/test/whoami", cookie).await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    let mut parts = text.split(' ').map(str::to_string);
    let user = parts.next().unwrap();
    let can_write = parts.next().unwrap();
    (user, can_write, parts.next().unwrap_or_default())
}

#[tokio::test]
async fn sign_in_and_out_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let controller = controller(dir.path(), "").await;
    let base = serve(&controller).await;
    let client = client_from([127, 0, 0, 1]);

    // The login page: strict headers, no inline script or style.
    let page = client.get(format!("{base}/login")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let headers = page.headers().clone();
    assert_eq!(headers[CONTENT_SECURITY_POLICY], CSP);
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "same-origin");
    assert_eq!(headers["cache-control"], "no-store");
    let body = page.text().await.unwrap();
    assert!(body.contains("Leave the user name empty to sign in with an API token"));
    assert!(body.contains(r#"name="username""#) && body.contains(r#"type="password""#));
    for (i, tag) in body.match_indices("<script").enumerate() {
        let end = body[tag.0..].find('>').unwrap();
        assert!(
            body[tag.0..tag.0 + end].contains("src="),
            "inline script #{i}"
        );
        assert!(
            body[tag.0 + end..].starts_with("></script>"),
            "inline script #{i}"
        );
    }
    assert!(!body.contains("style="), "inline style attribute");
    assert!(!body.contains("<style"), "inline style element");
    assert!(!has_event_handler(&body), "inline event handler");

    // Pages need a session: GET redirects to the login page, other methods get 401.
    let anonymous = client
        .get(format!("{base}/test/whoami?x=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        anonymous.headers()[LOCATION],
        "/login?next=%2Ftest%2Fwhoami%3Fx%3D1"
    );
    let anonymous = client
        .post(format!("{base}/test/whoami"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // The login form is CSRF-protected itself.
    let forged = client
        .post(format!("{base}/login"))
        .form(&[("username", "alice"), ("password", "alice-pw")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(forged.text().await.unwrap().contains("CSRF"));

    // A wrong password, and an unknown user, get the same answer.
    for (user, password) in [("alice", "wrong"), ("nobody", "alice-pw")] {
        let wrong = login(&client, &base, user, password, "").await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "{user}");
        assert!(set_cookie(wrong.headers(), "flotilla_session").is_none());
        let body = wrong.text().await.unwrap();
        assert!(body.contains("Wrong user name or password"), "{body}");
        assert!(!body.contains(password), "the password is not echoed");
    }

    // The right password: a session cookie with its flags, then `next`.
    let ok = login(
        &client,
        &base,
        "alice",
        "alice-pw",
        "/applications/web?tab=tree",
    )
    .await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert_eq!(ok.headers()[LOCATION], "/applications/web?tab=tree");
    let cookie = set_cookie(ok.headers(), "flotilla_session").unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=86400"] {
        assert!(cookie.split("; ").any(|f| f == flag), "{flag} in {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "no Secure on plain HTTP: {cookie}"
    );
    let alice = cookie_value(&cookie);
    assert_eq!(alice.len(), 43, "256 bits, base64url");
    // The login CSRF cookie is spent.
    let spent = set_cookie(ok.headers(), "flotilla_login_csrf").unwrap();
    assert!(spent.contains("Max-Age=0"), "{spent}");

    // Signed in, the login page leads on.
    let again = get_as(&client, &base, "/login", &alice).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    assert_eq!(again.headers()[LOCATION], "/applications");

    // A next path to another site is ignored.
    let elsewhere = login(&client, &base, "carol", "carol-pw", "//evil.example/x").await;
    assert_eq!(elsewhere.headers()[LOCATION], "/applications");

    // Changes need the session's CSRF token.
    let (user, can_write, csrf) = who(&client, &base, &alice).await;
    assert_eq!((user.as_str(), can_write.as_str()), ("alice", "true"));
    assert_eq!(csrf.len(), 43);
    let refused = post_as(&client, &base, "/test/whoami", &alice, "").await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("CSRF token missing or wrong"));
    let refused = post_as(
        &client,
        &base,
        "/test/whoami",
        &alice,
        "x".repeat(43).as_str(),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let changed = post_as(&client, &base, "/test/whoami", &alice, &csrf).await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(changed.text().await.unwrap(), "changed");

    // A read-only user may look, not change.
    let bob = cookie_value(&session(&client, &base, "bob", "bob-pw").await);
    let (user, can_write, bob_csrf) = who(&client, &base, &bob).await;
    assert_eq!((user.as_str(), can_write.as_str()), ("bob", "false"));
    let refused = post_as(&client, &base, "/test/whoami", &bob, &bob_csrf).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused.text().await.unwrap().contains("read-only"));

    // The API token with an empty user name signs in as admin.
    let admin = cookie_value(&session(&client, &base, "", TOKEN).await);
    let (user, can_write, _) = who(&client, &base, &admin).await;
    assert_eq!((user.as_str(), can_write.as_str()), ("admin", "true"));
    let wrong_token = login(&client, &base, "", "not-the-token", "").await;
    assert_eq!(wrong_token.status(), StatusCode::UNAUTHORIZED);

    // The CLI's bearer token still works, without CSRF token.
    let bearer = client
        .post(format!("{base}/test/whoami"))
        .bearer_auth(TOKEN)
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), StatusCode::OK);
    assert_eq!(bearer.text().await.unwrap(), "changed");

    // Logging out needs the CSRF token, then ends the session.
    let refused = post_as(&client, &base, "/logout", &alice, "").await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(who(&client, &base, &alice).await.0, "alice");
    let out = post_as(&client, &base, "/logout", &alice, &csrf).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(out.headers()[LOCATION], "/login");
    let cleared = set_cookie(out.headers(), "flotilla_session").unwrap();
    assert!(cleared.starts_with("flotilla_session=;"), "{cleared}");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let gone = get_as(&client, &base, "/test/whoami", &alice).await;
    assert_eq!(gone.status(), StatusCode::SEE_OTHER);
    assert!(gone.headers()[LOCATION]
        .to_str()
        .unwrap()
        .starts_with("/login"));
    // Other sessions live on.
    assert_eq!(who(&client, &base, &bob).await.0, "bob");

    controller.shutdown();
}

#[tokio::test]
async fn failed_sign_ins_are_rate_limited() {
    let dir = tempfile::tempdir().unwrap();
    let controller = controller(dir.path(), "").await;
    let base = serve(&controller).await;
    let first = client_from([127, 0, 0, 1]);

    for i in 0..5 {
        let wrong = login(&first, &base, "carol", "wrong", "").await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let limited = login(&first, &base, "carol", "wrong", "").await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    // Even the right password, even from another address.
    let second = client_from([127, 0, 0, 2]);
    let limited = login(&second, &base, "carol", "carol-pw", "").await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=300).contains(&retry), "{retry}");
    assert!(set_cookie(limited.headers(), "flotilla_session").is_none());
    assert!(limited
        .text()
        .await
        .unwrap()
        .contains("Too many failed sign-in attempts"));
    // The address that failed is limited for every user name.
    let limited = login(&first, &base, "dave", "dave-pw", "").await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    // A fresh user from another address signs in.
    let ok = login(&second, &base, "dave", "dave-pw", "").await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);

    controller.shutdown();
}

#[tokio::test]
async fn tls_serves_https_and_marks_cookies_secure() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let pair = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let cert_pem = pair.cert.pem();
    std::fs::write(dir.path().join("cert.pem"), &cert_pem).unwrap();
    std::fs::write(dir.path().join("key.pem"), pair.signing_key.serialize_pem()).unwrap();
    let controller = controller(
        dir.path(),
        "  tls: {certFile: cert.pem, keyFile: key.pem}\n",
    )
    .await;
    let base = serve(&controller).await;
    assert!(base.starts_with("https://"), "{base}");

    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let page = client.get(format!("{base}/login")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()[CONTENT_SECURITY_POLICY], CSP);
    let csrf_cookie = set_cookie(page.headers(), "flotilla_login_csrf").unwrap();
    assert!(csrf_cookie.ends_with("; Secure"), "{csrf_cookie}");
    let cookie = session(&client, &base, "", TOKEN).await;
    assert!(cookie.split("; ").any(|f| f == "Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let (user, _, _) = who(&client, &base, &cookie_value(&cookie)).await;
    assert_eq!(user, "admin");

    // Plain HTTP is not answered on the TLS port.
    let plain = base.replace("https://", "http://");
    let refused = client_from([127, 0, 0, 1])
        .get(format!("{plain}/login"))
        .send()
        .await;
    assert!(
        refused.is_err() || !refused.unwrap().status().is_success(),
        "plain HTTP answered"
    );

    controller.shutdown();
}

#[tokio::test]
async fn a_bad_certificate_pair_is_refused_at_bind() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cert.pem"), "not a certificate\n").unwrap();
    std::fs::write(dir.path().join("key.pem"), "not a key\n").unwrap();
    let controller = controller(
        dir.path(),
        "  tls: {certFile: cert.pem, keyFile: key.pem}\n",
    )
    .await;
    match Server::bind(&controller).await {
        Err(ApiError::Tls(message)) => {
            assert!(message.contains("cert.pem"), "{message}");
        }
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("a bad certificate was accepted"),
    }
}
