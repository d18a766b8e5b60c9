//! The part of the Kubernetes OpenAPI schema strategic merge needs: which
//! lists merge by key, with which keys, and how to reach them.
//!
//! The table (`schema_data.rs`) is generated from the schema kustomize
//! v5.5.0 embeds, so built-in kinds merge exactly as kustomize merges them;
//! kinds without a schema (custom resources) have their lists replaced.

use serde_json::Value;

use super::schema_data::{DEFS, ROOTS};

/// Marks "no schema" for list elements.
pub(crate) const NO_DEF: u16 = u16::MAX;

/// A definition: the fields that lead to merge lists, sorted by name.
pub(crate) struct Def {
    pub fields: &'static [Field],
}

/// One field of a definition.
pub(crate) struct Field {
    pub name: &'static str,
    pub ty: FieldType,
}

/// What a field is, as far as merging goes.
pub(crate) enum FieldType {
    /// A nested object with its own definition.
    Object(u16),
    /// A map whose values all have this definition (none in the current
    /// table, but the generator emits it for such schemas).
    #[allow(dead_code)]
    Map(u16),
    /// A list with patch strategy `merge`: its element definition (or
    /// [`NO_DEF`]) and merge keys (empty for lists of scalars).
    MergeList {
        elem: u16,
        keys: &'static [&'static str],
    },
}

/// A position in the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// An object definition.
    Def(u16),
    /// A list that merges by key.
    List {
        /// Element definition, or [`NO_DEF`].
        elem: u16,
        /// Merge keys (empty: a set of scalars).
        keys: &'static [&'static str],
    },
}

impl Schema {
    /// The schema of a resource type, if kustomize knows it.
    pub fn for_type(api_version: &str, kind: &str) -> Option<Schema> {
        ROOTS
            .binary_search_by(|(a, k, _)| (*a, *k).cmp(&(api_version, kind)))
            .ok()
            .map(|i| Schema::Def(ROOTS[i].2))
    }

    /// The schema of a map node without one of its own: kyaml looks the
    /// node's own `apiVersion` and `kind` up.
    pub fn for_node(v: &Value) -> Option<Schema> {
        Schema::for_map(v.as_object()?)
    }

    /// [`Schema::for_node`] for a mapping.
    pub fn for_map(m: &serde_json::Map<String, Value>) -> Option<Schema> {
        let av = m.get("apiVersion")?.as_str()?;
        let k = m.get("kind")?.as_str()?;
        if av.is_empty() || k.is_empty() {
            return None;
        }
        Schema::for_type(av, k)
    }

    /// The schema of a field of an object.
    pub fn field(self, name: &str) -> Option<Schema> {
        let Schema::Def(d) = self else { return None };
        let def = DEFS.get(d as usize)?;
        let f = def.fields.iter().find(|f| f.name == name)?;
        Some(match f.ty {
            FieldType::Object(d) => Schema::Def(d),
            FieldType::Map(d) => Schema::Def(MAP_FLAG | d),
            FieldType::MergeList { elem, keys } => Schema::List { elem, keys },
        })
        .map(|s| match s {
            // A map's values: any key gives the value schema.
            Schema::Def(x) if x & MAP_FLAG != 0 => Schema::Def(x),
            other => other,
        })
    }

    /// For a list schema: the element schema.
    pub fn elements(self) -> Option<Schema> {
        match self {
            Schema::List { elem, .. } if elem != NO_DEF => Some(Schema::Def(elem)),
            _ => None,
        }
    }
}

/// Internal flag: the definition describes the values of a map.
const MAP_FLAG: u16 = 0x8000;

impl Schema {
    /// Field lookup that understands map definitions (any key maps to the value schema).
    pub fn child(self, name: &str) -> Option<Schema> {
        match self {
            Schema::Def(d) if d & MAP_FLAG != 0 => Some(Schema::Def(d & !MAP_FLAG)),
            s => s.field(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_containers() {
        let d = Schema::for_type("apps/v1", "Deployment").unwrap();
        let c = d
            .child("spec")
            .unwrap()
            .child("template")
            .unwrap()
            .child("spec")
            .unwrap()
            .child("containers")
            .unwrap();
        match c {
            Schema::List { keys, .. } => assert_eq!(keys, &["name"]),
            _ => panic!(),
        }
        let env = c.elements().unwrap().child("env").unwrap();
        assert!(matches!(
            env,
            Schema::List {
                keys: &["name"],
                ..
            }
        ));
        let ports = c.elements().unwrap().child("ports").unwrap();
        assert!(matches!(
            ports,
            Schema::List {
                keys: &["containerPort", "protocol"],
                ..
            }
        ));
        assert!(Schema::for_type("example.com/v1", "Widget").is_none());
        let fin = d.child("metadata").unwrap().child("finalizers").unwrap();
        assert!(matches!(fin, Schema::List { keys: &[], .. }));
    }
}
