//! flotilla-appset: the git files generator over 10,000 `config.json` files
//! in one commit, side by side with the git CLI reading the same files.
//!
//! A repository laid out as the reference article lays it out
//! (`manifests/overlays/<env>/<region>/config.json` plus a kustomization per
//! overlay: 20,000 files) is generated with `git fast-import`. The
//! article's ApplicationSet (git files generator, `goTemplate`,
//! `missingkey=error`, `values`, `index .path.segments 2`) then generates
//! one Application per config.json:
//!
//! - cold: a fresh process opens the commit with `GitTree` (no checkout) and
//!   generates; wall time and the process's peak resident memory (VmHWM);
//! - warm: generation again on an open snapshot, in process;
//! - git CLI: `git ls-tree` and `git cat-file --batch` reading the same
//!   10,000 files, the least any Git-based tool has to do (Argo CD's repo
//!   server checks out and runs `git ls-files`, then the controller renders).
//!
//! Figures are medians of several runs. The goal is under one second.
//!
//! Run: `cargo bench -p flotilla-benches --bench appset`
//! (`FLOTILLA_BENCH_CONFIGS=N` changes the number of config.json files,
//! `FLOTILLA_BENCH_KEEP=1` keeps the generated repository).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use flotilla_appset::{generate, read_application_sets, GeneratorInputs};
use flotilla_git::GitTree;

const REPO_URL: &str = "https://github.com/de-marauder/multi-region-eks.git";
const CHILD_FLAG: &str = "--appset-bench-child";
const RUNS: usize = 5;

/// The article's ApplicationSet (crates/core/tests/fixtures/article-appset-gen-algo.yaml).
const APPSET: &str = r#"apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: gen-algo
  namespace: argocd
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
    - git:
        repoURL: https://github.com/de-marauder/multi-region-eks.git
        revision: HEAD
        files:
          - path: "manifests/overlays/**/config.json"
        values:
          clusterName: "{{ .cluster.name }}"
          server: "{{ .cluster.server }}"
          region: "{{ .cluster.region }}"
          environment: "{{ index .path.segments 2 }}"
  template:
    metadata:
      name: gen-algo-{{ .values.environment }}-{{ .values.region }}
      namespace: argocd
    spec:
      project: default
      source:
        repoURL: "https://github.com/de-marauder/multi-region-eks"
        targetRevision: HEAD
        path: "{{ .path.path }}"
      destination:
        server: "{{ .values.server}}"
        namespace: "gen-algo-{{ .values.environment }}-{{ .values.region }}"
      syncPolicy:
        automated:
          prune: true
          selfHeal: true
        syncOptions:
          - CreateNamespace=true
"#;

fn git(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null");
    cmd
}

fn run_ok(cmd: &mut Command) -> Vec<u8> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `count` (environment, region) pairs: environments of 100 regions each.
fn overlays(count: usize) -> Vec<(String, String)> {
    (0..count)
        .map(|i| {
            (
                format!("env-{:03}", i / 100),
                format!("region-{:03}", i % 100),
            )
        })
        .collect()
}

/// One commit on `main` holding a config.json and a kustomization.yaml per overlay.
fn make_repo(dir: &Path, count: usize) {
    run_ok(git(dir).args(["init", "-q", "-b", "main"]));
    let mut stream = Vec::new();
    let message = "10,000 regions\n";
    write!(
        stream,
        "commit refs/heads/main\ncommitter bench <bench@example.invalid> 1700000000 +0000\ndata {}\n{message}",
        message.len()
    )
    .unwrap();
    let kustomization =
        "resources:\n- ../../../base\npatches:\n- path: api-deployment-patch.yaml\n";
    for (env, region) in overlays(count) {
        let config = format!(
            "{{\n \"cluster\": {{\n   \"name\": \"eks-{env}-{region}\",\n   \"region\": \"{region}\",\n   \"server\": \"https://{env}.{region}.eks.example.com\"\n }}\n}}\n"
        );
        let dir = format!("manifests/overlays/{env}/{region}");
        for (name, content) in [
            ("config.json", config.as_str()),
            ("kustomization.yaml", kustomization),
        ] {
            write!(
                stream,
                "M 100644 inline {dir}/{name}\ndata {}\n{content}\n",
                content.len()
            )
            .unwrap();
        }
    }
    let mut child = git(dir)
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("git fast-import starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&stream)
        .expect("feeding git fast-import");
    assert!(child.wait().expect("git fast-import").success());
}

/// Peak resident set size of this process, in KiB (Linux `VmHWM`).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Child mode: open the commit, generate once, print `millis apps peak_kib`.
fn child(repo: &Path) {
    let appset = read_application_sets(APPSET, "appset.yaml").expect("appset")[0]
        .appset
        .clone();
    let start = Instant::now();
    let tree = GitTree::open_local(repo, "main").expect("open the commit");
    let inputs = GeneratorInputs::new().with_repository(REPO_URL, "HEAD", &tree);
    let apps = generate(&appset, &inputs).expect("generate");
    let elapsed = start.elapsed();
    println!(
        "{} {} {}",
        elapsed.as_secs_f64() * 1000.0,
        apps.len(),
        peak_rss_kib().unwrap_or(0)
    );
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

pub fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == CHILD_FLAG) {
        child(Path::new(&args[i + 1]));
        return;
    }
    let count: usize = std::env::var("FLOTILLA_BENCH_CONFIGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let tmp = tempfile::TempDir::new().expect("temporary directory");
    let repo = tmp.path().join("multi-region-eks");
    std::fs::create_dir_all(&repo).unwrap();
    let start = Instant::now();
    make_repo(&repo, count);
    println!(
        "repository: {count} config.json + {count} kustomization.yaml in one commit (git fast-import, {})",
        ms(start.elapsed())
    );

    // Cold: a fresh process per run.
    let exe = std::env::current_exe().expect("own executable");
    let mut cold = Vec::new();
    let mut peak = 0u64;
    let mut apps = 0usize;
    for _ in 0..RUNS {
        let out = run_ok(Command::new(&exe).arg(CHILD_FLAG).arg(&repo));
        let text = String::from_utf8_lossy(&out);
        let mut parts = text.split_whitespace();
        let millis: f64 = parts
            .next()
            .and_then(|v| v.parse().ok())
            .expect("child time");
        apps = parts
            .next()
            .and_then(|v| v.parse().ok())
            .expect("child count");
        let kib: u64 = parts.next().and_then(|v| v.parse().ok()).unwrap_or(0);
        peak = peak.max(kib);
        cold.push(Duration::from_secs_f64(millis / 1000.0));
    }
    assert_eq!(apps, count, "one Application per config.json");
    let cold = median(cold);

    // Warm: the snapshot already open.
    let appset = read_application_sets(APPSET, "appset.yaml").expect("appset")[0]
        .appset
        .clone();
    let tree = GitTree::open_local(&repo, "main").expect("open the commit");
    let inputs = GeneratorInputs::new().with_repository(REPO_URL, "HEAD", &tree);
    generate(&appset, &inputs).expect("generate");
    let warm = median(
        (0..RUNS)
            .map(|_| {
                let start = Instant::now();
                let apps = generate(&appset, &inputs).expect("generate");
                assert_eq!(apps.len(), count);
                start.elapsed()
            })
            .collect(),
    );

    // The git CLI reading the same files: list, then read every blob.
    let git_read = median(
        (0..RUNS)
            .map(|_| {
                let start = Instant::now();
                let listing = run_ok(git(&repo).args([
                    "ls-tree",
                    "-r",
                    "--name-only",
                    "main",
                    "--",
                    "manifests/overlays",
                ]));
                let wanted: String = String::from_utf8_lossy(&listing)
                    .lines()
                    .filter(|p| p.ends_with("/config.json"))
                    .map(|p| format!("main:{p}\n"))
                    .collect();
                let mut child = git(&repo)
                    .args(["cat-file", "--batch"])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .expect("git cat-file starts");
                let mut stdin = child.stdin.take().expect("stdin");
                let writer = std::thread::spawn(move || stdin.write_all(wanted.as_bytes()));
                let out = child.wait_with_output().expect("git cat-file");
                writer
                    .join()
                    .expect("writer")
                    .expect("feeding git cat-file");
                assert!(out.status.success());
                start.elapsed()
            })
            .collect(),
    );

    println!();
    println!("{:<72} {:>10}", "operation (median of 5)", "time");
    println!(
        "{:<72} {:>10}",
        format!("flotilla: open commit + generate {count} Applications (cold process)"),
        ms(cold)
    );
    println!(
        "{:<72} {:>10}",
        format!("flotilla: generate {count} Applications (snapshot open)"),
        ms(warm)
    );
    println!(
        "{:<72} {:>10}",
        format!("git CLI: ls-tree + cat-file --batch of {count} files"),
        ms(git_read)
    );
    println!(
        "peak resident memory of the cold process: {:.1} MiB",
        peak as f64 / 1024.0
    );
    println!(
        "goal (< 1 s for 10,000 config.json): {}",
        if cold < Duration::from_secs(1) {
            "met"
        } else {
            "NOT met"
        }
    );
    if std::env::var_os("FLOTILLA_BENCH_KEEP").is_some() {
        let kept = tmp.keep();
        println!("kept {}", kept.display());
    }
}
