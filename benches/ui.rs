//! The web UI's figures, with the release `flotilla controller` binary run
//! as a subprocess on one lab region (`eu-west-1`) and the pages read the
//! way a browser reads them: with a session cookie from the login form.
//!
//! Set-up, all generated in a temporary directory: one Git repository (the
//! `git` CLI, used in place of its URL through `substitute`) holding
//!
//! - an ApplicationSet `ui-bench` whose list generator makes
//!   `FLOTILLA_BENCH_UI_APPS` (10,000) Applications `app-NNNN`, each
//!   rendering one small ConfigMap into namespace `ui-bench`, *without*
//!   automated sync: they are compared, never synced (OutOfSync/Missing);
//! - an Application `big` with 500 ConfigMaps (automated, CreateNamespace);
//! - an Application `live` with a Deployment of 2 replicas (automated with
//!   `selfHeal: false`, so a drift stays; the lab's scheduler puts its Pods
//!   on kwok nodes).
//!
//! The controller runs with `selfHealDelay: 200ms` (the delay between a
//! cluster change and the comparison it triggers; default 1 s;
//! `FLOTILLA_BENCH_UI_SELF_HEAL_DELAY` changes it). Once every Application
//! has been reconciled (`GET /api/v1/applications`, all `reconciledAt` set),
//! `big` and `live` Synced and Healthy:
//!
//! 1. **Applications page** with N+2 Applications: server time (request sent
//!    to body read, reqwest, keep-alive, session cookie) of
//!    `GET /applications` (first page), `?sync=OutOfSync&q=app-01` and the
//!    last page; median and max of `FLOTILLA_BENCH_UI_REQUESTS` (20) each,
//!    after 2 warm-up requests. Goal: ≤ 100 ms. And the first contentful
//!    paint of `/applications` in headless Chromium, median of
//!    `FLOTILLA_BENCH_UI_LOADS` (5) loads. Goal: ≤ 1 s.
//! 2. **Application page** `GET /applications/big` (500 resources): server
//!    time, median and max. Goal: ≤ 300 ms.
//! 3. **Cluster change → visible in an open page**: the page of `live` open
//!    in Chromium; `FLOTILLA_BENCH_UI_DELETES` (10) times, one of its Pods is
//!    deleted with the kube API, and the time from the delete call's return
//!    until the page's DOM shows the replacement (a new
//!    `.node[data-kind='Pod']` name in `#tree`, polled every 20 ms) is
//!    taken; alongside, when the replacement appeared in the API server
//!    (polled every 20 ms too). Goal: ≤ 1 s median. Then **drift → badge**:
//!    `FLOTILLA_BENCH_UI_DRIFTS` (5) times the Deployment is scaled to 3
//!    with a merge patch (as `kubectl patch`) and the time until `#sync`
//!    reads `OutOfSync` is taken (it includes `selfHealDelay`), then scaled
//!    back to 2 and timed until `Synced` again.
//! 4. **Controller RSS with `FLOTILLA_BENCH_UI_SESSIONS` (100) open UI
//!    sessions receiving live updates**: 100 sign-ins, 100 SSE streams
//!    `GET /ui/events` (reqwest, the body streamed, `event:` lines counted)
//!    plus 3 `?app=live` and 2 `?app=big`, while status changes flow for
//!    `FLOTILLA_BENCH_UI_LIVE_SECS` (20) s: `FLOTILLA_BENCH_UI_CHANGE_RATE`
//!    (20) small Applications a second change status because their
//!    ConfigMap (with its tracking annotation) is created on the cluster
//!    (Missing -> Synced) or deleted again a second later, and `live` is
//!    scaled 2 <-> 3 every 2 s. The controller's VmRSS is sampled every
//!    250 ms: idle, under the same changes with no session, and under the
//!    changes with the sessions; the figure is the difference of the
//!    averages of the last two (RSS only grows over a run, so this errs
//!    against us). Goal: ≤ +20 MiB.
//! 5. **One API refresh**: `POST /api/v1/applications/app-0000/refresh`
//!    once, and the reconciles that follow (`flotilla_app_reconcile_total`)
//!    until quiet: a refresh fetches the Application's repository and
//!    reconciles every Application that reads it, which is why the changes
//!    of part 4 are made on the cluster rather than with refreshes.
//!
//! Without Chromium (Debian's `chromium`, or `$FLOTILLA_CHROMIUM`) the
//! browser figures are skipped with a loud message; the others are taken.
//!
//! Run: `cargo build --release -p flotilla && cargo bench -p
//! flotilla-benches --bench ui` (`FLOTILLA_BENCH_UI_APPS=500` for a quick
//! run; `FLOTILLA_BENCH_TIMEOUT_SECS` (1800) bounds the wait for the first
//! reconcile of everything; `FLOTILLA_BENCH_KEEP=1` keeps the repository,
//! configuration and controller log). The binary is `$FLOTILLA_BIN`, else
//! built here with `cargo build --release -p flotilla`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flotilla_benches::{cores, cpu_secs, flotilla_bin, mem_mib, ControllerProcess};
use flotilla_controller::ui::auth::{LOGIN_CSRF_COOKIE, SESSION_COOKIE};
use flotilla_controller::views::AppView;
use flotilla_core::annotations::{INSTANCE_LABEL, TRACKING_ID};
use flotilla_lab::TestLab;
use flotilla_sync::tracking::tracking_id;
use flotilla_tests::browser::{Browser, Page};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use reqwest::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};

type Error = Box<dyn std::error::Error>;

/// The repository's URL (used in place of it: the local repository).
const REPO_URL: &str = "https://github.com/flotilla-bench/ui.git";
const API_TOKEN: &str = "bench-api-token";
const REGION: &str = "eu-west-1";
const CLUSTER: &str = "lab-eu-west-1";
const BIG_RESOURCES: usize = 500;
const LIVE_NS: &str = "ui-bench-live";
/// The small Applications' namespace.
const SMALL_NS: &str = "ui-bench";
/// The filtered view of the Applications page.
const FILTER: &str = "sync=OutOfSync&q=app-01";

// ----- settings ---------------------------------------------------------------

struct Settings {
    apps: usize,
    requests: usize,
    loads: usize,
    deletes: usize,
    drifts: usize,
    sessions: usize,
    live: Duration,
    change_rate: f64,
    self_heal_delay: String,
    timeout: Duration,
    keep: bool,
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

impl Settings {
    fn from_env() -> Settings {
        Settings {
            apps: env_usize("FLOTILLA_BENCH_UI_APPS", 10_000).max(1),
            requests: env_usize("FLOTILLA_BENCH_UI_REQUESTS", 20).max(1),
            loads: env_usize("FLOTILLA_BENCH_UI_LOADS", 5).max(1),
            deletes: env_usize("FLOTILLA_BENCH_UI_DELETES", 10).max(1),
            drifts: env_usize("FLOTILLA_BENCH_UI_DRIFTS", 5).max(1),
            sessions: env_usize("FLOTILLA_BENCH_UI_SESSIONS", 100).max(1),
            live: Duration::from_secs(env_usize("FLOTILLA_BENCH_UI_LIVE_SECS", 20).max(1) as u64),
            change_rate: std::env::var("FLOTILLA_BENCH_UI_CHANGE_RATE")
                .ok()
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|r| *r > 0.0)
                .unwrap_or(20.0),
            self_heal_delay: std::env::var("FLOTILLA_BENCH_UI_SELF_HEAL_DELAY")
                .unwrap_or_else(|_| "200ms".into()),
            timeout: Duration::from_secs(env_usize("FLOTILLA_BENCH_TIMEOUT_SECS", 1800) as u64),
            keep: std::env::var_os("FLOTILLA_BENCH_KEEP").is_some(),
        }
    }
}

// ----- the controller process ---------------------------------------------------

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// VmRSS samples of a process over a period, with its CPU.
struct RssWindow {
    samples: Vec<f64>,
    cpu: f64,
    wall: f64,
}

impl RssWindow {
    fn avg(&self) -> f64 {
        self.samples.iter().sum::<f64>() / self.samples.len().max(1) as f64
    }

    fn max(&self) -> f64 {
        self.samples.iter().copied().fold(0.0, f64::max)
    }

    fn last(&self) -> f64 {
        self.samples.last().copied().unwrap_or(0.0)
    }

    fn cores(&self) -> f64 {
        self.cpu / self.wall.max(1e-6)
    }

    fn describe(&self) -> String {
        format!(
            "VmRSS avg {:.1} MiB, max {:.1}, at the end {:.1} ({} samples); controller {:.2} cores",
            self.avg(),
            self.max(),
            self.last(),
            self.samples.len(),
            self.cores()
        )
    }
}

/// Samples VmRSS every 250 ms for `period`.
async fn sample_rss(pid: u32, period: Duration) -> RssWindow {
    let start = Instant::now();
    let cpu0 = cpu_secs(pid).unwrap_or(0.0);
    let mut samples = Vec::new();
    while start.elapsed() < period {
        samples.extend(mem_mib(pid, "VmRSS:"));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    RssWindow {
        samples,
        cpu: cpu_secs(pid).unwrap_or(0.0) - cpu0,
        wall: start.elapsed().as_secs_f64(),
    }
}

// ----- the repository ------------------------------------------------------------

fn git(dir: &Path, args: &[&str]) -> Result<String, Error> {
    Ok(flotilla_lab::example::git(dir, args)?)
}

fn app_name(i: usize, n: usize) -> String {
    let width = (n.saturating_sub(1)).to_string().len().max(4);
    format!("app-{i:0width$}")
}

fn appset(n: usize) -> String {
    let mut out = format!(
        r#"apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: ui-bench
  namespace: argocd
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  template:
    metadata:
      name: "{{{{ .app }}}}"
      namespace: argocd
    spec:
      project: default
      source:
        repoURL: {REPO_URL}
        targetRevision: HEAD
        path: "apps/{{{{ .app }}}}"
      destination:
        name: {CLUSTER}
        namespace: {SMALL_NS}
  generators:
    - list:
        elements:
"#
    );
    for i in 0..n {
        out.push_str(&format!("          - {{app: {}}}\n", app_name(i, n)));
    }
    out
}

fn application(name: &str, path: &str, namespace: &str, self_heal: bool) -> String {
    format!(
        r#"apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {name}
  namespace: argocd
spec:
  project: default
  source:
    repoURL: {REPO_URL}
    targetRevision: HEAD
    path: {path}
  destination:
    name: {CLUSTER}
    namespace: {namespace}
  syncPolicy:
    automated:
      prune: true
      selfHeal: {self_heal}
    syncOptions:
      - CreateNamespace=true
"#
    )
}

const LIVE_DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: web
          image: registry.invalid/web:1.0
          resources:
            requests:
              cpu: 10m
              memory: 16Mi
";

/// Writes the repository and commits it; returns the number of files.
fn generate_repo(work: &Path, n: usize) -> Result<usize, Error> {
    std::fs::create_dir_all(work)?;
    std::fs::write(work.join("appset.yaml"), appset(n))?;
    std::fs::write(
        work.join("big.yaml"),
        application("big", "big", "ui-bench-big", true),
    )?;
    std::fs::write(
        work.join("live.yaml"),
        application("live", "live", LIVE_NS, false),
    )?;
    let mut files = 3;
    for i in 0..n {
        let app = app_name(i, n);
        let dir = work.join("apps").join(&app);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(
            dir.join("configmap.yaml"),
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {app}\n  labels:\n    app: {app}\ndata:\n  app: {app}\n  settings.yaml: |\n    feature: true\n"
            ),
        )?;
        files += 1;
    }
    let mut big = String::new();
    for i in 0..BIG_RESOURCES {
        big.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big-{i:03}\ndata:\n  index: \"{i}\"\n"
        ));
    }
    std::fs::create_dir_all(work.join("big"))?;
    std::fs::write(work.join("big/configmaps.yaml"), big)?;
    std::fs::create_dir_all(work.join("live"))?;
    std::fs::write(work.join("live/deployment.yaml"), LIVE_DEPLOYMENT)?;
    files += 2;
    git(work, &["init", "-q", "-b", "main"])?;
    git(work, &["add", "-A"])?;
    git(work, &["commit", "-q", "-m", "the UI bench's applications"])?;
    Ok(files)
}

fn controller_config(s: &Settings, state: &Path, repo: &Path, kubeconfig: &Path) -> String {
    format!(
        r#"stateDir: {state}
pollInterval: 180s
selfHealDelay: {delay}
repositories:
  - url: {REPO_URL}
    substitute: {repo}
clusters:
  kubeconfig: {kubeconfig}
applications:
  - repo: {REPO_URL}
    revision: HEAD
    paths: [appset.yaml, big.yaml, live.yaml]
api:
  listen: 127.0.0.1:0
  tokenFrom: {{value: {API_TOKEN}}}
"#,
        state = state.display(),
        delay = s.self_heal_delay,
        repo = repo.display(),
        kubeconfig = kubeconfig.display(),
    )
}

// ----- HTTP: the API and the UI ------------------------------------------------

fn http_client() -> Result<reqwest::Client, Error> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(120))
        .build()?)
}

async fn list_apps(http: &reqwest::Client, base: &str) -> Result<Vec<AppView>, Error> {
    let r = http
        .get(format!("{base}/api/v1/applications"))
        .bearer_auth(API_TOKEN)
        .send()
        .await?;
    if !r.status().is_success() {
        return Err(format!("GET /api/v1/applications: {}", r.status()).into());
    }
    Ok(r.json().await?)
}

/// Percent-encodes a form or query component.
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The value of cookie `name` set by a response.
fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers().get_all(SET_COOKIE).iter().find_map(|v| {
        let v = v.to_str().ok()?;
        let first = v.split(';').next()?;
        let (k, val) = first.split_once('=')?;
        (k.trim() == name && !val.is_empty()).then(|| val.trim().to_string())
    })
}

/// The `value` of the hidden input `name` in a page.
fn hidden_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].to_string())
}

/// Signs in through the login form (user name empty, the API token as
/// password); returns the `Cookie` header value of the session.
async fn sign_in(http: &reqwest::Client, base: &str) -> Result<String, Error> {
    let r = http.get(format!("{base}/login")).send().await?;
    if !r.status().is_success() {
        return Err(format!("GET /login: {}", r.status()).into());
    }
    let login_cookie = set_cookie(&r, LOGIN_CSRF_COOKIE).ok_or("GET /login set no CSRF cookie")?;
    let html = r.text().await?;
    let csrf = hidden_value(&html, "csrf").ok_or("the login form has no csrf field")?;
    let body = format!(
        "username=&password={}&csrf={}&next={}",
        enc(API_TOKEN),
        enc(&csrf),
        enc("/applications")
    );
    let r = http
        .post(format!("{base}/login"))
        .header(COOKIE, format!("{LOGIN_CSRF_COOKIE}={login_cookie}"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await?;
    if r.status().as_u16() != 303 {
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        return Err(format!("POST /login answered {status}: {}", snippet(&text)).into());
    }
    let session = set_cookie(&r, SESSION_COOKIE).ok_or("POST /login set no session cookie")?;
    Ok(format!("{SESSION_COOKIE}={session}"))
}

/// The nodes of an Application page's resource tree (`class="node ..."`
/// elements after `id="tree"`).
fn tree_nodes(html: &str) -> usize {
    html.find("id=\"tree\"")
        .map(|at| html[at..].matches("class=\"node ").count())
        .unwrap_or(0)
}

/// The text of some HTML, tags dropped and white space squeezed.
fn strip_tags(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn snippet(s: &str) -> String {
    s.chars().take(300).collect()
}

/// One GET with the session cookie, timed from sending to the whole body
/// read; returns the time and the body.
async fn timed_get(
    http: &reqwest::Client,
    url: &str,
    cookie: &str,
) -> Result<(Duration, String), Error> {
    let t = Instant::now();
    let r = http.get(url).header(COOKIE, cookie).send().await?;
    let status = r.status();
    let body = r.text().await?;
    let took = t.elapsed();
    if !status.is_success() {
        return Err(format!("GET {url}: {status}: {}", snippet(&body)).into());
    }
    Ok((took, body))
}

/// `count` timed GETs after 2 warm-up ones; the times and the last body.
async fn time_page(
    http: &reqwest::Client,
    url: &str,
    cookie: &str,
    count: usize,
) -> Result<(Vec<Duration>, String), Error> {
    for _ in 0..2 {
        timed_get(http, url, cookie).await?;
    }
    let mut times = Vec::new();
    let mut last = String::new();
    for _ in 0..count {
        let (t, body) = timed_get(http, url, cookie).await?;
        times.push(t);
        last = body;
    }
    Ok((times, last))
}

// ----- results ---------------------------------------------------------------------

struct Row {
    figure: String,
    goal: String,
    measured: String,
    verdict: &'static str,
}

#[derive(Default)]
struct Report {
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl Report {
    fn add(
        &mut self,
        figure: impl Into<String>,
        goal: impl Into<String>,
        measured: impl Into<String>,
        ok: Option<bool>,
    ) {
        self.rows.push(Row {
            figure: figure.into(),
            goal: goal.into(),
            measured: measured.into(),
            verdict: match ok {
                Some(true) => "ok",
                Some(false) => "MISS",
                None => "-",
            },
        });
    }

    fn print(&self) {
        let w = self
            .rows
            .iter()
            .map(|r| r.figure.chars().count())
            .max()
            .unwrap_or(10)
            .max(6);
        let g = self
            .rows
            .iter()
            .map(|r| r.goal.chars().count())
            .max()
            .unwrap_or(4)
            .max(4);
        let m = self
            .rows
            .iter()
            .map(|r| r.measured.chars().count())
            .max()
            .unwrap_or(8)
            .max(8);
        println!(
            "{:<w$}  {:<g$}  {:<m$}  verdict",
            "figure", "goal", "measured"
        );
        for r in &self.rows {
            println!(
                "{:<w$}  {:<g$}  {:<m$}  {}",
                r.figure, r.goal, r.measured, r.verdict
            );
        }
        for n in &self.notes {
            println!("{n}");
        }
    }
}

fn ms(d: Duration) -> String {
    if d < Duration::from_secs(10) {
        format!("{:.0} ms", d.as_secs_f64() * 1000.0)
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

fn median_max(v: &[Duration]) -> (Duration, Duration) {
    let mut s = v.to_vec();
    s.sort();
    (s[s.len() / 2], s[s.len() - 1])
}

fn median_f(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

// ----- 1. and 2.: server-side page times ----------------------------------------------

async fn page_times(
    s: &Settings,
    http: &reqwest::Client,
    base: &str,
    cookie: &str,
    total: usize,
    report: &mut Report,
) -> Result<(), Error> {
    let pages = total.div_ceil(100).max(1);
    let views = [
        ("first page", "/applications".to_string()),
        ("filtered", format!("/applications?{FILTER}")),
        ("last page", format!("/applications?page={pages}")),
    ];
    println!(
        "\n== 1. GET /applications with {total} Applications: {} requests each (after 2 warm-up), session cookie ==",
        s.requests
    );
    for (what, path) in views {
        let (times, body) = time_page(http, &format!("{base}{path}"), cookie, s.requests).await?;
        let rows = body.matches("<tr data-app=").count();
        let (med, max) = median_max(&times);
        println!(
            "  {what:<10} {path}: median {}, max {} ({rows} rows, {:.0} KiB)",
            ms(med),
            ms(max),
            body.len() as f64 / 1024.0
        );
        report.add(
            format!("1. GET {path} ({total} apps; {rows} rows): median / max"),
            "<= 100 ms",
            format!("{} / {}", ms(med), ms(max)),
            Some(med <= Duration::from_millis(100)),
        );
    }

    println!(
        "\n== 2. GET /applications/big ({BIG_RESOURCES} resources): {} requests (after 2 warm-up) ==",
        s.requests
    );
    for app in ["big", "live"] {
        let path = format!("/applications/{app}");
        let (times, body) = time_page(http, &format!("{base}{path}"), cookie, s.requests).await?;
        let nodes = tree_nodes(&body);
        let (med, max) = median_max(&times);
        println!(
            "  {path}: median {}, max {} ({nodes} tree nodes, {:.0} KiB)",
            ms(med),
            ms(max),
            body.len() as f64 / 1024.0
        );
        if app == "big" {
            if nodes < BIG_RESOURCES {
                let tree = body
                    .find("<div id=\"tree\"")
                    .map(|at| strip_tags(&body[at..(at + 2000).min(body.len())]))
                    .unwrap_or_default();
                println!(
                    "  note: the page's tree shows {nodes} nodes, fewer than {BIG_RESOURCES}; it reads: {}",
                    tree.chars().take(300).collect::<String>()
                );
                report.notes.push(format!(
                    "2. /applications/big: the tree shows {nodes} of {BIG_RESOURCES} resources: {}",
                    tree.chars().take(200).collect::<String>()
                ));
            }
            report.add(
                format!("2. GET {path} ({nodes} tree nodes): median / max"),
                "<= 300 ms",
                format!("{} / {}", ms(med), ms(max)),
                Some(med <= Duration::from_millis(300)),
            );
        } else {
            report.add(
                format!("2. GET {path} ({nodes} tree nodes): median / max"),
                "(reference)",
                format!("{} / {}", ms(med), ms(max)),
                None,
            );
        }
    }
    Ok(())
}

// ----- 1. first paint and 3. live updates, in Chromium -------------------------

const NAV_TIMING: &str = "(() => { const n = performance.getEntriesByType('navigation')[0]; \
    return n ? [n.responseStart, n.responseEnd, n.domContentLoadedEventEnd, n.loadEventEnd] : null; })()";

async fn first_paint(
    s: &Settings,
    page: &Page,
    base: &str,
    total: usize,
    report: &mut Report,
) -> Result<(), Error> {
    println!(
        "\n== 1. first contentful paint of /applications in Chromium ({total} Applications, {} loads) ==",
        s.loads
    );
    let url = format!("{base}/applications");
    let mut paints = Vec::new();
    for i in 0..s.loads {
        let t = Instant::now();
        page.goto(&url).await?;
        let load = t.elapsed();
        let fcp = page.first_paint_ms().await?;
        let nav: Vec<f64> =
            serde_json::from_value(page.eval(NAV_TIMING).await?).unwrap_or_default();
        let rows = page
            .eval("document.querySelectorAll('#apps tbody tr').length")
            .await?;
        println!(
            "  load {}: first contentful paint {fcp:.0} ms (response start {:.0} ms, end {:.0} ms, DOMContentLoaded {:.0} ms, load {:.0} ms; goto returned after {}); {rows} rows",
            i + 1,
            nav.first().copied().unwrap_or(f64::NAN),
            nav.get(1).copied().unwrap_or(f64::NAN),
            nav.get(2).copied().unwrap_or(f64::NAN),
            nav.get(3).copied().unwrap_or(f64::NAN),
            ms(load)
        );
        paints.push(fcp);
    }
    let med = median_f(&paints);
    let max = paints.iter().copied().fold(0.0, f64::max);
    report.add(
        format!(
            "1. /applications first paint in Chromium (median / max of {})",
            s.loads
        ),
        "<= 1 s median",
        format!("{med:.0} ms / {max:.0} ms"),
        Some(med <= 1000.0),
    );
    Ok(())
}

/// The Pod names in the page's tree.
async fn dom_pods(page: &Page) -> Result<BTreeSet<String>, Error> {
    let v = page
        .eval("Array.from(document.querySelectorAll(\"#tree .node[data-kind='Pod']\")).map(n => n.dataset.name)")
        .await?;
    Ok(serde_json::from_value(v).unwrap_or_default())
}

/// The text of the page's sync badge.
async fn sync_badge(page: &Page) -> Result<String, Error> {
    let v = page
        .eval("(() => { const e = document.getElementById('sync'); return e ? e.textContent.trim() : ''; })()")
        .await?;
    Ok(v.as_str().unwrap_or_default().to_string())
}

/// The names of the `app=web` Pods in the live namespace (terminating too).
async fn cluster_pods(pods: &Api<Pod>) -> BTreeSet<String> {
    match pods.list(&ListParams::default().labels("app=web")).await {
        Ok(list) => list
            .items
            .into_iter()
            .filter_map(|p| p.metadata.name)
            .collect(),
        Err(_) => BTreeSet::new(),
    }
}

async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<Duration, Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return Ok(start.elapsed());
        }
        if start.elapsed() > timeout {
            return Err(format!("timed out after {timeout:?} waiting for {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn scale(deployments: &Api<Deployment>, replicas: i32) -> Result<(), Error> {
    deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"replicas": replicas}})),
        )
        .await?;
    Ok(())
}

async fn live_updates(
    s: &Settings,
    page: &Page,
    base: &str,
    client: &kube::Client,
    report: &mut Report,
) -> Result<(), Error> {
    println!(
        "\n== 3. cluster change -> visible in the open page of `live` (Deployment, 2 replicas): {} Pod deletions ==",
        s.deletes
    );
    let pods: Api<Pod> = Api::namespaced(client.clone(), LIVE_NS);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), LIVE_NS);
    page.goto(&format!("{base}/applications/live")).await?;
    page.wait_for("#tree .node[data-kind='Pod']", Duration::from_secs(60))
        .await?;
    page.wait_for("html[data-live-connected]", Duration::from_secs(15))
        .await?;
    // The EventSource connects after the load event.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut to_page = Vec::new();
    let mut to_api = Vec::new();
    for i in 0..s.deletes {
        // A settled page: two Pods shown, both on the cluster.
        let mut shown = BTreeSet::new();
        let settle = Instant::now();
        while settle.elapsed() < Duration::from_secs(30) {
            shown = dom_pods(page).await?;
            let on_cluster = cluster_pods(&pods).await;
            if shown.len() == 2 && shown.iter().all(|p| on_cluster.contains(p)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // No tree reload of the last run still pending (ui.js reloads a
        // second time 600 ms after an event): each run starts cold.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let known = cluster_pods(&pods).await;
        let Some(victim) = shown.iter().find(|p| known.contains(*p)).cloned() else {
            return Err(
                format!("no Pod both shown ({shown:?}) and on the cluster ({known:?})").into(),
            );
        };
        pods.delete(&victim, &DeleteParams::default()).await?;
        let start = Instant::now();
        // When the replacement reaches the API server, polled alongside.
        let api_seen = {
            let pods = pods.clone();
            let known = known.clone();
            tokio::spawn(async move {
                loop {
                    let now = cluster_pods(&pods).await;
                    if now.iter().any(|p| !known.contains(p)) {
                        return Some(start.elapsed());
                    }
                    if start.elapsed() > Duration::from_secs(60) {
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        };
        let mut new_pod = String::new();
        loop {
            let now = dom_pods(page).await?;
            if let Some(p) = now.iter().find(|p| !shown.contains(*p)) {
                new_pod = p.clone();
                break;
            }
            if start.elapsed() > Duration::from_secs(60) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let took = start.elapsed();
        let api = api_seen.await.ok().flatten();
        if new_pod.is_empty() {
            println!(
                "  run {}: deleted {victim}; no replacement shown after 60 s",
                i + 1
            );
            report.notes.push(format!(
                "3. run {}: the replacement of {victim} was not shown within 60 s",
                i + 1
            ));
            continue;
        }
        println!(
            "  run {}: deleted {victim} -> {new_pod} in the page after {} (on the API server after {})",
            i + 1,
            ms(took),
            api.map(ms).unwrap_or_else(|| "?".into())
        );
        to_page.push(took);
        to_api.extend(api);
        // The deleted Pod leaves the page before the next run.
        let _ = wait_until(
            "the deleted Pod to leave the page",
            Duration::from_secs(30),
            || {
                let victim = victim.clone();
                async move {
                    dom_pods(page)
                        .await
                        .map(|d| !d.contains(&victim))
                        .unwrap_or(false)
                }
            },
        )
        .await;
    }
    if !to_page.is_empty() {
        let (med, max) = median_max(&to_page);
        let api_txt = if to_api.is_empty() {
            "?".to_string()
        } else {
            let (am, _) = median_max(&to_api);
            ms(am)
        };
        report.add(
            format!(
                "3. Pod deleted -> replacement in the open page (median / max of {})",
                to_page.len()
            ),
            "<= 1 s median",
            format!("{} / {}", ms(med), ms(max)),
            Some(med <= Duration::from_secs(1)),
        );
        report.notes.push(format!(
            "3. of which the cluster's part (replacement Pod on the API server): median {api_txt}"
        ));
    }

    println!(
        "\n== 3. drift -> badge: `live` scaled 2 -> 3 with a merge patch (selfHeal off, selfHealDelay {}), {} times ==",
        s.self_heal_delay, s.drifts
    );
    let mut drift = Vec::new();
    let mut undo = Vec::new();
    for i in 0..s.drifts {
        wait_until(
            "`#sync` to read Synced",
            Duration::from_secs(60),
            || async move {
                sync_badge(page)
                    .await
                    .map(|b| b == "Synced")
                    .unwrap_or(false)
            },
        )
        .await?;
        // Let the last change's tree reloads pass.
        tokio::time::sleep(Duration::from_millis(800)).await;
        scale(&deployments, 3).await?;
        let out = wait_until(
            "`#sync` to read OutOfSync",
            Duration::from_secs(60),
            || async move {
                sync_badge(page)
                    .await
                    .map(|b| b == "OutOfSync")
                    .unwrap_or(false)
            },
        )
        .await?;
        tokio::time::sleep(Duration::from_millis(800)).await;
        scale(&deployments, 2).await?;
        let back = wait_until(
            "`#sync` to read Synced",
            Duration::from_secs(60),
            || async move {
                sync_badge(page)
                    .await
                    .map(|b| b == "Synced")
                    .unwrap_or(false)
            },
        )
        .await?;
        println!(
            "  run {}: scaled to 3 -> OutOfSync badge after {}; back to 2 -> Synced badge after {}",
            i + 1,
            ms(out),
            ms(back)
        );
        drift.push(out);
        undo.push(back);
    }
    let (med, max) = median_max(&drift);
    let (umed, umax) = median_max(&undo);
    report.add(
        format!(
            "3. drift (scale 2->3) -> OutOfSync badge, selfHealDelay {} (median / max of {})",
            s.self_heal_delay,
            drift.len()
        ),
        "<= 1 s median (delay incl.)",
        format!("{} / {}", ms(med), ms(max)),
        Some(med <= Duration::from_secs(1)),
    );
    report.add(
        format!(
            "3. drift undone (3->2) -> Synced badge (median / max of {})",
            undo.len()
        ),
        "(reported)",
        format!("{} / {}", ms(umed), ms(umax)),
        None,
    );
    Ok(())
}

// ----- 4. RSS with open sessions ---------------------------------------------------

#[derive(Default)]
struct StreamCounts {
    connected: AtomicBool,
    failed: AtomicBool,
    app: AtomicU64,
    tree: AtomicU64,
    reload: AtomicU64,
    other: AtomicU64,
}

/// Reads `GET /ui/events` with a session and counts its events.
async fn follow(http: reqwest::Client, url: String, cookie: String, counts: Arc<StreamCounts>) {
    let r = match http.get(&url).header(COOKIE, cookie).send().await {
        Ok(r) if r.status().is_success() => r,
        _ => {
            counts.failed.store(true, Ordering::SeqCst);
            return;
        }
    };
    counts.connected.store(true, Ordering::SeqCst);
    let mut r = r;
    let mut carry = Vec::new();
    while let Ok(Some(chunk)) = r.chunk().await {
        carry.extend_from_slice(&chunk);
        while let Some(nl) = carry.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = carry.drain(..=nl).collect();
            let Some(kind) = line.strip_prefix(b"event:") else {
                continue;
            };
            let c = match kind.trim_ascii() {
                b"app" => &counts.app,
                b"tree" => &counts.tree,
                b"reload" => &counts.reload,
                _ => &counts.other,
            };
            c.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// What [`make_changes`] did.
#[derive(Default, Clone, Copy)]
struct Changes {
    created: usize,
    deleted: usize,
    failed: usize,
    scalings: usize,
    /// Where the next run goes on in the list of Applications.
    next: usize,
}

impl Changes {
    fn describe(&self) -> String {
        format!(
            "{} ConfigMaps created + {} deleted ({} failed), `live` scaled {} times",
            self.created, self.deleted, self.failed, self.scalings
        )
    }
}

/// A small Application's ConfigMap as its sync would write it (its
/// instance label, which the cluster cache watches, and tracking
/// annotation included, so that the cache maps it to the Application).
fn tracked_configmap(app: &str) -> Result<ConfigMap, serde_json::Error> {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": app,
            "namespace": SMALL_NS,
            "labels": {"app": app, INSTANCE_LABEL: app},
            "annotations": {TRACKING_ID: tracking_id(app, "", "ConfigMap", Some(SMALL_NS), app)},
        },
        "data": {"app": app, "settings.yaml": "feature: true\n"},
    }))
}

/// Status changes of the small Applications, made on the cluster, until
/// `until`: `rate / 2` times a second, the next Application's ConfigMap is
/// created (Missing -> present) and, once 10 are there, the oldest one's
/// deleted (present -> Missing): `rate` changes a second, each to another
/// Application; and `live` scaled 2 <-> 3 every 2 s (its tree and status).
async fn make_changes(
    client: kube::Client,
    names: Vec<String>,
    rate: f64,
    until: Instant,
    offset: usize,
) -> Changes {
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), SMALL_NS);
    let deployments: Api<Deployment> = Api::namespaced(client, LIVE_NS);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(2.0 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut done = Changes::default();
    let mut next_scale = Instant::now();
    let mut replicas = 3;
    let mut i = offset;
    let mut present = std::collections::VecDeque::new();
    let window = 10;
    while Instant::now() < until {
        tick.tick().await;
        if Instant::now() >= next_scale {
            if scale(&deployments, replicas).await.is_ok() {
                done.scalings += 1;
            }
            replicas = if replicas == 3 { 2 } else { 3 };
            next_scale += Duration::from_secs(2);
        }
        let name = names[i % names.len()].clone();
        i += 1;
        match tracked_configmap(&name) {
            Ok(cm) => match configmaps.create(&PostParams::default(), &cm).await {
                Ok(_) => {
                    done.created += 1;
                    present.push_back(name);
                }
                Err(_) => done.failed += 1,
            },
            Err(_) => done.failed += 1,
        }
        if present.len() > window {
            if let Some(old) = present.pop_front() {
                match configmaps.delete(&old, &DeleteParams::default()).await {
                    Ok(_) => done.deleted += 1,
                    Err(_) => done.failed += 1,
                }
            }
        }
    }
    for old in present {
        match configmaps.delete(&old, &DeleteParams::default()).await {
            Ok(_) => done.deleted += 1,
            Err(_) => done.failed += 1,
        }
    }
    let _ = scale(&deployments, 2).await;
    done.next = i;
    done
}

/// A counter's sum over its series in `GET /metrics`.
async fn metric(http: &reqwest::Client, base: &str, name: &str) -> Result<f64, Error> {
    let text = http
        .get(format!("{base}/metrics"))
        .bearer_auth(API_TOKEN)
        .send()
        .await?
        .text()
        .await?;
    let mut sum = 0.0;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        if !(rest.starts_with('{') || rest.starts_with(' ')) {
            continue;
        }
        if let Some(v) = rest.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) {
            sum += v;
        }
    }
    Ok(sum)
}

/// `POST /api/v1/applications/{app}/refresh` once, then counts the
/// reconciles that follow until none for 3 s (at most 300 s).
async fn one_refresh(
    base: &str,
    app: &str,
    total: usize,
    report: &mut Report,
) -> Result<(), Error> {
    let http = http_client()?;
    const RECONCILES: &str = "flotilla_app_reconcile_total";
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = metric(&http, base, RECONCILES).await?;
    let start = Instant::now();
    let r = http
        .post(format!("{base}/api/v1/applications/{app}/refresh"))
        .bearer_auth(API_TOKEN)
        .send()
        .await?;
    if !r.status().is_success() {
        return Err(format!("POST /api/v1/applications/{app}/refresh: {}", r.status()).into());
    }
    let mut last = before;
    let mut last_change = Instant::now();
    while last_change.elapsed() < Duration::from_secs(3)
        && start.elapsed() < Duration::from_secs(300)
    {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = metric(&http, base, RECONCILES).await?;
        if now != last {
            last = now;
            last_change = Instant::now();
        }
    }
    let reconciles = last - before;
    let took = last_change.duration_since(start);
    println!(
        "\n== refresh of ONE Application through the API (POST /api/v1/applications/{app}/refresh) ==\n  {reconciles:.0} reconciles followed, over {} ({total} Applications read that repository; each reconcile is one `app` event on every open /ui/events stream)",
        ms(took)
    );
    report.add(
        format!("5. one API refresh of {app}: reconciles that follow"),
        "(reported)",
        format!("{reconciles:.0} in {}", ms(took)),
        None,
    );
    Ok(())
}

async fn sessions_rss(
    s: &Settings,
    pid: u32,
    base: &str,
    client: &kube::Client,
    names: &[String],
    report: &mut Report,
) -> Result<(), Error> {
    let n = s.sessions;
    println!(
        "\n== 4. controller RSS with {n} open UI sessions receiving live updates ({} s of changes: {} small Applications' status changed per second on the cluster + `live` scaled every 2 s) ==",
        s.live.as_secs(),
        s.change_rate
    );
    // The small Applications' namespace, for their ConfigMaps.
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": SMALL_NS}}))?;
    match namespaces.create(&PostParams::default(), &ns).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => return Err(e.into()),
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle = sample_rss(pid, Duration::from_secs(10)).await;
    println!("  idle, no session (10 s): {}", idle.describe());

    // The same changes with nobody watching.
    let until = Instant::now() + s.live;
    let changes = tokio::spawn(make_changes(
        client.clone(),
        names.to_vec(),
        s.change_rate,
        until,
        0,
    ));
    let unwatched = sample_rss(pid, s.live).await;
    let changes0 = changes.await.unwrap_or_default();
    println!(
        "  changes, no session ({} s; {}): {}",
        s.live.as_secs(),
        changes0.describe(),
        unwatched.describe()
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before_sign_in = mem_mib(pid, "VmRSS:").unwrap_or(0.0);

    // Sign in n times.
    let http = http_client()?;
    let mut cookies = Vec::new();
    let mut sign_ins = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        cookies.push(sign_in(&http, base).await?);
        sign_ins.push(t.elapsed());
    }
    let (sin_med, sin_max) = median_max(&sign_ins);
    // Streams: one per session, and a few following one Application.
    let streams_http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let mut streams = Vec::new();
    let mut tasks = Vec::new();
    let followers = [("live", 3), ("big", 2)];
    let mut urls: Vec<(String, String)> = cookies
        .iter()
        .map(|c| (format!("{base}/ui/events"), c.clone()))
        .collect();
    let mut k = 0;
    for (app, count) in followers {
        for _ in 0..count {
            urls.push((
                format!("{base}/ui/events?app={app}"),
                cookies[k % cookies.len()].clone(),
            ));
            k += 1;
        }
    }
    for (url, cookie) in urls {
        let counts = Arc::new(StreamCounts::default());
        tasks.push(tokio::spawn(follow(
            streams_http.clone(),
            url.clone(),
            cookie,
            counts.clone(),
        )));
        streams.push((url, counts));
    }
    let total_streams = streams.len();
    wait_until(
        "every event stream to connect",
        Duration::from_secs(60),
        || {
            let streams = &streams;
            async move {
                streams.iter().all(|(_, c)| {
                    c.connected.load(Ordering::SeqCst) || c.failed.load(Ordering::SeqCst)
                })
            }
        },
    )
    .await?;
    let failed_streams = streams
        .iter()
        .filter(|(_, c)| c.failed.load(Ordering::SeqCst))
        .count();
    let after_connect = mem_mib(pid, "VmRSS:").unwrap_or(0.0);
    println!(
        "  {n} sign-ins (median {}, max {}), {total_streams} streams open ({failed_streams} refused): VmRSS {before_sign_in:.1} -> {after_connect:.1} MiB",
        ms(sin_med),
        ms(sin_max)
    );

    let until = Instant::now() + s.live;
    let changes = tokio::spawn(make_changes(
        client.clone(),
        names.to_vec(),
        s.change_rate,
        until,
        changes0.next,
    ));
    let watched = sample_rss(pid, s.live).await;
    let changes1 = changes.await.unwrap_or_default();
    // The last events arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!(
        "  changes, {n} sessions streaming ({} s; {}): {}",
        s.live.as_secs(),
        changes1.describe(),
        watched.describe()
    );
    let count = |c: &StreamCounts| {
        (
            c.app.load(Ordering::Relaxed),
            c.tree.load(Ordering::Relaxed),
            c.reload.load(Ordering::Relaxed),
            c.other.load(Ordering::Relaxed),
        )
    };
    let plain: Vec<(u64, u64, u64, u64)> = streams
        .iter()
        .filter(|(u, _)| !u.contains("?app="))
        .map(|(_, c)| count(c))
        .collect();
    let apps: Vec<f64> = plain.iter().map(|c| c.0 as f64).collect();
    let reloads: u64 = plain.iter().map(|c| c.2).sum();
    let min = apps.iter().copied().fold(f64::INFINITY, f64::min);
    let max = apps.iter().copied().fold(0.0, f64::max);
    println!(
        "  events per /ui/events stream ({} streams): `app` min {min:.0}, median {:.0}, max {max:.0}; `reload` {reloads} in all",
        plain.len(),
        median_f(&apps)
    );
    let mut follower_txt = Vec::new();
    for (app, _) in followers {
        let f: Vec<(u64, u64, u64, u64)> = streams
            .iter()
            .filter(|(u, _)| u.ends_with(&format!("?app={app}")))
            .map(|(_, c)| count(c))
            .collect();
        let txt = f
            .iter()
            .map(|c| format!("{} app + {} tree", c.0, c.1))
            .collect::<Vec<_>>()
            .join(", ");
        println!("  events per /ui/events?app={app} stream: {txt}");
        follower_txt.push(format!("?app={app}: {txt}"));
    }
    for t in &tasks {
        t.abort();
    }
    drop(tasks);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after_close = sample_rss(pid, Duration::from_secs(5)).await;
    println!("  streams closed (5 s): {}", after_close.describe());

    let delta = watched.avg() - unwatched.avg();
    report.add(
        format!(
            "4. controller RSS, {n} sessions streaming vs none (avg over {} s each, same changes)",
            s.live.as_secs()
        ),
        "<= +20 MiB",
        format!(
            "{:+.1} MiB ({:.1} -> {:.1})",
            delta,
            unwatched.avg(),
            watched.avg()
        ),
        Some(delta <= 20.0),
    );
    let lowest = unwatched
        .samples
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min);
    if watched.max() - lowest < 0.5 {
        report.notes.push(format!(
            "4. VmRSS stayed within 0.5 MiB ({lowest:.1} to {:.1} MiB) from the changes without sessions to the end of the streaming: what the sessions and streams use came out of heap already resident (freed after the first reconcile of everything); the figure bounds their growth, it does not size them",
            watched.max()
        ));
    }
    report.add(
        "4. controller VmRSS idle / max with the sessions",
        "(reported)",
        format!("{:.1} / {:.1} MiB", idle.avg(), watched.max()),
        None,
    );
    report.add(
        format!(
            "4. `app` events per stream ({} streams; min / median / max)",
            plain.len()
        ),
        "(reported)",
        format!("{min:.0} / {:.0} / {max:.0}", median_f(&apps)),
        None,
    );
    report.notes.push(format!(
        "4. while streaming: {}; {failed_streams} streams refused, {reloads} `reload` events; followers {}; controller {:.2} cores with the streams vs {:.2} without; sign-in median {}",
        changes1.describe(),
        follower_txt.join("; "),
        watched.cores(),
        unwatched.cores(),
        ms(sin_med)
    ));
    Ok(())
}

// ----- main ------------------------------------------------------------------------

async fn wait_all_reconciled(
    s: &Settings,
    http: &reqwest::Client,
    base: &str,
    pid: u32,
    total: usize,
) -> Result<(), Error> {
    let start = Instant::now();
    let mut last_print = Instant::now();
    loop {
        if let Ok(apps) = list_apps(http, base).await {
            let reconciled = apps.iter().filter(|a| !a.reconciled_at.is_empty()).count();
            let ready = |name: &str| {
                apps.iter()
                    .any(|a| a.name == name && a.sync == "Synced" && a.health == "Healthy")
            };
            let (big, live) = (ready("big"), ready("live"));
            if apps.len() >= total && reconciled >= total && big && live {
                return Ok(());
            }
            if last_print.elapsed() >= Duration::from_secs(15) {
                let mut states: BTreeMap<String, usize> = BTreeMap::new();
                for a in &apps {
                    *states
                        .entry(format!("{}/{}", a.sync, a.health))
                        .or_default() += 1;
                }
                println!(
                    "  t={:>4.0}s  listed {:>5}  reconciled {:>5}  big {}  live {}  {:?}  | VmRSS {:.0} MiB",
                    start.elapsed().as_secs_f64(),
                    apps.len(),
                    reconciled,
                    if big { "ready" } else { "not yet" },
                    if live { "ready" } else { "not yet" },
                    states,
                    mem_mib(pid, "VmRSS:").unwrap_or(0.0)
                );
                if let Some(a) = apps.iter().find(|a| !a.conditions.is_empty()) {
                    println!(
                        "    e.g. {}: {}",
                        a.name,
                        a.conditions
                            .last()
                            .map(|c| c.message.as_str())
                            .unwrap_or("")
                    );
                }
                last_print = Instant::now();
            }
        }
        if start.elapsed() > s.timeout {
            return Err(format!("not every Application reconciled after {:?}", s.timeout).into());
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

async fn run(s: &Settings, tmp: &Path, report: &mut Report) -> Result<(), Error> {
    let bin = flotilla_bin()?;
    println!("flotilla: {}", bin.display());
    let n = s.apps;
    let total = n + 2;

    let t = Instant::now();
    let lab = TestLab::builder(&[REGION]).start().await?;
    println!(
        "lab up (1 region, {REGION}) in {:.1}s",
        t.elapsed().as_secs_f64()
    );
    let client = lab.client(REGION).await?;

    let t = Instant::now();
    let repo = tmp.join("repo");
    let files = generate_repo(&repo, n)?;
    println!(
        "repository: {files} files ({n} small Applications from one ApplicationSet's list generator, `big`, `live`), made in {:.1}s",
        t.elapsed().as_secs_f64()
    );
    let config = tmp.join("flotilla.yaml");
    std::fs::write(
        &config,
        controller_config(s, &tmp.join("state"), &repo, &lab.kubeconfig()),
    )?;
    let start = Instant::now();
    let mut ctl = ControllerProcess::spawn(&bin, &config, &tmp.join("controller.log"))?;
    let pid = ctl.pid();
    let base = ctl.base.clone();
    println!(
        "controller pid {pid}, API and UI on {base} (selfHealDelay {}), up after {}",
        s.self_heal_delay,
        ms(start.elapsed())
    );
    let http = http_client()?;
    println!("waiting until all {total} Applications are reconciled, `big` and `live` Synced and Healthy ...");
    wait_all_reconciled(s, &http, &base, pid, total).await?;
    println!(
        "all {total} Applications reconciled {} after the controller's start; VmRSS {:.0} MiB",
        ms(start.elapsed()),
        mem_mib(pid, "VmRSS:").unwrap_or(0.0)
    );
    report.notes.push(format!(
        "set-up: {total} Applications all reconciled {} after the controller's start (controller VmRSS then {:.0} MiB)",
        ms(start.elapsed()),
        mem_mib(pid, "VmRSS:").unwrap_or(0.0)
    ));
    // Let the first reconciles' after-effects pass.
    tokio::time::sleep(Duration::from_secs(5)).await;

    let cookie = sign_in(&http, &base).await?;
    page_times(s, &http, &base, &cookie, total, report).await?;

    match Browser::launch().await? {
        None => {
            let bar = "#".repeat(78);
            println!(
                "\n{bar}\n# CHROMIUM NOT FOUND: the browser figures (first paint, cluster change -> page,\n# drift -> badge) are SKIPPED. Install Debian's `chromium` or set $FLOTILLA_CHROMIUM.\n{bar}"
            );
            report.add(
                "1. first paint / 3. live updates in Chromium",
                "",
                "SKIPPED (no chromium)",
                None,
            );
        }
        Some(browser) => {
            println!("\nbrowser: {}", browser.version().await.unwrap_or_default());
            report.notes.push(format!(
                "browser: {}",
                browser.version().await.unwrap_or_default()
            ));
            let page = browser.new_page(&format!("{base}/login")).await?;
            page.fill("#password", API_TOKEN).await?;
            page.submit("#password").await?;
            page.wait_for("#apps", Duration::from_secs(60)).await?;
            let result = async {
                first_paint(s, &page, &base, total, report).await?;
                live_updates(s, &page, &base, &client, report).await
            }
            .await;
            drop(page);
            browser.close().await;
            result?;
        }
    }

    let names: Vec<String> = (0..n).map(|i| app_name(i, n)).collect();
    sessions_rss(s, pid, &base, &client, &names, report).await?;
    one_refresh(&base, &names[0], total, report).await?;
    ctl.stop();
    drop(lab);
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Error> {
    let started = Instant::now();
    let s = Settings::from_env();
    println!(
        "machine: {} cores, load average {}; {} Applications (FLOTILLA_BENCH_UI_APPS)",
        cores(),
        loadavg(),
        s.apps
    );
    let tmp = tempfile::Builder::new()
        .prefix("flotilla-bench-ui-")
        .tempdir()?;
    let mut report = Report::default();
    let result = run(&s, tmp.path(), &mut report).await;
    if let Err(e) = &result {
        println!("\nthe bench failed: {e}");
        println!(
            "controller log (kept below the temporary directory only with FLOTILLA_BENCH_KEEP=1): {}",
            tmp.path().join("controller.log").display()
        );
    }
    println!(
        "\n== results: the web UI, {} + 2 Applications, one lab region ==",
        s.apps
    );
    report.print();
    println!(
        "machine: {} cores, load average now {}; selfHealDelay {}",
        cores(),
        loadavg(),
        s.self_heal_delay
    );
    println!("total bench time {:.0}s", started.elapsed().as_secs_f64());
    if s.keep {
        let kept = tmp.keep();
        println!("kept {}", kept.display());
    }
    result
}
