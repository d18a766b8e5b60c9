//! Everything that talks to a cluster: cluster registry, discovery, diff, server-side apply, prune, waves and hooks, health.
//!
//! This room of the workspace is laid out by `DESIGN.md`; its contents arrive with
//! the issue that owns it. See the crate's README.
