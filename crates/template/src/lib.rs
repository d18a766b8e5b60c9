//! Go text/template engine with Sprig and Helm functions, used by ApplicationSets, Vault agent templates and Helm rendering.
//!
//! This room of the workspace is laid out by `DESIGN.md`; its contents arrive with
//! the issue that owns it. See the crate's README.
