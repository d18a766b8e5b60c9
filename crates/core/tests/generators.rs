//! ApplicationSet generators: list, clusters, git (files and directories),
//! matrix, merge, selectors, and generator kinds kept as raw JSON.

mod common;

use std::collections::BTreeMap;

use common::{roundtrip_yaml, sorted};
use flotilla_core::{
    ApplicationSet, CoreError, Generator, GeneratorKind, LabelSelector, UnknownFields,
};
use serde_json::json;

const EVERY: &str = include_str!("fixtures/generators-appset.yaml");

fn appset() -> ApplicationSet {
    serde_yaml_ng::from_str(EVERY).unwrap()
}

#[test]
fn every_generator_round_trips() {
    let appset: ApplicationSet = roundtrip_yaml(EVERY);
    appset.check_type_meta().unwrap();
    assert_eq!(appset.spec.generators.len(), 11);
}

#[test]
fn generator_kinds_are_named() {
    let appset = appset();
    let names: Vec<String> = appset
        .spec
        .generators
        .iter()
        .map(|g| g.kind().unwrap().name().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "list",
            "list",
            "clusters",
            "clusters",
            "git",
            "git",
            "matrix",
            "merge",
            "matrix",
            "scmProvider",
            "pullRequest"
        ]
    );
}

#[test]
fn list_generator() {
    let appset = appset();
    let GeneratorKind::List(list) = appset.spec.generators[0].kind().unwrap() else {
        panic!("not a list")
    };
    assert_eq!(list.elements.len(), 2);
    assert_eq!(list.elements[0]["replicas"], 2);
    assert_eq!(list.elements[0]["nested"], json!({"tier": ["a", "b"]}));
    let template = list.template.as_ref().unwrap();
    assert_eq!(template.metadata.labels["from"], "list");
    assert_eq!(
        template.spec.spec().project.as_deref(),
        Some("list-project")
    );
    assert_eq!(
        GeneratorKind::List(list)
            .template()
            .unwrap()
            .metadata
            .labels["from"],
        "list"
    );

    let selector = appset.spec.generators[0].selector.as_ref().unwrap();
    assert_eq!(selector.match_labels["cluster"], "dev");

    let GeneratorKind::List(yaml_list) = appset.spec.generators[1].kind().unwrap() else {
        panic!("not a list")
    };
    assert!(yaml_list.elements.is_empty());
    assert_eq!(
        yaml_list.elements_yaml.as_deref(),
        Some("{{ .key.components | toJson }}")
    );
}

#[test]
fn clusters_generator() {
    let appset = appset();
    let GeneratorKind::Clusters(clusters) = appset.spec.generators[2].kind().unwrap() else {
        panic!("not clusters")
    };
    let selector = clusters.selector.as_ref().unwrap();
    assert_eq!(selector.match_labels["env"], "prod");
    assert_eq!(selector.match_expressions[0].operator, "In");
    assert_eq!(clusters.values["revision"], "stable");

    let GeneratorKind::Clusters(all) = appset.spec.generators[3].kind().unwrap() else {
        panic!("not clusters")
    };
    assert!(all.selector.is_none());
    // `clusters: {}` is written back as `{}`.
    assert_eq!(
        serde_json::to_value(&appset.spec.generators[3]).unwrap(),
        json!({"clusters": {}})
    );
}

#[test]
fn git_generators() {
    let appset = appset();
    let GeneratorKind::Git(dirs) = appset.spec.generators[4].kind().unwrap() else {
        panic!("not git")
    };
    assert_eq!(dirs.directories.len(), 2);
    assert_eq!(dirs.directories[0].path, "manifests/overlays/*/*");
    assert_eq!(dirs.directories[0].exclude, None);
    assert_eq!(dirs.directories[1].exclude, Some(true));
    assert_eq!(dirs.path_param_prefix.as_deref(), Some("dir"));
    assert_eq!(dirs.requeue_after_seconds, Some(180));
    assert!(dirs.files.is_empty());

    let GeneratorKind::Git(files) = appset.spec.generators[5].kind().unwrap() else {
        panic!("not git")
    };
    assert_eq!(files.revision.as_deref(), Some("main"));
    assert_eq!(files.files[0].path, "manifests/overlays/**/config.json");
    assert_eq!(files.files[1].exclude, Some(true));
    assert_eq!(files.values["region"], "{{ .cluster.region }}");
}

#[test]
fn matrix_and_merge_generators() {
    let appset = appset();
    let GeneratorKind::Matrix(matrix) = appset.spec.generators[6].kind().unwrap() else {
        panic!("not matrix")
    };
    assert_eq!(matrix.generators.len(), 2);
    assert!(matches!(
        matrix.generators[0].kind(),
        Ok(GeneratorKind::Git(_))
    ));
    assert!(matches!(
        matrix.generators[1].kind(),
        Ok(GeneratorKind::Clusters(_))
    ));

    let GeneratorKind::Merge(merge) = appset.spec.generators[7].kind().unwrap() else {
        panic!("not merge")
    };
    assert_eq!(merge.merge_keys, vec!["server"]);
    assert_eq!(merge.generators.len(), 2);
    let GeneratorKind::List(list) = merge.generators[1].kind().unwrap() else {
        panic!("not list")
    };
    assert_eq!(list.elements[0]["values.kafka"], "false");
    assert_eq!(
        merge
            .template
            .as_ref()
            .unwrap()
            .spec
            .spec()
            .project
            .as_deref(),
        Some("merged")
    );

    let GeneratorKind::Matrix(outer) = appset.spec.generators[8].kind().unwrap() else {
        panic!("not matrix")
    };
    let GeneratorKind::Merge(inner) = outer.generators[0].kind().unwrap() else {
        panic!("not merge")
    };
    assert_eq!(inner.merge_keys, vec!["name"]);
    assert_eq!(inner.generators.len(), 2);
}

#[test]
fn unsupported_generators_are_kept_and_named() {
    let appset = appset();
    let scm = &appset.spec.generators[9];
    match scm.kind().unwrap() {
        GeneratorKind::Unsupported { name, value } => {
            assert_eq!(name, "scmProvider");
            assert_eq!(value["github"]["organization"], "de-marauder");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(scm.unsupported_kinds(), vec!["scmProvider"]);
    assert_eq!(
        appset.spec.generators[10].unsupported_kinds(),
        vec!["pullRequest"]
    );
    assert!(appset.spec.generators[4].unsupported_kinds().is_empty());

    // They are reported (with everything else unknown) by path.
    assert_eq!(
        sorted(appset.unknown_fields()),
        vec![
            "spec.generators[10].pullRequest",
            "spec.generators[9].scmProvider"
        ]
    );
}

#[test]
fn unknown_keys_are_not_mistaken_for_argo_generators() {
    let generator: Generator =
        serde_json::from_value(json!({"clusterz": {}, "selector": {"matchLabels": {"a": "b"}}}))
            .unwrap();
    assert!(matches!(
        generator.kind().unwrap(),
        GeneratorKind::Unknown {
            name: "clusterz",
            ..
        }
    ));
    assert_eq!(generator.unknown_fields(), vec!["clusterz"]);
}

#[test]
fn entries_with_no_or_several_kinds_are_errors() {
    let none: Generator = serde_json::from_value(json!({"selector": {}})).unwrap();
    let err = none.kind_at("spec.generators[3]").unwrap_err();
    assert!(matches!(err, CoreError::InvalidGenerator { .. }));
    assert_eq!(
        err.to_string(),
        "generator `spec.generators[3]`: no generator kind (expected one of list, clusters, git, matrix, merge)"
    );

    let two: Generator =
        serde_json::from_value(json!({"list": {"elements": []}, "clusters": {}, "plugin": {}}))
            .unwrap();
    assert_eq!(two.kinds().len(), 3);
    assert_eq!(
        two.kind().unwrap_err().to_string(),
        "generator: several generator kinds in one entry: list, clusters, plugin"
    );
}

#[test]
fn unknown_fields_inside_generators_are_listed() {
    let generator: Generator = serde_json::from_value(json!({
        "matrix": {
            "generators": [
                {"git": {"repoURL": "r", "files": [{"path": "p", "glob": true}], "depth": 1}},
                {"clusters": {"selector": {"matchExpressions": [{"key": "k", "operator": "Exists", "odd": 1}]}}}
            ],
            "template": {"spec": {"source": {"repoURL": "x", "what": 1}}, "extraTemplateField": 1}
        }
    }))
    .unwrap();
    assert_eq!(
        sorted(generator.unknown_fields()),
        vec![
            "matrix.generators[0].git.depth",
            "matrix.generators[0].git.files[0].glob",
            "matrix.generators[1].clusters.selector.matchExpressions[0].odd",
            "matrix.template.extraTemplateField",
            "matrix.template.spec.source.what",
        ]
    );
}

#[test]
fn appset_spec_fields() {
    let appset = appset();
    let spec = &appset.spec;
    assert!(spec
        .template_patch
        .as_deref()
        .unwrap()
        .contains("range $valueFile"));
    let policy = spec.sync_policy.as_ref().unwrap();
    assert_eq!(policy.preserve_resources_on_deletion, Some(true));
    assert_eq!(policy.applications_sync.as_deref(), Some("create-update"));
    let strategy = spec.strategy.as_ref().unwrap();
    assert_eq!(strategy.strategy_type.as_deref(), Some("RollingSync"));
    let steps = &strategy.rolling_sync.as_ref().unwrap().steps;
    assert_eq!(steps[1].max_update, Some(json!("10%")));
    assert_eq!(steps[0].match_expressions[0].values, vec!["dev"]);
    let preserved = spec.preserved_fields.as_ref().unwrap();
    assert_eq!(preserved.annotations, vec!["notified-by"]);
    assert_eq!(preserved.labels, vec!["team"]);
    assert_eq!(
        spec.ignore_application_differences[0].json_pointers,
        vec!["/spec/source/targetRevision"]
    );
    assert_eq!(
        spec.ignore_application_differences[1].name.as_deref(),
        Some("some-app")
    );
}

#[test]
fn label_selector_matching() {
    let labels = BTreeMap::from([
        ("env".to_string(), "prod".to_string()),
        ("region".to_string(), "us-east-2".to_string()),
    ]);
    let select = |value: serde_json::Value| {
        serde_json::from_value::<LabelSelector>(value)
            .unwrap()
            .matches(&labels)
    };
    assert!(select(json!({})).unwrap());
    assert!(select(json!({"matchLabels": {"env": "prod"}})).unwrap());
    assert!(!select(json!({"matchLabels": {"env": "dev"}})).unwrap());
    assert!(select(
        json!({"matchExpressions": [{"key": "region", "operator": "In", "values": ["us-east-2"]}]})
    )
    .unwrap());
    assert!(!select(json!({"matchExpressions": [{"key": "region", "operator": "NotIn", "values": ["us-east-2"]}]})).unwrap());
    assert!(select(
        json!({"matchExpressions": [{"key": "missing", "operator": "NotIn", "values": ["x"]}]})
    )
    .unwrap());
    assert!(select(json!({"matchExpressions": [{"key": "env", "operator": "Exists"}]})).unwrap());
    assert!(
        select(json!({"matchExpressions": [{"key": "missing", "operator": "DoesNotExist"}]}))
            .unwrap()
    );

    let err = select(
        json!({"matchExpressions": [{"key": "env", "operator": "Equals", "values": ["prod"]}]}),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("matchExpressions[0].operator") && err.contains("Equals"),
        "{err}"
    );
    let err = select(json!({"matchExpressions": [{"key": "env", "operator": "In"}]}))
        .unwrap_err()
        .to_string();
    assert!(err.contains("at least one value"), "{err}");
}
