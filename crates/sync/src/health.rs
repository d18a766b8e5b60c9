//! Resource health as Argo CD's gitops-engine assesses it, and its
//! aggregation per Application. Pure functions of the live object.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Health of a resource or an Application, ordered from best to worst as
/// Argo CD orders them (`Healthy` < `Suspended` < `Progressing` < `Missing`
/// < `Degraded` < `Unknown`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum HealthCode {
    /// Everything is fine.
    Healthy,
    /// Paused or suspended on purpose (a paused Deployment, a suspended Job).
    Suspended,
    /// Not healthy yet, but still making progress.
    Progressing,
    /// Absent from the cluster.
    Missing,
    /// Failed, or failed to make progress.
    Degraded,
    /// Health could not be assessed.
    Unknown,
}

impl HealthCode {
    /// The name as Argo CD writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthCode::Healthy => "Healthy",
            HealthCode::Suspended => "Suspended",
            HealthCode::Progressing => "Progressing",
            HealthCode::Missing => "Missing",
            HealthCode::Degraded => "Degraded",
            HealthCode::Unknown => "Unknown",
        }
    }
}

impl fmt::Display for HealthCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A health code with a human message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthStatus {
    /// The code.
    pub status: HealthCode,
    /// Why (may be empty).
    pub message: String,
}

impl HealthStatus {
    /// A status with a message.
    pub fn new(status: HealthCode, message: impl Into<String>) -> Self {
        HealthStatus {
            status,
            message: message.into(),
        }
    }

    fn healthy(message: impl Into<String>) -> Self {
        Self::new(HealthCode::Healthy, message)
    }

    fn progressing(message: impl Into<String>) -> Self {
        Self::new(HealthCode::Progressing, message)
    }

    fn degraded(message: impl Into<String>) -> Self {
        Self::new(HealthCode::Degraded, message)
    }
}

impl fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}", self.status)
        } else {
            write!(f, "{}: {}", self.status, self.message)
        }
    }
}

fn int(v: &Value, path: &[&str]) -> i64 {
    get(v, path).and_then(Value::as_i64).unwrap_or(0)
}

fn opt_int(v: &Value, path: &[&str]) -> Option<i64> {
    get(v, path).and_then(Value::as_i64)
}

fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, key| v.get(key))
}

fn string<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    get(v, path).and_then(Value::as_str).unwrap_or("")
}

fn conditions(v: &Value) -> &[Value] {
    get(v, &["status", "conditions"])
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn condition<'a>(v: &'a Value, type_: &str) -> Option<&'a Value> {
    conditions(v).iter().find(|c| string(c, &["type"]) == type_)
}

fn generation_observed(v: &Value) -> bool {
    let generation = int(v, &["metadata", "generation"]);
    let observed = int(v, &["status", "observedGeneration"]);
    generation <= observed
}

/// The health of a live object, or `None` for kinds without a health
/// assessment (ConfigMaps, RBAC, ...), which do not count in the
/// Application's health.
pub fn assess(obj: &Value) -> Option<HealthStatus> {
    let api_version = string(obj, &["apiVersion"]);
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    let kind = string(obj, &["kind"]);
    if get(obj, &["metadata", "deletionTimestamp"]).is_some_and(|v| !v.is_null()) {
        return Some(HealthStatus::progressing("Pending deletion"));
    }
    match (group, kind) {
        ("apps" | "extensions", "Deployment") => Some(deployment(obj)),
        ("apps", "StatefulSet") => Some(stateful_set(obj)),
        ("apps" | "extensions", "DaemonSet") => Some(daemon_set(obj)),
        ("apps" | "extensions", "ReplicaSet") => Some(replica_set(obj)),
        ("", "Pod") => Some(pod(obj)),
        ("batch", "Job") => Some(job(obj)),
        ("batch", "CronJob") => cron_job(obj),
        ("", "Service") => Some(service(obj)),
        ("networking.k8s.io" | "extensions", "Ingress") => Some(ingress(obj)),
        ("", "PersistentVolumeClaim") => Some(pvc(obj)),
        ("autoscaling", "HorizontalPodAutoscaler") => Some(hpa(obj)),
        ("apiregistration.k8s.io", "APIService") => Some(api_service(obj)),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => Some(crd(obj)),
        _ => generic(obj),
    }
}

fn deployment(obj: &Value) -> HealthStatus {
    if get(obj, &["spec", "paused"]).and_then(Value::as_bool) == Some(true) {
        return HealthStatus::new(HealthCode::Suspended, "Deployment is paused");
    }
    if !generation_observed(obj) {
        return HealthStatus::progressing(
            "Waiting for rollout to finish: observed deployment generation less than desired generation",
        );
    }
    if let Some(c) = condition(obj, "Progressing") {
        if string(c, &["reason"]) == "ProgressDeadlineExceeded" {
            let name = string(obj, &["metadata", "name"]);
            return HealthStatus::degraded(format!(
                "Deployment {name:?} exceeded its progress deadline"
            ));
        }
    }
    let replicas = opt_int(obj, &["spec", "replicas"]).unwrap_or(1);
    let updated = int(obj, &["status", "updatedReplicas"]);
    let status_replicas = int(obj, &["status", "replicas"]);
    let available = int(obj, &["status", "availableReplicas"]);
    if updated < replicas {
        return HealthStatus::progressing(format!(
            "Waiting for rollout to finish: {updated} out of {replicas} new replicas have been updated..."
        ));
    }
    if status_replicas > updated {
        return HealthStatus::progressing(format!(
            "Waiting for rollout to finish: {} old replicas are pending termination...",
            status_replicas - updated
        ));
    }
    if available < updated {
        return HealthStatus::progressing(format!(
            "Waiting for rollout to finish: {available} of {updated} updated replicas are available..."
        ));
    }
    HealthStatus::healthy("")
}

fn stateful_set(obj: &Value) -> HealthStatus {
    let observed = opt_int(obj, &["status", "observedGeneration"]).unwrap_or(0);
    if observed == 0 || int(obj, &["metadata", "generation"]) > observed {
        return HealthStatus::progressing("Waiting for statefulset spec update to be observed...");
    }
    let replicas = opt_int(obj, &["spec", "replicas"]).unwrap_or(1);
    let ready = int(obj, &["status", "readyReplicas"]);
    if ready < replicas {
        return HealthStatus::progressing(format!(
            "Waiting for {} pods to be ready...",
            replicas - ready
        ));
    }
    let strategy = string(obj, &["spec", "updateStrategy", "type"]);
    if strategy == "OnDelete" {
        return HealthStatus::healthy(format!("statefulset has {ready} ready pods"));
    }
    if strategy == "RollingUpdate" || strategy.is_empty() {
        if let Some(partition) = opt_int(
            obj,
            &["spec", "updateStrategy", "rollingUpdate", "partition"],
        ) {
            let updated = int(obj, &["status", "updatedReplicas"]);
            if updated < replicas - partition {
                return HealthStatus::progressing(format!(
                    "Waiting for partitioned roll out to finish: {updated} out of {} new pods have been updated...",
                    replicas - partition
                ));
            }
            return HealthStatus::healthy(format!(
                "partitioned roll out complete: {updated} new pods have been updated..."
            ));
        }
    }
    let current = string(obj, &["status", "currentRevision"]);
    let update = string(obj, &["status", "updateRevision"]);
    if current != update {
        return HealthStatus::progressing(format!(
            "waiting for statefulset rolling update to complete {} pods at revision {update}...",
            int(obj, &["status", "updatedReplicas"])
        ));
    }
    HealthStatus::healthy(format!(
        "statefulset rolling update complete {} pods at revision {current}...",
        int(obj, &["status", "currentReplicas"])
    ))
}

fn daemon_set(obj: &Value) -> HealthStatus {
    let observed = opt_int(obj, &["status", "observedGeneration"]).unwrap_or(0);
    if observed == 0 || int(obj, &["metadata", "generation"]) > observed {
        return HealthStatus::progressing("Waiting for rollout to finish: observed daemon set generation less than desired generation");
    }
    if string(obj, &["spec", "updateStrategy", "type"]) == "OnDelete" {
        return HealthStatus::healthy(format!(
            "daemon set {} out of {} new pods have been updated",
            int(obj, &["status", "updatedNumberScheduled"]),
            int(obj, &["status", "desiredNumberScheduled"])
        ));
    }
    let desired = int(obj, &["status", "desiredNumberScheduled"]);
    let updated = int(obj, &["status", "updatedNumberScheduled"]);
    let available = int(obj, &["status", "numberAvailable"]);
    if updated < desired {
        return HealthStatus::progressing(format!(
            "Waiting for daemon set {:?} rollout to finish: {updated} out of {desired} new pods have been updated...",
            string(obj, &["metadata", "name"])
        ));
    }
    if available < desired {
        return HealthStatus::progressing(format!(
            "Waiting for daemon set {:?} rollout to finish: {available} of {desired} updated pods are available...",
            string(obj, &["metadata", "name"])
        ));
    }
    HealthStatus::healthy("")
}

fn replica_set(obj: &Value) -> HealthStatus {
    if !generation_observed(obj) {
        return HealthStatus::progressing(
            "Waiting for rollout to finish: observed replica set generation less than desired generation",
        );
    }
    if let Some(c) = condition(obj, "ReplicaFailure") {
        if string(c, &["status"]) == "True" {
            return HealthStatus::degraded(string(c, &["message"]));
        }
    }
    let replicas = opt_int(obj, &["spec", "replicas"]).unwrap_or(1);
    let available = int(obj, &["status", "availableReplicas"]);
    if available < replicas {
        return HealthStatus::progressing(format!(
            "Waiting for rollout to finish: {available} out of {replicas} new replicas are available..."
        ));
    }
    HealthStatus::healthy("")
}

/// Container waiting reasons that mean the pod will not start by itself.
const BAD_WAITING_REASONS: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "InvalidImageName",
    "RunContainerError",
];

fn container_statuses(obj: &Value) -> impl Iterator<Item = &Value> {
    ["initContainerStatuses", "containerStatuses"]
        .into_iter()
        .filter_map(|key| get(obj, &["status", key]).and_then(Value::as_array))
        .flatten()
}

fn pod(obj: &Value) -> HealthStatus {
    let bad_waiting = container_statuses(obj).find_map(|c| {
        let reason = string(c, &["state", "waiting", "reason"]);
        BAD_WAITING_REASONS
            .contains(&reason)
            .then(|| string(c, &["state", "waiting", "message"]).to_string())
            .map(|m| if m.is_empty() { reason.to_string() } else { m })
    });
    let message = string(obj, &["status", "message"]);
    match string(obj, &["status", "phase"]) {
        "Pending" => match bad_waiting {
            Some(m) => HealthStatus::degraded(m),
            None => HealthStatus::progressing(message),
        },
        "Succeeded" => HealthStatus::healthy(message),
        "Failed" => {
            if message.is_empty() {
                let reason = container_statuses(obj)
                    .find_map(|c| {
                        let r = string(c, &["state", "terminated", "message"]);
                        (!r.is_empty()).then(|| r.to_string())
                    })
                    .unwrap_or_else(|| "pod failed".into());
                HealthStatus::degraded(reason)
            } else {
                HealthStatus::degraded(message)
            }
        }
        "Running" => {
            let policy = string(obj, &["spec", "restartPolicy"]);
            if policy == "Always" || policy.is_empty() {
                if let Some(m) = bad_waiting {
                    return HealthStatus::degraded(m);
                }
                let all_ready = get(obj, &["status", "containerStatuses"])
                    .and_then(Value::as_array)
                    .is_some_and(|cs| {
                        !cs.is_empty()
                            && cs
                                .iter()
                                .all(|c| c.get("ready").and_then(Value::as_bool) == Some(true))
                    });
                if all_ready {
                    HealthStatus::healthy(message)
                } else {
                    HealthStatus::progressing(message)
                }
            } else {
                HealthStatus::progressing(message)
            }
        }
        _ => HealthStatus::new(HealthCode::Unknown, message),
    }
}

fn job(obj: &Value) -> HealthStatus {
    let mut failed = None;
    let mut complete = false;
    for c in conditions(obj) {
        let is_true = string(c, &["status"]) == "True";
        match string(c, &["type"]) {
            "Failed" if is_true => failed = Some(string(c, &["message"]).to_string()),
            "Complete" if is_true => complete = true,
            _ => {}
        }
    }
    if let Some(message) = failed {
        return HealthStatus::degraded(message);
    }
    if complete {
        return HealthStatus::healthy(string(obj, &["status", "message"]));
    }
    if get(obj, &["spec", "suspend"]).and_then(Value::as_bool) == Some(true) {
        return HealthStatus::new(HealthCode::Suspended, "Job is suspended");
    }
    HealthStatus::progressing("Job is running")
}

fn cron_job(obj: &Value) -> Option<HealthStatus> {
    if get(obj, &["spec", "suspend"]).and_then(Value::as_bool) == Some(true) {
        return Some(HealthStatus::new(
            HealthCode::Suspended,
            "CronJob is suspended",
        ));
    }
    None
}

fn lb_ingress(obj: &Value) -> bool {
    get(obj, &["status", "loadBalancer", "ingress"])
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
}

fn service(obj: &Value) -> HealthStatus {
    if string(obj, &["spec", "type"]) == "LoadBalancer" && !lb_ingress(obj) {
        return HealthStatus::progressing("Waiting for the load balancer to be provisioned");
    }
    HealthStatus::healthy("")
}

fn ingress(obj: &Value) -> HealthStatus {
    if lb_ingress(obj) {
        HealthStatus::healthy("")
    } else {
        HealthStatus::progressing("Waiting for the ingress to get an address")
    }
}

fn pvc(obj: &Value) -> HealthStatus {
    match string(obj, &["status", "phase"]) {
        "Lost" => HealthStatus::degraded("claim is lost"),
        "Pending" => HealthStatus::progressing("claim is pending"),
        "Bound" => HealthStatus::healthy(""),
        other => HealthStatus::new(HealthCode::Unknown, format!("unknown phase {other:?}")),
    }
}

fn hpa(obj: &Value) -> HealthStatus {
    const DEGRADED_REASONS: &[&str] = &[
        "FailedGetScale",
        "FailedUpdateScale",
        "FailedGetResourceMetric",
        "InvalidSelector",
        "FailedComputeMetricsReplicas",
    ];
    for c in conditions(obj) {
        if string(c, &["status"]) == "False" && DEGRADED_REASONS.contains(&string(c, &["reason"])) {
            return HealthStatus::degraded(string(c, &["message"]));
        }
    }
    if condition(obj, "AbleToScale").is_some_and(|c| string(c, &["status"]) == "True")
        || condition(obj, "ScalingActive").is_some_and(|c| string(c, &["status"]) == "True")
    {
        return HealthStatus::healthy("");
    }
    if conditions(obj).is_empty() && get(obj, &["status", "currentReplicas"]).is_some() {
        // autoscaling/v1 carries no conditions.
        return HealthStatus::healthy("");
    }
    HealthStatus::progressing("Waiting to autoscale")
}

fn api_service(obj: &Value) -> HealthStatus {
    match condition(obj, "Available") {
        Some(c) if string(c, &["status"]) == "True" => HealthStatus::healthy(""),
        Some(c) => HealthStatus::progressing(format!(
            "{}: {}",
            string(c, &["reason"]),
            string(c, &["message"])
        )),
        None => HealthStatus::progressing("Waiting to be processed"),
    }
}

fn crd(obj: &Value) -> HealthStatus {
    if let Some(c) = condition(obj, "NamesAccepted") {
        if string(c, &["status"]) == "False" {
            return HealthStatus::degraded(string(c, &["message"]));
        }
    }
    match condition(obj, "Established") {
        Some(c) if string(c, &["status"]) == "True" => HealthStatus::healthy(""),
        _ => HealthStatus::progressing("Waiting for the CRD to be established"),
    }
}

/// Custom resources: a `Ready` (else `Available`) condition in the usual
/// shape decides; without one the resource has no health.
fn generic(obj: &Value) -> Option<HealthStatus> {
    let c = condition(obj, "Ready").or_else(|| condition(obj, "Available"))?;
    let message = string(c, &["message"]).to_string();
    Some(match string(c, &["status"]) {
        "True" => HealthStatus::healthy(message),
        "False" => {
            let reason = string(c, &["reason"]).to_ascii_lowercase();
            if reason.contains("fail") || reason.contains("error") || reason.contains("invalid") {
                HealthStatus::degraded(message)
            } else {
                HealthStatus::progressing(message)
            }
        }
        _ => HealthStatus::progressing(message),
    })
}

/// The Application's health: the worst of its resources' healths (resources
/// without a health do not count); `Healthy` when there is none.
pub fn aggregate<'a>(healths: impl IntoIterator<Item = &'a HealthCode>) -> HealthCode {
    healths
        .into_iter()
        .copied()
        .max()
        .unwrap_or(HealthCode::Healthy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn code(v: Value) -> HealthCode {
        assess(&v).map(|h| h.status).unwrap_or(HealthCode::Healthy)
    }

    #[test]
    fn deployments() {
        let d = |spec: Value, status: Value| {
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "web", "generation": 2}, "spec": spec, "status": status})
        };
        assert_eq!(
            code(d(
                json!({"replicas": 2}),
                json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2})
            )),
            HealthCode::Healthy
        );
        assert_eq!(
            code(d(json!({"replicas": 2}), json!({"observedGeneration": 1}))),
            HealthCode::Progressing
        );
        assert_eq!(
            code(d(
                json!({"replicas": 2}),
                json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 1})
            )),
            HealthCode::Progressing
        );
        assert_eq!(
            code(d(
                json!({"replicas": 2}),
                json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 2, "availableReplicas": 2})
            )),
            HealthCode::Progressing
        );
        assert_eq!(
            code(d(json!({"paused": true}), json!({}))),
            HealthCode::Suspended
        );
        let h = assess(&d(
            json!({"replicas": 2}),
            json!({"observedGeneration": 2, "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]}),
        ))
        .unwrap();
        assert_eq!(h.status, HealthCode::Degraded);
        assert!(h.message.contains("progress deadline"));
    }

    #[test]
    fn statefulsets_daemonsets_replicasets() {
        let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"generation": 1},
            "spec": {"replicas": 3},
            "status": {"observedGeneration": 1, "readyReplicas": 3, "currentRevision": "r1", "updateRevision": "r1", "currentReplicas": 3}});
        assert_eq!(code(sts.clone()), HealthCode::Healthy);
        let mut rolling = sts.clone();
        rolling["status"]["updateRevision"] = json!("r2");
        assert_eq!(code(rolling), HealthCode::Progressing);
        let mut not_ready = sts;
        not_ready["status"]["readyReplicas"] = json!(1);
        assert_eq!(code(not_ready), HealthCode::Progressing);

        let ds = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"generation": 1},
            "status": {"observedGeneration": 1, "desiredNumberScheduled": 2, "updatedNumberScheduled": 2, "numberAvailable": 1}});
        assert_eq!(code(ds.clone()), HealthCode::Progressing);
        let mut ok = ds;
        ok["status"]["numberAvailable"] = json!(2);
        assert_eq!(code(ok), HealthCode::Healthy);

        let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"generation": 1},
            "spec": {"replicas": 2},
            "status": {"observedGeneration": 1, "availableReplicas": 2,
                       "conditions": [{"type": "ReplicaFailure", "status": "True", "message": "quota exceeded"}]}});
        let h = assess(&rs).unwrap();
        assert_eq!(
            (h.status, h.message.as_str()),
            (HealthCode::Degraded, "quota exceeded")
        );
    }

    #[test]
    fn pods_and_jobs() {
        let pod = |phase: &str, extra: Value| {
            let mut p = json!({"apiVersion": "v1", "kind": "Pod", "spec": {"restartPolicy": "Always"},
                "status": {"phase": phase}});
            if let Value::Object(m) = extra {
                for (k, v) in m {
                    p["status"][k] = v;
                }
            }
            p
        };
        assert_eq!(code(pod("Succeeded", json!({}))), HealthCode::Healthy);
        assert_eq!(
            code(pod("Failed", json!({"message": "OOM"}))),
            HealthCode::Degraded
        );
        assert_eq!(code(pod("Pending", json!({}))), HealthCode::Progressing);
        assert_eq!(
            code(pod(
                "Pending",
                json!({"containerStatuses": [{"ready": false, "state": {"waiting": {"reason": "ImagePullBackOff"}}}]})
            )),
            HealthCode::Degraded
        );
        assert_eq!(
            code(pod(
                "Running",
                json!({"containerStatuses": [{"ready": true}]})
            )),
            HealthCode::Healthy
        );
        assert_eq!(
            code(pod(
                "Running",
                json!({"containerStatuses": [{"ready": false}]})
            )),
            HealthCode::Progressing
        );
        assert_eq!(
            code(pod(
                "Running",
                json!({"containerStatuses": [{"ready": false, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]})
            )),
            HealthCode::Degraded
        );
        assert_eq!(code(pod("Weird", json!({}))), HealthCode::Unknown);

        let job = |conds: Value| json!({"apiVersion": "batch/v1", "kind": "Job", "status": {"conditions": conds}});
        assert_eq!(
            code(job(json!([{"type": "Complete", "status": "True"}]))),
            HealthCode::Healthy
        );
        assert_eq!(
            code(job(
                json!([{"type": "Failed", "status": "True", "message": "BackoffLimitExceeded"}])
            )),
            HealthCode::Degraded
        );
        assert_eq!(code(job(json!([]))), HealthCode::Progressing);
        let suspended = json!({"apiVersion": "batch/v1", "kind": "Job", "spec": {"suspend": true}});
        assert_eq!(code(suspended), HealthCode::Suspended);
    }

    #[test]
    fn services_ingresses_pvcs_hpas_apiservices() {
        let svc = json!({"apiVersion": "v1", "kind": "Service", "spec": {"type": "LoadBalancer"}});
        assert_eq!(code(svc.clone()), HealthCode::Progressing);
        let mut ready = svc;
        ready["status"] = json!({"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}});
        assert_eq!(code(ready), HealthCode::Healthy);
        assert_eq!(
            code(json!({"apiVersion": "v1", "kind": "Service", "spec": {"type": "ClusterIP"}})),
            HealthCode::Healthy
        );
        let ing = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "status": {"loadBalancer": {}}});
        assert_eq!(code(ing), HealthCode::Progressing);
        for (phase, want) in [
            ("Bound", HealthCode::Healthy),
            ("Pending", HealthCode::Progressing),
            ("Lost", HealthCode::Degraded),
        ] {
            let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "status": {"phase": phase}});
            assert_eq!(code(pvc), want, "{phase}");
        }
        let hpa = |conds: Value| json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "status": {"conditions": conds}});
        assert_eq!(
            code(hpa(
                json!([{"type": "AbleToScale", "status": "True", "reason": "SucceededGetScale"}])
            )),
            HealthCode::Healthy
        );
        assert_eq!(
            code(hpa(
                json!([{"type": "AbleToScale", "status": "False", "reason": "FailedGetScale", "message": "no"}])
            )),
            HealthCode::Degraded
        );
        assert_eq!(code(hpa(json!([]))), HealthCode::Progressing);
        let api = |status: &str| {
            json!({"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "status": {"conditions": [{"type": "Available", "status": status, "reason": "R", "message": "m"}]}})
        };
        assert_eq!(code(api("True")), HealthCode::Healthy);
        assert_eq!(code(api("False")), HealthCode::Progressing);
    }

    #[test]
    fn generic_conditions_and_kinds_without_health() {
        let cr = |status: &str, reason: &str| {
            json!({"apiVersion": "example.com/v1", "kind": "Thing",
            "status": {"conditions": [{"type": "Ready", "status": status, "reason": reason}]}})
        };
        assert_eq!(code(cr("True", "")), HealthCode::Healthy);
        assert_eq!(code(cr("False", "ReconcileFailed")), HealthCode::Degraded);
        assert_eq!(code(cr("False", "Waiting")), HealthCode::Progressing);
        assert!(assess(&json!({"apiVersion": "v1", "kind": "ConfigMap"})).is_none());
        assert!(assess(&json!({"apiVersion": "example.com/v1", "kind": "Thing"})).is_none());
        let deleting = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}});
        assert_eq!(code(deleting), HealthCode::Progressing);
    }

    #[test]
    fn aggregation_takes_the_worst() {
        use HealthCode::*;
        assert_eq!(aggregate(&[Healthy, Progressing, Suspended]), Progressing);
        assert_eq!(aggregate(&[Healthy, Missing]), Missing);
        assert_eq!(aggregate(&[Missing, Degraded]), Degraded);
        assert_eq!(aggregate(&[Degraded, Unknown]), Unknown);
        assert_eq!(aggregate(&[]), Healthy);
        assert_eq!(aggregate(&[Healthy, Suspended]), Suspended);
    }
}
