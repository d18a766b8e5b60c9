//! Semantic versions and constraints as `github.com/Masterminds/semver/v3`
//! (the library behind Sprig's `semver` and `semverCompare`) reads them:
//! lenient versions (`v1.2`, `1`), and constraints with `||`, `,`, ranges
//! (`1.2 - 1.4`), wildcards, `~` and `^`.

use std::sync::OnceLock;

use regex::Regex;

/// A parsed version (`*semver.Version`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    /// Major number.
    pub major: u64,
    /// Minor number.
    pub minor: u64,
    /// Patch number.
    pub patch: u64,
    /// Prerelease part (after `-`).
    pub pre: String,
    /// Build metadata (after `+`).
    pub metadata: String,
    /// The text it was parsed from.
    pub original: String,
}

const SEMVER_RE: &str = r"v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
const CV_RE: &str = r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
const OPS: &str = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^";

struct Res {
    version: Regex,
    constraint: Regex,
    range: Regex,
    find: Regex,
    valid: Regex,
}

fn res() -> &'static Res {
    static R: OnceLock<Res> = OnceLock::new();
    R.get_or_init(|| Res {
        version: Regex::new(&format!("^{}$", SEMVER_RE)).expect("static regex"),
        constraint: Regex::new(&format!(r"^\s*({})\s*({})\s*$", OPS, CV_RE)).expect("static regex"),
        range: Regex::new(&format!(r"\s*({})\s+-\s+({})\s*", CV_RE, CV_RE)).expect("static regex"),
        find: Regex::new(&format!(r"({})\s*({})", OPS, CV_RE)).expect("static regex"),
        valid: Regex::new(&format!(
            r"^(\s*({})\s*({})\s*)((?:\s+|,\s*)({})\s*({})\s*)*$",
            OPS, CV_RE, OPS, CV_RE
        ))
        .expect("static regex"),
    })
}

const NUM: &str = "0123456789";
const ALLOWED: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789";

fn contains_only(s: &str, comp: &str) -> bool {
    s.chars().all(|c| comp.contains(c))
}

impl Version {
    /// `semver.NewVersion`.
    pub fn parse(v: &str) -> Result<Version, String> {
        let caps = res()
            .version
            .captures(v)
            .ok_or_else(|| "Invalid Semantic Version".to_string())?;
        let g = |i: usize| caps.get(i).map(|m| m.as_str()).unwrap_or("");
        let seg = |s: &str| -> Result<u64, String> {
            s.trim_start_matches('.').parse::<u64>().map_err(|_| {
                format!(
                    "Error parsing version segment: strconv.ParseUint: parsing {}: value out of range",
                    crate::gofmt::quote(s.trim_start_matches('.'))
                )
            })
        };
        let major = seg(g(1))?;
        let minor = if g(2).is_empty() { 0 } else { seg(g(2))? };
        let patch = if g(3).is_empty() { 0 } else { seg(g(3))? };
        let pre = g(5).to_string();
        let metadata = g(8).to_string();
        if !pre.is_empty() {
            for p in pre.split('.') {
                if contains_only(p, NUM) {
                    if p.len() > 1 && p.starts_with('0') {
                        return Err("Version segment starts with 0".into());
                    }
                } else if !contains_only(p, ALLOWED) {
                    return Err("Invalid Prerelease string".into());
                }
            }
        }
        if !metadata.is_empty() {
            for p in metadata.split('.') {
                if !contains_only(p, ALLOWED) {
                    return Err("Invalid Metadata string".into());
                }
            }
        }
        Ok(Version {
            major,
            minor,
            patch,
            pre,
            metadata,
            original: v.to_string(),
        })
    }

    /// Compares two versions (-1, 0, 1), ignoring metadata.
    pub fn compare(&self, o: &Version) -> i32 {
        for (a, b) in [
            (self.major, o.major),
            (self.minor, o.minor),
            (self.patch, o.patch),
        ] {
            if a != b {
                return if a < b { -1 } else { 1 };
            }
        }
        if self.pre.is_empty() && o.pre.is_empty() {
            return 0;
        }
        if self.pre.is_empty() {
            return 1;
        }
        if o.pre.is_empty() {
            return -1;
        }
        compare_prerelease(&self.pre, &o.pre)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre)?;
        }
        if !self.metadata.is_empty() {
            write!(f, "+{}", self.metadata)?;
        }
        Ok(())
    }
}

fn compare_prerelease(v: &str, o: &str) -> i32 {
    let s: Vec<&str> = v.split('.').collect();
    let op: Vec<&str> = o.split('.').collect();
    for i in 0..s.len().max(op.len()) {
        let a = s.get(i).copied().unwrap_or("");
        let b = op.get(i).copied().unwrap_or("");
        let d = compare_pre_part(a, b);
        if d != 0 {
            return d;
        }
    }
    0
}

fn compare_pre_part(s: &str, o: &str) -> i32 {
    if s == o {
        return 0;
    }
    if s.is_empty() {
        return -1;
    }
    if o.is_empty() {
        return 1;
    }
    let oi = o.parse::<u64>();
    let si = s.parse::<u64>();
    match (si, oi) {
        (Err(_), Err(_)) => {
            if s > o {
                1
            } else {
                -1
            }
        }
        (_, Err(_)) => -1,
        (Err(_), _) => 1,
        (Ok(a), Ok(b)) => {
            if a > b {
                1
            } else {
                -1
            }
        }
    }
}

struct Constraint {
    con: Version,
    func: String,
    minor_dirty: bool,
    dirty: bool,
    patch_dirty: bool,
}

fn is_x(s: &str) -> bool {
    matches!(s, "x" | "*" | "X")
}

fn parse_constraint(c: &str) -> Result<Constraint, String> {
    if c.is_empty() {
        return Ok(Constraint {
            con: Version::parse("0.0.0")?,
            func: String::new(),
            minor_dirty: false,
            dirty: true,
            patch_dirty: false,
        });
    }
    let m = res()
        .constraint
        .captures(c)
        .ok_or_else(|| format!("improper constraint: {}", c))?;
    let g = |i: usize| m.get(i).map(|x| x.as_str()).unwrap_or("");
    let mut ver = g(2).to_string();
    let (mut minor_dirty, mut patch_dirty, mut dirty) = (false, false, false);
    if is_x(g(3)) || g(3).is_empty() {
        ver = format!("0.0.0{}", g(6));
        dirty = true;
    } else if is_x(g(4).trim_start_matches('.')) || g(4).is_empty() {
        minor_dirty = true;
        dirty = true;
        ver = format!("{}.0.0{}", g(3), g(6));
    } else if is_x(g(5).trim_start_matches('.')) || g(5).is_empty() {
        dirty = true;
        patch_dirty = true;
        ver = format!("{}{}.0{}", g(3), g(4), g(6));
    }
    let con = Version::parse(&ver).map_err(|_| "constraint Parser Error".to_string())?;
    Ok(Constraint {
        con,
        func: g(1).to_string(),
        minor_dirty,
        dirty,
        patch_dirty,
    })
}

fn rewrite_range(i: &str) -> String {
    let mut o = i.to_string();
    for caps in res().range.captures_iter(i) {
        let whole = caps.get(0).map(|m| m.as_str()).unwrap_or("");
        let a = caps.get(1).map(|m| m.as_str()).unwrap_or("");
        let b = caps.get(11).map(|m| m.as_str()).unwrap_or("");
        let t = format!(">= {}, <= {} ", a, b);
        o = o.replacen(whole, &t, 1);
    }
    o
}

/// `semverCompare constraint version`.
pub fn check_constraint(constraint: &str, version: &Version) -> Result<bool, String> {
    let c = rewrite_range(constraint);
    let mut ors = Vec::new();
    for v in c.split("||") {
        if !res().valid.is_match(v) {
            return Err(format!("improper constraint: {}", v));
        }
        let mut cs: Vec<&str> = res().find.find_iter(v).map(|m| m.as_str()).collect();
        if cs.is_empty() {
            cs.push(v);
        }
        let mut and = Vec::new();
        for s in cs {
            and.push(parse_constraint(s)?);
        }
        ors.push(and);
    }
    Ok(ors.iter().any(|and| and.iter().all(|c| check(version, c))))
}

fn check(v: &Version, c: &Constraint) -> bool {
    let pre_block = !v.pre.is_empty() && c.con.pre.is_empty();
    match c.func.as_str() {
        "" | "=" => {
            if pre_block {
                return false;
            }
            if c.dirty {
                return tilde(v, c);
            }
            v.compare(&c.con) == 0
        }
        "!=" => {
            if c.dirty {
                if pre_block {
                    return false;
                }
                if c.con.major != v.major {
                    return true;
                }
                if c.con.minor != v.minor && !c.minor_dirty {
                    return true;
                } else if c.minor_dirty {
                    return false;
                } else if c.con.patch != v.patch && !c.patch_dirty {
                    return true;
                } else if c.patch_dirty {
                    if !v.pre.is_empty() || !c.con.pre.is_empty() {
                        return compare_prerelease(&v.pre, &c.con.pre) != 0;
                    }
                    return false;
                }
            }
            v.compare(&c.con) != 0
        }
        ">" => {
            if pre_block {
                return false;
            }
            if !c.dirty {
                return v.compare(&c.con) == 1;
            }
            if v.major > c.con.major {
                true
            } else if v.major < c.con.major || c.minor_dirty {
                false
            } else if c.patch_dirty {
                v.minor > c.con.minor
            } else {
                v.compare(&c.con) == 1
            }
        }
        "<" => !pre_block && v.compare(&c.con) < 0,
        ">=" | "=>" => !pre_block && v.compare(&c.con) >= 0,
        "<=" | "=<" => {
            if pre_block {
                return false;
            }
            if !c.dirty {
                return v.compare(&c.con) <= 0;
            }
            !(v.major > c.con.major
                || (v.major == c.con.major && v.minor > c.con.minor && !c.minor_dirty))
        }
        "~" | "~>" => !pre_block && tilde(v, c),
        "^" => {
            if pre_block || v.compare(&c.con) < 0 {
                return false;
            }
            if c.con.major > 0 || c.minor_dirty {
                return v.major == c.con.major;
            }
            if c.con.major == 0 && v.major > 0 {
                return false;
            }
            if c.con.minor > 0 || c.patch_dirty {
                return v.minor == c.con.minor;
            }
            if c.con.minor == 0 && v.minor > 0 {
                return false;
            }
            c.con.patch == v.patch
        }
        _ => false,
    }
}

fn tilde(v: &Version, c: &Constraint) -> bool {
    if !v.pre.is_empty() && c.con.pre.is_empty() {
        return false;
    }
    if v.compare(&c.con) < 0 {
        return false;
    }
    if c.con.major == 0 && c.con.minor == 0 && c.con.patch == 0 && !c.minor_dirty && !c.patch_dirty
    {
        return true;
    }
    if v.major != c.con.major {
        return false;
    }
    if v.minor != c.con.minor && !c.minor_dirty {
        return false;
    }
    true
}
