//! Glob patterns as Argo CD's git files generator applies them.
//!
//! Argo CD has two behaviours, and both are offered:
//!
//! - [`GlobMode::Git`] (Argo CD's default): the pattern is a `git ls-files`
//!   pathspec. `*` and `?` also match `/`, so `overlays/**/config.json` and
//!   `overlays/*/config.json` both match `overlays/a/b/config.json` (but not
//!   `overlays/config.json`); a pattern without wildcards matches that file or
//!   everything below that directory.
//! - [`GlobMode::Doublestar`] (Argo CD's "new globbing", the doublestar
//!   library): `*` and `?` stay within one path segment, a `**` segment matches
//!   zero or more directories, and `{a,b}` alternatives are expanded.
//!
//! Both support `[abc]`, `[a-z]`, `[!a]`/`[^a]` classes and `\` escapes.
//! No glob crate implements the first mode (git's wildmatch without
//! `WM_PATHNAME`), so both are implemented here and tested against `git`
//! itself.

use crate::error::GitError;

/// Which glob semantics to apply; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GlobMode {
    /// `git ls-files` pathspec semantics: Argo CD's default.
    #[default]
    Git,
    /// doublestar semantics: Argo CD with `applicationset.enable.new.git.file.globbing`.
    Doublestar,
}

const MAX_PATTERN_LEN: usize = 4096;
const MAX_ALTERNATIVES: usize = 256;

/// A compiled glob pattern.
///
/// ```
/// use flotilla_git::{GlobMode, Pattern};
///
/// let git = Pattern::new("overlays/**/config.json", GlobMode::Git).unwrap();
/// assert!(git.matches("overlays/prod/eu/config.json"));
/// assert!(!git.matches("overlays/config.json"));
///
/// let ds = Pattern::new("overlays/**/config.json", GlobMode::Doublestar).unwrap();
/// assert!(ds.matches("overlays/config.json"));
/// assert!(!Pattern::new("overlays/*.json", GlobMode::Doublestar).unwrap().matches("overlays/a/b.json"));
/// ```
#[derive(Debug, Clone)]
pub struct Pattern {
    raw: String,
    mode: GlobMode,
    /// Git mode: the pattern; Doublestar mode: one entry per brace alternative, split in segments.
    alternatives: Vec<Vec<String>>,
    prefix: String,
    /// Git mode: the literal text after the last wildcard, which every match ends with.
    suffix: String,
}

fn is_wild(c: char) -> bool {
    matches!(c, '*' | '?' | '[' | '\\')
}

impl Pattern {
    /// Compile `pattern` for `mode`.
    pub fn new(pattern: &str, mode: GlobMode) -> Result<Self, GitError> {
        let invalid = |reason: &str| GitError::InvalidPattern {
            pattern: pattern.to_string(),
            reason: reason.to_string(),
        };
        if pattern.len() > MAX_PATTERN_LEN {
            return Err(invalid("pattern too long"));
        }
        if pattern.contains('\0') {
            return Err(invalid("contains a NUL byte"));
        }
        let mut p = pattern.trim_start_matches("./");
        if p.starts_with('/') {
            return Err(invalid(
                "absolute patterns are not allowed; patterns are relative to the repository root",
            ));
        }
        if p.split('/').any(|seg| seg == "..") {
            return Err(invalid("'..' is not allowed in patterns"));
        }
        if p == "." {
            p = "";
        }
        if p.ends_with('\\') && !p.ends_with("\\\\") {
            return Err(invalid("trailing backslash"));
        }
        validate_classes(p).map_err(invalid)?;
        match mode {
            GlobMode::Git => {
                let first_wild = p.find(is_wild).unwrap_or(p.len());
                let prefix = match p[..first_wild].rfind('/') {
                    Some(i) => p[..i].to_string(),
                    None => String::new(),
                };
                // A wildcard-free pattern also matches everything below it.
                let prefix = if first_wild == p.len() {
                    p.trim_end_matches('/').to_string()
                } else {
                    prefix
                };
                let suffix = match p.rfind(['*', '?', '[', ']', '\\']) {
                    Some(i) if first_wild < p.len() => p[i + 1..].to_string(),
                    _ => String::new(),
                };
                Ok(Pattern {
                    raw: pattern.to_string(),
                    mode,
                    alternatives: vec![vec![p.to_string()]],
                    prefix,
                    suffix,
                })
            }
            GlobMode::Doublestar => {
                let expanded = expand_braces(p).map_err(invalid)?;
                let alternatives: Vec<Vec<String>> = expanded
                    .iter()
                    .map(|alt| {
                        let mut segs: Vec<String> = alt
                            .split('/')
                            .filter(|s| !s.is_empty() && *s != ".")
                            .map(str::to_string)
                            .collect();
                        segs.dedup_by(|a, b| a == "**" && b == "**");
                        segs
                    })
                    .collect();
                // The common literal directory prefix of all alternatives.
                let lit: Vec<Vec<&str>> = alternatives
                    .iter()
                    .map(|segs| {
                        let mut out = Vec::new();
                        for (i, s) in segs.iter().enumerate() {
                            if i + 1 == segs.len() || s.contains(is_wild) {
                                break;
                            }
                            out.push(s.as_str());
                        }
                        out
                    })
                    .collect();
                let mut common: Vec<&str> = lit.first().cloned().unwrap_or_default();
                for l in &lit[1..] {
                    let n = common.iter().zip(l).take_while(|(a, b)| a == b).count();
                    common.truncate(n);
                }
                Ok(Pattern {
                    raw: pattern.to_string(),
                    mode,
                    prefix: common.join("/"),
                    alternatives,
                    suffix: String::new(),
                })
            }
        }
    }

    /// The pattern as given.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The mode it was compiled for.
    pub fn mode(&self) -> GlobMode {
        self.mode
    }

    /// The longest directory that contains every match (`""` for the root):
    /// walking can start there.
    pub fn base_dir(&self) -> &str {
        &self.prefix
    }

    /// Does the slash-separated relative `path` match?
    pub fn matches(&self, path: &str) -> bool {
        match self.mode {
            GlobMode::Git => {
                let p = &self.alternatives[0][0];
                if p.is_empty() {
                    return true;
                }
                // Literal match first: the file itself or anything below it.
                let lit = p.trim_end_matches('/');
                if path == lit
                    || (path.len() > lit.len()
                        && path.starts_with(lit)
                        && path.as_bytes()[lit.len()] == b'/')
                {
                    return true;
                }
                if !p.contains(is_wild) || !path.ends_with(self.suffix.as_str()) {
                    return false;
                }
                wildmatch(p.as_bytes(), path.as_bytes(), false)
            }
            GlobMode::Doublestar => {
                let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
                self.alternatives
                    .iter()
                    .any(|alt| match_segments(alt, &segs))
            }
        }
    }
}

fn validate_classes(p: &str) -> Result<(), &'static str> {
    let b = p.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'[' => match class_end(b, i) {
                Some(end) => i = end + 1,
                None => return Err("unterminated character class '['"),
            },
            _ => i += 1,
        }
    }
    Ok(())
}

/// Index of the `]` closing the class that starts at `start` (which is `[`).
fn class_end(p: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    if i < p.len() && (p[i] == b'!' || p[i] == b'^') {
        i += 1;
    }
    // A ']' right after the opening (and negation) is literal.
    if i < p.len() && p[i] == b']' {
        i += 1;
    }
    while i < p.len() {
        match p[i] {
            b'\\' => i += 2,
            b'[' if p.get(i + 1) == Some(&b':') => {
                // [:class:]
                match p[i + 2..].windows(2).position(|w| w == b":]") {
                    Some(off) => i = i + 2 + off + 2,
                    None => i += 1,
                }
            }
            b']' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Match one byte `c` against the class `p[start..=end]`.
fn class_matches(p: &[u8], start: usize, end: usize, c: u8) -> bool {
    let mut i = start + 1;
    let negate = i < end && (p[i] == b'!' || p[i] == b'^');
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < end {
        let mut lo = p[i];
        if lo == b'[' && p.get(i + 1) == Some(&b':') {
            if let Some(off) = p[i + 2..end].windows(2).position(|w| w == b":]") {
                let name = &p[i + 2..i + 2 + off];
                let ok = match name {
                    b"alnum" => c.is_ascii_alphanumeric(),
                    b"alpha" => c.is_ascii_alphabetic(),
                    b"blank" => c == b' ' || c == b'\t',
                    b"cntrl" => c.is_ascii_control(),
                    b"digit" => c.is_ascii_digit(),
                    b"graph" => c.is_ascii_graphic(),
                    b"lower" => c.is_ascii_lowercase(),
                    b"print" => c.is_ascii_graphic() || c == b' ',
                    b"punct" => c.is_ascii_punctuation(),
                    b"space" => c.is_ascii_whitespace(),
                    b"upper" => c.is_ascii_uppercase(),
                    b"xdigit" => c.is_ascii_hexdigit(),
                    _ => false,
                };
                matched |= ok;
                i = i + 2 + off + 2;
                first = false;
                continue;
            }
        }
        if lo == b'\\' && i + 1 < end {
            i += 1;
            lo = p[i];
        } else if lo == b']' && !first {
            break;
        }
        first = false;
        if i + 2 < end && p[i + 1] == b'-' {
            let mut hi = p[i + 2];
            let mut step = 3;
            if hi == b'\\' && i + 3 < end {
                hi = p[i + 3];
                step = 4;
            }
            if lo <= c && c <= hi {
                matched = true;
            }
            i += step;
        } else {
            if c == lo {
                matched = true;
            }
            i += 1;
        }
    }
    matched != negate
}

/// git's wildmatch; with `pathname` false, `*` and `?` also match `/`.
fn wildmatch(p: &[u8], t: &[u8], pathname: bool) -> bool {
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                b'*' => {
                    while pi < p.len() && p[pi] == b'*' {
                        pi += 1;
                    }
                    star = Some((pi, ti));
                    continue;
                }
                b'?' if !(pathname && t[ti] == b'/') => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                b'[' => {
                    if let Some(end) = class_end(p, pi) {
                        if !(pathname && t[ti] == b'/') && class_matches(p, pi, end, t[ti]) {
                            pi = end + 1;
                            ti += 1;
                            continue;
                        }
                    } else if t[ti] == b'[' {
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
                b'\\' if pi + 1 < p.len() && p[pi + 1] == t[ti] => {
                    pi += 2;
                    ti += 1;
                    continue;
                }
                b'\\' if pi + 1 < p.len() => {}
                c if c == t[ti] && c != b'?' => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                _ => {}
            }
        }
        // Mismatch: backtrack to the last star, letting it eat one more byte.
        match star {
            Some((sp, st)) if !(pathname && t[st] == b'/') => {
                star = Some((sp, st + 1));
                pi = sp;
                ti = st + 1;
            }
            _ => return false,
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

fn match_segments(pat: &[String], path: &[&str]) -> bool {
    // Iterative DP over (pattern segment, path segment).
    let n = path.len();
    let mut reach = vec![false; n + 1];
    reach[0] = true;
    for seg in pat {
        let mut next = vec![false; n + 1];
        if seg == "**" {
            let mut any = false;
            for j in 0..=n {
                any |= reach[j];
                next[j] = any;
            }
        } else {
            for j in 0..n {
                if reach[j] && wildmatch(seg.as_bytes(), path[j].as_bytes(), true) {
                    next[j + 1] = true;
                }
            }
        }
        reach = next;
        if !reach.iter().any(|&r| r) {
            return false;
        }
    }
    reach[n]
}

/// Expand `{a,b}` alternatives (nested allowed), bounded.
fn expand_braces(p: &str) -> Result<Vec<String>, &'static str> {
    let b = p.as_bytes();
    // Find the first top-level '{' not escaped.
    let mut i = 0;
    let mut open = None;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'[' => i = class_end(b, i).map(|e| e + 1).unwrap_or(i + 1),
            b'{' => {
                open = Some(i);
                break;
            }
            b'}' => return Err("unmatched '}'"),
            _ => i += 1,
        }
    }
    let Some(open) = open else {
        return Ok(vec![p.to_string()]);
    };
    let mut depth = 0;
    let mut j = open;
    let mut splits = vec![open];
    let mut close = None;
    while j < b.len() {
        match b[j] {
            b'\\' => {
                j += 2;
                continue;
            }
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(j);
                    break;
                }
            }
            b',' if depth == 1 => splits.push(j),
            _ => {}
        }
        j += 1;
    }
    let close = close.ok_or("unterminated '{'")?;
    splits.push(close);
    let head = &p[..open];
    let tail = &p[close + 1..];
    let mut out = Vec::new();
    for w in splits.windows(2) {
        let choice = &p[w[0] + 1..w[1]];
        for expanded in expand_braces(&format!("{head}{choice}{tail}"))? {
            out.push(expanded);
            if out.len() > MAX_ALTERNATIVES {
                return Err("too many '{...}' alternatives");
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(p: &str, path: &str) -> bool {
        Pattern::new(p, GlobMode::Git).unwrap().matches(path)
    }
    fn ds(p: &str, path: &str) -> bool {
        Pattern::new(p, GlobMode::Doublestar).unwrap().matches(path)
    }

    #[test]
    fn git_mode_star_crosses_slashes() {
        assert!(git("overlays/**/config.json", "overlays/a/config.json"));
        assert!(git("overlays/**/config.json", "overlays/a/b/c/config.json"));
        assert!(!git("overlays/**/config.json", "overlays/config.json"));
        assert!(git("overlays/*/config.json", "overlays/a/b/config.json"));
        assert!(git("*.yaml", "a/b/c.yaml"));
        assert!(git("**/config.json", "x/config.json"));
        assert!(!git("**/config.json", "config.json"));
        assert!(git("a?c", "a/c"));
        assert!(!git("overlays/*.json", "base/x.json"));
    }

    #[test]
    fn git_mode_literal_prefixes() {
        assert!(git("overlays", "overlays/a/b.yaml"));
        assert!(git("overlays/", "overlays/a/b.yaml"));
        assert!(git("overlays/a/b.yaml", "overlays/a/b.yaml"));
        assert!(!git("overlays", "overlays-old/a.yaml"));
        assert!(git("", "anything"));
        assert!(git(".", "anything"));
        assert_eq!(
            Pattern::new("overlays/**/config.json", GlobMode::Git)
                .unwrap()
                .base_dir(),
            "overlays"
        );
        assert_eq!(
            Pattern::new("a/b/c", GlobMode::Git).unwrap().base_dir(),
            "a/b/c"
        );
        assert_eq!(
            Pattern::new("a/b*/c", GlobMode::Git).unwrap().base_dir(),
            "a"
        );
        assert_eq!(Pattern::new("**/x", GlobMode::Git).unwrap().base_dir(), "");
    }

    #[test]
    fn classes_and_escapes() {
        assert!(git("v[0-9].yaml", "v7.yaml"));
        assert!(!git("v[!0-9].yaml", "v7.yaml"));
        assert!(git("v[^0-9].yaml", "vx.yaml"));
        assert!(git("[]]x", "]x"));
        assert!(git("a[[:digit:]]b", "a5b"));
        assert!(git(r"a\*b", "a*b"));
        assert!(!git(r"a\*b", "axb"));
        assert!(ds("v[0-9].yaml", "v7.yaml"));
        assert!(!ds("a[/]b", "a/b"));
    }

    #[test]
    fn doublestar_mode() {
        assert!(ds("overlays/**/config.json", "overlays/config.json"));
        assert!(ds("overlays/**/config.json", "overlays/a/b/config.json"));
        assert!(ds("**/config.json", "config.json"));
        assert!(ds("**", "a/b/c"));
        assert!(ds("a/**", "a/b/c"));
        assert!(!ds("a/**/c", "a/b/d"));
        assert!(ds("overlays/*/config.json", "overlays/a/config.json"));
        assert!(!ds("overlays/*/config.json", "overlays/a/b/config.json"));
        assert!(!ds("*.yaml", "a/b.yaml"));
        assert!(ds("*.{yaml,yml}", "x.yml"));
        assert!(ds(
            "{base,overlays/*}/kustomization.yaml",
            "overlays/prod/kustomization.yaml"
        ));
        assert!(!ds(
            "{base,overlays/*}/kustomization.yaml",
            "other/kustomization.yaml"
        ));
        assert!(ds("a/**/**/b", "a/b"));
        assert_eq!(
            Pattern::new("{base,overlays/*}/k.yaml", GlobMode::Doublestar)
                .unwrap()
                .base_dir(),
            ""
        );
        assert_eq!(
            Pattern::new("apps/{a,b}/*.yaml", GlobMode::Doublestar)
                .unwrap()
                .base_dir(),
            "apps"
        );
    }

    #[test]
    fn invalid_patterns() {
        for p in ["/etc/*", "../x", "a/../../b", "a[b", "a\\", "{a,b"] {
            let mode = if p.starts_with('{') {
                GlobMode::Doublestar
            } else {
                GlobMode::Git
            };
            assert!(Pattern::new(p, mode).is_err(), "{p:?}");
        }
        let many = "{a,b}".repeat(10);
        assert!(Pattern::new(&many, GlobMode::Doublestar).is_err());
    }

    #[test]
    fn pathological_patterns_are_fast() {
        let p = "*a".repeat(30);
        let text = "a".repeat(29) + "b";
        let start = std::time::Instant::now();
        assert!(!git(&p, &text));
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
    }
}
