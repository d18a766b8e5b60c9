//! Printing a [`Rendered`] chart exactly as `helm template` prints it.

use std::fmt::Write as _;
use std::sync::OnceLock;

use regex::Regex;

use crate::error::HelmError;
use crate::render::Rendered;

/// The output flags of `helm template`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutputOptions {
    /// `--include-crds`: print the files of `crds/` first.
    pub include_crds: bool,
    /// `--no-hooks`: leave hooks out.
    pub no_hooks: bool,
    /// `--skip-tests`: leave `test` hooks out.
    pub skip_tests: bool,
    /// `--show-only`: only documents from templates matching these paths
    /// (relative to the chart, `templates/x.yaml`; `filepath.Match` globs).
    pub show_only: Vec<String>,
}

fn source_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"# Source: [^/]+/(.+)").unwrap_or_else(|_| unreachable!()))
}

impl Rendered {
    /// What `helm template` prints on stdout for this render.
    ///
    /// Fails only for `--show-only` naming a template that produced
    /// nothing (`could not find template X in chart`).
    pub fn helm_template_output(&self, opts: &OutputOptions) -> Result<String, HelmError> {
        // The release manifest: CRDs, then ordinary manifests.
        let mut manifest = String::new();
        if opts.include_crds {
            for c in &self.crds {
                let _ = write!(manifest, "---\n# Source: {}\n{}\n", c.source, c.content);
            }
        }
        for m in &self.manifests {
            let _ = write!(manifest, "---\n# Source: {}\n{}\n", m.source, m.content);
        }
        let mut out = String::new();
        out.push_str(manifest.trim());
        out.push('\n');
        if !opts.no_hooks {
            for h in &self.hooks {
                if opts.skip_tests && h.hook.as_ref().is_some_and(|h| h.is_test()) {
                    continue;
                }
                let _ = write!(out, "---\n# Source: {}\n{}\n", h.source, h.content);
            }
        }
        if opts.show_only.is_empty() {
            return Ok(out);
        }
        let docs = crate::sort::split_manifests(&out);
        let mut shown = String::new();
        for f in &opts.show_only {
            let f = f.replace('\\', "/");
            let mut missing = true;
            for d in &docs {
                let Some(c) = source_re().captures(d) else {
                    continue;
                };
                let name = c.get(1).map(|m| m.as_str()).unwrap_or("");
                if !path_match(&f, name) {
                    continue;
                }
                let _ = write!(shown, "---\n{d}\n");
                missing = false;
            }
            if missing {
                return Err(HelmError::ShowOnlyNotFound(f));
            }
        }
        Ok(shown)
    }
}

/// Go's `path/filepath.Match` with `/` as the separator; a malformed
/// pattern matches nothing.
pub(crate) fn path_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = name.chars().collect();
    matches(&p, &s).unwrap_or(false)
}

fn matches(p: &[char], s: &[char]) -> Option<bool> {
    let Some((&first, rest)) = p.split_first() else {
        return Some(s.is_empty());
    };
    match first {
        '*' => {
            for i in 0..=s.len() {
                if matches(rest, &s[i..])? {
                    return Some(true);
                }
                if i < s.len() && s[i] == '/' {
                    break;
                }
            }
            // Validate the rest of the pattern as Go does on a failed match.
            matches(rest, &[]).map(|_| false)
        }
        '?' => match s.first() {
            Some(c) if *c != '/' => matches(rest, &s[1..]),
            _ => Some(false),
        },
        '[' => {
            let (hit, used) = class(rest, s.first().copied())?;
            if !hit {
                return Some(false);
            }
            matches(&rest[used..], &s[1..])
        }
        '\\' => {
            let (&c, rest2) = rest.split_first()?;
            Some(s.first() == Some(&c) && matches(rest2, &s[1..])?)
        }
        c => Some(s.first() == Some(&c) && matches(rest, &s[1..])?),
    }
}

/// A `[...]` class after the `[`: whether `c` is in it and how many
/// pattern characters it used (the closing `]` included).
fn class(p: &[char], c: Option<char>) -> Option<(bool, usize)> {
    let mut i = 0;
    let neg = p.first() == Some(&'^');
    if neg {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    loop {
        let ch = *p.get(i)?;
        if ch == ']' && !first {
            i += 1;
            break;
        }
        first = false;
        let lo = if ch == '\\' {
            i += 1;
            *p.get(i)?
        } else {
            ch
        };
        i += 1;
        let mut hi = lo;
        if p.get(i) == Some(&'-') && p.get(i + 1).is_some_and(|x| *x != ']') {
            i += 1;
            hi = if p[i] == '\\' {
                i += 1;
                *p.get(i)?
            } else {
                p[i]
            };
            i += 1;
        }
        if let Some(c) = c {
            if lo <= c && c <= hi {
                hit = true;
            }
        }
    }
    let Some(c) = c else { return Some((false, i)) };
    if c == '/' {
        return Some((false, i));
    }
    Some((hit != neg, i))
}

#[cfg(test)]
mod tests {
    use super::path_match;

    #[test]
    fn filepath_match() {
        assert!(path_match("templates/*.yaml", "templates/a.yaml"));
        assert!(!path_match("templates/*.yaml", "templates/x/a.yaml"));
        assert!(path_match("templates/a.yaml", "templates/a.yaml"));
        assert!(path_match("templates/[ab].yaml", "templates/b.yaml"));
        assert!(path_match("templates/[^ab].yaml", "templates/c.yaml"));
        assert!(!path_match("templates/[", "templates/["));
        assert!(path_match(
            "charts/*/templates/*",
            "charts/sub/templates/x.yaml"
        ));
    }
}
