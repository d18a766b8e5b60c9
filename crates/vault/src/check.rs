//! The preflight check: pods that use the Vault agent injector, checked
//! against Vault (live, or a VaultConfig document) before they are deployed.
//!
//! For every pod template with `vault.hashicorp.com/*` annotations: the role
//! exists; it binds the pod's ServiceAccount and the namespace the pod runs
//! in; its policies grant what the annotations and templates use; KV v2
//! paths carry `data/` (or `metadata/` for lists).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::future::Future;

use flotilla_core::Manifest;
use serde_json::{Map, Value};

use crate::agent_template::{template_secret_refs, TemplateFunction};
use crate::client::VaultClient;
use crate::document::VaultConfig;
use crate::error::VaultError;
use crate::kv::{with_slash, KvVersion, MountInfo};
use crate::plan::document_roles;
use crate::policy::{Acl, Capability, Policy};
use crate::sys::KubernetesRole;

/// Annotation prefix of the Vault agent injector.
pub const ANNOTATION_PREFIX: &str = "vault.hashicorp.com/";
/// `vault.hashicorp.com/agent-inject`
pub const AGENT_INJECT: &str = "vault.hashicorp.com/agent-inject";
/// `vault.hashicorp.com/role`
pub const ROLE: &str = "vault.hashicorp.com/role";
/// `vault.hashicorp.com/auth-path`
pub const AUTH_PATH: &str = "vault.hashicorp.com/auth-path";
/// `vault.hashicorp.com/agent-configmap`
pub const AGENT_CONFIGMAP: &str = "vault.hashicorp.com/agent-configmap";
/// Prefix of `vault.hashicorp.com/agent-inject-secret-<name>`.
pub const INJECT_SECRET_PREFIX: &str = "vault.hashicorp.com/agent-inject-secret-";
/// Prefix of `vault.hashicorp.com/agent-inject-template-<name>`.
pub const INJECT_TEMPLATE_PREFIX: &str = "vault.hashicorp.com/agent-inject-template-";

/// What Vault holds, as the check needs it: live Vault or a document.
pub trait VaultView: Send + Sync {
    /// Names the source in messages (`Vault at https://...`, `vault.yaml`).
    fn describe(&self) -> String;
    /// The type of the auth method mounted at `mount`, if any.
    fn auth_method_type(
        &self,
        mount: &str,
    ) -> impl Future<Output = Result<Option<String>, VaultError>> + Send;
    /// A Kubernetes auth role.
    fn kubernetes_role(
        &self,
        mount: &str,
        name: &str,
    ) -> impl Future<Output = Result<Option<KubernetesRole>, VaultError>> + Send;
    /// A policy, parsed.
    fn policy(&self, name: &str)
        -> impl Future<Output = Result<Option<Policy>, VaultError>> + Send;
    /// The secrets engine holding `path`.
    fn mount_for(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<Option<MountInfo>, VaultError>> + Send;
}

impl VaultView for VaultClient {
    fn describe(&self) -> String {
        format!("Vault at {}", self.addr())
    }

    async fn auth_method_type(&self, mount: &str) -> Result<Option<String>, VaultError> {
        let key = with_slash(mount);
        match self.list_auth().await {
            Ok(table) => Ok(table.get(&key).map(|e| e.engine.clone())),
            // A token that may not list auth methods: assume Kubernetes and let
            // the role lookup tell.
            Err(e) if e.is_permission_denied() => Ok(Some("kubernetes".into())),
            Err(e) => Err(e),
        }
    }

    async fn kubernetes_role(
        &self,
        mount: &str,
        name: &str,
    ) -> Result<Option<KubernetesRole>, VaultError> {
        self.read_kubernetes_role(mount, name).await
    }

    async fn policy(&self, name: &str) -> Result<Option<Policy>, VaultError> {
        match self.read_policy(name).await? {
            None => Ok(None),
            Some(text) => Ok(Some(Policy::parse(name, &text)?)),
        }
    }

    async fn mount_for(&self, path: &str) -> Result<Option<MountInfo>, VaultError> {
        VaultClient::mount_for(self, path).await
    }
}

impl VaultView for VaultConfig {
    fn describe(&self) -> String {
        format!("VaultConfig {}", self.source)
    }

    async fn auth_method_type(&self, mount: &str) -> Result<Option<String>, VaultError> {
        let mount = mount.trim_matches('/');
        Ok(self
            .spec
            .auth_methods
            .iter()
            .find(|m| m.mount() == mount)
            .map(|m| m.method.clone()))
    }

    async fn kubernetes_role(
        &self,
        mount: &str,
        name: &str,
    ) -> Result<Option<KubernetesRole>, VaultError> {
        let roles = document_roles(self);
        Ok(roles
            .get(&(mount.trim_matches('/').to_string(), name.to_string()))
            .map(|(_, r)| KubernetesRole {
                name: r.name.clone(),
                bound_service_account_names: r.bound_service_account_names.clone(),
                bound_service_account_namespaces: r.bound_service_account_namespaces.clone(),
                bound_service_account_namespace_selector: r
                    .extra
                    .get("bound_service_account_namespace_selector")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                token_policies: r.policies.iter().map(|p| p.to_ascii_lowercase()).collect(),
                token_no_default_policy: r.no_default_policy.unwrap_or(false),
                token_ttl: r.ttl.map(|t| t.0).unwrap_or(0),
                token_max_ttl: r.max_ttl.map(|t| t.0).unwrap_or(0),
                audience: r.audience.clone().unwrap_or_default(),
            }))
    }

    async fn policy(&self, name: &str) -> Result<Option<Policy>, VaultError> {
        Ok(self.parsed_policies()?.into_iter().find(|p| p.name == name))
    }

    async fn mount_for(&self, path: &str) -> Result<Option<MountInfo>, VaultError> {
        let probe = format!("{}/", path.trim_matches('/'));
        Ok(self
            .spec
            .secret_engines
            .iter()
            .filter(|e| probe.starts_with(&with_slash(&e.path)))
            .max_by_key(|e| e.path.len())
            .map(|e| MountInfo {
                path: with_slash(&e.path),
                engine: e.vault_type().to_string(),
                kv_version: e.kv_version(),
                options: e.options.clone(),
            }))
    }
}

/// The kind of a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FindingKind {
    /// Vault annotations without `agent-inject: "true"`: the injector ignores the pod.
    InjectDisabled,
    /// No `vault.hashicorp.com/role`.
    RoleAnnotationMissing,
    /// No auth method at the auth path, or not a Kubernetes one.
    AuthMethodMissing,
    /// The role does not exist.
    RoleMissing,
    /// The role does not bind the pod's ServiceAccount.
    ServiceAccountNotBound,
    /// The role does not bind the pod's namespace.
    NamespaceNotBound,
    /// The role names a policy that does not exist.
    PolicyMissing,
    /// No secrets engine holds the path.
    MountMissing,
    /// A KV v2 path without `data/` (or `metadata/` for lists).
    KvV2PathWithoutData,
    /// The policies do not grant what the path needs.
    NotGranted,
}

/// One problem, with what to change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// What is wrong.
    pub kind: FindingKind,
    /// The resource, e.g. `apps/v1/Deployment gen-algo-dev-us-east-2/gen-algo-api`.
    pub resource: String,
    /// Where its manifest came from, when known.
    pub location: Option<String>,
    /// The annotation concerned (full key).
    pub annotation: Option<String>,
    /// The Vault path concerned.
    pub path: Option<String>,
    /// The problem, in words.
    pub message: String,
    /// What to change.
    pub fix: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.resource)?;
        if let Some(location) = &self.location {
            write!(f, " ({location})")?;
        }
        if let Some(annotation) = &self.annotation {
            write!(f, "\n    annotation: {annotation}")?;
        }
        if let Some(path) = &self.path {
            write!(f, "\n    path: {path}")?;
        }
        write!(f, "\n    problem: {}\n    fix: {}", self.message, self.fix)
    }
}

/// The result of a check.
#[derive(Clone, Debug, Default)]
pub struct CheckReport {
    /// Pod templates with Vault annotations that were checked.
    pub pods_checked: usize,
    /// Problems found.
    pub findings: Vec<Finding>,
    /// Things that could not be checked.
    pub notes: Vec<String>,
}

impl CheckReport {
    /// True when nothing was found.
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for finding in &self.findings {
            writeln!(f, "{finding}")?;
        }
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        write!(
            f,
            "{} pod template{} with Vault annotations checked, {} finding{}",
            self.pods_checked,
            if self.pods_checked == 1 { "" } else { "s" },
            self.findings.len(),
            if self.findings.len() == 1 { "" } else { "s" },
        )
    }
}

/// `*` matches any run of characters, as Vault's Kubernetes auth matches
/// bound names and namespaces.
///
/// ```
/// use flotilla_vault::glob_match;
///
/// assert!(glob_match("gen-algo-*", "gen-algo-dev-us-east-2"));
/// assert!(glob_match("*", "anything"));
/// assert!(!glob_match("gen-algo", "gen-algo-dev-us-east-2"));
/// ```
pub fn glob_match(pattern: &str, subject: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == subject;
    }
    let mut rest = subject;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i + 1 == parts.len() {
            return rest.len() >= part.len() && rest.ends_with(part);
        } else if let Some(at) = rest.find(part) {
            rest = &rest[at + part.len()..];
        } else {
            return false;
        }
    }
    true
}

/// A pod template inside a manifest: its field, annotations and spec.
struct PodTemplate<'a> {
    field: &'static str,
    annotations: BTreeMap<String, String>,
    spec: Option<&'a Map<String, Value>>,
}

fn pod_template(manifest: &Manifest) -> Option<PodTemplate<'_>> {
    let kind = manifest.kind()?;
    let group = manifest
        .api_version()
        .map(|v| v.split_once('/').map(|(g, _)| g).unwrap_or(""));
    let (field, template) = match (group, kind) {
        (Some(""), "Pod") => ("", Some(&manifest.object)),
        (Some("batch"), "CronJob") => (
            "spec.jobTemplate.spec.template",
            manifest
                .object
                .get("spec")?
                .pointer("/jobTemplate/spec/template")
                .and_then(Value::as_object),
        ),
        (Some("apps"), "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
        | (Some("batch"), "Job")
        | (Some(""), "ReplicationController")
        | (Some("argoproj.io"), "Rollout") => (
            "spec.template",
            manifest
                .object
                .get("spec")?
                .get("template")
                .and_then(Value::as_object),
        ),
        _ => return None,
    };
    let template = template?;
    let annotations = template
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(Value::as_object)
        .map(|a| {
            a.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    Some(PodTemplate {
        field,
        annotations,
        spec: template.get("spec").and_then(Value::as_object),
    })
}

fn truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "true" | "1" | "t"
    )
}

fn ann_field(template_field: &str, key: &str) -> String {
    if template_field.is_empty() {
        format!("metadata.annotations[{key:?}]")
    } else {
        format!("{template_field}.metadata.annotations[{key:?}]")
    }
}

/// Caches lookups over one check.
struct Lookups<'a, V: VaultView> {
    view: &'a V,
    auth: HashMap<String, Option<String>>,
    roles: HashMap<(String, String), Option<KubernetesRole>>,
    policies: HashMap<String, Option<Policy>>,
    mounts: HashMap<String, Option<MountInfo>>,
}

impl<'a, V: VaultView> Lookups<'a, V> {
    async fn auth(&mut self, mount: &str) -> Result<Option<String>, VaultError> {
        if let Some(v) = self.auth.get(mount) {
            return Ok(v.clone());
        }
        let v = self.view.auth_method_type(mount).await?;
        self.auth.insert(mount.to_string(), v.clone());
        Ok(v)
    }

    async fn role(
        &mut self,
        mount: &str,
        name: &str,
    ) -> Result<Option<KubernetesRole>, VaultError> {
        let key = (mount.to_string(), name.to_string());
        if let Some(v) = self.roles.get(&key) {
            return Ok(v.clone());
        }
        let v = self.view.kubernetes_role(mount, name).await?;
        self.roles.insert(key, v.clone());
        Ok(v)
    }

    async fn policy(&mut self, name: &str) -> Result<Option<Policy>, VaultError> {
        if let Some(v) = self.policies.get(name) {
            return Ok(v.clone());
        }
        let v = self.view.policy(name).await?;
        self.policies.insert(name.to_string(), v.clone());
        Ok(v)
    }

    async fn mount(&mut self, path: &str) -> Result<Option<MountInfo>, VaultError> {
        if let Some(v) = self.mounts.get(path) {
            return Ok(v.clone());
        }
        let v = self.view.mount_for(path).await?;
        self.mounts.insert(path.to_string(), v.clone());
        Ok(v)
    }
}

/// A Vault path a pod uses, and where.
struct Use {
    annotation: String,
    path: String,
    function: TemplateFunction,
    writes: bool,
    from_template: bool,
}

/// Checks the pod templates of `manifests`, to be deployed to `namespace`
/// (objects with their own `metadata.namespace` keep it), against `view`.
///
/// ```
/// use flotilla_core::Manifest;
/// use flotilla_vault::{check_manifests, FindingKind, VaultConfig};
///
/// let config = VaultConfig::from_yaml(r#"
/// apiVersion: flotilla.dev/v1alpha1
/// kind: VaultConfig
/// spec:
///   secretEngines: [{path: secret, type: kv-v2}]
///   authMethods:
///     - type: kubernetes
///       roles:
///         - name: api
///           boundServiceAccountNames: [api]
///           boundServiceAccountNamespaces: [prod]
///           policies: [api]
///   policies:
///     - name: api
///       hcl: 'path "secret/data/api" { capabilities = ["read"] }'
/// "#, "vault.yaml")?;
/// let pod = Manifest::from_value(serde_json::json!({
///     "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "annotations": {
///         "vault.hashicorp.com/agent-inject": "true",
///         "vault.hashicorp.com/role": "api",
///         "vault.hashicorp.com/agent-inject-secret-env": "secret/data/api"}},
///     "spec": {"serviceAccountName": "api"}
/// })).unwrap();
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let report = check_manifests(&config, &[pod], "staging").await.unwrap();
/// assert_eq!(report.findings.len(), 1);
/// assert_eq!(report.findings[0].kind, FindingKind::NamespaceNotBound);
/// # });
/// # Ok::<(), flotilla_vault::DocumentError>(())
/// ```
pub async fn check_manifests<V: VaultView>(
    view: &V,
    manifests: &[Manifest],
    namespace: &str,
) -> Result<CheckReport, VaultError> {
    let mut report = CheckReport::default();
    let mut lookups = Lookups {
        view,
        auth: HashMap::new(),
        roles: HashMap::new(),
        policies: HashMap::new(),
        mounts: HashMap::new(),
    };
    let mut seen = BTreeSet::new();
    for manifest in manifests {
        let Some(pod) = pod_template(manifest) else {
            continue;
        };
        if !pod
            .annotations
            .keys()
            .any(|k| k.starts_with(ANNOTATION_PREFIX))
        {
            continue;
        }
        report.pods_checked += 1;
        let resource = match manifest.key() {
            Ok(key) => {
                let mut key = key;
                if key.namespace.is_none() {
                    key.namespace = Some(namespace.to_string());
                }
                key.to_string()
            }
            Err(_) => format!(
                "{} {}",
                manifest.kind().unwrap_or("?"),
                manifest.name().unwrap_or("?")
            ),
        };
        let location = manifest.location.as_ref().map(ToString::to_string);
        let mut findings: Vec<Finding> = Vec::new();
        let mut add = |kind: FindingKind,
                       annotation: Option<String>,
                       path: Option<String>,
                       message: String,
                       fix: String| {
            findings.push(Finding {
                kind,
                resource: resource.clone(),
                location: location.clone(),
                annotation,
                path,
                message,
                fix,
            });
        };
        let pod_namespace = manifest.namespace().unwrap_or(namespace).to_string();
        let service_account = pod
            .spec
            .and_then(|s| {
                s.get("serviceAccountName")
                    .or_else(|| s.get("serviceAccount"))
            })
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or("default")
            .to_string();

        // What the pod reads.
        let mut uses = Vec::new();
        for (key, value) in &pod.annotations {
            if let Some(name) = key.strip_prefix(INJECT_SECRET_PREFIX) {
                if name.is_empty() {
                    continue;
                }
                uses.push(Use {
                    annotation: key.clone(),
                    path: value.trim().trim_matches('/').to_string(),
                    function: TemplateFunction::Secret,
                    writes: false,
                    from_template: false,
                });
            } else if key.starts_with(INJECT_TEMPLATE_PREFIX) {
                for r in template_secret_refs(value) {
                    uses.push(Use {
                        annotation: key.clone(),
                        path: r.path,
                        function: r.function,
                        writes: r.writes,
                        from_template: true,
                    });
                }
            }
        }

        let inject = pod
            .annotations
            .get(AGENT_INJECT)
            .map(|v| truthy(v))
            .unwrap_or(false);
        if !inject {
            if !uses.is_empty() || pod.annotations.contains_key(ROLE) {
                add(
                    FindingKind::InjectDisabled,
                    Some(AGENT_INJECT.into()),
                    None,
                    "the pod has Vault agent annotations but not `vault.hashicorp.com/agent-inject: \"true\"`: the injector ignores it and the secrets never arrive".into(),
                    format!("set {} to \"true\"", ann_field(pod.field, AGENT_INJECT)),
                );
            }
            report.findings.extend(findings);
            continue;
        }
        if pod.annotations.contains_key(AGENT_CONFIGMAP) {
            report.notes.push(format!(
                "{resource}: uses its own agent config ({AGENT_CONFIGMAP}); its role and paths are not checked"
            ));
            continue;
        }

        let auth_path = pod
            .annotations
            .get(AUTH_PATH)
            .map(|p| p.trim().trim_matches('/').to_string())
            .unwrap_or_else(|| "auth/kubernetes".into());
        let mount = auth_path
            .strip_prefix("auth/")
            .unwrap_or(&auth_path)
            .to_string();

        let mut acl: Option<(Acl, Vec<String>, String)> = None;
        match pod
            .annotations
            .get(ROLE)
            .map(|r| r.trim())
            .filter(|r| !r.is_empty())
        {
            None => add(
                FindingKind::RoleAnnotationMissing,
                Some(ROLE.into()),
                None,
                "the pod uses the Vault agent but names no Vault role".into(),
                format!(
                    "set {} to a role of auth/{mount}",
                    ann_field(pod.field, ROLE)
                ),
            ),
            Some(role_name) => {
                let method = lookups.auth(&mount).await?;
                match method.as_deref() {
                    None => add(
                        FindingKind::AuthMethodMissing,
                        Some(AUTH_PATH.into()),
                        None,
                        format!("no auth method is enabled at auth/{mount} in {}", view.describe()),
                        format!("enable the Kubernetes auth method at `{mount}` (VaultConfig `authMethods: [{{type: kubernetes, path: {mount}}}]`), or set {} to the right path", ann_field(pod.field, AUTH_PATH)),
                    ),
                    Some(t) if t != "kubernetes" => add(
                        FindingKind::AuthMethodMissing,
                        Some(AUTH_PATH.into()),
                        None,
                        format!("auth/{mount} is a `{t}` auth method; the agent injector logs in with Kubernetes auth"),
                        format!("set {} to the path of a Kubernetes auth method", ann_field(pod.field, AUTH_PATH)),
                    ),
                    Some(_) => match lookups.role(&mount, role_name).await? {
                        None => add(
                            FindingKind::RoleMissing,
                            Some(ROLE.into()),
                            None,
                            format!("role `{role_name}` does not exist at auth/{mount} in {}", view.describe()),
                            format!(
                                "create it, binding ServiceAccount `{service_account}` in namespace `{pod_namespace}` (VaultConfig role, or `vault write auth/{mount}/role/{role_name} bound_service_account_names={service_account} bound_service_account_namespaces={pod_namespace} policies=...`), or fix the annotation"
                            ),
                        ),
                        Some(role) => {
                            let role_path = format!("auth/{mount}/role/{role_name}");
                            let names = &role.bound_service_account_names;
                            if !names.iter().any(|n| glob_match(n, &service_account)) {
                                add(
                                    FindingKind::ServiceAccountNotBound,
                                    Some(ROLE.into()),
                                    None,
                                    format!(
                                        "role `{role_name}` binds ServiceAccounts {names:?}, but the pod runs as `{service_account}`{}",
                                        if service_account == "default" { " (no serviceAccountName, so `default`)" } else { "" }
                                    ),
                                    format!(
                                        "set {} to one of {names:?}, or add `{service_account}` to bound_service_account_names of {role_path}",
                                        if pod.field.is_empty() {
                                            "spec.serviceAccountName".to_string()
                                        } else {
                                            format!("{}.spec.serviceAccountName", pod.field)
                                        }
                                    ),
                                );
                            }
                            let namespaces = &role.bound_service_account_namespaces;
                            if !namespaces.iter().any(|n| glob_match(n, &pod_namespace)) {
                                if role.bound_service_account_namespace_selector.is_empty() {
                                    let suggestion = namespaces
                                        .iter()
                                        .find(|n| !n.contains('*') && pod_namespace.starts_with(&format!("{n}-")))
                                        .map(|n| format!("`{n}-*` (a glob covering every `{n}-...` namespace) or `{pod_namespace}`"))
                                        .unwrap_or_else(|| format!("`{pod_namespace}`"));
                                    add(
                                        FindingKind::NamespaceNotBound,
                                        Some(ROLE.into()),
                                        None,
                                        format!(
                                            "role `{role_name}` binds namespaces {namespaces:?}, but the pod runs in `{pod_namespace}`: Vault will refuse its login (\"namespace not authorized\")"
                                        ),
                                        format!("add {suggestion} to bound_service_account_namespaces of {role_path}"),
                                    );
                                } else {
                                    report.notes.push(format!(
                                        "{resource}: role `{role_name}` selects namespaces by label ({}); whether it admits `{pod_namespace}` is not checked",
                                        role.bound_service_account_namespace_selector
                                    ));
                                }
                            }
                            let mut names: Vec<String> = role.token_policies.clone();
                            if !role.token_no_default_policy && !names.iter().any(|n| n == "default") {
                                names.push("default".into());
                            }
                            let mut policies = Vec::new();
                            for name in &names {
                                match lookups.policy(name).await? {
                                    Some(p) => policies.push(p),
                                    None if name == "default" || name == "root" => {
                                        if name == "root" {
                                            policies.push(Policy { name: "root".into(), rules: Vec::new() });
                                        }
                                    }
                                    None => add(
                                        FindingKind::PolicyMissing,
                                        Some(ROLE.into()),
                                        None,
                                        format!("role `{role_name}` attaches policy `{name}`, which does not exist in {}", view.describe()),
                                        format!("create policy `{name}` (VaultConfig `policies`), or remove it from {role_path}"),
                                    ),
                                }
                            }
                            let listed: Vec<String> = role.token_policies.clone();
                            acl = Some((Acl::new(&policies), listed, role_name.to_string()));
                        }
                    },
                }
            }
        }

        for u in &uses {
            let Some(info) = lookups.mount(&u.path).await? else {
                add(
                    FindingKind::MountMissing,
                    Some(u.annotation.clone()),
                    Some(u.path.clone()),
                    format!(
                        "no secrets engine is mounted at a prefix of `{}` in {}",
                        u.path,
                        view.describe()
                    ),
                    "enable the engine (VaultConfig `secretEngines`), or fix the path".into(),
                );
                continue;
            };
            let mut effective = u.path.clone();
            if info.kv_version == Some(KvVersion::V2) {
                let rest = u
                    .path
                    .strip_prefix(info.path.trim_end_matches('/'))
                    .unwrap_or(&u.path)
                    .trim_start_matches('/')
                    .to_string();
                let (want, what) = match u.function {
                    TemplateFunction::Secret => ("data/", "read"),
                    TemplateFunction::Secrets => ("metadata/", "list"),
                };
                let listed_root = want == "metadata/" && rest == "metadata";
                if !(rest.starts_with(want) || listed_root) {
                    effective = format!("{}{want}{rest}", info.path);
                    let shape = if u.from_template && u.function == TemplateFunction::Secret {
                        " (and `.Data.data.<KEY>` only exists in the answer of that path)"
                    } else {
                        ""
                    };
                    add(
                        FindingKind::KvV2PathWithoutData,
                        Some(u.annotation.clone()),
                        Some(u.path.clone()),
                        format!(
                            "`{}` is on the KV version 2 mount `{}`: the API path to {what} it is `{effective}`, which is also what policies grant{shape}",
                            u.path, info.path
                        ),
                        format!(
                            "write `{effective}` in {}",
                            if u.from_template { format!("the template (`{{{{ with secret \"{effective}\" }}}}`)") } else { "the annotation".to_string() }
                        ),
                    );
                }
            }
            if let Some((acl, listed, role_name)) = &acl {
                let capability = match (u.function, u.writes) {
                    (TemplateFunction::Secrets, _) => Capability::List,
                    (TemplateFunction::Secret, true) => Capability::Update,
                    (TemplateFunction::Secret, false) => Capability::Read,
                };
                let decision = acl.decide(&effective);
                if !decision.allows(&capability) {
                    let why = match &decision.pattern {
                        Some(p) if decision.capabilities.contains(&Capability::Deny) => {
                            format!("rule `{p}` of {:?} denies it", decision.policies)
                        }
                        Some(p) => format!(
                            "the deciding rule `{p}` of {:?} grants only {:?}",
                            decision.policies,
                            decision
                                .capabilities
                                .iter()
                                .map(|c| c.to_string())
                                .collect::<Vec<_>>()
                        ),
                        None => "no rule matches it".into(),
                    };
                    let target = listed
                        .first()
                        .cloned()
                        .unwrap_or_else(|| format!("a policy attached to role `{role_name}`"));
                    add(
                        FindingKind::NotGranted,
                        Some(u.annotation.clone()),
                        Some(effective.clone()),
                        format!(
                            "the policies of role `{role_name}` ({}) do not grant `{capability}` on `{effective}`: {why}",
                            if listed.is_empty() { "none but default".to_string() } else { listed.join(", ") }
                        ),
                        format!("add to policy `{target}`: path \"{effective}\" {{ capabilities = [\"{capability}\"] }}"),
                    );
                }
            }
        }
        for f in findings {
            let key = (
                f.resource.clone(),
                f.kind,
                f.annotation.clone(),
                f.path.clone(),
            );
            if seen.insert(key) {
                report.findings.push(f);
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("a*c", "abbbc"));
        assert!(glob_match("*-prod", "api-prod"));
        assert!(!glob_match("*-prod", "api-dev"));
        assert!(glob_match("a*b*c", "aXbYc"));
        assert!(!glob_match("a*b*c", "aXcYb"));
        assert!(!glob_match("ab*ba", "aba"));
    }
}
