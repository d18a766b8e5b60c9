//! The crate's error type. Its `Display` is the text `helm template`
//! prints after `Error: `, so the CLI and the differential tests compare
//! it directly; the variants keep chart, file and line apart for callers.

/// Everything that can go wrong loading, valuing or rendering a chart.
#[derive(Debug, thiserror::Error)]
pub enum HelmError {
    /// A template does not parse: `parse error at (chart/templates/x.yaml:3): ...`.
    #[error("parse error at ({file}:{line}): {message}")]
    Parse {
        /// The template, as Helm names it (`chart/templates/x.yaml`).
        file: String,
        /// 1-based line.
        line: usize,
        /// The parser's message.
        message: String,
    },
    /// A template failed while executing. `text` is Helm's whole message:
    /// `execution error at (chart/templates/x.yaml:3:4): <required/fail message>`,
    /// or Go's `template: chart/templates/x.yaml:3:4: executing ...` for
    /// other failures.
    #[error("{text}")]
    Exec {
        /// The template being rendered when it failed.
        file: String,
        /// Where it failed (`chart/templates/_helpers.tpl:3:4`), as the
        /// outermost location Helm reports.
        location: String,
        /// `true` for `required`/`fail` (a message of the chart's own).
        user: bool,
        /// The message as Helm prints it.
        text: String,
    },
    /// A rendered document is not YAML that Helm can read the head of.
    #[error("YAML parse error on {file}: {message}")]
    ManifestYaml {
        /// The template that produced it.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// The chart's `kubeVersion` constraint excludes the target version.
    #[error(
        "chart requires kubeVersion: {constraint} which is incompatible with Kubernetes {version}"
    )]
    KubeVersionIncompatible {
        /// `kubeVersion` of `Chart.yaml`.
        constraint: String,
        /// The version rendered for (`v1.32.0`).
        version: String,
    },
    /// `--kube-version` is not a version.
    #[error("invalid kube version '{input}': {message}")]
    InvalidKubeVersion {
        /// As given.
        input: String,
        /// Why.
        message: String,
    },
    /// `--show-only` named a template that produced nothing.
    #[error("could not find template {0} in chart")]
    ShowOnlyNotFound(String),
    /// The chart could not be loaded.
    #[error(transparent)]
    Load(#[from] crate::load::LoadError),
    /// Values could not be built (files, `--set*`, dependencies, schema).
    #[error(transparent)]
    Values(#[from] crate::values::ValuesError),
}
