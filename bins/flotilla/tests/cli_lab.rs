//! `flotilla lab` and `flotilla demo` driven as a user drives them, against
//! real control planes.

use std::path::Path;
use std::process::{Command, Output};

fn flotilla(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(args)
        .env("FLOTILLA_HOME", home)
        .env_remove("KUBECONFIG")
        .output()
        .expect("flotilla runs")
}

/// Runs `flotilla lab down` for a home when dropped, so a failing test (or
/// a command that died half-way) leaves no lab running.
struct Down<'a>(&'a Path);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = flotilla(self.0, &["lab", "down"]);
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The `export K='V'` lines of `lab env` as pairs.
fn parse_env(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect()
}

#[test]
fn lab_up_env_status_down_as_a_user_runs_them() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let _down = Down(h);

    let out = flotilla(h, &["lab", "env"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no lab is running"),
        "{}",
        text(&out.stderr)
    );

    let out = flotilla(h, &["lab", "up", "--regions", "Bad_Region"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("invalid region name `Bad_Region`"));

    let out = flotilla(h, &["lab", "up", "--regions", "x,y"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let first = text(&out.stdout);
    assert!(first.contains("lab-x\thttps://127.0.0.1:"), "{first}");
    assert!(first.contains("lab-y\thttps://127.0.0.1:"), "{first}");

    // Twice is fine, and changes nothing.
    let out = flotilla(h, &["lab", "up", "--regions", "x,y"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), first);

    let out = flotilla(h, &["lab", "env"]);
    assert!(out.status.success());
    let env = parse_env(&text(&out.stdout));
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let kubeconfig = get("KUBECONFIG").expect("KUBECONFIG exported");
    let path = get("PATH").expect("PATH exported");
    assert!(
        path.starts_with(&h.join("lab/bin").display().to_string()),
        "{path}"
    );
    assert!(get("VAULT_ADDR").is_none(), "no OpenBao was asked for");

    // kubectl from the exported PATH reaches every region.
    for ctx in ["lab-x", "lab-y"] {
        let out = Command::new("kubectl")
            .env("PATH", &path)
            .env("KUBECONFIG", &kubeconfig)
            .args(["--context", ctx, "get", "nodes", "--no-headers"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let nodes = text(&out.stdout);
        assert_eq!(
            nodes.lines().filter(|l| l.contains(" Ready ")).count(),
            2,
            "{nodes}"
        );
    }

    let out = flotilla(h, &["lab", "kubeconfig"]);
    assert_eq!(text(&out.stdout).trim(), kubeconfig);

    let out = flotilla(h, &["lab", "status", "-o", "json"]);
    assert!(out.status.success());
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = status.as_array().unwrap();
    assert_eq!(rows.len(), 10);
    assert!(rows.iter().all(|r| r["state"] == "running"), "{status:#}");
    let pids: Vec<u32> = rows
        .iter()
        .map(|r| r["pid"].as_u64().unwrap() as u32)
        .collect();

    let out = flotilla(h, &["lab", "status"]);
    let table = text(&out.stdout);
    assert!(table.starts_with("REGION"), "{table}");
    assert!(table.contains("kube-apiserver"));

    let out = flotilla(h, &["lab", "down"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for pid in pids {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists() || {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                stat.contains(") Z ")
            },
            "pid {pid} survived `lab down`"
        );
    }
    let out = flotilla(h, &["lab", "status"]);
    assert_eq!(out.status.code(), Some(1));
}

/// The status table row of an Application in the demo's output.
fn demo_row<'a>(stdout: &'a str, app: &str) -> Option<&'a str> {
    stdout.lines().find(|l| l.starts_with(app))
}

#[test]
fn demo_syncs_the_example_to_both_regions_through_the_controller() {
    let home = tempfile::tempdir().unwrap();
    let _down = Down(home.path());
    let out = flotilla(home.path(), &["demo", "--down"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}\n{}", stdout, text(&out.stderr));
    assert!(
        stdout.contains("every Application is Synced and Healthy"),
        "{stdout}"
    );
    for region in ["us-east-2", "us-west-2"] {
        // The kustomize application and the example's own Helm chart,
        // served by the lab's chart repository (revision: the chart's
        // version, resolved from the `0.1.*` range).
        for (app, revision) in [("gen-algo", None), ("status-page", Some("0.1.0"))] {
            let app = format!("{app}-dev-{region}");
            let row =
                demo_row(&stdout, &app).unwrap_or_else(|| panic!("no row for {app}: {stdout}"));
            assert!(
                row.contains(&format!("lab-{region}"))
                    && row.contains("Synced")
                    && row.contains("Healthy"),
                "{row}"
            );
            if let Some(revision) = revision {
                assert!(row.trim_end().ends_with(revision), "{row}");
            }
        }
    }
    assert!(stdout.contains("VaultConfig gen-algo applied"), "{stdout}");
    assert!(!home.path().join("lab").exists(), "--down removes the lab");
}

#[test]
fn the_demo_leaves_a_controller_that_app_commands_reach_and_lab_down_stops() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let _down = Down(h);
    let out = flotilla(h, &["demo"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}\n{}", stdout, text(&out.stderr));
    let server = stdout
        .lines()
        .find_map(|l| l.split("FLOTILLA_SERVER=").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no FLOTILLA_SERVER in {stdout}"))
        .to_string();
    let token = std::fs::read_to_string(h.join("demo/api-token")).unwrap();
    // The demo records its controller like the lab's processes.
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(h.join("demo/controller.json")).unwrap())
            .unwrap();
    let pid = record["pid"].as_u64().unwrap();
    let list = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .env("FLOTILLA_HOME", h)
        .env("FLOTILLA_SERVER", &server)
        .env("FLOTILLA_TOKEN", token.trim())
        .args(["app", "list"])
        .output()
        .unwrap();
    let listed = text(&list.stdout);
    assert!(list.status.success(), "{listed}{}", text(&list.stderr));
    assert!(
        listed.contains("gen-algo-dev-us-east-2") && listed.contains("Healthy"),
        "{listed}"
    );
    let out = flotilla(h, &["lab", "down"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(
        stat.is_empty() || stat.contains(") Z "),
        "the demo controller survived `lab down`"
    );
}
