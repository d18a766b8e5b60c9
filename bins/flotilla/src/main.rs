//! `flotilla`: the command line. Each subcommand parses its arguments, calls
//! a crate's API and prints; nothing else lives here.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod admin_cmd;
mod app_cmd;
mod appset_cmd;
mod controller_cmd;
mod demo;
mod helm_cmd;
mod lab;
mod progress;
mod render;
mod repo;
mod sync_cmd;
mod vault_cmd;

/// GitOps continuous delivery for Kubernetes, compatible with Argo CD files.
#[derive(Parser)]
#[command(name = "flotilla", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Local Kubernetes regions (and OpenBao) on loopback.
    #[command(subcommand)]
    Lab(lab::LabCmd),
    /// The quick-start demo: a two-region lab with OpenBao, shown working.
    Demo(demo::DemoArgs),
    /// Print what `kustomize build PATH` prints (or a plain directory's manifests).
    Render(render::RenderArgs),
    /// Helm charts: `helm template`, natively.
    #[command(subcommand)]
    Helm(helm_cmd::HelmCmd),
    /// ApplicationSets: print the Applications their generators produce.
    #[command(subcommand)]
    Appset(appset_cmd::AppsetCmd),
    /// Look at a Git repository the way Flotilla sees it.
    #[command(subcommand)]
    Repo(repo::RepoCmd),
    /// Show how clusters differ from Git (exit 0 in sync, 1 differences, 2 error).
    Diff(sync_cmd::SyncArgs),
    /// Make clusters equal to Git: validate, apply in waves, prune.
    Sync(sync_cmd::SyncArgs),
    /// Sync status and health of each application.
    Status(sync_cmd::SyncArgs),
    /// Vault: apply a VaultConfig, check manifests against Vault, init, unseal.
    #[command(subcommand)]
    Vault(vault_cmd::VaultCmd),
    /// The long-running reconciler: watch Git, expand ApplicationSets, sync, serve the API.
    Controller(controller_cmd::ControllerArgs),
    /// Applications of a running controller: list, get, history, sync, rollback.
    #[command(subcommand)]
    App(app_cmd::AppCmd),
    /// Administration helpers: hash a password for `api.users`.
    #[command(subcommand)]
    Admin(admin_cmd::AdminCmd),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FLOTILLA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    flotilla_lab::ensure_crypto_provider();
    // Short commands start faster on one thread; the lab starts regions in
    // parallel and wants the multi-threaded runtime.
    let mut builder = match cli.command {
        Command::Repo(_)
        | Command::Render(_)
        | Command::Appset(_)
        | Command::Helm(_)
        | Command::Admin(_) => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    let rt = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = rt.block_on(async move {
        match cli.command {
            Command::Lab(cmd) => lab::run(cmd).await.map(|()| 0),
            Command::Demo(args) => demo::run(args).await.map(|()| 0),
            Command::Repo(cmd) => repo::run(cmd).await.map(|()| 0),
            Command::Appset(cmd) => appset_cmd::run(cmd).await.map(|()| 0),
            Command::Render(args) => render::run(args).await.map(|()| 0),
            Command::Helm(cmd) => helm_cmd::run(cmd).await.map(|()| 0),
            Command::Vault(cmd) => vault_cmd::run(cmd).await,
            Command::Diff(args) => match sync_cmd::run_diff(args).await {
                Ok(code) => Ok(code),
                // `diff` follows `kubectl diff`: 2 is an error.
                Err(e) => {
                    eprintln!("error: {e:#}");
                    Ok(2)
                }
            },
            Command::Sync(args) => sync_cmd::run_sync(args).await,
            Command::Status(args) => sync_cmd::run_status(args).await,
            Command::Controller(args) => controller_cmd::run(args).await.map(|()| 0),
            Command::App(cmd) => app_cmd::run(cmd).await,
            Command::Admin(cmd) => admin_cmd::run(cmd).await.map(|()| 0),
        }
    });
    match result {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
