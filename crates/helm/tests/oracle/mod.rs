//! The `helm` v3.17.4 oracle of the lab assets and our renderer, side by
//! side on the same chart and flags.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use flotilla_lab::assets::{ensure, AssetOptions, QuietProgress};

/// The helm binary of the lab assets (built once, cached).
pub fn helm() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let assets =
            ensure(&AssetOptions::from_env(), &["helm"], &QuietProgress).expect("helm lab asset");
        assets.path("helm").expect("helm binary").to_path_buf()
    })
}

/// `../shared/charts` of the workspace.
pub fn shared_charts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/charts")
}

/// Flags understood by both sides. `kube_version` is always passed: the
/// lab's helm lacks the release build's default (v1.32.0).
#[derive(Clone, Debug, Default)]
pub struct Flags {
    pub name: Option<String>,
    pub values: Vec<PathBuf>,
    pub set: Vec<String>,
    pub set_string: Vec<String>,
    pub set_json: Vec<String>,
    pub namespace: Option<String>,
    pub kube_version: String,
    pub api_versions: Vec<String>,
    pub include_crds: bool,
    pub skip_crds: bool,
    pub skip_tests: bool,
    pub no_hooks: bool,
    pub show_only: Vec<String>,
    pub is_upgrade: bool,
    pub skip_schema_validation: bool,
    /// A regex whose first group is kept and the rest of the match
    /// replaced by `RANDOM` on both sides (for `randAlphaNum` names).
    pub mask: Option<&'static str>,
    /// The case is about an error: both sides must fail (identically).
    /// Otherwise both must succeed.
    pub expect_error: bool,
}

impl Flags {
    pub fn kube(v: &str) -> Flags {
        Flags {
            kube_version: v.to_string(),
            ..Flags::default()
        }
    }
}

/// `helm template`: stdout, or the error text after `Error: ` (without
/// the `--debug` hint Helm appends to render errors).
pub fn oracle(chart: &Path, f: &Flags) -> Result<String, String> {
    let home = tempfile::tempdir().expect("helm home");
    let mut cmd = Command::new(helm());
    cmd.arg("template");
    if let Some(n) = &f.name {
        cmd.arg(n);
    }
    cmd.arg(chart);
    for v in &f.values {
        cmd.arg("-f").arg(v);
    }
    for s in &f.set {
        cmd.arg("--set").arg(s);
    }
    for s in &f.set_string {
        cmd.arg("--set-string").arg(s);
    }
    for s in &f.set_json {
        cmd.arg("--set-json").arg(s);
    }
    if let Some(n) = &f.namespace {
        cmd.arg("--namespace").arg(n);
    }
    cmd.arg("--kube-version").arg(&f.kube_version);
    for a in &f.api_versions {
        cmd.arg("--api-versions").arg(a);
    }
    for (on, flag) in [
        (f.include_crds, "--include-crds"),
        (f.skip_crds, "--skip-crds"),
        (f.skip_tests, "--skip-tests"),
        (f.no_hooks, "--no-hooks"),
        (f.is_upgrade, "--is-upgrade"),
        (f.skip_schema_validation, "--skip-schema-validation"),
    ] {
        if on {
            cmd.arg(flag);
        }
    }
    for s in &f.show_only {
        cmd.arg("--show-only").arg(s);
    }
    for var in ["HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"] {
        cmd.env(var, home.path());
    }
    cmd.env_remove("KUBECONFIG").env("HELM_NAMESPACE", "");
    let out = cmd.output().expect("running helm");
    if out.status.success() {
        return Ok(String::from_utf8(out.stdout).expect("utf-8 output"));
    }
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let err = match err.find("Error: ") {
        Some(i) => err[i + "Error: ".len()..].to_string(),
        None => err,
    };
    let err = err.trim_end_matches('\n');
    let err = err
        .strip_suffix("\n\nUse --debug flag to render out invalid YAML")
        .unwrap_or(err);
    Err(err.to_string())
}

/// Our side, through the same library call the CLI makes.
pub fn ours(chart: &Path, f: &Flags) -> Result<String, String> {
    let run = || -> Result<String, flotilla_helm::HelmError> {
        let loaded = flotilla_helm::load::load(chart)?;
        let mut values = flotilla_helm::values::ValuesOptions {
            set: f.set.clone(),
            set_string: f.set_string.clone(),
            set_json: f.set_json.clone(),
            skip_schema_validation: f.skip_schema_validation,
            ..Default::default()
        };
        for v in &f.values {
            values.value_files.push(flotilla_helm::values::ValueFile {
                name: v.display().to_string(),
                data: std::fs::read(v).expect("values file"),
            });
        }
        let opts = flotilla_helm::TemplateOptions {
            release_name: f.name.clone().unwrap_or_else(|| "release-name".into()),
            namespace: f.namespace.clone().unwrap_or_else(|| "default".into()),
            capabilities: flotilla_helm::Capabilities::with(
                flotilla_helm::KubeVersion::parse(&f.kube_version)?,
                &f.api_versions,
            ),
            is_upgrade: f.is_upgrade,
            ..Default::default()
        };
        let out = flotilla_helm::OutputOptions {
            include_crds: f.include_crds,
            no_hooks: f.no_hooks,
            skip_tests: f.skip_tests,
            show_only: f.show_only.clone(),
        };
        flotilla_helm::template_chart(loaded, &values, &opts, &out)
    };
    // The CLI ends every error with one newline; Helm's text may carry its own.
    run().map_err(|e| e.to_string().trim_end_matches('\n').to_string())
}

/// Compares both sides; `Err` describes the first difference.
pub fn compare(label: &str, chart: &Path, f: &Flags) -> Result<(), String> {
    let masked = |r: Result<String, String>| match f.mask {
        None => r,
        Some(m) => {
            let re = regex::Regex::new(m).expect("mask regex");
            r.map(|s| re.replace_all(&s, "${1}RANDOM").into_owned())
        }
    };
    let want = masked(oracle(chart, f));
    let got = masked(ours(chart, f));
    match (&want, &got) {
        (Ok(w), Ok(g)) if w == g && !f.expect_error => Ok(()),
        (Err(w), Err(g)) if w == g && f.expect_error => Ok(()),
        (Ok(_), Ok(_)) if f.expect_error => {
            Err(format!("{label}: both succeeded, an error was expected"))
        }
        (Err(w), Err(g)) if w == g => Err(format!(
            "{label}: both failed identically, success was expected: {w}"
        )),
        (Ok(w), Ok(g)) => {
            let wl: Vec<&str> = w.split('\n').collect();
            let gl: Vec<&str> = g.split('\n').collect();
            let line = wl
                .iter()
                .zip(&gl)
                .position(|(a, b)| a != b)
                .unwrap_or(wl.len().min(gl.len()));
            let from = line.saturating_sub(3);
            Err(format!(
                "{label}: output differs at line {} (helm {} lines, ours {}):\n--- helm\n{}\n--- flotilla\n{}",
                line + 1,
                wl.len(),
                gl.len(),
                wl[from.min(wl.len())..(line + 4).min(wl.len())].join("\n"),
                gl[from.min(gl.len())..(line + 4).min(gl.len())].join("\n"),
            ))
        }
        (Ok(_), Err(g)) => Err(format!("{label}: helm succeeded, we failed: {g}")),
        (Err(w), Ok(_)) => Err(format!("{label}: helm failed ({w}), we succeeded")),
        (Err(w), Err(g)) => Err(format!(
            "{label}: both failed, differently:\n--- helm\n{w}\n--- flotilla\n{g}"
        )),
    }
}

/// Writes a chart (or any tree) of `(path, contents)` under `root`.
pub fn write_tree(root: &Path, files: &[(&str, &str)]) {
    for (p, c) in files {
        let path = root.join(p);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, c).expect("write");
    }
}
