//! Field specs: where kustomize's transformers apply (kind selector and a
//! `/`-separated path), and the name-reference table.

use serde::Deserialize;

use super::resource::Gvk;

/// A field spec from the built-in tables.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    /// Group selector (empty: any).
    pub group: &'static str,
    /// Version selector (empty: any).
    pub version: &'static str,
    /// Kind selector (empty: any).
    pub kind: &'static str,
    /// `/`-separated path; `\/` escapes a slash; `name[]` marks a list.
    pub path: &'static str,
    /// Create missing fields on the way.
    pub create: bool,
}

/// Builds a [`FieldSpec`] (used by the generated tables).
pub(crate) const fn fs(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    path: &'static str,
    create: bool,
) -> FieldSpec {
    FieldSpec {
        group,
        version,
        kind,
        path,
        create,
    }
}

/// Which fields refer to resources of one kind by name.
#[derive(Debug, Clone, Copy)]
pub struct NameBackRef {
    /// (group, version, kind) of the referred-to resources.
    pub gvk: (&'static str, &'static str, &'static str),
    /// Where referrers name them.
    pub referrers: &'static [FieldSpec],
}

/// A field spec as written in a kustomization (`labels[].fields`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnedFieldSpec {
    /// Group selector.
    #[serde(default)]
    pub group: String,
    /// Version selector.
    #[serde(default)]
    pub version: String,
    /// Kind selector.
    #[serde(default)]
    pub kind: String,
    /// Path.
    #[serde(default)]
    pub path: String,
    /// Create missing fields.
    #[serde(default)]
    pub create: bool,
}

impl OwnedFieldSpec {
    /// The selector as a [`Gvk`].
    pub fn gvk(&self) -> Gvk {
        Gvk {
            group: self.group.clone(),
            version: self.version.clone(),
            kind: self.kind.clone(),
        }
    }
}

impl From<&FieldSpec> for OwnedFieldSpec {
    fn from(f: &FieldSpec) -> Self {
        OwnedFieldSpec {
            group: f.group.into(),
            version: f.version.into(),
            kind: f.kind.into(),
            path: f.path.into(),
            create: f.create,
        }
    }
}

/// Adds specs to a list, skipping those already covered (kustomize's
/// `FsSlice.MergeAll`); a spec that differs only in `create` is a conflict.
pub fn merge_field_specs(
    list: &mut Vec<OwnedFieldSpec>,
    incoming: &[OwnedFieldSpec],
) -> Result<(), String> {
    for x in incoming {
        let xg = x.gvk();
        if let Some(existing) = list
            .iter()
            .find(|e| e.gvk().is_selected(&xg) && e.path == x.path)
        {
            if existing.create != x.create {
                return Err(format!("conflicting fieldspecs for path {:?}", x.path));
            }
            continue;
        }
        list.push(x.clone());
    }
    Ok(())
}

/// Splits a field-spec path on `/`, honouring `\/` escapes.
pub fn split_path(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek() == Some(&'/') {
            cur.push('/');
            chars.next();
        } else if c == '/' {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out.into_iter().filter(|s| !s.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            split_path("metadata/annotations/nginx.ingress.kubernetes.io\\/auth-secret"),
            vec![
                "metadata",
                "annotations",
                "nginx.ingress.kubernetes.io/auth-secret"
            ]
        );
    }
}
