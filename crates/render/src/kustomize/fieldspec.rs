//! Walking a field spec's path through an object, as kustomize's
//! `fieldspec.Filter` does: lists on the way are entered element by
//! element, missing fields are created only when the spec says so, and a
//! `null` field becomes an empty node of the kind being created.

use serde_json::{Map, Value};

use super::config::{split_path, FieldSpec, OwnedFieldSpec};
use super::resource::Gvk;

/// What kind of node to create for a missing last path element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateKind {
    /// A mapping (labels, annotations).
    Map,
    /// A scalar (names, namespaces).
    Scalar,
    /// Nothing is ever created.
    None,
}

/// A field spec with its path split.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Kind selector.
    pub gvk: Gvk,
    /// Path elements.
    pub path: Vec<String>,
    /// Create missing fields.
    pub create: bool,
}

impl From<&FieldSpec> for Spec {
    fn from(f: &FieldSpec) -> Self {
        Spec {
            gvk: Gvk {
                group: f.group.into(),
                version: f.version.into(),
                kind: f.kind.into(),
            },
            path: split_path(f.path),
            create: f.create,
        }
    }
}

impl From<&OwnedFieldSpec> for Spec {
    fn from(f: &OwnedFieldSpec) -> Self {
        Spec {
            gvk: f.gvk(),
            path: split_path(&f.path),
            create: f.create,
        }
    }
}

impl Spec {
    /// Whether the spec applies to an object (kind, group and version as selectors).
    pub fn matches(&self, obj: &Map<String, Value>) -> bool {
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        if !self.gvk.kind.is_empty() && self.gvk.kind != kind {
            return false;
        }
        let av = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let g = Gvk::new(av, "");
        (self.gvk.group.is_empty() || self.gvk.group == g.group)
            && (self.gvk.version.is_empty() || self.gvk.version == g.version)
    }

    /// Applies `set` at every place the path reaches in `obj` (which must
    /// match). Errors are messages without context.
    pub fn apply<F>(
        &self,
        obj: &mut Map<String, Value>,
        create_kind: CreateKind,
        set: &mut F,
    ) -> Result<(), String>
    where
        F: FnMut(&mut Value) -> Result<(), String>,
    {
        self.apply_at(obj, create_kind, &mut |v, _| set(v))
    }

    /// Like [`Spec::apply`], also giving the path of each place reached.
    pub fn apply_at<F>(
        &self,
        obj: &mut Map<String, Value>,
        create_kind: CreateKind,
        set: &mut F,
    ) -> Result<(), String>
    where
        F: FnMut(&mut Value, &[Seg]) -> Result<(), String>,
    {
        if self.path.is_empty() {
            return Ok(());
        }
        let mut at = Vec::new();
        handle_map(obj, &self.path, self.create, create_kind, set, &mut at)
    }
}

/// One step of a path inside an object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Seg {
    /// A mapping key.
    Key(String),
    /// A list index.
    Idx(usize),
}

/// The value at a path, if it exists.
pub fn get_at<'a>(obj: &'a mut Map<String, Value>, path: &[Seg]) -> Option<&'a mut Value> {
    let (first, rest) = path.split_first()?;
    let Seg::Key(k) = first else { return None };
    let mut cur = obj.get_mut(k)?;
    for seg in rest {
        cur = match (seg, cur) {
            (Seg::Key(k), Value::Object(m)) => m.get_mut(k)?,
            (Seg::Idx(i), Value::Array(a)) => a.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn filter<F>(
    node: &mut Value,
    path: &[String],
    create: bool,
    ck: CreateKind,
    set: &mut F,
    at: &mut Vec<Seg>,
) -> Result<(), String>
where
    F: FnMut(&mut Value, &[Seg]) -> Result<(), String>,
{
    if path.is_empty() {
        return set(node, at);
    }
    match node {
        Value::Null => Ok(()),
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                at.push(Seg::Idx(i));
                let r = filter(item, path, create, ck, set, at);
                at.pop();
                r?;
            }
            Ok(())
        }
        Value::Object(m) => handle_map(m, path, create, ck, set, at),
        _ => Err(format!(
            "expected sequence or mapping node at {:?}",
            path.join("/")
        )),
    }
}

fn handle_map<F>(
    m: &mut Map<String, Value>,
    path: &[String],
    create: bool,
    ck: CreateKind,
    set: &mut F,
    at: &mut Vec<Seg>,
) -> Result<(), String>
where
    F: FnMut(&mut Value, &[Seg]) -> Result<(), String>,
{
    let (name, is_seq) = match path[0].strip_suffix("[]") {
        Some(n) => (n, true),
        None => (path[0].as_str(), false),
    };
    if name.is_empty() {
        return Err("cannot set or create an empty field name".into());
    }
    let last = path.len() <= 1;
    // What to create, if anything, and what a null field turns into.
    let kind: Option<CreateKind> = if !create || ck == CreateKind::None || is_seq {
        if is_seq {
            Some(CreateKind::None) // a null list becomes an empty list
        } else {
            None
        }
    } else if last {
        Some(ck)
    } else {
        Some(CreateKind::Map)
    };
    let creating = create && ck != CreateKind::None && !is_seq;
    if !m.contains_key(name) {
        if !creating {
            return Ok(());
        }
        let fresh = match kind {
            Some(CreateKind::Scalar) => Value::String(String::new()),
            _ => Value::Object(Map::new()),
        };
        m.insert(name.to_string(), fresh);
    }
    let field = m.get_mut(name).expect("field present");
    if field.is_null() {
        match kind {
            Some(CreateKind::Map) => *field = Value::Object(Map::new()),
            Some(CreateKind::Scalar) => *field = Value::String(String::new()),
            Some(CreateKind::None) => *field = Value::Array(Vec::new()),
            None => {}
        }
    }
    at.push(Seg::Key(name.to_string()));
    let r = filter(field, &path[1..], create, ck, set, at);
    at.pop();
    r
}

/// Sets a key in a mapping node found by a field spec (kyaml's `SetEntry`).
pub fn set_entry(node: &mut Value, key: &str, value: Value) -> Result<(), String> {
    match node {
        Value::Object(m) => {
            m.insert(key.to_string(), value);
            Ok(())
        }
        Value::Null => Ok(()),
        other => Err(format!(
            "wrong node kind: expected mapping but got {} setting {key:?}",
            kind_name(other)
        )),
    }
}

/// A node kind name for messages.
pub fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Object(_) => "mapping",
        Value::Array(_) => "sequence",
        Value::Null => "null",
        _ => "scalar",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn walk_and_create() {
        let mut obj = json!({"kind": "Deployment", "apiVersion": "apps/v1",
            "spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "b", "env": null}]}}}});
        let spec = Spec {
            gvk: Gvk::default(),
            path: split_path("spec/template/metadata/labels"),
            create: true,
        };
        let m = obj.as_object_mut().unwrap();
        spec.apply(m, CreateKind::Map, &mut |n| set_entry(n, "app", json!("x")))
            .unwrap();
        assert_eq!(
            obj["spec"]["template"]["metadata"]["labels"],
            json!({"app": "x"})
        );
        let spec = Spec {
            gvk: Gvk::default(),
            path: split_path("spec/template/spec/containers/name"),
            create: false,
        };
        let mut names = Vec::new();
        spec.apply(obj.as_object_mut().unwrap(), CreateKind::None, &mut |n| {
            names.push(n.clone());
            Ok(())
        })
        .unwrap();
        assert_eq!(names, vec![json!("a"), json!("b")]);
    }
}
