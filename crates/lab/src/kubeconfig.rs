//! kubeconfig files for the lab: one for users (every region, credentials
//! embedded) and one per component (file references).

use std::path::Path;

use serde_json::{json, Value};

use crate::error::{io, Result};

/// One cluster entry of a kubeconfig.
pub struct Entry<'a> {
    /// Context, cluster and user name prefix (`lab-us-east-2`).
    pub name: &'a str,
    /// API server URL.
    pub server: &'a str,
    /// CA certificate PEM.
    pub ca_pem: &'a str,
    /// Client certificate PEM.
    pub cert_pem: &'a str,
    /// Client key PEM.
    pub key_pem: &'a str,
    /// Default namespace of the context, if any.
    pub namespace: Option<&'a str>,
}

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
}

/// Renders a kubeconfig holding every entry, with `current` as the current
/// context.
pub fn render(entries: &[Entry<'_>], current: Option<&str>) -> Result<String> {
    let clusters: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({"name": e.name, "cluster": {
                "server": e.server,
                "certificate-authority-data": b64(e.ca_pem),
            }})
        })
        .collect();
    let users: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({"name": format!("{}-admin", e.name), "user": {
                "client-certificate-data": b64(e.cert_pem),
                "client-key-data": b64(e.key_pem),
            }})
        })
        .collect();
    let contexts: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut ctx = json!({"cluster": e.name, "user": format!("{}-admin", e.name)});
            if let Some(ns) = e.namespace {
                ctx["namespace"] = json!(ns);
            }
            json!({"name": e.name, "context": ctx})
        })
        .collect();
    let doc = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": clusters,
        "users": users,
        "contexts": contexts,
        "current-context": current.or_else(|| entries.first().map(|e| e.name)).unwrap_or(""),
    });
    Ok(serde_yaml_ng::to_string(&doc).unwrap_or_default())
}

/// Writes a kubeconfig with mode 0600 (it holds client keys).
pub fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
    }
    crate::pki::write_private(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeconfig_has_one_context_per_entry() {
        let e = |name| Entry {
            name,
            server: "https://127.0.0.1:1",
            ca_pem: "ca",
            cert_pem: "c",
            key_pem: "k",
            namespace: None,
        };
        let text = render(&[e("lab-a"), e("lab-b")], None).unwrap();
        let v: Value = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(v["contexts"].as_array().unwrap().len(), 2);
        assert_eq!(v["current-context"], "lab-a");
        assert_eq!(
            v["clusters"][1]["cluster"]["certificate-authority-data"],
            "Y2E="
        );
    }
}
