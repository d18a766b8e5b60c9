//! `flotilla lab`: local Kubernetes regions and OpenBao on loopback.

use std::time::Instant;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use flotilla_lab::assets::{self, AssetOptions};
use flotilla_lab::latency::{LatencyPlan, RegionDurations};
use flotilla_lab::{Lab, ServeCommand, UpOptions};

use crate::progress::BuildProgress;

#[derive(Subcommand)]
pub enum LabCmd {
    /// Start (or repair) the lab: etcd, kube-apiserver, controller-manager,
    /// scheduler and kwok per region; OpenBao with --vault; a WAN-latency
    /// proxy in front of each API server with --latency.
    Up(UpArgs),
    /// Print `export` lines: KUBECONFIG, PATH (lab binaries first),
    /// VAULT_ADDR/VAULT_TOKEN/VAULT_CACERT when OpenBao runs,
    /// FLOTILLA_LAB_CHARTS (the chart repository) with --charts, and
    /// FLOTILLA_LAB_REGISTRY/FLOTILLA_LAB_OCI when the OCI registry runs.
    Env,
    /// Show each component's state, address, pid and memory, and the
    /// admission webhooks that nothing serves.
    Status(StatusArgs),
    /// Print the path of the lab kubeconfig.
    Kubeconfig,
    /// Stop everything and remove the lab's state.
    Down,
    /// Build (or check) the pinned lab binaries and print where they are.
    Assets(AssetsArgs),
    /// Serve a chart repository from the configuration `lab up --charts`
    /// writes (the lab runs this as its `charts` process).
    #[command(hide = true)]
    ServeCharts {
        /// The server configuration (`<lab>/charts/server.json`).
        config: std::path::PathBuf,
    },
    /// Run a region's WAN-latency proxy from the configuration `lab up
    /// --latency` writes (the lab runs this as its `latency-proxy` process).
    #[command(hide = true)]
    Proxy {
        /// The proxy configuration
        /// (`<lab>/regions/<region>/latency-proxy.json`).
        config: std::path::PathBuf,
    },
}

#[derive(Args)]
pub struct UpArgs {
    /// Comma-separated region names; each becomes a context `lab-<region>`.
    #[arg(long, value_delimiter = ',', default_value = "us-east-2,us-west-2")]
    pub regions: Vec<String>,
    /// Also run OpenBao (initialised and unsealed).
    #[arg(long)]
    pub vault: bool,
    /// Simulated nodes per region.
    #[arg(long, default_value_t = 2)]
    pub nodes: usize,
    /// Serve a directory of charts (`index.yaml` + `.tgz` files, and/or
    /// chart directories, which are packaged) as a Helm repository on
    /// loopback, and push them to the lab's OCI registry. Repeatable, or a
    /// comma list.
    #[arg(long, value_delimiter = ',')]
    pub charts: Vec<std::path::PathBuf>,
    /// Require basic authentication on the chart repository (USER:PASSWORD).
    #[arg(long, value_name = "USER:PASSWORD")]
    pub charts_auth: Option<String>,
    /// Run the OCI registry even without --charts.
    #[arg(long)]
    pub registry: bool,
    /// Simulate WAN latency: a TCP proxy that delays traffic goes in front
    /// of each region's API server and the lab kubeconfig points at it, so
    /// every client (kubectl, the controller) goes through it; the lab's
    /// own components still reach the API server directly. A round trip,
    /// like ping's: each direction is delayed by half. `80ms` for every
    /// region, `us-east-2=120ms,us-west-2=60ms` per region, or both
    /// (`80ms,us-east-2=120ms`); a region given `0` has no proxy. Without
    /// --latency the lab keeps the latency it has.
    #[arg(long, value_name = "DELAY|REGION=DELAY,...")]
    pub latency: Option<RegionDurations>,
    /// Jitter of the latency (round trip, at most the latency): each chunk's
    /// one-way delay is drawn in half the latency ± half the jitter, bytes
    /// never reordered. Same syntax as --latency (`10ms`,
    /// `us-east-2=20ms`).
    #[arg(long, value_name = "JITTER|REGION=JITTER,...", requires = "latency")]
    pub jitter: Option<RegionDurations>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Output {
    Table,
    Json,
}

#[derive(Args)]
pub struct StatusArgs {
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    output: Output,
}

#[derive(Args)]
pub struct AssetsArgs {
    /// Components to build (default: all of versions.toml).
    #[arg(long, value_delimiter = ',')]
    components: Vec<String>,
}

/// Builds what is missing, with progress on stderr.
pub async fn ensure_assets(components: Vec<String>) -> anyhow::Result<assets::Assets> {
    let opts = AssetOptions::from_env();
    tokio::task::spawn_blocking(move || {
        let names: Vec<&str> = components.iter().map(String::as_str).collect();
        assets::ensure(&opts, &names, &BuildProgress::new())
    })
    .await
    .context("asset build task")?
    .map_err(Into::into)
}

fn all_components() -> Vec<String> {
    assets::all_components()
        .into_iter()
        .map(String::from)
        .collect()
}

/// `lab up`, shared with `demo`.
pub async fn up(args: &UpArgs) -> anyhow::Result<Lab> {
    let assets = ensure_assets(all_components()).await?;
    let lab = Lab::from_env();
    let start = Instant::now();
    eprintln!(
        "starting lab regions {}{} under {}",
        args.regions.join(", "),
        if args.vault { " and OpenBao" } else { "" },
        lab.dir().display()
    );
    let charts_auth = match &args.charts_auth {
        Some(s) => Some(
            s.split_once(':')
                .map(|(u, p)| (u.to_string(), p.to_string()))
                .context("--charts-auth takes USER:PASSWORD")?,
        ),
        None => None,
    };
    let opts = UpOptions {
        regions: args.regions.clone(),
        vault: args.vault,
        nodes: args.nodes,
        charts: args.charts.clone(),
        charts_auth,
        registry: args.registry,
        chart_server: Some(ServeCommand {
            program: std::env::current_exe().context("locating the flotilla binary")?,
            args: vec!["lab".into(), "serve-charts".into()],
        }),
        latency: args
            .latency
            .clone()
            .map(|l| LatencyPlan::new(l, args.jitter.clone().unwrap_or_default())),
        proxy_server: Some(ServeCommand {
            program: std::env::current_exe().context("locating the flotilla binary")?,
            args: vec!["lab".into(), "proxy".into()],
        }),
        ..UpOptions::default()
    };
    let state = lab.up(&opts, &assets).await?;
    eprintln!("lab ready in {:.1}s", start.elapsed().as_secs_f64());
    for (name, region) in &state.regions {
        match &region.proxy {
            Some(p) => println!(
                "lab-{name}\t{}\t{} latency to {}",
                region.server,
                p.latency,
                region.apiserver().unwrap_or("?")
            ),
            None => println!("lab-{name}\t{}", region.server),
        }
    }
    if let Some(b) = &state.openbao {
        println!("openbao\t{}", b.address);
    }
    if let Some(c) = &state.charts {
        println!("charts\t{}", c.url);
    }
    if let Some(r) = &state.registry {
        println!("registry\t{}", flotilla_lab::registry::oci_base(&r.address));
    }
    Ok(lab)
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

pub fn print_table(rows: &[Vec<String>]) {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                if i + 1 == r.len() {
                    cell.clone()
                } else {
                    format!("{cell:<w$}", w = widths[i])
                }
            })
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
}

pub async fn status_table(lab: &Lab, output: Output) -> anyhow::Result<()> {
    let status = lab.status().await?;
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&status)?),
        Output::Table => {
            let mut rows = vec![vec![
                "REGION".to_string(),
                "COMPONENT".into(),
                "STATE".into(),
                "ADDRESS".into(),
                "PID".into(),
                "MEMORY".into(),
            ]];
            for s in &status {
                rows.push(vec![
                    s.scope.clone(),
                    s.component.clone(),
                    s.state.clone(),
                    match &s.detail {
                        Some(d) => format!("{} ({d})", s.address),
                        None => s.address.clone(),
                    },
                    s.pid.to_string(),
                    s.rss_bytes
                        .map(|b| format!("{} MiB", b / (1024 * 1024)))
                        .unwrap_or_else(|| "-".into()),
                ]);
            }
            print_table(&rows);
            let webhooks = lab.unserved_webhooks().await?;
            if !webhooks.is_empty() {
                println!();
                let mut rows = vec![vec![
                    "REGION".to_string(),
                    "WEBHOOK".into(),
                    "CONFIGURATION".into(),
                    "FAILURE POLICY".into(),
                    "PROBLEM".into(),
                ]];
                for w in &webhooks {
                    rows.push(vec![
                        w.region.clone(),
                        w.webhook.clone(),
                        format!("{}/{}", w.kind, w.configuration),
                        w.failure_policy.clone(),
                        if w.blocks() {
                            format!("{}; the requests it matches are rejected", w.reason)
                        } else {
                            w.reason.clone()
                        },
                    ]);
                }
                print_table(&rows);
            }
            for s in status.iter().filter(|s| s.state != "running") {
                eprintln!(
                    "{} {} is {}; its log: {}",
                    s.scope,
                    s.component,
                    s.state,
                    s.log.display()
                );
                eprintln!("{}", flotilla_lab::tail_lines(&s.log, 10));
            }
        }
    }
    Ok(())
}

pub async fn run(cmd: LabCmd) -> anyhow::Result<()> {
    match cmd {
        LabCmd::Up(args) => {
            up(&args).await?;
            eprintln!(
                "use it with: eval \"$(flotilla lab env)\"; kubectl --context lab-{} get nodes",
                args.regions
                    .first()
                    .map(String::as_str)
                    .unwrap_or("us-east-2")
            );
            Ok(())
        }
        LabCmd::Env => {
            for (k, v) in Lab::from_env().env()? {
                println!("export {k}={}", shell_quote(&v));
            }
            Ok(())
        }
        LabCmd::Status(args) => status_table(&Lab::from_env(), args.output).await,
        LabCmd::Kubeconfig => {
            let lab = Lab::from_env();
            if lab.state()?.is_none() {
                anyhow::bail!(flotilla_lab::LabError::NotRunning(lab.dir().to_path_buf()));
            }
            println!("{}", lab.kubeconfig_path().display());
            Ok(())
        }
        LabCmd::Down => {
            let lab = Lab::from_env();
            // A controller `flotilla demo` left running reads this lab.
            crate::demo::stop_controller(&crate::demo::demo_dir(&lab));
            tokio::task::spawn_blocking(move || lab.down()).await??;
            eprintln!("lab stopped");
            Ok(())
        }
        LabCmd::ServeCharts { config } => {
            flotilla_lab::charts::serve_config(&config).await?;
            Ok(())
        }
        LabCmd::Proxy { config } => {
            flotilla_lab::latency::serve_config(&config).await?;
            Ok(())
        }
        LabCmd::Assets(args) => {
            let comps = if args.components.is_empty() {
                all_components()
            } else {
                args.components
            };
            let start = Instant::now();
            let assets = ensure_assets(comps).await?;
            for (name, path) in assets.binaries() {
                println!("{name}\t{}", path.display());
            }
            eprintln!("assets ready in {:.2}s", start.elapsed().as_secs_f64());
            Ok(())
        }
    }
}
