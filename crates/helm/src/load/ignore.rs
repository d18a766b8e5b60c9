//! `.helmignore` rules, as Helm's `pkg/ignore` reads and applies them:
//! one shell glob per line (Go's `filepath.Match`), `#` comments, `!`
//! negation, a trailing `/` for directories only, a leading `/` anchoring
//! at the chart root, a pattern without `/` matching the base name; `**`
//! is refused.

/// The ignore file's name.
pub const HELM_IGNORE: &str = ".helmignore";

#[derive(Clone, Debug)]
struct Pattern {
    rule: String,
    negate: bool,
    must_dir: bool,
    kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Anchored,
    Structural,
    Base,
}

/// A parsed `.helmignore` plus Helm's default (`templates/.?*`).
#[derive(Clone, Debug, Default)]
pub struct Rules {
    patterns: Vec<Pattern>,
}

impl Rules {
    /// No rules.
    pub fn empty() -> Rules {
        Rules::default()
    }

    /// Parses `.helmignore` text; an error names the line.
    pub fn parse(text: &str) -> Result<Rules, String> {
        let mut r = Rules::empty();
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        for (i, line) in text.lines().enumerate() {
            r.add(line)
                .map_err(|e| format!("{HELM_IGNORE}:{}: {e}", i + 1))?;
        }
        Ok(r)
    }

    /// Adds Helm's default rule: dotfiles in `templates/` are ignored.
    pub fn add_defaults(&mut self) {
        let _ = self.add("templates/.?*");
    }

    fn add(&mut self, rule: &str) -> Result<(), String> {
        let rule = rule.trim();
        if rule.is_empty() || rule.starts_with('#') {
            return Ok(());
        }
        if rule.contains("**") {
            return Err("double-star (**) syntax is not supported".into());
        }
        if go_match(rule, "abc").is_err() {
            return Err("syntax error in pattern".into());
        }
        let mut rule = rule;
        let mut negate = false;
        if let Some(r) = rule.strip_prefix('!') {
            negate = true;
            rule = r;
        }
        let mut must_dir = false;
        if let Some(r) = rule.strip_suffix('/') {
            must_dir = true;
            rule = r;
        }
        let (kind, rule) = if let Some(r) = rule.strip_prefix('/') {
            (Kind::Anchored, r)
        } else if rule.contains('/') {
            (Kind::Structural, rule)
        } else {
            (Kind::Base, rule)
        };
        self.patterns.push(Pattern {
            rule: rule.to_string(),
            negate,
            must_dir,
            kind,
        });
        Ok(())
    }

    /// Whether `path` (relative to the chart root, `/`-separated) is
    /// ignored; the first matching rule decides, a negated rule that does
    /// not match ignores.
    pub fn ignore(&self, path: &str, is_dir: bool) -> bool {
        if path.is_empty() || path == "." || path == "./" {
            return false;
        }
        for p in &self.patterns {
            let target = match p.kind {
                Kind::Base => path.rsplit('/').next().unwrap_or(path),
                _ => path,
            };
            let matched = go_match(&p.rule, target).unwrap_or(false);
            if p.negate {
                if p.must_dir && !is_dir {
                    return true;
                }
                if !matched {
                    return true;
                }
                continue;
            }
            if p.must_dir && !is_dir {
                continue;
            }
            if matched {
                return true;
            }
        }
        false
    }
}

/// Go's `filepath.Match` on `/`-separated names: `*`, `?`, `[...]` (with
/// `^` negation and ranges) and `\` escapes; `*` and `?` never match `/`.
pub(crate) fn go_match(pattern: &str, name: &str) -> Result<bool, ()> {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let r = match_from(&p, &n)?;
    if !r {
        // Go still reports a bad pattern after a mismatch.
        check_pattern(&p)?;
    }
    Ok(r)
}

fn check_pattern(p: &[char]) -> Result<(), ()> {
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '\\' => {
                if i + 1 >= p.len() {
                    return Err(());
                }
                i += 2;
            }
            '[' => {
                let (_, next) = class(p, i, None)?;
                i = next;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

fn match_from(p: &[char], n: &[char]) -> Result<bool, ()> {
    if p.is_empty() {
        return Ok(n.is_empty());
    }
    match p[0] {
        '*' => {
            let rest = &p[1..];
            let mut j = 0;
            loop {
                if match_from(rest, &n[j..])? {
                    return Ok(true);
                }
                if j >= n.len() || n[j] == '/' {
                    return Ok(false);
                }
                j += 1;
            }
        }
        '?' => {
            if n.is_empty() || n[0] == '/' {
                check_pattern(&p[1..])?;
                return Ok(false);
            }
            match_from(&p[1..], &n[1..])
        }
        '[' => {
            let c = n.first().copied();
            let (ok, next) = class(p, 0, c)?;
            if c.is_none() || c == Some('/') || !ok {
                return Ok(false);
            }
            match_from(&p[next..], &n[1..])
        }
        '\\' => {
            if p.len() < 2 {
                return Err(());
            }
            if n.first() == Some(&p[1]) {
                match_from(&p[2..], &n[1..])
            } else {
                Ok(false)
            }
        }
        c => {
            if n.first() == Some(&c) {
                match_from(&p[1..], &n[1..])
            } else {
                Ok(false)
            }
        }
    }
}

/// Parses the class starting at `p[start] == '['`; whether `c` is in it and
/// the index after `]`.
fn class(p: &[char], start: usize, c: Option<char>) -> Result<(bool, usize), ()> {
    let mut i = start + 1;
    let mut negated = false;
    if i < p.len() && p[i] == '^' {
        negated = true;
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        if i >= p.len() {
            return Err(());
        }
        if p[i] == ']' && !first {
            i += 1;
            break;
        }
        first = false;
        let lo = read_class_char(p, &mut i)?;
        let mut hi = lo;
        if i < p.len() && p[i] == '-' {
            i += 1;
            hi = read_class_char(p, &mut i)?;
        }
        if let Some(c) = c {
            if lo <= c && c <= hi {
                matched = true;
            }
        }
    }
    Ok((matched != negated, i))
}

fn read_class_char(p: &[char], i: &mut usize) -> Result<char, ()> {
    if *i >= p.len() {
        return Err(());
    }
    let c = p[*i];
    if c == '-' || c == ']' {
        return Err(());
    }
    if c == '\\' {
        *i += 1;
        if *i >= p.len() {
            return Err(());
        }
    }
    let c = p[*i];
    *i += 1;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_go_does() {
        assert_eq!(go_match("*.txt", "a.txt"), Ok(true));
        assert_eq!(go_match("*.txt", "d/a.txt"), Ok(false));
        assert_eq!(go_match("a?c", "abc"), Ok(true));
        assert_eq!(go_match("[a-c]x", "bx"), Ok(true));
        assert_eq!(go_match("[^a-c]x", "bx"), Ok(false));
        assert_eq!(go_match(r"\*", "*"), Ok(true));
        assert!(go_match("[", "a").is_err());
    }

    #[test]
    fn rules_follow_helm() {
        let mut r = Rules::parse("# c\n*.bak\n/secret.txt\ndocs/\nignore/*.txt\n").unwrap();
        r.add_defaults();
        assert!(r.ignore("x/y.bak", false));
        assert!(r.ignore("secret.txt", false));
        assert!(!r.ignore("sub/secret.txt", false));
        assert!(r.ignore("docs", true));
        assert!(!r.ignore("docs", false));
        assert!(r.ignore("ignore/me.txt", false));
        assert!(r.ignore("templates/.hidden.yaml", false));
        assert!(!r.ignore("templates/ok.yaml", false));
        assert!(Rules::parse("a/**/b").is_err());
    }
}
