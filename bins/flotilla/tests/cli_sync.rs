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
