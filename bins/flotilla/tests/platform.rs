//! The reference platform end to end: the multi-region example's four
//! ApplicationSets (the kustomize application, and Consul 1.4.3, Vault
//! 0.28.0 and ingress-nginx 4.10.1 from chart repositories with value files
//! from Git through a `ref: values` source) synced to two lab regions, first
//! with `flotilla sync` as a user runs it, then by the controller. The chart
//! repositories' URLs are answered by the lab's chart server over
//! `../shared/charts`, the Git repository by `git http-backend`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use flotilla_controller::config::ControllerConfig;
use flotilla_controller::Controller;
use flotilla_lab::TestLab;
use flotilla_tests::e2e::{Env, EXAMPLE_URL, REGIONS};

const HASHICORP: &str = "https://helm.releases.hashicorp.com";
const INGRESS_NGINX: &str = "https://kubernetes.github.io/ingress-nginx";
const SETS: [&str; 2] = [
    "manifests/argocd/applicationset.yaml",
    "manifests/argocd/platform-applicationset.yaml",
];

fn shared_charts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/charts")
}

/// The eight Applications: four sets times two regions.
fn app_names() -> Vec<String> {
    let mut names = Vec::new();
    for region in REGIONS {
        for set in ["gen-algo", "consul", "vault", "ingress-nginx"] {
            names.push(format!("{set}-dev-{region}"));
        }
    }
    names.sort();
    names
}

/// `flotilla ARGS -f SETS... --repo ...` against the lab, with the lab's
/// OpenBao as the Vault the application's placeholders are read from.
fn flotilla(env: &Env, args: &[&str]) -> Output {
    let charts = env.lab.charts_url().expect("chart server");
    let bao = env.lab.openbao().expect("openbao").expect("openbao runs");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flotilla"));
    cmd.args(args);
    for set in SETS {
        cmd.arg("-f").arg(env.work.join(set));
    }
    cmd.arg("--kubeconfig")
        .arg(env.lab.kubeconfig())
        .arg("--cache")
        .arg(env.tmp.path().join("cli-cache"))
        .arg("--repo")
        .arg(format!("{EXAMPLE_URL}={}", env.url))
        .arg("--repo")
        .arg(format!("{HASHICORP}={charts}"))
        .arg("--repo")
        .arg(format!("{INGRESS_NGINX}={charts}"))
        .env("VAULT_ADDR", &bao.addr)
        .env("VAULT_TOKEN", &bao.root_token)
        .env("VAULT_CACERT", &bao.ca_cert)
        .env("FLOTILLA_HOME", env.tmp.path().join("home"));
    cmd.output().expect("flotilla runs")
}

/// The lab cannot serve admission webhooks (its Pods run nothing), and
/// ingress-nginx's guards every Ingress with `failurePolicy: Fail`: with
/// it, the application's Ingresses could not be created. The test's
/// repository switches it off (on a real cluster it stays on).
fn without_unservable_webhooks(env: &Env) {
    env.commit(
        "manifests/helm/dev/ingress-nginx-values.yaml",
        |text| {
            format!("{text}  # The lab serves no admission webhook.\n  admissionWebhooks:\n    enabled: false\n")
        },
        "lab: no ingress-nginx admission webhook",
    );
}

/// Each Application's (sync, health) from `flotilla status -o json`.
fn statuses(env: &Env) -> Vec<(String, String, String)> {
    let out = flotilla(env, &["status", "-o", "json"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "status -o json: {e}\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let mut rows: Vec<(String, String, String)> = value
        .as_array()
        .expect("a list")
        .iter()
        .map(|s| {
            (
                s["app"].as_str().unwrap_or_default().to_string(),
                s["sync"].as_str().unwrap_or_default().to_string(),
                s["health"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    rows.sort();
    rows
}

/// The platform's workloads exist in `region`'s namespace.
fn assert_workloads(env: &Env, region: &str) {
    let ns = Env::namespace(region);
    // Named after `releaseName` (`vault`, `consul-consul-server`), not
    // after the Application, as Argo CD names them.
    let sts = env.kubectl(region, &["-n", &ns, "get", "statefulsets", "-o", "name"]);
    assert!(sts.contains("statefulset.apps/vault\n"), "{region}: {sts}");
    assert!(
        sts.contains("statefulset.apps/consul-consul-server\n"),
        "{region}: {sts}"
    );
    let deploys = env.kubectl(region, &["-n", &ns, "get", "deployments", "-o", "name"]);
    assert!(
        deploys.contains("deployment.apps/ingress-nginx-controller\n"),
        "{region}: {deploys}"
    );
    assert!(
        deploys.contains("deployment.apps/gen-algo-api\n"),
        "{region}: {deploys}"
    );
    // The ingress class the Helm parameter names.
    let class = env.kubectl(region, &["get", "ingressclass", "nginx", "-o", "name"]);
    assert_eq!(class.trim(), "ingressclass.networking.k8s.io/nginx");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_platform_syncs_to_every_region_with_the_cli_and_the_controller() {
    let builder = TestLab::builder(&REGIONS).vault().charts(shared_charts());
    let env = Env::start_with(builder, true).await;
    without_unservable_webhooks(&env);

    // `flotilla sync`: all eight Applications, each waited for.
    let out = flotilla(&env, &["sync", "--timeout", "600"]);
    assert!(
        out.status.success(),
        "flotilla sync failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = statuses(&env);
    let names: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    assert_eq!(names, app_names());
    for (app, sync, health) in &rows {
        assert_eq!(sync, "Synced", "{app}: {rows:?}");
        assert_eq!(health, "Healthy", "{app}: {rows:?}");
    }
    for region in REGIONS {
        assert_workloads(&env, region);
    }

    // The controller, from a fresh state, finds the same eight in sync.
    let config = env.config("platform", "2s", "");
    let charts = env.lab.charts_url().expect("charts");
    let text = std::fs::read_to_string(&config)
        .expect("config")
        .replace(
            "paths: [manifests/argocd/applicationset.yaml]",
            &format!("paths: [{}, {}]", SETS[0], SETS[1]),
        )
        .replace(
            "repositories:\n",
            &format!(
                "repositories:\n  - url: {HASHICORP}\n    type: helm\n    substitute: {charts}\n  - url: {INGRESS_NGINX}\n    type: helm\n    substitute: {charts}\n"
            ),
        );
    std::fs::write(&config, text).expect("config");
    let controller = Controller::new(ControllerConfig::load(&config).expect("config"))
        .await
        .expect("controller");
    let c = controller.clone();
    let task = tokio::spawn(async move { c.run().await });
    let expected = app_names();
    let result = controller
        .wait_for(Duration::from_secs(600), |apps| {
            let mut names: Vec<&str> = apps.iter().map(|a| a.name.as_str()).collect();
            names.sort();
            names == expected.iter().map(String::as_str).collect::<Vec<_>>()
                && apps
                    .iter()
                    .all(|a| a.sync == "Synced" && a.health == "Healthy")
        })
        .await;
    let failure = match result {
        Ok(_) => broken_value_file(&env, &controller).await.err(),
        Err(apps) => Some(apps),
    }
    .map(|apps| {
        apps.iter()
            .map(|a| {
                let conditions = controller
                    .application(&a.name)
                    .map(|v| format!("{:?}", v.conditions))
                    .unwrap_or_default();
                format!(
                    "{} sync={} health={} conditions={conditions}",
                    a.name, a.sync, a.health
                )
            })
            .collect::<Vec<_>>()
    });
    controller.shutdown();
    let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
    if let Some(lines) = failure {
        panic!("the controller did not converge:\n{}", lines.join("\n"));
    }
    for region in REGIONS {
        assert_workloads(&env, region);
    }
}

/// A value file that no longer parses: the consul Applications report a
/// ComparisonError naming the file and line, and the cluster keeps what it
/// has (nothing pruned, the other Applications untouched); the fix heals it.
/// Errs with the Applications when a step does not happen in time.
async fn broken_value_file(
    env: &Env,
    controller: &Controller,
) -> Result<(), Vec<flotilla_controller::views::AppView>> {
    let file = "manifests/helm/dev/consul-values.yaml";
    env.commit(
        file,
        |text| format!("{text}server:\n  replicas: [1\n"),
        "break the consul values",
    );
    let broken = controller
        .wait_for(Duration::from_secs(120), |apps| {
            let consul: Vec<_> = apps
                .iter()
                .filter(|a| a.name.starts_with("consul-"))
                .collect();
            consul.len() == REGIONS.len()
                && consul.iter().all(|a| {
                    controller.application(&a.name).is_some_and(|v| {
                        v.conditions.iter().any(|c| {
                            c.kind == "ComparisonError"
                                && c.message.contains(file)
                                && c.message.contains("line")
                        })
                    })
                })
        })
        .await?;
    for a in &broken {
        if !a.name.starts_with("consul-") {
            assert_eq!(a.sync, "Synced", "{} changed: {}", a.name, a.sync);
        }
    }
    for region in REGIONS {
        assert_workloads(env, region);
    }
    env.commit(
        file,
        |text| text.replace("server:\n  replicas: [1\n", ""),
        "fix the consul values",
    );
    let expected = app_names();
    controller
        .wait_for(Duration::from_secs(300), |apps| {
            apps.len() == expected.len()
                && apps.iter().all(|a| {
                    a.sync == "Synced"
                        && a.health == "Healthy"
                        && controller
                            .application(&a.name)
                            .is_some_and(|v| v.conditions.is_empty())
                })
        })
        .await?;
    Ok(())
}
