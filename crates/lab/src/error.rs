//! Errors of the lab crate. Every variant names what failed and where.

use std::path::PathBuf;

/// Anything that can go wrong while building assets or running a lab.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// A file or directory could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("reading", "creating", ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The embedded `versions.toml` is malformed (a build-time mistake).
    #[error("versions.toml: {0}")]
    Versions(String),
    /// A component is not listed in `versions.toml`.
    #[error("unknown lab component `{0}` (known: {1})")]
    UnknownComponent(String, String),
    /// A tool needed to build a component is missing.
    #[error("building {component} needs `{tool}`, which was not found on PATH: {hint}")]
    MissingTool {
        /// Component being built.
        component: String,
        /// The missing program.
        tool: String,
        /// How to get it.
        hint: String,
    },
    /// Building a component failed; carries the tail of the build output.
    #[error(
        "building {component} failed ({reason}); the build log is {log}; its last lines:\n{tail}"
    )]
    Build {
        /// Component being built, with its pinned version (`etcd v3.5.16`).
        component: String,
        /// Short reason (exit status, missing output, checksum mismatch).
        reason: String,
        /// Full build log.
        log: PathBuf,
        /// Last lines of the log.
        tail: String,
    },
    /// A binary the lab needs is not available.
    #[error("lab binary `{0}` is not available; run `flotilla lab assets` to build it")]
    MissingBinary(String),
    /// Certificate generation failed.
    #[error("generating {what}: {source}")]
    Pki {
        /// Which certificate or key.
        what: String,
        /// The underlying error.
        #[source]
        source: rcgen::Error,
    },
    /// A lab process could not be started.
    #[error("starting {component} for {scope}: {source}")]
    Spawn {
        /// Component ("kube-apiserver", ...).
        component: String,
        /// Region name or "lab".
        scope: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A lab process exited or never became ready.
    #[error("{component} {problem}; its log is {log}; its last lines:\n{tail}")]
    Component {
        /// Component and where it runs (`kube-apiserver for region a`).
        component: String,
        /// What went wrong ("exited with status 1", "not ready after 60s").
        problem: String,
        /// The component's log file (kept in the lab directory).
        log: PathBuf,
        /// Last lines of the log.
        tail: String,
    },
    /// The lab state file is missing or unreadable.
    #[error("lab state {path}: {message}")]
    State {
        /// The state file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// No lab runs under this home.
    #[error("no lab is running under {0} (start one with `flotilla lab up`)")]
    NotRunning(PathBuf),
    /// An unknown region was asked for.
    #[error("region `{0}` is not part of this lab (regions: {1})")]
    UnknownRegion(String, String),
    /// A region name that cannot be used in a context or path.
    #[error(
        "invalid region name `{0}`: use lowercase letters, digits and `-`, starting with a letter"
    )]
    InvalidRegion(String),
    /// A latency, jitter or latency plan that cannot be used.
    #[error("latency `{spec}`: {message}")]
    InvalidLatency {
        /// What was given (`80ms`, `us-east-2=120ms`).
        spec: String,
        /// What is wrong with it.
        message: String,
    },
    /// Talking to a lab cluster failed.
    #[error("region {region}: {message}")]
    Kube {
        /// Region.
        region: String,
        /// What failed.
        message: String,
    },
    /// Talking to the lab's OpenBao failed.
    #[error("OpenBao at {addr}: {message}")]
    OpenBao {
        /// Its address.
        addr: String,
        /// What failed.
        message: String,
    },
    /// A chart directory, archive or index is unusable.
    #[error("charts {path}: {message}")]
    Charts {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Talking to the lab's OCI registry failed.
    #[error("OCI registry at {addr}: {message}")]
    Registry {
        /// Its address.
        addr: String,
        /// What failed.
        message: String,
    },
    /// No free loopback port could be found.
    #[error("no free loopback port: {0}")]
    Port(std::io::Error),
}

/// Result with [`LabError`].
pub type Result<T, E = LabError> = std::result::Result<T, E>;

pub(crate) fn io(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> LabError {
    let path = path.into();
    move |source| LabError::Io {
        action,
        path,
        source,
    }
}

/// The last `n` lines of a file, for error messages. Never fails: an
/// unreadable file gives a note instead.
pub fn tail_lines(path: &std::path::Path, n: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            let start = lines.len().saturating_sub(n);
            lines[start..]
                .iter()
                .map(|l| format!("  | {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        }
        Err(e) => format!("  | (log {} unreadable: {e})", path.display()),
    }
}
