//! `kind: VaultConfig`: Vault's configuration as data — secrets engines,
//! the secrets expected in them (paths and keys, never values), auth
//! methods with their config and roles, and policies.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::duration::Seconds;
use crate::error::DocumentError;
use crate::kv::KvVersion;
use crate::policy::Policy;
use crate::secret::SecretString;

/// The `apiVersion` of a VaultConfig document.
pub const VAULT_CONFIG_API_VERSION: &str = "flotilla.dev/v1alpha1";
/// The `kind` of a VaultConfig document.
pub const VAULT_CONFIG_KIND: &str = "VaultConfig";

/// A VaultConfig document.
///
/// ```
/// use flotilla_vault::VaultConfig;
///
/// let doc = VaultConfig::from_yaml(r#"
/// apiVersion: flotilla.dev/v1alpha1
/// kind: VaultConfig
/// metadata: {name: demo}
/// spec:
///   secretEngines:
///     - {path: secret, type: kv, version: 2}
///   policies:
///     - name: reader
///       hcl: |
///         path "secret/data/app" { capabilities = ["read"] }
/// "#, "vault.yaml")?;
/// assert_eq!(doc.spec.secret_engines[0].path, "secret");
/// assert_eq!(doc.spec.policies[0].name, "reader");
/// # Ok::<(), flotilla_vault::DocumentError>(())
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VaultConfig {
    /// `flotilla.dev/v1alpha1`.
    pub api_version: String,
    /// `VaultConfig`.
    pub kind: String,
    /// Name and labels.
    #[serde(default)]
    pub metadata: DocumentMetadata,
    /// What Vault should hold.
    pub spec: VaultConfigSpec,
    /// Directory relative file references are resolved from.
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// The file it was read from.
    #[serde(skip)]
    pub source: String,
}

/// `metadata` of a document.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentMetadata {
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// `spec` of a VaultConfig.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VaultConfigSpec {
    /// What `apply` may delete when it is in Vault but not here (default: nothing).
    #[serde(default)]
    pub prune: Prune,
    /// Secrets engines.
    #[serde(default)]
    pub secret_engines: Vec<SecretEngineSpec>,
    /// Secrets that must exist (paths and keys only; values never live in Git).
    #[serde(default)]
    pub secrets: Vec<SecretSpec>,
    /// Auth methods, their config and roles.
    #[serde(default)]
    pub auth_methods: Vec<AuthMethodSpec>,
    /// ACL policies.
    #[serde(default)]
    pub policies: Vec<PolicySpec>,
}

/// Which kinds of unlisted items `apply` deletes. All default to false.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Prune {
    /// ACL policies not listed (never `default` or `root`).
    #[serde(default)]
    pub policies: bool,
    /// Roles not listed, under the listed auth methods.
    #[serde(default)]
    pub roles: bool,
    /// Auth methods not listed (never `token/`).
    #[serde(default)]
    pub auth_methods: bool,
    /// Secrets engines not listed (never `sys/`, `identity/`, `cubbyhole/`).
    /// Disabling an engine deletes its data.
    #[serde(default)]
    pub secret_engines: bool,
}

/// A secrets engine mount.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretEngineSpec {
    /// Mount path, e.g. `secret`.
    pub path: String,
    /// Engine type: `kv`, `kv-v2`, `transit`, ...
    #[serde(rename = "type")]
    pub engine: String,
    /// KV version (1 or 2); `kv-v2` implies 2.
    #[serde(default)]
    pub version: Option<u8>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Other mount options.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Lease tuning.
    #[serde(default)]
    pub config: Option<MountTuning>,
}

impl SecretEngineSpec {
    /// The Vault engine type (`kv-v2` is `kv`).
    pub fn vault_type(&self) -> &str {
        if self.engine == "kv-v2" {
            "kv"
        } else {
            &self.engine
        }
    }

    /// The KV version, for KV engines.
    pub fn kv_version(&self) -> Option<KvVersion> {
        match (self.engine.as_str(), self.version) {
            ("kv-v2", _) => Some(KvVersion::V2),
            ("kv" | "generic", Some(2)) => Some(KvVersion::V2),
            ("kv" | "generic", _) => match self.options.get("version").map(String::as_str) {
                Some("2") => Some(KvVersion::V2),
                _ => Some(KvVersion::V1),
            },
            _ => None,
        }
    }
}

/// Lease tuning of a mount.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MountTuning {
    /// Default lease TTL.
    #[serde(default)]
    pub default_lease_ttl: Option<Seconds>,
    /// Max lease TTL.
    #[serde(default)]
    pub max_lease_ttl: Option<Seconds>,
}

/// A secret that must exist: its path and keys.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretSpec {
    /// The logical path, e.g. `secret/api/env` (`vault kv put` form).
    pub path: String,
    /// Keys it must hold.
    #[serde(default)]
    pub keys: Vec<String>,
    /// What it is for.
    #[serde(default)]
    pub description: Option<String>,
}

/// Where a secret setting (a reviewer JWT) comes from: never inline.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ValueFrom {
    /// An environment variable.
    #[serde(default)]
    pub env: Option<String>,
    /// A file (relative to the document).
    #[serde(default)]
    pub file: Option<PathBuf>,
}

/// An auth method.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthMethodSpec {
    /// Mount path (default: the type), e.g. `kubernetes`.
    #[serde(default)]
    pub path: Option<String>,
    /// Method type: `kubernetes`, `approle`, ...
    #[serde(rename = "type")]
    pub method: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Lease tuning.
    #[serde(default)]
    pub tune: Option<MountTuning>,
    /// For `kubernetes`: how to reach and trust the cluster.
    #[serde(default)]
    pub kubernetes: Option<KubernetesAuthSpec>,
    /// Roles.
    #[serde(default)]
    pub roles: Vec<RoleSpec>,
}

impl AuthMethodSpec {
    /// The mount path, without slashes.
    pub fn mount(&self) -> &str {
        self.path
            .as_deref()
            .map(|p| p.trim_matches('/').trim_start_matches("auth/"))
            .unwrap_or(&self.method)
    }
}

/// Config of the Kubernetes auth method (`auth/<mount>/config`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubernetesAuthSpec {
    /// The API server URL as Vault reaches it.
    pub kubernetes_host: String,
    /// The cluster CA, PEM.
    #[serde(default)]
    pub kubernetes_ca_cert: Option<String>,
    /// The cluster CA, from a file (relative to the document).
    #[serde(default)]
    pub kubernetes_ca_cert_file: Option<PathBuf>,
    /// A token of a ServiceAccount allowed to create TokenReviews
    /// (`system:auth-delegator`). Without it Vault uses the login JWT itself.
    #[serde(default)]
    pub token_reviewer_jwt: Option<ValueFrom>,
    /// Expected `iss` of the JWTs.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Skip issuer validation.
    #[serde(default)]
    pub disable_iss_validation: Option<bool>,
    /// Do not use the pod's own CA and token when Vault runs in the cluster.
    #[serde(default)]
    pub disable_local_ca_jwt: Option<bool>,
}

/// A role of an auth method. Fields apply to the method they belong to;
/// `extra` passes any other Vault parameter as is.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleSpec {
    /// Role name.
    pub name: String,
    /// Kubernetes: ServiceAccount names (globs allowed).
    #[serde(default)]
    pub bound_service_account_names: Vec<String>,
    /// Kubernetes: namespaces (globs allowed, e.g. `gen-algo-*`).
    #[serde(default)]
    pub bound_service_account_namespaces: Vec<String>,
    /// Kubernetes: required JWT audience.
    #[serde(default)]
    pub audience: Option<String>,
    /// Token policies.
    #[serde(default, alias = "tokenPolicies")]
    pub policies: Vec<String>,
    /// Token TTL.
    #[serde(default, alias = "tokenTtl")]
    pub ttl: Option<Seconds>,
    /// Token max TTL.
    #[serde(default, alias = "tokenMaxTtl")]
    pub max_ttl: Option<Seconds>,
    /// Leave out the `default` policy.
    #[serde(default, alias = "tokenNoDefaultPolicy")]
    pub no_default_policy: Option<bool>,
    /// AppRole: require a secret ID.
    #[serde(default)]
    pub bind_secret_id: Option<bool>,
    /// AppRole: secret ID TTL.
    #[serde(default)]
    pub secret_id_ttl: Option<Seconds>,
    /// AppRole: uses of a secret ID (0: unlimited).
    #[serde(default)]
    pub secret_id_num_uses: Option<u64>,
    /// AppRole: CIDRs a secret ID may be used from.
    #[serde(default)]
    pub secret_id_bound_cidrs: Vec<String>,
    /// Other Vault role parameters, by their Vault names.
    #[serde(default)]
    pub extra: BTreeMap<String, Value>,
}

/// An ACL policy.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicySpec {
    /// Name.
    pub name: String,
    /// HCL (or JSON) text.
    #[serde(default)]
    pub hcl: Option<String>,
    /// The text, from a file (relative to the document).
    #[serde(default)]
    pub file: Option<PathBuf>,
}

impl VaultConfig {
    /// Reads a document from a YAML file.
    pub fn load(path: &Path) -> Result<VaultConfig, DocumentError> {
        let text = std::fs::read_to_string(path).map_err(|e| DocumentError {
            file: path.display().to_string(),
            field: None,
            message: format!("cannot read it: {e}"),
        })?;
        let mut doc = Self::from_yaml(&text, &path.display().to_string())?;
        doc.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(doc)
    }

    /// Parses and validates a document; `source` names it in errors.
    pub fn from_yaml(text: &str, source: &str) -> Result<VaultConfig, DocumentError> {
        let err = |field: Option<String>, message: String| DocumentError {
            file: source.to_string(),
            field,
            message,
        };
        let mut docs = Vec::new();
        for (i, document) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
            let value: Value = Value::deserialize(document).map_err(|e| {
                let at = e
                    .location()
                    .map(|l| format!(":{}:{}", l.line(), l.column()))
                    .unwrap_or_default();
                DocumentError {
                    file: format!("{source}{at}"),
                    field: None,
                    message: format!("not YAML: {e}"),
                }
            })?;
            if value.is_null() {
                continue;
            }
            docs.push((i + 1, value));
        }
        let configs: Vec<&(usize, Value)> = docs
            .iter()
            .filter(|(_, v)| v.get("kind").and_then(Value::as_str) == Some(VAULT_CONFIG_KIND))
            .collect();
        let (index, value) = match configs.as_slice() {
            [one] => (one.0, one.1.clone()),
            [] => {
                return Err(err(
                    None,
                    format!("no document with `kind: {VAULT_CONFIG_KIND}` in it"),
                ))
            }
            _ => {
                return Err(err(
                    None,
                    format!(
                        "{} VaultConfig documents in one file; use one per file",
                        configs.len()
                    ),
                ))
            }
        };
        // Deserialise the document again from its text, so that errors carry its line.
        let typed = serde_yaml_ng::Deserializer::from_str(text)
            .nth(index - 1)
            .map(VaultConfig::deserialize);
        let mut doc: VaultConfig = match typed {
            Some(Ok(doc)) => doc,
            Some(Err(e)) => {
                let at = e
                    .location()
                    .map(|l| format!(":{}:{}", l.line(), l.column()))
                    .unwrap_or_default();
                return Err(DocumentError {
                    file: format!("{source}{at}"),
                    field: None,
                    message: e.to_string(),
                });
            }
            None => serde_json::from_value(value)
                .map_err(|e| err(None, format!("document {index}: {e}")))?,
        };
        doc.source = source.to_string();
        doc.validate()?;
        Ok(doc)
    }

    fn validate(&self) -> Result<(), DocumentError> {
        let err = |field: String, message: &str| DocumentError {
            file: self.source.clone(),
            field: Some(field),
            message: message.to_string(),
        };
        if self.api_version != VAULT_CONFIG_API_VERSION {
            return Err(err(
                "apiVersion".into(),
                &format!(
                    "expected {VAULT_CONFIG_API_VERSION}, found {:?}",
                    self.api_version
                ),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, engine) in self.spec.secret_engines.iter().enumerate() {
            let field = format!("spec.secretEngines[{i}]");
            let path = engine.path.trim_matches('/');
            if path.is_empty() {
                return Err(err(format!("{field}.path"), "the path is empty"));
            }
            if !seen.insert(path.to_string()) {
                return Err(err(format!("{field}.path"), "the path is listed twice"));
            }
            if let Some(v) = engine.version {
                if !matches!(v, 1 | 2) {
                    return Err(err(format!("{field}.version"), "KV version must be 1 or 2"));
                }
                if engine.kv_version().is_none() {
                    return Err(err(
                        format!("{field}.version"),
                        "`version` applies to KV engines only",
                    ));
                }
                if engine.engine == "kv-v2" && v == 1 {
                    return Err(err(format!("{field}.version"), "type kv-v2 is version 2"));
                }
            }
        }
        for (i, secret) in self.spec.secrets.iter().enumerate() {
            if secret.path.trim_matches('/').is_empty() {
                return Err(err(format!("spec.secrets[{i}].path"), "the path is empty"));
            }
        }
        let mut mounts = std::collections::BTreeSet::new();
        for (i, method) in self.spec.auth_methods.iter().enumerate() {
            let field = format!("spec.authMethods[{i}]");
            if !mounts.insert(method.mount().to_string()) {
                return Err(err(
                    format!("{field}.path"),
                    "the mount path is listed twice",
                ));
            }
            if method.kubernetes.is_some() && method.method != "kubernetes" {
                return Err(err(
                    format!("{field}.kubernetes"),
                    "only for `type: kubernetes`",
                ));
            }
            if let Some(k) = &method.kubernetes {
                if k.kubernetes_host.trim().is_empty() {
                    return Err(err(
                        format!("{field}.kubernetes.kubernetesHost"),
                        "the host is empty",
                    ));
                }
                if k.kubernetes_ca_cert.is_some() && k.kubernetes_ca_cert_file.is_some() {
                    return Err(err(
                        format!("{field}.kubernetes"),
                        "give kubernetesCaCert or kubernetesCaCertFile, not both",
                    ));
                }
                if let Some(jwt) = &k.token_reviewer_jwt {
                    if jwt.env.is_some() == jwt.file.is_some() {
                        return Err(err(
                            format!("{field}.kubernetes.tokenReviewerJwt"),
                            "give exactly one of `env` or `file` (never the token itself)",
                        ));
                    }
                }
            }
            let mut names = std::collections::BTreeSet::new();
            for (j, role) in method.roles.iter().enumerate() {
                let rfield = format!("{field}.roles[{j}]");
                if role.name.trim().is_empty() {
                    return Err(err(format!("{rfield}.name"), "the name is empty"));
                }
                if !names.insert(role.name.clone()) {
                    return Err(err(format!("{rfield}.name"), "the role is listed twice"));
                }
                let kube_fields = !role.bound_service_account_names.is_empty()
                    || !role.bound_service_account_namespaces.is_empty()
                    || role.audience.is_some();
                let approle_fields = role.bind_secret_id.is_some()
                    || role.secret_id_ttl.is_some()
                    || role.secret_id_num_uses.is_some()
                    || !role.secret_id_bound_cidrs.is_empty();
                match method.method.as_str() {
                    "kubernetes" => {
                        if approle_fields {
                            return Err(err(
                                rfield,
                                "secret ID settings apply to approle roles only",
                            ));
                        }
                        if role.bound_service_account_names.is_empty() {
                            return Err(err(
                                format!("{rfield}.boundServiceAccountNames"),
                                "a Kubernetes role needs at least one ServiceAccount name (or `*`)",
                            ));
                        }
                        if role.bound_service_account_namespaces.is_empty() {
                            return Err(err(
                                format!("{rfield}.boundServiceAccountNamespaces"),
                                "a Kubernetes role needs at least one namespace (or a glob such as `app-*`)",
                            ));
                        }
                        for (list, name) in [
                            (
                                &role.bound_service_account_names,
                                "boundServiceAccountNames",
                            ),
                            (
                                &role.bound_service_account_namespaces,
                                "boundServiceAccountNamespaces",
                            ),
                        ] {
                            if list.len() > 1 && list.iter().any(|v| v == "*") {
                                return Err(err(
                                    format!("{rfield}.{name}"),
                                    "`*` cannot be mixed with other values",
                                ));
                            }
                        }
                        if role.bound_service_account_names == ["*"]
                            && role.bound_service_account_namespaces == ["*"]
                        {
                            return Err(err(rfield, "names and namespaces cannot both be `*`"));
                        }
                    }
                    "approle" if kube_fields => {
                        return Err(err(
                            rfield,
                            "ServiceAccount bindings apply to kubernetes roles only",
                        ));
                    }
                    _ => {}
                }
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, policy) in self.spec.policies.iter().enumerate() {
            let field = format!("spec.policies[{i}]");
            let name = policy.name.trim();
            if name.is_empty() {
                return Err(err(format!("{field}.name"), "the name is empty"));
            }
            if name == "root" {
                return Err(err(
                    format!("{field}.name"),
                    "the root policy cannot be changed",
                ));
            }
            if !names.insert(name.to_ascii_lowercase()) {
                return Err(err(format!("{field}.name"), "the policy is listed twice"));
            }
            if policy.hcl.is_some() == policy.file.is_some() {
                return Err(err(field, "give exactly one of `hcl` or `file`"));
            }
            if let Some(text) = &policy.hcl {
                Policy::parse(name, text).map_err(|e| err(format!("{field}.hcl"), &e.message))?;
            }
        }
        Ok(())
    }

    fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }

    /// The policy text of `spec`, reading its file when it names one.
    pub fn policy_text(&self, spec: &PolicySpec) -> Result<String, DocumentError> {
        match (&spec.hcl, &spec.file) {
            (Some(text), _) => Ok(text.clone()),
            (None, Some(file)) => {
                let path = self.resolve(file);
                let text = std::fs::read_to_string(&path).map_err(|e| DocumentError {
                    file: self.source.clone(),
                    field: Some(format!("policy {}", spec.name)),
                    message: format!("cannot read {}: {e}", path.display()),
                })?;
                Policy::parse(&spec.name, &text).map_err(|e| DocumentError {
                    file: path.display().to_string(),
                    field: None,
                    message: e.to_string(),
                })?;
                Ok(text)
            }
            (None, None) => Ok(String::new()),
        }
    }

    /// The parsed policies of the document.
    pub fn parsed_policies(&self) -> Result<Vec<Policy>, DocumentError> {
        self.spec
            .policies
            .iter()
            .map(|spec| {
                let text = self.policy_text(spec)?;
                Policy::parse(&spec.name.to_ascii_lowercase(), &text).map_err(|e| DocumentError {
                    file: self.source.clone(),
                    field: Some(format!("policy {}", spec.name)),
                    message: e.message,
                })
            })
            .collect()
    }

    /// The CA PEM of a Kubernetes auth spec, reading its file when it names one.
    pub fn kubernetes_ca(
        &self,
        spec: &KubernetesAuthSpec,
    ) -> Result<Option<String>, DocumentError> {
        if let Some(pem) = &spec.kubernetes_ca_cert {
            return Ok(Some(pem.clone()));
        }
        match &spec.kubernetes_ca_cert_file {
            None => Ok(None),
            Some(file) => {
                let path = self.resolve(file);
                std::fs::read_to_string(&path)
                    .map(Some)
                    .map_err(|e| DocumentError {
                        file: self.source.clone(),
                        field: Some("kubernetesCaCertFile".into()),
                        message: format!("cannot read {}: {e}", path.display()),
                    })
            }
        }
    }

    /// A secret setting from its environment variable or file.
    pub fn secret_value(
        &self,
        from: &ValueFrom,
        what: &str,
    ) -> Result<SecretString, DocumentError> {
        let fail = |message: String| DocumentError {
            file: self.source.clone(),
            field: Some(what.to_string()),
            message,
        };
        if let Some(name) = &from.env {
            return std::env::var(name)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .map(|v| SecretString::new(v.trim()))
                .ok_or_else(|| fail(format!("environment variable {name} is not set")));
        }
        if let Some(file) = &from.file {
            let path = self.resolve(file);
            return std::fs::read_to_string(&path)
                .map(|v| SecretString::new(v.trim()))
                .map_err(|e| fail(format!("cannot read {}: {e}", path.display())));
        }
        Err(fail("neither `env` nor `file` is given".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "apiVersion: flotilla.dev/v1alpha1\nkind: VaultConfig\nspec:\n";

    #[test]
    fn unknown_fields_are_named_with_their_line() {
        let err = VaultConfig::from_yaml(&format!("{HEAD}  polices: []\n"), "v.yaml").unwrap_err();
        assert!(err.file.starts_with("v.yaml:4:"), "{err}");
        assert!(err.message.contains("polices"), "{err}");
    }

    #[test]
    fn values_are_rejected_and_roles_validated() {
        let inline_jwt = format!(
            "{HEAD}  authMethods:\n    - type: kubernetes\n      kubernetes: {{kubernetesHost: h, tokenReviewerJwt: {{value: x}}}}\n"
        );
        assert!(VaultConfig::from_yaml(&inline_jwt, "v.yaml").is_err());
        let no_ns = format!(
            "{HEAD}  authMethods:\n    - type: kubernetes\n      roles: [{{name: r, boundServiceAccountNames: [a]}}]\n"
        );
        let err = VaultConfig::from_yaml(&no_ns, "v.yaml").unwrap_err();
        assert_eq!(
            err.field.as_deref(),
            Some("spec.authMethods[0].roles[0].boundServiceAccountNamespaces")
        );
        let bad_hcl = format!("{HEAD}  policies: [{{name: p, hcl: 'path {{'}}]\n");
        let err = VaultConfig::from_yaml(&bad_hcl, "v.yaml").unwrap_err();
        assert_eq!(err.field.as_deref(), Some("spec.policies[0].hcl"));
        let two = format!("{HEAD}  secretEngines: []\n---\n{HEAD}  policies: []\n");
        assert!(VaultConfig::from_yaml(&two, "v.yaml")
            .unwrap_err()
            .message
            .contains("2 VaultConfig documents"));
    }

    #[test]
    fn kv_versions_of_engines() {
        let doc = VaultConfig::from_yaml(
            &format!("{HEAD}  secretEngines:\n    - {{path: a, type: kv-v2}}\n    - {{path: b, type: kv}}\n    - {{path: c, type: kv, options: {{version: '2'}}}}\n    - {{path: d, type: transit}}\n"),
            "v.yaml",
        )
        .unwrap();
        let versions: Vec<Option<KvVersion>> = doc
            .spec
            .secret_engines
            .iter()
            .map(|e| e.kv_version())
            .collect();
        assert_eq!(
            versions,
            vec![
                Some(KvVersion::V2),
                Some(KvVersion::V1),
                Some(KvVersion::V2),
                None
            ]
        );
        assert_eq!(doc.spec.secret_engines[0].vault_type(), "kv");
    }
}
