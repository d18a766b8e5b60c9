//! A native `kustomize build`: the same resources, in the same order, with
//! the same bytes.
//!
//! The engine mirrors kustomize v5.5.0 (api v0.18.0, kyaml v0.18.1) step by
//! step: [`build`] accumulates resources level by level, runs generators,
//! components and the built-in transformers in kustomize's order, then adds
//! hash suffixes, fixes name references, sorts and cleans up. Strategic
//! merge follows kyaml's walker ([`smp`]) with the Kubernetes schema kustomize
//! embeds ([`schema`]).

pub(crate) mod build;
pub mod config;
#[rustfmt::skip]
mod config_data;
pub mod fieldspec;
pub mod generators;
pub mod jsonpatch;
pub mod nameref;
pub(crate) mod replacements;
pub mod resource;
pub mod schema;
#[rustfmt::skip]
mod schema_data;
pub mod selector;
pub mod smp;
pub mod sort;
pub mod transform;
pub mod types;
pub mod vars;

use flotilla_core::Location;

use crate::error::RenderError;
use crate::yaml::{PKind, PNode};
use types::Kustomization;

/// Decodes a kustomization file, naming the offending field and line.
pub(crate) fn decode_kustomization(node: &PNode, file: &str) -> Result<Kustomization, RenderError> {
    let PKind::Map(entries) = &node.kind else {
        return Err(RenderError::input(
            Location::new(file, node.line, node.col),
            "invalid Kustomization: expected a mapping",
        ));
    };
    match serde_json::from_value::<Kustomization>(node.clone().into_value()) {
        Ok(k) => Ok(k),
        Err(whole) => {
            for (key, child) in entries {
                let mut one = serde_json::Map::new();
                one.insert(key.clone(), child.clone().into_value());
                if let Err(e) =
                    serde_json::from_value::<Kustomization>(serde_json::Value::Object(one))
                {
                    let mut msg = e.to_string();
                    if let Some(i) = msg.find(", expected one of") {
                        msg.truncate(i);
                    }
                    let line = if msg.starts_with("unknown field") {
                        child.line.min(key_line(node, key))
                    } else {
                        child.line
                    };
                    return Err(RenderError::input(
                        Location::new(file, line, 1),
                        format!("invalid Kustomization: field `{key}`: {msg}"),
                    ));
                }
            }
            Err(RenderError::input(
                Location::in_file(file),
                format!("invalid Kustomization: {whole}"),
            ))
        }
    }
}

fn key_line(node: &PNode, key: &str) -> u32 {
    node.get(key).map(|n| n.line).unwrap_or(node.line)
}
