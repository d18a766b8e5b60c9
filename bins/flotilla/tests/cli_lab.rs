//! `flotilla lab` and `flotilla demo` driven as a user drives them, against
//! real control planes.

mod common;

use common::{flotilla, text, Down};

use std::path::Path;
use std::process::Command;

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
    // The resource tree, from the controller's cluster cache: the demo's
    // Deployment owns a ReplicaSet, which owns its running Pods.
    let tree = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .env("FLOTILLA_HOME", h)
        .env("FLOTILLA_SERVER", &server)
        .env("FLOTILLA_TOKEN", token.trim())
        .args(["app", "tree", "gen-algo-dev-us-east-2"])
        .output()
        .unwrap();
    let tree_text = text(&tree.stdout);
    assert!(tree.status.success(), "{tree_text}{}", text(&tree.stderr));
    let lines: Vec<&str> = tree_text.lines().collect();
    let deploy = lines
        .iter()
        .position(|l| l.starts_with("Deployment gen-algo-dev-us-east-2/") && l.contains("Synced"))
        .unwrap_or_else(|| panic!("no Deployment in {tree_text}"));
    assert!(
        lines[deploy + 1].starts_with("└─ ReplicaSet "),
        "{tree_text}"
    );
    assert!(
        lines[deploy + 2].starts_with("   └─ Pod ") && lines[deploy + 2].contains("Running"),
        "{tree_text}"
    );
    // The demo prints the same tree.
    assert!(stdout.contains("└─ ReplicaSet "), "{stdout}");
    let out = flotilla(h, &["lab", "down"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(
        stat.is_empty() || stat.contains(") Z "),
        "the demo controller survived `lab down`"
    );
}

/// The `server` of the cluster `name` in a kubeconfig.
fn kubeconfig_server(path: &str, name: &str) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let doc: serde_json::Value = serde_yaml_ng::from_str(&text).unwrap();
    doc["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no cluster {name} in {text}"))["cluster"]["server"]
        .as_str()
        .unwrap()
        .to_string()
}

fn accepts(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        std::time::Duration::from_millis(200),
    )
    .is_ok()
}

/// Waits (up to 10s) until nothing accepts connections on `port`.
fn wait_closed(port: u16, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while accepts(port) {
        assert!(
            std::time::Instant::now() < deadline,
            "port {port} still accepts connections {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The `latency-proxy` row of `lab status -o json`, if any.
fn proxy_row(h: &Path) -> Option<serde_json::Value> {
    let out = flotilla(h, &["lab", "status", "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    status
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["component"] == "latency-proxy")
        .cloned()
}

fn port_of(url: &str) -> u16 {
    url.rsplit_once(':').unwrap().1.parse().unwrap()
}

#[test]
fn lab_up_latency_puts_a_proxy_process_in_front_of_the_api_server() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let _down = Down(h);

    let out = flotilla(h, &["lab", "up", "--regions", "w", "--latency", "x=80ms"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("names region x, which is not one of the lab's regions"),
        "{}",
        text(&out.stderr)
    );

    let up = [
        "lab",
        "up",
        "--regions",
        "w",
        "--nodes",
        "1",
        "--latency",
        "200ms",
        "--jitter",
        "20ms",
    ];
    let out = flotilla(h, &up);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    // lab-w <proxy> 200ms ±20ms latency to <API server>
    let line = stdout
        .lines()
        .find(|l| l.starts_with("lab-w\t"))
        .unwrap_or_else(|| panic!("{stdout}"));
    let cols: Vec<&str> = line.split('\t').collect();
    assert_eq!(cols.len(), 3, "{line}");
    let (proxy, apiserver) = (
        cols[1].to_string(),
        cols[2].rsplit(' ').next().unwrap().to_string(),
    );
    assert!(cols[2].starts_with("200ms ±20ms latency to https://127.0.0.1:"));
    assert!(proxy.starts_with("https://127.0.0.1:"), "{line}");
    assert_ne!(port_of(&proxy), port_of(&apiserver));

    let env = parse_env(&text(&flotilla(h, &["lab", "env"]).stdout));
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let kubeconfig = get("KUBECONFIG").unwrap();
    let path = get("PATH").unwrap();
    assert_eq!(kubeconfig_server(&kubeconfig, "lab-w"), proxy);

    // kubectl goes through it: read and write.
    let kubectl = |args: &[&str]| {
        let out = Command::new("kubectl")
            .env("PATH", &path)
            .env("KUBECONFIG", &kubeconfig)
            .args(["--context", "lab-w"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    assert!(kubectl(&["get", "namespaces", "-o", "name"]).contains("namespace/kube-system"));
    kubectl(&["create", "configmap", "far", "--from-literal=k=v"]);
    assert_eq!(
        kubectl(&["get", "configmap", "far", "-o", "jsonpath={.data.k}"]),
        "v"
    );

    // `lab status` shows the proxy process, with its latency and upstream.
    let row = proxy_row(h).expect("a latency-proxy row");
    assert_eq!(row["scope"], "w");
    assert_eq!(row["state"], "running", "{row}");
    assert_eq!(row["address"], proxy.as_str());
    let upstream = apiserver.trim_start_matches("https://");
    assert_eq!(row["detail"], format!("200ms ±20ms to {upstream}"));
    let pid = row["pid"].as_u64().unwrap();

    // Up again without --latency: the lab keeps its latency and its proxy.
    let out = flotilla(h, &["lab", "up", "--regions", "w", "--nodes", "1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), stdout);
    assert_eq!(proxy_row(h).unwrap()["pid"].as_u64(), Some(pid));

    // --latency 0 removes it: clients reach the API server directly.
    let out = flotilla(
        h,
        &[
            "lab",
            "up",
            "--regions",
            "w",
            "--nodes",
            "1",
            "--latency",
            "0",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(proxy_row(h).is_none());
    assert_eq!(kubeconfig_server(&kubeconfig, "lab-w"), apiserver);
    wait_closed(port_of(&proxy), "after --latency 0");
    assert!(kubectl(&["get", "configmap", "far", "-o", "name"]).contains("far"));

    // Back; a new latency restarts it on the same port, so the kubeconfig
    // stays valid.
    let out = flotilla(
        h,
        &[
            "lab",
            "up",
            "--regions",
            "w",
            "--nodes",
            "1",
            "--latency",
            "w=100ms",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let proxy = text(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("lab-w\t"))
        .and_then(|l| l.split('\t').next())
        .unwrap()
        .to_string();
    assert_ne!(proxy, apiserver);
    assert_eq!(kubeconfig_server(&kubeconfig, "lab-w"), proxy);
    let row = proxy_row(h).unwrap();
    assert_eq!(row["detail"], format!("100ms to {upstream}"));
    let pid = row["pid"].as_u64().unwrap();
    let out = flotilla(
        h,
        &[
            "lab",
            "up",
            "--regions",
            "w",
            "--nodes",
            "1",
            "--latency",
            "150ms",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let row = proxy_row(h).unwrap();
    assert_eq!(row["detail"], format!("150ms to {upstream}"));
    // The same port when it is still free; on a busy machine another process
    // may have taken it meanwhile, and then the kubeconfig follows the new one.
    let address = row["address"].as_str().unwrap().to_string();
    assert_eq!(kubeconfig_server(&kubeconfig, "lab-w"), address);
    assert_ne!(row["pid"].as_u64(), Some(pid));
    assert!(kubectl(&["get", "configmap", "far", "-o", "name"]).contains("far"));

    // `lab down` stops it.
    let pid = row["pid"].as_u64().unwrap();
    let out = flotilla(h, &["lab", "down"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    wait_closed(port_of(&address), "after `lab down`");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(
        stat.is_empty() || stat.contains(") Z "),
        "the proxy survived `lab down`"
    );
}
