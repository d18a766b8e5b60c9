//! Vault and OpenBao for Flotilla: an HTTP client, secret placeholders in
//! manifests, Vault configuration as code, and a preflight check of pods
//! that use the Vault agent injector.
//!
//! - [`VaultClient`]: async client for the Vault/OpenBao HTTP API — TLS
//!   with a custom CA, namespaces, configuration from `VAULT_*` variables
//!   ([`ClientConfig::from_env`]) or a config file ([`VaultSettings`]); auth
//!   by token, Kubernetes or AppRole ([`AuthMethod`]) with renewal and
//!   re-login before expiry; KV v1/v2 (`kv_*` methods) with the mount's
//!   version detected so `secret/api/env` reads `secret/data/api/env` on
//!   KV v2; `sys/` (init, unseal, seal status, mounts, auth methods,
//!   policies) and auth roles. Retries with backoff and a cap
//!   ([`RetryPolicy`]); errors ([`VaultError`]) name the path and carry
//!   Vault's messages.
//! - [`resolve_manifests`][]: `<path:secret/data/api/env#DB_URL[#version]>`
//!   placeholders (argocd-vault-plugin syntax) replaced in rendered
//!   manifests, one read per secret, failing with path and key named.
//! - [`VaultConfig`], [`plan()`], [`apply()`], [`converge()`]: `kind:
//!   VaultConfig` documents (engines, auth methods, policies, roles) planned
//!   and applied idempotently.
//! - [`check_manifests`]: the preflight check of agent injector annotations
//!   against live Vault or a VaultConfig ([`VaultView`]), with Vault's
//!   policy path matching ([`Acl`]).
//!
//! Secret values and tokens never appear in `Debug`, `Display`, errors or
//! logs: they are held in [`SecretString`] and [`SecretData`].
#![warn(missing_docs)]

mod agent_template;
mod auth;
mod check;
mod client;
mod config;
mod document;
mod duration;
mod error;
mod kv;
mod placeholder;
mod plan;
mod policy;
mod secret;
mod sys;

pub use agent_template::{template_secret_refs, TemplateFunction, TemplateRef};
pub use auth::{AuthInfo, AuthMethod, JwtSource, TokenInfo};
pub use check::{
    check_manifests, glob_match, CheckReport, Finding, FindingKind, VaultView, AGENT_CONFIGMAP,
    AGENT_INJECT, ANNOTATION_PREFIX, AUTH_PATH, INJECT_SECRET_PREFIX, INJECT_TEMPLATE_PREFIX, ROLE,
};
pub use client::VaultClient;
pub use config::{
    AppRoleAuthSettings, AuthSettings, ClientConfig, KubernetesAuthSettings, RetryPolicy,
    TokenAuthSettings, VaultSettings, DEFAULT_ADDR, DEFAULT_SERVICE_ACCOUNT_TOKEN,
};
pub use document::{
    AuthMethodSpec, DocumentMetadata, KubernetesAuthSpec, MountTuning, PolicySpec, Prune, RoleSpec,
    SecretEngineSpec, SecretSpec, ValueFrom, VaultConfig, VaultConfigSpec,
    VAULT_CONFIG_API_VERSION, VAULT_CONFIG_KIND,
};
pub use duration::{parse_duration, Seconds};
pub use error::{DocumentError, PlaceholderFailure, PolicyError, ResolveError, VaultError};
pub use kv::{KvMetadata, KvPath, KvSecret, KvVersion, KvVersionMeta, MountInfo};
pub use placeholder::{
    find_placeholders, resolve_manifests, Modifier, Placeholder, PlaceholderSyntaxError,
    ResolveOptions, ResolveReport, SecretSource,
};
pub use plan::{apply, converge, plan, Action, ApplyReport, Change, ItemKind, Plan, PlanItem};
pub use policy::{Acl, Capability, Decision, PathRule, Policy};
pub use secret::{SecretData, SecretString, REDACTED};
pub use sys::{
    HealthStatus, InitRequest, InitResponse, KubernetesRole, MountEntry, SealStatus, UnsealKeys,
};
