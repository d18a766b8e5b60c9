//! Every generator kind, both template modes, parameter names as Argo CD
//! names them, and the errors, on trees made on disk (LocalTree) or with git.

mod common;

use std::collections::BTreeMap;

use common::{appset, git_repo, write_files};
use flotilla_appset::{
    generate, generate_with, AppsetError, GenerateOptions, GeneratorInputs, RESOURCES_FINALIZER,
};
use flotilla_core::{Application, Cluster};
use flotilla_git::{GitTree, GlobMode, LocalTree};
use serde_json::{json, Value};

const REPO: &str = "https://example.com/org/deploy.git";

fn tree(files: &[(&str, &str)]) -> (tempfile::TempDir, LocalTree) {
    let tmp = tempfile::TempDir::new().unwrap();
    write_files(tmp.path(), files);
    let tree = LocalTree::new(tmp.path()).unwrap();
    (tmp, tree)
}

fn names(apps: &[Application]) -> Vec<String> {
    apps.iter().map(|a| a.name().to_string()).collect()
}

fn annotations(app: &Application) -> BTreeMap<String, String> {
    app.metadata.annotations.clone()
}

/// An ApplicationSet whose template copies parameters into annotations.
fn with_template(go: bool, generators: &str, name: &str, annotations: &[(&str, &str)]) -> String {
    let mut ann = String::new();
    for (k, v) in annotations {
        ann.push_str(&format!("        {k}: '{v}'\n"));
    }
    format!(
        r#"apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: test
  namespace: argocd
spec:
  goTemplate: {go}
  generators:
{generators}
  template:
    metadata:
      name: '{name}'
      annotations:
{ann}
    spec:
      project: default
      source:
        repoURL: https://example.com/org/deploy.git
        path: manifests
      destination:
        server: https://kubernetes.default.svc
        namespace: default
"#
    )
}

#[test]
fn git_files_parameters_go_template() {
    let (_tmp, tree) = tree(&[
        (
            "apps/Web_App/config.json",
            r#"{"cluster": {"name": "c1", "replicas": 3}, "values": {"kept": "no"}}"#,
        ),
        (
            "apps/api/config.yaml",
            "- cluster: {name: c2}\n- cluster: {name: c3}\n",
        ),
        ("apps/api/ignored.txt", "x"),
    ]);
    let generators = format!(
        r#"    - git:
        repoURL: {REPO}
        files:
          - path: "apps/**/config.*"
        values:
          v: "{{{{ .path.basename }}}}"
"#
    );
    let yaml = with_template(
        true,
        &generators,
        "{{ .cluster.name }}",
        &[
            ("path", "{{ .path.path }}"),
            ("basename", "{{ .path.basename }}"),
            ("basenameNormalized", "{{ .path.basenameNormalized }}"),
            ("filename", "{{ .path.filename }}"),
            ("filenameNormalized", "{{ .path.filenameNormalized }}"),
            ("segments", "{{ .path.segments | toJson }}"),
            ("seg1", "{{ index .path.segments 1 }}"),
            ("values", "{{ .values | toJson }}"),
            ("replicas", "{{ .cluster.replicas }}"),
        ],
    );
    let inputs = GeneratorInputs::new().with_repository(REPO, "HEAD", &tree);
    let apps = generate(&appset(&yaml), &inputs).unwrap();
    // Sorted by path, bytewise as Go sorts: "Web_App" before "api".
    assert_eq!(names(&apps), ["c1", "c2", "c3"]);
    let a = annotations(&apps[0]);
    assert_eq!(a["path"], "apps/Web_App");
    assert_eq!(a["basename"], "Web_App");
    assert_eq!(a["basenameNormalized"], "web-app");
    assert_eq!(a["filename"], "config.json");
    assert_eq!(a["filenameNormalized"], "config.json");
    assert_eq!(a["segments"], r#"["apps","Web_App"]"#);
    assert_eq!(a["seg1"], "Web_App");
    // The generator's values replace a `values` key of the file.
    assert_eq!(a["values"], r#"{"v":"Web_App"}"#);
    assert_eq!(a["replicas"], "3");
    assert_eq!(annotations(&apps[1])["filename"], "config.yaml");
}

#[test]
fn git_files_parameters_fasttemplate() {
    let (_tmp, tree) = tree(&[(
        "clusters/prod/eu/config.json",
        r#"{"cluster": {"name": "eu", "tags": ["a", "b"], "size": 1000000}, "ok": true}"#,
    )]);
    let generators = format!(
        r#"    - git:
        repoURL: {REPO}
        files:
          - path: "clusters/**/config.json"
        values:
          where: "{{{{path[1]}}}}-{{{{cluster.name}}}}"
"#
    );
    let yaml = with_template(
        false,
        &generators,
        "{{cluster.name}}-{{path.basenameNormalized}}",
        &[
            ("path", "{{path}}"),
            ("basename", "{{ path.basename }}"),
            ("filename", "{{path.filename}}"),
            ("filenameNormalized", "{{path.filenameNormalized}}"),
            ("seg0", "{{path[0]}}"),
            ("seg2", "{{path[2]}}"),
            ("tag1", "{{cluster.tags.1}}"),
            ("size", "{{cluster.size}}"),
            ("ok", "{{ok}}"),
            ("where", "{{values.where}}"),
            ("unknown", "{{nope}} and {{ .cluster.name }}"),
        ],
    );
    let inputs = GeneratorInputs::new().with_repository(REPO, "", &tree);
    let apps = generate(&appset(&yaml), &inputs).unwrap();
    assert_eq!(names(&apps), ["eu-eu"]);
    let a = annotations(&apps[0]);
    assert_eq!(a["path"], "clusters/prod/eu");
    assert_eq!(a["basename"], "eu");
    assert_eq!(a["filename"], "config.json");
    assert_eq!(a["filenameNormalized"], "config.json");
    assert_eq!(a["seg0"], "clusters");
    assert_eq!(a["seg2"], "eu");
    assert_eq!(a["tag1"], "b");
    assert_eq!(a["size"], "1e+06");
    assert_eq!(a["ok"], "true");
    assert_eq!(a["where"], "prod-eu");
    // fasttemplate leaves unknown keys (and Go syntax) as written.
    assert_eq!(a["unknown"], "{{nope}} and {{ .cluster.name }}");
}

#[test]
fn git_files_exclude_and_path_param_prefix() {
    let (_tmp, tree) = tree(&[
        ("envs/dev/config.json", r#"{"env": "dev"}"#),
        ("envs/prod/config.json", r#"{"env": "prod"}"#),
        ("envs/prod/old/config.json", r#"{"env": "old"}"#),
    ]);
    let generators = format!(
        r#"    - git:
        repoURL: {REPO}
        pathParamPrefix: cfg
        files:
          - path: "envs/**/config.json"
          - path: "envs/prod/old/*"
            exclude: true
"#
    );
    let go = with_template(
        true,
        &generators,
        "{{ .env }}",
        &[("p", "{{ .cfg.path.path }}")],
    );
    let inputs = GeneratorInputs::new().with_repository(REPO, "HEAD", &tree);
    let apps = generate(&appset(&go), &inputs).unwrap();
    assert_eq!(names(&apps), ["dev", "prod"]);
    assert_eq!(annotations(&apps[1])["p"], "envs/prod");
    let fast = with_template(
        false,
        &generators,
        "{{env}}",
        &[
            ("p", "{{cfg.path}}"),
            ("b", "{{cfg.path.basename}}"),
            ("s", "{{cfg.path[1]}}"),
        ],
    );
    let apps = generate(&appset(&fast), &inputs).unwrap();
    let a = annotations(&apps[1]);
    assert_eq!(
        (a["p"].as_str(), a["b"].as_str(), a["s"].as_str()),
        ("envs/prod", "prod", "prod")
    );
}

#[test]
fn git_file_globbing_modes() {
    // Argo CD's default (git pathspecs): `*` crosses directories.
    let (_tmp, tree) = tree(&[
        ("a/config.json", r#"{"n": "a"}"#),
        ("a/b/config.json", r#"{"n": "b"}"#),
    ]);
    let generators = format!(
        "    - git:\n        repoURL: {REPO}\n        files:\n          - path: \"a/*.json\"\n"
    );
    let yaml = appset(&with_template(true, &generators, "{{ .n }}", &[]));
    let inputs = GeneratorInputs::new().with_repository(REPO, "HEAD", &tree);
    assert_eq!(names(&generate(&yaml, &inputs).unwrap()), ["b", "a"]);
    let doublestar = GenerateOptions {
        glob_mode: GlobMode::Doublestar,
        ..GenerateOptions::default()
    };
    let generation = generate_with(&yaml, &inputs, &doublestar).unwrap();
    assert_eq!(generation.applications.len(), 1);
    assert_eq!(generation.applications[0].application.name(), "a");
}

#[test]
fn git_directories_with_exclude_and_hidden_directories() {
    let tmp = tempfile::TempDir::new().unwrap();
    let repo = tmp.path().join("repo");
    git_repo(
        &repo,
        &[
            ("apps/web/kustomization.yaml", "x"),
            ("apps/api/kustomization.yaml", "x"),
            ("apps/legacy/kustomization.yaml", "x"),
            ("apps/.hidden/kustomization.yaml", "x"),
            ("apps/web/nested/file", "x"),
            ("other/file", "x"),
        ],
    );
    let tree = GitTree::open_local(&repo, "HEAD").unwrap();
    let generators = format!(
        r#"    - git:
        repoURL: {REPO}
        revision: main
        directories:
          - path: apps/*
          - path: apps/legacy
            exclude: true
"#
    );
    let go = with_template(
        true,
        &generators,
        "{{ .path.basenameNormalized }}",
        &[
            ("path", "{{ .path.path }}"),
            ("segments", "{{ .path.segments | toJson }}"),
            ("basename", "{{ .path.basename }}"),
        ],
    );
    let inputs = GeneratorInputs::new().with_repository(REPO, "main", &tree);
    let apps = generate(&appset(&go), &inputs).unwrap();
    assert_eq!(names(&apps), ["api", "web"]);
    let a = annotations(&apps[1]);
    assert_eq!(a["path"], "apps/web");
    assert_eq!(a["segments"], r#"["apps","web"]"#);
    // Directories have no filename parameter.
    let err = generate(
        &appset(&with_template(
            true,
            &generators,
            "{{ .path.filename }}",
            &[],
        )),
        &inputs,
    );
    // missingkey defaults to "<no value>", which is no valid name.
    assert!(
        matches!(err, Err(AppsetError::InvalidName { .. })),
        "{err:?}"
    );
    let fast = with_template(
        false,
        &generators,
        "{{path.basename}}",
        &[
            ("p0", "{{path[0]}}"),
            ("p1", "{{path[1]}}"),
            ("n", "{{path.basenameNormalized}}"),
        ],
    );
    let apps = generate(&appset(&fast), &inputs).unwrap();
    let a = annotations(&apps[0]);
    assert_eq!((a["p0"].as_str(), a["p1"].as_str()), ("apps", "api"));
    // The revision must match what was given.
    let err = generate(
        &appset(&go),
        &GeneratorInputs::new().with_repository(REPO, "HEAD", &tree),
    )
    .unwrap_err();
    assert_eq!(err.missing_repository(), Some((REPO, "main")));
}

#[test]
fn list_generator_both_modes() {
    let go = with_template(
        true,
        "    - list:\n        elements:\n          - {cluster: dev, url: 'https://1.1.1.1', replicas: 2, nested: {tier: [a, b]}}\n",
        "{{ .cluster }}",
        &[("r", "{{ .replicas }}"), ("t", "{{ index .nested.tier 1 }}"), ("u", "{{ .url }}")],
    );
    let apps = generate(&appset(&go), &GeneratorInputs::new()).unwrap();
    let a = annotations(&apps[0]);
    assert_eq!(
        (a["r"].as_str(), a["t"].as_str(), a["u"].as_str()),
        ("2", "b", "https://1.1.1.1")
    );

    let fast = with_template(
        false,
        "    - list:\n        elements:\n          - {cluster: dev, values: {team: a}}\n",
        "{{cluster}}",
        &[("team", "{{values.team}}")],
    );
    let apps = generate(&appset(&fast), &GeneratorInputs::new()).unwrap();
    assert_eq!(annotations(&apps[0])["team"], "a");

    // With fasttemplate, list values must be strings.
    let bad = with_template(
        false,
        "    - list:\n        elements:\n          - {cluster: dev, replicas: 2}\n",
        "{{cluster}}",
        &[],
    );
    let err = generate(&appset(&bad), &GeneratorInputs::new())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("spec.generators[0].list.elements[0].replicas"),
        "{err}"
    );
}

#[test]
fn clusters_generator_selector_values_and_metadata() {
    let mut prod = Cluster::new("prod-EU", "https://10.0.0.1:6443");
    prod.labels.insert("env".into(), "prod".into());
    prod.labels.insert("region".into(), "eu-west-1".into());
    prod.annotations.insert("team".into(), "platform".into());
    prod.project = Some("payments".into());
    let mut dev = Cluster::new("dev", "https://10.0.0.2:6443");
    dev.labels.insert("env".into(), "dev".into());
    let inputs = GeneratorInputs::new().with_clusters([prod, dev]);

    let generators = r#"    - clusters:
        selector:
          matchLabels: {env: prod}
          matchExpressions:
            - {key: region, operator: In, values: [eu-west-1, us-east-2]}
        values:
          revision: stable-{{ .metadata.labels.region }}
"#;
    let go = with_template(
        true,
        generators,
        "{{ .nameNormalized }}",
        &[
            ("name", "{{ .name }}"),
            ("server", "{{ .server }}"),
            ("project", "{{ .project }}"),
            ("team", "{{ .metadata.annotations.team }}"),
            (
                "type",
                "{{ index .metadata.labels \"argocd.argoproj.io/secret-type\" }}",
            ),
            ("revision", "{{ .values.revision }}"),
        ],
    );
    let apps = generate(&appset(&go), &inputs).unwrap();
    assert_eq!(names(&apps), ["prod-eu"]);
    let a = annotations(&apps[0]);
    assert_eq!(a["name"], "prod-EU");
    assert_eq!(a["server"], "https://10.0.0.1:6443");
    assert_eq!(a["project"], "payments");
    assert_eq!(a["team"], "platform");
    assert_eq!(a["type"], "cluster");
    assert_eq!(a["revision"], "stable-eu-west-1");

    let fast = with_template(
        false,
        "    - clusters:\n        values:\n          r: '{{metadata.labels.env}}'\n",
        "{{nameNormalized}}",
        &[
            ("env", "{{metadata.labels.env}}"),
            ("r", "{{values.r}}"),
            ("server", "{{server}}"),
        ],
    );
    let apps = generate(&appset(&fast), &inputs).unwrap();
    assert_eq!(names(&apps), ["prod-eu", "dev"]);
    assert_eq!(annotations(&apps[1])["r"], "dev");
}

#[test]
fn matrix_second_generator_uses_the_firsts_parameters() {
    let (_tmp, tree) = tree(&[
        (
            "apps/web/config.json",
            r#"{"components": [{"name": "a"}, {"name": "b"}]}"#,
        ),
        ("apps/api/config.json", r#"{"components": [{"name": "c"}]}"#),
    ]);
    let generators = format!(
        r#"    - matrix:
        generators:
          - git:
              repoURL: {REPO}
              files:
                - path: "apps/*/config.json"
          - list:
              elementsYaml: "{{{{ .components | toJson }}}}"
"#
    );
    let yaml = with_template(
        true,
        &generators,
        "{{ .path.basename }}-{{ .name }}",
        &[("all", "{{ len .components }}")],
    );
    let inputs = GeneratorInputs::new().with_repository(REPO, "HEAD", &tree);
    let generation = generate_with(&appset(&yaml), &inputs, &GenerateOptions::default()).unwrap();
    let got: Vec<&str> = generation
        .applications
        .iter()
        .map(|g| g.application.name())
        .collect();
    assert_eq!(got, ["api-c", "web-a", "web-b"]);
    assert_eq!(
        generation.applications[0].origin.source,
        "git file apps/api/config.json + list elementsYaml item 0"
    );
}

#[test]
fn matrix_of_directories_and_clusters_with_values() {
    let (_tmp, tree) = tree(&[("apps/web/k.yaml", "x"), ("apps/api/k.yaml", "x")]);
    let mut eu = Cluster::new("eu", "https://eu:6443");
    eu.labels.insert("env".into(), "prod".into());
    let us = Cluster::new("us", "https://us:6443");
    let generators = format!(
        r#"    - matrix:
        generators:
          - git:
              repoURL: {REPO}
              directories:
                - path: apps/*
          - clusters:
              values:
                app: "{{{{ .path.basename }}}}-on-{{{{ .name }}}}"
"#
    );
    let yaml = with_template(
        true,
        &generators,
        "{{ .path.basename }}-{{ .name }}",
        &[("v", "{{ .values.app }}")],
    );
    let inputs = GeneratorInputs::new()
        .with_repository(REPO, "HEAD", &tree)
        .with_clusters([eu, us]);
    let apps = generate(&appset(&yaml), &inputs).unwrap();
    assert_eq!(names(&apps), ["api-eu", "api-us", "web-eu", "web-us"]);
    assert_eq!(annotations(&apps[3])["v"], "web-on-us");

    // More or fewer than two children is an error naming the matrix.
    let one = with_template(
        true,
        "    - matrix:\n        generators:\n          - list: {elements: [{a: b}]}\n",
        "x",
        &[],
    );
    let err = generate(&appset(&one), &inputs).unwrap_err().to_string();
    assert!(
        err.contains("spec.generators[0].matrix.generators") && err.contains("exactly two"),
        "{err}"
    );
}

#[test]
fn matrix_fasttemplate_conflicts_are_errors() {
    let yaml = with_template(
        false,
        "    - matrix:\n        generators:\n          - list: {elements: [{env: dev}]}\n          - list: {elements: [{env: prod}]}\n",
        "{{env}}",
        &[],
    );
    let err = generate(&appset(&yaml), &GeneratorInputs::new())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"env\"") && err.contains("list element 0"),
        "{err}"
    );
}

#[test]
fn merge_generator_by_keys() {
    let mut a = Cluster::new("a", "https://a:6443");
    a.labels.insert("env".into(), "dev".into());
    let b = Cluster::new("b", "https://b:6443");
    let generators = r#"    - merge:
        mergeKeys: [server]
        generators:
          - clusters:
              values: {kafka: "true", redis: "false"}
          - list:
              elements:
                - server: https://b:6443
                  values.redis: "true"
                - server: https://nowhere:6443
"#;
    let fast = with_template(
        false,
        generators,
        "{{name}}",
        &[("kafka", "{{values.kafka}}"), ("redis", "{{values.redis}}")],
    );
    let inputs = GeneratorInputs::new().with_clusters([a, b]);
    let generation = generate_with(&appset(&fast), &inputs, &GenerateOptions::default()).unwrap();
    let apps: Vec<&Application> = generation
        .applications
        .iter()
        .map(|g| &g.application)
        .collect();
    assert_eq!(apps.len(), 2);
    assert_eq!(annotations(apps[0])["redis"], "false");
    assert_eq!(annotations(apps[1])["redis"], "true");
    assert_eq!(annotations(apps[1])["kafka"], "true");
    assert_eq!(
        generation.applications[1].origin.source,
        "cluster b (https://b:6443) merged with list element 0"
    );

    // Go templates: nested maps merge.
    let go = with_template(
        true,
        r#"    - merge:
        mergeKeys: [name]
        generators:
          - list: {elements: [{name: a, cfg: {x: "1", y: "1"}}, {name: b, cfg: {x: "1"}}]}
          - list: {elements: [{name: a, cfg: {y: "2"}}]}
"#,
        "{{ .name }}",
        &[("cfg", "{{ .cfg | toJson }}")],
    );
    let apps = generate(&appset(&go), &GeneratorInputs::new()).unwrap();
    assert_eq!(annotations(&apps[0])["cfg"], r#"{"x":"1","y":"2"}"#);

    // Keys must be unique within each child.
    let dup = with_template(
        true,
        "    - merge:\n        mergeKeys: [name]\n        generators:\n          - list: {elements: [{name: a}, {name: a}]}\n          - list: {elements: []}\n",
        "{{ .name }}",
        &[],
    );
    let err = generate(&appset(&dup), &GeneratorInputs::new())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not unique") && err.contains("list element 1"),
        "{err}"
    );
}

#[test]
fn selector_filters_parameter_sets() {
    let yaml = with_template(
        true,
        r#"    - list:
        elements:
          - {env: dev, cfg: {tier: front}}
          - {env: prod, cfg: {tier: back}}
      selector:
        matchExpressions:
          - {key: cfg.tier, operator: In, values: [back]}
"#,
        "{{ .env }}",
        &[],
    );
    let apps = generate(&appset(&yaml), &GeneratorInputs::new()).unwrap();
    assert_eq!(names(&apps), ["prod"]);
}

#[test]
fn generator_template_overrides_fields() {
    let yaml = r#"apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: t}
spec:
  goTemplate: true
  generators:
    - list:
        elements: [{env: dev}]
        template:
          metadata:
            labels: {from: generator}
          spec:
            project: special
    - list:
        elements: [{env: prod}]
  template:
    metadata:
      name: "app-{{ .env }}"
      labels: {base: "yes"}
    spec:
      project: default
      source: {repoURL: "https://x", path: "{{ .env }}"}
      destination: {server: "https://kubernetes.default.svc", namespace: "{{ .env }}"}
"#;
    let apps = generate(&appset(yaml), &GeneratorInputs::new()).unwrap();
    assert_eq!(names(&apps), ["app-dev", "app-prod"]);
    assert_eq!(apps[0].spec.project.as_deref(), Some("special"));
    assert_eq!(apps[0].metadata.labels["from"], "generator");
    assert_eq!(apps[0].metadata.labels["base"], "yes");
    assert_eq!(
        apps[0].spec.source.as_ref().unwrap().path.as_deref(),
        Some("dev")
    );
    assert_eq!(apps[1].spec.project.as_deref(), Some("default"));
    assert!(!apps[1].metadata.labels.contains_key("from"));
    // No namespace on the ApplicationSet: the template's (none) is kept.
    assert_eq!(apps[0].namespace(), None);
}

#[test]
fn template_patch_and_sync_policy() {
    let yaml = r#"apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: t, namespace: argocd}
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  syncPolicy:
    preserveResourcesOnDeletion: true
    applicationsSync: create-update
  generators:
    - list:
        elements:
          - {env: dev, autoSync: true, valueFiles: [a.yaml, b.yaml]}
          - {env: prod, autoSync: false, valueFiles: []}
  template:
    metadata:
      name: "app-{{ .env }}"
      namespace: elsewhere
    spec:
      project: default
      source: {repoURL: "https://x", path: "charts/app", helm: {releaseName: r}}
      destination: {server: "https://kubernetes.default.svc", namespace: "{{ .env }}"}
  templatePatch: |
    spec:
      project: hijacked
    {{- if .autoSync }}
      syncPolicy:
        automated:
          prune: true
    {{- end }}
      source:
        helm:
          valueFiles:
          {{- range $f := .valueFiles }}
            - {{ $f }}
          {{- end }}
"#;
    let apps = generate(&appset(yaml), &GeneratorInputs::new()).unwrap();
    let dev = &apps[0];
    assert!(dev.spec.automated().unwrap().prune());
    let helm = dev.spec.source.as_ref().unwrap().helm.as_ref().unwrap();
    assert_eq!(helm.value_files, ["a.yaml", "b.yaml"]);
    assert_eq!(helm.release_name.as_deref(), Some("r"));
    // A patch cannot move an Application to another project.
    assert_eq!(dev.spec.project.as_deref(), Some("default"));
    assert!(apps[1].spec.automated().is_none());
    // preserveResourcesOnDeletion: no resources finalizer.
    assert!(dev.metadata.finalizers.is_empty());
    // The ApplicationSet's namespace wins, as Argo CD sets it.
    assert_eq!(dev.namespace(), Some("argocd"));
    let without = yaml.replace("    preserveResourcesOnDeletion: true\n", "");
    let apps = generate(&appset(&without), &GeneratorInputs::new()).unwrap();
    assert_eq!(apps[0].metadata.finalizers, [RESOURCES_FINALIZER]);
}

#[test]
fn templated_non_string_fields() {
    let yaml = r#"apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: t}
spec:
  generators:
    - list:
        elements: [{env: dev, prune: "true", limit: "5"}]
  template:
    metadata: {name: "app-{{env}}"}
    spec:
      project: default
      revisionHistoryLimit: "{{limit}}"
      source: {repoURL: "https://x", path: "p"}
      destination: {server: "https://kubernetes.default.svc"}
      syncPolicy:
        automated:
          prune: "{{prune}}"
"#;
    let apps = generate(&appset(yaml), &GeneratorInputs::new()).unwrap();
    assert!(apps[0].spec.automated().unwrap().prune());
    assert_eq!(apps[0].spec.revision_history_limit, Some(5));
    let bad = yaml.replace("prune: \"true\"", "prune: \"maybe\"");
    let err = generate(&appset(&bad), &GeneratorInputs::new())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("list element 0") && err.contains("not valid"),
        "{err}"
    );
}

#[test]
fn parameter_values_are_never_evaluated() {
    // A value holding template syntax comes out as written, in both modes,
    // through values, matrix interpolation and the template.
    let (_tmp, tree) = tree(&[(
        "a/config.json",
        r#"{"name": "app", "evil": "{{ .name }}", "flat": "{{name}}", "repo": "https://example.com/org/deploy.git"}"#,
    )]);
    let generators = format!(
        r#"    - matrix:
        generators:
          - git:
              repoURL: {REPO}
              files: [{{path: "a/config.json"}}]
              values: {{copy: "{{{{ .evil }}}}"}}
          - list:
              elements: [{{x: "{{{{ .evil }}}}"}}]
"#
    );
    let yaml = with_template(
        true,
        &generators,
        "{{ .name }}",
        &[
            ("evil", "{{ .evil }}"),
            ("copy", "{{ .values.copy }}"),
            ("x", "{{ .x }}"),
        ],
    );
    let inputs = GeneratorInputs::new().with_repository(REPO, "HEAD", &tree);
    let apps = generate(&appset(&yaml), &inputs).unwrap();
    let a = annotations(&apps[0]);
    assert_eq!(a["evil"], "{{ .name }}");
    assert_eq!(a["copy"], "{{ .name }}");
    assert_eq!(a["x"], "{{ .name }}");
    let fast = with_template(
        false,
        &format!("    - git:\n        repoURL: {REPO}\n        files: [{{path: a/config.json}}]\n        values: {{copy: '{{{{flat}}}}'}}\n"),
        "{{name}}",
        &[("flat", "{{flat}}"), ("copy", "{{values.copy}}")],
    );
    let apps = generate(&appset(&fast), &inputs).unwrap();
    let a = annotations(&apps[0]);
    assert_eq!(a["flat"], "{{name}}");
    assert_eq!(a["copy"], "{{name}}");
}

#[test]
fn duplicate_names_name_both_sources() {
    let (_tmp, tree) = tree(&[
        (
            "overlays/dev/us-east-2/config.json",
            r#"{"cluster": {"name": "x"}}"#,
        ),
        (
            "overlays/dev2/us-east-2/config.json",
            r#"{"cluster": {"name": "x"}}"#,
        ),
    ]);
    let generators = format!(
        "    - git:\n        repoURL: {REPO}\n        files: [{{path: \"overlays/**/config.json\"}}]\n"
    );
    let yaml = with_template(true, &generators, "{{ .cluster.name }}", &[]);
    let inputs = GeneratorInputs::new().with_repository(REPO, "HEAD", &tree);
    let err = generate(&appset(&yaml), &inputs).unwrap_err();
    let AppsetError::DuplicateName {
        name,
        first,
        second,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(name, "x");
    assert_eq!(first.source, "git file overlays/dev/us-east-2/config.json");
    assert_eq!(
        second.source,
        "git file overlays/dev2/us-east-2/config.json"
    );
    assert_eq!(first.generator, "spec.generators[0]");
}

#[test]
fn unsupported_kinds_and_unknown_fields_are_named() {
    let pr = with_template(
        true,
        "    - pullRequest:\n        github: {owner: o, repo: r}\n",
        "x",
        &[],
    );
    let err = generate(&appset(&pr), &GeneratorInputs::new())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`pullRequest`") && err.contains("spec.generators[0]"),
        "{err}"
    );
    let nested = with_template(
        true,
        "    - matrix:\n        generators:\n          - list: {elements: [{a: b}]}\n          - plugin: {configMapRef: {name: p}}\n",
        "x",
        &[],
    );
    let err = generate(&appset(&nested), &GeneratorInputs::new())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("spec.generators[0].matrix.generators[1]") && err.contains("`plugin`"),
        "{err}"
    );
    let unknown = with_template(
        true,
        "    - list:\n        elements: [{a: b}]\n        flavour: x\n",
        "x",
        &[],
    );
    let err = generate(&appset(&unknown), &GeneratorInputs::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains("spec.generators[0].list.flavour"), "{err}");

    // Unknown template fields are kept and warned about, or refused with `strict`.
    let tpl = with_template(true, "    - list:\n        elements: [{a: b}]\n", "x", &[]).replace(
        "      project: default\n",
        "      project: default\n      sourceHydrator: {drySource: {}}\n",
    );
    let set = appset(&tpl);
    let generation =
        generate_with(&set, &GeneratorInputs::new(), &GenerateOptions::default()).unwrap();
    assert!(
        generation.warnings[0].contains("spec.template.spec.sourceHydrator"),
        "{:?}",
        generation.warnings
    );
    assert!(generation.applications[0]
        .application
        .spec
        .extra
        .contains_key("sourceHydrator"));
    let strict = GenerateOptions {
        strict: true,
        ..GenerateOptions::default()
    };
    assert!(matches!(
        generate_with(&set, &GeneratorInputs::new(), &strict),
        Err(AppsetError::UnknownFields { .. })
    ));
}

#[test]
fn template_errors_name_field_and_source() {
    let yaml = r#"apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: t}
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
    - list: {elements: [{env: dev}, {env: prod, region: eu}]}
  template:
    metadata: {name: "app-{{ .env }}"}
    spec:
      project: default
      source: {repoURL: "https://x", path: "p"}
      destination: {server: "https://kubernetes.default.svc", namespace: "{{ .region }}"}
"#;
    let err = generate(&appset(yaml), &GeneratorInputs::new()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("list element 0"), "{text}");
    assert!(text.contains("spec.destination.namespace"), "{text}");
    assert!(
        text.contains("map has no entry for key \"region\""),
        "{text}"
    );
    // A template that does not parse fails before any parameter is rendered.
    let broken = yaml.replace("\"app-{{ .env }}\"", "\"app-{{ .env \"");
    let err = generate(&appset(&broken), &GeneratorInputs::new())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("metadata.name") && err.contains("failed to parse template"),
        "{err}"
    );
    // Unknown goTemplateOptions are refused.
    let opt = yaml.replace("missingkey=error", "missingkey=sometimes");
    let err = generate(&appset(&opt), &GeneratorInputs::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains("spec.goTemplateOptions"), "{err}");
}

#[test]
fn article_fixture_round_trip_of_generated_applications() {
    // Generated Applications serialise as Argo CD writes them.
    let yaml = with_template(
        true,
        "    - list:\n        elements: [{env: dev}]\n",
        "app-{{ .env }}",
        &[],
    );
    let apps = generate(&appset(&yaml), &GeneratorInputs::new()).unwrap();
    let json = serde_json::to_value(&apps[0]).unwrap();
    assert_eq!(json["apiVersion"], "argoproj.io/v1alpha1");
    assert_eq!(json["kind"], "Application");
    assert_eq!(json["metadata"]["name"], "app-dev");
    assert_eq!(json["metadata"]["namespace"], "argocd");
    assert_eq!(json["metadata"]["finalizers"], json!([RESOURCES_FINALIZER]));
    assert_eq!(
        json["spec"]["destination"]["namespace"],
        Value::String("default".into())
    );
}

#[test]
fn nested_matrix_and_templated_repository() {
    let yaml = with_template(
        true,
        r#"    - matrix:
        generators:
          - matrix:
              generators:
                - list: {elements: [{a: "1"}]}
                - list: {elements: [{b: "{{ .a }}-2"}]}
          - list: {elements: [{c: "{{ .a }}{{ .b }}"}]}
"#,
        "app-{{ .c }}",
        &[],
    );
    let apps = generate(&appset(&yaml), &GeneratorInputs::new()).unwrap();
    assert_eq!(names(&apps), ["app-11-2"]);

    // A repository named by the first generator's parameters.
    let (_tmp, tree) = tree(&[("x/config.json", r#"{"n": "x"}"#)]);
    let yaml = with_template(
        true,
        &format!(
            r#"    - matrix:
        generators:
          - list: {{elements: [{{repo: "{REPO}", rev: main}}]}}
          - git:
              repoURL: "{{{{ .repo }}}}"
              revision: "{{{{ .rev }}}}"
              files: [{{path: "*/config.json"}}]
"#
        ),
        "{{ .n }}",
        &[],
    );
    let set = appset(&yaml);
    let err = generate(&set, &GeneratorInputs::new()).unwrap_err();
    assert_eq!(err.missing_repository(), Some((REPO, "main")));
    let inputs = GeneratorInputs::new().with_repository(REPO, "main", &tree);
    assert_eq!(names(&generate(&set, &inputs).unwrap()), ["x"]);
}

#[test]
fn merge_inside_a_matrix_sees_the_first_generators_parameters() {
    let yaml = with_template(
        true,
        r#"    - matrix:
        generators:
          - list: {elements: [{env: prod}]}
          - merge:
              mergeKeys: [app]
              generators:
                - list: {elements: [{app: web, where: "{{ .env }}"}, {app: api, where: "{{ .env }}"}]}
                - list: {elements: [{app: api, where: "{{ .env }}-override"}]}
"#,
        "{{ .app }}-{{ .where }}",
        &[],
    );
    let apps = generate(&appset(&yaml), &GeneratorInputs::new()).unwrap();
    assert_eq!(names(&apps), ["web-prod", "api-prod-override"]);
}
