//! ApplicationSet generators (list, clusters, git files, git directories, matrix, merge) and templating into Applications.
//!
//! This room of the workspace is laid out by `DESIGN.md`; its contents arrive with
//! the issue that owns it. See the crate's README.
