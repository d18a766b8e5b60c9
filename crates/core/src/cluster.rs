//! Destination clusters, as Argo CD cluster secrets describe them.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::CoreError;
use crate::unknown::{impl_unknown_fields, null_as_default, Extra};

/// URL of the cluster Argo CD (or Flotilla) runs in.
pub const IN_CLUSTER_SERVER: &str = "https://kubernetes.default.svc";
/// Name Argo CD gives the cluster it runs in.
pub const IN_CLUSTER_NAME: &str = "in-cluster";

/// What a [`SecretString`] shows instead of its value.
pub const REDACTED: &str = "<redacted>";

/// A secret value (token, password, private key) that never shows itself.
///
/// `Debug`, `Display` and `Serialize` all print [`REDACTED`]: a value that
/// holds a `SecretString` can be logged, put in an error, an event or an API
/// answer without leaking it. Read the value with [`SecretString::expose`],
/// only where it is handed to the thing that needs it.
///
/// ```
/// use flotilla_core::SecretString;
///
/// let token = SecretString::new("s3cr3t");
/// assert_eq!(format!("{token:?}"), "SecretString(<redacted>)");
/// assert_eq!(token.to_string(), "<redacted>");
/// assert_eq!(serde_json::to_string(&token).unwrap(), "\"<redacted>\"");
/// assert_eq!(token.expose(), "s3cr3t");
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        SecretString(value.into())
    }

    /// The secret value itself. Do not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when the value is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        SecretString(value)
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        SecretString(value.to_string())
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretString({REDACTED})")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for SecretString {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(SecretString)
    }
}

/// A destination cluster: what an Argo CD cluster secret holds.
///
/// `name`, `server`, `namespaces`, `clusterResources` and `project` are the
/// secret's data keys; `labels` and `annotations` are the secret's own (used
/// by the clusters generator); `config` is the connection configuration.
/// Secret parts of `config` are [`SecretString`]s: serialising a `Cluster`
/// writes `<redacted>` in their place, so it is safe to show but is not a
/// way to store credentials.
///
/// ```
/// use std::collections::BTreeMap;
/// use flotilla_core::Cluster;
///
/// let data = BTreeMap::from([
///     ("name".to_string(), "us-east-2".to_string()),
///     ("server".to_string(), "https://10.0.0.1:6443".to_string()),
///     ("config".to_string(), r#"{"bearerToken":"t0k3n","tlsClientConfig":{"insecure":false,"caData":"LS0t"}}"#.to_string()),
/// ]);
/// let cluster = Cluster::from_secret_data(&data, BTreeMap::new(), BTreeMap::new())?;
/// assert_eq!(cluster.name, "us-east-2");
/// assert_eq!(cluster.config.bearer_token.as_ref().map(|t| t.expose()), Some("t0k3n"));
/// assert!(!format!("{cluster:?}").contains("t0k3n"));
/// # Ok::<(), flotilla_core::CoreError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cluster {
    /// Cluster name, as Applications' `destination.name` refers to it.
    #[serde(default)]
    pub name: String,
    /// API server URL, as Applications' `destination.server` refers to it.
    pub server: String,
    /// Namespaces Argo CD may manage; empty means all.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub namespaces: Vec<String>,
    /// `clusterResources`: with `namespaces`, whether cluster-scoped resources are managed too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_resources: Option<bool>,
    /// `project`: the project the cluster is scoped to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Labels of the cluster secret.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
    /// Annotations of the cluster secret.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub annotations: BTreeMap<String, String>,
    /// Connection configuration.
    #[serde(default)]
    pub config: ClusterConfig,
}

impl Cluster {
    /// A cluster with a name and API server URL, and no credentials.
    pub fn new(name: impl Into<String>, server: impl Into<String>) -> Self {
        Cluster {
            name: name.into(),
            server: server.into(),
            ..Cluster::default()
        }
    }

    /// Reads a cluster from the (already base64-decoded) data of an Argo CD
    /// cluster secret: `name`, `server` (required), `namespaces` (comma
    /// separated), `clusterResources`, `project` and `config` (JSON).
    ///
    /// Errors name the key at fault and never contain secret values.
    pub fn from_secret_data(
        data: &BTreeMap<String, String>,
        labels: BTreeMap<String, String>,
        annotations: BTreeMap<String, String>,
    ) -> Result<Cluster, CoreError> {
        let server = data
            .get("server")
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| CoreError::MissingField {
                field: "data.server".into(),
                location: None,
            })?;
        let namespaces = data
            .get("namespaces")
            .map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|ns| !ns.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let cluster_resources = match data.get("clusterResources").map(|s| s.trim()) {
            None | Some("") => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(other) => {
                return Err(CoreError::InvalidValue {
                    field: "data.clusterResources".into(),
                    value: other.to_string(),
                    reason: "expected true or false".into(),
                    location: None,
                })
            }
        };
        let config = match data.get("config").map(|s| s.trim()) {
            None | Some("") => ClusterConfig::default(),
            Some(json) => serde_json::from_str(json).map_err(|e| CoreError::InvalidValue {
                field: "data.config".into(),
                value: REDACTED.into(),
                // serde_json's message can quote the offending value: keep only where it is.
                reason: format!(
                    "not a valid cluster config ({:?} error at line {} column {})",
                    e.classify(),
                    e.line(),
                    e.column()
                ),
                location: None,
            })?,
        };
        Ok(Cluster {
            name: data.get("name").cloned().unwrap_or_default(),
            server: server.clone(),
            namespaces,
            cluster_resources,
            project: data.get("project").filter(|p| !p.is_empty()).cloned(),
            labels,
            annotations,
            config,
        })
    }
}

impl fmt::Display for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.name.is_empty() {
            f.write_str(&self.server)
        } else {
            write!(f, "{} ({})", self.name, self.server)
        }
    }
}

/// How to connect to a cluster: the `config` JSON of an Argo CD cluster secret.
///
/// `Debug` shows the names, never the values, of unknown fields.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterConfig {
    /// Basic-auth user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Basic-auth password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretString>,
    /// Bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<SecretString>,
    /// TLS settings: CA, client certificate and key, server name, insecure.
    #[serde(default)]
    pub tls_client_config: TlsClientConfig,
    /// Credentials from an external command (kubeconfig `exec`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_provider_config: Option<ExecProviderConfig>,
    /// `proxyUrl`: HTTP(S) proxy to reach the API server through.
    #[serde(rename = "proxyUrl", default, skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
    /// `disableCompression`: do not ask for compressed responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_compression: Option<bool>,
    /// Unknown fields (e.g. `awsAuthConfig`), kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

impl fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("username", &self.username)
            .field("password", &self.password)
            .field("bearer_token", &self.bearer_token)
            .field("tls_client_config", &self.tls_client_config)
            .field("exec_provider_config", &self.exec_provider_config)
            .field("proxy_url", &self.proxy_url)
            .field("disable_compression", &self.disable_compression)
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// `tlsClientConfig` of a [`ClusterConfig`].
///
/// `Debug` shows the names, never the values, of unknown fields.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TlsClientConfig {
    /// `insecure`: do not verify the server certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure: Option<bool>,
    /// `serverName`: name to verify the server certificate against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// `caData`: PEM CA bundle, base64-encoded as in a kubeconfig.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_data: Option<String>,
    /// `certData`: PEM client certificate, base64-encoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_data: Option<String>,
    /// `keyData`: PEM client private key, base64-encoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_data: Option<SecretString>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

impl TlsClientConfig {
    /// `insecure`, false when absent.
    pub fn is_insecure(&self) -> bool {
        self.insecure.unwrap_or(false)
    }
}

/// `execProviderConfig`: a command that prints credentials, as kubeconfig `exec`.
///
/// `Debug` shows the names, never the values, of unknown fields.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecProviderConfig {
    /// The command.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub command: String,
    /// Its arguments.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub args: Vec<String>,
    /// Environment variables for it (values may be secret, so they are redacted).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub env: BTreeMap<String, SecretString>,
    /// `apiVersion` of the `client.authentication.k8s.io` ExecCredential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `installHint`: shown when the command is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_hint: Option<String>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

impl fmt::Debug for TlsClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClientConfig")
            .field("insecure", &self.insecure)
            .field("server_name", &self.server_name)
            .field("ca_data", &self.ca_data)
            .field("cert_data", &self.cert_data)
            .field("key_data", &self.key_data)
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl fmt::Debug for ExecProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecProviderConfig")
            .field("command", &self.command)
            .field("args", &self.args)
            .field("env", &self.env)
            .field("api_version", &self.api_version)
            .field("install_hint", &self.install_hint)
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl_unknown_fields!(ClusterConfig {
    tls_client_config => "tlsClientConfig",
    exec_provider_config => "execProviderConfig",
});
impl_unknown_fields!(TlsClientConfig {});
impl_unknown_fields!(ExecProviderConfig {});
