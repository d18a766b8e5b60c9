//! The lab's OCI registry: the CNCF `distribution` registry (built from its
//! Go module, see `versions.toml`) on 127.0.0.1, storing on the filesystem
//! under `<lab>/registry/data`, and the lab's charts pushed to it with the
//! lab's own `helm push --plain-http`, as
//! `oci://127.0.0.1:PORT/charts/<name>:<version>`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::assets::Assets;
use crate::charts::ChartEntry;
use crate::error::{io, LabError, Result};
use crate::process::{self, component_error, free_port, ProcessRecord};

/// The repository namespace charts are pushed under.
pub const CHARTS_NAMESPACE: &str = "charts";

fn registry_config(port: u16, data: &Path) -> String {
    format!(
        "# Written by flotilla lab.\n\
version: 0.1\n\
log:\n  level: warn\n  accesslog:\n    disabled: true\n\
storage:\n  filesystem:\n    rootdirectory: {data}\n  delete:\n    enabled: true\n\
http:\n  addr: 127.0.0.1:{port}\n  secret: flotilla-lab\n  relativeurls: true\n\
health:\n  storagedriver:\n    enabled: false\n",
        data = data.display()
    )
}

/// Starts the registry (or keeps the one running at `previous`) and waits
/// until `/v2/` answers.
pub async fn up(
    lab_dir: &Path,
    previous: Option<ProcessRecord>,
    assets: &Assets,
    timeout: Duration,
) -> Result<ProcessRecord> {
    let dir = lab_dir.join("registry");
    let run_dir = dir.join("run");
    let previous = ProcessRecord::load(&run_dir, "registry").or(previous);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .no_proxy()
        .build()
        .map_err(|e| LabError::Registry {
            addr: String::new(),
            message: format!("building an HTTP client: {e}"),
        })?;
    if let Some(p) = &previous {
        if p.is_alive() && answers(&client, &p.address).await {
            return Ok(p.clone());
        }
        process::stop(p, Duration::from_secs(5));
    }
    let data = dir.join("data");
    fs::create_dir_all(&data).map_err(io("creating", &data))?;
    let port = free_port(previous.as_ref().and_then(|p| p.ports.first().copied()))?;
    let config = dir.join("config.yml");
    fs::write(&config, registry_config(port, &data)).map_err(io("writing", &config))?;
    let bin = assets.path("registry")?.to_path_buf();
    let log = dir.join("logs").join("registry.log");
    let args = vec!["serve".to_string(), config.display().to_string()];
    // No tracing exporter: the registry would otherwise try OTLP on loopback.
    let env = [("OTEL_TRACES_EXPORTER".to_string(), "none".to_string())];
    let pid = process::spawn("registry", "lab", &bin, &args, &env, &log)?;
    let rec = ProcessRecord {
        component: "registry".into(),
        pid,
        binary: bin,
        log,
        address: format!("http://127.0.0.1:{port}"),
        ports: vec![port],
    };
    rec.save(&run_dir)?;
    let start = Instant::now();
    loop {
        if answers(&client, &rec.address).await {
            return Ok(rec);
        }
        if !rec.is_alive() {
            return Err(component_error(
                "registry",
                "lab",
                "exited while starting".into(),
                &rec.log,
            ));
        }
        if start.elapsed() > timeout {
            return Err(component_error(
                "registry",
                "lab",
                format!(
                    "was not ready after {}s ({}/v2/)",
                    timeout.as_secs(),
                    rec.address
                ),
                &rec.log,
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn answers(client: &reqwest::Client, address: &str) -> bool {
    matches!(client.get(format!("{address}/v2/")).send().await, Ok(r) if r.status().is_success())
}

/// `oci://127.0.0.1:PORT/charts`, what `helm pull`/`helm install` take with
/// `/<name> --version <version>`.
pub fn oci_base(address: &str) -> String {
    format!(
        "oci://{}/{CHARTS_NAMESPACE}",
        address.trim_start_matches("http://")
    )
}

/// Helm's OCI tag for a chart version (`+` is not allowed in tags).
pub fn oci_tag(version: &str) -> String {
    version.replace('+', "_")
}

/// Pushes each chart to the registry with `helm push --plain-http`, skipping
/// those whose tag is already there. Returns the references
/// (`oci://127.0.0.1:PORT/charts/<name>:<version>`).
pub async fn push_charts(
    lab_dir: &Path,
    address: &str,
    charts: &[ChartEntry],
    assets: &Assets,
) -> Result<Vec<String>> {
    let helm = assets.path("helm")?.to_path_buf();
    let home = lab_dir.join("registry").join("helm");
    fs::create_dir_all(&home).map_err(io("creating", &home))?;
    let host = address.trim_start_matches("http://");
    let rerr = |message: String| LabError::Registry {
        addr: address.to_string(),
        message,
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .no_proxy()
        .build()
        .map_err(|e| rerr(format!("building an HTTP client: {e}")))?;
    let mut refs = Vec::new();
    for c in charts {
        let tag = oci_tag(&c.version);
        let reference = format!("{}/{}:{tag}", oci_base(address), c.name);
        let manifest = format!("{address}/v2/{CHARTS_NAMESPACE}/{}/manifests/{tag}", c.name);
        let present = client
            .head(&manifest)
            .header("Accept", "application/vnd.oci.image.manifest.v1+json")
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if present {
            refs.push(reference);
            continue;
        }
        let out = tokio::process::Command::new(&helm)
            .arg("push")
            .arg(&c.archive)
            .arg(oci_base(address))
            .arg("--plain-http")
            .env("HELM_REGISTRY_CONFIG", home.join("registry.json"))
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"))
            .env("NO_PROXY", host)
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| rerr(format!("running {}: {e}", helm.display())))?;
        if !out.status.success() {
            return Err(rerr(format!(
                "helm push {} failed ({}): {}",
                c.archive.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        refs.push(reference);
    }
    Ok(refs)
}

/// Where the registry keeps its data.
pub fn data_dir(lab_dir: &Path) -> PathBuf {
    lab_dir.join("registry").join("data")
}
