//! Unknown fields: kept on a round trip, listed by JSON path on request.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Fields of a document that Flotilla has no typed field for.
///
/// Every type that mirrors a user document flattens one of these, so that
/// what the user wrote is serialised back unchanged. Use
/// [`UnknownFields::unknown_fields`] to list them by path.
pub type Extra = serde_json::Map<String, Value>;

/// Lists fields that a document holds but Flotilla does not know, by JSON path.
///
/// Paths use dots for fields and `[i]` for list items, starting from the
/// value the method is called on: `spec.source.foo`, `spec.sources[1].bar`.
/// Field names that contain `.`, `[` or `]` are written as `["name"]`.
///
/// ```
/// use flotilla_core::{Application, UnknownFields};
///
/// let app: Application = serde_json::from_str(r#"{
///   "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
///   "metadata": {"name": "guestbook"},
///   "spec": {"source": {"repoURL": "https://example.com/repo.git", "foo": 1},
///            "destination": {"server": "https://kubernetes.default.svc"}}
/// }"#).unwrap();
/// assert_eq!(app.unknown_fields(), vec!["spec.source.foo".to_string()]);
/// ```
pub trait UnknownFields {
    /// Appends the paths of unknown fields found under `path` to `out`.
    ///
    /// `path` is the JSON path of `self` (empty for a document root).
    fn collect_unknown_fields(&self, path: &str, out: &mut Vec<String>);

    /// The JSON paths of every unknown field, relative to `self`.
    fn unknown_fields(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_unknown_fields("", &mut out);
        out
    }
}

impl<T: UnknownFields> UnknownFields for Option<T> {
    fn collect_unknown_fields(&self, path: &str, out: &mut Vec<String>) {
        if let Some(value) = self {
            value.collect_unknown_fields(path, out);
        }
    }
}

impl<T: UnknownFields> UnknownFields for Vec<T> {
    fn collect_unknown_fields(&self, path: &str, out: &mut Vec<String>) {
        for (i, item) in self.iter().enumerate() {
            item.collect_unknown_fields(&index_path(path, i), out);
        }
    }
}

impl<T: UnknownFields + ?Sized> UnknownFields for Box<T> {
    fn collect_unknown_fields(&self, path: &str, out: &mut Vec<String>) {
        (**self).collect_unknown_fields(path, out);
    }
}

/// The JSON path of field `key` inside the value at `parent`.
///
/// ```
/// use flotilla_core::field_path;
///
/// assert_eq!(field_path("", "spec"), "spec");
/// assert_eq!(field_path("spec", "source"), "spec.source");
/// assert_eq!(field_path("metadata.labels", "app.kubernetes.io/name"),
///            r#"metadata.labels["app.kubernetes.io/name"]"#);
/// ```
pub fn field_path(parent: &str, key: &str) -> String {
    if key.contains(['.', '[', ']']) {
        format!("{parent}[{key:?}]")
    } else if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// The JSON path of list item `index` inside the list at `parent`.
pub fn index_path(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// Appends the path of every key of `extra` under `path`.
pub(crate) fn push_extra(path: &str, extra: &Extra, out: &mut Vec<String>) {
    out.extend(extra.keys().map(|key| field_path(path, key)));
}

/// Implements [`UnknownFields`] for a struct with an `extra: Extra` field and
/// the listed nested fields (each itself [`UnknownFields`]).
macro_rules! impl_unknown_fields {
    ($ty:ty { $($field:ident => $name:literal),* $(,)? }) => {
        impl $crate::unknown::UnknownFields for $ty {
            fn collect_unknown_fields(&self, path: &str, out: &mut Vec<String>) {
                $(
                    $crate::unknown::UnknownFields::collect_unknown_fields(
                        &self.$field,
                        &$crate::unknown::field_path(path, $name),
                        out,
                    );
                )*
                $crate::unknown::push_extra(path, &self.extra, out);
            }
        }
    };
}
pub(crate) use impl_unknown_fields;

/// Deserialises an explicit `null` as the default value (an empty list or
/// map), as Kubernetes does for `labels:` written with nothing after it.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
