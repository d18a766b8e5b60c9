//! Cluster: secret data, connection config, and secrets that never show.

use std::collections::BTreeMap;

use flotilla_core::{Cluster, ClusterConfig, CoreError, SecretString, UnknownFields, REDACTED};

const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.super-secret-token";
const PASSWORD: &str = "hunter2-password";
const KEY: &str = "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t-private-key";
const EXEC_SECRET: &str = "exec-env-secret-value";

fn secret_data() -> BTreeMap<String, String> {
    let config = serde_json::json!({
        "username": "admin",
        "password": PASSWORD,
        "bearerToken": TOKEN,
        "tlsClientConfig": {
            "insecure": false,
            "serverName": "api.us-east-2.example",
            "caData": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t",
            "certData": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tY2VydA==",
            "keyData": KEY,
            "futureTls": {"value": "hidden-in-debug"}
        },
        "execProviderConfig": {
            "command": "aws",
            "args": ["eks", "get-token", "--cluster-name", "gen-algo-us-east-2"],
            "env": {"AWS_SECRET": EXEC_SECRET},
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "installHint": "install the aws CLI"
        },
        "awsAuthConfig": {"clusterName": "gen-algo-us-east-2", "roleARN": "arn:aws:iam::1:role/x"}
    });
    BTreeMap::from([
        ("name".to_string(), "gen-algo-us-east-2".to_string()),
        (
            "server".to_string(),
            "https://ABC.gr7.us-east-2.eks.amazonaws.com".to_string(),
        ),
        ("namespaces".to_string(), "gen-algo, vault ,".to_string()),
        ("clusterResources".to_string(), "true".to_string()),
        ("project".to_string(), "gen-algo".to_string()),
        ("config".to_string(), config.to_string()),
    ])
}

fn cluster() -> Cluster {
    Cluster::from_secret_data(
        &secret_data(),
        BTreeMap::from([
            (
                "argocd.argoproj.io/secret-type".to_string(),
                "cluster".to_string(),
            ),
            ("env".to_string(), "dev".to_string()),
            ("region".to_string(), "us-east-2".to_string()),
        ]),
        BTreeMap::from([("owner".to_string(), "platform".to_string())]),
    )
    .unwrap()
}

#[test]
fn cluster_from_secret_data() {
    let cluster = cluster();
    assert_eq!(cluster.name, "gen-algo-us-east-2");
    assert_eq!(
        cluster.server,
        "https://ABC.gr7.us-east-2.eks.amazonaws.com"
    );
    assert_eq!(cluster.namespaces, vec!["gen-algo", "vault"]);
    assert_eq!(cluster.cluster_resources, Some(true));
    assert_eq!(cluster.project.as_deref(), Some("gen-algo"));
    assert_eq!(cluster.labels["region"], "us-east-2");
    assert_eq!(cluster.annotations["owner"], "platform");

    let config = &cluster.config;
    assert_eq!(config.username.as_deref(), Some("admin"));
    assert_eq!(config.bearer_token.as_ref().unwrap().expose(), TOKEN);
    assert_eq!(config.password.as_ref().unwrap().expose(), PASSWORD);
    let tls = &config.tls_client_config;
    assert!(!tls.is_insecure());
    assert_eq!(tls.server_name.as_deref(), Some("api.us-east-2.example"));
    assert!(tls.ca_data.is_some() && tls.cert_data.is_some());
    assert_eq!(tls.key_data.as_ref().unwrap().expose(), KEY);
    let exec = config.exec_provider_config.as_ref().unwrap();
    assert_eq!(exec.command, "aws");
    assert_eq!(exec.args.len(), 4);
    assert_eq!(exec.env["AWS_SECRET"].expose(), EXEC_SECRET);
    assert_eq!(exec.install_hint.as_deref(), Some("install the aws CLI"));

    assert_eq!(
        config.unknown_fields(),
        vec!["tlsClientConfig.futureTls", "awsAuthConfig"]
    );
    assert_eq!(
        cluster.to_string(),
        "gen-algo-us-east-2 (https://ABC.gr7.us-east-2.eks.amazonaws.com)"
    );
}

#[test]
fn secrets_never_appear_in_debug_display_or_serialisation() {
    let cluster = cluster();
    let debug = format!("{cluster:?}");
    let pretty = format!("{cluster:#?}");
    let display = cluster.to_string();
    let json = serde_json::to_string(&cluster).unwrap();
    for output in [&debug, &pretty, &display, &json] {
        for secret in [TOKEN, PASSWORD, KEY, EXEC_SECRET, "hidden-in-debug"] {
            if output == &json && secret == "hidden-in-debug" {
                // Unknown fields are kept as written when serialising.
                continue;
            }
            assert!(!output.contains(secret), "{secret} leaked in {output}");
        }
    }
    assert!(debug.contains(REDACTED));
    assert!(
        debug.contains("futureTls"),
        "unknown field names are shown: {debug}"
    );
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["config"]["bearerToken"], REDACTED);
    assert_eq!(value["config"]["tlsClientConfig"]["keyData"], REDACTED);
    assert_eq!(
        value["config"]["execProviderConfig"]["env"]["AWS_SECRET"],
        REDACTED
    );
}

#[test]
fn secret_string() {
    let secret = SecretString::new(TOKEN);
    assert_eq!(format!("{secret:?}"), "SecretString(<redacted>)");
    assert_eq!(format!("{secret}"), "<redacted>");
    assert_eq!(
        format!("{:?}", Some(&secret)),
        "Some(SecretString(<redacted>))"
    );
    assert_eq!(secret.expose(), TOKEN);
    assert!(!secret.is_empty());
    let read: SecretString = serde_json::from_str("\"abc\"").unwrap();
    assert_eq!(read, SecretString::from("abc"));
}

#[test]
fn secret_data_errors_name_the_key_and_hide_values() {
    let mut data = secret_data();
    data.remove("server");
    let err = Cluster::from_secret_data(&data, BTreeMap::new(), BTreeMap::new()).unwrap_err();
    assert_eq!(err.to_string(), "missing field `data.server`");

    let mut data = secret_data();
    data.insert("clusterResources".into(), "yes".into());
    let err = Cluster::from_secret_data(&data, BTreeMap::new(), BTreeMap::new()).unwrap_err();
    assert!(
        matches!(err, CoreError::InvalidValue { ref field, .. } if field == "data.clusterResources")
    );

    let mut data = secret_data();
    data.insert(
        "config".into(),
        format!(r#"{{"bearerToken": 12345, "password": "{PASSWORD}"}}"#),
    );
    let err = Cluster::from_secret_data(&data, BTreeMap::new(), BTreeMap::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains("data.config"), "{err}");
    assert!(!err.contains("12345") && !err.contains(PASSWORD), "{err}");
}

#[test]
fn minimal_cluster() {
    let data = BTreeMap::from([(
        "server".to_string(),
        "https://kubernetes.default.svc".to_string(),
    )]);
    let cluster = Cluster::from_secret_data(&data, BTreeMap::new(), BTreeMap::new()).unwrap();
    assert_eq!(cluster.name, "");
    assert!(cluster.namespaces.is_empty());
    assert_eq!(cluster.config, ClusterConfig::default());
    assert_eq!(cluster.to_string(), "https://kubernetes.default.svc");
    assert_eq!(
        Cluster::new("in-cluster", "https://kubernetes.default.svc").to_string(),
        "in-cluster (https://kubernetes.default.svc)"
    );
}
