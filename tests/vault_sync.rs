//! Secrets from Vault into a cluster, end to end on real components: a
//! placeholder in a manifest is resolved from the lab's OpenBao, the result
//! is applied by the sync engine to a lab cluster, rotated, and a sealed
//! Vault stops the sync without deleting anything.

use std::sync::Arc;

use flotilla_core::{Application, Manifest};
use flotilla_lab::TestLab;
use flotilla_sync::{ClusterRegistry, SourceError, SyncEngine, SyncSettings};
use flotilla_vault::{
    resolve_manifests, AuthMethod, ClientConfig, ResolveOptions, SecretData, SecretString,
    VaultClient,
};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::Api;
use serde_json::json;

const NS: &str = "gen-algo-dev-a";

fn desired() -> anyhow::Result<Vec<Manifest>> {
    Ok(vec![
        Manifest::from_value(json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "api-env"},
            "type": "Opaque",
            "stringData": {"DB_URL": "<path:secret/data/api/env#DB_URL>"},
        }))?,
        Manifest::from_value(json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "api-config"},
            "data": {"LOG_LEVEL": "info"},
        }))?,
    ])
}

async fn secret_value(client: &kube::Client) -> anyhow::Result<String> {
    let s = Api::<Secret>::namespaced(client.clone(), NS)
        .get("api-env")
        .await?;
    let bytes = s
        .data
        .and_then(|d| d.get("DB_URL").cloned())
        .ok_or_else(|| anyhow::anyhow!("api-env has no DB_URL"))?;
    Ok(String::from_utf8(bytes.0)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vault_placeholder_reaches_the_cluster_and_rotates() -> anyhow::Result<()> {
    let lab = TestLab::start(&["a"], true).await?;
    let bao = lab.openbao()?.expect("OpenBao runs");
    let mut config = ClientConfig::new(bao.addr.clone())
        .with_auth(AuthMethod::Token(SecretString::new(bao.root_token.clone())));
    config.ca_cert = Some(bao.ca_cert.clone());
    config.retry.max_retries = 6;
    let vault = VaultClient::new(config)?;
    vault
        .enable_mount("secret", json!({"type": "kv", "options": {"version": "2"}}))
        .await?;
    vault
        .kv_write(
            "secret/api/env",
            &SecretData::from_pairs([("DB_URL", "postgres://first")]),
        )
        .await?;

    let server = lab.state().regions["a"].server.clone();
    let app: Application = serde_json::from_value(json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "gen-algo-dev-a", "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://example.invalid/repo.git", "path": "api"},
            "destination": {"server": server, "namespace": NS},
            "syncPolicy": {
                "automated": {"prune": true, "selfHeal": true},
                "syncOptions": ["CreateNamespace=true"],
            },
        },
    }))?;
    let registry = Arc::new(ClusterRegistry::from_kubeconfig_file(&lab.kubeconfig())?);
    let engine = SyncEngine::new(registry);
    let client = lab.client("a").await?;

    // Resolve, then sync: the value is in the cluster and nowhere in output.
    let mut manifests = desired()?;
    let report = resolve_manifests(&vault, &mut manifests, &ResolveOptions::default()).await?;
    assert_eq!(report.placeholders, 1);
    assert_eq!(report.secrets_read, 1);
    let result = engine
        .sync(&app, Ok(manifests), &SyncSettings::default())
        .await;
    assert!(result.succeeded(), "{:?}", result.error);
    assert_eq!(secret_value(&client).await?, "postgres://first");
    let shown = format!("{result:?} {}", serde_json::to_string(&result)?);
    assert!(
        !shown.contains("postgres://first"),
        "secret value in sync output"
    );

    // Rotation: a new version in Vault reaches the cluster on the next sync.
    vault
        .kv_write(
            "secret/api/env",
            &SecretData::from_pairs([("DB_URL", "postgres://second")]),
        )
        .await?;
    let mut manifests = desired()?;
    resolve_manifests(&vault, &mut manifests, &ResolveOptions::default()).await?;
    let result = engine
        .sync(&app, Ok(manifests), &SyncSettings::default())
        .await;
    assert!(result.succeeded(), "{:?}", result.error);
    assert_eq!(secret_value(&client).await?, "postgres://second");

    // A sealed Vault: resolution fails naming the path, the sync is handed the
    // failure and changes nothing, and nothing is pruned.
    vault.seal().await?;
    let mut manifests = desired()?;
    let err = resolve_manifests(&vault, &mut manifests, &ResolveOptions::default())
        .await
        .expect_err("a sealed Vault cannot resolve");
    let message = err.to_string();
    assert!(message.contains("secret/data/api/env"), "{message}");
    assert!(!message.contains("postgres://"), "{message}");
    let result = engine
        .sync(&app, Err(SourceError::new(err)), &SyncSettings::default())
        .await;
    assert!(!result.succeeded());
    assert_eq!(secret_value(&client).await?, "postgres://second");
    let cm = Api::<ConfigMap>::namespaced(client.clone(), NS);
    assert!(
        cm.get_opt("api-config").await?.is_some(),
        "nothing is pruned"
    );
    Ok(())
}
