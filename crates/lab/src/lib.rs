//! Local Kubernetes regions and OpenBao on loopback, built from their Go
//! modules: how a user tries Flotilla on one machine, and what the tests run
//! on. See the crate README for what each module does.
//!
//! ```no_run
//! use flotilla_lab::{assets, Lab, UpOptions};
//! # async fn f() -> Result<(), flotilla_lab::LabError> {
//! let opts = assets::AssetOptions::from_env();
//! let bins = assets::ensure(&opts, &["kubernetes", "etcd", "kwok"], &assets::QuietProgress)?;
//! let lab = Lab::from_env();
//! lab.up(&UpOptions { regions: vec!["us-east-2".into()], ..Default::default() }, &bins).await?;
//! let client = lab.client("us-east-2").await?;
//! lab.down()?;
//! # Ok(()) }
//! ```

pub mod assets;
mod chart_server;
pub mod charts;
mod error;
pub mod example;
pub mod git_http;
mod helmignore;
pub mod kubeconfig;
mod lab;
mod lab_latency;
mod lab_services;
pub mod latency;
pub mod openbao;
pub mod pki;
pub mod process;
pub mod registry;
pub mod smoke;
pub mod storage;
mod testlab;
pub mod webhooks;

pub use error::{tail_lines, LabError, Result};
pub use lab::{
    ensure_crypto_provider, flotilla_home, validate_region, ComponentStatus, Lab, LabState,
    RegionState, UpOptions, REGION_COMPONENTS,
};
pub use lab_latency::PROXY_COMPONENT;
pub use lab_services::{ChartsState, ServeCommand};
pub use latency::{Latency, LatencyPlan, ProxyState};
pub use testlab::{TestLab, TestLabBuilder};
