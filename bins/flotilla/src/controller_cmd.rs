//! `flotilla controller --config FILE`: the long-running reconciler with
//! its HTTP API, until SIGINT or SIGTERM.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use flotilla_controller::api::Server;
use flotilla_controller::config::ControllerConfig;
use flotilla_controller::Controller;

#[derive(Args)]
pub struct ControllerArgs {
    /// The configuration file (flotilla.yaml).
    #[arg(long, short = 'c', value_name = "FILE", env = "FLOTILLA_CONFIG")]
    config: PathBuf,
}

pub async fn run(args: ControllerArgs) -> anyhow::Result<()> {
    // Every problem of the file is listed, and nothing starts.
    let config = ControllerConfig::load(&args.config)?;
    let controller = Controller::new(config).await?;
    let server = Server::bind(&controller).await?;
    let addr = server
        .local_addr()
        .context("the API listener has no address")?;
    // One line a person or a script can read: where the API is.
    let scheme = if server.is_tls() { "https" } else { "http" };
    println!("flotilla controller: API on {scheme}://{addr}");
    eprintln!("web UI on {scheme}://{addr}/");
    eprintln!(
        "state in {}, polling every {}",
        controller.config().state_dir.display(),
        humantime::format_duration(controller.config().poll_interval)
    );
    let stopper = controller.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        eprintln!("stopping: running syncs stop at their next safe point");
        stopper.shutdown();
    });
    let api = tokio::spawn(server.serve());
    controller.run().await?;
    match api.await {
        Ok(r) => r.context("serving the API")?,
        Err(e) => anyhow::bail!("the API task failed: {e}"),
    }
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
