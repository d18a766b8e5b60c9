//! The cluster cache against real lab clusters: compares read memory (0
//! requests once warm), objects nobody manages cost nothing, prune and
//! self-heal events come from the watches, the resource tree follows owner
//! references, and faults (an expired watch, an API server restart, a CRD
//! deleted while watched, a cluster away for a minute) end with right
//! answers, an Unknown comparison while the cache is not synced, nothing
//! pruned from a stale view and no duplicates.

mod common;
use common::{init_tracing, lab_permit, manifests};

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flotilla_core::Application;
use flotilla_lab::TestLab;
use flotilla_sync::{
    AppStatus, CacheEvent, ClusterRegistry, EngineSettings, ProgressEvent, ResourceOperation,
    ResourceSyncStatus, SyncEngine, SyncError, SyncSettings,
};

fn kubectl(lab: &TestLab, context: &str, args: &[&str], input: Option<&str>) -> String {
    use std::io::Write as _;
    let mut child = Command::new(lab.lab().bin_dir().join("kubectl"))
        .env("KUBECONFIG", lab.kubeconfig())
        .arg("--context")
        .arg(context)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("kubectl runs");
    if let Some(text) = input {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("kubectl ends");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn cached_engine(lab: &TestLab, sync_timeout: Duration) -> SyncEngine {
    let registry = ClusterRegistry::from_kubeconfig_file(&lab.kubeconfig()).expect("registry");
    SyncEngine::with_settings(
        Arc::new(registry),
        EngineSettings {
            cache: true,
            cache_sync_timeout: sync_timeout,
            ..Default::default()
        },
    )
}

fn app(name: &str, context: &str, namespace: &str) -> Application {
    serde_yaml_ng::from_str(&format!(
        r#"
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: {name}, namespace: argocd}}
spec:
  project: default
  source: {{repoURL: "https://example.invalid/shop.git", path: shop}}
  destination: {{name: {context}, namespace: {namespace}}}
  syncPolicy:
    automated: {{prune: true, selfHeal: true}}
    syncOptions: [CreateNamespace=true]
"#
    ))
    .expect("application yaml")
}

const SHOP: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config}
data: {greeting: hello}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: old-config}
data: {a: b}
---
apiVersion: v1
kind: Secret
metadata: {name: web-secret}
stringData: {password: hunter2-very-secret}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
"#;

fn without_old_config() -> String {
    SHOP.replace(
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: old-config}\ndata: {a: b}\n",
        "",
    )
}

fn waiting() -> SyncSettings {
    SyncSettings {
        wait_for_health: true,
        ..Default::default()
    }
}

/// Retries `f` until it returns `Some`, or fails after `deadline`.
async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(start.elapsed() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn status_of<'a>(s: &'a AppStatus, kind: &str, name: &str) -> &'a flotilla_sync::ResourceResult {
    s.resources
        .iter()
        .find(|r| r.kind == kind && r.name == name)
        .unwrap_or_else(|| panic!("{kind} {name} in {:?}", s.resources))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compares_read_the_cache_and_unmanaged_objects_cost_nothing() -> anyhow::Result<()> {
    init_tracing();
    let _permit = lab_permit().await;
    let lab = TestLab::start(&["c"], false).await?;
    let engine = cached_engine(&lab, Duration::from_secs(60));
    let mut events = engine.cache_events();
    let shop = app("shop", "lab-c", "shop");

    let r = engine.sync(&shop, Ok(manifests(SHOP)), &waiting()).await;
    assert!(r.succeeded(), "{:?}", r.error);
    let conn = engine.cluster_for(&shop).await?;
    let cache = engine.caches().pop().expect("a cache for lab-c");
    assert!(cache.is_synced());

    // Right after the sync the compare reads what the sync applied.
    let status = engine.compare(&shop, Ok(manifests(SHOP))).await?;
    assert!(status.in_sync(), "{:?}", status.resources);

    // Warm: a compare makes no request at all.
    let before = conn.stats().snapshot();
    for _ in 0..5 {
        let status = engine.compare(&shop, Ok(manifests(SHOP))).await?;
        assert!(status.in_sync());
    }
    let made = conn.stats().snapshot().since(&before);
    assert_eq!(
        made.total(),
        0,
        "requests made by 5 warm compares: {made:?}"
    );

    // The cache holds no Secret value.
    let secret = cache
        .get(&(
            "".into(),
            "Secret".into(),
            "shop".into(),
            "web-secret".into(),
        ))
        .expect("the secret is cached");
    assert!(!secret.to_string().contains("aHVudGVy"), "{secret}");

    // 300 ConfigMaps nobody manages, in a namespace no Application uses.
    let objects = cache.stats().objects;
    let bytes = cache.stats().bytes;
    let mut unmanaged = String::from("apiVersion: v1\nkind: Namespace\nmetadata: {name: noise}\n");
    for i in 0..300 {
        unmanaged.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: noise-{i}, namespace: noise}}\ndata: {{blob: \"{}\"}}\n",
            "x".repeat(2000)
        ));
    }
    kubectl(&lab, "lab-c", &["apply", "-f", "-"], Some(&unmanaged));

    // Drift on a managed object reaches us as an event, and the compare sees it.
    kubectl(
        &lab,
        "lab-c",
        &[
            "-n",
            "shop",
            "patch",
            "configmap",
            "web-config",
            "--type=merge",
            "-p",
            r#"{"data":{"greeting":"changed"}}"#,
        ],
        None,
    );
    eventually("the drift event", Duration::from_secs(30), || {
        let got = loop {
            match events.try_recv() {
                Ok(CacheEvent::Changed { apps, .. }) if apps.contains(&"shop".to_string()) => {
                    break Some(())
                }
                Ok(_) => continue,
                Err(_) => break None,
            }
        };
        async move { got }
    })
    .await;
    let before = conn.stats().snapshot();
    let status = engine.compare(&shop, Ok(manifests(SHOP))).await?;
    assert_eq!(
        status_of(&status, "ConfigMap", "web-config").status,
        ResourceSyncStatus::OutOfSync
    );
    // The compare asked the server once (a dry run); the sync that follows
    // reuses that answer and only applies.
    let r = engine.sync(&shop, Ok(manifests(SHOP)), &waiting()).await;
    assert!(r.succeeded(), "{:?}", r.error);
    let made = conn.stats().snapshot().since(&before);
    assert_eq!((made.dry_run, made.patch, made.list), (1, 1, 0), "{made:?}");
    // One more namespace (noise) and nothing else: the ConfigMaps never arrived.
    let grown = cache.stats().objects - objects;
    assert!(grown <= 1, "the cache grew by {grown} objects");
    assert!(
        cache.stats().bytes < bytes + 2_000,
        "the cache grew from {bytes} to {} bytes",
        cache.stats().bytes
    );

    // Prune from the cache: a ConfigMap left the desired set.
    let r = engine
        .sync(&shop, Ok(manifests(&without_old_config())), &waiting())
        .await;
    assert!(r.succeeded(), "{:?}", r.error);
    let pruned: Vec<&str> = r
        .resources
        .iter()
        .filter(|x| x.operation == ResourceOperation::Pruned)
        .map(|x| x.name.as_str())
        .collect();
    assert_eq!(pruned, ["old-config"]);
    // Deleted in the foreground: gone once the garbage collector is done,
    // which the watch reports.
    let status = eventually("in sync after the prune", Duration::from_secs(60), || {
        let engine = engine.clone();
        let shop = shop.clone();
        async move {
            let s = engine
                .compare(&shop, Ok(manifests(&without_old_config())))
                .await
                .ok()?;
            s.in_sync().then_some(s)
        }
    })
    .await;
    let cms = kubectl(
        &lab,
        "lab-c",
        &["-n", "shop", "get", "cm", "-o", "name"],
        None,
    );
    assert!(!cms.contains("old-config"), "{cms}");

    // The tree: Deployment -> ReplicaSet -> Pods, Service -> EndpointSlice.
    let roots: Vec<flotilla_sync::tree::Root> = status
        .resources
        .iter()
        .map(|r| flotilla_sync::tree::Root {
            group: r.group.clone(),
            version: String::new(),
            kind: r.kind.clone(),
            namespace: r.namespace.clone(),
            name: r.name.clone(),
            sync: r.status.to_string(),
        })
        .collect();
    let tree = eventually(
        "two pods under the deployment",
        Duration::from_secs(60),
        || {
            let engine = engine.clone();
            let shop = shop.clone();
            let roots = roots.clone();
            async move {
                let t = engine.tree(&shop, &roots).await.ok()?;
                let pods = t
                    .walk()
                    .iter()
                    .filter(|(d, n)| *d == 2 && n.kind == "Pod")
                    .count();
                (pods == 2).then_some(t)
            }
        },
    )
    .await;
    let text = tree.to_text();
    assert!(text.contains("Deployment shop/web"), "{text}");
    assert!(text.contains("└─ ReplicaSet shop/web-"), "{text}");
    assert!(text.contains("   └─ Pod shop/web-"), "{text}");
    assert!(text.contains("└─ EndpointSlice shop/web-"), "{text}");
    Ok(())
}

/// (pid, address) of a lab component.
fn process(lab: &TestLab, region: &str, component: &str) -> (u32, String) {
    lab.state().regions[region]
        .processes
        .iter()
        .find(|p| p.component == component)
        .map(|p| (p.pid, p.address.clone()))
        .unwrap_or_else(|| panic!("{component} in region {region}"))
}

fn kill(pid: u32) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .ok();
}

/// Compacts etcd's history up to now: watches resuming from before it get
/// `410 Gone`.
async fn compact_etcd(address: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let range: serde_json::Value = http
        .post(format!("{address}/v3/kv/range"))
        .json(&serde_json::json!({"key": "AA=="}))
        .send()
        .await?
        .json()
        .await?;
    let revision = range["header"]["revision"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no revision in {range}"))?
        .to_string();
    let r = http
        .post(format!("{address}/v3/kv/compaction"))
        .json(&serde_json::json!({"revision": revision, "physical": true}))
        .send()
        .await?;
    anyhow::ensure!(r.status().is_success(), "compaction: {}", r.status());
    Ok(())
}

async fn restart_apiserver(lab: &TestLab, region: &str) -> anyhow::Result<()> {
    let assets = flotilla_lab::assets::cached(
        &flotilla_lab::assets::AssetOptions::from_env(),
        &["kubernetes", "etcd", "kwok"],
    )?
    .ok_or_else(|| anyhow::anyhow!("assets were built for this lab"))?;
    let opts = flotilla_lab::UpOptions {
        regions: vec![region.into()],
        ..Default::default()
    };
    lab.lab().up(&opts, &assets).await?;
    Ok(())
}

const CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w1}
spec: {size: 3}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_end_in_right_answers_and_never_prune_from_a_stale_cache() -> anyhow::Result<()> {
    init_tracing();
    let _permit = lab_permit().await;
    let lab = TestLab::start(&["f"], false).await?;
    let engine = cached_engine(&lab, Duration::from_secs(3));
    let shop = app("shop", "lab-f", "shop");
    let widgets = app("widgets", "lab-f", "widgets");
    let r = engine.sync(&shop, Ok(manifests(SHOP)), &waiting()).await;
    assert!(r.succeeded(), "{:?}", r.error);
    let r = engine.sync(&widgets, Ok(manifests(CRD)), &waiting()).await;
    assert!(r.succeeded(), "{:?}", r.error);
    let cache = engine.caches().pop().expect("a cache");
    let widget_key = (
        "example.com".to_string(),
        "Widget".to_string(),
        "widgets".to_string(),
        "w1".to_string(),
    );
    eventually("the Widget type watched", Duration::from_secs(30), || {
        let ok = cache.covers("example.com", "Widget");
        async move { ok.then_some(()) }
    })
    .await;
    let status = engine.compare(&widgets, Ok(manifests(CRD))).await?;
    assert!(status.in_sync(), "{:?}", status.resources);
    assert!(cache.get(&widget_key).is_some());

    // 1. A CRD deleted while watched: its watch stops, the cache stays
    //    synced for everyone else, and the Application sees what is gone.
    let watches = cache.stats().watches;
    kubectl(
        &lab,
        "lab-f",
        &["delete", "crd", "widgets.example.com", "--wait=true"],
        None,
    );
    eventually("the Widget watch to stop", Duration::from_secs(60), || {
        let gone = !cache.covers("example.com", "Widget") && cache.stats().watches < watches;
        async move { gone.then_some(()) }
    })
    .await;
    let status = engine.compare(&shop, Ok(manifests(SHOP))).await?;
    assert!(status.in_sync(), "{:?}", status.resources);
    let status = engine.compare(&widgets, Ok(manifests(CRD))).await?;
    assert_eq!(
        status_of(&status, "CustomResourceDefinition", "widgets.example.com").status,
        ResourceSyncStatus::Missing
    );
    assert!(cache.get(&widget_key).is_none());

    // 2. History compacted, then the API server killed and restarted: the
    //    watches cannot resume (410 Gone) and list again. While the server
    //    is away, comparisons are Unknown (not synced), and a sync prunes
    //    nothing.
    //    The kill comes in the middle of a sync of 60 new ConfigMaps.
    compact_etcd(&process(&lab, "f", "etcd").1).await?;
    let mut many = without_old_config();
    for i in 0..60 {
        many.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: extra-{i:02}}}\ndata: {{i: \"{i}\"}}\n"
        ));
    }
    let apiserver = process(&lab, "f", "kube-apiserver").0;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let killer = tokio::spawn(async move {
        if rx.recv().await.is_some() {
            kill(apiserver);
        }
    });
    let settings = SyncSettings {
        progress: Some(Arc::new(move |e: &ProgressEvent| {
            if matches!(
                e,
                ProgressEvent::Resource {
                    operation: ResourceOperation::Created,
                    ..
                }
            ) {
                let _ = tx.send(());
            }
        })),
        ..Default::default()
    };
    let r = engine.sync(&shop, Ok(manifests(&many)), &settings).await;
    killer.await?;
    assert!(
        r.error.is_some(),
        "the sync should fail when the API server dies"
    );
    assert!(
        r.resources
            .iter()
            .all(|x| x.operation != ResourceOperation::Pruned),
        "nothing is pruned by a sync that failed: {:?}",
        r.resources
    );
    let err = eventually("the cache to notice", Duration::from_secs(60), || {
        let engine = engine.clone();
        let shop = shop.clone();
        async move { engine.compare(&shop, Ok(manifests(SHOP))).await.err() }
    })
    .await;
    assert!(
        matches!(err, SyncError::CacheNotSynced { .. }) || matches!(err, SyncError::Request { .. }),
        "{err}"
    );
    let err = eventually("an Unknown comparison", Duration::from_secs(60), || {
        let engine = engine.clone();
        let shop = shop.clone();
        async move {
            match engine.compare(&shop, Ok(manifests(SHOP))).await {
                Err(e @ SyncError::CacheNotSynced { .. }) => Some(e),
                _ => None,
            }
        }
    })
    .await;
    assert!(err.to_string().contains("lab-f"), "{err}");
    let r = engine
        .sync(
            &shop,
            Ok(manifests(&without_old_config())),
            &SyncSettings::default(),
        )
        .await;
    assert!(r.error.is_some());
    assert!(
        r.resources
            .iter()
            .all(|x| x.operation != ResourceOperation::Pruned),
        "{:?}",
        r.resources
    );

    // 3. Away for a minute, then back on the same port.
    tokio::time::sleep(Duration::from_secs(60)).await;
    restart_apiserver(&lab, "f").await?;
    eventually("the cache to sync again", Duration::from_secs(120), || {
        let ok = cache.is_synced();
        async move { ok.then_some(()) }
    })
    .await;
    // Right answers: what Git has is Synced; what the interrupted sync had
    // created (and Git no longer has) is Extraneous, to be pruned.
    let status = engine.compare(&shop, Ok(manifests(SHOP))).await?;
    for r in &status.resources {
        let expected = if r.name.starts_with("extra-") {
            ResourceSyncStatus::Extraneous
        } else {
            ResourceSyncStatus::Synced
        };
        assert_eq!(r.status, expected, "{r:?}");
    }
    // The watches run again: a change made now is seen.
    kubectl(
        &lab,
        "lab-f",
        &[
            "-n",
            "shop",
            "patch",
            "configmap",
            "web-config",
            "--type=merge",
            "-p",
            r#"{"data":{"greeting":"after"}}"#,
        ],
        None,
    );
    eventually(
        "the change after the restart",
        Duration::from_secs(30),
        || {
            let engine = engine.clone();
            let shop = shop.clone();
            async move {
                let s = engine.compare(&shop, Ok(manifests(SHOP))).await.ok()?;
                (status_of(&s, "ConfigMap", "web-config").status == ResourceSyncStatus::OutOfSync)
                    .then_some(())
            }
        },
    )
    .await;
    // A sync now converges, prunes what left, and creates no duplicates.
    let r = engine
        .sync(&shop, Ok(manifests(&without_old_config())), &waiting())
        .await;
    assert!(r.succeeded(), "{:?}", r.error);
    // Pruned with foreground deletion: the garbage collector removes it.
    eventually("old-config to be gone", Duration::from_secs(60), || {
        let cms = kubectl(
            &lab,
            "lab-f",
            &[
                "-n",
                "shop",
                "get",
                "cm",
                "-l",
                "app.kubernetes.io/instance=shop",
                "-o",
                "name",
            ],
            None,
        );
        async move { (cms.lines().collect::<Vec<_>>() == ["configmap/web-config"]).then_some(()) }
    })
    .await;
    let deployments = kubectl(
        &lab,
        "lab-f",
        &["-n", "shop", "get", "deploy", "-o", "name"],
        None,
    );
    assert_eq!(deployments.lines().count(), 1, "{deployments}");
    Ok(())
}
