//! `flotilla helm template` as a user runs it, against the lab's helm
//! v3.17.4: charts on disk, charts of a repository (`--repo`, `--version`
//! with a range) and `oci://` references, fetched from the lab's chart
//! server and OCI registry into the chart cache.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use flotilla_lab::assets::{ensure, AssetOptions, QuietProgress};
use flotilla_lab::TestLab;

fn shared_charts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/charts")
}

fn text(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("UTF-8")
}

fn helm(home: &Path, args: &[&str]) -> String {
    let assets = ensure(&AssetOptions::from_env(), &["helm"], &QuietProgress).expect("helm");
    text(
        &Command::new(assets.path("helm").expect("helm binary"))
            .args(args)
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"))
            .output()
            .expect("helm runs"),
    )
}

fn flotilla(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(args)
        .env("FLOTILLA_HOME", home)
        .output()
        .expect("flotilla runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charts_from_disk_a_repository_and_an_oci_registry_render_as_helm_renders_them() {
    let lab = TestLab::builder(&["h"])
        .charts(shared_charts())
        .start()
        .await
        .expect("lab");
    let repo = lab.charts_url().expect("chart server");
    let oci = lab.oci_base().expect("registry");
    let tmp = tempfile::tempdir().unwrap();
    let (fhome, hhome) = (tmp.path().join("flotilla"), tmp.path().join("helm"));
    let kube = ["--kube-version", "1.32.13"];

    // On disk, with the reference's value file.
    let archive = shared_charts().join("vault-0.28.0.tgz");
    let values = shared_charts().join("values/vault-values.yaml");
    let mut args = vec![
        "template",
        "vault",
        archive.to_str().unwrap(),
        "-f",
        values.to_str().unwrap(),
    ];
    args.extend(kube);
    let want = helm(&hhome, &args);
    let mut ours = vec!["helm"];
    ours.extend(&args);
    assert_eq!(text(&flotilla(&fhome, &ours)), want);

    // From the chart repository: an exact version, and a range.
    for version in ["4.10.1", "4.10.*"] {
        let mut args = vec![
            "template",
            "ingress-nginx",
            "ingress-nginx",
            "--repo",
            &repo,
            "--version",
            version,
            "--set",
            "controller.ingressClassResource.name=nginx",
        ];
        args.extend(kube);
        let want = helm(&hhome, &args);
        let mut ours = vec!["helm"];
        ours.extend(&args);
        assert_eq!(text(&flotilla(&fhome, &ours)), want, "--version {version}");
    }
    // The archive is in Flotilla's chart cache, not in the current directory.
    assert!(fhome.join("cache/charts").is_dir());

    // From the OCI registry.
    let reference = format!("{oci}/vault");
    let mut args = vec!["template", "vault", &reference, "--version", "0.28.0"];
    args.extend(kube);
    let mut helm_args = args.clone();
    helm_args.push("--plain-http");
    let want = helm(&hhome, &helm_args);
    let mut ours = vec!["helm"];
    ours.extend(&args);
    assert_eq!(text(&flotilla(&fhome, &ours)), want);

    // A version that matches nothing names the chart and the repository.
    let out = flotilla(
        &fhome,
        &[
            "helm",
            "template",
            "x",
            "vault",
            "--repo",
            &repo,
            "--version",
            "9.*",
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("vault") && err.contains("9.*"), "{err}");
    assert!(err.contains(repo.trim_end_matches('/')), "{err}");
    // helm's repository aliases are not read: the error says what to do.
    let out = flotilla(&fhome, &["helm", "template", "x", "hashicorp/vault"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--repo"), "{err}");
}
