//! Parameter sets from each generator kind, named as Argo CD names them.

use std::collections::{BTreeSet, HashMap};

use flotilla_core::{
    field_path, index_path, ClusterGenerator, CoreError, Generator, GeneratorKind, GitGenerator,
    LabelSelector, ListGenerator, Location, MatrixGenerator, MergeGenerator,
};
use flotilla_git::{EntryKind, Tree};
use serde_json::Value;

use crate::error::{AppsetError, Origin};
use crate::files::{read_objects, FileError};
use crate::inputs::{effective_revision, GeneratorInputs};
use crate::params::{
    canonical, combine_matrix, combine_string_maps_override, flatten, flatten_params,
    merge_override, sanitize_name, Params,
};
use crate::pathmatch::path_match;
use crate::render::{interpolate_generator, Data, FieldFailure, Renderer};
use crate::{GenerateOptions, MAX_NESTING};

/// The label Argo CD's cluster secrets carry, and that the clusters
/// generator's selector is combined with.
pub(crate) const SECRET_TYPE_LABEL: &str = "argocd.argoproj.io/secret-type";

/// A parameter set and where it came from.
#[derive(Clone, Debug)]
pub(crate) struct ParamSet {
    pub(crate) params: Params,
    pub(crate) source: String,
}

/// Everything generators need, for one ApplicationSet.
pub(crate) struct Ctx<'a, 'i> {
    pub(crate) appset: &'a str,
    pub(crate) renderer: &'a Renderer,
    pub(crate) inputs: &'a GeneratorInputs<'i>,
    pub(crate) options: &'a GenerateOptions,
    /// JSON path of the top-level generator being run (for origins).
    pub(crate) top: String,
}

impl Ctx<'_, '_> {
    fn go(&self) -> bool {
        self.renderer.is_go()
    }

    fn invalid(&self, field: &str, reason: impl Into<String>) -> AppsetError {
        AppsetError::Invalid {
            appset: self.appset.to_string(),
            field: field.to_string(),
            reason: reason.into(),
        }
    }

    fn failed(&self, field: &str, reason: impl Into<String>) -> AppsetError {
        AppsetError::Generator {
            appset: self.appset.to_string(),
            field: field.to_string(),
            reason: reason.into(),
        }
    }

    fn template_error(&self, source: &str, f: FieldFailure) -> AppsetError {
        AppsetError::Template {
            appset: self.appset.to_string(),
            origin: Origin::new(self.top.clone(), source),
            field: f.field,
            failure: f.failure,
        }
    }

    fn check_count(&self, field: &str, n: usize) -> Result<(), AppsetError> {
        if n > self.options.max_parameter_sets {
            return Err(AppsetError::Limit {
                appset: self.appset.to_string(),
                field: field.to_string(),
                what: "parameter sets",
                limit: self.options.max_parameter_sets,
            });
        }
        Ok(())
    }

    /// The parameter sets of one generator entry at JSON path `path`, its
    /// `selector` applied.
    ///
    /// `inherited` are the parameters of a matrix's first child (or of an
    /// enclosing matrix) that this generator's strings are interpolated
    /// with; `scope` are the parameters its `values` templates see besides
    /// its own (those of every interpolation that covered it).
    pub(crate) fn generate(
        &self,
        generator: &Generator,
        path: &str,
        inherited: Option<&Params>,
        scope: Option<&Params>,
        depth: usize,
    ) -> Result<Vec<ParamSet>, AppsetError> {
        if depth > MAX_NESTING {
            return Err(self.invalid(
                path,
                format!("generators nest more than {MAX_NESTING} levels deep"),
            ));
        }
        let kind = generator.kind_at(path).map_err(|e| self.core_error(e))?;
        let inherited = inherited.filter(|p| !p.is_empty());

        // A matrix interpolates its children one after the other; every
        // other kind is interpolated as a whole with the inherited parameters.
        let interpolated;
        let generator = match (kind, inherited) {
            (GeneratorKind::Matrix(_), _) | (_, None) => generator,
            (_, Some(params)) => {
                interpolated = self.interpolate(generator, path, params)?;
                &interpolated
            }
        };
        let scope_owned;
        let scope = match (inherited, scope) {
            (Some(i), Some(s)) if !matches!(kind, GeneratorKind::Matrix(_)) => {
                let mut merged = s.clone();
                merge_override(&mut merged, i);
                scope_owned = merged;
                Some(&scope_owned)
            }
            (Some(i), None) if !matches!(kind, GeneratorKind::Matrix(_)) => Some(i),
            (_, s) => s,
        };
        let kind = generator.kind_at(path).map_err(|e| self.core_error(e))?;

        let sets = match kind {
            GeneratorKind::List(list) => self.list(list, &field_path(path, "list"))?,
            GeneratorKind::Clusters(clusters) => {
                self.clusters(clusters, &field_path(path, "clusters"), scope)?
            }
            GeneratorKind::Git(git) => self.git(git, &field_path(path, "git"), scope)?,
            GeneratorKind::Matrix(matrix) => {
                self.matrix(matrix, &field_path(path, "matrix"), inherited, scope, depth)?
            }
            GeneratorKind::Merge(merge) => {
                self.merge(merge, &field_path(path, "merge"), scope, depth)?
            }
            GeneratorKind::Unsupported { name, .. } | GeneratorKind::Unknown { name, .. } => {
                return Err(AppsetError::UnsupportedGenerator {
                    appset: self.appset.to_string(),
                    field: path.to_string(),
                    kind: name.to_string(),
                    known: matches!(kind, GeneratorKind::Unsupported { .. }),
                })
            }
        };
        match &generator.selector {
            None => Ok(sets),
            Some(selector) => self.select(sets, selector, &field_path(path, "selector")),
        }
    }

    fn core_error(&self, e: CoreError) -> AppsetError {
        match e {
            CoreError::InvalidGenerator { path, reason } => self.invalid(&path, reason),
            other => self.invalid("", other.to_string()),
        }
    }

    /// The generator with its strings rendered with `params`.
    fn interpolate(
        &self,
        generator: &Generator,
        path: &str,
        params: &Params,
    ) -> Result<Generator, AppsetError> {
        let json = serde_json::to_value(generator)
            .map_err(|e| self.failed(path, format!("cannot be serialised: {e}")))?;
        let data = Data::new(params);
        let rendered = interpolate_generator(self.renderer, &json, &data, path).map_err(|f| {
            let field = f
                .field
                .strip_prefix(path)
                .map(|s| s.trim_start_matches('.').to_string())
                .unwrap_or(f.field);
            AppsetError::Template {
                appset: self.appset.to_string(),
                origin: Origin::new(
                    path.to_string(),
                    "parameters of the matrix's first generator",
                ),
                field,
                failure: f.failure,
            }
        })?;
        serde_json::from_value(rendered).map_err(|e| {
            self.failed(
                path,
                format!("is not a valid generator once filled in with the matrix's first generator's parameters: {e}"),
            )
        })
    }

    /// Keeps the parameter sets whose flattened values match `selector`.
    fn select(
        &self,
        sets: Vec<ParamSet>,
        selector: &LabelSelector,
        field: &str,
    ) -> Result<Vec<ParamSet>, AppsetError> {
        let mut out = Vec::with_capacity(sets.len());
        for set in sets {
            let flat = flatten(&set.params);
            if selector
                .matches(&flat)
                .map_err(|e| self.failed(field, e.to_string()))?
            {
                out.push(set);
            }
        }
        Ok(out)
    }

    /// Renders a generator's `values` with its parameters (and those in
    /// `scope`) and adds them: `values.<key>` flat, or a `values` mapping.
    fn add_values(
        &self,
        params: &mut Params,
        values: &std::collections::BTreeMap<String, String>,
        field: &str,
        source: &str,
        scope: Option<&Params>,
    ) -> Result<(), AppsetError> {
        if values.is_empty() {
            return Ok(());
        }
        let rendered = {
            let merged;
            let visible = match scope {
                Some(scope) => {
                    let mut m = params.clone();
                    merge_override(&mut m, scope);
                    merged = m;
                    &merged
                }
                None => &*params,
            };
            let data = Data::new(visible);
            let mut rendered = Vec::with_capacity(values.len());
            for (key, text) in values {
                let value = self.renderer.render_str(text, &data).map_err(|failure| {
                    self.template_error(
                        source,
                        FieldFailure {
                            field: format!("{field}.{key}"),
                            failure: Box::new(failure),
                        },
                    )
                })?;
                rendered.push((key.clone(), value));
            }
            rendered
        };
        if self.go() {
            let map: Params = rendered
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            params.insert("values".to_string(), Value::Object(map));
        } else {
            for (k, v) in rendered {
                params.insert(format!("values.{k}"), Value::String(v));
            }
        }
        Ok(())
    }

    fn list(&self, list: &ListGenerator, field: &str) -> Result<Vec<ParamSet>, AppsetError> {
        let mut out = Vec::with_capacity(list.elements.len());
        for (i, element) in list.elements.iter().enumerate() {
            let at = index_path(&field_path(field, "elements"), i);
            let Value::Object(object) = element else {
                return Err(self.failed(
                    &at,
                    format!(
                        "a list element must be a mapping of parameters, not {}",
                        flotilla_core::json_type_name(element)
                    ),
                ));
            };
            let params = if self.go() {
                object.clone()
            } else {
                let mut params = Params::new();
                for (key, value) in object {
                    match (key.as_str(), value) {
                        ("values", Value::Object(values)) => {
                            for (k, v) in values {
                                let Value::String(v) = v else {
                                    return Err(self.failed(
                                        &field_path(&field_path(&at, "values"), k),
                                        format!("with goTemplate: false every value must be a string, not {}", flotilla_core::json_type_name(v)),
                                    ));
                                };
                                params.insert(format!("values.{k}"), Value::String(v.clone()));
                            }
                        }
                        ("values", other) => {
                            return Err(self.failed(
                                &field_path(&at, "values"),
                                format!(
                                    "`values` must be a mapping, not {}",
                                    flotilla_core::json_type_name(other)
                                ),
                            ))
                        }
                        (_, Value::String(s)) => {
                            params.insert(key.clone(), Value::String(s.clone()));
                        }
                        (_, other) => {
                            return Err(self.failed(
                                &field_path(&at, key),
                                format!(
                                    "with goTemplate: false every value must be a string, not {} (use goTemplate: true for structured values)",
                                    flotilla_core::json_type_name(other)
                                ),
                            ))
                        }
                    }
                }
                params
            };
            out.push(ParamSet {
                params,
                source: format!("list element {i}"),
            });
        }
        if let Some(yaml) = list.elements_yaml.as_deref().filter(|y| !y.is_empty()) {
            let at = field_path(field, "elementsYaml");
            let value = crate::files::read_yaml_value(yaml)
                .map_err(|e| self.failed(&at, file_error_text(&e)))?;
            let items = match value {
                Value::Null => Vec::new(),
                Value::Array(items) => items,
                other => {
                    return Err(self.failed(
                        &at,
                        format!(
                            "must be a YAML list of mappings, not {}",
                            flotilla_core::json_type_name(&other)
                        ),
                    ))
                }
            };
            for (i, item) in items.into_iter().enumerate() {
                let Value::Object(params) = item else {
                    return Err(self.failed(
                        &at,
                        format!(
                            "item {i} must be a mapping of parameters, not {}",
                            flotilla_core::json_type_name(&item)
                        ),
                    ));
                };
                out.push(ParamSet {
                    params,
                    source: format!("list elementsYaml item {i}"),
                });
            }
        }
        self.check_count(field, out.len())?;
        Ok(out)
    }

    fn clusters(
        &self,
        generator: &ClusterGenerator,
        field: &str,
        scope: Option<&Params>,
    ) -> Result<Vec<ParamSet>, AppsetError> {
        let mut out = Vec::new();
        for cluster in self.inputs.clusters() {
            let mut labels = cluster.labels.clone();
            labels
                .entry(SECRET_TYPE_LABEL.to_string())
                .or_insert_with(|| "cluster".to_string());
            if let Some(selector) = &generator.selector {
                if !selector
                    .matches(&labels)
                    .map_err(|e| self.failed(&field_path(field, "selector"), e.to_string()))?
                {
                    continue;
                }
            }
            let mut params = Params::new();
            params.insert("name".into(), Value::String(cluster.name.clone()));
            params.insert(
                "nameNormalized".into(),
                Value::String(sanitize_name(&cluster.name)),
            );
            params.insert("server".into(), Value::String(cluster.server.clone()));
            params.insert(
                "project".into(),
                Value::String(cluster.project.clone().unwrap_or_default()),
            );
            if self.go() {
                let mut meta = Params::new();
                if !cluster.annotations.is_empty() {
                    meta.insert("annotations".into(), string_map(&cluster.annotations));
                }
                meta.insert("labels".into(), string_map(&labels));
                params.insert("metadata".into(), Value::Object(meta));
            } else {
                for (k, v) in &cluster.annotations {
                    params.insert(
                        format!("metadata.annotations.{k}"),
                        Value::String(v.clone()),
                    );
                }
                for (k, v) in &labels {
                    params.insert(format!("metadata.labels.{k}"), Value::String(v.clone()));
                }
            }
            let source = format!("cluster {} ({})", cluster.name, cluster.server);
            self.add_values(
                &mut params,
                &generator.values,
                &field_path(field, "values"),
                &source,
                scope,
            )?;
            out.push(ParamSet { params, source });
        }
        Ok(out)
    }

    fn git(
        &self,
        git: &GitGenerator,
        field: &str,
        scope: Option<&Params>,
    ) -> Result<Vec<ParamSet>, AppsetError> {
        let url = git.repo_url.as_deref().map(str::trim).unwrap_or_default();
        if url.is_empty() {
            return Err(self.invalid(&field_path(field, "repoURL"), "repoURL is required"));
        }
        let revision = effective_revision(git.revision.as_deref());
        let tree = self.inputs.repository(url, &revision).ok_or_else(|| {
            AppsetError::MissingRepository {
                appset: self.appset.to_string(),
                field: field.to_string(),
                repo_url: url.to_string(),
                revision: revision.clone(),
            }
        })?;
        let prefix = git.path_param_prefix.as_deref().unwrap_or_default();
        if !git.directories.is_empty() {
            self.git_directories(git, tree, field, prefix, scope)
        } else if !git.files.is_empty() {
            self.git_files(git, tree, field, prefix, scope)
        } else {
            Err(self.invalid(field, "a git generator needs `directories` or `files`"))
        }
    }

    fn git_error(&self, field: &str, error: flotilla_git::GitError) -> AppsetError {
        AppsetError::Repository {
            appset: self.appset.to_string(),
            field: field.to_string(),
            error: Box::new(error),
        }
    }

    fn git_directories(
        &self,
        git: &GitGenerator,
        tree: &dyn Tree,
        field: &str,
        prefix: &str,
        scope: Option<&Params>,
    ) -> Result<Vec<ParamSet>, AppsetError> {
        let all = self.all_directories(tree, field)?;
        let items = field_path(field, "directories");
        let mut out = Vec::new();
        for dir in &all {
            let mut include = false;
            let mut exclude = false;
            for (i, item) in git.directories.iter().enumerate() {
                let matched = path_match(&item.path, dir).map_err(|e| {
                    self.failed(
                        &field_path(&index_path(&items, i), "path"),
                        format!("invalid pattern {:?}: {e}", item.path),
                    )
                })?;
                if matched {
                    if item.exclude.unwrap_or(false) {
                        exclude = true;
                    } else {
                        include = true;
                    }
                }
            }
            if !include || exclude {
                continue;
            }
            let mut params = Params::new();
            if self.go() {
                let mut path = Params::new();
                path.insert("path".into(), Value::String(dir.clone()));
                path.insert("basename".into(), Value::String(base(dir).to_string()));
                path.insert(
                    "basenameNormalized".into(),
                    Value::String(sanitize_name(base(dir))),
                );
                path.insert("segments".into(), segments(dir));
                insert_path_param(&mut params, prefix, path);
            } else {
                let name = flat_path_name(prefix);
                params.insert(name.clone(), Value::String(dir.clone()));
                params.insert(
                    format!("{name}.basename"),
                    Value::String(base(dir).to_string()),
                );
                params.insert(
                    format!("{name}.basenameNormalized"),
                    Value::String(sanitize_name(base(dir))),
                );
                add_flat_segments(&mut params, &name, dir);
            }
            let source = format!("git directory {dir}");
            self.add_values(
                &mut params,
                &git.values,
                &field_path(field, "values"),
                &source,
                scope,
            )?;
            out.push(ParamSet { params, source });
            self.check_count(field, out.len())?;
        }
        Ok(out)
    }

    /// Every directory of the tree, in the order Go's `filepath.Walk`
    /// visits them, without hidden ones (`.git`, `.github`, ...) or what
    /// is below them.
    fn all_directories(&self, tree: &dyn Tree, field: &str) -> Result<Vec<String>, AppsetError> {
        enum Step {
            Visit(String),
            Leaf(String),
        }
        let mut out = Vec::new();
        let mut visited = 0usize;
        let mut stack = vec![Step::Visit(String::new())];
        while let Some(step) = stack.pop() {
            let dir = match step {
                Step::Leaf(path) => {
                    out.push(path);
                    continue;
                }
                Step::Visit(dir) => dir,
            };
            let entries = tree.list(&dir).map_err(|e| self.git_error(field, e))?;
            if !dir.is_empty() {
                out.push(dir);
            }
            visited = visited.saturating_add(entries.len());
            if visited > self.options.max_directory_entries {
                return Err(AppsetError::Limit {
                    appset: self.appset.to_string(),
                    field: field.to_string(),
                    what: "directory entries walked",
                    limit: self.options.max_directory_entries,
                });
            }
            // Depth first, children in name order: pushed in reverse.
            for entry in entries.into_iter().rev() {
                if entry.name.starts_with('.') {
                    continue;
                }
                match entry.kind {
                    EntryKind::Dir => stack.push(Step::Visit(entry.path)),
                    // A submodule is a directory in a checkout; its content is another repository.
                    EntryKind::Submodule => stack.push(Step::Leaf(entry.path)),
                    EntryKind::File | EntryKind::Symlink => {}
                }
            }
        }
        Ok(out)
    }

    fn git_files(
        &self,
        git: &GitGenerator,
        tree: &dyn Tree,
        field: &str,
        prefix: &str,
        scope: Option<&Params>,
    ) -> Result<Vec<ParamSet>, AppsetError> {
        let mut files = BTreeSet::new();
        for item in git.files.iter().filter(|i| !i.exclude.unwrap_or(false)) {
            let found = tree
                .glob_with(&item.path, self.options.glob_mode)
                .map_err(|e| self.git_error(field, e))?;
            files.extend(found);
            self.check_count(field, files.len())?;
        }
        for item in git.files.iter().filter(|i| i.exclude.unwrap_or(false)) {
            for path in tree
                .glob_with(&item.path, self.options.glob_mode)
                .map_err(|e| self.git_error(field, e))?
            {
                files.remove(&path);
            }
        }
        let mut out = Vec::with_capacity(files.len());
        for file in &files {
            let bytes = tree.read(file).map_err(|e| self.git_error(field, e))?;
            let objects = read_objects(file, &bytes).map_err(|e| AppsetError::File {
                appset: self.appset.to_string(),
                field: field.to_string(),
                location: Box::new(Location {
                    file: file.clone(),
                    line: e.line,
                    column: e.column.filter(|_| e.line.is_some()),
                    document: None,
                }),
                repository: tree.location(),
                reason: e.reason,
            })?;
            let several = objects.len() > 1;
            let dir = dir_name(file);
            for (i, object) in objects.into_iter().enumerate() {
                let mut params;
                if self.go() {
                    params = object;
                    let mut path = Params::new();
                    path.insert("path".into(), Value::String(dir.to_string()));
                    path.insert("basename".into(), Value::String(base(dir).to_string()));
                    path.insert("filename".into(), Value::String(base(file).to_string()));
                    path.insert(
                        "basenameNormalized".into(),
                        Value::String(sanitize_name(base(dir))),
                    );
                    path.insert(
                        "filenameNormalized".into(),
                        Value::String(sanitize_name(base(file))),
                    );
                    path.insert("segments".into(), segments(dir));
                    insert_path_param(&mut params, prefix, path);
                } else {
                    params = flatten_params(&object);
                    let name = flat_path_name(prefix);
                    params.insert(name.clone(), Value::String(dir.to_string()));
                    params.insert(
                        format!("{name}.basename"),
                        Value::String(base(dir).to_string()),
                    );
                    params.insert(
                        format!("{name}.filename"),
                        Value::String(base(file).to_string()),
                    );
                    params.insert(
                        format!("{name}.basenameNormalized"),
                        Value::String(sanitize_name(base(dir))),
                    );
                    params.insert(
                        format!("{name}.filenameNormalized"),
                        Value::String(sanitize_name(base(file))),
                    );
                    add_flat_segments(&mut params, &name, dir);
                }
                let source = if several {
                    format!("git file {file} item {i}")
                } else {
                    format!("git file {file}")
                };
                self.add_values(
                    &mut params,
                    &git.values,
                    &field_path(field, "values"),
                    &source,
                    scope,
                )?;
                out.push(ParamSet { params, source });
            }
            self.check_count(field, out.len())?;
        }
        Ok(out)
    }

    fn matrix(
        &self,
        matrix: &MatrixGenerator,
        field: &str,
        inherited: Option<&Params>,
        scope: Option<&Params>,
        depth: usize,
    ) -> Result<Vec<ParamSet>, AppsetError> {
        let children = &matrix.generators;
        match children.len() {
            2 => {}
            n if n < 2 => {
                return Err(self.invalid(
                    &field_path(field, "generators"),
                    format!("a matrix needs exactly two generators, found {n}"),
                ))
            }
            n => {
                return Err(self.invalid(
                    &field_path(field, "generators"),
                    format!(
                        "a matrix supports only two generators, found {n} (nest a matrix for more)"
                    ),
                ))
            }
        }
        let child_path = |i: usize| index_path(&field_path(field, "generators"), i);
        let with_scope = |params: Option<&Params>| -> Option<Params> {
            match (scope, params) {
                (None, None) => None,
                (Some(s), None) => Some(s.clone()),
                (None, Some(p)) => Some(p.clone()),
                (Some(s), Some(p)) => {
                    let mut m = s.clone();
                    merge_override(&mut m, p);
                    Some(m)
                }
            }
        };
        let first_scope = with_scope(inherited);
        let first = self.generate(
            &children[0],
            &child_path(0),
            inherited,
            first_scope.as_ref(),
            depth + 1,
        )?;
        let mut out = Vec::new();
        for a in &first {
            let for_second = match inherited {
                Some(inherited) => {
                    combine_matrix(&a.params, inherited, self.go()).map_err(|conflict| {
                        self.conflict(field, &a.source, "inherited parameters", conflict)
                    })?
                }
                None => a.params.clone(),
            };
            let second_scope = with_scope(Some(&for_second));
            let second = self.generate(
                &children[1],
                &child_path(1),
                Some(&for_second),
                second_scope.as_ref(),
                depth + 1,
            )?;
            let total = out.len().saturating_add(second.len());
            self.check_count(field, total)?;
            for b in second {
                let params = combine_matrix(&a.params, &b.params, self.go())
                    .map_err(|conflict| self.conflict(field, &a.source, &b.source, conflict))?;
                out.push(ParamSet {
                    params,
                    source: format!("{} + {}", a.source, b.source),
                });
            }
        }
        Ok(out)
    }

    fn conflict(
        &self,
        field: &str,
        a: &str,
        b: &str,
        (key, va, vb): (String, String, String),
    ) -> AppsetError {
        self.failed(
            field,
            format!(
                "parameter {key:?} is {va:?} from {a} but {vb:?} from {b}; with goTemplate: false the matrix's generators must agree on shared parameters"
            ),
        )
    }

    fn merge(
        &self,
        merge: &MergeGenerator,
        field: &str,
        scope: Option<&Params>,
        depth: usize,
    ) -> Result<Vec<ParamSet>, AppsetError> {
        if merge.generators.len() < 2 {
            return Err(self.invalid(
                &field_path(field, "generators"),
                format!(
                    "a merge needs two or more generators, found {}",
                    merge.generators.len()
                ),
            ));
        }
        if merge.merge_keys.is_empty() {
            return Err(self.invalid(
                &field_path(field, "mergeKeys"),
                "no merge keys were specified, a merge needs at least one",
            ));
        }
        let keys: BTreeSet<&str> = merge.merge_keys.iter().map(String::as_str).collect();
        let mut children = Vec::with_capacity(merge.generators.len());
        for (i, child) in merge.generators.iter().enumerate() {
            let path = index_path(&field_path(field, "generators"), i);
            let sets = self.generate(child, &path, None, scope, depth + 1)?;
            children.push((path, sets));
        }
        let key_of = |params: &Params| -> String {
            let key: serde_json::Map<String, Value> = keys
                .iter()
                .map(|k| {
                    (
                        k.to_string(),
                        canonical(params.get(*k).unwrap_or(&Value::Null)),
                    )
                })
                .collect();
            Value::Object(key).to_string()
        };
        let index = |path: &str,
                     sets: &[ParamSet]|
         -> Result<HashMap<String, usize>, AppsetError> {
            let mut by_key: HashMap<String, usize> = HashMap::with_capacity(sets.len());
            for (i, set) in sets.iter().enumerate() {
                let key = key_of(&set.params);
                if let Some(&j) = by_key.get(&key) {
                    return Err(self.failed(
                        path,
                        format!(
                            "the parameters from a generator were not unique by the given mergeKeys, a merge requires all parameter sets to be unique: {} and {} both have {key}",
                            sets[j].source, set.source
                        ),
                    ));
                }
                by_key.insert(key, i);
            }
            Ok(by_key)
        };
        let mut iter = children.into_iter();
        let Some((base_path, mut base)) = iter.next() else {
            return Ok(Vec::new());
        };
        index(&base_path, &base)?;
        for (path, sets) in iter {
            let by_key = index(&path, &sets)?;
            for set in &mut base {
                if let Some(&j) = by_key.get(&key_of(&set.params)) {
                    let over = &sets[j];
                    if self.go() {
                        merge_override(&mut set.params, &over.params);
                    } else {
                        set.params = combine_string_maps_override(&set.params, &over.params);
                    }
                    set.source = format!("{} merged with {}", set.source, over.source);
                }
            }
        }
        Ok(base)
    }
}

fn string_map(map: &std::collections::BTreeMap<String, String>) -> Value {
    Value::Object(
        map.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// `pathParamPrefix`: `{prefix: {path: ...}}` or `{path: ...}`.
fn insert_path_param(params: &mut Params, prefix: &str, path: Params) {
    if prefix.is_empty() {
        params.insert("path".into(), Value::Object(path));
    } else {
        let mut holder = Params::new();
        holder.insert("path".into(), Value::Object(path));
        params.insert(prefix.to_string(), Value::Object(holder));
    }
}

fn flat_path_name(prefix: &str) -> String {
    if prefix.is_empty() {
        "path".to_string()
    } else {
        format!("{prefix}.path")
    }
}

/// `path[0]`, `path[1]`, ... for the non-empty segments.
fn add_flat_segments(params: &mut Params, name: &str, dir: &str) {
    for (i, segment) in dir.split('/').enumerate() {
        if !segment.is_empty() {
            params.insert(format!("{name}[{i}]"), Value::String(segment.to_string()));
        }
    }
}

fn segments(dir: &str) -> Value {
    Value::Array(
        dir.split('/')
            .map(|s| Value::String(s.to_string()))
            .collect(),
    )
}

/// Go's `path.Dir` for the clean relative paths a tree hands out.
fn dir_name(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => ".",
    }
}

/// Go's `path.Base` for clean relative paths.
fn base(path: &str) -> &str {
    if path.is_empty() {
        return ".";
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/";
    }
    match trimmed.rfind('/') {
        Some(i) => &trimmed[i + 1..],
        None => trimmed,
    }
}

fn file_error_text(e: &FileError) -> String {
    match (e.line, e.column) {
        (Some(l), Some(c)) => format!("line {l} column {c}: {}", e.reason),
        (Some(l), None) => format!("line {l}: {}", e.reason),
        _ => e.reason.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_path_functions() {
        assert_eq!(dir_name("a/b/config.json"), "a/b");
        assert_eq!(dir_name("config.json"), ".");
        assert_eq!(base("a/b"), "b");
        assert_eq!(base("."), ".");
        assert_eq!(base(""), ".");
        assert_eq!(segments("."), serde_json::json!(["."]));
    }
}
