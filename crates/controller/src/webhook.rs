//! Git push webhooks from GitHub, GitLab and Gitea: provider detection,
//! signature verification and push-event parsing. Pure functions; the HTTP
//! API hands them a request's headers and body.
//!
//! As in Argo CD, the provider is recognised by its event header
//! (`X-Gitea-Event`, `X-Gitlab-Event`, `X-GitHub-Event`; Gitea also sends
//! GitHub-compatible headers, so it is checked first). Every request must be
//! authenticated with the provider's secret; a provider without a configured
//! secret is refused, never accepted unsigned:
//!
//! - GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`;
//! - Gitea: `X-Gitea-Signature: <hex HMAC-SHA256(secret, body)>` (or, when
//!   absent, GitHub's `X-Hub-Signature-256`, which Gitea also sends);
//! - GitLab: `X-Gitlab-Token: <secret>`.
//!
//! Comparisons are constant time, and no error carries the secret or the
//! signature received. The body must be JSON (the webhook's content type
//! `application/json`).

use std::fmt;

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// A Git hosting service that sends webhooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Provider {
    /// GitHub (github.com or Enterprise).
    GitHub,
    /// GitLab.
    GitLab,
    /// Gitea (and Forgejo).
    Gitea,
}

impl Provider {
    /// Lower-case name, for metric labels and configuration keys
    /// (`github`, `gitlab`, `gitea`).
    pub fn label(self) -> &'static str {
        match self {
            Provider::GitHub => "github",
            Provider::GitLab => "gitlab",
            Provider::Gitea => "gitea",
        }
    }

    /// The header that carries the provider's signature or token.
    pub fn signature_header(self) -> &'static str {
        match self {
            Provider::GitHub => "X-Hub-Signature-256",
            Provider::GitLab => "X-Gitlab-Token",
            Provider::Gitea => "X-Gitea-Signature",
        }
    }

    /// The header that names the event and identifies the provider.
    pub fn event_header(self) -> &'static str {
        match self {
            Provider::GitHub => "X-GitHub-Event",
            Provider::GitLab => "X-Gitlab-Event",
            Provider::Gitea => "X-Gitea-Event",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Provider::GitHub => "GitHub",
            Provider::GitLab => "GitLab",
            Provider::Gitea => "Gitea",
        })
    }
}

/// The webhook secrets, one per provider (plain strings: the caller
/// unwraps its secret type). `None` or an empty string refuses that
/// provider's webhooks.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct WebhookSecrets {
    /// GitHub's webhook secret.
    pub github: Option<String>,
    /// GitLab's secret token.
    pub gitlab: Option<String>,
    /// Gitea's webhook secret.
    pub gitea: Option<String>,
}

impl WebhookSecrets {
    fn get(&self, provider: Provider) -> Option<&str> {
        match provider {
            Provider::GitHub => self.github.as_deref(),
            Provider::GitLab => self.gitlab.as_deref(),
            Provider::Gitea => self.gitea.as_deref(),
        }
        .filter(|s| !s.is_empty())
    }
}

impl fmt::Debug for WebhookSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |s: &Option<String>| s.as_ref().map(|_| "***");
        f.debug_struct("WebhookSecrets")
            .field("github", &shown(&self.github))
            .field("gitlab", &shown(&self.gitlab))
            .field("gitea", &shown(&self.gitea))
            .finish()
    }
}

/// A verified push.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushEvent {
    /// Who sent it.
    pub provider: Provider,
    /// Every URL form of the repository the payload gives (web, HTTPS
    /// clone, SSH clone...), without duplicates; compare with
    /// [`url_matches`] or [`PushEvent::matches_repo`].
    pub repo_urls: Vec<String>,
    /// The ref pushed (`refs/heads/main`, `refs/tags/v1`).
    pub git_ref: String,
    /// The new commit; `None` when absent or all zeros (the ref was deleted).
    pub after: Option<String>,
}

impl PushEvent {
    /// Whether the push is to the repository `configured` (any URL form).
    pub fn matches_repo(&self, configured: &str) -> bool {
        self.repo_urls.iter().any(|u| url_matches(configured, u))
    }
}

/// What a verified webhook request means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// A push: refresh the Applications that use the repository.
    Push(PushEvent),
    /// Nothing to do (a ping, another event): why.
    Ignored(String),
}

/// Why a webhook request was refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// No known event header.
    #[error(
        "webhook request from an unknown provider: none of the X-Gitea-Event, X-Gitlab-Event \
         or X-GitHub-Event headers is present"
    )]
    UnknownProvider,
    /// No secret is configured for the provider: unsigned pushes are refused.
    #[error("{0} webhooks are refused: no {0} webhook secret is configured")]
    NotConfigured(Provider),
    /// The signature (or token) header is missing.
    #[error("{provider} webhook refused: the {} header is missing", provider.signature_header())]
    Unsigned {
        /// The provider.
        provider: Provider,
    },
    /// The signature (or token) does not match the configured secret.
    #[error(
        "{provider} webhook refused: the {} header does not match the configured secret",
        provider.signature_header()
    )]
    BadSignature {
        /// The provider.
        provider: Provider,
    },
    /// The (authenticated) payload could not be read.
    #[error("{provider} webhook payload: {message}")]
    Payload {
        /// The provider.
        provider: Provider,
        /// What is wrong with it.
        message: String,
    },
}

impl WebhookError {
    /// The provider, when it was recognised.
    pub fn provider(&self) -> Option<Provider> {
        match self {
            WebhookError::UnknownProvider => None,
            WebhookError::NotConfigured(p)
            | WebhookError::Unsigned { provider: p }
            | WebhookError::BadSignature { provider: p }
            | WebhookError::Payload { provider: p, .. } => Some(*p),
        }
    }

    /// A short label for metrics (`unknown_provider`, `not_configured`,
    /// `unsigned`, `bad_signature`, `bad_payload`).
    pub fn kind(&self) -> &'static str {
        match self {
            WebhookError::UnknownProvider => "unknown_provider",
            WebhookError::NotConfigured(_) => "not_configured",
            WebhookError::Unsigned { .. } => "unsigned",
            WebhookError::BadSignature { .. } => "bad_signature",
            WebhookError::Payload { .. } => "bad_payload",
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|v| v.to_str().unwrap_or("\u{fffd}"))
}

/// Which provider sent the request, from its event header; Gitea first
/// because it also sends `X-GitHub-Event`. Returns the event name too.
fn detect(headers: &HeaderMap) -> Option<(Provider, &str)> {
    [Provider::Gitea, Provider::GitLab, Provider::GitHub]
        .into_iter()
        .find_map(|p| header(headers, p.event_header()).map(|e| (p, e.trim())))
}

/// Constant-time check of a hex HMAC-SHA256 of `body` under `secret`.
fn hmac_ok(secret: &str, body: &[u8], hex_sig: &str) -> bool {
    let Ok(sig) = hex::decode(hex_sig.trim()) else {
        return false;
    };
    let Ok(mut mac) = HmacSha256::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

fn verify(
    provider: Provider,
    headers: &HeaderMap,
    body: &[u8],
    secret: &str,
) -> Result<(), WebhookError> {
    let ok = match provider {
        Provider::GitHub => {
            let sig = header(headers, "X-Hub-Signature-256")
                .ok_or(WebhookError::Unsigned { provider })?;
            sig.trim()
                .strip_prefix("sha256=")
                .is_some_and(|hex| hmac_ok(secret, body, hex))
        }
        Provider::Gitea => {
            if let Some(sig) = header(headers, "X-Gitea-Signature") {
                hmac_ok(secret, body, sig)
            } else {
                let sig = header(headers, "X-Hub-Signature-256")
                    .ok_or(WebhookError::Unsigned { provider })?;
                sig.trim()
                    .strip_prefix("sha256=")
                    .is_some_and(|hex| hmac_ok(secret, body, hex))
            }
        }
        Provider::GitLab => {
            let token =
                header(headers, "X-Gitlab-Token").ok_or(WebhookError::Unsigned { provider })?;
            bool::from(token.as_bytes().ct_eq(secret.as_bytes()))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(WebhookError::BadSignature { provider })
    }
}

/// Authenticate and read a webhook request.
///
/// `headers` are the request's headers (`axum::http::HeaderMap`; names are
/// case-insensitive), `body` its raw bytes, exactly as received (the
/// signature covers them). The provider is detected, its secret looked up
/// (none: [`WebhookError::NotConfigured`]), the request verified, and then
/// the event read: GitHub `push` and Gitea `push`, GitLab `Push Hook` and
/// `Tag Push Hook` give [`WebhookOutcome::Push`]; `ping` and other events
/// give [`WebhookOutcome::Ignored`].
pub fn parse(
    headers: &HeaderMap,
    body: &[u8],
    secrets: &WebhookSecrets,
) -> Result<WebhookOutcome, WebhookError> {
    let (provider, event) = detect(headers).ok_or(WebhookError::UnknownProvider)?;
    let secret = secrets
        .get(provider)
        .ok_or(WebhookError::NotConfigured(provider))?;
    verify(provider, headers, body, secret)?;

    let is_push = match provider {
        Provider::GitHub | Provider::Gitea => event == "push",
        Provider::GitLab => event == "Push Hook" || event == "Tag Push Hook",
    };
    if !is_push {
        let reason = if event == "ping" {
            format!("{provider} ping")
        } else {
            format!("{provider} event {event:?} is not a push")
        };
        return Ok(WebhookOutcome::Ignored(reason));
    }
    push_event(provider, body).map(WebhookOutcome::Push)
}

/// Read a push payload (after verification).
fn push_event(provider: Provider, body: &[u8]) -> Result<PushEvent, WebhookError> {
    let payload_err = |message: String| WebhookError::Payload { provider, message };
    if body.starts_with(b"payload=") {
        return Err(payload_err(
            "the body is form-encoded; set the webhook's content type to application/json".into(),
        ));
    }
    let v: Value =
        serde_json::from_slice(body).map_err(|e| payload_err(format!("not valid JSON: {e}")))?;
    let git_ref = v
        .get("ref")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| payload_err("no \"ref\" field".into()))?
        .to_string();
    let after = v
        .get("after")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|a| !a.is_empty() && !a.bytes().all(|b| b == b'0'))
        .map(str::to_string);

    // (object, fields) to collect URLs from, in order of preference.
    let sources: &[(&str, &[&str])] = match provider {
        Provider::GitHub | Provider::Gitea => &[(
            "repository",
            &["html_url", "clone_url", "ssh_url", "git_url", "url"],
        )],
        Provider::GitLab => &[
            (
                "project",
                &[
                    "web_url",
                    "git_http_url",
                    "git_ssh_url",
                    "http_url",
                    "ssh_url",
                    "url",
                    "homepage",
                ],
            ),
            (
                "repository",
                &["homepage", "git_http_url", "git_ssh_url", "url"],
            ),
        ],
    };
    let mut repo_urls: Vec<String> = Vec::new();
    for (object, fields) in sources {
        let Some(obj) = v.get(*object) else { continue };
        for field in *fields {
            if let Some(u) = obj.get(*field).and_then(Value::as_str) {
                let u = u.trim();
                if !u.is_empty() && !repo_urls.iter().any(|x| x == u) {
                    repo_urls.push(u.to_string());
                }
            }
        }
    }
    if repo_urls.is_empty() {
        let object = sources.first().map(|s| s.0).unwrap_or("repository");
        return Err(payload_err(format!(
            "no repository URL (\"{object}\" has none of the expected URL fields)"
        )));
    }
    Ok(PushEvent {
        provider,
        repo_urls,
        git_ref,
        after,
    })
}

/// A repository URL reduced to what identifies the repository: host
/// (lower case, no user or port) and path (no `.git`, no slashes around it,
/// lower case), or the trimmed input for a local path.
fn repo_key(url: &str) -> String {
    let url = url.trim();
    let (host, path) = if let Some((_scheme, rest)) = url.split_once("://") {
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        (host_of(authority), path)
    } else if let Some((authority, path)) = scp_split(url) {
        (host_of(authority), path)
    } else {
        return strip_path(url).to_string();
    };
    format!("{host}/{}", strip_path(path).to_ascii_lowercase())
}

/// `[user@]host:path` (scp-like SSH) split at the colon, when the colon
/// comes before any slash.
fn scp_split(url: &str) -> Option<(&str, &str)> {
    let colon = url.find(':')?;
    match url.find('/') {
        Some(slash) if slash < colon => None,
        _ => Some((&url[..colon], &url[colon + 1..])),
    }
}

/// The host of an authority (`user:pw@Host:port`), lower case.
fn host_of(authority: &str) -> String {
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(rest) = hostport.strip_prefix('[') {
        rest.split_once(']').map_or(rest, |(h, _)| h)
    } else {
        hostport.split_once(':').map_or(hostport, |(h, _)| h)
    };
    host.to_ascii_lowercase()
}

fn strip_path(path: &str) -> &str {
    let p = path.trim_matches('/');
    let p = p.strip_suffix(".git").unwrap_or(p);
    p.trim_end_matches('/')
}

/// Whether a configured repository URL and one from a webhook payload name
/// the same repository, as Argo CD matches them: the scheme, user, port,
/// `.git` suffix, slashes around the path and letter case do not matter,
/// and `git@host:owner/repo` (SSH) is the same repository as
/// `https://host/owner/repo`.
pub fn url_matches(configured: &str, from_payload: &str) -> bool {
    let a = repo_key(configured);
    !a.is_empty() && a == repo_key(from_payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderName, HeaderValue};

    const SECRET: &str = "It's a Secret to Everybody";

    fn secrets() -> WebhookSecrets {
        WebhookSecrets {
            github: Some(SECRET.into()),
            gitlab: Some("gl-token".into()),
            gitea: Some(SECRET.into()),
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h.insert("content-type", HeaderValue::from_static("application/json"));
        h
    }

    fn sign(secret: &str, body: &[u8]) -> String {
        let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }

    const GITHUB_PUSH: &str = r#"{
      "ref": "refs/heads/main",
      "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
      "after": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
      "created": false, "deleted": false, "forced": false,
      "repository": {
        "id": 35129377, "name": "public-repo", "full_name": "baxterthehacker/public-repo",
        "owner": {"name": "baxterthehacker", "login": "baxterthehacker"},
        "private": false,
        "html_url": "https://github.com/baxterthehacker/public-repo",
        "url": "https://github.com/baxterthehacker/public-repo",
        "git_url": "git://github.com/baxterthehacker/public-repo.git",
        "ssh_url": "git@github.com:baxterthehacker/public-repo.git",
        "clone_url": "https://github.com/baxterthehacker/public-repo.git",
        "default_branch": "main"
      },
      "pusher": {"name": "baxterthehacker", "email": "baxterthehacker@users.noreply.github.com"},
      "head_commit": {"id": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", "message": "Update README.md"}
    }"#;

    const GITLAB_PUSH: &str = r#"{
      "object_kind": "push", "event_name": "push",
      "before": "95790bf891e76fee5e1747ab589903a6a1f80f22",
      "after": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
      "ref": "refs/heads/master",
      "checkout_sha": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
      "user_name": "John Smith", "project_id": 15,
      "project": {
        "id": 15, "name": "Diaspora", "namespace": "Mike",
        "web_url": "http://example.com/mike/diaspora",
        "git_ssh_url": "git@example.com:mike/diaspora.git",
        "git_http_url": "http://example.com/mike/diaspora.git",
        "path_with_namespace": "mike/diaspora", "default_branch": "master",
        "homepage": "http://example.com/mike/diaspora",
        "url": "git@example.com:mike/diaspora.git",
        "ssh_url": "git@example.com:mike/diaspora.git",
        "http_url": "http://example.com/mike/diaspora.git"
      },
      "repository": {
        "name": "Diaspora", "url": "git@example.com:mike/diaspora.git",
        "homepage": "http://example.com/mike/diaspora",
        "git_http_url": "http://example.com/mike/diaspora.git",
        "git_ssh_url": "git@example.com:mike/diaspora.git"
      },
      "commits": [], "total_commits_count": 4
    }"#;

    const GITEA_PUSH: &str = r#"{
      "ref": "refs/heads/develop",
      "before": "28e1879d029cb852e4844d9c718537df08844e03",
      "after": "bffeb74224043ba2feb48d137756c8a9331c449a",
      "compare_url": "http://localhost:3000/gitea/webhooks/compare/28e1879d029cb852e4844d9c718537df08844e03...bffeb74224043ba2feb48d137756c8a9331c449a",
      "commits": [{"id": "bffeb74224043ba2feb48d137756c8a9331c449a", "message": "Webhooks Yay!"}],
      "repository": {
        "id": 140, "owner": {"id": 1, "login": "gitea", "username": "gitea"},
        "name": "webhooks", "full_name": "gitea/webhooks",
        "private": false, "fork": false,
        "html_url": "http://localhost:3000/gitea/webhooks",
        "ssh_url": "ssh://gitea@localhost:2222/gitea/webhooks.git",
        "clone_url": "http://localhost:3000/gitea/webhooks.git",
        "default_branch": "master"
      },
      "pusher": {"id": 1, "login": "gitea"},
      "sender": {"id": 1, "login": "gitea"}
    }"#;

    #[test]
    fn github_push_with_good_signature() {
        let body = GITHUB_PUSH.as_bytes();
        let sig = format!("sha256={}", sign(SECRET, body));
        let h = headers(&[
            ("X-GitHub-Event", "push"),
            ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
            ("X-Hub-Signature-256", &sig),
        ]);
        let WebhookOutcome::Push(p) = parse(&h, body, &secrets()).unwrap() else {
            panic!("not a push");
        };
        assert_eq!(p.provider, Provider::GitHub);
        assert_eq!(p.git_ref, "refs/heads/main");
        assert_eq!(
            p.after.as_deref(),
            Some("0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c")
        );
        assert!(p
            .repo_urls
            .contains(&"git@github.com:baxterthehacker/public-repo.git".to_string()));
        assert!(p
            .repo_urls
            .contains(&"https://github.com/baxterthehacker/public-repo.git".to_string()));
        assert!(p.matches_repo("https://github.com/BaxterTheHacker/public-repo"));
        assert!(p.matches_repo("ssh://git@github.com/baxterthehacker/public-repo.git"));
        assert!(!p.matches_repo("https://github.com/baxterthehacker/private-repo"));
    }

    #[test]
    fn github_bad_missing_and_unconfigured() {
        let body = GITHUB_PUSH.as_bytes();
        let wrong = format!("sha256={}", sign("another secret", body));
        for sig in [wrong.as_str(), "sha256=zz", "sha1=abcdef", ""] {
            let h = headers(&[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", sig)]);
            let e = parse(&h, body, &secrets()).unwrap_err();
            assert!(
                matches!(
                    e,
                    WebhookError::BadSignature {
                        provider: Provider::GitHub
                    }
                ),
                "{e}"
            );
            assert!(!e.to_string().contains(SECRET));
            assert_eq!(e.kind(), "bad_signature");
        }
        // A body changed after signing.
        let sig = format!("sha256={}", sign(SECRET, body));
        let h = headers(&[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &sig)]);
        let tampered = GITHUB_PUSH.replace("main", "evil");
        assert!(matches!(
            parse(&h, tampered.as_bytes(), &secrets()),
            Err(WebhookError::BadSignature { .. })
        ));

        let h = headers(&[("X-GitHub-Event", "push")]);
        let e = parse(&h, body, &secrets()).unwrap_err();
        assert!(
            matches!(
                e,
                WebhookError::Unsigned {
                    provider: Provider::GitHub
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("X-Hub-Signature-256"), "{e}");

        let none = WebhookSecrets {
            github: Some(String::new()),
            ..WebhookSecrets::default()
        };
        let h = headers(&[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &sig)]);
        let e = parse(&h, body, &none).unwrap_err();
        assert!(
            matches!(e, WebhookError::NotConfigured(Provider::GitHub)),
            "{e}"
        );
        assert_eq!(e.provider(), Some(Provider::GitHub));
    }

    #[test]
    fn github_ping_and_other_events_are_ignored_after_verification() {
        let body = br#"{"zen":"Keep it logically awesome.","hook_id":1}"#;
        let sig = format!("sha256={}", sign(SECRET, body));
        let h = headers(&[("X-GitHub-Event", "ping"), ("X-Hub-Signature-256", &sig)]);
        assert_eq!(
            parse(&h, body, &secrets()).unwrap(),
            WebhookOutcome::Ignored("GitHub ping".into())
        );
        let h = headers(&[("X-GitHub-Event", "issues"), ("X-Hub-Signature-256", &sig)]);
        assert!(matches!(
            parse(&h, body, &secrets()).unwrap(),
            WebhookOutcome::Ignored(r) if r.contains("issues")
        ));
        // An unsigned ping is refused too.
        let h = headers(&[("X-GitHub-Event", "ping")]);
        assert!(parse(&h, body, &secrets()).is_err());
    }

    #[test]
    fn malformed_payload_after_verification() {
        let body = b"{not json";
        let sig = format!("sha256={}", sign(SECRET, body));
        let h = headers(&[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &sig)]);
        let e = parse(&h, body, &secrets()).unwrap_err();
        assert!(matches!(e, WebhookError::Payload { .. }), "{e}");

        let body = br#"{"ref":"refs/heads/main","repository":{}}"#;
        let sig = format!("sha256={}", sign(SECRET, body));
        let h = headers(&[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &sig)]);
        let e = parse(&h, body, &secrets()).unwrap_err();
        assert!(e.to_string().contains("repository"), "{e}");

        let body = b"payload=%7B%7D";
        let sig = format!("sha256={}", sign(SECRET, body));
        let h = headers(&[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &sig)]);
        let e = parse(&h, body, &secrets()).unwrap_err();
        assert!(e.to_string().contains("application/json"), "{e}");
    }

    #[test]
    fn gitlab_push_and_tag_push() {
        let body = GITLAB_PUSH.as_bytes();
        let h = headers(&[
            ("X-Gitlab-Event", "Push Hook"),
            ("X-Gitlab-Token", "gl-token"),
        ]);
        let WebhookOutcome::Push(p) = parse(&h, body, &secrets()).unwrap() else {
            panic!("not a push");
        };
        assert_eq!(p.provider, Provider::GitLab);
        assert_eq!(p.git_ref, "refs/heads/master");
        assert_eq!(p.repo_urls[0], "http://example.com/mike/diaspora");
        assert_eq!(
            p.repo_urls,
            [
                "http://example.com/mike/diaspora",
                "http://example.com/mike/diaspora.git",
                "git@example.com:mike/diaspora.git"
            ]
        );
        assert!(p.matches_repo("https://example.com/mike/diaspora.git"));

        let tag = GITLAB_PUSH.replace("refs/heads/master", "refs/tags/v1.0.0");
        let h = headers(&[
            ("X-Gitlab-Event", "Tag Push Hook"),
            ("X-Gitlab-Token", "gl-token"),
        ]);
        let WebhookOutcome::Push(p) = parse(&h, tag.as_bytes(), &secrets()).unwrap() else {
            panic!("not a push");
        };
        assert_eq!(p.git_ref, "refs/tags/v1.0.0");

        let h = headers(&[
            ("X-Gitlab-Event", "Push Hook"),
            ("X-Gitlab-Token", "gl-tokeN"),
        ]);
        assert!(matches!(
            parse(&h, body, &secrets()),
            Err(WebhookError::BadSignature {
                provider: Provider::GitLab
            })
        ));
        let h = headers(&[("X-Gitlab-Event", "Push Hook")]);
        assert!(matches!(
            parse(&h, body, &secrets()),
            Err(WebhookError::Unsigned {
                provider: Provider::GitLab
            })
        ));
        let h = headers(&[
            ("X-Gitlab-Event", "Push Hook"),
            ("X-Gitlab-Token", "gl-token"),
        ]);
        assert!(matches!(
            parse(&h, body, &WebhookSecrets::default()),
            Err(WebhookError::NotConfigured(Provider::GitLab))
        ));
        let h = headers(&[
            ("X-Gitlab-Event", "Merge Request Hook"),
            ("X-Gitlab-Token", "gl-token"),
        ]);
        assert!(matches!(
            parse(&h, body, &secrets()).unwrap(),
            WebhookOutcome::Ignored(_)
        ));
    }

    #[test]
    fn gitea_is_detected_before_github() {
        let body = GITEA_PUSH.as_bytes();
        let sig = sign(SECRET, body);
        // Gitea sends GitHub- and Gogs-compatible headers too.
        let h = headers(&[
            ("X-Gitea-Event", "push"),
            ("X-GitHub-Event", "push"),
            ("X-Gogs-Event", "push"),
            ("X-Gitea-Signature", &sig),
        ]);
        let WebhookOutcome::Push(p) = parse(&h, body, &secrets()).unwrap() else {
            panic!("not a push");
        };
        assert_eq!(p.provider, Provider::Gitea);
        assert_eq!(p.git_ref, "refs/heads/develop");
        assert_eq!(
            p.repo_urls,
            [
                "http://localhost:3000/gitea/webhooks",
                "http://localhost:3000/gitea/webhooks.git",
                "ssh://gitea@localhost:2222/gitea/webhooks.git"
            ]
        );
        assert!(p.matches_repo("http://localhost:3000/gitea/webhooks.git"));

        // GitHub's secret is not Gitea's.
        let only_github = WebhookSecrets {
            github: Some(SECRET.into()),
            ..WebhookSecrets::default()
        };
        assert!(matches!(
            parse(&h, body, &only_github),
            Err(WebhookError::NotConfigured(Provider::Gitea))
        ));

        let h = headers(&[
            ("X-Gitea-Event", "push"),
            ("X-Gitea-Signature", &sign("nope", body)),
        ]);
        assert!(matches!(
            parse(&h, body, &secrets()),
            Err(WebhookError::BadSignature {
                provider: Provider::Gitea
            })
        ));
        let h = headers(&[("X-Gitea-Event", "push")]);
        assert!(matches!(
            parse(&h, body, &secrets()),
            Err(WebhookError::Unsigned {
                provider: Provider::Gitea
            })
        ));
        // X-Hub-Signature-256 is accepted from Gitea when its own is absent.
        let h = headers(&[
            ("X-Gitea-Event", "push"),
            ("X-Hub-Signature-256", &format!("sha256={sig}")),
        ]);
        assert!(matches!(
            parse(&h, body, &secrets()).unwrap(),
            WebhookOutcome::Push(_)
        ));
    }

    #[test]
    fn unknown_provider() {
        let h = headers(&[("X-Bitbucket-Event", "repo:push")]);
        let e = parse(&h, b"{}", &secrets()).unwrap_err();
        assert!(matches!(e, WebhookError::UnknownProvider));
        assert_eq!(e.provider(), None);
    }

    #[test]
    fn deleted_ref_has_no_after() {
        let body = GITHUB_PUSH.replace(
            "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c\",\n      \"created",
            "0000000000000000000000000000000000000000\",\n      \"created",
        );
        let sig = format!("sha256={}", sign(SECRET, body.as_bytes()));
        let h = headers(&[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &sig)]);
        let WebhookOutcome::Push(p) = parse(&h, body.as_bytes(), &secrets()).unwrap() else {
            panic!("not a push");
        };
        assert_eq!(p.after, None);
    }

    #[test]
    fn secrets_are_not_debug_printed() {
        let s = format!("{:?}", secrets());
        assert!(!s.contains(SECRET) && !s.contains("gl-token"), "{s}");
    }

    #[test]
    fn url_normalisation() {
        let same = [
            (
                "https://github.com/org/repo",
                "https://github.com/org/repo.git",
            ),
            (
                "https://github.com/org/repo",
                "https://GitHub.com/org/repo/",
            ),
            (
                "HTTPS://github.com/org/repo.git/",
                "http://github.com/org/repo",
            ),
            ("https://github.com/org/repo", "git@github.com:org/repo.git"),
            (
                "https://github.com/org/repo",
                "ssh://git@github.com/org/repo",
            ),
            (
                "https://user:pw@github.com/org/repo",
                "https://github.com/org/repo",
            ),
            ("https://github.com/Org/Repo", "https://github.com/org/repo"),
            (
                "https://gitlab.example.com/group/sub/repo",
                "ssh://git@gitlab.example.com:2222/group/sub/repo.git",
            ),
            (
                "git://github.com/org/repo.git",
                "https://github.com/org/repo",
            ),
            ("file:///srv/git/repo.git", "file:///srv/git/repo"),
        ];
        for (a, b) in same {
            assert!(url_matches(a, b), "{a} vs {b}");
            assert!(url_matches(b, a), "{b} vs {a}");
        }
        let different = [
            (
                "https://github.com/org/repo",
                "https://github.com/org/repo2",
            ),
            ("https://github.com/org/repo", "https://gitlab.com/org/repo"),
            (
                "https://github.com/org/repo",
                "https://github.com/other/repo",
            ),
            (
                "https://github.com/org/repo",
                "https://github.com/org/repo/sub",
            ),
            ("", ""),
        ];
        for (a, b) in different {
            assert!(!url_matches(a, b), "{a} vs {b}");
        }
    }
}
