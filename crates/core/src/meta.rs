//! Kubernetes object metadata and label selectors, as Argo CD documents carry them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::unknown::{
    field_path, impl_unknown_fields, null_as_default, push_extra, Extra, UnknownFields,
};

/// Metadata fields that the API server sets; they are known (not reported as
/// unknown) and kept as they are.
pub const SERVER_SET_METADATA_FIELDS: &[&str] = &[
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "ownerReferences",
    "selfLink",
];

/// `metadata` of an Argo CD document (or of an ApplicationSet's template).
///
/// Empty lists and maps are left out when serialising, as Kubernetes does;
/// fields without a typed counterpart (including the server-set ones in
/// [`SERVER_SET_METADATA_FIELDS`]) are kept in `extra`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    /// `metadata.name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `metadata.generateName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate_name: Option<String>,
    /// `metadata.namespace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `metadata.labels`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
    /// `metadata.annotations`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub annotations: BTreeMap<String, String>,
    /// `metadata.finalizers`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub finalizers: Vec<String>,
    /// Every other metadata field, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ObjectMeta {
    /// Metadata with only a name.
    pub fn named(name: impl Into<String>) -> Self {
        ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        }
    }

    /// True when no field is set (serialises as `{}`).
    pub fn is_empty(&self) -> bool {
        self == &ObjectMeta::default()
    }
}

impl UnknownFields for ObjectMeta {
    fn collect_unknown_fields(&self, path: &str, out: &mut Vec<String>) {
        out.extend(
            self.extra
                .keys()
                .filter(|key| !SERVER_SET_METADATA_FIELDS.contains(&key.as_str()))
                .map(|key| field_path(path, key)),
        );
    }
}

/// A Kubernetes label selector (`matchLabels` and `matchExpressions`).
///
/// An empty selector matches everything.
///
/// ```
/// use std::collections::BTreeMap;
/// use flotilla_core::LabelSelector;
///
/// let selector: LabelSelector = serde_json::from_str(
///     r#"{"matchLabels": {"env": "prod"},
///         "matchExpressions": [{"key": "region", "operator": "In", "values": ["us-east-2"]}]}"#,
/// ).unwrap();
/// let labels = BTreeMap::from([
///     ("env".to_string(), "prod".to_string()),
///     ("region".to_string(), "us-east-2".to_string()),
/// ]);
/// assert!(selector.matches(&labels).unwrap());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    /// Labels that must all be present with these values.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub match_labels: BTreeMap<String, String>,
    /// Set-based requirements that must all hold.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub match_expressions: Vec<LabelSelectorRequirement>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

impl LabelSelector {
    /// True when the selector has no requirement (and matches everything).
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }

    /// Whether `labels` satisfy every requirement of this selector.
    ///
    /// Fails on an operator other than `In`, `NotIn`, `Exists` and
    /// `DoesNotExist`, or on `In`/`NotIn` without values.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> Result<bool, CoreError> {
        for (key, value) in &self.match_labels {
            if labels.get(key) != Some(value) {
                return Ok(false);
            }
        }
        for (i, requirement) in self.match_expressions.iter().enumerate() {
            if !requirement.matches(labels, i)? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// One `matchExpressions` entry of a [`LabelSelector`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelectorRequirement {
    /// The label key.
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    pub operator: String,
    /// Values for `In` and `NotIn`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub values: Vec<String>,
    /// Unknown fields, kept as written.
    #[serde(flatten)]
    pub extra: Extra,
}

impl LabelSelectorRequirement {
    fn matches(&self, labels: &BTreeMap<String, String>, index: usize) -> Result<bool, CoreError> {
        let value = labels.get(&self.key);
        let field = || format!("matchExpressions[{index}]");
        match self.operator.as_str() {
            "In" | "NotIn" if self.values.is_empty() => Err(CoreError::InvalidValue {
                field: field(),
                value: self.operator.clone(),
                reason: "operator needs at least one value".into(),
                location: None,
            }),
            "In" => Ok(value.is_some_and(|v| self.values.contains(v))),
            "NotIn" => Ok(!value.is_some_and(|v| self.values.contains(v))),
            "Exists" => Ok(value.is_some()),
            "DoesNotExist" => Ok(value.is_none()),
            other => Err(CoreError::InvalidValue {
                field: field() + ".operator",
                value: other.to_string(),
                reason: "expected one of In, NotIn, Exists, DoesNotExist".into(),
                location: None,
            }),
        }
    }
}

impl UnknownFields for LabelSelector {
    fn collect_unknown_fields(&self, path: &str, out: &mut Vec<String>) {
        self.match_expressions
            .collect_unknown_fields(&field_path(path, "matchExpressions"), out);
        push_extra(path, &self.extra, out);
    }
}

impl_unknown_fields!(LabelSelectorRequirement {});
