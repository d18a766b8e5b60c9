//! ResourceKey, Manifest, Location and the error messages they give.

use std::collections::{BTreeSet, HashSet};

use flotilla_core::{
    annotations, split_api_version, CoreError, HookType, Location, Manifest, ResourceKey,
};
use serde_json::{json, Value};

const DEPLOYMENT: &str = include_str!("fixtures/article-webui-deployment.yaml");
const SERVICE: &str = include_str!("fixtures/article-webui-service.yaml");
const INGRESS: &str = include_str!("fixtures/article-argocd-ingress.yaml");

fn manifest(yaml: &str, file: &str) -> Manifest {
    let value: Value = serde_yaml_ng::from_str(yaml).unwrap();
    Manifest::from_value_at(value, Location::new(file, 3, 1)).unwrap()
}

#[test]
fn keys_of_the_article_manifests() {
    let deployment = manifest(DEPLOYMENT, "base/webui-deployment.yaml");
    let key = deployment.key().unwrap();
    assert_eq!(
        key,
        ResourceKey {
            group: "apps".into(),
            version: "v1".into(),
            kind: "Deployment".into(),
            namespace: None,
            name: "gen-algo-webui".into(),
        }
    );
    assert_eq!(key.to_string(), "apps/v1/Deployment gen-algo-webui");
    assert_eq!(key.api_version(), "apps/v1");
    assert_eq!(key.group_kind(), "Deployment.apps");
    assert_eq!(
        key.clone().with_namespace(Some("gen-algo")).to_string(),
        "apps/v1/Deployment gen-algo/gen-algo-webui"
    );

    let service = manifest(SERVICE, "base/webui-service.yaml").key().unwrap();
    assert_eq!(service.group, "");
    assert_eq!(service.version, "v1");
    assert_eq!(service.to_string(), "v1/Service gen-algo-webui");
    assert_eq!(service.api_version(), "v1");
    assert_eq!(service.group_kind(), "Service");

    let ingress = manifest(INGRESS, "argocd/ingress.yaml");
    assert_eq!(
        ingress.key().unwrap().to_string(),
        "networking.k8s.io/v1/Ingress argocd/argocd-ingress"
    );
    assert_eq!(
        ingress.annotation("nginx.ingress.kubernetes.io/ssl-redirect"),
        Some("false")
    );
    assert_eq!(ingress.annotations().len(), 3);
}

#[test]
fn manifest_accessors() {
    let deployment = manifest(DEPLOYMENT, "base/webui-deployment.yaml");
    assert_eq!(deployment.api_version(), Some("apps/v1"));
    assert_eq!(deployment.kind(), Some("Deployment"));
    assert_eq!(deployment.name(), Some("gen-algo-webui"));
    assert_eq!(deployment.namespace(), None);
    assert_eq!(deployment.label("app"), Some("gen-algo-webui"));
    assert_eq!(
        deployment.labels().into_iter().collect::<Vec<_>>(),
        vec![("app", "gen-algo-webui")]
    );
    assert!(deployment.annotations().is_empty());
    assert_eq!(
        deployment.location.as_ref().unwrap().to_string(),
        "base/webui-deployment.yaml:3:1"
    );
}

#[test]
fn manifest_serialises_as_the_object_in_its_order() {
    let text = r#"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"c","namespace":"n"},"data":{"z":"1","a":"2"}}"#;
    let manifest: Manifest = serde_json::from_str(text).unwrap();
    assert_eq!(manifest.location, None);
    assert_eq!(serde_json::to_string(&manifest).unwrap(), text);
    assert_eq!(
        manifest.clone().into_value(),
        serde_json::from_str::<Value>(text).unwrap()
    );
    assert_eq!(manifest.key().unwrap().to_string(), "v1/ConfigMap n/c");
}

#[test]
fn missing_fields_are_named_with_the_location() {
    let at = Location::new("overlays/dev/us-east-2/patch.yaml", 12, 1);
    let key = |value: Value| {
        Manifest::from_value(value)
            .unwrap()
            .with_location(at.clone())
            .key()
            .unwrap_err()
    };

    let err = key(json!({"kind": "Service", "metadata": {"name": "s"}}));
    assert_eq!(
        err,
        CoreError::MissingField {
            field: "apiVersion".into(),
            location: Some(at.clone())
        }
    );
    assert_eq!(
        err.to_string(),
        "missing field `apiVersion` at overlays/dev/us-east-2/patch.yaml:12:1"
    );

    let err = key(json!({"apiVersion": "v1", "metadata": {"name": "s"}}));
    assert_eq!(
        err.to_string(),
        "missing field `kind` at overlays/dev/us-east-2/patch.yaml:12:1"
    );

    let err =
        key(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"generateName": "s-"}}));
    assert_eq!(
        err.to_string(),
        "missing field `metadata.name` at overlays/dev/us-east-2/patch.yaml:12:1"
    );
    assert_eq!(err.location(), Some(&at));

    let err = key(json!({"apiVersion": "v1", "kind": "Service"}));
    assert_eq!(
        err.to_string(),
        "missing field `metadata.name` at overlays/dev/us-east-2/patch.yaml:12:1"
    );

    let err = key(json!({"apiVersion": "v1", "kind": "", "metadata": {"name": "s"}}));
    assert!(matches!(err, CoreError::MissingField { ref field, .. } if field == "kind"));
}

#[test]
fn wrong_types_are_named_with_the_location() {
    let at = Location::in_file("all.yaml").with_document(4);
    let key = |value: Value| {
        Manifest::from_value(value)
            .unwrap()
            .with_location(at.clone())
            .key()
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        key(json!({"apiVersion": 1, "kind": "Service", "metadata": {"name": "s"}})),
        "field `apiVersion` must be a string, found a number at all.yaml (document 4)"
    );
    assert_eq!(
        key(json!({"apiVersion": "v1", "kind": "Service", "metadata": ["x"]})),
        "field `metadata` must be a mapping, found a list at all.yaml (document 4)"
    );
    assert_eq!(
        key(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": true}})),
        "field `metadata.name` must be a string, found a boolean at all.yaml (document 4)"
    );
    assert_eq!(
        key(json!({"apiVersion": "apps/v1/beta", "kind": "Deployment", "metadata": {"name": "d"}})),
        "invalid apiVersion \"apps/v1/beta\": expected `version` or `group/version` at all.yaml (document 4)"
    );
}

#[test]
fn documents_that_are_not_objects() {
    let err = Manifest::from_value_at(json!(["a"]), Location::new("x.yaml", 7, 1)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "expected a Kubernetes object (a mapping), found a list at x.yaml:7:1"
    );
    assert!(serde_json::from_str::<Manifest>("\"text\"").is_err());
}

#[test]
fn api_version_parsing() {
    assert_eq!(split_api_version("apps/v1").unwrap(), ("apps", "v1"));
    assert_eq!(split_api_version("v1").unwrap(), ("", "v1"));
    assert_eq!(
        split_api_version("networking.k8s.io/v1").unwrap(),
        ("networking.k8s.io", "v1")
    );
    for bad in ["", "apps/", "/v1", "a/b/c", "apps /v1"] {
        let err = split_api_version(bad).unwrap_err();
        assert!(
            matches!(err, CoreError::InvalidApiVersion { .. }),
            "{bad}: {err}"
        );
    }
    assert_eq!(
        split_api_version("/v1").unwrap_err().to_string(),
        "invalid apiVersion \"/v1\": the group before `/` is empty"
    );

    let key = ResourceKey::new("apps/v1", "Deployment", Some("ns"), "web").unwrap();
    assert_eq!(key.to_string(), "apps/v1/Deployment ns/web");
    let key = ResourceKey::new("v1", "Namespace", Some(""), "ns").unwrap();
    assert_eq!(key.namespace, None);
    assert_eq!(key.to_string(), "v1/Namespace ns");
    assert!(ResourceKey::new("v1", "", None, "x").is_err());
    assert!(ResourceKey::new("v1", "Pod", None, "").is_err());
}

#[test]
fn resource_keys_order_and_hash() {
    let keys = [
        ResourceKey::new("v1", "Service", Some("b"), "web").unwrap(),
        ResourceKey::new("apps/v1", "Deployment", Some("a"), "web").unwrap(),
        ResourceKey::new("v1", "Service", Some("a"), "web").unwrap(),
        ResourceKey::new("v1", "Namespace", None, "a").unwrap(),
        ResourceKey::new("v1", "Service", Some("a"), "web").unwrap(),
    ];
    let ordered: Vec<String> = keys
        .iter()
        .cloned()
        .collect::<BTreeSet<_>>()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        ordered,
        [
            "v1/Namespace a",
            "v1/Service a/web",
            "v1/Service b/web",
            "apps/v1/Deployment a/web",
        ]
    );
    assert_eq!(keys.iter().collect::<HashSet<_>>().len(), 4);

    let json = serde_json::to_value(&keys[3]).unwrap();
    assert_eq!(
        json,
        json!({"group": "", "version": "v1", "kind": "Namespace", "name": "a"})
    );
    assert_eq!(
        serde_json::from_value::<ResourceKey>(json).unwrap(),
        keys[3]
    );
}

#[test]
fn sync_waves_and_hooks() {
    let with_annotations = |annotations: Value| {
        Manifest::from_value(json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "migrate", "annotations": annotations}
        }))
        .unwrap()
        .with_location(Location::new("jobs.yaml", 1, 1))
    };

    let plain = with_annotations(json!({}));
    assert_eq!(plain.sync_wave().unwrap(), 0);
    assert!(plain.hook_types().unwrap().is_empty());
    assert!(plain.sync_options().is_empty());

    let hook = with_annotations(json!({
        annotations::SYNC_WAVE: "-2",
        annotations::HOOK: "PreSync, SyncFail",
        annotations::SYNC_OPTIONS: "Prune=false,SkipDryRunOnMissingResource=true",
        annotations::HELM_HOOK_WEIGHT: "5",
    }));
    assert_eq!(hook.sync_wave().unwrap(), -2);
    assert_eq!(
        hook.hook_types().unwrap(),
        vec![HookType::PreSync, HookType::SyncFail]
    );
    assert_eq!(hook.sync_options().prune(), Some("false"));

    let helm = with_annotations(json!({
        annotations::HELM_HOOK: "pre-install,pre-upgrade,post-install,test",
        annotations::HELM_HOOK_WEIGHT: "5",
    }));
    assert_eq!(helm.sync_wave().unwrap(), 5);
    assert_eq!(
        helm.hook_types().unwrap(),
        vec![HookType::PreSync, HookType::PostSync]
    );

    let bad =
        with_annotations(json!({annotations::SYNC_WAVE: "first", annotations::HOOK: "Presync"}));
    assert_eq!(
        bad.sync_wave().unwrap_err().to_string(),
        "invalid value \"first\" for `metadata.annotations[\"argocd.argoproj.io/sync-wave\"]`: expected an integer at jobs.yaml:1:1"
    );
    let err = bad.hook_types().unwrap_err().to_string();
    assert!(
        err.contains("\"Presync\"") && err.ends_with("at jobs.yaml:1:1"),
        "{err}"
    );
    assert_eq!(HookType::PostDelete.to_string(), "PostDelete");
}

#[test]
fn manifest_mutation() {
    let mut manifest =
        Manifest::from_value(json!({"apiVersion": "v1", "kind": "ConfigMap"})).unwrap();
    manifest.set_namespace("gen-algo").unwrap();
    manifest
        .set_label(annotations::INSTANCE_LABEL, "gen-algo-dev")
        .unwrap();
    manifest
        .set_annotation(
            annotations::TRACKING_ID,
            "gen-algo-dev:/ConfigMap:gen-algo/c",
        )
        .unwrap();
    assert_eq!(manifest.namespace(), Some("gen-algo"));
    assert_eq!(
        manifest.label(annotations::INSTANCE_LABEL),
        Some("gen-algo-dev")
    );
    assert_eq!(
        manifest.annotation(annotations::TRACKING_ID),
        Some("gen-algo-dev:/ConfigMap:gen-algo/c")
    );

    let mut broken = Manifest::from_value(json!({"metadata": {"labels": "oops"}}))
        .unwrap()
        .with_location(Location::new("b.yaml", 2, 1));
    let err = broken.set_label("a", "b").unwrap_err().to_string();
    assert_eq!(
        err,
        "field `metadata.labels` must be a mapping, found a string at b.yaml:2:1"
    );
}

#[test]
fn location_display() {
    assert_eq!(Location::new("a.yaml", 1, 2).to_string(), "a.yaml:1:2");
    assert_eq!(
        Location::in_file("a.yaml").with_line(9).to_string(),
        "a.yaml:9"
    );
    assert_eq!(Location::in_file("a.yaml").to_string(), "a.yaml");
    assert_eq!(
        Location::in_file("a.yaml").with_document(3).to_string(),
        "a.yaml (document 3)"
    );
    assert_eq!(
        Location::new("a.yaml", 1, 2).with_document(3).to_string(),
        "a.yaml:1:2"
    );
}

#[test]
fn error_location_is_attached_once() {
    let err = CoreError::MissingField {
        field: "kind".into(),
        location: None,
    };
    let first = Location::in_file("first.yaml");
    let err = err.with_location(Some(&first));
    let err = err.with_location(Some(&Location::in_file("second.yaml")));
    assert_eq!(err.location(), Some(&first));
    assert_eq!(err.to_string(), "missing field `kind` at first.yaml");
}

#[test]
fn core_error_stays_small() {
    // Crates return `Result<_, CoreError>` everywhere; clippy's
    // `result_large_err` fires above 128 bytes.
    assert!(std::mem::size_of::<CoreError>() <= 128);
}
