//! The reconcile loop: sources -> applications -> sync, state and history,
//! HTTP API, webhooks and metrics. It decides *when*; the crates below decide
//! *what*.

pub mod api;
pub mod appsets;
pub mod config;
pub mod controller;
pub mod definitions;
pub mod metrics;
pub mod source;
pub mod store;
pub mod ui;
pub mod views;
pub mod webhook;

pub use controller::{Controller, ControllerError};
