//! Charts from OCI registries: against the lab's CNCF `distribution`
//! registry (charts pushed with `helm push`), and, for what that registry
//! does not do out of the box (token service, refused credentials, a
//! tampered layer), a small registry of the distribution API written here.

mod fetch_support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, Response, StatusCode};
use axum::Router;
use fetch_support::{chart_tgz, sha256_hex, shared_charts};
use flotilla_helm::fetch::{ChartFetcher, FetchError, FetchOptions, RepoAuth};

const CHART_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
const HELM_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";

/// The distribution API's read side, with a token service.
struct MockRegistry {
    url: String,
    host: String,
    hits: Arc<Mutex<Vec<String>>>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

#[derive(Clone, Default)]
struct RegistryState {
    /// repo -> tag -> (manifest JSON, layer bytes)
    manifests: HashMap<String, HashMap<String, Vec<u8>>>,
    blobs: HashMap<String, Vec<u8>>,
    /// Credentials the token service demands (anonymous when `None`).
    basic: Option<String>,
}

fn manifest(layer_digest: &str, layer_size: usize, layer_type: &str) -> Vec<u8> {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"{HELM_CONFIG}","digest":"sha256:{}","size":2}},"layers":[{{"mediaType":"{layer_type}","digest":"sha256:{layer_digest}","size":{layer_size}}}]}}"#,
        sha256_hex(b"{}")
    )
    .into_bytes()
}

impl RegistryState {
    fn push(&mut self, repo: &str, tag: &str, archive: Vec<u8>) {
        self.push_as(repo, tag, archive, None, CHART_LAYER);
    }

    fn push_as(
        &mut self,
        repo: &str,
        tag: &str,
        archive: Vec<u8>,
        announce: Option<String>,
        layer_type: &str,
    ) {
        let digest = sha256_hex(&archive);
        let announced = announce.unwrap_or(digest.clone());
        self.manifests.entry(repo.to_string()).or_default().insert(
            tag.to_string(),
            manifest(&announced, archive.len(), layer_type),
        );
        self.blobs.insert(format!("sha256:{announced}"), archive);
    }
}

const TOKEN: &str = "tok-123";

async fn registry(state: RegistryState) -> MockRegistry {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let url = format!("http://{addr}");
    let hits: Arc<Mutex<Vec<String>>> = Arc::default();
    let state = Arc::new(state);
    let realm = format!("{url}/token");
    let h = hits.clone();
    let app = Router::new().fallback(move |req: Request<Body>| {
        let state = state.clone();
        let realm = realm.clone();
        let hits = h.clone();
        async move {
            let path = req.uri().path().to_string();
            let query = req.uri().query().unwrap_or("").to_string();
            hits.lock().unwrap().push(path.clone());
            let auth = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let reply = |status: StatusCode, body: Vec<u8>| {
                Response::builder()
                    .status(status)
                    .body(Body::from(body))
                    .unwrap()
            };
            if path == "/token" {
                assert!(query.contains("scope=repository"), "{query}");
                if let Some(b) = &state.basic {
                    if auth.as_deref() != Some(b.as_str()) {
                        return reply(StatusCode::UNAUTHORIZED, b"denied".to_vec());
                    }
                }
                return reply(
                    StatusCode::OK,
                    format!(r#"{{"token":"{TOKEN}"}}"#).into_bytes(),
                );
            }
            let Some(rest) = path.strip_prefix("/v2/") else {
                return reply(StatusCode::NOT_FOUND, Vec::new());
            };
            if auth.as_deref() != Some(&format!("Bearer {TOKEN}")) {
                return Response::builder()
                    .status(StatusCode::UNAUTHORIZED)
                    .header(
                        header::WWW_AUTHENTICATE,
                        format!(r#"Bearer realm="{realm}",service="mock""#),
                    )
                    .body(Body::empty())
                    .unwrap();
            }
            if let Some(repo) = rest.strip_suffix("/tags/list") {
                let Some(tags) = state.manifests.get(repo) else {
                    return reply(StatusCode::NOT_FOUND, Vec::new());
                };
                let mut names: Vec<_> = tags.keys().cloned().collect();
                names.sort();
                let body = serde_json::json!({"name": repo, "tags": names});
                return reply(StatusCode::OK, body.to_string().into_bytes());
            }
            if let Some((repo, tag)) = rest.split_once("/manifests/") {
                return match state.manifests.get(repo).and_then(|t| t.get(tag)) {
                    Some(m) => reply(StatusCode::OK, m.clone()),
                    None => reply(StatusCode::NOT_FOUND, Vec::new()),
                };
            }
            if let Some((_, digest)) = rest.split_once("/blobs/") {
                return match state.blobs.get(digest) {
                    Some(b) => reply(StatusCode::OK, b.clone()),
                    None => reply(StatusCode::NOT_FOUND, Vec::new()),
                };
            }
            reply(StatusCode::NOT_FOUND, Vec::new())
        }
    });
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    MockRegistry {
        host: addr.to_string(),
        url,
        hits,
        _shutdown: tx,
    }
}

fn basic(u: &str, p: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_are_resolved_and_the_chart_layer_pulled() {
    let tmp = tempfile::tempdir().unwrap();
    let mut state = RegistryState::default();
    for v in ["1.0.0", "1.2.0", "1.10.0", "2.0.0-rc.1"] {
        state.push("charts/app", v, chart_tgz("app", v));
    }
    state.push(
        "charts/app",
        "1.11.0_build.7",
        chart_tgz("app", "1.11.0+build.7"),
    );
    state.push("charts/app", "latest", chart_tgz("app", "9.9.9"));
    let reg = registry(state).await;
    let f = ChartFetcher::new(tmp.path().join("cache"), FetchOptions::default()).unwrap();
    let base = format!("oci://{}/charts", reg.host);

    let got = f
        .fetch(&base, "app", "~1.2", &RepoAuth::none())
        .await
        .unwrap();
    assert_eq!(got.version, "1.2.0");
    assert_eq!(got.digest, sha256_hex(&chart_tgz("app", "1.2.0")));
    assert_eq!(got.read().await.unwrap(), chart_tgz("app", "1.2.0"));
    assert_eq!(got.url, format!("oci://{}/charts/app:1.2.0", reg.host));

    // `_` in a tag reads as `+`; `latest` is not a version.
    let got = f
        .fetch(&base, "app", "^1", &RepoAuth::none())
        .await
        .unwrap();
    assert_eq!(got.version, "1.11.0+build.7");
    let got = f
        .fetch(&base, "app", "1.11.0+build.7", &RepoAuth::none())
        .await
        .unwrap();
    assert_eq!(got.digest, sha256_hex(&chart_tgz("app", "1.11.0+build.7")));

    let err = f
        .fetch(&base, "app", "3.x", &RepoAuth::none())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "chart app version 3.x not found in oci://{}/charts; available: 2.0.0-rc.1, 1.11.0+build.7, 1.10.0, 1.2.0, 1.0.0",
            reg.host
        )
    );

    // Warm: a pinned version already pulled costs no request at all.
    let seen = reg.hits.lock().unwrap().len();
    let again = ChartFetcher::new(tmp.path().join("cache"), FetchOptions::default())
        .unwrap()
        .fetch(&base, "app", "1.2.0", &RepoAuth::none())
        .await
        .unwrap();
    assert!(again.cached);
    assert_eq!(reg.hits.lock().unwrap().len(), seen);
    assert!(reg.url.starts_with("http://127.0.0.1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_credentials_accepted_and_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut state = RegistryState {
        basic: Some(basic("robot", "pw")),
        ..RegistryState::default()
    };
    state.push("team/web", "0.1.0", chart_tgz("web", "0.1.0"));
    let reg = registry(state).await;
    let opts = FetchOptions {
        retries: 0,
        ..FetchOptions::default()
    };
    let f = ChartFetcher::new(tmp.path().join("cache"), opts).unwrap();
    let base = format!("oci://{}/team", reg.host);
    let err = f
        .fetch(&base, "web", "0.1.x", &RepoAuth::none())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(
            "HTTP 401 Unauthorized (anonymous access refused; the registry needs credentials)"
        ),
        "{err}"
    );
    let err = f
        .fetch(&base, "web", "0.1.x", &RepoAuth::basic("robot", "nope"))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("(the credentials were refused)"),
        "{err}"
    );
    assert!(!err.to_string().contains("nope"));
    let got = f
        .fetch(&base, "web", "0.1.x", &RepoAuth::basic("robot", "pw"))
        .await
        .unwrap();
    assert_eq!(got.version, "0.1.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_layers_and_non_charts_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut state = RegistryState::default();
    let wrong = "f".repeat(64);
    state.push_as(
        "c/app",
        "1.0.0",
        chart_tgz("app", "1.0.0"),
        Some(wrong.clone()),
        CHART_LAYER,
    );
    state.push_as(
        "c/image",
        "1.0.0",
        b"not a chart".to_vec(),
        None,
        "application/vnd.oci.image.layer.v1.tar+gzip",
    );
    let reg = registry(state).await;
    let f = ChartFetcher::new(tmp.path().join("cache"), FetchOptions::default()).unwrap();
    let err = f
        .fetch(
            &format!("oci://{}/c", reg.host),
            "app",
            "1.0.0",
            &RepoAuth::none(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::DigestMismatch { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(&format!("expected sha256:{wrong}")),
        "{err}"
    );
    let err = f
        .fetch(
            &format!("oci://{}/c", reg.host),
            "image",
            "1.0.0",
            &RepoAuth::none(),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(&format!(
            "is not a Helm chart: no layer of media type {CHART_LAYER}"
        )),
        "{err}"
    );
    let err = f
        .fetch(
            &format!("oci://{}/c", reg.host),
            "app",
            "7.0.0",
            &RepoAuth::none(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::VersionNotFound { .. }), "{err:?}");
    assert!(err.to_string().ends_with("; available: 1.0.0"), "{err}");
}

/// The lab's registry, started for this test (built from its Go module on
/// first use, like the other lab components), charts pushed with `helm push`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_distribution_registry() {
    use flotilla_lab::assets::{ensure, AssetOptions, QuietProgress};
    use flotilla_lab::charts::ChartEntry;

    let tmp = tempfile::tempdir().unwrap();
    let assets = tokio::task::spawn_blocking(|| {
        ensure(
            &AssetOptions::from_env(),
            &["distribution", "helm"],
            &QuietProgress,
        )
    })
    .await
    .unwrap()
    .expect("the lab builds the distribution registry and helm");
    let lab_dir = tmp.path().join("lab");
    let record = flotilla_lab::registry::up(&lab_dir, None, &assets, Duration::from_secs(60))
        .await
        .expect("registry starts");
    struct Stop(flotilla_lab::process::ProcessRecord);
    impl Drop for Stop {
        fn drop(&mut self) {
            flotilla_lab::process::stop(&self.0, Duration::from_secs(5));
        }
    }
    let record = Stop(record);

    let mut entries = Vec::new();
    for v in ["1.0.0", "1.2.0", "2.0.0"] {
        let data = chart_tgz("app", v);
        let path = tmp.path().join(format!("app-{v}.tgz"));
        std::fs::write(&path, &data).unwrap();
        entries.push(ChartEntry {
            name: "app".into(),
            version: v.into(),
            archive: path,
            url_path: format!("app-{v}.tgz"),
            digest: sha256_hex(&data),
        });
    }
    let podinfo = shared_charts().join("podinfo-6.14.1.tgz");
    let podinfo_digest = sha256_hex(&std::fs::read(&podinfo).unwrap());
    entries.push(ChartEntry {
        name: "podinfo".into(),
        version: "6.14.1".into(),
        archive: podinfo,
        url_path: "podinfo-6.14.1.tgz".into(),
        digest: podinfo_digest.clone(),
    });
    flotilla_lab::registry::push_charts(&lab_dir, &record.0.address, &entries, &assets)
        .await
        .expect("helm push");

    let base = flotilla_lab::registry::oci_base(&record.0.address);
    let f = ChartFetcher::new(tmp.path().join("cache"), FetchOptions::default()).unwrap();
    let got = f
        .fetch(&base, "app", "^1", &RepoAuth::none())
        .await
        .unwrap();
    assert_eq!(got.version, "1.2.0");
    assert_eq!(got.digest, entries[1].digest);
    let got = f
        .fetch(&base, "podinfo", "6.14.1", &RepoAuth::none())
        .await
        .unwrap();
    assert_eq!(got.digest, podinfo_digest);
    assert_eq!(
        f.versions(&base, "app", &RepoAuth::none()).await.unwrap(),
        ["2.0.0", "1.2.0", "1.0.0"]
    );
    let err = f
        .fetch(&base, "app", "0.9.x", &RepoAuth::none())
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "chart app version 0.9.x not found in {base}; available: 2.0.0"
        )),
        "{err}"
    );
    let err = f
        .fetch(&base, "nope", "^1", &RepoAuth::none())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("HTTP 404"), "{err}");

    // The lab's registry as a dependency repository of an umbrella chart.
    let meta = flotilla_helm::ChartMetadata {
        name: "umbrella".into(),
        api_version: "v2".into(),
        version: "0.1.0".into(),
        dependencies: vec![flotilla_helm::Dependency {
            name: "app".into(),
            version: "~1.0".into(),
            repository: base.clone(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let deps = f
        .fetch_dependencies(&meta, None, None, &Default::default(), &())
        .await
        .unwrap();
    assert_eq!(deps[0].version, "1.0.0");
}
