//! Helpers shared by the integration tests.
#![allow(dead_code)]

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// Parses `yaml` as JSON data and as `T` (both from the data and straight from
/// the YAML), checks that serialising `T` gives back the same data, and
/// returns `T`.
pub fn roundtrip_yaml<T: DeserializeOwned + Serialize>(yaml: &str) -> T {
    let data: Value = serde_yaml_ng::from_str(yaml).expect("fixture is valid YAML");
    let typed: T = serde_json::from_value(data.clone()).expect("parses from JSON data");
    let back = serde_json::to_value(&typed).expect("serialises");
    assert_eq!(
        back, data,
        "round trip through JSON data changed the document"
    );

    let direct: T = serde_yaml_ng::from_str(yaml).expect("parses straight from YAML");
    let back = serde_json::to_value(&direct).expect("serialises");
    assert_eq!(
        back, data,
        "round trip straight from YAML changed the document"
    );
    typed
}

/// Sorted copy of a list of paths, for comparisons that ignore order.
pub fn sorted(mut paths: Vec<String>) -> Vec<String> {
    paths.sort();
    paths
}
