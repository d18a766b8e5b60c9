//! The one go-yaml-compatible YAML reader and writer of Flotilla: what
//! kustomize, Helm's `toYaml`/`fromYaml` and Argo CD read and print.
//!
//! - [`parse_first_document`]: a positioned tree ([`PNode`]) from
//!   `yaml-rust2` events, scalars resolved with go-yaml's rules
//!   ([`resolve_plain`], v3 for kyaml's resources, v2 for sigs.k8s.io/yaml),
//!   aliases and merge keys expanded under a node budget, nesting bounded,
//!   non-breaking-space indentation refused with its line.
//! - [`unmarshal`]: `sigs.k8s.io/yaml.Unmarshal` into `interface{}` (go-yaml
//!   v2, then JSON), as Helm reads values files and `fromYaml` reads text.
//! - [`emit_document`]: go-yaml v2's emitter for a JSON value, byte for byte
//!   (kustomize's output); [`marshal`]: `sigs.k8s.io/yaml.Marshal` (Helm's
//!   `toYaml`), which adds the JSON round trip's checks.
//!
//! ```
//! use serde_json::json;
//!
//! // A values file read as Helm reads it: YAML 1.1 scalars, numbers as float64.
//! let v = flotilla_yaml::unmarshal("replicas: 3\nratio: 1.50\nenabled: yes\n").unwrap();
//! assert_eq!(v, json!({"enabled": true, "ratio": 1.5, "replicas": 3.0}));
//! // ... and written back as `toYaml` prints it.
//! assert_eq!(flotilla_yaml::marshal(&v).unwrap(), "enabled: true\nratio: 1.5\nreplicas: 3\n");
//! ```
#![deny(missing_docs)]

mod emit;
mod number;
mod parse;
mod resolve;

pub use emit::{
    emit_document, emit_map_document, marshal, to_yaml_string, v2_key_cmp, v2_key_less,
    MarshalError,
};
pub use number::{go_format_float32, go_format_g, number_text};
pub use parse::{
    find_nbsp_indentation, parse_first_document, split_documents, unmarshal, unmarshal_with, PKind,
    PNode, ParseLimits, ParseOptions, YamlError,
};
pub use resolve::{
    parse_go_float, parse_go_int, parse_go_uint, parse_timestamp, resolve_plain,
    resolve_plain_value, resolved_to_value, v2_needs_quotes, Resolved, Resolver,
};
