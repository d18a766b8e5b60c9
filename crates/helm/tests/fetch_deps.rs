//! Dependencies of umbrella charts, fetched from the URLs in `Chart.yaml`
//! (no repository registered), from real chart repositories on loopback,
//! never written into the chart's tree; `Chart.lock` pins are honoured and
//! checked as Helm checks them (differentially, against `helm dependency
//! update` v3.17.4 from the lab's assets).

mod fetch_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fetch_support::{shared_charts, write_repo, Config, Server};
use flotilla_git::{LocalTree, Tree};
use flotilla_helm::fetch::{ChartFetcher, DependencySource, FetchError, FetchOptions, RepoAuth};
use flotilla_helm::{ChartMetadata, Dependency, Lock};

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn snapshot(root: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            if m.is_dir() {
                stack.push(e.path());
            } else {
                out.push((e.path(), m.len()));
            }
        }
    }
    out.sort();
    out
}

/// A Git-like tree (a directory) with an umbrella chart and a sibling chart.
fn umbrella_tree(root: &Path, app_repo: &str, shared_repo: &str, sub_constraint: &str) {
    write(
        root,
        "apps/umbrella/Chart.yaml",
        &format!(
            "apiVersion: v2\nname: umbrella\nversion: 0.1.0\ndependencies:\n\
             - name: app\n  version: \"^1.0.0\"\n  repository: \"{app_repo}\"\n\
             - name: podinfo\n  version: \">=6.0.0 <7\"\n  repository: \"{shared_repo}\"\n  alias: web\n  condition: web.enabled\n\
             - name: sub\n  version: \"{sub_constraint}\"\n  repository: \"file://../sub\"\n"
        ),
    );
    write(root, "apps/umbrella/values.yaml", "web:\n  enabled: true\n");
    write(
        root,
        "apps/umbrella/templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
    );
    write(
        root,
        "apps/sub/Chart.yaml",
        "apiVersion: v2\nname: sub\nversion: 0.1.0\n",
    );
    write(
        root,
        "apps/sub/templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: sub\n",
    );
}

fn metadata(tree: &dyn Tree, path: &str) -> ChartMetadata {
    serde_yaml_ng::from_slice(&tree.read(path).unwrap()).unwrap()
}

#[derive(serde::Deserialize)]
struct LockFile {
    generated: String,
    digest: String,
    dependencies: Vec<Dependency>,
}

fn read_lock(path: &Path) -> Lock {
    let l: LockFile = serde_yaml_ng::from_slice(&std::fs::read(path).unwrap()).unwrap();
    Lock {
        generated: l.generated,
        digest: l.digest,
        dependencies: l.dependencies,
    }
}

async fn servers(tmp: &Path) -> (Server, Server, std::collections::HashMap<String, String>) {
    let repo = tmp.join("repo");
    let digests = write_repo(
        &repo,
        &[("app", "1.0.0"), ("app", "1.3.0"), ("app", "2.0.0")],
    );
    let app = Server::start(Config {
        dir: Some(repo),
        ..Config::default()
    })
    .await;
    let shared = Server::start(Config {
        dir: Some(shared_charts()),
        ..Config::default()
    })
    .await;
    (app, shared, digests)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn umbrella_dependencies_from_their_urls_without_touching_the_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, shared, digests) = servers(tmp.path()).await;
    let checkout = tmp.path().join("checkout");
    umbrella_tree(&checkout, &app.url, &format!("{}/", shared.url), "0.1.x");
    let before = snapshot(&checkout);
    let tree = LocalTree::new(&checkout).unwrap();
    let meta = metadata(&tree, "apps/umbrella/Chart.yaml");
    let f = ChartFetcher::new(tmp.path().join("cache"), FetchOptions::default()).unwrap();
    let deps = f
        .fetch_dependencies(
            &meta,
            None,
            Some((&tree, "apps/umbrella")),
            &BTreeMap::new(),
            &(),
        )
        .await
        .unwrap();
    assert_eq!(deps.len(), 3);
    assert_eq!(deps[0].name, "app");
    assert_eq!(deps[0].version, "1.3.0");
    match &deps[0].source {
        DependencySource::Archive(a) => assert_eq!(a.digest, digests["app-1.3.0"]),
        other => panic!("{other:?}"),
    }
    assert_eq!(deps[1].name, "podinfo");
    assert_eq!(deps[1].version, "6.14.1");
    assert!(matches!(&deps[1].source, DependencySource::Archive(a) if a.path.is_file()));
    assert_eq!(deps[2].version, "0.1.0");
    assert_eq!(
        deps[2].source,
        DependencySource::Directory {
            path: "apps/sub".into()
        }
    );
    assert_eq!(snapshot(&checkout), before, "the checkout was written to");

    // Warm: the same dependencies again cost no archive download, and
    // pinned ones (none here but the index is fresh) no index download.
    let app_hits = app.hits().len();
    let again = f
        .fetch_dependencies(
            &meta,
            None,
            Some((&tree, "apps/umbrella")),
            &BTreeMap::new(),
            &(),
        )
        .await
        .unwrap();
    assert_eq!(
        again,
        deps.iter()
            .cloned()
            .map(|mut d| {
                if let DependencySource::Archive(a) = &mut d.source {
                    a.cached = true;
                }
                d
            })
            .collect::<Vec<_>>()
    );
    assert_eq!(app.hits().len(), app_hits);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_dependencies_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, shared, _) = servers(tmp.path()).await;
    let checkout = tmp.path().join("checkout");
    umbrella_tree(&checkout, &app.url, &shared.url, "0.2.x");
    let tree = LocalTree::new(&checkout).unwrap();
    let f = ChartFetcher::new(tmp.path().join("cache"), FetchOptions::default()).unwrap();

    let meta = metadata(&tree, "apps/umbrella/Chart.yaml");
    let err = f
        .fetch_dependencies(
            &meta,
            None,
            Some((&tree, "apps/umbrella")),
            &BTreeMap::new(),
            &(),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(
            "dependency sub (file://../sub): apps/sub/Chart.yaml has version 0.1.0, which does not satisfy 0.2.x"
        ),
        "{err}"
    );

    let mut escaping = meta.clone();
    escaping.dependencies[2].repository = "file://../../../etc".into();
    escaping.dependencies[2].version = String::new();
    let err = f
        .fetch_dependencies(
            &escaping,
            None,
            Some((&tree, "apps/umbrella")),
            &BTreeMap::new(),
            &(),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("the path leaves"), "{err}");

    let mut missing = meta.clone();
    missing.dependencies[0].version = "^9".into();
    missing.dependencies.truncate(1);
    let err = f
        .fetch_dependencies(
            &missing,
            None,
            Some((&tree, "apps/umbrella")),
            &BTreeMap::new(),
            &(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "chart umbrella: dependency app: chart app version ^9 not found in {}/; available: 2.0.0, 1.3.0, 1.0.0",
            app.url
        )
    );

    let mut alias = meta.clone();
    alias.dependencies[0].repository = "@stable".into();
    let err = f
        .fetch_dependencies(
            &alias,
            None,
            Some((&tree, "apps/umbrella")),
            &BTreeMap::new(),
            &(),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("repository alias \"stable\" is not known"),
        "{err}"
    );
    // ... unless the caller knows it.
    let mut aliases = BTreeMap::new();
    aliases.insert("stable".to_string(), app.url.clone());
    let mut ok = alias.clone();
    ok.dependencies.truncate(1);
    let deps = f
        .fetch_dependencies(&ok, None, Some((&tree, "apps/umbrella")), &aliases, &())
        .await
        .unwrap();
    assert_eq!(deps[0].version, "1.3.0");
}

fn helm_binary() -> PathBuf {
    let assets = flotilla_lab::assets::ensure(
        &flotilla_lab::assets::AssetOptions::from_env(),
        &["helm"],
        &flotilla_lab::assets::QuietProgress,
    )
    .expect("the lab builds helm v3.17.4");
    assets.path("helm").unwrap().to_path_buf()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chart_lock_from_helm_is_honoured_and_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, shared, digests) = servers(tmp.path()).await;
    let checkout = tmp.path().join("checkout");
    umbrella_tree(&checkout, &app.url, &shared.url, "0.1.x");

    // Helm writes Chart.lock (and charts/) into a copy that is ours.
    let helm = helm_binary();
    let home = tmp.path().join("helm-home");
    let out = std::process::Command::new(&helm)
        .args(["dependency", "update", "apps/umbrella"])
        .current_dir(&checkout)
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "helm dependency update: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lock = read_lock(&checkout.join("apps/umbrella/Chart.lock"));
    assert_eq!(lock.dependencies[0].version, "1.3.0");
    // Helm's archive of the dependency is the repository's.
    let helm_app = std::fs::read(checkout.join("apps/umbrella/charts/app-1.3.0.tgz")).unwrap();
    assert_eq!(fetch_support::sha256_hex(&helm_app), digests["app-1.3.0"]);

    // A newer 1.x appears; the lock still pins 1.3.0.
    write_repo(
        &tmp.path().join("repo"),
        &[
            ("app", "1.0.0"),
            ("app", "1.3.0"),
            ("app", "1.4.0"),
            ("app", "2.0.0"),
        ],
    );
    let tree = LocalTree::new(&checkout).unwrap();
    let meta = metadata(&tree, "apps/umbrella/Chart.yaml");
    let f = ChartFetcher::new(tmp.path().join("cache"), FetchOptions::default()).unwrap();
    let deps = f
        .fetch_dependencies(
            &meta,
            Some(&lock),
            Some((&tree, "apps/umbrella")),
            &BTreeMap::new(),
            &(),
        )
        .await
        .expect("our digest of Chart.yaml's dependencies equals Helm's");
    let versions: Vec<_> = deps
        .iter()
        .map(|d| (d.name.as_str(), d.version.as_str()))
        .collect();
    assert_eq!(
        versions,
        [("app", "1.3.0"), ("podinfo", "6.14.1"), ("sub", "0.1.0")]
    );
    match &deps[0].source {
        DependencySource::Archive(a) => assert_eq!(a.digest, digests["app-1.3.0"]),
        other => panic!("{other:?}"),
    }
    // Without the lock, the range moves on.
    let unlocked = f
        .fetch_dependencies(
            &meta,
            None,
            Some((&tree, "apps/umbrella")),
            &BTreeMap::new(),
            &(),
        )
        .await
        .unwrap();
    assert_eq!(unlocked[0].version, "1.4.0");

    // Chart.yaml changed after locking: refused as Helm refuses it.
    let mut changed = meta.clone();
    changed.dependencies[0].version = "^1.1.0".into();
    let err = f
        .fetch_dependencies(
            &changed,
            Some(&lock),
            Some((&tree, "apps/umbrella")),
            &BTreeMap::new(),
            &(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::LockOutOfSync { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "chart umbrella: the lock file (Chart.lock) is out of sync with the dependencies file (Chart.yaml). Please update the dependencies"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_looked_up_per_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let private = Server::start(Config {
        dir: Some(shared_charts()),
        basic: Some(("u".into(), "p".into())),
        ..Config::default()
    })
    .await;
    let meta = ChartMetadata {
        name: "umbrella".into(),
        version: "0.1.0".into(),
        api_version: "v2".into(),
        dependencies: vec![Dependency {
            name: "vault".into(),
            version: "0.28.0".into(),
            repository: private.url.clone(),
            ..Dependency::default()
        }],
        ..ChartMetadata::default()
    };
    let f = ChartFetcher::new(tmp.path().join("cache"), FetchOptions::default()).unwrap();
    let url = private.url.clone();
    let lookup = move |repo: &str| {
        if repo == url {
            RepoAuth::basic("u", "p")
        } else {
            RepoAuth::none()
        }
    };
    let deps = f
        .fetch_dependencies(&meta, None, None, &BTreeMap::new(), &lookup)
        .await
        .unwrap();
    assert_eq!(deps[0].version, "0.28.0");
    let err = f
        .fetch_dependencies(&meta, None, None, &BTreeMap::new(), &())
        .await;
    // Pinned and cached now: no request, so no credentials needed.
    assert!(err.is_ok());
}
