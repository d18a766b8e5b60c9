//! Chart loading as Helm's `pkg/chart/loader` does it: from a directory
//! (honouring `.helmignore`), from a `.tgz` (the top directory stripped;
//! path escapes, links and oversized content refused), or from files
//! already in memory (a Git tree); subcharts under `charts/` as
//! directories or archives, recursively; `Chart.yaml` (v1 with
//! `requirements.yaml`/`requirements.lock`, v2), `Chart.lock`,
//! `values.yaml`, `values.schema.json`, `templates/`, and every other file
//! kept for `.Files`.
//!
//! ```
//! use flotilla_helm::{load_files, ChartFile};
//! let chart = load_files(
//!     vec![
//!         ChartFile { name: "Chart.yaml".into(), data: b"apiVersion: v2\nname: web\nversion: 0.1.0\n".to_vec() },
//!         ChartFile { name: "templates/cm.yaml".into(), data: b"kind: ConfigMap\n".to_vec() },
//!         ChartFile { name: "charts/db/Chart.yaml".into(), data: b"apiVersion: v2\nname: db\nversion: 1.0.0\n".to_vec() },
//!     ],
//!     "web",
//! )
//! .unwrap();
//! assert_eq!(chart.templates[0].name, "templates/cm.yaml");
//! assert_eq!(chart.dependencies[0].metadata.name, "db");
//! ```

mod archive;
mod dir;
pub mod ignore;
mod meta;
mod tree;

use std::collections::BTreeMap;
use std::path::Path;

use flotilla_template::Value;

use crate::chart::{Chart, ChartFile};

pub use archive::archive_files;
pub use dir::load_dir_with;
pub use tree::{load_tree, load_tree_with};

/// Bounds on what loading may read (Helm's limits, plus a file count, a
/// nesting depth and a budget for a whole tree of nested archives).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadLimits {
    /// Decompressed bytes of one archive (Helm: 100 MiB).
    pub max_archive_bytes: u64,
    /// Bytes of one file (Helm: 5 MiB).
    pub max_file_bytes: u64,
    /// Entries of one archive or files of one directory.
    pub max_files: usize,
    /// Decompressed bytes of a chart and all its nested archives.
    pub max_total_bytes: u64,
    /// Nesting of subcharts.
    pub max_depth: usize,
}

impl Default for LoadLimits {
    fn default() -> Self {
        LoadLimits {
            max_archive_bytes: 100 * 1024 * 1024,
            max_file_bytes: 5 * 1024 * 1024,
            max_files: 20_000,
            max_total_bytes: 400 * 1024 * 1024,
            max_depth: 20,
        }
    }
}

/// A chart that cannot be loaded: where (chart origin, file, line) and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct LoadError {
    /// The chart's origin (directory, archive name, `repo@commit:path`).
    pub origin: String,
    /// The file, relative to the top chart (`charts/db/Chart.yaml`), or
    /// the archive entry, when one is to blame.
    pub file: Option<String>,
    /// 1-based line in `file`, for YAML syntax errors.
    pub line: Option<usize>,
    /// What is wrong, in Helm's words where Helm has them.
    pub message: String,
}

impl LoadError {
    pub(crate) fn new(origin: &str, message: impl Into<String>) -> LoadError {
        LoadError {
            origin: origin.to_string(),
            file: None,
            line: None,
            message: message.into(),
        }
    }

    pub(crate) fn in_file(origin: &str, file: &str, message: impl Into<String>) -> LoadError {
        let message = message.into();
        LoadError {
            origin: origin.to_string(),
            file: Some(file.to_string()),
            line: yaml_line(&message),
            message,
        }
    }

    fn render(&self) -> String {
        match (&self.file, self.line) {
            (Some(f), Some(l)) => format!("chart {}: {}:{}: {}", self.origin, f, l, self.message),
            (Some(f), None) => format!("chart {}: {}: {}", self.origin, f, self.message),
            _ => format!("chart {}: {}", self.origin, self.message),
        }
    }
}

/// The line of a YAML syntax error message (`... line 3 column 2`).
fn yaml_line(message: &str) -> Option<usize> {
    let i = message.find("line ")?;
    let digits: String = message[i + 5..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

/// Loads a chart from a directory or a `.tgz` file (Helm's `loader.Load`).
pub fn load(path: &Path) -> Result<Chart, LoadError> {
    let origin = path.display().to_string();
    let md = std::fs::metadata(path).map_err(|e| {
        LoadError::new(
            &origin,
            format!("stat {}: {}", origin, crate::values::io_reason(&e)),
        )
    })?;
    if md.is_dir() {
        return load_dir(path);
    }
    let data = std::fs::read(path).map_err(|e| {
        LoadError::new(
            &origin,
            format!("open {}: {}", origin, crate::values::io_reason(&e)),
        )
    })?;
    if !data.starts_with(b"\x1f\x8b\x08") {
        let msg = if origin.ends_with(".yml") || origin.ends_with(".yaml") {
            format!("file '{origin}' seems to be a YAML file, but expected a gzipped archive")
        } else {
            let kind = if std::str::from_utf8(&data[..data.len().min(512)]).is_ok() {
                "text/plain; charset=utf-8"
            } else {
                "application/octet-stream"
            };
            format!("file '{origin}' does not appear to be a gzipped archive; got '{kind}'")
        };
        return Err(LoadError::new(&origin, msg));
    }
    load_archive(&data, &origin)
}

/// Loads a chart directory (Helm's `loader.LoadDir`): `.helmignore`
/// applied, symbolic links followed as Helm follows them.
pub fn load_dir(path: &Path) -> Result<Chart, LoadError> {
    load_dir_with(path, &LoadLimits::default())
}

/// Loads a chart archive (`.tgz`) from memory (Helm's
/// `loader.LoadArchive`); `origin` names it in errors.
pub fn load_archive(data: &[u8], origin: &str) -> Result<Chart, LoadError> {
    load_archive_with(data, origin, &LoadLimits::default())
}

/// [`load_archive`] with explicit limits.
pub fn load_archive_with(
    data: &[u8],
    origin: &str,
    limits: &LoadLimits,
) -> Result<Chart, LoadError> {
    let mut budget = Budget::new(limits);
    load_archive_budget(data, origin, &mut budget, 0)
}

/// Loads a chart from files in memory, paths relative to the chart root
/// (Helm's `loader.LoadFiles`), as read from a Git tree.
pub fn load_files(files: Vec<ChartFile>, origin: &str) -> Result<Chart, LoadError> {
    let limits = LoadLimits::default();
    let mut budget = Budget::new(&limits);
    load_files_budget(files, origin, &mut budget, 0)
}

/// What is left to read of a chart tree.
pub(crate) struct Budget {
    pub limits: LoadLimits,
    pub remaining_total: u64,
}

impl Budget {
    pub fn new(limits: &LoadLimits) -> Budget {
        Budget {
            limits: *limits,
            remaining_total: limits.max_total_bytes,
        }
    }
}

fn load_archive_budget(
    data: &[u8],
    origin: &str,
    budget: &mut Budget,
    depth: usize,
) -> Result<Chart, LoadError> {
    let files = archive::read_archive(data, origin, budget)?;
    load_files_budget(files, origin, budget, depth)
}

fn strip_bom(mut data: Vec<u8>) -> Vec<u8> {
    if data.starts_with(b"\xEF\xBB\xBF") {
        data.drain(..3);
    }
    data
}

fn load_files_budget(
    files: Vec<ChartFile>,
    origin: &str,
    budget: &mut Budget,
    depth: usize,
) -> Result<Chart, LoadError> {
    if depth > budget.limits.max_depth {
        return Err(LoadError::new(
            origin,
            format!(
                "subcharts nested more than {} levels deep",
                budget.limits.max_depth
            ),
        ));
    }
    let mut metadata = None;
    for f in &files {
        if f.name == "Chart.yaml" {
            metadata = Some(meta::parse_metadata(&f.data).map_err(|e| {
                LoadError::in_file(origin, "Chart.yaml", format!("cannot load Chart.yaml: {e}"))
            })?);
        }
    }
    let mut c = Chart {
        metadata: metadata.clone().unwrap_or_default(),
        lock: None,
        templates: Vec::new(),
        values: Value::empty_map(),
        raw_values: None,
        schema: None,
        files: Vec::new(),
        dependencies: Vec::new(),
        origin: origin.to_string(),
    };
    let mut has_metadata = metadata.is_some();
    let mut subcharts: BTreeMap<String, Vec<ChartFile>> = BTreeMap::new();
    for f in files {
        let f = ChartFile {
            name: f.name,
            data: strip_bom(f.data),
        };
        let name = f.name.as_str();
        match name {
            "Chart.yaml" => {}
            "Chart.lock" | "requirements.lock" => {
                let lock = meta::parse_lock(&f.data).map_err(|e| {
                    LoadError::in_file(origin, name, format!("cannot load {name}: {e}"))
                })?;
                c.lock = Some(lock);
                if name == "requirements.lock" {
                    if !has_metadata {
                        has_metadata = true;
                    }
                    if c.metadata.api_version == "v1" {
                        c.files.push(f);
                    } else {
                        tracing::warn!(chart = origin, "Dependency locking is handled in Chart.lock since apiVersion \"v2\". We recommend migrating to Chart.lock.");
                    }
                }
            }
            "values.yaml" => {
                let text = String::from_utf8_lossy(&f.data).into_owned();
                c.values = crate::values::read_values(&f.data).map_err(|e| {
                    LoadError::in_file(
                        origin,
                        "values.yaml",
                        format!("cannot load values.yaml: {e}"),
                    )
                })?;
                c.raw_values = Some(text);
            }
            "values.schema.json" => c.schema = Some(f.data),
            "requirements.yaml" => {
                has_metadata = true;
                if c.metadata.api_version != "v1" {
                    tracing::warn!(chart = origin, "Dependencies are handled in Chart.yaml since apiVersion \"v2\". We recommend migrating dependencies to Chart.yaml.");
                }
                c.metadata.dependencies = meta::parse_requirements(&f.data).map_err(|e| {
                    LoadError::in_file(origin, name, format!("cannot load requirements.yaml: {e}"))
                })?;
                if c.metadata.api_version == "v1" {
                    c.files.push(f);
                }
            }
            _ if name.starts_with("templates/") => c.templates.push(f),
            _ if name.starts_with("charts/") => {
                if ext(name) == ".prov" {
                    c.files.push(f);
                    continue;
                }
                let rest = &name["charts/".len()..];
                let cname = rest.split('/').next().unwrap_or("").to_string();
                subcharts.entry(cname).or_default().push(ChartFile {
                    name: rest.to_string(),
                    data: f.data,
                });
            }
            _ => c.files.push(f),
        }
    }
    if !has_metadata {
        return Err(LoadError::new(origin, "Chart.yaml file is missing"));
    }
    meta::validate(&mut c.metadata).map_err(|e| LoadError::in_file(origin, "Chart.yaml", e))?;
    let parent_name = c.metadata.name.clone();
    for (n, files) in subcharts {
        if n.starts_with('_') || n.starts_with('.') {
            continue;
        }
        let sub_origin = format!("{origin}/charts/{n}");
        let wrap = |e: LoadError| LoadError {
            origin: origin.to_string(),
            file: Some(format!(
                "charts/{}{}",
                n,
                e.file
                    .as_deref()
                    .filter(|_| !n.ends_with(".tgz"))
                    .map(|f| format!("/{f}"))
                    .unwrap_or_default()
            )),
            line: e.line,
            message: format!(
                "error unpacking subchart {n} in {parent_name}: {}",
                e.message
            ),
        };
        let sc = if ext(&n) == ".tgz" {
            let Some(file) = files.into_iter().next() else {
                continue;
            };
            if file.name != n {
                return Err(LoadError::new(
                    origin,
                    format!(
                        "error unpacking subchart tar in {}: expected {}, got {}",
                        parent_name, n, file.name
                    ),
                ));
            }
            load_archive_budget(&file.data, &sub_origin, budget, depth + 1).map_err(wrap)?
        } else {
            let buff: Vec<ChartFile> = files
                .into_iter()
                .filter_map(|f| {
                    f.name.split_once('/').map(|(_, rest)| ChartFile {
                        name: rest.to_string(),
                        data: f.data,
                    })
                })
                .collect();
            load_files_budget(buff, &sub_origin, budget, depth + 1).map_err(wrap)?
        };
        c.dependencies.push(sc);
    }
    Ok(c)
}

/// Go's `filepath.Ext`.
fn ext(name: &str) -> &str {
    let base_start = name.rfind('/').map(|i| i + 1).unwrap_or(0);
    match name[base_start..].rfind('.') {
        Some(i) => &name[base_start + i..],
        None => "",
    }
}
