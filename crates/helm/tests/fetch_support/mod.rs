//! Shared by the fetcher's tests: a real HTTP chart repository on loopback
//! (axum) that serves a directory, counts and records requests, can demand
//! basic auth, and can answer some paths with bodies given by the test;
//! and helpers to build our own small charts.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, Response, StatusCode};
use axum::Router;

/// The shared fixture charts (never copied).
pub fn shared_charts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/charts")
}

/// One request the server saw.
#[derive(Debug, Clone)]
pub struct Hit {
    /// The path requested.
    pub path: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
}

#[derive(Default)]
pub struct Config {
    /// Serve files from here.
    pub dir: Option<PathBuf>,
    /// Demand these basic credentials.
    pub basic: Option<(String, String)>,
    /// Answer these paths (e.g. `/index.yaml`) with these bodies instead.
    pub overrides: HashMap<String, Vec<u8>>,
}

pub struct Server {
    pub url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
    overrides: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Server {
    pub async fn start(config: Config) -> Server {
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let overrides = Arc::new(Mutex::new(config.overrides));
        let state = (
            hits.clone(),
            overrides.clone(),
            Arc::new(config.dir),
            Arc::new(config.basic),
        );
        let app = Router::new().fallback(move |req: Request<Body>| {
            let (hits, overrides, dir, basic) = state.clone();
            async move { handle(req, &hits, &overrides, &dir, &basic).await }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Server {
            url: format!("http://{addr}"),
            hits,
            overrides,
            shutdown: Some(tx),
        }
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    pub fn paths(&self) -> Vec<String> {
        self.hits().into_iter().map(|h| h.path).collect()
    }

    pub fn count(&self, path: &str) -> usize {
        self.hits().iter().filter(|h| h.path == path).count()
    }

    pub fn set_override(&self, path: &str, body: Vec<u8>) {
        self.overrides
            .lock()
            .unwrap()
            .insert(path.to_string(), body);
    }

    pub fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn handle(
    req: Request<Body>,
    hits: &Mutex<Vec<Hit>>,
    overrides: &Mutex<HashMap<String, Vec<u8>>>,
    dir: &Option<PathBuf>,
    basic: &Option<(String, String)>,
) -> Response<Body> {
    let path = req.uri().path().to_string();
    let headers: &HeaderMap = req.headers();
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    hits.lock().unwrap().push(Hit {
        path: path.clone(),
        authorization: authorization.clone(),
    });
    if let Some((u, p)) = basic {
        use base64::Engine as _;
        let want = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        );
        if authorization.as_deref() != Some(want.as_str()) {
            return Response::builder()
                .status(StatusCode::UNAUTHORIZED)
                .header(header::WWW_AUTHENTICATE, "Basic realm=\"charts\"")
                .body(Body::from("unauthorized"))
                .unwrap();
        }
    }
    if let Some(body) = overrides.lock().unwrap().get(&path) {
        return Response::new(Body::from(body.clone()));
    }
    let rel = path.trim_start_matches('/');
    if let Some(dir) = dir {
        if !rel.split('/').any(|s| s == "..") {
            if let Ok(data) = tokio::fs::read(dir.join(rel)).await {
                return Response::new(Body::from(data));
            }
        }
    }
    Response::builder()
        .status(StatusCode::NOT_FOUND)
        .body(Body::from("not found"))
        .unwrap()
}

/// A small chart archive of our own: `name-version/` with Chart.yaml,
/// values.yaml and one template.
pub fn chart_tgz(name: &str, version: &str) -> Vec<u8> {
    chart_tgz_with(name, version, &[])
}

/// Like [`chart_tgz`], with extra `Chart.yaml` text (e.g. dependencies).
pub fn chart_tgz_with(name: &str, version: &str, extra_files: &[(&str, &str)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let chart_yaml = format!("apiVersion: v2\nname: {name}\nversion: {version}\n");
    let mut files: Vec<(String, String)> = vec![
        ("Chart.yaml".into(), chart_yaml),
        ("values.yaml".into(), "greeting: hello\n".into()),
        (
            "templates/cm.yaml".into(),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  greeting: {{ .Values.greeting }}\n".into(),
        ),
    ];
    for (p, c) in extra_files {
        files.push((p.to_string(), c.to_string()));
    }
    for (p, c) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(c.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, format!("{name}/{p}"), c.as_bytes())
            .unwrap();
    }
    let gz = tar.into_inner().unwrap();
    let mut out = gz.finish().unwrap();
    out.flush().unwrap();
    out
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// One entry of a generated index.
pub struct Entry<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub url: String,
    pub digest: Option<String>,
}

/// An `index.yaml` as `helm repo index` writes it (the fields we need).
pub fn index_yaml(entries: &[Entry]) -> String {
    let mut by_name: std::collections::BTreeMap<&str, Vec<&Entry>> = Default::default();
    for e in entries {
        by_name.entry(e.name).or_default().push(e);
    }
    let mut s = String::from("apiVersion: v1\nentries:\n");
    for (name, es) in by_name {
        s.push_str(&format!("  {name}:\n"));
        for e in es {
            s.push_str(&format!(
                "  - apiVersion: v2\n    name: {}\n    version: {}\n    urls:\n    - {}\n",
                e.name, e.version, e.url
            ));
            if let Some(d) = &e.digest {
                s.push_str(&format!("    digest: {d}\n"));
            }
        }
    }
    s.push_str("generated: \"2024-01-01T00:00:00Z\"\n");
    s
}

/// A repository directory with our own charts `(name, version)`, each
/// archive written as `name-version.tgz`, with digests in the index.
pub fn write_repo(dir: &Path, charts: &[(&str, &str)]) -> HashMap<String, String> {
    std::fs::create_dir_all(dir).unwrap();
    let mut digests = HashMap::new();
    let mut entries = Vec::new();
    for (name, version) in charts {
        let data = chart_tgz(name, version);
        let file = format!("{name}-{version}.tgz");
        std::fs::write(dir.join(&file), &data).unwrap();
        let d = sha256_hex(&data);
        digests.insert(format!("{name}-{version}"), d.clone());
        entries.push(Entry {
            name,
            version,
            url: file,
            digest: Some(d),
        });
    }
    std::fs::write(dir.join("index.yaml"), index_yaml(&entries)).unwrap();
    digests
}
