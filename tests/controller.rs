//! The controller end to end: the multi-region example served from Git, two
//! lab regions with OpenBao, and the controller keeping them equal to Git.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use flotilla_controller::api::Server;
use flotilla_controller::config::ControllerConfig;
use flotilla_controller::views::AppView;
use flotilla_controller::Controller;
use flotilla_tests::e2e::{eventually, Env, API_TOKEN, REGIONS};
use tokio::sync::Mutex;

/// One lab at a time: each is two regions and OpenBao on two cores.
static SERIAL: Mutex<()> = Mutex::const_new(());

async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    SERIAL.lock().await
}

/// A controller running in this process, with its API.
struct Running {
    controller: Controller,
    base: String,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn start(config: &std::path::Path) -> Running {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_env("FLOTILLA_LOG").unwrap_or_else(|_| {
                    tracing_subscriber::EnvFilter::new("flotilla_controller=info")
                }),
            )
            .with_test_writer()
            .try_init();
        let config = ControllerConfig::load(config).expect("config");
        let controller = Controller::new(config).await.expect("controller");
        let server = Server::bind(&controller).await.expect("bind");
        let base = format!("http://{}", server.local_addr().expect("addr"));
        let c = controller.clone();
        let task = tokio::spawn(async move {
            let api = tokio::spawn(server.serve());
            c.run().await.expect("run");
            let _ = api.await;
        });
        Running {
            controller,
            base,
            task,
        }
    }

    async fn stop(self) {
        self.controller.shutdown();
        let _ = tokio::time::timeout(Duration::from_secs(30), self.task).await;
    }

    fn app(&self, name: &str) -> Option<AppView> {
        self.controller.application(name)
    }

    async fn converged(&self, timeout: Duration) -> Vec<AppView> {
        match self
            .controller
            .wait_for(timeout, |apps| {
                apps.len() == REGIONS.len()
                    && apps
                        .iter()
                        .all(|a| a.sync == "Synced" && a.health == "Healthy")
            })
            .await
        {
            Ok(apps) => apps,
            Err(apps) => panic!(
                "not Synced and Healthy after {timeout:?}: {}",
                summary(
                    &apps
                        .iter()
                        .filter_map(|a| self.app(&a.name))
                        .collect::<Vec<_>>()
                )
            ),
        }
    }
}

/// One line per Application and per resource not Synced or Healthy.
fn summary(apps: &[AppView]) -> String {
    let mut out = String::new();
    for a in apps {
        out.push_str(&format!(
            "\n{} sync={} health={} revision={} conditions={:?}",
            a.name, a.sync, a.health, a.revision, a.conditions
        ));
        for r in &a.resources {
            if r.status != "Synced" || r.health.as_deref().is_some_and(|h| h != "Healthy") {
                out.push_str(&format!(
                    "\n  {} {}/{} status={} health={:?} {}",
                    r.kind, r.namespace, r.name, r.status, r.health, r.message
                ));
            }
        }
    }
    out
}

fn jsonpath(env: &Env, region: &str, what: &str, path: &str) -> String {
    env.kubectl(
        region,
        &[
            "-n",
            &Env::namespace(region),
            "get",
            what,
            "-o",
            &format!("jsonpath={path}"),
        ],
    )
}

/// The example's api replicas per region.
fn initial_replicas(region: &str) -> &'static str {
    if region == "us-east-2" {
        "2"
    } else {
        "1"
    }
}

fn api_replicas(env: &Env, region: &str) -> String {
    jsonpath(env, region, "deployment/gen-algo-api", "{.spec.replicas}")
}

fn set_api_replicas(region: &str, replicas: u32) -> impl FnOnce(&str) -> String {
    let _ = region;
    move |text: &str| {
        let mut out = String::new();
        for line in text.lines() {
            if line.trim_start().starts_with("replicas:") {
                let indent = &line[..line.len() - line.trim_start().len()];
                out.push_str(&format!("{indent}replicas: {replicas}\n"));
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }
}

async fn post_webhook(base: &str, env: &Env, after: &str) -> reqwest::Response {
    let (body, sig) = env.github_push(after);
    reqwest::Client::new()
        .post(format!("{base}/api/webhook"))
        .header("X-GitHub-Event", "push")
        .header("X-Hub-Signature-256", sig)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .expect("webhook request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_example_converges_and_follows_git_webhooks_drift_rollback_and_removal() {
    let _serial = serial().await;
    let env = Env::start(true).await;
    // No polling during the test: only webhooks and watches move things.
    let config = env.config("webhook", "1h", "");
    let ctl = Running::start(&config).await;

    // 1. Both regions converge, each from its own overlay, with the
    //    secret read from Vault.
    let started = Instant::now();
    let apps = ctl.converged(Duration::from_secs(120)).await;
    eprintln!("converged in {:?}", started.elapsed());
    let first = apps[0].revision.clone();
    for region in REGIONS {
        assert_eq!(api_replicas(&env, region), initial_replicas(region));
        let region_env = jsonpath(
            &env,
            region,
            "deployment/gen-algo-api",
            "{.spec.template.spec.containers[0].env[?(@.name==\"REGION\")].value}",
        );
        assert_eq!(region_env, region);
        let db = jsonpath(&env, region, "secret", "{.items[*].data.DB_URL}");
        assert!(!db.is_empty(), "{region}: no secret with DB_URL");
        let decoded = String::from_utf8(
            Command::new("base64")
                .arg("-d")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .and_then(|mut c| {
                    use std::io::Write;
                    c.stdin.take().expect("stdin").write_all(db.as_bytes())?;
                    c.wait_with_output()
                })
                .expect("base64")
                .stdout,
        )
        .expect("utf-8");
        assert_eq!(decoded, "postgres://db.lab:5432/app");
    }
    // The API lists both, and refuses reads without the token.
    let client = reqwest::Client::new();
    let listed: Vec<AppView> = client
        .get(format!("{}/api/v1/applications", ctl.base))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(listed.len(), 2);
    let anon = client
        .get(format!("{}/api/v1/applications", ctl.base))
        .send()
        .await
        .expect("anon");
    assert_eq!(anon.status(), 401);

    // 2. A commit changing one region's patch reaches only that cluster,
    //    within 5 s of the webhook.
    let west_rv_before = jsonpath(
        &env,
        "us-west-2",
        "deployment/gen-algo-api",
        "{.metadata.generation}",
    );
    let commit = env.commit(
        "manifests/overlays/dev/us-east-2/api-deployment-patch.yaml",
        set_api_replicas("us-east-2", 3),
        "east: 3 api replicas",
    );
    let sent = Instant::now();
    let answer = post_webhook(&ctl.base, &env, &commit).await;
    assert!(answer.status().is_success(), "{}", answer.status());
    let (_, took) = eventually("east at 3 replicas", Duration::from_secs(30), || {
        (api_replicas(&env, "us-east-2") == "3").then_some(())
    })
    .await;
    let took = took.max(sent.elapsed().min(took));
    eprintln!("webhook to applied: {took:?}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let west_rv_after = jsonpath(
        &env,
        "us-west-2",
        "deployment/gen-algo-api",
        "{.metadata.generation}",
    );
    assert_eq!(west_rv_before, west_rv_after, "us-west-2 was changed");
    assert_eq!(api_replicas(&env, "us-west-2"), "1");
    let east = Env::app("us-east-2");
    eventually("east's revision", Duration::from_secs(10), || {
        ctl.app(&east).filter(|a| a.revision == commit).map(|_| ())
    })
    .await;

    // An unsigned or badly signed push is refused and changes nothing.
    let bad = client
        .post(format!("{}/api/webhook", ctl.base))
        .header("X-GitHub-Event", "push")
        .header("X-Hub-Signature-256", "sha256=00")
        .body(env.github_push(&commit).0)
        .send()
        .await
        .expect("bad webhook");
    assert_eq!(bad.status(), 401);

    // 3. Drift made with kubectl is healed.
    env.kubectl(
        "us-west-2",
        &[
            "-n",
            &Env::namespace("us-west-2"),
            "scale",
            "deployment/gen-algo-api",
            "--replicas=5",
        ],
    );
    let (_, healed) = eventually("drift healed", Duration::from_secs(20), || {
        (api_replicas(&env, "us-west-2") == "1").then_some(())
    })
    .await;
    eprintln!("drift healed in {healed:?}");

    // A generator error (the article's `//` comment in a config.json)
    // changes nothing that exists, and is reported with its place.
    let config_json = "manifests/overlays/dev/us-west-2/config.json";
    let good = std::fs::read_to_string(env.work.join(config_json)).expect("config.json");
    let broken = env.commit(
        config_json,
        |t| t.replacen("{", "{ // obtain from your kubeconfig\n", 1),
        "a comment in config.json",
    );
    post_webhook(&ctl.base, &env, &broken).await;
    let (error, _) = eventually("the generator error", Duration::from_secs(15), || {
        ctl.controller
            .application_sets()
            .into_iter()
            .find_map(|s| s.error)
    })
    .await;
    assert!(error.contains("us-west-2/config.json:1:3"), "{error}");
    assert_eq!(ctl.controller.applications().len(), 2);
    assert_eq!(api_replicas(&env, "us-west-2"), "1");
    let fixed = env.commit(config_json, |_| good.clone(), "fix config.json");
    post_webhook(&ctl.base, &env, &fixed).await;
    eventually("the error cleared", Duration::from_secs(15), || {
        ctl.controller
            .application_sets()
            .iter()
            .all(|s| s.error.is_none())
            .then_some(())
    })
    .await;

    // 4. Rollback restores the earlier revision and stops automated sync.
    let history = ctl.controller.history(&east).expect("history");
    assert!(history.len() >= 2, "{history:?}");
    let initial = history
        .iter()
        .rev()
        .find(|h| h.revision == first && h.phase == "Succeeded")
        .expect("the first sync is in the history")
        .id;
    let op: serde_json::Value = client
        .post(format!("{}/api/v1/applications/{east}/rollback", ctl.base))
        .bearer_auth(API_TOKEN)
        .json(&serde_json::json!({"id": initial}))
        .send()
        .await
        .expect("rollback")
        .json()
        .await
        .expect("json");
    assert_eq!(op["phase"], "Succeeded", "{op}");
    assert_eq!(api_replicas(&env, "us-east-2"), "2");
    let view = ctl.app(&east).expect("east");
    assert!(view.auto_sync_disabled, "{view:?}");
    // A new commit no longer reaches east automatically.
    let commit2 = env.commit(
        "manifests/overlays/dev/us-east-2/api-deployment-patch.yaml",
        set_api_replicas("us-east-2", 4),
        "east: 4 api replicas",
    );
    post_webhook(&ctl.base, &env, &commit2).await;
    eventually(
        "east OutOfSync at the new commit",
        Duration::from_secs(20),
        || {
            ctl.app(&east)
                .filter(|a| a.revision == commit2 && a.sync == "OutOfSync")
                .map(|_| ())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(api_replicas(&env, "us-east-2"), "2");

    // 5. Removing a region's config.json removes its Application and
    //    prunes its resources.
    std::fs::remove_file(
        env.work
            .join("manifests/overlays/dev/us-west-2/config.json"),
    )
    .expect("rm");
    let commit3 = env.commit_all("retire us-west-2");
    post_webhook(&ctl.base, &env, &commit3).await;
    let west = Env::app("us-west-2");
    eventually("west removed", Duration::from_secs(20), || {
        ctl.app(&west).is_none().then_some(())
    })
    .await;
    eventually("west pruned", Duration::from_secs(30), || {
        let out = env.kubectl(
            "us-west-2",
            &[
                "-n",
                &Env::namespace("us-west-2"),
                "get",
                "deploy,svc,secret,ingress",
                "-o",
                "name",
            ],
        );
        (!out.contains("gen-algo")).then_some(())
    })
    .await;
    ctl.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn polling_follows_git_preserves_on_request_and_a_lost_remote_changes_nothing() {
    let _serial = serial().await;
    let env = Env::start(true).await;
    let config = env.config("poll", "2s", "");
    let ctl = Running::start(&config).await;
    ctl.converged(Duration::from_secs(120)).await;

    // Within one poll interval without a webhook.
    let commit = env.commit(
        "manifests/overlays/dev/us-west-2/api-deployment-patch.yaml",
        set_api_replicas("us-west-2", 3),
        "west: 3 api replicas",
    );
    let (_, took) = eventually("west at 3 by polling", Duration::from_secs(10), || {
        (api_replicas(&env, "us-west-2") == "3").then_some(())
    })
    .await;
    eprintln!("commit to applied by polling (2 s interval): {took:?}");
    assert!(
        took < Duration::from_secs(2) + Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(api_replicas(&env, "us-east-2"), "2");
    let west = Env::app("us-west-2");
    eventually("west at the commit", Duration::from_secs(10), || {
        ctl.app(&west).filter(|a| a.revision == commit).map(|_| ())
    })
    .await;

    // preserveResourcesOnDeletion: removing a region keeps its resources.
    env.commit(
        "manifests/argocd/applicationset.yaml",
        |t| {
            t.replacen(
                "  template:\n",
                "  syncPolicy:\n    preserveResourcesOnDeletion: true\n  template:\n",
                1,
            )
        },
        "preserve resources",
    );
    std::fs::remove_file(
        env.work
            .join("manifests/overlays/dev/us-east-2/config.json"),
    )
    .expect("rm");
    env.commit_all("retire us-east-2, keeping its resources");
    let east = Env::app("us-east-2");
    eventually("east removed", Duration::from_secs(15), || {
        ctl.app(&east).is_none().then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let kept = env.kubectl(
        "us-east-2",
        &[
            "-n",
            &Env::namespace("us-east-2"),
            "get",
            "deploy",
            "-o",
            "name",
        ],
    );
    assert!(kept.contains("gen-algo-api"), "{kept}");

    // The remote goes away: clusters stay as they are, the error is shown.
    let mut env = env;
    if let Some(server) = env.server.take() {
        server.stop();
    }
    env.commit(
        "manifests/overlays/dev/us-west-2/api-deployment-patch.yaml",
        set_api_replicas("us-west-2", 1),
        "west: 1 replica (unreachable)",
    );
    let (view, _) = eventually(
        "the fetch error is reported",
        Duration::from_secs(15),
        || {
            ctl.app(&west).filter(|a| {
                a.conditions
                    .iter()
                    .any(|c| c.message.contains("fetching failed"))
            })
        },
    )
    .await;
    eprintln!("reported: {:?}", view.conditions);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(api_replicas(&env, "us-west-2"), "3");
    assert!(kept.contains("gen-algo-api"));
    let still = env.kubectl(
        "us-west-2",
        &[
            "-n",
            &Env::namespace("us-west-2"),
            "get",
            "deploy",
            "-o",
            "name",
        ],
    );
    assert!(
        still.contains("gen-algo-api") && still.contains("gen-algo-webui"),
        "{still}"
    );
    ctl.stop().await;
}

/// The `flotilla` binary next to this test's directory (built by `cargo
/// test --workspace`; built here when missing).
fn flotilla_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target dir")
        .to_path_buf();
    let bin = dir.join("flotilla");
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-q", "-p", "flotilla"])
            .status()
            .expect("cargo build");
        assert!(status.success());
    }
    bin
}

/// Kills a controller the test started if the test fails before it stops it.
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // Only if the pid is still a flotilla controller (it may be reaped).
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", self.0)).unwrap_or_default();
        if !String::from_utf8_lossy(&cmdline).contains("controller") {
            return;
        }
        let _ = Command::new("kill")
            .args(["-KILL", &self.0.to_string()])
            .stderr(Stdio::null())
            .status();
    }
}

fn spawn_controller(config: &std::path::Path) -> (Child, std::sync::mpsc::Receiver<String>) {
    let mut child = Command::new(flotilla_bin())
        .args(["controller", "--config"])
        .arg(config)
        .env("FLOTILLA_LOG", "flotilla_controller=info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("flotilla controller");
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    for stream in [
        Box::new(stdout) as Box<dyn std::io::Read + Send>,
        Box::new(stderr),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stream)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    (child, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_controller_killed_mid_sync_converges_after_restart_without_duplicates() {
    let _serial = serial().await;
    let env = Env::start(true).await;
    let config = env.config("crash", "2s", "");
    let (mut child, lines) = spawn_controller(&config);
    let _first = KillOnDrop(child.id());
    // Kill it the moment the first sync starts.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = Vec::new();
    loop {
        let line = lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("no sync started: {seen:#?}"));
        if line.contains("sync started") {
            break;
        }
        seen.push(line);
    }
    child.kill().expect("kill -9");
    let _ = child.wait();

    // Restarted, it converges.
    let (mut child, lines) = spawn_controller(&config);
    let _second = KillOnDrop(child.id());
    let addr = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the restarted controller prints its address");
        if let Some(a) = line.strip_prefix("flotilla controller: API on ") {
            break a.to_string();
        }
    };
    let client = reqwest::Client::new();
    let (apps, took) = {
        let start = Instant::now();
        loop {
            let apps: Vec<AppView> = match client
                .get(format!("{addr}/api/v1/applications"))
                .bearer_auth(API_TOKEN)
                .send()
                .await
            {
                Ok(r) => r.json().await.unwrap_or_default(),
                Err(_) => Vec::new(),
            };
            if apps.len() == 2
                && apps
                    .iter()
                    .all(|a| a.sync == "Synced" && a.health == "Healthy")
            {
                break (apps, start.elapsed());
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "not converged after the restart: {apps:#?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    eprintln!("converged {took:?} after the restart");
    // The interrupted operation is in the history.
    let mut interrupted = 0;
    for a in &apps {
        let history: Vec<serde_json::Value> = client
            .get(format!("{addr}/api/v1/applications/{}/history", a.name))
            .bearer_auth(API_TOKEN)
            .send()
            .await
            .expect("history")
            .json()
            .await
            .expect("json");
        interrupted += history
            .iter()
            .filter(|h| h["phase"] == "Interrupted")
            .count();
    }
    // Both Applications' first syncs may have been in flight at the kill.
    assert!(
        (1..=2).contains(&interrupted),
        "the operations in flight at the kill are Interrupted: {interrupted}"
    );
    // No duplicates: exactly the desired objects, and pods as replicas.
    for region in REGIONS {
        let ns = Env::namespace(region);
        let deploys = env.kubectl(region, &["-n", &ns, "get", "deploy", "-o", "name"]);
        assert_eq!(deploys.lines().count(), 2, "{region}: {deploys}");
        let rs = env.kubectl(region, &["-n", &ns, "get", "rs", "-o", "name"]);
        assert_eq!(rs.lines().count(), 2, "{region}: {rs}");
        eventually("pods as replicas", Duration::from_secs(30), || {
            let pods = env.kubectl(region, &["-n", &ns, "get", "pods", "-o", "name"]);
            let want = if region == "us-east-2" { 4 } else { 2 };
            (pods.lines().count() == want).then_some(())
        })
        .await;
    }
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let status = child.wait().expect("wait");
    assert!(
        status.success(),
        "the controller stops cleanly on SIGTERM: {status}"
    );
}

/// What the web UI reads and does, through the API on the lab: a selective
/// sync applies only what it names (and refuses what it cannot), one
/// resource in detail (live, desired, diff, events; no Secret value), the
/// ApplicationSet's parameters, the clusters with their caches, the
/// repositories with their commits, and deletion with and without cascade.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_ui_api_selects_resources_shows_details_and_deletes_with_or_without_cascade() {
    use flotilla_controller::views::{
        AppSetView, ClusterView, OperationView, RepositoryView, ResourceDetail,
    };
    let _serial = serial().await;
    let env = Env::start(true).await;
    let config = env.config("webhook", "1h", "");
    let ctl = Running::start(&config).await;
    ctl.converged(Duration::from_secs(120)).await;
    let http = reqwest::Client::new();
    let east = Env::app("us-east-2");
    let api = |path: String| format!("{}/api/v1/{path}", ctl.base);

    // Automated sync off (a rollback to the current sync), so drift stays.
    let history: Vec<OperationView> =
        get_json(&http, api(format!("applications/{east}/history"))).await;
    let answer = http
        .post(api(format!("applications/{east}/rollback")))
        .bearer_auth(API_TOKEN)
        .json(&serde_json::json!({"id": history[0].id}))
        .send()
        .await
        .unwrap();
    assert!(
        answer.status().is_success(),
        "{}",
        answer.text().await.unwrap()
    );
    let ns = Env::namespace("us-east-2");
    for d in ["gen-algo-api", "gen-algo-webui"] {
        env.kubectl(
            "us-east-2",
            &[
                "-n",
                &ns,
                "scale",
                &format!("deployment/{d}"),
                "--replicas=4",
            ],
        );
    }
    eventually("east OutOfSync", Duration::from_secs(30), || {
        ctl.app(&east).filter(|a| a.sync == "OutOfSync").map(|_| ())
    })
    .await;

    // One resource in detail: the diff says what drifted.
    let detail: ResourceDetail = get_json(&http, api(format!(
            "applications/{east}/resource?group=apps&kind=Deployment&namespace={ns}&name=gen-algo-webui"
        ))).await;
    assert_eq!(detail.status, "OutOfSync");
    assert!(detail.diff.contains("-  replicas: 4"), "{}", detail.diff);
    assert!(detail.live.contains("replicas: 4") && detail.desired.contains("replicas:"));
    assert!(detail.side_by_side.iter().any(|l| l.tag == "change"));
    assert!(
        detail
            .events
            .iter()
            .any(|e| e.reason == "ScalingReplicaSet"),
        "{:?}",
        detail.events
    );
    let secret = http
        .get(api(format!(
            "applications/{east}/resource?group=&kind=Secret&namespace={ns}&name=gen-algo-api-env"
        )))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(secret.contains("DB_URL: ++++++++"), "{secret}");
    assert!(
        !secret.contains("postgres") && !secret.contains("cG9zdGdyZXM"),
        "{secret}"
    );

    // A selection that is not there, or with prune, is refused.
    for (body, says) in [
        (
            serde_json::json!({"resources": ["apps:Deployment:nope"]}),
            "apps:Deployment:nope",
        ),
        (
            serde_json::json!({"resources": ["Deployment/x"]}),
            "GROUP:KIND:NAME",
        ),
        (
            serde_json::json!({"resources": ["apps:Deployment:gen-algo-api"], "prune": true}),
            "prune cannot go with a resource selection",
        ),
    ] {
        let answer = http
            .post(api(format!("applications/{east}/sync")))
            .bearer_auth(API_TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 400);
        let text = answer.text().await.unwrap();
        assert!(text.contains(says), "{text}");
    }
    // A selective sync applies only what it names.
    let op: OperationView = http
        .post(api(format!("applications/{east}/sync")))
        .bearer_auth(API_TOKEN)
        .json(&serde_json::json!({"resources": [format!("apps:Deployment:{ns}/gen-algo-api")]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(op.phase, "Succeeded", "{}", op.message);
    let names: Vec<&str> = op.resources.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["gen-algo-api"]);
    assert_eq!(api_replicas(&env, "us-east-2"), "2");
    assert_eq!(
        jsonpath(
            &env,
            "us-east-2",
            "deployment/gen-algo-webui",
            "{.spec.replicas}"
        ),
        "4",
        "outside the selection"
    );

    // The ApplicationSet's parameters, the clusters, the repositories.
    let sets: Vec<AppSetView> = get_json(&http, api("applicationsets".into())).await;
    let gen = sets
        .iter()
        .find(|s| s.applications.contains(&east))
        .unwrap();
    assert!(!gen.generators.is_empty());
    let param = gen
        .parameters
        .iter()
        .find(|p| p.application == east)
        .unwrap();
    assert!(param.generator.starts_with("spec.generators["), "{param:?}");
    assert!(!param.parameters.is_empty(), "{param:?}");
    let clusters: Vec<ClusterView> = get_json(&http, api("clusters".into())).await;
    let lab_east = clusters.iter().find(|c| c.name == "lab-us-east-2").unwrap();
    assert_eq!(lab_east.state, "Connected");
    assert!(lab_east.version.starts_with("v1."), "{lab_east:?}");
    assert!(lab_east
        .cache
        .as_ref()
        .is_some_and(|c| c.objects > 0 && c.synced));
    let repos: Vec<RepositoryView> = get_json(&http, api("repositories".into())).await;
    let head = git_head(&env);
    assert!(
        repos
            .iter()
            .flat_map(|r| &r.revisions)
            .any(|v| v.commit == head && !v.subject.is_empty()),
        "{repos:?}"
    );

    // Delete without cascade: the Application goes, its resources stay.
    let west = Env::app("us-west-2");
    let answer = http
        .delete(api(format!("applications/{west}?cascade=false")))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success());
    assert!(ctl.app(&west).is_none());
    assert_eq!(api_replicas(&env, "us-west-2"), "1", "resources kept");
    // With cascade: its resources are deleted from the cluster.
    let answer = http
        .delete(api(format!("applications/{east}")))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success());
    eventually("east's Deployment deleted", Duration::from_secs(60), || {
        let out = env.kubectl_output(
            "us-east-2",
            &["-n", &ns, "get", "deployment/gen-algo-api", "-o", "name"],
        );
        (!out.status.success()).then_some(())
    })
    .await;
    ctl.stop().await;
}

/// GETs `url` with the API token and decodes the JSON answer.
async fn get_json<T: serde::de::DeserializeOwned>(http: &reqwest::Client, url: String) -> T {
    let answer = http
        .get(&url)
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .expect("GET");
    assert!(
        answer.status().is_success(),
        "GET {url}: {}",
        answer.status()
    );
    answer.json().await.expect("JSON")
}

fn git_head(env: &Env) -> String {
    let out = Command::new("git")
        .current_dir(&env.work)
        .args(["rev-parse", "HEAD"])
        .output()
        .expect("git");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
