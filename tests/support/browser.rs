//! Headless Chromium for browser tests, driven over the DevTools protocol
//! with `chromiumoxide`.
//!
//! Chromium comes from Debian's `chromium` package (`scripts/test` installs
//! it). When it is absent, [`Browser::launch`] prints a loud message naming
//! the missing binary and returns `Ok(None)`, and the test returns early.
//!
//! Every wait polls with a deadline ([`POLL_STEP`] steps); nothing sleeps a
//! fixed time and then asserts.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use flotilla_tests::browser::{artifacts_dir, Browser, DEFAULT_TIMEOUT};
//! let Some(browser) = Browser::launch().await? else { return Ok(()) };
//! let page = browser.new_page("http://127.0.0.1:8080/").await?;
//! page.wait_for_text("h1", "Applications", DEFAULT_TIMEOUT).await?;
//! page.screenshot(artifacts_dir("demo").join("home.png")).await?;
//! browser.close().await;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use chromiumoxide::browser::BrowserConfig;
use chromiumoxide::cdp::browser_protocol::dom::ScrollIntoViewIfNeededParams;
use chromiumoxide::cdp::browser_protocol::emulation::{
    SetDeviceMetricsOverrideParams, SetScriptExecutionDisabledParams,
};
use chromiumoxide::cdp::browser_protocol::input::InsertTextParams;
use chromiumoxide::cdp::browser_protocol::log::EventEntryAdded;
use chromiumoxide::cdp::browser_protocol::page::{CaptureScreenshotFormat, Viewport};
use chromiumoxide::cdp::js_protocol::runtime::{
    EvaluateParams, EventConsoleApiCalled, EventExceptionThrown, ExceptionDetails, RemoteObject,
};
use chromiumoxide::page::ScreenshotParams;
use futures::StreamExt;
use serde_json::Value;
use tokio::task::JoinHandle;

/// The binary this harness drives, as packaged by Debian.
pub const CHROMIUM: &str = "chromium";

/// Environment variable naming the Chromium binary to use instead of the
/// default (`/usr/bin/chromium`, then `chromium` on `PATH`).
pub const CHROMIUM_ENV: &str = "FLOTILLA_CHROMIUM";

/// Environment variable naming the base directory for test artifacts
/// (screenshots); see [`artifacts_dir`].
pub const ARTIFACTS_ENV: &str = "FLOTILLA_TEST_ARTIFACTS";

/// A reasonable deadline for one wait in a test on a loaded 2-core machine.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// How often the `wait_*` methods poll.
pub const POLL_STEP: Duration = Duration::from_millis(50);

/// How long one DevTools command may take before it is reported as hung.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// Window and viewport size of the launched browser, in CSS pixels.
pub const WINDOW_SIZE: (u32, u32) = (1280, 900);

/// Finds the Chromium binary: `$FLOTILLA_CHROMIUM` when set, else
/// `/usr/bin/chromium`, else `chromium` on `PATH`. `None` when none exists.
pub fn find_chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(CHROMIUM_ENV).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let debian = Path::new("/usr/bin").join(CHROMIUM);
    if debian.is_file() {
        return Some(debian);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(CHROMIUM))
        .find(|p| p.is_file())
}

/// The directory for a test's artifacts (screenshots), created:
/// `$FLOTILLA_TEST_ARTIFACTS/<test_name>` when that variable is set, else
/// `<workspace>/target/test-artifacts/<test_name>`.
pub fn artifacts_dir(test_name: &str) -> PathBuf {
    let base = match std::env::var_os(ARTIFACTS_ENV).filter(|p| !p.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the tests crate lives inside the workspace")
            .join("target")
            .join("test-artifacts"),
    };
    let dir = base.join(test_name);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("creating artifacts directory {}: {e}", dir.display()));
    dir
}

/// Awaits one DevTools command, failing with `what` when it errs or gives
/// no answer within [`COMMAND_TIMEOUT`], so that no step of a test can hang.
async fn bounded<T, E>(
    what: impl fmt::Display,
    fut: impl Future<Output = Result<T, E>>,
) -> anyhow::Result<T>
where
    E: std::error::Error + Send + Sync + 'static,
{
    match tokio::time::timeout(COMMAND_TIMEOUT, fut).await {
        Ok(r) => r.with_context(|| what.to_string()),
        Err(_) => bail!("{what}: no answer from Chromium within {COMMAND_TIMEOUT:?}"),
    }
}

/// Prints the loud "skipped" message for a missing Chromium binary.
fn announce_missing_chromium() {
    let bar = "#".repeat(78);
    let env = std::env::var(CHROMIUM_ENV).unwrap_or_default();
    let looked = if env.is_empty() {
        format!("/usr/bin/{CHROMIUM} and `{CHROMIUM}` on PATH")
    } else {
        format!("${CHROMIUM_ENV}={env}")
    };
    eprintln!(
        "\n{bar}\n# SKIPPING BROWSER TEST: the `{CHROMIUM}` binary was not found ({looked}).\n\
         # Install Debian's `{CHROMIUM}` package (scripts/test does) or set ${CHROMIUM_ENV}.\n{bar}\n"
    );
}

/// A headless Chromium process with its DevTools connection.
///
/// Prefer [`Browser::close`] at the end of a test; dropping it kills the
/// process and removes its profile directory too.
pub struct Browser {
    inner: chromiumoxide::Browser,
    handler: JoinHandle<()>,
    executable: PathBuf,
    // Declared last: removed after the process is gone.
    profile: tempfile::TempDir,
}

impl Browser {
    /// Launches headless Chromium (`--headless=new`, `--no-sandbox`,
    /// `--disable-gpu`, a fresh temporary profile, a 1280x900 window) and
    /// drives its DevTools connection on a tokio task.
    ///
    /// Returns `Ok(None)`, after a loud message on stderr naming the missing
    /// `chromium` binary, when it is not installed; errors when it is there
    /// but fails to start.
    pub async fn launch() -> anyhow::Result<Option<Browser>> {
        let Some(executable) = find_chromium() else {
            announce_missing_chromium();
            return Ok(None);
        };
        let profile = tempfile::Builder::new()
            .prefix("flotilla-chromium-")
            .tempdir()
            .context("creating a Chromium profile directory")?;
        let config = BrowserConfig::builder()
            .chrome_executable(&executable)
            .new_headless_mode()
            .no_sandbox()
            // chromiumoxide adds the leading `--`.
            .arg("disable-gpu")
            .window_size(WINDOW_SIZE.0, WINDOW_SIZE.1)
            // No emulation from chromiumoxide (it also turns on touch, and
            // its full-page screenshots drop it); `Page::attach` sets the
            // viewport itself.
            .viewport(None)
            .user_data_dir(profile.path())
            .launch_timeout(Duration::from_secs(60))
            .request_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| anyhow::anyhow!("configuring Chromium: {e}"))?;
        let (inner, mut handler) = chromiumoxide::Browser::launch(config)
            .await
            .with_context(|| format!("launching {}", executable.display()))?;
        let handler = tokio::spawn(async move {
            // Errors here are per message (a reply to a closed page, an
            // event this CDP version does not know); keep serving until the
            // connection ends.
            while handler.next().await.is_some() {}
        });
        Ok(Some(Browser {
            inner,
            handler,
            executable,
            profile,
        }))
    }

    /// The Chromium binary that was launched.
    pub fn executable(&self) -> &Path {
        &self.executable
    }

    /// The temporary profile (`--user-data-dir`), removed when the browser
    /// is dropped or closed.
    pub fn profile_dir(&self) -> &Path {
        self.profile.path()
    }

    /// The browser's product and version, e.g. `Chrome/131.0.6778.85`.
    pub async fn version(&self) -> anyhow::Result<String> {
        Ok(bounded("Browser.getVersion", self.inner.version())
            .await?
            .product)
    }

    /// Opens a new tab, starts collecting its console messages (see
    /// [`Page::console_messages`]) and navigates it to `url` (skipped for
    /// `about:blank`), waiting for the load event. Tabs share the browser's
    /// cookies.
    pub async fn new_page(&self, url: &str) -> anyhow::Result<Page> {
        let inner = bounded("opening a new tab", self.inner.new_page("about:blank")).await?;
        let page = Page::attach(inner).await?;
        if url != "about:blank" {
            page.goto(url).await?;
        }
        Ok(page)
    }

    /// The underlying `chromiumoxide` browser, for what this harness lacks.
    pub fn inner(&self) -> &chromiumoxide::Browser {
        &self.inner
    }

    /// Closes the browser, waits for its process to exit and removes its
    /// profile directory.
    pub async fn close(mut self) {
        let closed = tokio::time::timeout(Duration::from_secs(10), async {
            let _ = self.inner.close().await;
            let _ = self.inner.wait().await;
        })
        .await;
        if closed.is_err() {
            let _ = self.inner.kill().await;
        }
        // Drop does the rest (nothing to kill any more).
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.handler.abort();
        if let Some(child) = self.inner.get_mut_child() {
            if let Ok(None) = child.try_wait() {
                let _ = child.as_mut_inner().start_kill();
                // Let it exit before its profile directory is removed.
                let deadline = Instant::now() + Duration::from_secs(5);
                while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        // `profile` is removed when the fields drop, after this.
    }
}

/// One message from a page's console or DevTools log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleEntry {
    /// Where it came from: `console` (a `console.*` call), `exception` (an
    /// uncaught exception) or the DevTools log source (`security`,
    /// `network`, `javascript`, `violation`, ...).
    pub source: String,
    /// `error`, `warning`, `info`, `log`, `debug`, `verbose`, ...
    pub level: String,
    /// The message text.
    pub text: String,
    /// The URL it is attributed to, when known.
    pub url: Option<String>,
}

impl ConsoleEntry {
    /// Whether this is an error (`console.error`, an assertion, an
    /// uncaught exception or an error-level log entry).
    pub fn is_error(&self) -> bool {
        matches!(self.level.as_str(), "error" | "assert")
    }

    /// Whether this reports a Content-Security-Policy violation.
    pub fn is_csp_violation(&self) -> bool {
        let t = self.text.to_ascii_lowercase();
        t.contains("content security policy") || t.contains("content-security-policy")
    }
}

impl fmt::Display for ConsoleEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{} {}] {}", self.source, self.level, self.text)?;
        if let Some(url) = &self.url {
            write!(f, " ({url})")?;
        }
        Ok(())
    }
}

/// One browser tab.
pub struct Page {
    inner: chromiumoxide::Page,
    console: Arc<Mutex<Vec<ConsoleEntry>>>,
    listeners: Vec<JoinHandle<()>>,
}

impl Drop for Page {
    fn drop(&mut self) {
        for l in &self.listeners {
            l.abort();
        }
    }
}

fn remote_object_text(o: &RemoteObject) -> String {
    match &o.value {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => o
            .description
            .clone()
            .or_else(|| {
                o.unserializable_value
                    .as_ref()
                    .map(|u| u.as_ref().to_string())
            })
            .unwrap_or_else(|| o.r#type.as_ref().to_string()),
    }
}

fn exception_text(d: &ExceptionDetails) -> String {
    match d.exception.as_ref().and_then(|e| e.description.clone()) {
        Some(desc) => format!("{}: {desc}", d.text),
        None => d.text.clone(),
    }
}

fn js_string(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

fn snippet(s: &str, max: usize) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

impl Page {
    async fn attach(inner: chromiumoxide::Page) -> anyhow::Result<Page> {
        let console = Arc::new(Mutex::new(Vec::new()));
        let mut listeners = Vec::new();

        let mut api = bounded("listening", inner.event_listener::<EventConsoleApiCalled>()).await?;
        let sink = console.clone();
        listeners.push(tokio::spawn(async move {
            while let Some(ev) = api.next().await {
                let text = ev
                    .args
                    .iter()
                    .map(remote_object_text)
                    .collect::<Vec<_>>()
                    .join(" ");
                let url = ev
                    .stack_trace
                    .as_ref()
                    .and_then(|s| s.call_frames.first())
                    .map(|f| f.url.clone());
                sink.lock().unwrap().push(ConsoleEntry {
                    source: "console".into(),
                    level: ev.r#type.as_ref().to_string(),
                    text,
                    url,
                });
            }
        }));

        let mut exceptions =
            bounded("listening", inner.event_listener::<EventExceptionThrown>()).await?;
        let sink = console.clone();
        listeners.push(tokio::spawn(async move {
            while let Some(ev) = exceptions.next().await {
                sink.lock().unwrap().push(ConsoleEntry {
                    source: "exception".into(),
                    level: "error".into(),
                    text: exception_text(&ev.exception_details),
                    url: ev.exception_details.url.clone(),
                });
            }
        }));

        let mut log = bounded("listening", inner.event_listener::<EventEntryAdded>()).await?;
        let sink = console.clone();
        listeners.push(tokio::spawn(async move {
            while let Some(ev) = log.next().await {
                sink.lock().unwrap().push(ConsoleEntry {
                    source: ev.entry.source.as_ref().to_string(),
                    level: ev.entry.level.as_ref().to_string(),
                    text: ev.entry.text.clone(),
                    url: ev.entry.url.clone(),
                });
            }
        }));

        // A headless window keeps room for a toolbar: make the page's
        // viewport exactly the window size.
        let metrics = SetDeviceMetricsOverrideParams::new(WINDOW_SIZE.0, WINDOW_SIZE.1, 1.0, false);
        bounded("Emulation.setDeviceMetricsOverride", inner.execute(metrics)).await?;
        bounded("Runtime.enable", inner.enable_runtime()).await?;
        bounded("Log.enable", inner.enable_log()).await?;
        Ok(Page {
            inner,
            console,
            listeners,
        })
    }

    /// The underlying `chromiumoxide` page, for what this harness lacks.
    pub fn inner(&self) -> &chromiumoxide::Page {
        &self.inner
    }

    /// Navigates to `url` and waits for its load event.
    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        bounded(format!("navigating to {url}"), self.inner.goto(url)).await?;
        Ok(())
    }

    /// The page's current URL.
    pub async fn url(&self) -> anyhow::Result<String> {
        if let Some(url) = bounded("reading the URL", self.inner.url()).await? {
            return Ok(url);
        }
        match self.eval("location.href").await? {
            Value::String(s) => Ok(s),
            v => bail!("location.href is not a string: {v}"),
        }
    }

    /// Evaluates a JavaScript expression in the page (promises are awaited)
    /// and returns its value as JSON (`null` for `undefined`). This works
    /// with the page's JavaScript disabled too: it comes from DevTools.
    pub async fn eval(&self, js: &str) -> anyhow::Result<Value> {
        let params = EvaluateParams::builder()
            .expression(js)
            .return_by_value(true)
            .await_promise(true)
            .build()
            .map_err(|e| anyhow::anyhow!("building Runtime.evaluate: {e}"))?;
        let what = format!("evaluating `{}`", snippet(js, 120));
        let res = bounded(what, self.inner.execute(params)).await?.result;
        if let Some(e) = res.exception_details {
            bail!(
                "evaluating `{}` threw: {}",
                snippet(js, 120),
                exception_text(&e)
            );
        }
        Ok(res.result.value.unwrap_or(Value::Null))
    }

    /// A timeout error naming what was awaited, the page's URL and the start
    /// of its body text.
    async fn timeout_error(
        &self,
        what: String,
        timeout: Duration,
        last: Option<String>,
    ) -> anyhow::Error {
        let url = self
            .eval("location.href")
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "<unknown>".into());
        let body = self
            .eval("document.body ? document.body.innerText : ''")
            .await
            .ok()
            .and_then(|v| v.as_str().map(|s| snippet(s, 400)))
            .unwrap_or_default();
        let mut msg = format!(
            "timed out after {timeout:?} waiting for {what} on {url}\n  body text: {body:?}"
        );
        if let Some(last) = last {
            msg.push_str(&format!("\n  last value: {last}"));
        }
        anyhow::anyhow!(msg)
    }

    /// Waits until an element matches the CSS `selector`, polling until
    /// `timeout`. The error names the selector, the URL and the body text.
    pub async fn wait_for(&self, selector: &str, timeout: Duration) -> anyhow::Result<()> {
        let js = format!("document.querySelector({}) !== null", js_string(selector));
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.eval(&js).await {
                Ok(Value::Bool(true)) => return Ok(()),
                Ok(v) => v.to_string(),
                // Between documents while navigating, or a bad selector.
                Err(e) => format!("{e:#}"),
            };
            if Instant::now() >= deadline {
                let what = format!("an element matching `{selector}`");
                return Err(self.timeout_error(what, timeout, Some(last)).await);
            }
            tokio::time::sleep(POLL_STEP).await;
        }
    }

    /// The `innerText` of the first element matching `selector`, or `None`
    /// when nothing matches (no waiting).
    async fn inner_text(&self, selector: &str) -> anyhow::Result<Option<String>> {
        let js = format!(
            "(() => {{ const e = document.querySelector({}); return e ? e.innerText : null; }})()",
            js_string(selector)
        );
        Ok(self.eval(&js).await?.as_str().map(str::to_owned))
    }

    /// Waits until the first element matching `selector` has an `innerText`
    /// containing `text`, polling until `timeout`.
    pub async fn wait_for_text(
        &self,
        selector: &str,
        text: &str,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.inner_text(selector).await {
                Ok(Some(t)) if t.contains(text) => return Ok(()),
                Ok(t) => format!("{t:?}"),
                Err(e) => format!("{e:#}"),
            };
            if Instant::now() >= deadline {
                let what = format!("`{selector}` to contain the text {text:?}");
                return Err(self.timeout_error(what, timeout, Some(last)).await);
            }
            tokio::time::sleep(POLL_STEP).await;
        }
    }

    /// The `innerText` of the first element matching `selector`, waiting up
    /// to [`DEFAULT_TIMEOUT`] for it to exist.
    pub async fn text(&self, selector: &str) -> anyhow::Result<String> {
        self.wait_for(selector, DEFAULT_TIMEOUT).await?;
        self.inner_text(selector)
            .await?
            .with_context(|| format!("`{selector}` vanished"))
    }

    async fn element(&self, selector: &str) -> anyhow::Result<chromiumoxide::Element> {
        self.wait_for(selector, DEFAULT_TIMEOUT).await?;
        bounded(
            format!("finding `{selector}`"),
            self.inner.find_element(selector),
        )
        .await
    }

    /// Clicks the first element matching `selector` with real mouse events
    /// at its centre (scrolled into view), waiting up to [`DEFAULT_TIMEOUT`]
    /// for it to exist. Works with the page's JavaScript off.
    pub async fn click(&self, selector: &str) -> anyhow::Result<()> {
        let el = self.element(selector).await?;
        // Not `Element::click`: its scrolling awaits an IntersectionObserver,
        // which never answers when the page's JavaScript is off.
        let scroll = ScrollIntoViewIfNeededParams::builder()
            .backend_node_id(el.backend_node_id)
            .build();
        bounded(
            format!("scrolling `{selector}` into view"),
            self.inner.execute(scroll),
        )
        .await?;
        let point = bounded(
            format!("locating `{selector}` on screen"),
            el.clickable_point(),
        )
        .await?;
        bounded(format!("clicking `{selector}`"), self.inner.click(point)).await?;
        Ok(())
    }

    /// Replaces the value of the input matching `selector` (text, password,
    /// textarea ...) by typing `value` into it, as a person would: focus,
    /// clear, then insert the text (which fires `input` events).
    pub async fn fill(&self, selector: &str, value: &str) -> anyhow::Result<()> {
        let el = self.element(selector).await?;
        bounded(format!("focusing `{selector}`"), el.focus()).await?;
        bounded(
            format!("clearing `{selector}`"),
            el.call_js_fn("function() { this.value = ''; }", false),
        )
        .await?;
        bounded(
            format!("typing into `{selector}`"),
            self.inner.execute(InsertTextParams::new(value)),
        )
        .await?;
        Ok(())
    }

    /// Focuses the element matching `selector` and presses `key` (a key
    /// name such as `Enter`, `Tab`, `Escape`, `a`).
    pub async fn press(&self, selector: &str, key: &str) -> anyhow::Result<()> {
        let el = self.element(selector).await?;
        bounded(format!("focusing `{selector}`"), el.focus()).await?;
        bounded(format!("pressing {key} in `{selector}`"), el.press_key(key)).await?;
        Ok(())
    }

    /// Submits the form of the input matching `selector` by pressing Enter
    /// in it (the browser's implicit submission, which needs no JavaScript).
    /// Does not wait for the next page: follow with a `wait_for*`.
    pub async fn submit(&self, selector: &str) -> anyhow::Result<()> {
        self.press(selector, "Enter").await
    }

    /// Saves a full-page PNG screenshot to `path` (parent directories are
    /// created) and returns the path.
    pub async fn screenshot(&self, path: impl AsRef<Path>) -> anyhow::Result<PathBuf> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        // Not chromiumoxide's `full_page`, which resets the viewport: clip
        // to the whole document and capture beyond the viewport instead.
        let metrics = bounded("Page.getLayoutMetrics", self.inner.layout_metrics()).await?;
        let size = metrics.css_content_size;
        let params = ScreenshotParams::builder()
            .format(CaptureScreenshotFormat::Png)
            .clip(Viewport {
                x: 0.0,
                y: 0.0,
                width: size.width.max(1.0),
                height: size.height.max(1.0),
                scale: 1.0,
            })
            .capture_beyond_viewport(true)
            .build();
        bounded(
            format!("saving a screenshot to {}", path.display()),
            self.inner.save_screenshot(params, &path),
        )
        .await?;
        Ok(path)
    }

    /// Every console message and DevTools log entry of this tab so far
    /// (collected from `Runtime.consoleAPICalled`,
    /// `Runtime.exceptionThrown` and `Log.entryAdded`).
    pub fn console_messages(&self) -> Vec<ConsoleEntry> {
        self.console.lock().unwrap().clone()
    }

    /// The errors among [`Page::console_messages`]: `console.error`
    /// calls, uncaught exceptions and error-level log entries, which
    /// include Content-Security-Policy violations and failed loads.
    pub fn console_errors(&self) -> Vec<ConsoleEntry> {
        self.console_messages()
            .into_iter()
            .filter(ConsoleEntry::is_error)
            .collect()
    }

    /// The Content-Security-Policy violations reported so far.
    pub fn csp_violations(&self) -> Vec<ConsoleEntry> {
        self.console_messages()
            .into_iter()
            .filter(ConsoleEntry::is_csp_violation)
            .collect()
    }

    /// Waits until a console message satisfying `pred` has been reported
    /// and returns it (events arrive asynchronously, after the page acts).
    pub async fn wait_for_console(
        &self,
        what: &str,
        pred: impl Fn(&ConsoleEntry) -> bool,
        timeout: Duration,
    ) -> anyhow::Result<ConsoleEntry> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.console_messages().into_iter().find(|e| pred(e)) {
                return Ok(e);
            }
            if Instant::now() >= deadline {
                let seen = self
                    .console_messages()
                    .iter()
                    .map(|e| format!("\n    {e}"))
                    .collect::<String>();
                let what = format!("a console message: {what}; seen so far:{seen}");
                return Err(self.timeout_error(what, timeout, None).await);
            }
            tokio::time::sleep(POLL_STEP).await;
        }
    }

    /// Turns the page's JavaScript on or off
    /// (`Emulation.setScriptExecutionDisabled`) for this tab until changed.
    /// Navigate (or reload) afterwards to see a page as served without
    /// JavaScript. [`Page::eval`] and the other helpers keep working.
    pub async fn set_javascript_enabled(&self, enabled: bool) -> anyhow::Result<()> {
        bounded(
            "Emulation.setScriptExecutionDisabled",
            self.inner
                .execute(SetScriptExecutionDisabledParams::new(!enabled)),
        )
        .await?;
        Ok(())
    }

    /// Milliseconds from navigation start to the first contentful paint
    /// (or, failing that, the first paint) of the current document, from
    /// `performance.getEntriesByType('paint')`; waits up to
    /// [`DEFAULT_TIMEOUT`] for the entry to appear.
    pub async fn first_paint_ms(&self) -> anyhow::Result<f64> {
        const JS: &str = "(() => { const e = performance.getEntriesByType('paint'); \
            const p = e.find(x => x.name === 'first-contentful-paint') \
                   || e.find(x => x.name === 'first-paint'); \
            return p ? p.startTime : null; })()";
        let deadline = Instant::now() + DEFAULT_TIMEOUT;
        loop {
            let last = match self.eval(JS).await {
                Ok(Value::Number(n)) => {
                    return n.as_f64().context("paint startTime is not a number");
                }
                Ok(v) => v.to_string(),
                Err(e) => format!("{e:#}"),
            };
            if Instant::now() >= deadline {
                let what = "a first paint entry".to_string();
                return Err(self.timeout_error(what, DEFAULT_TIMEOUT, Some(last)).await);
            }
            tokio::time::sleep(POLL_STEP).await;
        }
    }

    /// Closes the tab.
    pub async fn close(self) -> anyhow::Result<()> {
        bounded("closing the tab", self.inner.clone().close()).await?;
        Ok(())
    }
}
