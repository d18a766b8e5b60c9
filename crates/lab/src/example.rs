//! A Git repository made from an example directory for the lab: every
//! `config.json` of a region the lab runs points at that region's cluster.
//! The demo and the end-to-end tests start from it.
//!
//! ```no_run
//! # fn f(state: &flotilla_lab::LabState) -> Result<(), flotilla_lab::LabError> {
//! use std::path::Path;
//! let commit = flotilla_lab::example::prepare_repo(
//!     Path::new("examples/multi-region"),
//!     Path::new("/tmp/demo-repo"),
//!     state,
//! )?;
//! println!("the demo repository is at commit {commit}");
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{LabError, Result};
use crate::lab::LabState;

/// The example directory of the source tree this binary was built from.
pub fn source_example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
}

fn state_err(path: &Path, message: impl Into<String>) -> LabError {
    LabError::State {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Copies `example` to `dest` (which must not exist or be empty), points
/// each `config.json` whose `cluster.region` is a lab region at that
/// region's API server (`cluster.name` becomes the context `lab-<region>`),
/// and commits it all on branch `main`. Returns the commit id.
pub fn prepare_repo(example: &Path, dest: &Path, state: &LabState) -> Result<String> {
    if !example.is_dir() {
        return Err(state_err(example, "the example directory does not exist"));
    }
    copy_dir(example, dest)?;
    let mut configs = Vec::new();
    find_files(dest, "config.json", &mut configs)?;
    for file in configs {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| state_err(&file, format!("reading: {e}")))?;
        let mut value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| state_err(&file, format!("not valid JSON: {e}")))?;
        let Some(region) = value
            .pointer("/cluster/region")
            .and_then(|r| r.as_str())
            .map(str::to_string)
        else {
            continue;
        };
        let Some(rs) = state.regions.get(&region) else {
            continue;
        };
        value["cluster"]["server"] = serde_json::json!(rs.server);
        value["cluster"]["name"] = serde_json::json!(format!("lab-{region}"));
        let mut out =
            serde_json::to_string_pretty(&value).map_err(|e| state_err(&file, e.to_string()))?;
        out.push('\n');
        std::fs::write(&file, out).map_err(|e| state_err(&file, format!("writing: {e}")))?;
    }
    git(dest, &["init", "-q", "-b", "main"])?;
    git(dest, &["add", "-A"])?;
    git(
        dest,
        &["commit", "-q", "-m", "multi-region example for the lab"],
    )?;
    git(dest, &["rev-parse", "HEAD"])
}

/// Runs `git` in `dir` with a fixed identity; returns its trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Flotilla Lab")
        .env("GIT_AUTHOR_EMAIL", "lab@flotilla.invalid")
        .env("GIT_COMMITTER_NAME", "Flotilla Lab")
        .env("GIT_COMMITTER_EMAIL", "lab@flotilla.invalid")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .map_err(|e| state_err(dir, format!("running git: {e}")))?;
    if !out.status.success() {
        return Err(state_err(
            dir,
            format!(
                "git {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(|e| state_err(to, format!("creating: {e}")))?;
    let entries = std::fs::read_dir(from).map_err(|e| state_err(from, format!("reading: {e}")))?;
    for entry in entries {
        let entry = entry.map_err(|e| state_err(from, format!("reading: {e}")))?;
        let path = entry.path();
        let target = to.join(entry.file_name());
        let kind = entry
            .file_type()
            .map_err(|e| state_err(&path, format!("reading: {e}")))?;
        if kind.is_dir() {
            copy_dir(&path, &target)?;
        } else if kind.is_file() {
            std::fs::copy(&path, &target).map_err(|e| state_err(&path, format!("copying: {e}")))?;
        }
    }
    Ok(())
}

fn find_files(dir: &Path, name: &str, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| state_err(dir, format!("reading: {e}")))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            find_files(&path, name, out)?;
        } else if path.file_name().and_then(|n| n.to_str()) == Some(name) {
            out.push(path);
        }
    }
    out.sort();
    Ok(())
}
