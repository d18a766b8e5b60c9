//! Redacting holders for secret data read from or written to Vault.

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

pub use flotilla_core::{SecretString, REDACTED};

/// The key/value pairs of a KV secret, which never show their values.
///
/// `Debug` lists the keys only; `Serialize` writes every value as
/// `<redacted>`. Read values with [`SecretData::get`] or
/// [`SecretData::expose`], only where they are handed on.
///
/// ```
/// use flotilla_vault::SecretData;
///
/// let data = SecretData::from_pairs([("DB_URL", "postgres://u:pw@db/app")]);
/// assert_eq!(format!("{data:?}"), "SecretData { keys: [\"DB_URL\"] }");
/// assert_eq!(serde_json::to_string(&data).unwrap(), r#"{"DB_URL":"<redacted>"}"#);
/// assert_eq!(data.get("DB_URL").and_then(|v| v.as_str()), Some("postgres://u:pw@db/app"));
/// ```
#[derive(Clone, Default, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct SecretData(Map<String, Value>);

impl SecretData {
    /// Wraps a JSON mapping.
    pub fn new(map: Map<String, Value>) -> Self {
        SecretData(map)
    }

    /// String pairs as secret data.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        SecretData(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), Value::String(v.into())))
                .collect(),
        )
    }

    /// One value.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// Sets one value.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        self.0.insert(key.into(), value.into());
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// True when there are no keys.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The values themselves. Do not log them.
    pub fn expose(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The mapping itself. Do not log it.
    pub fn into_exposed(self) -> Map<String, Value> {
        self.0
    }
}

impl fmt::Debug for SecretData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretData")
            .field("keys", &self.0.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Serialize for SecretData {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let redacted: Map<String, Value> = self
            .0
            .keys()
            .map(|k| (k.clone(), Value::String(REDACTED.to_string())))
            .collect();
        redacted.serialize(serializer)
    }
}

impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for SecretData {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        SecretData(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}
