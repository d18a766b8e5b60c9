//! A lab: one or more Kubernetes regions, and optionally OpenBao, running on
//! loopback under `$FLOTILLA_HOME/lab`.

use std::collections::BTreeMap;
use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams, PostParams};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::assets::Assets;
use crate::error::{io, LabError, Result};
use crate::kubeconfig;
use crate::openbao::{self, OpenBaoInfo};
use crate::pki::{self, Ca};
use crate::process::{self, component_error, free_port, ProcessRecord};

/// Components of a region, in start order.
pub const REGION_COMPONENTS: [&str; 5] = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
];

/// kwok Stages that play a cloud's load balancer: an Ingress, and a Service
/// of type LoadBalancer, get `status.loadBalancer.ingress: [{ip: 127.0.0.1}]`
/// as soon as they exist, so they become Healthy as on a cloud (Argo CD and
/// Flotilla call them Progressing until they have an address). Given to kwok
/// with `--config`; its default Node and Pod stages still apply, as they do
/// when no Stage names those kinds.
const KWOK_LOAD_BALANCER_STAGES: &str = r#"apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: ingress-load-balancer
spec:
  resourceRef:
    apiGroup: networking.k8s.io/v1
    kind: Ingress
  selector:
    matchExpressions:
    - key: .metadata.deletionTimestamp
      operator: DoesNotExist
    - key: .status.loadBalancer.ingress
      operator: DoesNotExist
  next:
    patches:
    - subresource: status
      root: status
      type: merge
      template: |
        loadBalancer:
          ingress:
          - ip: 127.0.0.1
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: service-load-balancer
spec:
  resourceRef:
    apiGroup: v1
    kind: Service
  selector:
    matchExpressions:
    - key: .metadata.deletionTimestamp
      operator: DoesNotExist
    - key: .spec.type
      operator: In
      values:
      - LoadBalancer
    - key: .status.loadBalancer.ingress
      operator: DoesNotExist
  next:
    patches:
    - subresource: status
      root: status
      type: merge
      template: |
        loadBalancer:
          ingress:
          - ip: 127.0.0.1
"#;

/// How a lab is brought up.
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// Region names; each becomes a context `lab-<region>`.
    pub regions: Vec<String>,
    /// Also run OpenBao.
    pub vault: bool,
    /// Simulated nodes per region.
    pub nodes: usize,
    /// How long each component may take to become ready.
    pub ready_timeout: Duration,
    /// Directories served as one Helm chart repository (see
    /// [`crate::charts`]) and pushed to the OCI registry.
    pub charts: Vec<PathBuf>,
    /// Require this basic-auth user and password on the chart repository.
    pub charts_auth: Option<(String, String)>,
    /// Run the OCI registry even without `charts`.
    pub registry: bool,
    /// How to run the chart repository as a lab process (the `flotilla`
    /// binary's `lab serve-charts`); `None` leaves serving it to the caller,
    /// as [`crate::TestLab`] does in its own process.
    pub chart_server: Option<crate::charts::ServeCommand>,
    /// WAN latency: a TCP proxy with this delay in front of each region's
    /// API server that the plan gives a latency (see [`crate::latency`]),
    /// and the lab kubeconfig pointing at it. `None` keeps the latency each
    /// region has (restarting its proxy if it died or its API server
    /// moved); a plan that gives a region no latency removes its proxy.
    pub latency: Option<crate::latency::LatencyPlan>,
    /// How to run a latency proxy as a lab process (the `flotilla` binary's
    /// `lab proxy`); `None` leaves serving them to the caller, as
    /// [`crate::TestLab`] does in its own process. A proxy the caller served
    /// is kept while it still fits (same API server address and latency),
    /// else dropped (the region is then reached directly).
    pub proxy_server: Option<crate::charts::ServeCommand>,
}

impl Default for UpOptions {
    fn default() -> Self {
        Self {
            regions: vec!["us-east-2".into(), "us-west-2".into()],
            vault: false,
            nodes: 2,
            ready_timeout: Duration::from_secs(120),
            charts: Vec::new(),
            charts_auth: None,
            registry: false,
            chart_server: None,
            latency: None,
            proxy_server: None,
        }
    }
}

/// One region as recorded in the state file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RegionState {
    /// Region name.
    pub name: String,
    /// The URL clients use, as the lab kubeconfig has it: its latency
    /// proxy's when it has one, else the API server's.
    pub server: String,
    /// Its processes, in start order.
    pub processes: Vec<ProcessRecord>,
    /// Its WAN-latency proxy, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<crate::latency::ProxyState>,
}

impl RegionState {
    fn process(&self, component: &str) -> Option<&ProcessRecord> {
        self.processes.iter().find(|p| p.component == component)
    }

    /// The API server's own URL (`https://127.0.0.1:PORT`), which the lab's
    /// components use; clients use [`Self::server`].
    pub fn apiserver(&self) -> Option<&str> {
        self.process("kube-apiserver").map(|p| p.address.as_str())
    }
}

/// What `lab.json` holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct LabState {
    /// Regions by name.
    pub regions: BTreeMap<String, RegionState>,
    /// OpenBao, when the lab runs it.
    #[serde(default)]
    pub openbao: Option<ProcessRecord>,
    /// The OCI registry, when the lab runs it.
    #[serde(default)]
    pub registry: Option<ProcessRecord>,
    /// The chart repository, when the lab serves one.
    #[serde(default)]
    pub charts: Option<crate::charts::ChartsState>,
}

/// State of one component, as `flotilla lab status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentStatus {
    /// Region name, or `lab` for OpenBao.
    pub scope: String,
    /// Component name.
    pub component: String,
    /// `running`, `unhealthy` or `stopped`.
    pub state: String,
    /// Address it serves.
    pub address: String,
    /// Process id.
    pub pid: u32,
    /// Resident memory in bytes, when running.
    pub rss_bytes: Option<u64>,
    /// Its log file.
    pub log: PathBuf,
    /// More about it, when there is more to say (a latency proxy's latency
    /// and upstream: `80ms ±10ms to 127.0.0.1:PORT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A lab rooted at `$FLOTILLA_HOME/lab`.
#[derive(Debug, Clone)]
pub struct Lab {
    dir: PathBuf,
}

/// Validates a region name (it becomes a path component and a context name).
pub fn validate_region(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 40
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(LabError::InvalidRegion(name.to_string()))
    }
}

/// `$FLOTILLA_HOME`, else `~/.flotilla`.
pub fn flotilla_home() -> PathBuf {
    std::env::var_os("FLOTILLA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".flotilla")))
        .unwrap_or_else(|| PathBuf::from(".flotilla"))
}

fn http_client(ca: Option<&Path>) -> Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .no_proxy();
    match ca {
        Some(path) => {
            let pem = fs::read(path).map_err(io("reading", path))?;
            let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| LabError::State {
                path: path.to_path_buf(),
                message: format!("not a PEM certificate: {e}"),
            })?;
            b = b.add_root_certificate(cert);
        }
        None => b = b.danger_accept_invalid_certs(true),
    }
    b.build().map_err(|e| LabError::State {
        path: PathBuf::new(),
        message: format!("building an HTTP client: {e}"),
    })
}

/// Whether `url` answers 200 now.
async fn healthy(client: &reqwest::Client, url: &str) -> bool {
    matches!(client.get(url).send().await, Ok(r) if r.status().is_success())
}

async fn wait_healthy(
    client: &reqwest::Client,
    rec: &ProcessRecord,
    scope: &str,
    url: &str,
    timeout: Duration,
) -> Result<()> {
    let start = Instant::now();
    loop {
        if healthy(client, url).await {
            return Ok(());
        }
        if !rec.is_alive() {
            return Err(component_error(
                &rec.component,
                scope,
                "exited while starting".into(),
                &rec.log,
            ));
        }
        if start.elapsed() > timeout {
            return Err(component_error(
                &rec.component,
                scope,
                format!("was not ready after {}s ({url})", timeout.as_secs()),
                &rec.log,
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn health_url(rec: &ProcessRecord) -> String {
    match rec.component.as_str() {
        "etcd" => format!("{}/health", rec.address),
        "kube-apiserver" => format!("{}/readyz", rec.address),
        "openbao" => format!("{}/v1/sys/health", rec.address),
        "registry" => format!("{}/v2/", rec.address),
        "charts" => format!("{}/healthz", rec.address),
        _ => format!("{}/healthz", rec.address),
    }
}

impl Lab {
    /// The lab under `home` (a `$FLOTILLA_HOME`).
    pub fn new(home: impl Into<PathBuf>) -> Self {
        Self {
            dir: home.into().join("lab"),
        }
    }

    /// The lab under `$FLOTILLA_HOME` (default `~/.flotilla`).
    pub fn from_env() -> Self {
        Self::new(flotilla_home())
    }

    /// The lab directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The kubeconfig with one context `lab-<region>` per region.
    pub fn kubeconfig_path(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    /// Directory with the lab's kubectl, kustomize, helm and bao.
    pub fn bin_dir(&self) -> PathBuf {
        self.dir.join("bin")
    }

    /// The lab CA certificate.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.join("pki/ca.crt")
    }

    fn state_path(&self) -> PathBuf {
        self.dir.join("lab.json")
    }

    /// The recorded state, if a lab was brought up here.
    pub fn state(&self) -> Result<Option<LabState>> {
        let path = self.state_path();
        match fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| LabError::State {
                    path,
                    message: e.to_string(),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("reading", path)(e)),
        }
    }

    pub(crate) fn save(&self, state: &LabState) -> Result<()> {
        let path = self.state_path();
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(state).map_err(|e| LabError::State {
            path: path.clone(),
            message: e.to_string(),
        })?;
        fs::write(&tmp, text).map_err(io("writing", &tmp))?;
        fs::rename(&tmp, &path).map_err(io("writing", &path))
    }

    pub(crate) fn lock(&self) -> Result<fs::File> {
        fs::create_dir_all(&self.dir).map_err(io("creating", &self.dir))?;
        let path = self.dir.join(".lock");
        let f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io("opening", &path))?;
        f.lock().map_err(io("locking", &path))?;
        Ok(f)
    }

    /// Brings the lab up: starts whatever is not running (all of it the first
    /// time; only what died after a crash), reusing ports when they are
    /// still free. Idempotent. Regions start in parallel.
    pub async fn up(&self, opts: &UpOptions, assets: &Assets) -> Result<LabState> {
        for r in &opts.regions {
            validate_region(r)?;
        }
        if let Some(plan) = &opts.latency {
            plan.validate(&opts.regions)?;
        }
        let _lock = self.lock()?;
        let mut state = self.state()?.unwrap_or_default();
        let previous_proxies: BTreeMap<String, crate::latency::ProxyState> = state
            .regions
            .iter()
            .filter_map(|(name, r)| r.proxy.clone().map(|p| (name.clone(), p)))
            .collect();
        assets.link_into(&self.bin_dir())?;
        let ca = Ca::load_or_create(&self.dir.join("pki"))?;
        drop(ca);

        let mut tasks = Vec::new();
        for name in &opts.regions {
            let lab = self.clone();
            let previous = state.regions.get(name).cloned();
            let name = name.clone();
            let opts = opts.clone();
            let assets = assets.clone();
            tasks.push(tokio::spawn(async move {
                lab.region_up(&name, previous, &opts, &assets).await
            }));
        }
        let mut first_err = None;
        let mut started = Vec::new();
        for t in tasks {
            match t.await {
                Ok(Ok(region)) => {
                    started.push(region.name.clone());
                    state.regions.insert(region.name.clone(), region);
                }
                Ok(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                Err(join) => {
                    first_err.get_or_insert(LabError::State {
                        path: self.state_path(),
                        message: format!("a region task failed: {join}"),
                    });
                }
            }
        }
        // A region that failed keeps its old record (and proxy).
        let proxies =
            crate::lab_latency::proxies_up(self, &mut state, &started, previous_proxies, opts)
                .await;
        if let Err(e) = proxies {
            first_err.get_or_insert(e);
        }
        // Record what runs even when a region failed, so `down` stops it.
        self.save(&state)?;
        self.write_kubeconfig(&state)?;
        if let Some(e) = first_err {
            return Err(e);
        }
        if opts.vault {
            let bao = openbao::up(self, state.openbao.clone(), assets, opts.ready_timeout).await;
            match bao {
                Ok(rec) => state.openbao = Some(rec),
                Err(e) => {
                    self.save(&state)?;
                    return Err(e);
                }
            }
        }
        if !opts.charts.is_empty() || opts.registry {
            let done = crate::charts::lab_up(self, &mut state, opts, assets).await;
            self.save(&state)?;
            done?;
        }
        self.save(&state)?;
        Ok(state)
    }

    pub(crate) fn region_dir(&self, region: &str) -> PathBuf {
        self.dir.join("regions").join(region)
    }

    async fn region_up(
        &self,
        region: &str,
        previous: Option<RegionState>,
        opts: &UpOptions,
        assets: &Assets,
    ) -> Result<RegionState> {
        let dir = self.region_dir(region);
        let pki_dir = dir.join("pki");
        let logs = dir.join("logs");
        fs::create_dir_all(&logs).map_err(io("creating", &logs))?;
        let ca = Ca::load_or_create(&self.dir.join("pki"))?;
        let mut ips = pki::loopback_ips();
        ips.push(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
        let serving = ca.issue(
            &pki_dir,
            "apiserver",
            "kube-apiserver",
            &[],
            &[
                "localhost",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ],
            &ips,
        )?;
        let admin = ca.issue(
            &pki_dir,
            "admin",
            "flotilla-admin",
            &["system:masters"],
            &[],
            &[],
        )?;
        let cm_cert = ca.issue(
            &pki_dir,
            "controller-manager",
            "system:kube-controller-manager",
            &[],
            &[],
            &[],
        )?;
        let sched_cert = ca.issue(
            &pki_dir,
            "scheduler",
            "system:kube-scheduler",
            &[],
            &[],
            &[],
        )?;
        let kwok_cert = ca.issue(
            &pki_dir,
            "kwok",
            "kwok-controller",
            &["system:masters"],
            &[],
            &[],
        )?;
        let (sa_key, sa_pub) = pki::service_account_key(&pki_dir)?;
        let ca_path = ca.files.cert.clone();

        let http_ca = http_client(Some(&ca_path))?;
        let http_any = http_client(None)?;
        let run_dir = dir.join("run");
        let prev = |c: &str| {
            ProcessRecord::load(&run_dir, c)
                .or_else(|| previous.as_ref().and_then(|p| p.process(c)).cloned())
        };
        let mut processes: Vec<ProcessRecord> = Vec::new();
        // When a component restarts on another address, everything above it
        // restarts too.
        let mut moved = false;

        // etcd
        let etcd = {
            let old = prev("etcd");
            let keep = match &old {
                Some(o) if o.is_alive() => healthy(&http_any, &health_url(o)).await,
                _ => false,
            };
            if keep {
                old.ok_or_else(|| LabError::State {
                    path: self.state_path(),
                    message: "etcd vanished".into(),
                })?
            } else {
                if let Some(o) = &old {
                    process::stop(o, Duration::from_secs(5));
                }
                let client = free_port(old.as_ref().and_then(|o| o.ports.first().copied()))?;
                let peer = free_port(
                    old.as_ref()
                        .and_then(|o| o.ports.get(1).copied())
                        .filter(|p| *p != client),
                )?;
                moved |= old
                    .as_ref()
                    .map(|o| o.ports.first() != Some(&client))
                    .unwrap_or(true);
                let bin = assets.path("etcd")?.to_path_buf();
                let log = logs.join("etcd.log");
                let args = vec![
                    format!("--name={region}"),
                    format!("--data-dir={}", dir.join("etcd").display()),
                    format!("--listen-client-urls=http://127.0.0.1:{client}"),
                    format!("--advertise-client-urls=http://127.0.0.1:{client}"),
                    format!("--listen-peer-urls=http://127.0.0.1:{peer}"),
                    format!("--initial-advertise-peer-urls=http://127.0.0.1:{peer}"),
                    format!("--initial-cluster={region}=http://127.0.0.1:{peer}"),
                    "--unsafe-no-fsync=true".into(),
                    "--quota-backend-bytes=4294967296".into(),
                    "--log-level=warn".into(),
                ];
                let pid = process::spawn("etcd", region, &bin, &args, &[], &log)?;
                let rec = ProcessRecord {
                    component: "etcd".into(),
                    pid,
                    binary: bin,
                    log,
                    address: format!("http://127.0.0.1:{client}"),
                    ports: vec![client, peer],
                };
                rec.save(&run_dir)?;
                wait_healthy(
                    &http_any,
                    &rec,
                    region,
                    &health_url(&rec),
                    opts.ready_timeout,
                )
                .await?;
                rec
            }
        };
        processes.push(etcd.clone());

        // kube-apiserver
        let apiserver = {
            let old = prev("kube-apiserver");
            let keep = !moved
                && match &old {
                    Some(o) if o.is_alive() => healthy(&http_ca, &health_url(o)).await,
                    _ => false,
                };
            if keep {
                old.ok_or_else(|| LabError::State {
                    path: self.state_path(),
                    message: "apiserver vanished".into(),
                })?
            } else {
                if let Some(o) = &old {
                    process::stop(o, Duration::from_secs(10));
                }
                let port = free_port(old.as_ref().and_then(|o| o.ports.first().copied()))?;
                moved |= old
                    .as_ref()
                    .map(|o| o.ports.first() != Some(&port))
                    .unwrap_or(true);
                let bin = assets.path("kube-apiserver")?.to_path_buf();
                let log = logs.join("kube-apiserver.log");
                let args = vec![
                    format!("--etcd-servers={}", etcd.address),
                    "--bind-address=127.0.0.1".into(),
                    "--advertise-address=127.0.0.1".into(),
                    format!("--secure-port={port}"),
                    format!("--cert-dir={}", dir.join("apiserver").display()),
                    format!("--tls-cert-file={}", serving.cert.display()),
                    format!("--tls-private-key-file={}", serving.key.display()),
                    format!("--client-ca-file={}", ca_path.display()),
                    "--authorization-mode=RBAC".into(),
                    "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
                    format!("--service-account-key-file={}", sa_pub.display()),
                    format!("--service-account-signing-key-file={}", sa_key.display()),
                    // Room for thousands of ClusterIP Services (a /24 ran
                    // out at about 250 per region in the controller bench).
                    "--service-cluster-ip-range=10.0.0.0/16".into(),
                    "--allow-privileged=true".into(),
                    "--endpoint-reconciler-type=none".into(),
                    "--enable-priority-and-fairness=false".into(),
                    "--profiling=false".into(),
                    "--event-ttl=1h".into(),
                ];
                let pid = process::spawn("kube-apiserver", region, &bin, &args, &[], &log)?;
                let rec = ProcessRecord {
                    component: "kube-apiserver".into(),
                    pid,
                    binary: bin,
                    log,
                    address: format!("https://127.0.0.1:{port}"),
                    ports: vec![port],
                };
                rec.save(&run_dir)?;
                wait_healthy(
                    &http_ca,
                    &rec,
                    region,
                    &health_url(&rec),
                    opts.ready_timeout,
                )
                .await?;
                rec
            }
        };
        processes.push(apiserver.clone());
        let server = apiserver.address.clone();

        // Component kubeconfigs (file references to certificates).
        let kc_dir = dir.join("kubeconfigs");
        let ca_pem = fs::read_to_string(&ca_path).map_err(io("reading", &ca_path))?;
        let write_kc = |name: &str, cert: &pki::CertFiles| -> Result<PathBuf> {
            let path = kc_dir.join(format!("{name}.yaml"));
            let text = kubeconfig::render(
                &[kubeconfig::Entry {
                    name: &format!("lab-{region}"),
                    server: &server,
                    ca_pem: &ca_pem,
                    cert_pem: &cert.cert_pem()?,
                    key_pem: &cert.key_pem()?,
                    namespace: None,
                }],
                None,
            )?;
            kubeconfig::write(&path, &text)?;
            Ok(path)
        };
        let cm_kc = write_kc("kube-controller-manager", &cm_cert)?;
        let sched_kc = write_kc("kube-scheduler", &sched_cert)?;
        let kwok_kc = write_kc("kwok", &kwok_cert)?;
        let admin_kc = write_kc("admin", &admin)?;
        let kwok_config = dir.join("kwok.yaml");
        fs::write(&kwok_config, KWOK_LOAD_BALANCER_STAGES).map_err(io("writing", &kwok_config))?;

        // Simulated nodes (kwok manages the ones annotated as fake).
        let client = client_for(&admin_kc, &format!("lab-{region}"), region).await?;
        ensure_nodes(&client, region, opts.nodes).await?;

        let upper: [(&str, PathBuf, Vec<String>); 3] = [
            (
                "kube-controller-manager",
                cm_kc.clone(),
                vec![
                    format!("--kubeconfig={}", cm_kc.display()),
                    format!("--authentication-kubeconfig={}", cm_kc.display()),
                    format!("--authorization-kubeconfig={}", cm_kc.display()),
                    format!("--cert-dir={}", dir.join("controller-manager").display()),
                    "--leader-elect=false".into(),
                    "--use-service-account-credentials=true".into(),
                    format!("--service-account-private-key-file={}", sa_key.display()),
                    format!("--root-ca-file={}", ca_path.display()),
                    format!("--cluster-signing-cert-file={}", ca_path.display()),
                    format!("--cluster-signing-key-file={}", ca.files.key.display()),
                    format!("--cluster-name=lab-{region}"),
                    // PersistentVolumes for claims of the lab's StorageClasses
                    // (hostPath directories under /tmp/hostpath_pv).
                    "--enable-hostpath-provisioner=true".into(),
                    "--profiling=false".into(),
                ],
            ),
            (
                "kube-scheduler",
                sched_kc.clone(),
                vec![
                    format!("--kubeconfig={}", sched_kc.display()),
                    format!("--authentication-kubeconfig={}", sched_kc.display()),
                    format!("--authorization-kubeconfig={}", sched_kc.display()),
                    format!("--cert-dir={}", dir.join("scheduler").display()),
                    "--leader-elect=false".into(),
                    "--profiling=false".into(),
                ],
            ),
            (
                "kwok",
                kwok_kc.clone(),
                vec![
                    format!("--kubeconfig={}", kwok_kc.display()),
                    format!("--config={}", kwok_config.display()),
                    "--manage-all-nodes=false".into(),
                    "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake".into(),
                    "--manage-nodes-with-label-selector=".into(),
                    "--cidr=10.244.0.1/16".into(),
                    "--node-ip=10.0.0.2".into(),
                    // Node leases keep simulated nodes Ready when the machine
                    // is saturated (status heartbeats alone lapsed under load).
                    "--node-lease-duration-seconds=40".into(),
                ],
            ),
        ];
        let mut starting = Vec::new();
        for (component, _kc, mut args) in upper {
            let old = prev(component);
            let keep = !moved
                && match &old {
                    Some(o) if o.is_alive() => healthy(&http_any, &health_url(o)).await,
                    _ => false,
                };
            if keep {
                if let Some(o) = old {
                    processes.push(o);
                }
                continue;
            }
            if let Some(o) = &old {
                process::stop(o, Duration::from_secs(5));
            }
            let port = free_port(old.as_ref().and_then(|o| o.ports.first().copied()))?;
            let (address, port_args) = if component == "kwok" {
                (
                    format!("http://127.0.0.1:{port}"),
                    vec![format!("--server-address=127.0.0.1:{port}")],
                )
            } else {
                (
                    format!("https://127.0.0.1:{port}"),
                    vec![
                        "--bind-address=127.0.0.1".to_string(),
                        format!("--secure-port={port}"),
                    ],
                )
            };
            args.extend(port_args);
            let bin = assets.path(component)?.to_path_buf();
            let log = logs.join(format!("{component}.log"));
            let pid = process::spawn(component, region, &bin, &args, &[], &log)?;
            let rec = ProcessRecord {
                component: component.into(),
                pid,
                binary: bin,
                log,
                address,
                ports: vec![port],
            };
            rec.save(&run_dir)?;
            processes.push(rec.clone());
            starting.push(rec);
        }
        for rec in &starting {
            wait_healthy(&http_any, rec, region, &health_url(rec), opts.ready_timeout).await?;
        }
        wait_nodes_ready(&client, region, opts.nodes, opts.ready_timeout).await?;
        crate::storage::ensure_classes(&client, region).await?;
        Ok(RegionState {
            name: region.to_string(),
            server,
            processes,
            proxy: None,
        })
    }

    pub(crate) fn write_kubeconfig(&self, state: &LabState) -> Result<()> {
        let ca_path = self.ca_path();
        let ca_pem = fs::read_to_string(&ca_path).map_err(io("reading", &ca_path))?;
        let mut owned = Vec::new();
        for (name, region) in &state.regions {
            let pki_dir = self.region_dir(name).join("pki");
            let cert_path = pki_dir.join("admin.crt");
            let key_path = pki_dir.join("admin.key");
            let cert = fs::read_to_string(&cert_path).map_err(io("reading", &cert_path))?;
            let key = fs::read_to_string(&key_path).map_err(io("reading", &key_path))?;
            owned.push((format!("lab-{name}"), region.server.clone(), cert, key));
        }
        let entries: Vec<kubeconfig::Entry<'_>> = owned
            .iter()
            .map(|(ctx, server, cert, key)| kubeconfig::Entry {
                name: ctx,
                server,
                ca_pem: &ca_pem,
                cert_pem: cert,
                key_pem: key,
                namespace: None,
            })
            .collect();
        let text = kubeconfig::render(&entries, None)?;
        kubeconfig::write(&self.kubeconfig_path(), &text)
    }

    /// A `kube::Client` for one region, through the lab kubeconfig.
    pub async fn client(&self, region: &str) -> Result<kube::Client> {
        let state = self
            .state()?
            .ok_or_else(|| LabError::NotRunning(self.dir.clone()))?;
        if !state.regions.contains_key(region) {
            return Err(LabError::UnknownRegion(
                region.to_string(),
                state.regions.keys().cloned().collect::<Vec<_>>().join(", "),
            ));
        }
        client_for(&self.kubeconfig_path(), &format!("lab-{region}"), region).await
    }

    /// Each component's state, address, pid and memory.
    pub async fn status(&self) -> Result<Vec<ComponentStatus>> {
        let state = self
            .state()?
            .ok_or_else(|| LabError::NotRunning(self.dir.clone()))?;
        let ca = self.ca_path();
        let http_ca = http_client(Some(&ca))?;
        let http_any = http_client(None)?;
        let mut out = Vec::new();
        let mut all: Vec<(String, ProcessRecord, Option<String>)> = Vec::new();
        for (name, region) in &state.regions {
            for p in &region.processes {
                all.push((name.clone(), p.clone(), None));
            }
            if let Some(proxy) = &region.proxy {
                if let Some(p) = &proxy.process {
                    let detail = format!("{} to {}", proxy.latency, proxy.upstream);
                    all.push((name.clone(), p.clone(), Some(detail)));
                }
            }
        }
        if let Some(b) = &state.openbao {
            all.push(("lab".into(), b.clone(), None));
        }
        if let Some(r) = &state.registry {
            all.push(("lab".into(), r.clone(), None));
        }
        if let Some(p) = state.charts.as_ref().and_then(|c| c.process.clone()) {
            all.push(("lab".into(), p, None));
        }
        for (scope, p, detail) in all {
            let alive = p.is_alive();
            let client = if p.component == "kube-apiserver" || p.component == "openbao" {
                &http_ca
            } else {
                &http_any
            };
            let serving = if p.component == crate::lab_latency::PROXY_COMPONENT {
                // A TCP proxy: it serves when it accepts connections.
                crate::lab_latency::accepts(&p.address).await
            } else {
                healthy(client, &health_url(&p)).await
            };
            let state = if !alive {
                "stopped"
            } else if serving {
                "running"
            } else {
                "unhealthy"
            };
            out.push(ComponentStatus {
                scope,
                component: p.component.clone(),
                state: state.into(),
                address: p.address.clone(),
                pid: p.pid,
                rss_bytes: if alive {
                    process::rss_bytes(p.pid)
                } else {
                    None
                },
                log: p.log.clone(),
                detail,
            });
        }
        Ok(out)
    }

    /// OpenBao's address and root token, when the lab runs it.
    pub fn openbao(&self) -> Result<Option<OpenBaoInfo>> {
        let state = self
            .state()?
            .ok_or_else(|| LabError::NotRunning(self.dir.clone()))?;
        match state.openbao {
            Some(rec) => openbao::info(self, &rec).map(Some),
            None => Ok(None),
        }
    }

    /// The variables `flotilla lab env` exports: `KUBECONFIG`, `PATH` with the
    /// lab's binaries first, `VAULT_ADDR`, `VAULT_TOKEN`, `VAULT_CACERT`
    /// when OpenBao runs, `FLOTILLA_LAB_CHARTS` (the chart repository URL)
    /// when it serves charts, and `FLOTILLA_LAB_REGISTRY` (`127.0.0.1:PORT`)
    /// and `FLOTILLA_LAB_OCI` (`oci://127.0.0.1:PORT/charts`) when the OCI
    /// registry runs.
    pub fn env(&self) -> Result<Vec<(String, String)>> {
        let state = self
            .state()?
            .ok_or_else(|| LabError::NotRunning(self.dir.clone()))?;
        let mut vars = vec![(
            "KUBECONFIG".to_string(),
            self.kubeconfig_path().display().to_string(),
        )];
        let path = std::env::var("PATH").unwrap_or_default();
        let bin = self.bin_dir().display().to_string();
        let rest: Vec<&str> = path
            .split(':')
            .filter(|p| *p != bin && !p.is_empty())
            .collect();
        vars.push((
            "PATH".into(),
            std::iter::once(bin.as_str())
                .chain(rest)
                .collect::<Vec<_>>()
                .join(":"),
        ));
        if let Some(rec) = &state.openbao {
            let info = openbao::info(self, rec)?;
            vars.push(("VAULT_ADDR".into(), info.addr));
            vars.push(("VAULT_TOKEN".into(), info.root_token));
            vars.push(("VAULT_CACERT".into(), info.ca_cert.display().to_string()));
        }
        if let Some(c) = state.charts.as_ref().filter(|c| !c.url.is_empty()) {
            vars.push(("FLOTILLA_LAB_CHARTS".into(), c.url.clone()));
        }
        if let Some(r) = &state.registry {
            vars.push((
                "FLOTILLA_LAB_REGISTRY".into(),
                r.address.trim_start_matches("http://").to_string(),
            ));
            vars.push((
                "FLOTILLA_LAB_OCI".into(),
                crate::registry::oci_base(&r.address),
            ));
        }
        Ok(vars)
    }

    /// Stops every process of the lab and removes its directory. Blocking;
    /// safe to call when nothing runs.
    pub fn down(&self) -> Result<()> {
        if !self.dir.exists() {
            return Ok(());
        }
        let _lock = self.lock()?;
        if let Ok(Some(state)) = self.state() {
            let mut handles = Vec::new();
            for region in state.regions.into_values() {
                handles.push(std::thread::spawn(move || {
                    // Clients' way in first.
                    if let Some(p) = region.proxy.as_ref().and_then(|p| p.process.as_ref()) {
                        process::stop(p, Duration::from_secs(10));
                    }
                    for p in region.processes.iter().rev() {
                        process::stop(p, Duration::from_secs(10));
                    }
                }));
            }
            if let Some(b) = &state.openbao {
                process::stop(b, Duration::from_secs(10));
            }
            if let Some(r) = &state.registry {
                process::stop(r, Duration::from_secs(10));
            }
            if let Some(p) = state.charts.as_ref().and_then(|c| c.process.as_ref()) {
                process::stop(p, Duration::from_secs(10));
            }
            for h in handles {
                let _ = h.join();
            }
        }
        // Anything started but never recorded in lab.json (a crash mid-up).
        let regions = self.dir.join("regions");
        if let Ok(entries) = fs::read_dir(&regions) {
            for e in entries.filter_map(|e| e.ok()) {
                for p in ProcessRecord::load_all(&e.path().join("run")) {
                    process::stop(&p, Duration::from_secs(10));
                }
            }
        }
        for service in ["openbao", "registry", "charts"] {
            for p in ProcessRecord::load_all(&self.dir.join(service).join("run")) {
                process::stop(&p, Duration::from_secs(10));
            }
        }
        fs::remove_dir_all(&self.dir).map_err(io("removing", &self.dir))
    }
}

/// Installs rustls' `ring` provider as the process default when none is set.
/// Needed once a build links more than one rustls provider (kube then refuses
/// to pick one); harmless otherwise.
pub fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

async fn client_for(kubeconfig: &Path, context: &str, region: &str) -> Result<kube::Client> {
    ensure_crypto_provider();
    let kerr = |m: String| LabError::Kube {
        region: region.to_string(),
        message: m,
    };
    let kc = kube::config::Kubeconfig::read_from(kubeconfig)
        .map_err(|e| kerr(format!("reading {}: {e}", kubeconfig.display())))?;
    let opts = kube::config::KubeConfigOptions {
        context: Some(context.to_string()),
        ..Default::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kc, &opts)
        .await
        .map_err(|e| {
            kerr(format!(
                "context {context} in {}: {e}",
                kubeconfig.display()
            ))
        })?;
    kube::Client::try_from(config).map_err(|e| kerr(format!("client for {context}: {e}")))
}

fn node_name(region: &str, i: usize) -> String {
    format!("kwok-{region}-{i}")
}

async fn ensure_nodes(client: &kube::Client, region: &str, count: usize) -> Result<()> {
    let api: Api<Node> = Api::all(client.clone());
    for i in 0..count {
        let name = node_name(region, i);
        let node: Node = serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "annotations": {
                    "kwok.x-k8s.io/node": "fake",
                    "node.alpha.kubernetes.io/ttl": "0",
                },
                "labels": {
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "kubernetes.io/role": "agent",
                    "node-role.kubernetes.io/agent": "",
                    "type": "kwok",
                    "topology.kubernetes.io/region": region,
                    "topology.kubernetes.io/zone": format!("{region}a"),
                },
            },
            "status": {
                "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                "nodeInfo": {
                    "architecture": "amd64",
                    "kubeletVersion": "fake",
                    "kubeProxyVersion": "fake",
                    "operatingSystem": "linux",
                },
                "phase": "Running",
            },
        }))
        .map_err(|e| LabError::Kube {
            region: region.to_string(),
            message: format!("node manifest: {e}"),
        })?;
        match api.create(&PostParams::default(), &node).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => {
                return Err(LabError::Kube {
                    region: region.to_string(),
                    message: format!("creating node {name}: {e}"),
                })
            }
        }
    }
    Ok(())
}

async fn wait_nodes_ready(
    client: &kube::Client,
    region: &str,
    count: usize,
    timeout: Duration,
) -> Result<()> {
    let api: Api<Node> = Api::all(client.clone());
    let start = Instant::now();
    let mut last: String;
    loop {
        match api.list(&ListParams::default().labels("type=kwok")).await {
            Ok(list) => {
                let ready = list
                    .items
                    .iter()
                    .filter(|n| {
                        n.status
                            .as_ref()
                            .and_then(|s| s.conditions.as_ref())
                            .is_some_and(|cs| {
                                cs.iter().any(|c| c.type_ == "Ready" && c.status == "True")
                            })
                    })
                    .count();
                if ready >= count {
                    return Ok(());
                }
                last = format!("{ready} of {count} nodes Ready");
            }
            Err(e) => last = e.to_string(),
        }
        if start.elapsed() > timeout {
            return Err(LabError::Kube {
                region: region.to_string(),
                message: format!(
                    "simulated nodes not Ready after {}s: {last}",
                    timeout.as_secs()
                ),
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_names_are_checked() {
        for ok in ["us-east-2", "a", "eu1"] {
            validate_region(ok).unwrap();
        }
        for bad in ["", "US", "1a", "a/b", "a b", "../x"] {
            assert!(validate_region(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn kwok_stages_give_ingresses_and_load_balancers_an_address() {
        let docs: Vec<serde_json::Value> =
            serde_yaml_ng::Deserializer::from_str(KWOK_LOAD_BALANCER_STAGES)
                .map(|d| serde::Deserialize::deserialize(d).unwrap())
                .collect();
        let refs: Vec<(&str, &str)> = docs
            .iter()
            .map(|d| {
                assert_eq!(d["kind"], "Stage");
                let r = &d["spec"]["resourceRef"];
                (r["apiGroup"].as_str().unwrap(), r["kind"].as_str().unwrap())
            })
            .collect();
        assert_eq!(
            refs,
            [("networking.k8s.io/v1", "Ingress"), ("v1", "Service")]
        );
        for d in &docs {
            let patch = &d["spec"]["next"]["patches"][0];
            assert_eq!(patch["subresource"], "status");
            let status: serde_json::Value =
                serde_yaml_ng::from_str(patch["template"].as_str().unwrap()).unwrap();
            assert_eq!(status["loadBalancer"]["ingress"][0]["ip"], "127.0.0.1");
        }
    }

    #[test]
    fn a_lab_with_no_state_is_not_running() {
        let tmp = tempfile::tempdir().unwrap();
        let lab = Lab::new(tmp.path());
        assert!(lab.state().unwrap().is_none());
        assert!(matches!(lab.env(), Err(LabError::NotRunning(_))));
        lab.down().unwrap();
    }
}
