//! Charts in OCI registries, through the distribution API as Helm's
//! `pkg/registry` uses it: tags listed (`/v2/<repo>/tags/list`, with
//! `_` read back as `+`), the manifest of the chosen tag read, and the
//! layer of media type `application/vnd.cncf.helm.chart.content.v1.tar+gzip`
//! pulled and checked against its digest. Authentication follows the
//! registry's challenge: a bearer token from its token service (anonymous,
//! or with the basic credentials given), or basic authentication.

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use flotilla_git::Secret;
use reqwest::header::{ACCEPT, AUTHORIZATION, LINK, WWW_AUTHENTICATE};
use reqwest::{Client, Response, StatusCode, Url};
use semver::Version;
use serde::Deserialize;

use super::error::{shorten, FetchError};
use super::http::{read_limited, status_error};
use super::index::{normalise_digest, IndexEntry, RepoIndex};
use super::location::is_loopback;
use super::store::{sha256_hex, CachedRef};
use super::version::{is_pinned, listing, select, Selection};
use super::{ChartFetcher, FetchedChart, PlainHttp, RepoAuth};

/// Helm's chart layer.
pub(crate) const CHART_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
/// The layer type of charts pushed by Helm before 3.8.
const LEGACY_CHART_LAYER: &str = "application/tar+gzip";
/// Helm's config media type.
pub(crate) const HELM_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";
const MANIFEST_TYPES: &str =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// The repository name in the registry for `chart` under `path`.
pub(crate) fn repository(path: &str, chart: &str) -> String {
    match (path.is_empty(), chart.is_empty()) {
        (true, _) => chart.to_string(),
        (false, true) => path.to_string(),
        (false, false) => format!("{path}/{chart}"),
    }
}

/// Tags as versions: `_` stands for `+`; only strict semver tags count,
/// as in Helm's `Tags`.
pub(crate) fn tag_candidates(tags: &[String]) -> Vec<(String, Option<Version>)> {
    tags.iter()
        .filter_map(|t| {
            let v = t.replace('_', "+");
            Version::parse(&v).ok().map(|p| (v, Some(p)))
        })
        .collect()
}

#[derive(Deserialize)]
struct TagList {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    #[serde(default)]
    digest: String,
    #[serde(default)]
    size: Option<u64>,
}

#[derive(Deserialize)]
struct Manifest {
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

/// One conversation with one repository of a registry.
struct Session<'a> {
    client: Client,
    base: Url,
    host: String,
    repo: String,
    auth: &'a RepoAuth,
    fetcher: &'a ChartFetcher,
    authorization: Option<String>,
}

fn oci_err(host: &str, repo: &str, reason: impl Into<String>) -> FetchError {
    FetchError::Oci {
        url: format!("oci://{host}/{repo}"),
        reason: reason.into(),
    }
}

/// `key="value", key2="value2"` after the scheme of a challenge.
fn challenge_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some(eq) = rest.find('=') else { break };
        let key = rest[..eq]
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        rest = rest[eq + 1..].trim_start();
        let value;
        if let Some(r) = rest.strip_prefix('"') {
            let end = r.find('"').unwrap_or(r.len());
            value = r[..end].to_string();
            rest = r.get(end + 1..).unwrap_or("");
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
        rest = rest.trim_start().trim_start_matches(',').trim_start();
        out.push((key, value));
    }
    out
}

impl Session<'_> {
    fn basic_header(&self) -> Option<String> {
        if !self.auth.has_credentials() {
            return None;
        }
        use base64::Engine as _;
        let user = self.auth.username.as_deref().unwrap_or("");
        let pass = self
            .auth
            .password
            .as_ref()
            .map(Secret::expose)
            .unwrap_or("");
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        Some(format!("Basic {encoded}"))
    }

    async fn send(&self, url: &Url, accept: Option<&str>) -> Result<Response, FetchError> {
        let http = &self.fetcher.inner.http;
        http.send(url, || {
            let mut r = self.client.get(url.clone());
            if let Some(a) = accept {
                r = r.header(ACCEPT, a);
            }
            if let Some(h) = &self.authorization {
                r = r.header(AUTHORIZATION, h);
            }
            r
        })
        .await
    }

    /// GET `url`, answering one authentication challenge.
    async fn get(&mut self, url: &Url, accept: Option<&str>) -> Result<Response, FetchError> {
        let resp = self.send(url, accept).await?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let challenge = resp
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let (scheme, params) = match challenge.split_once(' ') {
            Some((s, p)) => (s.to_ascii_lowercase(), challenge_params(p)),
            None => (challenge.to_ascii_lowercase(), Vec::new()),
        };
        match scheme.as_str() {
            "bearer" => {
                let token = self.token(&params).await?;
                self.authorization = Some(format!("Bearer {token}"));
            }
            "basic" => match self.basic_header() {
                Some(h) => self.authorization = Some(h),
                None => {
                    return Err(status_error(
                        url,
                        StatusCode::UNAUTHORIZED,
                        Some("the registry needs credentials; none were given".to_string()),
                    ))
                }
            },
            _ => {
                return Err(status_error(
                    url,
                    StatusCode::UNAUTHORIZED,
                    Some(format!(
                        "unsupported authentication challenge {challenge:?}"
                    )),
                ))
            }
        }
        let resp = self.send(url, accept).await?;
        if resp.status() == StatusCode::UNAUTHORIZED || resp.status() == StatusCode::FORBIDDEN {
            let hint = if self.auth.has_credentials() {
                "the credentials were refused"
            } else {
                "the registry needs credentials; none were given"
            };
            return Err(status_error(url, resp.status(), Some(hint.to_string())));
        }
        Ok(resp)
    }

    /// A bearer token from the realm of a challenge.
    async fn token(&self, params: &[(String, String)]) -> Result<String, FetchError> {
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let realm = get("realm")
            .ok_or_else(|| oci_err(&self.host, &self.repo, "bearer challenge without a realm"))?;
        let mut url = Url::parse(&realm).map_err(|e| {
            oci_err(
                &self.host,
                &self.repo,
                format!("invalid token realm {realm:?}: {e}"),
            )
        })?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(service) = get("service") {
                q.append_pair("service", &service);
            }
            let scope = get("scope").unwrap_or_else(|| format!("repository:{}:pull", self.repo));
            q.append_pair("scope", &scope);
        }
        let client = self.fetcher.inner.http.client(&self.auth.tls, &url)?;
        let basic = self.basic_header();
        let resp = self
            .fetcher
            .inner
            .http
            .send(&url, || {
                let r = client.get(url.clone());
                match &basic {
                    Some(b) => r.header(AUTHORIZATION, b),
                    None => r,
                }
            })
            .await?;
        if !resp.status().is_success() {
            let hint = if basic.is_some() {
                "the credentials were refused"
            } else {
                "anonymous access refused; the registry needs credentials"
            };
            return Err(status_error(&url, resp.status(), Some(hint.to_string())));
        }
        let body = read_limited(resp, &url, 1 << 20).await?;
        let t: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
            oci_err(
                &self.host,
                &self.repo,
                format!("invalid token response: {e}"),
            )
        })?;
        t.token
            .or(t.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| oci_err(&self.host, &self.repo, "token response without a token"))
    }

    fn url(&self, path: &str) -> Result<Url, FetchError> {
        self.base
            .join(path)
            .map_err(|e| oci_err(&self.host, &self.repo, e.to_string()))
    }

    async fn tags(&mut self) -> Result<Vec<String>, FetchError> {
        let mut url = self.url(&format!("/v2/{}/tags/list", self.repo))?;
        let mut tags = Vec::new();
        for _page in 0..100 {
            let resp = self.get(&url, None).await?;
            if resp.status() != StatusCode::OK {
                let hint = (resp.status() == StatusCode::NOT_FOUND)
                    .then(|| "no such chart in the registry".to_string());
                return Err(status_error(&url, resp.status(), hint));
            }
            let next = resp
                .headers()
                .get(LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| {
                    let l = l.trim();
                    let inner = l.strip_prefix('<')?;
                    let end = inner.find('>')?;
                    l.contains("rel=\"next\"").then(|| inner[..end].to_string())
                });
            let body = read_limited(resp, &url, 16 << 20).await?;
            let list: TagList = serde_json::from_slice(&body)
                .map_err(|e| oci_err(&self.host, &self.repo, format!("invalid tag list: {e}")))?;
            tags.extend(list.tags.unwrap_or_default());
            match next {
                Some(n) => url = self.url(&n)?,
                None => return Ok(tags),
            }
        }
        Ok(tags)
    }

    async fn manifest(&mut self, tag: &str) -> Result<Manifest, FetchError> {
        let url = self.url(&format!("/v2/{}/manifests/{tag}", self.repo))?;
        let resp = self.get(&url, Some(MANIFEST_TYPES)).await?;
        if resp.status() != StatusCode::OK {
            let hint = (resp.status() == StatusCode::NOT_FOUND)
                .then(|| format!("no tag {tag} of {} in the registry", self.repo));
            return Err(status_error(&url, resp.status(), hint));
        }
        let body = read_limited(resp, &url, 4 << 20).await?;
        serde_json::from_slice(&body).map_err(|e| {
            oci_err(
                &self.host,
                &self.repo,
                format!("invalid manifest for {tag}: {e}"),
            )
        })
    }

    async fn blob(&mut self, digest: &str, limit: u64) -> Result<Vec<u8>, FetchError> {
        let url = self.url(&format!("/v2/{}/blobs/{digest}", self.repo))?;
        let resp = self.get(&url, None).await?;
        if resp.status() != StatusCode::OK {
            return Err(status_error(&url, resp.status(), None));
        }
        read_limited(resp, &url, limit).await
    }
}

impl ChartFetcher {
    fn session<'a>(
        &'a self,
        host: &str,
        repo: &str,
        auth: &'a RepoAuth,
    ) -> Result<Session<'a>, FetchError> {
        let plain = match self.inner.options.plain_http {
            PlainHttp::Always => true,
            PlainHttp::Never => false,
            PlainHttp::Loopback => is_loopback(host),
        };
        let scheme = if plain { "http" } else { "https" };
        let base = Url::parse(&format!("{scheme}://{host}/"))
            .map_err(|e| oci_err(host, repo, format!("invalid registry host: {e}")))?;
        let client = self.inner.http.client(&auth.tls, &base)?;
        Ok(Session {
            client,
            base,
            host: host.to_string(),
            repo: repo.to_string(),
            auth,
            fetcher: self,
            authorization: None,
        })
    }

    /// The tags of `repo` on `host`, cached for the index TTL.
    pub(crate) async fn oci_tags(
        &self,
        host: &str,
        repo: &str,
        auth: &RepoAuth,
    ) -> Result<Vec<String>, FetchError> {
        let key = format!("oci://{host}/{repo}");
        let from_index = |i: &RepoIndex| {
            i.entries
                .get(repo)
                .map(|e| e.iter().map(|t| t.version.clone()).collect::<Vec<_>>())
                .unwrap_or_default()
        };
        if let Some(i) = self.fresh_in_memory(&key) {
            return Ok(from_index(&i));
        }
        let _guard = self.key_lock(format!("tags\0{key}")).await;
        if let Some(i) = self.fresh_in_memory(&key) {
            return Ok(from_index(&i));
        }
        let ttl = self.inner.options.index_ttl;
        let refreshed = self.refreshed_at(&key);
        if let Some((when, data)) = self.inner.store.get_index(&key).await {
            let age = SystemTime::now()
                .duration_since(when)
                .unwrap_or(Duration::MAX);
            if age < ttl && refreshed.is_none_or(|r| when > r) {
                if let Ok(tags) = serde_json::from_slice::<Vec<String>>(&data) {
                    self.keep_index(key, tags_index(repo, &tags), age);
                    return Ok(tags);
                }
            }
        }
        let mut s = self.session(host, repo, auth)?;
        let tags = s.tags().await?;
        self.inner
            .counters
            .index_downloads
            .fetch_add(1, Ordering::Relaxed);
        if let Ok(data) = serde_json::to_vec(&tags) {
            if let Err(e) = self.inner.store.put_index(&key, &data).await {
                tracing::warn!(error = %e, "cannot cache the registry's tag list");
            }
        }
        self.keep_index(key, tags_index(repo, &tags), Duration::ZERO);
        Ok(tags)
    }

    pub(crate) async fn fetch_oci(
        &self,
        host: &str,
        path: &str,
        chart: &str,
        request: &str,
        auth: &RepoAuth,
    ) -> Result<FetchedChart, FetchError> {
        let repo = repository(path, chart);
        let name = repo.rsplit('/').next().unwrap_or(&repo).to_string();
        if repo.is_empty() {
            return Err(oci_err(host, &repo, "no chart name given"));
        }
        let key = format!("oci://{host}/{repo}");
        let store = &self.inner.store;
        let _guard = self.key_lock(format!("chart\0{key}\0{request}")).await;
        if is_pinned(request) {
            if let Some(r) = store.get_ref(&key, "", request).await {
                if let Some(p) = store.blob(&r.digest).await {
                    return Ok(self.hit(r, p));
                }
            }
        }
        let version = if is_pinned(request) {
            request.trim_start_matches('=').trim().to_string()
        } else {
            let tags = self.oci_tags(host, &repo, auth).await?;
            let cands = tag_candidates(&tags);
            match select(&cands, request) {
                Selection::Found(i) => cands[i].0.clone(),
                Selection::NoMatch => {
                    return Err(FetchError::VersionNotFound {
                        chart: name,
                        constraint: if request.is_empty() { "*" } else { request }.to_string(),
                        repo: format!("oci://{host}/{path}"),
                        available: shorten(listing(&cands), 20),
                    })
                }
                Selection::Invalid => {
                    return Err(FetchError::InvalidConstraint {
                        chart: name,
                        constraint: request.to_string(),
                        repo: format!("oci://{host}/{path}"),
                    })
                }
            }
        };
        let tag = version.replace('+', "_");
        let mut s = self.session(host, &repo, auth)?;
        let manifest = match s.manifest(&tag).await {
            Err(FetchError::HttpStatus { status, .. }) if status.starts_with("404") => {
                let available = match self.oci_tags(host, &repo, auth).await {
                    Ok(tags) => shorten(listing(&tag_candidates(&tags)), 20),
                    Err(_) => Vec::new(),
                };
                return Err(FetchError::VersionNotFound {
                    chart: name,
                    constraint: request.to_string(),
                    repo: format!("oci://{host}/{path}"),
                    available,
                });
            }
            other => other?,
        };
        if let Some(c) = &manifest.config {
            if c.media_type != HELM_CONFIG {
                tracing::debug!(media_type = %c.media_type, "OCI artifact config is not Helm's");
            }
        }
        let layer = manifest
            .layers
            .iter()
            .find(|l| l.media_type == CHART_LAYER)
            .or_else(|| {
                manifest
                    .layers
                    .iter()
                    .find(|l| l.media_type == LEGACY_CHART_LAYER)
            })
            .ok_or_else(|| {
                oci_err(
                    host,
                    &repo,
                    format!("{tag} is not a Helm chart: no layer of media type {CHART_LAYER}"),
                )
            })?;
        if !layer.digest.starts_with("sha256:") {
            return Err(oci_err(
                host,
                &repo,
                format!("unsupported layer digest {:?}", layer.digest),
            ));
        }
        let expected = normalise_digest(&layer.digest);
        let display_url = format!("oci://{host}/{repo}:{tag}");
        let r = CachedRef {
            name: name.clone(),
            version: version.clone(),
            digest: expected.clone(),
            url: display_url.clone(),
        };
        if let Some(p) = store.blob(&expected).await {
            self.remember_oci(&key, request, &r).await;
            return Ok(self.hit(r, p));
        }
        let limit = self.inner.options.max_archive_bytes;
        if layer.size.is_some_and(|n| n > limit) {
            return Err(FetchError::TooLarge {
                url: display_url,
                limit,
            });
        }
        let data = s.blob(&layer.digest, limit).await?;
        self.inner
            .counters
            .archive_downloads
            .fetch_add(1, Ordering::Relaxed);
        let actual = sha256_hex(&data);
        if actual != expected {
            return Err(FetchError::DigestMismatch {
                chart: name,
                version,
                url: display_url,
                expected,
                actual,
            });
        }
        let path = store.put_blob(&actual, &data).await?;
        self.remember_oci(&key, request, &r).await;
        Ok(FetchedChart {
            name,
            version,
            digest: actual,
            path,
            url: display_url,
            cached: false,
        })
    }

    async fn remember_oci(&self, key: &str, request: &str, r: &CachedRef) {
        let mut names = vec![r.version.as_str()];
        if is_pinned(request) && request != r.version {
            names.push(request);
        }
        for v in names {
            if let Err(e) = self.inner.store.put_ref(key, "", v, r).await {
                tracing::warn!(error = %e, "cannot record chart resolution in the cache");
            }
        }
    }
}

fn tags_index(repo: &str, tags: &[String]) -> RepoIndex {
    let mut i = RepoIndex::default();
    i.entries.insert(
        repo.to_string(),
        tags.iter()
            .map(|t| IndexEntry {
                version: t.clone(),
                parsed: None,
                urls: Vec::new(),
                digest: None,
            })
            .collect(),
    );
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        let p = challenge_params(
            r#"realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#,
        );
        assert_eq!(p[0], ("realm".into(), "https://auth.example/token".into()));
        assert_eq!(p[1], ("service".into(), "registry.example".into()));
        assert_eq!(p[2], ("scope".into(), "repository:a/b:pull".into()));
    }

    #[test]
    fn tags_become_versions() {
        let c = tag_candidates(&[
            "1.0.0_build.1".into(),
            "latest".into(),
            "v1.2.0".into(),
            "2.0.0".into(),
        ]);
        let names: Vec<_> = c.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(names, ["1.0.0+build.1", "2.0.0"]);
        assert_eq!(repository("charts", "vault"), "charts/vault");
        assert_eq!(repository("", "vault"), "vault");
    }
}
