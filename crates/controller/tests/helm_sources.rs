//! Argo CD's Helm source options, through the public `SourceResolver`, on
//! real components: charts written here, packaged and served by the lab's
//! chart repository on loopback, value files and charts in a real Git
//! repository (made with the `git` CLI) or a plain directory. Each option
//! has a visible effect on the rendered manifests, or is refused by name.

use std::path::{Path, PathBuf};
use std::process::Command;

use flotilla_controller::source::SourceResolver;
use flotilla_core::{Application, Manifest};
use flotilla_lab::charts::{ChartRepo, ChartServer, ChartServerOptions};
use serde_json::{json, Value};

const CHARTS: &str = "https://charts.example.invalid";
const GIT: &str = "https://git.example.invalid/acme/deploy.git";

/// A ConfigMap that shows what a chart saw: release, capabilities, values.
const PROBE: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-probe
  namespace: {{ .Release.Namespace }}
data:
  chart: {{ .Chart.Version | quote }}
  namespace: {{ .Release.Namespace | quote }}
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
  widget: {{ .Capabilities.APIVersions.Has "example.com/v1/Widget" | quote }}
  apps: {{ .Capabilities.APIVersions.Has "apps/v1" | quote }}
  values.json: |
    {{ toJson .Values }}
"#;

const WEB_VALUES: &str = "layer: chart\nreplicas: 1\ngreeting: hello\n";

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A chart directory `dir` holding the probe template and `extra` files.
fn probe_chart(dir: &Path, name: &str, version: &str, extra: &[(&str, &str)]) {
    write(
        dir,
        "Chart.yaml",
        &format!("apiVersion: v2\nname: {name}\nversion: {version}\n"),
    );
    write(dir, "values.yaml", WEB_VALUES);
    write(dir, "templates/probe.yaml", PROBE);
    for (rel, text) in extra {
        write(dir, rel, text);
    }
}

const HOOKS: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: plain
{{- range $name, $hook := dict "smoke" "test" "smoke-post" "test,post-install" "cleanup" "pre-delete" "rollback" "post-rollback" "migrate" "pre-install" "notify" "post-install" }}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ $name }}
  annotations:
    helm.sh/hook: {{ $hook | quote }}
{{- end }}
"#;

const CRD: &str = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n\
    metadata: {name: widgets.example.com}\nspec:\n  group: example.com\n  scope: Namespaced\n\
    \x20 names: {kind: Widget, plural: widgets}\n  versions: [{name: v1, served: true, storage: true}]\n";

const SCHEMA: &str =
    r#"{"type": "object", "properties": {"replicas": {"type": "integer", "minimum": 1}}}"#;

const REQUIRED: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: req
data:
  tag: {{ required "image.tag is required" .Values.image.tag }}
"#;

const FUTURE: &str = "apiVersion: v2\nname: future\nversion: 1.0.0\nkubeVersion: \">=1.40.0-0\"\n";

const LIB: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-lib\n\
    data:\n  from: lib\n";

/// Every chart the tests use, served from one repository.
fn write_served_charts(root: &Path) {
    let prod = [("values-prod.yaml", "layer: prod-in-chart\n")];
    for v in ["0.1.0", "0.1.2", "0.2.0"] {
        probe_chart(&root.join(format!("web-{v}")), "web", v, &prod);
    }
    let hooks = [("crds/widget.yaml", CRD), ("templates/hooks.yaml", HOOKS)];
    probe_chart(&root.join("hooks"), "hooks", "1.0.0", &hooks);
    let strict = [("values.schema.json", SCHEMA)];
    probe_chart(&root.join("strict"), "strict", "1.0.0", &strict);
    probe_chart(
        &root.join("future"),
        "future",
        "1.0.0",
        &[("Chart.yaml", FUTURE)],
    );
    let req = [
        ("templates/req.yaml", REQUIRED),
        ("values.yaml", "image: {}\n"),
    ];
    probe_chart(&root.join("req"), "req", "1.0.0", &req);
    let lib = root.join("lib");
    write(
        &lib,
        "Chart.yaml",
        "apiVersion: v2\nname: lib\nversion: 0.1.0\n",
    );
    write(&lib, "templates/lib.yaml", LIB);
}

/// An umbrella chart whose dependency comes from `repository` by URL.
fn write_umbrella(dir: &Path, repository: &str) {
    write(
        dir,
        "Chart.yaml",
        &format!(
            "apiVersion: v2\nname: umbrella\nversion: 1.0.0\ndependencies:\n\
             - name: lib\n  version: \"0.1.x\"\n  repository: \"{repository}\"\n"
        ),
    );
    write(
        dir,
        "templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: umbrella\n",
    );
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(
            "-c user.name=Flotilla -c user.email=t@example.invalid -c commit.gpgsign=false"
                .split(' '),
        )
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The Git repository `GIT` stands for: value files, a chart with a file
/// for `fileParameters`, and an umbrella chart, committed on `main`.
fn write_git_repo(dir: &Path) {
    write(dir, "envs/one.yaml", "layer: one\nfromOne: true\n");
    write(dir, "envs/two.yaml", "layer: two\nfromTwo: true\n");
    write(dir, "envs/shop.yaml", "layer: shop-file\n");
    probe_chart(
        &dir.join("charts/web"),
        "web",
        "0.3.0",
        &[("files/config.txt", "line one\nline two\n")],
    );
    write_umbrella(&dir.join("charts/umbrella"), CHARTS);
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "deploy"]);
}

/// Every file under `root` (`.git` included) with its size.
fn listing(root: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            out.push((e.path(), if m.is_dir() { 0 } else { m.len() }));
            if m.is_dir() {
                stack.push(e.path());
            }
        }
    }
    out.sort();
    out
}

struct Fixture {
    resolver: SourceResolver,
    server: ChartServer,
    git_dir: PathBuf,
    tmp: tempfile::TempDir,
}

/// A chart server holding every chart, a Git repository, and a resolver
/// answering `CHARTS` and `GIT` from them.
async fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let charts = tmp.path().join("charts-src");
    write_served_charts(&charts);
    let repo = ChartRepo::build(&[charts], &tmp.path().join("charts-work")).unwrap();
    let server = ChartServer::start(ChartServerOptions::new(repo))
        .await
        .unwrap();
    let git_dir = tmp.path().join("deploy");
    write_git_repo(&git_dir);
    let cache = flotilla_git::GitCache::new(tmp.path().join("git")).unwrap();
    let resolver = SourceResolver::new(cache);
    resolver.substitute(CHARTS, &server.url()).unwrap();
    resolver.substitute(GIT, git_dir.to_str().unwrap()).unwrap();
    Fixture {
        resolver,
        server,
        git_dir,
        tmp,
    }
}

fn application(name: &str, sources: Value) -> Application {
    serde_json::from_value(json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {
            "project": "default",
            "sources": sources,
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "team-a"},
        },
    }))
    .unwrap()
}

/// `chart` at `version` from `CHARTS` with `helm` options, plus the Git
/// repository as the `ref: values` source.
fn chart_app(name: &str, chart: &str, version: &str, helm: Value) -> Application {
    application(
        name,
        json!([
            {"repoURL": CHARTS, "chart": chart, "targetRevision": version, "helm": helm},
            {"repoURL": GIT, "targetRevision": "main", "ref": "values"},
        ]),
    )
}

fn web_app(helm: Value) -> Application {
    chart_app("shop", "web", "0.1.*", helm)
}

/// The chart in Git at `charts/web` with `helm` options.
fn git_chart_app(helm: Value) -> Application {
    application(
        "shop",
        json!([{"repoURL": GIT, "path": "charts/web", "targetRevision": "main", "helm": helm}]),
    )
}

fn find<'a>(manifests: &'a [Manifest], name: &str) -> Option<&'a Manifest> {
    manifests.iter().find(|m| m.name() == Some(name))
}

fn names(manifests: &[Manifest]) -> Vec<&str> {
    manifests.iter().filter_map(|m| m.name()).collect()
}

/// The probe ConfigMap's `data`.
fn probe_data(manifests: &[Manifest]) -> &serde_json::Map<String, Value> {
    let m = manifests
        .iter()
        .find(|m| m.name().is_some_and(|n| n.ends_with("-probe")))
        .unwrap_or_else(|| panic!("no probe ConfigMap in {:?}", names(manifests)));
    m.object["data"].as_object().unwrap()
}

/// The values the probe chart rendered with.
fn probe_values(manifests: &[Manifest]) -> Value {
    serde_json::from_str(probe_data(manifests)["values.json"].as_str().unwrap()).unwrap()
}

async fn render(f: &Fixture, app: &Application) -> Vec<Manifest> {
    f.resolver.desired(app).await.unwrap()
}

async fn values_of(f: &Fixture, app: &Application) -> Value {
    probe_values(&render(f, app).await)
}

async fn error_of(f: &Fixture, app: &Application) -> String {
    match f.resolver.desired(app).await {
        Ok(m) => panic!("rendered {:?}, expected an error", names(&m)),
        Err(e) => e.to_string(),
    }
}

/// The values `web` 0.1.x from the chart repository rendered with.
async fn web_values(f: &Fixture, helm: Value) -> Value {
    values_of(f, &web_app(helm)).await
}

fn has(manifests: &[Manifest], name: &str) -> bool {
    find(manifests, name).is_some()
}

#[tokio::test]
async fn value_files_values_and_values_object_layer_in_argo_cd_order() {
    let f = fixture().await;
    let files = json!(["$values/envs/one.yaml", "$values/envs/two.yaml"]);

    let v = web_values(&f, json!({"valueFiles": files})).await;
    assert_eq!(v["layer"], "two", "the later value file wins: {v}");
    assert!(v["fromOne"] == true && v["fromTwo"] == true, "{v}");
    assert_eq!(v["greeting"], "hello", "chart defaults stay: {v}");
    let reversed = json!(["$values/envs/two.yaml", "$values/envs/one.yaml"]);
    let v = web_values(&f, json!({"valueFiles": reversed})).await;
    assert_eq!(v["layer"], "one", "{v}");

    // Relative paths: inside the chart (from a repository), or from the
    // chart's directory in Git (anywhere inside the repository).
    let v = web_values(&f, json!({"valueFiles": ["values-prod.yaml"]})).await;
    assert_eq!(v["layer"], "prod-in-chart", "{v}");
    let app = git_chart_app(json!({"valueFiles": ["../../envs/one.yaml"]}));
    assert_eq!(values_of(&f, &app).await["layer"], "one");

    let inline = "layer: inline-string\nfromString: true\n";
    let v = web_values(&f, json!({"valueFiles": files, "values": inline})).await;
    assert_eq!(v["layer"], "inline-string", "values after value files: {v}");
    assert_eq!(v["fromString"], true);

    let both = json!({
        "valueFiles": files,
        "values": inline,
        "valuesObject": {"layer": "inline-object", "nested": {"on": true}},
    });
    let v = web_values(&f, both).await;
    assert_eq!(v["layer"], "inline-object", "valuesObject wins: {v}");
    assert_eq!(v["nested"]["on"], true);
    // As in Argo CD (ValuesYAML), valuesObject replaces values, no merge.
    assert!(v.get("fromString").is_none(), "{v}");
    assert_eq!(v["fromTwo"], true, "value files still apply: {v}");

    let missing = json!(["$values/envs/one.yaml", "$values/envs/missing.yaml"]);
    let helm = json!({"valueFiles": missing, "ignoreMissingValueFiles": true});
    assert_eq!(web_values(&f, helm).await["layer"], "one");
    let err = error_of(&f, &web_app(json!({"valueFiles": missing}))).await;
    assert!(err.contains("helm.valueFiles[1]"), "{err}");
    assert!(err.contains("envs/missing.yaml"), "{err}");
}

#[tokio::test]
async fn parameters_set_typed_values_force_string_commas_and_file_parameters() {
    let f = fixture().await;
    let params = |force: bool| {
        json!({"parameters": [
            {"name": "replicas", "value": "3", "forceString": force},
            {"name": "greeting", "value": "hello, world"},
            {"name": "nested.flag", "value": "true"},
            {"name": "csv", "value": "a,b", "forceString": true},
        ]})
    };
    let v = web_values(&f, params(false)).await;
    assert_eq!(v["replicas"], json!(3), "--set keeps a number: {v}");
    assert_eq!(v["greeting"], "hello, world", "comma kept: {v}");
    assert_eq!(v["nested"]["flag"], json!(true));
    assert_eq!(v["csv"], "a,b", "comma kept with forceString: {v}");
    let v = web_values(&f, params(true)).await;
    assert_eq!(v["replicas"], json!("3"), "forceString: {v}");

    // Parameters win over value files and inline values.
    let v = web_values(
        &f,
        json!({
            "valueFiles": ["$values/envs/one.yaml"],
            "values": "layer: inline\n",
            "parameters": [{"name": "layer", "value": "param"}],
        }),
    )
    .await;
    assert_eq!(v["layer"], "param", "{v}");

    // fileParameters: a file relative to the chart (here in Git).
    let file = json!({"name": "config.body", "path": "files/config.txt"});
    let app = git_chart_app(json!({ "fileParameters": [file] }));
    let v = values_of(&f, &app).await;
    assert_eq!(v["config"]["body"], "line one\nline two\n", "{v}");
    let file = json!({"name": "x", "path": "files/none.txt"});
    let err = error_of(&f, &git_chart_app(json!({ "fileParameters": [file] }))).await;
    assert!(err.contains("helm.fileParameters[0]"), "{err}");
    assert!(err.contains("files/none.txt"), "{err}");
}

#[tokio::test]
async fn release_name_and_namespace() {
    let f = fixture().await;
    let got = render(&f, &web_app(json!({}))).await;
    let probe = find(&got, "shop-probe").expect("release name = Application name");
    assert_eq!(probe.namespace(), Some("team-a"));
    assert_eq!(probe_data(&got)["namespace"], "team-a");

    let helm = json!({"releaseName": "storefront", "namespace": "payments"});
    let got = render(&f, &web_app(helm)).await;
    let probe = find(&got, "storefront-probe").expect("explicit releaseName wins");
    assert_eq!(probe.namespace(), Some("payments"));
    assert_eq!(probe_data(&got)["namespace"], "payments");
    assert!(!has(&got, "shop-probe"));
}

#[tokio::test]
async fn crds_test_hooks_and_hooks_argo_cd_never_runs() {
    let f = fixture().await;
    let app = |helm: Value| chart_app("shop", "hooks", "1.0.0", helm);
    let got = render(&f, &app(json!({}))).await;
    let crd = find(&got, "widgets.example.com").expect("CRDs are rendered by default");
    assert_eq!(crd.kind(), Some("CustomResourceDefinition"));
    for name in ["plain", "migrate", "notify", "smoke-post"] {
        assert!(has(&got, name), "{name} in {:?}", names(&got));
    }
    // Hooks Argo CD never runs: test only, delete, rollback.
    for name in ["smoke", "cleanup", "rollback"] {
        assert!(!has(&got, name), "{name} in {:?}", names(&got));
    }
    let hook = |name: &str| find(&got, name).unwrap().annotation("helm.sh/hook");
    assert_eq!(hook("migrate"), Some("pre-install"));
    assert_eq!(hook("notify"), Some("post-install"));
    assert_eq!(hook("smoke-post"), Some("test,post-install"));

    let got = render(&f, &app(json!({"skipCrds": true, "skipTests": true}))).await;
    assert!(!has(&got, "widgets.example.com"), "skipCrds");
    assert!(!has(&got, "smoke-post"), "skipTests drops any test hook");
    for name in ["plain", "migrate", "notify"] {
        assert!(has(&got, name), "{name} in {:?}", names(&got));
    }
}

#[tokio::test]
async fn schema_validation_and_its_skip() {
    let f = fixture().await;
    let app = |skip: bool| {
        let zero = json!({"name": "replicas", "value": "0"});
        let helm = json!({"parameters": [zero], "skipSchemaValidation": skip});
        chart_app("shop", "strict", "1.0.0", helm)
    };
    let ok = chart_app("shop", "strict", "1.0.0", json!({}));
    assert_eq!(values_of(&f, &ok).await["replicas"], 1);
    let err = error_of(&f, &app(false)).await;
    assert!(err.contains("schema"), "{err}");
    assert!(err.contains("replicas"), "{err}");
    assert_eq!(values_of(&f, &app(true)).await["replicas"], 0);
}

#[tokio::test]
async fn kube_version_and_api_versions_reach_capabilities() {
    let f = fixture().await;
    let apis = json!(["example.com/v1/Widget", "example.com/v1"]);
    let helm = json!({"kubeVersion": "1.29.3", "apiVersions": apis});
    let got = render(&f, &web_app(helm)).await;
    let data = probe_data(&got);
    assert_eq!(data["kube"], "v1.29.3");
    assert_eq!(data["widget"], "true");
    assert_eq!(data["apps"], "true", "Helm's default API versions stay");
    let got = render(&f, &web_app(json!({}))).await;
    let data = probe_data(&got);
    assert_ne!(data["kube"], "v1.29.3");
    assert_eq!(data["widget"], "false");

    let future = |v: &str| chart_app("shop", "future", "1.0.0", json!({"kubeVersion": v}));
    let err = error_of(&f, &future("1.32.0")).await;
    assert!(err.contains("incompatible"), "{err}");
    assert!(err.contains(">=1.40.0-0"), "{err}");
    assert!(f.resolver.desired(&future("1.40.1")).await.is_ok());
}

#[tokio::test]
async fn argo_cd_build_environment_is_expanded() {
    let f = fixture().await;
    let v = web_values(
        &f,
        json!({
            "valueFiles": ["$values/envs/$ARGOCD_APP_NAME.yaml"],
            "parameters": [
                {"name": "greeting", "value": "hi-$ARGOCD_APP_NAME"},
                {"name": "where", "value": "${ARGOCD_APP_NAMESPACE}"},
            ],
        }),
    )
    .await;
    assert_eq!(v["layer"], "shop-file", "{v}");
    assert_eq!(v["greeting"], "hi-shop", "{v}");
    assert_eq!(v["where"], "team-a", "{v}");
}

#[tokio::test]
async fn unsupported_options_and_escaping_paths_are_refused_by_name() {
    let f = fixture().await;
    let err = error_of(&f, &web_app(json!({"version": "v2"}))).await;
    assert!(err.contains("helm.version"), "{err}");
    assert_eq!(
        web_values(&f, json!({"version": "v3"})).await["layer"],
        "chart"
    );
    let err = error_of(&f, &web_app(json!({"bogus": 1}))).await;
    assert!(err.contains("helm.bogus"), "{err}");
    let param = json!({"name": "a", "value": "b", "bogus": 1});
    let err = error_of(&f, &web_app(json!({ "parameters": [param] }))).await;
    assert!(err.contains("helm.parameters[0].bogus"), "{err}");

    let escapes = [
        web_app(json!({"valueFiles": ["../../etc/passwd"]})),
        web_app(json!({"valueFiles": ["$values/../../etc/passwd"]})),
        git_chart_app(json!({"valueFiles": ["../../../etc/passwd"]})),
    ];
    for mut app in escapes {
        let err = error_of(&f, &app).await;
        assert!(err.contains("helm.valueFiles[0]"), "{err}");
        assert!(err.contains("outside the repository root"), "{err}");
        // Even with missing files ignored, an escape is an error.
        let helm = app.spec.sources[0].helm.as_mut().unwrap();
        helm.ignore_missing_value_files = Some(true);
        let err = error_of(&f, &app).await;
        assert!(err.contains("outside the repository root"), "{err}");
    }
}

#[tokio::test]
async fn chart_repository_versions_and_errors() {
    let f = fixture().await;
    let single = |version: &str, repo: &str| {
        let source = json!({"repoURL": repo, "chart": "web", "targetRevision": version});
        application("shop", json!([source]))
    };
    let revisions = f.resolver.revisions(&single("0.1.*", CHARTS)).await;
    let revisions = revisions.unwrap();
    assert_eq!(revisions.len(), 1);
    let chart = revisions[0].chart.as_ref().unwrap();
    assert_eq!(
        (chart.name.as_str(), chart.version.as_str()),
        ("web", "0.1.2")
    );
    assert_eq!(revisions[0].display(), "0.1.2");
    let served = f.server.repo().versions("web");
    let digest = &served.iter().find(|e| e.version == "0.1.2").unwrap().digest;
    assert_eq!(&chart.digest, digest, "the archive served for 0.1.2");
    let got = render(&f, &single("0.1.*", CHARTS)).await;
    assert_eq!(probe_data(&got)["chart"], "0.1.2");
    let got = render(&f, &single("", CHARTS)).await;
    assert_eq!(probe_data(&got)["chart"], "0.2.0", "no revision: newest");

    let err = error_of(&f, &single("9.*", CHARTS)).await;
    assert!(err.contains("web"), "{err}");
    assert!(err.contains(CHARTS), "{err}");
    assert!(err.contains("not found"), "{err}");
    let err = f.resolver.revisions(&single("9.*", CHARTS)).await;
    let err = err.unwrap_err().to_string();
    assert!(err.contains("not found") && err.contains(CHARTS), "{err}");

    let down = "https://down.example.invalid/charts";
    f.resolver.substitute(down, "http://127.0.0.1:1").unwrap();
    let err = error_of(&f, &single("0.1.*", down)).await;
    assert!(err.contains(down), "{err}");
    assert!(err.contains("127.0.0.1:1"), "{err}");
    assert!(err.contains("unreachable"), "{err}");
}

#[tokio::test]
async fn git_chart_dependencies_come_from_their_repository_url() {
    let f = fixture().await;
    // In Git, the dependency named by the substituted https URL.
    let before = listing(&f.git_dir);
    let source = json!({"repoURL": GIT, "path": "charts/umbrella", "targetRevision": "main"});
    let got = render(&f, &application("shop", json!([source]))).await;
    assert!(has(&got, "umbrella"), "{:?}", names(&got));
    let lib = find(&got, "shop-lib").expect("the dependency's template");
    assert_eq!(lib.object["data"]["from"], "lib");
    assert_eq!(listing(&f.git_dir), before, "nothing written into Git");

    // A plain directory, the dependency named by the server's own URL.
    let plain = f.tmp.path().join("plain");
    write_umbrella(&plain.join("umbrella"), &f.server.url());
    let before = listing(&plain);
    let url = "https://plain.example.invalid/deploy.git";
    f.resolver.substitute(url, plain.to_str().unwrap()).unwrap();
    let source = json!({"repoURL": url, "path": "umbrella", "targetRevision": "HEAD"});
    let got = render(&f, &application("shop", json!([source]))).await;
    assert!(has(&got, "umbrella"), "{:?}", names(&got));
    assert!(has(&got, "shop-lib"), "{:?}", names(&got));
    assert_eq!(
        listing(&plain),
        before,
        "nothing written into the directory"
    );
}

#[tokio::test]
async fn a_missing_required_value_names_template_file_and_line() {
    let f = fixture().await;
    let app = |helm: Value| chart_app("shop", "req", "1.0.0", helm);
    let err = error_of(&f, &app(json!({}))).await;
    let want = "execution error at (req/templates/req.yaml:6:10): image.tag is required";
    assert!(err.contains(want), "{err}");
    let tag = json!({"name": "image.tag", "value": "1.2.3"});
    let got = render(&f, &app(json!({ "parameters": [tag] }))).await;
    assert_eq!(find(&got, "req").unwrap().object["data"]["tag"], "1.2.3");
}
