//! `template`: a loaded chart and its coalesced values in, the documents
//! `helm template` would print out, with their source template and hook
//! information.

use flotilla_template::Limits;

use crate::chart::Chart;
use crate::engine::{self, Capabilities, ReleaseInfo};
use crate::error::HelmError;
pub use crate::sort::{Document, Head, Hook, HookEvent};

/// What a render is for: release, namespace, cluster capabilities.
#[derive(Clone, Debug)]
pub struct TemplateOptions {
    /// `.Release.Name` (`helm template` default: `release-name`).
    pub release_name: String,
    /// `.Release.Namespace` (default `default`).
    pub namespace: String,
    /// `.Capabilities` (`--kube-version`, `--api-versions`).
    pub capabilities: Capabilities,
    /// `--is-upgrade`: `.Release.IsUpgrade` true, `IsInstall` false.
    pub is_upgrade: bool,
    /// Bounds on template execution.
    pub limits: Limits,
}

impl Default for TemplateOptions {
    fn default() -> Self {
        TemplateOptions {
            release_name: "release-name".into(),
            namespace: "default".into(),
            capabilities: Capabilities::default(),
            is_upgrade: false,
            limits: Limits::default(),
        }
    }
}

/// A file from a chart's `crds/` directory (printed verbatim with
/// `--include-crds`, never templated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrdFile {
    /// `chart/crds/x.yaml` (`chart/charts/sub/crds/y.yaml` for a subchart).
    pub source: String,
    /// The file as written.
    pub content: String,
}

/// A rendered chart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    /// The root chart's name.
    pub chart: String,
    /// CRD files of the chart and its subcharts, in Helm's order.
    pub crds: Vec<CrdFile>,
    /// Ordinary manifests, in Helm's install order.
    pub manifests: Vec<Document>,
    /// Hooks, ordered by kind as `helm template` prints them.
    pub hooks: Vec<Document>,
    /// The root chart's rendered `NOTES.txt` (empty when none).
    pub notes: String,
}

/// Renders `chart` with its final, coalesced `values` (the `.Values` of
/// the root chart) as `helm template` does.
///
/// `chart` must already be processed for dependencies (disabled
/// subcharts removed, aliases applied), as `chartutil` prepares it.
///
/// ```
/// use flotilla_helm::{template, Chart, ChartFile, ChartMetadata, OutputOptions, TemplateOptions};
/// use flotilla_template::Value;
///
/// let chart = Chart {
///     metadata: ChartMetadata { name: "demo".into(), version: "0.1.0".into(), api_version: "v2".into(), ..Default::default() },
///     lock: None,
///     templates: vec![ChartFile {
///         name: "templates/cm.yaml".into(),
///         data: b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-{{ .Values.suffix }}\n".to_vec(),
///     }],
///     values: Value::empty_map(),
///     raw_values: None,
///     schema: None,
///     files: vec![],
///     dependencies: vec![],
///     origin: "demo".into(),
/// };
/// let values = Value::from(serde_json::json!({"suffix": "cfg"}));
/// let rendered = template(&chart, &values, &TemplateOptions::default())?;
/// assert_eq!(rendered.manifests[0].head.name, "release-name-cfg");
/// assert_eq!(
///     rendered.helm_template_output(&OutputOptions::default())?,
///     "---\n# Source: demo/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: release-name-cfg\n",
/// );
/// # Ok::<(), flotilla_helm::HelmError>(())
/// ```
pub fn template(
    chart: &Chart,
    values: &flotilla_template::Value,
    opts: &TemplateOptions,
) -> Result<Rendered, HelmError> {
    let kube = &opts.capabilities.kube_version.version;
    if !chart.metadata.kube_version.is_empty()
        && !kube_compatible(&chart.metadata.kube_version, kube)
    {
        return Err(HelmError::KubeVersionIncompatible {
            constraint: chart.metadata.kube_version.clone(),
            version: kube.clone(),
        });
    }
    let release = ReleaseInfo {
        name: opts.release_name.clone(),
        namespace: opts.namespace.clone(),
        revision: 1,
        is_upgrade: opts.is_upgrade,
    };
    let mut files = engine::render_files(chart, values, &release, &opts.capabilities, opts.limits)?;

    let root_notes = format!("{}/templates/NOTES.txt", chart.metadata.name);
    let mut notes = String::new();
    files.retain(|name, text| {
        if !name.ends_with("NOTES.txt") {
            return true;
        }
        if *name == root_notes {
            notes.push_str(text);
        }
        false
    });

    let (manifests, hooks) = crate::sort::sort_manifests(&files)?;
    let mut crds = Vec::new();
    collect_crds(chart, None, &mut crds);
    Ok(Rendered {
        chart: chart.metadata.name.clone(),
        crds,
        manifests,
        hooks,
        notes,
    })
}

/// `helm template` in one call: values built from `values` as Helm builds
/// them (files, `--set*`, dependency conditions and tags, import-values,
/// coalescing, schema), then [`template`], then the text `helm template`
/// prints ([`Rendered::helm_template_output`]). What `flotilla helm
/// template` runs.
pub fn template_chart(
    chart: Chart,
    values: &crate::values::ValuesOptions,
    opts: &TemplateOptions,
    output: &crate::output::OutputOptions,
) -> Result<String, HelmError> {
    let prepared = crate::values::prepare(chart, values)?;
    let rendered = template(&prepared.chart, &prepared.values, opts)?;
    rendered.helm_template_output(output)
}

/// Helm's `IsCompatibleRange`: a constraint that does not parse matches nothing.
fn kube_compatible(constraint: &str, version: &str) -> bool {
    match flotilla_template::semver::Version::parse(version) {
        Ok(v) => flotilla_template::semver::check_constraint(constraint, &v).unwrap_or(false),
        Err(_) => false,
    }
}

fn collect_crds(c: &Chart, parent: Option<&str>, out: &mut Vec<CrdFile>) {
    let full = match parent {
        None => c.metadata.name.clone(),
        Some(p) => format!("{p}/charts/{}", c.metadata.name),
    };
    for f in &c.files {
        if !f.name.starts_with("crds/") {
            continue;
        }
        let ext = f.name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
        if !matches!(ext.as_deref(), Some("yaml" | "yml" | "json")) {
            continue;
        }
        out.push(CrdFile {
            source: engine::join(&full, &f.name),
            content: String::from_utf8_lossy(&f.data).into_owned(),
        });
    }
    for d in &c.dependencies {
        collect_crds(d, Some(&full), out);
    }
}

impl Rendered {
    /// Leaves out test hooks, as `--skip-tests` does.
    pub fn skip_tests(&mut self) {
        self.hooks
            .retain(|d| !d.hook.as_ref().is_some_and(|h| h.is_test()));
    }

    /// The manifests (CRDs first when `include_crds`, then ordinary
    /// manifests, then hooks unless `include_hooks` is false) as
    /// [`flotilla_core::Manifest`]s, each located at its template (or CRD
    /// file) and document index. Empty documents (comments only) are left out.
    pub fn to_manifests(
        &self,
        include_crds: bool,
        include_hooks: bool,
    ) -> Result<Vec<flotilla_core::Manifest>, HelmError> {
        let mut out = Vec::new();
        let mut push = |source: &str, text: &str, index: usize| -> Result<(), HelmError> {
            // A document is stored trimmed (as `SplitManifests` leaves it),
            // but Helm writes each one followed by a newline, and that text
            // is what Argo CD and `helm install` read: a block scalar at the
            // end of a document keeps its final line break.
            let text = format!("{text}\n");
            let value: serde_json::Value =
                serde_yaml_ng::from_str(&text).map_err(|e| HelmError::ManifestYaml {
                    file: source.to_string(),
                    message: e.to_string(),
                })?;
            if value.is_null() {
                return Ok(());
            }
            let location = flotilla_core::Location {
                file: source.to_string(),
                line: None,
                column: None,
                document: u32::try_from(index + 1).ok(),
            };
            let m = flotilla_core::Manifest::from_value_at(value, location).map_err(|e| {
                HelmError::ManifestYaml {
                    file: source.to_string(),
                    message: e.to_string(),
                }
            })?;
            out.push(m);
            Ok(())
        };
        if include_crds {
            for c in &self.crds {
                for (i, d) in crate::sort::split_manifests(&c.content).iter().enumerate() {
                    push(&c.source, d, i)?;
                }
            }
        }
        let hooks: &[Document] = if include_hooks { &self.hooks } else { &[] };
        for d in self.manifests.iter().chain(hooks) {
            push(&d.source, &d.content, d.index)?;
        }
        Ok(out)
    }
}
