//! A lab for Rust tests: started in a temporary `$FLOTILLA_HOME`, stopped and
//! removed when dropped, also when the test panics.
//!
//! ```no_run
//! # async fn f() -> Result<(), flotilla_lab::LabError> {
//! let lab = flotilla_lab::TestLab::start(&["a", "b"], false).await?;
//! let client = lab.client("a").await?;
//! # Ok(()) }
//! ```

use std::path::PathBuf;

use crate::assets::{self, AssetOptions, QuietProgress};
use crate::error::{LabError, Result};
use crate::lab::{Lab, LabState, UpOptions};
use crate::openbao::OpenBaoInfo;

/// A running lab owned by a test.
pub struct TestLab {
    lab: Lab,
    state: LabState,
    _home: tempfile::TempDir,
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

    /// Starts a lab with explicit options.
    pub async fn start_with(opts: UpOptions) -> Result<Self> {
        let mut components = vec!["kubernetes", "etcd", "kwok"];
        if opts.vault {
            components.push("openbao");
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
        match lab.up(&opts, &assets).await {
            Ok(state) => Ok(Self {
                lab,
                state,
                _home: home,
            }),
            Err(e) => {
                let _ = lab.down();
                Err(e)
            }
        }
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
