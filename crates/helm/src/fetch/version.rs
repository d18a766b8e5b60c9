//! Picking a chart version as Helm (`IndexFile.Get`,
//! `GetTagMatchingVersionOrConstraint`) and Argo CD (`targetRevision` for
//! Helm sources) do:
//!
//! - an empty request means `*`: the highest stable version;
//! - a request spelled exactly as an available version picks it;
//! - otherwise the request is a Masterminds semver constraint
//!   ([`flotilla_git::Constraint`]) and the highest version satisfying it
//!   wins. Prereleases only match a constraint that names a prerelease.

use flotilla_git::Constraint;
use semver::Version;

/// The outcome of selecting among candidate versions.
pub(crate) enum Selection {
    /// Index of the chosen candidate.
    Found(usize),
    /// The request parses, nothing matches.
    NoMatch,
    /// The request is neither a version nor a constraint.
    Invalid,
}

/// Select among `candidates` (version strings as the repository spells
/// them, with their parsed form when they parse).
pub(crate) fn select(candidates: &[(String, Option<Version>)], request: &str) -> Selection {
    let request = request.trim();
    if !request.is_empty() {
        if let Some(i) = candidates.iter().position(|(s, _)| s == request) {
            return Selection::Found(i);
        }
    }
    let constraint = match Constraint::parse(if request.is_empty() { "*" } else { request }) {
        Some(c) => c,
        None => return Selection::Invalid,
    };
    let mut best: Option<(usize, &Version)> = None;
    for (i, (_, v)) in candidates.iter().enumerate() {
        let Some(v) = v else { continue };
        if !constraint.matches(v) {
            continue;
        }
        match best {
            Some((_, b)) if v.cmp_precedence(b) != std::cmp::Ordering::Greater => {}
            _ => best = Some((i, v)),
        }
    }
    match best {
        Some((i, _)) => Selection::Found(i),
        None => Selection::NoMatch,
    }
}

/// Is `request` one exact version (so that a cached resolution of it can
/// be trusted without asking the repository)? Ranges, wildcards and
/// partial versions are not.
pub(crate) fn is_pinned(request: &str) -> bool {
    let r = request.trim();
    let r = r.strip_prefix('=').unwrap_or(r).trim();
    let r = r.strip_prefix('v').unwrap_or(r);
    Version::parse(r).is_ok()
}

/// Versions for an error message: parsed ones highest first, then the rest.
pub(crate) fn listing(candidates: &[(String, Option<Version>)]) -> Vec<String> {
    let mut parsed: Vec<(&String, &Version)> = candidates
        .iter()
        .filter_map(|(s, v)| v.as_ref().map(|v| (s, v)))
        .collect();
    parsed.sort_by(|a, b| b.1.cmp_precedence(a.1).then_with(|| a.0.cmp(b.0)));
    let mut out: Vec<String> = parsed.into_iter().map(|(s, _)| s.clone()).collect();
    out.dedup();
    out.extend(
        candidates
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(s, _)| s.clone()),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cands(vs: &[&str]) -> Vec<(String, Option<Version>)> {
        vs.iter()
            .map(|s| (s.to_string(), flotilla_git::parse_tag_version(s)))
            .collect()
    }

    fn pick(vs: &[&str], req: &str) -> Option<String> {
        let c = cands(vs);
        match select(&c, req) {
            Selection::Found(i) => Some(c[i].0.clone()),
            _ => None,
        }
    }

    #[test]
    fn ranges_pick_the_highest_match() {
        let vs = ["0.27.0", "0.28.1", "0.28.0", "1.0.0-rc.1", "0.9.0"];
        assert_eq!(pick(&vs, "0.28.*").as_deref(), Some("0.28.1"));
        assert_eq!(pick(&vs, ">=0.27 <0.28.1").as_deref(), Some("0.28.0"));
        assert_eq!(pick(&vs, "").as_deref(), Some("0.28.1"));
        assert_eq!(pick(&vs, "*").as_deref(), Some("0.28.1"));
        assert_eq!(pick(&vs, "~0.9").as_deref(), Some("0.9.0"));
        assert_eq!(pick(&vs, "0.99.x"), None);
    }

    #[test]
    fn prereleases_need_a_prerelease_constraint() {
        let vs = ["0.28.0", "1.0.0-rc.1"];
        assert_eq!(pick(&vs, ">=0.1").as_deref(), Some("0.28.0"));
        assert_eq!(pick(&vs, ">=1.0.0-0").as_deref(), Some("1.0.0-rc.1"));
        assert_eq!(pick(&vs, "1.0.0-rc.1").as_deref(), Some("1.0.0-rc.1"));
    }

    #[test]
    fn exact_spelling_wins_and_junk_is_invalid() {
        let vs = ["v1.2.3", "1.2.4"];
        assert_eq!(pick(&vs, "v1.2.3").as_deref(), Some("v1.2.3"));
        assert_eq!(pick(&vs, "1.2.3").as_deref(), Some("v1.2.3"));
        assert!(matches!(select(&cands(&vs), "main"), Selection::Invalid));
        assert!(is_pinned("1.2.3"));
        assert!(is_pinned("v1.2.3-rc.1"));
        assert!(!is_pinned("1.2"));
        assert!(!is_pinned("^1.2.3"));
    }
}
