//! Repository URLs: parsing, normalisation (the cache key), redaction.
//!
//! Normalisation makes two spellings of one repository share one cache entry
//! and lets `--repo URL=LOCAL` substitutions match: the scheme and host are
//! lowercased, user information and default ports are dropped, and a trailing
//! slash and `.git` suffix are stripped. SCP-like SSH addresses
//! (`git@host:org/repo.git`) normalise like `ssh://host/org/repo`. Local paths
//! normalise to `file://` plus the absolute path (symbolic links resolved when
//! the path exists); their `.git` suffix is kept, since `repo` and `repo.git`
//! are two different directories on disk.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::credentials::Secret;
use crate::error::GitError;

/// How a repository is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// `http://` or `https://` (smart HTTP protocol).
    Http {
        /// `true` for `https://`.
        tls: bool,
        /// The lowercased host name.
        host: String,
    },
    /// `ssh://` or SCP-like `user@host:path`, through the system `ssh`.
    Ssh {
        /// The lowercased host name.
        host: String,
    },
    /// `git://` (unauthenticated daemon protocol).
    GitDaemon {
        /// The lowercased host name.
        host: String,
    },
    /// A local path or `file://` URL.
    File {
        /// The absolute path of the repository.
        path: PathBuf,
    },
}

/// A parsed repository URL.
///
/// It keeps three renderings: the URL handed to the transport (without any
/// password), a redacted one for messages and logs, and the normalised key.
/// A password embedded in the URL is moved into [`RepoUrl::embedded_password`];
/// `Debug` and `Display` never show it.
///
/// ```
/// use flotilla_git::RepoUrl;
///
/// let a = RepoUrl::parse("https://GitHub.com/Org/Repo.git/").unwrap();
/// let b = RepoUrl::parse("https://user:s3cret@github.com:443/Org/Repo").unwrap();
/// assert_eq!(a.key(), "https://github.com/Org/Repo");
/// assert_eq!(a.key(), b.key());
/// assert!(!b.to_string().contains("s3cret"));
/// ```
#[derive(Clone)]
pub struct RepoUrl {
    connect: String,
    display: String,
    key: String,
    transport: Transport,
    username: Option<String>,
    password: Option<Secret>,
}

impl fmt::Debug for RepoUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RepoUrl")
            .field("url", &self.display)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for RepoUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

impl PartialEq for RepoUrl {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for RepoUrl {}

fn default_port(scheme: &str) -> Option<&'static str> {
    match scheme {
        "http" => Some("80"),
        "https" => Some("443"),
        "ssh" => Some("22"),
        "git" => Some("9418"),
        _ => None,
    }
}

fn strip_repo_suffix(path: &str) -> &str {
    let mut p = path.trim_end_matches('/');
    if let Some(stripped) = p.strip_suffix(".git") {
        p = stripped.trim_end_matches('/');
    }
    p
}

/// Is `s` an SCP-like address `[user@]host:path` (and not a local path or a URL)?
fn split_scp(s: &str) -> Option<(Option<&str>, &str, &str)> {
    if s.contains("://") {
        return None;
    }
    let colon = s.find(':')?;
    let before = &s[..colon];
    let path = &s[colon + 1..];
    if before.is_empty() || before.contains('/') || path.is_empty() {
        return None;
    }
    // A single letter before the colon is a Windows drive, not a host.
    if before.len() == 1 && before.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let (user, host) = match before.rfind('@') {
        Some(at) => (Some(&before[..at]), &before[at + 1..]),
        None => (None, before),
    };
    if host.is_empty() {
        return None;
    }
    Some((user, host, path))
}

fn invalid(url: &str, reason: impl Into<String>) -> GitError {
    GitError::InvalidUrl {
        url: redact_str(url),
        reason: reason.into(),
    }
}

/// Redact a password in a URL-ish string without fully parsing it.
fn redact_str(url: &str) -> String {
    if let Some(scheme_end) = url.find("://") {
        let rest = &url[scheme_end + 3..];
        let auth_end = rest.find('/').unwrap_or(rest.len());
        if let Some(at) = rest[..auth_end].rfind('@') {
            let userinfo = &rest[..at];
            let user = userinfo.split(':').next().unwrap_or("");
            let shown = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                "***".to_string()
            };
            return format!("{}://{}@{}", &url[..scheme_end], shown, &rest[at + 1..]);
        }
    }
    url.to_string()
}

/// Percent-decode `%XX` sequences (user names and passwords in URLs).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl RepoUrl {
    /// Parse a repository URL: `https://`, `http://`, `ssh://`, `git://`,
    /// `file://`, SCP-like `user@host:path`, or a local path (relative paths
    /// are taken from the current directory).
    pub fn parse(input: &str) -> Result<Self, GitError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(invalid(input, "empty URL"));
        }
        if s.contains('\0') || s.contains('\n') {
            return Err(invalid(input, "contains control characters"));
        }
        if let Some(scheme_end) = s.find("://") {
            let scheme_raw = &s[..scheme_end];
            let scheme = scheme_raw.to_ascii_lowercase();
            let scheme = match scheme.as_str() {
                "git+ssh" | "ssh+git" => "ssh".to_string(),
                _ => scheme,
            };
            let rest = &s[scheme_end + 3..];
            if scheme == "file" {
                let path = rest.strip_prefix("localhost").unwrap_or(rest);
                if !path.starts_with('/') {
                    return Err(invalid(input, "file URLs need an absolute path"));
                }
                return Ok(Self::local(Path::new(path)));
            }
            if !matches!(scheme.as_str(), "http" | "https" | "ssh" | "git") {
                return Err(invalid(
                    input,
                    format!(
                        "unsupported scheme {scheme_raw:?} (use https, http, ssh, git or file)"
                    ),
                ));
            }
            let auth_end = rest.find('/').unwrap_or(rest.len());
            let authority = &rest[..auth_end];
            let path = &rest[auth_end..];
            let (userinfo, hostport) = match authority.rfind('@') {
                Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
                None => (None, authority),
            };
            let (host, port) = if let Some(stripped) = hostport.strip_prefix('[') {
                // [v6]:port
                let close = stripped
                    .find(']')
                    .ok_or_else(|| invalid(input, "unterminated IPv6 address"))?;
                let host = &hostport[..close + 2];
                let after = &stripped[close + 1..];
                (host, after.strip_prefix(':'))
            } else {
                match hostport.rfind(':') {
                    Some(c) => (&hostport[..c], Some(&hostport[c + 1..])),
                    None => (hostport, None),
                }
            };
            if host.is_empty() {
                return Err(invalid(input, "missing host"));
            }
            if host.starts_with('-') {
                return Err(invalid(input, "host may not start with '-'"));
            }
            if let Some(p) = port {
                if !p.is_empty() && !p.chars().all(|c| c.is_ascii_digit()) {
                    return Err(invalid(input, format!("invalid port {p:?}")));
                }
            }
            let host_lc = host.to_ascii_lowercase();
            let port = port.filter(|p| !p.is_empty());
            let key_port = match port {
                Some(p) if Some(p) != default_port(&scheme) => format!(":{p}"),
                _ => String::new(),
            };
            let conn_port = port.map(|p| format!(":{p}")).unwrap_or_default();
            let (username, password) = match userinfo {
                Some(ui) => match ui.split_once(':') {
                    Some((u, p)) => (
                        Some(percent_decode(u)),
                        Some(Secret::new(percent_decode(p))),
                    ),
                    None => (Some(percent_decode(ui)), None),
                },
                None => (None, None),
            };
            let raw_user = userinfo.map(|ui| ui.split(':').next().unwrap_or(""));
            let connect_user = raw_user.map(|u| format!("{u}@")).unwrap_or_default();
            let connect = format!("{scheme}://{connect_user}{host_lc}{conn_port}{path}");
            // A user name alone in an http(s) URL is often a token: redact it too.
            let display_user = match (raw_user, &password, scheme.as_str()) {
                (Some(u), Some(_), _) => format!("{u}:***@"),
                (Some(_), None, "http" | "https") => "***@".to_string(),
                (Some(u), None, _) => format!("{u}@"),
                (None, _, _) => String::new(),
            };
            let display = format!("{scheme}://{display_user}{host_lc}{conn_port}{path}");
            let key_path = strip_repo_suffix(path);
            let key = format!("{scheme}://{host_lc}{key_port}{key_path}");
            let transport = match scheme.as_str() {
                "http" => Transport::Http {
                    tls: false,
                    host: host_lc,
                },
                "https" => Transport::Http {
                    tls: true,
                    host: host_lc,
                },
                "ssh" => Transport::Ssh { host: host_lc },
                _ => Transport::GitDaemon { host: host_lc },
            };
            return Ok(RepoUrl {
                connect,
                display,
                key,
                transport,
                username,
                password,
            });
        }
        if let Some((user, host, path)) = split_scp(s) {
            if host.starts_with('-') {
                return Err(invalid(input, "host may not start with '-'"));
            }
            let host_lc = host.to_ascii_lowercase();
            let user_part = user.map(|u| format!("{u}@")).unwrap_or_default();
            let connect = format!("{user_part}{host_lc}:{path}");
            let key_path = strip_repo_suffix(path.trim_start_matches('/'));
            return Ok(RepoUrl {
                display: connect.clone(),
                connect,
                key: format!("ssh://{host_lc}/{key_path}"),
                transport: Transport::Ssh { host: host_lc },
                username: user.map(str::to_string),
                password: None,
            });
        }
        // A local path.
        let path = Path::new(s);
        let abs = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(|e| invalid(input, format!("cannot resolve relative path: {e}")))?
                .join(path)
        };
        Ok(Self::local(&abs))
    }

    fn local(path: &Path) -> Self {
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| lexical_normalise(path));
        let text = canonical.display().to_string();
        let trimmed = if text.len() > 1 {
            text.trim_end_matches('/').to_string()
        } else {
            text
        };
        RepoUrl {
            connect: trimmed.clone(),
            display: trimmed.clone(),
            key: format!("file://{trimmed}"),
            transport: Transport::File {
                path: PathBuf::from(&trimmed),
            },
            username: None,
            password: None,
        }
    }

    /// The normalised form: equal for every spelling of one repository.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The URL handed to the transport: as given, minus any password.
    pub fn connect_url(&self) -> &str {
        &self.connect
    }

    /// How the repository is reached.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// The user name embedded in the URL, if any.
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// The password embedded in the URL, if any (it is never part of
    /// [`connect_url`](Self::connect_url) or the `Display` form).
    pub fn embedded_password(&self) -> Option<&Secret> {
        self.password.as_ref()
    }

    /// `true` for `http://` URLs (no TLS) whose host is not loopback.
    pub fn is_insecure_http(&self) -> bool {
        match &self.transport {
            Transport::Http { tls: false, host } => !is_loopback_host(host),
            _ => false,
        }
    }

    /// A short, file-system-safe, unique directory name for the cache.
    pub fn cache_dir_name(&self) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(self.key.as_bytes());
        let hash: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        let readable = self
            .key
            .split("://")
            .nth(1)
            .unwrap_or(&self.key)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect::<String>();
        let readable = readable.trim_matches(|c| c == '_' || c == '.');
        let tail: String = readable
            .chars()
            .rev()
            .take(60)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("{}-{hash}.git", tail.trim_start_matches(['_', '.']))
    }
}

/// `true` for `localhost`, `127.0.0.0/8` and `::1`.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    if h.eq_ignore_ascii_case("localhost") {
        return true;
    }
    h.parse::<IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

fn lexical_normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Normalise a URL to its cache key, or return the trimmed input if it does not parse.
///
/// ```
/// assert_eq!(
///     flotilla_git::normalize_url("git@GitHub.com:org/repo.git"),
///     flotilla_git::normalize_url("ssh://git@github.com/org/repo/"),
/// );
/// ```
pub fn normalize_url(url: &str) -> String {
    RepoUrl::parse(url)
        .map(|u| u.key)
        .unwrap_or_else(|_| url.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_spellings_share_a_key() {
        let keys: Vec<String> = [
            "https://github.com/org/repo",
            "https://github.com/org/repo.git",
            "https://github.com/org/repo/",
            "https://github.com/org/repo.git/",
            "HTTPS://GitHub.COM/org/repo",
            "https://user@github.com/org/repo",
            "https://user:pw@github.com:443/org/repo.git",
        ]
        .iter()
        .map(|u| RepoUrl::parse(u).unwrap().key().to_string())
        .collect();
        for k in &keys {
            assert_eq!(k, "https://github.com/org/repo");
        }
    }

    #[test]
    fn path_case_and_ports_matter() {
        let a = RepoUrl::parse("https://github.com/Org/Repo").unwrap();
        let b = RepoUrl::parse("https://github.com/org/repo").unwrap();
        assert_ne!(a.key(), b.key());
        let c = RepoUrl::parse("https://example.com:8443/x").unwrap();
        assert_eq!(c.key(), "https://example.com:8443/x");
        let d = RepoUrl::parse("http://example.com:80/x").unwrap();
        assert_eq!(d.key(), "http://example.com/x");
    }

    #[test]
    fn scp_and_ssh_urls_share_a_key() {
        let a = RepoUrl::parse("git@GitHub.com:org/repo.git").unwrap();
        let b = RepoUrl::parse("ssh://git@github.com/org/repo").unwrap();
        let c = RepoUrl::parse("ssh://github.com:22/org/repo.git/").unwrap();
        assert_eq!(a.key(), "ssh://github.com/org/repo");
        assert_eq!(a.key(), b.key());
        assert_eq!(b.key(), c.key());
        assert_eq!(a.connect_url(), "git@github.com:org/repo.git");
        assert!(matches!(a.transport(), Transport::Ssh { host } if host == "github.com"));
        assert_eq!(a.username(), Some("git"));
    }

    #[test]
    fn passwords_never_shown() {
        let u = RepoUrl::parse("https://bob:hunter2@Example.com/r.git").unwrap();
        assert_eq!(u.connect_url(), "https://bob@example.com/r.git");
        assert_eq!(u.to_string(), "https://bob:***@example.com/r.git");
        assert!(!format!("{u:?}").contains("hunter2"));
        assert_eq!(u.username(), Some("bob"));
        assert_eq!(u.embedded_password().map(|s| s.expose()), Some("hunter2"));
        // A bare user name on https is often a token.
        let t = RepoUrl::parse("https://ghp_abcdef@github.com/o/r").unwrap();
        assert_eq!(t.to_string(), "https://***@github.com/o/r");
        // Invalid URLs with passwords are redacted in the error too.
        let e = RepoUrl::parse("ftp://bob:hunter2@example.com/r").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    #[test]
    fn percent_encoded_credentials_are_decoded() {
        let u = RepoUrl::parse("https://a%40b:p%3Aw@example.com/r").unwrap();
        assert_eq!(u.username(), Some("a@b"));
        assert_eq!(u.embedded_password().map(|s| s.expose()), Some("p:w"));
    }

    #[test]
    fn local_paths_and_file_urls() {
        let dir = std::env::temp_dir();
        let canonical = std::fs::canonicalize(&dir).unwrap();
        let a = RepoUrl::parse(&dir.display().to_string()).unwrap();
        let b = RepoUrl::parse(&format!("file://{}/", dir.display())).unwrap();
        assert_eq!(a.key(), b.key());
        assert_eq!(a.key(), format!("file://{}", canonical.display()));
        assert!(matches!(a.transport(), Transport::File { .. }));
        // .git is kept for local paths
        let c = RepoUrl::parse("/srv/repo.git").unwrap();
        assert_eq!(c.key(), "file:///srv/repo.git");
        let d = RepoUrl::parse("/srv/x/../repo.git/").unwrap();
        assert_eq!(d.key(), "file:///srv/repo.git");
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            "",
            "   ",
            "ftp://example.com/x",
            "https:///x",
            "https://-oProxy=x/y",
            "file://relative/x",
        ] {
            assert!(RepoUrl::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(RepoUrl::parse("https://example.com:abc/x").is_err());
    }

    #[test]
    fn insecure_http_detection() {
        assert!(RepoUrl::parse("http://example.com/x")
            .unwrap()
            .is_insecure_http());
        assert!(!RepoUrl::parse("http://127.0.0.1:8080/x")
            .unwrap()
            .is_insecure_http());
        assert!(!RepoUrl::parse("http://localhost/x")
            .unwrap()
            .is_insecure_http());
        assert!(!RepoUrl::parse("http://[::1]:80/x")
            .unwrap()
            .is_insecure_http());
        assert!(!RepoUrl::parse("https://example.com/x")
            .unwrap()
            .is_insecure_http());
    }

    #[test]
    fn cache_dir_names_are_safe_and_distinct() {
        let a = RepoUrl::parse("https://github.com/org/repo").unwrap();
        let b = RepoUrl::parse("https://github.com/org/repo2").unwrap();
        let na = a.cache_dir_name();
        assert!(na.starts_with("github.com_org_repo-"), "{na}");
        assert!(na.ends_with(".git"));
        assert_ne!(na, b.cache_dir_name());
        assert!(na
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)));
        let long = RepoUrl::parse(&format!("https://h/{}", "x/".repeat(200))).unwrap();
        assert!(long.cache_dir_name().len() < 100);
    }
}
