//! `.Files`: Helm's `files` type (a `map[string][]byte` with `Get`,
//! `GetBytes`, `Glob`, `AsConfig`, `AsSecrets` and `Lines`), and the
//! `gobwas/glob` patterns `Glob` takes.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use flotilla_template::{ElemType, Function, GoMethods, Param, Value};

use crate::chart::ChartFile;

/// The raw files behind one `.Files` value.
#[derive(Debug)]
struct Files {
    data: BTreeMap<String, Arc<[u8]>>,
}

/// `.Files` for a chart's non-template files.
pub(crate) fn files_value(from: &[ChartFile]) -> Value {
    let data = from
        .iter()
        .map(|f| (f.name.clone(), Arc::<[u8]>::from(f.data.as_slice())))
        .collect();
    make(data)
}

fn make(data: BTreeMap<String, Arc<[u8]>>) -> Value {
    // The map's entries are what `range` and `index` see; Go would show
    // `[]byte`, we show the text (see the README's known differences).
    let entries = data
        .iter()
        .map(|(k, v)| (k.clone(), Value::str(String::from_utf8_lossy(v).as_ref())))
        .collect();
    Value::map_with_methods(entries, Arc::new(Files { data }))
}

fn text(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}

/// Helm's `toYAML`: `sigs.k8s.io/yaml` without the final newline.
fn to_yaml(m: BTreeMap<String, Value>) -> String {
    let v = Value::map(m);
    let y = flotilla_template::to_go_yaml(&v).unwrap_or_default();
    y.strip_suffix('\n').unwrap_or(&y).to_string()
}

fn base(name: &str) -> &str {
    let trimmed = name.trim_end_matches('/');
    if trimmed.is_empty() {
        return if name.is_empty() { "." } else { "/" };
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

impl GoMethods for Files {
    fn type_name(&self) -> Option<&'static str> {
        Some("engine.files")
    }

    fn method(&self, _recv: &Value, name: &str) -> Option<Function> {
        let data = self.data.clone();
        Some(match name {
            "Get" | "GetBytes" => Function::new(&[Param::String], move |_, a| {
                let key = a[0].as_str().unwrap_or("");
                Ok(Value::str(
                    data.get(key).map(|v| text(v)).unwrap_or_default(),
                ))
            }),
            "Glob" => Function::new(&[Param::String], move |_, a| {
                let pattern = a[0].as_str().unwrap_or("");
                let g = Glob::compile(pattern).unwrap_or_else(Glob::everything);
                let sub = data
                    .iter()
                    .filter(|(k, _)| g.matches(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                Ok(make(sub))
            }),
            "AsConfig" => Function::new(&[], move |_, _| {
                let m = data
                    .iter()
                    .map(|(k, v)| (base(k).to_string(), Value::str(text(v))))
                    .collect();
                Ok(Value::str(to_yaml(m)))
            }),
            "AsSecrets" => Function::new(&[], move |_, _| {
                let m = data
                    .iter()
                    .map(|(k, v)| {
                        let enc = base64::engine::general_purpose::STANDARD.encode(v);
                        (base(k).to_string(), Value::str(enc))
                    })
                    .collect();
                Ok(Value::str(to_yaml(m)))
            }),
            "Lines" => Function::new(&[Param::String], move |_, a| {
                let key = a[0].as_str().unwrap_or("");
                let Some(v) = data.get(key) else {
                    return Ok(Value::typed_list(ElemType::String, Vec::new()));
                };
                let mut s = text(v);
                if s.ends_with('\n') {
                    s.pop();
                }
                Ok(Value::string_list(
                    s.split('\n').map(str::to_string).collect(),
                ))
            }),
            _ => return None,
        })
    }
}

/// One element of a compiled glob.
#[derive(Clone, Debug)]
enum Tok {
    Lit(char),
    /// `*`: any run of characters but `/`.
    Star,
    /// `**`: any run of characters.
    SuperStar,
    /// `?`: one character but `/`.
    Any,
    /// `[...]` / `[!...]`.
    Class(bool, Vec<(char, char)>),
    /// `{a,b}`.
    Alt(Vec<Vec<Tok>>),
}

/// A `gobwas/glob` pattern compiled with `/` as the separator, as Helm's
/// `.Files.Glob` compiles it.
#[derive(Clone, Debug)]
pub(crate) struct Glob(Vec<Tok>);

impl Glob {
    /// Compiles `pattern`; `None` when it is malformed (Helm then matches
    /// everything).
    pub(crate) fn compile(pattern: &str) -> Option<Glob> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut pos = 0;
        let toks = parse_seq(&chars, &mut pos, false)?;
        if pos != chars.len() {
            return None;
        }
        Some(Glob(toks))
    }

    fn everything() -> Glob {
        Glob(vec![Tok::SuperStar])
    }

    /// Whether `name` matches.
    pub(crate) fn matches(&self, name: &str) -> bool {
        let s: Vec<char> = name.chars().collect();
        match_seq(&self.0, &s)
    }
}

fn parse_seq(c: &[char], pos: &mut usize, in_alt: bool) -> Option<Vec<Tok>> {
    let mut out = Vec::new();
    while *pos < c.len() {
        let ch = c[*pos];
        match ch {
            '*' => {
                if c.get(*pos + 1) == Some(&'*') {
                    out.push(Tok::SuperStar);
                    *pos += 2;
                } else {
                    out.push(Tok::Star);
                    *pos += 1;
                }
            }
            '?' => {
                out.push(Tok::Any);
                *pos += 1;
            }
            '\\' => {
                let next = *c.get(*pos + 1)?;
                out.push(Tok::Lit(next));
                *pos += 2;
            }
            '[' => {
                *pos += 1;
                let neg = c.get(*pos) == Some(&'!');
                if neg {
                    *pos += 1;
                }
                let mut ranges = Vec::new();
                loop {
                    let a = *c.get(*pos)?;
                    if a == ']' {
                        *pos += 1;
                        break;
                    }
                    if c.get(*pos + 1) == Some(&'-') && c.get(*pos + 2).is_some_and(|x| *x != ']') {
                        let b = c[*pos + 2];
                        if b < a {
                            return None;
                        }
                        ranges.push((a, b));
                        *pos += 3;
                    } else {
                        ranges.push((a, a));
                        *pos += 1;
                    }
                }
                if ranges.is_empty() {
                    return None;
                }
                out.push(Tok::Class(neg, ranges));
            }
            '{' => {
                *pos += 1;
                let mut alts = Vec::new();
                loop {
                    alts.push(parse_seq(c, pos, true)?);
                    match c.get(*pos) {
                        Some(',') => *pos += 1,
                        Some('}') => {
                            *pos += 1;
                            break;
                        }
                        _ => return None,
                    }
                }
                out.push(Tok::Alt(alts));
            }
            ',' | '}' if in_alt => return Some(out),
            _ => {
                out.push(Tok::Lit(ch));
                *pos += 1;
            }
        }
    }
    if in_alt {
        // An unterminated `{`.
        return None;
    }
    Some(out)
}

fn match_seq(p: &[Tok], s: &[char]) -> bool {
    let Some((first, rest)) = p.split_first() else {
        return s.is_empty();
    };
    match first {
        Tok::Lit(c) => s.first() == Some(c) && match_seq(rest, &s[1..]),
        Tok::Any => s.first().is_some_and(|c| *c != '/') && match_seq(rest, &s[1..]),
        Tok::Class(neg, ranges) => {
            let Some(c) = s.first() else { return false };
            let hit = ranges.iter().any(|(a, b)| a <= c && c <= b);
            hit != *neg && match_seq(rest, &s[1..])
        }
        Tok::Star => {
            for i in 0..=s.len() {
                if match_seq(rest, &s[i..]) {
                    return true;
                }
                if i < s.len() && s[i] == '/' {
                    return false;
                }
            }
            false
        }
        Tok::SuperStar => (0..=s.len()).any(|i| match_seq(rest, &s[i..])),
        Tok::Alt(alts) => alts.iter().any(|a| {
            let mut joined = a.clone();
            joined.extend_from_slice(rest);
            match_seq(&joined, s)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::Glob;

    fn m(p: &str, s: &str) -> bool {
        Glob::compile(p).expect("pattern").matches(s)
    }

    #[test]
    fn globs_as_gobwas_with_slash_separator() {
        assert!(m("files/*", "files/a.txt"));
        assert!(!m("files/*", "files/sub/a.txt"));
        assert!(m("files/**", "files/sub/a.txt"));
        assert!(m("**.yaml", "a/b/c.yaml"));
        assert!(m("files/?.txt", "files/a.txt"));
        assert!(m("files/{a,b}.txt", "files/b.txt"));
        assert!(!m("files/{a,b}.txt", "files/c.txt"));
        assert!(m("files/[a-c].txt", "files/b.txt"));
        assert!(m("files/[!a-c].txt", "files/d.txt"));
        assert!(Glob::compile("files/[").is_none());
    }
}
