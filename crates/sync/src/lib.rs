//! Everything that talks to a cluster: cluster registry, discovery, diff,
//! server-side apply, prune, waves and hooks, health.
//!
//! - [`ClusterRegistry`]: destinations from kubeconfig contexts and explicit
//!   [`flotilla_core::Cluster`] entries; one reused client per cluster
//!   ([`ClusterConn`]), with cached discovery, request counters and a
//!   client-side rate limiter ([`ClusterLimits`]: client-go's QPS and burst,
//!   [`DEFAULT_CLUSTER_LIMITS`] unless configured).
//! - [`SyncEngine`]: [`SyncEngine::compare`] (Synced / OutOfSync / Missing /
//!   Extraneous, unified diffs, health) and [`SyncEngine::sync`] /
//!   [`SyncEngine::sync_with_retry`]: validate everything with a server-side
//!   dry run, server-side apply (field manager `flotilla`) in Argo CD's order
//!   (phases, waves, kinds), wait for health between waves, hooks, prune.
//!   The desired state is passed as `Result<Vec<Manifest>, SourceError>`: a
//!   render failure can never prune.
//! - [`cache`]: the watch-fed cluster cache compares and prunes read from
//!   when [`EngineSettings::cache`] is on (the controller's case).
//! - [`health`]: Argo CD's health assessment as pure functions.
//! - [`diff`]: normalisation, `ignoreDifferences`, Secret masking, YAML diffs.
//! - [`tree`]: an Application's resources and what they own, with health.
//! - [`tracking`]: Argo CD-compatible resource tracking.
//! - [`retry`]: Argo CD's retry backoff.
//! - [`stats`]: request counting per cluster.
//! - [`ratelimit`]: the token bucket behind [`ClusterLimits`].
#![warn(missing_docs)]

pub mod cache;
mod cluster;
pub mod diff;
mod engine;
mod error;
pub mod health;
pub mod order;
pub mod ratelimit;
pub mod retry;
pub mod stats;
pub mod tracking;
pub mod tree;

pub use cache::{CacheEvent, CacheStats, ClusterCache};
pub use cluster::{normalize_server, ClusterConn, ClusterRegistry, DiscoveryIndex, ResourceType};
pub use engine::{
    AppStatus, EngineSettings, ProgressEvent, ProgressFn, ResourceOperation, ResourceResult,
    ResourceSyncStatus, SyncEngine, SyncResult, SyncSettings, FIELD_MANAGER,
};
pub use error::{Result, SourceError, SyncError, ValidationFailure};
pub use health::{HealthCode, HealthStatus};
pub use order::SyncPhase;
pub use ratelimit::{ClusterLimits, CLIENT_GO_LIMITS, DEFAULT_CLUSTER_LIMITS};
pub use stats::{RequestCounts, RequestStats};
pub use tokio_util::sync::CancellationToken;
pub use tracking::TrackingMethod;
