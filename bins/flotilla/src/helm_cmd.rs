//! `flotilla helm template [NAME] CHART [flags]`: what `helm template`
//! v3.17.4 prints, from a chart directory or `.tgz` on disk, a chart of a
//! repository (`--repo URL CHART [--version V]`) or an `oci://` reference,
//! fetched through the chart cache (`$FLOTILLA_HOME/cache/charts`).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Helm charts.
#[derive(clap::Subcommand, Debug)]
pub enum HelmCmd {
    /// Render a chart's templates locally, byte for byte as `helm template`.
    // `--version` is the chart's version here, as in helm.
    #[command(disable_version_flag = true)]
    Template(TemplateArgs),
}

/// The flags of `helm template` that Flotilla implements.
#[derive(clap::Args, Debug)]
pub struct TemplateArgs {
    /// `[NAME] CHART`: the release name (default `release-name`) and the
    /// chart: a directory, a `.tgz`, a chart name with `--repo`, or
    /// `oci://host/path/chart`.
    #[arg(required = true, num_args = 1..=2, value_names = ["NAME", "CHART"])]
    pub args: Vec<String>,
    /// The chart repository to fetch CHART from (`helm template --repo`).
    #[arg(long = "repo", value_name = "URL")]
    pub repo: Option<String>,
    /// The chart version or semver range (default: the newest stable).
    #[arg(long = "version", value_name = "VERSION", default_value = "")]
    pub version: String,
    /// User name for the chart repository or registry.
    #[arg(long)]
    pub username: Option<String>,
    /// Password for the chart repository or registry.
    #[arg(long)]
    pub password: Option<String>,
    /// Values files, in order (later files win).
    #[arg(short = 'f', long = "values")]
    pub values: Vec<PathBuf>,
    /// `key=value[,key=value]` values.
    #[arg(long)]
    pub set: Vec<String>,
    /// `key=value` values, always strings.
    #[arg(long = "set-string")]
    pub set_string: Vec<String>,
    /// `key=JSON` values.
    #[arg(long = "set-json")]
    pub set_json: Vec<String>,
    /// `key=PATH`: the value is the file's contents.
    #[arg(long = "set-file")]
    pub set_file: Vec<String>,
    /// `key=value`, the value taken literally.
    #[arg(long = "set-literal")]
    pub set_literal: Vec<String>,
    /// `.Release.Namespace`.
    #[arg(short = 'n', long = "namespace", default_value = "default")]
    pub namespace: String,
    /// `.Capabilities.KubeVersion` (default v1.32.0).
    #[arg(long = "kube-version")]
    pub kube_version: Option<String>,
    /// Extra `.Capabilities.APIVersions` (repeatable, or comma-separated).
    #[arg(short = 'a', long = "api-versions", value_delimiter = ',')]
    pub api_versions: Vec<String>,
    /// Print the chart's `crds/` too.
    #[arg(long = "include-crds")]
    pub include_crds: bool,
    /// Accepted for compatibility; `helm template` prints CRDs only with `--include-crds`.
    #[arg(long = "skip-crds")]
    pub skip_crds: bool,
    /// Leave out `test` hooks.
    #[arg(long = "skip-tests")]
    pub skip_tests: bool,
    /// Leave out all hooks.
    #[arg(long = "no-hooks")]
    pub no_hooks: bool,
    /// Only the manifests of these templates (`templates/x.yaml`, globs).
    #[arg(short = 's', long = "show-only")]
    pub show_only: Vec<String>,
    /// `.Release.IsUpgrade` true instead of `IsInstall`.
    #[arg(long = "is-upgrade")]
    pub is_upgrade: bool,
    /// Do not validate values against `values.schema.json`.
    #[arg(long = "skip-schema-validation")]
    pub skip_schema_validation: bool,
}

/// Runs `flotilla helm ...`.
pub async fn run(cmd: HelmCmd) -> anyhow::Result<()> {
    match cmd {
        HelmCmd::Template(mut args) => {
            if let Some(local) = fetch_chart(&args).await? {
                let last = args.args.len() - 1;
                args.args[last] = local.display().to_string();
            }
            let text = tokio::task::spawn_blocking(move || template(&args))
                .await
                .context("rendering task failed")??;
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .context("writing to stdout")?;
            stdout.flush().context("writing to stdout")?;
            Ok(())
        }
    }
}

/// For `--repo URL CHART` or `oci://...`: the chart fetched into the cache
/// (its archive's path); `None` for a chart on disk.
async fn fetch_chart(args: &TemplateArgs) -> anyhow::Result<Option<PathBuf>> {
    let chart = args.args.last().map(String::as_str).unwrap_or_default();
    let oci = chart
        .get(..6)
        .is_some_and(|s| s.eq_ignore_ascii_case("oci://"));
    let (repo, name) = match (&args.repo, oci) {
        (Some(repo), false) => (repo.clone(), chart.to_string()),
        (None, true) => (chart.to_string(), String::new()),
        (Some(_), true) => anyhow::bail!("--repo cannot be used with an oci:// chart reference"),
        (None, false) => {
            if !Path::new(chart).exists() && chart.contains('/') && !chart.starts_with('.') {
                anyhow::bail!(
                    "{chart}: no such chart directory or archive (flotilla does not read helm's repositories.yaml: pass --repo URL with the chart's name)"
                );
            }
            return Ok(None);
        }
    };
    let dir = crate::repo::default_cache_dir()?
        .parent()
        .map(|p| p.join("charts"))
        .context("the chart cache directory")?;
    let fetcher = flotilla_helm::fetch::ChartFetcher::new(&dir, Default::default())
        .with_context(|| format!("opening the chart cache {}", dir.display()))?;
    let auth = match (&args.username, &args.password) {
        (Some(u), Some(p)) => flotilla_helm::fetch::RepoAuth::basic(u.clone(), p.clone()),
        (None, None) => flotilla_helm::fetch::RepoAuth::none(),
        _ => anyhow::bail!("--username and --password go together"),
    };
    let fetched = fetcher.fetch(&repo, &name, &args.version, &auth).await?;
    Ok(Some(fetched.path))
}

fn template(args: &TemplateArgs) -> anyhow::Result<String> {
    let (name, chart_path) = match args.args.as_slice() {
        [chart] => ("release-name".to_string(), chart.clone()),
        [name, chart] => (name.clone(), chart.clone()),
        _ => anyhow::bail!("expected [NAME] CHART"),
    };
    let chart = flotilla_helm::load::load(Path::new(&chart_path))?;
    let mut values = flotilla_helm::values::ValuesOptions {
        set: args.set.clone(),
        set_string: args.set_string.clone(),
        set_json: args.set_json.clone(),
        set_file: args.set_file.clone(),
        set_literal: args.set_literal.clone(),
        skip_schema_validation: args.skip_schema_validation,
        ..Default::default()
    };
    for f in &args.values {
        let data = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        values.value_files.push(flotilla_helm::values::ValueFile {
            name: f.display().to_string(),
            data,
        });
    }
    let opts = flotilla_helm::TemplateOptions {
        release_name: name,
        namespace: args.namespace.clone(),
        capabilities: flotilla_helm::Capabilities::with(
            match &args.kube_version {
                Some(v) => flotilla_helm::KubeVersion::parse(v)?,
                None => flotilla_helm::KubeVersion::default(),
            },
            &args.api_versions,
        ),
        is_upgrade: args.is_upgrade,
        ..Default::default()
    };
    let out = flotilla_helm::OutputOptions {
        include_crds: args.include_crds,
        no_hooks: args.no_hooks,
        skip_tests: args.skip_tests,
        show_only: args.show_only.clone(),
    };
    Ok(flotilla_helm::template_chart(chart, &values, &opts, &out)?)
}
