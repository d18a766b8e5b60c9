//! The build: kustomize's `KustTarget` (accumulate resources, run
//! generators, apply components and transformers, level by level), then the
//! final steps of the top level (hash suffixes, name references, sorting,
//! clean-up).

use serde_json::{Map, Value};
use tracing::debug;

use flotilla_core::Location;
use flotilla_git::{EntryKind, GitError, Tree};

use super::generators;
use super::jsonpatch;
use super::nameref;
use super::resource::{Behavior, Gvk, ResId, Resource};
use super::selector::CompiledSelector;
use super::smp;
use super::transform::{self, TransformError};
use super::types::{GeneratorArgs, Kustomization, Patch, Selector};
use crate::error::RenderError;
use crate::yaml::{parse_first_document, split_documents, PKind, PNode, ParseOptions};
use crate::RenderOptions;

/// The names kustomize looks for, in order.
pub const KUSTOMIZATION_FILE_NAMES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

type Result<T> = std::result::Result<T, RenderError>;

/// A loaded kustomization.
pub(crate) struct Kust {
    /// Its directory (the load-restriction root).
    pub dir: String,
    /// The file.
    pub file: String,
    /// The parsed file, for line numbers.
    pub node: PNode,
    /// The decoded file.
    pub k: Kustomization,
}

impl Kust {
    /// The location of a field, or of one entry of a list field.
    pub fn loc(&self, field: &str, index: Option<usize>) -> Location {
        let mut loc = Location::in_file(&self.file);
        if let Some(n) = self.node.get(field) {
            let n = match index {
                Some(i) => n.items().get(i).unwrap_or(n),
                None => n,
            };
            loc = Location::new(&self.file, n.line, n.col);
        }
        loc
    }
}

#[derive(Default)]
pub(crate) struct Acc {
    pub res: Vec<Resource>,
    pub vars: Vec<super::types::Var>,
}

fn merge_vars(
    into: &mut Vec<super::types::Var>,
    incoming: Vec<super::types::Var>,
) -> std::result::Result<(), String> {
    for v in incoming {
        if into.iter().any(|x| x.name == v.name) {
            return Err(format!("var '{}' already encountered", v.name));
        }
        into.push(v);
    }
    Ok(())
}

/// Joins a relative path onto a directory of the tree, resolving `.` and
/// `..` lexically. `None` when it leaves the tree.
pub fn join(dir: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = if rel.starts_with('/') {
        Vec::new()
    } else {
        dir.split('/')
            .filter(|s| !s.is_empty() && *s != ".")
            .collect()
    };
    for seg in rel.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

/// True when `path` is `dir` or below it.
fn within(dir: &str, path: &str) -> bool {
    dir.is_empty() || path == dir || path.starts_with(&format!("{dir}/"))
}

fn display_dir(dir: &str) -> &str {
    if dir.is_empty() {
        "."
    } else {
        dir
    }
}

fn is_remote(path: &str) -> bool {
    path.contains("://")
        || path.starts_with("github.com/")
        || path.starts_with("git@")
        || path.starts_with("gitlab.com/")
}

pub(crate) struct Engine<'a> {
    pub tree: &'a dyn Tree,
    pub opts: &'a RenderOptions,
}

impl Engine<'_> {
    fn kind(&self, path: &str, referrer: &Location) -> Result<Option<EntryKind>> {
        self.tree.kind(path).map_err(|source| RenderError::Read {
            location: referrer.clone(),
            source: Box::new(source),
        })
    }

    /// Reads a file, with the size limit.
    pub fn read(&self, path: &str, referrer: &Location) -> Result<Vec<u8>> {
        let bytes = self.tree.read(path).map_err(|source| RenderError::Read {
            location: referrer.clone(),
            source: Box::new(source),
        })?;
        if bytes.len() as u64 > self.opts.max_file_size {
            return Err(RenderError::input(
                Location::in_file(path),
                format!(
                    "file is {} bytes, over the limit of {} bytes",
                    bytes.len(),
                    self.opts.max_file_size
                ),
            ));
        }
        Ok(bytes)
    }

    fn read_text(&self, path: &str, referrer: &Location) -> Result<String> {
        let bytes = self.read(path, referrer)?;
        let text = String::from_utf8(bytes).map_err(|e| {
            RenderError::input(
                Location::in_file(path),
                format!("file is not UTF-8 text ({e})"),
            )
        })?;
        Ok(if text.contains("\r\n") {
            text.replace("\r\n", "\n")
        } else {
            text
        })
    }

    /// Finds and decodes the kustomization file of a directory.
    pub fn load_kust(&self, dir: &str, referrer: &Location) -> Result<Option<Kust>> {
        let mut found = Vec::new();
        for name in KUSTOMIZATION_FILE_NAMES {
            let p = join(dir, name).unwrap_or_default();
            if let Some(EntryKind::File) = self.kind(&p, referrer)? {
                found.push(p);
            }
        }
        let file = match found.len() {
            0 => return Ok(None),
            1 => found.remove(0),
            _ => {
                return Err(RenderError::input(
                    Location::in_file(display_dir(dir)),
                    format!("found multiple kustomization files: {}", found.join(", ")),
                ))
            }
        };
        let text = self.read_text(&file, referrer)?;
        let opts = ParseOptions {
            limits: self.opts.yaml_limits,
            ..ParseOptions::config()
        };
        let node = parse_first_document(&text, &opts)
            .map_err(|e| RenderError::input(Location::new(&file, e.line, e.column), e.message))?
            .unwrap_or(PNode {
                kind: PKind::Map(Vec::new()),
                line: 1,
                col: 1,
            });
        let k = super::decode_kustomization(&node, &file)?;
        let mut k = k;
        if k.is_empty() {
            return Err(RenderError::input(
                Location::in_file(&file),
                "kustomization.yaml is empty",
            ));
        }
        if !k.kind.is_empty() && k.kind != "Kustomization" && k.kind != "Component" {
            return Err(RenderError::input(
                Location::in_file(&file),
                "kind should be Kustomization or Component",
            ));
        }
        let required = if k.kind == "Component" {
            "kustomize.config.k8s.io/v1alpha1"
        } else {
            "kustomize.config.k8s.io/v1beta1"
        };
        if !k.api_version.is_empty() && k.api_version != required {
            return Err(RenderError::input(
                Location::in_file(&file),
                format!(
                    "apiVersion for {} should be {required}",
                    if k.kind.is_empty() {
                        "Kustomization"
                    } else {
                        &k.kind
                    }
                ),
            ));
        }
        k.fix();
        Ok(Some(Kust {
            dir: dir.to_string(),
            file,
            node,
            k,
        }))
    }

    /// Parses a file of resources.
    pub fn parse_resources(&self, text: &str, file: &str) -> Result<Vec<Resource>> {
        let docs = split_documents(text)
            .map_err(|e| RenderError::input(Location::new(file, e.line, e.column), e.message))?;
        let opts = ParseOptions {
            limits: self.opts.yaml_limits,
            ..ParseOptions::resources()
        };
        let mut out = Vec::new();
        for (doc, offset) in docs {
            let node = parse_first_document(doc, &opts).map_err(|e| {
                RenderError::input(Location::new(file, e.line + offset, e.column), e.message)
            })?;
            let Some(node) = node else { continue };
            let loc = Location::new(file, node.line + offset, node.col);
            let value = node.into_value();
            expand(value, &loc, &mut out)?;
        }
        Ok(out)
    }

    /// The whole build of the kustomization in `dir`.
    pub fn build(&self, kt: &Kust) -> Result<Vec<Resource>> {
        let mut chain = vec![kt.dir.clone()];
        let acc = self.accumulate(kt, Acc::default(), &mut chain)?;
        let mut res = acc.res;
        let vars = acc.vars;
        // Hash suffixes.
        for r in res.iter_mut() {
            if r.needs_hash {
                let h = generators::hash_of(&r.obj);
                r.store_previous_id();
                let name = format!("{}-{}", r.name(), h);
                r.set_name(&name);
            }
        }
        // Name references.
        nameref::fix_name_references(&mut res)
            .map_err(|(i, m)| RenderError::input(res[i].origin.clone(), m))?;
        super::vars::resolve(&mut res, &vars)
            .map_err(|m| RenderError::input(kt.loc("vars", None), m))?;
        // local-config resources are dropped.
        res.retain(|r| {
            r.obj
                .get("metadata")
                .and_then(|m| m.get("annotations"))
                .and_then(|a| a.get("config.kubernetes.io/local-config"))
                .is_none_or(|v| super::resource::scalar_text(v) == "false")
        });
        sort(&mut res, &kt.k)?;
        for r in res.iter_mut() {
            finalize(r);
        }
        Ok(res)
    }

    fn accumulate(&self, kt: &Kust, mut acc: Acc, chain: &mut Vec<String>) -> Result<Acc> {
        debug!(kustomization = %kt.file, "accumulating");
        unsupported(kt)?;
        // Only appends change `acc.res` while resources are read, so one
        // index of its ids serves the whole list (no rescan per resource).
        let mut ids = IdIndex::new(&acc.res);
        for (i, path) in kt.k.resources.iter().enumerate() {
            self.accumulate_resource(kt, i, path, &mut acc, &mut ids, chain)?;
        }
        for (i, path) in kt.k.crds.iter().enumerate() {
            let loc = kt.loc("crds", Some(i));
            let full = self.resolve_file(kt, path, &loc)?;
            self.read(&full, &loc)?;
        }
        self.run_generators(kt, &mut acc)?;
        for (i, path) in kt.k.components.iter().enumerate() {
            let loc = kt.loc("components", Some(i));
            let Some(full) = join(&kt.dir, path) else {
                return Err(escape(&loc, path));
            };
            match self.kind(&full, &loc)? {
                Some(EntryKind::Dir) => {}
                _ => {
                    return Err(RenderError::input(
                        loc,
                        format!("component {path:?} must be a directory holding a kustomization"),
                    ))
                }
            }
            check_cycle(chain, &full, &loc)?;
            let Some(sub) = self.load_kust(&full, &loc)? else {
                return Err(missing_kustomization(&loc, &full));
            };
            if sub.k.kind != "Component" {
                return Err(RenderError::input(
                    loc,
                    format!(
                        "expected kind 'Component' for path '{}' but got '{}'",
                        display_dir(&full),
                        sub.k.kind
                    ),
                ));
            }
            chain.push(full);
            let r = self.accumulate(&sub, acc, chain);
            chain.pop();
            acc = r?;
        }
        self.run_transformers(kt, &mut acc)?;
        if !kt.k.vars.is_empty() {
            let loc = kt.loc("vars", None);
            super::vars::mark(&mut acc.res, &kt.k.vars)
                .map_err(|m| RenderError::input(loc.clone(), m))?;
            merge_vars(&mut acc.vars, kt.k.vars.clone()).map_err(|m| RenderError::input(loc, m))?;
        }
        Ok(acc)
    }

    /// Resolves a file path of a kustomization, enforcing kustomize's
    /// default load restriction (in or below the kustomization's directory).
    fn resolve_file(&self, kt: &Kust, path: &str, loc: &Location) -> Result<String> {
        if is_remote(path) {
            return Err(RenderError::input(
                loc.clone(),
                format!(
                    "remote file {path:?} is not supported: only files of the repository are read"
                ),
            ));
        }
        let Some(full) = join(&kt.dir, path) else {
            return Err(escape(loc, path));
        };
        if !within(&kt.dir, &full) {
            return Err(RenderError::input(
                loc.clone(),
                format!(
                    "security; file '{path}' is not in or below '{}' (kustomize loads files only from the kustomization's directory)",
                    display_dir(&kt.dir)
                ),
            ));
        }
        Ok(full)
    }

    fn accumulate_resource(
        &self,
        kt: &Kust,
        i: usize,
        path: &str,
        acc: &mut Acc,
        ids: &mut IdIndex,
        chain: &mut Vec<String>,
    ) -> Result<()> {
        let loc = kt.loc("resources", Some(i));
        if is_remote(path) {
            return Err(RenderError::input(
                loc,
                format!("remote resource {path:?} is not supported: only paths inside the repository are"),
            ));
        }
        let Some(full) = join(&kt.dir, path) else {
            return Err(escape(&loc, path));
        };
        match self.kind(&full, &loc)? {
            Some(EntryKind::Dir) => {
                check_cycle(chain, &full, &loc)?;
                let Some(sub) = self.load_kust(&full, &loc)? else {
                    return Err(missing_kustomization(&loc, &full));
                };
                if sub.k.kind == "Component" {
                    return Err(RenderError::input(
                        loc,
                        format!(
                            "expected kind != 'Component' for path '{}'",
                            display_dir(&full)
                        ),
                    ));
                }
                chain.push(full);
                let r = self.accumulate(&sub, Acc::default(), chain);
                chain.pop();
                let sub_acc = r?;
                for r in sub_acc.res {
                    ids.append(&mut acc.res, r)?;
                }
                merge_vars(&mut acc.vars, sub_acc.vars)
                    .map_err(|m| RenderError::input(loc.clone(), m))?;
                Ok(())
            }
            Some(_) => {
                if !within(&kt.dir, &full) {
                    return Err(RenderError::input(
                        loc,
                        format!(
                            "security; file '{path}' is not in or below '{}' (kustomize loads files only from the kustomization's directory; a directory with its own kustomization may be outside it)",
                            display_dir(&kt.dir)
                        ),
                    ));
                }
                let text = self.read_text(&full, &loc)?;
                for r in self.parse_resources(&text, &full)? {
                    ids.append(&mut acc.res, r)?;
                }
                Ok(())
            }
            None => Err(RenderError::input(
                loc,
                format!(
                    "resource {path:?} not found (no such file or directory {:?})",
                    full
                ),
            )),
        }
    }

    fn run_generators(&self, kt: &Kust, acc: &mut Acc) -> Result<()> {
        let global = kt.k.generator_options.as_ref();
        for (field, list, secret) in [
            ("configMapGenerator", &kt.k.config_map_generator, false),
            ("secretGenerator", &kt.k.secret_generator, true),
        ] {
            for (i, args) in list.iter().enumerate() {
                let loc = kt.loc(field, Some(i));
                let options = generators::merge_options(args.options.as_ref(), global);
                let pairs = self.generator_pairs(kt, args, &loc)?;
                let obj = generators::make_object(args, secret, pairs, options.as_ref())
                    .map_err(|m| RenderError::input(loc.clone(), m))?;
                let mut r = Resource::new(obj, loc.clone());
                generators::mark_generated(&mut r, &args.behavior, options.as_ref())
                    .map_err(|m| RenderError::input(loc.clone(), m))?;
                absorb(&mut acc.res, r).map_err(|m| RenderError::input(loc.clone(), m))?;
            }
        }
        Ok(())
    }

    fn generator_pairs(
        &self,
        kt: &Kust,
        args: &GeneratorArgs,
        loc: &Location,
    ) -> Result<Vec<(String, Vec<u8>)>> {
        let mut pairs = Vec::new();
        let mut envs = args.envs.clone();
        if !args.env.is_empty() {
            envs.push(args.env.clone());
        }
        for env in &envs {
            let full = self.resolve_file(kt, env, loc)?;
            let content = self.read(&full, loc)?;
            let kvs = generators::parse_env_file(&content)
                .map_err(|m| RenderError::input(Location::in_file(&full), m))?;
            pairs.extend(kvs.into_iter().map(|(k, v)| (k, v.into_bytes())));
        }
        for lit in &args.literals {
            let (k, v) =
                generators::parse_literal(lit).map_err(|m| RenderError::input(loc.clone(), m))?;
            pairs.push((k, v.into_bytes()));
        }
        for f in &args.files {
            let (k, p) =
                generators::parse_file_source(f).map_err(|m| RenderError::input(loc.clone(), m))?;
            let full = self.resolve_file(kt, &p, loc)?;
            pairs.push((k, self.read(&full, loc)?));
        }
        Ok(pairs)
    }

    fn load_patch_text(&self, kt: &Kust, p: &Patch, loc: &Location) -> Result<(String, String)> {
        match (p.patch.trim().is_empty(), p.path.is_empty()) {
            (true, true) => Err(RenderError::input(
                loc.clone(),
                "must specify one of patch and path",
            )),
            (false, false) => Err(RenderError::input(
                loc.clone(),
                "patch and path can't be set at the same time",
            )),
            (false, true) => Ok((p.patch.trim().to_string(), kt.file.clone())),
            (true, false) => {
                let full = self.resolve_file(kt, &p.path, loc)?;
                Ok((self.read_text(&full, loc)?, full))
            }
        }
    }

    /// Parses patch text as strategic-merge resources (`Ok(Some)`), a JSON
    /// patch (`Ok(None)` with ops), or neither.
    fn parse_patch(&self, text: &str, file: &str, loc: &Location) -> Result<PatchKind> {
        let sm = self.parse_resources(text, file);
        let json = parse_json_patch(text);
        match (sm, json) {
            (Ok(sm), Err(_)) if !sm.is_empty() => Ok(PatchKind::Strategic(sm)),
            (Ok(sm), Ok(_)) if !sm.is_empty() => Err(RenderError::input(
                loc.clone(),
                "patch illegally qualifies as both a strategic-merge and a JSON patch",
            )),
            (_, Ok(ops)) => Ok(PatchKind::Json(ops)),
            (Err(e), Err(j)) => Err(e.context(format!(
                "unable to parse the patch as a strategic-merge patch (nor as a JSON patch: {j})"
            ))),
            (Ok(_), Err(_)) => Err(RenderError::input(
                loc.clone(),
                "unable to parse SM or JSON patch: the patch is empty",
            )),
        }
    }

    fn run_transformers(&self, kt: &Kust, acc: &mut Acc) -> Result<()> {
        let k = &kt.k;
        let res = &mut acc.res;
        // patchesStrategicMerge
        let mut loaded = Vec::new();
        for (i, entry) in k.patches_strategic_merge.iter().enumerate() {
            let loc = kt.loc("patchesStrategicMerge", Some(i));
            let inline = self
                .parse_resources(entry, &kt.file)
                .ok()
                .filter(|v| !v.is_empty());
            let patches = match inline {
                Some(p) => p,
                None => {
                    let full = self.resolve_file(kt, entry, &loc)?;
                    let text = self.read_text(&full, &loc)?;
                    self.parse_resources(&text, &full)?
                }
            };
            if patches.is_empty() {
                return Err(RenderError::input(loc, "patch appears to be empty"));
            }
            loaded.extend(patches.into_iter().map(|p| (p, loc.clone())));
        }
        for (patch, loc) in loaded {
            let org = patch.org_id();
            let target = unique_by_any_id(res, &org).map_err(|m| {
                RenderError::input(
                    loc.clone(),
                    format!(
                        "{m}; failed to find unique target for patch {}",
                        org.kustomize_string()
                    ),
                )
            })?;
            let id = res[target].cur_id();
            apply_sm_to_set(res, &[id], &patch).map_err(|m| RenderError::input(loc.clone(), m))?;
        }
        // patches
        for (i, p) in k.patches.iter().enumerate() {
            let loc = kt.loc("patches", Some(i));
            let (text, file) = self.load_patch_text(kt, p, &loc)?;
            match self.parse_patch(&text, &file, &loc)? {
                PatchKind::Strategic(mut patches) => {
                    for pt in patches.iter_mut() {
                        pt.allow_name_change =
                            p.options.get("allowNameChange").copied().unwrap_or(false);
                        pt.allow_kind_change =
                            p.options.get("allowKindChange").copied().unwrap_or(false);
                    }
                    if let Some(target) = &p.target {
                        if patches.len() > 1 {
                            return Err(RenderError::input(
                                loc,
                                "Multiple Strategic-Merge Patches in one `patches` entry is not allowed to set `patches.target` field",
                            ));
                        }
                        let ids = self.select(res, target, &loc)?;
                        apply_sm_to_set(res, &ids, &patches[0])
                            .map_err(|m| RenderError::input(loc.clone(), m))?;
                    } else {
                        for pt in &patches {
                            let org = pt.org_id();
                            let t = unique_by_any_id(res, &org).map_err(|m| {
                                RenderError::input(
                                    loc.clone(),
                                    format!(
                                        "no resource matches strategic merge patch {:?}: {m}",
                                        org.kustomize_string()
                                    ),
                                )
                            })?;
                            apply_sm(&mut res[t], pt)
                                .map_err(|m| RenderError::input(loc.clone(), m))?;
                        }
                        res.retain(|r| !r.is_empty());
                    }
                }
                PatchKind::Json(ops) => {
                    let Some(target) = &p.target else {
                        return Err(RenderError::input(
                            loc,
                            "must specify a target for a JSON patch",
                        ));
                    };
                    let ids = self.select(res, target, &loc)?;
                    for r in res.iter_mut() {
                        if ids.iter().any(|id| *id == r.cur_id()) {
                            r.store_previous_id();
                            r.aliases.clear();
                            jsonpatch::apply(&mut r.obj, &ops).map_err(|m| {
                                RenderError::input(
                                    loc.clone(),
                                    format!("applying the JSON patch to {}: {m}", r.cur_id()),
                                )
                            })?;
                        }
                    }
                }
            }
        }
        let terr = |e: TransformError, res: &[Resource], field: &str| -> RenderError {
            match e.resource {
                Some(i) if i < res.len() => RenderError::input(res[i].origin.clone(), e.message)
                    .context(format!("{} ({})", field, kt.loc(field, None))),
                _ => RenderError::input(kt.loc(field, None), e.message),
            }
        };
        transform::namespace(res, &k.namespace).map_err(|e| terr(e, res, "namespace"))?;
        transform::prefix_suffix(res, &k.name_prefix, false)
            .map_err(|e| terr(e, res, "namePrefix"))?;
        transform::prefix_suffix(res, &k.name_suffix, true)
            .map_err(|e| terr(e, res, "nameSuffix"))?;
        transform::labels(res, &k.labels, &k.common_labels).map_err(|e| terr(e, res, "labels"))?;
        transform::annotations(res, &k.common_annotations)
            .map_err(|e| terr(e, res, "commonAnnotations"))?;
        // patchesJson6902
        for (i, p) in k.patches_json6902.iter().enumerate() {
            let loc = kt.loc("patchesJson6902", Some(i));
            let Some(target) = &p.target else {
                return Err(RenderError::input(loc, "must specify a target for patch"));
            };
            if target.name.is_empty() {
                return Err(RenderError::input(loc, "must specify the target name"));
            }
            let (text, _) = self.load_patch_text(kt, p, &loc)?;
            let ops = parse_json_patch(&text).map_err(|m| RenderError::input(loc.clone(), m))?;
            if ops.is_empty() {
                return Err(RenderError::input(loc, "patch appears to be empty"));
            }
            let ids = self.select(res, target, &loc)?;
            for r in res.iter_mut() {
                if ids.iter().any(|id| *id == r.cur_id()) {
                    r.aliases.clear();
                    jsonpatch::apply(&mut r.obj, &ops).map_err(|m| {
                        RenderError::input(
                            loc.clone(),
                            format!("applying the JSON patch to {}: {m}", r.cur_id()),
                        )
                    })?;
                }
            }
        }
        transform::replicas(res, &k.replicas).map_err(|e| terr(e, res, "replicas"))?;
        transform::images(res, &k.images).map_err(|e| terr(e, res, "images"))?;
        if !k.replacements.is_empty() {
            super::replacements::apply(self, kt, res)?;
        }
        Ok(())
    }

    /// Resources selected by a patch target; an error when there are none.
    fn select(&self, res: &[Resource], target: &Selector, loc: &Location) -> Result<Vec<ResId>> {
        let sel = CompiledSelector::new(target).map_err(|m| RenderError::input(loc.clone(), m))?;
        let ids: Vec<ResId> = res
            .iter()
            .filter(|r| sel.selects(r))
            .map(Resource::cur_id)
            .collect();
        if ids.is_empty() && self.opts.patch_must_match {
            return Err(RenderError::input(
                loc.clone(),
                format!(
                    "patch target {} matches no resource",
                    describe_selector(target)
                ),
            ));
        }
        Ok(ids)
    }
}

pub(crate) enum PatchKind {
    Strategic(Vec<Resource>),
    Json(Vec<jsonpatch::Op>),
}

fn describe_selector(s: &Selector) -> String {
    let mut parts = Vec::new();
    for (k, v) in [
        ("group", &s.group),
        ("version", &s.version),
        ("kind", &s.kind),
        ("name", &s.name),
        ("namespace", &s.namespace),
        ("labelSelector", &s.label_selector),
        ("annotationSelector", &s.annotation_selector),
    ] {
        if !v.is_empty() {
            parts.push(format!("{k}={v:?}"));
        }
    }
    format!("{{{}}}", parts.join(", "))
}

/// Parses a JSON patch: JSON when it starts with `[`, else YAML (read as
/// sigs.k8s.io/yaml does).
pub(crate) fn parse_json_patch(text: &str) -> std::result::Result<Vec<jsonpatch::Op>, String> {
    let t = text.trim_start();
    let v: Value = if t.starts_with('[') {
        serde_json::from_str(text).map_err(|e| format!("invalid JSON patch: {e}"))?
    } else {
        let node = parse_first_document(text, &ParseOptions::config())
            .map_err(|e| format!("invalid JSON patch: {e}"))?
            .ok_or("empty json patch operations")?;
        node.into_value()
    };
    jsonpatch::decode(&v)
}

fn escape(loc: &Location, path: &str) -> RenderError {
    RenderError::Read {
        location: loc.clone(),
        source: Box::new(GitError::PathEscapes {
            location: "the repository".into(),
            path: path.to_string(),
            detail: String::new(),
        }),
    }
}

fn missing_kustomization(loc: &Location, dir: &str) -> RenderError {
    RenderError::input(
        loc.clone(),
        format!(
            "unable to find one of 'kustomization.yaml', 'kustomization.yml' or 'Kustomization' in directory '{}'",
            display_dir(dir)
        ),
    )
}

fn check_cycle(chain: &[String], candidate: &str, loc: &Location) -> Result<()> {
    for root in chain {
        if within(candidate, root) {
            return Err(RenderError::input(
                loc.clone(),
                format!(
                    "cycle detected: candidate root '{}' contains visited root '{}'",
                    display_dir(candidate),
                    display_dir(root)
                ),
            ));
        }
    }
    Ok(())
}

fn unsupported(kt: &Kust) -> Result<()> {
    let k = &kt.k;
    for (field, set) in [
        ("configurations", !k.configurations.is_empty()),
        ("generators", !k.generators.is_empty()),
        ("transformers", !k.transformers.is_empty()),
        ("validators", !k.validators.is_empty()),
        (
            "helmCharts",
            !k.helm_charts.is_empty() || !k.helm_chart_inflation_generator.is_empty(),
        ),
        ("helmGlobals", k.helm_globals.is_some()),
        ("openapi", !k.openapi.is_empty()),
        ("buildMetadata", !k.build_metadata.is_empty()),
    ] {
        if set {
            return Err(RenderError::input(
                kt.loc(field, None),
                format!("`{field}` is not supported by Flotilla's kustomize renderer yet"),
            ));
        }
    }
    Ok(())
}

/// Expands `List` kinds and validates each object.
fn expand(value: Value, loc: &Location, out: &mut Vec<Resource>) -> Result<()> {
    let Value::Object(obj) = value else {
        return Err(RenderError::input(
            loc.clone(),
            "expected a Kubernetes object (a mapping)",
        ));
    };
    if obj.is_empty() {
        return Ok(());
    }
    let kind = obj
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if kind.is_empty() {
        return Err(RenderError::input(loc.clone(), "missing kind in object"));
    }
    if kind.ends_with("List") {
        match obj.get("items") {
            None => {}
            Some(Value::Null) => return Ok(()),
            Some(Value::Array(items)) => {
                for item in items.clone() {
                    expand(item, loc, out)?;
                }
                return Ok(());
            }
            Some(_) => {
                return Err(RenderError::input(
                    loc.clone(),
                    format!("expected array in {kind}/items"),
                ))
            }
        }
    } else {
        let name = obj.get("metadata").and_then(|m| m.get("name"));
        if name.is_none_or(|n| super::resource::scalar_text(n).is_empty()) {
            return Err(RenderError::input(
                loc.clone(),
                format!("missing metadata.name in a {kind} object"),
            ));
        }
    }
    out.push(Resource::new(obj, loc.clone()));
    Ok(())
}

/// The ids of a list of resources, as [`ResId::equals`] compares them
/// (group, version, kind, name, effective namespace), to the position of
/// the resource holding each.
pub(crate) struct IdIndex {
    map: std::collections::HashMap<(Gvk, String, String), usize>,
}

impl IdIndex {
    fn key(id: ResId) -> (Gvk, String, String) {
        let ns = id.effective_namespace().to_string();
        (id.gvk, id.name, ns)
    }

    /// The index of `list`.
    pub fn new(list: &[Resource]) -> IdIndex {
        let mut map = std::collections::HashMap::with_capacity(list.len());
        for (i, r) in list.iter().enumerate() {
            map.entry(Self::key(r.cur_id())).or_insert(i);
        }
        IdIndex { map }
    }

    /// Appends, refusing a second resource with the same id.
    pub fn append(&mut self, list: &mut Vec<Resource>, r: Resource) -> Result<()> {
        let id = r.cur_id();
        let shown = || id.kustomize_string();
        match self.map.entry(Self::key(id.clone())) {
            std::collections::hash_map::Entry::Occupied(e) => {
                return Err(RenderError::input(
                    r.origin.clone(),
                    format!(
                        "may not add resource with an already registered id: {} (already defined at {})",
                        shown(),
                        list[*e.get()].origin
                    ),
                ));
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(list.len());
            }
        }
        list.push(r);
        Ok(())
    }
}

fn unique_by_any_id(list: &[Resource], id: &ResId) -> std::result::Result<usize, String> {
    let m: Vec<usize> = list
        .iter()
        .enumerate()
        .filter(|(_, r)| r.all_ids().iter().any(|x| x.equals(id)))
        .map(|(i, _)| i)
        .collect();
    match m.len() {
        1 => Ok(m[0]),
        0 => Err(format!("no matches for Id {}", id.kustomize_string())),
        _ => Err(format!("multiple matches for Id {}", id.kustomize_string())),
    }
}

fn string_map_merge(
    old: Vec<(String, String)>,
    new: Vec<(String, String)>,
) -> Vec<(String, String)> {
    let mut m: std::collections::BTreeMap<String, String> = old.into_iter().collect();
    m.extend(new);
    m.into_iter().collect()
}

/// kustomize's `CopyMergeMetaDataFieldsFrom`.
fn copy_merge_meta(r: &mut Resource, other: &Resource) {
    let labels = string_map_merge(other.string_map("labels"), r.string_map("labels"));
    r.set_string_map("labels", labels);
    let ann = string_map_merge(other.string_map("annotations"), r.string_map("annotations"));
    r.set_string_map("annotations", ann);
    r.set_name(other.name());
    r.set_namespace(other.namespace());
    r.prev = other.prev.clone();
    r.prefixes = other.prefixes.clone();
    r.suffixes = other.suffixes.clone();
    r.needs_hash = r.needs_hash && other.needs_hash;
    r.behavior = other.behavior;
    r.allow_name_change = other.allow_name_change;
    r.allow_kind_change = other.allow_kind_change;
    r.ref_vars = other.ref_vars.clone();
}

fn data_map(obj: &Map<String, Value>, field: &str) -> Vec<(String, String)> {
    match obj.get(field) {
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| (k.clone(), super::resource::scalar_text(v)))
            .collect(),
        _ => Vec::new(),
    }
}

fn set_data_map(obj: &mut Map<String, Value>, field: &str, entries: Vec<(String, String)>) {
    obj.remove(field);
    if entries.is_empty() {
        return;
    }
    obj.insert(
        field.into(),
        Value::Object(
            entries
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        ),
    );
}

/// kustomize's `appendReplaceOrMerge` for generated resources.
fn absorb(list: &mut Vec<Resource>, mut r: Resource) -> std::result::Result<(), String> {
    let id = r.cur_id();
    let matches: Vec<usize> = list
        .iter()
        .enumerate()
        .filter(|(_, o)| o.all_ids().iter().any(|x| x.equals(&id)))
        .map(|(i, _)| i)
        .collect();
    match matches.len() {
        0 => match r.behavior {
            Behavior::Merge | Behavior::Replace => Err(format!(
                "id {} does not exist; cannot merge or replace",
                id.kustomize_string()
            )),
            Behavior::Create => {
                if list.iter().any(|o| o.cur_id().equals(&id)) {
                    return Err(format!(
                        "may not add resource with an already registered id: {}",
                        id.kustomize_string()
                    ));
                }
                list.push(r);
                Ok(())
            }
        },
        1 => {
            let i = matches[0];
            match r.behavior {
                Behavior::Replace => copy_merge_meta(&mut r, &list[i]),
                Behavior::Merge => {
                    copy_merge_meta(&mut r, &list[i]);
                    for field in ["data", "binaryData"] {
                        let merged = string_map_merge(
                            data_map(&list[i].obj, field),
                            data_map(&r.obj, field),
                        );
                        set_data_map(&mut r.obj, field, merged);
                    }
                }
                Behavior::Create => {
                    return Err(format!(
                        "id {} exists; behavior must be merge or replace",
                        id.kustomize_string()
                    ))
                }
            }
            list[i] = r;
            Ok(())
        }
        _ => Err(format!(
            "found multiple objects that could accept merge of {}",
            id.kustomize_string()
        )),
    }
}

/// kustomize's `Resource.ApplySmPatch`.
fn apply_sm(r: &mut Resource, patch: &Resource) -> std::result::Result<(), String> {
    let (n, ns, k) = (
        r.name().to_string(),
        r.namespace().to_string(),
        r.kind().to_string(),
    );
    if patch.allow_name_change || patch.allow_kind_change {
        r.store_previous_id();
    }
    let before = r.alias_snapshot();
    let obj = std::mem::take(&mut r.obj);
    let merged = smp::merge_patch(patch.obj.clone(), obj)?;
    if let Some(m) = &merged {
        r.obj = m.clone();
        r.propagate_after_patch(before);
    }
    match merged.map(|_| std::mem::take(&mut r.obj)) {
        None => {}
        Some(m) => {
            r.obj = m;
            if r.obj.is_empty() {
                return Ok(());
            }
            if !patch.allow_kind_change {
                r.set_kind(&k);
            }
            if !patch.allow_name_change {
                r.set_name(&n);
            }
            r.set_namespace(&ns);
        }
    }
    Ok(())
}

/// kustomize's `resWrangler.ApplySmPatch` for a set of targets.
fn apply_sm_to_set(
    res: &mut Vec<Resource>,
    ids: &[ResId],
    patch: &Resource,
) -> std::result::Result<(), String> {
    for r in res.iter_mut() {
        if !ids.iter().any(|id| *id == r.cur_id()) {
            continue;
        }
        let mut copy = patch.clone();
        let other = patch.clone();
        copy_merge_meta(&mut copy, &other);
        let gvk = r.gvk();
        copy.obj
            .insert("apiVersion".into(), Value::String(gvk.api_version()));
        copy.obj
            .insert("kind".into(), Value::String(patch.kind().to_string()));
        apply_sm(r, &copy)?;
    }
    res.retain(|r| !r.is_empty());
    Ok(())
}

fn sort(res: &mut Vec<Resource>, k: &Kustomization) -> Result<()> {
    let (first, last): (Vec<String>, Vec<String>) = match &k.sort_options {
        None => (
            super::sort::DEFAULT_ORDER_FIRST
                .iter()
                .map(|s| s.to_string())
                .collect(),
            super::sort::DEFAULT_ORDER_LAST
                .iter()
                .map(|s| s.to_string())
                .collect(),
        ),
        Some(o) => match o.order.as_str() {
            "fifo" => {
                if o.legacy_sort_options.is_some() {
                    return Err(RenderError::input(
                        Location::in_file("sortOptions"),
                        "the field 'sortOptions.legacySortOptions' is set but the selected sort order is 'fifo', not 'legacy'",
                    ));
                }
                return Ok(());
            }
            "legacy" => match &o.legacy_sort_options {
                Some(l) => (l.order_first.clone(), l.order_last.clone()),
                None => (
                    super::sort::DEFAULT_ORDER_FIRST
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                    super::sort::DEFAULT_ORDER_LAST
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                ),
            },
            _ => {
                return Err(RenderError::input(
                    Location::in_file("sortOptions"),
                    "the field 'sortOptions.order' must be one of [fifo, legacy]",
                ))
            }
        },
    };
    super::sort::legacy_sort(res, &first, &last);
    Ok(())
}

const BUILD_ANNOTATIONS: &[&str] = &[
    "internal.config.kubernetes.io/previousKinds",
    "internal.config.kubernetes.io/previousNames",
    "internal.config.kubernetes.io/prefixes",
    "internal.config.kubernetes.io/suffixes",
    "internal.config.kubernetes.io/previousNamespaces",
    "internal.config.kubernetes.io/allowNameChange",
    "internal.config.kubernetes.io/allowKindChange",
    "internal.config.kubernetes.io/refBy",
    "internal.config.kubernetes.io/generatorBehavior",
    "internal.config.kubernetes.io/needsHashSuffix",
    "internal.config.kubernetes.io/path",
    "internal.config.kubernetes.io/index",
    "internal.config.kubernetes.io/seqindent",
    "internal.config.kubernetes.io/id",
    "internal.config.kubernetes.io/annotations-migration-resource-id",
    "config.kubernetes.io/path",
    "config.kubernetes.io/index",
    "config.k8s.io/id",
    "config.kubernetes.io/origin",
    "alpha.config.kubernetes.io/transformations",
];

/// kustomize's last steps on each resource: build annotations removed,
/// annotations rewritten as strings (and removed when empty).
fn finalize(r: &mut Resource) {
    let ann: Vec<(String, String)> = r
        .string_map("annotations")
        .into_iter()
        .filter(|(k, _)| !BUILD_ANNOTATIONS.contains(&k.as_str()))
        .collect();
    r.set_string_map("annotations", ann);
}
