//! How to reach Vault: address, TLS, namespace, auth, retries.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::auth::{AuthMethod, JwtSource};
use crate::error::VaultError;
use crate::secret::SecretString;

/// The address the `vault` CLI uses when `VAULT_ADDR` is not set.
pub const DEFAULT_ADDR: &str = "https://127.0.0.1:8200";

/// Where a Kubernetes pod finds its ServiceAccount token.
pub const DEFAULT_SERVICE_ACCOUNT_TOKEN: &str =
    "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// Retries of failed requests: connection errors and the answers Vault
/// gives while it cannot serve (5xx, sealed, standby, 412, 429) are retried
/// with exponential backoff, up to a cap.
///
/// ```
/// use std::time::Duration;
/// use flotilla_vault::RetryPolicy;
///
/// let policy = RetryPolicy { max_retries: 3, initial_backoff: Duration::from_millis(100), max_backoff: Duration::from_secs(1) };
/// assert_eq!(policy.backoff(1), Duration::from_millis(100));
/// assert_eq!(policy.backoff(2), Duration::from_millis(200));
/// assert_eq!(policy.backoff(9), Duration::from_secs(1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (the `vault` CLI's `VAULT_MAX_RETRIES`, default 2).
    pub max_retries: u32,
    /// Wait before the first retry; doubled each time.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// The wait before retry number `retry` (1-based), without jitter.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u32
            .checked_shl(retry.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.initial_backoff
            .checked_mul(factor)
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff)
    }
}

/// Everything the client needs to talk to one Vault (or OpenBao) server.
///
/// Built from the variables the `vault` CLI reads ([`ClientConfig::from_env`]),
/// from a config file section ([`VaultSettings`]), or explicitly:
///
/// ```
/// use flotilla_vault::{AuthMethod, ClientConfig, SecretString};
///
/// let config = ClientConfig::new("https://vault.example:8200")
///     .with_namespace("team-a")
///     .with_auth(AuthMethod::Token(SecretString::new("s.abc")));
/// assert_eq!(config.addr, "https://vault.example:8200");
/// assert!(!format!("{config:?}").contains("s.abc"));
/// ```
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Server address, e.g. `https://127.0.0.1:8200`.
    pub addr: String,
    /// Vault Enterprise namespace, sent as `X-Vault-Namespace`.
    pub namespace: Option<String>,
    /// PEM file of the CA that signed Vault's certificate (`VAULT_CACERT`).
    pub ca_cert: Option<PathBuf>,
    /// PEM bytes of that CA, when not in a file.
    pub ca_cert_pem: Option<Vec<u8>>,
    /// Skip TLS verification (`VAULT_SKIP_VERIFY`); for experiments only.
    pub skip_verify: bool,
    /// How to obtain a token.
    pub auth: AuthMethod,
    /// Timeout of one HTTP request (`VAULT_CLIENT_TIMEOUT`, default 60s).
    pub timeout: Duration,
    /// Retries of failed requests.
    pub retry: RetryPolicy,
    /// For [`AuthMethod::Token`]: look the token up on first use and renew
    /// it before it expires. Tokens from a login are always renewed.
    pub renew_token: bool,
}

impl ClientConfig {
    /// A configuration for `addr` with no token, default timeout and retries.
    pub fn new(addr: impl Into<String>) -> Self {
        ClientConfig {
            addr: addr.into(),
            namespace: None,
            ca_cert: None,
            ca_cert_pem: None,
            skip_verify: false,
            auth: AuthMethod::None,
            timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            renew_token: false,
        }
    }

    /// The configuration the `vault` CLI would use: `VAULT_ADDR` (default
    /// `https://127.0.0.1:8200`), `VAULT_TOKEN` (else `~/.vault-token`),
    /// `VAULT_CACERT`, `VAULT_NAMESPACE`, `VAULT_SKIP_VERIFY`,
    /// `VAULT_MAX_RETRIES`, `VAULT_CLIENT_TIMEOUT`.
    pub fn from_env() -> Result<Self, VaultError> {
        let mut config = Self::from_lookup(|name| std::env::var(name).ok())?;
        if matches!(config.auth, AuthMethod::None) {
            if let Some(home) = std::env::var_os("HOME") {
                let path = Path::new(&home).join(".vault-token");
                if let Ok(text) = std::fs::read_to_string(&path) {
                    let token = text.trim();
                    if !token.is_empty() {
                        config.auth = AuthMethod::Token(SecretString::new(token));
                    }
                }
            }
        }
        Ok(config)
    }

    /// Like [`ClientConfig::from_env`], reading variables through `lookup`
    /// (and not reading `~/.vault-token`).
    ///
    /// ```
    /// use flotilla_vault::{AuthMethod, ClientConfig};
    ///
    /// let config = ClientConfig::from_lookup(|name| match name {
    ///     "VAULT_ADDR" => Some("https://10.0.0.5:8200".into()),
    ///     "VAULT_TOKEN" => Some("s.xyz".into()),
    ///     "VAULT_NAMESPACE" => Some("ops".into()),
    ///     "VAULT_MAX_RETRIES" => Some("5".into()),
    ///     _ => None,
    /// })?;
    /// assert_eq!(config.addr, "https://10.0.0.5:8200");
    /// assert_eq!(config.namespace.as_deref(), Some("ops"));
    /// assert_eq!(config.retry.max_retries, 5);
    /// assert!(matches!(config.auth, AuthMethod::Token(_)));
    /// # Ok::<(), flotilla_vault::VaultError>(())
    /// ```
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, VaultError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut config =
            ClientConfig::new(get("VAULT_ADDR").unwrap_or_else(|| DEFAULT_ADDR.into()));
        config.namespace = get("VAULT_NAMESPACE");
        config.ca_cert = get("VAULT_CACERT").map(PathBuf::from);
        if let Some(token) = get("VAULT_TOKEN") {
            config.auth = AuthMethod::Token(SecretString::new(token.trim()));
        }
        if let Some(v) = get("VAULT_SKIP_VERIFY") {
            config.skip_verify = parse_bool(&v).ok_or_else(|| {
                VaultError::Config(format!("VAULT_SKIP_VERIFY={v:?} is not a boolean"))
            })?;
        }
        if let Some(v) = get("VAULT_MAX_RETRIES") {
            config.retry.max_retries = v.trim().parse().map_err(|_| {
                VaultError::Config(format!("VAULT_MAX_RETRIES={v:?} is not a number"))
            })?;
        }
        if let Some(v) = get("VAULT_CLIENT_TIMEOUT") {
            let secs = crate::duration::parse_duration(&v)
                .map_err(|e| VaultError::Config(format!("VAULT_CLIENT_TIMEOUT={v:?}: {e}")))?;
            config.timeout = Duration::from_secs(secs.max(1));
        }
        Ok(config)
    }

    /// Sets the namespace.
    #[must_use]
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Sets the CA file.
    #[must_use]
    pub fn with_ca_cert(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_cert = Some(path.into());
        self
    }

    /// Sets the auth method.
    #[must_use]
    pub fn with_auth(mut self, auth: AuthMethod) -> Self {
        self.auth = auth;
        self
    }

    /// Sets a token.
    #[must_use]
    pub fn with_token(self, token: impl Into<SecretString>) -> Self {
        self.with_auth(AuthMethod::Token(token.into()))
    }

    /// Sets the retry policy.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the per-request timeout.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "t" | "true" | "yes" => Some(true),
        "0" | "f" | "false" | "no" => Some(false),
        _ => None,
    }
}

/// The `vault:` section of a Flotilla config file. Secrets are never inline:
/// tokens and secret IDs come from files or environment variables.
///
/// ```
/// use flotilla_vault::VaultSettings;
///
/// let settings: VaultSettings = serde_yaml_ng::from_str(r#"
/// address: https://vault.internal:8200
/// caCert: /etc/flotilla/vault-ca.pem
/// auth:
///   kubernetes:
///     role: flotilla
/// "#).unwrap();
/// let config = settings.to_config().unwrap();
/// assert_eq!(config.addr, "https://vault.internal:8200");
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VaultSettings {
    /// Server address (else `VAULT_ADDR`).
    #[serde(default)]
    pub address: Option<String>,
    /// Namespace (else `VAULT_NAMESPACE`).
    #[serde(default)]
    pub namespace: Option<String>,
    /// CA file (else `VAULT_CACERT`).
    #[serde(default)]
    pub ca_cert: Option<PathBuf>,
    /// Retries after the first attempt.
    #[serde(default)]
    pub max_retries: Option<u32>,
    /// How to log in (else `VAULT_TOKEN`).
    #[serde(default)]
    pub auth: Option<AuthSettings>,
}

/// The auth part of [`VaultSettings`]: exactly one method.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthSettings {
    /// A token read from a file.
    #[serde(default)]
    pub token: Option<TokenAuthSettings>,
    /// Kubernetes auth with a ServiceAccount token.
    #[serde(default)]
    pub kubernetes: Option<KubernetesAuthSettings>,
    /// AppRole auth.
    #[serde(default)]
    pub approle: Option<AppRoleAuthSettings>,
}

/// Token auth settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenAuthSettings {
    /// The file holding the token.
    pub token_file: PathBuf,
}

/// Kubernetes auth settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubernetesAuthSettings {
    /// The Vault role.
    pub role: String,
    /// Mount path of the auth method (default `kubernetes`).
    #[serde(default)]
    pub mount: Option<String>,
    /// The JWT file (default the pod's ServiceAccount token).
    #[serde(default)]
    pub jwt_file: Option<PathBuf>,
}

/// AppRole auth settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppRoleAuthSettings {
    /// The role ID file.
    pub role_id_file: PathBuf,
    /// The secret ID file, when the role binds one.
    #[serde(default)]
    pub secret_id_file: Option<PathBuf>,
    /// Mount path of the auth method (default `approle`).
    #[serde(default)]
    pub mount: Option<String>,
}

fn read_secret_file(path: &Path) -> Result<SecretString, VaultError> {
    let text = std::fs::read_to_string(path).map_err(VaultError::io("reading", path))?;
    Ok(SecretString::new(text.trim()))
}

impl VaultSettings {
    /// The client configuration: these settings over the environment.
    pub fn to_config(&self) -> Result<ClientConfig, VaultError> {
        let mut config = ClientConfig::from_env()?;
        if let Some(addr) = &self.address {
            config.addr = addr.clone();
        }
        if let Some(ns) = &self.namespace {
            config.namespace = Some(ns.clone());
        }
        if let Some(ca) = &self.ca_cert {
            config.ca_cert = Some(ca.clone());
        }
        if let Some(n) = self.max_retries {
            config.retry.max_retries = n;
        }
        if let Some(auth) = &self.auth {
            let given = [
                auth.token.is_some(),
                auth.kubernetes.is_some(),
                auth.approle.is_some(),
            ]
            .iter()
            .filter(|b| **b)
            .count();
            if given != 1 {
                return Err(VaultError::Config(
                    "vault.auth must hold exactly one of `token`, `kubernetes`, `approle`".into(),
                ));
            }
            if let Some(t) = &auth.token {
                config.auth = AuthMethod::Token(read_secret_file(&t.token_file)?);
            }
            if let Some(k) = &auth.kubernetes {
                config.auth = AuthMethod::Kubernetes {
                    mount: k.mount.clone().unwrap_or_else(|| "kubernetes".into()),
                    role: k.role.clone(),
                    jwt: JwtSource::File(
                        k.jwt_file
                            .clone()
                            .unwrap_or_else(|| DEFAULT_SERVICE_ACCOUNT_TOKEN.into()),
                    ),
                };
            }
            if let Some(a) = &auth.approle {
                config.auth = AuthMethod::AppRole {
                    mount: a.mount.clone().unwrap_or_else(|| "approle".into()),
                    role_id: read_secret_file(&a.role_id_file)?,
                    secret_id: a
                        .secret_id_file
                        .as_deref()
                        .map(read_secret_file)
                        .transpose()?,
                };
            }
        }
        Ok(config)
    }
}
