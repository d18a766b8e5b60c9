//! Helm sources, rendered as Argo CD's repo-server renders them, but in
//! process: the chart (from a chart repository, an OCI registry, or a Git
//! directory holding `Chart.yaml`), its `helm` options mapped to
//! `helm template`'s flags, and the output turned into manifests.
//!
//! What Argo CD does and this follows:
//! - value files in order, `$ref/path` read from the `ref` source's tree,
//!   other paths relative to the chart (absolute ones to the repository
//!   root), never outside the repository; `values`/`valuesObject` after
//!   them; `parameters` as `--set` (`--set-string` with `forceString`),
//!   `fileParameters` as `--set-file`;
//! - release name = `releaseName` or the Application's name, namespace =
//!   `helm.namespace` or the destination namespace, CRDs included unless
//!   `skipCrds`, test hooks left out with `skipTests`;
//! - `$ARGOCD_APP_NAME` and the other build variables expanded (Go's
//!   `os.Expand`, unknown names empty) in value file paths, parameter
//!   values and file parameter paths;
//! - Helm hooks Argo CD never runs (test, delete, rollback) left out.

use std::collections::BTreeMap;
use std::sync::Arc;

use flotilla_core::{Application, ApplicationSource, ApplicationSourceHelm, Manifest};
use flotilla_git::Tree;
use flotilla_helm::{Capabilities, Chart, KubeVersion, TemplateOptions, ValueFile, ValuesOptions};

/// Where a chart's relative files are read from.
pub(crate) enum ChartFiles {
    /// A chart from a chart repository: its own files.
    Archive,
    /// A chart directory `path` in a Git tree (repository root = tree root).
    Git {
        /// The repository at the source's revision.
        tree: Arc<dyn Tree>,
        /// The chart's directory in it.
        path: String,
    },
}

/// Everything one Helm source's render needs, already fetched.
pub(crate) struct HelmInput<'a> {
    pub app: &'a Application,
    pub source: &'a ApplicationSource,
    pub chart: Chart,
    pub files: ChartFiles,
    /// Trees of the Application's `ref` sources, by ref name.
    pub refs: BTreeMap<String, Arc<dyn Tree>>,
    /// The source's revision (chart version or commit), for `$ARGOCD_APP_REVISION`.
    pub revision: String,
    /// The destination cluster's version and API versions, when known.
    pub cluster: Option<ClusterCapabilities>,
}

/// What the destination cluster reports, for `.Capabilities`.
#[derive(Clone, Debug, Default)]
pub(crate) struct ClusterCapabilities {
    /// `v1.32.13`.
    pub kube_version: Option<String>,
    /// `group/version` and `group/version/Kind`.
    pub api_versions: Vec<String>,
}

/// Renders a Helm source. The error names the option, file and line.
pub(crate) fn render(input: HelmInput<'_>) -> Result<Vec<Manifest>, String> {
    let empty = ApplicationSourceHelm::default();
    let helm = input.source.helm.as_ref().unwrap_or(&empty);
    check_fields(helm)?;

    let kube_version = helm
        .kube_version
        .clone()
        .filter(|v| !v.is_empty())
        .or_else(|| input.cluster.as_ref().and_then(|c| c.kube_version.clone()));
    let api_versions = if helm.api_versions.is_empty() {
        input
            .cluster
            .as_ref()
            .map(|c| c.api_versions.clone())
            .unwrap_or_default()
    } else {
        helm.api_versions.clone()
    };
    let kube = match &kube_version {
        Some(v) => KubeVersion::parse(v).map_err(|e| format!("helm.kubeVersion {v:?}: {e}"))?,
        None => KubeVersion::default(),
    };
    let env = build_env(
        input.app,
        input.source,
        &input.revision,
        &kube.version,
        &api_versions,
    );

    let mut values = ValuesOptions {
        skip_schema_validation: helm.skip_schema_validation.unwrap_or(false),
        ..Default::default()
    };
    let ignore_missing = helm.ignore_missing_value_files.unwrap_or(false);
    for (i, raw) in helm.value_files.iter().enumerate() {
        let what = format!("helm.valueFiles[{i}] {raw:?}");
        match read_value_file(&input, raw, &env).map_err(|e| format!("{what}: {e}"))? {
            Some(data) => values.value_files.push(ValueFile {
                name: raw.clone(),
                data,
            }),
            None if ignore_missing => {
                tracing::debug!(app = input.app.name(), file = %raw, "value file missing, ignored");
            }
            None => {
                return Err(format!(
                    "{what}: no such file (set ignoreMissingValueFiles to skip it)"
                ))
            }
        }
    }
    if let Some(inline) = inline_values(helm)? {
        values.value_files.push(ValueFile {
            name: "helm.values".into(),
            data: inline.into_bytes(),
        });
    }
    let mut set = BTreeMap::new();
    let mut set_string = BTreeMap::new();
    for (i, p) in helm.parameters.iter().enumerate() {
        let name = p
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| format!("helm.parameters[{i}]: no name"))?;
        let value = envsubst(p.value.as_deref().unwrap_or(""), &env);
        if p.force_string.unwrap_or(false) {
            set_string.insert(name, value);
        } else {
            set.insert(name, value);
        }
    }
    values.set = set
        .into_iter()
        .map(|(k, v)| format!("{k}={}", clean_set_parameter(&v)))
        .collect();
    values.set_string = set_string
        .into_iter()
        .map(|(k, v)| format!("{k}={}", clean_set_parameter(&v)))
        .collect();
    let mut file_params: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (i, p) in helm.file_parameters.iter().enumerate() {
        let name = p
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| format!("helm.fileParameters[{i}]: no name"))?;
        let raw = p.path.clone().unwrap_or_default();
        let path = envsubst(&raw, &env);
        let data = read_chart_relative(&input, &path)
            .map_err(|e| format!("helm.fileParameters[{i}] {raw:?}: {e}"))?
            .ok_or_else(|| format!("helm.fileParameters[{i}] {raw:?}: no such file"))?;
        file_params.insert(name, data);
    }
    if !file_params.is_empty() {
        let contents = Arc::new(file_params.clone());
        values.set_file = file_params.keys().map(|k| format!("{k}={k}")).collect();
        values.file_reader = Some(Arc::new(move |key: &str| {
            contents
                .get(key)
                .cloned()
                .ok_or_else(|| format!("{key}: no such file parameter"))
        }));
    }

    let options = TemplateOptions {
        release_name: helm
            .release_name
            .clone()
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| input.app.name().to_string()),
        namespace: helm
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .or_else(|| input.app.spec.destination.namespace.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".into()),
        capabilities: Capabilities::with(kube, &api_versions),
        ..Default::default()
    };
    let prepared = flotilla_helm::prepare(input.chart, &values).map_err(|e| e.to_string())?;
    let mut rendered = flotilla_helm::template(&prepared.chart, &prepared.values, &options)
        .map_err(|e| e.to_string())?;
    if helm.skip_tests.unwrap_or(false) {
        rendered.skip_tests();
    }
    let manifests = rendered
        .to_manifests(!helm.skip_crds.unwrap_or(false), true)
        .map_err(|e| e.to_string())?;
    Ok(manifests
        .into_iter()
        .filter(|m| !m.is_unmapped_helm_hook())
        .collect())
}

/// Fields of `helm` that are read but not honoured are refused by name.
fn check_fields(helm: &ApplicationSourceHelm) -> Result<(), String> {
    if let Some(v) = helm.version.as_deref() {
        if !v.is_empty() && v != "v3" {
            return Err(format!(
                "helm.version {v:?} is not supported: Flotilla renders as Helm v3 (write v3 or leave it out)"
            ));
        }
    }
    if let Some(k) = helm.extra.keys().next() {
        return Err(format!("helm.{k} is not a field Flotilla knows"));
    }
    for (i, p) in helm.parameters.iter().enumerate() {
        if let Some(k) = p.extra.keys().next() {
            return Err(format!(
                "helm.parameters[{i}].{k} is not a field Flotilla knows"
            ));
        }
    }
    for (i, p) in helm.file_parameters.iter().enumerate() {
        if let Some(k) = p.extra.keys().next() {
            return Err(format!(
                "helm.fileParameters[{i}].{k} is not a field Flotilla knows"
            ));
        }
    }
    Ok(())
}

/// `valuesObject` (as YAML) wins over `values`, as in Argo CD.
fn inline_values(helm: &ApplicationSourceHelm) -> Result<Option<String>, String> {
    if let Some(obj) = &helm.values_object {
        if !obj.is_null() {
            let text = serde_json::to_string(obj)
                .map_err(|e| format!("helm.valuesObject cannot be written out: {e}"))?;
            // JSON is YAML; Helm reads it the same way.
            return Ok(Some(text));
        }
    }
    Ok(helm.values.clone().filter(|v| !v.trim().is_empty()))
}

/// A value file's bytes, `None` when it does not exist.
fn read_value_file(
    input: &HelmInput<'_>,
    raw: &str,
    env: &[(String, String)],
) -> Result<Option<Vec<u8>>, String> {
    if let Some(rest) = raw.strip_prefix('$') {
        let (name, path) = rest.split_once('/').unwrap_or((rest, ""));
        if let Some(tree) = input.refs.get(name) {
            let path = envsubst(path, env);
            let path = normalize_in_root("", &path)?;
            return read_tree(tree.as_ref(), &path);
        }
    }
    let path = envsubst(raw, env);
    if path.contains("://") {
        return Err("remote value files (URLs) are not supported yet; put the file in Git and use a ref source".into());
    }
    read_chart_relative(input, &path)
}

/// A file relative to the chart (absolute: relative to the repository root).
fn read_chart_relative(input: &HelmInput<'_>, path: &str) -> Result<Option<Vec<u8>>, String> {
    match &input.files {
        ChartFiles::Git { tree, path: dir } => {
            let p = normalize_in_root(dir, path)?;
            read_tree(tree.as_ref(), &p)
        }
        ChartFiles::Archive => {
            let p = normalize_in_root("", path)?;
            Ok(chart_file(&input.chart, &p))
        }
    }
}

fn read_tree(tree: &dyn Tree, path: &str) -> Result<Option<Vec<u8>>, String> {
    match tree.kind(path).map_err(|e| e.to_string())? {
        None => Ok(None),
        Some(_) => tree.read(path).map(Some).map_err(|e| e.to_string()),
    }
}

/// A file of a loaded chart by its chart-relative name.
fn chart_file(chart: &Chart, name: &str) -> Option<Vec<u8>> {
    if name == "values.yaml" {
        return chart.raw_values.as_ref().map(|v| v.clone().into_bytes());
    }
    chart
        .templates
        .iter()
        .chain(chart.files.iter())
        .find(|f| f.name == name)
        .map(|f| f.data.clone())
}

/// `path` resolved against `dir` (absolute paths against the root),
/// refusing anything that leaves the root, as Argo CD does.
fn normalize_in_root(dir: &str, path: &str) -> Result<String, String> {
    let joined = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{dir}/{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for seg in joined.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(format!("{path} resolves to outside the repository root"));
                }
            }
            s => parts.push(s),
        }
    }
    Ok(parts.join("/"))
}

/// Argo CD's build environment for a source.
fn build_env(
    app: &Application,
    source: &ApplicationSource,
    revision: &str,
    kube_version: &str,
    api_versions: &[String],
) -> Vec<(String, String)> {
    let short = |n: usize| revision.chars().take(n).collect::<String>();
    vec![
        ("ARGOCD_APP_NAME".into(), app.name().to_string()),
        (
            "ARGOCD_APP_NAMESPACE".into(),
            app.spec.destination.namespace.clone().unwrap_or_default(),
        ),
        (
            "ARGOCD_APP_PROJECT_NAME".into(),
            app.spec.project.clone().unwrap_or_default(),
        ),
        ("ARGOCD_APP_REVISION".into(), revision.to_string()),
        ("ARGOCD_APP_REVISION_SHORT".into(), short(7)),
        ("ARGOCD_APP_REVISION_SHORT_8".into(), short(8)),
        (
            "ARGOCD_APP_SOURCE_REPO_URL".into(),
            source.repo_url.clone().unwrap_or_default(),
        ),
        (
            "ARGOCD_APP_SOURCE_PATH".into(),
            source.path.clone().unwrap_or_default(),
        ),
        (
            "ARGOCD_APP_SOURCE_TARGET_REVISION".into(),
            source.target_revision.clone().unwrap_or_default(),
        ),
        ("KUBE_VERSION".into(), kube_version.to_string()),
        ("KUBE_API_VERSIONS".into(), api_versions.join(",")),
    ]
}

/// Go's `os.Expand` with Argo CD's mapping: known names replaced, unknown
/// names empty, `$$` a dollar sign.
fn envsubst(s: &str, env: &[(String, String)]) -> String {
    let lookup = |name: &str| -> String {
        if name == "$" {
            return "$".into();
        }
        env.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let special = |c: u8| {
        matches!(
            c,
            b'*' | b'#' | b'$' | b'@' | b'!' | b'?' | b'-' | b'0'..=b'9'
        )
    };
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut last = 0;
    while i < b.len() {
        if b[i] == b'$' && i + 1 < b.len() {
            out.push_str(&s[last..i]);
            let rest = &s[i + 1..];
            let r = rest.as_bytes();
            let (name, width): (&str, usize) = if r[0] == b'{' {
                if r.len() > 2 && special(r[1]) && r[2] == b'}' {
                    (&rest[1..2], 3)
                } else {
                    match rest[1..].find('}') {
                        Some(0) => ("", 2),
                        Some(j) => (&rest[1..j + 1], j + 2),
                        None => ("", 1),
                    }
                }
            } else if special(r[0]) {
                (&rest[..1], 1)
            } else {
                let n = r
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                    .count();
                (&rest[..n], n)
            };
            if name.is_empty() && width == 0 {
                out.push('$');
            } else if !name.is_empty() {
                out.push_str(&lookup(name));
            }
            i += 1 + width;
            last = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&s[last..]);
    out
}

/// Argo CD escapes unescaped commas in `--set` values, unless the value is
/// a `{a,b}` list.
fn clean_set_parameter(v: &str) -> String {
    if v.starts_with('{') && v.ends_with('}') {
        return v.to_string();
    }
    let mut out = String::with_capacity(v.len());
    let mut prev = '\0';
    for c in v.chars() {
        if c == ',' && prev != '\\' {
            out.push('\\');
        }
        out.push(c);
        prev = c;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Vec<(String, String)> {
        vec![
            ("ARGOCD_APP_NAME".into(), "web".into()),
            ("KUBE_VERSION".into(), "v1.32.13".into()),
        ]
    }

    #[test]
    fn envsubst_follows_go_os_expand() {
        let e = env();
        assert_eq!(
            envsubst("values-$ARGOCD_APP_NAME.yaml", &e),
            "values-web.yaml"
        );
        assert_eq!(envsubst("${ARGOCD_APP_NAME}-x", &e), "web-x");
        assert_eq!(envsubst("$UNKNOWN/a", &e), "/a");
        assert_eq!(envsubst("cost $$5", &e), "cost $5");
        assert_eq!(envsubst("trailing $", &e), "trailing $");
        assert_eq!(envsubst("k8s $KUBE_VERSION!", &e), "k8s v1.32.13!");
        assert_eq!(envsubst("${}x", &e), "x");
    }

    #[test]
    fn set_values_escape_commas_except_lists() {
        assert_eq!(clean_set_parameter("a,b"), "a\\,b");
        assert_eq!(clean_set_parameter("a\\,b"), "a\\,b");
        assert_eq!(clean_set_parameter("{a,b}"), "{a,b}");
    }

    #[test]
    fn value_file_paths_stay_inside_the_repository() {
        assert_eq!(
            normalize_in_root("charts/web", "../common/v.yaml").unwrap(),
            "charts/common/v.yaml"
        );
        assert_eq!(
            normalize_in_root("charts/web", "/envs/prod.yaml").unwrap(),
            "envs/prod.yaml"
        );
        let err = normalize_in_root("charts/web", "../../../etc/passwd").unwrap_err();
        assert!(err.contains("outside the repository root"), "{err}");
    }
}
