//! The reconcile loop: sources to applications to sync, state and history store, HTTP API, webhooks, UI and metrics.
//!
//! This room of the workspace is laid out by `DESIGN.md`; its contents arrive with
//! the issue that owns it. See the crate's README.
