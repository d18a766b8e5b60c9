//! Bad input is refused quickly, with the file (and line) to blame; the
//! oracle must refuse it too, except where the issue asks for more than
//! kustomize does (a patch matching nothing, billion laughs).

mod common;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use flotilla_render::{render_local, RenderError, RenderOptions};

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (rel, content) in files {
        let p = dir.join(rel);
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(p, content).expect("write");
    }
}

/// Renders `dir/at`, expecting a fast failure; returns the error and its text.
fn fails(dir: &Path, at: &str) -> (RenderError, String) {
    let start = Instant::now();
    let err =
        render_local(dir.join(at), &RenderOptions::default()).expect_err("rendering should fail");
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "took {:?}",
        start.elapsed()
    );
    let text = err.to_string();
    (err, text)
}

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: b\n";

#[test]
fn missing_file_names_kustomization_and_line() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        &[
            (
                "k/kustomization.yaml",
                "resources:\n- cm.yaml\n- missing.yaml\n",
            ),
            ("k/cm.yaml", CM),
        ],
    );
    let (err, text) = fails(t.path(), "k");
    assert!(text.contains("kustomization.yaml:3"), "{text}");
    assert!(text.contains("missing.yaml"), "{text}");
    assert_eq!(err.location().line, Some(3));
    assert!(common::oracle(&t.path().join("k")).is_err());
}

#[test]
fn file_outside_the_kustomization_root_is_refused() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        &[
            ("shared/cm.yaml", CM),
            (
                "app/kustomization.yaml",
                "resources:\n- ../shared/cm.yaml\n",
            ),
        ],
    );
    let (_, text) = fails(t.path(), "app");
    assert!(text.contains("app/kustomization.yaml:2"), "{text}");
    assert!(text.contains("not in or below"), "{text}");
    assert!(common::oracle(&t.path().join("app")).is_err());
    // A directory with its own kustomization outside the root is fine.
    write(
        t.path(),
        &[
            ("shared/kustomization.yaml", "resources:\n- cm.yaml\n"),
            ("app/kustomization.yaml", "resources:\n- ../shared\n"),
        ],
    );
    common::compare(&t.path().join("app")).unwrap();
}

#[cfg(unix)]
#[test]
fn symlink_out_of_the_repository_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("secret.yaml"), CM).unwrap();
    write(
        t.path(),
        &[
            ("repo/.git/HEAD", "ref: refs/heads/main\n"),
            ("repo/app/kustomization.yaml", "resources:\n- link.yaml\n"),
        ],
    );
    std::os::unix::fs::symlink(
        outside.path().join("secret.yaml"),
        t.path().join("repo/app/link.yaml"),
    )
    .unwrap();
    let (err, text) = fails(t.path(), "repo/app");
    assert!(matches!(err, RenderError::Read { .. }), "{err:?}");
    assert!(text.contains("kustomization.yaml:2"), "{text}");
    assert!(text.contains("escapes"), "{text}");
}

#[test]
fn cycles_are_detected() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        &[
            ("a/kustomization.yaml", "resources:\n- ../b\n"),
            ("b/kustomization.yaml", "resources:\n- ../a\n"),
        ],
    );
    let (_, text) = fails(t.path(), "a");
    assert!(text.contains("cycle detected"), "{text}");
    assert!(text.contains("b/kustomization.yaml:2"), "{text}");
    assert!(common::oracle(&t.path().join("a")).is_err());
}

#[test]
fn duplicate_ids_name_both_files() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        &[
            ("k/kustomization.yaml", "resources:\n- a.yaml\n- b.yaml\n"),
            ("k/a.yaml", CM),
            ("k/b.yaml", &format!("# dup\n{CM}")),
        ],
    );
    let (_, text) = fails(t.path(), "k");
    assert!(text.contains("b.yaml:2"), "{text}");
    assert!(text.contains("a.yaml:1"), "{text}");
    assert!(text.contains("already registered id"), "{text}");
    assert!(common::oracle(&t.path().join("k")).is_err());
}

#[test]
fn patch_matching_nothing_is_refused() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        &[
            ("k/cm.yaml", CM),
            (
                "k/kustomization.yaml",
                "resources:\n- cm.yaml\npatches:\n- target:\n    kind: Deployment\n  patch: |-\n    - op: add\n      path: /x\n      value: 1\n",
            ),
        ],
    );
    let (_, text) = fails(t.path(), "k");
    assert!(text.contains("kustomization.yaml:4"), "{text}");
    assert!(text.contains("matches no resource"), "{text}");
    // Without a target, kustomize refuses it too.
    write(
        t.path(),
        &[(
            "k/kustomization.yaml",
            "resources:\n- cm.yaml\npatches:\n- patch: |-\n    apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: other\n",
        )],
    );
    let (_, text) = fails(t.path(), "k");
    assert!(text.contains("kustomization.yaml:4"), "{text}");
    assert!(common::oracle(&t.path().join("k")).is_err());
}

#[test]
fn billion_laughs_fails_fast() {
    let t = tempfile::tempdir().unwrap();
    let mut doc = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\ndata:\n  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    let mut prev = "a".to_string();
    for n in ["b", "c", "d", "e", "f", "g", "h", "i", "j"] {
        doc.push_str(&format!("  {n}: &{n} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
        prev = n.to_string();
    }
    write(
        t.path(),
        &[
            ("k/kustomization.yaml", "resources:\n- lol.yaml\n"),
            ("k/lol.yaml", &doc),
        ],
    );
    let (_, text) = fails(t.path(), "k");
    assert!(text.contains("lol.yaml:"), "{text}");
    assert!(text.contains("alias expansion"), "{text}");
}

#[test]
fn oversized_files_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let big = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  a: \"{}\"\n",
        "x".repeat(2 * 1024 * 1024)
    );
    write(
        t.path(),
        &[
            ("k/kustomization.yaml", "resources:\n- big.yaml\n"),
            ("k/big.yaml", &big),
        ],
    );
    let opts = RenderOptions {
        max_file_size: 1024 * 1024,
        ..RenderOptions::default()
    };
    let err = render_local(t.path().join("k"), &opts)
        .unwrap_err()
        .to_string();
    assert!(err.contains("big.yaml"), "{err}");
    assert!(err.contains("over the limit"), "{err}");
}

#[test]
fn non_breaking_space_indentation_from_the_article() {
    // The Deployment exactly as the reference article prints it.
    let article = fs::read_to_string("/work/shared/reference/multi-region-argocd-article.md")
        .or_else(|_| {
            fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../../../shared/reference/multi-region-argocd-article.md"),
            )
        });
    let deployment = match article {
        Ok(text) => {
            let start = text
                .find("apiVersion: apps/v1\nkind: Deployment")
                .expect("deployment in the article");
            let end = start + text[start..].find("```").expect("end of block");
            text[start..end].to_string()
        }
        Err(_) => "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n\u{a0}name: gen-algo-webui\n"
            .to_string(),
    };
    assert!(deployment.contains('\u{a0}'));
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        &[
            ("k/kustomization.yaml", "resources:\n- deployment.yaml\n"),
            ("k/deployment.yaml", &deployment),
        ],
    );
    let (err, text) = fails(t.path(), "k");
    assert!(text.contains("deployment.yaml:4"), "{text}");
    assert!(text.contains("non-breaking space"), "{text}");
    assert_eq!(err.location().line, Some(4));
    assert!(common::oracle(&t.path().join("k")).is_err());
}

#[test]
fn yaml_syntax_errors_have_lines() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        &[
            ("k/kustomization.yaml", "resources:\n- a.yaml\n"),
            ("k/a.yaml", &format!("{CM}---\n{CM}  bad: [unclosed\n")),
        ],
    );
    let (err, text) = fails(t.path(), "k");
    assert!(text.contains("a.yaml:"), "{text}");
    assert!(err.location().line.is_some_and(|l| l >= 13), "{text}");
}

#[test]
fn unknown_kustomization_fields_are_named() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        &[
            (
                "k/kustomization.yaml",
                "resources:\n- cm.yaml\nnamePrefx: x-\n",
            ),
            ("k/cm.yaml", CM),
        ],
    );
    let (_, text) = fails(t.path(), "k");
    assert!(text.contains("kustomization.yaml:3"), "{text}");
    assert!(text.contains("namePrefx"), "{text}");
    assert!(common::oracle(&t.path().join("k")).is_err());
}

#[test]
fn missing_kustomization_in_a_base() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        &[
            ("base/cm.yaml", CM),
            ("k/kustomization.yaml", "resources:\n- ../base\n"),
        ],
    );
    let (_, text) = fails(t.path(), "k");
    assert!(text.contains("kustomization.yaml:2"), "{text}");
    assert!(text.contains("unable to find one of"), "{text}");
    assert!(common::oracle(&t.path().join("k")).is_err());
}

#[test]
fn nothing_on_stdout_for_errors_library_returns_no_partial_output() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        &[
            (
                "k/kustomization.yaml",
                "resources:\n- cm.yaml\n- nope.yaml\n",
            ),
            ("k/cm.yaml", CM),
        ],
    );
    assert!(render_local(t.path().join("k"), &RenderOptions::default()).is_err());
}
