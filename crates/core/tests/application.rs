//! Application: round trips, unknown fields, sync options, template specs.

mod common;

use common::{roundtrip_yaml, sorted};
use flotilla_core::{
    annotations, Application, ApplicationSource, ApplicationSpec, SyncOptions, TemplateSpec,
    UnknownFields, APPLICATION_KIND, ARGOPROJ_API_VERSION, DEFAULT_PROJECT,
};
use serde_json::{json, Value};

const RICH: &str = include_str!("fixtures/rich-application.yaml");

#[test]
fn rich_application_round_trips() {
    let app: Application = roundtrip_yaml(RICH);
    app.check_type_meta().unwrap();
    assert_eq!(app.name(), "gen-algo-dev-us-east-2");
    assert_eq!(app.namespace(), Some("argocd"));
    assert_eq!(
        app.metadata.finalizers,
        vec![annotations::RESOURCES_FINALIZER.to_string()]
    );
}

#[test]
fn rich_application_unknown_fields_are_listed_by_path() {
    let app: Application = serde_yaml_ng::from_str(RICH).unwrap();
    assert_eq!(
        sorted(app.unknown_fields()),
        vec![
            "metadata.futureMetaField",
            "someTopLevelField",
            "spec.sourceHydrator",
            "spec.sources[0].helm.helmFutureOption",
            "spec.sources[3].sourceFutureField",
            "spec.syncPolicy.retry.backoff.jitter",
        ]
    );
    // Server-set metadata is known, and kept.
    assert_eq!(app.metadata.extra["resourceVersion"], "42");
    assert_eq!(app.metadata.extra["generation"], 7);
    // Unknown values are kept as written.
    assert_eq!(
        app.spec.extra["sourceHydrator"],
        json!({"drySource": {"repoURL": "https://example.com/dry.git"}})
    );
}

#[test]
fn rich_application_typed_fields() {
    let app: Application = serde_yaml_ng::from_str(RICH).unwrap();
    let spec = &app.spec;
    assert_eq!(spec.project(), "gen-algo");
    assert!(spec.has_multiple_sources());
    let sources = app.sources();
    assert_eq!(sources.len(), 5);

    let helm = sources[0].helm.as_ref().unwrap();
    assert_eq!(helm.release_name.as_deref(), Some("vault"));
    assert_eq!(
        helm.value_files,
        vec!["$values/manifests/helm/dev/vault-values.yaml"]
    );
    assert!(helm.values.as_deref().unwrap().contains("enabled: true"));
    assert_eq!(
        helm.values_object,
        Some(json!({"injector": {"enabled": true, "replicas": 2}}))
    );
    assert_eq!(helm.parameters[0].force_string, Some(true));
    assert_eq!(helm.parameters[1].force_string, None);
    assert_eq!(
        helm.file_parameters[0].path.as_deref(),
        Some("files/config.hcl")
    );
    assert_eq!(helm.skip_crds, Some(false));

    assert_eq!(sources[1].ref_name.as_deref(), Some("values"));
    assert!(sources[1].is_ref_only());
    assert!(!sources[2].is_ref_only());

    let kustomize = sources[2].kustomize.as_ref().unwrap();
    assert_eq!(kustomize.name_prefix.as_deref(), Some("dev-"));
    assert_eq!(kustomize.replicas[0].count, Some(json!(2)));
    assert_eq!(kustomize.replicas[1].count, Some(json!("1")));
    let target = kustomize.patches[0].target.as_ref().unwrap();
    assert_eq!(target.kind.as_deref(), Some("Deployment"));
    assert!(kustomize.patches[0].options["allowNameChange"]);

    let directory = sources[3].directory.as_ref().unwrap();
    assert_eq!(directory.recurse, Some(true));
    assert_eq!(directory.include.as_deref(), Some("*.yaml"));
    let jsonnet = directory.jsonnet.as_ref().unwrap();
    assert_eq!(jsonnet.tlas[0].code, Some(true));
    assert_eq!(jsonnet.libs, vec!["vendor"]);

    let plugin = sources[4].plugin.as_ref().unwrap();
    assert_eq!(
        plugin.parameters[1].array.as_deref(),
        Some(&["a".to_string(), "b".to_string()][..])
    );

    assert_eq!(spec.destination.name.as_deref(), Some("us-east-2"));
    assert_eq!(spec.destination.server, None);

    let automated = spec.automated().unwrap();
    assert_eq!(automated.prune, Some(false));
    assert_eq!(automated.self_heal, Some(true));
    assert_eq!(automated.allow_empty, Some(false));

    let retry = spec.sync_policy.as_ref().unwrap().retry.as_ref().unwrap();
    assert_eq!(retry.limit, Some(5));
    let backoff = retry.backoff.as_ref().unwrap();
    assert_eq!(backoff.duration.as_deref(), Some("5s"));
    assert_eq!(backoff.factor, Some(2));
    assert_eq!(backoff.max_duration.as_deref(), Some("3m"));

    let options = spec.sync_options();
    assert_eq!(options.create_namespace(), Some(true));
    assert_eq!(options.prune_last(), Some(true));
    assert_eq!(options.server_side_apply(), Some(true));
    assert_eq!(options.validate(), Some(false));
    assert_eq!(options.respect_ignore_differences(), Some(true));
    assert_eq!(options.prune_propagation_policy(), Some("foreground"));
    assert_eq!(options.replace(), None);
    assert_eq!(options.unrecognized(), vec!["MadeUpOption=true"]);

    let ignore = &spec.ignore_differences;
    assert_eq!(ignore[0].json_pointers, vec!["/spec/replicas"]);
    assert_eq!(
        ignore[1].jq_path_expressions,
        vec![".webhooks[]?.clientConfig.caBundle"]
    );
    assert_eq!(
        ignore[2].managed_fields_managers,
        vec!["kube-controller-manager"]
    );
    assert_eq!(ignore[2].group, None);

    assert_eq!(spec.revision_history_limit, Some(3));
    assert_eq!(spec.info[0].name, "Docs");
    assert_eq!(app.status.as_ref().unwrap()["health"]["status"], "Healthy");
    assert!(app.operation.is_some());
}

#[test]
fn absent_stays_absent_and_explicit_false_stays_false() {
    let doc = json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "a"},
        "spec": {
            "source": {"repoURL": "https://example.com/r.git", "path": "p"},
            "destination": {"server": "https://kubernetes.default.svc"},
            "syncPolicy": {"automated": {"prune": false}}
        }
    });
    let app: Application = serde_json::from_value(doc.clone()).unwrap();
    let back = serde_json::to_value(&app).unwrap();
    assert_eq!(back, doc);
    assert_eq!(
        back["spec"]["syncPolicy"]["automated"]["prune"],
        json!(false)
    );
    assert!(back["spec"]["syncPolicy"]["automated"]
        .get("selfHeal")
        .is_none());
    assert!(back["spec"].get("project").is_none());
    assert_eq!(app.spec.project(), DEFAULT_PROJECT);

    // `automated: {}` (automated sync with defaults) stays `{}`.
    let doc = json!({"syncPolicy": {"automated": {}}});
    let spec: ApplicationSpec = serde_json::from_value(doc.clone()).unwrap();
    assert_eq!(serde_json::to_value(&spec).unwrap(), doc);
    assert!(spec.automated().is_some());
}

#[test]
fn serialisation_keeps_the_field_order_of_unknown_fields() {
    let text = r#"{"apiVersion":"argoproj.io/v1alpha1","kind":"Application","metadata":{"name":"a"},"spec":{"destination":{"server":"s"}},"zeta":1,"alpha":2}"#;
    let app: Application = serde_json::from_str(text).unwrap();
    assert_eq!(serde_json::to_string(&app).unwrap(), text);
}

#[test]
fn source_holding_a_list_is_a_clear_error() {
    let doc = json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "a"},
        "spec": {"source": [{"repoURL": "https://example.com/r.git"}]}
    });
    let err = serde_json::from_value::<Application>(doc)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`source` holds a list"), "{err}");
    assert!(err.contains("`sources:`"), "{err}");

    let yaml = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: a\nspec:\n  source:\n    - repoURL: x\n";
    let err = serde_yaml_ng::from_str::<Application>(yaml)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`source` holds a list"), "{err}");
}

#[test]
fn sources_wins_over_source() {
    let spec: ApplicationSpec = serde_json::from_value(json!({
        "source": {"repoURL": "a"},
        "sources": [{"repoURL": "b"}, {"repoURL": "c"}]
    }))
    .unwrap();
    let urls: Vec<_> = spec
        .sources()
        .iter()
        .map(|s| s.repo_url.as_deref().unwrap())
        .collect();
    assert_eq!(urls, ["b", "c"]);

    let spec = ApplicationSpec {
        source: Some(ApplicationSource {
            repo_url: Some("a".into()),
            ..ApplicationSource::default()
        }),
        ..ApplicationSpec::default()
    };
    assert_eq!(spec.sources().len(), 1);
    assert!(!spec.has_multiple_sources());
    assert!(ApplicationSpec::default().sources().is_empty());
}

#[test]
fn null_collections_read_as_empty() {
    let spec: ApplicationSpec =
        serde_yaml_ng::from_str("sources:\nignoreDifferences:\nsyncPolicy:\n  syncOptions:\n")
            .unwrap();
    assert!(spec.sources.is_empty());
    assert!(spec.sync_options().is_empty());
}

#[test]
fn automated_enabled_false_switches_automation_off() {
    let spec: ApplicationSpec = serde_json::from_value(
        json!({"syncPolicy": {"automated": {"enabled": false, "prune": true}}}),
    )
    .unwrap();
    assert!(spec.automated().is_none());
}

#[test]
fn new_application_and_type_meta() {
    let app = Application::new("guestbook", ApplicationSpec::default());
    assert_eq!(app.api_version, ARGOPROJ_API_VERSION);
    assert_eq!(app.kind, APPLICATION_KIND);
    app.check_type_meta().unwrap();

    let mut wrong = app.clone();
    wrong.kind = "ApplicationSet".into();
    let err = wrong.check_type_meta().unwrap_err().to_string();
    assert!(
        err.contains("`kind`") && err.contains("expected Application"),
        "{err}"
    );

    let value = serde_json::to_value(&app).unwrap();
    assert_eq!(
        value,
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
               "metadata": {"name": "guestbook"}, "spec": {}})
    );
}

#[test]
fn missing_kind_is_an_error() {
    let err = serde_json::from_value::<Application>(
        json!({"apiVersion": "argoproj.io/v1alpha1", "spec": {}}),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("kind"), "{err}");
}

#[test]
fn sync_options_helpers() {
    let options = SyncOptions::from(vec![
        "CreateNamespace=true".to_string(),
        " ServerSideApply=true ".into(),
        "CreateNamespace=false".into(),
        "Prune=confirm".into(),
        "Validate=maybe".into(),
        "NoEquals".into(),
        "PrunePropagationPolicy=sideways".into(),
    ]);
    assert!(options.has_option("CreateNamespace=true"));
    assert!(options.has_option("ServerSideApply=true"));
    assert!(!options.has_option("ServerSideApply=false"));
    // The last entry for a key wins.
    assert_eq!(options.create_namespace(), Some(false));
    assert_eq!(options.server_side_apply(), Some(true));
    assert_eq!(options.prune(), Some("confirm"));
    assert_eq!(options.validate(), None);
    assert_eq!(options.get("Validate"), Some("maybe"));
    assert_eq!(
        options.unrecognized(),
        vec![
            "Validate=maybe",
            "NoEquals",
            "PrunePropagationPolicy=sideways"
        ]
    );
    assert_eq!(options.len(), 7);

    let annotation = SyncOptions::from_annotation("Prune=false,Delete=confirm, ,Replace=true");
    assert_eq!(annotation.len(), 3);
    assert_eq!(annotation.delete(), Some("confirm"));
    assert_eq!(annotation.replace(), Some(true));
    assert!(annotation.unrecognized().is_empty());

    assert_eq!(
        serde_json::to_value(&annotation).unwrap(),
        json!(["Prune=false", "Delete=confirm", "Replace=true"])
    );
}

#[test]
fn annotation_constants() {
    assert_eq!(annotations::SYNC_WAVE, "argocd.argoproj.io/sync-wave");
    assert_eq!(annotations::HOOK, "argocd.argoproj.io/hook");
    assert_eq!(
        annotations::HOOK_DELETE_POLICY,
        "argocd.argoproj.io/hook-delete-policy"
    );
    assert_eq!(annotations::SYNC_OPTIONS, "argocd.argoproj.io/sync-options");
    assert_eq!(
        annotations::COMPARE_OPTIONS,
        "argocd.argoproj.io/compare-options"
    );
    assert_eq!(annotations::TRACKING_ID, "argocd.argoproj.io/tracking-id");
    assert_eq!(annotations::INSTANCE_LABEL, "app.kubernetes.io/instance");
}

#[test]
fn template_spec_tolerates_placeholders_in_non_string_fields() {
    let doc = json!({
        "project": "{{project}}",
        "sources": [
            {"repoURL": "https://example.com/r.git", "path": "{{path}}",
             "directory": {"recurse": "{{recurse}}"}}
        ],
        "destination": {"server": "{{url}}", "namespace": "ns"},
        "syncPolicy": {"automated": {"prune": "{{prune}}", "selfHeal": true},
                       "retry": {"limit": "{{ .retries }}"}},
        "revisionHistoryLimit": "{{limit}}"
    });
    let spec: TemplateSpec = serde_json::from_value(doc.clone()).unwrap();
    assert_eq!(serde_json::to_value(&spec).unwrap(), doc);
    assert_eq!(spec.to_value().unwrap(), doc);

    let mut templated = spec.templated_fields();
    templated.sort();
    assert_eq!(
        templated,
        vec![
            ("revisionHistoryLimit".to_string(), "{{limit}}"),
            ("sources[0].directory.recurse".to_string(), "{{recurse}}"),
            ("syncPolicy.automated.prune".to_string(), "{{prune}}"),
            ("syncPolicy.retry.limit".to_string(), "{{ .retries }}"),
        ]
    );
    // String fields keep their placeholders in the typed spec.
    let typed = spec.spec();
    assert_eq!(typed.project.as_deref(), Some("{{project}}"));
    assert_eq!(typed.sources[0].path.as_deref(), Some("{{path}}"));
    assert_eq!(typed.destination.server.as_deref(), Some("{{url}}"));
    assert_eq!(typed.automated().unwrap().self_heal, Some(true));
    assert_eq!(typed.automated().unwrap().prune, None);
    assert_eq!(typed.revision_history_limit, None);
}

#[test]
fn template_spec_without_placeholders_is_plain() {
    let doc = json!({"project": "default", "destination": {"server": "s"}});
    let spec: TemplateSpec = serde_json::from_value(doc.clone()).unwrap();
    assert!(spec.templated_fields().is_empty());
    assert_eq!(serde_json::to_value(&spec).unwrap(), doc);
    assert_eq!(spec.clone().into_spec().project(), "default");
}

#[test]
fn template_spec_still_rejects_real_mistakes() {
    // A non-placeholder string in a boolean field is a mistake, not a template.
    let err = serde_json::from_value::<TemplateSpec>(
        json!({"syncPolicy": {"automated": {"prune": "yes"}}, "project": "{{p}}"}),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("boolean"), "{err}");
}

#[test]
fn unknown_fields_in_templates_are_listed() {
    let spec: TemplateSpec =
        serde_json::from_value(json!({"source": {"repoURL": "r", "bogus": "{{x}}"}, "weird": 1}))
            .unwrap();
    assert_eq!(sorted(spec.unknown_fields()), vec!["source.bogus", "weird"]);
}

#[test]
fn field_names_with_dots_are_quoted_in_paths() {
    let app: Application = serde_json::from_value(json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "spec": {"destination": {"example.com/x": 1}}
    }))
    .unwrap();
    assert_eq!(
        app.unknown_fields(),
        vec![r#"spec.destination["example.com/x"]"#.to_string()]
    );
    let value: Value = serde_json::to_value(&app).unwrap();
    assert_eq!(value["spec"]["destination"]["example.com/x"], 1);
}
