//! Commit ids, remote ref listings and revision resolution as Argo CD does it.

use std::fmt;
use std::str::FromStr;

use crate::semver_constraint::{parse_tag_version, Constraint};

/// A full commit id (40 hexadecimal digits for SHA-1 repositories).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommitId(pub(crate) gix::ObjectId);

impl CommitId {
    /// The full hexadecimal id.
    pub fn to_hex(&self) -> String {
        self.0.to_hex().to_string()
    }

    /// The first seven digits, for messages.
    pub fn short(&self) -> String {
        self.0.to_hex_with_len(7).to_string()
    }
}

impl fmt::Display for CommitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.to_hex())
    }
}

impl fmt::Debug for CommitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CommitId({})", self.0.to_hex())
    }
}

/// The error of parsing a [`CommitId`] from text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a full commit id (40 hexadecimal digits)")]
pub struct ParseCommitIdError(String);

impl FromStr for CommitId {
    type Err = ParseCommitIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if !is_full_sha(s) {
            return Err(ParseCommitIdError(s.to_string()));
        }
        gix::ObjectId::from_hex(s.as_bytes())
            .map(CommitId)
            .map_err(|_| ParseCommitIdError(s.to_string()))
    }
}

pub(crate) fn is_full_sha(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Argo CD treats 7 to 39 hexadecimal digits as a truncated commit id.
pub(crate) fn is_short_sha(s: &str) -> bool {
    (7..40).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// One ref advertised by a remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRef {
    /// The full name, like `refs/heads/main` or `refs/tags/v1.0.0`.
    pub name: String,
    /// The commit it points to; annotated tags are peeled to their commit.
    pub commit: CommitId,
    /// `true` for annotated tags (the ref points to a tag object).
    pub annotated: bool,
}

/// The refs a remote advertises: what change detection compares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteRefs {
    /// The branch the remote's `HEAD` points to (`refs/heads/main`), if any.
    pub head: Option<String>,
    /// The commit the remote's `HEAD` resolves to, if any.
    pub head_commit: Option<CommitId>,
    /// Branches, tags and other advertised refs, sorted by name (`HEAD` excluded).
    pub refs: Vec<RemoteRef>,
}

impl RemoteRefs {
    /// Find a ref by its full name.
    pub fn get(&self, full_name: &str) -> Option<&RemoteRef> {
        self.refs
            .binary_search_by(|r| r.name.as_str().cmp(full_name))
            .ok()
            .map(|i| &self.refs[i])
    }

    /// Branch names (without `refs/heads/`) and their commits.
    pub fn branches(&self) -> impl Iterator<Item = (&str, CommitId)> {
        self.refs
            .iter()
            .filter_map(|r| r.name.strip_prefix("refs/heads/").map(|n| (n, r.commit)))
    }

    /// Tag names (without `refs/tags/`) and their peeled commits.
    pub fn tags(&self) -> impl Iterator<Item = (&str, CommitId)> {
        self.refs
            .iter()
            .filter_map(|r| r.name.strip_prefix("refs/tags/").map(|n| (n, r.commit)))
    }

    /// `true` when the remote has no refs at all.
    pub fn is_empty(&self) -> bool {
        self.refs.is_empty() && self.head_commit.is_none()
    }
}

/// How a revision was resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevisionKind {
    /// `HEAD` (or an empty revision): the remote's default branch.
    Head {
        /// The branch `HEAD` pointed to, when the remote said.
        branch: Option<String>,
    },
    /// A branch, by short name.
    Branch(String),
    /// A tag, by short name.
    Tag(String),
    /// A full ref name outside `refs/heads/` and `refs/tags/`.
    Ref(String),
    /// The highest tag satisfying a semver constraint.
    Semver {
        /// The tag chosen.
        tag: String,
        /// Its version.
        version: String,
    },
    /// A full commit id.
    Commit,
    /// A unique commit id prefix.
    ShortCommit,
}

impl fmt::Display for RevisionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RevisionKind::Head { branch: Some(b) } => write!(f, "HEAD ({b})"),
            RevisionKind::Head { branch: None } => write!(f, "HEAD"),
            RevisionKind::Branch(b) => write!(f, "branch {b}"),
            RevisionKind::Tag(t) => write!(f, "tag {t}"),
            RevisionKind::Ref(r) => write!(f, "ref {r}"),
            RevisionKind::Semver { tag, version } => write!(f, "tag {tag} (version {version})"),
            RevisionKind::Commit => write!(f, "commit"),
            RevisionKind::ShortCommit => write!(f, "short commit id"),
        }
    }
}

/// A revision resolved to a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The commit.
    pub commit: CommitId,
    /// What the revision named.
    pub kind: RevisionKind,
}

/// The outcome of resolving a revision against a ref listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// A commit, known from the listing (or given in full).
    Commit(CommitId, RevisionKind),
    /// A short commit id: needs the object database.
    Short(String),
    /// Nothing matched; the string says what was tried.
    NotFound(String),
}

/// Resolve `revision` against `refs` the way Argo CD's `LsRemote` does:
/// full commit id; then the highest tag satisfying a semver constraint; then
/// an exact ref name, `refs/heads/<rev>`, `refs/tags/<rev>` (branches win over
/// tags of the same name, as in Argo CD's sorted listing); then a 7–39 digit
/// commit id prefix.
pub(crate) fn resolve_in(refs: &RemoteRefs, revision: &str) -> Target {
    let rev = revision.trim();
    let rev = if rev.is_empty() { "HEAD" } else { rev };
    if is_full_sha(rev) {
        if let Ok(id) = rev.parse::<CommitId>() {
            return Target::Commit(id, RevisionKind::Commit);
        }
    }
    if let Some(constraint) = Constraint::parse(rev) {
        let mut best: Option<(semver::Version, &str, CommitId)> = None;
        for (tag, commit) in refs.tags() {
            if let Some(v) = parse_tag_version(tag) {
                if constraint.matches(&v)
                    && best
                        .as_ref()
                        .is_none_or(|(b, _, _)| v.cmp_precedence(b).is_gt())
                {
                    best = Some((v, tag, commit));
                }
            }
        }
        if let Some((v, tag, commit)) = best {
            return Target::Commit(
                commit,
                RevisionKind::Semver {
                    tag: tag.to_string(),
                    version: v.to_string(),
                },
            );
        }
    }
    if rev == "HEAD" {
        if let Some(commit) = refs.head_commit {
            return Target::Commit(
                commit,
                RevisionKind::Head {
                    branch: refs
                        .head
                        .as_ref()
                        .map(|h| h.trim_start_matches("refs/heads/").to_string()),
                },
            );
        }
    } else {
        if rev.starts_with("refs/") {
            if let Some(r) = refs.get(rev) {
                let kind = if let Some(b) = rev.strip_prefix("refs/heads/") {
                    RevisionKind::Branch(b.to_string())
                } else if let Some(t) = rev.strip_prefix("refs/tags/") {
                    RevisionKind::Tag(t.to_string())
                } else {
                    RevisionKind::Ref(rev.to_string())
                };
                return Target::Commit(r.commit, kind);
            }
        }
        if let Some(r) = refs.get(&format!("refs/heads/{rev}")) {
            return Target::Commit(r.commit, RevisionKind::Branch(rev.to_string()));
        }
        if let Some(r) = refs.get(&format!("refs/tags/{rev}")) {
            return Target::Commit(r.commit, RevisionKind::Tag(rev.to_string()));
        }
    }
    if is_short_sha(rev) {
        return Target::Short(rev.to_ascii_lowercase());
    }
    let branches = refs.branches().count();
    let tags = refs.tags().count();
    let what = if rev == "HEAD" {
        "the remote has no HEAD".to_string()
    } else if Constraint::parse(rev).is_some() {
        format!("no tag satisfies the semver constraint and no branch or tag has that name ({branches} branches, {tags} tags)")
    } else {
        format!("no branch, tag or ref of that name ({branches} branches, {tags} tags)")
    };
    Target::NotFound(what)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> CommitId {
        CommitId(gix::ObjectId::from_bytes_or_panic(&[n; 20]))
    }

    fn listing() -> RemoteRefs {
        let mut refs = vec![
            RemoteRef {
                name: "refs/heads/main".into(),
                commit: id(1),
                annotated: false,
            },
            RemoteRef {
                name: "refs/heads/dev".into(),
                commit: id(2),
                annotated: false,
            },
            RemoteRef {
                name: "refs/heads/v1.0.0".into(),
                commit: id(3),
                annotated: false,
            },
            RemoteRef {
                name: "refs/tags/v1.0.0".into(),
                commit: id(4),
                annotated: true,
            },
            RemoteRef {
                name: "refs/tags/v1.2.0".into(),
                commit: id(5),
                annotated: false,
            },
            RemoteRef {
                name: "refs/tags/v1.2.7".into(),
                commit: id(6),
                annotated: true,
            },
            RemoteRef {
                name: "refs/tags/v2.0.0-rc.1".into(),
                commit: id(7),
                annotated: false,
            },
            RemoteRef {
                name: "refs/tags/release".into(),
                commit: id(8),
                annotated: false,
            },
            RemoteRef {
                name: "refs/pull/1/head".into(),
                commit: id(9),
                annotated: false,
            },
        ];
        refs.sort_by(|a, b| a.name.cmp(&b.name));
        RemoteRefs {
            head: Some("refs/heads/main".into()),
            head_commit: Some(id(1)),
            refs,
        }
    }

    #[test]
    fn resolution_order() {
        let refs = listing();
        assert_eq!(
            resolve_in(&refs, "HEAD"),
            Target::Commit(
                id(1),
                RevisionKind::Head {
                    branch: Some("main".into())
                }
            )
        );
        assert_eq!(resolve_in(&refs, ""), resolve_in(&refs, "HEAD"));
        assert_eq!(
            resolve_in(&refs, "dev"),
            Target::Commit(id(2), RevisionKind::Branch("dev".into()))
        );
        assert_eq!(
            resolve_in(&refs, "release"),
            Target::Commit(id(8), RevisionKind::Tag("release".into()))
        );
        assert_eq!(
            resolve_in(&refs, "refs/tags/v1.0.0"),
            Target::Commit(id(4), RevisionKind::Tag("v1.0.0".into()))
        );
        assert_eq!(
            resolve_in(&refs, "refs/pull/1/head"),
            Target::Commit(id(9), RevisionKind::Ref("refs/pull/1/head".into()))
        );
        // A semver-looking revision resolves through tags first (Argo CD order).
        assert_eq!(
            resolve_in(&refs, "v1.0.0"),
            Target::Commit(
                id(4),
                RevisionKind::Semver {
                    tag: "v1.0.0".into(),
                    version: "1.0.0".into()
                }
            )
        );
        assert_eq!(
            resolve_in(&refs, "1.2.*"),
            Target::Commit(
                id(6),
                RevisionKind::Semver {
                    tag: "v1.2.7".into(),
                    version: "1.2.7".into()
                }
            )
        );
        assert_eq!(
            resolve_in(&refs, ">=1.0.0 <2.0.0"),
            Target::Commit(
                id(6),
                RevisionKind::Semver {
                    tag: "v1.2.7".into(),
                    version: "1.2.7".into()
                }
            )
        );
        assert!(matches!(resolve_in(&refs, ">=2.0.0-rc.0"), Target::Commit(c, _) if c == id(7)));
        assert!(matches!(resolve_in(&refs, "9.x"), Target::NotFound(_)));
        let full = id(0xab).to_hex();
        assert_eq!(
            resolve_in(&refs, &full),
            Target::Commit(id(0xab), RevisionKind::Commit)
        );
        assert_eq!(
            resolve_in(&refs, "ABCDEF1"),
            Target::Short("abcdef1".into())
        );
        assert!(
            matches!(resolve_in(&refs, "gone"), Target::NotFound(d) if d.contains("3 branches"))
        );
        assert!(matches!(
            resolve_in(&RemoteRefs::default(), "HEAD"),
            Target::NotFound(_)
        ));
    }

    #[test]
    fn commit_ids() {
        let hex = "0123456789abcdef0123456789abcdef01234567";
        let c: CommitId = hex.parse().unwrap();
        assert_eq!(c.to_string(), hex);
        assert_eq!(c.short(), "0123456");
        assert!("0123".parse::<CommitId>().is_err());
        assert!("zz23456789abcdef0123456789abcdef01234567"
            .parse::<CommitId>()
            .is_err());
    }
}
