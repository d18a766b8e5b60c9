//! Everything that talks to a cluster: cluster registry, discovery, diff,
//! server-side apply, prune, waves and hooks, health.
//!
//! - [`ClusterRegistry`]: destinations from kubeconfig contexts and explicit
//!   [`flotilla_core::Cluster`] entries; one reused client per cluster
//!   ([`ClusterConn`]), with cached discovery and request counters.
//! - [`SyncEngine`]: [`SyncEngine::compare`] (Synced / OutOfSync / Missing /
//!   Extraneous, unified diffs, health) and [`SyncEngine::sync`] /
//!   [`SyncEngine::sync_with_retry`]: validate everything with a server-side
//!   dry run, server-side apply (field manager `flotilla`) in Argo CD's order
//!   (phases, waves, kinds), wait for health between waves, hooks, prune.
//!   The desired state is passed as `Result<Vec<Manifest>, SourceError>`: a
//!   render failure can never prune.
//! - [`health`]: Argo CD's health assessment as pure functions.
//! - [`diff`]: normalisation, `ignoreDifferences`, Secret masking, YAML diffs.
//! - [`tracking`]: Argo CD-compatible resource tracking.
//! - [`retry`]: Argo CD's retry backoff.
//! - [`stats`]: request counting per cluster.
#![warn(missing_docs)]

mod cluster;
pub mod diff;
mod engine;
mod error;
pub mod health;
pub mod order;
pub mod retry;
pub mod stats;
pub mod tracking;
mod watch;

pub use cluster::{normalize_server, ClusterConn, ClusterRegistry, DiscoveryIndex, ResourceType};
pub use engine::{
    AppStatus, EngineSettings, ProgressEvent, ProgressFn, ResourceOperation, ResourceResult,
    ResourceSyncStatus, SyncEngine, SyncResult, SyncSettings, FIELD_MANAGER,
};
pub use error::{Result, SourceError, SyncError, ValidationFailure};
pub use health::{HealthCode, HealthStatus};
pub use order::SyncPhase;
pub use stats::{RequestCounts, RequestStats};
pub use tokio_util::sync::CancellationToken;
pub use tracking::TrackingMethod;
pub use watch::TrackedEvent;
