//! Semver constraints with the syntax and semantics Argo CD accepts for
//! `targetRevision` (those of the Go library Masterminds/semver v3), evaluated
//! over [`semver::Version`]s.
//!
//! - `||` separates alternatives; within one, comparators are separated by
//!   spaces or commas and must all hold.
//! - Operators: `=`, `!=`, `>`, `<`, `>=`/`=>`, `<=`/`=<`, `~`/`~>`, `^`, or none.
//! - Wildcards `x`, `X`, `*` and missing parts (`1.2` = `1.2.x`).
//! - Hyphen ranges: `1.2 - 1.4.5` means `>= 1.2, <= 1.4.5`.
//! - A prerelease version only matches an alternative that mentions a prerelease.
//! - Versions may carry a `v` prefix and omit minor or patch (`v1.2` = `1.2.0`).

use std::cmp::Ordering;

use semver::{BuildMetadata, Prerelease, Version};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    TildeOrEqual,
    NotEqual,
    Greater,
    Less,
    GreaterEqual,
    LessEqual,
    Tilde,
    Caret,
}

#[derive(Debug, Clone)]
struct Comparator {
    op: Op,
    version: Version,
    dirty: bool,
    minor_dirty: bool,
    patch_dirty: bool,
}

/// A parsed constraint such as `>=1.0.0 <2.0.0`, `~1.2`, `1.2.*` or `^0.3 || 2.x`.
///
/// ```
/// use flotilla_git::{parse_tag_version, Constraint};
///
/// let c = Constraint::parse("1.2.*").unwrap();
/// assert!(c.matches(&parse_tag_version("v1.2.9").unwrap()));
/// assert!(!c.matches(&parse_tag_version("v1.3.0").unwrap()));
/// assert!(Constraint::parse("main").is_none());
/// ```
#[derive(Debug, Clone)]
pub struct Constraint {
    groups: Vec<Vec<Comparator>>,
    group_has_prerelease: Vec<bool>,
}

fn is_x(s: &str) -> bool {
    matches!(s, "x" | "X" | "*")
}

/// Loose version parsing as Masterminds `NewVersion` does: optional `v`,
/// one to three numeric parts, optional `-prerelease` and `+metadata`.
///
/// ```
/// use flotilla_git::parse_tag_version;
/// assert_eq!(parse_tag_version("v1.2").unwrap().to_string(), "1.2.0");
/// assert!(parse_tag_version("release-1").is_none());
/// ```
pub fn parse_tag_version(s: &str) -> Option<Version> {
    let s = s.strip_prefix('v').unwrap_or(s);
    let (rest, build) = match s.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (s, None),
    };
    let (nums, pre) = match rest.split_once('-') {
        Some((n, p)) => (n, Some(p)),
        None => (rest, None),
    };
    let parts: Vec<&str> = nums.split('.').collect();
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    let mut n = [0u64; 3];
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        n[i] = p.parse().ok()?;
    }
    let mut v = Version::new(n[0], n[1], n[2]);
    if let Some(pre) = pre {
        v.pre = Prerelease::new(pre).ok()?;
        if v.pre.is_empty() {
            return None;
        }
    }
    if let Some(build) = build {
        v.build = BuildMetadata::new(build).ok()?;
        if v.build.is_empty() {
            return None;
        }
    }
    Some(v)
}

fn cmp(a: &Version, b: &Version) -> Ordering {
    a.cmp_precedence(b)
}

struct Scanner<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    fn skip_ws(&mut self) -> usize {
        let start = self.i;
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
        self.i - start
    }

    fn eat(&mut self, lit: &str) -> bool {
        if self.s[self.i..].starts_with(lit.as_bytes()) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }

    fn op(&mut self) -> Op {
        for (lit, op) in [
            ("!=", Op::NotEqual),
            (">=", Op::GreaterEqual),
            ("=>", Op::GreaterEqual),
            ("<=", Op::LessEqual),
            ("=<", Op::LessEqual),
            ("~>", Op::Tilde),
            (">", Op::Greater),
            ("<", Op::Less),
            ("=", Op::TildeOrEqual),
            ("~", Op::Tilde),
            ("^", Op::Caret),
        ] {
            if self.eat(lit) {
                return op;
            }
        }
        Op::TildeOrEqual
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.i;
        while self.i < self.s.len() && f(self.s[self.i]) {
            self.i += 1;
        }
        std::str::from_utf8(&self.s[start..self.i]).unwrap_or("")
    }

    /// `v?(part)(.part)?(.part)?(-pre)?(+meta)?` where part is digits or x/X/*.
    fn version(&mut self) -> Option<(Vec<&'a str>, Option<&'a str>, Option<&'a str>)> {
        let _ = self.eat("v");
        let part = |b: u8| b.is_ascii_digit() || b == b'x' || b == b'X' || b == b'*';
        let mut parts = vec![self.take_while(part)];
        if parts[0].is_empty() {
            return None;
        }
        while parts.len() < 3 && self.i < self.s.len() && self.s[self.i] == b'.' {
            let save = self.i;
            self.i += 1;
            let p = self.take_while(part);
            if p.is_empty() {
                self.i = save;
                break;
            }
            parts.push(p);
        }
        let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'.';
        let pre = if self.i < self.s.len() && self.s[self.i] == b'-' {
            self.i += 1;
            let p = self.take_while(ident);
            if p.is_empty() || p.starts_with('.') || p.ends_with('.') || p.contains("..") {
                return None;
            }
            Some(p)
        } else {
            None
        };
        let build = if self.i < self.s.len() && self.s[self.i] == b'+' {
            self.i += 1;
            let b = self.take_while(ident);
            if b.is_empty() || b.starts_with('.') || b.ends_with('.') || b.contains("..") {
                return None;
            }
            Some(b)
        } else {
            None
        };
        Some((parts, pre, build))
    }
}

fn comparator(
    op: Op,
    parts: &[&str],
    pre: Option<&str>,
    build: Option<&str>,
) -> Option<Comparator> {
    let mut dirty = false;
    let mut minor_dirty = false;
    let mut patch_dirty = false;
    let num = |s: &str| s.parse::<u64>().ok();
    let (major, minor, patch) = if is_x(parts[0]) {
        dirty = true;
        (0, 0, 0)
    } else if parts.len() < 2 || is_x(parts[1]) {
        dirty = true;
        minor_dirty = true;
        (num(parts[0])?, 0, 0)
    } else if parts.len() < 3 || is_x(parts[2]) {
        dirty = true;
        patch_dirty = true;
        (num(parts[0])?, num(parts[1])?, 0)
    } else {
        (num(parts[0])?, num(parts[1])?, num(parts[2])?)
    };
    let mut version = Version::new(major, minor, patch);
    if let Some(pre) = pre {
        version.pre = Prerelease::new(pre).ok()?;
    }
    if !dirty {
        if let Some(build) = build {
            version.build = BuildMetadata::new(build).ok()?;
        }
    }
    Some(Comparator {
        op,
        version,
        dirty,
        minor_dirty,
        patch_dirty,
    })
}

/// Rewrite `A - B` hyphen ranges into `>= A, <= B`.
fn rewrite_ranges(s: &str) -> String {
    let mut out = String::new();
    let tokens: Vec<&str> = s.split_whitespace().collect();
    let mut i = 0;
    // Only rewrite when the input really has " - " between two versions.
    if !s.contains(" -") {
        return s.to_string();
    }
    while i < tokens.len() {
        if i + 2 < tokens.len()
            && tokens[i + 1] == "-"
            && looks_like_version(tokens[i])
            && looks_like_version(tokens[i + 2])
        {
            out.push_str(&format!(">= {}, <= {} ", tokens[i], tokens[i + 2]));
            i += 3;
        } else {
            out.push_str(tokens[i]);
            out.push(' ');
            i += 1;
        }
    }
    out
}

fn looks_like_version(t: &str) -> bool {
    let t = t.strip_prefix('v').unwrap_or(t);
    t.chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || matches!(c, 'x' | 'X' | '*'))
}

impl Constraint {
    /// Parse a constraint; `None` when `s` is not one (a branch name, `HEAD`, ...).
    pub fn parse(s: &str) -> Option<Self> {
        let rewritten = rewrite_ranges(s);
        let mut groups = Vec::new();
        let mut has_pre = Vec::new();
        for alt in rewritten.split("||") {
            let mut sc = Scanner {
                s: alt.as_bytes(),
                i: 0,
            };
            let mut group = Vec::new();
            sc.skip_ws();
            loop {
                let op = sc.op();
                sc.skip_ws();
                let (parts, pre, build) = sc.version()?;
                group.push(comparator(op, &parts, pre, build)?);
                let ws = sc.skip_ws();
                if sc.i >= sc.s.len() {
                    break;
                }
                if sc.eat(",") {
                    sc.skip_ws();
                } else if ws == 0 {
                    return None;
                }
                if sc.i >= sc.s.len() {
                    return None;
                }
            }
            has_pre.push(group.iter().any(|c| !c.version.pre.is_empty()));
            groups.push(group);
        }
        Some(Constraint {
            groups,
            group_has_prerelease: has_pre,
        })
    }

    /// Does `v` satisfy the constraint?
    pub fn matches(&self, v: &Version) -> bool {
        self.groups
            .iter()
            .zip(&self.group_has_prerelease)
            .any(|(group, &include_pre)| group.iter().all(|c| c.check(v, include_pre)))
    }
}

impl Comparator {
    fn check(&self, v: &Version, include_pre: bool) -> bool {
        if !v.pre.is_empty() && !include_pre {
            return false;
        }
        let c = &self.version;
        match self.op {
            Op::TildeOrEqual => {
                if self.dirty {
                    self.tilde(v)
                } else {
                    cmp(v, c) == Ordering::Equal
                }
            }
            Op::NotEqual => {
                if self.dirty {
                    if c.major != v.major {
                        return true;
                    }
                    if c.minor != v.minor && !self.minor_dirty {
                        return true;
                    } else if self.minor_dirty {
                        return false;
                    } else if c.patch != v.patch && !self.patch_dirty {
                        return true;
                    } else if self.patch_dirty {
                        if !v.pre.is_empty() || !c.pre.is_empty() {
                            return v.pre != c.pre;
                        }
                        return false;
                    }
                }
                cmp(v, c) != Ordering::Equal
            }
            Op::Greater => {
                if !self.dirty {
                    return cmp(v, c) == Ordering::Greater;
                }
                if v.major > c.major {
                    true
                } else if v.major < c.major || self.minor_dirty {
                    false
                } else if self.patch_dirty {
                    v.minor > c.minor
                } else {
                    cmp(v, c) == Ordering::Greater
                }
            }
            Op::Less => cmp(v, c) == Ordering::Less,
            Op::GreaterEqual => cmp(v, c) != Ordering::Less,
            Op::LessEqual => {
                if !self.dirty {
                    return cmp(v, c) != Ordering::Greater;
                }
                if v.major > c.major {
                    false
                } else {
                    !(v.major == c.major && v.minor > c.minor && !self.minor_dirty)
                }
            }
            Op::Tilde => self.tilde(v),
            Op::Caret => {
                if cmp(v, c) == Ordering::Less {
                    return false;
                }
                if c.major > 0 || self.minor_dirty {
                    return v.major == c.major;
                }
                if v.major > 0 {
                    return false;
                }
                if c.minor > 0 || self.patch_dirty {
                    return v.minor == c.minor;
                }
                if v.minor > 0 {
                    return false;
                }
                v.patch == c.patch
            }
        }
    }

    fn tilde(&self, v: &Version) -> bool {
        let c = &self.version;
        if cmp(v, c) == Ordering::Less {
            return false;
        }
        if c.major == 0 && c.minor == 0 && c.patch == 0 && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        if v.major != c.major {
            return false;
        }
        v.minor == c.minor || self.minor_dirty
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(c: &str, v: &str) -> bool {
        let c = Constraint::parse(c).unwrap_or_else(|| panic!("{c:?} should parse"));
        let v = parse_tag_version(v).unwrap_or_else(|| panic!("{v:?} should parse"));
        c.matches(&v)
    }

    #[test]
    fn versions() {
        assert_eq!(parse_tag_version("1").unwrap(), Version::new(1, 0, 0));
        assert_eq!(parse_tag_version("v1.2.3").unwrap(), Version::new(1, 2, 3));
        assert_eq!(
            parse_tag_version("1.2.3-rc.1").unwrap().pre.as_str(),
            "rc.1"
        );
        assert!(parse_tag_version("1.2.3.4").is_none());
        assert!(parse_tag_version("main").is_none());
        assert!(parse_tag_version("1.2.").is_none());
        assert!(parse_tag_version("1.2.3-").is_none());
        assert!(parse_tag_version("V1.2.3").is_none());
    }

    #[test]
    fn not_constraints() {
        for s in [
            "main",
            "HEAD",
            "feature/x",
            "deadbeef",
            "",
            "  ",
            "1.2.3 &&",
            ">=",
            "1.2.3,",
            "1.0.0abc",
            "release-1.0",
        ] {
            assert!(Constraint::parse(s).is_none(), "{s:?} should not parse");
        }
    }

    #[test]
    fn masterminds_table() {
        // (constraint, version, expected) cases following Masterminds/semver v3 semantics.
        let cases: &[(&str, &str, bool)] = &[
            ("1.2.3", "1.2.3", true),
            ("1.2.3", "1.2.4", false),
            ("=1.2.3", "v1.2.3", true),
            ("v1.2.3", "1.2.3", true),
            ("1.2.*", "1.2.0", true),
            ("1.2.*", "1.2.99", true),
            ("1.2.*", "1.3.0", false),
            ("1.2.x", "1.2.5", true),
            ("1.2", "1.2.5", true),
            ("1.2", "1.3.0", false),
            ("1", "1.9.9", true),
            ("1", "2.0.0", false),
            ("*", "0.0.1", true),
            ("*", "7.0.0", true),
            ("*", "7.0.0-beta", false),
            (">=1.0.0 <2.0.0", "1.5.0", true),
            (">=1.0.0 <2.0.0", "2.0.0", false),
            (">=1.0.0, <2.0.0", "0.9.0", false),
            (">= 1.0.0 , < 2.0.0", "1.0.0", true),
            ("> 1.2", "1.2.9", false),
            ("> 1.2", "1.3.0", true),
            ("> 1", "1.9.0", false),
            ("> 1", "2.0.0", true),
            ("<= 1.2", "1.2.9", true),
            ("<= 1.2", "1.3.0", false),
            ("=<1.2.3", "1.2.3", true),
            ("!=1.2.3", "1.2.4", true),
            ("!=1.2.3", "1.2.3", false),
            ("!=1.x", "1.5.0", false),
            ("!=1.x", "2.0.0", true),
            ("~1.2.3", "1.2.9", true),
            ("~1.2.3", "1.3.0", false),
            ("~1.2.3", "1.2.2", false),
            ("~1.2", "1.2.0", true),
            ("~1", "1.9.0", true),
            ("~1", "2.0.0", false),
            ("~>1.2", "1.2.7", true),
            ("~0.0.0", "5.0.0", true),
            ("^1.2.3", "1.9.0", true),
            ("^1.2.3", "2.0.0", false),
            ("^1.2.3", "1.2.2", false),
            ("^0.2.3", "0.2.9", true),
            ("^0.2.3", "0.3.0", false),
            ("^0.0.3", "0.0.3", true),
            ("^0.0.3", "0.0.4", false),
            ("^0.0", "0.0.9", true),
            ("^0.0", "0.1.0", false),
            ("^0", "0.9.0", true),
            ("^0", "1.0.0", false),
            ("1.2 - 1.4.5", "1.3.0", true),
            ("1.2 - 1.4.5", "1.4.5", true),
            ("1.2 - 1.4.5", "1.4.6", false),
            ("1.2 - 1.4.5", "1.1.9", false),
            ("1.x || >=3.0.0", "2.0.0", false),
            ("1.x || >=3.0.0", "3.1.0", true),
            ("1.x || >=3.0.0", "1.0.0", true),
            // Prereleases only match when the constraint mentions one.
            (">=1.0.0", "1.1.0-rc.1", false),
            (">=1.1.0-rc.0", "1.1.0-rc.1", true),
            (">=1.1.0-rc.0", "1.1.0", true),
            ("1.1.0-rc.1", "1.1.0-rc.1", true),
            // Build metadata is ignored for precedence.
            ("1.2.3", "1.2.3+build.5", true),
        ];
        for &(c, v, want) in cases {
            assert_eq!(check(c, v), want, "constraint {c:?} on {v:?}");
        }
    }
}
