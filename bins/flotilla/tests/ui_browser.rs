//! The web UI in a real browser (headless Chromium from Debian's package),
//! against the demo's controller on the lab: sign in, find the
//! Applications, open one and its tree, see a drift made with kubectl as a
//! diff, sync it and watch it go Synced live, roll back, check CSRF and the
//! Content-Security-Policy, use it without JavaScript, log out. Screenshots
//! of each step go to `target/test-artifacts/ui_browser/`.

mod common;

use common::{flotilla, text, Down};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use flotilla_tests::browser::{artifacts_dir, Browser, Page};

const APP: &str = "gen-algo-dev-us-east-2";
const WAIT: Duration = Duration::from_secs(90);

/// `kubectl` with the lab's kubeconfig and binaries (from `lab env`).
fn kubectl(home: &Path, args: &[&str]) -> String {
    let env = text(&flotilla(home, &["lab", "env"]).stdout);
    let mut cmd = Command::new("kubectl");
    for (k, v) in env
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
    {
        cmd.env(k, v.trim_matches('\''));
    }
    let out = cmd
        .args(["--context", "lab-us-east-2", "-n", APP])
        .args(args)
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn api_replicas(home: &Path) -> String {
    kubectl(
        home,
        &[
            "get",
            "deployment/gen-algo-api",
            "-o",
            "jsonpath={.spec.replicas}",
        ],
    )
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=ui test",
            "-c",
            "user.email=ui@test.invalid",
        ])
        .args(args)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
}

/// Polls `check` until it holds or `WAIT` passes.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

struct Shots {
    dir: PathBuf,
    n: usize,
}

impl Shots {
    async fn take(&mut self, page: &Page, name: &str) {
        self.n += 1;
        let path = self.dir.join(format!("{:02}-{name}.png", self.n));
        page.screenshot(&path).await.expect("screenshot");
    }
}

async fn history_ids(page: &Page) -> Vec<i64> {
    let v = page
        .eval("Array.from(document.querySelectorAll('#history a.rollback')).map(a => Number(new URL(a.href).searchParams.get('id')))")
        .await
        .expect("history ids");
    serde_json::from_value(v).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_in_chromium_signs_in_shows_the_tree_diffs_syncs_rolls_back_and_signs_out() {
    let Some(browser) = Browser::launch().await.expect("chromium starts") else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_path_buf();
    let _down = Down(&h);
    let out = flotilla(&h, &["demo"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    // The demo prints where the UI is and how to sign in.
    let base = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Web UI: "))
        .unwrap_or_else(|| panic!("no 'Web UI:' line in {stdout}"))
        .trim()
        .trim_end_matches('/')
        .to_string();
    assert!(
        stdout.contains("user name left empty and the API token as the password"),
        "{stdout}"
    );
    let token = std::fs::read_to_string(h.join("demo/api-token")).unwrap();
    let mut shots = Shots {
        dir: artifacts_dir("ui_browser"),
        n: 0,
    };

    // Not signed in: the UI sends the browser to the login page.
    let page = browser
        .new_page(&format!("{base}/applications"))
        .await
        .unwrap();
    page.wait_for("#password", WAIT).await.unwrap();
    assert!(page.url().await.unwrap().contains("/login"));
    shots.take(&page, "login").await;
    // A wrong password is refused with a message.
    page.fill("#password", "not-the-token").await.unwrap();
    page.submit("#password").await.unwrap();
    page.wait_for_text("#login-error", "Wrong", WAIT)
        .await
        .unwrap();
    // The API token, user name left empty.
    page.fill("#username", "").await.unwrap();
    page.fill("#password", token.trim()).await.unwrap();
    page.submit("#password").await.unwrap();
    page.wait_for("#apps", WAIT).await.unwrap();
    for app in [
        "gen-algo-dev-us-east-2",
        "gen-algo-dev-us-west-2",
        "status-page-dev-us-east-2",
        "status-page-dev-us-west-2",
    ] {
        page.wait_for_text(
            &format!("tr[data-app='{app}'] [data-field='health']"),
            "Healthy",
            WAIT,
        )
        .await
        .unwrap();
    }
    shots.take(&page, "applications").await;
    // Filters live in the URL.
    page.goto(&format!("{base}/applications?cluster=lab-us-west-2"))
        .await
        .unwrap();
    page.wait_for("#apps", WAIT).await.unwrap();
    let rows = page
        .eval("document.querySelectorAll('#apps tbody tr').length")
        .await
        .unwrap();
    assert_eq!(rows, 2, "two Applications on lab-us-west-2");
    page.goto(&format!("{base}/applications?view=tiles&q=status-page"))
        .await
        .unwrap();
    page.wait_for(".tile[data-app='status-page-dev-us-east-2']", WAIT)
        .await
        .unwrap();
    shots.take(&page, "tiles-filtered").await;

    // One Application: Deployment -> ReplicaSet -> Pod.
    page.goto(&format!("{base}/applications")).await.unwrap();
    page.click(&format!("tr[data-app='{APP}'] a"))
        .await
        .unwrap();
    page.wait_for(".node.depth-2[data-kind='Pod']", WAIT)
        .await
        .unwrap();
    let order = page
        .eval("Array.from(document.querySelectorAll('#tree .node')).map(n => n.className.split(' ')[1] + ':' + n.dataset.kind).join(',')")
        .await
        .unwrap();
    let order = order.as_str().unwrap_or_default().to_string();
    assert!(
        order.contains("depth-0:Deployment,depth-1:ReplicaSet,depth-2:Pod"),
        "{order}"
    );
    shots.take(&page, "tree").await;

    // Roll back to the current sync: automated sync goes off (as in Argo
    // CD), so a drift stays visible.
    let ids = history_ids(&page).await;
    assert!(!ids.is_empty(), "a history entry to roll back to");
    page.click(&format!("#history a.rollback[href$='id={}']", ids[0]))
        .await
        .unwrap();
    page.wait_for("#confirm-rollback", WAIT).await.unwrap();
    page.click("#confirm-rollback").await.unwrap();
    page.wait_for_text("dl.facts", "(off after a rollback)", WAIT)
        .await
        .unwrap();

    // A drift made with kubectl shows live, without a reload.
    page.eval("window.__notReloaded = true").await.unwrap();
    kubectl(&h, &["scale", "deployment/gen-algo-api", "--replicas=1"]);
    page.wait_for_text("#sync", "OutOfSync", WAIT)
        .await
        .unwrap();
    assert_eq!(
        page.eval("window.__notReloaded === true").await.unwrap(),
        true,
        "the page updated itself"
    );
    shots.take(&page, "drift").await;
    // (The tree is replaced as it changes live: follow its link by address.)
    let href = page
        .eval("document.querySelector(\"#tree .node[data-kind='Deployment'][data-name='gen-algo-api'] a\").href")
        .await
        .unwrap();
    page.goto(href.as_str().unwrap()).await.unwrap();
    page.wait_for("#side-by-side", WAIT).await.unwrap();
    let diff = page.text("#side-by-side").await.unwrap();
    assert!(
        diff.contains("replicas: 1") && diff.contains("replicas: 2"),
        "{diff}"
    );
    shots.take(&page, "diff").await;
    // Secrets are masked in every view.
    page.goto(&format!(
        "{base}/applications/{APP}/resource?group=&kind=Secret&namespace={APP}&name=gen-algo-api-env"
    ))
    .await
    .unwrap();
    page.wait_for("#live-yaml", WAIT).await.unwrap();
    let live = page.text("#live-yaml").await.unwrap();
    assert!(live.contains("DB_URL: ++++++++"), "{live}");

    // Sync from the UI, and watch it go Synced live.
    page.goto(&format!("{base}/applications/{APP}"))
        .await
        .unwrap();
    page.click("#sync-button").await.unwrap();
    page.wait_for("#synchronize", WAIT).await.unwrap();
    shots.take(&page, "sync-panel").await;
    page.click("#synchronize").await.unwrap();
    page.wait_for("#tree", WAIT).await.unwrap();
    page.eval("window.__notReloaded = true").await.unwrap();
    page.wait_for_text("#sync", "Synced", WAIT).await.unwrap();
    eventually("2 replicas again", || api_replicas(&h) == "2");
    shots.take(&page, "synced").await;

    // A commit (3 replicas), then a rollback to the sync before it, with the
    // diff of what the rollback changes.
    let repo = h.join("demo/repo");
    let patch = repo.join("manifests/overlays/dev/us-east-2/api-deployment-patch.yaml");
    let yaml = std::fs::read_to_string(&patch).unwrap();
    std::fs::write(&patch, yaml.replace("replicas: 2", "replicas: 3")).unwrap();
    git(&repo, &["commit", "-qam", "east: 3 api replicas"]);
    let before = history_ids(&page).await;
    page.click("#refresh").await.unwrap();
    eventually("3 replicas", || api_replicas(&h) == "3");
    let deadline = Instant::now() + WAIT;
    let ids = loop {
        page.goto(&format!("{base}/applications/{APP}"))
            .await
            .unwrap();
        let ids = history_ids(&page).await;
        if ids.len() > before.len() {
            break ids;
        }
        assert!(Instant::now() < deadline, "no new history entry: {ids:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    page.click(&format!("#history a.rollback[href$='id={}']", ids[1]))
        .await
        .unwrap();
    page.wait_for(".rollback-diff", WAIT).await.unwrap();
    let preview = page.text(".rollback-diff").await.unwrap();
    assert!(
        preview.contains("replicas: 3") && preview.contains("replicas: 2"),
        "{preview}"
    );
    shots.take(&page, "rollback-preview").await;
    page.click("#confirm-rollback").await.unwrap();
    eventually("2 replicas after the rollback", || api_replicas(&h) == "2");
    page.goto(&format!("{base}/applications/{APP}"))
        .await
        .unwrap();
    page.wait_for_text("#history tbody tr", "rollback to", WAIT)
        .await
        .unwrap();
    shots.take(&page, "rolled-back").await;

    // CSRF: a POST without the form's token is refused.
    let status = page
        .eval(&format!(
            "fetch('/applications/{APP}/refresh', {{method: 'POST', body: new URLSearchParams({{csrf: 'forged'}})}}).then(r => r.status)"
        ))
        .await
        .unwrap();
    assert_eq!(status, 403, "a forged POST is refused");
    // CSP: the header is strict, and an injected inline script does not run.
    let csp = page
        .eval("fetch('/applications').then(r => r.headers.get('content-security-policy'))")
        .await
        .unwrap();
    let csp = csp.as_str().unwrap_or_default().to_string();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let ran = page
        .eval("(() => { const s = document.createElement('script'); s.textContent = 'window.__injected = 1'; document.body.appendChild(s); return window.__injected === 1; })()")
        .await
        .unwrap();
    assert_eq!(ran, false, "an inline script ran despite the CSP");
    let violation = page
        .wait_for_console(
            "a CSP violation",
            |m| m.is_csp_violation(),
            Duration::from_secs(10),
        )
        .await;
    assert!(violation.is_ok(), "the CSP violation was reported");

    // Without JavaScript the pages still work (only live updates are lost).
    page.set_javascript_enabled(false).await.unwrap();
    page.goto(&format!("{base}/applications?sync=Synced"))
        .await
        .unwrap();
    page.wait_for("#apps tbody tr", WAIT).await.unwrap();
    shots.take(&page, "no-javascript").await;
    page.set_javascript_enabled(true).await.unwrap();

    // Log out: the session is gone.
    page.goto(&format!("{base}/applications")).await.unwrap();
    page.click("#logout").await.unwrap();
    page.wait_for("#password", WAIT).await.unwrap();
    page.goto(&format!("{base}/applications")).await.unwrap();
    page.wait_for("#password", WAIT).await.unwrap();
    shots.take(&page, "logged-out").await;
    page.close().await.ok();
    browser.close().await;
}
