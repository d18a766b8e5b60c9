//! The lab's chart services: the chart repository (a lab process running
//! [`crate::charts::ChartServer`], or served by the caller) and the OCI
//! registry the charts are pushed to.

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::assets::Assets;
use crate::charts::{ChartRepo, ChartServerOptions};
use crate::error::{io, LabError, Result};
use crate::lab::{Lab, LabState, UpOptions};
use crate::process::{self, component_error, free_port, ProcessRecord};
use crate::registry;

/// How to start the chart repository as a lab process: `program args...
/// <config>`, where `<config>` is the JSON file of [`ChartServerOptions`]
/// the lab writes, and the program runs [`crate::charts::serve_config`] on it
/// (`flotilla lab serve-charts` does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeCommand {
    /// The executable.
    pub program: PathBuf,
    /// Arguments before the configuration path.
    pub args: Vec<String>,
}

/// The chart repository as recorded in the lab state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChartsState {
    /// `http://127.0.0.1:PORT`; empty until the caller serves it (TestLab).
    pub url: String,
    /// What it serves.
    pub repo: ChartRepo,
    /// Its process, when the lab runs it as one.
    pub process: Option<ProcessRecord>,
    /// The charts pushed to the OCI registry
    /// (`oci://127.0.0.1:PORT/charts/<name>:<version>`).
    pub oci: Vec<String>,
}

impl Lab {
    /// Every admission webhook, in every region, whose Service has no
    /// serving endpoint (see [`crate::webhooks`]).
    pub async fn unserved_webhooks(&self) -> Result<Vec<crate::webhooks::UnservedWebhook>> {
        let state = self
            .state()?
            .ok_or_else(|| LabError::NotRunning(self.dir().to_path_buf()))?;
        let mut out = Vec::new();
        for name in state.regions.keys() {
            let client = self.client(name).await?;
            out.extend(crate::webhooks::unserved_webhooks(&client, name).await?);
        }
        Ok(out)
    }

    /// The chart repository's URL (`http://127.0.0.1:PORT`), when the lab
    /// serves one.
    pub fn charts_url(&self) -> Result<Option<String>> {
        let state = self
            .state()?
            .ok_or_else(|| LabError::NotRunning(self.dir().to_path_buf()))?;
        Ok(state.charts.map(|c| c.url).filter(|u| !u.is_empty()))
    }

    /// The OCI registry's address (`http://127.0.0.1:PORT`), when the lab
    /// runs it.
    pub fn registry_address(&self) -> Result<Option<String>> {
        let state = self
            .state()?
            .ok_or_else(|| LabError::NotRunning(self.dir().to_path_buf()))?;
        Ok(state.registry.map(|r| r.address))
    }

    /// Records the chart repository a caller serves itself (TestLab).
    pub(crate) fn record_charts(&self, charts: crate::charts::ChartsState) -> Result<()> {
        let _lock = self.lock()?;
        let mut state = self
            .state()?
            .ok_or_else(|| LabError::NotRunning(self.dir().to_path_buf()))?;
        state.charts = Some(charts);
        self.save(&state)
    }
}

/// Brings up the registry and the chart repository as `opts` asks, recording
/// them in `state` as they start.
pub(crate) async fn lab_up(
    lab: &Lab,
    state: &mut LabState,
    opts: &UpOptions,
    assets: &Assets,
) -> Result<()> {
    let dir = lab.dir().to_path_buf();
    let registry = {
        let rec = registry::up(&dir, state.registry.clone(), assets, opts.ready_timeout).await?;
        state.registry = Some(rec.clone());
        lab.save(state)?;
        rec
    };
    if opts.charts.is_empty() {
        return Ok(());
    }
    let charts_dir = dir.join("charts");
    let sources = opts.charts.clone();
    let work = charts_dir.join("work");
    let repo = tokio::task::spawn_blocking(move || ChartRepo::build(&sources, &work))
        .await
        .map_err(|e| LabError::State {
            path: charts_dir.clone(),
            message: format!("chart packaging task: {e}"),
        })??;
    let oci = registry::push_charts(&dir, &registry.address, &repo.charts, assets).await?;
    let previous = state.charts.take();
    let mut charts = ChartsState {
        url: String::new(),
        repo: repo.clone(),
        process: None,
        oci,
    };
    if let Some(cmd) = &opts.chart_server {
        let old = ProcessRecord::load(&charts_dir.join("run"), "charts")
            .or_else(|| previous.as_ref().and_then(|p| p.process.clone()));
        let rec = serve(&charts_dir, old, cmd, repo, opts).await?;
        charts.url = rec.address.clone();
        charts.process = Some(rec);
    }
    state.charts = Some(charts);
    Ok(())
}

async fn serve(
    charts_dir: &std::path::Path,
    old: Option<ProcessRecord>,
    cmd: &ServeCommand,
    repo: ChartRepo,
    opts: &UpOptions,
) -> Result<ProcessRecord> {
    let config_path = charts_dir.join("server.json");
    let mut config = ChartServerOptions::new(repo);
    config.basic_auth = opts.charts_auth.clone();
    // The same repository already served: keep that server.
    let before: Option<ChartServerOptions> = fs::read_to_string(&config_path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    if let (Some(o), Some(b)) = (&old, &before) {
        if o.is_alive() && b.repo == config.repo && b.basic_auth == config.basic_auth {
            return Ok(o.clone());
        }
    }
    if let Some(o) = &old {
        process::stop(o, Duration::from_secs(5));
    }
    config.port = free_port(old.as_ref().and_then(|o| o.ports.first().copied()))?;
    let text = serde_json::to_string_pretty(&config).map_err(|e| LabError::State {
        path: config_path.clone(),
        message: e.to_string(),
    })?;
    write_private(&config_path, &text)?;
    let log = charts_dir.join("logs").join("charts.log");
    let mut args = cmd.args.clone();
    args.push(config_path.display().to_string());
    let pid = process::spawn("charts", "lab", &cmd.program, &args, &[], &log)?;
    let rec = ProcessRecord {
        component: "charts".into(),
        pid,
        binary: cmd.program.clone(),
        log,
        address: format!("http://127.0.0.1:{}", config.port),
        ports: vec![config.port],
    };
    rec.save(&charts_dir.join("run"))?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .no_proxy()
        .build()
        .map_err(|e| LabError::State {
            path: config_path.clone(),
            message: format!("building an HTTP client: {e}"),
        })?;
    let start = Instant::now();
    loop {
        let ok = client
            .get(format!("{}/healthz", rec.address))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ok {
            return Ok(rec);
        }
        if !rec.is_alive() {
            return Err(component_error(
                "charts",
                "lab",
                "exited while starting".into(),
                &rec.log,
            ));
        }
        if start.elapsed() > opts.ready_timeout {
            return Err(component_error(
                "charts",
                "lab",
                format!("was not ready after {}s", opts.ready_timeout.as_secs()),
                &rec.log,
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Writes a file only its owner can read (it may hold a password).
fn write_private(path: &std::path::Path, text: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(d) = path.parent() {
        fs::create_dir_all(d).map_err(io("creating", d))?;
    }
    let mut f = fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io("writing", path))?;
    f.write_all(text.as_bytes()).map_err(io("writing", path))
}
