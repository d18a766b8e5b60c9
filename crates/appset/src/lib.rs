//! ApplicationSet generators and templating into Applications, as Argo CD's
//! ApplicationSet controller does it, as a pure function:
//! `(ApplicationSet, inputs) -> Applications`.
//!
//! - Generators: `list` (`elements`, `elementsYaml`), `clusters` (label
//!   selector, `values`), `git` `directories` (with `exclude`) and `files`
//!   (JSON and YAML, `**` globs, `pathParamPrefix`), `matrix` (two
//!   children; the first's parameters fill in the second) and `merge`
//!   (`mergeKeys`); per-generator `values`, `selector` and `template`.
//! - Parameters are named exactly as Argo CD names them, nested for
//!   `goTemplate: true` (`.path.path`, `.path.basename`,
//!   `.path.basenameNormalized`, `.path.filename`, `.path.filenameNormalized`,
//!   `.path.segments`, `.values.*`, `.name`, `.server`, `.metadata.labels`, ...)
//!   and flattened otherwise (`{{path}}`, `{{path.basename}}`, `{{path[0]}}`,
//!   `{{cluster.name}}`, `{{values.x}}`, `{{metadata.labels.env}}`, ...).
//! - Go templates run on [`flotilla_template`] with Argo CD's functions and
//!   `goTemplateOptions`; `goTemplate: false` is fasttemplate, unknown
//!   `{{keys}}` left as written. Each distinct template text is parsed once.
//! - `templatePatch`, the `resources-finalizer.argocd.argoproj.io` finalizer,
//!   the ApplicationSet's namespace, as Argo CD sets them.
//! - Generated names must be unique and valid; parameter values are data
//!   (a value holding `{{` is never evaluated).
//! - Errors name the ApplicationSet, the generator, the parameter source (a
//!   file with line and column, a list element, a cluster) and the field.
//!
//! No I/O happens here: git generators read through the [`Tree`](flotilla_git::Tree)s
//! in [`GeneratorInputs`], the clusters generator sees the clusters in it.
//!
//! ```
//! use flotilla_appset::{generate, GeneratorInputs};
//! use flotilla_core::ApplicationSet;
//!
//! let appset: ApplicationSet = serde_yaml_ng::from_str(r#"
//! apiVersion: argoproj.io/v1alpha1
//! kind: ApplicationSet
//! metadata: {name: guestbook, namespace: argocd}
//! spec:
//!   goTemplate: true
//!   goTemplateOptions: ["missingkey=error"]
//!   generators:
//!     - list:
//!         elements:
//!           - {cluster: dev, url: "https://10.0.0.1:6443"}
//!           - {cluster: prod, url: "https://10.0.0.2:6443"}
//!   template:
//!     metadata: {name: "{{ .cluster }}-guestbook"}
//!     spec:
//!       project: default
//!       source: {repoURL: "https://github.com/argoproj/argocd-example-apps", path: guestbook}
//!       destination: {server: "{{ .url }}", namespace: guestbook}
//! "#).unwrap();
//! let apps = generate(&appset, &GeneratorInputs::new()).unwrap();
//! assert_eq!(apps.len(), 2);
//! assert_eq!(apps[1].name(), "prod-guestbook");
//! assert_eq!(apps[1].spec.destination.server.as_deref(), Some("https://10.0.0.2:6443"));
//! assert_eq!(apps[1].namespace(), Some("argocd"));
//! ```
#![deny(missing_docs)]

mod application;
mod documents;
mod error;
mod fasttemplate;
mod files;
mod generators;
mod inputs;
mod params;
mod pathmatch;
mod render;

use std::collections::HashMap;

use flotilla_core::{field_path, Application, ApplicationSet, GeneratorKind, UnknownFields};
use flotilla_git::GlobMode;

pub use application::RESOURCES_FINALIZER;
pub use documents::{read_application_sets, read_clusters, read_kind, LocatedApplicationSet};
pub use error::{AppsetError, Origin, TemplateFailure};
pub use inputs::{repositories, uses_clusters, GeneratorInputs, RepoRef};
pub use params::{sanitize_name, Params};

use application::AppTemplate;
use generators::Ctx;
use render::Renderer;

/// Deepest nesting of matrix and merge generators.
pub(crate) const MAX_NESTING: usize = 8;

/// How generation runs.
///
/// ```
/// use flotilla_appset::GenerateOptions;
/// use flotilla_git::GlobMode;
///
/// let options = GenerateOptions { glob_mode: GlobMode::Doublestar, ..GenerateOptions::default() };
/// assert_eq!(options.max_applications, 100_000);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenerateOptions {
    /// How git files generator paths are matched: [`GlobMode::Git`] (Argo CD's
    /// default, `git ls-files` pathspecs) or [`GlobMode::Doublestar`] (Argo
    /// CD's `applicationsetcontroller.enable.new.git.file.globbing`).
    pub glob_mode: GlobMode,
    /// Unknown fields anywhere are errors. When false (the default), unknown
    /// fields in generators are errors (they could change what is
    /// generated) and unknown fields elsewhere (the template, `strategy`,
    /// ...) are kept, passed on and reported as warnings.
    pub strict: bool,
    /// Most parameter sets one generator may produce.
    pub max_parameter_sets: usize,
    /// Most Applications one ApplicationSet may generate.
    pub max_applications: usize,
    /// Most directory entries a git directories generator may walk.
    pub max_directory_entries: usize,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            glob_mode: GlobMode::Git,
            strict: false,
            max_parameter_sets: 1_000_000,
            max_applications: 100_000,
            max_directory_entries: 1_000_000,
        }
    }
}

/// An Application and the parameter set it was rendered from.
#[derive(Clone, Debug, PartialEq)]
pub struct GeneratedApplication {
    /// The Application.
    pub application: Application,
    /// The generator and parameter source it came from.
    pub origin: Origin,
    /// The parameter set the template was rendered with.
    pub parameters: Params,
}

/// What [`generate_with`] returns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Generation {
    /// The Applications, in generator order, then parameter order.
    pub applications: Vec<GeneratedApplication>,
    /// Things worth telling (unknown fields kept as they are, no generators).
    pub warnings: Vec<String>,
}

/// The Applications `appset` generates from `inputs`, with default options.
/// Warnings are logged with `tracing`.
///
/// See the crate documentation for an example.
pub fn generate(
    appset: &ApplicationSet,
    inputs: &GeneratorInputs<'_>,
) -> Result<Vec<Application>, AppsetError> {
    let generation = generate_with(appset, inputs, &GenerateOptions::default())?;
    for warning in &generation.warnings {
        tracing::warn!(appset = appset.name(), "{warning}");
    }
    Ok(generation
        .applications
        .into_iter()
        .map(|g| g.application)
        .collect())
}

/// The Applications `appset` generates from `inputs`, each with its
/// [`Origin`], and warnings.
///
/// ```
/// use flotilla_appset::{generate_with, GenerateOptions, GeneratorInputs};
/// use flotilla_core::ApplicationSet;
///
/// let appset: ApplicationSet = serde_json::from_value(serde_json::json!({
///   "apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
///   "metadata": {"name": "a"},
///   "spec": {
///     "generators": [{"list": {"elements": [{"env": "dev"}, {"env": "dev"}]}}],
///     "template": {"metadata": {"name": "app-{{env}}"},
///                  "spec": {"destination": {"server": "https://kubernetes.default.svc"}}}
///   }
/// }))?;
/// let err = generate_with(&appset, &GeneratorInputs::new(), &GenerateOptions::default())
///     .unwrap_err();
/// assert!(err.to_string().contains("two Applications are named \"app-dev\""));
/// assert!(err.to_string().contains("list element 0") && err.to_string().contains("list element 1"));
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn generate_with(
    appset: &ApplicationSet,
    inputs: &GeneratorInputs<'_>,
    options: &GenerateOptions,
) -> Result<Generation, AppsetError> {
    let name = appset.name().to_string();
    let mut generation = Generation::default();
    appset.check_type_meta().map_err(|e| AppsetError::Invalid {
        appset: name.clone(),
        field: match &e {
            flotilla_core::CoreError::InvalidValue { field, .. } => field.clone(),
            _ => String::new(),
        },
        reason: e.to_string(),
    })?;
    check_fields(appset, options, &mut generation.warnings)?;
    let renderer = Renderer::new(
        appset.spec.uses_go_template(),
        &appset.spec.go_template_options,
    )
    .map_err(|reason| AppsetError::Invalid {
        appset: name.clone(),
        field: "spec.goTemplateOptions".into(),
        reason,
    })?;
    if appset.spec.generators.is_empty() {
        generation
            .warnings
            .push("the ApplicationSet has no generators: no Applications".into());
    }
    let mut names: HashMap<String, Origin> = HashMap::new();
    for (i, generator) in appset.spec.generators.iter().enumerate() {
        let path = format!("spec.generators[{i}]");
        let kind = generator.kind_at(&path).map_err(|e| AppsetError::Invalid {
            appset: name.clone(),
            field: path.clone(),
            reason: e.to_string(),
        })?;
        let ctx = Ctx {
            appset: &name,
            renderer: &renderer,
            inputs,
            options,
            top: path.clone(),
        };
        let template = AppTemplate::new(appset, kind.template(), &renderer, &path)?;
        let sets = ctx.generate(generator, &path, None, None, 0)?;
        tracing::debug!(appset = %name, generator = %path, parameter_sets = sets.len(), "generated parameters");
        for set in sets {
            let origin = Origin::new(path.clone(), set.source);
            let application = template.render(&name, &renderer, &set.params, &origin)?;
            let parameters = set.params;
            if let Some(first) = names.get(application.name()) {
                return Err(AppsetError::DuplicateName {
                    appset: name.clone(),
                    name: application.name().to_string(),
                    first: Box::new(first.clone()),
                    second: Box::new(origin),
                });
            }
            if generation.applications.len() >= options.max_applications {
                return Err(AppsetError::Limit {
                    appset: name.clone(),
                    field: path.clone(),
                    what: "Applications",
                    limit: options.max_applications,
                });
            }
            names.insert(application.name().to_string(), origin.clone());
            generation.applications.push(GeneratedApplication {
                application,
                origin,
                parameters,
            });
        }
    }
    Ok(generation)
}

/// Unsupported generator kinds are errors; unknown fields are errors in
/// generators (or everywhere with `strict`), warnings elsewhere.
fn check_fields(
    appset: &ApplicationSet,
    options: &GenerateOptions,
    warnings: &mut Vec<String>,
) -> Result<(), AppsetError> {
    let name = appset.name().to_string();
    // Generator kinds first: they get their own message.
    let mut kinds = Vec::new();
    for (i, g) in appset.spec.generators.iter().enumerate() {
        collect_kinds(g, &format!("spec.generators[{i}]"), &mut kinds, 0);
    }
    if let Some((field, kind, known)) = kinds.into_iter().next() {
        return Err(AppsetError::UnsupportedGenerator {
            appset: name,
            field,
            kind,
            known,
        });
    }
    let unknown = appset.unknown_fields();
    let (in_generators, elsewhere): (Vec<String>, Vec<String>) = unknown
        .into_iter()
        .partition(|f| f.starts_with("spec.generators"));
    if options.strict && !(in_generators.is_empty() && elsewhere.is_empty()) {
        let mut fields = in_generators;
        fields.extend(elsewhere);
        return Err(AppsetError::UnknownFields {
            appset: name,
            fields,
        });
    }
    if !in_generators.is_empty() {
        return Err(AppsetError::UnknownFields {
            appset: name,
            fields: in_generators,
        });
    }
    if !elsewhere.is_empty() {
        warnings.push(format!(
            "unknown field{} kept as written: {}",
            if elsewhere.len() == 1 { "" } else { "s" },
            elsewhere.join(", ")
        ));
    }
    Ok(())
}

fn collect_kinds(
    generator: &flotilla_core::Generator,
    path: &str,
    out: &mut Vec<(String, String, bool)>,
    depth: usize,
) {
    if depth > MAX_NESTING {
        return;
    }
    for kind in generator.kinds() {
        match kind {
            GeneratorKind::Unsupported { name, .. } => {
                out.push((path.to_string(), name.to_string(), true))
            }
            GeneratorKind::Unknown { name, .. } => {
                out.push((path.to_string(), name.to_string(), false))
            }
            GeneratorKind::Matrix(m) => {
                for (i, c) in m.generators.iter().enumerate() {
                    collect_kinds(
                        c,
                        &format!(
                            "{}[{i}]",
                            field_path(&field_path(path, "matrix"), "generators")
                        ),
                        out,
                        depth + 1,
                    );
                }
            }
            GeneratorKind::Merge(m) => {
                for (i, c) in m.generators.iter().enumerate() {
                    collect_kinds(
                        c,
                        &format!(
                            "{}[{i}]",
                            field_path(&field_path(path, "merge"), "generators")
                        ),
                        out,
                        depth + 1,
                    );
                }
            }
            _ => {}
        }
    }
}
