//! The end-to-end set-up: a lab (regions, OpenBao), the multi-region
//! example as a Git repository served over smart HTTP, and a controller
//! configuration pointing at them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use flotilla_lab::git_http::GitHttpServer;
use flotilla_lab::TestLab;

/// The repository URL the example's ApplicationSet names.
pub const EXAMPLE_URL: &str = "https://github.com/de-marauder/multi-region-eks.git";
/// The API token of the test configurations.
pub const API_TOKEN: &str = "e2e-api-token";
/// The GitHub webhook secret of the test configurations.
pub const WEBHOOK_SECRET: &str = "e2e-webhook-secret";
/// The example's regions.
pub const REGIONS: [&str; 2] = ["us-east-2", "us-west-2"];

/// A lab with the example repository.
pub struct Env {
    /// The lab.
    pub lab: TestLab,
    /// Scratch space (state, caches, the repositories).
    pub tmp: tempfile::TempDir,
    /// The working copy commits are made in.
    pub work: PathBuf,
    /// The bare repository the HTTP server serves.
    pub bare: PathBuf,
    /// The HTTP server (None once stopped).
    pub server: Option<GitHttpServer>,
    /// Its URL for the bare repository (stays the same if restarted).
    pub url: String,
}

/// `git` in `dir`, panicking with its stderr on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    match flotilla_lab::example::git(dir, args) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

impl Env {
    /// Starts the example's two regions (with OpenBao when `vault`; its
    /// KV v2 mount and the example's secrets are written), and serves the
    /// example as a Git repository.
    pub async fn start(vault: bool) -> Env {
        let mut lab = TestLab::builder(&REGIONS);
        if vault {
            lab = lab.vault();
        }
        Env::start_with(lab, vault).await
    }

    /// As [`Env::start`], with the lab `builder` describes (chart
    /// repository, nodes, ...); `vault` must match whether it runs OpenBao.
    pub async fn start_with(builder: flotilla_lab::TestLabBuilder, vault: bool) -> Env {
        let lab = builder.start().await.expect("lab");
        let tmp = tempfile::tempdir().expect("tempdir");
        let work = tmp.path().join("work");
        let example = flotilla_lab::example::source_example("multi-region");
        flotilla_lab::example::prepare_repo(&example, &work, lab.state()).expect("example repo");
        let root = tmp.path().join("served");
        std::fs::create_dir_all(&root).expect("served dir");
        let bare = root.join("multi-region-eks.git");
        git(
            tmp.path(),
            &[
                "clone",
                "-q",
                "--bare",
                &work.display().to_string(),
                &bare.display().to_string(),
            ],
        );
        git(
            &work,
            &["remote", "add", "origin", &bare.display().to_string()],
        );
        let server = GitHttpServer::start(&root).await.expect("git http");
        let url = server.url("multi-region-eks.git");
        let env = Env {
            lab,
            tmp,
            work,
            bare,
            server: Some(server),
            url,
        };
        if vault {
            env.seed_vault();
        }
        env
    }

    /// `bao` with the lab's address and root token.
    pub fn bao(&self, args: &[&str]) -> std::process::Output {
        let info = self.lab.openbao().expect("openbao").expect("openbao runs");
        Command::new(self.lab.lab().bin_dir().join("bao"))
            .args(args)
            .env("VAULT_ADDR", &info.addr)
            .env("VAULT_TOKEN", &info.root_token)
            .env("VAULT_CACERT", &info.ca_cert)
            .output()
            .expect("bao")
    }

    fn seed_vault(&self) {
        let out = self.bao(&["secrets", "enable", "-path=secret", "kv-v2"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for (path, kvs) in [
            (
                "secret/api/env",
                vec![
                    "DB_URL=postgres://db.lab:5432/app",
                    "JWT_SECRET=e2e-jwt-secret",
                ],
            ),
            (
                "secret/webui/env-local",
                vec![
                    "NEXT_PUBLIC_API_URL=http://api.lab",
                    "NEXT_PUBLIC_FCM_API_KEY=e2e-fcm-key",
                ],
            ),
        ] {
            let mut args = vec!["kv", "put", path];
            args.extend(kvs.iter().copied());
            // A new KV v2 mount refuses writes for a moment.
            let mut ok = false;
            for _ in 0..50 {
                if self.bao(&args).status.success() {
                    ok = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            assert!(ok, "could not write {path}");
        }
    }

    /// Writes a controller configuration (`extra` is appended verbatim) and
    /// returns its path.
    pub fn config(&self, name: &str, poll: &str, extra: &str) -> PathBuf {
        let mut text = format!(
            r#"stateDir: {state}
pollInterval: {poll}
selfHealDelay: 300ms
repositories:
  - url: {EXAMPLE_URL}
    substitute: {url}
clusters:
  kubeconfig: {kubeconfig}
applications:
  - repo: {EXAMPLE_URL}
    revision: HEAD
    paths: [manifests/argocd/applicationset.yaml]
api:
  listen: 127.0.0.1:0
  tokenFrom: {{value: {API_TOKEN}}}
webhook:
  github: {{secretFrom: {{value: {WEBHOOK_SECRET}}}}}
"#,
            state = self.tmp.path().join(format!("state-{name}")).display(),
            url = self.url,
            kubeconfig = self.lab.kubeconfig().display(),
        );
        if let Ok(Some(info)) = self.lab.openbao() {
            text.push_str(&format!(
                "vault:\n  address: {}\n  tokenFrom: {{value: {}}}\n  caCert: {}\n",
                info.addr,
                info.root_token,
                info.ca_cert.display()
            ));
        }
        text.push_str(extra);
        let path = self.tmp.path().join(format!("{name}.yaml"));
        std::fs::write(&path, text).expect("config");
        path
    }

    /// Edits `path` in the working copy, commits and pushes; returns the commit.
    pub fn commit(&self, path: &str, edit: impl FnOnce(&str) -> String, message: &str) -> String {
        let file = self.work.join(path);
        let before = std::fs::read_to_string(&file).unwrap_or_default();
        let after = edit(&before);
        assert_ne!(before, after, "the edit of {path} changes nothing");
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).expect("dir");
        }
        std::fs::write(&file, after).expect("write");
        self.commit_all(message)
    }

    /// Commits everything in the working copy and pushes; returns the commit.
    pub fn commit_all(&self, message: &str) -> String {
        git(&self.work, &["add", "-A"]);
        git(&self.work, &["commit", "-q", "-m", message]);
        git(&self.work, &["push", "-q", "origin", "main"]);
        git(&self.work, &["rev-parse", "HEAD"])
    }

    /// `kubectl --context lab-<region> ARGS`, stdout (panics on failure).
    pub fn kubectl(&self, region: &str, args: &[&str]) -> String {
        let out = self.kubectl_output(region, args);
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `kubectl --context lab-<region> ARGS`.
    pub fn kubectl_output(&self, region: &str, args: &[&str]) -> std::process::Output {
        Command::new(self.lab.lab().bin_dir().join("kubectl"))
            .env("KUBECONFIG", self.lab.kubeconfig())
            .arg("--context")
            .arg(format!("lab-{region}"))
            .args(args)
            .output()
            .expect("kubectl")
    }

    /// The namespace of the example's Application for `region`.
    pub fn namespace(region: &str) -> String {
        format!("gen-algo-dev-{region}")
    }

    /// The name of the example's Application for `region`.
    pub fn app(region: &str) -> String {
        format!("gen-algo-dev-{region}")
    }

    /// A GitHub push webhook body and its signature header value.
    pub fn github_push(&self, after: &str) -> (String, String) {
        use hmac::Mac;
        let body = serde_json::json!({
            "ref": "refs/heads/main",
            "after": after,
            "repository": {
                "html_url": "https://github.com/de-marauder/multi-region-eks",
                "clone_url": EXAMPLE_URL,
                "ssh_url": "git@github.com:de-marauder/multi-region-eks.git",
            },
        })
        .to_string();
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes())
            .expect("hmac key");
        mac.update(body.as_bytes());
        let sig = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        (body, sig)
    }
}

/// Polls `check` every 100 ms until it returns `Some`, or panics after
/// `timeout` with `what`.
pub async fn eventually<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> (T, Duration) {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return (v, start.elapsed());
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
