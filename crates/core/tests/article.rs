//! Every Application and ApplicationSet document of the reference article
//! (shared/reference/multi-region-argocd-article.md) parses and serialises back
//! to the same data. The fixtures are copies of the article's snippets; see the
//! header comment of each for what was changed.

mod common;

use common::roundtrip_yaml;
use flotilla_core::{
    ApplicationSet, ApplicationSetSpec, GeneratorKind, UnknownFields, UNSUPPORTED_GENERATOR_KINDS,
};
use serde_json::Value;

const GEN_ALGO: &str = include_str!("fixtures/article-appset-gen-algo.yaml");
const SNIPPET_CORRECTED: &str = include_str!("fixtures/article-template-snippet-corrected.yaml");
const SNIPPET_UNCORRECTED: &str =
    include_str!("fixtures/article-template-snippet-uncorrected.yaml");

#[test]
fn fixtures_have_no_non_breaking_spaces() {
    for fixture in [GEN_ALGO, SNIPPET_CORRECTED, SNIPPET_UNCORRECTED] {
        assert!(!fixture.contains('\u{a0}'));
    }
}

#[test]
fn gen_algo_appset_round_trips() {
    let appset: ApplicationSet = roundtrip_yaml(GEN_ALGO);
    appset.check_type_meta().unwrap();
    assert_eq!(appset.name(), "gen-algo");
    assert_eq!(appset.metadata.namespace.as_deref(), Some("argocd"));
    assert!(
        appset.unknown_fields().is_empty(),
        "{:?}",
        appset.unknown_fields()
    );
}

#[test]
fn gen_algo_appset_fields() {
    let appset: ApplicationSet = serde_yaml_ng::from_str(GEN_ALGO).unwrap();
    let spec = &appset.spec;
    assert!(spec.uses_go_template());
    assert!(spec.has_go_template_option("missingkey=error"));

    assert_eq!(spec.generators.len(), 1);
    let GeneratorKind::Git(git) = spec.generators[0].kind().unwrap() else {
        panic!("expected a git generator");
    };
    assert_eq!(
        git.repo_url.as_deref(),
        Some("https://github.com/de-marauder/multi-region-eks.git")
    );
    assert_eq!(git.revision.as_deref(), Some("HEAD"));
    assert!(git.directories.is_empty());
    assert_eq!(git.files.len(), 1);
    assert_eq!(git.files[0].path, "manifests/overlays/**/config.json");
    assert_eq!(git.values["clusterName"], "{{ .cluster.name }}");
    assert_eq!(git.values["environment"], "{{ index .path.segments 2 }}");
    assert_eq!(git.values.len(), 4);

    let template = &spec.template;
    assert_eq!(
        template.metadata.name.as_deref(),
        Some("gen-algo-{{ .values.environment }}-{{ .values.region }}")
    );
    assert!(template.spec.templated_fields().is_empty());
    let app_spec = template.spec.spec();
    assert_eq!(app_spec.project(), "default");
    let source = app_spec.source.as_ref().unwrap();
    assert_eq!(source.path.as_deref(), Some("{{ .path.path }}"));
    assert_eq!(source.target_revision(), "HEAD");
    assert_eq!(app_spec.sources().len(), 1);
    assert_eq!(
        app_spec.destination.server.as_deref(),
        Some("{{ .values.server}}")
    );
    let automated = app_spec.automated().unwrap();
    assert!(automated.prune() && automated.self_heal() && !automated.allow_empty());
    assert_eq!(app_spec.sync_options().create_namespace(), Some(true));
    assert!(app_spec.sync_options().unrecognized().is_empty());
}

/// Parses the `spec` of a snippet file (which has no apiVersion/kind) as an
/// ApplicationSet spec.
fn snippet_spec(yaml: &str) -> Result<ApplicationSetSpec, serde_json::Error> {
    let data: Value = serde_yaml_ng::from_str(yaml).unwrap();
    serde_json::from_value(data["spec"].clone())
}

#[test]
fn corrected_helm_snippet_round_trips() {
    let data: Value = serde_yaml_ng::from_str(SNIPPET_CORRECTED).unwrap();
    let spec = snippet_spec(SNIPPET_CORRECTED).unwrap();
    assert_eq!(serde_json::to_value(&spec).unwrap(), data["spec"]);

    let app_spec = spec.template.spec.spec();
    assert_eq!(app_spec.project.as_deref(), Some("default"));
    assert!(app_spec.has_multiple_sources());
    let sources = app_spec.sources();
    assert_eq!(sources.len(), 1);
    let vault = &sources[0];
    assert!(vault.is_helm_chart());
    assert_eq!(vault.chart.as_deref(), Some("vault"));
    assert_eq!(vault.target_revision.as_deref(), Some("0.28.0"));
    assert_eq!(
        vault.repo_url.as_deref(),
        Some("https://helm.releases.hashicorp.com")
    );
    assert_eq!(
        vault.helm.as_ref().unwrap().value_files,
        vec!["$values/manifests/helm/{{ .values.environment }}/vault-values.yaml".to_string()]
    );
    assert!(spec.unknown_fields().is_empty());
}

#[test]
fn uncorrected_helm_snippet_gives_a_clear_error() {
    let err = snippet_spec(SNIPPET_UNCORRECTED).unwrap_err().to_string();
    assert!(err.contains("`source` holds a list"), "{err}");
    assert!(err.contains("`sources:` instead of `source:`"), "{err}");

    // Straight from the YAML, as a whole document, the message is the same
    // and names the place in the template.
    let document = SNIPPET_UNCORRECTED.replace(
        "spec:\n  template:",
        "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata:\n  name: vault\nspec:\n  template:",
    );
    let err = serde_yaml_ng::from_str::<ApplicationSet>(&document)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("spec.template: in `spec`: `source` holds a list"),
        "{err}"
    );
    assert!(err.contains("line 9"), "{err}");
}

#[test]
fn unsupported_generator_kinds_are_named() {
    assert_eq!(
        UNSUPPORTED_GENERATOR_KINDS,
        &[
            "scmProvider",
            "pullRequest",
            "clusterDecisionResource",
            "plugin"
        ]
    );
}
