//! Differential tests on charts written by the test itself: each feature
//! of Helm's engine and output (subcharts, globals, aliases, conditions,
//! tags, schema, hooks, `tpl`, `.Files`, `include` across charts, errors)
//! against `helm` v3.17.4, byte for byte (error text included).

mod oracle;

use std::path::Path;

use oracle::{compare, write_tree, Flags};

fn check(cases: &[(&str, &Path, Flags)]) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(label, chart, f)| compare(label, chart, f).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

const KUBE: &str = "1.31.4";

fn flags() -> Flags {
    Flags::kube(KUBE)
}

/// Many kinds, several documents per file, empty and comment-only
/// documents, hooks with weights and delete policies, tests, NOTES.txt,
/// CRDs, an unknown hook.
fn ordering_chart(root: &Path) {
    write_tree(
        root,
        &[
            ("Chart.yaml", "apiVersion: v2\nname: order\nversion: 1.2.3\nappVersion: \"4.5\"\n"),
            ("values.yaml", "replicas: 2\nname: web\n"),
            (
                "templates/all.yaml",
                r#"# leading comment
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Values.name }}
spec:
  replicas: {{ .Values.replicas }}
---


---
apiVersion: v1
kind: Service
metadata:
  name: {{ .Values.name }}
---
# only a comment
---
apiVersion: example.com/v1
kind: Zebra
metadata:
  name: z
---
apiVersion: example.com/v1
kind: Aardvark
metadata:
  name: a
  annotations:
    note: "plain"
---
apiVersion: v1
kind: Namespace
metadata:
  name: ns   
"#,
            ),
            (
                "templates/b-config.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  a: \"1\"\n\n\n",
            ),
            ("templates/empty.yaml", "{{- if false }}\nnothing: here\n{{- end }}\n   \n"),
            (
                "templates/hooks.yaml",
                r#"apiVersion: batch/v1
kind: Job
metadata:
  name: late
  annotations:
    "helm.sh/hook": post-install,post-upgrade
    "helm.sh/hook-weight": "10"
    "helm.sh/hook-delete-policy": before-hook-creation
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: early
  annotations:
    "helm.sh/hook": pre-install
    "helm.sh/hook-weight": "-5"
---
apiVersion: v1
kind: Pod
metadata:
  name: test-connection
  annotations:
    "helm.sh/hook": test
---
apiVersion: v1
kind: Secret
metadata:
  name: weird
  annotations:
    "helm.sh/hook": not-a-hook
"#,
            ),
            ("templates/NOTES.txt", "Thanks for installing {{ .Chart.Name }}.\n"),
            ("templates/_helpers.tpl", "{{- define \"order.x\" -}}x{{- end -}}\nnot rendered: {{ fail \"partials are not rendered\" }}\n"),
            (
                "crds/thing.yaml",
                "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: things.example.com\n# trailing comment\n\n",
            ),
            ("crds/notes.txt", "not a manifest\n"),
        ],
    );
}

#[test]
fn ordering_hooks_and_output_flags_match_helm() {
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("order");
    ordering_chart(&chart);
    let mut crds = flags();
    crds.include_crds = true;
    let mut skip_crds = crds.clone();
    skip_crds.skip_crds = true;
    let mut no_hooks = flags();
    no_hooks.no_hooks = true;
    let mut skip_tests = flags();
    skip_tests.skip_tests = true;
    let mut show = flags();
    show.show_only = vec!["templates/hooks.yaml".into(), "templates/b-*".into()];
    let mut show_missing = flags();
    show_missing.show_only = vec!["templates/missing.yaml".into()];
    show_missing.expect_error = true;
    let mut named = flags();
    named.name = Some("my-rel".into());
    named.namespace = Some("team-a".into());
    check(&[
        ("defaults", &chart, flags()),
        ("--include-crds", &chart, crds),
        ("--include-crds --skip-crds", &chart, skip_crds),
        ("--no-hooks", &chart, no_hooks),
        ("--skip-tests", &chart, skip_tests),
        ("--show-only", &chart, show),
        ("--show-only missing", &chart, show_missing),
        ("name and namespace", &chart, named),
    ]);
}

/// Built-in objects: .Release, .Chart, .Capabilities, .Template, .Files.
#[test]
fn builtin_objects_match_helm() {
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("objs");
    write_tree(
        &chart,
        &[
            (
                "Chart.yaml",
                "apiVersion: v2\nname: objs\nversion: 0.3.0\nappVersion: 1.16.0\ndescription: objects\nkeywords: [a, b]\nhome: https://example.invalid\nannotations:\n  team: core\nmaintainers:\n  - name: ann\n    email: ann@example.invalid\n",
            ),
            ("values.yaml", "nested: {}\ngreeting: hello\ntpl: \"{{ .Values.greeting }} from {{ .Chart.Name }}\"\nlist: [1, 2.5, x]\n"),
            ("files/a.txt", "alpha\nbeta\n"),
            ("files/b.conf", "key=value"),
            ("files/sub/c.txt", "gamma"),
            ("other/d.bin", "delta\n"),
            (
                "templates/objs.yaml",
                r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-{{ .Chart.Name }}
  namespace: {{ .Release.Namespace }}
  labels:
    chart: "{{ .Chart.Name }}-{{ .Chart.Version | replace "+" "_" }}"
    app-version: {{ .Chart.AppVersion | quote }}
data:
  release: {{ printf "%s %s %v %v %v" .Release.Name .Release.Service .Release.IsInstall .Release.IsUpgrade .Release.Revision | quote }}
  chart: {{ printf "%s|%s|%s|%s|%v|%s" .Chart.Description .Chart.Home .Chart.APIVersion .Chart.Type .Chart.IsRoot (join "," .Chart.Keywords) | quote }}
  annotations: {{ .Chart.Annotations.team | quote }}
  maintainer: {{ (index .Chart.Maintainers 0).Name | quote }}
  kube: {{ printf "%s %s %s %s" .Capabilities.KubeVersion.Version .Capabilities.KubeVersion.Major .Capabilities.KubeVersion.Minor .Capabilities.KubeVersion.GitVersion | quote }}
  kube-string: {{ .Capabilities.KubeVersion.String | quote }}
  semver: {{ semverCompare ">=1.30-0" .Capabilities.KubeVersion.GitVersion | quote }}
  has-apps: {{ .Capabilities.APIVersions.Has "apps/v1" | quote }}
  has-extra: {{ .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" | quote }}
  has-extra-kind: {{ .Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor" | quote }}
  helm: {{ .Capabilities.HelmVersion.Version | quote }}
  template: {{ printf "%s %s" .Template.Name .Template.BasePath | quote }}
  tpl: {{ tpl .Values.tpl . | quote }}
  tpl-define: {{ tpl "{{ define \"inner\" }}in-{{ . }}{{ end }}{{ include \"inner\" .Values.greeting }}" . | quote }}
  missing: "{{ .Values.nothing }}|{{ .Values.nested.deeper | default "dflt" }}"
  list: {{ .Values.list | toJson | quote }}
  lookup: {{ lookup "v1" "Secret" "default" "x" | toJson | quote }}
  get: {{ .Files.Get "files/a.txt" | quote }}
  get-missing: {{ .Files.Get "files/none" | quote }}
  bytes: {{ .Files.GetBytes "files/b.conf" | toString | quote }}
  lines: {{ .Files.Lines "files/a.txt" | toJson | quote }}
  glob-all: "{{ range $p, $_ := .Files.Glob "files/**" }}{{ $p }},{{ end }}"
  glob-star: "{{ range $p, $_ := .Files.Glob "files/*" }}{{ $p }},{{ end }}"
  glob-alt: "{{ range $p, $_ := .Files.Glob "{files,other}/*.{txt,bin}" }}{{ $p }},{{ end }}"
  glob-len: {{ len (.Files.Glob "**.txt") | quote }}
  {{- range $path, $_ := .Files.Glob "files/*.txt" }}
  file-{{ base $path }}: {{ $.Files.Get $path | quote }}
  {{- end }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: as-config
data:
{{ (.Files.Glob "files/*").AsConfig | indent 2 }}
---
apiVersion: v1
kind: Secret
metadata:
  name: as-secrets
data:
{{ (.Files.Glob "files/**").AsSecrets | indent 2 }}
"#,
            ),
        ],
    );
    let mut named = Flags::kube("1.29.0");
    named.name = Some("rel".into());
    named.namespace = Some("ns1".into());
    named.api_versions = vec!["monitoring.coreos.com/v1".into()];
    let mut upgrade = flags();
    upgrade.is_upgrade = true;
    check(&[
        ("builtins", &chart, flags()),
        ("builtins named, api versions", &chart, named),
        ("builtins --is-upgrade", &chart, upgrade),
    ]);
}

/// Subcharts: globals, aliases, conditions, tags, import-values, values
/// scoping, `include` across charts, `.Subcharts`, CRDs in subcharts.
#[test]
fn subcharts_match_helm() {
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("parent");
    write_tree(
        &chart,
        &[
            (
                "Chart.yaml",
                r#"apiVersion: v2
name: parent
version: 1.0.0
dependencies:
  - name: child
    version: 0.1.0
  - name: child
    alias: second
    version: 0.1.0
  - name: optional
    version: 0.1.0
    condition: optional.enabled
  - name: tagged
    version: 0.1.0
    tags: [extras]
    import-values:
      - child: exported
        parent: fromTagged
"#,
            ),
            (
                "values.yaml",
                "global:\n  region: eu-west-1\n  env: prod\nchild:\n  replicas: 3\nsecond:\n  replicas: 5\n  suffix: two\noptional:\n  enabled: false\ntags:\n  extras: true\nfromTagged: {}\n",
            ),
            (
                "templates/parent.yaml",
                r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: parent
data:
  region: {{ .Values.global.region }}
  from-child-define: {{ include "child.label" . | quote }}
  child-replicas: {{ .Values.child.replicas | quote }}
  imported: {{ .Values.fromTagged | toJson | quote }}
  subcharts: {{ keys .Subcharts | sortAlpha | join "," | quote }}
  second-values: {{ .Subcharts.second.Values.suffix | quote }}
  second-chart: {{ .Subcharts.second.Chart.Name | quote }}
"#,
            ),
            ("templates/_parent.tpl", "{{- define \"parent.name\" -}}parent-defined{{- end -}}\n"),
            ("charts/child/Chart.yaml", "apiVersion: v2\nname: child\nversion: 0.1.0\n"),
            ("charts/child/values.yaml", "replicas: 1\nsuffix: one\nglobal:\n  childDefault: yes-please\n"),
            (
                "charts/child/templates/_helpers.tpl",
                "{{- define \"child.label\" -}}{{ .Chart.Name }}-{{ .Values.global.region }}{{- end -}}\n",
            ),
            (
                "charts/child/templates/deploy.yaml",
                r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Chart.Name }}-{{ .Values.suffix }}
  labels:
    root: {{ .Chart.IsRoot | quote }}
    parent-define: {{ include "parent.name" . }}
spec:
  replicas: {{ .Values.replicas }}
  template:
    metadata:
      annotations:
        region: {{ .Values.global.region }}
        env: {{ .Values.global.env }}
        child-default: {{ .Values.global.childDefault | quote }}
        template: {{ .Template.Name }}
        base: {{ .Template.BasePath }}
"#,
            ),
            ("charts/child/crds/child-crd.yaml", "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: childs.example.com\n"),
            ("charts/optional/Chart.yaml", "apiVersion: v2\nname: optional\nversion: 0.1.0\n"),
            ("charts/optional/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: optional\n"),
            ("charts/tagged/Chart.yaml", "apiVersion: v2\nname: tagged\nversion: 0.1.0\n"),
            ("charts/tagged/values.yaml", "exported:\n  answer: 42\n"),
            ("charts/tagged/templates/svc.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: tagged-{{ .Values.global.env }}\n"),
        ],
    );
    let mut optional_on = flags();
    optional_on.set = vec!["optional.enabled=true,tags.extras=false".into()];
    let mut crds = flags();
    crds.include_crds = true;
    let mut values_file = flags();
    let vf = dir.path().join("override.yaml");
    std::fs::write(
        &vf,
        "global:\n  region: us-east-1\nsecond:\n  replicas: null\nchild:\n  suffix: over\n",
    )
    .unwrap();
    values_file.values = vec![vf];
    let mut show = flags();
    show.show_only = vec!["charts/child/templates/deploy.yaml".into()];
    check(&[
        ("subcharts", &chart, flags()),
        ("subcharts with conditions flipped", &chart, optional_on),
        ("subcharts --include-crds", &chart, crds),
        ("subcharts -f override", &chart, values_file),
        ("subcharts --show-only a subchart template", &chart, show),
    ]);
}

/// A chart's `values.schema.json`.
#[test]
fn schema_matches_helm() {
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("schema");
    write_tree(
        &chart,
        &[
            ("Chart.yaml", "apiVersion: v2\nname: schema\nversion: 0.1.0\n"),
            ("values.yaml", "port: 80\nname: web\n"),
            (
                "values.schema.json",
                r#"{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "required": ["port", "name"], "properties": {"port": {"type": "integer", "minimum": 1}, "name": {"type": "string"}}}"#,
            ),
            ("templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.name }}\ndata:\n  port: {{ .Values.port | quote }}\n"),
        ],
    );
    let mut bad = flags();
    bad.set = vec!["port=0".into()];
    let mut skip = bad.clone();
    skip.skip_schema_validation = true;
    bad.expect_error = true;
    check(&[
        ("schema ok", &chart, flags()),
        ("schema violated", &chart, bad),
        ("schema skipped", &chart, skip),
    ]);
}

fn error_chart(root: &Path, template: &str) {
    write_tree(
        root,
        &[
            ("Chart.yaml", "apiVersion: v2\nname: errs\nversion: 0.1.0\n"),
            ("values.yaml", "present: yes\nnested: {}\n"),
            ("templates/_helpers.tpl", "{{- define \"errs.need\" -}}\n{{ required \"a value for .Values.db.host is required\" .Values.db }}\n{{- end -}}\n{{- define \"errs.loop\" -}}{{ include \"errs.loop\" . }}{{- end -}}\n"),
            ("templates/ok.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n"),
            ("templates/bad.yaml", template),
        ],
    );
}

/// Errors: their text is compared too.
#[test]
fn errors_match_helm() {
    let cases = [
        ("required", "kind: ConfigMap\nmetadata:\n  name: {{ required \"name is required\" .Values.name }}\n"),
        ("required through include", "kind: ConfigMap\ndata:\n  x: {{ include \"errs.need\" . }}\n"),
        ("fail", "{{- if .Values.present }}\n{{- fail \"present must be false\" }}\n{{- end }}\n"),
        ("parse error", "kind: ConfigMap\nmetadata:\n  name: {{ .Values.present \n"),
        ("unknown function", "kind: ConfigMap\nmetadata:\n  name: {{ nosuchfunc .Values.present }}\n"),
        ("nil pointer", "kind: ConfigMap\nmetadata:\n  name: {{ .Values.nothing.deeper.still }}\n"),
        ("wrong type", "kind: ConfigMap\nmetadata:\n  name: {{ trunc .Values.present 3 }}\n"),
        ("files is not a plain map", "kind: ConfigMap\nmetadata:\n  name: {{ keys .Files | join \",\" }}\n"),
        ("missing include", "kind: ConfigMap\nmetadata:\n  name: {{ include \"nope\" . }}\n"),
        ("bad yaml", "kind: ConfigMap\nmetadata:\n  name: [unclosed\n"),
        ("not a map", "just a string\n"),
        ("tpl error", "kind: ConfigMap\nmetadata:\n  name: {{ tpl \"{{ .Values.present | nosuch }}\" . }}\n"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (i, (label, text)) in cases.iter().enumerate() {
        let chart = dir.path().join(format!("errs{i}"));
        error_chart(&chart, text);
        if *label == "bad yaml" {
            // The YAML syntax message after Helm's prefix is go-yaml's
            // wording, which our parser does not copy: compare the prefix.
            let want = oracle::oracle(&chart, &flags()).expect_err("helm fails");
            let got = oracle::ours(&chart, &flags()).expect_err("we fail");
            let prefix = "YAML parse error on errs/templates/bad.yaml: error converting YAML to JSON: yaml: ";
            if !want.starts_with(prefix) || !got.starts_with(prefix) {
                failures.push(format!("bad yaml: helm: {want}\nours: {got}"));
            }
            continue;
        }
        let mut f = flags();
        f.expect_error = true;
        if let Err(e) = compare(label, &chart, &f) {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} error cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

/// Unbounded `include` recursion stops with Helm's error, not a crash.
#[test]
fn include_recursion_is_bounded_as_helm_bounds_it() {
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("loop");
    error_chart(
        &chart,
        "kind: ConfigMap\ndata:\n  x: {{ include \"errs.loop\" . }}\n",
    );
    let want = oracle::oracle(&chart, &flags()).expect_err("helm fails");
    let got = oracle::ours(&chart, &flags()).expect_err("we fail");
    let tail =
        "rendering template has a nested reference name: errs.loop: unable to execute template";
    assert!(
        want.ends_with(tail),
        "helm: ...{}",
        &want[want.len().saturating_sub(200)..]
    );
    assert!(
        got.ends_with(tail),
        "ours: ...{}",
        &got[got.len().saturating_sub(200)..]
    );
    // The chain of locations is Helm's too (1000 levels of it).
    assert_eq!(&got[..600.min(got.len())], &want[..600.min(want.len())]);
    assert_eq!(
        got.matches("error calling include").count(),
        want.matches("error calling include").count()
    );
}

/// `kubeVersion` in Chart.yaml is checked against `--kube-version`.
#[test]
fn kube_version_constraint_matches_helm() {
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("kv");
    write_tree(
        &chart,
        &[
            (
                "Chart.yaml",
                "apiVersion: v2\nname: kv\nversion: 0.1.0\nkubeVersion: \">=1.30.0-0\"\n",
            ),
            (
                "templates/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kv\n",
            ),
        ],
    );
    check(&[
        ("compatible", &chart, Flags::kube("1.31.0")),
        ("incompatible", &chart, {
            let mut f = Flags::kube("1.29.3");
            f.expect_error = true;
            f
        }),
    ]);
}
