//! Manifests from a source: plain directories, kustomize (output identical to `kustomize build`) and Helm.
//!
//! This room of the workspace is laid out by `DESIGN.md`; its contents arrive with
//! the issue that owns it. See the crate's README.
