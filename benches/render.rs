//! flotilla-render side by side with `kustomize build`, on one machine, in one run.
//!
//! A tree of 300 applications is generated: each a base (Deployment,
//! Service, ServiceAccount, Ingress and a generated ConfigMap) and an overlay
//! (namePrefix, commonLabels, images, a strategic-merge patch, a JSON patch
//! and a merged configMapGenerator): 1,500 resources. Every overlay is built
//! by `kustomize build` (v5.5.0 from the lab assets), by the `flotilla render`
//! CLI when a binary is found, and by the library in-process. Outputs must be
//! identical; times are wall-clock totals for all 300 builds, memory is the
//! peak resident set of a build process (largest over the 300, from `wait4`).
//!
//! The CLI is `$FLOTILLA_BIN` (any binary whose `render PATH` prints the
//! manifests), else `target/release/flotilla` under `$CARGO_TARGET_DIR` or
//! the workspace; without one that column is skipped.
//!
//! Run: `cargo bench -p flotilla-benches --bench render` (also available as
//! `cargo run --release -p flotilla-render --example bench_render`)
//! (`FLOTILLA_BENCH_APPS=N` changes the number of applications).

use flotilla_benches::run_measured;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use flotilla_lab::assets::{ensure, AssetOptions, QuietProgress};

fn write(path: &Path, content: &str) {
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, content).expect("write");
}

/// Generates the tree; returns the overlay directories.
fn generate(root: &Path, apps: usize) -> Vec<PathBuf> {
    let mut overlays = Vec::with_capacity(apps);
    for i in 0..apps {
        let app = format!("app-{i:03}");
        let dir = root.join("apps").join(&app);
        let b = dir.join("base");
        write(
            &b.join("deployment.yaml"),
            &format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {app}\n  labels:\n    app: {app}\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: {app}\n  template:\n    metadata:\n      labels:\n        app: {app}\n    spec:\n      serviceAccountName: {app}\n      containers:\n      - name: main\n        image: registry.example.invalid/{app}:1.0.{i}\n        ports:\n        - containerPort: 8080\n        envFrom:\n        - configMapRef:\n            name: {app}-config\n        resources:\n          requests:\n            cpu: 100m\n            memory: 128Mi\n        readinessProbe:\n          httpGet:\n            path: /healthz\n            port: 8080\n      volumes:\n      - name: config\n        configMap:\n          name: {app}-config\n"
            ),
        );
        write(
            &b.join("service.yaml"),
            &format!("apiVersion: v1\nkind: Service\nmetadata:\n  name: {app}\nspec:\n  selector:\n    app: {app}\n  ports:\n  - name: http\n    port: 80\n    targetPort: 8080\n"),
        );
        write(
            &b.join("serviceaccount.yaml"),
            &format!("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {app}\n"),
        );
        write(
            &b.join("ingress.yaml"),
            &format!("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {app}\n  annotations:\n    nginx.ingress.kubernetes.io/rewrite-target: /\nspec:\n  ingressClassName: nginx\n  rules:\n  - host: {app}.example.invalid\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend:\n          service:\n            name: {app}\n            port:\n              number: 80\n"),
        );
        write(
            &b.join("kustomization.yaml"),
            &format!("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- deployment.yaml\n- service.yaml\n- serviceaccount.yaml\n- ingress.yaml\nconfigMapGenerator:\n- name: {app}-config\n  literals:\n  - LOG_LEVEL=info\n  - PORT=\"8080\"\n  - APP={app}\n"),
        );
        let o = dir.join("overlay");
        write(
            &o.join("deployment-patch.yaml"),
            &format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {app}\nspec:\n  replicas: 3\n  template:\n    spec:\n      containers:\n      - name: main\n        env:\n        - name: REGION\n          value: eu-west-1\n        resources:\n          limits:\n            cpu: 500m\n            memory: 256Mi\n"),
        );
        write(
            &o.join("kustomization.yaml"),
            &format!("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- ../base\nnamePrefix: prod-\ncommonLabels:\n  environment: prod\n  team: team-{}\nimages:\n- name: registry.example.invalid/{app}\n  newTag: 2.0.{i}\npatches:\n- path: deployment-patch.yaml\n- target:\n    kind: Ingress\n    name: {app}\n  patch: |-\n    - op: replace\n      path: /spec/rules/0/host\n      value: {app}.prod.example.invalid\nconfigMapGenerator:\n- name: {app}-config\n  behavior: merge\n  literals:\n  - LOG_LEVEL=warn\n  - REGION=eu-west-1\n", i % 7),
        );
        overlays.push(o);
    }
    overlays
}

struct Side {
    name: &'static str,
    total: Duration,
    peak_kib: i64,
}

fn find_cli() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("FLOTILLA_BIN") {
        return Some(PathBuf::from(p));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let p = target.join("release/flotilla");
    // Only a flotilla that has the render subcommand will do.
    let ok = p.exists()
        && Command::new(&p)
            .args(["render", "--help"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    ok.then_some(p)
}

fn vm_hwm_kib() -> i64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Median of `runs` timed runs of `f`, with the last output.
fn median_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        last = Some(f());
        times.push(start.elapsed());
    }
    times.sort();
    (times[times.len() / 2], last.expect("at least one run"))
}

/// One kustomization whose `resources` list every overlay, built in one
/// process by each side (median of `FLOTILLA_BENCH_RUNS`, default 5).
/// Returns the number of outputs that differ from kustomize's.
fn aggregate(root: &Path, overlays: &[PathBuf], kustomize: &Path, cli: Option<&Path>) -> usize {
    let runs: usize = std::env::var("FLOTILLA_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let all = root.join("all");
    let mut k = String::from(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n",
    );
    for o in overlays {
        let rel = o.strip_prefix(root).expect("under the root");
        let _ = writeln!(k, "- ../{}", rel.display());
    }
    write(&all.join("kustomization.yaml"), &k);
    let (kt, (want, _, _, k_rss)) = median_of(runs, || {
        run_measured(Command::new(kustomize).arg("build").arg(&all))
    });
    let mut rows = vec![("kustomize build", kt, k_rss)];
    let mut mismatches = 0;
    if let Some(cli) = cli {
        let (ct, (got, ok, _, c_rss)) = median_of(runs, || {
            run_measured(Command::new(cli).arg("render").arg(&all))
        });
        assert!(ok, "flotilla render {} failed", all.display());
        mismatches += usize::from(got != want);
        rows.push(("flotilla render (CLI)", ct, c_rss));
    }
    let opts = flotilla_render::RenderOptions::default();
    let (lt, got) = median_of(runs, || {
        flotilla_render::render_local(&all, &opts)
            .expect("render")
            .to_yaml()
    });
    mismatches += usize::from(got.as_bytes() != want.as_slice());
    rows.push(("flotilla-render (in-process)", lt, 0));
    println!(
        "\none kustomization listing all {} overlays ({} resources), one process, median of {runs}:",
        overlays.len(),
        overlays.len() * 5
    );
    for (name, t, rss) in &rows {
        let rss = if *rss > 0 {
            format!("{:>9.1}MiB", *rss as f64 / 1024.0)
        } else {
            format!("{:>12}", "-")
        };
        println!(
            "{name:<30} {:>10.1}ms {:>9.1}x {rss}",
            t.as_secs_f64() * 1e3,
            kt.as_secs_f64() / t.as_secs_f64()
        );
    }
    mismatches
}

fn main() {
    let apps: usize = std::env::var("FLOTILLA_BENCH_APPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let kustomize = ensure(&AssetOptions::from_env(), &["kustomize"], &QuietProgress)
        .expect("kustomize lab asset")
        .path("kustomize")
        .expect("kustomize binary")
        .to_path_buf();
    let tmp = tempfile::tempdir().expect("tempdir");
    let overlays = generate(tmp.path(), apps);
    println!(
        "render: {apps} applications, {} resources, kustomize {}",
        apps * 5,
        kustomize.display()
    );

    // kustomize build, one process per overlay.
    let mut expected = Vec::with_capacity(apps);
    let mut k = Side {
        name: "kustomize build",
        total: Duration::ZERO,
        peak_kib: 0,
    };
    for o in &overlays {
        let start = Instant::now();
        let (out, ok, _, rss) = run_measured(Command::new(&kustomize).arg("build").arg(o));
        k.total += start.elapsed();
        assert!(ok, "kustomize build {} failed", o.display());
        k.peak_kib = k.peak_kib.max(rss);
        expected.push(out);
    }

    // The library, in-process.
    let opts = flotilla_render::RenderOptions::default();
    let hwm_before = vm_hwm_kib();
    let start = Instant::now();
    let mut mismatches = 0;
    for (o, want) in overlays.iter().zip(&expected) {
        let got = flotilla_render::render_local(o, &opts)
            .expect("render")
            .to_yaml();
        if got.as_bytes() != want.as_slice() {
            mismatches += 1;
        }
    }
    let lib = Side {
        name: "flotilla-render (in-process)",
        total: start.elapsed(),
        peak_kib: vm_hwm_kib().max(hwm_before),
    };

    // The CLI, one process per overlay.
    let mut sides = vec![k];
    let cli_path = find_cli();
    if let Some(cli) = &cli_path {
        let mut c = Side {
            name: "flotilla render (CLI)",
            total: Duration::ZERO,
            peak_kib: 0,
        };
        for (o, want) in overlays.iter().zip(&expected) {
            let start = Instant::now();
            let (out, ok, _, rss) = run_measured(Command::new(cli).arg("render").arg(o));
            c.total += start.elapsed();
            assert!(ok, "{} render {} failed", cli.display(), o.display());
            c.peak_kib = c.peak_kib.max(rss);
            if out != *want {
                mismatches += 1;
            }
        }
        sides.push(c);
    } else {
        println!("(no flotilla CLI with `render` found: set FLOTILLA_BIN to measure the process)");
    }
    sides.push(lib);

    let base = &sides[0];
    let mut table = String::new();
    let _ = writeln!(
        table,
        "{:<30} {:>12} {:>12} {:>10} {:>12} {:>10}",
        "", "total", "per build", "speedup", "peak RSS", "memory"
    );
    for s in &sides {
        let _ = writeln!(
            table,
            "{:<30} {:>10.1}ms {:>10.2}ms {:>9.1}x {:>9.1}MiB {:>9.2}x",
            s.name,
            s.total.as_secs_f64() * 1e3,
            s.total.as_secs_f64() * 1e3 / apps as f64,
            base.total.as_secs_f64() / s.total.as_secs_f64(),
            s.peak_kib as f64 / 1024.0,
            s.peak_kib as f64 / base.peak_kib.max(1) as f64
        );
    }
    print!("{table}");
    println!(
        "(in-process peak RSS is the whole benchmark process, which also holds kustomize's {} outputs)",
        apps
    );
    mismatches += aggregate(tmp.path(), &overlays, &kustomize, cli_path.as_deref());
    if mismatches == 0 {
        println!(
            "identical output: yes ({} builds compared)",
            apps * if cli_path.is_some() { 2 } else { 1 }
        );
    } else {
        println!("identical output: NO ({mismatches} builds differ)");
        std::process::exit(1);
    }
}
