//! Patch and replacement targets: kind/name regular expressions and
//! Kubernetes label selectors.

use regex::Regex;

use super::resource::{Gvk, Resource};
use super::types::Selector;

/// One label-selector requirement.
#[derive(Debug, Clone, PartialEq)]
enum Req {
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Gt(String, i64),
    Lt(String, i64),
}

/// A parsed Kubernetes label selector (`a=b,c!=d,e in (f,g),!h`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LabelSelector {
    reqs: Vec<Req>,
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')
}

impl LabelSelector {
    /// Parses a selector; empty selects everything.
    pub fn parse(s: &str) -> Result<LabelSelector, String> {
        let mut reqs = Vec::new();
        let chars: Vec<char> = s.chars().collect();
        let mut i = 0;
        let skip_ws = |i: &mut usize| {
            while *i < chars.len() && chars[*i].is_whitespace() {
                *i += 1;
            }
        };
        let word = |i: &mut usize| -> String {
            let start = *i;
            while *i < chars.len() && is_key_char(chars[*i]) {
                *i += 1;
            }
            chars[start..*i].iter().collect()
        };
        loop {
            skip_ws(&mut i);
            if i >= chars.len() {
                break;
            }
            let negated = chars[i] == '!';
            if negated {
                i += 1;
                skip_ws(&mut i);
            }
            let key = word(&mut i);
            if key.is_empty() {
                return Err(format!(
                    "invalid label selector {s:?}: expected a key at position {i}"
                ));
            }
            skip_ws(&mut i);
            if negated {
                reqs.push(Req::NotExists(key));
            } else if i >= chars.len() || chars[i] == ',' {
                reqs.push(Req::Exists(key));
            } else if chars[i] == '=' || chars[i] == '!' {
                let not = chars[i] == '!';
                i += 1;
                if i < chars.len() && chars[i] == '=' {
                    i += 1;
                } else if not {
                    return Err(format!("invalid label selector {s:?}: expected != "));
                }
                skip_ws(&mut i);
                let v = word(&mut i);
                reqs.push(if not {
                    Req::NotIn(key, vec![v])
                } else {
                    Req::In(key, vec![v])
                });
            } else if chars[i] == '>' || chars[i] == '<' {
                let gt = chars[i] == '>';
                i += 1;
                skip_ws(&mut i);
                let v = word(&mut i);
                let n: i64 = v.parse().map_err(|_| {
                    format!("invalid label selector {s:?}: {v:?} is not an integer")
                })?;
                reqs.push(if gt { Req::Gt(key, n) } else { Req::Lt(key, n) });
            } else {
                let op = word(&mut i);
                skip_ws(&mut i);
                if (op != "in" && op != "notin") || i >= chars.len() || chars[i] != '(' {
                    return Err(format!("invalid label selector {s:?}: unexpected {op:?}"));
                }
                i += 1;
                let mut vals = Vec::new();
                loop {
                    skip_ws(&mut i);
                    vals.push(word(&mut i));
                    skip_ws(&mut i);
                    if i < chars.len() && chars[i] == ',' {
                        i += 1;
                        continue;
                    }
                    if i < chars.len() && chars[i] == ')' {
                        i += 1;
                        break;
                    }
                    return Err(format!(
                        "invalid label selector {s:?}: unterminated value set"
                    ));
                }
                reqs.push(if op == "in" {
                    Req::In(key, vals)
                } else {
                    Req::NotIn(key, vals)
                });
            }
            skip_ws(&mut i);
            if i < chars.len() {
                if chars[i] != ',' {
                    return Err(format!(
                        "invalid label selector {s:?}: expected ',' at position {i}"
                    ));
                }
                i += 1;
            }
        }
        Ok(LabelSelector { reqs })
    }

    /// Whether a set of labels matches.
    pub fn matches(&self, labels: &[(String, String)]) -> bool {
        let get = |k: &str| {
            labels
                .iter()
                .find(|(lk, _)| lk == k)
                .map(|(_, v)| v.as_str())
        };
        self.reqs.iter().all(|r| match r {
            Req::Exists(k) => get(k).is_some(),
            Req::NotExists(k) => get(k).is_none(),
            Req::In(k, vs) => get(k).is_some_and(|v| vs.iter().any(|x| x == v)),
            Req::NotIn(k, vs) => get(k).is_none_or(|v| !vs.iter().any(|x| x == v)),
            Req::Gt(k, n) => get(k)
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|v| v > *n),
            Req::Lt(k, n) => get(k)
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|v| v < *n),
        })
    }
}

fn anchored(p: &str) -> Result<Option<Regex>, String> {
    if p.is_empty() {
        return Ok(None);
    }
    Regex::new(&format!("^(?:{p})$"))
        .map(Some)
        .map_err(|e| format!("invalid regular expression {p:?}: {e}"))
}

/// A compiled patch target (kustomize's `SelectorRegex` plus label and
/// annotation selectors).
#[derive(Debug)]
pub struct CompiledSelector {
    group: Option<Regex>,
    version: Option<Regex>,
    kind: Option<Regex>,
    name: Option<Regex>,
    namespace: Option<Regex>,
    labels: LabelSelector,
    annotations: LabelSelector,
}

fn is_match(r: &Option<Regex>, s: &str) -> bool {
    r.as_ref().is_none_or(|r| r.is_match(s))
}

impl CompiledSelector {
    /// Compiles a selector.
    pub fn new(s: &Selector) -> Result<CompiledSelector, String> {
        Ok(CompiledSelector {
            group: anchored(&s.group)?,
            version: anchored(&s.version)?,
            kind: anchored(&s.kind)?,
            name: anchored(&s.name)?,
            namespace: anchored(&s.namespace)?,
            labels: LabelSelector::parse(&s.label_selector)?,
            annotations: LabelSelector::parse(&s.annotation_selector)?,
        })
    }

    /// Group, version and kind.
    pub fn matches_gvk(&self, g: &Gvk) -> bool {
        is_match(&self.group, &g.group)
            && is_match(&self.version, &g.version)
            && is_match(&self.kind, &g.kind)
    }

    /// kustomize's `resWrangler.Select` test for one resource: original or
    /// current namespace and name, current kind, labels and annotations.
    pub fn selects(&self, r: &Resource) -> bool {
        let cur = r.cur_id();
        let org = r.org_id();
        if !(is_match(&self.namespace, org.effective_namespace())
            || is_match(&self.namespace, cur.effective_namespace()))
        {
            return false;
        }
        if !(is_match(&self.name, &org.name) || is_match(&self.name, &cur.name)) {
            return false;
        }
        if !self.matches_gvk(&r.gvk()) {
            return false;
        }
        self.labels.matches(&r.string_map("labels"))
            && self.annotations.matches(&r.string_map("annotations"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_selectors() {
        let l = vec![
            ("app".to_string(), "web".to_string()),
            ("tier".to_string(), "1".to_string()),
        ];
        for (s, want) in [
            ("", true),
            ("app=web", true),
            ("app==web,tier", true),
            ("app!=web", false),
            ("app in (a, web)", true),
            ("app notin (web)", false),
            ("!env", true),
            ("tier>0", true),
            ("env", false),
        ] {
            assert_eq!(LabelSelector::parse(s).unwrap().matches(&l), want, "{s}");
        }
        assert!(LabelSelector::parse("app in (a").is_err());
    }
}
