//! Plain directories, as Argo CD's `directory` source reads them: YAML and
//! JSON files (optionally recursing), `include`/`exclude` globs on the path
//! relative to the directory, multi-document files, `List` kinds expanded,
//! empty and comment-only documents skipped.

use flotilla_core::{Location, Manifest};
use flotilla_git::EntryKind;
use serde_json::Value;

use crate::error::RenderError;
use crate::kustomize::build::Engine;
use crate::{Rendered, SourceKind};

/// Options of a plain directory source (Argo CD's `spec.source.directory`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirectoryOptions {
    /// Read subdirectories too.
    pub recurse: bool,
    /// Only files whose relative path matches this glob (`{a,b}` allowed).
    pub include: Option<String>,
    /// Leave out files whose relative path matches this glob.
    pub exclude: Option<String>,
}

/// Glob match where `*` matches any run of characters (slashes included),
/// `?` one character, `[...]` a class and `{a,b}` alternatives.
///
/// ```
/// use flotilla_render::glob_match;
///
/// assert!(glob_match("*.yaml", "a/b.yaml"));
/// assert!(glob_match("{deploy,svc}.yaml", "svc.yaml"));
/// assert!(!glob_match("*.json", "a.yaml"));
/// ```
pub fn glob_match(pattern: &str, s: &str) -> bool {
    // Expand the first brace group.
    if let Some(open) = pattern.find('{') {
        if let Some(close_rel) = pattern[open..].find('}') {
            let close = open + close_rel;
            let (pre, alts, post) = (
                &pattern[..open],
                &pattern[open + 1..close],
                &pattern[close + 1..],
            );
            return alts
                .split(',')
                .any(|a| glob_match(&format!("{pre}{a}{post}"), s));
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = s.chars().collect();
    fn m(p: &[char], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('*') => (0..=t.len()).any(|i| m(&p[1..], &t[i..])),
            Some('?') => !t.is_empty() && m(&p[1..], &t[1..]),
            Some('[') => {
                let Some(end) = p.iter().position(|&c| c == ']') else {
                    return !t.is_empty() && t[0] == '[' && m(&p[1..], &t[1..]);
                };
                if t.is_empty() {
                    return false;
                }
                let class = &p[1..end];
                let (neg, class) = match class.first() {
                    Some('!') | Some('^') => (true, &class[1..]),
                    _ => (false, class),
                };
                let mut hit = false;
                let mut i = 0;
                while i < class.len() {
                    if i + 2 < class.len() && class[i + 1] == '-' {
                        if class[i] <= t[0] && t[0] <= class[i + 2] {
                            hit = true;
                        }
                        i += 3;
                    } else {
                        if class[i] == t[0] {
                            hit = true;
                        }
                        i += 1;
                    }
                }
                hit != neg && m(&p[end + 1..], &t[1..])
            }
            Some('\\') if p.len() > 1 => !t.is_empty() && t[0] == p[1] && m(&p[2..], &t[1..]),
            Some(&c) => !t.is_empty() && t[0] == c && m(&p[1..], &t[1..]),
        }
    }
    m(&p, &t)
}

fn collect(
    engine: &Engine<'_>,
    dir: &str,
    recurse: bool,
    out: &mut Vec<String>,
) -> Result<(), RenderError> {
    let entries = engine.tree.list(dir).map_err(|source| RenderError::Read {
        location: Location::in_file(if dir.is_empty() { "." } else { dir }),
        source: Box::new(source),
    })?;
    for e in entries {
        let kind = match e.kind {
            EntryKind::Symlink => {
                engine
                    .tree
                    .kind(&e.path)
                    .map_err(|source| RenderError::Read {
                        location: Location::in_file(&e.path),
                        source: Box::new(source),
                    })?
            }
            k => Some(k),
        };
        match kind {
            Some(EntryKind::Dir) if recurse => collect(engine, &e.path, recurse, out)?,
            Some(EntryKind::File) => {
                let lower = e.name.to_ascii_lowercase();
                if lower.ends_with(".yaml") || lower.ends_with(".yml") || lower.ends_with(".json") {
                    out.push(e.path);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Renders the plain manifests of a directory.
pub(crate) fn render_directory(
    engine: &Engine<'_>,
    dir: &str,
    opts: &DirectoryOptions,
) -> Result<Rendered, RenderError> {
    let mut files = Vec::new();
    collect(engine, dir, opts.recurse, &mut files)?;
    files.sort();
    let mut manifests = Vec::new();
    for file in files {
        let rel = if dir.is_empty() {
            file.as_str()
        } else {
            file.strip_prefix(dir)
                .unwrap_or(&file)
                .trim_start_matches('/')
        };
        if let Some(inc) = &opts.include {
            if !inc.is_empty() && !glob_match(inc, rel) {
                continue;
            }
        }
        if let Some(exc) = &opts.exclude {
            if !exc.is_empty() && glob_match(exc, rel) {
                continue;
            }
        }
        let here = Location::in_file(&file);
        let bytes = engine.read(&file, &here)?;
        let text = String::from_utf8(bytes).map_err(|e| {
            RenderError::input(here.clone(), format!("file is not UTF-8 text ({e})"))
        })?;
        let text = text.replace("\r\n", "\n");
        let resources = if file.to_ascii_lowercase().ends_with(".json") {
            let v: Value = serde_json::from_str(&text).map_err(|e| {
                RenderError::input(
                    Location::new(&file, e.line() as u32, e.column() as u32),
                    format!("invalid JSON: {e}"),
                )
            })?;
            let items = match v {
                Value::Array(items) => items,
                other => vec![other],
            };
            let mut res = Vec::new();
            for item in items {
                // Through YAML text so that validation and List handling are shared.
                let y = crate::yaml::to_yaml_string(&item);
                res.extend(engine.parse_resources(&y, &file)?);
            }
            res
        } else {
            engine.parse_resources(&text, &file)?
        };
        for r in resources {
            if r.api_version().is_empty() {
                return Err(RenderError::input(r.origin, "object has no apiVersion"));
            }
            manifests.push(Manifest::new(r.obj).with_location(r.origin));
        }
    }
    Ok(Rendered {
        kind: Some(SourceKind::Directory),
        manifests,
    })
}
