//! Vault ACL policies: parsed from HCL (or JSON) and evaluated as Vault
//! evaluates them — exact paths first, then the most specific of the
//! glob (`*` suffix) and segment-wildcard (`+`) paths, capabilities merged
//! across policies with `deny` winning.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::Value;

use crate::error::PolicyError;

/// A capability a policy grants on a path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// `create`
    Create,
    /// `read`
    Read,
    /// `update`
    Update,
    /// `patch`
    Patch,
    /// `delete`
    Delete,
    /// `list`
    List,
    /// `sudo`
    Sudo,
    /// `deny`: overrides everything else.
    Deny,
    /// Any other capability (e.g. `subscribe`), kept by name.
    Other(String),
}

impl Capability {
    /// The capability named `name` (as written in a policy).
    pub fn parse(name: &str) -> Capability {
        match name.trim().to_ascii_lowercase().as_str() {
            "create" => Capability::Create,
            "read" => Capability::Read,
            "update" => Capability::Update,
            "patch" => Capability::Patch,
            "delete" => Capability::Delete,
            "list" => Capability::List,
            "sudo" => Capability::Sudo,
            "deny" => Capability::Deny,
            other => Capability::Other(other.to_string()),
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Capability::Create => "create",
            Capability::Read => "read",
            Capability::Update => "update",
            Capability::Patch => "patch",
            Capability::Delete => "delete",
            Capability::List => "list",
            Capability::Sudo => "sudo",
            Capability::Deny => "deny",
            Capability::Other(name) => name,
        })
    }
}

/// One `path "..." { capabilities = [...] }` rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathRule {
    /// The path pattern as written (may end with `*`, may hold `+` segments).
    pub pattern: String,
    /// The capabilities it grants.
    pub capabilities: BTreeSet<Capability>,
}

/// A named ACL policy.
///
/// ```
/// use flotilla_vault::{Capability, Policy};
///
/// let policy = Policy::parse("gen-algo-api-policy", r#"
/// path "secret/data/api/env" {
///   capabilities = ["read"]
/// }
/// "#)?;
/// assert_eq!(policy.rules.len(), 1);
/// assert!(policy.rules[0].capabilities.contains(&Capability::Read));
/// # Ok::<(), flotilla_vault::PolicyError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// The policy's name.
    pub name: String,
    /// Its path rules, in order.
    pub rules: Vec<PathRule>,
}

/// The capabilities of the deprecated `policy = "..."` form.
fn legacy_capabilities(policy: &str) -> Option<Vec<Capability>> {
    use Capability::*;
    Some(match policy.trim() {
        "deny" => vec![Deny],
        "read" => vec![Read, List],
        "write" => vec![Create, Read, Update, Delete, List],
        "sudo" => vec![Create, Read, Update, Delete, List, Sudo],
        _ => return None,
    })
}

impl Policy {
    /// Parses a policy written in HCL or JSON, as `vault policy write` accepts it.
    pub fn parse(name: &str, text: &str) -> Result<Policy, PolicyError> {
        let err = |message: String| PolicyError {
            name: name.to_string(),
            message,
        };
        if text.trim_start().starts_with('{') {
            let value: Value = serde_json::from_str(text).map_err(|e| {
                err(format!(
                    "invalid JSON at line {}, column {}: {e}",
                    e.line(),
                    e.column()
                ))
            })?;
            return Self::from_json(name, &value);
        }
        let body = hcl::parse(text).map_err(|e| err(format!("invalid HCL: {e}")))?;
        let mut rules = Vec::new();
        for block in body.blocks() {
            if block.identifier() != "path" {
                continue;
            }
            let [label] = block.labels() else {
                return Err(err(
                    "a `path` block needs exactly one label, the path".into()
                ));
            };
            let pattern = label.as_str().to_string();
            let mut capabilities = BTreeSet::new();
            for attribute in block.body().attributes() {
                match attribute.key() {
                    "capabilities" => match attribute.expr() {
                        hcl::Expression::Array(items) => {
                            for item in items {
                                match item {
                                    hcl::Expression::String(s) => {
                                        capabilities.insert(Capability::parse(s));
                                    }
                                    _ => {
                                        return Err(err(format!(
                                            "path {pattern:?}: capabilities must be strings"
                                        )))
                                    }
                                }
                            }
                        }
                        _ => {
                            return Err(err(format!(
                                "path {pattern:?}: `capabilities` must be a list of strings"
                            )))
                        }
                    },
                    "policy" => match attribute.expr() {
                        hcl::Expression::String(s) => {
                            let caps = legacy_capabilities(s).ok_or_else(|| {
                                err(format!("path {pattern:?}: unknown policy {s:?}"))
                            })?;
                            capabilities.extend(caps);
                        }
                        _ => {
                            return Err(err(format!("path {pattern:?}: `policy` must be a string")))
                        }
                    },
                    // Parameter constraints, wrapping TTLs, MFA: they narrow a grant and
                    // do not change which paths can be read.
                    _ => {}
                }
            }
            rules.push(PathRule {
                pattern,
                capabilities,
            });
        }
        Ok(Policy {
            name: name.to_string(),
            rules,
        })
    }

    fn from_json(name: &str, value: &Value) -> Result<Policy, PolicyError> {
        let err = |message: String| PolicyError {
            name: name.to_string(),
            message,
        };
        let mut rules = Vec::new();
        let paths = match value.get("path") {
            None => {
                return Ok(Policy {
                    name: name.into(),
                    rules,
                })
            }
            Some(Value::Object(paths)) => paths,
            Some(_) => return Err(err("`path` must be an object".into())),
        };
        for (pattern, rule) in paths {
            let mut capabilities = BTreeSet::new();
            if let Some(caps) = rule.get("capabilities") {
                let caps = caps.as_array().ok_or_else(|| {
                    err(format!("path {pattern:?}: `capabilities` must be a list"))
                })?;
                for c in caps {
                    let c = c.as_str().ok_or_else(|| {
                        err(format!("path {pattern:?}: capabilities must be strings"))
                    })?;
                    capabilities.insert(Capability::parse(c));
                }
            }
            if let Some(p) = rule.get("policy").and_then(Value::as_str) {
                capabilities.extend(
                    legacy_capabilities(p)
                        .ok_or_else(|| err(format!("path {pattern:?}: unknown policy {p:?}")))?,
                );
            }
            rules.push(PathRule {
                pattern: pattern.clone(),
                capabilities,
            });
        }
        Ok(Policy {
            name: name.into(),
            rules,
        })
    }
}

/// Capabilities granted on one pattern, and by which policies.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Grant {
    capabilities: BTreeSet<Capability>,
    policies: BTreeSet<String>,
}

impl Grant {
    fn merge(&mut self, caps: &BTreeSet<Capability>, policy: &str) {
        if self.capabilities.contains(&Capability::Deny) {
            self.policies.insert(policy.to_string());
            return;
        }
        if caps.contains(&Capability::Deny) {
            self.capabilities = BTreeSet::from([Capability::Deny]);
        } else {
            self.capabilities.extend(caps.iter().cloned());
        }
        self.policies.insert(policy.to_string());
    }
}

/// What a set of policies allows on one path, and which rule decided it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decision {
    /// The capabilities (empty: nothing; `{deny}`: explicitly denied).
    pub capabilities: BTreeSet<Capability>,
    /// The pattern of the deciding rule, if any matched.
    pub pattern: Option<String>,
    /// The policies that contributed that rule.
    pub policies: Vec<String>,
}

impl Decision {
    /// True when `capability` is granted and not denied.
    pub fn allows(&self, capability: &Capability) -> bool {
        !self.capabilities.contains(&Capability::Deny) && self.capabilities.contains(capability)
    }
}

/// The merged rules of several policies, evaluated as Vault's ACL does.
///
/// ```
/// use flotilla_vault::{Acl, Capability, Policy};
///
/// let a = Policy::parse("a", r#"path "secret/data/*" { capabilities = ["read"] }"#)?;
/// let b = Policy::parse("b", r#"path "secret/data/+/admin" { capabilities = ["deny"] }"#)?;
/// let acl = Acl::new(&[a, b]);
/// assert!(acl.allows("secret/data/api/env", &Capability::Read));
/// assert!(!acl.allows("secret/data/team/admin", &Capability::Read));
/// assert!(!acl.allows("secret/metadata/api/env", &Capability::Read));
/// # Ok::<(), flotilla_vault::PolicyError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Acl {
    root: bool,
    exact: BTreeMap<String, Grant>,
    /// Glob rules without `+`, keyed by the prefix before `*`.
    prefix: BTreeMap<String, Grant>,
    /// Rules with `+` segments, keyed by the full pattern.
    segment: BTreeMap<String, Grant>,
}

struct Candidate<'a> {
    first_wildcard: usize,
    is_prefix: bool,
    wildcards: usize,
    path: &'a str,
    key: &'a str,
    grant: &'a Grant,
}

impl Acl {
    /// The ACL of `policies` together (the `root` policy allows everything).
    pub fn new(policies: &[Policy]) -> Acl {
        let mut acl = Acl::default();
        for policy in policies {
            if policy.name == "root" {
                acl.root = true;
            }
            for rule in &policy.rules {
                let pattern = rule.pattern.trim_start_matches('/');
                let table = if pattern.contains('+') {
                    &mut acl.segment
                } else if let Some(prefix) = pattern.strip_suffix('*') {
                    acl.prefix
                        .entry(prefix.to_string())
                        .or_default()
                        .merge(&rule.capabilities, &policy.name);
                    continue;
                } else {
                    &mut acl.exact
                };
                table
                    .entry(pattern.to_string())
                    .or_default()
                    .merge(&rule.capabilities, &policy.name);
            }
        }
        acl
    }

    /// An ACL that allows everything (the `root` policy).
    pub fn root() -> Acl {
        Acl {
            root: true,
            ..Acl::default()
        }
    }

    /// The decision for `path`.
    pub fn decide(&self, path: &str) -> Decision {
        let path = path.trim_start_matches('/');
        if self.root {
            return Decision {
                capabilities: [
                    Capability::Create,
                    Capability::Read,
                    Capability::Update,
                    Capability::Patch,
                    Capability::Delete,
                    Capability::List,
                    Capability::Sudo,
                ]
                .into(),
                pattern: Some("(root policy)".into()),
                policies: vec!["root".into()],
            };
        }
        let found = |key: &str, grant: &Grant| Decision {
            capabilities: grant.capabilities.clone(),
            pattern: Some(key.to_string()),
            policies: grant.policies.iter().cloned().collect(),
        };
        if let Some(grant) = self.exact.get(path) {
            return found(path, grant);
        }
        let mut candidates: Vec<Candidate<'_>> = Vec::new();
        // The longest matching glob prefix.
        if let Some((prefix, grant)) = self
            .prefix
            .iter()
            .filter(|(prefix, _)| path.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
        {
            candidates.push(Candidate {
                first_wildcard: prefix.len(),
                is_prefix: true,
                wildcards: 0,
                path: prefix,
                key: prefix,
                grant,
            });
        }
        let parts: Vec<&str> = path.split('/').collect();
        'patterns: for (full, grant) in &self.segment {
            let (pattern, is_prefix) = match full.strip_suffix('*') {
                Some(p) => (p, true),
                None => (full.as_str(), false),
            };
            let pattern_parts: Vec<&str> = pattern.split('/').collect();
            if parts.len() < pattern_parts.len()
                || (!is_prefix && parts.len() != pattern_parts.len())
            {
                continue;
            }
            let mut wildcards = 0;
            for (i, want) in pattern_parts.iter().enumerate() {
                let last = i + 1 == pattern_parts.len();
                if *want == "+" {
                    wildcards += 1;
                    continue;
                }
                let matches =
                    *want == parts[i] || (is_prefix && last && parts[i].starts_with(want));
                if !matches {
                    continue 'patterns;
                }
            }
            candidates.push(Candidate {
                first_wildcard: full.find('+').unwrap_or(full.len()),
                is_prefix,
                wildcards,
                path: pattern,
                key: full,
                grant,
            });
        }
        // Vault's priority: a later first wildcard, no trailing glob, fewer
        // `+`, a longer pattern, then the lexicographically larger one wins.
        candidates
            .into_iter()
            .max_by(|a, b| {
                a.first_wildcard
                    .cmp(&b.first_wildcard)
                    .then_with(|| b.is_prefix.cmp(&a.is_prefix))
                    .then_with(|| b.wildcards.cmp(&a.wildcards))
                    .then_with(|| a.path.len().cmp(&b.path.len()))
                    .then_with(|| a.path.cmp(b.path))
            })
            .map(|c| found(c.key, c.grant))
            .unwrap_or_default()
    }

    /// The capabilities on `path`.
    pub fn capabilities(&self, path: &str) -> BTreeSet<Capability> {
        self.decide(path).capabilities
    }

    /// True when `capability` is granted on `path`.
    pub fn allows(&self, path: &str, capability: &Capability) -> bool {
        self.decide(path).allows(capability)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(texts: &[(&str, &str)]) -> Acl {
        let policies: Vec<Policy> = texts
            .iter()
            .map(|(n, t)| Policy::parse(n, t).expect("policy parses"))
            .collect();
        Acl::new(&policies)
    }

    #[test]
    fn exact_beats_glob() {
        let acl = acl(&[(
            "p",
            r#"
            path "secret/*" { capabilities = ["read", "list"] }
            path "secret/data/locked" { capabilities = ["deny"] }
            "#,
        )]);
        assert!(acl.allows("secret/data/open", &Capability::Read));
        assert!(!acl.allows("secret/data/locked", &Capability::Read));
        assert_eq!(
            acl.decide("secret/data/locked").pattern.as_deref(),
            Some("secret/data/locked")
        );
    }

    #[test]
    fn longest_glob_wins() {
        let acl = acl(&[(
            "p",
            r#"
            path "secret/*" { capabilities = ["read"] }
            path "secret/data/team/*" { capabilities = ["list"] }
            "#,
        )]);
        assert!(!acl.allows("secret/data/team/x", &Capability::Read));
        assert!(acl.allows("secret/data/team/x", &Capability::List));
        assert!(acl.allows("secret/data/other", &Capability::Read));
    }

    #[test]
    fn plus_matches_one_segment() {
        let acl = acl(&[(
            "p",
            r#"path "secret/data/+/env" { capabilities = ["read"] }"#,
        )]);
        assert!(acl.allows("secret/data/api/env", &Capability::Read));
        assert!(!acl.allows("secret/data/a/b/env", &Capability::Read));
        assert!(!acl.allows("secret/data/api/env2", &Capability::Read));
    }

    #[test]
    fn plus_with_glob_suffix() {
        let acl = acl(&[("p", r#"path "secret/+/team-*" { capabilities = ["read"] }"#)]);
        assert!(acl.allows("secret/data/team-a/x", &Capability::Read));
        assert!(acl.allows("secret/data/team-b", &Capability::Read));
        assert!(!acl.allows("secret/data/other", &Capability::Read));
    }

    #[test]
    fn priority_between_glob_and_plus() {
        // The first wildcard comes later in "secret/data/api/*" (index 16)
        // than in "secret/+/api/env" (index 7): the glob wins.
        let acl = acl(&[(
            "p",
            r#"
            path "secret/+/api/env" { capabilities = ["deny"] }
            path "secret/data/api/*" { capabilities = ["read"] }
            "#,
        )]);
        assert!(acl.allows("secret/data/api/env", &Capability::Read));
    }

    #[test]
    fn policies_merge_and_deny_wins() {
        let acl = acl(&[
            ("a", r#"path "secret/data/x" { capabilities = ["read"] }"#),
            ("b", r#"path "secret/data/x" { capabilities = ["list"] }"#),
            ("c", r#"path "secret/data/y" { capabilities = ["read"] }"#),
            ("d", r#"path "secret/data/y" { capabilities = ["deny"] }"#),
        ]);
        let caps = acl.capabilities("secret/data/x");
        assert!(caps.contains(&Capability::Read) && caps.contains(&Capability::List));
        assert!(!acl.allows("secret/data/y", &Capability::Read));
        assert_eq!(acl.decide("secret/data/x").policies, vec!["a", "b"]);
    }

    #[test]
    fn legacy_and_json_forms() {
        let acl = acl(&[
            ("old", r#"path "secret/old" { policy = "write" }"#),
            (
                "json",
                r#"{"path": {"secret/data/j": {"capabilities": ["read"]}}}"#,
            ),
        ]);
        assert!(acl.allows("secret/old", &Capability::Update));
        assert!(acl.allows("secret/data/j", &Capability::Read));
    }

    #[test]
    fn bad_policies_are_named() {
        let err = Policy::parse("p", r#"path "a" { capabilities = "read" }"#).unwrap_err();
        assert!(err.to_string().contains("policy `p`"), "{err}");
        assert!(Policy::parse("p", "path {").is_err());
    }
}
