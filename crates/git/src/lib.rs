//! Git source on gix: fetch and clone into a cache, resolve revisions, read trees and files at a commit without a checkout, glob, change detection and credentials.
//!
//! This room of the workspace is laid out by `DESIGN.md`; its contents arrive with
//! the issue that owns it. See the crate's README.
