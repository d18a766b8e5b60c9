//! Errors of the chart fetcher. Each names the URL (credentials redacted),
//! the chart and the version that failed.

/// Why a chart (or its index, or a dependency) could not be fetched.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// A repository or chart URL that cannot be used.
    #[error("invalid chart repository URL {url}: {reason}")]
    InvalidUrl {
        /// The URL, redacted.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The server could not be reached (DNS, connection refused, TLS, timeout).
    #[error("chart repository {url} is unreachable: {cause}")]
    Unreachable {
        /// The URL requested, redacted.
        url: String,
        /// The transport error, with its causes.
        cause: String,
    },
    /// The server answered with an error status.
    #[error("GET {url}: HTTP {status}{}", hint_suffix(.hint))]
    HttpStatus {
        /// The URL requested, redacted.
        url: String,
        /// The status code and reason, e.g. `401 Unauthorized`.
        status: String,
        /// A hint (e.g. that credentials were refused or not sent).
        hint: Option<String>,
    },
    /// A response body larger than the configured limit.
    #[error("{url}: response larger than the limit of {limit} bytes")]
    TooLarge {
        /// The URL requested, redacted.
        url: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// `index.yaml` that does not parse as a Helm repository index.
    #[error("invalid chart repository index {url}: {reason}")]
    InvalidIndex {
        /// Where the index came from, redacted.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The repository does not hold a chart of that name.
    #[error("chart {chart} not found in {repo}{}", list_suffix("charts in the repository", .available))]
    ChartNotFound {
        /// The chart name asked for.
        chart: String,
        /// The repository, redacted.
        repo: String,
        /// The chart names it does hold (possibly shortened).
        available: Vec<String>,
    },
    /// No version of the chart satisfies the constraint.
    #[error("chart {chart} version {constraint} not found in {repo}{}", list_suffix("available", .available))]
    VersionNotFound {
        /// The chart name.
        chart: String,
        /// The version or constraint asked for.
        constraint: String,
        /// The repository, redacted.
        repo: String,
        /// The versions it does hold, highest first (possibly shortened).
        available: Vec<String>,
    },
    /// A version string that is neither a version nor a semver constraint.
    #[error("chart {chart} in {repo}: {constraint:?} is not a version or a semver constraint")]
    InvalidConstraint {
        /// The chart name.
        chart: String,
        /// The string given.
        constraint: String,
        /// The repository, redacted.
        repo: String,
    },
    /// An index entry without any download URL.
    #[error("chart {chart} version {version} in {repo} has no download URLs")]
    NoUrls {
        /// The chart name.
        chart: String,
        /// The version.
        version: String,
        /// The repository, redacted.
        repo: String,
    },
    /// The archive downloaded does not have the digest the index (or the
    /// OCI manifest) announces.
    #[error("chart {chart} version {version} from {url}: digest mismatch: expected sha256:{expected}, got sha256:{actual}")]
    DigestMismatch {
        /// The chart name.
        chart: String,
        /// The version.
        version: String,
        /// The URL downloaded, redacted.
        url: String,
        /// The announced sha256 (hex).
        expected: String,
        /// The sha256 of the bytes received (hex).
        actual: String,
    },
    /// An OCI registry answered something this client cannot use.
    #[error("OCI registry {url}: {reason}")]
    Oci {
        /// The URL, redacted.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// Reading or writing the cache or a local repository failed.
    #[error("{op} {path}: {cause}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: String,
        /// The I/O error.
        cause: String,
    },
    /// A dependency of a chart could not be resolved or fetched.
    #[error("chart {chart}: dependency {dependency}: {source}")]
    Dependency {
        /// The (umbrella) chart.
        chart: String,
        /// The dependency's name.
        dependency: String,
        /// Why.
        #[source]
        source: Box<FetchError>,
    },
    /// A `file://` dependency that cannot be used (outside the tree, no
    /// `Chart.yaml`, version not matching).
    #[error("{reason}")]
    LocalDependency {
        /// The explanation, naming chart, dependency and path.
        reason: String,
    },
    /// `Chart.lock` does not match the dependencies of `Chart.yaml`.
    #[error("chart {chart}: the lock file ({file}) is out of sync with the dependencies file ({deps_file}). Please update the dependencies")]
    LockOutOfSync {
        /// The chart.
        chart: String,
        /// `Chart.lock` or `requirements.lock`.
        file: &'static str,
        /// `Chart.yaml` or `requirements.yaml`.
        deps_file: &'static str,
    },
}

fn hint_suffix(hint: &Option<String>) -> String {
    match hint {
        Some(h) => format!(" ({h})"),
        None => String::new(),
    }
}

fn list_suffix(label: &str, items: &[String]) -> String {
    if items.is_empty() {
        format!("; {label}: none")
    } else {
        format!("; {label}: {}", items.join(", "))
    }
}

impl FetchError {
    pub(crate) fn io(op: &'static str, path: &std::path::Path, e: std::io::Error) -> Self {
        FetchError::Io {
            op,
            path: path.display().to_string(),
            cause: e.to_string(),
        }
    }
}

/// At most `max` items, then `... (N more)`.
pub(crate) fn shorten(mut items: Vec<String>, max: usize) -> Vec<String> {
    if items.len() > max {
        let more = items.len() - max;
        items.truncate(max);
        items.push(format!("... ({more} more)"));
    }
    items
}
