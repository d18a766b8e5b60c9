//! flotilla-vault against a real OpenBao (the lab's, plus a bare server
//! started here) and a real Kubernetes API server (a lab region).
//!
//! One lab serves every step, in order, because a lab costs a minute to
//! start on two cores; each step says what it shows.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use flotilla_core::Manifest;
use flotilla_lab::TestLab;
use flotilla_vault::{
    check_manifests, converge, plan, resolve_manifests, Action, AuthMethod, ClientConfig,
    FindingKind, InitRequest, ItemKind, JwtSource, KvVersion, ResolveOptions, RetryPolicy,
    SecretData, SecretString, UnsealKeys, ValueFrom, VaultClient, VaultConfig,
};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn yaml_manifests(path: &Path) -> anyhow::Result<Vec<Manifest>> {
    let text = std::fs::read_to_string(path)?;
    let mut out = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(&text) {
        let value: serde_json::Value = serde::Deserialize::deserialize(doc)?;
        if !value.is_null() {
            out.push(Manifest::from_value(value)?);
        }
    }
    Ok(out)
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_retries: 2,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(50),
    }
}

fn root_client(addr: &str, ca: &Path, token: &str) -> anyhow::Result<VaultClient> {
    Ok(VaultClient::new(
        ClientConfig::new(addr)
            .with_ca_cert(ca)
            .with_token(SecretString::new(token))
            .with_retry(fast_retry()),
    )?)
}

async fn wait_active(client: &VaultClient) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        if let Ok(h) = client.health().await {
            if h.initialized && !h.sealed && !h.standby {
                return Ok(());
            }
        }
        if start.elapsed() > Duration::from_secs(60) {
            bail!("OpenBao did not become active");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn sa_token(client: &kube::Client, ns: &str, name: &str) -> anyhow::Result<String> {
    let api: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec![],
            expiration_seconds: Some(3600),
            bound_object_ref: None,
        },
        ..TokenRequest::default()
    };
    let answer = api
        .create_token_request(name, &PostParams::default(), &request)
        .await
        .with_context(|| format!("token of {ns}/{name}"))?;
    Ok(answer.status.context("token request status")?.token)
}

async fn create<K>(api: &Api<K>, value: serde_json::Value) -> anyhow::Result<()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let object: K = serde_json::from_value(value)?;
    api.create(&PostParams::default(), &object).await?;
    Ok(())
}

async fn apply_secret(client: &kube::Client, ns: &str, manifest: &Manifest) -> anyhow::Result<()> {
    let name = manifest.name().context("name")?;
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    api.patch(
        name,
        &PatchParams::apply("flotilla-vault-test").force(),
        &Patch::Apply(&manifest.object),
    )
    .await?;
    Ok(())
}

async fn secret_value(
    client: &kube::Client,
    ns: &str,
    name: &str,
    key: &str,
) -> anyhow::Result<String> {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    let secret = api.get(name).await?;
    let bytes = secret
        .data
        .and_then(|d| d.get(key).cloned())
        .with_context(|| format!("key {key} of secret {ns}/{name}"))?;
    Ok(String::from_utf8(bytes.0)?)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openbao_end_to_end() -> anyhow::Result<()> {
    let lab = TestLab::start(&["a"], true).await?;
    let info = lab.openbao()?.context("the lab runs OpenBao")?;
    let ca = info.ca_cert.clone();
    let root = root_client(&info.addr, &ca, &info.root_token)?;
    let kube = lab.client("a").await?;
    let server = lab.state().regions["a"].server.clone();
    let lab_ca_pem = std::fs::read_to_string(lab.lab().ca_path())?;
    let work = tempfile::tempdir()?;

    // --- TLS with the lab CA; without it, a clear error and no endless retry.
    let health = root.health().await?;
    assert!(health.initialized && !health.sealed, "{health:?}");
    let no_ca = VaultClient::new(ClientConfig::new(&info.addr).with_retry(RetryPolicy::none()))?;
    let err = no_ca.health().await.unwrap_err();
    assert!(err.is_unreachable(), "{err}");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );

    // --- Kubernetes objects the Vault setup needs: the app namespace and
    // ServiceAccount, and a reviewer bound to system:auth-delegator.
    let namespace = "gen-algo-dev-a";
    create(
        &Api::<Namespace>::all(kube.clone()),
        json!({"metadata": {"name": namespace}}),
    )
    .await?;
    create(
        &Api::<ServiceAccount>::namespaced(kube.clone(), namespace),
        json!({"metadata": {"name": "gen-algo-sa"}}),
    )
    .await?;
    create(
        &Api::<ServiceAccount>::namespaced(kube.clone(), "default"),
        json!({"metadata": {"name": "vault-reviewer"}}),
    )
    .await?;
    create(
        &Api::<ClusterRoleBinding>::all(kube.clone()),
        json!({
            "metadata": {"name": "vault-reviewer-auth-delegator"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:auth-delegator"},
            "subjects": [{"kind": "ServiceAccount", "name": "vault-reviewer", "namespace": "default"}]
        }),
    )
    .await?;
    let reviewer_jwt = sa_token(&kube, "default", "vault-reviewer").await?;
    let jwt_file = work.path().join("reviewer.jwt");
    std::fs::write(&jwt_file, &reviewer_jwt)?;

    // --- The article's setup as published, applied: a fresh Vault (no
    // secret/ mount, like production) gets everything created.
    let mut article = VaultConfig::load(&fixture("article/vault-config.yaml"))?;
    {
        let k = article.spec.auth_methods[0]
            .kubernetes
            .as_mut()
            .context("kubernetes")?;
        k.kubernetes_host = server.clone();
        k.kubernetes_ca_cert = Some(lab_ca_pem.clone());
        k.token_reviewer_jwt = Some(ValueFrom {
            env: None,
            file: Some(jwt_file.clone()),
        });
    }
    let dry = plan(&root, &article).await?;
    println!("plan (dry run):\n{dry}");
    assert!(dry.changes().all(|i| i.action == Action::Create), "{dry}");
    assert!(
        !root.list_mounts().await?.contains_key("secret/"),
        "a dry run changes nothing"
    );
    let (first, report) = converge(&root, &article, false).await?;
    println!("first apply:\n{first}");
    let report = report.context("applied")?;
    assert_eq!(report.changed.len(), first.changes().count());
    assert!(report.changed.len() >= 7, "{report:?}");
    let secrets_missing = first
        .items
        .iter()
        .filter(|i| i.kind == ItemKind::Secret && matches!(i.action, Action::Attention(_)))
        .count();
    assert_eq!(
        secrets_missing, 2,
        "values are never in the document: {first}"
    );
    let (second, _) = converge(&root, &article, false).await?;
    println!("second apply:\n{second}");
    assert!(
        second.is_noop(),
        "second apply must change nothing:\n{second}"
    );

    // --- Mount version detection and KV v2 round trip with versions.
    let kv = root.kv_path("secret/api/env").await?;
    assert_eq!(kv.version, KvVersion::V2);
    assert_eq!(kv.data_path(), "secret/data/api/env");
    assert!(root.kv_read("secret/api/env").await?.is_none());
    let v1 = root
        .kv_write(
            "secret/api/env",
            &SecretData::from_pairs([("DB_URL", "postgres://one"), ("JWT_SECRET", "j1")]),
        )
        .await?
        .context("v2 metadata")?;
    assert_eq!(v1.version, 1);
    let v2 = root
        .kv_write(
            "secret/api/env",
            &SecretData::from_pairs([("DB_URL", "postgres://two"), ("JWT_SECRET", "j1")]),
        )
        .await?
        .context("v2 metadata")?;
    assert_eq!(v2.version, 2);
    let latest = root.kv_read("secret/api/env").await?.context("latest")?;
    assert_eq!(latest.data.get("DB_URL"), Some(&json!("postgres://two")));
    assert_eq!(latest.metadata.as_ref().map(|m| m.version), Some(2));
    let old = root
        .kv_read_version("secret/api/env", 1)
        .await?
        .context("v1")?;
    assert_eq!(old.data.get("DB_URL"), Some(&json!("postgres://one")));
    let v3 = root
        .kv_patch(
            "secret/api/env",
            &SecretData::from_pairs([("JWT_SECRET", "j3")]),
        )
        .await?
        .context("patch metadata")?;
    assert_eq!(v3.version, 3);
    let patched = root.kv_read("secret/api/env").await?.context("v3")?;
    assert_eq!(
        patched.data.get("DB_URL"),
        Some(&json!("postgres://two")),
        "patch keeps other keys"
    );
    assert_eq!(patched.data.get("JWT_SECRET"), Some(&json!("j3")));
    let meta = root
        .kv_metadata("secret/api/env")
        .await?
        .context("metadata")?;
    assert_eq!(meta.current_version, 3);
    assert_eq!(meta.versions.len(), 3);
    assert_eq!(root.kv_list("secret/").await?, vec!["api/".to_string()]);
    root.kv_delete("secret/api/env").await?;
    let deleted = root
        .kv_read("secret/api/env")
        .await?
        .context("deleted version still has metadata")?;
    assert!(deleted.metadata.as_ref().is_some_and(|m| m.is_gone()) && deleted.data.is_empty());
    root.kv_undelete("secret/api/env", &[3]).await?;
    assert_eq!(
        root.kv_read("secret/api/env")
            .await?
            .context("undeleted")?
            .data
            .get("JWT_SECRET"),
        Some(&json!("j3"))
    );
    root.kv_destroy("secret/api/env", &[1]).await?;
    let destroyed = root
        .kv_read_version("secret/api/env", 1)
        .await?
        .context("destroyed v1")?;
    assert!(destroyed.metadata.as_ref().is_some_and(|m| m.destroyed));
    assert!(
        format!("{latest:?}").contains("DB_URL") && !format!("{latest:?}").contains("postgres")
    );
    root.kv_write(
        "secret/webui/env-local",
        &SecretData::from_pairs([
            ("NEXT_PUBLIC_API_URL", "https://api"),
            ("NEXT_PUBLIC_FCM_API_KEY", "k"),
        ]),
    )
    .await?;
    let (with_values, _) = converge(&root, &article, true).await?;
    assert!(
        with_values.attention().is_empty(),
        "the secrets now exist:\n{with_values}"
    );

    // --- KV v1 on another mount.
    root.enable_mount("kv1", json!({"type": "kv"})).await?;
    assert_eq!(root.kv_path("kv1/app").await?.version, KvVersion::V1);
    assert!(root
        .kv_write("kv1/app", &SecretData::from_pairs([("a", "1"), ("b", "2")]))
        .await?
        .is_none());
    root.kv_patch(
        "kv1/app",
        &SecretData::from_iter([("b", serde_json::Value::Null), ("c", json!("3"))]),
    )
    .await?;
    let v1secret = root.kv_read("kv1/app").await?.context("kv1")?;
    assert_eq!(v1secret.data.keys().collect::<Vec<_>>(), vec!["a", "c"]);
    assert_eq!(root.kv_list("kv1/").await?, vec!["app".to_string()]);
    let err = root.kv_read_version("kv1/app", 1).await.unwrap_err();
    assert!(err.to_string().contains("version 1"), "{err}");
    root.kv_delete("kv1/app").await?;
    assert!(root.kv_read("kv1/app").await?.is_none());

    // --- Errors name the path and carry Vault's messages.
    let err = root
        .write("sys/policies/acl/bad", json!({"policy": "path {"}))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(err.to_string().contains("sys/policies/acl/bad"), "{err}");
    assert!(!err.vault_errors().is_empty(), "{err}");

    // --- The preflight check against the live Vault finds the article's mistakes.
    let article_pods = yaml_manifests(&fixture("article/api-deployment.yaml"))?;
    let report = check_manifests(&root, &article_pods, namespace).await?;
    println!("check (article setup, live):\n{report}");
    let kinds: BTreeSet<FindingKind> = report.findings.iter().map(|f| f.kind).collect();
    assert!(kinds.contains(&FindingKind::NamespaceNotBound), "{report}");
    assert!(
        kinds.contains(&FindingKind::KvV2PathWithoutData),
        "{report}"
    );

    // --- The real consequence of the namespace mistake: the login is refused.
    let app_jwt = sa_token(&kube, namespace, "gen-algo-sa").await?;
    let k8s_client = |role: &str, jwt: &str| {
        VaultClient::new(
            ClientConfig::new(&info.addr)
                .with_ca_cert(&ca)
                .with_retry(fast_retry())
                .with_auth(AuthMethod::Kubernetes {
                    mount: "kubernetes".into(),
                    role: role.into(),
                    jwt: JwtSource::Inline(SecretString::new(jwt)),
                }),
        )
    };
    let refused = k8s_client("gen-algo-api-role", &app_jwt)?
        .login()
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("namespace not authorized"),
        "{refused}"
    );
    assert!(
        !refused.to_string().contains(&app_jwt[..20]),
        "no token in errors"
    );

    // --- The corrected example, applied over it: the roles are updated.
    let mut corrected = VaultConfig::load(&repo().join("examples/vault/vault-config.yaml"))?;
    {
        let k = corrected.spec.auth_methods[0]
            .kubernetes
            .as_mut()
            .context("kubernetes")?;
        k.kubernetes_host = server.clone();
        k.kubernetes_ca_cert_file = None;
        k.kubernetes_ca_cert = Some(lab_ca_pem.clone());
        k.token_reviewer_jwt = Some(ValueFrom {
            env: None,
            file: Some(jwt_file.clone()),
        });
    }
    let (fix, _) = converge(&root, &corrected, false).await?;
    println!("corrected apply:\n{fix}");
    let updated: Vec<&str> = fix
        .items
        .iter()
        .filter(|i| i.action == Action::Update)
        .map(|i| i.name.as_str())
        .collect();
    assert!(
        updated.contains(&"auth/kubernetes/role/gen-algo-api-role"),
        "{fix}"
    );
    assert!(
        updated.contains(&"auth/kubernetes/role/gen-algo-webui-role"),
        "{fix}"
    );
    let ns_change = fix
        .items
        .iter()
        .find(|i| i.name == "auth/kubernetes/role/gen-algo-api-role")
        .and_then(|i| {
            i.changes
                .iter()
                .find(|c| c.field == "bound_service_account_namespaces")
        })
        .context("namespace change shown")?;
    assert_eq!(ns_change.from, r#"["gen-algo"]"#);
    let (again, _) = converge(&root, &corrected, false).await?;
    assert!(again.is_noop(), "{again}");
    let good_pods: Vec<Manifest> =
        yaml_manifests(&repo().join("examples/vault/manifests/api-deployment.yaml"))?
            .into_iter()
            .chain(yaml_manifests(
                &repo().join("examples/vault/manifests/webui-deployment.yaml"),
            )?)
            .collect();
    let clean = check_manifests(&root, &good_pods, namespace).await?;
    assert!(clean.is_clean(), "{clean}");

    // --- Pruning is opt-in: a stray policy is kept and listed, then
    // deleted once the document says it manages policy deletion.
    root.write_policy(
        "stray",
        r#"path "secret/data/stray" { capabilities = ["read"] }"#,
    )
    .await?;
    let kept = plan(&root, &corrected).await?;
    assert!(kept.is_noop(), "{kept}");
    assert!(kept.unmanaged.iter().any(|u| u == "policy stray"), "{kept}");
    let mut pruning = corrected.clone();
    pruning.spec.prune.policies = true;
    let (pruned, _) = converge(&root, &pruning, false).await?;
    assert!(
        pruned
            .items
            .iter()
            .any(|i| i.name == "stray" && i.action == Action::Delete),
        "{pruned}"
    );
    assert_eq!(pruned.changes().count(), 1, "{pruned}");
    assert!(root.read_policy("stray").await?.is_none());

    // --- Kubernetes auth with a real ServiceAccount token (TokenReview
    // against the lab API server), then reading what the policy allows.
    let app = k8s_client("gen-algo-api-role", &app_jwt)?;
    let login = app.login().await?;
    assert_eq!(
        login
            .metadata
            .get("service_account_namespace")
            .map(String::as_str),
        Some(namespace)
    );
    assert!(
        login.policies.contains(&"gen-algo-api-policy".to_string()),
        "{login:?}"
    );
    let env = app.kv_read("secret/api/env").await?.context("api env")?;
    assert_eq!(env.data.get("JWT_SECRET"), Some(&json!("j3")));
    let denied = app.kv_read("secret/webui/env-local").await.unwrap_err();
    assert!(denied.is_permission_denied(), "{denied}");
    assert!(
        denied.to_string().contains("secret/data/webui/env-local"),
        "{denied}"
    );
    let other = sa_token(&kube, "default", "vault-reviewer").await?;
    let wrong = k8s_client("gen-algo-api-role", &other)?
        .login()
        .await
        .unwrap_err();
    assert!(wrong.to_string().contains("auth/kubernetes"), "{wrong}");

    // --- Renewal and re-login before expiry (AppRole, 2s TTL, 5s max TTL).
    root.enable_auth("approle", json!({"type": "approle"}))
        .await?;
    root.write_policy(
        "lookup",
        r#"path "auth/token/lookup-self" { capabilities = ["read"] }"#,
    )
    .await?;
    root.write_role(
        "approle",
        "short",
        json!({"token_policies": ["lookup"], "token_ttl": 2, "token_max_ttl": 5}),
    )
    .await?;
    let role_id = root.approle_role_id("approle", "short").await?;
    let secret_id = root.approle_secret_id("approle", "short").await?;
    let short = VaultClient::new(
        ClientConfig::new(&info.addr)
            .with_ca_cert(&ca)
            .with_retry(fast_retry())
            .with_auth(AuthMethod::AppRole {
                mount: "approle".into(),
                role_id,
                secret_id: Some(secret_id),
            }),
    )?;
    let mut accessors = Vec::new();
    for _ in 0..9 {
        let token = short.lookup_self().await?;
        accessors.push(token.accessor);
        tokio::time::sleep(Duration::from_millis(1_500)).await;
    }
    let distinct: BTreeSet<&String> = accessors.iter().collect();
    println!(
        "approle accessors over 13.5s: {} distinct of {}",
        distinct.len(),
        accessors.len()
    );
    assert!(
        distinct.len() >= 2,
        "logged in again after the max TTL: {accessors:?}"
    );
    assert!(
        distinct.len() < accessors.len(),
        "renewed in between: {accessors:?}"
    );

    // --- Namespaces (X-Vault-Namespace), which OpenBao supports.
    root.write("sys/namespaces/team-a", json!({})).await?;
    let team = VaultClient::new(
        ClientConfig::new(&info.addr)
            .with_ca_cert(&ca)
            .with_namespace("team-a")
            .with_token(SecretString::new(&info.root_token)),
    )?;
    team.enable_mount("kv", json!({"type": "kv-v2"})).await?;
    team.kv_write("kv/x", &SecretData::from_pairs([("k", "in-team-a")]))
        .await?;
    assert_eq!(
        team.kv_read("kv/x").await?.context("x")?.data.get("k"),
        Some(&json!("in-team-a"))
    );
    assert!(
        root.read("kv/data/x").await?.is_none(),
        "not visible outside the namespace"
    );

    // --- Placeholders resolved into a Secret applied to the lab cluster, then rotated.
    let mut desired = vec![Manifest::from_value(json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "api-env", "namespace": namespace},
        "type": "Opaque",
        "stringData": {"DB_URL": "<path:secret/data/api/env#DB_URL>"},
        "data": {
            "JWT_SECRET": "<path:secret/api/env#JWT_SECRET>",
            "DB_URL_V2": "<path:secret/data/api/env#DB_URL#2>"
        }
    }))?];
    let template = desired.clone();
    let resolver = root_client(&info.addr, &ca, &info.root_token)?;
    let before = resolver.request_count();
    let resolved = resolve_manifests(&resolver, &mut desired, &ResolveOptions::default()).await?;
    assert_eq!(resolved.placeholders, 3);
    assert_eq!(
        resolved.secrets_read, 3,
        "secret/data/api/env, secret/api/env and version 2"
    );
    let requests = resolver.request_count() - before;
    println!("resolve: {resolved:?}, {requests} requests");
    assert_eq!(
        requests, 4,
        "one mount lookup, then one read per distinct secret"
    );
    apply_secret(&kube, namespace, &desired[0]).await?;
    assert_eq!(
        secret_value(&kube, namespace, "api-env", "DB_URL").await?,
        "postgres://two"
    );
    assert_eq!(
        secret_value(&kube, namespace, "api-env", "JWT_SECRET").await?,
        "j3"
    );
    // Rotation: a new version in Vault, resolved again, applied again.
    root.kv_patch(
        "secret/api/env",
        &SecretData::from_pairs([("DB_URL", "postgres://rotated")]),
    )
    .await?;
    let mut desired = template.clone();
    resolve_manifests(&resolver, &mut desired, &ResolveOptions::default()).await?;
    apply_secret(&kube, namespace, &desired[0]).await?;
    assert_eq!(
        secret_value(&kube, namespace, "api-env", "DB_URL").await?,
        "postgres://rotated"
    );
    assert_eq!(
        secret_value(&kube, namespace, "api-env", "DB_URL_V2").await?,
        "postgres://two",
        "a pinned version does not move"
    );
    // An unresolvable placeholder: an error naming path and key, nothing applied.
    let mut broken = template.clone();
    broken[0].object["stringData"]["MISSING"] = json!("<path:secret/data/api/env#NOPE>");
    let unresolved = broken.clone();
    let err = resolve_manifests(&resolver, &mut broken, &ResolveOptions::default())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("secret/data/api/env#NOPE") && text.contains("v1/Secret"),
        "{text}"
    );
    assert!(!text.contains("postgres://"), "{text}");
    assert_eq!(broken, unresolved, "manifests untouched on failure");

    // --- Sealed Vault: a clear error, nothing applied; then unsealed with the init keys.
    root.seal().await?;
    let sealed_client = root_client(&info.addr, &ca, &info.root_token)?;
    let mut desired = template.clone();
    let err = resolve_manifests(&sealed_client, &mut desired, &ResolveOptions::default())
        .await
        .unwrap_err();
    println!("sealed: {err}");
    assert!(err.to_string().contains("is sealed"), "{err}");
    assert!(err.to_string().contains("secret/data/api/env"), "{err}");
    assert_eq!(
        desired, template,
        "nothing resolved, so nothing can be applied"
    );
    assert_eq!(
        secret_value(&kube, namespace, "api-env", "DB_URL").await?,
        "postgres://rotated"
    );
    let status = root.seal_status().await?;
    assert!(status.sealed);
    let keys = UnsealKeys::from_json(&std::fs::read_to_string(
        lab.lab().dir().join("openbao/init.json"),
    )?)
    .map_err(anyhow::Error::msg)?;
    let status = root.unseal_with(&keys).await?;
    assert!(!status.sealed, "{status:?}");
    wait_active(&root).await?;
    assert!(root.kv_read("secret/api/env").await?.is_some());

    // --- Unreachable Vault: a clear error after capped retries.
    let port = free_port()?;
    let gone = VaultClient::new(
        ClientConfig::new(format!("http://127.0.0.1:{port}"))
            .with_token(SecretString::new("t"))
            .with_retry(fast_retry()),
    )?;
    let started = Instant::now();
    let err = resolve_manifests(&gone, &mut template.clone(), &ResolveOptions::default())
        .await
        .unwrap_err();
    println!("unreachable: {err}");
    assert!(err.to_string().contains("cannot reach Vault"), "{err}");
    assert!(err.to_string().contains("3 attempt(s)"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));

    // --- init and unseal on a fresh OpenBao of our own (raft, plain HTTP).
    let bao = lab.lab().bin_dir().join("bao");
    let dir = work.path().join("bare");
    std::fs::create_dir_all(dir.join("data"))?;
    let (port, cluster_port) = (free_port()?, free_port()?);
    std::fs::write(
        dir.join("bao.hcl"),
        format!(
            "storage \"raft\" {{\n  path = \"{}\"\n  node_id = \"bare\"\n}}\nlistener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  cluster_address = \"127.0.0.1:{cluster_port}\"\n  tls_disable = true\n}}\napi_addr = \"http://127.0.0.1:{port}\"\ncluster_addr = \"https://127.0.0.1:{cluster_port}\"\n",
            dir.join("data").display()
        ),
    )?;
    let log = std::fs::File::create(dir.join("bao.log"))?;
    let mut child = tokio::process::Command::new(&bao)
        .arg("server")
        .arg(format!("-config={}", dir.join("bao.hcl").display()))
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", bao.display()))?;
    let bare = VaultClient::new(
        ClientConfig::new(format!("http://127.0.0.1:{port}")).with_retry(fast_retry()),
    )?;
    let start = Instant::now();
    while bare.seal_status().await.is_err() {
        if start.elapsed() > Duration::from_secs(30) {
            bail!(
                "bare OpenBao did not answer: {}",
                std::fs::read_to_string(dir.join("bao.log"))?
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!bare.init_status().await?);
    let init = bare.init(&InitRequest::shamir(3, 2)).await?;
    assert_eq!(init.keys_base64.len(), 3);
    let shown = format!("{init:?}");
    assert!(
        !shown.contains(init.root_token.expose()) && !shown.contains(init.keys_base64[0].expose())
    );
    let status = bare.seal_status().await?;
    assert!(
        status.initialized && status.sealed && status.t == 2 && status.n == 3,
        "{status:?}"
    );
    let one = bare.unseal(&init.keys_base64[0]).await?;
    assert_eq!(one.progress, 1);
    assert_eq!(bare.unseal_reset().await?.progress, 0);
    let keys =
        UnsealKeys::from_json(&init.to_key_file().to_string()).map_err(anyhow::Error::msg)?;
    let status = bare.unseal_with(&keys).await?;
    assert!(!status.sealed, "{status:?}");
    let bare_root = VaultClient::new(
        ClientConfig::new(format!("http://127.0.0.1:{port}"))
            .with_token(init.root_token.clone())
            .with_retry(fast_retry()),
    )?;
    wait_active(&bare_root).await?;
    assert!(bare_root.list_mounts().await?.contains_key("sys/"));
    child.kill().await?;
    Ok(())
}
