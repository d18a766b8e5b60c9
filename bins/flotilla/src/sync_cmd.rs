//! `flotilla diff|sync|status -f FILE [--repo URL=LOCAL]... [--dry-run]`:
//! compare Applications with their clusters, sync them, or show their state.
//!
//! FILE holds Argo CD Applications (one or more YAML documents). Destinations
//! are found in the kubeconfig (`--kubeconfig`, else `$KUBECONFIG` or
//! `~/.kube/config`): `destination.name` is a context or cluster name,
//! `destination.server` an API server URL.
//!
//! Getting the desired manifests of an Application is one function,
//! [`desired_manifests`]: today it reads plain YAML directories (a source's
//! `path` inside a local checkout given with `--repo URL=LOCAL`, a `file://`
//! repoURL or a local directory); the render and appset crates plug in there
//! and in [`load_applications`].
//!
//! Exit codes: `diff` 0 in sync, 1 differences, 2 error; `sync` 0 when every
//! Application synced, 1 otherwise; `status` 0 unless an error happened.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use flotilla_core::{Application, ApplicationSource, Location, Manifest, APPLICATION_KIND};
use flotilla_sync::{
    AppStatus, ClusterRegistry, ProgressEvent, ResourceOperation, ResourceResult,
    ResourceSyncStatus, SourceError, SyncEngine, SyncResult, SyncSettings,
};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// Arguments of `flotilla diff`, `flotilla sync` and `flotilla status`.
#[derive(Debug, Clone, Args)]
pub struct SyncArgs {
    /// File holding the Applications.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: PathBuf,

    /// Read repository URL from LOCAL (a checkout or directory) instead;
    /// URLs are compared after normalisation. Repeatable.
    #[arg(long = "repo", value_name = "URL=LOCAL", value_parser = parse_repo)]
    pub repos: Vec<(String, PathBuf)>,

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
}

fn parse_repo(text: &str) -> Result<(String, PathBuf), String> {
    let (url, local) = text
        .split_once('=')
        .ok_or_else(|| format!("expected URL=LOCAL, got {text:?}"))?;
    if url.is_empty() || local.is_empty() {
        return Err(format!("expected URL=LOCAL, got {text:?}"));
    }
    let local = local.strip_prefix("file://").unwrap_or(local);
    Ok((url.to_string(), PathBuf::from(local)))
}

/// Normalises a repository URL for comparison: scheme and host in lower
/// case, no `.git` suffix, no trailing slash.
pub fn normalize_repo_url(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    let url = url.strip_suffix(".git").unwrap_or(url);
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
            format!(
                "{}://{}/{}",
                scheme.to_ascii_lowercase(),
                host.to_ascii_lowercase(),
                path
            )
            .trim_end_matches('/')
            .to_string()
        }
        None => url.to_string(),
    }
}

/// Reads the Applications of FILE (YAML, several documents allowed).
///
/// ApplicationSets are reported as not expandable here yet: the appset crate
/// expands them into Applications at this point.
pub fn load_applications(file: &Path) -> anyhow::Result<Vec<Application>> {
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
            "ApplicationSet" => bail!(
                "{} (document {}): ApplicationSet expansion is not available in this build",
                file.display(),
                i + 1
            ),
            other => bail!(
                "{} (document {}): expected an Application, found kind {other:?}",
                file.display(),
                i + 1
            ),
        }
    }
    if apps.is_empty() {
        bail!("{}: no Application found", file.display());
    }
    Ok(apps)
}

/// Where a repository URL is read from: a `--repo` substitution, a
/// `file://` URL, or a local path.
fn local_repo(url: &str, repos: &[(String, PathBuf)]) -> Result<PathBuf, SourceError> {
    let wanted = normalize_repo_url(url);
    if let Some((_, local)) = repos.iter().find(|(u, _)| normalize_repo_url(u) == wanted) {
        return Ok(local.clone());
    }
    if let Some(path) = url.strip_prefix("file://") {
        return Ok(PathBuf::from(path));
    }
    let path = Path::new(url);
    if path.is_absolute() && path.is_dir() {
        return Ok(path.to_path_buf());
    }
    Err(SourceError::msg(format!(
        "repository {url} is not available locally: pass --repo {url}=LOCAL"
    )))
}

/// Limits on what one source may read.
const MAX_FILES: usize = 10_000;
const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// The desired manifests of an Application: every source rendered, in order.
///
/// Plain YAML directories only for now (`directory.recurse` honoured);
/// the render crate takes over here for kustomize and Helm sources.
pub fn desired_manifests(
    app: &Application,
    repos: &[(String, PathBuf)],
) -> Result<Vec<Manifest>, SourceError> {
    let mut out = Vec::new();
    for source in app.sources() {
        if source.is_ref_only() {
            continue;
        }
        out.extend(render_source(source, repos)?);
    }
    Ok(out)
}

fn render_source(
    source: &ApplicationSource,
    repos: &[(String, PathBuf)],
) -> Result<Vec<Manifest>, SourceError> {
    if source.is_helm_chart() {
        return Err(SourceError::msg(format!(
            "Helm chart sources are not available in this build (chart {})",
            source.chart.as_deref().unwrap_or("")
        )));
    }
    let url = source
        .repo_url
        .as_deref()
        .ok_or_else(|| SourceError::msg("source has no repoURL"))?;
    let root = local_repo(url, repos)?;
    let rel = source.path.as_deref().unwrap_or(".");
    let rel_path = Path::new(rel);
    if rel_path.is_absolute()
        || rel_path
            .components()
            .any(|c| matches!(c, Component::ParentDir))
    {
        return Err(SourceError::msg(format!(
            "source path {rel:?} leaves the repository"
        )));
    }
    let dir = root.join(rel_path);
    let canonical_root = root
        .canonicalize()
        .map_err(|e| SourceError::msg(format!("repository {}: {e}", root.display())))?;
    let canonical_dir = dir
        .canonicalize()
        .map_err(|e| SourceError::msg(format!("{url} path {rel}: {e}")))?;
    if !canonical_dir.starts_with(&canonical_root) {
        return Err(SourceError::msg(format!(
            "source path {rel:?} leaves the repository (symlink)"
        )));
    }
    for name in [
        "kustomization.yaml",
        "kustomization.yml",
        "Kustomization",
        "Chart.yaml",
    ] {
        if canonical_dir.join(name).exists() {
            return Err(SourceError::msg(format!(
                "{url} path {rel}: {name} found, but kustomize and Helm rendering are not available in this build"
            )));
        }
    }
    let recurse = source
        .directory
        .as_ref()
        .and_then(|d| d.recurse)
        .unwrap_or(false);
    let mut files = Vec::new();
    collect_files(&canonical_dir, recurse, &mut files)?;
    files.sort();
    let mut manifests = Vec::new();
    for file in files {
        let shown = file
            .strip_prefix(&canonical_root)
            .unwrap_or(&file)
            .display()
            .to_string();
        manifests.extend(read_yaml_file(&file, &shown)?);
    }
    Ok(manifests)
}

fn collect_files(dir: &Path, recurse: bool, out: &mut Vec<PathBuf>) -> Result<(), SourceError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| SourceError::msg(format!("reading {}: {e}", dir.display())))?;
    for entry in entries {
        let entry =
            entry.map_err(|e| SourceError::msg(format!("reading {}: {e}", dir.display())))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let file_type = entry
            .file_type()
            .map_err(|e| SourceError::msg(format!("{}: {e}", path.display())))?;
        if file_type.is_symlink() {
            continue;
        }
        if file_type.is_dir() {
            if recurse {
                collect_files(&path, recurse, out)?;
            }
        } else if name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".json") {
            out.push(path);
            if out.len() > MAX_FILES {
                return Err(SourceError::msg(format!(
                    "more than {MAX_FILES} manifest files under {}",
                    dir.display()
                )));
            }
        }
    }
    Ok(())
}

fn read_yaml_file(path: &Path, shown: &str) -> Result<Vec<Manifest>, SourceError> {
    use serde::Deserialize;
    let size = std::fs::metadata(path)
        .map_err(|e| SourceError::msg(format!("{shown}: {e}")))?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(SourceError::msg(format!(
            "{shown}: {size} bytes, larger than the {MAX_FILE_BYTES}-byte limit"
        )));
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| SourceError::msg(format!("{shown}: {e}")))?;
    let mut out = Vec::new();
    for (i, doc) in serde_yaml_ng::Deserializer::from_str(&text).enumerate() {
        let location = Location::in_file(shown).with_document(i as u32 + 1);
        let value = serde_json::Value::deserialize(doc)
            .map_err(|e| SourceError::msg(format!("{location}: {e}")))?;
        match value {
            serde_json::Value::Null => {}
            serde_json::Value::Object(ref map)
                if map.get("kind").and_then(|k| k.as_str()) == Some("List") =>
            {
                for item in map
                    .get("items")
                    .and_then(|i| i.as_array())
                    .cloned()
                    .unwrap_or_default()
                {
                    out.push(
                        Manifest::from_value_at(item, location.clone())
                            .map_err(SourceError::new)?,
                    );
                }
            }
            other => out.push(Manifest::from_value_at(other, location).map_err(SourceError::new)?),
        }
    }
    Ok(out)
}

fn registry(args: &SyncArgs) -> anyhow::Result<Arc<ClusterRegistry>> {
    let registry = match &args.kubeconfig {
        Some(path) => ClusterRegistry::from_kubeconfig_file(path)?,
        None => ClusterRegistry::from_default_kubeconfig()?,
    };
    Ok(Arc::new(registry))
}

fn selected(args: &SyncArgs) -> anyhow::Result<Vec<Application>> {
    let apps = load_applications(&args.file)?;
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
            args.file.display()
        );
    }
    Ok(chosen)
}

/// `flotilla diff`: unified diffs of every Application against its
/// cluster. Exit code 0 in sync, 1 with differences, 2 on error.
pub async fn run_diff(args: SyncArgs) -> anyhow::Result<i32> {
    let (apps, engine) = match selected(&args).and_then(|a| Ok((a, registry(&args)?))) {
        Ok((apps, registry)) => (apps, SyncEngine::new(registry)),
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(2);
        }
    };
    let mut differences = false;
    let mut failed = false;
    let mut statuses = Vec::new();
    for app in &apps {
        let desired = desired_manifests(app, &args.repos);
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
    let apps = selected(&args)?;
    let engine = SyncEngine::new(registry(&args)?);
    let mut failed = false;
    let mut statuses: Vec<AppStatus> = Vec::new();
    for app in &apps {
        match engine
            .compare(app, desired_manifests(app, &args.repos))
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
    let apps = selected(&args)?;
    let engine = SyncEngine::with_settings(
        registry(&args)?,
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
            .sync_with_retry(app, desired_manifests(app, &args.repos), &settings)
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
    const HEADER: [&str; 5] = ["APPLICATION", "RESOURCE", "STATUS", "HEALTH", "MESSAGE"];
    let mut widths = HEADER.map(str::len);
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r.iter()).take(4) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i < 4 {
                out.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            } else {
                out.push_str(cell);
            }
        }
        println!("{}", out.trim_end());
    };
    line(HEADER);
    for r in rows {
        line([&r[0], &r[1], &r[2], &r[3], &r[4]]);
    }
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

    #[test]
    fn repository_urls_are_normalised() {
        assert_eq!(
            normalize_repo_url("HTTPS://GitHub.com/Org/Repo.git/"),
            "https://github.com/Org/Repo"
        );
        assert_eq!(
            normalize_repo_url("https://github.com/org/repo"),
            normalize_repo_url("https://github.com/org/repo.git")
        );
    }

    #[test]
    fn plain_directories_are_read_with_locations() {
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
        let repos = vec![(
            "https://git.example/r".to_string(),
            dir.path().to_path_buf(),
        )];
        let m = desired_manifests(&app, &repos).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(
            m[1].location.as_ref().unwrap().to_string(),
            "apps/web/a.yaml (document 2)"
        );
        let mut recursive = app.clone();
        recursive.spec.source.as_mut().unwrap().directory =
            Some(flotilla_core::ApplicationSourceDirectory {
                recurse: Some(true),
                ..Default::default()
            });
        assert_eq!(desired_manifests(&recursive, &repos).unwrap().len(), 3);
        let mut escaping = app.clone();
        escaping.spec.source.as_mut().unwrap().path = Some("../x".into());
        assert!(desired_manifests(&escaping, &repos).is_err());
        assert!(desired_manifests(&app, &[]).is_err());
    }
}
