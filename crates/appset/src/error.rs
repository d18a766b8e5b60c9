//! Errors: each names the ApplicationSet, the generator (by JSON path), the
//! parameter source (a file and line, a list element, a cluster) and the
//! field or template at fault.

use std::fmt;

use flotilla_core::Location;
use flotilla_git::GitError;
use flotilla_template::TemplateError;

/// Where a parameter set, and so a generated Application, comes from.
///
/// ```
/// use flotilla_appset::Origin;
///
/// let origin = Origin::new("spec.generators[0]", "git file overlays/dev/eu/config.json");
/// assert_eq!(origin.to_string(), "spec.generators[0] (git file overlays/dev/eu/config.json)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    /// JSON path of the generator in the ApplicationSet, e.g. `spec.generators[0]`.
    pub generator: String,
    /// What produced the parameter set: `list element 2`, `cluster prod
    /// (https://...)`, `git file overlays/dev/eu/config.json`, `git directory
    /// apps/web`, or a combination for matrix and merge.
    pub source: String,
}

impl Origin {
    /// An origin from a generator path and a source description.
    pub fn new(generator: impl Into<String>, source: impl Into<String>) -> Self {
        Origin {
            generator: generator.into(),
            source: source.into(),
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.generator, self.source)
    }
}

/// A template string that did not parse or execute; its text is Argo CD's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateFailure {
    /// A Go template that does not parse.
    #[error("failed to parse template {text}: {error}")]
    Parse {
        /// The template text.
        text: String,
        /// Go's error, with line and column.
        error: TemplateError,
    },
    /// A Go template whose execution failed (e.g. `missingkey=error` and a
    /// key the parameters do not have).
    #[error("failed to execute go template {text}: {error}")]
    Execute {
        /// The template text.
        text: String,
        /// Go's error, naming the key and the position.
        error: TemplateError,
    },
    /// A fasttemplate (`goTemplate: false`) that does not parse.
    #[error("{message}")]
    Fast {
        /// The template text.
        text: String,
        /// What is wrong.
        message: String,
    },
}

impl TemplateFailure {
    /// The template text.
    pub fn text(&self) -> &str {
        match self {
            TemplateFailure::Parse { text, .. }
            | TemplateFailure::Execute { text, .. }
            | TemplateFailure::Fast { text, .. } => text,
        }
    }
}

/// Why generating Applications from an ApplicationSet failed.
///
/// Every variant names the ApplicationSet (`appset`) and the place at fault:
/// a JSON path into the ApplicationSet (`field`, `spec.generators[0].git`),
/// the [`Origin`] of a parameter set, a [`Location`] (file, line, column) in
/// a repository.
///
/// ```
/// use flotilla_appset::{generate, AppsetError, GeneratorInputs};
/// use flotilla_core::ApplicationSet;
///
/// let appset: ApplicationSet = serde_json::from_value(serde_json::json!({
///   "apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
///   "metadata": {"name": "apps"},
///   "spec": {"generators": [{"git": {"repoURL": "https://example.com/deploy.git",
///                                     "revision": "main",
///                                     "directories": [{"path": "apps/*"}]}}]}
/// }))?;
/// let err = generate(&appset, &GeneratorInputs::new()).unwrap_err();
/// assert!(matches!(err, AppsetError::MissingRepository { .. }));
/// assert_eq!(err.missing_repository(), Some(("https://example.com/deploy.git", "main")));
/// assert_eq!(
///     err.to_string(),
///     "ApplicationSet \"apps\": `spec.generators[0].git`: no snapshot of repository \
///      https://example.com/deploy.git at revision main was provided"
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppsetError {
    /// The ApplicationSet itself is not valid (apiVersion, kind,
    /// `goTemplateOptions`, a generator without kind, too few children, ...).
    #[error("ApplicationSet {appset:?}: `{field}`: {reason}")]
    Invalid {
        /// ApplicationSet name.
        appset: String,
        /// JSON path of the field at fault.
        field: String,
        /// What is wrong.
        reason: String,
    },

    /// Fields Flotilla does not know, listed by JSON path.
    #[error(
        "ApplicationSet {appset:?}: unknown field{} {}: Flotilla does not know what {} do",
        if fields.len() == 1 { "" } else { "s" },
        fields.join(", "),
        if fields.len() == 1 { "it would" } else { "they would" }
    )]
    UnknownFields {
        /// ApplicationSet name.
        appset: String,
        /// JSON paths, e.g. `spec.generators[0].git.foo`.
        fields: Vec<String>,
    },

    /// A generator kind Flotilla does not run (`scmProvider`, `pullRequest`,
    /// `clusterDecisionResource`, `plugin`) or an unknown key in its place.
    #[error(
        "ApplicationSet {appset:?}: `{field}`: {} `{kind}` is not supported by Flotilla (supported: list, clusters, git, matrix, merge)",
        if *known { "the Argo CD generator" } else { "unknown generator kind" }
    )]
    UnsupportedGenerator {
        /// ApplicationSet name.
        appset: String,
        /// JSON path of the generator entry.
        field: String,
        /// The generator key, e.g. `pullRequest`.
        kind: String,
        /// Whether Argo CD has such a generator.
        known: bool,
    },

    /// A git generator needs a repository snapshot that the inputs do not hold.
    ///
    /// Callers that resolve repositories lazily can resolve this one
    /// (`repo_url` at `revision`), add it to the inputs and generate again.
    #[error(
        "ApplicationSet {appset:?}: `{field}`: no snapshot of repository {repo_url} at revision {revision} was provided"
    )]
    MissingRepository {
        /// ApplicationSet name.
        appset: String,
        /// JSON path of the git generator.
        field: String,
        /// `repoURL` as written (after matrix interpolation).
        repo_url: String,
        /// `revision`, `HEAD` when empty.
        revision: String,
    },

    /// Reading a repository snapshot failed.
    #[error("ApplicationSet {appset:?}: `{field}`: {error}")]
    Repository {
        /// ApplicationSet name.
        appset: String,
        /// JSON path of the git generator.
        field: String,
        /// What the snapshot reported.
        error: Box<GitError>,
    },

    /// A git generator's file is not valid JSON or YAML, or not a mapping
    /// (or list of mappings).
    #[error("ApplicationSet {appset:?}: `{field}`: {location} (in {repository}): {reason}")]
    File {
        /// ApplicationSet name.
        appset: String,
        /// JSON path of the git generator.
        field: String,
        /// The file, with line and column when known.
        location: Box<Location>,
        /// The snapshot the file was read from (`URL@commit` or a directory).
        repository: String,
        /// What is wrong.
        reason: String,
    },

    /// A template failed: a generator's `values`, the Application template,
    /// `templatePatch`, or a matrix child being interpolated.
    #[error("ApplicationSet {appset:?}: {origin}: `{field}`: {failure}")]
    Template {
        /// ApplicationSet name.
        appset: String,
        /// The parameter set it was rendered with.
        origin: Origin,
        /// The field holding the template: `values.region`,
        /// `metadata.name`, `spec.destination.server`, `templatePatch`, ...
        field: String,
        /// The template and Go's (or fasttemplate's) message.
        failure: Box<TemplateFailure>,
    },

    /// A generator could not produce its parameters: a list element that is
    /// not a mapping, conflicting matrix parameters, duplicate merge keys, a
    /// bad path pattern or selector, ...
    #[error("ApplicationSet {appset:?}: `{field}`: {reason}")]
    Generator {
        /// ApplicationSet name.
        appset: String,
        /// JSON path of the generator.
        field: String,
        /// What is wrong.
        reason: String,
    },

    /// The rendered Application is not valid (e.g. a templated boolean that
    /// rendered to `maybe`, or a `templatePatch` that is not a mapping).
    #[error("ApplicationSet {appset:?}: {origin}: {reason}")]
    Render {
        /// ApplicationSet name.
        appset: String,
        /// The parameter set it was rendered with.
        origin: Origin,
        /// What is wrong.
        reason: String,
    },

    /// Two parameter sets produced Applications with the same name.
    #[error(
        "ApplicationSet {appset:?}: two Applications are named {name:?}: one from {first}, one from {second}"
    )]
    DuplicateName {
        /// ApplicationSet name.
        appset: String,
        /// The Application name.
        name: String,
        /// Where the first came from.
        first: Box<Origin>,
        /// Where the second came from.
        second: Box<Origin>,
    },

    /// A generated Application name Kubernetes would refuse.
    #[error("ApplicationSet {appset:?}: {origin}: invalid Application name {name:?}: {reason}")]
    InvalidName {
        /// ApplicationSet name.
        appset: String,
        /// The name as rendered.
        name: String,
        /// Where it came from.
        origin: Origin,
        /// Why it is not valid.
        reason: String,
    },

    /// A bound on the work was exceeded.
    #[error("ApplicationSet {appset:?}: `{field}`: more than {limit} {what}")]
    Limit {
        /// ApplicationSet name.
        appset: String,
        /// JSON path of the generator.
        field: String,
        /// What was counted (`parameter sets`, `Applications`, ...).
        what: &'static str,
        /// The bound.
        limit: usize,
    },

    /// A document of an input file (ApplicationSets, clusters) could not be read.
    #[error("{location}: {reason}")]
    Document {
        /// The file, line and document.
        location: Location,
        /// What is wrong.
        reason: String,
    },
}

impl AppsetError {
    /// The repository `(repoURL, revision)` a [`AppsetError::MissingRepository`] asks for.
    pub fn missing_repository(&self) -> Option<(&str, &str)> {
        match self {
            AppsetError::MissingRepository {
                repo_url, revision, ..
            } => Some((repo_url, revision)),
            _ => None,
        }
    }
}
