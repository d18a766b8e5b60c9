//! The manifests the sync engine is handed are the objects `helm template`'s
//! text holds: each document parsed as Helm writes it (followed by a
//! newline), so block scalars at the end of a document keep their final
//! line break, as they do for Argo CD and `helm install`.

use flotilla_helm::{load_dir, prepare, template, OutputOptions, TemplateOptions, ValuesOptions};

fn write(dir: &std::path::Path, name: &str, text: &str) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

#[test]
fn manifests_are_the_objects_of_the_printed_output() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("web");
    write(
        &dir,
        "Chart.yaml",
        "apiVersion: v2\nname: web\nversion: 0.1.0\n",
    );
    write(&dir, "values.yaml", "conf: |\n  a: 1\n  b: 2\n");
    // The block scalar is the document's last line: clip (`|`), keep (`|+`)
    // and strip (`|-`) chomping.
    write(
        &dir,
        "templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: clip\ndata:\n  app.conf: |\n    {{- .Values.conf | nindent 4 }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: keep\ndata:\n  x: |+\n    line\n\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: strip\ndata:\n  x: |-\n    line\n",
    );
    write(
        &dir,
        "crds/widget.yaml",
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\n  annotations:\n    note: |\n      kept\n",
    );
    let chart = load_dir(&dir).unwrap();
    let prepared = prepare(chart, &ValuesOptions::default()).unwrap();
    let rendered = template(
        &prepared.chart,
        &prepared.values,
        &TemplateOptions::default(),
    )
    .unwrap();
    let text = rendered
        .helm_template_output(&OutputOptions {
            include_crds: true,
            ..Default::default()
        })
        .unwrap();
    let printed: Vec<serde_json::Value> = text
        .split("\n---\n")
        .map(|d| d.strip_prefix("---\n").unwrap_or(d))
        .map(|d| serde_yaml_ng::from_str::<serde_json::Value>(&format!("{d}\n")).unwrap())
        .filter(|v| !v.is_null())
        .collect();
    let manifests: Vec<serde_json::Value> = rendered
        .to_manifests(true, true)
        .unwrap()
        .into_iter()
        .map(|m| serde_json::Value::Object(m.object))
        .collect();
    assert_eq!(manifests, printed);
    let data = |name: &str, key: &str| {
        manifests
            .iter()
            .find(|m| m["metadata"]["name"] == name)
            .and_then(|m| m["data"][key].as_str().map(str::to_string))
            .unwrap()
    };
    assert_eq!(data("clip", "app.conf"), "a: 1\nb: 2\n");
    assert_eq!(data("keep", "x"), "line\n");
    assert_eq!(data("strip", "x"), "line");
    assert_eq!(
        manifests[0]["metadata"]["annotations"]["note"].as_str(),
        Some("kept\n")
    );
}
