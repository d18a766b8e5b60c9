//! Marking resources as belonging to an Application, compatible with Argo CD.

use flotilla_core::annotations::{INSTANCE_LABEL, TRACKING_ID};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How resources are marked, as Argo CD's `application.resourceTrackingMethod`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum TrackingMethod {
    /// The `app.kubernetes.io/instance` label only.
    Label,
    /// The `argocd.argoproj.io/tracking-id` annotation only.
    Annotation,
    /// Both (the default): the annotation decides ownership, the label lets
    /// tracked resources be listed with a label selector.
    #[default]
    AnnotationAndLabel,
}

impl TrackingMethod {
    /// Whether the label is written.
    pub fn uses_label(self) -> bool {
        matches!(
            self,
            TrackingMethod::Label | TrackingMethod::AnnotationAndLabel
        )
    }

    /// Whether the annotation is written.
    pub fn uses_annotation(self) -> bool {
        matches!(
            self,
            TrackingMethod::Annotation | TrackingMethod::AnnotationAndLabel
        )
    }
}

/// Argo CD's tracking id: `<app>:<group>/<kind>:<namespace>/<name>`.
///
/// ```
/// use flotilla_sync::tracking::tracking_id;
/// assert_eq!(tracking_id("web", "apps", "Deployment", Some("prod"), "web"), "web:apps/Deployment:prod/web");
/// assert_eq!(tracking_id("web", "", "Namespace", None, "prod"), "web:/Namespace:/prod");
/// ```
pub fn tracking_id(
    app: &str,
    group: &str,
    kind: &str,
    namespace: Option<&str>,
    name: &str,
) -> String {
    format!("{app}:{group}/{kind}:{}/{name}", namespace.unwrap_or(""))
}

/// A parsed tracking id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackingId {
    /// Application name.
    pub app: String,
    /// API group.
    pub group: String,
    /// Kind.
    pub kind: String,
    /// Namespace (empty for cluster-scoped).
    pub namespace: String,
    /// Name.
    pub name: String,
}

/// Parses a tracking id; `None` when malformed.
pub fn parse_tracking_id(id: &str) -> Option<TrackingId> {
    let (app, rest) = id.split_once(':')?;
    let (gk, nn) = rest.split_once(':')?;
    let (group, kind) = gk.split_once('/')?;
    let (namespace, name) = nn.split_once('/')?;
    Some(TrackingId {
        app: app.to_string(),
        group: group.to_string(),
        kind: kind.to_string(),
        namespace: namespace.to_string(),
        name: name.to_string(),
    })
}

fn meta_str<'a>(obj: &'a Value, map: &str, key: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(map)?.get(key)?.as_str()
}

/// Whether a live object belongs to `app`. With an annotation, it must name
/// the app and the object itself (a copied object does not count); with only
/// the label, objects controlled by another object (copies of a pod
/// template's labels) do not count.
pub fn is_tracked_by(obj: &Value, app: &str, method: TrackingMethod) -> bool {
    let metadata = obj.get("metadata");
    let meta = |k: &str| {
        metadata
            .and_then(|m| m.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    if let Some(id) = meta_str(obj, "annotations", TRACKING_ID) {
        let Some(id) = parse_tracking_id(id) else {
            return false;
        };
        let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        return id.app == app
            && id.group == group
            && id.kind == kind
            && id.namespace == meta("namespace")
            && id.name == meta("name");
    }
    if method == TrackingMethod::Annotation {
        return false;
    }
    let controlled = metadata
        .and_then(|m| m.get("ownerReferences"))
        .and_then(Value::as_array)
        .is_some_and(|refs| {
            refs.iter()
                .any(|r| r.get("controller") == Some(&Value::Bool(true)))
        });
    meta_str(obj, "labels", INSTANCE_LABEL) == Some(app) && !controlled
}

/// The Application a live object belongs to, by the same rules as
/// [`is_tracked_by`]: its tracking annotation when it has one (naming the
/// object itself), else (unless only the annotation is used) its instance
/// label when no controller owns it.
///
/// ```
/// use flotilla_sync::tracking::{tracked_app, TrackingMethod};
/// let obj = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
///     "metadata": {"name": "c", "labels": {"app.kubernetes.io/instance": "web"}}});
/// assert_eq!(tracked_app(&obj, TrackingMethod::Label).as_deref(), Some("web"));
/// assert_eq!(tracked_app(&obj, TrackingMethod::Annotation), None);
/// ```
pub fn tracked_app(obj: &Value, method: TrackingMethod) -> Option<String> {
    if let Some(id) = meta_str(obj, "annotations", TRACKING_ID) {
        let id = parse_tracking_id(id)?;
        return is_tracked_by(obj, &id.app, method).then_some(id.app);
    }
    let app = meta_str(obj, "labels", INSTANCE_LABEL)?;
    is_tracked_by(obj, app, method).then(|| app.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tracking_ids_round_trip() {
        let id = tracking_id("app", "apps", "Deployment", Some("ns"), "web");
        let parsed = parse_tracking_id(&id).unwrap();
        assert_eq!(parsed.app, "app");
        assert_eq!(parsed.group, "apps");
        assert_eq!(parsed.namespace, "ns");
        assert!(parse_tracking_id("garbage").is_none());
    }

    #[test]
    fn copies_are_not_tracked() {
        let obj = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "copy", "namespace": "ns",
                         "annotations": {TRACKING_ID: "app:/ConfigMap:ns/original"}}});
        assert!(!is_tracked_by(
            &obj,
            "app",
            TrackingMethod::AnnotationAndLabel
        ));
        let own = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "original", "namespace": "ns",
                         "annotations": {TRACKING_ID: "app:/ConfigMap:ns/original"}}});
        assert!(is_tracked_by(
            &own,
            "app",
            TrackingMethod::AnnotationAndLabel
        ));
        assert!(!is_tracked_by(
            &own,
            "other",
            TrackingMethod::AnnotationAndLabel
        ));
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "labels": {INSTANCE_LABEL: "app"},
                         "ownerReferences": [{"controller": true, "kind": "ReplicaSet"}]}});
        assert!(!is_tracked_by(&pod, "app", TrackingMethod::Label));
        let labelled = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "labels": {INSTANCE_LABEL: "app"}}});
        assert!(is_tracked_by(&labelled, "app", TrackingMethod::Label));
        assert!(!is_tracked_by(&labelled, "app", TrackingMethod::Annotation));
    }
}
