//! Snapshots: a cached commit ([`GitTree`]) and a local directory
//! ([`LocalTree`]) behave alike on the same files, refuse paths that leave the
//! root, follow links that stay inside, and bound their work. Globs are
//! checked against `git ls-files` itself.

mod support;

use std::sync::Arc;

use flotilla_git::{EntryKind, GitCache, GitError, GitTree, GlobMode, Limits, LocalTree, Tree};
use support::{git, Upstream};
use tempfile::TempDir;

/// A repository with nested directories, links inside and outside, a loop,
/// a submodule entry and a large file.
fn fixture(root: &std::path::Path) -> Upstream {
    let up = Upstream::new(root, "tree");
    up.write("base/kustomization.yaml", "resources: [deployment.yaml]\n")
        .write("base/deployment.yaml", "kind: Deployment\n")
        .write("overlays/prod/eu/config.json", "{\"r\":\"eu\"}")
        .write("overlays/prod/us/config.json", "{\"r\":\"us\"}")
        .write("overlays/dev/config.json", "{\"r\":\"dev\"}")
        .write(
            "overlays/prod/kustomization.yaml",
            "resources: [../../base]\n",
        )
        .write("config.json", "{\"root\":true}")
        .write(".hidden/config.json", "{}")
        .write("docs/a b.md", "space\n")
        .write("docs/[x].md", "bracket\n")
        .write("big/blob.bin", vec![b'x'; 200_000])
        .write("bin/run.sh", "#!/bin/sh\n")
        // Links that stay inside.
        .symlink("links/to-file", "../base/deployment.yaml")
        .symlink("links/to-dir", "../overlays/prod")
        .symlink("links/chain", "to-file")
        // Links that leave the tree.
        .symlink("links/escape", "../../outside.txt")
        .symlink("links/absolute", "/etc/passwd")
        .symlink("links/deep-escape", "../base/../../../etc/passwd")
        // A loop.
        .symlink("links/loop-a", "loop-b")
        .symlink("links/loop-b", "loop-a");
    std::fs::write(root.join("outside.txt"), "secret outside the repository\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        up.path("bin/run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    up.commit("fixture");
    // A submodule entry (gitlink) pointing at some commit.
    let head = up.rev("HEAD");
    up.git(&[
        "update-index",
        "--add",
        "--cacheinfo",
        &format!("160000,{head},vendor/sub"),
    ]);
    up.git(&["commit", "-q", "-m", "submodule"]);
    std::fs::create_dir_all(up.path("vendor/sub")).unwrap();
    up
}

struct Trees {
    _tmp: TempDir,
    up: Upstream,
    git: GitTree,
    local: LocalTree,
}

async fn trees() -> Trees {
    let tmp = TempDir::new().unwrap();
    let up = fixture(tmp.path());
    let cache = GitCache::new(tmp.path().join("cache")).unwrap();
    let git = cache
        .snapshot(&format!("file://{}", up.dir.display()), "main")
        .await
        .unwrap();
    let local = LocalTree::new(&up.dir).unwrap();
    Trees {
        _tmp: tmp,
        up,
        git,
        local,
    }
}

fn both(t: &Trees) -> [(&'static str, Arc<dyn Tree>); 2] {
    [
        ("git", Arc::new(t.git.clone()) as Arc<dyn Tree>),
        ("local", Arc::new(t.local.clone()) as Arc<dyn Tree>),
    ]
}

#[tokio::test]
async fn reads_files_and_follows_links_inside_the_tree() {
    let t = trees().await;
    for (name, tree) in both(&t) {
        assert_eq!(
            tree.read("base/deployment.yaml").unwrap(),
            b"kind: Deployment\n",
            "{name}"
        );
        assert_eq!(
            tree.read("./base//deployment.yaml").unwrap(),
            b"kind: Deployment\n",
            "{name}"
        );
        assert_eq!(
            tree.read("overlays/prod/../dev/config.json").unwrap(),
            b"{\"r\":\"dev\"}",
            "{name}"
        );
        assert_eq!(
            tree.read("links/to-file").unwrap(),
            b"kind: Deployment\n",
            "{name}"
        );
        assert_eq!(
            tree.read("links/chain").unwrap(),
            b"kind: Deployment\n",
            "{name}"
        );
        assert_eq!(
            tree.read("links/to-dir/eu/config.json").unwrap(),
            b"{\"r\":\"eu\"}",
            "{name}"
        );
        // `..` after a link to a directory is taken from where the link points.
        assert_eq!(
            tree.read("links/to-dir/../dev/config.json").unwrap(),
            b"{\"r\":\"dev\"}",
            "{name}"
        );
        assert_eq!(tree.read("docs/a b.md").unwrap(), b"space\n", "{name}");
        assert_eq!(
            tree.read_to_string("docs/[x].md").unwrap(),
            "bracket\n",
            "{name}"
        );
        assert_eq!(
            tree.kind("links/to-dir").unwrap(),
            Some(EntryKind::Dir),
            "{name}"
        );
        assert_eq!(tree.kind("nope").unwrap(), None, "{name}");
        assert!(tree.exists("bin/run.sh").unwrap(), "{name}");
    }
}

#[tokio::test]
async fn refuses_paths_that_leave_the_tree() {
    let t = trees().await;
    for (name, tree) in both(&t) {
        for path in [
            "../outside.txt",
            "base/../../outside.txt",
            "/etc/passwd",
            "links/escape",
            "links/absolute",
            "links/deep-escape",
            "links/to-dir/../../../outside.txt",
        ] {
            let err = tree.read(path).unwrap_err();
            assert!(
                matches!(err, GitError::PathEscapes { .. }),
                "{name}: {path:?} gave {err}"
            );
            let text = err.to_string();
            assert!(
                text.contains(path),
                "{name}: error does not name the path: {text}"
            );
            assert!(!text.contains("secret"), "{name}: {text}");
            assert!(tree.kind(path).is_err(), "{name}: kind({path:?})");
            assert!(tree.list(path).is_err(), "{name}: list({path:?})");
        }
        let err = tree.read("links/escape").unwrap_err().to_string();
        assert!(
            err.contains("outside.txt"),
            "{name}: which link is not said: {err}"
        );
        let err = tree.read("links/loop-a").unwrap_err();
        assert!(matches!(err, GitError::SymlinkLoop { .. }), "{name}: {err}");
    }
}

#[tokio::test]
async fn lists_directories_and_reports_wrong_kinds() {
    let t = trees().await;
    for (name, tree) in both(&t) {
        let root: Vec<(String, EntryKind)> = tree
            .list("")
            .unwrap()
            .into_iter()
            .map(|e| (e.name, e.kind))
            .collect();
        let expected = [
            (".hidden", EntryKind::Dir),
            ("base", EntryKind::Dir),
            ("big", EntryKind::Dir),
            ("bin", EntryKind::Dir),
            ("config.json", EntryKind::File),
            ("docs", EntryKind::Dir),
            ("links", EntryKind::Dir),
            ("overlays", EntryKind::Dir),
            ("vendor", EntryKind::Dir),
        ];
        let expected: Vec<(String, EntryKind)> =
            expected.iter().map(|(n, k)| (n.to_string(), *k)).collect();
        assert_eq!(root, expected, "{name}");
        let links = tree.list("links").unwrap();
        assert!(
            links.iter().all(|e| e.kind == EntryKind::Symlink),
            "{name}: {links:?}"
        );
        assert_eq!(links[0].path, "links/absolute", "{name}");
        let via_link: Vec<String> = tree
            .list("links/to-dir")
            .unwrap()
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(
            via_link,
            vec![
                "links/to-dir/eu",
                "links/to-dir/kustomization.yaml",
                "links/to-dir/us"
            ],
            "{name}"
        );
        assert!(
            matches!(
                tree.read("base").unwrap_err(),
                GitError::IsADirectory { .. }
            ),
            "{name}"
        );
        assert!(
            matches!(
                tree.list("config.json").unwrap_err(),
                GitError::NotADirectory { .. }
            ),
            "{name}"
        );
        assert!(
            matches!(
                tree.read("config.json/x").unwrap_err(),
                GitError::NotADirectory { .. }
            ),
            "{name}"
        );
        let err = tree.read("base/missing.yaml").unwrap_err();
        assert!(matches!(err, GitError::NotFound { .. }), "{name}: {err}");
        assert!(
            err.to_string().contains("base/missing.yaml"),
            "{name}: {err}"
        );
    }
    // The submodule is an entry of the commit, not readable content.
    assert_eq!(
        t.git.kind("vendor/sub").unwrap(),
        Some(EntryKind::Submodule)
    );
    assert!(matches!(
        t.git.read("vendor/sub").unwrap_err(),
        GitError::Submodule { .. }
    ));
    assert!(matches!(
        t.git.read("vendor/sub/x").unwrap_err(),
        GitError::Submodule { .. }
    ));
}

#[tokio::test]
async fn globs_agree_between_a_commit_and_a_directory() {
    let t = trees().await;
    for mode in [GlobMode::Git, GlobMode::Doublestar] {
        for pattern in [
            "overlays/**/config.json",
            "**/config.json",
            "*.json",
            "overlays/*/config.json",
            "overlays",
            "links/*",
            "docs/[[]x].md",
            "{base,overlays/prod}/kustomization.yaml",
            "nothing/*",
        ] {
            let g = t.git.glob_with(pattern, mode);
            let l = t.local.glob_with(pattern, mode);
            match (g, l) {
                (Ok(g), Ok(l)) => assert_eq!(g, l, "{mode:?} {pattern:?}"),
                (Err(g), Err(l)) => assert_eq!(
                    std::mem::discriminant(&g),
                    std::mem::discriminant(&l),
                    "{mode:?} {pattern:?}"
                ),
                (g, l) => panic!("{mode:?} {pattern:?}: git {g:?}, local {l:?}"),
            }
        }
    }
    // Argo CD's default: `**` needs at least one directory; `*` crosses `/`.
    assert_eq!(
        t.git.glob("**/config.json").unwrap(),
        vec![
            ".hidden/config.json",
            "overlays/dev/config.json",
            "overlays/prod/eu/config.json",
            "overlays/prod/us/config.json"
        ]
    );
    // doublestar: `**` matches zero directories too; `*` stays in one segment.
    assert_eq!(
        t.git
            .glob_with("overlays/*/config.json", GlobMode::Doublestar)
            .unwrap(),
        vec!["overlays/dev/config.json"]
    );
    assert_eq!(
        t.git
            .glob_with("**/config.json", GlobMode::Doublestar)
            .unwrap(),
        vec![
            ".hidden/config.json",
            "config.json",
            "overlays/dev/config.json",
            "overlays/prod/eu/config.json",
            "overlays/prod/us/config.json"
        ]
    );
    // Links: only those that `read` accepts are returned.
    assert_eq!(
        t.git.glob("links/*").unwrap(),
        vec!["links/chain", "links/to-file"]
    );
}

#[tokio::test]
async fn git_mode_globs_match_git_ls_files() {
    let tmp = TempDir::new().unwrap();
    let up = Upstream::new(tmp.path(), "oracle");
    for p in [
        "config.json",
        "overlays/config.json",
        "overlays/prod/config.json",
        "overlays/prod/eu-west-1/config.json",
        "overlays/staging/us/east/config.json",
        "overlays-old/prod/config.json",
        "apps/a/values.yaml",
        "apps/b/values.yml",
        "apps/b/charts/sub/values.yaml",
        "apps/c.d/values.yaml",
        ".github/workflows/ci.yaml",
        "docs/a?c.md",
        "docs/abc.md",
        "docs/v1.md",
        "docs/vx.md",
    ] {
        up.write(p, p);
    }
    up.commit("oracle");
    let tree = GitTree::open_local(&up.dir, "HEAD").unwrap();
    for pattern in [
        "*.json",
        "**/config.json",
        "overlays/**/config.json",
        "overlays/*/config.json",
        "overlays/*",
        "overlays",
        "overlays/",
        "overlays/prod",
        "apps/*/values.yaml",
        "apps/*/values.y*ml",
        "apps/**",
        "*/values.yaml",
        "docs/a?c.md",
        "docs/v[0-9].md",
        "docs/v[!0-9].md",
        "docs/a\\?c.md",
        ".github",
        "*",
        "nothing",
        "ov*ays/prod/config.json",
    ] {
        let ours = tree.glob(pattern).unwrap();
        let out = support::git_cmd(&up.dir)
            .args(["ls-files", "-z", "--full-name", "--", pattern])
            .output()
            .unwrap();
        assert!(out.status.success());
        let mut theirs: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .split('\0')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        theirs.sort();
        assert_eq!(ours, theirs, "pattern {pattern:?}");
    }
}

#[tokio::test]
async fn limits_bound_file_size_and_glob_fan_out() {
    let t = trees().await;
    let limits = Limits {
        max_file_size: 100_000,
        max_glob_matches: 3,
        max_walk_entries: 1_000,
    };
    let git: Arc<dyn Tree> = Arc::new(t.git.with_limits(limits));
    let local: Arc<dyn Tree> = Arc::new(t.local.clone().with_limits(limits));
    for (name, tree) in [("git", git), ("local", local)] {
        let err = tree.read("big/blob.bin").unwrap_err();
        assert!(
            matches!(
                err,
                GitError::FileTooLarge {
                    size: 200_000,
                    limit: 100_000,
                    ..
                }
            ),
            "{name}: {err}"
        );
        assert!(err.to_string().contains("big/blob.bin"), "{name}: {err}");
        assert_eq!(
            tree.read("config.json").unwrap(),
            b"{\"root\":true}",
            "{name}"
        );
        let err = tree.glob("**/*").unwrap_err();
        assert!(
            matches!(
                err,
                GitError::GlobLimit {
                    what: "matched",
                    limit: 3,
                    ..
                }
            ),
            "{name}: {err}"
        );
        assert_eq!(
            tree.glob("overlays/prod/*/config.json").unwrap().len(),
            2,
            "{name}"
        );
    }
    let tight = Limits {
        max_walk_entries: 10,
        ..Limits::default()
    };
    let err = t
        .git
        .with_limits(tight)
        .glob("**/nothing-matches")
        .unwrap_err();
    assert!(
        matches!(
            err,
            GitError::GlobLimit {
                what: "had to visit",
                ..
            }
        ),
        "{err}"
    );
    let err = t
        .local
        .clone()
        .with_limits(tight)
        .glob("**/nothing-matches")
        .unwrap_err();
    assert!(
        matches!(
            err,
            GitError::GlobLimit {
                what: "had to visit",
                ..
            }
        ),
        "{err}"
    );
    // Malformed patterns are errors, not empty results.
    assert!(matches!(
        t.git.glob("/etc/*").unwrap_err(),
        GitError::InvalidPattern { .. }
    ));
    assert!(matches!(
        t.git.glob("../*").unwrap_err(),
        GitError::InvalidPattern { .. }
    ));
    assert!(matches!(
        t.git.glob("a[b").unwrap_err(),
        GitError::InvalidPattern { .. }
    ));
}

#[tokio::test]
async fn snapshots_are_immutable_and_shareable_across_threads() {
    let t = trees().await;
    let before = t.git.read("config.json").unwrap();
    t.up.write("config.json", "{\"root\":false}");
    t.up.commit("change");
    assert_eq!(t.git.read("config.json").unwrap(), before);
    assert_ne!(t.up.rev("HEAD"), t.git.commit().to_hex());
    let tree = Arc::new(t.git.clone());
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let tree = tree.clone();
            std::thread::spawn(move || {
                let path = if i % 2 == 0 {
                    "overlays/prod/eu/config.json"
                } else {
                    "links/to-file"
                };
                (0..200)
                    .map(|_| tree.read(path).unwrap().len())
                    .sum::<usize>()
            })
        })
        .collect();
    for h in handles {
        assert!(h.join().unwrap() > 0);
    }
    // open_local resolves like the cache does, without fetching.
    let parent = git(&t.up.dir, &["rev-parse", "HEAD~1"]);
    let local = GitTree::open_local(&t.up.dir, &parent[..10]).unwrap();
    assert_eq!(local.read("config.json").unwrap(), before);
    assert_eq!(parent, local.commit().to_hex());
    assert_eq!(
        GitTree::open_local(&t.up.dir, "main")
            .unwrap()
            .commit()
            .to_hex(),
        t.up.rev("HEAD")
    );
}
