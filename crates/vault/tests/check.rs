//! The preflight check against VaultConfig documents (no Vault needed):
//! the article's setup holds the mistakes the issue names; the corrected
//! example holds none.

use std::path::{Path, PathBuf};

use flotilla_core::{Location, Manifest};
use flotilla_vault::{check_manifests, FindingKind, VaultConfig};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn manifests(path: &Path) -> Vec<Manifest> {
    let text = std::fs::read_to_string(path).expect("fixture");
    let mut out = Vec::new();
    for (i, doc) in serde_yaml_ng::Deserializer::from_str(&text).enumerate() {
        let value: serde_json::Value = serde::Deserialize::deserialize(doc).expect("yaml");
        if value.is_null() {
            continue;
        }
        let location = Location::in_file(path.display().to_string()).with_document(i as u32 + 1);
        out.push(Manifest::from_value_at(value, location).expect("object"));
    }
    out
}

#[tokio::test]
async fn the_article_setup_has_both_mistakes() {
    let config = VaultConfig::load(&fixture("article/vault-config.yaml")).expect("config");
    let pods = manifests(&fixture("article/api-deployment.yaml"));
    let report = check_manifests(&config, &pods, "gen-algo-dev-us-east-2")
        .await
        .expect("check");
    let text = report.to_string();
    println!("{text}");
    assert_eq!(report.pods_checked, 1);
    let kinds: Vec<FindingKind> = report.findings.iter().map(|f| f.kind).collect();
    assert!(kinds.contains(&FindingKind::NamespaceNotBound), "{text}");
    assert!(kinds.contains(&FindingKind::KvV2PathWithoutData), "{text}");
    // The article never sets serviceAccountName: the pod runs as `default`.
    assert!(
        kinds.contains(&FindingKind::ServiceAccountNotBound),
        "{text}"
    );
    assert_eq!(report.findings.len(), 3, "{text}");

    let ns = report
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::NamespaceNotBound)
        .unwrap();
    assert_eq!(
        ns.resource,
        "apps/v1/Deployment gen-algo-dev-us-east-2/gen-algo-api"
    );
    assert_eq!(ns.annotation.as_deref(), Some("vault.hashicorp.com/role"));
    assert!(ns.message.contains("[\"gen-algo\"]"), "{}", ns.message);
    assert!(ns.fix.contains("gen-algo-*"), "{}", ns.fix);
    assert!(ns
        .location
        .as_deref()
        .unwrap_or_default()
        .contains("api-deployment.yaml"));

    let kv = report
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::KvV2PathWithoutData)
        .unwrap();
    assert_eq!(
        kv.annotation.as_deref(),
        Some("vault.hashicorp.com/agent-inject-template-env")
    );
    assert_eq!(kv.path.as_deref(), Some("secret/api/env"));
    assert!(kv.fix.contains("secret/data/api/env"), "{}", kv.fix);
}

#[tokio::test]
async fn the_corrected_example_is_clean() {
    let config =
        VaultConfig::load(&repo().join("examples/vault/vault-config.yaml")).expect("config");
    let mut pods = manifests(&repo().join("examples/vault/manifests/api-deployment.yaml"));
    pods.extend(manifests(
        &repo().join("examples/vault/manifests/webui-deployment.yaml"),
    ));
    for ns in ["gen-algo-dev-us-east-2", "gen-algo-prod-us-west-2"] {
        let report = check_manifests(&config, &pods, ns).await.expect("check");
        assert_eq!(report.pods_checked, 2);
        assert!(report.is_clean(), "{report}");
    }
    // The corrected roles do not admit other applications' namespaces.
    let report = check_manifests(&config, &pods, "payments")
        .await
        .expect("check");
    assert_eq!(report.findings.len(), 2, "{report}");
    assert!(report
        .findings
        .iter()
        .all(|f| f.kind == FindingKind::NamespaceNotBound));
}

#[tokio::test]
async fn the_corrected_config_still_catches_the_template() {
    let config =
        VaultConfig::load(&repo().join("examples/vault/vault-config.yaml")).expect("config");
    let pods = manifests(&fixture("article/api-deployment.yaml"));
    let report = check_manifests(&config, &pods, "gen-algo-dev-us-east-2")
        .await
        .expect("check");
    let kinds: Vec<FindingKind> = report.findings.iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        vec![
            FindingKind::ServiceAccountNotBound,
            FindingKind::KvV2PathWithoutData
        ],
        "{report}"
    );
}

#[tokio::test]
async fn policies_roles_and_annotations_are_all_checked() {
    let config = VaultConfig::from_yaml(
        r#"
apiVersion: flotilla.dev/v1alpha1
kind: VaultConfig
spec:
  secretEngines:
    - {path: secret, type: kv-v2}
    - {path: kv, type: kv}
  authMethods:
    - type: kubernetes
      roles:
        - name: app
          boundServiceAccountNames: ["app-*"]
          boundServiceAccountNamespaces: ["*"]
          policies: [app, ghost]
    - type: approle
      path: k8s-other
  policies:
    - name: app
      hcl: |
        path "secret/data/app/*" { capabilities = ["read"] }
        path "secret/data/app/admin" { capabilities = ["deny"] }
        path "kv/+/config" { capabilities = ["read"] }
"#,
        "inline.yaml",
    )
    .expect("config");
    let pod = |name: &str, annotations: serde_json::Value, sa: &str| {
        Manifest::from_value(serde_json::json!({
            "apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": name, "namespace": "team"},
            "spec": {"jobTemplate": {"spec": {"template": {
                "metadata": {"annotations": annotations},
                "spec": {"serviceAccountName": sa}
            }}}}
        }))
        .unwrap()
    };
    let pods = vec![
        pod(
            "ok",
            serde_json::json!({
                "vault.hashicorp.com/agent-inject": "true",
                "vault.hashicorp.com/role": "app",
                "vault.hashicorp.com/agent-inject-secret-a": "secret/data/app/db",
                "vault.hashicorp.com/agent-inject-secret-b": "kv/web/config",
            }),
            "app-web",
        ),
        pod(
            "bad",
            serde_json::json!({
                "vault.hashicorp.com/agent-inject": "true",
                "vault.hashicorp.com/role": "app",
                "vault.hashicorp.com/agent-inject-secret-a": "secret/data/app/admin",
                "vault.hashicorp.com/agent-inject-secret-b": "secret/data/other",
                "vault.hashicorp.com/agent-inject-secret-c": "nowhere/x",
                "vault.hashicorp.com/agent-inject-template-d": "{{ range secrets \"secret/app/\" }}{{ . }}{{ end }}",
            }),
            "app-web",
        ),
        pod(
            "norole",
            serde_json::json!({
                "vault.hashicorp.com/agent-inject": "true",
                "vault.hashicorp.com/role": "missing",
            }),
            "x",
        ),
        pod(
            "wrongauth",
            serde_json::json!({
                "vault.hashicorp.com/agent-inject": "true",
                "vault.hashicorp.com/role": "app",
                "vault.hashicorp.com/auth-path": "auth/k8s-other",
            }),
            "app-x",
        ),
        pod(
            "off",
            serde_json::json!({"vault.hashicorp.com/role": "app"}),
            "app-x",
        ),
    ];
    let report = check_manifests(&config, &pods, "ignored")
        .await
        .expect("check");
    println!("{report}");
    let of = |name: &str| -> Vec<FindingKind> {
        report
            .findings
            .iter()
            .filter(|f| f.resource.ends_with(&format!("/{name}")))
            .map(|f| f.kind)
            .collect()
    };
    assert_eq!(
        of("ok"),
        vec![FindingKind::PolicyMissing],
        "ghost policy: {report}"
    );
    let bad = of("bad");
    assert_eq!(
        bad.iter()
            .filter(|k| **k == FindingKind::NotGranted)
            .count(),
        3,
        "denied admin, ungranted other, ungranted list: {report}"
    );
    assert!(bad.contains(&FindingKind::MountMissing));
    assert!(
        bad.contains(&FindingKind::KvV2PathWithoutData),
        "secrets list needs metadata/"
    );
    assert_eq!(of("norole"), vec![FindingKind::RoleMissing]);
    assert_eq!(of("wrongauth"), vec![FindingKind::AuthMethodMissing]);
    assert_eq!(of("off"), vec![FindingKind::InjectDisabled]);
    assert_eq!(report.pods_checked, 5);
    let denied = report
        .findings
        .iter()
        .find(|f| f.path.as_deref() == Some("secret/data/app/admin"))
        .unwrap();
    assert!(denied.message.contains("denies"), "{}", denied.message);
}
