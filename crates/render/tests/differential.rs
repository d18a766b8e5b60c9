//! Differential tests: our output against `kustomize build` (v5.5.0, from
//! the lab assets), byte for byte, on a feature corpus, the reference
//! article's layout and randomised compositions.

mod common;

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use common::{compare, fixtures, Rng};

fn kustomization_dirs(root: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            kustomization_dirs(&p, out);
        } else if p.file_name().is_some_and(|n| n == "kustomization.yaml") {
            out.push(root.to_path_buf());
        }
    }
}

#[test]
fn corpus_matches_kustomize() {
    let corpus = fixtures().join("corpus");
    let mut dirs = Vec::new();
    kustomization_dirs(&corpus, &mut dirs);
    assert!(dirs.len() >= 20, "corpus not found at {}", corpus.display());
    let failures: Vec<String> = dirs.iter().filter_map(|d| compare(d).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        dirs.len(),
        failures.join("\n\n")
    );
}

#[test]
fn article_layout_matches_kustomize() {
    let article = fixtures().join("article/overlays");
    let mut dirs = Vec::new();
    kustomization_dirs(&article, &mut dirs);
    assert_eq!(dirs.len(), 4);
    for d in &dirs {
        compare(d).unwrap();
    }
    // The base alone too.
    compare(&fixtures().join("article/base")).unwrap();
}

// ---------------------------------------------------------------------------
// Randomised compositions.

const KINDS: &[&str] = &[
    "deployment",
    "service",
    "serviceaccount",
    "ingress",
    "statefulset",
    "rbac",
    "cronjob",
    "configmap",
];

fn resource(kind: &str, app: &str, rng: &mut Rng) -> String {
    let image = rng.pick(&[
        "nginx:1.25",
        "nginx",
        "busybox:1.36",
        "registry.example.invalid/team/app:v1",
    ]);
    let replicas = rng.below(4);
    match kind {
        "deployment" => format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {app}\n  labels:\n    app: {app}\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels:\n      app: {app}\n  template:\n    metadata:\n      labels:\n        app: {app}\n    spec:\n      serviceAccountName: {app}\n      containers:\n      - name: main\n        image: {image}\n        ports:\n        - containerPort: 8080\n        envFrom:\n        - configMapRef:\n            name: {app}-config\n        env:\n        - name: A\n          value: \"1\"\n      - name: side\n        image: busybox\n      volumes:\n      - name: cfg\n        configMap:\n          name: {app}-config\n"
        ),
        "service" => format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {app}\nspec:\n  selector:\n    app: {app}\n  ports:\n  - name: http\n    port: 80\n    targetPort: 8080\n"
        ),
        "serviceaccount" => format!("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {app}\n"),
        "ingress" => format!(
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {app}\nspec:\n  rules:\n  - host: {app}.example.invalid\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend:\n          service:\n            name: {app}\n            port:\n              number: 80\n"
        ),
        "statefulset" => format!(
            "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: {app}-db\nspec:\n  serviceName: {app}\n  selector:\n    matchLabels:\n      app: {app}-db\n  template:\n    metadata:\n      labels:\n        app: {app}-db\n    spec:\n      containers:\n      - name: db\n        image: postgres:16\n"
        ),
        "rbac" => format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: {app}\nrules:\n- apiGroups: [\"\"]\n  resources: [configmaps]\n  verbs: [get]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: {app}\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: {app}\nsubjects:\n- kind: ServiceAccount\n  name: {app}\n"
        ),
        "cronjob" => format!(
            "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: {app}-job\nspec:\n  schedule: \"*/5 * * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers:\n          - name: job\n            image: {image}\n            envFrom:\n            - configMapRef:\n                name: {app}-config\n"
        ),
        _ => format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {app}-static\n  annotations:\n    n: \"{replicas}\"\ndata:\n  a: \"yes\"\n  b: \"2\"\n"
        ),
    }
}

fn write(dir: &Path, rel: &str, content: &str) {
    let p = dir.join(rel);
    fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    fs::write(p, content).expect("write");
}

/// Writes one random base + overlay (+ maybe a second overlay) and returns
/// the directory to build.
fn compose(dir: &Path, rng: &mut Rng) -> std::path::PathBuf {
    let app = rng.pick(&["web", "api", "shop", "a1"]).to_string();
    let mut kinds: Vec<&str> = KINDS.iter().copied().filter(|_| rng.chance(60)).collect();
    if !kinds.contains(&"deployment") {
        kinds.push("deployment");
    }
    let mut k = String::from("resources:\n");
    for kind in &kinds {
        write(
            dir,
            &format!("base/{kind}.yaml"),
            &resource(kind, &app, rng),
        );
        let _ = writeln!(k, "- {kind}.yaml");
    }
    let _ = write!(
        k,
        "configMapGenerator:\n- name: {app}-config\n  literals:\n  - LOG=info\n  - PORT=\"8080\"\n"
    );
    if rng.chance(40) {
        let _ = write!(
            k,
            "secretGenerator:\n- name: {app}-secret\n  literals:\n  - token=abc\n"
        );
    }
    if rng.chance(30) {
        k.push_str("commonLabels:\n  base: \"true\"\n");
    }
    write(dir, "base/kustomization.yaml", &k);

    let mut layers = vec!["base".to_string()];
    let depth = 1 + rng.below(2);
    for level in 0..depth {
        let name = format!("overlay{level}");
        let mut k = format!("resources:\n- ../{}\n", layers.last().expect("a layer"));
        if rng.chance(50) {
            let _ = writeln!(k, "namePrefix: {}", rng.pick(&["dev-", "p-", "team-a-"]));
        }
        if rng.chance(35) {
            let _ = writeln!(k, "nameSuffix: {}", rng.pick(&["-v2", "-blue"]));
        }
        if rng.chance(50) {
            let _ = writeln!(k, "namespace: {}", rng.pick(&["prod", "staging", "ns-x"]));
        }
        if rng.chance(50) {
            let _ = write!(
                k,
                "commonLabels:\n  {}: {}\n",
                rng.pick(&["tier", "team", "app.kubernetes.io/part-of"]),
                rng.pick(&["backend", "\"1\"", "\"yes\"", "platform"])
            );
        }
        if rng.chance(40) {
            let _ = write!(
                k,
                "labels:\n- pairs:\n    level: \"{level}\"\n  includeSelectors: {}\n  includeTemplates: {}\n",
                rng.chance(30),
                rng.chance(50)
            );
        }
        if rng.chance(40) {
            let _ = write!(
                k,
                "commonAnnotations:\n  owner: {}\n",
                rng.pick(&["alice", "\"on\"", "x@example.invalid"])
            );
        }
        if rng.chance(50) {
            let _ = write!(
                k,
                "images:\n- name: {}\n  {}\n",
                rng.pick(&["nginx", "busybox", "postgres"]),
                rng.pick(&[
                    "newTag: \"1.27\"",
                    "newName: mirror.example.invalid/img",
                    "digest: sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                ])
            );
        }
        if rng.chance(30) {
            let _ = write!(k, "replicas:\n- name: {app}\n  count: {}\n", rng.below(6));
        }
        let mut patches = String::new();
        if rng.chance(60) {
            let patch = format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {app}\nspec:\n  template:\n    spec:\n      containers:\n      - name: {}\n        env:\n        - name: LEVEL\n          value: \"{level}\"\n        resources:\n          limits:\n            memory: {}Mi\n",
                rng.pick(&["main", "side", "extra"]),
                64 * (1 + rng.below(8))
            );
            write(dir, &format!("{name}/dep-patch.yaml"), &patch);
            patches.push_str("- path: dep-patch.yaml\n");
        }
        if kinds.contains(&"service") && rng.chance(40) {
            patches.push_str(
                "- target:\n    kind: Service\n  patch: |-\n    - op: add\n      path: /metadata/annotations\n      value: {patched: \"true\"}\n",
            );
        }
        if rng.chance(30) {
            patches.push_str(
                "- target:\n    kind: Deployment|StatefulSet\n  patch: |-\n    apiVersion: apps/v1\n    kind: X\n    metadata:\n      name: any\n    spec:\n      revisionHistoryLimit: 3\n",
            );
        }
        if !patches.is_empty() {
            k.push_str("patches:\n");
            k.push_str(&patches);
        }
        let mut gens = String::new();
        if rng.chance(50) {
            let _ = write!(
                gens,
                "- name: {app}-config\n  behavior: merge\n  literals:\n  - LOG={}\n  - LEVEL{level}=x\n",
                rng.pick(&["debug", "warn"])
            );
        }
        if rng.chance(30) {
            let _ = write!(gens, "- name: extra{level}\n  literals:\n  - k=v{level}\n");
        }
        if !gens.is_empty() {
            k.push_str("configMapGenerator:\n");
            k.push_str(&gens);
        }
        write(dir, &format!("{name}/kustomization.yaml"), &k);
        layers.push(name);
    }
    dir.join(layers.last().expect("a layer"))
}

#[test]
fn random_compositions_match_kustomize() {
    let cases: u64 = std::env::var("FLOTILLA_RENDER_RANDOM_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let seed: u64 = std::env::var("FLOTILLA_RENDER_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_240_627);
    let first: u64 = std::env::var("FLOTILLA_RENDER_FIRST_CASE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let tmp = tempfile::tempdir().expect("tempdir");
    // FLOTILLA_RENDER_CASE_DIR keeps the generated cases for inspection.
    let keep = std::env::var_os("FLOTILLA_RENDER_CASE_DIR").map(std::path::PathBuf::from);
    let base = keep.as_deref().unwrap_or(tmp.path());
    let mut failures = Vec::new();
    for i in first..first + cases {
        let mut rng = Rng(seed.wrapping_add(i));
        let dir = base.join(format!("case{i}"));
        let target = compose(&dir, &mut rng);
        if let Err(e) = compare(&target) {
            failures.push(format!("case {i} (seed {}): {e}", seed.wrapping_add(i)));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {cases} random cases differ:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
