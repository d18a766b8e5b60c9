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
//! # Ok(()) }
//! ```

use std::path::PathBuf;

use crate::assets::{self, AssetOptions, QuietProgress};
use crate::charts::{ChartServer, ChartServerOptions};
use crate::error::{LabError, Result};
use crate::lab::{Lab, LabState, UpOptions};
use crate::openbao::OpenBaoInfo;

/// A running lab owned by a test.
pub struct TestLab {
    lab: Lab,
    state: LabState,
    charts: Option<ChartServer>,
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
    /// `opts.chart_server` says) and stops with the `TestLab`.
    pub async fn start_with(mut opts: UpOptions) -> Result<Self> {
        opts.chart_server = None;
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
            Ok::<_, LabError>((state, server))
        };
        match started.await {
            Ok((state, charts)) => Ok(Self {
                lab,
                state,
                charts,
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
}

impl Drop for TestLab {
    fn drop(&mut self) {
        if let Err(e) = self.lab.down() {
            tracing::warn!(error = %e, "stopping the test lab");
        }
    }
}
