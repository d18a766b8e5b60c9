//! Sync benchmark on one lab cluster, side by side with `kubectl apply
//! --server-side` (the lab's kubectl v1.32):
//!
//! 1. apply the same 1,000 resources (ConfigMaps, Services, Deployments over
//!    10 namespaces, plus the namespaces) with Flotilla's engine and with
//!    kubectl, each into fresh namespaces: wall time and ratio;
//! 2. a no-op re-sync of the same 1,000: wall time and requests by kind
//!    (goal: no writes, no per-resource reads);
//! 3. the same no-op with kubectl for reference.
//!
//! Run: `cargo bench -p flotilla-benches --bench sync` (the same program is
//! `crates/sync/examples/bench_sync.rs`).

use std::io::Write;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flotilla_core::{Application, Manifest};
use flotilla_lab::TestLab;
use flotilla_sync::{ClusterRegistry, EngineSettings, SyncEngine, SyncSettings};

const NAMESPACES: usize = 10;
const CONFIGMAPS: usize = 70;
const SERVICES: usize = 15;
const DEPLOYMENTS: usize = 15;

/// The manifests, as YAML, into namespaces `<prefix>-0..9`.
fn manifests_yaml(prefix: &str) -> String {
    let mut out = String::new();
    for n in 0..NAMESPACES {
        let ns = format!("{prefix}-{n}");
        out.push_str(&format!(
            "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n"
        ));
        for i in 0..CONFIGMAPS {
            out.push_str(&format!(
                "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-{i}\n  namespace: {ns}\n  labels: {{app: bench}}\ndata:\n  index: \"{i}\"\n  settings.yaml: |\n    region: us-east-2\n    replicas: 3\n    feature-{i}: true\n"
            ));
        }
        for i in 0..SERVICES {
            out.push_str(&format!(
                "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: svc-{i}\n  namespace: {ns}\nspec:\n  clusterIP: None\n  selector: {{app: web-{i}}}\n  ports:\n  - name: http\n    port: 80\n    targetPort: 8080\n"
            ));
        }
        for i in 0..DEPLOYMENTS {
            out.push_str(&format!(
                "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-{i}\n  namespace: {ns}\nspec:\n  replicas: 0\n  selector:\n    matchLabels: {{app: web-{i}}}\n  template:\n    metadata:\n      labels: {{app: web-{i}}}\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n        ports: [{{containerPort: 8080}}]\n        resources: {{requests: {{cpu: 10m, memory: 16Mi}}}}\n"
            ));
        }
    }
    out
}

fn parse(yaml: &str) -> Result<Vec<Manifest>, Box<dyn std::error::Error>> {
    use serde::Deserialize;
    let mut out = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(yaml) {
        let v = serde_json::Value::deserialize(doc)?;
        if !v.is_null() {
            out.push(Manifest::from_value(v)?);
        }
    }
    Ok(out)
}

fn app() -> Result<Application, Box<dyn std::error::Error>> {
    Ok(serde_yaml_ng::from_str(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: bench}\nspec:\n  source: {repoURL: 'https://example.invalid/bench.git', path: bench}\n  destination: {name: lab-bench, namespace: default}\n  syncPolicy:\n    automated: {prune: true}\n",
    )?)
}

fn secs(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}

fn kubectl_apply(
    lab: &TestLab,
    file: &std::path::Path,
) -> Result<Duration, Box<dyn std::error::Error>> {
    let start = Instant::now();
    let out = Command::new(lab.lab().bin_dir().join("kubectl"))
        .env("KUBECONFIG", lab.kubeconfig())
        .args([
            "--context",
            "lab-bench",
            "apply",
            "--server-side",
            "--field-manager",
            "bench-kubectl",
            "-f",
        ])
        .arg(file)
        .output()?;
    let elapsed = start.elapsed();
    if !out.status.success() {
        return Err(format!(
            "kubectl apply failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(elapsed)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let total = NAMESPACES * (CONFIGMAPS + SERVICES + DEPLOYMENTS);
    println!("starting a one-region lab ...");
    let lab = TestLab::start(&["bench"], false).await?;
    let dir = tempfile::tempdir()?;

    // kubectl first (fresh namespaces kc-*).
    let kc_file = dir.path().join("kubectl.yaml");
    std::fs::File::create(&kc_file)?.write_all(manifests_yaml("kc").as_bytes())?;
    let kubectl_time = kubectl_apply(&lab, &kc_file)?;
    println!(
        "kubectl apply --server-side, {total} resources + {NAMESPACES} namespaces: {}",
        secs(kubectl_time)
    );

    // Flotilla (fresh namespaces fl-*), from a cold engine: kubeconfig,
    // connection, discovery, listing, dry runs, applies.
    let desired = parse(&manifests_yaml("fl"))?;
    let app = app()?;
    let concurrency: usize = std::env::var("FLOTILLA_BENCH_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32);
    let start = Instant::now();
    let registry = Arc::new(ClusterRegistry::from_kubeconfig_file(&lab.kubeconfig())?);
    let engine = SyncEngine::with_settings(
        registry,
        EngineSettings {
            concurrency,
            ..Default::default()
        },
    );
    let result = engine
        .sync(&app, Ok(desired.clone()), &SyncSettings::default())
        .await;
    let ours = start.elapsed();
    if let Some(e) = &result.error {
        return Err(format!("flotilla sync failed: {e}").into());
    }
    let conn = engine.cluster_for(&app).await?;
    let first = conn.stats().snapshot();
    println!(
        "flotilla sync (concurrency {concurrency}, validated then applied), {total} resources + {NAMESPACES} namespaces: {}",
        secs(ours)
    );
    println!("  requests: {first}");
    println!(
        "ratio kubectl / flotilla: {:.1}x (goal: at least 3x)",
        kubectl_time.as_secs_f64() / ours.as_secs_f64()
    );

    // No-op re-sync, warm engine (as the controller runs it).
    let mut best = Duration::MAX;
    let mut used = None;
    for _ in 0..3 {
        let before = conn.stats().snapshot();
        let start = Instant::now();
        let result = engine
            .sync(&app, Ok(desired.clone()), &SyncSettings::default())
            .await;
        let t = start.elapsed();
        if let Some(e) = &result.error {
            return Err(format!("no-op sync failed: {e}").into());
        }
        best = best.min(t);
        used = Some(conn.stats().snapshot().since(&before));
    }
    let used = used.unwrap_or_default();
    println!(
        "no-op re-sync of {total} resources (warm engine, best of 3): {} (goal: under 1s)",
        secs(best)
    );
    println!("  requests: {used}");
    println!(
        "  writes: {}, per-resource reads: {}, dry runs: {}",
        used.writes(),
        used.get,
        used.dry_run
    );

    // No-op from a cold engine (a CLI run): includes connecting and discovery.
    let cold = SyncEngine::new(Arc::new(ClusterRegistry::from_kubeconfig_file(
        &lab.kubeconfig(),
    )?));
    let start = Instant::now();
    let result = cold
        .sync(&app, Ok(desired.clone()), &SyncSettings::default())
        .await;
    let t = start.elapsed();
    if let Some(e) = &result.error {
        return Err(format!("cold no-op sync failed: {e}").into());
    }
    let cold_conn = cold.cluster_for(&app).await?;
    println!(
        "no-op re-sync, cold engine (new client, discovery): {}",
        secs(t)
    );
    println!("  requests: {}", cold_conn.stats().snapshot());

    let kubectl_again = kubectl_apply(&lab, &kc_file)?;
    println!(
        "kubectl apply --server-side of the same, unchanged: {}",
        secs(kubectl_again)
    );
    Ok(())
}
