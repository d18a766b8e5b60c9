//! `flotilla app ...`: a running controller's Applications, through its
//! HTTP API (`flotilla controller`). The answers are the controller's views
//! (`flotilla_controller::views`), printed as tables or passed on as JSON.

use std::time::Duration;

use anyhow::{anyhow, Context as _};
use clap::{Args, Subcommand, ValueEnum};
use flotilla_controller::controller::ResourceTree;
use flotilla_controller::views::{
    AppView, ErrorView, OperationView, ResourceView, RollbackRequest, SyncRequest,
};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;

use crate::lab::print_table;

#[derive(Subcommand)]
pub enum AppCmd {
    /// List the Applications with their sync status, health and last operation.
    List(ListArgs),
    /// Show one Application: source, destination, status, conditions, resources.
    Get(NameArgs),
    /// The operations of an Application, newest first (ids for `rollback`).
    History(NameArgs),
    /// The resource tree: each managed resource and what it owns on the
    /// cluster (Deployment → ReplicaSet → Pod, ...), with health and sync.
    Tree(NameArgs),
    /// Sync an Application now (and turn automated sync back on after a rollback).
    /// Exit 0 when the operation succeeded, 1 otherwise.
    Sync(SyncArgs),
    /// Sync an Application to the revision of a history entry; automated sync
    /// stays off until the next manual `flotilla app sync`.
    Rollback(RollbackArgs),
    /// Queue a reconcile of an Application (fetch, compare, maybe sync).
    Refresh(NameArgs),
}

/// How to reach the controller, and how to print; on every subcommand.
#[derive(Args, Debug, Clone)]
pub struct Conn {
    /// The controller's API.
    #[arg(
        long,
        env = "FLOTILLA_SERVER",
        default_value = "http://127.0.0.1:8080",
        value_name = "URL"
    )]
    pub server: String,
    /// Bearer token of the API (`api.tokenFrom` of the controller).
    #[arg(
        long,
        env = "FLOTILLA_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    pub output: Output,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Tables for people.
    Table,
    /// Tables with more columns and untruncated messages.
    Wide,
    /// The controller's JSON answer, pretty-printed.
    Json,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub conn: Conn,
}

#[derive(Args, Debug)]
pub struct NameArgs {
    /// Application name.
    pub name: String,
    #[command(flatten)]
    pub conn: Conn,
}

#[derive(Args, Debug)]
pub struct SyncArgs {
    /// Application name.
    pub name: String,
    /// Prune resources no longer in Git (default: the Application's `automated.prune`).
    #[arg(long)]
    pub prune: bool,
    /// Validate with server-side dry runs; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub conn: Conn,
}

#[derive(Args, Debug)]
pub struct RollbackArgs {
    /// Application name.
    pub name: String,
    /// The history id to return to (see `flotilla app history NAME`).
    pub id: i64,
    /// Prune resources the earlier revision does not have.
    #[arg(long)]
    pub prune: bool,
    #[command(flatten)]
    pub conn: Conn,
}

pub async fn run(cmd: AppCmd) -> anyhow::Result<i32> {
    match cmd {
        AppCmd::List(a) => {
            let client = Client::new(&a.conn)?;
            let body = client.call(Method::GET, &[], None).await?;
            if a.conn.output == Output::Json {
                return print_json(&body).map(|()| 0);
            }
            let apps: Vec<AppView> = client.decode(&body, &[])?;
            if apps.is_empty() {
                eprintln!("no applications");
            } else {
                print_table(&list_rows(&apps, a.conn.output == Output::Wide));
            }
            Ok(0)
        }
        AppCmd::Get(a) => {
            let client = Client::new(&a.conn)?;
            let path = [a.name.as_str()];
            let body = client.call(Method::GET, &path, None).await?;
            if a.conn.output == Output::Json {
                return print_json(&body).map(|()| 0);
            }
            let app: AppView = client.decode(&body, &path)?;
            print!("{}", app_block(&app));
            println!();
            if app.resources.is_empty() {
                println!("no resources");
            } else {
                print_table(&resource_rows(
                    &app.resources,
                    a.conn.output == Output::Wide,
                ));
            }
            Ok(0)
        }
        AppCmd::History(a) => {
            let client = Client::new(&a.conn)?;
            let path = [a.name.as_str(), "history"];
            let body = client.call(Method::GET, &path, None).await?;
            if a.conn.output == Output::Json {
                return print_json(&body).map(|()| 0);
            }
            let ops: Vec<OperationView> = client.decode(&body, &path)?;
            if ops.is_empty() {
                eprintln!("no operations yet for {}", a.name);
            } else {
                print_table(&history_rows(&ops, a.conn.output == Output::Wide));
            }
            Ok(0)
        }
        AppCmd::Tree(a) => {
            let client = Client::new(&a.conn)?;
            let path = [a.name.as_str(), "tree"];
            let body = client.call(Method::GET, &path, None).await?;
            if a.conn.output == Output::Json {
                return print_json(&body).map(|()| 0);
            }
            let tree: ResourceTree = client.decode(&body, &path)?;
            print!("{}", tree.to_text());
            Ok(0)
        }
        AppCmd::Sync(a) => {
            let client = Client::new(&a.conn)?;
            let request = SyncRequest {
                prune: a.prune.then_some(true),
                dry_run: a.dry_run,
                ..SyncRequest::default()
            };
            let path = [a.name.as_str(), "sync"];
            let body = client
                .call(Method::POST, &path, Some(serde_json::to_value(request)?))
                .await?;
            let op: OperationView = client.decode(&body, &path)?;
            if a.conn.output == Output::Json {
                print_json(&body)?;
            } else {
                print_operation(&op, a.dry_run, a.conn.output == Output::Wide);
            }
            Ok(exit_code(&op))
        }
        AppCmd::Rollback(a) => {
            let client = Client::new(&a.conn)?;
            let request = RollbackRequest {
                id: a.id,
                prune: a.prune,
            };
            let path = [a.name.as_str(), "rollback"];
            let body = client
                .call(Method::POST, &path, Some(serde_json::to_value(request)?))
                .await?;
            let op: OperationView = client.decode(&body, &path)?;
            if a.conn.output == Output::Json {
                print_json(&body)?;
            } else {
                print_operation(&op, false, a.conn.output == Output::Wide);
            }
            // On stderr, so that `-o json` stays parseable.
            eprintln!(
                "note: automated sync is now disabled for {name} until a manual `flotilla app sync {name}`",
                name = a.name
            );
            Ok(exit_code(&op))
        }
        AppCmd::Refresh(a) => {
            let client = Client::new(&a.conn)?;
            let body = client
                .call(Method::POST, &[a.name.as_str(), "refresh"], None)
                .await?;
            if a.conn.output == Output::Json {
                return print_json(&body).map(|()| 0);
            }
            println!(
                "reconcile of {} queued: the controller fetches, compares and (if automated) syncs it shortly",
                a.name
            );
            Ok(0)
        }
    }
}

/// A client of one controller's API.
struct Client {
    /// `--server`, as given (for messages).
    server: String,
    /// `--server`, parsed.
    base: Url,
    token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    fn new(conn: &Conn) -> anyhow::Result<Client> {
        let base = Url::parse(conn.server.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
            .ok_or_else(|| {
                anyhow!(
                    "--server {:?} is not an http(s) URL (e.g. http://127.0.0.1:8080)",
                    conn.server
                )
            })?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("flotilla/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client")?;
        Ok(Client {
            server: conn.server.trim().to_string(),
            base,
            token: conn.token.clone().filter(|t| !t.trim().is_empty()),
            http,
        })
    }

    /// `{base}/api/v1/applications/{segments...}`, each segment escaped.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.set_query(None);
        url.set_fragment(None);
        if let Ok(mut p) = url.path_segments_mut() {
            p.pop_if_empty()
                .extend(["api", "v1", "applications"])
                .extend(segments);
        }
        url
    }

    /// Calls the API; the body of a 2xx answer, or an error naming the
    /// server's reason and the HTTP status.
    async fn call(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<Vec<u8>> {
        let mut req = self.http.request(method, self.url(segments));
        // Reads may take long on a busy controller; a sync is not bounded
        // here: the answer comes when the operation has finished.
        if body.is_none() {
            req = req.timeout(Duration::from_secs(120));
        }
        if let Some(t) = &self.token {
            req = req.bearer_auth(t.trim());
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.map_err(|e| self.unreachable(&e))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| self.unreachable(&e))?;
        if status.is_success() {
            Ok(bytes.to_vec())
        } else {
            Err(anyhow!("{}", refusal(status, &bytes)))
        }
    }

    fn unreachable(&self, e: &reqwest::Error) -> anyhow::Error {
        let what = if e.is_timeout() {
            "no answer in time".to_string()
        } else {
            root_cause(e)
        };
        anyhow!(
            "cannot reach the controller at {}: {what}\n\
             hint: check --server (or FLOTILLA_SERVER) and that `flotilla controller` runs there",
            self.server
        )
    }

    fn decode<T: DeserializeOwned>(&self, body: &[u8], segments: &[&str]) -> anyhow::Result<T> {
        serde_json::from_slice(body).with_context(|| {
            format!(
                "the answer of {} is not what a flotilla controller answers",
                self.url(segments)
            )
        })
    }
}

/// `<server's message> (HTTP <code>)`, from an `{"error": "..."}` body or,
/// failing that, the body's first line or the status's reason.
fn refusal(status: StatusCode, body: &[u8]) -> String {
    let message = serde_json::from_slice::<ErrorView>(body)
        .map(|e| e.error)
        .ok()
        .filter(|m| !m.trim().is_empty())
        .or_else(|| {
            let text = String::from_utf8_lossy(body);
            text.lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(|l| truncate(l, 200))
        })
        .unwrap_or_else(|| {
            status
                .canonical_reason()
                .unwrap_or("request refused")
                .to_string()
        });
    format!("{message} (HTTP {})", status.as_u16())
}

/// The innermost error message (`Connection refused (os error 111)`).
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

fn print_json(body: &[u8]) -> anyhow::Result<()> {
    let value: serde_json::Value =
        serde_json::from_slice(body).context("the controller's answer is not JSON")?;
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(())
}

fn exit_code(op: &OperationView) -> i32 {
    if op.phase == "Succeeded" {
        0
    } else {
        1
    }
}

fn short_rev(rev: &str) -> String {
    // Several sources: `a,b`; each shortened.
    rev.split(',')
        .map(|r| r.get(..7).unwrap_or(r))
        .collect::<Vec<_>>()
        .join(",")
}

/// One line, at most `max` characters (`...` marking a cut).
fn truncate(s: &str, max: usize) -> String {
    let line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= max {
        line
    } else {
        let cut: String = line.chars().take(max.saturating_sub(3)).collect();
        format!("{}...", cut.trim_end())
    }
}

fn cell(s: &str, wide: bool) -> String {
    if wide {
        truncate(s, usize::MAX)
    } else {
        truncate(s, 60)
    }
}

fn last_operation(op: Option<&OperationView>) -> String {
    op.map(|o| format!("{} ({})", o.phase, o.trigger))
        .unwrap_or_default()
}

fn list_rows(apps: &[AppView], wide: bool) -> Vec<Vec<String>> {
    let mut head = vec![
        "NAME",
        "CLUSTER",
        "NAMESPACE",
        "SYNC",
        "HEALTH",
        "REVISION",
        "LAST OPERATION",
    ];
    if wide {
        head.extend(["REPO", "PATH", "TARGET"]);
    }
    let mut rows = vec![head.into_iter().map(String::from).collect::<Vec<_>>()];
    for a in apps {
        let mut row = vec![
            a.name.clone(),
            a.cluster.clone(),
            a.namespace.clone(),
            a.sync.clone(),
            a.health.clone(),
            if wide {
                a.revision.clone()
            } else {
                short_rev(&a.revision)
            },
            last_operation(a.operation.as_ref()),
        ];
        if wide {
            row.extend([a.repo.clone(), a.path.clone(), a.target_revision.clone()]);
        }
        rows.push(row);
    }
    rows
}

fn resource_rows(resources: &[ResourceView], wide: bool) -> Vec<Vec<String>> {
    resource_table(resources, wide, false)
}

/// The per-resource results of an operation.
fn result_rows(resources: &[ResourceView], wide: bool) -> Vec<Vec<String>> {
    resource_table(resources, wide, true)
}

/// Resources as table rows; with `result`, what the operation did to each.
fn resource_table(resources: &[ResourceView], wide: bool, result: bool) -> Vec<Vec<String>> {
    let mut header = vec!["GROUP", "KIND", "NAMESPACE", "NAME"];
    if result {
        header.push("RESULT");
    }
    header.extend(["STATUS", "HEALTH", "MESSAGE"]);
    let mut rows = vec![header.into_iter().map(String::from).collect::<Vec<_>>()];
    for r in resources {
        let mut row = vec![
            r.group.clone(),
            r.kind.clone(),
            r.namespace.clone(),
            r.name.clone(),
        ];
        if result {
            row.push(r.operation.clone().unwrap_or_else(|| "Unchanged".into()));
        }
        row.extend([
            r.status.clone(),
            r.health.clone().unwrap_or_default(),
            cell(&r.message, wide),
        ]);
        rows.push(row);
    }
    rows
}

fn history_rows(ops: &[OperationView], wide: bool) -> Vec<Vec<String>> {
    let mut rows = vec![[
        "ID", "REVISION", "PHASE", "TRIGGER", "STARTED", "FINISHED", "MESSAGE",
    ]
    .map(String::from)
    .to_vec()];
    for o in ops {
        rows.push(vec![
            o.id.to_string(),
            if wide {
                o.revision.clone()
            } else {
                short_rev(&o.revision)
            },
            o.phase.clone(),
            o.trigger.clone(),
            o.started_at.clone(),
            o.finished_at.clone(),
            cell(&o.message, wide),
        ]);
    }
    rows
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() {
        "-"
    } else {
        s
    }
}

/// The header of `app get`: everything but the resources.
fn app_block(a: &AppView) -> String {
    fn push(out: &mut String, label: &str, value: &str) {
        let line = format!("{:<17}{}", format!("{label}:"), value);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let mut out = String::new();
    push(&mut out, "Name", &a.name);
    push(&mut out, "Project", or_dash(&a.project));
    push(&mut out, "App set", a.app_set.as_deref().unwrap_or("-"));
    push(&mut out, "Repo", or_dash(&a.repo));
    push(&mut out, "Path", or_dash(&a.path));
    push(&mut out, "Target revision", or_dash(&a.target_revision));
    push(&mut out, "Revision", or_dash(&a.revision));
    let cluster = if a.server.is_empty() {
        a.cluster.clone()
    } else {
        format!("{} ({})", a.cluster, a.server)
    };
    push(&mut out, "Cluster", or_dash(&cluster));
    push(&mut out, "Namespace", or_dash(&a.namespace));
    push(&mut out, "Sync", or_dash(&a.sync));
    push(&mut out, "Health", or_dash(&a.health));
    let mut automated = if a.automated {
        format!("yes (prune: {}, selfHeal: {})", a.prune, a.self_heal)
    } else {
        "no".to_string()
    };
    if a.auto_sync_disabled {
        automated.push_str(", disabled by rollback until a manual `flotilla app sync`");
    }
    push(&mut out, "Automated", &automated);
    push(&mut out, "Reconciled", or_dash(&a.reconciled_at));
    if a.conditions.is_empty() {
        push(&mut out, "Conditions", "none");
    } else {
        push(&mut out, "Conditions", "");
        for c in &a.conditions {
            let when = if c.time.is_empty() {
                String::new()
            } else {
                format!(" ({})", c.time)
            };
            out.push_str(&format!("  - {}: {}{when}\n", c.kind, c.message));
        }
    }
    match &a.operation {
        None => push(&mut out, "Last operation", "none"),
        Some(o) => {
            let when = if o.finished_at.is_empty() {
                format!("started {}", o.started_at)
            } else {
                format!("finished {}", o.finished_at)
            };
            push(
                &mut out,
                "Last operation",
                &format!(
                    "{} {} ({}), {}, {when}",
                    o.id,
                    o.phase,
                    o.trigger,
                    short_rev(&o.revision)
                ),
            );
            if !o.message.is_empty() {
                push(&mut out, "  Message", &o.message);
            }
        }
    }
    out
}

fn print_operation(op: &OperationView, dry_run: bool, wide: bool) {
    println!(
        "{}operation {} on {}: {}",
        if dry_run { "dry run: " } else { "" },
        op.id,
        op.app,
        op.phase
    );
    println!("{:<10}{}", "Revision:", or_dash(&op.revision));
    println!("{:<10}{}", "Trigger:", or_dash(&op.trigger));
    if !op.message.is_empty() {
        println!("{:<10}{}", "Message:", op.message);
    }
    if !op.resources.is_empty() {
        println!();
        print_table(&result_rows(&op.resources, wide));
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use flotilla_controller::views::ConditionView;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: AppCmd,
    }

    fn parse(args: &[&str]) -> Result<AppCmd, clap::Error> {
        Cli::try_parse_from(std::iter::once("app").chain(args.iter().copied())).map(|c| c.cmd)
    }

    #[test]
    fn parses_arguments() {
        let AppCmd::Sync(a) = parse(&[
            "sync",
            "web",
            "--prune",
            "--dry-run",
            "--server",
            "http://ctl:9000",
            "--token",
            "s3cret",
            "-o",
            "json",
        ])
        .unwrap() else {
            panic!("not sync")
        };
        assert_eq!(a.name, "web");
        assert!(a.prune && a.dry_run);
        assert_eq!(a.conn.server, "http://ctl:9000");
        assert_eq!(a.conn.token.as_deref(), Some("s3cret"));
        assert_eq!(a.conn.output, Output::Json);

        let AppCmd::Rollback(a) =
            parse(&["rollback", "web", "12", "--server", "http://x"]).unwrap()
        else {
            panic!("not rollback")
        };
        assert_eq!((a.name.as_str(), a.id, a.prune), ("web", 12, false));
        assert_eq!(a.conn.output, Output::Table);

        let AppCmd::List(a) = parse(&["list", "-o", "wide"]).unwrap() else {
            panic!("not list")
        };
        assert_eq!(a.conn.output, Output::Wide);
        if std::env::var_os("FLOTILLA_SERVER").is_none() {
            assert_eq!(a.conn.server, "http://127.0.0.1:8080");
        }

        assert!(matches!(parse(&["get", "web"]).unwrap(), AppCmd::Get(_)));
        assert!(matches!(
            parse(&["history", "web"]).unwrap(),
            AppCmd::History(_)
        ));
        assert!(matches!(
            parse(&["refresh", "web"]).unwrap(),
            AppCmd::Refresh(_)
        ));
        assert!(parse(&["get"]).is_err());
        assert!(parse(&["rollback", "web"]).is_err());
        assert!(parse(&["rollback", "web", "twelve"]).is_err());
        assert!(parse(&["list", "-o", "yaml"]).is_err());
    }

    #[test]
    fn the_token_is_not_shown_in_help() {
        let err = match Cli::try_parse_from(["app", "list", "--help"]) {
            Err(e) => e,
            Ok(_) => panic!("--help parses"),
        };
        let help = err.render().to_string();
        assert!(help.contains("FLOTILLA_TOKEN"), "{help}");
        assert!(help.contains("--server"), "{help}");
    }

    fn op(id: i64, phase: &str, message: &str) -> OperationView {
        OperationView {
            id,
            app: "web".into(),
            revision: "0123456789abcdef0123456789abcdef01234567".into(),
            phase: phase.into(),
            trigger: "automated".into(),
            started_at: "2024-05-01T10:00:00Z".into(),
            finished_at: "2024-05-01T10:00:05Z".into(),
            message: message.into(),
            resources: vec![],
        }
    }

    fn app() -> AppView {
        AppView {
            name: "web".into(),
            project: "default".into(),
            labels: Default::default(),
            app_set: Some("regional".into()),
            repo: "https://github.com/acme/deploy".into(),
            path: "apps/web".into(),
            target_revision: "HEAD".into(),
            revision: "0123456789abcdef0123456789abcdef01234567".into(),
            cluster: "lab-east".into(),
            server: "https://127.0.0.1:6443".into(),
            namespace: "web".into(),
            sync: "Synced".into(),
            health: "Healthy".into(),
            automated: true,
            prune: true,
            self_heal: false,
            auto_sync_disabled: true,
            conditions: vec![ConditionView {
                kind: "ComparisonError".into(),
                message: "apps/web/kustomization.yaml:3: unknown field".into(),
                time: "2024-05-01T10:00:00Z".into(),
            }],
            reconciled_at: "2024-05-01T10:01:00Z".into(),
            operation: Some(op(3, "Succeeded", "1 Created")),
            resources: vec![
                ResourceView {
                    group: "apps".into(),
                    kind: "Deployment".into(),
                    namespace: "web".into(),
                    name: "web".into(),
                    status: "Synced".into(),
                    health: Some("Healthy".into()),
                    operation: Some("Created".into()),
                    message: String::new(),
                },
                ResourceView {
                    group: String::new(),
                    kind: "Namespace".into(),
                    namespace: String::new(),
                    name: "web".into(),
                    status: "OutOfSync".into(),
                    health: None,
                    operation: None,
                    message: "x".repeat(100),
                },
            ],
        }
    }

    #[test]
    fn list_rows_shorten_revisions_and_show_the_last_operation() {
        let mut other = app();
        other.name = "api".into();
        other.operation = None;
        other.revision = String::new();
        let rows = list_rows(&[app(), other], false);
        assert_eq!(
            rows[0],
            [
                "NAME",
                "CLUSTER",
                "NAMESPACE",
                "SYNC",
                "HEALTH",
                "REVISION",
                "LAST OPERATION"
            ]
        );
        assert_eq!(
            rows[1],
            [
                "web",
                "lab-east",
                "web",
                "Synced",
                "Healthy",
                "0123456",
                "Succeeded (automated)"
            ]
        );
        assert_eq!(rows[2][5], "");
        assert_eq!(rows[2][6], "");
        let wide = list_rows(&[app()], true);
        assert_eq!(wide[0].len(), 10);
        assert_eq!(wide[1][5], app().revision);
        assert_eq!(wide[1][7], "https://github.com/acme/deploy");
    }

    #[test]
    fn history_rows_truncate_messages() {
        let long = format!("failed:\n{}", "y".repeat(200));
        let rows = history_rows(&[op(4, "Failed", &long), op(3, "Succeeded", "ok")], false);
        assert_eq!(rows[0][0], "ID");
        assert_eq!(rows[1][..4], ["4", "0123456", "Failed", "automated"]);
        assert_eq!(rows[1][6].chars().count(), 60);
        assert!(rows[1][6].starts_with("failed: yyy") && rows[1][6].ends_with("..."));
        assert_eq!(rows[2][6], "ok");
        let wide = history_rows(&[op(4, "Failed", &long)], true);
        assert_eq!(wide[1][6].chars().count(), 208);
        assert_eq!(short_rev("0123456789,abcdef0123"), "0123456,abcdef0");
    }

    #[test]
    fn resource_rows_and_results() {
        let a = app();
        let rows = resource_rows(&a.resources, false);
        assert_eq!(
            rows[0],
            [
                "GROUP",
                "KIND",
                "NAMESPACE",
                "NAME",
                "STATUS",
                "HEALTH",
                "MESSAGE"
            ]
        );
        assert_eq!(
            rows[1],
            ["apps", "Deployment", "web", "web", "Synced", "Healthy", ""]
        );
        assert_eq!(rows[2][..6], ["", "Namespace", "", "web", "OutOfSync", ""]);
        assert_eq!(rows[2][6].chars().count(), 60);
        let results = result_rows(&a.resources, false);
        assert_eq!(results[0][4], "RESULT");
        assert_eq!(results[1][4], "Created");
        assert_eq!(results[2][4], "Unchanged");
    }

    #[test]
    fn get_block_names_everything() {
        let block = app_block(&app());
        assert!(block.contains("Conditions:\n  - "), "{block}");
        for want in [
            "Name:            web\n",
            "App set:         regional\n",
            "Repo:            https://github.com/acme/deploy\n",
            "Path:            apps/web\n",
            "Target revision: HEAD\n",
            "Revision:        0123456789abcdef0123456789abcdef01234567\n",
            "Cluster:         lab-east (https://127.0.0.1:6443)\n",
            "Namespace:       web\n",
            "Sync:            Synced\n",
            "Health:          Healthy\n",
            "Automated:       yes (prune: true, selfHeal: false), disabled by rollback",
            "  - ComparisonError: apps/web/kustomization.yaml:3: unknown field (2024-05-01T10:00:00Z)\n",
            "Last operation:  3 Succeeded (automated), 0123456, finished 2024-05-01T10:00:05Z\n",
            "  Message:       1 Created\n",
        ] {
            assert!(block.contains(want), "missing {want:?} in\n{block}");
        }
        let mut plain = app();
        plain.app_set = None;
        plain.automated = false;
        plain.auto_sync_disabled = false;
        plain.conditions.clear();
        plain.operation = None;
        let block = app_block(&plain);
        assert!(block.contains("App set:         -\n"), "{block}");
        assert!(!block.contains(" \n"), "no trailing spaces: {block}");
        assert!(block.contains("Automated:       no\n"), "{block}");
        assert!(block.contains("Conditions:      none\n"), "{block}");
        assert!(block.contains("Last operation:  none\n"), "{block}");
    }

    #[test]
    fn refusals_name_the_reason_and_status() {
        assert_eq!(
            refusal(
                StatusCode::UNAUTHORIZED,
                br#"{"error":"a bearer token is required"}"#
            ),
            "a bearer token is required (HTTP 401)"
        );
        assert_eq!(
            refusal(StatusCode::BAD_GATEWAY, b"<html>\n bad gateway\n"),
            "<html> (HTTP 502)"
        );
        assert_eq!(refusal(StatusCode::NOT_FOUND, b""), "Not Found (HTTP 404)");
    }

    #[test]
    fn urls_escape_names_and_keep_a_path_prefix() {
        let conn = |server: &str| Conn {
            server: server.into(),
            token: None,
            output: Output::Table,
        };
        let c = Client::new(&conn("http://127.0.0.1:8080")).unwrap();
        assert_eq!(
            c.url(&["web", "history"]).as_str(),
            "http://127.0.0.1:8080/api/v1/applications/web/history"
        );
        assert_eq!(
            c.url(&["a/b c"]).as_str(),
            "http://127.0.0.1:8080/api/v1/applications/a%2Fb%20c"
        );
        let c = Client::new(&conn("https://ops.example.com/flotilla/")).unwrap();
        assert_eq!(
            c.url(&[]).as_str(),
            "https://ops.example.com/flotilla/api/v1/applications"
        );
        assert!(Client::new(&conn("127.0.0.1:8080")).is_err());
        assert!(Client::new(&conn("ftp://x")).is_err());
    }

    #[test]
    fn exit_codes_follow_the_phase() {
        assert_eq!(exit_code(&op(1, "Succeeded", "")), 0);
        assert_eq!(exit_code(&op(1, "Failed", "")), 1);
        assert_eq!(exit_code(&op(1, "Interrupted", "")), 1);
    }
}
