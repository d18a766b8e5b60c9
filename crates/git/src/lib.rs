//! Git source for Flotilla, built on [gix](https://docs.rs/gix): a cache of
//! bare repositories, revision resolution as Argo CD does it, change
//! detection by listing remote refs only, and immutable snapshots of one
//! commit that are listed, globbed and read straight from the object database.
//!
//! Everything else in Flotilla sees a repository through the [`Tree`] trait,
//! which a local directory ([`LocalTree`]) implements too, so renderers and
//! generators run the same on a working copy, a cached commit or a fixture.
//!
//! - [`GitCache`]: one bare repository per normalised URL ([`normalize_url`]),
//!   locked so that concurrent requests cause one fetch; full or shallow
//!   fetches; recovery from half-written or corrupted cache entries.
//! - Revisions: `HEAD`, branches, tags (annotated tags peeled), full and short
//!   commit ids, `refs/...`, and semver constraints over tags ([`Constraint`]).
//! - Transports: local paths and `file://` (through `git-upload-pack`), smart
//!   HTTP(S), and SSH through the system `ssh`. Credentials ([`Credentials`])
//!   are never logged.
//! - Bounds: path traversal and symbolic links out of the tree are refused;
//!   file size and glob fan-out are limited ([`Limits`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), flotilla_git::GitError> {
//! use flotilla_git::{GitCache, Poll, Tree};
//!
//! let cache = GitCache::new("/tmp/flotilla-cache")?;
//! let tree = cache.snapshot("https://example.com/org/deploy.git", "main").await?;
//! let config = tree.read_to_string("overlays/prod/eu-west-1/config.json")?;
//!
//! // Later, when polling: one ls-refs round trip, a fetch only if main moved.
//! match cache.poll("https://example.com/org/deploy.git", "main", Some(tree.commit())).await? {
//!     Poll::Unchanged(_) => {}
//!     Poll::Changed { current, .. } => println!("main moved to {}", current.commit),
//! }
//! # let _ = config; Ok(()) }
//! ```

#![warn(missing_docs)]

mod cache;
mod credentials;
mod error;
mod git_tree;
mod glob;
mod local_tree;
mod revision;
mod semver_constraint;
mod tree;
mod url;

pub use cache::{CacheOptions, CacheStats, FetchOutcome, GitCache, Poll};
pub use credentials::{Credentials, HostKeyPolicy, Secret, SshKey};
pub use error::GitError;
pub use git_tree::GitTree;
pub use glob::{GlobMode, Pattern};
pub use local_tree::LocalTree;
pub use revision::{CommitId, ParseCommitIdError, RemoteRef, RemoteRefs, Resolved, RevisionKind};
pub use semver_constraint::{parse_tag_version, Constraint};
pub use tree::{Entry, EntryKind, Limits, Tree};
pub use url::{normalize_url, RepoUrl, Transport};
