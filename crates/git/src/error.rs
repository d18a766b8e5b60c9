//! The one error type of this crate.
//!
//! Every variant names what failed and where: the repository URL (with any
//! password redacted), the revision, the commit and the path. Errors are
//! `Clone` so that one failed fetch can be reported to every task that waited
//! for it.

/// Everything that can go wrong while fetching, resolving or reading a repository.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GitError {
    /// The repository URL could not be parsed.
    #[error("invalid repository URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given (password redacted).
        url: String,
        /// Why it was rejected.
        reason: String,
    },

    /// The remote could not be reached or did not speak Git.
    #[error("cannot reach {url}: {cause}")]
    Unreachable {
        /// The repository URL (password redacted).
        url: String,
        /// The transport's explanation (connection refused, DNS, TLS, HTTP status, ...).
        cause: String,
    },

    /// The remote refused the credentials, or asked for credentials none were configured for.
    #[error("authentication to {url} failed: {cause}")]
    Authentication {
        /// The repository URL (password redacted).
        url: String,
        /// What the transport reported.
        cause: String,
    },

    /// Credentials were configured for a plain `http://` URL that is not on loopback.
    #[error(
        "refusing to send credentials to {url} over plain http (use https, or allow it explicitly with CacheOptions::allow_insecure_http_credentials)"
    )]
    InsecureCredentials {
        /// The repository URL (password redacted).
        url: String,
    },

    /// Downloading objects failed after the remote was reached.
    #[error("fetching {url} failed: {cause}")]
    Fetch {
        /// The repository URL (password redacted).
        url: String,
        /// What went wrong.
        cause: String,
    },

    /// A revision did not name any branch, tag, commit or matching semver tag.
    #[error("revision {revision:?} not found in {url}: {detail}")]
    RevisionNotFound {
        /// The repository URL (password redacted).
        url: String,
        /// The revision as the user wrote it.
        revision: String,
        /// What was looked for and what exists.
        detail: String,
    },

    /// A short commit id matched more than one commit.
    #[error("short commit id {revision:?} is ambiguous in {url}: it matches {candidates}")]
    AmbiguousRevision {
        /// The repository URL (password redacted).
        url: String,
        /// The short id as given.
        revision: String,
        /// The matching commits, comma separated.
        candidates: String,
    },

    /// A commit id is not in the repository, even after fetching.
    #[error("commit {commit} not found in {url}")]
    CommitNotFound {
        /// The repository URL (password redacted).
        url: String,
        /// The full or short commit id.
        commit: String,
    },

    /// The remote repository has no commits at all.
    #[error("repository {url} is empty (no branches or tags)")]
    EmptyRepository {
        /// The repository URL (password redacted).
        url: String,
    },

    /// A path does not exist in the snapshot.
    #[error("{location}: {path:?} not found")]
    NotFound {
        /// The snapshot: `URL@commit` or a local directory.
        location: String,
        /// The path as asked for.
        path: String,
    },

    /// A path leaves the repository root: `..` above the root, an absolute path,
    /// or a symbolic link whose target is outside.
    #[error("{location}: path {path:?} escapes the repository root{detail}")]
    PathEscapes {
        /// The snapshot: `URL@commit` or a local directory.
        location: String,
        /// The path as asked for.
        path: String,
        /// Which symbolic link led outside, when one did.
        detail: String,
    },

    /// A path is malformed (empty component, NUL byte, not UTF-8, ...).
    #[error("{location}: invalid path {path:?}: {reason}")]
    InvalidPath {
        /// The snapshot: `URL@commit` or a local directory.
        location: String,
        /// The path as asked for.
        path: String,
        /// Why it was rejected.
        reason: String,
    },

    /// `read` was called on a directory.
    #[error("{location}: {path:?} is a directory, not a file")]
    IsADirectory {
        /// The snapshot: `URL@commit` or a local directory.
        location: String,
        /// The path as asked for.
        path: String,
    },

    /// `list` was called on a file, or a path component is a file.
    #[error("{location}: {path:?} is not a directory")]
    NotADirectory {
        /// The snapshot: `URL@commit` or a local directory.
        location: String,
        /// The path as asked for.
        path: String,
    },

    /// The path is a submodule (gitlink), whose content is not part of this repository.
    #[error("{location}: {path:?} is a submodule; its content is not in this repository")]
    Submodule {
        /// The snapshot: `URL@commit` or a local directory.
        location: String,
        /// The path as asked for.
        path: String,
    },

    /// A file is larger than [`Limits::max_file_size`](crate::Limits::max_file_size).
    #[error("{location}: {path:?} is {size} bytes, over the limit of {limit} bytes")]
    FileTooLarge {
        /// The snapshot: `URL@commit` or a local directory.
        location: String,
        /// The path as asked for.
        path: String,
        /// The file's size.
        size: u64,
        /// The configured limit.
        limit: u64,
    },

    /// A glob matched, or had to visit, more entries than the limits allow.
    #[error("{location}: glob {pattern:?} {what} more than {limit} entries")]
    GlobLimit {
        /// The snapshot: `URL@commit` or a local directory.
        location: String,
        /// The pattern.
        pattern: String,
        /// `"matched"` or `"had to visit"`.
        what: &'static str,
        /// The configured limit.
        limit: usize,
    },

    /// A glob pattern is malformed.
    #[error("invalid glob pattern {pattern:?}: {reason}")]
    InvalidPattern {
        /// The pattern.
        pattern: String,
        /// Why it was rejected.
        reason: String,
    },

    /// Symbolic links nest deeper than 40 levels (or loop).
    #[error("{location}: too many levels of symbolic links resolving {path:?}")]
    SymlinkLoop {
        /// The snapshot: `URL@commit` or a local directory.
        location: String,
        /// The path as asked for.
        path: String,
    },

    /// The cached repository is damaged and could not be repaired by fetching again.
    #[error("cache for {url} at {dir} is corrupt: {cause}")]
    Corrupt {
        /// The repository URL (password redacted).
        url: String,
        /// The cache directory.
        dir: String,
        /// What was found to be wrong.
        cause: String,
    },

    /// Reading an object from the object database failed.
    #[error("{location}: reading {what} failed: {cause}")]
    Object {
        /// The snapshot or repository.
        location: String,
        /// The object or path being read.
        what: String,
        /// What went wrong.
        cause: String,
    },

    /// A file system operation failed.
    #[error("{op} {path}: {cause}")]
    Io {
        /// What was being done ("creating cache directory", "reading", ...).
        op: &'static str,
        /// The file or directory.
        path: String,
        /// The operating system's error.
        cause: String,
    },

    /// A background task panicked or was cancelled.
    #[error("{what} for {url} did not complete: {cause}")]
    Task {
        /// What was running.
        what: &'static str,
        /// The repository URL (password redacted).
        url: String,
        /// Why it stopped.
        cause: String,
    },
}

impl GitError {
    /// `true` for errors that mean "this does not exist" (revision, commit, path),
    /// as opposed to failures of the transport, the cache or the input.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            GitError::RevisionNotFound { .. }
                | GitError::CommitNotFound { .. }
                | GitError::NotFound { .. }
                | GitError::EmptyRepository { .. }
        )
    }

    /// `true` when the remote could not be reached or refused us; the cache may
    /// still hold what was fetched before.
    pub fn is_remote_failure(&self) -> bool {
        matches!(
            self,
            GitError::Unreachable { .. } | GitError::Authentication { .. } | GitError::Fetch { .. }
        )
    }

    pub(crate) fn io(
        op: &'static str,
        path: impl AsRef<std::path::Path>,
        err: std::io::Error,
    ) -> Self {
        GitError::Io {
            op,
            path: path.as_ref().display().to_string(),
            cause: err.to_string(),
        }
    }
}

/// Render an error and all its sources as one line: `outer: inner: innermost`,
/// dropping a source whose text is already contained in the text before it.
pub(crate) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !text.is_empty() && !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
