//! examples/multi-region: the reference article's repository, corrected.
//!
//! Its kustomizations render exactly as `kustomize build` renders them and
//! hold together (ServiceAccounts, ports, Ingress backends, Secrets); its
//! ApplicationSets generate one Application per region from the example
//! directory; its VaultConfig parses, admits every pod, and converges on the
//! lab's OpenBao. Synced to two lab regions, with the Secret's placeholders
//! read from OpenBao, every resource becomes Healthy: Ingresses too, because
//! the lab gives them an address as a cloud's load balancer would.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flotilla_appset::{generate, read_application_sets, GeneratorInputs};
use flotilla_core::{Application, Manifest};
use flotilla_git::LocalTree;
use flotilla_lab::assets::{ensure, AssetOptions, QuietProgress};
use flotilla_lab::TestLab;
use flotilla_render::{render_local, RenderOptions};
use flotilla_sync::health::assess;
use flotilla_sync::{ClusterRegistry, EngineSettings, HealthCode, SyncEngine, SyncSettings};
use flotilla_vault::{
    check_manifests, resolve_manifests, ClientConfig, ResolveOptions, SecretData, SecretString,
    VaultClient, VaultConfig,
};
use k8s_openapi::api::core::v1::{Namespace, Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, PostParams};
use serde_json::{json, Value};

/// The article's repository; the example stands in for it.
const REPO: &str = "https://github.com/de-marauder/multi-region-eks.git";
const REGIONS: [&str; 2] = ["us-east-2", "us-west-2"];

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/multi-region")
}

fn overlay(region: &str) -> String {
    format!("manifests/overlays/dev/{region}")
}

fn namespace(region: &str) -> String {
    format!("gen-algo-dev-{region}")
}

/// `kustomize build dir` with the lab's kustomize v5.5.0.
fn kustomize_build(dir: &Path) -> String {
    let assets = ensure(&AssetOptions::from_env(), &["kustomize"], &QuietProgress)
        .expect("the kustomize lab asset");
    let out = Command::new(assets.path("kustomize").expect("kustomize binary"))
        .arg("build")
        .arg(dir)
        .output()
        .expect("running kustomize");
    assert!(
        out.status.success(),
        "kustomize build {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn rendered(dir: &Path) -> Vec<Manifest> {
    render_local(dir, &RenderOptions::default())
        .unwrap_or_else(|e| panic!("rendering {}: {e}", dir.display()))
        .manifests
}

fn first_difference(want: &str, got: &str) -> String {
    let line = want
        .lines()
        .zip(got.lines())
        .position(|(a, b)| a != b)
        .unwrap_or(want.lines().count().min(got.lines().count()));
    let around = |s: &str| {
        s.lines()
            .skip(line.saturating_sub(3))
            .take(7)
            .collect::<Vec<_>>()
            .join("\n")
    };
    format!(
        "first difference at line {}\n--- kustomize\n{}\n--- flotilla\n{}",
        line + 1,
        around(want),
        around(got)
    )
}

fn read(path: &str) -> String {
    std::fs::read_to_string(example().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn generate_file(root: &Path, file: &str) -> Vec<Application> {
    let tree = LocalTree::new(root).unwrap();
    let text = std::fs::read_to_string(root.join(file)).unwrap();
    let sets = read_application_sets(&text, file).unwrap();
    assert!(!sets.is_empty(), "{file}: no ApplicationSet");
    let inputs = GeneratorInputs::new().with_repository(REPO, "HEAD", &tree);
    sets.iter()
        .flat_map(|s| generate(&s.appset, &inputs).unwrap_or_else(|e| panic!("{file}: {e}")))
        .collect()
}

fn config_server(root: &Path, region: &str) -> String {
    let text = std::fs::read_to_string(root.join(overlay(region)).join("config.json")).unwrap();
    let config: Value = serde_json::from_str(&text).expect("config.json is JSON");
    config["cluster"]["server"].as_str().unwrap().to_string()
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

#[test]
fn each_kustomization_renders_exactly_as_kustomize_builds_it() {
    let mut dirs = vec!["manifests/base".to_string()];
    dirs.extend(REGIONS.iter().map(|r| overlay(r)));
    for dir in dirs {
        let path = example().join(&dir);
        let want = kustomize_build(&path);
        let got = render_local(&path, &RenderOptions::default())
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .to_yaml();
        assert!(want == got, "{dir}: {}", first_difference(&want, &got));
    }
}

/// What the article got wrong inside its manifests cannot come back: the
/// pieces refer to each other correctly in every region.
#[test]
fn each_overlay_holds_together() {
    for region in REGIONS {
        let manifests = rendered(&example().join(overlay(region)));
        let of_kind = |kind: &str| -> Vec<&Manifest> {
            manifests
                .iter()
                .filter(|m| m.kind() == Some(kind))
                .collect()
        };
        let names = |kind: &str| -> BTreeSet<&str> {
            of_kind(kind).iter().filter_map(|m| m.name()).collect()
        };
        let kinds: BTreeMap<&str, usize> = manifests.iter().fold(BTreeMap::new(), |mut acc, m| {
            *acc.entry(m.kind().unwrap()).or_default() += 1;
            acc
        });
        assert_eq!(
            kinds,
            BTreeMap::from([
                ("Deployment", 2),
                ("Ingress", 2),
                ("Secret", 1),
                ("Service", 2),
                ("ServiceAccount", 2)
            ]),
            "{region}"
        );
        for m in &manifests {
            // The Application's destination decides the namespace.
            assert_eq!(
                m.namespace(),
                None,
                "{region}: {:?} has a namespace",
                m.name()
            );
            assert_eq!(m.label("region"), Some(region));
            assert_eq!(m.label("environment"), Some("dev"));
        }
        let secrets = names("Secret");
        let accounts = names("ServiceAccount");
        // Deployment name -> (pod labels, container port names).
        let mut pods: BTreeMap<&str, (&Value, BTreeSet<&str>)> = BTreeMap::new();
        for d in of_kind("Deployment") {
            let name = d.name().unwrap();
            let spec = &d.object["spec"]["template"]["spec"];
            let account = str_at(spec, "/serviceAccountName");
            assert!(
                accounts.contains(account),
                "{region}: {name} runs as {account:?}, which no manifest creates"
            );
            assert!(
                spec.get("imagePullSecrets").is_none(),
                "{region}: {name} needs a pull secret that is not in Git"
            );
            assert_eq!(
                str_at(
                    &d.object["spec"]["template"],
                    "/metadata/annotations/vault.hashicorp.com~1agent-inject-status"
                ),
                "",
                "{region}: {name}: agent-inject-status is the injector's own marker"
            );
            let mut ports = BTreeSet::new();
            for c in spec["containers"].as_array().unwrap() {
                let image = str_at(c, "/image");
                assert!(
                    image.rsplit('/').next().unwrap().contains(':'),
                    "{region}: {name}: image {image} has no tag"
                );
                let env: BTreeMap<&str, &str> = c["env"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| (str_at(e, "/name"), str_at(e, "/value")))
                    .collect();
                assert_eq!(env.get("REGION"), Some(&region), "{region}: {name}");
                for from in c["envFrom"].as_array().into_iter().flatten() {
                    let secret = str_at(from, "/secretRef/name");
                    assert!(secrets.contains(secret), "{region}: {name} reads {secret}");
                }
                assert!(c.pointer("/resources/requests/cpu").is_some());
                ports.extend(
                    c["ports"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| str_at(p, "/name")),
                );
            }
            pods.insert(
                name,
                (&d.object["spec"]["template"]["metadata"]["labels"], ports),
            );
        }
        // Service name -> port names.
        let mut services: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for s in of_kind("Service") {
            let name = s.name().unwrap();
            let selector = s.object["spec"]["selector"].as_object().unwrap();
            let (_, container_ports) = pods
                .values()
                .find(|(labels, _)| selector.iter().all(|(k, v)| labels.get(k) == Some(v)))
                .unwrap_or_else(|| panic!("{region}: Service {name} selects no pod"));
            let mut ports = BTreeSet::new();
            for p in s.object["spec"]["ports"].as_array().unwrap() {
                let target = str_at(p, "/targetPort");
                assert!(
                    container_ports.contains(target),
                    "{region}: Service {name} sends traffic to port {target:?}, which its pods do not declare"
                );
                ports.insert(str_at(p, "/name"));
            }
            services.insert(name, ports);
        }
        for i in of_kind("Ingress") {
            let name = i.name().unwrap();
            assert_eq!(i.api_version(), Some("networking.k8s.io/v1"));
            assert_eq!(str_at(&i.object["spec"], "/ingressClassName"), "nginx");
            assert!(i
                .annotation("nginx.ingress.kubernetes.io/rewrite-target")
                .is_none());
            for rule in i.object["spec"]["rules"].as_array().unwrap() {
                for path in rule["http"]["paths"].as_array().unwrap() {
                    let service = str_at(path, "/backend/service/name");
                    let port = str_at(path, "/backend/service/port/name");
                    assert!(
                        services.get(service).is_some_and(|p| p.contains(port)),
                        "{region}: Ingress {name} routes to {service}:{port}"
                    );
                }
            }
        }
        // The Secret holds Vault paths, never values.
        let secret = &of_kind("Secret")[0].object;
        for (key, value) in secret["stringData"].as_object().unwrap() {
            assert_eq!(
                value.as_str().unwrap(),
                format!("<path:secret/data/api/env#{key}>")
            );
        }
    }
}

#[test]
fn the_applicationset_generates_one_application_per_region() {
    let root = example();
    let apps = generate_file(&root, "manifests/argocd/applicationset.yaml");
    let names: Vec<&str> = apps.iter().map(|a| a.name()).collect();
    assert_eq!(names, ["gen-algo-dev-us-east-2", "gen-algo-dev-us-west-2"]);
    for (app, region) in apps.iter().zip(REGIONS) {
        assert_eq!(app.namespace(), Some("argocd"));
        let source = app.spec.source.as_ref().expect("one source");
        assert_eq!(source.repo_url.as_deref(), Some(REPO));
        assert_eq!(source.target_revision.as_deref(), Some("HEAD"));
        assert_eq!(source.path.as_deref(), Some(overlay(region).as_str()));
        let dest = &app.spec.destination;
        assert_eq!(
            dest.server.as_deref(),
            Some(config_server(&root, region).as_str())
        );
        assert_eq!(dest.namespace.as_deref(), Some(namespace(region).as_str()));
        let policy = app.spec.sync_policy.as_ref().unwrap();
        let automated = policy.automated.as_ref().unwrap();
        assert_eq!(automated.prune, Some(true));
        assert_eq!(automated.self_heal, Some(true));
        assert_eq!(policy.sync_options.create_namespace(), Some(true));
        assert_eq!(policy.retry.as_ref().unwrap().limit, Some(5));
    }
}

#[test]
fn the_platform_applicationsets_read_value_files_that_exist() {
    let root = example();
    let apps = generate_file(&root, "manifests/argocd/platform-applicationset.yaml");
    let mut names: Vec<&str> = apps.iter().map(|a| a.name()).collect();
    names.sort();
    let mut expected = Vec::new();
    for chart in ["consul", "ingress-nginx", "vault"] {
        for region in REGIONS {
            expected.push(format!("{chart}-dev-{region}"));
        }
    }
    assert_eq!(names, expected);
    for app in &apps {
        let [chart, values] = app.spec.sources.as_slice() else {
            panic!("{}: two sources", app.name());
        };
        assert_eq!(values.ref_name.as_deref(), Some("values"));
        assert_eq!(values.repo_url.as_deref(), Some(REPO));
        let name = chart.chart.as_deref().unwrap();
        assert!(app.name().starts_with(name));
        let helm = chart.helm.as_ref().unwrap();
        assert_eq!(helm.release_name.as_deref(), Some(name));
        let files = &helm.value_files;
        assert_eq!(files.len(), 1);
        let file = files[0]
            .strip_prefix("$values/")
            .expect("from the values source");
        assert_eq!(file, format!("manifests/helm/dev/{name}-values.yaml"));
        assert!(root.join(file).is_file(), "{file}");
        // The region's namespace, as the application's.
        let region = app.name().rsplit("dev-").next().unwrap();
        assert_eq!(
            app.spec.destination.namespace.as_deref(),
            Some(namespace(region).as_str())
        );
        assert_eq!(app.spec.ignore_differences.len(), 1);
    }
    // prod has its value files too, ready for overlays/prod/<region>/.
    for chart in ["consul", "vault", "ingress-nginx"] {
        for env in ["dev", "prod"] {
            let text = read(&format!("manifests/helm/{env}/{chart}-values.yaml"));
            let values: Value = serde_yaml_ng::from_str(&text).unwrap();
            assert!(values.is_object(), "{env}/{chart}");
        }
    }
}

#[tokio::test]
async fn the_vault_config_admits_every_pod_of_every_region() {
    let doc = VaultConfig::load(&example().join("manifests/vault/vault-config.yaml")).unwrap();
    assert_eq!(doc.metadata.name, "gen-algo");
    for region in REGIONS {
        let manifests = rendered(&example().join(overlay(region)));
        let report = check_manifests(&doc, &manifests, &namespace(region))
            .await
            .unwrap();
        assert!(report.is_clean(), "{region}:\n{report}");
        // Not vacuous: outside gen-algo-* the roles refuse the pods.
        let report = check_manifests(&doc, &manifests, "default").await.unwrap();
        assert!(!report.is_clean(), "{region}: default namespace admitted");
    }
}

async fn wait_for_address<K>(api: &Api<K>, name: &str, timeout: Duration) -> Value
where
    K: kube::Resource
        + Clone
        + k8s_openapi::serde::de::DeserializeOwned
        + k8s_openapi::serde::Serialize
        + std::fmt::Debug,
{
    let start = Instant::now();
    loop {
        let obj = serde_json::to_value(api.get(name).await.unwrap()).unwrap();
        if str_at(&obj, "/status/loadBalancer/ingress/0/ip") == "127.0.0.1" {
            return obj;
        }
        assert!(
            start.elapsed() < timeout,
            "{name} has no address after {timeout:?}: {}",
            obj["status"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_ingresses_and_load_balancers_get_an_address() {
    let lab = TestLab::start(&["edge"], false).await.unwrap();
    let client = lab.client("edge").await.unwrap();
    let ns = "web";
    Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap(),
        )
        .await
        .unwrap();
    let services: Api<Service> = Api::namespaced(client.clone(), ns);
    let ingresses: Api<Ingress> = Api::namespaced(client.clone(), ns);
    let service = |name: &str, kind: &str| -> Service {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"type": kind, "selector": {"app": "web"}, "ports": [{"port": 80}]},
        }))
        .unwrap()
    };
    let start = Instant::now();
    services
        .create(&PostParams::default(), &service("web-lb", "LoadBalancer"))
        .await
        .unwrap();
    services
        .create(&PostParams::default(), &service("web", "ClusterIP"))
        .await
        .unwrap();
    let ingress: Ingress = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "ingressClassName": "nginx",
            "rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}],
        },
    }))
    .unwrap();
    ingresses
        .create(&PostParams::default(), &ingress)
        .await
        .unwrap();

    let timeout = Duration::from_secs(5);
    let lb = wait_for_address(&services, "web-lb", timeout).await;
    let ing = wait_for_address(&ingresses, "web", timeout).await;
    eprintln!("addresses after {:?}", start.elapsed());
    assert_eq!(assess(&lb).unwrap().status, HealthCode::Healthy);
    assert_eq!(assess(&ing).unwrap().status, HealthCode::Healthy);
    // A ClusterIP Service gets no load balancer.
    let internal = serde_json::to_value(services.get("web").await.unwrap()).unwrap();
    assert_eq!(str_at(&internal, "/status/loadBalancer/ingress/0/ip"), "");
    assert_eq!(assess(&internal).unwrap().status, HealthCode::Healthy);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// As the demo does: the example copied, each config.json pointing at a lab
/// region; the ApplicationSet generated from it; each Application rendered,
/// its placeholders resolved from OpenBao with a token of the example's own
/// `gen-algo-flotilla` policy, and synced. Everything ends Synced and
/// Healthy, the Ingresses included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_syncs_to_two_lab_regions_and_becomes_healthy() {
    let lab = TestLab::start(&REGIONS, true).await.unwrap();
    let info = lab.openbao().unwrap().unwrap();
    let vault = |token: &str| {
        VaultClient::new(
            ClientConfig::new(&info.addr)
                .with_ca_cert(&info.ca_cert)
                .with_token(SecretString::new(token)),
        )
        .unwrap()
    };
    let root = vault(&info.root_token);

    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    copy_dir(&example(), &repo);
    for region in REGIONS {
        let path = repo.join(overlay(region)).join("config.json");
        let mut config: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        config["cluster"]["server"] = json!(lab.state().regions[region].server);
        std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    }
    // The lab's regions share one CA; `vault apply` gives it to Vault.
    std::fs::copy(
        lab.lab().ca_path(),
        repo.join("manifests/vault/kubernetes-ca.pem"),
    )
    .unwrap();

    // `flotilla vault apply --dry-run`, then apply, then nothing left to do.
    let doc = VaultConfig::load(&repo.join("manifests/vault/vault-config.yaml")).unwrap();
    let plan = flotilla_vault::plan(&root, &doc).await.unwrap();
    eprintln!("{plan}");
    assert!(plan.blocked().is_empty(), "{plan}");
    assert!(!plan.is_noop());
    assert_eq!(
        plan.attention().len(),
        2,
        "both secrets are missing: {plan}"
    );
    flotilla_vault::apply(&root, &plan).await.unwrap();
    let db_url = "postgres://gen-algo:example@db.internal/gen-algo";
    let secrets = [
        (
            "secret/api/env",
            SecretData::from_pairs([("DB_URL", db_url), ("JWT_SECRET", "example-jwt")]),
        ),
        (
            "secret/webui/env-local",
            SecretData::from_pairs([
                ("NEXT_PUBLIC_API_URL", "/api"),
                ("NEXT_PUBLIC_FCM_API_KEY", "example-key"),
            ]),
        ),
    ];
    for (path, data) in &secrets {
        // A new KV v2 mount refuses writes for a moment.
        let mut tries = 0;
        while let Err(e) = root.kv_write(path, data).await {
            tries += 1;
            assert!(tries < 50, "writing {path}: {e}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let again = flotilla_vault::plan(&root, &doc).await.unwrap();
    assert!(again.is_noop() && again.attention().is_empty(), "{again}");
    let created = root
        .write(
            "auth/token/create",
            json!({"policies": ["gen-algo-flotilla"], "ttl": "10m", "no_default_policy": true}),
        )
        .await
        .unwrap()
        .unwrap();
    let renderer = vault(created["auth"]["client_token"].as_str().unwrap());

    let apps = generate_file(&repo, "manifests/argocd/applicationset.yaml");
    assert_eq!(apps.len(), 2);

    let registry = Arc::new(ClusterRegistry::from_kubeconfig_file(&lab.kubeconfig()).unwrap());
    let engine = SyncEngine::with_settings(
        registry,
        EngineSettings {
            health_timeout: Duration::from_secs(90),
            ..Default::default()
        },
    );
    for (app, region) in apps.iter().zip(REGIONS) {
        let path = app.spec.source.as_ref().unwrap().path.clone().unwrap();
        let mut manifests = rendered(&repo.join(path));
        let report = resolve_manifests(&renderer, &mut manifests, &ResolveOptions::default())
            .await
            .unwrap();
        assert_eq!(report.placeholders, 2);
        let settings = SyncSettings {
            wait_for_health: true,
            ..Default::default()
        };
        let result = engine.sync(app, Ok(manifests.clone()), &settings).await;
        assert!(
            result.succeeded(),
            "{}: {:?}\n{:#?}",
            app.name(),
            result.error,
            result.resources
        );
        assert_eq!(result.cluster, format!("lab-{region}"));

        let start = Instant::now();
        let status = loop {
            let status = engine.compare(app, Ok(manifests.clone())).await.unwrap();
            if status.health == HealthCode::Healthy || start.elapsed() > Duration::from_secs(60) {
                break status;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        let table: Vec<String> = status
            .resources
            .iter()
            .map(|r| format!("{} {:?} {:?}", r.resource, r.status, r.health))
            .collect();
        assert_eq!(status.health, HealthCode::Healthy, "{}", table.join("\n"));
        assert!(status.in_sync(), "{}", table.join("\n"));
        let ingresses: Vec<_> = status
            .resources
            .iter()
            .filter(|r| r.kind == "Ingress")
            .collect();
        assert_eq!(ingresses.len(), 2);
        for r in ingresses {
            assert_eq!(
                r.health.as_ref().map(|h| h.status),
                Some(HealthCode::Healthy),
                "{}",
                r.resource
            );
        }

        // The Secret holds the value from Vault; Git never did.
        let client = lab.client(region).await.unwrap();
        let secret = Api::<Secret>::namespaced(client.clone(), &namespace(region))
            .get("gen-algo-api-env")
            .await
            .unwrap();
        let data = secret.data.unwrap();
        assert_eq!(String::from_utf8_lossy(&data["DB_URL"].0), db_url);
        // Each region got only its own Application.
        let other = REGIONS.iter().find(|r| **r != region).unwrap();
        assert!(Api::<Namespace>::all(client)
            .get_opt(&namespace(other))
            .await
            .unwrap()
            .is_none());
    }
}

/// `helm template` with the lab's helm v3.17.4.
fn helm_template(args: &[&str]) -> String {
    let assets =
        ensure(&AssetOptions::from_env(), &["helm"], &QuietProgress).expect("the helm lab asset");
    let out = Command::new(assets.path("helm").expect("helm binary"))
        .arg("template")
        .args(args)
        .output()
        .expect("running helm");
    assert!(
        out.status.success(),
        "helm template {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

#[test]
fn the_example_chart_renders_as_helm_template_renders_it_for_each_region() {
    let chart_dir = example().join("charts/status-page");
    let apps = generate_file(
        &example(),
        "manifests/argocd/status-page-applicationset.yaml",
    );
    assert_eq!(apps.len(), REGIONS.len());
    for app in &apps {
        let source = app.spec.source.as_ref().expect("one source");
        assert_eq!(source.chart.as_deref(), Some("status-page"));
        let helm = source.helm.as_ref().expect("helm options");
        let values = helm.values_object.as_ref().expect("valuesObject");
        let region = values["region"].as_str().expect("region");
        let set = format!("region={region},environment=dev");
        let ns = app.spec.destination.namespace.clone().expect("namespace");
        let want = helm_template(&[
            "status-page",
            &chart_dir.display().to_string(),
            "--set",
            &set,
            "-n",
            &ns,
            "--kube-version",
            "1.32.13",
        ]);
        let chart = flotilla_helm::load::load(&chart_dir).expect("chart loads");
        let got = flotilla_helm::template_chart(
            chart,
            &flotilla_helm::values::ValuesOptions {
                set: vec![set.clone()],
                ..Default::default()
            },
            &flotilla_helm::TemplateOptions {
                release_name: "status-page".into(),
                namespace: ns.clone(),
                capabilities: flotilla_helm::Capabilities::with(
                    flotilla_helm::KubeVersion::parse("1.32.13").expect("version"),
                    &[],
                ),
                ..Default::default()
            },
            &flotilla_helm::OutputOptions::default(),
        )
        .expect("renders");
        assert!(want == got, "{region}: {}", first_difference(&want, &got));
        assert!(got.contains(&format!("<h1>gen-algo: dev, {region}</h1>")));
    }
}
