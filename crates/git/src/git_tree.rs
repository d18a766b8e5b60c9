//! One commit of a Git repository read straight from the object database.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use gix::ObjectId;

use crate::error::{chain, GitError};
use crate::glob::{GlobMode, Pattern};
use crate::revision::CommitId;
use crate::tree::{clean_dir, join, split_path, Component, Entry, EntryKind, Limits, Tree};

/// Most symbolic links followed while resolving one path (as Linux's `ELOOP`).
const MAX_SYMLINK_HOPS: usize = 40;
/// Largest symbolic link target read.
const MAX_LINK_TARGET: u64 = 4096;
/// Most threads one walk uses.
const MAX_WALK_THREADS: usize = 4;

/// Directories waiting to be read by a parallel walk.
struct WalkQueue {
    dirs: Vec<(String, ObjectId)>,
    /// Directories queued or being read.
    pending: usize,
    failed: Option<GitError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Tree,
    Blob,
    Link,
    Commit,
}

#[derive(Debug)]
struct TreeEntry {
    name: String,
    mode: Mode,
    oid: ObjectId,
}

#[derive(Debug)]
struct TreeData {
    entries: Vec<TreeEntry>,
    index: Option<HashMap<String, usize>>,
}

impl TreeData {
    fn find(&self, name: &str) -> Option<&TreeEntry> {
        match &self.index {
            Some(index) => index.get(name).map(|&i| &self.entries[i]),
            None => self.entries.iter().find(|e| e.name == name),
        }
    }
}

/// A resolved path: what it is and the object that holds it.
#[derive(Debug, Clone, Copy)]
struct Node {
    mode: Mode,
    oid: ObjectId,
}

/// A commit of a Git repository as a [`Tree`]: files are read from the object
/// database without a checkout. Cheap to clone; safe to share between threads.
#[derive(Clone)]
pub struct GitTree {
    inner: Arc<Inner>,
}

/// Every non-directory entry of a tree: its path and where it is.
type FileList = Arc<Vec<(String, Node)>>;

struct Inner {
    repo: gix::ThreadSafeRepository,
    pool: Mutex<Vec<gix::Repository>>,
    url: String,
    commit: CommitId,
    root: ObjectId,
    limits: Limits,
    trees: Mutex<HashMap<ObjectId, Arc<TreeData>>>,
    all_files: Mutex<Option<FileList>>,
}

impl std::fmt::Debug for GitTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitTree")
            .field("url", &self.inner.url)
            .field("commit", &self.inner.commit)
            .finish()
    }
}

impl GitTree {
    /// Open `commit` in `repo`; `url` (already redacted) names the repository in messages.
    pub(crate) fn new(
        repo: gix::ThreadSafeRepository,
        url: String,
        commit: CommitId,
        limits: Limits,
    ) -> Result<Self, GitError> {
        let local = repo.to_thread_local();
        let location = format!("{url}@{}", commit.short());
        let object_err = |what: &str, e: &dyn std::error::Error| GitError::Object {
            location: location.clone(),
            what: what.to_string(),
            cause: e.to_string(),
        };
        let obj = local
            .find_object(commit.0)
            .map_err(|e| match is_missing(&e) {
                true => GitError::CommitNotFound {
                    url: url.clone(),
                    commit: commit.to_hex(),
                },
                false => object_err("commit", &e),
            })?;
        let kind = obj.kind;
        let root = match kind {
            gix::objs::Kind::Commit => {
                let c = obj
                    .try_into_commit()
                    .map_err(|e| object_err("commit", &e))?;
                c.tree_id().map_err(|e| object_err("commit", &e))?.detach()
            }
            other => {
                return Err(GitError::Object {
                    location,
                    what: format!("commit {}", commit.to_hex()),
                    cause: format!("object is a {other}, not a commit"),
                })
            }
        };
        Ok(GitTree {
            inner: Arc::new(Inner {
                pool: Mutex::new(vec![local]),
                repo,
                url,
                commit,
                root,
                limits,
                trees: Mutex::new(HashMap::new()),
                all_files: Mutex::new(None),
            }),
        })
    }

    /// Open `revision` (full or short commit id, `HEAD`, branch, tag, `refs/...`)
    /// of an existing local repository (bare or not) without fetching: for tools
    /// and tests that already have a clone.
    pub fn open_local(git_dir: impl AsRef<Path>, revision: &str) -> Result<Self, GitError> {
        let dir = git_dir.as_ref();
        let repo = gix::open_opts(dir, crate::cache::read_options()).map_err(|e| GitError::Io {
            op: "opening repository",
            path: dir.display().to_string(),
            cause: chain(&e),
        })?;
        let url = dir.display().to_string();
        let commit = crate::cache::resolve_local(&repo, &url, revision)?.commit;
        GitTree::new(repo.into_sync(), url, commit, Limits::default())
    }

    /// The same snapshot with other limits.
    pub fn with_limits(&self, limits: Limits) -> GitTree {
        let repo = self.inner.repo.clone();
        GitTree {
            inner: Arc::new(Inner {
                pool: Mutex::new(Vec::new()),
                repo,
                url: self.inner.url.clone(),
                commit: self.inner.commit,
                root: self.inner.root,
                limits,
                trees: Mutex::new(HashMap::new()),
                all_files: Mutex::new(None),
            }),
        }
    }

    /// The commit this tree belongs to.
    pub fn commit(&self) -> CommitId {
        self.inner.commit
    }

    /// The repository URL (password redacted).
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    fn with_repo<R>(&self, f: impl FnOnce(&gix::Repository) -> R) -> R {
        let repo = self
            .inner
            .pool
            .lock()
            .ok()
            .and_then(|mut p| p.pop())
            .unwrap_or_else(|| self.inner.repo.to_thread_local());
        let out = f(&repo);
        if let Ok(mut p) = self.inner.pool.lock() {
            if p.len() < 16 {
                p.push(repo);
            }
        }
        out
    }

    fn obj_err(&self, what: impl Into<String>, e: &(dyn std::error::Error + 'static)) -> GitError {
        GitError::Object {
            location: self.location(),
            what: what.into(),
            cause: chain(e),
        }
    }

    fn tree(&self, oid: ObjectId, path: &str) -> Result<Arc<TreeData>, GitError> {
        if let Some(t) = self
            .inner
            .trees
            .lock()
            .ok()
            .and_then(|m| m.get(&oid).cloned())
        {
            return Ok(t);
        }
        let data = self.with_repo(|repo| -> Result<TreeData, GitError> {
            let obj = repo
                .find_object(oid)
                .map_err(|e| self.obj_err(format!("tree of {path:?}"), &e))?;
            if obj.kind != gix::objs::Kind::Tree {
                return Err(GitError::Object {
                    location: self.location(),
                    what: format!("tree of {path:?}"),
                    cause: format!("object {oid} is a {}, not a tree", obj.kind),
                });
            }
            let mut entries = Vec::new();
            for entry in gix::objs::TreeRefIter::from_bytes(&obj.data, oid.kind()) {
                let entry = entry.map_err(|e| self.obj_err(format!("tree of {path:?}"), &e))?;
                let mode = match entry.mode.kind() {
                    gix::objs::tree::EntryKind::Tree => Mode::Tree,
                    gix::objs::tree::EntryKind::Blob | gix::objs::tree::EntryKind::BlobExecutable => Mode::Blob,
                    gix::objs::tree::EntryKind::Link => Mode::Link,
                    gix::objs::tree::EntryKind::Commit => Mode::Commit,
                };
                let Ok(name) = std::str::from_utf8(entry.filename) else {
                    tracing::warn!(location = %self.location(), dir = path, "skipping a file name that is not UTF-8");
                    continue;
                };
                entries.push(TreeEntry {
                    name: name.to_string(),
                    mode,
                    oid: entry.oid.to_owned(),
                });
            }
            let index = (entries.len() > 16).then(|| {
                entries
                    .iter()
                    .enumerate()
                    .map(|(i, e)| (e.name.clone(), i))
                    .collect::<HashMap<_, _>>()
            });
            Ok(TreeData { entries, index })
        })?;
        let data = Arc::new(data);
        if let Ok(mut m) = self.inner.trees.lock() {
            if m.len() > 100_000 {
                m.clear();
            }
            m.insert(oid, data.clone());
        }
        Ok(data)
    }

    fn blob(&self, oid: ObjectId, path: &str, limit: u64) -> Result<Vec<u8>, GitError> {
        self.with_repo(|repo| {
            let header = repo.find_header(oid).map_err(|e| self.obj_err(path, &e))?;
            if header.size() > limit {
                return Err(GitError::FileTooLarge {
                    location: self.location(),
                    path: path.to_string(),
                    size: header.size(),
                    limit,
                });
            }
            let obj = repo.find_object(oid).map_err(|e| self.obj_err(path, &e))?;
            Ok(obj.detach().data)
        })
    }

    /// Resolve `path` to a node, following symbolic links (the last one too
    /// when `follow_last`), refusing anything that leaves the root.
    fn lookup(&self, path: &str, follow_last: bool) -> Result<Option<Node>, GitError> {
        let loc = || self.location();
        let mut queue: std::collections::VecDeque<String> = split_path(&loc, path)?
            .into_iter()
            .map(|c| match c {
                Component::Parent => "..".to_string(),
                Component::Normal(n) => n.to_string(),
            })
            .collect();
        // The directories from the root to the current one: (name, tree id).
        let mut stack: Vec<(String, ObjectId)> = Vec::new();
        let mut hops = 0;
        let mut via_link: Option<String> = None;
        let escape = |via: &Option<String>| GitError::PathEscapes {
            location: self.location(),
            path: path.to_string(),
            detail: via
                .as_ref()
                .map(|l| format!(" (through symbolic link {l})"))
                .unwrap_or_default(),
        };
        while let Some(comp) = queue.pop_front() {
            if comp == "." || comp.is_empty() {
                continue;
            }
            if comp == ".." {
                if stack.pop().is_none() {
                    return Err(escape(&via_link));
                }
                continue;
            }
            let cur = stack.last().map(|(_, t)| *t).unwrap_or(self.inner.root);
            let dir_path = stack
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join("/");
            let tree = self.tree(cur, &dir_path)?;
            let Some(entry) = tree.find(&comp) else {
                return Ok(None);
            };
            let last = queue.is_empty();
            match entry.mode {
                Mode::Tree => stack.push((comp, entry.oid)),
                Mode::Blob | Mode::Commit => {
                    if !last {
                        return Err(if entry.mode == Mode::Commit {
                            GitError::Submodule {
                                location: self.location(),
                                path: path.to_string(),
                            }
                        } else {
                            GitError::NotADirectory {
                                location: self.location(),
                                path: path.to_string(),
                            }
                        });
                    }
                    return Ok(Some(Node {
                        mode: entry.mode,
                        oid: entry.oid,
                    }));
                }
                Mode::Link => {
                    if last && !follow_last {
                        return Ok(Some(Node {
                            mode: Mode::Link,
                            oid: entry.oid,
                        }));
                    }
                    hops += 1;
                    if hops > MAX_SYMLINK_HOPS {
                        return Err(GitError::SymlinkLoop {
                            location: self.location(),
                            path: path.to_string(),
                        });
                    }
                    let link_path = join(&dir_path, &comp);
                    let target_bytes = self.blob(entry.oid, &link_path, MAX_LINK_TARGET)?;
                    let target = String::from_utf8_lossy(&target_bytes).into_owned();
                    via_link = Some(format!("{link_path:?} -> {target:?}"));
                    if target.starts_with('/') || target.contains('\0') {
                        return Err(escape(&via_link));
                    }
                    for part in target.split('/').rev() {
                        queue.push_front(part.to_string());
                    }
                }
            }
        }
        Ok(Some(Node {
            mode: Mode::Tree,
            oid: stack.last().map(|(_, t)| *t).unwrap_or(self.inner.root),
        }))
    }

    fn not_found(&self, path: &str) -> GitError {
        GitError::NotFound {
            location: self.location(),
            path: path.to_string(),
        }
    }

    /// Every file, symlink and submodule under `base` (not following links), with limits.
    fn walk(
        &self,
        base: Node,
        base_path: &str,
        pattern: &str,
    ) -> Result<Vec<(String, Node)>, GitError> {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(MAX_WALK_THREADS);
        if threads < 2 {
            return self.walk_sequential(base, base_path, pattern);
        }
        // Decoding trees dominates; spread directories over a few threads
        // through a shared queue (each thread reads with its own handle).
        let queue = Mutex::new(WalkQueue {
            dirs: vec![(base_path.to_string(), base.oid)],
            pending: 1,
            failed: None,
        });
        let ready = Condvar::new();
        let visited = AtomicUsize::new(0);
        let results: Vec<Option<Vec<(String, Node)>>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| scope.spawn(|| self.walk_worker(&queue, &ready, &visited, pattern)))
                .collect();
            workers.into_iter().map(|w| w.join().ok()).collect()
        });
        if results.iter().any(Option::is_none) {
            return Err(GitError::Object {
                location: self.location(),
                what: format!("the tree at {base_path:?}"),
                cause: "a walker thread panicked".into(),
            });
        }
        let failed = match queue.into_inner() {
            Ok(q) => q.failed,
            Err(p) => p.into_inner().failed,
        };
        if let Some(e) = failed {
            return Err(e);
        }
        Ok(results.into_iter().flatten().flatten().collect())
    }

    fn walk_worker(
        &self,
        queue: &Mutex<WalkQueue>,
        ready: &Condvar,
        visited: &AtomicUsize,
        pattern: &str,
    ) -> Vec<(String, Node)> {
        let mut out = Vec::new();
        loop {
            let (dir, oid) = {
                let Ok(mut q) = queue.lock() else { return out };
                loop {
                    if q.failed.is_some() || q.pending == 0 {
                        return out;
                    }
                    if let Some(item) = q.dirs.pop() {
                        break item;
                    }
                    q = match ready.wait(q) {
                        Ok(q) => q,
                        Err(_) => return out,
                    };
                }
            };
            let mut subdirs = Vec::new();
            let result = self.tree(oid, &dir).and_then(|tree| {
                let n =
                    visited.fetch_add(tree.entries.len(), Ordering::Relaxed) + tree.entries.len();
                if n > self.inner.limits.max_walk_entries {
                    return Err(GitError::GlobLimit {
                        location: self.location(),
                        pattern: pattern.to_string(),
                        what: "had to visit",
                        limit: self.inner.limits.max_walk_entries,
                    });
                }
                for e in &tree.entries {
                    let path = join(&dir, &e.name);
                    match e.mode {
                        Mode::Tree => subdirs.push((path, e.oid)),
                        _ => out.push((
                            path,
                            Node {
                                mode: e.mode,
                                oid: e.oid,
                            },
                        )),
                    }
                }
                Ok(())
            });
            let Ok(mut q) = queue.lock() else { return out };
            q.pending -= 1;
            match result {
                Ok(()) => {
                    q.pending += subdirs.len();
                    q.dirs.extend(subdirs);
                }
                Err(e) => {
                    if q.failed.is_none() {
                        q.failed = Some(e);
                    }
                }
            }
            ready.notify_all();
        }
    }

    fn walk_sequential(
        &self,
        base: Node,
        base_path: &str,
        pattern: &str,
    ) -> Result<Vec<(String, Node)>, GitError> {
        let mut out = Vec::new();
        let mut visited = 0usize;
        let mut stack = vec![(base_path.to_string(), base.oid)];
        while let Some((dir, oid)) = stack.pop() {
            let tree = self.tree(oid, &dir)?;
            for e in &tree.entries {
                visited += 1;
                if visited > self.inner.limits.max_walk_entries {
                    return Err(GitError::GlobLimit {
                        location: self.location(),
                        pattern: pattern.to_string(),
                        what: "had to visit",
                        limit: self.inner.limits.max_walk_entries,
                    });
                }
                let path = join(&dir, &e.name);
                match e.mode {
                    Mode::Tree => stack.push((path, e.oid)),
                    _ => out.push((
                        path,
                        Node {
                            mode: e.mode,
                            oid: e.oid,
                        },
                    )),
                }
            }
        }
        Ok(out)
    }

    /// All file paths of the snapshot (cached).
    fn all_files(&self, pattern: &str) -> Result<FileList, GitError> {
        if let Some(all) = self.inner.all_files.lock().ok().and_then(|g| g.clone()) {
            return Ok(all);
        }
        let root = Node {
            mode: Mode::Tree,
            oid: self.inner.root,
        };
        let all = Arc::new(self.walk(root, "", pattern)?);
        if let Ok(mut g) = self.inner.all_files.lock() {
            *g = Some(all.clone());
        }
        Ok(all)
    }
}

fn is_missing(e: &gix::Error) -> bool {
    let text = chain(e).to_ascii_lowercase();
    text.contains("not found")
        || text.contains("could not be found")
        || text.contains("does not exist")
}

impl Tree for GitTree {
    fn location(&self) -> String {
        format!("{}@{}", self.inner.url, self.inner.commit.short())
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, GitError> {
        match self.lookup(path, true)? {
            None => Err(self.not_found(path)),
            Some(Node {
                mode: Mode::Tree, ..
            }) => Err(GitError::IsADirectory {
                location: self.location(),
                path: path.to_string(),
            }),
            Some(Node {
                mode: Mode::Commit, ..
            }) => Err(GitError::Submodule {
                location: self.location(),
                path: path.to_string(),
            }),
            Some(Node { oid, .. }) => self.blob(oid, path, self.inner.limits.max_file_size),
        }
    }

    fn list(&self, path: &str) -> Result<Vec<Entry>, GitError> {
        let node = self
            .lookup(path, true)?
            .ok_or_else(|| self.not_found(path))?;
        if node.mode != Mode::Tree {
            return Err(GitError::NotADirectory {
                location: self.location(),
                path: path.to_string(),
            });
        }
        let dir = clean_dir(path);
        let tree = self.tree(node.oid, &dir)?;
        let mut out: Vec<Entry> = tree
            .entries
            .iter()
            .map(|e| Entry {
                name: e.name.clone(),
                path: join(&dir, &e.name),
                kind: match e.mode {
                    Mode::Tree => EntryKind::Dir,
                    Mode::Blob => EntryKind::File,
                    Mode::Link => EntryKind::Symlink,
                    Mode::Commit => EntryKind::Submodule,
                },
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn kind(&self, path: &str) -> Result<Option<EntryKind>, GitError> {
        Ok(self.lookup(path, true)?.map(|n| match n.mode {
            Mode::Tree => EntryKind::Dir,
            Mode::Blob => EntryKind::File,
            Mode::Link => EntryKind::Symlink,
            Mode::Commit => EntryKind::Submodule,
        }))
    }

    fn glob_with(&self, pattern: &str, mode: GlobMode) -> Result<Vec<String>, GitError> {
        let pat = Pattern::new(pattern, mode)?;
        let base = pat.base_dir().to_string();
        let candidates: FileList = if base.is_empty() {
            self.all_files(pattern)?
        } else {
            // Walk the literal base directory only; it may also be a single file.
            match self.lookup(&base, false) {
                Ok(Some(node)) if node.mode == Mode::Tree => {
                    Arc::new(self.walk(node, &base, pattern)?)
                }
                Ok(Some(node)) => Arc::new(vec![(base.clone(), node)]),
                Ok(None)
                | Err(GitError::NotADirectory { .. })
                | Err(GitError::Submodule { .. }) => return Ok(Vec::new()),
                Err(e) => return Err(e),
            }
        };
        let mut out = Vec::new();
        for (path, node) in candidates.iter() {
            if node.mode == Mode::Commit || !pat.matches(path) {
                continue;
            }
            if node.mode == Mode::Link {
                match self.lookup(path, true) {
                    Ok(Some(Node {
                        mode: Mode::Blob, ..
                    })) => {}
                    Ok(_) => continue,
                    Err(e) => {
                        tracing::warn!(location = %self.location(), path = %path, error = %e, "glob skips a symbolic link");
                        continue;
                    }
                }
            }
            out.push(path.clone());
            if out.len() > self.inner.limits.max_glob_matches {
                return Err(GitError::GlobLimit {
                    location: self.location(),
                    pattern: pattern.to_string(),
                    what: "matched",
                    limit: self.inner.limits.max_glob_matches,
                });
            }
        }
        out.sort();
        Ok(out)
    }
}
