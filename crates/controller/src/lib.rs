//! The reconcile loop: sources -> applications -> sync, state and history,
//! HTTP API, webhooks and metrics. It decides *when*; the crates below decide
//! *what*.
//!
//! Today it holds the first piece the loop and the one-shot CLI commands
//! share: [`source::SourceResolver`], which turns an Application's sources
//! into desired manifests (Git snapshot through `flotilla-git`, rendering
//! through `flotilla-render`).

pub mod source;
