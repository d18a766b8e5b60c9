//! Flotilla's data model: types only, no I/O.
//!
//! - [`Application`] and [`ApplicationSet`]: serde types for Argo CD
//!   `argoproj.io/v1alpha1` documents, with every [`Generator`] kind. Reading
//!   and writing back gives the same data; unknown fields are kept in `extra`
//!   ([`Extra`]) at every level and listed by JSON path with
//!   [`UnknownFields::unknown_fields`], so that callers can report them.
//! - [`SyncOptions`] and the [`annotations`] constants: Argo CD sync options
//!   and resource annotations.
//! - [`Cluster`]: a destination, as an Argo CD cluster secret describes it,
//!   with credentials in [`SecretString`]s that never print themselves.
//! - [`ResourceKey`] and [`Manifest`]: Kubernetes objects and what identifies them.
//! - [`CoreError`] and [`Location`]: the error kinds every crate shares.
//!
//! Nothing here reads files, talks to the network, or looks at the clock or
//! the environment.
#![warn(missing_docs)]

pub mod annotations;
mod application;
mod appset;
mod cluster;
mod error;
mod generators;
mod manifest;
mod meta;
mod resource;
mod sync_options;
mod unknown;

pub use annotations::HookType;
pub use application::{
    Application, ApplicationDestination, ApplicationSource, ApplicationSourceDirectory,
    ApplicationSourceHelm, ApplicationSourceJsonnet, ApplicationSourceKustomize,
    ApplicationSourcePlugin, ApplicationSpec, Backoff, HelmFileParameter, HelmParameter, Info,
    JsonnetVar, KustomizePatch, KustomizeReplica, KustomizeSelector, ManagedNamespaceMetadata,
    PluginEnvEntry, PluginParameter, ResourceIgnoreDifferences, RetryStrategy, SyncPolicy,
    SyncPolicyAutomated, APPLICATION_KIND, ARGOPROJ_API_VERSION, DEFAULT_PROJECT,
};
pub use appset::{
    ApplicationPreservedFields, ApplicationSet, ApplicationSetIgnoreDifferences,
    ApplicationSetSpec, ApplicationSetStrategy, ApplicationSetSyncPolicy, ApplicationSetTemplate,
    RollingSyncStep, RollingSyncStrategy, TemplateSpec, APPLICATION_SET_KIND,
};
pub use cluster::{
    Cluster, ClusterConfig, ExecProviderConfig, SecretString, TlsClientConfig, IN_CLUSTER_NAME,
    IN_CLUSTER_SERVER, REDACTED,
};
pub use error::{json_type_name, CoreError, Location};
pub use generators::{
    ClusterGenerator, Generator, GeneratorKind, GitGenerator, GitPathItem, ListGenerator,
    MatrixGenerator, MergeGenerator, UNSUPPORTED_GENERATOR_KINDS,
};
pub use manifest::Manifest;
pub use meta::{LabelSelector, LabelSelectorRequirement, ObjectMeta, SERVER_SET_METADATA_FIELDS};
pub use resource::{split_api_version, ResourceKey};
pub use sync_options::SyncOptions;
pub use unknown::{field_path, index_path, Extra, UnknownFields};
