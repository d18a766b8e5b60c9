//! The sync engine against real lab clusters (kube-apiserver, etcd,
//! controller-manager, scheduler and kwok on loopback).

mod common;
use common::{init_tracing, lab_permit, manifests};

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flotilla_core::{Application, Manifest};
use flotilla_lab::TestLab;
use flotilla_sync::{
    ClusterRegistry, ProgressEvent, ResourceOperation, ResourceSyncStatus, SourceError, SyncEngine,
    SyncError, SyncSettings,
};

fn app(yaml: &str) -> Application {
    serde_yaml_ng::from_str(yaml).expect("application yaml")
}

fn kubectl(lab: &TestLab, context: &str, args: &[&str]) -> String {
    let out = Command::new(lab.lab().bin_dir().join("kubectl"))
        .env("KUBECONFIG", lab.kubeconfig())
        .arg("--context")
        .arg(context)
        .args(args)
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn engine(lab: &TestLab) -> SyncEngine {
    let registry = ClusterRegistry::from_kubeconfig_file(&lab.kubeconfig()).expect("registry");
    SyncEngine::new(Arc::new(registry))
}

fn waiting() -> SyncSettings {
    SyncSettings {
        wait_for_health: true,
        ..Default::default()
    }
}

const SHOP: &str = r#"
apiVersion: v1
kind: ServiceAccount
metadata: {name: web}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config}
data: {greeting: hello}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: keep-me
  annotations: {argocd.argoproj.io/sync-options: Prune=false}
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
        resources: {requests: {cpu: 100m, memory: 64Mi}}
"#;

fn shop_app(name: &str, destination: &str) -> Application {
    app(&format!(
        r#"
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: {name}, namespace: argocd}}
spec:
  project: default
  source: {{repoURL: "https://example.invalid/shop.git", path: shop}}
  destination: {{{destination}, namespace: shop}}
  syncPolicy:
    automated: {{prune: true, selfHeal: true}}
    syncOptions: [CreateNamespace=true]
"#
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_sync_noop_drift_prune_and_failures_that_delete_nothing() -> anyhow::Result<()> {
    init_tracing();
    let _permit = lab_permit().await;
    let lab = TestLab::start(&["a", "b"], false).await?;
    let engine = engine(&lab);
    let server_b = lab.state().regions["b"].server.clone();
    let apps = [
        ("lab-a", shop_app("shop", "name: lab-a")),
        (
            "lab-b",
            shop_app("shop", &format!("server: \"{server_b}/\"")),
        ),
    ];

    for (ctx, app) in &apps {
        // First sync creates everything, the namespace first.
        let r = engine.sync(app, Ok(manifests(SHOP)), &waiting()).await;
        assert!(r.succeeded(), "{ctx}: {:?}", r.error);
        assert_eq!(r.cluster, *ctx);
        let created = r
            .resources
            .iter()
            .filter(|x| x.operation == ResourceOperation::Created)
            .count();
        assert_eq!(created, 6, "{ctx}: {:#?}", r.resources);
        assert_eq!(r.health, flotilla_sync::HealthCode::Healthy, "{ctx}");
        let out = kubectl(
            &lab,
            ctx,
            &["get", "deploy,cm,svc,secret,sa", "-n", "shop", "-o", "name"],
        );
        assert!(
            out.contains("deployment.apps/web") && out.contains("configmap/web-config"),
            "{out}"
        );
        // Tracked the Argo CD way.
        let id = kubectl(&lab, ctx, &["get", "cm", "web-config", "-n", "shop", "-o",
            "jsonpath={.metadata.annotations.argocd\\.argoproj\\.io/tracking-id} {.metadata.labels.app\\.kubernetes\\.io/instance}"]);
        assert_eq!(id, "shop:/ConfigMap:shop/web-config shop");
    }

    // A second sync writes nothing and reads no object one by one.
    let (ctx, app) = &apps[0];
    let conn = engine.cluster_for(app).await?;
    let before = conn.stats().snapshot();
    let r = engine
        .sync(app, Ok(manifests(SHOP)), &SyncSettings::default())
        .await;
    assert!(r.succeeded(), "{:?}", r.error);
    let used = conn.stats().snapshot().since(&before);
    assert_eq!(used.writes(), 0, "{used}");
    assert_eq!(used.get + used.dry_run, 0, "{used}");
    assert!(r
        .resources
        .iter()
        .all(|x| x.operation == ResourceOperation::Unchanged));
    let status = engine.compare(app, Ok(manifests(SHOP))).await?;
    assert!(status.in_sync(), "{:#?}", status.resources);

    // Drift made with kubectl is detected, shown (secrets masked) and healed.
    kubectl(
        &lab,
        ctx,
        &["scale", "deployment/web", "-n", "shop", "--replicas=5"],
    );
    kubectl(
        &lab,
        ctx,
        &[
            "patch",
            "configmap/web-config",
            "-n",
            "shop",
            "--type=merge",
            "-p",
            r#"{"data":{"greeting":"bye"}}"#,
        ],
    );
    kubectl(
        &lab,
        ctx,
        &[
            "patch",
            "secret/web-secret",
            "-n",
            "shop",
            "--type=merge",
            "-p",
            r#"{"stringData":{"password":"changed-by-hand"}}"#,
        ],
    );
    let status = engine.compare(app, Ok(manifests(SHOP))).await?;
    let out_of_sync: Vec<&str> = status
        .resources
        .iter()
        .filter(|x| x.status == ResourceSyncStatus::OutOfSync)
        .map(|x| x.name.as_str())
        .collect();
    assert_eq!(
        out_of_sync,
        vec!["web-secret", "web-config", "web"],
        "{:#?}",
        status.resources
    );
    let all_diffs: String = status
        .resources
        .iter()
        .filter_map(|x| x.diff.clone())
        .collect();
    assert!(
        all_diffs.contains("replicas: 5") && all_diffs.contains("replicas: 2"),
        "{all_diffs}"
    );
    assert!(all_diffs.contains("greeting: bye"), "{all_diffs}");
    assert!(
        !all_diffs.contains("hunter2") && !all_diffs.contains("changed-by-hand"),
        "{all_diffs}"
    );
    assert!(
        !all_diffs.contains("aHVudGVy") && !all_diffs.contains("Y2hhbmdlZC1ieS1oYW5k"),
        "{all_diffs}"
    );
    let r = engine.sync(app, Ok(manifests(SHOP)), &waiting()).await;
    assert!(r.succeeded(), "{:?}", r.error);
    let replicas = kubectl(
        &lab,
        ctx,
        &[
            "get",
            "deploy",
            "web",
            "-n",
            "shop",
            "-o",
            "jsonpath={.spec.replicas}",
        ],
    );
    assert_eq!(replicas, "2");
    assert!(engine.compare(app, Ok(manifests(SHOP))).await?.in_sync());

    // A render failure fails the sync and deletes nothing; so does an empty render.
    let r = engine
        .sync(
            app,
            Err(SourceError::msg("kustomize: accumulating resources failed")),
            &waiting(),
        )
        .await;
    assert!(
        matches!(r.error, Some(SyncError::Source { .. })),
        "{:?}",
        r.error
    );
    let r = engine.sync(app, Ok(Vec::new()), &waiting()).await;
    assert!(
        matches!(r.error, Some(SyncError::PruneRefused { .. })),
        "{:?}",
        r.error
    );
    let out = kubectl(&lab, ctx, &["get", "cm,deploy", "-n", "shop", "-o", "name"]);
    assert!(
        out.contains("configmap/web-config") && out.contains("deployment.apps/web"),
        "{out}"
    );

    // Files removed from Git are pruned; Prune=false is honoured.
    let fewer: Vec<Manifest> = manifests(SHOP)
        .into_iter()
        .filter(|m| !matches!(m.name(), Some("web-config") | Some("keep-me")))
        .collect();
    let status = engine.compare(app, Ok(fewer.clone())).await?;
    let extraneous: Vec<&str> = status
        .resources
        .iter()
        .filter(|x| x.status == ResourceSyncStatus::Extraneous)
        .map(|x| x.name.as_str())
        .collect();
    assert_eq!(extraneous, vec!["keep-me", "web-config"]);
    let r = engine.sync(app, Ok(fewer), &waiting()).await;
    assert!(r.succeeded(), "{:?}", r.error);
    let pruned: Vec<&str> = r
        .resources
        .iter()
        .filter(|x| x.operation == ResourceOperation::Pruned)
        .map(|x| x.name.as_str())
        .collect();
    assert_eq!(pruned, vec!["web-config"]);
    let out = kubectl(&lab, ctx, &["get", "cm", "-n", "shop", "-o", "name"]);
    assert!(
        !out.contains("web-config") && out.contains("keep-me"),
        "{out}"
    );

    // The other region was not touched.
    let out = kubectl(&lab, "lab-b", &["get", "cm", "-n", "shop", "-o", "name"]);
    assert!(out.contains("web-config"), "{out}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_destinations_and_invalid_manifests_change_nothing() -> anyhow::Result<()> {
    init_tracing();
    let _permit = lab_permit().await;
    let lab = TestLab::start(&["v"], false).await?;
    let engine = engine(&lab);
    let unknown = shop_app("x", "server: https://nowhere.example:6443");
    let r = engine.sync(&unknown, Ok(manifests(SHOP)), &waiting()).await;
    let msg = r.error.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        msg.contains("https://nowhere.example:6443") && msg.contains("lab-v"),
        "{msg}"
    );

    let app = shop_app("bad", "name: lab-v");
    let bad = format!(
        "{SHOP}---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: broken}}\nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: b}}}}\n  template:\n    metadata: {{labels: {{app: other}}}}\n    spec: {{containers: [{{name: c, image: x}}]}}\n"
    );
    let conn = engine.cluster_for(&app).await?;
    let before = conn.stats().snapshot();
    let r = engine.sync(&app, Ok(manifests(&bad)), &waiting()).await;
    let used = conn.stats().snapshot().since(&before);
    let Some(SyncError::Validation { failures, .. }) = &r.error else {
        panic!("expected a validation error, got {:?}", r.error);
    };
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].resource.contains("Deployment shop/broken"),
        "{failures:?}"
    );
    assert!(failures[0].reason.contains("selector"), "{failures:?}");
    assert_eq!(used.writes(), 0, "nothing applied: {used}");
    let out = kubectl(&lab, "lab-v", &["get", "ns"]);
    assert!(!out.contains("shop"), "{out}");

    // An unknown field is rejected too (strict validation), naming the file.
    let mut typo = manifests(SHOP);
    typo[1]
        .object
        .insert("dtaa".into(), serde_json::json!({"x": "y"}));
    typo[1].location = Some(flotilla_core::Location::new("shop/config.yaml", 1, 1));
    let r = engine.sync(&app, Ok(typo), &waiting()).await;
    let msg = r.error.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        msg.contains("web-config") && msg.contains("dtaa") && msg.contains("shop/config.yaml"),
        "{msg}"
    );
    let out = kubectl(&lab, "lab-v", &["get", "ns"]);
    assert!(!out.contains("shop"), "{out}");

    // A field taken over by hand is a conflict naming its manager, unless
    // the sync options ask to force.
    let manual = app_with(
        "manual",
        "name: lab-v",
        "syncOptions: [CreateNamespace=true]",
    );
    let conf = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: conf}\ndata: {k: git}\n";
    let r = engine.sync(&manual, Ok(manifests(conf)), &waiting()).await;
    assert!(r.succeeded(), "{:?}", r.error);
    kubectl(
        &lab,
        "lab-v",
        &[
            "patch",
            "cm",
            "conf",
            "-n",
            "shop",
            "--type=merge",
            "-p",
            r#"{"data":{"k":"hand"}}"#,
        ],
    );
    let r = engine.sync(&manual, Ok(manifests(conf)), &waiting()).await;
    let Some(SyncError::Conflict { managers, .. }) = &r.error else {
        panic!("expected a conflict, got {:?}", r.error);
    };
    assert_eq!(managers, &vec!["kubectl-patch".to_string()]);
    let forcing = app_with(
        "manual",
        "name: lab-v",
        "syncOptions: [CreateNamespace=true, ServerSideApply=true]",
    );
    let r = engine.sync(&forcing, Ok(manifests(conf)), &waiting()).await;
    assert!(r.succeeded(), "{:?}", r.error);
    let k = kubectl(
        &lab,
        "lab-v",
        &[
            "get",
            "cm",
            "conf",
            "-n",
            "shop",
            "-o",
            "jsonpath={.data.k}",
        ],
    );
    assert_eq!(k, "git");
    Ok(())
}

fn app_with(name: &str, destination: &str, policy: &str) -> Application {
    app(&format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: {name}}}\nspec:\n  source: {{repoURL: 'https://example.invalid/x.git', path: x}}\n  destination: {{{destination}, namespace: shop}}\n  syncPolicy: {{{policy}}}\n"
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_clusters_with_bearer_tokens_and_exec_plugins() -> anyhow::Result<()> {
    use base64::Engine as _;
    use flotilla_core::{Cluster, ExecProviderConfig, SecretString};
    init_tracing();
    let _permit = lab_permit().await;
    let lab = TestLab::start(&["t"], false).await?;
    let server = lab.state().regions["t"].server.clone();
    kubectl(
        &lab,
        "lab-t",
        &["create", "serviceaccount", "deployer", "-n", "default"],
    );
    kubectl(
        &lab,
        "lab-t",
        &["create", "serviceaccount", "nobody", "-n", "default"],
    );
    kubectl(
        &lab,
        "lab-t",
        &[
            "create",
            "clusterrolebinding",
            "deployer",
            "--clusterrole=cluster-admin",
            "--serviceaccount=default:deployer",
        ],
    );
    let admin_token = kubectl(
        &lab,
        "lab-t",
        &["create", "token", "deployer", "-n", "default"],
    )
    .trim()
    .to_string();
    let nobody_token = kubectl(
        &lab,
        "lab-t",
        &["create", "token", "nobody", "-n", "default"],
    )
    .trim()
    .to_string();
    let ca = base64::engine::general_purpose::STANDARD.encode(std::fs::read(lab.lab().ca_path())?);

    let dir = tempfile::tempdir()?;
    let plugin = dir.path().join("get-token");
    std::fs::write(
        &plugin,
        r#"#!/bin/sh
echo '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"'"$FLOTILLA_TEST_TOKEN"'"}}'
"#,
    )?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755))?;

    let mut registry = ClusterRegistry::new();
    let mut by_token = Cluster::new("by-token", &server);
    by_token.config.bearer_token = Some(SecretString::new(admin_token.clone()));
    by_token.config.tls_client_config.ca_data = Some(ca.clone());
    registry.add_cluster(&by_token)?;
    for (name, token) in [("exec-admin", &admin_token), ("exec-nobody", &nobody_token)] {
        let mut by_exec = Cluster::new(name, &server);
        by_exec.config.tls_client_config.ca_data = Some(ca.clone());
        by_exec.config.exec_provider_config = Some(ExecProviderConfig {
            command: plugin.display().to_string(),
            api_version: Some("client.authentication.k8s.io/v1beta1".into()),
            env: [(
                "FLOTILLA_TEST_TOKEN".to_string(),
                SecretString::new(token.clone()),
            )]
            .into(),
            ..Default::default()
        });
        registry.add_cluster(&by_exec)?;
    }
    assert!(!format!("{registry:?}").contains(&admin_token));
    let engine = SyncEngine::new(Arc::new(registry));
    let conf = |n: &str| {
        manifests(&format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {n}}}\ndata: {{k: v}}\n"
        ))
    };
    let r = engine
        .sync(
            &app_with(
                "t1",
                "name: by-token",
                "syncOptions: [CreateNamespace=true]",
            ),
            Ok(conf("one")),
            &waiting(),
        )
        .await;
    assert!(r.succeeded(), "{:?}", r.error);
    let r = engine
        .sync(
            &app_with(
                "t2",
                "name: exec-admin",
                "syncOptions: [CreateNamespace=true]",
            ),
            Ok(conf("two")),
            &waiting(),
        )
        .await;
    assert!(r.succeeded(), "{:?}", r.error);
    let out = kubectl(&lab, "lab-t", &["get", "cm", "-n", "shop", "-o", "name"]);
    assert!(
        out.contains("configmap/one") && out.contains("configmap/two"),
        "{out}"
    );
    // The plugin's token is the one used: a powerless account is refused.
    let r = engine
        .sync(
            &app_with(
                "t3",
                "name: exec-nobody",
                "syncOptions: [CreateNamespace=true]",
            ),
            Ok(conf("three")),
            &waiting(),
        )
        .await;
    let msg = r.error.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        msg.contains("forbidden") && msg.contains("exec-nobody"),
        "{msg}"
    );
    assert!(!msg.contains(&nobody_token) && !msg.contains(&admin_token));
    Ok(())
}

const WAVES: &str = r#"
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations:
    argocd.argoproj.io/hook: PreSync
    argocd.argoproj.io/hook-delete-policy: BeforeHookCreation
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: busybox}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: backend
  annotations: {argocd.argoproj.io/sync-wave: "1", argocd.argoproj.io/sync-options: PruneLast=true}
spec:
  replicas: 1
  selector: {matchLabels: {app: backend}}
  template:
    metadata: {labels: {app: backend}}
    spec: {containers: [{name: b, image: nginx}]}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  annotations: {argocd.argoproj.io/sync-wave: "-1"}
data: {a: "1"}
---
apiVersion: v1
kind: Service
metadata: {name: backend}
spec:
  selector: {app: backend}
  ports: [{port: 80}]
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: gear}
spec: {size: 3}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waves_hooks_and_a_crd_with_its_custom_resource() -> anyhow::Result<()> {
    init_tracing();
    let _permit = lab_permit().await;
    let lab = TestLab::start(&["w"], false).await?;
    let engine = engine(&lab);
    let app = shop_app("waves", "name: lab-w");
    let events: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = events.clone();
    let events_sink = events.clone();
    let settings = SyncSettings {
        wait_for_health: true,
        progress: Some(Arc::new(move |e: &ProgressEvent| {
            if let ProgressEvent::Resource {
                resource,
                operation,
                ..
            } = e
            {
                sink.lock().unwrap().push(format!("{operation} {resource}"));
            }
        })),
        ..Default::default()
    };
    let r = engine.sync(&app, Ok(manifests(WAVES)), &settings).await;
    assert!(r.succeeded(), "{:?}\n{:#?}", r.error, r.resources);
    let events = events.lock().unwrap().clone();
    let pos = |needle: &str| {
        events
            .iter()
            .position(|e| e.contains(needle))
            .unwrap_or_else(|| panic!("{needle} not in {events:#?}"))
    };
    assert!(
        pos("HookSucceeded batch/v1/Job shop/migrate") < pos("Created v1/ConfigMap shop/settings"),
        "{events:#?}"
    );
    assert!(
        pos("Created v1/ConfigMap shop/settings") < pos("Created v1/Service shop/backend"),
        "{events:#?}"
    );
    assert!(
        pos("CustomResourceDefinition widgets.example.com")
            < pos("Created example.com/v1/Widget shop/gear"),
        "{events:#?}"
    );
    assert!(
        pos("Created v1/Service shop/backend") < pos("Created apps/v1/Deployment shop/backend"),
        "{events:#?}"
    );
    let size = kubectl(
        &lab,
        "lab-w",
        &[
            "get",
            "widgets.example.com",
            "gear",
            "-n",
            "shop",
            "-o",
            "jsonpath={.spec.size}",
        ],
    );
    assert_eq!(size, "3");
    let job = kubectl(
        &lab,
        "lab-w",
        &[
            "get",
            "job",
            "migrate",
            "-n",
            "shop",
            "-o",
            "jsonpath={.status.succeeded}",
        ],
    );
    assert_eq!(job, "1");

    // In sync afterwards; hooks are not resources of the app.
    let status = engine.compare(&app, Ok(manifests(WAVES))).await?;
    assert!(status.in_sync(), "{:#?}", status.resources);
    assert!(status.resources.iter().all(|x| x.name != "migrate"));

    // Removed from Git: pruned in reverse wave order, PruneLast at the end.
    let mut remaining: Vec<Manifest> = manifests(WAVES)
        .into_iter()
        .filter(|m| !matches!(m.name(), Some("settings") | Some("backend")))
        .collect();
    // The named hook changes too: its (immutable) Job template is replaced
    // by deleting and creating the Job, and validated as a creation.
    for m in &mut remaining {
        if m.name() == Some("migrate") {
            m.object["spec"]["template"]["spec"]["containers"][0]["image"] =
                serde_json::json!("busybox:1.36");
        }
    }
    events_sink.lock().unwrap().clear();
    let r = engine.sync(&app, Ok(remaining), &settings).await;
    assert!(r.succeeded(), "{:?}", r.error);
    let events = events_sink.lock().unwrap().clone();
    let pos = |needle: &str| {
        events
            .iter()
            .position(|e| e.contains(needle))
            .unwrap_or_else(|| panic!("{needle} not in {events:#?}"))
    };
    assert!(
        pos("Pruned v1/Service shop/backend") < pos("Pruned v1/ConfigMap shop/settings"),
        "{events:#?}"
    );
    assert!(
        pos("Pruned v1/ConfigMap shop/settings") < pos("Pruned apps/v1/Deployment shop/backend"),
        "{events:#?}"
    );
    // Deletion is foreground (as Argo CD's prune): a Deployment stays until
    // the garbage collector has removed its ReplicaSets and pods.
    let mut left = String::new();
    for _ in 0..300 {
        left = kubectl(
            &lab,
            "lab-w",
            &[
                "get",
                "cm,svc,deploy",
                "-n",
                "shop",
                "-l",
                "app.kubernetes.io/instance=waves",
                "-o",
                "name",
            ],
        );
        if left.trim().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(left.trim().is_empty(), "{left}");
    let image = kubectl(
        &lab,
        "lab-w",
        &[
            "get",
            "job",
            "migrate",
            "-n",
            "shop",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ],
    );
    assert_eq!(image, "busybox:1.36");
    Ok(())
}

const WEBHOOK: &str = r#"
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: injector}
webhooks:
- name: inject.example.com
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: Ignore
  clientConfig:
    url: https://127.0.0.1:1/mutate
    caBundle: Q0EgZnJvbSBHaXQ=
  rules:
  - apiGroups: [example.com]
    apiVersions: [v1]
    operations: [CREATE]
    resources: [nothings]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignore_differences_with_jq_path_expressions() -> anyhow::Result<()> {
    init_tracing();
    let _permit = lab_permit().await;
    let lab = TestLab::start(&["j"], false).await?;
    let engine = engine(&lab);
    let plain = shop_app("hooks", "name: lab-j");
    let mut ignoring = plain.clone();
    ignoring.spec.ignore_differences = serde_yaml_ng::from_str(
        "- group: admissionregistration.k8s.io\n  kind: MutatingWebhookConfiguration\n  jqPathExpressions: ['.webhooks[]?.clientConfig.caBundle']\n",
    )?;
    let r = engine
        .sync(&ignoring, Ok(manifests(WEBHOOK)), &waiting())
        .await;
    assert!(r.succeeded(), "{:?}", r.error);
    // Something else (a cert manager) rewrites the CA bundle.
    kubectl(
        &lab,
        "lab-j",
        &[
            "patch",
            "mutatingwebhookconfiguration",
            "injector",
            "--type=json",
            "-p",
            r#"[{"op":"replace","path":"/webhooks/0/clientConfig/caBundle","value":"aW5qZWN0ZWQ="}]"#,
        ],
    );
    assert!(engine
        .compare(&ignoring, Ok(manifests(WEBHOOK)))
        .await?
        .in_sync());
    let status = engine.compare(&plain, Ok(manifests(WEBHOOK))).await?;
    assert_eq!(status.resources[0].status, ResourceSyncStatus::OutOfSync);
    assert!(status.resources[0]
        .diff
        .as_deref()
        .unwrap_or("")
        .contains("caBundle"));
    // A sync that respects the ignored field keeps the injected value.
    let mut respecting = ignoring.clone();
    if let Some(policy) = respecting.spec.sync_policy.as_mut() {
        policy
            .sync_options
            .0
            .push("RespectIgnoreDifferences=true".into());
    }
    let r = engine
        .sync(&respecting, Ok(manifests(WEBHOOK)), &waiting())
        .await;
    assert!(r.succeeded(), "{:?}", r.error);
    let ca = kubectl(
        &lab,
        "lab-j",
        &[
            "get",
            "mutatingwebhookconfiguration",
            "injector",
            "-o",
            "jsonpath={.webhooks[0].clientConfig.caBundle}",
        ],
    );
    assert_eq!(ca, "aW5qZWN0ZWQ=");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_server_killed_mid_sync_then_next_sync_converges() -> anyhow::Result<()> {
    init_tracing();
    let _permit = lab_permit().await;
    let lab = TestLab::start(&["k"], false).await?;
    let mut docs = String::new();
    for i in 0..150 {
        docs.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i:03}\n  annotations: {{argocd.argoproj.io/sync-wave: \"{}\"}}\ndata: {{i: \"{i}\"}}\n",
            i / 50
        ));
    }
    docs.push_str(
        "---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: seed-\n  annotations: {argocd.argoproj.io/hook: PostSync, argocd.argoproj.io/hook-delete-policy: BeforeHookCreation}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: s, image: busybox}]\n",
    );
    let app = shop_app("crash", "name: lab-k");
    let engine = SyncEngine::with_settings(
        Arc::new(ClusterRegistry::from_kubeconfig_file(&lab.kubeconfig())?),
        flotilla_sync::EngineSettings {
            concurrency: 4,
            ..Default::default()
        },
    );
    let apiserver = lab.state().regions["k"]
        .processes
        .iter()
        .find(|p| p.component == "kube-apiserver")
        .cloned()
        .expect("apiserver");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let settings = SyncSettings {
        progress: Some(Arc::new(move |e: &ProgressEvent| {
            if matches!(e, ProgressEvent::Resource { operation: ResourceOperation::Created, resource, .. } if resource.contains("cm-0"))
            {
                let _ = tx.send(());
            }
        })),
        ..Default::default()
    };
    let killer = tokio::spawn(async move {
        if rx.recv().await.is_some() {
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(apiserver.pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            )
            .ok();
        }
    });
    let r = engine.sync(&app, Ok(manifests(&docs)), &settings).await;
    killer.await?;
    assert!(
        r.error.is_some(),
        "the sync should fail when the API server dies"
    );
    let applied = r
        .resources
        .iter()
        .filter(|x| x.operation == ResourceOperation::Created)
        .count();
    assert!(applied < 150, "{applied} applied before the crash");

    // Restart the API server with the same options and cached assets.
    let assets = flotilla_lab::assets::cached(
        &flotilla_lab::assets::AssetOptions::from_env(),
        &["kubernetes", "etcd", "kwok"],
    )?
    .expect("assets were built for this lab");
    let opts = flotilla_lab::UpOptions {
        regions: vec!["k".into()],
        ..Default::default()
    };
    // The same engine (as a controller keeps it) retries with backoff while
    // the API server comes back, and converges.
    let restarter = {
        let lab = lab.lab().clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            lab.up(&opts, &assets).await
        })
    };
    let settings = SyncSettings {
        wait_for_health: true,
        retry: Some(flotilla_sync::retry::RetryPolicy {
            retries: 8,
            initial: Duration::from_millis(500),
            factor: 2,
            max: Duration::from_secs(5),
        }),
        ..Default::default()
    };
    let r = engine
        .sync_with_retry(&app, Ok(manifests(&docs)), &settings)
        .await;
    restarter.await??;
    assert!(r.succeeded(), "{:?}", r.error);
    assert!(r.attempts > 1, "the first attempt met a dead API server");

    let engine = engine_after_restart(&lab);
    let names = kubectl(
        &lab,
        "lab-k",
        &[
            "get",
            "cm",
            "-n",
            "shop",
            "-l",
            "app.kubernetes.io/instance=crash",
            "-o",
            "name",
        ],
    );
    assert_eq!(names.lines().count(), 150, "{names}");
    let jobs = kubectl(&lab, "lab-k", &["get", "jobs", "-n", "shop", "-o", "name"]);
    assert_eq!(jobs.lines().count(), 1, "one seed job: {jobs}");
    let conn = engine.cluster_for(&app).await?;
    let before = conn.stats().snapshot();
    let r = engine.sync(&app, Ok(manifests(&docs)), &waiting()).await;
    assert!(r.succeeded(), "{:?}", r.error);
    assert_eq!(conn.stats().snapshot().since(&before).writes(), 0);
    Ok(())
}

fn engine_after_restart(lab: &TestLab) -> SyncEngine {
    // The API server may listen on a new port: read the kubeconfig again.
    std::thread::sleep(Duration::from_millis(10));
    engine(lab)
}

/// An admission webhook that nothing serves (the lab's pods run nothing;
/// here its Service does not even exist) rejects every Pod of the namespace
/// it guards. The Deployment is applied, but its pods are never created:
/// its health is Progressing, then Degraded when its progress deadline
/// passes, and never Healthy. The lab names the webhook.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workloads_blocked_by_an_unserved_webhook_are_never_healthy() -> anyhow::Result<()> {
    init_tracing();
    let _permit = lab_permit().await;
    let lab = TestLab::start(&["blocked"], false).await?;
    let server = lab.state().regions["blocked"].server.clone();
    let dir = tempfile::tempdir()?;
    let webhook = dir.path().join("webhook.yaml");
    std::fs::write(
        &webhook,
        r#"apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: pod-policy}
webhooks:
- name: pods.policy.example.com
  clientConfig:
    service: {name: pod-policy, namespace: default, port: 443}
  rules:
  - operations: [CREATE]
    apiGroups: [""]
    apiVersions: [v1]
    resources: [pods]
  namespaceSelector:
    matchLabels: {kubernetes.io/metadata.name: guarded}
  failurePolicy: Fail
  sideEffects: None
  admissionReviewVersions: [v1]
  timeoutSeconds: 2
"#,
    )?;
    kubectl(
        &lab,
        "lab-blocked",
        &["apply", "-f", &webhook.display().to_string()],
    );
    let unserved = lab.lab().unserved_webhooks().await?;
    assert!(
        unserved
            .iter()
            .any(|w| w.configuration == "pod-policy" && w.failure_policy == "Fail"),
        "{unserved:?}"
    );

    let app = app(&format!(
        r#"
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: guarded, namespace: argocd}}
spec:
  project: default
  source: {{repoURL: "https://example.invalid/shop.git", path: shop}}
  destination: {{server: "{server}", namespace: guarded}}
  syncPolicy:
    syncOptions: [CreateNamespace=true]
"#
    ));
    let desired = || {
        manifests(
            r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  progressDeadlineSeconds: 5
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: nginx:1.27}
"#,
        )
    };
    let engine = engine(&lab);
    let result = engine
        .sync(&app, Ok(desired()), &SyncSettings::default())
        .await;
    assert!(result.succeeded(), "{:?}", result.error);

    // Progressing first, then Degraded; Healthy never.
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let status = engine.compare(&app, Ok(desired())).await?;
        let health = format!("{:?}", status.health);
        if seen.last() != Some(&health) {
            seen.push(health.clone());
        }
        assert_ne!(
            health, "Healthy",
            "a blocked Deployment reported Healthy: {status:?}"
        );
        if health == "Degraded" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not Degraded in time; health went {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(
        seen.first().map(String::as_str),
        Some("Progressing"),
        "{seen:?}"
    );
    let pods = kubectl(
        &lab,
        "lab-blocked",
        &["-n", "guarded", "get", "pods", "-o", "name"],
    );
    assert!(pods.trim().is_empty(), "pods were created: {pods}");
    Ok(())
}
