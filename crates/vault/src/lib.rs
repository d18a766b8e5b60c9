//! Vault/OpenBao HTTP client, auth methods, KV v1/v2, secret placeholders in manifests and Vault-as-code.
//!
//! This room of the workspace is laid out by `DESIGN.md`; its contents arrive with
//! the issue that owns it. See the crate's README.
