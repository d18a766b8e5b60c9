//! `flotilla diff|sync|status -f FILE [--repo URL=LOCAL]... [--dry-run]`:
//! compare Applications with their clusters, sync them, or show their state.
//!
//! FILE holds Argo CD Applications (one or more YAML documents). Destinations
//! are found in the kubeconfig (`--kubeconfig`, else `$KUBECONFIG` or
//! `~/.kube/config`): `destination.name` is a context or cluster name,
//! `destination.server` an API server URL.
//!
//! Getting the desired manifests of an Application is one function,
//! [`desired_manifests`]: each source's repository is read through the Git
//! cache (`--repo URL=LOCAL` substitutes a local checkout or directory) and
//! rendered by `flotilla-render` (kustomizations and plain directories).
//!
//! Exit codes: `diff` 0 in sync, 1 differences, 2 error; `sync` 0 when every
//! Application synced, 1 otherwise; `status` 0 unless an error happened.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use flotilla_controller::source::SourceResolver;
use flotilla_core::{Application, Manifest, APPLICATION_KIND};
use flotilla_sync::{
    AppStatus, ClusterRegistry, ProgressEvent, ResourceOperation, ResourceResult,
    ResourceSyncStatus, SourceError, SyncEngine, SyncResult, SyncSettings,
};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// Arguments of `flotilla diff`, `flotilla sync` and `flotilla status`.
#[derive(Debug, Clone, Args)]
pub struct SyncArgs {
    /// File holding Applications and/or ApplicationSets (repeatable, read
    /// in order, as `kubectl apply -f a -f b`).
    #[arg(short = 'f', long = "file", value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    /// Read repository URL from LOCAL (a checkout or directory) instead;
    /// URLs are compared after normalisation. Repeatable.
    #[arg(long = "repo", value_name = "URL=LOCAL", value_parser = crate::repo::parse_substitution)]
    pub repos: Vec<(String, String)>,

    /// Validate with server-side dry runs and report; change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// kubeconfig to find destinations in [default: $KUBECONFIG, else ~/.kube/config].
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// Only the Applications with these names (repeatable).
    #[arg(long = "app", value_name = "NAME")]
    pub apps: Vec<String>,

    /// Output: `table` (default), `json` or `yaml`.
    #[arg(short = 'o', long, default_value = "table", value_parser = ["table", "json", "yaml"])]
    pub output: String,

    /// Prune resources no longer in Git even when `automated.prune` is off.
    #[arg(long)]
    pub prune: bool,

    /// Seconds a wave may take to become healthy.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub timeout: u64,

    /// Git cache directory [default: $FLOTILLA_HOME/cache/git]; charts are
    /// cached beside it, in DIR/../charts.
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
}

/// Reads the Applications of every FILE (YAML, several documents allowed).
///
/// ApplicationSets are expanded into their Applications with the appset
/// crate (their repositories read through the same cache and `--repo`
/// substitutions, clusters from the kubeconfig).
pub async fn load_applications(args: &SyncArgs) -> anyhow::Result<Vec<Application>> {
    let mut apps = Vec::new();
    for file in &args.files {
        apps.extend(load_file(args, file).await?);
    }
    Ok(apps)
}

async fn load_file(args: &SyncArgs, file: &Path) -> anyhow::Result<Vec<Application>> {
    let mut has_sets = false;
    use serde::Deserialize;
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let mut apps = Vec::new();
    for (i, doc) in serde_yaml_ng::Deserializer::from_str(&text).enumerate() {
        let value = serde_json::Value::deserialize(doc)
            .with_context(|| format!("{} (document {}): not valid YAML", file.display(), i + 1))?;
        if value.is_null() {
            continue;
        }
        let kind = value.get("kind").and_then(|k| k.as_str()).unwrap_or("");
        match kind {
            APPLICATION_KIND => {
                let app: Application = serde_json::from_value(value).with_context(|| {
                    format!(
                        "{} (document {}): not an Application",
                        file.display(),
                        i + 1
                    )
                })?;
                app.check_type_meta()
                    .with_context(|| format!("{} (document {})", file.display(), i + 1))?;
                apps.push(app);
            }
            "ApplicationSet" => has_sets = true,
            other => bail!(
                "{} (document {}): expected an Application, found kind {other:?}",
                file.display(),
                i + 1
            ),
        }
    }
    if has_sets {
        let generate = crate::appset_cmd::GenerateArgs {
            file: file.to_path_buf(),
            substitutions: args.repos.clone(),
            output: crate::appset_cmd::Output::Yaml,
            cache: args.cache.clone(),
            offline: false,
            kubeconfig: args.kubeconfig.clone(),
            clusters: Vec::new(),
            new_git_file_globbing: false,
            strict: false,
        };
        apps.extend(crate::appset_cmd::generate_file(&generate).await?);
    }
    if apps.is_empty() {
        bail!("{}: no Application found", file.display());
    }
    Ok(apps)
}

/// The Git cache (`--cache`, else `$FLOTILLA_HOME/cache/git`) and the chart
/// cache beside it, with the `--repo URL=LOCAL` substitutions (Git and chart
/// repositories alike), wrapped in a source resolver; Helm sources take
/// `.Capabilities` from the clusters of `registry`.
pub fn resolver(
    args: &SyncArgs,
    registry: Option<Arc<ClusterRegistry>>,
) -> anyhow::Result<SourceResolver> {
    let cache = crate::repo::open_cache_at(
        args.cache.as_deref(),
        flotilla_git::CacheOptions::default(),
        &[],
    )?;
    let mut sources = SourceResolver::new(cache);
    for (from, to) in &args.repos {
        sources
            .substitute(from, to)
            .with_context(|| format!("--repo {from}={to}"))?;
    }
    if let Some(registry) = registry {
        sources = sources.with_clusters(registry);
    }
    // Vault placeholders in manifests are resolved when a Vault is configured
    // the way the `vault` CLI is (VAULT_ADDR, VAULT_TOKEN, VAULT_CACERT, ...).
    if std::env::var_os("VAULT_ADDR").is_some_and(|v| !v.is_empty()) {
        let vault = flotilla_vault::VaultClient::from_env().context("connecting to Vault")?;
        sources = sources.with_vault(vault);
    }
    Ok(sources)
}

/// The desired manifests of an Application: every source rendered from Git
/// (kustomizations, plain directories); a failure is handed to the engine,
/// which then changes nothing.
pub async fn desired_manifests(
    resolver: &SourceResolver,
    app: &Application,
) -> Result<Vec<Manifest>, SourceError> {
    resolver.desired(app).await.map_err(SourceError::new)
}

fn registry(args: &SyncArgs) -> anyhow::Result<Arc<ClusterRegistry>> {
    let registry = match &args.kubeconfig {
        Some(path) => ClusterRegistry::from_kubeconfig_file(path)?,
        None => ClusterRegistry::from_default_kubeconfig()?,
    };
    Ok(Arc::new(registry))
}

async fn selected(args: &SyncArgs) -> anyhow::Result<Vec<Application>> {
    let apps = load_applications(args).await?;
    if args.apps.is_empty() {
        return Ok(apps);
    }
    let chosen: Vec<Application> = apps
        .into_iter()
        .filter(|a| args.apps.iter().any(|n| n == a.name()))
        .collect();
    if chosen.is_empty() {
        bail!(
            "no Application named {} in {}",
            args.apps.join(", "),
            args.files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(chosen)
}

/// `flotilla diff`: unified diffs of every Application against its
/// cluster. Exit code 0 in sync, 1 with differences, 2 on error.
pub async fn run_diff(args: SyncArgs) -> anyhow::Result<i32> {
    let (apps, engine, sources) = match selected(&args).await.and_then(|a| {
        let registry = registry(&args)?;
        let sources = resolver(&args, Some(registry.clone()))?;
        Ok((a, registry, sources))
    }) {
        Ok((apps, registry, sources)) => (apps, SyncEngine::new(registry), sources),
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(2);
        }
    };
    let mut differences = false;
    let mut failed = false;
    let mut statuses = Vec::new();
    for app in &apps {
        let desired = desired_manifests(&sources, app).await;
        match engine.compare(app, desired).await {
            Ok(status) => {
                if !status.in_sync() {
                    differences = true;
                }
                statuses.push(status);
            }
            Err(e) => {
                eprintln!("error: application {}: {e}", app.name());
                failed = true;
            }
        }
    }
    match args.output.as_str() {
        "json" => println!("{}", serde_json::to_string_pretty(&statuses)?),
        "yaml" => print!("{}", serde_yaml_ng::to_string(&statuses)?),
        _ => {
            for status in &statuses {
                for r in &status.resources {
                    if r.status == ResourceSyncStatus::Synced {
                        continue;
                    }
                    println!(
                        "===== {} on {}: {} {} =====",
                        status.app, status.cluster, r.status, r.resource
                    );
                    match &r.diff {
                        Some(d) => print!("{d}"),
                        None if !r.message.is_empty() => println!("{}", r.message),
                        None => {}
                    }
                }
            }
        }
    }
    Ok(if failed {
        2
    } else if differences {
        1
    } else {
        0
    })
}

/// `flotilla status`: each Application's resources with sync status and
/// health. Exit code 0 unless an error happened.
pub async fn run_status(args: SyncArgs) -> anyhow::Result<i32> {
    let apps = selected(&args).await?;
    let registry = registry(&args)?;
    let engine = SyncEngine::new(registry.clone());
    let sources = resolver(&args, Some(registry))?;
    let mut failed = false;
    let mut statuses: Vec<AppStatus> = Vec::new();
    for app in &apps {
        match engine
            .compare(app, desired_manifests(&sources, app).await)
            .await
        {
            Ok(s) => statuses.push(s),
            Err(e) => {
                eprintln!("error: application {}: {e}", app.name());
                failed = true;
            }
        }
    }
    match args.output.as_str() {
        "json" => println!("{}", serde_json::to_string_pretty(&strip_diffs(&statuses))?),
        "yaml" => print!("{}", serde_yaml_ng::to_string(&strip_diffs(&statuses))?),
        _ => {
            let mut rows = Vec::new();
            for s in &statuses {
                for r in &s.resources {
                    rows.push(row(&s.app, r, r.status.to_string()));
                }
            }
            print_table(&rows);
            for s in &statuses {
                println!("{} on {}: {} and {}", s.app, s.cluster, s.sync, s.health);
            }
        }
    }
    Ok(i32::from(failed))
}

fn strip_diffs(statuses: &[AppStatus]) -> Vec<AppStatus> {
    statuses
        .iter()
        .cloned()
        .map(|mut s| {
            for r in &mut s.resources {
                r.diff = None;
            }
            s
        })
        .collect()
}

/// `flotilla sync`: syncs every Application (with its retry policy), shows
/// progress per wave and resource, and ends with a table. Exit code 0 when
/// every Application synced, 1 otherwise.
pub async fn run_sync(args: SyncArgs) -> anyhow::Result<i32> {
    let apps = selected(&args).await?;
    let registry = registry(&args)?;
    let sources = resolver(&args, Some(registry.clone()))?;
    let engine = SyncEngine::with_settings(
        registry,
        flotilla_sync::EngineSettings {
            health_timeout: Duration::from_secs(args.timeout),
            ..Default::default()
        },
    );
    let cancel = flotilla_sync::CancellationToken::new();
    let on_ctrl_c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel();
        }
    });
    let display = Arc::new(Display::new(args.dry_run));
    let mut results: Vec<SyncResult> = Vec::new();
    for app in &apps {
        let bar = display.start(app.name());
        let sink = display.clone();
        let settings = SyncSettings {
            dry_run: args.dry_run,
            prune: args.prune.then_some(true),
            wait_for_health: true,
            cancel: cancel.clone(),
            progress: Some(Arc::new(move |e: &ProgressEvent| sink.event(e))),
            ..Default::default()
        };
        let result = engine
            .sync_with_retry(app, desired_manifests(&sources, app).await, &settings)
            .await;
        display.finish(bar, &result);
        results.push(result);
    }
    match args.output.as_str() {
        "json" => println!("{}", serde_json::to_string_pretty(&results)?),
        "yaml" => print!("{}", serde_yaml_ng::to_string(&results)?),
        _ => {
            let mut rows = Vec::new();
            for result in &results {
                for r in &result.resources {
                    rows.push(row(&result.app, r, status_after(r)));
                }
            }
            print_table(&rows);
            for result in &results {
                match &result.error {
                    None if args.dry_run => println!(
                        "{} on {}: dry run, every change validated by the server, nothing changed",
                        result.app, result.cluster
                    ),
                    None => println!(
                        "{} on {}: synced in {:.1}s, {}",
                        result.app,
                        result.cluster,
                        result.duration.as_secs_f64(),
                        result.health
                    ),
                    Some(e) => println!("{}: sync failed: {e}", result.app),
                }
            }
        }
    }
    Ok(i32::from(results.iter().any(|r| !r.succeeded())))
}

/// The sync status a resource has after the sync.
fn status_after(r: &ResourceResult) -> String {
    match r.operation {
        ResourceOperation::Created
        | ResourceOperation::Configured
        | ResourceOperation::HookSucceeded => "Synced".into(),
        ResourceOperation::Pruned => "Pruned".into(),
        ResourceOperation::PruneSkipped => "Extraneous".into(),
        ResourceOperation::HookFailed => "Failed".into(),
        _ => r.status.to_string(),
    }
}

fn row(app: &str, r: &ResourceResult, status: String) -> [String; 5] {
    let health = r
        .health
        .as_ref()
        .map(|h| h.status.to_string())
        .unwrap_or_else(|| "-".into());
    let mut message = match r.operation {
        ResourceOperation::Unchanged => String::new(),
        op => op.to_string(),
    };
    let detail = if r.message.is_empty() {
        r.health
            .as_ref()
            .map(|h| h.message.clone())
            .unwrap_or_default()
    } else {
        r.message.clone()
    };
    if !detail.is_empty() {
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&detail);
    }
    let resource = match &r.hook {
        Some(hook) => format!("{} ({hook} hook)", r.resource),
        None => r.resource.clone(),
    };
    [app.to_string(), resource, status, health, message]
}

fn print_table(rows: &[[String; 5]]) {
    let mut table = vec![["APPLICATION", "RESOURCE", "STATUS", "HEALTH", "MESSAGE"]
        .map(String::from)
        .to_vec()];
    table.extend(rows.iter().map(|r| r.to_vec()));
    crate::lab::print_table(&table);
}

/// Progress on stderr: a spinner per Application with lines above it on a
/// terminal, plain lines otherwise.
struct Display {
    tty: bool,
    dry_run: bool,
    multi: MultiProgress,
    bars: Mutex<BTreeMap<String, ProgressBar>>,
}

impl Display {
    fn new(dry_run: bool) -> Self {
        Display {
            tty: std::io::stderr().is_terminal(),
            dry_run,
            multi: MultiProgress::new(),
            bars: Mutex::new(BTreeMap::new()),
        }
    }

    fn start(&self, app: &str) -> Option<ProgressBar> {
        if !self.tty {
            eprintln!("{app}: syncing");
            return None;
        }
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix}: {msg} [{elapsed}]")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(app.to_string());
        bar.set_message("comparing");
        bar.enable_steady_tick(Duration::from_millis(120));
        if let Ok(mut bars) = self.bars.lock() {
            bars.insert(app.to_string(), bar.clone());
        }
        Some(bar)
    }

    fn line(&self, text: String) {
        if self.tty {
            let _ = self.multi.println(text);
        } else {
            eprintln!("{text}");
        }
    }

    fn status(&self, app: &str, text: String) {
        if let Ok(bars) = self.bars.lock() {
            if let Some(bar) = bars.get(app) {
                bar.set_message(text);
            }
        }
    }

    fn event(&self, event: &ProgressEvent) {
        match event {
            ProgressEvent::Wave {
                app,
                phase,
                wave,
                resources,
            } => {
                let text = format!("{app}: {phase} wave {wave}: {resources} resource(s)");
                self.status(app, text.clone());
                self.line(text);
            }
            ProgressEvent::Resource {
                app,
                resource,
                operation,
                message,
            } => {
                let mut text = format!("{app}: {operation} {resource}");
                if !message.is_empty() {
                    text.push_str(&format!(" ({message})"));
                }
                self.line(text);
            }
            ProgressEvent::Waiting { app, what } => {
                let text = format!("waiting for {what}");
                if self.tty {
                    self.status(app, text);
                } else {
                    self.line(format!("{app}: {text}"));
                }
            }
        }
    }

    fn finish(&self, bar: Option<ProgressBar>, result: &SyncResult) {
        let text = match &result.error {
            None if self.dry_run => format!(
                "{}: dry run on {} validated, nothing changed",
                result.app, result.cluster
            ),
            None => format!(
                "{}: synced to {} in {:.1}s ({})",
                result.app,
                result.cluster,
                result.duration.as_secs_f64(),
                result.health
            ),
            Some(e) => format!("{}: sync failed: {e}", result.app),
        };
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        self.line(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    #[tokio::test]
    async fn plain_directories_are_rendered_from_a_substituted_repository() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("apps/web/sub")).unwrap();
        std::fs::write(
            dir.path().join("apps/web/a.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("apps/web/sub/c.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
        )
        .unwrap();
        let app: Application = serde_yaml_ng::from_str(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: web}\nspec:\n  source: {repoURL: 'https://git.example/r.git', path: apps/web}\n  destination: {name: x}\n",
        )
        .unwrap();
        let cache = tempfile::tempdir().unwrap();
        #[derive(clap::Parser)]
        struct Cmd {
            #[command(flatten)]
            args: SyncArgs,
        }
        let args = Cmd::try_parse_from([
            "sync".to_string(),
            "-f".into(),
            "apps.yaml".into(),
            "--cache".into(),
            // Charts are cached beside it (in the tempdir, not in /tmp).
            cache.path().join("git").display().to_string(),
            "--repo".into(),
            format!("https://git.example/r={}", dir.path().display()),
        ])
        .unwrap()
        .args;
        let sources = resolver(&args, None).unwrap();
        let m = desired_manifests(&sources, &app).await.unwrap();
        assert_eq!(m.len(), 2);
        let mut recursive = app.clone();
        recursive.spec.source.as_mut().unwrap().directory =
            Some(flotilla_core::ApplicationSourceDirectory {
                recurse: Some(true),
                ..Default::default()
            });
        assert_eq!(
            desired_manifests(&sources, &recursive).await.unwrap().len(),
            3
        );
        let mut escaping = app.clone();
        escaping.spec.source.as_mut().unwrap().path = Some("../x".into());
        assert!(desired_manifests(&sources, &escaping).await.is_err());
    }
}
