//! A Helm chart repository on loopback, for the lab, tests and the demo.
//!
//! [`ChartRepo::build`] turns directories into one repository:
//!
//! - `index.yaml` and `.tgz` files found in a directory are served as they
//!   are (the bytes on disk, never a copy);
//! - a `.tgz` that no `index.yaml` lists gets an entry generated from the
//!   `Chart.yaml` inside it;
//! - a chart directory (one holding `Chart.yaml`, the directory itself or a
//!   child of it) is packaged into a `.tgz` deterministically (sorted
//!   entries, fixed times and modes, `.helmignore` applied as Helm applies
//!   it) under the repository's work directory, and indexed.
//!
//! When a single directory holds an `index.yaml` that covers every archive in
//! it, that file is served byte for byte; otherwise one `index.yaml` is
//! generated in the shape `helm repo index` writes (entries by name,
//! versions newest first, `digest` the SHA-256 of the archive).
//!
//! [`ChartServer`] serves a built repository over HTTP on 127.0.0.1, with
//! optional basic authentication; `GET /healthz` always answers, without it.
//!
//! ```no_run
//! # async fn f() -> Result<(), flotilla_lab::LabError> {
//! use flotilla_lab::charts::{ChartRepo, ChartServer, ChartServerOptions};
//! let repo = ChartRepo::build(&["../shared/charts".into()], "/tmp/work".as_ref())?;
//! let server = ChartServer::start(ChartServerOptions::new(repo)).await?;
//! println!("{}/index.yaml", server.url());
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_yaml_ng::{Mapping, Value};
use sha2::{Digest, Sha256};

pub use crate::chart_server::{serve_config, ChartRequest, ChartServer, ChartServerOptions};
use crate::error::{io, LabError, Result};
use crate::helmignore::Ignore;
pub(crate) use crate::lab_services::lab_up;
pub use crate::lab_services::{ChartsState, ServeCommand};

/// The time written into packaged archives and generated indexes
/// (1980-01-01, as reproducible builds use), so the same sources always give
/// the same bytes and digests.
pub const FIXED_MTIME: u64 = 315_532_800;
const FIXED_TIME_RFC3339: &str = "1980-01-01T00:00:00Z";

/// Largest `Chart.yaml` read out of an archive.
const MAX_CHART_YAML: u64 = 1024 * 1024;
/// Most files packaged from one chart directory.
const MAX_FILES: usize = 10_000;

/// One chart version the repository holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChartEntry {
    /// Chart name.
    pub name: String,
    /// Chart version.
    pub version: String,
    /// The archive on disk.
    pub archive: PathBuf,
    /// Its path on the server (`consul-1.4.3.tgz`).
    pub url_path: String,
    /// SHA-256 of the archive, hex.
    pub digest: String,
}

/// A repository ready to serve: which file answers which path.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChartRepo {
    /// The source directories, as given.
    pub sources: Vec<PathBuf>,
    /// The `index.yaml` served at the root.
    pub index: PathBuf,
    /// Whether `index` is a source directory's own file (served unchanged).
    pub index_is_source: bool,
    /// Every archive, by its path on the server.
    pub files: BTreeMap<String, PathBuf>,
    /// Every chart version, by name then version as listed.
    pub charts: Vec<ChartEntry>,
}

fn bad(path: &Path, message: impl Into<String>) -> LabError {
    LabError::Charts {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn sha256_file(path: &Path) -> Result<String> {
    let mut f = fs::File::open(path).map_err(io("reading", path))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(io("reading", path))?;
    Ok(hex::encode(h.finalize()))
}

fn string_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Keys of Helm's chart metadata that an index entry carries.
const METADATA_KEYS: &[&str] = &[
    "annotations",
    "apiVersion",
    "appVersion",
    "condition",
    "dependencies",
    "deprecated",
    "description",
    "home",
    "icon",
    "keywords",
    "kubeVersion",
    "maintainers",
    "name",
    "sources",
    "tags",
    "type",
    "version",
];

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Sequence(s) => s.is_empty(),
        Value::Mapping(m) => m.is_empty(),
        _ => false,
    }
}

/// The index entry of an archive, from its `Chart.yaml`, as `helm repo
/// index` writes it: the chart's metadata (empty fields left out), plus
/// `created`, `digest` and `urls`, keys in alphabetical order.
fn index_entry(
    chart_yaml: &str,
    origin: &Path,
    digest: &str,
    url: &str,
) -> Result<(String, String, Value)> {
    let meta: Value =
        serde_yaml_ng::from_str(chart_yaml).map_err(|e| bad(origin, format!("Chart.yaml: {e}")))?;
    let Value::Mapping(meta) = meta else {
        return Err(bad(origin, "Chart.yaml is not a mapping"));
    };
    let name = meta
        .get("name")
        .and_then(string_of)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| bad(origin, "Chart.yaml has no `name`"))?;
    let version = meta
        .get("version")
        .and_then(string_of)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| bad(origin, "Chart.yaml has no `version`"))?;
    if semver::Version::parse(version.trim_start_matches('v')).is_err() {
        return Err(bad(
            origin,
            format!("Chart.yaml: version {version:?} is not a semantic version"),
        ));
    }
    let mut entry: BTreeMap<String, Value> = BTreeMap::new();
    for key in METADATA_KEYS {
        if let Some(v) = meta.get(*key) {
            if !is_empty(v) {
                entry.insert((*key).to_string(), v.clone());
            }
        }
    }
    entry
        .entry("apiVersion".into())
        .or_insert_with(|| Value::String("v1".into()));
    // Helm reads numbers in these fields as strings.
    for key in ["version", "appVersion", "kubeVersion"] {
        if let Some(v) = entry.get_mut(key) {
            if let Some(s) = string_of(v) {
                *v = Value::String(s);
            }
        }
    }
    entry.insert("created".into(), Value::String(FIXED_TIME_RFC3339.into()));
    entry.insert("digest".into(), Value::String(digest.into()));
    entry.insert(
        "urls".into(),
        Value::Sequence(vec![Value::String(url.into())]),
    );
    let map: Mapping = entry
        .into_iter()
        .map(|(k, v)| (Value::String(k), v))
        .collect();
    Ok((name, version, Value::Mapping(map)))
}

/// The `Chart.yaml` of a chart archive (the first `*/Chart.yaml` entry at
/// depth one).
pub fn chart_yaml_of_archive(path: &Path) -> Result<String> {
    let f = fs::File::open(path).map_err(io("reading", path))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let entries = archive
        .entries()
        .map_err(|e| bad(path, format!("not a gzipped tar archive: {e}")))?;
    for entry in entries {
        let entry = entry.map_err(|e| bad(path, format!("reading the archive: {e}")))?;
        let p = entry
            .path()
            .map_err(|e| bad(path, format!("reading the archive: {e}")))?
            .to_path_buf();
        let parts: Vec<_> = p.components().collect();
        if parts.len() == 2 && p.file_name().is_some_and(|n| n == "Chart.yaml") {
            let mut text = String::new();
            entry
                .take(MAX_CHART_YAML)
                .read_to_string(&mut text)
                .map_err(|e| bad(path, format!("reading Chart.yaml: {e}")))?;
            return Ok(text);
        }
    }
    Err(bad(path, "no <chart>/Chart.yaml in the archive"))
}

/// Files of a chart directory, relative with `/`, sorted, `.helmignore`
/// applied (Helm's loader rules: ignored directories are not entered).
fn chart_files(dir: &Path) -> Result<Vec<String>> {
    let ignore_path = dir.join(".helmignore");
    let ignore = match fs::read_to_string(&ignore_path) {
        Ok(text) => Ignore::parse(&text, &ignore_path)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ignore::parse("", &ignore_path)?,
        Err(e) => return Err(io("reading", &ignore_path)(e)),
    };
    let mut out = Vec::new();
    let mut stack = vec![String::new()];
    while let Some(rel) = stack.pop() {
        let abs = if rel.is_empty() {
            dir.to_path_buf()
        } else {
            dir.join(&rel)
        };
        let entries = fs::read_dir(&abs).map_err(io("reading", &abs))?;
        for e in entries {
            let e = e.map_err(io("reading", &abs))?;
            let name = e.file_name().to_string_lossy().into_owned();
            let child = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let path = e.path();
            let lmeta = fs::symlink_metadata(&path).map_err(io("inspecting", &path))?;
            let meta = if lmeta.file_type().is_symlink() {
                // Followed, as Helm does, but only when it stays in the chart.
                let target = fs::canonicalize(&path).map_err(io("resolving", &path))?;
                let root = fs::canonicalize(dir).map_err(io("resolving", dir))?;
                if !target.starts_with(&root) {
                    return Err(bad(
                        &path,
                        format!(
                            "symbolic link points out of the chart, to {}",
                            target.display()
                        ),
                    ));
                }
                fs::metadata(&path).map_err(io("inspecting", &path))?
            } else {
                lmeta
            };
            if ignore.ignored(&child, meta.is_dir()) {
                continue;
            }
            if meta.is_dir() {
                stack.push(child);
            } else if meta.is_file() {
                out.push(child);
                if out.len() > MAX_FILES {
                    return Err(bad(
                        dir,
                        format!("more than {MAX_FILES} files in the chart"),
                    ));
                }
            } else {
                return Err(bad(&path, "not a regular file or directory"));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Packages the chart directory `dir` into `out_dir/<name>-<version>.tgz`,
/// deterministically: entries `<name>/<path>` in sorted order, mode 0644,
/// owner 0, time [`FIXED_MTIME`]. Returns the archive and its `Chart.yaml`.
pub fn package_dir(dir: &Path, out_dir: &Path) -> Result<(PathBuf, String)> {
    let chart_yaml_path = dir.join("Chart.yaml");
    let chart_yaml =
        fs::read_to_string(&chart_yaml_path).map_err(io("reading", &chart_yaml_path))?;
    let (name, version, _) = index_entry(&chart_yaml, &chart_yaml_path, "", "")?;
    if name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(bad(
            &chart_yaml_path,
            format!("chart name {name:?} cannot be a file name"),
        ));
    }
    let files = chart_files(dir)?;
    fs::create_dir_all(out_dir).map_err(io("creating", out_dir))?;
    let out = out_dir.join(format!("{name}-{version}.tgz"));
    let tmp = out_dir.join(format!(".{name}-{version}.tgz.tmp"));
    let f = fs::File::create(&tmp).map_err(io("creating", &tmp))?;
    let gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(f, flate2::Compression::default());
    let mut builder = tar::Builder::new(gz);
    builder.mode(tar::HeaderMode::Deterministic);
    for rel in &files {
        let src = dir.join(rel);
        let data = fs::read(&src).map_err(io("reading", &src))?;
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(FIXED_MTIME);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, format!("{name}/{rel}"), data.as_slice())
            .map_err(io("writing", &tmp))?;
    }
    let gz = builder.into_inner().map_err(io("writing", &tmp))?;
    gz.finish().map_err(io("writing", &tmp))?;
    fs::rename(&tmp, &out).map_err(io("writing", &out))?;
    Ok((out, chart_yaml))
}

fn version_key(v: &str) -> Option<semver::Version> {
    semver::Version::parse(v.trim_start_matches('v')).ok()
}

/// What one source directory contributes.
struct Source {
    dir: PathBuf,
    index: Option<(PathBuf, Value)>,
    /// Archives the directory's own index lists, by file name.
    indexed: Vec<String>,
    /// Entries generated here: (name, version, entry).
    generated: Vec<(String, String, Value)>,
}

impl ChartRepo {
    /// Builds a repository from `sources` (directories: see the module
    /// documentation). Packaged archives and a generated index are written
    /// under `work` (created); source files are never copied or changed.
    pub fn build(sources: &[PathBuf], work: &Path) -> Result<Self> {
        if sources.is_empty() {
            return Err(bad(work, "no chart directories given"));
        }
        fs::create_dir_all(work).map_err(io("creating", work))?;
        let work = fs::canonicalize(work).map_err(io("resolving", work))?;
        let packages = work.join("packages");
        let mut files: BTreeMap<String, PathBuf> = BTreeMap::new();
        let mut charts: Vec<ChartEntry> = Vec::new();
        let mut parsed = Vec::new();
        let add_file =
            |url: &str, path: &Path, files: &mut BTreeMap<String, PathBuf>| match files.get(url) {
                Some(p) if p != path => Err(bad(
                    path,
                    format!(
                    "{url} is also in {}; file names must be unique across --charts directories",
                    p.display()
                ),
                )),
                _ => {
                    files.insert(url.to_string(), path.to_path_buf());
                    Ok(())
                }
            };
        for given in sources {
            let dir = fs::canonicalize(given).map_err(io("reading chart directory", given))?;
            if !dir.is_dir() {
                return Err(bad(given, "not a directory"));
            }
            let mut src = Source {
                dir: dir.clone(),
                index: None,
                indexed: Vec::new(),
                generated: Vec::new(),
            };
            let mut chart_dirs = Vec::new();
            let mut archives = Vec::new();
            if dir.join("Chart.yaml").is_file() {
                chart_dirs.push(dir.clone());
            } else {
                let mut entries: Vec<PathBuf> = fs::read_dir(&dir)
                    .map_err(io("reading", &dir))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .collect();
                entries.sort();
                for p in entries {
                    let fname = p
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    if p.is_dir() && p.join("Chart.yaml").is_file() {
                        chart_dirs.push(p);
                    } else if p.is_file() && fname == "index.yaml" {
                        let text = fs::read_to_string(&p).map_err(io("reading", &p))?;
                        let v: Value = serde_yaml_ng::from_str(&text)
                            .map_err(|e| bad(&p, format!("not a chart repository index: {e}")))?;
                        src.index = Some((p, v));
                    } else if p.is_file() && fname.ends_with(".tgz") {
                        archives.push((fname, p));
                    }
                }
            }
            // What the directory's own index lists.
            if let Some((ipath, index)) = &src.index {
                let entries = index
                    .get("entries")
                    .and_then(Value::as_mapping)
                    .ok_or_else(|| bad(ipath, "no `entries` mapping"))?;
                for (name, versions) in entries {
                    let name = string_of(name).unwrap_or_default();
                    for v in versions.as_sequence().into_iter().flatten() {
                        let version = v.get("version").and_then(string_of).unwrap_or_default();
                        let digest = v.get("digest").and_then(string_of).unwrap_or_default();
                        for url in v
                            .get("urls")
                            .and_then(Value::as_sequence)
                            .into_iter()
                            .flatten()
                        {
                            let Some(url) = url.as_str() else { continue };
                            if url.contains("://") || url.contains("..") || url.starts_with('/') {
                                continue;
                            }
                            let path = dir.join(url);
                            if !path.is_file() {
                                return Err(bad(
                                    ipath,
                                    format!("{name} {version}: {url} is not in {}", dir.display()),
                                ));
                            }
                            add_file(url, &path, &mut files)?;
                            src.indexed.push(url.to_string());
                            charts.push(ChartEntry {
                                name: name.clone(),
                                version: version.clone(),
                                archive: path,
                                url_path: url.to_string(),
                                digest: digest.clone(),
                            });
                        }
                    }
                }
            }
            for (fname, p) in archives {
                if src.indexed.contains(&fname) {
                    continue;
                }
                let digest = sha256_file(&p)?;
                let text = chart_yaml_of_archive(&p)?;
                let (name, version, entry) = index_entry(&text, &p, &digest, &fname)?;
                add_file(&fname, &p, &mut files)?;
                charts.push(ChartEntry {
                    name: name.clone(),
                    version: version.clone(),
                    archive: p,
                    url_path: fname,
                    digest,
                });
                src.generated.push((name, version, entry));
            }
            for cd in chart_dirs {
                let (archive, text) = package_dir(&cd, &packages)?;
                let digest = sha256_file(&archive)?;
                let fname = archive
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let (name, version, entry) =
                    index_entry(&text, &cd.join("Chart.yaml"), &digest, &fname)?;
                add_file(&fname, &archive, &mut files)?;
                charts.push(ChartEntry {
                    name: name.clone(),
                    version: version.clone(),
                    archive,
                    url_path: fname,
                    digest,
                });
                src.generated.push((name, version, entry));
            }
            parsed.push(src);
        }
        // One source with an index that covers everything: serve it unchanged.
        if let [only] = parsed.as_slice() {
            if let (Some((ipath, _)), true) = (&only.index, only.generated.is_empty()) {
                return Ok(ChartRepo {
                    sources: sources.to_vec(),
                    index: ipath.clone(),
                    index_is_source: true,
                    files,
                    charts,
                });
            }
        }
        let index = merged_index(&parsed)?;
        let text = serde_yaml_ng::to_string(&index)
            .map_err(|e| bad(&work, format!("writing the index: {e}")))?;
        let index_path = work.join("index.yaml");
        fs::write(&index_path, text).map_err(io("writing", &index_path))?;
        Ok(ChartRepo {
            sources: sources.to_vec(),
            index: index_path,
            index_is_source: false,
            files,
            charts,
        })
    }

    /// The chart versions named `name`.
    pub fn versions(&self, name: &str) -> Vec<&ChartEntry> {
        self.charts.iter().filter(|c| c.name == name).collect()
    }
}

fn merged_index(parsed: &[Source]) -> Result<Value> {
    let mut entries: BTreeMap<String, Vec<(String, Value)>> = BTreeMap::new();
    for src in parsed {
        if let Some((ipath, index)) = &src.index {
            let map = index
                .get("entries")
                .and_then(Value::as_mapping)
                .ok_or_else(|| bad(ipath, "no `entries` mapping"))?;
            for (name, versions) in map {
                let name = string_of(name).unwrap_or_default();
                for v in versions.as_sequence().into_iter().flatten() {
                    let version = v.get("version").and_then(string_of).unwrap_or_default();
                    entries
                        .entry(name.clone())
                        .or_default()
                        .push((version, v.clone()));
                }
            }
        }
        for (name, version, entry) in &src.generated {
            let list = entries.entry(name.clone()).or_default();
            if list.iter().any(|(v, _)| v == version) {
                return Err(bad(
                    &src.dir,
                    format!("chart {name} {version} is given twice"),
                ));
            }
            list.push((version.clone(), entry.clone()));
        }
    }
    let mut out = Mapping::new();
    for (name, mut list) in entries {
        // Newest first, as Helm sorts an index.
        list.sort_by(|a, b| match (version_key(&a.0), version_key(&b.0)) {
            (Some(x), Some(y)) => y.cmp(&x),
            _ => b.0.cmp(&a.0),
        });
        out.insert(
            Value::String(name),
            Value::Sequence(list.into_iter().map(|(_, v)| v).collect()),
        );
    }
    let mut index = Mapping::new();
    index.insert("apiVersion".into(), "v1".into());
    index.insert("entries".into(), Value::Mapping(out));
    index.insert("generated".into(), FIXED_TIME_RFC3339.into());
    Ok(Value::Mapping(index))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_chart(dir: &Path, name: &str, version: &str) {
        fs::create_dir_all(dir.join("templates")).unwrap();
        fs::write(
            dir.join("Chart.yaml"),
            format!("apiVersion: v2\nname: {name}\nversion: {version}\ndescription: test chart\nappVersion: \"1.0\"\n"),
        )
        .unwrap();
        fs::write(dir.join("values.yaml"), "replicas: 1\n").unwrap();
        fs::write(dir.join("templates/cm.yaml"), "kind: ConfigMap\n").unwrap();
        fs::write(dir.join("templates/.hidden"), "x").unwrap();
        fs::write(dir.join("notes.tmp"), "x").unwrap();
        fs::write(dir.join(".helmignore"), "*.tmp\n").unwrap();
    }

    #[test]
    fn a_chart_directory_is_packaged_deterministically_and_indexed() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        write_chart(&src.join("demo"), "demo", "0.2.0");
        write_chart(&src.join("demo-old"), "demo", "0.1.0");
        let repo = ChartRepo::build(std::slice::from_ref(&src), &tmp.path().join("work")).unwrap();
        assert!(!repo.index_is_source);
        let demo = repo.versions("demo");
        assert_eq!(demo.len(), 2);
        let archive = &repo.files["demo-0.2.0.tgz"];
        // The archive holds what helm package would: no ignored files.
        let f = fs::File::open(archive).unwrap();
        let mut a = tar::Archive::new(flate2::read::GzDecoder::new(f));
        let names: Vec<String> = a
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "demo/.helmignore",
                "demo/Chart.yaml",
                "demo/templates/cm.yaml",
                "demo/values.yaml"
            ]
        );
        // Same sources, same bytes.
        let first = fs::read(archive).unwrap();
        let again = ChartRepo::build(&[src], &tmp.path().join("work2")).unwrap();
        assert_eq!(first, fs::read(&again.files["demo-0.2.0.tgz"]).unwrap());
        // The index lists both, newest first, with the archive's digest.
        let index: Value =
            serde_yaml_ng::from_str(&fs::read_to_string(&repo.index).unwrap()).unwrap();
        let list = index["entries"]["demo"].as_sequence().unwrap();
        assert_eq!(list[0]["version"], Value::from("0.2.0"));
        assert_eq!(list[1]["version"], Value::from("0.1.0"));
        assert_eq!(
            list[0]["digest"],
            Value::from(sha256_file(archive).unwrap())
        );
        assert_eq!(list[0]["urls"][0], Value::from("demo-0.2.0.tgz"));
        assert_eq!(list[0]["appVersion"], Value::from("1.0"));
        assert_eq!(index["apiVersion"], Value::from("v1"));
    }

    #[test]
    fn a_chart_without_a_version_is_refused_by_file() {
        let tmp = tempfile::tempdir().unwrap();
        let c = tmp.path().join("c");
        fs::create_dir_all(&c).unwrap();
        fs::write(c.join("Chart.yaml"), "name: c\n").unwrap();
        let err = ChartRepo::build(std::slice::from_ref(&c), &tmp.path().join("w"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("Chart.yaml") && err.contains("no `version`"),
            "{err}"
        );
    }
}
