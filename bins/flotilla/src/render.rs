//! `flotilla render PATH [-o yaml|json]`: what `kustomize build PATH` prints
//! (or, for a directory without a kustomization, its plain manifests as
//! Argo CD's `directory` source reads them).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// YAML documents separated by `---`, byte for byte as `kustomize build`.
    Yaml,
    /// A JSON list of the objects.
    Json,
}

/// Renders a kustomization or a directory of manifests.
#[derive(clap::Args, Debug)]
pub struct RenderArgs {
    /// Directory to render (a kustomization, or plain manifests).
    pub path: PathBuf,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "yaml")]
    pub output: Format,
    /// Plain directories: read subdirectories too (Argo CD `directory.recurse`).
    #[arg(long)]
    pub recurse: bool,
    /// Plain directories: only files matching this glob (Argo CD `directory.include`).
    #[arg(long)]
    pub include: Option<String>,
    /// Plain directories: leave out files matching this glob (Argo CD `directory.exclude`).
    #[arg(long)]
    pub exclude: Option<String>,
}

/// Runs `flotilla render`. Nothing is written to stdout unless rendering succeeded.
pub async fn run(args: RenderArgs) -> anyhow::Result<()> {
    let opts = flotilla_render::RenderOptions {
        directory: flotilla_render::DirectoryOptions {
            recurse: args.recurse,
            include: args.include.clone(),
            exclude: args.exclude.clone(),
        },
        ..flotilla_render::RenderOptions::default()
    };
    let path = args.path.clone();
    let rendered = tokio::task::spawn_blocking(move || flotilla_render::render_local(&path, &opts))
        .await
        .context("rendering task failed")?
        .with_context(|| format!("rendering {}", args.path.display()))?;
    let text = match args.output {
        Format::Yaml => rendered.to_yaml(),
        Format::Json => rendered.to_json(),
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .context("writing to stdout")?;
    stdout.flush().context("writing to stdout")?;
    Ok(())
}
