//! Chart directories, read as Helm's `LoadDir` reads them: names sorted
//! per directory, `.helmignore` applied (directories skipped whole),
//! symbolic links followed (a link loop is an error), irregular files
//! refused, 5 MiB per file.

use std::path::{Path, PathBuf};

use super::ignore::{Rules, HELM_IGNORE};
use super::{load_files_budget, Budget, LoadError, LoadLimits};
use crate::chart::{Chart, ChartFile};
use crate::values::io_reason;

/// [`super::load_dir`] with explicit limits.
pub fn load_dir_with(path: &Path, limits: &LoadLimits) -> Result<Chart, LoadError> {
    let origin = path.display().to_string();
    let top = std::path::absolute(path)
        .map_err(|e| LoadError::new(&origin, format!("{}: {}", origin, io_reason(&e))))?;
    let mut rules = Rules::empty();
    let ifile = top.join(HELM_IGNORE);
    if ifile.is_file() {
        let text = std::fs::read_to_string(&ifile).map_err(|e| {
            LoadError::in_file(&origin, HELM_IGNORE, format!("open: {}", io_reason(&e)))
        })?;
        rules = Rules::parse(&text).map_err(|e| LoadError::in_file(&origin, HELM_IGNORE, e))?;
    }
    rules.add_defaults();
    let mut w = Walker {
        origin: &origin,
        rules: &rules,
        limits,
        files: Vec::new(),
        total: 0,
        ancestors: Vec::new(),
    };
    let canon = std::fs::canonicalize(&top)
        .map_err(|e| LoadError::new(&origin, format!("{}: {}", origin, io_reason(&e))))?;
    w.ancestors.push(canon);
    w.walk_dir(&top, "")?;
    let files = w.files;
    let mut budget = Budget::new(limits);
    load_files_budget(files, &origin, &mut budget, 0)
}

struct Walker<'a> {
    origin: &'a str,
    rules: &'a Rules,
    limits: &'a LoadLimits,
    files: Vec<ChartFile>,
    total: u64,
    ancestors: Vec<PathBuf>,
}

impl Walker<'_> {
    fn err(&self, rel: &str, m: String) -> LoadError {
        LoadError::in_file(self.origin, rel, m)
    }

    fn walk_dir(&mut self, dir: &Path, rel: &str) -> Result<(), LoadError> {
        let rd = std::fs::read_dir(dir)
            .map_err(|e| self.err(rel, format!("open {}: {}", dir.display(), io_reason(&e))))?;
        let mut names: Vec<String> = Vec::new();
        for e in rd {
            let e = e.map_err(|e| self.err(rel, format!("readdir: {}", io_reason(&e))))?;
            names.push(e.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        for name in names {
            let path = dir.join(&name);
            let n = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            self.visit(&path, &n)?;
        }
        Ok(())
    }

    fn visit(&mut self, path: &Path, n: &str) -> Result<(), LoadError> {
        let lmd = std::fs::symlink_metadata(path)
            .map_err(|e| self.err(n, format!("lstat {}: {}", path.display(), io_reason(&e))))?;
        let (md, real) = if lmd.file_type().is_symlink() {
            let real = std::fs::canonicalize(path).map_err(|e| {
                self.err(
                    n,
                    format!(
                        "error evaluating symlink {}: {}",
                        path.display(),
                        io_reason(&e)
                    ),
                )
            })?;
            tracing::debug!(link = %path.display(), target = %real.display(), "found symbolic link in chart; contents of the linked file included");
            let md = std::fs::metadata(&real)
                .map_err(|e| self.err(n, format!("stat {}: {}", real.display(), io_reason(&e))))?;
            (md, Some(real))
        } else {
            (lmd, None)
        };
        if md.is_dir() {
            if self.rules.ignore(n, true) {
                return Ok(());
            }
            let canon = match real {
                Some(r) => r,
                None => std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()),
            };
            if self.ancestors.contains(&canon) {
                return Err(self.err(
                    n,
                    format!(
                        "symbolic link loop: {} is an ancestor of itself",
                        path.display()
                    ),
                ));
            }
            self.ancestors.push(canon.clone());
            let r = self.walk_dir(&canon, n);
            self.ancestors.pop();
            return r;
        }
        if self.rules.ignore(n, false) {
            return Ok(());
        }
        if !md.is_file() {
            return Err(self.err(
                n,
                format!(
                    "cannot load irregular file {} as it has file mode type bits set",
                    path.display()
                ),
            ));
        }
        if md.len() > self.limits.max_file_bytes {
            let base = n.rsplit('/').next().unwrap_or(n);
            return Err(self.err(
                n,
                format!(
                    "chart file {base:?} is larger than the maximum file size {}",
                    self.limits.max_file_bytes
                ),
            ));
        }
        if self.files.len() >= self.limits.max_files {
            return Err(self.err(
                n,
                format!("chart has more than {} files", self.limits.max_files),
            ));
        }
        self.total += md.len();
        if self.total > self.limits.max_total_bytes {
            return Err(self.err(
                n,
                format!(
                    "chart is larger than the maximum size {}",
                    self.limits.max_total_bytes
                ),
            ));
        }
        let data = std::fs::read(real.as_deref().unwrap_or(path))
            .map_err(|e| self.err(n, format!("error reading {n}: {}", io_reason(&e))))?;
        self.files.push(ChartFile {
            name: n.to_string(),
            data,
        });
        Ok(())
    }
}
