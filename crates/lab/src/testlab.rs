//! A lab for Rust tests: started in a temporary `$FLOTILLA_HOME`, stopped and
//! removed when dropped, also when the test panics.
//!
//! ```no_run
//! # async fn f() -> Result<(), flotilla_lab::LabError> {
//! let lab = flotilla_lab::TestLab::start(&["a", "b"], false).await?;
//! let client = lab.client("a").await?;
//!
//! // With a chart repository (served in the test's process) and the OCI
//! // registry the charts are pushed to.
//! let lab = flotilla_lab::TestLab::builder(&["a"])
//!     .charts("../shared/charts")
//!     .charts_basic_auth("ci", "s3cret")
//!     .start()
//!     .await?;
//! let index = format!("{}/index.yaml", lab.charts_url().unwrap());
//!
//! // With WAN latency: 80ms round trip (±10ms) to every region, 150ms to
//! // `b`, through proxies served on a thread of the test's process; the lab
//! // kubeconfig (and so `client`) goes through them.
//! use std::time::Duration;
//! let lab = flotilla_lab::TestLab::builder(&["a", "b"])
//!     .latency(Duration::from_millis(80))
//!     .jitter(Duration::from_millis(10))
//!     .region_latency("b", Duration::from_millis(150))
//!     .start()
//!     .await?;
//! let proxy = lab.latency_proxy("a").unwrap();
//! assert_eq!(lab.state().regions["a"].server, proxy.address);
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::assets::{self, AssetOptions, QuietProgress};
use crate::charts::{ChartServer, ChartServerOptions};
use crate::error::{LabError, Result};
use crate::lab::{Lab, LabState, UpOptions};
use crate::latency::{LatencyPlan, LatencyProxy, ProxyOptions, ProxyState};
use crate::openbao::OpenBaoInfo;

/// A running lab owned by a test.
pub struct TestLab {
    lab: Lab,
    state: LabState,
    charts: Option<ChartServer>,
    proxies: Option<ProxyThread>,
    _home: tempfile::TempDir,
}

/// Options of a [`TestLab`], from [`TestLab::builder`].
#[derive(Debug, Clone)]
pub struct TestLabBuilder {
    opts: UpOptions,
}

impl TestLabBuilder {
    /// Also run OpenBao.
    pub fn vault(mut self) -> Self {
        self.opts.vault = true;
        self
    }

    /// Serve this directory as (part of) the chart repository and push its
    /// charts to the OCI registry; may be given several times (see
    /// [`crate::charts`] for what a directory may hold).
    pub fn charts(mut self, dir: impl Into<PathBuf>) -> Self {
        self.opts.charts.push(dir.into());
        self
    }

    /// Require basic authentication on the chart repository.
    pub fn charts_basic_auth(mut self, user: &str, password: &str) -> Self {
        self.opts.charts_auth = Some((user.to_string(), password.to_string()));
        self
    }

    /// Run the OCI registry (implied by [`Self::charts`]).
    pub fn registry(mut self) -> Self {
        self.opts.registry = true;
        self
    }

    /// Simulated nodes per region.
    pub fn nodes(mut self, n: usize) -> Self {
        self.opts.nodes = n;
        self
    }

    /// WAN latency to every region (a round trip, like ping's: each
    /// direction is delayed by half), through a proxy in front of each API
    /// server that the lab kubeconfig points at (see [`crate::latency`]).
    pub fn latency(mut self, round_trip: Duration) -> Self {
        self.plan().latency.default = Some(round_trip);
        self
    }

    /// WAN latency to one region, instead of [`Self::latency`]'s.
    pub fn region_latency(mut self, region: &str, round_trip: Duration) -> Self {
        self.plan()
            .latency
            .regions
            .insert(region.to_string(), round_trip);
        self
    }

    /// Jitter of every region's latency (round trip; at most the latency).
    pub fn jitter(mut self, round_trip: Duration) -> Self {
        self.plan().jitter.default = Some(round_trip);
        self
    }

    /// Latency and jitter by region, at once.
    pub fn latency_plan(mut self, plan: LatencyPlan) -> Self {
        self.opts.latency = Some(plan);
        self
    }

    fn plan(&mut self) -> &mut LatencyPlan {
        self.opts.latency.get_or_insert_with(LatencyPlan::default)
    }

    /// Starts it.
    pub async fn start(self) -> Result<TestLab> {
        TestLab::start_with(self.opts).await
    }
}

impl TestLab {
    /// Starts `regions` (and OpenBao when `vault`), building missing assets
    /// first (from `FLOTILLA_CACHE`, `FLOTILLA_LAB_ASSETS`, ...).
    pub async fn start(regions: &[&str], vault: bool) -> Result<Self> {
        let opts = UpOptions {
            regions: regions.iter().map(|r| r.to_string()).collect(),
            vault,
            ..UpOptions::default()
        };
        Self::start_with(opts).await
    }

    /// A builder for a lab of `regions` with more options (charts, OCI
    /// registry, OpenBao).
    pub fn builder(regions: &[&str]) -> TestLabBuilder {
        TestLabBuilder {
            opts: UpOptions {
                regions: regions.iter().map(|r| r.to_string()).collect(),
                ..UpOptions::default()
            },
        }
    }

    /// Starts a lab with explicit options. The chart repository, when
    /// `opts.charts` is given, is served in this process (whatever
    /// `opts.chart_server` says) and stops with the `TestLab`; so are the
    /// latency proxies of `opts.latency` (whatever `opts.proxy_server`
    /// says), on a thread of their own, so that they keep forwarding while
    /// the test blocks its runtime (running `kubectl` with
    /// `std::process::Command`, say).
    pub async fn start_with(mut opts: UpOptions) -> Result<Self> {
        opts.chart_server = None;
        opts.proxy_server = None;
        let mut components = vec!["kubernetes", "etcd", "kwok"];
        if opts.vault {
            components.push("openbao");
        }
        if opts.registry || !opts.charts.is_empty() {
            components.extend(["distribution", "helm"]);
        }
        let asset_opts = AssetOptions::from_env();
        let assets = tokio::task::spawn_blocking(move || {
            assets::ensure(&asset_opts, &components, &QuietProgress)
        })
        .await
        .map_err(|e| LabError::State {
            path: PathBuf::new(),
            message: format!("asset build task: {e}"),
        })??;
        let home = tempfile::Builder::new()
            .prefix("flotilla-testlab-")
            .tempdir()
            .map_err(crate::error::io("creating", std::env::temp_dir()))?;
        let lab = Lab::new(home.path());
        let started = async {
            let mut state = lab.up(&opts, &assets).await?;
            let mut server = None;
            if let Some(charts) = state.charts.as_mut() {
                let mut o = ChartServerOptions::new(charts.repo.clone());
                o.basic_auth = opts.charts_auth.clone();
                let s = ChartServer::start(o).await?;
                charts.url = s.url();
                lab.record_charts(charts.clone())?;
                server = Some(s);
            }
            let mut proxies = None;
            if let Some(plan) = &opts.latency {
                let mut wanted = Vec::new();
                for (name, region) in &state.regions {
                    let Some(latency) = plan.for_region(name) else {
                        continue;
                    };
                    let upstream = region
                        .apiserver()
                        .and_then(crate::lab_latency::socket_of)
                        .ok_or_else(|| LabError::Kube {
                            region: name.clone(),
                            message: "no API server address to put a latency proxy in front of"
                                .into(),
                        })?;
                    wanted.push((
                        name.clone(),
                        ProxyOptions {
                            port: 0,
                            upstream,
                            latency,
                        },
                    ));
                }
                if !wanted.is_empty() {
                    let options = wanted.iter().map(|(_, o)| o.clone()).collect();
                    let (thread, addrs) = ProxyThread::start(options).await?;
                    // Dropped (stopped) with this future if a wait fails.
                    proxies = Some(thread);
                    for ((name, o), addr) in wanted.into_iter().zip(addrs) {
                        let proxy = ProxyState {
                            address: format!("https://{addr}"),
                            upstream: o.upstream,
                            latency: o.latency,
                            process: None,
                        };
                        crate::lab_latency::wait_ready(
                            &proxy.address,
                            &lab.ca_path(),
                            o.latency,
                            opts.ready_timeout,
                            None,
                            &name,
                        )
                        .await?;
                        state = lab.record_proxy(&name, proxy)?;
                    }
                }
            }
            Ok::<_, LabError>((state, server, proxies))
        };
        match started.await {
            Ok((state, charts, proxies)) => Ok(Self {
                lab,
                state,
                charts,
                proxies,
                _home: home,
            }),
            Err(e) => {
                let _ = lab.down();
                Err(e)
            }
        }
    }

    /// The chart repository's URL (`http://127.0.0.1:PORT`), when started
    /// with charts.
    pub fn charts_url(&self) -> Option<String> {
        self.charts.as_ref().map(ChartServer::url)
    }

    /// The chart server, to look at the requests it answered.
    pub fn chart_server(&self) -> Option<&ChartServer> {
        self.charts.as_ref()
    }

    /// The OCI registry's address (`http://127.0.0.1:PORT`), when it runs.
    pub fn registry_address(&self) -> Option<String> {
        self.state.registry.as_ref().map(|r| r.address.clone())
    }

    /// `oci://127.0.0.1:PORT/charts`, under which the charts were pushed.
    pub fn oci_base(&self) -> Option<String> {
        self.state
            .registry
            .as_ref()
            .map(|r| crate::registry::oci_base(&r.address))
    }

    /// The underlying lab.
    pub fn lab(&self) -> &Lab {
        &self.lab
    }

    /// The state recorded when it started.
    pub fn state(&self) -> &LabState {
        &self.state
    }

    /// The kubeconfig with a context `lab-<region>` per region.
    pub fn kubeconfig(&self) -> PathBuf {
        self.lab.kubeconfig_path()
    }

    /// A client for one region.
    pub async fn client(&self, region: &str) -> Result<kube::Client> {
        self.lab.client(region).await
    }

    /// OpenBao's address and root token, when started with `vault`.
    pub fn openbao(&self) -> Result<Option<OpenBaoInfo>> {
        self.lab.openbao()
    }

    /// The latency proxy in front of `region`'s API server, when it has a
    /// latency: its `address` is the lab kubeconfig's server for the region.
    pub fn latency_proxy(&self, region: &str) -> Option<&ProxyState> {
        self.state.regions.get(region)?.proxy.as_ref()
    }
}

impl Drop for TestLab {
    fn drop(&mut self) {
        // Clients' way in first.
        drop(self.proxies.take());
        if let Err(e) = self.lab.down() {
            tracing::warn!(error = %e, "stopping the test lab");
        }
    }
}

/// Latency proxies served on a thread of their own, with its own runtime;
/// stopped (listeners and connections) when dropped.
struct ProxyThread {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ProxyThread {
    /// Starts one proxy per options; their addresses, in the same order.
    async fn start(options: Vec<ProxyOptions>) -> Result<(Self, Vec<SocketAddr>)> {
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Result<Vec<SocketAddr>>>();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread_err = |message: String| LabError::State {
            path: PathBuf::new(),
            message,
        };
        let thread = std::thread::Builder::new()
            .name("testlab-latency".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(LabError::State {
                            path: PathBuf::new(),
                            message: format!("starting the latency proxies' runtime: {e}"),
                        }));
                        return;
                    }
                };
                rt.block_on(async move {
                    let mut proxies = Vec::new();
                    for o in options {
                        match LatencyProxy::start(o).await {
                            Ok(p) => proxies.push(p),
                            Err(e) => {
                                let _ = ready_tx.send(Err(e));
                                return;
                            }
                        }
                    }
                    let _ = ready_tx.send(Ok(proxies.iter().map(LatencyProxy::addr).collect()));
                    // Until the TestLab goes (or drops the sender).
                    let _ = stop_rx.await;
                    drop(proxies);
                });
            })
            .map_err(|e| thread_err(format!("starting the latency proxies' thread: {e}")))?;
        let me = Self {
            stop: Some(stop_tx),
            thread: Some(thread),
        };
        let addrs = ready_rx
            .await
            .map_err(|_| thread_err("the latency proxies' thread ended early".into()))??;
        Ok((me, addrs))
    }
}

impl Drop for ProxyThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
