//! A quick proof that a lab region really runs workloads: a Deployment is
//! created and waited on until the simulated nodes report it Available.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use crate::error::{LabError, Result};

/// Applies namespace `namespace` and a Deployment `name` (image
/// `nginx`, `replicas` replicas) in it, and waits until it is Available with
/// every replica ready. Returns how long that took.
pub async fn deploy_and_wait(
    client: &kube::Client,
    region: &str,
    namespace: &str,
    name: &str,
    replicas: i32,
    timeout: Duration,
) -> Result<Duration> {
    let kerr = |m: String| LabError::Kube {
        region: region.to_string(),
        message: m,
    };
    let start = Instant::now();
    let pp = PatchParams::apply("flotilla-lab").force();
    let ns: Api<Namespace> = Api::all(client.clone());
    ns.patch(
        namespace,
        &pp,
        &Patch::Apply(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}),
        ),
    )
    .await
    .map_err(|e| kerr(format!("applying namespace {namespace}: {e}")))?;
    // Pods of a brand-new namespace can only be created once the
    // controller-manager has made its `default` ServiceAccount; creating the
    // Deployment earlier makes the ReplicaSet controller back off for a while.
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    while accounts
        .get_opt("default")
        .await
        .map_err(|e| kerr(format!("reading serviceaccount {namespace}/default: {e}")))?
        .is_none()
    {
        if start.elapsed() > timeout {
            return Err(kerr(format!(
                "namespace {namespace} has no default ServiceAccount after {}s (is kube-controller-manager running?)",
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let manifest = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": "nginx"}]},
            },
        },
    });
    deploys
        .patch(name, &pp, &Patch::Apply(manifest))
        .await
        .map_err(|e| kerr(format!("applying deployment {namespace}/{name}: {e}")))?;
    let mut last = String::from("no status yet");
    loop {
        let d = deploys
            .get(name)
            .await
            .map_err(|e| kerr(format!("reading deployment {namespace}/{name}: {e}")))?;
        if let Some(status) = &d.status {
            let available = status.conditions.as_ref().is_some_and(|cs| {
                cs.iter()
                    .any(|c| c.type_ == "Available" && c.status == "True")
            });
            let ready = status.ready_replicas.unwrap_or(0);
            if available && ready >= replicas {
                return Ok(start.elapsed());
            }
            last = format!("{ready}/{replicas} replicas ready, available={available}");
        }
        if start.elapsed() > timeout {
            return Err(kerr(format!(
                "deployment {namespace}/{name} not Available after {}s: {last}",
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
