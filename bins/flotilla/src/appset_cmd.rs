//! `flotilla appset generate FILE [--repo URL=LOCAL]... [-o yaml|json|names]`:
//! print the Applications that the ApplicationSets in FILE generate.
//!
//! FILE holds one or more YAML documents; every `ApplicationSet` among them
//! is generated (other kinds are skipped). Repositories that git generators
//! name are fetched into the cache (`--cache DIR`, by default
//! `$FLOTILLA_HOME/cache/git`), or read from a local clone or directory with
//! `--repo URL=LOCAL` (URLs compared after normalisation); `--offline` uses
//! only what the cache holds.
//!
//! The clusters generator sees the contexts of the kubeconfig (`--kubeconfig`,
//! else `$KUBECONFIG`, else `~/.kube/config`; each context is a cluster named
//! after it, with its cluster's server URL and no labels) and the clusters of
//! `--clusters FILE` (Argo CD cluster secrets or plain `name`/`server`/`labels`
//! documents; a cluster there replaces a context of the same name). As in
//! Argo CD, the in-cluster destination `https://kubernetes.default.svc` is
//! only a cluster when it is registered: here, when a context or a
//! `--clusters` entry names it. The kubeconfig is only read when an
//! ApplicationSet has a clusters generator.
//!
//! Output: `yaml` (the default; documents separated by `---`), `json` (an
//! array of Application objects) or `names` (one name per line).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use flotilla_appset::{read_application_sets, read_clusters, uses_clusters, GenerateOptions};
use flotilla_controller::appsets::{expand, RepoSnapshots, Resolution};
use flotilla_core::{Application, Cluster};
use flotilla_git::{CacheOptions, GlobMode};

/// `flotilla appset ...`
#[derive(Debug, Clone, Subcommand)]
pub enum AppsetCmd {
    /// Print the Applications the ApplicationSets in FILE generate.
    Generate(GenerateArgs),
}

/// Arguments of `flotilla appset generate`.
#[derive(Debug, Clone, Args)]
pub struct GenerateArgs {
    /// File holding the ApplicationSets (YAML, several documents allowed; `-` reads standard input).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Read repository URL from LOCAL (a clone, a `file://` URL or a plain
    /// directory) instead; URLs are compared after normalisation. Repeatable.
    #[arg(long = "repo", value_name = "URL=LOCAL", value_parser = crate::repo::parse_substitution)]
    pub substitutions: Vec<(String, String)>,

    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Yaml)]
    pub output: Output,

    /// Cache directory [default: $FLOTILLA_HOME/cache/git, FLOTILLA_HOME
    /// defaulting to ~/.flotilla].
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,

    /// Use only what the cache holds; do not contact remotes.
    #[arg(long)]
    pub offline: bool,

    /// kubeconfig whose contexts are the clusters generator's clusters
    /// [default: $KUBECONFIG, else ~/.kube/config].
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// More clusters: Argo CD cluster Secrets, or documents with name, server
    /// and labels. Repeatable.
    #[arg(long = "clusters", value_name = "FILE")]
    pub clusters: Vec<PathBuf>,

    /// Match git files generator paths with doublestar globs (Argo CD's
    /// "new git file globbing") instead of git pathspecs.
    #[arg(long)]
    pub new_git_file_globbing: bool,

    /// Refuse unknown fields anywhere (by default only in generators).
    #[arg(long)]
    pub strict: bool,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// YAML documents separated by `---`.
    Yaml,
    /// A JSON array of Applications.
    Json,
    /// One Application name per line.
    Names,
}

/// Run an `appset` subcommand, printing to standard output.
pub async fn run(cmd: AppsetCmd) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match run_to(cmd, &mut out).await {
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            Ok(())
        }
        other => other,
    }
}

/// Run an `appset` subcommand, writing its output to `out`.
pub async fn run_to(cmd: AppsetCmd, out: &mut dyn Write) -> Result<()> {
    match cmd {
        AppsetCmd::Generate(args) => {
            let apps = generate_file(&args).await?;
            write_applications(&apps, args.output, out)
        }
    }
}

/// The Applications of every ApplicationSet in `args.file`, in document order.
pub async fn generate_file(args: &GenerateArgs) -> Result<Vec<Application>> {
    let (text, shown) = read_input(&args.file)?;
    let sets = read_application_sets(&text, &shown)?;
    if sets.is_empty() {
        bail!("{shown}: no ApplicationSet in this file");
    }
    let clusters = if sets.iter().any(|s| uses_clusters(&s.appset)) {
        load_clusters(args)?
    } else {
        Vec::new()
    };
    let options = GenerateOptions {
        glob_mode: if args.new_git_file_globbing {
            GlobMode::Doublestar
        } else {
            GlobMode::Git
        },
        strict: args.strict,
        ..GenerateOptions::default()
    };
    let cache = crate::repo::open_cache_at(
        args.cache.as_deref(),
        CacheOptions::default(),
        &args.substitutions,
    )?;
    let mut repos = RepoSnapshots::new(
        &cache,
        if args.offline {
            Resolution::Offline
        } else {
            Resolution::Remote
        },
    );
    let mut apps: Vec<Application> = Vec::new();
    let mut seen: HashMap<(String, String), String> = HashMap::new();
    for located in &sets {
        let generated = expand(located, &clusters, &options, &mut repos).await?;
        for app in generated.into_iter().map(|g| g.application) {
            let key = (
                app.namespace().unwrap_or_default().to_string(),
                app.name().to_string(),
            );
            let from = format!(
                "ApplicationSet {:?} ({})",
                located.appset.name(),
                located.location
            );
            if let Some(first) = seen.get(&key) {
                bail!(
                    "Application {:?} is generated twice: by {first} and by {from}",
                    app.name()
                );
            }
            seen.insert(key, from);
            apps.push(app);
        }
    }
    Ok(apps)
}

fn read_input(file: &Path) -> Result<(String, String)> {
    if file == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading standard input")?;
        return Ok((text, "<stdin>".to_string()));
    }
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    Ok((text, file.display().to_string()))
}

/// Clusters for the clusters generator: kubeconfig contexts, then `--clusters` files.
fn load_clusters(args: &GenerateArgs) -> Result<Vec<Cluster>> {
    let kubeconfig = match &args.kubeconfig {
        Some(path) => Some(
            kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("reading kubeconfig {}", path.display()))?,
        ),
        None => {
            let from_env = std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty());
            let default = std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".kube").join("config"))
                .filter(|p| p.is_file());
            if from_env || default.is_some() {
                Some(kube::config::Kubeconfig::read().context("reading the kubeconfig")?)
            } else {
                tracing::warn!(
                    "no kubeconfig ($KUBECONFIG, ~/.kube/config): the clusters generator sees only --clusters"
                );
                None
            }
        }
    };
    let mut clusters = kubeconfig
        .as_ref()
        .map(clusters_from_kubeconfig)
        .unwrap_or_default();
    for file in &args.clusters {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        for cluster in read_clusters(&text, &file.display().to_string())? {
            match clusters.iter_mut().find(|c| c.name == cluster.name) {
                Some(existing) => *existing = cluster,
                None => clusters.push(cluster),
            }
        }
    }
    Ok(clusters)
}

pub use flotilla_controller::appsets::clusters_from_kubeconfig;

fn write_applications(apps: &[Application], output: Output, out: &mut dyn Write) -> Result<()> {
    let mut buf = std::io::BufWriter::new(out);
    match output {
        Output::Names => {
            for app in apps {
                writeln!(buf, "{}", app.name())?;
            }
        }
        Output::Json => {
            serde_json::to_writer_pretty(&mut buf, apps)?;
            writeln!(buf)?;
        }
        Output::Yaml => {
            for (i, app) in apps.iter().enumerate() {
                if i > 0 {
                    writeln!(buf, "---")?;
                }
                buf.write_all(serde_yaml_ng::to_string(app)?.as_bytes())?;
            }
        }
    }
    buf.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: AppsetCmd,
    }

    fn git(dir: &Path, args: &[&str]) {
        let out = std::process::Command::new("git")
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@t.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@t.invalid")
            .args(args)
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    async fn run_args(args: &[&str]) -> Result<String> {
        let cli = Cli::try_parse_from(std::iter::once("appset").chain(args.iter().copied()))?;
        let mut out = Vec::new();
        run_to(cli.cmd, &mut out).await?;
        Ok(String::from_utf8(out)?)
    }

    const APPSET: &str = r#"apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: gen-algo
  namespace: argocd
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
    - git:
        repoURL: https://github.com/de-marauder/multi-region-eks.git
        revision: HEAD
        files:
          - path: "manifests/overlays/**/config.json"
        values:
          region: "{{ .cluster.region }}"
          server: "{{ .cluster.server }}"
          environment: "{{ index .path.segments 2 }}"
  template:
    metadata:
      name: gen-algo-{{ .values.environment }}-{{ .values.region }}
      namespace: argocd
    spec:
      project: default
      source:
        repoURL: "https://github.com/de-marauder/multi-region-eks"
        targetRevision: HEAD
        path: "{{ .path.path }}"
      destination:
        server: "{{ .values.server}}"
        namespace: "gen-algo-{{ .values.environment }}-{{ .values.region }}"
"#;

    #[test]
    fn parses_arguments() {
        let cli = Cli::try_parse_from([
            "appset",
            "generate",
            "apps.yaml",
            "--repo",
            "https://example.com/r=/tmp/r",
            "-o",
            "names",
            "--clusters",
            "c.yaml",
        ])
        .unwrap();
        let AppsetCmd::Generate(args) = cli.cmd;
        assert_eq!(args.file, PathBuf::from("apps.yaml"));
        assert_eq!(args.output, Output::Names);
        assert_eq!(
            args.substitutions,
            vec![("https://example.com/r".to_string(), "/tmp/r".to_string())]
        );
        assert!(Cli::try_parse_from(["appset", "generate", "f", "--repo", "x"]).is_err());
        assert!(Cli::try_parse_from(["appset", "generate", "f", "-o", "table"]).is_err());
    }

    #[tokio::test]
    async fn generates_from_a_substituted_repository() {
        let tmp = tempfile::TempDir::new().unwrap();
        let repo = tmp.path().join("multi-region-eks");
        for (env, region) in [("dev", "us-east-2"), ("prod", "eu-west-1")] {
            let dir = repo.join(format!("manifests/overlays/{env}/{region}"));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(
                dir.join("config.json"),
                format!(
                    r#"{{"cluster": {{"name": "{env}", "region": "{region}", "server": "https://{env}.example.com"}}}}"#
                ),
            )
            .unwrap();
        }
        git(&repo, &["init", "-q", "-b", "main"]);
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-q", "-m", "layout"]);
        let file = tmp.path().join("appset.yaml");
        std::fs::write(&file, APPSET).unwrap();
        let cache = tmp.path().join("cache").display().to_string();
        let sub = format!(
            "https://github.com/de-marauder/multi-region-eks.git={}",
            repo.display()
        );
        let file_arg = file.display().to_string();
        let base = [
            "generate",
            file_arg.as_str(),
            "--cache",
            cache.as_str(),
            "--repo",
            sub.as_str(),
        ];

        let mut args = base.to_vec();
        args.extend(["-o", "names"]);
        assert_eq!(
            run_args(&args).await.unwrap(),
            "gen-algo-dev-us-east-2\ngen-algo-prod-eu-west-1\n"
        );

        let mut args = base.to_vec();
        args.extend(["-o", "json"]);
        let json: serde_json::Value =
            serde_json::from_str(&run_args(&args).await.unwrap()).unwrap();
        assert_eq!(json.as_array().unwrap().len(), 2);
        assert_eq!(
            json[1]["spec"]["destination"]["server"],
            "https://prod.example.com"
        );
        assert_eq!(
            json[1]["spec"]["destination"]["namespace"],
            "gen-algo-prod-eu-west-1"
        );

        let yaml = run_args(&base).await.unwrap();
        let docs: Vec<Application> = serde_yaml_ng::Deserializer::from_str(&yaml)
            .map(|d| serde::Deserialize::deserialize(d).unwrap())
            .collect();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].name(), "gen-algo-dev-us-east-2");

        // Offline: what the cache now holds.
        let mut args = base.to_vec();
        args.extend(["--offline", "-o", "names"]);
        assert_eq!(run_args(&args).await.unwrap().lines().count(), 2);

        // Errors name the file of the ApplicationSet and the config.json.
        std::fs::write(
            repo.join("manifests/overlays/dev/us-east-2/config.json"),
            "{\"cluster\": {\"name\": \"dev\", // comment\n \"region\": \"x\"}}",
        )
        .unwrap();
        git(&repo, &["commit", "-q", "-am", "comment"]);
        let err = format!("{:#}", run_args(&base).await.unwrap_err());
        assert!(err.contains(&format!("{}:1", file.display())), "{err}");
        assert!(
            err.contains("manifests/overlays/dev/us-east-2/config.json:1:"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn clusters_come_from_kubeconfig_and_cluster_files() {
        let tmp = tempfile::TempDir::new().unwrap();
        let kubeconfig = tmp.path().join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c1\n  cluster: {server: 'https://127.0.0.1:6443'}\n- name: c2\n  cluster: {server: 'https://127.0.0.2:6443'}\ncontexts:\n- name: lab-eu\n  context: {cluster: c1, user: u}\n- name: lab-us\n  context: {cluster: c2, user: u}\nusers:\n- name: u\n  user: {token: t}\n",
        )
        .unwrap();
        let clusters = tmp.path().join("clusters.yaml");
        std::fs::write(
            &clusters,
            "- name: lab-us\n  server: https://127.0.0.2:6443\n  labels: {env: prod}\n",
        )
        .unwrap();
        let file = tmp.path().join("appset.yaml");
        std::fs::write(
            &file,
            "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {name: c}\nspec:\n  goTemplate: true\n  generators:\n  - clusters: {}\n  - clusters:\n      selector: {matchLabels: {env: prod}}\n      template: {metadata: {name: 'prod-{{ .name }}'}}\n  template:\n    metadata: {name: '{{ .name }}'}\n    spec:\n      project: default\n      source: {repoURL: 'https://x', path: p}\n      destination: {server: '{{ .server }}'}\n",
        )
        .unwrap();
        let out = run_args(&[
            "generate",
            &file.display().to_string(),
            "--kubeconfig",
            &kubeconfig.display().to_string(),
            "--clusters",
            &clusters.display().to_string(),
            "-o",
            "names",
        ])
        .await
        .unwrap();
        assert_eq!(out, "lab-eu\nlab-us\nprod-lab-us\n");
    }

    #[tokio::test]
    async fn a_file_without_application_sets_is_an_error() {
        let tmp = tempfile::TempDir::new().unwrap();
        let file = tmp.path().join("x.yaml");
        std::fs::write(
            &file,
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
        )
        .unwrap();
        let err = format!(
            "{:#}",
            run_args(&["generate", &file.display().to_string()])
                .await
                .unwrap_err()
        );
        assert!(err.contains("no ApplicationSet"), "{err}");
    }
}
