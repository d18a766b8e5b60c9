//! YAML as kustomize reads and writes it.
//!
//! - [`parse_first_document`]: a positioned tree from `yaml-rust2` events,
//!   scalars resolved with go-yaml's rules ([`resolve_plain`]), aliases and
//!   merge keys expanded under a node budget, non-breaking-space indentation
//!   refused with its line.
//! - [`emit_document`]: go-yaml v2's output for a JSON value, byte for byte.

mod emit;
mod parse;
mod resolve;

pub use emit::{emit_document, go_format_g, number_text, to_yaml_string, v2_key_less};
pub use parse::{
    find_nbsp_indentation, parse_first_document, split_documents, PKind, PNode, ParseLimits,
    ParseOptions, YamlError,
};
pub use resolve::{
    parse_timestamp, resolve_plain, resolve_plain_value, v2_needs_quotes, Resolved, Resolver,
};
