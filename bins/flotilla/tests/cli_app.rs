//! `flotilla app ...` as a user runs it, against a stub of the controller's
//! API serving canned views (the real controller is tested end to end in
//! `tests/`).

use std::net::SocketAddr;
use std::process::{Command, Output};

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use flotilla_controller::views::{AppView, ErrorView, OperationView, ResourceView};

const TOKEN: &str = "t0ken-for-tests";

fn refuse(code: StatusCode, message: &str) -> Response {
    (
        code,
        Json(ErrorView {
            error: message.into(),
        }),
    )
        .into_response()
}

/// The refusal of a call without the right token.
fn refused(headers: &HeaderMap) -> Option<Response> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if given == Some(&format!("Bearer {TOKEN}")) {
        None
    } else {
        Some(refuse(
            StatusCode::UNAUTHORIZED,
            "a bearer token is required (Authorization: Bearer <token>)",
        ))
    }
}

fn resource(kind: &str, name: &str, op: Option<&str>, message: &str) -> ResourceView {
    ResourceView {
        group: if kind == "Deployment" { "apps" } else { "" }.into(),
        kind: kind.into(),
        namespace: "web".into(),
        name: name.into(),
        status: "Synced".into(),
        health: Some("Healthy".into()),
        operation: op.map(String::from),
        message: message.into(),
    }
}

fn operation(app: &str, id: i64, phase: &str, trigger: &str, message: &str) -> OperationView {
    OperationView {
        id,
        app: app.into(),
        revision: format!("{id}bcdef0123456789abcdef0123456789abcdef0"),
        phase: phase.into(),
        trigger: trigger.into(),
        started_at: "2024-05-01T10:00:00Z".into(),
        finished_at: "2024-05-01T10:00:05Z".into(),
        message: message.into(),
        resources: vec![],
    }
}

fn app(name: &str) -> AppView {
    AppView {
        name: name.into(),
        project: "default".into(),
        labels: Default::default(),
        app_set: Some("regional".into()),
        repo: "https://github.com/acme/deploy".into(),
        path: format!("apps/{name}"),
        target_revision: "HEAD".into(),
        revision: "fedcba9876543210fedcba9876543210fedcba98".into(),
        cluster: "lab-east".into(),
        server: "https://127.0.0.1:6443".into(),
        namespace: name.into(),
        sync: "Synced".into(),
        health: "Healthy".into(),
        automated: true,
        prune: true,
        self_heal: true,
        auto_sync_disabled: false,
        conditions: vec![],
        reconciled_at: "2024-05-01T10:01:00Z".into(),
        operation: Some(operation(name, 3, "Succeeded", "automated", "2 Created")),
        resources: vec![],
    }
}

async fn list(headers: HeaderMap) -> Response {
    if let Some(r) = refused(&headers) {
        return r;
    }
    let mut broken = app("broken");
    broken.sync = "OutOfSync".into();
    broken.health = "Degraded".into();
    broken.operation = Some(operation("broken", 7, "Failed", "self-heal", "boom"));
    Json(vec![app("web"), broken]).into_response()
}

async fn get_app(headers: HeaderMap, Path(name): Path<String>) -> Response {
    if let Some(r) = refused(&headers) {
        return r;
    }
    if name != "web" {
        return refuse(
            StatusCode::NOT_FOUND,
            &format!("application {name:?} not found"),
        );
    }
    let mut a = app("web");
    a.auto_sync_disabled = true;
    a.resources = vec![
        resource("Deployment", "web", None, ""),
        resource("Service", "web", None, "port 80"),
    ];
    Json(a).into_response()
}

async fn history(headers: HeaderMap, Path(_name): Path<String>) -> Response {
    if let Some(r) = refused(&headers) {
        return r;
    }
    let long = format!("sync failed: {}", "z".repeat(150));
    Json(vec![
        operation("web", 4, "Failed", "webhook", &long),
        operation("web", 3, "Succeeded", "automated", "2 Created"),
    ])
    .into_response()
}

/// Answers an operation whose message echoes the request body.
fn finished(name: &str, trigger: &str, body: &Bytes) -> Response {
    let phase = if name == "broken" {
        "Failed"
    } else {
        "Succeeded"
    };
    let mut op = operation(name, 9, phase, trigger, &String::from_utf8_lossy(body));
    op.resources = vec![
        resource("Deployment", "web", Some("Configured"), ""),
        resource("Service", "web", None, ""),
    ];
    Json(op).into_response()
}

async fn sync(headers: HeaderMap, Path(name): Path<String>, body: Bytes) -> Response {
    if let Some(r) = refused(&headers) {
        return r;
    }
    finished(&name, "manual sync by api", &body)
}

async fn rollback(headers: HeaderMap, Path(name): Path<String>, body: Bytes) -> Response {
    if let Some(r) = refused(&headers) {
        return r;
    }
    finished(&name, "rollback to 3 by api", &body)
}

async fn refresh(headers: HeaderMap, Path(name): Path<String>) -> Response {
    if let Some(r) = refused(&headers) {
        return r;
    }
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "refresh": name })),
    )
        .into_response()
}

/// Serves the stub on a thread of its own; its address.
fn stub() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let router = Router::new()
                .route("/api/v1/applications", get(list))
                .route("/api/v1/applications/{name}", get(get_app))
                .route("/api/v1/applications/{name}/history", get(history))
                .route("/api/v1/applications/{name}/sync", post(sync))
                .route("/api/v1/applications/{name}/rollback", post(rollback))
                .route("/api/v1/applications/{name}/refresh", post(refresh));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, router).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

fn flotilla(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flotilla"));
    cmd.args(args)
        .env_remove("FLOTILLA_SERVER")
        .env_remove("FLOTILLA_TOKEN")
        .env("NO_PROXY", "127.0.0.1,localhost");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("flotilla runs")
}

/// `flotilla app ARGS --server URL --token TOKEN`.
fn app_cmd(addr: SocketAddr, args: &[&str]) -> Output {
    let server = format!("http://{addr}");
    let mut all = vec!["app"];
    all.extend_from_slice(args);
    all.extend(["--server", &server, "--token", TOKEN]);
    flotilla(&all, &[])
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn list_prints_a_table_and_json() {
    let addr = stub();
    let out = app_cmd(addr, &["list"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    for col in [
        "NAME",
        "CLUSTER",
        "NAMESPACE",
        "SYNC",
        "HEALTH",
        "REVISION",
        "LAST OPERATION",
    ] {
        assert!(lines[0].contains(col), "{stdout}");
    }
    let web: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        web,
        [
            "web",
            "lab-east",
            "web",
            "Synced",
            "Healthy",
            "fedcba9",
            "Succeeded",
            "(automated)"
        ]
    );
    assert!(lines[2].starts_with("broken "), "{stdout}");
    assert!(lines[2].contains("OutOfSync") && lines[2].contains("Failed (self-heal)"));
    // Columns line up.
    let at = lines[0].find("SYNC").unwrap();
    assert_eq!(&lines[1][at..at + 6], "Synced");
    assert_eq!(&lines[2][at..at + 9], "OutOfSync");

    let out = app_cmd(addr, &["list", "-o", "json"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let apps: Vec<AppView> = serde_json::from_str(&stdout).unwrap();
    assert_eq!(apps.len(), 2);
    assert_eq!(apps[0], app("web"));
    assert!(stdout.contains("\n  {"), "pretty: {stdout}");
}

#[test]
fn get_prints_the_application_and_its_resources() {
    let addr = stub();
    let server = format!("http://{addr}");
    // Server and token from the environment this time.
    let out = flotilla(
        &["app", "get", "web"],
        &[("FLOTILLA_SERVER", &server), ("FLOTILLA_TOKEN", TOKEN)],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    for want in [
        "Name:            web",
        "App set:         regional",
        "Repo:            https://github.com/acme/deploy",
        "Path:            apps/web",
        "Target revision: HEAD",
        "Revision:        fedcba9876543210fedcba9876543210fedcba98",
        "Cluster:         lab-east (https://127.0.0.1:6443)",
        "Namespace:       web",
        "Sync:            Synced",
        "Health:          Healthy",
        "Automated:       yes (prune: true, selfHeal: true), disabled by rollback",
        "Conditions:      none",
        "Last operation:  3 Succeeded (automated)",
        "  Message:       2 Created",
    ] {
        assert!(stdout.contains(want), "missing {want:?} in\n{stdout}");
    }
    let table: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("GROUP"))
        .collect();
    assert_eq!(table.len(), 3, "{stdout}");
    for col in ["KIND", "NAMESPACE", "NAME", "STATUS", "HEALTH", "MESSAGE"] {
        assert!(table[0].contains(col), "{stdout}");
    }
    assert!(table[1].starts_with("apps ") && table[1].contains("Deployment"));
    assert!(table[2].contains("Service") && table[2].ends_with("port 80"));

    let out = app_cmd(addr, &["get", "nope"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("error: application \"nope\" not found (HTTP 404)"),
        "{stderr}"
    );
}

#[test]
fn history_prints_operations_newest_first() {
    let addr = stub();
    let out = app_cmd(addr, &["history", "web"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    let head: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        head,
        ["ID", "REVISION", "PHASE", "TRIGGER", "STARTED", "FINISHED", "MESSAGE"]
    );
    let first: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        first[..6],
        [
            "4",
            "4bcdef0",
            "Failed",
            "webhook",
            "2024-05-01T10:00:00Z",
            "2024-05-01T10:00:05Z"
        ]
    );
    assert!(lines[1].ends_with("..."), "{stdout}");
    assert!(!lines[1].contains(&"z".repeat(60)), "truncated: {stdout}");
    assert!(lines[2].starts_with("3 ") && lines[2].ends_with("2 Created"));
}

#[test]
fn sync_exits_by_the_operation_phase() {
    let addr = stub();
    let out = app_cmd(addr, &["sync", "web", "--prune", "--dry-run"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("operation 9 on web: Succeeded"), "{stdout}");
    assert!(stdout.contains("dry run"), "{stdout}");
    // The stub echoes the request body as the message.
    assert!(stdout.contains(r#""prune":true"#), "{stdout}");
    assert!(stdout.contains(r#""dryRun":true"#), "{stdout}");
    let result = stdout
        .lines()
        .find(|l| l.contains("Deployment"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(result.contains("Configured"), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("GROUP")), "{stdout}");

    let out = app_cmd(addr, &["sync", "broken"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("operation 9 on broken: Failed"), "{stdout}");
    assert!(stdout.contains(r#""dryRun":false"#), "{stdout}");
    assert!(!stdout.contains(r#""prune""#), "default prune: {stdout}");

    let out = app_cmd(addr, &["sync", "broken", "-o", "json"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let op: OperationView = serde_json::from_str(&stdout).unwrap();
    assert_eq!(op.phase, "Failed");
}

#[test]
fn rollback_and_refresh() {
    let addr = stub();
    let out = app_cmd(addr, &["rollback", "web", "3", "--prune"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("Succeeded"), "{stdout}");
    assert!(stdout.contains(r#"{"id":3,"prune":true}"#), "{stdout}");
    assert!(
        stderr.contains("automated sync is now disabled for web until a manual `flotilla app sync"),
        "{stderr}"
    );

    let out = app_cmd(addr, &["refresh", "web"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("reconcile of web queued"), "{stdout}");
}

#[test]
fn a_refused_call_names_the_reason_and_hides_the_token() {
    let addr = stub();
    let server = format!("http://{addr}");
    let secret = "wrong-token-do-not-print";
    for args in [
        vec!["app", "list", "--server", &server, "--token", secret],
        vec!["app", "sync", "web", "--server", &server, "--token", secret],
    ] {
        let out = flotilla(&args, &[]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
        assert!(
            stderr.contains(
                "error: a bearer token is required (Authorization: Bearer <token>) (HTTP 401)"
            ),
            "{stderr}"
        );
        assert!(!stdout.contains(secret) && !stderr.contains(secret));
    }
    // No token at all.
    let out = flotilla(&["app", "list", "--server", &server], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("(HTTP 401)"));
}

#[test]
fn an_unreachable_controller_is_named() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = format!("http://127.0.0.1:{port}");
    let out = flotilla(
        &["app", "list", "--token", "sekrit-token"],
        &[("FLOTILLA_SERVER", &server)],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("cannot reach the controller at {server}")),
        "{stderr}"
    );
    assert!(stderr.to_lowercase().contains("refused"), "{stderr}");
    assert!(stderr.contains("--server") && stderr.contains("FLOTILLA_SERVER"));
    assert!(stderr.contains("flotilla controller"), "{stderr}");
    assert!(!stderr.contains("sekrit-token"));

    let out = flotilla(&["app", "list", "--server", "127.0.0.1:8080"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).1.contains("not an http(s) URL"),
        "{:?}",
        text(&out)
    );
}
