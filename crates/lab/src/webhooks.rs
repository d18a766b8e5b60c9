//! Admission webhooks that nothing serves.
//!
//! Pods on the lab's simulated (kwok) nodes run nothing: they are Running and
//! Ready, their addresses are in EndpointSlices, but no process answers on
//! them. A webhook backed by such a Service (Consul's connect injector, with
//! `failurePolicy: Fail` on every Pod, say) makes the API server reject
//! every request it matches. [`unserved_webhooks`] names them: each webhook
//! of a Validating- or MutatingWebhookConfiguration whose `clientConfig`
//! names a Service that has no ready endpoint outside the simulated nodes.
//! (A webhook given by `url`, or a Service with a ready endpoint that is not
//! a simulated pod, such as a selector-less Service whose EndpointSlice
//! names an address of the machine, counts as served.)

use std::collections::BTreeSet;

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ServiceReference, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ListParams};
use serde::Serialize;

use crate::error::{LabError, Result};

/// A webhook whose Service has no serving endpoint.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UnservedWebhook {
    /// Region.
    pub region: String,
    /// `ValidatingWebhookConfiguration` or `MutatingWebhookConfiguration`.
    pub kind: String,
    /// The configuration's name.
    pub configuration: String,
    /// The webhook's name within it.
    pub webhook: String,
    /// The Service, `namespace/name`.
    pub service: String,
    /// `Fail` (the default) or `Ignore`: with `Fail` the requests it matches
    /// are rejected.
    pub failure_policy: String,
    /// Why it is not served.
    pub reason: String,
}

impl UnservedWebhook {
    /// Whether the requests it matches are rejected (`failurePolicy: Fail`).
    pub fn blocks(&self) -> bool {
        self.failure_policy == "Fail"
    }
}

struct Hook {
    kind: &'static str,
    configuration: String,
    webhook: String,
    service: ServiceReference,
    failure_policy: String,
}

/// Every webhook of the region whose Service has no serving endpoint, in
/// order of kind, configuration and webhook.
pub async fn unserved_webhooks(
    client: &kube::Client,
    region: &str,
) -> Result<Vec<UnservedWebhook>> {
    let kerr = |what: &str, e: kube::Error| LabError::Kube {
        region: region.to_string(),
        message: format!("listing {what}: {e}"),
    };
    let lp = ListParams::default();
    let mut hooks = Vec::new();
    let mutating: Api<MutatingWebhookConfiguration> = Api::all(client.clone());
    for c in mutating
        .list(&lp)
        .await
        .map_err(|e| kerr("MutatingWebhookConfigurations", e))?
    {
        for w in c.webhooks.into_iter().flatten() {
            if let Some(service) = w.client_config.service {
                hooks.push(Hook {
                    kind: "MutatingWebhookConfiguration",
                    configuration: c.metadata.name.clone().unwrap_or_default(),
                    webhook: w.name,
                    service,
                    failure_policy: w.failure_policy.unwrap_or_else(|| "Fail".into()),
                });
            }
        }
    }
    let validating: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    for c in validating
        .list(&lp)
        .await
        .map_err(|e| kerr("ValidatingWebhookConfigurations", e))?
    {
        for w in c.webhooks.into_iter().flatten() {
            if let Some(service) = w.client_config.service {
                hooks.push(Hook {
                    kind: "ValidatingWebhookConfiguration",
                    configuration: c.metadata.name.clone().unwrap_or_default(),
                    webhook: w.name,
                    service,
                    failure_policy: w.failure_policy.unwrap_or_else(|| "Fail".into()),
                });
            }
        }
    }
    if hooks.is_empty() {
        return Ok(Vec::new());
    }
    // Nodes whose pods serve nothing: kwok's.
    let nodes: Api<Node> = Api::all(client.clone());
    let simulated: BTreeSet<String> = nodes
        .list(&lp)
        .await
        .map_err(|e| kerr("Nodes", e))?
        .into_iter()
        .filter(|n| {
            n.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("kwok.x-k8s.io/node"))
                .is_some_and(|v| v == "fake")
        })
        .filter_map(|n| n.metadata.name)
        .collect();
    let mut out = Vec::new();
    for h in hooks {
        let ns = h.service.namespace.clone();
        let name = h.service.name.clone();
        let reason = match why_unserved(client, &ns, &name, &simulated).await {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(e) => return Err(kerr(&format!("endpoints of {ns}/{name}"), e)),
        };
        out.push(UnservedWebhook {
            region: region.to_string(),
            kind: h.kind.into(),
            configuration: h.configuration,
            webhook: h.webhook,
            service: format!("{ns}/{name}"),
            failure_policy: h.failure_policy,
            reason,
        });
    }
    out.sort_by(|a, b| {
        (&a.kind, &a.configuration, &a.webhook).cmp(&(&b.kind, &b.configuration, &b.webhook))
    });
    Ok(out)
}

async fn why_unserved(
    client: &kube::Client,
    ns: &str,
    name: &str,
    simulated: &BTreeSet<String>,
) -> std::result::Result<Option<String>, kube::Error> {
    let services: Api<Service> = Api::namespaced(client.clone(), ns);
    if services.get_opt(name).await?.is_none() {
        return Ok(Some(format!("service {ns}/{name} does not exist")));
    }
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), ns);
    let lp = ListParams::default().labels(&format!("kubernetes.io/service-name={name}"));
    let mut ready = 0usize;
    let mut on_simulated = 0usize;
    for s in slices.list(&lp).await? {
        for e in s.endpoints {
            let is_ready = e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
            if !is_ready || e.addresses.is_empty() {
                continue;
            }
            match &e.node_name {
                Some(n) if simulated.contains(n) => on_simulated += 1,
                _ => ready += 1,
            }
        }
    }
    Ok(if ready > 0 {
        None
    } else if on_simulated > 0 {
        Some(format!(
            "service {ns}/{name} is backed only by pods on simulated nodes, which serve nothing"
        ))
    } else {
        Some(format!("service {ns}/{name} has no ready endpoint"))
    })
}
