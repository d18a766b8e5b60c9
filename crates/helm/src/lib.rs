//! Helm charts for Flotilla, in two halves:
//!
//! - the pure renderer: a chart loaded from a directory, a `.tgz` or a Git
//!   tree, values coalesced as Helm's `chartutil` does, validated against
//!   `values.schema.json`, rendered with Helm's functions over
//!   [`flotilla_template`], and printed as `helm template` v3.17.4 prints it;
//! - the fetcher ([`fetch`]): charts from HTTP chart repositories
//!   (`index.yaml`, semver ranges), OCI registries and Git, with their
//!   dependencies, into a cache keyed by digest, so a render never touches
//!   the network.

#![deny(missing_docs)]

pub mod chart;
mod engine;
mod error;
pub mod fetch;
pub mod metadata;
mod output;
mod render;
mod sort;
// chartutil: loading, values, dependencies, schema
pub mod deps;
pub mod load;
pub mod schema;
pub mod strvals;
pub mod values;

pub use chart::{Chart, ChartFile, Lock};
pub use engine::{Capabilities, HelmVersion, KubeVersion, ReleaseInfo, DEFAULT_API_VERSIONS};
pub use error::HelmError;
pub use load::{load, load_archive, load_dir, load_files, LoadError, LoadLimits};
pub use metadata::{ChartMetadata, Dependency, ImportValue, Maintainer};
pub use output::OutputOptions;
pub use render::{
    template, template_chart, CrdFile, Document, Head, Hook, HookEvent, Rendered, TemplateOptions,
};
pub use schema::{SchemaError, SchemaFailure};
pub use sort::{split_manifests, INSTALL_ORDER};
pub use values::{prepare, prepare_with_values, Prepared, ValueFile, ValuesError, ValuesOptions};
