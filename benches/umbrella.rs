//! Umbrella charts in Git whose dependencies come from a chart repository:
//! Flotilla's source resolver side by side with `helm dependency build` +
//! `helm template` (v3.17.4 from the lab assets), on one machine, in one run.
//!
//! Set-up, all generated in a temporary directory:
//!
//! - a chart repository on loopback ([`ChartServer`], which logs every
//!   request) with three charts of our own, in several versions: `common`
//!   (a library of named templates: labels and a whole ConfigMap), `web`
//!   (Deployment, Service, and from 1.2.0 an optional
//!   HorizontalPodAutoscaler; 2.0.0 calls `fail`, so selecting it breaks
//!   the render) and `cache` (ConfigMap, StatefulSet with a config checksum,
//!   headless Service; 0.5.0 adds a PodDisruptionBudget);
//! - one Git repository (`git` CLI, branch `main`, one commit) holding
//!   `apps/app-NNN/` for `FLOTILLA_BENCH_APPS` (300) applications, each an
//!   umbrella chart: `Chart.yaml` naming the three charts with `repository:`
//!   the server's URL and version ranges (`^1.0.0` or `~1.0.0`, `>=1.0.0
//!   <2.0.0` or a pinned `1.0.0`, `~0.4.0` or `~0.5.0`; `cache` behind a
//!   `condition`), per-app `values.yaml` (globals, subchart values), and
//!   one template of its own (`include "common.settings"`);
//! - one Argo CD Application per chart (`path: apps/app-NNN`,
//!   `targetRevision: HEAD`, destination namespace `app-NNN`,
//!   `helm.kubeVersion: 1.32.13`), the repository URL substituted by the
//!   local repository.
//!
//! Measured, sequentially, one application after the other, helm first
//! (its output is the reference):
//!
//! - **Flotilla**, in process, `SourceResolver::desired` per application
//!   (the Git repository opened at HEAD through the Git cache, the chart
//!   loaded from the tree, its dependencies resolved straight from the URLs
//!   in `Chart.yaml`, with no repository registered, into the
//!   content-addressed chart cache beside the Git cache):
//!   *cold* (empty cache directories), *warm* (the same resolver again),
//!   *restarted* (a new resolver on the same cache directories: what a
//!   restarted controller sees) and *pinned* (the controller's own path:
//!   `revisions` then `desired_at`, which does not ask the Git remote).
//!   Each pass's chart-server requests, the fetcher's counters (index and
//!   archive downloads, archives decompressed and loaded) and the Git
//!   cache's ref listings are reported. Peak memory is the bench process's
//!   VmHWM, reset (`/proc/self/clear_refs`) before each pass.
//! - **helm**: `helm repo add` once (helm 3 refuses an http repository in
//!   `dependency build` that is not registered; timed separately), then per
//!   application, on a fresh copy of its directory: `helm dependency build`
//!   and `helm template app-NNN DIR -n app-NNN --kube-version 1.32.13`.
//!   *cold* = the first pass (helm's cache holds only the index `repo add`
//!   downloaded), *warm* = a second pass in the same directories (now with
//!   `Chart.lock` and `charts/*.tgz`). Peak memory is the largest
//!   `ru_maxrss` of a helm child (`wait4`).
//!
//! Output: helm's output is parsed (multi-document YAML, `# Source:`
//! comments and empty documents dropped) into JSON objects and compared with
//! `Manifest::object` of every Flotilla pass, object for object, in order
//! (a difference in order alone is reported, not failed); each pass's
//! renders are dropped once compared. helm's warm output must equal its cold
//! output byte for byte. Any mismatch is printed (the first per pass, and
//! whether it is only a string's final line break) and the bench exits 1.
//!
//! Run: `cargo bench -p flotilla-benches --bench umbrella`
//! (`FLOTILLA_BENCH_APPS=N` changes the number of applications).

use flotilla_benches::{fail, run_measured, run_ok};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use flotilla_controller::source::SourceResolver;
use flotilla_core::{Application, Manifest};
use flotilla_git::GitCache;
use flotilla_lab::assets::{ensure, AssetOptions, QuietProgress};
use flotilla_lab::charts::{ChartRepo, ChartServer, ChartServerOptions};
use serde_json::{Map, Value};

type Error = Box<dyn std::error::Error>;

const KUBE_VERSION: &str = "1.32.13";
const REPO_URL: &str = "https://git.example.invalid/umbrellas.git";
const HELM_REPO_NAME: &str = "umbrella-charts";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn write(path: &Path, content: &str) {
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, content).expect("write");
}

// ---------------------------------------------------------------------------
// The charts the repository serves.

/// `common`: a library chart of named templates.
fn common_chart(dir: &Path, version: &str, team_label: bool) {
    write(
        &dir.join("Chart.yaml"),
        &format!(
            "apiVersion: v2\nname: common\ndescription: Named templates shared by the umbrella charts\ntype: library\nversion: {version}\n"
        ),
    );
    let team = if team_label {
        "\n{{- with .Values.global.team }}\nexample.com/team: {{ . }}\n{{- end }}"
    } else {
        ""
    };
    let helpers = r#"{{- define "common.fullname" -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "common.labels" -}}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: {{ .Release.Name }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}@TEAM@
{{- end -}}

{{- define "common.settings" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "common.fullname" . }}-settings
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "common.labels" . | nindent 4 }}
data:
  {{- range $k, $v := .Values.settings }}
  {{ $k }}: {{ $v | quote }}
  {{- end }}
  kubeVersion: {{ .Capabilities.KubeVersion.Version | quote }}
  chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | quote }}
{{- end -}}
"#
    .replace("@TEAM@", team);
    write(&dir.join("templates/_common.tpl"), &helpers);
}

/// `web`: a Deployment and a Service; from 1.2.0 a readiness probe and an
/// optional HorizontalPodAutoscaler; 2.0.0 must never be selected.
fn web_chart(dir: &Path, version: &str) {
    let v12 = version != "1.0.0";
    write(
        &dir.join("Chart.yaml"),
        &format!(
            "apiVersion: v2\nname: web\ndescription: A web service\ntype: application\nversion: {version}\nappVersion: \"{version}\"\n"
        ),
    );
    let mut values = String::from(
        "replicaCount: 1\nimage:\n  repository: registry.example.invalid/web\n  tag: \"\"\n  pullPolicy: IfNotPresent\ncontainerPort: 8080\nservice:\n  type: ClusterIP\n  port: 80\nenv: {}\nresources:\n  requests:\n    cpu: 50m\n    memory: 64Mi\npodAnnotations: {}\n",
    );
    if v12 {
        values.push_str(
            "autoscaling:\n  enabled: false\n  minReplicas: 1\n  maxReplicas: 5\n  targetCPU: 80\n",
        );
    }
    write(&dir.join("values.yaml"), &values);
    write(
        &dir.join("templates/_helpers.tpl"),
        r#"{{- define "web.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "web.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "web.labels" -}}
{{ include "web.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- with .Values.global.team }}
example.com/team: {{ . }}
{{- end }}
{{- end -}}
"#,
    );
    let probe = if v12 {
        "\n          readinessProbe:\n            httpGet:\n              path: /healthz\n              port: http\n            periodSeconds: 5"
    } else {
        ""
    };
    let mut deployment = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "web.fullname" . }}
  labels:
    {{- include "web.labels" . | nindent 4 }}
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels:
      {{- include "web.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      annotations:
        checksum/env: {{ toJson .Values.env | sha256sum }}
        {{- with .Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      labels:
        {{- include "web.selectorLabels" . | nindent 8 }}
    spec:
      containers:
        - name: {{ .Chart.Name }}
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          ports:
            - name: http
              containerPort: {{ .Values.containerPort }}
              protocol: TCP
          {{- with .Values.env }}
          env:
            {{- range $k, $v := . }}
            - name: {{ $k }}
              value: {{ $v | quote }}
            {{- end }}
          {{- end }}@PROBE@
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
"#
    .replace("@PROBE@", probe);
    if version.starts_with("2.") {
        deployment = "{{ fail \"web 2.x is outside every umbrella's range\" }}\n".into();
    }
    write(&dir.join("templates/deployment.yaml"), &deployment);
    write(
        &dir.join("templates/service.yaml"),
        r#"apiVersion: v1
kind: Service
metadata:
  name: {{ include "web.fullname" . }}
  labels:
    {{- include "web.labels" . | nindent 4 }}
spec:
  type: {{ .Values.service.type }}
  ports:
    - port: {{ .Values.service.port }}
      targetPort: http
      protocol: TCP
      name: http
  selector:
    {{- include "web.selectorLabels" . | nindent 4 }}
"#,
    );
    if v12 {
        write(
            &dir.join("templates/hpa.yaml"),
            r#"{{- if .Values.autoscaling.enabled }}
apiVersion: {{ if .Capabilities.APIVersions.Has "autoscaling/v2" }}autoscaling/v2{{ else }}autoscaling/v2beta2{{ end }}
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "web.fullname" . }}
  labels:
    {{- include "web.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "web.fullname" . }}
  minReplicas: {{ .Values.autoscaling.minReplicas }}
  maxReplicas: {{ .Values.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .Values.autoscaling.targetCPU }}
{{- end }}
"#,
        );
    }
}

/// `cache`: a ConfigMap, a StatefulSet whose pods carry the ConfigMap's
/// checksum, a headless Service; 0.5.0 adds a PodDisruptionBudget.
fn cache_chart(dir: &Path, version: &str) {
    write(
        &dir.join("Chart.yaml"),
        &format!(
            "apiVersion: v2\nname: cache\ndescription: An in-memory cache\ntype: application\nversion: {version}\nappVersion: \"7.2\"\n"
        ),
    );
    write(
        &dir.join("values.yaml"),
        "enabled: true\nimage: registry.example.invalid/cache:7.2\nstorage: 1Gi\nmaxmemory: 64mb\nconfig:\n  maxmemory-policy: allkeys-lru\n  appendonly: \"no\"\n",
    );
    write(
        &dir.join("templates/configmap.yaml"),
        r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-cache-config
  labels:
    app.kubernetes.io/name: cache
    app.kubernetes.io/instance: {{ .Release.Name }}
data:
  cache.conf: |
    maxmemory {{ .Values.maxmemory }}
    {{- range $k, $v := .Values.config }}
    {{ $k }} {{ $v }}
    {{- end }}
"#,
    );
    write(
        &dir.join("templates/statefulset.yaml"),
        r#"apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ .Release.Name }}-cache
  labels:
    app.kubernetes.io/name: cache
    app.kubernetes.io/instance: {{ .Release.Name }}
    app.kubernetes.io/version: {{ .Chart.Version | quote }}
spec:
  serviceName: {{ .Release.Name }}-cache
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: cache
      app.kubernetes.io/instance: {{ .Release.Name }}
  template:
    metadata:
      annotations:
        checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
      labels:
        app.kubernetes.io/name: cache
        app.kubernetes.io/instance: {{ .Release.Name }}
    spec:
      containers:
        - name: cache
          image: {{ .Values.image }}
          args: ["/etc/cache/cache.conf"]
          ports:
            - name: cache
              containerPort: 6379
          volumeMounts:
            - name: data
              mountPath: /data
            - name: config
              mountPath: /etc/cache
      volumes:
        - name: config
          configMap:
            name: {{ .Release.Name }}-cache-config
  volumeClaimTemplates:
    - metadata:
        name: data
      spec:
        accessModes: ["ReadWriteOnce"]
        resources:
          requests:
            storage: {{ .Values.storage }}
"#,
    );
    write(
        &dir.join("templates/service.yaml"),
        r#"apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}-cache
  labels:
    app.kubernetes.io/name: cache
    app.kubernetes.io/instance: {{ .Release.Name }}
spec:
  clusterIP: None
  selector:
    app.kubernetes.io/name: cache
    app.kubernetes.io/instance: {{ .Release.Name }}
  ports:
    - name: cache
      port: 6379
"#,
    );
    if version != "0.4.0" {
        write(
            &dir.join("templates/pdb.yaml"),
            r#"apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ .Release.Name }}-cache
spec:
  maxUnavailable: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: cache
      app.kubernetes.io/instance: {{ .Release.Name }}
"#,
        );
    }
}

fn write_charts(src: &Path) {
    common_chart(&src.join("common-1.0.0"), "1.0.0", false);
    common_chart(&src.join("common-1.1.0"), "1.1.0", true);
    for v in ["1.0.0", "1.2.0", "2.0.0"] {
        web_chart(&src.join(format!("web-{v}")), v);
    }
    for v in ["0.4.0", "0.5.0"] {
        cache_chart(&src.join(format!("cache-{v}")), v);
    }
}

// ---------------------------------------------------------------------------
// The Git repository of umbrella charts.

/// One umbrella chart per application under `repo/apps/`.
fn write_umbrellas(repo: &Path, apps: usize, charts_url: &str) {
    for i in 0..apps {
        let app = format!("app-{i:03}");
        let dir = repo.join("apps").join(&app);
        let common = if i % 5 == 0 { "~1.0.0" } else { "^1.0.0" };
        let web = if i % 3 == 0 {
            "1.0.0"
        } else {
            ">=1.0.0 <2.0.0"
        };
        let cache = if i % 2 == 0 { "~0.4.0" } else { "~0.5.0" };
        write(
            &dir.join("Chart.yaml"),
            &format!(
                "apiVersion: v2\nname: {app}\ndescription: Umbrella chart of {app}\ntype: application\nversion: 0.1.{i}\nappVersion: \"1.0.{i}\"\ndependencies:\n  - name: common\n    version: \"{common}\"\n    repository: \"{charts_url}\"\n  - name: web\n    version: \"{web}\"\n    repository: \"{charts_url}\"\n  - name: cache\n    version: \"{cache}\"\n    repository: \"{charts_url}\"\n    condition: cache.enabled\n"
            ),
        );
        let region = ["eu-west-1", "us-east-1", "ap-south-1"][i % 3];
        write(
            &dir.join("values.yaml"),
            &format!(
                "global:\n  team: team-{team}\nsettings:\n  APP: {app}\n  REGION: {region}\n  LOG_LEVEL: {level}\nweb:\n  replicaCount: {replicas}\n  image:\n    repository: registry.example.invalid/{app}\n    tag: \"2.{major}.{minor}\"\n  env:\n    APP_NAME: {app}\n    CACHE_HOST: {app}-cache\n  autoscaling:\n    enabled: {hpa}\ncache:\n  enabled: {cache_on}\n  storage: {gi}Gi\n",
                team = i % 7,
                level = if i % 4 == 0 { "debug" } else { "info" },
                replicas = 1 + i % 3,
                major = i / 100,
                minor = i % 100,
                hpa = i % 4 == 1,
                cache_on = i % 10 != 7,
                gi = 1 + i % 5,
            ),
        );
        write(
            &dir.join("templates/settings.yaml"),
            "{{ include \"common.settings\" . }}\n",
        );
    }
}

fn git(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .args([
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@example.invalid",
        ]);
    cmd
}

fn application(i: usize) -> Result<Application, Error> {
    let app = format!("app-{i:03}");
    Ok(serde_json::from_value(serde_json::json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": app, "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {
                "repoURL": REPO_URL,
                "path": format!("apps/{app}"),
                "targetRevision": "HEAD",
                "helm": {"kubeVersion": KUBE_VERSION},
            },
            "destination": {"server": "https://unused.invalid", "namespace": app},
        },
    }))?)
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    fs::create_dir_all(to)?;
    for e in fs::read_dir(from)? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &target)?;
        } else {
            fs::copy(e.path(), target)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Measuring.

/// A `/proc/self/status` field in KiB (`VmHWM`, `VmRSS`).
fn status_kib(field: &str) -> i64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn vm_hwm_kib() -> i64 {
    status_kib("VmHWM")
}

/// Resets VmHWM to the current RSS (Linux `clear_refs` 5); false when the
/// kernel refuses, and the peak is then the process's since it started.
fn reset_hwm() -> bool {
    fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// What the chart server answered between two points: (index.yaml, archives, other).
fn request_counts(server: &ChartServer, from: usize) -> (usize, usize, usize) {
    let reqs = server.requests();
    let mut c = (0, 0, 0);
    for r in reqs.iter().skip(from) {
        if r.path.ends_with("/index.yaml") {
            c.0 += 1;
        } else if r.path.ends_with(".tgz") {
            c.1 += 1;
        } else {
            c.2 += 1;
        }
    }
    c
}

struct Pass {
    name: String,
    total: Duration,
    peak_kib: i64,
    /// Flotilla: the process's RSS when the pass started.
    start_kib: Option<i64>,
    /// Chart server requests: index.yaml, archives, other.
    requests: (usize, usize, usize),
    /// Archives decompressed and loaded (Flotilla), `None` for helm.
    decompressed: Option<u64>,
    /// Git ref listings (Flotilla), `None` for helm.
    git_listings: Option<u64>,
    /// The helm pass it is compared with (index into the passes).
    baseline: Option<usize>,
}

/// Parses `helm template` output into objects, as Flotilla's manifests are
/// parsed (empty documents dropped).
fn parse_helm(out: &[u8]) -> Result<Vec<Map<String, Value>>, Error> {
    let text = std::str::from_utf8(out)?;
    let mut objects = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(text) {
        let v: Value = serde::Deserialize::deserialize(doc)?;
        match v {
            Value::Null => {}
            Value::Object(m) => objects.push(m),
            other => return Err(format!("a document that is not a mapping: {other}").into()),
        }
    }
    Ok(objects)
}

fn describe(m: &Map<String, Value>) -> String {
    let kind = m.get("kind").and_then(Value::as_str).unwrap_or("?");
    let name = m
        .get("metadata")
        .and_then(|md| md.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("?");
    format!("{kind}/{name}")
}

enum Verdict {
    Same,
    SameButOrder,
    /// What differs; true when the objects would be equal if no string
    /// ended in a line break (a block scalar's final newline).
    Differs(String, bool),
}

/// `v` with trailing line breaks removed from every string in it.
fn without_final_newlines(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(s.trim_end_matches('\n').to_string()),
        Value::Array(a) => Value::Array(a.iter().map(without_final_newlines).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), without_final_newlines(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn compare(want: &[Map<String, Value>], got: &[Manifest]) -> Verdict {
    let got: Vec<&Map<String, Value>> = got.iter().map(|m| &m.object).collect();
    if want.len() == got.len() && want.iter().zip(&got).all(|(a, b)| a == *b) {
        return Verdict::Same;
    }
    let key = |m: &Map<String, Value>| serde_json::to_string(m).unwrap_or_default();
    let mut a: Vec<String> = want.iter().map(key).collect();
    let mut b: Vec<String> = got.iter().map(|m| key(m)).collect();
    a.sort();
    b.sort();
    if a == b {
        return Verdict::SameButOrder;
    }
    let names = |v: &mut dyn Iterator<Item = &Map<String, Value>>| {
        v.map(describe).collect::<Vec<_>>().join(", ")
    };
    let mut msg = format!(
        "helm: {} objects [{}]; flotilla: {} [{}]",
        want.len(),
        names(&mut want.iter()),
        got.len(),
        names(&mut got.iter().copied())
    );
    for w in want {
        if let Some(g) = got
            .iter()
            .find(|g| describe(g) == describe(w) && g.get("apiVersion") == w.get("apiVersion"))
        {
            if *g != w {
                let _ = write!(
                    msg,
                    "\n    {} differs:\n      helm:     {}\n      flotilla: {}",
                    describe(w),
                    serde_json::to_string(w).unwrap_or_default(),
                    serde_json::to_string(g).unwrap_or_default()
                );
                break;
            }
        }
    }
    let only_newlines = want.len() == got.len()
        && want.iter().zip(&got).all(|(a, b)| {
            without_final_newlines(&Value::Object(a.clone()))
                == without_final_newlines(&Value::Object((*b).clone()))
        });
    Verdict::Differs(msg, only_newlines)
}

/// Comparisons of Flotilla passes with helm's objects.
#[derive(Default)]
struct Tally {
    /// Comparisons that differ (helm warm vs cold included).
    mismatches: usize,
    /// Flotilla renders holding helm's objects in another order.
    order_only: usize,
    /// Differing renders that differ only by strings' final line breaks.
    newline_only: usize,
}

impl Tally {
    /// Compares a pass's renders with helm's objects (the first few
    /// differences printed); returns the pass and how many applications
    /// differ. The renders are dropped.
    fn check(
        &mut self,
        (pass, outputs): (Pass, Vec<Vec<Manifest>>),
        expected: &[Vec<Map<String, Value>>],
    ) -> (Pass, usize) {
        let mut differing = 0;
        for (i, (want, got)) in expected.iter().zip(&outputs).enumerate() {
            match compare(want, got) {
                Verdict::Same => {}
                Verdict::SameButOrder => self.order_only += 1,
                Verdict::Differs(msg, only_newlines) => {
                    self.mismatches += 1;
                    self.newline_only += usize::from(only_newlines);
                    differing += 1;
                    if differing == 1 {
                        println!("!!! OUTPUT MISMATCH app-{i:03}, {}: {msg}", pass.name);
                    }
                }
            }
        }
        (pass, differing)
    }
}

/// One Flotilla pass over every application, sequentially.
#[allow(clippy::too_many_arguments)]
fn flotilla_pass(
    name: &str,
    rt: &tokio::runtime::Runtime,
    resolver: &SourceResolver,
    apps: &[Application],
    server: &ChartServer,
    pinned: bool,
    baseline: usize,
) -> Result<(Pass, Vec<Vec<Manifest>>), Error> {
    let fetcher = resolver
        .chart_fetcher()
        .ok_or("the resolver has no chart cache")?;
    let before = fetcher.stats();
    let git_before = resolver.cache().stats();
    let from = server.requests().len();
    let hwm_reset = reset_hwm();
    let hwm_before = if hwm_reset { 0 } else { vm_hwm_kib() };
    let rss_before = status_kib("VmRSS");
    let mut outputs = Vec::with_capacity(apps.len());
    let start = Instant::now();
    for app in apps {
        let got = rt.block_on(async {
            if pinned {
                let revisions = resolver.revisions(app).await?;
                resolver.desired_at(app, &revisions).await
            } else {
                resolver.desired(app).await
            }
        });
        match got {
            Ok(m) => outputs.push(m),
            Err(e) => return Err(format!("{name}: {e}").into()),
        }
    }
    let total = start.elapsed();
    let after = fetcher.stats();
    let git_after = resolver.cache().stats();
    Ok((
        Pass {
            name: name.to_string(),
            total,
            peak_kib: vm_hwm_kib().max(hwm_before),
            start_kib: Some(rss_before),
            requests: request_counts(server, from),
            decompressed: Some(after.charts_loaded - before.charts_loaded),
            git_listings: Some(git_after.remote_listings - git_before.remote_listings),
            baseline: Some(baseline),
        },
        outputs,
    ))
}

struct HelmPass {
    pass: Pass,
    outputs: Vec<Vec<u8>>,
    dep_build: Duration,
    template: Duration,
    first_dep_build_stdout: String,
}

/// One helm pass: `helm dependency build` + `helm template` per application
/// directory under `work`.
fn helm_pass(
    name: &str,
    helm_cmd: &dyn Fn() -> Command,
    work: &Path,
    apps: usize,
    server: &ChartServer,
) -> HelmPass {
    let from = server.requests().len();
    let mut outputs = Vec::with_capacity(apps);
    let (mut dep_build, mut template) = (Duration::ZERO, Duration::ZERO);
    let mut peak = 0;
    let mut first = String::new();
    for i in 0..apps {
        let app = format!("app-{i:03}");
        let dir = work.join(&app);
        let build = || {
            let mut c = helm_cmd();
            c.arg("dependency").arg("build").arg(&dir);
            c
        };
        let (out, ok, t, rss) = run_measured(&mut build());
        if !ok {
            fail(&mut build());
        }
        if i == 0 {
            first = String::from_utf8_lossy(&out).into_owned();
        }
        dep_build += t;
        peak = peak.max(rss);
        let tpl = || {
            let mut c = helm_cmd();
            c.arg("template").arg(&app).arg(&dir).args([
                "-n",
                &app,
                "--kube-version",
                KUBE_VERSION,
            ]);
            c
        };
        let (out, ok, t, rss) = run_measured(&mut tpl());
        if !ok {
            fail(&mut tpl());
        }
        template += t;
        peak = peak.max(rss);
        outputs.push(out);
    }
    HelmPass {
        pass: Pass {
            name: name.to_string(),
            total: dep_build + template,
            peak_kib: peak,
            start_kib: None,
            requests: request_counts(server, from),
            decompressed: None,
            git_listings: None,
            baseline: None,
        },
        outputs,
        dep_build,
        template,
        first_dep_build_stdout: first,
    }
}

fn main() -> Result<(), Error> {
    let apps = env_usize("FLOTILLA_BENCH_APPS", 300).max(1);
    let helm = ensure(&AssetOptions::from_env(), &["helm"], &QuietProgress)?
        .path("helm")?
        .to_path_buf();
    let tmp = tempfile::tempdir()?;
    let tmp = tmp.path();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;

    // The chart repository.
    let src = tmp.join("charts-src");
    write_charts(&src);
    let repo = ChartRepo::build(std::slice::from_ref(&src), &tmp.join("charts-work"))?;
    let server = rt.block_on(ChartServer::start(ChartServerOptions::new(repo)))?;
    let charts_url = server.url();
    let versions: Vec<String> = server
        .repo()
        .charts
        .iter()
        .map(|c| format!("{} {}", c.name, c.version))
        .collect();

    // The Git repository.
    let git_repo = tmp.join("umbrellas");
    write_umbrellas(&git_repo, apps, &charts_url);
    run_ok(git(&git_repo).args(["init", "-q", "-b", "main"]));
    run_ok(git(&git_repo).args(["add", "-A"]));
    run_ok(git(&git_repo).args(["commit", "-q", "-m", "umbrella charts"]));
    let applications: Vec<Application> = (0..apps).map(application).collect::<Result<_, _>>()?;
    println!(
        "umbrella: {apps} Applications, each an umbrella chart in Git (apps/app-NNN) with 3 dependencies from {charts_url} ({})",
        versions.join(", ")
    );
    println!("helm: {}", helm.display());

    // helm first: its output is what every Flotilla pass is compared with.
    let home = tmp.join("helm-home");
    let helm_cmd = || {
        let mut c = Command::new(&helm);
        c.env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"));
        c
    };
    let from = server.requests().len();
    let add = || {
        let mut c = helm_cmd();
        c.args(["repo", "add", HELM_REPO_NAME, &charts_url]);
        c
    };
    let (_, ok, repo_add_t, _) = run_measured(&mut add());
    if !ok {
        fail(&mut add());
    }
    let repo_add_requests = request_counts(&server, from);
    let work = tmp.join("helm-work");
    for i in 0..apps {
        let app = format!("app-{i:03}");
        copy_dir(&git_repo.join("apps").join(&app), &work.join(&app))?;
    }
    let helm_cold = helm_pass(
        "helm cold (dep build + template)",
        &helm_cmd,
        &work,
        apps,
        &server,
    );
    let helm_warm = helm_pass(
        "helm warm (same directories)",
        &helm_cmd,
        &work,
        apps,
        &server,
    );
    let mut tally = Tally::default();
    let mut expected = Vec::with_capacity(apps);
    let mut objects = 0;
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut helm_differing = 0;
    for i in 0..apps {
        let app = format!("app-{i:03}");
        let want = parse_helm(&helm_cold.outputs[i])
            .map_err(|e| format!("{app}: parsing helm's output: {e}"))?;
        objects += want.len();
        for m in &want {
            let kind = m.get("kind").and_then(Value::as_str).unwrap_or("?");
            *kinds.entry(kind.to_string()).or_default() += 1;
        }
        if helm_warm.outputs[i] != helm_cold.outputs[i] {
            helm_differing += 1;
            tally.mismatches += 1;
            println!("!!! {app}: helm's warm output differs from its cold output");
        }
        expected.push(want);
    }

    // Flotilla; each pass is compared with helm's objects, then dropped.
    let new_resolver = |dir: &Path| -> Result<SourceResolver, Error> {
        let resolver = SourceResolver::new(GitCache::new(dir.join("cache/git"))?);
        resolver
            .substitute(REPO_URL, &git_repo.display().to_string())
            .map_err(|e| e.to_string())?;
        Ok(resolver)
    };
    let flot_dir = tmp.join("flotilla");
    let resolver = new_resolver(&flot_dir)?;
    // Helm's passes are 0 (cold) and 1 (warm) in the table.
    let cold = flotilla_pass(
        "flotilla cold (desired)",
        &rt,
        &resolver,
        &applications,
        &server,
        false,
        0,
    )?;
    let cold = tally.check(cold, &expected);
    let warm = flotilla_pass(
        "flotilla warm (same resolver)",
        &rt,
        &resolver,
        &applications,
        &server,
        false,
        1,
    )?;
    let warm = tally.check(warm, &expected);
    drop(resolver);
    let restarted_resolver = new_resolver(&flot_dir)?;
    let restarted = flotilla_pass(
        "flotilla warm, restarted",
        &rt,
        &restarted_resolver,
        &applications,
        &server,
        false,
        1,
    )?;
    let restarted = tally.check(restarted, &expected);
    let pinned = flotilla_pass(
        "flotilla warm, pinned",
        &rt,
        &restarted_resolver,
        &applications,
        &server,
        true,
        1,
    )?;
    let pinned = tally.check(pinned, &expected);
    drop(restarted_resolver);
    let differing = [0, helm_differing, cold.1, warm.1, restarted.1, pinned.1];
    let (cold, warm, restarted, pinned) = (cold.0, warm.0, restarted.0, pinned.0);
    let Tally {
        mismatches,
        order_only,
        newline_only,
    } = tally;

    // The table.
    let passes = [
        &helm_cold.pass,
        &helm_warm.pass,
        &cold,
        &warm,
        &restarted,
        &pinned,
    ];
    let ms = |d: Duration| format!("{:.1}ms", d.as_secs_f64() * 1e3);
    let mut table = String::new();
    let _ = writeln!(
        table,
        "\n{:<34} {:>11} {:>10} {:>9} {:>10} {:>10} {:>23} {:>12} {:>12} {:>10}",
        "",
        "total",
        "per app",
        "vs helm",
        "peak RSS",
        "pass adds",
        "chart requests",
        "decompressed",
        "git listings",
        "identical"
    );
    for (row, p) in passes.iter().enumerate() {
        let vs = match p.baseline {
            Some(b) => format!(
                "{:.1}x",
                passes[b].total.as_secs_f64() / p.total.as_secs_f64()
            ),
            None => "1.0x".into(),
        };
        let (idx, tgz, other) = p.requests;
        let reqs = format!(
            "{} ({idx} idx, {tgz} tgz{})",
            idx + tgz + other,
            if other > 0 {
                format!(", {other} other")
            } else {
                String::new()
            }
        );
        let opt = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
        let _ = writeln!(
            table,
            "{:<34} {:>11} {:>10} {:>9} {:>7.1}MiB {:>10} {:>23} {:>12} {:>12} {:>10}",
            p.name,
            ms(p.total),
            format!("{:.2}ms", p.total.as_secs_f64() * 1e3 / apps as f64),
            vs,
            p.peak_kib as f64 / 1024.0,
            p.start_kib.map_or("-".to_string(), |k| format!(
                "+{:.1}MiB",
                (p.peak_kib - k).max(0) as f64 / 1024.0
            )),
            reqs,
            opt(p.decompressed),
            opt(p.git_listings),
            match (row, differing[row]) {
                (0, _) => "reference".to_string(),
                (_, 0) => "yes".to_string(),
                (_, n) => format!("NO ({n})"),
            },
        );
    }
    print!("{table}");
    println!(
        "(identical: helm warm vs helm cold byte for byte; Flotilla vs helm cold, objects; NO (n) = n of {apps} applications differ)"
    );
    println!(
        "(wall time, {apps} applications one after the other; helm = the sum of its two processes per application, split below; \"vs helm\" = helm's time for the same pass (cold, or warm for every warm row) / this row's)"
    );
    println!(
        "(helm peak RSS: largest ru_maxrss of one helm child; flotilla: VmHWM of this whole bench process (tokio runtime, chart server, helm's parsed objects, this pass's renders) {}; pass adds = that peak minus the RSS when the pass started)",
        if reset_hwm() {
            "reset before each pass"
        } else {
            "since the process started (clear_refs refused)"
        }
    );
    println!(
        "(Flotilla's times include the Git side, which helm's do not: each desired() resolves HEAD with the repository (one ref listing, the git listings column) and reads the chart from the cached commit)"
    );
    println!(
        "(pinned = the controller's path: revisions() (no Git remote contacted) then desired_at(); restarted = a new SourceResolver on the same cache directories)"
    );
    println!(
        "helm repo add (once, before helm's cold pass, not in the table): {} ({} request(s) to the chart server)",
        ms(repo_add_t),
        repo_add_requests.0 + repo_add_requests.1 + repo_add_requests.2
    );
    for h in [&helm_cold, &helm_warm] {
        println!(
            "{}: helm dependency build {} ({:.2}ms/app), helm template {} ({:.2}ms/app)",
            h.pass.name,
            ms(h.dep_build),
            h.dep_build.as_secs_f64() * 1e3 / apps as f64,
            ms(h.template),
            h.template.as_secs_f64() * 1e3 / apps as f64
        );
    }
    for (what, h) in [("first", &helm_cold), ("second", &helm_warm)] {
        println!("`helm dependency build` of app-000, {what} run, said:");
        for l in h.first_dep_build_stdout.lines() {
            println!("    {l}");
        }
    }
    println!(
        "output: {objects} objects over {apps} applications ({})",
        kinds
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if order_only > 0 {
        println!(
            "({order_only} Flotilla render(s) hold the same objects as helm's in another order)"
        );
    }
    if newline_only > 0 {
        println!(
            "({newline_only} of the differing Flotilla renders differ only by the final line break of string values: a `|` block scalar that ends a document keeps its newline in helm's output and loses it in Manifest::object)"
        );
    }
    if mismatches > 0 {
        println!(
            "identical output: NO ({mismatches} comparison(s) differ; helm's objects vs Manifest::object of 4 Flotilla passes, and helm warm vs cold)"
        );
        std::process::exit(1);
    }
    println!(
        "identical output: yes (helm's objects = Manifest::object, in order{}, for {apps} applications x 4 Flotilla passes; helm warm = cold byte for byte)",
        if order_only > 0 { " or reordered" } else { "" }
    );
    Ok(())
}
