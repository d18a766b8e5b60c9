//! `flotilla`: the command line. Each subcommand parses its arguments, calls
//! a crate's API and prints; nothing else lives here.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod demo;
mod lab;
mod progress;
mod repo;

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
    /// Look at a Git repository the way Flotilla sees it.
    #[command(subcommand)]
    Repo(repo::RepoCmd),
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
    // Short commands start faster on one thread; the lab starts regions in
    // parallel and wants the multi-threaded runtime.
    let mut builder = match cli.command {
        Command::Repo(_) => tokio::runtime::Builder::new_current_thread(),
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
            Command::Lab(cmd) => lab::run(cmd).await,
            Command::Demo(args) => demo::run(args).await,
            Command::Repo(cmd) => repo::run(cmd).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
