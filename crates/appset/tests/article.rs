//! Acceptance, tried as a new user would: the repository laid out as the
//! reference article lays it out (`manifests/overlays/<env>/<region>/` with a
//! `config.json` naming the cluster, region and API server), made with the
//! real `git` CLI, read through `GitCache` with the article's public URL
//! substituted by the local clone (`--repo URL=LOCAL`), and the article's
//! ApplicationSet (crates/core/tests/fixtures/article-appset-gen-algo.yaml)
//! generated from it.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{git_repo, write_files};
use flotilla_appset::{
    generate, generate_with, read_application_sets, repositories, AppsetError, GenerateOptions,
    GeneratorInputs, RESOURCES_FINALIZER,
};
use flotilla_core::ApplicationSet;
use flotilla_git::{GitCache, Tree};

const ARTICLE_APPSET: &str = include_str!("../../core/tests/fixtures/article-appset-gen-algo.yaml");
const ARTICLE_URL: &str = "https://github.com/de-marauder/multi-region-eks.git";

const ENVS: [&str; 2] = ["dev", "prod"];
const REGIONS: [&str; 3] = ["us-east-2", "eu-west-1", "ap-south-1"];

fn config(env: &str, region: &str) -> String {
    format!(
        "{{\n \"cluster\": {{\n   \"name\": \"eks-{env}-{region}\",\n   \"region\": \"{region}\",\n   \"server\": \"https://{env}.{region}.eks.example.com\"\n }}\n}}\n"
    )
}

/// The article's layout: base manifests, and per environment and region an
/// overlay with patches, a kustomization and a config.json.
fn article_files() -> Vec<(String, String)> {
    let mut files = vec![
        (
            "manifests/base/kustomization.yaml".to_string(),
            "resources:\n- api-deployment.yaml\n- webui-deployment.yaml\n".to_string(),
        ),
        (
            "manifests/base/api-deployment.yaml".to_string(),
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: gen-algo-api\n".to_string(),
        ),
        (
            "manifests/base/webui-deployment.yaml".to_string(),
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: gen-algo-webui\n"
                .to_string(),
        ),
        (
            "manifests/helm/dev/vault-values.yaml".to_string(),
            "server: {ha: {enabled: false}}\n".to_string(),
        ),
        ("README.md".to_string(), "# multi-region-eks\n".to_string()),
    ];
    for env in ENVS {
        for region in REGIONS {
            let dir = format!("manifests/overlays/{env}/{region}");
            files.push((format!("{dir}/config.json"), config(env, region)));
            files.push((
                format!("{dir}/kustomization.yaml"),
                "resources:\n- ../../../base\npatches:\n- path: api-deployment-patch.yaml\n- path: webui-deployment-patch.yaml\n".to_string(),
            ));
            files.push((
                format!("{dir}/api-deployment-patch.yaml"),
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: gen-algo-api\n"
                    .to_string(),
            ));
            files.push((
                format!("{dir}/webui-deployment-patch.yaml"),
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: gen-algo-webui\n"
                    .to_string(),
            ));
        }
    }
    files
}

fn make_repo(dir: &Path, extra: &[(&str, &str)]) {
    let files = article_files();
    let mut refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    refs.extend_from_slice(extra);
    git_repo(dir, &refs);
}

fn article_appset() -> ApplicationSet {
    let sets = read_application_sets(ARTICLE_APPSET, "article-appset-gen-algo.yaml").unwrap();
    assert_eq!(sets.len(), 1);
    sets.into_iter().next().unwrap().appset
}

/// Resolves every repository the ApplicationSet names through a cache with
/// `URL=LOCAL` substitution, as `flotilla appset generate --repo` does.
async fn snapshots(
    appset: &ApplicationSet,
    local: &Path,
    cache_dir: &Path,
) -> Vec<(String, String, Arc<dyn Tree>)> {
    let cache = GitCache::new(cache_dir).unwrap();
    cache
        .substitute(ARTICLE_URL, &local.display().to_string())
        .unwrap();
    let mut out = Vec::new();
    for repo in repositories(appset) {
        let tree = cache.open_tree(&repo.url, &repo.revision).await.unwrap();
        out.push((repo.url, repo.revision, tree));
    }
    out
}

fn inputs(trees: &[(String, String, Arc<dyn Tree>)]) -> GeneratorInputs<'_> {
    let mut inputs = GeneratorInputs::new();
    for (url, rev, tree) in trees {
        inputs.add_repository(url, rev, tree.as_ref());
    }
    inputs
}

#[tokio::test]
async fn article_appset_generates_one_application_per_config_json() {
    let tmp = tempfile::TempDir::new().unwrap();
    let repo = tmp.path().join("multi-region-eks");
    make_repo(&repo, &[]);
    let appset = article_appset();
    let trees = snapshots(&appset, &repo, &tmp.path().join("cache")).await;
    assert_eq!(trees.len(), 1, "the article names one repository");

    let apps = generate(&appset, &inputs(&trees)).unwrap();
    assert_eq!(apps.len(), ENVS.len() * REGIONS.len());

    // In the order of the config.json paths, as Argo CD sorts them.
    let mut expected = Vec::new();
    for env in ENVS {
        for region in REGIONS {
            expected.push((env, region));
        }
    }
    expected.sort_by_key(|(env, region)| format!("manifests/overlays/{env}/{region}/config.json"));
    for (app, (env, region)) in apps.iter().zip(expected) {
        let name = format!("gen-algo-{env}-{region}");
        assert_eq!(app.name(), name);
        assert_eq!(app.namespace(), Some("argocd"));
        assert_eq!(
            app.metadata.finalizers,
            vec![RESOURCES_FINALIZER.to_string()]
        );
        assert_eq!(app.spec.project(), "default");
        let source = app.spec.source.as_ref().unwrap();
        assert_eq!(
            source.repo_url.as_deref(),
            Some("https://github.com/de-marauder/multi-region-eks")
        );
        assert_eq!(source.target_revision(), "HEAD");
        assert_eq!(
            source.path.as_deref(),
            Some(format!("manifests/overlays/{env}/{region}").as_str())
        );
        let destination = &app.spec.destination;
        assert_eq!(
            destination.server.as_deref(),
            Some(format!("https://{env}.{region}.eks.example.com").as_str())
        );
        assert_eq!(destination.namespace.as_deref(), Some(name.as_str()));
        let automated = app.spec.automated().unwrap();
        assert!(automated.prune() && automated.self_heal());
        assert_eq!(app.spec.sync_options().create_namespace(), Some(true));
        app.check_type_meta().unwrap();
    }
}

#[tokio::test]
async fn a_config_json_missing_a_key_names_the_key_and_the_file() {
    let tmp = tempfile::TempDir::new().unwrap();
    let repo = tmp.path().join("multi-region-eks");
    make_repo(
        &repo,
        &[(
            "manifests/overlays/staging/us-west-1/config.json",
            "{\"cluster\": {\"name\": \"eks-staging\", \"server\": \"https://staging.example.com\"}}\n",
        )],
    );
    let appset = article_appset();
    let trees = snapshots(&appset, &repo, &tmp.path().join("cache")).await;
    let err = generate(&appset, &inputs(&trees)).unwrap_err();
    assert!(matches!(err, AppsetError::Template { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("manifests/overlays/staging/us-west-1/config.json"),
        "{text}"
    );
    assert!(
        text.contains("map has no entry for key \"region\""),
        "{text}"
    );
    assert!(text.contains("values.region"), "{text}");
    assert!(text.contains("gen-algo"), "{text}");
}

#[tokio::test]
async fn a_config_json_with_comments_names_the_file_and_line() {
    let tmp = tempfile::TempDir::new().unwrap();
    let repo = tmp.path().join("multi-region-eks");
    // As printed in the article.
    let commented = r#"{
 "cluster": {
   "name": "cluster-name or arn", // obtain from your kubeconfig when you setup access to your cluster.
   "region": "us-east-2",
   "server": "<cluster-endpoint>"
 }
}
"#;
    make_repo(
        &repo,
        &[("manifests/overlays/test/us-east-2/config.json", commented)],
    );
    let appset = article_appset();
    let trees = snapshots(&appset, &repo, &tmp.path().join("cache")).await;
    let err = generate(&appset, &inputs(&trees)).unwrap_err();
    match &err {
        AppsetError::File { location, .. } => {
            assert_eq!(
                location.file,
                "manifests/overlays/test/us-east-2/config.json"
            );
            assert_eq!(location.line, Some(3));
        }
        other => panic!("unexpected {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("manifests/overlays/test/us-east-2/config.json:3:"),
        "{text}"
    );
    assert!(text.contains("comments"), "{text}");
}

#[tokio::test]
async fn a_plain_directory_substitutes_too() {
    // `--repo URL=DIR` with a directory that is not a repository: read as is.
    let tmp = tempfile::TempDir::new().unwrap();
    let dir = tmp.path().join("checkout");
    let files = article_files();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    write_files(&dir, &refs);
    let appset = article_appset();
    let trees = snapshots(&appset, &dir, &tmp.path().join("cache")).await;
    let generation = generate_with(&appset, &inputs(&trees), &GenerateOptions::default()).unwrap();
    assert_eq!(generation.applications.len(), 6);
    assert_eq!(
        generation.applications[0].origin.to_string(),
        "spec.generators[0] (git file manifests/overlays/dev/ap-south-1/config.json)"
    );
}

#[test]
fn without_the_repository_generation_asks_for_it() {
    let appset = article_appset();
    let err = generate(&appset, &GeneratorInputs::new()).unwrap_err();
    assert_eq!(err.missing_repository(), Some((ARTICLE_URL, "HEAD")));
}
