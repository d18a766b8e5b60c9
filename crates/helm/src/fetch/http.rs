//! HTTP for chart repositories and registries: one `reqwest` client per
//! TLS configuration, bounded bodies, retries with backoff for transient
//! failures, and errors that name the URL.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use flotilla_git::Secret;
use reqwest::{Client, RequestBuilder, Response, StatusCode, Url};

use super::error::FetchError;
use super::location::redact_url;

/// TLS settings for one repository (Argo CD's repository `tlsClientCertData`,
/// `insecure`, and a CA; Helm's `--ca-file`, `--cert-file`, `--key-file`,
/// `--insecure-skip-tls-verify`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM certificates to trust in addition to the built-in roots.
    pub ca_pem: Option<Vec<u8>>,
    /// PEM client certificate (chain), with [`client_key_pem`](Self::client_key_pem).
    pub client_cert_pem: Option<Vec<u8>>,
    /// PEM private key for the client certificate.
    pub client_key_pem: Option<Secret>,
    /// Accept any server certificate (Argo CD's `insecure: true`).
    pub insecure_skip_verify: bool,
}

impl fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsOptions")
            .field("ca_pem", &self.ca_pem.as_ref().map(|c| c.len()))
            .field("client_cert", &self.client_cert_pem.is_some())
            .field("insecure_skip_verify", &self.insecure_skip_verify)
            .finish()
    }
}

impl TlsOptions {
    fn cache_key(&self) -> String {
        super::store::sha256_hex(
            format!(
                "{:?}|{:?}|{:?}|{}",
                self.ca_pem,
                self.client_cert_pem,
                self.client_key_pem.as_ref().map(|k| k.expose()),
                self.insecure_skip_verify
            )
            .as_bytes(),
        )
    }
}

/// Shared HTTP machinery.
pub(crate) struct Http {
    clients: Mutex<HashMap<String, Client>>,
    timeout: Duration,
    retries: u32,
}

impl fmt::Debug for Http {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Http")
            .field("timeout", &self.timeout)
            .finish()
    }
}

pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = c.source();
    }
    s
}

impl Http {
    pub(crate) fn new(timeout: Duration, retries: u32) -> Self {
        Http {
            clients: Mutex::new(HashMap::new()),
            timeout,
            retries,
        }
    }

    /// The client for `tls` (built once per configuration).
    pub(crate) fn client(&self, tls: &TlsOptions, url: &Url) -> Result<Client, FetchError> {
        let key = tls.cache_key();
        if let Ok(map) = self.clients.lock() {
            if let Some(c) = map.get(&key) {
                return Ok(c.clone());
            }
        }
        let bad = |reason: String| FetchError::InvalidUrl {
            url: redact_url(url),
            reason,
        };
        let mut b = Client::builder()
            .user_agent(concat!("flotilla-helm/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(30))
            .timeout(self.timeout);
        if let Some(ca) = &tls.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(ca)
                .map_err(|e| bad(format!("invalid CA certificate: {}", chain(&e))))?;
            if certs.is_empty() {
                return Err(bad("the CA data holds no PEM certificate".to_string()));
            }
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        match (&tls.client_cert_pem, &tls.client_key_pem) {
            (Some(cert), Some(key)) => {
                let mut pem = cert.clone();
                pem.push(b'\n');
                pem.extend_from_slice(key.expose().as_bytes());
                let id = reqwest::Identity::from_pem(&pem)
                    .map_err(|e| bad(format!("invalid client certificate: {}", chain(&e))))?;
                b = b.identity(id);
            }
            (None, None) => {}
            _ => {
                return Err(bad(
                    "a client certificate needs both the certificate and its key".to_string(),
                ))
            }
        }
        if tls.insecure_skip_verify {
            b = b.danger_accept_invalid_certs(true);
        }
        let client = b
            .build()
            .map_err(|e| bad(format!("cannot build HTTP client: {}", chain(&e))))?;
        if let Ok(mut map) = self.clients.lock() {
            map.insert(key, client.clone());
        }
        Ok(client)
    }

    /// Send a request built by `make` (called again for each retry);
    /// transport errors and 429/502/503/504 are retried with backoff.
    pub(crate) async fn send(
        &self,
        url: &Url,
        make: impl Fn() -> RequestBuilder,
    ) -> Result<Response, FetchError> {
        let mut attempt = 0u32;
        loop {
            let result = make().send().await;
            let retryable = match &result {
                Err(e) => !e.is_builder(),
                Ok(r) => matches!(
                    r.status(),
                    StatusCode::TOO_MANY_REQUESTS
                        | StatusCode::BAD_GATEWAY
                        | StatusCode::SERVICE_UNAVAILABLE
                        | StatusCode::GATEWAY_TIMEOUT
                ),
            };
            if retryable && attempt < self.retries {
                let delay =
                    Duration::from_millis(250u64 << attempt.min(3)).min(Duration::from_secs(2));
                tracing::debug!(url = %redact_url(url), attempt, ?delay, "retrying");
                tokio::time::sleep(delay).await;
                attempt += 1;
                continue;
            }
            return result.map_err(|e| FetchError::Unreachable {
                url: redact_url(url),
                cause: chain(&e),
            });
        }
    }

    /// GET `url` and return the body, at most `limit` bytes; a status other
    /// than 200 is an error naming the URL.
    pub(crate) async fn get(
        &self,
        url: &Url,
        tls: &TlsOptions,
        basic: Option<(&str, &Secret)>,
        limit: u64,
    ) -> Result<Vec<u8>, FetchError> {
        let client = self.client(tls, url)?;
        let resp = self
            .send(url, || {
                let r = client.get(url.clone());
                match basic {
                    Some((u, p)) => r.basic_auth(u, Some(p.expose())),
                    None => r,
                }
            })
            .await?;
        let status = resp.status();
        if status != StatusCode::OK {
            let hint = match (status, basic.is_some()) {
                (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN, true) => {
                    Some("the credentials were refused".to_string())
                }
                (StatusCode::UNAUTHORIZED, false) => {
                    Some("the repository needs credentials; none were sent".to_string())
                }
                _ => None,
            };
            return Err(status_error(url, status, hint));
        }
        read_limited(resp, url, limit).await
    }
}

pub(crate) fn status_error(url: &Url, status: StatusCode, hint: Option<String>) -> FetchError {
    FetchError::HttpStatus {
        url: redact_url(url),
        status: format!(
            "{} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )
        .trim_end()
        .to_string(),
        hint,
    }
}

/// The body of `resp`, refusing more than `limit` bytes.
pub(crate) async fn read_limited(
    mut resp: Response,
    url: &Url,
    limit: u64,
) -> Result<Vec<u8>, FetchError> {
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(FetchError::TooLarge {
            url: redact_url(url),
            limit,
        });
    }
    let mut out = Vec::with_capacity(resp.content_length().unwrap_or(0).min(limit) as usize);
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                if out.len() as u64 + c.len() as u64 > limit {
                    return Err(FetchError::TooLarge {
                        url: redact_url(url),
                        limit,
                    });
                }
                out.extend_from_slice(&c);
            }
            Ok(None) => return Ok(out),
            Err(e) => {
                return Err(FetchError::Unreachable {
                    url: redact_url(url),
                    cause: chain(&e),
                })
            }
        }
    }
}
