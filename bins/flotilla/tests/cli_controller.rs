//! `flotilla controller` as a user starts it: a bad configuration is refused
//! with every problem listed, a good one serves its API and stops cleanly on
//! SIGTERM. (The controller against real clusters: tests/controller.rs.)

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn an_invalid_configuration_lists_every_problem_and_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("flotilla.yaml");
    std::fs::write(
        &config,
        "pollIntervall: 3m\nrepositories:\n  - substitute: ./missing\napplications: []\napi:\n  listen: nowhere\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(["controller", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let shown = config.display().to_string();
    for (at, what) in [
        ("1:1", "pollIntervall"),
        ("3:5", "repositories[0].url"),
        ("3:17", "repositories[0].substitute"),
        ("4:15", "applications"),
        ("6:11", "api.listen"),
    ] {
        assert!(
            err.contains(&format!("{shown}:{at}: {what}")),
            "{at} {what}:\n{err}"
        );
    }
    assert!(err.contains("did you mean `pollInterval`"), "{err}");
    assert!(
        !dir.path().join(".flotilla").exists(),
        "nothing was started"
    );
}

/// Kills the controller if the test fails before stopping it.
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // Only if the pid is still a flotilla controller (it may be reaped).
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", self.0)).unwrap_or_default();
        if !String::from_utf8_lossy(&cmdline).contains("controller") {
            return;
        }
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0 as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

#[test]
fn a_controller_serves_its_api_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("apps")).unwrap();
    std::fs::write(d.join("kubeconfig"), "apiVersion: v1\nkind: Config\n").unwrap();
    std::fs::write(d.join("token"), "t0ken\n").unwrap();
    std::fs::write(
        d.join("flotilla.yaml"),
        "clusters: {kubeconfig: kubeconfig}\napplications: [{directory: apps}]\napi: {listen: '127.0.0.1:0', tokenFrom: {file: token}}\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(["controller", "--config"])
        .arg(d.join("flotilla.yaml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _guard = KillOnDrop(child.id());
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("flotilla controller: API on http://")
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    let get = |path: &str, token: Option<&str>| -> String {
        let mut c = Command::new("curl");
        c.args(["-s", "-o", "-", "-w", " %{http_code}"]);
        if let Some(t) = token {
            c.args(["-H", &format!("Authorization: Bearer {t}")]);
        }
        let out = c.arg(format!("http://{addr}{path}")).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let start = Instant::now();
    loop {
        let health = get("/healthz", None);
        if health.contains("\"ready\":true") {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{health}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(get("/api/v1/applications", None).ends_with(" 401"));
    assert_eq!(get("/api/v1/applications", Some("t0ken")), "[] 200");
    assert!(get("/api/v1/applications/nope", Some("t0ken")).ends_with(" 404"));
    let metrics = get("/metrics", Some("t0ken"));
    assert!(
        metrics.contains("flotilla_app_reconcile_duration_seconds_count 0"),
        "{metrics}"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(d.join(".flotilla/state.db").exists());
}
