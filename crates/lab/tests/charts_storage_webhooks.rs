//! The lab's chart repository, OCI registry, storage and webhook check,
//! against a real lab (one region, shared by the steps of one test) and the
//! lab's own `helm` v3.17.4.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use flotilla_lab::assets::{self, AssetOptions, QuietProgress};
use flotilla_lab::charts::{ChartRepo, ChartServer, ChartServerOptions};
use flotilla_lab::TestLab;
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, PersistentVolumeClaim, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, PostParams};
use serde_json::json;
use sha2::{Digest, Sha256};

fn shared_charts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/charts")
}

fn helm() -> PathBuf {
    let a = assets::ensure(&AssetOptions::from_env(), &["helm"], &QuietProgress).expect("helm");
    a.path("helm").unwrap().to_path_buf()
}

/// Runs the lab's helm with its state in `home`; stdout, or a panic with stderr.
fn run_helm(home: &Path, args: &[&str]) -> String {
    let out = Command::new(helm())
        .args(args)
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "helm {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// A chart of our own, as a directory (with things `.helmignore` drops).
fn write_chart(dir: &Path) {
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::create_dir_all(dir.join("files")).unwrap();
    std::fs::write(
        dir.join("Chart.yaml"),
        "apiVersion: v2\nname: greeter\nversion: 0.3.1\nappVersion: \"2.0\"\ndescription: Says hello\n",
    )
    .unwrap();
    std::fs::write(dir.join("values.yaml"), "greeting: hello\nreplicas: 2\n").unwrap();
    std::fs::write(dir.join(".helmignore"), "*.bak\nscratch/\n").unwrap();
    std::fs::write(dir.join("files/motd.txt"), "welcome\n").unwrap();
    std::fs::write(dir.join("files/old.bak"), "ignored\n").unwrap();
    std::fs::create_dir_all(dir.join("scratch")).unwrap();
    std::fs::write(dir.join("scratch/notes.yaml"), "kind: Nope\n").unwrap();
    std::fs::write(
        dir.join("templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-greeter\ndata:\n  greeting: {{ .Values.greeting | quote }}\n  files: {{ len (.Files.Glob \"files/*\") | quote }}\n  motd: {{ .Files.Get \"files/motd.txt\" | quote }}\n",
    )
    .unwrap();
}

/// A directory chart is packaged and indexed; `helm` fetches it from our
/// server by name, and renders the package exactly as it renders the
/// directory (so nothing was lost or added, `.helmignore` included).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_chart_is_packaged_indexed_and_served() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let src = tmp.path().join("src");
    write_chart(&src.join("greeter"));
    let repo = ChartRepo::build(std::slice::from_ref(&src), &tmp.path().join("work"))?;
    let server = ChartServer::start(ChartServerOptions::new(repo)).await?;
    let url = server.url();

    let index: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        &http()
            .get(format!("{url}/index.yaml"))
            .send()
            .await?
            .text()
            .await?,
    )?;
    let entry = &index["entries"]["greeter"][0];
    assert_eq!(entry["version"].as_str(), Some("0.3.1"));
    assert_eq!(entry["appVersion"].as_str(), Some("2.0"));
    let file = entry["urls"][0].as_str().unwrap();
    let tgz = http()
        .get(format!("{url}/{file}"))
        .send()
        .await?
        .bytes()
        .await?;
    assert_eq!(entry["digest"].as_str(), Some(sha256(&tgz).as_str()));

    let home = tmp.path().join("helm");
    let pulled = tmp.path().join("pulled");
    std::fs::create_dir_all(&pulled)?;
    run_helm(
        &home,
        &[
            "pull",
            "greeter",
            "--repo",
            &url,
            "--version",
            "0.3.1",
            "-d",
            pulled.to_str().unwrap(),
        ],
    );
    let pulled_tgz = pulled.join("greeter-0.3.1.tgz");
    assert_eq!(std::fs::read(&pulled_tgz)?, tgz.to_vec());
    let from_package = run_helm(&home, &["template", "r", pulled_tgz.to_str().unwrap()]);
    let from_dir = run_helm(
        &home,
        &["template", "r", src.join("greeter").to_str().unwrap()],
    );
    assert_eq!(from_package, from_dir);
    assert!(from_package.contains("files: \"1\""), "{from_package}");
    Ok(())
}

async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, String>>,
{
    let start = Instant::now();
    let mut last = String::new();
    loop {
        match f().await {
            Ok(Some(v)) => return v,
            Ok(None) => {}
            Err(e) => last = e,
        }
        assert!(
            start.elapsed() < timeout,
            "{what} not within {}s: {last}",
            timeout.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn bound_claim(
    client: &kube::Client,
    ns: &str,
    name: &str,
    class: Option<&str>,
) -> PersistentVolumeClaim {
    let api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), ns);
    let mut spec = json!({
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "1Gi"}},
    });
    if let Some(c) = class {
        spec["storageClassName"] = json!(c);
    }
    let pvc: PersistentVolumeClaim = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": name}, "spec": spec,
    }))
    .unwrap();
    api.create(&PostParams::default(), &pvc).await.unwrap();
    wait_for(
        &format!("claim {name} Bound"),
        Duration::from_secs(90),
        || {
            let api = api.clone();
            async move {
                let c = api.get(name).await.map_err(|e| e.to_string())?;
                let phase = c
                    .status
                    .as_ref()
                    .and_then(|s| s.phase.clone())
                    .unwrap_or_default();
                Ok((phase == "Bound").then_some(c))
            }
        },
    )
    .await
}

fn webhook_config(
    name: &str,
    service_ns: &str,
    service: &str,
    guarded_label: &str,
) -> ValidatingWebhookConfiguration {
    serde_json::from_value(json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [{
            "name": format!("{name}.example.com"),
            "clientConfig": {
                "service": {"namespace": service_ns, "name": service, "port": 443, "path": "/validate"},
                "caBundle": "",
            },
            "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["configmaps"]}],
            "namespaceSelector": {"matchLabels": {"guarded": guarded_label}},
            "failurePolicy": "Fail",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "timeoutSeconds": 2,
        }],
    }))
    .unwrap()
}

async fn apply_json<K>(api: &Api<K>, v: serde_json::Value)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let obj: K = serde_json::from_value(v).unwrap();
    api.create(&PostParams::default(), &obj).await.unwrap();
}

/// One lab: the shared chart directory served unchanged (with basic auth)
/// and pushed to the OCI registry; claims bind with the default class and
/// with `gp2`; webhooks that nothing serves are named, one that is served
/// is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charts_registry_storage_and_webhooks_in_one_lab() -> anyhow::Result<()> {
    let lab = TestLab::builder(&["a"])
        .charts(shared_charts())
        .charts_basic_auth("ci", "s3cret")
        .start()
        .await?;
    let url = lab.charts_url().expect("chart repository");
    let h = http();

    // --- chart repository: index.yaml byte for byte, archives match digests.
    let anon = h.get(format!("{url}/index.yaml")).send().await?;
    assert_eq!(anon.status(), 401);
    let index_bytes = h
        .get(format!("{url}/index.yaml"))
        .basic_auth("ci", Some("s3cret"))
        .send()
        .await?
        .bytes()
        .await?;
    assert_eq!(
        index_bytes.to_vec(),
        std::fs::read(shared_charts().join("index.yaml"))?
    );
    let index: serde_yaml_ng::Value = serde_yaml_ng::from_slice(&index_bytes)?;
    let mut names = Vec::new();
    for (name, versions) in index["entries"].as_mapping().unwrap() {
        let v = &versions[0];
        let file = v["urls"][0].as_str().unwrap();
        let tgz = h
            .get(format!("{url}/{file}"))
            .basic_auth("ci", Some("s3cret"))
            .send()
            .await?
            .bytes()
            .await?;
        assert_eq!(v["digest"].as_str(), Some(sha256(&tgz).as_str()), "{file}");
        names.push(name.as_str().unwrap().to_string());
    }
    assert_eq!(names, ["consul", "ingress-nginx", "podinfo", "vault"]);
    let env = lab.lab().env()?;
    assert!(
        env.contains(&("FLOTILLA_LAB_CHARTS".to_string(), url.clone())),
        "{env:?}"
    );

    // --- OCI registry: /v2/ answers, a pushed chart's manifest holds the
    // archive as its layer, and helm pulls it back.
    let registry = lab.registry_address().expect("registry");
    assert_eq!(h.get(format!("{registry}/v2/")).send().await?.status(), 200);
    let manifest: serde_json::Value = h
        .get(format!("{registry}/v2/charts/podinfo/manifests/6.14.1"))
        .header("Accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let layer = &manifest["layers"][0];
    assert_eq!(
        layer["mediaType"],
        "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
    );
    let podinfo = std::fs::read(shared_charts().join("podinfo-6.14.1.tgz"))?;
    assert_eq!(layer["digest"], format!("sha256:{}", sha256(&podinfo)));
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.cncf.helm.config.v1+json"
    );
    let oci = lab.oci_base().unwrap();
    assert!(
        env.contains(&("FLOTILLA_LAB_OCI".to_string(), oci.clone())),
        "{env:?}"
    );
    let tmp = tempfile::tempdir()?;
    let out = tmp.path().join("pulled");
    std::fs::create_dir_all(&out)?;
    run_helm(
        tmp.path(),
        &[
            "pull",
            &format!("{oci}/vault"),
            "--version",
            "0.28.0",
            "--plain-http",
            "-d",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(
        std::fs::read(out.join("vault-0.28.0.tgz"))?,
        std::fs::read(shared_charts().join("vault-0.28.0.tgz"))?
    );
    let status = lab.lab().status().await?;
    assert!(
        status
            .iter()
            .any(|s| s.component == "registry" && s.state == "running"),
        "{status:?}"
    );

    // --- storage: the default class and gp2 both provision and bind.
    let client = lab.client("a").await?;
    let default_claim = bound_claim(&client, "default", "data-default", None).await;
    assert_eq!(
        default_claim
            .spec
            .as_ref()
            .and_then(|s| s.storage_class_name.as_deref()),
        Some("standard")
    );
    let gp2 = bound_claim(&client, "default", "data-gp2", Some("gp2")).await;
    assert!(gp2
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.as_ref())
        .is_some());

    // --- webhooks.
    let namespaces: Api<Namespace> = Api::all(client.clone());
    apply_json(
        &namespaces,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "hooks"}}),
    )
    .await;
    apply_json(
        &namespaces,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "guarded", "labels": {"guarded": "yes"}}}),
    )
    .await;
    let services: Api<Service> = Api::namespaced(client.clone(), "hooks");
    // A Service whose selector matches nothing; one backed by a Deployment
    // on the simulated nodes; one with an endpoint outside them (the API
    // server refuses loopback addresses in EndpointSlices).
    for (name, selector) in [
        ("nobody", Some("nothing")),
        ("injector", Some("injector")),
        ("local", None),
    ] {
        let mut spec = json!({"ports": [{"port": 443, "targetPort": 8443}]});
        if let Some(s) = selector {
            spec["selector"] = json!({"app": s});
        }
        apply_json(&services, json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec})).await;
    }
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "hooks");
    apply_json(
        &slices,
        json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "local-1", "labels": {"kubernetes.io/service-name": "local"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["192.0.2.10"], "conditions": {"ready": true}}],
            "ports": [{"port": 8443, "protocol": "TCP"}],
        }),
    )
    .await;
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "hooks");
    apply_json(
        &deploys,
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "injector"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "injector"}},
                "template": {"metadata": {"labels": {"app": "injector"}},
                    "spec": {"containers": [{"name": "c", "image": "injector"}]}}},
        }),
    )
    .await;
    wait_for(
        "an endpoint for the injector pod",
        Duration::from_secs(90),
        || {
            let slices = slices.clone();
            async move {
                let list = slices
                    .list(
                        &kube::api::ListParams::default()
                            .labels("kubernetes.io/service-name=injector"),
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                let ready = list.items.iter().flat_map(|s| &s.endpoints).any(|e| {
                    e.conditions.as_ref().and_then(|c| c.ready) == Some(true)
                        && e.node_name.is_some()
                });
                Ok(ready.then_some(()))
            }
        },
    )
    .await;
    let hooks: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    hooks
        .create(
            &PostParams::default(),
            &webhook_config("nobody", "hooks", "nobody", "yes"),
        )
        .await?;
    hooks
        .create(
            &PostParams::default(),
            &webhook_config("injector", "hooks", "injector", "no-such"),
        )
        .await?;
    hooks
        .create(
            &PostParams::default(),
            &webhook_config("local", "hooks", "local", "no-such"),
        )
        .await?;
    hooks
        .create(
            &PostParams::default(),
            &webhook_config("missing", "hooks", "gone", "no-such"),
        )
        .await?;

    let found = lab.lab().unserved_webhooks().await?;
    let named: Vec<(&str, &str)> = found
        .iter()
        .map(|w| (w.configuration.as_str(), w.reason.as_str()))
        .collect();
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(
        named
            .iter()
            .any(|(c, r)| *c == "injector" && r.contains("simulated nodes")),
        "{named:?}"
    );
    assert!(
        named
            .iter()
            .any(|(c, r)| *c == "nobody" && r.contains("no ready endpoint")),
        "{named:?}"
    );
    assert!(
        named
            .iter()
            .any(|(c, r)| *c == "missing" && r.contains("does not exist")),
        "{named:?}"
    );
    assert!(found
        .iter()
        .all(|w| w.blocks() && w.region == "a" && w.service.starts_with("hooks/")));

    // And what it means: the unserved webhook rejects what it matches.
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "guarded");
    let cm: ConfigMap = serde_json::from_value(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}),
    )?;
    let err = cms
        .create(&PostParams::default(), &cm)
        .await
        .expect_err("the webhook rejects it");
    assert!(err.to_string().contains("nobody.example.com"), "{err}");
    Ok(())
}
