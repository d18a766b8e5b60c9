//! Helpers shared by the lab tests of this crate.

use std::sync::OnceLock;

use flotilla_core::Manifest;

/// At most two labs at once: the machine has two cores.
pub async fn lab_permit() -> tokio::sync::SemaphorePermit<'static> {
    static SEM: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    SEM.get_or_init(|| tokio::sync::Semaphore::new(2))
        .acquire()
        .await
        .expect("semaphore open")
}

/// Logs to the test's output, filtered by `RUST_LOG` (default `warn`).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
}

/// The documents of a YAML stream as manifests.
pub fn manifests(yaml: &str) -> Vec<Manifest> {
    use serde::Deserialize;
    serde_yaml_ng::Deserializer::from_str(yaml)
        .filter_map(|doc| {
            let v = serde_json::Value::deserialize(doc).expect("yaml document");
            (!v.is_null()).then(|| Manifest::from_value(v).expect("object"))
        })
        .collect()
}
