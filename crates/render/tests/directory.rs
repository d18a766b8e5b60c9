//! Plain directories, as Argo CD's `directory` source reads them.

use std::fs;
use std::path::Path;

use flotilla_git::LocalTree;
use flotilla_render::{render, DirectoryOptions, RenderOptions, SourceKind};

fn write(dir: &Path, rel: &str, content: &str) {
    let p = dir.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, content).unwrap();
}

fn names(dir: &Path, path: &str, opts: DirectoryOptions) -> Vec<String> {
    let tree = LocalTree::new(dir).unwrap();
    let out = render(
        &tree,
        path,
        &RenderOptions {
            directory: opts,
            ..RenderOptions::default()
        },
    )
    .unwrap();
    assert_eq!(out.kind, Some(SourceKind::Directory));
    out.manifests
        .iter()
        .map(|m| m.name().unwrap_or("").to_string())
        .collect()
}

fn fixture() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    write(
        d,
        "app/a.yaml",
        "# leading comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a1\n---\n# only a comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a2\n",
    );
    write(
        d,
        "app/b.json",
        r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}, "data": {"k": "v"}}"#,
    );
    write(
        d,
        "app/list.yml",
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: l1\n- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: l2\n",
    );
    write(d, "app/README.md", "not a manifest\n");
    write(
        d,
        "app/sub/c.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
    );
    write(
        d,
        "app/sub/deeper/d.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d\n",
    );
    t
}

#[test]
fn reads_yaml_json_lists_and_skips_comments() {
    let t = fixture();
    assert_eq!(
        names(t.path(), "app", DirectoryOptions::default()),
        ["a1", "a2", "b", "l1", "l2"]
    );
}

#[test]
fn recurse_include_exclude() {
    let t = fixture();
    let all = DirectoryOptions {
        recurse: true,
        ..Default::default()
    };
    assert_eq!(
        names(t.path(), "app", all.clone()),
        ["a1", "a2", "b", "l1", "l2", "c", "d"]
    );
    let include = DirectoryOptions {
        include: Some("{sub/*,*.json}".into()),
        ..all.clone()
    };
    assert_eq!(names(t.path(), "app", include), ["b", "c", "d"]);
    let exclude = DirectoryOptions {
        exclude: Some("sub/deeper/*".into()),
        ..all
    };
    assert_eq!(
        names(t.path(), "app", exclude),
        ["a1", "a2", "b", "l1", "l2", "c"]
    );
}

#[test]
fn output_is_formatted_like_kustomize() {
    let t = fixture();
    let tree = LocalTree::new(t.path()).unwrap();
    let out = render(&tree, "app/sub", &RenderOptions::default()).unwrap();
    assert_eq!(
        out.to_yaml(),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"
    );
    let json: serde_json::Value = serde_json::from_str(&out.to_json()).unwrap();
    assert_eq!(json[0]["metadata"]["name"], "c");
}

#[test]
fn non_manifests_are_errors_with_location() {
    let t = fixture();
    write(t.path(), "app/config.json", r#"{"cluster": {"name": "x"}}"#);
    let tree = LocalTree::new(t.path()).unwrap();
    let err = render(&tree, "app", &RenderOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("app/config.json"), "{err}");
    assert!(err.contains("kind"), "{err}");
}
