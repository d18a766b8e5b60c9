//! `sys/` endpoints: init, unseal, seal status, mounts, auth methods,
//! policies; and the roles of the Kubernetes and AppRole auth methods.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::client::{as_u64, data_of, Request, VaultClient};
use crate::error::VaultError;
use crate::secret::SecretString;

/// Parameters of `sys/init`.
///
/// ```
/// use flotilla_vault::InitRequest;
///
/// let req = InitRequest::shamir(5, 3);
/// assert_eq!(req.secret_shares, 5);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitRequest {
    /// Number of unseal key shares.
    pub secret_shares: u32,
    /// Shares needed to unseal.
    pub secret_threshold: u32,
    /// For auto-unseal seals: recovery key shares.
    pub recovery_shares: Option<u32>,
    /// For auto-unseal seals: recovery threshold.
    pub recovery_threshold: Option<u32>,
}

impl InitRequest {
    /// Shamir shares and threshold.
    pub fn shamir(shares: u32, threshold: u32) -> Self {
        InitRequest {
            secret_shares: shares,
            secret_threshold: threshold,
            recovery_shares: None,
            recovery_threshold: None,
        }
    }
}

/// The answer of `sys/init`: unseal keys and the root token, all redacted
/// when shown. Write them somewhere safe with [`InitResponse::to_key_file`].
#[derive(Clone, Debug)]
pub struct InitResponse {
    /// Unseal keys, hex.
    pub keys: Vec<SecretString>,
    /// Unseal keys, base64.
    pub keys_base64: Vec<SecretString>,
    /// Recovery keys (auto-unseal), base64.
    pub recovery_keys_base64: Vec<SecretString>,
    /// The initial root token.
    pub root_token: SecretString,
    /// Shares requested.
    pub shares: u32,
    /// Threshold requested.
    pub threshold: u32,
}

impl InitResponse {
    /// The JSON that `vault operator init -format=json` prints (so
    /// `flotilla vault unseal --key-file` and `jq` scripts read either):
    /// `unseal_keys_b64`, `unseal_keys_hex`, `unseal_shares`,
    /// `unseal_threshold`, `recovery_keys_b64`, `root_token`.
    /// It holds the secrets in clear: write it to a private file only.
    pub fn to_key_file(&self) -> Value {
        let expose = |v: &[SecretString]| -> Vec<String> {
            v.iter().map(|s| s.expose().to_string()).collect()
        };
        json!({
            "unseal_keys_b64": expose(&self.keys_base64),
            "unseal_keys_hex": expose(&self.keys),
            "unseal_shares": self.shares,
            "unseal_threshold": self.threshold,
            "recovery_keys_b64": expose(&self.recovery_keys_base64),
            "root_token": self.root_token.expose(),
        })
    }
}

/// Unseal keys read from a key file written by `flotilla vault init` or
/// `vault operator init -format=json` (or OpenBao's `keys_base64` form).
///
/// ```
/// use flotilla_vault::UnsealKeys;
///
/// let keys = UnsealKeys::from_json(r#"{"unseal_keys_b64": ["a2V5MQ=="], "root_token": "s.x"}"#).unwrap();
/// assert_eq!(keys.keys.len(), 1);
/// assert!(!format!("{keys:?}").contains("a2V5"));
/// ```
#[derive(Clone, Debug)]
pub struct UnsealKeys {
    /// The keys, base64 (or hex, as given).
    pub keys: Vec<SecretString>,
}

impl UnsealKeys {
    /// Parses a key file.
    pub fn from_json(text: &str) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct File {
            #[serde(default, alias = "keys_base64")]
            unseal_keys_b64: Vec<String>,
            #[serde(default, alias = "keys")]
            unseal_keys_hex: Vec<String>,
        }
        let file: File = serde_json::from_str(text).map_err(|e| {
            format!(
                "not a Vault key file (line {}, column {}): expected `unseal_keys_b64`",
                e.line(),
                e.column()
            )
        })?;
        let keys: Vec<SecretString> = if !file.unseal_keys_b64.is_empty() {
            file.unseal_keys_b64
                .into_iter()
                .map(SecretString::new)
                .collect()
        } else {
            file.unseal_keys_hex
                .into_iter()
                .map(SecretString::new)
                .collect()
        };
        if keys.is_empty() {
            return Err("the key file holds no unseal keys (`unseal_keys_b64`)".into());
        }
        Ok(UnsealKeys { keys })
    }
}

/// `sys/seal-status`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct SealStatus {
    /// Seal type (`shamir`, ...).
    #[serde(rename = "type", default)]
    pub seal_type: String,
    /// Whether it is initialised.
    #[serde(default)]
    pub initialized: bool,
    /// Whether it is sealed.
    #[serde(default)]
    pub sealed: bool,
    /// Threshold.
    #[serde(default)]
    pub t: u32,
    /// Shares.
    #[serde(default)]
    pub n: u32,
    /// Keys given so far towards the threshold.
    #[serde(default)]
    pub progress: u32,
    /// Server version.
    #[serde(default)]
    pub version: String,
    /// Cluster name, once unsealed.
    #[serde(default)]
    pub cluster_name: Option<String>,
}

/// `sys/health`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct HealthStatus {
    /// Whether it is initialised.
    #[serde(default)]
    pub initialized: bool,
    /// Whether it is sealed.
    #[serde(default)]
    pub sealed: bool,
    /// Whether this node is a standby.
    #[serde(default)]
    pub standby: bool,
    /// Server version.
    #[serde(default)]
    pub version: String,
}

/// A secrets engine or auth method mount, as `sys/mounts` and `sys/auth` list them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MountEntry {
    /// Mount path with a trailing slash.
    pub path: String,
    /// Engine or method type.
    pub engine: String,
    /// Description.
    pub description: String,
    /// Options (e.g. `version` for KV).
    pub options: BTreeMap<String, String>,
    /// `config.default_lease_ttl` in seconds (0: the system default).
    pub default_lease_ttl: u64,
    /// `config.max_lease_ttl` in seconds (0: the system default).
    pub max_lease_ttl: u64,
    /// The mount accessor.
    pub accessor: String,
}

impl MountEntry {
    fn from_value(path: &str, v: &Value) -> Self {
        let info = crate::kv::MountInfo::from_data(path, v.as_object().unwrap_or(&Map::new()));
        MountEntry {
            path: crate::kv::with_slash(path),
            engine: info.engine,
            description: v
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .into(),
            options: info.options,
            default_lease_ttl: as_u64(v.pointer("/config/default_lease_ttl")).unwrap_or(0),
            max_lease_ttl: as_u64(v.pointer("/config/max_lease_ttl")).unwrap_or(0),
            accessor: v
                .get("accessor")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .into(),
        }
    }
}

/// A role of the Kubernetes auth method, as Vault answers it (durations in seconds).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KubernetesRole {
    /// Role name.
    pub name: String,
    /// ServiceAccount names it accepts (globs allowed; `*` for all).
    pub bound_service_account_names: Vec<String>,
    /// Namespaces it accepts (globs allowed; `*` for all).
    pub bound_service_account_namespaces: Vec<String>,
    /// A label selector over namespaces, if set.
    pub bound_service_account_namespace_selector: String,
    /// Policies of the tokens it issues.
    pub token_policies: Vec<String>,
    /// Whether the `default` policy is left out.
    pub token_no_default_policy: bool,
    /// Token TTL, seconds.
    pub token_ttl: u64,
    /// Token max TTL, seconds.
    pub token_max_ttl: u64,
    /// Audience the JWT must carry, if set.
    pub audience: String,
}

impl KubernetesRole {
    /// A role from the `data` of `auth/<mount>/role/<name>`.
    pub fn from_data(name: &str, data: &Map<String, Value>) -> Self {
        let strings = |key: &str| -> Vec<String> {
            match data.get(key) {
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
                Some(Value::String(s)) => s
                    .split(',')
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty())
                    .collect(),
                _ => Vec::new(),
            }
        };
        let mut token_policies = strings("token_policies");
        if token_policies.is_empty() {
            token_policies = strings("policies");
        }
        KubernetesRole {
            name: name.into(),
            bound_service_account_names: strings("bound_service_account_names"),
            bound_service_account_namespaces: strings("bound_service_account_namespaces"),
            bound_service_account_namespace_selector: data
                .get("bound_service_account_namespace_selector")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .into(),
            token_policies,
            token_no_default_policy: data
                .get("token_no_default_policy")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            token_ttl: as_u64(data.get("token_ttl").or(data.get("ttl"))).unwrap_or(0),
            token_max_ttl: as_u64(data.get("token_max_ttl").or(data.get("max_ttl"))).unwrap_or(0),
            audience: data
                .get("audience")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .into(),
        }
    }
}

fn mount_name(mount: &str) -> &str {
    mount
        .trim_matches('/')
        .trim_start_matches("auth/")
        .trim_matches('/')
}

impl VaultClient {
    /// `sys/health` (answers while sealed or standby too).
    pub async fn health(&self) -> Result<HealthStatus, VaultError> {
        let mut request = Request::get("sys/health").unauthenticated();
        request.accept = &[429, 472, 473, 501, 503];
        let answer = self.execute(&request, None).await?;
        decode(answer.body, "GET", "sys/health")
    }

    /// `sys/init` status: whether Vault is initialised.
    pub async fn init_status(&self) -> Result<bool, VaultError> {
        let answer = self
            .execute(&Request::get("sys/init").unauthenticated(), None)
            .await?;
        Ok(answer
            .body
            .as_ref()
            .and_then(|b| b.get("initialized"))
            .and_then(Value::as_bool)
            .unwrap_or(false))
    }

    /// Initialises Vault. The answer holds the unseal keys and root token.
    pub async fn init(&self, request: &InitRequest) -> Result<InitResponse, VaultError> {
        let mut body = json!({
            "secret_shares": request.secret_shares,
            "secret_threshold": request.secret_threshold,
        });
        if let Some(n) = request.recovery_shares {
            body["recovery_shares"] = json!(n);
        }
        if let Some(n) = request.recovery_threshold {
            body["recovery_threshold"] = json!(n);
        }
        let path = "sys/init";
        let answer = self
            .execute(&Request::put(path, body).unauthenticated(), None)
            .await?;
        let body = answer.body.unwrap_or(Value::Null);
        let secrets = |key: &str| -> Vec<SecretString> {
            body.get(key)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(SecretString::new))
                        .collect()
                })
                .unwrap_or_default()
        };
        let root_token = body
            .get("root_token")
            .and_then(Value::as_str)
            .map(SecretString::new)
            .ok_or_else(|| VaultError::Decode {
                method: "PUT".into(),
                path: path.into(),
                message: "no `root_token` in the answer".into(),
            })?;
        Ok(InitResponse {
            keys: secrets("keys"),
            keys_base64: secrets("keys_base64"),
            recovery_keys_base64: secrets("recovery_keys_base64"),
            root_token,
            shares: request.secret_shares,
            threshold: request.secret_threshold,
        })
    }

    /// `sys/seal-status`.
    pub async fn seal_status(&self) -> Result<SealStatus, VaultError> {
        let answer = self
            .execute(&Request::get("sys/seal-status").unauthenticated(), None)
            .await?;
        decode(answer.body, "GET", "sys/seal-status")
    }

    /// Gives one unseal key share; returns the seal status after it.
    pub async fn unseal(&self, key: &SecretString) -> Result<SealStatus, VaultError> {
        let answer = self
            .execute(
                &Request::put("sys/unseal", json!({"key": key.expose()})).unauthenticated(),
                None,
            )
            .await?;
        decode(answer.body, "PUT", "sys/unseal")
    }

    /// Gives key shares until Vault is unsealed or the keys run out.
    pub async fn unseal_with(&self, keys: &UnsealKeys) -> Result<SealStatus, VaultError> {
        let mut status = self.seal_status().await?;
        for key in &keys.keys {
            if !status.sealed {
                break;
            }
            status = self.unseal(key).await?;
        }
        Ok(status)
    }

    /// Discards the unseal keys given so far.
    pub async fn unseal_reset(&self) -> Result<SealStatus, VaultError> {
        let answer = self
            .execute(
                &Request::put("sys/unseal", json!({"reset": true})).unauthenticated(),
                None,
            )
            .await?;
        decode(answer.body, "PUT", "sys/unseal")
    }

    /// Seals Vault (needs a token with `sudo` on `sys/seal`).
    pub async fn seal(&self) -> Result<(), VaultError> {
        self.send(Request::put("sys/seal", json!({})))
            .await
            .map(|_| ())
    }

    async fn mount_table(&self, path: &str) -> Result<BTreeMap<String, MountEntry>, VaultError> {
        let answer = self.send(Request::get(path)).await?;
        let body = answer.body.unwrap_or(Value::Null);
        let table = match body.get("data").filter(|d| d.is_object()) {
            Some(data) => data.clone(),
            None => body,
        };
        Ok(table
            .as_object()
            .map(|m| {
                m.iter()
                    .filter(|(k, v)| k.ends_with('/') && v.is_object())
                    .map(|(k, v)| (k.clone(), MountEntry::from_value(k, v)))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// `sys/mounts`: secrets engines by path (with trailing slash).
    pub async fn list_mounts(&self) -> Result<BTreeMap<String, MountEntry>, VaultError> {
        self.mount_table("sys/mounts").await
    }

    /// Enables a secrets engine. `body` holds `type`, `description`,
    /// `options`, `config` as `sys/mounts/<path>` takes them.
    pub async fn enable_mount(&self, path: &str, body: Value) -> Result<(), VaultError> {
        let api = format!("sys/mounts/{}", path.trim_matches('/'));
        self.write(&api, body).await?;
        self.clear_mount_cache();
        Ok(())
    }

    /// Tunes a secrets engine (`sys/mounts/<path>/tune`).
    pub async fn tune_mount(&self, path: &str, body: Value) -> Result<(), VaultError> {
        let api = format!("sys/mounts/{}/tune", path.trim_matches('/'));
        self.write(&api, body).await?;
        self.clear_mount_cache();
        Ok(())
    }

    /// Disables a secrets engine, deleting its data.
    pub async fn disable_mount(&self, path: &str) -> Result<(), VaultError> {
        self.delete(&format!("sys/mounts/{}", path.trim_matches('/')))
            .await?;
        self.clear_mount_cache();
        Ok(())
    }

    /// `sys/auth`: auth methods by path (with trailing slash).
    pub async fn list_auth(&self) -> Result<BTreeMap<String, MountEntry>, VaultError> {
        self.mount_table("sys/auth").await
    }

    /// Enables an auth method. `body` holds `type`, `description`, `config`.
    pub async fn enable_auth(&self, path: &str, body: Value) -> Result<(), VaultError> {
        self.write(&format!("sys/auth/{}", mount_name(path)), body)
            .await
            .map(|_| ())
    }

    /// Tunes an auth method (`sys/auth/<path>/tune`).
    pub async fn tune_auth(&self, path: &str, body: Value) -> Result<(), VaultError> {
        self.write(&format!("sys/auth/{}/tune", mount_name(path)), body)
            .await
            .map(|_| ())
    }

    /// Disables an auth method.
    pub async fn disable_auth(&self, path: &str) -> Result<(), VaultError> {
        self.delete(&format!("sys/auth/{}", mount_name(path))).await
    }

    /// Reads an auth method's `config` (`auth/<mount>/config`).
    pub async fn read_auth_config(
        &self,
        mount: &str,
    ) -> Result<Option<Map<String, Value>>, VaultError> {
        self.read_data(&format!("auth/{}/config", mount_name(mount)))
            .await
    }

    /// Writes an auth method's `config`.
    pub async fn write_auth_config(&self, mount: &str, body: Value) -> Result<(), VaultError> {
        self.write(&format!("auth/{}/config", mount_name(mount)), body)
            .await
            .map(|_| ())
    }

    /// ACL policy names.
    pub async fn list_policies(&self) -> Result<Vec<String>, VaultError> {
        self.list("sys/policies/acl").await
    }

    /// An ACL policy's text; `None` when it does not exist.
    pub async fn read_policy(&self, name: &str) -> Result<Option<String>, VaultError> {
        let data = self.read_data(&format!("sys/policies/acl/{name}")).await?;
        Ok(data.and_then(|d| d.get("policy").and_then(Value::as_str).map(str::to_string)))
    }

    /// Creates or replaces an ACL policy.
    pub async fn write_policy(&self, name: &str, text: &str) -> Result<(), VaultError> {
        self.send(Request::put(
            &format!("sys/policies/acl/{name}"),
            json!({"policy": text}),
        ))
        .await
        .map(|_| ())
    }

    /// Deletes an ACL policy.
    pub async fn delete_policy(&self, name: &str) -> Result<(), VaultError> {
        self.delete(&format!("sys/policies/acl/{name}")).await
    }

    /// Role names of an auth method (`auth/<mount>/role`).
    pub async fn list_roles(&self, mount: &str) -> Result<Vec<String>, VaultError> {
        self.list(&format!("auth/{}/role", mount_name(mount))).await
    }

    /// A role of any auth method, as Vault answers it; `None` when it does not exist.
    pub async fn read_role(
        &self,
        mount: &str,
        name: &str,
    ) -> Result<Option<Map<String, Value>>, VaultError> {
        self.read_data(&format!("auth/{}/role/{name}", mount_name(mount)))
            .await
    }

    /// Creates or updates a role of any auth method.
    pub async fn write_role(&self, mount: &str, name: &str, body: Value) -> Result<(), VaultError> {
        self.write(&format!("auth/{}/role/{name}", mount_name(mount)), body)
            .await
            .map(|_| ())
    }

    /// Deletes a role.
    pub async fn delete_role(&self, mount: &str, name: &str) -> Result<(), VaultError> {
        self.delete(&format!("auth/{}/role/{name}", mount_name(mount)))
            .await
    }

    /// A Kubernetes auth role; `None` when it does not exist.
    pub async fn read_kubernetes_role(
        &self,
        mount: &str,
        name: &str,
    ) -> Result<Option<KubernetesRole>, VaultError> {
        Ok(self
            .read_role(mount, name)
            .await?
            .map(|data| KubernetesRole::from_data(name, &data)))
    }

    /// An AppRole role's ID.
    pub async fn approle_role_id(
        &self,
        mount: &str,
        role: &str,
    ) -> Result<SecretString, VaultError> {
        let path = format!("auth/{}/role/{role}/role-id", mount_name(mount));
        let data = self
            .read_data(&path)
            .await?
            .ok_or_else(|| VaultError::Api {
                method: "GET".into(),
                path: path.clone(),
                status: 404,
                errors: vec![format!("no AppRole role `{role}`")],
            })?;
        data.get("role_id")
            .and_then(Value::as_str)
            .map(SecretString::new)
            .ok_or_else(|| VaultError::Decode {
                method: "GET".into(),
                path,
                message: "no `role_id` in the answer".into(),
            })
    }

    /// Generates a new AppRole secret ID.
    pub async fn approle_secret_id(
        &self,
        mount: &str,
        role: &str,
    ) -> Result<SecretString, VaultError> {
        let path = format!("auth/{}/role/{role}/secret-id", mount_name(mount));
        let answer = self
            .send(Request::new(Method::POST, &path).body(json!({})))
            .await?;
        let data = data_of(answer.body.as_ref().unwrap_or(&Value::Null), "POST", &path)?;
        data.get("secret_id")
            .and_then(Value::as_str)
            .map(SecretString::new)
            .ok_or_else(|| VaultError::Decode {
                method: "POST".into(),
                path,
                message: "no `secret_id` in the answer".into(),
            })
    }
}

fn decode<T: serde::de::DeserializeOwned>(
    body: Option<Value>,
    method: &str,
    path: &str,
) -> Result<T, VaultError> {
    serde_json::from_value(body.unwrap_or(Value::Null)).map_err(|e| VaultError::Decode {
        method: method.into(),
        path: path.into(),
        message: e.to_string(),
    })
}
