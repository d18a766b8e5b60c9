//! Where a chart repository lives: an HTTP(S) chart repository, an OCI
//! registry path, or a local directory holding `index.yaml` and archives.
//! Also the normalised key under which `--repo URL=LOCAL` substitutions
//! are matched and the cache is keyed.

use std::path::{Path, PathBuf};

use reqwest::Url;

use super::error::FetchError;

/// A parsed repository location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location {
    /// `http://` or `https://` chart repository (the URL of its directory).
    Http(Url),
    /// A directory on disk with `index.yaml` and the archives it names.
    Dir(PathBuf),
    /// `oci://host[:port]/path`: charts are `path/<chart>` in the registry.
    Oci {
        /// `host[:port]`, lowercased.
        host: String,
        /// The repository path prefix, without leading or trailing `/`
        /// (may be empty).
        path: String,
    },
}

impl Location {
    /// Parse a repository URL (or local path).
    pub(crate) fn parse(input: &str) -> Result<Self, FetchError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(invalid(input, "empty URL"));
        }
        if s.contains(['\0', '\n', '\r']) {
            return Err(invalid(input, "contains control characters"));
        }
        let lower = s.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix("oci://").map(|_| &s[6..]) {
            let rest = rest.trim_end_matches('/');
            let (host, path) = match rest.split_once('/') {
                Some((h, p)) => (h, p),
                None => (rest, ""),
            };
            if host.is_empty() {
                return Err(invalid(input, "missing registry host"));
            }
            if host.contains('@') {
                return Err(invalid(
                    input,
                    "credentials in an oci:// URL are not supported; pass them separately",
                ));
            }
            if path.split('/').any(|seg| seg == ".." || seg == ".") {
                return Err(invalid(input, "path segments '.' and '..' are not allowed"));
            }
            return Ok(Location::Oci {
                host: host.to_ascii_lowercase(),
                path: path.trim_matches('/').to_string(),
            });
        }
        if lower.starts_with("http://") || lower.starts_with("https://") {
            let url = Url::parse(s).map_err(|e| invalid(input, e.to_string()))?;
            if url.host_str().is_none_or(str::is_empty) {
                return Err(invalid(input, "missing host"));
            }
            return Ok(Location::Http(url));
        }
        if let Some(rest) = lower.strip_prefix("file://").map(|_| &s[7..]) {
            let path = rest.strip_prefix("localhost").unwrap_or(rest);
            if !path.starts_with('/') {
                return Err(invalid(input, "file URLs need an absolute path"));
            }
            return Ok(Location::Dir(PathBuf::from(path)));
        }
        if s.contains("://") {
            return Err(invalid(
                input,
                "unsupported scheme (use https, http, oci, file or a local path)",
            ));
        }
        let path = Path::new(s);
        let abs = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(|e| invalid(input, format!("cannot resolve relative path: {e}")))?
                .join(path)
        };
        Ok(Location::Dir(abs))
    }

    /// The normalised key: equal for spellings of one repository (scheme
    /// and host case, default ports, user information, trailing slash,
    /// `.git` suffix for HTTP; symbolic links for directories).
    pub(crate) fn key(&self) -> String {
        match self {
            Location::Http(url) => flotilla_git::normalize_url(url.as_str()),
            Location::Dir(p) => {
                let c = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
                format!("file://{}", c.display())
            }
            Location::Oci { host, path } => {
                if path.is_empty() {
                    format!("oci://{host}")
                } else {
                    format!("oci://{host}/{path}")
                }
            }
        }
    }

    /// A rendering for messages: no credentials.
    pub(crate) fn display(&self) -> String {
        match self {
            Location::Http(url) => redact_url(url),
            Location::Dir(p) => p.display().to_string(),
            Location::Oci { .. } => self.key(),
        }
    }
}

fn invalid(url: &str, reason: impl Into<String>) -> FetchError {
    FetchError::InvalidUrl {
        url: redact(url),
        reason: reason.into(),
    }
}

/// `url` without user information.
pub(crate) fn redact_url(url: &Url) -> String {
    let mut u = url.clone();
    if !u.username().is_empty() || u.password().is_some() {
        let _ = u.set_username("");
        let _ = u.set_password(None);
    }
    u.to_string()
}

/// A URL-ish string with any `user:password@` removed.
pub(crate) fn redact(url: &str) -> String {
    match url.find("://") {
        Some(i) => {
            let rest = &url[i + 3..];
            let end = rest.find('/').unwrap_or(rest.len());
            match rest[..end].rfind('@') {
                Some(at) => format!("{}://{}", &url[..i], &rest[at + 1..]),
                None => url.to_string(),
            }
        }
        None => url.to_string(),
    }
}

/// Does the host of `url` (a `host[:port]` or URL host) name loopback?
pub(crate) fn is_loopback(host: &str) -> bool {
    let h = match host.rsplit_once(':') {
        // `[::1]:5000`, `127.0.0.1:5000`, `localhost:5000`
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !h.ends_with(':') => h,
        _ => host,
    };
    let h = h.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

/// Resolve a chart URL from an index against the repository URL, as Helm's
/// `ResolveReferenceURL` does: absolute URLs stay, relative ones are taken
/// relative to the repository's directory (a trailing slash is added to it),
/// and the repository's query string is carried over.
pub(crate) fn resolve_reference(base: &Url, reference: &str) -> Result<Url, String> {
    if let Ok(abs) = Url::parse(reference) {
        return Ok(abs);
    }
    let mut dir = base.clone();
    let path = format!("{}/", base.path().trim_end_matches('/'));
    dir.set_path(&path);
    let query = base.query().map(str::to_string);
    let mut joined = dir.join(reference).map_err(|e| e.to_string())?;
    joined.set_query(query.as_deref());
    Ok(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_spellings_share_a_key() {
        let a = Location::parse("https://Charts.Example.com/stable/").unwrap();
        let b = Location::parse("https://user:pw@charts.example.com:443/stable").unwrap();
        assert_eq!(a.key(), b.key());
        assert!(!b.display().contains("pw"));
    }

    #[test]
    fn oci_locations() {
        let l = Location::parse("oci://Registry.Example.com:5000/charts/").unwrap();
        assert_eq!(l.key(), "oci://registry.example.com:5000/charts");
        assert!(Location::parse("oci://u:p@host/x").is_err());
        assert!(Location::parse("oci:///x").is_err());
    }

    #[test]
    fn relative_and_absolute_chart_urls() {
        let base = Url::parse("https://h.example/charts?token=1").unwrap();
        assert_eq!(
            resolve_reference(&base, "a-1.0.0.tgz").unwrap().as_str(),
            "https://h.example/charts/a-1.0.0.tgz?token=1"
        );
        assert_eq!(
            resolve_reference(&base, "https://cdn.example/a.tgz")
                .unwrap()
                .as_str(),
            "https://cdn.example/a.tgz"
        );
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("registry.example.com:5000"));
    }
}
