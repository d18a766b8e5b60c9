//! Proves the headless-browser harness (`flotilla_tests::browser`) on its
//! own, against a small page served on loopback with a strict
//! Content-Security-Policy: clicks run external scripts, forms post, the CSP
//! blocks inline script and reports it, JavaScript can be turned off,
//! screenshots are saved and first paint is measured.
//!
//! Skips, loudly, when the `chromium` binary is not installed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Form, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use flotilla_tests::browser::{artifacts_dir, Browser, DEFAULT_TIMEOUT};

const CSP: &str = "default-src 'self'; script-src 'self'";

const INDEX: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Harness check</title>
<script src="/app.js" defer></script>
</head>
<body>
<h1>Harness check</h1>
<p id="status">waiting</p>
<button id="go" type="button">Go</button>
<p id="inline">inline script did not run</p>
<script>document.getElementById('inline').textContent = 'INLINE SCRIPT RAN';</script>
<form id="login" method="post" action="/login">
  <label>User <input id="user" name="user" autocomplete="off"></label>
  <label>Password <input id="password" name="password" type="password"></label>
  <button type="submit">Sign in</button>
</form>
</body>
</html>
"#;

const APP_JS: &str = r#"
const status = document.getElementById('status');
status.textContent = 'script loaded';
document.getElementById('go').addEventListener('click', () => {
  status.textContent = 'clicked';
});
"#;

/// Form posts the server received, in order.
type Posts = Arc<Mutex<Vec<HashMap<String, String>>>>;

fn html(body: String) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CSP),
        ],
        body,
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn serve() -> anyhow::Result<(String, Posts)> {
    let posts: Posts = Arc::default();
    let app = Router::new()
        .route("/", get(|| async { html(INDEX.to_string()) }))
        .route(
            "/app.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    APP_JS,
                )
            }),
        )
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route(
            "/login",
            axum::routing::post(
                |State(posts): State<Posts>, Form(form): Form<HashMap<String, String>>| async move {
                    let user = form.get("user").cloned().unwrap_or_default();
                    posts.lock().unwrap().push(form);
                    html(format!(
                        "<!doctype html><title>Welcome</title><p id=\"welcome\">Welcome, {}</p>",
                        escape(&user)
                    ))
                },
            ),
        )
        .with_state(posts.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("test server");
    });
    Ok((format!("http://{addr}"), posts))
}

/// Checks `path` is a PNG and returns its width and height.
fn assert_png(path: &std::path::Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.len() > 1000 && bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG screenshot ({} bytes)",
        path.display(),
        bytes.len()
    );
    let be = |b: &[u8]| u32::from_be_bytes(b.try_into().unwrap());
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harness_drives_headless_chromium() -> anyhow::Result<()> {
    let started = Instant::now();
    let Some(browser) = Browser::launch().await? else {
        return Ok(());
    };
    eprintln!(
        "browser: {} ({}) launched in {:?}",
        browser.executable().display(),
        browser.version().await?,
        started.elapsed()
    );
    let artifacts = artifacts_dir("browser");
    let (base, posts) = serve().await?;

    // JavaScript on: the external script runs, the inline one is blocked.
    let page = browser.new_page(&format!("{base}/")).await?;
    page.wait_for_text("#status", "script loaded", DEFAULT_TIMEOUT)
        .await?;
    page.click("#go").await?;
    page.wait_for_text("#status", "clicked", DEFAULT_TIMEOUT)
        .await?;
    let shot = page.screenshot(artifacts.join("clicked.png")).await?;
    assert_eq!(assert_png(&shot), (1280, 900));

    assert_eq!(page.text("#inline").await?, "inline script did not run");
    let violation = page
        .wait_for_console(
            "a CSP violation for the inline script",
            |e| e.is_error() && e.is_csp_violation(),
            DEFAULT_TIMEOUT,
        )
        .await?;
    eprintln!("browser: CSP violation reported: {violation}");
    assert!(
        page.console_errors().contains(&violation),
        "console_errors() lacks {violation}"
    );
    assert_eq!(
        page.eval("[innerWidth, innerHeight]").await?,
        serde_json::json!([1280, 900])
    );

    // A wait that times out says what it waited for, where, and what the
    // page showed.
    let err = page
        .wait_for("#no-such-element", std::time::Duration::from_millis(300))
        .await
        .expect_err("#no-such-element does not exist");
    let msg = format!("{err:#}");
    assert!(
        msg.contains("#no-such-element") && msg.contains(&base) && msg.contains("Harness check"),
        "unhelpful timeout error: {msg}"
    );

    let paint = page.first_paint_ms().await?;
    eprintln!("browser: first contentful paint after {paint:.1} ms");
    assert!(paint > 0.0, "first paint at {paint} ms");

    // The form posts what was typed, password included.
    page.fill("#user", "alice").await?;
    page.fill("#password", "s3cret pass").await?;
    page.submit("#password").await?;
    page.wait_for_text("#welcome", "Welcome, alice", DEFAULT_TIMEOUT)
        .await?;
    assert!(
        page.url().await?.ends_with("/login"),
        "{}",
        page.url().await?
    );
    {
        let posts = posts.lock().unwrap();
        assert_eq!(posts.len(), 1, "{posts:?}");
        assert_eq!(posts[0].get("user").map(String::as_str), Some("alice"));
        assert_eq!(
            posts[0].get("password").map(String::as_str),
            Some("s3cret pass")
        );
    }
    assert_png(&page.screenshot(artifacts.join("welcome.png")).await?);
    // Screenshots take the whole page, not just the viewport.
    page.eval("document.body.style.height = '2400px'").await?;
    let (_, height) = assert_png(&page.screenshot(artifacts.join("tall.png")).await?);
    assert!(height >= 2400, "full-page screenshot is {height} px high");

    // JavaScript off: the page still renders and its form still posts, but
    // no script runs. Deferred scripts run before the load event, which
    // `new_page` waits for, so "waiting" is final here, not a race.
    let nojs = browser.new_page("about:blank").await?;
    nojs.set_javascript_enabled(false).await?;
    nojs.goto(&format!("{base}/")).await?;
    assert_eq!(nojs.text("#status").await?, "waiting");
    nojs.click("#go").await?;
    assert_eq!(nojs.text("#status").await?, "waiting");
    assert_png(&nojs.screenshot(artifacts.join("no-javascript.png")).await?);
    nojs.fill("#user", "bob").await?;
    nojs.fill("#password", "hunter2").await?;
    nojs.submit("#user").await?;
    nojs.wait_for_text("#welcome", "Welcome, bob", DEFAULT_TIMEOUT)
        .await?;
    assert_eq!(posts.lock().unwrap().len(), 2);

    nojs.close().await?;
    page.close().await?;
    browser.close().await;
    eprintln!(
        "browser: test took {:?}; screenshots in {}",
        started.elapsed(),
        artifacts.display()
    );
    Ok(())
}
