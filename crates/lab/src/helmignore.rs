//! `.helmignore` rules and Go's `filepath.Match`, as Helm's chart loader
//! applies them when it reads a chart directory.

use std::path::Path;

use crate::error::{LabError, Result};

fn bad(path: &Path, message: impl Into<String>) -> LabError {
    LabError::Charts {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// `.helmignore` rules, applied as Helm's loader applies them.
#[derive(Debug, Default)]
pub(crate) struct Ignore {
    rules: Vec<IgnoreRule>,
}

#[derive(Debug)]
struct IgnoreRule {
    pattern: String,
    negate: bool,
    must_dir: bool,
    kind: MatchKind,
}

#[derive(Debug, Clone, Copy)]
enum MatchKind {
    /// Leading `/`: against the whole path.
    Root,
    /// Contains `/`: against the whole path.
    Path,
    /// Against the base name only.
    Base,
}

impl Ignore {
    pub(crate) fn parse(text: &str, origin: &Path) -> Result<Self> {
        let mut out = Ignore::default();
        for (i, line) in text.lines().enumerate() {
            let rule = line.trim();
            if rule.is_empty() || rule.starts_with('#') {
                continue;
            }
            if rule.contains("**") {
                return Err(bad(
                    origin,
                    format!("line {}: double-star (**) syntax is not supported", i + 1),
                ));
            }
            let (negate, rule) = match rule.strip_prefix('!') {
                Some(r) => (true, r),
                None => (false, rule),
            };
            let (must_dir, rule) = match rule.strip_suffix('/') {
                Some(r) => (true, r),
                None => (false, rule),
            };
            let (kind, pattern) = if let Some(r) = rule.strip_prefix('/') {
                (MatchKind::Root, r.to_string())
            } else if rule.contains('/') {
                (MatchKind::Path, rule.to_string())
            } else {
                (MatchKind::Base, rule.to_string())
            };
            if glob_match(&pattern, "abc").is_none() {
                return Err(bad(
                    origin,
                    format!("line {}: syntax error in pattern {line:?}", i + 1),
                ));
            }
            out.rules.push(IgnoreRule {
                pattern,
                negate,
                must_dir,
                kind,
            });
        }
        // Helm's default: dot files under templates/.
        out.rules.push(IgnoreRule {
            pattern: "templates/.?*".into(),
            negate: false,
            must_dir: false,
            kind: MatchKind::Path,
        });
        Ok(out)
    }

    pub(crate) fn ignored(&self, path: &str, is_dir: bool) -> bool {
        for r in &self.rules {
            let subject = match r.kind {
                MatchKind::Base => path.rsplit('/').next().unwrap_or(path),
                MatchKind::Root | MatchKind::Path => path,
            };
            let m = glob_match(&r.pattern, subject).unwrap_or(false);
            if r.negate {
                if r.must_dir && !is_dir {
                    return true;
                }
                if !m {
                    return true;
                }
                continue;
            }
            if r.must_dir && !is_dir {
                continue;
            }
            if m {
                return true;
            }
        }
        false
    }
}

/// Go's `filepath.Match`: `*`, `?`, `[...]` (with `^` and ranges) and `\`
/// escapes; `*` and `?` do not match `/`. `None` for a malformed pattern.
fn glob_match(pattern: &str, name: &str) -> Option<bool> {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    glob_at(&p, &n)
}

fn glob_at(p: &[char], n: &[char]) -> Option<bool> {
    match p.first() {
        None => Some(n.is_empty()),
        Some('*') => {
            let rest = &p[1..];
            // Validate the rest once even when nothing is left to match.
            let mut i = 0;
            loop {
                if glob_at(rest, &n[i..])? {
                    return Some(true);
                }
                if i == n.len() || n[i] == '/' {
                    return Some(false);
                }
                i += 1;
            }
        }
        Some('?') => match n.first() {
            Some(c) if *c != '/' => glob_at(&p[1..], &n[1..]),
            _ => {
                glob_at(&p[1..], &[])?;
                Some(false)
            }
        },
        Some('[') => {
            let (matched, used) = class(&p[1..], n.first().copied())?;
            if matched && n.first().is_some_and(|c| *c != '/') {
                glob_at(&p[1 + used..], &n[1..])
            } else {
                glob_at(&p[1 + used..], &[])?;
                Some(false)
            }
        }
        Some('\\') => {
            let c = *p.get(1)?;
            if n.first() == Some(&c) {
                glob_at(&p[2..], &n[1..])
            } else {
                Some(false)
            }
        }
        Some(c) => {
            if n.first() == Some(c) {
                glob_at(&p[1..], &n[1..])
            } else {
                glob_at(&p[1..], &[])?;
                Some(false)
            }
        }
    }
}

/// A character class after `[`: whether `c` is in it, and how many pattern
/// characters it used (up to and including `]`).
fn class(p: &[char], c: Option<char>) -> Option<(bool, usize)> {
    let mut i = 0;
    let negate = p.first() == Some(&'^');
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let lo = match p.get(i)? {
            ']' if !first => break,
            '\\' => {
                i += 1;
                *p.get(i)?
            }
            '-' | '[' if first => return None,
            ch => *ch,
        };
        first = false;
        i += 1;
        let mut hi = lo;
        if p.get(i) == Some(&'-') && p.get(i + 1) != Some(&']') {
            i += 1;
            hi = match p.get(i)? {
                '\\' => {
                    i += 1;
                    *p.get(i)?
                }
                ch => *ch,
            };
            i += 1;
        }
        if let Some(c) = c {
            if lo <= c && c <= hi {
                matched = true;
            }
        }
    }
    Some((matched != negate, i + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_filepath_match_semantics() {
        let m = |p: &str, n: &str| glob_match(p, n);
        assert_eq!(m("*.txt", "a.txt"), Some(true));
        assert_eq!(m("*.txt", "dir/a.txt"), Some(false));
        assert_eq!(m("a?c", "abc"), Some(true));
        assert_eq!(m("a?c", "a/c"), Some(false));
        assert_eq!(m("[a-c]x", "bx"), Some(true));
        assert_eq!(m("[^a-c]x", "bx"), Some(false));
        assert_eq!(m("[^a-c]x", "dx"), Some(true));
        assert_eq!(m("templates/.?*", "templates/.hidden"), Some(true));
        assert_eq!(m("templates/.?*", "templates/x.yaml"), Some(false));
        assert_eq!(m("\\*", "*"), Some(true));
        assert_eq!(m("[", "a"), None);
        assert_eq!(m("a[", "b"), None);
    }

    #[test]
    fn helmignore_rules_as_helm_applies_them() {
        let ig = Ignore::parse(
            "# comment\n*.tmp\n/secret.txt\ndocs/\nci/*.yaml\n",
            Path::new(".helmignore"),
        )
        .unwrap();
        assert!(ig.ignored("a.tmp", false));
        assert!(ig.ignored("templates/b.tmp", false));
        assert!(ig.ignored("secret.txt", false));
        assert!(!ig.ignored("sub/secret.txt", false));
        assert!(ig.ignored("docs", true));
        assert!(!ig.ignored("docs", false));
        assert!(ig.ignored("ci/x.yaml", false));
        assert!(ig.ignored("templates/.keep", false));
        assert!(!ig.ignored("templates/a.yaml", false));
        let err = Ignore::parse("x/**/y\n", Path::new("c/.helmignore")).unwrap_err();
        assert!(err.to_string().contains("line 1: double-star"), "{err}");
    }
}
