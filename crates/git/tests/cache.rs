//! The repository cache against real repositories made with the `git` CLI and
//! served over local paths, `file://`, smart HTTP (`git http-backend`) and SSH
//! (through an `ssh` command).

mod support;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flotilla_git::{
    CacheOptions, CommitId, Credentials, GitCache, GitError, HostKeyPolicy, Poll, RevisionKind,
    SshKey, Tree,
};
use support::git_http::{GitHttpOptions, GitHttpServer};
use support::{fake_ssh, git, Upstream};
use tempfile::TempDir;

fn id(hex: &str) -> CommitId {
    hex.parse().unwrap()
}

/// An upstream with history, branches, tags of every kind.
fn fixture(root: &std::path::Path) -> Upstream {
    let up = Upstream::new(root, "deploy.git");
    up.write("base/deployment.yaml", "kind: Deployment\n")
        .write("overlays/prod/eu/config.json", "{\"region\":\"eu\"}\n");
    up.commit("first");
    up.tag("v1.0.0");
    up.write("overlays/prod/us/config.json", "{\"region\":\"us\"}\n");
    up.commit("second");
    up.annotated_tag("v1.2.0");
    up.write("overlays/dev/eu/config.json", "{\"region\":\"eu-dev\"}\n");
    up.commit("third");
    up.annotated_tag("v1.2.7");
    up.tag("release");
    up.write("README.md", "hello\n");
    up.commit("fourth");
    up.tag("v2.0.0-rc.1");
    up.new_branch("feature");
    up.write("feature.txt", "feature\n");
    up.commit("feature work");
    up.checkout("main");
    up
}

struct Env {
    _tmp: TempDir,
    up: Upstream,
    server: GitHttpServer,
    cache_dir: std::path::PathBuf,
}

impl Env {
    async fn new() -> Env {
        Self::with_server(GitHttpOptions::new).await
    }

    async fn with_server(opts: impl FnOnce(std::path::PathBuf) -> GitHttpOptions) -> Env {
        let tmp = TempDir::new().unwrap();
        let repos = tmp.path().join("repos");
        std::fs::create_dir_all(&repos).unwrap();
        let up = fixture(&repos);
        let server = GitHttpServer::start_with(opts(repos)).await.unwrap();
        let cache_dir = tmp.path().join("cache");
        Env {
            _tmp: tmp,
            up,
            server,
            cache_dir,
        }
    }

    fn url(&self) -> String {
        self.server.url("deploy.git")
    }

    fn cache(&self) -> GitCache {
        GitCache::new(&self.cache_dir).unwrap()
    }

    fn fetch_requests(&self) -> usize {
        self.server
            .requests()
            .iter()
            .filter(|r| r.command.as_deref() == Some("fetch"))
            .count()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolves_every_revision_form_like_git() {
    let env = Env::new().await;
    let cache = env.cache();
    let url = env.url();
    let up = &env.up;
    up.git(&["update-ref", "refs/custom/pinned", "v1.0.0"]);

    let cases: Vec<(&str, String, RevisionKind)> = vec![
        (
            "HEAD",
            up.rev("main"),
            RevisionKind::Head {
                branch: Some("main".into()),
            },
        ),
        (
            "",
            up.rev("main"),
            RevisionKind::Head {
                branch: Some("main".into()),
            },
        ),
        ("main", up.rev("main"), RevisionKind::Branch("main".into())),
        (
            "feature",
            up.rev("feature"),
            RevisionKind::Branch("feature".into()),
        ),
        (
            "refs/heads/feature",
            up.rev("feature"),
            RevisionKind::Branch("feature".into()),
        ),
        (
            "release",
            up.rev("release"),
            RevisionKind::Tag("release".into()),
        ),
        // An annotated tag resolves to the commit it tags, not the tag object.
        (
            "refs/tags/v1.2.0",
            up.rev("v1.2.0^{commit}"),
            RevisionKind::Tag("v1.2.0".into()),
        ),
        (
            "refs/custom/pinned",
            up.rev("v1.0.0"),
            RevisionKind::Ref("refs/custom/pinned".into()),
        ),
        (
            "v1.2.0",
            up.rev("v1.2.0^{commit}"),
            RevisionKind::Semver {
                tag: "v1.2.0".into(),
                version: "1.2.0".into(),
            },
        ),
        (
            "1.2.*",
            up.rev("v1.2.7^{commit}"),
            RevisionKind::Semver {
                tag: "v1.2.7".into(),
                version: "1.2.7".into(),
            },
        ),
        (
            ">=1.0.0 <2.0.0",
            up.rev("v1.2.7^{commit}"),
            RevisionKind::Semver {
                tag: "v1.2.7".into(),
                version: "1.2.7".into(),
            },
        ),
        (
            "~1.0",
            up.rev("v1.0.0"),
            RevisionKind::Semver {
                tag: "v1.0.0".into(),
                version: "1.0.0".into(),
            },
        ),
        (
            "^1.0.0",
            up.rev("v1.2.7^{commit}"),
            RevisionKind::Semver {
                tag: "v1.2.7".into(),
                version: "1.2.7".into(),
            },
        ),
        // Prereleases only when asked for.
        (
            ">=2.0.0-rc.0",
            up.rev("v2.0.0-rc.1"),
            RevisionKind::Semver {
                tag: "v2.0.0-rc.1".into(),
                version: "2.0.0-rc.1".into(),
            },
        ),
    ];
    for (rev, want, kind) in cases {
        let got = cache
            .resolve(&url, rev)
            .await
            .unwrap_or_else(|e| panic!("{rev:?}: {e}"));
        assert_eq!(got.commit.to_hex(), want, "revision {rev:?}");
        assert_eq!(got.kind, kind, "revision {rev:?}");
    }
    // Resolving is ls-refs only: nothing was downloaded.
    assert_eq!(env.fetch_requests(), 0);
    assert_eq!(cache.stats().fetches, 0);

    // Commit ids, full and short, are resolved against the objects (fetching them).
    let second = up.rev("main~3");
    let r = cache.resolve(&url, &second).await.unwrap();
    assert_eq!(
        (r.commit.to_hex(), r.kind),
        (second.clone(), RevisionKind::Commit)
    );
    let r = cache.resolve(&url, &second[..9]).await.unwrap();
    assert_eq!(
        (r.commit.to_hex(), r.kind),
        (second.clone(), RevisionKind::ShortCommit)
    );
    let r = cache.fetch_revision(&url, &second).await.unwrap();
    assert_eq!(r.commit.to_hex(), second);

    // Nothing satisfies the constraint, and no ref has that name.
    let err = cache.resolve(&url, "3.x").await.unwrap_err();
    assert!(matches!(err, GitError::RevisionNotFound { .. }), "{err}");
    assert!(err.to_string().contains(&url), "{err}");
    assert!(err.to_string().contains("\"3.x\""), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_reads_a_commit_without_checkout() {
    let env = Env::new().await;
    let cache = env.cache();
    let url = env.url();
    let tree = cache.snapshot(&url, "v1.2.0").await.unwrap();
    assert_eq!(tree.commit().to_hex(), env.up.rev("v1.2.0^{commit}"));
    assert_eq!(
        tree.read("overlays/prod/us/config.json").unwrap(),
        b"{\"region\":\"us\"}\n"
    );
    // Files added after the tag are not in this snapshot.
    let err = tree.read("README.md").unwrap_err();
    assert!(matches!(err, GitError::NotFound { .. }), "{err}");
    assert!(
        err.to_string().contains("README.md") && err.to_string().contains(&url),
        "{err}"
    );
    assert_eq!(
        tree.glob("overlays/**/config.json").unwrap(),
        vec![
            "overlays/prod/eu/config.json",
            "overlays/prod/us/config.json"
        ]
    );
    let names: Vec<String> = tree.list("").unwrap().into_iter().map(|e| e.name).collect();
    assert_eq!(names, vec!["base", "overlays"]);
    // The cache is a bare repository: no working tree was written.
    let dir = cache.repo_dir(&url).unwrap();
    assert!(dir.join("objects").is_dir());
    assert!(!dir.join("overlays").exists());
    assert_eq!(git(&dir, &["rev-parse", "--is-bare-repository"]), "true");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spellings_of_one_url_share_one_cache_entry() {
    let env = Env::new().await;
    let cache = env.cache();
    let url = env.url();
    let spelled = format!(
        "{}/",
        url.trim_end_matches(".git").replace("http://", "HTTP://")
    );
    assert_eq!(
        cache.repo_dir(&url).unwrap(),
        cache.repo_dir(&spelled).unwrap()
    );
    cache.snapshot(&url, "main").await.unwrap();
    assert_eq!(cache.stats().fetches, 1);
    // http-backend serves "deploy/" as the same repository; the cache entry is reused.
    let tree = cache.snapshot(&spelled, "main").await.unwrap();
    assert_eq!(tree.read("README.md").unwrap(), b"hello\n");
    assert_eq!(cache.stats().fetches, 1);
    let entries: Vec<_> = std::fs::read_dir(cache.root())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.path().extension().is_some_and(|x| x == "git")
                && !e.file_name().to_string_lossy().starts_with('.')
        })
        .collect();
    assert_eq!(entries.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_path_and_file_url_transports() {
    let tmp = TempDir::new().unwrap();
    let up = fixture(tmp.path());
    let cache = GitCache::new(tmp.path().join("cache")).unwrap();
    let path = up.dir.display().to_string();
    let file_url = format!("file://{path}");

    let a = cache.snapshot(&path, "feature").await.unwrap();
    assert_eq!(a.commit().to_hex(), up.rev("feature"));
    assert_eq!(a.read("feature.txt").unwrap(), b"feature\n");
    // file:// names the same repository: same cache entry, no second fetch.
    let b = cache.snapshot(&file_url, "feature").await.unwrap();
    assert_eq!(b.commit(), a.commit());
    assert_eq!(cache.stats().fetches, 1);
    assert_eq!(
        cache.repo_dir(&path).unwrap(),
        cache.repo_dir(&file_url).unwrap()
    );

    let err = cache
        .snapshot(&tmp.path().join("nope").display().to_string(), "main")
        .await
        .unwrap_err();
    assert!(matches!(err, GitError::Unreachable { .. }), "{err}");
    assert!(err.to_string().contains("nope"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_basic_auth_credentials() {
    let env =
        Env::with_server(|root| GitHttpOptions::new(root).with_basic_auth("deployer", "s3cr3t-pw"))
            .await;
    let url = env.url();

    // No credentials: a clear authentication error naming the URL.
    let err = env.cache().resolve(&url, "main").await.unwrap_err();
    assert!(matches!(err, GitError::Authentication { .. }), "{err}");
    assert!(err.to_string().contains(&url), "{err}");

    // Wrong credentials.
    let cache = env.cache();
    cache
        .add_credentials(&url, Credentials::basic("deployer", "wrong"))
        .unwrap();
    let err = cache.resolve(&url, "main").await.unwrap_err();
    assert!(matches!(err, GitError::Authentication { .. }), "{err}");
    assert!(
        !format!("{err} {err:?}").contains("wrong"),
        "password leaked: {err:?}"
    );

    // Configured for a URL prefix (credential template).
    let cache = env.cache();
    cache
        .add_credentials(
            env.server.base_url(),
            Credentials::basic("deployer", "s3cr3t-pw"),
        )
        .unwrap();
    let tree = cache.snapshot(&url, "main").await.unwrap();
    assert_eq!(tree.read("README.md").unwrap(), b"hello\n");
    assert!(!format!("{cache:?} {tree:?}").contains("s3cr3t"));

    // Embedded in the URL: used, but never shown.
    let with_pw = url.replace("http://", "http://deployer:s3cr3t-pw@");
    let cache = env.cache();
    let tree = cache.snapshot(&with_pw, "v1.0.0").await.unwrap();
    assert!(!tree.location().contains("s3cr3t"), "{}", tree.location());
    let err = cache
        .snapshot(&with_pw, "no-such-branch")
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("s3cr3t"), "{err}");
    assert!(err.to_string().contains("deployer:***@"), "{err}");

    // Plain http to a host that is not loopback: refused before connecting.
    let cache = env.cache();
    cache
        .add_credentials("http://git.example.invalid", Credentials::token("tok"))
        .unwrap();
    let err = cache
        .resolve("http://git.example.invalid/org/repo", "main")
        .await
        .unwrap_err();
    assert!(matches!(err, GitError::InsecureCredentials { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_transport_runs_the_configured_ssh_with_the_key() {
    let tmp = TempDir::new().unwrap();
    let up = fixture(tmp.path());
    let (ssh, log) = fake_ssh(tmp.path());
    let key = tmp.path().join("deploy key");
    std::fs::write(&key, "not a real key").unwrap();
    let cache = GitCache::with_options(
        tmp.path().join("cache"),
        CacheOptions {
            ssh_program: ssh,
            ..Default::default()
        },
    )
    .unwrap();
    let url = format!("ssh://git@git.example.test{}", up.dir.display());
    let mut key_cfg = SshKey::new(&key);
    key_cfg.host_keys = HostKeyPolicy::KnownHosts(tmp.path().join("known_hosts"));
    cache
        .add_credentials(&url, Credentials::SshKey(key_cfg))
        .unwrap();

    let tree = cache.snapshot(&url, "release").await.unwrap();
    assert_eq!(tree.commit().to_hex(), up.rev("release"));
    assert_eq!(
        tree.read("base/deployment.yaml").unwrap(),
        b"kind: Deployment\n"
    );

    let args = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = args.lines().collect();
    for expected in [
        "BatchMode=yes",
        "IdentitiesOnly=yes",
        "StrictHostKeyChecking=yes",
        "git@git.example.test",
    ] {
        assert!(
            lines.contains(&expected),
            "{expected} missing from ssh arguments:\n{args}"
        );
    }
    assert!(
        lines.contains(&key.display().to_string().as_str()),
        "key missing:\n{args}"
    );
    assert!(
        args.contains(&format!("git-upload-pack\n'{}'", up.dir.display())),
        "{args}"
    );
    // The same repository spelled SCP-like shares the cache entry.
    let scp = format!("git@git.example.test:{}", up.dir.display());
    assert_eq!(cache.repo_dir(&scp).unwrap(), cache.repo_dir(&url).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_lists_refs_only_and_fetches_only_on_change() {
    let env = Env::new().await;
    let cache = env.cache();
    let url = env.url();
    let first = cache.snapshot(&url, "main").await.unwrap().commit();
    assert_eq!(env.fetch_requests(), 1);
    env.server.clear_requests();

    for _ in 0..3 {
        match cache.poll(&url, "main", Some(first)).await.unwrap() {
            Poll::Unchanged(r) => assert_eq!(r.commit, first),
            other => panic!("expected no change, got {other:?}"),
        }
    }
    let reqs = env.server.requests();
    assert!(!reqs.is_empty());
    assert!(
        reqs.iter().all(|r| r.command.as_deref() != Some("fetch")),
        "polling downloaded something: {reqs:?}"
    );
    assert!(reqs.iter().any(|r| r.command.as_deref() == Some("ls-refs")));
    assert_eq!(cache.stats().fetches, 1);

    env.up.write(
        "overlays/prod/eu/config.json",
        "{\"region\":\"eu\",\"replicas\":3}\n",
    );
    let new = id(&env.up.commit("scale eu"));
    match cache.poll(&url, "main", Some(first)).await.unwrap() {
        Poll::Changed { previous, current } => {
            assert_eq!(previous, Some(first));
            assert_eq!(current.commit, new);
        }
        other => panic!("expected a change, got {other:?}"),
    }
    assert_eq!(env.fetch_requests(), 1);
    let tree = cache.snapshot_commit(&url, new).await.unwrap();
    assert_eq!(
        tree.read_to_string("overlays/prod/eu/config.json").unwrap(),
        "{\"region\":\"eu\",\"replicas\":3}\n"
    );
    assert!(matches!(
        cache.poll(&url, "main", Some(new)).await.unwrap(),
        Poll::Unchanged(_)
    ));
    assert_eq!(env.fetch_requests(), 1);
    assert_eq!(cache.stats().fetches, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_cause_one_fetch() {
    let env = Env::new().await;
    let cache = env.cache();
    let url = env.url();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let cache = cache.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let rev = if i % 2 == 0 { "main" } else { "HEAD" };
            cache.snapshot(&url, rev).await.map(|t| t.commit())
        }));
    }
    let main = id(&env.up.rev("main"));
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), main);
    }
    assert_eq!(cache.stats().fetches, 1);
    assert_eq!(env.fetch_requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_holding_the_lock_is_waited_for() {
    let env = Env::new().await;
    let cache = env.cache();
    let url = env.url();
    let lock_path = cache.repo_dir(&url).unwrap().with_extension("lock");
    let held = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .unwrap();
    held.lock().unwrap();
    let task = tokio::spawn({
        let cache = cache.clone();
        let url = url.clone();
        async move { cache.snapshot(&url, "main").await.map(|t| t.commit()) }
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        !task.is_finished(),
        "fetched while another process held the lock"
    );
    assert_eq!(env.fetch_requests(), 0);
    held.unlock().unwrap();
    let commit = tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(commit.to_hex(), env.up.rev("main"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_remote_names_url_and_cause_and_cache_stays_readable() {
    let env = Env::new().await;
    let url = env.url();
    let cache = env.cache();
    let old = cache.snapshot(&url, "main").await.unwrap().commit();
    let older = id(&env.up.rev("v1.0.0"));
    cache.fetch_revision(&url, "v1.0.0").await.unwrap();
    let Env {
        server, up, _tmp, ..
    } = env;
    drop(server);

    let err = cache.snapshot(&url, "main").await.unwrap_err();
    assert!(matches!(err, GitError::Unreachable { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains(&url), "{text}");
    assert!(
        text.to_ascii_lowercase().contains("refused")
            || text.to_ascii_lowercase().contains("connect"),
        "{text}"
    );
    assert!(err.is_remote_failure());
    let err = cache.poll(&url, "main", Some(old)).await.unwrap_err();
    assert!(matches!(err, GitError::Unreachable { .. }), "{err}");

    // What was fetched stays readable, by commit and by the last resolution.
    let tree = cache.snapshot_commit(&url, old).await.unwrap();
    assert_eq!(tree.read("README.md").unwrap(), b"hello\n");
    assert_eq!(
        cache.snapshot_commit(&url, older).await.unwrap().commit(),
        older
    );
    assert_eq!(
        cache.resolve_cached(&url, "main").await.unwrap().commit,
        old
    );
    assert_eq!(
        cache
            .snapshot_cached(&url, "release")
            .await
            .unwrap()
            .commit()
            .to_hex(),
        up.rev("release")
    );
    // A fresh cache object (another process) reads the same directory.
    let other = GitCache::new(cache.root()).unwrap();
    assert_eq!(
        other.snapshot_commit(&url, old).await.unwrap().commit(),
        old
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stalled_remote_times_out_once_for_all_waiters() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let holder = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            open.push(s);
        }
    });
    let tmp = TempDir::new().unwrap();
    let cache = GitCache::with_options(
        tmp.path(),
        CacheOptions {
            operation_timeout: Duration::from_millis(1500),
            ..Default::default()
        },
    )
    .unwrap();
    let url = format!("http://{addr}/deploy.git");
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let cache = cache.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            cache.fetch_revision(&url, "main").await
        }));
    }
    for t in tasks {
        let err = t.await.unwrap().unwrap_err();
        assert!(err.to_string().contains("timed out"), "{err}");
        assert!(err.to_string().contains(&url), "{err}");
    }
    let elapsed = start.elapsed();
    assert!(
        elapsed < Duration::from_millis(4000),
        "waiters retried one after another: {elapsed:?}"
    );
    holder.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_cache_is_detected_and_fetched_again() {
    let env = Env::new().await;
    let url = env.url();
    // Enough objects that the fetch keeps them in a pack.
    for i in 0..150 {
        env.up
            .write(&format!("bulk/file-{i:03}.yaml"), format!("n: {i}\n"));
    }
    env.up.commit("bulk");
    let cache = env.cache();
    let commit = cache.snapshot(&url, "main").await.unwrap().commit();
    let dir = cache.repo_dir(&url).unwrap();
    let pack = std::fs::read_dir(dir.join("objects/pack"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "pack"))
        .expect("a pack file");
    let len = std::fs::metadata(&pack).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&pack).unwrap();
    f.set_len(len / 2).unwrap();
    drop(f);

    // A new process finds the truncated pack and fetches again.
    let fresh = env.cache();
    let tree = fresh.snapshot(&url, "main").await.unwrap();
    assert_eq!(tree.commit(), commit);
    assert_eq!(tree.read("bulk/file-149.yaml").unwrap(), b"n: 149\n");
    assert_eq!(
        tree.read("overlays/dev/eu/config.json").unwrap(),
        b"{\"region\":\"eu-dev\"}\n"
    );
    assert_eq!(fresh.stats().repairs, 1);
    assert_eq!(fresh.stats().fetches, 1);
    assert_eq!(
        git(&dir, &["fsck", "--no-progress", "--connectivity-only"]),
        ""
    );

    // A small fetch is stored as loose objects; garbage in one of them is found too.
    env.up.write("README.md", "small change\n");
    let small = env.up.commit("small");
    assert_eq!(
        fresh
            .snapshot(&url, "main")
            .await
            .unwrap()
            .commit()
            .to_hex(),
        small
    );
    let loose = dir.join("objects").join(&small[..2]).join(&small[2..]);
    assert!(loose.is_file(), "the small fetch was not stored loose");
    let mut perms = std::fs::metadata(&loose).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&loose, perms).unwrap();
    std::fs::write(&loose, b"definitely not zlib").unwrap();
    let again = env.cache();
    let tree = again.snapshot(&url, "main").await.unwrap();
    assert_eq!(tree.read("README.md").unwrap(), b"small change\n");
    assert_eq!(again.stats().repairs, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_written_cache_is_fetched_again() {
    let env = Env::new().await;
    let url = env.url();
    let cache = env.cache();
    cache.snapshot(&url, "main").await.unwrap();
    let dir = cache.repo_dir(&url).unwrap();
    // As if the process was killed during its first fetch: no completion
    // marker, objects half there, a lock file left behind.
    std::fs::remove_file(dir.join("flotilla-complete")).unwrap();
    for e in std::fs::read_dir(dir.join("objects/pack"))
        .unwrap()
        .flatten()
    {
        if e.path().extension().is_some_and(|x| x == "idx") {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    std::fs::write(dir.join("packed-refs.lock"), "").unwrap();

    let fresh = env.cache();
    // Not trusted for offline reads either.
    assert!(fresh.resolve_cached(&url, "main").await.is_err());
    let tree = fresh.snapshot(&url, "main").await.unwrap();
    assert_eq!(tree.read("README.md").unwrap(), b"hello\n");
    assert_eq!(fresh.stats().repairs, 1);
    assert!(!dir.join("packed-refs.lock").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_lock_files_do_not_block_fetching() {
    let env = Env::new().await;
    let url = env.url();
    let cache = env.cache();
    cache.snapshot(&url, "main").await.unwrap();
    let dir = cache.repo_dir(&url).unwrap();
    std::fs::write(dir.join("packed-refs.lock"), "").unwrap();
    std::fs::create_dir_all(dir.join("refs/heads")).unwrap();
    std::fs::write(dir.join("refs/heads/main.lock"), "").unwrap();
    env.up.write("README.md", "changed\n");
    let new = env.up.commit("change");

    let fresh = env.cache();
    let tree = fresh.snapshot(&url, "main").await.unwrap();
    assert_eq!(tree.commit().to_hex(), new);
    assert_eq!(
        fresh
            .resolve_cached(&url, "main")
            .await
            .unwrap()
            .commit
            .to_hex(),
        new
    );
    assert_eq!(fresh.stats().repairs, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_pushed_branch_resolves_to_its_new_commit() {
    let env = Env::new().await;
    let url = env.url();
    let cache = env.cache();
    let before = cache.snapshot(&url, "main").await.unwrap();
    // Rewrite history: the new main does not contain the old one.
    env.up.git(&["reset", "-q", "--hard", "HEAD~1"]);
    env.up.write("README.md", "rewritten\n");
    let after = env.up.commit("rewritten");
    env.up.git(&["reflog", "expire", "--expire=now", "--all"]);
    env.up.git(&["gc", "-q", "--prune=now"]);

    let tree = cache.snapshot(&url, "main").await.unwrap();
    assert_eq!(tree.commit().to_hex(), after);
    assert_eq!(tree.read("README.md").unwrap(), b"rewritten\n");
    assert_eq!(
        cache
            .resolve_cached(&url, "main")
            .await
            .unwrap()
            .commit
            .to_hex(),
        after
    );
    // The commit it replaced stays readable from the cache.
    let old = cache.snapshot_commit(&url, before.commit()).await.unwrap();
    assert_eq!(old.read("README.md").unwrap(), b"hello\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_branch_is_a_clear_error() {
    let env = Env::new().await;
    let url = env.url();
    let cache = env.cache();
    let feature = cache.snapshot(&url, "feature").await.unwrap().commit();
    env.up.git(&["branch", "-q", "-D", "feature"]);

    let err = cache.snapshot(&url, "feature").await.unwrap_err();
    assert!(matches!(err, GitError::RevisionNotFound { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains(&url) && text.contains("feature"), "{text}");
    assert!(text.contains("no longer exists"), "{text}");
    assert!(text.contains(&feature.to_hex()[..12]), "{text}");
    let err = cache.resolve(&url, "feature").await.unwrap_err();
    assert!(err.to_string().contains("no longer exists"), "{err}");
    // The cache follows the remote: the branch is gone there too.
    cache.fetch(&url).await.unwrap();
    assert!(cache.resolve_cached(&url, "feature").await.is_err());
    // Its last commit is still readable by id.
    assert!(cache.snapshot_commit(&url, feature).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_things_are_named() {
    let env = Env::new().await;
    let url = env.url();
    let cache = env.cache();
    let ghost = "0123456789abcdef0123456789abcdef01234567";
    let err = cache.snapshot(&url, ghost).await.unwrap_err();
    assert!(matches!(err, GitError::CommitNotFound { .. }), "{err}");
    assert!(
        err.to_string().contains(ghost) && err.to_string().contains(&url),
        "{err}"
    );
    let err = cache.resolve(&url, "does-not-exist").await.unwrap_err();
    assert!(matches!(err, GitError::RevisionNotFound { .. }), "{err}");
    assert!(err.to_string().contains("2 branches"), "{err}");

    // A repository without commits.
    let empty = env.server.root().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    git(&empty, &["init", "-q", "-b", "main"]);
    let err = cache
        .snapshot(&env.server.url("empty"), "main")
        .await
        .unwrap_err();
    assert!(matches!(err, GitError::EmptyRepository { .. }), "{err}");
    // A repository that does not exist on the server.
    let err = cache
        .snapshot(&env.server.url("nope"), "main")
        .await
        .unwrap_err();
    assert!(err.is_remote_failure(), "{err}");
    assert!(err.to_string().contains("/nope"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shallow_fetches_only_the_wanted_history() {
    let env = Env::new().await;
    let url = env.url();
    let cache = GitCache::with_options(
        &env.cache_dir,
        CacheOptions {
            depth: NonZeroU32::new(1),
            ..Default::default()
        },
    )
    .unwrap();
    let tree = cache.snapshot(&url, "main").await.unwrap();
    assert_eq!(tree.read("README.md").unwrap(), b"hello\n");
    let dir = cache.repo_dir(&url).unwrap();
    assert!(dir.join("shallow").is_file(), "not a shallow repository");
    let parent = env.up.rev("main~1");
    assert!(
        support::git_cmd(&dir)
            .args(["cat-file", "-e", &parent])
            .status()
            .unwrap()
            .code()
            != Some(0),
        "history beyond depth 1 was fetched"
    );
    // Another revision is fetched on its own, also shallow.
    let t = cache.snapshot(&url, "v1.0.0").await.unwrap();
    assert_eq!(t.commit().to_hex(), env.up.rev("v1.0.0"));
    assert_eq!(cache.stats().fetches, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repo_substitution_reads_a_local_clone_or_directory() {
    let env = Env::new().await;
    let cache = env.cache();
    let public = "https://GitHub.com/example/deploy.git";
    cache
        .substitute(
            "https://github.com/example/deploy",
            &env.up.dir.display().to_string(),
        )
        .unwrap();
    let tree = cache.snapshot(public, "v1.0.0").await.unwrap();
    assert_eq!(tree.commit().to_hex(), env.up.rev("v1.0.0"));
    let tree = cache.open_tree(public, "main").await.unwrap();
    assert_eq!(tree.read("README.md").unwrap(), b"hello\n");

    // A plain directory: served as is, revision ignored.
    let plain = env.cache_dir.parent().unwrap().join("plain");
    std::fs::create_dir_all(plain.join("overlays/x")).unwrap();
    std::fs::write(plain.join("overlays/x/config.json"), "{}").unwrap();
    cache
        .substitute("https://example.com/plain", &plain.display().to_string())
        .unwrap();
    let tree: Arc<dyn Tree> = cache
        .open_tree("https://example.com/plain.git", "whatever")
        .await
        .unwrap();
    assert_eq!(
        tree.glob("overlays/**/config.json").unwrap(),
        vec!["overlays/x/config.json"]
    );
}
