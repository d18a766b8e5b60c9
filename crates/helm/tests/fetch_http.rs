//! The chart fetcher against real HTTP chart repositories on loopback:
//! the shared fixture charts (`../shared/charts`, served in place) and
//! repositories of our own charts generated in the test.

mod fetch_support;

use std::time::Duration;

use fetch_support::{index_yaml, shared_charts, write_repo, Config, Entry, Server};
use flotilla_helm::fetch::{ChartFetcher, FetchError, FetchOptions, RepoAuth};

fn fetcher(dir: &std::path::Path) -> ChartFetcher {
    ChartFetcher::new(dir.join("cache"), FetchOptions::default()).unwrap()
}

fn quick_options() -> FetchOptions {
    FetchOptions {
        retries: 0,
        timeout: Duration::from_secs(20),
        ..FetchOptions::default()
    }
}

async fn shared_server() -> Server {
    Server::start(Config {
        dir: Some(shared_charts()),
        ..Config::default()
    })
    .await
}

fn index_digest(chart: &str) -> String {
    let text = std::fs::read_to_string(shared_charts().join("index.yaml")).unwrap();
    let idx = flotilla_helm::fetch::RepoIndex::parse(text.as_bytes()).unwrap();
    idx.entries[chart][0].digest.clone().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_version_from_the_shared_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let server = shared_server().await;
    let f = fetcher(tmp.path());
    let got = f
        .fetch(&server.url, "vault", "0.28.0", &RepoAuth::none())
        .await
        .unwrap();
    assert_eq!(got.name, "vault");
    assert_eq!(got.version, "0.28.0");
    assert!(!got.cached);
    assert_eq!(got.digest, index_digest("vault"));
    let bytes = got.read().await.unwrap();
    assert_eq!(fetch_support::sha256_hex(&bytes), got.digest);
    let original = std::fs::read(shared_charts().join("vault-0.28.0.tgz")).unwrap();
    assert_eq!(bytes, original);
    assert_eq!(got.url, format!("{}/vault-0.28.0.tgz", server.url));
    assert_eq!(server.paths(), ["/index.yaml", "/vault-0.28.0.tgz"]);
    // The archive is stored by its digest.
    assert!(got.path.ends_with(format!("{}.tgz", got.digest)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_pick_the_highest_matching_version() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let digests = write_repo(
        &repo,
        &[
            ("app", "1.0.0"),
            ("app", "1.2.0"),
            ("app", "1.10.0"),
            ("app", "2.0.0-rc.1"),
            ("app", "0.9.0"),
        ],
    );
    let server = Server::start(Config {
        dir: Some(repo),
        ..Config::default()
    })
    .await;
    let f = fetcher(tmp.path());
    for (request, want) in [
        ("^1", "1.10.0"),
        ("~1.2", "1.2.0"),
        (">=1.0.0 <1.10.0", "1.2.0"),
        ("1.x", "1.10.0"),
        ("", "1.10.0"),
        ("*", "1.10.0"),
        (">=1.0.0-0", "2.0.0-rc.1"),
        ("0.9.0", "0.9.0"),
    ] {
        let got = f
            .fetch(&server.url, "app", request, &RepoAuth::none())
            .await
            .unwrap_or_else(|e| panic!("{request}: {e}"));
        assert_eq!(got.version, want, "request {request:?}");
        assert_eq!(
            got.digest,
            digests[&format!("app-{want}")],
            "request {request:?}"
        );
    }
    // One index download served every resolution (within its TTL).
    assert_eq!(server.count("/index.yaml"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_match_names_chart_url_and_available_versions() {
    let tmp = tempfile::tempdir().unwrap();
    let server = shared_server().await;
    let f = fetcher(tmp.path());
    let err = f
        .fetch(&server.url, "vault", "0.99.x", &RepoAuth::none())
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::VersionNotFound { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "chart vault version 0.99.x not found in {}/; available: 0.28.0",
            server.url
        )
    );
    let err = f
        .fetch(&server.url, "nope", "1.0.0", &RepoAuth::none())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "chart nope not found in {}/; charts in the repository: consul, ingress-nginx, podinfo, vault",
            server.url
        )
    );
    let err = f
        .fetch(&server.url, "vault", "main", &RepoAuth::none())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("\"main\" is not a version or a semver constraint"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_mismatch_is_refused_and_nothing_is_cached() {
    let tmp = tempfile::tempdir().unwrap();
    let server = shared_server().await;
    let wrong = "0".repeat(64);
    server.set_override(
        "/index.yaml",
        index_yaml(&[Entry {
            name: "vault",
            version: "0.28.0",
            url: "vault-0.28.0.tgz".into(),
            digest: Some(wrong.clone()),
        }])
        .into_bytes(),
    );
    let f = fetcher(tmp.path());
    let err = f
        .fetch(&server.url, "vault", "0.28.0", &RepoAuth::none())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, FetchError::DigestMismatch { .. }), "{err:?}");
    assert!(text.contains(&format!("expected sha256:{wrong}")), "{text}");
    assert!(
        text.contains(&format!("got sha256:{}", index_digest("vault"))),
        "{text}"
    );
    assert!(
        text.contains(&format!("{}/vault-0.28.0.tgz", server.url)),
        "{text}"
    );
    let blobs: Vec<_> = std::fs::read_dir(tmp.path().join("cache/blobs/sha256"))
        .unwrap()
        .collect();
    assert!(blobs.is_empty(), "a mismatching archive was cached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_accepted_and_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(Config {
        dir: Some(shared_charts()),
        basic: Some(("reader".into(), "s3cret".into())),
        ..Config::default()
    })
    .await;
    let f = ChartFetcher::new(tmp.path().join("cache"), quick_options()).unwrap();

    let err = f
        .fetch(&server.url, "podinfo", "6.14.1", &RepoAuth::none())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "GET {}/index.yaml: HTTP 401 Unauthorized (the repository needs credentials; none were sent)",
            server.url
        )
    );
    let err = f
        .fetch(
            &server.url,
            "podinfo",
            "6.14.1",
            &RepoAuth::basic("reader", "wrong"),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "GET {}/index.yaml: HTTP 401 Unauthorized (the credentials were refused)",
            server.url
        )
    );
    assert!(!format!("{err:?}").contains("wrong"));

    let got = f
        .fetch(
            &server.url,
            "podinfo",
            "6.14.1",
            &RepoAuth::basic("reader", "s3cret"),
        )
        .await
        .unwrap();
    assert_eq!(got.version, "6.14.1");
    // Index and archive (same host) both carried the credentials.
    let last: Vec<_> = server.hits().into_iter().rev().take(2).collect();
    assert!(last.iter().all(|h| h.authorization.is_some()), "{last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_go_to_another_host_only_with_pass_credentials() {
    let tmp = tempfile::tempdir().unwrap();
    // The archive host demands the credentials; the index lives elsewhere
    // and names the archive by an absolute URL.
    let archives = Server::start(Config {
        dir: Some(shared_charts()),
        basic: Some(("reader".into(), "s3cret".into())),
        ..Config::default()
    })
    .await;
    let index = Server::start(Config::default()).await;
    index.set_override(
        "/index.yaml",
        index_yaml(&[Entry {
            name: "podinfo",
            version: "6.14.1",
            url: format!("{}/podinfo-6.14.1.tgz", archives.url),
            digest: None,
        }])
        .into_bytes(),
    );
    let f = ChartFetcher::new(tmp.path().join("cache"), quick_options()).unwrap();
    let auth = RepoAuth::basic("reader", "s3cret");
    let err = f
        .fetch(&index.url, "podinfo", "6.14.1", &auth)
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "GET {}/podinfo-6.14.1.tgz: HTTP 401",
            archives.url
        )),
        "{err}"
    );
    assert!(archives.hits().iter().all(|h| h.authorization.is_none()));
    // The index request itself carried them (same host as the repository).
    assert!(index.hits()[0].authorization.is_some());

    let got = f
        .fetch(
            &index.url,
            "podinfo",
            "6.14.1",
            &auth.clone().with_pass_credentials(true),
        )
        .await
        .unwrap();
    assert_eq!(got.version, "6.14.1");
    assert!(archives.hits().last().unwrap().authorization.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn substitution_to_a_directory_needs_no_server() {
    let tmp = tempfile::tempdir().unwrap();
    let f = fetcher(tmp.path());
    f.substitute(
        "https://helm.releases.hashicorp.com",
        shared_charts().to_str().unwrap(),
    )
    .unwrap();
    let dir_url = format!(
        "file://{}",
        shared_charts().canonicalize().unwrap().display()
    );
    f.substitute("https://kubernetes.github.io/ingress-nginx/", &dir_url)
        .unwrap();
    // Spelled differently from the substitution: still matched.
    let vault = f
        .fetch(
            "HTTPS://Helm.Releases.HashiCorp.com/",
            "vault",
            "0.28.0",
            &RepoAuth::none(),
        )
        .await
        .unwrap();
    assert_eq!(vault.digest, index_digest("vault"));
    assert!(vault.url.ends_with("vault-0.28.0.tgz"));
    let consul = f
        .fetch(
            "https://helm.releases.hashicorp.com",
            "consul",
            "1.4.*",
            &RepoAuth::none(),
        )
        .await
        .unwrap();
    assert_eq!(consul.version, "1.4.3");
    let nginx = f
        .fetch(
            "https://kubernetes.github.io/ingress-nginx",
            "ingress-nginx",
            "4.10.1",
            &RepoAuth::none(),
        )
        .await
        .unwrap();
    assert_eq!(nginx.digest, index_digest("ingress-nginx"));
    // Unsubstituted public URLs are not answered from the directory.
    let err = ChartFetcher::new(tmp.path().join("other"), quick_options())
        .unwrap()
        .fetch("http://127.0.0.1:9/", "vault", "0.28.0", &RepoAuth::none())
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Unreachable { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn substitution_to_a_loopback_url() {
    let tmp = tempfile::tempdir().unwrap();
    let server = shared_server().await;
    let f = fetcher(tmp.path());
    f.substitute("https://kubernetes.github.io/ingress-nginx", &server.url)
        .unwrap();
    let got = f
        .fetch(
            "https://kubernetes.github.io/ingress-nginx",
            "ingress-nginx",
            "4.10.1",
            &RepoAuth::none(),
        )
        .await
        .unwrap();
    assert_eq!(got.url, format!("{}/ingress-nginx-4.10.1.tgz", server.url));
    assert_eq!(server.paths(), ["/index.yaml", "/ingress-nginx-4.10.1.tgz"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_cache_makes_no_request() {
    let tmp = tempfile::tempdir().unwrap();
    let server = shared_server().await;
    let first = fetcher(tmp.path())
        .fetch(&server.url, "vault", "0.28.0", &RepoAuth::none())
        .await
        .unwrap();
    let seen = server.hits().len();
    assert_eq!(seen, 2);

    // A new fetcher (a new process) on the same cache directory.
    let f = fetcher(tmp.path());
    let warm = f
        .fetch(&server.url, "vault", "0.28.0", &RepoAuth::none())
        .await
        .unwrap();
    assert!(warm.cached);
    assert_eq!(warm.digest, first.digest);
    assert_eq!(warm.path, first.path);
    // A range within the index's TTL is answered from the cached index.
    let ranged = f
        .fetch(&server.url, "vault", "0.28.*", &RepoAuth::none())
        .await
        .unwrap();
    assert!(ranged.cached);
    assert_eq!(server.hits().len(), seen, "{:?}", server.paths());
    assert_eq!(f.stats().index_downloads + f.stats().archive_downloads, 0);

    // With the index expired, a range asks for the index only.
    let expired = ChartFetcher::new(
        tmp.path().join("cache"),
        FetchOptions {
            index_ttl: Duration::ZERO,
            ..FetchOptions::default()
        },
    )
    .unwrap();
    let again = expired
        .fetch(&server.url, "vault", ">=0.28.0", &RepoAuth::none())
        .await
        .unwrap();
    assert!(again.cached);
    assert_eq!(server.paths()[seen..], ["/index.yaml"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_fetches_download_once() {
    let tmp = tempfile::tempdir().unwrap();
    let server = shared_server().await;
    let f = fetcher(tmp.path());
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let f = f.clone();
        let url = server.url.clone();
        tasks.push(tokio::spawn(async move {
            f.fetch(&url, "consul", "1.4.3", &RepoAuth::none()).await
        }));
    }
    // A second fetcher on the same directory, racing the first.
    let other = fetcher(tmp.path());
    let other_result = other
        .fetch(&server.url, "consul", "1.4.3", &RepoAuth::none())
        .await
        .unwrap();
    let mut digests = Vec::new();
    for t in tasks {
        digests.push(t.await.unwrap().unwrap().digest);
    }
    digests.push(other_result.digest);
    assert!(digests.iter().all(|d| *d == index_digest("consul")));
    // The eight tasks of one fetcher downloaded once.
    assert_eq!(f.stats().archive_downloads, 1);
    assert_eq!(f.stats().index_downloads, 1);
    assert!(server.count("/consul-1.4.3.tgz") <= 2);
    let bytes = std::fs::read(&other_result.path).unwrap();
    assert_eq!(fetch_support::sha256_hex(&bytes), index_digest("consul"));
    // No temporary file left behind.
    assert_eq!(
        std::fs::read_dir(tmp.path().join("cache/tmp"))
            .unwrap()
            .count(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_repository_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let f = ChartFetcher::new(tmp.path().join("cache"), quick_options()).unwrap();
    let err = f
        .fetch(
            &format!("http://127.0.0.1:{port}/charts"),
            "vault",
            "0.28.0",
            &RepoAuth::none(),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "chart repository http://127.0.0.1:{port}/charts/index.yaml is unreachable"
        )),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_errors_name_status_and_url() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(Config::default()).await;
    let f = ChartFetcher::new(tmp.path().join("cache"), quick_options()).unwrap();
    let err = f
        .fetch(
            &format!("{}/missing", server.url),
            "vault",
            "0.28.0",
            &RepoAuth::none(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("GET {}/missing/index.yaml: HTTP 404 Not Found", server.url)
    );
    server.set_override("/bad/index.yaml", b"entries: [".to_vec());
    let err = f
        .fetch(
            &format!("{}/bad", server.url),
            "vault",
            "0.28.0",
            &RepoAuth::none(),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "invalid chart repository index {}/bad/index.yaml",
            server.url
        )),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_sees_new_versions_and_outages_keep_the_last_index() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    write_repo(&repo, &[("app", "1.0.0")]);
    let mut server = Server::start(Config {
        dir: Some(repo.clone()),
        ..Config::default()
    })
    .await;
    let f = ChartFetcher::new(tmp.path().join("cache"), quick_options()).unwrap();
    let v = f
        .fetch(&server.url, "app", "^1", &RepoAuth::none())
        .await
        .unwrap();
    assert_eq!(v.version, "1.0.0");
    write_repo(&repo, &[("app", "1.0.0"), ("app", "1.1.0")]);
    // Within the TTL, the cached index answers.
    let v = f
        .fetch(&server.url, "app", "^1", &RepoAuth::none())
        .await
        .unwrap();
    assert_eq!(v.version, "1.0.0");
    f.refresh_index(&server.url, &RepoAuth::none())
        .await
        .unwrap();
    let v = f
        .fetch(&server.url, "app", "^1", &RepoAuth::none())
        .await
        .unwrap();
    assert_eq!(v.version, "1.1.0");
    assert_eq!(
        f.versions(&server.url, "app", &RepoAuth::none())
            .await
            .unwrap(),
        ["1.1.0", "1.0.0"]
    );

    // The repository goes away; an expired index is still used.
    server.stop();
    let url = server.url.clone();
    let stale = ChartFetcher::new(
        tmp.path().join("cache"),
        FetchOptions {
            index_ttl: Duration::ZERO,
            ..quick_options()
        },
    )
    .unwrap();
    let v = stale
        .fetch(&url, "app", "^1", &RepoAuth::none())
        .await
        .unwrap();
    assert_eq!(v.version, "1.1.0");
    assert!(v.cached);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loaded_charts_are_kept_by_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let server = shared_server().await;
    let f = fetcher(tmp.path());
    let got = f
        .fetch(&server.url, "podinfo", "6.14.1", &RepoAuth::none())
        .await
        .unwrap();
    let load = || -> Result<flotilla_helm::Chart, String> {
        Ok(flotilla_helm::Chart {
            metadata: flotilla_helm::ChartMetadata {
                name: "podinfo".into(),
                version: "6.14.1".into(),
                ..Default::default()
            },
            lock: None,
            templates: Vec::new(),
            values: flotilla_template::Value::empty_map(),
            raw_values: None,
            schema: None,
            files: Vec::new(),
            dependencies: Vec::new(),
            origin: got.path.display().to_string(),
        })
    };
    let a = f.loaded(&got.digest, load).unwrap();
    let b = f
        .loaded(&got.digest, || {
            Err::<flotilla_helm::Chart, _>("loaded twice".to_string())
        })
        .unwrap();
    assert!(std::sync::Arc::ptr_eq(&a, &b));
    assert_eq!(f.stats().charts_loaded, 1);
}

/// The lab's chart server (`flotilla lab up --charts`) over the shared
/// charts: the fetcher as the lab, the demo and the reference test use it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_chart_server_with_basic_auth_and_warm_cache() {
    use flotilla_lab::charts::{ChartRepo, ChartServer, ChartServerOptions};
    let tmp = tempfile::tempdir().unwrap();
    let repo = ChartRepo::build(&[shared_charts()], &tmp.path().join("work")).unwrap();
    let server = ChartServer::start(ChartServerOptions::new(repo).with_basic_auth("lab", "pw"))
        .await
        .unwrap();
    let url = server.url();
    let f = ChartFetcher::new(tmp.path().join("cache"), quick_options()).unwrap();
    f.substitute("https://helm.releases.hashicorp.com", &url)
        .unwrap();
    let auth = RepoAuth::basic("lab", "pw");
    let consul = f
        .fetch(
            "https://helm.releases.hashicorp.com",
            "consul",
            "1.4.3",
            &auth,
        )
        .await
        .unwrap();
    assert_eq!(consul.digest, index_digest("consul"));
    let err = ChartFetcher::new(tmp.path().join("other"), quick_options())
        .unwrap()
        .fetch(&url, "consul", "1.4.3", &RepoAuth::basic("lab", "bad"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("HTTP 401"), "{err}");
    let before = server.requests().len();
    let warm = f
        .fetch(
            "https://helm.releases.hashicorp.com",
            "consul",
            "1.4.3",
            &auth,
        )
        .await
        .unwrap();
    assert!(warm.cached);
    assert_eq!(server.requests().len(), before);
}
