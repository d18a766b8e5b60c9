//! `flotilla diff|sync|status` as a user runs them: Applications whose
//! source is a kustomize overlay in a real Git repository, rendered natively
//! and synced to a real lab cluster.

use std::path::Path;
use std::process::{Command, Output};

use flotilla_lab::TestLab;

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write(dir: &Path, path: &str, text: &str) {
    let p = dir.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn flotilla(lab: &TestLab, cache: &Path, repo: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(args)
        .arg("--kubeconfig")
        .arg(lab.kubeconfig())
        .arg("--cache")
        .arg(cache)
        .arg("--repo")
        .arg(format!("https://github.com/acme/deploy={}", repo.display()))
        .output()
        .expect("flotilla runs")
}

fn kubectl(lab: &TestLab, args: &[&str]) -> String {
    let out = Command::new(lab.lab().bin_dir().join("kubectl"))
        .env("KUBECONFIG", lab.kubeconfig())
        .args(["--context", "lab-east"])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kustomize_overlay_from_git_is_diffed_synced_and_kept_safe() {
    let lab = TestLab::start(&["east"], false).await.unwrap();
    let server = lab.state().regions["east"].server.clone();
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    write(
        &repo,
        "base/kustomization.yaml",
        "resources:\n- deploy.yaml\nconfigMapGenerator:\n- name: settings\n  literals: [LOG=info]\n",
    );
    write(
        &repo,
        "base/deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: nginx\n        envFrom:\n        - configMapRef: {name: settings}\n",
    );
    write(
        &repo,
        "overlays/dev/east/kustomization.yaml",
        "resources:\n- ../../../base\nnamePrefix: dev-\ncommonLabels:\n  region: east\n",
    );
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "first"]);
    let app = tmp.path().join("app.yaml");
    std::fs::write(
        &app,
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: web-dev-east, namespace: argocd}}\nspec:\n  project: default\n  source: {{repoURL: 'https://github.com/acme/deploy.git', targetRevision: main, path: overlays/dev/east}}\n  destination: {{server: '{server}', namespace: web-dev}}\n  syncPolicy:\n    automated: {{prune: true, selfHeal: true}}\n    syncOptions: [CreateNamespace=true]\n"
        ),
    )
    .unwrap();
    let app = app.to_str().unwrap();
    let cache = tmp.path().join("cache");

    // Before the first sync: differences.
    let out = flotilla(&lab, &cache, &repo, &["diff", "-f", app]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = flotilla(&lab, &cache, &repo, &["sync", "-f", app]);
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{table}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        table.contains("apps/v1/Deployment web-dev/dev-web"),
        "{table}"
    );
    // The generated ConfigMap carries kustomize's hash suffix, and the
    // Deployment refers to it by that name.
    let cms = kubectl(&lab, &["-n", "web-dev", "get", "cm", "-o", "name"]);
    let cm = cms
        .lines()
        .find(|l| l.starts_with("configmap/dev-settings-"))
        .unwrap_or_else(|| panic!("{cms}"))
        .trim_start_matches("configmap/")
        .to_string();
    let envfrom = kubectl(
        &lab,
        &[
            "-n",
            "web-dev",
            "get",
            "deploy",
            "dev-web",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].envFrom[0].configMapRef.name}",
        ],
    );
    assert_eq!(envfrom, cm);

    let out = flotilla(&lab, &cache, &repo, &["diff", "-f", app]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // A commit changing the overlay: diff sees it, sync applies it.
    write(
        &repo,
        "overlays/dev/east/kustomization.yaml",
        "resources:\n- ../../../base\nnamePrefix: dev-\ncommonLabels:\n  region: east\nreplicas:\n- name: web\n  count: 2\n",
    );
    git(&repo, &["commit", "-qam", "two replicas"]);
    let out = flotilla(&lab, &cache, &repo, &["diff", "-f", app]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("replicas"));
    let out = flotilla(&lab, &cache, &repo, &["sync", "-f", app]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        kubectl(
            &lab,
            &[
                "-n",
                "web-dev",
                "get",
                "deploy",
                "dev-web",
                "-o",
                "jsonpath={.spec.replicas}"
            ]
        ),
        "2"
    );

    // A broken commit: the render error names the file, the sync fails, and
    // nothing is deleted.
    write(
        &repo,
        "overlays/dev/east/kustomization.yaml",
        "resources:\n- ../../../base\n- missing.yaml\n",
    );
    git(&repo, &["commit", "-qam", "broken"]);
    let out = flotilla(&lab, &cache, &repo, &["sync", "-f", app]);
    assert!(!out.status.success());
    let err = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(err.contains("missing.yaml"), "{err}");
    let out = flotilla(&lab, &cache, &repo, &["diff", "-f", app]);
    assert_eq!(out.status.code(), Some(2));
    assert!(kubectl(&lab, &["-n", "web-dev", "get", "deploy", "-o", "name"]).contains("dev-web"));
    assert!(kubectl(&lab, &["-n", "web-dev", "get", "cm", "-o", "name"]).contains(&cm));
}

fn bao(lab: &TestLab, args: &[&str]) -> Output {
    let info = lab.openbao().unwrap().unwrap();
    Command::new(lab.lab().bin_dir().join("bao"))
        .args(args)
        .env("VAULT_ADDR", &info.addr)
        .env("VAULT_TOKEN", &info.root_token)
        .env("VAULT_CACERT", &info.ca_cert)
        .output()
        .unwrap()
}

fn put_secret(lab: &TestLab, value: &str) {
    // A KV v2 mount refuses writes for a moment after it is enabled.
    for _ in 0..50 {
        let out = bao(
            lab,
            &["kv", "put", "secret/api/env", &format!("DB_URL={value}")],
        );
        if out.status.success() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    panic!("could not write secret/api/env");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flotilla_sync_resolves_vault_placeholders_and_rotates_them() {
    let lab = TestLab::start(&["east"], true).await.unwrap();
    let info = lab.openbao().unwrap().unwrap();
    let server = lab.state().regions["east"].server.clone();
    let out = bao(&lab, &["secrets", "enable", "-path=secret", "kv-v2"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    put_secret(&lab, "postgres://first");

    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    write(
        &repo,
        "api/kustomization.yaml",
        "resources:\n- secret.yaml\nnamespace: api\n",
    );
    write(
        &repo,
        "api/secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: api-env\ntype: Opaque\nstringData:\n  DB_URL: <path:secret/data/api/env#DB_URL>\n",
    );
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "api"]);
    let app = tmp.path().join("app.yaml");
    std::fs::write(
        &app,
        format!("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: api}}\nspec:\n  source: {{repoURL: 'https://github.com/acme/deploy', path: api}}\n  destination: {{server: '{server}', namespace: api}}\n  syncPolicy:\n    syncOptions: [CreateNamespace=true]\n"),
    )
    .unwrap();
    let cache = tmp.path().join("cache");
    let sync = |with_vault: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flotilla"));
        cmd.args(["sync", "-f", app.to_str().unwrap()])
            .arg("--kubeconfig")
            .arg(lab.kubeconfig())
            .arg("--cache")
            .arg(&cache)
            .arg("--repo")
            .arg(format!("https://github.com/acme/deploy={}", repo.display()))
            .env_remove("VAULT_ADDR")
            .env_remove("VAULT_TOKEN");
        if with_vault {
            cmd.env("VAULT_ADDR", &info.addr)
                .env("VAULT_TOKEN", &info.root_token)
                .env("VAULT_CACERT", &info.ca_cert);
        }
        cmd.output().unwrap()
    };
    let value = || {
        let b64 = kubectl(
            &lab,
            &[
                "-n",
                "api",
                "get",
                "secret",
                "api-env",
                "-o",
                "jsonpath={.data.DB_URL}",
            ],
        );
        let out = Command::new("base64")
            .arg("-d")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(b64.as_bytes())?;
                c.wait_with_output()
            })
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    // No Vault configured: the render fails and nothing is applied.
    let out = sync(false);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no Vault is configured"));
    assert!(kubectl(&lab, &["-n", "api", "get", "secret", "-o", "name"]).is_empty());

    let out = sync(true);
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{shown}");
    assert!(
        !shown.contains("postgres://"),
        "a secret value was printed: {shown}"
    );
    assert_eq!(value(), "postgres://first");

    put_secret(&lab, "postgres://second");
    let out = sync(true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(value(), "postgres://second");
}

/// The reference article's ApplicationSet, unchanged, over a repository laid
/// out as the article does, synced to two lab regions by `flotilla sync`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_article_applicationset_deploys_each_region_to_its_cluster() {
    let lab = TestLab::start(&["east", "west"], false).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    write(
        &repo,
        "manifests/base/kustomization.yaml",
        "resources:\n- webui.yaml\n",
    );
    write(
        &repo,
        "manifests/base/webui.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: gen-algo-webui\n  labels: {app: gen-algo-webui}\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: gen-algo-webui}\n  template:\n    metadata:\n      labels: {app: gen-algo-webui}\n    spec:\n      containers:\n      - name: frontend\n        image: demarauder/gen-algo-webui:latest-main\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: gen-algo-webui\nspec:\n  type: ClusterIP\n  ports:\n  - port: 3000\n    targetPort: 3000\n  selector: {app: gen-algo-webui}\n",
    );
    for region in ["east", "west"] {
        let server = lab.state().regions[region].server.clone();
        write(
            &repo,
            &format!("manifests/overlays/dev/{region}/config.json"),
            &format!("{{\"cluster\": {{\"name\": \"lab-{region}\", \"region\": \"{region}\", \"server\": \"{server}\"}}}}\n"),
        );
        write(
            &repo,
            &format!("manifests/overlays/dev/{region}/kustomization.yaml"),
            &format!("resources:\n- ../../../base\ncommonLabels:\n  region: {region}\n"),
        );
    }
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "article layout"]);
    let appset = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../crates/core/tests/fixtures/article-appset-gen-algo.yaml"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(["sync", "-f", appset])
        .arg("--kubeconfig")
        .arg(lab.kubeconfig())
        .arg("--cache")
        .arg(tmp.path().join("cache"))
        .arg("--repo")
        .arg(format!(
            "https://github.com/de-marauder/multi-region-eks={}",
            repo.display()
        ))
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{table}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for region in ["east", "west"] {
        assert!(table.contains(&format!("gen-algo-dev-{region}")), "{table}");
        let out = Command::new(lab.lab().bin_dir().join("kubectl"))
            .env("KUBECONFIG", lab.kubeconfig())
            .args([
                "--context",
                &format!("lab-{region}"),
                "get",
                "deploy",
                "-A",
                "-l",
                &format!("region={region}"),
                "-o",
                "name",
            ])
            .output()
            .unwrap();
        let found = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(found.contains("gen-algo-webui"), "{region}: {found}");
        // Each region got only its own overlay.
        let other = if region == "east" { "west" } else { "east" };
        let out = Command::new(lab.lab().bin_dir().join("kubectl"))
            .env("KUBECONFIG", lab.kubeconfig())
            .args([
                "--context",
                &format!("lab-{region}"),
                "get",
                "ns",
                &format!("gen-algo-dev-{other}"),
            ])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{region} has {other}'s namespace");
    }
}
