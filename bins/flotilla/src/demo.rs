//! `flotilla demo`: the README's first command. It builds what is missing,
//! starts a two-region lab with OpenBao and a chart repository serving the
//! example's own chart, makes a Git repository from
//! `examples/multi-region` pointing at the lab's clusters, applies its
//! VaultConfig, runs the controller until every generated Application is
//! Synced and Healthy, and prints the status table. Then it leaves the lab
//! and the controller running (with instructions), or stops both (`--down`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use flotilla_controller::controller::ResourceTree;
use flotilla_controller::views::AppView;
use flotilla_lab::process::{self, ProcessRecord};
use flotilla_lab::Lab;

use crate::lab::{print_table, up, UpArgs};

/// The example's regions.
const REGIONS: [&str; 2] = ["us-east-2", "us-west-2"];
/// The repository URL the example's ApplicationSet names.
const EXAMPLE_URL: &str = "https://github.com/de-marauder/multi-region-eks.git";
/// The chart repository the example's status-page ApplicationSet names;
/// the lab serves the example's `charts/` there.
const CHARTS_URL: &str = "https://charts.gen-algo.example.invalid";
/// The ApplicationSets the demo runs: the application (kustomize) and its
/// status page (a Helm chart of the example's own).
const APPSETS: [&str; 2] = [
    "manifests/argocd/applicationset.yaml",
    "manifests/argocd/status-page-applicationset.yaml",
];

#[derive(Args)]
pub struct DemoArgs {
    /// Stop the controller and the lab at the end instead of leaving them running.
    #[arg(long)]
    down: bool,
    /// How long to wait for every Application to be Synced and Healthy.
    #[arg(long, default_value = "300s", value_parser = humantime::parse_duration)]
    timeout: Duration,
}

/// Where the demo keeps its files: `$FLOTILLA_HOME/demo`.
pub fn demo_dir(lab: &Lab) -> PathBuf {
    lab.dir()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| lab.dir().to_path_buf())
        .join("demo")
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let example = flotilla_lab::example::source_example("multi-region");
    if !example.is_dir() {
        bail!(
            "{} is missing: run the demo from Flotilla's source tree (cargo run -p flotilla -- demo)",
            example.display()
        );
    }
    let up_args = UpArgs {
        regions: REGIONS.iter().map(|r| r.to_string()).collect(),
        vault: true,
        nodes: 2,
        charts: vec![example.join("charts")],
        charts_auth: None,
        registry: false,
        latency: None,
        jitter: None,
    };
    let lab = up(&up_args).await?;
    let dir = demo_dir(&lab);
    stop_controller(&dir);
    let outcome = demo(&lab, &example, &dir, args.timeout).await;
    if args.down {
        stop_controller(&dir);
        let lab2 = lab.clone();
        tokio::task::spawn_blocking(move || lab2.down()).await??;
        eprintln!("controller and lab stopped");
        return outcome.map(|_| ());
    }
    let addr = outcome?;
    println!();
    println!("Web UI: {addr}/");
    println!(
        "  sign in with the user name left empty and the API token as the password: $(cat {})",
        dir.join("api-token").display()
    );
    println!();
    println!("The lab and the controller keep running. Try:");
    println!("  eval \"$(flotilla lab env)\"");
    println!(
        "  export FLOTILLA_SERVER={addr} FLOTILLA_TOKEN=$(cat {})",
        dir.join("api-token").display()
    );
    println!("  flotilla app list");
    println!("  flotilla app get gen-algo-dev-us-east-2");
    println!("  flotilla app tree gen-algo-dev-us-east-2      # Deployment -> ReplicaSet -> Pods");
    println!("  flotilla app get status-page-dev-us-east-2   # the Helm chart's Application");
    println!("Push a change (the controller polls every 15 s; `flotilla app refresh` is at once):");
    println!("  cd {}", dir.join("repo").display());
    println!("  sed -i 's/replicas: 2/replicas: 3/' manifests/overlays/dev/us-east-2/api-deployment-patch.yaml");
    println!(
        "  git commit -qam 'east: 3 api replicas' && flotilla app refresh gen-algo-dev-us-east-2"
    );
    println!("  kubectl --context lab-us-east-2 -n gen-algo-dev-us-east-2 get deploy");
    println!("Controller log: {}", dir.join("controller.log").display());
    println!("Stop the controller and the lab: flotilla lab down");
    Ok(())
}

/// Prepares the repository, Vault and the configuration, starts the
/// controller and waits. Returns the API address.
async fn demo(lab: &Lab, example: &Path, dir: &Path, timeout: Duration) -> anyhow::Result<String> {
    let state = lab
        .state()?
        .context("the lab has no state after starting")?;
    let info = lab
        .openbao()?
        .context("the lab runs no OpenBao (it was started with --vault)")?;
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;

    let charts = lab
        .charts_url()?
        .context("the lab serves no chart repository (it was started with --charts)")?;
    // The example as a Git repository pointing at the lab.
    let repo = dir.join("repo");
    let commit = flotilla_lab::example::prepare_repo(example, &repo, &state)?;
    println!(
        "git repository {} at {} (from {})",
        repo.display(),
        &commit[..7],
        example.display()
    );

    // Vault: the example's VaultConfig, with Kubernetes auth pointed at the
    // first lab region, and demo values for the secrets it lists.
    let vault = flotilla_vault::VaultClient::new({
        let mut c = flotilla_vault::ClientConfig::new(info.addr.clone());
        c.ca_cert = Some(info.ca_cert.clone());
        c.with_auth(flotilla_vault::AuthMethod::Token(
            flotilla_core::SecretString::new(info.root_token.clone()),
        ))
    })?;
    let vc_path = repo.join("manifests/vault/vault-config.yaml");
    let mut doc = flotilla_vault::VaultConfig::load(&vc_path)?;
    for method in &mut doc.spec.auth_methods {
        if let Some(k) = method.kubernetes.as_mut() {
            if let Some(first) = state.regions.values().next() {
                k.kubernetes_host = first.server.clone();
            }
            k.kubernetes_ca_cert = None;
            k.kubernetes_ca_cert_file = Some(lab.ca_path());
        }
    }
    let plan = flotilla_vault::plan(&vault, &doc)
        .await
        .with_context(|| format!("planning {}", vc_path.display()))?;
    flotilla_vault::apply(&vault, &plan)
        .await
        .with_context(|| format!("applying {}", vc_path.display()))?;
    for secret in &doc.spec.secrets {
        let data: flotilla_vault::SecretData = secret
            .keys
            .iter()
            .map(|k| {
                (
                    k.clone(),
                    serde_json::json!(format!("demo-{}", k.to_lowercase())),
                )
            })
            .collect();
        vault
            .kv_write(&secret.path, &data)
            .await
            .with_context(|| format!("writing demo values to {}", secret.path))?;
    }
    println!(
        "OpenBao {}: VaultConfig {} applied, demo values written",
        info.addr, doc.metadata.name
    );

    // The controller's configuration.
    let token = random_token();
    write_private(&dir.join("api-token"), &token)?;
    write_private(&dir.join("vault-token"), &info.root_token)?;
    write_private(&dir.join("webhook-secret"), &random_token())?;
    let port = process::free_port(Some(8080))?;
    // Each region's cluster labelled as a cluster Secret would be in Argo CD.
    let labels: String = state
        .regions
        .keys()
        .map(|r| format!("    lab-{r}: {{region: {r}}}\n"))
        .collect();
    let config = format!(
        "# Written by `flotilla demo`.\n\
stateDir: state\n\
pollInterval: 15s\n\
repositories:\n  - url: {EXAMPLE_URL}\n    substitute: {repo}\n  - url: {CHARTS_URL}\n    type: helm\n    substitute: {charts}\n\
clusters:\n  kubeconfig: {kubeconfig}\n  labels:\n{labels}\
applications:\n  - repo: {EXAMPLE_URL}\n    revision: HEAD\n    paths: [{sets}]\n\
vault:\n  address: {vault}\n  tokenFrom: {{file: vault-token}}\n  caCert: {ca}\n\
api:\n  listen: 127.0.0.1:{port}\n  tokenFrom: {{file: api-token}}\n\
webhook:\n  github: {{secretFrom: {{file: webhook-secret}}}}\n",
        repo = repo.display(),
        sets = APPSETS.join(", "),
        kubeconfig = lab.kubeconfig_path().display(),
        vault = info.addr,
        ca = info.ca_cert.display(),
    );
    let config_path = dir.join("flotilla.yaml");
    std::fs::write(&config_path, config)
        .with_context(|| format!("writing {}", config_path.display()))?;

    // The controller, in the background, recorded like the lab's processes.
    let exe = std::env::current_exe().context("locating the flotilla binary")?;
    let log = dir.join("controller.log");
    let args = vec![
        "controller".to_string(),
        "--config".into(),
        config_path.display().to_string(),
    ];
    let env = [(
        "FLOTILLA_LOG".to_string(),
        "flotilla_controller=info".to_string(),
    )];
    let pid = process::spawn("controller", "demo", &exe, &args, &env, &log)?;
    let record = ProcessRecord {
        component: "controller".into(),
        pid,
        binary: exe,
        log,
        address: format!("http://127.0.0.1:{port}"),
        ports: vec![port],
    };
    record.save(dir)?;
    println!("controller started (pid {pid}), API on {}", record.address);
    let addr = record.address.clone();

    // Wait for every Application to be Synced and Healthy.
    let apps = wait(&addr, &token, dir, timeout).await?;
    println!();
    let mut rows = vec![vec![
        "APPLICATION".to_string(),
        "CLUSTER".into(),
        "NAMESPACE".into(),
        "SYNC".into(),
        "HEALTH".into(),
        "REVISION".into(),
    ]];
    for a in &apps {
        rows.push(vec![
            a.name.clone(),
            a.cluster.clone(),
            a.namespace.clone(),
            a.sync.clone(),
            a.health.clone(),
            a.revision.chars().take(7).collect(),
        ]);
    }
    print_table(&rows);
    // One Application's resource tree, from the controller's cluster cache.
    if let Some(a) = apps.iter().find(|a| a.name.starts_with("gen-algo-")) {
        let tree: Option<ResourceTree> = match reqwest::Client::new()
            .get(format!("{addr}/api/v1/applications/{}/tree", a.name))
            .bearer_auth(&token)
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => r.json().await.ok(),
            _ => None,
        };
        if let Some(tree) = tree {
            println!("\n{} (flotilla app tree {}):", a.name, a.name);
            print!("{}", tree.to_text());
        }
    }
    Ok(addr)
}

async fn wait(
    addr: &str,
    token: &str,
    dir: &Path,
    timeout: Duration,
) -> anyhow::Result<Vec<AppView>> {
    let client = reqwest::Client::new();
    let start = Instant::now();
    let mut last: Vec<(String, String, String)> = Vec::new();
    loop {
        let apps: Option<Vec<AppView>> = match client
            .get(format!("{addr}/api/v1/applications"))
            .bearer_auth(token)
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => r.json().await.ok(),
            _ => None,
        };
        if let Some(apps) = apps {
            let now: Vec<(String, String, String)> = apps
                .iter()
                .map(|a| (a.name.clone(), a.sync.clone(), a.health.clone()))
                .collect();
            if now != last {
                for (name, sync, health) in &now {
                    if !last
                        .iter()
                        .any(|l| &l.0 == name && &l.1 == sync && &l.2 == health)
                    {
                        println!(
                            "  {:>5.1}s  {name}: {sync}, {health}",
                            start.elapsed().as_secs_f64()
                        );
                    }
                }
                last = now;
            }
            if apps.len() == REGIONS.len() * APPSETS.len()
                && apps
                    .iter()
                    .all(|a| a.sync == "Synced" && a.health == "Healthy")
            {
                println!(
                    "every Application is Synced and Healthy ({:.1}s)",
                    start.elapsed().as_secs_f64()
                );
                return Ok(apps);
            }
            if start.elapsed() > timeout {
                let mut why = String::new();
                for a in &apps {
                    why.push_str(&format!("\n  {}: {}, {}", a.name, a.sync, a.health));
                    for c in &a.conditions {
                        why.push_str(&format!("\n    {}: {}", c.kind, c.message));
                    }
                }
                bail!(
                    "not every Application is Synced and Healthy after {}s:{why}\n(controller log: {})",
                    timeout.as_secs(),
                    dir.join("controller.log").display()
                );
            }
        } else if start.elapsed() > timeout {
            bail!(
                "the controller's API at {addr} did not answer within {}s (log: {})",
                timeout.as_secs(),
                dir.join("controller.log").display()
            );
        }
        if running_controller(dir).is_none() {
            bail!(
                "the controller stopped:\n{}",
                flotilla_lab::tail_lines(&dir.join("controller.log"), 20)
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The demo controller's record, when one is running.
fn running_controller(dir: &Path) -> Option<ProcessRecord> {
    ProcessRecord::load(dir, "controller").filter(ProcessRecord::is_alive)
}

/// Stops a demo controller left running (SIGTERM, then SIGKILL after 10 s).
pub fn stop_controller(dir: &Path) {
    if let Some(record) = running_controller(dir) {
        process::stop(&record, Duration::from_secs(10));
    }
    let _ = std::fs::remove_file(dir.join("controller.json"));
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    crate::vault_cmd::create_private(path)?
        .write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

fn random_token() -> String {
    let mut bytes = [0u8; 24];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut bytes);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
